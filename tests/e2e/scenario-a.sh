# Scenario (a): BIOS, GPT on one 4 GiB disk: a 1 MiB bios_grub partition,
# /boot (ext4), swap, / (ext4).
make_layout() {
    sfdisk /dev/vda <<'PARTS'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios_grub
size=256MiB, type=L, name=boot
size=256MiB, type=S, name=swap
type=L, name=root
PARTS
    wait_nodes /dev/vda1 /dev/vda2 /dev/vda3 /dev/vda4
    mkfs.ext4 -q -L boot /dev/vda2
    mkswap -L swap /dev/vda3
    mkfs.ext4 -q -L root /dev/vda4
    mkdir -p "$T"
    mount /dev/vda4 "$T"
    mkdir -p "$T/boot"
    mount /dev/vda2 "$T/boot"
    SWAPS=(/dev/vda3)
    BOOT_DISKS=(/dev/vda)
}
make_layout
install_system
