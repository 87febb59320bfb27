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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use crate::config::authkeys::AuthKeys;
use crate::time::{Deadline, Instant};
use crate::wire::auth::{sign, verify, verify_inner};
use crate::wire::message::{Message, parse_classic};

/// A node's state as Heartbeat reports it (`cl_status nodestatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    Init,
    Up,
    Active,
    Dead,
    /// A ping node that answers.
    Ping,
}

impl NodeStatus {
    pub fn name(self) -> &'static str {
        match self {
            NodeStatus::Init => "init",
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Dead => "dead",
            NodeStatus::Ping => "ping",
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
    /// `ping`/`ping6`/`ping_group` pseudo-nodes, by name (a lone `ping` host is its own name).
    pub ping_nodes: Vec<String>,
    pub keepalive: Duration,
    pub deadtime: Duration,
    pub warntime: Duration,
    pub initdead: Duration,
    pub deadping: Duration,
    pub hopfudge: u32,
    pub keys: AuthKeys,
    /// `autojoin other|any`: authenticated nodes not in ha.cf join; `none` drops them.
    pub autojoin: bool,
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
    /// A datagram arrived on a medium (netstring form, or classic text from a serial line).
    PacketReceived { medium: usize, bytes: &'a [u8] },
    /// The deadline the engine asked for has passed.
    DeadlineReached,
    /// Our own status changed (the resource manager moves init → up → active).
    LocalStatusChanged(NodeStatus),
    /// A cluster message from the layer above (resource manager): the engine adds the trailer
    /// (`destuuid`, `src`, `srcuuid`, `seq`, `hg`, `ts`, `ld`, `ttl`), signs, keeps it for
    /// retransmission and sends it.
    SendMessage(Message),
    /// A ping node answered an echo request.
    PingReplied { node: &'a str },
    /// ha.cf or authkeys were reloaded: new timings, keys, nodes. Known nodes keep their state.
    ConfigChanged(Config),
}

/// What the edge must do, or tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes on every medium.
    Send(Vec<u8>),
    /// Send an ICMP echo request to every ping node (once per keepalive).
    Ping,
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
    /// A peer was heard again on a medium, or went silent on it for its deadtime
    /// (3.0.6: `Link nodeb:eth0 up.` / `dead.`).
    LinkStatusChanged {
        node: String,
        medium: usize,
        up: bool,
    },
    /// A peer restarted (a heartbeat with a newer generation).
    NodeRestarted {
        node: String,
    },
    /// An authenticated cluster message for this node (not a heartbeat, not flow control),
    /// delivered once, for the layer above.
    Deliver {
        from: String,
        msg: Message,
    },
}

/// Why the engine wants to wake up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Keepalive,
    Dead(String),
    Retransmit(String),
    LinkDead(String),
}

/// Datagrams dropped or handled, by reason (shown in status output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub malformed_or_bad_auth: u64,
    pub unknown_node: u64,
    pub replayed: u64,
    pub duplicate: u64,
    pub accepted: u64,
    /// Fresh heartbeats (status messages in sequence) among the accepted.
    pub heartbeats: u64,
    /// Retransmission requests we sent, and messages we sent again on request.
    pub rexmit_requested: u64,
    pub rexmit_sent: u64,
    /// Gaps in a peer's sequence that were never filled.
    pub lost: u64,
    /// Peers declared dead (deadtime passed, or a clean shutdown).
    pub node_deaths: u64,
}

/// Messages kept for retransmission (3.0.6's `MAXMSGHIST`).
const HISTORY: usize = 500;
/// A gap wider than this resets sequence tracking instead of asking for every message.
const MAX_GAP: u64 = 250;
/// Missing messages tracked per peer at once.
const MAX_MISSING: usize = 64;
/// Minimum spacing of requests for, and answers with, the same message (`max_rexmit_delay`).
const REXMIT_DELAY: Duration = Duration::from_millis(250);
/// Nodes and ping nodes kept at most (3.0.6's MAXNODE), so autojoin cannot grow without bound.
const MAX_PEERS: usize = 100;
/// A receiver acknowledges every this many messages of a sender.
const ACK_EVERY: u64 = 10;

#[derive(Debug, Clone)]
struct Peer {
    status: NodeStatus,
    ping: bool,
    /// When the last status (or ping reply) arrived (local clock).
    last_heard: Option<Instant>,
    /// Per medium: when the last accepted message from this node arrived on it.
    links: HashMap<usize, Link>,
    deadtime: Duration,
    generation: u64,
    /// Highest sequence number accepted.
    last_seq: u64,
    /// Missing sequence numbers: (first noticed, next request).
    missing: BTreeMap<u64, (Instant, Instant)>,
    uuid: Option<Vec<u8>>,
}

/// One medium's view of one peer.
#[derive(Debug, Clone, Copy)]
struct Link {
    last: Instant,
    up: bool,
}

struct Sent {
    seq: u64,
    bytes: Vec<u8>,
    last_resent: Option<Instant>,
}

pub struct Membership {
    cfg: Config,
    identity: Identity,
    started: Instant,
    local_status: NodeStatus,
    seq: u64,
    next_keepalive: Instant,
    peers: HashMap<String, Peer>,
    history: VecDeque<Sent>,
    counters: Counters,
    actions: Vec<Action>,
    loadavg: String,
    wall_secs: u64,
}

impl Membership {
    /// Starts membership at `now`; the first heartbeat (`st=init`) goes out at once.
    pub fn new(cfg: Config, identity: Identity, now: Instant) -> Membership {
        let mut peers = HashMap::new();
        for n in cfg.nodes.iter().filter(|n| **n != cfg.local) {
            peers.insert(n.clone(), Peer::new(false, cfg.deadtime));
        }
        for n in &cfg.ping_nodes {
            peers.insert(n.clone(), Peer::new(true, cfg.deadping));
        }
        Membership {
            cfg,
            identity,
            started: now,
            local_status: NodeStatus::Init,
            seq: 0,
            next_keepalive: now,
            peers,
            history: VecDeque::with_capacity(HISTORY),
            counters: Counters::default(),
            actions: Vec::new(),
            loadavg: "n/a".into(),
            wall_secs: 0,
        }
    }

    /// Sets what goes into the `ld` field (the first line of /proc/loadavg), read by the edge.
    pub fn set_loadavg(&mut self, ld: &str) {
        self.loadavg = ld.to_owned();
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn local(&self) -> &str {
        &self.cfg.local
    }

    /// Whether `node` was heard on `medium` within its deadtime (`cl_status hblinkstatus`). Our
    /// own links are up while we run. `None` for an unknown node.
    pub fn link_up(&self, now: Instant, node: &str, medium: usize) -> Option<bool> {
        if node == self.cfg.local {
            return Some(true);
        }
        let p = self.peers.get(node)?;
        // A dead node has no live link, even if a late non-status message refreshed one.
        Some(p.status != NodeStatus::Dead && p.links.get(&medium).is_some_and(|l| l.up && now.since(l.last) < p.deadtime))
    }

    pub fn node_status(&self, node: &str) -> Option<NodeStatus> {
        if node == self.cfg.local {
            return Some(self.local_status);
        }
        self.peers.get(node).map(|p| p.status)
    }

    /// Whether `node` is a ping node.
    pub fn is_ping_node(&self, node: &str) -> bool {
        self.peers.get(node).is_some_and(|p| p.ping)
    }

    /// Processes one input at `now` (`wall_secs`: Unix time, only for the `ts` field).
    pub fn handle(&mut self, now: Instant, wall_secs: u64, input: Input<'_>) -> std::vec::Drain<'_, Action> {
        self.wall_secs = wall_secs;
        match input {
            Input::PacketReceived { medium, bytes } => self.receive(now, medium, bytes),
            Input::LocalStatusChanged(s) => {
                if s != self.local_status {
                    self.local_status = s;
                    // 3.0.6 announces a status change at once, not at the next keepalive.
                    self.send_status(now);
                }
            }
            Input::SendMessage(msg) => self.send(now, msg),
            Input::PingReplied { node } => self.ping_replied(now, node),
            Input::ConfigChanged(cfg) => self.reconfigure(now, cfg),
            Input::DeadlineReached => {}
        }
        self.check_deadlines(now);
        self.actions.drain(..)
    }

    /// The earliest time the engine must be called again.
    pub fn next_deadline(&self) -> Deadline<Why> {
        let mut best = Deadline { at: self.next_keepalive, why: Why::Keepalive };
        for (name, p) in &self.peers {
            if let Some((_, next)) = p.missing.values().min_by_key(|(_, next)| *next) {
                if *next < best.at {
                    best = Deadline { at: *next, why: Why::Retransmit(name.clone()) };
                }
            }
            for l in p.links.values().filter(|l| l.up) {
                let at = l.last + p.deadtime;
                if at < best.at {
                    best = Deadline { at, why: Why::LinkDead(name.clone()) };
                }
            }
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
        p_dead_at(p, self.started, self.cfg.initdead)
    }

    fn check_deadlines(&mut self, now: Instant) {
        if now >= self.next_keepalive {
            self.send_status(now);
            if !self.cfg.ping_nodes.is_empty() {
                self.actions.push(Action::Ping);
            }
        }
        let mut died = Vec::new();
        let mut requests = Vec::new();
        for (name, p) in &mut self.peers {
            if p.status != NodeStatus::Dead && now >= p_dead_at(p, self.started, self.cfg.initdead) {
                died.push(name.clone());
            }
            // Ask again for what is still missing; give up after the sender's deadtime.
            let deadtime = p.deadtime;
            let before = p.missing.len();
            p.missing.retain(|_, (first, _)| now.since(*first) < deadtime);
            self.counters.lost += (before - p.missing.len()) as u64;
            for (seq, (_, next)) in p.missing.iter_mut() {
                if *next <= now {
                    *next = now + REXMIT_DELAY;
                    requests.push((name.clone(), *seq));
                }
            }
        }
        died.sort();
        for name in died {
            if let Some(p) = self.peers.get_mut(&name) {
                p.status = NodeStatus::Dead;
                p.missing.clear();
            }
            self.counters.node_deaths += 1;
            self.actions.push(Action::NodeStatusChanged { node: name, status: NodeStatus::Dead });
        }
        // 3.0.6 logs the node's death first, then its links'.
        let mut silent = Vec::new();
        for (name, p) in &mut self.peers {
            for (m, l) in p.links.iter_mut() {
                if l.up && (now >= l.last + p.deadtime || p.status == NodeStatus::Dead) {
                    l.up = false;
                    silent.push((name.clone(), *m));
                }
            }
        }
        silent.sort();
        for (node, medium) in silent {
            self.actions.push(Action::LinkStatusChanged { node, medium, up: false });
        }
        requests.sort();
        for (name, seq) in requests {
            // 3.0.6 asks for one message per request, numbers in decimal.
            let mut m = Message::new();
            m.add("t", "NS_rexmit").add("dest", name.as_str()).add("firstseq", seq.to_string()).add("lastseq", seq.to_string());
            self.counters.rexmit_requested += 1;
            self.send(now, m);
        }
    }

    fn send_status(&mut self, now: Instant) {
        let mut m = Message::new();
        m.add("t", "status")
            .add("st", self.local_status.name())
            .add("dt", format!("{:x}", self.cfg.deadtime.as_millis()))
            .add("protocol", "1");
        self.send(now, m);
        self.next_keepalive = now + self.cfg.keepalive;
    }

    /// Adds the trailer in 3.0.6's order, signs, remembers and sends.
    fn send(&mut self, _now: Instant, mut m: Message) {
        let flow_control = m.get_str("t").is_some_and(|t| t.starts_with("NS_"));
        if let Some(dest) = m.get_str("dest").map(str::to_owned) {
            if let Some(uuid) = self.peers.get(&dest).and_then(|p| p.uuid.clone()) {
                m.remove("destuuid");
                m.add_binary("destuuid", uuid);
            } else if dest == self.cfg.local {
                m.remove("destuuid");
                m.add_binary("destuuid", self.identity.uuid.to_vec());
            }
        }
        m.set("src", self.cfg.local.as_str());
        m.remove("srcuuid");
        m.add_binary("srcuuid", self.identity.uuid.to_vec());
        let seq = if flow_control {
            None
        } else {
            self.seq += 1;
            m.set("seq", format!("{:x}", self.seq));
            Some(self.seq)
        };
        m.set("hg", format!("{:x}", self.identity.generation));
        m.set("ts", format!("{:x}", self.wall_secs));
        if !flow_control {
            m.set("ld", self.loadavg.as_str());
        }
        m.set("ttl", (self.cfg.hopfudge as usize + self.cfg.nodes.len()).to_string());
        let bytes = sign(&mut m, &self.cfg.keys);
        if let Some(seq) = seq {
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(Sent { seq, bytes: bytes.clone(), last_resent: None });
        }
        self.actions.push(Action::Send(bytes));
    }

    fn reconfigure(&mut self, now: Instant, cfg: Config) {
        let ping_nodes = &cfg.ping_nodes;
        // Forget nodes no longer configured (autojoined ones stay while autojoin is on).
        self.peers.retain(|n, p| if p.ping { ping_nodes.contains(n) } else { cfg.nodes.contains(n) || cfg.autojoin });
        for n in cfg.nodes.iter().filter(|n| **n != cfg.local) {
            if !self.peers.contains_key(n) {
                // A node added at run time gets initdead from now, like one heard of at start.
                let mut p = Peer::new(false, cfg.deadtime);
                p.last_heard = Some(now + cfg.initdead.saturating_sub(cfg.deadtime));
                self.peers.insert(n.clone(), p);
            }
        }
        for n in ping_nodes {
            if let Some(p) = self.peers.get_mut(n) {
                p.deadtime = cfg.deadping;
            } else {
                let mut p = Peer::new(true, cfg.deadping);
                p.last_heard = Some(now);
                self.peers.insert(n.clone(), p);
            }
        }
        self.next_keepalive = self.next_keepalive.min(now + cfg.keepalive);
        self.cfg = cfg;
    }

    fn ping_replied(&mut self, now: Instant, node: &str) {
        let Some(p) = self.peers.get_mut(node).filter(|p| p.ping) else { return };
        p.last_heard = Some(now);
        if p.status != NodeStatus::Ping {
            p.status = NodeStatus::Ping;
            self.actions.push(Action::NodeStatusChanged { node: node.to_owned(), status: NodeStatus::Ping });
        }
    }

    fn decode(&self, bytes: &[u8]) -> Option<Message> {
        if bytes.starts_with(b">>>") {
            // Classic text (serial line): only the inner auth field protects it.
            let m = parse_classic(bytes).ok()?;
            return verify_inner(&m, &self.cfg.keys).then_some(m);
        }
        verify(bytes, &self.cfg.keys).ok()
    }

    fn for_us(&self, msg: &Message) -> bool {
        if let Some(u) = msg.get("destuuid") {
            return u == self.identity.uuid;
        }
        match msg.get_str("dest") {
            Some(d) => d.eq_ignore_ascii_case(&self.cfg.local),
            None => true,
        }
    }

    fn receive(&mut self, now: Instant, medium: usize, bytes: &[u8]) {
        let Some(msg) = self.decode(bytes) else {
            self.counters.malformed_or_bad_auth += 1;
            return;
        };
        let Some(src) = msg.get_str("src").map(str::to_ascii_lowercase) else {
            self.counters.malformed_or_bad_auth += 1;
            return;
        };
        if src == self.cfg.local {
            // Our own broadcast, looped back.
            return;
        }
        let for_us = self.for_us(&msg);
        if !self.peers.contains_key(&src) && self.cfg.autojoin && self.peers.len() < MAX_PEERS && msg.get_str("t") == Some("status") {
            // autojoin: an authenticated stranger joins with our deadtime until it announces its own.
            self.peers.insert(src.clone(), Peer::new(false, self.cfg.deadtime));
        }
        let Some(p) = self.peers.get_mut(&src).filter(|p| !p.ping) else {
            // autojoin none: nodes not in ha.cf are dropped.
            self.counters.unknown_node += 1;
            return;
        };
        let generation = msg.get_hex("hg").unwrap_or(0);
        let seq = msg.get_hex("seq");
        let t = msg.get_str("t").unwrap_or("");
        let is_status = t == "status";
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
            if p.generation != 0 {
                self.actions.push(Action::NodeRestarted { node: src.clone() });
            }
            p.generation = generation;
            p.last_seq = 0;
            p.missing.clear();
        }
        // The link carried an authentic message from this node, even if it is a duplicate of one
        // that came first on another medium.
        let link = p.links.entry(medium).or_insert(Link { last: now, up: false });
        link.last = now;
        // A dead node's links come back with its heartbeats, not with a straggler.
        if !link.up && (p.status != NodeStatus::Dead || is_status) {
            link.up = true;
            self.actions.push(Action::LinkStatusChanged { node: src.clone(), medium, up: true });
        }
        if let Some(u) = msg.get("srcuuid") {
            if u.len() == 16 && p.uuid.as_deref() != Some(u) {
                p.uuid = Some(u.to_vec());
            }
        }
        let mut ack = None;
        // A retransmitted copy filling a hole: delivered, but it says nothing about liveness now.
        let mut filled_hole = false;
        if let Some(seq) = seq {
            if seq > p.last_seq {
                if p.last_seq != 0 && seq - p.last_seq > 1 {
                    if seq - p.last_seq > MAX_GAP {
                        // Too far behind to catch up: start afresh, as 3.0.6 does.
                        self.counters.lost += p.missing.len() as u64 + (seq - p.last_seq - 1);
                        p.missing.clear();
                    } else {
                        for s in p.last_seq + 1..seq {
                            p.missing.insert(s, (now, now));
                        }
                        while p.missing.len() > MAX_MISSING {
                            p.missing.pop_first();
                            self.counters.lost += 1;
                        }
                    }
                }
                p.last_seq = seq;
            } else if p.missing.remove(&seq).is_some() {
                filled_hole = true;
            } else {
                // The same message on another medium, or an old one.
                self.counters.duplicate += 1;
                return;
            }
            if seq % ACK_EVERY == 0 {
                // "All received up to": below the first hole, if any.
                ack = Some(p.missing.keys().next().map_or(p.last_seq, |&first| first - 1));
            }
        }
        self.counters.accepted += 1;
        let status = msg.get_str("st").and_then(NodeStatus::from_wire);
        match t {
            "status" if filled_hole => {}
            "status" => {
                self.counters.heartbeats += 1;
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
                let status = status.unwrap_or(NodeStatus::Up);
                if status != p.status {
                    p.status = status;
                    self.actions.push(Action::NodeStatusChanged { node: src.clone(), status });
                }
            }
            // A clean shutdown's last word: the node is gone now, no deadtime wait.
            "shutdone" => {
                if p.status != NodeStatus::Dead {
                    p.status = NodeStatus::Dead;
                    p.last_heard = None;
                    p.missing.clear();
                    self.counters.node_deaths += 1;
                    self.actions.push(Action::NodeStatusChanged { node: src.clone(), status: NodeStatus::Dead });
                }
                self.actions.push(Action::Deliver { from: src.clone(), msg });
            }
            "NS_ackmsg" => {}
            "NS_rexmit" if for_us => {
                let (first, last) = (
                    msg.get_str("firstseq").and_then(|s| s.parse::<u64>().ok()),
                    msg.get_str("lastseq").and_then(|s| s.parse::<u64>().ok()),
                );
                if let (Some(first), Some(last)) = (first, last) {
                    self.retransmit(now, &src, first, last);
                }
            }
            "NS_nak_rexmit" if for_us => {
                if let Some(s) = msg.get_hex("firstseq") {
                    if p.missing.remove(&s).is_some() {
                        self.counters.lost += 1;
                    }
                }
            }
            "reqnodes" if for_us => {
                let mut list: String = self.cfg.nodes.iter().map(|n| format!("{n} ")).collect();
                if list.is_empty() {
                    list.push(' ');
                }
                let mut m = Message::new();
                m.add("dest", src.as_str()).add("t", "repnodes").add("nodelist", list).add("delnodelist", " ");
                self.send(now, m);
            }
            _ if t.starts_with("NS_") || !for_us => {}
            _ => self.actions.push(Action::Deliver { from: src.clone(), msg }),
        }
        if let Some(ackseq) = ack {
            let mut m = Message::new();
            m.add("t", "NS_ackmsg").add("dest", src.as_str()).add("ackseq", format!("{ackseq:x}"));
            self.send(now, m);
        }
    }

    /// Sends stored messages again, unchanged, or says why it cannot.
    fn retransmit(&mut self, now: Instant, to: &str, first: u64, last: u64) {
        // One request names a handful of messages at most; bound the work a forged one can cause.
        let last = last.min(first.saturating_add(MAX_GAP));
        for seq in first..=last {
            let oldest = self.history.front().map(|s| s.seq);
            match self.history.iter_mut().find(|s| s.seq == seq) {
                Some(s) => {
                    // Answered at most once per REXMIT_DELAY, however often it is asked for.
                    let due = s.last_resent.is_none_or(|t| now.since(t) >= REXMIT_DELAY);
                    if due {
                        s.last_resent = Some(now);
                        self.counters.rexmit_sent += 1;
                        self.actions.push(Action::Send(s.bytes.clone()));
                    }
                }
                None if seq <= self.seq => {
                    let reason = if oldest.is_some_and(|o| seq < o) { "seqno too low" } else { "seqno not found" };
                    let mut m = Message::new();
                    m.add("t", "NS_nak_rexmit").add("firstseq", format!("{seq:x}")).add("dest", to).add("info", reason);
                    self.send(now, m);
                }
                // Never sent: a confused or forged request; ignore it.
                None => {}
            }
        }
    }
}

impl Peer {
    fn new(ping: bool, deadtime: Duration) -> Peer {
        Peer {
            status: NodeStatus::Init,
            ping,
            last_heard: None,
            links: HashMap::new(),
            deadtime,
            generation: 0,
            last_seq: 0,
            missing: BTreeMap::new(),
            uuid: None,
        }
    }
}

/// When a peer is dead if nothing more is heard from it.
fn p_dead_at(p: &Peer, started: Instant, initdead: Duration) -> Instant {
    match p.last_heard {
        Some(t) => t + p.deadtime,
        // Never heard since we started: initdead gives slow starters time.
        None => started + initdead.max(p.deadtime),
    }
}

#[cfg(test)]
mod tests;
