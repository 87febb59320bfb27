//! ping: ICMP echo, up on the first reply within `checkcount` attempts of `checktimeout` each.
//! Uses an unprivileged ICMP datagram socket when `net.ipv4.ping_group_range` allows it, else a
//! raw socket (root / CAP_NET_RAW).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

fn open(v6: bool) -> Result<(Socket, bool), String> {
    let (domain, proto) = if v6 { (Domain::IPV6, Protocol::ICMPV6) } else { (Domain::IPV4, Protocol::ICMPV4) };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => Ok((s, false)),
        Err(_) => Socket::new(domain, Type::RAW, Some(proto))
            .map(|s| (s, true))
            .map_err(|e| format!("ICMP socket: {e} (needs root or net.ipv4.ping_group_range)")),
    }
}

pub async fn ping(addr: IpAddr, attempts: u32, each: Duration) -> Result<String, String> {
    let v6 = addr.is_ipv6();
    let (sock, raw) = open(v6)?;
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let udp = tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(sock)).map_err(|e| e.to_string())?;
    let id = (std::process::id() & 0xffff) as u16;
    let mut last = String::from("no reply");
    for seq in 0..attempts.max(1) {
        let seq = (seq & 0xffff) as u16;
        let pkt = crate::net::ping::echo_request(v6, id, seq);
        if let Err(e) = udp.send_to(&pkt, SocketAddr::new(addr, 0)).await {
            last = format!("send: {e}");
            continue;
        }
        let wait = async {
            let mut buf = [0u8; 1500];
            loop {
                let (n, from) = udp.recv_from(&mut buf).await.map_err(|e| format!("receive: {e}"))?;
                if from.ip() != addr {
                    continue;
                }
                // A raw IPv4 socket hands over the IP header too.
                let icmp = if raw && !v6 { buf.get(usize::from(buf[0] & 0x0f) * 4..n).unwrap_or(&[]) } else { &buf[..n] };
                let reply_type = if v6 { 129 } else { 0 };
                if icmp.len() >= 8 && icmp[0] == reply_type && u16::from_be_bytes([icmp[6], icmp[7]]) == seq {
                    return Ok::<_, String>(());
                }
            }
        };
        match tokio::time::timeout(each, wait).await {
            Ok(Ok(())) => return Ok(format!("echo reply from {addr}")),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("no echo reply from {addr} within {} s", each.as_secs_f64()),
        }
    }
    Err(last)
}
