//! The tar restore hashes the files from its stream and the check after it
//! uses those hashes: a manifest that disagrees with the archive's content
//! is caught; an archive whose stream cannot be parsed falls back to
//! reading every restored file, and a bad file is still caught.

mod common;

use common::{spec, Real};
use rear_backup::tar::{Tar, ARCHIVE};
use rear_backup::{generation, restore_and_verify, stream, sums, Backend};
use std::fs;
use std::path::Path;

fn tree(src: &Path) {
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("d/a"), vec![7u8; 100_000]).unwrap();
    fs::write(src.join("d/b"), "bbbb").unwrap();
    let f = fs::File::create(src.join("d/sparse")).unwrap();
    f.set_len(8 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"data", 4 << 20).unwrap();
}

fn backed_up(d: &Path) -> (Tar, std::path::PathBuf) {
    let src = d.join("src");
    tree(&src);
    let b = Tar {
        dir: d.join("target"),
        age: None,
    };
    b.backup(&spec(&src), &Real::default()).unwrap();
    let gen = generation::current(&b.dir).unwrap().unwrap();
    let gdir = b.dir.join(gen);
    (b, gdir)
}

#[test]
fn a_manifest_that_disagrees_with_the_archive_is_a_content_difference() {
    let d = tempfile::tempdir().unwrap();
    let (b, gdir) = backed_up(d.path());
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    restore_and_verify(&b, &dst, &Real::default()).unwrap_or_else(|e| panic!("{e:#}"));
    let found = b.latest(&Real::default()).unwrap();
    let streamed = b
        .restore_hashed(&found, &dst, &Real::default())
        .unwrap()
        .expect("the stream's hashes");
    for e in found.sums.iter().filter(|e| e.kind == "file") {
        assert_eq!(
            streamed.get(&e.path),
            Some(&(e.blake3.clone().unwrap(), e.size)),
            "{}",
            e.path
        );
    }
    // The manifest says otherwise of d/b than the archive holds.
    let manifest = gdir.join(generation::SUMS);
    let mut entries = sums::read(&manifest).unwrap();
    for e in &mut entries {
        if e.path == "d/b" {
            e.blake3 = Some(blake3::hash(b"BBBB").to_hex().to_string());
        }
    }
    fs::write(&manifest, sums::to_text(&entries)).unwrap();
    let dst = d.path().join("dst2");
    fs::create_dir_all(&dst).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&b, &dst, &Real::default()).unwrap_err()
    );
    assert!(err.contains("d/b: content"), "{err}");
    assert!(!err.contains("d/a"), "{err}");
}

#[test]
fn a_stream_the_parser_cannot_read_falls_back_to_reading_the_files() {
    let d = tempfile::tempdir().unwrap();
    let (b, gdir) = backed_up(d.path());
    // The archive replaced by one of the same tree in an older PAX sparse
    // format (tar reads it, the parser does not), with d/a changed: the
    // restored d/a differs from the manifest.
    let src = d.path().join("src");
    fs::write(src.join("d/a"), vec![8u8; 100_000]).unwrap();
    let out = std::process::Command::new("tar")
        .args([
            "--create",
            "--sparse",
            "--sparse-version=0.1",
            "--format=posix",
            "--numeric-owner",
            "--file=-",
        ])
        .arg(format!("--directory={}", src.display()))
        .arg(".")
        .output()
        .unwrap();
    assert!(out.status.success());
    let archive = gdir.join(ARCHIVE);
    let z = stream::compress(&out.stdout[..], Vec::new(), 1).unwrap();
    fs::write(&archive, z).unwrap();
    // The parser fails; the restore does not.
    let dst = d.path().join("plain");
    fs::create_dir_all(&dst).unwrap();
    let found = b.latest(&Real::default()).unwrap();
    assert!(b
        .restore_hashed(&found, &dst, &Real::default())
        .unwrap()
        .is_none());
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&b, &dst, &Real::default()).unwrap_err()
    );
    assert!(err.contains("d/a: content"), "{err}");
}
