# Scenario (d): BIOS, GPT on one 4 GiB disk: a 1 MiB bios_grub partition,
# /boot (ext4, not encrypted) and an LVM physical volume; vg0 holds swap
# and root; root is LUKS2 (argon2id with little memory and time, so
# unlocking is quick under TCG), opened as cryptroot, with ext4 as /.
#
# The system unlocks / without a prompt: the key file /etc/keys/root.key
# goes into the initramfs (Debian's documented way: crypttab's "initramfs"
# option, KEYFILE_PATTERN in cryptsetup-initramfs' conf-hook, UMASK=0077),
# which is rebuilt in the chroot before GRUB. The key file's bytes are
# exactly the passphrase (no newline): rear-build recreates the volume
# with the passphrase alone, and the restored initramfs still opens it.
# tests/tests/e2e.rs (LUKS_PASSPHRASE) writes the same passphrase for
# the unattended recovery.
LUKS_PASSPHRASE='e2e luks2 passphrase (d)'
KEYFILE=/tmp/e2e-root.key

make_layout() {
    sfdisk /dev/vda <<'PARTS'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios_grub
size=256MiB, type=L, name=boot
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name=lvm
PARTS
    wait_nodes /dev/vda1 /dev/vda2 /dev/vda3
    mkfs.ext4 -q -L boot /dev/vda2
    pvcreate -ff -y /dev/vda3
    vgcreate vg0 /dev/vda3
    lvcreate -y -L 256M -n swap vg0
    lvcreate -y -l 100%FREE -n root vg0
    wait_nodes /dev/vg0/root /dev/vg0/swap
    mkswap -L swap /dev/vg0/swap
    mkdir -p "$(dirname "$KEYFILE")"
    (umask 077 && printf '%s' "$LUKS_PASSPHRASE" > "$KEYFILE")
    local t0=$SECONDS
    cryptsetup luksFormat --batch-mode --type luks2 --pbkdf argon2id \
        --pbkdf-memory 65536 --iter-time 200 --key-file "$KEYFILE" /dev/vg0/root
    cryptsetup open --key-file "$KEYFILE" /dev/vg0/root cryptroot
    echo "E2E-INSTALL-TIMING luks=$((SECONDS - t0))"
    wait_nodes /dev/mapper/cryptroot
    cryptsetup luksDump /dev/vg0/root > /results/luksdump.txt
    mkfs.ext4 -q -L root /dev/mapper/cryptroot
    mkdir -p "$T"
    mount /dev/mapper/cryptroot "$T"
    mkdir -p "$T/boot"
    mount /dev/vda2 "$T/boot"
    SWAPS=(/dev/vg0/swap)
    BOOT_DISKS=(/dev/vda)
}

# install_system's hook, in the chroot before GRUB: the key file, crypttab,
# and an initramfs that carries both.
before_bootloader() {
    install -d -m 0700 "$T/etc/keys"
    install -m 0400 "$KEYFILE" "$T/etc/keys/root.key"
    printf 'cryptroot UUID=%s /etc/keys/root.key luks,initramfs\n' "$(uuid_of /dev/vg0/root)" >> "$T/etc/crypttab"
    echo 'KEYFILE_PATTERN="/etc/keys/*.key"' >> "$T/etc/cryptsetup-initramfs/conf-hook"
    echo 'UMASK=0077' >> "$T/etc/initramfs-tools/initramfs.conf"
    cp "$T/etc/crypttab" /results/crypttab
    local t0=$SECONDS
    chroot "$T" update-initramfs -u -k all
    echo "E2E-INSTALL-TIMING initramfs=$((SECONDS - t0))"
    chroot "$T" sh -c 'lsinitramfs /boot/initrd.img-*' | grep -E 'cryptroot|keyfiles|sbin/cryptsetup' > /results/initramfs-crypt.txt
    cat /results/initramfs-crypt.txt
    grep -q 'cryptroot/crypttab' /results/initramfs-crypt.txt
    grep -q 'cryptroot/keyfiles/cryptroot.key' /results/initramfs-crypt.txt
}

make_layout
install_system
# The backing LV stays open at the end; close it for a clean shutdown.
cryptsetup close cryptroot
