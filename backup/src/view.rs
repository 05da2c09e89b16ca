//! A private, read-only view of the file systems a backup reads: each one
//! bind-mounted alone (not recursively) at its place below one directory.
//! Through it a backup holds exactly each file system's own content: the
//! directories other file systems are mounted on, with their own modes
//! (`/proc` is 0755 on the root file system, 0555 once procfs is on it),
//! and what lies hidden under a mount point that is not backed up.
//!
//! What lies hidden under the mount point of a file system that *is*
//! backed up stays hidden (the view mounts that file system there too); it
//! is named in a warning instead, so it is not lost unseen.

use crate::{Call, Exec};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// Where `mkbackup` mounts the view.
pub const DIR: &str = "/run/rear-build/view";

/// The mounted view; dropping it unmounts it.
pub struct View<'a> {
    pub dir: PathBuf,
    exec: &'a dyn Exec,
}

impl<'a> View<'a> {
    /// Mounts `root/path` for each of `paths` (relative, `.` for root
    /// itself) at `dir/path`, parents first.
    pub fn mount(
        root: &Path,
        paths: &[PathBuf],
        dir: &Path,
        exec: &'a dyn Exec,
    ) -> Result<View<'a>> {
        let view = View {
            dir: dir.to_path_buf(),
            exec,
        };
        // What a killed run left mounted goes first.
        view.unmount();
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        crate::generation::private(dir, 0o700)?;
        // The directory a mount point of its own, private: nothing mounted
        // below it propagates to the host's mounts, or theirs to it.
        view.mount_cmd(&["--bind", &s(dir), &s(dir)])?;
        view.mount_cmd(&["--make-private", &s(dir)])?;
        let mut order: Vec<&PathBuf> = paths.iter().collect();
        order.sort_by_key(|p| (p.components().count(), p.to_path_buf()));
        for rel in order {
            let at = dir.join(rel);
            let from = root.join(rel);
            // Below a directory of the view's own (no file system backed
            // up holds this mount point), the mount point is made.
            if !at.is_dir() && fs::create_dir_all(&at).is_err() {
                bail!(
                    "{} has no directory {} on the file system below it: it cannot be backed up through a private view",
                    from.display(),
                    rel.display()
                );
            }
            let hidden = hidden_below(&at, rel)?;
            if !hidden.is_empty() {
                log::warn!(
                    "{} entries on the file system below {} lie hidden under its mount point and are not in the backup (unmount {0} to see them, and move them): {}",
                    hidden.len(),
                    from.display(),
                    hidden.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
                );
            }
            // Private before anything is mounted below it: a bind of a
            // shared mount would pass those mounts back to the host's.
            view.mount_cmd(&["--bind", "--make-private", &s(&from), &s(&at)])?;
            view.mount_cmd(&["-o", "remount,bind,ro", &s(&at)])?;
        }
        Ok(view)
    }

    fn mount_cmd(&self, args: &[&str]) -> Result<()> {
        self.exec
            .run(&Call::new("mount").args(args.iter().copied()))
            .with_context(|| {
                format!(
                    "mount the private view of the backup at {}",
                    self.dir.display()
                )
            })?;
        Ok(())
    }

    /// Unmounts everything below the view's directory, and it; quiet when
    /// nothing is mounted there.
    fn unmount(&self) {
        if !self.dir.is_dir() {
            return;
        }
        let dir = s(&self.dir);
        let done = self
            .exec
            .output(&Call::new("umount").args(["--recursive", &dir]));
        if done.is_ok_and(|o| o.code != 0) {
            // Busy (a tool's straggling child): detach now, freed when idle.
            let _ = self
                .exec
                .output(&Call::new("umount").args(["--recursive", "--lazy", &dir]));
        }
    }
}

impl Drop for View<'_> {
    fn drop(&mut self) {
        self.unmount();
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// What the directory `at` holds (before a file system is mounted on it),
/// as paths below `rel`; `.` holds nothing hidden.
fn hidden_below(at: &Path, rel: &Path) -> Result<Vec<String>> {
    if rel == Path::new(".") {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = fs::read_dir(at)
        .with_context(|| format!("list {}", at.display()))?
        .filter_map(|e| e.ok())
        .map(|e| format!("/{}", rel.join(e.file_name()).display()))
        .collect();
    names.sort();
    Ok(names)
}
