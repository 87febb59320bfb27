//! `heartbeat run`: membership over the UDP media, and the control socket `cl_status` talks to.
//! Edge code: reads clocks and sockets, feeds [`Membership`], performs its actions. No decisions.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
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
    /// Run when a resource will not stop (self-fencing; 3.0.6 reboots).
    pub fence_cmd: String,
    /// Limit for one resource script call.
    pub rsc_timeout: Duration,
}

fn log(msg: &str) {
    let _ = writeln!(std::io::stderr(), "heartbeat: {msg}");
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

type CtlRequest = (Vec<String>, oneshot::Sender<(i32, String)>);

/// Runs until SIGTERM or SIGINT.
pub fn run(cfg: HaConfig, opts: Options) -> Result<(), String> {
    let hc = &cfg.ha_cf;
    let identity = load_identity(&opts.state_dir)?;
    let media = crate::net::open(&hc.media)?;
    let mcfg = Config {
        local: opts.node.clone(),
        nodes: hc.nodes.iter().map(|n| n.name.clone()).collect(),
        keepalive: hc.keepalive,
        deadtime: hc.deadtime,
        warntime: hc.warntime,
        initdead: hc.initdead,
        ping_nodes: hc.ping.iter().map(|p| p.name.clone()).collect(),
        deadping: hc.deadping,
        hopfudge: hc.hopfudge,
        keys: cfg.authkeys.clone(),
    };
    if !mcfg.nodes.contains(&opts.node) {
        return Err(format!(
            "this node ({}) is not a node of {}/ha.cf; name it with --node or add a node line",
            opts.node,
            cfg.dir.display()
        ));
    }
    if hc.nodes.len() > 2 && !cfg.haresources.is_empty() {
        log("WARN: haresources manages two-node clusters; resources are negotiated with the first other node only");
    }
    let (done_tx, done_rx) = mpsc::channel(16);
    let rsc = super::resources::Edge::new(&cfg, &opts.node, opts.fence_cmd.clone(), opts.rsc_timeout, done_tx);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("tokio: {e}"))?;
    rt.block_on(main_loop(mcfg, identity, media, opts, hc.nodes.iter().map(|n| n.name.clone()).collect(), rsc, done_rx))
}

type JobDone = (u64, Vec<crate::resources::Outcome>);

async fn main_loop(
    mcfg: Config,
    identity: Identity,
    media: crate::net::Media,
    opts: Options,
    nodes: Vec<String>,
    mut rsc: super::resources::Edge,
    mut done_rx: mpsc::Receiver<JobDone>,
) -> Result<(), String> {
    let origin = tokio::time::Instant::now();
    let now = || Instant(u64::try_from(origin.elapsed().as_micros()).unwrap_or(u64::MAX));
    let (pkt_tx, mut pkt_rx) = mpsc::channel::<(usize, Vec<u8>)>(1024);
    // Link names for cl_status: the interface of each receiving socket, by medium index.
    let link_names: Vec<String> = media.receivers.iter().map(|(iface, _)| iface.clone()).collect();
    let mut listed_links: Vec<String> = Vec::new();
    for l in &link_names {
        if !listed_links.contains(l) {
            listed_links.push(l.clone());
        }
    }
    for (i, (_iface, sock)) in media.receivers.into_iter().enumerate() {
        let sock = tokio::net::UdpSocket::from_std(sock).map_err(|e| format!("receiver: {e}"))?;
        let tx = pkt_tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; crate::wire::message::MAXMSG + 1];
            loop {
                match sock.recv_from(&mut buf).await {
                    Ok((n, _)) => {
                        if tx.send((i, buf[..n].to_vec())).await.is_err() {
                            break;
                        }
                    }
                    // One failed receive must not leave the medium deaf.
                    Err(e) => {
                        log(&format!("receive on medium {i}: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    let links: Vec<(String, tokio::net::UdpSocket, std::net::SocketAddr)> = media
        .links
        .into_iter()
        .map(|l| tokio::net::UdpSocket::from_std(l.send).map(|s| (l.iface, s, l.dest)).map_err(|e| format!("sender: {e}")))
        .collect::<Result<_, _>>()?;
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<CtlRequest>(16);
    spawn_ctl(&opts.ctl, ctl_tx)?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).map_err(|e| e.to_string())?;

    rsc.verify_all_idle().await?;
    let mut engine = Membership::new(mcfg, identity, now());
    log(&format!("heartbeat-rs {} starting as {} (generation {})", env!("CARGO_PKG_VERSION"), opts.node, identity.generation));
    let mut actions: Vec<Action> = engine.handle(now(), wall_secs(), Input::DeadlineReached).collect();
    // Up at once, active after the first keepalive; going active starts resource negotiation.
    actions.extend(engine.handle(now(), wall_secs(), Input::LocalStatusChanged(NodeStatus::Up)));
    let mut became_active = false;
    let mut shutting_down = false;
    loop {
        // Membership's actions feed the resource manager, whose messages go back to membership.
        loop {
            let mut msgs = Vec::new();
            if rsc.next_deadline().is_some_and(|d| d <= now()) {
                msgs.extend(rsc.feed(now(), crate::resources::Event::Tick));
            }
            for a in actions.drain(..) {
                msgs.extend(rsc.observe(now(), &a));
                perform(&links, a).await;
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
            Some((args, reply)) = ctl_rx.recv() => {
                match rsc.control(now(), &args) {
                    Some((ans, msgs)) => {
                        let _ = reply.send(ans);
                        for m in msgs {
                            actions.extend(engine.handle(now(), wall_secs(), Input::SendMessage(m)));
                        }
                    }
                    None => {
                        let _ = reply.send(answer(&engine, now(), &nodes, &link_names, &listed_links, &args));
                    }
                }
            }
            // The first SIGTERM hands the resources over (the loop ends once `shutdone` is out);
            // a second one ends at once.
            _ = term.recv() => {
                if shutting_down {
                    break;
                }
                shutting_down = true;
                log("info: Heartbeat shutdown requested.");
                for m in rsc.feed(now(), crate::resources::Event::Shutdown) {
                    actions.extend(engine.handle(now(), wall_secs(), Input::SendMessage(m)));
                }
            }
            _ = int.recv() => break,
        }
    }
    log("shutting down");
    let _ = std::fs::remove_file(&opts.ctl);
    Ok(())
}

async fn perform(links: &[(String, tokio::net::UdpSocket, std::net::SocketAddr)], a: Action) {
    match a {
        Action::Send(bytes) => {
            for (iface, sock, dest) in links {
                if let Err(e) = sock.send_to(&bytes, dest).await {
                    log(&format!("send on {iface} to {dest}: {e}"));
                }
            }
        }
        Action::Ping => {}
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

/// `cl_status` answers, with 3.0.6's output and exit codes (heartbeat-behaviour.md).
/// `links` names each medium's link (by medium index); `names` lists them once each.
fn answer(engine: &Membership, now: Instant, nodes: &[String], links: &[String], names: &[String], args: &[String]) -> (i32, String) {
    let node_arg = |i: usize| args.get(i).map(|s| s.to_ascii_lowercase());
    match args.first().map(String::as_str) {
        Some("listhblinks") => match node_arg(1) {
            Some(n) if nodes.contains(&n) => (0, names.iter().map(|l| format!("{l}\n")).collect()),
            _ => (11, "!Error. May be due to incorrect node name\n".into()),
        },
        Some("hblinkstatus") => {
            let (Some(node), Some(link)) = (node_arg(1), args.get(2)) else {
                return (13, "!Cannot get heartbeat link status\n".into());
            };
            let media: Vec<usize> = links.iter().enumerate().filter(|(_, l)| *l == link).map(|(i, _)| i).collect();
            match (media.is_empty(), media.iter().map(|&m| engine.link_up(now, &node, m)).collect::<Option<Vec<bool>>>()) {
                (false, Some(up)) if up.contains(&true) => (0, "up\n".into()),
                (false, Some(_)) => (1, "dead\n".into()),
                _ => (13, "!Cannot get heartbeat link status\n".into()),
            }
        }
        Some("hbstatus") => (0, "Heartbeat is running on this machine.\n".into()),
        Some("listnodes") => (0, nodes.iter().rev().map(|n| format!("{n}\n")).collect()),
        Some("nodestatus") => match node_arg(1).and_then(|n| engine.node_status(&n)) {
            Some(NodeStatus::Dead) => (1, "dead\n".into()),
            Some(s) => (0, format!("{}\n", s.name())),
            None => (11, "!Error. May be due to incorrect node name\n".into()),
        },
        Some("nodetype") => match node_arg(1) {
            Some(n) if nodes.contains(&n) => (0, "normal\n".into()),
            _ => (11, "!Error. May be due to incorrect node name\n".into()),
        },
        Some(other) => (11, format!("!{other}: not implemented yet in heartbeat-rs\n")),
        None => (1, "!no sub-command\n".into()),
    }
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

/// The `cl_status` applet: asks the running daemon, prints its answer, exits with its code.
pub fn cl_status(args: &[String]) -> i32 {
    use std::io::{BufRead, Read};
    let ctl = std::env::var_os("HEARTBEAT_RS_CTL").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_CTL));
    let mut s = match std::os::unix::net::UnixStream::connect(&ctl) {
        Ok(s) => s,
        Err(_) => {
            if args.first().map(String::as_str) == Some("hbstatus") {
                println!("Heartbeat is stopped on this machine.");
                return 2;
            }
            eprintln!("cl_status: cannot connect to heartbeat ({}): is it running?", ctl.display());
            return 11;
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
