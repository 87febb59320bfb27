//! The floor under any HTTP checker on loopback, for the ldirectord benchmark: blocking threads
//! that make the same exchange as one of our negotiate checks (connect with the same socket
//! options, the same request, read the response to its Content-Length, close with a reset)
//! against the benchmark's farm, each of N addresses once a second, and nothing else: no
//! scheduler, no engine, no table. On loopback the client's process is billed for most of the
//! server's TCP work too (the receiver's processing runs in the sender's system call), so this
//! is the part of a checker's CPU that no implementation can avoid on this machine.
//!
//! Usage: check_floor N SECONDS THREADS   (reals 127.100.x.y:8080 as scripts/ldirectord-bench.py)
//! Prints: `checks_per_s=… cpu_core=… us_per_check=…`

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn real(i: usize) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 100, (i / 250) as u8, (i % 250 + 1) as u8), 8080))
}

fn check(to: SocketAddr, buf: &mut [u8]) -> bool {
    // The same socket options as the daemon's HTTP checks (delayed ACKs, reset on close).
    let Ok(sock) = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None) else { return false };
    let _ = sock.set_tcp_quickack(false);
    if sock.connect_timeout(&to.into(), Duration::from_secs(2)).is_err() {
        return false;
    }
    let _ = sock.set_tcp_nodelay(true);
    let _ = sock.set_linger(Some(Duration::ZERO));
    let mut s: TcpStream = sock.into();
    let req = format!("GET /health HTTP/1.1\r\nConnection: close\r\nHost: {}\r\nUser-Agent: libwww-perl/6.68\r\n\r\n", to.ip());
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut got = 0;
    loop {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
        let text = &buf[..got];
        if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&text[..end]).to_ascii_lowercase();
            let len =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
            if got >= end + 4 + len {
                return true;
            }
        }
        if got == buf.len() {
            return false;
        }
    }
}

fn cpu_seconds() -> f64 {
    let ru = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(ru.user_time()) + t(ru.system_time())
}

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).filter_map(|x| x.parse().ok()).collect();
    let [n, seconds, threads] = a[..] else {
        eprintln!("usage: check_floor N SECONDS THREADS");
        std::process::exit(2);
    };
    let warm = Duration::from_secs(2);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                // Thread t owns reals t, t+T, …; each is due once a second, spread evenly.
                let mine: Vec<usize> = (t..n).step_by(threads).collect();
                let step = Duration::from_secs(1) / mine.len().max(1) as u32;
                let mut buf = vec![0u8; 4096];
                let (mut ok, mut done) = (0u64, 0u64);
                let mut due = Instant::now();
                let end = start + warm + Duration::from_secs(seconds as u64);
                'outer: loop {
                    for &i in &mine {
                        let now = Instant::now();
                        if now >= end {
                            break 'outer;
                        }
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        due += step;
                        let good = check(real(i), &mut buf);
                        if Instant::now() >= start + warm {
                            done += 1;
                            ok += u64::from(good);
                        }
                    }
                }
                (done, ok)
            })
        })
        .collect();
    std::thread::sleep(warm);
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    let (mut done, mut ok) = (0, 0);
    for h in handles {
        let (d, o) = h.join().expect("thread");
        done += d;
        ok += o;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    println!(
        "checks_per_s={:.0} ok={ok} cpu_core={:.2} us_per_check={:.0}",
        done as f64 / wall,
        cpu / wall,
        cpu / done.max(1) as f64 * 1e6
    );
}
