//! The packets captured from two real Heartbeat 3.0.6 daemons (`shared/reference/heartbeat-
//! vectors/*/capture.txt`, read in place) are test vectors: each must parse, authenticate with
//! the capture's authkeys, and re-encode (and re-sign) to the very same bytes.

use std::path::{Path, PathBuf};

use heartbeat_rs::config::authkeys::{self, AuthKeys, ModeRule};
use heartbeat_rs::wire::auth::{sign, verify, verify_inner};
use heartbeat_rs::wire::message::{parse_classic, parse_datagram};

fn vectors_dir() -> Option<PathBuf> {
    let d = std::env::var_os("HEARTBEAT_RS_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/heartbeat-vectors"));
    d.is_dir().then_some(d)
}

/// Undoes capture.txt's escaping: `\n` printed then a real line break, `\xNN`, `\\`.
fn unescape(text: &str) -> Vec<u8> {
    let joined: String = text.lines().collect();
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                }
                b'r' => {
                    out.push(b'\r');
                    i += 2;
                }
                b't' => {
                    out.push(b'\t');
                    i += 2;
                }
                b'\\' => {
                    out.push(b'\\');
                    i += 2;
                }
                b'x' if i + 3 < b.len() => {
                    out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 2..i + 4]).unwrap(), 16).unwrap());
                    i += 4;
                }
                _ => {
                    out.push(b'\\');
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Every datagram of a capture: its header line (`#N time UTC src -> dst len=L`), declared
/// length and bytes.
fn datagrams(capture: &str) -> Vec<(String, usize, Vec<u8>)> {
    let mut out = Vec::new();
    for chunk in capture.split("=== #").skip(1) {
        let (header, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
        // The file ends with a summary line ("=== 171 datagrams"), not part of the payload.
        let body = body.split("\n=== ").next().unwrap_or_default();
        let len = header.rsplit("len=").next().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
        out.push((format!("#{header}"), len, unescape(body)));
    }
    out
}

fn keys(dir: &Path) -> AuthKeys {
    // Every capture uses the same key table; take any authkeys file of the directory.
    let path = ["authkeys", "authkeys.nodea"].iter().map(|n| dir.join(n)).find(|p| p.is_file()).expect("authkeys");
    let text = std::fs::read(&path).unwrap();
    let mut k = authkeys::parse("authkeys", &text, Some(0o600), ModeRule::Enforce).unwrap().value;
    // Accept every slot: mixed-auth captures sign with different slots per node.
    k.active = *k.keys.keys().next().unwrap();
    k
}

#[test]
fn captured_datagrams_parse_verify_and_reencode_byte_for_byte() {
    let Some(root) = vectors_dir() else {
        eprintln!("SKIPPED: heartbeat vectors not found (../shared/reference/heartbeat-vectors or HEARTBEAT_RS_VECTORS)");
        return;
    };
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap().filter_map(Result::ok) {
        let dir = entry.path();
        let Ok(capture) = std::fs::read_to_string(dir.join("capture.txt")) else { continue };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut keys = keys(&dir);
        for (id, len, bytes) in datagrams(&capture) {
            if bytes.len() != len {
                problems.push(format!("{name} {id}: unescaped {} bytes, capture says {len}", bytes.len()));
                continue;
            }
            checked += 1;
            if bytes.starts_with(b">>>") {
                // Serial: classic form, inner auth only.
                match parse_classic(&bytes) {
                    Ok(m) if verify_inner(&m, &keys) => {
                        if m.classic() != bytes {
                            problems.push(format!("{name} {id}: classic re-encoding differs"));
                        }
                    }
                    Ok(_) => problems.push(format!("{name} {id}: inner auth does not verify")),
                    Err(e) => problems.push(format!("{name} {id}: {e}")),
                }
                continue;
            }
            let d = match parse_datagram(&bytes) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!("{name} {id}: {e}"));
                    continue;
                }
            };
            // The interop capture's first phase sends deliberately corrupted outer auth from the
            // fake peer (10.251.0.2) until 13:58:10: those must be refused.
            let corrupted = name == "interop-fakepeer-sha1"
                && id.contains("10.251.0.2:")
                && id.split_whitespace().nth(1).is_some_and(|t| t < "13:58:10");
            if corrupted {
                if verify(&bytes, &keys).is_ok() {
                    problems.push(format!("{name} {id}: a corrupted datagram was accepted"));
                }
                continue;
            }
            let mut message = match verify(&bytes, &keys) {
                Ok(m) => m,
                Err(e) => {
                    problems.push(format!("{name} {id}: {e}"));
                    continue;
                }
            };
            if !verify_inner(&message, &keys) {
                problems.push(format!("{name} {id}: inner auth does not verify"));
            }
            if message.netstring_body() != d.signed {
                problems.push(format!("{name} {id}: netstring re-encoding differs"));
            }
            // Signing the same fields with the same slot gives the captured datagram back.
            keys.active = d.auth_slot;
            if sign(&mut message, &keys) != bytes {
                problems.push(format!("{name} {id}: re-signed datagram differs"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems in {checked} datagrams:\n{}",
        problems.len(),
        problems.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(checked > 100, "only {checked} datagrams checked");
    eprintln!("checked {checked} captured datagrams");
}
