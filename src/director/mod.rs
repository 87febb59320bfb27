//! The embedded ldirectord: [`farm`] resolves an `ldirectord.cf` into checks and IPVS keys,
//! [`engine`] turns check results and time into real-server health and the desired IPVS table.
//! Sans-IO; the checks live in `crate::checks` and the tokio driver in `crate::daemon::ldirectord`.

pub mod engine;
pub mod farm;
#[cfg(test)]
pub(crate) mod tests;

pub use engine::{Action, CheckId, Engine, Health, Input, Outcome, Probe};
pub use farm::{CheckSpec, Farm, Resolve, SystemResolver};
