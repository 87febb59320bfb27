//! Two managers on a virtual clock, with a model of membership between them (status changes after
//! deadtime, messages after a link delay, `shutdone` as immediate death) and of the runner (jobs
//! take time per group). The invariant checked at every step: once membership has settled, no
//! group runs on two nodes. Acquisition counts from the job's start, release until its end, so
//! the check is pessimistic.

use std::collections::BTreeMap;

use super::*;

const MS: u64 = 1000;
const DEADTIME: u64 = 500 * MS;
const INITDEAD: u64 = 2000 * MS;
const LINK: u64 = MS;

fn groups2() -> Vec<Group> {
    vec![
        Group { node: "a".into(), key: "IPaddr::10.0.0.100/24/eth0".into(), display: "a IPaddr::10.0.0.100/24/eth0".into() },
        Group { node: "b".into(), key: "IPaddr::10.0.0.101/24/eth0".into(), display: "b IPaddr::10.0.0.101/24/eth0".into() },
    ]
}

fn cfg(local: &str, peer: &str, af: AutoFailback, ping: bool) -> Config {
    Config {
        local: local.into(),
        peer: Some(peer.into()),
        groups: groups2(),
        auto_failback: af,
        ping_nodes: if ping { vec!["10.0.0.254".into()] } else { vec![] },
    }
}

#[derive(Debug, Clone)]
enum Ev {
    Status(String, NodeStatus),
    Msg(String, Message),
    JobDone(u64),
    Tick,
}

struct Node {
    name: String,
    peer: String,
    mgr: Option<Manager>,
    running: Vec<bool>,
    job: Option<(Job, u64)>,
    /// Fail starts of these groups.
    fail_start: Vec<usize>,
    fail_stop: Vec<usize>,
    fenced: bool,
    exited: bool,
    log: Vec<String>,
}

struct Sim {
    now: u64,
    nodes: Vec<Node>,
    q: BTreeMap<(u64, u64), (usize, Ev)>,
    n: u64,
    /// Link between the two nodes is up.
    link: bool,
    link_since: u64,
    /// Ping node reachable from node i.
    ping: [bool; 2],
    af: AutoFailback,
    ping_cfg: bool,
    job_time: u64,
    /// No two holders is checked only when membership agrees (not during a partition).
    sent: Vec<(usize, String)>,
}

impl Sim {
    fn new(af: AutoFailback, ping: bool) -> Sim {
        let mk = |n: &str, p: &str| Node {
            name: n.into(),
            peer: p.into(),
            mgr: None,
            running: vec![false; 2],
            job: None,
            fail_start: vec![],
            fail_stop: vec![],
            fenced: false,
            exited: false,
            log: vec![],
        };
        Sim {
            now: 0,
            nodes: vec![mk("a", "b"), mk("b", "a")],
            q: BTreeMap::new(),
            n: 0,
            link: true,
            link_since: 0,
            ping: [true, true],
            af,
            ping_cfg: ping,
            job_time: 20 * MS,
            sent: vec![],
        }
    }

    fn at(&mut self, t: u64, node: usize, ev: Ev) {
        self.n += 1;
        self.q.insert((t, self.n), (node, ev));
    }

    fn alive(&self, i: usize) -> bool {
        self.nodes[i].mgr.is_some()
    }

    /// Starts node i's daemon now.
    fn start(&mut self, i: usize) {
        let (name, peer) = (self.nodes[i].name.clone(), self.nodes[i].peer.clone());
        self.nodes[i].mgr = Some(Manager::new(cfg(&name, &peer, self.af, self.ping_cfg)));
        self.nodes[i].exited = false;
        let o = 1 - i;
        let now = self.now;
        if self.alive(o) && self.link {
            self.at(now + LINK, o, Ev::Status(name.clone(), NodeStatus::Active));
            self.at(now + LINK, i, Ev::Status(peer.clone(), NodeStatus::Active));
        } else {
            self.at(now + INITDEAD, i, Ev::Status(peer.clone(), NodeStatus::Dead));
        }
        if self.ping_cfg && !self.ping[i] {
            self.at(now + INITDEAD, i, Ev::Status("10.0.0.254".into(), NodeStatus::Dead));
        }
        self.feed(i, |m, now| m.handle(now, Event::Start));
    }

    /// SIGKILL of the whole machine: its resources vanish with it.
    fn crash(&mut self, i: usize) {
        self.nodes[i].mgr = None;
        self.nodes[i].job = None;
        self.nodes[i].running = vec![false; 2];
        let o = 1 - i;
        if self.alive(o) && self.link {
            let name = self.nodes[i].name.clone();
            self.at(self.now + DEADTIME, o, Ev::Status(name, NodeStatus::Dead));
        }
    }

    fn sigterm(&mut self, i: usize) {
        self.feed(i, |m, now| m.handle(now, Event::Shutdown));
    }

    fn cut(&mut self) {
        self.link = false;
        for i in 0..2 {
            if self.alive(i) {
                let p = self.nodes[i].peer.clone();
                self.at(self.now + DEADTIME, i, Ev::Status(p, NodeStatus::Dead));
            }
        }
    }

    fn heal(&mut self) {
        self.link = true;
        self.link_since = self.now;
        for i in 0..2 {
            if self.alive(i) && self.alive(1 - i) {
                let p = self.nodes[i].peer.clone();
                self.at(self.now + LINK, i, Ev::Status(p, NodeStatus::Active));
            }
        }
    }

    fn set_ping(&mut self, i: usize, up: bool) {
        self.ping[i] = up;
        let st = if up { NodeStatus::Ping } else { NodeStatus::Dead };
        self.at(self.now + if up { LINK } else { DEADTIME }, i, Ev::Status("10.0.0.254".into(), st));
    }

    fn feed(&mut self, i: usize, f: impl FnOnce(&mut Manager, Instant) -> Vec<Action>) {
        let now = Instant(self.now);
        let Some(m) = self.nodes[i].mgr.as_mut() else { return };
        let acts = f(m, now);
        self.perform(i, acts);
    }

    fn perform(&mut self, i: usize, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::Send(msg) => {
                    self.sent.push((i, format!("{} {}", msg.get_str("t").unwrap_or(""), msg.get_str("rsc_hold").unwrap_or(""))));
                    let o = 1 - i;
                    let dest_ok = msg.get_str("dest").is_none_or(|d| d == self.nodes[o].name);
                    if self.link && self.alive(o) && dest_ok {
                        let from = self.nodes[i].name.clone();
                        if msg.get_str("t") == Some("shutdone") {
                            // Membership reports the death first, then delivers the message.
                            self.at(self.now + LINK, o, Ev::Status(from.clone(), NodeStatus::Dead));
                        }
                        self.at(self.now + LINK, o, Ev::Msg(from, msg.clone()));
                    }
                }
                Action::Run(job) => {
                    if job.kind == JobKind::Acquire {
                        for &g in &job.groups {
                            if !self.nodes[i].fail_start.contains(&g) {
                                self.nodes[i].running[g] = true;
                            }
                        }
                    }
                    let t = self.now + self.job_time * job.groups.len() as u64;
                    let id = job.id;
                    self.nodes[i].job = Some((job, t));
                    self.at(t, i, Ev::JobDone(id));
                }
                Action::Log(l) => self.nodes[i].log.push(format!("{} {l}", self.now / MS)),
                Action::Fence(_) => {
                    self.nodes[i].fenced = true;
                    self.crash(i);
                }
                Action::Exit => {
                    self.nodes[i].exited = true;
                    self.nodes[i].mgr = None;
                }
            }
        }
        if let Some(d) = self.nodes[i].mgr.as_ref().and_then(|m| m.next_deadline()) {
            let t = d.0.max(self.now);
            self.at(t, i, Ev::Tick);
        }
    }

    fn step(&mut self) -> bool {
        let Some((&(t, k), _)) = self.q.iter().next() else { return false };
        let (i, ev) = self.q.remove(&(t, k)).unwrap();
        self.now = self.now.max(t);
        if !self.alive(i) {
            return true;
        }
        if let Ev::Status(n, st) = &ev {
            if *n == self.nodes[i].peer {
                // Membership's view: dead only if silent, alive only if heard.
                let heard = self.link && self.alive(1 - i);
                if (*st == NodeStatus::Dead) == heard {
                    return true;
                }
            }
        }
        match ev {
            Ev::Status(n, s) => self.feed(i, |m, now| m.handle(now, Event::NodeStatus { node: &n, status: s })),
            Ev::Msg(from, msg) => self.feed(i, |m, now| m.handle(now, Event::Message { from: &from, msg: &msg })),
            Ev::JobDone(id) => {
                let Some((job, _)) = self.nodes[i].job.take() else { return true };
                if job.id != id {
                    return true;
                }
                let mut outcomes = vec![];
                for &g in &job.groups {
                    let o = match job.kind {
                        JobKind::Acquire if self.nodes[i].fail_start.contains(&g) => Outcome::StartFailed("exit 1".into()),
                        JobKind::Release if self.nodes[i].fail_stop.contains(&g) => Outcome::StopFailed("exit 1".into()),
                        JobKind::Release => {
                            self.nodes[i].running[g] = false;
                            Outcome::Ok
                        }
                        JobKind::Acquire => Outcome::Ok,
                    };
                    outcomes.push(o);
                }
                self.feed(i, |m, now| m.handle(now, Event::JobDone { id, outcomes }));
            }
            Ev::Tick => {
                let due = self.nodes[i].mgr.as_ref().and_then(|m| m.next_deadline()).is_some_and(|d| d.0 <= self.now);
                if due {
                    self.feed(i, |m, now| m.handle(now, Event::Tick));
                }
            }
        }
        self.check();
        true
    }

    fn check(&self) {
        // A healed partition needs one message exchange and a release to settle.
        if !self.link || self.now < self.link_since + 500 * MS {
            return;
        }
        for g in 0..2 {
            let holders = (0..2).filter(|&i| self.nodes[i].running[g]).count();
            assert!(holders <= 1, "group {g} on both nodes at t={}ms\n{}", self.now / MS, self.dump());
        }
    }

    fn dump(&self) -> String {
        self.nodes.iter().map(|n| format!("--- {}\n{}", n.name, n.log.join("\n"))).collect::<Vec<_>>().join("\n")
    }

    fn run_for(&mut self, us: u64) {
        let end = self.now + us;
        while self.q.keys().next().is_some_and(|&(t, _)| t <= end) {
            self.step();
        }
        self.now = end;
    }

    fn holders(&self, g: usize) -> Vec<&str> {
        (0..2).filter(|&i| self.nodes[i].running[g]).map(|i| self.nodes[i].name.as_str()).collect()
    }

    fn rsc(&self, i: usize) -> &'static str {
        self.nodes[i].mgr.as_ref().map_or("down", |m| m.rscstatus())
    }
}

const SETTLE: u64 = 3_000 * MS;

fn pair(af: AutoFailback) -> Sim {
    let mut s = Sim::new(af, false);
    s.start(0);
    s.start(1);
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["a"], "{}", s.dump());
    assert_eq!(s.holders(1), ["b"], "{}", s.dump());
    s
}

#[test]
fn both_start_at_once_each_takes_its_own_groups_quickly() {
    let mut s = Sim::new(AutoFailback::On, false);
    s.start(0);
    s.start(1);
    s.run_for(200 * MS);
    assert_eq!(s.holders(0), ["a"], "{}", s.dump());
    assert_eq!(s.holders(1), ["b"]);
    assert_eq!(s.rsc(0), "local");
    assert_eq!(s.rsc(1), "local");
}

#[test]
fn lone_node_takes_everything_at_initdead_only() {
    let mut s = Sim::new(AutoFailback::On, false);
    s.start(0);
    s.run_for(INITDEAD - 10 * MS);
    assert!(s.holders(0).is_empty() && s.holders(1).is_empty());
    s.run_for(200 * MS);
    assert_eq!(s.holders(0), ["a"]);
    assert_eq!(s.holders(1), ["a"]);
    assert_eq!(s.rsc(0), "all");
}

#[test]
fn crash_moves_groups_after_deadtime_and_failback_on_returns_them() {
    let mut s = pair(AutoFailback::On);
    s.crash(0);
    s.run_for(DEADTIME - 10 * MS);
    assert_eq!(s.holders(0), Vec::<&str>::new());
    s.run_for(100 * MS);
    assert_eq!(s.holders(0), ["b"], "{}", s.dump());
    assert_eq!(s.rsc(1), "all");
    s.start(0);
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["a"], "{}", s.dump());
    assert_eq!(s.holders(1), ["b"]);
    assert_eq!((s.rsc(0), s.rsc(1)), ("local", "local"));
}

#[test]
fn failback_off_leaves_groups_on_the_survivor() {
    let mut s = pair(AutoFailback::Off);
    s.crash(0);
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["b"]);
    s.start(0);
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["b"], "{}", s.dump());
    assert_eq!((s.rsc(0), s.rsc(1)), ("none", "all"));
}

#[test]
fn clean_stop_hands_over_at_once() {
    let mut s = pair(AutoFailback::On);
    s.sigterm(0);
    s.run_for(100 * MS);
    assert!(s.nodes[0].exited, "{}", s.dump());
    assert_eq!(s.holders(0), ["b"], "{}", s.dump());
    assert!(s.nodes[1].log.iter().any(|l| l.contains("gave up resources")), "{}", s.dump());
    let order: Vec<&str> = s.sent.iter().filter(|(i, _)| *i == 0).map(|(_, m)| m.as_str()).collect();
    let tail = &order[order.len() - 2..];
    assert_eq!(tail, ["resource none", "shutdone "]);
}

#[test]
fn restart_of_a_stopped_node_with_failback_on() {
    let mut s = pair(AutoFailback::On);
    s.sigterm(1);
    s.run_for(SETTLE);
    assert_eq!(s.holders(1), ["a"]);
    s.start(1);
    s.run_for(SETTLE);
    assert_eq!(s.holders(1), ["b"], "{}", s.dump());
}

#[test]
fn standby_and_takeover() {
    let mut s = pair(AutoFailback::Off);
    let now = Instant(s.now);
    let (r, acts) = s.nodes[0].mgr.as_mut().unwrap().standby(now, ALL);
    r.unwrap();
    s.perform(0, acts);
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["b"], "{}", s.dump());
    assert_eq!(s.holders(1), ["b"]);
    assert_eq!((s.rsc(0), s.rsc(1)), ("none", "all"));
    // hb_takeover local on a: b gives up its foreign (a's group).
    let (r, acts) = s.nodes[0].mgr.as_mut().unwrap().takeover(LOCAL);
    r.unwrap();
    s.perform(0, acts);
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["a"], "{}", s.dump());
    assert_eq!(s.holders(1), ["b"]);
    assert_eq!((s.rsc(0), s.rsc(1)), ("local", "local"));
}

#[test]
fn standby_with_dead_peer_is_refused() {
    let mut s = pair(AutoFailback::Off);
    s.crash(1);
    s.run_for(SETTLE);
    let now = Instant(s.now);
    let (r, _) = s.nodes[0].mgr.as_mut().unwrap().standby(now, ALL);
    assert!(r.is_err());
}

#[test]
fn sigterm_during_standby_waits_then_hands_over() {
    let mut s = pair(AutoFailback::Off);
    let now = Instant(s.now);
    let (r, acts) = s.nodes[0].mgr.as_mut().unwrap().standby(now, ALL);
    r.unwrap();
    s.perform(0, acts);
    s.run_for(2 * MS);
    s.sigterm(1);
    s.run_for(SETTLE);
    assert!(s.nodes[1].exited, "{}", s.dump());
    assert_eq!(s.holders(0), ["a"], "{}", s.dump());
    assert_eq!(s.holders(1), ["a"]);
}

#[test]
fn partition_without_ping_nodes_heals_to_one_holder() {
    let mut s = pair(AutoFailback::Off);
    s.cut();
    s.run_for(SETTLE);
    // Split brain while cut: both hold everything.
    assert_eq!(s.holders(0), ["a", "b"]);
    s.heal();
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["a"], "{}", s.dump());
    assert_eq!(s.holders(1), ["b"], "{}", s.dump());
}

#[test]
fn partition_with_ping_node_the_cut_off_node_does_not_take_over() {
    let mut s = Sim::new(AutoFailback::Off, true);
    s.start(0);
    s.start(1);
    s.run_for(SETTLE);
    // b loses the network (its ping node and its peer).
    s.set_ping(1, false);
    s.cut();
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["a"], "{}", s.dump());
    assert_eq!(s.holders(1), ["a", "b"], "{}", s.dump());
    assert!(s.nodes[1].log.iter().any(|l| l.contains("not taking over")), "{}", s.dump());
}

#[test]
fn losing_the_ping_node_hands_resources_to_the_peer() {
    let mut s = Sim::new(AutoFailback::Off, true);
    s.start(0);
    s.start(1);
    s.run_for(SETTLE);
    s.set_ping(0, false);
    s.run_for(SETTLE);
    assert_eq!(s.holders(0), ["b"], "{}", s.dump());
    assert_eq!(s.holders(1), ["b"]);
}

#[test]
fn failed_start_leaves_a_defined_state() {
    let mut s = Sim::new(AutoFailback::On, false);
    s.nodes[0].fail_start = vec![0];
    s.start(0);
    s.start(1);
    s.run_for(SETTLE);
    let m = s.nodes[0].mgr.as_ref().unwrap();
    assert!(matches!(m.group_states()[0], GroupState::Failed(_)));
    assert!(s.nodes[0].log.iter().any(|l| l.contains("CRIT: Giving up resources due to failure")));
    // The group is handed to the peer, which starts it.
    assert_eq!(s.holders(0), ["b"], "{}", s.dump());
}

#[test]
fn a_group_failing_on_both_nodes_is_handed_over_once_and_stays_down() {
    let mut s = Sim::new(AutoFailback::Off, false);
    s.nodes[0].fail_start = vec![0];
    s.nodes[1].fail_start = vec![0];
    s.start(0);
    s.start(1);
    s.run_for(30_000 * MS);
    assert!(s.holders(0).is_empty(), "{}", s.dump());
    assert_eq!(s.holders(1), ["b"]);
    let handoffs = s.nodes.iter().flat_map(|n| &n.log).filter(|l| l.contains("handing the")).count();
    assert!(handoffs <= 2, "{}", s.dump());
}

#[test]
fn failed_stop_fences_and_the_peer_takes_over() {
    let mut s = pair(AutoFailback::On);
    s.nodes[0].fail_stop = vec![0];
    s.sigterm(0);
    s.run_for(SETTLE);
    assert!(s.nodes[0].fenced, "{}", s.dump());
    assert_eq!(s.holders(0), ["b"], "{}", s.dump());
}

#[test]
fn peer_messages_that_make_no_sense_are_logged_not_fatal() {
    let mut m = Manager::new(cfg("a", "b", AutoFailback::On, false));
    let now = Instant(0);
    m.handle(now, Event::Start);
    m.handle(now, Event::NodeStatus { node: "b", status: NodeStatus::Active });
    for (k, v) in [("rsc_hold", "bogus"), ("rsc_hold", ""), ("isstable", "x")] {
        let mut msg = Message::new();
        msg.add("t", "resource").add(k, v);
        let acts = m.handle(now, Event::Message { from: "b", msg: &msg });
        assert!(acts.iter().any(|a| matches!(a, Action::Log(l) if l.starts_with("ERROR"))));
    }
    let mut msg = Message::new();
    msg.add("t", "ask_resources").add("info", "done");
    let acts = m.handle(now, Event::Message { from: "b", msg: &msg });
    assert!(acts.iter().any(|a| matches!(a, Action::Log(l) if l.contains("Ignored standby message"))));
    // Messages from strangers are ignored.
    let acts = m.handle(now, Event::Message { from: "zz", msg: &msg });
    assert!(acts.is_empty());
}

#[test]
fn wire_messages_match_3_0_6() {
    let mut m = Manager::new(cfg("a", "b", AutoFailback::On, false));
    let acts = m.handle(Instant(0), Event::Start);
    let Action::Send(s) = &acts[0] else { panic!() };
    assert_eq!(s.classic_lines(""), b"t=starting\n");
    let acts = m.handle(Instant(0), Event::NodeStatus { node: "b", status: NodeStatus::Active });
    assert!(acts.is_empty());
    let mut st = Message::new();
    st.add("t", "starting");
    let acts = m.handle(Instant(0), Event::Message { from: "b", msg: &st });
    let sent: Vec<Vec<u8>> = acts.iter().filter_map(|a| if let Action::Send(m) = a { Some(m.classic_lines("")) } else { None }).collect();
    assert!(sent.contains(&b"t=resource\nrsc_hold=none\nrtype=full\nisstable=0\n".to_vec()), "{sent:?}");
    assert!(sent.contains(&b"t=ip-request-resp\ndest=a\nipaddr=IPaddr::10.0.0.100/24/eth0\nweown=yes\nok=OK\n".to_vec()), "{sent:?}");
}

/// Random schedules of crashes, restarts, clean stops, standby and takeover requests, with the
/// no-two-holders check at every step and a final settled state with every group held once.
#[test]
fn seeded_random_schedules_never_put_a_group_on_two_nodes() {
    for seed in 1..=400u64 {
        let mut rng = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let af = [AutoFailback::On, AutoFailback::Off, AutoFailback::Legacy][(seed % 3) as usize];
        let mut s = Sim::new(af, false);
        s.job_time = (next() % 50 + 1) * MS;
        s.start(0);
        if next() % 2 == 0 {
            s.start(1);
        }
        for _ in 0..25 {
            s.run_for((next() % 3000) * MS);
            let i = (next() % 2) as usize;
            match next() % 6 {
                0 if s.alive(i) => s.crash(i),
                1 if s.alive(i) => s.sigterm(i),
                2 if !s.alive(i) => s.start(i),
                3 if s.alive(i) => {
                    let now = Instant(s.now);
                    let (_, acts) = s.nodes[i].mgr.as_mut().unwrap().standby(now, [ALL, LOCAL, FOREIGN][(next() % 3) as usize]);
                    s.perform(i, acts);
                }
                4 if s.alive(i) => {
                    let (_, acts) = s.nodes[i].mgr.as_mut().unwrap().takeover([ALL, LOCAL, FOREIGN][(next() % 3) as usize]);
                    s.perform(i, acts);
                }
                _ => {}
            }
        }
        for i in 0..2 {
            if !s.alive(i) {
                s.start(i);
            }
        }
        s.run_for(15_000 * MS);
        for g in 0..2 {
            assert_eq!(s.holders(g).len(), 1, "seed {seed}: group {g} held by {:?}\n{}", s.holders(g), s.dump());
        }
    }
}
