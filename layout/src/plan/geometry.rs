//! Partition geometry: partitions refitted to a disk of another size, and
//! the table (as an sfdisk script) that `rear-build partition-table` writes.

use super::{human, PlanError, Resize};
use crate::model::*;

pub(super) const MIB: u64 = 1 << 20;

/// Bytes GPT keeps at the end of a disk for its backup header and entries.
fn gpt_tail(sector: u64) -> u64 {
    16384 + sector
}

/// The partitions of `disk` refitted to `new_size`; errors when they cannot fit.
pub(super) fn refit(
    disk: &Disk,
    new_size: u64,
    new_dev: &str,
    resize: Resize,
) -> Result<Vec<Partition>, PlanError> {
    let sector = disk.logical_sector_size.max(512) as u64;
    let end_limit = match disk.label {
        Some(Label::Gpt) => new_size - gpt_tail(sector).min(new_size),
        _ => new_size,
    };
    let mut parts = disk.partitions.clone();
    if parts.is_empty() || new_size == disk.size {
        return Ok(parts);
    }
    let too_small = |need: String| PlanError::TooSmall {
        disk: new_dev.into(),
        old: disk.device.clone(),
        have: human(new_size),
        need,
    };
    let old_limit = match disk.label {
        Some(Label::Gpt) => disk.size - gpt_tail(sector).min(disk.size),
        _ => disk.size,
    };
    if resize == Resize::Proportional && new_size > disk.size {
        let factor = end_limit as f64 / old_limit as f64;
        scale(&mut parts, factor);
        if let Some(p) = parts.iter().find(|p| p.start + p.size > end_limit) {
            return Err(too_small(format!(
                "proportional resize overshoots the disk (partition {} would end at {})",
                p.number,
                human(p.start + p.size)
            )));
        }
        return checked(disk, new_size, parts, new_dev);
    }
    // The last partition (by start) ends at the new usable end; with an
    // extended container last, its last logical partition moves with it.
    let Some(last_primary) = (0..parts.len())
        .filter(|&i| parts[i].kind != PartKind::Logical)
        .max_by_key(|&i| parts[i].start)
    else {
        return Err(PlanError::Invalid(format!(
            "disk {}: logical partitions without an extended one",
            disk.device
        )));
    };
    let mut resized = vec![last_primary];
    if parts[last_primary].kind == PartKind::Extended {
        if let Some(l) = (0..parts.len())
            .filter(|&i| parts[i].kind == PartKind::Logical)
            .max_by_key(|&i| parts[i].start)
        {
            resized.push(l);
        }
    }
    for &i in &resized {
        let p = &mut parts[i];
        let old_end = p.start + p.size;
        // Keep the gap the original left before the usable end.
        let gap = old_limit.saturating_sub(old_end);
        let new_end = end_limit.saturating_sub(gap);
        if new_end <= p.start + MIB {
            return Err(too_small(format!(
                "partition {} starts at {} and would be left with less than 1 MiB",
                p.number,
                human(p.start)
            )));
        }
        p.size = (new_end - p.start) / sector * sector;
    }
    for p in &parts {
        if p.start + p.size > end_limit {
            return Err(too_small(format!(
                "partition {} ends at {}",
                p.number,
                human(p.start + p.size)
            )));
        }
    }
    checked(disk, new_size, parts, new_dev)
}

/// The refitted table, checked as a loaded layout is: a table this
/// arithmetic gets wrong is refused here, never written.
fn checked(
    disk: &Disk,
    new_size: u64,
    parts: Vec<Partition>,
    new_dev: &str,
) -> Result<Vec<Partition>, PlanError> {
    let refitted = Disk {
        size: new_size,
        partitions: parts,
        ..disk.clone()
    };
    crate::validate::partitions(&refitted).map_err(|e| {
        PlanError::Invalid(format!(
            "refitting {} to {new_dev} ({}) gives no valid partition table: {e}",
            disk.device,
            human(new_size)
        ))
    })?;
    Ok(refitted.partitions)
}

/// Grows every partition by `factor` (at least 1), in disk order, starts
/// aligned to 1 MiB where the original's allow. No partition starts before
/// its original start or closer to the one before it than it was (a
/// logical partition keeps the room for its EBR, the first one its place
/// after the extended partition's start), none gets smaller, and an
/// extended partition spans its grown logical partitions. Every start and
/// end is then at most `factor` times the original's, so a disk `factor`
/// times as large holds them.
fn scale(parts: &mut [Partition], factor: f64) {
    let scaled = |v: u64| ((v as f64 * factor) as u64 / MIB * MIB).max(v);
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| parts[i].start);
    let (top, logical): (Vec<usize>, Vec<usize>) = order
        .into_iter()
        .partition(|&i| parts[i].kind != PartKind::Logical);
    // (old end, new end) of the partition before, on each level.
    let mut before = (0u64, 0u64);
    for i in top {
        let old = parts[i].clone();
        let start = ((old.start as f64 * factor) as u64 / MIB * MIB)
            .max(old.start)
            .max(before.1 + old.start.saturating_sub(before.0));
        parts[i].start = start;
        parts[i].size = scaled(old.size);
        if old.kind == PartKind::Extended {
            let mut inner = (old.start, start);
            for &j in &logical {
                let o = parts[j].clone();
                let s = ((o.start as f64 * factor) as u64 / MIB * MIB)
                    .max(o.start)
                    .max(inner.1 + o.start.saturating_sub(inner.0));
                parts[j].start = s;
                parts[j].size = scaled(o.size);
                inner = (o.start + o.size, s + parts[j].size);
            }
            parts[i].size = parts[i].size.max(inner.1.saturating_sub(start));
        }
        before = (old.start + old.size, start + parts[i].size);
    }
}

/// The table that recreates `disk`'s partitions `parts` (starts and
/// sizes in bytes), in its sectors.
pub fn table(disk: &Disk, parts: &[Partition]) -> rear_ptable::Table {
    let sector = disk.logical_sector_size.max(512) as u64;
    let gpt = disk.label == Some(Label::Gpt);
    let mut parts: Vec<rear_ptable::Part> = parts
        .iter()
        .map(|p| rear_ptable::Part {
            number: p.number,
            start: p.start / sector,
            size: p.size / sector,
            type_: p.type_.trim_start_matches("0x").to_string(),
            // On msdos the PARTUUID is made of the disk id and the number.
            uuid: p.uuid.clone().filter(|_| gpt),
            name: p.name.clone().filter(|_| gpt),
            attrs: p.attributes.clone().filter(|_| gpt),
            bootable: p.bootable,
        })
        .collect();
    parts.sort_by_key(|p| p.number);
    rear_ptable::Table {
        label: match gpt {
            true => rear_ptable::Label::Gpt,
            false => rear_ptable::Label::Dos,
        },
        id: disk.identifier.clone(),
        sector_size: sector as u32,
        parts,
    }
}

/// The script (sfdisk's format) that recreates a partition table on
/// `new_dev`: what `rear-build partition-table` reads.
pub fn sfdisk_script(disk: &Disk, parts: &[Partition], new_dev: &str) -> String {
    table(disk, parts).script(new_dev)
}
