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

mod common;

use common::{Difference, Verdict, check_config, judge, tsv, verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The kinds compared: `--kind` value (= data sub-directory) and file extension.
const KINDS: &[(&str, &str, usize)] = &[("ha.cf", "cf", 150), ("authkeys", "authkeys", 40)];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/heartbeat-diff")
}

/// Compares one kind; returns (problems, files compared with Heartbeat, files in DIFFERENCES.tsv).
fn compare(kind: &str, ext: &str, min_rows: usize) -> (Vec<String>, usize, usize) {
    let dir = data_dir().join(kind);
    let expected = tsv(&dir.join("EXPECTED.tsv"));
    let differences: BTreeMap<String, Difference> = tsv(&dir.join("DIFFERENCES.tsv"))
        .into_iter()
        .map(|c| {
            assert_eq!(c.len(), 4, "{kind}/DIFFERENCES.tsv row {c:?} needs 4 columns");
            assert!(
                c[1] == "deliberate" || c[1] == "environment",
                "{kind}/DIFFERENCES.tsv {}: kind must be deliberate or environment",
                c[0]
            );
            let ours = verdict(&c[2], None, &c[0]);
            (c[0].clone(), Difference { kind: c[1].clone(), ours, reason: c[3].clone() })
        })
        .collect();

    let mut problems = Vec::new();
    let mut recorded = BTreeSet::new();
    let (mut same, mut different) = (0, 0);
    for c in &expected {
        assert!(c.len() >= 2, "{kind}/EXPECTED.tsv row {c:?} needs at least 2 columns");
        let file = &c[0];
        recorded.insert(file.clone());
        let truth = verdict(&c[1], None, file);
        assert!(!matches!(truth, Verdict::Warning(_)), "{kind}/EXPECTED.tsv {file}: Heartbeat's verdict is valid or invalid");
        let note = c.get(2).map(String::as_str).unwrap_or("");
        let got = check_config(kind, &dir.join(file));
        let difference = differences.get(file);
        if difference.is_some() {
            different += 1;
        } else {
            same += 1;
        }
        problems.extend(judge("Heartbeat 3.0.6", &format!("{kind}/{file}"), truth, note, difference, &got));
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
