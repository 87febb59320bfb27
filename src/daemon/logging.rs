//! Where log lines go, as Heartbeat 3.0.6 sends them: `logfile` (info and up), `debugfile`
//! (everything), `logfacility` (syslog through /dev/log), stderr in the foreground; or JSON
//! lines for modern pipelines. `tracing` events underneath; this layer only formats and writes.
//!
//! Heartbeat's levels are debug, info, WARN, ERROR and CRIT; CRIT is an ERROR event with the field
//! `crit = true`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// The debug level in force: `debug N` + `-d`s, raised by SIGUSR1 and lowered by SIGUSR2.
static DEBUG: AtomicU32 = AtomicU32::new(0);

/// Changes the debug level by `delta` (SIGUSR1: +1, SIGUSR2: -1); returns the new level.
pub fn adjust_debug(delta: i32) -> u32 {
    let new = DEBUG.load(Ordering::Relaxed).saturating_add_signed(delta);
    DEBUG.store(new, Ordering::Relaxed);
    new
}

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `heartbeat: LEVEL: text` on stderr, Heartbeat's own line in files and syslog.
    Heartbeat,
    /// One JSON object a line on stderr.
    Json,
}

/// Logging settings, from ha.cf (and the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    pub node: String,
    pub logfile: Option<String>,
    pub debugfile: Option<String>,
    pub facility: Option<String>,
    /// `debug N`: 0 drops debug lines.
    pub debug: u32,
    pub stderr: bool,
    pub format: Format,
    /// Program name in lines (`heartbeat`, `ldirectord`).
    pub program: &'static str,
}

struct Sinks {
    logfile: Option<std::fs::File>,
    debugfile: Option<std::fs::File>,
    syslog: Option<(UnixDatagram, u8)>,
}

pub struct HeartbeatLayer {
    s: Settings,
    sinks: Mutex<Sinks>,
}

/// syslog facility numbers (RFC 5424) by Heartbeat's names.
pub fn facility_code(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

fn open_append(path: &str) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

fn open_syslog() -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect("/dev/log").ok()?;
    Some(s)
}

/// `Nov 25 14:03:19`, local time.
fn stamp() -> String {
    let t = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: localtime_r fills the zeroed struct we own; both pointers are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&t, &mut tm) };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{} {:2} {:02}:{:02}:{:02}", MONTHS[tm.tm_mon.clamp(0, 11) as usize], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
}

#[derive(Default)]
struct Fields {
    message: String,
    crit: bool,
    rest: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            name => self.rest.push((name.to_owned(), format!("{value:?}"))),
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            name => self.rest.push((name.to_owned(), value.to_owned())),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "crit" => self.crit = value,
            name => self.rest.push((name.to_owned(), value.to_string())),
        }
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl HeartbeatLayer {
    /// Opens the sinks. A file that cannot be opened falls back to syslog, said once.
    pub fn new(s: Settings) -> HeartbeatLayer {
        let mut notes = Vec::new();
        let mut open = |path: &Option<String>| match path {
            Some(p) => match open_append(p) {
                Ok(f) => Some(f),
                Err(e) => {
                    notes.push(format!("cannot open log file {p}: {e}; logging to syslog instead"));
                    None
                }
            },
            None => None,
        };
        let logfile = open(&s.logfile);
        let debugfile = open(&s.debugfile);
        let fallback = !notes.is_empty();
        let facility = s.facility.as_deref().and_then(facility_code).or(fallback.then_some(3));
        let syslog = facility.and_then(|f| open_syslog().map(|sock| (sock, f)));
        DEBUG.store(s.debug, Ordering::Relaxed);
        let layer = HeartbeatLayer { s, sinks: Mutex::new(Sinks { logfile, debugfile, syslog }) };
        for n in notes {
            layer.write(Level::ERROR, false, &n, &[]);
        }
        layer
    }

    fn write(&self, level: Level, crit: bool, msg: &str, rest: &[(String, String)]) {
        let name = match level {
            _ if crit => "CRIT",
            Level::ERROR => "ERROR",
            Level::WARN => "WARN",
            Level::INFO => "info",
            _ => "debug",
        };
        let is_debug = level > Level::INFO;
        if is_debug && DEBUG.load(Ordering::Relaxed) == 0 {
            return;
        }
        let pid = std::process::id();
        if self.s.stderr {
            let line = match self.s.format {
                Format::Heartbeat => format!("{}: {name}: {msg}\n", self.s.program),
                Format::Json => {
                    let mut l = format!(
                        "{{\"time\":{},\"program\":{},\"node\":{},\"pid\":{pid},\"level\":{},\"message\":{}",
                        json_str(&stamp()),
                        json_str(self.s.program),
                        json_str(&self.s.node),
                        json_str(name),
                        json_str(msg)
                    );
                    for (k, v) in rest {
                        let _ = write!(l, ",{}:{}", json_str(k), json_str(v));
                    }
                    l.push_str("}\n");
                    l
                }
            };
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        let Ok(mut sinks) = self.sinks.lock() else { return };
        let line = format!("{} {} {}: [{pid}]: {name}: {msg}\n", stamp(), self.s.node, self.s.program);
        if let Some(f) = sinks.debugfile.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
        if !is_debug {
            if let Some(f) = sinks.logfile.as_mut() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        if let Some((sock, facility)) = sinks.syslog.as_ref() {
            let severity = match level {
                _ if crit => 2,
                Level::ERROR => 3,
                Level::WARN => 4,
                Level::INFO => 6,
                _ => 7,
            };
            let pri = u32::from(*facility) * 8 + severity;
            let _ = sock.send(format!("<{pri}>{} {}: [{pid}]: {name}: {msg}", stamp(), self.s.program).as_bytes());
        }
    }
}

impl<S: Subscriber> Layer<S> for HeartbeatLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        self.write(*event.metadata().level(), f.crit, &f.message, &f.rest);
    }
}

/// Installs the layer for the whole process (once; later calls are ignored).
pub fn init(s: Settings) {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(HeartbeatLayer::new(s));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_get_heartbeats_line_and_debug_only_goes_to_the_debugfile() {
        let dir = tempfile::tempdir().unwrap();
        let (log, dbg) = (dir.path().join("ha-log"), dir.path().join("ha-debug"));
        let layer = HeartbeatLayer::new(Settings {
            node: "nodea".into(),
            logfile: Some(log.display().to_string()),
            debugfile: Some(dbg.display().to_string()),
            facility: None,
            debug: 1,
            stderr: false,
            format: Format::Heartbeat,
            program: "heartbeat",
        });
        layer.write(Level::WARN, false, "node nodeb: is dead", &[]);
        layer.write(Level::DEBUG, false, "detail", &[]);
        layer.write(Level::ERROR, true, "Late heartbeat: Node nodeb: interval 3000 ms (> deadtime)", &[]);
        let log = std::fs::read_to_string(log).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(&format!(" nodea heartbeat: [{}]: WARN: node nodeb: is dead", std::process::id())), "{}", lines[0]);
        assert!(lines[1].contains("]: CRIT: Late heartbeat"));
        assert_eq!(std::fs::read_to_string(dbg).unwrap().lines().count(), 3);
        assert_eq!(json_str("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }
}
