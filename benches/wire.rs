//! Decode + verify throughput of sha1-authenticated status messages on one core (issue target:
//! at least 300,000 messages/s), and the cost of refusing a corrupted one.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use heartbeat_rs::config::authkeys::{self, ModeRule};
use heartbeat_rs::wire::auth::{sign, verify};
use heartbeat_rs::wire::message::Message;

fn status() -> Message {
    let mut m = Message::new();
    m.add("t", "status").add("st", "active").add("dt", "1770").add("protocol", "1").add("src", "nodea");
    m.add_binary("srcuuid", vec![0x76, 0x18, 0xe0, 0x52, 0xea, 0x3a, 0x4b, 0x16, 0x8d, 0xfc, 0xfe, 0x14, 0xdc, 0xf9, 0x15, 0xd1]);
    m.add("seq", "39").add("hg", "6b06e7cb").add("ts", "6b06e804").add("ld", "0.59 0.37 0.16 2/98 20234").add("ttl", "3");
    m
}

fn bench(c: &mut Criterion) {
    let keys = authkeys::parse("authkeys", b"auth 2\n1 crc\n2 sha1 hbW-sha1-key\n3 md5 hbW-md5-key\n", Some(0o600), ModeRule::Enforce)
        .unwrap()
        .value;
    let good = sign(&mut status(), &keys);
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 3] ^= 1;
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_verify_sha1_status", |b| b.iter(|| verify(black_box(&good), &keys).unwrap()));
    g.bench_function("refuse_corrupted_sha1_status", |b| b.iter(|| verify(black_box(&bad), &keys).unwrap_err()));
    g.bench_function("encode_sign_sha1_status", |b| b.iter(|| sign(&mut status(), &keys)));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
