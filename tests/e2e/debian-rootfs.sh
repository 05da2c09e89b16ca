#!/usr/bin/env bash
# Builds, or takes from the cache, the Debian bookworm root tree that the
# end-to-end tests install onto a scenario layout, back up and recover.
#
# Usage: tests/e2e/debian-rootfs.sh [--tree full|minimal] [--hash]   (as root)
#   --tree   which tree (default full): full takes debian-packages.txt,
#            minimal debian-packages-minimal.txt (the minimal server of
#            scenario n: only what its layout and the harness need)
#   --hash   print the cache key and exit
#
# The tree: debootstrap --variant=minbase bookworm plus the packages in
# the tree's list (next to this script), configured for a VM with a
# serial console (see configure() below), with its initramfs regenerated
# natively in a chroot (18 s here, against 400 s in an emulated VM). It is
# stored as an uncompressed tar archive (numeric owners, xattrs, ACLs),
# which the install VM reads straight off a raw disk:
#
#   $E2E_CACHE/<key>/rootfs.tar       (E2E_CACHE: /var/cache/rear-build-e2e)
#   $E2E_CACHE/<key>/kernel-version
#   $E2E_CACHE/<key>/debootstrap.log
#
# <key> is the sha256 of this script, the package list and (for a tree
# other than full) the tree's name, so changing the script or a list builds
# a new tree and an unchanged recipe reuses the old one.
# Deliberately NOT in the tree, so changing them keeps the cache: rear-build
# itself and the e2e-report unit (e2e-report, e2e-report.service here),
# both added at install time, and fstab's UUIDs.
#
# The Debian mirror is the one apt uses here (E2E_MIRROR overrides).
# stdout ends with one line of key=value pairs:
#   e2e-rootfs status=cached|built seconds=N tar=PATH kernel=KVER key=KEY tree=TREE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
cache_root=${E2E_CACHE:-/var/cache/rear-build-e2e}
suite=bookworm
usage() { echo "usage: $0 [--tree full|minimal] [--hash]" >&2; exit 2; }

tree=full
hash_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) [ $# -ge 2 ] || usage; tree=$2; shift 2 ;;
        --hash) hash_only=1; shift ;;
        *) usage ;;
    esac
done
case "$tree" in
    full) packages_file=$here/debian-packages.txt ;;
    minimal) packages_file=$here/debian-packages-minimal.txt ;;
    *) usage ;;
esac

packages=$(sed 's/#.*//' "$packages_file" | tr -s ' \t' '\n\n' | sed '/^$/d' | sort -u)
key=$({
    cat "$self"
    printf '%s\n' "$packages"
    [ "$tree" = full ] || printf 'tree=%s\n' "$tree"
} | sha256sum | cut -d' ' -f1)
if [ $hash_only = 1 ]; then echo "$key"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "$0: run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "$0: debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }

log() { echo "debian-rootfs: $*" >&2; }

# The first bookworm "deb" source apt is configured with (deb822 first,
# then one-line lists).
find_mirror() {
    if [ -n "${E2E_MIRROR:-}" ]; then echo "$E2E_MIRROR"; return; fi
    local f m
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        m=$(awk -v suite="$suite" '
            function flush() { if (deb && hit && uri != "") { print uri; found = 1; exit } deb = hit = 0; uri = "" }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
            END { if (!found) flush() }' "$f")
        if [ -n "$m" ]; then echo "$m"; return; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        m=$(sed 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }')
        if [ -n "$m" ]; then echo "$m"; return; fi
    done
    echo "http://deb.debian.org/debian"
}

mounted=()
mount_chroot() {
    local r=$1
    mount -t proc proc "$r/proc" && mounted+=("$r/proc")
    mount -t sysfs sysfs "$r/sys" && mounted+=("$r/sys")
    mount --bind /dev "$r/dev" && mounted+=("$r/dev")
    mount -t devpts devpts "$r/dev/pts" -o newinstance,ptmxmode=0666 && mounted+=("$r/dev/pts")
    mount -t tmpfs tmpfs "$r/run" && mounted+=("$r/run")
}
umount_chroot() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[$i]}" || umount -l "${mounted[$i]}" || true
    done
    mounted=()
}

# Everything that makes the tree a test machine rather than a bare debootstrap.
configure() {
    local r=$1
    echo e2e-bookworm > "$r/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\te2e-bookworm\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$r/etc/hosts"
    printf '# Written when the tree is installed onto a layout (tests/e2e/install-lib.sh).\n' > "$r/etc/fstab"
    # root logs in without a password (a test VM without network).
    chroot "$r" passwd -d root >/dev/null

    # initramfs: every storage/fs module (MODULES=most), zstd, and no resume
    # device: in a chroot initramfs-tools cannot find the swap, and the swap
    # UUID is only known at install time (the Debian installer writes this too).
    sed -i 's/^MODULES=.*/MODULES=most/; s/^COMPRESS=.*/COMPRESS=zstd/' "$r/etc/initramfs-tools/initramfs.conf"
    echo RESUME=none > "$r/etc/initramfs-tools/conf.d/resume"

    # GRUB: serial terminal, a short menu, the kernel console on ttyS0, and
    # e2e.poweroff=1 so the machine powers off once multi-user is reached
    # (edit the entry at the GRUB menu to keep it running).
    cat > "$r/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 e2e.poweroff=1"
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF

    # Serial console: root is logged in on ttyS0 (for a human watching).
    mkdir -p "$r/etc/systemd/system/serial-getty@ttyS0.service.d"
    cat > "$r/etc/systemd/system/serial-getty@ttyS0.service.d/e2e-autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 - $TERM
EOF
    # Nothing may prompt on the console or wake up on a timer during a test.
    local u
    for u in systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
        ln -sf /dev/null "$r/etc/systemd/system/$u"
    done

    mount_chroot "$r"
    local t0=$SECONDS
    chroot "$r" update-initramfs -u -k all >&2
    log "update-initramfs (native chroot): $((SECONDS - t0)) s"
    chroot "$r" apt-get clean
    umount_chroot
    rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/log/*.log
}

mkdir -p "$cache_root"
dir=$cache_root/$key
exec 9> "$cache_root/$key.lock"
flock 9
start=$SECONDS
if [ -f "$dir/rootfs.tar" ] && [ -f "$dir/kernel-version" ]; then
    status=cached
else
    status=built
    mirror=$(find_mirror)
    tmp=$dir.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp/root"
    trap 'umount_chroot; rm -rf "$tmp"' EXIT
    log "debootstrap --variant=minbase $suite from $mirror (log: $tmp/debootstrap.log)"
    t0=$SECONDS
    if ! debootstrap --variant=minbase --components=main \
        --include="$(printf '%s\n' "$packages" | paste -sd,)" \
        "$suite" "$tmp/root" "$mirror" > "$tmp/debootstrap.log" 2>&1; then
        tail -n 30 "$tmp/debootstrap.log" >&2
        cp "$tmp/debootstrap.log" "$cache_root/failed-debootstrap.log" || true
        log "debootstrap failed (log: $cache_root/failed-debootstrap.log)"
        exit 1
    fi
    log "debootstrap: $((SECONDS - t0)) s"
    configure "$tmp/root"
    ls "$tmp/root/lib/modules" > "$tmp/kernel-version"
    [ "$(wc -l < "$tmp/kernel-version")" = 1 ] || { log "expected one kernel, found: $(cat "$tmp/kernel-version")"; exit 1; }
    t0=$SECONDS
    tar -C "$tmp/root" --sort=name --numeric-owner --xattrs --xattrs-include='*' --acls \
        -cf "$tmp/rootfs.tar" .
    log "tar: $((SECONDS - t0)) s, $(du -m "$tmp/rootfs.tar" | cut -f1) MiB"
    rm -rf "$tmp/root"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    trap - EXIT
fi
echo "e2e-rootfs status=$status seconds=$((SECONDS - start)) tar=$dir/rootfs.tar kernel=$(cat "$dir/kernel-version") key=$key tree=$tree"
