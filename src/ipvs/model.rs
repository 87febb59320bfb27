//! The IPVS table as data: services, destinations and their settings. Pure; no I/O.
//!
//! Services and destinations keep the order they were added or dumped in (the kernel's order),
//! because `ipvsadm -Ln` prints in that order; comparisons for convergence use the keys.

use std::fmt;
use std::net::IpAddr;

/// Transport protocol of an address service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IP protocol number the kernel uses.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn from_number(n: u16) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The name `ipvsadm -Ln` prints.
    pub fn listing_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    pub fn from_listing_name(name: &str) -> Option<Protocol> {
        [Protocol::Tcp, Protocol::Udp, Protocol::Sctp].into_iter().find(|p| p.listing_name() == name)
    }
}

/// What identifies a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    Inet { protocol: Protocol, addr: IpAddr, port: u16 },
    Fwmark { ipv6: bool, mark: u32 },
}

impl ServiceKey {
    pub fn is_ipv6(&self) -> bool {
        match self {
            ServiceKey::Inet { addr, .. } => addr.is_ipv6(),
            ServiceKey::Fwmark { ipv6, .. } => *ipv6,
        }
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            ServiceKey::Inet { port, .. } => Some(*port),
            ServiceKey::Fwmark { .. } => None,
        }
    }
}

impl fmt::Display for ServiceKey {
    /// The way `ipvsadm` names a service on its command line: `-t 10.0.0.1:80`, `-f 5 -6` (the
    /// mark printed with `%d`, as `ipvsadm -S` does).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Inet { protocol, addr, port } => {
                let flag = match protocol {
                    Protocol::Tcp => "-t",
                    Protocol::Udp => "-u",
                    Protocol::Sctp => "--sctp-service",
                };
                write!(f, "{flag} {}", SockAddr(*addr, *port))
            }
            ServiceKey::Fwmark { ipv6, mark } => write!(f, "-f {}{}", *mark as i32, if *ipv6 { " -6" } else { "" }),
        }
    }
}

/// `addr:port` as ipvsadm prints it: glibc's `inet_ntop`, IPv6 always bracketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockAddr(pub IpAddr, pub u16);

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{}]:{}", inet_ntop6(&a), self.1),
        }
    }
}

/// glibc's IPv6 text: as Rust's, except that an address whose first six words are zero and
/// seventh is not prints its last 32 bits dotted (`::1.2.3.4`).
pub fn inet_ntop6(a: &std::net::Ipv6Addr) -> String {
    let w = a.segments();
    if w[..6].iter().all(|&x| x == 0) && w[6] != 0 {
        let o = a.octets();
        return format!("::{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
    }
    a.to_string()
}

/// Service flags (`IP_VS_SVC_F_*`).
pub mod flags {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    /// Flags a user sets; the kernel reports HASHED too, which is not configuration.
    pub const USER: u32 = PERSISTENT | ONEPACKET | SCHED1 | SCHED2 | SCHED3;

    /// ipvsadm's names of the scheduler flags (`-b`, and in `-Ln` listings), for a scheduler.
    pub fn sched_names(scheduler: &str) -> &'static [(u32, &'static str)] {
        match scheduler {
            "sh" => &[(SCHED1, "sh-fallback"), (SCHED2, "sh-port")],
            "mh" => &[(SCHED1, "mh-fallback"), (SCHED2, "mh-port")],
            _ => &[(SCHED1, "flag-1"), (SCHED2, "flag-2"), (SCHED3, "flag-3")],
        }
    }

    /// The flag bit of a scheduler flag name, whatever the scheduler.
    pub fn sched_from_name(name: &str) -> Option<u32> {
        ["sh", "mh", ""].iter().flat_map(|s| sched_names(s)).find(|(_, n)| *n == name).map(|(b, _)| *b)
    }
}

/// The settings of a service (what `-A`/`-E` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConf {
    pub scheduler: String,
    /// `IP_VS_SVC_F_*` user flags (persistent, one-packet, scheduler flags).
    pub flags: u32,
    /// Persistence timeout in seconds (meaningful with the PERSISTENT flag).
    pub timeout: u32,
    /// IPv4: the mask as a number (`0xffffffff` = /32); IPv6: the prefix length.
    pub netmask: u32,
    /// Persistence engine (`--pe sip`).
    pub pe_name: Option<String>,
}

impl ServiceConf {
    /// Defaults of `ipvsadm -A` with a scheduler: not persistent, full netmask.
    pub fn new(scheduler: &str, ipv6: bool) -> ServiceConf {
        ServiceConf { scheduler: scheduler.to_owned(), flags: 0, timeout: 0, netmask: if ipv6 { 128 } else { 0xffff_ffff }, pe_name: None }
    }

    pub fn persistent(&self) -> Option<u32> {
        (self.flags & flags::PERSISTENT != 0).then_some(self.timeout)
    }
}

/// Forwarding method of a destination (`IP_VS_CONN_F_*` numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Forward {
    /// NAT (`-m`, ldirectord `masq`).
    Masq,
    /// The kernel's choice for a local address.
    Local,
    /// IP-in-IP (`-i`, ldirectord `ipip`).
    Tunnel,
    /// Direct routing (`-g`, ldirectord `gate`).
    Route,
}

impl Forward {
    pub fn number(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::Route => 3,
        }
    }

    pub fn from_number(n: u32) -> Option<Forward> {
        match n & 0x7 {
            0 => Some(Forward::Masq),
            1 => Some(Forward::Local),
            2 => Some(Forward::Tunnel),
            3 => Some(Forward::Route),
            _ => None,
        }
    }

    /// The option `ipvsadm -a/-e` takes (`-S` saves a local destination as `-g`).
    pub fn ipvsadm_flag(self) -> &'static str {
        match self {
            Forward::Masq => "-m",
            Forward::Tunnel => "-i",
            Forward::Route | Forward::Local => "-g",
        }
    }

    pub fn from_listing_name(name: &str) -> Option<Forward> {
        [Forward::Masq, Forward::Local, Forward::Tunnel, Forward::Route].into_iter().find(|f| f.listing_name() == name)
    }

    /// The word `ipvsadm -Ln` prints.
    pub fn listing_name(self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Local => "Local",
            Forward::Tunnel => "Tunnel",
            Forward::Route => "Route",
        }
    }
}

/// What identifies a destination within a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

/// The settings of a destination (what `-a`/`-e` set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestConf {
    pub forward: Forward,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
}

/// Traffic statistics the kernel keeps per service and destination (`--stats`, `--rate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// Counters the kernel reports; never part of desired state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DestCounters {
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    pub key: DestKey,
    pub conf: DestConf,
    pub counters: DestCounters,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    pub conf: ServiceConf,
    pub dests: Vec<Dest>,
    /// What the kernel reported; zero in desired state.
    pub stats: Stats,
}

impl Service {
    pub fn dest(&self, key: &DestKey) -> Option<&Dest> {
        self.dests.iter().find(|d| d.key == *key)
    }

    /// ipvsadm rewrites a direct-routing or tunnel destination's port to the service port (only
    /// NAT can change ports; the kernel itself keeps what it is given, as seen in the VM tier).
    /// Desired state does the same, so tables look as operators know them from ipvsadm.
    pub fn ipvsadm_dest_key(&self, key: DestKey, forward: Forward) -> DestKey {
        match (self.key, forward) {
            (ServiceKey::Inet { port, .. }, Forward::Route | Forward::Tunnel) => DestKey { port, ..key },
            _ => key,
        }
    }
}

/// A whole IPVS table (or the part of one we want).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub services: Vec<Service>,
}

impl Table {
    pub fn service(&self, key: &ServiceKey) -> Option<&Service> {
        self.services.iter().find(|s| s.key == *key)
    }

    pub fn service_mut(&mut self, key: &ServiceKey) -> Option<&mut Service> {
        self.services.iter_mut().find(|s| s.key == *key)
    }

    /// The same table with services and destinations sorted by key and counters zeroed: two
    /// tables with the same configuration compare equal whatever the kernel's hash order.
    pub fn canonical(&self) -> Table {
        let mut services: Vec<Service> = self
            .services
            .iter()
            .map(|s| {
                let mut dests: Vec<Dest> = s.dests.iter().map(|d| Dest { counters: DestCounters::default(), ..*d }).collect();
                dests.sort_by_key(|d| d.key);
                // The kernel adds its own HASHED flag; it is not configuration.
                let conf = ServiceConf { flags: s.conf.flags & flags::USER, ..s.conf.clone() };
                Service { key: s.key, conf, dests, stats: Stats::default() }
            })
            .collect();
        services.sort_by_key(|s| s.key);
        Table { services }
    }

    pub fn dest_count(&self) -> usize {
        self.services.iter().map(|s| s.dests.len()).sum()
    }
}

/// Sync daemon role (`ipvsadm --start-daemon master|backup`; the kernel's IP_VS_STATE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncRole {
    Master = 1,
    Backup = 2,
}

impl SyncRole {
    pub fn name(self) -> &'static str {
        match self {
            SyncRole::Master => "master",
            SyncRole::Backup => "backup",
        }
    }
}

/// A connection synchronisation daemon, as `ipvsadm --start-daemon` configures it. `None`
/// fields take the kernel's defaults (maxlen from the MTU, group 224.0.0.81, port 8848, ttl 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    pub role: SyncRole,
    pub iface: String,
    pub syncid: u8,
    pub maxlen: Option<u16>,
    pub group: Option<IpAddr>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
}

impl SyncDaemon {
    /// The line `ipvsadm -L --daemon` prints for it (fields the kernel reports only when set).
    pub fn listing(&self) -> String {
        let mut s = format!("{} sync daemon (mcast={}, syncid={}", self.role.name(), self.iface, self.syncid);
        if let Some(m) = self.maxlen {
            s.push_str(&format!(", maxlen={m}"));
        }
        if let Some(g) = self.group {
            s.push_str(&format!(", group={g}"));
        }
        if let Some(p) = self.port {
            s.push_str(&format!(", port={p}"));
        }
        if let Some(t) = self.ttl {
            s.push_str(&format!(", ttl={t}"));
        }
        s.push(')');
        s
    }

    /// Reads a line of [`SyncDaemon::listing`] (also what ipvsadm prints).
    pub fn parse_listing(line: &str) -> Option<SyncDaemon> {
        let line = line.trim();
        let (head, rest) = line.split_once(" sync daemon (")?;
        let role = match head {
            "master" => SyncRole::Master,
            "backup" => SyncRole::Backup,
            _ => return None,
        };
        let body = rest.strip_suffix(')')?;
        let mut d = SyncDaemon { role, iface: String::new(), syncid: 0, maxlen: None, group: None, port: None, ttl: None };
        for field in body.split(", ") {
            let (k, v) = field.split_once('=')?;
            match k {
                "mcast" => d.iface = v.to_owned(),
                "syncid" => d.syncid = v.parse().ok()?,
                "maxlen" => d.maxlen = Some(v.parse().ok()?),
                "group" => d.group = Some(v.parse().ok()?),
                "port" => d.port = Some(v.parse().ok()?),
                "ttl" => d.ttl = Some(v.parse().ok()?),
                _ => return None,
            }
        }
        (!d.iface.is_empty()).then_some(d)
    }
}
