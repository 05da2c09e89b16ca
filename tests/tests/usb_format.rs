//! `rear-build format` refuses the disks it must not erase, and each
//! refusal leaves the disk as it was (hashed before and after): a disk
//! that is not removable (a loop device), one holding someone's file
//! system, a mounted one (even with --force), and the disk the running
//! system is on (even with --force). Real loop devices, file systems and
//! mounts: needs root, as `format` does.

use rear_tests::{rear_build, sha256_file, Run};
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A loop device over a file, detached when dropped.
struct Loop(String);

impl Loop {
    fn new(file: &Path) -> Loop {
        Loop(run(Command::new("losetup")
            .args(["--find", "--show"])
            .arg(file)))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

fn image_file(dir: &Path, name: &str) -> PathBuf {
    let f = dir.join(name);
    std::fs::File::create(&f)
        .unwrap()
        .set_len(600 << 20)
        .unwrap();
    f
}

fn format(args: &[&str]) -> Run {
    let (flags, rest): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with("-v"));
    let mut a = flags;
    a.push("format");
    a.extend_from_slice(&rest);
    rear_build(&a, &[], None)
}

fn refused(r: &Run, why: &str) {
    assert_ne!(r.status, 0, "format went through:\n{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to format") && r.stderr.contains(why),
        "not refused for {why:?}:\n{}",
        r.stderr
    );
}

#[test]
fn a_disk_that_is_not_removable_is_refused_unless_forced() {
    let d = tempfile::tempdir().unwrap();
    let f = image_file(d.path(), "disk");
    let lo = Loop::new(&f);
    let before = sha256_file(&f);
    refused(&format(&[&lo.0, "--yes"]), "is not a removable disk");
    assert_eq!(sha256_file(&f), before, "the refused disk changed");
    // With --force it is formatted: the checks were the only thing in the
    // way.
    let r = format(&[&lo.0, "--yes", "--force"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_ne!(sha256_file(&f), before);
    let probe = run(Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "PTTYPE"])
        .arg(&lo.0));
    assert_eq!(probe, "gpt");
}

#[test]
fn a_disk_holding_another_file_system_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let f = image_file(d.path(), "data.img");
    run(Command::new("mkfs.ext4").args(["-q", "-L", "DATA"]).arg(&f));
    let before = sha256_file(&f);
    let r = format(&[f.to_str().unwrap(), "--yes"]);
    refused(&r, "holds ext4");
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(sha256_file(&f), before, "the refused disk changed");
}

#[test]
fn a_mounted_disk_is_refused_even_with_force() {
    let d = tempfile::tempdir().unwrap();
    let f = image_file(d.path(), "mounted.img");
    run(Command::new("mkfs.ext4").args(["-q"]).arg(&f));
    let lo = Loop::new(&f);
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // Read-only: the mount itself writes nothing, so the hash holds.
    run(Command::new("mount").args(["-o", "ro", &lo.0]).arg(&mnt));
    let before = sha256_file(&f);
    let r = format(&[&lo.0, "--yes", "--force"]);
    let after = sha256_file(&f);
    let _ = Command::new("umount").arg(&mnt).status();
    refused(&r, "is mounted at");
    assert_eq!(after, before, "the refused disk changed");
}

/// The disks under `/`, as /dev paths.
fn root_disk() -> String {
    let src = run(Command::new("findmnt").args(["-n", "-o", "SOURCE", "/"]));
    let disk = run(Command::new("lsblk")
        .args(["-n", "-s", "-p", "-o", "NAME,TYPE", "-r"])
        .arg(&src));
    disk.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(_, t)| *t == "disk")
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| panic!("no disk under / ({src}): these tests need / on a block device"))
}

#[test]
fn the_running_systems_disk_is_refused_even_with_force() {
    let disk = root_disk();
    // Its first MiB (partition table, boot code; the rest changes as the
    // system runs), where the machine lets a process read its own disk
    // (a sandbox may not): then what format ran tells instead.
    let head = |d: &str| -> Option<Vec<u8>> {
        let mut f = std::fs::File::open(d).ok()?;
        let mut buf = vec![0u8; 1 << 20];
        std::io::Read::read_exact(&mut f, &mut buf).ok()?;
        Some(buf)
    };
    let before = head(&disk);
    let r = format(&["-vv", &disk, "--yes", "--force"]);
    refused(&r, "holds the running system");
    assert!(
        r.stderr.contains("running: "),
        "no command log:\n{}",
        r.stderr
    );
    for write in [
        "running: wipefs",
        "running: sfdisk --quiet",
        "running: mkfs",
    ] {
        assert!(!r.stderr.contains(write), "{write}:\n{}", r.stderr);
    }
    assert!(head(&disk) == before, "the running system's disk changed");
}
