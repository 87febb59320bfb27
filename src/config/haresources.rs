//! `haresources` → resource groups. Pure: no lookup of scripts or interfaces here.
//!
//! Grammar (Heartbeat v1): one group per logical line, `NODE RES1 RES2 …`; a line ending in `\`
//! continues on the next; `#` at the start of a word starts a comment; a resource is
//! `Agent::arg1::arg2`, and a bare IPv4 address (`10.0.0.1`, `10.0.0.1/24/eth0`) means
//! `IPaddr::10.0.0.1…`. Node names are case-insensitive (Heartbeat lower-cases them).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::diag::{Diagnostics, Parsed, quote};
use super::source::{decode, is_blank, lines, strip_hash_comment};

/// One haresources line: the node that prefers the group, and the resources in start order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    /// Line of the node name (the group's first physical line).
    pub line: usize,
    /// Lower-cased node name.
    pub node: String,
    pub resources: Vec<Resource>,
}

/// One resource: `agent` is the script name, `args` the `::`-separated arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub line: usize,
    /// As written in the file (before the bare-IP shorthand is expanded).
    pub spec: String,
    pub agent: String,
    pub args: Vec<String>,
    /// Parsed form for the address agents we implement natively.
    pub address: Option<AddressSpec>,
}

/// `IP[/prefix-or-netmask[/iface[/broadcast]]]` as the stock IPaddr/IPaddr2/IPv6addr read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSpec {
    pub ip: std::net::IpAddr,
    /// Prefix length, from a number or a dotted netmask.
    pub prefix: Option<u8>,
    pub iface: Option<String>,
    pub broadcast: Option<String>,
}

/// Parses a haresources file into its groups.
pub fn parse(file: &str, bytes: &[u8]) -> Parsed<Vec<ResourceGroup>> {
    let mut diags = Diagnostics::new(file);
    let text = decode(bytes);
    let mut groups = Vec::new();
    // Words of the logical line being built, each with its physical line number.
    let mut pending: Vec<(usize, &str)> = Vec::new();
    for (line_no, raw) in lines(&text) {
        // ResourceManager cuts each line at its first '#', then joins lines ending in '\\'.
        let (content, continued) = split_continuation(strip_hash_comment(raw));
        pending.extend(content.split(is_blank).filter(|w| !w.is_empty()).map(|w| (line_no, w)));
        if continued {
            continue;
        }
        if !pending.is_empty() {
            if let Some(g) = parse_group(&pending, &mut diags) {
                groups.push(g);
            }
            pending.clear();
        }
    }
    if !pending.is_empty() {
        let last = pending[pending.len() - 1].0;
        diags.warn(last, "the file ends with a continuation backslash");
        if let Some(g) = parse_group(&pending, &mut diags) {
            groups.push(g);
        }
    }
    diags.finish(groups)
}

/// Strips a trailing backslash (and blanks after it) and says whether the line continues.
fn split_continuation(raw: &str) -> (&str, bool) {
    let trimmed = raw.trim_end_matches(is_blank);
    match trimmed.strip_suffix('\\') {
        Some(rest) => (rest, true),
        None => (raw, false),
    }
}

fn parse_group(words: &[(usize, &str)], diags: &mut Diagnostics) -> Option<ResourceGroup> {
    let (line, node) = words[0];
    if let Some(bad) = bad_text(node) {
        diags.error(line, format!("node name {} contains {bad}; expected a host name as uname -n prints it", quote(node)));
        return None;
    }
    if node.contains("::") {
        diags.error(line, format!("a group must start with the node name; found the resource {}", quote(node)));
        return None;
    }
    if words.len() == 1 {
        diags.warn(line, format!("node {} has a group with no resources", quote(node)));
    }
    let mut resources = Vec::with_capacity(words.len() - 1);
    for &(res_line, spec) in &words[1..] {
        if let Some(r) = parse_resource(res_line, spec, diags) {
            if r.agent == "OSPFvip" && !resources.iter().any(|p: &Resource| p.agent == "ldirectord") {
                // Its health is the embedded director's: without one it is never announced.
                diags.warn(
                    res_line,
                    format!("{} has no ldirectord:: resource before it in its group; it will not be announced", quote(spec)),
                );
            }
            resources.push(r);
        }
    }
    Some(ResourceGroup { line, node: node.to_ascii_lowercase(), resources })
}

/// Parses one resource word.
pub fn parse_resource(line: usize, spec: &str, diags: &mut Diagnostics) -> Option<Resource> {
    if let Some(bad) = bad_text(spec) {
        diags.error(line, format!("resource {} contains {bad}; expected Script::arg1::arg2", quote(spec)));
        return None;
    }
    let mut parts = spec.split("::");
    let head = parts.next().unwrap_or_default();
    let mut args: Vec<String> = parts.map(str::to_owned).collect();
    let agent = if args.is_empty() && looks_like_address(head) {
        // The bare-address shorthand: `10.0.0.1/24` is `IPaddr::10.0.0.1/24`.
        args.insert(0, head.to_owned());
        "IPaddr".to_owned()
    } else {
        head.to_owned()
    };
    if agent.is_empty() {
        diags.error(line, format!("resource {} has no script name; expected Script::arg1::arg2", quote(spec)));
        return None;
    }
    if agent.contains('/') {
        diags.error(line, format!("resource script name {} contains '/'; expected a name from resource.d or init.d", quote(&agent)));
        return None;
    }
    if agent == "IPv6addr" && args.len() > 1 {
        // An IPv6 address contains `::` itself: the argument is everything after the name.
        args = vec![args.join("::")];
    }
    let address = match agent.as_str() {
        "IPaddr" | "IPaddr2" => Some(parse_address_arg(line, spec, &args, false, diags)?),
        "SendArp" => Some(parse_sendarp_arg(line, spec, &args, diags)?),
        "IPv6addr" => Some(parse_address_arg(line, spec, &args, true, diags)?),
        "OSPFvip" => {
            if let Err(e) = crate::config::ospfvip::parse(&args) {
                diags.error(line, e);
                return None;
            }
            None
        }
        _ => None,
    };
    Some(Resource { line, spec: spec.to_owned(), agent, args, address })
}

/// Names and arguments are passed to scripts and compared with `uname -n`: control characters
/// and bytes that are not text cannot be meant.
fn bad_text(word: &str) -> Option<&'static str> {
    if word.contains('\u{fffd}') {
        Some("bytes that are not valid text")
    } else if word.chars().any(char::is_control) {
        Some("a control character")
    } else {
        None
    }
}

/// ResourceManager's shorthand test, the shell glob `[0-9]*.[0-9]*.[0-9]*.[0-9]*`: a digit
/// first, then three dots each followed by a digit.
fn looks_like_address(word: &str) -> bool {
    let b = word.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let mut dots = 0;
    let mut i = 1;
    while i + 1 < b.len() && dots < 3 {
        if b[i] == b'.' && b[i + 1].is_ascii_digit() {
            dots += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    dots == 3
}

fn parse_address_field(s: &str) -> Option<Ipv4Addr> {
    let ip = s.split('/').next()?;
    // Require a dotted quad: "10" alone or "1.2" are not addresses in haresources.
    if ip.bytes().filter(|&b| b == b'.').count() != 3 {
        return None;
    }
    ip.parse().ok()
}

fn parse_address_arg(line: usize, spec: &str, args: &[String], v6: bool, diags: &mut Diagnostics) -> Option<AddressSpec> {
    let expected = if v6 {
        "an IPv6 address, as IPv6addr::ADDR[/prefix[/iface]]"
    } else {
        "an IPv4 address, as IPaddr::IP[/prefix[/iface[/broadcast]]]"
    };
    if args.len() > 1 {
        diags.error(
            line,
            format!("{} has {} arguments; the address script takes one, as IP[/prefix[/iface[/broadcast]]]", quote(spec), args.len()),
        );
        return None;
    }
    let Some(arg) = args.first() else {
        diags.error(line, format!("{} has no address; expected {expected}", quote(spec)));
        return None;
    };
    // IPv6 addresses have no '/' inside, so splitting on it is safe for both families.
    let fields: Vec<&str> = arg.split('/').collect();
    let ip: std::net::IpAddr = if v6 {
        match fields[0].parse::<Ipv6Addr>() {
            Ok(a) => a.into(),
            Err(_) => {
                diags.error(line, format!("address {} in {} is not an IPv6 address; expected {expected}", quote(fields[0]), quote(spec)));
                return None;
            }
        }
    } else {
        match parse_address_field(fields[0]) {
            Some(a) => a.into(),
            None => {
                diags.error(line, format!("IPaddr argument {} is not an IP address; expected {expected}", quote(fields[0])));
                return None;
            }
        }
    };
    // The stock scripts skip empty fields (`10.0.30.15//8/eth0:10` reads as /8 on eth0:10).
    let rest: Vec<&str> = fields[1..].iter().copied().filter(|f| !f.is_empty()).collect();
    if rest.len() + 1 != fields.len() {
        diags.warn(
            line,
            format!(
                "empty field in {}; read as {}",
                quote(arg),
                std::iter::once(fields[0]).chain(rest.iter().copied()).collect::<Vec<_>>().join("/")
            ),
        );
    }
    let mut rest = rest.into_iter();
    let prefix = match rest.next() {
        None => None,
        Some(p) => match parse_prefix(p, v6) {
            Some(n) => Some(n),
            None => {
                let max = if v6 { 128 } else { 32 };
                diags.error(
                    line,
                    format!(
                        "bad prefix {} in {}; expected a length from 0 to {max}{}",
                        quote(p),
                        quote(spec),
                        if v6 { "" } else { " or a dotted netmask" }
                    ),
                );
                return None;
            }
        },
    };
    // A third field that starts with a digit is the broadcast (the stock IPaddr's rule).
    let (iface, broadcast) = match rest.next() {
        Some(f) if f.starts_with(|c: char| c.is_ascii_digit()) && !v6 => (None, Some(f.to_owned())),
        Some(f) => (Some(f.to_owned()), rest.next().map(str::to_owned)),
        None => (None, None),
    };
    if let Some(b) = &broadcast {
        if b.parse::<Ipv4Addr>().is_err() && !v6 {
            diags.warn(line, format!("broadcast {} in {} is not an IPv4 address", quote(b), quote(spec)));
        }
    }
    if let Some(extra) = rest.next() {
        diags.warn(line, format!("ignoring extra field {} in {}", quote(extra), quote(spec)));
    }
    Some(AddressSpec { ip, prefix, iface, broadcast })
}

/// `SendArp::IP/interface`: the stock script takes the address and the interface, no prefix.
fn parse_sendarp_arg(line: usize, spec: &str, args: &[String], diags: &mut Diagnostics) -> Option<AddressSpec> {
    let expected = "SendArp::IP/interface";
    let (Some(arg), 1) = (args.first(), args.len()) else {
        diags.error(line, format!("{} needs one argument; expected {expected}", quote(spec)));
        return None;
    };
    let (ip, iface) = arg.split_once('/').unwrap_or((arg.as_str(), ""));
    let Some(ip) = parse_address_field(ip) else {
        diags.error(line, format!("SendArp argument {} is not an IP address; expected {expected}", quote(ip)));
        return None;
    };
    if iface.is_empty() || iface.contains('/') {
        diags.error(line, format!("{} names no interface; expected {expected}", quote(spec)));
        return None;
    }
    Some(AddressSpec { ip: ip.into(), prefix: None, iface: Some(iface.to_owned()), broadcast: None })
}

fn parse_prefix(p: &str, v6: bool) -> Option<u8> {
    if p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 {
        let n: u8 = p.parse().ok()?;
        return (n <= if v6 { 128 } else { 32 }).then_some(n);
    }
    if v6 {
        return None;
    }
    // A dotted netmask must be contiguous ones.
    let mask = u32::from(p.parse::<Ipv4Addr>().ok()?);
    let len = mask.leading_ones();
    (mask.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<ResourceGroup> {
        parse("haresources", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}")).value
    }

    fn err(text: &str) -> String {
        parse("haresources", text.as_bytes()).unwrap_err().iter().find(|d| d.is_error()).unwrap().to_string()
    }

    #[test]
    fn groups_resources_and_shorthand() {
        let g = ok("# c\nNodeA 10.0.0.1 IPaddr::10.0.0.2/24/eth0:1 Filesystem::/dev/drbd0::/srv::ext4 httpd\n");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].node, "nodea");
        assert_eq!(g[0].line, 2);
        let r = &g[0].resources;
        assert_eq!(r[0].agent, "IPaddr");
        assert_eq!(r[0].args, vec!["10.0.0.1"]);
        let a = r[1].address.as_ref().unwrap();
        assert_eq!((a.prefix, a.iface.as_deref()), (Some(24), Some("eth0:1")));
        assert_eq!(r[2].args, vec!["/dev/drbd0", "/srv", "ext4"]);
        assert_eq!(r[3].agent, "httpd");
        assert!(r[3].args.is_empty());
    }

    #[test]
    fn continuation_and_comments() {
        let g = ok("server1 drbddisk::r0 \\\n        Filesystem::/dev/drbd0::/mnt::ext4 # tail\nb x\n");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].resources.len(), 2);
        assert_eq!(g[0].resources[1].line, 2);
        assert_eq!(g[1].line, 3);
    }

    #[test]
    fn netmask_forms() {
        let g = ok("n1 IPaddr::192.168.88.140/255.255.255.0\nn1 IPaddr::10.0.30.15//8/eth0:10\n");
        assert_eq!(g[0].resources[0].address.as_ref().unwrap().prefix, Some(24));
        let a = g[1].resources[0].address.as_ref().unwrap();
        assert_eq!((a.prefix, a.iface.as_deref()), (Some(8), Some("eth0:10")));
    }

    #[test]
    fn bad_addresses_are_refused_at_their_line() {
        assert!(
            err("\nmaster IPaddr::virtual-ip service").starts_with("haresources:2: IPaddr argument \"virtual-ip\" is not an IP address")
        );
        assert!(err("n IPaddr::1.2.3.4/33").contains("bad prefix \"33\""));
        assert!(err("n IPaddr::1.2.3.4/255.0.255.0").contains("bad prefix"));
        assert!(err("n IPv6addr::10.0.0.1").contains("not an IPv6 address"));
        assert!(err("n ::x").contains("no script name"));
    }

    #[test]
    fn ipv6_addresses_keep_their_double_colons() {
        let g = ok("n IPv6addr::2001:db8::5/64/eth0\n");
        let a = g[0].resources[0].address.as_ref().unwrap();
        assert_eq!(a.ip, "2001:db8::5".parse::<std::net::IpAddr>().unwrap());
        assert_eq!((a.prefix, a.iface.as_deref()), (Some(64), Some("eth0")));
    }

    #[test]
    fn sendarp_takes_an_address_and_an_interface() {
        let g = ok("n SendArp::10.0.0.5/eth1\n");
        let a = g[0].resources[0].address.as_ref().unwrap();
        assert_eq!((a.prefix, a.iface.as_deref()), (None, Some("eth1")));
        assert!(err("n SendArp::10.0.0.5").contains("names no interface"));
        assert!(err("n SendArp::x/eth0").contains("not an IP address"));
    }

    #[test]
    fn empty_file_is_fine() {
        assert!(ok("").is_empty());
    }
}
