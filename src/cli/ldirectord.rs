//! `ldirectord [-d] [CONFIG] start|stop|restart|try-restart|reload|force-reload|status`, with
//! ldirectord 4.12's configuration look-up, pid file, messages and exit codes
//! (`shared/reference/ldirectord.md` §1). Extra options: `--ipvs-table FILE` (the file-backed fake
//! IPVS), `--run-dir DIR` (where the pid file lives, default `/var/run`) and `--json` (with
//! `status`: every real's state, failures, last check and last error, on stdout).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::daemon::ldirectord::{Director, IpvsTarget, LogSink, Options};

const COMMANDS: &[&str] = &["start", "stop", "restart", "try-restart", "reload", "force-reload", "status"];
const DAEMON_ENV: &str = "HEARTBEAT_RS_LDIRECTORD_DAEMON";

struct Args {
    debug: bool,
    ipvs_table: Option<PathBuf>,
    run_dir: PathBuf,
    config: Option<String>,
    command: String,
    json: bool,
}

fn usage() -> ExitCode {
    eprintln!(
        "Usage: ldirectord [-d|--debug] [--ipvs-table FILE] [--run-dir DIR] [--json] [--] [configfile] start|stop|restart|try-restart|reload|force-reload|status\n       ldirectord -h|--help|-v|--version"
    );
    // 4.12's pod2usage(-exitval => -1).
    ExitCode::from(255)
}

fn parse(args: &[String]) -> Result<Args, ExitCode> {
    let mut debug = false;
    let mut json = false;
    let mut ipvs_table = None;
    let mut run_dir = PathBuf::from("/var/run");
    let mut rest = Vec::new();
    let mut it = args.iter();
    let mut options = true;
    while let Some(a) = it.next() {
        match a.as_str() {
            "-d" | "--debug" if options => debug = true,
            "-h" | "--help" if options => {
                usage();
                return Err(ExitCode::SUCCESS);
            }
            "-v" | "--version" if options => {
                println!("Linux Director v1.186-ha (heartbeat-rs {})", env!("CARGO_PKG_VERSION"));
                return Err(ExitCode::SUCCESS);
            }
            "--ipvs-table" if options => ipvs_table = Some(PathBuf::from(it.next().ok_or_else(usage)?)),
            "--json" if options => json = true,
            "--run-dir" if options => run_dir = PathBuf::from(it.next().ok_or_else(usage)?),
            "--" if options => options = false,
            s if options && s.starts_with('-') && s.len() > 1 => return Err(usage()),
            s => rest.push(s.to_owned()),
        }
    }
    let (config, command) = match rest.as_slice() {
        [c] => (None, c.clone()),
        [cfg, c] => (Some(cfg.clone()), c.clone()),
        _ => return Err(usage()),
    };
    if !COMMANDS.contains(&command.as_str()) {
        return Err(usage());
    }
    Ok(Args { debug, ipvs_table, run_dir, config, command, json })
}

/// 4.12's look-up: `/etc/ha.d/CONFIG`, `/etc/ha.d/conf/CONFIG`, then CONFIG as a path.
fn find_config(name: &str) -> Option<PathBuf> {
    [Path::new("/etc/ha.d").join(name), Path::new("/etc/ha.d/conf").join(name), PathBuf::from(name)].into_iter().find(|p| p.is_file())
}

/// The pid of a live ldirectord from the pid file: (pid in the file, whether it is live).
fn read_pid(pidfile: &Path) -> (Option<i32>, bool) {
    let Ok(text) = std::fs::read_to_string(pidfile) else { return (None, false) };
    let Ok(pid) = text.trim().parse::<i32>() else { return (None, false) };
    let live = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains("ldirectord"));
    (Some(pid), live)
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

pub fn run(args: Vec<String>) -> ExitCode {
    let a = match parse(&args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let (cfg_arg, name) = match &a.config {
        Some(c) => (c.clone(), Path::new(c).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| c.clone())),
        None => ("ldirectord.cf".to_owned(), "ldirectord".to_owned()),
    };
    let Some(config) = find_config(&cfg_arg) else {
        eprintln!("Config file {cfg_arg} not found");
        return ExitCode::from(1);
    };
    // As 4.12: the configuration is read before the command is acted on.
    let cfg = match crate::daemon::ldirectord::load(&config) {
        Ok((cfg, _, warnings)) => {
            for w in warnings {
                eprintln!("{w}");
            }
            cfg
        }
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return ExitCode::from(2);
        }
    };
    let pidfile = a.run_dir.join(format!("ldirectord.{name}.pid"));
    let statusfile = a.run_dir.join(format!("ldirectord.{name}.status.json"));
    let shown = config.display().to_string();
    let (filepid, live) = read_pid(&pidfile);
    let daemon_child = std::env::var_os(DAEMON_ENV).is_some();
    // `execute=CONFIG`: the other instances get the same command (4.12's ld_cmd_children).
    if !daemon_child && a.command != "status" {
        for other in &cfg.globals.execute {
            let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
            let mut c = std::process::Command::new(exe);
            c.arg("ldirectord").arg("--run-dir").arg(&a.run_dir);
            if let Some(t) = &a.ipvs_table {
                c.arg("--ipvs-table").arg(t);
            }
            if let Err(e) = c.arg(other).arg(&a.command).status() {
                eprintln!("ldirectord: cannot run the {other} instance: {e}");
            }
        }
    }
    match (a.command.as_str(), live && !daemon_child) {
        ("start", true) => return ExitCode::SUCCESS,
        ("stop", true) => {
            signal(filepid.unwrap_or(0), nix::sys::signal::Signal::SIGTERM);
            return ExitCode::SUCCESS;
        }
        ("restart" | "try-restart", true) => {
            signal(filepid.unwrap_or(0), nix::sys::signal::Signal::SIGTERM);
            for _ in 0..600 {
                if !pidfile.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        ("reload" | "force-reload", true) => {
            signal(filepid.unwrap_or(0), nix::sys::signal::Signal::SIGHUP);
            return ExitCode::SUCCESS;
        }
        ("status", true) => {
            eprintln!("ldirectord for {shown} is running with pid: {}", filepid.unwrap_or(0));
            if a.json {
                print!("{}", std::fs::read_to_string(&statusfile).unwrap_or_default());
            }
            return ExitCode::SUCCESS;
        }
        ("start" | "restart", false) => {}
        ("stop" | "try-restart", false) => return ExitCode::SUCCESS,
        ("status", false) => {
            let code = if filepid.is_some() {
                eprintln!("ldirectord stale pid file {} for {shown}", pidfile.display());
                1
            } else {
                3
            };
            println!("ldirectord is stopped for {shown}");
            return ExitCode::from(code);
        }
        _ => return ExitCode::from(1),
    }
    let ipvs = match &a.ipvs_table {
        Some(f) => IpvsTarget::File(f.clone()),
        None => IpvsTarget::Kernel,
    };
    let foreground = a.debug || cfg.globals.supervised;
    if foreground {
        // `supervised=yes` logs to the supervisor (4.12: stdout), like -d.
        let log = Some(LogSink::Stderr);
        return serve(Options { config, ipvs, log, status_file: Some(statusfile), on_change: None }, None);
    }
    if daemon_child {
        let _ = nix::unistd::setsid();
        return serve(Options { config, ipvs, log: None, status_file: Some(statusfile), on_change: None }, Some(pidfile));
    }
    // Daemonise by starting ourselves detached; the child writes the pid file once running.
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let child = std::process::Command::new(exe)
        .arg("ldirectord")
        .args(&args)
        .env(DAEMON_ENV, "1")
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ldirectord: cannot start the daemon: {e}");
            return ExitCode::from(1);
        }
    };
    for _ in 0..300 {
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("ldirectord: the daemon exited during start-up ({status}); see the log");
            return ExitCode::from(1);
        }
        if read_pid(&pidfile).0 == Some(child.id() as i32) {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ExitCode::SUCCESS
}

/// Runs the director in this process until SIGTERM/SIGINT; SIGHUP reloads.
fn serve(opts: Options, pidfile: Option<PathBuf>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ldirectord: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut hup), Ok(mut term), Ok(mut int)) =
            (signal(SignalKind::hangup()), signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            eprintln!("ldirectord: cannot install signal handlers");
            return ExitCode::from(1);
        };
        let mut director = match Director::spawn(opts) {
            Ok(d) => d,
            Err(errors) => {
                for e in errors {
                    eprintln!("{e}");
                }
                // The configuration was read fine a moment ago: this is an initialisation error
                // (IPVS cannot be opened, say), exit 1 as 4.12.
                return ExitCode::from(1);
            }
        };
        if let Some(p) = &pidfile {
            if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
                eprintln!("Can not open {}: {e}", p.display());
                let _ = director.stop().await;
                return ExitCode::from(1);
            }
        }
        let code = loop {
            tokio::select! {
                _ = hup.recv() => { let _ = director.reload().await; }
                _ = term.recv() => break director.stop().await,
                _ = int.recv() => break director.stop().await,
                r = director.wait() => break r,
            }
        };
        if let Some(p) = &pidfile {
            let _ = std::fs::remove_file(p);
        }
        match code {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ldirectord: {e}");
                ExitCode::from(1)
            }
        }
    })
}
