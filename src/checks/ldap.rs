//! ldap/ldaps: bind (anonymous unless login and passwd are set), base-scope search for
//! `(objectClass=*)` on the request (without its `/`); up when exactly one entry comes back and
//! its DN matches `receive`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{MAX_READ, bare_request, matches, open};
use crate::config::ldirectord_cf::Service;
use crate::director::farm::CheckSpec;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 128 {
        v.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        v.push(0x80 | (4 - skip) as u8);
        v.extend_from_slice(&bytes[skip..]);
    }
    v.extend_from_slice(content);
    v
}

fn message(id: u8, op: Vec<u8>) -> Vec<u8> {
    let mut c = tlv(0x02, &[id]);
    c.extend(op);
    tlv(0x30, &c)
}

pub fn bind_request(login: &str, passwd: &str) -> Vec<u8> {
    let mut c = tlv(0x02, &[3]);
    c.extend(tlv(0x04, login.as_bytes()));
    c.extend(tlv(0x80, passwd.as_bytes()));
    message(1, tlv(0x60, &c))
}

pub fn search_request(base: &str) -> Vec<u8> {
    let mut c = tlv(0x04, base.as_bytes());
    c.extend(tlv(0x0a, &[0]));
    c.extend(tlv(0x0a, &[0]));
    c.extend(tlv(0x02, &[0]));
    c.extend(tlv(0x02, &[0]));
    c.extend(tlv(0x01, &[0]));
    c.extend(tlv(0x87, b"objectClass"));
    c.extend(tlv(0x30, &[]));
    message(2, tlv(0x63, &c))
}

/// One BER element from the stream: (tag, content).
async fn read_tlv<S: AsyncRead + Unpin>(s: &mut S) -> Result<(u8, Vec<u8>), String> {
    let io = |e: std::io::Error| format!("receive: {e}");
    let tag = s.read_u8().await.map_err(io)?;
    let first = s.read_u8().await.map_err(io)?;
    let len = if first < 128 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err("malformed LDAP length".into());
        }
        let mut l = 0usize;
        for _ in 0..n {
            l = (l << 8) | usize::from(s.read_u8().await.map_err(io)?);
        }
        l
    };
    if len > MAX_READ {
        return Err(format!("LDAP message over {MAX_READ} bytes"));
    }
    let mut content = vec![0u8; len];
    s.read_exact(&mut content).await.map_err(io)?;
    Ok((tag, content))
}

/// BER children: (tag, content).
type Fields<'a> = Vec<(u8, &'a [u8])>;

/// Splits the content of a constructed element into its children.
fn children(mut b: &[u8]) -> Option<Fields<'_>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let tag = b[0];
        let first = *b.get(1)?;
        let (len, hdr) = if first < 128 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let mut l = 0usize;
            for i in 0..n {
                l = (l << 8) | usize::from(*b.get(2 + i)?);
            }
            (l, 2 + n)
        };
        let content = b.get(hdr..hdr.checked_add(len)?)?;
        out.push((tag, content));
        b = &b[hdr + len..];
    }
    Some(out)
}

/// (protocol op tag, op content) of an LDAPMessage.
fn op(msg: &[u8]) -> Option<(u8, Fields<'_>)> {
    let parts = children(msg)?;
    let (tag, content) = *parts.get(1)?;
    Some((tag, children(content)?))
}

fn result_code(fields: &[(u8, &[u8])]) -> Option<u8> {
    fields.first().and_then(|(t, c)| (*t == 0x0a).then(|| c.last().copied().unwrap_or(0)))
}

pub async fn check(spec: &CheckSpec) -> Result<String, String> {
    let mut s = open(spec, spec.key.service == Service::Ldaps).await?;
    let (login, passwd) = if !spec.key.login.is_empty() && !spec.key.passwd.is_empty() {
        (spec.key.login.as_str(), spec.key.passwd.as_str())
    } else {
        ("", "")
    };
    s.write_all(&bind_request(login, passwd)).await.map_err(|e| format!("send: {e}"))?;
    let (tag, msg) = read_tlv(&mut s).await?;
    let bad = || "malformed LDAP reply".to_owned();
    let (optag, fields) = op(&msg).filter(|_| tag == 0x30).ok_or_else(bad)?;
    if optag != 0x61 || result_code(&fields) != Some(0) {
        return Err(format!("bind failed (result {:?})", result_code(&fields)));
    }
    s.write_all(&search_request(bare_request(spec))).await.map_err(|e| format!("send: {e}"))?;
    let mut dns = Vec::new();
    for _ in 0..1000 {
        let (tag, msg) = read_tlv(&mut s).await?;
        let (optag, fields) = op(&msg).filter(|_| tag == 0x30).ok_or_else(bad)?;
        match optag {
            0x64 => dns.push(String::from_utf8_lossy(fields.first().ok_or_else(bad)?.1).into_owned()),
            0x65 => {
                let code = result_code(&fields);
                if code != Some(0) {
                    return Err(format!("search failed (result {code:?})"));
                }
                let _ = s.write_all(&message(3, tlv(0x42, &[]))).await;
                return match dns.as_slice() {
                    [dn] if matches(&spec.key.receive, dn.as_bytes()) => Ok(dn.clone()),
                    [dn] => Err(format!("entry \"{dn}\" does not match \"{}\"", spec.key.receive)),
                    _ => Err(format!("{} entries, expected 1", dns.len())),
                };
            }
            _ => {}
        }
    }
    Err("LDAP search did not end".into())
}
