//! Properties of the reconciler and the netlink reply parser.

use std::collections::HashSet;

use heartbeat_rs::ipvs::Backend;
use heartbeat_rs::ipvs::diff::{Op, plan};
use heartbeat_rs::ipvs::fake::FakeIpvs;
use heartbeat_rs::ipvs::genl;
use heartbeat_rs::ipvs::model::{Dest, DestConf, DestCounters, DestKey, Forward, Protocol, Service, ServiceConf, ServiceKey, Table};
use proptest::prelude::*;

/// A table over a small universe of 4 services × 4 destinations, so tables overlap often.
fn table() -> impl Strategy<Value = Table> {
    proptest::collection::vec((0u8..4, any::<bool>(), proptest::collection::vec((0u8..4, 0u32..4, 0u8..3), 0..4)), 0..4).prop_map(|svcs| {
        let mut t = Table::default();
        for (s, persistent, dests) in svcs {
            let key = ServiceKey::Inet { protocol: Protocol::Tcp, addr: format!("10.0.0.{s}").parse().unwrap(), port: 80 };
            if t.service(&key).is_some() {
                continue;
            }
            let mut conf = ServiceConf::new(if persistent { "sh" } else { "wrr" }, false);
            if persistent {
                conf.flags = 1;
                conf.timeout = 300;
            }
            let mut svc = Service { key, conf, dests: Vec::new(), stats: Default::default() };
            for (d, weight, fwd) in dests {
                let forward = [Forward::Route, Forward::Masq, Forward::Tunnel][fwd as usize];
                let dkey = svc.ipvsadm_dest_key(DestKey { addr: format!("10.0.1.{d}").parse().unwrap(), port: 80 }, forward);
                if svc.dest(&dkey).is_none() {
                    svc.dests.push(Dest {
                        key: dkey,
                        conf: DestConf { forward, weight, upper_threshold: 0, lower_threshold: 0 },
                        counters: DestCounters::default(),
                    });
                }
            }
            t.services.push(svc);
        }
        t
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Applying the plan converges (a second plan is empty), never fails on a table the plan
    /// was made from, and never deletes a service we do not own.
    #[test]
    fn plan_converges_and_respects_ownership(desired in table(), observed in table(), extra_owned in 0u8..4) {
        let mut owned: HashSet<ServiceKey> = desired.services.iter().map(|s| s.key).collect();
        owned.insert(ServiceKey::Inet { protocol: Protocol::Tcp, addr: format!("10.0.0.{extra_owned}").parse().unwrap(), port: 80 });
        let ops = plan(&desired, &observed, &owned);
        for op in &ops {
            if let Op::DelService { key } = op {
                prop_assert!(owned.contains(key));
            }
        }
        let mut fake = FakeIpvs::with_table(observed.clone());
        let results = fake.apply(&ops);
        prop_assert!(results.iter().all(Result::is_ok), "{:?} -> {:?}", ops, results);
        prop_assert!(plan(&desired, fake.table(), &owned).is_empty());
        prop_assert!(plan(&desired, &desired, &owned).is_empty());
        // Services we do not own are exactly as they were.
        for s in observed.services.iter().filter(|s| !owned.contains(&s.key)) {
            prop_assert_eq!(fake.table().service(&s.key), Some(s));
        }
    }

    /// Any bytes from the kernel give messages or an error, never a panic.
    #[test]
    fn reply_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(replies) = genl::parse_replies(&bytes) {
            for r in replies {
                if let genl::Reply::Data { attrs, .. } = r {
                    let _ = genl::decode_service(attrs);
                    let _ = genl::decode_dest(attrs, 2);
                    let _ = genl::decode_dest(attrs, 10);
                    let _ = genl::decode_info(attrs);
                }
            }
        }
    }
}
