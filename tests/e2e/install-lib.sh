# Installs the Debian tree from debian-rootfs.sh onto a scenario layout,
# inside the rescue system (the host kernel has no dm/md/vfat).
#
# tests/src/debian.rs puts this file, rescue_vm::RESULTS_SNIPPET before it
# and a scenario after it into one bash script, which the rescue system
# runs with rear.auto=run:. The disks, found by virtio serial:
#   rbdisk0..      the scenario's target disks, attached first (vda, vdb, ...)
#   e2e-rootfs     the tree: a tar archive written straight onto the disk
#   e2e-overlay    files added at install time (rear-build, the e2e-report
#                  unit), also a tar
#   rbdisk9        the results disk (RESULTS_SNIPPET's save_results)
#
# A scenario defines make_layout (partition, make file systems and swap,
# mount the root at $T and the rest below it; set SWAPS and BOOT_DISKS)
# and calls install_system, which extracts the tree, writes fstab by UUID
# and installs the boot loader. A scenario may also define
# before_bootloader, which install_system runs with the chroot set up
# (/dev, /proc, /sys, /run bound), right before the boot loader.

exec > >(tee -a /results/log.txt) 2>&1
trap 'rc=$?; echo "INSTALL-EXIT=$rc"; teardown_chroot; save_results; exit $rc' EXIT
set -euxo pipefail
T=/mnt/target
SWAPS=()
BOOT_DISKS=()

disk_by_serial() {
    local b
    for b in /sys/block/*; do
        if [ "$(cat "$b/serial" 2>/dev/null)" = "$1" ]; then echo "/dev/${b##*/}"; return 0; fi
    done
    echo "no disk with serial $1" >&2
    return 1
}

# Waits for partition nodes after partitioning (devtmpfs, no udev here).
wait_nodes() {
    local n d ok
    for n in $(seq 100); do
        ok=1
        for d in "$@"; do [ -b "$d" ] || ok=0; done
        [ $ok = 1 ] && return 0
        sleep 0.1
    done
    echo "device nodes missing among: $*" >&2
    return 1
}

uuid_of() { blkid -p -o value -s UUID "$1"; }

extract_tree() {
    local rootfs overlay
    rootfs=$(disk_by_serial e2e-rootfs)
    overlay=$(disk_by_serial e2e-overlay)
    local t0=$SECONDS
    tar -C "$T" --numeric-owner --xattrs --xattrs-include='*' --acls -xpf "$rootfs"
    tar -C "$T" --numeric-owner --no-overwrite-dir -xpf "$overlay"
    echo "E2E-INSTALL-TIMING extract=$((SECONDS - t0))"
    test -x "$T/usr/local/sbin/rear-build"
    mkdir -p "$T/etc/systemd/system/multi-user.target.wants"
    ln -sfn /etc/systemd/system/e2e-report.service "$T/etc/systemd/system/multi-user.target.wants/e2e-report.service"
}

# fstab: every mount below $T by file system UUID, then SWAPS.
write_fstab() {
    {
        echo "# <file system> <mount point> <type> <options> <dump> <pass>"
        echo "# Written by the rear-build e2e installer (tests/e2e/install-lib.sh)."
        awk -v t="$T" '$2 == t || index($2, t "/") == 1 { print $1, $2, $3 }' /proc/mounts |
        while read -r dev mnt fstype; do
            local where=${mnt#"$T"} opts=defaults pass=2
            [ -n "$where" ] || { where=/; pass=1; }
            case "$fstype" in ext[234]) [ "$where" = / ] && opts=errors=remount-ro ;; esac
            [ "$fstype" = vfat ] && opts=umask=0077
            echo "UUID=$(uuid_of "$dev") $where $fstype $opts 0 $pass"
        done
        local s
        for s in "${SWAPS[@]}"; do
            echo "UUID=$(uuid_of "$s") none swap sw 0 0"
        done
    } > "$T/etc/fstab"
    cat "$T/etc/fstab"
}

chroot_mounts=()
setup_chroot() {
    local m
    for m in dev proc sys run; do
        mkdir -p "$T/$m"
        mount --bind "/$m" "$T/$m"
        chroot_mounts+=("$T/$m")
    done
}
teardown_chroot() {
    local i
    for ((i = ${#chroot_mounts[@]} - 1; i >= 0; i--)); do
        umount "${chroot_mounts[$i]}" || umount -l "${chroot_mounts[$i]}" || true
    done
    chroot_mounts=()
}

# BIOS: GRUB's boot code on every boot disk, grub.cfg from update-grub.
install_grub_bios() {
    local d t0=$SECONDS
    for d in "${BOOT_DISKS[@]}"; do
        chroot "$T" grub-install --target=i386-pc "$d"
    done
    chroot "$T" update-grub
    echo "E2E-INSTALL-TIMING grub=$((SECONDS - t0))"
    cp "$T/boot/grub/grub.cfg" /results/grub.cfg
}

# UEFI: GRUB into the ESP at /boot/efi as EFI/debian and the removable
# path EFI/BOOT (the install VM has no NVRAM to write: --no-nvram; the
# machine boots the fallback path), grub.cfg from update-grub.
install_grub_efi() {
    local t0=$SECONDS
    chroot "$T" grub-install --target=x86_64-efi --efi-directory=/boot/efi \
        --bootloader-id=debian --no-nvram --force-extra-removable
    chroot "$T" update-grub
    echo "E2E-INSTALL-TIMING grub=$((SECONDS - t0))"
    cp "$T/boot/grub/grub.cfg" /results/grub.cfg
    find "$T/boot/efi" -type f > /results/esp.txt
}

install_system() {
    extract_tree
    write_fstab
    cp "$T/etc/fstab" /results/fstab
    # md arrays: named in the system's mdadm.conf, as Debian's installer does.
    if [ -e /proc/mdstat ] && grep -q '^md' /proc/mdstat; then
        mdadm --detail --scan >> "$T/etc/mdadm/mdadm.conf"
        cp "$T/etc/mdadm/mdadm.conf" /results/mdadm.conf
    fi
    setup_chroot
    # A scenario's own configuration inside the system (crypttab, an
    # initramfs with a key file, ...), in the chroot before the boot loader.
    if declare -F before_bootloader >/dev/null; then before_bootloader; fi
    if [ "${FIRMWARE:-bios}" = uefi ]; then install_grub_efi; else install_grub_bios; fi
    teardown_chroot
    local d
    for d in "${BOOT_DISKS[@]}"; do blkid -p "$d"*; done > /results/blkid.txt || true
    sync
    local m
    for m in $(awk -v t="$T" '$2 == t || index($2, t "/") == 1 { print $2 }' /proc/mounts | sort -r); do
        umount "$m"
    done
    sync
    echo "E2E-INSTALLED"
}
