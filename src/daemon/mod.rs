//! The daemons: thin tokio loops that feed the sans-IO engines and perform their actions.

pub mod ecmp;
pub mod heartbeat;
pub mod ldirectord;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod realserver;
pub mod resources;
pub mod sync;
