//! The `OSPFvip` announcer: whether FRR should announce a VIP, and what to tell it. Sans-IO: the
//! driver (`src/daemon/ecmp.rs`) feeds it health samples, the standby flag and time, performs
//! the returned command (`vtysh`), and reports how it went.
//!
//! FRR's state is never assumed: the announcer starts by reading it (`Verify`), re-reads it
//! every [`VERIFY_EVERY`] (an `ospfd` restart forgets a `network` added at run time), and after
//! a failed command reads it again before retrying, no sooner than [`RETRY_AFTER`].

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::director::engine::{Health, RealStatus};
use crate::time::Instant;

pub const VERIFY_EVERY: Duration = Duration::from_secs(5);
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What the driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `network VIP/32 area A` (and the cost on `lo`).
    Announce,
    /// `no network VIP/32 area A`.
    Withdraw,
    /// Read FRR's running configuration: is the network there?
    Verify,
}

/// How a command went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// `Verify`'s answer: whether FRR announces the VIP.
    Present(bool),
    Failed,
}

/// Whether this node can serve `vip`: every virtual service on it has at least `min_up` reals up.
/// A VIP with no virtual service at all cannot be served.
pub fn healthy(vip: Ipv4Addr, min_up: u32, reals: &[RealStatus]) -> bool {
    let mut seen: Vec<(&str, u32)> = Vec::new();
    for r in reals.iter().filter(|r| virtual_addr(&r.virtual_id) == Some(vip)) {
        let up = u32::from(r.health == Health::Up);
        match seen.iter_mut().find(|(id, _)| *id == r.virtual_id) {
            Some((_, n)) => *n += up,
            None => seen.push((&r.virtual_id, up)),
        }
    }
    !seen.is_empty() && seen.iter().all(|&(_, n)| n >= min_up)
}

/// The address of a virtual named as 4.12 does (`tcp:10.0.0.1:80`); fwmark services have none.
fn virtual_addr(id: &str) -> Option<Ipv4Addr> {
    let mut parts = id.split(':');
    match parts.next()? {
        "tcp" | "udp" | "sctp" => parts.next()?.parse().ok(),
        _ => None,
    }
}

#[derive(Debug)]
pub struct Announcer {
    /// What FRR holds as far as we know; `None` until read.
    frr: Option<bool>,
    /// A command is being performed: one at a time.
    busy: bool,
    next_verify: Option<Instant>,
    not_before: Option<Instant>,
    stopping: bool,
}

impl Default for Announcer {
    fn default() -> Self {
        Self::new()
    }
}

impl Announcer {
    pub fn new() -> Announcer {
        Announcer { frr: None, busy: false, next_verify: None, not_before: None, stopping: false }
    }

    /// What to do now, given this node's health and standby; at most one command at a time.
    pub fn tick(&mut self, now: Instant, healthy: bool, standby: bool) -> Option<Command> {
        if self.busy || self.not_before.is_some_and(|t| now < t) {
            return None;
        }
        let want = healthy && !standby && !self.stopping;
        let cmd = match self.frr {
            None => Command::Verify,
            Some(has) if has != want => {
                if want {
                    Command::Announce
                } else {
                    Command::Withdraw
                }
            }
            Some(_) if self.next_verify.is_none_or(|t| now >= t) && !self.stopping => Command::Verify,
            Some(_) => return None,
        };
        self.busy = true;
        Some(cmd)
    }

    /// The result of the command [`tick`](Self::tick) returned.
    pub fn done(&mut self, now: Instant, cmd: Command, outcome: Outcome) {
        self.busy = false;
        match (cmd, outcome) {
            (_, Outcome::Failed) => {
                self.frr = None;
                self.not_before = Some(now + RETRY_AFTER);
            }
            (Command::Verify, Outcome::Present(p)) => {
                self.frr = Some(p);
                self.next_verify = Some(now + VERIFY_EVERY);
            }
            (Command::Announce, _) => self.frr = Some(true),
            (Command::Withdraw, _) => self.frr = Some(false),
            (Command::Verify, Outcome::Done) => self.frr = None,
        }
        if outcome != Outcome::Failed {
            self.not_before = None;
        }
    }

    /// Graceful stop: withdraw, then [`finished`](Self::finished).
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// Stopping and FRR no longer announces the VIP (or cannot be told: then giving up is all
    /// that is left, and OSPF's dead interval withdraws it if `ospfd` stops too).
    pub fn finished(&self) -> bool {
        self.stopping && !self.busy && self.frr == Some(false)
    }

    /// Whether FRR announces the VIP, as far as known.
    pub fn announced(&self) -> Option<bool> {
        self.frr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(v: &str, r: &str, h: Health) -> RealStatus {
        RealStatus { virtual_id: v.into(), real: r.into(), health: h, failures: 0, last_check: None, last_message: String::new() }
    }

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

    #[test]
    fn health_needs_every_virtual_on_the_vip() {
        let mut reals = vec![
            real("tcp:10.0.0.100:80", "10.1.0.1:80", Health::Up),
            real("tcp:10.0.0.100:80", "10.1.0.2:80", Health::Down),
            real("tcp:10.0.0.100:443", "10.1.0.1:443", Health::Up),
            real("tcp:10.0.0.200:80", "10.1.0.9:80", Health::Down),
        ];
        assert!(healthy(VIP, 1, &reals));
        assert!(!healthy(VIP, 2, &reals));
        reals[2].health = Health::Unknown;
        assert!(!healthy(VIP, 1, &reals), "443 has no real up");
        assert!(!healthy(Ipv4Addr::new(10, 0, 0, 200), 1, &reals));
        assert!(!healthy(Ipv4Addr::new(10, 0, 0, 1), 1, &reals), "no virtual on it at all");
        assert!(!healthy(VIP, 1, &[real("fwm:3", "10.1.0.1:80", Health::Up)]));
    }

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    #[test]
    fn reads_frr_first_then_follows_health_and_standby() {
        let mut a = Announcer::new();
        assert_eq!(a.tick(at(0), true, false), Some(Command::Verify));
        assert_eq!(a.tick(at(1), true, false), None, "one command at a time");
        a.done(at(2), Command::Verify, Outcome::Present(false));
        assert_eq!(a.tick(at(3), true, false), Some(Command::Announce));
        a.done(at(4), Command::Announce, Outcome::Done);
        assert_eq!(a.tick(at(100), true, false), None);
        assert_eq!(a.tick(at(200), false, false), Some(Command::Withdraw));
        a.done(at(210), Command::Withdraw, Outcome::Done);
        assert_eq!(a.tick(at(300), false, false), None);
        assert_eq!(a.tick(at(400), true, true), None, "standby keeps it withdrawn");
        assert_eq!(a.tick(at(500), true, false), Some(Command::Announce));
        a.done(at(510), Command::Announce, Outcome::Done);
        assert_eq!(a.announced(), Some(true));
    }

    #[test]
    fn periodic_verify_catches_an_ospfd_restart() {
        let mut a = Announcer::new();
        a.tick(at(0), true, false);
        a.done(at(0), Command::Verify, Outcome::Present(true));
        assert_eq!(a.tick(at(4_999), true, false), None);
        assert_eq!(a.tick(at(5_000), true, false), Some(Command::Verify));
        a.done(at(5_010), Command::Verify, Outcome::Present(false));
        assert_eq!(a.tick(at(5_020), true, false), Some(Command::Announce));
    }

    #[test]
    fn failures_reread_after_a_pause() {
        let mut a = Announcer::new();
        a.tick(at(0), true, false);
        a.done(at(0), Command::Verify, Outcome::Present(false));
        assert_eq!(a.tick(at(10), true, false), Some(Command::Announce));
        a.done(at(20), Command::Announce, Outcome::Failed);
        assert_eq!(a.tick(at(500), true, false), None);
        assert_eq!(a.tick(at(1_020), true, false), Some(Command::Verify));
        a.done(at(1_030), Command::Verify, Outcome::Failed);
        assert_eq!(a.tick(at(1_100), true, false), None);
        assert_eq!(a.tick(at(2_030), true, false), Some(Command::Verify));
    }

    #[test]
    fn stop_withdraws_then_finishes() {
        let mut a = Announcer::new();
        a.tick(at(0), true, false);
        a.done(at(0), Command::Verify, Outcome::Present(true));
        a.stop();
        assert!(!a.finished());
        assert_eq!(a.tick(at(10), true, false), Some(Command::Withdraw));
        assert!(!a.finished());
        a.done(at(20), Command::Withdraw, Outcome::Done);
        assert!(a.finished());
        assert_eq!(a.tick(at(10_000), true, false), None, "no more verifies once stopped");
    }
}
