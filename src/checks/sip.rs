//! sip: one `OPTIONS` request, over UDP or TCP as the virtual; up on `SIP/2.0 200 OK`.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;

use crate::director::farm::CheckSpec;

pub fn request(spec: &CheckSpec, local: SocketAddr, call_id: u64) -> String {
    let transport = if spec.key.udp { "UDP" } else { "TCP" };
    let login = &spec.key.login;
    let host = super::http::bracket_ip(spec.key.addr);
    format!(
        "OPTIONS sip:{login} SIP/2.0\r\nVia: SIP/2.0/{transport} {local};branch=z9hG4bKhjhs8ass877\r\nMax-Forwards: 70\r\nTo: <sip:{login}>\r\nFrom: <sip:{login}>;tag=1928301774\r\nCall-ID: {call_id:x}@{host}\r\nCSeq: 63104 OPTIONS\r\nContact: <sip:{login}>\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n"
    )
}

pub async fn check(spec: &CheckSpec) -> Result<String, String> {
    let to = SocketAddr::new(spec.key.addr, spec.key.checkport);
    let call_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let reply = if spec.key.udp {
        let bind = super::any_local(&to);
        let sock = tokio::net::UdpSocket::bind(bind).await.map_err(|e| format!("socket: {e}"))?;
        sock.connect(to).await.map_err(|e| format!("connect to {to}: {e}"))?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        sock.send(request(spec, local, call_id).as_bytes()).await.map_err(|e| format!("send: {e}"))?;
        let mut buf = vec![0u8; 8192];
        let n = sock.recv(&mut buf).await.map_err(|e| format!("receive: {e}"))?;
        buf.truncate(n);
        buf
    } else {
        let mut s = super::connect(spec).await?;
        let local = s.local_addr().map_err(|e| e.to_string())?;
        s.write_all(request(spec, local, call_id).as_bytes()).await.map_err(|e| format!("send: {e}"))?;
        let mut d = super::lines::Dialog::new(s);
        d.line().await?.into_bytes()
    };
    let first = String::from_utf8_lossy(&reply).lines().next().unwrap_or("").to_owned();
    if first.starts_with("SIP/2.0 200 OK") { Ok(first) } else { Err(format!("reply \"{}\"", super::excerpt(first.as_bytes()))) }
}
