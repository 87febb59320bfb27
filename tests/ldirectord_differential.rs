//! Differential test: `heartbeat check-config --kind ldirectord.cf` must accept and refuse the
//! same files as ldirectord 4.12, at the same line.
//!
//! The truth is `tests/data/ldirectord-diff/EXPECTED.tsv` (`file verdict line note`), recorded by
//! running the real ldirectord 4.12 on every file (`tests/differential/record-ldirectord.sh`), so
//! this test needs neither ldirectord nor root. For an invalid file, one of our error lines must
//! carry the line 4.12 reports (4.12 stops at its first error; we may report more).
//!
//! `tests/data/ldirectord-diff/DIFFERENCES.tsv` (`file kind ours line reason`) lists the files
//! where heartbeat-rs differs on purpose (`deliberate`) or because 4.12's verdict depends on the
//! machine it runs on (`environment`: DNS, /etc/services, files; we never look them up while
//! parsing). For those rows our documented behaviour is asserted instead: `valid`, `invalid` at
//! `line`, or `warning` (valid, with a warning at `line`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ldirectord-diff")
}

/// The rows of a TSV file with a header line, split on tabs.
fn tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Valid,
    /// Refused, with an error at this line.
    Invalid(usize),
    /// Accepted, with a warning at this line.
    Warning(usize),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Valid => f.write_str("valid"),
            Verdict::Invalid(n) => write!(f, "invalid at line {n}"),
            Verdict::Warning(n) => write!(f, "valid with a warning at line {n}"),
        }
    }
}

fn verdict(word: &str, line: &str, row: &str) -> Verdict {
    let n = || line.parse::<usize>().unwrap_or_else(|_| panic!("{row}: {word} needs a line number, found {line:?}"));
    match word {
        "valid" => Verdict::Valid,
        "invalid" => Verdict::Invalid(n()),
        "warning" => Verdict::Warning(n()),
        other => panic!("{row}: unknown verdict {other:?}"),
    }
}

/// What `heartbeat check-config` said about one file.
struct Outcome {
    code: Option<i32>,
    error_lines: BTreeSet<usize>,
    warning_lines: BTreeSet<usize>,
    stderr: String,
}

fn check(path: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .args(["check-config", "--quiet", "--kind", "ldirectord.cf"])
        .arg(path)
        .output()
        .expect("run heartbeat check-config");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let shown = format!("{}:", path.display());
    let (mut error_lines, mut warning_lines) = (BTreeSet::new(), BTreeSet::new());
    for l in stderr.lines() {
        let Some((n, msg)) = l.strip_prefix(&shown).and_then(|r| r.split_once(": ")) else { continue };
        let Ok(n) = n.parse::<usize>() else { continue };
        if msg.starts_with("warning:") {
            warning_lines.insert(n);
        } else {
            error_lines.insert(n);
        }
    }
    Outcome { code: out.status.code(), error_lines, warning_lines, stderr }
}

fn matches(o: &Outcome, want: &Verdict) -> bool {
    match want {
        Verdict::Valid => o.code == Some(0),
        Verdict::Invalid(n) => o.code == Some(1) && o.error_lines.contains(n),
        Verdict::Warning(n) => o.code == Some(0) && o.warning_lines.contains(n),
    }
}

#[test]
fn ldirectord_cf_verdicts_match_ldirectord_4_12() {
    let dir = data_dir();
    let expected = tsv(&dir.join("EXPECTED.tsv"));
    let differences: BTreeMap<String, (String, Verdict, String)> = tsv(&dir.join("DIFFERENCES.tsv"))
        .into_iter()
        .map(|c| {
            assert_eq!(c.len(), 5, "DIFFERENCES.tsv row {c:?} needs 5 columns");
            assert!(c[1] == "deliberate" || c[1] == "environment", "DIFFERENCES.tsv {}: kind must be deliberate or environment", c[0]);
            (c[0].clone(), (c[1].clone(), verdict(&c[2], &c[3], &c[0]), c[4].clone()))
        })
        .collect();

    let mut problems = Vec::new();
    let mut recorded = BTreeSet::new();
    let (mut same, mut different) = (0, 0);
    for c in &expected {
        assert!(c.len() >= 3, "EXPECTED.tsv row {c:?} needs at least 3 columns");
        let file = &c[0];
        recorded.insert(file.clone());
        let truth = verdict(&c[1], &c[2], file);
        let note = c.get(3).map(String::as_str).unwrap_or("");
        let path = dir.join(file);
        let got = check(&path);
        let shown_err = || {
            let s: Vec<&str> = got.stderr.lines().take(4).collect();
            if s.is_empty() { "(nothing on stderr)".to_owned() } else { s.join("\n      ") }
        };
        match differences.get(file) {
            None => {
                same += 1;
                if !matches(&got, &truth) {
                    problems.push(format!(
                        "{file}: ldirectord 4.12: {truth}{}\n    heartbeat-rs (exit {:?}): {}",
                        if note.is_empty() { String::new() } else { format!(" ({note})") },
                        got.code,
                        shown_err()
                    ));
                }
            }
            Some((kind, ours, reason)) => {
                different += 1;
                if !matches(&got, ours) {
                    problems.push(format!(
                        "{file}: DIFFERENCES.tsv ({kind}: {reason}) documents heartbeat-rs as {ours}\n    heartbeat-rs (exit {:?}): {}",
                        got.code,
                        shown_err()
                    ));
                } else if matches(&got, &truth) && !matches!(ours, Verdict::Warning(_)) {
                    problems.push(format!(
                        "{file}: listed in DIFFERENCES.tsv but heartbeat-rs now agrees with ldirectord 4.12 ({truth}); drop the row"
                    ));
                }
            }
        }
    }

    for f in differences.keys().filter(|f| !recorded.contains(*f)) {
        problems.push(format!("{f}: in DIFFERENCES.tsv but not in EXPECTED.tsv"));
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cf"))
        .collect();
    on_disk.sort();
    for f in on_disk.iter().filter(|f| !recorded.contains(*f)) {
        problems.push(format!("{f}: no row in EXPECTED.tsv (re-record with tests/differential/record-ldirectord.sh)"));
    }
    for f in recorded.iter().filter(|f| !on_disk.contains(f)) {
        problems.push(format!("{f}: in EXPECTED.tsv but the file is missing"));
    }

    assert!(expected.len() >= 200, "only {} rows in EXPECTED.tsv", expected.len());
    assert!(
        problems.is_empty(),
        "{} of {} ldirectord.cf files disagree with ldirectord 4.12 ({same} compared with 4.12, {different} with DIFFERENCES.tsv):\n{}",
        problems.len(),
        expected.len(),
        problems.join("\n")
    );
    eprintln!("{} ldirectord.cf files: {same} agree with ldirectord 4.12, {different} differ as documented", expected.len());
}
