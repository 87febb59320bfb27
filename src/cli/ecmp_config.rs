//! `heartbeat ecmp-config`: the FRR configuration (frr.conf style) an active-active director
//! needs for the `OSPFvip` resources of its haresources, or with `--router` the upstream
//! router's side. The VIP networks themselves are left to heartbeat-rs, which adds and removes
//! them through vtysh as the directors' health changes.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::ospfvip::OspfVip;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory holding ha.cf, haresources and authkeys.
    #[arg(long, default_value = "/etc/ha.d")]
    config_dir: PathBuf,
    /// Add BFD (bfdd, 100 ms × 3) to the OSPF interfaces: a crashed director leaves in ~300 ms.
    #[arg(long)]
    bfd: bool,
    /// Print the upstream router's side (ECMP over the directors) instead of a director's.
    #[arg(long)]
    router: bool,
    /// OSPF interfaces as NAME=ADDRESS/PREFIX (repeatable); default: this host's IPv4 interfaces.
    #[arg(long = "interface", value_name = "NAME=ADDRESS/PREFIX")]
    interfaces: Vec<String>,
    /// Router id; default: the first interface's address.
    #[arg(long)]
    router_id: Option<Ipv4Addr>,
    /// OSPF hello interval, seconds.
    #[arg(long, default_value_t = 1)]
    hello: u32,
    /// OSPF dead interval, seconds.
    #[arg(long, default_value_t = 3)]
    dead: u32,
    /// The OSPF links are point-to-point (one director per router port: no DR election, adjacency
    /// in about a second).
    #[arg(long)]
    point_to_point: bool,
    /// Equal-cost paths the router installs (--router).
    #[arg(long, default_value_t = 16)]
    maximum_paths: u32,
}

struct Iface {
    name: String,
    addr: Ipv4Addr,
    prefix: u8,
}

fn parse_iface(s: &str) -> Result<Iface, String> {
    let bad = || format!("--interface {s:?}: expected NAME=ADDRESS/PREFIX, as eth0=10.9.1.2/24");
    let (name, rest) = s.split_once('=').ok_or_else(bad)?;
    let (addr, prefix) = rest.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32).ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok(Iface { name: name.to_owned(), addr, prefix })
}

fn host_ifaces(vips: &[Ipv4Addr]) -> Vec<Iface> {
    let Ok(ifs) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    let mut out = Vec::new();
    for i in ifs {
        let (Some(a), Some(m)) =
            (i.address.and_then(|a| a.as_sockaddr_in().map(|s| s.ip())), i.netmask.and_then(|m| m.as_sockaddr_in().map(|s| s.ip())))
        else {
            continue;
        };
        if a.is_loopback() || vips.contains(&a) || i.interface_name == "lo" {
            continue;
        }
        out.push(Iface { name: i.interface_name.clone(), addr: a, prefix: u32::from(m).leading_ones() as u8 });
    }
    out
}

fn subnet(i: &Iface) -> String {
    let mask = crate::daemon::ecmp::netmask(u32::from(i.prefix));
    format!("{}/{}", Ipv4Addr::from(u32::from(i.addr) & mask), i.prefix)
}

pub fn run(args: Args) -> ExitCode {
    let cfg = match crate::config::load::load_dir(&args.config_dir) {
        Ok(c) => c.value,
        Err(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
            return ExitCode::from(1);
        }
    };
    let mut vips: Vec<OspfVip> = Vec::new();
    for r in cfg.haresources.iter().flat_map(|g| &g.resources).filter(|r| r.agent == "OSPFvip") {
        // check-config passed: the arguments parse.
        if let Ok(o) = crate::config::ospfvip::parse(&r.args) {
            if !vips.iter().any(|v| v.vip == o.vip) {
                vips.push(o);
            }
        }
    }
    if vips.is_empty() {
        eprintln!(
            "{}: no OSPFvip resource; expected one such as OSPFvip::10.0.0.100 after an ldirectord:: resource",
            args.config_dir.join("haresources").display()
        );
        return ExitCode::from(1);
    }
    let ifaces = if args.interfaces.is_empty() {
        host_ifaces(&vips.iter().map(|v| v.vip).collect::<Vec<_>>())
    } else {
        match args.interfaces.iter().map(|s| parse_iface(s)).collect::<Result<Vec<_>, _>>() {
            Ok(v) => v,
            Err(e) => {
                eprintln!("heartbeat ecmp-config: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let Some(router_id) = args.router_id.or_else(|| ifaces.first().map(|i| i.addr)) else {
        eprintln!("heartbeat ecmp-config: no IPv4 interface to run OSPF on; give --interface NAME=ADDRESS/PREFIX");
        return ExitCode::from(1);
    };
    if args.hello == 0 || args.dead <= args.hello {
        eprintln!("heartbeat ecmp-config: --dead ({}) must be longer than --hello ({}), which must not be 0", args.dead, args.hello);
        return ExitCode::from(2);
    }
    print!("{}", render(&args, &vips, &ifaces, router_id));
    ExitCode::SUCCESS
}

fn render(args: &Args, vips: &[OspfVip], ifaces: &[Iface], router_id: Ipv4Addr) -> String {
    let area = &vips[0].area;
    let mut o = String::new();
    let who = if args.router { "the upstream router (ECMP over the directors)" } else { "an active-active director" };
    let _ = writeln!(o, "! FRR configuration for {who}, by heartbeat ecmp-config");
    let _ = writeln!(o, "! /etc/frr/daemons: ospfd=yes{}", if args.bfd { ", bfdd=yes" } else { "" });
    let _ = writeln!(o, "frr defaults traditional");
    let _ = writeln!(o, "!");
    if args.bfd {
        let _ =
            writeln!(o, "bfd\n profile ecmp\n  detect-multiplier 3\n  receive-interval 100\n  transmit-interval 100\n exit\n !\nexit\n!");
    }
    for i in ifaces {
        let _ = writeln!(o, "interface {}", i.name);
        let _ = writeln!(o, " ip ospf hello-interval {}", args.hello);
        let _ = writeln!(o, " ip ospf dead-interval {}", args.dead);
        // An LSA instance the neighbour dropped (arrived within min-arrival of the previous
        // one) is sent again after this, not FRR's default 5 s.
        let _ = writeln!(o, " ip ospf retransmit-interval 1");
        if args.point_to_point {
            let _ = writeln!(o, " ip ospf network point-to-point");
        }
        if args.bfd {
            let _ = writeln!(o, " ip ospf bfd\n ip ospf bfd profile ecmp");
        }
        let _ = writeln!(o, "exit\n!");
    }
    let cost = vips.iter().find_map(|v| v.cost);
    if !args.router {
        if let Some(c) = cost {
            let _ = writeln!(o, "interface lo\n ip ospf cost {c}\nexit\n!");
        }
    }
    let _ = writeln!(o, "router ospf");
    let _ = writeln!(o, " ospf router-id {router_id}");
    // FRR's defaults hold a new router-LSA back up to 5 s after the previous one and run SPF
    // up to 10 s apart under churn: a director that comes back would wait that long. Arrivals
    // are accepted faster than a director originates (50 < 100 ms), else a restarted ospfd's
    // quick second instance is dropped and waits out a 5 s retransmission.
    let _ = writeln!(o, " timers throttle lsa all 100");
    let _ = writeln!(o, " timers throttle spf 0 50 1000");
    let _ = writeln!(o, " timers lsa min-arrival 50");
    if args.router {
        let _ = writeln!(o, " maximum-paths {}", args.maximum_paths);
    }
    for i in ifaces {
        let _ = writeln!(o, " network {} area {area}", subnet(i));
        // ospfd enables OSPF on every address a network line holds, the VIP on lo too: it would
        // then be announced whatever its health, and withdrawing it would do nothing.
        for v in vips.iter().filter(|v| !args.router && crate::daemon::ecmp::contains(i.addr, u32::from(i.prefix), v.vip)) {
            let _ = writeln!(o, " ! WARNING: {} is inside {}: it would be announced whatever its health", v.vip, subnet(i));
            eprintln!(
                "heartbeat ecmp-config: warning: VIP {} is inside {} ({}): OSPF would announce it whatever its health; \
                 use a VIP outside the directors' OSPF networks",
                v.vip,
                subnet(i),
                i.name
            );
        }
    }
    for v in vips {
        if args.router {
            let _ = writeln!(o, " ! {}/32 arrives from every healthy director", v.vip);
        } else {
            let _ =
                writeln!(o, " ! network {}/32 area {}   <- added and removed by heartbeat-rs (OSPFvip) as health changes", v.vip, v.area);
        }
    }
    let _ = writeln!(o, "exit\n!");
    o
}
