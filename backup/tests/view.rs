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
    // to a mount point before its file system was mounted); both file
    // systems are backed up.
    fs::create_dir_all(src.join("mnt")).unwrap();
    fs::write(src.join("mnt/under"), "hidden by the mount").unwrap();
    fs::set_permissions(src.join("mnt"), fs::Permissions::from_mode(0o711)).unwrap();
    fs::write(src.join("top"), "on the root").unwrap();
    let _src_mnt = tmpfs(&src.join("mnt"), "0555");
    fs::write(src.join("mnt/own"), "on the tmpfs").unwrap();

    let paths = [".", "mnt"].map(PathBuf::from);
    let view = View::mount(&src, &paths, &d.join("view"), exec).unwrap();
    let spec = Spec::new(&src, paths.to_vec(), spec(&src).exclude).through(&view.dir);
    let made = b.backup(&spec, exec);
    let dir = view.dir.clone();
    drop(view);
    made.unwrap_or_else(|e| panic!("{}: {e:#}", b.name()));
    assert!(
        !dir.exists() && dir.starts_with(d),
        "the view is unmounted and gone after the backup"
    );

    // The recreated layout: a root and a tmpfs on its mount point.
    let dst = d.join("dst");
    fs::create_dir_all(dst.join("mnt")).unwrap();
    let dst_mnt = tmpfs(&dst.join("mnt"), "0700");
    restore_and_verify(b, &dst, exec).unwrap_or_else(|e| panic!("{}: {e:#}", b.name()));
    let name = b.name();
    assert_eq!(
        fs::read_to_string(dst.join("mnt/own")).unwrap(),
        "on the tmpfs"
    );
    assert_eq!(
        mode(&dst.join("mnt")),
        0o555,
        "{name}: the tmpfs's own mode"
    );
    assert!(!dst.join("mnt/under").exists(), "{name}: not on the tmpfs");
    drop(dst_mnt);
    assert_eq!(
        fs::read_to_string(dst.join("mnt/under")).unwrap(),
        "hidden by the mount",
        "{name}: back on the root file system, under the mount point"
    );
    assert_eq!(
        mode(&dst.join("mnt")),
        0o711,
        "{name}: the mount point's own mode"
    );
    assert!(!dst.join("mnt/own").exists(), "{name}: not on the root");
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn tmpfs(at: &Path, mode: &str) -> Unmount {
    sh(&format!(
        "mount -t tmpfs -o mode={mode} rear-view-test '{}'",
        at.display()
    ));
    Unmount(at.to_path_buf())
}
