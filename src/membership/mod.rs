//! Membership: which nodes are alive, from authenticated heartbeats, with Heartbeat 3.0.6's
//! timing. A sans-IO engine: the edge feeds it `(now, wall clock, input)` and performs the
//! actions it returns; it never reads a clock or touches a socket.
//!
//! ```text
//!   never heard ──(status)──▶ alive ──(silent for its deadtime)──▶ dead
//!        │                      ▲                                    │
//!        └──(initdead)──▶ dead  └──────────────(status)──────────────┘
//! ```
//!
//! Contract: call [`Membership::handle`] with a `now` that never goes backwards, perform every
//! returned action, then wait until [`Membership::next_deadline`] or the next packet.
//! A peer's deadtime is the `dt` it sends (3.0.6 applies the sender's own deadtime), else ours.

pub mod identity;

use std::collections::HashMap;
use std::time::Duration;

use crate::config::authkeys::AuthKeys;
use crate::time::{Deadline, Instant};
use crate::wire::auth::{sign, verify};
use crate::wire::message::Message;

/// A node's state as Heartbeat reports it (`cl_status nodestatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    Init,
    Up,
    Active,
    Dead,
}

impl NodeStatus {
    pub fn name(self) -> &'static str {
        match self {
            NodeStatus::Init => "init",
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Dead => "dead",
        }
    }

    fn from_wire(s: &str) -> Option<NodeStatus> {
        match s {
            "init" => Some(NodeStatus::Init),
            "up" => Some(NodeStatus::Up),
            "active" => Some(NodeStatus::Active),
            "dead" => Some(NodeStatus::Dead),
            _ => None,
        }
    }
}

/// What membership needs from ha.cf and authkeys.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's name (lower-case, as `uname -n`).
    pub local: String,
    /// Every `node` of ha.cf, this one included.
    pub nodes: Vec<String>,
    pub keepalive: Duration,
    pub deadtime: Duration,
    pub warntime: Duration,
    pub initdead: Duration,
    pub hopfudge: u32,
    pub keys: AuthKeys,
}

/// This node's identity (`hb_uuid`, `hb_generation`).
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub uuid: [u8; 16],
    pub generation: u64,
}

/// Facts fed to the engine.
#[derive(Debug)]
pub enum Input<'a> {
    /// A datagram arrived on a medium.
    PacketReceived { medium: usize, bytes: &'a [u8] },
    /// The deadline the engine asked for has passed.
    DeadlineReached,
    /// Our own status changed (the resource manager moves init → up → active).
    LocalStatusChanged(NodeStatus),
}

/// What the edge must do, or tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes on every medium.
    Send(Vec<u8>),
    NodeStatusChanged {
        node: String,
        status: NodeStatus,
    },
    /// A heartbeat came later than warntime (or deadtime) after the previous one.
    LateHeartbeat {
        node: String,
        interval: Duration,
        past_deadtime: bool,
    },
}

/// Why the engine wants to wake up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Keepalive,
    Dead(String),
}

/// Datagrams dropped, by reason (shown in status output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub malformed_or_bad_auth: u64,
    pub unknown_node: u64,
    pub replayed: u64,
    pub duplicate: u64,
    pub accepted: u64,
}

#[derive(Debug, Clone)]
struct Peer {
    status: NodeStatus,
    /// When the last status arrived (local clock).
    last_heard: Option<Instant>,
    /// Per medium: when the last accepted message from this node arrived on it.
    links: HashMap<usize, Instant>,
    deadtime: Duration,
    generation: u64,
    last_seq: u64,
}

pub struct Membership {
    cfg: Config,
    identity: Identity,
    started: Instant,
    local_status: NodeStatus,
    seq: u64,
    next_keepalive: Instant,
    peers: HashMap<String, Peer>,
    counters: Counters,
    actions: Vec<Action>,
    loadavg: String,
}

impl Membership {
    /// Starts membership at `now`; the first heartbeat (`st=init`) goes out at once.
    pub fn new(cfg: Config, identity: Identity, now: Instant) -> Membership {
        let peers = cfg
            .nodes
            .iter()
            .filter(|n| **n != cfg.local)
            .map(|n| {
                (
                    n.clone(),
                    Peer {
                        status: NodeStatus::Init,
                        last_heard: None,
                        links: HashMap::new(),
                        deadtime: cfg.deadtime,
                        generation: 0,
                        last_seq: 0,
                    },
                )
            })
            .collect();
        Membership {
            cfg,
            identity,
            started: now,
            local_status: NodeStatus::Init,
            seq: 0,
            next_keepalive: now,
            peers,
            counters: Counters::default(),
            actions: Vec::new(),
            loadavg: "n/a".into(),
        }
    }

    /// Sets what goes into the `ld` field (the first line of /proc/loadavg), read by the edge.
    pub fn set_loadavg(&mut self, ld: &str) {
        self.loadavg = ld.to_owned();
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether `node` was heard on `medium` within its deadtime (`cl_status hblinkstatus`). Our
    /// own links are up while we run. `None` for an unknown node.
    pub fn link_up(&self, now: Instant, node: &str, medium: usize) -> Option<bool> {
        if node == self.cfg.local {
            return Some(true);
        }
        let p = self.peers.get(node)?;
        // A dead node has no live link, even if a late non-status message refreshed one.
        Some(p.status != NodeStatus::Dead && p.links.get(&medium).is_some_and(|&t| now.since(t) < p.deadtime))
    }

    pub fn node_status(&self, node: &str) -> Option<NodeStatus> {
        if node == self.cfg.local {
            return Some(self.local_status);
        }
        self.peers.get(node).map(|p| p.status)
    }

    /// Processes one input at `now` (`wall_secs`: Unix time, only for the `ts` field).
    pub fn handle(&mut self, now: Instant, wall_secs: u64, input: Input<'_>) -> std::vec::Drain<'_, Action> {
        match input {
            Input::PacketReceived { medium, bytes } => self.receive(now, medium, bytes),
            Input::LocalStatusChanged(s) => {
                if s != self.local_status {
                    self.local_status = s;
                    // 3.0.6 announces a status change at once, not at the next keepalive.
                    self.send_status(now, wall_secs);
                }
            }
            Input::DeadlineReached => {}
        }
        self.check_deadlines(now, wall_secs);
        self.actions.drain(..)
    }

    /// The earliest time the engine must be called again.
    pub fn next_deadline(&self) -> Deadline<Why> {
        let mut best = Deadline { at: self.next_keepalive, why: Why::Keepalive };
        for (name, p) in &self.peers {
            if p.status == NodeStatus::Dead {
                continue;
            }
            let at = self.dead_at(p);
            if at < best.at {
                best = Deadline { at, why: Why::Dead(name.clone()) };
            }
        }
        best
    }

    fn dead_at(&self, p: &Peer) -> Instant {
        match p.last_heard {
            Some(t) => t + p.deadtime,
            // Never heard since we started: initdead gives slow starters time.
            None => self.started + self.cfg.initdead,
        }
    }

    fn check_deadlines(&mut self, now: Instant, wall_secs: u64) {
        if now >= self.next_keepalive {
            self.send_status(now, wall_secs);
        }
        let mut died = Vec::new();
        for (name, p) in &self.peers {
            if p.status != NodeStatus::Dead && now >= self.dead_at(p) {
                died.push(name.clone());
            }
        }
        died.sort();
        for name in died {
            if let Some(p) = self.peers.get_mut(&name) {
                p.status = NodeStatus::Dead;
            }
            self.actions.push(Action::NodeStatusChanged { node: name, status: NodeStatus::Dead });
        }
    }

    fn send_status(&mut self, now: Instant, wall_secs: u64) {
        self.seq += 1;
        let mut m = Message::new();
        m.add("t", "status")
            .add("st", self.local_status.name())
            .add("dt", format!("{:x}", self.cfg.deadtime.as_millis()))
            .add("protocol", "1")
            .add("src", self.cfg.local.as_str());
        m.add_binary("srcuuid", self.identity.uuid.to_vec());
        m.add("seq", format!("{:x}", self.seq))
            .add("hg", format!("{:x}", self.identity.generation))
            .add("ts", format!("{:x}", wall_secs))
            .add("ld", self.loadavg.as_str())
            .add("ttl", (self.cfg.hopfudge as usize + self.cfg.nodes.len()).to_string());
        let bytes = sign(&mut m, &self.cfg.keys);
        self.actions.push(Action::Send(bytes));
        self.next_keepalive = now + self.cfg.keepalive;
    }

    fn receive(&mut self, now: Instant, medium: usize, bytes: &[u8]) {
        let msg = match verify(bytes, &self.cfg.keys) {
            Ok(m) => m,
            Err(_) => {
                self.counters.malformed_or_bad_auth += 1;
                return;
            }
        };
        let Some(src) = msg.get_str("src").map(str::to_ascii_lowercase) else {
            self.counters.malformed_or_bad_auth += 1;
            return;
        };
        if src == self.cfg.local {
            // Our own broadcast, looped back.
            return;
        }
        let Some(p) = self.peers.get_mut(&src) else {
            // autojoin none: nodes not in ha.cf are dropped.
            self.counters.unknown_node += 1;
            return;
        };
        let generation = msg.get_hex("hg").unwrap_or(0);
        let seq = msg.get_hex("seq");
        let is_status = msg.get_str("t") == Some("status");
        if generation < p.generation {
            self.counters.replayed += 1;
            return;
        }
        if generation > p.generation {
            if !is_status && p.generation != 0 {
                // Only a status message may announce a restart.
                self.counters.replayed += 1;
                return;
            }
            p.generation = generation;
            p.last_seq = 0;
        }
        // The link carried an authentic message from this node, even if it is a duplicate of one
        // that came first on another medium.
        p.links.insert(medium, now);
        if let Some(seq) = seq {
            if seq <= p.last_seq {
                // The same message on another medium, or an old one.
                self.counters.duplicate += 1;
                return;
            }
            p.last_seq = seq;
        }
        self.counters.accepted += 1;
        if !is_status {
            return;
        }
        if let Some(prev) = p.last_heard {
            let interval = now - prev;
            if interval > self.cfg.warntime {
                self.actions.push(Action::LateHeartbeat { node: src.clone(), interval, past_deadtime: interval > p.deadtime });
            }
        }
        p.last_heard = Some(now);
        if let Some(dt) = msg.get_hex("dt") {
            // The sender's deadtime applies to it (as in 3.0.6), within sane bounds.
            p.deadtime = Duration::from_millis(dt.clamp(1, 24 * 3600 * 1000));
        }
        let status = msg.get_str("st").and_then(NodeStatus::from_wire).unwrap_or(NodeStatus::Up);
        if status != p.status {
            p.status = status;
            self.actions.push(Action::NodeStatusChanged { node: src, status });
        }
    }
}

#[cfg(test)]
mod tests;
