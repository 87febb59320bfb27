#!/bin/bash
# Differential test of the director engine against the real ldirectord 4.12: both run at the same
# time, on the same configuration, against the same loopback HTTP reals, in a private network and
# mount namespace. 4.12 programs a recording stand-in for ipvsadm (bind-mounted over
# /usr/sbin/ipvsadm), heartbeat-rs the file-backed fake (--ipvs-table). After each step (start,
# reals fail, recover, fallback, reload adding/removing reals and a virtual, stop) the two tables
# must be equal (documented deliberate differences excepted: none arise in these steps).
#
# Needs root, the Debian ldirectord package (4.12) and python3.
# Usage: tests/differential/ldirectord-engine.sh [path/to/heartbeat]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-$here/../../target/debug/heartbeat}")
[ "$(id -u)" = 0 ] || { echo "SKIPPED ldirectord-engine: needs root"; exit 0; }
[ -x /usr/sbin/ldirectord ] || { echo "SKIPPED ldirectord-engine: /usr/sbin/ldirectord missing"; exit 0; }
[ -x "$bin" ] || { echo "ldirectord-engine: $bin not built" >&2; exit 1; }

if [ "${LDE_INSIDE:-}" != 1 ]; then
    exec unshare --net --mount --fork env LDE_INSIDE=1 "$0" "$bin"
fi

# Inside the namespaces.
mount -t tmpfs none /run
mount -t tmpfs none /var/log
mkdir -p /var/log/ldirectord
ip link set lo up
w=/run/lde
mkdir -p $w/www
echo OK >$w/www/health
cp "$here/ipvsadm-standin.py" $w/ipvsadm
mount --bind $w/ipvsadm /usr/sbin/ipvsadm
export IPVSADM_STATE=$w/legacy.json IPVSADM_LOG=$w/legacy.log

declare -A srv
serve() { python3 -m http.server 8080 --bind "$1" -d $w/www >/dev/null 2>&1 & srv[$1]=$!; }
unserve() { kill "${srv[$1]}" 2>/dev/null || true; wait "${srv[$1]}" 2>/dev/null || true; }
for r in 127.2.1.1 127.2.1.2 127.2.2.1 127.2.2.2 127.2.3.1; do serve $r; done

config() { # $1: extra real for virtual 1, $2: "yes" to keep virtual 3
    cat <<CF
checkinterval=1
negotiatetimeout=2
failurecount=1
quiescent=no
autoreload=no
virtual=127.1.0.1:8080
    real=127.2.1.1:8080 masq 2
    real=127.2.1.2:8080 masq 3
${1:-    real=127.2.1.2:8080 masq 3}
    service=http
    request="health"
    receive="OK"
    quiescent=yes
virtual=127.1.0.2:8080
    real=127.2.2.1:8080 masq 1
    real=127.2.2.2:8080 masq 1
    service=http
    request="health"
    receive="OK"
    fallback=127.2.9.9:8080 masq
CF
    if [ "$2" = yes ]; then printf 'virtual=127.1.0.3:8080\n    real=127.2.3.1:8080 masq 4\n    checktype=connect\n'; fi
}
config "" yes >$w/ld.cf

/usr/sbin/ldirectord -d $w/ld.cf start >$w/legacy.out 2>&1 &
legacy=$!
"$bin" ldirectord --ipvs-table $w/ours.txt -d $w/ld.cf start 2>$w/ours.out &
ours=$!

norm_legacy() {
    python3 - "$IPVSADM_STATE" <<'PY'
import json, sys
try: st = json.load(open(sys.argv[1]))
except FileNotFoundError: st = {"services": []}
out = []
for s in st["services"]:
    out.append("%s %s" % (s["key"], s["sched"]))
    out += ["%s -> %s %s %s" % (s["key"], d["addr"], d["fwd"], d["w"]) for d in s["dests"]]
print("\n".join(sorted(out)))
PY
}
norm_ours() {
    python3 - $w/ours.txt <<'PY'
import sys
try: lines = open(sys.argv[1]).read().split("\n\n")[0].splitlines()[3:]
except FileNotFoundError: lines = []
out, svc = [], None
for l in lines:
    p = l.split()
    if not p: continue
    if p[0] == "->":
        out.append("%s -> %s %s %s" % (svc, p[1], p[2], p[3]))
    else:
        svc = "%s %s" % (p[0], p[1]); out.append("%s %s" % (svc, p[2]))
print("\n".join(sorted(out)))
PY
}

step=0
fails=0
compare() { # $1: what; waits until both tables are equal and stable, at most 25 s
    step=$((step + 1))
    if ! kill -0 $legacy 2>/dev/null || ! kill -0 $ours 2>/dev/null; then
        echo "step $step ($1): a daemon died"; echo "--- legacy"; tail -20 $w/legacy.out; echo "--- ours"; tail -20 $w/ours.out
        exit 1
    fi
    local t0=$SECONDS a b prev=""
    while [ $((SECONDS - t0)) -lt 25 ]; do
        a=$(norm_legacy); b=$(norm_ours)
        if [ "$a" = "$b" ] && [ "$a" = "$prev" ]; then
            echo "step $step ($1): equal ($(printf '%s\n' "$a" | grep -c . || true) entries)"
            return 0
        fi
        prev=$a
        [ "$a" = "$b" ] || prev=""
        sleep 1
    done
    echo "step $step ($1): DIFFERENT"
    diff <(echo "$a") <(echo "$b") | sed 's/^/    /' || true
    fails=$((fails + 1))
}

compare "start, every real up"
unserve 127.2.1.1; unserve 127.2.2.1
compare "one real of each virtual down (quiescent yes / no)"
unserve 127.2.2.2
compare "every real of virtual 2 down: fallback"
serve 127.2.1.1; serve 127.2.2.1; serve 127.2.2.2
compare "reals recover, fallback removed"
config "    real=127.2.1.3:8080 masq 5" no >$w/ld.cf
kill -HUP $legacy $ours
compare "reload: a real added (down), virtual 3 removed"
unserve 127.2.3.1
kill -TERM $legacy $ours
wait $legacy $ours 2>/dev/null || true
a=$(norm_legacy); b=$(norm_ours)
if [ "$a" = "$b" ]; then echo "stop: equal (cleanstop, $(printf '%s\n' "$a" | grep -c . || true) entries left)"; else echo "stop: DIFFERENT"; diff <(echo "$a") <(echo "$b") | sed 's/^/    /' || true; fails=$((fails + 1)); fi
for r in "${!srv[@]}"; do unserve "$r"; done
echo "ldirectord 4.12 made $(wc -l <$w/legacy.log) ipvsadm calls"
if [ $fails -gt 0 ]; then
    echo "--- legacy output"; tail -30 $w/legacy.out; echo "--- ours"; tail -30 $w/ours.out
    echo "ldirectord-engine: $fails step(s) differ" >&2
    exit 1
fi
echo "ldirectord-engine: heartbeat-rs and ldirectord 4.12 agree on every step"
