//! Line-dialogue checks: smtp/submission, pop/pops, imap/imaps, nntp, ftp and simpletcp, on a
//! small reader that bounds every line and every reply.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{MAX_READ, Stream, bare_request, excerpt, matches, open};
use crate::config::ldirectord_cf::Service;
use crate::director::farm::CheckSpec;

const MAX_LINE: usize = 8192;

/// A stream read line by line with bounds.
pub struct Dialog<S> {
    s: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Dialog<S> {
    pub fn new(s: S) -> Self {
        Dialog { s, buf: Vec::new() }
    }

    /// One line without its CRLF; an error at end of stream.
    pub async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let rest = self.buf.split_off(i + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.truncate(i);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buf.len() > MAX_LINE {
                return Err(format!("line over {MAX_LINE} bytes"));
            }
            let mut chunk = [0u8; 2048];
            let n = self.s.read(&mut chunk).await.map_err(|e| format!("receive: {e}"))?;
            if n == 0 {
                return Err(if self.buf.is_empty() {
                    "connection closed".into()
                } else {
                    format!("connection closed after \"{}\"", excerpt(&self.buf))
                });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// An SMTP/FTP style reply: `NNN-...` lines then `NNN ...`; the code and the last line.
    pub async fn reply(&mut self) -> Result<(u16, String), String> {
        for _ in 0..1000 {
            let l = self.line().await?;
            let code =
                l.get(..3).and_then(|c| c.parse::<u16>().ok()).ok_or_else(|| format!("unexpected reply \"{}\"", excerpt(l.as_bytes())))?;
            if l.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, l));
            }
        }
        Err("reply of more than 1000 lines".into())
    }

    pub async fn send(&mut self, text: &str) -> Result<(), String> {
        self.s.write_all(text.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
        self.s.flush().await.map_err(|e| format!("send: {e}"))
    }

    pub fn into_inner(self) -> (S, Vec<u8>) {
        (self.s, self.buf)
    }
}

fn hostname() -> String {
    nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into())
}

/// smtp/submission: greeting, EHLO (HELO if refused), QUIT.
pub async fn smtp(spec: &CheckSpec) -> Result<String, String> {
    let mut d = Dialog::new(open(spec, false).await?);
    let (code, greeting) = d.reply().await?;
    if code / 100 != 2 {
        return Err(greeting);
    }
    d.send(&format!("EHLO {}\r\n", hostname())).await?;
    let (code, l) = d.reply().await?;
    if code / 100 != 2 {
        d.send(&format!("HELO {}\r\n", hostname())).await?;
        let (code, l2) = d.reply().await?;
        if code / 100 != 2 {
            return Err(format!("HELO refused: {l} / {l2}"));
        }
    }
    let _ = d.send("QUIT\r\n").await;
    Ok(greeting)
}

/// pop/pops: `+OK` greeting, then USER/PASS when a login is configured, QUIT.
pub async fn pop(spec: &CheckSpec) -> Result<String, String> {
    let mut d = Dialog::new(open(spec, spec.key.service == Service::Pops).await?);
    let greeting = d.line().await?;
    if !greeting.starts_with("+OK") {
        return Err(greeting);
    }
    if !spec.key.login.is_empty() {
        d.send(&format!("USER {}\r\n", spec.key.login)).await?;
        let l = d.line().await?;
        if !l.starts_with("+OK") {
            return Err(format!("USER refused: {l}"));
        }
        d.send(&format!("PASS {}\r\n", spec.key.passwd)).await?;
        let l = d.line().await?;
        if !l.starts_with("+OK") {
            return Err(format!("PASS refused: {l}"));
        }
    }
    let _ = d.send("QUIT\r\n").await;
    Ok(greeting)
}

/// imap/imaps: `* OK` greeting, LOGIN when a login is configured, LOGOUT.
pub async fn imap(spec: &CheckSpec) -> Result<String, String> {
    let mut d = Dialog::new(open(spec, spec.key.service == Service::Imaps).await?);
    let greeting = d.line().await?;
    if !greeting.starts_with("* OK") && !greeting.starts_with("* PREAUTH") {
        return Err(greeting);
    }
    if !spec.key.login.is_empty() {
        let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        d.send(&format!("a1 LOGIN \"{}\" \"{}\"\r\n", q(&spec.key.login), q(&spec.key.passwd))).await?;
        for _ in 0..1000 {
            let l = d.line().await?;
            if let Some(rest) = l.strip_prefix("a1 ") {
                if !rest.starts_with("OK") {
                    return Err(format!("LOGIN refused: {l}"));
                }
                break;
            }
        }
    }
    let _ = d.send("a2 LOGOUT\r\n").await;
    Ok(greeting)
}

/// nntp: the greeting must start with `2`.
pub async fn nntp(spec: &CheckSpec) -> Result<String, String> {
    let mut d = Dialog::new(open(spec, false).await?);
    let greeting = d.line().await?;
    if !greeting.starts_with('2') {
        return Err(greeting);
    }
    let _ = d.send("QUIT\r\n").await;
    Ok(greeting)
}

/// simpletcp: send the request (`\n` written as two characters becomes a newline), half-close,
/// up when a line of the reply matches `receive`.
pub async fn simpletcp(spec: &CheckSpec) -> Result<String, String> {
    let mut s = open(spec, false).await?;
    let req = bare_request(spec).replace("\\n", "\n");
    s.write_all(req.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
    let _ = s.shutdown().await;
    let reply = read_all(&mut s).await?;
    let text = String::from_utf8_lossy(&reply);
    if spec.key.receive.is_empty() || text.lines().any(|l| matches(&spec.key.receive, l.as_bytes())) {
        Ok(excerpt(&reply))
    } else {
        Err(format!("reply \"{}\" does not match \"{}\"", excerpt(&reply), spec.key.receive))
    }
}

/// Everything the peer sends until it closes, at most [`MAX_READ`] bytes.
pub async fn read_all<S: AsyncRead + Unpin + ?Sized>(s: &mut S) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) => return Ok(out),
            Ok(n) => {
                out.extend_from_slice(&chunk[..n]);
                if out.len() > MAX_READ {
                    return Err(format!("reply over {MAX_READ} bytes"));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(out),
            Err(e) => return Err(format!("receive: {e}")),
        }
    }
}

/// ftp: login, `CWD /`, binary, passive RETR of the request; up when the file matches
/// `receive` (any content when empty).
pub async fn ftp(spec: &CheckSpec) -> Result<String, String> {
    let mut d = Dialog::new(open(spec, false).await?);
    let expect = |(code, l): (u16, String), ok: &[u16], what: &str| -> Result<(u16, String), String> {
        if ok.contains(&code) { Ok((code, l)) } else { Err(format!("{what}: {l}")) }
    };
    let (_, greeting) = expect(d.reply().await?, &[220], "greeting")?;
    d.send(&format!("USER {}\r\n", spec.key.login)).await?;
    let (code, _) = expect(d.reply().await?, &[230, 331], "USER")?;
    if code == 331 {
        d.send(&format!("PASS {}\r\n", spec.key.passwd)).await?;
        expect(d.reply().await?, &[230, 202], "PASS")?;
    }
    d.send("CWD /\r\n").await?;
    expect(d.reply().await?, &[250], "CWD")?;
    d.send("TYPE I\r\n").await?;
    expect(d.reply().await?, &[200], "TYPE")?;
    d.send("PASV\r\n").await?;
    let (_, pasv) = expect(d.reply().await?, &[227], "PASV")?;
    let port = pasv_port(&pasv).ok_or_else(|| format!("bad PASV reply \"{pasv}\""))?;
    // The data connection goes to the real, whatever address the reply names.
    let data_to = SocketAddr::new(spec.key.addr, port);
    let mut data = tokio::net::TcpStream::connect(data_to).await.map_err(|e| format!("data connection to {data_to}: {e}"))?;
    d.send(&format!("RETR {}\r\n", spec.key.request)).await?;
    expect(d.reply().await?, &[125, 150], "RETR")?;
    let content = read_all(&mut data).await?;
    expect(d.reply().await?, &[226, 250], "transfer")?;
    let _ = d.send("QUIT\r\n").await;
    if matches(&spec.key.receive, &content) {
        Ok(greeting)
    } else {
        Err(format!("{} does not match \"{}\"", spec.key.request, spec.key.receive))
    }
}

fn pasv_port(reply: &str) -> Option<u16> {
    let inner = &reply[reply.find('(')? + 1..];
    let inner = &inner[..inner.find(')')?];
    let n: Vec<u16> = inner.split(',').map(|x| x.trim().parse().ok()).collect::<Option<_>>()?;
    if n.len() != 6 || n[4] > 255 || n[5] > 255 {
        return None;
    }
    Some(n[4] * 256 + n[5])
}

/// Kept generic so tests can drive a [`Dialog`] over any stream.
pub fn dialog<S: Stream>(s: S) -> Dialog<S> {
    Dialog::new(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pasv() {
        assert_eq!(super::pasv_port("227 Entering Passive Mode (127,0,0,1,4,1)."), Some(1025));
        assert_eq!(super::pasv_port("227 nope"), None);
        assert_eq!(super::pasv_port("227 (1,2,3,4,999,1)"), None);
    }
}
