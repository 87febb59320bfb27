//! IPVS benchmark, run inside the VM tier by `./bench` (`tests/vm/run.sh`): our netlink
//! reconciler against the real ipvsadm on the same kernel, each measurement in a fresh network
//! namespace (a flushed namespace keeps deleted destinations for a while and skews refills).
//!
//! Without arguments it orchestrates: creates namespaces with `ip netns`, re-runs itself inside
//! each with one measurement name, and prints a markdown table. TCG makes absolute times slow;
//! the ratios are what count.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use heartbeat_rs::ipvs::diff::plan;
use heartbeat_rs::ipvs::kernel::KernelIpvs;
use heartbeat_rs::ipvs::listing;
use heartbeat_rs::ipvs::model::{Dest, DestConf, DestCounters, DestKey, Forward, Protocol, Service, ServiceConf, ServiceKey, Table};
use heartbeat_rs::ipvs::{Backend, reconcile};

const SERVICES: usize = 1000;
const DESTS: usize = 10;
/// Separate ipvsadm invocations are timed on this many of the 11,000 lines and scaled up.
const SEPARATE_SAMPLE: usize = 1100;

fn table() -> Table {
    let services = (0..SERVICES)
        .map(|i| {
            let key =
                ServiceKey::Inet { protocol: Protocol::Tcp, addr: format!("10.{}.{}.1", i / 250, i % 250).parse().unwrap(), port: 80 };
            let dests = (0..DESTS)
                .map(|j| Dest {
                    key: DestKey { addr: format!("172.16.{}.{}", i % 250, j + 2 + (i / 250) * 10).parse().unwrap(), port: 80 },
                    conf: DestConf { forward: Forward::Route, weight: 1 + (j as u32 % 3), upper_threshold: 0, lower_threshold: 0 },
                    counters: DestCounters::default(),
                })
                .collect();
            Service { key, conf: ServiceConf::new("wrr", false), dests, stats: Default::default() }
        })
        .collect();
    Table { services }
}

/// 1 % of the weights changed.
fn changed(t: &Table) -> Table {
    let mut t = t.clone();
    for (n, s) in t.services.iter_mut().enumerate().filter(|(n, _)| n % 10 == 0) {
        let _ = n;
        s.dests[0].conf.weight += 7;
    }
    t
}

fn owned(t: &Table) -> HashSet<ServiceKey> {
    t.services.iter().map(|s| s.key).collect()
}

fn ipvsadm_stdin(input: &str) -> f64 {
    let t0 = Instant::now();
    let mut child = Command::new("ipvsadm").arg("-R").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("ipvsadm");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "ipvsadm -R failed");
    t0.elapsed().as_secs_f64()
}

fn separate(lines: &[&str]) -> f64 {
    let t0 = Instant::now();
    for l in lines {
        let st = Command::new("ipvsadm").args(l.split_whitespace()).stdout(Stdio::null()).status().expect("ipvsadm");
        assert!(st.success(), "ipvsadm {l}");
    }
    t0.elapsed().as_secs_f64()
}

fn measure(name: &str) -> f64 {
    let desired = table();
    let save = listing::save(&desired);
    match name {
        "ours_apply" => {
            let mut k = KernelIpvs::open().expect("IPVS");
            let t0 = Instant::now();
            let r = reconcile(&mut k, &desired, &owned(&desired)).unwrap();
            let s = t0.elapsed().as_secs_f64();
            assert!(r.failed.is_empty(), "{:?}", &r.failed[..r.failed.len().min(3)]);
            assert_eq!(r.applied.len(), SERVICES * (DESTS + 1));
            s
        }
        "ipvsadm_restore" => ipvsadm_stdin(&save),
        "ipvsadm_separate" => {
            let lines: Vec<&str> = save.lines().take(SEPARATE_SAMPLE).collect();
            separate(&lines) * (SERVICES * (DESTS + 1)) as f64 / SEPARATE_SAMPLE as f64
        }
        "ours_change" | "ours_change_apply" | "ours_change_with_dump" => {
            let mut k = KernelIpvs::open().expect("IPVS");
            reconcile(&mut k, &desired, &owned(&desired)).unwrap();
            let next = changed(&desired);
            let t0 = Instant::now();
            let ops = if name == "ours_change_with_dump" {
                plan(&next, &k.dump().unwrap(), &owned(&next))
            } else {
                // The engine keeps the table it last applied: plan against that, no re-read.
                plan(&next, &desired, &owned(&next))
            };
            let t1 = Instant::now();
            let results = k.apply(&ops);
            let s = t0.elapsed().as_secs_f64();
            assert_eq!(ops.len(), SERVICES / 10);
            assert!(results.iter().all(Result::is_ok));
            if name == "ours_change_apply" { t1.elapsed().as_secs_f64() } else { s }
        }
        "ipvsadm_change_restore" | "ipvsadm_change_separate" => {
            ipvsadm_stdin(&save);
            let next = changed(&desired);
            let edits: Vec<String> = plan(&next, &desired, &owned(&next)).iter().map(|op| op.to_string()).collect();
            if name == "ipvsadm_change_restore" {
                ipvsadm_stdin(&(edits.join("\n") + "\n"))
            } else {
                separate(&edits.iter().map(String::as_str).collect::<Vec<_>>())
            }
        }
        "ours_dump" | "ipvsadm_list" => {
            ipvsadm_stdin(&save);
            let t0 = Instant::now();
            if name == "ours_dump" {
                let t = KernelIpvs::open().unwrap().dump().unwrap();
                assert_eq!(t.dest_count(), SERVICES * DESTS);
            } else {
                let out = Command::new("ipvsadm").arg("-Ln").stdout(Stdio::null()).status().unwrap();
                assert!(out.success());
            }
            t0.elapsed().as_secs_f64()
        }
        other => panic!("unknown measurement {other}"),
    }
}

fn run_in_fresh_namespace(name: &str, n: usize) -> f64 {
    let ns = format!("bench{n}");
    let ip = |args: &[&str]| assert!(Command::new("ip").args(args).status().unwrap().success(), "ip {args:?}");
    ip(&["netns", "add", &ns]);
    ip(&["-n", &ns, "link", "set", "lo", "up"]);
    let me = std::env::current_exe().unwrap();
    let out = Command::new("ip").args(["netns", "exec", &ns]).arg(me).arg(name).output().unwrap();
    ip(&["netns", "del", &ns]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{name}: {}{}", text, String::from_utf8_lossy(&out.stderr));
    text.lines().find_map(|l| l.strip_prefix("RESULT ")).and_then(|v| v.trim().parse().ok()).expect("a RESULT line")
}

fn main() {
    if let Some(name) = std::env::args().nth(1) {
        println!("RESULT {}", measure(&name));
        return;
    }
    let mut n = 0;
    let mut median = |name: &str, runs: usize| {
        let mut v: Vec<f64> = (0..runs)
            .map(|_| {
                n += 1;
                run_in_fresh_namespace(name, n)
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ours = median("ours_apply", 3);
    let restore = median("ipvsadm_restore", 3);
    let separate = median("ipvsadm_separate", 1);
    let change = median("ours_change", 3);
    let change_apply = median("ours_change_apply", 3);
    let change_dump = median("ours_change_with_dump", 3);
    let ch_restore = median("ipvsadm_change_restore", 3);
    let ch_separate = median("ipvsadm_change_separate", 1);
    let dump = median("ours_dump", 3);
    let list = median("ipvsadm_list", 3);
    println!("| operation (1,000 services x 10 destinations, TCG VM) | heartbeat-rs | ipvsadm | ratio |");
    println!("|---|---|---|---|");
    println!("| apply from empty (11,000 objects) vs `ipvsadm -R` | {ours:.2} s | {restore:.2} s | {:.2}x the time |", ours / restore);
    println!(
        "| apply from empty vs 11,000 separate `ipvsadm` calls (timed on {SEPARATE_SAMPLE}, scaled) | {ours:.2} s | {separate:.0} s | {:.0}x faster |",
        separate / ours
    );
    println!(
        "| change 1 % of the weights (100 edits), plan + apply | {:.3} s | {ch_restore:.3} s (`-R`) | {:.1}x faster |",
        change,
        ch_restore / change
    );
    println!(
        "| same, with a full re-read of the table first | {change_dump:.2} s | {ch_separate:.2} s (100 calls) | {:.1}x faster than calls |",
        ch_separate / change_dump
    );
    println!(
        "| change as a share of the full apply: plan + apply / apply alone | {:.1} % / {:.1} % ({:.4} s) | | |",
        100.0 * change / ours,
        100.0 * change_apply / ours,
        change_apply
    );
    println!("| read back (dump) the table vs `ipvsadm -Ln` | {dump:.2} s | {list:.2} s | {:.2}x the time |", dump / list);
}
