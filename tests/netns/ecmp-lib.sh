# Shared by tests/netns/ecmp.sh and scripts/bench-ecmp.sh (sourced): the ECMP topology with the
# real FRR. The caller sets BIN, and optionally ECMP_DIRECTORS (3), ECMP_BFD (0|1) and STAMP=1
# (heartbeat-rs' stderr, and the embedded director's log, stamped with the wall time of each
# line, for measurements). Builds and starts everything, and waits until the router has one next
# hop per director. Namespaces and processes are removed by the EXIT trap set here.
# shellcheck shell=bash
source tests/netns/lib.sh
mkdir -p "$here/target"
work=$(mktemp -d -p "$here/target" ecmp.XXXXXX)
NAME=${NAME:-ecmp}
chmod 755 "$work"
tag=$$
nsr=hbrs-er-$tag nsc=hbrs-ec-$tag
VIP=10.78.0.100
N=${ECMP_DIRECTORS:-3}
BFD=${ECMP_BFD:-0}
declare -A HB_PID REAL1 REAL2 WEB FRR_PIDS

cleanup() {
    ns_cleanup
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "$NAME: FAILED: $*" >&2
    echo "--- router route: $(ip -n "$nsr" route show "$VIP" 2>&1 | tr '\n' ' ')" >&2
    for i in $(seq "$N"); do echo "--- d$i log (tail)" >&2; tail -n 15 "$work/d$i/hb.log" >&2 || true; done
    exit 1
}
ns_of() { echo "hbrs-e$1-$tag"; }

# --- Topology.
ns_add "$nsr"
ns_add "$nsc"
ip netns exec "$nsr" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ns_veth "$nsr" c0 10.78.100.1 "$nsc" eth0 10.78.100.2
ip -n "$nsc" route add default via 10.78.100.1
router_ifaces=()
for i in $(seq "$N"); do
    ns=$(ns_of "d$i")
    ns_add "$ns"
    ns_veth "$nsr" "u$i" "10.78.$i.1" "$ns" eth0 "10.78.$i.2"
    ip -n "$ns" route add default via "10.78.$i.1"
    # The VIP on lo must not be answered for in ARP on the service side (arp_ignore/announce),
    # and replies leave from the VIP over eth0 (no strict reverse-path filter on the way back).
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.all.rp_filter=0
    router_ifaces+=(--interface "u$i=10.78.$i.1/24")
done

# --- Configuration: ha.d per director, FRR's from ecmp-config.
bfd_flag=()
[ "$BFD" = 1 ] && bfd_flag=(--bfd)
for i in $(seq "$N"); do
    d=$work/d$i
    mkdir -p "$d/state" "$d/web" "$d/frr"
    cat >"$d/ha.cf" <<CF
keepalive 200ms
deadtime 1
initdead 1
auto_failback off
logfacility none
metrics 9684
udpport 694
ucast eth0 10.78.$i.1
node d$i
crm off
CF
    printf 'auth 1\n1 sha1 ecmp-test\n' >"$d/authkeys"
    chmod 600 "$d/authkeys"
    echo "d$i ldirectord::ldirectord.cf OSPFvip::$VIP" >"$d/haresources"
    cat >"$d/ldirectord.cf" <<CF
checktimeout=1
checkinterval=1
quiescent=no
logfile="$( [ "${STAMP:-0}" = 1 ] && echo /dev/stderr || echo "$d/ldirectord.log")"
virtual=$VIP:80
	real=127.0.0.1:8081 gate
	real=127.0.0.1:8082 gate
	service=http
	checktype=connect
	scheduler=wlc
	protocol=tcp
CF
    echo "d$i" >"$d/web/index.html"
    "$BIN" check-config --quiet --config-dir "$d" 2>"$d/check-config.err" || fail "d$i: check-config: $(cat "$d/check-config.err")"
    "$BIN" ecmp-config --config-dir "$d" --point-to-point "${bfd_flag[@]}" --interface "eth0=10.78.$i.2/24" >"$d/frr/frr.conf" ||
        fail "d$i: ecmp-config"
done
mkdir -p "$work/r/frr"
"$BIN" ecmp-config --config-dir "$work/d1" --router --point-to-point "${bfd_flag[@]}" --router-id 10.78.100.1 "${router_ifaces[@]}" \
    >"$work/r/frr/frr.conf" || fail "router: ecmp-config"

# frr_start NS DIR: zebra + ospfd (+ bfdd) in NS, sockets and pid files in DIR/frr, then the
# configuration applied through vtysh. FRR_PIDS[DIR] = their PIDs.
frr_start() {
    local ns=$1 f=$2/frr pids=() dmn
    chown frr:frr "$f"
    # A killed daemon leaves its sockets: waiting for them must not find the old ones.
    rm -f "$f"/*.vty "$f"/*.pid "$f/zserv.api" "$f/bfdd.sock"
    : >"$f/empty.conf"
    local daemons=(zebra ospfd)
    [ "$BFD" = 1 ] && daemons+=(bfdd)
    for dmn in "${daemons[@]}"; do
        local extra=()
        [ "$dmn" = bfdd ] && extra=(--bfdctl "$f/bfdd.sock")
        ip netns exec "$ns" "/usr/lib/frr/$dmn" -f "$f/empty.conf" -i "$f/$dmn.pid" -z "$f/zserv.api" --vty_socket "$f" \
            --log "file:$f/$dmn.log" "${extra[@]}" >>"$f/stdout" 2>&1 &
        track $!
        pids+=($!)
        await 5000 yes test_sock "$f/$dmn.vty" >/dev/null || fail "$ns: $dmn did not come up"
    done
    FRR_PIDS[$2]="${pids[*]}"
    ip netns exec "$ns" vtysh --vty_socket "$f" -f "$f/frr.conf" >>"$f/stdout" 2>&1 || fail "$ns: vtysh -f frr.conf: $(tail -3 "$f/stdout")"
}
test_sock() { [ -S "$1" ] && echo yes || echo no; }
frr_stop() { # DIR [SIGNAL]
    local p
    for p in ${FRR_PIDS[$1]}; do kill "-${2:-TERM}" "$p" 2>/dev/null || true; done
    for p in ${FRR_PIDS[$1]}; do wait "$p" 2>/dev/null || true; untrack "$p"; done
    FRR_PIDS[$1]=""
}

reals_up() { # i
    local ns d=$work/d$1
    ns=$(ns_of "d$1")
    ip netns exec "$ns" python3 -m http.server 8081 --bind 127.0.0.1 --directory "$d/web" >/dev/null 2>&1 &
    REAL1[$1]=$!
    track $!
    ip netns exec "$ns" python3 -m http.server 8082 --bind 127.0.0.1 --directory "$d/web" >/dev/null 2>&1 &
    REAL2[$1]=$!
    track $!
}
reals_down() { # i
    local p
    for p in "${REAL1[$1]}" "${REAL2[$1]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; untrack "$p"; done
}
hb_start() { # i
    local ns d=$work/d$1
    ns=$(ns_of "d$1")
    if [ "${STAMP:-0}" = 1 ]; then
        HEARTBEAT_RS_IPVS_TABLE=$d/ipvs.txt HEARTBEAT_RS_VTYSH="vtysh --vty_socket $d/frr" \
            ip netns exec "$ns" "$BIN" run --config-dir "$d" --state-dir "$d/state" --node "d$1" --ctl-socket "$d/ctl.sock" \
            2> >(stamp_lines >>"$d/hb.log") &
    else
        HEARTBEAT_RS_IPVS_TABLE=$d/ipvs.txt HEARTBEAT_RS_VTYSH="vtysh --vty_socket $d/frr" \
            ip netns exec "$ns" "$BIN" run --config-dir "$d" --state-dir "$d/state" --node "d$1" --ctl-socket "$d/ctl.sock" 2>>"$d/hb.log" &
    fi
    HB_PID[$1]=$!
    track $!
}

# The router's next hops for the VIP, sorted: "10.78.1.2 10.78.2.2".
nexthops() { ip -n "$nsr" -4 route show "$VIP/32" 2>/dev/null | grep -o 'via [0-9.]*' | cut -d' ' -f2 | sort | xargs; }
hops_except() { # the next hops of every director but those given
    local i out=()
    for i in $(seq "$N"); do [[ " $* " == *" $i "* ]] || out+=("10.78.$i.2"); done
    echo "${out[*]}"
}

frr_start "$nsr" "$work/r"
for i in $(seq "$N"); do
    ns=$(ns_of "d$i")
    frr_start "$ns" "$work/d$i"
    ip netns exec "$ns" python3 -m http.server 80 --bind 0.0.0.0 --directory "$work/d$i/web" >/dev/null 2>&1 &
    WEB[$i]=$!
    track $!
    reals_up "$i"
    hb_start "$i"
done

all=$(hops_except)
t=$(await 30000 "$all" nexthops) || fail "start: not one next hop per director"
echo "start: $N next hops on the router ($all) after ${t} ms" >&2
