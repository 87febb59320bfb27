//! IPVS: the table model ([`model`]), the reconciler ([`diff::plan`]), and the backends that
//! hold a table: the kernel over generic netlink ([`kernel`], wire format in [`genl`]) and an
//! in-memory fake with the kernel's semantics ([`fake`]).

pub mod diff;
pub mod fake;
pub mod genl;
pub mod kernel;
pub mod listing;
pub mod model;
pub mod restore;

use std::fmt;

use diff::Op;
use model::Table;

/// A kernel error number, named as `errno.h` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(1);
    pub const ENOENT: Errno = Errno(2);
    pub const ESRCH: Errno = Errno(3);
    pub const ENOMEM: Errno = Errno(12);
    pub const EEXIST: Errno = Errno(17);
    pub const EINVAL: Errno = Errno(22);
    pub const ERANGE: Errno = Errno(34);
    pub const EOPNOTSUPP: Errno = Errno(95);
    pub const ENOBUFS: Errno = Errno(105);

    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "EPERM",
            2 => "ENOENT",
            3 => "ESRCH",
            12 => "ENOMEM",
            13 => "EACCES",
            16 => "EBUSY",
            17 => "EEXIST",
            22 => "EINVAL",
            34 => "ERANGE",
            95 => "EOPNOTSUPP",
            105 => "ENOBUFS",
            _ => "E?",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", std::io::Error::from_raw_os_error(self.0), self.name())
    }
}

/// An IPVS operation the kernel (or the fake) refused, or a failure to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpvsError {
    #[error("ipvsadm {op}: {errno}")]
    Refused { op: String, errno: Errno },
    #[error("{what}: {errno}")]
    Io { what: String, errno: Errno },
    #[error("malformed reply from the kernel: {0}")]
    Malformed(String),
}

impl IpvsError {
    /// The errno an operation that reports only errnos gives back for this error.
    pub fn errno(&self) -> Errno {
        match self {
            IpvsError::Refused { errno, .. } | IpvsError::Io { errno, .. } => *errno,
            IpvsError::Malformed(_) => Errno::EINVAL,
        }
    }
}

/// Something that holds an IPVS table: the kernel, or the fake.
pub trait Backend {
    /// The whole table, services and destinations, in the backend's order.
    fn dump(&mut self) -> Result<Table, IpvsError>;
    /// Applies the operations in order and says, for each, whether it was applied.
    fn apply(&mut self, ops: &[Op]) -> Vec<Result<(), Errno>>;
    /// The running connection sync daemons.
    fn daemons(&mut self) -> Result<Vec<model::SyncDaemon>, IpvsError> {
        Ok(Vec::new())
    }
    /// Starts a connection sync daemon (`EEXIST` when one of that role runs).
    fn start_daemon(&mut self, _d: &model::SyncDaemon) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Stops the sync daemon of a role (`ESRCH` when none runs).
    fn stop_daemon(&mut self, _role: model::SyncRole) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
}

/// The outcome of one reconcile: what was applied, and the first refusal if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied: Vec<Op>,
    pub failed: Vec<(Op, Errno)>,
}

/// Plans and applies the difference between `desired` and what the backend holds.
pub fn reconcile(
    backend: &mut dyn Backend,
    desired: &Table,
    owned: &std::collections::HashSet<model::ServiceKey>,
) -> Result<ApplyReport, IpvsError> {
    let observed = backend.dump()?;
    Ok(apply_plan(backend, diff::plan(desired, &observed, owned)))
}

/// Applies planned operations and sorts them into applied and refused.
pub fn apply_plan(backend: &mut dyn Backend, ops: Vec<Op>) -> ApplyReport {
    let results = backend.apply(&ops);
    let mut report = ApplyReport { applied: Vec::new(), failed: Vec::new() };
    for (op, r) in ops.into_iter().zip(results) {
        match r {
            Ok(()) => report.applied.push(op),
            Err(e) => report.failed.push((op, e)),
        }
    }
    report
}
