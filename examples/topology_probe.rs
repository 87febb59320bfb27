//! The client and server of the LVS topology test (`tests/vm/topology.sh`) and benchmark.
//!
//! `topology_probe get ADDR:PORT`: one HTTP request, the body on stdout (busybox wget crashes
//! in the VM's network namespaces).
//!
//! `topology_probe now`: the wall clock in milliseconds (busybox `date` has no %N).
//!
//! `topology_probe serve NAME PORT`: a real server. A connection whose first bytes are `GET `
//! gets one HTTP/1.0 answer with body `NAME` and is closed (health checks, short requests);
//! any other connection is line-based and long-lived: every line is answered with `NAME\n`.
//!
//! `topology_probe probe ADDR:PORT STOPFILE [INTERVAL_MS]`: the client, until STOPFILE exists.
//! Every interval (default 10 ms) one short request on a new connection (each in a thread of
//! its own), and on one long-lived connection opened at the start a line every
//! interval (a request not connected within 300 ms counts as failed, so SYN retransmissions never
//! hide an outage). Prints the long connection's server at once (`long-server NAME`), then each gap
//! between answers longer than 5 intervals as `gap short|long FROM_MS TO_MS LEN_MS` (wall
//! clock), and at the end `short ok=N refused=N reset=N timeout=N` and
//! `long answers=N reset=yes|no error=...`. Std only: threads, no runtime.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn wall_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let r = match args.get(1).map(String::as_str) {
        Some("serve") if args.len() == 4 => serve(&args[2], &args[3]),
        Some("get") if args.len() == 3 => get(&args[2]),
        Some("now") => {
            println!("{}", wall_ms());
            Ok(())
        }
        Some("probe") if args.len() >= 4 => probe(&args[2], &args[3], args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10)),
        _ => Err("usage: topology_probe serve NAME PORT | probe ADDR:PORT STOPFILE [INTERVAL_MS]".into()),
    };
    if let Err(e) = r {
        eprintln!("topology_probe: {e}");
        std::process::exit(1);
    }
}

fn get(addr: &str) -> Result<(), String> {
    let a: SocketAddr = addr.parse().map_err(|_| format!("{addr}: not ADDR:PORT"))?;
    let mut c = TcpStream::connect_timeout(&a, Duration::from_secs(2)).map_err(|e| format!("{addr}: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    c.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
    let mut s = String::new();
    c.read_to_string(&mut s).map_err(|e| format!("{addr}: {e}"))?;
    let body = s.split_once("\r\n\r\n").map(|(_, b)| b).ok_or_else(|| format!("{addr}: not an HTTP answer"))?;
    print!("{body}");
    Ok(())
}

fn serve(name: &str, port: &str) -> Result<(), String> {
    let l = TcpListener::bind(format!("0.0.0.0:{port}")).map_err(|e| format!("bind :{port}: {e}"))?;
    for c in l.incoming() {
        let Ok(mut c) = c else { continue };
        let name = name.to_owned();
        std::thread::spawn(move || {
            let mut first = [0u8; 4];
            if c.read_exact(&mut first).is_err() {
                return;
            }
            if &first == b"GET " {
                // Read the rest of the request head, then answer and close.
                let mut buf = [0u8; 2048];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = format!("{name}\n");
                let _ = c.write_all(format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
                return;
            }
            let mut r = BufReader::new(c.try_clone().expect("clone"));
            // The first line's head was read already; the rest of it comes with read_line.
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if c.write_all(format!("{name}\n").as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    Ok(())
}

#[derive(Default)]
struct Short {
    ok: u64,
    refused: u64,
    reset: u64,
    timeout: u64,
    /// Answer times (wall ms).
    answers: Vec<u128>,
}

fn probe(addr: &str, stop: &str, interval_ms: u64) -> Result<(), String> {
    let addr: SocketAddr = addr.parse().map_err(|_| format!("{addr}: not ADDR:PORT"))?;
    let interval = Duration::from_millis(interval_ms);
    let gap_limit = 5 * u128::from(interval_ms);
    let short = Arc::new(Mutex::new(Short::default()));

    // The long-lived connection, opened before anything else happens.
    let long = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| format!("long connection: {e}"))?;
    let _ = long.set_nodelay(true);
    let _ = long.set_read_timeout(Some(Duration::from_secs(10)));
    let mut long_r = BufReader::new(long.try_clone().map_err(|e| e.to_string())?);
    let mut long_w = long;
    let mut line = String::new();
    long_w.write_all(b"hello\n").map_err(|e| format!("long connection: {e}"))?;
    long_r.read_line(&mut line).map_err(|e| format!("long connection: {e}"))?;
    println!("long-server {}", line.trim());
    let _ = std::io::stdout().flush();

    let stop_path = std::path::PathBuf::from(stop);
    let long_thread = {
        let stop_path = stop_path.clone();
        std::thread::spawn(move || {
            let mut answers = 0u64;
            let mut last = wall_ms();
            let mut err = String::new();
            let mut reset = false;
            let mut next = Instant::now();
            while !stop_path.exists() {
                next += interval;
                if let Err(e) = long_w.write_all(b"ping\n") {
                    reset = e.kind() == std::io::ErrorKind::ConnectionReset || e.kind() == std::io::ErrorKind::BrokenPipe;
                    err = e.to_string();
                    break;
                }
                line.clear();
                match long_r.read_line(&mut line) {
                    Ok(0) => {
                        err = "closed by the peer".into();
                        reset = true;
                        break;
                    }
                    Ok(_) => {
                        let t = wall_ms();
                        if t - last > gap_limit {
                            println!("gap long {last} {t} {}", t - last);
                            let _ = std::io::stdout().flush();
                        }
                        last = t;
                        answers += 1;
                    }
                    Err(e) => {
                        reset = e.kind() == std::io::ErrorKind::ConnectionReset;
                        err = e.to_string();
                        break;
                    }
                }
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                } else {
                    next = Instant::now();
                }
            }
            (answers, reset, err)
        })
    };

    let mut next = Instant::now();
    let mut workers = Vec::new();
    while !stop_path.exists() {
        next += interval;
        let short = short.clone();
        workers.push(std::thread::spawn(move || {
            let r = (|| -> std::io::Result<String> {
                // Under the SYN retransmission timeout (1 s): a lost SYN is a failed request, not a
                // late answer that would hide the outage.
                let mut c = TcpStream::connect_timeout(&addr, Duration::from_millis(300))?;
                c.set_read_timeout(Some(Duration::from_millis(500)))?;
                c.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
                let mut s = String::new();
                c.read_to_string(&mut s)?;
                Ok(s)
            })();
            let mut st = short.lock().unwrap_or_else(|p| p.into_inner());
            match r {
                Ok(s) if s.starts_with("HTTP/1.0 200") => {
                    st.ok += 1;
                    st.answers.push(wall_ms());
                }
                Ok(_) => st.reset += 1,
                Err(e) => match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => st.refused += 1,
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => st.reset += 1,
                    _ => st.timeout += 1,
                },
            }
        }));
        workers.retain(|w| !w.is_finished());
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        } else {
            next = Instant::now();
        }
    }
    for w in workers {
        let _ = w.join();
    }
    let st = short.lock().unwrap_or_else(|p| p.into_inner());
    let mut answers = st.answers.clone();
    answers.sort_unstable();
    for w in answers.windows(2) {
        if w[1] - w[0] > gap_limit {
            println!("gap short {} {} {}", w[0], w[1], w[1] - w[0]);
        }
    }
    println!("short ok={} refused={} reset={} timeout={}", st.ok, st.refused, st.reset, st.timeout);
    let (n, reset, err) = long_thread.join().unwrap_or((0, false, "thread panicked".into()));
    // A stop during a wait is not an error of the connection.
    println!("long answers={n} reset={} error={}", if reset { "yes" } else { "no" }, if err.is_empty() { "none" } else { &err });
    Ok(())
}
