//! An in-memory IPVS with the kernel's semantics and errors (`EEXIST`, `ESRCH`, `ENOENT`,
//! `ERANGE`, `EINVAL`), for tests on machines without IPVS and for dry runs. The conformance
//! test runs the same operation scripts here and on a real kernel and compares.

use super::diff::Op;
use super::model::{Dest, DestCounters, Forward, Service, ServiceKey, SyncDaemon, SyncRole, Table};
use super::{Backend, Errno, IpvsError};

/// Schedulers Debian's 6.1 kernel ships as modules.
pub const SCHEDULERS: &[&str] = &["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"];

/// The fake kernel: a table that changes only through the operations the kernel accepts.
/// With a state file it is loaded from and saved to that file, in `ipvsadm -Ln` layout, after
/// every change (`--ipvs-table FILE`).
#[derive(Debug, Default, Clone)]
pub struct FakeIpvs {
    table: Table,
    /// Running sync daemons, at most one per role (kept after the table in the state file, in
    /// `ipvsadm -L --daemon` lines).
    daemons: Vec<SyncDaemon>,
    file: Option<std::path::PathBuf>,
}

impl FakeIpvs {
    pub fn new() -> FakeIpvs {
        FakeIpvs::default()
    }

    pub fn with_table(table: Table) -> FakeIpvs {
        FakeIpvs { table, daemons: Vec::new(), file: None }
    }

    /// A fake kept in a file: read now (an absent file is an empty table), written after each
    /// batch of changes.
    pub fn open_file(path: &std::path::Path) -> Result<FakeIpvs, IpvsError> {
        let (table, daemons) = match std::fs::read_to_string(path) {
            Ok(text) => split_file(&text).map_err(|e| IpvsError::Malformed(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Table::default(), Vec::new()),
            Err(e) => {
                return Err(IpvsError::Io { what: format!("reading {}", path.display()), errno: Errno(e.raw_os_error().unwrap_or(0)) });
            }
        };
        Ok(FakeIpvs { table, daemons, file: Some(path.to_owned()) })
    }

    /// The daemons the file lists now: two processes share one file (the director's table,
    /// the heartbeat daemon's sync daemon), and each owns only its own part.
    fn reload_daemons(&mut self) {
        if let Some(text) = self.file.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
            self.daemons = text.lines().filter_map(SyncDaemon::parse_listing).collect();
        }
    }

    /// Table and daemons as the file lists them now: the sync daemon's side does not own the
    /// table, and another process may have written it since this fake was opened.
    fn reload_all(&mut self) {
        let Some(text) = self.file.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) else { return };
        if let Ok((table, daemons)) = split_file(&text) {
            self.table = table;
            self.daemons = daemons;
        }
    }

    /// Held across a read-modify-write of the file, so the two writers do not lose each
    /// other's part. None without a file (or when the lock cannot be had: best effort).
    fn file_lock(&self) -> Option<nix::fcntl::Flock<std::fs::File>> {
        let path = self.file.as_ref()?.with_extension("lock");
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).ok()?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok()
    }

    fn persist(&self) -> Result<(), IpvsError> {
        let Some(path) = &self.file else { return Ok(()) };
        // `ipvsadm -Ln`, then `ipvsadm -Ln --thresholds` for what the plain layout cannot show.
        let mut text = super::listing::list(&self.table, (1, 2, 1), 4096, super::listing::ListMode::Plain);
        text.push('\n');
        text.push_str(&super::listing::list(&self.table, (1, 2, 1), 4096, super::listing::ListMode::Thresholds));
        for d in &self.daemons {
            text.push_str(&d.listing());
            text.push('\n');
        }
        // Write then rename, so a reader never sees half a table.
        let tmp = path.with_extension("tmp");
        let io =
            |e: std::io::Error| IpvsError::Io { what: format!("writing {}", path.display()), errno: Errno(e.raw_os_error().unwrap_or(0)) };
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Starts a sync daemon as the kernel would: one per role, a named interface, a multicast
    /// group if any.
    pub fn start_daemon_one(&mut self, d: &SyncDaemon) -> Result<(), Errno> {
        if d.iface.is_empty() || d.iface.len() > 15 {
            return Err(Errno::EINVAL);
        }
        if d.group.is_some_and(|g| !g.is_multicast()) {
            return Err(Errno::EINVAL);
        }
        if self.daemons.iter().any(|x| x.role == d.role) {
            return Err(Errno::EEXIST);
        }
        self.daemons.push(d.clone());
        self.daemons.sort_by_key(|x| x.role);
        Ok(())
    }

    pub fn stop_daemon_one(&mut self, role: SyncRole) -> Result<(), Errno> {
        let i = self.daemons.iter().position(|x| x.role == role).ok_or(Errno::ESRCH)?;
        self.daemons.remove(i);
        Ok(())
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
                self.table.services.push(Service { key: *key, conf: conf.clone(), dests: Vec::new(), stats: Default::default() });
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
                // The kernel refuses lower > upper even when upper is 0 ("no limit").
                if conf.lower_threshold > conf.upper_threshold {
                    return Err(Errno::ERANGE);
                }
                if key.addr.is_ipv6() != service.is_ipv6() && conf.forward != Forward::Tunnel {
                    return Err(Errno::EINVAL);
                }
                let k = *key;
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

/// A fake's file: the `ipvsadm -Ln` listing, and the sync daemons' lines among it.
fn split_file(text: &str) -> Result<(Table, Vec<SyncDaemon>), String> {
    let daemons: Vec<SyncDaemon> = text.lines().filter_map(SyncDaemon::parse_listing).collect();
    let rest: String = text.lines().filter(|l| SyncDaemon::parse_listing(l).is_none()).flat_map(|l| [l, "\n"]).collect();
    let table = super::listing::parse_list(&rest).map_err(|e| e.to_string())?;
    Ok((table, daemons))
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
        let _lock = self.file_lock();
        self.reload_daemons();
        let results: Vec<_> = ops.iter().map(|op| self.apply_one(op)).collect();
        if results.iter().any(Result::is_ok) {
            if let Err(IpvsError::Io { errno, .. }) = self.persist() {
                return vec![Err(errno); ops.len()];
            }
        }
        results
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        self.reload_daemons();
        Ok(self.daemons.clone())
    }

    fn start_daemon(&mut self, d: &SyncDaemon) -> Result<(), Errno> {
        let _lock = self.file_lock();
        self.reload_all();
        self.start_daemon_one(d)?;
        self.persist().map_err(|e| e.errno())
    }

    fn stop_daemon(&mut self, role: SyncRole) -> Result<(), Errno> {
        let _lock = self.file_lock();
        self.reload_all();
        self.stop_daemon_one(role)?;
        self.persist().map_err(|e| e.errno())
    }
}
