//! radius: an Access-Request with `login`, `passwd` (PAP) and `secret`; up on an Access-Accept
//! whose response authenticator is right.

use std::net::SocketAddr;

use md5::{Digest, Md5};

use crate::director::farm::CheckSpec;

/// The request packet for (id, authenticator).
pub fn request(id: u8, auth: [u8; 16], login: &str, passwd: &str, secret: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    let user = &login.as_bytes()[..login.len().min(253)];
    attrs.push(1);
    attrs.push(2 + user.len() as u8);
    attrs.extend_from_slice(user);
    // PAP: the password padded to 16, each block XORed with MD5(secret, previous block).
    let mut p = passwd.as_bytes()[..passwd.len().min(128)].to_vec();
    let padded = p.len().div_ceil(16).max(1) * 16;
    p.resize(padded, 0);
    let mut prev = auth.to_vec();
    let mut hidden = Vec::with_capacity(p.len());
    for block in p.chunks(16) {
        let mut h = Md5::new();
        h.update(secret.as_bytes());
        h.update(&prev);
        let key = h.finalize();
        let c: Vec<u8> = block.iter().zip(key.iter()).map(|(a, b)| a ^ b).collect();
        hidden.extend_from_slice(&c);
        prev = c;
    }
    attrs.push(2);
    attrs.push(2 + hidden.len() as u8);
    attrs.extend_from_slice(&hidden);
    let len = (20 + attrs.len()) as u16;
    let mut m = vec![1, id];
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(&auth);
    m.extend_from_slice(&attrs);
    m
}

/// Whether `reply` is a valid Access-Accept for the request (`id`, `auth`).
pub fn accepted(reply: &[u8], id: u8, auth: [u8; 16], secret: &str) -> Result<(), String> {
    if reply.len() < 20 || reply[1] != id {
        return Err("malformed or unrelated RADIUS reply".into());
    }
    let len = usize::from(u16::from_be_bytes([reply[2], reply[3]]));
    if len < 20 || len > reply.len() {
        return Err("malformed RADIUS reply".into());
    }
    let mut h = Md5::new();
    h.update(&reply[..4]);
    h.update(auth);
    h.update(&reply[20..len]);
    h.update(secret.as_bytes());
    if h.finalize()[..] != reply[4..20] {
        return Err("RADIUS reply with a wrong authenticator (secret mismatch?)".into());
    }
    match reply[0] {
        2 => Ok(()),
        3 => Err("Access-Reject".into()),
        c => Err(format!("RADIUS code {c}")),
    }
}

pub async fn check(spec: &CheckSpec) -> Result<String, String> {
    let to = SocketAddr::new(spec.key.addr, spec.key.checkport);
    let bind = super::any_local(&to);
    let sock = tokio::net::UdpSocket::bind(bind).await.map_err(|e| format!("socket: {e}"))?;
    sock.connect(to).await.map_err(|e| format!("connect to {to}: {e}"))?;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let auth: [u8; 16] = Md5::digest(seed.to_le_bytes()).into();
    let id = auth[0];
    sock.send(&request(id, auth, &spec.key.login, &spec.key.passwd, &spec.key.secret)).await.map_err(|e| format!("send: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let n = sock.recv(&mut buf).await.map_err(|e| format!("receive: {e}"))?;
    accepted(&buf[..n], id, auth, &spec.key.secret)?;
    Ok("Access-Accept".into())
}
