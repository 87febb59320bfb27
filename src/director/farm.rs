//! The resolved form of an `ldirectord.cf`: every address and port a number, every check a
//! [`CheckSpec`] keyed by what it probes, every virtual service an IPVS key and settings.
//!
//! Pure except for name look-ups, which go through [`Resolve`] (the daemon passes the system's
//! resolver; tests pass a table). Built once per (re)load; the engine never resolves anything.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::ldirectord_cf::{self as cf, CheckType, DirectorConfig, Host, HttpMethod, Port, Service};
use crate::ipvs::model::{self, DestConf, DestKey, ServiceConf, ServiceKey};

/// Name look-ups a configuration needs.
pub trait Resolve {
    /// First address of `name` in the family (`ipv6`), as getaddrinfo would give it.
    fn host(&self, name: &str, ipv6: bool) -> Option<IpAddr>;
    /// A service name from `/etc/services` (`None` protocol: any).
    fn port(&self, name: &str, protocol: Option<&str>) -> Option<u16>;
}

/// The system's resolver: getaddrinfo through std, `/etc/services` read once.
pub struct SystemResolver {
    services: HashMap<(String, String), u16>,
}

impl SystemResolver {
    pub fn new() -> SystemResolver {
        let text = std::fs::read_to_string("/etc/services").unwrap_or_default();
        let mut services = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(pp)) = (words.next(), words.next()) else { continue };
            let Some((port, proto)) = pp.split_once('/') else { continue };
            let Ok(port) = port.parse::<u16>() else { continue };
            for n in std::iter::once(name).chain(words) {
                services.entry((n.to_owned(), proto.to_owned())).or_insert(port);
            }
        }
        SystemResolver { services }
    }
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver::new()
    }
}

impl Resolve for SystemResolver {
    fn host(&self, name: &str, ipv6: bool) -> Option<IpAddr> {
        use std::net::ToSocketAddrs;
        (name, 0).to_socket_addrs().ok()?.map(|a| a.ip()).find(|ip| ip.is_ipv6() == ipv6)
    }

    fn port(&self, name: &str, protocol: Option<&str>) -> Option<u16> {
        match protocol {
            Some(p) => self.services.get(&(name.to_owned(), p.to_owned())).copied(),
            None => ["tcp", "udp", "sctp"].iter().find_map(|p| self.services.get(&(name.to_owned(), (*p).to_owned())).copied()),
        }
        .or_else(|| cf::well_known_port(name))
    }
}

/// What a check probes; two reals with equal keys are checked once (whatever the virtuals).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckKey {
    pub checktype: CheckType,
    pub service: Service,
    /// The virtual's protocol: dns and sip use UDP on a UDP virtual; connect pings on UDP.
    pub udp: bool,
    pub addr: IpAddr,
    /// The real's own port (0 when none is written), passed to external checks.
    pub port: u16,
    /// Where the check connects.
    pub checkport: u16,
    pub request: String,
    pub receive: String,
    pub httpmethod: HttpMethod,
    pub virtualhost: Option<String>,
    pub login: String,
    pub passwd: String,
    pub database: String,
    pub secret: String,
    /// External checks get the virtual's address (or mark) and port in their arguments, so
    /// they are per virtual.
    pub checkcommand: Option<(String, String, String)>,
}

/// A check and its timing. Timing is not identity: a real shared by virtuals with different
/// timeouts is checked with the first virtual's (file order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    pub key: CheckKey,
    pub checktimeout: Duration,
    pub negotiatetimeout: Duration,
    pub checkcount: u32,
    pub failurecount: u32,
    pub interval: Duration,
    pub monitorfile: Option<String>,
    /// The name logs use for this real: `RIP:RPORT (VID)` of its first virtual.
    pub label: String,
}

impl CheckSpec {
    /// Whether this check is ever run (`on`, `off` and negotiate of service `none` are not).
    pub fn constant(&self) -> Option<bool> {
        match self.key.checktype {
            CheckType::On => Some(true),
            CheckType::Off => Some(false),
            CheckType::Negotiate if self.key.service == Service::None => Some(true),
            _ => None,
        }
    }
}

/// One real of one virtual, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealSpec {
    pub dest: DestKey,
    pub conf: DestConf,
    /// Index into [`Farm::checks`].
    pub check: usize,
}

/// One virtual service, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualSpec {
    pub key: ServiceKey,
    pub conf: ServiceConf,
    /// `tcp:VIP:PORT`, as 4.12 names it in logs.
    pub id: String,
    pub reals: Vec<RealSpec>,
    pub fallback: Option<(DestKey, DestConf)>,
    pub fallbackcommand: Option<String>,
    pub quiescent: bool,
    pub cleanstop: bool,
    pub emailalert: Option<String>,
    pub emailalertfreq: u32,
    pub emailalertstatus: u8,
    pub smtp: Option<String>,
    pub servicename: Option<String>,
    pub comment: Option<String>,
}

/// A whole resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Farm {
    pub virtuals: Vec<VirtualSpec>,
    pub checks: Vec<Arc<CheckSpec>>,
    pub readdquiescent: bool,
    pub maintenancedir: Option<String>,
    pub checkinterval: Duration,
    pub emailalertfrom: Option<String>,
}

/// Resolves a parsed configuration; errors are `line: message` of the config file.
pub fn resolve(cfg: &DirectorConfig, r: &dyn Resolve, hostname: &str) -> Result<Farm, Vec<(usize, String)>> {
    let g = &cfg.globals;
    let mut errors = Vec::new();
    let mut farm = Farm {
        readdquiescent: g.readdquiescent,
        maintenancedir: g.maintenancedir.clone(),
        checkinterval: Duration::from_secs(u64::from(g.checkinterval.max(1))),
        emailalertfrom: g.emailalertfrom.clone(),
        ..Farm::default()
    };
    let mut check_index: HashMap<CheckKey, usize> = HashMap::new();
    for v in &cfg.virtuals {
        match resolve_virtual(cfg, v, r, hostname, &mut farm.checks, &mut check_index) {
            Ok(spec) => farm.virtuals.push(spec),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(farm) } else { Err(errors) }
}

fn host_ip(h: &Host, ipv6: bool, r: &dyn Resolve) -> Option<IpAddr> {
    match h {
        Host::Ip(ip) => (ip.is_ipv6() == ipv6).then_some(*ip),
        Host::Name(n) => r.host(n, ipv6),
    }
}

fn port_number(p: &Port, protocol: Option<&str>, r: &dyn Resolve) -> Option<u16> {
    match p {
        Port::Number(n) => Some(*n),
        Port::Name(n) => r.port(n, protocol),
    }
}

fn resolve_virtual(
    cfg: &DirectorConfig,
    v: &cf::Virtual,
    r: &dyn Resolve,
    hostname: &str,
    checks: &mut Vec<Arc<CheckSpec>>,
    index: &mut HashMap<CheckKey, usize>,
) -> Result<VirtualSpec, (usize, String)> {
    let g = &cfg.globals;
    let proto_name = match v.protocol {
        cf::Protocol::Udp => "udp",
        _ => "tcp",
    };
    let (key, vaddr_text, vport) = match &v.addr {
        cf::VirtualAddr::Addr { host, port } => {
            let ip = host_ip(host, v.ipv6, r).ok_or((v.line, format!("invalid address for virtual service: cannot resolve {host}")))?;
            let p = port_number(port, Some(proto_name), r)
                .ok_or((v.line, format!("invalid address for virtual service: unknown port {port}")))?;
            let protocol = if v.protocol == cf::Protocol::Udp { model::Protocol::Udp } else { model::Protocol::Tcp };
            (ServiceKey::Inet { protocol, addr: ip, port: p }, ip.to_string(), p)
        }
        cf::VirtualAddr::Fwmark(m) => (ServiceKey::Fwmark { ipv6: v.ipv6, mark: *m }, m.to_string(), 0),
    };
    let mut conf = ServiceConf::new(&v.scheduler, v.ipv6);
    if let Some(p) = v.persistent {
        conf.flags |= model::flags::PERSISTENT;
        conf.timeout = p;
        if let Some(m) = &v.netmask {
            conf.netmask =
                if v.ipv6 { m.parse().unwrap_or(128) } else { m.parse::<std::net::Ipv4Addr>().map(u32::from).unwrap_or(u32::MAX) };
        }
    }
    if v.ops && v.protocol == cf::Protocol::Udp {
        conf.flags |= model::flags::ONEPACKET;
    }
    if let Some(f) = &v.schedflags {
        for name in f.split(',').filter(|s| !s.is_empty()) {
            conf.flags |= model::flags::sched_from_name(name).ok_or((v.line, format!("unknown scheduler flag \"{name}\"")))?;
        }
    }
    let id = match key {
        ServiceKey::Inet { addr, port, .. } => format!("{proto_name}:{}", model::SockAddr(addr, port)),
        ServiceKey::Fwmark { mark, ipv6 } => format!("fwm:{mark}{}", if ipv6 { ":6" } else { "" }),
    };
    let secs = |s: u32| Duration::from_secs(u64::from(s));
    let (login, passwd) = match v.service {
        Service::Ftp => {
            (v.login.clone().unwrap_or_else(|| "anonymous".into()), v.passwd.clone().unwrap_or_else(|| format!("ldirectord@{hostname}")))
        }
        Service::Sip => (v.login.clone().unwrap_or_else(|| format!("ldirectord@{hostname}")), v.passwd.clone().unwrap_or_default()),
        _ => (v.login.clone().unwrap_or_default(), v.passwd.clone().unwrap_or_default()),
    };
    let mut reals = Vec::new();
    for real in &v.reals {
        let rport = match &real.port {
            None => 0,
            Some(p) => {
                port_number(p, None, r).ok_or((real.line, format!("invalid port ({p}) for real server (could not resolve port)")))?
            }
        };
        for h in real.addresses() {
            let ip =
                host_ip(&h, v.ipv6, r).ok_or((real.line, format!("invalid address ({h}) for real server (could not resolve host)")))?;
            let forward = match real.forward {
                cf::Forward::Gate => model::Forward::Route,
                cf::Forward::Masq => model::Forward::Masq,
                cf::Forward::Ipip => model::Forward::Tunnel,
            };
            let dest = DestKey { addr: ip, port: rport };
            let conf =
                DestConf { forward, weight: real.weight, upper_threshold: real.upper_threshold, lower_threshold: real.lower_threshold };
            let checkport = v.checkport.unwrap_or(if rport != 0 { rport } else { v.service.default_port().unwrap_or(0) });
            let request = real.request.clone().unwrap_or_else(|| v.request.clone());
            let receive = real.receive.clone().unwrap_or_else(|| v.receive.clone());
            let is_external = matches!(v.checktype, CheckType::External | CheckType::ExternalPerl);
            let ck = CheckKey {
                checktype: v.checktype,
                service: v.service,
                udp: v.protocol == cf::Protocol::Udp,
                addr: ip,
                port: rport,
                checkport,
                request,
                receive,
                httpmethod: v.httpmethod,
                virtualhost: v.virtualhost.clone(),
                login: login.clone(),
                passwd: passwd.clone(),
                database: v.database.clone().unwrap_or_default(),
                secret: v.secret.clone().unwrap_or_default(),
                checkcommand: is_external.then(|| (v.checkcommand.clone(), vaddr_text.clone(), vport.to_string())),
            };
            let check = match index.get(&ck) {
                Some(&i) => i,
                None => {
                    let spec = CheckSpec {
                        label: format!("{} ({id})", model::SockAddr(ip, rport)),
                        key: ck.clone(),
                        checktimeout: secs(v.effective_checktimeout(g)),
                        negotiatetimeout: secs(v.effective_negotiatetimeout(g)),
                        checkcount: v.checkcount.unwrap_or(g.checkcount).max(1),
                        failurecount: v.effective_failurecount(g).max(1),
                        interval: secs(v.effective_checkinterval(g).max(1)),
                        monitorfile: v.monitorfile.clone(),
                    };
                    checks.push(Arc::new(spec));
                    index.insert(ck, checks.len() - 1);
                    checks.len() - 1
                }
            };
            reals.push(RealSpec { dest, conf, check });
        }
    }
    let fallback = match v.fallback.as_ref().or(if v.ipv6 { g.fallback6.as_ref() } else { g.fallback.as_ref() }) {
        None => None,
        Some(fb) => {
            let ip = host_ip(&fb.host, v.ipv6, r)
                .ok_or((v.line, format!("invalid address or could not resolve for fallback server: {}", fb.host)))?;
            let port = match &fb.port {
                Some(p) => port_number(p, Some(proto_name), r).ok_or((v.line, "invalid port for fallback server".to_owned()))?,
                None => vport,
            };
            let forward = match fb.forward {
                cf::Forward::Gate => model::Forward::Route,
                cf::Forward::Masq => model::Forward::Masq,
                cf::Forward::Ipip => model::Forward::Tunnel,
            };
            Some((DestKey { addr: ip, port }, DestConf { forward, weight: 1, upper_threshold: 0, lower_threshold: 0 }))
        }
    };
    Ok(VirtualSpec {
        key,
        conf,
        id,
        reals,
        fallback,
        fallbackcommand: v.fallbackcommand.clone().or_else(|| g.fallbackcommand.clone()),
        quiescent: v.effective_quiescent(g),
        cleanstop: v.cleanstop.unwrap_or(g.cleanstop),
        emailalert: v.emailalert.clone().or_else(|| g.emailalert.clone()),
        emailalertfreq: v.emailalertfreq.unwrap_or(g.emailalertfreq),
        emailalertstatus: v.emailalertstatus.unwrap_or(g.emailalertstatus).0,
        smtp: v.smtp.clone().or_else(|| g.smtp.clone()),
        servicename: v.servicename.clone(),
        comment: v.comment.clone(),
    })
}
