#!/bin/bash
# `heartbeat realserver` in a network namespace (root). Namespaces: rs (eth0 10.81.0.2/24) and
# peer (eth0 10.81.0.1/24) on a veth pair. Checked:
#   start VIP 10.81.0.100 and 2001:db8:81::100 --iface eth0: both on lo as /32 and /128,
#   arp_ignore=1 / arp_announce=2 on all, lo, eth0; status 0; the peer gets no ARP answer for the
#   VIP, but packets routed to the VIP through rs's own address are answered (what a DR director
#   does); a second start changes nothing (one address each, state file unchanged); stop removes
#   the VIPs and puts back the values found (eth0's arp_announce was 1 before), status 3; stop
#   again is fine; one VIP missing is status 1; bad arguments exit 2.
# TUN mode (tunl0) is not run here: it needs the ipip module, which hosts without loadable
# modules lack; its plan is unit-tested (src/daemon/realserver.rs).
# Usage: tests/netns/realserver.sh [path/to/heartbeat]   (default target/debug/heartbeat)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
bin=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/heartbeat}")
[ "$(id -u)" = 0 ] || { echo "realserver: needs root"; exit 1; }
mkdir -p "$here/target"
work=$(mktemp -d -p "$here/target" realserver.XXXXXX)
tag=$$
rs=hbrs-rs-$tag peer=hbrs-rp-$tag
VIP=10.81.0.100 VIP6=2001:db8:81::100
cleanup() {
    for ns in "$rs" "$peer"; do ip netns del "$ns" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "realserver: FAILED: $*" >&2
    ip -n "$rs" addr show >&2 || true
    cat "$work/state" >&2 2>/dev/null || true
    exit 1
}
ok() { echo "realserver: ok: $*"; }

for ns in "$rs" "$peer"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$rs" link add eth0 type veth peer name eth0 netns "$peer"
ip -n "$rs" addr add 10.81.0.2/24 dev eth0
ip -n "$peer" addr add 10.81.0.1/24 dev eth0
ip -n "$rs" link set eth0 up
ip -n "$peer" link set eth0 up
# An operator's own value, which stop must put back.
ip netns exec "$rs" sh -c 'echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_announce'

export HEARTBEAT_RS_REALSERVER_STATE=$work/state
rsx() { ip netns exec "$rs" "$bin" realserver "$@"; }
code() { local c=0; "$@" >/dev/null 2>&1 || c=$?; echo "$c"; }
sysctl_of() { ip netns exec "$rs" cat "/proc/sys/net/ipv4/conf/$1"; }
sysctls() { local d; for d in all lo eth0; do printf '%s=%s/%s ' "$d" "$(sysctl_of "$d/arp_ignore")" "$(sysctl_of "$d/arp_announce")"; done; }
count_on_lo() { ip -n "$rs" -o addr show dev lo | grep -c -E " $1/$2 " || true; }

before=$(sysctls)
[ "$before" = "all=0/0 lo=0/0 eth0=0/1 " ] || fail "unexpected starting sysctls: $before"
[ "$(code rsx status $VIP)" = 3 ] || fail "status before start is not 3"
[ "$(code rsx stop $VIP)" = 0 ] || fail "stop without start is not 0"

rsx --iface eth0 start $VIP $VIP6 >/dev/null || fail "start"
[ "$(count_on_lo $VIP 32)" = 1 ] || fail "$VIP/32 not on lo"
[ "$(count_on_lo $VIP6 128)" = 1 ] || fail "$VIP6/128 not on lo"
[ "$(sysctls)" = "all=1/2 lo=1/2 eth0=1/2 " ] || fail "sysctls after start: $(sysctls)"
[ "$(code rsx --iface eth0 status $VIP $VIP6)" = 0 ] || fail "status after start is not 0"
[ "$(code rsx status)" = 0 ] || fail "status (VIPs from the state file) after start is not 0"
ok "start: VIPs on lo, arp_ignore=1 arp_announce=2 on all, lo, eth0; status 0"

# DR: no ARP answer for the VIP, but the VIP is served when the frame comes to rs's MAC.
if ip netns exec "$peer" ping -c 1 -W 1 $VIP >/dev/null 2>&1; then fail "rs answered ARP for the VIP"; fi
ip -n "$peer" route add $VIP/32 via 10.81.0.2
ip netns exec "$peer" ping -c 1 -W 2 $VIP >/dev/null 2>&1 || fail "VIP not answered when routed to rs"
ok "no ARP answer for the VIP; packets delivered to rs's MAC are answered"

state1=$(cat "$work/state")
rsx --iface eth0 start $VIP $VIP6 >/dev/null || fail "second start"
[ "$(count_on_lo $VIP 32)" = 1 ] || fail "second start: $VIP not exactly once on lo"
[ "$(cat "$work/state")" = "$state1" ] || fail "second start changed the state file"
grep -q "^sysctl eth0/arp_announce 1$" "$work/state" || fail "state lost eth0's original arp_announce"
ok "second start is a no-op"

ip -n "$rs" addr del $VIP6/128 dev lo
[ "$(code rsx status $VIP $VIP6)" = 1 ] || fail "status with one VIP missing is not 1"
ok "one VIP missing: status 1"

rsx stop $VIP $VIP6 >/dev/null || fail "stop"
[ "$(count_on_lo $VIP 32)" = 0 ] || fail "$VIP still on lo after stop"
[ "$(sysctls)" = "$before" ] || fail "sysctls not restored: $(sysctls), expected $before"
[ ! -e "$work/state" ] || fail "state file left after the last stop"
[ "$(code rsx status $VIP)" = 3 ] || fail "status after stop is not 3"
[ "$(code rsx stop $VIP)" = 0 ] || fail "second stop is not 0"
ok "stop: VIPs removed, sysctls restored ($before), status 3, second stop 0"

# Two starts of different VIPs: the first stop keeps ARP suppressed for the other VIP.
rsx start $VIP >/dev/null && rsx start 10.81.0.101 >/dev/null || fail "two starts"
rsx stop $VIP >/dev/null || fail "stop of one VIP"
[ "$(sysctl_of all/arp_ignore)" = 1 ] || fail "arp_ignore restored while a VIP is still up"
rsx stop >/dev/null || fail "stop of the rest"
[ "$(count_on_lo 10.81.0.101 32)" = 0 ] || fail "stop without VIPs left 10.81.0.101"
[ "$(sysctls)" = "$before" ] || fail "sysctls not restored after the last VIP: $(sysctls)"
ok "sysctls stay until the last VIP is stopped"

for bad in "" "start" "bogus $VIP" "start not-an-ip" "--what start $VIP" "--tun start $VIP6"; do
    # shellcheck disable=SC2086
    [ "$(code rsx $bad)" = 2 ] || fail "arguments '$bad' did not exit 2"
done
ok "bad arguments exit 2"

# The resource.d wrapper, as haresources runs it (realserver::VIP).
ln -sf "$bin" "$work/heartbeat"
PATH=$work:$PATH ip netns exec "$rs" resource.d/realserver $VIP start || fail "resource.d start"
[ "$(PATH=$work:$PATH code ip netns exec "$rs" resource.d/realserver $VIP status)" = 0 ] || fail "resource.d status"
PATH=$work:$PATH ip netns exec "$rs" resource.d/realserver $VIP stop || fail "resource.d stop"
[ "$(sysctls)" = "$before" ] || fail "resource.d stop did not restore the sysctls"
ok "resource.d/realserver start/status/stop"
echo "realserver: all passed"
