use super::*;
use crate::config::authkeys::{self, ModeRule};

fn cfg(local: &str) -> Config {
    Config {
        local: local.into(),
        nodes: vec!["nodea".into(), "nodeb".into()],
        keepalive: Duration::from_millis(100),
        deadtime: Duration::from_millis(500),
        warntime: Duration::from_millis(300),
        initdead: Duration::from_millis(1000),
        ping_nodes: Vec::new(),
        deadping: Duration::from_millis(500),
        hopfudge: 1,
        keys: authkeys::parse("authkeys", b"auth 2\n2 sha1 k\n", Some(0o600), ModeRule::Enforce).unwrap().value,
        autojoin: false,
    }
}

fn ms(n: u64) -> Instant {
    Instant(n * 1000)
}

fn sent(actions: &[Action]) -> Vec<Vec<u8>> {
    actions.iter().filter_map(|a| if let Action::Send(b) = a { Some(b.clone()) } else { None }).collect()
}

#[test]
fn first_heartbeat_is_init_and_keepalive_repeats() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let out: Vec<_> = a.handle(ms(0), 1000, Input::DeadlineReached).collect();
    let s = sent(&out);
    assert_eq!(s.len(), 1);
    let m = verify(&s[0], &cfg("nodeb").keys).unwrap();
    assert_eq!(
        (m.get_str("st"), m.get_str("dt"), m.get_str("seq"), m.get_str("hg"), m.get_str("ttl")),
        (Some("init"), Some("1f4"), Some("1"), Some("5"), Some("3"))
    );
    assert_eq!(a.next_deadline().at, ms(100));
    assert!(sent(&a.handle(ms(99), 1000, Input::DeadlineReached).collect::<Vec<_>>()).is_empty());
    assert_eq!(sent(&a.handle(ms(100), 1000, Input::DeadlineReached).collect::<Vec<_>>()).len(), 1);
}

#[test]
fn silent_peer_dies_exactly_at_its_deadtime() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let mut b = Membership::new(cfg("nodeb"), Identity { uuid: [2; 16], generation: 9 }, ms(0));
    let hb = sent(&b.handle(ms(0), 1000, Input::DeadlineReached).collect::<Vec<_>>()).remove(0);
    let _ = a.handle(ms(10), 1000, Input::PacketReceived { medium: 0, bytes: &hb }).count();
    assert_eq!(a.node_status("nodeb"), Some(NodeStatus::Init));
    assert_eq!(a.counters().accepted, 1);
    // Silent from 10 ms on: not dead 1 µs before 510 ms, dead at 510 ms.
    let before: Vec<_> = a.handle(Instant(510_000 - 1), 1000, Input::DeadlineReached).collect();
    assert!(!before.iter().any(|x| matches!(x, Action::NodeStatusChanged { status: NodeStatus::Dead, .. })));
    assert_eq!(a.next_deadline().at, ms(510));
    assert_eq!(a.link_up(ms(100), "nodeb", 0), Some(true));
    assert_eq!(a.link_up(ms(100), "nodeb", 1), Some(false));
    assert_eq!(a.link_up(ms(510), "nodeb", 0), Some(false));
    assert_eq!(a.link_up(ms(100), "nobody", 0), None);
    let at: Vec<_> = a.handle(ms(510), 1000, Input::DeadlineReached).collect();
    assert!(at.contains(&Action::NodeStatusChanged { node: "nodeb".into(), status: NodeStatus::Dead }));
    // A replay of the old packet does not bring it back (duplicate seq).
    let _ = a.handle(ms(600), 1000, Input::PacketReceived { medium: 0, bytes: &hb }).count();
    assert_eq!(a.node_status("nodeb"), Some(NodeStatus::Dead));
    assert_eq!(a.counters().duplicate, 1);
}

#[test]
fn never_heard_peer_gets_initdead_and_bad_packets_are_counted() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let _ = a.handle(ms(0), 1000, Input::DeadlineReached).count();
    let _ = a.handle(ms(1), 1000, Input::PacketReceived { medium: 0, bytes: b"garbage" }).count();
    let mut evil = Membership::new(cfg("nodeb"), Identity { uuid: [3; 16], generation: 1 }, ms(0));
    let mut other_keys = cfg("nodeb");
    other_keys.keys = authkeys::parse("authkeys", b"auth 2\n2 sha1 wrong\n", Some(0o600), ModeRule::Enforce).unwrap().value;
    evil.cfg = other_keys;
    let forged = sent(&evil.handle(ms(0), 1000, Input::DeadlineReached).collect::<Vec<_>>()).remove(0);
    let _ = a.handle(ms(2), 1000, Input::PacketReceived { medium: 0, bytes: &forged }).count();
    assert_eq!(a.counters().malformed_or_bad_auth, 2);
    assert_eq!(a.next_deadline().why, Why::Keepalive);
    let out: Vec<_> = a.handle(ms(999), 1000, Input::DeadlineReached).collect();
    assert!(!out.iter().any(|x| matches!(x, Action::NodeStatusChanged { .. })));
    let out: Vec<_> = a.handle(ms(1000), 1000, Input::DeadlineReached).collect();
    assert!(out.contains(&Action::NodeStatusChanged { node: "nodeb".into(), status: NodeStatus::Dead }));
}

fn status_of(bytes: &[u8]) -> Message {
    verify(bytes, &cfg("nodea").keys).unwrap()
}

/// Runs `b` to `t_ms` and returns what it sent.
fn tick(e: &mut Membership, t_ms: u64) -> Vec<Vec<u8>> {
    sent(&e.handle(ms(t_ms), 1000, Input::DeadlineReached).collect::<Vec<_>>())
}

#[test]
fn a_gap_is_asked_for_again_and_the_copy_fills_it() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let mut b = Membership::new(cfg("nodeb"), Identity { uuid: [2; 16], generation: 9 }, ms(0));
    let s1 = tick(&mut b, 0).remove(0);
    let s2 = tick(&mut b, 100).remove(0);
    let s3 = tick(&mut b, 200).remove(0);
    let _ = a.handle(ms(1), 1000, Input::PacketReceived { medium: 0, bytes: &s1 }).count();
    // s2 is lost; s3 shows the hole and a request for seq 2 goes out at once.
    let out: Vec<_> = a.handle(ms(201), 1000, Input::PacketReceived { medium: 0, bytes: &s3 }).collect();
    let req: Vec<Message> = sent(&out).iter().map(|b| status_of(b)).filter(|m| m.get_str("t") == Some("NS_rexmit")).collect();
    assert_eq!(req.len(), 1, "{out:?}");
    assert_eq!((req[0].get_str("dest"), req[0].get_str("firstseq"), req[0].get_str("lastseq")), (Some("nodeb"), Some("2"), Some("2")));
    assert!(req[0].get("seq").is_none() && req[0].get("ld").is_none(), "NS_ messages carry no seq or ld");
    assert_eq!(req[0].get("destuuid"), Some(&[2u8; 16][..]));
    // Not asked again before 250 ms.
    assert!(a.next_deadline().at >= ms(451) || a.next_deadline().why == Why::Keepalive);
    // nodeb answers with the stored copy, byte for byte; a second request within 250 ms is ignored.
    let req_bytes = sent(&out).into_iter().find(|b| status_of(b).get_str("t") == Some("NS_rexmit")).unwrap();
    let answer = sent(&b.handle(ms(210), 1000, Input::PacketReceived { medium: 0, bytes: &req_bytes }).collect::<Vec<_>>());
    assert_eq!(answer, vec![s2.clone()]);
    assert!(sent(&b.handle(ms(220), 1000, Input::PacketReceived { medium: 0, bytes: &req_bytes }).collect::<Vec<_>>()).is_empty());
    let hb = a.counters().heartbeats;
    let _ = a.handle(ms(230), 1000, Input::PacketReceived { medium: 0, bytes: &s2 }).count();
    assert_eq!(a.counters().duplicate, 0, "the copy fills the hole");
    assert_eq!(a.counters().heartbeats, hb, "an old heartbeat says nothing about liveness now");
    // The hole is filled: no more requests.
    let later: Vec<Message> = tick(&mut a, 600).iter().map(|b| status_of(b)).collect();
    assert!(later.iter().all(|m| m.get_str("t") != Some("NS_rexmit")));
}

#[test]
fn a_request_for_what_is_gone_gets_a_nak() {
    let mut b = Membership::new(cfg("nodeb"), Identity { uuid: [2; 16], generation: 9 }, ms(0));
    for t in 0..600 {
        let _ = tick(&mut b, t * 100);
    }
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let mut m = Message::new();
    m.add("t", "NS_rexmit").add("dest", "nodeb").add("firstseq", "3").add("lastseq", "3");
    let _ = a.handle(ms(0), 1000, Input::SendMessage(m)).count();
    let req = sent(&a.handle(ms(0), 1000, Input::DeadlineReached).collect::<Vec<_>>());
    let mut nak = None;
    for r in sent(
        &a.handle(
            ms(1),
            1000,
            Input::SendMessage({
                let mut m = Message::new();
                m.add("t", "NS_rexmit").add("dest", "nodeb").add("firstseq", "3").add("lastseq", "3");
                m
            }),
        )
        .collect::<Vec<_>>(),
    )
    .into_iter()
    .chain(req)
    {
        for x in sent(&b.handle(ms(60_000), 1000, Input::PacketReceived { medium: 0, bytes: &r }).collect::<Vec<_>>()) {
            let m = status_of(&x);
            if m.get_str("t") == Some("NS_nak_rexmit") {
                nak = Some(m);
            }
        }
    }
    let nak = nak.expect("a nak");
    assert_eq!((nak.get_str("firstseq"), nak.get_str("dest"), nak.get_str("info")), (Some("3"), Some("nodea"), Some("seqno too low")));
}

#[test]
fn messages_are_delivered_once_acked_and_shutdone_is_immediate_death() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let mut b = Membership::new(cfg("nodeb"), Identity { uuid: [2; 16], generation: 9 }, ms(0));
    let _ = a.handle(ms(0), 1000, Input::PacketReceived { medium: 0, bytes: &tick(&mut b, 0)[0] }).count();
    let mut delivered = 0;
    let mut acks = Vec::new();
    for i in 0..12 {
        let mut m = Message::new();
        m.add("t", "resource").add("rsc_hold", "none").add("rtype", "full").add("isstable", "0");
        let out = sent(&b.handle(ms(10 + i), 1000, Input::SendMessage(m)).collect::<Vec<_>>());
        for bytes in &out {
            // Twice: the second copy (another medium) is a duplicate.
            for _ in 0..2 {
                for x in a.handle(ms(10 + i), 1000, Input::PacketReceived { medium: 0, bytes }).collect::<Vec<_>>() {
                    match x {
                        Action::Deliver { from, msg } => {
                            assert_eq!((from.as_str(), msg.get_str("t")), ("nodeb", Some("resource")));
                            delivered += 1;
                        }
                        Action::Send(b) => acks.push(status_of(&b)),
                        _ => {}
                    }
                }
            }
        }
    }
    assert_eq!(delivered, 12);
    // Every 10th sequence number is acknowledged, to its sender.
    let acks: Vec<_> = acks.iter().filter(|m| m.get_str("t") == Some("NS_ackmsg")).collect();
    assert_eq!(acks.len(), 1);
    assert_eq!((acks[0].get_str("dest"), acks[0].get_str("ackseq")), (Some("nodeb"), Some("a")));
    // A message for someone else is not delivered.
    let mut m = Message::new();
    m.add("t", "ip-request-resp").add("dest", "nodeb").add("ipaddr", "x");
    let out = sent(&b.handle(ms(50), 1000, Input::SendMessage(m)).collect::<Vec<_>>());
    assert!(!a.handle(ms(50), 1000, Input::PacketReceived { medium: 0, bytes: &out[0] }).any(|x| matches!(x, Action::Deliver { .. })));
    // shutdone: dead now, not after deadtime.
    let mut m = Message::new();
    m.add("t", "shutdone").add("st", "dead");
    let out = sent(&b.handle(ms(60), 1000, Input::SendMessage(m)).collect::<Vec<_>>());
    let got: Vec<_> = a.handle(ms(60), 1000, Input::PacketReceived { medium: 0, bytes: &out[0] }).collect();
    assert!(got.contains(&Action::NodeStatusChanged { node: "nodeb".into(), status: NodeStatus::Dead }));
    assert_eq!(a.node_status("nodeb"), Some(NodeStatus::Dead));
}

#[test]
fn reqnodes_gets_repnodes_in_3_0_6_field_order() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let mut b = Membership::new(cfg("nodeb"), Identity { uuid: [2; 16], generation: 9 }, ms(0));
    let _ = a.handle(ms(0), 1000, Input::PacketReceived { medium: 0, bytes: &tick(&mut b, 0)[0] }).count();
    let mut m = Message::new();
    m.add("t", "reqnodes").add("dest", "nodea");
    let out = sent(&b.handle(ms(1), 1000, Input::SendMessage(m)).collect::<Vec<_>>());
    let rep = status_of(&sent(&a.handle(ms(1), 1000, Input::PacketReceived { medium: 0, bytes: &out[0] }).collect::<Vec<_>>())[0]);
    let names: Vec<&[u8]> = rep.fields.iter().map(|f| f.name.as_slice()).collect();
    assert_eq!(
        names,
        [&b"dest"[..], b"t", b"nodelist", b"delnodelist", b"destuuid", b"src", b"srcuuid", b"seq", b"hg", b"ts", b"ld", b"ttl", b"auth"]
    );
    assert_eq!(rep.get_str("nodelist"), Some("nodea nodeb "));
}

#[test]
fn ping_nodes_live_on_replies_and_die_after_deadping() {
    let mut c = cfg("nodea");
    c.ping_nodes = vec!["10.0.0.254".into()];
    c.deadping = Duration::from_millis(800);
    let mut a = Membership::new(c, Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let out: Vec<_> = a.handle(ms(0), 1000, Input::DeadlineReached).collect();
    assert!(out.contains(&Action::Ping));
    assert!(a.is_ping_node("10.0.0.254"));
    let out: Vec<_> = a.handle(ms(5), 1000, Input::PingReplied { node: "10.0.0.254" }).collect();
    assert!(out.contains(&Action::NodeStatusChanged { node: "10.0.0.254".into(), status: NodeStatus::Ping }));
    assert!(!a.handle(ms(804), 1000, Input::DeadlineReached).any(|x| matches!(x, Action::NodeStatusChanged { .. })));
    let out: Vec<_> = a.handle(ms(805), 1000, Input::DeadlineReached).collect();
    assert!(out.contains(&Action::NodeStatusChanged { node: "10.0.0.254".into(), status: NodeStatus::Dead }));
    // An unknown name is ignored.
    assert_eq!(
        a.handle(ms(900), 1000, Input::PingReplied { node: "nodeb" }).filter(|x| matches!(x, Action::NodeStatusChanged { .. })).count(),
        0
    );
}

#[test]
fn classic_text_from_a_serial_line_is_checked_by_its_inner_auth() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let mut b = Membership::new(cfg("nodeb"), Identity { uuid: [2; 16], generation: 9 }, ms(0));
    let classic = status_of(&tick(&mut b, 0)[0]).classic();
    let _ = a.handle(ms(1), 1000, Input::PacketReceived { medium: 1, bytes: &classic }).count();
    assert_eq!((a.counters().heartbeats, a.node_status("nodeb")), (1, Some(NodeStatus::Init)));
    let forged = String::from_utf8(status_of(&tick(&mut b, 100)[0]).classic()).unwrap().replace("st=init", "st=dead");
    let _ = a.handle(ms(101), 1000, Input::PacketReceived { medium: 1, bytes: forged.as_bytes() }).count();
    assert_eq!(a.counters().malformed_or_bad_auth, 1);
}

#[test]
fn reload_adds_and_forgets_nodes_and_autojoin_admits_strangers() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let mut c = cfg("nodec");
    c.nodes.push("nodec".into());
    let mut stranger = Membership::new(c, Identity { uuid: [3; 16], generation: 2 }, ms(0));
    let hb = tick(&mut stranger, 0).remove(0);
    let _ = a.handle(ms(1), 1000, Input::PacketReceived { medium: 0, bytes: &hb }).count();
    assert_eq!((a.counters().unknown_node, a.node_status("nodec")), (1, None), "autojoin none");
    let mut auto = cfg("nodea");
    auto.autojoin = true;
    auto.deadtime = Duration::from_millis(700);
    let _ = a.handle(ms(2), 1000, Input::ConfigChanged(auto)).count();
    let hb = tick(&mut stranger, 100).remove(0);
    let _ = a.handle(ms(101), 1000, Input::PacketReceived { medium: 0, bytes: &hb }).count();
    assert_eq!((a.counters().unknown_node, a.node_status("nodec")), (1, Some(NodeStatus::Init)), "joined");
    // Reloading without nodeb and without autojoin forgets both.
    let mut lone = cfg("nodea");
    lone.nodes = vec!["nodea".into()];
    let _ = a.handle(ms(200), 1000, Input::ConfigChanged(lone)).count();
    assert_eq!((a.node_status("nodeb"), a.node_status("nodec")), (None, None));
}

#[test]
fn a_silent_medium_goes_dead_while_the_node_lives_on_the_other() {
    let mut a = Membership::new(cfg("nodea"), Identity { uuid: [1; 16], generation: 5 }, ms(0));
    let mut b = Membership::new(cfg("nodeb"), Identity { uuid: [2; 16], generation: 9 }, ms(0));
    let mut events = Vec::new();
    for t in 0..10u64 {
        let hb = tick(&mut b, t * 100).remove(0);
        // Medium 1 carries only the first two heartbeats.
        for m in if t < 2 { vec![0, 1] } else { vec![0] } {
            events.extend(a.handle(ms(t * 100 + 1), 1000, Input::PacketReceived { medium: m, bytes: &hb }));
        }
        events.extend(a.handle(ms(t * 100 + 50), 1000, Input::DeadlineReached));
    }
    let links: Vec<_> = events.into_iter().filter(|x| matches!(x, Action::LinkStatusChanged { .. })).collect();
    assert_eq!(
        links,
        vec![
            Action::LinkStatusChanged { node: "nodeb".into(), medium: 0, up: true },
            Action::LinkStatusChanged { node: "nodeb".into(), medium: 1, up: true },
            Action::LinkStatusChanged { node: "nodeb".into(), medium: 1, up: false },
        ]
    );
    assert_eq!((a.link_up(ms(950), "nodeb", 0), a.link_up(ms(950), "nodeb", 1)), (Some(true), Some(false)));
    assert_eq!(a.node_status("nodeb"), Some(NodeStatus::Init));
}
