//! The optional Prometheus endpoint (`metrics` in ha.cf): a tiny HTTP/1.x server answering
//! `GET /metrics` with the text the daemon's control path renders. Edge code: it asks the event
//! loop over the same channel as cl_status, so it never touches engine state itself.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::heartbeat::CtlRequest;

/// Scrapes served at once; more wait (a scraper storm cannot take the daemon's memory).
const CONCURRENT: usize = 8;

pub async fn spawn(addr: SocketAddr, ctl: mpsc::Sender<CtlRequest>) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("metrics endpoint {addr}: {e}"))?;
    let slots = std::sync::Arc::new(Semaphore::new(CONCURRENT));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            let ctl = ctl.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let mut buf = vec![0u8; 4096];
                let mut used = 0;
                // The request line and headers, bounded in size and time.
                let read = tokio::time::timeout(Duration::from_secs(5), async {
                    while used < buf.len() {
                        match stream.read(&mut buf[used..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => used += n,
                        }
                        if buf[..used].windows(4).any(|w| w == b"\r\n\r\n") || buf[..used].windows(2).any(|w| w == b"\n\n") {
                            break;
                        }
                    }
                })
                .await;
                if read.is_err() {
                    return;
                }
                let head = String::from_utf8_lossy(&buf[..used]);
                let reply = if head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?") {
                    let (tx, rx) = oneshot::channel();
                    if ctl.send((vec!["metrics".into()], tx)).await.is_err() {
                        return;
                    }
                    match rx.await {
                        Ok((_, body)) => {
                            format!(
                                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                        }
                        Err(_) => return,
                    }
                } else {
                    "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), stream.write_all(reply.as_bytes())).await;
            });
        }
    });
    Ok(())
}
