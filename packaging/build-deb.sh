#!/bin/bash
# Builds the Debian package: target/debian/heartbeat-rs_<version>_<arch>.deb, with dpkg-deb only
# (no debhelper, no cargo-deb). Contents: the one binary /usr/sbin/heartbeat and its links under
# the names and paths Debian's heartbeat and ldirectord packages use, the /etc/ha.d samples,
# resource.d scripts, /etc/default/ldirectord, init scripts, systemd units, tmpfiles.d,
# logrotate (all /etc files are conffiles), man pages generated from the CLI definition plus the
# hand-written applet pages, and the maintainer scripts in packaging/debian/.
#
# Usage: packaging/build-deb.sh [--binary PATH] [--out DIR]
#   --binary PATH   package this binary instead of running `cargo build --release`
#   --out DIR       where the .deb goes (default target/debian)
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
pkg=$here/packaging
bin=
out=$here/target/debian
while [ $# -gt 0 ]; do
    case $1 in
        --binary) bin=$(realpath "$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: $0 [--binary PATH] [--out DIR]" >&2; exit 2 ;;
    esac
done
for tool in dpkg-deb gzip; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (apt-get install dpkg-dev)" >&2; exit 1; }
done
if [ -z "$bin" ]; then
    cargo build --release --locked
    bin=${CARGO_TARGET_DIR:-$here/target}/release/heartbeat
fi
[ -x "$bin" ] || { echo "build-deb: no binary at $bin" >&2; exit 1; }

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
mkdir -p "$out"
out=$(realpath "$out")
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"

# put MODE SRC DEST: one file into the tree.
put() { install -D -m "$1" "$2" "$stage/$3"; }
# link TARGET NAME: a relative symbolic link.
link() { mkdir -p "$(dirname "$stage/$2")"; ln -sfn "$1" "$stage/$2"; }

# The binary, without its debug information (the release profile keeps line tables).
put 0755 "$bin" usr/sbin/heartbeat
if command -v objcopy >/dev/null; then
    objcopy --strip-debug --strip-unneeded "$stage/usr/sbin/heartbeat"
fi
link heartbeat usr/sbin/ldirectord
for applet in cl_status hb_standby hb_takeover; do
    link ../sbin/heartbeat usr/bin/$applet
done
# Where Debian's heartbeat keeps them (scripts and habits call these paths).
link ../../sbin/heartbeat usr/share/heartbeat/hb_standby
link ../../sbin/heartbeat usr/share/heartbeat/hb_takeover
link ../../sbin/heartbeat usr/libexec/heartbeat/heartbeat
link ../../sbin/heartbeat usr/lib/heartbeat/heartbeat
# As Debian's ldirectord: haresources' ldirectord::CONFIG finds it here.
link ../../../usr/sbin/ldirectord etc/ha.d/resource.d/ldirectord

# Configuration samples (conffiles): heartbeat refuses an authkeys others can read.
for f in ha.cf haresources ldirectord.cf; do
    put 0644 "ha.d/$f" "etc/ha.d/$f"
done
put 0600 ha.d/authkeys etc/ha.d/authkeys
for f in resource.d/*; do
    case $(basename "$f") in README*) continue ;; esac
    put 0755 "$f" "etc/ha.d/resource.d/$(basename "$f")"
done
put 0644 resource.d/README.md usr/share/doc/heartbeat-rs/README.resource.d.md
put 0644 "$pkg/default/ldirectord" etc/default/ldirectord
put 0644 "$pkg/default/realserver" etc/default/realserver

# Service integration, at the paths of Debian's packages (so they take those files over).
put 0755 "$pkg/init.d/heartbeat" etc/init.d/heartbeat
put 0755 "$pkg/init.d/ldirectord" etc/init.d/ldirectord
# Not enabled by the postinst: it changes ARP behaviour, for real servers only.
put 0755 "$pkg/init.d/realserver" etc/init.d/realserver
put 0644 "$pkg/systemd/heartbeat.service" lib/systemd/system/heartbeat.service
put 0644 "$pkg/systemd/ldirectord.service" lib/systemd/system/ldirectord.service
put 0644 "$pkg/tmpfiles.d/heartbeat-rs.conf" usr/lib/tmpfiles.d/heartbeat-rs.conf
put 0644 "$pkg/logrotate/heartbeat" etc/logrotate.d/heartbeat
put 0644 "$pkg/logrotate/ldirectord" etc/logrotate.d/ldirectord
install -d -m 0755 "$stage/var/lib/heartbeat"

# Man pages: heartbeat.8 and heartbeat-*.8 from the CLI definition, the applets' by hand.
man=$out/man
rm -rf "$man"
"$bin" generate-man "$man" >/dev/null
for page in "$man"/*.8 "$pkg"/man/*.[18]; do
    name=$(basename "$page")
    dest=usr/share/man/man${name##*.}/$name.gz
    mkdir -p "$(dirname "$stage/$dest")"
    gzip -9n <"$page" >"$stage/$dest"
    chmod 0644 "$stage/$dest"
done

# Documentation.
doc=usr/share/doc/heartbeat-rs
put 0644 "$pkg/README.md" "$doc/README.packaging.md"
cat >"$stage/$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: heartbeat-rs

Files: *
Copyright: heartbeat-rs developers
License: MIT or Apache-2.0
 On Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.
EOF
sed "s/@VERSION@/$version/" "$pkg/debian/changelog" | gzip -9n >"$stage/$doc/changelog.Debian.gz"
chmod 0644 "$stage/$doc/copyright" "$stage/$doc/changelog.Debian.gz"

# Maintainer scripts, conffiles, md5sums, control.
for s in preinst postinst prerm postrm; do
    install -m 0755 "$pkg/debian/$s" "$stage/DEBIAN/$s"
done
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
depends="libc6 (>= 2.34), libgcc-s1 (>= 4.2)"
if command -v dpkg-shlibdeps >/dev/null; then
    shl=$(mktemp -d)
    mkdir -p "$shl/debian"
    printf 'Source: heartbeat-rs\n\nPackage: heartbeat-rs\nArchitecture: any\n' >"$shl/debian/control"
    if line=$(cd "$shl" && dpkg-shlibdeps -O -e"$stage/usr/sbin/heartbeat" 2>/dev/null); then
        depends=${line#shlibs:Depends=}
    fi
    rm -rf "$shl"
fi
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
    "$pkg/debian/control.in" >"$stage/DEBIAN/control"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

deb=$out/heartbeat-rs_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
rm -rf "$stage" "$man"
echo "$deb"
