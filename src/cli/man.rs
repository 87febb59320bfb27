//! `heartbeat generate-man DIR`: the manual pages of the `heartbeat` command, rendered from the
//! clap definition (heartbeat.8 and one heartbeat-SUBCOMMAND.8 per visible subcommand). The
//! legacy flags (`-k`, `-r`, `-s`, …) are parsed by hand (3.0.6's getopt), so heartbeat.8 gets
//! them as extra sections. The applets (`ldirectord`, `cl_status`, `hb_standby`,
//! `hb_takeover`) keep their own hand-written pages in `packaging/man/`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Written after the generated sections of heartbeat.8.
const LEGACY: &str = r#".SH "LEGACY COMMAND LINE"
Without a subcommand, \fBheartbeat\fR takes Heartbeat 3.0.6's flags, with its messages and exit codes:
.TP
\fBheartbeat\fR
Check the configuration in /etc/ha.d, daemonize and run; the pid file /var/run/heartbeat.pid is locked for as long as the daemon lives. Exit status 6 on a configuration error (or when this node is not in ha.cf), 1 when a daemon already runs.
.TP
\fB\-f\fR
Run in the foreground (for systemd: with NOTIFY_SOCKET set, readiness and watchdog are reported with sd_notify).
.TP
\fB\-k\fR
Stop the running daemon gracefully: it releases its resources (handing them to the peer) and exits; \fB\-k\fR returns only when it has. Prints "INFO: Heartbeat already stopped." and exits 0 when none runs.
.TP
\fB\-r\fR
Reload: send SIGHUP to the running daemon, or start one when none runs.
.TP
\fB\-s\fR
Status: "heartbeat OK [pid N et al] is running on NODE [NODE]..." and exit 0; "heartbeat is stopped. No process" and exit 3 (no pid file) or 1 (stale pid file).
.TP
\fB\-d\fR, \fB\-v\fR
More debug output (repeatable).
.TP
\fB\-l\fR
Do not run with realtime priority.
.TP
\fB\-V\fR
Print the version (3.0.6 compatible) and exit.
.PP
\-D, \-M, \-R, \-C and \-W are refused with a message: heartbeat-rs manages no child processes.
.SH APPLETS
The same binary answers to the names \fBldirectord\fR(8), \fBcl_status\fR(1), \fBhb_standby\fR(1) and \fBhb_takeover\fR(1) (installed as links to it), and as \fBheartbeat ldirectord\fR|\fBcl_status\fR|\fBhb_standby\fR|\fBhb_takeover\fR ARGS.
.SH SIGNALS
.TP
\fBSIGHUP\fR
Reload ha.cf, haresources and authkeys; a configuration with errors keeps the running one.
.TP
\fBSIGTERM\fR
Graceful stop: resources are released, then the daemon exits.
.TP
\fBSIGUSR1\fR, \fBSIGUSR2\fR
Raise, lower the debug level.
.SH ENVIRONMENT
HEARTBEAT_RS_CONFIG_DIR, HEARTBEAT_RS_STATE_DIR, HEARTBEAT_RS_PIDFILE and HEARTBEAT_RS_CTL move /etc/ha.d, /var/lib/heartbeat, /var/run/heartbeat.pid and the control socket (tests, side-by-side installs).
.SH FILES
.TP
/etc/ha.d/ha.cf, /etc/ha.d/haresources, /etc/ha.d/authkeys
The configuration, read as Heartbeat 3.0.6 reads it.
.TP
/etc/ha.d/resource.d/
Resource scripts named in haresources.
.TP
/var/run/heartbeat.pid
The pid file.
.TP
/run/heartbeat-rs/cl_status.sock
The control socket \fBcl_status\fR(1) asks.
.TP
/var/lib/heartbeat/
hb_uuid and hb_generation (3.0.6's formats).
.TP
/etc/default/heartbeat
Settings for the init script.
.SH "SEE ALSO"
\fBcl_status\fR(1), \fBhb_standby\fR(1), \fBhb_takeover\fR(1), \fBldirectord\fR(8)
"#;

/// Writes the pages into `dir` (created if missing) and lists them on stdout.
pub fn generate(cmd: clap::Command, dir: &Path) -> ExitCode {
    match write_all(cmd, dir) {
        Ok(files) => {
            for f in files {
                println!("{f}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("heartbeat: generate-man: {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}

fn write_all(cmd: clap::Command, dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    for applet in super::APPLETS.iter().filter(|a| **a != "heartbeat") {
        cmd = cmd.mut_subcommand(*applet, |s| s.hide(true));
    }
    cmd.build();
    let mut files = Vec::new();
    let man = page(&cmd);
    let mut out = Vec::new();
    man.render(&mut out)?;
    out.extend_from_slice(LEGACY.as_bytes());
    files.push(write(dir, &man.get_filename(), &out)?);
    for sub in pages(&cmd) {
        let man = page(&sub);
        let mut out = Vec::new();
        man.render(&mut out)?;
        out.extend_from_slice(b".SH \"SEE ALSO\"\n\\fBheartbeat\\fR(8)\n");
        files.push(write(dir, &man.get_filename(), &out)?);
    }
    Ok(files)
}

fn page(cmd: &clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd.clone()).section("8").source(format!("heartbeat-rs {}", env!("CARGO_PKG_VERSION"))).manual("heartbeat-rs")
}

/// The visible subcommands, depth first (the applets are hidden: they have their own pages).
fn pages(cmd: &clap::Command) -> Vec<clap::Command> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(sub.clone());
        out.extend(pages(sub));
    }
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<String> {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path)?;
    f.write_all(bytes)?;
    Ok(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn writes_heartbeat_8_with_the_legacy_flags_and_one_page_per_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let _ = super::generate(super::super::HeartbeatCli::command(), dir.path());
        let main = std::fs::read_to_string(dir.path().join("heartbeat.8")).unwrap();
        assert!(main.contains("LEGACY COMMAND LINE") && main.contains("heartbeat\\-run(8)"), "{main}");
        for page in ["heartbeat-run.8", "heartbeat-check-config.8", "heartbeat-status.8", "heartbeat-ipvs-list.8"] {
            assert!(dir.path().join(page).exists(), "{page}");
        }
        // Hidden and applet subcommands get no generated page (the applets have their own).
        for page in ["heartbeat-generate-man.8", "heartbeat-cl_status.8", "heartbeat-ldirectord.8"] {
            assert!(!dir.path().join(page).exists(), "{page}");
        }
        assert!(!main.contains("heartbeat\\-cl_status"));
    }
}
