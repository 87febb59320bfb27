//! The ldirectord daemon edge: loads the configuration, feeds the director engine with check
//! results and time, runs the checks (bounded concurrency), reconciles IPVS when the desired
//! table changes, reloads, and stops cleanly. Embeddable: [`Director::spawn`] runs it on the
//! current tokio runtime and returns a handle (`heartbeat run` uses the same API).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::config::ldirectord_cf::{self, LogTarget};
use crate::director::farm::{self, Farm, SystemResolver};
use crate::director::{Action, CheckId, Engine, Input, Outcome};
use crate::ipvs::Backend;
use crate::ipvs::diff::Op;
use crate::ipvs::fake::FakeIpvs;
use crate::ipvs::model::{ServiceKey, SockAddr, Table};
use crate::time::Instant;

/// Where log lines go.
#[derive(Debug, Clone)]
pub enum LogSink {
    /// `[date|NAME|PID] message`, the file opened and closed per line (rotation friendly).
    File(PathBuf),
    /// A syslog facility, over `/dev/log`.
    Syslog(String),
    /// Foreground (`-d`, `supervised`): `[date] message` on stderr.
    Stderr,
}

#[derive(Debug, Clone)]
pub struct Logger {
    sink: LogSink,
    name: String,
}

impl Logger {
    pub fn new(sink: LogSink, name: &str) -> Logger {
        Logger { sink, name: name.to_owned() }
    }

    pub fn log(&self, msg: &str) {
        let now = ctime(std::time::SystemTime::now());
        match &self.sink {
            LogSink::Stderr => eprintln!("[{now}] {msg}"),
            LogSink::File(p) => {
                if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(p) {
                    let _ = writeln!(f, "[{now}|{}|{}] {msg}", self.name, std::process::id());
                }
            }
            LogSink::Syslog(facility) => syslog(facility, msg),
        }
    }
}

fn syslog(facility: &str, msg: &str) {
    const FACILITIES: &[&str] = &[
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "", "", "", "", "local0",
        "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ];
    let code = FACILITIES.iter().position(|f| *f == facility).unwrap_or(3);
    // Priority info (6), as 4.12 logs.
    let line = format!("<{}>ldirectord[{}]: {msg}", code * 8 + 6, std::process::id());
    if let Ok(s) = std::os::unix::net::UnixDatagram::unbound() {
        let _ = s.send_to(line.as_bytes(), "/dev/log");
    }
}

/// `Tue Nov 24 13:12:32 2026` (UTC; the daemon does not read the time zone database).
pub fn ctime(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {y}",
        WD[days.rem_euclid(7) as usize],
        MO[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Which IPVS the director programs.
#[derive(Debug, Clone)]
pub enum IpvsTarget {
    Kernel,
    /// The file-backed fake (`--ipvs-table FILE`).
    File(PathBuf),
}

/// What a director needs to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub ipvs: IpvsTarget,
    /// Overrides the configuration's `logfile` (foreground runs log to stderr).
    pub log: Option<LogSink>,
    /// Where to keep a JSON snapshot of every real's state (refreshed every `checkinterval`).
    pub status_file: Option<PathBuf>,
    /// Woken (`notify_waiters`) whenever the desired table changes, i.e. a real's state did:
    /// whoever follows the reals' health (the OSPFvip announcer) need not wait for its next poll.
    pub on_change: Option<Arc<tokio::sync::Notify>>,
}

/// Loads, parses and resolves a configuration: errors are `FILE:LINE: message` lines.
pub fn load(path: &Path) -> Result<(ldirectord_cf::DirectorConfig, Farm, Vec<String>), Vec<String>> {
    let (bytes, _) = crate::config::load::read(path).map_err(|d| vec![d.to_string()])?;
    let name = path.display().to_string();
    let parsed = ldirectord_cf::parse(&name, &bytes).map_err(|ds| ds.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    let cfg = parsed.value;
    for v in &cfg.virtuals {
        if v.service == ldirectord_cf::Service::Oracle
            && matches!(v.checktype, ldirectord_cf::CheckType::Negotiate | ldirectord_cf::CheckType::Combined(_))
        {
            return Err(vec![format!(
                "{name}:{}: service=oracle is not supported by heartbeat-rs; use checktype=connect or an external check",
                v.line
            )]);
        }
    }
    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    let farm = farm::resolve(&cfg, &SystemResolver::new(), &host)
        .map_err(|es| es.into_iter().map(|(l, m)| format!("{name}:{l}: {m}")).collect::<Vec<_>>())?;
    Ok((cfg, farm, warnings))
}

enum Control {
    Reload(oneshot::Sender<Result<(), Vec<String>>>),
    Status(oneshot::Sender<Vec<crate::director::engine::RealStatus>>),
    Stop,
}

/// A running director.
pub struct Director {
    tx: mpsc::UnboundedSender<Control>,
    join: tokio::task::JoinHandle<Result<(), String>>,
    /// Fires once the first table has been applied.
    first: Option<oneshot::Receiver<()>>,
}

impl Director {
    /// Loads the configuration (errors returned, nothing started) and starts the director on
    /// the current tokio runtime.
    pub fn spawn(opts: Options) -> Result<Director, Vec<String>> {
        let (cfg, farm, warnings) = load(&opts.config)?;
        let sink = opts.log.clone().unwrap_or(match &cfg.globals.logfile {
            LogTarget::File(p) => LogSink::File(p.into()),
            LogTarget::Syslog(f) => LogSink::Syslog(f.clone()),
        });
        let name = opts.config.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let log = Logger::new(sink, &name);
        for w in warnings {
            log.log(&w);
        }
        let backend: Box<dyn Backend + Send> = match &opts.ipvs {
            IpvsTarget::File(p) => Box::new(FakeIpvs::open_file(p).map_err(|e| vec![e.to_string()])?),
            IpvsTarget::Kernel => Box::new(crate::ipvs::kernel::KernelIpvs::open().map_err(|e| vec![format!("cannot open IPVS: {e}")])?),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let autoreload = cfg.globals.autoreload;
        let callback = cfg.globals.callback.clone();
        let (first_tx, first_rx) = oneshot::channel();
        let join = tokio::spawn(run(
            opts.config.clone(),
            farm,
            backend,
            log,
            rx,
            autoreload,
            callback,
            opts.status_file.clone(),
            first_tx,
            opts.on_change.clone(),
        ));
        Ok(Director { tx, join, first: Some(first_rx) })
    }

    /// Waits (at most `limit`) until the first table is in IPVS; whether it is. A takeover
    /// brings the VIP up after this, so its first packets meet a programmed table.
    pub async fn first_table(&mut self, limit: Duration) -> bool {
        let Some(rx) = self.first.take() else { return true };
        matches!(tokio::time::timeout(limit, rx).await, Ok(Ok(())))
    }

    /// Reloads the configuration; on error the running one stays and the errors come back.
    pub async fn reload(&self) -> Result<(), Vec<String>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Control::Reload(tx)).map_err(|_| vec!["director not running".to_owned()])?;
        rx.await.map_err(|_| vec!["director not running".to_owned()])?
    }

    pub async fn status(&self) -> Vec<crate::director::engine::RealStatus> {
        self.handle().status().await
    }

    /// A handle that asks this director for its reals, to be awaited without holding whatever
    /// the director lives in.
    pub fn handle(&self) -> StatusHandle {
        StatusHandle(self.tx.clone())
    }

    /// Stops (clean stop: services with `cleanstop=yes` removed) and waits for the end.
    pub async fn stop(self) -> Result<(), String> {
        let _ = self.tx.send(Control::Stop);
        self.join.await.map_err(|e| e.to_string())?
    }

    /// Waits until the director ends by itself (it only does on a fatal error).
    pub async fn wait(&mut self) -> Result<(), String> {
        (&mut self.join).await.map_err(|e| e.to_string())?
    }
}

/// See [`Director::handle`].
#[derive(Clone)]
pub struct StatusHandle(mpsc::UnboundedSender<Control>);

impl StatusHandle {
    /// The reals' states; none when the director has stopped.
    pub async fn status(&self) -> Vec<crate::director::engine::RealStatus> {
        let (tx, rx) = oneshot::channel();
        if self.0.send(Control::Status(tx)).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

/// The engine clock: microseconds since the director started.
struct Clock(tokio::time::Instant);

impl Clock {
    fn now(&self) -> Instant {
        Instant::from_micros(self.0.elapsed().as_micros() as u64)
    }
    fn at(&self, t: Instant) -> tokio::time::Instant {
        self.0 + Duration::from_micros(t.0)
    }
}

/// The IPVS side: the backend, a mirror of what it holds, and what we manage.
struct Ipvs {
    backend: Box<dyn Backend + Send>,
    mirror: FakeIpvs,
    owned: HashSet<ServiceKey>,
    /// Destinations ever added by us, for `readdquiescent=no` (a quiesced real an operator
    /// removed is not put back).
    added: HashSet<(ServiceKey, crate::ipvs::model::DestKey)>,
    resync: bool,
}

impl Ipvs {
    fn sync(&mut self, desired: &Table, readdquiescent: bool, log: &Logger) -> bool {
        if self.resync {
            match self.backend.dump() {
                Ok(t) => {
                    self.mirror = FakeIpvs::with_table(t);
                    self.resync = false;
                }
                Err(e) => {
                    log.log(&format!("cannot read the IPVS table: {e}"));
                    return false;
                }
            }
        }
        let mut ops = crate::ipvs::diff::plan(desired, self.mirror.table(), &self.owned);
        if !readdquiescent {
            ops.retain(
                |op| !matches!(op, Op::AddDest { service, key, conf } if conf.weight == 0 && self.added.contains(&(*service, *key))),
            );
        }
        if ops.is_empty() {
            return true;
        }
        let report = crate::ipvs::apply_plan(self.backend.as_mut(), ops);
        for op in &report.applied {
            let _ = self.mirror.apply_one(op);
            if let Op::AddDest { service, key, .. } = op {
                self.added.insert((*service, *key));
            }
            log.log(&describe(op));
        }
        for (op, errno) in &report.failed {
            log.log(&format!("ipvsadm {op} failed: {errno}"));
        }
        if !report.failed.is_empty() {
            // Re-read the table and try again on the next pass (4.12 forgets failures).
            self.resync = true;
            return false;
        }
        true
    }
}

/// The log line 4.12 writes for a change, where operators grep for it.
fn describe(op: &Op) -> String {
    let vs = |k: &ServiceKey| match k {
        ServiceKey::Inet { addr, port, .. } => SockAddr(*addr, *port).to_string(),
        ServiceKey::Fwmark { mark, .. } => format!("fwmark {mark}"),
    };
    match op {
        Op::AddService { key, .. } => format!("Added virtual server: {}", vs(key)),
        Op::EditService { key, .. } => format!("Changed virtual server: {}", vs(key)),
        Op::DelService { key } => format!("Deleted virtual server: {}", vs(key)),
        Op::AddDest { service, key, conf } => {
            format!("Added real server: {} ({}) (Weight set to {})", SockAddr(key.addr, key.port), vs(service), conf.weight)
        }
        Op::EditDest { service, key, conf } if conf.weight == 0 => {
            format!("Quiescent real server: {} ({}) (Weight set to 0)", SockAddr(key.addr, key.port), vs(service))
        }
        Op::EditDest { service, key, conf } => {
            format!("Restored real server: {} ({}) (Weight set to {})", SockAddr(key.addr, key.port), vs(service), conf.weight)
        }
        Op::DelDest { service, key } => format!("Deleted real server: {} ({})", SockAddr(key.addr, key.port), vs(service)),
        Op::Flush => "Flushed the IPVS table".into(),
    }
}

/// Raises the open-file limit to its hard maximum; checks of many reals need many sockets.
fn raise_nofile() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 1024,
    }
}

fn digest(path: &Path) -> Option<(std::time::SystemTime, Vec<u8>)> {
    use md5::Digest;
    let meta = std::fs::metadata(path).ok()?;
    let bytes = std::fs::read(path).ok()?;
    Some((meta.modified().ok()?, md5::Md5::digest(&bytes).to_vec()))
}

#[allow(clippy::too_many_arguments)]
async fn run(
    config: PathBuf,
    farm: Farm,
    backend: Box<dyn Backend + Send>,
    log: Logger,
    mut ctl: mpsc::UnboundedReceiver<Control>,
    mut autoreload: bool,
    mut callback: Option<String>,
    status_file: Option<PathBuf>,
    first_tx: oneshot::Sender<()>,
    on_change: Option<Arc<tokio::sync::Notify>>,
) -> Result<(), String> {
    let mut first_tx = Some(first_tx);
    let clock = Clock(tokio::time::Instant::now());
    let nofile = raise_nofile();
    // Checks in flight at most: well under the descriptor limit, and few enough that a burst
    // (start-up, a reload) does not overflow the reals' accept queues (SYN retries cost 1 s).
    let limit = usize::try_from(nofile.saturating_sub(128) / 2).unwrap_or(1024).clamp(16, 1024);
    let sem = Arc::new(Semaphore::new(limit));
    let farm = Arc::new(farm);
    let mut engine = Engine::new(clock.now(), farm.clone());
    engine.set_hostname(&nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default());
    let mut ipvs = Ipvs { backend, mirror: FakeIpvs::new(), owned: engine.owned_keys(), added: HashSet::new(), resync: true };
    let (res_tx, mut res_rx) = mpsc::unbounded_channel::<(CheckId, Outcome)>();
    let mut maintenance = farm.maintenancedir.clone();
    let mut readd = farm.readdquiescent;
    let mut stale = false;
    let mut watch = digest(&config);
    let mut next_watch = tokio::time::Instant::now() + farm.checkinterval;
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut first_sync = Some(tokio::time::Instant::now() + farm.checkinterval.min(Duration::from_secs(1)));
    log.log(&format!("Starting heartbeat-rs ldirectord with pid: {} ({} checks)", std::process::id(), engine.active_checks()));
    let mut pending = engine.handle(clock.now(), Input::Tick);
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);
    loop {
        for a in pending.drain(..) {
            match a {
                Action::RunCheck { id, spec, probe, timeout } => {
                    let sem = sem.clone();
                    let tx = res_tx.clone();
                    let maintenance = maintenance.clone();
                    tokio::spawn(async move {
                        let Ok(_permit) = sem.acquire_owned().await else { return };
                        let outcome = match &maintenance {
                            Some(dir) if crate::checks::in_maintenance(dir, &spec) => Outcome::Maintenance,
                            _ => crate::checks::run(&spec, probe, timeout).await,
                        };
                        if let Some(m) = &spec.monitorfile {
                            monitor(m, &spec, &outcome);
                        }
                        let _ = tx.send((id, outcome));
                    });
                }
                Action::TableChanged => {
                    stale = true;
                    if let Some(n) = &on_change {
                        n.notify_waiters();
                    }
                }
                Action::RunFallbackCommand { command } => {
                    log.log(&format!("Running fallbackcommand: {command}"));
                    let _ = tokio::process::Command::new("/bin/sh").arg("-c").arg(&command).stdin(std::process::Stdio::null()).spawn();
                }
                Action::Log(m) => log.log(&m),
                Action::Alert { to, from, smtp, subject, body } => {
                    let log = log.clone();
                    tokio::spawn(async move {
                        let r = tokio::time::timeout(
                            Duration::from_secs(60),
                            send_mail(&to, from.as_deref(), smtp.as_deref(), &subject, &body),
                        )
                        .await;
                        match r {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => log.log(&format!("failed to send e-mail alert to {to}: {e}")),
                            Err(_) => log.log(&format!("failed to send e-mail alert to {to}: timed out")),
                        }
                    });
                }
            }
        }
        // The first table waits (briefly) for the first results, so a real that passes its first
        // check is added once at its weight rather than added at 0 and restored.
        let settled = first_sync.is_none_or(|t| engine.all_known() || tokio::time::Instant::now() >= t);
        if settled && first_sync.take().is_some() {
            stale = true;
        }
        if settled && (stale || retry_at.is_some_and(|t| t <= tokio::time::Instant::now())) {
            stale = false;
            retry_at = None;
            if !ipvs.sync(&engine.desired(), readd, &log) {
                retry_at = Some(tokio::time::Instant::now() + Duration::from_secs(1));
            }
            if let Some(tx) = first_tx.take() {
                let _ = tx.send(());
            }
        }
        let deadline = engine.next_deadline().map(|d| clock.at(d.at));
        let wake = [deadline, Some(next_watch), retry_at, first_sync]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        // One timer, moved only when the wake-up time changes (not re-armed per event).
        if sleep.deadline() != wake {
            sleep.as_mut().reset(wake);
        }
        tokio::select! {
            biased;
            c = ctl.recv() => match c {
                None | Some(Control::Stop) => break,
                Some(Control::Status(tx)) => { let _ = tx.send(engine.status()); }
                Some(Control::Reload(tx)) => {
                    let r = reload(&config, &log);
                    if let Ok((cfg, f)) = &r {
                        autoreload = cfg.globals.autoreload;
                        callback = cfg.globals.callback.clone();
                        maintenance = f.maintenancedir.clone();
                        readd = f.readdquiescent;
                        ipvs.owned.extend(f.virtuals.iter().map(|v| v.key));
                        watch = digest(&config);
                        pending = engine.handle(clock.now(), Input::Reconfigure(Arc::new(f.clone())));
                    }
                    let _ = tx.send(r.map(|_| ()));
                }
            },
            Some((id, outcome)) = res_rx.recv() => {
                pending = engine.handle(clock.now(), Input::CheckCompleted { id, outcome });
                // Take every result already waiting, so one reconcile covers them all.
                for _ in 0..4096 {
                    match res_rx.try_recv() {
                        Ok((id, outcome)) => pending.extend(engine.handle(clock.now(), Input::CheckCompleted { id, outcome })),
                        Err(_) => break,
                    }
                }
            }
            _ = &mut sleep => {
                if tokio::time::Instant::now() >= next_watch {
                    next_watch = tokio::time::Instant::now() + engine.farm().checkinterval;
                    if let Some(p) = &status_file {
                        let tmp = p.with_extension("tmp");
                        if std::fs::write(&tmp, status_json(&engine.status(), clock.now())).is_ok() {
                            let _ = std::fs::rename(&tmp, p);
                        }
                    }
                    let now_digest = digest(&config);
                    if now_digest.is_some() && now_digest != watch {
                        let changed = match (&watch, &now_digest) { (Some(a), Some(b)) => a.1 != b.1, _ => true };
                        watch = now_digest;
                        if changed {
                            if let Some(cb) = &callback {
                                let _ = tokio::process::Command::new("/bin/sh").arg("-c").arg(format!("{cb} {}", config.display())).spawn();
                            }
                            if autoreload {
                                log.log(&format!("Configuration file {} has changed on disk", config.display()));
                                if let Ok((cfg, f)) = reload(&config, &log) {
                                    autoreload = cfg.globals.autoreload;
                                    callback = cfg.globals.callback.clone();
                                    maintenance = f.maintenancedir.clone();
                                    readd = f.readdquiescent;
                                    ipvs.owned.extend(f.virtuals.iter().map(|v| v.key));
                                    pending = engine.handle(clock.now(), Input::Reconfigure(Arc::new(f)));
                                    continue;
                                }
                            } else {
                                log.log(&format!("Configuration file {} has changed on disk - ignore new configuration", config.display()));
                            }
                        }
                    }
                }
                pending = engine.handle(clock.now(), Input::Tick);
            }
        }
        // Services no longer configured and already deleted are no longer ours (only worth
        // looking at while a reload left extra keys).
        if ipvs.owned.len() > engine.farm().virtuals.len() && !stale {
            let current = engine.owned_keys();
            let mirror_keys: HashSet<ServiceKey> = ipvs.mirror.table().services.iter().map(|s| s.key).collect();
            ipvs.owned.retain(|k| current.contains(k) || mirror_keys.contains(k));
        }
    }
    if let Some(p) = &status_file {
        let _ = std::fs::remove_file(p);
    }
    // Clean stop: remove the services with cleanstop=yes, leave the others as they are.
    let keys = engine.cleanstop_keys();
    if !keys.is_empty() {
        ipvs.owned = keys;
        ipvs.sync(&Table::default(), true, &log);
    }
    log.log("Linux Director Daemon terminated on signal: TERM");
    Ok(())
}

/// Every real of every virtual as JSON: state, failures, seconds since the last check, and the
/// last check's message (the reason when down).
pub fn status_json(reals: &[crate::director::engine::RealStatus], now: Instant) -> String {
    format!("{{\"ldirectord\":{{\"pid\":{},\"reals\":{}}}}}\n", std::process::id(), reals_json(reals, Some(now)))
}

/// The reals as a JSON array; without the engine's clock (`now`), the age of the last check is null.
pub fn reals_json(reals: &[crate::director::engine::RealStatus], now: Option<Instant>) -> String {
    fn esc(s: &str) -> String {
        let mut o = String::with_capacity(s.len() + 2);
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o
    }
    let items: Vec<String> = reals
        .iter()
        .map(|r| {
            let ago = match (r.last_check, now) {
                (Some(t), Some(now)) => format!("{:.3}", now.since(t).as_secs_f64()),
                _ => "null".to_owned(),
            };
            format!(
                "{{\"virtual\":\"{}\",\"real\":\"{}\",\"state\":\"{}\",\"failures\":{},\"last_check_seconds_ago\":{ago},\"last_message\":\"{}\"}}",
                esc(&r.virtual_id),
                esc(&r.real),
                r.health.name(),
                r.failures,
                esc(&r.last_message)
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// Sends an alert: over SMTP to `smtp` (host[:port]) when set, else through the local sendmail.
async fn send_mail(to: &str, from: Option<&str>, smtp: Option<&str>, subject: &str, body: &[String]) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into());
    let from = from.map(str::to_owned).unwrap_or_else(|| format!("root@{host}"));
    let rcpts: Vec<&str> = to.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let message = format!("From: {from}\r\nTo: {}\r\nSubject: {subject}\r\n\r\n{}\r\n", rcpts.join(", "), body.join("\r\n"));
    let Some(server) = smtp else {
        let mut child = tokio::process::Command::new("/usr/sbin/sendmail")
            .arg("-t")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("sendmail: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(message.as_bytes()).await.map_err(|e| format!("sendmail: {e}"))?;
        }
        let st = child.wait().await.map_err(|e| format!("sendmail: {e}"))?;
        return if st.success() { Ok(()) } else { Err(format!("sendmail: {st}")) };
    };
    let addr = if server.contains(':') { server.to_owned() } else { format!("{server}:25") };
    let tcp = tokio::net::TcpStream::connect(&addr).await.map_err(|e| format!("{addr}: {e}"))?;
    let mut d = crate::checks::lines::Dialog::new(tcp);
    let step = |(code, line): (u16, String), ok: u16| if code / 100 == ok / 100 { Ok(()) } else { Err(line) };
    step(d.reply().await?, 220)?;
    d.send(&format!("HELO {host}\r\n")).await?;
    step(d.reply().await?, 250)?;
    d.send(&format!("MAIL FROM:<{from}>\r\n")).await?;
    step(d.reply().await?, 250)?;
    for r in &rcpts {
        d.send(&format!("RCPT TO:<{r}>\r\n")).await?;
        step(d.reply().await?, 250)?;
    }
    d.send("DATA\r\n").await?;
    step(d.reply().await?, 354)?;
    // Dot-stuffing: a line starting with "." gets another.
    let stuffed = message.replace("\r\n.", "\r\n..");
    d.send(&format!("{stuffed}.\r\n")).await?;
    step(d.reply().await?, 250)?;
    let _ = d.send("QUIT\r\n").await;
    Ok(())
}

fn reload(config: &Path, log: &Logger) -> Result<(ldirectord_cf::DirectorConfig, Farm), Vec<String>> {
    log.log("Reloading Linux Director Daemon config on signal");
    match load(config) {
        Ok((cfg, farm, warnings)) => {
            for w in warnings {
                log.log(&w);
            }
            Ok((cfg, farm))
        }
        Err(errors) => {
            for e in &errors {
                log.log(e);
            }
            log.log("Reload failed; keeping the running configuration");
            Err(errors)
        }
    }
}

/// One monitorfile line: `[date] [pid] <id> [up|down] message`, `%`, `|`, CR, LF encoded.
fn monitor(path: &str, spec: &crate::director::CheckSpec, outcome: &Outcome) {
    let (state, msg) = match outcome {
        Outcome::Up(m) => ("up", m.as_str()),
        Outcome::Down(m) => ("down", m.as_str()),
        Outcome::Maintenance => ("down", "maintenance"),
    };
    let enc: String = msg
        .chars()
        .map(|c| match c {
            '%' => "%25".to_owned(),
            '|' => "%7c".to_owned(),
            '\r' => "%0d".to_owned(),
            '\n' => "%0a".to_owned(),
            c => c.to_string(),
        })
        .collect();
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(
            f,
            "[{}] [{}] {} {} [{state}] {enc}",
            ctime(std::time::SystemTime::now()),
            std::process::id(),
            spec.key.addr,
            spec.key.port
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ctime_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(super::ctime(t), "Wed Nov 18 11:06:40 2026");
        assert_eq!(super::ctime(std::time::UNIX_EPOCH), "Thu Jan  1 00:00:00 1970");
    }
}
