#![no_main]
// Structural property: a datagram that parses re-encodes to exactly the bytes its trailing auth
// covered (the codec loses nothing), and parsing never panics.
use heartbeat_rs::wire::message::{parse_classic, parse_datagram};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(d) = parse_datagram(data) {
        assert_eq!(d.message.netstring_body(), d.signed);
    }
    let _ = parse_classic(data);
});
