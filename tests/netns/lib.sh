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
