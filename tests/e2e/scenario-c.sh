# Scenario (c): BIOS, two 3 GiB disks, each GPT with a 1 MiB bios_grub
# partition and a RAID member; md RAID1 over the two; LVM on it: / (ext4,
# /boot included) and swap. GRUB on both disks.
make_layout() {
    local d
    for d in /dev/vda /dev/vdb; do
        sfdisk "$d" <<'PARTS'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios_grub
type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=raid
PARTS
    done
    wait_nodes /dev/vda1 /dev/vda2 /dev/vdb1 /dev/vdb2
    mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --metadata=1.2 \
        --homehost=e2e-bookworm --name=root /dev/vda2 /dev/vdb2
    wait_nodes /dev/md0
    pvcreate -ff -y /dev/md0
    vgcreate vg0 /dev/md0
    lvcreate -y -L 256M -n swap vg0
    lvcreate -y -l 100%FREE -n root vg0
    wait_nodes /dev/vg0/root /dev/vg0/swap
    mkfs.ext4 -q -L root /dev/vg0/root
    mkswap -L swap /dev/vg0/swap
    mkdir -p "$T"
    mount /dev/vg0/root "$T"
    SWAPS=(/dev/vg0/swap)
    BOOT_DISKS=(/dev/vda /dev/vdb)
}
make_layout
install_system
