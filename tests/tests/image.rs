//! `rear-build image` end to end on the host (no VM): reproducibility,
//! the layer cache, the manifest against the bytes, and the store commands.

use rear_tests::{rear_build, sha256_file, Run};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn build(
    store: &Path,
    out: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
    cwd: Option<&Path>,
) -> Run {
    let mut args = vec![
        "image",
        "-v",
        "--store",
        store.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let r = rear_build(&args, env, cwd);
    assert_eq!(r.status, 0, "rear-build image failed:\n{}", r.stderr);
    r
}

fn manifest(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn same_inputs_give_the_same_bytes_whatever_the_environment() {
    assert!(
        rear_tests::which("faketime"),
        "needs faketime: apt-get install faketime (or run ci/setup --test)"
    );
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let include = a.path().join("included.txt");
    std::fs::write(&include, "same content\n").unwrap();
    let inc = format!("{}:/etc/included.txt", include.display());

    let out_a = a.path().join("out");
    let log_a = a.path().join("run.log");
    build(
        &a.path().join("store"),
        &out_a,
        &[
            "--include",
            &inc,
            "--media",
            "iso,pxe,raw,obdr",
            "--log",
            log_a.to_str().unwrap(),
        ],
        &[("TZ", "UTC"), ("LC_ALL", "C")],
        Some(a.path()),
    );
    // The media are written together, the OBDR tape from the iso medium's
    // rescue.iso: xorriso runs once.
    let log = std::fs::read_to_string(&log_a).unwrap();
    assert_eq!(
        log.matches("running: xorriso").count(),
        1,
        "the ISO is made once for iso and obdr:\n{log}"
    );

    // Another build directory (deeper, other name), store, umask, time
    // zone, locale, clock, thread count and CPU set (one CPU: zstd's and
    // rayon's worker counts follow the CPUs the process may use); the
    // same inputs.
    let deep = b.path().join("some/other/build dir");
    std::fs::create_dir_all(&deep).unwrap();
    let out_b = deep.join("artefacts");
    let store_b = deep.join("store");
    let bin = rear_tests::bin();
    let status = std::process::Command::new("taskset")
        .args([
            "--cpu-list",
            "0",
            "faketime",
            "2031-05-06 07:08:09",
            "sh",
            "-c",
            "umask 077; exec \"$@\"",
            "sh",
        ])
        .arg(&bin)
        .args([
            "image",
            "--store",
            store_b.to_str().unwrap(),
            "--output",
            out_b.to_str().unwrap(),
            "--include",
            &inc,
            "--media",
            "iso",
            "--media",
            "pxe,raw",
            "--media",
            "obdr",
        ])
        .env("TZ", "Pacific/Auckland")
        .env("LC_ALL", "fr_FR.UTF-8")
        .env("LANG", "de_DE.UTF-8")
        .env("RAYON_NUM_THREADS", "1")
        // faketime also shifts the file times stat reports (which no real
        // build sees); the clock itself stays faked.
        .env("NO_FAKE_STAT", "1")
        .env("HOME", b.path())
        .current_dir(&deep)
        .status()
        .unwrap();
    assert!(status.success());

    // Every artefact, the media too (the ISO's GRUB images, FAT image and
    // ISO 9660 tree made by tools that run under the same faked clock;
    // the PXE tree).
    let artefacts: Vec<String> = manifest(&out_a)["artefacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    for medium in ["rescue.iso", "rescue.img"] {
        assert!(artefacts.contains(&medium.to_string()), "{artefacts:?}");
    }
    assert!(
        artefacts
            .iter()
            .any(|a| a.starts_with("pxe/") && a.ends_with(".ipxe")),
        "{artefacts:?}"
    );
    assert!(
        artefacts.contains(&"rescue.tap".to_string()),
        "{artefacts:?}"
    );
    for f in artefacts
        .iter()
        .map(String::as_str)
        .chain(["manifest.json"])
    {
        assert_eq!(
            sha256_file(&out_a.join(f)),
            sha256_file(&out_b.join(f)),
            "{f} differs between the two builds"
        );
    }
    // The artefacts are private whatever the umask.
    for f in [
        "initrd.img",
        "manifest.json",
        "vmlinuz",
        "rescue.iso",
        "rescue.img",
        "rescue.tap",
    ] {
        let mode = std::fs::metadata(out_b.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // The OBDR tape carries exactly the ISO: its records from block 20
    // are rescue.iso (in build a, the very file; in build b, made under
    // another clock and CPU set, compared above).
    let extracted = a.path().join("from-tape.iso");
    let r = rear_build(
        &[
            "tape",
            "extract",
            out_a.join("rescue.tap").to_str().unwrap(),
            extracted.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        sha256_file(&extracted),
        sha256_file(&out_a.join("rescue.iso")),
        "the ISO on the tape is not rescue.iso"
    );
    // The tape alone, making its own ISO, is the same tape.
    let out_d = a.path().join("out-d");
    build(
        &a.path().join("store"),
        &out_d,
        &["--include", &inc, "--media", "obdr"],
        &[],
        None,
    );
    assert_eq!(
        sha256_file(&out_d.join("rescue.tap")),
        sha256_file(&out_a.join("rescue.tap")),
        "rescue.tap made with its own ISO differs from the one made from rescue.iso"
    );
    // And a different SOURCE_DATE_EPOCH does change the bytes.
    let out_c = a.path().join("out-c");
    build(
        &a.path().join("store"),
        &out_c,
        &["--include", &inc, "--media", "iso,raw"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
        None,
    );
    for f in ["initrd.img", "rescue.iso", "rescue.img"] {
        assert_ne!(
            sha256_file(&out_a.join(f)),
            sha256_file(&out_c.join(f)),
            "{f}: the same with another SOURCE_DATE_EPOCH"
        );
    }
    assert_eq!(manifest(&out_c)["inputs"]["source_date_epoch"], 1700000000);
}

#[test]
fn rebuild_takes_cached_layers_and_a_changed_include_redoes_only_config() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let out = d.path().join("out");
    let f = d.path().join("note.txt");
    std::fs::write(&f, "one\n").unwrap();
    let inc = format!("{}:/etc/note.txt", f.display());
    let first = build(&store, &out, &["--include", &inc], &[], None);
    assert!(
        first.stderr.contains("layers from cache: none"),
        "{}",
        first.stderr
    );
    let initrd1 = sha256_file(&out.join("initrd.img"));

    let warm = build(&store, &out, &["--include", &inc], &[], None);
    assert!(
        warm.stderr
            .contains("layers from cache: base, modules, firmware, config"),
        "{}",
        warm.stderr
    );
    assert_eq!(sha256_file(&out.join("initrd.img")), initrd1);
    // Gone from the output: made again from the cached layers.
    std::fs::remove_file(out.join("initrd.img")).unwrap();
    build(&store, &out, &["--include", &inc], &[], None);
    assert_eq!(sha256_file(&out.join("initrd.img")), initrd1);

    std::fs::write(&f, "two\n").unwrap();
    let changed = build(&store, &out, &["--include", &inc], &[], None);
    assert!(
        changed
            .stderr
            .contains("layers from cache: base, modules, firmware\n"),
        "{}",
        changed.stderr
    );
    assert_ne!(sha256_file(&out.join("initrd.img")), initrd1);
    let m = manifest(&out);
    let note = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/etc/note.txt")
        .unwrap();
    assert_eq!(note["blake3"], blake3_hex(b"two\n"));
    assert_eq!(note["layer"], "config");
}

fn blake3_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Reads one newc archive: (path, mode, nlink, mtime, data).
fn read_cpio(mut data: &[u8]) -> Vec<(String, u32, u32, u32, Vec<u8>)> {
    use std::io::Read;
    let mut out = Vec::new();
    loop {
        let mut r = cpio::NewcReader::new(data).unwrap();
        if r.entry().is_trailer() {
            break;
        }
        let e = r.entry();
        let (name, mode, nlink, mtime) = (format!("/{}", e.name()), e.mode(), e.nlink(), e.mtime());
        let mut buf = Vec::new();
        r.read_to_end(&mut buf).unwrap();
        data = r.finish().unwrap();
        out.push((name, mode, nlink, mtime, buf));
    }
    out
}

#[test]
fn manifest_describes_every_byte_of_the_initrd() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    build(
        &d.path().join("store"),
        &out,
        &[],
        &[("SOURCE_DATE_EPOCH", "1234567890")],
        None,
    );
    let m = manifest(&out);
    let initrd = std::fs::read(out.join("initrd.img")).unwrap();

    let arts = m["artefacts"].as_array().unwrap();
    for a in arts {
        let name = a["name"].as_str().unwrap();
        assert_eq!(a["sha256"], sha256_file(&out.join(name)), "{name}");
    }
    let files = m["files"].as_array().unwrap();
    let mut offset = 0usize;
    let mut seen = 0;
    for l in m["layers"].as_array().unwrap() {
        let name = l["name"].as_str().unwrap();
        let size = l["size"].as_u64().unwrap() as usize;
        let slice = &initrd[offset..offset + size];
        offset += size;
        assert_eq!(l["blake3"], blake3_hex(slice), "layer {name}");
        let (_, raw) = rear_tests::uncompress_layer(slice);
        assert_eq!(raw.len() as u64, l["uncompressed_size"].as_u64().unwrap());
        let entries = read_cpio(&raw);
        let listed: Vec<&Value> = files.iter().filter(|f| f["layer"] == name).collect();
        assert_eq!(
            entries.len(),
            listed.len(),
            "layer {name}: archive and manifest disagree on the count"
        );
        assert_eq!(l["files"].as_u64().unwrap() as usize, listed.len());
        // Hardlink groups carry their data once: collect it per content.
        let with_data: std::collections::BTreeSet<String> = entries
            .iter()
            .filter(|e| e.1 & 0o170000 == 0o100000 && !e.4.is_empty())
            .map(|e| blake3_hex(&e.4))
            .collect();
        for (e, f) in entries.iter().zip(&listed) {
            assert_eq!(e.0, f["path"].as_str().unwrap(), "order in layer {name}");
            assert_eq!(e.3, 1234567890, "{}: mtime", e.0);
            assert_eq!(
                e.1 & 0o7777,
                f["mode"].as_u64().unwrap() as u32,
                "{}: mode",
                e.0
            );
            match f["type"].as_str().unwrap() {
                "file" => {
                    assert_eq!(e.1 & 0o170000, 0o100000, "{}", e.0);
                    let h = f["blake3"].as_str().unwrap();
                    if e.4.is_empty() && f["size"] != 0 {
                        assert!(
                            e.2 > 1 && with_data.contains(h),
                            "{}: no data and no link",
                            e.0
                        );
                    } else {
                        assert_eq!(blake3_hex(&e.4), h, "{}: content", e.0);
                    }
                }
                "symlink" => {
                    assert_eq!(String::from_utf8_lossy(&e.4), f["target"].as_str().unwrap())
                }
                "dir" => assert_eq!(e.1 & 0o170000, 0o040000, "{}", e.0),
                "char" => assert_eq!(e.1 & 0o170000, 0o020000, "{}", e.0),
                t => panic!("unknown type {t}"),
            }
            seen += 1;
        }
    }
    assert_eq!(offset, initrd.len(), "the initrd is exactly its layers");
    assert_eq!(seen, files.len());
    // What a rescue system needs is there.
    for p in [
        "/init",
        "/usr/sbin/rear",
        "/usr/bin/rear-build",
        "/usr/bin/bash",
        "/usr/sbin/lvm",
        "/usr/sbin/mdadm",
        "/usr/sbin/cryptsetup",
        "/dev/console",
        "/etc/rear-build/rescue.json",
    ] {
        assert!(
            files.iter().any(|f| f["path"] == p),
            "{p} is not in the image"
        );
    }
    assert!(files
        .iter()
        .any(|f| f["path"].as_str().unwrap().ends_with("/modules.dep.bin")));
    assert!(m["inputs"]["kernel"]["modules"].as_u64().unwrap() > 500);
}

#[test]
fn store_verify_finds_corruption_and_gc_keeps_what_manifests_need() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let out = d.path().join("out");
    build(&store, &out, &[], &[], None);
    let s = store.to_str().unwrap();
    let ok = rear_build(&["store", "verify", "--store", s], &[], None);
    assert_eq!(ok.status, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains(" 0 corrupt"), "{}", ok.stdout);

    let gc = rear_build(&["store", "gc", "--store", s], &[], None);
    assert_eq!(gc.status, 0, "{}", gc.stderr);
    assert!(gc.stdout.contains("removed 0 objects"), "{}", gc.stdout);

    // Corrupt the initrd's config layer object.
    let m = manifest(&out);
    let layer = m["layers"][3]["blake3"].as_str().unwrap();
    let obj = store.join("objects").join(&layer[..2]).join(&layer[2..]);
    std::fs::set_permissions(&obj, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&obj, b"garbage").unwrap();
    let bad = rear_build(&["store", "verify", "--store", s], &[], None);
    assert_eq!(bad.status, 1, "{}", bad.stdout);
    assert!(
        bad.stdout.contains(&format!("corrupt: {}", obj.display())),
        "{}",
        bad.stdout
    );

    // Without its manifest nothing is kept.
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    let gc = rear_build(&["store", "gc", "--store", s], &[], None);
    assert!(
        gc.stdout.contains("0 manifests kept 0 objects"),
        "{}",
        gc.stdout
    );
    let left = walkdir_count(&store.join("objects"));
    assert_eq!(left, 0, "objects left after gc");
}

fn walkdir_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walkdir_count(&p)
            } else {
                1
            }
        })
        .sum()
}

/// `--compress gzip` and `--compress xz`: each built twice, in other
/// directories and stores, with another umask, time zone, clock and CPU
/// set, gives the same initrd.img; every layer is in that compression,
/// with headers the kernel reads the same everywhere (gzip: no name, mtime
/// 0, OS Unix; xz: CRC32, LZMA2 alone) and the same archives as zstd's;
/// `diff` reads either initrd directly, and `store rebuild` makes it again.
/// A small image (no recipes, no modules) at xz level 1, to stay quick:
/// the full image at the default levels boots in tests/tests/media_vm.rs.
#[test]
fn gzip_and_xz_initrds_are_reproducible() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let bin = rear_tests::bin();
    let small = [
        "--media",
        "none",
        "--no-default-recipes",
        "--omit-module",
        "*",
    ];
    let other = |args: &[&str], out: &Path| {
        let status = std::process::Command::new("taskset")
            .args(["--cpu-list", "0", "faketime", "2031-05-06 07:08:09"])
            .args(["sh", "-c", "umask 077; exec \"$@\"", "sh"])
            .arg(&bin)
            .arg("image")
            .args(small)
            .args(args)
            .arg("--store")
            .arg(b.path().join("store"))
            .arg("--output")
            .arg(out)
            .env("TZ", "Pacific/Chatham")
            .env("NO_FAKE_STAT", "1")
            .current_dir(b.path())
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}: the second build failed");
    };
    let zstd_out = a.path().join("zstd");
    build(&a.path().join("store"), &zstd_out, &small, &[], None);
    let zstd_raw: Vec<Vec<u8>> = layers(&zstd_out).into_iter().map(|l| l.1).collect();
    for (alg, level) in [("gzip", None), ("xz", Some("1"))] {
        let mut args = vec!["--compress", alg];
        args.extend(level.iter().flat_map(|l| ["--compress-level", *l]));
        let (out_a, out_b) = (a.path().join(alg), b.path().join("out").join(alg));
        let started = std::time::Instant::now();
        build(
            &a.path().join("store"),
            &out_a,
            &[&small[..], &args].concat(),
            &[("TZ", "UTC")],
            None,
        );
        eprintln!("{alg}: built in {:.1} s", started.elapsed().as_secs_f64());
        other(&args, &out_b);
        let (ia, ib) = (out_a.join("initrd.img"), out_b.join("initrd.img"));
        assert_eq!(
            sha256_file(&ia),
            sha256_file(&ib),
            "{alg}: initrd.img differs"
        );
        let m = manifest(&out_a);
        let want_level = level.map_or(6, |l| l.parse().unwrap());
        assert_eq!(m["inputs"]["compression"]["algorithm"], alg);
        assert_eq!(m["inputs"]["compression"]["chosen"], "requested");
        assert_eq!(m["inputs"]["compression"]["level"], want_level);
        let got = layers(&out_a);
        assert_eq!(got.len(), 4);
        for (i, (name, raw, bytes)) in got.iter().enumerate() {
            assert_eq!(*name, alg, "layer {i}");
            assert_eq!(
                raw, &zstd_raw[i],
                "{alg} layer {i}: another archive than zstd's"
            );
            if alg == "gzip" {
                // FLG 0 (no name, no comment), MTIME 0, OS 3.
                assert_eq!(&bytes[3..8], &[0, 0, 0, 0, 0], "{alg} layer {i}");
                assert_eq!(bytes[9], 3, "{alg} layer {i}: OS byte");
            } else {
                // Stream flags: check type 1, CRC32; then the first block
                // names one filter, LZMA2 (0x21), dictionary at most 32 MiB.
                assert_eq!(&bytes[6..8], &[0, 1], "{alg} layer {i}: not CRC32");
                let flags = bytes[13];
                let mut at = 14;
                for bit in [0x40, 0x80] {
                    if flags & bit != 0 {
                        at += bytes[at..].iter().position(|b| b & 0x80 == 0).unwrap() + 1;
                    }
                }
                assert_eq!(
                    (flags & 3, bytes[at], bytes[at + 1]),
                    (0, 0x21, 1),
                    "{alg} layer {i}"
                );
                assert!(
                    bytes[at + 2] <= 26,
                    "{alg} layer {i}: dictionary byte {}",
                    bytes[at + 2]
                );
            }
        }
        // diff reads the initrd without its manifest: the same files.
        let r = rear_build(
            &[
                "diff",
                zstd_out.join("initrd.img").to_str().unwrap(),
                ia.to_str().unwrap(),
            ],
            &[],
            None,
        );
        assert_eq!(
            r.status, 0,
            "{alg}: diff of the initrds:\n{}{}",
            r.stdout, r.stderr
        );
        // ... and with the manifests, the compression changed.
        let r = rear_build(
            &[
                "diff",
                "--json",
                zstd_out.to_str().unwrap(),
                out_a.to_str().unwrap(),
            ],
            &[],
            None,
        );
        assert_eq!(r.status, 1, "{}{}", r.stdout, r.stderr);
        let j: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(
            j["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["what"] == "compression"
                    && c["a"] == "zstd 2"
                    && c["b"] == format!("{alg} {want_level}")),
            "{alg}: {}",
            r.stdout
        );
        // Made again from the store alone, from the manifest.
        let again = a.path().join(format!("again-{alg}"));
        let r = rear_build(
            &[
                "store",
                "rebuild",
                "--store",
                a.path().join("store").to_str().unwrap(),
                "--manifest",
                out_a.join("manifest.json").to_str().unwrap(),
                "-o",
                again.to_str().unwrap(),
            ],
            &[],
            None,
        );
        assert_eq!(r.status, 0, "{alg}: store rebuild:\n{}", r.stderr);
        assert_eq!(sha256_file(&again.join("initrd.img")), sha256_file(&ia));
    }
}

/// The layers of the initrd in `out`, as manifest.json cuts it: each
/// one's compression (by its magic), uncompressed archive, and bytes.
fn layers(out: &Path) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let data = std::fs::read(out.join("initrd.img")).unwrap();
    let mut at = 0;
    manifest(out)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let part = data[at..at + l["size"].as_u64().unwrap() as usize].to_vec();
            at += part.len();
            let (name, raw) = rear_tests::uncompress_layer(&part);
            assert_eq!(raw.len() as u64, l["uncompressed_size"].as_u64().unwrap());
            (name, raw, part)
        })
        .collect()
}

/// A kernel older than 5.9 with no configuration at hand (RHEL 8's
/// 4.18 here: the host's kernel under that name) gets a gzip initrd by
/// default and refuses zstd, naming the kernel and what it unpacks; its
/// config-KVER beside it, when there is one, decides instead.
#[test]
fn a_kernel_older_than_5_9_gets_gzip_and_refuses_zstd() {
    let d = tempfile::tempdir().unwrap();
    let kver = "4.18.0-513.el8.x86_64";
    let boot = d.path().join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    let host = std::fs::read_dir("/boot")
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("vmlinuz-")
        })
        .expect("a kernel in /boot");
    let host_ver = host.file_name().unwrap().to_str().unwrap()["vmlinuz-".len()..].to_string();
    let kernel = boot.join(format!("vmlinuz-{kver}"));
    std::fs::copy(&host, &kernel).unwrap();
    let modules = format!("/lib/modules/{host_ver}");
    let (store, out) = (d.path().join("store"), d.path().join("out"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "image",
            "--media",
            "none",
            "--no-default-recipes",
            "--omit-module",
            "*",
            "--add-module",
            "dm_zero",
            "--kernel",
            kernel.to_str().unwrap(),
            "--modules-dir",
            &modules,
            "--store",
            store.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        rear_build(&args, &[], None)
    };
    let r = run(&["--compress", "zstd"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("kernel {kver} cannot unpack a zstd initrd"))
            && r.stderr.contains("its version")
            && r.stderr.contains("it unpacks xz, gzip"),
        "{}",
        r.stderr
    );
    let r = run(&[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let m = manifest(&d.path().join("out"));
    let c = &m["inputs"]["compression"];
    assert_eq!(
        (c["algorithm"].as_str(), c["chosen"].as_str()),
        (Some("gzip"), Some("default"))
    );
    assert_eq!(c["kernel_unpacks"], serde_json::json!(["xz", "gzip"]));
    for (name, _, _) in layers(&d.path().join("out")) {
        assert_eq!(name, "gzip");
    }
    // Its configuration says otherwise: it wins over the version.
    let config = boot.join(format!("config-{kver}"));
    std::fs::write(
        &config,
        "CONFIG_RD_ZSTD=y\nCONFIG_RD_XZ=y\n# CONFIG_RD_GZIP is not set\n",
    )
    .unwrap();
    let r = run(&["--compress", "gzip"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot unpack a gzip initrd")
            && r.stderr.contains(config.to_str().unwrap())
            && r.stderr.contains("it unpacks zstd, xz"),
        "{}",
        r.stderr
    );
}
