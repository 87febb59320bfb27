#!/bin/sh
# The whole LVS topology in ONE VM (IPVS is per network namespace):
#   tests/vm/run.sh --module veth --module llc --module stp --module bridge \
#       tests/vm/topology.sh heartbeat topology_probe -- dr|nat|tun [TRIALS]
# Namespaces client, dir1, dir2 (a heartbeat-rs pair holding the VIP and the embedded
# ldirectord engine, with lvs_sync_daemon), rs1, rs2 (examples/topology_probe.rs serving HTTP
# and long-lived line connections), on a bridge. keepalive 100 ms, deadtime 500 ms.
#   dr:  reals set up with `heartbeat realserver start VIP` (VIP on lo, ARP off), gatewaying.
#   nat: reals on a second bridge, default route through a floating address the pair holds.
#   tun: IPIP to the reals, set up with `heartbeat realserver --tun` (VIP on tunl0, rp_filter=0);
#        add --module tunnel4 --module ip_tunnel --module ipip.
# Checked: the sync daemons (master on the holder, backup on the other, `ipvsadm -L --daemon`);
# the client's requests reach both reals through the VIP; a killed real is taken out and the
# client keeps getting answers; the active director crashes (SIGKILL, link down) and the client
# keeps getting answers, and a TCP connection opened before the crash keeps working with no
# reset (its entry came to the backup by connection sync). With TRIALS > 0 (./bench topology),
# after that the crashed director comes back and the pair is crashed TRIALS more times,
# alternating, printing `outage-ms N` per crash (gap between the client's last answer before
# the crash and its first after it) and whether the long-lived connection survived them all.
set -eu
mode=${1:-dr}
trials=${2:-0}
hb=/test/heartbeat
probe=/test/topology_probe
VIP=10.90.0.100
T=/tmp/topo
mkdir -p $T
now_ms() { $probe now; }
logs() {
    for n in dir1 dir2; do
        echo "--- $n log (tail)"
        tail -n 40 $T/$n.log 2>/dev/null || true
        echo "--- $n ipvsadm"
        ip netns exec $n ipvsadm -Ln 2>&1 || true
        ip netns exec $n ipvsadm -L --daemon 2>&1 || true
        echo "--- $n connections"
        ip netns exec $n ipvsadm -Lnc 2>&1 | grep -v "FIN_WAIT\|CLOSE\|TIME_WAIT" | head -n 8 || true
    done
    echo "--- probe"
    cat $T/probe.out 2>/dev/null || true
}
fail() {
    echo "FAIL: $*"
    logs
    exit 1
}
ok() { echo "topology-$mode: ok: $*"; }
# wait_for TENTHS WHAT CMD...: polls CMD every 0.1 s.
# (dash has no local variables: the names are this function's own.)
wait_for() {
    _wf_n=$1 _wf_what=$2
    shift 2
    _wf_i=0
    while ! "$@" >/dev/null 2>&1; do
        _wf_i=$((_wf_i + 1))
        [ $_wf_i -lt "$_wf_n" ] || fail "timed out waiting for $_wf_what"
        sleep 0.1
    done
}

# ---- network ----------------------------------------------------------------------------
bridge() {
    ip link add "$1" type bridge
    ip link set "$1" type bridge mcast_snooping 0 2>/dev/null || true
    ip link set "$1" up
}
# plug NS IFACE ADDR/LEN BRIDGE
plug() {
    [ -e /run/netns/"$1" ] || { ip netns add "$1"; ip -n "$1" link set lo up; }
    ip link add "v$1$2" type veth peer name "$2" netns "$1"
    ip link set "v$1$2" master "$4" up
    ip -n "$1" addr add "$3" brd + dev "$2"
    ip -n "$1" link set "$2" up
}
bridge br0
plug client eth0 10.90.0.10/24 br0
plug dir1 eth0 10.90.0.1/24 br0
plug dir2 eth0 10.90.0.2/24 br0
if [ "$mode" = nat ]; then
    bridge br1
    plug dir1 eth1 10.91.0.1/24 br1
    plug dir2 eth1 10.91.0.2/24 br1
    plug rs1 eth0 10.91.0.11/24 br1
    plug rs2 eth0 10.91.0.12/24 br1
    for r in rs1 rs2; do ip -n $r route add default via 10.91.0.254; done
    for d in dir1 dir2; do ip netns exec $d sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'; done
    R1=10.91.0.11 R2=10.91.0.12 FWD=masq
else
    plug rs1 eth0 10.90.0.11/24 br0
    plug rs2 eth0 10.90.0.12/24 br0
    R1=10.90.0.11 R2=10.90.0.12 FWD=gate dev=lo tun=
    # tun: IPIP to the reals (needs --module tunnel4 --module ip_tunnel --module ipip).
    [ "$mode" = tun ] && FWD=ipip dev=tunl0 tun=--tun
    for r in rs1 rs2; do
        # shellcheck disable=SC2086
        HEARTBEAT_RS_REALSERVER_STATE=$T/$r.state ip netns exec $r $hb realserver $tun --iface eth0 start $VIP >/dev/null ||
            fail "realserver start on $r"
        ip -n $r -o addr show dev $dev | grep -q " $VIP/32 " || fail "VIP not on $r's $dev"
        if [ "$mode" = tun ]; then
            [ "$(ip netns exec $r cat /proc/sys/net/ipv4/conf/tunl0/rp_filter)" = 0 ] || fail "rp_filter on $r's tunl0"
        fi
    done
    ok "realserver: VIP on $dev of rs1 and rs2, ARP suppressed"
fi

# ---- real servers -----------------------------------------------------------------------
ip netns exec rs1 $probe serve rs1 80 & rs1_pid=$!
ip netns exec rs2 $probe serve rs2 80 & rs2_pid=$!

# ---- the director pair ------------------------------------------------------------------
conf() { # $1 node, $2 peer address
    d=$T/$1
    mkdir -p $d/state
    cat >$d/ha.cf <<CF
keepalive 100ms
warntime 300ms
deadtime 500ms
initdead 2
udpport 694
ucast eth0 $2
node dir1 dir2
auto_failback off
crm off
lvs_sync_daemon eth0 id 7
CF
    printf 'auth 1\n1 sha1 topology-test\n' >$d/authkeys
    chmod 600 $d/authkeys
    if [ "$mode" = nat ]; then
        echo "dir1 ldirectord::ld.cf IPaddr2::10.91.0.254/24/eth1 IPaddr2::$VIP/24/eth0" >$d/haresources
    else
        echo "dir1 ldirectord::ld.cf IPaddr2::$VIP/24/eth0" >$d/haresources
    fi
    cat >$d/ld.cf <<CF
checkinterval=1
negotiatetimeout=1
quiescent=no
logfile="$T/ld-$1.log"
virtual=$VIP:80
    real=$R1:80 $FWD
    real=$R2:80 $FWD
    service=http
    scheduler=rr
    request="index.html"
    receive="rs"
    checktype=negotiate
CF
}
conf dir1 10.90.0.2
conf dir2 10.90.0.1
start() { # $1 node
    ip netns exec $1 $hb run --config-dir $T/$1 --state-dir $T/$1/state --node $1 \
        --ctl-socket $T/$1/ctl.sock --fence-command true 2>>$T/$1.log &
    eval "${1}_pid=$!"
}
has_vip() { ip -n $1 -o addr show dev eth0 | grep -q " $VIP/"; }
has_service() { ip netns exec $1 ipvsadm -Ln | grep -q "$VIP:80"; }
daemon_is() { ip netns exec $1 ipvsadm -L --daemon | grep -q "^$2 sync daemon (mcast=eth0, syncid=7"; }
peer_of() { if [ "$1" = dir1 ]; then echo dir2; else echo dir1; fi; }

$hb check-config --config-dir $T/dir1 >/dev/null || fail "check-config of dir1's files"
start dir1
start dir2
wait_for 150 "VIP on dir1" has_vip dir1
has_service dir1 || fail "VIP up on dir1 before its IPVS table"
wait_for 50 "dir1 master sync daemon" daemon_is dir1 master
wait_for 50 "dir2 backup sync daemon" daemon_is dir2 backup
ok "dir1 holds the VIP with its table programmed first; sync: master on dir1, backup on dir2"
wait_for 50 "both reals in dir1's table" sh -c "ip netns exec dir1 ipvsadm -Ln | grep -cE ' ($R1|$R2):80' | grep -qx 2"

# ---- the client through the VIP ----------------------------------------------------------
seen=""
i=0
while [ $i -lt 10 ]; do
    a=$(ip netns exec client $probe get $VIP:80) || fail "request $i through the VIP"
    case " $seen " in *" $a "*) ;; *) seen="$seen $a" ;; esac
    i=$((i + 1))
done
case "$seen" in *rs1*rs2* | *rs2*rs1*) ;; *) fail "answers came from$seen only" ;; esac
ok "10 requests through the VIP, answered by$seen"

rm -f $T/stop
ip netns exec client $probe probe $VIP:80 $T/stop 10 >$T/probe.out 2>&1 & probe_pid=$!
wait_for 50 "the probe's long connection" grep -q "^long-server" $T/probe.out
long=$(sed -n 's/^long-server //p' $T/probe.out)
ok "long-lived connection to $long"
sleep 1

# ---- a real server dies -------------------------------------------------------------------
if [ "$long" = rs1 ]; then victim=rs2 vpid=$rs2_pid vaddr=$R2; else victim=rs1 vpid=$rs1_pid vaddr=$R1; fi
kill $vpid
t_real=$(now_ms)
wait_for 60 "$victim out of dir1's table" sh -c "! ip netns exec dir1 ipvsadm -Ln | grep -q ' $vaddr:80'"
echo "topology-$mode: $victim out of the table after $(($(now_ms) - t_real)) ms"
sleep 1
after=$(ip netns exec client $probe get $VIP:80) || fail "request after the real died"
[ "$after" = "$long" ] || fail "answer from $after after $victim died"
ok "$victim killed: taken out, the client keeps getting answers (from $long)"

# ---- the active director crashes -----------------------------------------------------------
active=dir1
crashes=""
crash() { # crash the active director, wait for the peer's takeover
    peer=$(peer_of $active)
    eval "pid=\$${active}_pid"
    t=$(now_ms)
    # The network loses the node first (heartbeats and client traffic stop together, as when
    # a machine dies), then its daemon dies.
    ip -n $active link set eth0 down
    kill -KILL "$pid"
    crashes="$crashes $t"
    wait_for 100 "takeover by $peer" has_vip $peer
    has_service $peer || fail "$peer's VIP up before its IPVS table"
    wait_for 50 "$peer master sync daemon" daemon_is $peer master
    echo "topology-$mode: crash of $active at $t; $peer holds the VIP after $(($(now_ms) - t)) ms"
    wait "$pid" 2>/dev/null || true
}
# revive NODE: the crashed director boots again (its link comes back once its stale VIP is
# gone, as after a reboot) and joins as the backup.
revive() {
    ip -n $1 addr flush dev eth0 to $VIP/32 2>/dev/null || true
    ip -n $1 addr del $VIP/24 dev eth0 2>/dev/null || true
    [ "$mode" = nat ] && { ip -n $1 addr del 10.91.0.254/24 dev eth1 2>/dev/null || true; }
    ip -n $1 link set eth0 up
    start $1
    wait_for 100 "$1 backup sync daemon" daemon_is $1 backup
    # Its backup daemon must have the connections before the next crash.
    sleep 2
}
crash
sleep 2
touch_stop_and_read() {
    touch $T/stop
    wait $probe_pid || true
    cat $T/probe.out
}
if [ "$trials" -gt 0 ]; then
    trial=1
    while [ $trial -le "$trials" ]; do
        crashed=$active
        active=$(peer_of $active)
        revive $crashed
        crash
        sleep 1
        trial=$((trial + 1))
    done
fi
touch_stop_and_read >$T/probe.final
grep -q "^long answers=.* reset=no error=none" $T/probe.final || fail "the long-lived connection did not survive: $(grep '^long' $T/probe.final)"
grep "^gap" $T/probe.final || true
# Per crash: the longest gap that starts at most 300 ms before the crash was ordered (requests
# in flight then still complete) and within 3 s after.
for t in $crashes; do
    longest() {
        awk -v t="$t" -v k="$1" '$1 == "gap" && $2 == k && $3 + 300 >= t + 0 && $3 <= t + 3000 && $5 + 0 > m { m = $5 + 0 }
            END { print m + 0 }' $T/probe.final
    }
    gap=$(longest short)
    lgap=$(longest long)
    [ "$gap" -gt 0 ] || fail "no outage seen around the crash at $t (is the crash real?)"
    echo "outage-ms $gap long-gap-ms $lgap"
done
grep "^short\|^long" $T/probe.final
ok "director crash: the client keeps getting answers; the connection opened before it survived (no reset)"
for n in dir1 dir2; do
    echo "--- $n: resource events"
    grep -E "Acquir|Releas|is dead|added to|removed from|Both|sync daemon|gave up|takeover|first table" $T/$n.log || true
done
for p in $rs1_pid $rs2_pid $dir1_pid $dir2_pid; do kill "$p" 2>/dev/null || true; done
echo "topology-$mode: all checks passed"

