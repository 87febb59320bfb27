//! The `OSPFvip` driver: samples the embedded directors' reals when a director says they changed
//! (and every [`SAMPLE_EVERY`], in case a wake-up came while it was busy), feeds the
//! announcer (`src/resources/ecmp.rs`) and tells FRR through `vtysh` (its supported interface:
//! nothing of FRR's is edited behind its back). `HEARTBEAT_RS_VTYSH` replaces the `vtysh`
//! command (words split on blanks: `vtysh -N d1`, or a test's fake).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::config::ospfvip::OspfVip;
use crate::director::engine::RealStatus;
use crate::resources::ecmp::{self, Announcer, Command, Outcome};
use crate::time::Instant;

pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// A `vtysh` call that takes longer has failed (FRR hung); it is killed.
const VTYSH_TIMEOUT: Duration = Duration::from_secs(10);
/// A graceful stop gives up withdrawing after this long (FRR gone: its dead interval does it).
const STOP_LIMIT: Duration = Duration::from_secs(5);
/// After a withdrawal on stop, how long the VIP stays on `lo`: the router's SPF run and route
/// update take tens of milliseconds, and packets sent meanwhile should still be answered.
pub const DRAIN: Duration = Duration::from_millis(500);

/// The `vtysh` command line.
#[derive(Debug, Clone)]
pub struct Vtysh(Vec<String>);

impl Vtysh {
    pub fn from_env() -> Vtysh {
        let words: Vec<String> = std::env::var("HEARTBEAT_RS_VTYSH").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
        if words.is_empty() { Vtysh(vec!["vtysh".to_owned()]) } else { Vtysh(words) }
    }

    fn command(&self, cmds: &[String]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.0[0]);
        c.args(&self.0[1..]);
        for cmd in cmds {
            c.arg("-c").arg(cmd);
        }
        c.stdin(std::process::Stdio::null()).kill_on_drop(true);
        c
    }

    /// Runs the commands in one `vtysh` session; its output, or why it failed.
    pub async fn run(&self, cmds: &[String]) -> Result<String, String> {
        let out = tokio::time::timeout(VTYSH_TIMEOUT, self.command(cmds).output())
            .await
            .map_err(|_| format!("{} timed out", self.0[0]))?
            .map_err(|e| format!("cannot run {}: {e}", self.0[0]))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        // vtysh reports a refused command with a `%` line, not always with its exit status.
        let refused = text.lines().chain(err.lines()).find(|l| l.trim_start().starts_with('%'));
        match (out.status.success(), refused) {
            (true, None) => Ok(text),
            (_, Some(l)) => Err(format!("{}: {}", self.0[0], l.trim())),
            (false, None) => Err(format!("{} failed ({}): {}", self.0[0], out.status, err.trim())),
        }
    }
}

fn network(o: &OspfVip) -> String {
    format!("network {}/32 area {}", o.vip, o.area)
}

/// The session that announces the VIP (and sets the cost of `lo` when one is given).
pub fn announce_cmds(o: &OspfVip) -> Vec<String> {
    let mut c = vec!["configure terminal".to_owned()];
    if let Some(cost) = o.cost {
        c.extend(["interface lo".to_owned(), format!("ip ospf cost {cost}"), "exit".to_owned()]);
    }
    c.extend(["router ospf".to_owned(), network(o)]);
    c
}

pub fn withdraw_cmds(o: &OspfVip) -> Vec<String> {
    vec!["configure terminal".to_owned(), "router ospf".to_owned(), format!("no {}", network(o))]
}

pub fn verify_cmds() -> Vec<String> {
    vec!["show running-config".to_owned()]
}

/// The `network NET area AREA` lines of a running configuration, as (NET, AREA).
fn network_lines(running: &str) -> impl Iterator<Item = (&str, &str)> {
    running.lines().filter_map(|l| {
        let mut w = l.split_whitespace();
        match (w.next(), w.next(), w.next(), w.next(), w.next()) {
            (Some("network"), Some(net), Some("area"), Some(area), None) => Some((net, area)),
            _ => None,
        }
    })
}

/// Whether a running configuration announces the VIP in its area (`0` and `0.0.0.0` alike).
pub fn present_in(running: &str, o: &OspfVip) -> bool {
    let want = format!("{}/32", o.vip);
    network_lines(running).any(|(net, area)| {
        net == want && crate::config::ospfvip::parse(&[o.vip.to_string(), area.to_owned()]).is_ok_and(|p| p.area.id() == o.area.id())
    })
}

/// Another `network A/P area X` line of a running configuration whose prefix holds the VIP: ospfd
/// then enables OSPF on the VIP's address whatever we add or remove, so withdrawal does nothing.
pub fn covered_by_other(running: &str, vip: std::net::Ipv4Addr) -> Option<String> {
    network_lines(running).find_map(|(net, _)| {
        let (addr, len) = net.split_once('/')?;
        let (addr, len): (std::net::Ipv4Addr, u32) = (addr.parse().ok()?, len.parse().ok()?);
        (len < 32 && contains(addr, len, vip)).then(|| net.to_owned())
    })
}

/// Whether `addr/len` holds `ip`.
pub fn contains(addr: std::net::Ipv4Addr, len: u32, ip: std::net::Ipv4Addr) -> bool {
    u32::from(addr) & netmask(len) == u32::from(ip) & netmask(len)
}

/// The IPv4 netmask of a prefix length (32 and above: all ones).
pub fn netmask(len: u32) -> u32 {
    u32::MAX.checked_shl(32 - len.min(32)).unwrap_or(0)
}

/// `covered` is set by `Verify` to another network line that holds the VIP, if any.
async fn perform(vtysh: &Vtysh, o: &OspfVip, cmd: Command, covered: &mut Option<String>) -> Result<Outcome, String> {
    match cmd {
        Command::Announce => vtysh.run(&announce_cmds(o)).await.map(|_| Outcome::Done),
        Command::Withdraw => vtysh.run(&withdraw_cmds(o)).await.map(|_| Outcome::Done),
        Command::Verify => vtysh.run(&verify_cmds()).await.map(|t| {
            *covered = covered_by_other(&t, o.vip);
            Outcome::Present(present_in(&t, o))
        }),
    }
}

/// A running announcer.
pub struct Task {
    stop: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<bool>,
    announced: Arc<AtomicBool>,
}

impl Task {
    /// Whether FRR announces the VIP, as last done or read (for metrics).
    pub fn announced(&self) -> bool {
        self.announced.load(Ordering::Relaxed)
    }

    /// Withdraws (bounded by [`STOP_LIMIT`]) and ends; whether the VIP was announced until now
    /// (then the router still sends to us for a moment: keep the VIP on `lo` for [`DRAIN`]).
    pub async fn stop(mut self) -> bool {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.join).await.unwrap_or(false)
    }
}

/// Starts the announcer for `o`. `health` samples the reals of the directors (None: no sample
/// this time, the last one stands), every [`SAMPLE_EVERY`] and whenever `changed` is notified
/// (a director's table changed: no polling delay); `standby` withdraws while set; `log` gets one
/// line per change.
pub fn spawn<F, Fut>(
    o: OspfVip,
    vtysh: Vtysh,
    health: F,
    changed: Arc<tokio::sync::Notify>,
    standby: Arc<AtomicBool>,
    log: fn(&str),
) -> Task
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Option<Vec<RealStatus>>> + Send,
{
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let announced = Arc::new(AtomicBool::new(false));
    let shown = announced.clone();
    let join = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let clock = || Instant::from_micros(start.elapsed().as_micros() as u64);
        let mut a = Announcer::new();
        let mut healthy = false;
        let mut said: Option<(bool, bool)> = None;
        let mut stop_by: Option<tokio::time::Instant> = None;
        let mut was_announced = false;
        // The last vtysh error, logged once until it changes (FRR down: one line, not one a second).
        let mut last_err: Option<String> = None;
        let mut covered: Option<String> = None;
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop_rx, if stop_by.is_none() => {
                    a.stop();
                    was_announced = a.announced() == Some(true);
                    stop_by = Some(tokio::time::Instant::now() + STOP_LIMIT);
                }
                _ = tick.tick() => {}
                _ = changed.notified() => {}
            }
            if let Some(reals) = health().await {
                healthy = ecmp::healthy(o.vip, o.min_up, &reals);
            }
            let standing_by = standby.load(Ordering::Relaxed);
            if said != Some((healthy, standing_by)) && stop_by.is_none() {
                let why = match (healthy, standing_by) {
                    (true, false) => "healthy: announcing".to_owned(),
                    (_, true) => "node in standby: withdrawing".to_owned(),
                    (false, false) => format!("fewer than {} real(s) up in a virtual service: withdrawing", o.min_up),
                };
                log(&format!("info: OSPFvip {}: {why}", o.vip));
                said = Some((healthy, standing_by));
            }
            while let Some(cmd) = a.tick(clock(), healthy, standing_by) {
                let before = covered.clone();
                let outcome = match perform(&vtysh, &o, cmd, &mut covered).await {
                    Ok(out) => {
                        if last_err.take().is_some() {
                            log(&format!("info: OSPFvip {}: FRR answers again", o.vip));
                        }
                        out
                    }
                    Err(e) => {
                        if last_err.as_deref() != Some(e.as_str()) {
                            log(&format!("ERROR: OSPFvip {}: {cmd:?}: {e} (retrying every second)", o.vip));
                            last_err = Some(e);
                        }
                        Outcome::Failed
                    }
                };
                if covered != before {
                    if let Some(net) = &covered {
                        log(&format!(
                            "WARN: OSPFvip {}: FRR's \"network {net}\" holds the VIP, so ospfd announces it whatever its health; \
                             take the VIP out of that network (see heartbeat ecmp-config)",
                            o.vip
                        ));
                    }
                }
                if let (Command::Verify, Outcome::Present(p), Some(was)) = (cmd, outcome, a.announced()) {
                    if p != was {
                        log(&format!(
                            "WARN: OSPFvip {}: FRR {} the network behind our back (ospfd restarted?)",
                            o.vip,
                            if p { "has" } else { "lost" }
                        ));
                    }
                }
                a.done(clock(), cmd, outcome);
                shown.store(a.announced() == Some(true), Ordering::Relaxed);
                match (cmd, outcome) {
                    (Command::Announce, Outcome::Done) => log(&format!("info: OSPFvip {}: announced ({})", o.vip, network(&o))),
                    (Command::Withdraw, Outcome::Done) => log(&format!("info: OSPFvip {}: withdrawn", o.vip)),
                    _ => {}
                }
            }
            if a.finished() {
                break;
            }
            if stop_by.is_some_and(|t| tokio::time::Instant::now() >= t) {
                log(&format!("ERROR: OSPFvip {}: could not withdraw before stopping; OSPF's dead interval will", o.vip));
                break;
            }
        }
        was_announced
    });
    Task { stop: Some(stop_tx), join, announced }
}

/// `heartbeat ospfvip VIP[::AREA[::COST[::MIN_UP]]] start|stop|status` by hand (as a `resource.d`
/// script would be run): the VIP on `lo` and announced at once, with no health gating (there is no
/// director in this process); withdrawn and removed on stop. Exit codes as the stock scripts: 0
/// done or running, 3 stopped (status), 1 failed, 2 bad arguments.
pub fn run_by_hand(arg: &str, action: &str) -> i32 {
    let args: Vec<String> = arg.split("::").map(str::to_owned).collect();
    let o = match crate::config::ospfvip::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("OSPFvip: {e}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("OSPFvip: {e}");
            return 1;
        }
    };
    let vtysh = Vtysh::from_env();
    let r = rt.block_on(async {
        match action {
            "start" => {
                crate::daemon::resources::add_lo(o.vip)?;
                vtysh.run(&announce_cmds(&o)).await.map(|_| 0)
            }
            "stop" => {
                let running = vtysh.run(&verify_cmds()).await?;
                if present_in(&running, &o) {
                    vtysh.run(&withdraw_cmds(&o)).await?;
                }
                crate::daemon::resources::del_lo(o.vip).map(|_| 0)
            }
            "status" => {
                let running = vtysh.run(&verify_cmds()).await?;
                let on = present_in(&running, &o) && crate::daemon::resources::present(o.vip.into()).unwrap_or(false);
                println!("{}", if on { "running" } else { "stopped" });
                Ok(if on { 0 } else { 3 })
            }
            other => Err(format!("unknown action {other:?}; expected start, stop or status")),
        }
    });
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("OSPFvip: {e}");
            if matches!(action, "start" | "stop" | "status") { 1 } else { 2 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> OspfVip {
        crate::config::ospfvip::parse(&s.split("::").map(str::to_owned).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn vtysh_sessions() {
        assert_eq!(announce_cmds(&o("10.0.0.100")), ["configure terminal", "router ospf", "network 10.0.0.100/32 area 0"]);
        assert_eq!(
            announce_cmds(&o("10.0.0.100::0.0.0.1::20")),
            ["configure terminal", "interface lo", "ip ospf cost 20", "exit", "router ospf", "network 10.0.0.100/32 area 0.0.0.1"]
        );
        assert_eq!(withdraw_cmds(&o("10.0.0.100::1")), ["configure terminal", "router ospf", "no network 10.0.0.100/32 area 1"]);
    }

    #[test]
    fn a_network_holding_the_vip_is_found() {
        let running = "router ospf\n network 10.78.1.0/24 area 0\n network 10.0.0.0/8 area 0\n network 10.0.0.100/32 area 0\n";
        assert_eq!(covered_by_other(running, "10.0.0.100".parse().unwrap()).as_deref(), Some("10.0.0.0/8"));
        assert_eq!(covered_by_other(running, "192.168.0.1".parse().unwrap()), None);
        assert_eq!(covered_by_other(" network 0.0.0.0/0 area 0\n", "192.168.0.1".parse().unwrap()).as_deref(), Some("0.0.0.0/0"));
        assert_eq!(covered_by_other(" network 10.0.0.100/32 area 0\n network bad/x area 0\n", "10.0.0.100".parse().unwrap()), None);
    }

    #[test]
    fn running_config_is_read_by_area_id() {
        let running =
            "router ospf\n ospf router-id 10.9.0.2\n network 10.9.0.0/24 area 0.0.0.0\n network 10.0.0.100/32 area 0.0.0.0\nexit\n";
        assert!(present_in(running, &o("10.0.0.100")));
        assert!(present_in(running, &o("10.0.0.100::0.0.0.0")));
        assert!(!present_in(running, &o("10.0.0.100::1")));
        assert!(!present_in(running, &o("10.0.0.10")));
        assert!(!present_in("", &o("10.0.0.100")));
    }

    /// A vtysh stand-in that keeps the running configuration in a file: `network` adds the
    /// line, `no network` removes it, `show running-config` prints it; every call is recorded.
    fn fake_vtysh(dir: &std::path::Path) -> Vtysh {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("vtysh");
        let d = dir.display();
        std::fs::write(dir.join("running"), "router ospf\n").unwrap();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$*\" >> {d}/calls\ncase \"$*\" in\n\
                 *'show running-config'*) cat {d}/running ;;\n\
                 *'no network'*) echo 'router ospf' > {d}/running ;;\n\
                 *network*) printf 'router ospf\\n network 10.0.0.100/32 area 0\\n' > {d}/running ;;\n\
                 esac\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Vtysh(vec![script.display().to_string()])
    }

    fn calls(dir: &std::path::Path) -> String {
        std::fs::read_to_string(dir.join("calls")).unwrap_or_default()
    }

    async fn until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn driver_follows_health_and_standby_and_withdraws_on_stop() {
        use crate::director::engine::Health;
        fn noop(_: &str) {}
        let dir = tempfile::tempdir().unwrap();
        let vtysh = fake_vtysh(dir.path());
        let up = Arc::new(AtomicBool::new(true));
        let standby = Arc::new(AtomicBool::new(false));
        let u = up.clone();
        let health = move || {
            let h = if u.load(Ordering::Relaxed) { Health::Up } else { Health::Down };
            async move {
                Some(vec![RealStatus {
                    virtual_id: "tcp:10.0.0.100:80".into(),
                    real: "10.1.0.1:80".into(),
                    health: h,
                    failures: 0,
                    last_check: None,
                    last_message: String::new(),
                }])
            }
        };
        let announced = |d: &std::path::Path| std::fs::read_to_string(d.join("running")).unwrap().contains("network 10.0.0.100/32");
        let t = spawn(o("10.0.0.100"), vtysh, health, Arc::new(tokio::sync::Notify::new()), standby.clone(), noop);
        until("announce", || announced(dir.path())).await;
        until("the gauge", || t.announced()).await;
        assert!(calls(dir.path()).starts_with("-c show running-config\n"), "FRR is read first: {}", calls(dir.path()));
        up.store(false, Ordering::Relaxed);
        until("withdraw when unhealthy", || !announced(dir.path())).await;
        up.store(true, Ordering::Relaxed);
        until("announce again", || announced(dir.path())).await;
        standby.store(true, Ordering::Relaxed);
        until("withdraw in standby", || !announced(dir.path())).await;
        standby.store(false, Ordering::Relaxed);
        until("announce after standby", || announced(dir.path())).await;
        // ospfd restarted: the network is gone from FRR; the periodic check puts it back.
        std::fs::write(dir.path().join("running"), "router ospf\n").unwrap();
        until("re-announce after an ospfd restart", || announced(dir.path())).await;
        assert!(t.stop().await, "it was announced when stopped");
        assert!(!announced(dir.path()), "withdrawn on stop");
        assert!(calls(dir.path()).ends_with("-c configure terminal -c router ospf -c no network 10.0.0.100/32 area 0\n"));
    }
}
