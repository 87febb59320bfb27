//! `ldirectord.cf` → [`DirectorConfig`], with ldirectord 4.12's exact line grammar.
//!
//! Pure: no hostname, port-name or file look-ups (hostnames stay [`Host::Name`] and are resolved
//! by the daemon at load). Rules (`shared/reference/ldirectord.md` §2–4, read from `read_config`
//! of ldirectord 4.12):
//! - Global lines start in column 0 as `name\s*=\s*value`; the value is the rest of the line, not
//!   trimmed, with no comment stripping (so `quiescent=yes # c` is refused, as in 4.12).
//! - A column-0 `virtual=`/`virtual6=` opens a block. In a block, lines whose first non-blank is
//!   `#` are skipped, `#…` is cut, tabs count as 4 spaces, and a line indented by at least 4
//!   spaces is a block line. Any other line (an empty one too) ends the block and is read again
//!   as a global line.
//! - Numbers use the first run of digits in the value; yes/no values must match exactly.
//!
//! Deliberate differences are listed in `docs/compatibility.md`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::diag::{Diagnostics, Parsed, did_you_mean, quote};
use super::source::{decode, is_blank, lines};

/// An address as written: a literal IP, or a host name the daemon resolves at load.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(a) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A port as written: a number, or a service name the daemon resolves (`/etc/services`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Port {
    Number(u16),
    Name(String),
}

impl Port {
    pub fn number(&self) -> Option<u16> {
        match self {
            Port::Number(n) => Some(*n),
            Port::Name(_) => None,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Name(n) => f.write_str(n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Fwm,
}

/// LVS forwarding method: `gate` (direct routing), `masq` (NAT), `ipip` (tunnel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forward {
    Gate,
    Masq,
    Ipip,
}

impl Forward {
    fn from_word(w: &str) -> Option<Forward> {
        match w {
            "gate" => Some(Forward::Gate),
            "masq" => Some(Forward::Masq),
            "ipip" => Some(Forward::Ipip),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckType {
    Negotiate,
    Connect,
    Ping,
    External,
    ExternalPerl,
    On,
    Off,
    /// One negotiate check, then N connect checks, repeated.
    Combined(u32),
}

/// The negotiate protocols ldirectord 4.12 knows, with the default port of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Dns,
    Ftp,
    Http,
    Https,
    HttpProxy,
    Imap,
    Imaps,
    Ldap,
    Ldaps,
    Mysql,
    Nntp,
    None,
    Oracle,
    Pgsql,
    Pop,
    Pops,
    Radius,
    SimpleTcp,
    Sip,
    Smtp,
    Submission,
}

/// (name, service, default port) in ldirectord's own table order.
const SERVICES: &[(&str, Service, Option<u16>)] = &[
    ("ftp", Service::Ftp, Some(21)),
    ("smtp", Service::Smtp, Some(25)),
    ("dns", Service::Dns, Some(53)),
    ("http", Service::Http, Some(80)),
    ("pop", Service::Pop, Some(110)),
    ("nntp", Service::Nntp, Some(119)),
    ("imap", Service::Imap, Some(143)),
    ("ldap", Service::Ldap, Some(389)),
    ("https", Service::Https, Some(443)),
    ("submission", Service::Submission, Some(587)),
    ("ldaps", Service::Ldaps, Some(636)),
    ("imaps", Service::Imaps, Some(993)),
    ("pops", Service::Pops, Some(995)),
    ("oracle", Service::Oracle, Some(1521)),
    ("radius", Service::Radius, Some(1812)),
    ("http_proxy", Service::HttpProxy, Some(3128)),
    ("mysql", Service::Mysql, Some(3306)),
    ("sip", Service::Sip, Some(5060)),
    ("pgsql", Service::Pgsql, Some(5432)),
    ("none", Service::None, None),
    ("simpletcp", Service::SimpleTcp, None),
];

impl Service {
    pub fn from_name(name: &str) -> Option<Service> {
        SERVICES.iter().find(|(n, _, _)| *n == name).map(|&(_, s, _)| s)
    }

    pub fn name(self) -> &'static str {
        SERVICES.iter().find(|(_, s, _)| *s == self).map(|&(n, _, _)| n).unwrap_or("none")
    }

    /// The port a check of this service connects to when nothing else says (`ld_service_to_port`).
    pub fn default_port(self) -> Option<u16> {
        SERVICES.iter().find(|(_, s, _)| *s == self).and_then(|&(_, _, p)| p)
    }

    /// The service implied by a virtual port (`ld_port_to_service`); unknown ports mean `none`.
    pub fn for_port(port: u16) -> Service {
        SERVICES.iter().find(|(_, _, p)| *p == Some(port)).map(|&(_, s, _)| s).unwrap_or(Service::None)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Get,
    Head,
}

/// Where ldirectord logs: a file (value starts with `/`) or a syslog facility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    File(String),
    Syslog(String),
}

/// Daemon states in which e-mail alerts are sent (`emailalertstatus`), as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertStatus(pub u8);

impl AlertStatus {
    pub const STARTING: u8 = 1;
    pub const RUNNING: u8 = 2;
    pub const STOPPING: u8 = 4;
    pub const RELOADING: u8 = 8;
    pub const ALL: AlertStatus = AlertStatus(15);
    pub const NONE: AlertStatus = AlertStatus(0);
}

/// `fallback=HOST[:PORT] [gate|masq|ipip]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub host: Host,
    /// `None`: the virtual service's port.
    pub port: Option<Port>,
    pub forward: Forward,
}

/// How a virtual service is addressed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VirtualAddr {
    Addr { host: Host, port: Port },
    Fwmark(u32),
}

/// Global directives (column 0). Defaults are ldirectord 4.12's `set_defaults`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    pub checktimeout: Option<u32>,
    pub negotiatetimeout: Option<u32>,
    pub checkinterval: u32,
    pub checkcount: u32,
    pub failurecount: u32,
    pub autoreload: bool,
    pub callback: Option<String>,
    pub fallback: Option<Fallback>,
    pub fallback6: Option<Fallback>,
    pub fallbackcommand: Option<String>,
    pub logfile: LogTarget,
    pub execute: Vec<String>,
    pub fork: bool,
    pub supervised: bool,
    pub quiescent: bool,
    pub readdquiescent: bool,
    pub emailalert: Option<String>,
    pub emailalertfreq: u32,
    pub emailalertstatus: AlertStatus,
    pub emailalertfrom: Option<String>,
    pub smtp: Option<String>,
    pub cleanstop: bool,
    pub maintenancedir: Option<String>,
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            checktimeout: None,
            negotiatetimeout: None,
            checkinterval: 10,
            checkcount: 1,
            failurecount: 1,
            autoreload: false,
            callback: None,
            fallback: None,
            fallback6: None,
            fallbackcommand: None,
            logfile: LogTarget::File("/var/log/ldirectord.log".into()),
            execute: Vec::new(),
            fork: false,
            supervised: false,
            // The code's default is "no"; the 4.12 man page wrongly says "yes".
            quiescent: false,
            readdquiescent: false,
            emailalert: None,
            emailalertfreq: 0,
            emailalertstatus: AlertStatus::ALL,
            emailalertfrom: None,
            smtp: None,
            cleanstop: true,
            maintenancedir: None,
        }
    }
}

/// One `real=` line (a range stands for every address from `host` to `range_end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Real {
    pub line: usize,
    pub host: Host,
    pub range_end: Option<Host>,
    /// `None` when no port is written (ldirectord uses port 0).
    pub port: Option<Port>,
    pub forward: Forward,
    pub weight: u32,
    /// A per-real `"request", "receive"` pair overriding the virtual's.
    pub request: Option<String>,
    pub receive: Option<String>,
    pub lower_threshold: u32,
    pub upper_threshold: u32,
}

impl Real {
    /// How many addresses this line stands for, without listing them.
    pub fn address_count(&self) -> u64 {
        match (&self.host, &self.range_end) {
            (Host::Ip(IpAddr::V4(a)), Some(Host::Ip(IpAddr::V4(b)))) => {
                u64::from(u32::from(*b)).saturating_sub(u64::from(u32::from(*a))) + 1
            }
            _ => 1,
        }
    }

    /// The addresses this line stands for: one, or every address of an IPv4 range.
    pub fn addresses(&self) -> Vec<Host> {
        match (&self.host, &self.range_end) {
            (Host::Ip(IpAddr::V4(a)), Some(Host::Ip(IpAddr::V4(b)))) => {
                (u32::from(*a)..=u32::from(*b)).map(|n| Host::Ip(IpAddr::V4(Ipv4Addr::from(n)))).collect()
            }
            (h, _) => vec![h.clone()],
        }
    }
}

/// A `virtual=`/`virtual6=` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Virtual {
    pub line: usize,
    pub ipv6: bool,
    pub addr: VirtualAddr,
    pub protocol: Protocol,
    pub service: Service,
    pub checktype: CheckType,
    pub request: String,
    pub receive: String,
    pub httpmethod: HttpMethod,
    pub virtualhost: Option<String>,
    pub checkport: Option<u16>,
    pub checkcommand: String,
    pub checktimeout: Option<u32>,
    pub negotiatetimeout: Option<u32>,
    pub checkcount: Option<u32>,
    pub failurecount: Option<u32>,
    pub checkinterval: Option<u32>,
    pub login: Option<String>,
    pub passwd: Option<String>,
    pub database: Option<String>,
    pub secret: Option<String>,
    pub load: Option<String>,
    pub scheduler: String,
    pub persistent: Option<u32>,
    pub netmask: Option<String>,
    pub schedflags: Option<String>,
    pub ops: bool,
    pub fallback: Option<Fallback>,
    pub fallbackcommand: Option<String>,
    pub quiescent: Option<bool>,
    pub cleanstop: Option<bool>,
    pub emailalert: Option<String>,
    pub emailalertfreq: Option<u32>,
    pub emailalertstatus: Option<AlertStatus>,
    pub smtp: Option<String>,
    pub monitorfile: Option<String>,
    pub servicename: Option<String>,
    pub comment: Option<String>,
    pub reals: Vec<Real>,
}

impl Virtual {
    fn new(line: usize, ipv6: bool, addr: VirtualAddr, protocol: Protocol) -> Self {
        Virtual {
            line,
            ipv6,
            addr,
            protocol,
            service: Service::None,
            checktype: CheckType::Negotiate,
            request: "/".into(),
            receive: String::new(),
            httpmethod: HttpMethod::Get,
            virtualhost: None,
            checkport: None,
            checkcommand: "/bin/true".into(),
            checktimeout: None,
            negotiatetimeout: None,
            checkcount: None,
            failurecount: None,
            checkinterval: None,
            login: None,
            passwd: None,
            database: None,
            secret: None,
            load: None,
            scheduler: "wrr".into(),
            persistent: None,
            netmask: None,
            schedflags: None,
            ops: false,
            fallback: None,
            fallbackcommand: None,
            quiescent: None,
            cleanstop: None,
            emailalert: None,
            emailalertfreq: None,
            emailalertstatus: None,
            smtp: None,
            monitorfile: None,
            servicename: None,
            comment: None,
            // Most blocks hold a handful of reals; growing from empty costs several copies.
            reals: Vec::with_capacity(8),
        }
    }

    /// Timeout for connect/external/ping checks (ldirectord 4.12 `ld_setup`): the virtual's
    /// checktimeout, its negotiatetimeout, the global checktimeout, the global negotiatetimeout, 5.
    pub fn effective_checktimeout(&self, g: &Globals) -> u32 {
        self.checktimeout.or(self.negotiatetimeout).or(g.checktimeout).or(g.negotiatetimeout).unwrap_or(5)
    }

    /// Timeout for negotiate checks: the same chain with the two names swapped, default 30.
    pub fn effective_negotiatetimeout(&self, g: &Globals) -> u32 {
        self.negotiatetimeout.or(self.checktimeout).or(g.negotiatetimeout).or(g.checktimeout).unwrap_or(30)
    }

    pub fn effective_quiescent(&self, g: &Globals) -> bool {
        self.quiescent.unwrap_or(g.quiescent)
    }

    pub fn effective_failurecount(&self, g: &Globals) -> u32 {
        self.failurecount.unwrap_or(g.failurecount)
    }

    /// The per-virtual interval only counts with `fork=yes`, as in 4.12.
    pub fn effective_checkinterval(&self, g: &Globals) -> u32 {
        if g.fork { self.checkinterval.unwrap_or(g.checkinterval) } else { g.checkinterval }
    }

    /// `tcp:1.2.3.4:80` / `fwm:5`, the name ldirectord logs.
    pub fn id(&self) -> String {
        match &self.addr {
            VirtualAddr::Addr { host, port } => {
                let p = if self.protocol == Protocol::Udp { "udp" } else { "tcp" };
                format!("{p}:{host}:{port}")
            }
            VirtualAddr::Fwmark(m) => format!("fwm:{m}{}", if self.ipv6 { ":6" } else { "" }),
        }
    }
}

/// A parsed ldirectord.cf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectorConfig {
    pub globals: Globals,
    pub virtuals: Vec<Virtual>,
}

const GLOBAL_DIRECTIVES: &[&str] = &[
    "checktimeout",
    "negotiatetimeout",
    "checkinterval",
    "checkcount",
    "failurecount",
    "fallback",
    "fallback6",
    "fallbackcommand",
    "autoreload",
    "callback",
    "logfile",
    "execute",
    "fork",
    "supervised",
    "quiescent",
    "readdquiescent",
    "emailalert",
    "emailalertfreq",
    "emailalertstatus",
    "emailalertfrom",
    "cleanstop",
    "smtp",
    "maintenancedir",
    "virtual",
    "virtual6",
];

const VIRTUAL_DIRECTIVES: &[&str] = &[
    "real",
    "real6",
    "request",
    "receive",
    "checktype",
    "checkcommand",
    "checktimeout",
    "negotiatetimeout",
    "checkcount",
    "failurecount",
    "checkinterval",
    "checkport",
    "login",
    "passwd",
    "database",
    "secret",
    "load",
    "scheduler",
    "persistent",
    "schedflags",
    "netmask",
    "protocol",
    "ops",
    "service",
    "httpmethod",
    "virtualhost",
    "fallback",
    "fallback6",
    "fallbackcommand",
    "quiescent",
    "emailalert",
    "emailalertfreq",
    "emailalertstatus",
    "monitorfile",
    "cleanstop",
    "smtp",
    "servicename",
    "comment",
];

/// Parses an ldirectord.cf file.
pub fn parse(file: &str, bytes: &[u8]) -> Parsed<DirectorConfig> {
    let text = decode(bytes);
    let mut p = Parser {
        d: Diagnostics::new(file),
        cfg: DirectorConfig::default(),
        seen: HashMap::new(),
        block_key_text: String::new(),
        block: None,
        timeout_line: None,
        explicit_service: false,
    };
    for (line_no, raw) in lines(&text) {
        p.line(line_no, raw);
    }
    p.end_block();
    p.finish()
}

struct Parser {
    d: Diagnostics,
    cfg: DirectorConfig,
    /// Virtual identity → line, to refuse duplicates.
    /// Virtual identity as 4.12 compares it (numbers as written: `:080` is not `:80`) → line.
    seen: HashMap<(bool, Protocol, Host, String), usize>,
    /// The port (or mark) text of the open block, for that identity.
    block_key_text: String,
    /// The open virtual block, if any (`None` inside it when its `virtual=` line was refused, so
    /// its lines are still consumed as block lines).
    block: Option<Option<Virtual>>,
    timeout_line: Option<(usize, u32)>,
    /// Whether the open block had a `service=` line (else the port decides, in `end_block`).
    explicit_service: bool,
}

/// `name\s*=\s*rest` at the start of `s`: the rest, if `s` is that directive.
fn directive<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(name)?;
    let rest = rest.trim_start_matches(is_blank);
    let rest = rest.strip_prefix('=')?;
    Some(rest.trim_start_matches(is_blank))
}

/// The directive name at the start of a line, for "unknown directive" messages.
fn leading_word(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(s.len());
    &s[..end]
}

/// Perl's `"(.*)"` after the `=`: the text between the first quote and the last one.
fn quoted(v: &str) -> Option<&str> {
    let inner = v.strip_prefix('"')?;
    let end = inner.rfind('"')?;
    Some(&inner[..end])
}

/// Perl's `"(.*)"` or `(.*)`: quotes removed when present.
fn maybe_quoted(v: &str) -> &str {
    quoted(v).unwrap_or(v)
}

/// The first run of ASCII digits (`/(\d+)/`).
fn first_digits(v: &str) -> Option<&str> {
    let start = v.find(|c: char| c.is_ascii_digit())?;
    let rest = &v[start..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A run of digits as a number; `None` when it does not fit.
/// A run of digits as a number, saturating: 4.12 (Perl) accepts any size, and a timeout or a
/// threshold beyond `u32::MAX` means "for ever" either way.
fn digits_value(d: &str) -> Option<u32> {
    Some(exact_value(d).map_or(u32::MAX, |v| u32::try_from(v).unwrap_or(u32::MAX)))
}

/// A run of digits as a number, `None` when it exceeds `u64` (for values that must be exact).
fn exact_value(d: &str) -> Option<u64> {
    let d = d.trim_start_matches('0');
    if d.is_empty() {
        return Some(0);
    }
    if d.len() > 19 {
        return None;
    }
    d.parse().ok()
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first run of `\w` characters (`/(\w+)/`).
fn first_word(v: &str) -> Option<&str> {
    let start = v.find(is_word_char)?;
    let rest = &v[start..];
    let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

fn is_port_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

impl Parser {
    fn line(&mut self, n: usize, raw: &str) {
        if self.block.is_some() {
            if raw.trim_start_matches(is_blank).starts_with('#') {
                return;
            }
            let cut = raw.find('#').map_or(raw, |i| &raw[..i]);
            if let Some(rcmd) = block_command(cut) {
                self.block_line(n, &rcmd);
                return;
            }
            self.end_block();
        }
        self.global_line(n, raw);
    }

    fn global_line(&mut self, n: usize, raw: &str) {
        if let Some(v) = directive(raw, "virtual") {
            self.start_block(n, v, false);
            return;
        }
        if let Some(v) = directive(raw, "virtual6") {
            self.start_block(n, v, true);
            return;
        }
        let trimmed = raw.trim_start_matches(is_blank);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return;
        }
        let g = &mut self.cfg.globals;
        let d = &mut self.d;
        if let Some(v) = directive(raw, "checktimeout") {
            g.checktimeout = positive(d, n, "checktimeout", v);
        } else if directive(raw, "connecttimeout").is_some() {
            d.error(n, "connecttimeout is no longer supported (ldirectord 4.12 refuses it too); use negotiatetimeout");
        } else if let Some(v) = directive(raw, "negotiatetimeout") {
            g.negotiatetimeout = positive(d, n, "negotiatetimeout", v);
        } else if let Some(v) = directive(raw, "checkinterval") {
            if let Some(x) = positive(d, n, "checkinterval", v) {
                g.checkinterval = x;
            }
        } else if let Some(v) = directive(raw, "checkcount") {
            if let Some(x) = positive(d, n, "checkcount", v) {
                g.checkcount = x;
            }
            d.warn(n, "checkcount is deprecated; use failurecount");
        } else if let Some(v) = directive(raw, "failurecount") {
            if let Some(x) = positive(d, n, "failurecount", v) {
                g.failurecount = x;
            }
        } else if let Some(v) = directive(raw, "fallback") {
            g.fallback = parse_fallback(d, n, v, false);
        } else if let Some(v) = directive(raw, "fallback6") {
            g.fallback6 = parse_fallback(d, n, v, true);
        } else if let Some(v) = directive(raw, "fallbackcommand") {
            g.fallbackcommand = non_empty(d, n, "fallbackcommand", v, "a command");
        } else if let Some(v) = directive(raw, "autoreload") {
            g.autoreload = yes_no(d, n, "autoreload", v).unwrap_or(g.autoreload);
        } else if let Some(v) = directive(raw, "callback") {
            match quoted(v) {
                Some(q) => g.callback = Some(q.to_owned()),
                None => d.error(n, format!("callback must be quoted; expected callback=\"/path/to/command\", found {}", quote(v))),
            }
        } else if let Some(v) = directive(raw, "logfile") {
            match quoted(v) {
                Some(q) if q.starts_with('/') => g.logfile = LogTarget::File(q.to_owned()),
                Some(q) => {
                    if !SYSLOG_FACILITIES.contains(&q) {
                        d.warn(n, format!("logfile {} is neither a path (starting with /) nor a syslog facility", quote(q)));
                    }
                    g.logfile = LogTarget::Syslog(q.to_owned());
                }
                None => d.error(
                    n,
                    format!(
                        "logfile must be quoted; expected logfile=\"/var/log/ldirectord.log\" or logfile=\"local0\", found {}",
                        quote(v)
                    ),
                ),
            }
        } else if let Some(v) = directive(raw, "execute") {
            g.execute.push(v.to_owned());
        } else if let Some(v) = directive(raw, "fork") {
            g.fork = yes_no(d, n, "fork", v).unwrap_or(g.fork);
        } else if let Some(after) = raw.strip_prefix("supervised") {
            match directive(raw, "supervised") {
                Some("yes") => g.supervised = true,
                Some("no") => g.supervised = false,
                None if after.chars().all(is_blank) => {
                    g.supervised = true;
                    d.warn(n, "a bare \"supervised\" is deprecated; write supervised=yes");
                }
                _ => d.error(n, format!("supervised must be yes or no; found {}", quote(raw))),
            }
        } else if let Some(v) = directive(raw, "quiescent") {
            g.quiescent = yes_no(d, n, "quiescent", v).unwrap_or(g.quiescent);
        } else if let Some(v) = directive(raw, "readdquiescent") {
            g.readdquiescent = yes_no(d, n, "readdquiescent", v).unwrap_or(g.readdquiescent);
        } else if let Some(v) = directive(raw, "emailalert") {
            g.emailalert = email(d, n, v);
        } else if let Some(v) = directive(raw, "emailalertfreq") {
            if let Some(x) = alert_freq(d, n, v) {
                g.emailalertfreq = x;
            }
        } else if let Some(v) = directive(raw, "emailalertstatus") {
            if let Some(s) = alert_status(d, n, v) {
                g.emailalertstatus = s;
            }
        } else if let Some(v) = directive(raw, "emailalertfrom") {
            g.emailalertfrom = non_empty(d, n, "emailalertfrom", v, "an e-mail address");
        } else if let Some(v) = directive(raw, "cleanstop") {
            g.cleanstop = yes_no(d, n, "cleanstop", v).unwrap_or(g.cleanstop);
        } else if let Some(v) = directive(raw, "smtp") {
            g.smtp = smtp_host(d, n, v);
        } else if let Some(v) = directive(raw, "maintenancedir") {
            g.maintenancedir = non_empty(d, n, "maintenancedir", v, "a directory");
        } else if let Some(v) = directive(raw, "timeout") {
            // ldirectord 4.12 refuses this directive of older releases; we read it as they did.
            match first_digits(v).and_then(digits_value).filter(|&x| x > 0) {
                Some(x) => {
                    d.warn(
                        n,
                        format!("timeout is deprecated (ldirectord 4.12 refuses it); read as checktimeout={x} and negotiatetimeout={x}"),
                    );
                    self.timeout_line = Some((n, x));
                }
                None => d.error(n, format!("invalid timeout; expected a positive number of seconds, found {}", quote(v))),
            }
        } else {
            unknown(d, n, raw, false);
        }
    }

    fn start_block(&mut self, n: usize, value: &str, ipv6: bool) {
        self.explicit_service = false;
        self.block_key_text = virtual_key_text(value);
        let addr = parse_virtual_addr(&mut self.d, n, value, ipv6);
        self.block = Some(addr.map(|(addr, udp)| {
            let protocol = match (&addr, udp) {
                (VirtualAddr::Fwmark(_), _) => Protocol::Fwm,
                (_, true) => Protocol::Udp,
                _ => Protocol::Tcp,
            };
            Virtual::new(n, ipv6, addr, protocol)
        }));
    }

    fn block_line(&mut self, n: usize, rcmd: &str) {
        let Some(Some(v)) = self.block.as_mut() else {
            return;
        };
        let d = &mut self.d;
        let family = if v.ipv6 { "6" } else { "" };
        if let Some(val) = directive(rcmd, "real").map(|x| (x, false)).or_else(|| directive(rcmd, "real6").map(|x| (x, true))) {
            let (val, six) = val;
            if six != v.ipv6 {
                let (got, want) = if six { ("real6", "real") } else { ("real", "real6") };
                d.error(n, format!("{got} is not allowed in a virtual{family} block; use {want}"));
                return;
            }
            parse_real(d, n, val, v);
        } else if let Some(val) = directive(rcmd, "request") {
            match quoted(val) {
                Some("") => d.error(n, "empty request; expected request=\"/path\""),
                Some(q) => v.request = with_slash(q),
                None => unquoted(d, n, "request", val),
            }
        } else if let Some(val) = directive(rcmd, "receive") {
            match quoted(val) {
                Some("") => d.error(n, "empty receive; expected receive=\"text or regex\""),
                Some(q) => v.receive = q.to_owned(),
                None => unquoted(d, n, "receive", val),
            }
        } else if let Some(val) = directive(rcmd, "checktype") {
            if let Some(digits) = first_digits(val) {
                match digits_value(digits) {
                    Some(k) => {
                        if !val.chars().all(|c| c.is_ascii_digit() || is_blank(c)) {
                            d.warn(
                                n,
                                format!(
                                    "checktype {} contains a number, so it means \"combined\": 1 negotiate check then {k} connect checks",
                                    quote(val)
                                ),
                            );
                        }
                        v.checktype = CheckType::Combined(k);
                    }
                    None => d.error(n, format!("checktype number {} is too large", quote(digits))),
                }
            } else {
                let w = val.split(|c: char| !(is_word_char(c) || c == '-')).find(|w| !w.is_empty()).unwrap_or("");
                v.checktype = match w {
                    "connect" => CheckType::Connect,
                    "negotiate" => CheckType::Negotiate,
                    "ping" => CheckType::Ping,
                    "off" => CheckType::Off,
                    "on" => CheckType::On,
                    "external" => CheckType::External,
                    "external-perl" => CheckType::ExternalPerl,
                    _ => {
                        d.error(
                            n,
                            format!(
                                "unknown checktype {}; expected connect, negotiate, on, off, ping, external, external-perl or a number",
                                quote(val)
                            ),
                        );
                        return;
                    }
                };
            }
        } else if let Some(val) = directive(rcmd, "checkcommand") {
            if let Some(c) = non_empty(d, n, "checkcommand", maybe_quoted(val), "a command") {
                v.checkcommand = c;
            }
        } else if let Some(val) = directive(rcmd, "checktimeout") {
            v.checktimeout = positive(d, n, "checktimeout", val);
        } else if directive(rcmd, "connecttimeout").is_some() {
            d.error(n, "connecttimeout is no longer supported (ldirectord 4.12 refuses it too); use negotiatetimeout");
        } else if let Some(val) = directive(rcmd, "negotiatetimeout") {
            v.negotiatetimeout = positive(d, n, "negotiatetimeout", val);
        } else if let Some(val) = directive(rcmd, "checkcount") {
            v.checkcount = positive(d, n, "checkcount", val);
            d.warn(n, "checkcount is deprecated; use failurecount");
        } else if let Some(val) = directive(rcmd, "failurecount") {
            v.failurecount = positive(d, n, "failurecount", val);
        } else if let Some(val) = directive(rcmd, "checkinterval") {
            v.checkinterval = positive(d, n, "checkinterval", val);
        } else if let Some(val) = directive(rcmd, "checkport") {
            match first_digits(val).map(|x| digits_value(x).unwrap_or(u32::MAX)) {
                Some(p) if (1..=65535).contains(&p) => v.checkport = Some(p as u16),
                Some(_) => d.error(n, format!("checkport out of range; expected 1 to 65535, found {}", quote(val))),
                None => d.error(n, format!("invalid checkport; expected a port number, found {}", quote(val))),
            }
        } else if let Some((name, val)) = ["login", "passwd", "database", "secret"].iter().find_map(|k| directive(rcmd, k).map(|x| (*k, x)))
        {
            match quoted(val) {
                Some("") => d.error(n, format!("empty {name}; expected {name}=\"…\"")),
                Some(q) => {
                    let slot = match name {
                        "login" => &mut v.login,
                        "passwd" => &mut v.passwd,
                        "database" => &mut v.database,
                        _ => &mut v.secret,
                    };
                    *slot = Some(q.to_owned());
                }
                None => unquoted(d, n, name, val),
            }
        } else if let Some(val) = directive(rcmd, "load") {
            match quoted(val) {
                Some(q) => match first_word(q) {
                    Some(w) => {
                        v.load = Some(w.to_owned());
                        d.warn(n, "load is read but never used, as in ldirectord 4.12");
                    }
                    None => d.error(n, format!("invalid load; expected load=\"word\", found {}", quote(val))),
                },
                None => unquoted(d, n, "load", val),
            }
        } else if let Some(val) = directive(rcmd, "scheduler") {
            let start = val.find(|c: char| c.is_ascii_lowercase());
            match start {
                Some(s) => {
                    let rest = &val[s..];
                    let w = &rest[..rest.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(rest.len())];
                    if w != val.trim_end_matches(is_blank) {
                        d.warn(n, format!("scheduler {} is read as {}", quote(val), quote(w)));
                    }
                    v.scheduler = w.to_owned();
                }
                None => d.error(n, format!("invalid scheduler; expected lower-case letters such as wrr, wlc, rr, found {}", quote(val))),
            }
        } else if let Some(val) = directive(rcmd, "persistent") {
            match first_digits(val).map(digits_value) {
                Some(Some(p)) => v.persistent = Some(p),
                Some(None) => d.error(n, format!("persistent timeout {} is too large", quote(val))),
                None => d.error(n, format!("invalid persistent timeout; expected seconds, found {}", quote(val))),
            }
        } else if let Some(val) = directive(rcmd, "schedflags") {
            match val.split(is_blank).find(|w| !w.is_empty()) {
                Some(w) => v.schedflags = Some(w.to_owned()),
                None => d.error(n, "empty schedflags; expected flags such as sh-port"),
            }
        } else if let Some(val) = directive(rcmd, "netmask") {
            if v.ipv6 {
                match val.parse::<u8>() {
                    Ok(p) if (1..=128).contains(&p) && val.bytes().all(|b| b.is_ascii_digit()) => v.netmask = Some(val.to_owned()),
                    _ => d.error(n, format!("invalid netmask for virtual6; expected a prefix length from 1 to 128, found {}", quote(val))),
                }
            } else {
                let dotted = val.split('.').count() == 4 && val.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                if dotted {
                    v.netmask = Some(val.to_owned());
                } else {
                    d.error(n, format!("invalid netmask; expected a dotted quad such as 255.255.255.0, found {}", quote(val)));
                }
            }
        } else if let Some(val) = directive(rcmd, "protocol") {
            match (first_word(val), v.protocol) {
                (None, _) => d.error(n, format!("invalid protocol; expected tcp or udp, found {}", quote(val))),
                (Some("fwm"), Protocol::Fwm) => {}
                (Some(_), Protocol::Fwm) => {
                    d.error(n, format!("protocol must be fwm for a firewall-mark virtual service; found {}", quote(val)))
                }
                (Some("tcp"), _) => v.protocol = Protocol::Tcp,
                (Some("udp"), _) => v.protocol = Protocol::Udp,
                (Some(_), _) => {
                    d.error(n, format!("protocol must be tcp or udp for an address:port virtual service; found {}", quote(val)))
                }
            }
        } else if let Some(val) = directive(rcmd, "ops") {
            if let Some(b) = yes_no(d, n, "ops", val) {
                v.ops = b;
            }
        } else if let Some(val) = directive(rcmd, "service") {
            match first_word(val).and_then(Service::from_name) {
                Some(Service::Oracle) => {
                    d.error(
                        n,
                        "service=oracle is not supported by heartbeat-rs (no Oracle client); use checktype=connect or an external check",
                    );
                }
                Some(s) => {
                    v.service = s;
                    self.explicit_service = true;
                }
                None => {
                    let names: Vec<&str> = SERVICES.iter().map(|s| s.0).collect();
                    let hint = first_word(val)
                        .and_then(|w| did_you_mean(w, names.iter().copied()))
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default();
                    d.error(n, format!("unknown service {}{hint}; expected one of {}", quote(val), names.join(", ")));
                }
            }
        } else if let Some(val) = directive(rcmd, "httpmethod") {
            match first_word(val).map(str::to_ascii_uppercase).as_deref() {
                Some("GET") => v.httpmethod = HttpMethod::Get,
                Some("HEAD") => v.httpmethod = HttpMethod::Head,
                _ => d.error(n, format!("httpmethod must be GET or HEAD; found {}", quote(val))),
            }
        } else if let Some(val) = directive(rcmd, "virtualhost") {
            // 4.12 takes `"?([^"]*)"?`: optional quotes, stopping at the first inner quote.
            let s = val.strip_prefix('"').unwrap_or(val);
            let s = &s[..s.find('"').unwrap_or(s.len())];
            v.virtualhost = Some(s.to_owned());
        } else if let Some((val, six)) =
            directive(rcmd, "fallback").map(|x| (x, false)).or_else(|| directive(rcmd, "fallback6").map(|x| (x, true)))
        {
            if six != v.ipv6 {
                let (got, want) = if six { ("fallback6", "fallback") } else { ("fallback", "fallback6") };
                d.error(n, format!("{got} is not allowed in a virtual{family} block; use {want}"));
                return;
            }
            v.fallback = parse_fallback(d, n, val, six);
        } else if let Some(val) = directive(rcmd, "fallbackcommand") {
            v.fallbackcommand = non_empty(d, n, "fallbackcommand", maybe_quoted(val), "a command");
        } else if let Some(val) = directive(rcmd, "quiescent") {
            v.quiescent = yes_no(d, n, "quiescent", val).or(v.quiescent);
        } else if let Some(val) = directive(rcmd, "emailalert") {
            v.emailalert = email(d, n, val);
        } else if let Some(val) = directive(rcmd, "emailalertfreq") {
            v.emailalertfreq = alert_freq(d, n, val).or(v.emailalertfreq);
        } else if let Some(val) = directive(rcmd, "emailalertstatus") {
            v.emailalertstatus = alert_status(d, n, val).or(v.emailalertstatus);
        } else if let Some(val) = directive(rcmd, "monitorfile") {
            // Whether the file can be opened is a fact of the node, checked when the daemon starts.
            match maybe_quoted(val) {
                "" => d.error(n, "empty monitorfile; expected a file path"),
                m => v.monitorfile = Some(m.to_owned()),
            }
        } else if let Some(val) = directive(rcmd, "cleanstop") {
            v.cleanstop = yes_no(d, n, "cleanstop", val).or(v.cleanstop);
        } else if let Some(val) = directive(rcmd, "smtp") {
            v.smtp = smtp_host(d, n, val);
        } else if let Some(val) = directive(rcmd, "servicename") {
            v.servicename = Some(val.to_owned());
        } else if let Some(val) = directive(rcmd, "comment") {
            v.comment = Some(val.to_owned());
        } else {
            unknown(d, n, rcmd, true);
        }
    }

    /// Closes the open block: fills defaults that depend on the whole block, refuses duplicates.
    fn end_block(&mut self) {
        let Some(Some(mut v)) = self.block.take() else {
            return;
        };
        if let VirtualAddr::Addr { port, .. } = &v.addr {
            if !self.explicit_service {
                v.service = match port {
                    Port::Number(p) => Service::for_port(*p),
                    Port::Name(name) => well_known_port(name).map_or(Service::None, Service::for_port),
                };
            }
        }
        let host = match &v.addr {
            VirtualAddr::Addr { host, .. } => host.clone(),
            VirtualAddr::Fwmark(_) => Host::Name(String::new()),
        };
        // A named port compares by its number, a numeric one by its text, as in 4.12.
        let port_text = match &v.addr {
            VirtualAddr::Addr { port: Port::Number(p), .. } if !self.block_key_text.bytes().all(|b| b.is_ascii_digit()) => p.to_string(),
            _ => std::mem::take(&mut self.block_key_text),
        };
        let key = (v.ipv6, v.protocol, host, port_text);
        if let Some(&first) = self.seen.get(&key) {
            self.d.error(v.line, format!("duplicate virtual service {}; the same one starts on line {first}", v.id()));
            return;
        }
        self.seen.insert(key, v.line);
        self.cfg.virtuals.push(v);
    }

    fn finish(mut self) -> Parsed<DirectorConfig> {
        if let Some((_, t)) = self.timeout_line {
            let g = &mut self.cfg.globals;
            g.checktimeout.get_or_insert(t);
            g.negotiatetimeout.get_or_insert(t);
        }
        if !self.cfg.globals.fork {
            for v in &self.cfg.virtuals {
                if v.checkinterval.is_some() {
                    self.d.warn(v.line, format!("checkinterval in virtual service {} is ignored when fork=no", v.id()));
                }
            }
        }
        self.d.finish(self.cfg)
    }
}

/// The text 4.12 keeps in a virtual's identity: the port as written, or the mark's digits.
fn virtual_key_text(value: &str) -> String {
    let after_host = if value.starts_with('[') { value.find(']').map_or("", |i| &value[i + 1..]) } else { value };
    match after_host.find(':') {
        Some(i) if !value.starts_with(|c: char| c.is_ascii_digit()) || value[..i].contains('.') || value.starts_with('[') => {
            let p = &after_host[i + 1..];
            p[..p.find(|c: char| !is_port_char(c)).unwrap_or(p.len())].to_owned()
        }
        _ => value[..value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len())].to_owned(),
    }
}

/// A block line: indented by at least 4 columns (tab = 4). Returns the command without the
/// indentation, or `None` when the line ends the block. Mirrors `/^ {4,}(.+)/` after tabs
/// became 4 spaces, including its backtracking on an all-blank line.
fn block_command(cut: &str) -> Option<Cow<'_, str>> {
    // Indentation in columns, a tab counting 4 (4.12 turns every tab into 4 spaces first).
    let mut columns = 0;
    let mut start = cut.len();
    for (i, b) in cut.bytes().enumerate() {
        match b {
            b' ' => columns += 1,
            b'\t' => columns += 4,
            _ => {
                start = i;
                break;
            }
        }
    }
    if columns < 4 {
        return None;
    }
    let rest = &cut[start..];
    if rest.is_empty() {
        // All blanks: with 5 or more columns, the regex gives back one space as the command.
        return (columns > 4).then_some(Cow::Borrowed(" "));
    }
    // Tabs inside the command become 4 spaces too (it matters inside quoted strings).
    Some(if rest.contains('\t') { Cow::Owned(rest.replace('\t', "    ")) } else { Cow::Borrowed(rest) })
}

fn unknown(d: &mut Diagnostics, n: usize, text: &str, in_block: bool) {
    let word = leading_word(text);
    let (mine, other, place) = if in_block {
        (VIRTUAL_DIRECTIVES, GLOBAL_DIRECTIVES, "in a virtual block")
    } else {
        (GLOBAL_DIRECTIVES, VIRTUAL_DIRECTIVES, "at the top level")
    };
    let shown = quote(text.trim_end_matches(is_blank));
    if !in_block && text.starts_with(is_blank) {
        let inner = text.trim_start_matches(is_blank);
        let w = leading_word(inner);
        let why = if VIRTUAL_DIRECTIVES.contains(&w) {
            "an indented line outside a virtual block (a blank line ends a block)"
        } else {
            "an indented line at the top level (global directives start in column 0)"
        };
        d.error(n, format!("unknown command {shown}: {why}"));
        return;
    }
    if !word.is_empty() && other.contains(&word) && !mine.contains(&word) {
        d.error(n, format!("{word} is not allowed {place}; found {shown}"));
        return;
    }
    if !word.is_empty() && mine.contains(&word) {
        d.error(n, format!("malformed {word} line; expected {word}=VALUE, found {shown}"));
        return;
    }
    let hint = did_you_mean(word, mine.iter().copied()).map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default();
    d.error(n, format!("unknown command {shown}{hint}"));
}

fn unquoted(d: &mut Diagnostics, n: usize, name: &str, val: &str) {
    d.error(n, format!("{name} must be in double quotes; expected {name}=\"…\", found {}", quote(val)));
}

fn with_slash(q: &str) -> String {
    if q.starts_with('/') { q.to_owned() } else { format!("/{q}") }
}

fn positive(d: &mut Diagnostics, n: usize, name: &str, v: &str) -> Option<u32> {
    match first_digits(v).map(digits_value) {
        Some(Some(x)) if x > 0 => Some(x),
        Some(Some(_)) => {
            d.error(n, format!("{name} must be greater than 0; found {}", quote(v)));
            None
        }
        Some(None) => {
            d.error(n, format!("{name} {} is too large", quote(v)));
            None
        }
        None => {
            d.error(n, format!("invalid {name}; expected a positive number, found {}", quote(v)));
            None
        }
    }
}

fn yes_no(d: &mut Diagnostics, n: usize, name: &str, v: &str) -> Option<bool> {
    match v {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            let hint = match v.trim_end_matches(is_blank).split('#').next().map(|s| s.trim_end_matches(is_blank)) {
                Some("yes" | "no") => " (ldirectord allows nothing after the value, not even blanks or a comment)",
                _ => "",
            };
            d.error(n, format!("{name} must be 'yes' or 'no'; found {}{hint}", quote(v)));
            None
        }
    }
}

fn non_empty(d: &mut Diagnostics, n: usize, name: &str, v: &str, what: &str) -> Option<String> {
    if v.is_empty() {
        d.error(n, format!("empty {name}; expected {what}"));
        None
    } else {
        Some(v.to_owned())
    }
}

fn email(d: &mut Diagnostics, n: usize, v: &str) -> Option<String> {
    let addr = match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner,
        _ => v,
    };
    non_empty(d, n, "emailalert", addr, "one or more e-mail addresses")
}

fn alert_freq(d: &mut Diagnostics, n: usize, v: &str) -> Option<u32> {
    // 4.12 matches `emailalertfreq\s*=\s*(\d*)`: digits right after the '='.
    let digits = &v[..v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len())];
    match (digits.is_empty(), digits_value(digits)) {
        (false, Some(x)) => Some(x),
        _ => {
            d.error(n, format!("invalid emailalertfreq; expected a number of seconds, found {}", quote(v)));
            None
        }
    }
}

fn alert_status(d: &mut Diagnostics, n: usize, v: &str) -> Option<AlertStatus> {
    // Perl's `split /\s*,\s*/`: blanks around commas go, blanks at the ends stay, and empty
    // trailing fields are dropped (so "running," is fine but "running " is not).
    let pieces: Vec<&str> = v.split(',').collect();
    let last = pieces.len() - 1;
    let mut items: Vec<&str> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let p = if i > 0 { p.trim_start_matches(is_blank) } else { p };
            if i < last { p.trim_end_matches(is_blank) } else { p }
        })
        .collect();
    while items.last() == Some(&"") {
        items.pop();
    }
    let has_none = items.contains(&"none");
    let mut bits = 0u8;
    for item in &items {
        let b = match *item {
            "none" => continue,
            "all" => AlertStatus::ALL.0,
            "starting" => AlertStatus::STARTING,
            "running" => AlertStatus::RUNNING,
            "stopping" => AlertStatus::STOPPING,
            "reloading" => AlertStatus::RELOADING,
            other => {
                d.error(
                    n,
                    format!(
                        "invalid emailalertstatus {}; expected all, none, starting, running, stopping or reloading, separated by commas",
                        quote(other)
                    ),
                );
                return None;
            }
        };
        if has_none {
            d.error(n, format!("emailalertstatus mixes \"none\" with {}", quote(item)));
            return None;
        }
        bits |= b;
    }
    Some(AlertStatus(bits))
}

fn smtp_host(d: &mut Diagnostics, n: usize, v: &str) -> Option<String> {
    let end = v.find(|c: char| !(is_host_char(c) || c == '_' || c == '+')).unwrap_or(v.len());
    if end == 0 {
        d.error(n, format!("invalid SMTP server; expected a host name or address, found {}", quote(v)));
        return None;
    }
    Some(v[..end].to_owned())
}

/// Syslog facilities a `logfile="facility"` may name.
const SYSLOG_FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user", "uucp", "local0", "local1", "local2",
    "local3", "local4", "local5", "local6", "local7",
];

/// Port names from `/etc/services` that ldirectord files use; others stay names for the daemon
/// to resolve on the node.
pub fn well_known_port(name: &str) -> Option<u16> {
    Some(match name {
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "http" | "www" | "www-http" => 80,
        "pop3" | "pop-3" => 110,
        "nntp" => 119,
        "ntp" => 123,
        "imap" | "imap2" => 143,
        "snmp" => 161,
        "ldap" => 389,
        "https" => 443,
        "submission" => 587,
        "ldaps" => 636,
        "imaps" => 993,
        "pop3s" => 995,
        "ms-sql-s" => 1433,
        "radius" => 1812,
        "squid" | "http-alt" => 8080,
        "mysql" => 3306,
        "sip" => 5060,
        "postgresql" => 5432,
        _ => return None,
    })
}

/// `PORT` after a colon: digits (0..65535) or a service name.
fn parse_port(s: &str) -> Result<Port, String> {
    if s.is_empty() {
        return Err("the port after ':' is empty".to_owned());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match digits_value(s) {
            Some(p) if p <= 65535 => Ok(Port::Number(p as u16)),
            _ => Err(format!("port {} is out of range; expected 0 to 65535", quote(s))),
        };
    }
    Ok(match well_known_port(s) {
        Some(p) => Port::Number(p),
        None => Port::Name(s.to_owned()),
    })
}

/// An address token: IPv4 literal, `[IPv6]`, or a host name. `ipv6` is the block's family.
fn parse_host(s: &str, ipv6: bool) -> Result<Host, String> {
    // Fast path for the common case, a plain IPv4 literal.
    if !ipv6 {
        if let Ok(a) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ip(a.into()));
        }
    }
    let inner = s.strip_prefix('[').and_then(|x| x.strip_suffix(']'));
    if let Some(inner) = inner {
        // 4.12's pattern is `[0-9A-Fa-f:]+`: no dotted (IPv4-mapped) forms.
        if !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(format!("{} is not an IPv6 address ldirectord reads (hex digits and colons only)", quote(s)));
        }
        return match inner.parse::<Ipv6Addr>() {
            Ok(a) if ipv6 => Ok(Host::Ip(a.into())),
            Ok(_) => Err(format!("{} is an IPv6 address in an IPv4 block; use virtual6/real6/fallback6", quote(s))),
            Err(_) => Err(format!("{} is not a valid IPv6 address", quote(s))),
        };
    }
    let looks_v4 = s.split('.').count() == 4 && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if looks_v4 {
        return match inet_aton_quad(s) {
            Some(_) if ipv6 => Err(format!("{} is an IPv4 address in a virtual6 block; expected [IPv6]", quote(s))),
            Some(a) => Ok(Host::Ip(a.into())),
            None => Err(format!("{} is not a valid IPv4 address", quote(s))),
        };
    }
    if s.is_empty() || !s.chars().all(is_host_char) {
        return Err(format!("{} is not an address or host name", quote(s)));
    }
    Ok(Host::Name(s.to_owned()))
}

/// A dotted quad as glibc's resolver reads it: a part with a leading zero is octal
/// (`127.000.000.001` is 127.0.0.1, `010.1.1.1` is 8.1.1.1), as ldirectord sees it.
fn inet_aton_quad(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        let v = if p.len() > 1 && p.starts_with('0') { u32::from_str_radix(&p[1..], 8).ok()? } else { p.parse::<u32>().ok()? };
        *o = u8::try_from(v).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// The value of `virtual=`/`virtual6=`. Returns the address and whether the port makes it UDP
/// (ldirectord defaults port 53 / `domain` to udp).
fn parse_virtual_addr(d: &mut Diagnostics, n: usize, v: &str, ipv6: bool) -> Option<(VirtualAddr, bool)> {
    let kw = if ipv6 { "virtual6" } else { "virtual" };
    // The four forms 4.12 tries in order: a.b.c.d:PORT, host:PORT, a mark, [v6]:PORT.
    let (host_str, rest) = if v.starts_with('[') {
        match v.find(']') {
            Some(i) => (&v[..=i], &v[i + 1..]),
            None => {
                d.error(n, format!("invalid address for {kw}; expected [IPv6]:PORT, found {}", quote(v)));
                return None;
            }
        }
    } else {
        let end = v.find(|c: char| !(is_host_char(c) || c == '_' || c == '+')).unwrap_or(v.len());
        (&v[..end], &v[end..])
    };
    let port_str = rest.strip_prefix(':').map(|r| &r[..r.find(|c: char| !is_port_char(c)).unwrap_or(r.len())]);
    match port_str {
        Some(p) if !p.is_empty() => {
            let trailing = &rest[1 + p.len()..];
            if !trailing.trim_matches(is_blank).is_empty() {
                d.warn(n, format!("ignoring {} after the {kw} address, as ldirectord does", quote(trailing)));
            }
            let host = match parse_host(host_str, ipv6) {
                Ok(h) => h,
                Err(e) => {
                    d.error(n, format!("invalid address for {kw}: {e}"));
                    return None;
                }
            };
            let port = match parse_port(p) {
                Ok(p) => p,
                Err(e) => {
                    d.error(n, format!("invalid port for {kw}: {e}"));
                    return None;
                }
            };
            let udp = p == "53" || p == "domain";
            Some((VirtualAddr::Addr { host, port }, udp))
        }
        _ => {
            // No port: a leading digit run is a firewall mark (`virtual=127.1.0.1` is mark 127).
            let digits = &v[..v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len())];
            if digits.is_empty() {
                d.error(
                    n,
                    format!(
                        "invalid address for {kw}; expected IP:PORT, host:PORT, [IPv6]:PORT (virtual6) or a firewall mark, found {}",
                        quote(v)
                    ),
                );
                return None;
            }
            let Some(mark) = exact_value(digits).and_then(|m| u32::try_from(m).ok()) else {
                d.error(n, format!("firewall mark {} is too large; expected at most 4294967295", quote(digits)));
                return None;
            };
            if digits.len() != v.trim_end_matches(is_blank).len() {
                d.warn(n, format!("{kw}={} has no port, so ldirectord reads it as firewall mark {mark}", quote(v)));
            }
            Some((VirtualAddr::Fwmark(mark), false))
        }
    }
}

/// `real=ADDR[->ADDR2][:PORT] FWD [WEIGHT] ["REQUEST", "RECEIVE"] [l:LOW] [u:HIGH]`.
fn parse_real(d: &mut Diagnostics, n: usize, val: &str, v: &mut Virtual) {
    let kw = if v.ipv6 { "real6" } else { "real" };
    let token_end = val.find(is_blank);
    let Some(token_end) = token_end else {
        d.error(n, format!("invalid {kw}; expected ADDRESS[:PORT] gate|masq|ipip [WEIGHT], found {}", quote(val)));
        return;
    };
    let token = &val[..token_end];
    let flags = val[token_end..].trim_start_matches(is_blank);
    // Split ADDR[->ADDR2][:PORT]; an IPv6 address is bracketed, so its colons are not a port.
    let (addr_part, port) = split_host_port(token);
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.chars().all(is_port_char) => match parse_port(p) {
            Ok(p) => Some(p),
            Err(e) => {
                d.error(n, format!("invalid port for real server: {e}"));
                return;
            }
        },
        Some(p) => {
            d.error(n, format!("invalid port {} for real server; expected a number or a service name", quote(p)));
            return;
        }
    };
    // A range `A->B`; a byte scan, as most lines have none.
    let arrow = addr_part.as_bytes().windows(2).position(|w| w == b"->");
    let (first, last) = match arrow {
        Some(i) => (&addr_part[..i], Some(&addr_part[i + 2..])),
        None => (addr_part, None),
    };
    let host = match parse_host(first, v.ipv6) {
        Ok(h) => h,
        Err(e) => {
            d.error(n, format!("invalid address for real server: {e}"));
            return;
        }
    };
    let range_end = match last {
        None => None,
        Some(_) if v.ipv6 => {
            d.error(n, "address ranges are not supported for IPv6 real servers");
            return;
        }
        Some(b) => match parse_host(b, false) {
            Ok(h) => Some(h),
            Err(e) => {
                d.error(n, format!("invalid end of range for real server: {e}"));
                return;
            }
        },
    };
    if let (Host::Ip(a), Some(Host::Ip(b))) = (&host, &range_end) {
        if a > b {
            d.error(n, format!("invalid range {token}: the first address must not be greater than the last"));
            return;
        }
        if let (IpAddr::V4(a), IpAddr::V4(b)) = (a, b) {
            let count = u64::from(u32::from(*b)) - u64::from(u32::from(*a)) + 1;
            if count > MAX_RANGE {
                d.error(n, format!("range {token} stands for {count} real servers; expected at most {MAX_RANGE}"));
                return;
            }
        }
    }
    // Forwarding method: the first word of the flags.
    let word_end = flags.find(|c: char| !is_word_char(c)).unwrap_or(flags.len());
    let Some(forward) = Forward::from_word(&flags[..word_end]) else {
        d.error(n, format!("forward method must be gate, masq or ipip; found {}", quote(flags)));
        return;
    };
    let mut rest = &flags[word_end..];
    // Weight: the first digit run preceded by blanks, anywhere after the method (4.12's rule).
    let mut weight = 1;
    if let Some((digits, after)) = find_after_space(rest, |s| {
        let e = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        (e > 0).then_some(e)
    }) {
        let skipped = rest[..rest.len() - digits.len() - after.len()].trim_matches(is_blank);
        if !skipped.is_empty() {
            d.warn(n, format!("ignoring {} before the weight, as ldirectord does", quote(skipped)));
        }
        match digits_value(digits) {
            Some(w) if w <= 65535 => weight = w,
            _ => {
                d.error(n, format!("weight {} is out of range; expected 0 to 65535", quote(digits)));
                return;
            }
        }
        rest = after;
    }
    let mut request = None;
    let mut receive = None;
    if let Some((req, rcv, after)) = request_receive(rest) {
        request = Some(with_slash(req));
        receive = Some(rcv.to_owned());
        rest = after;
    }
    let mut lower_threshold = 0;
    let mut upper_threshold = 0;
    for (prefix, slot) in [("l:", &mut lower_threshold), ("u:", &mut upper_threshold)] {
        if let Some((digits, after)) = find_after_space(rest, |s| {
            let s2 = s.strip_prefix(prefix)?;
            let e = s2.find(|c: char| !c.is_ascii_digit()).unwrap_or(s2.len());
            (e > 0).then_some(prefix.len() + e)
        }) {
            match digits_value(&digits[prefix.len()..]) {
                Some(x) => *slot = x,
                None => {
                    d.error(n, format!("threshold {} is too large", quote(digits)));
                    return;
                }
            }
            rest = after;
        }
    }
    if !rest.trim_matches(is_blank).is_empty() {
        d.error(
            n,
            format!(
                "invalid real server line around {}; expected [WEIGHT] [\"REQUEST\", \"RECEIVE\"] [l:LOW] [u:HIGH] after the method",
                quote(rest.trim_matches(is_blank))
            ),
        );
        return;
    }
    v.reals.push(Real { line: n, host, range_end, port, forward, weight, request, receive, lower_threshold, upper_threshold });
}

/// The most addresses one `real=A->B` range may stand for (a /16); a larger one is a typo.
const MAX_RANGE: u64 = 65_536;

/// `HOST[->HOST2][:PORT]` or `[V6]:PORT`: the address part and the port text if any.
fn split_host_port(token: &str) -> (&str, Option<&str>) {
    if token.starts_with('[') {
        if let Some(i) = token.find(']') {
            let rest = &token[i + 1..];
            return (&token[..=i], rest.strip_prefix(':').or(if rest.is_empty() { None } else { Some(rest) }));
        }
    }
    match token.rfind(':') {
        Some(i) => (&token[..i], Some(&token[i + 1..])),
        None => (token, None),
    }
}

/// Perl's `/\s+X(.*)/`: finds the first place where blanks are followed by something `matcher`
/// accepts (it returns its length); gives that text and what follows it.
fn find_after_space(s: &str, matcher: impl Fn(&str) -> Option<usize>) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if is_blank(bytes[i] as char) {
            let mut j = i;
            while j < bytes.len() && is_blank(bytes[j] as char) {
                j += 1;
            }
            if let Some(len) = matcher(&s[j..]) {
                return Some((&s[j..j + len], &s[j + len..]));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    None
}

/// Perl's `/\s+"(.*)"[, ]\s*"(.*)"(.*)/` with greedy backtracking: (request, receive, rest).
fn request_receive(s: &str) -> Option<(&str, &str, &str)> {
    let b = s.as_bytes();
    // Leftmost start: a blank run followed by a quote.
    let mut start = None;
    let mut i = 0;
    while i < b.len() {
        if is_blank(b[i] as char) {
            let mut j = i;
            while j < b.len() && is_blank(b[j] as char) {
                j += 1;
            }
            if j < b.len() && b[j] == b'"' {
                start = Some(j + 1);
                break;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    let start = start?;
    let last_quote = s.rfind('"')?;
    // Greedy first group: the rightmost `"[, ]\s*"` whose second quote is followed by another.
    let quotes: Vec<usize> = s[start..].match_indices('"').map(|(k, _)| start + k).collect();
    for &q in quotes.iter().rev() {
        let after = &s[q + 1..];
        let Some(sep) = after.chars().next().filter(|c| *c == ',' || *c == ' ') else { continue };
        let after_sep = after[sep.len_utf8()..].trim_start_matches(is_blank);
        if !after_sep.starts_with('"') {
            continue;
        }
        let open2 = s.len() - after_sep.len();
        if last_quote > open2 {
            return Some((&s[start..q], &s[open2 + 1..last_quote], &s[last_quote + 1..]));
        }
    }
    None
}

/// Parses `fallback=`/`fallback6=`: `HOST[:PORT] [gate|masq|ipip]`.
fn parse_fallback(d: &mut Diagnostics, n: usize, v: &str, ipv6: bool) -> Option<Fallback> {
    let kw = if ipv6 { "fallback6" } else { "fallback" };
    let words: Vec<&str> = v.split(is_blank).filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        d.warn(n, format!("empty {kw}; no fallback server is used"));
        return None;
    }
    let (target, fwd) = match words.as_slice() {
        [t] => (*t, None),
        [t, f] => (*t, Some(*f)),
        _ => {
            d.error(n, format!("invalid {kw}; expected HOST[:PORT] [gate|masq|ipip], found {}", quote(v)));
            return None;
        }
    };
    let forward = match fwd {
        None => Forward::Gate,
        Some(f) => match Forward::from_word(f) {
            Some(x) => x,
            None => {
                d.error(n, format!("forward method must be gate, masq or ipip; found {}", quote(f)));
                return None;
            }
        },
    };
    let (host_part, port) = split_host_port(target);
    let port = match port {
        None => None,
        Some(p) => match parse_port(p) {
            Ok(p) => Some(p),
            Err(e) => {
                d.error(n, format!("invalid port for {kw}: {e}"));
                return None;
            }
        },
    };
    // The fallback goes straight to the resolver, which also reads `[::ffff:1.2.3.4]`.
    let mapped = host_part.strip_prefix('[').and_then(|x| x.strip_suffix(']')).and_then(|x| x.parse::<Ipv6Addr>().ok());
    let host = match mapped {
        Some(a) if ipv6 => Ok(Host::Ip(a.into())),
        _ => parse_host(host_part, ipv6),
    };
    match host {
        Ok(host) => Some(Fallback { host, port, forward }),
        Err(e) => {
            d.error(n, format!("invalid address for {kw}: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> DirectorConfig {
        parse("l.cf", text.as_bytes()).unwrap_or_else(|e| panic!("{e:#?}")).value
    }

    fn first_error(text: &str) -> String {
        match parse("l.cf", text.as_bytes()) {
            Ok(_) => panic!("accepted: {text:?}"),
            Err(d) => d.into_iter().find(|x| x.is_error()).unwrap().to_string(),
        }
    }

    #[test]
    fn a_typical_file() {
        let c = ok("checktimeout=3\ncheckinterval=5s\nquiescent=yes\n\
                    virtual=10.0.0.1:80\n\treal=10.0.1.1:80 gate 3\n    real=10.0.1.2->10.0.1.4:8080 masq\n\
                    \t# comment\n\tservice=http\n\trequest=\"health\"\n\treceive=\"OK\"\n\tscheduler=wlc\n\tpersistent=600\n");
        assert_eq!(c.globals.checktimeout, Some(3));
        assert_eq!(c.globals.checkinterval, 5);
        assert!(c.globals.quiescent);
        let v = &c.virtuals[0];
        assert_eq!(v.addr, VirtualAddr::Addr { host: Host::Ip("10.0.0.1".parse().unwrap()), port: Port::Number(80) });
        assert_eq!((v.service, v.request.as_str(), v.receive.as_str()), (Service::Http, "/health", "OK"));
        assert_eq!((v.scheduler.as_str(), v.persistent), ("wlc", Some(600)));
        assert_eq!(v.reals.len(), 2);
        assert_eq!((v.reals[0].weight, v.reals[0].forward), (3, Forward::Gate));
        assert_eq!(v.reals[1].addresses().len(), 3);
        assert_eq!(v.effective_negotiatetimeout(&c.globals), 3);
    }

    #[test]
    fn defaults_come_from_the_port() {
        let c = ok(
            "virtual=1.2.3.4:443\n\treal=5.6.7.8:443 gate\nvirtual=1.2.3.4:8080\n\treal=5.6.7.8 gate\nvirtual=1.2.3.4:53\n\treal=5.6.7.8 gate\nvirtual=7\n\treal=5.6.7.8 gate\n",
        );
        let s: Vec<_> = c.virtuals.iter().map(|v| (v.service, v.protocol)).collect();
        assert_eq!(
            s,
            vec![
                (Service::Https, Protocol::Tcp),
                (Service::None, Protocol::Tcp),
                (Service::Dns, Protocol::Udp),
                (Service::None, Protocol::Fwm)
            ]
        );
        assert_eq!(c.virtuals[0].scheduler, "wrr");
        assert!(!c.globals.quiescent);
    }

    #[test]
    fn block_rules_of_4_12() {
        // A blank line ends the block: the next indented line is an error at its own line.
        assert!(first_error("virtual=1.2.3.4:80\n\treal=5.6.7.8:80 gate\n\n\tservice=http\n").starts_with("l.cf:4: unknown command"));
        // Three spaces are not enough indentation.
        assert!(first_error("virtual=1.2.3.4:80\n   real=5.6.7.8:80 gate\n").starts_with("l.cf:2:"));
        // Comment lines at any indentation do not end a block.
        assert_eq!(ok("virtual=1.2.3.4:80\n# c\n\treal=5.6.7.8:80 gate\n").virtuals[0].reals.len(), 1);
        // Values are not trimmed: a comment after a yes/no value is refused, as in 4.12.
        assert!(first_error("quiescent=yes # c\n").contains("quiescent must be 'yes' or 'no'"));
        assert!(first_error("virtual=1.2.3.4:80\n\tquiescent=yes # c\n").starts_with("l.cf:2:"));
        // CRLF files are read (a deliberate difference).
        assert!(ok("quiescent=yes\r\nvirtual=1.2.3.4:80\r\n\treal=5.6.7.8:80 gate\r\n").globals.quiescent);
    }

    #[test]
    fn real_line_quirks() {
        let c = ok("virtual=1.2.3.4:80\n\treal=5.6.7.8:80 gate 5 \"/x\", \"OK 200\" l:2 u:9\n\treal=5.6.7.9:80 masq foo 7\n");
        let r = &c.virtuals[0].reals;
        assert_eq!((r[0].weight, r[0].request.as_deref(), r[0].receive.as_deref()), (5, Some("/x"), Some("OK 200")));
        assert_eq!((r[0].lower_threshold, r[0].upper_threshold), (2, 9));
        assert_eq!(r[1].weight, 7);
        // Without a weight, the digits of the receive string are taken as one (4.12's rule).
        assert!(first_error("virtual=1.2.3.4:80\n\treal=5.6.7.8:80 gate \"/x\", \"HTTP 200\"\n").contains("invalid real server line"));
        assert!(first_error("virtual=1.2.3.4:80\n\treal=5.6.7.8:80\n").contains("invalid real"));
        assert!(first_error("virtual=1.2.3.4:80\n\treal=5.6.7.8:80 route\n").contains("forward method"));
        assert!(first_error("virtual=1.2.3.4:80\n\treal6=[::1]:80 gate\n").contains("real6 is not allowed"));
        assert!(first_error("virtual=1.2.3.4:80\n\treal=1.2.3.9->1.2.3.1 gate\n").contains("invalid range"));
    }

    #[test]
    fn virtual_forms() {
        let c = ok("virtual=web.example.com:http\nvirtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2]:80 gate\nvirtual=127.1.0.1\n");
        assert_eq!(c.virtuals[0].addr, VirtualAddr::Addr { host: Host::Name("web.example.com".into()), port: Port::Number(80) });
        assert!(c.virtuals[1].ipv6);
        assert_eq!(c.virtuals[2].addr, VirtualAddr::Fwmark(127));
        assert!(first_error("virtual=[::1]:80\n").contains("virtual6"));
        assert!(first_error("virtual=1.2.3.4:80\nvirtual=1.2.3.4:80\n").starts_with("l.cf:2: duplicate virtual service tcp:1.2.3.4:80"));
    }

    #[test]
    fn directive_values() {
        assert!(first_error("virtual=1.2.3.4:80\n\tservice=pingpong_master\n").starts_with("l.cf:2: unknown service"));
        assert!(first_error("virtual=1.2.3.4:80\n\tservice=oracle\n").contains("not supported"));
        assert!(first_error("checkinterval=0\n").contains("greater than 0"));
        assert!(first_error("logfile=/var/log/x\n").contains("must be quoted"));
        assert!(first_error("virtual=7\n\tprotocol=udp\n").contains("fwm"));
        assert!(first_error("virtual=1.2.3.4:80\n\tnetmask=24\n").contains("dotted quad"));
        assert!(first_error("[vip]\n").starts_with("l.cf:1: unknown command \"[vip]\""));
        assert!(first_error("  checktimeout=3\n").contains("indented"));
        assert!(first_error("chektimeout=3\n").contains("did you mean \"checktimeout\""));
        let c = ok("timeout=4\nemailalertstatus=starting, running\nsupervised\n");
        assert_eq!((c.globals.checktimeout, c.globals.negotiatetimeout), (Some(4), Some(4)));
        assert_eq!(c.globals.emailalertstatus, AlertStatus(AlertStatus::STARTING | AlertStatus::RUNNING));
        assert!(c.globals.supervised);
    }

    #[test]
    fn every_error_is_reported_in_file_order() {
        let errs = parse("l.cf", b"bogus=1\nquiescent=maybe\nvirtual=1.2.3.4:80\n\tservice=x\n").unwrap_err();
        let lines: Vec<_> = errs.iter().filter(|d| d.is_error()).map(|d| d.line).collect();
        assert_eq!(lines, vec![Some(1), Some(2), Some(4)]);
    }
}
