//! GNU tar (ReaR's NETFS method): xattrs, ACLs, SELinux labels, sparse
//! files, numeric owners, one file system per path, zstd.

use crate::{sums, Backend, Exec, Made, Spec};
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

pub const ARCHIVE: &str = "backup.tar.zst";
pub const SUMS: &str = "backup.sums";

pub struct Tar;

/// The options both directions share, so what is saved is what comes back.
const METADATA: &[&str] = &[
    "--xattrs",
    "--xattrs-include=*",
    "--acls",
    "--selinux",
    "--numeric-owner",
];

impl Backend for Tar {
    fn name(&self) -> &'static str {
        "tar"
    }

    fn backup(&self, spec: &Spec, dir: &Path, exec: &dyn Exec) -> Result<Made> {
        let part = dir.join(format!("{ARCHIVE}.partial"));
        let part_sums = dir.join(format!("{SUMS}.partial"));
        let _ = fs::remove_file(&part);
        let _ = fs::remove_file(&part_sums);
        // The manifest first: it is the reference a restore is checked with.
        let entries = sums::collect(&spec.root, &spec.paths, &spec.exclude)?;
        sums::write(&entries, &part_sums)?;
        let mut argv: Vec<String> = vec![
            "tar".into(),
            "--create".into(),
            "--zstd".into(),
            "--sparse".into(),
            "--one-file-system".into(),
        ];
        argv.extend(METADATA.iter().map(|s| s.to_string()));
        argv.push(format!("--file={}", part.display()));
        argv.push(format!("--directory={}", spec.root.display()));
        for x in &spec.exclude {
            argv.push(format!("--exclude=./{}", x.display()));
        }
        // The target itself must never go into the backup.
        if let Ok(rel) = dir.strip_prefix(&spec.root) {
            argv.push(format!("--exclude=./{}", rel.display()));
        }
        argv.push("--".into());
        for p in &spec.paths {
            argv.push(
                format!("./{}", p.display())
                    .replace("/./", "/")
                    .trim_end_matches("/.")
                    .to_string(),
            );
        }
        let (code, stderr) = exec
            .status(&argv)
            .context("tar could not make the backup; the previous backup is kept")?;
        if code > 1 {
            anyhow::bail!(
                "tar could not make the backup; the previous backup is kept: tar exited {code}: {}",
                stderr.trim()
            );
        }
        // A live system changes while it is backed up: what tar saw change
        // (its exit 1) and what differs from a second look afterwards is
        // archived, but left out of the manifest, as it cannot be verified.
        let mut changed = changed_paths(&stderr);
        if code == 1 && changed.is_empty() {
            anyhow::bail!(
                "tar could not make the backup; the previous backup is kept: tar exited 1: {}",
                stderr.trim()
            );
        }
        let again: std::collections::BTreeMap<String, sums::Entry> =
            sums::collect(&spec.root, &spec.paths, &spec.exclude)?
                .into_iter()
                .map(|e| (e.path.clone(), e))
                .collect();
        for e in &entries {
            if again.get(&e.path) != Some(e) {
                changed.insert(e.path.clone());
            }
        }
        if !changed.is_empty() {
            log::warn!(
                "{} files changed while they were backed up; they are in the backup but left out of its manifest, so a restore cannot verify them: {}",
                changed.len(),
                changed.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
            );
            let kept: Vec<sums::Entry> = entries
                .iter()
                .filter(|e| !changed.contains(&e.path))
                .cloned()
                .collect();
            sums::write(&kept, &part_sums)?;
        }
        let bytes = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        // Archive first, manifest last: a manifest beside an archive means both are whole.
        fs::rename(&part, dir.join(ARCHIVE))
            .with_context(|| format!("rename {}", part.display()))?;
        fs::rename(&part_sums, dir.join(SUMS))
            .with_context(|| format!("rename {}", part_sums.display()))?;
        Ok(Made {
            archive: dir.join(ARCHIVE),
            sums: dir.join(SUMS),
            files: entries.len(),
            bytes,
        })
    }

    fn restore(&self, dir: &Path, root: &Path, exec: &dyn Exec) -> Result<()> {
        let archive = dir.join(ARCHIVE);
        if !archive.is_file() {
            anyhow::bail!("no backup at {}", archive.display());
        }
        let mut argv: Vec<String> = vec![
            "tar".into(),
            "--extract".into(),
            "--zstd".into(),
            "--preserve-permissions".into(),
            "--same-owner".into(),
        ];
        argv.extend(METADATA.iter().map(|s| s.to_string()));
        argv.push(format!("--file={}", archive.display()));
        argv.push(format!("--directory={}", root.display()));
        exec.run(&argv)
            .context("tar could not restore the backup")?;
        Ok(())
    }
}

/// The paths (relative, as in the manifest) of tar's "file changed as we
/// read it" warnings.
fn changed_paths(stderr: &str) -> std::collections::BTreeSet<String> {
    stderr
        .lines()
        .filter_map(|l| {
            l.strip_prefix("tar: ")?
                .strip_suffix(": file changed as we read it")
        })
        .map(|p| {
            let p = p.trim_start_matches("./");
            if p == "." {
                String::new()
            } else {
                p.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn changed_paths_are_relative_manifest_paths() {
        let got = super::changed_paths(
            "tar: ./sys: file changed as we read it\ntar: ./var/log/syslog: file changed as we read it\ntar: Removing leading `/'\n",
        );
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            ["sys", "var/log/syslog"]
        );
    }
}
