#![no_main]
use heartbeat_rs::config::authkeys::{ModeRule, parse};
// Structural property: an accepted file's active slot exists and keyed methods have keys.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(c) = parse("f", data, Some(0o600), ModeRule::Enforce) {
        let k = c.value.active_key();
        assert_eq!(k.method.needs_key(), k.key.is_some());
    }
});
