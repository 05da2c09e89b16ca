//! Mapping old disks to new ones, and the disks never written.

use super::*;

#[test]
fn no_match_is_an_error_that_lists_the_candidates() {
    let err = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[disk("/dev/vdb", 3 * GIB), disk("/dev/vdc", 3 * GIB)],
        &Options::default(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("--map /dev/vda=/dev/NEW") && msg.contains("/dev/vdc 3.0 GiB"),
        "{msg}"
    );
    let opts = Options {
        map: [("/dev/vda".to_string(), "/dev/vdc".to_string())].into(),
        ..Default::default()
    };
    let p = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[disk("/dev/vdb", 3 * GIB), disk("/dev/vdc", 3 * GIB)],
        &opts,
    )
    .unwrap();
    assert_eq!(p.targets, BTreeSet::from(["/dev/vdc".to_string()]));
    assert!(p
        .steps
        .iter()
        .all(|s| s.writes.iter().all(|w| w.starts_with("/dev/vdc"))));
}

#[test]
fn identity_beats_name_and_size() {
    let mut other = disk("/dev/vda", 2 * GIB);
    other.serial = Some("NEW".into());
    let mut same = disk("/dev/vdb", 3 * GIB);
    same.serial = Some("OLD0".into());
    let p = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[other, same],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/vdb");
}

#[test]
fn a_larger_disk_of_the_same_name_replaces_the_old_one_a_smaller_does_not() {
    // gpt_esp_ext4_swap's /dev/vda is 2 GiB.
    let p = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[disk("/dev/vda", 4 * GIB)],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/vda");
    let err = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[disk("/dev/vda", GIB)],
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Unmapped { .. }), "{err}");
    // Another name of any larger size is not guessed.
    let err = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[disk("/dev/vdb", 4 * GIB)],
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Unmapped { .. }), "{err}");
}

#[test]
fn map_to_unknown_or_from_unknown_disk_is_refused() {
    let here = [disk("/dev/vda", 2 * GIB)];
    for (o, n, want) in [
        (
            "/dev/vda",
            "/dev/vdz",
            "/dev/vdz is not a disk on this machine",
        ),
        (
            "/dev/sdq",
            "/dev/vda",
            "/dev/sdq is not a disk of the saved layout",
        ),
    ] {
        let opts = Options {
            map: [(o.to_string(), n.to_string())].into(),
            ..Default::default()
        };
        let err = plan(&scenarios::gpt_esp_ext4_swap(), &here, &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn two_old_disks_onto_one_new_disk_is_refused() {
    let mut l = scenarios::gpt_esp_ext4_swap();
    let mut d2 = l.disks[0].clone();
    d2.device = "/dev/vdb".into();
    d2.serial = None;
    d2.partitions.clear();
    d2.label = None;
    l.disks.push(d2);
    let opts = Options {
        map: [
            ("/dev/vda".to_string(), "/dev/vdc".to_string()),
            ("/dev/vdb".to_string(), "/dev/vdc".to_string()),
        ]
        .into(),
        ..Default::default()
    };
    let err = plan(&l, &[disk("/dev/vdc", 2 * GIB)], &opts).unwrap_err();
    assert!(matches!(err, PlanError::NotOneToOne(..)), "{err}");
}

#[test]
fn disks_in_use_or_write_protected_are_refused() {
    let mut busy = disk("/dev/vda", 2 * GIB);
    busy.in_use = Some("it holds the rescue medium".into());
    let err = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[busy],
        &Options::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("refusing to write /dev/vda: it holds the rescue medium"),
        "{err}"
    );

    let mut usb = disk("/dev/vda", 2 * GIB);
    usb.ids = vec!["REAR-000".into()];
    let err = plan(&scenarios::gpt_esp_ext4_swap(), &[usb], &Options::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("write-protected (REAR-000"), "{err}");

    let mut wwn = disk("/dev/vda", 2 * GIB);
    wwn.wwn = Some("0x5000c500a1b2c3d4".into());
    let opts = Options {
        write_protected: vec!["0x5000c500*".into()],
        ..Default::default()
    };
    let err = plan(&scenarios::gpt_esp_ext4_swap(), &[wwn], &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("0x5000c500a1b2c3d4 matches"), "{err}");
}

#[test]
fn an_equal_size_protected_disk_is_not_chosen_automatically() {
    // ReaR issue 1271: a backup disk of the same size taken as target.
    let mut usb = disk("/dev/sdb", 2 * GIB);
    usb.ids = vec!["REAR-000".into()];
    let err = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[usb, disk("/dev/sdc", 2 * GIB)],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(err.mapping["/dev/vda"], "/dev/sdc");
}

#[test]
fn globs() {
    assert!(glob("REAR-*", "rear-000"));
    assert!(glob("0x5000c500*", "0x5000c500a1"));
    assert!(!glob("sd?", "sdab"));
}

/// The dry run of the review: a layout of `sda` (serial OLDOS, 500 GiB);
/// here a new 1 TiB `sda` and a 500 GiB data disk `sdb`. The data disk
/// has the right size but holds a file system and another serial: the
/// new, blank sda is the one taken.
#[test]
fn a_same_size_disk_that_holds_data_is_never_chosen_by_size() {
    let mut l = scenarios::gpt_esp_ext4_swap();
    l.disks[0].serial = Some("OLDOS".into());
    l.disks[0].size = 500 * GIB;
    // Every device of the layout renamed vda → sda.
    let l = Layout::from_json(&l.to_json().replace("/dev/vda", "/dev/sda")).unwrap();
    let new = disk("/dev/sda", 1024 * GIB);
    let mut data = disk("/dev/sdb", 500 * GIB);
    data.serial = Some("DATA1".into());
    data.holds = vec!["ext4 on /dev/sdb1".into()];
    data.partitions = vec!["/dev/sdb1".into()];
    let m = map_disks(&l, &[new.clone(), data.clone()], &Options::default()).unwrap();
    assert_eq!(m["/dev/sda"], "/dev/sda");
    // Without the new disk nothing is chosen, and the refusal says what sdb holds.
    let err = map_disks(&l, &[data.clone()], &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no disk here matches /dev/sda") && err.contains("holds ext4 on /dev/sdb1"),
        "{err}"
    );
    // The same name and size, another serial, a file system on it: the
    // same refusal (the VM test g writes it nowhere either).
    let mut other = data;
    other.device = "/dev/sda".into();
    let err = map_disks(&l, &[other], &Options::default()).unwrap_err();
    assert!(matches!(err, PlanError::Unmapped { .. }), "{err}");
    // Named with --map, it is the operator's choice.
    let mut named = disk("/dev/sdb", 500 * GIB);
    named.holds = vec!["ext4".into()];
    let m = map_disks(&l, &[named], &map1("/dev/sda", "/dev/sdb")).unwrap();
    assert_eq!(m["/dev/sda"], "/dev/sdb");
}

#[test]
fn a_blank_replacement_with_another_serial_is_taken() {
    let l = scenarios::gpt_esp_ext4_swap();
    let mut new = disk("/dev/vda", 2 * GIB);
    new.serial = Some("NEW9".into());
    let m = map_disks(&l, &[new], &Options::default()).unwrap();
    assert_eq!(m["/dev/vda"], "/dev/vda");
}

#[test]
fn a_disk_capture_left_out_is_never_chosen_by_itself() {
    let mut l = scenarios::gpt_esp_ext4_swap();
    l.excluded_disks.push(ExcludedDisk {
        device: "/dev/vdb".into(),
        size: 2 * GIB,
        serial: Some("BACKUP7".into()),
        wwn: None,
        why: "excluded".into(),
    });
    // Blank and of the right size, but the disk capture left out (it came
    // back blank, or was never written): not a target unless named.
    let mut medium = disk("/dev/vdb", 2 * GIB);
    medium.serial = Some("BACKUP7".into());
    let err = map_disks(&l, &[medium.clone()], &Options::default()).unwrap_err();
    assert!(matches!(err, PlanError::Unmapped { .. }), "{err}");
    let m = map_disks(&l, &[medium], &map1("/dev/vda", "/dev/vdb")).unwrap();
    assert_eq!(m["/dev/vda"], "/dev/vdb");
}

/// The layout's /dev/vda (serial OLD0) with a WWN and a by-id name as
/// capture records them, and two disks here that both hold data, so only
/// a --map takes either: sda and sdb, whose kernel names could as well be
/// the other way round after the next boot.
fn named_disks() -> (Layout, Vec<PresentDisk>) {
    let mut l = scenarios::gpt_esp_ext4_swap();
    l.disks[0].wwn = Some("0x5000c500a1b2c3d4".into());
    l.disks[0].by_id = vec!["ata-OLD_DISK_OLD0".into(), "wwn-0x5000c500a1b2c3d4".into()];
    let here = |dev: &str, serial: &str, wwn: &str, port: u32| PresentDisk {
        serial: Some(serial.into()),
        wwn: Some(wwn.into()),
        model: Some("NEW DISK".into()),
        by_id: vec![
            format!("ata-NEW_DISK_{serial}"),
            format!("wwn-0x{}", wwn.trim_start_matches("naa.")),
        ],
        by_path: vec![format!("pci-0000:00:1f.2-ata-{port}")],
        partitions: vec![format!("{dev}1")],
        holds: vec![format!("ext4 on {dev}1")],
        ..disk(dev, 3 * GIB)
    };
    (
        l,
        vec![
            here("/dev/sda", "S1", "naa.5000c500deadbeef", 1),
            here("/dev/sdb", "S2", "naa.5000c500cafef00d", 2),
        ],
    )
}

fn mapped(old: &str, new: &str) -> Result<Plan, PlanError> {
    let (l, here) = named_disks();
    plan(&l, &here, &map1(old, new))
}

#[test]
fn a_map_names_disks_by_link_wwn_or_serial_on_either_side() {
    for (old, new, want) in [
        ("/dev/vda", "/dev/sdb", "/dev/sdb"),
        (
            "/dev/vda",
            "/dev/disk/by-path/pci-0000:00:1f.2-ata-2",
            "/dev/sdb",
        ),
        (
            "/dev/vda",
            "/dev/disk/by-id/wwn-0x5000c500deadbeef",
            "/dev/sda",
        ),
        ("/dev/vda", "/dev/disk/by-id/ata-NEW_DISK_S2", "/dev/sdb"),
        // sysfs says naa.…, lsblk 0x…, an operator either, in any case.
        ("/dev/vda", "wwn:0x5000C500CAFEF00D", "/dev/sdb"),
        ("/dev/vda", "wwn:naa.5000c500deadbeef", "/dev/sda"),
        ("/dev/vda", "serial:S1", "/dev/sda"),
        // The old disk by what capture recorded of it.
        ("wwn:5000c500a1b2c3d4", "serial:S2", "/dev/sdb"),
        ("serial:OLD0", "serial:S1", "/dev/sda"),
        ("/dev/disk/by-id/ata-OLD_DISK_OLD0", "serial:S1", "/dev/sda"),
    ] {
        let p = mapped(old, new).unwrap_or_else(|e| panic!("{old}={new}: {e}"));
        assert_eq!(p.mapping["/dev/vda"], want, "{old}={new}");
        assert_eq!(p.chosen["/dev/vda"], format!("--map {old}={new}"));
        assert!(p
            .steps
            .iter()
            .all(|s| s.writes.iter().all(|w| w.starts_with(want))));
    }
}

#[test]
fn a_map_entry_that_names_no_disk_or_two_is_refused_naming_entry_and_disks() {
    for (old, new, want) in [
        (
            "/dev/vda",
            "sdb",
            "\"sdb\" is not a form of disk name (expected /dev/NAME",
        ),
        ("/dev/vda", "/dev/disk/by-uuid/1234", "names no whole disk"),
        ("/dev/vda", "wwn:", "gives no WWN"),
        (
            "/dev/vda",
            "/dev/sda1",
            "/dev/sda1 is a partition of /dev/sda, not a whole disk",
        ),
        (
            "/dev/vda",
            "/dev/disk/by-id/wwn-0x5000c500deadbeef-part1",
            "a -partN link names a partition",
        ),
        (
            "/dev/vda",
            "/dev/disk/by-path/pci-0000:00:1f.2-ata-3",
            "no disk here is /dev/disk/by-path/pci-0000:00:1f.2-ata-3",
        ),
        (
            "/dev/vda",
            "wwn:0x5000c500ffffffff",
            "no disk here has the WWN",
        ),
        (
            "/dev/vda",
            "serial:S3",
            "no disk here has the serial of serial:S3",
        ),
        (
            "serial:NOPE",
            "/dev/sda",
            "serial:NOPE names no disk of the saved layout",
        ),
        (
            "/dev/disk/by-path/pci-0000:00:1f.2-ata-1",
            "/dev/sda",
            "the saved layout records no by-path names",
        ),
    ] {
        let err = mapped(old, new).unwrap_err();
        assert!(matches!(err, PlanError::BadMap(..)), "{err}");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("--map {old}={new}: ")), "{msg}");
        assert!(msg.contains(want), "{old}={new}: {msg}");
    }
    // What the disks here are, to name one right.
    let msg = mapped("/dev/vda", "serial:S3").unwrap_err().to_string();
    assert!(
        msg.contains("/dev/sdb 3.0 GiB, model NEW DISK, serial S2, WWN naa.5000c500cafef00d, holds ext4 on /dev/sdb1, /dev/disk/by-id/ata-NEW_DISK_S2")
            && msg.contains("/dev/disk/by-path/pci-0000:00:1f.2-ata-2"),
        "{msg}"
    );
    let msg = mapped("serial:NOPE", "/dev/sda").unwrap_err().to_string();
    assert!(
        msg.contains("its disks: /dev/vda, wwn:0x5000c500a1b2c3d4, serial:OLD0, /dev/disk/by-id/ata-OLD_DISK_OLD0"),
        "{msg}"
    );
    // Two disks with one serial (cloned virtual disks): neither is guessed.
    let (l, mut here) = named_disks();
    here[1].serial = Some("S1".into());
    let err = plan(&l, &here, &map1("/dev/vda", "serial:S1"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("serial:S1 is ambiguous: /dev/sda, /dev/sdb all have it"),
        "{err}"
    );
    // One old disk named twice.
    let opts = Options {
        map: vec![
            ("/dev/vda".into(), "/dev/sda".into()),
            ("serial:OLD0".into(), "/dev/sdb".into()),
        ],
        ..Default::default()
    };
    let err = plan(&l, &here, &opts).unwrap_err().to_string();
    assert!(
        err.contains("--map serial:OLD0=/dev/sdb: /dev/vda of the layout is mapped already (chosen by --map /dev/vda=/dev/sda)"),
        "{err}"
    );
}

#[test]
fn map_entries_split_where_both_sides_are_disk_names() {
    use crate::plan::names::{split_entry, DiskName};
    assert_eq!(
        split_entry("/dev/disk/by-id/scsi-a=b=/dev/sdc").unwrap(),
        (
            DiskName::ById("scsi-a=b".into()),
            DiskName::Kernel("/dev/sdc".into())
        )
    );
    assert_eq!(
        split_entry("wwn:0x5000=serial:X 1").unwrap(),
        (
            DiskName::Wwn("0x5000".into()),
            DiskName::Serial("X 1".into())
        )
    );
    let err = split_entry("serial:a=serial:b=serial:c").unwrap_err();
    assert!(err.contains("in 2 ways"), "{err}");
    assert!(split_entry("/dev/sda")
        .unwrap_err()
        .contains("expected OLD=NEW"));
    assert!(split_entry("/dev/sda=sdb").unwrap_err().contains("\"sdb\""));
}

/// Capture records lsblk's WWN (`0x…`), sysfs gives the rescue system
/// `naa.…`: the same disk, found by its identity although it holds data.
#[test]
fn identity_compares_wwns_as_lsblk_and_sysfs_write_them() {
    let (mut l, mut here) = named_disks();
    l.disks[0].serial = None;
    here[1].wwn = Some("naa.5000C500A1B2C3D4".into());
    let p = plan(&l, &here, &Options::default()).unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/sdb");
    assert_eq!(p.chosen["/dev/vda"], "its WWN 0x5000c500a1b2c3d4");
    // What the operator confirms: the disk, all it is, and why it was taken.
    assert_eq!(
        p.mapping_lines(&here),
        ["/dev/vda -> /dev/sdb 3.0 GiB, model NEW DISK, serial S2, WWN naa.5000C500A1B2C3D4, holds ext4 on /dev/sdb1 (chosen by its WWN 0x5000c500a1b2c3d4)"]
    );
}
