//! Partition tables refitted to other disks, and the sfdisk scripts.

use super::*;

#[test]
fn sfdisk_script_keeps_ids_and_geometry() {
    let l = scenarios::gpt_esp_ext4_swap();
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
    assert!(script.contains(&format!("/dev/vda1 : start=2048, size=131072, type={}, uuid=00000000-0000-4000-8000-000000000001", gpt::ESP)), "{script}");
}

#[test]
fn migration_to_a_larger_disk_with_another_name_grows_the_last_partition() {
    let l = scenarios::gpt_esp_ext4_swap();
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
        &scenarios::gpt_esp_ext4_swap(),
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
    let p = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[disk("/dev/vdb", 4 * GIB)],
        &opts,
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
        &scenarios::gpt_esp_ext4_swap(),
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
fn msdos_extended_and_logical_keep_their_kinds() {
    let l = scenarios::msdos_logical();
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
        !p.steps
            .iter()
            .any(|s| s.id == "wipe:/dev/vdb2" || s.id == "clean:/dev/vdb2"),
        "extended containers are not wiped"
    );
}

/// The partitions `plan` writes onto /dev/vdb, read back from its sfdisk
/// script, as a disk of `size` bytes.
fn written(l: &Layout, p: &Plan, size: u64) -> Disk {
    let step = p
        .steps
        .iter()
        .find(|s| s.id == "partition:/dev/vdb")
        .unwrap();
    let Some(Input::Text(script)) = &step.input else {
        panic!()
    };
    let mut d = l.disks[0].clone();
    d.size = size;
    for part in &mut d.partitions {
        let line = script
            .lines()
            .find(|x| x.starts_with(&format!("/dev/vdb{} ", part.number)))
            .unwrap_or_else(|| panic!("no partition {} in {script}", part.number));
        let field = |k: &str| -> u64 {
            let v = line.split(&format!("{k}=")).nth(1).unwrap();
            v.split(',').next().unwrap().parse::<u64>().unwrap() * 512
        };
        (part.start, part.size) = (field("start"), field("size"));
    }
    d
}

/// An msdos disk that is all extended partition (msdos_only_logical, an
/// old disk aligned to cylinders) onto a larger and a smaller disk: the
/// extended partition stays after the MBR and holds its logical partitions,
/// each with room for its EBR before it. With --proportional onto a
/// larger disk the extended partition started at byte 0 (its start was
/// taken 1 MiB before the first logical one's, saturating) and sfdisk
/// would have been handed a partition over the MBR.
#[test]
fn a_disk_of_only_logical_partitions_refits_to_a_larger_and_a_smaller_disk() {
    let l = scenarios::msdos_only_logical();
    for size in [4 * GIB, 2 * GIB + 3 * MIB, 2 * GIB - 300 * MIB] {
        for resize in [Resize::LastPartition, Resize::Proportional] {
            let mut opts = map1("/dev/vda", "/dev/vdb");
            opts.resize = resize;
            let p = plan(&l, &[disk("/dev/vdb", size)], &opts)
                .unwrap_or_else(|e| panic!("{size} {resize:?}: {e}"));
            let d = written(&l, &p, size);
            let what = format!("{size} {resize:?}: {:?}", d.partitions);
            crate::validate::partitions(&d).unwrap_or_else(|e| panic!("{what}: {e}"));
            let [ext, l5, l6] = &d.partitions[..] else {
                panic!("{what}")
            };
            assert!(ext.start >= 512 && l5.start > ext.start, "{what}");
            assert!(l6.start > l5.start + l5.size, "room for an EBR: {what}");
            assert!(l6.start + l6.size <= ext.start + ext.size, "{what}");
            assert!(ext.start + ext.size <= size, "{what}");
            if resize == Resize::LastPartition || size < l.disks[0].size {
                // The last logical partition takes the new end.
                assert_eq!(l6.start + l6.size, size, "{what}");
            } else {
                // Every logical partition grows.
                assert!(l5.size >= l.disks[0].partitions[1].size, "{what}");
                assert!(l6.size > l.disks[0].partitions[2].size, "{what}");
            }
        }
    }
    let err = plan(
        &l,
        &[disk("/dev/vdb", 400 * MIB)],
        &map1("/dev/vda", "/dev/vdb"),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::TooSmall { .. }), "{err}");
}

/// Random msdos and GPT tables (aligned to MiB or to cylinders, with and
/// without primaries, with and without logical partitions) refitted to
/// random larger and smaller disks either way: the planner writes a
/// table the loader accepts, or refuses, and never panics.
#[test]
fn random_tables_refit_to_valid_tables_or_are_refused() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut planned, mut refused) = (0, 0);
    for _ in 0..400 {
        let chs = rnd(2) == 0;
        let gpt = rnd(4) == 0;
        let (unit, gap) = if chs {
            (255 * 63 * 512, 63 * 512)
        } else {
            (MIB, MIB)
        };
        let mut l = scenarios::msdos_logical();
        let d = &mut l.disks[0];
        d.label = Some(if gpt { Label::Gpt } else { Label::Msdos });
        d.partitions.clear();
        let mut at = gap;
        let mut number = 1;
        let part = |kind: PartKind, n: u32, start: u64, size: u64| Partition {
            number: n,
            device: format!("/dev/vda{n}"),
            start,
            size,
            type_: "0x83".into(),
            kind,
            ..Default::default()
        };
        for _ in 0..rnd(3) {
            let size = (1 + rnd(40)) * unit - gap;
            d.partitions.push(part(PartKind::Primary, number, at, size));
            (at, number) = (at + size + gap, number + 1);
        }
        if !gpt && rnd(3) != 0 {
            let ext = at;
            let mut n = 5;
            for _ in 0..1 + rnd(4) {
                let size = (1 + rnd(40)) * unit - gap;
                d.partitions
                    .push(part(PartKind::Logical, n, at + gap, size));
                (at, n) = (at + gap + size, n + 1);
            }
            at += rnd(3) * unit;
            d.partitions
                .push(part(PartKind::Extended, number, ext, at - ext));
        }
        d.size = at + rnd(3) * unit + if gpt { 2 * MIB } else { 0 };
        if d.partitions.is_empty() || crate::validate::check(&l).is_err() {
            continue;
        }
        let old = l.disks[0].size;
        for size in [
            old + (1 + rnd(4000)) * MIB,
            old.saturating_sub(rnd(200) * MIB),
        ] {
            for resize in [Resize::LastPartition, Resize::Proportional] {
                let mut opts = map1("/dev/vda", "/dev/vdb");
                opts.resize = resize;
                match plan(&l, &[disk("/dev/vdb", size)], &opts) {
                    Ok(p) => {
                        planned += 1;
                        let d = written(&l, &p, size);
                        if let Err(e) = crate::validate::partitions(&d) {
                            panic!(
                                "{e}: {:?} onto {size} ({resize:?}) gave {:?}",
                                l.disks[0], d.partitions
                            );
                        }
                    }
                    Err(PlanError::TooSmall { .. }) => refused += 1,
                    Err(e) => panic!("{e}: {:?} onto {size} ({resize:?})", l.disks[0]),
                }
            }
        }
    }
    assert!(
        planned > 500 && refused > 20,
        "{planned} planned, {refused} refused"
    );
}

/// Logical partitions and no extended one, which loading refuses: refit,
/// reached without that check (plan_checked), says so instead of panicking.
#[test]
fn logical_partitions_without_an_extended_one_are_an_error_not_a_panic() {
    let mut d = scenarios::msdos_only_logical().disks[0].clone();
    d.partitions.retain(|p| p.kind == PartKind::Logical);
    let err =
        crate::plan::geometry::refit(&d, 4 * GIB, "/dev/vdb", Resize::LastPartition).unwrap_err();
    assert!(
        err.to_string()
            .contains("logical partitions without an extended one"),
        "{err}"
    );
}
