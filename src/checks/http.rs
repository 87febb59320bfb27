//! http, https and http_proxy negotiate checks: one HTTP/1.1 request with ldirectord 4.12's
//! headers, redirects followed (GET/HEAD, at most 7, as LWP), up when the final status is 2xx
//! and the body matches `receive`. Bodies over [`super::MAX_READ`] are a failure.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{MAX_READ, Stream, matches};
use crate::config::ldirectord_cf::{HttpMethod, Service};
use crate::director::farm::CheckSpec;

const MAX_REDIRECTS: usize = 7;
const MAX_HEAD: usize = 64 * 1024;
/// LWP's agent string: what 4.12 sends, so reals' log filters keep working.
const USER_AGENT: &str = "libwww-perl/6.68";

/// A target URL, parsed just enough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    /// As written in the URL (`[::1]` bracketed).
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Option<Url> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else {
            return None;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let default = if tls { 443 } else { 80 };
        let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
            let end = stripped.find(']')?;
            let port = match &stripped[end + 1..] {
                "" => default,
                p => p.strip_prefix(':')?.parse().ok()?,
            };
            (format!("[{}]", &stripped[..end]), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), if p.is_empty() { default } else { p.parse().ok()? }),
                None => (authority.to_owned(), default),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(Url { tls, host, port, path: path.to_owned() })
    }

    fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }

    fn join(&self, location: &str) -> Option<Url> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Url::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", if self.tls { "https" } else { "http" }));
        }
        let path = if location.starts_with('/') {
            location.to_owned()
        } else {
            let dir = self.path.rfind('/').map_or("/", |i| &self.path[..=i]);
            format!("{dir}{location}")
        };
        Some(Url { path, ..self.clone() })
    }
}

/// An address as URLs and Host headers write it (`[::1]`).
pub fn bracket_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(a) => format!("[{a}]"),
        a => a.to_string(),
    }
}

/// The first URL of a check and the Host header of the first request.
fn first_request(spec: &CheckSpec) -> Result<(Url, String, Option<SocketAddr>), String> {
    let k = &spec.key;
    let real = SocketAddr::new(k.addr, k.checkport);
    let tls = k.service == Service::Https;
    if k.service == Service::HttpProxy {
        // The real is a proxy: the request line carries the absolute URL.
        let abs = k.request.trim_start_matches('/');
        let url = Url::parse(abs).ok_or_else(|| format!("http_proxy needs an absolute URL as request, found \"{}\"", k.request))?;
        let host = url.host_header();
        return Ok((url, host, Some(real)));
    }
    // A request holding an absolute URL of the service's scheme is used as it is (4.12).
    let abs = k.request.trim_start_matches('/');
    if abs.starts_with("http://") || abs.starts_with("https://") {
        let url = Url::parse(abs).ok_or_else(|| format!("invalid URL \"{abs}\""))?;
        let host = k.virtualhost.clone().unwrap_or_else(|| url.host.clone());
        return Ok((url, host, None));
    }
    let url = Url { tls, host: bracket_ip(k.addr), port: k.checkport, path: k.request.clone() };
    let host = k.virtualhost.clone().unwrap_or_else(|| bracket_ip(k.addr));
    Ok((url, host, Some(real)))
}

/// Runs the check; `Ok` carries the status line.
pub async fn check(spec: &CheckSpec) -> Result<String, String> {
    let k = &spec.key;
    let method = if k.httpmethod == HttpMethod::Head { "HEAD" } else { "GET" };
    let (mut url, mut host, mut connect_to) = first_request(spec)?;
    let proxy = k.service == Service::HttpProxy;
    for _ in 0..=MAX_REDIRECTS {
        let target = match connect_to {
            Some(a) => a,
            None => resolve(&url).await?,
        };
        let path = if proxy {
            format!("{}://{}{}", if url.tls { "https" } else { "http" }, url.host_header(), url.path)
        } else {
            url.path.clone()
        };
        let req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n\r\n");
        let tcp = super::tcp_request_first(target).await?;
        let resp = if url.tls && !proxy {
            let sni = if url.host.starts_with('[') || url.host.parse::<IpAddr>().is_ok() { None } else { Some(url.host.as_str()) };
            let sni = k.virtualhost.as_deref().or(sni);
            exchange(super::tls::wrap(tcp, sni, target.ip()).await?, &req, method == "HEAD").await?
        } else {
            exchange(tcp, &req, method == "HEAD").await?
        };
        if matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
            if let Some(loc) = resp.location {
                url = url.join(&loc).ok_or_else(|| format!("bad redirect location \"{loc}\""))?;
                // LWP sends its own Host (host[:port]) on a redirected request.
                host = url.host_header();
                connect_to = if proxy { connect_to } else { None };
                continue;
            }
        }
        if !(200..300).contains(&resp.status) {
            return Err(resp.status_line);
        }
        if !matches(&k.receive, &resp.body) {
            return Err(format!("{}: body does not match \"{}\"", resp.status_line, k.receive));
        }
        return Ok(resp.status_line);
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

async fn resolve(url: &Url) -> Result<SocketAddr, String> {
    let host = url.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, url.port));
    }
    tokio::net::lookup_host((host, url.port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))
}

/// What a response says, as far as a check cares.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub status_line: String,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

async fn exchange<S: Stream>(mut s: S, req: &str, head: bool) -> Result<Response, String> {
    s.write_all(req.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
    s.flush().await.map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let header_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("response header over {MAX_HEAD} bytes"));
        }
        if read_more(&mut s, &mut buf).await? == 0 {
            return Err(if buf.is_empty() {
                "connection closed without a response".into()
            } else {
                "connection closed in the response header".into()
            });
        }
    };
    let head_text = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_owned();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|_| version.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP response: \"{}\"", super::excerpt(status_line.as_bytes())))?;
    let mut length = None;
    let mut chunked = false;
    let mut location = None;
    for l in lines {
        let Some((name, value)) = l.split_once(':') else { continue };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = Some(value.parse::<usize>().map_err(|_| format!("bad Content-Length \"{value}\""))?),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "location" => location = Some(value.to_owned()),
            _ => {}
        }
    }
    let mut body = buf.split_off(header_end);
    if head || status == 204 || status == 304 || (100..200).contains(&status) {
        body.clear();
    } else if chunked {
        body = read_chunked(&mut s, body).await?;
    } else if let Some(n) = length {
        if n > MAX_READ {
            return Err(format!("{status_line}: body of {n} bytes is over the {MAX_READ}-byte limit"));
        }
        while body.len() < n {
            if read_more(&mut s, &mut body).await? == 0 {
                return Err(format!("{status_line}: connection closed after {} of {n} body bytes", body.len()));
            }
        }
        body.truncate(n);
    } else {
        while read_more(&mut s, &mut body).await? > 0 {
            if body.len() > MAX_READ {
                return Err(format!("{status_line}: body over the {MAX_READ}-byte limit"));
            }
        }
    }
    Ok(Response { status, status_line, location, body })
}

async fn read_more<S: Stream>(s: &mut S, buf: &mut Vec<u8>) -> Result<usize, String> {
    // Straight into the vector's spare room: no stack buffer to copy, and a small future.
    buf.reserve(4096);
    match s.read_buf(buf).await {
        Ok(n) => Ok(n),
        // A TLS peer that closes without close_notify has still sent what it sent.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(e) => Err(format!("receive: {e}")),
    }
}

async fn read_chunked<S: Stream>(s: &mut S, mut raw: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let line_end = loop {
            if let Some(i) = find(&raw[pos..], b"\r\n") {
                break pos + i;
            }
            if raw.len() - pos > 1024 || read_more(s, &mut raw).await? == 0 {
                return Err("bad chunked body".into());
            }
        };
        let size_text = String::from_utf8_lossy(&raw[pos..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).map_err(|_| "bad chunk size".to_owned())?;
        pos = line_end + 2;
        if size == 0 {
            return Ok(body);
        }
        if body.len() + size > MAX_READ {
            return Err(format!("body over the {MAX_READ}-byte limit"));
        }
        while raw.len() < pos + size + 2 {
            if read_more(s, &mut raw).await? == 0 {
                return Err("connection closed in a chunk".into());
            }
        }
        body.extend_from_slice(&raw[pos..pos + size]);
        pos += size + 2;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(Url::parse("http://a.b:8080/x?y").unwrap(), Url { tls: false, host: "a.b".into(), port: 8080, path: "/x?y".into() });
        assert_eq!(Url::parse("https://[::1]/").unwrap().host, "[::1]");
        assert_eq!(Url::parse("https://[::1]:8443").unwrap().port, 8443);
        assert!(Url::parse("ftp://x/").is_none());
        assert!(Url::parse("http://:80/").is_none());
        let u = Url::parse("http://h/a/b").unwrap();
        assert_eq!(u.join("c").unwrap().path, "/a/c");
        assert_eq!(u.join("/d").unwrap().path, "/d");
        assert_eq!(u.join("https://x/").unwrap().port, 443);
    }
}
