#!/bin/bash
# Active-active directors behind an OSPF ECMP router, with the real FRR (root; Debian's `frr`).
# Namespaces: a router running zebra + ospfd (maximum-paths, L4 multipath hash), three directors
# each running zebra + ospfd + heartbeat-rs (`dN ldirectord::ldirectord.cf OSPFvip::VIP`, a
# one-node cluster), and a client behind the router. FRR's configuration on every namespace is
# what `heartbeat ecmp-config` prints. The host kernel has no IPVS: the embedded directors keep
# their table in a file (HEARTBEAT_RS_IPVS_TABLE), and each director answers on the VIP itself
# (python3 http.server on port 80), so the client's fetches exercise the routing, not IPVS. The
# directors' reals are two loopback HTTP servers each.
# Asserted on the router's kernel routing table (`ip route show VIP`): one next hop per healthy
# director; a director's reals down -> its next hop leaves; back -> returns; hb_standby -> leaves;
# hb_takeover -> returns; graceful stop -> leaves; start again -> returns; ospfd restarted on a
# director -> the VIP is announced again. A client fetches through the VIP throughout; every
# fetch must be answered, and by more than one director while several are up.
# Usage: tests/netns/ecmp.sh [path/to/heartbeat]   (default target/debug/heartbeat)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/heartbeat}")
[ "$(id -u)" = 0 ] || { echo "ecmp: needs root"; exit 1; }
[ -x /usr/lib/frr/ospfd ] || { echo "ecmp: needs FRR (scripts/apt-install frr)"; exit 1; }
source tests/netns/ecmp-lib.sh

# --- The client: one fetch at a time through the VIP, each on a new connection.
: >"$work/client.log"
ip netns exec "$nsc" bash -c '
    while :; do
        if a=$(curl -s --max-time 2 "http://'"$VIP"'/"); then echo "ok $a"; else echo "fail (curl $?) at $EPOCHREALTIME"; fi
        sleep 0.02
    done' >>"$work/client.log" 2>/dev/null &
client=$!
track $client
await 5000 yes _more_lines "$work/client.log" "^ok" 20 >/dev/null || fail "client: no answers through the VIP"
served=$(grep -c "^ok" "$work/client.log" | xargs) && from=$(grep "^ok" "$work/client.log" | sort -u | wc -l)
[ "$from" -gt 1 ] || [ "$N" = 1 ] || fail "client: $served answers all from one director; ECMP does not spread"
echo "client: answers from $from directors"

# step NAME RESULT: one line, with the client's failed fetches so far; the client must have been
# answered again since the previous step.
last_ok=0
step() {
    local ok
    await 3000 yes _more_lines "$work/client.log" "^ok" "$last_ok" >/dev/null || fail "$1: the client gets no answers"
    ok=$(grep -c "^ok" "$work/client.log" || true)
    printf '%-44s %-40s client: %5s answers, %s failed\n' "$1:" "$2" "$ok" "$(grep -c "^fail" "$work/client.log" || true)"
    last_ok=$ok
}

# The gauge operators watch: heartbeat_ospfvip_announced{vip=…} on the metrics port.
gauge() { ip netns exec "$(ns_of "d$1")" curl -s --max-time 1 http://127.0.0.1:9684/metrics | grep -F "heartbeat_ospfvip_announced{vip=\"$VIP\"}" | cut -d' ' -f2; }
[ "$(gauge 1)" = 1 ] || fail "d1: heartbeat_ospfvip_announced is '$(gauge 1)', not 1"
reals_down 1
t=$(await 10000 "$(hops_except 1)" nexthops) || fail "d1 reals down: its next hop stayed"
await 2000 0 gauge 1 >/dev/null || fail "d1: heartbeat_ospfvip_announced did not go to 0"
step "d1 reals down -> d1 next hop gone" "${t} ms"
grep -q "OSPFvip $VIP: withdrawn" "$work/d1/hb.log" || fail "d1 did not log the withdrawal"
reals_up 1
t=$(await 15000 "$all" nexthops) || fail "d1 reals back: its next hop did not return"
step "d1 reals back -> d1 next hop back" "${t} ms"

HEARTBEAT_RS_CTL=$work/d2/ctl.sock "$BIN" hb_standby >/dev/null || fail "hb_standby d2 refused"
t=$(await 10000 "$(hops_except 2)" nexthops) || fail "hb_standby d2: its next hop stayed"
step "hb_standby d2 -> d2 next hop gone" "${t} ms"
HEARTBEAT_RS_CTL=$work/d2/ctl.sock "$BIN" hb_takeover >/dev/null || fail "hb_takeover d2 refused"
t=$(await 10000 "$all" nexthops) || fail "hb_takeover d2: its next hop did not return"
step "hb_takeover d2 -> d2 next hop back" "${t} ms"

if [ "$N" -ge 3 ]; then last=3; else last=1; fi
t0=$(now_us)
ours_stop "${HB_PID[$last]}" TERM
t=$(await 10000 "$(hops_except $last)" nexthops) || fail "stop d$last: its next hop stayed"
step "graceful stop d$last -> next hop gone" "$((($(now_us) - t0) / 1000)) ms from SIGTERM (exit, then ${t} ms)"
ip -n "$(ns_of "d$last")" -4 addr show dev lo | grep -q "$VIP" && fail "stop d$last: VIP still on lo"
ip netns exec "$(ns_of "d$last")" vtysh --vty_socket "$work/d$last/frr" -c "show running-config" | grep -q "network $VIP/32" &&
    fail "stop d$last: FRR still has the network"
hb_start "$last"
t=$(await 15000 "$all" nexthops) || fail "restart d$last: its next hop did not return"
step "d$last started again -> next hop back" "${t} ms"

before_restart=$(grep -c "^fail" "$work/client.log" || true)
# ospfd restarted under a running director: the periodic check announces the VIP again.
frr_stop "$work/d1"
await 10000 "$(hops_except 1)" nexthops >/dev/null || fail "ospfd stop d1: its next hop stayed"
frr_start "$(ns_of d1)" "$work/d1"
t=$(await 20000 "$all" nexthops) || fail "ospfd restart d1: the VIP was not announced again"
step "d1 FRR restarted -> VIP announced again" "${t} ms"

# By hand (no health gating): `heartbeat ospfvip VIP start|status|stop` on d1, a second VIP.
VIP2=10.78.0.200
byhand() { HEARTBEAT_RS_VTYSH="vtysh --vty_socket $work/d1/frr" ip netns exec "$(ns_of d1)" "$BIN" ospfvip "$VIP2" "$@"; }
hops2() { ip -n "$nsr" -4 route show "$VIP2/32" 2>/dev/null | grep -o 'via [0-9.]*' | cut -d' ' -f2 | xargs; }
byhand start || fail "ospfvip $VIP2 start"
t=$(await 10000 "10.78.1.2" hops2) || fail "ospfvip start: no route to $VIP2 via d1"
[ "$(byhand status)" = running ] || fail "ospfvip status: not running"
byhand stop || fail "ospfvip $VIP2 stop"
await 10000 "" hops2 >/dev/null || fail "ospfvip stop: $VIP2 still routed"
st=0; byhand status >/dev/null || st=$?
[ "$st" = 3 ] || fail "ospfvip status after stop: exit $st, not 3"
step "heartbeat ospfvip by hand: announced, withdrawn" "${t} ms to the router"

kill "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
untrack "$client"
ok=$(grep -c "^ok" "$work/client.log" || true)
bad=$(grep -c "^fail" "$work/client.log" || true)
echo "client: $ok answers, $bad failed ($((bad - before_restart)) while d1's FRR restarted)"
# A withdrawn director keeps answering and a stopped one drains first, so no fetch should fail
# for that. But the router's multipath hash (hash-threshold; zebra does not use the kernel's
# resilient nexthop groups) moves a share of *every* director's flows when the set of next hops
# changes, and a fetch in flight at that instant is reset: rare with 20 ms fetches, not never.
[ "$bad" -le "${ECMP_MAX_FAILURES:-3}" ] || fail "client: $bad failed fetches"
echo "ecmp: all steps passed"
