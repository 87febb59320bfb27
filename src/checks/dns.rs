//! dns: ask the real for the request name (an A query, or PTR when the request is an IPv4
//! address), over UDP (TCP when the virtual is TCP); up when an A address or PTR name of the
//! answer matches `receive`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{bare_request, matches};
use crate::director::farm::CheckSpec;

pub async fn check(spec: &CheckSpec, _timeout: Duration) -> Result<String, String> {
    let name = bare_request(spec);
    let (qname, qtype) = match name.parse::<Ipv4Addr>() {
        Ok(a) => {
            let o = a.octets();
            (format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]), 12u16)
        }
        Err(_) => (name.to_owned(), 1u16),
    };
    let id = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) & 0xffff) as u16;
    let query = build_query(id, &qname, qtype)?;
    let to = SocketAddr::new(spec.key.addr, spec.key.checkport);
    let reply = if spec.key.udp {
        let bind = super::any_local(&to);
        let sock = tokio::net::UdpSocket::bind(bind).await.map_err(|e| format!("socket: {e}"))?;
        sock.connect(to).await.map_err(|e| format!("connect to {to}: {e}"))?;
        sock.send(&query).await.map_err(|e| format!("send: {e}"))?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).await.map_err(|e| format!("receive: {e}"))?;
            if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                break buf[..n].to_vec();
            }
        }
    } else {
        let mut s = super::connect(spec).await?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&query);
        s.write_all(&framed).await.map_err(|e| format!("send: {e}"))?;
        let len = s.read_u16().await.map_err(|e| format!("receive: {e}"))?;
        let mut buf = vec![0u8; usize::from(len)];
        s.read_exact(&mut buf).await.map_err(|e| format!("receive: {e}"))?;
        buf
    };
    let answers = parse_answers(&reply, id)?;
    if answers.is_empty() {
        return Err(format!("no answer for {qname}"));
    }
    if spec.key.receive.is_empty() || answers.iter().any(|a| matches(&spec.key.receive, a.as_bytes())) {
        Ok(answers.join(" "))
    } else {
        Err(format!("answers {} do not match \"{}\"", answers.join(" "), spec.key.receive))
    }
}

pub fn build_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return Err(format!("label \"{label}\" is too long for DNS"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Ok(q)
}

/// A addresses and PTR names of a reply (bounds-checked; garbage is an error).
pub fn parse_answers(m: &[u8], id: u16) -> Result<Vec<String>, String> {
    let bad = || "malformed DNS reply".to_owned();
    if m.len() < 12 || u16::from_be_bytes([m[0], m[1]]) != id {
        return Err(bad());
    }
    let rcode = m[3] & 0x0f;
    if rcode != 0 {
        return Err(format!("DNS error code {rcode}"));
    }
    let qd = u16::from_be_bytes([m[4], m[5]]);
    let an = u16::from_be_bytes([m[6], m[7]]);
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(m, pos).ok_or_else(bad)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        pos = skip_name(m, pos).ok_or_else(bad)?;
        let h = m.get(pos..pos + 10).ok_or_else(bad)?;
        let rtype = u16::from_be_bytes([h[0], h[1]]);
        let len = usize::from(u16::from_be_bytes([h[8], h[9]]));
        let start = pos + 10;
        let data = m.get(start..start + len).ok_or_else(bad)?;
        match rtype {
            1 if len == 4 => out.push(IpAddr::from([data[0], data[1], data[2], data[3]]).to_string()),
            12 => out.push(read_name(m, start).ok_or_else(bad)?),
            _ => {}
        }
        pos = start + len;
    }
    Ok(out)
}

fn skip_name(m: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *m.get(pos)?;
        if len & 0xc0 == 0xc0 {
            return Some(pos + 2);
        }
        if len == 0 {
            return Some(pos + 1);
        }
        pos += 1 + usize::from(len);
    }
}

fn read_name(m: &[u8], mut pos: usize) -> Option<String> {
    let mut labels = Vec::new();
    for _ in 0..128 {
        let len = *m.get(pos)?;
        if len & 0xc0 == 0xc0 {
            pos = usize::from(u16::from_be_bytes([len & 0x3f, *m.get(pos + 1)?]));
            continue;
        }
        if len == 0 {
            return Some(labels.join("."));
        }
        labels.push(String::from_utf8_lossy(m.get(pos + 1..pos + 1 + usize::from(len))?).into_owned());
        pos += 1 + usize::from(len);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics() {
        for n in 0..64 {
            let mut m = vec![0xc0u8; n];
            if n > 3 {
                m[0] = 0;
                m[1] = 7;
                m[3] = 0;
            }
            let _ = parse_answers(&m, 7);
        }
    }
}
