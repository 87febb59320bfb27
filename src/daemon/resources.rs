//! The resource runner: performs the resource manager's jobs. A group starts its resources in
//! haresources order (`status`, then `start` unless running) and stops them in reverse.
//! `Name::a::b` runs `Name a b start|stop|status` from `<config-dir>/resource.d`, else
//! `/etc/init.d`, with a timeout; a hanging script's process group is killed. The address agents
//! (`IPaddr`, `IPaddr2`, `IPv6addr`, `SendArp`) are built in (rtnetlink, and gratuitous ARP /
//! unsolicited neighbour advertisements from raw sockets) unless `resource.d` holds a script of
//! that name that is not a stock wrapper: the user's own script wins.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::config::haresources::{AddressSpec, Resource, ResourceGroup};
use crate::resources::{Action, Config, Event, Group, GroupState, Job, JobKind, Manager, Outcome};
use crate::time::Instant;
use crate::wire::message::Message;

/// Default limit for one script call (3.0.6 has none; a hung stop would hang the node).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

fn log(msg: &str) {
    crate::daemon::heartbeat::log(msg);
}

pub struct Runner {
    config_dir: PathBuf,
    init_dir: PathBuf,
    groups: Vec<ResourceGroup>,
    timeout: Duration,
    /// Announcement trains in flight, by address (stopped when the address is released).
    trains: Mutex<HashMap<IpAddr, tokio::task::AbortHandle>>,
    /// SendArp resources "running" (they only announce).
    sendarp: Mutex<Vec<IpAddr>>,
    /// `ldirectord::CONFIG` resources running in this process, by configuration file.
    directors: Arc<tokio::sync::Mutex<HashMap<PathBuf, crate::daemon::ldirectord::Director>>>,
    /// `OSPFvip::VIP` announcers running, by VIP.
    ospf: tokio::sync::Mutex<HashMap<Ipv4Addr, crate::daemon::ecmp::Task>>,
    /// Set by `hb_standby` on a node without a peer (an active-active director): its OSPFvip
    /// routes are withdrawn while the resources stay up.
    pub drain: Arc<AtomicBool>,
    /// Woken by the embedded directors when a real's state changes (see `ecmp::spawn`).
    reals_changed: Arc<tokio::sync::Notify>,
    /// Address resources resolved once (interface, prefix, MAC): takeover is on the hot path.
    resolved: Mutex<HashMap<String, Addr>>,
    /// The IPVS sync daemon (`lvs_sync_daemon`) and the groups held, which decide its role.
    sync: Option<tokio::sync::Mutex<crate::daemon::sync::Sync>>,
    /// The groups held, by index (what the sync daemon's role follows).
    held: Mutex<Vec<bool>>,
}

impl Runner {
    pub fn new(config_dir: PathBuf, groups: Vec<ResourceGroup>, timeout: Duration) -> Runner {
        Runner {
            config_dir,
            init_dir: PathBuf::from("/etc/init.d"),
            groups,
            timeout,
            trains: Mutex::new(HashMap::new()),
            sendarp: Mutex::new(Vec::new()),
            directors: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
            ospf: tokio::sync::Mutex::new(HashMap::new()),
            drain: Arc::new(AtomicBool::new(false)),
            reals_changed: Arc::new(tokio::sync::Notify::new()),
            resolved: Mutex::new(HashMap::new()),
            sync: None,
            held: Mutex::new(Vec::new()),
        }
    }

    /// Runs the IPVS connection sync daemon following the LVS groups (`lvs_sync_daemon`).
    pub fn with_sync(mut self, cfg: Option<crate::config::ha_cf::LvsSync>) -> Runner {
        self.held = Mutex::new(vec![false; self.groups.len()]);
        self.sync = cfg.map(|c| tokio::sync::Mutex::new(crate::daemon::sync::Sync::new(c)));
        self
    }

    /// Marks group `g` held or not; the next [`Runner::sync_follow`] acts on it. Synchronous, so
    /// that follow-ups run in any order still end at the latest state.
    fn mark_held(&self, g: usize, h: bool) {
        if let Some(slot) = self.held.lock().ok().as_mut().and_then(|v| v.get_mut(g)) {
            *slot = h;
        }
    }

    /// Moves the sync daemon to the role the held groups call for; `stop` stops it (exit).
    /// A failed step (interface not up yet, the kernel short of memory) is retried twice, a
    /// second apart: a node left without its sync daemon would lose connections at the next
    /// failover.
    async fn sync_follow(&self, stop: bool) {
        let Some(sync) = &self.sync else { return };
        for attempt in 0..3 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let mut s = sync.lock().await;
            let held = self.held.lock().map(|v| v.clone()).unwrap_or_default();
            let steps = if stop { s.to(None) } else { s.follow(&self.groups, &held) };
            if steps.is_empty() {
                return;
            }
            // Netlink calls block: off the event loop (the daemon runs on one thread).
            let t0 = std::time::Instant::now();
            let done = tokio::task::spawn_blocking(move || match crate::daemon::sync::backend() {
                Ok(mut b) => crate::daemon::sync::apply(b.as_mut(), &steps),
                Err(e) => vec![Err(format!("IPVS sync daemon: {e}"))],
            })
            .await
            .unwrap_or_else(|e| vec![Err(format!("IPVS sync daemon: {e}"))]);
            let mut ok = true;
            for r in done {
                match r {
                    Ok(line) => log(&format!("{line} ({} ms)", t0.elapsed().as_millis())),
                    Err(e) => {
                        ok = false;
                        log(&format!("ERROR: {e}"));
                    }
                }
            }
            if ok || stop {
                return;
            }
            s.failed();
        }
    }

    /// Stops the sync daemon (the daemon is exiting).
    pub async fn stop_sync(&self) {
        self.sync_follow(true).await;
    }

    /// What the 3.0.6 init script checks before starting the daemon (`ResourceManager
    /// verifyallidle`), done rather than only reported: a resource left running by a crash (a
    /// VIP still on the interface) is stopped, so that it is not held twice once the peer has it.
    pub async fn verify_all_idle(&self) -> Result<(), String> {
        for g in &self.groups {
            for r in g.resources.iter().rev() {
                if matches!(self.call(r, "status").await, Ok(true)) {
                    log(&format!("WARN: Resource {} is active, and should not be! Stopping it.", r.spec));
                    self.call(r, "stop").await.map_err(|e| format!("{} was left running and will not stop: {e}", r.spec))?;
                }
            }
        }
        // Holding nothing: the sync daemon starts as backup.
        self.sync_follow(false).await;
        Ok(())
    }

    /// Runs one job to the end; one outcome per group.
    pub async fn run(self: Arc<Self>, job: Job) -> Vec<Outcome> {
        let mut out = Vec::with_capacity(job.groups.len());
        for &g in &job.groups {
            let Some(group) = self.groups.get(g) else {
                out.push(Outcome::StartFailed(format!("no resource group {g}")));
                continue;
            };
            let lvs = crate::daemon::sync::is_lvs_group(group);
            let o = match job.kind {
                JobKind::Acquire => {
                    // Backup to master beside the director's start, not before it (a takeover
                    // is on the clock): the backup's copy of the connections stays in the
                    // table either way, and the new master syncs from then on.
                    if lvs && self.sync.is_some() {
                        self.mark_held(g, true);
                        let me = self.clone();
                        tokio::spawn(async move { me.sync_follow(false).await });
                    }
                    let o = self.acquire(group).await;
                    if lvs && !matches!(o, Outcome::Ok) {
                        self.mark_held(g, false);
                        self.sync_follow(false).await;
                    }
                    o
                }
                JobKind::Release => {
                    let o = self.release(group).await;
                    if lvs {
                        self.mark_held(g, false);
                        self.sync_follow(false).await;
                    }
                    o
                }
            };
            let fatal = matches!(o, Outcome::StopFailed(_));
            out.push(o);
            if fatal {
                // The node fences itself now; the rest does not matter.
                break;
            }
        }
        out
    }

    async fn acquire(&self, group: &ResourceGroup) -> Outcome {
        let mut started = Vec::new();
        for r in &group.resources {
            // The built-in agents' start is idempotent: no separate status call on the hot path.
            let native = matches!(self.lookup(r), How::Native(_));
            match if native { Ok(false) } else { self.call(r, "status").await } {
                Ok(true) => {
                    log(&format!("info: {}: Resource is running", r.spec));
                    started.push(r);
                    continue;
                }
                Ok(false) => {}
                Err(e) => log(&format!("WARN: {} status: {e}", r.spec)),
            }
            if let Err(e) = self.call(r, "start").await {
                log(&format!("ERROR: {} start failed: {e}", r.spec));
                // Stop the whole group again, the failed one too (it may be half up).
                started.push(r);
                for s in started.iter().rev() {
                    if let Err(se) = self.call(s, "stop").await {
                        return Outcome::StopFailed(format!("{} stop (after failed start of {}): {se}", s.spec, r.spec));
                    }
                }
                return Outcome::StartFailed(format!("{} start: {e}", r.spec));
            }
            started.push(r);
        }
        Outcome::Ok
    }

    async fn release(&self, group: &ResourceGroup) -> Outcome {
        for r in group.resources.iter().rev() {
            if let Err(e) = self.call(r, "stop").await {
                return Outcome::StopFailed(format!("{} stop: {e}", r.spec));
            }
        }
        Outcome::Ok
    }

    /// `heartbeat_ospfvip_announced{vip=…}` lines (none while the announcers are being changed).
    pub fn ospf_metrics(&self) -> String {
        let Ok(running) = self.ospf.try_lock() else { return String::new() };
        let mut vips: Vec<_> = running.iter().map(|(vip, t)| (*vip, t.announced())).collect();
        vips.sort();
        vips.iter().map(|(vip, on)| format!("heartbeat_ospfvip_announced{{vip=\"{vip}\"}} {}\n", u8::from(*on))).collect()
    }

    /// The embedded directors' reals, as JSON (`heartbeat status --json`). Never waits on a
    /// director being started or stopped, nor more than 200 ms on one that is busy.
    pub async fn directors_json(&self) -> String {
        let Ok(running) = self.directors.try_lock() else { return "[]".to_owned() };
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut out = Vec::new();
        for (config, d) in running.iter() {
            let reals = tokio::time::timeout(Duration::from_millis(200), d.status()).await.unwrap_or_default();
            let reals = crate::daemon::ldirectord::reals_json(&reals, None);
            out.push(format!("{{\"config\":\"{}\",\"reals\":{reals}}}", esc(&config.display().to_string())));
        }
        format!("[{}]", out.join(","))
    }

    /// 4.12's look-up of a configuration name: the config directory, its `conf/`, then the path.
    fn director_config(&self, name: &str) -> PathBuf {
        let candidates = [self.config_dir.join(name), self.config_dir.join("conf").join(name), PathBuf::from(name)];
        candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| self.config_dir.join(name))
    }

    /// `ldirectord::CONFIG start|stop|status`, in process: no fork, no Perl.
    async fn director(&self, config: PathBuf, action: &str) -> Result<bool, String> {
        let mut running = self.directors.lock().await;
        match action {
            "status" => Ok(running.contains_key(&config)),
            "start" if running.contains_key(&config) => Ok(true),
            "start" => {
                // Tests and dry runs point the engine at the file-backed IPVS fake.
                let ipvs = match std::env::var_os("HEARTBEAT_RS_IPVS_TABLE") {
                    Some(f) => crate::daemon::ldirectord::IpvsTarget::File(PathBuf::from(f)),
                    None => crate::daemon::ldirectord::IpvsTarget::Kernel,
                };
                let d = crate::daemon::ldirectord::Director::spawn(crate::daemon::ldirectord::Options {
                    config: config.clone(),
                    ipvs,
                    log: None,
                    status_file: None,
                    on_change: Some(self.reals_changed.clone()),
                })
                .map_err(|errs| errs.join("; "))?;
                let mut d = d;
                // The group's next resources (the VIP) come up once the table is there.
                let t0 = std::time::Instant::now();
                if !d.first_table(Duration::from_secs(5)).await {
                    log(&format!("WARN: ldirectord {}: no IPVS table after 5 s; going on", config.display()));
                }
                log(&format!(
                    "info: ldirectord {}: started in process (first table after {} ms)",
                    config.display(),
                    t0.elapsed().as_millis()
                ));
                running.insert(config, d);
                Ok(true)
            }
            "stop" => {
                if let Some(d) = running.remove(&config) {
                    d.stop().await?;
                    log(&format!("info: ldirectord {}: stopped", config.display()));
                }
                Ok(true)
            }
            other => Err(format!("ldirectord: unknown action {other}")),
        }
    }

    /// `OSPFvip::…`: the VIP on `lo`, and FRR told to announce it while the directors are healthy.
    async fn ospfvip(&self, r: &Resource, action: &str) -> Result<bool, String> {
        let o = crate::config::ospfvip::parse(&r.args)?;
        let mut running = self.ospf.lock().await;
        match action {
            "status" => Ok(running.contains_key(&o.vip)),
            "start" => {
                if running.contains_key(&o.vip) {
                    return Ok(true);
                }
                add_lo(o.vip)?;
                let dirs = self.directors.clone();
                let health = move || {
                    let dirs = dirs.clone();
                    async move {
                        // A director being started or stopped: no sample this time. The map is
                        // not held while the directors answer (status --json shares it).
                        let handles: Vec<_> = dirs.try_lock().ok()?.values().map(|d| d.handle()).collect();
                        let mut all = Vec::new();
                        for h in handles {
                            // A director too busy to answer within a second: no sample.
                            all.extend(tokio::time::timeout(Duration::from_secs(1), h.status()).await.ok()?);
                        }
                        Some(all)
                    }
                };
                let vip = o.vip;
                let t = crate::daemon::ecmp::spawn(
                    o,
                    crate::daemon::ecmp::Vtysh::from_env(),
                    health,
                    self.reals_changed.clone(),
                    self.drain.clone(),
                    log,
                );
                running.insert(vip, t);
                Ok(true)
            }
            "stop" => {
                if let Some(t) = running.remove(&o.vip) {
                    if t.stop().await {
                        tokio::time::sleep(crate::daemon::ecmp::DRAIN).await;
                    }
                }
                del_lo(o.vip)?;
                Ok(true)
            }
            other => Err(format!("OSPFvip: unknown action {other}")),
        }
    }

    /// Runs one action; for `status`, whether the resource runs.
    async fn call(&self, r: &Resource, action: &str) -> Result<bool, String> {
        match self.lookup(r) {
            How::Native(spec) => self.native(r, &spec, action),
            How::Director(config) => self.director(config, action).await,
            How::Ospf => self.ospfvip(r, action).await,
            How::Script(path) => {
                log(&format!("info: Running {} {} {action}", path.display(), r.args.join(" ")));
                let (code, output) = run_script(&path, &r.args, action, self.timeout).await?;
                for line in output.lines().filter(|l| !l.trim().is_empty()) {
                    log(&format!("info: {}: {line}", r.agent));
                }
                if action == "status" {
                    return Ok(status_says_running(code, &output));
                }
                if code == 0 { Ok(true) } else { Err(format!("exit code {code} from {}", path.display())) }
            }
            How::Missing => Err(format!(
                "resource script {} not found (looked in {}/resource.d and {})",
                r.agent,
                self.config_dir.display(),
                self.init_dir.display()
            )),
        }
    }

    fn lookup(&self, r: &Resource) -> How {
        let user = self.config_dir.join("resource.d").join(&r.agent);
        let exists = user.is_file();
        if r.agent == "ldirectord" && (!exists || is_this_program(&user)) {
            return How::Director(self.director_config(r.args.first().map(String::as_str).unwrap_or("ldirectord.cf")));
        }
        if r.agent == "OSPFvip" && !exists {
            return How::Ospf;
        }
        if let Some(spec) = &r.address {
            if !exists || is_stock_wrapper(&user) {
                return How::Native(spec.clone());
            }
        }
        if exists {
            return How::Script(user);
        }
        let init = self.init_dir.join(&r.agent);
        if init.is_file() { How::Script(init) } else { How::Missing }
    }

    fn native(&self, r: &Resource, spec: &AddressSpec, action: &str) -> Result<bool, String> {
        let key = format!("{}::{}", r.agent, r.args.join("::"));
        let cached = self.resolved.lock().ok().and_then(|m| m.get(&key).cloned());
        let a = match cached {
            Some(a) => a,
            None => {
                let a = resolve(&r.agent, spec)?;
                if let Ok(mut m) = self.resolved.lock() {
                    m.insert(key.clone(), a.clone());
                }
                a
            }
        };
        let r = self.native_with(r, &a, action);
        if r.is_err() {
            // The interface may have changed: resolve afresh next time.
            if let Ok(mut m) = self.resolved.lock() {
                m.remove(&key);
            }
        }
        r
    }

    fn native_with(&self, r: &Resource, a: &Addr, action: &str) -> Result<bool, String> {
        let a = a.clone();
        match (r.agent.as_str(), action) {
            ("SendArp", "status") => Ok(self.sendarp.lock().map(|v| v.contains(&a.ip)).unwrap_or(false)),
            ("SendArp", "start") => {
                if let Ok(mut v) = self.sendarp.lock() {
                    v.push(a.ip);
                }
                self.announce(a);
                Ok(true)
            }
            ("SendArp", "stop") => {
                if let Ok(mut v) = self.sendarp.lock() {
                    v.retain(|ip| *ip != a.ip);
                }
                self.stop_train(a.ip);
                Ok(true)
            }
            (_, "status") => present(a.ip),
            (_, "start") => {
                match add_addr(&a) {
                    Ok(()) => {}
                    // Already there (EEXIST): running, as the stock agents' status would say.
                    Err(e) if e.contains("File exists") => return Ok(true),
                    Err(e) => return Err(e),
                }
                log(&format!("info: {}: {}/{} added to {}", r.agent, a.ip, a.prefix, a.label.as_deref().unwrap_or(&a.iface)));
                self.announce(a);
                Ok(true)
            }
            (_, "stop") => {
                self.stop_train(a.ip);
                match del_addr(&a) {
                    Ok(()) => {}
                    // Not there (EADDRNOTAVAIL): stopped already.
                    Err(e) if e.contains("assign requested address") => return Ok(true),
                    Err(e) => return Err(e),
                }
                log(&format!("info: {}: {}/{} removed from {}", r.agent, a.ip, a.prefix, a.iface));
                Ok(true)
            }
            (_, other) => Err(format!("unknown action {other}")),
        }
    }

    /// Sends the stock scripts' announcement train in the background; the first frame goes now.
    fn announce(&self, a: Addr) {
        self.stop_train(a.ip);
        let ip = a.ip;
        let first = send_announcement(&a, 0);
        if let Err(e) = &first {
            log(&format!("ERROR: {}: cannot send gratuitous ARP / neighbour advertisement: {e}", a.ip));
        }
        let frames = a.repeat * 2;
        let gap = a.interval / 2;
        let h = tokio::spawn(async move {
            for k in 1..frames {
                tokio::time::sleep(gap).await;
                if send_announcement(&a, k).is_err() {
                    break;
                }
            }
        });
        if let Ok(mut t) = self.trains.lock() {
            t.insert(ip, h.abort_handle());
        }
    }

    fn stop_train(&self, ip: IpAddr) {
        if let Some(h) = self.trains.lock().ok().and_then(|mut t| t.remove(&ip)) {
            h.abort();
        }
    }
}

enum How {
    Native(AddressSpec),
    /// The embedded ldirectord engine, with this configuration file.
    Director(PathBuf),
    /// The route announcer (`OSPFvip::VIP[::AREA[::COST[::MIN_UP]]]`).
    Ospf,
    Script(PathBuf),
    Missing,
}

/// Whether `path` is this very program (the ldirectord link our package installs): then the
/// engine runs in process instead of through a fork of ourselves.
fn is_this_program(path: &Path) -> bool {
    match (std::fs::canonicalize(path), std::env::current_exe().and_then(std::fs::canonicalize)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The Heartbeat package's `resource.d/IPaddr` & co. only wrap the OCF agents (they source
/// `hto-mapfuncs`); ours say so with a marker. Either is replaced by the built-in agent.
fn is_stock_wrapper(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    text.contains("hto-mapfuncs") || text.contains("heartbeat-rs: built-in agent")
}

/// 3.0.6's reading of a `status` answer: the output says running (or OK); LSB scripts answer
/// by exit code 0 without saying so.
fn status_says_running(code: i32, output: &str) -> bool {
    let o = output.to_ascii_lowercase();
    if o.contains("not running") || o.contains("stopped") || o.contains("dead") {
        return false;
    }
    o.contains("running") || o.split_whitespace().any(|w| w == "ok") || (code == 0 && o.trim().is_empty())
}

async fn run_script(path: &Path, args: &[String], action: &str, limit: Duration) -> Result<(i32, String), String> {
    let mut cmd = tokio::process::Command::new(path);
    cmd.args(args)
        .arg(action)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let pid = child.id();
    let collect = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = (&mut p).take(64 * 1024).read_to_end(&mut buf).await;
            }
            buf
        })
    };
    let out = collect(child.stdout.take().map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>));
    let err = collect(child.stderr.take().map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>));
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("waiting for {}: {e}", path.display())),
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.kill().await;
            return Err(format!("{} {action} did not finish within {} s; killed", path.display(), limit.as_secs()));
        }
    };
    // A daemon the script started may keep the pipes open: take what came, do not wait for EOF.
    let grab = |h: tokio::task::JoinHandle<Vec<u8>>| async move {
        match tokio::time::timeout(Duration::from_millis(200), h).await {
            Ok(Ok(b)) => b,
            _ => Vec::new(),
        }
    };
    let mut text = String::from_utf8_lossy(&grab(out).await).into_owned();
    text.push_str(&String::from_utf8_lossy(&grab(err).await));
    let code = status.code().unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0));
    Ok((code, text))
}

fn lo_addr(vip: Ipv4Addr) -> Result<Addr, String> {
    let spec = AddressSpec { ip: IpAddr::V4(vip), prefix: Some(32), iface: Some("lo".to_owned()), broadcast: None };
    resolve("OSPFvip", &spec)
}

/// The VIP/32 on `lo`, so that this director accepts the traffic the router sends it.
pub fn add_lo(vip: Ipv4Addr) -> Result<(), String> {
    match add_addr(&lo_addr(vip)?) {
        Err(e) if !e.contains("File exists") => Err(format!("adding {vip}/32 to lo: {e}")),
        _ => Ok(()),
    }
}

pub fn del_lo(vip: Ipv4Addr) -> Result<(), String> {
    match del_addr(&lo_addr(vip)?) {
        Err(e) if !e.contains("assign requested address") => Err(format!("removing {vip}/32 from lo: {e}")),
        _ => Ok(()),
    }
}

/// An address resource with everything filled in.
#[derive(Debug, Clone)]
pub struct Addr {
    pub ip: IpAddr,
    pub prefix: u8,
    pub iface: String,
    pub index: u32,
    pub label: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
    pub mac: [u8; 6],
    /// Where announcement frames go (the interface's packet address).
    pub link: Option<nix::sys::socket::LinkAddr>,
    pub repeat: u32,
    pub interval: Duration,
}

/// Fills in what the stock agents find themselves: the interface (the one whose subnet holds
/// the address), the prefix (that subnet's), the broadcast address, and the announcement policy
/// (IPaddr: 10 × 500 ms; IPaddr2, IPv6addr: 5 × 200 ms; SendArp: 10 × 500 ms... as shipped).
pub fn resolve(agent: &str, spec: &AddressSpec) -> Result<Addr, String> {
    let ifs: Vec<nix::ifaddrs::InterfaceAddress> = nix::ifaddrs::getifaddrs().map_err(|e| format!("listing interfaces: {e}"))?.collect();
    let base = |name: &str| name.split(':').next().unwrap_or(name).to_owned();
    let mut iface = spec.iface.as_deref().map(base);
    let label = spec.iface.as_deref().filter(|i| i.contains(':')).map(str::to_owned);
    let mut prefix = spec.prefix;
    // The connected subnet holding the address.
    for ifa in &ifs {
        let (Some(addr), Some(mask)) = (ifa.address.as_ref(), ifa.netmask.as_ref()) else { continue };
        let (net_ok, len) = match (spec.ip, addr.as_sockaddr_in(), mask.as_sockaddr_in(), addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
            (IpAddr::V4(ip), Some(a), Some(m), _, _) => {
                let m = u32::from(m.ip());
                (m != 0 && (u32::from(ip) & m) == (u32::from(a.ip()) & m) && !a.ip().is_loopback(), m.leading_ones() as u8)
            }
            (IpAddr::V6(ip), _, _, Some(a), Some(m)) => {
                let m = u128::from(m.ip());
                (m != 0 && (u128::from(ip) & m) == (u128::from(a.ip()) & m) && !a.ip().is_loopback(), m.leading_ones() as u8)
            }
            _ => continue,
        };
        if !net_ok || iface.as_deref().is_some_and(|i| i != base(&ifa.interface_name)) {
            continue;
        }
        iface.get_or_insert_with(|| base(&ifa.interface_name));
        prefix.get_or_insert(len);
        break;
    }
    let Some(iface) = iface else {
        return Err(format!("no interface has a subnet holding {}; give it as {}::IP/prefix/interface", spec.ip, agent));
    };
    let index = nix::net::if_::if_nametoindex(iface.as_str()).map_err(|_| format!("interface {iface} does not exist"))?;
    let prefix = prefix.unwrap_or(if spec.ip.is_ipv4() { 32 } else { 128 });
    let link = ifs.iter().filter(|i| i.interface_name == iface).find_map(|i| i.address.as_ref().and_then(|a| a.as_link_addr()).copied());
    let mac = link.and_then(|l| l.addr()).unwrap_or([0; 6]);
    let broadcast = match spec.ip {
        IpAddr::V4(ip) => match spec.broadcast.as_deref().and_then(|b| b.parse().ok()) {
            Some(b) => Some(b),
            None if prefix < 31 => Some(Ipv4Addr::from(u32::from(ip) | (u32::MAX >> prefix))),
            None => None,
        },
        IpAddr::V6(_) => None,
    };
    let (repeat, interval) = match agent {
        "IPaddr" | "SendArp" => (10, Duration::from_millis(500)),
        _ => (5, Duration::from_millis(200)),
    };
    let label = match (agent, label) {
        (_, Some(l)) => Some(l),
        // IPaddr puts the address on an alias (`ifconfig eth0:0`); `ip addr` shows it as a label.
        ("IPaddr", None) if spec.ip.is_ipv4() => Some(free_label(&ifs, &iface)),
        _ => None,
    };
    Ok(Addr { ip: spec.ip, prefix, iface, index, label, broadcast, mac, link, repeat, interval })
}

fn free_label(ifs: &[nix::ifaddrs::InterfaceAddress], iface: &str) -> String {
    let used: Vec<&str> = ifs.iter().map(|i| i.interface_name.as_str()).collect();
    (0..).map(|n| format!("{iface}:{n}")).find(|l| !used.contains(&l.as_str()) && l.len() < 16).unwrap_or_else(|| iface.to_owned())
}

/// Whether the address is configured on this host.
pub fn present(ip: IpAddr) -> Result<bool, String> {
    present_on(ip, None)
}

/// Whether `ip` is on interface `dev` (or one of its `dev:label` aliases), or on any with `None`.
pub fn present_on(ip: IpAddr, dev: Option<&str>) -> Result<bool, String> {
    let ifs = nix::ifaddrs::getifaddrs().map_err(|e| format!("listing interfaces: {e}"))?;
    let on_dev = |name: &str| dev.is_none_or(|d| name == d || name.strip_prefix(d).is_some_and(|r| r.starts_with(':')));
    Ok(ifs.filter(|i| on_dev(&i.interface_name)).filter_map(|i| i.address).any(|a| match ip {
        IpAddr::V4(v4) => a.as_sockaddr_in().is_some_and(|s| s.ip() == v4),
        IpAddr::V6(v6) => a.as_sockaddr_in6().is_some_and(|s| s.ip() == v6),
    }))
}

const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_F_NODAD: u8 = 0x02;

fn attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// The RTM_NEWADDR / RTM_DELADDR request for an address.
pub fn addr_request(a: &Addr, add: bool, seq: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    let (family, bytes): (u8, Vec<u8>) = match a.ip {
        IpAddr::V4(v) => (2, v.octets().to_vec()),
        IpAddr::V6(v) => (10, v.octets().to_vec()),
    };
    // ifaddrmsg: family, prefix length, flags, scope (universe), interface index.
    let flags = if a.ip.is_ipv6() { IFA_F_NODAD } else { 0 };
    body.extend_from_slice(&[family, a.prefix, flags, 0]);
    body.extend_from_slice(&a.index.to_ne_bytes());
    attr(&mut body, IFA_LOCAL, &bytes);
    attr(&mut body, IFA_ADDRESS, &bytes);
    if add {
        if let Some(b) = a.broadcast {
            attr(&mut body, IFA_BROADCAST, &b.octets());
        }
        if let Some(l) = &a.label {
            let mut z = l.as_bytes().to_vec();
            z.push(0);
            attr(&mut body, IFA_LABEL, &z);
        }
    }
    let flags = NLM_F_REQUEST | NLM_F_ACK | if add { NLM_F_CREATE | NLM_F_EXCL } else { 0 };
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&(if add { RTM_NEWADDR } else { RTM_DELADDR }).to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

pub fn netlink(req: &[u8]) -> Result<(), String> {
    use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
    let mut s = Socket::new(NETLINK_ROUTE).map_err(|e| format!("netlink: {e}"))?;
    s.bind_auto().map_err(|e| format!("netlink bind: {e}"))?;
    s.send_to(req, &SocketAddr::new(0, 0), 0).map_err(|e| format!("netlink send: {e}"))?;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = s.recv(&mut &mut buf[..], 0).map_err(|e| format!("netlink receive: {e}"))?;
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
            let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            if len < 16 || off + len > n {
                return Err("netlink: malformed answer".into());
            }
            if kind == NLMSG_ERROR && len >= 20 {
                let code = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap_or([0; 4]));
                return if code == 0 { Ok(()) } else { Err(std::io::Error::from_raw_os_error(-code).to_string()) };
            }
            off += (len + 3) & !3;
        }
    }
}

pub fn add_addr(a: &Addr) -> Result<(), String> {
    netlink(&addr_request(a, true, 1)).map_err(|e| format!("adding {}/{} to {}: {e}", a.ip, a.prefix, a.iface))
}

pub fn del_addr(a: &Addr) -> Result<(), String> {
    netlink(&addr_request(a, false, 2)).map_err(|e| format!("removing {}/{} from {}: {e}", a.ip, a.prefix, a.iface))
}

/// Frame `k` of the train: for IPv4, ARP request (`who-has VIP tell VIP`) on even k, reply
/// (`VIP is-at MAC`) on odd k, broadcast, as send_arp does.
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr, k: u32) -> Vec<u8> {
    let reply = k % 2 == 1;
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0, if reply { 2 } else { 1 }]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(if reply { &[0xff; 6] } else { &[0; 6] });
    f.extend_from_slice(&ip.octets());
    f.resize(60, 0);
    f
}

/// Unsolicited neighbour advertisement (override flag, target link-layer address option).
pub fn na_packet(mac: [u8; 6], ip: Ipv6Addr) -> Vec<u8> {
    let mut p = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
    p.extend_from_slice(&ip.octets());
    p.extend_from_slice(&[2, 1]);
    p.extend_from_slice(&mac);
    p
}

fn send_announcement(a: &Addr, k: u32) -> Result<(), String> {
    match a.ip {
        IpAddr::V4(ip) => {
            use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, sendto, socket};
            let link = a.link.ok_or_else(|| format!("{} has no link-layer address", a.iface))?;
            let fd =
                socket(AddressFamily::Packet, SockType::Raw, SockFlag::SOCK_CLOEXEC, None).map_err(|e| format!("packet socket: {e}"))?;
            sendto(fd.as_raw_fd(), &garp_frame(a.mac, ip, k), &link, MsgFlags::empty()).map_err(|e| format!("send on {}: {e}", a.iface))?;
            Ok(())
        }
        IpAddr::V6(ip) => {
            // One advertisement per pair slot (every interval), as send_ua does.
            if k % 2 == 1 {
                return Ok(());
            }
            let s = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::RAW, Some(socket2::Protocol::ICMPV6))
                .map_err(|e| format!("ICMPv6 socket: {e}"))?;
            let _ = s.set_multicast_hops_v6(255);
            let _ = s.set_unicast_hops_v6(255);
            let _ = s.set_multicast_if_v6(a.index);
            let _ = s.bind(&std::net::SocketAddrV6::new(ip, 0, 0, a.index).into());
            let dest = std::net::SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0, 0, a.index);
            s.send_to(&na_packet(a.mac, ip), &dest.into()).map_err(|e| format!("send on {}: {e}", a.iface))?;
            Ok(())
        }
    }
}

/// The resource manager at the daemon's edge: feeds [`Manager`] from membership and the control
/// socket, runs its jobs on the [`Runner`], and hands back the cluster messages to send.
pub struct Edge {
    mgr: Manager,
    runner: Arc<Runner>,
    done_tx: tokio::sync::mpsc::Sender<(u64, Vec<Outcome>)>,
    fence_cmd: String,
    /// ha.cf names a second node: `hb_standby` negotiates with it. Without one, and with
    /// OSPFvip resources, `hb_standby` drains this director instead.
    drains: bool,
    /// Shutdown complete: the daemon may exit.
    pub exit: bool,
}

/// How the daemon builds the manager's view of the configuration.
pub fn manager_config(cfg: &crate::config::load::HaConfig, local: &str) -> Config {
    let hc = &cfg.ha_cf;
    let peer = hc.nodes.iter().map(|n| n.name.clone()).find(|n| n != local);
    let groups = cfg
        .haresources
        .iter()
        .map(|g| Group {
            node: g.node.clone(),
            key: g.resources.first().map(|r| r.spec.clone()).unwrap_or_default(),
            display: std::iter::once(g.node.clone()).chain(g.resources.iter().map(|r| r.spec.clone())).collect::<Vec<_>>().join(" "),
        })
        .collect();
    Config {
        local: local.to_owned(),
        peer,
        groups,
        auto_failback: hc.auto_failback,
        ping_nodes: hc.ping.iter().map(|p| p.name.clone()).collect(),
    }
}

impl Edge {
    pub fn new(
        cfg: &crate::config::load::HaConfig,
        local: &str,
        fence_cmd: String,
        timeout: Duration,
        done_tx: tokio::sync::mpsc::Sender<(u64, Vec<Outcome>)>,
    ) -> Edge {
        let runner = Arc::new(Runner::new(cfg.dir.clone(), cfg.haresources.clone(), timeout).with_sync(cfg.ha_cf.lvs_sync_daemon.clone()));
        let mc = manager_config(cfg, local);
        let has_ospfvip = cfg.haresources.iter().flat_map(|g| &g.resources).any(|r| r.agent == "OSPFvip");
        let drains = mc.peer.is_none() && has_ospfvip;
        Edge { mgr: Manager::new(mc), runner, done_tx, fence_cmd, drains, exit: false }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.mgr.next_deadline()
    }

    pub async fn verify_all_idle(&self) -> Result<(), String> {
        self.runner.verify_all_idle().await
    }

    /// Stops the IPVS sync daemon, if one runs (the daemon is exiting).
    pub async fn stop_sync(&self) {
        self.runner.stop_sync().await
    }

    /// Feeds one event; returns the messages to give to membership.
    pub fn feed(&mut self, now: Instant, ev: Event<'_>) -> Vec<Message> {
        let acts = self.mgr.handle(now, ev);
        self.perform(acts)
    }

    /// Membership's actions that concern resources.
    pub fn observe(&mut self, now: Instant, a: &crate::membership::Action) -> Vec<Message> {
        use crate::membership::Action as M;
        match a {
            M::Deliver { from, msg } => self.feed(now, Event::Message { from, msg }),
            M::NodeStatusChanged { node, status } => self.feed(now, Event::NodeStatus { node, status: *status }),
            _ => Vec::new(),
        }
    }

    /// Each group with its state: `running`, `stopped` or `failed: why`.
    fn group_states(&self) -> Vec<(String, String)> {
        self.mgr
            .groups()
            .iter()
            .zip(self.mgr.group_states())
            .map(|(g, st)| {
                let st = match st {
                    GroupState::Running => "running".to_owned(),
                    GroupState::Stopped => "stopped".to_owned(),
                    GroupState::Failed(why) => format!("failed: {why}"),
                };
                (g.display.clone(), st)
            })
            .collect()
    }

    /// The embedded ldirectord engines' reals (see [`Runner::directors_json`]).
    pub async fn directors_json(&self) -> String {
        self.runner.directors_json().await
    }

    /// The `resources` member of `heartbeat status --json`.
    pub fn status_json(&self) -> String {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let groups: Vec<String> =
            self.group_states().iter().map(|(g, st)| format!("{{\"group\":\"{}\",\"state\":\"{}\"}}", esc(g), esc(st))).collect();
        format!("{{\"rscstatus\":\"{}\",\"groups\":[{}]}}", self.mgr.rscstatus(), groups.join(","))
    }

    /// Prometheus lines for the resource groups.
    pub fn metrics(&self) -> String {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut out = String::from(
            "# HELP heartbeat_resource_group_running Whether this node runs a haresources group.\n# TYPE heartbeat_resource_group_running gauge\n",
        );
        for (g, st) in self.group_states() {
            out.push_str(&format!("heartbeat_resource_group_running{{group=\"{}\"}} {}\n", esc(&g), u8::from(st == "running")));
        }
        out.push_str(
            "# HELP heartbeat_resource_group_failed Whether a group failed to start here.\n# TYPE heartbeat_resource_group_failed gauge\n",
        );
        for (g, st) in self.group_states() {
            out.push_str(&format!("heartbeat_resource_group_failed{{group=\"{}\"}} {}\n", esc(&g), u8::from(st.starts_with("failed"))));
        }
        out.push_str(
            "# HELP heartbeat_ospfvip_announced Whether FRR announces this OSPFvip VIP from this node.\n# TYPE heartbeat_ospfvip_announced gauge\n",
        );
        out.push_str(&self.runner.ospf_metrics());
        out
    }

    /// Control-socket commands of the resource manager: `rscstatus [-v]`, `hb_standby CLASS`,
    /// `hb_takeover CLASS`. None for other commands.
    pub fn control(&mut self, now: Instant, args: &[String]) -> Option<((i32, String), Vec<Message>)> {
        let class = |a: Option<&String>| a.and_then(|s| crate::resources::parse_class(s)).unwrap_or(crate::resources::ALL);
        match args.first().map(String::as_str) {
            Some("rscstatus") => {
                let mut out = format!("{}\n", self.mgr.rscstatus());
                if args.get(1).map(String::as_str) == Some("-v") {
                    for (g, st) in self.group_states() {
                        out.push_str(&format!("{g}\t{st}\n"));
                    }
                }
                Some(((0, out), Vec::new()))
            }
            Some("hb_standby") if self.drains => {
                // A lone node (an active-active director) has no one to hand its groups to:
                // standby drains it instead, withdrawing its OSPFvip routes.
                self.runner.drain.store(true, Ordering::Relaxed);
                log("info: Going standby [all]: no peer; OSPFvip routes withdrawn, resources kept");
                Some(((0, "!Going standby [all].\n".to_owned()), Vec::new()))
            }
            Some("hb_takeover") if self.drains => {
                self.runner.drain.store(false, Ordering::Relaxed);
                log("info: Taking over: no peer; OSPFvip routes announced again while healthy");
                Some(((0, String::new()), Vec::new()))
            }
            Some("hb_standby") => {
                let c = class(args.get(1));
                let (r, acts) = self.mgr.standby(now, c);
                let msgs = self.perform(acts);
                let answer = match r {
                    Ok(()) => (0, format!("!Going standby [{}].\n", crate::resources::class_name(c))),
                    Err(e) => (1, format!("!hb_standby: {e}\n")),
                };
                Some((answer, msgs))
            }
            Some("hb_takeover") => {
                let c = class(args.get(1));
                let (r, acts) = self.mgr.takeover(c);
                let msgs = self.perform(acts);
                let answer = match r {
                    Ok(()) => (0, String::new()),
                    Err(e) => (1, format!("!hb_takeover: {e}\n")),
                };
                Some((answer, msgs))
            }
            _ => None,
        }
    }

    fn perform(&mut self, acts: Vec<Action>) -> Vec<Message> {
        let mut msgs = Vec::new();
        for a in acts {
            match a {
                Action::Send(m) => msgs.push(m),
                Action::Log(l) => log(&l),
                Action::Run(job) => {
                    let runner = self.runner.clone();
                    let tx = self.done_tx.clone();
                    tokio::spawn(async move {
                        let id = job.id;
                        let outcomes = runner.run(job).await;
                        let _ = tx.send((id, outcomes)).await;
                    });
                }
                Action::Fence(why) => self.fence(&why),
                Action::Exit => self.exit = true,
            }
        }
        msgs
    }

    /// 3.0.6 kills itself and reboots (`reboot -nf`) when a resource will not stop, so that the
    /// peer may take over without sharing it. The command is configurable (tests inject one);
    /// the daemon exits without a clean goodbye either way, so the peer waits out deadtime.
    fn fence(&self, why: &str) -> ! {
        log(&format!("CRIT: {why}"));
        log(&format!("CRIT: fencing this node: running {:?}", self.fence_cmd));
        let r = std::process::Command::new("/bin/sh").arg("-c").arg(&self.fence_cmd).status();
        if let Err(e) = r {
            log(&format!("CRIT: fence command failed to run: {e}"));
        }
        std::process::exit(137);
    }
}

/// `heartbeat resource AGENT ARG start|stop|status`: a built-in address agent run by hand, as
/// people run the stock `resource.d` scripts (ours in `resource.d/` call this). Exit codes as
/// those scripts: 0 done or running, 3 stopped (status), 1 failed, 2 bad arguments.
pub fn run_by_hand(agent: &str, arg: &str, action: &str) -> i32 {
    let mut diags = crate::config::diag::Diagnostics::new("command line");
    let spec = format!("{agent}::{arg}");
    let parsed = crate::config::haresources::parse_resource(1, &spec, &mut diags);
    let Some(address) = parsed.and_then(|r| r.address) else {
        for d in diags.into_items() {
            eprintln!("{agent}: {}", d.message);
        }
        eprintln!(
            "usage: {agent} {} start|stop|status",
            if agent == "SendArp" { "ip-address/interface" } else { "ip-address[/prefix[/interface[/broadcast]]]" }
        );
        return 2;
    };
    let a = match resolve(agent, &address) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{agent}: {e}");
            return 1;
        }
    };
    let announce_in_background = || {
        // The train takes seconds; like send_arp, it goes on in a process of its own.
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("heartbeat"));
        let mut cmd = std::process::Command::new(exe);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let r = cmd
            .args(["resource", agent, arg, "announce"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Err(e) = r {
            eprintln!("{agent}: cannot start the announcements: {e}");
        }
    };
    match (agent, action) {
        (_, "announce") => {
            for k in 0..a.repeat * 2 {
                if k > 0 {
                    std::thread::sleep(a.interval / 2);
                }
                if let Err(e) = send_announcement(&a, k) {
                    eprintln!("{agent}: {e}");
                    return 1;
                }
            }
            0
        }
        ("SendArp", "start") => {
            announce_in_background();
            0
        }
        ("SendArp", "stop") => 0,
        ("SendArp", "status") => {
            println!("stopped");
            3
        }
        (_, "status") => match present(a.ip) {
            Ok(true) => {
                println!("running");
                0
            }
            Ok(false) => {
                println!("stopped");
                3
            }
            Err(e) => {
                eprintln!("{agent}: {e}");
                1
            }
        },
        (_, "start") => match add_addr(&a) {
            Ok(()) => {
                announce_in_background();
                0
            }
            Err(e) if e.contains("File exists") => 0,
            Err(e) => {
                eprintln!("{agent}: {e}");
                1
            }
        },
        (_, "stop") => match del_addr(&a) {
            Ok(()) => 0,
            Err(e) if e.contains("assign requested address") => 0,
            Err(e) => {
                eprintln!("{agent}: {e}");
                1
            }
        },
        (_, other) => {
            eprintln!("{agent}: unknown action {other:?}; expected start, stop or status");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garp_frames_alternate_request_and_reply() {
        let mac = [2, 0, 0, 0, 0, 1];
        let ip = Ipv4Addr::new(10, 0, 0, 100);
        let req = garp_frame(mac, ip, 0);
        let rep = garp_frame(mac, ip, 1);
        assert_eq!(req.len(), 60);
        assert_eq!(&req[12..14], &[8, 6]);
        assert_eq!(req[21], 1);
        assert_eq!(rep[21], 2);
        assert_eq!(&req[28..32], &[10, 0, 0, 100]);
        assert_eq!(&req[38..42], &[10, 0, 0, 100]);
    }

    #[test]
    fn address_request_layout() {
        let a = Addr {
            ip: "10.0.0.100".parse().unwrap(),
            prefix: 24,
            iface: "eth0".into(),
            index: 7,
            label: Some("eth0:0".into()),
            broadcast: Some("10.0.0.255".parse().unwrap()),
            mac: [0; 6],
            link: None,
            repeat: 10,
            interval: Duration::from_millis(500),
        };
        let m = addr_request(&a, true, 1);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize, m.len());
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWADDR);
        assert_eq!(&m[16..20], &[2, 24, 0, 0]);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 7);
        assert_eq!(m.len() % 4, 0);
        let d = addr_request(&a, false, 2);
        assert!(d.len() < m.len());
    }

    #[test]
    fn status_answers() {
        assert!(status_says_running(0, "running"));
        assert!(status_says_running(0, "INFO: Running OK"));
        assert!(!status_says_running(0, "stopped"));
        assert!(!status_says_running(3, "apache2 is not running"));
        assert!(status_says_running(0, ""));
        assert!(!status_says_running(3, ""));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn scripts_time_out_and_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hang");
        std::fs::write(&p, "#!/bin/sh\necho started\nsleep 30\n").unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let t = std::time::Instant::now();
        let r = run_script(&p, &[], "start", Duration::from_millis(300)).await;
        assert!(r.unwrap_err().contains("killed"));
        assert!(t.elapsed() < Duration::from_secs(5));
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "#!/bin/sh\necho \"$1 $2\"\nexit 3\n").unwrap();
        std::fs::set_permissions(&ok, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let (code, out) = run_script(&ok, &["x".into()], "status", Duration::from_secs(5)).await.unwrap();
        assert_eq!((code, out.trim()), (3, "x status"));
        let missing = run_script(&dir.path().join("nope"), &[], "start", Duration::from_secs(1)).await;
        assert!(missing.is_err());
    }
}
