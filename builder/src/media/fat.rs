//! FAT images (the EFI system partitions): made by `mkfs.fat --invariant`
//! with a serial from the image's id, filled by mtools from a staged tree
//! whose times are set (no loop mount, no root). mtools writes local
//! time, hence `TZ=UTC`; FAT cannot hold dates before 1980, so earlier
//! epochs are written as 1980-01-01.

use anyhow::{Context, Result};
use rear_exec::{Call, Exec};
use std::path::Path;

/// 1980-01-01 00:00:00 UTC, FAT's first date.
const FAT_EPOCH: u64 = 315_532_800;

/// From this size on, FAT32 (what firmware expects of a disk's ESP);
/// below, mkfs.fat's choice (FAT12/16 for the small ESP of an ISO).
const FAT32_FROM_KIB: u64 = 64 * 1024;

/// The size of a FAT image holding `tree`, in KiB (whole MiB): the files
/// rounded up to clusters, the directories, the FATs, and room to spare.
pub fn size_kib(tree: &Path) -> Result<u64> {
    let mut bytes = 0u64;
    let mut stack = vec![tree.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).with_context(|| format!("stat {}", p.display()))?;
        bytes += meta.len().div_ceil(4096) * 4096;
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).with_context(|| format!("list {}", p.display()))? {
                stack.push(e.with_context(|| format!("list {}", p.display()))?.path());
            }
        }
    }
    let kib = bytes / 1024 + bytes / 1024 / 32 + 1024;
    Ok(kib.div_ceil(1024) * 1024)
}

/// Makes `out`, a FAT image labelled `label` of `kib` KiB (at least what
/// `tree` needs) holding what `tree` holds.
pub fn image(
    tree: &Path,
    label: &str,
    id: &str,
    epoch: u64,
    kib: Option<u64>,
    out: &Path,
    exec: &dyn Exec,
) -> Result<()> {
    super::set_times(tree, epoch.max(FAT_EPOCH))?;
    let kib = kib.unwrap_or(0).max(size_kib(tree)?);
    let serial = &format!("{id:0<8}")[..8];
    let utc = |c: Call| c.env("TZ", "UTC");
    let mut mkfs = Call::new("mkfs.fat").args(["--invariant", "-i", serial, "-n", label]);
    if kib >= FAT32_FROM_KIB {
        mkfs = mkfs.args(["-F", "32"]);
    }
    exec.run(&utc(mkfs.arg("-C").arg(out).arg(kib.to_string())))
        .context("make a FAT file system image (apt-get install dosfstools)")?;
    // Directory by directory, names sorted: the FAT's entries come in
    // the order they are copied, and readdir's order is the host's.
    let (dirs, files) = walk(tree)?;
    // Each directory is copied empty (with -m, so with its time: mmd would
    // date it now), from a directory of its own outside `tree`.
    let shells = tree.with_extension("dirs");
    for (i, d) in dirs.iter().enumerate() {
        let (parent, name) = d.rsplit_once('/').unwrap_or(("", d));
        let shell = shells.join(i.to_string()).join(name);
        std::fs::create_dir_all(&shell).with_context(|| format!("create {}", shell.display()))?;
        super::set_times(&shell, epoch.max(FAT_EPOCH))?;
        exec.run(&utc(Call::new("mcopy")
            .args(["-s", "-m", "-i"])
            .arg(out)
            .arg(&shell)
            .arg(format!("::/{parent}"))))
            .context("make a directory in a FAT image (apt-get install mtools)")?;
    }
    for (dir, names) in files {
        let mut copy = Call::new("mcopy").args(["-m", "-i"]).arg(out);
        for n in &names {
            copy = copy.arg(tree.join(&dir).join(n));
        }
        exec.run(&utc(copy.arg(format!("::/{dir}"))))
            .context("fill a FAT image (apt-get install mtools)")?;
    }
    Ok(())
}

/// The directories below `tree` (parents first) and the files of each
/// directory (`""` for the top), names sorted.
type Files = std::collections::BTreeMap<String, Vec<String>>;
fn walk(tree: &Path) -> Result<(Vec<String>, Files)> {
    let mut dirs = Vec::new();
    let mut files = Files::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let p = tree.join(&rel);
        let mut names = Vec::new();
        for e in std::fs::read_dir(&p).with_context(|| format!("list {}", p.display()))? {
            let e = e.with_context(|| format!("list {}", p.display()))?;
            names.push((
                e.file_name().to_string_lossy().into_owned(),
                e.path().is_dir(),
            ));
        }
        names.sort();
        let mut subdirs = Vec::new();
        for (n, is_dir) in names {
            let child = if rel.is_empty() {
                n.clone()
            } else {
                format!("{rel}/{n}")
            };
            if is_dir {
                dirs.push(child.clone());
                subdirs.push(child);
            } else {
                files.entry(rel.clone()).or_default().push(n);
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok((dirs, files))
}
