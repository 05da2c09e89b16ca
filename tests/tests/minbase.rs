//! `rear-build image` on a minimal Debian server: a debootstrap minbase
//! bookworm tree with only a kernel, GRUB, lvm2, mdadm and xfsprogs,
//! entered with chroot: no partitioning program (rear-build writes the
//! partition tables itself) and no zstd (it compresses tar backups
//! itself). With a saved RAID1 + LVM + xfs layout it builds, naming on one
//! line the optional tools it left out; a layout with LUKS requires
//! cryptsetup.
//!
//! Full tier (`--ignored`): the tree is made once with debootstrap
//! (network, a few minutes) and kept in /var/cache/rear-build-e2e.

use rear_layout::{scenarios, Layout};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What debootstrap adds to minbase; changing it makes a new tree.
const INCLUDE: &str = "linux-image-amd64,grub-pc,lvm2,mdadm,xfsprogs";

/// The packages such a server lacks, which the old recipes required.
use rear_tests::debian::MINIMAL_LACKS as NOT_HERE;

/// The zstd and fdisk programs, hidden while this lives, should the tree
/// have them after all (a dependency of a later Debian's packages): such a
/// server has none, and needs none.
struct Hidden(Vec<(PathBuf, PathBuf)>);

impl Hidden {
    fn new(root: &Path) -> Hidden {
        let mut hidden = Vec::new();
        for p in [
            "bin/zstd",
            "bin/unzstd",
            "bin/zstdcat",
            "bin/zstdmt",
            "bin/pzstd",
            "bin/zstdgrep",
            "bin/zstdless",
            "sbin/sfdisk",
            "sbin/fdisk",
            "sbin/cfdisk",
        ] {
            let at = root.join("usr").join(p);
            if at.symlink_metadata().is_ok() {
                let to = at.with_extension("hidden-by-test");
                std::fs::rename(&at, &to).unwrap();
                hidden.push((at, to));
            }
        }
        Hidden(hidden)
    }
}

impl Drop for Hidden {
    fn drop(&mut self) {
        for (at, to) in &self.0 {
            let _ = std::fs::rename(to, at);
        }
    }
}

fn sh(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// The minbase tree, made when missing (debootstrap into a temporary
/// directory, renamed when whole).
fn tree() -> PathBuf {
    let key: String = INCLUDE.replace([',', '-'], "").chars().take(40).collect();
    let dir = PathBuf::from(format!("/var/cache/rear-build-e2e/minbase-{key}"));
    if dir.join("usr/sbin/mdadm").exists() {
        return dir;
    }
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.parent().unwrap()).unwrap();
    let mirror = std::env::var("E2E_MIRROR").unwrap_or("http://deb.debian.org/debian".into());
    let out = sh(Command::new("debootstrap")
        .args([
            "--variant=minbase",
            &format!("--include={INCLUDE}"),
            "bookworm",
        ])
        .arg(&tmp)
        .arg(&mirror));
    assert!(
        out.status.success(),
        "debootstrap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &dir).unwrap();
    dir
}

/// /proc, /sys and /dev of the host in the tree while it lives.
struct Mounted(Vec<PathBuf>);

impl Mounted {
    fn new(root: &Path) -> Mounted {
        let mut m = Mounted(Vec::new());
        for d in ["proc", "sys", "dev"] {
            let at = root.join(d);
            let ok = sh(Command::new("mount")
                .arg("--bind")
                .arg(format!("/{d}"))
                .arg(&at));
            assert!(ok.status.success(), "mount /{d}: {:?}", ok);
            m.0.push(at);
        }
        m
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        for at in self.0.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(at).status();
        }
    }
}

/// `rear-build image` in the tree with `layout` saved: (exit code, stderr).
fn image(root: &Path, layout: &Layout) -> (i32, String) {
    let saved = root.join("var/lib/rear-build/layout.json");
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    std::fs::write(&saved, layout.to_json()).unwrap();
    let out = sh(Command::new("chroot").arg(root).args([
        "/usr/local/bin/rear-build",
        "image",
        "--store",
        "/tmp/minbase-test/store",
        "--output",
        "/tmp/minbase-test/out",
        "--media",
        "none",
    ]));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "full tier: debootstraps a minimal Debian tree (network, minutes)"]
fn a_minimal_raid1_lvm_xfs_server_builds_its_image() {
    let started = std::time::Instant::now();
    let root = tree();
    let _m = Mounted::new(&root);
    std::fs::copy(rear_tests::bin(), root.join("usr/local/bin/rear-build")).unwrap();
    let _ = std::fs::remove_dir_all(root.join("tmp/minbase-test"));

    // RAID1 + LVM + xfs, as the server has it.
    let mut plain = scenarios::raid1_lvm_thin();
    plain.lvs.retain(|v| v.segtype == "linear");
    let hidden = Hidden::new(&root);
    let (code, err) = image(&root, &plain);
    drop(hidden);
    assert_eq!(code, 0, "image failed on the minimal server:\n{err}");
    let notes: Vec<&str> = err.lines().filter(|l| l.contains("left out")).collect();
    assert_eq!(notes.len(), 1, "not one left-out line: {notes:?}\n{err}");
    for pkg in NOT_HERE {
        assert!(
            notes[0].contains(&format!(" {pkg}")),
            "{pkg} not named: {}",
            notes[0]
        );
    }
    // `kill` is among procps's programs, never util-linux's.
    assert!(
        notes[0].contains(", kill)") && !notes[0].contains("util-linux"),
        "{}",
        notes[0]
    );
    eprintln!("{}", notes[0]);

    // A layout with LUKS (and an ESP) requires what it runs.
    let (code, err) = image(&root, &scenarios::luks_on_lvm());
    assert_ne!(code, 0, "built without cryptsetup:\n{err}");
    assert!(
        err.contains("program cryptsetup, needed for format LUKS2 on")
            && err.contains("install Debian package cryptsetup-bin")
            && err.contains("program mkfs.vfat, needed for make a vfat file system on /dev/vda1")
            && err.contains("install Debian package dosfstools"),
        "{err}"
    );

    let _ = std::fs::remove_dir_all(root.join("tmp/minbase-test"));
    eprintln!("minbase test: {:.0} s", started.elapsed().as_secs_f64());
}
