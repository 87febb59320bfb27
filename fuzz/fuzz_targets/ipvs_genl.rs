#![no_main]
// Structural property: whatever the kernel sends, parsing ends in messages or an error, and a
// decoded service re-encodes to a request that decodes to the same service.
use heartbeat_rs::ipvs::diff::Op;
use heartbeat_rs::ipvs::genl::{self, Reply, Writer};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(replies) = genl::parse_replies(data) else { return };
    for r in replies {
        if let Reply::Data { attrs, .. } = r {
            if let Ok(s) = genl::decode_service(attrs) {
                let mut w = Writer::new();
                w.op(0x1c, 1, &Op::AddService { key: s.key, conf: s.conf.clone() });
                let again = genl::parse_replies(&w.buf).expect("our own message parses");
                if let Some(Reply::Data { attrs, .. }) = again.first() {
                    let back = genl::decode_service(attrs).expect("our own service decodes");
                    assert_eq!(back.key, s.key);
                }
            }
        }
    }
});
