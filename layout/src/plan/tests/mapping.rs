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
