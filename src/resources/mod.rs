//! Resource manager: which haresources groups this node must hold, negotiated with the peer by
//! the messages Heartbeat 3.0.6 exchanges (`starting`, `resource`, `ask_resources`,
//! `hb_takeover`, `ip-request(-resp)`, `shutdone`, `stonith`; heartbeat-wire.md §b.3–b.5), so a
//! mixed pair works in both directions. A sans-IO engine: the edge feeds it `(now, event)`,
//! performs the returned actions (send a message, run a job of group starts or stops, fence,
//! exit) and calls it again at [`Manager::next_deadline`]. It never reads a clock or runs a
//! script.
//!
//! Ownership is tracked as 3.0.6 does, in two classes seen from this node: `local` = the groups
//! haresources gives to this node, `foreign` = every other group. The rules that keep a VIP on
//! one node at a time:
//! - a peer's groups are taken only when membership declares it dead (or it said `shutdone`), or
//!   after it confirmed their release in the standby exchange (`ask_resources info=done`);
//! - our own groups are taken at start only when the peer does not claim them;
//! - after a partition both sides may hold a group; the node for which it is foreign gives it up.
//!
//! Jobs run one at a time (3.0.6 runs one resource child at a time), so a release and an
//! acquisition never overlap on one node.

pub mod ecmp;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::config::ha_cf::AutoFailback;
use crate::membership::NodeStatus;
use crate::time::Instant;
use crate::wire::message::Message;

/// Resource classes, as bits (3.0.6's `HB_LOCAL_RSC`/`HB_FOREIGN_RSC`).
pub const NONE: u8 = 0;
pub const LOCAL: u8 = 1;
pub const FOREIGN: u8 = 2;
pub const ALL: u8 = 3;

/// The wire and `cl_status rscstatus` name of a class set.
pub fn class_name(bits: u8) -> &'static str {
    match bits & ALL {
        LOCAL => "local",
        FOREIGN => "foreign",
        ALL => "all",
        _ => "none",
    }
}

pub fn parse_class(s: &str) -> Option<u8> {
    match s {
        "none" => Some(NONE),
        "local" => Some(LOCAL),
        "foreign" => Some(FOREIGN),
        "all" => Some(ALL),
        _ => None,
    }
}

/// The other node's view of a class set: its local is our foreign.
fn mirror(bits: u8) -> u8 {
    ((bits & LOCAL) << 1) | ((bits & FOREIGN) >> 1)
}

/// 3.0.6 waits this long in "resources received" before taking its local groups when neither
/// side has said it is stable (`RQSTDELAY`).
pub const RQSTDELAY: Duration = Duration::from_secs(10);
/// How long a standby request waits for the peer's `other` answer (`STANDBY_INIT_TO_MS`).
pub const STANDBY_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// One haresources group, as the manager needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The node haresources gives it to (lower-case).
    pub node: String,
    /// 3.0.6's group key: the first resource as written (`ipaddr=` of ip-request messages).
    pub key: String,
    /// `node res1 res2 …` for log lines.
    pub display: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub local: String,
    /// The other cluster node (v1 is a two-node design; more nodes are refused by the edge).
    pub peer: Option<String>,
    pub groups: Vec<Group>,
    pub auto_failback: AutoFailback,
    pub ping_nodes: Vec<String>,
}

/// What the edge tells the manager.
#[derive(Debug)]
pub enum Event<'a> {
    /// This node went `active`: start negotiating (3.0.6's "comm up").
    Start,
    NodeStatus {
        node: &'a str,
        status: NodeStatus,
    },
    /// An authenticated cluster message from a peer.
    Message {
        from: &'a str,
        msg: &'a Message,
    },
    /// A job finished; one outcome per group, in the job's order.
    JobDone {
        id: u64,
        outcomes: Vec<Outcome>,
    },
    /// SIGTERM: release everything, hand over, then exit.
    Shutdown,
    /// The deadline asked for has passed.
    Tick,
}

/// How one group fared in a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A start failed; the runner stopped what it had started of the group again.
    StartFailed(String),
    /// A stop failed: the group may still be partly up here.
    StopFailed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Acquire,
    Release,
}

/// Start (in haresources order, status before start) or stop (reverse) these groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    pub kind: JobKind,
    pub groups: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Hand to membership (`Input::SendMessage`).
    Send(Message),
    Run(Job),
    /// A log line, level prefix included (`info: …`, `WARN: …`), in 3.0.6's wording.
    Log(String),
    /// A resource failed to stop: the node must fence itself so the peer can take over safely.
    Fence(String),
    /// Shutdown complete (`shutdone` sent): the daemon may exit.
    Exit,
}

/// A group's actual state on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupState {
    Stopped,
    Running,
    /// The last start failed (and the group was stopped again).
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init,
    Starting,
    BothStarting,
    RscRcvd,
    Stable,
    Shutdown,
    /// A stop failed and the node is fencing itself: nothing more is done.
    Fenced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standby {
    Not,
    /// We asked to go standby for these classes (ours) and wait for `other` until the instant.
    Me(u8, Instant),
    /// We are giving up the classes; `done` goes out when the release job ends.
    Releasing(u8),
    /// Released; waiting for the peer's `done`.
    ReleasedWaiting(u8),
    /// The peer asked (classes from its side); we wait for its `done`.
    Other(u8),
    /// Acquiring what the peer released (classes from its side).
    Acquiring(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// 3.0.6's `req_our_resources`: our local groups, unless the peer claims them.
    ReqOurs {
        anyway: bool,
    },
    /// The peer is gone: take every group.
    TakeAll {
        from: String,
    },
    StandbyRelease(u8),
    StandbyAcquire(u8),
    GiveUpAll,
    /// Both nodes hold the same groups after a partition: give up these (ours are foreign).
    ResolveConflict(u8),
    /// Legacy `ip-request` from the peer: give up this group and answer.
    IpRequest {
        from: String,
        group: usize,
    },
    /// Legacy `ip-request-resp` for us: take this group.
    TakeGroup(usize),
}

pub struct Manager {
    cfg: Config,
    phase: Phase,
    /// What we claim (3.0.6's `i_hold_resources`).
    held: u8,
    /// What the peer claims, from its side.
    other_holds: u8,
    other_stable: bool,
    peer_alive: bool,
    peer_heard: bool,
    standby: Standby,
    rsc_needs_failback: bool,
    rscrcvd_until: Option<Instant>,
    /// A peer death to act on at the next tick (its `shutdone`, delivered after the death, may
    /// still say it gave everything up).
    death_pending: Option<String>,
    /// A takeover held back because no ping node answered.
    takeover_deferred: Option<String>,
    ping_up: HashMap<String, bool>,
    shutdown_requested: bool,
    shutdown_delay_logged: bool,
    announced: bool,
    groups: Vec<GroupState>,
    /// Groups whose failed start was already handed to the peer once (no ping-pong).
    handed_off: Vec<usize>,
    pending_handoff: u8,
    queue: VecDeque<Op>,
    running: Option<(u64, Op, Vec<usize>)>,
    next_job: u64,
    actions: Vec<Action>,
}

impl Manager {
    pub fn new(cfg: Config) -> Manager {
        let n = cfg.groups.len();
        let ping_up = cfg.ping_nodes.iter().map(|p| (p.clone(), true)).collect();
        Manager {
            cfg,
            phase: Phase::Init,
            held: NONE,
            other_holds: NONE,
            other_stable: false,
            peer_alive: false,
            peer_heard: false,
            standby: Standby::Not,
            rsc_needs_failback: false,
            rscrcvd_until: None,
            death_pending: None,
            takeover_deferred: None,
            ping_up,
            shutdown_requested: false,
            shutdown_delay_logged: false,
            announced: false,
            groups: vec![GroupState::Stopped; n],
            handed_off: Vec::new(),
            pending_handoff: NONE,
            queue: VecDeque::new(),
            running: None,
            next_job: 1,
            actions: Vec::new(),
        }
    }

    /// What `cl_status rscstatus` prints: the classes held, or `transition` while anything moves.
    pub fn rscstatus(&self) -> &'static str {
        if self.is_stable() && self.other_stable_or_gone() { class_name(self.held) } else { "transition" }
    }

    pub fn group_states(&self) -> &[GroupState] {
        &self.groups
    }

    pub fn groups(&self) -> &[Group] {
        &self.cfg.groups
    }

    pub fn held(&self) -> u8 {
        self.held
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let mut best: Option<Instant> = None;
        let mut consider = |t: Instant| best = Some(best.map_or(t, |b| b.min(t)));
        if self.death_pending.is_some() {
            consider(Instant::ZERO);
        }
        if let Some(t) = self.rscrcvd_until {
            consider(t);
        }
        if let Standby::Me(_, t) = self.standby {
            consider(t);
        }
        best
    }

    pub fn handle(&mut self, now: Instant, ev: Event<'_>) -> Vec<Action> {
        if self.phase == Phase::Fenced {
            return Vec::new();
        }
        match ev {
            Event::Start => self.start(),
            Event::NodeStatus { node, status } => self.node_status(now, node, status),
            Event::Message { from, msg } => self.message(now, from, msg),
            Event::JobDone { id, outcomes } => self.job_done(id, outcomes),
            Event::Shutdown => {
                self.shutdown_requested = true;
                self.shutdown_if_needed();
            }
            Event::Tick => self.tick(now),
        }
        self.shutdown_if_needed();
        self.pump();
        self.try_handoff(now);
        self.pump();
        std::mem::take(&mut self.actions)
    }

    /// `hb_standby [all|foreign|local]`: hand these classes (ours) to the peer.
    pub fn standby(&mut self, now: Instant, classes: u8) -> (Result<(), String>, Vec<Action>) {
        let r = self.ask_standby(now, classes);
        self.pump();
        (r, std::mem::take(&mut self.actions))
    }

    /// `hb_takeover [all|foreign|local]`: ask the peer to hand us these classes (ours).
    pub fn takeover(&mut self, classes: u8) -> (Result<(), String>, Vec<Action>) {
        let r = if !self.peer_alive {
            Err("the other node is not alive; nothing to take over from".to_owned())
        } else {
            let mut m = Message::new();
            m.add("t", "hb_takeover").add("rsc_hold", class_name(classes));
            self.send(m);
            Ok(())
        };
        (r, std::mem::take(&mut self.actions))
    }

    fn log(&mut self, s: impl Into<String>) {
        self.actions.push(Action::Log(s.into()));
    }

    fn send(&mut self, m: Message) {
        self.actions.push(Action::Send(m));
    }

    fn send_held(&mut self, stable: bool, info: Option<&str>) {
        let mut m = Message::new();
        m.add("t", "resource").add("rsc_hold", class_name(self.held)).add("rtype", "full").add("isstable", if stable { "1" } else { "0" });
        if let Some(i) = info {
            m.add("info", i);
        }
        self.send(m);
    }

    fn send_ask(&mut self, classes: u8, info: &str) {
        let mut m = Message::new();
        m.add("t", "ask_resources").add("rsc_hold", class_name(classes)).add("info", info);
        self.send(m);
    }

    fn is_peer(&self, node: &str) -> bool {
        self.cfg.peer.as_deref() == Some(node)
    }

    fn net_ok(&self) -> bool {
        self.ping_up.is_empty() || self.ping_up.values().any(|&u| u)
    }

    fn is_stable(&self) -> bool {
        self.running.is_none()
            && self.queue.is_empty()
            && self.standby == Standby::Not
            && matches!(self.phase, Phase::Stable | Phase::Shutdown | Phase::Init)
    }

    fn other_stable_or_gone(&self) -> bool {
        self.other_stable || !self.peer_alive
    }

    fn groups_in(&self, classes: u8) -> Vec<usize> {
        (0..self.cfg.groups.len())
            .filter(|&i| {
                let local = self.cfg.groups[i].node == self.cfg.local;
                (local && classes & LOCAL != 0) || (!local && classes & FOREIGN != 0)
            })
            .collect()
    }

    fn start(&mut self) {
        if self.phase != Phase::Init {
            return;
        }
        self.phase = Phase::Starting;
        self.send(Message::new().add("t", "starting").clone());
        if self.cfg.peer.is_none() {
            // A one-node cluster has nobody to ask.
            self.log("info: no other node configured: acquiring all resources");
            self.held = ALL;
            self.phase = Phase::Stable;
            self.other_stable = true;
            self.queue.push_back(Op::TakeAll { from: String::new() });
        }
    }

    fn node_status(&mut self, now: Instant, node: &str, status: NodeStatus) {
        if self.ping_up.contains_key(node) {
            let was_ok = self.net_ok();
            self.ping_up.insert(node.to_owned(), status != NodeStatus::Dead);
            self.ping_changed(now, was_ok);
            return;
        }
        if !self.is_peer(node) {
            return;
        }
        if status == NodeStatus::Dead {
            if self.peer_alive || !self.peer_heard {
                self.peer_alive = false;
                self.death_pending = Some(node.to_owned());
            }
            return;
        }
        let returning = !self.peer_alive && self.peer_heard;
        self.peer_alive = true;
        self.peer_heard = true;
        self.death_pending = None;
        if returning && matches!(self.phase, Phase::Stable) {
            // Back after a partition (a restart would say `starting`): tell it what we hold, so
            // that duplicated groups are found and given up.
            self.send_held(self.is_stable(), None);
        }
    }

    fn ping_changed(&mut self, now: Instant, was_ok: bool) {
        let ok = self.net_ok();
        if ok == was_ok {
            return;
        }
        if ok {
            self.log("info: a ping node answers again");
            if let Some(from) = self.takeover_deferred.take() {
                if !self.peer_alive {
                    self.log(format!("info: network back: taking over the resources of {from} now"));
                    self.take_over_from(from);
                }
            }
            return;
        }
        self.log("WARN: no ping node answers: this node may be cut off from the network");
        if self.held != NONE && self.peer_alive && self.phase == Phase::Stable && self.standby == Standby::Not {
            // ipfail's rule: the node that lost the network hands its resources to the one that
            // still has it.
            self.log("info: giving all resources to the other node (it may still reach the network)");
            let _ = self.ask_standby(now, ALL);
        }
    }

    fn tick(&mut self, now: Instant) {
        if let Some(node) = self.death_pending.take() {
            self.peer_died(node);
        }
        if let Some(t) = self.rscrcvd_until {
            if now >= t {
                self.rscrcvd_until = None;
                if self.phase == Phase::RscRcvd {
                    self.log("info: local resource transition completed.");
                    self.push_once(Op::ReqOurs { anyway: false });
                    self.phase = Phase::Stable;
                    self.send_held(true, None);
                }
            }
        }
        if let Standby::Me(c, t) = self.standby {
            if now >= t {
                self.log(format!("WARN: standby [{}] abandoned: no answer from the other node", class_name(c)));
                self.standby = Standby::Not;
                self.shutdown_if_needed();
            }
        }
    }

    /// hb_rsc_recover_dead_resources.
    fn peer_died(&mut self, node: String) {
        self.standby = Standby::Not;
        if matches!(self.phase, Phase::Shutdown) {
            return;
        }
        self.rsc_needs_failback = true;
        let need_stonith = !(self.peer_heard && self.other_holds == NONE);
        if !self.net_ok() {
            self.log(format!("CRIT: not taking over the resources of {node}: no ping node answers, so this node may be the one cut off"));
            self.takeover_deferred = Some(node);
            return;
        }
        let mut m = Message::new();
        if need_stonith {
            m.add("t", "stonith").add("node", node.as_str()).add("result", "n_stnth");
            self.log("WARN: No STONITH device configured.");
            self.log("WARN: Shared disks are not protected.");
        } else {
            self.log(format!("info: Dead node {node} gave up resources."));
            m.add("t", "stonith").add("node", node.as_str()).add("result", "unneeded");
        }
        self.send(m);
        self.take_over_from(node);
    }

    /// takeover_from_node + mach_down: everything becomes ours.
    fn take_over_from(&mut self, node: String) {
        if self.shutdown_requested {
            self.log("info: Resource takeover cancelled - shutdown in progress.");
            return;
        }
        self.log(format!("info: Resources being acquired from {node}."));
        self.held = ALL;
        self.other_holds = NONE;
        self.other_stable = true;
        self.rscrcvd_until = None;
        self.phase = Phase::Stable;
        self.queue.retain(|op| !matches!(op, Op::ReqOurs { .. } | Op::TakeAll { .. }));
        self.queue.push_back(Op::TakeAll { from: node });
    }

    fn message(&mut self, now: Instant, from: &str, msg: &Message) {
        if !self.is_peer(from) {
            return;
        }
        self.peer_heard = true;
        match msg.get_str("t").unwrap_or("") {
            "starting" => self.peer_starting(from),
            "resource" => self.peer_resources(now, from, msg),
            "ask_resources" => self.peer_ask(now, from, msg),
            "hb_takeover" => {
                // 3.0.6's rc.d/hb_takeover: the asker's local is our foreign.
                let want = match msg.get_str("rsc_hold") {
                    Some("local") | Some("failback") => FOREIGN,
                    Some("foreign") => LOCAL,
                    _ => ALL,
                };
                self.log(format!("info: {from} asks to take over; going standby [{}]", class_name(want)));
                if let Err(e) = self.ask_standby(now, want) {
                    self.log(format!("WARN: takeover request from {from} not honoured: {e}"));
                }
            }
            "shutdone" => {
                self.log(format!("info: Received shutdown notice from '{from}'."));
                self.other_stable = true;
                self.other_holds = NONE;
                // Its death (already reported) is handled at the next tick, knowing this.
            }
            "ip-request" => {
                let key = msg.get_str("ipaddr").unwrap_or("");
                match self.cfg.groups.iter().position(|g| g.key == key) {
                    Some(group) => self.queue.push_back(Op::IpRequest { from: from.to_owned(), group }),
                    None => self.log(format!("ERROR: ip-request from {from} for unknown resource group {key:?}")),
                }
            }
            "ip-request-resp" => {
                // Ours to self are not delivered back; this is a legacy peer's answer to us.
                let for_us = msg.get_str("dest").is_some_and(|d| d.eq_ignore_ascii_case(&self.cfg.local));
                if for_us && msg.get_str("ok") == Some("OK") && self.cfg.auto_failback == AutoFailback::Legacy {
                    let key = msg.get_str("ipaddr").unwrap_or("");
                    if let Some(g) = self.cfg.groups.iter().position(|g| g.key == key) {
                        self.queue.push_back(Op::TakeGroup(g));
                    }
                }
            }
            _ => {}
        }
    }

    fn peer_starting(&mut self, from: &str) {
        if self.phase == Phase::Stable && self.other_holds & FOREIGN != 0 && self.held & LOCAL == 0 && !self.shutdown_requested {
            // It restarted faster than deadtime while holding our groups: they went down with
            // it. (Its own groups it takes back itself as it starts.)
            self.log(format!("WARN: {from} restarted while holding our resources; taking them back"));
            self.standby = Standby::Not;
            self.push_once(Op::ReqOurs { anyway: true });
        }
        match self.phase {
            Phase::Init | Phase::Starting => {
                self.phase = Phase::BothStarting;
                // Both nodes start from nothing: each takes its own groups at once (3.0.6 waits
                // RQSTDELAY first; our groups cannot be the peer's, which holds nothing yet).
                self.push_once(Op::ReqOurs { anyway: false });
            }
            Phase::Stable | Phase::RscRcvd | Phase::BothStarting | Phase::Shutdown | Phase::Fenced => {}
        }
        self.other_stable = false;
        // A restarted peer holds nothing (it gave up or crashed).
        self.other_holds = NONE;
        self.send_held(self.phase == Phase::Stable && self.is_stable(), None);
    }

    fn peer_resources(&mut self, now: Instant, from: &str, msg: &Message) {
        let Some(n) = msg.get_str("rsc_hold").and_then(parse_class) else {
            self.log(format!("ERROR: resource message from {from} without a valid rsc_hold field; ignored"));
            return;
        };
        let full = msg.get_str("rtype") == Some("full");
        self.other_holds = if full || n == NONE { n } else { n | self.other_holds };
        if matches!(self.phase, Phase::Starting | Phase::BothStarting | Phase::Init) {
            self.phase = Phase::RscRcvd;
            self.rscrcvd_until = Some(now + RQSTDELAY);
        }
        match msg.get_str("isstable") {
            Some("1") if !self.other_stable => {
                self.log("info: remote resource transition completed.");
                self.other_stable = true;
                self.send_held(self.phase == Phase::Stable && self.is_stable(), None);
                self.perform_auto_failback(now);
            }
            Some("1") => {}
            Some(_) => self.other_stable = false,
            None => {}
        }
        if self.phase == Phase::RscRcvd && self.other_stable {
            self.log("info: remote resource transition completed.");
            self.rscrcvd_until = None;
            self.push_once(Op::ReqOurs { anyway: false });
            self.phase = Phase::Stable;
            self.perform_auto_failback(now);
        }
        self.audit();
    }

    /// AuditResources, plus what 3.0.6 leaves to a restart: give up duplicated groups.
    fn audit(&mut self) {
        let ours_twice = self.held & LOCAL != 0 && self.other_holds & FOREIGN != 0;
        let theirs_twice = self.held & FOREIGN != 0 && self.other_holds & LOCAL != 0;
        if ours_twice {
            self.log("ERROR: Both machines own our resources! (the other node must give them up)");
        }
        if theirs_twice && self.phase == Phase::Stable && self.standby == Standby::Not {
            self.log("ERROR: Both machines own foreign resources! Giving them back to their own node.");
            if !self.queue.contains(&Op::ResolveConflict(FOREIGN)) {
                self.queue.push_back(Op::ResolveConflict(FOREIGN));
            }
        }
    }

    fn perform_auto_failback(&mut self, now: Instant) {
        if self.held & FOREIGN == 0 || !self.rsc_needs_failback || self.cfg.auto_failback == AutoFailback::Off {
            self.rsc_needs_failback = false;
            return;
        }
        if self.standby != Standby::Not {
            self.log("ERROR: Auto failback ignored.");
            self.rsc_needs_failback = false;
            return;
        }
        self.rsc_needs_failback = false;
        if !self.foreign_groups_exist() {
            return;
        }
        let _ = self.ask_standby(now, FOREIGN);
    }

    fn foreign_groups_exist(&self) -> bool {
        !self.groups_in(FOREIGN).is_empty()
    }

    fn ask_standby(&mut self, now: Instant, classes: u8) -> Result<(), String> {
        if !self.peer_alive {
            return Err("the other node is not alive; nothing to hand over".into());
        }
        if self.shutdown_requested || self.phase == Phase::Shutdown {
            return Err("shutdown in progress".into());
        }
        if self.standby != Standby::Not {
            return Err("a standby is already in progress".into());
        }
        if self.phase != Phase::Stable || self.running.is_some() || !self.queue.is_empty() {
            return Err("local resources in flux; try again when they settle".into());
        }
        if !self.other_stable {
            return Err("the other node's resources are in flux; try again when they settle".into());
        }
        self.log(format!("info: Going standby [{}].", class_name(classes)));
        self.log(format!("info: {} wants to go standby [{}]", self.cfg.local, class_name(classes)));
        self.standby = Standby::Me(classes, now + STANDBY_REPLY_TIMEOUT);
        self.other_stable = false;
        self.send_ask(classes, "me");
        Ok(())
    }

    /// ask_for_resources, for messages from the peer (our own are handled where we send them).
    fn peer_ask(&mut self, now: Instant, from: &str, msg: &Message) {
        let info = msg.get_str("info").unwrap_or("");
        let Some(classes) = msg.get_str("rsc_hold").map_or(Some(ALL), parse_class) else {
            self.log(format!("ERROR: ask_resources from {from} with a bad rsc_hold; ignored"));
            return;
        };
        match (self.standby, info) {
            (Standby::Not, "me") => {
                if self.phase == Phase::Shutdown || self.shutdown_requested {
                    return;
                }
                if !self.other_stable {
                    self.log(format!("WARN: standby message [me] from {from} ignored.  Other side is in flux."));
                    return;
                }
                if self.phase != Phase::Stable || self.running.is_some() || !self.queue.is_empty() {
                    self.log(format!("WARN: standby message [me] from {from} ignored.  local resources in flux."));
                    return;
                }
                if !self.net_ok() {
                    self.log(format!("WARN: standby message [me] from {from} refused: no ping node answers here either"));
                    return;
                }
                self.log(format!("info: {from} wants to go standby [{}]", class_name(classes)));
                self.other_stable = false;
                self.standby = Standby::Other(classes);
                self.send_ask(classes, "other");
            }
            (Standby::Me(mine, _), "other") => {
                let _ = now;
                self.log(format!("info: standby: {from} can take our {} resources", class_name(mine)));
                self.held &= !mine;
                self.send_held(false, Some("standby"));
                self.standby = Standby::Releasing(mine);
                self.queue.push_back(Op::StandbyRelease(mine));
            }
            (Standby::ReleasedWaiting(mine), "done") => {
                self.log(format!("info: Other node completed standby takeover of {} resources.", class_name(mine)));
                self.standby = Standby::Not;
                self.other_stable = true;
                self.send_held(true, None);
                self.shutdown_if_needed();
            }
            (Standby::Other(theirs), "done") => {
                self.log(format!("info: standby: acquire [{}] resources from {from}", class_name(theirs)));
                self.standby = Standby::Acquiring(theirs);
                self.queue.push_back(Op::StandbyAcquire(theirs));
            }
            (st, info) => {
                self.log(format!("ERROR: Ignored standby message '{info}' from {from} in state {st:?}"));
            }
        }
    }

    fn shutdown_if_needed(&mut self) {
        if !self.shutdown_requested || self.phase == Phase::Shutdown {
            return;
        }
        if !self.is_stable() {
            if !self.shutdown_delay_logged {
                self.shutdown_delay_logged = true;
                self.log("WARN: Shutdown delayed until current resource activity finishes.");
            }
            return;
        }
        self.phase = Phase::Shutdown;
        self.held = NONE;
        self.rscrcvd_until = None;
        self.send_held(false, Some("shutdown"));
        self.log("info: Heartbeat shutdown in progress.");
        self.log("info: Giving up all HA resources.");
        self.queue.push_back(Op::GiveUpAll);
    }

    /// Starts the next queued operation when none runs.
    fn pump(&mut self) {
        while self.running.is_none() && self.phase != Phase::Fenced {
            let Some(op) = self.queue.pop_front() else { return };
            let (kind, groups) = match &op {
                Op::ReqOurs { anyway } => {
                    if !anyway && (self.other_holds & FOREIGN != 0 || self.held & LOCAL != 0) && self.standby == Standby::Not {
                        // Someone already holds our groups.
                        self.log("info: Local Resource acquisition completed. (none)");
                        self.become_stable();
                        self.send_held(self.phase == Phase::Stable, None);
                        continue;
                    }
                    self.held |= LOCAL;
                    (JobKind::Acquire, self.groups_in(LOCAL))
                }
                Op::TakeAll { .. } => (JobKind::Acquire, self.groups_in(ALL)),
                Op::TakeGroup(g) => (JobKind::Acquire, vec![*g]),
                Op::StandbyAcquire(theirs) => {
                    self.log(format!("info: acquire {} HA resources (standby).", class_name(mirror(*theirs))));
                    (JobKind::Acquire, self.groups_in(mirror(*theirs)))
                }
                Op::StandbyRelease(mine) => {
                    self.log(format!("info: give up {} HA resources (standby).", class_name(*mine)));
                    (JobKind::Release, self.groups_in(*mine))
                }
                Op::GiveUpAll => (JobKind::Release, self.groups_in(ALL)),
                Op::ResolveConflict(c) => {
                    self.held &= !c;
                    (JobKind::Release, self.groups_in(*c))
                }
                Op::IpRequest { group, .. } => (JobKind::Release, vec![*group]),
            };
            let groups: Vec<usize> = match kind {
                JobKind::Acquire => groups.into_iter().filter(|&g| self.groups[g] != GroupState::Running).collect(),
                JobKind::Release => groups.into_iter().rev().filter(|&g| self.groups[g] == GroupState::Running).collect(),
            };
            let id = self.next_job;
            self.next_job += 1;
            if groups.is_empty() {
                self.finish(op, &[]);
                continue;
            }
            for &g in &groups {
                let verb = if kind == JobKind::Acquire { "Acquiring" } else { "Releasing" };
                let line = format!("info: {verb} resource group: {}", self.cfg.groups[g].display);
                self.log(line);
                if kind == JobKind::Acquire && self.cfg.groups[g].node == self.cfg.local && matches!(op, Op::ReqOurs { .. }) {
                    // req_resource's note to itself, which 3.0.6 peers see on the wire.
                    let mut m = Message::new();
                    m.add("t", "ip-request-resp")
                        .add("dest", self.cfg.local.as_str())
                        .add("ipaddr", self.cfg.groups[g].key.as_str())
                        .add("weown", "yes")
                        .add("ok", "OK");
                    self.send(m);
                }
            }
            self.actions.push(Action::Run(Job { id, kind, groups: groups.clone() }));
            self.running = Some((id, op, groups));
        }
    }

    fn job_done(&mut self, id: u64, outcomes: Vec<Outcome>) {
        let Some((rid, op, groups)) = self.running.take() else { return };
        if rid != id {
            self.running = Some((rid, op, groups));
            return;
        }
        let mut hand_off = NONE;
        for (i, &g) in groups.iter().enumerate() {
            let o = outcomes.get(i).cloned().unwrap_or(Outcome::StartFailed("no outcome reported".into()));
            match o {
                Outcome::Ok => {
                    self.groups[g] = if matches!(op, Op::GiveUpAll | Op::StandbyRelease(_) | Op::ResolveConflict(_) | Op::IpRequest { .. })
                    {
                        GroupState::Stopped
                    } else {
                        GroupState::Running
                    };
                }
                Outcome::StartFailed(why) => {
                    let line =
                        format!("CRIT: Giving up resources due to failure of {}: {why}; the group stays down", self.cfg.groups[g].display);
                    self.log(line);
                    self.groups[g] = GroupState::Failed(why);
                    if !self.handed_off.contains(&g) {
                        self.handed_off.push(g);
                        hand_off |= if self.cfg.groups[g].node == self.cfg.local { LOCAL } else { FOREIGN };
                    }
                }
                Outcome::StopFailed(why) => {
                    let reason = format!("resource group {} failed to stop: {why}", self.cfg.groups[g].display);
                    self.log(format!("CRIT: {reason}: fencing this node so the other can take over safely"));
                    self.phase = Phase::Fenced;
                    self.actions.push(Action::Fence(reason));
                    return;
                }
            }
        }
        self.finish(op, &groups);
        self.pending_handoff |= hand_off;
    }

    /// What a user wants from a group that will not start here: the other node tries, as soon
    /// as both sides are settled (3.0.6 means to, 30 s later, but asks for the class of the
    /// failed resource's name, often the wrong one).
    fn try_handoff(&mut self, now: Instant) {
        let c = self.pending_handoff;
        if c == NONE || self.shutdown_requested {
            return;
        }
        let settled = self.peer_alive
            && self.other_stable
            && self.phase == Phase::Stable
            && self.running.is_none()
            && self.queue.is_empty()
            && self.standby == Standby::Not;
        if !settled {
            return;
        }
        self.pending_handoff = NONE;
        self.log(format!("info: handing the {} resources to the other node after a failed start", class_name(c)));
        if let Err(e) = self.ask_standby(now, c) {
            self.log(format!("WARN: cannot hand the failed group over: {e}"));
        }
    }

    /// What follows a completed operation.
    fn finish(&mut self, op: Op, groups: &[usize]) {
        match op {
            Op::ReqOurs { .. } => {
                if self.groups_in(LOCAL).is_empty() {
                    self.log("info: No local resources to acquire.");
                } else {
                    self.log("info: Local Resource acquisition completed.");
                }
                self.become_stable();
                let stable = self.phase == Phase::Stable;
                self.send_held(stable, Some("req_our_resources()"));
                self.announce("T_RESOURCES(us)");
            }
            Op::TakeAll { from } => {
                self.log("info: Local Resource acquisition completed.");
                self.announce("mach_down");
                self.send_held(true, Some("req_our_resources()"));
                if !from.is_empty() {
                    self.log(format!("info: mach_down takeover complete for node {from}."));
                    let mut m = Message::new();
                    m.add("t", "resource").add("rsc_hold", "foreign").add("info", "mach_down");
                    self.send(m);
                }
            }
            Op::TakeGroup(_) => self.send_held(self.is_stable_after_job(), None),
            Op::StandbyRelease(mine) => {
                self.log(format!("info: {} HA resource release completed (standby).", class_name(mine)));
                self.send_ask(mine, "done");
                self.log(format!("info: Local standby process completed [{}].", class_name(mine)));
                self.standby = Standby::ReleasedWaiting(mine);
            }
            Op::StandbyAcquire(theirs) => {
                self.log(format!("info: {} HA resource acquisition completed (standby).", class_name(mirror(theirs))));
                self.send_ask(theirs, "done");
                self.log(format!("info: Standby resource acquisition done [{}].", class_name(theirs)));
                self.held |= mirror(theirs);
                self.standby = Standby::Not;
                self.send_held(true, None);
            }
            Op::GiveUpAll => {
                self.log("info: All HA resources relinquished.");
                let mut m = Message::new();
                m.add("t", "shutdone").add("st", "dead");
                self.send(m);
                self.actions.push(Action::Exit);
            }
            Op::ResolveConflict(_) => self.send_held(true, None),
            Op::IpRequest { from, group } => {
                let weown = if groups.is_empty() { "no" } else { "yes" };
                let mut m = Message::new();
                m.add("t", "ip-request-resp")
                    .add("dest", from.as_str())
                    .add("ipaddr", self.cfg.groups[group].key.as_str())
                    .add("weown", weown)
                    .add("ok", "OK");
                self.send(m);
                if self.groups_in(LOCAL).contains(&group) {
                    self.held &= !LOCAL;
                } else {
                    self.held &= !FOREIGN;
                }
            }
        }
        self.shutdown_if_needed();
    }

    /// We took what is ours: stable, which also lets a 3.0.6 peer skip its RQSTDELAY.
    fn become_stable(&mut self) {
        if matches!(self.phase, Phase::Starting | Phase::BothStarting | Phase::RscRcvd) {
            self.phase = Phase::Stable;
            self.rscrcvd_until = None;
        }
    }

    fn announce(&mut self, why: &str) {
        if !self.announced {
            self.announced = true;
            self.log(format!("info: Initial resource acquisition complete ({why})"));
        }
    }

    /// Queues an operation unless the same one is already queued or running.
    fn push_once(&mut self, op: Op) {
        if !self.queue.contains(&op) && self.running.as_ref().is_none_or(|(_, r, _)| *r != op) {
            self.queue.push_back(op);
        }
    }

    fn is_stable_after_job(&self) -> bool {
        self.queue.is_empty() && self.standby == Standby::Not && self.phase == Phase::Stable
    }
}
