//! The director engine: real-server health from check results and the time, and the IPVS
//! table that health implies. Sans-IO: no sockets, clocks, files or processes.
//!
//! Driving contract: call [`Engine::handle`] with the current time (never going backwards) and
//! one [`Input`]; perform every returned [`Action`]; then sleep until [`Engine::next_deadline`]
//! and call `handle(now, Input::Tick)`. When an action is [`Action::TableChanged`], make IPVS
//! match [`Engine::desired`] (plan against what is there, so nothing unchanged is touched).
//!
//! Per check (one per distinct probe, shared by every virtual holding that real):
//!
//! ```text
//!            first result ok                     ok
//!  Unknown ───────────────────▶ Up ◀──────────────────────┐
//!     │                          │ fail (failures < failurecount: soft failure)
//!     │ first result fails       ▼ fail (failures reach failurecount) or maintenance
//!     └────────────────────────▶ Down ───────────────────┘
//! ```
//!
//! Unknown counts as down in the desired table (weight 0 when quiescent, absent otherwise), so
//! no real ever gets traffic before it has passed a check.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use super::farm::{CheckKey, CheckSpec, Farm};
use crate::config::ldirectord_cf::CheckType;
use crate::ipvs::model::{Dest, DestCounters, Service, ServiceKey, Table};
use crate::time::{Deadline, Instant};

/// A check's identity for results; never reused, so a result from before a reload that removed
/// the check is recognised and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId(pub u64);

/// What happens to the engine.
#[derive(Debug, Clone)]
pub enum Input {
    /// Time passed (a deadline was reached).
    Tick,
    /// A check finished.
    CheckCompleted { id: CheckId, outcome: Outcome },
    /// A new configuration was loaded; state is carried over by check identity.
    Reconfigure(Arc<Farm>),
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Up(String),
    Down(String),
    /// A file in `maintenancedir` names the real: down at once, without a check.
    Maintenance,
}

/// Which probe a check runs this time (a combined check alternates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Negotiate,
    Connect,
    Ping,
    External,
}

/// What the engine asks the edge to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    RunCheck {
        id: CheckId,
        spec: Arc<CheckSpec>,
        probe: Probe,
        timeout: Duration,
    },
    /// The desired table changed: reconcile IPVS with [`Engine::desired`].
    TableChanged,
    /// `fallbackcommand start|stop VIP:PORT PROTO`, run through `sh -c` as 4.12 does.
    RunFallbackCommand {
        command: String,
    },
    Log(String),
    /// An e-mail alert (`emailalert`): recipients, subject, body lines.
    Alert {
        to: String,
        from: Option<String>,
        smtp: Option<String>,
        subject: String,
        body: Vec<String>,
    },
}

/// Why the engine wants to be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    CheckDue,
    /// An `emailalertfreq` reminder for a real still down.
    Reminder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    Unknown,
    Up,
    Down,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

#[derive(Debug, Clone)]
struct CheckState {
    id: CheckId,
    spec: Arc<CheckSpec>,
    health: Health,
    failures: u32,
    /// Connect checks since the last negotiate one (combined checks); MAX: negotiate next.
    combined: u32,
    /// When the check is due; `None` while it runs or when it never runs.
    due: Option<Instant>,
    /// The slot after the one being run: slots are `interval` apart, so the period does not
    /// drift with check duration.
    next_slot: Option<Instant>,
    running: Option<Probe>,
    last_check: Option<Instant>,
    last_message: String,
}

/// Per virtual: the last fallbackcommand sent, so it runs once per transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    None,
    Start,
    Stop,
}

/// Status of one real of one virtual, for `status` and JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealStatus {
    pub virtual_id: String,
    pub real: String,
    pub health: Health,
    pub failures: u32,
    pub last_check: Option<Instant>,
    pub last_message: String,
}

pub struct Engine {
    farm: Arc<Farm>,
    checks: Vec<CheckState>,
    by_id: HashMap<CheckId, usize>,
    heap: BinaryHeap<Reverse<(Instant, CheckId)>>,
    commands: Vec<Command>,
    next_id: u64,
    dirty: bool,
    actions: Vec<Action>,
    hostname: String,
    /// (virtual index, check index) → when to mail "Inaccessible" again.
    reminders: HashMap<(usize, usize), Instant>,
}

impl Engine {
    /// An engine for `farm`, every check due at `now`.
    pub fn new(now: Instant, farm: Arc<Farm>) -> Engine {
        let mut e = Engine {
            farm: Arc::new(Farm::default()),
            checks: Vec::new(),
            by_id: HashMap::new(),
            heap: BinaryHeap::new(),
            commands: Vec::new(),
            next_id: 0,
            dirty: false,
            actions: Vec::new(),
            hostname: String::new(),
            reminders: HashMap::new(),
        };
        e.reconfigure(now, farm);
        e.actions.clear();
        e.dirty = true;
        e
    }

    pub fn farm(&self) -> &Arc<Farm> {
        &self.farm
    }

    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        match input {
            Input::Tick => {}
            Input::CheckCompleted { id, outcome } => self.completed(now, id, outcome),
            Input::Reconfigure(farm) => self.reconfigure(now, farm),
        }
        self.dispatch_due(now);
        if !self.reminders.is_empty() {
            self.remind(now);
        }
        if self.dirty {
            self.dirty = false;
            self.fallback_commands();
            self.actions.push(Action::TableChanged);
        }
        std::mem::take(&mut self.actions)
    }

    /// The earliest time a check is due.
    pub fn next_deadline(&self) -> Option<Deadline<Why>> {
        let check = self.heap.peek().map(|Reverse((at, _))| Deadline { at: *at, why: Why::CheckDue });
        let remind = self.reminders.values().min().map(|at| Deadline { at: *at, why: Why::Reminder });
        match (check, remind) {
            (Some(c), Some(r)) => Some(if r.at < c.at { r } else { c }),
            (c, r) => c.or(r),
        }
    }

    fn dispatch_due(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(&i) = self.by_id.get(&id) else { continue };
            let c = &mut self.checks[i];
            if c.due != Some(at) || c.running.is_some() {
                continue;
            }
            let probe = probe_for(&c.spec, c.combined);
            let timeout = match probe {
                Probe::Negotiate => c.spec.negotiatetimeout,
                Probe::Ping => c.spec.checktimeout * c.spec.checkcount.max(1),
                _ => c.spec.checktimeout,
            };
            c.due = None;
            c.running = Some(probe);
            // First run: the next slot is a fixed, per-check fraction of the interval later,
            // so checks spread evenly over the interval after an all-at-once start. A check
            // dispatched late (a starved CPU) starts a new grid from now: keeping the old one
            // would run the next check early to catch up, a period shorter than the interval.
            let interval = c.spec.interval;
            c.next_slot = Some(match c.next_slot {
                None => at + phase(&c.spec.key, interval),
                Some(s) if now.since(s.max(at)) > interval / 10 => now + interval,
                Some(s) => s.max(at) + interval,
            });
            self.actions.push(Action::RunCheck { id, spec: c.spec.clone(), probe, timeout });
        }
    }

    fn completed(&mut self, now: Instant, id: CheckId, outcome: Outcome) {
        let Some(&i) = self.by_id.get(&id) else { return };
        let c = &mut self.checks[i];
        let Some(probe) = c.running.take() else { return };
        let due = c.next_slot.unwrap_or(now).max(now);
        c.due = Some(due);
        self.heap.push(Reverse((due, id)));
        c.last_check = Some(now);
        let before = c.health;
        self.fold(i, probe, outcome);
        let after = self.checks[i].health;
        if after != before && (before != Health::Unknown || after == Health::Down) {
            self.alert(now, i, before, after);
        }
    }

    fn fold(&mut self, i: usize, probe: Probe, outcome: Outcome) {
        let c = &mut self.checks[i];
        let label = c.spec.label.clone();
        match outcome {
            Outcome::Maintenance => {
                c.last_message = "maintenance".into();
                c.failures = 0;
                if c.health != Health::Down {
                    c.health = Health::Down;
                    self.dirty = true;
                    self.actions.push(Action::Log(format!("Real server {label} is in maintenance: taken down")));
                }
            }
            Outcome::Up(msg) => {
                c.last_message = msg;
                c.combined = if probe == Probe::Negotiate { 0 } else { c.combined.saturating_add(1) };
                if c.failures > 0 {
                    c.failures = 0;
                    self.actions.push(Action::Log(format!("Resetting soft failure count: {label}")));
                }
                if c.health != Health::Up {
                    c.health = Health::Up;
                    self.dirty = true;
                }
            }
            Outcome::Down(msg) => {
                c.combined = u32::MAX;
                match c.health {
                    Health::Down => {}
                    Health::Unknown => {
                        c.health = Health::Down;
                        self.dirty = true;
                        self.actions.push(Action::Log(format!("Real server {label} is down: {msg}")));
                    }
                    Health::Up => {
                        c.failures += 1;
                        let n = c.spec.failurecount;
                        if c.failures < n {
                            self.actions.push(Action::Log(format!("Soft failure real server: {label} failure {}/{n}: {msg}", c.failures)));
                        } else {
                            c.failures = 0;
                            c.health = Health::Down;
                            self.dirty = true;
                            self.actions.push(Action::Log(format!("Real server {label} is down: {msg}")));
                        }
                    }
                }
                c.last_message = msg;
            }
        }
    }

    /// E-mail alerts (`emailalert`) for a real that went down or came back, to every virtual
    /// holding it whose `emailalertstatus` covers the daemon's state; a down real is mailed
    /// again every `emailalertfreq` seconds while it stays down.
    fn alert(&mut self, now: Instant, i: usize, before: Health, after: Health) {
        let (status_bit, status) = if before == Health::Unknown { (1u8, "starting") } else { (2u8, "running") };
        for vi in 0..self.farm.virtuals.len() {
            let v = &self.farm.virtuals[vi];
            if v.emailalert.is_none() || v.emailalertstatus & status_bit == 0 || !v.reals.iter().any(|r| r.check == i) {
                continue;
            }
            let freq = v.emailalertfreq;
            let word = if after == Health::Down { "Inaccessible" } else { "Restored" };
            self.mail(vi, i, word, status);
            if after == Health::Down && freq > 0 {
                self.reminders.insert((vi, i), now + Duration::from_secs(u64::from(freq)));
            } else {
                self.reminders.remove(&(vi, i));
            }
        }
    }

    fn mail(&mut self, vi: usize, i: usize, word: &str, status: &str) {
        let v = &self.farm.virtuals[vi];
        let (Some(to), Some(r)) = (&v.emailalert, v.reals.iter().find(|r| r.check == i)) else { return };
        let real = crate::ipvs::model::SockAddr(r.dest.addr, r.dest.port);
        let prefix = v.servicename.as_ref().map(|n| format!("[{n}] ")).unwrap_or_default();
        let msg = format!("{word} real server: {real} ({})", v.id);
        let mut body =
            vec![format!("ldirectord host: {}", self.hostname), format!("Log-Message: {msg}"), format!("Daemon-Status: {status}")];
        if let Some(n) = &v.servicename {
            body.push(format!("Service name: {n}"));
        }
        if let Some(c) = &v.comment {
            body.push(format!("Comment: {c}"));
        }
        self.actions.push(Action::Alert {
            to: to.clone(),
            from: self.farm.emailalertfrom.clone(),
            smtp: v.smtp.clone(),
            subject: format!("{prefix}{msg}"),
            body,
        });
    }

    /// Reminders that are due: mailed again while the real is still down.
    fn remind(&mut self, now: Instant) {
        let due: Vec<(usize, usize)> = self.reminders.iter().filter(|(_, at)| **at <= now).map(|(k, _)| *k).collect();
        for (vi, i) in due {
            if self.checks.get(i).is_some_and(|c| c.health == Health::Down) {
                self.mail(vi, i, "Inaccessible", "running");
                let freq = self.farm.virtuals[vi].emailalertfreq.max(1);
                self.reminders.insert((vi, i), now + Duration::from_secs(u64::from(freq)));
            } else {
                self.reminders.remove(&(vi, i));
            }
        }
    }

    /// The host name alerts name (data, as the engine reads nothing itself).
    pub fn set_hostname(&mut self, h: &str) {
        self.hostname = h.to_owned();
    }

    fn reconfigure(&mut self, now: Instant, farm: Arc<Farm>) {
        let mut old: HashMap<CheckKey, CheckState> = self.checks.drain(..).map(|c| (c.spec.key.clone(), c)).collect();
        let old_commands: HashMap<ServiceKey, Command> = self.farm.virtuals.iter().zip(&self.commands).map(|(v, c)| (v.key, *c)).collect();
        self.by_id.clear();
        for spec in &farm.checks {
            let state = match old.remove(&spec.key) {
                Some(mut c) => {
                    c.spec = spec.clone();
                    c
                }
                None => {
                    let id = CheckId(self.next_id);
                    self.next_id += 1;
                    let mut c = CheckState {
                        id,
                        spec: spec.clone(),
                        health: Health::Unknown,
                        failures: 0,
                        combined: u32::MAX,
                        due: None,
                        next_slot: None,
                        running: None,
                        last_check: None,
                        last_message: String::new(),
                    };
                    match spec.constant() {
                        Some(up) => c.health = if up { Health::Up } else { Health::Down },
                        None => {
                            c.due = Some(now);
                            self.heap.push(Reverse((now, id)));
                        }
                    }
                    c
                }
            };
            self.by_id.insert(state.id, self.checks.len());
            self.checks.push(state);
        }
        self.commands = farm.virtuals.iter().map(|v| old_commands.get(&v.key).copied().unwrap_or(Command::None)).collect();
        // Stale heap entries of removed checks are skipped when popped; rebuild when they
        // dominate so the heap stays proportional to the configuration.
        if self.heap.len() > 2 * self.checks.len() + 16 {
            self.heap = self.checks.iter().filter_map(|c| c.due.map(|d| Reverse((d, c.id)))).collect();
        }
        // Indices change with the configuration; reminders start again from the next transition.
        self.reminders.clear();
        self.farm = farm;
        self.dirty = true;
    }

    /// Runs `fallbackcommand` when a virtual loses its last real (start) or gains its first
    /// one back (stop); nothing while a real has never been checked, so start-up never flaps.
    fn fallback_commands(&mut self) {
        for (vi, v) in self.farm.virtuals.iter().enumerate() {
            let Some(cmd) = &v.fallbackcommand else { continue };
            let (any_up, all_known) = self.virtual_health(vi);
            let want = if any_up {
                Command::Stop
            } else if all_known {
                Command::Start
            } else {
                continue;
            };
            let last = self.commands[vi];
            // A virtual that was never without a real needs no "stop".
            if want == last || (want == Command::Stop && last == Command::None) {
                continue;
            }
            self.commands[vi] = want;
            let word = if want == Command::Start { "start" } else { "stop" };
            let (vip, proto) = match v.key {
                ServiceKey::Inet { protocol, addr, port } => (
                    crate::ipvs::model::SockAddr(addr, port).to_string(),
                    if protocol == crate::ipvs::model::Protocol::Udp { "udp" } else { "tcp" },
                ),
                ServiceKey::Fwmark { mark, .. } => (mark.to_string(), "fwm"),
            };
            self.actions.push(Action::RunFallbackCommand { command: format!("{cmd} {word} {vip} {proto}") });
        }
    }

    fn virtual_health(&self, vi: usize) -> (bool, bool) {
        let v = &self.farm.virtuals[vi];
        let any_up = v.reals.iter().any(|r| self.checks[r.check].health == Health::Up);
        let all_known = v.reals.iter().all(|r| self.checks[r.check].health != Health::Unknown);
        (any_up, all_known)
    }

    /// The IPVS table the configuration and the current health call for.
    pub fn desired(&self) -> Table {
        let mut t = Table { services: Vec::with_capacity(self.farm.virtuals.len()) };
        for (vi, v) in self.farm.virtuals.iter().enumerate() {
            let mut dests: Vec<Dest> = Vec::with_capacity(v.reals.len());
            for r in &v.reals {
                let weight = match self.checks[r.check].health {
                    Health::Up => r.conf.weight,
                    _ if v.quiescent => 0,
                    _ => continue,
                };
                dests.push(Dest {
                    key: r.dest,
                    conf: crate::ipvs::model::DestConf { weight, ..r.conf },
                    counters: DestCounters::default(),
                });
            }
            let (any_up, all_known) = self.virtual_health(vi);
            if let Some((key, conf)) = v.fallback {
                if !any_up && all_known {
                    dests.retain(|d| d.key != key);
                    dests.push(Dest { key, conf, counters: DestCounters::default() });
                }
            }
            // Duplicate reals (accepted by 4.12) collapse onto one destination, first wins.
            let mut seen = std::collections::HashSet::with_capacity(dests.len());
            dests.retain(|d| seen.insert(d.key));
            t.services.push(Service { key: v.key, conf: v.conf.clone(), dests, stats: Default::default() });
        }
        t
    }

    /// The services a clean stop removes (`cleanstop=yes`, the default).
    pub fn cleanstop_keys(&self) -> std::collections::HashSet<ServiceKey> {
        self.farm.virtuals.iter().filter(|v| v.cleanstop).map(|v| v.key).collect()
    }

    /// The services this configuration manages.
    pub fn owned_keys(&self) -> std::collections::HashSet<ServiceKey> {
        self.farm.virtuals.iter().map(|v| v.key).collect()
    }

    /// Health of every real of every virtual, in configuration order.
    pub fn status(&self) -> Vec<RealStatus> {
        let mut out = Vec::new();
        for v in &self.farm.virtuals {
            for r in &v.reals {
                let c = &self.checks[r.check];
                out.push(RealStatus {
                    virtual_id: v.id.clone(),
                    real: crate::ipvs::model::SockAddr(r.dest.addr, r.dest.port).to_string(),
                    health: c.health,
                    failures: c.failures,
                    last_check: c.last_check,
                    last_message: c.last_message.clone(),
                });
            }
        }
        out
    }

    /// How many checks are configured to run (not `on`/`off`/`none`).
    pub fn active_checks(&self) -> usize {
        self.checks.iter().filter(|c| c.spec.constant().is_none()).count()
    }

    /// Whether every check has a result.
    pub fn all_known(&self) -> bool {
        self.checks.iter().all(|c| c.health != Health::Unknown)
    }
}

fn probe_for(spec: &CheckSpec, combined: u32) -> Probe {
    match spec.key.checktype {
        CheckType::Negotiate => Probe::Negotiate,
        CheckType::Connect if spec.key.udp => Probe::Ping,
        CheckType::Connect => Probe::Connect,
        CheckType::Ping => Probe::Ping,
        CheckType::External | CheckType::ExternalPerl => Probe::External,
        CheckType::Combined(n) if combined >= n => Probe::Negotiate,
        CheckType::Combined(_) => Probe::Connect,
        // Never scheduled (constant health).
        CheckType::On | CheckType::Off => Probe::Connect,
    }
}

/// A fixed fraction of the interval, from the check's identity: deterministic spread.
fn phase(key: &CheckKey, interval: Duration) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    let frac = (h.finish() % 1_000_000) + 1;
    Duration::from_micros((interval.as_micros() as u64).saturating_mul(frac) / 1_000_000)
}
