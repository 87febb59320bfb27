#!/bin/bash
# Self-test of the VM tier: boots the VM, programs IPVS with the real ipvsadm and checks
# the listing on the host. Prints the wall time of the run.
#
#   selftest.sh          the IPVS listing check (one boot)
#   selftest.sh --full   also: a failing program gives its exit code, a hang is cut (124)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
full=no
case ${1:-} in
--full) full=yes ;;
"") ;;
*) echo "usage: selftest.sh [--full]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hbrs-vm-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "selftest: FAIL: $*" >&2
    exit 1
}

# Wall time of the last `timed` call, in seconds (bash's EPOCHREALTIME).
wall=
timed() {
    local t0=$EPOCHREALTIME rc=0
    "$@" || rc=$?
    wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    return "$rc"
}

# ---- 1. IPVS through the real ipvsadm ------------------------------------------------
cat >"$tmp/ipvs-selftest" <<'SCRIPT'
#!/bin/sh
set -e
[ "$HBRS_IN_VM" = 1 ]
ipvsadm -A -t 10.0.0.1:80 -s wrr
ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 3
ipvsadm -Ln
SCRIPT
rc=0
timed "$here/run.sh" --timeout 120 "$tmp/ipvs-selftest" >"$tmp/out" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/out" >&2; fail "ipvs run exited $rc"; }
grep -Eq '^TCP  10\.0\.0\.1:80 wrr *$' "$tmp/out" || { cat "$tmp/out" >&2; fail "service missing"; }
grep -Eq '^  -> 10\.0\.0\.2:80 +Route +3 +0 +0 *$' "$tmp/out" ||
    { cat "$tmp/out" >&2; fail "real server missing"; }
echo "selftest: ipvsadm listing ok (wall ${wall} s)"

[ "$full" = yes ] || exit 0

# ---- 2. a failing program's exit code comes back -----------------------------------
printf '#!/bin/sh\necho failing on purpose\nexit 3\n' >"$tmp/fails"
rc=0
timed "$here/run.sh" --timeout 120 "$tmp/fails" >"$tmp/out" || rc=$?
[ "$rc" = 3 ] || fail "failing program: run.sh exited $rc, expected 3"
grep -qx 'failing on purpose' "$tmp/out" || fail "failing program: output lost"
echo "selftest: failing program gives exit 3 (wall ${wall} s)"

# ---- 3. a hang is cut by the timeout -------------------------------------------------
printf '#!/bin/sh\necho hanging on purpose\nsleep 100000\n' >"$tmp/hangs"
rc=0
timed "$here/run.sh" --timeout 20 "$tmp/hangs" >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 124 ] || fail "hanging program: run.sh exited $rc, expected 124"
grep -qx 'hanging on purpose' "$tmp/out" || fail "hanging program: output lost"
echo "selftest: hang cut by --timeout 20 with exit 124 (wall ${wall} s)"
