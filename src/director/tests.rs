//! Engine tests with a virtual clock: a small world answers checks after a delay, the engine's
//! table is compared with what 4.12 would hold.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::ldirectord_cf;
use crate::ipvs::fake::FakeIpvs;
use crate::ipvs::listing::{ListMode, list};
use crate::time::Instant;

struct NoDns;
impl Resolve for NoDns {
    fn host(&self, name: &str, _ipv6: bool) -> Option<IpAddr> {
        (name == "localhost").then(|| "127.0.0.1".parse().unwrap())
    }
    fn port(&self, name: &str, _p: Option<&str>) -> Option<u16> {
        ldirectord_cf::well_known_port(name)
    }
}

pub(crate) fn farm(text: &str) -> Arc<Farm> {
    let cfg = ldirectord_cf::parse("t.cf", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}")).value;
    Arc::new(farm::resolve(&cfg, &NoDns, "host").unwrap())
}

/// The world: which addresses answer, how long a check takes, and what ran.
struct World {
    engine: Engine,
    now: Instant,
    ipvs: FakeIpvs,
    owned: HashSet<crate::ipvs::model::ServiceKey>,
    down: HashSet<IpAddr>,
    hung: HashSet<IpAddr>,
    maintenance: HashSet<IpAddr>,
    pending: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, u64, CheckId, Outcome)>>,
    seq: u64,
    stale: bool,
    runs: HashMap<IpAddr, Vec<(Instant, Probe)>>,
    commands: Vec<String>,
    logs: Vec<String>,
    alerts: Vec<String>,
    ops: usize,
}

const CHECK_TIME: Duration = Duration::from_millis(3);

impl World {
    fn new(text: &str) -> World {
        let f = farm(text);
        let mut w = World {
            engine: Engine::new(Instant::ZERO, f),
            now: Instant::ZERO,
            ipvs: FakeIpvs::new(),
            owned: HashSet::new(),
            down: HashSet::new(),
            hung: HashSet::new(),
            maintenance: HashSet::new(),
            pending: Default::default(),
            seq: 0,
            stale: false,
            runs: HashMap::new(),
            commands: Vec::new(),
            logs: Vec::new(),
            alerts: Vec::new(),
            ops: 0,
        };
        w.feed(Input::Tick);
        w.sync();
        w
    }

    fn feed(&mut self, input: Input) {
        for a in self.engine.handle(self.now, input) {
            match a {
                Action::RunCheck { id, spec, probe, timeout } => {
                    let addr = spec.key.addr;
                    self.runs.entry(addr).or_default().push((self.now, probe));
                    let outcome = if self.maintenance.contains(&addr) {
                        (CHECK_TIME, Outcome::Maintenance)
                    } else if self.hung.contains(&addr) {
                        (timeout, Outcome::Down("timed out".into()))
                    } else if self.down.contains(&addr) {
                        (CHECK_TIME, Outcome::Down("refused".into()))
                    } else {
                        (CHECK_TIME, Outcome::Up("ok".into()))
                    };
                    self.seq += 1;
                    self.pending.push(std::cmp::Reverse((self.now + outcome.0, self.seq, id, outcome.1)));
                }
                Action::TableChanged => self.stale = true,
                Action::RunFallbackCommand { command } => self.commands.push(command),
                Action::Log(l) => self.logs.push(l),
                Action::Alert { subject, .. } => self.alerts.push(subject),
            }
        }
    }

    /// Reconciles once for every change at one instant, as the daemon coalesces.
    fn sync(&mut self) {
        if std::mem::take(&mut self.stale) {
            self.owned.extend(self.engine.owned_keys());
            let report = crate::ipvs::reconcile(&mut self.ipvs, &self.engine.desired(), &self.owned).unwrap();
            assert!(report.failed.is_empty(), "{:?}", report.failed);
            self.ops += report.applied.len();
        }
    }

    /// Advances virtual time to `until`, delivering results and deadlines in order.
    fn run_until(&mut self, until: Instant) {
        for _ in 0..1_000_000 {
            let next_result = self.pending.peek().map(|p| p.0.0);
            let next_tick = self.engine.next_deadline().map(|d| d.at);
            let next = [next_result, next_tick].into_iter().flatten().min();
            match next {
                Some(t) if t <= until => {
                    if t > self.now {
                        self.sync();
                    }
                    self.now = self.now.max(t);
                    if next_result == Some(t) {
                        let std::cmp::Reverse((_, _, id, outcome)) = self.pending.pop().unwrap();
                        self.feed(Input::CheckCompleted { id, outcome });
                    } else {
                        self.feed(Input::Tick);
                    }
                }
                _ => {
                    self.sync();
                    self.now = until;
                    return;
                }
            }
        }
        panic!("simulation did not reach {until}");
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn table(&self) -> String {
        list(self.ipvs.table(), (1, 2, 1), 4096, ListMode::Plain).lines().skip(3).collect::<Vec<_>>().join("\n")
    }

    fn reload(&mut self, text: &str) {
        self.feed(Input::Reconfigure(farm(text)));
        self.sync();
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const TWO_REALS: &str = "checkinterval=1\nnegotiatetimeout=2\nquiescent=yes\nvirtual=10.0.0.1:80\n    real=10.1.0.1:80 masq 2\n    real=10.1.0.2:80 masq 3\n    request=\"/h\"\n";

#[test]
fn start_adds_checked_reals_only() {
    let mut w = World::new(TWO_REALS);
    // Before any result: quiesced (weight 0), never full weight unchecked.
    assert!(w.table().contains("10.1.0.1:80                  Masq    0"), "{}", w.table());
    w.run_for(secs(0.01));
    assert_eq!(
        w.table(),
        "TCP  10.0.0.1:80 wrr\n  -> 10.1.0.1:80                  Masq    2      0          0         \n  -> 10.1.0.2:80                  Masq    3      0          0         "
    );
}

#[test]
fn each_real_checked_once_per_interval_spread() {
    let mut w = World::new(&format!(
        "checkinterval=2\n{}",
        "virtual=10.0.0.1:80\n    service=http\n".to_owned()
            + &(1..=50).map(|i| format!("    real=10.1.0.{i}:80 gate\n")).collect::<String>()
    ));
    w.run_for(secs(21.0));
    let mut firsts = Vec::new();
    for (addr, runs) in &w.runs {
        // Start + one per interval after the first spread slot.
        assert!((10..=12).contains(&runs.len()), "{addr}: {} runs", runs.len());
        for pair in runs[1..].windows(2) {
            assert_eq!(pair[1].0 - pair[0].0, secs(2.0), "{addr}");
        }
        firsts.push(runs[1].0);
    }
    // Spread: the second checks are not all in the same 100 ms.
    firsts.sort();
    assert!(firsts[firsts.len() - 1] - firsts[0] > secs(1.0));
}

#[test]
fn a_starved_loop_does_not_catch_up_with_short_periods() {
    let mut w = World::new(&format!(
        "checkinterval=1\n{}",
        "virtual=10.0.0.1:80\n    service=http\n".to_owned()
            + &(1..=20).map(|i| format!("    real=10.1.0.{i}:80 gate\n")).collect::<String>()
    ));
    w.run_for(secs(3.0));
    // The loop gets no CPU for 600 ms: every check then runs late.
    w.now = w.now + secs(0.6);
    w.run_for(secs(5.0));
    for (addr, runs) in &w.runs {
        for pair in runs[1..].windows(2) {
            // A check late by up to a tenth of the interval keeps its grid; a later one starts
            // a new grid, so no gap is below 0.9 s (a catch-up would run one 0.4 s after it).
            assert!(pair[1].0 - pair[0].0 >= secs(0.9) - CHECK_TIME, "{addr}: gap {:?}", pair[1].0 - pair[0].0);
        }
    }
}

#[test]
fn quiescent_yes_and_failurecount() {
    let mut w = World::new(&TWO_REALS.replace("checkinterval=1", "checkinterval=1\nfailurecount=3"));
    w.run_for(secs(1.5));
    w.down.insert(ip("10.1.0.1"));
    // Two failures: soft, still up.
    w.run_for(secs(2.0));
    assert!(w.table().contains("10.1.0.1:80                  Masq    2"), "{}", w.table());
    assert!(w.logs.iter().any(|l| l.starts_with("Soft failure real server: 10.1.0.1:80 (tcp:10.0.0.1:80) failure 1/3")), "{:?}", w.logs);
    w.run_for(secs(1.0));
    assert!(w.table().contains("10.1.0.1:80                  Masq    0"), "{}", w.table());
    // One good check restores.
    w.down.clear();
    w.run_for(secs(1.0));
    assert!(w.table().contains("10.1.0.1:80                  Masq    2"), "{}", w.table());
}

#[test]
fn soft_failure_then_success_resets() {
    let mut w = World::new(&TWO_REALS.replace("checkinterval=1", "checkinterval=1\nfailurecount=2"));
    w.run_for(secs(1.5));
    for _ in 0..3 {
        w.down.insert(ip("10.1.0.2"));
        w.run_for(secs(1.0));
        w.down.clear();
        w.run_for(secs(1.0));
    }
    assert!(w.table().contains("10.1.0.2:80                  Masq    3"), "{}", w.table());
    assert!(w.logs.iter().any(|l| l.starts_with("Resetting soft failure count: 10.1.0.2:80")));
}

#[test]
fn quiescent_no_removes_and_readds() {
    let mut w = World::new(&TWO_REALS.replace("quiescent=yes", "quiescent=no"));
    assert!(!w.table().contains("10.1.0.1"));
    w.run_for(secs(1.5));
    w.down.insert(ip("10.1.0.1"));
    w.run_for(secs(1.5));
    assert!(!w.table().contains("10.1.0.1"), "{}", w.table());
    assert!(w.table().contains("10.1.0.2"));
    w.down.clear();
    w.run_for(secs(1.5));
    assert!(w.table().contains("10.1.0.1:80                  Masq    2"));
}

#[test]
fn fallback_and_fallbackcommand_once_per_transition() {
    let cfg = "checkinterval=1\nfallback=127.0.0.1:80\nfallbackcommand=/bin/fb\nvirtual=10.0.0.1:80\n    real=10.1.0.1:80 masq\n    real=10.1.0.2:80 masq\n";
    let mut w = World::new(cfg);
    w.run_for(secs(1.5));
    assert!(!w.table().contains("127.0.0.1"));
    assert!(w.commands.is_empty(), "no flapping at start: {:?}", w.commands);
    w.down.insert(ip("10.1.0.1"));
    w.run_for(secs(1.5));
    assert!(!w.table().contains("127.0.0.1"));
    w.down.insert(ip("10.1.0.2"));
    w.run_for(secs(1.5));
    assert!(w.table().contains("127.0.0.1:80                 Route   1"), "{}", w.table());
    w.run_for(secs(3.0));
    assert_eq!(w.commands, vec!["/bin/fb start 10.0.0.1:80 tcp"]);
    w.down.remove(&ip("10.1.0.2"));
    w.run_for(secs(1.5));
    assert!(!w.table().contains("127.0.0.1"));
    assert_eq!(w.commands, vec!["/bin/fb start 10.0.0.1:80 tcp", "/bin/fb stop 10.0.0.1:80 tcp"]);
}

#[test]
fn fallback6_for_ipv6_virtuals_only() {
    let cfg = "checkinterval=1\nfallback=127.0.0.1:80\nfallback6=[::1]:80\nvirtual6=[2001:db8::1]:80\n    real6=[2001:db8::10]:80 masq\n";
    let mut w = World::new(cfg);
    w.down.insert(ip("2001:db8::10"));
    w.run_for(secs(1.5));
    assert!(w.table().contains("[::1]:80"), "{}", w.table());
    assert!(!w.table().contains("127.0.0.1"));
}

#[test]
fn maintenance_bypasses_failurecount() {
    let mut w = World::new(&TWO_REALS.replace("checkinterval=1", "checkinterval=1\nfailurecount=5"));
    w.run_for(secs(1.5));
    w.maintenance.insert(ip("10.1.0.1"));
    w.run_for(secs(1.0));
    assert!(w.table().contains("10.1.0.1:80                  Masq    0"), "{}", w.table());
    w.maintenance.clear();
    w.run_for(secs(1.0));
    assert!(w.table().contains("10.1.0.1:80                  Masq    2"));
}

#[test]
fn checktypes_on_off_and_service_none() {
    let cfg = "checkinterval=1\nquiescent=yes\nvirtual=10.0.0.1:80\n    checktype=on\n    real=10.1.0.1:80 masq\nvirtual=10.0.0.2:80\n    checktype=off\n    real=10.1.0.2:80 masq\nvirtual=10.0.0.3:8080\n    real=10.1.0.3:8080 masq\n";
    let mut w = World::new(cfg);
    w.down.extend([ip("10.1.0.1"), ip("10.1.0.2"), ip("10.1.0.3")]);
    w.run_for(secs(5.0));
    assert!(w.runs.is_empty(), "nothing is checked: {:?}", w.runs);
    assert!(w.table().contains("10.1.0.1:80                  Masq    1"));
    assert!(w.table().contains("10.1.0.2:80                  Masq    0"));
    // Port 8080 without service= is service none: always up (4.12's rule).
    assert!(w.table().contains("10.1.0.3:8080                Masq    1"));
}

#[test]
fn combined_checks_alternate_and_connect_failure_forces_negotiate() {
    let cfg = "checkinterval=1\nvirtual=10.0.0.1:80\n    service=http\n    checktype=2\n    real=10.1.0.1:80 masq\n";
    let mut w = World::new(cfg);
    w.run_for(secs(6.5));
    let probes: Vec<Probe> = w.runs[&ip("10.1.0.1")].iter().map(|r| r.1).collect();
    use Probe::*;
    assert_eq!(&probes[..7], &[Negotiate, Connect, Connect, Negotiate, Connect, Connect, Negotiate]);
    w.down.insert(ip("10.1.0.1"));
    let before = w.runs[&ip("10.1.0.1")].len();
    w.run_for(secs(1.0));
    w.down.clear();
    w.run_for(secs(1.0));
    let after: Vec<Probe> = w.runs[&ip("10.1.0.1")][before..].iter().map(|r| r.1).collect();
    // Whatever failed, the next check is a negotiate one.
    assert_eq!(after.last(), Some(&Negotiate), "{after:?}");
}

#[test]
fn connect_on_udp_is_ping_and_external_gets_its_arguments() {
    let cfg = "checkinterval=1\nvirtual=10.0.0.1:53\n    checktype=connect\n    real=10.1.0.1:53 gate\nvirtual=10.0.0.2:80\n    checktype=external\n    checkcommand=/bin/check\n    real=10.1.0.2:8080 masq\n";
    let mut w = World::new(cfg);
    w.run_for(secs(0.5));
    assert_eq!(w.runs[&ip("10.1.0.1")][0].1, Probe::Ping);
    assert_eq!(w.runs[&ip("10.1.0.2")][0].1, Probe::External);
    let f = w.engine.farm();
    assert_eq!(f.checks[1].key.checkcommand, Some(("/bin/check".into(), "10.0.0.2".into(), "80".into())));
}

#[test]
fn shared_real_checked_once_and_failurecount_counts_checks() {
    let cfg = "checkinterval=1\nfailurecount=4\nquiescent=yes\nvirtual=10.0.0.1:80\n    service=http\n    real=10.1.0.1:80 masq\nvirtual=10.0.0.2:80\n    service=http\n    real=10.1.0.1:80 masq\n";
    let mut w = World::new(cfg);
    w.run_for(secs(5.5));
    assert!((5..=7).contains(&w.runs[&ip("10.1.0.1")].len()), "{:?}", w.runs);
    w.down.insert(ip("10.1.0.1"));
    w.run_for(secs(3.0));
    // 3 failed checks < 4: still up in both (4.12 would count 6 and take it down).
    assert_eq!(w.table().matches("Masq    1").count(), 2, "{}", w.table());
    w.run_for(secs(1.0));
    assert_eq!(w.table().matches("Masq    0").count(), 2, "{}", w.table());
}

#[test]
fn hung_real_does_not_delay_others() {
    let mut w = World::new(TWO_REALS);
    w.run_for(secs(1.5));
    w.hung.insert(ip("10.1.0.1"));
    w.down.insert(ip("10.1.0.2"));
    let t0 = w.now;
    w.run_for(secs(1.01));
    // 10.1.0.2 is detected within one interval + check time, while 10.1.0.1 hangs.
    assert!(w.table().contains("10.1.0.2:80                  Masq    0"), "{}", w.table());
    let checks_of_2 = w.runs[&ip("10.1.0.2")].iter().filter(|r| r.0 >= t0).count();
    assert!(checks_of_2 >= 1);
    // The hung one is down after its timeout (2 s).
    w.run_for(secs(3.0));
    assert!(w.table().contains("10.1.0.1:80                  Masq    0"), "{}", w.table());
}

#[test]
fn reload_touches_only_what_changed() {
    let mut w = World::new(TWO_REALS);
    w.run_for(secs(1.5));
    let ops_before = w.ops;
    // Same configuration: nothing to do.
    w.reload(TWO_REALS);
    assert_eq!(w.ops, ops_before);
    // Add a real and a virtual, change a weight.
    let new = TWO_REALS.replace("masq 3", "masq 4") + "    real=10.1.0.3:80 masq 1\nvirtual=10.0.0.9:80\n    real=10.1.0.9:80 masq\n";
    w.reload(&new);
    // Weight edit (1) + new real at weight 0 (1) + new service (1) + its real at 0 (1).
    assert_eq!(w.ops - ops_before, 4, "{}", w.table());
    w.run_for(secs(0.01));
    assert!(w.table().contains("10.1.0.3:80                  Masq    1"));
    assert!(w.table().contains("10.1.0.2:80                  Masq    4"));
    // Health carried over: a down real stays down (no brief full weight as in 4.12).
    w.down.insert(ip("10.1.0.1"));
    w.run_for(secs(1.5));
    let ops = w.ops;
    w.reload(&new);
    assert_eq!(w.ops, ops);
    assert!(w.table().contains("10.1.0.1:80                  Masq    0"));
    // Removing a virtual block removes its service.
    w.reload(TWO_REALS);
    assert!(!w.table().contains("10.0.0.9"));
    assert!(!w.table().contains("10.1.0.3"));
}

#[test]
fn stale_results_after_reload_are_dropped() {
    let mut w = World::new(TWO_REALS);
    let pending = std::mem::take(&mut w.pending);
    w.reload("checkinterval=1\nvirtual=10.0.0.1:80\n    real=10.1.0.7:80 masq\n");
    for std::cmp::Reverse((_, _, id, _)) in pending {
        w.feed(Input::CheckCompleted { id, outcome: Outcome::Up("late".into()) });
    }
    w.run_for(secs(0.5));
    assert!(w.table().contains("10.1.0.7"));
    assert!(!w.table().contains("10.1.0.1"));
}

#[test]
fn cleanstop_per_virtual() {
    let cfg = "checkinterval=1\nvirtual=10.0.0.1:80\n    real=10.1.0.1:80 masq\nvirtual=10.0.0.2:80\n    cleanstop=no\n    real=10.1.0.2:80 masq\n";
    let mut w = World::new(cfg);
    w.run_for(secs(1.0));
    let ops = crate::ipvs::diff::plan(&Default::default(), w.ipvs.table(), &w.engine.cleanstop_keys());
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].to_string(), "-D -t 10.0.0.1:80");
}

#[test]
fn ten_thousand_reals_simulated_quickly() {
    let mut cfg = String::from("checkinterval=1\nquiescent=yes\n");
    for v in 0..100 {
        cfg.push_str(&format!("virtual=10.0.{v}.1:80\n    service=http\n"));
        for r in 0..100 {
            cfg.push_str(&format!("    real=10.{}.{v}.{}:80 masq\n", 100 + r / 100, r % 100 + 1));
        }
    }
    let mut w = World::new(&cfg);
    let t = std::time::Instant::now();
    w.run_for(secs(3.0));
    assert_eq!(w.ipvs.table().dest_count(), 10_000);
    assert!(w.table().matches("Masq    1").count() == 10_000);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

#[test]
fn email_alerts_on_transitions_only_where_configured() {
    let cfg = "checkinterval=1\nemailalert=\"ops@example.com\"\nemailalertstatus=running\nvirtual=10.0.0.1:80\n    servicename=web\n    real=10.1.0.1:80 masq\nvirtual=10.0.0.2:80\n    emailalertstatus=none\n    real=10.1.0.1:80 masq\n";
    let mut w = World::new(cfg);
    w.run_for(secs(1.5));
    assert!(w.alerts.is_empty(), "{:?}", w.alerts);
    w.down.insert(ip("10.1.0.1"));
    w.run_for(secs(1.5));
    w.down.clear();
    w.run_for(secs(1.5));
    assert_eq!(
        w.alerts,
        vec!["[web] Inaccessible real server: 10.1.0.1:80 (tcp:10.0.0.1:80)", "[web] Restored real server: 10.1.0.1:80 (tcp:10.0.0.1:80)"]
    );
}

#[test]
fn emailalertfreq_reminds_while_down() {
    let cfg = "checkinterval=1\nemailalert=\"ops@example.com\"\nemailalertfreq=5\nvirtual=10.0.0.1:80\n    real=10.1.0.1:80 masq\n";
    let mut w = World::new(cfg);
    w.run_for(secs(1.5));
    w.down.insert(ip("10.1.0.1"));
    w.run_for(secs(11.5));
    let inaccessible = w.alerts.iter().filter(|a| a.starts_with("Inaccessible")).count();
    assert_eq!(inaccessible, 3, "{:?}", w.alerts);
    w.down.clear();
    w.run_for(secs(12.0));
    assert_eq!(w.alerts.iter().filter(|a| a.starts_with("Inaccessible")).count(), 3);
    assert_eq!(w.alerts.last().unwrap(), "Restored real server: 10.1.0.1:80 (tcp:10.0.0.1:80)");
}

/// Seeded random runs: reals flap, hang and go into maintenance, the configuration is reloaded;
/// after every step the table must be what the health says (the engine's invariants).
#[test]
fn random_runs_keep_the_table_consistent_with_health() {
    let seed: u64 = std::env::var("HB_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let mut x = seed;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let configs = [
        "checkinterval=1\nnegotiatetimeout=2\nfailurecount=2\nquiescent=yes\nfallback=127.0.0.1:80\nvirtual=10.0.0.1:80\n    service=http\n    real=10.1.0.1:80 masq 2\n    real=10.1.0.2:80 masq 3\nvirtual=10.0.0.2:80\n    service=http\n    quiescent=no\n    real=10.1.0.2:80 masq\n    real=10.1.0.3:80 masq\n",
        "checkinterval=1\nnegotiatetimeout=1\nvirtual=10.0.0.1:80\n    service=http\n    checktype=3\n    real=10.1.0.1:80 masq 2\n    real=10.1.0.4:80 masq\nvirtual=10.0.0.3:80\n    checktype=on\n    real=10.1.0.3:80 masq\n",
    ];
    let mut w = World::new(configs[0]);
    let addrs: Vec<IpAddr> = (1..=4).map(|i| ip(&format!("10.1.0.{i}"))).collect();
    for step in 0..300 {
        let a = addrs[rnd(4) as usize];
        match rnd(10) {
            0..=3 => {
                w.down.insert(a);
            }
            4..=6 => {
                w.down.remove(&a);
                w.hung.remove(&a);
                w.maintenance.remove(&a);
            }
            7 => {
                w.hung.insert(a);
            }
            8 => {
                w.maintenance.insert(a);
            }
            _ => w.reload(configs[rnd(2) as usize]),
        }
        w.run_for(Duration::from_millis(rnd(3000)));
        // Invariants: the table equals the desired table, and the desired table follows health.
        assert_eq!(w.ipvs.table().canonical(), w.engine.desired().canonical(), "seed {seed} step {step}");
        let status = w.engine.status();
        let farm = w.engine.farm().clone();
        for v in &farm.virtuals {
            let svc = w.ipvs.table().service(&v.key).cloned().unwrap_or_else(|| panic!("seed {seed} step {step}: {} missing", v.id));
            let mut any_up = false;
            let mut all_known = true;
            for r in &v.reals {
                let st = status
                    .iter()
                    .find(|s| s.virtual_id == v.id && s.real == crate::ipvs::model::SockAddr(r.dest.addr, r.dest.port).to_string())
                    .unwrap();
                let dest = svc.dest(&r.dest);
                match st.health {
                    Health::Up => {
                        any_up = true;
                        assert_eq!(dest.map(|d| d.conf.weight), Some(r.conf.weight), "seed {seed} step {step}");
                    }
                    h => {
                        all_known &= h != Health::Unknown;
                        if v.quiescent {
                            assert_eq!(dest.map(|d| d.conf.weight), Some(0), "seed {seed} step {step}");
                        } else {
                            assert!(dest.is_none(), "seed {seed} step {step}");
                        }
                    }
                }
            }
            if let Some((fb, _)) = v.fallback {
                assert_eq!(svc.dest(&fb).is_some(), !any_up && all_known, "seed {seed} step {step}: fallback of {}", v.id);
            }
        }
    }
}
