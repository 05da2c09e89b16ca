# Scenario (b): UEFI, GPT on one 4 GiB disk: an ESP (vfat, /boot/efi) and
# an LVM physical volume; vg0 holds / (xfs, /boot included) and /home
# (ext4). GRUB for x86_64-efi, booted through the removable-media path.
make_layout() {
    sfdisk /dev/vda <<'PARTS'
label: gpt
size=200MiB, type=U, name=esp
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name=lvm
PARTS
    wait_nodes /dev/vda1 /dev/vda2
    mkfs.vfat -F 32 -n ESP /dev/vda1
    pvcreate -ff -y /dev/vda2
    vgcreate vg0 /dev/vda2
    lvcreate -y -L 2600M -n root vg0
    lvcreate -y -l 100%FREE -n home vg0
    wait_nodes /dev/vg0/root /dev/vg0/home
    mkfs.xfs -q -L root /dev/vg0/root
    mkfs.ext4 -q -L home /dev/vg0/home
    mkdir -p "$T"
    mount /dev/vg0/root "$T"
    mkdir -p "$T/home" "$T/boot/efi"
    mount /dev/vg0/home "$T/home"
    mount /dev/vda1 "$T/boot/efi"
    FIRMWARE=uefi
}
make_layout
install_system
