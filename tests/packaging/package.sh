#!/bin/bash
# The Debian package and the init integration (root):
#   a. packaging/build-deb.sh builds the .deb; dpkg installs it into an empty temporary root
#      (dpkg --root, maintainer scripts run chrootless with DPKG_ROOT) over a migrating user's
#      own /etc/ha.d/ha.cf: files, links, conffiles, modes, the haclient group and hacluster
#      user, the /run and /var/lib directories, no service started, the user's ha.cf kept; then
#      a reinstall, remove and purge. The preinst, inside the namespaces of b, stops a running
#      Heartbeat 3.0.6 gracefully (what Debian's package leaves running without systemd).
#   b. the installed /etc/init.d/heartbeat, in network + mount + UTS + PID namespaces with the
#      installed files laid over /usr/sbin, /usr/bin and /etc/init.d: start, status, reload,
#      restart, force-reload, stop and their LSB exit codes, checked against the daemon itself
#      (pid file, process, cl_status hbstatus, control socket group); /etc/init.d/ldirectord's
#      answers without a configuration.
#   c. the systemd units: systemd-analyze verify (when systemd-analyze is there).
# Usage: tests/packaging/package.sh [path/to/heartbeat]   (default: build-deb.sh builds release)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
[ "$(id -u)" = 0 ] || { echo "package: needs root"; exit 1; }

mkdir -p target
work=$(mktemp -d -p "$here/target" package.XXXXXX)
ns=hbrs-pkg-$$
inner_pid=
cleanup() {
    [ -n "$inner_pid" ] && kill -KILL "$inner_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

failures=0
passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

# --- a. build and install into an empty root -------------------------------------------------
echo "== a. build the .deb and install it with dpkg --root"
if [ $# -ge 1 ]; then
    deb=$(packaging/build-deb.sh --binary "$1" --out "$work/deb" | tail -n1)
else
    deb=$(packaging/build-deb.sh --out "$work/deb" | tail -n1)
fi
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
check "the .deb is named heartbeat-rs_${version}_$(dpkg --print-architecture).deb" \
    test "$(basename "$deb")" = "heartbeat-rs_${version}_$(dpkg --print-architecture).deb"
field() { dpkg-deb -f "$deb" "$1"; }
check "control: Provides/Conflicts/Replaces heartbeat, ldirectord" \
    test "$(field Provides)|$(field Conflicts)|$(field Replaces)" = \
    "heartbeat, ldirectord|heartbeat, ldirectord|heartbeat, ldirectord"
check "control: Depends has libc6" grep -q libc6 <<<"$(field Depends)"

root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log" "$root/etc/ha.d"
: >"$root/var/lib/dpkg/status"
: >"$root/var/lib/dpkg/available"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
printf 'root:*::\n' >"$root/etc/gshadow"
chmod 640 "$root/etc/shadow" "$root/etc/gshadow"
# A node migrating from Debian's heartbeat has its own ha.cf (no package owns it).
echo "# the operator's own ha.cf" >"$root/etc/ha.d/ha.cf"
host_passwd=$(md5sum /etc/passwd /etc/group)
host_pid_before=no
[ -e /run/heartbeat.pid ] && host_pid_before=yes
dpkg_root() { dpkg --root="$root" --force-script-chrootless --force-depends --force-confold "$@"; }
dpkg_logged() { dpkg_root "$@" >>"$work/dpkg-i.log" 2>&1; }
if dpkg_root -i "$deb" >"$work/dpkg-i.log" 2>&1; then
    ok "dpkg -i into the empty root"
else
    fail "dpkg -i into the empty root"
    cat "$work/dpkg-i.log"
fi
check "package status is installed" \
    test "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' heartbeat-rs)" = "install ok installed"

for f in usr/sbin/heartbeat etc/init.d/heartbeat etc/init.d/ldirectord lib/systemd/system/heartbeat.service \
    lib/systemd/system/ldirectord.service etc/logrotate.d/heartbeat etc/logrotate.d/ldirectord \
    usr/lib/tmpfiles.d/heartbeat-rs.conf etc/default/ldirectord etc/default/realserver etc/init.d/realserver \
    etc/ha.d/resource.d/realserver etc/ha.d/haresources etc/ha.d/ldirectord.cf \
    etc/ha.d/authkeys usr/share/man/man8/heartbeat.8.gz usr/share/man/man8/heartbeat-run.8.gz \
    usr/share/man/man8/ldirectord.8.gz usr/share/man/man1/cl_status.1.gz usr/share/man/man1/hb_standby.1.gz \
    usr/share/man/man1/hb_takeover.1.gz usr/share/doc/heartbeat-rs/copyright; do
    check "file /$f" test -f "$root/$f"
done
check "directory /etc/ha.d/resource.d" test -d "$root/etc/ha.d/resource.d"
for l in usr/sbin/ldirectord usr/bin/cl_status usr/bin/hb_standby usr/bin/hb_takeover usr/share/heartbeat/hb_standby \
    usr/share/heartbeat/hb_takeover usr/libexec/heartbeat/heartbeat usr/lib/heartbeat/heartbeat \
    etc/ha.d/resource.d/ldirectord; do
    check "link /$l -> /usr/sbin/heartbeat" \
        test "$(realpath -e "$root/$l" 2>/dev/null)" = "$(realpath "$root/usr/sbin/heartbeat")"
done
check "executables are 0755" test "$(stat -c %a "$root/usr/sbin/heartbeat" "$root/etc/init.d/heartbeat")" = $'755\n755'
check "authkeys is 0600" test "$(stat -c %a "$root/etc/ha.d/authkeys")" = 600
conffiles=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' heartbeat-rs | awk 'NF { print $1 }')
for c in /etc/ha.d/ha.cf /etc/ha.d/haresources /etc/ha.d/authkeys /etc/ha.d/ldirectord.cf /etc/init.d/heartbeat \
    /etc/init.d/ldirectord /etc/logrotate.d/heartbeat /etc/logrotate.d/ldirectord /etc/default/ldirectord; do
    check "conffile $c" grep -qx "$c" <<<"$conffiles"
done
check "the operator's ha.cf is kept" grep -q "the operator's own ha.cf" "$root/etc/ha.d/ha.cf"
check "the sample ha.cf is beside it as ha.cf.dpkg-dist" grep -q '^node' "$root/etc/ha.d/ha.cf.dpkg-dist"
gid=$(awk -F: '$1 == "haclient" { print $3 }' "$root/etc/group")
check "postinst: haclient group in the root" test -n "$gid"
check "postinst: hacluster user in the root, group haclient, no login" \
    awk -F: -v g="$gid" '$1 == "hacluster" && $4 == g && $7 == "/bin/false" { f = 1 } END { exit !f }' "$root/etc/passwd"
check "postinst: the host's passwd and group untouched" test "$(md5sum /etc/passwd /etc/group)" = "$host_passwd"
check "postinst: /run/heartbeat-rs 2750 root:haclient" \
    test "$(stat -c '%a %u %g' "$root/run/heartbeat-rs")" = "2750 0 $gid"
check "postinst: /var/lib/heartbeat" test -d "$root/var/lib/heartbeat"
started=no
for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$root/usr/sbin/heartbeat" ] && started=yes
done
check "postinst: no daemon started from the root" test "$started" = no
check "postinst: no pid file in the root" test ! -e "$root/run/heartbeat.pid" -a ! -e "$root/var/run/heartbeat.pid"
[ "$host_pid_before" = no ] && check "postinst: no pid file on the host" test ! -e /run/heartbeat.pid
out=$(HEARTBEAT_RS_CTL="$work/no.sock" "$root/usr/bin/cl_status" hbstatus 2>&1) && rc=0 || rc=$?
check "installed cl_status link answers as cl_status (stopped, rc 1)" \
    test "$rc:$out" = "1:Heartbeat is stopped on this machine."
check "installed heartbeat -V" grep -q '^3\.0\.6 (heartbeat-rs' <<<"$("$root/usr/sbin/heartbeat" -V)"
command -v man >/dev/null || echo "man pages: not rendered (man-db not installed)"
command -v man >/dev/null && for page in "$root"/usr/share/man/man[18]/*.gz; do
    warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || echo "man failed")
    check "man page $(basename "$page") renders without warnings" test -z "$warn"
done
check "heartbeat.8 documents the legacy flags" grep -q 'LEGACY COMMAND LINE' <(zcat "$root/usr/share/man/man8/heartbeat.8.gz")
check "dpkg -i again (reinstall, postinst configure with the old version)" dpkg_logged -i "$deb"
check "still one haclient group after the reinstall" test "$(grep -c '^haclient:' "$root/etc/group")" = 1

# --- c. systemd units ------------------------------------------------------------------------
echo "== c. systemd units"
if command -v systemd-analyze >/dev/null; then
    # The units name /usr/sbin/heartbeat: verify them with the installed binary laid over /usr/sbin.
    verify='mount -t overlay overlay -o lowerdir="$1/usr/sbin:/usr/sbin" /usr/sbin &&
        systemd-analyze verify --man=no "$1/lib/systemd/system/heartbeat.service" "$1/lib/systemd/system/ldirectord.service"'
    if out=$(unshare --mount bash -c "$verify" verify "$root" 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify heartbeat.service ldirectord.service"
    else
        fail "systemd-analyze verify: $out"
    fi
else
    echo "skipped: systemd-analyze not installed"
fi
unit=$root/lib/systemd/system/heartbeat.service
for want in Type=notify NotifyAccess=main 'ExecStart=/usr/sbin/heartbeat -f' 'ExecStop=/usr/sbin/heartbeat -k' \
    TimeoutStopSec=30min SendSIGKILL=no WatchdogSec= ExecReload=; do
    check "heartbeat.service has $want" grep -q "^$want" "$unit"
done

# --- b. the init script in namespaces ----------------------------------------------------------
echo "== b. /etc/init.d/heartbeat in namespaces"
conf=$work/ha.d
mkdir -p "$conf" "$work/empty"
cat >"$conf/ha.cf" <<'CF'
logfile /var/log/ha-log
keepalive 200ms
warntime 1
deadtime 2
initdead 4
udpport 694
bcast d0
node pkgtest
auto_failback off
crm off
CF
printf 'auth 1\n1 sha1 package-test-key\n' >"$conf/authkeys"
chmod 600 "$conf/authkeys"
: >"$conf/haresources"
# For the preinst check: Heartbeat 3.0.6's state directory layout (as its package makes it) and
# a configuration of its own, logging to its own file.
real=no
if [ -x /usr/libexec/heartbeat/heartbeat ] && [ -d /var/lib/heartbeat ]; then
    real=yes
    mkdir -p "$work/varlib" "$work/ha.d-real"
    (cd /var/lib/heartbeat && find . -type d) | while read -r d; do
        mkdir -p "$work/varlib/$d"
        chown --reference="/var/lib/heartbeat/$d" "$work/varlib/$d"
        chmod --reference="/var/lib/heartbeat/$d" "$work/varlib/$d"
    done
    # Two nodes, the peer absent: 3.0.6 settles after initdead (peer dead, acquisition complete).
    sed -e 's|^logfile .*|logfile /var/log/ha-log-real|' -e 's|^node .*|node pkgtest peer|' "$conf/ha.cf" >"$work/ha.d-real/ha.cf"
    cp -a "$conf/authkeys" "$conf/haresources" "$work/ha.d-real/"
    for f in harc shellfuncs rc.d resource.d; do
        if [ -e "/etc/ha.d/$f" ]; then cp -a "/etc/ha.d/$f" "$work/ha.d-real/"; fi
    done
fi
ip netns add "$ns"
# A veth pair (no dummy driver on every kernel); the daemon needs a broadcast address.
ip -n "$ns" link add d0 type veth peer name d1
ip -n "$ns" addr add 10.79.0.1/24 brd + dev d0
for l in lo d0 d1; do ip -n "$ns" link set "$l" up; done

inner='
set -u
W=$1 R=$2 REAL=$3
hostname pkgtest
mount -t tmpfs none /run && mkdir -p /run/lock
mount -t tmpfs -o mode=0755 none /var/log
if [ "$REAL" = yes ]; then mount --bind "$W/varlib" /var/lib/heartbeat; else mount -t tmpfs none /var/lib/heartbeat; fi
mount -t tmpfs none /etc/default
mount --bind "$W/ha.d" /etc/ha.d
mount --bind "$R/etc/init.d" /etc/init.d
mount -t overlay overlay -o lowerdir="$R/usr/sbin:/usr/sbin" /usr/sbin
mount -t overlay overlay -o lowerdir="$R/usr/bin:/usr/bin" /usr/bin
# /etc/default/heartbeat is read: no pause between stop and start in restart.
echo RESTART_WAIT=0 >/etc/default/heartbeat

n=0 bad=0
check() { local what=$1; shift; if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; bad=$((bad + 1)); fi; n=$((n + 1)); }
run() { out=$("$@" 2>&1); rc=$?; }
alive() { [ -e "/proc/$1" ] && ! grep -q "^[0-9]* ([^)]*) Z" "/proc/$1/stat" 2>/dev/null; }
dead() { ! alive "$1"; }
hbstatus() { cl_status hbstatus 2>/dev/null; }
pidof_daemon() { cat /run/heartbeat.pid 2>/dev/null; }

# preinst, replacing Debian heartbeat on a host without systemd: Heartbeat 3.0.6 still runs
# (that package'"'"'s prerm leaves it); the preinst stops it gracefully and waits for its exit.
if [ "$REAL" = yes ]; then
    mount --bind "$W/ha.d-real" /etc/ha.d
    for w in /dev/watchdog*; do [ -e "$w" ] && mount --bind /dev/null "$w"; done
    mkdir -p /run/heartbeat/ccm /run/heartbeat/crm
    chown -R hacluster:haclient /run/heartbeat
    /usr/libexec/heartbeat/heartbeat >/run/real.out 2>&1 </dev/null
    old=
    for _ in $(seq 300); do
        old=$(tr -dc 0-9 </run/heartbeat.pid 2>/dev/null)
        [ -n "$old" ] && tr "\0" " " <"/proc/$old/cmdline" 2>/dev/null | grep -q "master control process" && break
        old=
        sleep 0.1
    done
    check "Heartbeat 3.0.6 running before the install" test -n "$old"
    [ -n "$old" ] || { cat /run/real.out; tail -n 20 /var/log/ha-log-real; }
    # A SIGTERM during 3.0.6'"'"'s start-up resource activity is put off until that is over: let it
    # settle first (a lone node: initdead, then its acquisition).
    for _ in $(seq 300); do grep -q "acquisition complete" /var/log/ha-log-real && break; sleep 0.1; done
    run timeout 120 env DPKG_ROOT= sh "$R/var/lib/dpkg/info/heartbeat-rs.preinst" install
    check "preinst install: rc 0 ($out)" test "$rc" = 0
    check "preinst: says it stops Heartbeat 3.0.6" grep -q "Stopping Heartbeat 3.0.6" <<<"$out"
    check "preinst: Heartbeat 3.0.6 has exited when it returns" dead "${old:-0}"
    check "preinst: 3.0.6 shut down gracefully (its log)" grep -q "shutdown complete" /var/log/ha-log-real
    run timeout 60 env DPKG_ROOT= sh "$R/var/lib/dpkg/info/heartbeat-rs.preinst" install
    check "preinst with nothing running: rc 0, quiet ($rc: $out)" test "$rc:$out" = "0:"
    rm -f /run/heartbeat.pid
    umount /etc/ha.d
fi

run /etc/init.d/heartbeat status
check "status before start: rc 3 (not running)" test "$rc" = 3
check "status says stopped" grep -q "stopped" <<<"$out"
run /etc/init.d/heartbeat stop
check "stop when stopped: rc 0" test "$rc" = 0
run /etc/init.d/heartbeat reload
check "reload when stopped: rc 7" test "$rc" = 7

run timeout 60 /etc/init.d/heartbeat start
check "start: rc 0 ($out)" test "$rc" = 0
pid=$(pidof_daemon)
check "start: pid file written" test -n "$pid"
check "start: daemon alive" alive "${pid:-0}"
check "start: the daemon is the installed binary" test "$(readlink "/proc/${pid:-0}/exe")" = /usr/sbin/heartbeat
check "start: cl_status hbstatus says running" test "$(hbstatus)" = "Heartbeat is running on this machine."
getent group haclient >/dev/null && check "start: control socket group haclient" test "$(stat -c %G /run/heartbeat-rs/cl_status.sock 2>/dev/null)" = haclient
check "start: lock file" test -e /var/lock/subsys/heartbeat
run /etc/init.d/heartbeat status
check "status while running: rc 0" test "$rc" = 0
check "status: 3.0.6 text" test "$out" = "heartbeat OK [pid $pid et al] is running on pkgtest [pkgtest]..."
run timeout 60 /etc/init.d/heartbeat start
check "start when running: rc 0, same daemon" test "$rc:$(pidof_daemon)" = "0:$pid"

run timeout 30 /etc/init.d/heartbeat reload
check "reload: rc 0" test "$rc" = 0
reloaded=no
for _ in $(seq 100); do grep -q "configuration reloaded" /var/log/ha-log 2>/dev/null && { reloaded=yes; break; }; sleep 0.1; done
check "reload: the daemon reloaded (ha-log), same pid" test "$reloaded:$(pidof_daemon)" = "yes:$pid"
run timeout 30 /etc/init.d/heartbeat force-reload
check "force-reload while running: rc 0, same pid" test "$rc:$(pidof_daemon)" = "0:$pid"

# logrotate as installed (copytruncate): the running daemon keeps writing into the rotated name.
if command -v logrotate >/dev/null; then
    run logrotate -f -s /run/logrotate.state "$R/etc/logrotate.d/heartbeat"
    check "logrotate -f of ha-log: rc 0 ($out)" test "$rc" = 0
    check "logrotate: ha-log.1 kept the old lines" grep -q "Configuration validated" /var/log/ha-log.1
    kill -HUP "$pid"
    rotated=no
    for _ in $(seq 100); do grep -q "configuration reloaded" /var/log/ha-log 2>/dev/null && { rotated=yes; break; }; sleep 0.1; done
    check "logrotate: the daemon writes on into the new ha-log" test "$rotated" = yes
    check "logrotate: the new ha-log has only new lines" bash -c "! grep -q \"Configuration validated\" /var/log/ha-log"
    check "logrotate: ha-log starts afresh (no hole of NUL bytes)" test "$(head -c 1 /var/log/ha-log | od -An -c | tr -d " ")" != "\\0"
fi

run timeout 120 /etc/init.d/heartbeat restart
new=$(pidof_daemon)
check "restart: rc 0, a new daemon" test "$rc" = 0 -a -n "$new" -a "$new" != "$pid"
check "restart: the old daemon is gone" dead "$pid"
pid=$new

run timeout 120 /etc/init.d/heartbeat stop
check "stop: rc 0" test "$rc" = 0
check "stop: daemon gone when stop returns" dead "$pid"
check "stop: pid file removed" test ! -e /run/heartbeat.pid
check "stop: lock file removed" test ! -e /var/lock/subsys/heartbeat
check "stop: cl_status hbstatus says stopped" test "$(hbstatus)" = "Heartbeat is stopped on this machine."
check "the daemon logged to ha.cf'"'"'s logfile" grep -q "Configuration validated" /var/log/ha-log
run /etc/init.d/heartbeat status
check "status after stop: rc 3" test "$rc" = 3

echo 99999 >/run/heartbeat.pid
run /etc/init.d/heartbeat status
check "status with a stale pid file: rc 1" test "$rc" = 1
rm -f /run/heartbeat.pid

run timeout 60 /etc/init.d/heartbeat force-reload
check "force-reload when stopped starts: rc 0" test "$rc" = 0 -a -n "$(pidof_daemon)"
run timeout 120 /etc/init.d/heartbeat stop
check "stop again: rc 0" test "$rc" = 0 -a ! -e /run/heartbeat.pid

# What heartbeat.service relies on (Type=notify, WatchdogSec): heartbeat -f says READY=1 and then
# WATCHDOG=1 every WATCHDOG_USEC/2 on $NOTIFY_SOCKET, as systemd would see it. Checked once the
# binary has sd_notify support.
if grep -aq "WATCHDOG=1" /usr/sbin/heartbeat && command -v python3 >/dev/null; then
    python3 -c "
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(\"/run/notify.sock\")
s.settimeout(1)
end = time.time() + 30
with open(\"/run/notify.log\", \"a\") as f:
    while time.time() < end:
        try:
            f.write(s.recv(4096).decode(errors=\"replace\") + \"\\n\"); f.flush()
        except socket.timeout:
            pass
" &
    listener=$!
    for _ in $(seq 50); do [ -S /run/notify.sock ] && break; sleep 0.1; done
    NOTIFY_SOCKET=/run/notify.sock WATCHDOG_USEC=400000 /usr/sbin/heartbeat -f >/run/fg.log 2>&1 &
    fg=$!
    got=no
    for _ in $(seq 150); do grep -q "^READY=1" /run/notify.log 2>/dev/null && { got=yes; break; }; sleep 0.1; done
    check "heartbeat -f: READY=1 on NOTIFY_SOCKET" test "$got" = yes
    sleep 1
    check "heartbeat -f: WATCHDOG=1 every WATCHDOG_USEC/2" test "$(grep -c "^WATCHDOG=1" /run/notify.log)" -ge 3
    run timeout 60 /usr/sbin/heartbeat -k
    check "heartbeat -k stops the foreground daemon (ExecStop)" test "$rc" = 0 && dead "$fg"
    wait "$fg" 2>/dev/null
    kill "$listener" 2>/dev/null
    wait "$listener" 2>/dev/null
else
    echo "skipped: this binary has no sd_notify support yet"
fi

hostname othernode
run timeout 60 /etc/init.d/heartbeat start
check "start on a node not in ha.cf: rc 6 (not configured)" test "$rc" = 6
check "start on a node not in ha.cf: no daemon" test ! -s /run/heartbeat.pid
hostname pkgtest
mount --bind "$W/empty" /etc/ha.d
run /etc/init.d/heartbeat start
check "start without ha.cf: rc 6" test "$rc" = 6
umount /etc/ha.d
run /etc/init.d/heartbeat bogus
check "unknown command: rc 2" test "$rc" = 2

run /etc/init.d/ldirectord status
check "ldirectord status without a configuration: rc 3" test "$rc" = 3
run /etc/init.d/ldirectord start
check "ldirectord start without a configuration: rc 0, nothing done" test "$rc" = 0
run /etc/init.d/ldirectord bogus
check "ldirectord unknown command: rc 2" test "$rc" = 2
if [ "$bad" != 0 ]; then echo "--- ha-log:"; tail -n 30 /var/log/ha-log; fi
echo "inner: $((n - bad)) passed, $bad failed"
[ "$bad" = 0 ]
'
# --kill-child: killing unshare kills the namespace's init, and with it every process inside.
timeout 600 ip netns exec "$ns" unshare --mount --uts --pid --fork --kill-child --mount-proc \
    bash -c "$inner" inner "$work" "$root" "$real" >"$work/inner.log" 2>&1 &
inner_pid=$!
wait "$inner_pid" && rc=0 || rc=$?
inner_pid=
grep -E '^(ok|FAIL):' "$work/inner.log" || true
p=$(grep -c '^ok:' "$work/inner.log" || true)
f=$(grep -c '^FAIL:' "$work/inner.log" || true)
passed=$((passed + p))
failures=$((failures + f))
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    fail "the namespace run exited $rc"
    tail -n 30 "$work/inner.log"
fi
if [ "$f" != 0 ]; then
    echo "--- the rest of the namespace run's output:"
    grep -v -E '^(ok|FAIL):' "$work/inner.log" | tail -n 40
fi

# --- a (cont.): remove and purge ---------------------------------------------------------------
echo "== a. remove and purge"
printf 'sysctl net.ipv4.conf.all.arp_ignore 0\nvip 10.0.0.100 lo\n' >"$root/run/heartbeat-rs/realserver.state"
: >"$root/run/heartbeat-rs/other"
check "dpkg -r" dpkg_logged -r heartbeat-rs
check "remove: realserver.state stays (VIPs up), the rest of /run/heartbeat-rs goes" \
    test -f "$root/run/heartbeat-rs/realserver.state" -a ! -e "$root/run/heartbeat-rs/other"
check "remove: the binary is gone" test ! -e "$root/usr/sbin/heartbeat" -a ! -L "$root/usr/bin/cl_status"
check "remove: conffiles stay" test -f "$root/etc/ha.d/authkeys" -a -f "$root/etc/init.d/heartbeat"
check "remove: state is config-files" \
    test "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' heartbeat-rs)" = "deinstall ok config-files"
check "dpkg -P" dpkg_logged -P heartbeat-rs
check "purge: conffiles gone" test ! -e "$root/etc/ha.d/authkeys" -a ! -e "$root/etc/init.d/heartbeat"
check "purge: the haclient group stays (files may belong to it)" grep -q '^haclient:' "$root/etc/group"

echo "package: $passed passed, $failures failed"
[ "$failures" = 0 ]
