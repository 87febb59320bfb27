//! keepalived.conf → ha.cf + haresources + authkeys + ldirectord.cf. Pure: a parsed [`Conf`] in,
//! four file texts and a report out. Every item is either carried over or named in the report
//! with its `file:line` and the reason.
//!
//! Choices (documented in README "Migrating from keepalived"):
//! - one keepalived.conf describes one node; the two Heartbeat nodes are this node (named after
//!   `router_id`, else `node1`) and its peer (`NAME-peer`); rename both to `uname -n`.
//! - a VRRP instance (or a `vrrp_sync_group`) becomes a resource group owned by this node when
//!   its `state` is MASTER, else by the peer; its VIPs are `IPaddr`/`IPv6addr` resources.
//! - keepalive = the smallest `advert_int`, deadtime = 4 × that (keepalived's master-down time
//!   is 3 × advert + skew), warntime = 2 ×, initdead = 2 × deadtime.
//! - `auth_pass` → `auth 1` / `1 sha1 PASS` (keepalived uses only its first 8 characters, so
//!   those are taken); no authentication → `1 crc` (keepalived then has none either).
//! - one health check per virtual service (ldirectord's model): the first check of the first
//!   real server; different checks on other reals are reported.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Conf, Item, Loc, Note};

/// The translated files and the report.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub ha_cf: String,
    pub haresources: String,
    pub authkeys: String,
    pub ldirectord_cf: String,
    /// Settings not carried over, with where and why.
    pub report: Vec<Note>,
    /// Remarks about invented values (node names, defaults) that need no action to be faithful.
    pub info: Vec<String>,
}

#[derive(Default)]
struct Tr {
    report: Vec<Note>,
    info: Vec<String>,
    router_id: Option<String>,
    vrrp_version: Option<u32>,
    emails: Vec<(String, Loc)>,
    email_from: Option<String>,
    smtp: Option<String>,
    sync: Option<String>,
    instances: Vec<Instance>,
    sync_groups: Vec<(String, Vec<String>, Loc)>,
    groups: Vec<(String, Vec<Item>, Loc)>,
    virtuals: Vec<(String, String)>,
    /// The `virtual=` lines written so far (ldirectord refuses duplicates).
    heads: std::collections::HashSet<String>,
    virtual_addrs: Vec<IpAddr>,
}

#[derive(Default)]
struct Instance {
    name: String,
    master: bool,
    iface: Option<String>,
    vrid: Option<u32>,
    advert_ms: Option<u64>,
    advert_loc: Option<Loc>,
    /// `version` of the instance (else global_defs' `vrrp_version`, else 2).
    version: Option<u32>,
    auth_pass: Option<(String, Loc)>,
    vips: Vec<(IpAddr, String)>,
    peers: Vec<IpAddr>,
    nopreempt: Option<Loc>,
}

impl Tr {
    fn skip(&mut self, loc: &Loc, msg: impl Into<String>) {
        self.report.push(Note { loc: loc.clone(), msg: msg.into() });
    }

    fn unsupported(&mut self, it: &Item, why: &str) {
        let msg = format!("`{}` not carried over: {why}", it.key);
        self.skip(&it.loc.clone(), msg);
    }

    fn unknown(&mut self, it: &Item, context: &str) {
        let why = if it.key.starts_with('@') {
            "a conditional line (keepalived -i CONFIG_ID); conditions are not evaluated".to_owned()
        } else {
            reason(&it.key).map(str::to_owned).unwrap_or_else(|| format!("not a keyword heartbeat-rs knows in {context}"))
        };
        self.unsupported(it, &why);
    }
}

/// Reasons for the keywords most often left behind.
fn reason(key: &str) -> Option<&'static str> {
    Some(match key {
        "vrrp_script" | "track_script" => "Heartbeat has no VRRP tracking scripts; use ping nodes (ipfail) or a resource agent's status",
        "track_interface" | "track_process" | "track_file" | "track_bfd" => "Heartbeat has no VRRP tracking; use ping nodes (ipfail)",
        "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify_up" | "notify_down" | "notify_fifo" => {
            "notify scripts have no equivalent; make the script a resource agent in haresources"
        }
        "smtp_alert" | "smtp_connect_timeout" => "ldirectord mails with its own settings (emailalert, emailalertfreq)",
        "garp_master_delay"
        | "garp_master_repeat"
        | "garp_master_refresh"
        | "garp_master_refresh_repeat"
        | "vrrp_garp_interval"
        | "vrrp_gna_interval"
        | "garp_interval"
        | "gna_interval"
        | "vrrp_garp_master_delay"
        | "vrrp_garp_master_repeat" => "gratuitous ARP timing is fixed by heartbeat-rs's IPaddr",
        "host" => "ldirectord checks the real server itself, not a list of other hosts",
        "preempt_delay" => "Heartbeat has no failback delay (auto_failback is on or off)",
        "nat_mask" => "obsolete (keepalived 2.x ignores it too)",
        "digest" => "ldirectord checks match the body with a regex (receive=), not an MD5 digest",
        "delay_before_retry" => "ldirectord retries at checkinterval",
        "quorum" | "quorum_up" | "quorum_down" | "hysteresis" => "ldirectord has no quorum",
        "alpha" | "omega" => "ldirectord has no equivalent",
        "sorry_server_inhibit" => "ldirectord's fallback is always added with weight 1",
        "enable_script_security" | "script_user" => "no keepalived scripts are carried over",
        "use_vmac" | "vmac_xmit_base" => "Heartbeat's IPaddr does not use VRRP MAC addresses",
        "dont_track_primary" | "mcast_src_ip" | "native_ipv6" => "VRRP protocol detail; Heartbeat has its own protocol",
        "virtual_routes" | "virtual_rules" | "static_routes" | "static_ipaddress" | "static_rules" => {
            "routes and rules have no IPaddr equivalent; use a resource script"
        }
        "lvs_flush" | "lvs_timeouts" | "lvs_sync_daemon_syncid" => "ldirectord has no equivalent",
        "warmup" => "ldirectord starts checking at once",
        "helo_name" => "ldirectord's smtp check greets with the director's host name",
        "vrrp_skip_check_adv_addr" | "vrrp_strict" | "default_interface" | "vrrp_iptables" | "vrrp_check_unicast_src" => {
            "VRRP protocol detail; Heartbeat has its own protocol"
        }
        "uthreshold" | "lthreshold" => "ldirectord has no connection thresholds",
        "snmp_name" | "enable_snmp_vrrp" | "enable_snmp_checker" | "enable_snmp_rfc" | "enable_traps" => "heartbeat-rs has no SNMP agent",
        "ha_suspend" => "ldirectord's services do not wait for their address",
        "persistence_engine" => "ldirectord has no persistence engines",
        "http_protocol" | "fast_recovery" | "enable_sni" => "ldirectord's http check has no such option",
        "regex_no_match" | "regex_options" | "regex_stack" | "regex_min_offset" | "regex_max_offset" => {
            "ldirectord's receive= is a plain match anywhere in the body"
        }
        "log_all_failures" | "checker_log_all_failures" => "ldirectord logs every state change itself",
        _ => return None,
    })
}

/// `advert_int` (seconds, fractions allowed) in milliseconds.
fn seconds_ms(s: &str) -> Option<u64> {
    let f: f64 = s.parse().ok()?;
    (f.is_finite() && f > 0.0 && f <= 86_400.0).then(|| (f * 1000.0).round().max(1.0) as u64)
}

fn duration(ms: u64) -> String {
    if ms % 1000 == 0 { format!("{}", ms / 1000) } else { format!("{ms}ms") }
}

fn uint(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// A host name Heartbeat accepts for `node`: lower case, letters, digits, `-`, `.`, `_`.
fn node_name(s: &str) -> Option<String> {
    let n: String = s.to_ascii_lowercase();
    (!n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))).then_some(n)
}

/// An e-mail address or a local user name, as the mailer takes them.
fn mail_address(s: &str) -> bool {
    quote_ok(s) && !s.chars().any(char::is_whitespace) && s.chars().all(|c| c.is_ascii_graphic()) && !s.starts_with(['<', '$', '@'])
}

/// Double quotes cannot appear in a quoted ldirectord value.
fn quote_ok(s: &str) -> bool {
    !s.contains('"') && !s.is_empty() && !s.chars().any(char::is_control)
}

/// Translates a parsed keepalived.conf.
pub fn translate(conf: &Conf) -> Output {
    let mut t = Tr::default();
    for n in &conf.notes {
        t.report.push(Note { loc: n.loc.clone(), msg: format!("{} (as keepalived does)", n.msg) });
    }
    // Groups first: `virtual_server group NAME` may come before the group's definition.
    for it in &conf.items {
        if it.key == "virtual_server_group" {
            match it.arg() {
                Some(name) => t.groups.push((name.to_owned(), it.children().to_vec(), it.loc.clone())),
                None => t.skip(&it.loc, "virtual_server_group without a name ignored (as keepalived does)"),
            }
        }
    }
    for it in &conf.items {
        match it.key.as_str() {
            "global_defs" => global_defs(&mut t, it),
            "vrrp_instance" => vrrp_instance(&mut t, it),
            "vrrp_sync_group" => sync_group(&mut t, it),
            "virtual_server" => virtual_server(&mut t, it),
            "virtual_server_group" => {}
            "lvs_sync_daemon" | "lvs_sync_daemon_interface" | "lvs_sync_daemon_inteface" => sync_daemon(&mut t, it),
            _ => t.unknown(it, "the top level"),
        }
    }
    finish(t)
}

fn global_defs(t: &mut Tr, g: &Item) {
    for it in g.children() {
        match it.key.as_str() {
            "router_id" => match it.arg().and_then(node_name) {
                Some(n) => t.router_id = Some(n),
                None => t.unsupported(it, "not usable as a node name; the node is called node1"),
            },
            "notification_email" => {
                for a in it.children() {
                    if mail_address(&a.key) {
                        t.emails.push((a.key.clone(), a.loc.clone()));
                    } else {
                        t.skip(&a.loc, format!("notification address {} is not an e-mail address; not carried over", a.key));
                    }
                }
            }
            "notification_email_from" => match it.arg() {
                Some(a) if mail_address(a) => t.email_from = Some(a.to_owned()),
                _ => t.unsupported(it, "not an e-mail address"),
            },
            "smtp_server" => match it.arg() {
                Some(h) if h.parse::<IpAddr>().is_ok() || node_name(h).is_some() => {
                    t.smtp = Some(match it.args.get(1) {
                        Some(p) if uint(p).is_some_and(|p| p != 25 && p > 0 && p < 65536) => format!("{h}:{p}"),
                        _ => h.to_owned(),
                    });
                }
                _ => t.unsupported(it, "not a host name or address"),
            },
            "lvs_sync_daemon" | "lvs_sync_daemon_interface" | "lvs_sync_daemon_inteface" => sync_daemon(t, it),
            "vrrp_version" => match it.arg().and_then(uint).filter(|v| (2..=3).contains(v)) {
                Some(v) => t.vrrp_version = Some(v as u32),
                None => t.unsupported(it, "not 2 or 3"),
            },
            _ => t.unknown(it, "global_defs"),
        }
    }
}

/// `lvs_sync_daemon IFACE [INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group ADDR]` and the old
/// `lvs_sync_daemon_interface IFACE` → ha.cf `lvs_sync_daemon IFACE [id N] …`.
fn sync_daemon(t: &mut Tr, it: &Item) {
    let Some(iface) = it.arg().filter(|i| node_name(i).is_some()) else {
        t.unsupported(it, "no usable interface name");
        return;
    };
    let mut line = format!("lvs_sync_daemon {iface}");
    let mut rest = it.args[1..].iter();
    let mut first = true;
    while let Some(w) = rest.next() {
        match w.as_str() {
            // The ranges ha.cf's lvs_sync_daemon accepts (id and ttl are one byte on the wire).
            "id" | "maxlen" | "port" | "ttl" => {
                let (lo, hi) = match w.as_str() {
                    "id" => (0, 255),
                    "ttl" => (1, 255),
                    _ => (1, 65535),
                };
                match rest.next() {
                    Some(v) if v.parse::<u32>().is_ok_and(|x| (lo..=hi).contains(&x)) => {
                        let _ = write!(line, " {w} {v}");
                    }
                    Some(v) => t.skip(&it.loc, format!("lvs_sync_daemon {w} {v} is not from {lo} to {hi}; not carried over")),
                    None => t.skip(&it.loc, format!("lvs_sync_daemon option {w} without a number; not carried over")),
                }
            }
            "group" => match rest.next().filter(|v| v.parse::<IpAddr>().is_ok_and(|a| a.is_multicast())) {
                Some(v) => {
                    let _ = write!(line, " group {v}");
                }
                None => t.skip(&it.loc, "lvs_sync_daemon group without a multicast address; not carried over"),
            },
            // The VRRP instance the role follows: in heartbeat-rs it follows the LVS resources.
            _ if first => {}
            other => t.skip(&it.loc, format!("lvs_sync_daemon option {other} not carried over (unknown)")),
        }
        first = false;
    }
    if it.key == "lvs_sync_daemon_inteface" {
        t.info.push(format!("{}: `lvs_sync_daemon_inteface` (the old misspelling) read as lvs_sync_daemon_interface", it.loc));
    }
    match &t.sync {
        None => t.sync = Some(line),
        // The same daemon named in each VRRP instance is one daemon.
        Some(l) if *l == line => {}
        Some(_) => t.unsupported(it, "a second sync daemon; heartbeat-rs runs one (the first is kept)"),
    }
}

fn vrrp_instance(t: &mut Tr, vi: &Item) {
    let mut inst = Instance { name: vi.arg().unwrap_or("").to_owned(), ..Instance::default() };
    for it in vi.children() {
        match it.key.as_str() {
            "state" => match it.arg().map(str::to_ascii_uppercase).as_deref() {
                Some("MASTER") => inst.master = true,
                Some("BACKUP") => {}
                _ => t.unsupported(it, "unknown state, read as BACKUP (as keepalived does)"),
            },
            "interface" => match it.arg().filter(|i| node_name(i).is_some()) {
                Some(i) => inst.iface = Some(i.to_owned()),
                None => t.unsupported(it, "not an interface name"),
            },
            "virtual_router_id" => match it.arg().and_then(uint).filter(|v| (1..=255).contains(v)) {
                Some(v) => inst.vrid = Some(v as u32),
                None => t.unsupported(it, "not a number from 1 to 255"),
            },
            "advert_int" => match it.arg().and_then(seconds_ms) {
                Some(ms) => {
                    inst.advert_ms = Some(ms);
                    inst.advert_loc = Some(it.loc.clone());
                }
                None => t.unsupported(it, "not a number of seconds"),
            },
            "authentication" => {
                for a in it.children() {
                    match a.key.as_str() {
                        "auth_type" => match a.arg().map(str::to_ascii_uppercase).as_deref() {
                            Some("PASS") => {}
                            Some("AH") => t.info.push(format!("{}: auth_type AH becomes Heartbeat's sha1 HMAC", a.loc)),
                            _ => t.unsupported(a, "unknown authentication type"),
                        },
                        "auth_pass" => match a.arg() {
                            Some(p) if !p.is_empty() => {
                                // keepalived uses only the first 8 characters.
                                let p: String = p.chars().take(8).collect();
                                inst.auth_pass = Some((p, a.loc.clone()));
                            }
                            _ => t.unsupported(a, "empty password"),
                        },
                        _ => t.unknown(a, "authentication"),
                    }
                }
            }
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                for a in it.children() {
                    vip(t, &mut inst, a);
                }
            }
            "unicast_peer" => {
                for a in it.children() {
                    match a.key.parse::<IpAddr>() {
                        Ok(ip) => inst.peers.push(ip),
                        Err(_) => t.skip(&a.loc, format!("unicast peer {} is not an IP address; not carried over", a.key)),
                    }
                    if !a.args.is_empty() {
                        t.skip(&a.loc, "unicast peer options (min_ttl, max_ttl) not carried over: Heartbeat has none");
                    }
                }
            }
            // Our ucast lines name the peer; the source address follows from the interface.
            "unicast_src_ip" => {}
            // Heartbeat has node preference instead of priorities: the owner of the group comes
            // from `state` (the MASTER is the highest-priority node in a working pair).
            "priority" => {}
            "nopreempt" => inst.nopreempt = Some(it.loc.clone()),
            // Used for the timers: VRRPv2 has whole-second adverts only.
            "version" => match it.arg().and_then(uint).filter(|v| (2..=3).contains(v)) {
                Some(v) => inst.version = Some(v as u32),
                None => t.unsupported(it, "not 2 or 3"),
            },
            "preempt" => {}
            "lvs_sync_daemon" | "lvs_sync_daemon_interface" | "lvs_sync_daemon_inteface" => sync_daemon(t, it),
            _ => t.unknown(it, "vrrp_instance"),
        }
    }
    if inst.name.is_empty() {
        t.skip(&vi.loc, "vrrp_instance without a name (keepalived ignores it); its settings are kept");
        inst.name = format!("instance{}", t.instances.len() + 1);
    }
    t.instances.push(inst);
}

fn vip(t: &mut Tr, inst: &mut Instance, a: &Item) {
    let (addr, prefix) = match a.key.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (a.key.as_str(), None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        t.skip(&a.loc, format!("virtual address {} is not an IP address; not carried over", a.key));
        return;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix.map(|p| p.parse::<u8>()) {
        None => max,
        Some(Ok(p)) if (1..=max).contains(&p) => p,
        Some(_) => {
            t.skip(&a.loc, format!("virtual address {}: bad prefix length; not carried over", a.key));
            return;
        }
    };
    let mut dev = inst.iface.clone();
    let mut brd = None;
    let mut words = a.args.iter();
    while let Some(w) = words.next() {
        match (w.as_str(), words.next()) {
            ("dev", Some(d)) if node_name(d).is_some() => dev = Some(d.clone()),
            ("brd", Some(b)) if ip.is_ipv4() && b.parse::<IpAddr>().is_ok() => brd = Some(b.clone()),
            ("label", Some(l)) => t.info.push(format!("{}: label {l} dropped: IPaddr names its alias itself", a.loc)),
            (w, _) => t.skip(&a.loc, format!("virtual address option {w} not carried over: IPaddr has no equivalent")),
        }
    }
    let spec = match (ip, dev, brd) {
        (IpAddr::V4(_), Some(d), Some(b)) => format!("IPaddr::{ip}/{prefix}/{d}/{b}"),
        (IpAddr::V4(_), Some(d), None) => format!("IPaddr::{ip}/{prefix}/{d}"),
        (IpAddr::V4(_), None, _) => format!("IPaddr::{ip}/{prefix}"),
        (IpAddr::V6(_), Some(d), _) => format!("IPv6addr::{ip}/{prefix}/{d}"),
        (IpAddr::V6(_), None, _) => format!("IPv6addr::{ip}/{prefix}"),
    };
    if t.instances.iter().chain(std::iter::once(&*inst)).any(|i| i.vips.iter().any(|v| v.0 == ip)) {
        t.skip(&a.loc, format!("virtual address {ip} is already held by another resource; not carried over twice"));
        return;
    }
    inst.vips.push((ip, spec));
}

fn sync_group(t: &mut Tr, g: &Item) {
    let mut members = Vec::new();
    for it in g.children() {
        match it.key.as_str() {
            "group" => members.extend(it.children().iter().map(|m| m.key.clone())),
            _ => t.unknown(it, "vrrp_sync_group"),
        }
    }
    t.sync_groups.push((g.arg().unwrap_or("").to_owned(), members, g.loc.clone()));
}

/// One ldirectord check, as the lines it writes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Check {
    lines: Vec<String>,
}

/// Checker settings a `virtual_server` or `real_server` gives every check below it.
#[derive(Debug, Clone, Copy, Default)]
struct CheckDefaults {
    timeout: Option<u64>,
    retry: Option<u64>,
}

impl CheckDefaults {
    /// Reads `connect_timeout` / `retry` / `nb_get_retry`; false for any other keyword.
    fn read(&mut self, t: &mut Tr, it: &Item) -> bool {
        match it.key.as_str() {
            "connect_timeout" => match it.arg().and_then(seconds_ms) {
                Some(ms) => self.timeout = Some(ms.div_ceil(1000).max(1)),
                None => t.unsupported(it, "not a number of seconds"),
            },
            "retry" | "nb_get_retry" => match it.arg().and_then(uint).filter(|r| *r < 1000) {
                Some(r) => self.retry = Some(r),
                None => t.unsupported(it, "not a number"),
            },
            _ => return false,
        }
        true
    }
}

/// `inhibit_on_failure [BOOL]`: bare means on.
fn flag(it: &Item) -> bool {
    !matches!(it.arg().map(str::to_ascii_lowercase).as_deref(), Some("false" | "no" | "off" | "0"))
}

#[derive(Default)]
struct Virtual {
    reals: Vec<String>,
    check: Option<(Check, Loc)>,
    lines: Vec<String>,
    quiescent_reals: usize,
    real_count: usize,
    /// Reals without a checker (keepalived keeps them up unconditionally).
    unchecked: Vec<Loc>,
}

fn forward(kind: &str) -> Option<&'static str> {
    match kind.to_ascii_uppercase().as_str() {
        "DR" => Some("gate"),
        "NAT" => Some("masq"),
        "TUN" => Some("ipip"),
        _ => None,
    }
}

/// `lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [csum options]`: ldirectord's ipip is plain
/// IPIP, so other tunnel types and checksum options are reported.
fn method(t: &mut Tr, it: &Item) -> Option<&'static str> {
    let k = it.arg().and_then(forward);
    if k.is_some() && it.args.len() > 1 && it.args[1..] != ["type".to_owned(), "ipip".to_owned()] {
        t.skip(&it.loc, format!("tunnel options `{}` not carried over: ldirectord's ipip is plain IPIP", it.args[1..].join(" ")));
    }
    k
}

/// `IP PORT` (keepalived's two words) as ldirectord's `IP:PORT` / `[IP6]:PORT`.
/// Without a port (the reals of a firewall-mark service take the client's), the address alone.
fn hostport(ip: IpAddr, port: Option<&str>) -> String {
    match (ip, port) {
        (IpAddr::V4(a), Some(p)) => format!("{a}:{p}"),
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (IpAddr::V4(a), None) => a.to_string(),
        (IpAddr::V6(a), None) => format!("[{a}]"),
    }
}

fn port(s: &str) -> Option<&str> {
    uint(s).filter(|p| (1..=65535).contains(p)).map(|_| s)
}

/// The service addresses of a `virtual_server` header: `IP PORT`, `fwmark N`, `group NAME`.
fn endpoints(t: &mut Tr, vs: &Item) -> Vec<(Option<IpAddr>, String)> {
    let a = &vs.args;
    match a.first().map(String::as_str) {
        Some("fwmark") => match a.get(1).and_then(|m| uint(m)).filter(|m| *m > 0 && *m <= u32::MAX as u64) {
            Some(m) => vec![(None, format!("virtual={m}"))],
            None => {
                t.skip(&vs.loc, "virtual_server fwmark without a valid mark; service not carried over");
                vec![]
            }
        },
        Some("group") => {
            let name = a.get(1).cloned().unwrap_or_default();
            let Some((_, members, _)) = t.groups.iter().find(|g| g.0 == name).cloned() else {
                t.skip(&vs.loc, format!("virtual_server_group {name} is not defined; service not carried over"));
                return vec![];
            };
            let mut out = Vec::new();
            for m in &members {
                out.extend(group_member(t, m));
            }
            out
        }
        Some(ip) => match (ip.parse::<IpAddr>(), a.get(1).and_then(|p| port(p))) {
            (Ok(addr), Some(p)) => vec![(Some(addr), virtual_line(addr, p))],
            _ => {
                t.skip(&vs.loc, format!("virtual_server {} is not `IP PORT`; service not carried over", a.join(" ")));
                vec![]
            }
        },
        None => vec![],
    }
}

fn virtual_line(addr: IpAddr, p: &str) -> String {
    match addr {
        IpAddr::V4(_) => format!("virtual={}", hostport(addr, Some(p))),
        IpAddr::V6(_) => format!("virtual6={}", hostport(addr, Some(p))),
    }
}

/// One `virtual_server_group` line: `IP PORT`, `IP-LAST PORT` (a range of the last part),
/// `IP/PREFIX PORT` (not carried), `fwmark N`.
fn group_member(t: &mut Tr, m: &Item) -> Vec<(Option<IpAddr>, String)> {
    if m.key == "fwmark" {
        return match m.arg().and_then(uint).filter(|v| *v > 0 && *v <= u32::MAX as u64) {
            Some(v) => vec![(None, format!("virtual={v}"))],
            None => {
                t.skip(&m.loc, "group fwmark without a valid mark; not carried over");
                vec![]
            }
        };
    }
    let Some(p) = m.arg().and_then(port) else {
        t.skip(&m.loc, format!("group member {} has no valid port; not carried over", m.key));
        return vec![];
    };
    if let Ok(a) = m.key.parse::<IpAddr>() {
        return vec![(Some(a), virtual_line(a, p))];
    }
    if let Some((first, last)) = m.key.rsplit_once('-') {
        if let (Ok(std::net::IpAddr::V4(a)), Some(end)) = (first.parse::<IpAddr>(), uint(last).filter(|e| *e <= 255)) {
            let o = a.octets();
            if u64::from(o[3]) <= end {
                return (u64::from(o[3])..=end)
                    .map(|x| {
                        let ip = IpAddr::V4(std::net::Ipv4Addr::new(o[0], o[1], o[2], x as u8));
                        (Some(ip), virtual_line(ip, p))
                    })
                    .collect();
            }
        }
    }
    t.skip(&m.loc, format!("group member {} is not an address or a range; not carried over", m.key));
    vec![]
}

fn virtual_server(t: &mut Tr, vs: &Item) {
    let heads = endpoints(t, vs);
    let fwmark = heads.first().is_some_and(|h| h.0.is_none());
    let v6 = heads.first().is_some_and(|h| h.0.is_some_and(|a| a.is_ipv6()));
    let mut v = Virtual::default();
    let mut kind = "masq"; // keepalived's default forwarding method is NAT
    let mut sched = "wlc".to_owned();
    let mut protocol = None;
    let mut delay_loop: Option<u64> = None;
    let mut quiescent = false;
    let mut fallback: Option<(String, Option<String>)> = None;
    let mut reals = Vec::new();
    let mut virtualhost = None;
    let mut defaults = CheckDefaults::default();
    for it in vs.children() {
        if defaults.read(t, it) {
            continue;
        }
        match it.key.as_str() {
            "delay_loop" => match it.arg().and_then(seconds_ms) {
                Some(ms) => delay_loop = Some(ms.div_ceil(1000).max(1)),
                None => t.unsupported(it, "not a number of seconds"),
            },
            "lb_algo" | "lvs_sched" => match it.arg() {
                Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase()) => sched = s.to_owned(),
                _ => t.unsupported(it, "not a scheduler name"),
            },
            "lb_kind" | "lvs_method" => match method(t, it) {
                Some(k) => kind = k,
                None => {
                    t.unsupported(it, "not DR, NAT or TUN (FNAT belongs to a non-mainline LVS fork; keepalived 2.2.7 falls back to NAT)")
                }
            },
            // A bare `persistence_timeout` means keepalived's default, 6 minutes.
            "persistence_timeout" => match if it.args.is_empty() { Some(360) } else { it.arg().and_then(uint).filter(|p| *p > 0) } {
                Some(p) => v.lines.push(format!("persistent={p}")),
                None => t.unsupported(it, "not a positive number of seconds (keepalived ignores it)"),
            },
            "persistence_granularity" => match it.arg() {
                Some(m) if m.split('.').count() == 4 && m.parse::<std::net::Ipv4Addr>().is_ok() => v.lines.push(format!("netmask={m}")),
                _ => t.unsupported(it, "not a dotted netmask"),
            },
            "protocol" => match it.arg().map(str::to_ascii_uppercase).as_deref() {
                Some("TCP") => protocol = Some("tcp"),
                Some("UDP") => protocol = Some("udp"),
                _ => t.unsupported(it, "ldirectord serves TCP and UDP only"),
            },
            "inhibit_on_failure" => quiescent = flag(it),
            "sorry_server" => match (it.arg().and_then(|a| a.parse::<IpAddr>().ok()), it.args.get(1).and_then(|p| port(p))) {
                // Without a port, the service's own (ldirectord reads a fallback without one so too).
                (Some(a), p) if a.is_ipv6() == v6 && (p.is_some() || it.args.len() == 1) => fallback = Some((hostport(a, p), None)),
                _ => t.unsupported(it, "not `IP PORT` of the virtual server's address family"),
            },
            "sorry_server_lvs_method" => match (fallback.as_mut(), method(t, it)) {
                (Some(f), Some(k)) => f.1 = Some(k.to_owned()),
                _ => t.unsupported(it, "no sorry_server before it or not DR, NAT or TUN"),
            },
            "virtualhost" => match it.arg() {
                Some(h) if quote_ok(h) => virtualhost = Some(h.to_owned()),
                _ => t.unsupported(it, "empty"),
            },
            "ops" => v.lines.push("ops=yes".into()),
            "real_server" => reals.push(it),
            _ => t.unknown(it, "virtual_server"),
        }
    }
    for r in reals {
        real_server(t, &mut v, r, kind, fwmark, v6, defaults);
    }
    if let Some((_, at)) = &v.check {
        for loc in std::mem::take(&mut v.unchecked) {
            t.skip(
                &loc,
                format!("real_server without a check: keepalived keeps it up unconditionally, ldirectord checks it with the check at {at}"),
            );
        }
    }
    if heads.is_empty() {
        return;
    }
    if let Some(h) = virtualhost {
        v.lines.push(format!("virtualhost=\"{h}\""));
    }
    let mut body = Vec::new();
    body.extend(v.reals.iter().cloned());
    if let Some((addr, k)) = fallback {
        let key = if v6 { "fallback6" } else { "fallback" };
        body.push(format!("{key}={addr} {}", k.as_deref().unwrap_or(kind)));
    }
    body.push(format!("scheduler={sched}"));
    if protocol.is_none() && heads.iter().any(|h| h.0.is_some()) {
        t.info.push(format!("{}: no protocol; written as tcp (keepalived 2.2.7 would default to UDP and warn)", vs.loc));
    }
    body.extend(v.lines.iter().cloned());
    match &v.check {
        Some((c, _)) => body.extend(c.lines.iter().cloned()),
        None => body.push("checktype=on".into()),
    }
    body.push(format!("checkinterval={}", delay_loop.unwrap_or(60)));
    if quiescent || (v.real_count > 0 && v.quiescent_reals == v.real_count) {
        body.push("quiescent=yes".into());
    } else if v.quiescent_reals > 0 {
        t.skip(&vs.loc, "inhibit_on_failure on some real servers only: ldirectord's quiescent is per virtual service; not carried over");
    }
    for (addr, head) in &heads {
        if !t.heads.insert(head.clone()) {
            t.skip(&vs.loc, format!("`{head}` is defined twice; the first definition is kept (ldirectord refuses duplicates)"));
            continue;
        }
        let mut s = format!("{head}\n");
        if let Some(a) = addr {
            t.virtual_addrs.push(*a);
            let _ = writeln!(s, "\tprotocol={}", protocol.unwrap_or("tcp"));
        }
        for l in &body {
            let _ = writeln!(s, "\t{l}");
        }
        t.virtuals.push((head.clone(), s));
    }
}

#[allow(clippy::too_many_arguments)]
fn real_server(t: &mut Tr, v: &mut Virtual, r: &Item, kind: &str, fwmark: bool, v6: bool, mut defaults: CheckDefaults) {
    // ldirectord keeps an IPv4 service's reals IPv4 and an IPv6 service's IPv6.
    let addr = r.arg().and_then(|a| a.parse::<IpAddr>().ok()).filter(|a| a.is_ipv6() == v6);
    let p = r.args.get(1).and_then(|p| port(p));
    let Some(addr) = addr.filter(|_| p.is_some() || fwmark) else {
        t.skip(
            &r.loc,
            format!("real_server {} is not `IP PORT` of the virtual server's address family; not carried over", r.args.join(" ")),
        );
        return;
    };
    v.real_count += 1;
    let mut weight = 1u64;
    let mut kind = kind.to_owned();
    let mut checks = 0;
    // Defaults for the checks may follow the checks in the block: read them first.
    let mut rest = Vec::new();
    for it in r.children() {
        if !defaults.read(t, it) {
            rest.push(it);
        }
    }
    for it in rest {
        match it.key.as_str() {
            "weight" => match it.arg().and_then(uint).filter(|w| *w <= 65535) {
                Some(w) => weight = w,
                None => t.unsupported(it, "not a weight from 0 to 65535"),
            },
            "lvs_method" | "lb_kind" => match method(t, it) {
                Some(k) => kind = k.to_owned(),
                None => t.unsupported(it, "not DR, NAT or TUN"),
            },
            "inhibit_on_failure" => v.quiescent_reals += usize::from(flag(it)),
            "delay_loop" => t.unsupported(it, "ldirectord's checkinterval is per virtual service (virtual_server's delay_loop is used)"),
            k if k.ends_with("_CHECK") || k.ends_with("_GET") => {
                checks += 1;
                let Some(c) = check(t, it, fwmark, defaults) else { continue };
                match &v.check {
                    None if checks == 1 => v.check = Some((c, it.loc.clone())),
                    None => t.unsupported(it, "ldirectord runs one check per virtual service; the first check of a real server is used"),
                    Some((first, at)) if *first != c || checks > 1 => {
                        let msg = format!("ldirectord runs one check per virtual service; the check at {at} is used for every real server");
                        t.unsupported(it, &msg);
                    }
                    Some(_) => {}
                }
            }
            _ => t.unknown(it, "real_server"),
        }
    }
    if checks == 0 {
        v.unchecked.push(r.loc.clone());
    }
    let hp = hostport(addr, p);
    let key = if addr.is_ipv6() { "real6" } else { "real" };
    v.reals.push(format!("{key}={hp} {kind} {weight}"));
}

/// One keepalived checker block as ldirectord lines.
fn check(t: &mut Tr, c: &Item, fwmark: bool, defaults: CheckDefaults) -> Option<Check> {
    let mut lines = Vec::new();
    let (kind, service) = match c.key.as_str() {
        "TCP_CHECK" => ("connect", None),
        "HTTP_GET" => ("negotiate", Some("http")),
        "SSL_GET" => ("negotiate", Some("https")),
        "SMTP_CHECK" => ("negotiate", Some("smtp")),
        "MISC_CHECK" => ("external", None),
        "PING_CHECK" => ("ping", None),
        _ => {
            t.unsupported(c, "ldirectord has no such check (connect, negotiate http/https/smtp, external and ping are carried over)");
            return None;
        }
    };
    lines.push(format!("checktype={kind}"));
    if let Some(s) = service {
        lines.push(format!("service={s}"));
    }
    let mut own = defaults;
    let mut urls = 0;
    for it in c.children() {
        match it.key.as_str() {
            "connect_port" => match it.arg().and_then(port) {
                Some(p) => lines.push(format!("checkport={p}")),
                None => t.unsupported(it, "not a port number"),
            },
            "connect_timeout" | "retry" | "nb_get_retry" => {
                own.read(t, it);
            }
            "misc_timeout" => match it.arg().and_then(seconds_ms) {
                Some(ms) => own.timeout = Some(ms.div_ceil(1000).max(1)),
                None => t.unsupported(it, "not a number of seconds"),
            },
            "misc_path" if kind == "external" => match it.arg() {
                Some(p) if quote_ok(p) => lines.push(format!("checkcommand=\"{p}\"")),
                _ => t.unsupported(it, "not a command"),
            },
            "url" if service == Some("http") || service == Some("https") => {
                urls += 1;
                if urls > 1 {
                    t.unsupported(it, "ldirectord checks one URL; the first is used");
                    continue;
                }
                for u in it.children() {
                    match u.key.as_str() {
                        "path" => match u.arg() {
                            Some(p) if quote_ok(p) => lines.push(format!("request=\"{p}\"")),
                            _ => t.unsupported(u, "not a path"),
                        },
                        "status_code" => {
                            if u.args.is_empty() || !u.args.iter().all(|s| status_2xx(s)) {
                                t.unsupported(u, "ldirectord's http check accepts exactly the 2xx status codes");
                            }
                        }
                        "regex" => match u.arg() {
                            Some(r) if quote_ok(r) && regex::Regex::new(r).is_ok() => lines.push(format!("receive=\"{r}\"")),
                            _ => t.unsupported(u, "not a regex ldirectord can use"),
                        },
                        "virtualhost" => match u.arg() {
                            Some(h) if quote_ok(h) => lines.push(format!("virtualhost=\"{h}\"")),
                            _ => t.unsupported(u, "empty"),
                        },
                        _ => t.unknown(u, "url"),
                    }
                }
            }
            "virtualhost" if service == Some("http") || service == Some("https") => match it.arg() {
                Some(h) if quote_ok(h) => lines.push(format!("virtualhost=\"{h}\"")),
                _ => t.unsupported(it, "empty"),
            },
            "delay_loop" => t.unsupported(it, "ldirectord's checkinterval is per virtual service (virtual_server's delay_loop is used)"),
            "connect_ip" | "bindto" | "bind_port" | "bindto_port" => {
                t.unsupported(it, "ldirectord checks the real server's own address from the director's")
            }
            _ => t.unknown(it, c.key.as_str()),
        }
    }
    if fwmark && kind != "ping" && kind != "external" && !lines.iter().any(|l| l.starts_with("checkport=")) {
        t.skip(&c.loc, "a check of a firewall-mark service without connect_port: the real server's port is used");
    }
    if service.is_some_and(|s| s.starts_with("http")) && !lines.iter().any(|l| l.starts_with("request=")) {
        lines.push("request=\"/\"".into());
    }
    if kind == "external" && !lines.iter().any(|l| l.starts_with("checkcommand=")) {
        t.skip(&c.loc, "MISC_CHECK without misc_path: checktype=on written instead");
        return Some(Check { lines: vec!["checktype=on".into()] });
    }
    // keepalived's defaults: 5 s; retry 1, 0 for MISC_CHECK.
    let timeout = own.timeout.unwrap_or(5);
    let retry = own.retry.unwrap_or(if kind == "external" { 0 } else { 1 });
    lines.push(format!("checktimeout={timeout}"));
    if kind == "negotiate" {
        lines.push(format!("negotiatetimeout={timeout}"));
    }
    lines.push(format!("failurecount={}", retry + 1));
    Some(Check { lines })
}

/// A status code or range (`200`, `200-299`) inside 2xx: what ldirectord's http check accepts.
fn status_2xx(s: &str) -> bool {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    matches!((uint(a), uint(b)), (Some(a), Some(b)) if (200..300).contains(&a) && (200..300).contains(&b) && a <= b)
}

fn finish(mut t: Tr) -> Output {
    let local = t.router_id.clone().unwrap_or_else(|| "node1".to_owned());
    let peer = format!("{local}-peer");
    t.info.push(format!("nodes are called {local} (this node) and {peer}; rename both in ha.cf and haresources to their `uname -n`"));

    // ha.cf
    // keepalived runs a VRRPv2 instance's fractional advert_int rounded to whole seconds
    // ("must be an integer. rounding"): so do we.
    let default_version = t.vrrp_version.unwrap_or(2);
    for i in &mut t.instances {
        if let (Some(ms), Some(loc)) = (i.advert_ms, &i.advert_loc) {
            if i.version.unwrap_or(default_version) == 2 && ms % 1000 != 0 {
                let whole = ((ms + 500) / 1000).max(1) * 1000;
                t.info.push(format!(
                    "{loc}: advert_int {} is read as {} s, as keepalived runs VRRPv2 (sub-second adverts need `version 3`)",
                    duration(ms),
                    whole / 1000
                ));
                i.advert_ms = Some(whole);
            }
        }
    }
    let advert = t.instances.iter().filter_map(|i| i.advert_ms).min().unwrap_or(1000);
    for i in &t.instances {
        if let Some((ms, loc)) = i.advert_ms.zip(i.advert_loc.clone()).filter(|(ms, _)| *ms != advert) {
            t.report.push(Note {
                loc,
                msg: format!(
                    "`advert_int` {} not carried over: Heartbeat has one keepalive for the cluster ({} is used)",
                    duration(ms),
                    duration(advert)
                ),
            });
        }
    }
    let dead = advert * 4;
    let mut ha = String::from("# ha.cf translated from keepalived.conf by `heartbeat import keepalived`\n");
    let _ = writeln!(ha, "keepalive {}", duration(advert));
    let _ = writeln!(ha, "warntime {}", duration(advert * 2));
    let _ = writeln!(ha, "deadtime {}", duration(dead));
    let _ = writeln!(ha, "initdead {}", duration((dead * 2).max(10_000)));
    // keepalived logs to syslog's daemon facility.
    ha.push_str("logfacility daemon\nudpport 694\n");
    let mut media: Vec<String> = Vec::new();
    for i in &t.instances {
        let Some(iface) = &i.iface else { continue };
        if i.peers.is_empty() {
            let m = format!("mcast {iface} 239.0.0.{} 694 1 0", i.vrid.unwrap_or(1).clamp(1, 254));
            if !media.iter().any(|x| x.starts_with(&format!("mcast {iface} "))) {
                media.push(m);
            }
        }
        for p in &i.peers {
            let m = if p.is_ipv4() { format!("ucast {iface} {p}") } else { format!("ucast6 {iface} {p}") };
            if !media.contains(&m) {
                media.push(m);
            }
        }
    }
    if media.is_empty() {
        media.push("bcast eth0".into());
        t.info.push("no VRRP interface to talk over; ha.cf says `bcast eth0`: set the cluster link".into());
    }
    for m in &media {
        let _ = writeln!(ha, "{m}");
    }
    let failback = if t.instances.iter().any(|i| i.nopreempt.is_some()) { "off" } else { "on" };
    if t.instances.iter().any(|i| i.nopreempt.is_none()) {
        for i in &t.instances {
            if let Some(loc) = &i.nopreempt {
                t.report.push(Note {
                    loc: loc.clone(),
                    msg: "`nopreempt` not carried over for this instance alone: Heartbeat's auto_failback is one setting for the cluster (written as off)".into(),
                });
            }
        }
    }
    let _ = writeln!(ha, "auto_failback {failback}");
    let _ = writeln!(ha, "node {local}\nnode {peer}");
    if let Some(s) = &t.sync {
        let _ = writeln!(ha, "{s}");
    }

    // authkeys
    let mut keys = String::from("# authkeys translated from keepalived.conf (mode 0600)\nauth 1\n");
    let mut pass: Option<(String, Loc)> = None;
    for i in &t.instances {
        if let Some((p, loc)) = &i.auth_pass {
            match &pass {
                None => pass = Some((p.clone(), loc.clone())),
                Some((q, _)) if q == p => {}
                Some(_) => t.report.push(Note {
                    loc: loc.clone(),
                    msg: "`auth_pass` not carried over: Heartbeat has one key for the cluster; the first instance's is used".into(),
                }),
            }
        }
    }
    match &pass {
        Some((p, _)) if !p.chars().any(char::is_whitespace) => {
            let _ = writeln!(keys, "1 sha1 {p}");
        }
        Some((_, loc)) => {
            t.report.push(Note {
                loc: loc.clone(),
                msg: "`auth_pass` with blanks not carried over: an authkeys key is one word; `1 crc` written".into(),
            });
            keys.push_str("1 crc\n");
        }
        None => keys.push_str("1 crc\n"),
    }

    // haresources: one group per VRRP instance, or per sync group.
    let mut groups: Vec<(bool, Vec<String>)> = Vec::new();
    let mut taken = vec![false; t.instances.len()];
    for (_, members, loc) in &t.sync_groups {
        let states: Vec<bool> = t.instances.iter().filter(|i| members.contains(&i.name)).map(|i| i.master).collect();
        if states.iter().any(|m| *m) && states.iter().any(|m| !m) {
            t.report.push(Note {
                loc: loc.clone(),
                msg: "`vrrp_sync_group` members in both MASTER and BACKUP state: one resource group has one owner (this node, as a MASTER member)".into(),
            });
        }
        let mut g: (bool, Vec<String>) = (false, Vec::new());
        for m in members {
            if let Some(ix) = t.instances.iter().position(|i| &i.name == m) {
                if !taken[ix] {
                    taken[ix] = true;
                    g.0 |= t.instances[ix].master;
                    g.1.extend(t.instances[ix].vips.iter().map(|v| v.1.clone()));
                }
            }
        }
        groups.push(g);
    }
    for (ix, i) in t.instances.iter().enumerate() {
        if !taken[ix] {
            groups.push((i.master, i.vips.iter().map(|v| v.1.clone()).collect()));
        }
    }
    if !t.virtuals.is_empty() {
        // ldirectord runs with the group holding a virtual service's address, else the first.
        let all_vips: Vec<Vec<IpAddr>> = {
            let mut v = Vec::new();
            for (_, members, _) in &t.sync_groups {
                v.push(t.instances.iter().filter(|i| members.contains(&i.name)).flat_map(|i| i.vips.iter().map(|x| x.0)).collect());
            }
            for (ix, i) in t.instances.iter().enumerate() {
                if !taken[ix] {
                    v.push(i.vips.iter().map(|x| x.0).collect());
                }
            }
            v
        };
        let at = all_vips.iter().position(|g| g.iter().any(|a| t.virtual_addrs.contains(a))).unwrap_or(0);
        match groups.get_mut(at) {
            Some(g) => g.1.push("ldirectord::ldirectord.cf".into()),
            None => groups.push((true, vec!["ldirectord::ldirectord.cf".into()])),
        }
    }
    let mut hr = String::from("# haresources translated from keepalived.conf\n");
    for (master, res) in &groups {
        if !res.is_empty() {
            let _ = writeln!(hr, "{} {}", if *master { &local } else { &peer }, res.join(" "));
        }
    }

    // ldirectord.cf
    // fork=yes: keepalived runs every checker on its own timer, as ldirectord does with fork.
    let mut ld = String::from("# ldirectord.cf translated from keepalived.conf\nfork=yes\n");
    if let Some((e, _)) = t.emails.first() {
        let _ = writeln!(ld, "emailalert=\"{e}\"");
    }
    for (e, loc) in t.emails.iter().skip(1) {
        t.report.push(Note {
            loc: loc.clone(),
            msg: format!("notification address {e} not carried over: ldirectord mails one address (the first)"),
        });
    }
    if let Some(f) = &t.email_from {
        let _ = writeln!(ld, "emailalertfrom=\"{f}\"");
    }
    if let Some(s) = &t.smtp {
        let _ = writeln!(ld, "smtp={s}");
    }
    for (_, v) in &t.virtuals {
        ld.push('\n');
        ld.push_str(v);
    }
    t.report.sort_by(|a, b| (&*a.loc.file, a.loc.line).cmp(&(&*b.loc.file, b.loc.line)));
    Output { ha_cf: ha, haresources: hr, authkeys: keys, ldirectord_cf: ld, report: t.report, info: t.info }
}
