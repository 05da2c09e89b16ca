use super::geometry::MIB;
use super::luks::pbkdf_cost_args;
use super::mapping::glob;
use super::*;

const GIB: u64 = 1 << 30;
const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const LINUX: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
const SWAP: &str = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f";

/// Scenario (a): GPT with ESP + ext4 root + swap on a 2 GiB disk.
fn gpt_layout() -> Layout {
    let mut l = Layout::new();
    let part = |n: u32, start: u64, size: u64, t: &str| Partition {
        number: n,
        device: format!("/dev/vda{n}"),
        start,
        size,
        type_: t.into(),
        uuid: Some(format!("00000000-0000-4000-8000-00000000000{n}")),
        ..Default::default()
    };
    l.disks.push(Disk {
        device: "/dev/vda".into(),
        size: 2 * GIB,
        logical_sector_size: 512,
        physical_sector_size: 512,
        label: Some(Label::Gpt),
        identifier: Some("11111111-2222-4333-8444-555555555555".into()),
        serial: Some("OLD0".into()),
        partitions: vec![
            part(1, MIB, 64 * MIB, ESP),
            part(2, 65 * MIB, 1536 * MIB, LINUX),
            part(
                3,
                1601 * MIB,
                2 * GIB - 1601 * MIB - 16384 - 512 - MIB,
                SWAP,
            ),
        ],
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: "/dev/vda1".into(),
        fstype: "vfat".into(),
        uuid: Some("ABCD-1234".into()),
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: "/dev/vda2".into(),
        fstype: "ext4".into(),
        uuid: Some("aaaaaaaa-0000-4000-8000-000000000001".into()),
        label: Some("root".into()),
        attrs: [(
            "features".to_string(),
            "has_journal,extent,needs_recovery".to_string(),
        )]
        .into(),
        ..Default::default()
    });
    l.swaps.push(Swap {
        device: "/dev/vda3".into(),
        uuid: Some("bbbbbbbb-0000-4000-8000-000000000001".into()),
        label: None,
    });
    l.mounts.push(Mount {
        device: "/dev/vda1".into(),
        mountpoint: "/boot/efi".into(),
        fstype: "vfat".into(),
        options: "rw,relatime,fmask=0077,dmask=0077".into(),
        ..Default::default()
    });
    l.mounts.push(Mount {
        device: "/dev/vda2".into(),
        mountpoint: "/".into(),
        fstype: "ext4".into(),
        ..Default::default()
    });
    l
}

fn disk(dev: &str, size: u64) -> PresentDisk {
    PresentDisk {
        device: dev.into(),
        size,
        logical_sector_size: 512,
        ..Default::default()
    }
}

fn map1(old: &str, new: &str) -> Options {
    Options {
        map: [(old.to_string(), new.to_string())].into(),
        ..Default::default()
    }
}

fn ids(p: &Plan) -> Vec<&str> {
    p.steps.iter().map(|s| s.id.as_str()).collect()
}

#[test]
fn same_disk_plan_is_ordered_and_confined() {
    let mut here = disk("/dev/vda", 2 * GIB);
    here.partitions = vec!["/dev/vda1".into()];
    let p = plan(
        &gpt_layout(),
        &[here, disk("/dev/vdb", 2 * GIB)],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/vda");
    assert_eq!(p.targets, BTreeSet::from(["/dev/vda".to_string()]));
    assert_eq!(
        ids(&p),
        [
            "wipe:/dev/vda1",
            "wipe:/dev/vda",
            "partition:/dev/vda",
            "wipe:/dev/vda1",
            "wipe:/dev/vda2",
            "wipe:/dev/vda3",
            "mkfs:/dev/vda1",
            "mkfs:/dev/vda2",
            "mkswap:/dev/vda3",
            "mkdir:/mnt/local",
            "mount:/mnt/local",
            "mkdir:/mnt/local/boot/efi",
            "mount:/mnt/local/boot/efi",
        ]
    );
    assert!(p
        .steps
        .iter()
        .all(|s| s.writes.iter().all(|w| w.starts_with("/dev/vda"))));
    let mkfs = &p.steps[7].argv;
    assert_eq!(mkfs[..3], ["mkfs.ext4", "-F", "-q"]);
    assert!(
        mkfs.contains(&"none,has_journal,extent".to_string()),
        "{mkfs:?}"
    );
    assert!(mkfs
        .windows(2)
        .any(|w| w == ["-U", "aaaaaaaa-0000-4000-8000-000000000001"]));
    let vfat = &p.steps[6].argv;
    assert!(vfat.windows(2).any(|w| w == ["-i", "ABCD1234"]), "{vfat:?}");
    // FAT gets the modes the source mounted it with; ext4 has its own.
    assert_eq!(
        p.steps[12].argv,
        [
            "mount",
            "-t",
            "vfat",
            "-o",
            "fmask=0077,dmask=0077",
            "/dev/vda1",
            "/mnt/local/boot/efi"
        ]
    );
    assert_eq!(
        p.steps[10].argv,
        ["mount", "-t", "ext4", "/dev/vda2", "/mnt/local"]
    );
}

#[test]
fn ext4_keeps_its_inode_count_unless_resized() {
    let mut l = gpt_layout();
    // The ext4 root is the last partition, so a larger disk grows it.
    l.disks[0].partitions.pop();
    l.swaps.clear();
    l.filesystems[1].attrs.extend([
        ("inode_count".to_string(), "229824".to_string()),
        ("bytes_per_inode".to_string(), "16356".to_string()),
    ]);
    let mkfs_of = |size: u64| {
        let p = plan(&l, &[disk("/dev/vda", size)], &Options::default()).unwrap();
        p.steps
            .iter()
            .find(|s| s.id == "mkfs:/dev/vda2")
            .unwrap()
            .argv
            .clone()
    };
    let same = mkfs_of(2 * GIB);
    assert!(same.windows(2).any(|w| w == ["-N", "229824"]), "{same:?}");
    assert!(!same.contains(&"-i".to_string()), "{same:?}");
    let grown = mkfs_of(4 * GIB);
    assert!(grown.windows(2).any(|w| w == ["-i", "16356"]), "{grown:?}");
    assert!(!grown.contains(&"-N".to_string()), "{grown:?}");
}

#[test]
fn sfdisk_script_keeps_ids_and_geometry() {
    let l = gpt_layout();
    let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &Options::default()).unwrap();
    let step = p
        .steps
        .iter()
        .find(|s| s.id == "partition:/dev/vda")
        .unwrap();
    let Some(Input::Text(script)) = &step.input else {
        panic!()
    };
    assert!(script.starts_with(
        "label: gpt\nlabel-id: 11111111-2222-4333-8444-555555555555\nunit: sectors\n"
    ));
    assert!(script.contains(&format!("/dev/vda1 : start=2048, size=131072, type={ESP}, uuid=00000000-0000-4000-8000-000000000001")), "{script}");
}

#[test]
fn migration_to_a_larger_disk_with_another_name_grows_the_last_partition() {
    let l = gpt_layout();
    let p = plan(
        &l,
        &[disk("/dev/sdb", 4 * GIB)],
        &map1("/dev/vda", "/dev/sdb"),
    )
    .unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/sdb");
    assert!(p.steps.iter().any(|s| s.argv
        == [
            "mkswap",
            "--force",
            "--uuid=bbbbbbbb-0000-4000-8000-000000000001",
            "/dev/sdb3"
        ]));
    let step = p
        .steps
        .iter()
        .find(|s| s.id == "partition:/dev/sdb")
        .unwrap();
    let Some(Input::Text(script)) = &step.input else {
        panic!()
    };
    // The swap partition keeps its start and its 1 MiB gap before the end.
    let end = 4 * GIB - 16384 - 512 - MIB;
    let size = (end - 1601 * MIB) / 512;
    assert!(
        script.contains(&format!(
            "/dev/sdb3 : start={}, size={size},",
            1601 * MIB / 512
        )),
        "{script}"
    );
    assert!(p.notes[0].contains("partitions resized"));
}

#[test]
fn a_slightly_smaller_disk_that_still_fits_shrinks_the_last_partition() {
    let p = plan(
        &gpt_layout(),
        &[disk("/dev/vdb", 2 * GIB - 100 * MIB)],
        &map1("/dev/vda", "/dev/vdb"),
    )
    .unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/vdb");
}

#[test]
fn proportional_resize_scales_every_partition() {
    let mut opts = map1("/dev/vda", "/dev/vdb");
    opts.resize = Resize::Proportional;
    let p = plan(&gpt_layout(), &[disk("/dev/vdb", 4 * GIB)], &opts).unwrap();
    let step = p
        .steps
        .iter()
        .find(|s| s.id == "partition:/dev/vdb")
        .unwrap();
    let Some(Input::Text(script)) = &step.input else {
        panic!()
    };
    // Root doubles (1536 MiB → about 3 GiB) instead of only the swap growing.
    let root = script.lines().find(|l| l.starts_with("/dev/vdb2")).unwrap();
    let size: u64 = root
        .split("size=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(size * 512 > 3000 * MIB && size * 512 < 3100 * MIB, "{root}");
    let starts: Vec<u64> = script
        .lines()
        .filter_map(|l| l.split("start=").nth(1))
        .map(|s| s.split(',').next().unwrap().parse::<u64>().unwrap())
        .collect();
    assert!(
        starts.iter().all(|s| s * 512 % MIB == 0),
        "aligned: {starts:?}"
    );
}

#[test]
fn a_target_too_small_fails_before_any_step() {
    let err = plan(
        &gpt_layout(),
        &[disk("/dev/vdb", GIB)],
        &map1("/dev/vda", "/dev/vdb"),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::TooSmall { .. }), "{err}");
    assert!(
        err.to_string().contains("/dev/vdb (1.0 GiB) is too small"),
        "{err}"
    );
}

#[test]
fn no_match_is_an_error_that_lists_the_candidates() {
    let err = plan(
        &gpt_layout(),
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
        &gpt_layout(),
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
    let p = plan(&gpt_layout(), &[other, same], &Options::default()).unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/vdb");
}

#[test]
fn a_larger_disk_of_the_same_name_replaces_the_old_one_a_smaller_does_not() {
    // gpt_layout's /dev/vda is 2 GiB.
    let p = plan(
        &gpt_layout(),
        &[disk("/dev/vda", 4 * GIB)],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/vda");
    let err = plan(&gpt_layout(), &[disk("/dev/vda", GIB)], &Options::default()).unwrap_err();
    assert!(matches!(err, PlanError::Unmapped { .. }), "{err}");
    // Another name of any larger size is not guessed.
    let err = plan(
        &gpt_layout(),
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
        let err = plan(&gpt_layout(), &here, &opts).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn two_old_disks_onto_one_new_disk_is_refused() {
    let mut l = gpt_layout();
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
    let err = plan(&gpt_layout(), &[busy], &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("refusing to write /dev/vda: it holds the rescue medium"),
        "{err}"
    );

    let mut usb = disk("/dev/vda", 2 * GIB);
    usb.ids = vec!["REAR-000".into()];
    let err = plan(&gpt_layout(), &[usb], &Options::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("write-protected (REAR-000"), "{err}");

    let mut wwn = disk("/dev/vda", 2 * GIB);
    wwn.wwn = Some("0x5000c500a1b2c3d4".into());
    let opts = Options {
        write_protected: vec!["0x5000c500*".into()],
        ..Default::default()
    };
    let err = plan(&gpt_layout(), &[wwn], &opts).unwrap_err().to_string();
    assert!(err.contains("0x5000c500a1b2c3d4 matches"), "{err}");
}

#[test]
fn an_equal_size_protected_disk_is_not_chosen_automatically() {
    // ReaR issue 1271: a backup disk of the same size taken as target.
    let mut usb = disk("/dev/sdb", 2 * GIB);
    usb.ids = vec!["REAR-000".into()];
    let err = plan(
        &gpt_layout(),
        &[usb, disk("/dev/sdc", 2 * GIB)],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(err.mapping["/dev/vda"], "/dev/sdc");
}

fn raid_lvm_layout() -> Layout {
    // Scenario (c): two-disk RAID1 → LVM with linear xfs and thin ext4.
    let mut l = Layout::new();
    for d in ["/dev/vda", "/dev/vdb"] {
        l.disks.push(Disk {
            device: d.into(),
            size: GIB,
            logical_sector_size: 512,
            physical_sector_size: 512,
            label: Some(Label::Gpt),
            partitions: vec![Partition {
                number: 1,
                device: format!("{d}1"),
                start: MIB,
                size: GIB - 2 * MIB,
                type_: "a19d880f-05fc-4d3b-a006-743f0f84911e".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    l.raids.push(Raid {
        device: "/dev/md0".into(),
        level: "raid1".into(),
        devices: vec!["/dev/vda1".into(), "/dev/vdb1".into()],
        metadata: "1.2".into(),
        uuid: "01234567:89abcdef:01234567:89abcdef".into(),
        name: Some("data".into()),
        size: GIB - 4 * MIB,
        ..Default::default()
    });
    l.pvs.push(Pv {
        device: "/dev/md0".into(),
        uuid: "pvuuid".into(),
        vg: "vg0".into(),
        size: GIB - 4 * MIB,
    });
    l.vgs.push(Vg {
        name: "vg0".into(),
        extent_size: 4 * MIB,
        size: GIB - 8 * MIB,
        uuid: None,
        free: None,
    });
    l.lvs.push(Lv {
        vg: "vg0".into(),
        name: "data".into(),
        device: lv_device("vg0", "data"),
        segtype: "linear".into(),
        size: 400 * MIB,
        ..Default::default()
    });
    l.lvs.push(Lv {
        vg: "vg0".into(),
        name: "thin".into(),
        device: lv_device("vg0", "thin"),
        segtype: "thin".into(),
        size: 2 * GIB,
        pool: Some("pool".into()),
        ..Default::default()
    });
    l.lvs.push(Lv {
        vg: "vg0".into(),
        name: "pool".into(),
        device: lv_device("vg0", "pool"),
        segtype: "thin-pool".into(),
        size: 300 * MIB,
        metadata_size: Some(4 * MIB),
        chunk_size: Some(64 * 1024),
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: lv_device("vg0", "data"),
        fstype: "xfs".into(),
        uuid: Some("cccccccc-0000-4000-8000-000000000001".into()),
        attrs: [
            ("crc".to_string(), "1".to_string()),
            ("reflink".to_string(), "1".to_string()),
        ]
        .into(),
        ..Default::default()
    });
    l
}

#[test]
fn raid_lvm_thin_are_created_in_dependency_order() {
    let p = plan(
        &raid_lvm_layout(),
        &[disk("/dev/vdc", GIB), disk("/dev/vdd", GIB)],
        &Options {
            map: [
                ("/dev/vda".to_string(), "/dev/vdc".to_string()),
                ("/dev/vdb".to_string(), "/dev/vdd".to_string()),
            ]
            .into(),
            ..Default::default()
        },
    )
    .unwrap();
    let order = ids(&p);
    let pos = |id: &str| {
        order
            .iter()
            .position(|s| *s == id)
            .unwrap_or_else(|| panic!("{id} not in {order:?}"))
    };
    assert!(pos("partition:/dev/vdd") < pos("raid:/dev/md0"));
    assert!(pos("raid:/dev/md0") < pos("pv:/dev/md0"));
    assert!(pos("pv:/dev/md0") < pos("vg:vg0"));
    assert!(pos("lv:vg0/pool") < pos("lv:vg0/thin"));
    assert!(pos("lv:vg0/data") < pos("mkfs:/dev/mapper/vg0-data"));
    let raid = &p.steps[pos("raid:/dev/md0")];
    assert!(
        raid.argv
            .ends_with(&["/dev/vdc1".to_string(), "/dev/vdd1".to_string()]),
        "{:?}",
        raid.argv
    );
    assert!(raid
        .argv
        .contains(&"--uuid=01234567:89abcdef:01234567:89abcdef".to_string()));
    // The xfs on the LV writes, through md, only the target disks.
    let mkfs = &p.steps[pos("mkfs:/dev/mapper/vg0-data")];
    assert!(
        mkfs.writes.contains(&"/dev/vdc".to_string())
            && mkfs.writes.contains(&"/dev/vdd".to_string()),
        "{:?}",
        mkfs.writes
    );
    assert!(
        mkfs.argv
            .contains(&"uuid=cccccccc-0000-4000-8000-000000000001,crc=1,reflink=1".to_string()),
        "{:?}",
        mkfs.argv
    );
    let thin = &p.steps[pos("lv:vg0/thin")];
    assert!(
        thin.argv.contains(&"--thinpool=pool".to_string())
            && thin.argv.contains(&format!("--virtualsize={}b", 2 * GIB))
    );
}

#[test]
fn lvs_that_no_longer_fit_are_an_error_before_writing() {
    let l = raid_lvm_layout();
    let small = [disk("/dev/vdc", 700 * MIB), disk("/dev/vdd", 700 * MIB)];
    let opts = Options {
        map: [
            ("/dev/vda".to_string(), "/dev/vdc".to_string()),
            ("/dev/vdb".to_string(), "/dev/vdd".to_string()),
        ]
        .into(),
        ..Default::default()
    };
    let err = plan(&l, &small, &opts).unwrap_err();
    assert!(matches!(err, PlanError::LvsDoNotFit { .. }), "{err}");
    assert!(err.to_string().contains("volume group vg0"), "{err}");
    // 900 MiB members leave enough room: the plan goes through.
    let fits = [disk("/dev/vdc", 900 * MIB), disk("/dev/vdd", 900 * MIB)];
    plan(&l, &fits, &opts).unwrap();
}

#[test]
fn luks_needs_a_passphrase_file_and_never_puts_it_on_argv() {
    let mut l = gpt_layout();
    l.luks.push(Luks {
        device: "/dev/mapper/cr".into(),
        name: "cr".into(),
        backing: "/dev/vda2".into(),
        version: 2,
        cipher: "aes-xts-plain64".into(),
        key_size: 512,
        hash: "sha256".into(),
        pbkdf: Some("argon2id".into()),
        uuid: "dddddddd-0000-4000-8000-000000000001".into(),
        ..Default::default()
    });
    l.filesystems[1].device = "/dev/mapper/cr".into();
    l.mounts[1].device = "/dev/mapper/cr".into();
    let here = [disk("/dev/vda", 2 * GIB)];
    let err = plan(&l, &here, &Options::default()).unwrap_err();
    assert_eq!(err, PlanError::NoPassphrase("/dev/mapper/cr".into()));
    let opts = Options {
        passphrase_file: Some("/media/pass".into()),
        ..Default::default()
    };
    let p = plan(&l, &here, &opts).unwrap();
    let fmt = p.steps.iter().find(|s| s.id == "luks:cr").unwrap();
    assert_eq!(fmt.input, Some(Input::Secret("/media/pass".into())));
    assert!(fmt.argv.iter().all(|a| !a.contains("pass")));
    let script = p.script("layout.json");
    assert!(script.contains("< <(passphrase /media/pass)"), "{script}");
    let mkfs = p
        .steps
        .iter()
        .find(|s| s.id == "mkfs:/dev/mapper/cr")
        .unwrap();
    assert!(mkfs.writes.contains(&"/dev/vda2".to_string()));
}

/// Scenario (d): /boot on vda2, LVM on vda3, LUKS2 on vg0/root, ext4 in it.
fn luks_on_lvm_layout() -> Layout {
    let mut l = gpt_layout();
    l.disks[0].partitions[2].type_ = "e6d6d379-f507-44c2-a23c-238f2a3df928".into();
    l.swaps.clear();
    l.pvs.push(Pv {
        device: "/dev/vda3".into(),
        uuid: "pvuuid".into(),
        vg: "vg0".into(),
        size: 300 * MIB,
    });
    l.vgs.push(Vg {
        name: "vg0".into(),
        extent_size: 4 * MIB,
        size: 296 * MIB,
        uuid: None,
        free: None,
    });
    l.lvs.push(Lv {
        vg: "vg0".into(),
        name: "root".into(),
        device: lv_device("vg0", "root"),
        segtype: "linear".into(),
        size: 200 * MIB,
        ..Default::default()
    });
    l.luks.push(Luks {
        device: "/dev/mapper/cryptroot".into(),
        name: "cryptroot".into(),
        backing: lv_device("vg0", "root"),
        version: 2,
        cipher: "aes-xts-plain64".into(),
        key_size: 512,
        hash: "sha256".into(),
        pbkdf: Some("argon2id".into()),
        pbkdf_iterations: Some(4),
        pbkdf_memory_kib: Some(65536),
        pbkdf_threads: Some(2),
        uuid: "dddddddd-0000-4000-8000-000000000002".into(),
        ..Default::default()
    });
    l.filesystems[1].device = "/dev/mapper/cryptroot".into();
    l.mounts[1].device = "/dev/mapper/cryptroot".into();
    l
}

#[test]
fn luks_on_a_logical_volume_comes_after_lvm() {
    let l = luks_on_lvm_layout();
    let opts = Options {
        passphrase_file: Some("/media/pass".into()),
        ..Default::default()
    };
    let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
    let pos = |id: &str| {
        p.steps
            .iter()
            .position(|s| s.id == id)
            .unwrap_or_else(|| panic!("no step {id}"))
    };
    assert!(pos("lv:vg0/root") < pos("luks:cryptroot"));
    assert!(pos("luks:cryptroot") < pos("open:cryptroot"));
    assert!(pos("open:cryptroot") < pos("mkfs:/dev/mapper/cryptroot"));
    let fmt = &p.steps[pos("luks:cryptroot")];
    assert_eq!(fmt.argv.last().unwrap(), "/dev/mapper/vg0-root");
    // What it writes reaches down to the disk (apply checks the targets).
    for d in ["/dev/mapper/vg0-root", "/dev/vda3", "/dev/vda"] {
        assert!(fmt.writes.contains(&d.to_string()), "{:?}", fmt.writes);
    }
    let mkfs = &p.steps[pos("mkfs:/dev/mapper/cryptroot")];
    assert!(
        mkfs.writes.contains(&"/dev/vda".to_string()),
        "{:?}",
        mkfs.writes
    );
    // LUKS on a partition still comes before LVM.
    let mut l2 = gpt_layout();
    l2.luks.push(Luks {
        device: "/dev/mapper/cr".into(),
        name: "cr".into(),
        backing: "/dev/vda2".into(),
        version: 2,
        ..Default::default()
    });
    l2.pvs.push(Pv {
        device: "/dev/mapper/cr".into(),
        uuid: "pv".into(),
        vg: "vgc".into(),
        size: GIB,
    });
    l2.vgs.push(Vg {
        name: "vgc".into(),
        extent_size: 4 * MIB,
        size: GIB,
        uuid: None,
        free: None,
    });
    let p2 = plan(&l2, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
    let pos2 = |id: &str| p2.steps.iter().position(|s| s.id == id).unwrap();
    assert!(pos2("open:cr") < pos2("pv:/dev/mapper/cr"));
}

#[test]
fn luks_keeps_the_recorded_pbkdf_costs() {
    let l = luks_on_lvm_layout();
    let opts = Options {
        passphrase_file: Some("/media/pass".into()),
        ..Default::default()
    };
    let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
    let fmt = p.steps.iter().find(|s| s.id == "luks:cryptroot").unwrap();
    for a in [
        "--pbkdf=argon2id",
        "--pbkdf-force-iterations=4",
        "--pbkdf-memory=65536",
        "--pbkdf-parallel=2",
    ] {
        assert!(
            fmt.argv.contains(&a.to_string()),
            "{a} not in {:?}",
            fmt.argv
        );
    }
    // PBKDF2 (LUKS1, or LUKS2 with pbkdf2): iterations only.
    let mut x = l.luks[0].clone();
    x.version = 1;
    x.pbkdf = Some("pbkdf2".into());
    x.pbkdf_iterations = Some(123456);
    assert_eq!(pbkdf_cost_args(&x), ["--pbkdf-force-iterations=123456"]);
    // Nothing recorded (a layout imported from ReaR): cryptsetup benchmarks.
    x.pbkdf_iterations = None;
    assert!(pbkdf_cost_args(&x).is_empty());
}

#[test]
fn the_scripts_passphrase_is_the_first_line_without_cr() {
    let l = luks_on_lvm_layout();
    let opts = Options {
        passphrase_file: Some("/media/pass".into()),
        ..Default::default()
    };
    let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
    let script = p.script("layout.json");
    let def = script
        .lines()
        .find(|l| l.starts_with("passphrase() {"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (content, want) in [
        (&b"pass phrase\nsecond\n"[..], &b"pass phrase\n"[..]),
        (b"crlf\r\n", b"crlf\n"),
        (b"no newline", b"no newline\n"),
    ] {
        let f = dir.path().join("p");
        std::fs::write(&f, content).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{def}\npassphrase \"$1\""))
            .arg("-")
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(out.stdout, want, "{content:?}");
    }
}

#[test]
fn msdos_extended_and_logical_keep_their_kinds() {
    let mut l = Layout::new();
    let part = |n: u32, start: u64, size: u64, t: &str, kind: PartKind| Partition {
        number: n,
        device: format!("/dev/vda{n}"),
        start,
        size,
        type_: t.into(),
        kind,
        bootable: n == 1,
        ..Default::default()
    };
    l.disks.push(Disk {
        device: "/dev/vda".into(),
        size: 2 * GIB,
        logical_sector_size: 512,
        physical_sector_size: 512,
        label: Some(Label::Msdos),
        identifier: Some("0x1234abcd".into()),
        partitions: vec![
            part(1, MIB, 500 * MIB, "0x83", PartKind::Primary),
            part(2, 501 * MIB, 2 * GIB - 501 * MIB, "0x5", PartKind::Extended),
            part(5, 502 * MIB, 600 * MIB, "0x83", PartKind::Logical),
            part(
                6,
                1103 * MIB,
                2 * GIB - 1103 * MIB,
                "0x83",
                PartKind::Logical,
            ),
        ],
        ..Default::default()
    });
    let p = plan(
        &l,
        &[disk("/dev/vdb", 3 * GIB)],
        &map1("/dev/vda", "/dev/vdb"),
    )
    .unwrap();
    let step = p
        .steps
        .iter()
        .find(|s| s.id == "partition:/dev/vdb")
        .unwrap();
    let Some(Input::Text(script)) = &step.input else {
        panic!()
    };
    assert!(
        script.starts_with("label: dos\nlabel-id: 0x1234abcd\n"),
        "{script}"
    );
    assert!(
        script.contains("/dev/vdb1 : start=2048, size=1024000, type=83, bootable"),
        "{script}"
    );
    // Both the extended container and its last logical partition grow.
    let grown = (3 * GIB - 1103 * MIB) / 512;
    assert!(
        script.contains(&format!(
            "/dev/vdb6 : start={}, size={grown}, type=83",
            1103 * MIB / 512
        )),
        "{script}"
    );
    assert!(
        script.contains(&format!(
            "/dev/vdb2 : start={}, size={}, type=5",
            501 * MIB / 512,
            (3 * GIB - 501 * MIB) / 512
        )),
        "{script}"
    );
    assert!(
        !p.steps.iter().any(|s| s.id == "wipe:/dev/vdb2"),
        "extended containers are not wiped"
    );
}

#[test]
fn a_step_writing_outside_the_mapping_is_refused() {
    let mut p = plan(
        &gpt_layout(),
        &[disk("/dev/vda", 2 * GIB)],
        &Options::default(),
    )
    .unwrap();
    p.steps[0].writes.push("/dev/sdz".into());
    let err = check_confined(&p).unwrap_err().to_string();
    assert!(
        err.contains("/dev/sdz") && err.contains("outside the mapping"),
        "{err}"
    );
    // A partition-looking name of a non-target is refused too.
    p.steps[0].writes = vec!["/dev/vda1x".into()];
    assert!(check_confined(&p).is_err());
}

#[test]
fn the_script_skips_done_steps_and_quotes() {
    let p = plan(
        &gpt_layout(),
        &[disk("/dev/vda", 2 * GIB)],
        &Options::default(),
    )
    .unwrap();
    let s = p.script("/var/lib/rear-build/layout.json");
    assert!(s.contains("#   /dev/vda -> /dev/vda"));
    assert!(
        s.contains("step wipe:/dev/vda wipefs --all --force /dev/vda\n"),
        "{s}"
    );
    assert!(s.contains("step partition:/dev/vda sfdisk --wipe=always --wipe-partitions=always /dev/vda <<'REAR_EOF'\nlabel: gpt\n"), "{s}");
    assert!(s.contains("grep -qxF \"$id\" \"$state\""));
}

#[test]
fn globs() {
    assert!(glob("REAR-*", "rear-000"));
    assert!(glob("0x5000c500*", "0x5000c500a1"));
    assert!(!glob("sd?", "sdab"));
}
