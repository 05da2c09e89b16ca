//! LUKS: where it comes in the order, its passphrase, its PBKDF costs.

use super::*;

#[test]
fn luks_needs_a_passphrase_file_and_never_puts_it_on_argv() {
    let mut l = scenarios::gpt_esp_ext4_swap();
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

#[test]
fn luks_on_a_logical_volume_comes_after_lvm() {
    let l = scenarios::luks_on_lvm();
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
    let mut l2 = scenarios::gpt_esp_ext4_swap();
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
    let l = scenarios::luks_on_lvm();
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
