#!/bin/bash
# Mixed pair, a rolling upgrade (root; Debian package `heartbeat`): nodea runs the real
# Heartbeat 3.0.6, nodeb runs heartbeat-rs, on a veth pair; haresources `nodea IPaddr::VIP/24/eth0`
# (3.0.6 with its stock IPaddr, heartbeat-rs with its built-in one), auto_failback off. The
# VIP must move in both directions with the messages 3.0.6 exchanges:
#   1. pair start: the VIP comes up on the real nodea;
#   2. SIGTERM to the real daemon: heartbeat-rs takes the VIP (resource info=shutdown, shutdone);
#   3. the real daemon restarts: the VIP stays on heartbeat-rs (auto_failback off);
#   4. hb_standby on heartbeat-rs: the real nodea acquires it (ask_resources me/other/done);
#   5. hb_takeover on heartbeat-rs: the real nodea runs rc.d/hb_takeover and hands it back;
#   6. SIGTERM to heartbeat-rs: the real nodea takes it;
#   7. heartbeat-rs back, then the real node's machine dies: heartbeat-rs takes the VIP over;
# and never on both nodes (sampled every 20 ms).
# Usage: tests/netns/mixed.sh [path/to/heartbeat]   (default target/debug/heartbeat)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
bin=$(realpath "${1:-target/debug/heartbeat}")
hb=/usr/libexec/heartbeat/heartbeat
[ "$(id -u)" = 0 ] || { echo "mixed: needs root"; exit 1; }
[ -x "$hb" ] || { echo "mixed: $hb missing (apt-get install heartbeat)"; exit 1; }

DEADTIME=2
VIP=10.77.0.100
work=$(mktemp -d -p "$here/target" mixed.XXXXXX)
nsa=hbrs-ma-$$ nsb=hbrs-mb-$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$nsa" 2>/dev/null || true
    ip netns del "$nsb" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$nsa"
ip netns add "$nsb"
ip -n "$nsa" link add eth0 type veth peer name eth0 netns "$nsb"
ip -n "$nsa" addr add 10.77.0.1/24 brd + dev eth0
ip -n "$nsb" addr add 10.77.0.2/24 brd + dev eth0
for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done
ip -n "$nsa" link set eth0 up
ip -n "$nsb" link set eth0 up

conf() { # $1 dir, $2 interface
    mkdir -p "$1"
    cat >"$1/ha.cf" <<CF
logfile /var/log/ha-log
keepalive 200ms
warntime 1
deadtime $DEADTIME
initdead 4
udpport 694
bcast $2
node nodea nodeb
auto_failback off
crm off
CF
    printf 'auth 2\n2 sha1 interop-key\n' >"$1/authkeys"
    chmod 600 "$1/authkeys"
    echo "nodea IPaddr::$VIP/24/eth0" >"$1/haresources"
}
conf "$work/a" eth0
conf "$work/b" eth0
# The package's state directory layout (api/ and casual/ are where cl_status signs on), empty.
mkdir -p "$work/varlib"
(cd /var/lib/heartbeat && find . -type d) | while read -r d; do
    mkdir -p "$work/varlib/$d"
    chown --reference="/var/lib/heartbeat/$d" "$work/varlib/$d"
    chmod --reference="/var/lib/heartbeat/$d" "$work/varlib/$d"
done
for f in harc shellfuncs rc.d resource.d; do
    if [ -e "/etc/ha.d/$f" ]; then cp -a "/etc/ha.d/$f" "$work/a/"; fi
done

# The real node, in its own mount, UTS and PID namespaces; its log is copied out every 100 ms.
real_node='
set -u
W=$1 HB=$2
hostname nodea
mount --bind "$W/a" /etc/ha.d
mount -t tmpfs none /run
mount --bind "$W/varlib" /var/lib/heartbeat
mount -t tmpfs none /var/log
for w in /dev/watchdog*; do [ -e "$w" ] && mount --bind /dev/null "$w"; done
mkdir -p /run/lock /run/heartbeat/ccm /run/heartbeat/crm /run/resource-agents
chown -R hacluster:haclient /run/heartbeat
# Daemonizing, as an init script starts it (its API for cl_status comes up that way).
"$HB" >"$W/a.out" 2>&1 </dev/null
while sleep 0.1; do
    cp /var/log/ha-log "$W/a.log" 2>/dev/null || true
done
'
# --kill-child: killing unshare kills the namespace's init, and with it every process inside.
ip netns exec "$nsa" unshare --mount --uts --pid --fork --kill-child --mount-proc bash -c "$real_node" real "$work" "$hb" &
pids+=($!)
unshare_pid=$!


start_ours() {
    ip netns exec "$nsb" "$bin" run --config-dir "$work/b" --state-dir "$work/b/state" --node nodeb \
        --ctl-socket "$work/b/ctl.sock" --fence-command "touch $work/b/fenced" 2>>"$work/b.out" &
    ours=$!
    pids+=("$ours")
}
# The real daemon's master process: the `heartbeat: master control process` in nodea's netns.
real_master() {
    local p
    for p in $(ip netns pids "$nsa"); do
        if grep -q "master control process" "/proc/$p/cmdline" 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}
# Restarts the real daemon inside its namespaces (the init process of the PID namespace stays).
start_real() {
    local init
    for p in $(ip netns pids "$nsa"); do
        if [ "$(cut -d' ' -f4 "/proc/$p/stat" 2>/dev/null)" = "$unshare_pid" ]; then init=$p; fi
    done
    nsenter -t "$init" -m -u -p -n sh -c "$hb >>$work/a.out 2>&1 </dev/null"
}
has_vip() { ip -n "$1" -o addr show | grep " $VIP/" >/dev/null; }
holder() {
    local h=""
    if has_vip "$nsa"; then h=a; fi
    if has_vip "$nsb"; then h="$h"b; fi
    echo "${h:-none}"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
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
fail() {
    echo "mixed: FAILED: $*" >&2
    tail -n 30 "$work/a.log" >&2 || true
    tail -n 30 "$work/b.out" >&2 || true
    exit 1
}
expect() { # $1 a|b, $2 seconds, $3 what
    local ms
    ms=$(wait_until "$2" holder_is "$1") || fail "$3: VIP not (only) on node$1 within $2 s (holder: $(holder))"
    echo "mixed: $3: VIP on node$1 after ${ms} ms"
}
# nodea, nodeb, nodea again: a single read of each could pair nodea before a release with
# nodeb after the takeover (see failover.sh).
watch() {
    while sleep 0.02; do
        if has_vip "$nsa" && has_vip "$nsb" && has_vip "$nsa"; then echo "$(date +%T.%N) VIP on both nodes" >>"$work/violations"; fi
    done
}
watch &
pids+=($!)

start_ours
expect a 40 "pair start (3.0.6 holds its group)"
[ "$(HEARTBEAT_RS_CTL=$work/b/ctl.sock "$bin" cl_status rscstatus)" = local ] || fail "rscstatus on heartbeat-rs: $(HEARTBEAT_RS_CTL=$work/b/ctl.sock "$bin" cl_status rscstatus)"
sleep 2
master=$(real_master) || fail "no master process of the real daemon"
kill -TERM "$master"
expect b 15 "SIGTERM to Heartbeat 3.0.6"
wait_until 15 sh -c "! kill -0 $master 2>/dev/null" >/dev/null || fail "the real daemon did not exit"
start_real
wait_until 30 sh -c "grep -q 'Status update for node nodeb: status active' $work/a.log && [ \$(grep -c 'Configuration validated' $work/a.log) -ge 2 ]" >/dev/null || true
sleep 4
holder_is b || fail "auto_failback off: the VIP left heartbeat-rs when 3.0.6 came back ($(holder))"
echo "mixed: Heartbeat 3.0.6 restarted: the VIP stays on heartbeat-rs (auto_failback off)"
t_ok=0
for try in 1 2 3 4 5 6 7 8 9 10; do
    if HEARTBEAT_RS_CTL="$work/b/ctl.sock" "$bin" hb_standby 2>>"$work/standby.err"; then t_ok=1; break; fi
    sleep 1 # 3.0.6 may still be settling (its resource state goes stable after its RQSTDELAY)
done
[ "$t_ok" = 1 ] || fail "hb_standby refused: $(cat "$work/standby.err")"
expect a 20 "hb_standby on heartbeat-rs (3.0.6 acquires)"
sleep 2
HEARTBEAT_RS_CTL="$work/b/ctl.sock" "$bin" hb_takeover || fail "hb_takeover refused"
expect b 20 "hb_takeover on heartbeat-rs (3.0.6 releases)"
sleep 2
kill -TERM "$ours"
expect a 20 "SIGTERM to heartbeat-rs (3.0.6 takes over)"
start_ours
sleep 3
# The real node's machine dies: every process of it, its link, its addresses.
kill -KILL "$unshare_pid"
ip -n "$nsa" link set eth0 down
ip -n "$nsa" addr del "$VIP/24" dev eth0 2>/dev/null || true
expect b $((DEADTIME + 5)) "crash of the Heartbeat 3.0.6 node (deadtime ${DEADTIME} s)"
if [ -s "$work/violations" ]; then cat "$work/violations" >&2; fail "the VIP was on both nodes"; fi
echo "mixed: never on both nodes; all checks passed"
