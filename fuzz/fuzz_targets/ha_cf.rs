#![no_main]
// Structural property: an accepted ha.cf has media and its timers are ordered as Heartbeat requires.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(c) = heartbeat_rs::config::ha_cf::parse("f", data) {
        assert!(!c.value.media.is_empty());
        assert!(c.value.deadtime > c.value.keepalive * 2);
        assert!(c.value.initdead >= c.value.deadtime);
    }
});
