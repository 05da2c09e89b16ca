//! Backups read each file system through a private view of it alone: what
//! lies under a mount point is backed up, and a mount-point directory comes
//! back with its own mode, not the mode of what was mounted on it. Needs
//! root (mount), as every backup test here does (chown, ACLs).

mod common;

use common::{pass_file, sh, spec, Real};
use rear_backup::secret::Passphrase;
use rear_backup::view::View;
use rear_backup::{borg::Borg, restic::Restic, rsync::Rsync, tar::Tar};
use rear_backup::{restore_and_verify, Backend, Spec, Target};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Every method reads through the view (restic names the paths it read,
/// which are the view's, not the root's).
#[test]
fn what_lies_under_a_mount_point_is_backed_up_and_restored() {
    let d = tempfile::tempdir().unwrap();
    let at = |name: &str| d.path().join(name);
    let tar = Tar {
        dir: at("tar"),
        age: None,
    };
    let rsync = Rsync::at(&Target::File(at("rsync"))).unwrap();
    let pass = || Passphrase::File(pass_file(d.path(), "view test"));
    let borg = Borg::at(&Target::File(at("borg")), pass(), "web1").unwrap();
    let restic = Restic::at(&Target::File(at("restic")), pass(), "web1").unwrap();
    let exec = Real {
        env: vec![
            ("RESTIC_CACHE_DIR".into(), at("cache").display().to_string()),
            (
                "BORG_BASE_DIR".into(),
                at("borg-base").display().to_string(),
            ),
        ],
    };
    let backends: [&dyn Backend; 4] = [&tar, &rsync, &borg, &restic];
    for b in backends {
        through_the_view(b, &exec, &at(b.name()).with_extension("work"));
    }
}

fn through_the_view(b: &dyn Backend, exec: &Real, work: &Path) {
    let d = work;
    fs::create_dir_all(d).unwrap();
    let src = d.join("src");
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

    let view = View::mount(&src, &[PathBuf::from(".")], &d.join("view"), exec).unwrap();
    let made = b.backup(
        &Spec {
            view: Some(view.dir.clone()),
            ..spec(&src)
        },
        exec,
    );
    drop(view);
    made.unwrap_or_else(|e| panic!("{}: {e:#}", b.name()));
    assert!(
        !d.join("view/top").exists(),
        "the view is unmounted after the backup"
    );

    let dst = d.join("dst");
    fs::create_dir_all(&dst).unwrap();
    restore_and_verify(b, &dst, exec).unwrap_or_else(|e| panic!("{}: {e:#}", b.name()));
    assert_eq!(
        fs::read_to_string(dst.join("mnt/under")).unwrap(),
        "hidden by the mount",
        "{}",
        b.name()
    );
    assert_eq!(
        fs::metadata(dst.join("mnt")).unwrap().permissions().mode() & 0o7777,
        0o711,
        "{}: the mount point's own mode",
        b.name()
    );
}
