//! The only place configuration touches the file system: read files (bounded), take the
//! authkeys mode, find the ldirectord configurations `haresources` names, then call the pure
//! parsers and the cross-file checks.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::authkeys::{self, AuthKeys, ModeRule};
use super::diag::{Checked, Diagnostic, Diagnostics, Parsed};
use super::ha_cf::{self, HaCf};
use super::haresources::{self, ResourceGroup};
use super::ldirectord_cf::{self, DirectorConfig};

/// Files bigger than this are refused rather than read (no legitimate config comes close).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The kinds of file `check-config --kind` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    HaCf,
    Haresources,
    Authkeys,
    LdirectordCf,
}

impl Kind {
    pub fn from_name(s: &str) -> Option<Kind> {
        match s {
            "ha.cf" => Some(Kind::HaCf),
            "haresources" => Some(Kind::Haresources),
            "authkeys" => Some(Kind::Authkeys),
            "ldirectord.cf" => Some(Kind::LdirectordCf),
            _ => None,
        }
    }
}

/// Everything `heartbeat run` needs from `/etc/ha.d`.
#[derive(Debug, Clone)]
pub struct HaConfig {
    pub dir: PathBuf,
    pub ha_cf: HaCf,
    pub haresources: Vec<ResourceGroup>,
    pub authkeys: AuthKeys,
    /// The ldirectord configurations that `haresources` names, by resolved path.
    pub ldirectord: Vec<(PathBuf, DirectorConfig)>,
}

/// Reads a file with a size bound; the error is a diagnostic naming the file.
pub fn read(path: &Path) -> Result<(Vec<u8>, Option<u32>), Diagnostic> {
    let shown = path.display().to_string();
    let fail = |msg: String| {
        let mut d = Diagnostics::new(shown.clone());
        d.error(None, msg);
        d.into_items().remove(0)
    };
    let file = fs::File::open(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let meta = file.metadata().map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(fail("is a directory; expected a file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!("file is {} bytes; refusing files over {MAX_FILE_BYTES} bytes", meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| fail(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!("file grew past {MAX_FILE_BYTES} bytes while being read")));
    }
    use std::os::unix::fs::PermissionsExt;
    Ok((bytes, Some(meta.permissions().mode())))
}

/// Checks one file of a given kind (`check-config --kind`): warnings and errors, in file order.
pub fn check_file(kind: Kind, path: &Path) -> Vec<Diagnostic> {
    let (bytes, mode) = match read(path) {
        Ok(x) => x,
        Err(d) => return vec![d],
    };
    let name = path.display().to_string();
    match kind {
        Kind::HaCf => flatten(ha_cf::parse(&name, &bytes)),
        Kind::Haresources => flatten(haresources::parse(&name, &bytes)),
        // A copy being checked says nothing about the mode on the node: warn only.
        Kind::Authkeys => flatten(authkeys::parse(&name, &bytes, mode, ModeRule::Warn)),
        Kind::LdirectordCf => flatten(ldirectord_cf::parse(&name, &bytes)),
    }
}

fn flatten<T>(p: Parsed<T>) -> Vec<Diagnostic> {
    match p {
        Ok(c) => c.warnings,
        Err(d) => d,
    }
}

fn parse_at<T>(path: &Path, all: &mut Vec<Diagnostic>, f: impl FnOnce(&str, &[u8], Option<u32>) -> Parsed<T>) -> Option<T> {
    match read(path) {
        Err(d) => {
            all.push(d);
            None
        }
        Ok((bytes, mode)) => match f(&path.display().to_string(), &bytes, mode) {
            Ok(c) => {
                all.extend(c.warnings);
                Some(c.value)
            }
            Err(d) => {
                all.extend(d);
                None
            }
        },
    }
}

/// Loads and cross-checks a configuration directory (`/etc/ha.d`).
pub fn load_dir(dir: &Path) -> Parsed<HaConfig> {
    let mut all = Vec::new();
    let ha_cf = parse_at(&dir.join("ha.cf"), &mut all, |n, b, _| ha_cf::parse(n, b));
    let haresources_path = dir.join("haresources");
    let groups = parse_at(&haresources_path, &mut all, |n, b, _| haresources::parse(n, b));
    let keys = parse_at(&dir.join("authkeys"), &mut all, |n, b, m| authkeys::parse(n, b, m, ModeRule::Enforce));

    let mut cross = Diagnostics::new(haresources_path.display().to_string());
    let mut ldirectord = Vec::new();
    if let Some(groups) = &groups {
        if let Some(cf) = &ha_cf {
            check_group_nodes(cf, groups, &mut cross);
        }
        for g in groups {
            for r in g.resources.iter().filter(|r| r.agent == "ldirectord") {
                let name = r.args.first().map_or("ldirectord.cf", String::as_str);
                match find_ldirectord_config(dir, name) {
                    Some(path) => {
                        if !ldirectord.iter().any(|(p, _)| *p == path) {
                            if let Some(cfg) = parse_at(&path, &mut all, |n, b, _| ldirectord_cf::parse(n, b)) {
                                ldirectord.push((path, cfg));
                            }
                        }
                    }
                    None => cross.error(
                        r.line,
                        format!(
                            "ldirectord configuration \"{name}\" not found; looked for {0}/{name}, {0}/conf/{name} and {name}",
                            dir.display()
                        ),
                    ),
                }
            }
        }
    }
    all.extend(cross.into_items());
    let has_errors = all.iter().any(Diagnostic::is_error);
    match (ha_cf, groups, keys) {
        (Some(ha_cf), Some(haresources), Some(authkeys)) if !has_errors => {
            Ok(Checked { value: HaConfig { dir: dir.to_owned(), ha_cf, haresources, authkeys, ldirectord }, warnings: all })
        }
        _ => Err(all),
    }
}

/// A group whose node is not a cluster member would never run anywhere; Heartbeat refuses to
/// start ("Bad nodename in haresources"). Ping nodes count as nodes there, as in Heartbeat.
fn check_group_nodes(cf: &HaCf, groups: &[ResourceGroup], d: &mut Diagnostics) {
    let names: Vec<&str> = cf.nodes.iter().map(|n| n.name.as_str()).chain(cf.ping.iter().map(|p| p.name.as_str())).collect();
    for g in groups {
        if !names.contains(&g.node.as_str()) {
            let hint =
                super::diag::did_you_mean(&g.node, names.iter().copied()).map(|s| format!(" (did you mean \"{s}\"?)")).unwrap_or_default();
            d.error(g.line, format!("node \"{}\" is not declared in ha.cf{hint}; expected one of: {}", g.node, names.join(", ")));
        }
    }
}

/// ldirectord's own lookup: `DIR/NAME`, then `DIR/conf/NAME`, then NAME as a path.
pub fn find_ldirectord_config(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join("conf").join(name), PathBuf::from(name)].into_iter().find(|p| p.is_file())
}
