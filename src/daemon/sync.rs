//! The kernel's IPVS connection sync daemon, following failover (`lvs_sync_daemon` in ha.cf):
//! master while this node holds a resource group with an `ldirectord` resource, backup
//! otherwise, so that the peer's connection table is a copy of ours and established connections
//! survive a takeover.
//!
//! [`Sync`] is the sans-IO decision (held groups in, daemon steps out); [`apply`] performs the
//! steps on an IPVS backend (the kernel, or the file-backed fake under `HEARTBEAT_RS_IPVS_TABLE`).

use crate::config::ha_cf::LvsSync;
use crate::config::haresources::ResourceGroup;
use crate::ipvs::model::{SyncDaemon, SyncRole};
use crate::ipvs::{Backend, Errno};

/// Whether a group carries the LVS director (an `ldirectord` resource).
pub fn is_lvs_group(g: &ResourceGroup) -> bool {
    g.resources.iter().any(|r| r.agent == "ldirectord")
}

/// The role this node's sync daemon should have, given which groups it holds (by index).
pub fn desired_role(groups: &[ResourceGroup], held: &[bool]) -> SyncRole {
    let master = groups.iter().zip(held.iter().chain(std::iter::repeat(&false))).any(|(g, &h)| h && is_lvs_group(g));
    if master { SyncRole::Master } else { SyncRole::Backup }
}

/// One thing to do to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Start(SyncDaemon),
    Stop(SyncRole),
}

/// What runs, as far as this node knows, and what the configuration asks for.
#[derive(Debug, Clone)]
pub struct Sync {
    cfg: LvsSync,
    running: Option<SyncRole>,
    /// Nothing done yet: daemons of either role may be left by a killed predecessor.
    fresh: bool,
}

impl Sync {
    pub fn new(cfg: LvsSync) -> Sync {
        Sync { cfg, running: None, fresh: true }
    }

    pub fn running(&self) -> Option<SyncRole> {
        self.running
    }

    pub fn daemon(&self, role: SyncRole) -> SyncDaemon {
        SyncDaemon {
            role,
            iface: self.cfg.iface.clone(),
            syncid: self.cfg.syncid,
            maxlen: self.cfg.maxlen,
            group: self.cfg.group,
            port: self.cfg.port,
            ttl: self.cfg.ttl,
        }
    }

    /// The steps that take the node to `want` (none when it is there): the old role's daemon
    /// stops before the new one starts, so one role runs at a time.
    /// The first steps clear both roles (a killed daemon leaves the kernel's threads running).
    pub fn to(&mut self, want: Option<SyncRole>) -> Vec<Step> {
        let mut steps = Vec::new();
        if std::mem::take(&mut self.fresh) {
            steps.push(Step::Stop(SyncRole::Master));
            steps.push(Step::Stop(SyncRole::Backup));
        } else if self.running == want {
            return steps;
        } else if let Some(old) = self.running {
            steps.push(Step::Stop(old));
        }
        if let Some(new) = want {
            steps.push(Step::Start(self.daemon(new)));
        }
        self.running = want;
        steps
    }

    /// A step failed: what runs is unknown, so the next steps clear both roles and start again.
    pub fn failed(&mut self) {
        self.fresh = true;
        self.running = None;
    }

    /// The steps when held groups changed.
    pub fn follow(&mut self, groups: &[ResourceGroup], held: &[bool]) -> Vec<Step> {
        self.to(Some(desired_role(groups, held)))
    }
}

/// Performs the steps. A daemon found running when starting (left by a crashed daemon, maybe
/// with other settings) is restarted; one already gone when stopping is fine. Returns one log
/// line per step.
pub fn apply(backend: &mut dyn Backend, steps: &[Step]) -> Vec<Result<String, String>> {
    steps
        .iter()
        .map(|s| match s {
            Step::Stop(role) => match backend.stop_daemon(*role) {
                Ok(()) | Err(Errno::ESRCH) => Ok(format!("info: IPVS sync daemon: {} stopped", role.name())),
                Err(e) => Err(format!("stopping the {} IPVS sync daemon: {e}", role.name())),
            },
            Step::Start(d) => {
                let mut r = backend.start_daemon(d);
                if r == Err(Errno::EEXIST) {
                    let _ = backend.stop_daemon(d.role);
                    r = backend.start_daemon(d);
                }
                match r {
                    Ok(()) => Ok(format!("info: IPVS sync daemon: {} started", d.listing())),
                    Err(e) => Err(format!("starting the IPVS sync daemon ({}): {e}", d.listing())),
                }
            }
        })
        .collect()
}

/// The backend the daemon's sync steps go to: the file-backed fake when
/// `HEARTBEAT_RS_IPVS_TABLE` is set (as for the embedded director), else the kernel.
pub fn backend() -> Result<Box<dyn Backend + Send>, String> {
    match std::env::var_os("HEARTBEAT_RS_IPVS_TABLE") {
        Some(f) => crate::ipvs::fake::FakeIpvs::open_file(std::path::Path::new(&f)).map(|b| Box::new(b) as _).map_err(|e| e.to_string()),
        None => crate::ipvs::kernel::KernelIpvs::open().map(|b| Box::new(b) as _).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::fake::FakeIpvs;

    fn groups() -> Vec<ResourceGroup> {
        let text = "alpha IPaddr::10.0.0.100/24/eth0 ldirectord::ldirectord.cf\nbeta IPaddr::10.0.0.200/24/eth0 httpd\n";
        let g = crate::config::haresources::parse("haresources", text.as_bytes()).unwrap().value;
        assert_eq!(g.len(), 2);
        g
    }

    fn cfg() -> LvsSync {
        LvsSync { iface: "eth1".into(), syncid: 7, maxlen: None, port: Some(8849), ttl: None, group: None, line: 1 }
    }

    #[test]
    fn a_failed_step_is_retried_from_a_clean_slate() {
        let mut s = Sync::new(cfg());
        s.to(Some(SyncRole::Backup));
        s.failed();
        assert_eq!(s.running(), None);
        let steps = s.to(Some(SyncRole::Backup));
        assert_eq!(steps, vec![Step::Stop(SyncRole::Master), Step::Stop(SyncRole::Backup), Step::Start(s.daemon(SyncRole::Backup))]);
        assert!(s.to(Some(SyncRole::Backup)).is_empty());
    }

    #[test]
    fn role_follows_the_lvs_group() {
        let g = groups();
        assert_eq!(desired_role(&g, &[]), SyncRole::Backup);
        assert_eq!(desired_role(&g, &[false, true]), SyncRole::Backup);
        assert_eq!(desired_role(&g, &[true, false]), SyncRole::Master);
        assert_eq!(desired_role(&g, &[true]), SyncRole::Master);
    }

    #[test]
    fn steps_on_takeover_and_release() {
        let g = groups();
        let mut s = Sync::new(cfg());
        let start = s.follow(&g, &[false, false]);
        assert_eq!(start, vec![Step::Stop(SyncRole::Master), Step::Stop(SyncRole::Backup), Step::Start(s.daemon(SyncRole::Backup))]);
        assert!(s.follow(&g, &[false, true]).is_empty(), "a non-LVS group changes nothing");
        assert_eq!(s.follow(&g, &[true, true]), vec![Step::Stop(SyncRole::Backup), Step::Start(s.daemon(SyncRole::Master))]);
        assert!(s.follow(&g, &[true, false]).is_empty());
        assert_eq!(s.follow(&g, &[false, false]), vec![Step::Stop(SyncRole::Master), Step::Start(s.daemon(SyncRole::Backup))]);
        assert_eq!(s.to(None), vec![Step::Stop(SyncRole::Backup)]);
        assert!(s.to(None).is_empty());
        assert_eq!(s.daemon(SyncRole::Master).listing(), "master sync daemon (mcast=eth1, syncid=7, port=8849)");
    }

    #[test]
    fn apply_on_the_fake_restarts_leftovers() {
        let g = groups();
        let mut fake = FakeIpvs::new();
        let mut s = Sync::new(cfg());
        // Left by a daemon that was killed: a master with other settings, and a backup.
        let mut old = s.daemon(SyncRole::Master);
        old.syncid = 1;
        fake.start_daemon_one(&old).unwrap();
        fake.start_daemon_one(&s.daemon(SyncRole::Backup)).unwrap();
        let r = apply(&mut fake, &s.follow(&g, &[true, false]));
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        assert_eq!(fake.daemons().unwrap(), vec![s.daemon(SyncRole::Master)]);
        // EEXIST on a start (someone else started one meanwhile): replaced.
        let mut other = s.daemon(SyncRole::Backup);
        other.syncid = 9;
        fake.start_daemon_one(&other).unwrap();
        let r = apply(&mut fake, &s.follow(&g, &[false, false]));
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        assert_eq!(fake.daemons().unwrap(), vec![s.daemon(SyncRole::Backup)]);
        assert!(s.follow(&g, &[false, false]).is_empty());
        // Stopping what is not running is fine; a bad group is refused as the kernel does.
        assert!(apply(&mut fake, &[Step::Stop(SyncRole::Master)])[0].is_ok());
        let mut bad = s.daemon(SyncRole::Master);
        bad.group = Some("10.0.0.1".parse().unwrap());
        assert!(apply(&mut fake, &[Step::Start(bad)])[0].is_err());
    }

    #[test]
    fn fake_file_keeps_daemons() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ipvs");
        let mut fake = FakeIpvs::open_file(&f).unwrap();
        let d = SyncDaemon {
            role: SyncRole::Backup,
            iface: "eth0".into(),
            syncid: 3,
            maxlen: Some(1400),
            group: Some("224.0.0.82".parse().unwrap()),
            port: Some(8850),
            ttl: Some(2),
        };
        fake.start_daemon(&d).unwrap();
        assert_eq!(fake.start_daemon(&d), Err(Errno::EEXIST));
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains("backup sync daemon (mcast=eth0, syncid=3, maxlen=1400, group=224.0.0.82, port=8850, ttl=2)"), "{text}");
        let mut again = FakeIpvs::open_file(&f).unwrap();
        assert_eq!(again.daemons().unwrap(), vec![d]);
        again.stop_daemon(SyncRole::Backup).unwrap();
        assert_eq!(again.stop_daemon(SyncRole::Backup), Err(Errno::ESRCH));
        assert!(FakeIpvs::open_file(&f).unwrap().daemons().unwrap().is_empty());
    }
}
