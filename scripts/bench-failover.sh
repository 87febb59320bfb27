#!/bin/bash
# Failover latency, heartbeat-rs against Heartbeat 3.0.6, same topology, same run (root; run by
# ./bench). Namespaces: nodea, nodeb (eth0 on a bridge) and an observer on the bridge, which
# runs tcpdump (heartbeats, ARP) and a 2 ms ping to the VIP. haresources
# `nodea IPaddr::VIP/24/eth0` (3.0.6: its stock IPaddr), auto_failback on. One trial: wait until
# the VIP is on nodea and the pair is settled, wait U(0, keepalive) more (random phase), then
# crash nodea at t0 (its switch port down, its daemon SIGKILLed), and measure on the wire, from
# nodea's last heartbeat (status message) on the bridge: the first gratuitous ARP for the VIP
# from nodeb, and the first ping answer from the VIP after the outage; "beyond deadtime" = that
# minus deadtime. Then nodea "reboots" (VIP
# flushed, port up, daemon restarted) and the VIP fails back before the next trial. Also the
# clean handover (SIGTERM to nodea: VIP removed on nodea -> added on nodeb, `ip -ts monitor`).
# Usage: scripts/bench-failover.sh [heartbeat-rs binary] [trials]   Prints markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
bin=$(realpath "${1:-target/release/heartbeat}")
TRIALS=${2:-20}
HANDOVERS=${HANDOVERS:-5}
hb=/usr/libexec/heartbeat/heartbeat
[ "$(id -u)" = 0 ] || { echo "bench-failover: needs root" >&2; exit 1; }
[ -x "$hb" ] || { echo "bench-failover: $hb missing (scripts/apt-install heartbeat)" >&2; exit 1; }
mkdir -p "$here/target"
work=$(mktemp -d -p "$here/target" fbench.XXXXXX)
tag=$$
nsa=hbrs-ba-$tag nsb=hbrs-bb-$tag nso=hbrs-bo-$tag nss=hbrs-bs-$tag
VIP=10.80.0.100
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for ns in "$nsa" "$nsb" "$nso" "$nss"; do ip netns del "$ns" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
log() { echo "bench-failover: $*" >&2; }

for ns in "$nsa" "$nsb" "$nso" "$nss"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$nss" link add br0 type bridge
ip -n "$nss" link set br0 up
ip -n "$nss" link add pa type veth peer name eth0 netns "$nsa"
ip -n "$nss" link add pb type veth peer name eth0 netns "$nsb"
ip -n "$nss" link add po type veth peer name eth0 netns "$nso"
for p in pa pb po; do ip -n "$nss" link set "$p" master br0 up; done
ip -n "$nsa" addr add 10.80.0.1/24 brd + dev eth0
ip -n "$nsb" addr add 10.80.0.2/24 brd + dev eth0
ip -n "$nso" addr add 10.80.0.254/24 brd + dev eth0
for ns in "$nsa" "$nsb" "$nso"; do ip -n "$ns" link set eth0 up; done
mac_b=$(ip -n "$nsb" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)

# The package's state directory layout, once per real node.
for n in a b; do
    mkdir -p "$work/varlib-$n"
    (cd /var/lib/heartbeat && find . -type d) | while read -r d; do
        mkdir -p "$work/varlib-$n/$d"
        chown --reference="/var/lib/heartbeat/$d" "$work/varlib-$n/$d"
        chmod --reference="/var/lib/heartbeat/$d" "$work/varlib-$n/$d"
    done
done

conf() { # $1 dir, $2 keepalive, $3 deadtime, $4 warntime
    rm -rf "$1"
    mkdir -p "$1"
    cat >"$1/ha.cf" <<CF
logfile /var/log/ha-log
keepalive $2
warntime $4
deadtime $3
initdead 10
udpport 694
bcast eth0
node nodea nodeb
auto_failback on
crm off
CF
    printf 'auth 1\n1 sha1 bench-key\n' >"$1/authkeys"
    chmod 600 "$1/authkeys"
    echo "nodea IPaddr::$VIP/24/eth0" >"$1/haresources"
    for f in harc shellfuncs rc.d resource.d; do
        if [ -e "/etc/ha.d/$f" ]; then cp -a "/etc/ha.d/$f" "$1/"; fi
    done
}

# A real node: own mount, UTS and PID namespaces; killing its unshare kills every process in it.
real_node='
set -u
W=$1 HB=$2 N=$3
hostname node$N
mount --bind "$W/$N" /etc/ha.d
mount -t tmpfs none /run
mount --bind "$W/varlib-$N" /var/lib/heartbeat
mount -t tmpfs none /var/log
for w in /dev/watchdog*; do [ -e "$w" ] && mount --bind /dev/null "$w"; done
mkdir -p /run/lock /run/heartbeat/ccm /run/heartbeat/crm /run/resource-agents
chown -R hacluster:haclient /run/heartbeat
"$HB" >"$W/$N.out" 2>&1 </dev/null
while sleep 0.2; do cp /var/log/ha-log "$W/$N.log" 2>/dev/null || true; done
'
declare -A daemon
start() { # $1 impl, $2 node
    local ns=$nsa
    [ "$2" = b ] && ns=$nsb
    if [ "$1" = ours ]; then
        # SCHED_RR 1, as 3.0.6 runs itself (`realtime on`): on a loaded machine both are
        # scheduled ahead of compilers and tests.
        ip netns exec "$ns" chrt -r 1 "$bin" run --config-dir "$work/$2" --state-dir "$work/$2/state" --node "node$2" \
            --ctl-socket "$work/$2/ctl.sock" --fence-command true 2>>"$work/$2.out" &
    else
        ip netns exec "$ns" unshare --mount --uts --pid --fork --kill-child --mount-proc bash -c "$real_node" real "$work" "$hb" "$2" &
    fi
    daemon[$2]=$!
    pids+=($!)
}
has_vip() { ip -n "$1" -o addr show dev eth0 | grep " $VIP/" >/dev/null; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_until() {
    local limit=$1 t0
    shift
    t0=$(now_ms)
    until "$@"; do
        [ $(($(now_ms) - t0)) -le $((limit * 1000)) ] || return 1
        sleep 0.01
    done
}
only_a() { has_vip "$nsa" && ! has_vip "$nsb"; }
only_b() { has_vip "$nsb" && ! has_vip "$nsa"; }
b_has() { has_vip "$nsb"; }

# An ICMP echo every 2 ms; prints `[unix time] reply` for each answer (iputils' ping -D is not
# everywhere).
pinger_py='
import os, select, socket, struct, sys, time
dst = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF
def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF)
    t += t >> 16
    return ~t & 0xFFFF
seq = 0
nxt = time.time()
while True:
    now = time.time()
    if now >= nxt:
        seq = (seq + 1) & 0xFFFF
        h = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        try:
            s.sendto(struct.pack("!BBHHH", 8, 0, csum(h), ident, seq), (dst, 0))
        except OSError:
            pass  # unreachable while the VIP moves: keep asking
        nxt = now + 0.002
    r, _, _ = select.select([s], [], [], max(0, nxt - time.time()))
    if r:
        pkt, addr = s.recvfrom(2048)
        ihl = (pkt[0] & 15) * 4
        if addr[0] == dst and pkt[ihl] == 0 and struct.unpack("!H", pkt[ihl + 4:ihl + 6])[0] == ident:
            print("[%.6f] reply" % time.time())
'

# percentile P of the numbers on stdin (nearest rank)
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {if (NR == 0) {print "-"; exit} i=int((p/100)*NR+0.999); if (i<1) i=1; if (i>NR) i=NR; printf "%.3f", a[i]}'; }

# run IMPL KEEPALIVE_MS DEADTIME_MS: prints "garp_beyond ping_beyond" (seconds), one line a trial
run() {
    local impl=$1 ka=$2 dt=$3 warn=$(($2 * 3)) t0 trial tcpd pinger
    local ka_s dt_s
    ka_s=$(awk -v m="$ka" 'BEGIN {printf "%s", (m % 1000 == 0) ? m/1000 : m "ms"}')
    dt_s=$(awk -v m="$dt" 'BEGIN {printf "%s", (m % 1000 == 0) ? m/1000 : m "ms"}')
    conf "$work/a" "$ka_s" "$dt_s" "${warn}ms"
    conf "$work/b" "$ka_s" "$dt_s" "${warn}ms"
    start "$impl" a
    start "$impl" b
    wait_until 60 only_a || { log "$impl: the VIP never came up on nodea"; return 1; }
    for trial in $(seq "$TRIALS"); do
        # Settled: after a (re)start 3.0.6 announces deadtime + 2 s while its resource children
        # run (send_arp goes on for 5 s), and its peer honours that; wait it out for both.
        sleep 7
        ip netns exec "$nso" tcpdump -i eth0 -tt -n -e -l -A "arp or udp port 694" >"$work/cap" 2>/dev/null &
        tcpd=$!
        ip netns exec "$nso" python3 -u -c "$pinger_py" "$VIP" >"$work/ping" 2>/dev/null &
        pinger=$!
        # The capture must hold nodea's last heartbeat before t0: more than a keepalive.
        sleep "$(awk -v k="$ka" 'BEGIN {printf "%.3f", k / 1000 + 0.5}')"
        sleep "$(awk -v k="$ka" -v r="$RANDOM" 'BEGIN {printf "%.3f", k / 1000 * r / 32768}')"
        t0=$(date +%s.%N)
        ip -n "$nss" link set pa down
        kill -KILL "${daemon[a]}"
        wait "${daemon[a]}" 2>/dev/null || true
        wait_until $((dt / 1000 + 10)) b_has || log "$impl: no takeover in trial $trial"
        sleep 0.5
        kill "$tcpd" "$pinger" 2>/dev/null || true
        wait "$tcpd" "$pinger" 2>/dev/null || true
        python3 - "$work/cap" "$work/ping" "$t0" "$dt" "$mac_b" "$VIP" <<'PY'
import sys
cap, ping, t0, dt, mac_b, vip = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]) / 1000, sys.argv[5], sys.argv[6]
last_hb = garp = answer = None
from_a = None  # time of the packet from nodea whose payload lines follow
for line in open(cap, errors="replace"):
    f = line.split()
    try:
        t = float(f[0])
    except (ValueError, IndexError):
        # Payload (tcpdump -A): only a status message is a heartbeat (not an ack or a resource
        # message), and deadtime runs from the last one.
        if from_a is not None and "t=status" in line:
            last_hb = from_a
            from_a = None
        continue
    # Whatever nodea sent before its port went down (a few ms after t0) counts; nothing after.
    from_a = t if (" 10.80.0.1." in line and ".694:" in line) else None
    if garp is None and t > t0 and f[1] == mac_b and (f"who-has {vip} tell {vip}" in line or f"Reply {vip} is-at" in line):
        garp = t
# The VIP answers again: the first reply after the outage (a gap of more than 50 ms in the 2 ms
# stream) that began with nodea's last heartbeat.
prev = None
for line in open(ping, errors="replace"):
    if line.startswith("[") and "reply" in line:
        t = float(line[1:line.index("]")])
        # (A pinger that started late, on a loaded machine, has no reply before the outage.)
        if last_hb is not None and t > last_hb and (t - prev > 0.05 if prev is not None else t > last_hb + dt / 2):
            answer = t
            break
        prev = t
beyond = lambda t: "nan" if last_hb is None or t is None else f"{t - last_hb - dt:.4f}"
print(beyond(garp), beyond(answer))
PY
        # nodea "reboots": the VIP it held is gone, its port comes back, its daemon starts.
        ip -n "$nsa" addr del "$VIP/24" dev eth0 2>/dev/null || true
        ip -n "$nss" link set pa up
        start "$impl" a
        wait_until 60 only_a || { log "$impl: no failback after trial $trial"; return 1; }
    done
    for n in a b; do kill -KILL "${daemon[$n]}" 2>/dev/null || true; done
    wait "${daemon[a]}" "${daemon[b]}" 2>/dev/null || true
    for ns in "$nsa" "$nsb"; do ip -n "$ns" addr del "$VIP/24" dev eth0 2>/dev/null || true; done
}

# handover IMPL: SIGTERM to the holder; prints the VIP's time on neither node (added on nodeb
# minus removed on nodea, s), one line a handover
handover() {
    local impl=$1 i master ma mb
    conf "$work/a" 100ms 500ms 300ms
    conf "$work/b" 100ms 500ms 300ms
    start "$impl" a
    start "$impl" b
    wait_until 60 only_a || return 1
    for i in $(seq "$HANDOVERS"); do
        sleep 2
        ip -n "$nsa" -ts monitor address >"$work/mon-a" &
        ma=$!
        ip -n "$nsb" -ts monitor address >"$work/mon-b" &
        mb=$!
        sleep 0.3
        if [ "$impl" = ours ]; then
            kill -TERM "${daemon[a]}"
        else
            master=""
            for p in $(ip netns pids "$nsa"); do
                if grep "master control process" "/proc/$p/cmdline" >/dev/null 2>&1; then master=$p; fi
            done
            kill -TERM "$master"
        fi
        wait_until 20 only_b || { log "$impl: no handover"; return 1; }
        sleep 0.3
        kill "$ma" "$mb" 2>/dev/null || true
        wait "$ma" "$mb" 2>/dev/null || true
        python3 - "$work/mon-a" "$work/mon-b" "$VIP" <<'PY'
import sys, datetime
def when(path, deleted, vip):
    for line in open(path, errors="replace"):
        if f" {vip}/" in line and line.startswith("[") and (("Deleted" in line) == deleted):
            return datetime.datetime.fromisoformat(line[1:line.index("]")]).timestamp()
    return None
d = when(sys.argv[1], True, sys.argv[3])
a = when(sys.argv[2], False, sys.argv[3])
print("nan" if d is None or a is None else f"{a - d:.4f}")
PY
        kill -KILL "${daemon[a]}" 2>/dev/null || true
        wait "${daemon[a]}" 2>/dev/null || true
        start "$impl" a
        wait_until 60 only_a || return 1
    done
    for n in a b; do kill -KILL "${daemon[$n]}" 2>/dev/null || true; done
    wait "${daemon[a]}" "${daemon[b]}" 2>/dev/null || true
    for ns in "$nsa" "$nsb"; do ip -n "$ns" addr del "$VIP/24" dev eth0 2>/dev/null || true; done
}

name_of() { [ "$1" = ours ] && echo heartbeat-rs || echo "Heartbeat 3.0.6"; }
echo "| keepalive / deadtime | program | trials (ARP / ping) | first gratuitous ARP, beyond deadtime: p50 / p99 | VIP answers ping, beyond deadtime: p50 / p99 |"
echo "|---|---|---|---|---|"
for timers in "100 500" "1000 5000"; do
    read -r ka dt <<<"$timers"
    label=$(awk -v k="$ka" -v d="$dt" 'BEGIN {if (k < 1000) printf "%d ms / %d ms", k, d; else printf "%d s / %d s", k/1000, d/1000}')
    for impl in ours real; do
        log "$(name_of $impl) at $label: $TRIALS trials"
        run "$impl" "$ka" "$dt" >"$work/res-$impl-$ka" || true
        r=$work/res-$impl-$ka
        col() { cut -d' ' -f"$1" "$r" | grep -v nan; }
        echo "| $label | $(name_of $impl) | $(col 1 | wc -l) / $(col 2 | wc -l) | $(col 1 | pct 50) s / $(col 1 | pct 99) s | $(col 2 | pct 50) s / $(col 2 | pct 99) s |"
        cp "$r" "$here/target/bench-failover-$impl-$ka.txt" 2>/dev/null || true
    done
done
echo
echo "| clean handover (SIGTERM), 100 ms / 500 ms | program | handovers | VIP on neither node: p50 / max |"
echo "|---|---|---|---|"
for impl in ours real; do
    log "$(name_of $impl): $HANDOVERS clean handovers"
    handover "$impl" >"$work/ho-$impl" || true
    ok=$(grep -vc nan "$work/ho-$impl" || true)
    echo "| | $(name_of $impl) | $ok | $(grep -v nan "$work/ho-$impl" | pct 50) s / $(grep -v nan "$work/ho-$impl" | pct 100) s |"
done
