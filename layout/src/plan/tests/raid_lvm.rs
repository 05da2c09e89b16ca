//! md RAID and LVM: order, arguments, and volume groups that no longer fit.

use super::*;

#[test]
fn raid_lvm_thin_are_created_in_dependency_order() {
    let p = plan(
        &scenarios::raid1_lvm_thin(),
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
    let l = scenarios::raid1_lvm_thin();
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
