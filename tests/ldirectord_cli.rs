//! `ldirectord` end to end on the file-backed fake IPVS: start as a daemon, a real fails and
//! recovers, reload (good and bad), status, stop. Waits are bounded polls, never blind sleeps.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_heartbeat")
}

fn ld(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).arg("ldirectord").arg("--run-dir").arg(dir).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// An HTTP server on 127.0.0.1 that answers "OK" while `healthy`.
fn server(healthy: Arc<AtomicBool>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let body = if healthy.load(Ordering::SeqCst) { "OK" } else { "SICK" };
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        }
    });
    port
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(15) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn daemon_start_fail_recover_reload_stop() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let healthy = Arc::new(AtomicBool::new(true));
    let port = server(healthy.clone());
    let cf = d.join("web.cf");
    let table = d.join("ipvs.txt");
    let text = |weight: u32| {
        format!(
            "checkinterval=1\nnegotiatetimeout=2\nquiescent=yes\nlogfile=\"{}\"\nvirtual=127.0.0.1:{port}\n    real=127.0.0.1:{port} masq {weight}\n    service=http\n    receive=\"OK\"\n",
            d.join("ld.log").display()
        )
    };
    std::fs::write(&cf, text(3)).unwrap();
    let cfs = cf.to_str().unwrap();
    let tables = table.to_str().unwrap();
    assert_eq!(ld(d, &[cfs, "status"]).0, 3);
    let (code, _, err) = ld(d, &["--ipvs-table", tables, cfs, "start"]);
    assert_eq!(code, 0, "{err}");
    let read = || std::fs::read_to_string(&table).unwrap_or_default();
    let dest = format!("127.0.0.1:{port}");
    wait_for("the real at weight 3", || read().lines().any(|l| l.contains(&dest) && l.contains("Masq    3")));
    let (code, _, err) = ld(d, &[cfs, "status"]);
    assert_eq!(code, 0);
    assert!(err.contains("is running with pid"), "{err}");
    wait_for("the status snapshot", || ld(d, &["--json", cfs, "status"]).1.contains("\"state\":\"up\""));
    let json = ld(d, &["--json", cfs, "status"]).1;
    assert!(json.contains(&format!("\"real\":\"127.0.0.1:{port}\"")), "{json}");

    healthy.store(false, Ordering::SeqCst);
    wait_for("the real quiesced", || read().lines().any(|l| l.contains(&dest) && l.contains("Masq    0")));
    healthy.store(true, Ordering::SeqCst);
    wait_for("the real restored", || read().lines().any(|l| l.contains(&dest) && l.contains("Masq    3")));

    std::fs::write(&cf, text(7)).unwrap();
    assert_eq!(ld(d, &[cfs, "reload"]).0, 0);
    wait_for("the new weight", || read().lines().any(|l| l.contains(&dest) && l.contains("Masq    7")));

    // A broken file on reload: the running configuration stays.
    std::fs::write(&cf, "checkinterval=1\nvirtual=127.0.0.1:80\n    real=127.0.0.2:80 nonsense\n").unwrap();
    // The command refuses it (4.12 reads the file first: exit 2); a SIGHUP reaches the daemon.
    assert_eq!(ld(d, &[cfs, "reload"]).0, 2);
    let pid = std::fs::read_to_string(d.join("ldirectord.web.cf.pid")).unwrap();
    assert!(Command::new("kill").arg("-HUP").arg(pid.trim()).status().unwrap().success());
    wait_for("the failed reload logged", || {
        std::fs::read_to_string(d.join("ld.log")).unwrap_or_default().contains("keeping the running configuration")
    });
    assert!(read().contains("Masq    7"));
    std::fs::write(&cf, text(7)).unwrap();

    assert_eq!(ld(d, &[cfs, "stop"]).0, 0);
    wait_for("the service removed (cleanstop)", || !read().contains("TCP"));
    wait_for("the pid file removed", || !d.join("ldirectord.web.cf.pid").exists());
    let (code, out, _) = ld(d, &[cfs, "status"]);
    assert_eq!(code, 3);
    assert!(out.contains("ldirectord is stopped for"));
}

#[test]
fn config_errors_exit_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("bad.cf");
    std::fs::write(&cf, "checkinterval=1\nvirtual=127.0.0.1:80\n    real=127.0.0.2:80 gate\n    service=pingpong\n").unwrap();
    let (code, _, err) = ld(dir.path(), &[cf.to_str().unwrap(), "start"]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.cf:4:"), "{err}");
    std::fs::write(&cf, "virtual=127.0.0.1:1521\n    real=127.0.0.2:1521 gate\n").unwrap();
    let (code, _, err) = ld(dir.path(), &[cf.to_str().unwrap(), "start"]);
    assert_eq!(code, 2);
    assert!(err.contains("oracle"), "{err}");
    let (code, _, err) = ld(dir.path(), &["/nonexistent/x.cf", "start"]);
    assert_eq!(code, 1);
    assert!(err.contains("Config file /nonexistent/x.cf not found"));
    assert_eq!(ld(dir.path(), &["bogus"]).0, 255);
}

#[test]
fn execute_starts_and_stops_the_other_instance() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = d.join("b.cf");
    std::fs::write(
        &b,
        format!("checkinterval=1\nlogfile=\"{}\"\nvirtual=127.0.0.1:8080\n    real=127.0.0.2:8080 masq\n", d.join("b.log").display()),
    )
    .unwrap();
    let a = d.join("a.cf");
    std::fs::write(
        &a,
        format!(
            "checkinterval=1\nlogfile=\"{}\"\nexecute={}\nvirtual=127.0.0.1:8081\n    real=127.0.0.2:8081 masq\n",
            d.join("a.log").display(),
            b.display()
        ),
    )
    .unwrap();
    let table = d.join("t.txt");
    let (code, _, err) = ld(d, &["--ipvs-table", table.to_str().unwrap(), a.to_str().unwrap(), "start"]);
    assert_eq!(code, 0, "{err}");
    wait_for("both pid files", || d.join("ldirectord.a.cf.pid").exists() && d.join("ldirectord.b.cf.pid").exists());
    assert_eq!(ld(d, &[a.to_str().unwrap(), "stop"]).0, 0);
    wait_for("both stopped", || !d.join("ldirectord.a.cf.pid").exists() && !d.join("ldirectord.b.cf.pid").exists());
}

/// haresources `ldirectord::CONFIG` runs the engine inside `heartbeat run` (no fork): a lone node
/// takes its group after initdead, the table appears; SIGTERM releases it (cleanstop).
#[test]
fn heartbeat_run_embeds_the_director_for_an_ldirectord_resource() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let healthy = Arc::new(AtomicBool::new(true));
    let port = server(healthy);
    let table = d.join("ipvs.txt");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_ascii_lowercase();
    let udp = 30000 + (std::process::id() % 20000);
    std::fs::write(
        d.join("ha.cf"),
        format!(
            "keepalive 100ms\ndeadtime 500ms\ninitdead 1\nudpport {udp}\nucast lo 127.0.0.1\nnode {host} peer-never-seen\nauto_failback on\ncrm off\nlvs_sync_daemon lo id 5\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("authkeys"), "auth 1\n1 sha1 embed\n").unwrap();
    std::fs::set_permissions(d.join("authkeys"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(d.join("haresources"), format!("{host} ldirectord::web.cf\n")).unwrap();
    std::fs::write(
        d.join("web.cf"),
        format!(
            "checkinterval=1\ncleanstop=yes\nlogfile=\"{}\"\nvirtual=127.0.0.1:{port}\n    real=127.0.0.1:{port} masq 3\n    service=http\n    receive=\"OK\"\n",
            d.join("ld.log").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(bin())
        .args(["run", "--config-dir"])
        .arg(d)
        .arg("--state-dir")
        .arg(d.join("state"))
        .arg("--ctl-socket")
        .arg(d.join("ctl.sock"))
        .env("HEARTBEAT_RS_IPVS_TABLE", &table)
        .stderr(std::process::Stdio::from(std::fs::File::create(d.join("hb.err")).unwrap()))
        .spawn()
        .unwrap();
    let listing = || std::fs::read_to_string(&table).unwrap_or_default();
    let want = format!("127.0.0.1:{port}");
    let up = Instant::now();
    while up.elapsed() < Duration::from_secs(15) && !(listing().contains(&format!("TCP  {want}")) && listing().contains("-> ")) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = || std::fs::read_to_string(d.join("hb.err")).unwrap_or_default();
    assert!(listing().contains(&format!("TCP  {want}")), "no virtual service programmed:\n{}\n{}", listing(), log());
    assert!(log().contains("started in process"), "{}", log());
    // lvs_sync_daemon: master while the LVS group is held (backup before, none after exit).
    // (The switch to master runs beside the director's start: wait for it.)
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) && !listing().contains("master sync daemon") {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(listing().contains("master sync daemon (mcast=lo, syncid=5)"), "no master sync daemon:\n{}\n{}", listing(), log());
    assert!(!listing().contains("backup sync daemon"), "{}", listing());
    assert!(log().contains("backup sync daemon (mcast=lo, syncid=5) started"), "{}", log());
    let status = Command::new(bin()).args(["status", "--json", "--ctl-socket"]).arg(d.join("ctl.sock")).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains("\"resources\":{\"rscstatus\":\"all\"") && status.contains("ldirectord::web.cf\",\"state\":\"running\""),
        "{status}"
    );
    assert!(
        status.contains(&format!("\"real\":\"127.0.0.1:{port}\"")) && status.contains("\"state\":\"up\""),
        "the engine's reals: {status}"
    );
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(15) && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = child.try_wait().unwrap();
    if status.is_none() {
        let _ = child.kill();
    }
    assert!(status.is_some_and(|s| s.success()), "the daemon did not stop cleanly: {}", log());
    assert!(!listing().contains(&format!("TCP  {want}")), "cleanstop left the service:\n{}", listing());
    assert!(!listing().contains("sync daemon"), "a sync daemon left after exit:\n{}", listing());
}
