//! The borg backend with the real borg and a local repository: round trip,
//! wrong passphrase, missing repository, failed run.

mod common;

use common::{
    changed_during_backup_is_restored_unverified, failed_backup_keeps_the_previous_one, pass_file,
    round_trip, spec, Real,
};
use rear_backup::borg::Borg;
use rear_backup::secret::Passphrase;
use rear_backup::{restore_and_verify, Backend, Target};
use std::fs;
use std::path::Path;

/// borg's cache and security records in the test's directory, not root's home.
fn real(work: &Path) -> Real {
    Real {
        env: vec![(
            "BORG_BASE_DIR".into(),
            work.join("borg-home").display().to_string(),
        )],
    }
}

fn borg(work: &Path, pass: &str) -> Borg {
    let p = pass_file(work, pass);
    Borg::at(
        &Target::File(work.join("repo")),
        Passphrase::File(p),
        "web1",
    )
    .unwrap()
}

#[test]
fn everything_comes_back_as_it_was() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let b = borg(d.path(), "correct horse");
    round_trip(&b, &exec, d.path());
    // One archive per backup, named for the host; none left unfinished.
    let found = b.latest(&exec).unwrap();
    assert!(found.id.starts_with("web1-2"), "{}", found.id);
    // The manifest travels in the archive but is not restored.
    assert!(!d.path().join("dst1").join(rear_backup::borg::SUMS).exists());
}

#[test]
fn a_wrong_passphrase_says_so() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    borg(d.path(), "s3cret-right")
        .backup(&spec(&src), &exec)
        .unwrap();
    let wrong = borg(d.path(), "s3cret-wrong");
    let err = format!(
        "{:#}",
        restore_and_verify(&wrong, d.path(), &exec).unwrap_err()
    );
    assert!(
        err.contains("the passphrase from backup.passphrase_file")
            && err.contains("does not open the borg repository"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "no secret in errors: {err}");
}

#[test]
fn a_missing_repository_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let err = format!(
        "{:#}",
        restore_and_verify(&borg(d.path(), "p"), d.path(), &exec).unwrap_err()
    );
    assert!(err.contains("there is no borg repository at"), "{err}");
}

#[test]
fn a_failed_backup_keeps_the_previous_one() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let b = borg(d.path(), "p");
    failed_backup_keeps_the_previous_one(&b, &exec, d.path());
    // The failed run's archive was deleted, not just passed over.
    let out = std::process::Command::new("borg")
        .args(["list", "--short"])
        .arg(d.path().join("repo"))
        .env("BORG_BASE_DIR", d.path().join("borg-home"))
        .env(
            "BORG_PASSCOMMAND",
            format!("cat {}", d.path().join("pass").display()),
        )
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(names.lines().count(), 1, "{names}");
}

#[test]
fn a_file_that_changes_during_the_backup_is_restored_unverified() {
    let d = tempfile::tempdir().unwrap();
    let exec = real(d.path());
    let b = borg(d.path(), "p");
    changed_during_backup_is_restored_unverified(&b, &exec, d.path());
}
