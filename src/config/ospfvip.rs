//! `OSPFvip::VIP[::AREA[::COST[::MIN_UP]]]`: the arguments of the route-announcement resource
//! (active-active directors behind an ECMP router; see `src/daemon/ecmp.rs`).

use std::fmt;
use std::net::Ipv4Addr;

/// An OSPF area as FRR accepts it: a number or a dotted quad. Kept as written so the
/// `no network …` that withdraws matches the `network …` that announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area(String);

impl Area {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The area as a 32-bit id (`0` and `0.0.0.0` are the same area).
    pub fn id(&self) -> u32 {
        self.0.parse::<u32>().unwrap_or_else(|_| self.0.parse::<Ipv4Addr>().map(u32::from).unwrap_or(0))
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OspfVip {
    pub vip: Ipv4Addr,
    pub area: Area,
    /// `ip ospf cost` on `lo` (1–65535); none leaves FRR's default.
    pub cost: Option<u16>,
    /// Reals that must be up in every virtual on the VIP (at least 1).
    pub min_up: u32,
}

pub const USAGE: &str = "OSPFvip::VIP[::AREA[::COST[::MIN_UP]]]";

/// Parses the arguments after `OSPFvip::`. Empty fields take their defaults (`OSPFvip::VIP::::200`).
pub fn parse(args: &[String]) -> Result<OspfVip, String> {
    let field = |i: usize| args.get(i).map(String::as_str).filter(|s| !s.is_empty());
    if args.len() > 4 {
        return Err(format!("OSPFvip takes at most 4 arguments, found {}; expected {USAGE}", args.len()));
    }
    let Some(vip) = field(0) else {
        return Err(format!("OSPFvip needs the virtual IP; expected {USAGE}"));
    };
    let vip: Ipv4Addr = vip
        .strip_suffix("/32")
        .unwrap_or(vip)
        .parse()
        .map_err(|_| format!("OSPFvip VIP {vip:?} is not an IPv4 address; expected {USAGE}"))?;
    if vip.is_unspecified() || vip.is_loopback() || vip.is_multicast() || vip.is_broadcast() {
        return Err(format!("OSPFvip VIP {vip} cannot be announced; expected a unicast address"));
    }
    let area = match field(1) {
        None => Area("0".to_owned()),
        Some(a) if a.parse::<u32>().is_ok() || a.parse::<Ipv4Addr>().is_ok() => Area(a.to_owned()),
        Some(a) => return Err(format!("OSPFvip area {a:?} is neither a number nor a dotted quad; expected {USAGE}")),
    };
    let cost = match field(2) {
        None => None,
        Some(c) => match c.parse::<u16>() {
            Ok(n) if n >= 1 => Some(n),
            _ => return Err(format!("OSPFvip cost {c:?} is not a number from 1 to 65535; expected {USAGE}")),
        },
    };
    let min_up = match field(3) {
        None => 1,
        Some(m) => match m.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(format!("OSPFvip MIN_UP {m:?} is not a number of reals of at least 1; expected {USAGE}")),
        },
    };
    Ok(OspfVip { vip, area, cost, min_up })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<OspfVip, String> {
        parse(&s.split("::").map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_and_full_form() {
        let v = p("10.0.0.100").unwrap();
        assert_eq!((v.vip, v.area.as_str(), v.cost, v.min_up), (Ipv4Addr::new(10, 0, 0, 100), "0", None, 1));
        let v = p("10.0.0.100/32::0.0.0.1::20::2").unwrap();
        assert_eq!((v.area.as_str(), v.area.id(), v.cost, v.min_up), ("0.0.0.1", 1, Some(20), 2));
        let v = p("10.0.0.100::::::3").unwrap();
        assert_eq!((v.area.as_str(), v.cost, v.min_up), ("0", None, 3));
    }

    #[test]
    fn bad_arguments_say_what_was_expected() {
        for (s, what) in [
            ("", "needs the virtual IP"),
            ("web", "not an IPv4 address"),
            ("127.0.0.1", "cannot be announced"),
            ("10.0.0.1::backbone", "area \"backbone\""),
            ("10.0.0.1::0::0", "cost \"0\""),
            ("10.0.0.1::0::70000", "cost \"70000\""),
            ("10.0.0.1::0::10::0", "MIN_UP \"0\""),
            ("10.0.0.1::0::10::1::x", "at most 4"),
        ] {
            let e = p(s).unwrap_err();
            assert!(e.contains(what), "{s}: {e}");
        }
    }
}
