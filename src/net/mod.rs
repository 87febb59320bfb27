//! Heartbeat media as sockets: `bcast`, `ucast` and `mcast` over UDP. Edge code: it opens and
//! configures sockets and moves bytes; it never parses or decides anything.

pub mod ping;
pub mod serial;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::config::ha_cf::Medium;

/// One medium ready to use: where to send, and the socket it sends from.
pub struct Link {
    /// `eth0`, as cl_status names links.
    pub iface: String,
    pub send: std::net::UdpSocket,
    pub dest: SocketAddr,
}

/// Opened media: send links, and the sockets to receive on (one per interface and port).
pub struct Media {
    pub links: Vec<Link>,
    pub receivers: Vec<(String, std::net::UdpSocket)>,
    pub serials: Vec<serial::Serial>,
}

fn err(what: String) -> impl FnOnce(std::io::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// The IPv4 address and broadcast address of an interface.
fn iface_v4(iface: &str) -> Result<(Ipv4Addr, Option<Ipv4Addr>), String> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| format!("listing interfaces: {e}"))?;
    for a in addrs.filter(|a| a.interface_name == iface) {
        if let Some(ip) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()).map(|s| s.ip()) {
            let brd = a.broadcast.as_ref().and_then(|s| s.as_sockaddr_in()).map(|s| s.ip());
            return Ok((ip, brd));
        }
    }
    Err(format!("interface {iface} does not exist or has no IPv4 address"))
}

fn udp_socket(iface: &str) -> Result<Socket, String> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(err("creating a UDP socket".into()))?;
    s.set_reuse_address(true).map_err(err("SO_REUSEADDR".into()))?;
    s.set_nonblocking(true).map_err(err("O_NONBLOCK".into()))?;
    // Heartbeat 3.0.6 (Debian's build) binds its media sockets to their interface too.
    s.bind_device(Some(iface.as_bytes())).map_err(err(format!("binding to interface {iface}")))?;
    Ok(s)
}

fn receiver(iface: &str, port: u16, group: Option<Ipv4Addr>) -> Result<std::net::UdpSocket, String> {
    let s = udp_socket(iface)?;
    s.set_broadcast(true).map_err(err("SO_BROADCAST".into()))?;
    // Room for a burst of junk (a flood) without the kernel dropping a real heartbeat behind it.
    let _ = s.set_recv_buffer_size(4 << 20);
    if let Some(g) = group {
        let index = nix::net::if_::if_nametoindex(iface).map_err(|e| format!("interface {iface}: {e}"))?;
        s.join_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(index)).map_err(err(format!("joining {g} on {iface}")))?;
    }
    let bind = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    s.bind(&SockAddr::from(bind)).map_err(err(format!("binding UDP port {port} on {iface}")))?;
    Ok(s.into())
}

/// Opens every UDP medium of ha.cf. A `bcast` interface without a broadcast address is an
/// error: Heartbeat 3.0.6 silently sends nothing there, and both nodes take over.
pub fn open(media: &[Medium], baud: u32) -> Result<Media, String> {
    let mut links = Vec::new();
    let mut serials = Vec::new();
    let mut receivers: Vec<(String, u16, Option<Ipv4Addr>)> = Vec::new();
    for m in media {
        let (iface, dest, group, port) = match m {
            Medium::Bcast { iface, port } => {
                let (_, brd) = iface_v4(iface)?;
                let brd = brd.ok_or_else(|| {
                    format!("bcast {iface}: the interface has no broadcast address (add one: ip addr add ADDR/LEN brd + dev {iface})")
                })?;
                (iface, SocketAddr::new(IpAddr::V4(brd), *port), None, *port)
            }
            Medium::Ucast { iface, peer, v6: false, port } => {
                let ip: Ipv4Addr =
                    peer.parse().map_err(|_| format!("ucast {iface} {peer}: host names are not resolved yet; use an address"))?;
                (iface, SocketAddr::new(IpAddr::V4(ip), *port), None, *port)
            }
            Medium::Mcast { iface, group, port, .. } => (iface, SocketAddr::new(IpAddr::V4(*group), *port), Some(*group), *port),
            Medium::Serial { device } => {
                serials.push(serial::open(device, baud)?);
                continue;
            }
            other => return Err(format!("medium {other:?} is not supported yet")),
        };
        let send = udp_socket(iface)?;
        send.set_broadcast(true).map_err(err("SO_BROADCAST".into()))?;
        if let Medium::Mcast { ttl, looped, .. } = m {
            send.set_multicast_ttl_v4(u32::from(*ttl)).map_err(err("IP_MULTICAST_TTL".into()))?;
            send.set_multicast_loop_v4(*looped).map_err(err("IP_MULTICAST_LOOP".into()))?;
            let (ip, _) = iface_v4(iface)?;
            send.set_multicast_if_v4(&ip).map_err(err("IP_MULTICAST_IF".into()))?;
        }
        links.push(Link { iface: iface.clone(), send: send.into(), dest });
        if !receivers.iter().any(|(i, p, g)| i == iface && *p == port && *g == group) {
            receivers.push((iface.clone(), port, group));
        }
    }
    let receivers = receivers.into_iter().map(|(i, p, g)| receiver(&i, p, g).map(|s| (i, s))).collect::<Result<Vec<_>, _>>()?;
    Ok(Media { links, receivers, serials })
}
