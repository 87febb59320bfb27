//! `ping`/`ping6`/`ping_group` nodes: ICMP echo over raw sockets (the daemon runs as root, as
//! 3.0.6 does). Edge code: sends requests, reports which pseudo-node answered.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// The ICMP sockets and who to ask.
pub struct Pinger {
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    /// Every host address, with the name of the pseudo-node it belongs to.
    targets: Vec<(IpAddr, String)>,
    id: u16,
    seq: u16,
}

/// RFC 1071 checksum.
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP (v4) or ICMPv6 echo request.
pub fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"heartbeat-rs ping node");
    if !v6 {
        // The kernel computes ICMPv6 checksums itself (it needs the pseudo-header).
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// The identifier of an echo reply in `pkt` (as read from a raw socket), if it is one.
fn reply_id(v6: bool, pkt: &[u8]) -> Option<u16> {
    let icmp = if v6 {
        pkt
    } else {
        // IPv4 raw sockets deliver the IP header too.
        let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
        pkt.get(ihl..)?
    };
    let want = if v6 { 129 } else { 0 };
    (icmp.len() >= 8 && icmp[0] == want && icmp[1] == 0).then(|| u16::from_be_bytes([icmp[4], icmp[5]]))
}

fn raw(v6: bool) -> Result<UdpSocket, String> {
    let (d, p) = if v6 { (Domain::IPV6, Protocol::ICMPV6) } else { (Domain::IPV4, Protocol::ICMPV4) };
    let s = Socket::new(d, Type::RAW, Some(p)).map_err(|e| format!("ICMP socket for ping nodes (needs root): {e}"))?;
    // Only the datagram calls are used on it; std's UDP type gives them without unsafe code.
    Ok(s.into())
}

impl Pinger {
    /// Resolves every host; `nodes` is (pseudo-node name, its hosts).
    pub fn open(nodes: &[(String, Vec<String>)]) -> Result<Pinger, String> {
        let mut targets = Vec::new();
        for (name, hosts) in nodes {
            for h in hosts {
                let addr = (h.as_str(), 0)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| format!("ping node {h}: cannot resolve the address"))?;
                targets.push((addr.ip(), name.clone()));
            }
        }
        let v4 = targets.iter().any(|(a, _)| a.is_ipv4()).then(|| raw(false)).transpose()?;
        let v6 = targets.iter().any(|(a, _)| a.is_ipv6()).then(|| raw(true)).transpose()?;
        Ok(Pinger { v4, v6, targets, id: std::process::id() as u16, seq: 0 })
    }

    /// One echo request to every host; errors (no route yet) are what a dead ping node looks like.
    pub fn send_all(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        for (addr, _) in &self.targets {
            let sock = if addr.is_ipv4() { self.v4.as_ref() } else { self.v6.as_ref() };
            if let Some(s) = sock {
                let _ = s.send_to(&echo_request(addr.is_ipv6(), self.id, self.seq), SocketAddr::new(*addr, 0));
            }
        }
    }

    /// Starts a thread per socket that calls `deliver(node name)` for each matching reply, until
    /// `deliver` returns false.
    pub fn spawn_receivers(&self, deliver: impl Fn(String) -> bool + Send + Clone + 'static) -> Result<(), String> {
        for (sock, v6) in [(&self.v4, false), (&self.v6, true)] {
            let Some(sock) = sock else { continue };
            let sock = sock.try_clone().map_err(|e| e.to_string())?;
            let (targets, id, deliver) = (self.targets.clone(), self.id, deliver.clone());
            std::thread::Builder::new()
                .name("ping-rx".into())
                .stack_size(crate::net::serial::STACK)
                .spawn(move || {
                    let mut buf = [0u8; 2048];
                    loop {
                        let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
                        if reply_id(v6, &buf[..n]) != Some(id) {
                            continue;
                        }
                        if let Some((_, name)) = targets.iter().find(|(a, _)| *a == from.ip()) {
                            if !deliver(name.clone()) {
                                return;
                            }
                        }
                    }
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_a_valid_checksum_and_replies_are_matched_by_id() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        let mut reply = vec![0x45u8; 20];
        reply.extend_from_slice(&p);
        reply[20] = 0;
        assert_eq!(reply_id(false, &reply), Some(0x1234));
        reply[20] = 8; // our own request, seen on the raw socket
        assert_eq!(reply_id(false, &reply), None);
        assert_eq!(reply_id(false, &[0x4f]), None);
        let mut r6 = echo_request(true, 9, 1);
        r6[0] = 129;
        assert_eq!(reply_id(true, &r6), Some(9));
    }
}
