//! Every check against a real server on loopback, up and down.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::testutil::*;
use crate::director::{Outcome, Probe};

fn up(o: &Outcome) -> bool {
    matches!(o, Outcome::Up(_))
}

#[tokio::test]
async fn http_status_receive_and_request_bytes() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let port = tcp_server(b"\r\n\r\n", move |req| {
        s2.lock().unwrap().push(String::from_utf8_lossy(&req).into_owned());
        let path = String::from_utf8_lossy(&req).split(' ').nth(1).unwrap_or("").to_owned();
        match path.as_str() {
            "/ok" => http_reply("200 OK", "all is well"),
            "/moved" => b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "/loop" => b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n".to_vec(),
            "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwell\r\n0\r\n\r\n".to_vec(),
            "/big" => {
                let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n".to_vec();
                r.extend(vec![b'x'; 2 << 20]);
                r
            }
            "/garbage" => b"\x00\x01garbage\r\n\r\n".to_vec(),
            _ => http_reply("500 Internal Server Error", "no"),
        }
    })
    .await;
    let ok = spec(port, "    service=http\n    request=\"ok\"\n    receive=\"is w.ll\"\n");
    assert!(up(&run(&ok).await), "{:?}", run(&ok).await);
    let req = seen.lock().unwrap()[0].clone();
    assert_eq!(req, "GET /ok HTTP/1.1\r\nConnection: close\r\nHost: 127.0.0.1\r\nUser-Agent: libwww-perl/6.68\r\n\r\n");
    let mismatch = spec(port, "    service=http\n    request=\"ok\"\n    receive=\"nope\"\n");
    assert!(!up(&run(&mismatch).await));
    for (path, want) in [("moved", true), ("chunked", true), ("loop", false), ("big", false), ("garbage", false), ("err", false)] {
        let s = spec(port, &format!("    service=http\n    request=\"{path}\"\n    receive=\"ell\"\n"));
        let o = run(&s).await;
        assert_eq!(up(&o), want, "{path}: {o:?}");
    }
    let vh = spec(port, "    service=http\n    request=\"ok\"\n    virtualhost=www.example.com\n    httpmethod=HEAD\n");
    run(&vh).await;
    assert!(seen.lock().unwrap().last().unwrap().starts_with("HEAD /ok HTTP/1.1\r\nConnection: close\r\nHost: www.example.com\r\n"));
}

#[tokio::test]
async fn http_refused_and_hung_are_down_in_time() {
    let s = spec(closed_port().await, "    service=http\n");
    let o = run(&s).await;
    assert!(matches!(o, Outcome::Down(ref m) if m.contains("refused")), "{o:?}");
    let s = spec(hung_server().await, "    service=http\n");
    let t = std::time::Instant::now();
    let o = super::run(&s, Probe::Negotiate, Duration::from_millis(300)).await;
    assert!(matches!(o, Outcome::Down(ref m) if m.contains("timed out")), "{o:?}");
    assert!(t.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn https_with_a_self_signed_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["real.example".into()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(super::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(mut t) = acceptor.accept(s).await else { return };
                let mut buf = vec![0u8; 4096];
                let _ = t.read(&mut buf).await;
                let _ = t.write_all(&http_reply("200 OK", "secure")).await;
                let _ = t.shutdown().await;
            });
        }
    });
    let s = spec(port, "    service=https\n    receive=\"secure\"\n");
    assert!(up(&run(&s).await), "{:?}", run(&s).await);
    // Plain HTTP to a TLS port is down.
    let s = spec(port, "    service=http\n");
    assert!(!up(&run(&s).await));
}

#[tokio::test]
async fn smtp_pop_imap_nntp() {
    let smtp = line_server("220 mail ESMTP\r\n", |l| {
        if l.starts_with("EHLO") {
            Some("250-mail\r\n250 OK\r\n".into())
        } else if l == "QUIT" {
            None
        } else {
            Some("500 what\r\n".into())
        }
    })
    .await;
    assert!(up(&run(&spec(smtp, "    service=smtp\n")).await));
    let bad = line_server("554 go away\r\n", |_| None).await;
    assert!(!up(&run(&spec(bad, "    service=smtp\n")).await));

    let pop = line_server("+OK pop\r\n", |l| match l {
        "USER u" => Some("+OK\r\n".into()),
        "PASS p" => Some("+OK in\r\n".into()),
        "QUIT" => None,
        _ => Some("-ERR\r\n".into()),
    })
    .await;
    assert!(up(&run(&spec(pop, "    service=pop\n    login=\"u\"\n    passwd=\"p\"\n")).await));
    assert!(!up(&run(&spec(pop, "    service=pop\n    login=\"u\"\n    passwd=\"x\"\n")).await));
    // Without a login a closed port is down (4.12 says up: its POP3 client never fails).
    assert!(!up(&run(&spec(closed_port().await, "    service=pop\n")).await));

    let imap = line_server("* OK imap ready\r\n", |l| {
        if l.starts_with("a1 LOGIN \"u\" \"p\"") {
            Some("a1 OK done\r\n".into())
        } else if l.starts_with("a1") {
            Some("a1 NO bad\r\n".into())
        } else {
            None
        }
    })
    .await;
    assert!(up(&run(&spec(imap, "    service=imap\n    login=\"u\"\n    passwd=\"p\"\n")).await));
    assert!(!up(&run(&spec(imap, "    service=imap\n    login=\"u\"\n    passwd=\"q\"\n")).await));

    let nntp = line_server("200 news\r\n", |_| None).await;
    assert!(up(&run(&spec(nntp, "    service=nntp\n")).await));
    let nntp = line_server("502 no\r\n", |_| None).await;
    assert!(!up(&run(&spec(nntp, "    service=nntp\n")).await));
}

#[tokio::test]
async fn ftp_retrieves_and_matches() {
    use tokio::io::AsyncWriteExt;
    let data = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dport = data.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = data.accept().await {
            let _ = s.write_all(b"status: healthy\n").await;
        }
    });
    let pasv = format!("227 Entering Passive Mode (127,0,0,1,{},{})\r\n", dport / 256, dport % 256);
    let pasv: &'static str = Box::leak(pasv.into_boxed_str());
    let port = line_server("220 ftp\r\n", move |l| {
        Some(
            match l.split(' ').next().unwrap_or("") {
                "USER" => "331 pass\r\n",
                "PASS" => "230 in\r\n",
                "CWD" => "250 ok\r\n",
                "TYPE" => "200 ok\r\n",
                "PASV" => pasv,
                "RETR" => "150 here\r\n226 done\r\n",
                _ => return None,
            }
            .to_owned(),
        )
    })
    .await;
    assert!(up(&run(&spec(port, "    service=ftp\n    request=\"health.txt\"\n    receive=\"healthy\"\n")).await));
    assert!(!up(&run(&spec(port, "    service=ftp\n    request=\"health.txt\"\n    receive=\"sick\"\n")).await));
}

#[tokio::test]
async fn simpletcp_sends_request_and_matches_lines() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let port = tcp_server(b"", move |req| {
        s2.lock().unwrap().push(req);
        b"hello\nREADY\n".to_vec()
    })
    .await;
    assert!(up(&run(&spec(port, "    service=simpletcp\n    request=\"PING\\n\"\n    receive=\"^READY$\"\n")).await));
    assert!(seen.lock().unwrap()[0].starts_with(b"PING\n"));
    assert!(!up(&run(&spec(port, "    service=simpletcp\n    request=\"PING\"\n    receive=\"^NOPE\"\n")).await));
}

#[tokio::test]
async fn dns_over_udp() {
    let port = udp_server(|q| {
        let mut r = q.to_vec();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        r
    })
    .await;
    let s = spec(port, "    service=dns\n    protocol=udp\n    request=\"www.example.com\"\n    receive=\"192.0.2.7\"\n");
    assert!(up(&run(&s).await), "{:?}", run(&s).await);
    let s = spec(port, "    service=dns\n    protocol=udp\n    request=\"www.example.com\"\n    receive=\"10.9.9.9\"\n");
    assert!(!up(&run(&s).await));
}

#[tokio::test]
async fn radius_accept_and_reject() {
    use md5::{Digest, Md5};
    let secret = "s3cret";
    let port = udp_server(move |req| {
        let mut reply = vec![if req.len() > 30 { 2 } else { 3 }, req[1], 0, 20];
        let mut h = Md5::new();
        h.update(&reply[..4]);
        h.update(&req[4..20]);
        h.update(secret.as_bytes());
        reply.extend_from_slice(&h.finalize());
        reply
    })
    .await;
    assert!(up(&run(&spec(port, "    service=radius\n    login=\"u\"\n    passwd=\"pw\"\n    secret=\"s3cret\"\n")).await));
    // A wrong secret: the reply's authenticator does not verify.
    assert!(!up(&run(&spec(port, "    service=radius\n    login=\"u\"\n    passwd=\"pw\"\n    secret=\"other\"\n")).await));
}

#[tokio::test]
async fn sip_over_udp() {
    let port = udp_server(|req| {
        if req.starts_with(b"OPTIONS sip:ldirectord@host SIP/2.0\r\n") {
            b"SIP/2.0 200 OK\r\n\r\n".to_vec()
        } else {
            b"SIP/2.0 400 Bad\r\n\r\n".to_vec()
        }
    })
    .await;
    assert!(up(&run(&spec(port, "    service=sip\n    protocol=udp\n")).await));
}

#[tokio::test]
async fn ldap_bind_and_search() {
    // Answers a bind with success, a search with one entry then done.
    let bind = vec![0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
    let search = {
        let mut r = Vec::new();
        let dn = b"dc=example,dc=com";
        let mut entry = vec![0x04, dn.len() as u8];
        entry.extend_from_slice(dn);
        entry.extend_from_slice(&[0x30, 0x00]);
        let mut op = vec![0x64, entry.len() as u8];
        op.extend(entry);
        let mut msg = vec![0x30, (op.len() + 3) as u8, 0x02, 0x01, 0x02];
        msg.extend(op);
        r.extend(msg);
        r.extend_from_slice(&[0x30, 0x0c, 0x02, 0x01, 0x02, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]);
        r
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 1024];
            // Bind, then search: one read each is enough on loopback for these small messages.
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&bind).await;
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&search).await;
        }
    });
    let s = spec(port, "    service=ldap\n    request=\"dc=example,dc=com\"\n    receive=\"example\"\n");
    assert!(up(&run(&s).await), "{:?}", run(&s).await);
    let s = spec(port, "    service=ldap\n    request=\"dc=example,dc=com\"\n    receive=\"other\"\n");
    assert!(!up(&run(&s).await));
}

#[tokio::test]
async fn connect_external_and_sql_greetings() {
    let open = line_server("", |_| None).await;
    let s = spec(open, "    checktype=connect\n");
    assert!(up(&super::run(&s, Probe::Connect, Duration::from_secs(2)).await));
    let s = spec(closed_port().await, "    checktype=connect\n");
    assert!(!up(&super::run(&s, Probe::Connect, Duration::from_secs(2)).await));

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("check");
    std::fs::write(&script, "#!/bin/sh\ntest \"$3\" = 127.0.0.1 && test \"$4\" -ne 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let s = spec(open, &format!("    checktype=external\n    checkcommand={}\n", script.display()));
    assert!(up(&super::run(&s, Probe::External, Duration::from_secs(5)).await));
    let s = spec(open, "    checktype=external\n    checkcommand=/bin/false\n");
    assert!(!up(&super::run(&s, Probe::External, Duration::from_secs(5)).await));
    let s = spec(open, "    checktype=external\n    checkcommand=\"sleep 30\"\n");
    let t = std::time::Instant::now();
    assert!(!up(&super::run(&s, Probe::External, Duration::from_millis(200)).await));
    assert!(t.elapsed() < Duration::from_secs(2));

    let mysql = line_server("\x28\0\0\0\n8.0\0", |_| None).await;
    assert!(up(&run(&spec(mysql, "    service=mysql\n")).await));
    let pg = line_server("R\0\0\0\x08\0\0\0\x05", |_| None).await;
    assert!(up(&run(&spec(pg, "    service=pgsql\n    login=\"u\"\n")).await));
    assert!(!up(&run(&spec(mysql, "    service=pgsql\n    login=\"u\"\n")).await));
}

#[tokio::test]
async fn ping_loopback_when_allowed() {
    match super::ping::ping("127.0.0.1".parse().unwrap(), 2, Duration::from_secs(1)).await {
        Ok(_) => {}
        Err(e) if e.contains("ICMP socket") => eprintln!("SKIPPED ping: {e}"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_receive_string_too_big_to_compile_matches_nothing_and_does_not_panic() {
    let huge = "(a|b)*c{1000}".repeat(2000);
    assert!(!super::matches(&huge, b"anything"));
    assert!(super::matches("a(b", b"xa(bx"), "an invalid pattern is matched as literal text");
}

#[test]
fn the_never_matching_pattern_compiles() {
    let r = regex::Regex::new(r"[^\s\S]").unwrap();
    assert!(!r.is_match("") && !r.is_match("x\n"));
}
