//! Re-records the capture fixtures under tests/fixtures/capture/ by
//! creating each scenario's layout on blank disks inside the rescue system
//! (qemu, software emulation) and saving what capture's commands print
//! there. Not part of the normal test run:
//!
//! ```sh
//! cargo build --release -p rear-build      # the image builder it uses (or REAR_BUILD_BIN=...)
//! cargo test -p rear-layout --test record_capture_fixtures -- --ignored --nocapture
//! REAR_RECORD=gpt-esp,luks-lvm cargo test ...   # only some scenarios
//! REAR_RECORD_STORE=/var/tmp/store cargo test ...   # keep the rear-build store
//! ```
//!
//! See tests/fixtures/capture/README.md.
//!
//! Each scenario's script is `make-<scenario>.sh`, run after
//! `rescue_vm::RESULTS_SNIPPET` and `record-lib.sh`.

use rear_tests::rescue_vm::{build_image, run_in_rescue, RESULTS_SNIPPET};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Scenario name and its disks' sizes in MiB.
const SCENARIOS: &[(&str, &[u64])] = &[
    ("gpt-esp", &[256]),
    ("msdos-logical", &[640]),
    ("raid1-lvm-thin", &[640, 640]),
    ("luks-lvm", &[320]),
    ("btrfs-subvols", &[520]),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capture")
}

#[test]
#[ignore = "boots qemu; run explicitly to re-record the fixtures"]
fn record_capture_fixtures() {
    let only: Vec<String> = std::env::var("REAR_RECORD")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let chosen: Vec<&(&str, &[u64])> = SCENARIOS
        .iter()
        .filter(|(n, _)| only.is_empty() || only.iter().any(|o| o == n))
        .collect();
    assert!(!chosen.is_empty(), "REAR_RECORD={only:?} names no scenario");

    let tmp = tempfile::tempdir().unwrap();
    let lib = std::fs::read_to_string(fixtures().join("record-lib.sh")).unwrap();
    let mut includes = Vec::new();
    for (name, _) in &chosen {
        let body = std::fs::read_to_string(fixtures().join(format!("make-{name}.sh"))).unwrap();
        let script = tmp.path().join(format!("make-{name}"));
        std::fs::write(
            &script,
            format!("#!/bin/bash\n{RESULTS_SNIPPET}\n{lib}\n{body}"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        includes.push((script, *name));
    }
    let includes: Vec<(PathBuf, String)> = includes
        .into_iter()
        .map(|(p, n)| (p, format!("/usr/local/bin/make-{n}")))
        .collect();
    let inc: Vec<(PathBuf, &str)> = includes
        .iter()
        .map(|(p, d)| (p.clone(), d.as_str()))
        .collect();
    let store = std::env::var("REAR_RECORD_STORE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| tmp.path().join("store"));
    let (kernel, initrd) = build_image(&store, &tmp.path().join("image"), &inc);

    for (name, sizes) in chosen {
        let mut disks = Vec::new();
        for (i, mib) in sizes.iter().enumerate() {
            let d = tmp.path().join(format!("{name}-{i}.raw"));
            std::fs::File::create(&d)
                .unwrap()
                .set_len(mib << 20)
                .unwrap();
            disks.push(d);
        }
        let out = tmp.path().join(format!("out-{name}"));
        let code = run_in_rescue(
            &format!("record-{name}"),
            &kernel,
            &initrd,
            &format!("/usr/local/bin/make-{name}"),
            &disks,
            &out,
            Duration::from_secs(600),
        );
        assert_eq!(
            code, 0,
            "make-{name}.sh failed in the rescue system (see its console log)"
        );
        for d in &disks {
            std::fs::remove_file(d).unwrap();
        }
        let dest = fixtures().join(name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).unwrap();
        }
        copy_tree(&out, &dest);
        let versions = std::fs::read_to_string(dest.join("versions.txt")).unwrap_or_default();
        let sizes: Vec<String> = sizes.iter().map(|s| format!("{s} MiB")).collect();
        std::fs::write(
            dest.join("README.md"),
            format!(
                "# Capture fixture: {name}\n\n\
                 Recorded inside the rear-build rescue system (qemu, software emulation,\n\
                 no udev) by `layout/tests/record_capture_fixtures.rs`, which ran\n\
                 `../make-{name}.sh` (after `tests/src/rescue_vm.rs`'s `RESULTS_SNIPPET`\n\
                 and `../record-lib.sh`) on blank virtio disks of {} (serials rbdisk0..),\n\
                 plus the results disk attached last.\n\n\
                 - `cmd/<argv joined by spaces, '/' as '%', ' ' as '_'>`: a command's stdout;\n  \
                   `.fail` next to it: it failed (`exit N: stderr`).\n\
                 - `files/<path>`: a file as read.\n\
                 - `extra/`: more output for people; capture does not read it.\n\n\
                 Re-record: `cargo test -p rear-layout --test record_capture_fixtures -- --ignored`\n\
                 (`REAR_RECORD={name}` for this one only).\n\n\
                 ## Versions\n\n```\n{}```\n",
                sizes.join(", "),
                versions
            ),
        )
        .unwrap();
        eprintln!("recorded {}", dest.display());
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}
