#!/bin/sh
# Runs in the VM tier (tests/vm/run.sh tests/vm/ldirectord.sh target/debug/heartbeat): the
# director programs the real kernel's IPVS; ipvsadm -Ln is the witness. Two HTTP reals
# (busybox httpd on loopback addresses): both up at their weights, one killed → weight 0
# (quiescent=yes), restarted → restored, stop → the service is gone (cleanstop).
set -eu
hb=/test/heartbeat
fail() { echo "FAIL: $*"; ipvsadm -Ln; cat /tmp/ld.err 2>/dev/null | tail -20; exit 1; }
wait_for() { # $1: what, $2: grep pattern in ipvsadm -Ln
    i=0
    while [ $i -lt 150 ]; do
        ipvsadm -Ln | grep -q -- "$2" && return 0
        sleep 0.1; i=$((i + 1))
    done
    fail "timed out waiting for $1"
}
mkdir -p /tmp/www && echo OK >/tmp/www/health
httpd -f -p 127.2.1.1:8080 -h /tmp/www & r1=$!
httpd -f -p 127.2.1.2:8080 -h /tmp/www & r2=$!
cat >/tmp/ld.cf <<'CF'
checkinterval=1
negotiatetimeout=2
quiescent=yes
virtual=10.9.0.1:80
    real=127.2.1.1:8080 masq 2
    real=127.2.1.2:8080 masq 3
    service=http
    request="health"
    receive="OK"
CF
$hb ldirectord -d /tmp/ld.cf start 2>/tmp/ld.err & ld=$!
wait_for "real 1 at weight 2" "127.2.1.1:8080 *[A-Za-z]* *2 "
wait_for "real 2 at weight 3" "127.2.1.2:8080 *[A-Za-z]* *3 "
kill $r1
wait_for "real 1 quiesced" "127.2.1.1:8080 *[A-Za-z]* *0 "
ipvsadm -Ln | grep -q "127.2.1.2:8080 *[A-Za-z]* *3 " || fail "real 2 changed"
httpd -f -p 127.2.1.1:8080 -h /tmp/www & r1=$!
wait_for "real 1 restored" "127.2.1.1:8080 *[A-Za-z]* *2 "
kill $ld
i=0
while ipvsadm -Ln | grep -q "10.9.0.1:80"; do
    i=$((i + 1)); [ $i -lt 50 ] || fail "service still there after stop"; sleep 0.1
done
kill $r1 $r2 2>/dev/null || true
grep -q "Quiescent real server: 127.2.1.1:8080" /tmp/ld.err || fail "no quiesce log line"
echo "ldirectord-vm: all checks passed"
