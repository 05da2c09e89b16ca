//! Backups read each file system through a private view of it alone: what
//! lies under a mount point is backed up, and a mount-point directory comes
//! back with its own mode, not the mode of what was mounted on it. Needs
//! root (mount), as every backup test here does (chown, ACLs).

mod common;

use common::{sh, spec, Real};
use rear_backup::tar::Tar;
use rear_backup::view::View;
use rear_backup::{restore_and_verify, Backend, Spec};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

#[test]
fn what_lies_under_a_mount_point_is_backed_up_and_restored() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    // `mnt` holds a file before a tmpfs is mounted on it (a file written
    // to a mount point before its file system was mounted).
    fs::create_dir_all(src.join("mnt")).unwrap();
    fs::write(src.join("mnt/under"), "hidden by the mount").unwrap();
    fs::set_permissions(src.join("mnt"), fs::Permissions::from_mode(0o711)).unwrap();
    fs::write(src.join("top"), "on the root").unwrap();
    sh(&format!(
        "mount -t tmpfs -o mode=0555 rear-view-test '{}'",
        src.join("mnt").display()
    ));
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _mounted = Unmount(src.join("mnt"));

    let b = Tar {
        dir: d.path().join("target"),
    };
    let exec = Real::default();
    let view = View::mount(&src, &[PathBuf::from(".")], &d.path().join("view"), &exec).unwrap();
    let made = b.backup(
        &Spec {
            view: Some(view.dir.clone()),
            ..spec(&src)
        },
        &exec,
    );
    drop(view);
    made.unwrap();
    assert!(
        !d.path().join("view/top").exists(),
        "the view is unmounted after the backup"
    );

    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    restore_and_verify(&b, &dst, &exec).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        fs::read_to_string(dst.join("mnt/under")).unwrap(),
        "hidden by the mount"
    );
    assert_eq!(
        fs::metadata(dst.join("mnt")).unwrap().permissions().mode() & 0o7777,
        0o711,
        "the mount point's own mode"
    );
}
