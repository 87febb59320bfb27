//! `plan(desired, observed, owned)`: the smallest ordered list of operations that turns the
//! observed table into the desired one, touching only services we own. Pure.
//!
//! Order is make-before-break: add and edit services, add and edit destinations, then delete
//! destinations, then delete services. A setting change is an edit (`-E`/`-e`), never a
//! delete and re-add, so connections and counters survive. Applying the plan to `observed`
//! gives a table whose `plan` is empty (convergence), and `plan(d, d) == []` (idempotence).

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::model::{DestConf, DestKey, Service, ServiceConf, ServiceKey, SockAddr, Table};

/// One change to the IPVS table, as the kernel (or `ipvsadm`) takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService {
        key: ServiceKey,
        conf: ServiceConf,
    },
    EditService {
        key: ServiceKey,
        conf: ServiceConf,
    },
    DelService {
        key: ServiceKey,
    },
    AddDest {
        service: ServiceKey,
        key: DestKey,
        conf: DestConf,
    },
    EditDest {
        service: ServiceKey,
        key: DestKey,
        conf: DestConf,
    },
    DelDest {
        service: ServiceKey,
        key: DestKey,
    },
    /// Remove every service (`ipvsadm -C`); never planned, only asked for.
    Flush,
}

impl fmt::Display for Op {
    /// As an `ipvsadm` command line, the form operators know.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService { key, conf } | Op::EditService { key, conf } => {
                let verb = if matches!(self, Op::AddService { .. }) { "-A" } else { "-E" };
                write!(f, "{verb} {key} -s {}", conf.scheduler)?;
                if let Some(t) = conf.persistent() {
                    write!(f, " -p {t}")?;
                }
                Ok(())
            }
            Op::DelService { key } => write!(f, "-D {key}"),
            Op::AddDest { service, key, conf } | Op::EditDest { service, key, conf } => {
                let verb = if matches!(self, Op::AddDest { .. }) { "-a" } else { "-e" };
                write!(f, "{verb} {service} -r {} {} -w {}", SockAddr(key.addr, key.port), conf.forward.ipvsadm_flag(), conf.weight)?;
                if conf.upper_threshold != 0 || conf.lower_threshold != 0 {
                    write!(f, " -x {} -y {}", conf.upper_threshold, conf.lower_threshold)?;
                }
                Ok(())
            }
            Op::DelDest { service, key } => write!(f, "-d {service} -r {}", SockAddr(key.addr, key.port)),
            Op::Flush => f.write_str("-C"),
        }
    }
}

/// Computes the operations; `owned` is the set of service keys this program manages (those of
/// the current and the previous configuration). Services outside it are never touched, so an
/// operator's or keepalived's own entries survive.
pub fn plan(desired: &Table, observed: &Table, owned: &HashSet<ServiceKey>) -> Vec<Op> {
    let observed_by_key: HashMap<ServiceKey, &Service> = observed.services.iter().map(|s| (s.key, s)).collect();
    let desired_keys: HashSet<ServiceKey> = desired.services.iter().map(|s| s.key).collect();
    let mut services = Vec::new();
    let mut add_edit_dests = Vec::new();
    let mut del_dests = Vec::new();
    let mut del_services = Vec::new();

    for want in &desired.services {
        let have = observed_by_key.get(&want.key);
        // Fast path, so a small change to a big table costs little: the service is unchanged
        // when its settings and its destinations, in order, are the same.
        if let Some(have) = have {
            if same_service_conf(&want.conf, &have.conf)
                && want.dests.len() == have.dests.len()
                && want
                    .dests
                    .iter()
                    .zip(&have.dests)
                    .all(|(w, h)| want.ipvsadm_dest_key(w.key, w.conf.forward) == h.key && w.conf == h.conf)
            {
                continue;
            }
        }
        let want_dests = normalized_dests(want);
        match have {
            None => {
                services.push(Op::AddService { key: want.key, conf: want.conf.clone() });
                for (key, conf) in want_dests {
                    add_edit_dests.push(Op::AddDest { service: want.key, key, conf });
                }
            }
            Some(have) => {
                if !same_service_conf(&want.conf, &have.conf) {
                    services.push(Op::EditService { key: want.key, conf: want.conf.clone() });
                }
                let have_by_key: HashMap<DestKey, &DestConf> = have.dests.iter().map(|d| (d.key, &d.conf)).collect();
                let mut wanted = HashSet::with_capacity(want_dests.len());
                for (key, conf) in want_dests {
                    wanted.insert(key);
                    match have_by_key.get(&key) {
                        None => add_edit_dests.push(Op::AddDest { service: want.key, key, conf }),
                        Some(h) if **h != conf => add_edit_dests.push(Op::EditDest { service: want.key, key, conf }),
                        Some(_) => {}
                    }
                }
                for d in &have.dests {
                    if !wanted.contains(&d.key) {
                        del_dests.push(Op::DelDest { service: want.key, key: d.key });
                    }
                }
            }
        }
    }
    for have in &observed.services {
        if owned.contains(&have.key) && !desired_keys.contains(&have.key) {
            del_services.push(Op::DelService { key: have.key });
        }
    }
    services.extend(add_edit_dests);
    services.extend(del_dests);
    services.extend(del_services);
    services
}

/// Desired destinations as the kernel will hold them (DR/TUN ports forced to the service
/// port), first one winning when two collapse onto the same key.
fn normalized_dests(s: &Service) -> Vec<(DestKey, DestConf)> {
    let mut seen = HashSet::with_capacity(s.dests.len());
    s.dests.iter().map(|d| (s.ipvsadm_dest_key(d.key, d.conf.forward), d.conf)).filter(|(k, _)| seen.insert(*k)).collect()
}

/// Service settings compare on what a user sets: the timeout and netmask only matter when
/// persistent, and the kernel's own HASHED flag is not configuration.
fn same_service_conf(a: &ServiceConf, b: &ServiceConf) -> bool {
    let user = super::model::flags::USER;
    let persistent = a.flags & super::model::flags::PERSISTENT != 0;
    a.scheduler == b.scheduler
        && a.flags & user == b.flags & user
        && a.pe_name == b.pe_name
        && (!persistent || (a.timeout == b.timeout && a.netmask == b.netmask))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::model::{Dest, DestCounters, Forward, Protocol};

    fn svc(port: u16, dests: &[(u8, u32, Forward)]) -> Service {
        let key = ServiceKey::Inet { protocol: Protocol::Tcp, addr: "10.0.0.1".parse().unwrap(), port };
        Service {
            key,
            conf: ServiceConf::new("wrr", false),
            stats: Default::default(),
            dests: dests
                .iter()
                .map(|&(last, weight, forward)| Dest {
                    key: DestKey { addr: format!("10.0.1.{last}").parse().unwrap(), port },
                    conf: DestConf { forward, weight, upper_threshold: 0, lower_threshold: 0 },
                    counters: DestCounters::default(),
                })
                .collect(),
        }
    }

    fn owned(t: &Table) -> HashSet<ServiceKey> {
        t.services.iter().map(|s| s.key).collect()
    }

    #[test]
    fn weight_change_is_one_edit() {
        let have = Table { services: vec![svc(80, &[(1, 1, Forward::Route), (2, 1, Forward::Route)])] };
        let want = Table { services: vec![svc(80, &[(1, 1, Forward::Route), (2, 0, Forward::Route)])] };
        let ops = plan(&want, &have, &owned(&want));
        assert_eq!(ops.len(), 1);
        assert!(matches!(ops[0], Op::EditDest { conf: DestConf { weight: 0, .. }, .. }));
        assert!(plan(&want, &want, &owned(&want)).is_empty());
    }

    #[test]
    fn make_before_break_and_ownership() {
        let operator = svc(22, &[(9, 1, Forward::Masq)]);
        let have = Table { services: vec![svc(80, &[(1, 1, Forward::Route)]), svc(81, &[(1, 1, Forward::Route)]), operator.clone()] };
        let want = Table { services: vec![svc(80, &[(2, 1, Forward::Route)]), svc(82, &[(1, 1, Forward::Route)])] };
        let mut mine = owned(&want);
        mine.insert(svc(81, &[]).key);
        let ops = plan(&want, &have, &mine);
        let kinds: Vec<&str> = ops
            .iter()
            .map(|o| match o {
                Op::AddService { .. } => "A",
                Op::EditService { .. } => "E",
                Op::DelService { .. } => "D",
                Op::AddDest { .. } => "a",
                Op::EditDest { .. } => "e",
                Op::DelDest { .. } => "d",
                Op::Flush => "C",
            })
            .collect();
        assert_eq!(kinds, vec!["A", "a", "a", "d", "D"]);
        assert!(!ops.iter().any(|o| matches!(o, Op::DelService { key } if *key == operator.key)));
    }

    #[test]
    fn direct_routing_ports_follow_the_service() {
        let mut want = svc(80, &[(1, 1, Forward::Route)]);
        want.dests[0].key.port = 8080;
        let have = svc(80, &[(1, 1, Forward::Route)]);
        let t = |s: Service| Table { services: vec![s] };
        assert!(plan(&t(want), &t(have), &HashSet::new()).is_empty());
    }
}
