//! Import of ReaR's disklayout.conf: every line type in its new and old
//! forms, errors with line numbers, and the files the real ReaR 2.7 wrote
//! (tests/fixtures/rear/*.disklayout.conf, see the README there).

use rear_layout::model::*;
use rear_layout::rear::{import, ImportError};
use std::collections::BTreeMap;

use rear_layout::gpt::{BIOS_BOOT, ESP, LINUX_FS, LINUX_LVM, LINUX_RAID, PREP, SWAP as LINUX_SWAP};

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
    assert_eq!(
        (vda.logical_sector_size, vda.physical_sector_size),
        (512, 512)
    );
    assert_eq!(vda.identifier, None);
    let want = [
        // number, start, size, type, name, attributes
        (
            1,
            1 << 20,
            100 << 20,
            ESP,
            Some("EFI System Partition"),
            None,
        ),
        (2, 101 << 20, 1 << 20, BIOS_BOOT, Some("bios"), None),
        (3, 102 << 20, 600 << 20, LINUX_FS, Some("root"), None),
        (4, 702 << 20, 128 << 20, LINUX_SWAP, Some("swap"), None),
        (
            5,
            830 << 20,
            100 << 20,
            LINUX_FS,
            None,
            Some("LegacyBIOSBootable"),
        ),
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
    assert_eq!(
        notes_for(&l, "/dev/vdb"),
        ["disk excluded in disklayout.conf"]
    );
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
            .map(|p| {
                (
                    p.number,
                    p.start,
                    p.size,
                    p.type_.as_str(),
                    p.name.as_deref(),
                )
            })
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
    assert_eq!(
        (vdd.size, vdd.label),
        (1 << 30, None),
        "the whole disk is a PV"
    );
    assert_eq!(
        notes_for(&l, "/dev/vdc"),
        ["disk excluded in disklayout.conf"]
    );
    for p in ["/dev/vdc1", "/dev/vdc2"] {
        assert_eq!(
            notes_for(&l, p),
            ["partition of /dev/vdc excluded in disklayout.conf"]
        );
    }
    assert_eq!(
        notes_for(&l, "/dev/vde"),
        ["disk excluded in disklayout.conf"]
    );

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
                ..Default::default()
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
                label: Some(Label::Gpt),
                partitions: vec![Partition {
                    number: 1,
                    device: "/dev/md1p1".into(),
                    start: 1 << 20,
                    size: 416267776,
                    type_: LINUX_FS.into(),
                    name: Some("scratch".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ]
    );
    // md1 carries a GPT: the partition table of the array.
    assert!(notes_for(&l, "/dev/md1p1").is_empty(), "{:?}", l.notes);
    assert_eq!(l.notes.len(), 4, "{:#?}", l.notes);

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
            free: None,
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
                ..Default::default()
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
                ..Default::default()
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
            free: None,
        }]
    );
    let lvs: Vec<(&str, &str, &str, u64)> = l
        .lvs
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.device.as_str(),
                v.segtype.as_str(),
                v.size,
            )
        })
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
    assert_eq!(
        (data.fstype.as_str(), data.label.as_deref()),
        ("ext4", Some("data"))
    );
    assert_eq!(data.attrs["bytes_per_inode"], "4103");
    assert_eq!(
        fs(&l, "/dev/mapper/system-root").attrs["block_size"],
        "4096"
    );
    assert_eq!(fs(&l, "/dev/vda1").label, None);
    let mps: Vec<&str> = l.mounts.iter().map(|m| m.mountpoint.as_str()).collect();
    assert_eq!(mps, ["/mnt/data", "/mnt", "/mnt/boot"]);
    assert_eq!(
        notes_for(&l, "/dev/vdc"),
        ["disk excluded in disklayout.conf"]
    );
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
    assert_eq!(
        (p2.type_.as_str(), p2.name.as_deref()),
        (LINUX_FS, Some("linux"))
    );
    assert_eq!(
        (p2.start, p2.size),
        (65 << 20, 1005567488),
        "up to the backup GPT"
    );

    let vfat = fs(&l, "/dev/vda1");
    assert_eq!(
        (vfat.uuid.as_deref(), vfat.label.as_deref()),
        (Some("3411-1107"), None)
    );
    let b = fs(&l, "/dev/vda2");
    assert_eq!(b.fstype, "btrfs");
    assert_eq!(
        b.uuid.as_deref(),
        Some("6650c39b-4ee3-4644-9f1e-765d26f28090")
    );
    // ReaR 2.7 writes label='rootfs'; the quotes are not part of the label.
    assert_eq!(b.label.as_deref(), Some("rootfs"));
    assert_eq!(b.devices, ["/dev/vda2"]);
    assert!(
        b.attrs.is_empty(),
        "ReaR 2.7 records no nodesize/sectorsize"
    );
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
        .map(|m| {
            (
                m.device.as_str(),
                m.mountpoint.as_str(),
                m.subvolume.as_deref(),
            )
        })
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
        == if m.device == "/dev/vda1" {
            "vfat"
        } else {
            "btrfs"
        }));
    assert_eq!(
        notes_for(&l, "/dev/vdb"),
        ["disk excluded in disklayout.conf"]
    );
    assert_eq!(l.notes.len(), 2);
}

// ---------------------------------------------------------------------------
// Hand-written lines in the forms ReaR's scripts write (the script and the
// ReaR versions are named at each test).

/// 200_partition_layout.sh after ReaR 2.9: the PARTUUID field.
#[test]
fn part_lines_gpt_with_partuuid() {
    let l = ok("\
disk /dev/nvme0n1 512110190592 gpt
part /dev/nvme0n1 536870912 1048576 EFI%20System%20Partition boot,esp /dev/nvme0n1p1 5E4F3C2B-1A09-4876-9A5B-0C1D2E3F4A5B
part /dev/nvme0n1 1048576 537919488 rear-noname bios_grub /dev/nvme0n1p2 no-partuuid
part /dev/nvme0n1 511570165760 538968064 bin%C3%A4r%2Fdata lvm,legacy_boot,hidden /dev/nvme0n1p3 0b1a2c3d-4e5f-4061-8273-94a5b6c7d8e9
");
    let d = l.disk("/dev/nvme0n1").unwrap();
    assert_eq!((d.size, d.label), (512110190592, Some(Label::Gpt)));
    assert_eq!(
        d.partitions,
        [
            Partition {
                number: 1,
                device: "/dev/nvme0n1p1".into(),
                start: 1 << 20,
                size: 512 << 20,
                type_: ESP.into(),
                kind: PartKind::Primary,
                name: Some("EFI System Partition".into()),
                uuid: Some("5e4f3c2b-1a09-4876-9a5b-0c1d2e3f4a5b".into()),
                attributes: None,
                bootable: false,
            },
            Partition {
                number: 2,
                device: "/dev/nvme0n1p2".into(),
                start: 537919488,
                size: 1 << 20,
                type_: BIOS_BOOT.into(),
                ..Default::default()
            },
            Partition {
                number: 3,
                device: "/dev/nvme0n1p3".into(),
                start: 538968064,
                size: 511570165760,
                type_: LINUX_LVM.into(),
                name: Some("binär/data".into()),
                uuid: Some("0b1a2c3d-4e5f-4061-8273-94a5b6c7d8e9".into()),
                attributes: Some("RequiredPartition LegacyBIOSBootable".into()),
                ..Default::default()
            },
        ]
    );
    assert!(l.notes.is_empty(), "{:?}", l.notes);
}

/// parted's GPT flags → type GUIDs and attribute bits.
#[test]
fn gpt_flags_map_to_types() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("none", LINUX_FS, None),
        ("boot", ESP, None),
        ("esp", ESP, None),
        ("boot,esp", ESP, None),
        ("bios_grub", BIOS_BOOT, None),
        ("lvm", LINUX_LVM, None),
        ("raid", LINUX_RAID, None),
        ("swap", LINUX_SWAP, None),
        ("prep", PREP, None),
        ("legacy_boot", LINUX_FS, Some("LegacyBIOSBootable")),
        ("hidden", LINUX_FS, Some("RequiredPartition")),
        (
            "legacy_boot,hidden",
            LINUX_FS,
            Some("RequiredPartition LegacyBIOSBootable"),
        ),
    ];
    for (flags, ty, attrs) in cases {
        let l = ok(&format!(
            "disk /dev/sda 1073741824 gpt\npart /dev/sda 1048576 1048576 rear-noname {flags} /dev/sda1\n"
        ));
        let p = part(&l, "/dev/sda1");
        assert_eq!(p.type_, *ty, "flags {flags}");
        assert_eq!(p.attributes.as_deref(), *attrs, "flags {flags}");
        assert!(!p.bootable, "flags {flags}: no active flag on GPT");
        assert!(l.notes.is_empty(), "flags {flags}: {:?}", l.notes);
    }
    // Flags with no GPT meaning, and a second type flag: notes.
    let l = ok("disk /dev/sda 1073741824 gpt\npart /dev/sda 1048576 1048576 rear-noname lba,palo,raid,lvm /dev/sda1\n");
    assert_eq!(part(&l, "/dev/sda1").type_, LINUX_RAID);
    assert_eq!(
        notes_for(&l, "/dev/sda1"),
        [
            "parted flag lba has no GPT equivalent; ignored",
            "parted flag palo has no GPT equivalent; ignored",
            "parted flag lvm conflicts with an earlier type flag; ignored",
        ]
    );
}

/// parted's msdos flags → MBR types; older parted reported no `swap` flag,
/// so a swap line decides; vfat gives FAT32 types.
#[test]
fn msdos_flags_map_to_types() {
    let cases: &[(&str, &str, &str, bool)] = &[
        ("primary", "none", "0x83", false),
        ("primary", "boot", "0x83", true),
        ("primary", "lvm", "0x8e", false),
        ("primary", "boot,raid", "0xfd", true),
        ("primary", "swap", "0x82", false),
        ("primary", "esp", "0xef", false),
        ("primary", "prep", "0x41", false),
        ("primary", "palo", "0xf0", false),
        ("primary", "lba", "0x83", false),
        ("extended", "none", "0x5", false),
        ("extended", "lba", "0xf", false),
        ("logical", "lvm", "0x8e", false),
    ];
    for (kind, flags, ty, boot) in cases {
        let l = ok(&format!(
            "disk /dev/sda 1073741824 msdos\npart /dev/sda 1048576 1048576 {kind} {flags} /dev/sda5\n"
        ));
        let p = part(&l, "/dev/sda5");
        assert_eq!(p.type_, *ty, "{kind} {flags}");
        assert_eq!(p.bootable, *boot, "{kind} {flags}");
        assert_eq!(p.number, 5);
        assert_eq!(p.name, None, "msdos partitions have no name");
        assert!(l.notes.is_empty(), "{kind} {flags}: {:?}", l.notes);
    }
    let l = ok("\
disk /dev/sda 1073741824 msdos
part /dev/sda 104857600 1048576 primary boot,lba /dev/sda1
part /dev/sda 104857600 105906176 primary none /dev/sda2
part /dev/sda 104857600 210763776 primary none /dev/sda3
part /dev/sda 104857600 315621376 primary hidden,root /dev/sda4
fs /dev/sda1 /boot/efi vfat uuid=ABCD-1234 label=EFI options=rw
fs /dev/sda2 /data vfat uuid=ABCD-5678 label= options=rw
swap /dev/sda3 uuid=0c8e0ba8-0d3e-4b7a-8a3b-6a4a0b2b5e41 label=
");
    let types: Vec<(&str, bool)> = l.disks[0]
        .partitions
        .iter()
        .map(|p| (p.type_.as_str(), p.bootable))
        .collect();
    assert_eq!(
        types,
        [
            ("0xc", true),
            ("0xb", false),
            ("0x82", false),
            ("0x83", false)
        ]
    );
    assert_eq!(
        notes_for(&l, "/dev/sda4"),
        [
            "parted flag hidden has no MBR type; ignored",
            "parted flag root has no MBR type; ignored",
        ]
    );
    // The same on GPT: a swap line gives the swap type.
    let l = ok("disk /dev/sda 1073741824 gpt\npart /dev/sda 1048576 1048576 swap none /dev/sda1\nswap /dev/sda1 uuid= label=\n");
    assert_eq!(part(&l, "/dev/sda1").type_, LINUX_SWAP);
    assert_eq!(l.swaps[0].uuid, None);
}

/// Disk labels other than msdos and gpt; ReaR before 2.4 wrote blanks in GPT
/// names as 0x20; `unknown` partition starts; parted's old `B` unit.
#[test]
fn disk_labels_and_old_part_forms() {
    let l = ok("\
disk /dev/sda 1073741824 gpt_sync_mbr
part /dev/sda 1048576 1048576 EFI0x20System0x20Partition boot /dev/sda1
disk /dev/sdb 1073741824 loop
disk /dev/sdc 1073741824 unknown
disk /dev/sdd 0
disk /dev/dasda 7385448448 dasd
part /dev/dasda 209715200 98304 ext2 none /dev/dasda1
disk /dev/sde 1073741824 mac
disk /dev/sdf 1073741824 msdos
part /dev/sdf 104857600B unknown primary none /dev/sdf1
");
    let labels: Vec<(&str, Option<Label>)> = l
        .disks
        .iter()
        .map(|d| (d.device.as_str(), d.label))
        .collect();
    assert_eq!(
        labels,
        [
            ("/dev/sda", Some(Label::Gpt)),
            ("/dev/sdb", None),
            ("/dev/sdc", None),
            ("/dev/sdd", None),
            ("/dev/sdf", Some(Label::Msdos)),
        ]
    );
    assert_eq!(l.disk("/dev/sdd").unwrap().size, 0);
    assert_eq!(
        part(&l, "/dev/sda1").name.as_deref(),
        Some("EFI System Partition")
    );
    assert_eq!(part(&l, "/dev/sda1").type_, ESP);
    assert!(has_note(&l, "/dev/sda", "gpt_sync_mbr"));
    assert_eq!(
        notes_for(&l, "/dev/dasda"),
        ["s390 DASD partition table is not supported yet"]
    );
    assert_eq!(
        notes_for(&l, "/dev/dasda1"),
        ["partition 1 (209715200 bytes at 98304) not imported: s390 DASD partition table is not supported yet"]
    );
    assert_eq!(
        notes_for(&l, "/dev/sde"),
        ["partition table type mac is not supported"]
    );
    let p = part(&l, "/dev/sdf1");
    assert_eq!((p.start, p.size), (0, 100 << 20));
    assert!(has_note(&l, "/dev/sdf1", "no start"));
}

/// 210_raid_layout.sh: `raidarray` (ReaR 2.7+) with `raiddisk`, and the
/// old `raid` line (up to 2.6).
#[test]
fn raid_new_and_old_forms() {
    let l = ok("\
raidarray /dev/md127 level=raid1 raid-devices=2 devices=/dev/sda,/dev/sdb,/dev/sdc name=raid1sdab metadata=1.0 uuid=8d05eb84:2de831d1:dfed54b2:ad592118 spare-devices=1
raiddisk /dev/md127 12884705280 unknown
raidarray /dev/md5 level=raid5 raid-devices=3 devices=/dev/sdd1,/dev/sde1 metadata=1.2 uuid=4d5cf215:80024c95:e19fdff4:2fba35a8 layout=left-symmetric chunk=512
raid /dev/md10 metadata=1.2 level=raid10 raid-devices=4 uuid=ffb80762:127807b3:3d7e4f4d:4532022f name=data spare-devices=1 layout=n2 chunk=64 devices=/dev/sdf1,/dev/sdg1,/dev/sdh1,/dev/sdi1,/dev/sdj1
raid /dev/md0 metadata=0.90 level=raid1 raid-devices=2 uuid=a1b2c3d4:e5f6a7b8:c9d0e1f2:a3b4c5d6 devices=/dev/sda1,/dev/sdb1
");
    assert_eq!(
        l.raids[0],
        Raid {
            device: "/dev/md127".into(),
            level: "raid1".into(),
            devices: vec!["/dev/sda".into(), "/dev/sdb".into()],
            spares: vec!["/dev/sdc".into()],
            metadata: "1.0".into(),
            uuid: "8d05eb84:2de831d1:dfed54b2:ad592118".into(),
            name: Some("raid1sdab".into()),
            chunk: None,
            layout: None,
            size: 12884705280,
            ..Default::default()
        }
    );
    let md5 = &l.raids[1];
    assert_eq!(md5.devices, ["/dev/sdd1", "/dev/sde1"]);
    assert_eq!(md5.layout.as_deref(), Some("left-symmetric"));
    assert_eq!(md5.chunk, Some(512 << 10));
    assert_eq!(md5.size, 0, "no raiddisk line: size unknown");
    assert!(has_note(&l, "/dev/md5", "has 2 of its 3 devices"));
    let md10 = &l.raids[2];
    assert_eq!(
        (md10.level.as_str(), md10.layout.as_deref(), md10.chunk),
        ("raid10", Some("n2"), Some(64 << 10))
    );
    assert_eq!(md10.devices.len(), 4);
    assert_eq!(md10.spares, ["/dev/sdj1"]);
    assert_eq!(md10.name.as_deref(), Some("data"));
    let md0 = &l.raids[3];
    assert_eq!(
        (md0.metadata.as_str(), md0.uuid.as_str()),
        ("0.90", "a1b2c3d4:e5f6a7b8:c9d0e1f2:a3b4c5d6")
    );
    assert_eq!(l.notes.len(), 1, "{:?}", l.notes);
}

/// IMSM containers and the arrays inside them (210_raid_layout.sh's own
/// example): the container on its disks, the array on the container with
/// the size it takes of each disk, the GPT on the array.
#[test]
fn raid_containers_and_their_arrays() {
    let l = ok("\
raidarray /dev/md127 metadata=imsm level=container raid-devices=2 uuid=4d5cf215:80024c95:e19fdff4:2fba35a8 name=imsm0 devices=/dev/sda,/dev/sdb
raiddisk /dev/md127 0 unknown
raidarray /dev/md126 level=raid1 raid-devices=2 uuid=ffb80762:127807b3:3d7e4f4d:4532022f name=Volume0_0 devices=/dev/md127 size=390706176
raiddisk /dev/md126 400083124224 gpt
part /dev/md126 629145600 1048576 EFI%20System%20Partition boot,esp /dev/md126p1
");
    let c = &l.raids[0];
    assert_eq!(
        (c.device.as_str(), c.level.as_str(), c.metadata.as_str()),
        ("/dev/md127", "container", "imsm")
    );
    assert_eq!(c.devices, ["/dev/sda", "/dev/sdb"]);
    assert!(c.spares.is_empty() && c.partitions.is_empty());
    let v = &l.raids[1];
    assert_eq!(v.devices, ["/dev/md127"]);
    assert_eq!(v.metadata, "imsm", "the container's");
    assert_eq!(v.member_size, Some(390706176 << 10));
    assert_eq!(v.size, 400083124224);
    assert_eq!(v.label, Some(Label::Gpt));
    assert_eq!(v.partitions.len(), 1);
    assert_eq!(v.partitions[0].type_, ESP);
    assert!(l.notes.is_empty(), "{:?}", l.notes);
    // size= names an array in a container: one that is not listed is an error.
    let e =
        err("raidarray /dev/md126 level=raid1 raid-devices=2 devices=/dev/md9 size=390706176\n");
    assert!(e.message.contains("no container"), "{e}");
}

/// Hand-written (fixtures/rear/hand): an IMSM container, the RAID1 volume
/// in it, GPT, LVM and file systems on it, as ReaR 2.7+ writes them.
#[test]
fn hand_fixture_imsm() {
    let l = fixture("hand/imsm");
    let disks: Vec<(&str, u64, Option<Label>)> = l
        .disks
        .iter()
        .map(|d| (d.device.as_str(), d.size, d.label))
        .collect();
    assert_eq!(
        disks,
        [
            ("/dev/sda", 500107862016, None),
            ("/dev/sdb", 500107862016, None)
        ]
    );
    let devs: Vec<(&str, &str, &str)> = l
        .raids
        .iter()
        .map(|r| (r.device.as_str(), r.level.as_str(), r.metadata.as_str()))
        .collect();
    assert_eq!(
        devs,
        [
            ("/dev/md127", "container", "imsm"),
            ("/dev/md126", "raid1", "imsm")
        ]
    );
    assert_eq!(l.raids[0].devices, ["/dev/sda", "/dev/sdb"]);
    let vol = &l.raids[1];
    assert_eq!(vol.devices, ["/dev/md127"]);
    assert_eq!(vol.name.as_deref(), Some("vol0"));
    assert_eq!(vol.member_size, Some(488383488 * 1024));
    assert_eq!((vol.size, vol.label), (500104691712, Some(Label::Gpt)));
    let parts: Vec<(&str, u64, u64, &str)> = vol
        .partitions
        .iter()
        .map(|p| (p.device.as_str(), p.start, p.size, p.type_.as_str()))
        .collect();
    assert_eq!(
        parts,
        [
            ("/dev/md126p1", 1 << 20, 512 << 20, ESP),
            ("/dev/md126p2", 513 << 20, 1 << 30, LINUX_FS),
            ("/dev/md126p3", 1537 << 20, 498491965440, LINUX_LVM),
        ]
    );
    assert_eq!(l.pvs[0].device, "/dev/md126p3");
    assert_eq!(l.pvs[0].size, 498491965440);
    let mounts: Vec<(&str, &str)> = l
        .mounts
        .iter()
        .map(|m| (m.mountpoint.as_str(), m.device.as_str()))
        .collect();
    for want in [
        ("/boot/efi", "/dev/md126p1"),
        ("/boot", "/dev/md126p2"),
        ("/", "/dev/mapper/vgsys-root"),
        ("/home", "/dev/mapper/vgsys-home"),
    ] {
        assert!(mounts.contains(&want), "{want:?} in {mounts:?}");
    }
    assert!(l.notes.is_empty(), "{:?}", l.notes);
    // It plans: container, volume in it, its table, then the rest.
    let present: Vec<rear_layout::plan::PresentDisk> = ["/dev/sda", "/dev/sdb"]
        .iter()
        .map(|d| rear_layout::plan::PresentDisk {
            device: d.to_string(),
            size: 500107862016,
            logical_sector_size: 512,
            ..Default::default()
        })
        .collect();
    let p = rear_layout::plan::plan(
        &l,
        &present,
        &rear_layout::plan::Options {
            passphrase_file: None,
            ..Default::default()
        },
    )
    .unwrap();
    let ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
    let at = |id: &str| {
        ids.iter()
            .position(|s| *s == id)
            .unwrap_or_else(|| panic!("{id} in {ids:?}"))
    };
    assert!(at("raid:/dev/md127") < at("raid:/dev/md126"));
    assert!(at("raid:/dev/md126") < at("partition:/dev/md126"));
    assert!(at("partition:/dev/md126") < at("pv:/dev/md126p3"));
}

/// Hand-written: a RAID1 of whole disks with a GPT on it (ReaR 2.7+).
#[test]
fn hand_fixture_md_whole_gpt() {
    let l = fixture("hand/md-whole-gpt");
    assert!(l
        .disks
        .iter()
        .all(|d| d.label.is_none() && d.partitions.is_empty()));
    assert_eq!(l.raids.len(), 1);
    let md = &l.raids[0];
    assert_eq!(md.devices, ["/dev/vda", "/dev/vdb"]);
    assert_eq!(
        (md.metadata.as_str(), md.name.as_deref()),
        ("1.2", Some("sys"))
    );
    assert_eq!((md.size, md.label), (1064304640, Some(Label::Gpt)));
    let parts: Vec<(u32, u64, u64, &str, Option<&str>)> = md
        .partitions
        .iter()
        .map(|p| {
            (
                p.number,
                p.start,
                p.size,
                p.type_.as_str(),
                p.name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            (1, 1 << 20, 64 << 20, ESP, Some("EFI system")),
            (2, 65 << 20, 128 << 20, LINUX_FS, Some("boot")),
            (3, 193 << 20, 821 << 20, LINUX_LVM, Some("lvm")),
        ]
    );
    assert_eq!(fs(&l, "/dev/md127p1").fstype, "vfat");
    assert_eq!(mount(&l, "/boot").device, "/dev/md127p2");
    assert!(l.notes.is_empty(), "{:?}", l.notes);
}

/// Hand-written, ReaR up to 2.6: a `raid` line, the array's partitions as
/// `part` lines without a raiddisk line (msdos, from their kinds), and
/// reserved_blocks= as a block count, made a percentage of the device's
/// blocks that gives mke2fs the same count.
#[test]
fn hand_fixture_md_old() {
    let l = fixture("hand/md-old");
    let md = &l.raids[0];
    assert_eq!(md.devices, ["/dev/sda", "/dev/sdb"]);
    assert_eq!((md.metadata.as_str(), md.size), ("1.0", 0));
    assert_eq!(md.label, Some(Label::Msdos));
    let parts: Vec<(&str, u64, u64, &str)> = md
        .partitions
        .iter()
        .map(|p| (p.device.as_str(), p.start, p.size, p.type_.as_str()))
        .collect();
    assert_eq!(
        parts,
        [
            ("/dev/md127p1", 1 << 20, 200 << 20, "0x83"),
            ("/dev/md127p2", 201 << 20, 249846677504, "0x8e"),
        ]
    );
    assert!(has_note(&l, "/dev/md127", "msdos assumed"));
    // Old lvmdev: sectors.
    assert_eq!(l.pvs[0].size, 249846677504);
    let lv = |n: &str| l.lvs.iter().find(|v| v.name == n).unwrap().size;
    assert_eq!((lv("lv_root"), lv("lv_home")), (20 << 30, 50 << 30));
    // Counts to percentages: 10240 of /boot's 204800 1 KiB blocks, 262144
    // of root's 5242880 4 KiB blocks, none of home's.
    let pct = |dev: &str| fs(&l, dev).attrs["reserved_percent"].clone();
    assert_eq!(pct("/dev/md127p1"), "5.000244");
    assert_eq!(pct("/dev/mapper/vg00-lv_root"), "5.00001");
    assert_eq!(pct("/dev/mapper/vg00-lv_home"), "0.000004");
    for (dev, blocks, want) in [
        ("/dev/md127p1", 204800u64, 10240u64),
        ("/dev/mapper/vg00-lv_root", 5242880, 262144),
        ("/dev/mapper/vg00-lv_home", 13107200, 0),
    ] {
        // What mke2fs makes of it: the percentage of the blocks, rounded down.
        let p: f64 = pct(dev).parse().unwrap();
        assert_eq!((p * blocks as f64 / 100.0) as u64, want, "{dev}");
    }
    assert!(!fs(&l, "/dev/md127p1")
        .attrs
        .keys()
        .any(|k| k.contains("count")));
}

#[test]
fn reserved_blocks_count_without_a_known_size_is_a_note() {
    let l = ok("\
disk /dev/sda 1073741824 unknown
fs /dev/sdz1 /data ext4 uuid=d39c67c3-d115-444f-afa1-7689e7f5bb6d label= blocksize=4096 reserved_blocks=1000 options=rw
");
    assert!(!fs(&l, "/dev/sdz1").attrs.contains_key("reserved_percent"));
    assert!(has_note(
        &l,
        "/dev/sdz1",
        "reserved_blocks=1000 (a block count) is not imported"
    ));
    // A percentage stays one.
    let l = ok("fs /dev/sdz1 /data ext4 reserved_blocks=3% options=rw\n");
    assert_eq!(fs(&l, "/dev/sdz1").attrs["reserved_percent"], "3");
}

/// 220_lvm_layout.sh, ReaR 2.8+: sizes in bytes, `poolmetadatasize:`.
#[test]
fn lvm_new_forms() {
    let l = ok("\
disk /dev/sda 21474836480 gpt
part /dev/sda 21473787904 1048576 rear-noname lvm /dev/sda1
lvmdev /dev/system /dev/sda1 7wwpcO-KmNN-qsTE-7sp7-JBJS-vBdC-Zyt1W7 21470642176
lvmgrp /dev/system 4096 5118 20963328
lvmvol /dev/system pool 8589934592b thin,pool poolmetadatasize:12582912b chunksize:65536b
lvmvol /dev/system thin 21474836480b thin,sparse thinpool:pool
lvmvol /dev/system mirror 1073741824b mirror mirrors:1
lvmvol /dev/system r5 1073741824b raid,raid5,raid5_ls stripesize:65536b
lvmvol /dev/system r10 1073741824b raid,raid10 stripes:2
lvmvol /dev/system unknown 1073741824b raid,RAID_UNKNOWNTYPE stripes:1
lvmvol /dev/system my-lv 1073741824b linear readahead:auto
lvmvol /dev/system cached 1073741824b cache
");
    assert_eq!(
        l.pvs,
        [Pv {
            device: "/dev/sda1".into(),
            uuid: "7wwpcO-KmNN-qsTE-7sp7-JBJS-vBdC-Zyt1W7".into(),
            vg: "system".into(),
            size: 21470642176,
        }]
    );
    assert_eq!(
        l.vgs,
        [Vg {
            name: "system".into(),
            uuid: None,
            extent_size: 4 << 20,
            size: 20963328 << 10,
            free: None,
        }]
    );
    let lv = |name: &str, segtype: &str, size: u64| Lv {
        vg: "system".into(),
        name: name.into(),
        device: lv_device("system", name),
        segtype: segtype.into(),
        size,
        ..Default::default()
    };
    assert_eq!(
        l.lvs,
        [
            Lv {
                metadata_size: Some(12 << 20),
                chunk_size: Some(64 << 10),
                ..lv("pool", "thin-pool", 8 << 30)
            },
            Lv {
                pool: Some("pool".into()),
                ..lv("thin", "thin", 20 << 30)
            },
            Lv {
                mirrors: Some(1),
                ..lv("mirror", "mirror", 1 << 30)
            },
            Lv {
                stripe_size: Some(64 << 10),
                ..lv("r5", "raid5", 1 << 30)
            },
            Lv {
                stripes: Some(2),
                ..lv("r10", "raid10", 1 << 30)
            },
            Lv {
                stripes: Some(1),
                ..lv("unknown", "linear", 1 << 30)
            },
            lv("my-lv", "linear", 1 << 30),
        ]
    );
    assert_eq!(l.lvs[6].device, "/dev/mapper/system-my--lv");
    assert_eq!(
        notes_for(&l, "/dev/mapper/system-unknown"),
        ["LV RAID type unknown (layout raid,RAID_UNKNOWNTYPE); taken as linear, as ReaR does"]
    );
    assert_eq!(
        notes_for(&l, "/dev/mapper/system-my--lv"),
        ["lvmvol option readahead:auto is not imported"]
    );
    assert_eq!(
        notes_for(&l, "/dev/mapper/system-cached"),
        ["LV layout cache is not supported yet; LV not imported"]
    );
    assert_eq!(l.notes.len(), 3);
}

/// 22_lvm_layout.sh (ReaR 1.x up to 2.3): `lvdisplay -c` extents and
/// sectors; `pvdisplay -c` sectors (up to 2.7).
#[test]
fn lvm_old_forms() {
    let l = ok("\
lvmdev /dev/system /dev/sda2 7wwpcO-KmNN-qsTE-7sp7-JBJS-vBdC-Zyt1W7 41940992
lvmgrp /dev/system 4096 5119 20967424
lvmvol /dev/system root 3430 28098560 
lvmvol /dev/system swap 1535 12574720 
");
    assert_eq!(l.pvs[0].size, 41940992 * 512);
    assert_eq!(l.vgs[0].size, 20967424 << 10);
    assert_eq!(l.vgs[0].extent_size, 4096 << 10);
    let lvs: Vec<(&str, &str, u64)> = l
        .lvs
        .iter()
        .map(|v| (v.name.as_str(), v.segtype.as_str(), v.size))
        .collect();
    assert_eq!(
        lvs,
        [
            ("root", "linear", 28098560 * 512),
            ("swap", "linear", 12574720 * 512),
        ]
    );
    assert_eq!(
        l.lvs[0].size,
        3430 * (4 << 20),
        "extents agree with sectors"
    );
    assert!(has_note(&l, "/dev/mapper/system-root", "taken as linear"));
}

/// The unit of `lvmdev` sizes: sectors up to ReaR 2.7, bytes from 2.8.
#[test]
fn lvmdev_size_units() {
    // The VG size decides: PVs hold at least the VG.
    let l = ok("lvmdev /dev/vg /dev/sdb u 21474836480\nlvmgrp /dev/vg 4096 5119 20967424\n");
    assert_eq!(l.pvs[0].size, 21474836480, "bytes (ReaR 2.8+)");
    let l = ok("lvmdev /dev/vg /dev/sdb u 41943040\nlvmgrp /dev/vg 4096 5119 20967424\n");
    assert_eq!(l.pvs[0].size, 41943040 * 512, "sectors (ReaR 2.7)");
    // Without a VG size, the PV's device size decides.
    let l = ok("disk /dev/sdb 21474836480 unknown\nlvmdev /dev/vg /dev/sdb u 41943040\nlvmgrp /dev/vg 4096\n");
    assert_eq!(l.pvs[0].size, 21474836480);
    assert_eq!(l.vgs[0].size, 0);
    let l = ok("disk /dev/sdb 21474836480 unknown\nlvmdev /dev/vg /dev/sdb u 21474836480\nlvmgrp /dev/vg 4096\n");
    assert_eq!(l.pvs[0].size, 21474836480);
    // Nothing to decide by: sectors, with a note.
    let l = ok("lvmdev /dev/vg /dev/sdb u 41943040\nlvmgrp /dev/vg 4096\n");
    assert_eq!(l.pvs[0].size, 41943040 * 512);
    assert!(has_note(&l, "/dev/sdb", "unit not decidable"));
    // No size at all.
    let l = ok("lvmdev /dev/vg /dev/sdb\nlvmgrp /dev/vg 4096 10 40960\n");
    assert_eq!((l.pvs[0].size, l.pvs[0].uuid.as_str()), (0, ""));
    assert_eq!(l.vgs[0].size, 40 << 20);
}

/// 230_filesystem_layout.sh: ext, xfs, vfat, btrfs options.
#[test]
fn fs_lines() {
    let l = ok("\
fs /dev/sda2 / ext4 uuid=9a346f20-f39e-440b-b23b-245f311f19be label=my root blocksize=4096 reserved_blocks=0% max_mounts=20 check_interval=180d bytes_per_inode=16384 default_mount_options=user_xattr,acl options=rw,relatime,errors=remount-ro
fs /dev/sda3 /srv xfs uuid=ee095ca2-2fc2-4a5e-8aea-aec3a149b3eb label=  options=rw,relatime,attr2,inode64,noquota
fs /dev/sda1 /boot/efi vfat uuid=0DE8-99FB label=EFI SYSTEM options=rw,umask=0077
fs /dev/sda4 /home btrfs uuid=6650c39b-4ee3-4644-9f1e-765d26f28090 label=home nodesize=16384 sectorsize=4096 features=extref,skinny-metadata,no-holes,free-space-tree options=rw,relatime,space_cache=v2,subvolid=5,subvol=/
fs /dev/sda5 /old reiserfs uuid=2d5b2c2e-3f8e-4b8c-9f3b-1c2d3e4f5a6b label=old fragmentsize=4096 options=rw
");
    let root = fs(&l, "/dev/sda2");
    assert_eq!(root.label.as_deref(), Some("my root"), "blanks in a label");
    assert_eq!(
        root.attrs,
        attrs(&[
            ("block_size", "4096"),
            ("reserved_percent", "0"),
            ("max_mounts", "20"),
            ("check_interval", "180d"),
            ("bytes_per_inode", "16384"),
            ("default_mount_options", "user_xattr,acl"),
        ])
    );
    assert_eq!(
        *mount(&l, "/"),
        Mount {
            device: "/dev/sda2".into(),
            mountpoint: "/".into(),
            fstype: "ext4".into(),
            options: "rw,relatime,errors=remount-ro".into(),
            subvolume: None,
        }
    );
    let xfs = fs(&l, "/dev/sda3");
    assert_eq!((xfs.label.as_deref(), xfs.attrs.len()), (None, 0));
    assert_eq!(fs(&l, "/dev/sda1").label.as_deref(), Some("EFI SYSTEM"));
    assert_eq!(mount(&l, "/boot/efi").options, "rw,umask=0077");
    let b = fs(&l, "/dev/sda4");
    assert_eq!(
        b.attrs,
        attrs(&[
            ("nodesize", "16384"),
            ("sectorsize", "4096"),
            (
                "features",
                "extref,skinny-metadata,no-holes,free-space-tree"
            ),
        ])
    );
    assert_eq!(b.devices, ["/dev/sda4"]);
    assert_eq!(
        mount(&l, "/home").subvolume,
        None,
        "subvol=/ is the top level"
    );
    assert_eq!(fs(&l, "/dev/sda5").fstype, "reiserfs");
    assert_eq!(
        notes_for(&l, "/dev/sda5"),
        ["fs option fragmentsize=4096 is not imported"]
    );
}

/// 230_filesystem_layout.sh's btrfs lines, SLES-style `@/...` paths.
#[test]
fn btrfs_lines() {
    let l = ok("\
fs /dev/sda2 / btrfs uuid=bd4dc7e6-7f0d-4c45-8a5e-3b0d1c7a4c11 label= options=rw,relatime,space_cache,subvolid=268,subvol=/@/.snapshots/1/snapshot
btrfsdefaultsubvol /dev/sda2 / 268 @/.snapshots/1/snapshot
#btrfssnapshotsubvol /dev/sda2 / 268 @/.snapshots/1/snapshot
btrfsnormalsubvol /dev/sda2 / 256 @
btrfsnormalsubvol /dev/sda2 / 258 @/var
btrfsnormalsubvol /dev/sda2 / 259 @/home
btrfsnormalsubvol /dev/sda2 / 257 @/.snapshots
btrfsmountedsubvol /dev/sda2 / rw,relatime,space_cache,subvolid=268,subvol=/@/.snapshots/1/snapshot @/.snapshots/1/snapshot
btrfsmountedsubvol /dev/sda2 /var rw,relatime,space_cache,subvolid=258,subvol=/@/var @/var
btrfsmountedsubvol /dev/sda2 /home rw,relatime,space_cache,subvolid=259,subvol=/@/home @/home
btrfsmountedsubvol /dev/sda2 /opt rw,relatime,subvol=/@/opt
btrfsnocopyonwrite @/var
btrfsnocopyonwrite @/var/lib/mariadb
fs /dev/sdb /data btrfs uuid=1e0c1d7a-0c2b-4e44-9d3f-8a1e9f5a2b3c label=data options=rw,relatime,subvolid=5,subvol=/
btrfsdefaultsubvol /dev/sdb /data 5 /
btrfssnapshotsubvol /dev/sdb /data 260 snap1
");
    let root = fs(&l, "/dev/sda2");
    let paths: Vec<(&str, bool, bool)> = root
        .subvolumes
        .iter()
        .map(|s| (s.path.as_str(), s.default, s.nocow))
        .collect();
    assert_eq!(
        paths,
        [
            ("@", false, false),
            ("@/.snapshots", false, false),
            ("@/.snapshots/1/snapshot", true, false),
            ("@/home", false, false),
            ("@/var", false, true),
        ]
    );
    let mounts: Vec<(&str, Option<&str>)> = l
        .mounts
        .iter()
        .map(|m| (m.mountpoint.as_str(), m.subvolume.as_deref()))
        .collect();
    assert_eq!(
        mounts,
        [
            ("/", Some("@/.snapshots/1/snapshot")),
            ("/data", None),
            ("/var", Some("@/var")),
            ("/home", Some("@/home")),
            ("/opt", None),
        ]
    );
    assert_eq!(
        mount(&l, "/var").options,
        "rw,relatime,space_cache,subvolid=258,subvol=/@/var"
    );
    assert_eq!(mount(&l, "/opt").fstype, "btrfs");
    assert!(has_note(
        &l,
        "/dev/sda2",
        "mount at /opt names no subvolume path"
    ));
    assert!(has_note(&l, "@/var/lib/mariadb", "no-copy-on-write"));
    assert!(has_note(
        &l,
        "/dev/sda2",
        "snapshot subvolume @/.snapshots/1/snapshot excluded"
    ));
    let data = fs(&l, "/dev/sdb");
    assert!(
        data.subvolumes.is_empty(),
        "default = top level: nothing to record"
    );
    assert_eq!(
        notes_for(&l, "/dev/sdb"),
        ["btrfs snapshot subvolume snap1 is not recreated (as in ReaR)"]
    );
}

/// 240_swaps_layout.sh.
#[test]
fn swap_lines() {
    let l = ok("\
swap /dev/sda3 uuid=2948fb0c-c882-4960-b802-001ab4f2158a label=swap0
swap /dev/mapper/system-swap uuid= label=
swap /dev/sdb2 uuid=905fde19-347a-41ed-8e2e-5807d6f2ef1a label=my swap
");
    assert_eq!(
        l.swaps,
        [
            Swap {
                device: "/dev/sda3".into(),
                uuid: Some("2948fb0c-c882-4960-b802-001ab4f2158a".into()),
                label: Some("swap0".into()),
            },
            Swap {
                device: "/dev/mapper/system-swap".into(),
                uuid: None,
                label: None,
            },
            Swap {
                device: "/dev/sdb2".into(),
                uuid: Some("905fde19-347a-41ed-8e2e-5807d6f2ef1a".into()),
                label: Some("my swap".into()),
            },
        ]
    );
}

/// name, backing, version, cipher, key size, hash, pbkdf.
type LuksRow<'a> = (&'a str, &'a str, u8, &'a str, u32, &'a str, Option<&'a str>);

/// 260_crypt_layout.sh in its four forms.
#[test]
fn crypt_forms() {
    let l = ok("\
crypt /dev/mapper/cr_home /dev/sda3 type=luks2 cipher=aes-xts-plain64 key_size=512 hash=sha256 uuid=1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b pbkdf=argon2id
crypt /dev/mapper/cr_data /dev/sdb1 type=luks1 cipher=aes-cbc-essiv:sha256 key_size=256 hash=sha1 uuid=d1824dbe-fe6c-4b99-9909-eb8e00744633 keyfile=/root/data.key
crypt /dev/mapper/cr_old /dev/sdc1 cipher=aes-xts-plain64 key_size=256 hash=sha256 uuid=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d 
crypt /dev/mapper/cr_older /dev/sdd1 cipher=aes mode=cbc-essiv:sha256 hash=sha1 uuid=5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d
crypt /dev/mapper/cr_pw /dev/sde1 type=luks2 cipher= key_size= hash= uuid= password=hunter2
");
    let got: Vec<LuksRow> = l
        .luks
        .iter()
        .map(|x| {
            (
                x.name.as_str(),
                x.backing.as_str(),
                x.version,
                x.cipher.as_str(),
                x.key_size,
                x.hash.as_str(),
                x.pbkdf.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "cr_home",
                "/dev/sda3",
                2,
                "aes-xts-plain64",
                512,
                "sha256",
                Some("argon2id")
            ),
            (
                "cr_data",
                "/dev/sdb1",
                1,
                "aes-cbc-essiv:sha256",
                256,
                "sha1",
                None
            ),
            (
                "cr_old",
                "/dev/sdc1",
                1,
                "aes-xts-plain64",
                256,
                "sha256",
                None
            ),
            (
                "cr_older",
                "/dev/sdd1",
                1,
                "aes-cbc-essiv:sha256",
                0,
                "sha1",
                None
            ),
            ("cr_pw", "/dev/sde1", 2, "", 0, "", None),
        ]
    );
    assert_eq!(l.luks[0].device, "/dev/mapper/cr_home");
    assert_eq!(l.luks[0].uuid, "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b");
    assert_eq!((l.luks[0].size, l.luks[0].label.as_deref()), (0, None));
    assert!(has_note(
        &l,
        "/dev/mapper/cr_data",
        "key file /root/data.key"
    ));
    assert_eq!(
        notes_for(&l, "/dev/mapper/cr_pw"),
        ["disklayout.conf holds a password for this LUKS volume; it is not imported"]
    );
    assert!(!l.to_json().contains("hunter2"));
}

/// multipath, drbd, opaldisk, smartarray, logicaldrive and s390 lines:
/// not representable, each a note; partitions on multipath devices too.
#[test]
fn unsupported_components_are_notes() {
    let l = ok("\
multipath /dev/mapper/mpatha 10737418240 gpt /dev/sdd,/dev/sde
part /dev/mapper/mpatha 10736369664 1048576 rear-noname lvm /dev/mapper/mpatha1
drbd /dev/drbd0 r0 /dev/sdf1
opaldisk /dev/nvme1n1 boot=y password=s3cret
opaldisk /dev/nvme2n1 boot=n
smartarray 0
logicaldrive /dev/sdg 0|A|1 raid=1 drives=1I:1:1,1I:1:2, spares= sectors=32 stripesize=256
dasd_channel 0.0.0150 active dasda 94:0
dasdfmt -b 4096 -d cdl -y /dev/dasda
");
    assert!(l.disks.is_empty());
    assert_eq!(
        notes_for(&l, "/dev/mapper/mpatha"),
        ["multipath device (10737418240 bytes, paths /dev/sdd,/dev/sde) is not supported yet"]
    );
    assert_eq!(
        notes_for(&l, "/dev/mapper/mpatha1"),
        ["partition 1 (10736369664 bytes at 1048576) not imported: multipath devices are not supported yet"]
    );
    assert_eq!(
        notes_for(&l, "/dev/drbd0"),
        ["DRBD device (resource r0, backing disk /dev/sdf1) is not supported yet"]
    );
    assert_eq!(
        notes_for(&l, "/dev/nvme1n1"),
        ["TCG Opal self-encrypting disk is not supported yet (its password in disklayout.conf is not imported)"]
    );
    assert_eq!(
        notes_for(&l, "/dev/nvme2n1"),
        ["TCG Opal self-encrypting disk is not supported yet"]
    );
    assert_eq!(
        notes_for(&l, "slot=0"),
        ["HP Smart Array controller configuration is not supported yet"]
    );
    assert!(has_note(
        &l,
        "/dev/sdg",
        "HP Smart Array logical drive (0|A|1 raid=1"
    ));
    assert_eq!(
        notes_for(&l, "/dev/dasda"),
        [
            "s390 DASD (dasd_channel 0.0.0150 active dasda 94:0) is not supported yet",
            "s390 DASD (dasdfmt -b 4096 -d cdl -y /dev/dasda) is not supported yet",
        ]
    );
    assert_eq!(l.notes.len(), 9);
    assert!(!l.to_json().contains("s3cret"));
}

/// Comments and blank lines are skipped; commented-out component lines
/// (ReaR's exclusions) become notes, and what depends on them too.
#[test]
fn comments_and_exclusions() {
    let l = ok("\
# Disk layout dated 20261126062536 (YYYYmmddHHMMSS)
# NAME        KNAME     PKNAME   TRAN TYPE FSTYPE LABEL  SIZE MOUNTPOINT
# /dev/sda    /dev/sda                disk                 1G

# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sda 1073741824 gpt
part /dev/sda 1072676352 1048576 rear-noname none /dev/sda1
   
#disk /dev/sdb 1073741824 gpt
#part /dev/sdb 1072676352 1048576 rear-noname lvm /dev/sdb1
#lvmdev /dev/backup /dev/sdb1 Nn3ew5-Wkve-FpSY-mgng-3T0l-rSz1-EEvPrE 2095104
#lvmgrp /dev/backup 4096 255 1044480
#lvmvol /dev/backup data 1069547520b linear
# lvmdev /dev/<missing_VG> /dev/sdc 3PAx0v-SsVX-Alja-qmFw-SvqU-mRQe-1mnZE3 2097152
#fs /dev/mapper/backup-data /backup ext4 uuid=ca1863e6-b31d-43d0-ab08-7cc5fc041f25 label= options=rw
#btrfsmountedsubvol /dev/sdd1 /snap rw,subvol=/@/.snapshots/2/snapshot @/.snapshots/2/snapshot
#swap /dev/sde1 uuid= label=
#crypt /dev/mapper/cr /dev/sdf1 type=luks2 cipher=aes-xts-plain64 key_size=512 hash=sha256 uuid=x password=pw
# a comment that mentions disk /dev/sdz
#notakeyword /dev/sdy
fs /dev/sda1 / ext4 uuid=26508e2f-3027-44d7-bd37-b5af59c26da8 label= options=rw
");
    assert_eq!(l.disks.len(), 1);
    assert_eq!(l.filesystems.len(), 1);
    assert!(l.pvs.is_empty() && l.vgs.is_empty() && l.lvs.is_empty());
    let notes: Vec<(&str, &str)> = l
        .notes
        .iter()
        .map(|n| (n.device.as_str(), n.what.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            ("/dev/sdb", "disk excluded in disklayout.conf"),
            ("/dev/sdb1", "partition of /dev/sdb excluded in disklayout.conf"),
            ("/dev/sdb1", "lvmdev excluded in disklayout.conf"),
            ("/dev/backup", "lvmgrp excluded in disklayout.conf"),
            ("/dev/mapper/backup-data", "lvmvol excluded in disklayout.conf"),
            ("/dev/mapper/backup-data", "ext4 file system at /backup excluded in disklayout.conf"),
            ("/dev/sdd1", "btrfs subvolume @/.snapshots/2/snapshot mounted at /snap excluded in disklayout.conf"),
            ("/dev/sde1", "swap excluded in disklayout.conf"),
            ("/dev/mapper/cr", "crypt excluded in disklayout.conf"),
        ]
    );
    assert!(!l.to_json().contains("password"));
    // ReaR leaves btrfs subvolume lines of an excluded file system active.
    let l = ok("#fs /dev/sdg1 /mnt btrfs uuid= label= options=rw\nbtrfsnormalsubvol /dev/sdg1 /mnt 257 @data\n");
    assert!(has_note(
        &l,
        "/dev/sdg1",
        "btrfs subvolume @data of an excluded btrfs file system"
    ));
    assert!(l.filesystems.is_empty());
}

/// Every malformed line is an error naming the file, line and line text.
#[test]
fn errors_name_the_line() {
    let e = err("disk /dev/sda 1073741824 gpt\n# comment\n\nfoo /dev/sda 1 2\n");
    assert_eq!(
        e.to_string(),
        "disklayout.conf:4: unknown line type \"foo\": foo /dev/sda 1 2"
    );
    assert_eq!((e.line, e.text.as_str()), (4, "foo /dev/sda 1 2"));
    let e =
        err("disk /dev/sda 1073741824 gpt\npart /dev/sda 12x 1048576 rear-noname none /dev/sda1\n");
    assert_eq!(
        e.to_string(),
        "disklayout.conf:2: part: size \"12x\" is not a number: part /dev/sda 12x 1048576 rear-noname none /dev/sda1"
    );
    let cases: &[(&str, usize, &str)] = &[
        ("disk /dev/sda", 1, "disk: too few fields (1; the form is \"disk <device> <bytes> <partition table type>\")"),
        ("disk /dev/sda 1 gpt extra", 1, "disk: too many fields"),
        ("disk sda 1 gpt", 1, "disk: device \"sda\" is not a device path (/dev/...)"),
        ("disk /dev/sda 1 gpt\ndisk /dev/sda 1 gpt", 2, "disk: /dev/sda is listed twice"),
        ("disk /dev/sda 1 gpt\npart /dev/sda 1 x rear-noname none /dev/sda1", 2, "part: start \"x\" is not a number"),
        ("disk /dev/sda 1 gpt\npart /dev/sda 1 1 rear-noname BOOT /dev/sda1", 2, "part: flag \"BOOT\" is not a parted flag"),
        ("disk /dev/sda 1 gpt\npart /dev/sda 1 1 rear-noname none /dev/sda", 2, "part: partition \"/dev/sda\" has no partition number"),
        ("part /dev/sda 1 1 rear-noname none /dev/sda1", 1, "part: no disk line for /dev/sda"),
        ("disk /dev/sda 1 unknown\npart /dev/sda 1 1 primary none /dev/sda1", 2, "part: disk /dev/sda has no partition table"),
        ("disk /dev/sda 1 msdos\npart /dev/sda 1 1 rear-noname none /dev/sda1", 2, "part: \"rear-noname\" is not primary, extended or logical (msdos disk)"),
        ("disk /dev/sda 1 msdos\npart /dev/sda 1 1 primary none /dev/sda1\npart /dev/sda 1 2 primary none /dev/sda1", 3, "part: partition /dev/sda1 is listed twice"),
        ("raidarray /dev/md0 level=raid1 raid-devices=2", 1, "raidarray: no devices="),
        ("raidarray /dev/md0 raid-devices=2 devices=/dev/sda", 1, "raidarray: no level="),
        ("raid /dev/md0 level=raid1 devices=/dev/sda", 1, "raid: no raid-devices="),
        ("raidarray /dev/md0 level=raid1 raid-devices=two devices=/dev/sda", 1, "raidarray: raid-devices \"two\" is not a number"),
        ("raidarray /dev/md0 level=raid1 raid-devices=2 devices=/dev/sda chunk=64K", 1, "raidarray: chunk \"64K\" is not a number"),
        ("raidarray /dev/md0 level=raid1 raid-devices=2 devices=/dev/sda bitmap", 1, "raidarray: \"bitmap\" is not key=value"),
        ("raiddisk /dev/md0 1 unknown", 1, "raiddisk: no raidarray line for /dev/md0"),
        ("lvmdev system /dev/sda1 u 1", 1, "lvmdev: volume group \"system\" is not /dev/<vg>"),
        ("lvmdev /dev/vg /dev/sda1 u 1", 1, "lvmdev: no lvmgrp line for /dev/vg"),
        ("lvmgrp /dev/vg 4M 1 4096", 1, "lvmgrp: extent size \"4M\" is not a number"),
        ("lvmgrp /dev/vg 4096\nlvmgrp /dev/vg 4096", 2, "lvmgrp: /dev/vg is listed twice"),
        ("lvmvol /dev/vg lv 10b linear", 1, "lvmvol: no lvmgrp line for /dev/vg"),
        ("lvmgrp /dev/vg 4096\nlvmvol /dev/vg lv 10b linear stripes=2", 2, "lvmvol: \"stripes=2\" is not key:value"),
        ("lvmgrp /dev/vg 4096\nlvmvol /dev/vg lv 10b", 2, "lvmvol: no LV layout after the size"),
        ("lvmgrp /dev/vg 4096\nlvmvol /dev/vg lv 1x0b linear", 2, "lvmvol: size \"1x0\" is not a number"),
        ("lvmgrp /dev/vg 4096\nlvmvol /dev/vg lv 10 20 30", 2, "lvmvol: too many fields"),
        ("lvmgrp /dev/vg 4096\nlvmvol /dev/vg lv 10b linear\nlvmvol /dev/vg lv 10b linear", 3, "lvmvol: /dev/mapper/vg-lv is listed twice"),
        ("fs /dev/sda1 /", 1, "fs: too few fields"),
        ("fs /dev/sda1 / ext4 uuid=x garbage", 1, "fs: \"garbage\" is not key=value"),
        ("fs /dev/sda1 / ext4 reserved_blocks=5x", 1, "fs: reserved_blocks \"5x\" is not a number"),
        ("fs /dev/sda1 / ext4 reserved_blocks=x%", 1, "fs: reserved_blocks \"x\" is not a number"),
        ("fs /dev/sda1 / ext4 blocksize=4k", 1, "fs: blocksize \"4k\" is not a number"),
        ("fs /dev/sda1 / ext4 options=rw\nfs /dev/sda2 / ext4 options=rw", 2, "fs: mount point / is listed twice"),
        ("fs /dev/sda1 / ext4 options=rw\nfs /dev/sda1 /x xfs options=rw", 2, "fs: /dev/sda1 is listed as ext4 before and as xfs here"),
        ("btrfsnormalsubvol /dev/sda1 / 257 @home", 1, "btrfsnormalsubvol: no btrfs fs line for /dev/sda1"),
        ("btrfsnormalsubvol /dev/sda1 / x @home", 1, "btrfsnormalsubvol: subvolume id \"x\" is not a number"),
        ("btrfsmountedsubvol /dev/sda1 /home", 1, "btrfsmountedsubvol: too few fields"),
        ("btrfsnocopyonwrite @a @b", 1, "btrfsnocopyonwrite: too many fields"),
        ("btrfsnocopyonwrite @a", 1, "btrfsnocopyonwrite: no btrfs subvolume @a"),
        ("fs /dev/sda1 / ext4 options=rw\nbtrfsdefaultsubvol /dev/sda1 / 256 @", 2, "btrfsdefaultsubvol: no btrfs fs line for /dev/sda1"),
        ("swap /dev/sda2 uuid=x priority=1", 1, "swap: unknown field \"priority\""),
        ("swap /dev/sda2 uuid=x\nswap /dev/sda2 uuid=y", 2, "swap: /dev/sda2 is listed twice"),
        ("crypt /dev/sda2 /dev/sda3 type=luks2", 1, "crypt: \"/dev/sda2\" is not /dev/mapper/<name>"),
        ("crypt /dev/mapper/x /dev/sda3 type=luks3", 1, "crypt: type \"luks3\" is not luks1 or luks2"),
        ("crypt /dev/mapper/x /dev/sda3 key_size=big", 1, "crypt: key_size \"big\" is not a number"),
        ("crypt /dev/mapper/x", 1, "crypt: too few fields"),
        ("multipath /dev/mapper/m big gpt /dev/sda", 1, "multipath: size \"big\" is not a number"),
        ("drbd /dev/drbd0 r0", 1, "drbd: too few fields"),
        ("opaldisk /dev/sda boot", 1, "opaldisk: \"boot\" is not key=value"),
        ("smartarray", 1, "smartarray: too few fields"),
    ];
    for (text, line, want) in cases {
        let e = err(text);
        assert_eq!(e.line, *line, "{text}: {e}");
        assert!(
            e.message.starts_with(want),
            "{text}:\n got: {}\nwant: {want}",
            e.message
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(e.text, lines[line - 1], "{text}");
        assert_eq!(
            e.to_string(),
            format!("disklayout.conf:{line}: {}: {}", e.message, e.text)
        );
    }
}

/// Numbers whose bytes do not fit in 64 bits (each panicked in a debug
/// build, and wrapped in a release one, before: found by fuzz::disklayout_conf).
#[test]
fn sizes_past_2_64_bytes_are_errors_naming_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("raidarray /dev/md0 level=raid1 raid-devices=2 devices=/dev/sda chunk=18014398509481984", 1,
         "raidarray: chunk \"18014398509481984\" in units of 1024 bytes is past 2^64 bytes"),
        ("lvmgrp /dev/vg 18014398509481984", 1,
         "lvmgrp: extent size \"18014398509481984\" in units of 1024 bytes is past 2^64 bytes"),
        ("lvmgrp /dev/vg 4096 1 18014398509481984", 1,
         "lvmgrp: size \"18014398509481984\" in units of 1024 bytes is past 2^64 bytes"),
        ("lvmgrp /dev/vg 4096 4398046511104", 1,
         "lvmgrp: 4398046511104 extents of 4194304 bytes are past 2^64 bytes"),
        ("lvmgrp /dev/vg 4096\nlvmvol /dev/vg lv 1 36028797018963968", 2,
         "lvmvol: size \"36028797018963968\" in units of 512 bytes is past 2^64 bytes"),
        // Sectors (the VG is larger than the PV read as bytes).
        ("lvmgrp /dev/vg 4096 1 70368744177664\nlvmdev /dev/vg /dev/sda1 x 36028797018963968", 2,
         "lvmdev: size 36028797018963968 sectors is past 2^64 bytes"),
    ];
    for (text, line, want) in cases {
        let e = err(text);
        assert_eq!((e.line, e.message.as_str()), (*line, *want), "{text}");
    }
}

/// Secrets on a bad line stay out of the error.
#[test]
fn errors_never_show_passwords() {
    let e = err("opaldisk /dev/nvme0n1 boot=y password=s3cret junk");
    assert_eq!(e.line, 1);
    assert!(!e.to_string().contains("s3cret"), "{e}");
    assert_eq!(e.text, "opaldisk /dev/nvme0n1 boot=y password=*** junk");
    let e = err("crypt /dev/mapper/x /dev/sda3 type=luks9\tpassword=s3cret  password=again x");
    assert_eq!(
        e.text,
        "crypt /dev/mapper/x /dev/sda3 type=luks9\tpassword=***  password=*** x"
    );
}

#[test]
fn empty_file_is_an_empty_layout() {
    assert_eq!(ok(""), Layout::new());
    assert_eq!(ok("# only\n# comments\n\n"), Layout::new());
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
