//! Conformance: the same operation scripts against the in-memory fake and, inside the VM tier
//! (`HBRS_IN_VM=1`, real IPVS), against the kernel. Results (applied or errno, per operation)
//! and the resulting tables must be identical, so the fake can stand in for the kernel in every
//! other test. In the VM, our `ipvsadm -Ln` rendering is also compared with the real ipvsadm.

use std::collections::HashSet;
use std::net::IpAddr;

use heartbeat_rs::ipvs::diff::{Op, plan};
use heartbeat_rs::ipvs::fake::FakeIpvs;
use heartbeat_rs::ipvs::listing::{self, ListMode};
use heartbeat_rs::ipvs::model::{DestConf, DestKey, Forward, Protocol, ServiceConf, ServiceKey, Table, flags};
use heartbeat_rs::ipvs::{Backend, Errno};

fn ipvsadm(args: &[&str]) -> String {
    let out = std::process::Command::new("ipvsadm").args(args).output().expect("ipvsadm in the VM");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Inet { protocol: Protocol::Tcp, addr: addr.parse().unwrap(), port }
}

fn dest(addr: &str, port: u16) -> DestKey {
    DestKey { addr: addr.parse::<IpAddr>().unwrap(), port }
}

fn conf(forward: Forward, weight: u32) -> DestConf {
    DestConf { forward, weight, upper_threshold: 0, lower_threshold: 0 }
}

fn persistent(sched: &str, ipv6: bool, timeout: u32, netmask: u32) -> ServiceConf {
    ServiceConf { flags: flags::PERSISTENT, timeout, netmask, ..ServiceConf::new(sched, ipv6) }
}

/// Named scripts of operations; each starts from an empty table.
fn scripts() -> Vec<(&'static str, Vec<Op>)> {
    let s1 = tcp("10.1.0.1", 80);
    let v6 = ServiceKey::Inet { protocol: Protocol::Udp, addr: "2001:db8::1".parse().unwrap(), port: 53 };
    let sctp = ServiceKey::Inet { protocol: Protocol::Sctp, addr: "10.1.0.3".parse().unwrap(), port: 3868 };
    let fw4 = ServiceKey::Fwmark { ipv6: false, mark: 5 };
    let fw6 = ServiceKey::Fwmark { ipv6: true, mark: 6 };
    vec![
        (
            "service and destination life cycle",
            vec![
                Op::AddService { key: s1, conf: ServiceConf::new("wrr", false) },
                Op::AddDest { service: s1, key: dest("10.1.1.1", 80), conf: conf(Forward::Route, 3) },
                Op::AddDest { service: s1, key: dest("10.1.1.2", 8080), conf: conf(Forward::Masq, 1) },
                Op::EditDest { service: s1, key: dest("10.1.1.1", 80), conf: conf(Forward::Route, 0) },
                Op::EditService { key: s1, conf: persistent("wlc", false, 600, 0xffff_ff00) },
                Op::DelDest { service: s1, key: dest("10.1.1.2", 8080) },
            ],
        ),
        (
            "the errors the kernel gives",
            vec![
                Op::AddService { key: s1, conf: ServiceConf::new("rr", false) },
                Op::AddService { key: s1, conf: ServiceConf::new("rr", false) },
                Op::AddService { key: tcp("10.1.0.9", 80), conf: ServiceConf::new("nosuchsched", false) },
                Op::AddDest { service: tcp("10.1.0.2", 80), key: dest("10.1.1.1", 80), conf: conf(Forward::Route, 1) },
                Op::AddDest { service: s1, key: dest("10.1.1.1", 80), conf: conf(Forward::Route, 1) },
                Op::AddDest { service: s1, key: dest("10.1.1.1", 80), conf: conf(Forward::Route, 1) },
                Op::EditDest { service: s1, key: dest("10.1.1.9", 80), conf: conf(Forward::Route, 1) },
                Op::DelDest { service: s1, key: dest("10.1.1.9", 80) },
                Op::DelService { key: tcp("10.1.0.2", 80) },
                Op::EditService { key: tcp("10.1.0.2", 80), conf: ServiceConf::new("rr", false) },
            ],
        ),
        (
            "the kernel keeps a direct routing port (ipvsadm rewrites it, not the kernel)",
            vec![
                Op::AddService { key: s1, conf: ServiceConf::new("wrr", false) },
                Op::AddDest { service: s1, key: dest("10.1.1.1", 8080), conf: conf(Forward::Route, 1) },
                Op::AddDest { service: s1, key: dest("10.1.1.2", 8081), conf: conf(Forward::Tunnel, 2) },
                Op::EditDest { service: s1, key: dest("10.1.1.1", 80), conf: conf(Forward::Route, 5) },
            ],
        ),
        (
            "thresholds",
            vec![
                Op::AddService { key: s1, conf: ServiceConf::new("wlc", false) },
                Op::AddDest {
                    service: s1,
                    key: dest("10.1.1.1", 80),
                    conf: DestConf { upper_threshold: 10, lower_threshold: 2, ..conf(Forward::Masq, 1) },
                },
                Op::AddDest {
                    service: s1,
                    key: dest("10.1.1.2", 80),
                    conf: DestConf { upper_threshold: 2, lower_threshold: 10, ..conf(Forward::Masq, 1) },
                },
                Op::AddDest {
                    service: s1,
                    key: dest("10.1.1.3", 80),
                    conf: DestConf { upper_threshold: 0, lower_threshold: 5, ..conf(Forward::Masq, 1) },
                },
            ],
        ),
        (
            "families, protocols and marks",
            vec![
                Op::AddService { key: v6, conf: persistent("sh", true, 300, 64) },
                Op::AddDest { service: v6, key: dest("2001:db8::2", 53), conf: conf(Forward::Masq, 1) },
                Op::AddDest { service: v6, key: dest("10.1.1.1", 53), conf: conf(Forward::Masq, 1) },
                Op::AddService { key: sctp, conf: ServiceConf::new("rr", false) },
                Op::AddService { key: fw4, conf: persistent("wrr", false, 300, 0xffff_ffff) },
                Op::AddDest { service: fw4, key: dest("10.1.1.1", 0), conf: conf(Forward::Route, 1) },
                Op::AddService { key: fw6, conf: ServiceConf::new("rr", true) },
                Op::AddDest { service: fw6, key: dest("2001:db8::3", 0), conf: conf(Forward::Route, 1) },
                Op::DelService { key: sctp },
            ],
        ),
    ]
}

/// Expected per-operation outcomes on the kernel, where the test pins them down.
fn expected(name: &str) -> Option<Vec<Result<(), Errno>>> {
    let ok = Ok(());
    match name {
        "the errors the kernel gives" => Some(vec![
            ok,
            Err(Errno::EEXIST),
            Err(Errno::ENOENT),
            Err(Errno::ESRCH),
            ok,
            Err(Errno::EEXIST),
            Err(Errno::ENOENT),
            Err(Errno::ENOENT),
            Err(Errno::ESRCH),
            Err(Errno::ESRCH),
        ]),
        // The kernel refuses a lower threshold above the upper one even when the upper is 0.
        "thresholds" => Some(vec![ok, ok, Err(Errno::ERANGE), Err(Errno::ERANGE)]),
        _ => None,
    }
}

fn run(backend: &mut dyn Backend, ops: &[Op]) -> (Vec<Result<(), Errno>>, Table) {
    let flush = backend.apply(&[Op::Flush]);
    assert_eq!(flush, vec![Ok(())], "flush");
    let results = backend.apply(ops);
    let table = backend.dump().expect("dump").canonical();
    (results, table)
}

#[test]
fn fake_gives_the_kernels_answers() {
    for (name, ops) in scripts() {
        let (results, _) = run(&mut FakeIpvs::new(), &ops);
        if let Some(want) = expected(name) {
            assert_eq!(results, want, "{name}");
        }
    }
}

#[test]
fn plan_converges_on_the_fake() {
    for (name, ops) in scripts() {
        let mut fake = FakeIpvs::new();
        fake.apply(&ops);
        let desired = fake.table().clone();
        let owned: HashSet<ServiceKey> = desired.services.iter().map(|s| s.key).collect();
        let mut other = FakeIpvs::new();
        let first = plan(&desired, other.table(), &owned);
        let results = other.apply(&first);
        assert!(results.iter().all(Result::is_ok), "{name}: {results:?}");
        // Desired state is kept as ipvsadm would write it (DR/TUN ports = the service port).
        let mut expected_table = desired.clone();
        for svc in &mut expected_table.services {
            let copy = svc.clone();
            for d in &mut svc.dests {
                d.key = copy.ipvsadm_dest_key(d.key, d.conf.forward);
            }
        }
        assert_eq!(other.table().canonical(), expected_table.canonical(), "{name}");
        assert!(plan(&desired, other.table(), &owned).is_empty(), "{name}: a second plan is not empty");
    }
}

/// The kernel, inside the VM tier only (the host kernel has no IPVS); elsewhere says it skips.
fn vm_kernel(test: &str) -> Option<heartbeat_rs::ipvs::kernel::KernelIpvs> {
    if std::env::var_os("HBRS_IN_VM").is_none() {
        eprintln!("SKIPPED {test}: not in the VM tier (HBRS_IN_VM unset)");
        return None;
    }
    Some(heartbeat_rs::ipvs::kernel::KernelIpvs::open().expect("IPVS netlink family"))
}

#[test]
fn kernel_matches_the_fake() {
    let Some(mut kernel) = vm_kernel("kernel_matches_the_fake") else { return };
    let mut failures = Vec::new();
    for (name, ops) in scripts() {
        let (k_results, k_table) = run(&mut kernel, &ops);
        let (f_results, f_table) = run(&mut FakeIpvs::new(), &ops);
        if k_results != f_results {
            failures.push(format!("{name}: kernel {k_results:?}\n  fake   {f_results:?}"));
        }
        if k_table != f_table {
            failures.push(format!("{name}: tables differ\n  kernel {k_table:?}\n  fake   {f_table:?}"));
        }
        if let Some(want) = expected(name) {
            if k_results != want {
                failures.push(format!("{name}: kernel {k_results:?}, expected {want:?}"));
            }
        }
        // The real ipvsadm is the independent witness of our rendering.
        let (version, size) = kernel.info().expect("GET_INFO");
        let ours = listing::list(&kernel.dump().expect("dump"), version, size, ListMode::Plain);
        let theirs = ipvsadm(&["-Ln"]);
        if ours != theirs {
            failures.push(format!("{name}: ipvsadm -Ln differs\n--- ipvsadm\n{theirs}--- ours\n{ours}"));
        }
        let ours = listing::list(&kernel.dump().expect("dump"), version, size, ListMode::Thresholds);
        let theirs = ipvsadm(&["-Ln", "--thresholds"]);
        if ours != theirs {
            failures.push(format!("{name}: ipvsadm -Ln --thresholds differs\n--- ipvsadm\n{theirs}--- ours\n{ours}"));
        }
        for (mode, flag) in [(ListMode::Stats, "--stats"), (ListMode::Rate, "--rate")] {
            let ours = listing::list(&kernel.dump().expect("dump"), version, size, mode);
            let theirs = ipvsadm(&["-Ln", flag]);
            if ours != theirs {
                failures.push(format!("{name}: ipvsadm -Ln {flag} differs\n--- ipvsadm\n{theirs}--- ours\n{ours}"));
            }
        }
        let (ours, theirs) = (listing::save(&kernel.dump().expect("dump")), ipvsadm(&["-Sn"]));
        if ours != theirs {
            failures.push(format!("{name}: ipvsadm -Sn differs\n--- ipvsadm\n{theirs}--- ours\n{ours}"));
        }
        println!("conformance: {name}: {} operations, kernel and fake agree: {}", ops.len(), k_results == f_results && k_table == f_table);
    }
    kernel.apply(&[Op::Flush]);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Timeouts and the connection sync daemon, checked with the real ipvsadm (VM tier only).
#[test]
fn kernel_timeouts_and_sync_daemon() {
    use heartbeat_rs::ipvs::genl::{SyncRole, Timeouts};
    let Some(mut kernel) = vm_kernel("kernel_timeouts_and_sync_daemon") else { return };
    kernel.set_timeouts(Timeouts { tcp: 901, tcp_fin: 121, udp: 301 }).expect("set timeouts");
    assert_eq!(ipvsadm(&["-L", "--timeout"]).trim(), "Timeout (tcp tcpfin udp): 901 121 301");
    kernel.sync_daemon(true, SyncRole::Master, "lo", 7).expect("start the sync daemon");
    let daemons = ipvsadm(&["-L", "--daemon"]);
    assert!(daemons.contains("master sync daemon (mcast=lo, syncid=7"), "{daemons}");
    kernel.sync_daemon(false, SyncRole::Master, "lo", 7).expect("stop the sync daemon");
    assert!(!ipvsadm(&["-L", "--daemon"]).contains("master"));

    // Every NEW_DAEMON attribute (lvs_sync_daemon's options), read back by ipvsadm and by our
    // GET_DAEMON decoder; the backup with the kernel's defaults.
    use heartbeat_rs::ipvs::Backend;
    use heartbeat_rs::ipvs::model::SyncDaemon;
    let master = SyncDaemon {
        role: SyncRole::Master,
        iface: "lo".into(),
        syncid: 9,
        maxlen: Some(1400),
        group: Some("224.0.0.82".parse().unwrap()),
        port: Some(8850),
        ttl: Some(2),
    };
    kernel.start_daemon(&master).expect("start a master with every option");
    assert_eq!(kernel.start_daemon(&master), Err(heartbeat_rs::ipvs::Errno::EEXIST), "a second master");
    let backup = SyncDaemon { role: SyncRole::Backup, iface: "lo".into(), syncid: 9, maxlen: None, group: None, port: None, ttl: None };
    kernel.start_daemon(&backup).expect("start a backup with the defaults");
    let theirs = ipvsadm(&["-L", "--daemon"]);
    assert!(theirs.contains("master sync daemon (mcast=lo, syncid=9, maxlen=1400, group=224.0.0.82, port=8850, ttl=2)"), "{theirs}");
    let ours = kernel.daemons().expect("GET_DAEMON dump");
    let listed: String = ours.iter().map(|d| d.listing() + "\n").collect();
    assert_eq!(listed, theirs, "our decoding of GET_DAEMON against ipvsadm -L --daemon");
    assert_eq!(ours.iter().find(|d| d.role == SyncRole::Master), Some(&master));
    kernel.stop_daemon(SyncRole::Master).expect("stop the master");
    kernel.stop_daemon(SyncRole::Backup).expect("stop the backup");
    assert_eq!(kernel.stop_daemon(SyncRole::Backup), Err(heartbeat_rs::ipvs::Errno::ESRCH), "stop with none running");
    assert_eq!(ipvsadm(&["-L", "--daemon"]), "");
    println!("conformance: timeouts and sync daemon: ok ({})", listed.trim().replace('\n', "; "));
}
