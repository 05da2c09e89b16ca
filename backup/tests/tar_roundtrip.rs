//! The tar backend with the real GNU tar: a tree with every awkward kind of
//! file is backed up, restored elsewhere, and checked against the manifest;
//! damaged and missing backups fail with a clear error.

use anyhow::{bail, Result};
use rear_backup::{restore_and_verify, tar, Backend, Exec, Spec};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Real;
impl Exec for Real {
    fn run(&self, argv: &[String]) -> Result<String> {
        let out = Command::new(&argv[0]).args(&argv[1..]).output()?;
        if !out.status.success() {
            bail!(
                "`{}` failed ({}): {}",
                argv.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
    fn status(&self, argv: &[String]) -> Result<(i32, String)> {
        let out = Command::new(&argv[0]).args(&argv[1..]).output()?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}

fn tree(root: &Path) {
    fs::create_dir_all(root.join("etc/deep/er")).unwrap();
    fs::write(root.join("etc/with space"), "spaces").unwrap();
    fs::write(root.join("etc/new\nline"), "newline in the name").unwrap();
    fs::write(root.join("etc/deep/er/file"), "deep").unwrap();
    fs::write(root.join("suid"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(root.join("hard1"), "shared").unwrap();
    fs::hard_link(root.join("hard1"), root.join("etc/hard2")).unwrap();
    std::os::unix::fs::symlink("../hard1", root.join("etc/link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).unwrap();
    let f = fs::File::create(root.join("sparse")).unwrap();
    f.set_len(256 << 20).unwrap();
    drop(f);
    sh(&format!(
        "printf data | dd of='{}' bs=1 seek=100000000 conv=notrunc status=none",
        root.join("sparse").display()
    ));
    for i in 0..500 {
        fs::write(root.join(format!("etc/deep/small{i}")), format!("{i}")).unwrap();
    }
    std::os::unix::fs::chown(root.join("etc/deep/small1"), Some(1234), Some(5678)).unwrap();
    sh(&format!(
        "setfattr -n user.rear -v hello '{}'",
        root.join("etc/with space").display()
    ));
    sh(&format!(
        "setfacl -m u:1234:rw '{}'",
        root.join("etc/deep/er/file").display()
    ));
    sh(&format!("mkfifo '{}'", root.join("fifo").display()));
}

fn spec(root: &Path) -> Spec {
    Spec {
        root: root.to_path_buf(),
        paths: vec![PathBuf::from(".")],
        exclude: vec![],
    }
}

#[test]
fn everything_comes_back_as_it_was() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst, target) = (
        d.path().join("src"),
        d.path().join("dst"),
        d.path().join("target"),
    );
    fs::create_dir_all(&src).unwrap();
    tree(&src);
    fs::create_dir_all(&target).unwrap();
    let made = tar::Tar.backup(&spec(&src), &target, &Real).unwrap();
    assert!(made.files > 500, "{}", made.files);
    assert!(!target.join("backup.tar.zst.partial").exists());
    let sums = fs::read_to_string(&made.sums).unwrap();
    assert!(
        sums.contains("user.rear") && sums.contains("system.posix_acl_access"),
        "xattrs and ACLs are in the manifest"
    );
    fs::create_dir_all(&dst).unwrap();
    let n = restore_and_verify(&tar::Tar, &target, &dst, &Real).unwrap();
    assert_eq!(n, made.files);
    let meta = fs::metadata(dst.join("sparse")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "restored sparse file takes {} bytes",
        meta.blocks() * 512
    );
}

#[test]
fn a_damaged_backup_fails_and_says_why() {
    let d = tempfile::tempdir().unwrap();
    let (src, target) = (d.path().join("src"), d.path().join("target"));
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&target).unwrap();
    fs::write(src.join("a"), vec![7u8; 1 << 20]).unwrap();
    tar::Tar.backup(&spec(&src), &target, &Real).unwrap();
    let archive = target.join("backup.tar.zst");
    let mut data = fs::read(&archive).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    fs::write(&archive, data).unwrap();
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&tar::Tar, &target, &dst, &Real).unwrap_err()
    );
    assert!(
        err.contains("tar could not restore") || err.contains("differ from the backup's manifest"),
        "{err}"
    );
}

#[test]
fn a_missing_backup_or_manifest_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&tar::Tar, d.path(), d.path(), &Real).unwrap_err()
    );
    assert!(err.contains("has no checksum manifest"), "{err}");
}

#[test]
fn a_failed_backup_keeps_the_previous_one() {
    let d = tempfile::tempdir().unwrap();
    let (src, target) = (d.path().join("src"), d.path().join("target"));
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&target).unwrap();
    fs::write(src.join("a"), "first").unwrap();
    tar::Tar.backup(&spec(&src), &target, &Real).unwrap();
    let before = fs::read(target.join("backup.tar.zst")).unwrap();
    // A path that does not exist makes the run fail.
    let mut bad = spec(&src);
    bad.paths.push(PathBuf::from("missing"));
    assert!(tar::Tar.backup(&bad, &target, &Real).is_err());
    assert_eq!(fs::read(target.join("backup.tar.zst")).unwrap(), before);
    assert!(target.join("backup.sums").exists());
}
