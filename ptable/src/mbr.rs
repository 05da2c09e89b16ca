//! The MBR ("dos") partition table: four primary slots in sector 0, and
//! logical partitions as a chain of extended boot records (EBRs) inside
//! the one extended partition, each EBR just before its partition.

use crate::{is_extended, Error, Label, Part, Table};

/// Where the EBR of a logical partition goes: this far before it (fdisk's
/// 1 MiB alignment on 512-byte sectors) when free, else the sector before.
const EBR_GAP: u64 = 2048;

/// Partitions must lie in `[lo, hi)` and not overlap each other.
pub(crate) fn check_overlaps<'a>(
    parts: impl IntoIterator<Item = &'a Part>,
    lo: u64,
    hi: u64,
    area: &str,
) -> Result<(), Error> {
    let mut sorted: Vec<&Part> = parts.into_iter().collect();
    sorted.sort_by_key(|p| p.start);
    for p in &sorted {
        if p.size == 0 {
            return Err(Error::Invalid(format!("partition {}: size 0", p.number)));
        }
        if p.start < lo || p.end() > hi {
            return Err(Error::Fit(format!(
                "partition {} (sectors {}..{}) is outside {area} ({lo}..{hi})",
                p.number,
                p.start,
                p.end()
            )));
        }
    }
    for w in sorted.windows(2) {
        if w[1].start < w[0].end() {
            return Err(Error::Invalid(format!(
                "partitions {} and {} overlap",
                w[0].number, w[1].number
            )));
        }
    }
    Ok(())
}

/// The sectors (LBA, bytes) that hold `t` on a disk of `sectors`.
pub fn encode(t: &Table, sectors: u64) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    let ss = t.sector_size as usize;
    let (primary, logical): (Vec<&Part>, Vec<&Part>) = t.parts.iter().partition(|p| p.number <= 4);
    if let Some(p) = t.parts.iter().find(|p| p.number == 0) {
        return Err(Error::Invalid(format!("partition number {}", p.number)));
    }
    for p in &t.parts {
        if u8::from_str_radix(p.type_.trim_start_matches("0x"), 16).is_err() {
            return Err(Error::Invalid(format!(
                "partition {}: type {:?} is not an MBR type (two hex digits)",
                p.number, p.type_
            )));
        }
        if p.start > u32::MAX as u64 || p.size > u32::MAX as u64 {
            return Err(Error::Fit(format!(
                "partition {} lies past 2^32 sectors, beyond what an MBR can address (use GPT)",
                p.number
            )));
        }
    }
    check_overlaps(primary.iter().copied(), 1, sectors, "the disk")?;
    let mut extended = primary.iter().filter(|p| is_extended(&p.type_));
    let ext = extended.next();
    if let Some(second) = extended.next() {
        return Err(Error::Invalid(format!(
            "partitions {} and {} are both extended (an MBR has one)",
            ext.map_or(0, |p| p.number),
            second.number
        )));
    }
    let id = match &t.id {
        Some(id) => u32::from_str_radix(id.trim_start_matches("0x"), 16)
            .map_err(|_| Error::Invalid(format!("label-id {id:?} is not a 32-bit hex number")))?,
        None => {
            let mut b = [0u8; 4];
            crate::random_bytes(&mut b)?;
            u32::from_le_bytes(b)
        }
    };
    let mut mbr = vec![0u8; ss];
    mbr[440..444].copy_from_slice(&id.to_le_bytes());
    for p in &primary {
        put_entry(&mut mbr, p.number as usize - 1, p, p.start);
    }
    sign(&mut mbr);
    let mut out = vec![(0, mbr)];
    if logical.is_empty() {
        return Ok(out);
    }
    let ext = ext.ok_or_else(|| {
        Error::Invalid(format!(
            "logical partition {} needs an extended partition (type 5, f or 85) among 1-4",
            logical[0].number
        ))
    })?;
    check_overlaps(
        logical.iter().copied(),
        ext.start + 1,
        ext.end(),
        "the extended partition",
    )?;
    let mut numbers: Vec<u32> = logical.iter().map(|p| p.number).collect();
    numbers.sort();
    if numbers.iter().enumerate().any(|(i, n)| *n != 5 + i as u32) {
        return Err(Error::Invalid(format!(
            "logical partitions are numbered 5, 6, ... without gaps (here {numbers:?})"
        )));
    }
    let ebrs = ebr_sectors(ext, &logical)?;
    for (i, p) in logical.iter().enumerate() {
        let mut ebr = vec![0u8; ss];
        put_entry(&mut ebr, 0, p, p.start - ebrs[i]);
        if let (Some(next), Some(&at)) = (logical.get(i + 1), ebrs.get(i + 1)) {
            let link = Part {
                start: at,
                size: next.end() - at,
                type_: "05".into(),
                ..Default::default()
            };
            put_entry(&mut ebr, 1, &link, at - ext.start);
        }
        sign(&mut ebr);
        out.push((ebrs[i], ebr));
    }
    Ok(out)
}

/// The EBR sector of each logical partition (in number order): the
/// extended partition's first sector for the first one when free, else
/// [`EBR_GAP`] before the partition, else the sector right before it;
/// never inside another logical partition or another EBR.
fn ebr_sectors(ext: &Part, logical: &[&Part]) -> Result<Vec<u64>, Error> {
    let mut taken: Vec<u64> = Vec::new();
    for (i, p) in logical.iter().enumerate() {
        let free = |s: u64, taken: &[u64]| {
            s >= ext.start
                && s < p.start
                && !taken.contains(&s)
                && !logical.iter().any(|q| q.start <= s && s < q.end())
        };
        let candidates = [
            (i == 0).then_some(ext.start),
            p.start.checked_sub(EBR_GAP),
            p.start.checked_sub(1),
        ];
        let at = candidates
            .into_iter()
            .flatten()
            .find(|s| free(*s, &taken))
            .ok_or_else(|| {
                Error::Fit(format!(
                    "logical partition {} has no free sector before it for its EBR",
                    p.number
                ))
            })?;
        taken.push(at);
    }
    Ok(taken)
}

/// Writes `p` into slot `slot` of a boot record, its first sector given
/// relative to the record (`rel`).
fn put_entry(rec: &mut [u8], slot: usize, p: &Part, rel: u64) {
    let e = &mut rec[446 + 16 * slot..462 + 16 * slot];
    e[0] = if p.bootable { 0x80 } else { 0 };
    e[1..4].copy_from_slice(&chs(p.start));
    e[4] = u8::from_str_radix(p.type_.trim_start_matches("0x"), 16).unwrap_or(0);
    e[5..8].copy_from_slice(&chs(p.end() - 1));
    e[8..12].copy_from_slice(&(rel as u32).to_le_bytes());
    e[12..16].copy_from_slice(&(p.size as u32).to_le_bytes());
}

fn sign(rec: &mut [u8]) {
    rec[510] = 0x55;
    rec[511] = 0xaa;
}

/// Cylinder/head/sector of an LBA in the 255-head, 63-sector geometry,
/// 1023/254/63 past its reach. Linux and every BIOS that boots Linux
/// read the LBA fields; these are for old tools that look.
fn chs(lba: u64) -> [u8; 3] {
    let (h, s) = (255u64, 63u64);
    let c = lba / (h * s);
    if c > 1023 {
        return [254, 0xff, 0xff];
    }
    let head = (lba / s) % h;
    let sector = lba % s + 1;
    [
        head as u8,
        (sector as u8) | (((c >> 2) & 0xc0) as u8),
        (c & 0xff) as u8,
    ]
}

/// Reads an MBR and its chain of EBRs through `read(lba, count)`.
pub fn decode(
    read: &mut dyn FnMut(u64, u64) -> Result<Vec<u8>, Error>,
    sector_size: u32,
) -> Result<Table, Error> {
    let mbr = read(0, 1)?;
    if mbr[510..512] != [0x55, 0xaa] {
        return Err(Error::Read(
            "no partition table (no 55aa signature in sector 0)".into(),
        ));
    }
    let id = u32::from_le_bytes(mbr[440..444].try_into().unwrap());
    let mut parts = Vec::new();
    let mut ext = None;
    for slot in 0..4 {
        let Some(p) = entry(&mbr, slot, 0, slot as u32 + 1) else {
            continue;
        };
        if is_extended(&p.type_) {
            ext = Some(p.start);
        }
        parts.push(p);
    }
    if let Some(ext_start) = ext {
        let mut at = ext_start;
        let mut number = 5;
        let mut seen = Vec::new();
        while number < 5 + 256 {
            if seen.contains(&at) {
                return Err(Error::Read(format!("the EBR chain loops at sector {at}")));
            }
            seen.push(at);
            let ebr = read(at, 1)?;
            if ebr[510..512] != [0x55, 0xaa] {
                return Err(Error::Read(format!("no EBR signature in sector {at}")));
            }
            if let Some(p) = entry(&ebr, 0, at, number) {
                parts.push(p);
                number += 1;
            }
            match entry(&ebr, 1, ext_start, 0) {
                Some(link) if is_extended(&link.type_) => at = link.start,
                _ => break,
            }
        }
    }
    Ok(Table {
        label: Label::Dos,
        id: Some(format!("0x{id:08x}")),
        sector_size,
        parts,
    })
}

/// Slot `slot` of a boot record whose offsets count from `base`; None
/// when empty.
fn entry(rec: &[u8], slot: usize, base: u64, number: u32) -> Option<Part> {
    let e = &rec[446 + 16 * slot..462 + 16 * slot];
    let (ty, rel, size) = (
        e[4],
        u32::from_le_bytes(e[8..12].try_into().unwrap()),
        u32::from_le_bytes(e[12..16].try_into().unwrap()),
    );
    (ty != 0 && size != 0).then(|| Part {
        number,
        start: base + rel as u64,
        size: size as u64,
        type_: format!("{ty:x}"),
        bootable: e[0] & 0x80 != 0,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chs_follows_the_255_63_geometry() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(2048), [32, 33, 0]);
        assert_eq!(chs(1024 * 255 * 63), [254, 0xff, 0xff]);
    }
}
