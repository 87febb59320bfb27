//! Diagnostics for configuration files: what is wrong, where, and what was expected.
//!
//! Every parser reports through [`Diagnostics`]; nothing here does I/O. The `Display` form is
//! the contract `check-config` prints: `FILE:LINE: message` (or `FILE: message` for a problem of
//! the file as a whole), warnings with `warning: ` after the location.

use std::fmt;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about one file, optionally at one line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match self.severity {
            Severity::Error => write!(f, ": {}", self.message),
            Severity::Warning => write!(f, ": warning: {}", self.message),
        }
    }
}

/// Collects every finding of one parse, in file order, so a user sees all problems at once.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    file: String,
    items: Vec<Diagnostic>,
    /// Findings beyond [`MAX_SHOWN`], counted but not kept.
    dropped: usize,
}

/// At most this many findings are kept per file, so a garbage file gives a bounded report.
pub const MAX_SHOWN: usize = 500;

impl Diagnostics {
    pub fn new(file: impl Into<String>) -> Self {
        Diagnostics { file: file.into(), items: Vec::new(), dropped: 0 }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn error(&mut self, line: impl Into<Option<usize>>, message: impl Into<String>) {
        self.push(Severity::Error, line.into(), message.into());
    }

    pub fn warn(&mut self, line: impl Into<Option<usize>>, message: impl Into<String>) {
        self.push(Severity::Warning, line.into(), message.into());
    }

    fn push(&mut self, severity: Severity, line: Option<usize>, message: String) {
        if self.items.len() >= MAX_SHOWN {
            // Keep the verdict right: an error must stay visible even when the list is full.
            if severity == Severity::Error && !self.has_errors() {
                self.items.pop();
            } else {
                self.dropped += 1;
                return;
            }
        }
        self.items.push(Diagnostic { severity, file: self.file.clone(), line, message });
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    pub fn into_items(mut self) -> Vec<Diagnostic> {
        self.close();
        self.items
    }

    /// Adds the "more not shown" line when findings were dropped.
    fn close(&mut self) {
        if self.dropped > 0 {
            let severity = if self.has_errors() { Severity::Error } else { Severity::Warning };
            self.items.push(Diagnostic {
                severity,
                file: self.file.clone(),
                line: None,
                message: format!("{} more problems not shown", self.dropped),
            });
            self.dropped = 0;
        }
    }

    /// Turns the collected findings into the parse outcome: the value with its warnings when
    /// there is no error, otherwise every finding (errors and warnings, in file order).
    pub fn finish<T>(mut self, value: T) -> Parsed<T> {
        self.close();
        if self.has_errors() { Err(self.items) } else { Ok(Checked { value, warnings: self.items }) }
    }
}

/// A configuration value that parsed, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Checked<T> {
    pub value: T,
    pub warnings: Vec<Diagnostic>,
}

/// What every parser returns: a typed value with warnings, or all diagnostics.
pub type Parsed<T> = Result<Checked<T>, Vec<Diagnostic>>;

/// Quotes a token for a message, shortening very long ones and escaping control characters, so a
/// 10 MB binary line still gives a one-line, readable error.
pub fn quote(token: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut out = String::from("\"");
    for (n, c) in token.chars().enumerate() {
        if n == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    if word.len() > 64 {
        return None;
    }
    let limit = if word.len() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        // The distance is at least the difference in length: skip hopeless candidates cheaply.
        .filter(|c| c.len().abs_diff(word.len()) <= limit)
        .map(|c| (edit_distance(&word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Damerau-Levenshtein (optimal string alignment) distance: a swap of two letters counts as one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_file_line_and_severity() {
        let mut d = Diagnostics::new("ha.cf");
        d.error(12, "unknown directive \"undport\"");
        d.warn(None, "no ping nodes");
        let items = d.into_items();
        assert_eq!(items[0].to_string(), "ha.cf:12: unknown directive \"undport\"");
        assert_eq!(items[1].to_string(), "ha.cf: warning: no ping nodes");
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let names = ["udpport", "deadtime", "keepalive"];
        assert_eq!(did_you_mean("undport", names), Some("udpport"));
        assert_eq!(did_you_mean("deadtiem", names), Some("deadtime"));
        assert_eq!(did_you_mean("tim2", names), None);
    }

    #[test]
    fn quote_is_bounded_and_escapes() {
        let long = "x".repeat(10_000);
        assert!(quote(&long).chars().count() < 70);
        assert_eq!(quote("a\tb"), "\"a\\tb\"");
    }
}
