//! The disks on the machine being recovered, as the planner needs them:
//! size, identity, what is on them now, and whether they are in use.

use crate::capture::parse::parse_mountinfo;
use crate::plan::names::normal_wwn;
use crate::plan::PresentDisk;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// Block devices that are never recovery targets.
fn skipped(name: &str) -> bool {
    ["loop", "ram", "zram", "sr", "fd", "dm-", "md", "nbd"]
        .iter()
        .any(|p| name.starts_with(p))
}

fn read(p: &Path) -> Option<String> {
    fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `major:minor` → mount points, from /proc/self/mountinfo (read as
/// capture reads it: a mount point's `\040` is a space).
pub fn mounted(mountinfo: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Line by line: a line capture cannot read must not hide the others.
    for m in mountinfo
        .lines()
        .filter_map(|l| parse_mountinfo(l).ok())
        .flatten()
    {
        out.entry(m.maj_min).or_default().push(m.mountpoint);
    }
    out
}

/// Scans `sys`/block. `blkid` returns `blkid -p -o export DEV` output for a
/// device (empty when nothing is found), or why it could not probe it (a
/// disk it cannot probe is never blank); `mountinfo` and `swaps` are the
/// contents of /proc/self/mountinfo and /proc/swaps.
pub fn scan(
    sys: &Path,
    blkid: &dyn Fn(&str) -> Result<String, String>,
    mountinfo: &str,
    swaps: &str,
) -> Vec<PresentDisk> {
    let mut names: Vec<String> = fs::read_dir(sys.join("block"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| !skipped(n))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    scan_named(sys, &names, blkid, mountinfo, swaps)
}

/// As [`scan`], for the disks `names` (kernel names) alone, loop devices
/// included.
pub fn scan_named(
    sys: &Path,
    names: &[String],
    blkid: &dyn Fn(&str) -> Result<String, String>,
    mountinfo: &str,
    swaps: &str,
) -> Vec<PresentDisk> {
    let mounts = mounted(mountinfo);
    let swap_devs: Vec<&str> = swaps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut out = Vec::new();
    for name in names {
        let dir = sys.join("block").join(name);
        let sectors: u64 = read(&dir.join("size"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if sectors == 0 {
            continue;
        }
        let device = format!("/dev/{name}");
        let mut parts: Vec<(String, String)> = fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("partition").exists())
                    .map(|e| {
                        let n = e.file_name().to_string_lossy().to_string();
                        let devno = read(&e.path().join("dev")).unwrap_or_default();
                        (format!("/dev/{n}"), devno)
                    })
                    .collect()
            })
            .unwrap_or_default();
        parts.sort();
        let mut ids = Vec::new();
        let mut holds = Vec::new();
        let mut in_use = None;
        let devno = read(&dir.join("dev")).unwrap_or_default();
        for (dev, no) in std::iter::once((device.clone(), devno)).chain(parts.iter().cloned()) {
            let probed = blkid(&dev).unwrap_or_else(|e| {
                holds.push(format!("what blkid -p could not probe on {dev} ({e})"));
                String::new()
            });
            for line in probed.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    if matches!(
                        k,
                        "UUID" | "LABEL" | "PTUUID" | "PARTUUID" | "UUID_SUB" | "PARTLABEL"
                    ) {
                        ids.push(v.to_string());
                    }
                    match k {
                        "PTTYPE" if dev == device => holds.push(format!("{v} partition table")),
                        "TYPE" if dev == device => holds.push(v.to_string()),
                        "TYPE" => holds.push(format!("{v} on {dev}")),
                        _ => {}
                    }
                }
            }
            if let Some(mps) = mounts.get(&no) {
                in_use.get_or_insert_with(|| format!("{dev} is mounted at {}", mps.join(", ")));
            }
            if swap_devs.contains(&dev.as_str()) {
                in_use.get_or_insert_with(|| format!("{dev} is in use as swap"));
            }
            let holders = sys
                .join("class/block")
                .join(dev.trim_start_matches("/dev/"))
                .join("holders");
            if let Some(h) = fs::read_dir(holders)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| e.ok())
            {
                in_use.get_or_insert_with(|| {
                    format!(
                        "{dev} is in use by /dev/{} (stop it first)",
                        h.file_name().to_string_lossy()
                    )
                });
            }
        }
        out.push(PresentDisk {
            device,
            size: sectors * 512,
            logical_sector_size: read(&dir.join("queue/logical_block_size"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(512),
            serial: read(&dir.join("serial")).or_else(|| read(&dir.join("device/serial"))),
            wwn: read(&dir.join("wwid"))
                .or_else(|| read(&dir.join("device/wwid")))
                .or_else(|| read(&dir.join("device/wwn"))),
            by_id: Vec::new(),
            by_path: Vec::new(),
            partitions: parts.into_iter().map(|p| p.0).collect(),
            ids,
            in_use,
            model: read(&dir.join("device/model")),
            holds,
        });
    }
    out
}

/// Where the link `rel` (relative to `root`) leads, relative to `root`:
/// followed link by link as the kernel would with `root` as `/`, so an
/// absolute target (`/dev/sdb`) stays below `root`. None for a dangling
/// link or a loop.
fn resolve_below(root: &Path, rel: &Path) -> Option<PathBuf> {
    let mut todo: Vec<OsString> = rel
        .components()
        .rev()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut at: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match Path::new(&c).components().next() {
            Some(Component::ParentDir) => {
                at.pop();
                continue;
            }
            Some(Component::Normal(_)) => {}
            _ => continue,
        }
        at.push(c);
        let here: PathBuf = at.iter().collect();
        let Ok(target) = fs::read_link(root.join(&here)) else {
            continue;
        };
        hops += 1;
        if hops > 40 {
            return None;
        }
        at.pop();
        if target.is_absolute() {
            at.clear();
        }
        todo.extend(
            target
                .components()
                .rev()
                .map(|c| c.as_os_str().to_os_string()),
        );
    }
    let out: PathBuf = at.iter().collect();
    root.join(&out).symlink_metadata().ok().map(|_| out)
}

/// The `/dev/disk/by-id` and `/dev/disk/by-path` links below `root`:
/// (`by-id` or `by-path`, link name, the `/dev/...` path it resolves to).
pub fn disk_links(root: &Path) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for kind in ["by-id", "by-path"] {
        let dir = Path::new("dev/disk").join(kind);
        let Ok(entries) = fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(to) = resolve_below(root, &dir.join(&name)) else {
                continue;
            };
            if let Ok(dev) = to.strip_prefix("dev") {
                out.push((kind, name, format!("/dev/{}", dev.display())));
            }
        }
    }
    out.sort();
    out
}

/// The by-id names udev gives a disk that follow from what sysfs tells
/// without asking the disk: `wwn-0x…` from an NAA WWN, `nvme-eui.…` from
/// an NVMe disk's wwid, `virtio-SERIAL`. For a system where udev made no
/// links (the rescue system).
pub fn derived_by_id(p: &PresentDisk) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(w) = &p.wwn {
        let n = normal_wwn(w);
        if !n.is_empty() && n.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push(format!("wwn-0x{n}"));
        } else if p.device.starts_with("/dev/nvme")
            && (n.starts_with("eui.") || n.starts_with("nvme."))
        {
            out.push(format!("nvme-{}", w.trim()));
        }
    }
    if let Some(s) = p.serial.as_deref().map(str::trim) {
        if p.device.starts_with("/dev/vd") && !s.is_empty() && !s.contains(char::is_whitespace) {
            out.push(format!("virtio-{s}"));
        }
    }
    out
}

/// Gives each disk the names of its links in `root`/dev/disk/by-id and
/// by-path. Where there is no by-id directory (no udev ran), each disk
/// gets the names [`derived_by_id`] finds instead.
pub fn add_links(disks: &mut [PresentDisk], root: &Path) {
    for (kind, name, dev) in disk_links(root) {
        if let Some(d) = disks.iter_mut().find(|d| d.device == dev) {
            match kind {
                "by-id" => d.by_id.push(name),
                _ => d.by_path.push(name),
            }
        }
    }
    if !root.join("dev/disk/by-id").is_dir() {
        for d in disks.iter_mut() {
            d.by_id = derived_by_id(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_disks_partitions_ids_and_use() {
        let d = tempfile::tempdir().unwrap();
        let sys = d.path();
        for (disk, size, serial) in [
            ("vda", "4194304", "rbdisk0"),
            ("vdb", "2097152", "rbdisk1"),
            ("loop0", "100", ""),
        ] {
            let dir = sys.join("block").join(disk);
            fs::create_dir_all(dir.join("queue")).unwrap();
            fs::write(dir.join("size"), size).unwrap();
            fs::write(dir.join("queue/logical_block_size"), "512").unwrap();
            fs::write(dir.join("dev"), format!("254:{}", disk.len())).unwrap();
            if !serial.is_empty() {
                fs::write(dir.join("serial"), serial).unwrap();
            }
        }
        let p = sys.join("block/vdb/vdb1");
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("partition"), "1").unwrap();
        fs::write(p.join("dev"), "254:17").unwrap();
        let blkid = |dev: &str| {
            Ok(match dev {
                "/dev/vdb" => "DEVNAME=/dev/vdb\nPTUUID=abcd\nPTTYPE=gpt\n".to_string(),
                "/dev/vdb1" => "UUID=1111\nLABEL=REAR-000\nTYPE=ext4\n".to_string(),
                _ => String::new(),
            })
        };
        let mountinfo = "30 1 254:17 / /media/backup rw,relatime shared:1 - ext4 /dev/vdb1 rw\n";
        let disks = scan(sys, &blkid, mountinfo, "Filename Type Size Used Priority\n");
        assert_eq!(disks.len(), 2, "loop devices are skipped");
        let (a, b) = (&disks[0], &disks[1]);
        assert_eq!(
            (a.device.as_str(), a.size, a.serial.as_deref()),
            ("/dev/vda", 4194304 * 512, Some("rbdisk0"))
        );
        assert!(a.in_use.is_none() && a.partitions.is_empty());
        assert_eq!(b.partitions, ["/dev/vdb1"]);
        assert_eq!(b.ids, ["abcd", "1111", "REAR-000"]);
        assert_eq!(b.holds, ["gpt partition table", "ext4 on /dev/vdb1"]);
        assert!(!b.is_blank() && a.is_blank());
        assert_eq!(
            b.in_use.as_deref(),
            Some("/dev/vdb1 is mounted at /media/backup")
        );
        // A disk blkid -p cannot read holds something unknown: not blank.
        let unreadable = |dev: &str| match dev {
            "/dev/vda" => Err("exit 2: blkid: error: /dev/vda: Operation not permitted".into()),
            _ => blkid(dev),
        };
        let disks = scan(sys, &unreadable, "", "");
        assert!(!disks[0].is_blank());
        assert_eq!(
            disks[0].holds,
            ["what blkid -p could not probe on /dev/vda (exit 2: blkid: error: /dev/vda: Operation not permitted)"]
        );
    }

    #[test]
    fn mount_points_are_unescaped_and_a_bad_line_hides_no_other() {
        let m = mounted(
            "garbage\n30 1 254:17 / /media/back\\040up rw - ext4 /dev/vdb1 rw\n31 1 254:1 / / rw - ext4 /dev/vda1 rw\n",
        );
        assert_eq!(m["254:17"], ["/media/back up"]);
        assert_eq!(m["254:1"], ["/"]);
    }

    #[test]
    fn disk_links_resolve_below_the_root_and_name_whole_disks() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let dev = root.join("dev");
        fs::create_dir_all(dev.join("disk/by-id")).unwrap();
        fs::create_dir_all(dev.join("disk/by-path")).unwrap();
        fs::create_dir_all(root.join("etc")).unwrap();
        for n in ["sda", "sdb", "sdb1"] {
            fs::write(dev.join(n), "").unwrap();
        }
        let by_id = dev.join("disk/by-id");
        let by_path = dev.join("disk/by-path");
        symlink("../../sdb", by_id.join("wwn-0x5000c500cafef00d")).unwrap();
        symlink("../../sdb1", by_id.join("wwn-0x5000c500cafef00d-part1")).unwrap();
        // A link to a link, an absolute one (below the root, not ours),
        // a dangling one, one that climbs out of /dev.
        symlink("wwn-0x5000c500cafef00d", by_id.join("ata-NEW_DISK_S2")).unwrap();
        symlink("/dev/sda", by_path.join("pci-0000:00:1f.2-ata-1")).unwrap();
        symlink("../../sdz", by_path.join("pci-0000:00:1f.2-ata-9")).unwrap();
        symlink("../../../../../../etc", by_path.join("climb")).unwrap();
        assert_eq!(
            disk_links(root),
            [
                ("by-id", "ata-NEW_DISK_S2".into(), "/dev/sdb".into()),
                ("by-id", "wwn-0x5000c500cafef00d".into(), "/dev/sdb".into()),
                (
                    "by-id",
                    "wwn-0x5000c500cafef00d-part1".into(),
                    "/dev/sdb1".into()
                ),
                (
                    "by-path",
                    "pci-0000:00:1f.2-ata-1".into(),
                    "/dev/sda".into()
                ),
            ]
        );
        let disk = |dev: &str| PresentDisk {
            device: dev.into(),
            ..Default::default()
        };
        let mut disks = vec![disk("/dev/sda"), disk("/dev/sdb")];
        add_links(&mut disks, root);
        assert!(disks[0].by_id.is_empty());
        assert_eq!(disks[0].by_path, ["pci-0000:00:1f.2-ata-1"]);
        assert_eq!(
            disks[1].by_id,
            ["ata-NEW_DISK_S2", "wwn-0x5000c500cafef00d"]
        );
    }

    #[test]
    fn without_udev_the_names_that_follow_from_sysfs_are_derived() {
        let d = tempfile::tempdir().unwrap();
        let mut disks = vec![
            PresentDisk {
                device: "/dev/sda".into(),
                wwn: Some("naa.5000C500CAFEF00D".into()),
                ..Default::default()
            },
            PresentDisk {
                device: "/dev/vdb".into(),
                serial: Some("rbdisk1".into()),
                ..Default::default()
            },
            PresentDisk {
                device: "/dev/nvme0n1".into(),
                wwn: Some("eui.0025388b71b1d4c2".into()),
                serial: Some("S4EW NX0N".into()),
                ..Default::default()
            },
            PresentDisk {
                device: "/dev/sdc".into(),
                wwn: Some("t10.ATA     QEMU HARDDISK".into()),
                serial: Some("QM00001".into()),
                ..Default::default()
            },
        ];
        add_links(&mut disks, d.path());
        let names: Vec<&[String]> = disks.iter().map(|d| &d.by_id[..]).collect();
        assert_eq!(
            names,
            [
                &["wwn-0x5000c500cafef00d".to_string()][..],
                &["virtio-rbdisk1".to_string()][..],
                &["nvme-eui.0025388b71b1d4c2".to_string()][..],
                &[][..],
            ]
        );
    }
}
