//! The Heartbeat 3.0.6 wire format: messages ([`message`]) and their authenticators ([`auth`]).
//! Pure: bytes in, typed values out.

pub mod auth;
pub mod message;
