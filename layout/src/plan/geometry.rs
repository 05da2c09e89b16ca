//! Partition geometry: partitions refitted to a disk of another size, and
//! the sfdisk script that writes a partition table.

use super::{human, PlanError, Resize};
use crate::model::*;
use std::fmt::Write as _;

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
        // Grow every partition (not extended containers) by the same factor,
        // keeping starts aligned to 1 MiB, in disk order.
        let factor = end_limit as f64 / old_limit as f64;
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by_key(|&i| parts[i].start);
        for &i in &order {
            let p = &mut parts[i];
            p.start = ((p.start as f64 * factor) as u64 / MIB * MIB).max(p.start);
            p.size = (p.size as f64 * factor) as u64 / MIB * MIB;
        }
        fix_extended(&mut parts);
        if let Some(last) = parts
            .iter()
            .filter(|p| p.kind != PartKind::Extended)
            .max_by_key(|p| p.start)
        {
            if last.start + last.size > end_limit {
                return Err(too_small("proportional resize overshoots the disk".into()));
            }
        }
        return Ok(parts);
    }
    // The last partition (by start) ends at the new usable end; with an
    // extended container last, its last logical partition moves with it.
    let last_primary = (0..parts.len())
        .filter(|&i| parts[i].kind != PartKind::Logical)
        .max_by_key(|&i| parts[i].start)
        .unwrap();
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
    Ok(parts)
}

/// An extended container spans its logical partitions (plus their EBRs).
fn fix_extended(parts: &mut [Partition]) {
    let logical: Vec<(u64, u64)> = parts
        .iter()
        .filter(|p| p.kind == PartKind::Logical)
        .map(|p| (p.start, p.start + p.size))
        .collect();
    if let (Some(first), Some(last)) = (
        logical.iter().map(|l| l.0).min(),
        logical.iter().map(|l| l.1).max(),
    ) {
        for p in parts.iter_mut().filter(|p| p.kind == PartKind::Extended) {
            p.start = p.start.min(first.saturating_sub(MIB));
            p.size = last - p.start;
        }
    }
}

/// The sfdisk script that recreates a partition table.
pub fn sfdisk_script(disk: &Disk, parts: &[Partition], new_dev: &str) -> String {
    let sector = disk.logical_sector_size.max(512) as u64;
    let mut s = String::new();
    let label = match disk.label {
        Some(Label::Gpt) => "gpt",
        _ => "dos",
    };
    let _ = writeln!(s, "label: {label}");
    if let Some(id) = &disk.identifier {
        let _ = writeln!(s, "label-id: {id}");
    }
    let _ = writeln!(s, "unit: sectors");
    let _ = writeln!(s, "sector-size: {sector}");
    let mut sorted: Vec<&Partition> = parts.iter().collect();
    sorted.sort_by_key(|p| p.number);
    for p in sorted {
        let mut line = format!(
            "{} : start={}, size={}, type={}",
            partition_device(new_dev, p.number),
            p.start / sector,
            p.size / sector,
            p.type_.trim_start_matches("0x")
        );
        if disk.label == Some(Label::Gpt) {
            if let Some(u) = &p.uuid {
                let _ = write!(line, ", uuid={u}");
            }
            if let Some(n) = &p.name {
                let _ = write!(line, ", name=\"{}\"", n.replace('"', ""));
            }
            if let Some(a) = &p.attributes {
                let _ = write!(line, ", attrs=\"{a}\"");
            }
        }
        if p.bootable {
            line.push_str(", bootable");
        }
        let _ = writeln!(s, "{line}");
    }
    s
}
