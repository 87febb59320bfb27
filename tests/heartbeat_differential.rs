//! Differential test: `heartbeat check-config --kind ha.cf` and `--kind authkeys` must accept and
//! refuse the same files as Heartbeat 3.0.6.
//!
//! The truth is `tests/data/heartbeat-diff/KIND/EXPECTED.tsv` (`file verdict note`), recorded by
//! running the real daemon (`heartbeat -f`, Debian 12 package 3.0.6) on every file in a fixed
//! throwaway environment (`tests/differential/record-heartbeat.sh`: hostname `nodea`, eth0/eth1
//! with IPv4 addresses, a known /etc/hosts, a valid authkeys and haresources next to each ha.cf,
//! a valid ha.cf next to each authkeys). So this test needs neither Heartbeat nor root.
//! Heartbeat prints no line numbers, so only the verdict is compared; for an invalid file, one of
//! our error lines must name the file (`FILE:LINE: message` or `FILE: message`).
//!
//! `tests/data/heartbeat-diff/KIND/DIFFERENCES.tsv` (`file kind ours reason`) lists the files
//! where heartbeat-rs differs on purpose (`deliberate`) or because Heartbeat's verdict depends on
//! the machine (`environment`: interfaces, DNS, devices, installed Pacemaker daemons; we look none
//! of them up while parsing). For those rows our documented verdict is asserted instead: `valid`,
//! `invalid`, or `warning` (valid, with a warning naming the file).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kinds compared: `--kind` value (= data sub-directory) and file extension.
const KINDS: &[(&str, &str, usize)] = &[("ha.cf", "cf", 150), ("authkeys", "authkeys", 40)];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/heartbeat-diff")
}

/// The rows of a TSV file with a header line, split on tabs.
fn tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    /// Refused, with at least one error naming the file.
    Invalid,
    /// Accepted, with at least one warning naming the file.
    Warning,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Warning => "valid with a warning",
        })
    }
}

fn verdict(word: &str, row: &str) -> Verdict {
    match word {
        "valid" => Verdict::Valid,
        "invalid" => Verdict::Invalid,
        "warning" => Verdict::Warning,
        other => panic!("{row}: unknown verdict {other:?}"),
    }
}

/// What `heartbeat check-config` said about one file.
struct Outcome {
    code: Option<i32>,
    errors: usize,
    warnings: usize,
    stderr: String,
}

fn check(kind: &str, path: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .args(["check-config", "--quiet", "--kind", kind])
        .arg(path)
        .output()
        .expect("run heartbeat check-config");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let shown = format!("{}:", path.display());
    let (mut errors, mut warnings) = (0, 0);
    for l in stderr.lines() {
        let Some(rest) = l.strip_prefix(&shown) else { continue };
        // `FILE:LINE: message` or `FILE: message`.
        let rest = match rest.split_once(':') {
            Some((n, msg)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => msg,
            _ => rest,
        };
        if rest.trim_start().starts_with("warning:") {
            warnings += 1;
        } else {
            errors += 1;
        }
    }
    Outcome { code: out.status.code(), errors, warnings, stderr }
}

fn matches(o: &Outcome, want: Verdict) -> bool {
    match want {
        Verdict::Valid => o.code == Some(0),
        Verdict::Invalid => o.code == Some(1) && o.errors > 0,
        Verdict::Warning => o.code == Some(0) && o.warnings > 0,
    }
}

/// Compares one kind; returns (problems, files compared with Heartbeat, files in DIFFERENCES.tsv).
fn compare(kind: &str, ext: &str, min_rows: usize) -> (Vec<String>, usize, usize) {
    let dir = data_dir().join(kind);
    let expected = tsv(&dir.join("EXPECTED.tsv"));
    let differences: BTreeMap<String, (String, Verdict, String)> = tsv(&dir.join("DIFFERENCES.tsv"))
        .into_iter()
        .map(|c| {
            assert_eq!(c.len(), 4, "{kind}/DIFFERENCES.tsv row {c:?} needs 4 columns");
            assert!(
                c[1] == "deliberate" || c[1] == "environment",
                "{kind}/DIFFERENCES.tsv {}: kind must be deliberate or environment",
                c[0]
            );
            (c[0].clone(), (c[1].clone(), verdict(&c[2], &c[0]), c[3].clone()))
        })
        .collect();

    let mut problems = Vec::new();
    let mut recorded = BTreeSet::new();
    let (mut same, mut different) = (0, 0);
    for c in &expected {
        assert!(c.len() >= 2, "{kind}/EXPECTED.tsv row {c:?} needs at least 2 columns");
        let file = &c[0];
        recorded.insert(file.clone());
        let truth = verdict(&c[1], file);
        assert!(truth != Verdict::Warning, "{kind}/EXPECTED.tsv {file}: Heartbeat's verdict is valid or invalid");
        let note = c.get(2).map(String::as_str).unwrap_or("");
        let got = check(kind, &dir.join(file));
        let shown_err = || {
            let s: Vec<&str> = got.stderr.lines().take(4).collect();
            if s.is_empty() { "(nothing on stderr)".to_owned() } else { s.join("\n      ") }
        };
        match differences.get(file) {
            None => {
                same += 1;
                if !matches(&got, truth) {
                    problems.push(format!(
                        "{kind}/{file}: Heartbeat 3.0.6: {truth}{}\n    heartbeat-rs (exit {:?}): {}",
                        if note.is_empty() { String::new() } else { format!(" ({note})") },
                        got.code,
                        shown_err()
                    ));
                }
            }
            Some((why, ours, reason)) => {
                different += 1;
                if !matches(&got, *ours) {
                    problems.push(format!(
                        "{kind}/{file}: DIFFERENCES.tsv ({why}: {reason}) documents heartbeat-rs as {ours}\n    heartbeat-rs (exit {:?}): {}",
                        got.code,
                        shown_err()
                    ));
                } else if matches(&got, truth) && *ours != Verdict::Warning {
                    problems.push(format!(
                        "{kind}/{file}: listed in DIFFERENCES.tsv but heartbeat-rs now agrees with Heartbeat 3.0.6 ({truth}); drop the row"
                    ));
                }
            }
        }
    }

    for f in differences.keys().filter(|f| !recorded.contains(*f)) {
        problems.push(format!("{kind}/{f}: in DIFFERENCES.tsv but not in EXPECTED.tsv"));
    }
    let suffix = format!(".{ext}");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(&suffix))
        .collect();
    on_disk.sort();
    for f in on_disk.iter().filter(|f| !recorded.contains(*f)) {
        problems.push(format!("{kind}/{f}: no row in EXPECTED.tsv (re-record with tests/differential/record-heartbeat.sh)"));
    }
    for f in recorded.iter().filter(|f| !on_disk.contains(f)) {
        problems.push(format!("{kind}/{f}: in EXPECTED.tsv but the file is missing"));
    }
    assert!(expected.len() >= min_rows, "only {} rows in {kind}/EXPECTED.tsv", expected.len());
    (problems, same, different)
}

#[test]
fn ha_cf_and_authkeys_verdicts_match_heartbeat_3_0_6() {
    let mut problems = Vec::new();
    let mut summary = Vec::new();
    let mut total = 0;
    for &(kind, ext, min_rows) in KINDS {
        let (p, same, different) = compare(kind, ext, min_rows);
        total += same + different;
        summary.push(format!("{kind}: {same} compared with Heartbeat 3.0.6, {different} with DIFFERENCES.tsv, {} disagree", p.len()));
        problems.extend(p);
    }
    assert!(
        problems.is_empty(),
        "{} of {total} files disagree with Heartbeat 3.0.6 ({}):\n{}",
        problems.len(),
        summary.join("; "),
        problems.join("\n")
    );
    eprintln!("{total} files: {}", summary.join("; "));
}
