#!/bin/bash
# Membership benchmarks in network namespaces (root), run by `./bench`; each prints a markdown
# table. Two nodes, nodea (10.80.0.1) and nodeb (10.80.0.2), on a veth pair, bcast, sha1.
#
#   tests/netns/bench.sh BIN detect  detection time: nodea SIGKILLed at a random phase of its
#                                    keepalive, DETECT_TRIALS (50) times at keepalive 100ms /
#                                    deadtime 500ms and at 1 / 5 s; from the last status packet
#                                    nodea sent (tcpdump on nodeb's interface, kernel timestamps)
#                                    to nodeb's "is dead" log line (stamped as it is read), minus
#                                    deadtime
#   tests/netns/bench.sh BIN flood   FLOOD_RATE (100000) bad packets/s for FLOOD_S (60) s at
#                                    nodeb (examples/flood.rs, sent from nodea's namespace), at
#                                    keepalive 100ms / deadtime 500ms: false "dead" on either node
#   tests/netns/bench.sh BIN fast    keepalive 10ms / deadtime 40ms: false "dead" over FAST_IDLE_S
#                                    (600) s idle, then FAST_LOAD_S (60) s with both cores busy
#                                    (stress-ng --cpu 2, else 2 busy loops)
#   tests/netns/bench.sh BIN idle    keepalive 100ms: CPU (utime+stime) and memory over IDLE_S
#                                    (60) s of heartbeat-rs and of the real Heartbeat 3.0.6's
#                                    whole process set, paired with each other in the same run
#   tests/netns/bench.sh BIN all     the four
# FLOOD is target/release/examples/flood (override with FLOOD=path).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
BIN=$(realpath "$1")
what=${2:-all}
[ "$(id -u)" = 0 ] || { echo "bench: needs root"; exit 1; }
# shellcheck source=tests/netns/lib.sh
. tests/netns/lib.sh

mkdir -p "$here/target"
work=$(mktemp -d -p "$here/target" bench.XXXXXX)
# Names of our own (other scripts on this machine use hbrs-*-PID, and PIDs wrap): a
# namespace that exists already makes ns_add fail instead of being shared or deleted.
tag=$$-$RANDOM
nsa=hbnt-ba-$tag nsb=hbnt-bb-$tag
cleanup() {
    ns_cleanup
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
ns_add "$nsa"
ns_add "$nsb"
ns_veth "$nsa" va 10.80.0.1 "$nsb" vb 10.80.0.2
A=$work/a B=$work/b
PID_A='' PID_B=''

# pair_conf KEEPALIVE DEADTIME WARNTIME INITDEAD
pair_conf() {
    hb_conf "$A" sha1 "$1" "$2" "$3" "$4" "bcast va"
    hb_conf "$B" sha1 "$1" "$2" "$3" "$4" "bcast vb"
}
start_a() { ours_start "$nsa" "$A" nodea "$work/a.log"; PID_A=$OURS_PID; }
# start_b [STAMP] [wrapper...]
start_b() {
    local stamp=${1:-0}
    shift || true
    STAMP=$stamp ours_start "$nsb" "$B" nodeb "$work/b.log" "$@"
    PID_B=$OURS_PID
}
stop_pair() {
    [ -z "$PID_A" ] || ours_stop "$PID_A"
    [ -z "$PID_B" ] || ours_stop "$PID_B"
    PID_A='' PID_B=''
}
await_pair() {
    await "$1" active cl "$B" nodestatus nodea >/dev/null || return 1
    await "$1" active cl "$A" nodestatus nodeb >/dev/null
}
# cpu_ticks PID...: utime + stime of the processes, in clock ticks (the comm field may hold
# blanks: fields are counted after its closing parenthesis).
cpu_ticks() {
    local p sum=0 rest
    for p in "$@"; do
        rest=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        # shellcheck disable=SC2086 # split into fields on purpose
        set -- $rest
        sum=$((sum + ${12} + ${13}))
    done
    echo "$sum"
}
# kib FIELD FILE-NAME PID...: the sum of FIELD (kB) of /proc/PID/FILE-NAME.
kib() {
    local field=$1 file=$2 p sum=0 v
    shift 2
    for p in "$@"; do
        v=$(awk -v f="$field:" '$1 == f {print $2; exit}' "/proc/$p/$file" 2>/dev/null || true)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
# rcvbuf_errors NS: UDP datagrams the namespace's sockets dropped for want of buffer space.
rcvbuf_errors() {
    # shellcheck disable=SC2016 # an awk program
    ip netns exec "$1" awk '/^Udp:/ {n++; if (n == 1) for (i = 1; i <= NF; i++) h[i] = $i; else for (i = 1; i <= NF; i++) if (h[i] == "RcvbufErrors") print $i}' /proc/net/snmp
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

# --- (a) detection time
# detect_run KEEPALIVE_MS DEADTIME_MS TRIALS own|rr: prints one table row; nodeb scheduled as
# the daemon sets itself up (own), or under chrt -r 1 (rr: SCHED_RR, what `realtime on` does).
detect_run() {
    local ka=$1 dt=$2 trials=$3 sched=$4 i r tcpd before label
    pair_conf "${ka}ms" "${dt}ms" "$((dt * 6 / 10))ms" "$((dt * 2))ms"
    : >"$work/b.log"
    ip netns exec "$nsb" tcpdump -i vb -U -n -w "$work/detect.pcap" --time-stamp-precision=nano \
        udp port 694 and src host 10.80.0.1 2>"$work/tcpdump.err" &
    tcpd=$!
    track "$tcpd"
    await 10000 yes _more_lines "$work/tcpdump.err" "listening on" 0 >/dev/null
    if [ "$sched" = rr ]; then start_b 1 chrt -r 1; else start_b 1; fi
    for i in $(seq "$trials"); do
        start_a
        await_pair 10000 || { echo "bench: detect: the pair did not come up (trial $i)" >&2; return 1; }
        if [ "$i" = 1 ]; then
            # (once it runs: chrt -p on a process chrt has not yet set up would say SCHED_OTHER)
            label=$(chrt -p "$PID_B" 2>/dev/null | sed -n 's/.*scheduling policy: //p' | head -n 1)
            if [ "$sched" = rr ]; then label+=" from chrt -r 1"; else label+=", as the daemon sets itself"; fi
        fi
        # A random phase of nodea's keepalive, after two more heartbeats.
        r=$((RANDOM % ka))
        sleep "$(awk -v ms=$((2 * ka + r)) 'BEGIN {printf "%.3f", ms / 1000}')"
        before=$(count_lines "$work/b.log" "node nodea: is dead")
        kill -KILL "$PID_A"
        ours_stop "$PID_A" KILL
        PID_A=''
        await $((dt + 5000)) yes _more_lines "$work/b.log" "node nodea: is dead" "$before" >/dev/null ||
            { echo "bench: detect: nodeb never said nodea is dead (trial $i)" >&2; return 1; }
    done
    stop_pair
    kill -INT "$tcpd"
    wait "$tcpd" 2>/dev/null || true
    untrack "$tcpd"
    python3 - "$work/detect.pcap" "$work/b.log" "$ka" "$dt" "$label" <<'PY'
import math, re, struct, sys
pcap, log, ka, dt, sched = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
data = open(pcap, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
scale = 1e-9 if magic == 0xa1b23c4d else 1e-6
status = []  # receive times of nodea's status packets
off = 24
while off + 16 <= len(data):
    sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if b"t=status" in pkt:
        status.append(sec + frac * scale)
dead = [float(m.group(1)) for m in (re.match(r"(\d+\.\d+) heartbeat: WARN: node nodea: is dead", l) for l in open(log)) if m]
over = []
for d in dead:
    last = max((t for t in status if t < d), default=None)
    if last is not None:
        over.append((d - last) * 1000 - dt)
over.sort()
n = len(over)
if n == 0:
    print(f"| keepalive {ka} ms / deadtime {dt} ms; {sched} | 0 | - | - | - | - |")
    sys.exit(0)
p = lambda q: over[max(0, math.ceil(q * n) - 1)]
print(f"| keepalive {ka} ms / deadtime {dt} ms; {sched} | {n} | {over[0]:+.1f} ms | {p(0.5):+.1f} ms | {p(0.99):+.1f} ms | {over[-1]:+.1f} ms |")
PY
}

detect() {
    local trials=${DETECT_TRIALS:-50}
    echo "| timers | trials | min | p50 | p99 | max |"
    echo "|---|---|---|---|---|---|"
    local s
    for s in ${DETECT_SCHED:-own rr}; do
        detect_run 100 500 "$trials" "$s"
        detect_run 1000 5000 "$trials" "$s"
    done
    echo
    echo "(time beyond deadtime from nodea's last status packet on nodeb's interface to nodeb's \"is dead\" line)"
}

# --- (b) flood
# flood_row own|rr: one row; nodeb scheduled as the daemon sets itself up (own) or under
# SCHED_RR priority 1 from outside (rr: chrt -r 1, what `realtime on` does in 3.0.6).
flood_row() {
    local sched=$1 secs=${FLOOD_S:-60} rate=${FLOOD_RATE:-100000} deada deadb latea lateb c0 c1 out drops0 drops1
    pair_conf 100ms 500ms 300ms 1
    : >"$work/a.log"
    : >"$work/b.log"
    if [ "$sched" = rr ]; then start_b 0 chrt -r 1; else start_b; fi
    start_a
    await_pair 10000 || { echo "bench: flood: the pair did not come up" >&2; return 1; }
    deada=$(count_lines "$work/a.log" "is dead") deadb=$(count_lines "$work/b.log" "is dead")
    latea=$(count_lines "$work/a.log" "Late heartbeat") lateb=$(count_lines "$work/b.log" "Late heartbeat")
    drops0=$(rcvbuf_errors "$nsb")
    c0=$(cpu_ticks "$PID_B")
    # Sent from nodea's namespace over the same veth; FLOOD_NICE sets the flooder's nice value
    # (it shares this machine's two cores with both nodes).
    out=$(ip netns exec "$nsa" nice -n "${FLOOD_NICE:-0}" "$flood_bin" 10.80.0.2:694 --rate "$rate" --seconds "$secs" --node nodea)
    c1=$(cpu_ticks "$PID_B")
    drops1=$(rcvbuf_errors "$nsb")
    local running=yes
    if ! { alive "$PID_A" && alive "$PID_B"; }; then running=no; fi
    local sent_rate label
    sent_rate=$(sed -E 's/.*\(([0-9]+)\/s.*/\1/' <<<"$out")
    label=$([ "$sched" = rr ] && echo "nodeb under chrt -r 1 (SCHED_RR)" || echo "nodeb as it schedules itself ($(chrt -p "$PID_B" 2>/dev/null | sed -n 's/.*scheduling policy: //p' | head -n 1))")
    echo "| $label | ${secs} s | ${sent_rate} | $(($(count_lines "$work/b.log" "is dead") - deadb)) / $(($(count_lines "$work/a.log" "is dead") - deada)) | $(($(count_lines "$work/b.log" "Late heartbeat") - lateb)) / $(($(count_lines "$work/a.log" "Late heartbeat") - latea)) | $(awk -v t=$((c1 - c0)) -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f %% of one core", 100 * t / hz / s}') | $((drops1 - drops0)) | $running |"
    FLOOD_NOTES+=("$label: $out")
    stop_pair
}

flood() {
    local s
    flood_bin=${FLOOD:-${CARGO_TARGET_DIR:-target}/release/examples/flood}
    [ -x "$flood_bin" ] || { echo "bench: flood: $flood_bin missing (cargo build --release --example flood)"; return 1; }
    FLOOD_NOTES=()
    echo "| bad packets at nodeb (wrong key, unknown slot, truncated, garbage; 1/4 each), keepalive 100 ms / deadtime 500 ms | duration | packets/s sent | false dead (nodeb: nodea / nodea: nodeb) | late-heartbeat warnings (nodeb / nodea) | nodeb CPU | datagrams dropped by nodeb's socket buffer | both still running |"
    echo "|---|---|---|---|---|---|---|---|"
    for s in ${FLOOD_SCHED:-own rr}; do flood_row "$s"; done
    echo
    printf '(%s)\n' "${FLOOD_NOTES[@]}"
}

# --- (c) fast mode
fast_phase() { # NAME SECONDS [load]
    local name=$1 secs=$2 load=${3:-} deada deadb latea lateb loadpids=() how='' p
    deada=$(count_lines "$work/a.log" "is dead") deadb=$(count_lines "$work/b.log" "is dead")
    latea=$(count_lines "$work/a.log" "Late heartbeat") lateb=$(count_lines "$work/b.log" "Late heartbeat")
    if [ -n "$load" ]; then
        if command -v stress-ng >/dev/null; then
            stress-ng --cpu 2 --timeout "${secs}s" --quiet &
            loadpids+=($!)
            how=" (stress-ng --cpu 2)"
        else
            for _ in 1 2; do
                sh -c 'while :; do :; done' &
                loadpids+=($!)
            done
            how=" (2 busy loops)"
        fi
        for p in "${loadpids[@]}"; do track "$p"; done
    fi
    # The measurement window: the nodes are watched for the whole of it.
    local t0
    t0=$(now_us)
    while [ $((($(now_us) - t0) / 1000000)) -lt "$secs" ]; do
        if ! { alive "$PID_A" && alive "$PID_B"; }; then break; fi
        sleep 1
    done
    for p in "${loadpids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
        untrack "$p"
    done
    local dead=$(($(count_lines "$work/b.log" "is dead") - deadb)) deadr=$(($(count_lines "$work/a.log" "is dead") - deada))
    # When each false dead happened (both logs are stamped), to match against other activity.
    local when
    # No "is dead" line at all is the good case: grep's status 1 must not end the script.
    when=$({ grep "is dead" "$work/b.log" | tail -n +$((deadb + 1)) || true; grep "is dead" "$work/a.log" | tail -n +$((deada + 1)) || true; } |
        while read -r t _; do date -u -d "@${t%.*}" +%T; done | sort | paste -sd, -)
    [ -z "$when" ] || FAST_NOTES+=("$name: false dead at $when UTC")
    local status=ok
    if ! { alive "$PID_A" && alive "$PID_B"; }; then status="a daemon exited"; fi
    echo "| $name$how | ${secs} s | $dead / $deadr | $(($(count_lines "$work/b.log" "Late heartbeat") - lateb)) / $(($(count_lines "$work/a.log" "Late heartbeat") - latea)) | $status |"
}

fast() {
    local idle_s=${FAST_IDLE_S:-600} load_s=${FAST_LOAD_S:-60} sched label
    FAST_NOTES=()
    echo "| keepalive 10 ms / deadtime 40 ms | window | false dead (nodeb: nodea / nodea: nodeb) | late-heartbeat warnings (> 20 ms; nodeb / nodea) | |"
    echo "|---|---|---|---|---|"
    # own: as the daemon schedules itself; rr: both nodes under chrt -r 1 (SCHED_RR, what
    # `realtime on` does in 3.0.6).
    for sched in ${FAST_SCHED:-own rr}; do
        pair_conf 10ms 40ms 20ms 1
        : >"$work/a.log"
        : >"$work/b.log"
        if [ "$sched" = rr ]; then
            start_b 1 chrt -r 1
            STAMP=1 ours_start "$nsa" "$A" nodea "$work/a.log" chrt -r 1
            PID_A=$OURS_PID
        else
            start_b 1
            STAMP=1 ours_start "$nsa" "$A" nodea "$work/a.log"
            PID_A=$OURS_PID
        fi
        await_pair 10000 || { echo "bench: fast: the pair did not come up" >&2; return 1; }
        label=$(chrt -p "$PID_B" 2>/dev/null | sed -n 's/.*scheduling policy: //p' | head -n 1)
        [ "$sched" = rr ] && label="$label from chrt -r 1" || label="$label, as the daemon sets itself"
        fast_phase "idle; $label" "$idle_s"
        fast_phase "both cores saturated; $label" "$load_s" load
        stop_pair
    done
    if [ "${#FAST_NOTES[@]}" -gt 0 ]; then
        echo
        printf '(%s)\n' "${FAST_NOTES[@]}"
    fi
}

# --- (d) idle cost against the real Heartbeat 3.0.6
idle() {
    local secs=${IDLE_S:-60} real ours c0o c1o c0r c1r pids hz
    [ -x "$REAL_HB" ] || { echo "bench: idle: $REAL_HB missing (apt-get install heartbeat)"; return 1; }
    real_prepare "$work"
    # The same timers on both nodes; the real one logs to /var/log/ha-log (copied out).
    hb_conf "$A" sha1 100ms 500ms 300ms 2 "bcast va"
    sed -i '1i logfile /var/log/ha-log' "$A/ha.cf"
    hb_conf "$B" sha1 100ms 500ms 300ms 2 "bcast vb"
    : >"$work/b.log"
    real_start "$nsa" "$work"
    real=$REAL_PID
    start_b
    ours=$PID_B
    await 30000 active real_view "$work/a.log" nodeb >/dev/null || { echo "bench: idle: 3.0.6 never saw us active" >&2; return 1; }
    await 30000 'up|active' cl "$B" nodestatus nodea >/dev/null || return 1
    # Settle: start-up work done on both sides before the window opens.
    sleep 5
    mapfile -t pids < <(real_pids "$real")
    [ "${#pids[@]}" -gt 0 ] || { echo "bench: idle: no 3.0.6 processes found" >&2; return 1; }
    c0o=$(cpu_ticks "$ours") c0r=$(cpu_ticks "${pids[@]}")
    local t0
    t0=$(now_us)
    while [ $((($(now_us) - t0) / 1000000)) -lt "$secs" ]; do sleep 1; done
    c1o=$(cpu_ticks "$ours") c1r=$(cpu_ticks "${pids[@]}")
    hz=$(getconf CLK_TCK)
    cpu() { awk -v t="$1" -v hz="$hz" -v s="$secs" 'BEGIN {printf "%d ms (%.2f %% of one CPU)", t * 1000 / hz, 100 * t / hz / s}'; }
    echo "| keepalive 100 ms, paired with each other, ${secs} s idle | heartbeat-rs | Heartbeat 3.0.6 (${#pids[@]} processes) |"
    echo "|---|---|---|"
    echo "| CPU (utime + stime) | $(cpu $((c1o - c0o))) | $(cpu $((c1r - c0r))) |"
    echo "| RSS | $(mib "$(kib VmRSS status "$ours")") | $(mib "$(kib VmRSS status "${pids[@]}")") |"
    echo "| PSS | $(mib "$(kib Pss smaps_rollup "$ours")") | $(mib "$(kib Pss smaps_rollup "${pids[@]}")") |"
    real_kill "$real"
    stop_pair
}

case $what in
detect) detect ;;
flood) flood ;;
fast) fast ;;
idle) idle ;;
all)
    detect
    echo
    flood
    echo
    fast
    echo
    idle
    ;;
*) echo "bench: unknown benchmark $what (detect, flood, fast, idle, all)" >&2; exit 2 ;;
esac
