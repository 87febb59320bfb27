//! The wire codec: encode → decode round trips, and any bytes give a message or an error.

use heartbeat_rs::config::authkeys::{self, ModeRule};
use heartbeat_rs::wire::auth::{sign, verify, verify_inner};
use heartbeat_rs::wire::message::{Message, parse_classic, parse_datagram};
use proptest::prelude::*;

fn keys(active: u8) -> authkeys::AuthKeys {
    let mut k = authkeys::parse("authkeys", b"auth 1\n1 crc\n2 sha1 k2\n3 md5 k3\n", Some(0o600), ModeRule::Enforce).unwrap().value;
    k.active = active;
    k
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn signed_messages_round_trip(
        fields in proptest::collection::vec(("[a-z]{1,8}", proptest::collection::vec(any::<u8>(), 0..40), any::<bool>()), 0..12),
        slot in 1u8..4,
    ) {
        let mut m = Message::new();
        for (name, value, binary) in &fields {
            if name == "auth" { continue; }
            if *binary { m.add_binary(name, value.clone()); } else { m.add(name, value.clone()); }
        }
        let k = keys(slot);
        let datagram = sign(&mut m, &k);
        let back = verify(&datagram, &k).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert!(verify_inner(&back, &k));
        // Any single flipped byte is refused or changes the message.
        let i = datagram.len() / 2;
        let mut bad = datagram.clone();
        bad[i] ^= 0x20;
        if let Ok(m2) = verify(&bad, &k) { prop_assert_ne!(m2, m); }
    }

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_datagram(&bytes);
        let _ = parse_classic(&bytes);
        let mut framed = b"###\n".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = parse_datagram(&framed);
        let _ = verify(&framed, &keys(2));
    }
}
