//! `format`: what decides whether a disk may become a rescue disk, the
//! question, and the call to `rear_builder::media::usb::format`.

use crate::layoutcmd::blkid_probe;
use crate::say;
use anyhow::{bail, Context, Result};
use rear_builder::media::usb;
use rear_exec::{Exec, System};
use rear_layout::plan::PresentDisk;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Why a disk may not be formatted; `force` overrides the soft ones.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    pub forceable: bool,
}

/// What `target` is: a whole block device (its kernel name) or a file.
enum Target {
    Disk(String),
    File,
}

fn target(p: &Path) -> Result<Target> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(p).with_context(|| format!("{}: cannot use it", p.display()))?;
    if meta.is_file() {
        return Ok(Target::File);
    }
    if !meta.file_type().is_block_device() {
        bail!("{} is neither a disk nor a disk image file", p.display());
    }
    let rdev = meta.rdev();
    let majmin = format!("{}:{}", libc::major(rdev), libc::minor(rdev));
    let sys = std::fs::canonicalize(format!("/sys/dev/block/{majmin}"))
        .with_context(|| format!("{}: not in /sys/dev/block", p.display()))?;
    if sys.join("partition").exists() {
        let disk = sys
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| format!("/dev/{}", n.to_string_lossy()))
            .unwrap_or_default();
        bail!(
            "{} is a partition: give the whole disk ({disk}); format erases all of it",
            p.display()
        );
    }
    Ok(Target::Disk(
        sys.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    ))
}

/// What a rescue disk's partitions hold (a disk formatted before): not a
/// reason to refuse.
fn ours(holding: &str) -> bool {
    ["vfat on ", "ext4 on "]
        .iter()
        .any(|p| holding.starts_with(p))
}

/// The refusals for the disk `d` (found through sysfs), `removable` as
/// sysfs says, `root_disks` the disks the running system's `/` is on, and
/// `labels` the file system labels on it.
pub fn refusals(
    d: &PresentDisk,
    removable: bool,
    root_disks: &[String],
    labels: &[String],
) -> Vec<Refusal> {
    let mut out = Vec::new();
    let name = d.device.trim_start_matches("/dev/");
    if root_disks.iter().any(|r| r == name) {
        out.push(Refusal {
            why: format!("{} holds the running system (/ is on it)", d.device),
            forceable: false,
        });
    }
    if let Some(u) = &d.in_use {
        out.push(Refusal {
            why: u.clone(),
            forceable: false,
        });
    }
    let rescue_disk = labels.iter().any(|l| l == usb::DATA_LABEL);
    let foreign: Vec<&String> = d
        .holds
        .iter()
        .filter(|h| !(h.ends_with("partition table") || rescue_disk && ours(h)))
        .collect();
    if !foreign.is_empty() {
        out.push(Refusal {
            why: format!(
                "{} holds {}: not a rescue disk made by rear-build format",
                d.device,
                foreign
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            forceable: true,
        });
    }
    if !removable {
        out.push(Refusal {
            why: format!(
                "{} is not a removable disk (not on USB, no removable flag): is it a system's disk?",
                d.device
            ),
            forceable: true,
        });
    }
    out
}

/// The disks (kernel names) the running system's `/` is on.
fn root_disks() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let source = info.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let sep = f.iter().position(|x| *x == "-")?;
        (f.get(4) == Some(&"/")).then(|| f.get(sep + 2).map(|s| s.to_string()))?
    });
    source
        .and_then(|s| rear_layout::apply::Resolver::default().disks(&s))
        .map(|d| d.into_iter().collect())
        .unwrap_or_default()
}

/// `rear-build format DEVICE`.
pub fn format(device: &Path, yes: bool, force: bool) -> Result<i32> {
    let (bytes, describe, refused) = match target(device)? {
        Target::File => {
            let bytes = std::fs::metadata(device)
                .with_context(|| format!("stat {}", device.display()))?
                .len();
            // A file: nothing mounts it or boots from it; what is in it
            // still counts.
            let d = PresentDisk {
                device: device.display().to_string(),
                size: bytes,
                ..file_contents(device)?
            };
            let labels = labels(device);
            let r = refusals(&d, true, &[], &labels);
            (bytes, format!("the disk image file {}", d.describe()), r)
        }
        Target::Disk(name) => {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
            let d = rear_layout::present::scan_named(
                Path::new("/sys"),
                std::slice::from_ref(&name),
                &blkid_probe,
                &mountinfo,
                &swaps,
            )
            .pop()
            .with_context(|| format!("{}: no such disk in /sys/block", device.display()))?;
            let sys = PathBuf::from("/sys/block").join(&name);
            let removable = std::fs::read_to_string(sys.join("removable"))
                .is_ok_and(|s| s.trim() == "1")
                || std::fs::canonicalize(&sys).is_ok_and(|p| p.to_string_lossy().contains("/usb"));
            let labels = labels(device);
            let r = refusals(&d, removable, &root_disks(), &labels);
            (d.size, d.describe(), r)
        }
    };
    let hard: Vec<&Refusal> = refused.iter().filter(|r| !r.forceable).collect();
    let soft: Vec<&Refusal> = refused.iter().filter(|r| r.forceable).collect();
    if !hard.is_empty() || (!soft.is_empty() && !force) {
        let mut msg = format!("refusing to format {}:", device.display());
        for r in &hard {
            msg += &format!("\n  {}", r.why);
        }
        for r in &soft {
            msg += &format!("\n  {} (--force to erase it anyway)", r.why);
        }
        bail!(msg);
    }
    for r in &soft {
        log::warn!("{} (--force: erasing it anyway)", r.why);
    }
    if !yes && !confirm(&describe)? {
        bail!("not confirmed: {} left as it was", device.display());
    }
    let (kernel, _) = rear_builder::kernel::choose(&Default::default(), Path::new("/"))
        .context("find the kernel whose signature decides the Secure Boot path")?;
    let id = usb::format(device, bytes, &kernel.image, &System)?;
    say!(
        "{} is a rescue disk (id {id}): BIOS boot, REAR-EFI and {} partitions, GRUB for BIOS and UEFI; add images with `rear-build image --media usb --usb-device {}`",
        device.display(),
        usb::DATA_LABEL,
        device.display()
    );
    Ok(0)
}

/// What a disk image file holds, as blkid sees its partitions.
fn file_contents(file: &Path) -> Result<PresentDisk> {
    let mut holds = Vec::new();
    let whole = blkid_probe(&file.display().to_string()).map_err(|e| anyhow::anyhow!(e))?;
    for l in whole.lines() {
        match l.split_once('=') {
            Some(("PTTYPE", v)) => holds.push(format!("{v} partition table")),
            Some(("TYPE", v)) => holds.push(v.to_string()),
            _ => {}
        }
    }
    for (i, p) in usb::partitions(file, &System)?.iter().enumerate() {
        for l in probe_at(file, p)?.lines() {
            if let Some(("TYPE", v)) = l.split_once('=') {
                holds.push(format!("{v} on partition {}", i + 1));
            }
        }
    }
    Ok(PresentDisk {
        holds,
        ..Default::default()
    })
}

/// blkid's findings in partition `p` of `disk`.
fn probe_at(disk: &Path, p: &usb::Partition) -> Result<String> {
    let out = System
        .output(
            &rear_exec::Call::new("blkid")
                .args(["-p", "-o", "export", "-O"])
                .arg(p.start.to_string())
                .arg("-S")
                .arg(p.size.to_string())
                .arg(disk),
        )
        .with_context(|| format!("probe {}", disk.display()))?;
    match out.code {
        0 => Ok(out.stdout),
        2 if out.stderr.trim().is_empty() => Ok(String::new()),
        code => bail!(
            "blkid could not probe {} at {} (exit {code}: {})",
            disk.display(),
            p.start,
            out.stderr.trim()
        ),
    }
}

/// The file system labels in the partitions of `disk`; none when it
/// cannot be read (then what it holds is not taken for a rescue disk's).
fn labels(disk: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in usb::partitions(disk, &System).unwrap_or_default() {
        for l in probe_at(disk, &p).unwrap_or_default().lines() {
            if let Some(("LABEL", v)) = l.split_once('=') {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// Asks on the terminal; anything but YES (or no terminal) is a no.
fn confirm(describe: &str) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "not on a terminal, so nobody can confirm: run with --yes to erase it without asking"
        );
    }
    let mut err = std::io::stderr();
    writeln!(
        err,
        "This disk will be erased (all it holds is lost):\n  {describe}"
    )?;
    write!(err, "Type YES to go on: ")?;
    err.flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim() == "YES")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(holds: &[&str], in_use: Option<&str>) -> PresentDisk {
        PresentDisk {
            device: "/dev/sdb".into(),
            size: 8 << 30,
            holds: holds.iter().map(|s| s.to_string()).collect(),
            in_use: in_use.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_blank_or_rescue_disk_that_is_removable_and_unused_goes_without_force() {
        assert!(refusals(&disk(&[], None), true, &[], &[]).is_empty());
        // A rescue disk formatted before.
        let again = disk(
            &[
                "gpt partition table",
                "vfat on /dev/sdb2",
                "ext4 on /dev/sdb3",
            ],
            None,
        );
        assert!(refusals(&again, true, &[], &["REAR-EFI".into(), "REAR-000".into()]).is_empty());
        // The same file systems under other labels: someone's data.
        let r = refusals(&again, true, &[], &["DATA".into()]);
        assert_eq!(r.len(), 1);
        assert!(
            r[0].forceable && r[0].why.contains("ext4 on /dev/sdb3"),
            "{r:?}"
        );
        let r = refusals(&disk(&["LVM2_member on /dev/sdb1"], None), true, &[], &[]);
        assert!(r[0].forceable && r[0].why.contains("LVM2_member"), "{r:?}");
        let r = refusals(&disk(&[], None), false, &[], &[]);
        assert!(
            r[0].forceable && r[0].why.contains("not a removable"),
            "{r:?}"
        );
        // Never, even with --force.
        let r = refusals(
            &disk(&[], Some("/dev/sdb1 is mounted at /mnt")),
            true,
            &[],
            &[],
        );
        assert!(!r[0].forceable && r[0].why.contains("mounted"), "{r:?}");
        let r = refusals(&disk(&[], None), true, &["sdb".into()], &[]);
        assert!(
            !r[0].forceable && r[0].why.contains("running system"),
            "{r:?}"
        );
    }
}
