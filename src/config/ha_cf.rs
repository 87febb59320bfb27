//! `ha.cf` → [`HaCf`], read as Heartbeat 3.0.6 reads it. Pure: interfaces, hosts and users are
//! facts of the node, checked by the daemon, not here.
//!
//! Grammar (read from Heartbeat 3.0.6 and checked by running it on ~330 files): `#` starts a
//! comment anywhere on a line; blank lines are skipped; a line is a case-sensitive directive name
//! and its values. Most directives take each value in turn, values being separated by blanks or
//! commas (`node a,b c` declares three nodes; `keepalive 1,5` ends at 5). `apiauth`, `respawn`,
//! `failfast`, `stonith`, `stonith_host`, `mcast`, `mcast6`, `ucast`, `ucast6` and `ping_group`
//! take the rest of the line and split it on blanks only. An unknown directive is an error.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
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
    Manual,
    CcmOnly,
    Valgrind,
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

/// `lvs_sync_daemon IFACE [id N] [maxlen LEN] [port PORT] [ttl TTL] [group ADDR]`
/// (heartbeat-rs only; keepalived's option names): the kernel's IPVS connection sync daemon,
/// master on the node holding the LVS resources and backup on the other. `None` fields take
/// the kernel's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvsSync {
    pub iface: String,
    pub syncid: u8,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<std::net::IpAddr>,
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
    /// `metrics ADDR:PORT|PORT|off` (heartbeat-rs only): the Prometheus endpoint; a bare port
    /// binds to localhost.
    pub metrics: Option<std::net::SocketAddr>,
    pub lvs_sync_daemon: Option<LvsSync>,
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
            metrics: None,
            lvs_sync_daemon: None,
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
    /// Each value is applied in turn (Heartbeat's loop); blanks and commas separate values.
    EachValue,
    /// The rest of the line is one value, which the directive splits on blanks itself.
    WholeLine,
}

/// Every directive Heartbeat 3.0.6 accepts (Debian's build: `normalpoll` is compiled out, and
/// the media are the HBcomm plugins Debian ships).
const DIRECTIVES: &[(&str, Arity)] = &[
    ("cluster", Arity::EachValue),
    ("quorum_server", Arity::EachValue),
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
    ("msgfmt", Arity::EachValue),
    ("use_logd", Arity::EachValue),
    ("metrics", Arity::EachValue),
    ("conn_logd_time", Arity::EachValue),
    ("use_apphbd", Arity::EachValue),
    ("log_badpack", Arity::EachValue),
    ("syslogmsgfmt", Arity::EachValue),
    ("coredumps", Arity::EachValue),
    ("coreroot", Arity::EachValue),
    ("crm_daemon_dir", Arity::EachValue),
    ("crmd_spawns_pengine", Arity::EachValue),
    ("crm", Arity::EachValue),
    ("pacemaker", Arity::EachValue),
    ("autojoin", Arity::EachValue),
    ("uuidfrom", Arity::EachValue),
    ("compression", Arity::EachValue),
    ("compression_threshold", Arity::EachValue),
    ("traditional_compression", Arity::EachValue),
    ("env", Arity::EachValue),
    ("max_rexmit_delay", Arity::EachValue),
    ("record_config_changes", Arity::EachValue),
    ("record_pengine_inputs", Arity::EachValue),
    ("enable_config_writes", Arity::EachValue),
    ("memreserve", Arity::EachValue),
    ("stonith", Arity::WholeLine),
    ("stonith_host", Arity::WholeLine),
    ("apiauth", Arity::WholeLine),
    ("respawn", Arity::WholeLine),
    ("lvs_sync_daemon", Arity::WholeLine),
    ("failfast", Arity::WholeLine),
    // Media and ping nodes.
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

/// Directives Heartbeat refuses to see twice (`crm` and `pacemaker` count as one).
const ONCE: &[&str] = &["watchdog", "baud", "crm", "lvs_sync_daemon"];

/// Syslog facility names Heartbeat accepts (glibc's table, case-sensitive), plus `none`.
const FACILITIES: &[&str] = &[
    "none", "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "mark", "news", "security", "syslog", "user", "uucp",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// Serial speeds Heartbeat accepts for `baud`.
const BAUD_RATES: &[u32] = &[9600, 19200, 38400, 57600, 115200, 230400, 460800];

/// Compression plugins Debian's Heartbeat ships.
const COMPRESSION: &[&str] = &["zlib", "bz2"];

/// Directives of the CRM (Pacemaker) world: parsed, never run by heartbeat-rs.
pub const CRM_DIRECTIVES: &[&str] =
    &["record_config_changes", "record_pengine_inputs", "enable_config_writes", "quorum_server", "crm_daemon_dir", "crmd_spawns_pengine"];

/// API clients `crm` registers itself; Heartbeat refuses an `apiauth` for one of them with crm on.
const CRM_CLIENTS: &[&str] = &["cib", "crmd", "stonithd", "stonith-ng", "attrd", "pingd"];

/// Heartbeat's blanks in ha.cf: space, tab, CR, LF and FF; not the vertical tab.
fn is_hb_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

fn is_value_separator(c: char) -> bool {
    is_hb_blank(c) || c == ','
}

fn hb_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_hb_blank).filter(|w| !w.is_empty())
}

/// Heartbeat keeps at most this many nodes (normal and ping) and media.
const MAX_NODES: usize = 100;
const MAX_MEDIA: usize = 64;

/// Parses an ha.cf file.
pub fn parse(file: &str, bytes: &[u8]) -> Parsed<HaCf> {
    let mut d = Diagnostics::new(file);
    let text = decode(bytes);
    let mut st = State { cf: HaCf { traditional_compression: false, ..HaCf::default() }, ..State::default() };
    for (n, raw) in lines(&text) {
        // Heartbeat reads C strings: the line ends at a NUL, then at the first '#', then at the
        // first CR.
        let content = raw.split('\0').next().unwrap_or_default();
        let content = strip_hash_comment(content);
        let content = content.split('\r').next().unwrap_or_default();
        let mut w = hb_words(content);
        let Some(name) = w.next() else { continue };
        let Some(&(key, arity)) = DIRECTIVES.iter().find(|(k, _)| *k == name) else {
            unknown_directive(&mut d, n, name);
            continue;
        };
        let rest = content.trim_start_matches(is_hb_blank)[name.len()..].trim_matches(is_hb_blank);
        st.cf.directives.push(RawDirective { name: key.to_owned(), value: rest.to_owned(), line: n });
        let once_key = if key == "pacemaker" { "crm" } else { key };
        if ONCE.contains(&once_key) {
            if let Some(prev) = st.once.insert(once_key, n) {
                d.error(n, format!("{key} may appear only once; it was already set on line {prev}"));
                continue;
            }
        }
        match arity {
            Arity::EachValue => {
                let values: Vec<&str> = rest.split(is_value_separator).filter(|v| !v.is_empty()).collect();
                if values.is_empty() {
                    d.warn(n, format!("{key} has no value and is ignored, as Heartbeat ignores it"));
                }
                for value in values {
                    apply(&mut st, &mut d, n, key, value);
                }
            }
            Arity::WholeLine => {
                if rest.is_empty() {
                    d.error(n, format!("{key} needs a value; found nothing after it"));
                    continue;
                }
                apply(&mut st, &mut d, n, key, rest);
            }
        }
    }
    check_whole_file(&mut st, &mut d);
    d.finish(st.cf)
}

/// Parse state beyond the result: where things were set, for order rules and messages.
#[derive(Default)]
struct State {
    cf: HaCf,
    once: HashMap<&'static str, usize>,
    warntime: Option<usize>,
    initdead: Option<usize>,
    deadping: Option<usize>,
    deadtime: Option<usize>,
    autojoin: Option<usize>,
    auto_failback: Option<usize>,
    use_logd: Option<(bool, usize)>,
    first_medium: Option<usize>,
    crm_line: Option<usize>,
    apiauth_clients: HashMap<String, usize>,
}

fn positive<T: std::str::FromStr + Default + PartialEq>(v: &str) -> Option<T> {
    v.parse().ok().filter(|x| *x != T::default())
}

fn lvs_sync(d: &mut Diagnostics, n: usize, v: &str) -> Option<LvsSync> {
    const FORM: &str = "\"lvs_sync_daemon IFACE [id N] [maxlen LEN] [port PORT] [ttl TTL] [group ADDR]\"";
    let mut parts = words(v);
    let iface = parts.next()?.to_owned();
    if iface.len() >= 16 || iface.contains('/') {
        d.error(n, format!("invalid lvs_sync_daemon interface {}; expected an interface name", quote(&iface)));
        return None;
    }
    let mut sync = LvsSync { iface, syncid: 0, maxlen: None, port: None, ttl: None, group: None, line: n };
    let mut ok = true;
    while let Some(opt) = parts.next() {
        let Some(val) = parts.next() else {
            d.error(n, format!("lvs_sync_daemon option {} has no value; expected {FORM}", quote(opt)));
            return None;
        };
        let set = match opt {
            "id" => val.parse().map(|x| sync.syncid = x).map_err(|_| "a number from 0 to 255"),
            "maxlen" => positive(val).map(|x| sync.maxlen = Some(x)).ok_or("a datagram size from 1 to 65535"),
            "port" => positive(val).map(|x| sync.port = Some(x)).ok_or("a port from 1 to 65535"),
            "ttl" => positive(val).map(|x| sync.ttl = Some(x)).ok_or("a TTL from 1 to 255"),
            "group" => {
                val.parse::<std::net::IpAddr>().ok().filter(|a| a.is_multicast()).map(|a| sync.group = Some(a)).ok_or("a multicast address")
            }
            _ => {
                d.error(n, format!("unknown lvs_sync_daemon option {}; expected {FORM}", quote(opt)));
                ok = false;
                continue;
            }
        };
        if let Err(what) = set {
            d.error(n, format!("invalid lvs_sync_daemon {opt} {}; expected {what}", quote(val)));
            ok = false;
        }
    }
    ok.then_some(sync)
}

fn apply(st: &mut State, d: &mut Diagnostics, n: usize, key: &str, v: &str) {
    let cf = &mut st.cf;
    match key {
        "node" => {
            // Heartbeat appends duplicates too; one entry is enough for us.
            let name = v.to_ascii_lowercase();
            if cf.nodes.iter().any(|x| x.name == name) {
                d.warn(n, format!("node {} is declared again", quote(v)));
            } else if cf.nodes.len() + cf.ping.len() >= MAX_NODES {
                d.error(n, format!("too many nodes: Heartbeat keeps at most {MAX_NODES} nodes, ping nodes included"));
            } else {
                cf.nodes.push(Node { name, line: n });
            }
        }
        "keepalive" => {
            set_time(d, n, key, v, &mut cf.keepalive);
            if cf.keepalive.is_zero() {
                d.error(n, format!("keepalive must be at least 1ms; found {}", quote(v)));
            }
        }
        "deadtime" => {
            set_time(d, n, key, v, &mut cf.deadtime);
            st.deadtime = Some(n);
        }
        "warntime" => {
            set_time(d, n, key, v, &mut cf.warntime);
            if cf.warntime.is_zero() {
                d.error(n, format!("warntime must be greater than 0; found {}", quote(v)));
            }
            st.warntime = Some(n);
        }
        "initdead" => {
            set_time(d, n, key, v, &mut cf.initdead);
            st.initdead = Some(n);
        }
        "deadping" => {
            set_time(d, n, key, v, &mut cf.deadping);
            st.deadping = Some(n);
        }
        "conn_logd_time" => {
            set_time(d, n, key, v, &mut cf.conn_logd_time);
            if cf.conn_logd_time.is_zero() {
                d.error(n, format!("conn_logd_time must be greater than 0; found {}", quote(v)));
            }
        }
        "max_rexmit_delay" => {
            let mut ms = 0;
            set_uint(d, n, key, v, 1, u32::MAX, &mut ms);
            cf.max_rexmit_delay = Duration::from_millis(ms.into());
        }
        "hopfudge" => set_uint(d, n, key, v, 0, 255, &mut cf.hopfudge),
        "debug" => set_uint(d, n, key, v, 0, 255, &mut cf.debug),
        "memreserve" => set_uint(d, n, key, v, 1, u32::MAX, &mut cf.memreserve),
        "compression_threshold" => set_uint(d, n, key, v, 1, u32::MAX, &mut cf.compression_threshold),
        "rtprio" => {
            let mut p = 0;
            set_uint(d, n, key, v, 1, 99, &mut p);
            cf.rtprio = Some(p);
        }
        "udpport" => {
            let mut p = 0;
            set_uint(d, n, key, v, 1, 65535, &mut p);
            if p > 0 {
                cf.udpport = p as u16;
            }
            if let Some(m) = st.first_medium {
                d.warn(n, format!("udpport comes after the medium on line {m}; as in Heartbeat, media declared earlier keep the port in force before this line"));
            }
        }
        "baud" => match v.parse::<u32>() {
            Ok(b) if BAUD_RATES.contains(&b) => cf.baud = b,
            _ => d.error(n, format!("invalid baud rate {}; expected one of {}", quote(v), join(BAUD_RATES))),
        },
        "logfacility" => {
            if FACILITIES.contains(&v) {
                // `kern` is facility 0, which Heartbeat treats as "no syslog".
                cf.logfacility = (v != "none" && v != "kern").then(|| v.to_owned());
            } else {
                let hint = did_you_mean(v, FACILITIES.iter().copied()).map(|s| format!(" (did you mean \"{s}\"?)")).unwrap_or_default();
                d.error(n, format!("log facility {} is not valid{hint}; expected one of {}", quote(v), FACILITIES.join(", ")));
            }
        }
        "logfile" => cf.logfile = Some(v.to_owned()),
        "debugfile" => cf.debugfile = Some(v.to_owned()),
        "watchdog" => cf.watchdog = Some(v.to_owned()),
        "crm_daemon_dir" if st.crm_line.is_none() => {
            // Heartbeat 3.0.6 accepts it only after a crm/pacemaker line (its return codes are
            // inverted), so the file would not start an old node.
            d.error(
                n,
                "crm_daemon_dir must follow a crm/pacemaker line (Heartbeat 3.0.6 refuses it elsewhere); it is a CRM setting, so remove it",
            );
        }
        "coreroot" | "crm_daemon_dir" => {
            if !v.starts_with('/') {
                d.error(n, format!("{key} must be an absolute path; found {}", quote(v)));
            } else if key == "coreroot" {
                cf.coreroot = Some(v.to_owned());
            }
        }
        "crmd_spawns_pengine" => {
            let mut ignored = false;
            set_bool(d, n, key, v, &mut ignored);
            if let Some(c) = st.crm_line {
                d.error(n, format!("crmd_spawns_pengine must come before the crm/pacemaker line ({c})"));
            }
        }
        "compression" => {
            if COMPRESSION.contains(&v) {
                cf.compression = Some(v.to_owned());
            } else {
                d.error(n, format!("compression module {} not found; expected zlib or bz2", quote(v)));
            }
        }
        "nice_failback" => {
            let mut value = false;
            set_bool(d, n, key, v, &mut value);
            // Heartbeat ignores the value: it means "legacy", or "off" after an auto_failback.
            cf.auto_failback = if st.auto_failback.is_some() { AutoFailback::Off } else { AutoFailback::Legacy };
            d.warn(
                n,
                format!(
                    "nice_failback is obsolete and read as auto_failback {}, as Heartbeat does; write auto_failback on or off instead",
                    if st.auto_failback.is_some() { "off" } else { "legacy" }
                ),
            );
        }
        "auto_failback" => {
            st.auto_failback = Some(n);
            match v.to_ascii_lowercase().as_str() {
                "legacy" => cf.auto_failback = AutoFailback::Legacy,
                other => match bool_value(other) {
                    Some(true) => cf.auto_failback = AutoFailback::On,
                    Some(false) => cf.auto_failback = AutoFailback::Off,
                    None => d.error(n, format!("invalid auto_failback {}; expected on, off or legacy", quote(v))),
                },
            }
        }
        "crm" | "pacemaker" => {
            st.crm_line = Some(n);
            cf.crm = match v.to_ascii_lowercase().as_str() {
                "respawn" => Crm::Respawn,
                "minimal" => Crm::Minimal,
                "manual" => Crm::Manual,
                "ccm-only" => Crm::CcmOnly,
                "valgrind" => Crm::Valgrind,
                other => match bool_value(other) {
                    Some(true) => Crm::On,
                    Some(false) => Crm::Off,
                    None => {
                        d.error(n, format!("invalid {key} {}; expected on, off, respawn, minimal, manual, ccm-only or valgrind", quote(v)));
                        cf.crm
                    }
                },
            };
        }
        "autojoin" => {
            st.autojoin = Some(n);
            match v.to_ascii_lowercase().as_str() {
                "none" => cf.autojoin = AutoJoin::None,
                "other" => cf.autojoin = AutoJoin::Other,
                "any" => cf.autojoin = AutoJoin::Any,
                _ => d.error(n, format!("invalid autojoin {}; expected none, other or any", quote(v))),
            }
        }
        "msgfmt" => match v {
            "classic" => cf.msgfmt = MsgFmt::Classic,
            "netstring" => cf.msgfmt = MsgFmt::Netstring,
            _ => d.error(n, format!("invalid msgfmt {}; expected classic or netstring", quote(v))),
        },
        "uuidfrom" => match v {
            "file" => cf.uuidfrom = UuidFrom::File,
            "nodename" => cf.uuidfrom = UuidFrom::Nodename,
            _ => d.error(n, format!("invalid uuidfrom {}; expected file or nodename", quote(v))),
        },
        "hbgenmethod" => match v {
            "file" => cf.hbgenmethod = GenMethod::File,
            "time" => cf.hbgenmethod = GenMethod::Time,
            _ => d.error(n, format!("invalid hbgenmethod {}; expected file or time", quote(v))),
        },
        "realtime" => set_bool(d, n, key, v, &mut cf.realtime),
        "metrics" => {
            let addr = if v == "off" {
                Ok(None)
            } else if let Ok(port) = v.parse::<u16>() {
                Ok(Some(std::net::SocketAddr::from(([127, 0, 0, 1], port))))
            } else {
                v.parse::<std::net::SocketAddr>().map(Some)
            };
            match addr {
                Ok(a) => cf.metrics = a,
                Err(_) => d.error(n, format!("invalid metrics endpoint {}; expected PORT, ADDRESS:PORT or off", quote(v))),
            }
        }
        "use_logd" => {
            set_bool(d, n, key, v, &mut cf.use_logd);
            st.use_logd = Some((cf.use_logd, n));
        }
        "coredumps" => set_bool(d, n, key, v, &mut cf.coredumps),
        "traditional_compression" => set_bool(d, n, key, v, &mut cf.traditional_compression),
        "log_badpack" | "use_apphbd" | "syslogmsgfmt" | "record_config_changes" | "record_pengine_inputs" | "enable_config_writes" => {
            let mut ignored = false;
            set_bool(d, n, key, v, &mut ignored);
        }
        "env" => match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => cf.env.push((k.to_owned(), val.to_owned())),
            _ => d.error(n, format!("invalid env {}; expected NAME=value", quote(v))),
        },
        "cluster" | "quorum_server" => {}
        "apiauth" => {
            let mut parts = words(v);
            let client = parts.next().unwrap_or_default().to_owned();
            if client.len() >= 64 {
                d.error(n, format!("apiauth client name {} is too long; expected fewer than 64 characters", quote(&client)));
            }
            let mut fields = 0;
            let (mut uid, mut gid) = (false, false);
            for p in parts {
                let seen = if p.starts_with("uid=") {
                    Some(&mut uid)
                } else if p.starts_with("gid=") {
                    Some(&mut gid)
                } else {
                    None
                };
                if let Some(seen) = seen {
                    if *seen {
                        d.error(n, format!("apiauth {} gives {} twice; expected one uid= list and one gid= list", quote(&client), &p[..3]));
                    }
                    *seen = true;
                    fields += 1;
                } else {
                    d.error(n, format!("invalid apiauth field {}; expected \"apiauth CLIENT [uid=USER,…] [gid=GROUP,…]\"", quote(p)));
                }
            }
            if fields == 0 {
                d.error(
                    n,
                    format!("apiauth {} names no uid= or gid=; expected \"apiauth CLIENT [uid=USER,…] [gid=GROUP,…]\"", quote(&client)),
                );
            }
            if let Some(prev) = st.apiauth_clients.insert(client.clone(), n) {
                d.error(n, format!("apiauth for client {} is given twice (line {prev})", quote(&client)));
            }
            cf.apiauth.push(RawDirective { name: key.into(), value: v.into(), line: n });
        }
        "lvs_sync_daemon" => {
            if let Some(sync) = lvs_sync(d, n, v) {
                cf.lvs_sync_daemon = Some(sync);
            }
        }
        "respawn" | "failfast" => {
            let mut parts = words(v);
            let _user = parts.next();
            match parts.next() {
                Some(cmd) if cmd.starts_with('/') => cf.respawn.push(RawDirective { name: key.into(), value: v.into(), line: n }),
                Some(cmd) => {
                    d.error(n, format!("{key} command {} is not a full path; expected \"{key} USER /path/to/program [args]\"", quote(cmd)))
                }
                None => d.error(n, format!("{key} {} has no command; expected \"{key} USER /path/to/program [args]\"", quote(v))),
            }
        }
        "stonith" | "stonith_host" => {
            if words(v).count() < 2 {
                let form = if key == "stonith" { "stonith TYPE CONFIG-FILE" } else { "stonith_host HOST TYPE PARAMS…" };
                d.error(n, format!("{key} {} is incomplete; expected \"{form}\"", quote(v)));
            } else {
                cf.stonith.push(RawDirective { name: key.into(), value: v.into(), line: n });
            }
        }
        "bcast" | "udp" => {
            if key == "udp" && v == words(v).next().unwrap_or_default() {
                d.warn(n, "the old directive \"udp\" is read as \"bcast\"");
            }
            cf.media.push(Medium::Bcast { iface: v.to_owned(), port: cf.udpport });
            st.first_medium.get_or_insert(n);
        }
        "serial" => {
            if v.starts_with('/') {
                cf.media.push(Medium::Serial { device: v.to_owned() });
                st.first_medium.get_or_insert(n);
            } else {
                d.error(n, format!("serial port {} is not a full path; expected a device such as /dev/ttyS0", quote(v)));
            }
        }
        "ucast" | "ucast6" => {
            let parts: Vec<&str> = words(v).collect();
            let v6 = key == "ucast6";
            match parts.as_slice() {
                [iface, peer, rest @ ..] => {
                    if !rest.is_empty() {
                        d.warn(n, format!("ignoring {} after the {key} peer, as Heartbeat does", quote(&rest.join(" "))));
                    }
                    let family_ok = if v6 {
                        // Heartbeat refuses the unspecified, loopback and multicast addresses.
                        peer.split('%')
                            .next()
                            .unwrap_or_default()
                            .parse::<Ipv6Addr>()
                            .is_ok_and(|a| !a.is_unspecified() && !a.is_loopback() && !a.is_multicast())
                    } else {
                        peer.parse::<Ipv6Addr>().is_err()
                    };
                    if family_ok {
                        cf.media.push(Medium::Ucast { iface: (*iface).to_owned(), peer: (*peer).to_owned(), v6, port: cf.udpport });
                        st.first_medium.get_or_insert(n);
                    } else {
                        d.error(
                            n,
                            format!(
                                "{key} peer {} is not {}",
                                quote(peer),
                                if v6 { "a unicast IPv6 address" } else { "an IPv4 address or host name" }
                            ),
                        );
                    }
                }
                _ => d.error(n, format!("invalid {key} {}; expected \"{key} INTERFACE PEER-ADDRESS\"", quote(v))),
            }
        }
        "mcast" | "mcast6" if parse_mcast(cf, d, n, key, v) => {
            st.first_medium.get_or_insert(n);
        }
        "ping" | "ping6" if cf.nodes.len() + cf.ping.len() >= MAX_NODES => {
            d.error(n, format!("too many nodes: Heartbeat keeps at most {MAX_NODES} nodes, ping nodes included"));
        }
        "ping" | "ping6" => {
            if key == "ping6" && v.parse::<Ipv6Addr>().is_err() {
                d.error(n, format!("ping6 host {} is not an IPv6 address", quote(v)));
            } else {
                cf.ping.push(PingNode {
                    name: v.to_ascii_lowercase(),
                    hosts: vec![v.to_owned()],
                    v6: key == "ping6",
                    group: false,
                    line: n,
                });
            }
        }
        "ping_group" => {
            let mut parts = words(v);
            let name = parts.next().unwrap_or_default().to_owned();
            let hosts: Vec<String> = parts.map(str::to_owned).collect();
            if hosts.is_empty() {
                d.error(n, format!("ping_group {} has no hosts; expected \"ping_group NAME HOST…\"", quote(&name)));
            } else {
                cf.ping.push(PingNode { name: name.to_ascii_lowercase(), hosts, v6: false, group: true, line: n });
            }
        }
        _ => {}
    }
}

/// `mcast IFACE GROUP PORT TTL LOOP` / `mcast6 IFACE GROUP PORT HOPS LOOP`; true when accepted.
fn parse_mcast(cf: &mut HaCf, d: &mut Diagnostics, n: usize, key: &str, v: &str) -> bool {
    let parts: Vec<&str> = words(v).collect();
    let example = if key == "mcast" { "239.0.0.1" } else { "ff12::1" };
    let form = format!("expected \"{key} INTERFACE GROUP PORT TTL LOOP\" (e.g. {key} eth0 {example} 694 1 0)");
    let [iface, group, port, ttl, lp, rest @ ..] = parts.as_slice() else {
        d.error(n, format!("invalid {key} {}; {form}", quote(v)));
        return false;
    };
    if !rest.is_empty() {
        d.warn(n, format!("ignoring {} after the {key} loop flag, as Heartbeat does", quote(&rest.join(" "))));
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => {
            d.error(n, format!("invalid {key} port {}; expected 1 to 65535", quote(port)));
            return false;
        }
    };
    // Heartbeat refuses a TTL (hop limit) above 4.
    let ttl = match ttl.parse::<u8>() {
        Ok(t) if t <= 4 => t,
        _ => {
            d.error(n, format!("invalid {key} ttl {}; expected 0 to 4", quote(ttl)));
            return false;
        }
    };
    let looped = match *lp {
        "0" => false,
        "1" => true,
        _ => {
            d.error(n, format!("invalid {key} loop {}; expected 0 or 1", quote(lp)));
            return false;
        }
    };
    let iface = (*iface).to_owned();
    if key == "mcast" {
        match group.parse::<Ipv4Addr>() {
            Ok(g) if g.is_multicast() => cf.media.push(Medium::Mcast { iface, group: g, port, ttl, looped }),
            _ => {
                d.error(n, format!("mcast group {} is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)", quote(group)));
                return false;
            }
        }
    } else {
        // Heartbeat wants ff, flag bits 0x80/0x40/0x20 clear (the T flag may be set), scope link
        // (2), admin (4), site (5) or organisation (8), and a group id that is not zero.
        match group.parse::<Ipv6Addr>() {
            Ok(g)
                if g.segments()[0] & 0xffe0 == 0xff00
                    && matches!(g.segments()[0] & 0xf, 2 | 4 | 5 | 8)
                    && g.segments()[1..].iter().any(|&x| x != 0) =>
            {
                cf.media.push(Medium::Mcast6 { iface, group: g, port, hops: ttl, looped })
            }
            _ => {
                d.error(n, format!("mcast6 group {} is not a usable IPv6 multicast address; expected ffX2::, ffX4::, ffX5:: or ffX8:: (X = 0 or 1) with a non-zero group", quote(group)));
                return false;
            }
        }
    }
    true
}

/// The checks Heartbeat makes once the whole file is read.
fn check_whole_file(st: &mut State, d: &mut Diagnostics) {
    let cf = &mut st.cf;
    if cf.media.len() > MAX_MEDIA {
        d.error(None, format!("too many media: {}; Heartbeat allows at most {MAX_MEDIA}", cf.media.len()));
    }
    if cf.media.is_empty() && cf.ping.is_empty() {
        d.error(None, "no heartbeat media defined; expected at least one bcast, mcast, ucast or serial line");
    } else if cf.media.is_empty() {
        d.warn(None, "only ping nodes and no heartbeat media: this node cannot see any other cluster node");
    }
    if cf.nodes.is_empty() && cf.ping.is_empty() && cf.autojoin != AutoJoin::Any {
        d.error(None, "no nodes defined; expected a \"node NAME\" line naming each cluster member (as uname -n prints it)");
    }
    let ka = cf.keepalive;
    if cf.deadtime <= ka * 2 {
        d.error(st.deadtime, format!("deadtime ({}) must be more than twice keepalive ({})", show(cf.deadtime), show(ka)));
    }
    if cf.warntime.is_zero() {
        cf.warntime = cf.deadtime / 2;
    } else if cf.warntime >= cf.deadtime {
        d.warn(
            st.warntime,
            format!("warntime ({}) is not below deadtime ({}); late heartbeats will not be reported", show(cf.warntime), show(cf.deadtime)),
        );
    } else if cf.warntime <= ka {
        d.warn(
            st.warntime,
            format!("warntime ({}) is not above keepalive ({}); every heartbeat will look late", show(cf.warntime), show(ka)),
        );
    }
    if cf.initdead.is_zero() && st.initdead.is_none() {
        let secs10 = Duration::from_secs(10);
        cf.initdead = if cf.deadtime > secs10 {
            cf.deadtime
        } else if cf.deadtime < Duration::from_secs(6) {
            Duration::from_secs(12)
        } else {
            cf.deadtime * 2
        };
    } else if cf.initdead < cf.deadtime {
        d.error(
            st.initdead,
            format!("initdead ({}) is smaller than deadtime ({}); expected at least deadtime", show(cf.initdead), show(cf.deadtime)),
        );
    } else if cf.initdead < Duration::from_secs(10) {
        d.warn(
            st.initdead,
            format!("initdead ({}) may be too small: networks can take longer to come up at boot; 10s or more is safer", show(cf.initdead)),
        );
    }
    if st.deadping.is_none() {
        cf.deadping = cf.deadtime;
    } else if cf.deadping <= ka * 2 {
        d.error(st.deadping, format!("deadping ({}) must be more than twice keepalive ({})", show(cf.deadping), show(ka)));
    }
    if cf.crm == Crm::Off && cf.autojoin != AutoJoin::None {
        d.error(st.autojoin, "autojoin other/any conflicts with haresources resource management (crm off); remove autojoin");
    }
    if cf.logfile.is_none() && cf.debugfile.is_none() && cf.logfacility.is_none() {
        match st.use_logd {
            Some((false, line)) => d.error(line, "no logfile, debugfile or logfacility and use_logd is off: nothing would be logged"),
            None => {
                cf.use_logd = true;
                d.warn(None, "no logfile, debugfile or logfacility: logging goes to syslog (use_logd)");
            }
            Some(_) => {}
        }
    }
    for raw in cf.directives.iter().filter(|r| CRM_DIRECTIVES.contains(&r.name.as_str())) {
        d.warn(raw.line, format!("{} belongs to the CRM (Pacemaker); heartbeat-rs reads it and does not use it", raw.name));
    }
    if cf.crm != Crm::Off {
        d.warn(st.crm_line, "crm/pacemaker is on: heartbeat-rs parses it but does not run the CRM, and `heartbeat run` refuses to start until it is off (resources then come from haresources)");
        for a in &cf.apiauth {
            let client = words(&a.value).next().unwrap_or_default();
            if CRM_CLIENTS.contains(&client) {
                d.warn(a.line, format!("apiauth {client} clashes with the one crm registers itself; Heartbeat 3.0.6 refuses this file"));
            }
        }
    } else if cf.auto_failback == AutoFailback::Legacy && st.auto_failback.is_none() {
        d.warn(None, "auto_failback is not set, so it is \"legacy\" (deprecated); write auto_failback on or off");
    }
}

fn join(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

fn show(t: Duration) -> String {
    if t.subsec_millis() == 0 { format!("{}s", t.as_secs()) } else { format!("{}ms", t.as_millis()) }
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
        None => d.error(n, format!("invalid {key} {}; expected on/off, yes/no or true/false", quote(v))),
    }
}

fn set_uint(d: &mut Diagnostics, n: usize, key: &str, v: &str, min: u32, max: u32, slot: &mut u32) {
    // C's atoi takes a leading '+'.
    let digits = v.strip_prefix('+').unwrap_or(v);
    match digits.parse::<u32>() {
        Ok(x) if (min..=max).contains(&x) && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => *slot = x,
        _ => d.error(n, format!("invalid {key} {}; expected a whole number from {min} to {max}", quote(v))),
    }
}

fn set_time(d: &mut Diagnostics, n: usize, key: &str, v: &str, slot: &mut Duration) {
    match parse_time(v) {
        Some(t) => *slot = t,
        None => {
            let hint = if v.ends_with('s') && !v.ends_with("ms") && !v.ends_with("us") {
                " (Heartbeat has no \"s\" unit: a bare number is seconds)"
            } else {
                ""
            };
            d.error(n, format!("invalid {key} {}{hint}; expected a time such as 2, 0.5, 500ms or 200000us", quote(v)))
        }
    }
}

/// A Heartbeat time value (`cl_get_msec`): a decimal number, then nothing (seconds), or a unit
/// starting with `ms` or `us` (any case). The result is rounded half up to whole milliseconds,
/// as Heartbeat keeps milliseconds.
pub fn parse_time(v: &str) -> Option<Duration> {
    let num_end = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (num, unit) = v.split_at(num_end);
    if num.is_empty() {
        return None;
    }
    let unit = unit.to_ascii_lowercase();
    let scale_us: u64 = if unit.is_empty() {
        1_000_000
    } else if unit.starts_with("ms") {
        1_000
    } else if unit.starts_with("us") {
        1
    } else {
        return None;
    };
    // Like C's atof, the number stops at a second dot.
    let mut it = num.splitn(3, '.');
    let int = it.next().unwrap_or_default();
    let frac = it.next().unwrap_or_default();
    // No overflow check in Heartbeat either: a huge value just means "for ever".
    let int_us = if int.is_empty() { 0 } else { int.parse::<u64>().unwrap_or(u64::MAX).saturating_mul(scale_us) };
    let mut frac_us = 0u64;
    let mut place = scale_us;
    for c in frac.chars().take(12) {
        place /= 10;
        frac_us += u64::from(c.to_digit(10)?) * place;
    }
    let ms = int_us.saturating_add(frac_us).saturating_add(500) / 1000;
    Some(Duration::from_millis(ms))
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
        // Heartbeat keeps milliseconds, rounding half up.
        assert_eq!(parse_time("1500us"), Some(Duration::from_millis(2)));
        assert_eq!(parse_time("500MSEC"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("1.2.3"), Some(Duration::from_millis(1200)));
        assert_eq!(parse_time("2s"), None);
        assert_eq!(parse_time("1m"), None);
        assert_eq!(parse_time("5x"), None);
        assert_eq!(parse_time("-1"), None);
        assert_eq!(parse_time("."), Some(Duration::ZERO));
        // Heartbeat has no overflow check; a huge value saturates ("for ever").
        assert!(parse_time("99999999999999999999").is_some_and(|t| t > Duration::from_secs(1 << 40)));
    }

    #[test]
    fn lvs_sync_daemon_directive() {
        assert_eq!(ok(BASE).lvs_sync_daemon, None);
        let s = ok(&format!("{BASE}lvs_sync_daemon eth1 id 7 port 8849 ttl 2 group 224.0.0.82 maxlen 1400\n")).lvs_sync_daemon.unwrap();
        assert_eq!((s.iface.as_str(), s.syncid, s.port, s.ttl, s.maxlen), ("eth1", 7, Some(8849), Some(2), Some(1400)));
        assert_eq!(s.group, Some("224.0.0.82".parse().unwrap()));
        assert_eq!(ok(&format!("{BASE}lvs_sync_daemon eth0\n")).lvs_sync_daemon.unwrap().syncid, 0);
        assert_eq!(
            errs(&format!("{BASE}lvs_sync_daemon eth0 id 300\n")),
            vec!["ha.cf:3: invalid lvs_sync_daemon id \"300\"; expected a number from 0 to 255"]
        );
        assert_eq!(
            errs(&format!("{BASE}lvs_sync_daemon eth0 group 10.0.0.1\n")),
            vec!["ha.cf:3: invalid lvs_sync_daemon group \"10.0.0.1\"; expected a multicast address"]
        );
        assert_eq!(errs(&format!("{BASE}lvs_sync_daemon eth0 id\n")).len(), 1);
        assert_eq!(errs(&format!("{BASE}lvs_sync_daemon eth0 colour red\n")).len(), 1);
        assert_eq!(errs(&format!("{BASE}lvs_sync_daemon eth0\nlvs_sync_daemon eth1\n")).len(), 1);
    }

    #[test]
    fn metrics_endpoint_defaults_to_localhost() {
        assert_eq!(ok(BASE).metrics, None);
        assert_eq!(ok(&format!("{BASE}metrics 9684\n")).metrics, Some("127.0.0.1:9684".parse().unwrap()));
        assert_eq!(ok(&format!("{BASE}metrics [::]:9684\n")).metrics, Some("[::]:9684".parse().unwrap()));
        assert_eq!(ok(&format!("{BASE}metrics 9684\nmetrics off\n")).metrics, None);
        assert_eq!(
            errs(&format!("{BASE}metrics yes\n")),
            vec!["ha.cf:3: invalid metrics endpoint \"yes\"; expected PORT, ADDRESS:PORT or off"]
        );
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
        assert!(errs("bcast eth0\nnode a\nmcast\n")[0].contains("needs a value"));
        assert!(errs("bcast eth0\nnode a\nkeepalive 2s\n")[0].contains("no \"s\" unit"));
        assert!(errs("bcast eth0\nnode a\ncrm off\npacemaker off\n")[0].starts_with("ha.cf:4: pacemaker may appear only once"));
        assert!(errs("bcast eth0\nnode a\nautojoin any\n")[0].starts_with("ha.cf:3: autojoin"));
        assert!(errs("bcast eth0\nnode a\nmcast eth0 239.0.0.1 694 5 0\n")[0].contains("ttl"));
    }

    #[test]
    fn whole_file_problems_have_no_line() {
        assert_eq!(errs("node a\n"), vec!["ha.cf: no heartbeat media defined; expected at least one bcast, mcast, ucast or serial line"]);
        assert_eq!(errs("# all commented\n").len(), 2);
    }

    #[test]
    fn values_split_on_blanks_and_commas() {
        let cf = ok("bcast eth0,eth1\nnode a,b c\nkeepalive 1,2\ndeadtime 10\nkeepalive\n");
        assert_eq!(cf.nodes.len(), 3);
        assert_eq!(cf.media.len(), 2);
        assert_eq!(cf.keepalive, Duration::from_secs(2));
        // Whole-line directives split on blanks only.
        assert!(!errs("bcast eth0\nnode a\nmcast eth0,239.0.0.1,694,1,0\n").is_empty());
    }

    #[test]
    fn crm_parses_with_a_warning() {
        let r = parse("ha.cf", b"bcast eth0\nnode a\ncrm respawn\napiauth ipfail uid=root\n").unwrap();
        assert_eq!(r.value.crm, Crm::Respawn);
        assert!(r.warnings.iter().any(|w| w.message.contains("CRM")));
    }
}
