//! Heartbeat's authenticators: `crc` (CRC-32/CKSUM without the length suffix, printed `%lx`),
//! HMAC-SHA1 and HMAC-MD5 (lowercase hex). Both the inner `auth` field and the trailing auth
//! netstring use the same method and key (`heartbeat-wire.md` §c). Digests received from the
//! network are compared in constant time.

use crc::{CRC_32_CKSUM, Crc};
use hmac::{Hmac, KeyInit, Mac};

use super::message::{Message, WireError, parse_datagram};
use crate::config::authkeys::{AuthKey, AuthKeys, AuthMethod};

const CKSUM: Crc<u32> = Crc::<u32>::new(&CRC_32_CKSUM);

/// The token Heartbeat prints for `data` with this method and key.
pub fn token(method: AuthMethod, key: &[u8], data: &[u8]) -> String {
    match method {
        // `%lx`: lowercase, no zero padding.
        AuthMethod::Crc => format!("{:x}", CKSUM.checksum(data)),
        AuthMethod::Sha1 => hex(&hmac_bytes::<sha1::Sha1>(key, data)),
        AuthMethod::Md5 => hex(&hmac_bytes::<md5::Md5>(key, data)),
    }
}

/// The HMAC of `data`, ready to finalize or verify.
fn hmac_of<D>(key: &[u8], data: &[u8]) -> Hmac<D>
where
    Hmac<D>: KeyInit + Mac,
    D: hmac::EagerHash,
{
    // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data);
    mac
}

fn hmac_bytes<D>(key: &[u8], data: &[u8]) -> Vec<u8>
where
    Hmac<D>: KeyInit + Mac,
    D: hmac::EagerHash,
{
    hmac_of::<D>(key, data).finalize().into_bytes().to_vec()
}

fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[usize::from(x >> 4)] as char);
        s.push(DIGITS[usize::from(x & 0xf)] as char);
    }
    s
}

/// Lowercase hex only: 3.0.6 compares tokens with `strcmp`, so `ABC` is not `abc`.
fn unhex(t: &[u8]) -> Option<Vec<u8>> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if t.len() % 2 != 0 {
        return None;
    }
    t.chunks(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// Checks a received token without formatting our own: HMACs through `Mac::verify_slice`
/// (constant time), crc by value.
fn token_matches(method: AuthMethod, key: &[u8], data: &[u8], got: &[u8]) -> bool {
    match method {
        AuthMethod::Crc => same(token(method, key, data).as_bytes(), got),
        AuthMethod::Sha1 => unhex(got).is_some_and(|g| hmac_verify::<sha1::Sha1>(key, data, &g)),
        AuthMethod::Md5 => unhex(got).is_some_and(|g| hmac_verify::<md5::Md5>(key, data, &g)),
    }
}

fn hmac_verify<D>(key: &[u8], data: &[u8], tag: &[u8]) -> bool
where
    Hmac<D>: KeyInit + Mac,
    D: hmac::EagerHash,
{
    hmac_of::<D>(key, data).verify_slice(tag).is_ok()
}

/// Constant-time comparison of two tokens.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn key_bytes(k: &AuthKey) -> &[u8] {
    k.key.as_deref().map(str::as_bytes).unwrap_or_default()
}

/// Signs a message for sending with the active `auth N`: sets the inner `auth` field (last),
/// then appends the trailing auth netstring. Returns the datagram.
pub fn sign(msg: &mut Message, keys: &AuthKeys) -> Vec<u8> {
    let k = keys.active_key();
    msg.remove("auth");
    let inner = token(k.method, key_bytes(k), &msg.classic_lines("auth"));
    msg.add("auth", format!("{} {inner}", k.slot));
    let mut out = msg.netstring_body();
    let outer = format!("{} {}", k.slot, token(k.method, key_bytes(k), &out));
    out.extend_from_slice(format!("{}:{outer},", outer.len()).as_bytes());
    out
}

/// Why a datagram was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Malformed(#[from] WireError),
    #[error("authentication slot {0} is not in authkeys")]
    UnknownSlot(u8),
    #[error("bad authentication (slot {0})")]
    BadDigest(u8),
}

/// Parses and authenticates a received netstring datagram: the trailing auth, computed with the
/// slot it names (any slot in authkeys is accepted), must match. As in 3.0.6, the inner field is
/// not re-checked for netstring input.
pub fn verify(datagram: &[u8], keys: &AuthKeys) -> Result<Message, AuthError> {
    let d = parse_datagram(datagram)?;
    let k = keys.keys.get(&d.auth_slot).ok_or(AuthError::UnknownSlot(d.auth_slot))?;
    if !token_matches(k.method, key_bytes(k), d.signed, d.auth_token) {
        return Err(AuthError::BadDigest(d.auth_slot));
    }
    Ok(d.message)
}

/// Checks the inner `auth` field of a message (what a 3.0.6 receiver checks for classic input).
pub fn verify_inner(msg: &Message, keys: &AuthKeys) -> bool {
    let Some(field) = msg.get("auth") else { return false };
    let Some(space) = field.iter().position(|&b| b == b' ') else { return false };
    let Some(slot) = std::str::from_utf8(&field[..space]).ok().and_then(|s| s.parse::<u8>().ok()) else { return false };
    let Some(k) = keys.keys.get(&slot) else { return false };
    token_matches(k.method, key_bytes(k), &msg.classic_lines("auth"), &field[space + 1..])
}
