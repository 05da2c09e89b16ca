//! A private view of the file systems a backup reads or a restore writes:
//! each one bind-mounted alone (not recursively) in a directory of its own,
//! side by side (`%2F` for `/`, `%2Fhome` for `/home`: [`unit`]). Through
//! it a backup holds exactly each file system's own content: the
//! directories other file systems are mounted on, with their own modes
//! (`/proc` is 0755 on the root file system, 0555 once procfs is on it),
//! and what lies hidden under a mount point (files written to `/home`
//! before `/home` was mounted). A restore writes the same way into the
//! recreated file systems, so each file goes back onto the file system it
//! came from.
//!
//! A manifest whose paths all lie in such directories is a backup made
//! through a view ([`units`]); older backups, and backups of a plain
//! directory, name paths relative to the root and are restored there.

use crate::{Call, Exec};
use anyhow::{bail, Context, Result};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// Where `mkbackup` mounts the view (with `.PID` added: [`View::mount`]).
pub const DIR: &str = "/run/rear-build/view";

/// Where a restore mounts its view (with `.PID` added).
pub const RESTORE_DIR: &str = "/run/rear-build/restore";

/// `base.PID` for this process: two runs at once each have their own view,
/// and neither takes the other's for one a killed run left.
fn own(base: &Path) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{}", std::process::id()));
    PathBuf::from(name)
}

/// The views below `base`'s directory that runs no longer alive left:
/// `base` itself (a fixed name, before views were per process) and
/// `base.PID` of a PID that has no process.
fn stale(base: &Path) -> Vec<PathBuf> {
    let (Some(parent), Some(name)) = (base.parent(), base.file_name()) else {
        return Vec::new();
    };
    let Ok(list) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let prefix = [name.as_bytes(), b"."].concat();
    let mut out: Vec<PathBuf> = list
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            if n == name {
                return true;
            }
            let Some(pid) = n.as_bytes().strip_prefix(prefix.as_slice()) else {
                return false;
            };
            std::str::from_utf8(pid)
                .ok()
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|p| {
                    p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists()
                })
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// The mounted view; dropping it unmounts it.
pub struct View<'a> {
    pub dir: PathBuf,
    exec: &'a dyn Exec,
}

/// The directory of the view that holds the file system mounted at `rel`
/// (relative to the root, `.` for the root itself): its mount point with
/// `%` written `%25` and `/` written `%2F`, so `/` is `%2F`.
pub fn unit(rel: &Path) -> OsString {
    let mut out = b"%2F".to_vec();
    for (i, c) in normal(rel).iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"%2F");
        }
        for &b in c.as_bytes() {
            match b {
                b'%' => out.extend_from_slice(b"%25"),
                b => out.push(b),
            }
        }
    }
    OsString::from_vec(out)
}

/// The mount point (relative, `.` for the root) a [`unit`] name stands
/// for; None for a name that is not one.
pub fn mount_of(unit: &OsStr) -> Option<PathBuf> {
    let rest = unit.as_bytes().strip_prefix(b"%2F")?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match &rest[i..] {
            [b'%', b'2', b'F', ..] => out.push(b'/'),
            [b'%', b'2', b'5', ..] => out.push(b'%'),
            [b'%', ..] | [b'/', ..] => return None,
            [b, ..] => {
                out.push(*b);
                i += 1;
                continue;
            }
            [] => unreachable!(),
        }
        i += 3;
    }
    if out.is_empty() {
        return Some(PathBuf::from("."));
    }
    let p = PathBuf::from(OsString::from_vec(out));
    // Only what `unit` writes: a normal relative path.
    (unit.as_bytes() == self::unit(&p).as_bytes()).then_some(p)
}

/// The components of a relative path, without `.`.
fn normal(rel: &Path) -> Vec<&OsStr> {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Where the path `rel` (relative to the root) is in a view of `mounts`:
/// below the directory of the deepest mount point that holds it. None when
/// no mount point holds it.
pub fn place(mounts: &[PathBuf], rel: &Path) -> Option<PathBuf> {
    let rel = normal(rel);
    mounts
        .iter()
        .map(|m| (m, normal(m)))
        .filter(|(_, m)| rel.starts_with(m))
        .max_by_key(|(_, m)| m.len())
        .map(|(m, parts)| {
            let mut p = PathBuf::from(unit(m));
            p.extend(&rel[parts.len()..]);
            p
        })
}

/// The unit names of a manifest made through a view (sorted); None when
/// its paths are relative to the root (made without a view).
pub fn units(entries: &[crate::sums::Entry]) -> Option<Vec<OsString>> {
    let mut out = std::collections::BTreeSet::new();
    for e in entries {
        let p = crate::sums::decode(&e.path);
        let name = p.components().next()?.as_os_str().to_os_string();
        mount_of(&name)?;
        out.insert(name);
    }
    (!out.is_empty()).then(|| out.into_iter().collect())
}

/// A manifest path as the operator knows it: `/home/x` for `%2Fhome/x`;
/// a path relative to the root as it is.
pub fn shown(path: &str) -> String {
    let (first, rest) = path.split_once('/').unwrap_or((path, ""));
    match mount_of(OsStr::new(first)) {
        Some(m) => {
            let m = match m.to_string_lossy().as_ref() {
                "." => String::new(),
                m => format!("/{m}"),
            };
            match rest {
                "" if m.is_empty() => "/".to_string(),
                "" => m,
                rest => format!("{m}/{rest}"),
            }
        }
        None => path.to_string(),
    }
}

impl<'a> View<'a> {
    /// Mounts `root/path` for each of `paths` (relative, `.` for root
    /// itself) read-only at `base.PID/unit(path)`, for a backup.
    pub fn mount(
        root: &Path,
        paths: &[PathBuf],
        base: &Path,
        exec: &'a dyn Exec,
    ) -> Result<View<'a>> {
        let view = View::empty(base, exec)?;
        for rel in paths {
            let from = root.join(rel);
            if !from.is_dir() {
                bail!(
                    "{} is not a directory: it cannot be backed up",
                    from.display()
                );
            }
            view.bind(&from, &unit(rel), true)?;
        }
        Ok(view)
    }

    /// Mounts `root/mount_of(unit)` for each of `units` read-write at
    /// `base.PID/unit`, for a restore into the file systems mounted below
    /// `root`; a mount point not there yet is made.
    pub fn restore(
        root: &Path,
        units: &[OsString],
        base: &Path,
        exec: &'a dyn Exec,
    ) -> Result<View<'a>> {
        let view = View::empty(base, exec)?;
        for u in units {
            let rel = mount_of(u).with_context(|| format!("{u:?} names no mount point"))?;
            let to = root.join(&rel);
            fs::create_dir_all(&to).with_context(|| format!("create {}", to.display()))?;
            view.bind(&to, u, false)?;
        }
        Ok(view)
    }

    /// The view's directory `base.PID`, private: nothing mounted below it
    /// propagates to the host's mounts, or theirs to it.
    fn empty(base: &Path, exec: &'a dyn Exec) -> Result<View<'a>> {
        // What killed runs left mounted goes first.
        for dir in stale(base) {
            drop(View { dir, exec });
        }
        let dir = &own(base);
        let view = View {
            dir: dir.to_path_buf(),
            exec,
        };
        view.unmount();
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        crate::generation::private(dir, 0o700)?;
        view.mount_cmd(&["--bind", &s(dir), &s(dir)])?;
        view.mount_cmd(&["--make-private", &s(dir)])?;
        Ok(view)
    }

    fn bind(&self, from: &Path, name: &OsStr, read_only: bool) -> Result<()> {
        let at = self.dir.join(name);
        fs::create_dir(&at).with_context(|| format!("create {}", at.display()))?;
        // Private before anything is mounted below it: a bind of a shared
        // mount would pass those mounts back to the host's.
        self.mount_cmd(&["--bind", "--make-private", &s(from), &s(&at)])?;
        if read_only {
            self.mount_cmd(&["-o", "remount,bind,ro", &s(&at)])?;
        }
        Ok(())
    }

    fn mount_cmd(&self, args: &[&str]) -> Result<()> {
        self.exec
            .run(&Call::new("mount").args(args.iter().copied()))
            .with_context(|| format!("mount the private view at {}", self.dir.display()))?;
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
        // The unit directories the view made, now empty (never anything
        // that is not: a mount still there would lose its files).
        if let Ok(list) = fs::read_dir(&self.dir) {
            for e in list.flatten() {
                let _ = fs::remove_dir(e.path());
            }
        }
        let _ = fs::remove_dir(&self.dir);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_stale_only_when_its_process_is_gone() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("view");
        let me = std::process::id();
        for n in [
            "view".to_string(),
            "view.1".into(),
            format!("view.{me}"),
            "view.4294967295".into(),
            "view.x".into(),
            "viewer".into(),
        ] {
            fs::create_dir(d.path().join(n)).unwrap();
        }
        assert_eq!(
            stale(&base),
            [base.clone(), d.path().join("view.4294967295")]
        );
        assert_eq!(own(&base), d.path().join(format!("view.{me}")));
    }

    #[test]
    fn units_name_mount_points_side_by_side_and_back() {
        for (rel, name) in [
            (".", "%2F"),
            ("home", "%2Fhome"),
            ("var/log", "%2Fvar%2Flog"),
            ("srv/50%", "%2Fsrv%2F50%25"),
            ("a%2Fb", "%2Fa%252Fb"),
        ] {
            assert_eq!(unit(Path::new(rel)), OsStr::new(name), "{rel}");
            assert_eq!(mount_of(OsStr::new(name)), Some(PathBuf::from(rel)));
        }
        for not in [
            "etc",
            "",
            "%2",
            "%2Fa/b",
            "%2F%41",
            "%2F%2F",
            "%2Fa%2F..",
            "%2F.",
        ] {
            assert_eq!(mount_of(OsStr::new(not)), None, "{not}");
        }
    }

    #[test]
    fn a_path_is_placed_below_the_deepest_mount_point_holding_it() {
        let mounts = [".", "var", "var/log"].map(PathBuf::from);
        for (rel, want) in [
            ("etc/passwd", Some("%2F/etc/passwd")),
            ("var/lib/x", Some("%2Fvar/lib/x")),
            ("var/log/syslog", Some("%2Fvar%2Flog/syslog")),
            ("var/log", Some("%2Fvar%2Flog")),
            ("variable", Some("%2F/variable")),
        ] {
            assert_eq!(
                place(&mounts, Path::new(rel)),
                want.map(PathBuf::from),
                "{rel}"
            );
        }
        assert_eq!(place(&[PathBuf::from("srv")], Path::new("etc")), None);
    }

    #[test]
    fn manifest_paths_are_shown_as_the_operator_knows_them() {
        for (path, want) in [
            ("%2F", "/"),
            ("%2F/etc/passwd", "/etc/passwd"),
            ("%2Fhome", "/home"),
            ("%2Fvar%2Flog/syslog", "/var/log/syslog"),
            ("etc/passwd", "etc/passwd"),
        ] {
            assert_eq!(shown(path), want);
        }
    }
}
