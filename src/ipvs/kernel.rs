//! The kernel backend: one generic-netlink socket to the IPVS family. Edge code: it sends what
//! `genl` encodes and hands back what `genl` decodes; it makes no decisions about the table.
//!
//! Changes are batched: many requests go out in one `send`, each with its own sequence number
//! and ACK, so the report says exactly which operations the kernel applied.

use std::io;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_GENERIC};

use super::diff::Op;
use super::genl::{self, Reply, SyncRole, Timeouts, Writer};
use super::model::{ServiceKey, Table};
use super::{Backend, Errno, IpvsError};

/// Requests per `send`. The ACKs of one batch must fit the socket's receive buffer.
pub const BATCH: usize = 256;
const RECV_BUF: usize = 1 << 20;

pub struct KernelIpvs {
    sock: Socket,
    family: u16,
    seq: u32,
    rx: Vec<u8>,
}

fn io_err(what: &str, e: io::Error) -> IpvsError {
    IpvsError::Io { what: what.to_owned(), errno: Errno(e.raw_os_error().unwrap_or(0)) }
}

impl KernelIpvs {
    /// Opens the socket and resolves the IPVS family (`ENOENT` when the kernel has no IPVS).
    pub fn open() -> Result<KernelIpvs, IpvsError> {
        let mut sock = Socket::new(NETLINK_GENERIC).map_err(|e| io_err("opening a generic netlink socket", e))?;
        sock.bind_auto().map_err(|e| io_err("binding the netlink socket", e))?;
        sock.connect(&SocketAddr::new(0, 0)).map_err(|e| io_err("connecting the netlink socket", e))?;
        // Best effort: bigger buffers for batches and dumps, short error replies.
        let _ = sock.set_rx_buf_sz(8 << 20);
        let _ = sock.set_cap_ack(true);
        // A reply that never comes must not block the daemon for ever.
        let _ = nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimeout, &nix::sys::time::TimeVal::new(5, 0));
        let mut k = KernelIpvs { sock, family: 0, seq: 1, rx: Vec::with_capacity(RECV_BUF) };
        let seq = k.next_seq();
        let mut w = Writer::new();
        w.get_family(seq, "IPVS");
        let replies = k.exchange(&w.buf, seq, false).map_err(|e| match e {
            IpvsError::Refused { errno, .. } => {
                IpvsError::Io { what: "resolving the IPVS netlink family (is the ip_vs module loaded?)".into(), errno }
            }
            e => e,
        })?;
        let attrs = replies.first().ok_or_else(|| IpvsError::Malformed("no reply to the family request".into()))?;
        k.family = genl::decode_family_id(attrs).map_err(IpvsError::Malformed)?;
        Ok(k)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&self, buf: &[u8]) -> Result<(), IpvsError> {
        self.sock.send(buf, 0).map_err(|e| io_err("sending to the kernel", e))?;
        Ok(())
    }

    fn recv(&mut self) -> Result<Vec<u8>, IpvsError> {
        self.rx.clear();
        let n = self.sock.recv(&mut self.rx, 0).map_err(|e| io_err("receiving from the kernel", e))?;
        Ok(self.rx[..n.min(self.rx.len())].to_vec())
    }

    /// Sends one request and collects its data messages (all of a dump, or the single reply).
    fn exchange(&mut self, request: &[u8], seq: u32, dump: bool) -> Result<Vec<Vec<u8>>, IpvsError> {
        self.send(request)?;
        let mut out = Vec::new();
        loop {
            let datagram = self.recv()?;
            let replies = genl::parse_replies(&datagram).map_err(IpvsError::Malformed)?;
            for r in replies {
                match r {
                    Reply::Ack { seq: s, errno } if s == seq => {
                        if errno != 0 {
                            return Err(IpvsError::Refused { op: "request".into(), errno: Errno(errno) });
                        }
                        return Ok(out);
                    }
                    Reply::Done { seq: s } if s == seq => return Ok(out),
                    Reply::Data { seq: s, attrs, multi, .. } if s == seq => {
                        out.push(attrs.to_vec());
                        if !dump && !multi {
                            return Ok(out);
                        }
                    }
                    // Stale replies of an earlier request: skip them.
                    _ => {}
                }
            }
        }
    }

    /// IPVS version and connection table size (`GET_INFO`), for the `-Ln` header.
    pub fn info(&mut self) -> Result<((u8, u8, u8), u32), IpvsError> {
        let seq = self.next_seq();
        let mut w = Writer::new();
        w.get_info(self.family, seq);
        let r = self.exchange(&w.buf, seq, false)?;
        genl::decode_info(r.first().ok_or_else(|| IpvsError::Malformed("no info reply".into()))?).map_err(IpvsError::Malformed)
    }

    /// Sets connection timeouts (`ipvsadm --set`).
    pub fn set_timeouts(&mut self, t: Timeouts) -> Result<(), IpvsError> {
        let seq = self.next_seq();
        let mut w = Writer::new();
        w.set_timeouts(self.family, seq, t);
        self.exchange(&w.buf, seq, false).map(|_| ())
    }

    /// Starts or stops the connection synchronisation daemon.
    pub fn sync_daemon(&mut self, start: bool, role: SyncRole, iface: &str, sync_id: u8) -> Result<(), IpvsError> {
        let seq = self.next_seq();
        let mut w = Writer::new();
        w.sync_daemon(self.family, seq, start, role, iface, sync_id);
        self.exchange(&w.buf, seq, false).map(|_| ())
    }

    fn dump_dests(&mut self, key: &ServiceKey) -> Result<Vec<super::model::Dest>, IpvsError> {
        let seq = self.next_seq();
        let mut w = Writer::new();
        w.dump_dests(self.family, seq, key);
        let msgs = self.exchange(&w.buf, seq, true)?;
        msgs.iter().map(|m| genl::decode_dest(m, genl::service_family(key)).map_err(IpvsError::Malformed)).collect()
    }

    fn apply_batch(&mut self, ops: &[Op]) -> Vec<Result<(), Errno>> {
        let mut w = Writer::new();
        // Sequence number → operation, so ACKs pair up even across a wrap of the counter.
        let mut index = std::collections::HashMap::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let seq = self.next_seq();
            index.insert(seq, i);
            w.op(self.family, seq, op);
        }
        let mut results: Vec<Option<Result<(), Errno>>> = vec![None; ops.len()];
        if let Err(IpvsError::Io { errno, .. }) = self.send(&w.buf) {
            return vec![Err(errno); ops.len()];
        }
        let mut pending = ops.len();
        while pending > 0 {
            let datagram = match self.recv() {
                Ok(d) => d,
                Err(IpvsError::Io { errno, .. }) => {
                    return results.into_iter().map(|r| r.unwrap_or(Err(errno))).collect();
                }
                Err(_) => break,
            };
            let Ok(replies) = genl::parse_replies(&datagram) else { break };
            for r in replies {
                if let Reply::Ack { seq, errno } = r {
                    let Some(&i) = index.get(&seq) else { continue };
                    if results[i].is_none() {
                        results[i] = Some(if errno == 0 { Ok(()) } else { Err(Errno(errno)) });
                        pending -= 1;
                    }
                }
            }
        }
        // An op whose ACK never came is reported as not applied.
        results.into_iter().map(|r| r.unwrap_or(Err(Errno::ENOBUFS))).collect()
    }
}

impl Backend for KernelIpvs {
    fn dump(&mut self) -> Result<Table, IpvsError> {
        let seq = self.next_seq();
        let mut w = Writer::new();
        w.dump_services(self.family, seq);
        let msgs = self.exchange(&w.buf, seq, true)?;
        let mut services = msgs.iter().map(|m| genl::decode_service(m).map_err(IpvsError::Malformed)).collect::<Result<Vec<_>, _>>()?;
        for s in &mut services {
            s.dests = self.dump_dests(&s.key)?;
        }
        Ok(Table { services })
    }

    fn apply(&mut self, ops: &[Op]) -> Vec<Result<(), Errno>> {
        ops.chunks(BATCH).flat_map(|chunk| self.apply_batch(chunk)).collect()
    }

    fn daemons(&mut self) -> Result<Vec<super::model::SyncDaemon>, IpvsError> {
        let seq = self.next_seq();
        let mut w = Writer::new();
        w.dump_daemons(self.family, seq);
        let msgs = self.exchange(&w.buf, seq, true)?;
        msgs.iter().map(|m| genl::decode_daemon(m).map_err(IpvsError::Malformed)).collect()
    }

    fn start_daemon(&mut self, d: &super::model::SyncDaemon) -> Result<(), Errno> {
        let seq = self.next_seq();
        let mut w = Writer::new();
        w.new_daemon(self.family, seq, d);
        self.exchange(&w.buf, seq, false).map(|_| ()).map_err(|e| e.errno())
    }

    fn stop_daemon(&mut self, role: SyncRole) -> Result<(), Errno> {
        let seq = self.next_seq();
        let mut w = Writer::new();
        w.del_daemon(self.family, seq, role);
        self.exchange(&w.buf, seq, false).map(|_| ()).map_err(|e| e.errno())
    }
}
