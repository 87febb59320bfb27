//! A farm of HTTP reals for the ldirectord benchmark: one listener on 0.0.0.0:PORT answers for
//! every 127.x address (run it in a network namespace). Per address, a mode read from MODES
//! (lines `ADDR ok|bad|hang`, re-read when it changes): `ok` answers "OK", `bad` 500, `hang`
//! accepts and never answers. It keeps, per address, the gaps between requests; creating
//! DUMP makes it write the gap statistics (seconds) to STATS and reset them.
//!
//! Usage: http_farm PORT MODES DUMP STATS

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default)]
struct Hits {
    last: HashMap<IpAddr, Instant>,
    gaps: Vec<f64>,
    requests: u64,
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let [_, port, modes_path, dump, stats] = a.as_slice() else {
        eprintln!("usage: http_farm PORT MODES DUMP STATS");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("port");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let modes: Arc<Mutex<HashMap<IpAddr, String>>> = Arc::default();
        let hits: Arc<Mutex<Hits>> = Arc::default();
        {
            let (modes, hits, modes_path, dump, stats) = (modes.clone(), hits.clone(), modes_path.clone(), dump.clone(), stats.clone());
            tokio::spawn(async move {
                let mut seen = None;
                loop {
                    let m = std::fs::metadata(&modes_path).and_then(|m| m.modified()).ok();
                    if m != seen {
                        seen = m;
                        let text = std::fs::read_to_string(&modes_path).unwrap_or_default();
                        let map = text
                            .lines()
                            .filter_map(|l| {
                                let mut w = l.split_whitespace();
                                Some((w.next()?.parse().ok()?, w.next()?.to_owned()))
                            })
                            .collect();
                        *modes.lock().unwrap() = map;
                    }
                    if std::path::Path::new(&dump).exists() {
                        let mut h = hits.lock().unwrap();
                        let mut g = std::mem::take(&mut h.gaps);
                        g.sort_by(|a, b| a.partial_cmp(b).unwrap());
                        let q = |p: f64| if g.is_empty() { 0.0 } else { g[((g.len() - 1) as f64 * p) as usize] };
                        let out = format!(
                            "n={} requests={} addresses={} min={:.3} p50={:.3} p99={:.3} max={:.3}\n",
                            g.len(),
                            h.requests,
                            h.last.len(),
                            q(0.0),
                            q(0.5),
                            q(0.99),
                            q(1.0)
                        );
                        h.requests = 0;
                        h.last.clear();
                        let _ = std::fs::write(&stats, out);
                        let _ = std::fs::remove_file(&dump);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        }
        // A deep accept queue: the checker's start-up burst must not meet SYN retries.
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_reuseaddr(true).expect("reuseaddr");
        sock.bind(([0, 0, 0, 0], port).into()).expect("bind");
        let l = sock.listen(65535).expect("listen");
        loop {
            let Ok((mut s, _)) = l.accept().await else { continue };
            let local = match s.local_addr() {
                Ok(a) => a.ip(),
                Err(_) => continue,
            };
            let mode = modes.lock().unwrap().get(&local).cloned().unwrap_or_else(|| "ok".into());
            let hits = hits.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") && got < buf.len() {
                    match s.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                {
                    let now = Instant::now();
                    let mut h = hits.lock().unwrap();
                    h.requests += 1;
                    if let Some(prev) = h.last.insert(local, now) {
                        let gap = now.duration_since(prev).as_secs_f64();
                        h.gaps.push(gap);
                    }
                }
                match mode.as_str() {
                    "hang" => tokio::time::sleep(Duration::from_secs(3600)).await,
                    "bad" => {
                        let _ =
                            s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nSICK").await;
                    }
                    _ => {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK").await;
                    }
                }
            });
        }
    });
}
