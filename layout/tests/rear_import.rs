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
