//! The EFI system partition image: FAT made by `mkfs.fat --invariant`
//! with a serial from the image's id, filled by mtools from a staged tree
//! whose times are set (no loop mount, no root). mtools writes local
//! time, hence `TZ=UTC`; FAT cannot hold dates before 1980, so earlier
//! epochs are written as 1980-01-01.

use anyhow::{Context, Result};
use rear_exec::{Call, Exec};
use std::path::{Path, PathBuf};

/// 1980-01-01 00:00:00 UTC, FAT's first date.
const FAT_EPOCH: u64 = 315_532_800;

/// Makes `out`, a FAT image labelled `label` holding `EFI/BOOT/NAME` for
/// each (NAME, source) of `files`, staged in `scratch`.
pub fn esp(
    files: &[(String, PathBuf)],
    label: &str,
    id: &str,
    epoch: u64,
    out: &Path,
    scratch: &Path,
    exec: &dyn Exec,
) -> Result<()> {
    let stage = scratch.join("esp");
    let boot = stage.join("EFI/BOOT");
    std::fs::create_dir_all(&boot).with_context(|| format!("create {}", boot.display()))?;
    let mut bytes = 0;
    for (name, src) in files {
        let to = boot.join(name);
        bytes += std::fs::copy(src, &to)
            .with_context(|| format!("copy {} to {}", src.display(), to.display()))?;
    }
    super::set_times(&stage, epoch.max(FAT_EPOCH))?;
    // Room for the files, the FAT and the directories, in whole MiB.
    let kib = (bytes / 1024 + 1024).div_ceil(1024) * 1024;
    let serial = &format!("{id:0<8}")[..8];
    let utc = |c: Call| c.env("TZ", "UTC");
    exec.run(&utc(Call::new("mkfs.fat")
        .args(["--invariant", "-i", serial, "-n", label, "-C"])
        .arg(out)
        .arg(kib.to_string())))
        .context("make the EFI system partition image (apt-get install dosfstools)")?;
    exec.run(&utc(Call::new("mcopy")
        .args(["-s", "-m", "-i"])
        .arg(out)
        .arg(stage.join("EFI"))
        .arg("::/")))
        .context("fill the EFI system partition image (apt-get install mtools)")?;
    Ok(())
}
