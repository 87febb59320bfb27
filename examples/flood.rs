//! Bad-packet flooder for the membership benchmark (`./bench`, `tests/netns/bench.sh flood`):
//! sends datagrams that a heartbeat node must drop, at a fixed rate, to one UDP address.
//!
//! `flood ADDR:PORT [--rate N] [--seconds S] [--threads T] [--node NAME]`
//!
//! The mix, in turn: a well-formed status message from NAME signed sha1 with a wrong key (with
//! a newer generation and rising sequence numbers, so that accepting it would matter), the same
//! naming an authkeys slot that does not exist, the same cut short, and random bytes of random
//! length. Prints what it sent on stdout when done.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use heartbeat_rs::config::authkeys::{AuthKey, AuthKeys, AuthMethod};
use heartbeat_rs::wire::auth::sign;
use heartbeat_rs::wire::message::Message;

fn keys(slot: u8, key: &str) -> AuthKeys {
    let mut keys = BTreeMap::new();
    keys.insert(slot, AuthKey { slot, method: AuthMethod::Sha1, key: Some(key.to_owned()), line: 2 });
    AuthKeys { active: slot, keys }
}

/// xorshift64*: enough randomness for garbage, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn status(node: &str, seq: u64, keys: &AuthKeys) -> Vec<u8> {
    let mut m = Message::new();
    m.add("t", "status")
        .add("st", "active")
        .add("dt", "1f4")
        .add("protocol", "1")
        .add("src", node)
        .add_binary("srcuuid", vec![0x5a; 16])
        .add("seq", format!("{seq:x}"))
        .add("hg", "7fffffff")
        .add("ts", "6925a000")
        .add("ld", "0.01 0.02 0.00 1/100 1000")
        .add("ttl", "3");
    sign(&mut m, keys)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut dest: Option<SocketAddr> = None;
    let (mut rate, mut seconds, mut threads, mut node) = (100_000u64, 60u64, 2u64, "nodea".to_owned());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage(&format!("{a} needs a value")));
        match a.as_str() {
            "--rate" => rate = value().parse().unwrap_or_else(|_| usage("--rate: a number")),
            "--seconds" => seconds = value().parse().unwrap_or_else(|_| usage("--seconds: a number")),
            "--threads" => threads = value().parse::<u64>().unwrap_or_else(|_| usage("--threads: a number")).max(1),
            "--node" => node = value(),
            d if dest.is_none() => dest = Some(d.parse().unwrap_or_else(|_| usage("ADDR:PORT"))),
            other => usage(&format!("unexpected {other}")),
        }
    }
    let dest = dest.unwrap_or_else(|| usage("ADDR:PORT missing"));

    // Made in advance (signing is slower than sending): POOL packets of each kind, sent in turn.
    const POOL: u64 = 512;
    let wrong = keys(1, "not-the-key");
    let other_slot = keys(7, "not-the-key");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut pool: Vec<Vec<u8>> = Vec::new();
    for seq in 1..=POOL {
        pool.push(status(&node, seq, &wrong));
        pool.push(status(&node, seq, &other_slot));
        let mut cut = status(&node, seq, &wrong);
        cut.truncate(1 + (rng.next() as usize) % (cut.len() - 1));
        pool.push(cut);
        let len = 1 + (rng.next() as usize) % 1500;
        pool.push((0..len).map(|_| rng.next() as u8).collect());
    }
    let pool = std::sync::Arc::new(pool);
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    // Each thread sends its share of the rate from its own socket.
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let pool = pool.clone();
            let rate = (rate / threads).max(1);
            std::thread::spawn(move || {
                let sock = UdpSocket::bind("0.0.0.0:0").unwrap_or_else(|e| fail(&format!("bind: {e}")));
                let (mut sent, mut errors, mut n) = ([0u64; 4], 0u64, 0u64);
                loop {
                    // Pace: check the clock every 100 packets, sleep when ahead of the rate.
                    if n % 100 == 0 {
                        let now = Instant::now();
                        if now >= end {
                            break;
                        }
                        let due = start + Duration::from_nanos(n.saturating_mul(1_000_000_000) / rate);
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                    }
                    let i = (n + t * 4 * 101) % (4 * POOL);
                    match sock.send_to(&pool[i as usize], dest) {
                        Ok(_) => sent[(i % 4) as usize] += 1,
                        Err(_) => errors += 1,
                    }
                    n += 1;
                }
                (sent, errors)
            })
        })
        .collect();
    let (mut sent, mut errors) = ([0u64; 4], 0u64);
    for w in workers {
        let (s, e) = w.join().unwrap_or_else(|_| fail("a sender thread panicked"));
        for k in 0..4 {
            sent[k] += s[k];
        }
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    let total: u64 = sent.iter().sum();
    println!(
        "flood: {total} packets in {secs:.1} s ({:.0}/s from {threads} threads; wrong key {}, unknown slot {}, truncated {}, garbage {}; {errors} send errors)",
        total as f64 / secs,
        sent[0],
        sent[1],
        sent[2],
        sent[3]
    );
}

fn usage(why: &str) -> ! {
    fail(&format!("{why}\nusage: flood ADDR:PORT [--rate N] [--seconds S] [--threads T] [--node NAME]"))
}

fn fail(why: &str) -> ! {
    eprintln!("flood: {why}");
    std::process::exit(2)
}
