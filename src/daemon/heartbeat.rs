//! `heartbeat run`: membership over the UDP media, and the control socket `cl_status` talks to.
//! Edge code: reads clocks and sockets, feeds [`Membership`], performs its actions. No decisions.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::config::load::HaConfig;
use crate::membership::{Action, Config, Identity, Input, Membership, NodeStatus, identity};
use crate::time::Instant;

/// Where `cl_status` finds the daemon.
pub const DEFAULT_CTL: &str = "/run/heartbeat-rs/cl_status.sock";

pub struct Options {
    pub node: String,
    pub state_dir: PathBuf,
    pub ctl: PathBuf,
    /// Also log to stderr (the foreground `heartbeat run`).
    pub stderr: bool,
    pub log_format: crate::daemon::logging::Format,
    /// `-d` flags on top of ha.cf's `debug`.
    pub debug: u32,
    /// Lines for the log once it is open (found before it was).
    pub notes: Vec<String>,
    /// Called once the daemon answers signals and cl_status (writes the pid file; tells systemd).
    pub ready: Option<Box<dyn FnOnce()>>,
    /// Run when a resource will not stop (self-fencing; 3.0.6 reboots).
    pub fence_cmd: String,
    /// Limit for one resource script call.
    pub rsc_timeout: Duration,
}

/// Logs one line; Heartbeat's level prefix (`info: `, `WARN: `, `ERROR: `, `CRIT: `, `debug: `)
/// picks the level, as in its own messages.
pub fn log(msg: &str) {
    if let Some(m) = msg.strip_prefix("CRIT: ") {
        tracing::error!(crit = true, "{m}");
    } else if let Some(m) = msg.strip_prefix("ERROR: ") {
        tracing::error!("{m}");
    } else if let Some(m) = msg.strip_prefix("WARN: ") {
        tracing::warn!("{m}");
    } else if let Some(m) = msg.strip_prefix("debug: ") {
        tracing::debug!("{m}");
    } else {
        tracing::info!("{}", msg.strip_prefix("info: ").unwrap_or(msg));
    }
}

fn wall_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Reads or creates `hb_uuid`, and bumps `hb_generation` (written and synced before use).
fn load_identity(dir: &Path) -> Result<Identity, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let uuid_path = dir.join("hb_uuid");
    let uuid = match std::fs::read(&uuid_path).ok().and_then(|b| identity::parse_uuid(&b)) {
        Some(u) => u,
        None => {
            let mut u = [0u8; 16];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut u))
                .map_err(|e| format!("/dev/urandom: {e}"))?;
            std::fs::write(&uuid_path, u).map_err(|e| format!("{}: {e}", uuid_path.display()))?;
            u
        }
    };
    let gen_path = dir.join("hb_generation");
    let stored = std::fs::read(&gen_path).ok().and_then(|b| identity::parse_generation(&b));
    let generation = identity::next_generation(stored, wall_secs());
    let mut f = std::fs::File::create(&gen_path).map_err(|e| format!("{}: {e}", gen_path.display()))?;
    f.write_all(&identity::format_generation(generation)).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", gen_path.display()))?;
    Ok(Identity { uuid, generation })
}

pub type CtlRequest = (Vec<String>, oneshot::Sender<(i32, String)>);

/// Runs until SIGTERM or SIGINT.
pub fn run(cfg: HaConfig, opts: Options) -> Result<(), String> {
    let hc = &cfg.ha_cf;
    crate::daemon::logging::init(crate::daemon::logging::Settings {
        node: opts.node.clone(),
        logfile: hc.logfile.clone(),
        debugfile: hc.debugfile.clone(),
        // No logfile, debugfile or facility: 3.0.6 logs through its logging daemon to syslog.
        facility: hc.logfacility.clone().or_else(|| (hc.logfile.is_none() && hc.debugfile.is_none()).then(|| "daemon".to_owned())),
        debug: hc.debug + opts.debug,
        stderr: opts.stderr,
        format: opts.log_format,
        program: "heartbeat",
    });
    for n in &opts.notes {
        log(n);
    }
    let identity = load_identity(&opts.state_dir)?;
    let media = crate::net::open(&hc.media, hc.baud)?;
    let ping_nodes: Vec<(String, Vec<String>)> = hc.ping.iter().map(|p| (p.name.clone(), p.hosts.clone())).collect();
    let pinger = if ping_nodes.is_empty() { None } else { Some(crate::net::ping::Pinger::open(&ping_nodes)?) };
    let mcfg = membership_config(&cfg, &opts.node);
    if !mcfg.nodes.contains(&opts.node) {
        return Err(format!(
            "this node ({}) is not a node of {}/ha.cf; name it with --node or add a node line",
            opts.node,
            cfg.dir.display()
        ));
    }
    if hc.realtime {
        make_realtime(hc.rtprio.unwrap_or(1));
    }
    let view = View {
        listed: listed(hc),
        ping: ping_nodes,
        links: Vec::new(),
        names: Vec::new(),
        directives: hc.directives.iter().map(|d| (d.name.clone(), d.value.clone())).collect(),
    };
    if hc.nodes.len() > 2 && !cfg.haresources.is_empty() {
        log("WARN: haresources manages two-node clusters; resources are negotiated with the first other node only");
    }
    let (done_tx, done_rx) = mpsc::channel(16);
    let rsc = super::resources::Edge::new(&cfg, &opts.node, opts.fence_cmd.clone(), opts.rsc_timeout, done_tx);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("tokio: {e}"))?;
    rt.block_on(main_loop(mcfg, identity, media, pinger, opts, view, cfg, rsc, done_rx))
}

/// Every node, ping nodes (`true`) too, as cl_status lists them: the reverse of ha.cf's order.
fn listed(hc: &crate::config::ha_cf::HaCf) -> Vec<(String, bool)> {
    let mut all: Vec<(usize, String, bool)> = hc.nodes.iter().map(|n| (n.line, n.name.clone(), false)).collect();
    all.extend(hc.ping.iter().map(|p| (p.line, p.name.clone(), true)));
    all.sort_by_key(|(line, _, _)| *line);
    all.into_iter().rev().map(|(_, n, ping)| (n, ping)).collect()
}

/// What membership takes from the configuration files.
fn membership_config(cfg: &HaConfig, node: &str) -> Config {
    let hc = &cfg.ha_cf;
    Config {
        local: node.to_owned(),
        nodes: hc.nodes.iter().map(|n| n.name.clone()).collect(),
        keepalive: hc.keepalive,
        deadtime: hc.deadtime,
        warntime: hc.warntime,
        initdead: hc.initdead,
        ping_nodes: hc.ping.iter().map(|p| p.name.clone()).collect(),
        deadping: hc.deadping,
        hopfudge: hc.hopfudge,
        keys: cfg.authkeys.clone(),
        autojoin: hc.autojoin != crate::config::ha_cf::AutoJoin::None,
    }
}

/// `realtime on` (the default): SCHED_RR and memory locked, as 3.0.6, so that heartbeats leave on
/// time under CPU and memory pressure. Failures are logged and the daemon carries on, as 3.0.6 does.
fn make_realtime(prio: u32) {
    let param = libc::sched_param { sched_priority: prio.clamp(1, 99) as i32 };
    // SAFETY: plain syscall wrapper on this process with a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) } != 0 {
        log(&format!("ERROR: Cannot set realtime priority {prio}: {}", std::io::Error::last_os_error()));
    }
    if let Err(e) = nix::sys::mman::mlockall(nix::sys::mman::MlockAllFlags::MCL_CURRENT | nix::sys::mman::MlockAllFlags::MCL_FUTURE) {
        log(&format!("ERROR: Cannot lock ourselves into memory: {e}"));
    }
}

/// What cl_status answers need besides the engine.
struct View {
    /// Every node and ping node (`true`), in cl_status's order (reverse of ha.cf).
    listed: Vec<(String, bool)>,
    /// Ping pseudo-nodes and their hosts.
    ping: Vec<(String, Vec<String>)>,
    /// The link name of each medium, by medium index.
    links: Vec<String>,
    /// Link names, once each.
    names: Vec<String>,
    /// ha.cf directives as written, for hbparameter.
    directives: Vec<(String, String)>,
}

/// Bad datagrams are counted always and logged at most once per this interval.
const BAD_LOG_EVERY: Duration = Duration::from_secs(10);

type JobDone = (u64, Vec<crate::resources::Outcome>);

#[allow(clippy::too_many_arguments)]
async fn main_loop(
    mcfg: Config,
    identity: Identity,
    media: crate::net::Media,
    mut pinger: Option<crate::net::ping::Pinger>,
    opts: Options,
    mut view: View,
    mut loaded: HaConfig,
    mut rsc: super::resources::Edge,
    mut done_rx: mpsc::Receiver<JobDone>,
) -> Result<(), String> {
    let origin = tokio::time::Instant::now();
    let now = || Instant(u64::try_from(origin.elapsed().as_micros()).unwrap_or(u64::MAX));
    let (pkt_tx, mut pkt_rx) = mpsc::channel::<(usize, Vec<u8>)>(1024);
    // Link names for cl_status: the interface of each receiving socket, by medium index.
    view.links = media.receivers.iter().map(|(iface, _)| iface.clone()).collect();
    view.links.extend(media.serials.iter().map(|s| s.device.clone()));
    for l in &view.links {
        if !view.names.contains(l) {
            view.names.push(l.clone());
        }
    }
    let first_serial = media.receivers.len();
    // One thread per receiving socket checks authentication before anything reaches the event
    // loop: a flood of junk costs that thread (another core), not our heartbeats.
    let keys = Arc::new(RwLock::new(loaded.authkeys.clone()));
    let refused = Arc::new(AtomicU64::new(0));
    for (i, (iface, sock)) in media.receivers.into_iter().enumerate() {
        sock.set_nonblocking(false).map_err(|e| format!("receiver on {iface}: {e}"))?;
        let (tx, keys, refused) = (pkt_tx.clone(), keys.clone(), refused.clone());
        std::thread::Builder::new()
            .name(format!("rx {iface}"))
            .stack_size(crate::net::serial::STACK)
            .spawn(move || {
                let mut buf = vec![0u8; crate::wire::message::MAXMSG + 1];
                let mut last_error: Option<std::time::Instant> = None;
                loop {
                    match sock.recv_from(&mut buf) {
                        Ok((n, _)) => {
                            let ok = keys.read().is_ok_and(|k| crate::membership::authentic(&buf[..n], &k));
                            if !ok {
                                refused.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            if tx.blocking_send((i, buf[..n].to_vec())).is_err() {
                                return;
                            }
                        }
                        // One failed receive must not leave the medium deaf; say so once a minute.
                        Err(e) => {
                            if last_error.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                                log(&format!("ERROR: receive on {iface}: {e}"));
                                last_error = Some(std::time::Instant::now());
                            }
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
            })
            .map_err(|e| format!("receiver thread: {e}"))?;
    }
    let mut serial_tx = Vec::new();
    for (i, line) in media.serials.into_iter().enumerate() {
        let tx = pkt_tx.clone();
        serial_tx.push(crate::net::serial::spawn(line, move |m| tx.blocking_send((first_serial + i, m)).is_ok())?);
    }
    let mut ping_rx = start_ping_receivers(pinger.as_ref())?;
    let links: Vec<(String, tokio::net::UdpSocket, std::net::SocketAddr)> = media
        .links
        .into_iter()
        .map(|l| tokio::net::UdpSocket::from_std(l.send).map(|s| (l.iface, s, l.dest)).map_err(|e| format!("sender: {e}")))
        .collect::<Result<_, _>>()?;
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<CtlRequest>(16);
    if let Some(addr) = loaded.ha_cf.metrics {
        crate::daemon::metrics::spawn(addr, ctl_tx.clone()).await?;
        log(&format!("info: Prometheus metrics on http://{addr}/metrics"));
    }
    spawn_ctl(&opts.ctl, ctl_tx)?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).map_err(|e| e.to_string())?;
    let mut usr2 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2()).map_err(|e| e.to_string())?;
    rsc.verify_all_idle().await?;
    let mut opts = opts;
    if let Some(ready) = opts.ready.take() {
        ready();
    }

    let mut engine = Membership::new(mcfg, identity, now());
    log(&format!("info: Configuration validated. Starting heartbeat-rs {} (Heartbeat 3.0.6 compatible)", env!("CARGO_PKG_VERSION")));
    log(&format!("info: Heartbeat generation: {}", identity.generation));
    log(&format!("info: {} starting as node {}", env!("CARGO_PKG_NAME"), opts.node));
    let mut actions: Vec<Action> = engine.handle(now(), wall_secs(), Input::DeadlineReached).collect();
    // Up at once, active after the first keepalive; going active starts resource negotiation.
    actions.extend(engine.handle(now(), wall_secs(), Input::LocalStatusChanged(NodeStatus::Up)));
    let mut became_active = false;
    let mut bad_logged: Option<(Instant, u64)> = None;
    let mut shutting_down = false;
    loop {
        // Membership's actions feed the resource manager, whose messages go back to membership.
        loop {
            let mut msgs = Vec::new();
            if rsc.next_deadline().is_some_and(|d| d <= now()) {
                msgs.extend(rsc.feed(now(), crate::resources::Event::Tick));
            }
            for a in actions.drain(..) {
                if a == Action::Ping {
                    if let Some(p) = pinger.as_mut() {
                        p.send_all();
                    }
                    continue;
                }
                if let Action::Send(bytes) = &a {
                    for tx in &serial_tx {
                        let _ = tx.send(bytes.clone());
                    }
                }
                msgs.extend(rsc.observe(now(), &a));
                perform(&links, &view.links, a).await;
            }
            for m in msgs {
                actions.extend(engine.handle(now(), wall_secs(), Input::SendMessage(m)));
            }
            if actions.is_empty() && rsc.next_deadline().is_none_or(|d| d > now()) {
                break;
            }
        }
        if rsc.exit {
            break;
        }
        engine.add_dropped(refused.swap(0, Ordering::Relaxed));
        bad_logged = log_bad_packets(&engine, now(), bad_logged);
        let deadline = engine.next_deadline().at.min(rsc.next_deadline().unwrap_or(Instant(u64::MAX)));
        let sleep_for = Duration::from_micros(deadline.0.saturating_sub(now().0));
        tokio::select! {
            Some((medium, bytes)) = pkt_rx.recv() => {
                actions.extend(engine.handle(now(), wall_secs(), Input::PacketReceived { medium, bytes: &bytes }));
            }
            _ = tokio::time::sleep(sleep_for) => {
                // The `ld` field of the heartbeat about to go out; read here, off the receive path.
                if let Ok(ld) = std::fs::read_to_string("/proc/loadavg") {
                    engine.set_loadavg(ld.trim_end());
                }
                actions.extend(engine.handle(now(), wall_secs(), Input::DeadlineReached));
                if !became_active {
                    became_active = true;
                    actions.extend(engine.handle(now(), wall_secs(), Input::LocalStatusChanged(NodeStatus::Active)));
                    for m in rsc.feed(now(), crate::resources::Event::Start) {
                        actions.extend(engine.handle(now(), wall_secs(), Input::SendMessage(m)));
                    }
                }
            }
            Some((id, outcomes)) = done_rx.recv() => {
                for m in rsc.feed(now(), crate::resources::Event::JobDone { id, outcomes }) {
                    actions.extend(engine.handle(now(), wall_secs(), Input::SendMessage(m)));
                }
            }
            Some(node) = ping_rx.recv() => {
                actions.extend(engine.handle(now(), wall_secs(), Input::PingReplied { node: &node }));
            }
            Some((args, reply)) = ctl_rx.recv() => {
                match rsc.control(now(), &args) {
                    Some((ans, msgs)) => {
                        let _ = reply.send(ans);
                        for m in msgs {
                            actions.extend(engine.handle(now(), wall_secs(), Input::SendMessage(m)));
                        }
                    }
                    None => {
                        let (rc, mut out) = answer(&engine, now(), &view, &args);
                        // The resource manager's part of the whole-daemon views.
                        match args.first().map(String::as_str) {
                            Some("metrics") => out.push_str(&rsc.metrics()),
                            Some("status") if args.iter().any(|a| a == "--json") => {
                                if let Some(body) = out.trim_end().strip_suffix('}') {
                                    out = format!("{body},\"resources\":{},\"ldirectord\":{}}}\n", rsc.status_json(), rsc.directors_json().await);
                                }
                            }
                            Some("status") => out.push_str(&format!("resources:\t{}\n", rsc.status_json())),
                            _ => {}
                        }
                        let _ = reply.send((rc, out));
                    }
                }
            }
            _ = hup.recv() => {
                if let Some(new) = reload(&loaded) {
                    if new.ha_cf.ping != loaded.ha_cf.ping {
                        let nodes: Vec<(String, Vec<String>)> = new.ha_cf.ping.iter().map(|p| (p.name.clone(), p.hosts.clone())).collect();
                        match crate::net::ping::Pinger::open(&nodes) {
                            Ok(p) => {
                                // The old receivers end when their channel is gone.
                                pinger = (!nodes.is_empty()).then_some(p);
                                ping_rx = start_ping_receivers(pinger.as_ref())?;
                                view.ping = nodes;
                            }
                            Err(e) => log(&format!("ERROR: reload: ping nodes: {e}; keeping the previous ones")),
                        }
                    }
                    view.listed = listed(&new.ha_cf);
                    view.directives = new.ha_cf.directives.iter().map(|d| (d.name.clone(), d.value.clone())).collect();
                    if let Ok(mut k) = keys.write() {
                        *k = new.authkeys.clone();
                    }
                    let mut mcfg = membership_config(&new, &opts.node);
                    mcfg.ping_nodes = view.ping.iter().map(|(n, _)| n.clone()).collect();
                    actions.extend(engine.handle(now(), wall_secs(), Input::ConfigChanged(mcfg)));
                    loaded = new;
                    log("info: configuration reloaded");
                }
            }
            _ = usr1.recv() => log(&format!("info: debug level now {}", crate::daemon::logging::adjust_debug(1))),
            _ = usr2.recv() => log(&format!("info: debug level now {}", crate::daemon::logging::adjust_debug(-1))),
            // The first SIGTERM hands the resources over (the loop ends once `shutdone` is out);
            // a second one ends at once.
            _ = term.recv() => {
                if shutting_down {
                    break;
                }
                shutting_down = true;
                crate::daemon::notify::notify("STOPPING=1");
                log("info: Heartbeat shutdown requested.");
                for m in rsc.feed(now(), crate::resources::Event::Shutdown) {
                    actions.extend(engine.handle(now(), wall_secs(), Input::SendMessage(m)));
                }
            }
            _ = int.recv() => break,
        }
    }
    log("info: shutting down");
    rsc.stop_sync().await;
    let _ = std::fs::remove_file(&opts.ctl);
    Ok(())
}

/// Reads the configuration again for SIGHUP. A configuration with errors keeps the running one;
/// changes that need new sockets (media) are reported and wait for a restart.
fn reload(old: &HaConfig) -> Option<HaConfig> {
    match crate::config::load::load_dir(&old.dir) {
        Ok(c) => {
            let new = c.value;
            if new.ha_cf.media != old.ha_cf.media || new.ha_cf.baud != old.ha_cf.baud {
                log("WARN: reload: heartbeat media changed; the new media take effect at the next restart");
            }
            // Moving resource groups under a running manager could drop or double a VIP; a
            // restart (hb_standby first) is the safe way, as with 3.0.6.
            if new.haresources != old.haresources {
                log("WARN: reload: haresources changed; the new groups take effect at the next restart");
            }
            if new.ha_cf.crm != crate::config::ha_cf::Crm::Off {
                log("ERROR: reload: crm is on in the new ha.cf; keeping the running configuration");
                return None;
            }
            Some(new)
        }
        Err(diags) => {
            for d in diags {
                log(&format!("ERROR: reload: {d}"));
            }
            log("ERROR: reload: the configuration has errors; keeping the running one");
            None
        }
    }
}

fn start_ping_receivers(pinger: Option<&crate::net::ping::Pinger>) -> Result<mpsc::Receiver<String>, String> {
    let (tx, rx) = mpsc::channel::<String>(256);
    if let Some(p) = pinger {
        p.spawn_receivers(move |node| tx.blocking_send(node).is_ok())?;
    }
    Ok(rx)
}

/// Dropped datagrams: one line per BAD_LOG_EVERY at most, with the totals, so a flood cannot
/// flood the log too. Returns when it last logged and the total it reported.
fn log_bad_packets(engine: &Membership, now: Instant, last: Option<(Instant, u64)>) -> Option<(Instant, u64)> {
    let c = engine.counters();
    let bad = c.malformed_or_bad_auth + c.unknown_node + c.replayed;
    let reported = last.map_or(0, |(_, n)| n);
    if bad == reported || last.is_some_and(|(t, _)| now.since(t) < BAD_LOG_EVERY) {
        return last;
    }
    log(&format!(
        "WARN: dropped {} bad datagrams (totals: {} malformed or failing authentication, {} from unknown nodes, {} replayed)",
        bad - reported,
        c.malformed_or_bad_auth,
        c.unknown_node,
        c.replayed
    ));
    Some((now, bad))
}

async fn perform(links: &[(String, tokio::net::UdpSocket, std::net::SocketAddr)], link_names: &[String], a: Action) {
    match a {
        Action::Send(bytes) => {
            for (iface, sock, dest) in links {
                if let Err(e) = sock.send_to(&bytes, dest).await {
                    // A link that is down fails every keepalive: one line a minute per link.
                    static LAST: std::sync::Mutex<Vec<(std::net::SocketAddr, std::time::Instant)>> = std::sync::Mutex::new(Vec::new());
                    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
                    let due = match last.iter_mut().find(|(d, _)| d == dest) {
                        Some((_, t)) if t.elapsed() < Duration::from_secs(60) => false,
                        Some((_, t)) => {
                            *t = std::time::Instant::now();
                            true
                        }
                        None => {
                            last.push((*dest, std::time::Instant::now()));
                            true
                        }
                    };
                    if due {
                        log(&format!("ERROR: send on {iface} to {dest}: {e} (repeated failures on this link are logged once a minute)"));
                    }
                }
            }
        }
        Action::Ping => {}
        Action::LinkStatusChanged { node, medium, up } => {
            let link = link_names.get(medium).map_or("?", String::as_str);
            log(&format!("info: Link {node}:{link} {}.", if up { "up" } else { "dead" }));
        }
        Action::NodeRestarted { node } => log(&format!("info: Heartbeat restart on node {node}")),
        Action::Deliver { from, msg } => log(&format!("debug: message t={} from {from}", msg.get_str("t").unwrap_or("?"))),
        // Heartbeat's own log lines, which monitoring scripts grep for.
        Action::NodeStatusChanged { node, status: NodeStatus::Dead } => log(&format!("WARN: node {node}: is dead")),
        Action::NodeStatusChanged { node, status } => log(&format!("info: Status update for node {node}: status {}", status.name())),
        Action::LateHeartbeat { node, interval, past_deadtime } => {
            let ms = interval.as_millis();
            if past_deadtime {
                log(&format!("CRIT: Late heartbeat: Node {node}: interval {ms} ms (> deadtime)"));
            } else {
                log(&format!("WARN: Late heartbeat: Node {node}: interval {ms} ms"));
            }
        }
    }
}

/// `cl_status` answers, with 3.0.6's output and exit codes (heartbeat-behaviour.md §7.1).
fn answer(engine: &Membership, now: Instant, view: &View, args: &[String]) -> (i32, String) {
    const BAD_NODE: &str = "!Error. May be due to incorrect node name\n";
    // Flags (`-v`, `-p`, `-n`, `-m`) may come anywhere; the rest are operands.
    let flag = |f: &str| args.iter().skip(1).any(|a| a == f);
    let ops: Vec<String> = args.iter().skip(1).filter(|a| !a.starts_with('-')).map(|s| s.to_ascii_lowercase()).collect();
    let known = |n: &str| view.listed.iter().any(|(l, _)| l == n);
    let is_ping = |n: &str| view.listed.iter().any(|(l, p)| l == n && *p);
    let status = |n: &str| engine.node_status(n).unwrap_or(NodeStatus::Dead);
    // A ping node's links are its hosts; a normal node's are the media.
    let links_of = |n: &str| -> Vec<(String, bool)> {
        if is_ping(n) {
            let hosts = view.ping.iter().find(|(p, _)| p == n).map(|(_, h)| h.clone()).unwrap_or_default();
            return hosts.into_iter().map(|h| (h, status(n) != NodeStatus::Dead)).collect();
        }
        view.names
            .iter()
            .map(|name| {
                let up = link_up(engine, now, view, n, name);
                (name.clone(), up)
            })
            .collect()
    };
    let up_dead = |up: bool| if up { "up" } else { "dead" };
    let verbose_nodes = || -> String {
        let mut out = String::new();
        for (n, ping) in &view.listed {
            out.push_str(&format!("\n{n}\t{}\t(nodetype: {})\n", status(n).name(), if *ping { "ping" } else { "normal" }));
            for (l, up) in links_of(n) {
                out.push_str(&format!("\t{l}\t{}\n", up_dead(up)));
            }
        }
        out
    };
    match args.first().map(String::as_str) {
        Some("hbstatus") if flag("-v") => {
            (0, format!("version:\t3.0.6 (heartbeat-rs {})\nmanaged by:\t\"haresources\"\n{}", env!("CARGO_PKG_VERSION"), verbose_nodes()))
        }
        Some("hbstatus") => (0, "Heartbeat is running on this machine.\n".into()),
        Some("listnodes") if flag("-v") => (0, verbose_nodes()),
        Some("listnodes") => {
            let pick = |ping: bool| (!flag("-p") && !flag("-n")) || (flag("-p") && ping) || (flag("-n") && !ping);
            (0, view.listed.iter().filter(|(_, p)| pick(*p)).map(|(n, _)| format!("{n}\n")).collect())
        }
        Some("nodestatus") => match ops.first().filter(|n| known(n)) {
            Some(n) if status(n) == NodeStatus::Dead => (1, "dead\n".into()),
            Some(n) => (0, format!("{}\n", status(n).name())),
            None => (11, BAD_NODE.into()),
        },
        Some("nodetype") => match ops.first().filter(|n| known(n)) {
            Some(n) => (0, if is_ping(n) { "ping\n".into() } else { "normal\n".into() }),
            None => (11, BAD_NODE.into()),
        },
        Some("nodeweight") => match ops.first().filter(|n| known(n)) {
            Some(_) => (0, "100\n".into()),
            None => (11, BAD_NODE.into()),
        },
        Some("nodesite") => match ops.first().filter(|n| known(n)) {
            Some(_) => (0, "\n".into()),
            None => (11, BAD_NODE.into()),
        },
        Some("listhblinks") => match ops.first().filter(|n| known(n)) {
            Some(n) if flag("-v") => (0, links_of(n).into_iter().map(|(l, up)| format!("{l}\t{}\n", up_dead(up))).collect()),
            Some(n) => (0, links_of(n).into_iter().map(|(l, _)| format!("{l}\n")).collect()),
            None => (11, BAD_NODE.into()),
        },
        Some("hblinkstatus") => {
            let (Some(node), Some(link)) = (ops.first(), args.iter().skip(1).filter(|a| !a.starts_with('-')).nth(1)) else {
                return (13, "!Cannot get heartbeat link status\n".into());
            };
            match links_of(node).into_iter().find(|(l, _)| l == link) {
                Some((_, true)) => (0, "up\n".into()),
                Some((_, false)) => (1, "dead\n".into()),
                None => (13, "!Cannot get heartbeat link status\n".into()),
            }
        }
        // No API clients (ipfail) run against heartbeat-rs: every client is offline.
        Some("clientstatus") => match ops.first().filter(|n| known(n)) {
            Some(_) if ops.len() >= 2 => (1, "offline\n".into()),
            _ => (11, BAD_NODE.into()),
        },
        Some("hbparameter") => {
            let name = args.windows(2).find(|w| w[0] == "-p").map(|w| w[1].as_str());
            match name.and_then(|name| view.directives.iter().rev().find(|(d, _)| d == name)) {
                Some((_, v)) => (0, format!("{v}\n")),
                None => (1, String::new()),
            }
        }
        Some("metrics") => (0, metrics_text(engine, now, view)),
        Some("status") if flag("--json") => (0, status_json(engine, now, view)),
        Some("status") => {
            let counters: String = counters(engine).iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
            (0, format!("node:\t{}{}\n{counters}", engine.local(), verbose_nodes()))
        }
        Some(other) => (11, format!("!{other}: invalid sub-command.\n")),
        None => (1, "!no sub-command\n".into()),
    }
}

/// Prometheus text exposition: node and link gauges, datagram counters.
fn metrics_text(engine: &Membership, now: Instant, view: &View) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    let mut out = String::new();
    out.push_str(
        "# HELP heartbeat_node_up Whether a node (or ping node) is alive, as cl_status nodestatus says.\n# TYPE heartbeat_node_up gauge\n",
    );
    for (n, ping) in &view.listed {
        let st = engine.node_status(n).unwrap_or(NodeStatus::Dead);
        out.push_str(&format!(
            "heartbeat_node_up{{node=\"{}\",type=\"{}\",status=\"{}\"}} {}\n",
            esc(n),
            if *ping { "ping" } else { "normal" },
            st.name(),
            u8::from(st != NodeStatus::Dead)
        ));
    }
    out.push_str("# HELP heartbeat_link_up Whether a node was heard on a link within its deadtime.\n# TYPE heartbeat_link_up gauge\n");
    for (n, _) in view.listed.iter().filter(|(_, ping)| !ping) {
        for l in &view.names {
            let up = link_up(engine, now, view, n, l);
            out.push_str(&format!("heartbeat_link_up{{node=\"{}\",link=\"{}\"}} {}\n", esc(n), esc(l), u8::from(up)));
        }
    }
    let c = engine.counters();
    out.push_str(
        "# HELP heartbeat_datagrams_total Datagrams received, by what became of them.\n# TYPE heartbeat_datagrams_total counter\n",
    );
    for (result, v) in [
        ("accepted", c.accepted),
        ("malformed_or_bad_auth", c.malformed_or_bad_auth),
        ("unknown_node", c.unknown_node),
        ("replayed", c.replayed),
        ("duplicate", c.duplicate),
    ] {
        out.push_str(&format!("heartbeat_datagrams_total{{result=\"{result}\"}} {v}\n"));
    }
    out.push_str("# HELP heartbeat_retransmissions_total Retransmission requests sent, messages re-sent, messages given up.\n# TYPE heartbeat_retransmissions_total counter\n");
    for (kind, v) in [("requested", c.rexmit_requested), ("sent", c.rexmit_sent), ("lost", c.lost)] {
        out.push_str(&format!("heartbeat_retransmissions_total{{kind=\"{kind}\"}} {v}\n"));
    }
    out.push_str(&format!(
        "# HELP heartbeat_node_deaths_total Times a peer was declared dead.\n# TYPE heartbeat_node_deaths_total counter\nheartbeat_node_deaths_total {}\n",
        c.node_deaths
    ));
    out
}

/// Whether `node` is heard on the link called `link` (on any medium of that name).
fn link_up(engine: &Membership, now: Instant, view: &View, node: &str, link: &str) -> bool {
    view.links.iter().enumerate().filter(|(_, l)| *l == link).any(|(m, _)| engine.link_up(now, node, m) == Some(true))
}

/// The datagram counters by name, for the status views.
fn counters(engine: &Membership) -> [(&'static str, u64); 9] {
    let c = engine.counters();
    [
        ("accepted", c.accepted),
        ("heartbeats", c.heartbeats),
        ("malformed_or_bad_auth", c.malformed_or_bad_auth),
        ("unknown_node", c.unknown_node),
        ("replayed", c.replayed),
        ("duplicate", c.duplicate),
        ("rexmit_requested", c.rexmit_requested),
        ("rexmit_sent", c.rexmit_sent),
        ("lost", c.lost),
    ]
}

/// `heartbeat status --json`: nodes, links and the datagram counters.
fn status_json(engine: &Membership, now: Instant, view: &View) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut nodes = Vec::new();
    for (n, ping) in &view.listed {
        let status = engine.node_status(n).map_or("unknown", |s| s.name());
        let links: Vec<String> = if *ping {
            Vec::new()
        } else {
            view.names
                .iter()
                .map(|l| {
                    let up = link_up(engine, now, view, n, l);
                    format!("{{\"name\":\"{}\",\"status\":\"{}\"}}", esc(l), if up { "up" } else { "dead" })
                })
                .collect()
        };
        nodes.push(format!(
            "{{\"name\":\"{}\",\"type\":\"{}\",\"status\":\"{status}\",\"links\":[{}]}}",
            esc(n),
            if *ping { "ping" } else { "normal" },
            links.join(",")
        ));
    }
    let datagrams: Vec<String> = counters(engine).iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{\"node\":\"{}\",\"nodes\":[{}],\"datagrams\":{{{}}}}}\n", esc(engine.local()), nodes.join(","), datagrams.join(","))
}

fn spawn_ctl(path: &Path, tx: mpsc::Sender<CtlRequest>) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Only root (and the haclient group, set by packaging) may ask.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut line = String::new();
                // A request is one short line; bound its size and the wait for it.
                let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(r, 4096));
                if !matches!(tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await, Ok(Ok(_))) {
                    return;
                }
                let args: Vec<String> = line.trim_end().split('\t').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                let (otx, orx) = oneshot::channel();
                if tx.send((args, otx)).await.is_err() {
                    return;
                }
                if let Ok((rc, out)) = orx.await {
                    let _ = w.write_all(format!("{rc}\n{out}").as_bytes()).await;
                }
            });
        }
    });
    Ok(())
}

const CL_STATUS_USAGE: &str = "Usage: cl_status <sub-command> [<options>] [<parameters>]\n\
Sub-commands:\n\
  hbstatus [-v]                  whether heartbeat runs on this machine\n\
  listnodes [-v|-p|-n]           the cluster's nodes (-p ping nodes, -n normal nodes)\n\
  nodestatus <node>              init, up, active, ping or dead\n\
  nodetype <node>                normal or ping\n\
  nodeweight <node>              a node's weight\n\
  nodesite <node>                a node's site\n\
  listhblinks [-v] <node>        a node's heartbeat links\n\
  hblinkstatus <node> <link>     up or dead\n\
  clientstatus <node> <client>   an API client's status\n\
  rscstatus                      the resources this node holds\n\
  hbparameter -p <name>          an ha.cf parameter, as written\n";

/// The `cl_status` applet: asks the running daemon, prints its answer, exits with its code.
pub fn cl_status(args: &[String]) -> i32 {
    if args.is_empty() {
        print!("{CL_STATUS_USAGE}");
        return 0;
    }
    let ctl = std::env::var_os("HEARTBEAT_RS_CTL").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_CTL));
    ask(&ctl, args)
}

/// Sends one request to the daemon's control socket, prints the answer, returns its exit code.
pub fn ask(ctl: &Path, args: &[String]) -> i32 {
    use std::io::{BufRead, Read};
    let mut s = match std::os::unix::net::UnixStream::connect(ctl) {
        Ok(s) => s,
        // 3.0.6's answers when the daemon is not running.
        Err(_) => {
            if args.first().map(String::as_str) == Some("hbstatus") {
                println!("Heartbeat is stopped on this machine.");
                if args.iter().any(|a| a == "-v") {
                    println!("(hb_api_signon: Can't initiate connection to heartbeat)");
                }
                return 1;
            }
            eprintln!("cl_status: ERROR: Cannot signon with heartbeat");
            eprintln!("cl_status: ERROR: REASON: hb_api_signon: Can't initiate connection to heartbeat ({})", ctl.display());
            return 1;
        }
    };
    if s.write_all(format!("{}\n", args.join("\t")).as_bytes()).is_err() {
        return 11;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    let mut lines = std::io::BufReader::new(reply.as_bytes()).lines();
    let rc: i32 = lines.next().and_then(Result::ok).and_then(|l| l.parse().ok()).unwrap_or(11);
    for l in lines.map_while(Result::ok) {
        match l.strip_prefix('!') {
            Some(e) => eprintln!("{e}"),
            None => println!("{l}"),
        }
    }
    rc
}
