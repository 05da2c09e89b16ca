//! Disks without a partition table, whose content is the disk itself:
//! wiped, then made a file system, PV, md member or LUKS volume whole; no
//! partition table is written.

use super::*;

/// `dev` with `serial`, holding `holds` (blkid's words) and `partitions`.
fn here(
    dev: &str,
    size: u64,
    serial: Option<&str>,
    holds: &[&str],
    partitions: &[&str],
) -> PresentDisk {
    PresentDisk {
        serial: serial.map(Into::into),
        holds: holds.iter().map(|h| h.to_string()).collect(),
        partitions: partitions.iter().map(|p| p.to_string()).collect(),
        ..disk(dev, size)
    }
}

fn step<'p>(p: &'p Plan, id: &str) -> &'p Step {
    p.steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} not in {:?}", ids(p)))
}

/// No step partitions, and every step writes only `disks`.
fn no_partitioning(p: &Plan, disks: &[&str]) {
    for s in &p.steps {
        assert!(
            !s.id.starts_with("partition:") && !s.id.starts_with("clean:"),
            "{}",
            s.id
        );
        assert!(
            !s.argv.iter().any(|a| a == "partition-table"),
            "{:?}",
            s.argv
        );
        assert!(
            s.writes
                .iter()
                .all(|w| disks.contains(&w.as_str()) || !w.starts_with("/dev/vd")),
            "{} writes {:?}",
            s.id,
            s.writes
        );
    }
}

#[test]
fn ext4_on_a_whole_disk_is_wiped_and_made_on_the_disk() {
    let l = scenarios::whole_disk_ext4_root();
    // The same disk (its serial), holding its ext4 and an old partition.
    let p = plan(
        &l,
        &[here(
            "/dev/vda",
            2 * GIB,
            Some("OLD0"),
            &["ext4"],
            &["/dev/vda1"],
        )],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(
        ids(&p),
        [
            "wipe:/dev/vda1",
            "wipe:/dev/vda",
            "mkfs:/dev/vda",
            "mkdir:/mnt/local",
            "mount:/mnt/local"
        ]
    );
    no_partitioning(&p, &["/dev/vda", "/dev/vda1"]);
    let mkfs = &step(&p, "mkfs:/dev/vda").argv;
    assert_eq!(mkfs[0], "mkfs.ext4");
    assert_eq!(mkfs.last().unwrap(), "/dev/vda");
    assert!(mkfs.windows(2).any(|w| w == ["-N", "131072"]), "{mkfs:?}");
    assert_eq!(
        step(&p, "mount:/mnt/local").argv,
        ["mount", "-t", "ext4", "/dev/vda", "/mnt/local"]
    );
}

#[test]
fn a_whole_disk_file_system_takes_the_whole_of_a_larger_disk() {
    let l = scenarios::whole_disk_ext4_root();
    // A larger disk of another name, named by --map.
    let p = plan(
        &l,
        &[disk("/dev/vdb", 8 * GIB)],
        &map1("/dev/vda", "/dev/vdb"),
    )
    .unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/vdb");
    assert_eq!(p.renames["/dev/vda"], "/dev/vdb");
    assert_eq!(
        ids(&p),
        [
            "wipe:/dev/vdb",
            "mkfs:/dev/vdb",
            "mkdir:/mnt/local",
            "mount:/mnt/local"
        ]
    );
    no_partitioning(&p, &["/dev/vdb"]);
    let mkfs = &step(&p, "mkfs:/dev/vdb");
    assert_eq!(mkfs.writes, ["/dev/vdb"]);
    // No size: mkfs takes the device, all of it; inodes by ratio, as the
    // file system grew.
    assert!(
        mkfs.argv.windows(2).any(|w| w == ["-i", "16384"]),
        "{:?}",
        mkfs.argv
    );
    assert!(!mkfs.argv.iter().any(|a| a == "-N"), "{:?}", mkfs.argv);
    assert_eq!(mkfs.argv.last().unwrap(), "/dev/vdb");
    // A blank larger disk of its name is taken by itself.
    let p = plan(&l, &[disk("/dev/vda", 8 * GIB)], &Options::default()).unwrap();
    assert_eq!(p.mapping["/dev/vda"], "/dev/vda");
    assert!(step(&p, "mkfs:/dev/vda").argv.iter().any(|a| a == "-i"));
    // A smaller disk is refused before anything is written.
    let err = plan(&l, &[disk("/dev/vdb", GIB)], &map1("/dev/vda", "/dev/vdb")).unwrap_err();
    assert!(matches!(err, PlanError::TooSmall { .. }), "{err}");
    // A disk holding an ext4 of its own is never taken by its size.
    let err = plan(
        &l,
        &[here("/dev/vda", 2 * GIB, Some("OTHER"), &["ext4"], &[])],
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Unmapped { .. }), "{err}");
}

#[test]
fn an_lvm_pv_on_a_whole_disk_is_made_on_the_disk() {
    let l = scenarios::whole_disk_lvm();
    let p = plan(
        &l,
        &[disk("/dev/vdc", 2 * GIB)],
        &map1("/dev/vdb", "/dev/vdc"),
    )
    .unwrap();
    no_partitioning(&p, &["/dev/vdc"]);
    let order = ids(&p);
    assert_eq!(
        order[..5],
        [
            "wipe:/dev/vdc",
            "pv:/dev/vdc",
            "vg:vgw",
            "lv:vgw/data",
            "mkfs:/dev/mapper/vgw-data"
        ]
    );
    let pv = &step(&p, "pv:/dev/vdc");
    assert_eq!(pv.argv.last().unwrap(), "/dev/vdc");
    assert!(pv
        .argv
        .contains(&"--uuid=wwwwww-0000-1111-2222-3333-4444-555555".to_string()));
    assert_eq!(pv.writes, ["/dev/vdc"]);
    assert!(step(&p, "vg:vgw")
        .argv
        .ends_with(&["vgw".to_string(), "/dev/vdc".to_string()]));
}

#[test]
fn md_raid1_of_whole_disks_is_made_on_the_disks() {
    let l = scenarios::whole_disk_raid1();
    let opts = Options {
        map: [
            ("/dev/vda".to_string(), "/dev/vdc".to_string()),
            ("/dev/vdb".to_string(), "/dev/vdd".to_string()),
        ]
        .into(),
        ..Default::default()
    };
    let p = plan(
        &l,
        &[disk("/dev/vdc", 2 * GIB), disk("/dev/vdd", 2 * GIB)],
        &opts,
    )
    .unwrap();
    no_partitioning(&p, &["/dev/vdc", "/dev/vdd"]);
    assert_eq!(
        ids(&p)[..4],
        [
            "wipe:/dev/vdc",
            "wipe:/dev/vdd",
            "raid:/dev/md0",
            "mkfs:/dev/md0"
        ]
    );
    let raid = step(&p, "raid:/dev/md0");
    assert!(
        raid.argv
            .ends_with(&["/dev/vdc".to_string(), "/dev/vdd".to_string()]),
        "{:?}",
        raid.argv
    );
    assert!(raid.argv.contains(&"--level=raid1".to_string()));
    // The array grew with its members: its ext4 gets inodes by ratio.
    let mkfs = step(&p, "mkfs:/dev/md0");
    assert_eq!(mkfs.writes, ["/dev/md0", "/dev/vdc", "/dev/vdd"]);
}

#[test]
fn luks_on_a_whole_disk_is_formatted_on_the_disk() {
    let l = scenarios::whole_disk_luks();
    let opts = Options {
        passphrase_file: Some("/media/pass".into()),
        ..map1("/dev/vda", "/dev/vdb")
    };
    let p = plan(&l, &[disk("/dev/vdb", GIB)], &opts).unwrap();
    no_partitioning(&p, &["/dev/vdb"]);
    assert_eq!(
        ids(&p)[..4],
        [
            "wipe:/dev/vdb",
            "luks:cryptw",
            "open:cryptw",
            "mkfs:/dev/mapper/cryptw"
        ]
    );
    let f = step(&p, "luks:cryptw");
    assert_eq!(f.argv.last().unwrap(), "/dev/vdb");
    assert!(f
        .argv
        .contains(&"--uuid=cccccccc-0000-4000-8000-0000000000d3".to_string()));
    assert_eq!(
        step(&p, "open:cryptw").argv,
        ["cryptsetup", "open", "/dev/vdb", "cryptw"]
    );
}

#[test]
fn the_script_of_a_whole_disk_file_system_wipes_and_makes_it_without_sfdisk() {
    let p = plan(
        &scenarios::whole_disk_ext4_root(),
        &[disk("/dev/vdb", 8 * GIB)],
        &map1("/dev/vda", "/dev/vdb"),
    )
    .unwrap();
    let s = p.script("/var/lib/rear-build/layout.json");
    assert!(s.contains("#   /dev/vda -> /dev/vdb"), "{s}");
    assert!(
        s.contains("step wipe:/dev/vdb wipefs --all --force /dev/vdb\n"),
        "{s}"
    );
    let mkfs = s
        .lines()
        .find(|l| l.starts_with("step mkfs:/dev/vdb "))
        .unwrap_or_else(|| panic!("no mkfs step in {s}"));
    assert!(
        mkfs.starts_with(
            "step mkfs:/dev/vdb mkfs.ext4 -F -q -U aaaaaaaa-0000-4000-8000-0000000000d0 -L root "
        ),
        "{mkfs}"
    );
    assert!(mkfs.ends_with(" /dev/vdb"), "{mkfs}");
    assert!(!s.contains("partition-table"), "{s}");
    assert!(
        s.contains("step mount:/mnt/local mount -t ext4 /dev/vdb /mnt/local\n"),
        "{s}"
    );
}
