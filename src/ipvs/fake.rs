//! An in-memory IPVS with the kernel's semantics and errors (`EEXIST`, `ESRCH`, `ENOENT`,
//! `ERANGE`, `EINVAL`), for tests on machines without IPVS and for dry runs. The conformance
//! test runs the same operation scripts here and on a real kernel and compares.

use super::diff::Op;
use super::model::{Dest, DestCounters, Forward, Service, ServiceKey, Table};
use super::{Backend, Errno, IpvsError};

/// Schedulers Debian's 6.1 kernel ships as modules.
pub const SCHEDULERS: &[&str] = &["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"];

/// The fake kernel: a table that changes only through the operations the kernel accepts.
#[derive(Debug, Default, Clone)]
pub struct FakeIpvs {
    table: Table,
}

impl FakeIpvs {
    pub fn new() -> FakeIpvs {
        FakeIpvs::default()
    }

    pub fn with_table(table: Table) -> FakeIpvs {
        FakeIpvs { table }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Applies one operation as the kernel would, or returns the errno it would.
    pub fn apply_one(&mut self, op: &Op) -> Result<(), Errno> {
        match op {
            Op::Flush => {
                self.table.services.clear();
                Ok(())
            }
            Op::AddService { key, conf } => {
                check_service(key, conf)?;
                if self.table.service(key).is_some() {
                    return Err(Errno::EEXIST);
                }
                self.table.services.push(Service { key: *key, conf: conf.clone(), dests: Vec::new() });
                Ok(())
            }
            Op::EditService { key, conf } => {
                check_service(key, conf)?;
                let s = self.table.service_mut(key).ok_or(Errno::ESRCH)?;
                s.conf = conf.clone();
                Ok(())
            }
            Op::DelService { key } => {
                let i = self.table.services.iter().position(|s| s.key == *key).ok_or(Errno::ESRCH)?;
                self.table.services.remove(i);
                Ok(())
            }
            Op::AddDest { service, key, conf } | Op::EditDest { service, key, conf } => {
                let s = self.table.service_mut(service).ok_or(Errno::ESRCH)?;
                if conf.lower_threshold > conf.upper_threshold && conf.upper_threshold != 0 {
                    return Err(Errno::ERANGE);
                }
                if key.addr.is_ipv6() != service.is_ipv6() && conf.forward != Forward::Tunnel {
                    return Err(Errno::EINVAL);
                }
                let k = s.kernel_dest_key(*key, conf.forward);
                let existing = s.dests.iter().position(|d| d.key == k);
                match (op, existing) {
                    (Op::AddDest { .. }, Some(_)) => Err(Errno::EEXIST),
                    (Op::AddDest { .. }, None) => {
                        s.dests.push(Dest { key: k, conf: *conf, counters: DestCounters::default() });
                        Ok(())
                    }
                    (_, None) => Err(Errno::ENOENT),
                    (_, Some(i)) => {
                        s.dests[i].conf = *conf;
                        Ok(())
                    }
                }
            }
            Op::DelDest { service, key } => {
                let s = self.table.service_mut(service).ok_or(Errno::ESRCH)?;
                let i = s.dests.iter().position(|d| d.key == *key).ok_or(Errno::ENOENT)?;
                s.dests.remove(i);
                Ok(())
            }
        }
    }
}

fn check_service(key: &ServiceKey, conf: &super::model::ServiceConf) -> Result<(), Errno> {
    if !SCHEDULERS.contains(&conf.scheduler.as_str()) {
        return Err(Errno::ENOENT);
    }
    if key.is_ipv6() && !(1..=128).contains(&conf.netmask) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl Backend for FakeIpvs {
    fn dump(&mut self) -> Result<Table, IpvsError> {
        Ok(self.table.clone())
    }

    fn apply(&mut self, ops: &[Op]) -> Vec<Result<(), Errno>> {
        ops.iter().map(|op| self.apply_one(op)).collect()
    }
}
