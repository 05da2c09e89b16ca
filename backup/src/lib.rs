//! Backups: where they go (`Target`), the methods that make and restore
//! them (one file each behind `Backend`), and the checksum manifest every
//! backup carries (`sums`).
//!
//! A backup is written under a temporary name and renamed only when it is
//! complete and its manifest is written, so an interrupted run never
//! replaces the previous good backup.

pub mod sums;
pub mod tar;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Runs external commands (the caller's runner: logs the command line,
/// captures stderr, keeps secrets off argv).
pub trait Exec {
    /// Runs to completion; stdout, or an error on a non-zero exit.
    fn run(&self, argv: &[String]) -> Result<String>;
    /// Runs to completion; the exit code and stderr, whatever the code
    /// (for tools whose exit 1 is a warning, like tar's "file changed").
    fn status(&self, argv: &[String]) -> Result<(i32, String)>;
}

/// What to back up: file systems (mount points) below `root`.
#[derive(Clone, Debug)]
pub struct Spec {
    /// `/` normally; the backup's paths are relative to it.
    pub root: PathBuf,
    /// Mount points relative to root (`.` for root itself, `boot`, `home`),
    /// each backed up without crossing into other file systems.
    pub paths: Vec<PathBuf>,
    /// Paths relative to root never backed up.
    pub exclude: Vec<PathBuf>,
}

/// Where backups live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A directory.
    File(PathBuf),
    /// A disk with a file system labelled `label` (ReaR's `REAR-000`),
    /// mounted for the backup.
    Usb { label: String },
}

impl Target {
    /// `file:///srv/backup`, `usb://REAR-000` or `usb:///dev/disk/by-label/REAR-000`.
    pub fn parse(url: &str) -> Result<Target> {
        if let Some(p) = url.strip_prefix("file://") {
            if !p.starts_with('/') {
                bail!("{url}: a file:// target needs an absolute path, as in file:///srv/backup");
            }
            return Ok(Target::File(PathBuf::from(p)));
        }
        if let Some(rest) = url.strip_prefix("usb://") {
            let label = rest.strip_prefix("/dev/disk/by-label/").unwrap_or(rest);
            if label.is_empty() || label.contains('/') {
                bail!("{url}: a usb:// target names a file-system label, as in usb://REAR-000");
            }
            return Ok(Target::Usb {
                label: label.into(),
            });
        }
        bail!("{url}: unsupported backup target; use file:///DIR or usb://LABEL (sftp, nfs and cifs are not supported yet)")
    }

    /// The directory backups go to, mounting the target first if needed.
    pub fn open(&self, exec: &dyn Exec, host: &str) -> Result<PathBuf> {
        let dir = match self {
            Target::File(p) => p.clone(),
            Target::Usb { label } => {
                let mnt = PathBuf::from("/run/rear-build/target");
                std::fs::create_dir_all(&mnt)
                    .with_context(|| format!("create {}", mnt.display()))?;
                let mounted = std::fs::read_to_string("/proc/self/mounts")
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l.split(' ').nth(1) == Some("/run/rear-build/target"));
                if !mounted {
                    let dev = exec
                        .run(&["blkid".into(), "-L".into(), label.clone()])
                        .with_context(|| format!("no file system labelled {label} (format a disk with `mkfs.ext4 -L {label}`)"))?;
                    exec.run(&[
                        "mount".into(),
                        dev.trim().into(),
                        mnt.to_string_lossy().into(),
                    ])?;
                }
                mnt.join("rear").join(host)
            }
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("create backup directory {}", dir.display()))?;
        Ok(dir)
    }
}

/// What a backup run made.
#[derive(Clone, Debug)]
pub struct Made {
    pub archive: PathBuf,
    pub sums: PathBuf,
    pub files: usize,
    pub bytes: u64,
}

/// A backup method.
pub trait Backend {
    fn name(&self) -> &'static str;
    /// Backs up `spec` into `dir`, replacing the previous backup only when complete.
    fn backup(&self, spec: &Spec, dir: &Path, exec: &dyn Exec) -> Result<Made>;
    /// Restores the backup in `dir` below `root`.
    fn restore(&self, dir: &Path, root: &Path, exec: &dyn Exec) -> Result<()>;
}

/// Restores and then checks every file against the backup's manifest.
pub fn restore_and_verify(
    b: &dyn Backend,
    dir: &Path,
    root: &Path,
    exec: &dyn Exec,
) -> Result<usize> {
    let sums_file = dir.join(tar::SUMS);
    let expected = sums::read(&sums_file).with_context(|| {
        format!("the backup in {} has no checksum manifest: it is incomplete or not a rear-build backup", dir.display())
    })?;
    b.restore(dir, root, exec)?;
    let bad = sums::verify(root, &expected);
    if !bad.is_empty() {
        let shown: Vec<&String> = bad.iter().take(20).collect();
        bail!(
            "the restored files differ from the backup's manifest in {} places, e.g.:\n  {}",
            bad.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    Ok(expected.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("file:///srv/b").unwrap(),
            Target::File("/srv/b".into())
        );
        assert_eq!(
            Target::parse("usb://REAR-000").unwrap(),
            Target::Usb {
                label: "REAR-000".into()
            }
        );
        assert_eq!(
            Target::parse("usb:///dev/disk/by-label/REAR-000").unwrap(),
            Target::Usb {
                label: "REAR-000".into()
            }
        );
        for bad in [
            "file://relative",
            "usb://",
            "ftp://x",
            "nfs://server/export",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
