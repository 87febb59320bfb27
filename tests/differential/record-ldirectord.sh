#!/bin/bash
# Re-records tests/data/ldirectord-diff/EXPECTED.tsv from the real ldirectord (the truth that
# tests/ldirectord_differential.rs compares heartbeat-rs against).
#
# Needs: root (unshare), the Debian `ldirectord` package (4.12; /usr/sbin/ldirectord).
# Usage: tests/differential/record-ldirectord.sh [DATA_DIR]   (default: tests/data/ldirectord-diff)
#
# Every .cf file is read by `ldirectord ABSFILE status` in its own throwaway namespace:
#   unshare --net --mount --fork, tmpfs over /var/log and /run, /var/log/ldirectord created,
#   only loopback up (so no DNS: host names other than those in /etc/hosts do not resolve).
# Exit 2 with "Error [PID] reading file F at line N: MSG" = invalid at line N; exit 0/1/3 = valid.
# Anything else (exit 2 without a line, other codes) stops the recording: look at that file.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${1:-$here/../data/ldirectord-diff}" && pwd)
ld=${LDIRECTORD:-/usr/sbin/ldirectord}

[ "$(id -u)" = 0 ] || { echo "record-ldirectord.sh: must run as root (unshare)" >&2; exit 1; }
[ -x "$ld" ] || { echo "record-ldirectord.sh: $ld not found (apt-get install ldirectord)" >&2; exit 1; }
case "$dir" in /var/log*|/run*) echo "record-ldirectord.sh: $dir is hidden by the namespace's tmpfs" >&2; exit 1;; esac
version=$(dpkg-query -W -f '${Version}' ldirectord 2>/dev/null || echo unknown)
case "$version" in *4.12*) ;; *) echo "record-ldirectord.sh: warning: ldirectord $version is not 4.12" >&2;; esac

# One file: prints "file<TAB>verdict<TAB>line<TAB>note".
record_one() {
    local f=$1 name out rc err line msg warns
    name=$(basename "$f")
    out=$(unshare --net --mount --fork sh -c '
        mount -t tmpfs none /var/log && mkdir -p /var/log/ldirectord && mount -t tmpfs none /run || exit 97
        ip link set lo up 2>/dev/null || true
        "$0" "$1" status >/dev/null 2>/run/err </dev/null; rc=$?
        echo "rc=$rc"; cat /run/err' "$ld" "$f") || true
    rc=$(printf '%s\n' "$out" | sed -n '1s/^rc=//p')
    err=$(printf '%s\n' "$out" | sed '1d')
    # Warnings ldirectord printed (kept in the note; they never change the verdict).
    warns=$(printf '%s\n' "$err" | sed -n 's/^Warning \[[0-9]*\]\( reading file .* at line \([0-9]*\)\)\{0,1\}: \(.*\)$/warning \2: \3/p' |
        tr '\t' ' ' | sed 's/^warning :/warning:/' | paste -sd ';' - | sed 's/;/; /g')
    case "$rc" in
    0 | 1 | 3)
        printf '%s\tvalid\t\t%s\n' "$name" "$warns"
        ;;
    2)
        line=$(printf '%s\n' "$err" | sed -n 's/^Error \[[0-9]*\] reading file .* at line \([0-9]*\): .*/\1/p' | head -n1)
        # The message may span lines (Unknown command keeps the raw line and its newline).
        msg=$(printf '%s\n' "$err" | sed -n '/^Error \[[0-9]*\] reading file/,$p' | sed '1s/^Error \[[0-9]*\] reading file .* at line [0-9]*: //' |
            tr '\t\r' '  ' | paste -sd ' ' - | sed 's/ *$//')
        if [ -z "$line" ]; then
            echo "record-ldirectord.sh: $name: exit 2 without a line number:" >&2
            printf '%s\n' "$err" >&2
            return 1
        fi
        printf '%s\tinvalid\t%s\t%s\n' "$name" "$line" "$msg"
        ;;
    *)
        echo "record-ldirectord.sh: $name: unexpected exit $rc:" >&2
        printf '%s\n' "$err" >&2
        return 1
        ;;
    esac
}
export -f record_one
export ld

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf 'file\tverdict\tline\tnote\n' >"$tmp"
find "$dir" -maxdepth 1 -name '*.cf' -print0 | sort -z |
    xargs -0 -r -P "$(nproc)" -n 1 bash -c 'record_one "$0"' | LC_ALL=C sort >>"$tmp"
n=$(($(wc -l <"$tmp") - 1))
total=$(find "$dir" -maxdepth 1 -name '*.cf' | wc -l)
[ "$n" = "$total" ] || { echo "record-ldirectord.sh: recorded $n of $total files" >&2; exit 1; }
cp "$tmp" "$dir/EXPECTED.tsv"
echo "recorded $n files with ldirectord $version into $dir/EXPECTED.tsv"
