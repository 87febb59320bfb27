#!/bin/bash
# Two heartbeat-rs nodes (root): nodea and nodeb in two network namespaces joined by veth pairs.
# For each medium (bcast, mcast, ucast, serial over a socat pty pair) x each auth method (crc,
# sha1, md5), with keepalive 100 ms / deadtime 500 ms (serial: 250 ms / 1 s):
#   1. both nodes see each other `active` (cl_status nodestatus) and the link `up`;
#   2. nodea killed (SIGKILL): nodeb logs `node nodea: is dead` and cl_status says `dead` within
#      deadtime + SLACK_MS (from the kill, so at most deadtime after nodea's last heartbeat);
#   3. nodea restarted (new generation): both see each other `active` again.
# Then two media at once (bcast on one veth pair, ucast on a second one):
#   4. the bcast path silenced (nftables drop on both ends): nodea stays `active` on nodeb,
#      `hblinkstatus nodea vb` says `dead`, the ucast link stays `up`; restored: `up` again;
#   5. the ucast path's cable pulled (ip link set down on nodea's end): the same, the other way;
#   6. both paths down: nodea is `dead`.
# A serial medium the daemon refuses (not supported yet) is reported as SKIP with its reason.
#
# Usage: tests/netns/pair.sh [path/to/heartbeat]   (default $CARGO_TARGET_DIR or target, debug)
# Env: MEDIA="bcast mcast ucast serial", AUTHS="crc sha1 md5", SLACK_MS=300, KEEP=1 (keep files)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/heartbeat}")
[ "$(id -u)" = 0 ] || { echo "pair: needs root"; exit 1; }
[ -x "$BIN" ] || { echo "pair: $BIN missing (cargo build)"; exit 1; }
# shellcheck source=tests/netns/lib.sh
. tests/netns/lib.sh

MEDIA=${MEDIA:-bcast mcast ucast serial}
AUTHS=${AUTHS:-crc sha1 md5}
SLACK_MS=${SLACK_MS:-300}

mkdir -p "$here/target"
work=$(mktemp -d -p "$here/target" pair.XXXXXX)
nsa=hbrs-pa-$$ nsb=hbrs-pb-$$
cleanup() {
    ns_cleanup
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

ns_add "$nsa"
ns_add "$nsb"
ns_veth "$nsa" va 10.79.0.1 "$nsb" vb 10.79.0.2
ns_veth "$nsa" va2 10.79.1.1 "$nsb" vb2 10.79.1.2

pass=0 fail=0 skip=0
failed=()
A=$work/a B=$work/b

# show_logs: the tail of both daemons' logs, for a failure.
show_logs() {
    echo "  --- nodea log" >&2; tail -n 8 "$work/a.log" >&2 2>/dev/null || true
    echo "  --- nodeb log" >&2; tail -n 8 "$work/b.log" >&2 2>/dev/null || true
}

# media_lines MEDIUM NODE: the ha.cf media lines of NODE (a or b) for MEDIUM.
media_lines() {
    local me=$2 ifc peer
    if [ "$me" = a ]; then ifc=va peer=10.79.0.2; else ifc=vb peer=10.79.0.1; fi
    case $1 in
    bcast) echo "bcast $ifc" ;;
    mcast) echo "mcast $ifc 239.0.79.1 694 1 0" ;;
    ucast) echo "ucast $ifc $peer" ;;
    serial) if [ "$me" = a ]; then echo "serial $PTY_A"; else echo "serial $PTY_B"; fi; echo "baud 19200" ;;
    esac
}

# start_node a|b: starts that node (its pid in PID_A / PID_B).
start_node() {
    if [ "$1" = a ]; then
        ours_start "$nsa" "$A" nodea "$work/a.log"
        PID_A=$OURS_PID
    else
        ours_start "$nsb" "$B" nodeb "$work/b.log"
        PID_B=$OURS_PID
    fi
}

# refused PID LOG: the daemon exited at start-up; prints its last log line.
refused() {
    local pid=$1 log=$2
    alive "$pid" && return 1
    tail -n 1 "$log"
}

# view DIR NODE: what the daemon of DIR says of NODE, or `exited` if either daemon is gone.
view() {
    if alive "$PID_A" && alive "$PID_B"; then cl "$1" nodestatus "$2"; else echo exited; fi
}

# await_active LIMIT_MS: both nodes see each other active; prints nodeb's wait.
await_active() {
    local ms
    ms=$(await "$1" 'active|exited' view "$B" nodea) || return 1
    if ! { alive "$PID_A" && alive "$PID_B"; }; then echo "  a daemon exited" >&2; return 1; fi
    await "$1" active view "$A" nodeb >/dev/null || return 1
    echo "$ms"
}

# stop_pair: stops both daemons (SIGTERM) and reaps them.
stop_pair() {
    [ -z "${PID_A:-}" ] || ours_stop "$PID_A"
    [ -z "${PID_B:-}" ] || ours_stop "$PID_B"
    PID_A='' PID_B=''
}

# one_case MEDIUM AUTH
one_case() {
    local medium=$1 auth=$2 ka=100ms dt=500ms dt_ms=500 ms before link links killed_at
    if [ "$medium" = serial ]; then ka=250ms dt=1 dt_ms=1000; fi
    local la lb
    mapfile -t la < <(media_lines "$medium" a)
    mapfile -t lb < <(media_lines "$medium" b)
    hb_conf "$A" "$auth" "$ka" "$dt" 300ms 2 "${la[@]}"
    hb_conf "$B" "$auth" "$ka" "$dt" 300ms 2 "${lb[@]}"
    start_node b
    start_node a
    if ! ms=$(await_active 10000 2>"$work/why"); then
        local why
        if [ "$medium" = serial ] && why=$(refused "$PID_A" "$work/a.log"); then
            CASE_SKIP="the daemon refuses the medium: ${why#heartbeat: }"
            return 1
        fi
        cat "$work/why" >&2
        echo "  the pair never became active" >&2
        return 1
    fi
    links=$(cl "$B" listhblinks nodea)
    link=${links%%$'\n'*}
    [ "$(cl "$B" hblinkstatus nodea "$link")" = up ] || { echo "  hblinkstatus nodea '$link' is not up (listhblinks: ${links//$'\n'/ })" >&2; return 1; }
    CASE_NOTE="active after ${ms} ms"

    before=$(count_lines "$work/b.log" "node nodea: is dead")
    killed_at=$(now_us)
    kill -KILL "$PID_A"
    wait "$PID_A" 2>/dev/null || true
    untrack "$PID_A"
    PID_A=''
    ms=$(await $((dt_ms + SLACK_MS + 2000)) yes _more_lines "$work/b.log" "node nodea: is dead" "$before") || { echo "  nodeb never logged nodea dead" >&2; return 1; }
    ms=$((($(now_us) - killed_at) / 1000))
    [ "$(cl "$B" nodestatus nodea)" = dead ] || { echo "  cl_status nodestatus nodea: '$(cl "$B" nodestatus nodea)' after the dead line" >&2; return 1; }
    if [ "$ms" -gt $((dt_ms + SLACK_MS)) ]; then
        echo "  nodea dead after ${ms} ms: more than deadtime ${dt_ms} + ${SLACK_MS} ms" >&2
        return 1
    fi
    CASE_NOTE+=", dead ${ms} ms after the kill (deadtime ${dt_ms} ms)"

    start_node a
    ms=$(await_active 10000) || { echo "  the restarted nodea never became active again" >&2; return 1; }
    CASE_NOTE+=", active again after ${ms} ms"
    return 0
}

# path_down bcast|ucast / path_up: silence one path of the dual-media pair.
path_down() {
    case $1 in
    bcast)
        for ns in "$nsa" "$nsb"; do
            ip netns exec "$ns" nft -f - <<'NFT'
table inet hbrs_pair {
    chain in { type filter hook input priority 0; iifname { "va", "vb" } udp dport 694 drop; }
}
NFT
        done
        ;;
    ucast) ip -n "$nsa" link set va2 down ;;
    esac
}
path_up() {
    case $1 in
    bcast) for ns in "$nsa" "$nsb"; do ip netns exec "$ns" nft delete table inet hbrs_pair; done ;;
    ucast) ip -n "$nsa" link set va2 up ;;
    esac
}

# watch_alive MS: nodea stays active on nodeb for MS (polled every 10 ms), no dead line logged.
watch_alive() {
    local t0 before got
    before=$(count_lines "$work/b.log" "node nodea: is dead")
    t0=$(now_us)
    while [ $((($(now_us) - t0) / 1000)) -lt "$1" ]; do
        got=$(cl "$B" nodestatus nodea)
        [ "$got" = active ] || { echo "  nodea turned '$got' on nodeb" >&2; return 1; }
        sleep 0.01
    done
    [ "$(count_lines "$work/b.log" "node nodea: is dead")" = "$before" ] || { echo "  nodeb logged nodea dead" >&2; return 1; }
}

dual_case() {
    local ms dead_link live_link
    hb_conf "$A" sha1 100ms 500ms 300ms 2 "bcast va" "ucast va2 10.79.1.2"
    hb_conf "$B" sha1 100ms 500ms 300ms 2 "bcast vb" "ucast vb2 10.79.1.1"
    start_node b
    start_node a
    ms=$(await_active 10000) || { echo "  the pair never became active" >&2; return 1; }
    local links
    links=$(cl "$B" listhblinks nodea)
    [ "$links" = $'vb\nvb2' ] || { echo "  listhblinks nodea: '${links//$'\n'/ }', expected 'vb vb2'" >&2; return 1; }
    await 2000 up cl "$B" hblinkstatus nodea vb >/dev/null || return 1
    await 2000 up cl "$B" hblinkstatus nodea vb2 >/dev/null || return 1
    CASE_NOTE="active after ${ms} ms"
    for path in bcast ucast; do
        if [ "$path" = bcast ]; then dead_link=vb live_link=vb2; else dead_link=vb2 live_link=vb; fi
        path_down "$path"
        ms=$(await $((500 + SLACK_MS + 2000)) dead cl "$B" hblinkstatus nodea "$dead_link") || { echo "  link $dead_link never dead after the $path path went down" >&2; return 1; }
        CASE_NOTE+=", $path path down: link $dead_link dead after ${ms} ms"
        # Three deadtimes with one path silent: nodea must stay active.
        watch_alive 1500 || return 1
        [ "$(cl "$B" hblinkstatus nodea "$live_link")" = up ] || { echo "  link $live_link not up while $dead_link is down" >&2; return 1; }
        [ "$(cl "$B" hblinkstatus nodea "$dead_link")" = dead ] || { echo "  link $dead_link came back while down" >&2; return 1; }
        path_up "$path"
        ms=$(await 5000 up cl "$B" hblinkstatus nodea "$dead_link") || { echo "  link $dead_link never up again" >&2; return 1; }
        CASE_NOTE+=" (up again after ${ms} ms)"
    done
    local before
    before=$(count_lines "$work/b.log" "node nodea: is dead")
    path_down bcast
    path_down ucast
    ms=$(await $((500 + SLACK_MS + 2000)) dead cl "$B" nodestatus nodea) || { echo "  nodea never dead with both paths down" >&2; return 1; }
    [ "$(count_lines "$work/b.log" "node nodea: is dead")" -gt "$before" ] || { echo "  no dead line logged" >&2; return 1; }
    CASE_NOTE+=", both down: nodea dead after ${ms} ms"
    path_up bcast
    path_up ucast
    ms=$(await 5000 active cl "$B" nodestatus nodea) || { echo "  nodea never active again" >&2; return 1; }
    CASE_NOTE+=", both up: active after ${ms} ms"
}

both_exist() { [ -e "$1" ] && [ -e "$2" ] && echo yes || echo no; }

run_case() {
    local name=$1 t0
    shift
    CASE_NOTE='' CASE_SKIP=''
    : >"$work/a.log"
    : >"$work/b.log"
    t0=$(now_us)
    if "$@"; then
        pass=$((pass + 1))
        echo "pair: PASS $name ($(($(($(now_us) - t0)) / 1000)) ms): $CASE_NOTE"
    elif [ -n "$CASE_SKIP" ]; then
        skip=$((skip + 1))
        echo "pair: SKIP $name: $CASE_SKIP"
    else
        fail=$((fail + 1))
        failed+=("$name")
        echo "pair: FAIL $name${CASE_NOTE:+ (so far: $CASE_NOTE)}"
        show_logs
        if [ -n "${KEEP:-}" ]; then
            cp "$work/a.log" "$work/fail-$name-a.log"
            cp "$work/b.log" "$work/fail-$name-b.log"
        fi
    fi
    stop_pair
}

for medium in $MEDIA; do
    socat_pid=''
    if [ "$medium" = serial ]; then
        if ! command -v socat >/dev/null; then
            echo "pair: SKIP serial: socat is not installed (scripts/apt-install socat)"
            skip=$((skip + 1))
            continue
        fi
        socat pty,raw,echo=0,link="$work/ttyA" pty,raw,echo=0,link="$work/ttyB" 2>"$work/socat.log" &
        socat_pid=$!
        track "$socat_pid"
        await 5000 yes both_exist "$work/ttyA" "$work/ttyB" >/dev/null
        PTY_A=$(readlink -f "$work/ttyA") PTY_B=$(readlink -f "$work/ttyB")
    fi
    for auth in $AUTHS; do
        run_case "$medium/$auth" one_case "$medium" "$auth"
        # One refusal is the answer for every auth method.
        if [ "$medium" = serial ] && [ -n "$CASE_SKIP" ]; then break; fi
    done
    if [ -n "$socat_pid" ]; then
        kill "$socat_pid" 2>/dev/null || true
        wait "$socat_pid" 2>/dev/null || true
        untrack "$socat_pid"
    fi
done
[ -n "${NO_DUAL:-}" ] || run_case "bcast+ucast" dual_case

echo "pair: $pass passed, $fail failed, $skip skipped${failed[*]:+ (failed: ${failed[*]})}"
[ "$fail" = 0 ]
