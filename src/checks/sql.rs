//! mysql and pgsql, the cheap way: the server must answer a connection with its greeting
//! (MySQL's handshake packet; PostgreSQL's authentication request to a startup message for
//! `login`/`database`). No query is run; see docs/compatibility.md.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::director::farm::CheckSpec;

pub async fn mysql(spec: &CheckSpec) -> Result<String, String> {
    let mut s = super::connect(spec).await?;
    let mut head = [0u8; 5];
    s.read_exact(&mut head).await.map_err(|e| format!("receive: {e}"))?;
    match head[4] {
        10 => Ok("MySQL handshake".into()),
        0xff => Err("MySQL refused the connection".into()),
        v => Err(format!("not a MySQL handshake (protocol {v})")),
    }
}

pub async fn pgsql(spec: &CheckSpec) -> Result<String, String> {
    let mut s = super::connect(spec).await?;
    let mut body = Vec::new();
    body.extend_from_slice(&196608u32.to_be_bytes());
    for (k, v) in [("user", spec.key.login.as_str()), ("database", spec.key.database.as_str())] {
        if !v.is_empty() {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
    }
    body.push(0);
    let mut m = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    m.extend(body);
    s.write_all(&m).await.map_err(|e| format!("send: {e}"))?;
    let kind = s.read_u8().await.map_err(|e| format!("receive: {e}"))?;
    let _ = s.write_all(b"X\0\0\0\x04").await;
    match kind {
        b'R' => Ok("PostgreSQL authentication request".into()),
        b'E' => Err("PostgreSQL refused the startup".into()),
        k => Err(format!("not a PostgreSQL reply ({k:#x})")),
    }
}
