//! Every corpus file gets the verdict of `EXPECTED.tsv` from `heartbeat check-config --kind`.
//!
//! The corpus lives outside the repository (`../shared/corpus`, or `$HEARTBEAT_RS_CORPUS`); when
//! it is absent the test says so and passes without checking anything.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HEARTBEAT_RS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    dir.join("EXPECTED.tsv").is_file().then_some(dir)
}

fn kind_of(file: &str) -> &'static str {
    match file.split('/').next() {
        Some("ha.cf") => "ha.cf",
        Some("haresources") => "haresources",
        Some("authkeys") => "authkeys",
        Some("ldirectord.cf") => "ldirectord.cf",
        other => panic!("unknown corpus kind {other:?}"),
    }
}

#[test]
fn corpus_verdicts_match_expected_tsv() {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIPPED: corpus not found (set HEARTBEAT_RS_CORPUS or put it at ../shared/corpus); no corpus file was checked");
        return;
    };
    let expected = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in expected.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let mut cols = row.split('\t');
        let (file, verdict) = (cols.next().unwrap(), cols.next().unwrap());
        let path = dir.join(file);
        let out = Command::new(env!("CARGO_BIN_EXE_heartbeat"))
            .args(["check-config", "--quiet", "--kind", kind_of(file)])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        let shown = path.display().to_string();
        let has_line_error = stderr.lines().any(|l| {
            l.strip_prefix(&shown)
                .and_then(|r| r.strip_prefix(':'))
                .and_then(|r| r.split_once(": "))
                .is_some_and(|(n, msg)| n.parse::<usize>().is_ok() && !msg.starts_with("warning:"))
        });
        let ok = match verdict {
            "valid" => code == Some(0),
            "invalid-line" => code == Some(1) && has_line_error,
            "invalid-file" => code == Some(1) && stderr.lines().any(|l| l.starts_with(&shown)),
            "either" => code == Some(0) || code == Some(1),
            v => panic!("unknown verdict {v}"),
        };
        checked += 1;
        if !ok {
            failures.push(format!("{file}: expected {verdict}, got exit {code:?}\n{stderr}"));
        }
    }
    assert!(checked > 100, "only {checked} corpus rows were read");
    assert!(failures.is_empty(), "{} of {checked} corpus files got the wrong verdict:\n{}", failures.len(), failures.join("\n"));
    eprintln!("checked {checked} corpus files against EXPECTED.tsv");
}
