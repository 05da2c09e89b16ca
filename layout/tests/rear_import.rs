//! Import of ReaR's disklayout.conf: every line type in its new and old
//! forms, errors with line numbers, and the files the real ReaR 2.7 wrote
//! (tests/fixtures/rear/*.disklayout.conf, see the README there).

use rear_layout::model::*;
use rear_layout::rear::{import, ImportError};
use std::collections::BTreeMap;

const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const BIOS_BOOT: &str = "21686148-6449-6e6f-744e-656564454649";
const LINUX_LVM: &str = "e6d6d379-f507-44c2-a23c-238f2a3df928";
const LINUX_RAID: &str = "a19d880f-05fc-4d3b-a006-743f0f84911e";
const LINUX_SWAP: &str = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f";
const LINUX_FS: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
const PREP: &str = "9e1a2d38-c612-4316-aa26-8b49521e5a8b";

fn fixture(name: &str) -> Layout {
    let path = format!(
        "{}/tests/fixtures/rear/{name}.disklayout.conf",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let l = import(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Whatever was imported survives the JSON form.
    assert_eq!(Layout::from_json(&l.to_json()).unwrap(), l);
    l
}

fn ok(text: &str) -> Layout {
    import(text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> ImportError {
    match import(text) {
        Ok(l) => panic!("expected an error, got {l:#?}"),
        Err(e) => e,
    }
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn part<'a>(l: &'a Layout, dev: &str) -> &'a Partition {
    l.disks
        .iter()
        .flat_map(|d| &d.partitions)
        .find(|p| p.device == dev)
        .unwrap_or_else(|| panic!("no partition {dev}"))
}

fn fs<'a>(l: &'a Layout, dev: &str) -> &'a Filesystem {
    l.filesystems
        .iter()
        .find(|f| f.device == dev)
        .unwrap_or_else(|| panic!("no file system on {dev}"))
}

fn mount<'a>(l: &'a Layout, mp: &str) -> &'a Mount {
    l.mounts
        .iter()
        .find(|m| m.mountpoint == mp)
        .unwrap_or_else(|| panic!("no mount at {mp}"))
}

fn notes_for<'a>(l: &'a Layout, dev: &str) -> Vec<&'a str> {
    l.notes
        .iter()
        .filter(|n| n.device == dev)
        .map(|n| n.what.as_str())
        .collect()
}

fn has_note(l: &Layout, dev: &str, words: &str) -> bool {
    notes_for(l, dev).iter().any(|w| w.contains(words))
}

// ---------------------------------------------------------------------------
// Files written by ReaR 2.7 (`rear savelayout` in a VM, see the README).

#[test]
fn fixture_gpt() {
    let l = fixture("gpt");
    assert_eq!(l.schema, SCHEMA);
    assert_eq!(l.disks.len(), 2);
    let vda = l.disk("/dev/vda").unwrap();
    assert_eq!(vda.size, 1 << 30);
    assert_eq!(vda.label, Some(Label::Gpt));
    assert_eq!((vda.logical_sector_size, vda.physical_sector_size), (512, 512));
    assert_eq!(vda.identifier, None);
    let want = [
        // number, start, size, type, name, attributes
        (1, 1 << 20, 100 << 20, ESP, Some("EFI System Partition"), None),
        (2, 101 << 20, 1 << 20, BIOS_BOOT, Some("bios"), None),
        (3, 102 << 20, 600 << 20, LINUX_FS, Some("root"), None),
        (4, 702 << 20, 128 << 20, LINUX_SWAP, Some("swap"), None),
        (5, 830 << 20, 100 << 20, LINUX_FS, None, Some("LegacyBIOSBootable")),
    ];
    assert_eq!(vda.partitions.len(), want.len());
    for (p, (n, start, size, ty, name, attrs)) in vda.partitions.iter().zip(want) {
        assert_eq!(p.number, n);
        assert_eq!(p.device, format!("/dev/vda{n}"));
        assert_eq!(p.start, start, "start of {}", p.device);
        assert_eq!(p.size, size, "size of {}", p.device);
        assert_eq!(p.type_, ty, "type of {}", p.device);
        assert_eq!(p.name.as_deref(), name, "name of {}", p.device);
        assert_eq!(p.attributes.as_deref(), attrs, "attributes of {}", p.device);
        assert_eq!(p.kind, PartKind::Primary);
        assert!(!p.bootable);
        assert_eq!(p.uuid, None, "ReaR 2.7 writes no PARTUUID");
    }
    // xfs on the whole disk: parted calls that table "loop".
    let vdb = l.disk("/dev/vdb").unwrap();
    assert_eq!((vdb.size, vdb.label), (512 << 20, None));
    assert!(vdb.partitions.is_empty());

    assert_eq!(l.filesystems.len(), 4);
    let esp = fs(&l, "/dev/vda1");
    assert_eq!(esp.fstype, "vfat");
    assert_eq!(esp.uuid.as_deref(), Some("0DE8-99FB"));
    assert_eq!(esp.label.as_deref(), Some("ESP"));
    assert!(esp.attrs.is_empty());
    let root = fs(&l, "/dev/vda3");
    assert_eq!(root.fstype, "ext4");
    assert_eq!(
        root.uuid.as_deref(),
        Some("b517b721-c782-4d5a-b93d-1369bd395764")
    );
    assert_eq!(root.label.as_deref(), Some("root"));
    assert_eq!(
        root.attrs,
        attrs(&[
            ("block_size", "4096"),
            ("reserved_percent", "1"),
            ("max_mounts", "-1"),
            ("check_interval", "0d"),
            ("bytes_per_inode", "16384"),
            ("default_mount_options", "user_xattr,acl"),
        ])
    );
    let srv = fs(&l, "/dev/vda5");
    assert_eq!(srv.label, None, "label= is no label");
    assert_eq!(srv.attrs["block_size"], "1024");
    assert_eq!(srv.attrs["reserved_percent"], "5");
    assert_eq!(srv.attrs["bytes_per_inode"], "8197");
    let data = fs(&l, "/dev/vdb");
    assert_eq!(data.fstype, "xfs");
    assert_eq!(data.label.as_deref(), Some("data"));
    assert_eq!(
        data.uuid.as_deref(),
        Some("ee095ca2-2fc2-4a5e-8aea-aec3a149b3eb")
    );
    assert!(data.devices.is_empty() && data.subvolumes.is_empty());

    let mounts: Vec<(&str, &str, &str)> = l
        .mounts
        .iter()
        .map(|m| (m.device.as_str(), m.mountpoint.as_str(), m.fstype.as_str()))
        .collect();
    assert_eq!(
        mounts,
        [
            ("/dev/vda1", "/mnt/boot/efi", "vfat"),
            ("/dev/vda3", "/mnt", "ext4"),
            ("/dev/vda5", "/mnt/srv", "ext4"),
            ("/dev/vdb", "/mnt/data", "xfs"),
        ]
    );
    assert_eq!(mount(&l, "/mnt/srv").options, "rw,noatime");
    assert_eq!(
        mount(&l, "/mnt/boot/efi").options,
        "rw,relatime,fmask=0077,dmask=0077,codepage=437,iocharset=ascii,shortname=mixed,utf8,errors=remount-ro"
    );
    assert!(l.mounts.iter().all(|m| m.subvolume.is_none()));

    assert_eq!(
        l.swaps,
        [Swap {
            device: "/dev/vda4".into(),
            uuid: Some("2948fb0c-c882-4960-b802-001ab4f2158a".into()),
            label: Some("swap0".into()),
        }]
    );
    // The output disk of the VM had nothing mounted: ReaR excluded it.
    assert_eq!(
        l.notes,
        [Note {
            device: "/dev/vdc".into(),
            what: "disk excluded in disklayout.conf".into(),
        }]
    );
    assert!(l.raids.is_empty() && l.pvs.is_empty() && l.luks.is_empty());
    assert_eq!(l.boot, Boot::default());
}

#[test]
fn fixture_msdos() {
    let l = fixture("msdos");
    assert_eq!(l.disks.len(), 1);
    let vda = l.disk("/dev/vda").unwrap();
    assert_eq!((vda.size, vda.label), (2 << 30, Some(Label::Msdos)));
    let want = [
        // number, start, size, type, kind, bootable
        (1, 1 << 20, 600 << 20, "0x83", PartKind::Primary, true),
        (2, 601 << 20, 300 << 20, "0x8e", PartKind::Primary, false),
        (3, 901 << 20, 1 << 30, "0x5", PartKind::Extended, false),
        (5, 902 << 20, 400 << 20, "0x83", PartKind::Logical, false),
        (6, 1303 << 20, 128 << 20, "0x82", PartKind::Logical, false),
        (7, 1432 << 20, 516947968, "0x83", PartKind::Logical, false),
    ];
    assert_eq!(vda.partitions.len(), want.len());
    for (p, (n, start, size, ty, kind, boot)) in vda.partitions.iter().zip(want) {
        assert_eq!(p.number, n);
        assert_eq!(p.device, format!("/dev/vda{n}"));
        assert_eq!((p.start, p.size), (start, size), "{}", p.device);
        assert_eq!(p.type_, ty, "{}", p.device);
        assert_eq!(p.kind, kind, "{}", p.device);
        assert_eq!(p.bootable, boot, "{}", p.device);
        assert_eq!(p.name, None);
        assert_eq!(p.attributes, None);
    }
    let boot = fs(&l, "/dev/vda1");
    assert_eq!(boot.fstype, "ext3");
    assert_eq!(boot.label.as_deref(), Some("boot"));
    assert_eq!(boot.attrs["reserved_percent"], "5");
    assert_eq!(fs(&l, "/dev/vda5").fstype, "xfs");
    assert_eq!(fs(&l, "/dev/vda5").label.as_deref(), Some("var"));
    let home = fs(&l, "/dev/vda7");
    assert_eq!(home.attrs["bytes_per_inode"], "130279");
    assert_eq!(home.attrs["reserved_percent"], "4");
    assert_eq!(mount(&l, "/mnt/home").options, "rw,nosuid,nodev,relatime");
    assert_eq!(mount(&l, "/mnt/var").device, "/dev/vda5");
    assert_eq!(mount(&l, "/mnt").fstype, "ext3");
    assert_eq!(l.swaps.len(), 1);
    assert_eq!(l.swaps[0].device, "/dev/vda6");
    assert_eq!(l.swaps[0].label, None);
    assert_eq!(
        l.swaps[0].uuid.as_deref(),
        Some("f17a5c40-991c-4eb5-8187-8bc185a3bc95")
    );
    assert_eq!(notes_for(&l, "/dev/vdb"), ["disk excluded in disklayout.conf"]);
    assert_eq!(l.notes.len(), 1);
}

#[test]
fn fixture_raid_lvm() {
    let l = fixture("raid-lvm");
    // vdc (the RAID1 spare's disk) and vde (the VM's output disk) were
    // excluded by ReaR's AUTOEXCLUDE_DISKS: nothing on them is mounted.
    let disks: Vec<&str> = l.disks.iter().map(|d| d.device.as_str()).collect();
    assert_eq!(disks, ["/dev/vda", "/dev/vdb", "/dev/vdd"]);
    for d in ["/dev/vda", "/dev/vdb"] {
        let disk = l.disk(d).unwrap();
        assert_eq!((disk.size, disk.label), (1 << 30, Some(Label::Gpt)));
        let parts: Vec<(u32, u64, u64, &str, Option<&str>)> = disk
            .partitions
            .iter()
            .map(|p| (p.number, p.start, p.size, p.type_.as_str(), p.name.as_deref()))
            .collect();
        assert_eq!(
            parts,
            [
                (1, 1 << 20, 700 << 20, LINUX_RAID, None),
                (2, 701 << 20, 200 << 20, LINUX_RAID, None)
            ]
        );
    }
    let vdd = l.disk("/dev/vdd").unwrap();
    assert_eq!((vdd.size, vdd.label), (1 << 30, None), "the whole disk is a PV");
    assert_eq!(notes_for(&l, "/dev/vdc"), ["disk excluded in disklayout.conf"]);
    for p in ["/dev/vdc1", "/dev/vdc2"] {
        assert_eq!(
            notes_for(&l, p),
            ["partition of /dev/vdc excluded in disklayout.conf"]
        );
    }
    assert_eq!(notes_for(&l, "/dev/vde"), ["disk excluded in disklayout.conf"]);

    assert_eq!(
        l.raids,
        [
            Raid {
                device: "/dev/md0".into(),
                level: "raid1".into(),
                devices: vec!["/dev/vda1".into(), "/dev/vdb1".into()],
                spares: vec!["/dev/vdc1".into()],
                metadata: "1.2".into(),
                uuid: "a50325c0:e8025566:6a694867:480d9b73".into(),
                name: None,
                chunk: None,
                layout: None,
                size: 732954624,
            },
            Raid {
                device: "/dev/md1".into(),
                level: "raid0".into(),
                devices: vec!["/dev/vda2".into(), "/dev/vdb2".into()],
                spares: vec![],
                metadata: "1.2".into(),
                uuid: "422c6198:8ab1aea5:f1c56264:1173e1d4".into(),
                name: None,
                chunk: Some(64 << 10),
                layout: None,
                size: 417333248,
            },
        ]
    );
    // md1 carries a GPT: not representable, so notes, never dropped silently.
    assert!(has_note(&l, "/dev/md1", "gpt partition table on a RAID array"));
    assert!(has_note(
        &l,
        "/dev/md1p1",
        "partition 1 (416267776 bytes at 1048576) not imported"
    ));
    assert_eq!(l.notes.len(), 6, "{:#?}", l.notes);

    // ReaR 2.7 writes PV sizes in 512-byte sectors.
    assert_eq!(
        l.pvs,
        [
            Pv {
                device: "/dev/md0".into(),
                uuid: "9yqgpo-YX48-1W6t-uBv8-C5WQ-1MAt-zUZXYS".into(),
                vg: "vg0".into(),
                size: 1431552 * 512,
            },
            Pv {
                device: "/dev/vdd".into(),
                uuid: "d3SO5J-qhCw-F7e2-8kZn-wJe4-VVwn-di5ay8".into(),
                vg: "vg0".into(),
                size: 1 << 30,
            },
        ]
    );
    assert_eq!(l.pvs[0].size, l.raids[0].size, "the PV is the whole array");
    assert_eq!(
        l.vgs,
        [Vg {
            name: "vg0".into(),
            uuid: None,
            extent_size: 4 << 20,
            size: 429 * (4 << 20),
        }]
    );
    let lv = |name: &str, segtype: &str, size: u64| Lv {
        vg: "vg0".into(),
        name: name.into(),
        device: format!("/dev/mapper/vg0-{name}"),
        segtype: segtype.into(),
        size,
        ..Default::default()
    };
    assert_eq!(
        l.lvs,
        [
            lv("mirrored", "raid1", 64 << 20),
            Lv {
                stripes: Some(2),
                stripe_size: Some(64 << 10),
                ..lv("striped", "striped", 96 << 20)
            },
            Lv {
                chunk_size: Some(128 << 10),
                ..lv("pool", "thin-pool", 200 << 20)
            },
            lv("root", "linear", 200 << 20),
            Lv {
                pool: Some("pool".into()),
                ..lv("thin1", "thin", 1 << 30)
            },
        ]
    );

    let fstypes: Vec<(&str, &str)> = l
        .filesystems
        .iter()
        .map(|f| (f.device.as_str(), f.fstype.as_str()))
        .collect();
    assert_eq!(
        fstypes,
        [
            ("/dev/mapper/vg0-mirrored", "ext2"),
            ("/dev/mapper/vg0-root", "ext4"),
            ("/dev/mapper/vg0-striped", "ext4"),
            ("/dev/mapper/vg0-thin1", "xfs"),
            ("/dev/md1p1", "ext4"),
        ]
    );
    let thin = fs(&l, "/dev/mapper/vg0-thin1");
    assert_eq!(
        thin.uuid.as_deref(),
        Some("40481059-8169-46d1-a378-27db78e1c8a2")
    );
    assert_eq!((thin.label.as_deref(), thin.attrs.len()), (None, 0));
    assert_eq!(fs(&l, "/dev/md1p1").label.as_deref(), Some("scratch"));
    assert_eq!(fs(&l, "/dev/mapper/vg0-root").attrs["block_size"], "1024");
    assert_eq!(
        mount(&l, "/mnt/thin").options,
        "rw,relatime,attr2,inode64,logbufs=8,logbsize=128k,sunit=256,swidth=256,noquota"
    );
    assert_eq!(mount(&l, "/mnt/striped").device, "/dev/mapper/vg0-striped");
    assert_eq!(l.mounts.len(), 5);
    assert!(l.swaps.is_empty() && l.luks.is_empty());
}

#[test]
fn fixture_luks_lvm() {
    let l = fixture("luks-lvm");
    let vda = l.disk("/dev/vda").unwrap();
    let parts: Vec<(u64, u64, &str, Option<&str>)> = vda
        .partitions
        .iter()
        .map(|p| (p.start, p.size, p.type_.as_str(), p.name.as_deref()))
        .collect();
    // parted shows no flag for the LUKS partition (GPT type 8309): the
    // file cannot tell it from a Linux file system partition.
    assert_eq!(
        parts,
        [
            (1 << 20, 200 << 20, LINUX_FS, Some("boot")),
            (201 << 20, 862961152, LINUX_FS, Some("cryptroot")),
        ]
    );
    let vdb = l.disk("/dev/vdb").unwrap();
    assert_eq!(vdb.size, 512 << 20);
    assert_eq!(vdb.partitions.len(), 1);
    assert_eq!(vdb.partitions[0].size, 535805440);
    assert_eq!(vdb.partitions[0].name, None);

    assert_eq!(
        l.luks,
        [
            Luks {
                device: "/dev/mapper/data_crypt".into(),
                name: "data_crypt".into(),
                backing: "/dev/vdb1".into(),
                version: 1,
                cipher: "aes-cbc-essiv:sha256".into(),
                key_size: 256,
                hash: "sha1".into(),
                pbkdf: None,
                uuid: "d1824dbe-fe6c-4b99-9909-eb8e00744633".into(),
                label: None,
                size: 0,
            },
            Luks {
                device: "/dev/mapper/luks-root".into(),
                name: "luks-root".into(),
                backing: "/dev/vda2".into(),
                version: 2,
                cipher: "aes-xts-plain64".into(),
                key_size: 512,
                hash: "sha256".into(),
                // ReaR 2.7 does not record the PBKDF (2.8 does).
                pbkdf: None,
                uuid: "91abac0d-3aa0-4a74-bb74-3846752308a5".into(),
                label: None,
                size: 0,
            },
        ]
    );
    // The key file is named in a note; no key is ever stored.
    assert_eq!(
        notes_for(&l, "/dev/mapper/luks-root"),
        ["LUKS volume is opened with the key file /etc/keys/root.key (from /etc/crypttab); the key is not part of the layout"]
    );
    assert!(!l.to_json().contains("fixture-passphrase"));

    assert_eq!(
        l.pvs,
        [Pv {
            device: "/dev/mapper/luks-root".into(),
            uuid: "xyWePr-IijJ-cVBG-rghG-KtKv-5JCe-5wqdMc".into(),
            vg: "system".into(),
            size: 1652703 * 512,
        }]
    );
    assert_eq!(
        l.vgs,
        [Vg {
            name: "system".into(),
            uuid: None,
            extent_size: 4 << 20,
            size: 201 * (4 << 20),
        }]
    );
    let lvs: Vec<(&str, &str, &str, u64)> = l
        .lvs
        .iter()
        .map(|v| (v.name.as_str(), v.device.as_str(), v.segtype.as_str(), v.size))
        .collect();
    assert_eq!(
        lvs,
        [
            ("swap", "/dev/mapper/system-swap", "linear", 128 << 20),
            ("root", "/dev/mapper/system-root", "linear", 676 << 20),
        ]
    );
    assert_eq!(
        l.swaps,
        [Swap {
            device: "/dev/mapper/system-swap".into(),
            uuid: Some("d7ba2d58-3038-4a8d-aa35-5e872bd0eccd".into()),
            label: Some("swap".into()),
        }]
    );
    let data = fs(&l, "/dev/mapper/data_crypt");
    assert_eq!((data.fstype.as_str(), data.label.as_deref()), ("ext4", Some("data")));
    assert_eq!(data.attrs["bytes_per_inode"], "4103");
    assert_eq!(fs(&l, "/dev/mapper/system-root").attrs["block_size"], "4096");
    assert_eq!(fs(&l, "/dev/vda1").label, None);
    let mps: Vec<&str> = l.mounts.iter().map(|m| m.mountpoint.as_str()).collect();
    assert_eq!(mps, ["/mnt/data", "/mnt", "/mnt/boot"]);
    assert_eq!(notes_for(&l, "/dev/vdc"), ["disk excluded in disklayout.conf"]);
    assert_eq!(l.notes.len(), 2);
}

#[test]
fn fixture_btrfs() {
    let l = fixture("btrfs");
    let vda = l.disk("/dev/vda").unwrap();
    assert_eq!(vda.partitions.len(), 2);
    let esp = part(&l, "/dev/vda1");
    assert_eq!((esp.type_.as_str(), esp.name.as_deref()), (ESP, None));
    assert_eq!((esp.start, esp.size), (1 << 20, 64 << 20));
    let p2 = part(&l, "/dev/vda2");
    assert_eq!((p2.type_.as_str(), p2.name.as_deref()), (LINUX_FS, Some("linux")));
    assert_eq!((p2.start, p2.size), (65 << 20, 1005567488), "up to the backup GPT");

    let vfat = fs(&l, "/dev/vda1");
    assert_eq!((vfat.uuid.as_deref(), vfat.label.as_deref()), (Some("3411-1107"), None));
    let b = fs(&l, "/dev/vda2");
    assert_eq!(b.fstype, "btrfs");
    assert_eq!(
        b.uuid.as_deref(),
        Some("6650c39b-4ee3-4644-9f1e-765d26f28090")
    );
    // ReaR 2.7 writes label='rootfs'; the quotes are not part of the label.
    assert_eq!(b.label.as_deref(), Some("rootfs"));
    assert_eq!(b.devices, ["/dev/vda2"]);
    assert!(b.attrs.is_empty(), "ReaR 2.7 records no nodesize/sectorsize");
    let sv = |path: &str, default: bool, nocow: bool| Subvolume {
        path: path.into(),
        default,
        nocow,
    };
    assert_eq!(
        b.subvolumes,
        [
            sv("@", true, false),
            sv("@home", false, false),
            sv("@var/log", false, false),
            sv("@vm", false, true),
        ]
    );
    // The read-only snapshot is commented out by ReaR.
    assert_eq!(
        notes_for(&l, "/dev/vda2"),
        ["btrfs snapshot subvolume @/.snapshots/1 excluded in disklayout.conf (ReaR does not recreate snapshots)"]
    );

    let mounts: Vec<(&str, &str, Option<&str>)> = l
        .mounts
        .iter()
        .map(|m| (m.device.as_str(), m.mountpoint.as_str(), m.subvolume.as_deref()))
        .collect();
    assert_eq!(
        mounts,
        [
            ("/dev/vda1", "/mnt/boot/efi", None),
            ("/dev/vda2", "/mnt", Some("@")),
            ("/dev/vda2", "/mnt/home", Some("@home")),
            ("/dev/vda2", "/mnt/var/log", Some("@var/log")),
            ("/dev/vda2", "/mnt/var/lib/vm", Some("@vm")),
        ]
    );
    assert_eq!(
        mount(&l, "/mnt/home").options,
        "rw,relatime,compress=zstd:3,space_cache=v2,subvolid=257,subvol=/@home"
    );
    assert!(l.mounts.iter().all(|m| m.fstype
        == if m.device == "/dev/vda1" { "vfat" } else { "btrfs" }));
    assert_eq!(notes_for(&l, "/dev/vdb"), ["disk excluded in disklayout.conf"]);
    assert_eq!(l.notes.len(), 2);
}

/// Prints the layout imported from $REAR_DUMP (a disklayout.conf) as JSON:
/// `REAR_DUMP=FILE cargo test -p rear-layout --test rear_import -- --ignored --nocapture dump`.
#[test]
#[ignore]
fn dump() {
    let path = std::env::var("REAR_DUMP").expect("REAR_DUMP=<disklayout.conf>");
    let text = std::fs::read_to_string(&path).unwrap();
    print!("{}", ok(&text).to_json());
}
