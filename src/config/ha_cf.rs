//! `ha.cf` → [`HaCf`], read as Heartbeat 3.0.6 reads it. Pure: interfaces, hosts and users are
//! facts of the node, checked by the daemon, not here.
//!
//! Grammar: `#` starts a comment anywhere on a line; blank lines are skipped; a line is a
//! directive name and whitespace-separated values. Most directives take each value in turn (so
//! `node a b` declares two nodes); `apiauth`, `respawn`, `stonith`, `stonith_host` and the media
//! take the rest of the line as a whole. An unknown directive is an error, as in Heartbeat.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::diag::{Diagnostics, Parsed, did_you_mean, quote};
use super::source::{decode, lines, strip_hash_comment, words};

/// A heartbeat path to the other nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medium {
    /// `bcast IFACE` (also the historical `udp IFACE`); one per interface. `port` is the
    /// `udpport` in force when the line was read, as Heartbeat binds it then.
    Bcast { iface: String, port: u16 },
    /// `mcast IFACE GROUP PORT TTL LOOP`.
    Mcast { iface: String, group: Ipv4Addr, port: u16, ttl: u8, looped: bool },
    /// `mcast6 IFACE GROUP PORT HOPS LOOP`.
    Mcast6 { iface: String, group: Ipv6Addr, port: u16, hops: u8, looped: bool },
    /// `ucast IFACE PEER` / `ucast6 IFACE PEER`; the peer may be a host name.
    Ucast { iface: String, peer: String, v6: bool, port: u16 },
    /// `serial DEVICE`; one per device.
    Serial { device: String },
}

/// One `ping HOST` or `ping6 HOST` pseudo-node, or a `ping_group NAME HOST…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingNode {
    pub name: String,
    pub hosts: Vec<String>,
    pub v6: bool,
    pub group: bool,
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoFailback {
    On,
    Off,
    Legacy,
}

/// `crm`/`pacemaker`: the CRM world, which heartbeat-rs does not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crm {
    Off,
    On,
    Respawn,
    Minimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoJoin {
    None,
    Other,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgFmt {
    Classic,
    Netstring,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UuidFrom {
    File,
    Nodename,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenMethod {
    File,
    Time,
}

/// A `node` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Lower-cased, as Heartbeat compares names.
    pub name: String,
    pub line: usize,
}

/// A directive with its values as written, for `hbparameter`-style queries and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDirective {
    pub name: String,
    pub value: String,
    pub line: usize,
}

/// A parsed ha.cf. Field names are Heartbeat's directive names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaCf {
    pub nodes: Vec<Node>,
    pub media: Vec<Medium>,
    pub ping: Vec<PingNode>,
    pub keepalive: Duration,
    pub deadtime: Duration,
    pub warntime: Duration,
    pub initdead: Duration,
    pub deadping: Duration,
    pub udpport: u16,
    pub baud: u32,
    pub auto_failback: AutoFailback,
    pub logfile: Option<String>,
    pub debugfile: Option<String>,
    /// `None` when `logfacility none` or unset (no syslog).
    pub logfacility: Option<String>,
    pub use_logd: bool,
    pub conn_logd_time: Duration,
    pub debug: u32,
    pub crm: Crm,
    pub apiauth: Vec<RawDirective>,
    pub respawn: Vec<RawDirective>,
    pub stonith: Vec<RawDirective>,
    pub autojoin: AutoJoin,
    pub realtime: bool,
    pub rtprio: Option<u32>,
    pub hopfudge: u32,
    pub coredumps: bool,
    pub coreroot: Option<String>,
    pub watchdog: Option<String>,
    pub max_rexmit_delay: Duration,
    pub memreserve: u32,
    pub compression: Option<String>,
    pub compression_threshold: u32,
    pub traditional_compression: bool,
    pub msgfmt: MsgFmt,
    pub uuidfrom: UuidFrom,
    pub hbgenmethod: GenMethod,
    pub env: Vec<(String, String)>,
    /// Every directive as written, in file order.
    pub directives: Vec<RawDirective>,
}

impl Default for HaCf {
    fn default() -> Self {
        HaCf {
            nodes: Vec::new(),
            media: Vec::new(),
            ping: Vec::new(),
            keepalive: Duration::from_secs(1),
            deadtime: Duration::from_secs(30),
            warntime: Duration::ZERO,
            initdead: Duration::ZERO,
            deadping: Duration::ZERO,
            udpport: 694,
            baud: 19200,
            auto_failback: AutoFailback::Legacy,
            logfile: None,
            debugfile: None,
            logfacility: None,
            use_logd: false,
            conn_logd_time: Duration::from_secs(60),
            debug: 0,
            crm: Crm::Off,
            apiauth: Vec::new(),
            respawn: Vec::new(),
            stonith: Vec::new(),
            autojoin: AutoJoin::None,
            realtime: true,
            rtprio: None,
            hopfudge: 1,
            coredumps: true,
            coreroot: None,
            watchdog: None,
            max_rexmit_delay: Duration::from_millis(250),
            memreserve: 6500,
            compression: None,
            compression_threshold: 2,
            traditional_compression: true,
            msgfmt: MsgFmt::Classic,
            uuidfrom: UuidFrom::File,
            hbgenmethod: GenMethod::File,
            env: Vec::new(),
            directives: Vec::new(),
        }
    }
}

/// How a directive consumes its values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    /// Each whitespace-separated value is applied in turn (Heartbeat's loop).
    EachValue,
    /// The rest of the line is one value.
    WholeLine,
}

/// Every directive Heartbeat 3.0.6 accepts in v1 mode, with how it takes values.
const DIRECTIVES: &[(&str, Arity)] = &[
    ("node", Arity::EachValue),
    ("hopfudge", Arity::EachValue),
    ("keepalive", Arity::EachValue),
    ("deadtime", Arity::EachValue),
    ("deadping", Arity::EachValue),
    ("warntime", Arity::EachValue),
    ("initdead", Arity::EachValue),
    ("watchdog", Arity::EachValue),
    ("baud", Arity::EachValue),
    ("udpport", Arity::EachValue),
    ("logfacility", Arity::EachValue),
    ("logfile", Arity::EachValue),
    ("debugfile", Arity::EachValue),
    ("nice_failback", Arity::EachValue),
    ("auto_failback", Arity::EachValue),
    ("rtprio", Arity::EachValue),
    ("hbgenmethod", Arity::EachValue),
    ("realtime", Arity::EachValue),
    ("debug", Arity::EachValue),
    ("normalpoll", Arity::EachValue),
    ("msgfmt", Arity::EachValue),
    ("use_logd", Arity::EachValue),
    ("conn_logd_time", Arity::EachValue),
    ("log_badpack", Arity::EachValue),
    ("syslogmsgfmt", Arity::EachValue),
    ("use_apphbd", Arity::EachValue),
    ("coredumps", Arity::EachValue),
    ("coreroot", Arity::EachValue),
    ("crm", Arity::EachValue),
    ("pacemaker", Arity::EachValue),
    ("autojoin", Arity::EachValue),
    ("uuidfrom", Arity::EachValue),
    ("env", Arity::EachValue),
    ("max_rexmit_delay", Arity::EachValue),
    ("record_config_changes", Arity::EachValue),
    ("record_pengine_inputs", Arity::EachValue),
    ("enable_config_writes", Arity::EachValue),
    ("memreserve", Arity::EachValue),
    ("quorum_server", Arity::EachValue),
    ("compression", Arity::EachValue),
    ("compression_threshold", Arity::EachValue),
    ("traditional_compression", Arity::EachValue),
    ("weight", Arity::WholeLine),
    ("site", Arity::WholeLine),
    ("apiauth", Arity::WholeLine),
    ("respawn", Arity::WholeLine),
    ("stonith", Arity::WholeLine),
    ("stonith_host", Arity::WholeLine),
    // Media and ping nodes (Heartbeat's HBcomm plugins).
    ("bcast", Arity::EachValue),
    ("udp", Arity::EachValue),
    ("mcast", Arity::WholeLine),
    ("mcast6", Arity::WholeLine),
    ("ucast", Arity::WholeLine),
    ("ucast6", Arity::WholeLine),
    ("serial", Arity::EachValue),
    ("ping", Arity::EachValue),
    ("ping6", Arity::EachValue),
    ("ping_group", Arity::WholeLine),
];

/// Directives that only make sense once; a repeat replaces the earlier value (with a warning).
const SINGLE: &[&str] = &[
    "hopfudge",
    "keepalive",
    "deadtime",
    "deadping",
    "warntime",
    "initdead",
    "watchdog",
    "baud",
    "udpport",
    "logfacility",
    "logfile",
    "debugfile",
    "nice_failback",
    "auto_failback",
    "rtprio",
    "hbgenmethod",
    "realtime",
    "debug",
    "msgfmt",
    "use_logd",
    "crm",
    "pacemaker",
    "autojoin",
    "uuidfrom",
    "max_rexmit_delay",
    "memreserve",
    "compression",
    "compression_threshold",
    "traditional_compression",
];

/// Syslog facility names Heartbeat accepts, plus `none` (no syslog).
const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "local0", "local1", "local2",
    "local3", "local4", "local5", "local6", "local7", "none",
];

/// Serial speeds Heartbeat accepts for `baud`.
const BAUD_RATES: &[u32] = &[9600, 19200, 38400, 57600, 115200, 230400, 460800];

/// Directives of the CRM (Pacemaker) world: parsed, never run by heartbeat-rs.
pub const CRM_DIRECTIVES: &[&str] =
    &["record_config_changes", "record_pengine_inputs", "enable_config_writes", "quorum_server", "weight", "site"];

/// Parses an ha.cf file.
pub fn parse(file: &str, bytes: &[u8]) -> Parsed<HaCf> {
    let mut d = Diagnostics::new(file);
    let text = decode(bytes);
    let mut cf = HaCf::default();
    let mut set: HashMap<&'static str, usize> = HashMap::new();
    let mut times = Times::default();
    let mut first_medium_line = None;
    let mut failback_line = None;
    let mut nice_failback: Option<(bool, usize)> = None;
    for (n, raw) in lines(&text) {
        let content = strip_hash_comment(raw);
        let mut w = words(content);
        let Some(name) = w.next() else { continue };
        let Some(&(key, arity)) = DIRECTIVES.iter().find(|(k, _)| *k == name) else {
            unknown_directive(&mut d, n, name);
            continue;
        };
        let rest = content.trim_start_matches(super::source::is_blank)[name.len()..].trim_matches(super::source::is_blank);
        cf.directives.push(RawDirective { name: key.to_owned(), value: rest.to_owned(), line: n });
        if rest.is_empty() {
            d.error(n, format!("{key} needs a value; found nothing after it"));
            continue;
        }
        if SINGLE.contains(&key) {
            if let Some(prev) = set.insert(key, n) {
                d.warn(n, format!("{key} is set again; this replaces line {prev}"));
            }
        }
        if key == "udpport" {
            if let Some(m) = first_medium_line {
                d.warn(n, format!("udpport comes after the medium on line {m}; Heartbeat requires it to precede media statements, so that medium keeps the port in force before this line"));
            }
        }
        let values: Vec<&str> = match arity {
            Arity::EachValue => w.collect(),
            Arity::WholeLine => vec![rest],
        };
        for value in values {
            apply(&mut cf, &mut d, &mut times, n, key, value);
        }
        match key {
            "bcast" | "udp" | "mcast" | "mcast6" | "ucast" | "ucast6" | "serial" => {
                first_medium_line.get_or_insert(n);
            }
            "auto_failback" => failback_line = Some(n),
            "nice_failback" => {
                if let Some(b) = bool_value(rest.split(super::source::is_blank).next().unwrap_or_default()) {
                    nice_failback = Some((b, n));
                }
            }
            _ => {}
        }
    }
    if let Some((nice, n)) = nice_failback {
        match failback_line {
            Some(f) => d.warn(n, format!("nice_failback is ignored: auto_failback (line {f}) decides; remove nice_failback")),
            None => {
                d.warn(n, format!("nice_failback is deprecated; read as auto_failback {}", if nice { "off" } else { "on" }));
                cf.auto_failback = if nice { AutoFailback::Off } else { AutoFailback::On };
            }
        }
    }
    check_whole_file(&mut cf, &mut d, &times);
    d.finish(cf)
}

/// Lines where timing directives were set, for the cross-checks.
#[derive(Default)]
struct Times {
    warntime: Option<usize>,
    initdead: Option<usize>,
    deadping: Option<usize>,
    deadtime: Option<usize>,
}

fn apply(cf: &mut HaCf, d: &mut Diagnostics, t: &mut Times, n: usize, key: &str, v: &str) {
    match key {
        "node" => {
            let name = v.to_ascii_lowercase();
            if cf.nodes.iter().any(|x| x.name == name) {
                d.warn(n, format!("node {} is declared twice", quote(v)));
            } else {
                cf.nodes.push(Node { name, line: n });
            }
        }
        "keepalive" => set_time(d, n, key, v, &mut cf.keepalive),
        "deadtime" => {
            set_time(d, n, key, v, &mut cf.deadtime);
            t.deadtime = Some(n);
        }
        "warntime" => {
            set_time(d, n, key, v, &mut cf.warntime);
            t.warntime = Some(n);
        }
        "initdead" => {
            set_time(d, n, key, v, &mut cf.initdead);
            t.initdead = Some(n);
        }
        "deadping" => {
            set_time(d, n, key, v, &mut cf.deadping);
            t.deadping = Some(n);
        }
        "max_rexmit_delay" => {
            // Heartbeat reads this one as milliseconds when no unit is given.
            let v2 = if v.bytes().all(|b| b.is_ascii_digit()) { format!("{v}ms") } else { v.to_owned() };
            set_time(d, n, key, &v2, &mut cf.max_rexmit_delay);
        }
        "conn_logd_time" => set_time(d, n, key, v, &mut cf.conn_logd_time),
        "hopfudge" => set_uint(d, n, key, v, 0, 255, &mut cf.hopfudge),
        "debug" => set_uint(d, n, key, v, 0, 255, &mut cf.debug),
        "memreserve" => set_uint(d, n, key, v, 0, u32::MAX, &mut cf.memreserve),
        "compression_threshold" => set_uint(d, n, key, v, 0, u32::MAX, &mut cf.compression_threshold),
        "rtprio" => {
            let mut p = 0;
            set_uint(d, n, key, v, 1, 99, &mut p);
            cf.rtprio = Some(p);
        }
        "udpport" => match v.parse::<u16>() {
            Ok(p) if p > 0 && v.bytes().all(|b| b.is_ascii_digit()) => cf.udpport = p,
            _ => d.error(n, format!("bad udpport {}; expected a port number from 1 to 65535", quote(v))),
        },
        "baud" => match v.parse::<u32>() {
            Ok(b) if BAUD_RATES.contains(&b) => cf.baud = b,
            _ => d.error(
                n,
                format!(
                    "bad baud rate {}; expected one of {}",
                    quote(v),
                    BAUD_RATES.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ),
            ),
        },
        "logfacility" => {
            if FACILITIES.contains(&v) {
                cf.logfacility = (v != "none").then(|| v.to_owned());
            } else {
                let hint = did_you_mean(v, FACILITIES.iter().copied()).map(|s| format!(" (did you mean \"{s}\"?)")).unwrap_or_default();
                d.error(n, format!("log facility {} is not valid{hint}; expected one of {}", quote(v), FACILITIES.join(", ")));
            }
        }
        "logfile" => cf.logfile = Some(v.to_owned()),
        "debugfile" => cf.debugfile = Some(v.to_owned()),
        "coreroot" => cf.coreroot = Some(v.to_owned()),
        "watchdog" => cf.watchdog = Some(v.to_owned()),
        "compression" => cf.compression = Some(v.to_owned()),
        "auto_failback" => match v.to_ascii_lowercase().as_str() {
            "legacy" => cf.auto_failback = AutoFailback::Legacy,
            other => match bool_value(other) {
                Some(true) => cf.auto_failback = AutoFailback::On,
                Some(false) => cf.auto_failback = AutoFailback::Off,
                None => d.error(n, format!("bad auto_failback {}; expected on, off or legacy", quote(v))),
            },
        },
        "crm" | "pacemaker" => match v.to_ascii_lowercase().as_str() {
            "respawn" => cf.crm = Crm::Respawn,
            "minimal" => cf.crm = Crm::Minimal,
            other => match bool_value(other) {
                Some(true) => cf.crm = Crm::On,
                Some(false) => cf.crm = Crm::Off,
                None => d.error(n, format!("bad {key} {}; expected on, off, respawn or minimal", quote(v))),
            },
        },
        "autojoin" => match v.to_ascii_lowercase().as_str() {
            "none" => cf.autojoin = AutoJoin::None,
            "other" => cf.autojoin = AutoJoin::Other,
            "any" => cf.autojoin = AutoJoin::Any,
            _ => d.error(n, format!("bad autojoin {}; expected none, other or any", quote(v))),
        },
        "msgfmt" => match v {
            "classic" => cf.msgfmt = MsgFmt::Classic,
            "netstring" => cf.msgfmt = MsgFmt::Netstring,
            _ => d.error(n, format!("bad msgfmt {}; expected classic or netstring", quote(v))),
        },
        "uuidfrom" => match v {
            "file" => cf.uuidfrom = UuidFrom::File,
            "nodename" => cf.uuidfrom = UuidFrom::Nodename,
            _ => d.error(n, format!("bad uuidfrom {}; expected file or nodename", quote(v))),
        },
        "hbgenmethod" => match v {
            "file" => cf.hbgenmethod = GenMethod::File,
            "time" => cf.hbgenmethod = GenMethod::Time,
            _ => d.error(n, format!("bad hbgenmethod {}; expected file or time", quote(v))),
        },
        "realtime" => set_bool(d, n, key, v, &mut cf.realtime),
        "use_logd" => set_bool(d, n, key, v, &mut cf.use_logd),
        "coredumps" => set_bool(d, n, key, v, &mut cf.coredumps),
        "traditional_compression" => set_bool(d, n, key, v, &mut cf.traditional_compression),
        "nice_failback"
        | "normalpoll"
        | "log_badpack"
        | "use_apphbd"
        | "record_config_changes"
        | "record_pengine_inputs"
        | "enable_config_writes"
        | "syslogmsgfmt" => {
            let mut ignored = false;
            set_bool(d, n, key, v, &mut ignored);
        }
        "env" => match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => cf.env.push((k.to_owned(), val.to_owned())),
            _ => d.error(n, format!("bad env {}; expected NAME=value", quote(v))),
        },
        "quorum_server" => {}
        "weight" | "site" if words(v).count() != 2 => {
            d.error(n, format!("bad {key} {}; expected \"{key} NODE VALUE\"", quote(v)));
        }
        "apiauth" => {
            let mut parts = words(v);
            let _client = parts.next();
            if parts.next().is_none() {
                d.error(n, format!("apiauth {} names no uid= or gid=; expected \"apiauth CLIENT uid=USER[,USER] gid=GROUP\"", quote(v)));
            }
            for p in words(v).skip(1) {
                if !(p.starts_with("uid=") || p.starts_with("gid=")) {
                    d.error(n, format!("bad apiauth field {}; expected uid=… or gid=…", quote(p)));
                }
            }
            cf.apiauth.push(RawDirective { name: key.into(), value: v.into(), line: n });
        }
        "respawn" => {
            if words(v).count() < 2 {
                d.error(n, format!("respawn {} has no command; expected \"respawn USER /path/to/program [args]\"", quote(v)));
            } else {
                cf.respawn.push(RawDirective { name: key.into(), value: v.into(), line: n });
            }
        }
        "stonith" | "stonith_host" => {
            let min = if key == "stonith" { 2 } else { 3 };
            if words(v).count() < min {
                let form = if key == "stonith" { "stonith TYPE CONFIG-FILE" } else { "stonith_host HOST TYPE PARAMS…" };
                d.error(n, format!("{key} {} is incomplete; expected \"{form}\"", quote(v)));
            } else {
                cf.stonith.push(RawDirective { name: key.into(), value: v.into(), line: n });
            }
        }
        "bcast" | "udp" => cf.media.push(Medium::Bcast { iface: v.to_owned(), port: cf.udpport }),
        "serial" => cf.media.push(Medium::Serial { device: v.to_owned() }),
        "ucast" | "ucast6" => {
            let parts: Vec<&str> = words(v).collect();
            let v6 = key == "ucast6";
            match parts.as_slice() {
                [iface, peer] => {
                    let lit_ok = if v6 { peer.parse::<Ipv6Addr>().is_ok() } else { peer.parse::<Ipv4Addr>().is_ok() };
                    if !lit_ok && peer.parse::<IpAddr>().is_ok() {
                        d.error(n, format!("{key} peer {} is of the wrong address family", quote(peer)));
                    } else {
                        cf.media.push(Medium::Ucast { iface: (*iface).to_owned(), peer: (*peer).to_owned(), v6, port: cf.udpport });
                    }
                }
                _ => d.error(n, format!("bad {key} {}; expected \"{key} INTERFACE PEER-ADDRESS\"", quote(v))),
            }
        }
        "mcast" | "mcast6" => parse_mcast(cf, d, n, key, v),
        "ping" | "ping6" => {
            cf.ping.push(PingNode { name: v.to_owned(), hosts: vec![v.to_owned()], v6: key == "ping6", group: false, line: n })
        }
        "ping_group" => {
            let mut parts = words(v);
            let name = parts.next().unwrap_or_default().to_owned();
            let hosts: Vec<String> = parts.map(str::to_owned).collect();
            if hosts.is_empty() {
                d.error(n, format!("ping_group {} has no hosts; expected \"ping_group NAME HOST…\"", quote(&name)));
            } else {
                cf.ping.push(PingNode { name, hosts, v6: false, group: true, line: n });
            }
        }
        _ => {}
    }
}

fn parse_mcast(cf: &mut HaCf, d: &mut Diagnostics, n: usize, key: &str, v: &str) {
    let parts: Vec<&str> = words(v).collect();
    let form = format!(
        "expected \"{key} INTERFACE GROUP PORT TTL LOOP\" (e.g. {key} eth0 {} 694 1 0)",
        if key == "mcast" { "239.0.0.1" } else { "ff12::1" }
    );
    let [iface, group, port, ttl, lp] = parts.as_slice() else {
        d.error(n, format!("bad {key} {}; {form}", quote(v)));
        return;
    };
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => return d.error(n, format!("bad {key} port {}; {form}", quote(port))),
    };
    let Ok(ttl) = ttl.parse::<u8>() else {
        return d.error(n, format!("bad {key} ttl {}; expected 0 to 255", quote(ttl)));
    };
    let looped = match *lp {
        "0" => false,
        "1" => true,
        _ => return d.error(n, format!("bad {key} loop {}; expected 0 or 1", quote(lp))),
    };
    let iface = (*iface).to_owned();
    if key == "mcast" {
        match group.parse::<Ipv4Addr>() {
            Ok(g) if g.is_multicast() => cf.media.push(Medium::Mcast { iface, group: g, port, ttl, looped }),
            _ => d.error(n, format!("mcast group {} is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)", quote(group))),
        }
    } else {
        match group.parse::<Ipv6Addr>() {
            Ok(g) if g.is_multicast() => cf.media.push(Medium::Mcast6 { iface, group: g, port, hops: ttl, looped }),
            _ => d.error(n, format!("mcast6 group {} is not an IPv6 multicast address (ff00::/8)", quote(group))),
        }
    }
}

/// The checks Heartbeat makes once the whole file is read.
fn check_whole_file(cf: &mut HaCf, d: &mut Diagnostics, t: &Times) {
    if cf.media.is_empty() {
        d.error(None, "no heartbeat media defined; expected at least one bcast, mcast, ucast or serial line");
    }
    if cf.nodes.is_empty() {
        if cf.autojoin == AutoJoin::None {
            d.error(None, "no node defined; expected a \"node NAME\" line for each cluster member");
        } else {
            d.warn(None, "no node lines; with autojoin, nodes must still be known before they can hold resources");
        }
    }
    let ka = cf.keepalive;
    if ka.is_zero() {
        d.error(None, "keepalive must be greater than 0");
        return;
    }
    if cf.deadtime <= ka * 2 {
        d.error(t.deadtime, format!("deadtime ({}) must be more than twice keepalive ({})", show(cf.deadtime), show(ka)));
    }
    if cf.warntime.is_zero() {
        cf.warntime = cf.deadtime / 2;
    } else if cf.warntime <= ka {
        d.error(t.warntime, format!("warntime ({}) must be greater than keepalive ({})", show(cf.warntime), show(ka)));
    } else if cf.warntime >= cf.deadtime {
        d.warn(
            t.warntime,
            format!("warntime ({}) is not below deadtime ({}); late heartbeats will not be reported", show(cf.warntime), show(cf.deadtime)),
        );
    }
    if cf.initdead.is_zero() {
        // Heartbeat's default: deadtime when that is over 10 s, else twice it, at least 12 s.
        let secs10 = Duration::from_secs(10);
        cf.initdead = if cf.deadtime > secs10 { cf.deadtime } else { (cf.deadtime * 2).max(Duration::from_secs(12)) };
    } else if cf.initdead < cf.deadtime {
        d.error(t.initdead, format!("initdead ({}) must be at least deadtime ({})", show(cf.initdead), show(cf.deadtime)));
    } else if cf.initdead < Duration::from_secs(10) {
        d.warn(
            t.initdead,
            format!("initdead ({}) is under 10 s; on some systems networking is not up that fast after boot", show(cf.initdead)),
        );
    }
    if cf.deadping.is_zero() {
        cf.deadping = cf.deadtime;
    } else if cf.deadping <= ka * 2 {
        d.error(t.deadping, format!("deadping ({}) must be more than twice keepalive ({})", show(cf.deadping), show(ka)));
    }
    if cf.crm != Crm::Off {
        d.warn(None, "crm/pacemaker is on: heartbeat-rs parses it but does not run the CRM; `heartbeat run` refuses to start until it is off (haresources is used instead)");
    }
}

fn show(t: Duration) -> String {
    if t.subsec_micros() == 0 { format!("{}s", t.as_secs()) } else { format!("{}ms", t.as_micros() as f64 / 1000.0) }
}

fn unknown_directive(d: &mut Diagnostics, n: usize, name: &str) {
    let hint = did_you_mean(name, DIRECTIVES.iter().map(|(k, _)| *k)).map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default();
    d.error(n, format!("unknown directive {}{hint}", quote(name)));
}

/// Heartbeat's boolean words (`cl_str_to_boolean`), case-insensitive.
fn bool_value(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn set_bool(d: &mut Diagnostics, n: usize, key: &str, v: &str, slot: &mut bool) {
    match bool_value(v) {
        Some(b) => *slot = b,
        None => d.error(n, format!("bad {key} {}; expected on/off, yes/no or true/false", quote(v))),
    }
}

fn set_uint(d: &mut Diagnostics, n: usize, key: &str, v: &str, min: u32, max: u32, slot: &mut u32) {
    match v.parse::<u32>() {
        Ok(x) if (min..=max).contains(&x) && v.bytes().all(|b| b.is_ascii_digit()) => *slot = x,
        _ => d.error(n, format!("bad {key} {}; expected a whole number from {min} to {max}", quote(v))),
    }
}

fn set_time(d: &mut Diagnostics, n: usize, key: &str, v: &str, slot: &mut Duration) {
    match parse_time(v) {
        Some(t) => *slot = t,
        None => d.error(n, format!("bad {key} {}; expected a time such as 2, 0.5, 500ms or 200000us (no unit means seconds)", quote(v))),
    }
}

/// A Heartbeat time value: a decimal number with an optional unit (none or `s` = seconds,
/// `ms`/`msec`, `us`/`usec`), kept to microseconds.
pub fn parse_time(v: &str) -> Option<Duration> {
    let num_end = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (num, unit) = v.split_at(num_end);
    let scale_us: u64 = match unit {
        "" | "s" | "sec" => 1_000_000,
        "ms" | "msec" => 1_000,
        "us" | "usec" => 1,
        _ => return None,
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() || frac.contains('.') || int.len() > 12 {
        return None;
    }
    let int_us = int.parse::<u64>().unwrap_or(0).checked_mul(scale_us)?;
    // Fractions are rounded to whole microseconds.
    let mut frac_us = 0u64;
    let mut place = scale_us;
    for c in frac.chars().take(12) {
        place /= 10;
        frac_us += u64::from(c.to_digit(10)?) * place;
    }
    Some(Duration::from_micros(int_us + frac_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> HaCf {
        parse("ha.cf", text.as_bytes()).unwrap_or_else(|e| panic!("{e:#?}")).value
    }

    fn errs(text: &str) -> Vec<String> {
        match parse("ha.cf", text.as_bytes()) {
            Ok(_) => vec![],
            Err(d) => d.iter().filter(|x| x.is_error()).map(ToString::to_string).collect(),
        }
    }

    const BASE: &str = "bcast eth0\nnode a\n";

    #[test]
    fn times() {
        assert_eq!(parse_time("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_time("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("1500us"), Some(Duration::from_micros(1500)));
        assert_eq!(parse_time("5x"), None);
        assert_eq!(parse_time("-1"), None);
        assert_eq!(parse_time("."), None);
        assert_eq!(parse_time("99999999999999999999"), None);
    }

    #[test]
    fn typical_file() {
        let cf = ok(
            "logfile /var/log/ha-log\nlogfacility\tlocal0 # c\r\nkeepalive 2\ndeadtime 10\nwarntime 6\ninitdead 60\nudpport 694\nbcast eth1 eth2\nnode NodeA nodeb\nauto_failback on\nping 10.0.0.1\n",
        );
        assert_eq!(cf.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["nodea", "nodeb"]);
        assert_eq!(cf.media.len(), 2);
        assert_eq!(cf.deadtime, Duration::from_secs(10));
        assert_eq!(cf.auto_failback, AutoFailback::On);
        assert_eq!(cf.logfacility.as_deref(), Some("local0"));
        assert_eq!(cf.ping.len(), 1);
    }

    #[test]
    fn defaults_follow_heartbeat() {
        let cf = ok(BASE);
        assert_eq!(cf.warntime, Duration::from_secs(15));
        assert_eq!(cf.initdead, Duration::from_secs(30));
        let cf = ok("bcast eth0\nnode a\nkeepalive 1\ndeadtime 5\n");
        assert_eq!(cf.initdead, Duration::from_secs(12));
    }

    #[test]
    fn refusals_name_the_line() {
        assert_eq!(errs("bcast eth0\nnode a\nundport 694\n"), vec!["ha.cf:3: unknown directive \"undport\"; did you mean \"udpport\"?"]);
        assert!(errs("bcast eth0\nnode a\nlogfacility local10\n")[0].starts_with("ha.cf:3: log facility \"local10\" is not valid"));
        assert!(errs("bcast eth0\nnode a\ntim2 tim2\n")[0].starts_with("ha.cf:3: unknown directive \"tim2\""));
        assert!(errs("bcast eth0\nnode a\nkeepalive 2\ndeadtime 4\n")[0].starts_with("ha.cf:4: deadtime"));
        assert!(errs("bcast eth0\nnode a\nmcast eth0 10.0.0.1 694 1 0\n")[0].contains("not an IPv4 multicast"));
        assert!(errs("bcast eth0\nnode a\nkeepalive\n")[0].contains("needs a value"));
    }

    #[test]
    fn whole_file_problems_have_no_line() {
        assert_eq!(errs("node a\n"), vec!["ha.cf: no heartbeat media defined; expected at least one bcast, mcast, ucast or serial line"]);
        assert_eq!(errs("# all commented\n").len(), 2);
    }

    #[test]
    fn crm_parses_with_a_warning() {
        let r = parse("ha.cf", b"bcast eth0\nnode a\ncrm respawn\napiauth ipfail uid=root\n").unwrap();
        assert_eq!(r.value.crm, Crm::Respawn);
        assert!(r.warnings.iter().any(|w| w.message.contains("CRM")));
    }
}
