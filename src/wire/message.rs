//! Heartbeat 3.0.6 messages: an ordered list of typed fields, in the netstring form every
//! cluster medium carries (`###\n` `L:(T)name=value,`… `%%%\n` + a trailing auth netstring)
//! and in the classic text form (`>>>\n` `name=value\n`… `<<<\n`), which is also the input of
//! the inner `auth` field. Pure; bounds-checked; a malformed datagram is an error, never a panic.
//! Facts: `shared/reference/heartbeat-wire.md` §a–b, verified on captures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// Largest message Heartbeat sends or accepts (`MAXMSG`, 256 KiB).
pub const MAXMSG: usize = 256 * 1024;
/// Nesting bound for struct fields, so hostile input cannot recurse without end.
const MAX_DEPTH: usize = 8;

/// A field value by its wire type `(T)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `(0)`: raw bytes.
    Str(Vec<u8>),
    /// `(1)`: raw bytes in netstring form, base64 in classic form (node UUIDs).
    Binary(Vec<u8>),
    /// `(2)`: a nested message.
    Struct(Message),
    /// `(3)`–`(5)`: CRM-only types, kept as raw bytes so they survive a round trip.
    Other(u8, Vec<u8>),
}

impl Value {
    fn type_tag(&self) -> u8 {
        match self {
            Value::Str(_) => 0,
            Value::Binary(_) => 1,
            Value::Struct(_) => 2,
            Value::Other(t, _) => *t,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: Vec<u8>,
    pub value: Value,
}

/// A message: fields in order (the order is hashed, so it is kept exactly).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub fields: Vec<Field>,
}

/// Why a datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("datagram of {0} bytes is over the {MAXMSG}-byte limit")]
    TooLarge(usize),
    #[error("not a Heartbeat message (no ### or >>> header)")]
    NoHeader,
    #[error("truncated message")]
    Truncated,
    #[error("bad netstring length")]
    BadLength,
    #[error("bad field: {0}")]
    BadField(&'static str),
    #[error("no trailing authentication")]
    NoAuth,
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

impl Message {
    pub fn new() -> Message {
        Message::default()
    }

    /// Appends a string field.
    pub fn add(&mut self, name: &str, value: impl Into<Vec<u8>>) -> &mut Self {
        self.fields.push(Field { name: name.as_bytes().to_vec(), value: Value::Str(value.into()) });
        self
    }

    /// Appends a binary field.
    pub fn add_binary(&mut self, name: &str, value: impl Into<Vec<u8>>) -> &mut Self {
        self.fields.push(Field { name: name.as_bytes().to_vec(), value: Value::Binary(value.into()) });
        self
    }

    /// Sets a string field in place, or appends it (Heartbeat modifies existing fields).
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let value = Value::Str(value.into());
        match self.fields.iter_mut().find(|f| f.name == name.as_bytes()) {
            Some(f) => f.value = value,
            None => self.fields.push(Field { name: name.as_bytes().to_vec(), value }),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|f| f.name != name.as_bytes());
    }

    /// The raw bytes of the first string or binary field of this name.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields.iter().find(|f| f.name == name.as_bytes()).and_then(|f| match &f.value {
            Value::Str(v) | Value::Binary(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// A string field as text, if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// A lowercase-hex field (`seq`, `hg`, `ts`, `dt`) as a number.
    pub fn get_hex(&self, name: &str) -> Option<u64> {
        self.get_str(name).filter(|s| !s.is_empty() && s.len() <= 16).and_then(|s| u64::from_str_radix(s, 16).ok())
    }

    /// The netstring form of the fields, between `###\n` and `%%%\n` inclusive.
    pub fn netstring_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.write_netstring(&mut out);
        out
    }

    fn write_netstring(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"###\n");
        for f in &self.fields {
            let inner_struct;
            let value: &[u8] = match &f.value {
                Value::Str(v) | Value::Binary(v) | Value::Other(_, v) => v,
                Value::Struct(m) => {
                    inner_struct = m.netstring_body();
                    &inner_struct
                }
            };
            // `L:(T)name=value,` where L counts `(T)name=value`.
            let len = 3 + f.name.len() + 1 + value.len();
            out.extend_from_slice(len.to_string().as_bytes());
            out.extend_from_slice(b":(");
            out.push(b'0' + f.value.type_tag());
            out.push(b')');
            out.extend_from_slice(&f.name);
            out.push(b'=');
            out.extend_from_slice(value);
            out.push(b',');
        }
        out.extend_from_slice(b"%%%\n");
    }

    /// The classic text form without the `>>>`/`<<<` lines, fields named in `skip` left out:
    /// the input of the inner `auth` field.
    pub fn classic_lines(&self, skip: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        for f in self.fields.iter().filter(|f| f.name != skip.as_bytes()) {
            match &f.value {
                Value::Str(v) => {
                    out.extend_from_slice(&f.name);
                    out.push(b'=');
                    out.extend_from_slice(v);
                }
                Value::Binary(v) => {
                    out.extend_from_slice(b"(1)");
                    out.extend_from_slice(&f.name);
                    out.push(b'=');
                    out.extend_from_slice(B64.encode(v).as_bytes());
                }
                Value::Struct(m) => {
                    out.extend_from_slice(b"(2)");
                    out.extend_from_slice(&f.name);
                    out.push(b'=');
                    out.extend_from_slice(&m.classic());
                }
                Value::Other(t, v) => {
                    out.extend_from_slice(format!("({t})").as_bytes());
                    out.extend_from_slice(&f.name);
                    out.push(b'=');
                    out.extend_from_slice(v);
                }
            }
            out.push(b'\n');
        }
        out
    }

    /// The whole classic form (`>>>\n` … `<<<\n`).
    pub fn classic(&self) -> Vec<u8> {
        let mut out = b">>>\n".to_vec();
        out.extend_from_slice(&self.classic_lines(""));
        out.extend_from_slice(b"<<<\n");
        out
    }
}

/// A netstring datagram split into its message, the bytes the trailing auth covers, and the
/// trailing auth itself (`<n> <token>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub message: Message,
    pub signed: &'a [u8],
    pub auth_slot: u8,
    pub auth_token: &'a [u8],
}

/// Parses a datagram in netstring form, with its trailing auth.
pub fn parse_datagram(buf: &[u8]) -> Result<Datagram<'_>, WireError> {
    if buf.len() > MAXMSG {
        return Err(WireError::TooLarge(buf.len()));
    }
    if !buf.starts_with(b"###\n") {
        return Err(WireError::NoHeader);
    }
    let (message, used) = parse_netstring_message(buf, 0)?;
    let signed = &buf[..used];
    let (auth, rest) = netstring(&buf[used..])?;
    if !rest.is_empty() && rest.iter().any(|&b| b != 0) {
        return Err(WireError::BadField("bytes after the trailing auth"));
    }
    let space = auth.iter().position(|&b| b == b' ').ok_or(WireError::NoAuth)?;
    let slot = std::str::from_utf8(&auth[..space]).ok().and_then(|s| s.parse::<u8>().ok()).ok_or(WireError::NoAuth)?;
    Ok(Datagram { message, signed, auth_slot: slot, auth_token: &auth[space + 1..] })
}

/// `###\n` fields `%%%\n`; returns the message and the bytes used.
fn parse_netstring_message(buf: &[u8], depth: usize) -> Result<(Message, usize), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    let mut rest = buf.strip_prefix(b"###\n").ok_or(WireError::NoHeader)?;
    let mut msg = Message::new();
    loop {
        if let Some(after) = rest.strip_prefix(b"%%%\n") {
            return Ok((msg, buf.len() - after.len()));
        }
        if rest.is_empty() {
            return Err(WireError::Truncated);
        }
        let (item, after) = netstring(rest)?;
        rest = after;
        // `(T)name=value`; the name ends at the first '=', the value is everything after it.
        let (t, body) = match item {
            [b'(', t @ b'0'..=b'9', b')', body @ ..] => (t - b'0', body),
            _ => return Err(WireError::BadField("no (T) type tag")),
        };
        let eq = body.iter().position(|&b| b == b'=').ok_or(WireError::BadField("no '='"))?;
        let (name, value) = (&body[..eq], &body[eq + 1..]);
        let value = match t {
            0 => Value::Str(value.to_vec()),
            1 => Value::Binary(value.to_vec()),
            2 => {
                let (m, used) = parse_netstring_message(value, depth + 1)?;
                if used != value.len() {
                    return Err(WireError::BadField("bytes after a nested message"));
                }
                Value::Struct(m)
            }
            t => Value::Other(t, value.to_vec()),
        };
        msg.fields.push(Field { name: name.to_vec(), value });
    }
}

/// One `L:bytes,` netstring: its content and what follows.
fn netstring(buf: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let colon = buf.iter().take(8).position(|&b| b == b':').ok_or(WireError::BadLength)?;
    let digits = &buf[..colon];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || (digits.len() > 1 && digits[0] == b'0') {
        return Err(WireError::BadLength);
    }
    // At most 7 digits (checked by take(8)), so this cannot overflow.
    let len: usize = std::str::from_utf8(digits).map_err(|_| WireError::BadLength)?.parse().map_err(|_| WireError::BadLength)?;
    let start = colon + 1;
    let end = start.checked_add(len).ok_or(WireError::BadLength)?;
    if end >= buf.len() {
        return Err(WireError::Truncated);
    }
    if buf[end] != b',' {
        return Err(WireError::BadLength);
    }
    Ok((&buf[start..end], &buf[end + 1..]))
}

/// Parses the classic text form (`>>>\n` … `<<<\n`), which a 3.0.6 receiver also accepts.
pub fn parse_classic(buf: &[u8]) -> Result<Message, WireError> {
    if buf.len() > MAXMSG {
        return Err(WireError::TooLarge(buf.len()));
    }
    let body = buf.strip_prefix(b">>>\n").ok_or(WireError::NoHeader)?;
    let mut msg = Message::new();
    for line in body.split(|&b| b == b'\n' || b == b'\r') {
        if line.is_empty() {
            continue;
        }
        if line == b"<<<" {
            return Ok(msg);
        }
        let (t, rest) = match line {
            [b'(', t @ b'0'..=b'9', b')', rest @ ..] => (t - b'0', rest),
            _ => (0, line),
        };
        let eq = rest.iter().position(|&b| b == b'=').ok_or(WireError::BadField("no '='"))?;
        let (name, value) = (&rest[..eq], &rest[eq + 1..]);
        let value = match t {
            0 => Value::Str(value.to_vec()),
            1 => Value::Binary(B64.decode(value).map_err(|_| WireError::BadField("bad base64"))?),
            t => Value::Other(t, value.to_vec()),
        };
        msg.fields.push(Field { name: name.to_vec(), value });
    }
    Err(WireError::Truncated)
}
