//! The restic backend with the real restic and a local repository: round
//! trip, wrong passphrase, missing repository, failed run.

mod common;

use common::{
    changed_during_backup_is_restored_unverified, failed_backup_keeps_the_previous_one, pass_file,
    round_trip, spec, Real,
};
use rear_backup::restic::Restic;
use rear_backup::secret::Passphrase;
use rear_backup::{restore_and_verify, Backend, Target};
use std::fs;
use std::path::Path;

/// restic's cache in the test's directory, not root's home.
fn real(work: &Path) -> Real {
    Real {
        env: vec![(
            "RESTIC_CACHE_DIR".into(),
            work.join("restic-cache").display().to_string(),
        )],
    }
}

fn restic(work: &Path, pass: &str) -> Restic {
    let p = pass_file(work, pass);
    Restic::at(
        &Target::File(work.join("repo")),
        Passphrase::File(p),
        "web1",
    )
    .unwrap()
}

#[test]
fn everything_comes_back_as_it_was() {
    let d = tempfile::tempdir().unwrap();
    round_trip(
        &restic(d.path(), "correct horse"),
        &real(d.path()),
        d.path(),
    );
}

#[test]
fn a_wrong_passphrase_says_so() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    restic(d.path(), "right")
        .backup(&spec(&src), &exec)
        .unwrap();
    let wrong = restic(d.path(), "wrong");
    let err = format!(
        "{:#}",
        restore_and_verify(&wrong, d.path(), &exec).unwrap_err()
    );
    assert!(
        err.contains("the passphrase from backup.passphrase_file")
            && err.contains("does not open the restic repository"),
        "{err}"
    );
}

#[test]
fn a_missing_repository_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let err = format!(
        "{:#}",
        restore_and_verify(&restic(d.path(), "p"), d.path(), &exec).unwrap_err()
    );
    assert!(err.contains("there is no restic repository at"), "{err}");
}

#[test]
fn a_failed_backup_keeps_the_previous_one() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let b = restic(d.path(), "p");
    failed_backup_keeps_the_previous_one(&b, &exec, d.path());
    // The failed run's data snapshot was forgotten: the first run's pair is left.
    let out = std::process::Command::new("restic")
        .args(["snapshots", "--json", "--repo"])
        .arg(d.path().join("repo"))
        .env("RESTIC_PASSWORD_FILE", d.path().join("pass"))
        .env("RESTIC_CACHE_DIR", d.path().join("restic-cache"))
        .output()
        .unwrap();
    let snaps: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(snaps.len(), 2, "{snaps:?}");
}

#[test]
fn a_file_that_changes_during_the_backup_is_restored_unverified() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let b = restic(d.path(), "p");
    changed_during_backup_is_restored_unverified(&b, &exec, d.path());
}
