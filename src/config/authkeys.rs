//! `authkeys` → [`AuthKeys`]: which method signs outgoing heartbeats and which slots are
//! accepted. Pure: the file mode is passed in as data by `load`.
//!
//! Grammar (Heartbeat 3.0.6, read and run): a line whose first non-blank is `#` is a comment,
//! blank lines are skipped, `auth N` selects the outbound slot, `N crc` / `N sha1 KEY` /
//! `N md5 KEY` define slot N (0 ≤ N < 16). A key is one word; what follows it is ignored. The
//! outbound method is bound when a key line's number equals the `auth` in force, so `auth` must
//! come first, as in Heartbeat.

use std::collections::BTreeMap;
use std::fmt;

use super::diag::{Diagnostics, Parsed, quote};
use super::source::{decode, is_blank, lines, words};

/// Highest slot number plus one; Heartbeat keeps 16 method slots.
pub const SLOTS: u8 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Crc,
    Sha1,
    Md5,
}

impl AuthMethod {
    fn from_word(word: &str) -> Option<AuthMethod> {
        match word {
            "crc" => Some(AuthMethod::Crc),
            "sha1" => Some(AuthMethod::Sha1),
            "md5" => Some(AuthMethod::Md5),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Crc => "crc",
            AuthMethod::Sha1 => "sha1",
            AuthMethod::Md5 => "md5",
        }
    }

    /// crc has no key; sha1 and md5 are HMACs and need one.
    pub fn needs_key(self) -> bool {
        self != AuthMethod::Crc
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One method slot.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    pub slot: u8,
    pub method: AuthMethod,
    /// The literal key word (no hex decoding, as Heartbeat reads it); `None` for crc.
    pub key: Option<String>,
    pub line: usize,
}

// Keys are secrets: never print them, even in debug output.
impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKey")
            .field("slot", &self.slot)
            .field("method", &self.method)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("line", &self.line)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthKeys {
    /// The slot that signs what we send (`auth N`).
    pub active: u8,
    /// Every slot defined; any of them is accepted on receive.
    pub keys: BTreeMap<u8, AuthKey>,
}

impl AuthKeys {
    pub fn active_key(&self) -> &AuthKey {
        // Invariant established by `parse`: the active slot is defined.
        &self.keys[&self.active]
    }
}

/// How strictly the file mode is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeRule {
    /// On the node (`heartbeat run`, `check-config --config-dir`): a readable-by-others key file
    /// is refused, as Heartbeat 3.0.6 refuses it.
    Enforce,
    /// Checking a copy of a file (`check-config --kind`): its mode says nothing about the node.
    Warn,
}

/// Parses an authkeys file. `mode` is the file's permission bits when known.
pub fn parse(file: &str, bytes: &[u8], mode: Option<u32>, rule: ModeRule) -> Parsed<AuthKeys> {
    let mut diags = Diagnostics::new(file);
    if let Some(mode) = mode {
        // Heartbeat refuses a key file that group or others can read (mode & 044).
        if mode & 0o077 != 0 {
            let msg = format!("permissions {:04o} let other users read the keys; expected 0600 (chmod 600 {file})", mode & 0o7777);
            match rule {
                ModeRule::Enforce if mode & 0o044 != 0 => diags.error(None, msg),
                _ => diags.warn(None, msg),
            }
        }
    }

    let text = decode(bytes);
    // The `auth N` in force, and the slot it has bound (Heartbeat binds when it reads a key line
    // whose number equals the current `auth`).
    let mut current_auth: Option<(u8, usize)> = None;
    let mut bound: Option<u8> = None;
    let mut keys: BTreeMap<u8, AuthKey> = BTreeMap::new();
    for (line_no, raw) in lines(&text) {
        let line = raw.trim_start_matches(is_blank);
        // Only whole-line comments: Heartbeat has no inline comment syntax here.
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('a') {
            match line.strip_prefix("auth").map(|r| r.trim_start_matches(is_blank)).and_then(leading_number) {
                Some((n, rest)) => match u8::try_from(n).ok().filter(|&s| s < SLOTS) {
                    Some(slot) => {
                        if !rest.trim_matches(is_blank).is_empty() && !rest.trim_start_matches(is_blank).starts_with('#') {
                            diags.warn(
                                line_no,
                                format!("ignoring {} after \"auth {slot}\", as Heartbeat does", quote(rest.trim_matches(is_blank))),
                            );
                        }
                        current_auth = Some((slot, line_no));
                    }
                    None => diags.error(line_no, format!("auth {n} is out of range; expected \"auth N\" with N from 0 to 15")),
                },
                None => diags.error(line_no, format!("invalid auth line {}; expected \"auth N\" with N from 0 to 15", quote(line))),
            }
            continue;
        }
        let Some((n, rest)) = leading_number(line) else {
            diags.error(line_no, format!("unexpected {}; expected \"auth N\" or \"N crc|sha1 KEY|md5 KEY\"", quote(line)));
            continue;
        };
        let Some(slot) = u8::try_from(n).ok().filter(|&s| s < SLOTS) else {
            diags.error(line_no, format!("slot number {n} is out of range; expected 0 to 15"));
            continue;
        };
        let mut w = words(rest);
        let Some(method_word) = w.next() else {
            diags.error(line_no, format!("slot {slot} has no method; expected \"{slot} crc\", \"{slot} sha1 KEY\" or \"{slot} md5 KEY\""));
            continue;
        };
        let Some(method) = AuthMethod::from_word(method_word) else {
            diags.error(line_no, format!("unknown authentication method {}; expected crc, sha1 or md5 (lower case)", quote(method_word)));
            continue;
        };
        let key = w.next();
        match (method.needs_key(), key) {
            (true, None) => {
                diags.error(line_no, format!("{method} needs a key; expected \"{slot} {method} KEY\""));
                continue;
            }
            (false, Some(k)) => {
                diags.error(
                    line_no,
                    format!(
                        "crc takes no key, and Heartbeat 3.0.6 refuses one; found {} (a comment here counts as a key too)",
                        quote_secret(k)
                    ),
                );
                continue;
            }
            _ => {}
        }
        if w.next().is_some() {
            // Heartbeat reads the key as one word and ignores the rest of the line.
            diags.warn(line_no, "ignoring text after the key, as Heartbeat does; a key is a single word");
        }
        if let Some(prev) = keys.get(&slot) {
            diags.warn(line_no, format!("slot {slot} is defined again; this replaces line {}", prev.line));
        }
        keys.insert(slot, AuthKey { slot, method, key: key.map(str::to_owned), line: line_no });
        if current_auth.is_some_and(|(a, _)| a == slot) {
            bound = Some(slot);
        }
    }

    let active_slot = match (current_auth, bound) {
        (None, _) => {
            diags.error(None, "no \"auth N\" line; expected one selecting the method used to sign heartbeats");
            0
        }
        (Some((slot, line_no)), None) => {
            let msg = match keys.get(&slot) {
                Some(k) => format!(
                    "\"auth {slot}\" comes after the line defining slot {slot} (line {}); Heartbeat binds the method only when \"auth\" comes first, so move \"auth {slot}\" above it",
                    k.line
                ),
                None => {
                    format!("\"auth {slot}\" selects slot {slot}, which no line defines; expected a line \"{slot} crc|sha1 KEY|md5 KEY\"")
                }
            };
            diags.error(line_no, msg);
            slot
        }
        (Some((a, line_no)), Some(slot)) => {
            if a != slot {
                diags.warn(
                    line_no,
                    format!("\"auth {a}\" has no key line after it, so slot {slot} (bound earlier) keeps signing, as in Heartbeat"),
                );
            }
            if keys[&slot].method == AuthMethod::Crc {
                diags
                    .warn(keys[&slot].line, "crc authentication gives no protection against forged heartbeats; use sha1 with a secret key");
            } else {
                // Every slot is accepted on receive, so a leftover crc line lets anyone forge.
                for k in keys.values().filter(|k| k.method == AuthMethod::Crc) {
                    diags.warn(
                        k.line,
                        format!(
                            "slot {} uses crc: heartbeats signed with it are accepted too, and anyone can forge them; remove the line",
                            k.slot
                        ),
                    );
                }
            }
            slot
        }
    };
    diags.finish(AuthKeys { active: active_slot, keys })
}

/// A leading decimal number as C's `%d` reads it (an optional sign, any number of digits) and
/// the rest of the text. Values beyond `i64` saturate; they are out of range either way.
fn leading_number(s: &str) -> Option<(i64, &str)> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let digits = body[..end].trim_start_matches('0');
    let magnitude = if digits.is_empty() { 0 } else { digits.parse::<i64>().unwrap_or(i64::MAX) };
    Some((if negative { -magnitude } else { magnitude }, &body[end..]))
}

/// Keys never appear in messages, only their length.
fn quote_secret(key: &str) -> String {
    format!("a {}-character key", key.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> AuthKeys {
        parse("authkeys", text.as_bytes(), Some(0o600), ModeRule::Enforce).unwrap_or_else(|e| panic!("{e:?}")).value
    }

    fn errors(text: &str, mode: u32) -> Vec<String> {
        match parse("authkeys", text.as_bytes(), Some(mode), ModeRule::Enforce) {
            Ok(_) => vec![],
            Err(d) => d.iter().filter(|d| d.is_error()).map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn typical_files() {
        let k = ok("auth 2 # or 3 md5\n3 md5 secret\n2 crc\n");
        assert_eq!(k.active, 2);
        assert_eq!(k.active_key().method, AuthMethod::Crc);
        assert_eq!(k.keys[&3].key.as_deref(), Some("secret"));
        let k = ok("auth 1\n1 sha1 5b67=");
        assert_eq!(k.active_key().key.as_deref(), Some("5b67="));
    }

    #[test]
    fn refusals() {
        assert_eq!(errors("", 0o600), vec!["authkeys: no \"auth N\" line; expected one selecting the method used to sign heartbeats"]);
        assert_eq!(errors("auth 3\n1 sha1 k\n", 0o600).len(), 1);
        assert!(errors("auth 1\n1 sha1\n", 0o600)[0].starts_with("authkeys:2: sha1 needs a key"));
        assert!(errors("auth 1\n1 sha256 k\n", 0o600)[0].contains("unknown authentication method"));
        assert!(errors("auth 16\n16 crc\n", 0o600).iter().any(|e| e.contains("from 0 to 15")));
        assert!(errors("auth 1\n1 sha1 k\n", 0o644)[0].contains("permissions 0644"));
        assert!(errors("auth 1\n1 sha1 k\n", 0o600).is_empty());
    }

    #[test]
    fn heartbeat_binding_rules() {
        // `auth` must come before its key line.
        assert!(errors("1 sha1 k\nauth 1\n", 0o600)[0].starts_with("authkeys:2: \"auth 1\" comes after"));
        // A later `auth` with no key line after it keeps the earlier binding.
        assert_eq!(ok("auth 1\n1 sha1 a\nauth 3\n").active, 1);
        assert_eq!(ok("auth1\n1 sha1 my key\n").active_key().key.as_deref(), Some("my"));
        assert!(errors("auth 2\n2 crc # no key\n", 0o600)[0].contains("crc takes no key"));
        assert!(errors("auth 1\n1 SHA1 k\n", 0o600)[0].contains("lower case"));
        assert!(errors("auth x\n", 0o600)[0].starts_with("authkeys:1: invalid auth line"));
    }

    #[test]
    fn mode_is_only_a_warning_for_copies() {
        let r = parse("a", b"auth 1\n1 crc\n", Some(0o444), ModeRule::Warn).unwrap();
        assert!(r.warnings.iter().any(|w| w.message.contains("0444")));
    }

    #[test]
    fn debug_output_hides_keys() {
        let k = ok("auth 1\n1 sha1 topsecret\n");
        assert!(!format!("{k:?}").contains("topsecret"));
    }
}
