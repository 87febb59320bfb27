//! `serial DEVICE`: Heartbeat's serial medium. Messages travel in the classic text form
//! (`>>>` … `<<<`), protected by their inner `auth` field. Edge code: threads that move bytes.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc;

use nix::sys::termios::{self, BaudRate, ControlFlags, SetArg};

use crate::wire::message::{MAXMSG, parse_datagram};

/// Stack of the helper threads: small, because `realtime` locks every page in memory.
pub const STACK: usize = 128 * 1024;

fn baud_rate(baud: u32) -> Option<BaudRate> {
    Some(match baud {
        9600 => BaudRate::B9600,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115200 => BaudRate::B115200,
        230400 => BaudRate::B230400,
        460800 => BaudRate::B460800,
        _ => return None,
    })
}

/// An opened serial line.
pub struct Serial {
    pub device: String,
    file: std::fs::File,
}

/// Opens `device` raw, 8N1, at `baud`, with hardware flow control as 3.0.6 sets it.
pub fn open(device: &str, baud: u32) -> Result<Serial, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(device)
        .map_err(|e| format!("serial {device}: {e}"))?;
    let mut t = termios::tcgetattr(file.as_fd()).map_err(|e| format!("serial {device}: not a terminal ({e})"))?;
    termios::cfmakeraw(&mut t);
    let rate = baud_rate(baud).ok_or_else(|| format!("serial {device}: baud {baud} is not supported"))?;
    termios::cfsetspeed(&mut t, rate).map_err(|e| format!("serial {device}: baud {baud}: {e}"))?;
    t.control_flags |= ControlFlags::CLOCAL | ControlFlags::CREAD | ControlFlags::CRTSCTS;
    termios::tcsetattr(file.as_fd(), SetArg::TCSANOW, &t).map_err(|e| format!("serial {device}: {e}"))?;
    Ok(Serial { device: device.to_owned(), file })
}

/// Splits a byte stream into classic messages: lines from `>>>` to `<<<`, everything else skipped.
#[derive(Default)]
pub struct Framer {
    line: Vec<u8>,
    msg: Option<Vec<u8>>,
}

impl Framer {
    /// Feeds bytes; returns the complete messages they finish.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                // A line longer than any message is noise: drop it (and the message it is in).
                if self.line.len() > MAXMSG {
                    self.line.clear();
                    self.msg = None;
                }
                self.line.push(b);
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line == b">>>" {
                self.msg = Some(b">>>\n".to_vec());
            } else if let Some(m) = self.msg.as_mut() {
                m.extend_from_slice(line);
                m.push(b'\n');
                if line == b"<<<" {
                    out.extend(self.msg.take());
                } else if m.len() > MAXMSG {
                    self.msg = None;
                }
            }
        }
        out
    }
}

/// Starts the line's reader and writer threads. Received messages go to `deliver`; the returned
/// sender takes datagrams in netstring form, re-encoded to classic text for the line.
pub fn spawn(s: Serial, deliver: impl Fn(Vec<u8>) -> bool + Send + 'static) -> Result<mpsc::Sender<Vec<u8>>, String> {
    let mut reader = s.file.try_clone().map_err(|e| format!("serial {}: {e}", s.device))?;
    let device = s.device.clone();
    std::thread::Builder::new()
        .name(format!("serial-rx {device}"))
        .stack_size(STACK)
        .spawn(move || {
            let mut framer = Framer::default();
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => std::thread::sleep(std::time::Duration::from_millis(50)),
                    Ok(n) => {
                        for m in framer.push(&buf[..n]) {
                            if !deliver(m) {
                                return;
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        eprintln!("heartbeat: ERROR: serial {device}: read: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    }
                }
            }
        })
        .map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut writer = s.file;
    let device = s.device;
    // Writes block for as long as the line needs (about 0.15 s a heartbeat at 19200 baud), so
    // they happen off the event loop.
    std::thread::Builder::new()
        .name(format!("serial-tx {device}"))
        .stack_size(STACK)
        .spawn(move || {
            for datagram in rx {
                let Ok(d) = parse_datagram(&datagram) else { continue };
                if let Err(e) = writer.write_all(&d.message.classic()) {
                    eprintln!("heartbeat: ERROR: serial {device}: write: {e}");
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::Framer;

    #[test]
    fn framer_finds_messages_between_noise_and_across_reads() {
        let mut f = Framer::default();
        assert!(f.push(b"noise\n>>>\nt=status\n").is_empty());
        assert_eq!(f.push(b"src=a\r\n<<<\ngarbage"), vec![b">>>\nt=status\nsrc=a\n<<<\n".to_vec()]);
        assert_eq!(f.push(b"\n>>>\nx=1\n<<<\n").len(), 1);
        // A line that never ends is dropped, and the framer recovers.
        let mut f = Framer::default();
        assert!(f.push(b">>>\n").is_empty());
        assert!(f.push(&vec![b'x'; crate::wire::message::MAXMSG + 10]).is_empty());
        assert_eq!(f.push(b"\n>>>\ny=2\n<<<\n"), vec![b">>>\ny=2\n<<<\n".to_vec()]);
    }
}
