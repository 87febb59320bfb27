//! Turning file bytes into numbered lines. No file-system access: callers pass the bytes.
//!
//! Legacy files are mostly ASCII but carry comments in Latin-1 or UTF-8, CRLF endings and, in
//! hostile cases, arbitrary binary. Bytes are decoded lossily once (invalid sequences become
//! U+FFFD, which no directive contains, so they surface as ordinary "unexpected token" errors).

use std::borrow::Cow;

/// Decodes a whole file; borrows when the bytes are valid UTF-8 (the common case).
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // `from_utf8` validates much faster than the lossy path walks the bytes.
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The lines of `text` with 1-based numbers. A trailing `\r` is removed (CRLF files), a final
/// line without a newline is kept, and the empty string after a final newline is not a line.
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_terminator('\n').enumerate().map(|(n, l)| (n + 1, l.strip_suffix('\r').unwrap_or(l)))
}

/// Removes a `#` comment and everything after it, the way Heartbeat reads ha.cf, haresources
/// and authkeys (a `#` anywhere starts a comment).
pub fn strip_hash_comment(line: &str) -> &str {
    match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Whitespace as C's `isspace` sees it in the "C" locale (what the legacy tools split on).
pub fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Splits on runs of C whitespace, dropping empty fields.
pub fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(is_blank).filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_handle_crlf_and_missing_final_newline() {
        let got: Vec<_> = lines("a\r\nb\n\nc").collect();
        assert_eq!(got, vec![(1, "a"), (2, "b"), (3, ""), (4, "c")]);
        assert_eq!(lines("a\n").count(), 1);
        assert_eq!(lines("").count(), 0);
    }

    #[test]
    fn comments_and_words() {
        assert_eq!(strip_hash_comment("auth 2 # or 3 md5"), "auth 2 ");
        let w: Vec<_> = words(" node\ta  b\x0c").collect();
        assert_eq!(w, vec!["node", "a", "b"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let text = decode(b"keepalive \xff2\n");
        assert!(text.contains('\u{fffd}'));
    }
}
