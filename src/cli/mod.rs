//! Command line: the multi-call dispatcher and one function per applet. Parsing flags and
//! choosing exit codes only; no cluster logic here.
//!
//! The applet is argv[0]'s file name (`heartbeat`, `ldirectord`, `cl_status`, `hb_standby`,
//! `hb_takeover`, installed as links to one binary); under any other name, argv[1] names it
//! (`heartbeat ldirectord …` works too, busybox style).

mod check_config;
mod ecmp_config;
mod import;
mod ipvs;
mod ldirectord;
mod legacy;
mod man;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Applets reachable by argv[0] or as the first argument.
pub const APPLETS: &[&str] = &["heartbeat", "ldirectord", "cl_status", "hb_standby", "hb_takeover"];

/// Entry point for `main`.
pub fn dispatch(args: Vec<OsString>) -> ExitCode {
    let argv0 = args.first().map(|a| Path::new(a).file_name().unwrap_or(a.as_os_str()).to_string_lossy().into_owned()).unwrap_or_default();
    match argv0.as_str() {
        "cl_status" => ExitCode::from(crate::daemon::heartbeat::cl_status(&rest(&args, 1)) as u8),
        "hb_standby" | "hb_takeover" => standby_applet(&argv0, &rest(&args, 1)),
        "ldirectord" => ldirectord::run(rest(&args, 1)),
        _ => heartbeat(args),
    }
}

#[derive(Parser, Debug)]
#[command(name = "heartbeat", version, about = "heartbeat-rs: Linux-HA Heartbeat v1 and ldirectord, in one memory-safe binary")]
struct HeartbeatCli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormat {
    Heartbeat,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check ha.cf, haresources, authkeys and the ldirectord configurations haresources names.
    CheckConfig(check_config::Args),
    /// Translate another program's configuration: `import keepalived FILE [--output-dir DIR]`.
    Import(import::Args),
    /// Run the cluster daemon in the foreground.
    Run {
        /// Configuration directory.
        #[arg(long, default_value = "/etc/ha.d")]
        config_dir: PathBuf,
        /// Where hb_uuid and hb_generation live.
        #[arg(long, default_value = "/var/lib/heartbeat")]
        state_dir: PathBuf,
        /// This node's name (default: uname -n, lower-cased).
        #[arg(long)]
        node: Option<String>,
        /// The control socket cl_status talks to.
        #[arg(long, default_value = crate::daemon::heartbeat::DEFAULT_CTL)]
        ctl_socket: PathBuf,
        /// Log line format on stderr: Heartbeat's, or one JSON object a line.
        #[arg(long, value_enum, default_value = "heartbeat")]
        log_format: LogFormat,
        /// More debug output (repeatable), on top of ha.cf's `debug`.
        #[arg(short = 'd', action = clap::ArgAction::Count)]
        debug: u8,
        /// Self-fencing when a resource will not stop (default: $HEARTBEAT_RS_FENCE_CMD, else
        /// `reboot -nf` as Heartbeat 3.0.6 does).
        #[arg(long)]
        fence_command: Option<String>,
        /// Seconds one resource script call may take before it is killed.
        #[arg(long, default_value_t = 120)]
        resource_timeout: u64,
    },
    /// The running daemon's view: nodes, links, dropped-datagram counters.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// The control socket of the daemon.
        #[arg(long, default_value = crate::daemon::heartbeat::DEFAULT_CTL)]
        ctl_socket: PathBuf,
    },
    /// A built-in address agent (IPaddr, IPaddr2, IPv6addr, SendArp) by hand, with the stock
    /// scripts' arguments: `heartbeat resource IPaddr 10.0.0.1/24/eth0 start|stop|status`.
    Resource { agent: String, arg: String, action: String },
    /// The real-server side of LVS DR/TUN: `heartbeat realserver [--tun] [--iface IF]...
    /// start|stop|status VIP...` puts the VIPs on lo (tunl0) and sets the ARP sysctls; stop
    /// restores what it found. Exit codes: 0, 1 failed (status: partly running), 2 bad
    /// arguments, 3 stopped (status).
    #[command(disable_help_flag = true)]
    Realserver {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// The OSPF route-announcement resource by hand: `heartbeat ospfvip VIP[::AREA[::COST[::MIN_UP]]]
    /// start|stop|status` (VIP/32 on lo, announced through vtysh; no health gating outside the daemon).
    Ospfvip { arg: String, action: String },
    /// The FRR configuration a director (or, with --router, the upstream router) needs for the
    /// OSPFvip resources of haresources.
    EcmpConfig(ecmp_config::Args),
    /// The IPVS table: list it as ipvsadm does, or apply a saved table.
    Ipvs(ipvs::Args),
    /// The ldirectord applet (same as running the binary as `ldirectord`).
    #[command(disable_help_flag = true)]
    Ldirectord {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// The cl_status applet.
    #[command(name = "cl_status", disable_help_flag = true)]
    ClStatus {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// The hb_standby applet.
    #[command(name = "hb_standby", disable_help_flag = true)]
    HbStandby {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// The hb_takeover applet.
    #[command(name = "hb_takeover", disable_help_flag = true)]
    HbTakeover {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Write the manual pages (heartbeat.8, heartbeat-SUBCOMMAND.8) into DIR (for packaging).
    #[command(name = "generate-man", hide = true)]
    GenerateMan { dir: PathBuf },
}

fn heartbeat(args: Vec<OsString>) -> ExitCode {
    // No argument, or Heartbeat 3.0.6's own flags (-k, -r, -s, …): the legacy daemon command.
    if args.len() == 1
        || args.get(1).is_some_and(|a| a.to_string_lossy().starts_with('-') && !a.to_string_lossy().starts_with("--") && a != "-h")
    {
        return legacy::run(&args);
    }
    // `import` reports usage errors with exit 2 (its 1 means "keepalived refuses the file").
    let usage_code = if args.get(1).is_some_and(|a| a == "import") { 2 } else { 1 };
    let cli = match HeartbeatCli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { usage_code } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Some(Command::CheckConfig(a)) => check_config::run(a),
        Some(Command::Import(a)) => import::run(a),
        Some(Command::Run { config_dir, state_dir, node, ctl_socket, log_format, debug, fence_command, resource_timeout }) => {
            let opts = crate::daemon::heartbeat::Options {
                fence_cmd: fence_command.unwrap_or_else(default_fence),
                rsc_timeout: std::time::Duration::from_secs(resource_timeout),
                node: String::new(),
                state_dir,
                ctl: ctl_socket,
                stderr: true,
                log_format: match log_format {
                    LogFormat::Heartbeat => crate::daemon::logging::Format::Heartbeat,
                    LogFormat::Json => crate::daemon::logging::Format::Json,
                },
                debug: u32::from(debug),
                notes: Vec::new(),
                ready: Some(Box::new(crate::daemon::notify::ready)),
            };
            run(&config_dir, node, opts)
        }
        Some(Command::Ipvs(a)) => ipvs::run(a),
        Some(Command::Realserver { args }) => {
            let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
            if args.iter().any(|a| a == "--help" || a == "-h") {
                println!("{}", crate::daemon::realserver::USAGE);
                return ExitCode::SUCCESS;
            }
            ExitCode::from(crate::daemon::realserver::run(&args) as u8)
        }
        Some(Command::Status { json, ctl_socket }) => {
            let mut args = vec!["status".to_owned()];
            if json {
                args.push("--json".into());
            }
            ExitCode::from(crate::daemon::heartbeat::ask(&ctl_socket, &args) as u8)
        }
        Some(Command::Ospfvip { arg, action }) => ExitCode::from(crate::daemon::ecmp::run_by_hand(&arg, &action) as u8),
        Some(Command::EcmpConfig(a)) => ecmp_config::run(a),
        Some(Command::Resource { agent, arg, action }) if agent == "OSPFvip" => {
            ExitCode::from(crate::daemon::ecmp::run_by_hand(&arg, &action) as u8)
        }
        Some(Command::Resource { agent, arg, action }) => {
            if !matches!(agent.as_str(), "IPaddr" | "IPaddr2" | "IPv6addr" | "SendArp") {
                eprintln!("heartbeat resource: {agent} is not a built-in agent; expected IPaddr, IPaddr2, IPv6addr or SendArp");
                return ExitCode::from(2);
            }
            ExitCode::from(crate::daemon::resources::run_by_hand(&agent, &arg, &action) as u8)
        }
        Some(Command::Ldirectord { args }) => ldirectord::run(args.iter().map(|a| a.to_string_lossy().into_owned()).collect()),
        Some(Command::ClStatus { args }) => {
            let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
            ExitCode::from(crate::daemon::heartbeat::cl_status(&args) as u8)
        }
        Some(Command::HbStandby { args }) => {
            standby_applet("hb_standby", &args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>())
        }
        Some(Command::HbTakeover { args }) => {
            standby_applet("hb_takeover", &args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>())
        }
        Some(Command::GenerateMan { dir }) => man::generate(HeartbeatCli::command(), &dir),
        None => legacy::run(&[]),
    }
}

/// The self-fencing command: $HEARTBEAT_RS_FENCE_CMD, else `reboot -nf` as Heartbeat 3.0.6 does.
pub fn default_fence() -> String {
    std::env::var("HEARTBEAT_RS_FENCE_CMD").unwrap_or_else(|_| "reboot -nf".to_owned())
}

/// `hb_standby [all|foreign|local|failback]` / `hb_takeover [...]`, as the 3.0.6 scripts: the
/// request goes to the running daemon, which negotiates with the peer; they return at once.
fn standby_applet(name: &str, args: &[String]) -> ExitCode {
    let usage = || {
        eprintln!("usage:\n{name} [all|foreign|local|failback]");
        ExitCode::from(1)
    };
    if args.len() > 1 {
        eprintln!("{name}: too many arguments");
        return usage();
    }
    let class = match args.first().map(String::as_str).unwrap_or("all") {
        c @ ("all" | "foreign" | "local") => c,
        // failback: go standby for the peer's groups / take back our own.
        "failback" if name == "hb_standby" => "foreign",
        "failback" => "local",
        "--help" | "-h" => return usage(),
        other => {
            eprintln!("{name}: wrong resources({other}).");
            return usage();
        }
    };
    ExitCode::from(crate::daemon::heartbeat::cl_status(&[name.to_owned(), class.to_owned()]) as u8)
}

fn rest(args: &[OsString], from: usize) -> Vec<String> {
    args.iter().skip(from).map(|a| a.to_string_lossy().into_owned()).collect()
}

/// `heartbeat run`: membership over the configured UDP media (resources come with the failover
/// work); refuses what it cannot run.
fn run(dir: &Path, node: Option<String>, mut opts: crate::daemon::heartbeat::Options) -> ExitCode {
    let Some(cfg) = load_for_run(dir) else {
        return ExitCode::from(1);
    };
    let node =
        node.or_else(|| nix::unistd::gethostname().ok().map(|h| h.to_string_lossy().into_owned())).unwrap_or_default().to_ascii_lowercase();
    opts.node = node;
    match crate::daemon::heartbeat::run(cfg, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heartbeat: {e}");
            ExitCode::from(1)
        }
    }
}

/// Loads the configuration for a daemon start, printing warnings and errors; `None` refuses.
fn load_for_run(dir: &Path) -> Option<crate::config::load::HaConfig> {
    let cfg = match crate::config::load::load_dir(dir) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("{w}");
            }
            c.value
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("heartbeat: configuration in {} has errors; not starting", dir.display());
            return None;
        }
    };
    if cfg.ha_cf.crm != crate::config::ha_cf::Crm::Off {
        eprintln!(
            "heartbeat: {}/ha.cf turns crm (pacemaker) on; heartbeat-rs runs Heartbeat v1 resource management (haresources) only and does not run the CRM. Set \"crm off\" (or remove the line) to use haresources.",
            dir.display()
        );
        return None;
    }
    Some(cfg)
}
