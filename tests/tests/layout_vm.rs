//! Storage layouts recreated for real, inside the rescue system booted in
//! qemu: a script builds a layout on blank virtio disks, `savelayout`
//! captures it, the disks are wiped, `recover --layout-only --yes`
//! recreates it, and a second capture is compared with the first.
//!
//! The quick tier (CI) runs scenarios a, c and g; the rest (b, d, e, f, i,
//! m, w) are ignored by
//! default and run with `ci/test --full` (`cargo test ... -- --ignored`).

use rear_layout::{compare, Layout};
use rear_tests::rescue_vm::{build_image, run_in_rescue, RESULTS_SNIPPET};
use rear_tests::{artefact_dir, sha256_file, vm_tests_skipped};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

const MIB: u64 = 1 << 20;

/// Shared by every scenario: writes the script's log into the results,
/// stops at the first failing command, saves results on exit.
const PRELUDE: &str = r#"
exec > >(tee -a /results/log.txt) 2>&1
trap 'rc=$?; echo "SCRIPT-EXIT=$rc"; save_results; exit $rc' EXIT
set -euxo pipefail
# Deactivate everything on the disks and wipe them as a dead disk would be.
teardown() {
    sync
    for m in $(awk '$2 ~ "^/mnt/t" {print $2}' /proc/mounts | sort -r); do umount "$m"; done
    swapoff -a || true
    vgchange -an || true
    for c in $(dmsetup ls --target crypt 2>/dev/null | awk '$2 ~ /^\(/ {print $1}'); do cryptsetup close "$c"; done
    for md in /dev/md[0-9]*; do [ -b "$md" ] && mdadm --stop "$md" || true; done
    for d in "$@"; do
        for p in "$d"[0-9]*; do [ -b "$p" ] && wipefs --all --force "$p"; done
        wipefs --all --force "$d"
        dd if=/dev/zero of="$d" bs=1M count=8 status=none
        blockdev --rereadpt "$d" || true
    done
}
recover_and_capture() {
    rear-build savelayout -o /results/saved.json
    rear-build layout show /results/saved.json
    teardown "$@"
    rear-build recover --layout-only --yes --layout /results/saved.json --mount-root / "${RECOVER_ARGS[@]}"
    rear-build savelayout -o /results/after.json
}
RECOVER_ARGS=()
"#;

/// (a) GPT: ESP (vfat) + ext4 root + swap.
const SCENARIO_A: &str = r#"
sfdisk /dev/vda <<EOF
label: gpt
size=64MiB, type=U, name="EFI system"
size=400MiB, type=L, name=root
type=S
EOF
mkfs.vfat -F 32 -n ESP /dev/vda1
mkfs.ext4 -q -L root /dev/vda2
mkswap -L swap0 /dev/vda3
mkdir -p /mnt/t && mount /dev/vda2 /mnt/t && mkdir -p /mnt/t/boot/efi && mount /dev/vda1 /mnt/t/boot/efi
recover_and_capture /dev/vda
"#;

/// (c) two-disk md RAID1 → LVM: linear LV (xfs) and a thin pool with a thin LV (ext4).
const SCENARIO_C: &str = r#"
for d in /dev/vda /dev/vdb; do
sfdisk "$d" <<EOF
label: gpt
,,R
EOF
done
mdadm --create /dev/md0 --run --metadata=1.2 --level=1 --raid-devices=2 --name=data /dev/vda1 /dev/vdb1
pvcreate /dev/md0
vgcreate vg0 /dev/md0
lvcreate -y -L 320M -n data vg0
lvcreate -y --type thin-pool -L 200M -n pool vg0
lvcreate -y --type thin -V 1G --thinpool pool -n thin vg0
mkfs.xfs -q -L data /dev/vg0/data
mkfs.ext4 -q -L thin /dev/vg0/thin
mkdir -p /mnt/t && mount /dev/vg0/data /mnt/t && mkdir -p /mnt/t/thin && mount /dev/vg0/thin /mnt/t/thin
recover_and_capture /dev/vda /dev/vdb
cat /proc/mdstat
# checklayout: 0 while the disks match, 1 once a logical volume is added.
rc=0; rear-build checklayout --layout /results/after.json > /results/check-same.out || rc=$?
echo $rc > /results/check-same.rc
lvcreate -y -L 8M -n extra vg0
rc=0; rear-build checklayout --layout /results/after.json > /results/check-changed.out || rc=$?
echo $rc > /results/check-changed.rc
"#;

/// (b) msdos with extended and logical partitions, ext3 + xfs.
const SCENARIO_B: &str = r#"
sfdisk /dev/vda <<EOF
label: dos
,100MiB,83,*
,,5
,320MiB,83
,,83
EOF
mkfs.ext3 -q -L boot /dev/vda1
mkfs.ext3 -q -L logical5 /dev/vda5
mkfs.xfs -q -L logical6 /dev/vda6
mkdir -p /mnt/t && mount /dev/vda6 /mnt/t && mkdir -p /mnt/t/boot /mnt/t/srv && mount /dev/vda1 /mnt/t/boot && mount /dev/vda5 /mnt/t/srv
recover_and_capture /dev/vda
"#;

/// (d) LUKS2 on a partition → LVM → ext4, passphrase from a file.
const SCENARIO_D: &str = r#"
(umask 077 && printf 'correct horse battery staple\n' > /tmp/pass)
sfdisk /dev/vda <<EOF
label: gpt
,100MiB,L
,,L
EOF
mkfs.ext4 -q -L boot /dev/vda1
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --label cryptroot /dev/vda2 < /tmp/pass
cryptsetup open /dev/vda2 cryptroot < /tmp/pass
pvcreate /dev/mapper/cryptroot
vgcreate vgc /dev/mapper/cryptroot
lvcreate -y -L 200M -n root vgc
mkfs.ext4 -q -L root /dev/vgc/root
mkdir -p /mnt/t && mount /dev/vgc/root /mnt/t && mkdir -p /mnt/t/boot && mount /dev/vda1 /mnt/t/boot
RECOVER_ARGS=(--passphrase-file /tmp/pass)
recover_and_capture /dev/vda
# The recreated LUKS volume opens with the same passphrase.
cryptsetup close cryptroot-test 2>/dev/null || true
umount /mnt/t/boot /mnt/t; vgchange -an vgc; cryptsetup close cryptroot
cryptsetup open --test-passphrase /dev/vda2 < /tmp/pass
"#;

/// (e) btrfs with subvolumes mounted at /, /home, /var (below /mnt/t).
const SCENARIO_E: &str = r#"
sfdisk /dev/vda <<EOF
label: gpt
,,L
EOF
mkfs.btrfs -q -L pool /dev/vda1
mkdir -p /mnt/top && mount /dev/vda1 /mnt/top
btrfs subvolume create /mnt/top/@ && btrfs subvolume create /mnt/top/@home && btrfs subvolume create /mnt/top/@var
btrfs subvolume set-default /mnt/top/@
umount /mnt/top
mkdir -p /mnt/t && mount -o subvol=@ /dev/vda1 /mnt/t
mkdir -p /mnt/t/home /mnt/t/var
mount -o subvol=@home /dev/vda1 /mnt/t/home && mount -o subvol=@var /dev/vda1 /mnt/t/var
recover_and_capture /dev/vda
"#;

/// (f) scenario (a) migrated onto a larger disk with another name, then
/// onto a slightly smaller one that still fits.
const SCENARIO_F: &str = r#"
sfdisk /dev/vda <<EOF
label: gpt
,64MiB,U
,400MiB,L
,,S
EOF
mkfs.vfat -F 32 /dev/vda1
mkfs.ext4 -q -L root /dev/vda2
mkswap /dev/vda3
mkdir -p /mnt/t && mount /dev/vda2 /mnt/t
rear-build savelayout -o /results/saved.json
teardown /dev/vda
rear-build recover --layout-only --yes --layout /results/saved.json --mount-root / --map /dev/vda=/dev/vdb
rear-build savelayout -o /results/after-larger.json
teardown /dev/vdb
rear-build recover --layout-only --yes --layout /results/saved.json --mount-root / --map /dev/vda=/dev/vdc
rear-build savelayout -o /results/after-smaller.json
"#;

/// (g) refusals: nothing may be written; the host compares disk hashes.
const SCENARIO_G: &str = r#"
set +e
expect_refusal() {
    local name=$1; shift
    rear-build "$@" > "/results/$name.out" 2>&1
    local rc=$?
    echo "$name exit $rc"; cat "/results/$name.out"
    if [ $rc -eq 0 ]; then echo "REFUSAL-MISSING: $name"; exit 1; fi
}
# Disks here: vda, vdb 2 GiB (ext4 each), vdc 1 GiB, vdd 3 GiB. two-disks.json has
# vda and vdb of 2.5 GiB; one-disk.json vda of 2 GiB; foreign.json is
# one-disk.json with a file system on /dev/vdb1, a disk it does not map.
expect_refusal incomplete recover --layout-only --yes --layout /etc/test/two-disks.json --map /dev/vda=/dev/vdd
expect_refusal outside recover --layout-only --yes --layout /etc/test/foreign.json --map /dev/vda=/dev/vdd
expect_refusal not-one-to-one recover --layout-only --yes --layout /etc/test/two-disks.json --map /dev/vda=/dev/vdd --map /dev/vdb=/dev/vdd
expect_refusal too-small recover --layout-only --yes --layout /etc/test/one-disk.json --map /dev/vda=/dev/vdc
expect_refusal protected recover --layout-only --yes --layout /etc/test/one-disk.json --map /dev/vda=/dev/vdd --protect rbdisk3
expect_refusal no-confirmation recover --layout-only --layout /etc/test/one-disk.json --map /dev/vda=/dev/vdd
# vda has the layout's name and size but another serial, and an ext4 of
# its own (made by the host), as has vdb: neither is chosen without --map.
expect_refusal wrong-disk recover --layout-only --yes --layout /etc/test/other-serial.json
# Simulation prints the plan and writes nothing.
rear-build recover --layout-only -s --layout /etc/test/one-disk.json --map /dev/vda=/dev/vdd > /results/plan.sh
echo "simulate exit $?"
exit 0
"#;

/// (r) the recovery loop without a bootloader: data on ext4 root + /boot,
/// backed up with tar to a REAR-000 disk, disks wiped, `recover` recreates,
/// restores and verifies.
const SCENARIO_R: &str = r#"
sfdisk /dev/vda <<EOF
label: gpt
size=600MiB, type=L, name=root
size=100MiB, type=L, name=boot
type=S
EOF
mkfs.ext4 -q -L root /dev/vda1
mkfs.ext4 -q -L boot /dev/vda2
mkswap /dev/vda3
mkfs.ext4 -q -L REAR-000 /dev/vdb
mkdir -p /mnt/t && mount /dev/vda1 /mnt/t && mkdir -p /mnt/t/boot && mount /dev/vda2 /mnt/t/boot
# Test data: odd names, setuid, hardlinks, symlinks, a sparse file, an
# xattr, an ACL, another owner, many small files.
cd /mnt/t
mkdir -p etc home/user/docs var/log
printf 'spaces\n' > 'home/user/docs/with space'
printf 'newline\n' > "home/user/docs/new
line"
printf '#!/bin/sh\n' > usr-suid && chmod 4755 usr-suid
printf 'shared\n' > etc/hard1 && ln etc/hard1 home/hard2
ln -s ../etc/hard1 home/link
truncate -s 256M var/sparse && printf data | dd of=var/sparse bs=1 seek=100000000 conv=notrunc status=none
setfattr -n user.rear -v hello etc/hard1
setfacl -m u:1234:rw 'home/user/docs/with space'
chown 1234:5678 home/user
for i in $(seq 1 300); do echo $i > var/log/f$i; done
printf 'vmlinuz\n' > boot/vmlinuz-test
cd /
mkdir -p /etc/rear-build
printf '[backup]\nurl = "usb://REAR-000"\n[layout]\nexclude_disks = ["/dev/vdb"]\n' > /etc/rear-build/config.toml
rear-build savelayout
rear-build mkbackuponly
sha256sum /mnt/t/etc/hard1 /mnt/t/var/sparse /mnt/t/boot/vmlinuz-test | awk '{print $1}' > /results/before.sha
teardown /dev/vda
# No / or /boot in this layout, so no bootloader is expected.
rear-build recover --yes 2>&1 | tee /results/recover.out
sha256sum /mnt/local/mnt/t/etc/hard1 /mnt/local/mnt/t/var/sparse /mnt/local/mnt/t/boot/vmlinuz-test | awk '{print $1}' > /results/after.sha
getfattr -n user.rear --only-values /mnt/local/mnt/t/etc/hard1 > /results/xattr
"#;

/// (w) whole disks without a partition table, as many VMs and cloud
/// instances have them: ext4 on vda, an LVM PV on vdb, md RAID1 of vdc and
/// vdd, LUKS on vde.
const SCENARIO_W: &str = r#"
(umask 077 && printf 'whole disk passphrase\n' > /tmp/pass)
mkfs.ext4 -q -L wroot /dev/vda
pvcreate /dev/vdb
vgcreate vgw /dev/vdb
lvcreate -y -L 100M -n data vgw
mkfs.ext4 -q -L wdata /dev/vgw/data
mdadm --create /dev/md7 --run --level=1 --raid-devices=2 --metadata=1.2 /dev/vdc /dev/vdd
mkfs.ext4 -q -L wmd /dev/md7
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 /dev/vde < /tmp/pass
cryptsetup open /dev/vde wcrypt < /tmp/pass
mkfs.ext4 -q -L wcrypt /dev/mapper/wcrypt
mkdir -p /mnt/t && mount /dev/vda /mnt/t
mkdir -p /mnt/t/data /mnt/t/md /mnt/t/crypt
mount /dev/vgw/data /mnt/t/data && mount /dev/md7 /mnt/t/md && mount /dev/mapper/wcrypt /mnt/t/crypt
RECOVER_ARGS=(--passphrase-file /tmp/pass)
recover_and_capture /dev/vda /dev/vdb /dev/vdc /dev/vdd /dev/vde
"#;

/// (x) recoveries that must fail, each with a non-zero exit and a message
/// naming the cause, never "recovery finished": a layout that needs GRUB
/// where the restored files have none, a corrupted backup, a file added
/// to the archive, a missing backup, a restic backup with a wrong
/// passphrase, a target disk too small, a backup made with another image,
/// one not signed with the trusted key. Then the same backup recovers,
/// signed and made with the running image.
const SCENARIO_X: &str = r##"
sfdisk /dev/vda <<EOF
label: gpt
size=300MiB, type=L, name=root
size=100MiB, type=L, name=boot
type=S
EOF
mkfs.ext4 -q -L root /dev/vda1
mkfs.ext4 -q -L boot /dev/vda2
mkswap /dev/vda3
mkfs.ext4 -q -L REAR-000 /dev/vdb
mkdir -p /mnt/t && mount /dev/vda1 /mnt/t && mkdir -p /mnt/t/boot && mount /dev/vda2 /mnt/t/boot
for i in $(seq 1 400); do head -c 4096 /dev/urandom > /mnt/t/f$i; done
echo kernel > /mnt/t/boot/vmlinuz-test
mkdir -p /etc/rear-build
printf '[backup]\nurl = "usb://REAR-000"\n' > /etc/rear-build/config.toml
rear-build savelayout
# A restic backup too, for the wrong-passphrase case below.
printf 'the-right-passphrase\n' > /etc/rear-build/restic.pass
chmod 600 /etc/rear-build/restic.pass
printf '[backup]\nmethod = "restic"\nurl = "usb://REAR-000"\npassphrase_file = "/etc/rear-build/restic.pass"\n' > /etc/rear-build/config.toml
rear-build mkbackuponly
# The tar backup is signed where it is made, and its manifest names the
# image it was made with (this running one).
rear-build keygen -o /etc/rear-build/sign --unencrypted
rear-build keygen -o /tmp/other --unencrypted
printf '[backup]\nurl = "usb://REAR-000"\n[sign]\nkey = "/etc/rear-build/sign.key"\n' > /etc/rear-build/config.toml
rear-build mkbackuponly
# It unmounted the target it mounted; the cases below look into it.
if findmnt -q /run/rear-build/target; then echo "mkbackuponly left the target mounted"; exit 1; fi
mount "$(blkid -L REAR-000)" /run/rear-build/target
B=/run/rear-build/target/rear/$(hostname)
ls -l "$B"
teardown /dev/vda
clean() {
    local m
    for m in $(awk '$2 ~ "^/mnt/local" {print $2}' /proc/mounts | sort -r); do umount "$m"; done
    swapoff -a || true
}
must_fail() {
    local name=$1 rc=0
    shift
    "$@" > "/results/$name.out" 2>&1 || rc=$?
    echo "$rc" > "/results/$name.rc"
    cat "/results/$name.out"
    clean
}
# The same disks, but as a system: / and /boot, GRUB on /dev/vda.
sed -e 's#"/mnt/t/boot"#"/boot"#' -e 's#"/mnt/t"#"/"#' \
    -e 's#"firmware": "bios"#"firmware": "bios", "grub_disks": ["/dev/vda"]#' \
    /var/lib/rear-build/layout.json > /tmp/system.json
grep -q '"grub_disks"' /tmp/system.json
must_fail bootloader rear-build recover --yes --layout /tmp/system.json
# The archive of the generation the `current` pointer names.
A="$B/$(cat "$B/current")/backup.tar.zst"
cp "$A" /tmp/good.tar.zst
printf 'not zstd data at all' | dd of="$A" bs=1 seek=20000 conv=notrunc status=none
must_fail corrupted rear-build recover --yes
# A file slipped into the archive (as by someone who can write to the
# backup server): tar restores it, no manifest entry vouches for it.
zstd -q -d -o /tmp/plain.tar /tmp/good.tar.zst
# Each file system is in the archive under its mount point written as
# one name (%2Fmnt%2Ft for /mnt/t: docs/backup.md).
mkdir -p /tmp/evil/%2Fmnt%2Ft/etc/cron.d && echo '* * * * * root true' > /tmp/evil/%2Fmnt%2Ft/etc/cron.d/evil
tar --append --file=/tmp/plain.tar -C /tmp/evil ./%2Fmnt%2Ft/etc/cron.d/evil
zstd -q -f -o "$A" /tmp/plain.tar && rm /tmp/plain.tar
must_fail extra rear-build recover --yes
cp /tmp/good.tar.zst "$A"
mv "$B" /tmp/moved-backup
# No backup: found out before any disk is written (vda keeps its bytes;
# --restart, so no step counts as done from the run before).
# Read from the disk itself: the whole disk's page cache is not the one
# its partitions were written through.
disk_sum() { sync; blockdev --flushbufs /dev/vda; echo 3 > /proc/sys/vm/drop_caches; sha256sum /dev/vda; }
disk_sum > /tmp/vda-before
must_fail missing rear-build recover --yes --restart
disk_sum > /tmp/vda-after
cat /tmp/vda-before /tmp/vda-after
if [ "$(cat /tmp/vda-before)" = "$(cat /tmp/vda-after)" ]; then echo unchanged; else echo changed; fi > /results/missing.disk
rm -rf "$B" && mv /tmp/moved-backup "$B"
# A wrong passphrase: found out before any disk is written, too.
cp /etc/rear-build/config.toml /tmp/tar.toml
printf 'a-wrong-passphrase\n' > /etc/rear-build/restic.pass
printf '[backup]\nmethod = "restic"\nurl = "usb://REAR-000"\npassphrase_file = "/etc/rear-build/restic.pass"\n' > /etc/rear-build/config.toml
disk_sum > /tmp/vda-before
must_fail wrongpass rear-build recover --yes --restart
disk_sum > /tmp/vda-after
if [ "$(cat /tmp/vda-before)" = "$(cat /tmp/vda-after)" ]; then echo unchanged; else echo changed; fi > /results/wrongpass.disk
cp /tmp/tar.toml /etc/rear-build/config.toml
# The backup's manifest names another image than this one: refused before
# any disk is written.
S="$B/$(cat "$B/current")/backup.sums"
cp "$S" /tmp/good.sums
ID=$(cat /etc/rear-build/image-id)
sed -i "1s/\"image\":\"$ID\"/\"image\":\"$(printf '%064d' 0)\"/" "$S"
if cmp -s "$S" /tmp/good.sums; then echo "the image id was not in the backup's manifest"; head -c 400 "$S"; exit 1; fi
disk_sum > /tmp/vda-before
must_fail otherimage rear-build recover --yes --restart
disk_sum > /tmp/vda-after
if [ "$(cat /tmp/vda-before)" = "$(cat /tmp/vda-after)" ]; then echo unchanged; else echo changed; fi > /results/otherimage.disk
cp /tmp/good.sums "$S"
# A trusted key the backup is not signed with: refused as well.
printf '[trust]\npubkey = "/tmp/other.pub"\n' >> /etc/rear-build/config.toml
disk_sum > /tmp/vda-before
must_fail otherkey rear-build recover --yes --restart
disk_sum > /tmp/vda-after
if [ "$(cat /tmp/vda-before)" = "$(cat /tmp/vda-after)" ]; then echo unchanged; else echo changed; fi > /results/otherkey.disk
cp /tmp/tar.toml /etc/rear-build/config.toml
printf '[trust]\npubkey = "/etc/rear-build/sign.pub"\n' >> /etc/rear-build/config.toml
must_fail too-small rear-build recover --yes --map /dev/vda=/dev/vdc
# --restart: the file systems hold what the failed restores left (the
# slipped-in file among it), which a restore into them now refuses.
rear-build recover --yes --restart 2>&1 | tee /results/ok.out
"##;

/// (m) a partitioned RAID1 of whole disks, as on many servers: md127 on
/// /dev/vda and /dev/vdb themselves, GPT on the array (ESP, /boot, an LVM
/// PV), and LVs whose extents are not in name order: root's first
/// segment at the PV's start, home after it, root's second segment after
/// home.
const SCENARIO_M: &str = r#"
mdadm --create /dev/md127 --run --metadata=1.2 --level=1 --raid-devices=2 --name=sys /dev/vda /dev/vdb
sfdisk /dev/md127 <<EOF
label: gpt
size=64MiB, type=U, name="EFI system"
size=128MiB, type=L, name=boot
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name=lvm
EOF
mkfs.vfat -F 32 -n ESP /dev/md127p1
mkfs.ext4 -q -L boot /dev/md127p2
pvcreate /dev/md127p3
vgcreate vgm /dev/md127p3
lvcreate -y -L 100M -n root vgm
lvcreate -y -L 60M -n home vgm
lvextend -y -L +20M vgm/root
lvs --segments -o lv_name,seg_start_pe,seg_pe_ranges vgm
mkfs.ext4 -q -L root /dev/vgm/root
mkfs.ext4 -q -L home /dev/vgm/home
mkdir -p /mnt/t && mount /dev/vgm/root /mnt/t
mkdir -p /mnt/t/boot /mnt/t/home && mount /dev/md127p2 /mnt/t/boot && mount /dev/vgm/home /mnt/t/home
mkdir -p /mnt/t/boot/efi && mount /dev/md127p1 /mnt/t/boot/efi
recover_and_capture /dev/vda /dev/vdb
cat /proc/mdstat
mdadm --detail /dev/md127
sfdisk --dump /dev/md127
lvs --segments -o lv_name,seg_start_pe,seg_pe_ranges vgm
"#;

/// (i) an Intel RST (IMSM) container on the whole disks /dev/vda and
/// /dev/vdb, a RAID1 volume in it, GPT on the volume with two ext4. mdadm
/// makes IMSM metadata without the platform's option ROM only with
/// IMSM_NO_PLATFORM=1, and on virtio disks (no SCSI serial) only with
/// IMSM_DEVNAME_AS_SERIAL=1; recover inherits both.
const SCENARIO_I: &str = r#"
export IMSM_NO_PLATFORM=1 IMSM_DEVNAME_AS_SERIAL=1
# Unmounted and stopped before power-off: the init kills mdmon, and writes
# to an IMSM volume without it wait for ever.
trap 'rc=$?; echo "SCRIPT-EXIT=$rc"; save_results; umount -R /mnt/t || true; mdadm --stop --scan || true; exit $rc' EXIT
mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=2 /dev/vda /dev/vdb
mdadm --create /dev/md/vol0 --run --level=1 --raid-devices=2 --size=614400 /dev/md/imsm0
cat /proc/mdstat
md=$(readlink -f /dev/md/vol0)
sfdisk "$md" <<EOF
label: gpt
size=100MiB, type=L, name=boot
type=L, name=root
EOF
mkfs.ext4 -q -L iboot "${md}p1"
mkfs.ext4 -q -L iroot "${md}p2"
mkdir -p /mnt/t && mount "${md}p2" /mnt/t && mkdir -p /mnt/t/boot && mount "${md}p1" /mnt/t/boot
recover_and_capture /dev/vda /dev/vdb
cat /proc/mdstat
"#;

struct Image {
    kernel: PathBuf,
    initrd: PathBuf,
    _dir: tempfile::TempDir,
}

/// A layout of GPT disks, each with a partition of 1.5 GiB and one filling
/// the rest, both ext4.
fn layout_json(disks: &[(&str, u64)]) -> Layout {
    let mut l = Layout::new();
    for (dev, size) in disks {
        let part = |n: u32, start: u64, size: u64| rear_layout::Partition {
            number: n,
            device: format!("{dev}{n}"),
            start,
            size,
            type_: rear_layout::gpt::LINUX_FS.into(),
            ..Default::default()
        };
        l.disks.push(rear_layout::Disk {
            device: dev.to_string(),
            size: *size,
            logical_sector_size: 512,
            physical_sector_size: 512,
            label: Some(rear_layout::Label::Gpt),
            partitions: vec![
                part(1, MIB, 1536 * MIB),
                part(2, 1537 * MIB, size - 1539 * MIB),
            ],
            ..Default::default()
        });
        for n in 1..=2 {
            l.filesystems.push(rear_layout::Filesystem {
                device: format!("{dev}{n}"),
                fstype: "ext4".into(),
                ..Default::default()
            });
        }
    }
    l
}

/// One rescue image for all scenarios, carrying their scripts.
fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut includes = Vec::new();
        for (name, body) in [
            ("a", SCENARIO_A),
            ("b", SCENARIO_B),
            ("c", SCENARIO_C),
            ("d", SCENARIO_D),
            ("e", SCENARIO_E),
            ("f", SCENARIO_F),
            ("g", SCENARIO_G),
            ("i", SCENARIO_I),
            ("m", SCENARIO_M),
            ("r", SCENARIO_R),
            ("w", SCENARIO_W),
            ("x", SCENARIO_X),
        ] {
            let p = dir.path().join(format!("scenario-{name}"));
            std::fs::write(
                &p,
                format!("#!/bin/bash\n{RESULTS_SNIPPET}\n{PRELUDE}\n{body}"),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            includes.push((
                p,
                Box::leak(format!("/usr/local/bin/scenario-{name}").into_boxed_str()) as &str,
            ));
        }
        let two = dir.path().join("two-disks.json");
        let size = (5 << 30) / 2;
        std::fs::write(
            &two,
            layout_json(&[("/dev/vda", size), ("/dev/vdb", size)]).to_json(),
        )
        .unwrap();
        let one = dir.path().join("one-disk.json");
        std::fs::write(&one, layout_json(&[("/dev/vda", 2 << 30)]).to_json()).unwrap();
        let foreign = dir.path().join("foreign.json");
        let mut l = layout_json(&[("/dev/vda", 2 << 30)]);
        l.filesystems.push(rear_layout::Filesystem {
            device: "/dev/vdb1".into(),
            fstype: "ext4".into(),
            ..Default::default()
        });
        std::fs::write(&foreign, l.to_json()).unwrap();
        let other = dir.path().join("other-serial.json");
        let mut l = layout_json(&[("/dev/vda", 2 << 30)]);
        l.disks[0].serial = Some("OLDOS".into());
        std::fs::write(&other, l.to_json()).unwrap();
        includes.push((other, "/etc/test/other-serial.json"));
        includes.push((two, "/etc/test/two-disks.json"));
        includes.push((one, "/etc/test/one-disk.json"));
        includes.push((foreign, "/etc/test/foreign.json"));
        let (kernel, initrd) = build_image(
            &dir.path().join("store"),
            &dir.path().join("out"),
            &includes,
        );
        Image {
            kernel,
            initrd,
            _dir: dir,
        }
    })
}

fn disks(dir: &Path, sizes: &[u64]) -> Vec<PathBuf> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = dir.join(format!("disk{i}.raw"));
            std::fs::File::create(&p).unwrap().set_len(*s).unwrap();
            p
        })
        .collect()
}

fn load(dir: &Path, name: &str) -> Layout {
    let p = dir.join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    Layout::from_json(&text).unwrap()
}

/// Runs a scenario; returns the results directory.
fn scenario(name: &str, sizes: &[u64]) -> PathBuf {
    let img = image();
    let work = tempfile::tempdir().unwrap().keep();
    let d = disks(&work, sizes);
    let out = artefact_dir().join(format!("layout-{name}"));
    let _ = std::fs::remove_dir_all(&out);
    let code = run_in_rescue(
        &format!("layout-{name}"),
        &img.kernel,
        &img.initrd,
        &format!("/usr/local/bin/scenario-{name}"),
        &d,
        &out,
        Duration::from_secs(900),
    );
    let log = std::fs::read_to_string(out.join("log.txt")).unwrap_or_default();
    assert_eq!(
        code,
        0,
        "scenario {name} failed in the VM; its log:\n{}",
        tail(&log, 60)
    );
    let _ = std::fs::remove_dir_all(&work);
    out
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn assert_same(out: &Path, before: &str, after: &str, opts: &compare::Options) -> Layout {
    let (a, b) = (load(out, before), load(out, after));
    let d = compare::diff(&a, &b, opts);
    assert!(
        d.is_empty(),
        "{after} differs from {before}:\n{}",
        d.join("\n")
    );
    a
}

fn recreated() -> compare::Options {
    compare::Options {
        recreated: true,
        ..Default::default()
    }
}

#[test]
fn a_gpt_esp_ext4_swap() {
    if vm_tests_skipped("layout a") {
        return;
    }
    let out = scenario("a", &[1 << 30]);
    let l = assert_same(&out, "saved.json", "after.json", &recreated());
    // The capture saw what the script made, so the comparison means something.
    assert_eq!(l.disks[0].partitions.len(), 3);
    let fs: Vec<&str> = l.filesystems.iter().map(|f| f.fstype.as_str()).collect();
    assert_eq!(fs, ["vfat", "ext4"]);
    assert_eq!(l.swaps.len(), 1);
    assert!(l.mounts.iter().any(|m| m.mountpoint == "/mnt/t/boot/efi"));
}

#[test]
fn c_raid1_lvm_thin() {
    if vm_tests_skipped("layout c") {
        return;
    }
    let out = scenario("c", &[1 << 30, 1 << 30]);
    let l = assert_same(&out, "saved.json", "after.json", &recreated());
    assert_eq!(l.raids.len(), 1);
    assert_eq!(l.raids[0].level, "raid1");
    let lvs: Vec<(&str, &str)> = l
        .lvs
        .iter()
        .map(|v| (v.name.as_str(), v.segtype.as_str()))
        .collect();
    assert!(
        lvs.contains(&("pool", "thin-pool"))
            && lvs.contains(&("thin", "thin"))
            && lvs.contains(&("data", "linear")),
        "{lvs:?}"
    );
}

#[test]
fn g_refusals_write_nothing() {
    if vm_tests_skipped("layout g") {
        return;
    }
    let img = image();
    let work = tempfile::tempdir().unwrap();
    let d = disks(work.path(), &[2 << 30, 2 << 30, 1 << 30, 3 << 30]);
    // vda: a disk of the layout's name and size holding data of its own;
    // vdb, of the same size, too (a blank one would rightly be taken).
    for disk in &d[..2] {
        let st = std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "data"])
            .arg(disk)
            .status()
            .expect("run mkfs.ext4");
        assert!(st.success(), "mkfs.ext4 on {}", disk.display());
    }
    // Something recognisable on every disk, so "unchanged" is not trivially zeros.
    for (i, p) in d.iter().enumerate() {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        for off in [0u64, 1 << 20, (1 << 30) - 4096] {
            f.seek(std::io::SeekFrom::Start(off)).unwrap();
            f.write_all(format!("disk {i} at {off}").as_bytes())
                .unwrap();
        }
    }
    let before: Vec<String> = d.iter().map(|p| sha256_file(p)).collect();
    let out = artefact_dir().join("layout-g");
    let _ = std::fs::remove_dir_all(&out);
    let code = run_in_rescue(
        "layout-g",
        &img.kernel,
        &img.initrd,
        "/usr/local/bin/scenario-g",
        &d,
        &out,
        Duration::from_secs(600),
    );
    let log = std::fs::read_to_string(out.join("log.txt")).unwrap_or_default();
    assert_eq!(code, 0, "scenario g failed; log:\n{}", tail(&log, 60));
    let after: Vec<String> = d.iter().map(|p| sha256_file(p)).collect();
    assert_eq!(before, after, "a refused recovery changed a disk");
    let read = |n: &str| std::fs::read_to_string(out.join(format!("{n}.out"))).unwrap();
    assert!(
        read("incomplete").contains("no disk here matches /dev/vdb"),
        "{}",
        read("incomplete")
    );
    assert!(
        read("outside").contains("/dev/vdb1") && read("outside").contains("outside the mapping"),
        "{}",
        read("outside")
    );
    assert!(
        read("not-one-to-one").contains("not one-to-one"),
        "{}",
        read("not-one-to-one")
    );
    assert!(
        read("wrong-disk").contains("no disk here matches /dev/vda")
            && read("wrong-disk").contains("holds ext4"),
        "{}",
        read("wrong-disk")
    );
    assert!(
        read("too-small").contains("/dev/vdc (1.0 GiB) is too small"),
        "{}",
        read("too-small")
    );
    assert!(
        read("protected").contains("refusing to write /dev/vdd"),
        "{}",
        read("protected")
    );
    assert!(
        read("no-confirmation").contains("--yes"),
        "{}",
        read("no-confirmation")
    );
}

#[test]
fn r_recover_restores_and_verifies_the_backup() {
    if vm_tests_skipped("recover r") {
        return;
    }
    let out = scenario("r", &[1 << 30, 512 << 20]);
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
    let rec = read("recover.out");
    assert!(
        rec.contains("restored and verified") && rec.contains("recovery finished"),
        "{rec}"
    );
    let before = read("before.sha");
    assert_eq!(before.lines().count(), 3);
    assert_eq!(before, read("after.sha"));
    assert_eq!(read("xattr"), "hello");
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn b_msdos_extended_logical() {
    if vm_tests_skipped("layout b") {
        return;
    }
    let out = scenario("b", &[1 << 30]);
    let l = assert_same(&out, "saved.json", "after.json", &recreated());
    let kinds: Vec<_> = l.disks[0]
        .partitions
        .iter()
        .map(|p| (p.number, p.kind))
        .collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn d_luks2_lvm_ext4() {
    if vm_tests_skipped("layout d") {
        return;
    }
    let out = scenario("d", &[1 << 30]);
    let l = assert_same(&out, "saved.json", "after.json", &recreated());
    assert_eq!(l.luks.len(), 1);
    assert_eq!(l.luks[0].version, 2);
    let saved = std::fs::read_to_string(out.join("saved.json")).unwrap();
    assert!(
        !saved.contains("correct horse"),
        "the passphrase leaked into the layout"
    );
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn e_btrfs_subvolumes() {
    if vm_tests_skipped("layout e") {
        return;
    }
    let out = scenario("e", &[1 << 30]);
    let l = assert_same(&out, "saved.json", "after.json", &recreated());
    let subs: Vec<&str> = l.filesystems[0]
        .subvolumes
        .iter()
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(subs, ["@", "@home", "@var"]);
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn f_migration_larger_and_smaller() {
    if vm_tests_skipped("layout f") {
        return;
    }
    let out = scenario("f", &[1 << 30, 2 << 30, (1 << 30) - 64 * MIB]);
    for (after, new) in [
        ("after-larger.json", "/dev/vdb"),
        ("after-smaller.json", "/dev/vdc"),
    ] {
        let opts = compare::Options {
            mapping: [("/dev/vda".to_string(), new.to_string())].into(),
            ignore_sizes: true,
            recreated: true,
        };
        assert_same(&out, "saved.json", after, &opts);
    }
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn w_whole_disks_without_partition_tables() {
    if vm_tests_skipped("layout w") {
        return;
    }
    let out = scenario("w", &[256 << 20; 5]);
    let l = assert_same(&out, "saved.json", "after.json", &recreated());
    // What the script made was captured as the disks' own content.
    let on_disk = |dev: &str| {
        l.disks
            .iter()
            .any(|d| d.device == dev && d.partitions.is_empty())
    };
    for d in ["/dev/vda", "/dev/vdb", "/dev/vdc", "/dev/vdd", "/dev/vde"] {
        assert!(on_disk(d), "{d} without partitions in {:?}", l.disks);
    }
    assert!(l
        .filesystems
        .iter()
        .any(|f| f.device == "/dev/vda" && f.fstype == "ext4"));
    assert!(l
        .pvs
        .iter()
        .any(|p| p.device == "/dev/vdb" && p.vg == "vgw"));
    assert!(l
        .raids
        .iter()
        .any(|r| r.devices == ["/dev/vdc", "/dev/vdd"] && r.level == "raid1"));
    assert!(l.luks.iter().any(|k| k.backing == "/dev/vde"));
    assert!(l.mounts.iter().any(|m| m.mountpoint == "/mnt/t/crypt"));
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn m_partitioned_raid1_of_whole_disks_keeps_lv_extents() {
    if vm_tests_skipped("layout m") {
        return;
    }
    let out = scenario("m", &[1 << 30, 1 << 30]);
    // Partition table (start, size, type, PARTUUID, name), md level,
    // metadata and UUID, LV segments, file system UUIDs and labels.
    let l = assert_same(&out, "saved.json", "after.json", &recreated());
    let after = load(&out, "after.json");
    for l in [&l, &after] {
        assert_eq!(l.raids.len(), 1, "{:?}", l.raids);
        let md = &l.raids[0];
        assert_eq!(md.device, "/dev/md127");
        assert_eq!((md.level.as_str(), md.metadata.as_str()), ("raid1", "1.2"));
        assert_eq!(md.devices, ["/dev/vda", "/dev/vdb"]);
        assert_eq!(md.label, Some(rear_layout::Label::Gpt));
        let parts: Vec<&str> = md.partitions.iter().map(|p| p.device.as_str()).collect();
        assert_eq!(parts, ["/dev/md127p1", "/dev/md127p2", "/dev/md127p3"]);
        assert!(md.partitions.iter().all(|p| p.uuid.is_some()));
        // The disks under it hold the array alone, no table of their own.
        assert!(l.disks.iter().all(|d| d.label.is_none()), "{:?}", l.disks);
        let segs = |name: &str| -> Vec<(String, u64, u64)> {
            l.lvs
                .iter()
                .find(|v| v.name == name)
                .unwrap_or_else(|| panic!("no LV {name}"))
                .segments
                .iter()
                .map(|s| (s.pv.clone(), s.start, s.count))
                .collect()
        };
        // 4 MiB extents: root 25 at 0, home 15 at 25, root's 5 more at 40.
        let pv = "/dev/md127p3".to_string();
        assert_eq!(segs("root"), [(pv.clone(), 0, 25), (pv.clone(), 40, 5)]);
        assert_eq!(segs("home"), [(pv, 25, 15)]);
        let fs: Vec<(&str, Option<&str>)> = l
            .filesystems
            .iter()
            .map(|f| (f.fstype.as_str(), f.label.as_deref()))
            .collect();
        for want in [
            ("vfat", Some("ESP")),
            ("ext4", Some("boot")),
            ("ext4", Some("root")),
            ("ext4", Some("home")),
        ] {
            assert!(fs.contains(&want), "{want:?} in {fs:?}");
        }
        assert!(l.filesystems.iter().all(|f| f.uuid.is_some()));
    }
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn i_imsm_container_volume_with_gpt() {
    if rear_tests::known_failing(
        "layout i",
        "recreating the IMSM container is refused: /dev/md127 is on /dev/md127, which is not a target",
    ) || vm_tests_skipped("layout i")
    {
        return;
    }
    let out = scenario("i", &[1 << 30, 1 << 30]);
    // The container's metadata gives its UUIDs anew: compare leaves them.
    let l = assert_same(&out, "saved.json", "after.json", &recreated());
    for l in [&l, &load(&out, "after.json")] {
        let c = l
            .raids
            .iter()
            .find(|r| r.is_container())
            .expect("a container");
        assert_eq!(
            (c.metadata.as_str(), &c.devices[..]),
            (
                "imsm",
                &["/dev/vda".to_string(), "/dev/vdb".to_string()][..]
            )
        );
        let v = l
            .raids
            .iter()
            .find(|r| !r.is_container())
            .expect("a volume");
        assert_eq!(v.devices, std::slice::from_ref(&c.device));
        assert_eq!(v.level, "raid1");
        assert_eq!(v.member_size, Some(614400 << 10));
        assert_eq!(v.label, Some(rear_layout::Label::Gpt));
        assert_eq!(v.partitions.len(), 2);
        let labels: Vec<Option<&str>> = l.filesystems.iter().map(|f| f.label.as_deref()).collect();
        assert_eq!(labels, [Some("iboot"), Some("iroot")]);
    }
}

#[test]
fn x_failed_recoveries_say_why_and_never_finish() {
    if vm_tests_skipped("recover x") {
        return;
    }
    let out = scenario("x", &[1 << 30, 512 << 20, 256 << 20]);
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
    for (case, cause) in [
        ("bootloader", "the restored system has no grub-install"),
        ("corrupted", "tar could not restore the backup"),
        (
            "extra",
            "/mnt/t/etc/cron.d/evil: restored, but not in the backup's manifest",
        ),
        ("missing", "no checksum manifest"),
        ("wrongpass", "passphrase"),
        ("too-small", "too small"),
        ("otherimage", "this rescue system is image"),
        ("otherkey", "does not verify with the trusted key"),
    ] {
        let text = read(&format!("{case}.out"));
        let rc: i32 = read(&format!("{case}.rc")).trim().parse().unwrap();
        assert_ne!(rc, 0, "{case}: exit 0\n{text}");
        assert!(text.contains(cause), "{case}: no {cause:?} in:\n{text}");
        assert!(!text.contains("recovery finished"), "{case}:\n{text}");
    }
    // A missing backup and a wrong passphrase stopped recovery before it
    // wrote the disk.
    // A backup made with another image, or not signed with the trusted
    // key, too.
    for case in ["missing", "wrongpass", "otherimage", "otherkey"] {
        let out = read(&format!("{case}.out"));
        assert_eq!(read(&format!("{case}.disk")).trim(), "unchanged", "{out}");
        assert!(out.contains("before writing any disk"), "{out}");
    }
    // The bootloader failure came after the data was restored and verified,
    // and says which step failed.
    let b = read("bootloader.out");
    assert!(
        b.contains("restored and verified") && b.contains("plan the finalization"),
        "{b}"
    );
    let ok = read("ok.out");
    assert!(ok.contains("recovery finished"), "{ok}");
    // With the right pair: the backup signed with the trusted key and
    // made with this image.
    assert!(
        ok.contains("its manifest is signed with key") && ok.contains("made with this image"),
        "{ok}"
    );
}
