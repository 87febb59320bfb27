//! `heartbeat ipvs …`: the IPVS table as ipvsadm shows it, and reconciling it to a saved table.
//! Flags and exit codes only; the work is in `crate::ipvs`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::ipvs::fake::FakeIpvs;
use crate::ipvs::kernel::KernelIpvs;
use crate::ipvs::listing::{self, ListMode};
use crate::ipvs::model::ServiceKey;
use crate::ipvs::{Backend, IpvsError, restore};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// Use a table kept in FILE (ipvsadm -Ln layout) instead of the kernel: for machines
    /// without IPVS, tests, and dry runs.
    #[arg(long, global = true, value_name = "FILE")]
    ipvs_table: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print the table exactly as `ipvsadm -Ln` does.
    List {
        /// Numeric output (the only form: names are never resolved).
        #[arg(short = 'n', long)]
        numeric: bool,
        /// Show the connection thresholds, as `ipvsadm -Ln --thresholds`.
        #[arg(long)]
        thresholds: bool,
        /// Show traffic statistics, as `ipvsadm -Ln --stats`.
        #[arg(long)]
        stats: bool,
        /// Show traffic rates, as `ipvsadm -Ln --rate`.
        #[arg(long)]
        rate: bool,
    },
    /// Print the table as `ipvsadm -Sn` does (restore commands).
    Save {
        #[arg(short = 'n', long)]
        numeric: bool,
    },
    /// Make the table match a saved table (`ipvsadm -S` output): the minimal set of changes,
    /// touching only services listed in FILE now or at the previous apply.
    Apply {
        file: PathBuf,
        /// Where the services managed by apply are remembered between runs.
        #[arg(long, value_name = "FILE")]
        owned_file: Option<PathBuf>,
        /// Print the changes without making them.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(args: Args) -> ExitCode {
    match execute(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("heartbeat ipvs: {e}");
            ExitCode::from(2)
        }
    }
}

fn backend(table: &Option<PathBuf>) -> Result<(Box<dyn Backend>, Option<KernelInfo>), IpvsError> {
    match table {
        Some(path) => Ok((Box::new(FakeIpvs::open_file(path)?), None)),
        None => {
            let mut k = KernelIpvs::open()?;
            let info = k.info()?;
            Ok((Box::new(k), Some(info)))
        }
    }
}

type KernelInfo = ((u8, u8, u8), u32);

fn execute(args: Args) -> Result<ExitCode, IpvsError> {
    let (mut b, info) = backend(&args.ipvs_table)?;
    let (version, size) = info.unwrap_or(((1, 2, 1), 4096));
    match args.command {
        Command::List { thresholds, stats, rate, .. } => {
            // ipvsadm's precedence when several are given: stats, rate, thresholds.
            let mode = if stats {
                ListMode::Stats
            } else if rate {
                ListMode::Rate
            } else if thresholds {
                ListMode::Thresholds
            } else {
                ListMode::Plain
            };
            print!("{}", listing::list(&b.dump()?, version, size, mode));
            Ok(ExitCode::SUCCESS)
        }
        Command::Save { .. } => {
            print!("{}", listing::save(&b.dump()?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Apply { file, owned_file, dry_run } => {
            let text = std::fs::read_to_string(&file).map_err(|e| IpvsError::Io {
                what: format!("reading {}", file.display()),
                errno: crate::ipvs::Errno(e.raw_os_error().unwrap_or(0)),
            })?;
            let desired = match restore::parse(&text) {
                Ok(t) => t,
                Err(errors) => {
                    for e in errors {
                        eprintln!("{}:{}: {}", file.display(), e.line, e.message);
                    }
                    return Ok(ExitCode::from(1));
                }
            };
            let owned_path = owned_file.unwrap_or_else(|| match &args.ipvs_table {
                Some(t) => t.with_extension("owned"),
                None => PathBuf::from("/run/heartbeat-rs/ipvs-apply.owned"),
            });
            let mut owned: HashSet<ServiceKey> = read_owned(&owned_path);
            owned.extend(desired.services.iter().map(|s| s.key));
            let observed = b.dump()?;
            let ops = crate::ipvs::diff::plan(&desired, &observed, &owned);
            let desired_keys: HashSet<ServiceKey> = desired.services.iter().map(|s| s.key).collect();
            if ops.is_empty() {
                println!("nothing to change: the table already matches {}", file.display());
                write_owned(&owned_path, &desired_keys);
                return Ok(ExitCode::SUCCESS);
            }
            if dry_run {
                for op in &ops {
                    println!("ipvsadm {op}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let total = ops.len();
            let report = crate::ipvs::apply_plan(b.as_mut(), ops);
            for (op, errno) in &report.failed {
                eprintln!("heartbeat ipvs: ipvsadm {op}: {errno}");
            }
            println!("applied {} of {total} changes to match {}", report.applied.len(), file.display());
            // Still ours: everything desired, and every old service whose deletion failed.
            let deleted: HashSet<ServiceKey> = report
                .applied
                .iter()
                .filter_map(|op| match op {
                    crate::ipvs::diff::Op::DelService { key } => Some(*key),
                    _ => None,
                })
                .collect();
            let still_owned: HashSet<ServiceKey> = owned.into_iter().filter(|k| !deleted.contains(k)).collect();
            write_owned(&owned_path, &still_owned);
            Ok(ExitCode::from(u8::from(!report.failed.is_empty())))
        }
    }
}

/// The owned set is saved as `-A` lines of a restore file, so the same reader reads it back.
fn read_owned(path: &Path) -> HashSet<ServiceKey> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| restore::parse(&t).ok())
        .map(|t| t.services.iter().map(|s| s.key).collect())
        .unwrap_or_default()
}

fn write_owned(path: &Path, keys: &HashSet<ServiceKey>) {
    // `-p` makes a port-0 service line valid; only the keys are read back.
    // Marks are written unsigned: ipvsadm's `%d` form (`-f -1`) would not read back.
    let line = |k: &ServiceKey| match k {
        ServiceKey::Fwmark { ipv6, mark } => format!("-A -f {mark}{} -s wlc -p\n", if *ipv6 { " -6" } else { "" }),
        k => format!("-A {k} -s wlc -p\n"),
    };
    let mut lines: Vec<String> = keys.iter().map(line).collect();
    lines.sort();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(path, lines.concat()) {
        eprintln!("heartbeat ipvs: cannot remember the managed services in {}: {e}", path.display());
    }
}
