//! Fuzz tests of this crate's parsers of outside input (docs/fuzz.md):
//! ReaR's disklayout.conf, layout files, and every command output and
//! /proc or /sys file capture reads, each on its own and through
//! `capture()` on recorded fixtures with some of their outputs changed.
//! No input may panic or hang; every refusal says where (a line, a
//! field, the command and device).

use crate::capture::parse::*;
use crate::capture::{self, CaptureError, FixtureSource, Source};
use crate::model::Layout;
use crate::plan::{self, PresentDisk};
use crate::{present, rear, show, validate};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use rear_tests::fuzz::{self, apply, apply_json, edit, json, json_edit, text};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

const SCENARIOS: &[&str] = &[
    "gpt-esp",
    "msdos-logical",
    "raid1-lvm-thin",
    "luks-lvm",
    "btrfs-subvols",
];

/// Every recorded output of the commands whose fixture names start with
/// `prefix`, over all capture scenarios (failures and empty ones left out).
fn outputs(prefix: &str) -> Vec<String> {
    let out = recorded_outputs(prefix);
    assert!(!out.is_empty(), "no recorded output of {prefix}");
    out
}

fn recorded_outputs(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in SCENARIOS {
        let dir = fixtures().join("capture").join(s).join("cmd");
        out.extend(
            fuzz::examples(&dir, |n| n.starts_with(prefix) && !n.ends_with(".fail"))
                .into_iter()
                .filter(|t| !t.trim().is_empty()),
        );
    }
    out
}

/// A recorded file of every capture scenario (`proc/swaps`).
fn files(path: &str) -> Vec<String> {
    SCENARIOS
        .iter()
        .filter_map(|s| {
            std::fs::read_to_string(fixtures().join("capture").join(s).join("files").join(path))
                .ok()
        })
        .collect()
}

/// A refusal of a capture parser: it names the command (one of `cmds`),
/// and a line or one of the format's fields (`fields`).
fn says_where(e: &CaptureError, cmds: &[&str], fields: &[&str]) -> Result<bool, TestCaseError> {
    let msg = e.to_string();
    prop_assert!(
        cmds.iter()
            .any(|c| msg.starts_with(&format!("cannot read the output of {c}: "))),
        "does not name the command ({cmds:?}): {msg}"
    );
    prop_assert!(
        msg.contains(" line ") || fields.iter().any(|f| msg.contains(f)),
        "names no line and none of the fields {fields:?}: {msg}"
    );
    Ok(false)
}

/// A refusal of a layout (validation): it names the object, or the line
/// of the layout file.
fn layout_refusal_says_where(msg: &str) -> Result<bool, TestCaseError> {
    let objects = [
        "layout",
        "disk ",
        "RAID ",
        "LUKS ",
        "PV ",
        "LV ",
        "file system ",
        "swap ",
        "mount ",
    ];
    prop_assert!(
        msg.contains(" at line ") || objects.iter().any(|o| msg.starts_with(o)),
        "names no line or object: {msg}"
    );
    Ok(false)
}

/// Every line type ReaR writes, in each of its forms (old ones too), so
/// that edits reach every line parser.
const EVERY_LINE_TYPE: &str = "\
disk /dev/sda 21474836480 gpt
part /dev/sda 1048576 1048576 EFI%20System boot,esp /dev/sda1 11111111-2222-4333-8444-555555555555
part /dev/sda 1073741824 2097152 rear-noname lvm /dev/sda2 no-partuuid
part /dev/sda 1048576 1075838976 BIOS0x20boot bios_grub,legacy_boot,hidden /dev/sda3
disk /dev/sdb 10737418240 msdos
part /dev/sdb 1073741824B 1048576B primary boot /dev/sdb1
part /dev/sdb 5368709120 1074790400 extended lba /dev/sdb2
part /dev/sdb 1073741824 1075838976 logical swap /dev/sdb5
part /dev/sdb 1073741824 unknown logical lvm,raid /dev/sdb6
disk /dev/sdc 10737418240 unknown
disk /dev/sdd 10737418240 gpt_sync_mbr
disk /dev/dasda 7385448448 dasd
part /dev/dasda 209715200 98304 ext2 none /dev/dasda1
raidarray /dev/md0 level=raid1 raid-devices=2 devices=/dev/sdc,/dev/sdd,/dev/sde name=r metadata=1.2 uuid=a:b:c:d spare-devices=1 chunk=512 layout=n2 bitmap=internal
raiddisk /dev/md0 10736369664 gpt
part /dev/md0 1048576 1048576 rear-noname none /dev/md0p1
raid /dev/md1 metadata=0.90 level=raid5 raid-devices=3 uuid=e:f:a:b devices=/dev/sdf1,/dev/sdg1
raidarray /dev/md127 metadata=imsm level=container raid-devices=2 uuid=c:d:e:f devices=/dev/sdh,/dev/sdi
raidarray /dev/md126 level=raid1 raid-devices=2 uuid=1:2:3:4 devices=/dev/md127 size=390706176
lvmdev /dev/vg /dev/sda2 7wwpcO-KmNN-qsTE-7sp7-JBJS-vBdC-Zyt1W7 2093056
lvmdev /dev/vg /dev/md1
lvmgrp /dev/vg 4096 255 1044480
lvmgrp /dev/old 4096
lvmdev /dev/old /dev/sdb6 x 41940992
lvmvol /dev/vg pool 536870912b thin,pool poolmetadatasize:4194304b chunksize:65536b
lvmvol /dev/vg thin 1073741824b thin,sparse thinpool:pool
lvmvol /dev/vg m 1048576b mirror mirrors:1
lvmvol /dev/vg r5 1048576b raid,raid5,raid5_ls stripes:2 stripesize:65536b
lvmvol /dev/vg odd 1048576b raid,RAID_UNKNOWNTYPE readahead:auto
lvmvol /dev/vg c 1048576b cache
lvmvol /dev/old root 3430 28098560
fs /dev/mapper/vg-thin / ext4 uuid=u label=my root blocksize=4096 reserved_blocks=5% max_mounts=-1 check_interval=0d bytes_per_inode=16384 default_mount_options=user_xattr options=rw,relatime
fs /dev/sdb1 /boot vfat uuid=3411-1107 label= options=rw
fs /dev/sda3 /data btrfs uuid=v label='data' nodesize=16384 sectorsize=4096 features=no-holes options=rw,subvol=/@
btrfsdefaultsubvol /dev/sda3 /data 256 @
btrfssnapshotsubvol /dev/sda3 /data 300 @/.snapshots/1/snapshot
btrfsnormalsubvol /dev/sda3 /data 257 <FS_TREE>/@home
btrfsmountedsubvol /dev/sda3 /data/home rw,subvol=/@home @home
btrfsmountedsubvol /dev/sda3 /data/top rw
btrfsnocopyonwrite @home
swap /dev/sdb5 uuid=w label=swap space
crypt /dev/mapper/c1 /dev/sdb6 type=luks2 cipher=aes-xts-plain64 key_size=512 hash=sha256 uuid=x pbkdf=argon2id keyfile=/k
crypt /dev/mapper/c2 /dev/sdb7 cipher=aes mode=cbc-essiv:sha256 hash=sha1 uuid=y password=s3cret
multipath /dev/mapper/mpatha 10737418240 gpt /dev/sdj,/dev/sdk
part /dev/mapper/mpatha 10736369664 1048576 rear-noname lvm /dev/mapper/mpatha1
drbd /dev/drbd0 r0 /dev/sdl1
opaldisk /dev/nvme1n1 boot=y password=s3cret
smartarray 0
logicaldrive /dev/sdm 0|A|1 raid=1 drives=1I:1:1,1I:1:2, spares= sectors=32 stripesize=256
dasd_channel 0.0.0150 active dasda 94:0
dasdfmt -b 4096 -d cdl -y /dev/dasda
#disk /dev/sdn 1073741824 gpt
#part /dev/sdn 1072676352 1048576 rear-noname lvm /dev/sdn1
#lvmvol /dev/backup data 1069547520b linear
#fs /dev/mapper/backup-data /backup ext4 uuid=z label= options=rw
# a comment
";

/// ReaR's disklayout.conf, as `rear-build import-rear` reads it: the
/// import, then the check of what it made, its file and its tree.
#[test]
fn disklayout_conf() {
    let dir = fixtures().join("rear");
    let mut examples = fuzz::examples(&dir, |n| n.ends_with(".disklayout.conf"));
    examples.push(EVERY_LINE_TYPE.to_string());
    fuzz::run("disklayout.conf", text(examples), |t| {
        match rear::import(&t) {
            Ok(l) => {
                let _ = show::tree(&l);
                match validate::check(&l) {
                    Ok(()) => {
                        let _ = l.to_json();
                        Ok(true)
                    }
                    Err(e) => layout_refusal_says_where(&e),
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                let line = t.lines().nth(e.line.wrapping_sub(1));
                prop_assert!(
                    line.is_some(),
                    "line {} of {}: {msg}",
                    e.line,
                    t.lines().count()
                );
                prop_assert!(
                    msg.starts_with(&format!("disklayout.conf:{}: ", e.line)),
                    "{msg}"
                );
                Ok(false)
            }
        }
    });
}

/// What recovery would be given for a layout: its own disks, blank.
fn present_for(l: &Layout) -> Vec<PresentDisk> {
    l.disks
        .iter()
        .map(|d| PresentDisk {
            device: d.device.clone(),
            size: d.size,
            logical_sector_size: d.logical_sector_size,
            ..Default::default()
        })
        .collect()
}

/// A layout file (`Layout::from_json`, with its validation); what loads
/// is planned onto disks like its own and shown.
#[test]
fn layout_json() {
    use crate::scenarios::*;
    let examples: Vec<String> = [
        gpt_esp_ext4_swap(),
        raid1_lvm_thin(),
        luks_on_lvm(),
        msdos_logical(),
        gpt_lvm_linear(),
        bios_gpt_grub(),
        uefi_gpt_grub(),
    ]
    .iter()
    .map(Layout::to_json)
    .collect();
    fuzz::run("layout JSON", json(examples), |t| {
        match Layout::from_json(&t) {
            Ok(l) => {
                let _ = show::tree(&l);
                let _ = plan::plan(&l, &present_for(&l), &Default::default());
                Ok(true)
            }
            Err(e) => layout_refusal_says_where(&e),
        }
    });
}

/// A byte count at or near the edges of u64, or anything.
fn edge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(512),
        Just(1 << 20),
        Just(u64::MAX / 2),
        Just(u64::MAX - 1),
        Just(u64::MAX),
        (0..1u64 << 34),
        any::<u64>(),
    ]
}

/// Layout files whose disk and partitions are at the edges: sizes and
/// starts near 0 and 2^64, every kind and number. What loads fits its
/// disk and does not overlap, counted without overflow.
#[test]
fn layout_partitions_at_the_edges() {
    use crate::model::{partition_device, Disk, Label, PartKind, Partition};
    let kind = select(&[PartKind::Primary, PartKind::Extended, PartKind::Logical][..]);
    let part = (0..8u32, kind, edge(), edge());
    let disk = (
        select(&[Label::Gpt, Label::Msdos][..]),
        edge(),
        select(&[512u32, 4096, 0, u32::MAX][..]),
        prop::collection::vec(part, 0..5),
    );
    let layouts = disk.prop_map(|(label, size, sector, parts)| {
        let mut l = Layout::new();
        l.disks.push(Disk {
            device: "/dev/vda".into(),
            size,
            logical_sector_size: sector,
            physical_sector_size: sector,
            label: Some(label),
            partitions: parts
                .into_iter()
                .map(|(number, kind, start, size)| Partition {
                    number,
                    device: partition_device("/dev/vda", number),
                    start,
                    size,
                    type_: "0x83".into(),
                    kind,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
        l.to_json()
    });
    fuzz::run(
        "layout JSON (partitions at the edges)",
        layouts,
        |t| match Layout::from_json(&t) {
            Ok(l) => {
                let d = &l.disks[0];
                let end = |p: &Partition| u128::from(p.start) + u128::from(p.size);
                for p in &d.partitions {
                    prop_assert!(end(p) <= u128::from(d.size), "past the disk: {p:?}");
                }
                for (i, a) in d.partitions.iter().enumerate() {
                    for b in &d.partitions[i + 1..] {
                        let logical = |p: &Partition| p.kind == PartKind::Logical;
                        if logical(a) == logical(b) {
                            prop_assert!(
                                end(a) <= u128::from(b.start) || end(b) <= u128::from(a.start),
                                "overlap: {a:?} {b:?}"
                            );
                        }
                    }
                }
                let _ = plan::plan(&l, &present_for(&l), &Default::default());
                Ok(true)
            }
            Err(e) => layout_refusal_says_where(&e),
        },
    );
}

/// The defining test of a capture parser that can refuse: `$parse` on
/// inputs from `$inputs`, refusals naming `$cmd` and one of `$fields`.
macro_rules! fuzz_parser {
    ($test:ident, $name:expr, $inputs:expr, $cmd:expr, $fields:expr, |$t:ident| $parse:expr) => {
        #[test]
        fn $test() {
            fuzz::run($name, $inputs, |$t: String| match $parse {
                Ok(_) => Ok(true),
                Err(e) => says_where(&e, $cmd, $fields),
            });
        }
    };
}

/// The same for a parser that takes anything (it only must not panic):
/// an input counts as taken when something came out.
macro_rules! fuzz_total {
    ($test:ident, $name:expr, $inputs:expr, |$t:ident| $parse:expr) => {
        #[test]
        fn $test() {
            fuzz::run($name, $inputs, |$t: String| Ok($parse));
        }
    };
}

fuzz_parser!(
    lsblk,
    "lsblk --json",
    json(outputs("lsblk_--json")),
    &["lsblk --json"],
    &[" at line ", "blockdevices", "\"name\""],
    |t| parse_lsblk(&t)
);

/// sfdisk with the sector sizes sysfs may report, sane or not.
#[test]
fn sfdisk() {
    let sector = prop_oneof![
        Just(512u32),
        Just(4096),
        Just(0),
        Just(u32::MAX),
        any::<u32>()
    ];
    fuzz::run(
        "sfdisk --json",
        (json(outputs("sfdisk_--json")), sector),
        |(t, ss)| match parse_sfdisk(&t, ss) {
            Ok(_) => Ok(true),
            Err(e) => says_where(
                &e,
                &["sfdisk --json"],
                &[
                    " at line ",
                    "partitiontable",
                    "\"node\"",
                    "label",
                    "partition table type",
                    "unit",
                    "partitions[",
                    "partition number",
                    "start",
                    "size",
                    "MBR type",
                ],
            ),
        },
    );
}

fuzz_total!(
    blkid_export,
    "blkid -p -o export",
    text(outputs("blkid_-p_-o_export")),
    |t| {
        let m = parse_blkid_export(&t);
        let _ = m.get("VERSION").map(|v| fat_size(v));
        !m.is_empty()
    }
);

fuzz_parser!(
    pvs,
    "pvs --reportformat json",
    json(outputs("pvs_--reportformat")),
    &["LVM json report", "pvs"],
    &[" at line ", "report.pv", "pv_name"],
    |t| parse_pvs(&t)
);

fuzz_parser!(
    vgs,
    "vgs --reportformat json",
    json(outputs("vgs_--reportformat")),
    &["LVM json report", "vgs"],
    &[" at line ", "report.vg", "vg_name", "vg_extent_size"],
    |t| parse_vgs(&t)
);

fuzz_parser!(
    lvs,
    "lvs --reportformat json",
    json(outputs("lvs_-a_--reportformat")),
    &["LVM json report", "lvs"],
    &[" at line ", "report.lv", "lv_name", "vg_name"],
    |t| parse_lvs(&t)
);

/// One more mdadm report: RAID5 with a spare, roles out of order.
const MDADM_EXPORT_RAID5: &str = "MD_LEVEL=raid5\nMD_DEVICES=3\nMD_METADATA=1.0\n\
    MD_UUID=1:2:3:4\nMD_NAME=host:boot\nMD_DEVICE_dev_sdc1_ROLE=spare\n\
    MD_DEVICE_dev_sdc1_DEV=/dev/sdc1\nMD_DEVICE_dev_sdb1_ROLE=2\n\
    MD_DEVICE_dev_sdb1_DEV=/dev/sdb1\nMD_DEVICE_dev_sda1_ROLE=0\nMD_DEVICE_dev_sdd1_ROLE=1\n\
    MD_DEVICE_dev_sdd1_DEV=/dev/sdd1\n";

fuzz_parser!(
    mdadm_export,
    "mdadm --detail --export",
    text(
        [
            outputs("mdadm_--detail_--export"),
            vec![MDADM_EXPORT_RAID5.into()]
        ]
        .concat()
    ),
    &["mdadm --detail --export"],
    &["MD_LEVEL", "MD_UUID"],
    |t| parse_mdadm_export(&t)
);

fuzz_total!(
    mdadm_detail,
    "mdadm --detail",
    text(outputs("mdadm_--detail_%")),
    |t| parse_mdadm_detail(&t) != MdDetail::default()
);

fuzz_parser!(
    luks_dump,
    "cryptsetup luksDump",
    text(outputs("cryptsetup_luksDump")),
    &["cryptsetup luksDump"],
    &[
        "Version",
        "UUID",
        "Cipher name",
        "Cipher mode",
        "Hash spec",
        "MK bits",
        "cipher",
        "key",
        "hash",
        "LUKS version"
    ],
    |t| parse_luks_dump(&t)
);

fuzz_total!(
    btrfs_show,
    "btrfs filesystem show",
    text(outputs("btrfs_filesystem_show")),
    |t| !parse_btrfs_show(&t).is_empty()
);

fuzz_total!(
    btrfs_subvolume_list,
    "btrfs subvolume list",
    text(outputs("btrfs_subvolume_list")),
    |t| !parse_btrfs_subvolume_list(&t).is_empty()
);

fuzz_total!(
    btrfs_get_default,
    "btrfs subvolume get-default",
    text(outputs("btrfs_subvolume_get-default")),
    |t| parse_btrfs_get_default(&t).is_some()
);

fuzz_parser!(
    btrfs_dump_super,
    "btrfs inspect-internal dump-super",
    text(outputs("btrfs_inspect-internal_dump-super")),
    &["btrfs inspect-internal dump-super"],
    &["nodesize"],
    |t| parse_btrfs_dump_super(&t)
);

fuzz_total!(
    btrfs_df,
    "btrfs filesystem df",
    text(outputs("btrfs_filesystem_df")),
    |t| parse_btrfs_df(&t) != (None, None)
);

fuzz_total!(lsattr, "lsattr -d", text(outputs("lsattr_-d")), |t| {
    parse_lsattr_nocow(&t)
});

fuzz_parser!(
    xfs_info,
    "xfs_info",
    text([recorded_outputs("xfs_info"), outputs("xfs_db")].concat()),
    &["xfs_info"],
    &["bsize"],
    |t| parse_xfs_info(&t)
);

fuzz_parser!(
    dumpe2fs,
    "dumpe2fs -h",
    text(outputs("dumpe2fs_-h")),
    &["dumpe2fs -h"],
    &["Block size", "Block count"],
    |t| parse_dumpe2fs(&t)
);

/// /proc/self/mountinfo, as capture reads it and as recovery's look at
/// the present disks reads it (line by line).
#[test]
fn mountinfo() {
    fuzz::run(
        "/proc/self/mountinfo",
        text(files("proc/self/mountinfo")),
        |t| {
            let _ = present::mounted(&t);
            match parse_mountinfo(&t) {
                Ok(_) => Ok(true),
                Err(e) => says_where(&e, &["mountinfo"], &[]),
            }
        },
    );
}

fuzz_total!(proc_swaps, "/proc/swaps", text(files("proc/swaps")), |t| {
    !parse_proc_swaps(&t).is_empty()
});

/// efibootmgr -v of a UEFI machine (the fixtures are BIOS ones).
const EFIBOOTMGR: &str = "BootCurrent: 0001\nTimeout: 1 seconds\nBootOrder: 0001,0000,0002,0003\n\
    Boot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)\n\
    Boot0001* debian\tHD(1,GPT,11111111-2222-4333-8444-000000000001,0x800,0x20000)/File(\\EFI\\debian\\shimx64.efi)\n\
    Boot0002  off\tHD(1,GPT,aa,0x800,0x20000)/File(\\EFI\\old.efi)\n\
    Boot0003* Linux Boot Manager HD(2,GPT,ABCDEF01-0000-0000-0000-000000000000,0x800,0x100000)/File(\\EFI\\systemd\\systemd-bootx64.efi)\n";

fuzz_total!(
    efibootmgr,
    "efibootmgr -v",
    text(vec![EFIBOOTMGR.into()]),
    |t| !parse_efibootmgr(&t).is_empty()
);

/// `ls -l /dev/disk/by-id` (the fixtures' rescue systems had none).
const BY_ID: &str = "total 0\n\
    lrwxrwxrwx 1 root root  9 Nov 26 06:02 ata-QEMU_HARDDISK_QM00001 -> ../../sda\n\
    lrwxrwxrwx 1 root root 10 Nov 26 06:02 ata-QEMU_HARDDISK_QM00001-part1 -> ../../sda1\n\
    lrwxrwxrwx 1 root root 10 Nov 26 06:02 wwn-0x5000c500a1b2c3d4 -> ../../nvme0n1\n";

fuzz_total!(
    by_id,
    "ls -l /dev/disk/by-id",
    text(vec![BY_ID.into()]),
    |t| !parse_by_id(&t).is_empty()
);

// ------------------------------------------------------------ capture, end to end

/// A recorded scenario in memory: command outputs (or failures) by
/// fixture name, files by path.
#[derive(Clone, Debug)]
struct Recorded {
    cmds: BTreeMap<String, Result<String, String>>,
    files: BTreeMap<String, String>,
}

impl Source for Recorded {
    fn run(&self, argv: &[&str]) -> Result<String, String> {
        self.cmds
            .get(&FixtureSource::command_file(argv))
            .cloned()
            .unwrap_or_else(|| Err(format!("{}: not recorded", argv.join(" "))))
    }

    fn read(&self, path: &str) -> Result<String, String> {
        self.files
            .get(path.trim_start_matches('/'))
            .cloned()
            .ok_or_else(|| format!("{path}: not recorded"))
    }
}

fn recorded(scenario: &str) -> Recorded {
    let dir = fixtures().join("capture").join(scenario);
    let mut cmds = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("cmd")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        // A failure wins over an output, as in FixtureSource.
        match name.strip_suffix(".fail") {
            Some(n) => {
                cmds.insert(n.to_string(), Err(text.trim_end().to_string()));
            }
            None => {
                cmds.entry(name).or_insert(Ok(text));
            }
        }
    }
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.join("files")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir.join("files")).unwrap();
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                files.insert(rel.to_str().unwrap().to_string(), text);
            }
        }
    }
    Recorded { cmds, files }
}

/// A change to one output or file of a scenario: text edits, or, when it
/// is JSON, edits of its values.
#[derive(Clone, Debug)]
struct Change {
    which: usize,
    /// A command that failed succeeds, printing its message; one that
    /// succeeded fails with its output as the message.
    flip: bool,
    edits: Vec<fuzz::Edit>,
    json_edits: Vec<fuzz::JsonEdit>,
}

fn change(r: &mut Recorded, c: &Change) {
    let n = r.cmds.len() + r.files.len();
    let i = c.which % n;
    let slot = if i < r.cmds.len() {
        let out = r.cmds.values_mut().nth(i).unwrap();
        if c.flip {
            *out = match std::mem::replace(out, Ok(String::new())) {
                Ok(t) => Err(t),
                Err(t) => Ok(t),
            };
        }
        match out {
            Ok(t) => t,
            Err(t) => t,
        }
    } else {
        r.files.values_mut().nth(i - r.cmds.len()).unwrap()
    };
    *slot = match serde_json::from_str::<serde_json::Value>(slot) {
        Ok(v) if !c.json_edits.is_empty() => {
            serde_json::to_string_pretty(&apply_json(&v, &c.json_edits)).unwrap()
        }
        _ => apply(slot, &c.edits),
    };
}

/// `capture()` of the recorded scenarios with one to three of their
/// outputs or files changed: sysfs values, dmsetup tables and the rest
/// capture reads without a parser of their own come in here. What it
/// makes is shown, written and read back; a refusal names the command
/// (and the device it ran for), or the file.
#[test]
fn capture_of_changed_fixtures() {
    let scenarios: Vec<Recorded> = SCENARIOS.iter().map(|s| recorded(s)).collect();
    let changes = prop::collection::vec(
        (
            any::<usize>(),
            prop::bool::weighted(0.1),
            prop::collection::vec(edit(), 1..5),
            prop_oneof![Just(vec![]), prop::collection::vec(json_edit(), 1..4)],
        )
            .prop_map(|(which, flip, edits, json_edits)| Change {
                which,
                flip,
                edits,
                json_edits,
            }),
        1..4,
    );
    fuzz::run(
        "capture (changed fixtures)",
        (select(scenarios), changes).prop_map(|(mut r, cs)| {
            for c in &cs {
                change(&mut r, c);
            }
            r
        }),
        |r| match capture::capture(&r, &Default::default()) {
            Ok(l) => {
                let _ = show::tree(&l);
                let _ = Layout::from_json(&l.to_json());
                Ok(true)
            }
            Err(e) => {
                let msg = e.to_string();
                let per_device = ["mdadm --detail --export", "cryptsetup luksDump"];
                match &e {
                    CaptureError::Parse { what, .. } if per_device.contains(what) => {
                        prop_assert!(msg.contains(": /dev/"), "names no device: {msg}")
                    }
                    CaptureError::Parse { .. } => {}
                    CaptureError::Command { cmd, .. } => prop_assert!(!cmd.is_empty()),
                    CaptureError::Read { path, .. } => prop_assert!(path.starts_with('/')),
                    CaptureError::Unmodelled(list) => prop_assert!(
                        list.iter().all(|u| msg.contains(&u.device)),
                        "names not every file system: {msg}"
                    ),
                }
                Ok(false)
            }
        },
    );
}
