//! heartbeat-rs: a memory-safe successor to Linux-HA Heartbeat v1 with an embedded ldirectord.
//!
//! Three rings (see `shared/reference/design.md` of the project notes):
//! 1. model: pure data and functions ([`config`]): bytes in, typed values or diagnostics out;
//! 2. engines: sans-IO state machines (membership, failover, director), added by later work;
//! 3. edge: the I/O that feeds the engines ([`cli`], daemons).

pub mod checks;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod director;
pub mod ipvs;
pub mod membership;
pub mod net;
pub mod resources;
pub mod time;
pub mod wire;
