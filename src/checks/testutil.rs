//! Loopback servers for check tests, each answering from a script.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

use crate::director::farm::CheckSpec;
use crate::director::{Outcome, Probe};

/// The spec of the first check of a one-virtual config whose real is `127.0.0.1:PORT`.
pub fn spec(port: u16, virtual_lines: &str) -> Arc<CheckSpec> {
    let text = format!("negotiatetimeout=3\ncheckinterval=1\nvirtual=127.0.0.1:{port}\n    real=127.0.0.1:{port} masq\n{virtual_lines}");
    crate::director::tests::farm(&text).checks[0].clone()
}

pub async fn run(spec: &CheckSpec) -> Outcome {
    super::run(spec, Probe::Negotiate, Duration::from_secs(3)).await
}

/// A TCP server answering every connection with `f(request bytes)` after reading `until`.
pub async fn tcp_server<F>(until: &'static [u8], f: F) -> u16
where
    F: Fn(Vec<u8>) -> Vec<u8> + Send + Sync + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let f = Arc::new(f);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let f = f.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(until.len().max(1)).any(|w| until.is_empty() || w == until) {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(&f(req)).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

/// A line server: sends `greeting`, then for each received line answers `f(line)`; `None` ends.
pub async fn line_server<F>(greeting: &'static str, f: F) -> u16
where
    F: Fn(&str) -> Option<String> + Send + Sync + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let f = Arc::new(f);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let f = f.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let _ = w.write_all(greeting.as_bytes()).await;
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    match f(&line) {
                        Some(reply) => {
                            let _ = w.write_all(reply.as_bytes()).await;
                        }
                        None => break,
                    }
                }
            });
        }
    });
    port
}

/// A UDP server answering each datagram with `f(datagram)` (no answer when empty).
pub async fn udp_server<F>(f: F) -> u16
where
    F: Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static,
{
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = s.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let reply = f(&buf[..n]);
            if !reply.is_empty() {
                let _ = s.send_to(&reply, from).await;
            }
        }
    });
    port
}

/// A port with nothing listening.
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// A server that accepts and never answers.
pub async fn hung_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    port
}

pub fn http_reply(status: &str, body: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
}
