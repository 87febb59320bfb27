#!/bin/bash
# Re-records tests/data/heartbeat-diff/{ha.cf,authkeys}/EXPECTED.tsv from the real Heartbeat 3.0.6
# (the truth that tests/heartbeat_differential.rs compares heartbeat-rs against).
#
# Needs: root (unshare, mounts), the Debian `heartbeat` package (3.0.6; daemon
# /usr/libexec/heartbeat/heartbeat), iproute2.
# Usage: tests/differential/record-heartbeat.sh [DATA_DIR]   (default: tests/data/heartbeat-diff)
#
# Every file is judged by `heartbeat -f` in its own throwaway namespace
# (`unshare --net --mount --uts --pid --fork --mount-proc`) with a FIXED environment, so the
# verdict does not depend on the host:
#   - hostname `nodea`; no /etc/ha.d/nodeinfo;
#   - interfaces: lo up, eth0 = 10.9.0.1/24 brd 10.9.0.255, eth1 = 10.9.1.1/24 brd 10.9.1.255
#     (veth pairs, peers veth0p/veth1p), nothing else (no route, no DNS server);
#   - /etc/hosts: localhost, nodea 10.9.0.1, nodeb 10.9.0.2, nodec 10.9.1.2, pinghost 10.9.0.254,
#     pinghost2 10.9.0.253; /etc/nsswitch.conf `files` only (no myhostname, no DNS at all);
#   - /etc/ha.d = a fresh directory holding the package's harc, shellfuncs, rc.d and resource.d,
#     `haresources` = "nodea 10.9.0.100", `stonith-null.cfg` = "nodea nodeb" (for the null
#     STONITH plugin), and
#       * for ha.cf/*.cf: the file as ha.cf + the standard authkeys ("auth 1" / "1 sha1 KEY",
#         mode 0600);
#       * for authkeys/*.authkeys: the file as authkeys (always chmod 0600: a copy's mode says
#         nothing about the node) + the standard ha.cf (env/ha.cf below);
#   - tmpfs over /run, /var/lib/heartbeat, /var/log and /tmp; every /dev/watchdog* is covered by
#     /dev/null (a watchdog must never be armed by a test).
# The users the files name (root, hacluster, group haclient) come with the package.
#
# Verdict: `valid` when the daemon logs "Configuration validated. Starting heartbeat 3.0.6"
# (it is then killed); `invalid` when it exits before that (exit 6 = configuration error; any
# other exit status or a crash is noted). Anything else (no verdict within 30 s) stops the
# recording: look at that file. Heartbeat prints no line numbers, so only the verdict is kept;
# the note holds the log lines that explain it (timestamps, host and pid removed; routine lines
# dropped).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${1:-$here/../data/heartbeat-diff}" && pwd)
hb=${HEARTBEAT:-/usr/libexec/heartbeat/heartbeat}

[ "$(id -u)" = 0 ] || { echo "record-heartbeat.sh: must run as root (unshare)" >&2; exit 1; }
[ -x "$hb" ] || { echo "record-heartbeat.sh: $hb not found (apt-get install heartbeat)" >&2; exit 1; }
getent passwd hacluster >/dev/null && getent group haclient >/dev/null ||
    { echo "record-heartbeat.sh: user hacluster / group haclient missing (they come with the heartbeat package)" >&2; exit 1; }
case "$dir" in /var/log* | /run* | /tmp* | /var/lib/heartbeat*)
    echo "record-heartbeat.sh: $dir is hidden by the namespace's tmpfs" >&2; exit 1 ;;
esac
version=$(dpkg-query -W -f '${Version}' heartbeat 2>/dev/null || echo unknown)
case "$version" in *3.0.6*) ;; *) echo "record-heartbeat.sh: warning: heartbeat $version is not 3.0.6" >&2 ;; esac

work=$(mktemp -d /var/tmp/record-heartbeat.XXXXXX)
trap 'rm -rf "$work"' EXIT
env=$work/env
mkdir -p "$env/ha.d"

# ---- the fixed environment -------------------------------------------------------------------
cat >"$env/hosts" <<'EOF'
127.0.0.1	localhost
10.9.0.1	nodea
10.9.0.2	nodeb
10.9.1.2	nodec
10.9.0.254	pinghost
10.9.0.253	pinghost2
EOF
cat >"$env/nsswitch.conf" <<'EOF'
passwd:         files
group:          files
shadow:         files
hosts:          files
networks:       files
protocols:      files
services:       files
EOF
for f in harc shellfuncs rc.d resource.d; do
    [ -e "/etc/ha.d/$f" ] && cp -a "/etc/ha.d/$f" "$env/ha.d/"
done
printf 'nodea 10.9.0.100\n' >"$env/ha.d/haresources"
printf 'nodea nodeb\n' >"$env/ha.d/stonith-null.cfg"
# The standard files: each kind is judged next to a known-good copy of the other.
printf 'auth 1\n1 sha1 differential-test-key\n' >"$env/authkeys"
cat >"$env/ha.cf" <<'EOF'
logfacility local0
keepalive 1
deadtime 10
bcast eth0
node nodea nodeb
auto_failback on
EOF

# Runs inside the namespaces: $1 = case directory (becomes /etc/ha.d), $2 = daemon, $3 = env dir.
inner='
set -u
D=$1 HB=$2 E=$3
ip link set lo up
n=0
for i in eth0 eth1; do
    ip link add $i type veth peer name veth${n}p && ip link set veth${n}p up &&
        ip addr add 10.9.$n.1/24 brd + dev $i && ip link set $i up || { echo "verdict=setup-failed"; exit 0; }
    n=$((n + 1))
done
hostname nodea
mount --bind "$D" /etc/ha.d &&
    mount --bind "$E/hosts" /etc/hosts &&
    mount --bind "$E/nsswitch.conf" /etc/nsswitch.conf &&
    mount -t tmpfs none /run &&
    mount -t tmpfs none /var/lib/heartbeat &&
    mount -t tmpfs none /var/log &&
    mount -t tmpfs none /tmp || { echo "verdict=setup-failed"; exit 0; }
for w in /dev/watchdog*; do
    [ -e "$w" ] && { mount --bind /dev/null "$w" || { echo "verdict=setup-failed"; exit 0; }; }
done
mkdir -p /run/lock /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd
chown -R hacluster:haclient /run/heartbeat
mkdir -p /var/lib/heartbeat/cores/root /var/lib/heartbeat/cores/hacluster /var/lib/heartbeat/cores/nobody
chown hacluster /var/lib/heartbeat/cores/hacluster
"$HB" -f >/run/hb.out 2>&1 </dev/null &
pid=$!
verdict=timeout
i=0
while [ $i -lt 300 ]; do
    if grep -qs "Configuration validated" /run/hb.out; then verdict=valid; break; fi
    if ! kill -0 $pid 2>/dev/null; then
        wait $pid; rc=$?
        if grep -qs "Configuration validated" /run/hb.out; then verdict=valid; else verdict=exit:$rc; fi
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
kill -KILL $pid 2>/dev/null && wait $pid 2>/dev/null
echo "verdict=$verdict"
cat /run/hb.out
'

# The note: log lines up to "Configuration validated", without the "Mon DD HH:MM:SS nodea
# heartbeat: [PID]: " prefix; bare stderr messages printed without a newline are split off;
# routine lines dropped, long lines shortened. For a valid file only WARN/ERROR lines and bare
# stderr messages are kept.
note_of() {
    local verdict=$1
    sed -E 's/([^\n])([A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} nodea heartbeat: \[)/\1\n\2/g' |
        sed -E 's/^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} nodea heartbeat: \[[0-9]+\]: //' |
        sed '/Configuration validated/,$d' |
        grep -v -e 'Core dumps could be lost' -e 'core_pattern' -e 'core_uses_pid' \
            -e 'Pacemaker support: \(false\|off\|no\|0\|n\)$' -e '^info: \*\*\*\*' \
            -e "Deprecated 'legacy' auto_failback" -e "convert to 'auto_failback on'" -e 'See documentation for conversion' \
            -e 'Heartbeat not started: configuration error' -e 'Configuration error, heartbeat not started' \
            -e 'ERROR: Authentication configuration error\.$' \
            -e 'Initializing connection to logging daemon failed' -e '^info: Enabling logging daemon' \
            -e '^info: logfile and debug file are those' -e 'Logging daemon is disabled' \
            -e 'udpport setting must precede media statements$' -e 'baudrate setting must precede media statements$' \
            -e '^debug: ' -e '^info: Syntax: apiauth' -e '^info: Where uidlist' -e '^info: and gidlist' \
            -e '^info: One or the other' -e '^info: By default, cluster nodes are named' -e '^info: See also: http' \
            -e '^info: Initial dead time accounts' -e '^info: It should be >= deadtime' |
        if [ "$verdict" = valid ]; then grep -E '^(WARN|ERROR|CRIT|heartbeat): ' || true; else cat; fi |
        grep -v '^[[:space:]]*$' | tr '\t\r' '  ' | sed 's/\x0b/\\v/g; s/\x0c/\\f/g; s/[[:cntrl:]]/?/g; s/  */ /g; s/ *$//' |
        sed -E 's/^(.{160}).{20,}(.{20})$/\1...\2/' | paste -sd '|' - | sed 's/|/ | /g' || true
}

# One file: prints "file<TAB>verdict<TAB>note".
record_one() {
    local kind=$1 f=$2 name case_dir out verdict log note
    name=$(basename "$f")
    case_dir=$(mktemp -d "$work/case.XXXXXX")
    cp -a "$env/ha.d/." "$case_dir/"
    if [ "$kind" = ha.cf ]; then
        cp "$f" "$case_dir/ha.cf"
        cp "$env/authkeys" "$case_dir/authkeys"
    else
        cp "$env/ha.cf" "$case_dir/ha.cf"
        cp "$f" "$case_dir/authkeys"
    fi
    chmod 600 "$case_dir/authkeys"
    out=$(timeout -s KILL 60 unshare --net --mount --uts --pid --fork --mount-proc \
        bash -c "$inner" inner "$case_dir" "$hb" "$env" 2>"$case_dir.err") || true
    verdict=$(printf '%s\n' "$out" | sed -n '1s/^verdict=//p')
    case "$verdict" in valid | exit:*) ;; *) cat "$case_dir.err" >&2 ;; esac
    rm -rf "$case_dir" "$case_dir.err"
    log=$(printf '%s\n' "$out" | sed '1d')
    case "$verdict" in
    valid)
        note=$(printf '%s\n' "$log" | note_of valid)
        printf '%s\tvalid\t%s\n' "$name" "$note"
        ;;
    exit:*)
        note=$(printf '%s\n' "$log" | note_of invalid)
        local rc=${verdict#exit:}
        if [ "$rc" -ge 128 ]; then
            note="crashed: killed by signal $((rc - 128)) before validating${note:+ | $note}"
        elif [ "$rc" != 6 ]; then
            note="exit $rc${note:+ | $note}"
        fi
        [ -n "$note" ] || note="(no specific message)"
        printf '%s\tinvalid\t%s\n' "$name" "$note"
        ;;
    *)
        echo "record-heartbeat.sh: $kind/$name: no verdict (${verdict:-no output}):" >&2
        printf '%s\n' "$log" | tail -n 20 >&2
        return 1
        ;;
    esac
}
export -f record_one note_of
export work env hb inner

for kind in ha.cf authkeys; do
    ext=$([ "$kind" = ha.cf ] && echo cf || echo authkeys)
    kdir=$dir/$kind
    tmp=$work/$kind.tsv
    printf 'file\tverdict\tnote\n' >"$tmp"
    find "$kdir" -maxdepth 1 -type f -name "*.$ext" -print0 | sort -z |
        xargs -0 -r -P "$(nproc)" -n 1 bash -c 'record_one "$0" "$1"' "$kind" | LC_ALL=C sort >>"$tmp"
    n=$(($(wc -l <"$tmp") - 1))
    total=$(find "$kdir" -maxdepth 1 -type f -name "*.$ext" | wc -l)
    [ "$n" = "$total" ] || { echo "record-heartbeat.sh: $kind: recorded $n of $total files" >&2; exit 1; }
    cp "$tmp" "$kdir/EXPECTED.tsv"
    echo "recorded $n $kind files with heartbeat $version into $kdir/EXPECTED.tsv"
done
