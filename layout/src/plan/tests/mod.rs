//! The planner's tests, by stage; the layouts are `crate::scenarios`.

mod fs;
mod geometry;
mod luks;
mod mapping;
mod md_partitions;
mod raid_lvm;
mod script;
mod whole_disk;

use super::geometry::MIB;
use super::luks::pbkdf_cost_args;
use super::mapping::glob;
use super::*;
use crate::gpt;
use crate::scenarios::{self, GIB};

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

/// A done step is known by its id: two steps with one id would make apply
/// and the script skip the second (the wipe of a new partition named as
/// an old one was).
#[test]
fn step_ids_are_unique_when_the_targets_hold_partitions_already() {
    let mut here = disk("/dev/vda", 2 * GIB);
    here.serial = Some("OLD0".into());
    here.partitions = (1..=3).map(|n| format!("/dev/vda{n}")).collect();
    let p = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[here],
        &Options::default(),
    )
    .unwrap();
    let mut seen = BTreeSet::new();
    for id in ids(&p) {
        assert!(seen.insert(id), "step id {id} twice: {:?}", ids(&p));
    }
}

#[test]
fn same_disk_plan_is_ordered_and_confined() {
    // The same disk (its serial), holding a partition still.
    let mut here = disk("/dev/vda", 2 * GIB);
    here.serial = Some("OLD0".into());
    here.partitions = vec!["/dev/vda1".into()];
    let p = plan(
        &scenarios::gpt_esp_ext4_swap(),
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
            "clean:/dev/vda1",
            "clean:/dev/vda2",
            "clean:/dev/vda3",
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
fn a_step_writing_outside_the_mapping_is_refused() {
    let mut p = plan(
        &scenarios::gpt_esp_ext4_swap(),
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
