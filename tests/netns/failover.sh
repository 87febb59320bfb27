#!/bin/bash
# Failover of a VIP between two heartbeat-rs nodes (root). Namespaces: nodea and nodeb, each with
# eth0 on a bridge in a switch namespace, and an observer (10.79.0.254, also the ping node) on
# the same bridge. haresources: `nodea IPaddr::10.79.0.100/24/eth0`; keepalive 100 ms,
# deadtime 500 ms. A watcher samples both nodes every 20 ms and fails the test if the VIP is on
# two nodes with live links at once. Checked, with auto_failback off, then on:
#   start: VIP on nodea, answers ping from the observer, whose neighbour entry has nodea's MAC;
#   hb_standby on nodea -> nodeb; hb_takeover on nodea -> back; SIGTERM nodea -> nodeb;
#   nodea back (off: stays on nodeb); crash of nodeb (SIGKILL + link down) -> nodea;
#   (on) crash of nodea -> nodeb, nodea back -> nodea (failback); failed stop -> fencing.
# Each step waits for its event with a deadline and prints the time it took.
# Usage: tests/netns/failover.sh [path/to/heartbeat]   (default target/debug/heartbeat)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
bin=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/heartbeat}")
[ "$(id -u)" = 0 ] || { echo "failover: needs root"; exit 1; }
mkdir -p "$here/target"
work=$(mktemp -d -p "$here/target" failover.XXXXXX)
tag=$$
nsa=hbrs-fa-$tag nsb=hbrs-fb-$tag nso=hbrs-fo-$tag nss=hbrs-fs-$tag
VIP=10.79.0.100
pids=()
watcher=
cleanup() {
    [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for ns in "$nsa" "$nsb" "$nso" "$nss"; do ip netns del "$ns" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "failover: FAILED: $*" >&2
    for n in a b; do echo "--- node$n log (tail)" >&2; tail -n 25 "$work/$n.out" >&2 || true; done
    exit 1
}

for ns in "$nsa" "$nsb" "$nso" "$nss"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$nss" link add br0 type bridge
ip -n "$nss" link set br0 up
i=1
for ns in "$nsa" "$nsb" "$nso"; do
    ip -n "$nss" link add "p$i" type veth peer name eth0 netns "$ns"
    ip -n "$nss" link set "p$i" master br0 up
    i=$((i + 1))
done
ip -n "$nsa" addr add 10.79.0.1/24 brd + dev eth0
ip -n "$nsb" addr add 10.79.0.2/24 brd + dev eth0
ip -n "$nso" addr add 10.79.0.254/24 brd + dev eth0
for ns in "$nsa" "$nsb" "$nso"; do ip -n "$ns" link set eth0 up; done
mac_a=$(ip -n "$nsa" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
mac_b=$(ip -n "$nsb" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)

conf() { # $1 node dir, $2 auto_failback
    mkdir -p "$1/resource.d"
    cat >"$1/ha.cf" <<CF
keepalive 100ms
warntime 300ms
deadtime 500ms
initdead 2
udpport 694
bcast eth0
node nodea nodeb
auto_failback $2
crm off
CF
    printf 'auth 1\n1 sha1 failover-test\n' >"$1/authkeys"
    chmod 600 "$1/authkeys"
    echo "nodea IPaddr::$VIP/24/eth0 Trace::one" >"$1/haresources"
    # A resource script that records its calls and can be told to fail its stop.
    cat >"$1/resource.d/Trace" <<'SH'
#!/bin/sh
d=$(dirname "$0")/..
echo "$*" >>"$d/trace.log"
case "$2" in
  start) touch "$d/trace.on" ;;
  stop) [ -e "$d/fail-stop" ] && exit 1; rm -f "$d/trace.on" ;;
  status) [ -e "$d/trace.on" ] && echo running || echo stopped ;;
esac
exit 0
SH
    chmod +x "$1/resource.d/Trace"
}

declare -A daemon
start() { # $1 a|b
    local ns=$nsa
    [ "$1" = b ] && ns=$nsb
    ip netns exec "$ns" "$bin" run --config-dir "$work/$1" --state-dir "$work/$1/state" --node "node$1" \
        --ctl-socket "$work/$1/ctl.sock" --fence-command "touch $work/$1/fenced" 2>>"$work/$1.out" &
    daemon[$1]=$!
    pids+=($!)
}
ctl() { # $1 a|b, rest: cl_status arguments
    local n=$1
    shift
    HEARTBEAT_RS_CTL="$work/$n/ctl.sock" "$bin" cl_status "$@" 2>/dev/null || true
}
has_vip() { ip -n "$1" -o addr show dev eth0 | grep " $VIP/" >/dev/null; }
link_up() { ip -n "$1" -o link show eth0 | grep "state UP" >/dev/null; }
# A node holds the VIP when its link is up and it has the address. The link is read first: the
# test removes a "rebooted" node's stale address before it brings its link back, so reading the
# address first could see the stale address and then the restored link, a holder that never was.
holds() { link_up "$1" && has_vip "$1"; }
holder() {
    local h=""
    if holds "$nsa"; then h=a; fi
    if holds "$nsb"; then h="$h"b; fi
    echo "${h:-none}"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_until SECONDS CMD...: polls every 10 ms; prints the milliseconds it took.
wait_until() {
    local limit=$1 t0
    shift
    t0=$(now_ms)
    until "$@"; do
        [ $(($(now_ms) - t0)) -le $((limit * 1000)) ] || return 1
        sleep 0.01
    done
    echo $(($(now_ms) - t0))
}
holder_is() { [ "$(holder)" = "$1" ]; }
pings() { ip netns exec "$nso" ping -c 1 -W 1 "$VIP" >/dev/null 2>&1; }
neigh_is() { ip -n "$nso" neigh show "$VIP" | grep "lladdr $1" >/dev/null; }
expect_holder() { # $1 a|b, $2 seconds, $3 what
    local ms mac
    ms=$(wait_until "$2" holder_is "$1") || fail "$3: VIP not on node$1 within $2 s (holder: $(holder))"
    mac=$mac_a
    [ "$1" = b ] && mac=$mac_b
    pings || fail "$3: VIP does not answer ping from the observer"
    wait_until 3 neigh_is "$mac" >/dev/null || fail "$3: observer's neighbour entry is not node$1's MAC ($(ip -n "$nso" neigh show "$VIP"))"
    echo "failover: $3: VIP on node$1 after ${ms} ms; answers ping; observer's neighbour entry moved ($(date +%T.%N))"
}

# The watcher: never two holders with live links (sampled every 20 ms). One sample reads nodea,
# nodeb, then nodea again, and counts both only if nodea held it at both ends: reads of two
# namespaces are milliseconds apart, and a handover takes about one, so a single read of each
# could pair nodea before its release with nodeb after its takeover.
a_holds() { holds "$nsa"; }
b_holds() { holds "$nsb"; }
watch() {
    while sleep 0.02; do
        if a_holds && b_holds && a_holds; then echo "$(date +%T.%N) VIP on both nodes" >>"$work/violations"; fi
    done
}
watch &
watcher=$!

run_cycle() { # $1 auto_failback
    local af=$1
    rm -rf "$work/a" "$work/b"
    conf "$work/a" "$af"
    conf "$work/b" "$af"
    echo "failover: --- auto_failback $af"
    start a
    start b
    expect_holder a 15 "pair start"
    [ "$(ctl a rscstatus)" = local ] || fail "rscstatus on nodea: $(ctl a rscstatus)"
    wait_until 5 sh -c "[ \"\$(HEARTBEAT_RS_CTL=$work/b/ctl.sock $bin cl_status rscstatus 2>/dev/null)\" = local ]" >/dev/null ||
        fail "rscstatus on nodeb: $(ctl b rscstatus)"

    HEARTBEAT_RS_CTL="$work/a/ctl.sock" "$bin" hb_standby >/dev/null 2>&1 || fail "hb_standby refused: $(HEARTBEAT_RS_CTL="$work/a/ctl.sock" "$bin" hb_standby 2>&1)"
    expect_holder b 5 "hb_standby on nodea"
    wait_until 5 sh -c "[ \"\$(HEARTBEAT_RS_CTL=$work/a/ctl.sock $bin cl_status rscstatus 2>/dev/null)\" = none ]" >/dev/null ||
        fail "rscstatus on nodea after standby: $(ctl a rscstatus)"
    [ "$(ctl b rscstatus)" = all ] || fail "rscstatus on nodeb after standby: $(ctl b rscstatus)"

    sleep 0.3
    HEARTBEAT_RS_CTL="$work/a/ctl.sock" "$bin" hb_takeover >/dev/null 2>&1 || fail "hb_takeover refused"
    expect_holder a 5 "hb_takeover on nodea"
    wait_until 5 sh -c "[ \"\$(HEARTBEAT_RS_CTL=$work/b/ctl.sock $bin cl_status rscstatus 2>/dev/null)\" = none ]" >/dev/null || true

    sleep 0.3
    kill -TERM "${daemon[a]}"
    expect_holder b 5 "SIGTERM on nodea"
    wait_until 5 sh -c "! kill -0 ${daemon[a]} 2>/dev/null" >/dev/null || fail "nodea did not exit after SIGTERM"
    grep -q "one start" "$work/a/trace.log" || fail "Trace never ran on nodea"

    start a
    if [ "$af" = on ]; then
        expect_holder a 15 "nodea back (failback)"
    else
        sleep 3
        holder_is b || fail "auto_failback off: VIP left nodeb when nodea came back ($(holder))"
        echo "failover: nodea back: VIP stays on nodeb (auto_failback off)"
        # Crash of the holder: the daemon dies with its machine (its link goes down with it).
        kill -KILL "${daemon[b]}"
        ip -n "$nsb" link set eth0 down
        expect_holder a 5 "crash of nodeb"
        # nodeb "reboots": its addresses are gone, its link comes back, its daemon starts.
        ip -n "$nsb" addr del "$VIP/24" dev eth0 2>/dev/null || true
        ip -n "$nsb" link set eth0 up
        start b
        sleep 3
        holder_is a || fail "VIP moved when nodeb came back with auto_failback off ($(holder))"
    fi
    if [ "$af" = on ]; then
        kill -KILL "${daemon[a]}"
        ip -n "$nsa" link set eth0 down
        expect_holder b 5 "crash of nodea"
        ip -n "$nsa" addr del "$VIP/24" dev eth0 2>/dev/null || true
        ip -n "$nsa" link set eth0 up
        start a
        expect_holder a 15 "nodea back after its crash (failback)"
        # A resource that will not stop: the node fences itself (injected command), the peer
        # takes over once the node is gone.
        touch "$work/a/fail-stop"
        kill -TERM "${daemon[a]}"
        wait_until 5 test -e "$work/a/fenced" >/dev/null || fail "no fencing after a failed stop"
        echo "failover: a failed stop on nodea ran the fence command"
        # The fenced machine is gone: its link with it.
        ip -n "$nsa" link set eth0 down
        expect_holder b 5 "nodea fenced"
        ip -n "$nsa" addr del "$VIP/24" dev eth0 2>/dev/null || true
        ip -n "$nsa" link set eth0 up
    fi
    for n in a b; do kill -KILL "${daemon[$n]}" 2>/dev/null || true; done
    wait "${daemon[a]}" "${daemon[b]}" 2>/dev/null || true
    for ns in "$nsa" "$nsb"; do ip -n "$ns" addr del "$VIP/24" dev eth0 2>/dev/null || true; done
    rm -f "$work/a/trace.on" "$work/b/trace.on"
}

run_cycle off
run_cycle on
if [ -s "$work/violations" ]; then
    cat "$work/violations" >&2
    fail "the VIP was on both nodes"
fi
echo "failover: never on two nodes (watcher, 20 ms samples); all checks passed"
