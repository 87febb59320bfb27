#!/bin/bash
# Active-active directors behind an OSPF ECMP router (root; run by `./bench ecmp`): how fast a
# director that cannot serve leaves the router's table. Topology of tests/netns/ecmp.sh (real
# FRR, configured by `heartbeat ecmp-config`, hello/dead 1/3 s), two directors. The router's
# `ip monitor route` and heartbeat-rs' log are stamped with the wall time of each line.
#   no real up -> gone: from the embedded director's log line declaring the last real of d1
#       down to the router's route change for the VIP (d1's next hop removed);
#   crash -> gone: from SIGKILL of d1's heartbeat-rs and FRR (zebra, ospfd, bfdd) to the same.
# Each with OSPF alone, then with BFD (bfdd, 100 ms x 3) when its sessions come up in the
# namespaces. Between trials everything is restored and waits a random part of a hello interval.
# Usage: scripts/bench-ecmp.sh [heartbeat binary] [trials]   Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
BIN=$(realpath "${1:-target/release/heartbeat}")
TRIALS=${2:-10}
[ "$(id -u)" = 0 ] || { echo "bench-ecmp: needs root" >&2; exit 1; }
[ -x /usr/lib/frr/ospfd ] || { echo "bench-ecmp: needs FRR (scripts/apt-install frr)" >&2; exit 1; }

# stats: min/median/max of the numbers on stdin (ms, one decimal), or "n/a".
stats() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "n/a"; exit} printf "%.0f / %.0f / %.0f ms (%d trials)", a[1], a[int((NR+1)/2)], a[NR], NR}'; }
# sec_us STAMP: "1733380000.123456" -> microseconds
sec_us() { local s=${1%.*} f=${1#*.}; echo $((10#$s * 1000000 + 10#$f)); }

mode() { # BFD 0|1; prints the table rows
    (
        ECMP_DIRECTORS=2 ECMP_BFD=$1 STAMP=1 NAME=bench-ecmp
        # shellcheck source=/dev/null
        source tests/netns/ecmp-lib.sh
        label="hello/dead 1/3 s"
        if [ "$1" = 1 ]; then
            label="BFD 100 ms x 3"
            bfd_up() { ip netns exec "$nsr" vtysh --vty_socket "$work/r/frr" -c "show bfd peers brief" 2>/dev/null | grep -cw up || true; }
            if ! await 15000 "$N" bfd_up >/dev/null 2>&1; then
                echo "| BFD | sessions did not come up in the namespaces | |"
                exit 0
            fi
        fi
        ip -n "$nsr" monitor route > >(stamp_lines >>"$work/mon.log") 2>/dev/null &
        track $!
        # first_change LINE-COUNT: the stamp (us) of the first route event for the VIP after it.
        first_change() { tail -n +"$(($1 + 1))" "$work/mon.log" | grep -m1 -F "$VIP" | cut -d' ' -f1; }
        # settled: every next hop present, and still so 2 s later (a restarted ospfd flaps once),
        # and with BFD every session up again (else a crash is found by the dead interval).
        settled() {
            await 30000 "$(hops_except)" nexthops >/dev/null || return 1
            sleep 2
            await 30000 "$(hops_except)" nexthops >/dev/null || return 1
            [ "$ECMP_BFD" = 1 ] || return 0
            await 15000 "$N" bfd_up >/dev/null
        }
        has_change() { [ -n "$(first_change "$1")" ] && echo yes || echo no; }
        : >"$work/down.ms"
        : >"$work/crash.ms"
        for k in $(seq "$TRIALS"); do
            sleep "0.$((RANDOM % 1000))"
            m=$(wc -l <"$work/mon.log")
            h=$(wc -l <"$work/d1/hb.log")
            reals_down 1
            await 10000 "$(hops_except 1)" nexthops >/dev/null || fail "trial $k: d1's next hop stayed"
            await 2000 yes has_change "$m" >/dev/null || true
            t0=$(tail -n +"$((h + 1))" "$work/d1/hb.log" | grep -E "Real server .* is down" | tail -n1 | cut -d' ' -f1)
            t1=$(first_change "$m")
            [ -n "$t0" ] && [ -n "$t1" ] || fail "trial $k: no stamps (t0 '$t0', t1 '$t1')"
            echo "$((($(sec_us "$t1") - $(sec_us "$t0")) / 1000))" >>"$work/down.ms"
            reals_up 1
            settled || fail "trial $k: d1's next hop did not return"
        done
        for k in $(seq "$TRIALS"); do
            sleep "0.$((RANDOM % 1000))"
            m=$(wc -l <"$work/mon.log")
            t0=$(now_us)
            {
                kill -KILL "${HB_PID[1]}" ${FRR_PIDS[$work/d1]} || true
                for p in "${HB_PID[1]}" ${FRR_PIDS[$work/d1]}; do wait "$p" || true; untrack "$p"; done
            } 2>/dev/null
            FRR_PIDS[$work/d1]=""
            await 10000 "$(hops_except 1)" nexthops >/dev/null || fail "crash $k: d1's next hop stayed"
            await 2000 yes has_change "$m" >/dev/null || true
            t1=$(first_change "$m")
            [ -n "$t1" ] || fail "crash $k: no route event"
            echo "$((($(sec_us "$t1") - t0) / 1000))" >>"$work/crash.ms"
            # The node "reboots": FRR, then heartbeat-rs (the VIP left on lo is taken as it is).
            frr_start "$(ns_of d1)" "$work/d1"
            hb_start 1
            settled || fail "crash $k: d1's next hop did not return"
        done
        echo "| no real up on a director -> its next hop gone | $label | $(stats <"$work/down.ms") |"
        echo "| director crash (SIGKILL heartbeat-rs + FRR) -> its next hop gone | $label | $(stats <"$work/crash.ms") |"
    )
}

echo "### Active-active directors: withdrawal from the ECMP router (FRR ${FRR_VERSION:-$(dpkg-query -W -f '${Version}' frr 2>/dev/null)})"
echo
echo "| event | detection | min / median / max |"
echo "|---|---|---|"
mode 0
mode 1
