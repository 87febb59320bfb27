//! Bad input never panics and never hangs: arbitrary bytes, and valid files with random damage,
//! go through every parser, which must return a value or diagnostics naming the file.

use heartbeat_rs::config::authkeys::{self, ModeRule};
use heartbeat_rs::config::{Diagnostic, Parsed, ha_cf, haresources, ldirectord_cf};
use proptest::prelude::*;

const HA_CF: &str = "logfile /var/log/ha-log\nlogfacility local0\nkeepalive 2\ndeadtime 10\nwarntime 6\ninitdead 60\nudpport 694\nbcast eth1\nmcast eth0 239.0.0.1 694 1 0\nucast eth0 10.0.0.2\nnode a b\nping 10.0.0.1\nauto_failback on\n";
const HARESOURCES: &str = "a 10.0.0.5 IPaddr::10.0.0.6/24/eth0:1 Filesystem::/dev/sdb1::/srv::ext4 \\\n  ldirectord::ldirectord.cf httpd\n";
const AUTHKEYS: &str = "auth 1\n1 sha1 secret\n2 md5 other\n3 crc\n";
const LDIRECTORD: &str = "checktimeout=3\ncheckinterval=5\nquiescent=yes\nvirtual=10.0.0.5:80\n\treal=10.0.1.1:80 gate 3 \"/a\", \"OK\" l:1 u:9\n\treal=10.0.1.2->10.0.1.9:80 masq\n\tservice=http\n\trequest=\"/h\"\n\treceive=\"OK\"\n\tscheduler=wlc\n\tfallback=127.0.0.1:80 gate\nvirtual6=[2001:db8::1]:443\n\treal6=[2001:db8::2]:443 gate\n";

/// Runs every parser on the bytes and checks the shape of what comes back.
fn all_parsers(bytes: &[u8]) {
    check(ha_cf::parse("f", bytes));
    check(haresources::parse("f", bytes));
    check(authkeys::parse("f", bytes, Some(0o600), ModeRule::Enforce));
    check(ldirectord_cf::parse("f", bytes));
}

fn check<T>(p: Parsed<T>) {
    let diags: Vec<Diagnostic> = match p {
        Ok(c) => {
            assert!(c.warnings.iter().all(|d| !d.is_error()), "an accepted file carries an error");
            c.warnings
        }
        Err(d) => {
            assert!(d.iter().any(Diagnostic::is_error), "a refused file has no error");
            d
        }
    };
    for d in diags {
        let text = d.to_string();
        assert!(text.starts_with("f:") || text.starts_with("f: "), "diagnostic without the file: {text}");
        assert!(!text.contains('\n'), "diagnostic spans lines: {text:?}");
        assert!(text.len() < 2000, "diagnostic is unbounded: {} bytes", text.len());
    }
}

/// Damages a valid file: deletes, duplicates or replaces a byte range.
fn mutate(base: &str, edits: &[(usize, usize, Vec<u8>)]) -> Vec<u8> {
    let mut b = base.as_bytes().to_vec();
    for (at, len, with) in edits {
        let at = at % (b.len() + 1);
        let end = (at + len % 8).min(b.len());
        b.splice(at..end, with.iter().copied());
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        all_parsers(&bytes);
    }

    #[test]
    fn damaged_files_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<usize>(), proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\t'), Just(b'\n'), Just(b'\r'), Just(b'#'), Just(b'"'), Just(b':'), Just(b'='), Just(b'/'), Just(b'\\'), Just(b'-'), Just(b'>'), Just(b'['), Just(b']'), Just(b'0'), Just(b'9'), any::<u8>()], 0..6)), 1..6),
    ) {
        let base = [HA_CF, HARESOURCES, AUTHKEYS, LDIRECTORD][which];
        all_parsers(&mutate(base, &edits));
    }

    #[test]
    fn valid_ldirectord_lines_keep_their_meaning_with_crlf(crlf in any::<bool>()) {
        let text = if crlf { LDIRECTORD.replace('\n', "\r\n") } else { LDIRECTORD.to_owned() };
        let c = ldirectord_cf::parse("f", text.as_bytes()).unwrap().value;
        prop_assert_eq!(c.virtuals.len(), 2);
        prop_assert_eq!(c.virtuals[0].reals.len(), 2);
    }
}

#[test]
fn samples_parse() {
    for (name, text) in [("ha.cf", HA_CF), ("haresources", HARESOURCES), ("authkeys", AUTHKEYS), ("ldirectord.cf", LDIRECTORD)] {
        let b = text.as_bytes();
        let ok = match name {
            "ha.cf" => ha_cf::parse("f", b).is_ok(),
            "haresources" => haresources::parse("f", b).is_ok(),
            "authkeys" => authkeys::parse("f", b, Some(0o600), ModeRule::Enforce).is_ok(),
            _ => ldirectord_cf::parse("f", b).is_ok(),
        };
        assert!(ok, "sample {name} must parse");
    }
}

#[test]
fn huge_inputs_are_linear() {
    // A 10 MB line, a file of 200,000 lines, deep continuation chains: all finish.
    let long_line = vec![b'x'; 10 * 1024 * 1024];
    all_parsers(&long_line);
    let many = "node a\n".repeat(200_000);
    all_parsers(many.as_bytes());
    let chain = "a \\\n".repeat(100_000);
    all_parsers(chain.as_bytes());
    let reals = format!("virtual=1.2.3.4:80\n{}", "\treal=1.2.3.5:80 gate \"/x\", \"y\"\n".repeat(50_000));
    all_parsers(reals.as_bytes());
}
