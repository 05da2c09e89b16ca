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
