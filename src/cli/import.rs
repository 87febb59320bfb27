//! `heartbeat import keepalived FILE [--output-dir DIR] [--force]`: translate a keepalived.conf
//! into ha.cf, haresources, authkeys and ldirectord.cf. Exit 0 when everything was carried
//! over, 3 when the report on stderr lists settings that were not, 1 when keepalived 2.2.7
//! itself refuses the file, 2 on usage errors (including an unreadable FILE or files in the way).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::keepalived::{self, translate};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Translate a keepalived.conf (its includes followed) into ha.cf, haresources, authkeys
    /// and ldirectord.cf. The report of what was not carried over goes to stderr.
    ///
    /// Without --output-dir the four files are printed, each under a `# FILE` line. The report
    /// names every setting not carried over as FILE:LINE: why. Exit status: 0 everything was
    /// carried over; 3 some settings were not; 1 keepalived 2.2.7 itself refuses the file
    /// (nothing written); 2 usage error, unreadable FILE, or files in DIR without --force.
    Keepalived {
        /// The keepalived.conf to read.
        file: PathBuf,
        /// Write the four files into DIR (created if missing) instead of printing them.
        #[arg(long)]
        output_dir: Option<PathBuf>,
        /// Overwrite files already in DIR.
        #[arg(long, requires = "output_dir")]
        force: bool,
    },
}

const NAMES: [&str; 4] = ["ha.cf", "haresources", "authkeys", "ldirectord.cf"];

pub fn run(args: Args) -> ExitCode {
    let What::Keepalived { file, output_dir, force } = args.what;
    let conf = match keepalived::parse_file(&keepalived::Fs, &file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("heartbeat import keepalived: {e}");
            return ExitCode::from(2);
        }
    };
    let refused = keepalived::refusals(&conf);
    if !refused.is_empty() {
        for n in &refused {
            eprintln!("{n}");
        }
        eprintln!("heartbeat import keepalived: {}: keepalived itself refuses this file; nothing written", file.display());
        return ExitCode::from(1);
    }
    let out = translate::translate(&conf);
    let texts = [&out.ha_cf, &out.haresources, &out.authkeys, &out.ldirectord_cf];
    match &output_dir {
        Some(dir) => {
            if let Err(e) = write_all(dir, &texts, force) {
                eprintln!("heartbeat import keepalived: {e}");
                return ExitCode::from(2);
            }
        }
        None => {
            let mut s = String::new();
            for (name, text) in NAMES.iter().zip(texts) {
                s.push_str(&format!("# {name}\n{text}\n"));
            }
            let _ = std::io::stdout().write_all(s.as_bytes());
        }
    }
    for i in &out.info {
        eprintln!("note: {i}");
    }
    for n in &out.report {
        eprintln!("{n}");
    }
    if out.report.is_empty() {
        eprintln!("heartbeat import keepalived: every setting was carried over");
        ExitCode::SUCCESS
    } else {
        eprintln!("heartbeat import keepalived: {} settings not carried over (listed above)", out.report.len());
        ExitCode::from(3)
    }
}

fn write_all(dir: &Path, texts: &[&String; 4], force: bool) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !force {
        let present: Vec<String> = NAMES.iter().map(|n| dir.join(n)).filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
        if !present.is_empty() {
            return Err(format!("{} already exist; not overwriting (use --force)", present.join(", ")));
        }
    }
    for (name, text) in NAMES.iter().zip(texts) {
        let path = dir.join(name);
        let mode = if *name == "authkeys" { 0o600 } else { 0o644 };
        write_file(&path, text, mode).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn write_file(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path)?;
    // An existing file keeps its mode on open; set it (authkeys must be 0600).
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.write_all(text.as_bytes())
}
