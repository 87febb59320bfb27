//! Heartbeat 3.0.6's own command line: `heartbeat [-dfklrsvV]`. With no flag it checks the
//! configuration, daemonizes and runs; the flags stop, reload or query the running daemon through
//! its pid file, with 3.0.6's messages and exit codes. Paths are 3.0.6's; the environment
//! variables HEARTBEAT_RS_CONFIG_DIR, HEARTBEAT_RS_STATE_DIR and HEARTBEAT_RS_PIDFILE move them
//! (tests, side-by-side installs).

use std::ffi::OsString;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const USAGE: &str =
    "\nUsage: heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]\n\t-C only valid with -R\n\t-r is mutually exclusive with -R\n";

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

pub fn pidfile() -> PathBuf {
    env_path("HEARTBEAT_RS_PIDFILE", "/var/run/heartbeat.pid")
}

/// What the pid file says about a daemon.
enum Running {
    /// Locked by a live daemon.
    Yes(i32),
    /// Locked, pid not written yet: a daemon still starting.
    Starting,
    /// A pid file nobody holds: a crash left it.
    Stale,
    NoPidFile,
}

fn running() -> Running {
    let path = pidfile();
    let Ok(f) = std::fs::OpenOptions::new().read(true).write(true).open(&path) else { return Running::NoPidFile };
    let mut text = String::new();
    let pid = (&f).read_to_string(&mut text).ok().and_then(|_| text.trim().parse::<i32>().ok());
    // The daemon holds an exclusive lock on its pid file for as long as it lives; a pid alone can
    // be a recycled number or a zombie.
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(_unlocked_on_drop) => Running::Stale,
        Err(_) => pid.filter(|&p| p > 0).map_or(Running::Starting, Running::Yes),
    }
}

struct Flags {
    debug: u32,
    kill: bool,
    reload: bool,
    status: bool,
    version: bool,
    foreground: bool,
    low_priority: bool,
}

fn parse(args: &[OsString]) -> Result<Flags, String> {
    let mut f = Flags { debug: 0, kill: false, reload: false, status: false, version: false, foreground: false, low_priority: false };
    for a in args.iter().skip(1) {
        let a = a.to_string_lossy();
        let Some(letters) = a.strip_prefix('-').filter(|l| !l.is_empty() && !l.starts_with('-')) else {
            return Err(format!("heartbeat: unexpected argument {a}{USAGE}"));
        };
        for c in letters.chars() {
            match c {
                'd' | 'v' => f.debug += 1,
                'k' => f.kill = true,
                'r' => f.reload = true,
                's' => f.status = true,
                'V' => f.version = true,
                'f' => f.foreground = true,
                'l' => f.low_priority = true,
                'D' | 'M' | 'R' | 'C' | 'W' => {
                    return Err(format!(
                        "heartbeat: -{c} is not supported by heartbeat-rs (it manages no child processes, restarts and watchdogs itself); see `heartbeat --help`{USAGE}"
                    ));
                }
                other => return Err(format!("heartbeat: invalid option -- '{other}'{USAGE}")),
            }
        }
    }
    Ok(f)
}

/// The running daemon's pid, waiting out a start in progress.
fn daemon_pid() -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match running() {
            Running::Yes(pid) => return Some(pid),
            Running::Starting if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

fn node_name() -> String {
    nix::unistd::gethostname().ok().map(|h| h.to_string_lossy().to_ascii_lowercase()).unwrap_or_default()
}

/// `heartbeat [-flags]`.
pub fn run(args: &[OsString]) -> ExitCode {
    let f = match parse(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if f.version {
        println!("3.0.6 (heartbeat-rs {})", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if f.status {
        return match running() {
            Running::Yes(pid) => {
                let node = node_name();
                println!("heartbeat OK [pid {pid} et al] is running on {node} [{node}]...");
                ExitCode::SUCCESS
            }
            Running::Starting => {
                println!("heartbeat is starting.");
                ExitCode::SUCCESS
            }
            Running::Stale => {
                println!("heartbeat is stopped. No process");
                ExitCode::from(1)
            }
            Running::NoPidFile => {
                println!("heartbeat is stopped. No process");
                ExitCode::from(3)
            }
        };
    }
    if f.kill {
        return stop();
    }
    if f.reload {
        if let Some(pid) = daemon_pid() {
            return match kill(Pid::from_raw(pid), Signal::SIGHUP) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("heartbeat: cannot signal pid {pid}: {e}");
                    ExitCode::from(1)
                }
            };
        }
        // 3.0.6 starts the daemon when none runs.
    }
    start(&f)
}

/// `-k`: SIGTERM, then wait while the daemon hands its resources over and exits.
fn stop() -> ExitCode {
    let pid = match daemon_pid() {
        Some(pid) => pid,
        None => {
            println!("INFO: Heartbeat already stopped.");
            return ExitCode::SUCCESS;
        }
    };
    if let Err(e) = kill(Pid::from_raw(pid), Signal::SIGTERM) {
        eprintln!("heartbeat: cannot signal pid {pid}: {e}");
        return ExitCode::from(1);
    }
    // Releasing resources runs their stop scripts; each has its own timeout, so this bound is
    // only against a daemon that never answers.
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if !matches!(running(), Running::Yes(_) | Running::Starting) {
            // The pid file's lock goes a moment before the process has exited: wait for that too,
            // so that an init script or systemd sees it gone when -k returns.
            while Instant::now() < deadline && alive(pid) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("heartbeat: pid {pid} did not stop within 600 s");
    ExitCode::from(1)
}

/// Whether `pid` is a process that has not exited (a zombie has).
fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
}

/// Checks the configuration, takes the pid file, daemonizes (unless -f) and runs.
fn start(f: &Flags) -> ExitCode {
    let dir = env_path("HEARTBEAT_RS_CONFIG_DIR", "/etc/ha.d");
    let path = pidfile();
    let file = match std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("heartbeat: ERROR: cannot open pid file {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((file, _)) => {
            let mut text = String::new();
            let _ = (&file).read_to_string(&mut text);
            eprintln!("heartbeat: already running [pid {}].", text.trim());
            return ExitCode::from(1);
        }
    };
    let mut previous = String::new();
    let _ = lock.read_to_string(&mut previous);
    // Heartbeat 3.0.6 does not lock its pid file: a live 3.0.6 daemon named there is running.
    if let Ok(pid) = previous.trim().parse::<i32>() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if pid > 0 && comm.trim_end() == "heartbeat" {
            eprintln!("heartbeat: already running [pid {pid}].");
            return ExitCode::from(1);
        }
    }
    let _ = lock.set_len(0);
    let mut notes = Vec::new();
    if let Ok(pid) = previous.trim().parse::<i32>() {
        notes.push(format!("WARN: stale pid file {} (pid {pid} is gone); taking it over", path.display()));
    }
    let mut opts = crate::daemon::heartbeat::Options {
        node: String::new(),
        state_dir: env_path("HEARTBEAT_RS_STATE_DIR", "/var/lib/heartbeat"),
        ctl: std::env::var_os("HEARTBEAT_RS_CTL")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(crate::daemon::heartbeat::DEFAULT_CTL)),
        stderr: f.foreground,
        log_format: crate::daemon::logging::Format::Heartbeat,
        debug: f.debug,
        notes,
        ready: None,
        fence_cmd: super::default_fence(),
        rsc_timeout: Duration::from_secs(120),
    };
    let Some(mut cfg) = super::load_for_run(&dir) else {
        return ExitCode::from(6);
    };
    let node = node_name();
    if !cfg.ha_cf.nodes.iter().any(|n| n.name == node) {
        // Said on the terminal, before daemonizing, as 3.0.6's configuration check does.
        eprintln!("heartbeat: ERROR: Current node [{node}] not in configuration!");
        eprintln!("heartbeat: ERROR: Configuration error, heartbeat not started.");
        return ExitCode::from(6);
    }
    if f.low_priority {
        cfg.ha_cf.realtime = false;
    }
    if !f.foreground {
        // Before any thread exists: fork and setsid; the child keeps the locked pid file.
        if let Err(e) = nix::unistd::daemon(false, false) {
            eprintln!("heartbeat: cannot daemonize: {e}");
            return ExitCode::from(1);
        }
    }
    opts.node = node;
    // The pid goes in only once signals are handled: a `-k` or `-r` that reads it must not kill a
    // daemon still starting (SIGHUP's and SIGTERM's default action).
    let lock = std::rc::Rc::new(std::cell::RefCell::new(lock));
    let writer = lock.clone();
    opts.ready = Some(Box::new(move || {
        let mut l = writer.borrow_mut();
        let _ = l.set_len(0).and_then(|_| l.rewind()).and_then(|_| writeln!(l, "{}", std::process::id()));
        crate::daemon::notify::ready();
    }));
    let result = crate::daemon::heartbeat::run(cfg, opts);
    let _ = std::fs::remove_file(&path);
    drop(lock);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::daemon::heartbeat::log(&format!("ERROR: {e}"));
            eprintln!("heartbeat: {e}");
            ExitCode::from(1)
        }
    }
}
