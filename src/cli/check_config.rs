//! `heartbeat check-config`: the verdict later checks rely on. Exit 0 when valid (warnings on
//! stderr), 1 when not; every error is one line `FILE:LINE: message` on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Diagnostic;
use crate::config::load::{self, Kind};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory holding ha.cf, haresources and authkeys.
    #[arg(long, default_value = "/etc/ha.d", conflicts_with = "kind")]
    config_dir: PathBuf,
    /// Check single files of one kind instead of a directory.
    #[arg(long, value_parser = ["ha.cf", "haresources", "authkeys", "ldirectord.cf"], requires = "files")]
    kind: Option<String>,
    /// Files to check with --kind.
    #[arg(requires = "kind")]
    files: Vec<PathBuf>,
    /// Print nothing on stdout; only diagnostics on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> ExitCode {
    let mut failed = false;
    if let Some(kind) = args.kind.as_deref().and_then(Kind::from_name) {
        for file in &args.files {
            let diags = load::check_file(kind, file);
            failed |= report(&diags);
            if !args.quiet && !diags.iter().any(Diagnostic::is_error) {
                println!("{}: ok", file.display());
            }
        }
    } else {
        match load::load_dir(&args.config_dir) {
            Ok(c) => {
                report(&c.warnings);
                if !args.quiet {
                    let cfg = &c.value;
                    let virtuals: usize = cfg.ldirectord.iter().map(|(_, d)| d.virtuals.len()).sum();
                    let reals: u64 = cfg
                        .ldirectord
                        .iter()
                        .flat_map(|(_, d)| &d.virtuals)
                        .map(|v| v.reals.iter().map(|r| r.address_count()).sum::<u64>())
                        .sum();
                    println!(
                        "{}: ok: {} nodes, {} heartbeat media, {} resource groups, auth {} ({}), {} ldirectord configurations with {} virtual services and {} real servers",
                        args.config_dir.display(),
                        cfg.ha_cf.nodes.len(),
                        cfg.ha_cf.media.len(),
                        cfg.haresources.len(),
                        cfg.authkeys.active,
                        cfg.authkeys.active_key().method,
                        cfg.ldirectord.len(),
                        virtuals,
                        reals
                    );
                }
            }
            Err(diags) => {
                report(&diags);
                failed = true;
            }
        }
    }
    ExitCode::from(u8::from(failed))
}

/// Prints diagnostics on stderr; true when one of them is an error.
fn report(diags: &[Diagnostic]) -> bool {
    for d in diags {
        eprintln!("{d}");
    }
    diags.iter().any(Diagnostic::is_error)
}
