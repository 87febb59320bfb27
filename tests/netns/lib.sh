# Shared by the namespace tests and benchmarks (sourced, not run): two network namespaces joined
# by veth pairs, heartbeat-rs nodes in them, ha.cf/authkeys writers, and waits with deadlines.
# Every process started here is recorded by PID and every namespace by name; ns_cleanup removes
# exactly those. Times come from bash's $EPOCHREALTIME (no fork per reading).
# shellcheck shell=bash

NS_PIDS=()
NS_NAMES=()

# Microseconds since the epoch (CLOCK_REALTIME, the clock tcpdump stamps packets with).
now_us() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }

ns_cleanup() {
    local p
    for p in "${NS_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${NS_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    for p in "${NS_NAMES[@]}"; do ip netns del "$p" 2>/dev/null || true; done
}

# ns_add NAME: a fresh network namespace with lo up, removed by ns_cleanup.
ns_add() {
    ip netns add "$1"
    NS_NAMES+=("$1")
    ip -n "$1" link set lo up
}

# ns_veth NSA IFA ADDRA NSB IFB ADDRB: a veth pair between two namespaces, /24 with broadcast.
ns_veth() {
    ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
    ip -n "$1" addr add "$3/24" brd + dev "$2"
    ip -n "$4" addr add "$6/24" brd + dev "$5"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}

# track PID: killed by ns_cleanup.
track() { NS_PIDS+=("$1"); }

# untrack PID after it was reaped.
untrack() {
    local keep=() p
    for p in "${NS_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    NS_PIDS=("${keep[@]}")
}

# authkeys_line METHOD: the key line of slot 1.
authkeys_line() {
    case $1 in
    crc) echo "1 crc" ;;
    sha1 | md5) echo "1 $1 hbrs-netns-key" ;;
    *) echo "unknown auth method $1" >&2; return 1 ;;
    esac
}

# hb_conf DIR AUTH KEEPALIVE DEADTIME WARNTIME INITDEAD MEDIA-LINES...: ha.cf (nodes nodea and
# nodeb, crm off) and authkeys (mode 600) in DIR.
hb_conf() {
    local dir=$1 auth=$2 ka=$3 dt=$4 wt=$5 init=$6
    shift 6
    mkdir -p "$dir"
    {
        echo "keepalive $ka"
        echo "deadtime $dt"
        echo "warntime $wt"
        echo "initdead $init"
        echo "udpport 694"
        printf '%s\n' "$@"
        echo "node nodea nodeb"
        echo "auto_failback on"
        echo "crm off"
    } >"$dir/ha.cf"
    printf 'auth 1\n%s\n' "$(authkeys_line "$auth")" >"$dir/authkeys"
    chmod 600 "$dir/authkeys"
    [ -e "$dir/haresources" ] || : >"$dir/haresources"
}

# ours_start NS DIR NODE LOG [wrapper...]: runs `heartbeat run` in namespace NS (config and
# state under DIR, control socket DIR/ctl.sock), stderr appended to LOG; with STAMP=1 each log
# line is prefixed with the wall time it was read at (seconds.microseconds). Sets OURS_PID.
ours_start() {
    local ns=$1 dir=$2 node=$3 log=$4
    shift 4
    rm -f "$dir/ctl.sock"
    if [ "${STAMP:-0}" = 1 ]; then
        "$@" ip netns exec "$ns" "$BIN" run --config-dir "$dir" --state-dir "$dir/state" --node "$node" \
            --ctl-socket "$dir/ctl.sock" 2> >(stamp_lines >>"$log") &
    else
        "$@" ip netns exec "$ns" "$BIN" run --config-dir "$dir" --state-dir "$dir/state" --node "$node" \
            --ctl-socket "$dir/ctl.sock" 2>>"$log" &
    fi
    OURS_PID=$!
    track "$OURS_PID"
}

# stamp_lines: copies stdin to stdout, each line prefixed with the time it was read.
stamp_lines() {
    local l
    while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
}

# ours_stop PID [SIGNAL]: signals the daemon and reaps it (SIGKILL after 5 s).
ours_stop() {
    local pid=$1 sig=${2:-TERM} t0
    # (stderr off: no "Killed" job notice from bash)
    {
        kill "-$sig" "$pid" || true
        t0=$(now_us)
        while alive "$pid"; do
            if [ $(($(now_us) - t0)) -gt 5000000 ]; then kill -KILL "$pid" || true; fi
            sleep 0.01
        done
        wait "$pid" || true
    } 2>/dev/null
    untrack "$pid"
}

# cl DIR ARGS...: our cl_status against the daemon whose control socket is DIR/ctl.sock.
cl() {
    local dir=$1
    shift
    HEARTBEAT_RS_CTL="$dir/ctl.sock" "$BIN" cl_status "$@" 2>/dev/null || true
}

# await LIMIT_MS WANT-REGEX CMD...: polls CMD (every 10 ms) until its output matches WANT-REGEX
# (anchored); prints the elapsed milliseconds. On timeout prints the last output to stderr and
# fails.
await() {
    local limit=$1 want=$2 t0 now got
    shift 2
    t0=$(now_us)
    while :; do
        got=$("$@")
        now=$(now_us)
        if [[ $got =~ ^($want)$ ]]; then
            echo $(((now - t0) / 1000))
            return 0
        fi
        if [ $(((now - t0) / 1000)) -ge "$limit" ]; then
            echo "  timeout after ${limit} ms: '$*' said '${got//$'\n'/ }', wanted '$want'" >&2
            return 1
        fi
        sleep 0.01
    done
}

# count_lines FILE REGEX: how many lines of FILE match (0 when absent).
count_lines() { grep -cE "$2" "$1" 2>/dev/null || true; }

# await_line LIMIT_MS FILE REGEX BEFORE: waits until FILE has more than BEFORE lines matching
# REGEX; prints the elapsed milliseconds.
await_line() {
    local limit=$1 file=$2 re=$3 before=$4
    await "$limit" "yes" _more_lines "$file" "$re" "$before"
}
_more_lines() { [ "$(count_lines "$1" "$2")" -gt "$3" ] && echo yes || echo no; }

# alive PID: the process exists and is not a zombie.
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }

# --- The real Heartbeat 3.0.6 as node `nodea` (Debian package `heartbeat`).
REAL_HB=/usr/libexec/heartbeat/heartbeat

# real_prepare WORK: WORK/varlib, the package's state directory layout (api/ and casual/ are
# where cl_status signs on), empty; WORK/a, its /etc/ha.d with the package's scripts (ha.cf,
# authkeys and haresources are written there by the caller).
real_prepare() {
    local w=$1 d f
    mkdir -p "$w/varlib" "$w/a"
    (cd /var/lib/heartbeat && find . -type d) | while read -r d; do
        mkdir -p "$w/varlib/$d"
        chown --reference="/var/lib/heartbeat/$d" "$w/varlib/$d"
        chmod --reference="/var/lib/heartbeat/$d" "$w/varlib/$d"
    done
    for f in harc shellfuncs rc.d resource.d; do
        if [ -e "/etc/ha.d/$f" ]; then cp -a "/etc/ha.d/$f" "$w/a/"; fi
    done
}

# The real node, in its own mount, UTS and PID namespaces; its log (ha.cf: logfile
# /var/log/ha-log) is copied to WORK/a.log every 100 ms.
# shellcheck disable=SC2016 # expanded by the inner shell
REAL_NODE='
set -u
W=$1 HB=$2
hostname nodea
mount --bind "$W/a" /etc/ha.d
mount -t tmpfs none /run
mount --bind "$W/varlib" /var/lib/heartbeat
mount -t tmpfs none /var/log
for w in /dev/watchdog*; do [ -e "$w" ] && mount --bind /dev/null "$w"; done
mkdir -p /run/lock /run/heartbeat/ccm /run/heartbeat/crm
chown -R hacluster:haclient /run/heartbeat
# Daemonizing, as an init script starts it (its API for cl_status comes up that way).
"$HB" >"$W/a.out" 2>&1 </dev/null
while sleep 0.1; do
    cp /var/log/ha-log "$W/a.log" 2>/dev/null || true
done
'

# real_start NS WORK: starts the real node in network namespace NS. Sets REAL_PID (the unshare
# process: --kill-child makes killing it kill the namespace's init, and so every process inside).
real_start() {
    : >"$2/a.log"
    ip netns exec "$1" unshare --mount --uts --pid --fork --kill-child --mount-proc bash -c "$REAL_NODE" real "$2" "$REAL_HB" &
    REAL_PID=$!
    track "$REAL_PID"
}

real_kill() {
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    untrack "$1"
}

# real_pids UNSHARE-PID: the real daemon's processes (comm `heartbeat`, in the PID namespace
# of the node started by that unshare).
real_pids() {
    local init ns p
    init=$(pgrep -P "$1" | head -n 1) || return 0
    ns=$(readlink "/proc/$init/ns/pid") || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
        [ "$(cat "$p/comm" 2>/dev/null)" = heartbeat ] && echo "${p#/proc/}"
    done
    return 0
}

# real_view LOG NODE: the real daemon's view of NODE, from its own log lines (the ones
# operators grep for). Its cl_status cannot sign on in this namespace set-up yet (hb_api_signon
# fails; see the README), so the log is the witness.
real_view() {
    grep -E "Status update for node $2: status [a-z]+|node $2: is dead" "$1" 2>/dev/null | tail -n 1 |
        sed -E 's/.*status ([a-z]+)$/\1/; s/.*is dead$/dead/' || true
}
