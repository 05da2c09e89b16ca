//! Signed images: the stock `minisign` checks our signatures and its keys
//! sign through us; signing is reproducible; one byte changed in any
//! artefact, the manifest or a signature, or the wrong key, makes
//! `verify` fail and name what.

use rear_tests::{keygen, rear_build, Run};
use std::path::{Path, PathBuf};

fn ok(r: &Run, what: &str) {
    assert_eq!(r.status, 0, "{what}:\n{}\n{}", r.stdout, r.stderr);
}

fn sh(cmd: &str) -> std::process::Output {
    std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .unwrap()
}

/// An output directory with every file medium.
fn build(dir: &Path) -> PathBuf {
    let out = dir.join("out");
    let r = rear_build(
        &[
            "image",
            "--store",
            dir.join("store").to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--media",
            "iso,raw,pxe,obdr",
        ],
        &[],
        None,
    );
    ok(&r, "image");
    out
}

/// `verify` with what it records of images it saw kept apart for the
/// directory `target` is in, not in the machine's /var/lib/rear-build.
fn verify(key: &Path, target: &Path) -> Run {
    verify_with(key, target, &[])
}

fn verify_with(key: &Path, target: &Path, extra: &[&str]) -> Run {
    // One record per directory the target is in.
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    target.parent().unwrap().hash(&mut h);
    let cfg = std::env::temp_dir().join(format!("rear-verify-{:016x}", h.finish()));
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        format!(
            "[trust]\nstate = \"{}\"\n",
            cfg.join("verified.json").display()
        ),
    )
    .unwrap();
    let mut args = vec![
        "-c",
        cfg.to_str().unwrap(),
        "verify",
        "--pubkey",
        key.to_str().unwrap(),
        target.to_str().unwrap(),
    ];
    args.extend(extra);
    rear_build(&args, &[], None)
}

/// Flips one byte of `p` at `at` (from the end when negative), runs `f`,
/// and flips it back.
fn flipped<T>(p: &Path, at: i64, f: impl FnOnce() -> T) -> T {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap();
    let len = file.metadata().unwrap().len() as i64;
    let off = if at < 0 { len + at } else { at } as u64;
    let mut b = [0u8];
    file.read_exact_at(&mut b, off).unwrap();
    file.write_all_at(&[b[0] ^ 0x20], off).unwrap();
    let r = f();
    file.write_all_at(&b, off).unwrap();
    r
}

#[test]
fn minisign_checks_our_signatures_and_its_keys_sign_through_us() {
    assert!(
        rear_tests::which("minisign"),
        "needs minisign: apt-get install minisign (or run ci/setup --test)"
    );
    let d = tempfile::tempdir().unwrap();
    let out = build(d.path());
    let (key, public) = keygen(d.path(), "ours");
    let sign = |key: &Path, pw: Option<&Path>| {
        let mut args = vec!["sign", "--key", key.to_str().unwrap()];
        if let Some(p) = pw {
            args.extend(["--password-file", p.to_str().unwrap()]);
        }
        args.push(out.to_str().unwrap());
        ok(&rear_build(&args, &[], None), "sign");
        std::fs::read(out.join("manifest.json.minisig")).unwrap()
    };
    let first = sign(&key, None);
    // Reproducible: the same key and directory give the same bytes.
    let sums = std::fs::read(out.join("SHA256SUMS.minisig")).unwrap();
    assert_eq!(sign(&key, None), first, "signing twice differs");
    assert_eq!(std::fs::read(out.join("SHA256SUMS.minisig")).unwrap(), sums);
    for f in ["manifest.json", "SHA256SUMS"] {
        let o = sh(&format!(
            "minisign -V -m {} -p {}",
            out.join(f).display(),
            public.display()
        ));
        assert!(
            o.status.success(),
            "minisign -V {f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(
            said.contains(&format!(
                "Trusted comment: rear-build {}",
                env!("CARGO_PKG_VERSION")
            )) && said.contains("epoch 1")
                && said.contains(&format!("file {f}")),
            "{said}"
        );
    }
    let o = sh(&format!(
        "cd {} && sha256sum --quiet -c SHA256SUMS",
        out.display()
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

    // minisign's own keys: one encrypted (its password through our
    // password file), one not.
    let pw = d.path().join("pw");
    std::fs::write(&pw, "a long password\n").unwrap();
    sh(&format!("chmod 600 {}", pw.display()));
    let theirs = |name: &str, flags: &str, input: &str| {
        let (k, p) = (
            d.path().join(format!("{name}.key")),
            d.path().join(format!("{name}.pub")),
        );
        let o = sh(&format!(
            "printf '{input}' | minisign -G {flags} -p {} -s {}",
            p.display(),
            k.display()
        ));
        assert!(
            o.status.success(),
            "minisign -G: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        (k, p)
    };
    for (k, p, password) in [
        {
            let (k, p) = theirs("enc", "", "a long password\\na long password\\n");
            (k, p, Some(pw.as_path()))
        },
        {
            let (k, p) = theirs("plain", "-W", "");
            (k, p, None)
        },
    ] {
        sign(&k, password);
        let r = verify(&p, &out);
        ok(&r, "verify with minisign's key");
        let o = sh(&format!(
            "minisign -V -m {} -p {}",
            out.join("manifest.json").display(),
            p.display()
        ));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // The encrypted key without its password file: refused, not asked
    // for (no terminal here), and the error says what to give.
    let r = rear_build(
        &[
            "sign",
            "--key",
            d.path().join("enc.key").to_str().unwrap(),
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--password-file"), "{}", r.stderr);
}

#[test]
fn an_image_older_than_one_verified_before_is_a_downgrade_refused() {
    let d = tempfile::tempdir().unwrap();
    let (key, public) = keygen(d.path(), "k");
    let build_at = |name: &str, epoch: &str| {
        let out = d.path().join(name);
        let r = rear_build(
            &[
                "image",
                "--store",
                d.path().join("store").to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--sign",
                key.to_str().unwrap(),
            ],
            &[("SOURCE_DATE_EPOCH", epoch)],
            None,
        );
        ok(&r, "image");
        out
    };
    let new = build_at("new", "1800000000");
    let old = build_at("old", "1700000000");
    // Each image verifies by itself.
    ok(&verify(&public, &old), "verify the old image first");
    ok(&verify(&public, &new), "then the new one");
    // After the new one, the old one is a downgrade (both directories
    // share one record: they are in the same directory).
    let r = verify(&public, &old);
    assert_eq!(r.status, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("FAIL age: a downgrade")
            && r.stdout.contains("1700000000, older than 1800000000"),
        "{}",
        r.stdout
    );
    let r = verify_with(&public, &old, &["--allow-downgrade"]);
    ok(&r, "verify --allow-downgrade");
    assert!(r.stdout.contains("a downgrade, accepted"), "{}", r.stdout);
    // The newer image still verifies.
    ok(&verify(&public, &new), "the new image again");
    // And the image names itself: its id is in the manifest and in the
    // initrd, and verify recomputes it.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new.join("manifest.json")).unwrap()).unwrap();
    let id = m["image_id"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    let r = verify(&public, &new);
    assert!(
        r.stdout.contains(&format!("ok   image id: {id}")),
        "{}",
        r.stdout
    );
}

#[test]
fn one_byte_changed_anywhere_fails_verify_and_is_named() {
    let d = tempfile::tempdir().unwrap();
    let out = build(d.path());
    let (key, public) = keygen(d.path(), "k");
    ok(
        &rear_build(
            &[
                "sign",
                "--key",
                key.to_str().unwrap(),
                out.to_str().unwrap(),
            ],
            &[],
            None,
        ),
        "sign",
    );
    let r = verify(&public, &out);
    ok(&r, "verify");
    assert!(r.stdout.contains("initrd.img (inside)"), "{}", r.stdout);
    assert!(!r.stdout.contains("FAIL"), "{}", r.stdout);

    // Each artefact in the middle, the manifest, each signature: exit 1
    // and a FAIL line naming the file.
    let mut cases: Vec<(String, i64)> = [
        "vmlinuz",
        "initrd.img",
        "rescue.iso",
        "rescue.img",
        "rescue.tap",
        "manifest.json",
        "SHA256SUMS",
    ]
    .iter()
    .map(|f| {
        let len = std::fs::metadata(out.join(f)).unwrap().len() as i64;
        (f.to_string(), len / 2)
    })
    .collect();
    let pxe_initrd = std::fs::read_dir(out.join("pxe"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("rear-")
        })
        .unwrap()
        .join("initrd.img");
    cases.push((
        pxe_initrd
            .strip_prefix(&out)
            .unwrap()
            .to_string_lossy()
            .into(),
        1000,
    ));
    // In a signature: a byte of the base64 signature line.
    cases.push(("manifest.json.minisig".into(), -10));
    cases.push(("SHA256SUMS.minisig".into(), -10));
    for (f, at) in &cases {
        let r = flipped(&out.join(f), *at, || verify(&public, &out));
        assert_eq!(r.status, 1, "{f} changed, yet: {}\n{}", r.stdout, r.stderr);
        let named = r
            .stdout
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains(f.as_str()));
        assert!(
            named,
            "{f} changed, and no FAIL line names it:\n{}",
            r.stdout
        );
        assert!(r.stderr.contains("does NOT verify"), "{}", r.stderr);
    }
    // One artefact alone.
    let iso = out.join("rescue.iso");
    ok(&verify(&public, &iso), "verify rescue.iso");
    let r = flipped(&iso, 40_000, || verify(&public, &iso));
    assert_eq!(r.status, 1, "{}", r.stdout);

    // Another key: the signature is not the trusted key's.
    let (_, other) = keygen(d.path(), "other");
    let r = verify(&other, &out);
    assert_eq!(r.status, 1);
    assert!(
        r.stdout
            .contains("FAIL manifest.json.minisig: signed by the key"),
        "{}",
        r.stdout
    );
}

/// A throwaway Debian package installed on this host for the test, purged
/// when dropped.
struct TestPackage(&'static str);

impl TestPackage {
    /// Installs version `version` with `data` in its file `data`.
    fn install(&self, dir: &Path, version: &str, data: &str) {
        let root = dir.join(format!("pkg-{version}"));
        let share = root.join("usr/share").join(self.0);
        std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(
            root.join("DEBIAN/control"),
            format!(
                "Package: {}\nVersion: {version}\nArchitecture: all\nMaintainer: rear-build tests <tests@rear-build.invalid>\nDescription: a package the diff test upgrades\n",
                self.0
            ),
        )
        .unwrap();
        std::fs::write(share.join("data"), data).unwrap();
        std::fs::write(share.join("same"), "unchanged\n").unwrap();
        let deb = dir.join(format!("{}-{version}.deb", self.0));
        let o = sh(&format!(
            "dpkg-deb --root-owner-group --build {} {} && dpkg -i {}",
            root.display(),
            deb.display(),
            deb.display()
        ));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for TestPackage {
    fn drop(&mut self) {
        sh(&format!("dpkg --purge {}", self.0));
    }
}

/// Two images from a host where one Debian package was upgraded in
/// between: `diff` names that package, both versions and its changed
/// file, and nothing else (no other package, input or module); the same
/// inputs give exit 0.
#[test]
fn diff_names_the_upgraded_package_its_versions_and_files_only() {
    let d = tempfile::tempdir().unwrap();
    let pkg = TestPackage("rear-build-diff-test");
    let dir = format!("/usr/share/{}", pkg.0);
    let image = |out: &str| {
        let out = d.path().join(out);
        let r = rear_build(
            &[
                "image",
                "--store",
                d.path().join("store").to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--include",
                &format!("{dir}/data"),
                "--include",
                &format!("{dir}/same"),
            ],
            &[],
            None,
        );
        ok(&r, "image");
        out
    };
    pkg.install(d.path(), "1.0-1", "one\n");
    let a = image("a");
    let a2 = image("a2");
    pkg.install(d.path(), "1.1-1", "two, longer\n");
    let b = image("b");
    let diff = |x: &Path, y: &Path, json: bool| {
        let mut args = vec!["diff", x.to_str().unwrap(), y.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        rear_build(&args, &[], None)
    };
    let same = diff(&a, &a2, false);
    assert_eq!(same.status, 0, "{}\n{}", same.stdout, same.stderr);
    let r = diff(&a, &b, true);
    assert_eq!(r.status, 1, "{}\n{}", r.stdout, r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["inputs"], serde_json::json!([]), "{}", r.stdout);
    assert_eq!(j["modules_added"], serde_json::json!([]));
    assert_eq!(j["modules_removed"], serde_json::json!([]));
    let pkgs = j["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), 1, "more than the one package: {}", r.stdout);
    let p = &pkgs[0];
    assert_eq!(p["package"], pkg.0);
    assert_eq!(p["version_a"], "1.0-1");
    assert_eq!(p["version_b"], "1.1-1");
    let files = p["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{}", r.stdout);
    assert_eq!(files[0]["path"], format!("{dir}/data"));
    assert_eq!(files[0]["how"], "changed");
    // Only the layer holding the file changed, and the config layer,
    // which carries the image's id.
    let layers: Vec<&str> = j["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["what"].as_str().unwrap())
        .collect();
    assert!(
        layers.len() <= 2 && layers.iter().filter(|l| **l != "config").count() <= 1,
        "{}",
        r.stdout
    );
    let text = diff(&a, &b, false).stdout;
    assert!(
        text.contains(&format!(
            "package {}: 1.0-1 → 1.1-1\n  changed {dir}/data (size 4 → 12",
            pkg.0
        )),
        "{text}"
    );
}

/// `store export` carries exactly what an image needs: imported into an
/// empty store, `store rebuild` makes vmlinuz, initrd.img and the
/// manifest again byte for byte without reading the host; the export
/// itself is the same bytes twice, and a damaged one is refused.
#[test]
fn an_exported_store_rebuilds_the_image_elsewhere_byte_for_byte() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    ok(
        &rear_build(
            &[
                "image",
                "--store",
                d.path().join("store").to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ],
            &[],
            None,
        ),
        "image",
    );
    let manifest = out.join("manifest.json");
    let export = |to: &Path| {
        ok(
            &rear_build(
                &[
                    "store",
                    "export",
                    "--store",
                    d.path().join("store").to_str().unwrap(),
                    "--manifest",
                    manifest.to_str().unwrap(),
                    "-o",
                    to.to_str().unwrap(),
                ],
                &[],
                None,
            ),
            "store export",
        )
    };
    let (e1, e2) = (d.path().join("e1"), d.path().join("e2"));
    export(&e1);
    export(&e2);
    assert_eq!(
        rear_tests::sha256_file(&e1),
        rear_tests::sha256_file(&e2),
        "two exports of one image differ"
    );
    let empty = d.path().join("empty-store");
    let r = rear_build(
        &[
            "store",
            "import",
            "--store",
            empty.to_str().unwrap(),
            e1.to_str().unwrap(),
        ],
        &[],
        None,
    );
    ok(&r, "store import");
    let again = d.path().join("again");
    ok(
        &rear_build(
            &[
                "store",
                "rebuild",
                "--store",
                empty.to_str().unwrap(),
                "--manifest",
                manifest.to_str().unwrap(),
                "-o",
                again.to_str().unwrap(),
            ],
            &[],
            None,
        ),
        "store rebuild",
    );
    for f in ["vmlinuz", "initrd.img", "manifest.json"] {
        assert_eq!(
            rear_tests::sha256_file(&out.join(f)),
            rear_tests::sha256_file(&again.join(f)),
            "{f} made again from the imported store differs"
        );
    }
    // A store that lacks an object cannot export; a damaged export is refused.
    let r = rear_build(
        &[
            "store",
            "export",
            "--store",
            d.path().join("nothing").to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "-o",
            d.path().join("e3").to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("the store lacks"), "{}", r.stderr);
    let raw = d.path().join("raw.cpio");
    let o = sh(&format!(
        "zstd -q -d -c {} > {}",
        e1.display(),
        raw.display()
    ));
    assert!(o.status.success());
    // A byte inside the base layer's object (megabytes long) changed.
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let name = format!("objects/{}", m["layers"][0]["blake3"].as_str().unwrap());
    let mut data = std::fs::read(&raw).unwrap();
    let at = data
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .unwrap()
        + name.len()
        + 10_000;
    data[at] ^= 1;
    std::fs::write(&raw, data).unwrap();
    let bad = d.path().join("bad");
    sh(&format!("zstd -q -c {} > {}", raw.display(), bad.display()));
    let r = rear_build(
        &[
            "store",
            "import",
            "--store",
            d.path().join("s4").to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("the export is damaged"), "{}", r.stderr);
}

/// `image --sign` signs before a rescue disk's generation is written, so
/// the generation carries the signature and verifies by itself. Needs
/// root and a loop device (to read the disk's REAR-000 partition).
#[test]
fn a_signed_rescue_disk_generation_verifies_by_itself() {
    let d = tempfile::tempdir().unwrap();
    let (key, public) = keygen(d.path(), "k");
    let disk = d.path().join("usb.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    ok(
        &rear_build(
            &["format", disk.to_str().unwrap(), "--yes", "--force"],
            &[],
            None,
        ),
        "format",
    );
    ok(
        &rear_build(
            &[
                "image",
                "--store",
                d.path().join("store").to_str().unwrap(),
                "--output",
                d.path().join("out").to_str().unwrap(),
                "--media",
                "usb",
                "--usb-device",
                disk.to_str().unwrap(),
                "--sign",
                key.to_str().unwrap(),
            ],
            &[],
            None,
        ),
        "image --media usb --sign",
    );
    // REAR-000 is the third partition.
    let o = sh(&format!(
        "sfdisk --json {} | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"partitiontable\"][\"partitions\"][2][\"start\"] * 512)'",
        disk.display()
    ));
    let offset = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let mnt = d.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let o = sh(&format!(
        "mount -o loop,ro,offset={offset} {} {}",
        disk.display(),
        mnt.display()
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            sh(&format!("umount {}", self.0.display()));
        }
    }
    let _u = Unmount(mnt.clone());
    let host = std::fs::read_dir(mnt.join("rear"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let generation = std::fs::read_dir(&host)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("image-")
        })
        .unwrap();
    assert!(generation.join("manifest.json.minisig").is_file());
    let r = verify(&public, &generation);
    ok(&r, "verify the generation");
    assert!(
        r.stdout.contains("ok   initrd.img (inside)"),
        "{}",
        r.stdout
    );
}
