#!/bin/bash
# Prepares the real-kernel IPVS test tier (see README.md in this directory).
#
# - installs the host packages (qemu, static busybox, cpio, ipvsadm, dash, iproute2);
# - fetches the Debian kernel package that linux-image-amd64 currently depends on,
#   extracts the uncompressed vmlinux (boots about twice as fast under TCG) and the
#   modules the tests need, and caches them under $HBRS_VM_CACHE
#   (default /var/cache/heartbeat-rs-vm);
# - builds the cached base initramfs (via run.sh --prepare).
#
# Idempotent: a second run finds everything cached and does nothing. Quiet on success.
# Needs root the first time (apt, /var/cache); later runs work for anyone if nothing changed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${HBRS_VM_CACHE:-/var/cache/heartbeat-rs-vm}
meta=linux-image-amd64

log=$(mktemp)
tmp=
cleanup() {
    rm -f "$log"
    if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

# Runs a command with its output captured; shows the output only if it fails.
quiet() {
    if ! "$@" >"$log" 2>&1; then
        echo "setup.sh: failed: $*" >&2
        cat "$log" >&2
        return 1
    fi
}

die() {
    echo "setup.sh: $*" >&2
    exit 1
}

# ---- 1. host packages --------------------------------------------------------------
quiet "$repo/scripts/apt-install" qemu-system-x86 busybox-static cpio ipvsadm dash iproute2

# ---- 2. which kernel package -------------------------------------------------------
# The package linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64), and its
# version. One apt-cache call (each costs ~1 s when apt keeps no binary cache): the
# metapackage pins the exact version, "Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)".
lookup() {
    local dep
    dep=$(apt-cache show --no-all-versions "$meta" 2>/dev/null |
        sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -n 1)
    if [ -z "$dep" ]; then
        # Not pinned: ask as the recipe does, then look the version up.
        local p v
        p=$(apt-cache depends "$meta" 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
        [ -n "$p" ] || return 0
        v=$(apt-cache show --no-all-versions "$p" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
        [ -n "$v" ] || return 0
        dep="$p $v"
    fi
    echo "$dep"
}
dep=$(lookup)
if [ -z "$dep" ] && [ -e "$cache/current/.complete" ]; then
    # No package lists (cleaned apt state): keep the kernel already cached.
    quiet "$here/run.sh" --prepare
    exit 0
fi
if [ -z "$dep" ]; then
    # Fresh machine with empty package lists.
    quiet apt-get update -qq
    dep=$(lookup)
fi
[ -n "$dep" ] || die "cannot find the kernel package that $meta depends on (apt-cache show $meta)"
read -r pkg ver <<<"$dep"
id="${pkg}_${ver}"

if [ -e "$cache/$id/.complete" ]; then
    if [ "$(readlink "$cache/current" 2>/dev/null || true)" != "$id" ]; then
        ln -sfn "$id" "$cache/current"
    fi
    quiet "$here/run.sh" --prepare
    exit 0
fi

# ---- 3. fetch and extract ----------------------------------------------------------
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.setup.XXXXXX")
chmod 755 "$tmp"
mkdir "$tmp/dl"

download() {
    (cd "$tmp/dl" && apt-get download -q "$pkg=$ver")
}
if ! download >"$log" 2>&1; then
    # Stale package lists (the pool file of an old version is gone): refresh and retry.
    quiet apt-get update -qq
    quiet download
fi
deb=$(find "$tmp/dl" -name '*.deb' | head -n 1)
[ -n "$deb" ] || die "apt-get download $pkg=$ver produced no .deb"
quiet dpkg-deb -x "$deb" "$tmp/x"

vmlinuz=$(find "$tmp/x/boot" -name 'vmlinuz-*' | head -n 1)
[ -n "$vmlinuz" ] || die "no /boot/vmlinuz-* in $deb"
kver=${vmlinuz##*/vmlinuz-}
moddir="$tmp/x/lib/modules/$kver"
[ -d "$moddir/kernel" ] || die "no lib/modules/$kver/kernel in $deb"

# Finds the compressed payload in a bzImage by its magic bytes and decompresses it.
# The right candidate is the one that decompresses to an ELF image.
is_elf() {
    [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]
}
extract_vmlinux() {
    local in=$1 out=$2 i magic off
    local -a magics=('\xfd\x37\x7a\x58\x5a\x00' '\x28\xb5\x2f\xfd' '\x1f\x8b\x08'
        '\x02\x21\x4c\x18' '\x89\x4c\x5a\x4f' 'BZh' '\x5d\x00\x00')
    local -a tools=('xz -dcq --single-stream' 'zstd -dcq' 'gzip -dcq'
        'lz4 -dcq' 'lzop -dcq' 'bzip2 -dcq' 'lzma -dcq')
    if is_elf "$in"; then
        cp "$in" "$out"
        return 0
    fi
    for i in "${!magics[@]}"; do
        magic=${magics[$i]}
        read -r -a tool <<<"${tools[$i]}"
        command -v "${tool[0]}" >/dev/null || continue
        # Byte offsets of the magic; only the first few matches are plausible.
        for off in $(LC_ALL=C grep -obUaP "$magic" "$in" | cut -d: -f1 | head -n 8); do
            tail -c +"$((off + 1))" "$in" | "${tool[@]}" >"$out" 2>/dev/null || true
            if [ -s "$out" ] && is_elf "$out"; then
                return 0
            fi
        done
    done
    rm -f "$out"
    return 1
}

out="$tmp/$id"
mkdir -p "$out/modules"
extract_vmlinux "$vmlinuz" "$out/vmlinux" ||
    die "could not extract an ELF vmlinux from $vmlinuz (no known compression found)"
cp "$tmp/x/boot/config-$kver" "$out/config" 2>/dev/null || true
echo "$kver" >"$out/kernel-release"
echo "$id" >"$out/package"

# Keep only the module trees IPVS tests can need (netfilter/IPVS, crypto, lib) and
# the simple virtual network drivers (veth, dummy, ...) - not the whole 400 MB tree.
(
    cd "$moddir"
    {
        printf '%s\0' kernel/net kernel/crypto kernel/lib
        find kernel/drivers/net -maxdepth 1 -name '*.ko' -print0
        find . -maxdepth 1 -name 'modules.*' -printf '%P\0'
    } | tar --null -T - -cf -
) | tar -xf - -C "$out/modules"

touch "$out/.complete"
rm -rf "${cache:?}/$id"
mv "$out" "$cache/$id"
ln -sfn "$id" "$cache/current.new"
mv -T "$cache/current.new" "$cache/current"

# Drop kernels of older Debian updates.
for old in "$cache"/linux-image-*; do
    [ "$old" = "$cache/$id" ] || rm -rf "$old"
done

quiet "$here/run.sh" --prepare
