//! A layout as a tree, the way `lsblk` shows disks.

use crate::model::*;
use crate::plan::human;
use std::fmt::Write as _;

fn what_is_on(l: &Layout, dev: &str) -> String {
    let mut parts = Vec::new();
    if let Some(f) = l
        .filesystems
        .iter()
        .find(|f| f.device == dev || f.devices.iter().any(|d| d == dev))
    {
        let mut s = f.fstype.clone();
        if let Some(lab) = &f.label {
            let _ = write!(s, " \"{lab}\"");
        }
        parts.push(s);
        let mps: Vec<String> = l
            .mounts
            .iter()
            .filter(|m| m.device == f.device)
            .map(|m| match &m.subvolume {
                Some(sv) => format!("{} [{sv}]", m.mountpoint),
                None => m.mountpoint.clone(),
            })
            .collect();
        if !mps.is_empty() {
            parts.push(mps.join(", "));
        }
    }
    if l.swaps.iter().any(|s| s.device == dev) {
        parts.push("swap".into());
    }
    if let Some(pv) = l.pvs.iter().find(|p| p.device == dev) {
        parts.push(format!("LVM PV of {}", pv.vg));
    }
    parts.join("  ")
}

fn node(l: &Layout, dev: &str, kind: &str, size: u64, depth: usize, out: &mut String) {
    let on = what_is_on(l, dev);
    let _ = writeln!(
        out,
        "{}{dev}  {kind}  {}{}{}",
        "  ".repeat(depth),
        human(size),
        if on.is_empty() { "" } else { "  " },
        on
    );
    for r in l
        .raids
        .iter()
        .filter(|r| r.devices.iter().chain(&r.spares).any(|d| d == dev))
    {
        let kind = match r.label {
            Some(Label::Gpt) => format!("{} gpt", r.level),
            Some(Label::Msdos) => format!("{} msdos", r.level),
            None => r.level.clone(),
        };
        node(l, &r.device, &kind, r.size, depth + 1, out);
        // The partition table on the array.
        for p in &r.partitions {
            node(l, &p.device, "part", p.size, depth + 2, out);
        }
    }
    for c in l.luks.iter().filter(|c| c.backing == dev) {
        node(
            l,
            &c.device,
            &format!("luks{}", c.version),
            c.size,
            depth + 1,
            out,
        );
    }
    if let Some(pv) = l.pvs.iter().find(|p| p.device == dev) {
        for lv in l.lvs.iter().filter(|lv| lv.vg == pv.vg) {
            node(
                l,
                &lv.device,
                &format!("lv {}", lv.segtype),
                lv.size,
                depth + 1,
                out,
            );
        }
    }
}

/// The tree of disks and what stands on them.
pub fn tree(l: &Layout) -> String {
    let mut out = String::new();
    for d in &l.disks {
        let label = match d.label {
            Some(Label::Gpt) => "disk gpt",
            Some(Label::Msdos) => "disk msdos",
            None => "disk",
        };
        node(l, &d.device, label, d.size, 0, &mut out);
        for p in &d.partitions {
            let kind = match p.kind {
                PartKind::Primary => "part",
                PartKind::Extended => "extended",
                PartKind::Logical => "logical",
            };
            node(l, &p.device, kind, p.size, 1, &mut out);
        }
    }
    let _ = writeln!(
        out,
        "boot: {:?}{}",
        l.boot.firmware,
        l.boot
            .esp
            .as_ref()
            .map(|e| format!(", ESP {e}"))
            .unwrap_or_default()
    );
    for n in &l.notes {
        let _ = writeln!(out, "note: {}: {}", n.device, n.what);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raid_lvm_tree() {
        // The RAID1 → LVM scenario with round sizes, its linear LV the xfs root.
        let mut l = crate::scenarios::raid1_lvm_thin();
        for d in &mut l.disks {
            d.partitions[0].size = 1 << 29;
        }
        l.raids[0].size = 1 << 29;
        let root = lv_device("vg0", "root");
        l.lvs[0].name = "root".into();
        l.lvs[0].device = root.clone();
        l.lvs[0].size = 1 << 28;
        l.filesystems[0].device = root.clone();
        l.filesystems[0].label = Some("root".into());
        l.mounts.push(Mount {
            device: root,
            mountpoint: "/".into(),
            fstype: "xfs".into(),
            ..Default::default()
        });
        let t = tree(&l);
        assert!(t.starts_with("/dev/vda  disk gpt  1.0 GiB\n  /dev/vda1  part  512.0 MiB\n    /dev/md0  raid1  512.0 MiB  LVM PV of vg0\n      /dev/mapper/vg0-root  lv linear  256.0 MiB  xfs \"root\"  /\n"), "{t}");
    }
}
