//! keepalived.conf, read for migration (`heartbeat import keepalived`): a tokenizer and a tree of
//! keyword items, each with its `file:line`, with `include` files spliced in (globs, relative to
//! the including file). keepalived's grammar is a keyword per line, optionally opening a `{ … }`
//! block; what each keyword means is left to [`translate`].
//!
//! Like keepalived, broken parts (a stray or missing brace, a missing include) are noted and
//! skipped, never fatal. The one thing keepalived 2.2.7 refuses (`keepalived -t` exit 2) is a
//! keyword that needs a value written without one; [`refusals`] finds those.

pub mod translate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Nesting deeper than this is not keepalived.conf; deeper braces are read flat.
const MAX_DEPTH: usize = 32;
/// Include nesting limit (keepalived stops include loops too).
const MAX_INCLUDE_DEPTH: usize = 8;
/// Files an import reads at most (a glob could match a whole directory tree).
const MAX_FILES: usize = 256;

/// Where an item was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Rc<str>,
    pub line: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One keyword line: `key arg…`, with its `{ … }` block when it opens one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub args: Vec<String>,
    pub loc: Loc,
    pub block: Option<Vec<Item>>,
}

impl Item {
    /// The first argument, if any.
    pub fn arg(&self) -> Option<&str> {
        self.args.first().map(String::as_str)
    }

    /// The items of the block (empty when the keyword opened none).
    pub fn children(&self) -> &[Item] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// A remark about the file as a whole or one line of it (a setting not carried over, a
/// structural problem keepalived works around).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub loc: Loc,
    pub msg: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.msg)
    }
}

/// A parsed keepalived.conf with its includes.
#[derive(Debug, Clone, Default)]
pub struct Conf {
    pub items: Vec<Item>,
    /// Structural problems (braces, includes) keepalived reports and works around.
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Newline,
}

/// Splits one file into tokens with their line numbers. `#` and `!` at the start of a word
/// begin a comment (so `interface #IFACE#` has no value, as keepalived reads it); double quotes
/// group a word; braces are tokens of their own.
fn tokenize(text: &str) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let mut chars = line.chars().peekable();
        let mut word = String::new();
        let mut in_word = false;
        let flush = |word: &mut String, in_word: &mut bool, out: &mut Vec<(Tok, usize)>| {
            if *in_word {
                out.push((Tok::Word(std::mem::take(word)), n));
                *in_word = false;
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    in_word = true;
                    for q in chars.by_ref() {
                        if q == '"' {
                            break;
                        }
                        word.push(q);
                    }
                }
                '{' | '}' => {
                    flush(&mut word, &mut in_word, &mut out);
                    out.push((if c == '{' { Tok::Open } else { Tok::Close }, n));
                }
                '#' | '!' if !in_word => break,
                c if c.is_whitespace() => flush(&mut word, &mut in_word, &mut out),
                c => {
                    in_word = true;
                    word.push(c);
                }
            }
        }
        flush(&mut word, &mut in_word, &mut out);
        out.push((Tok::Newline, n));
    }
    out
}

/// Where the text of a file comes from: the file system, or a fixed map in tests.
pub trait Source {
    /// The file's text (lossy UTF-8), or why it cannot be read.
    fn read(&self, path: &Path) -> Result<String, String>;
    /// The files matching a glob pattern, sorted.
    fn glob(&self, pattern: &Path) -> Vec<PathBuf>;
}

/// The real file system.
pub struct Fs;

impl Source for Fs {
    fn read(&self, path: &Path) -> Result<String, String> {
        let (bytes, _) = super::load::read(path).map_err(|d| d.to_string())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
        let mut found = vec![PathBuf::new()];
        for comp in pattern.components() {
            let part = comp.as_os_str().to_string_lossy();
            let wild = part.contains(['*', '?', '[']);
            let mut next = Vec::new();
            for base in &found {
                if !wild {
                    next.push(base.join(comp.as_os_str()));
                    continue;
                }
                let dir = if base.as_os_str().is_empty() { Path::new(".") } else { base.as_path() };
                let Ok(rd) = std::fs::read_dir(dir) else { continue };
                let mut names: Vec<String> = rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                names.sort();
                for name in names {
                    if !name.starts_with('.') && glob_match(&part, &name) {
                        next.push(base.join(&name));
                    }
                }
            }
            found = next;
            if found.len() > MAX_FILES {
                found.truncate(MAX_FILES);
            }
        }
        found.retain(|p| p.is_file());
        found
    }
}

/// Shell-style matching of one path component: `*`, `?` and `[…]` classes (`!`/`^` negation).
pub fn glob_match(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class_match(&p, pi, s[si]),
            Some(&c) if c == s[si] => Some(pi + 1),
            _ => None,
        };
        match (step, star) {
            (Some(np), _) => {
                pi = np;
                si += 1;
            }
            (None, Some((sp, ss))) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`; the index after the class on a
/// match. An unclosed `[` matches itself literally.
fn class_match(p: &[char], start: usize, c: char) -> Option<usize> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let first = i;
    let mut hit = false;
    while i < p.len() && (p[i] != ']' || i == first) {
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    if i >= p.len() {
        return (c == '[').then_some(start + 1);
    }
    (hit != negate).then_some(i + 1)
}

/// An open file: its name, its tokens and the read position.
type OpenFile = (Rc<str>, Vec<(Tok, usize)>, usize);

struct Parser<'a> {
    src: &'a dyn Source,
    /// Open files: name, tokens, position.
    stack: Vec<OpenFile>,
    notes: Vec<Note>,
    files_read: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<(Tok, Loc)> {
        loop {
            let (file, toks, pos) = self.stack.last_mut()?;
            if let Some((t, n)) = toks.get_mut(*pos) {
                *pos += 1;
                // Tokens are read once: move the word out instead of copying it.
                return Some((std::mem::replace(t, Tok::Newline), Loc { file: file.clone(), line: *n }));
            }
            self.stack.pop();
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.stack.iter().rev().find_map(|(_, toks, pos)| toks.get(*pos).map(|(t, _)| t))
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Tok::Newline) {
            self.next();
        }
    }

    fn open(&mut self, path: &Path, from: Option<&Loc>) {
        if self.files_read >= MAX_FILES {
            if let Some(loc) = from {
                self.notes.push(Note { loc: loc.clone(), msg: format!("more than {MAX_FILES} files; {} not read", path.display()) });
            }
            return;
        }
        match self.src.read(path) {
            Ok(text) => {
                self.files_read += 1;
                self.stack.push((Rc::from(path.display().to_string()), tokenize(&text), 0));
            }
            Err(e) => {
                let loc = from.cloned().unwrap_or(Loc { file: Rc::from(path.display().to_string()), line: 0 });
                self.notes.push(Note { loc, msg: format!("include {}: {e}", path.display()) });
            }
        }
    }

    fn include(&mut self, item: &Item) {
        let Some(pattern) = item.arg() else {
            self.notes.push(Note { loc: item.loc.clone(), msg: "include without a file name; nothing included".into() });
            return;
        };
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.notes
                .push(Note { loc: item.loc.clone(), msg: format!("includes nested deeper than {MAX_INCLUDE_DEPTH}; {pattern} not read") });
            return;
        }
        let base = Path::new(&*item.loc.file).parent().map(Path::to_path_buf).unwrap_or_default();
        let full = if Path::new(pattern).is_absolute() { PathBuf::from(pattern) } else { base.join(pattern) };
        let files = if pattern.contains(['*', '?', '[']) { self.src.glob(&full) } else { vec![full.clone()] };
        if files.is_empty() {
            self.notes.push(Note { loc: item.loc.clone(), msg: format!("include {}: no file matches; nothing included", full.display()) });
        }
        // Pushed in reverse so that the first match is read first.
        for f in files.iter().rev() {
            self.open(f, Some(&item.loc));
        }
    }

    /// Items up to the `}` closing this block (depth > 0) or the end of input (depth 0).
    fn block(&mut self, depth: usize, opened: Option<&Loc>) -> Vec<Item> {
        let mut items: Vec<Item> = Vec::new();
        loop {
            self.skip_newlines();
            let Some((tok, loc)) = self.next() else {
                if let Some(at) = opened {
                    self.notes.push(Note { loc: at.clone(), msg: "block opened here is never closed ('}' missing at end of file)".into() });
                }
                return items;
            };
            match tok {
                Tok::Newline => {}
                Tok::Close if depth > 0 => return items,
                Tok::Close => self.notes.push(Note { loc, msg: "extra '}' ignored".into() }),
                Tok::Open => {
                    // A block with no keyword before it: read it (to stay in step) and drop it.
                    self.notes.push(Note { loc: loc.clone(), msg: "'{' without a keyword; block ignored".into() });
                    if depth < MAX_DEPTH {
                        self.block(depth + 1, Some(&loc));
                    }
                }
                Tok::Word(key) => {
                    let mut args = Vec::new();
                    let mut block = None;
                    loop {
                        match self.peek() {
                            Some(Tok::Word(_)) => {
                                if let Some((Tok::Word(w), _)) = self.next() {
                                    args.push(w);
                                }
                            }
                            Some(Tok::Open) => {
                                self.next();
                                if depth < MAX_DEPTH {
                                    block = Some(self.block(depth + 1, Some(&loc)));
                                } else {
                                    self.notes.push(Note { loc: loc.clone(), msg: "blocks nested too deep; block ignored".into() });
                                }
                                break;
                            }
                            Some(Tok::Newline) => {
                                self.next();
                                // `keyword` on one line, `{` alone on the next.
                                self.skip_newlines();
                                if self.peek() == Some(&Tok::Open) && block_keyword(&key) {
                                    self.next();
                                    if depth < MAX_DEPTH {
                                        block = Some(self.block(depth + 1, Some(&loc)));
                                    }
                                }
                                break;
                            }
                            Some(Tok::Close) | None => break,
                        }
                    }
                    let item = Item { key, args, loc, block };
                    if item.key == "include" && item.block.is_none() {
                        self.include(&item);
                    } else {
                        items.push(item);
                    }
                }
            }
        }
    }
}

/// Keywords that open a block, for the `{`-on-the-next-line style.
fn block_keyword(key: &str) -> bool {
    matches!(
        key,
        "global_defs"
            | "vrrp_instance"
            | "vrrp_sync_group"
            | "vrrp_script"
            | "virtual_server"
            | "virtual_server_group"
            | "real_server"
            | "virtual_ipaddress"
            | "virtual_ipaddress_excluded"
            | "authentication"
            | "notification_email"
            | "track_interface"
            | "track_script"
            | "unicast_peer"
            | "url"
            | "group"
            | "static_ipaddress"
            | "static_routes"
            | "virtual_routes"
    ) || key.ends_with("_CHECK")
        || key.ends_with("_GET")
}

/// Reads `path` and its includes.
pub fn parse_file(src: &dyn Source, path: &Path) -> Result<Conf, String> {
    let text = src.read(path)?;
    Ok(parse_text(src, &path.display().to_string(), &text))
}

/// Parses `text` as the file `name` (includes are read through `src`).
pub fn parse_text(src: &dyn Source, name: &str, text: &str) -> Conf {
    let mut p = Parser { src, stack: vec![(Rc::from(name), tokenize(text), 0)], notes: Vec::new(), files_read: 1 };
    let items = p.block(0, None);
    Conf { items, notes: p.notes }
}

/// Keywords that keepalived 2.2.7 refuses without a value (`keepalived -t` exit 2: "Configuration
/// line starting `KEY` is missing a parameter"), by the block they are keywords of (`""` is the
/// top level). Each was checked against `keepalived -t`; some others, such as `router_id`,
/// `nb_get_retry`, `status_code` or `persistence_timeout`, are only warned about. Outside its
/// block a keyword is unknown to keepalived, which it skips with a warning.
fn needs_value(parent: &str, key: &str) -> bool {
    const CHECK: &[&str] =
        &["connect_port", "connect_ip", "connect_timeout", "retry", "delay_before_retry", "bindto", "warmup", "misc_timeout"];
    let keys: &[&str] = match parent {
        "" => &["vrrp_script", "virtual_server", "virtual_server_group"],
        "global_defs" => &["smtp_server", "smtp_connect_timeout"],
        "vrrp_instance" => &[
            "interface",
            "state",
            "priority",
            "virtual_router_id",
            "advert_int",
            "unicast_src_ip",
            "lvs_sync_daemon_interface",
            "garp_master_delay",
            "preempt_delay",
        ],
        "authentication" => &["auth_type", "auth_pass"],
        "vrrp_script" => &["interval", "fall", "rise", "weight"],
        "virtual_server" => &[
            "delay_loop",
            "lb_algo",
            "lvs_sched",
            "lb_kind",
            "lvs_method",
            "persistence_granularity",
            "protocol",
            "quorum",
            "hysteresis",
            "sorry_server",
            "real_server",
            "connect_timeout",
            "retry",
            "delay_before_retry",
        ],
        "real_server" => &["weight", "notify_up", "notify_down", "connect_timeout", "retry", "delay_before_retry"],
        "url" => &["path", "digest"],
        p if p.ends_with("_CHECK") || p.ends_with("_GET") => CHECK,
        _ => &[],
    };
    keys.contains(&key)
}

/// The items keepalived 2.2.7 would refuse the file for: a keyword that needs a value, without one.
pub fn refusals(conf: &Conf) -> Vec<Note> {
    fn walk(items: &[Item], parent: &str, out: &mut Vec<Note>) {
        for it in items {
            if it.args.is_empty() && needs_value(parent, &it.key) {
                out.push(Note {
                    loc: it.loc.clone(),
                    msg: format!("`{}` is missing its value; keepalived 2.2.7 refuses the file (keepalived -t exits 2)", it.key),
                });
            }
            if let Some(b) = &it.block {
                walk(b, &it.key, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&conf.items, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<PathBuf, String>);
    impl Source for Map {
        fn read(&self, path: &Path) -> Result<String, String> {
            self.0.get(path).cloned().ok_or_else(|| "no such file".to_owned())
        }
        fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
            let dir = pattern.parent().unwrap_or(Path::new(""));
            let pat = pattern.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let mut v: Vec<PathBuf> = self
                .0
                .keys()
                .filter(|k| k.parent() == Some(dir) && glob_match(&pat, &k.file_name().unwrap_or_default().to_string_lossy()))
                .cloned()
                .collect();
            v.sort();
            v
        }
    }

    #[test]
    fn blocks_lines_and_comments() {
        let c = parse_text(
            &Map(HashMap::new()),
            "k.conf",
            "global_defs {\n  router_id LVS_1 # me\n}\n! comment\nvrrp_instance VI_1\n{\n  interface #IFACE#\n  virtual_ipaddress { 10.0.0.1/24 }\n}\n",
        );
        assert!(c.notes.is_empty(), "{:?}", c.notes);
        assert_eq!(c.items.len(), 2);
        assert_eq!(c.items[0].children()[0].args, ["LVS_1"]);
        let vi = &c.items[1];
        assert_eq!(vi.loc.line, 5);
        assert_eq!(vi.children()[0].key, "interface");
        assert!(vi.children()[0].args.is_empty());
        assert_eq!(vi.children()[1].children()[0].key, "10.0.0.1/24");
        assert_eq!(refusals(&c).len(), 1);
        assert_eq!(refusals(&c)[0].loc.line, 7);
    }

    #[test]
    fn braces_out_of_step_are_notes() {
        let c = parse_text(&Map(HashMap::new()), "k.conf", "}\nvrrp_instance A {\n state MASTER\n");
        assert_eq!(c.notes.len(), 2);
        assert_eq!(c.items[0].children()[0].args, ["MASTER"]);
    }

    #[test]
    fn includes_are_relative_and_globbed() {
        let mut m = HashMap::new();
        m.insert(PathBuf::from("/e/conf.d/a.conf"), "virtual_server 10.0.0.1 80 {\n}\n".to_owned());
        m.insert(PathBuf::from("/e/conf.d/b.conf"), "include ../c.conf\n".to_owned());
        m.insert(PathBuf::from("/e/conf.d/../c.conf"), "global_defs {\n}\n".to_owned());
        let c = parse_text(&Map(m), "/e/k.conf", "include conf.d/*.conf\ninclude missing.conf\n");
        let keys: Vec<&str> = c.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["virtual_server", "global_defs"]);
        assert_eq!(&*c.items[1].loc.file, "/e/conf.d/../c.conf");
        assert_eq!(c.notes.len(), 1);
    }

    #[test]
    fn include_loops_stop() {
        let mut m = HashMap::new();
        m.insert(PathBuf::from("/e/k.conf"), "include k.conf\n".to_owned());
        let c = parse_text(&Map(m), "/e/k.conf", "include k.conf\n");
        assert!(!c.notes.is_empty());
    }

    /// Each row as `keepalived -t` of 2.2.7 judged it (exit 2 = refused, else accepted).
    #[test]
    fn refusals_match_keepalived_2_2_7() {
        let vs = |body: &str| format!("virtual_server 1.2.3.4 80 {{\n protocol TCP\n real_server 1.1.1.1 80 {{\n {body}\n }}\n}}\n");
        let rows = [
            ("vrrp_script {\n script x\n}\n".to_owned(), true),
            ("vrrp_script s {\n script\n}\n".to_owned(), false),
            ("vrrp_instance V {\n state\n}\n".to_owned(), true),
            ("vrrp_instance {\n state MASTER\n}\n".to_owned(), false),
            ("global_defs {\n router_id\n notification_email_from\n}\n".to_owned(), false),
            ("global_defs {\n smtp_server\n}\n".to_owned(), true),
            (vs("weight"), true),
            (vs("TCP_CHECK {\n connect_port\n }"), true),
            (vs("TCP_CHECK {\n nb_get_retry\n }"), false),
            (vs("HTTP_GET {\n url {\n path /\n status_code\n }\n }"), false),
            (vs("HTTP_GET {\n url {\n digest\n }\n }"), true),
            ("virtual_server 1.2.3.4 80 {\n persistence_timeout\n virtualhost\n}\n".to_owned(), false),
            ("virtual_server 1.2.3.4 80 {\n quorum\n}\n".to_owned(), true),
            ("vrrp_instance V {\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n".to_owned(), false),
            // Out of its block a keyword is unknown: a warning, not a refusal.
            ("virtual_server 1.2.3.4 80 {\n interface\n}\n".to_owned(), false),
            (vs("TCP_CHECK {\n path\n }"), false),
            ("global_defs {\n lvs_sync_daemon_interface\n}\n".to_owned(), false),
            ("vrrp_instance V {\n authentication {\n auth_pass\n }\n}\n".to_owned(), true),
        ];
        for (text, refused) in rows {
            let c = parse_text(&Map(HashMap::new()), "k.conf", &text);
            assert_eq!(!refusals(&c).is_empty(), refused, "{text}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.conf", "a.conf"));
        assert!(!glob_match("*.conf", "a.conf.bak"));
        assert!(glob_match("v?_[0-9]*", "vs_1x"));
        assert!(!glob_match("[!a]b", "ab"));
        assert!(glob_match("[", "["));
    }
}
