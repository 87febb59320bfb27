//! Health checks: one async function per probe, each bounded by the timeout the engine gives
//! and by size limits on everything it reads, so a hostile or broken real is "down" with a
//! reason, never a stall or a panic. No decisions here: the engine folds the outcomes.
//!
//! Protocols are hand-rolled (what ldirectord 4.12 sends is small and fixed; see
//! `shared/reference/ldirectord.md` §5.2), over plain TCP or TLS (rustls with ring).

pub mod dns;
pub mod external;
pub mod http;
pub mod ldap;
pub mod lines;
pub mod ping;
pub mod radius;
pub mod sip;
pub mod sql;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use regex::Regex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::ldirectord_cf::Service;
use crate::director::farm::CheckSpec;
use crate::director::{Outcome, Probe};

/// Bytes read from a real at most (a body, a file, a reply); more is a failure, not a stall.
pub const MAX_READ: usize = 1 << 20;

/// Runs one check within `timeout`. A check that does not finish in time is down.
pub async fn run(spec: &CheckSpec, probe: Probe, timeout: Duration) -> Outcome {
    // Boxed: the probe future is the largest variant of every protocol's; moving it around
    // by value on each check would copy kilobytes.
    match tokio::time::timeout(timeout, Box::pin(probe_once(spec, probe, timeout))).await {
        Ok(Ok(msg)) => Outcome::Up(msg),
        Ok(Err(why)) => Outcome::Down(why),
        Err(_) => Outcome::Down(format!("timed out after {} s", timeout.as_secs_f64())),
    }
}

/// The maintenance files 4.12 looks for (`IP:PORT`, then `IP`), names from a reverse look-up
/// excepted; `true` when one exists.
pub fn in_maintenance(dir: &str, spec: &CheckSpec) -> bool {
    let ip = spec.key.addr.to_string();
    let dir = std::path::Path::new(dir);
    dir.join(format!("{ip}:{}", spec.key.port)).exists() || dir.join(&ip).exists()
}

async fn probe_once(spec: &CheckSpec, probe: Probe, timeout: Duration) -> Result<String, String> {
    let k = &spec.key;
    match probe {
        Probe::Connect => {
            connect(spec).await?;
            Ok("connected".into())
        }
        Probe::Ping => ping::ping(k.addr, spec.checkcount, spec.checktimeout).await,
        Probe::External => external::run(spec).await,
        Probe::Negotiate => match k.service {
            Service::Http | Service::Https | Service::HttpProxy => http::check(spec).await,
            Service::Ftp => lines::ftp(spec).await,
            Service::Smtp | Service::Submission => lines::smtp(spec).await,
            Service::Pop | Service::Pops => lines::pop(spec).await,
            Service::Imap | Service::Imaps => lines::imap(spec).await,
            Service::Nntp => lines::nntp(spec).await,
            Service::SimpleTcp => lines::simpletcp(spec).await,
            Service::Dns => dns::check(spec, timeout).await,
            Service::Radius => radius::check(spec).await,
            Service::Sip => sip::check(spec).await,
            Service::Ldap | Service::Ldaps => ldap::check(spec).await,
            Service::Mysql => sql::mysql(spec).await,
            Service::Pgsql => sql::pgsql(spec).await,
            Service::None => Ok("no check".into()),
            Service::Oracle => Err("oracle checks are not supported".into()),
        },
    }
}

/// A TCP connection to the check port.
pub async fn connect(spec: &CheckSpec) -> Result<TcpStream, String> {
    tcp(SocketAddr::new(spec.key.addr, spec.key.checkport)).await
}

/// A check's TCP connection. It closes with a reset (zero linger), as HAProxy's checks do: a
/// check has nothing left to say when it closes, and a FIN handshake would leave a TIME_WAIT
/// socket behind per check (600,000 at 10,000 checks a second) and cost a third of the
/// kernel's work per check.
pub async fn tcp(to: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect(to).await.map_err(|e| format!("connect to {to}: {e}"))?;
    let _ = s.set_nodelay(true);
    let _ = s.set_zero_linger();
    Ok(s)
}

/// [`tcp`] for a protocol where the client speaks first (HTTP): delayed ACKs from the start, so
/// the handshake's last ACK rides on the request and the response's ACK is never sent before
/// the reset; two packets fewer per check. Not for protocols whose server speaks first: the
/// server would wait for the delayed ACK before its greeting.
pub async fn tcp_request_first(to: SocketAddr) -> Result<TcpStream, String> {
    let sock = if to.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
        .map_err(|e| format!("connect to {to}: {e}"))?;
    let _ = socket2::SockRef::from(&sock).set_tcp_quickack(false);
    let s = sock.connect(to).await.map_err(|e| format!("connect to {to}: {e}"))?;
    let _ = s.set_nodelay(true);
    let _ = s.set_zero_linger();
    Ok(s)
}

/// A byte stream to a real, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Connects, with TLS when `tls` (SNI from `virtualhost` when it is a name).
pub async fn open(spec: &CheckSpec, tls: bool) -> Result<Box<dyn Stream>, String> {
    let tcp = connect(spec).await?;
    if !tls {
        return Ok(Box::new(tcp));
    }
    let s = tls::wrap(tcp, spec.key.virtualhost.as_deref(), spec.key.addr).await?;
    Ok(Box::new(s))
}

/// The `receive` pattern compiled once per text; a pattern Rust's regex cannot read (Perl
/// look-around, back-references) is matched as literal text.
pub fn pattern(text: &str) -> Arc<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(r) = c.get(text) {
        return r.clone();
    }
    // Even an escaped literal can exceed the regex size limit (a receive string of megabytes from
    // the config file): then it matches nothing, the real is down, and nothing panics.
    let never = || Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("a fixed, tiny pattern compiles"));
    let r = Regex::new(text).or_else(|_| Regex::new(&regex::escape(text))).unwrap_or_else(|_| never());
    let r = Arc::new(r);
    if c.len() < 10_000 {
        c.insert(text.to_owned(), r.clone());
    }
    r
}

/// Whether `receive` (empty: anything) matches `data`.
pub fn matches(receive: &str, data: &[u8]) -> bool {
    receive.is_empty() || pattern(receive).is_match(&String::from_utf8_lossy(data))
}

/// The request without its leading `/` (4.12 adds one to every request; most protocols drop it).
pub fn bare_request(spec: &CheckSpec) -> &str {
    spec.key.request.strip_prefix('/').unwrap_or(&spec.key.request)
}

/// A short, printable excerpt of bytes from a real, for logs.
pub fn excerpt(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(80)]);
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_owned()
}

/// The wildcard local address of `to`'s family, any port: where a UDP check binds.
pub(crate) fn any_local(to: &SocketAddr) -> SocketAddr {
    let ip: std::net::IpAddr = if to.is_ipv6() { std::net::Ipv6Addr::UNSPECIFIED.into() } else { std::net::Ipv4Addr::UNSPECIFIED.into() };
    SocketAddr::new(ip, 0)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
