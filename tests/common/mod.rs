//! Shared by the differential tests (`ldirectord_differential`, `heartbeat_differential`): running
//! `heartbeat check-config` on one file and judging the result against a recorded verdict.

use std::path::Path;
use std::process::Command;

/// The rows of a TSV file with a header line, split on tabs.
pub fn tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

/// A verdict on one file. The line is `None` when any line will do: Heartbeat prints no line
/// numbers, ldirectord does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// Refused, with an error naming the file (at this line, if given).
    Invalid(Option<usize>),
    /// Accepted, with a warning naming the file (at this line, if given).
    Warning(Option<usize>),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Valid => f.write_str("valid"),
            Verdict::Invalid(None) => f.write_str("invalid"),
            Verdict::Invalid(Some(n)) => write!(f, "invalid at line {n}"),
            Verdict::Warning(None) => f.write_str("valid with a warning"),
            Verdict::Warning(Some(n)) => write!(f, "valid with a warning at line {n}"),
        }
    }
}

/// Parses a verdict column; with `line` (a column that must hold a number for `invalid` and
/// `warning`), the verdict is pinned to that line.
pub fn verdict(word: &str, line: Option<&str>, row: &str) -> Verdict {
    let n = || line.map(|line| line.parse::<usize>().unwrap_or_else(|_| panic!("{row}: {word} needs a line number, found {line:?}")));
    match word {
        "valid" => Verdict::Valid,
        "invalid" => Verdict::Invalid(n()),
        "warning" => Verdict::Warning(n()),
        other => panic!("{row}: unknown verdict {other:?}"),
    }
}

/// What `heartbeat check-config` said about one file.
pub struct Outcome {
    pub code: Option<i32>,
    /// The line of each error naming the file (`None` for `FILE: message`).
    pub errors: Vec<Option<usize>>,
    /// The same for warnings.
    pub warnings: Vec<Option<usize>>,
    pub stderr: String,
}

impl Outcome {
    /// The start of stderr, for a problem message.
    fn stderr_head(&self) -> String {
        let s: Vec<&str> = self.stderr.lines().take(4).collect();
        if s.is_empty() { "(nothing on stderr)".to_owned() } else { s.join("\n      ") }
    }
}

/// Runs `heartbeat check-config --quiet --kind KIND FILE`.
pub fn check_config(kind: &str, path: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .args(["check-config", "--quiet", "--kind", kind])
        .arg(path)
        .output()
        .expect("run heartbeat check-config");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let shown = format!("{}:", path.display());
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    for l in stderr.lines() {
        let Some(rest) = l.strip_prefix(&shown) else { continue };
        // `FILE:LINE: message` or `FILE: message`.
        let (line, msg) = match rest.split_once(':') {
            Some((n, msg)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (n.parse().ok(), msg),
            _ => (None, rest),
        };
        if msg.trim_start().starts_with("warning:") {
            warnings.push(line);
        } else {
            errors.push(line);
        }
    }
    Outcome { code: out.status.code(), errors, warnings, stderr }
}

pub fn matches(o: &Outcome, want: Verdict) -> bool {
    // With no line wanted, any diagnostic of the right severity counts.
    let found = |lines: &[Option<usize>], n: Option<usize>| match n {
        None => !lines.is_empty(),
        Some(_) => lines.contains(&n),
    };
    match want {
        Verdict::Valid => o.code == Some(0),
        Verdict::Invalid(n) => o.code == Some(1) && found(&o.errors, n),
        Verdict::Warning(n) => o.code == Some(0) && found(&o.warnings, n),
    }
}

/// A DIFFERENCES.tsv row: how and why heartbeat-rs differs from the legacy program on a file.
pub struct Difference {
    /// `deliberate` or `environment`.
    pub kind: String,
    /// Our documented verdict, asserted instead of the legacy one.
    pub ours: Verdict,
    pub reason: String,
}

/// Judges `got` for the file shown as `file`: against `truth` (the `legacy` program's recorded
/// verdict, with its EXPECTED.tsv `note`), or against `difference` when the file has a
/// DIFFERENCES.tsv row. Returns the problem, if any.
pub fn judge(legacy: &str, file: &str, truth: Verdict, note: &str, difference: Option<&Difference>, got: &Outcome) -> Option<String> {
    match difference {
        None if !matches(got, truth) => Some(format!(
            "{file}: {legacy}: {truth}{}\n    heartbeat-rs (exit {:?}): {}",
            if note.is_empty() { String::new() } else { format!(" ({note})") },
            got.code,
            got.stderr_head()
        )),
        None => None,
        Some(Difference { kind, ours, reason }) => {
            if !matches(got, *ours) {
                Some(format!(
                    "{file}: DIFFERENCES.tsv ({kind}: {reason}) documents heartbeat-rs as {ours}\n    heartbeat-rs (exit {:?}): {}",
                    got.code,
                    got.stderr_head()
                ))
            } else if matches(got, truth) && !matches!(ours, Verdict::Warning(_)) {
                // A `warning` row also passes as `valid`: the warning itself is the difference.
                Some(format!("{file}: listed in DIFFERENCES.tsv but heartbeat-rs now agrees with {legacy} ({truth}); drop the row"))
            } else {
                None
            }
        }
    }
}
