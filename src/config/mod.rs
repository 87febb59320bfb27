//! Typed configuration: the legacy `/etc/ha.d` files, parsed exactly as Heartbeat 3.0.6 and
//! ldirectord 4.12 read them, with `file:line` diagnostics. Parsers are pure (bytes in, typed
//! value or diagnostics out); [`load`] is the only module here that touches the file system.

pub mod authkeys;
pub mod diag;
pub mod ha_cf;
pub mod haresources;
pub mod keepalived;
pub mod ldirectord_cf;
pub mod load;
pub mod ospfvip;
pub mod source;

pub use diag::{Checked, Diagnostic, Parsed, Severity};
