//! `OSPFvip` on the command line: check-config's verdicts on its arguments, `heartbeat
//! ecmp-config`, and `heartbeat ospfvip … status` against a fake vtysh (HEARTBEAT_RS_VTYSH).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The sample ha.d with `haresources` replaced.
fn dir_with(haresources: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("ha.d");
    for f in ["ha.cf", "authkeys", "ldirectord.cf"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::set_permissions(dir.path().join("authkeys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(dir.path().join("haresources"), haresources).unwrap();
    dir
}

fn p(d: &tempfile::TempDir) -> &str {
    d.path().to_str().unwrap()
}

#[test]
fn check_config_reports_bad_ospfvip_arguments_with_file_and_line() {
    let d = dir_with("# directors\nalpha ldirectord::ldirectord.cf \\\n   OSPFvip::10.0.0.100::backbone\n");
    let o = run(&["check-config", "--config-dir", p(&d)]);
    assert_eq!(o.status.code(), Some(1));
    let want = format!("{}:3: OSPFvip area \"backbone\" is neither a number nor a dotted quad", d.path().join("haresources").display());
    assert!(text(&o.stderr).lines().any(|l| l.starts_with(&want)), "{}", text(&o.stderr));

    let d = dir_with("alpha ldirectord::ldirectord.cf OSPFvip::10.0.0.100::0::10::2\n");
    let o = run(&["check-config", "--config-dir", p(&d)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    // Without a director before it, it would never be announced: a warning, not an error.
    let d = dir_with("alpha OSPFvip::10.0.0.100\n");
    let o = run(&["check-config", "--config-dir", p(&d)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains(":1: warning: \"OSPFvip::10.0.0.100\" has no ldirectord:: resource before it"), "{}", text(&o.stderr));
}

#[test]
fn ecmp_config_for_a_director() {
    let d = dir_with("alpha ldirectord::ldirectord.cf OSPFvip::10.0.0.100::0::20\n");
    let o = run(&["ecmp-config", "--config-dir", p(&d), "--interface", "eth0=10.9.1.2/24", "--interface", "eth1=10.9.2.2/24"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for want in [
        "interface eth0\n ip ospf hello-interval 1\n ip ospf dead-interval 3\n ip ospf retransmit-interval 1\nexit\n",
        "interface eth1\n",
        "interface lo\n ip ospf cost 20\nexit\n",
        "router ospf\n ospf router-id 10.9.1.2\n timers throttle lsa all 100\n timers throttle spf 0 50 1000\n timers lsa min-arrival 50\n network 10.9.1.0/24 area 0\n network 10.9.2.0/24 area 0\n",
        " ! network 10.0.0.100/32 area 0   <- added and removed by heartbeat-rs",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains("bfd") && !out.contains("maximum-paths"), "{out}");
}

#[test]
fn ecmp_config_warns_of_a_vip_inside_an_ospf_network() {
    // ospfd would enable OSPF on the VIP through the interface's network line: never withdrawn.
    let d = dir_with("alpha ldirectord::ldirectord.cf OSPFvip::10.9.1.100\n");
    let o = run(&["ecmp-config", "--config-dir", p(&d), "--interface", "eth0=10.9.1.2/24"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("warning: VIP 10.9.1.100 is inside 10.9.1.0/24 (eth0)"), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(" ! WARNING: 10.9.1.100 is inside 10.9.1.0/24"), "{}", text(&o.stdout));

    let d = dir_with("alpha ldirectord::ldirectord.cf OSPFvip::10.0.0.100\n");
    let o = run(&["ecmp-config", "--config-dir", p(&d), "--interface", "eth0=10.9.1.2/24"]);
    assert!(!text(&o.stderr).contains("warning") && !text(&o.stdout).contains("WARNING"), "{}", text(&o.stderr));
}

#[test]
fn ecmp_config_with_bfd_and_for_the_router() {
    let d = dir_with("alpha ldirectord::ldirectord.cf OSPFvip::10.0.0.100\n");
    let o = run(&["ecmp-config", "--config-dir", p(&d), "--bfd", "--router", "--interface", "up0=10.9.0.1/24", "--router-id", "1.1.1.1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for want in [
        "bfdd=yes",
        "bfd\n profile ecmp\n  detect-multiplier 3\n  receive-interval 100\n  transmit-interval 100\n",
        "interface up0\n ip ospf hello-interval 1\n ip ospf dead-interval 3\n ip ospf retransmit-interval 1\n ip ospf bfd\n ip ospf bfd profile ecmp\nexit\n",
        "router ospf\n ospf router-id 1.1.1.1\n timers throttle lsa all 100\n timers throttle spf 0 50 1000\n timers lsa min-arrival 50\n maximum-paths 16\n network 10.9.0.0/24 area 0\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains("interface lo"), "{out}");
}

#[test]
fn ecmp_config_refuses_what_it_cannot_use() {
    let d = dir_with("alpha ldirectord::ldirectord.cf\n");
    let o = run(&["ecmp-config", "--config-dir", p(&d), "--interface", "eth0=10.9.1.2/24"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("no OSPFvip resource"), "{}", text(&o.stderr));
    let d = dir_with("alpha ldirectord::ldirectord.cf OSPFvip::10.0.0.100\n");
    let o = run(&["ecmp-config", "--config-dir", p(&d), "--interface", "eth0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("expected NAME=ADDRESS/PREFIX"), "{}", text(&o.stderr));
}

/// A vtysh stand-in: records its arguments, prints a running configuration from a file.
fn fake_vtysh(dir: &Path, running: &str) -> String {
    let script = dir.join("vtysh");
    std::fs::write(dir.join("running"), running).unwrap();
    std::fs::write(&script, format!("#!/bin/sh\necho \"$*\" >> {0}/calls\ncat {0}/running\n", dir.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

#[test]
fn ospfvip_status_reads_the_running_configuration() {
    let d = tempfile::tempdir().unwrap();
    let vtysh = fake_vtysh(d.path(), "router ospf\n network 10.9.1.0/24 area 0\nexit\n");
    let o = Command::new(BIN).args(["ospfvip", "10.0.0.100", "status"]).env("HEARTBEAT_RS_VTYSH", &vtysh).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "stopped\n");
    let calls = std::fs::read_to_string(d.path().join("calls")).unwrap();
    assert_eq!(calls, "-c show running-config\n");

    let o = Command::new(BIN).args(["ospfvip", "10.0.0.100::x", "status"]).env("HEARTBEAT_RS_VTYSH", &vtysh).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("OSPFvip area \"x\""), "{}", text(&o.stderr));

    // A refusal from vtysh (`%` line) is a failure, with vtysh's words.
    let bad = fake_vtysh(d.path(), "% Unknown command: show running-config\n");
    let o = Command::new(BIN).args(["resource", "OSPFvip", "10.0.0.100", "status"]).env("HEARTBEAT_RS_VTYSH", &bad).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("% Unknown command"), "{}", text(&o.stderr));
}
