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
        hopfudge: 1,
        keys: authkeys::parse("authkeys", b"auth 2\n2 sha1 k\n", Some(0o600), ModeRule::Enforce).unwrap().value,
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
