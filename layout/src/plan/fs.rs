//! The file-system stage: mkfs with the original UUIDs, labels and
//! attributes, btrfs subvolumes, and swap.

use super::{Ctx, PlanError, Step};
use crate::model::*;

/// Makes each file system; a btrfs with subvolumes gets them, created
/// from its top level mounted under /run/rear-build/btrfs.
pub(super) fn filesystems(cx: &mut Ctx) -> Result<(), PlanError> {
    let layout = cx.layout;
    for fs in &layout.filesystems {
        let dev = cx.r.get(&fs.device);
        let devices: Vec<String> = if fs.devices.is_empty() {
            vec![dev.clone()]
        } else {
            fs.devices.iter().map(|d| cx.r.get(d)).collect()
        };
        let resized = cx.grown.get(&fs.device).is_some_and(|d| *d != 0);
        let a = mkfs_argv(fs, &devices, resized)?;
        let mut writes = Vec::new();
        for d in &devices {
            writes.extend(cx.stack(d));
        }
        cx.push(
            Step::new(
                format!("mkfs:{dev}"),
                format!("make a {} file system on {dev}", fs.fstype),
            )
            .argv(a)
            .writes(writes.clone()),
        );
        if fs.fstype == "btrfs" && !fs.subvolumes.is_empty() {
            subvolumes(cx, fs, &dev, &writes);
        }
    }
    Ok(())
}

/// The subvolumes of the btrfs on `dev` (sorted by path), no copy-on-write
/// where they had it, and the default one.
fn subvolumes(cx: &mut Ctx, fs: &Filesystem, dev: &str, writes: &[String]) {
    let top = format!(
        "/run/rear-build/btrfs/{}",
        dev.trim_start_matches("/dev/").replace('/', "_")
    );
    cx.push(
        Step::new(
            format!("btrfs-top:{dev}"),
            format!("mount the top level of {dev}"),
        )
        .argv(["mkdir", "-p", &top]),
    );
    cx.push(
        Step::new(
            format!("btrfs-mount:{dev}"),
            format!("mount the top level of {dev} at {top}"),
        )
        .argv(["mount", "-t", "btrfs", "-o", "subvolid=5", dev, &top])
        .writes(writes),
    );
    let mut subs: Vec<&Subvolume> = fs.subvolumes.iter().collect();
    subs.sort_by(|a, b| a.path.cmp(&b.path));
    for s in &subs {
        let path = format!("{top}/{}", s.path);
        cx.push(
            Step::new(
                format!("subvol:{dev}:{}", s.path),
                format!("create subvolume {}", s.path),
            )
            .argv(["btrfs", "subvolume", "create", &path])
            .writes(writes),
        );
        if s.nocow {
            cx.push(
                Step::new(
                    format!("nocow:{dev}:{}", s.path),
                    format!("no copy-on-write for {}", s.path),
                )
                .argv(["chattr", "+C", &path])
                .writes(writes),
            );
        }
    }
    if let Some(d) = subs.iter().find(|s| s.default) {
        cx.push(
            Step::new(
                format!("subvol-default:{dev}"),
                format!("make {} the default subvolume", d.path),
            )
            .argv([
                "btrfs",
                "subvolume",
                "set-default",
                &format!("{top}/{}", d.path),
            ])
            .writes(writes),
        );
    }
    cx.push(
        Step::new(format!("btrfs-umount:{dev}"), format!("unmount {top}")).argv(["umount", &top]),
    );
}

/// Makes each swap area with its UUID and label.
pub(super) fn swaps(cx: &mut Ctx) {
    let layout = cx.layout;
    for s in &layout.swaps {
        let dev = cx.r.get(&s.device);
        let mut a = vec!["mkswap".to_string(), "--force".into()];
        if let Some(u) = &s.uuid {
            a.push(format!("--uuid={u}"));
        }
        if let Some(l) = &s.label {
            a.push(format!("--label={l}"));
        }
        a.push(dev.clone());
        let w = cx.stack(&dev);
        cx.push(
            Step::new(format!("mkswap:{dev}"), format!("make swap on {dev}"))
                .argv(a)
                .writes(w),
        );
    }
}

/// mkfs's command line for `fs` on `devices`. `resized`: the device is not
/// the size it was, so ratios are kept, not counts.
pub(super) fn mkfs_argv(
    fs: &Filesystem,
    devices: &[String],
    resized: bool,
) -> Result<Vec<String>, PlanError> {
    let attr = |k: &str| fs.attrs.get(k).filter(|v| !v.is_empty());
    let mut a: Vec<String>;
    match fs.fstype.as_str() {
        "ext2" | "ext3" | "ext4" => {
            a = vec![format!("mkfs.{}", fs.fstype), "-F".into(), "-q".into()];
            if let Some(u) = &fs.uuid {
                a.extend(["-U".into(), u.clone()]);
            }
            if let Some(l) = &fs.label {
                a.extend(["-L".into(), l.clone()]);
            }
            if let Some(v) = attr("block_size") {
                a.extend(["-b".into(), v.clone()]);
            }
            if let Some(v) = attr("inode_size") {
                a.extend(["-I".into(), v.clone()]);
            }
            match (attr("inode_count"), attr("bytes_per_inode")) {
                (Some(n), _) if !resized => a.extend(["-N".into(), n.clone()]),
                (_, Some(v)) => a.extend(["-i".into(), v.clone()]),
                _ => {}
            }
            if let Some(v) = attr("reserved_percent") {
                a.extend(["-m".into(), v.clone()]);
            }
            if let Some(v) = attr("features") {
                // State flags are not features one can ask mkfs for.
                let keep: Vec<&str> = v
                    .split([',', ' '])
                    .filter(|f| {
                        !f.is_empty() && !matches!(*f, "needs_recovery" | "orphan_present" | "mmp")
                    })
                    .collect();
                a.extend(["-O".into(), format!("none,{}", keep.join(","))]);
            }
        }
        "xfs" => {
            a = vec!["mkfs.xfs".into(), "-f".into(), "-q".into()];
            if let Some(l) = &fs.label {
                a.extend(["-L".into(), l.clone()]);
            }
            let mut m = Vec::new();
            if let Some(u) = &fs.uuid {
                m.push(format!("uuid={u}"));
            }
            for k in crate::capture::parse::XFS_FEATURES {
                if let Some(v) = attr(k) {
                    m.push(format!("{k}={v}"));
                }
            }
            if !m.is_empty() {
                a.extend(["-m".into(), m.join(",")]);
            }
            if let Some(v) = attr("block_size") {
                a.extend(["-b".into(), format!("size={v}")]);
            }
            if let Some(v) = attr("inode_size") {
                a.extend(["-i".into(), format!("size={v}")]);
            }
            // Capture records stripe unit, width and log size in bytes.
            if let (Some(su), Some(sw)) = (attr("sunit"), attr("swidth")) {
                let (su_b, sw_b): (u64, u64) = (su.parse().unwrap_or(0), sw.parse().unwrap_or(0));
                if su_b > 0 && sw_b >= su_b {
                    a.extend(["-d".into(), format!("su={su_b},sw={}", sw_b / su_b)]);
                }
            }
            if let Some(v) = attr("log_size") {
                a.extend(["-l".into(), format!("size={v}")]);
            }
        }
        "btrfs" => {
            a = vec!["mkfs.btrfs".into(), "--force".into(), "--quiet".into()];
            if let Some(u) = &fs.uuid {
                a.push(format!("--uuid={u}"));
            }
            if let Some(l) = &fs.label {
                a.push(format!("--label={l}"));
            }
            if let Some(v) = attr("nodesize") {
                a.push(format!("--nodesize={v}"));
            }
            if let Some(v) = attr("sectorsize") {
                a.push(format!("--sectorsize={v}"));
            }
            if let Some(v) = attr("data_profile") {
                a.push(format!("--data={v}"));
            }
            if let Some(v) = attr("metadata_profile") {
                a.push(format!("--metadata={v}"));
            }
        }
        "vfat" => {
            a = vec!["mkfs.vfat".into()];
            if let Some(v) = attr("fat_size") {
                a.extend(["-F".into(), v.clone()]);
            }
            if let Some(u) = &fs.uuid {
                a.extend(["-i".into(), u.replace('-', "")]);
            }
            if let Some(l) = &fs.label {
                a.extend(["-n".into(), l.clone()]);
            }
        }
        other => {
            return Err(PlanError::Unsupported(format!(
                "{}: file system type {other} cannot be recreated yet",
                fs.device
            )))
        }
    }
    a.extend(devices.iter().cloned());
    Ok(a)
}
