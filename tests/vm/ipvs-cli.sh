#!/bin/sh
# Runs in the VM tier (tests/vm/run.sh tests/vm/ipvs-cli.sh target/debug/heartbeat): the
# `heartbeat ipvs` commands end to end on the real kernel, with the real ipvsadm as witness.
set -eu
hb=/test/heartbeat
fail() { echo "FAIL: $*"; exit 1; }

cat >/tmp/want.save <<'SAVE'
-A -t 10.9.0.1:80 -s wrr
-a -t 10.9.0.1:80 -r 10.9.1.1:80 -g -w 2
-a -t 10.9.0.1:80 -r 10.9.1.2:8080 -m -w 1
-A -u 10.9.0.1:53 -s rr -o
-a -u 10.9.0.1:53 -r 10.9.1.3:53 -g -w 1
-A -f 7 -s sh -p 300 -b sh-port
-a -f 7 -r 10.9.1.4:0 -g -w 5
SAVE
# An operator's own service, which apply must leave alone.
ipvsadm -A -t 10.9.0.99:22 -s rr
ipvsadm -a -t 10.9.0.99:22 -r 10.9.1.99:22 -m -w 1

$hb ipvs apply --owned-file /tmp/owned /tmp/want.save
out=$($hb ipvs apply --owned-file /tmp/owned /tmp/want.save)
echo "$out" | grep -q "nothing to change" || fail "second apply changed something: $out"

# The kernel now holds exactly the file plus the operator's service.
{ cat /tmp/want.save; echo "-A -t 10.9.0.99:22 -s rr"; echo "-a -t 10.9.0.99:22 -r 10.9.1.99:22 -m -w 1"; } >/tmp/expected
ipvsadm -Sn | sort >/tmp/got.sorted
sort /tmp/expected >/tmp/expected.sorted
cmp -s /tmp/got.sorted /tmp/expected.sorted || { diff /tmp/expected.sorted /tmp/got.sorted; fail "table differs from the file"; }

# Our listings equal ipvsadm's, byte for byte.
for flags in "-Ln" "-Ln --stats" "-Ln --rate" "-Ln --thresholds"; do
    # shellcheck disable=SC2086
    ipvsadm $flags >/tmp/theirs
    case "$flags" in
    "-Ln") $hb ipvs list -n >/tmp/ours ;;
    *) $hb ipvs list -n ${flags#-Ln } >/tmp/ours ;;
    esac
    cmp -s /tmp/theirs /tmp/ours || { diff /tmp/theirs /tmp/ours; fail "ipvsadm $flags differs"; }
done
ipvsadm -Sn >/tmp/theirs
$hb ipvs save -n >/tmp/ours
cmp -s /tmp/theirs /tmp/ours || { diff /tmp/theirs /tmp/ours; fail "ipvsadm -Sn differs"; }

# A changed file: one weight edit, one destination and one service gone; the operator's stays.
grep -v "10.9.1.2:8080\|-u 10.9.0.1:53" /tmp/want.save | sed 's/-w 2/-w 0/' >/tmp/want2.save
$hb ipvs apply --owned-file /tmp/owned --dry-run /tmp/want2.save >/tmp/plan
cat /tmp/plan
[ "$(wc -l </tmp/plan)" -eq 3 ] || fail "expected 3 changes (1 edit, 2 deletions)"
$hb ipvs apply --owned-file /tmp/owned /tmp/want2.save
ipvsadm -Ln | grep -q "10.9.0.99:22" || fail "the operator's service was touched"
ipvsadm -Ln | grep -q "10.9.0.1:53" && fail "a removed service is still there"

# Refused before anything is sent: a bad line names itself and nothing changes.
before=$(ipvsadm -Sn)
printf -- '-A -t 10.9.0.5:80 -s wrr\n-a -t 10.9.0.5:80 -r 300.1.1.1:80 -g\n' >/tmp/bad.save
if $hb ipvs apply --owned-file /tmp/owned /tmp/bad.save 2>/tmp/err; then fail "a bad file was applied"; fi
grep -q "bad.save:2:" /tmp/err || fail "no line number in: $(cat /tmp/err)"
[ "$before" = "$(ipvsadm -Sn)" ] || fail "a refused file changed the table"
echo "ipvs-cli: all checks passed"
