//! The command line contract: applet dispatch, `check-config` exit codes and message format.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the sample `ha.d/` with authkeys at mode 0600, as it is installed on a node.
fn sample_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("ha.d");
    for f in ["ha.cf", "haresources", "authkeys", "ldirectord.cf"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::set_permissions(dir.path().join("authkeys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn sample_configuration_is_valid() {
    let dir = sample_dir();
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 nodes") && out.contains("1 virtual services") && out.contains("2 real servers"), "{out}");
}

#[test]
fn errors_are_file_line_message_and_exit_1() {
    let dir = sample_dir();
    let ha_cf = dir.path().join("ha.cf");
    let text = std::fs::read_to_string(&ha_cf).unwrap().replace("udpport ", "undport ");
    std::fs::write(&ha_cf, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("undport")).unwrap() + 1;
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    let want = format!("{}:{line}: unknown directive \"undport\"; did you mean \"udpport\"?", ha_cf.display());
    assert!(stderr(&o).lines().any(|l| l == want), "missing {want:?} in:\n{}", stderr(&o));
}

#[test]
fn authkeys_mode_is_enforced_on_a_config_dir_only() {
    let dir = sample_dir();
    let keys = dir.path().join("authkeys");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("permissions 0644"), "{}", stderr(&o));
    // A copy checked with --kind only warns: its mode says nothing about the node.
    let o = run(&["check-config", "--kind", "authkeys", path_str(&keys)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: permissions 0644"));
}

#[test]
fn haresources_must_name_declared_nodes_and_existing_ldirectord_configs() {
    let dir = sample_dir();
    std::fs::write(dir.path().join("haresources"), "gamma 10.0.0.9\nalpha ldirectord::missing.cf\n").unwrap();
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("haresources:1: node \"gamma\" is not declared in ha.cf"), "{e}");
    assert!(e.contains("haresources:2: ldirectord configuration \"missing.cf\" not found"), "{e}");
}

#[test]
fn kind_checks_single_files_and_garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let bad: PathBuf = dir.path().join("garbage");
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    bytes.extend_from_slice(b"\nvirtual=\xff\xfe:80\n\treal=\x00 gate\n");
    std::fs::write(&bad, &bytes).unwrap();
    for kind in ["ha.cf", "haresources", "authkeys", "ldirectord.cf"] {
        let o = run(&["check-config", "--kind", kind, path_str(&bad)]);
        assert_eq!(o.status.code(), Some(1), "{kind}: {}", stderr(&o));
        assert!(stderr(&o).lines().all(|l| l.starts_with(path_str(&bad))), "{kind}: {}", stderr(&o));
    }
    let o = run(&["check-config", "--kind", "ha.cf", path_str(&dir.path().join("absent"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read"));
}

#[test]
fn applets_dispatch_on_argv0_and_on_the_first_argument() {
    let dir = tempfile::tempdir().unwrap();
    for applet in ["ldirectord", "hb_standby", "hb_takeover"] {
        let link = dir.path().join(applet);
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        if applet == "ldirectord" {
            // Reached under both names: without a configuration it says so, as 4.12 does.
            for o in
                [Command::new(&link).arg("/nonexistent.cf").arg("status").output().unwrap(), run(&[applet, "/nonexistent.cf", "status"])]
            {
                assert_eq!(o.status.code(), Some(1));
                assert_eq!(stderr(&o), "Config file /nonexistent.cf not found\n");
            }
            continue;
        }
        let o = Command::new(&link).arg("status").output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{applet}");
        assert!(stderr(&o).starts_with(&format!("{applet}: not implemented yet")), "{applet}: {}", stderr(&o));
        let o = run(&[applet, "status"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).starts_with(&format!("{applet}: not implemented yet")), "{}", stderr(&o));
    }
}

#[test]
fn cl_status_without_a_daemon_says_it_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("cl_status");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let o = Command::new(&link).arg("hbstatus").env("HEARTBEAT_RS_CTL", dir.path().join("none.sock")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Heartbeat is stopped on this machine.\n");
}

#[test]
fn run_refuses_crm_saying_why() {
    let dir = sample_dir();
    let ha_cf = dir.path().join("ha.cf");
    let text = std::fs::read_to_string(&ha_cf).unwrap().replace("crm             off", "crm             respawn");
    std::fs::write(&ha_cf, text).unwrap();
    // check-config accepts it with a warning...
    let o = run(&["check-config", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: crm/pacemaker is on"));
    // ...and run refuses to start.
    let o = run(&["run", "--config-dir", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not run the CRM"), "{}", stderr(&o));
}
