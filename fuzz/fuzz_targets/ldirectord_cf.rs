#![no_main]
// Structural property: an accepted file has no duplicate virtual service and sane numbers.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(c) = heartbeat_rs::config::ldirectord_cf::parse("f", data) {
        let ids: std::collections::HashSet<_> = c.value.virtuals.iter().map(|v| (v.ipv6, v.addr.clone(), v.protocol)).collect();
        assert_eq!(ids.len(), c.value.virtuals.len());
        assert!(c.value.globals.checkinterval > 0);
        for r in c.value.virtuals.iter().flat_map(|v| &v.reals) {
            assert!(r.weight <= 65535);
        }
    }
});
