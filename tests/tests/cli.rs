//! The command line as a user meets it: help, closure, errors.

use rear_tests::rear_build;

#[test]
fn help_teaches_the_commands() {
    let r = rear_build(&["--help"], &[], None);
    assert_eq!(r.status, 0);
    for w in ["image", "closure", "store", "mkrescue", "--store"] {
        assert!(r.stdout.contains(w), "--help lacks {w}:\n{}", r.stdout);
    }
    let r = rear_build(&["image", "--help"], &[], None);
    for w in [
        "rear.auto=run:/PATH",
        "--include",
        "-r, --kernel-version",
        "SOURCE_DATE_EPOCH",
        "--pxe-root <DIR>",
        "pxe.world_readable = true",
    ] {
        assert!(
            r.stdout.contains(w),
            "image --help lacks {w}:\n{}",
            r.stdout
        );
    }
}

#[test]
fn closure_of_journalctl_has_its_runpath_only_library() {
    let r = rear_build(&["closure", "/usr/bin/journalctl"], &[], None);
    if !std::path::Path::new("/usr/bin/journalctl").exists() {
        panic!("needs systemd installed (/usr/bin/journalctl)");
    }
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "output is not sorted");
    assert!(
        lines.iter().any(|l| l.contains("libsystemd-shared-")),
        "{}",
        r.stdout
    );
    assert!(lines.contains(&"/usr/bin/journalctl"));
    assert!(lines.iter().all(|l| l.starts_with('/')));
}

#[test]
fn closure_of_a_missing_file_fails_clearly() {
    let r = rear_build(&["closure", "/nonexistent/prog"], &[], None);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("/nonexistent/prog"), "{}", r.stderr);
    let r = rear_build(&["closure", "no-such-program-xyz"], &[], None);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("not found in PATH"), "{}", r.stderr);
}

#[test]
fn bad_input_is_reported_with_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("s");
    let o = d.path().join("o");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "image",
            "--store",
            s.to_str().unwrap(),
            "--output",
            o.to_str().unwrap(),
        ];
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        rear_build(&a, &[], None)
    };
    let r = run(args(&["-r", "0.0-nonexistent"]));
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("vmlinuz-0.0-nonexistent not found"),
        "{}",
        r.stderr
    );
    let r = run(args(&["--recipe", "no-such-recipe"]));
    assert!(
        r.stderr.contains("no recipe \"no-such-recipe\""),
        "{}",
        r.stderr
    );
    let r = run(args(&["--include", "/nonexistent/file"]));
    assert!(
        r.stderr.contains("--include /nonexistent/file"),
        "{}",
        r.stderr
    );
    let r = run(args(&["--add-module", "no_such_module"]));
    assert!(r.stderr.contains("no_such_module"), "{}", r.stderr);
    assert!(
        !o.join("initrd.img").exists(),
        "nothing is written on error"
    );
}

#[test]
fn a_rear_disklayout_imports_and_shows_as_a_tree() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("layout.json");
    let conf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../layout/tests/fixtures/rear/raid-lvm.disklayout.conf"
    );
    let r = rear_build(
        &["layout", "import-rear", conf, "-o", out.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    // What the written layout holds, against the fixture's own lines (not
    // against another printout of the same code).
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let disks: Vec<(&str, u64)> = json["disks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["device"].as_str().unwrap(), d["size"].as_u64().unwrap()))
        .collect();
    // vdc and vde are commented out (excluded) in the file.
    assert_eq!(
        disks,
        [
            ("/dev/vda", 1 << 30),
            ("/dev/vdb", 1 << 30),
            ("/dev/vdd", 1 << 30)
        ]
    );
    let vda2 = &json["disks"][0]["partitions"][1];
    assert_eq!(
        (vda2["start"].as_u64(), vda2["size"].as_u64()),
        (Some(735051776), Some(209715200))
    );
    let md0 = &json["raids"][0];
    assert_eq!(md0["level"], "raid1");
    assert_eq!(
        md0["devices"],
        serde_json::json!(["/dev/vda1", "/dev/vdb1"])
    );
    assert_eq!(json["raids"][1]["chunk"], 65536);
    assert_eq!(json["vgs"][0]["extent_size"], 4096 * 1024);
    let root = json["lvs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "root")
        .unwrap();
    assert_eq!(
        (root["segtype"].as_str(), root["size"].as_u64()),
        (Some("linear"), Some(209715200))
    );
    assert!(json["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["device"] == "/dev/mapper/vg0-root"
            && m["mountpoint"] == "/mnt"
            && m["fstype"] == "ext4"));
    // The tree printed: md0 on both mirrors' first partitions, root's LV.
    assert!(
        r.stdout.contains(
            "  /dev/vdb1  part  700.0 MiB\n    /dev/md0  raid1  699.0 MiB  LVM PV of vg0"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("/dev/mapper/vg0-root  lv linear  200.0 MiB  ext4 \"root\"  /mnt\n"),
        "{}",
        r.stdout
    );
    // `layout show` of the written file prints what the import printed.
    let shown = rear_build(&["layout", "show", out.to_str().unwrap()], &[], None);
    assert_eq!(shown.stdout, r.stdout);
    let mode = std::fs::metadata(&out).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    // A malformed line is an error with its line number.
    let bad = d.path().join("bad.conf");
    std::fs::write(&bad, "disk /dev/sda 12x gpt\n").unwrap();
    let r = rear_build(
        &[
            "layout",
            "import-rear",
            bad.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("disklayout.conf:1:"), "{}", r.stderr);
}

#[test]
fn the_configuration_directory_sets_defaults_and_flags_override_it() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("etc");
    std::fs::create_dir_all(cfg.join("conf.d")).unwrap();
    let out = d.path().join("from-config");
    std::fs::write(
        cfg.join("config.toml"),
        format!(
            "[image]\noutput = \"{}\"\nstore = \"{}\"\ncompress_level = 9\n",
            out.display(),
            d.path().join("store").display()
        ),
    )
    .unwrap();
    std::fs::write(
        cfg.join("conf.d/50-level.toml"),
        "[image]\ncompress_level = 5\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let dump = rear_build(&["-c", c, "dump"], &[], None);
    assert_eq!(dump.status, 0, "{}", dump.stderr);
    assert!(
        dump.stdout.contains("compress_level = 5") && dump.stdout.contains("50-level.toml"),
        "{}",
        dump.stdout
    );
    let r = rear_build(&["-c", c, "image", "--compress-level", "4"], &[], None);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        m["inputs"]["compression"]["level"], 4,
        "the flag beats the configuration"
    );
    std::fs::write(
        cfg.join("conf.d/60-bad.toml"),
        "[image]\nmodules = \"few\"\n",
    )
    .unwrap();
    let bad = rear_build(&["-c", c, "dump"], &[], None);
    assert_eq!(bad.status, 2);
    assert!(
        bad.stderr.contains("60-bad.toml") && bad.stderr.contains("image.modules"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_backup_names_the_image_it_was_made_with_and_recover_holds_it_to_that() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/a"), "data").unwrap();
    let (cfg, out, target) = (
        d.path().join("etc"),
        d.path().join("out"),
        d.path().join("t"),
    );
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        format!(
            "[backup]\nurl = \"file://{}\"\n[image]\noutput = \"{}\"\nstore = \"{}\"\n",
            target.display(),
            out.display(),
            d.path().join("store").display()
        ),
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let r = rear_build(&["-c", c, "image"], &[], None);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let mut layout = rear_layout::Layout::new();
    layout.mounts.push(rear_layout::Mount {
        device: "/dev/x".into(),
        mountpoint: src.to_string_lossy().into(),
        fstype: "ext4".into(),
        ..Default::default()
    });
    let lf = d.path().join("layout.json");
    std::fs::write(&lf, layout.to_json()).unwrap();
    let r = rear_build(
        &["-c", c, "mkbackuponly", "--layout", lf.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    // The manifest's header names the image in the output directory.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let id = m["image_id"].as_str().unwrap();
    let current = std::fs::read_to_string(target.join("current")).unwrap();
    let sums = std::fs::read_to_string(target.join(current.trim()).join("backup.sums")).unwrap();
    let header: serde_json::Value = serde_json::from_str(sums.lines().next().unwrap()).unwrap();
    let pin = &header["rear_build_backup"]["pin"];
    assert_eq!(pin["image"], id, "{header}");
    assert_eq!(
        pin["manifest_sha256"],
        rear_tests::sha256_file(&out.join("manifest.json")),
        "{header}"
    );
    // recover as another image: refused before the layout is even looked at.
    let other = "0".repeat(64);
    let r = rear_build(
        &[
            "-c",
            c,
            "recover",
            "--yes",
            "--layout",
            lf.to_str().unwrap(),
            "--image",
            &other,
        ],
        &[],
        None,
    );
    assert_ne!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("recovery stopped before writing any disk")
            && r.stderr
                .contains(&format!("was made with image {}", &id[..16]))
            && r.stderr
                .contains("this rescue system is image 0000000000000000"),
        "{}",
        r.stderr
    );
    // That the right image passes: layout_vm's scenario x (a VM).
}

#[test]
fn mkbackuponly_and_restoreonly_round_trip_and_fail_loudly() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/a file"), "data").unwrap();
    std::fs::write(src.join("big"), vec![1u8; 3 << 20]).unwrap();
    let cfg = d.path().join("etc");
    std::fs::create_dir_all(&cfg).unwrap();
    let target = d.path().join("target");
    // No image in its output directory: the manifest has no header.
    std::fs::write(
        cfg.join("config.toml"),
        format!(
            "[backup]\nurl = \"file://{}\"\n[image]\noutput = \"{}\"\n",
            target.display(),
            d.path().join("out").display()
        ),
    )
    .unwrap();
    let mut layout = rear_layout::Layout::new();
    layout.mounts.push(rear_layout::Mount {
        device: "/dev/x".into(),
        mountpoint: src.to_string_lossy().into(),
        fstype: "ext4".into(),
        ..Default::default()
    });
    let lf = d.path().join("layout.json");
    std::fs::write(&lf, layout.to_json()).unwrap();
    let c = cfg.to_str().unwrap();
    let r = rear_build(
        &["-c", c, "mkbackuponly", "--layout", lf.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("tar backup of"), "{}", r.stderr);
    let dst = d.path().join("dst");
    std::fs::create_dir_all(&dst).unwrap();
    let r = rear_build(
        &["-c", c, "restoreonly", "--root", dst.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("restored and verified"), "{}", r.stderr);
    let rel = src.strip_prefix("/").unwrap();
    assert_eq!(
        std::fs::read(dst.join(rel).join("etc/a file")).unwrap(),
        b"data"
    );

    // A changed file after restore is caught by the manifest on the next restore.
    let current = std::fs::read_to_string(target.join("current")).unwrap();
    let sums = target.join(current.trim()).join("backup.sums");
    let text = std::fs::read_to_string(&sums)
        .unwrap()
        .replace("\"mode\":420", "\"mode\":384");
    std::fs::write(&sums, text).unwrap();
    let r = rear_build(
        &["-c", c, "restoreonly", "--root", dst.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("differ from the backup's manifest"),
        "{}",
        r.stderr
    );

    // No backup at all.
    std::fs::remove_dir_all(&target).unwrap();
    let r = rear_build(
        &["-c", c, "restoreonly", "--root", dst.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("no checksum manifest"), "{}", r.stderr);
}

/// The external method with a real program as the client (GNU tar, as a
/// site's own script would use it): mkbackuponly runs its backup command,
/// restoreonly its restore command with {root}; without a restore command
/// and without an operator, the restore stops with what to do.
#[test]
fn external_client_commands_run_and_an_absent_operator_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/a file"), "data").unwrap();
    let archive = d.path().join("client.tar");
    let cfg = d.path().join("etc");
    std::fs::create_dir_all(&cfg).unwrap();
    let config = format!(
        "[backup]\nmethod = \"external\"\n[backup.external]\nbackup = [\"/usr/bin/tar\", \"-cf\", \"{a}\", \"-C\", \"{s}\", \".\"]\nrestore = [\"/usr/bin/tar\", \"-xf\", \"{a}\", \"-C\", \"{{root}}\"]\n",
        a = archive.display(),
        s = src.display()
    );
    std::fs::write(cfg.join("config.toml"), &config).unwrap();
    let lf = d.path().join("layout.json");
    std::fs::write(&lf, rear_layout::Layout::new().to_json()).unwrap();
    let c = cfg.to_str().unwrap();
    let r = rear_build(
        &[
            "-c",
            c,
            "--log",
            "none",
            "mkbackuponly",
            "--layout",
            lf.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("external backup client finished"),
        "{}",
        r.stderr
    );
    assert!(archive.is_file());

    let dst = d.path().join("dst");
    std::fs::create_dir_all(&dst).unwrap();
    let restore = || {
        rear_build(
            &[
                "-c",
                c,
                "--log",
                "none",
                "restoreonly",
                "--root",
                dst.to_str().unwrap(),
            ],
            &[],
            None,
        )
    };
    let r = restore();
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("restored by the external client"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("not verified"), "{}", r.stderr);
    assert_eq!(std::fs::read(dst.join("etc/a file")).unwrap(), b"data");

    // A client that fails: the restore fails, naming it.
    std::fs::remove_file(&archive).unwrap();
    let r = restore();
    assert_ne!(r.status, 0);
    assert!(
        r.stderr
            .contains("the external backup client could not restore"),
        "{}",
        r.stderr
    );

    // A restore command that restores nothing, into what recreating a
    // layout leaves: a root with lost+found and a file system mounted on
    // `home` (with its own lost+found). The mount points are no content.
    let empty = d.path().join("recreated");
    std::fs::create_dir_all(empty.join("lost+found")).unwrap();
    std::fs::create_dir_all(empty.join("home")).unwrap();
    let home = empty.join("home");
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "rear-cli-test"])
        .arg(&home)
        .status()
        .unwrap();
    assert!(st.success(), "mount a tmpfs on {}", home.display());
    std::fs::create_dir(home.join("lost+found")).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        "[backup]\nmethod = \"external\"\n[backup.external]\nrestore = [\"/bin/true\"]\n",
    )
    .unwrap();
    let r = rear_build(
        &[
            "-c",
            c,
            "--log",
            "none",
            "restoreonly",
            "--root",
            empty.to_str().unwrap(),
        ],
        &[],
        None,
    );
    let _ = std::process::Command::new("umount").arg(&home).status();
    assert_ne!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("nothing was restored there"),
        "{}",
        r.stderr
    );

    // No restore command and no terminal: nobody can restore by hand.
    std::fs::write(cfg.join("config.toml"), "[backup]\nmethod = \"external\"\n").unwrap();
    let r = restore();
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("no operator is at a terminal"),
        "{}",
        r.stderr
    );
}

/// mkbackuponly to a usb:// target mounts it, and unmounts it when done,
/// so the disk can be pulled at once and holds the whole backup. Needs
/// root and a loop device (as CI has).
#[test]
fn mkbackuponly_unmounts_the_usb_target_it_mounted() {
    let sh = |cmd: &str| {
        let o = std::process::Command::new("sh")
            .args(["-c", cmd])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    // The backup target's mount point (backup/src/target.rs).
    let mounted = || {
        std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some("/run/rear-build/target"))
    };
    assert!(!mounted(), "something is mounted at the target already");
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("usb.img");
    let label = "REAR-CLI-TEST";
    sh(&format!(
        "truncate -s 64M {0} && mkfs.ext4 -q -L {label} {0}",
        img.display()
    ));
    let dev = sh(&format!("losetup --find --show {}", img.display()));
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = std::process::Command::new("losetup")
                .args(["-d", &self.0])
                .status();
        }
    }
    let _dev = Detach(dev.clone());
    let src = d.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("data"), "on the stick").unwrap();
    let cfg = d.path().join("etc");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        format!("[backup]\nurl = \"usb://{label}\"\n"),
    )
    .unwrap();
    let mut layout = rear_layout::Layout::new();
    layout.mounts.push(rear_layout::Mount {
        device: "/dev/x".into(),
        mountpoint: src.to_string_lossy().into(),
        fstype: "ext4".into(),
        ..Default::default()
    });
    let lf = d.path().join("layout.json");
    std::fs::write(&lf, layout.to_json()).unwrap();
    let r = rear_build(
        &[
            "-c",
            cfg.to_str().unwrap(),
            "--log",
            "none",
            "mkbackuponly",
            "--layout",
            lf.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(!mounted(), "the target is still mounted:\n{}", r.stderr);
    assert!(r.stderr.contains("backup target unmounted"), "{}", r.stderr);
    let m = d.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    sh(&format!("mount -o ro {dev} {}", m.display()));
    let current = sh(&format!("cat {}/rear/*/current", m.display()));
    sh(&format!("umount {}", m.display()));
    assert!(current.starts_with("backup-"), "{current}");
}

/// Finding 8: an image that carries the backup's passphrase says so, and
/// says it plainly when it lies beside the backup it unlocks.
#[test]
fn an_image_that_carries_the_backup_passphrase_warns() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("borg.pass");
    std::fs::write(&key, "not the canary\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = d.path().join("etc");
    std::fs::create_dir_all(&cfg).unwrap();
    let repo = d.path().join("repo");
    let build = |output: &std::path::Path, include: bool| {
        let include = match include {
            true => format!(
                "include = [\"{}:/etc/rear-build/borg.pass\"]\n",
                key.display()
            ),
            false => String::new(),
        };
        std::fs::write(
            cfg.join("config.toml"),
            format!(
                "[image]\noutput = \"{}\"\nstore = \"{}\"\n{include}[backup]\nmethod = \"borg\"\nurl = \"file://{}\"\npassphrase_file = \"{}\"\n",
                output.display(),
                d.path().join("store").display(),
                repo.display(),
                key.display()
            ),
        )
        .unwrap();
        let r = rear_build(
            &["-c", cfg.to_str().unwrap(), "--log", "none", "image"],
            &[],
            None,
        );
        assert_eq!(r.status, 0, "{}", r.stderr);
        r.stderr
    };
    let said = build(&d.path().join("out"), false);
    assert!(!said.contains("passphrase"), "{said}");
    let said = build(&d.path().join("out"), true);
    assert!(
        said.contains(&format!(
            "carries the borg passphrase (backup.passphrase_file {}, in the image as /etc/rear-build/borg.pass): whoever reads the image can read the backup at file://{}",
            key.display(),
            repo.display()
        )),
        "{said}"
    );
    let said = build(&repo.join("rescue"), true);
    assert!(
        said.contains("on the same medium as the encrypted backup the passphrase protects nothing"),
        "{said}"
    );
}

/// ReaR's OBDR with its backup on the same tape (a SIMH file stands for
/// the drive): `image --media obdr --tape-device` writes the rescue image
/// as the tape's first file, `mkbackuponly` to tape:// adds the archive and
/// its index after it, `restoreonly` reads them back, the drive's CD image
/// is still rescue.iso; writing the image again starts the tape afresh.
#[test]
fn an_obdr_tape_holds_the_rescue_image_then_the_backup() {
    let d = tempfile::tempdir().unwrap();
    let (store, out, vtape) = (
        d.path().join("store"),
        d.path().join("out"),
        d.path().join("vtape.tap"),
    );
    let image = || {
        let r = rear_build(
            &[
                "image",
                "--store",
                store.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--media",
                "iso,obdr",
                "--tape-device",
                vtape.to_str().unwrap(),
            ],
            &[],
            None,
        );
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains("the OBDR tape is written to"),
            "{}",
            r.stderr
        );
    };
    let list = || {
        let r = rear_build(&["tape", "list", vtape.to_str().unwrap()], &[], None);
        assert_eq!(r.status, 0, "{}", r.stderr);
        r.stdout.lines().count()
    };
    image();
    assert_eq!(list(), 1);

    let src = d.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/a file"), "on tape").unwrap();
    let cfg = d.path().join("etc");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        format!("[backup]\nurl = \"tape://{}\"\n", vtape.display()),
    )
    .unwrap();
    let mut layout = rear_layout::Layout::new();
    layout.mounts.push(rear_layout::Mount {
        device: "/dev/x".into(),
        mountpoint: src.to_string_lossy().into(),
        fstype: "ext4".into(),
        ..Default::default()
    });
    let lf = d.path().join("layout.json");
    std::fs::write(&lf, layout.to_json()).unwrap();
    let c = cfg.to_str().unwrap();
    let restore = |dst: &std::path::Path| {
        std::fs::create_dir_all(dst).unwrap();
        rear_build(
            &["-c", c, "restoreonly", "--root", dst.to_str().unwrap()],
            &[],
            None,
        )
    };
    let r = rear_build(
        &["-c", c, "mkbackuponly", "--layout", lf.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(list(), 3, "image, archive, index");
    let dst = d.path().join("dst");
    let r = restore(&dst);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("restored and verified"), "{}", r.stderr);
    let rel = src.strip_prefix("/").unwrap();
    assert_eq!(
        std::fs::read(dst.join(rel).join("etc/a file")).unwrap(),
        b"on tape"
    );
    let iso = d.path().join("from-tape.iso");
    let r = rear_build(
        &[
            "tape",
            "extract",
            vtape.to_str().unwrap(),
            iso.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        rear_tests::sha256_file(&iso),
        rear_tests::sha256_file(&out.join("rescue.iso")),
        "the drive's CD image is not rescue.iso"
    );

    image();
    assert_eq!(list(), 1);
    let r = restore(&d.path().join("dst2"));
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("holds no whole backup"), "{}", r.stderr);
}
