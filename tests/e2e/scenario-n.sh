# Scenario (n): the minimal Debian server (issue 15), installed from the
# minimal tree (debian-rootfs.sh --tree minimal). BIOS, two 4 GiB disks,
# each with an msdos table holding one RAID member (type fd, bootable)
# from 1 MiB (GRUB's core image goes into the gap before it); md RAID1
# over the two (metadata 1.2); LVM on it: / (xfs, /boot included: GRUB
# reads md, LVM and xfs), swap and /home (xfs). GRUB on both disks.
#
# Runs in the install rescue image (built on the CI host), so sfdisk here
# is the host's; the installed system needs none of it.
make_layout() {
    local d
    for d in /dev/vda /dev/vdb; do
        sfdisk "$d" <<'PARTS'
label: dos
type=fd, bootable
PARTS
    done
    wait_nodes /dev/vda1 /dev/vdb1
    mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --metadata=1.2 \
        --homehost=e2e-bookworm --name=system /dev/vda1 /dev/vdb1
    wait_nodes /dev/md0
    pvcreate -ff -y /dev/md0
    vgcreate vg0 /dev/md0
    lvcreate -y -L 2560M -n root vg0
    lvcreate -y -L 256M -n swap vg0
    lvcreate -y -l 100%FREE -n home vg0
    wait_nodes /dev/vg0/root /dev/vg0/swap /dev/vg0/home
    mkfs.xfs -q -L root /dev/vg0/root
    mkfs.xfs -q -L home /dev/vg0/home
    mkswap -L swap /dev/vg0/swap
    mkdir -p "$T"
    mount /dev/vg0/root "$T"
    mkdir -p "$T/home"
    mount /dev/vg0/home "$T/home"
    SWAPS=(/dev/vg0/swap)
    BOOT_DISKS=(/dev/vda /dev/vdb)
}
make_layout
install_system
