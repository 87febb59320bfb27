//! The command line contract: applet dispatch, `check-config` exit codes and message format.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the sample `ha.d/` with authkeys at mode 0600, as it is installed on a node.
fn sample_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("ha.d");
    for f in ["ha.cf", "haresources", "authkeys", "ldirectord.cf"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::set_permissions(dir.path().join("authkeys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn sample_configuration_is_valid() {
    let dir = sample_dir();
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 nodes") && out.contains("1 virtual services") && out.contains("2 real servers"), "{out}");
}

#[test]
fn errors_are_file_line_message_and_exit_1() {
    let dir = sample_dir();
    let ha_cf = dir.path().join("ha.cf");
    let text = std::fs::read_to_string(&ha_cf).unwrap().replace("udpport ", "undport ");
    std::fs::write(&ha_cf, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("undport")).unwrap() + 1;
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    let want = format!("{}:{line}: unknown directive \"undport\"; did you mean \"udpport\"?", ha_cf.display());
    assert!(stderr(&o).lines().any(|l| l == want), "missing {want:?} in:\n{}", stderr(&o));
}

#[test]
fn authkeys_mode_is_enforced_on_a_config_dir_only() {
    let dir = sample_dir();
    let keys = dir.path().join("authkeys");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("permissions 0644"), "{}", stderr(&o));
    // A copy checked with --kind only warns: its mode says nothing about the node.
    let o = run(&["check-config", "--kind", "authkeys", path_str(&keys)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: permissions 0644"));
}

#[test]
fn haresources_must_name_declared_nodes_and_existing_ldirectord_configs() {
    let dir = sample_dir();
    std::fs::write(dir.path().join("haresources"), "gamma 10.0.0.9\nalpha ldirectord::missing.cf\n").unwrap();
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("haresources:1: node \"gamma\" is not declared in ha.cf"), "{e}");
    assert!(e.contains("haresources:2: ldirectord configuration \"missing.cf\" not found"), "{e}");
}

#[test]
fn kind_checks_single_files_and_garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let bad: PathBuf = dir.path().join("garbage");
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    bytes.extend_from_slice(b"\nvirtual=\xff\xfe:80\n\treal=\x00 gate\n");
    std::fs::write(&bad, &bytes).unwrap();
    for kind in ["ha.cf", "haresources", "authkeys", "ldirectord.cf"] {
        let o = run(&["check-config", "--kind", kind, path_str(&bad)]);
        assert_eq!(o.status.code(), Some(1), "{kind}: {}", stderr(&o));
        assert!(stderr(&o).lines().all(|l| l.starts_with(path_str(&bad))), "{kind}: {}", stderr(&o));
    }
    let o = run(&["check-config", "--kind", "ha.cf", path_str(&dir.path().join("absent"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read"));
}

#[test]
fn applets_dispatch_on_argv0_and_on_the_first_argument() {
    let dir = tempfile::tempdir().unwrap();
    for (applet, says) in [
        ("ldirectord", "ldirectord: not implemented yet"),
        ("hb_standby", "hb_standby: wrong resources(status)."),
        ("hb_takeover", "hb_takeover: wrong resources(status)."),
    ] {
        let link = dir.path().join(applet);
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        if applet == "ldirectord" {
            // Reached under both names: without a configuration it says so, as 4.12 does.
            for o in
                [Command::new(&link).arg("/nonexistent.cf").arg("status").output().unwrap(), run(&[applet, "/nonexistent.cf", "status"])]
            {
                assert_eq!(o.status.code(), Some(1));
                assert_eq!(stderr(&o), "Config file /nonexistent.cf not found\n");
            }
            continue;
        }
        let o = Command::new(&link).arg("status").output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{applet}");
        assert!(stderr(&o).starts_with(says), "{applet}: {}", stderr(&o));
        let o = run(&[applet, "status"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).starts_with(says), "{}", stderr(&o));
    }
}

#[test]
fn hb_standby_without_a_daemon_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN).args(["hb_standby", "all"]).env("HEARTBEAT_RS_CTL", dir.path().join("none.sock")).output().unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("Cannot signon with heartbeat"), "{}", stderr(&o));
    let o = Command::new(BIN).args(["hb_takeover", "a", "b"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("too many arguments"));
}

#[test]
fn cl_status_without_a_daemon_says_it_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("cl_status");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let o = Command::new(&link).arg("hbstatus").env("HEARTBEAT_RS_CTL", dir.path().join("none.sock")).output().unwrap();
    // 3.0.6: rc 1 (heartbeat-behaviour.md §7.1).
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Heartbeat is stopped on this machine.\n");
    let o = Command::new(&link).args(["nodestatus", "nodea"]).env("HEARTBEAT_RS_CTL", dir.path().join("none.sock")).output().unwrap();
    assert_eq!((o.status.code(), o.stdout.len()), (Some(1), 0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Cannot signon with heartbeat"));
    let o = Command::new(&link).env("HEARTBEAT_RS_CTL", dir.path().join("none.sock")).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "no arguments: usage");
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Usage: cl_status"));
}

#[test]
fn run_refuses_crm_saying_why() {
    let dir = sample_dir();
    let ha_cf = dir.path().join("ha.cf");
    let text = std::fs::read_to_string(&ha_cf).unwrap().replace("crm             off", "crm             respawn");
    std::fs::write(&ha_cf, text).unwrap();
    // check-config accepts it with a warning...
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: crm/pacemaker is on"));
    // ...and run refuses to start.
    let o = run(&["run", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not run the CRM"), "{}", stderr(&o));
}

/// `heartbeat` with 3.0.6's flags, paths moved by the environment.
fn legacy(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("HEARTBEAT_RS_CONFIG_DIR", dir.join("etc"))
        .env("HEARTBEAT_RS_STATE_DIR", dir.join("state"))
        .env("HEARTBEAT_RS_PIDFILE", dir.join("heartbeat.pid"))
        .env("HEARTBEAT_RS_CTL", dir.join("ctl.sock"))
        .output()
        .unwrap()
}

fn await_rc(dir: &Path, args: &[&str], rc: i32) -> Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let o = legacy(dir, args);
        if o.status.code() == Some(rc) || std::time::Instant::now() > deadline {
            return o;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn legacy_flags_start_query_refuse_a_second_daemon_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("etc")).unwrap();
    // ucast on loopback needs no broadcast address and stays on this machine.
    let port = 20000 + (std::process::id() % 20000);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_ascii_lowercase();
    std::fs::write(
        d.join("etc/ha.cf"),
        format!("keepalive 100ms\ndeadtime 1\ninitdead 12\nudpport {port}\nucast lo 127.0.0.1\nnode {host} otherhost\nauto_failback on\ncrm off\n"),
    )
    .unwrap();
    std::fs::write(d.join("etc/authkeys"), "auth 1\n1 sha1 legacy-test\n").unwrap();
    std::fs::set_permissions(d.join("etc/authkeys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(d.join("etc/haresources"), "").unwrap();

    let o = legacy(d, &["-V"]);
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).starts_with("3.0.6 (heartbeat-rs ")), (Some(0), true));
    let o = legacy(d, &["-s"]);
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()), (Some(3), "heartbeat is stopped. No process\n"));
    assert_eq!(legacy(d, &["-x"]).status.code(), Some(2));
    let o = legacy(d, &["-M"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("-M is not supported"), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&legacy(d, &["-k"]).stdout), "INFO: Heartbeat already stopped.\n");

    // A stale pid file (no daemon holds it) is taken over.
    std::fs::write(d.join("heartbeat.pid"), "999999\n").unwrap();
    let o = legacy(d, &["-s"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    let o = legacy(d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // -k and -r wait for a starting daemon; -s says it is starting.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let o = loop {
        let o = await_rc(d, &["-s"], 0);
        if String::from_utf8_lossy(&o.stdout).starts_with("heartbeat OK") || std::time::Instant::now() > deadline {
            break o;
        }
    };
    assert_eq!(o.status.code(), Some(0), "daemon never came up: {}", stderr(&o));
    let pid: i32 = std::fs::read_to_string(d.join("heartbeat.pid")).unwrap().trim().parse().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with(&format!("heartbeat OK [pid {pid} et al] is running on ")));
    let second = legacy(d, &[]);
    assert_eq!(second.status.code(), Some(1));
    assert!(stderr(&second).contains(&format!("already running [pid {pid}]")), "{}", stderr(&second));
    assert_eq!(legacy(d, &["-r"]).status.code(), Some(0), "reload signals the running daemon");
    assert_eq!(legacy(d, &["-s"]).status.code(), Some(0), "still running after a reload");
    assert_eq!(legacy(d, &["-k"]).status.code(), Some(0));
    let o = legacy(d, &["-s"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "stopped, pid file removed: {} {:?}",
        String::from_utf8_lossy(&o.stdout),
        std::fs::read_to_string(d.join("heartbeat.pid"))
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
    );
}

/// Heartbeat 3.0.6 does not lock its pid file: a live process called heartbeat named there means
/// a legacy daemon still runs, and ours must not start beside it.
#[test]
fn legacy_start_refuses_beside_a_running_3_0_6_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("etc")).unwrap();
    let fake = d.join("heartbeat");
    std::fs::copy("/bin/sleep", &fake).unwrap();
    let mut old = Command::new(&fake).arg("30").spawn().unwrap();
    std::fs::write(d.join("heartbeat.pid"), format!("{}\n", old.id())).unwrap();
    let o = legacy(d, &[]);
    let _ = old.kill();
    let _ = old.wait();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("already running [pid {}]", old.id())), "{}", stderr(&o));
}
