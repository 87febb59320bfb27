#![no_main]
// Structural property: every accepted address resource carries a parsed address.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(c) = heartbeat_rs::config::haresources::parse("f", data) {
        for r in c.value.iter().flat_map(|g| &g.resources) {
            assert_eq!(matches!(r.agent.as_str(), "IPaddr" | "IPaddr2" | "IPv6addr" | "SendArp"), r.address.is_some());
            assert!(!r.agent.is_empty());
        }
    }
});
