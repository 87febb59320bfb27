//! Reads `ipvsadm -S` / `ipvsadm -R` text (the restore grammar of ipvsadm 1.31) into a table.
//! Pure: addresses must be numeric (as `ipvsadm -Sn` writes them); no DNS.
//!
//! `heartbeat ipvs apply FILE` uses it as desired state: a saved table is `-A` and `-a` lines.
//! Lines starting with `#` are comments (as `ipvsadm-restore` strips them); a token `ipvsadm`
//! is ignored anywhere, as ipvsadm does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::model::{Dest, DestConf, DestCounters, DestKey, Forward, Protocol, Service, ServiceConf, ServiceKey, Table, flags};

/// ipvsadm's default persistence timeout (`-p` without a value): 6 × 60 s.
pub const DEFAULT_PERSISTENCE: u32 = 360;

/// A line that could not be read: its number and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError {
    pub line: usize,
    pub message: String,
}

/// Parses a saved table. Every error is reported, with its line.
pub fn parse(text: &str) -> Result<Table, Vec<RestoreError>> {
    let mut table = Table::default();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let tokens: Vec<&str> = raw.split([' ', '\t', '\r']).filter(|t| !t.is_empty() && *t != "ipvsadm").collect();
        if tokens.is_empty() || tokens[0].starts_with('#') {
            continue;
        }
        if let Err(message) = line(&tokens, &mut table) {
            errors.push(RestoreError { line: n, message });
        }
    }
    if errors.is_empty() { Ok(table) } else { Err(errors) }
}

fn line(t: &[&str], table: &mut Table) -> Result<(), String> {
    let (command, rest) = (t[0], &t[1..]);
    let is_service = match command {
        "-A" | "--add-service" => true,
        "-a" | "--add-server" => false,
        "-E" | "-D" | "-e" | "-d" | "-C" | "--edit-service" | "--delete-service" | "--edit-server" | "--delete-server" | "--clear" => {
            return Err(format!("{command}: a saved table holds only -A and -a lines (as ipvsadm -S writes them)"));
        }
        other => return Err(format!("unknown command {other:?}; expected -A or -a")),
    };
    let mut key: Option<ServiceKey> = None;
    let mut conf = ServiceConf::new("wlc", false);
    let mut netmask: Option<&str> = None;
    let mut real: Option<(IpAddr, Option<u16>)> = None;
    let mut dest = DestConf { forward: Forward::Route, weight: 1, upper_threshold: 0, lower_threshold: 0 };
    let mut i = 0;
    let value = |i: usize, opt: &str| rest.get(i + 1).copied().ok_or_else(|| format!("{opt}: missing argument"));
    while i < rest.len() {
        let opt = rest[i];
        match (opt, is_service) {
            ("-t" | "--tcp-service", _) | ("-u" | "--udp-service", _) | ("--sctp-service", _) => {
                let protocol = match opt {
                    "-t" | "--tcp-service" => Protocol::Tcp,
                    "-u" | "--udp-service" => Protocol::Udp,
                    _ => Protocol::Sctp,
                };
                let (addr, port) = addr_port(value(i, opt)?)?;
                key = Some(ServiceKey::Inet { protocol, addr, port: port.unwrap_or(0) });
                i += 1;
            }
            ("-f" | "--fwmark-service", _) => {
                let v = value(i, opt)?;
                let mark = v.parse::<u32>().ok().filter(|&m| m > 0).ok_or_else(|| format!("invalid fwmark value `{v}' specified"))?;
                key = Some(ServiceKey::Fwmark { ipv6: false, mark });
                i += 1;
            }
            ("-6" | "--ipv6", _) => match key {
                Some(ServiceKey::Fwmark { mark, .. }) => key = Some(ServiceKey::Fwmark { ipv6: true, mark }),
                _ => return Err("-6 used before -f".into()),
            },
            ("-s" | "--scheduler", true) => {
                let v = value(i, opt)?;
                // Refused here rather than by the kernel in the middle of a batch.
                if !super::fake::SCHEDULERS.contains(&v) {
                    return Err(format!("unknown scheduler {v:?}; expected one of {}", super::fake::SCHEDULERS.join(", ")));
                }
                conf.scheduler = v.to_owned();
                i += 1;
            }
            ("-p" | "--persistent", true) => {
                conf.flags |= flags::PERSISTENT;
                conf.timeout = DEFAULT_PERSISTENCE;
                if let Some(v) = rest.get(i + 1).filter(|v| !v.starts_with('-')) {
                    conf.timeout = v
                        .parse::<u32>()
                        .ok()
                        .filter(|t| (1..=2_678_400).contains(t))
                        .ok_or_else(|| format!("invalid timeout value `{v}' specified"))?;
                    i += 1;
                }
            }
            ("-M" | "--netmask", true) => {
                netmask = Some(value(i, opt)?);
                i += 1;
            }
            ("-o" | "--ops", true) => conf.flags |= flags::ONEPACKET,
            ("--pe", true) => {
                let v = value(i, opt)?;
                // The kernel keeps persistence engine names in 16 bytes with the NUL.
                if v.is_empty() || v.len() > 15 {
                    return Err(format!("persistence engine name {v:?} must be 1 to 15 characters"));
                }
                conf.pe_name = Some(v.to_owned());
                i += 1;
            }
            ("-b" | "--sched-flags", true) => {
                let v = value(i, opt)?;
                for f in v.split(',') {
                    conf.flags |= flags::sched_from_name(f).ok_or_else(|| format!("invalid scheduler flag `{f}'"))?;
                }
                i += 1;
            }
            ("-r" | "--real-server", false) => {
                real = Some(addr_port(value(i, opt)?)?);
                i += 1;
            }
            ("-g" | "--gatewaying", false) => dest.forward = Forward::Route,
            ("-i" | "--ipip", false) => dest.forward = Forward::Tunnel,
            ("-m" | "--masquerading", false) => dest.forward = Forward::Masq,
            ("-w" | "--weight", false) => {
                let v = value(i, opt)?;
                dest.weight =
                    v.parse::<u32>().ok().filter(|&w| w <= i32::MAX as u32).ok_or_else(|| "illegal weight specified".to_owned())?;
                i += 1;
            }
            ("-x" | "--u-threshold", false) | ("-y" | "--l-threshold", false) => {
                let v = value(i, opt)?;
                let n = v.parse::<u32>().ok().filter(|&w| w <= i32::MAX as u32).ok_or_else(|| format!("illegal threshold {v:?}"))?;
                if opt.starts_with("-x") || opt == "--u-threshold" {
                    dest.upper_threshold = n;
                } else {
                    dest.lower_threshold = n;
                }
                i += 1;
            }
            ("--tun-type", false) => {
                let v = value(i, opt)?;
                if v != "ipip" {
                    return Err(format!("--tun-type {v} is not supported; only ipip"));
                }
                i += 1;
            }
            _ => return Err(format!("option {opt} is not valid with {command}")),
        }
        i += 1;
    }
    let key = key.ok_or("no service given (-t, -u, --sctp-service or -f)")?;
    if is_service {
        if key.is_ipv6() {
            conf.netmask = 128;
        }
        if let Some(m) = netmask {
            // The service's family decides the form, as the kernel reads it.
            conf.netmask = if key.is_ipv6() {
                m.parse::<u32>()
                    .ok()
                    .filter(|p| (1..=128).contains(p))
                    .ok_or_else(|| format!("illegal ipv6 netmask {m:?}; expected a prefix length from 1 to 128"))?
            } else {
                let mask = m
                    .parse::<Ipv4Addr>()
                    .map(u32::from)
                    .map_err(|_| format!("illegal netmask {m:?}; expected a dotted mask such as 255.255.255.0"))?;
                if mask.leading_ones() + mask.trailing_zeros() != 32 {
                    return Err(format!("illegal netmask {m:?}; the mask must be contiguous ones"));
                }
                mask
            };
        }
        if key.port() == Some(0) && conf.flags & flags::PERSISTENT == 0 {
            return Err("Zero port specified for non-persistent service".into());
        }
        if table.service(&key).is_some() {
            return Err(format!("service {key} is given twice"));
        }
        table.services.push(Service { key, conf, dests: Vec::new(), stats: Default::default() });
    } else {
        let (addr, port) = real.ok_or("no real server given (-r)")?;
        if addr.is_ipv6() != key.is_ipv6() && dest.forward != Forward::Tunnel {
            return Err("Different address family is allowed only for tunneling servers".into());
        }
        let svc = table.service_mut(&key).ok_or_else(|| format!("service {key} is not defined by an earlier -A line"))?;
        let port = port.or(key.port()).unwrap_or(0);
        let dkey = svc.ipvsadm_dest_key(DestKey { addr, port }, dest.forward);
        if svc.dest(&dkey).is_some() {
            return Err(format!("destination {} is given twice", super::listing::dest_name(&addr, dkey.port)));
        }
        svc.dests.push(Dest { key: dkey, conf: dest, counters: DestCounters::default() });
    }
    Ok(())
}

/// `a.b.c.d[:port]` or `[v6][:port]` (or a bare IPv6 address).
fn addr_port(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let bad = || format!("illegal address[:port] {s:?}; expected a.b.c.d[:port] or [ipv6][:port] (numeric)");
    let port = |p: &str| p.parse::<u16>().map_err(|_| bad());
    if let Some(rest) = s.strip_prefix('[') {
        let (a, after) = rest.split_once(']').ok_or_else(bad)?;
        let addr = a.parse::<Ipv6Addr>().map_err(|_| bad())?;
        let p = match after {
            "" => None,
            _ => Some(port(after.strip_prefix(':').ok_or_else(bad)?)?),
        };
        return Ok((IpAddr::V6(addr), p));
    }
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        return Ok((IpAddr::V6(a), None));
    }
    match s.split_once(':') {
        Some((a, p)) => Ok((IpAddr::V4(a.parse().map_err(|_| bad())?), Some(port(p)?))),
        None => Ok((IpAddr::V4(s.parse().map_err(|_| bad())?), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_output_reads_back_to_the_same_table() {
        let text = "-A -t 192.168.1.10:80 -s wlc\n-a -t 192.168.1.10:80 -r 10.0.0.1:8080 -m -w 3\n\
                    -A -t 192.168.1.11:443 -s sh -p 360 -M 255.255.255.0 -b sh-fallback,sh-port\n\
                    -A -u 192.168.1.10:53 -s rr -o\n-a -u 192.168.1.10:53 -r 10.0.0.3:53 -g -w 1\n\
                    -A -t [2001:db8::80]:80 -s lc -p 600 -M 64\n-a -t [2001:db8::80]:80 -r [2001:db8::2]:80 -i -w 2 --tun-type ipip\n\
                    -A -f 1 -s wrr\n-a -f 1 -r 10.0.0.5:0 -g -w 10\n-A -f 2 -6 -s rr -p 120\n";
        let t = parse(text).unwrap();
        assert_eq!(t.services.len(), 6);
        // What we save reads back to the same table.
        assert_eq!(parse(&super::super::listing::save(&t)).unwrap().canonical(), t.canonical());
    }

    #[test]
    fn defaults_and_refusals() {
        let t = parse("# saved\nipvsadm -A -t 10.0.0.1:80 -p\n-a -t 10.0.0.1:80 -r 10.0.0.2:8080\n").unwrap();
        let s = &t.services[0];
        assert_eq!((s.conf.scheduler.as_str(), s.conf.timeout), ("wlc", DEFAULT_PERSISTENCE));
        // Direct routing: the destination takes the service port.
        assert_eq!(s.dests[0].key.port, 80);
        let e = parse("-A -t 10.0.0.1:80\n-D -t 10.0.0.1:80\n-a -t 10.0.0.9:80 -r 10.0.0.2\n-A -t host:80\n-A -t 10.0.0.2:80 -s fastest\n")
            .unwrap_err();
        assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
        // Netmasks in the service's own family only (ipvsadm reads `-M 24` as 0.0.0.24).
        let e = parse("-A -t 10.0.0.1:80 -p -M 24\n-A -t [::1]:80 -p -M 255.255.255.0\n-A -t 10.0.0.2:80 -p -M 255.0.255.0\n-A -t 10.0.0.3:80 -p -M 255.255.255.0\n").unwrap_err();
        assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 2, 3]);
    }
}
