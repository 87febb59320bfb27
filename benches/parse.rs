//! Parse time of ldirectord.cf: generated files of 1k, 10k and 100k real servers (100, 1,000
//! and 10,000 virtual services of 10 reals each), and the largest real-world corpus file
//! (`../shared/corpus/ldirectord.cf/006_*`, 121 KB, 477 virtual services) when present.
//! Target: under 5 ms for 1,000 × 10 on the 2-core machine, linear in size.
//! Also `heartbeat import keepalived`'s work (parse + translate, no I/O) on generated
//! keepalived.conf files of the same shapes.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use heartbeat_rs::config::keepalived::{self, translate};
use heartbeat_rs::config::ldirectord_cf;

/// A keepalived.conf with one VRRP instance and `virtuals` services of `reals` reals, each real
/// with an HTTP_GET check (keepalived's per-real checks).
pub fn generate_keepalived(virtuals: usize, reals: usize) -> String {
    let mut s = String::from(
        "global_defs {\n    router_id LVS_A\n}\nvrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    advert_int 1\n    authentication {\n        auth_type PASS\n        auth_pass secret\n    }\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n",
    );
    for v in 0..virtuals {
        let (a, b) = (v / 250, v % 250);
        s.push_str(&format!("virtual_server 10.{a}.{b}.1 80 {{\n    delay_loop 5\n    lb_algo wlc\n    lb_kind DR\n    protocol TCP\n"));
        for r in 0..reals {
            s.push_str(&format!(
                "    real_server 172.16.{}.{} 80 {{\n        weight {}\n        HTTP_GET {{\n            url {{\n                path /health\n                status_code 200\n            }}\n            connect_timeout 3\n            retry 2\n        }}\n    }}\n",
                v % 250,
                r + 2,
                1 + r % 3
            ));
        }
        s.push_str("}\n");
    }
    s
}

struct NoIncludes;
impl keepalived::Source for NoIncludes {
    fn read(&self, _: &Path) -> Result<String, String> {
        Err("no includes in a benchmark".into())
    }
    fn glob(&self, _: &Path) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}

fn bench_keepalived(c: &mut Criterion) {
    let mut g = c.benchmark_group("keepalived_import");
    for (virtuals, reals) in [(100, 10), (1_000, 10)] {
        let text = generate_keepalived(virtuals, reals);
        let out = translate::translate(&keepalived::parse_text(&NoIncludes, "gen.conf", &text));
        assert!(out.report.is_empty(), "{:?}", out.report.first());
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("generated_reals", virtuals * reals), &text, |b, t| {
            b.iter(|| translate::translate(&keepalived::parse_text(&NoIncludes, "gen.conf", black_box(t))))
        });
    }
    g.finish();
}

/// A file shaped like a large production one: globals, then `virtuals` blocks of `reals` reals.
pub fn generate(virtuals: usize, reals: usize) -> String {
    let mut s = String::from("checktimeout=3\nnegotiatetimeout=5\ncheckinterval=5\nautoreload=yes\nquiescent=yes\nlogfile=\"local0\"\n\n");
    for v in 0..virtuals {
        let (a, b) = (v / 250, v % 250);
        s.push_str(&format!("# service {v}\nvirtual=10.{a}.{b}.1:80\n"));
        for r in 0..reals {
            s.push_str(&format!("\treal=172.16.{}.{}:80 gate {}\n", v % 250, r + 2, 1 + r % 3));
        }
        s.push_str("\tservice=http\n\trequest=\"/health\"\n\treceive=\"OK\"\n\tscheduler=wlc\n\tprotocol=tcp\n\tchecktype=negotiate\n\n");
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("ldirectord_cf");
    for (virtuals, reals) in [(100, 10), (1_000, 10), (10_000, 10)] {
        let text = generate(virtuals, reals);
        let parsed = ldirectord_cf::parse("gen.cf", text.as_bytes()).expect("generated file parses");
        assert_eq!(parsed.value.virtuals.len(), virtuals);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("generated_reals", virtuals * reals), &text, |b, t| {
            b.iter(|| ldirectord_cf::parse("gen.cf", black_box(t.as_bytes())))
        });
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ldirectord.cf");
    let file = std::fs::read_dir(&corpus).ok().and_then(|d| {
        d.filter_map(Result::ok).map(|e| e.path()).find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("006_")))
    });
    match file {
        Some(path) => {
            let bytes = std::fs::read(&path).unwrap();
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_function("corpus_006", |b| b.iter(|| ldirectord_cf::parse("006.cf", black_box(&bytes))));
        }
        None => eprintln!("SKIPPED corpus_006: {} not found", corpus.display()),
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench, bench_keepalived
}
criterion_main!(benches);
