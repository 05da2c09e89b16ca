//! Partition tables on md arrays, IMSM containers, and logical volumes put
//! back at their extents.

use super::*;

fn two(a: &str, b: &str, size: u64) -> ([PresentDisk; 2], Options) {
    let opts = Options {
        map: [
            ("/dev/vda".to_string(), a.to_string()),
            ("/dev/vdb".to_string(), b.to_string()),
        ]
        .into(),
        ..Default::default()
    };
    ([disk(a, size), disk(b, size)], opts)
}

fn step<'a>(p: &'a Plan, id: &str) -> &'a Step {
    p.steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} not in {:?}", ids(p)))
}

fn pos(p: &Plan, id: &str) -> usize {
    ids(p)
        .iter()
        .position(|s| *s == id)
        .unwrap_or_else(|| panic!("{id} not in {:?}", ids(p)))
}

#[test]
fn a_partition_table_on_a_whole_disk_array_is_written_after_the_array() {
    let (here, opts) = two("/dev/vdc", "/dev/vdd", GIB);
    let p = plan(&scenarios::partitioned_raid1_lvm(), &here, &opts).unwrap();
    assert!(pos(&p, "wipe:/dev/vdd") < pos(&p, "raid:/dev/md127"));
    assert!(pos(&p, "raid:/dev/md127") < pos(&p, "partition:/dev/md127"));
    assert!(pos(&p, "partition:/dev/md127") < pos(&p, "clean:/dev/md127p3"));
    assert!(pos(&p, "clean:/dev/md127p3") < pos(&p, "pv:/dev/md127p3"));
    assert!(pos(&p, "partition:/dev/md127") < pos(&p, "mkfs:/dev/md127p1"));
    let raid = step(&p, "raid:/dev/md127");
    assert!(
        raid.argv.ends_with(&["/dev/vdc".into(), "/dev/vdd".into()]),
        "{:?}",
        raid.argv
    );
    assert!(raid
        .argv
        .contains(&"--uuid=00000127:11111111:22222222:33333333".to_string()));
    let table = step(&p, "partition:/dev/md127");
    assert_eq!(table.argv.last().unwrap(), "/dev/md127");
    let Some(Input::Text(script)) = &table.input else {
        panic!("no sfdisk input")
    };
    // Same size: the table as it was, GUIDs and all.
    for want in [
        "label: gpt",
        "label-id: 12700000-2222-4333-8444-555555555555",
        "/dev/md127p1 : start=2048, size=131072, type=c12a7328-f81f-11d2-ba4b-00a0c93ec93b, uuid=00000000-0000-4000-8000-000000000101",
        "/dev/md127p3 : start=395264,",
    ] {
        assert!(script.contains(want), "{want} in {script}");
    }
    // It writes, through the array, exactly the two target disks.
    for w in ["/dev/md127", "/dev/vdc", "/dev/vdd"] {
        assert!(table.writes.contains(&w.to_string()), "{:?}", table.writes);
    }
    let mkfs = step(&p, "mkfs:/dev/md127p2");
    assert!(
        mkfs.writes.contains(&"/dev/vdc".to_string())
            && mkfs.writes.contains(&"/dev/vdd".to_string()),
        "{:?}",
        mkfs.writes
    );
    // The system's names stay: the array keeps its name, so do its partitions.
    assert!(!p.renames.contains_key("/dev/md127p1") || p.renames["/dev/md127p1"] == "/dev/md127p1");
}

#[test]
fn the_array_table_follows_the_array_when_the_disks_grow() {
    let (here, opts) = two("/dev/vdc", "/dev/vdd", 2 * GIB);
    let p = plan(&scenarios::partitioned_raid1_lvm(), &here, &opts).unwrap();
    let Some(Input::Text(script)) = &step(&p, "partition:/dev/md127").input else {
        panic!("no sfdisk input")
    };
    // md127p3 ended 1 MiB before the array's end; the array grew by
    // 1 GiB, so it ends 1 GiB further, 1 MiB before the new end.
    let old_end = (GIB - 8 * MIB - MIB) / 512;
    let new_end = old_end + GIB / 512;
    let line = script
        .lines()
        .find(|l| l.starts_with("/dev/md127p3"))
        .unwrap();
    let size: u64 = line
        .split("size=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(395264 + size, new_end, "{line}");
}

#[test]
fn lvs_are_created_in_extent_order_at_their_extents() {
    let (here, opts) = two("/dev/vdc", "/dev/vdd", GIB);
    let p = plan(&scenarios::partitioned_raid1_lvm(), &here, &opts).unwrap();
    // root holds extents 0-24: before home (25-39), though "home" < "root".
    assert!(pos(&p, "lv:vgm/root") < pos(&p, "lv:vgm/home"));
    assert!(pos(&p, "lv:vgm/root") < pos(&p, "lvextend:vgm/root:1"));
    let root = &step(&p, "lv:vgm/root").argv;
    assert!(root.contains(&"--extents=25".to_string()), "{root:?}");
    assert_eq!(root.last().unwrap(), "/dev/md127p3:0-24");
    assert!(!root.iter().any(|a| a.starts_with("--size=")), "{root:?}");
    let home = &step(&p, "lv:vgm/home").argv;
    assert!(home.contains(&"--extents=15".to_string()), "{home:?}");
    assert_eq!(home.last().unwrap(), "/dev/md127p3:25-39");
    let ext = &step(&p, "lvextend:vgm/root:1").argv;
    assert_eq!(
        ext,
        &[
            "lvextend",
            "--yes",
            "--extents=+5",
            "vgm/root",
            "/dev/md127p3:40-44"
        ]
    );
}

/// The partitioned array on GPT partitions of its disks (vda1, vdb1),
/// which may shrink, where whole disks may not.
fn on_partitions() -> Layout {
    let mut l = scenarios::partitioned_raid1_lvm();
    for d in &mut l.disks {
        d.label = Some(Label::Gpt);
        d.partitions = vec![Partition {
            number: 1,
            device: partition_device(&d.device, 1),
            start: MIB,
            size: GIB - 2 * MIB,
            type_: gpt::LINUX_RAID.into(),
            ..Default::default()
        }];
    }
    l.raids[0].devices = vec!["/dev/vda1".into(), "/dev/vdb1".into()];
    l
}

#[test]
fn lvs_on_a_larger_pv_keep_their_extents_and_on_a_smaller_one_their_order() {
    let l = on_partitions();
    let (big, opts) = two("/dev/vdc", "/dev/vdd", 2 * GIB);
    let p = plan(&l, &big, &opts).unwrap();
    assert_eq!(
        step(&p, "lv:vgm/root").argv.last().unwrap(),
        "/dev/md127p3:0-24"
    );
    let (small, opts) = two("/dev/vdc", "/dev/vdd", 900 * MIB);
    let p = plan(&l, &small, &opts).unwrap();
    // Allocated anew, but root still first: plain allocation puts it at
    // the PV's start, home after it.
    assert!(pos(&p, "lv:vgm/root") < pos(&p, "lv:vgm/home"));
    let root = &step(&p, "lv:vgm/root").argv;
    assert!(
        root.contains(&format!("--size={}b", 30 * 4 * MIB)),
        "{root:?}"
    );
    assert!(!root.iter().any(|a| a.contains(":0-")), "{root:?}");
    assert!(!ids(&p).iter().any(|id| id.starts_with("lvextend:")));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("vgm/root") && n.contains("shrank")),
        "{:?}",
        p.notes
    );
}

#[test]
fn lvs_of_a_layout_without_segments_keep_the_old_plan() {
    let mut l = scenarios::partitioned_raid1_lvm();
    for lv in &mut l.lvs {
        lv.segments.clear();
    }
    let (here, opts) = two("/dev/vdc", "/dev/vdd", GIB);
    let p = plan(&l, &here, &opts).unwrap();
    // By name, by size, as before segments were recorded.
    assert!(pos(&p, "lv:vgm/home") < pos(&p, "lv:vgm/root"));
    assert!(step(&p, "lv:vgm/root")
        .argv
        .contains(&format!("--size={}b", 30 * 4 * MIB)));
}

#[test]
fn an_imsm_container_is_made_before_the_volume_in_it() {
    let mut l = scenarios::imsm_raid1();
    // Listed after the volume in it, as capture may find them.
    l.raids.reverse();
    let opts = Options {
        map: [
            ("/dev/sda".to_string(), "/dev/sdc".to_string()),
            ("/dev/sdb".to_string(), "/dev/sdd".to_string()),
        ]
        .into(),
        ..Default::default()
    };
    let p = plan(&l, &[disk("/dev/sdc", GIB), disk("/dev/sdd", GIB)], &opts).unwrap();
    assert!(pos(&p, "raid:/dev/md127") < pos(&p, "raid:/dev/md126"));
    assert!(pos(&p, "raid:/dev/md126") < pos(&p, "partition:/dev/md126"));
    assert!(pos(&p, "partition:/dev/md126") < pos(&p, "mkfs:/dev/md126p1"));
    assert_eq!(
        step(&p, "raid:/dev/md127").argv,
        [
            "mdadm",
            "--create",
            "/dev/md127",
            "--run",
            "--metadata=imsm",
            "--level=container",
            "--raid-devices=2",
            "/dev/sdc",
            "/dev/sdd"
        ]
    );
    // In the container: its metadata and UUID are the container's to give,
    // it spans both disks, with the size it had on each.
    assert_eq!(
        step(&p, "raid:/dev/md126").argv,
        [
            "mdadm",
            "--create",
            "/dev/md126",
            "--run",
            "--level=raid1",
            "--raid-devices=2",
            "--name=vol0",
            "--size=921600K",
            "/dev/md127"
        ]
    );
    let mkfs = step(&p, "mkfs:/dev/md126p1");
    for w in [
        "/dev/md126p1",
        "/dev/md126",
        "/dev/md127",
        "/dev/sdc",
        "/dev/sdd",
    ] {
        assert!(
            mkfs.writes.contains(&w.to_string()),
            "{w} in {:?}",
            mkfs.writes
        );
    }
}

#[test]
fn a_write_to_an_array_partition_outside_the_plan_is_refused() {
    let (here, opts) = two("/dev/vdc", "/dev/vdd", GIB);
    let mut p = plan(&scenarios::partitioned_raid1_lvm(), &here, &opts).unwrap();
    check_confined(&p).unwrap();
    // md9p1 is no partition of a target or of an array the plan makes.
    p.steps[0].writes.push("/dev/md9p1".into());
    let err = check_confined(&p).unwrap_err();
    assert!(err.to_string().contains("/dev/md9p1"), "{err}");
}
