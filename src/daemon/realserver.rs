//! `heartbeat realserver [--tun] [--iface IF]… start|stop|status VIP…`: the real-server side of
//! an LVS direct-routing (or tunnelling) setup, what the classic `lvsrs` scripts do. Each VIP goes
//! on `lo` as a host address (on `tunl0` with `--tun`), and the ARP sysctls keep the node from
//! answering ARP for it (`arp_ignore=1`, `arp_announce=2` on `all`, `lo` and every `--iface`;
//! with `--tun` also `rp_filter=0` on `tunl0` and `all`, as the LVS HOWTO says). The values found
//! before are saved in a state file and put back when the last VIP is stopped.
//!
//! The argument parser, the sysctl plan and the state file format are pure; the rest is a thin
//! layer over rtnetlink and `/proc/sys`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_STATE: &str = "/run/heartbeat-rs/realserver.state";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub tun: bool,
    pub ifaces: Vec<String>,
    pub action: Action,
    pub vips: Vec<IpAddr>,
}

pub const USAGE: &str = "usage: heartbeat realserver [--tun] [--iface IF]... start|stop|status VIP...";

/// Parses the arguments after `realserver`. VIPs may be left out of `stop` and `status` (then
/// those of the state file are meant).
pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut tun = false;
    let mut ifaces = Vec::new();
    let mut action = None;
    let mut vips = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--tun" => tun = true,
            "--iface" | "-i" => {
                let Some(i) = it.next() else { return Err("--iface needs an interface name".into()) };
                ifaces.push(valid_iface(i)?);
            }
            s if s.starts_with("--iface=") => ifaces.push(valid_iface(&s["--iface=".len()..])?),
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}")),
            s if action.is_none() => {
                action = Some(match s {
                    "start" => Action::Start,
                    "stop" => Action::Stop,
                    "status" | "monitor" => Action::Status,
                    other => return Err(format!("unknown action {other:?}; expected start, stop or status")),
                })
            }
            s => {
                let ip: IpAddr = s
                    .split('/')
                    .next()
                    .unwrap_or(s)
                    .parse()
                    .map_err(|_| format!("{s:?} is not an IP address; expected a VIP such as 192.0.2.10 or 2001:db8::10"))?;
                if tun && ip.is_ipv6() {
                    return Err(format!("{ip}: --tun carries IPv4 VIPs only (tunl0 is IPIP)"));
                }
                if !vips.contains(&ip) {
                    vips.push(ip);
                }
            }
        }
    }
    let Some(action) = action else { return Err("no action; expected start, stop or status".into()) };
    if action == Action::Start && vips.is_empty() {
        return Err("start needs at least one VIP".into());
    }
    Ok(Args { tun, ifaces, action, vips })
}

fn valid_iface(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 15 || s.contains(['/', ' ', '\0']) || s == "." || s == ".." {
        return Err(format!("{s:?} is not an interface name"));
    }
    Ok(s.to_owned())
}

/// The device a VIP goes on.
pub fn vip_device(tun: bool) -> &'static str {
    if tun { "tunl0" } else { "lo" }
}

/// The sysctls to set, as (path under /proc/sys/net/ipv4/conf, value), in order.
pub fn sysctl_plan(args: &Args) -> Vec<(String, String)> {
    let mut devs: Vec<&str> = vec!["all", "lo"];
    for i in &args.ifaces {
        if !devs.contains(&i.as_str()) {
            devs.push(i);
        }
    }
    let mut plan = Vec::new();
    for d in &devs {
        plan.push((format!("{d}/arp_ignore"), "1".to_owned()));
        plan.push((format!("{d}/arp_announce"), "2".to_owned()));
    }
    if args.tun {
        if !devs.contains(&"tunl0") {
            plan.push(("tunl0/arp_ignore".to_owned(), "1".to_owned()));
            plan.push(("tunl0/arp_announce".to_owned(), "2".to_owned()));
        }
        plan.push(("tunl0/rp_filter".to_owned(), "0".to_owned()));
        plan.push(("all/rp_filter".to_owned(), "0".to_owned()));
    }
    plan
}

/// What the state file remembers: the sysctl values found before the first start, and the VIPs
/// this command put up (device by VIP).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub saved: BTreeMap<String, String>,
    pub vips: BTreeMap<IpAddr, String>,
}

impl State {
    pub fn render(&self) -> String {
        let mut s = String::from("# heartbeat realserver state: sysctl values to restore, VIPs put up\n");
        for (k, v) in &self.saved {
            s.push_str(&format!("sysctl {k} {v}\n"));
        }
        for (ip, dev) in &self.vips {
            s.push_str(&format!("vip {ip} {dev}\n"));
        }
        s
    }

    /// Reads a state file; lines it does not understand are reported, not fatal to the others.
    pub fn parse(text: &str) -> (State, Vec<String>) {
        let mut st = State::default();
        let mut bad = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                ["sysctl", k, v] if valid_sysctl_key(k) => {
                    st.saved.insert((*k).to_owned(), (*v).to_owned());
                }
                ["vip", ip, dev] => match ip.parse::<IpAddr>() {
                    Ok(ip) if valid_iface(dev).is_ok() => {
                        st.vips.insert(ip, (*dev).to_owned());
                    }
                    _ => bad.push(format!("line {}: {l:?}", n + 1)),
                },
                _ => bad.push(format!("line {}: {l:?}", n + 1)),
            }
        }
        (st, bad)
    }

    /// Remembers the value found for `key`, unless an earlier start already did (the first
    /// value seen is the operator's; later ones are ours).
    pub fn remember(&mut self, key: &str, found: &str) {
        self.saved.entry(key.to_owned()).or_insert_with(|| found.to_owned());
    }
}

/// `DEV/NAME`, both plain names: a state file never makes us write outside /proc/sys/net/ipv4/conf.
fn valid_sysctl_key(k: &str) -> bool {
    let mut p = k.split('/');
    matches!((p.next(), p.next(), p.next()), (Some(d), Some(n), None)
        if valid_iface(d).is_ok() && !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Where the state lives: `$HEARTBEAT_RS_REALSERVER_STATE`, else [`DEFAULT_STATE`].
pub fn state_path() -> PathBuf {
    std::env::var_os("HEARTBEAT_RS_REALSERVER_STATE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_STATE))
}

/// The LSB verdict of `status`: 0 all there, 3 none, 1 partly.
pub fn status_code(vips_present: usize, vips: usize, sysctls_ok: bool) -> i32 {
    if vips > 0 && vips_present == vips && sysctls_ok {
        0
    } else if vips_present == 0 {
        3
    } else {
        1
    }
}

// ---- I/O ----

fn sysctl_file(key: &str) -> PathBuf {
    Path::new("/proc/sys/net/ipv4/conf").join(key)
}

fn read_sysctl(key: &str) -> Result<String, String> {
    std::fs::read_to_string(sysctl_file(key))
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("reading {}: {e}", sysctl_file(key).display()))
}

fn write_sysctl(key: &str, v: &str) -> Result<(), String> {
    std::fs::write(sysctl_file(key), format!("{v}\n")).map_err(|e| format!("writing {v} to {}: {e}", sysctl_file(key).display()))
}

fn load_state(path: &Path) -> Result<State, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => {
            let (st, bad) = State::parse(&t);
            for b in bad {
                eprintln!("realserver: {}: ignoring {b}", path.display());
            }
            Ok(st)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

fn save_state(path: &Path, st: &State) -> Result<(), String> {
    if st.saved.is_empty() && st.vips.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", path.display())),
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    // Write then rename: a crash never leaves half a state file (it holds the values to restore).
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, st.render()).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), path.display()))
}

fn host_addr(ip: IpAddr, dev: &str) -> Result<crate::daemon::resources::Addr, String> {
    let index = nix::net::if_::if_nametoindex(dev).map_err(|_| format!("interface {dev} does not exist"))?;
    Ok(crate::daemon::resources::Addr {
        ip,
        prefix: if ip.is_ipv4() { 32 } else { 128 },
        iface: dev.to_owned(),
        index,
        label: None,
        broadcast: None,
        mac: [0; 6],
        link: None,
        repeat: 0,
        interval: std::time::Duration::ZERO,
    })
}

/// tunl0 exists once the ipip module is loaded; load it if needed, then bring tunl0 up.
fn ensure_tunl0() -> Result<(), String> {
    if nix::net::if_::if_nametoindex("tunl0").is_err() {
        let st = std::process::Command::new("modprobe").arg("ipip").status().map_err(|e| format!("running modprobe ipip: {e}"))?;
        if !st.success() || nix::net::if_::if_nametoindex("tunl0").is_err() {
            return Err("tunl0 does not exist and modprobe ipip did not create it (no IPIP support in this kernel?)".into());
        }
    }
    link_up("tunl0")
}

/// RTM_NEWLINK setting IFF_UP on an interface.
fn link_up(dev: &str) -> Result<(), String> {
    let index = nix::net::if_::if_nametoindex(dev).map_err(|_| format!("interface {dev} does not exist"))?;
    crate::daemon::resources::netlink(&link_up_request(index)).map_err(|e| format!("bringing {dev} up: {e}"))
}

pub fn link_up_request(index: u32) -> Vec<u8> {
    const RTM_NEWLINK: u16 = 16;
    const IFF_UP: u32 = 1;
    let mut msg = Vec::with_capacity(32);
    msg.extend_from_slice(&32u32.to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&(1u16 | 4).to_ne_bytes()); // NLM_F_REQUEST | NLM_F_ACK
    msg.extend_from_slice(&3u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    // ifinfomsg: family, pad, type, index, flags, change.
    msg.extend_from_slice(&[0, 0, 0, 0]);
    msg.extend_from_slice(&(index as i32).to_ne_bytes());
    msg.extend_from_slice(&IFF_UP.to_ne_bytes());
    msg.extend_from_slice(&IFF_UP.to_ne_bytes());
    msg
}

/// Runs the command; the exit code (LSB for status).
pub fn run(argv: &[String]) -> i32 {
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("realserver: {e}");
            eprintln!("{USAGE}");
            return 2;
        }
    };
    let path = state_path();
    // One command at a time (the init script and the resource.d wrapper may run together): a
    // second start reading the state file before the first wrote it would record 1/2 as the
    // values found, and stop would then restore those.
    let _lock = match lock(&path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("realserver: {e}");
            return 1;
        }
    };
    let r = match args.action {
        Action::Start => start(&args, &path).map(|()| 0),
        Action::Stop => stop(&args, &path).map(|()| 0),
        Action::Status => status(&args, &path),
    };
    r.unwrap_or_else(|e| {
        eprintln!("realserver: {e}");
        1
    })
}

/// An exclusive lock on `STATE.lock`, held until dropped (waits for another command).
fn lock(state: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, String> {
    if let Some(dir) = state.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let path = state.with_extension("lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| format!("locking {}: {e}", path.display()))
}

fn start(args: &Args, path: &Path) -> Result<(), String> {
    for i in &args.ifaces {
        nix::net::if_::if_nametoindex(i.as_str()).map_err(|_| format!("interface {i} does not exist"))?;
    }
    if args.tun {
        ensure_tunl0()?;
    }
    let mut st = load_state(path)?;
    // Sysctls first (saved before changed), so that the VIP is never up while ARP would answer it.
    let plan = sysctl_plan(args);
    for (k, _) in &plan {
        let found = read_sysctl(k)?;
        st.remember(k, &found);
    }
    save_state(path, &st)?;
    for (k, v) in &plan {
        write_sysctl(k, v)?;
    }
    let dev = vip_device(args.tun);
    for &ip in &args.vips {
        let a = host_addr(ip, dev)?;
        match crate::daemon::resources::add_addr(&a) {
            Ok(()) => {
                st.vips.insert(ip, dev.to_owned());
                println!("realserver: {ip}/{} added to {dev}", a.prefix);
            }
            // There already: ours from an earlier start, or the operator's (then not ours to remove
            // on a stop without VIPs).
            Err(e) if e.contains("File exists") => {}
            Err(e) => {
                save_state(path, &st)?;
                return Err(e);
            }
        }
    }
    save_state(path, &st)
}

/// The VIPs a stop or status is about, with their devices: those named (on the device the state
/// file recorded, else the mode's), or with none named every VIP the state file lists.
fn targets(args: &Args, st: &State) -> Vec<(IpAddr, String)> {
    if args.vips.is_empty() {
        st.vips.iter().map(|(ip, d)| (*ip, d.clone())).collect()
    } else {
        args.vips.iter().map(|ip| (*ip, st.vips.get(ip).cloned().unwrap_or_else(|| vip_device(args.tun).to_owned()))).collect()
    }
}

fn stop(args: &Args, path: &Path) -> Result<(), String> {
    let mut st = load_state(path)?;
    for (ip, dev) in targets(args, &st) {
        if nix::net::if_::if_nametoindex(dev.as_str()).is_ok() {
            let a = host_addr(ip, &dev)?;
            match crate::daemon::resources::del_addr(&a) {
                Ok(()) => println!("realserver: {ip}/{} removed from {dev}", a.prefix),
                Err(e) if e.contains("assign requested address") => {}
                Err(e) => {
                    save_state(path, &st)?;
                    return Err(e);
                }
            }
        }
        st.vips.remove(&ip);
    }
    // The sysctls go back when no VIP of ours is left (ARP must stay suppressed while one is up).
    if st.vips.is_empty() {
        let mut failed = Vec::new();
        for (k, v) in std::mem::take(&mut st.saved) {
            // A device that went away took its settings with it.
            let dev = k.split('/').next().unwrap_or("");
            if dev != "all" && dev != "default" && nix::net::if_::if_nametoindex(dev).is_err() {
                continue;
            }
            if let Err(e) = write_sysctl(&k, &v) {
                failed.push(e);
                st.saved.insert(k, v);
            }
        }
        save_state(path, &st)?;
        if !failed.is_empty() {
            return Err(failed.join("; "));
        }
        return Ok(());
    }
    save_state(path, &st)
}

fn status(args: &Args, path: &Path) -> Result<i32, String> {
    let st = load_state(path)?;
    let vips = targets(args, &st);
    let mut present = 0;
    for (ip, dev) in &vips {
        if crate::daemon::resources::present_on(*ip, Some(dev))? {
            present += 1;
        } else {
            println!("realserver: {ip} is not on {dev}");
        }
    }
    let mut ok = true;
    let tun = args.tun || vips.iter().any(|(_, d)| d == "tunl0");
    for (k, want) in sysctl_plan(&Args { tun, ..args.clone() }) {
        match read_sysctl(&k) {
            Ok(v) if v == want => {}
            Ok(v) => {
                println!("realserver: {k} is {v}, expected {want}");
                ok = false;
            }
            Err(e) => {
                println!("realserver: {e}");
                ok = false;
            }
        }
    }
    let code = status_code(present, vips.len(), ok);
    println!(
        "{}",
        if code == 0 {
            "running"
        } else if code == 3 {
            "stopped"
        } else {
            "partly running"
        }
    );
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Args, String> {
        parse_args(&s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn arguments() {
        let a = p("start 10.0.0.10 2001:db8::10 10.0.0.10").unwrap();
        assert_eq!(a.action, Action::Start);
        assert!(!a.tun);
        assert_eq!(a.vips, vec!["10.0.0.10".parse::<IpAddr>().unwrap(), "2001:db8::10".parse().unwrap()]);
        let a = p("--tun --iface eth0 -i eth1 --iface=eth2 stop 10.0.0.10/32").unwrap();
        assert!(a.tun);
        assert_eq!(a.ifaces, ["eth0", "eth1", "eth2"]);
        assert_eq!(a.action, Action::Stop);
        assert!(p("stop").unwrap().vips.is_empty());
        assert_eq!(p("status").unwrap().action, Action::Status);
        for bad in [
            "",
            "start",
            "restart 10.0.0.1",
            "start nope",
            "--bogus start 1.2.3.4",
            "--iface",
            "--tun start 2001:db8::1",
            "start 1.2.3.4 --iface",
        ] {
            assert!(p(bad).is_err(), "{bad:?} accepted");
        }
        assert!(p("--iface a/b start 1.2.3.4").is_err());
    }

    #[test]
    fn plan_covers_all_lo_ifaces_and_tun() {
        let a = p("--iface eth0 --iface lo start 10.0.0.1").unwrap();
        let keys: Vec<String> = sysctl_plan(&a).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            keys,
            ["all/arp_ignore=1", "all/arp_announce=2", "lo/arp_ignore=1", "lo/arp_announce=2", "eth0/arp_ignore=1", "eth0/arp_announce=2"]
        );
        let t = sysctl_plan(&p("--tun start 10.0.0.1").unwrap());
        assert!(t.contains(&("tunl0/rp_filter".into(), "0".into())));
        assert!(t.contains(&("all/rp_filter".into(), "0".into())));
        assert_eq!(vip_device(true), "tunl0");
        assert_eq!(vip_device(false), "lo");
    }

    #[test]
    fn state_round_trip_keeps_first_values() {
        let mut st = State::default();
        st.remember("all/arp_ignore", "0");
        st.remember("all/arp_ignore", "1");
        st.vips.insert("10.0.0.1".parse().unwrap(), "lo".into());
        st.vips.insert("2001:db8::1".parse().unwrap(), "lo".into());
        assert_eq!(st.saved["all/arp_ignore"], "0");
        let (back, bad) = State::parse(&st.render());
        assert!(bad.is_empty());
        assert_eq!(back, st);
        let (junk, bad) = State::parse("sysctl ../../x 1\nsysctl all/arp_ignore 2\nvip nope lo\nvip 1.2.3.4 a/b\nwhat\n");
        assert_eq!(bad.len(), 4);
        assert_eq!(junk.saved.len(), 1);
        assert!(junk.vips.is_empty());
    }

    #[test]
    fn status_codes() {
        assert_eq!(status_code(2, 2, true), 0);
        assert_eq!(status_code(2, 2, false), 1);
        assert_eq!(status_code(1, 2, true), 1);
        assert_eq!(status_code(0, 2, true), 3);
        assert_eq!(status_code(0, 0, true), 3);
    }

    #[test]
    fn link_up_layout() {
        let m = link_up_request(7);
        assert_eq!(m.len(), 32);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 16);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 7);
    }
}
