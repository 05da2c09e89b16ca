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
