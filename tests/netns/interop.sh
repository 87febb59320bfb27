#!/bin/bash
# Interop with the real Heartbeat 3.0.6 (root; Debian package `heartbeat`): nodea runs the real
# daemon, nodeb runs heartbeat-rs, linked by a veth pair in two network namespaces; for each
# medium (bcast, mcast, ucast) x each auth method (crc, sha1, md5). Checks (heartbeat-rs's view by
# its cl_status, the real daemon's by its log):
#   1. the real daemon sees heartbeat-rs `active`; heartbeat-rs sees it `active` (3.0.6 goes
#      `active` once its reqnodes is answered);
#      heartbeat-rs lists the link to it, `up`;
#   2. heartbeat-rs killed: the real daemon reports it `dead` within deadtime (+ 1 s slack);
#   3. heartbeat-rs restarted (new generation): the real daemon sees it `active` again;
#   4. the real daemon killed: heartbeat-rs reports it `dead` within the deadtime the real daemon
#      announced (its dt field: deadtime, + 2 s while it runs resource scripts) + 1 s slack, and
#      the link `dead`.
# Usage: tests/netns/interop.sh [path/to/heartbeat]   (default $CARGO_TARGET_DIR or target, debug)
# Env: MEDIA="bcast mcast ucast", AUTHS="crc sha1 md5", KEEP=1 (keep the work directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/heartbeat}")
# shellcheck source=tests/netns/lib.sh
. tests/netns/lib.sh
[ "$(id -u)" = 0 ] || { echo "interop: needs root"; exit 1; }
[ -x "$REAL_HB" ] || { echo "interop: $REAL_HB missing (apt-get install heartbeat)"; exit 1; }
[ -x "$BIN" ] || { echo "interop: $BIN missing (cargo build)"; exit 1; }

MEDIA=${MEDIA:-bcast mcast ucast}
AUTHS=${AUTHS:-crc sha1 md5}
DEADTIME=2
mkdir -p "$here/target"
work=$(mktemp -d -p "$here/target" interop.XXXXXX)
nsa=hbrs-ia-$$ nsb=hbrs-ib-$$
cleanup() {
    ns_cleanup
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

ns_add "$nsa"
ns_add "$nsb"
ns_veth "$nsa" va 10.78.0.1 "$nsb" vb 10.78.0.2

# medium_line MEDIUM IFACE PEER
medium_line() {
    case $1 in
    bcast) echo "bcast $2" ;;
    mcast) echo "mcast $2 239.0.78.1 694 1 0" ;;
    ucast) echo "ucast $2 $3" ;;
    esac
}
conf() { # $1 dir, $2 auth, $3 medium line
    mkdir -p "$1"
    cat >"$1/ha.cf" <<CF
logfile /var/log/ha-log
keepalive 200ms
warntime 1
deadtime $DEADTIME
initdead 4
udpport 694
$3
node nodea nodeb
auto_failback on
crm off
CF
    printf 'auth 2\n2 %s\n' "$(authkeys_line "$2" | cut -d' ' -f2-)" >"$1/authkeys"
    chmod 600 "$1/authkeys"
    : >"$1/haresources"
}
real_prepare "$work"
start_real() {
    real_start "$nsa" "$work"
    REAL=$REAL_PID
}
kill_real() {
    real_kill "$REAL"
    REAL=''
}
start_ours() {
    ours_start "$nsb" "$work/b" nodeb "$work/b.out"
    OURS=$OURS_PID
}
kill_ours() {
    [ -n "$OURS" ] || return 0
    ours_stop "$OURS" KILL
    OURS=''
}
ours_sees() { cl "$work/b" nodestatus nodea; }
real_sees() { real_view "$work/a.log" nodeb; }
show_logs() {
    echo "  --- Heartbeat 3.0.6 (nodea) log" >&2; tail -n 12 "$work/a.log" >&2 2>/dev/null || true
    echo "  --- heartbeat-rs (nodeb) log" >&2; tail -n 8 "$work/b.out" >&2 2>/dev/null || true
}

# one_case MEDIUM AUTH: the checks above; CASE_NOTE collects the figures.
one_case() {
    local medium=$1 auth=$2 ms links link
    conf "$work/a" "$auth" "$(medium_line "$medium" va 10.78.0.2)"
    conf "$work/b" "$auth" "$(medium_line "$medium" vb 10.78.0.1)"
    : >"$work/b.out"
    start_real
    start_ours
    ms=$(await 30000 active real_sees) || return 1
    CASE_NOTE="3.0.6 sees us active after ${ms} ms"
    # 3.0.6 goes `active` once its reqnodes is answered (our repnodes).
    ms=$(await 30000 active ours_sees) || return 1
    CASE_NOTE+=", we see it active after ${ms} ms"
    links=$(cl "$work/b" listhblinks nodea)
    link=$(cl "$work/b" hblinkstatus nodea vb)
    if [ "$links" != vb ] || [ "$link" != up ]; then
        echo "  links: listhblinks '$links', hblinkstatus '$link'" >&2
        return 1
    fi

    kill_ours
    ms=$(await $((DEADTIME * 1000 + 5000)) dead real_sees) || return 1
    CASE_NOTE+="; we killed: 3.0.6 says dead after ${ms} ms"
    [ "$ms" -le $((DEADTIME * 1000 + 1000)) ] || { echo "  too slow (deadtime ${DEADTIME}000 ms)" >&2; return 1; }

    start_ours
    ms=$(await 30000 active real_sees) || return 1
    CASE_NOTE+="; restarted: active again after ${ms} ms"
    await 30000 active ours_sees >/dev/null || return 1

    kill_real
    ms=$(await $((DEADTIME * 1000 + 5000)) dead ours_sees) || return 1
    CASE_NOTE+="; 3.0.6 killed: we say dead after ${ms} ms"
    # 3.0.6 announces its deadtime in each heartbeat (dt) and raises it by 2 s while it runs
    # resource scripts; the receiver honours what the sender announced, as 3.0.6 does.
    [ "$ms" -le $((DEADTIME * 1000 + 2000 + 1000)) ] || { echo "  too slow" >&2; return 1; }
    link=$(cl "$work/b" hblinkstatus nodea vb)
    [ "$link" = dead ] || { echo "  hblinkstatus after the kill: '$link'" >&2; return 1; }
}

pass=0 fail=0
failed=()
REAL='' OURS=''
for medium in $MEDIA; do
    for auth in $AUTHS; do
        CASE_NOTE=''
        t0=$(now_us)
        if one_case "$medium" "$auth"; then
            pass=$((pass + 1))
            echo "interop: PASS $medium/$auth ($((($(now_us) - t0) / 1000)) ms): $CASE_NOTE"
        else
            fail=$((fail + 1))
            failed+=("$medium/$auth")
            echo "interop: FAIL $medium/$auth${CASE_NOTE:+ (so far: $CASE_NOTE)}"
            show_logs
        fi
        kill_ours
        [ -z "$REAL" ] || kill_real
    done
done
echo "interop: $pass passed, $fail failed${failed[*]:+ (failed: ${failed[*]})}"
[ "$fail" = 0 ]
