//! What a layout must be before anything is planned from it: a layout file
//! is outside input (edited by hand, imported from ReaR, crafted), and the
//! planner turns its values into commands that write disks. Every error
//! names the object it is about.
//!
//! Checked: no control character in any value (names and labels end up in
//! sfdisk input and the `-s` script); device names under `/dev/` without
//! `..` or blanks; partitions numbered as their table allows, inside their
//! disk, not overlapping (logical ones inside their extended one); mount
//! points absolute and normalised.

use crate::model::*;
use serde_json::Value;

/// Checks `l`; the first problem found, naming its object.
pub fn check(l: &Layout) -> Result<(), String> {
    let v = serde_json::to_value(l).map_err(|e| e.to_string())?;
    no_control_characters(&v, "layout")?;
    for d in &l.disks {
        device(&d.device, &format!("disk {}", d.device))?;
        partitions(d)?;
    }
    for r in &l.raids {
        let mut d = r.as_disk();
        d.device = format!("array {}", r.device);
        // Imported without its size (no raiddisk line): the end unchecked.
        if d.size == 0 {
            d.size = u64::MAX;
        }
        partitions(&d)?;
        if r.is_container() && (r.label.is_some() || !r.partitions.is_empty()) {
            return Err(format!(
                "RAID container {}: a container holds arrays, not partitions",
                r.device
            ));
        }
    }
    let devices = l
        .raids
        .iter()
        .map(|r| ("RAID", &r.device))
        .chain(l.luks.iter().map(|x| ("LUKS", &x.device)))
        .chain(l.pvs.iter().map(|p| ("PV", &p.device)))
        .chain(l.lvs.iter().map(|v| ("LV", &v.device)))
        .chain(l.filesystems.iter().map(|f| ("file system", &f.device)))
        .chain(l.swaps.iter().map(|s| ("swap", &s.device)))
        .chain(l.mounts.iter().map(|m| ("mount", &m.device)));
    for (what, dev) in devices {
        device(dev, &format!("{what} {dev}"))?;
    }
    whole_disks(l)?;
    for m in &l.mounts {
        mount_point(&m.mountpoint)
            .map_err(|why| format!("mount of {} at {:?}: {why}", m.device, m.mountpoint))?;
    }
    Ok(())
}

fn no_control_characters(v: &Value, at: &str) -> Result<(), String> {
    match v {
        Value::String(s) if s.chars().any(char::is_control) => Err(format!(
            "{at} = {s:?}: a control character (line break, tab, escape) is not allowed in a layout value"
        )),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| no_control_characters(x, &format!("{at}[{i}]"))),
        Value::Object(o) => o
            .iter()
            .try_for_each(|(k, x)| no_control_characters(x, &format!("{at}.{k}"))),
        _ => Ok(()),
    }
}

/// A device name: `/dev/...`, no blanks, no `.` or `..` component.
fn device(dev: &str, what: &str) -> Result<(), String> {
    let rest = dev.strip_prefix("/dev/").unwrap_or_default();
    let ok = !rest.is_empty()
        && !dev.chars().any(|c| c.is_whitespace() || c == '\\')
        && rest
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what}: {dev:?} is not a device name (a path below /dev/, without blanks or . and .. parts)"
        ))
    }
}

/// What stands on a whole disk directly (the disk's device is its
/// device): only on a disk without a partition table, which it fills
/// alone. The planner writes it onto the disk after wiping it, so a
/// partitioned disk would lose its table, and two of them would overwrite
/// each other.
fn whole_disks(l: &Layout) -> Result<(), String> {
    let users = l
        .filesystems
        .iter()
        .flat_map(|f| {
            let what = format!("the {} file system", f.fstype);
            std::iter::once(&f.device)
                .chain(f.devices.iter().filter(|d| **d != f.device))
                .map(move |d| (d, what.clone()))
        })
        .chain(l.swaps.iter().map(|s| (&s.device, "swap".to_string())))
        .chain(
            l.pvs
                .iter()
                .map(|p| (&p.device, format!("a PV of {}", p.vg))),
        )
        .chain(l.raids.iter().flat_map(|r| {
            r.devices
                .iter()
                .chain(&r.spares)
                .map(move |d| (d, format!("a member of {}", r.device)))
        }))
        .chain(
            l.luks
                .iter()
                .map(|x| (&x.backing, format!("the LUKS volume {}", x.name))),
        );
    let mut seen: std::collections::BTreeMap<&str, String> = Default::default();
    for (dev, what) in users {
        let Some(d) = l.disk(dev) else { continue };
        if d.label.is_some() || !d.partitions.is_empty() {
            return Err(format!(
                "disk {dev}: {what} is on the whole disk, which has a partition table too"
            ));
        }
        if let Some(first) = seen.insert(dev, what.clone()) {
            return Err(format!(
                "disk {dev}: {first} and {what} are both on the whole disk"
            ));
        }
    }
    Ok(())
}

/// An absolute, normalised path: `/`, or `/a/b` without empty, `.` or
/// `..` parts.
fn mount_point(p: &str) -> Result<(), &'static str> {
    if p == "/" {
        return Ok(());
    }
    match p.strip_prefix('/') {
        Some(rest)
            if rest
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..") =>
        {
            Ok(())
        }
        Some(_) => Err("not a normalised path (no //, trailing /, . or ..)"),
        None => Err("not an absolute path"),
    }
}

pub(crate) fn partitions(d: &Disk) -> Result<(), String> {
    let gpt = d.label == Some(Label::Gpt);
    let sector = u64::from(d.logical_sector_size.max(512));
    let mut numbers = std::collections::BTreeSet::new();
    let name = |p: &Partition| format!("disk {}: partition {} ({})", d.device, p.number, p.device);
    if d.label.is_none() && !d.partitions.is_empty() {
        return Err(format!(
            "disk {}: partitions without a partition table",
            d.device
        ));
    }
    for p in &d.partitions {
        device(&p.device, &name(p))?;
        if !numbers.insert(p.number) {
            return Err(format!(
                "{}: the number {} is used twice",
                name(p),
                p.number
            ));
        }
        let max = if gpt { 128 } else { 255 };
        let range = match (gpt, p.kind) {
            (true, PartKind::Primary) => 1..=max,
            (true, _) => return Err(format!("{}: GPT has no {:?} partitions", name(p), p.kind)),
            (false, PartKind::Logical) => 5..=max,
            (false, _) => 1..=4,
        };
        if !range.contains(&p.number) {
            return Err(format!(
                "{}: a {:?} partition on {} is numbered {} to {}",
                name(p),
                p.kind,
                if gpt { "GPT" } else { "msdos" },
                range.start(),
                range.end()
            ));
        }
        if p.size == 0 {
            return Err(format!("{}: its size is 0", name(p)));
        }
        if p.start < sector {
            return Err(format!(
                "{}: it starts at byte {}, inside the partition table",
                name(p),
                p.start
            ));
        }
        let Some(end) = p.start.checked_add(p.size) else {
            return Err(format!(
                "{}: it starts at byte {} and is {} bytes long, past 2^64 bytes",
                name(p),
                p.start,
                p.size
            ));
        };
        if end > d.size {
            return Err(format!(
                "{}: it ends at byte {end}, past the end of the disk ({} bytes)",
                name(p),
                d.size
            ));
        }
    }
    let extended: Vec<&Partition> = d
        .partitions
        .iter()
        .filter(|p| p.kind == PartKind::Extended)
        .collect();
    if extended.len() > 1 {
        return Err(format!(
            "disk {}: more than one extended partition",
            d.device
        ));
    }
    for p in d.partitions.iter().filter(|p| p.kind == PartKind::Logical) {
        let Some(x) = extended.first() else {
            return Err(format!(
                "{}: a logical partition needs an extended one",
                name(p)
            ));
        };
        if p.start < x.start || p.start + p.size > x.start + x.size {
            return Err(format!(
                "{}: it is not inside the extended partition {}",
                name(p),
                x.device
            ));
        }
    }
    // Overlaps: the primary and extended ones among themselves, the
    // logical ones among themselves.
    for logical in [false, true] {
        let mut ps: Vec<&Partition> = d
            .partitions
            .iter()
            .filter(|p| (p.kind == PartKind::Logical) == logical)
            .collect();
        ps.sort_by_key(|p| p.start);
        for w in ps.windows(2) {
            if w[0].start + w[0].size > w[1].start {
                return Err(format!(
                    "{}: it overlaps partition {} ({})",
                    name(w[1]),
                    w[0].number,
                    w[0].device
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios;

    const GIB: u64 = 1 << 30;

    #[test]
    fn every_scenario_is_valid() {
        for l in [
            scenarios::gpt_esp_ext4_swap(),
            scenarios::raid1_lvm_thin(),
            scenarios::partitioned_raid1_lvm(),
            scenarios::imsm_raid1(),
            scenarios::luks_on_lvm(),
            scenarios::msdos_logical(),
            scenarios::msdos_only_logical(),
            scenarios::gpt_lvm_linear(),
            scenarios::bios_gpt_grub(),
            scenarios::uefi_gpt_grub(),
            scenarios::whole_disk_ext4_root(),
            scenarios::whole_disk_lvm(),
            scenarios::whole_disk_raid1(),
            scenarios::whole_disk_luks(),
        ] {
            check(&l).unwrap();
        }
    }

    #[test]
    fn what_is_on_a_whole_disk_is_alone_on_a_disk_without_partitions() {
        // The ext4 on the whole of a GPT disk: mkfs would replace the table.
        let mut l = scenarios::gpt_esp_ext4_swap();
        l.filesystems[1].device = "/dev/vda".into();
        assert_eq!(
            check(&l).unwrap_err(),
            "disk /dev/vda: the ext4 file system is on the whole disk, which has a partition table too"
        );
        // A table without partitions is still a table.
        let mut l = scenarios::whole_disk_ext4_root();
        l.disks[0].label = Some(Label::Msdos);
        assert!(check(&l).unwrap_err().contains("partition table too"));
        // Two things on one whole disk.
        let mut l = scenarios::whole_disk_luks();
        l.swaps.push(Swap {
            device: "/dev/vda".into(),
            ..Default::default()
        });
        assert_eq!(
            check(&l).unwrap_err(),
            "disk /dev/vda: swap and the LUKS volume cryptw are both on the whole disk"
        );
        let mut l = scenarios::whole_disk_raid1();
        l.pvs.push(Pv {
            device: "/dev/vdb".into(),
            vg: "vg9".into(),
            ..Default::default()
        });
        assert_eq!(
            check(&l).unwrap_err(),
            "disk /dev/vdb: a PV of vg9 and a member of /dev/md0 are both on the whole disk"
        );
    }

    /// One broken copy of the GPT scenario per rule, and what its error says.
    #[test]
    fn each_rule_refuses_and_names_the_object() {
        type Break = Box<dyn Fn(&mut Layout)>;
        let cases: Vec<(&str, Break)> = vec![
            (
                "past the end of the disk",
                Box::new(|l| l.disks[0].partitions[2].size += GIB),
            ),
            (
                "overlaps partition 1",
                Box::new(|l| l.disks[0].partitions[1].start -= 4096),
            ),
            (
                "inside the partition table",
                Box::new(|l| l.disks[0].partitions[0].start = 0),
            ),
            (
                "used twice",
                Box::new(|l| l.disks[0].partitions[1].number = 1),
            ),
            (
                "numbered 1 to 128",
                Box::new(|l| l.disks[0].partitions[1].number = 200),
            ),
            (
                "GPT has no Logical",
                Box::new(|l| l.disks[0].partitions[1].kind = PartKind::Logical),
            ),
            (
                "control character",
                Box::new(|l| {
                    l.disks[0].partitions[0].name = Some("x\nREAR_EOF\ntouch /tmp/pwned".into())
                }),
            ),
            (
                "not a normalised path",
                Box::new(|l| l.mounts[0].mountpoint = "/../../usr/sbin".into()),
            ),
            (
                "not an absolute path",
                Box::new(|l| l.mounts[0].mountpoint = "boot".into()),
            ),
            (
                "is not a device name",
                Box::new(|l| l.filesystems[0].device = "/dev/../etc/passwd".into()),
            ),
            (
                "is not a device name",
                Box::new(|l| l.disks[0].device = "vda".into()),
            ),
        ];
        for (says, break_it) in cases {
            let mut l = scenarios::gpt_esp_ext4_swap();
            break_it(&mut l);
            let err = check(&l).unwrap_err();
            assert!(err.contains(says), "{says}: {err}");
            // And a file with it does not load.
            assert!(Layout::from_json(&l.to_json()).is_err(), "{says}");
        }
    }

    /// Found by fuzz::layout_partitions_at_the_edges: the end was added
    /// saturating, so this partition was taken as ending at 2^64 - 1.
    #[test]
    fn a_partition_past_2_64_bytes_is_refused() {
        let mut l = scenarios::gpt_esp_ext4_swap();
        let d = &mut l.disks[0];
        d.size = u64::MAX;
        d.partitions.truncate(1);
        d.partitions[0].size = u64::MAX - 1;
        let err = check(&l).unwrap_err();
        assert!(err.contains("past 2^64 bytes"), "{err}");
    }

    #[test]
    fn logical_partitions_live_inside_their_extended_one() {
        let mut l = scenarios::msdos_logical();
        let d = &mut l.disks[0];
        let x = d
            .partitions
            .iter()
            .find(|p| p.kind == PartKind::Extended)
            .unwrap()
            .clone();
        let logical = d
            .partitions
            .iter_mut()
            .find(|p| p.kind == PartKind::Logical)
            .unwrap();
        logical.start = x.start + x.size;
        let err = check(&l).unwrap_err();
        assert!(
            err.contains("not inside the extended partition") || err.contains("past the end"),
            "{err}"
        );
    }

    /// Random GPT partition sets on a 1 GiB disk: `check` accepts exactly
    /// those an independent look finds inside the disk and apart.
    #[test]
    fn random_partitions_are_accepted_exactly_when_they_fit() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..2000 {
            let mut l = scenarios::gpt_esp_ext4_swap();
            let d = &mut l.disks[0];
            d.size = GIB;
            let n = 1 + next(4) as usize;
            d.partitions.truncate(0);
            for i in 0..n {
                let mib = 1 << 20;
                d.partitions.push(Partition {
                    number: i as u32 + 1,
                    device: format!("/dev/vda{}", i + 1),
                    start: mib * (1 + next(1100)),
                    size: mib * (1 + next(600)),
                    type_: crate::gpt::LINUX_FS.into(),
                    ..Default::default()
                });
            }
            let ps = d.partitions.clone();
            let fits = ps.iter().all(|p| p.start + p.size <= GIB)
                && ps.iter().enumerate().all(|(i, a)| {
                    ps[i + 1..]
                        .iter()
                        .all(|b| a.start + a.size <= b.start || b.start + b.size <= a.start)
                });
            l.filesystems.clear();
            l.swaps.clear();
            l.mounts.clear();
            l.boot = Default::default();
            match check(&l) {
                Ok(()) => {
                    assert!(fits, "accepted: {ps:?}");
                    accepted += 1;
                }
                Err(e) => {
                    assert!(!fits, "refused ({e}): {ps:?}");
                    refused += 1;
                }
            }
        }
        // Both outcomes are exercised.
        assert!(
            accepted > 100 && refused > 100,
            "{accepted} accepted, {refused} refused"
        );
    }
}
