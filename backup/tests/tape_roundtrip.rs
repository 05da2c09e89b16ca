//! The tape target with the real GNU tar, on a SIMH tape image file that
//! stands for a drive (these machines have none): the round trip every
//! backend passes, with the rescue image at the start of the tape kept
//! byte for byte; backups appended, a cut-off one ignored and written
//! over; a damaged archive, a foreign tape, and an encrypted backup.

mod common;

use common::{
    changed_during_backup_is_restored_unverified, failed_backup_keeps_the_previous_one, round_trip,
    spec, Real,
};
use rear_backup::tape::TapeBackup;
use rear_backup::{restore_and_verify, Backend};
use rear_tape::{simh, Records};
use std::fs;
use std::path::{Path, PathBuf};

/// A tape as `image --media obdr` leaves it: the label header and a
/// (fake) rescue image as its first file, then the end of the data.
fn rescue_tape(dir: &Path) -> PathBuf {
    let tap = dir.join("tape.tap");
    let mut w = simh::Simh::create(&tap).unwrap();
    for r in rear_tape::label("rear-build OBDR rescue tape\n") {
        w.record(&r).unwrap();
    }
    for i in 0..40u8 {
        w.record(&[i; 2048]).unwrap();
    }
    w.tape_mark().unwrap();
    w.tape_mark().unwrap();
    w.finish().unwrap();
    tap
}

/// The bytes of the tape's first file as framed in the SIMH file: the
/// 20 header records, the 40 image records and the tape mark.
fn first_file(tap: &Path) -> Vec<u8> {
    let len = 20 * (512 + 8) + 40 * (2048 + 8) + 4;
    fs::read(tap).unwrap()[..len].to_vec()
}

fn tape(tap: &Path) -> TapeBackup {
    TapeBackup {
        device: tap.to_path_buf(),
        age: None,
    }
}

fn files(tap: &Path) -> Vec<u64> {
    rear_tape::list(&mut simh::Reader::open(tap).unwrap())
        .unwrap()
        .iter()
        .map(|f| f.bytes)
        .collect()
}

/// 1 MiB that zstd cannot shrink.
fn noise() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn everything_comes_back_as_it_was_and_the_rescue_image_stays() {
    common::usual_umask();
    let d = tempfile::tempdir().unwrap();
    let tap = rescue_tape(d.path());
    let before = first_file(&tap);
    round_trip(&tape(&tap), &Real::default(), d.path());
    assert!(first_file(&tap) == before, "the rescue image changed");
    // The image, then two backups of two files each (archive, index).
    let f = files(&tap);
    assert_eq!(f.len(), 5, "{f:?}");
    assert_eq!(f[0], 20 * 512 + 40 * 2048);
    let mut r = simh::Reader::open(&tap).unwrap();
    let kinds: Vec<bool> = (0..5)
        .map(|_| {
            let first = match rear_tape::Source::next_item(&mut r).unwrap() {
                Some(rear_tape::Item::Record(d)) => d,
                other => panic!("{other:?}"),
            };
            rear_tape::Source::skip_file(&mut r).unwrap();
            first.starts_with(b"rear-build tape backup index")
        })
        .collect();
    assert_eq!(kinds, [false, false, true, false, true]);
}

#[test]
fn a_failed_backup_keeps_the_previous_one() {
    let d = tempfile::tempdir().unwrap();
    let tap = rescue_tape(d.path());
    failed_backup_keeps_the_previous_one(&tape(&tap), &Real::default(), d.path());
}

#[test]
fn a_file_that_changes_during_the_backup_is_restored_unverified() {
    let d = tempfile::tempdir().unwrap();
    let tap = rescue_tape(d.path());
    changed_during_backup_is_restored_unverified(&tape(&tap), &Real::default(), d.path());
}

/// A backup cut off (the power went, the tape ended) has no index: the
/// restore takes the one before, and the next backup is written over it.
#[test]
fn a_cut_off_backup_is_ignored_and_written_over() {
    let d = tempfile::tempdir().unwrap();
    let tap = rescue_tape(d.path());
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "first").unwrap();
    let b = tape(&tap);
    b.backup(&spec(&src), &Real::default()).unwrap();
    let one = fs::metadata(&tap).unwrap().len();
    fs::write(src.join("a"), "second").unwrap();
    fs::write(src.join("big"), noise()).unwrap();
    b.backup(&spec(&src), &Real::default()).unwrap();
    // Cut inside the second backup's archive.
    let f = fs::OpenOptions::new().write(true).open(&tap).unwrap();
    f.set_len(one + 1000).unwrap();
    drop(f);
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    restore_and_verify(&b, &dst, &Real::default()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(fs::read(dst.join("a")).unwrap(), b"first");
    // The next backup goes where the cut-off one began.
    fs::write(src.join("a"), "third").unwrap();
    b.backup(&spec(&src), &Real::default()).unwrap();
    assert_eq!(files(&tap).len(), 5, "{:?}", files(&tap));
    let dst = d.path().join("dst2");
    fs::create_dir_all(&dst).unwrap();
    restore_and_verify(&b, &dst, &Real::default()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(fs::read(dst.join("a")).unwrap(), b"third");
}

/// A byte of the archive changed on the tape: tar fails, or the archive's
/// hash does, and the restore says so.
#[test]
fn a_damaged_archive_fails_the_restore() {
    let d = tempfile::tempdir().unwrap();
    let tap = rescue_tape(d.path());
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let noise: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(src.join("a"), &noise).unwrap();
    let image = fs::metadata(&tap).unwrap().len() - 8;
    let b = tape(&tap);
    b.backup(&spec(&src), &Real::default()).unwrap();
    let mut data = fs::read(&tap).unwrap();
    // Inside the archive's first record: past the image and its framing.
    data[image as usize + 4 + 5000] ^= 0x55;
    fs::write(&tap, data).unwrap();
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&b, &dst, &Real::default()).unwrap_err()
    );
    assert!(
        err.contains("tar could not restore") || err.contains("is not the one written"),
        "{err}"
    );
}

/// A tape that does not start with ReaR's label is never written; a
/// blank one gets the label first.
#[test]
fn a_foreign_tape_is_refused_and_a_blank_one_labelled() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "data").unwrap();
    let foreign = d.path().join("foreign.tap");
    let mut w = simh::Simh::create(&foreign).unwrap();
    w.record(b"somebody else's tape").unwrap();
    w.tape_mark().unwrap();
    w.finish().unwrap();
    drop(w);
    let before = fs::read(&foreign).unwrap();
    let err = format!(
        "{:#}",
        tape(&foreign)
            .backup(&spec(&src), &Real::default())
            .unwrap_err()
    );
    assert!(err.contains("does not start with ReaR's label"), "{err}");
    assert_eq!(
        fs::read(&foreign).unwrap(),
        before,
        "the foreign tape changed"
    );

    let blank = d.path().join("blank.tap");
    fs::write(&blank, b"").unwrap();
    let b = tape(&blank);
    b.backup(&spec(&src), &Real::default()).unwrap();
    assert_eq!(files(&blank).len(), 3);
    assert!(fs::read(&blank).unwrap()[4..].starts_with(b"REAR-000"));
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    restore_and_verify(&b, &dst, &Real::default()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(fs::read(dst.join("a")).unwrap(), b"data");
}

/// Encrypted to an age recipient: no plaintext on the tape, and the
/// restore needs the identity.
#[test]
fn an_age_encrypted_tape_backup_round_trips_and_needs_its_identity() {
    use rear_backup::age::Age;
    let d = tempfile::tempdir().unwrap();
    let keys = d.path().join("keys");
    fs::create_dir_all(&keys).unwrap();
    let (id, rcpt) = (keys.join("id"), keys.join("rcpt"));
    common::sh(&format!(
        "age-keygen -o '{0}' 2>/dev/null && age-keygen -y '{0}' > '{1}' && chmod 600 '{0}'",
        id.display(),
        rcpt.display(),
    ));
    let tap = rescue_tape(d.path());
    let sealed = |identity: Option<&Path>| TapeBackup {
        device: tap.clone(),
        age: Some(Age {
            recipients: rcpt.clone(),
            identity: identity.map(Path::to_path_buf),
        }),
    };
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("canary-name-5e1f"), "canary-content-a9c4").unwrap();
    sealed(None)
        .backup(&spec(&src), &Real::default())
        .unwrap_or_else(|e| panic!("{e:#}"));
    let bytes = fs::read(&tap).unwrap();
    for canary in ["canary-name-5e1f", "canary-content-a9c4"] {
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "{canary} on the tape"
        );
    }
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&sealed(None), &dst, &Real::default()).unwrap_err()
    );
    assert!(err.contains("set backup.identity_file"), "{err}");
    restore_and_verify(&sealed(Some(&id)), &dst, &Real::default())
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        fs::read_to_string(dst.join("canary-name-5e1f")).unwrap(),
        "canary-content-a9c4"
    );
}
