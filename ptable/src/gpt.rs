//! GUID Partition Table (UEFI specification, chapter 5): a protective MBR
//! in sector 0, the header in sector 1 and 128 entries of 128 bytes after
//! it, and the same entries and a mirrored header at the end of the disk.

use crate::{guid_bytes, guid_text, random_guid, Error, Label, Part, Table};

const SIGNATURE: &[u8; 8] = b"EFI PART";
const HEADER_SIZE: u32 = 92;
const ENTRIES: u32 = 128;
const ENTRY_SIZE: u32 = 128;

/// Sectors the entry array takes (32 of 512 bytes, 4 of 4096).
pub fn entry_sectors(sector_size: u32) -> u64 {
    ((ENTRIES * ENTRY_SIZE) as u64).div_ceil(sector_size as u64)
}

/// The first and last sector a partition may use on a disk of `sectors`.
pub fn usable(sectors: u64, sector_size: u32) -> (u64, u64) {
    let e = entry_sectors(sector_size);
    (2 + e, sectors.saturating_sub(2 + e))
}

/// The sectors (first LBA, bytes) that hold `t` on a disk of `sectors`.
pub fn encode(t: &Table, sectors: u64) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    let ss = t.sector_size as usize;
    let (first, last) = usable(sectors, t.sector_size);
    let lba_last = sectors
        .checked_sub(1)
        .filter(|_| last > first)
        .ok_or_else(|| {
            Error::Fit(format!(
                "a disk of {sectors} sectors is too small for a GPT"
            ))
        })?;
    crate::mbr::check_overlaps(&t.parts, first, last + 1, "the disk's usable sectors")?;
    let mut entries = vec![0u8; (ENTRIES * ENTRY_SIZE) as usize];
    for p in &t.parts {
        if !(1..=ENTRIES).contains(&p.number) {
            return Err(Error::Invalid(format!(
                "partition number {} (a GPT has 1 to {ENTRIES})",
                p.number
            )));
        }
        let e = &mut entries[((p.number - 1) * ENTRY_SIZE) as usize..][..ENTRY_SIZE as usize];
        let ty = guid_bytes(&p.type_).ok_or_else(|| {
            Error::Invalid(format!(
                "partition {}: type {:?} is not a GUID",
                p.number, p.type_
            ))
        })?;
        if ty == [0; 16] {
            return Err(Error::Invalid(format!(
                "partition {}: the all-zero type marks an unused entry",
                p.number
            )));
        }
        let uuid = match &p.uuid {
            Some(u) => guid_bytes(u).ok_or_else(|| {
                Error::Invalid(format!("partition {}: uuid {u:?} is not a GUID", p.number))
            })?,
            None => random_guid()?,
        };
        e[0..16].copy_from_slice(&ty);
        e[16..32].copy_from_slice(&uuid);
        e[32..40].copy_from_slice(&p.start.to_le_bytes());
        e[40..48].copy_from_slice(&(p.end() - 1).to_le_bytes());
        let attrs = match &p.attrs {
            Some(a) => parse_attrs(a)
                .map_err(|e| Error::Invalid(format!("partition {}: attrs: {e}", p.number)))?,
            None => 0,
        };
        e[48..56].copy_from_slice(&attrs.to_le_bytes());
        let name: Vec<u16> = p.name.as_deref().unwrap_or("").encode_utf16().collect();
        if name.len() > 36 {
            return Err(Error::Invalid(format!(
                "partition {}: the name {:?} is longer than a GPT's 36 UTF-16 units",
                p.number,
                p.name.as_deref().unwrap_or("")
            )));
        }
        for (i, u) in name.iter().enumerate() {
            e[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
    }
    let disk = match &t.id {
        Some(id) => guid_bytes(id)
            .ok_or_else(|| Error::Invalid(format!("label-id {id:?} is not a GUID")))?,
        None => random_guid()?,
    };
    let entries_crc = crc32fast::hash(&entries);
    let es = entry_sectors(t.sector_size);
    let header = |current: u64, backup: u64, table: u64| {
        let mut h = vec![0u8; ss];
        h[0..8].copy_from_slice(SIGNATURE);
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&HEADER_SIZE.to_le_bytes());
        h[24..32].copy_from_slice(&current.to_le_bytes());
        h[32..40].copy_from_slice(&backup.to_le_bytes());
        h[40..48].copy_from_slice(&first.to_le_bytes());
        h[48..56].copy_from_slice(&last.to_le_bytes());
        h[56..72].copy_from_slice(&disk);
        h[72..80].copy_from_slice(&table.to_le_bytes());
        h[80..84].copy_from_slice(&ENTRIES.to_le_bytes());
        h[84..88].copy_from_slice(&ENTRY_SIZE.to_le_bytes());
        h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
        let crc = crc32fast::hash(&h[..HEADER_SIZE as usize]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    };
    let mut padded = entries;
    padded.resize(es as usize * ss, 0);
    Ok(vec![
        (0, protective_mbr(sectors, ss)),
        (1, header(1, lba_last, 2)),
        (2, padded.clone()),
        (lba_last - es, padded),
        (lba_last, header(lba_last, 1, lba_last - es)),
    ])
}

/// Sector 0 of a GPT disk: one partition of type 0xEE over the whole disk
/// (as far as 32 bits reach), so MBR-only tools see it as in use.
fn protective_mbr(sectors: u64, ss: usize) -> Vec<u8> {
    let mut m = vec![0u8; ss];
    let size = (sectors - 1).min(u32::MAX as u64) as u32;
    let e = &mut m[446..462];
    e[1..4].copy_from_slice(&[0x00, 0x02, 0x00]);
    e[4] = 0xee;
    e[5..8].copy_from_slice(&[0xff, 0xff, 0xff]);
    e[8..12].copy_from_slice(&1u32.to_le_bytes());
    e[12..16].copy_from_slice(&size.to_le_bytes());
    m[510] = 0x55;
    m[511] = 0xaa;
    m
}

/// Reads the GPT of a disk of `sectors` through `read(lba, count)`: the
/// primary header and entries, or, when either fails its checksum, the
/// backup ones at the end of the disk.
pub fn decode(
    read: &mut dyn FnMut(u64, u64) -> Result<Vec<u8>, Error>,
    sectors: u64,
    sector_size: u32,
) -> Result<Table, Error> {
    let primary = header_at(read, 1, sector_size);
    let (h, entries) = match primary {
        Ok(ok) => ok,
        Err(first) => {
            let alt = sectors.saturating_sub(1);
            header_at(read, alt, sector_size).map_err(|e| {
                Error::Read(format!(
                    "the GPT header is damaged ({first}), and so is its backup at sector {alt} ({e})"
                ))
            })?
        }
    };
    let size = u32::from_le_bytes(h[84..88].try_into().unwrap()) as usize;
    let mut parts = Vec::new();
    for (i, e) in entries.chunks(size).enumerate() {
        let ty: [u8; 16] = e[0..16].try_into().unwrap();
        if ty == [0; 16] {
            continue;
        }
        let first = u64::from_le_bytes(e[32..40].try_into().unwrap());
        let last = u64::from_le_bytes(e[40..48].try_into().unwrap());
        if last < first {
            return Err(Error::Read(format!(
                "GPT entry {}: last sector {last} before first {first}",
                i + 1
            )));
        }
        let units: Vec<u16> = e[56..128]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        let name = String::from_utf16_lossy(&units);
        let attrs = u64::from_le_bytes(e[48..56].try_into().unwrap());
        parts.push(Part {
            number: i as u32 + 1,
            start: first,
            size: last - first + 1,
            type_: guid_text(&ty),
            uuid: Some(guid_text(e[16..32].try_into().unwrap())),
            name: (!name.is_empty()).then_some(name),
            attrs: (attrs != 0).then(|| attrs_text(attrs)),
            bootable: false,
        });
    }
    Ok(Table {
        label: Label::Gpt,
        id: Some(guid_text(h[56..72].try_into().unwrap())),
        sector_size,
        parts,
    })
}

/// The header at `lba` and its entry array, both checksums verified.
fn header_at(
    read: &mut dyn FnMut(u64, u64) -> Result<Vec<u8>, Error>,
    lba: u64,
    sector_size: u32,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let h = read(lba, 1).map_err(|e| e.to_string())?;
    if &h[0..8] != SIGNATURE {
        return Err(format!("no \"EFI PART\" signature in sector {lba}"));
    }
    let len = u32::from_le_bytes(h[12..16].try_into().unwrap()) as usize;
    if !(92..=h.len()).contains(&len) {
        return Err(format!("header size {len}"));
    }
    let mut c = h[..len].to_vec();
    c[16..20].fill(0);
    if crc32fast::hash(&c) != u32::from_le_bytes(h[16..20].try_into().unwrap()) {
        return Err(format!("the header in sector {lba} fails its CRC32"));
    }
    let table = u64::from_le_bytes(h[72..80].try_into().unwrap());
    let count = u32::from_le_bytes(h[80..84].try_into().unwrap()) as u64;
    let size = u32::from_le_bytes(h[84..88].try_into().unwrap()) as u64;
    if !(128..=4096).contains(&size) || size % 8 != 0 || count > 4096 {
        return Err(format!("{count} entries of {size} bytes"));
    }
    let bytes = count * size;
    let mut entries = read(table, bytes.div_ceil(sector_size as u64)).map_err(|e| e.to_string())?;
    entries.truncate(bytes as usize);
    if crc32fast::hash(&entries) != u32::from_le_bytes(h[88..92].try_into().unwrap()) {
        return Err(format!("the entries at sector {table} fail their CRC32"));
    }
    Ok((h, entries))
}

/// Attribute bits 0–2 by their UEFI names, as sfdisk prints them.
const NAMED: [(u32, &str); 3] = [
    (0, "RequiredPartition"),
    (1, "NoBlockIOProtocol"),
    (2, "LegacyBIOSBootable"),
];

/// sfdisk's attribute text (`RequiredPartition LegacyBIOSBootable
/// GUID:52,53`: names for bits 0–2, `GUID:` bits 48–63, bare bit
/// numbers, separated by blanks or commas) as the 64-bit field.
pub fn parse_attrs(s: &str) -> Result<u64, String> {
    let mut bits = 0u64;
    let mut guid = false;
    for word in s.split([' ', ',']).filter(|w| !w.is_empty()) {
        let word = match word.strip_prefix("GUID:") {
            Some(rest) => {
                guid = true;
                rest
            }
            None => word,
        };
        if word.is_empty() {
            continue;
        }
        let bit = match NAMED.iter().find(|(_, n)| *n == word) {
            Some((b, _)) => *b,
            None => match word.parse::<u32>() {
                Ok(b) if b < 64 && (!guid || b >= 48) => b,
                _ => {
                    return Err(format!(
                        "{word:?} is not an attribute (names, GUID:48 to 63)"
                    ))
                }
            },
        };
        bits |= 1 << bit;
    }
    Ok(bits)
}

/// The 64-bit attribute field as sfdisk prints it.
pub fn attrs_text(bits: u64) -> String {
    let mut words: Vec<String> = NAMED
        .iter()
        .filter(|(b, _)| bits & (1 << b) != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    words.extend(
        (3..48)
            .filter(|b| bits & (1 << b) != 0)
            .map(|b| b.to_string()),
    );
    let guid: Vec<String> = (48..64)
        .filter(|b| bits & (1u64 << b) != 0)
        .map(|b| b.to_string())
        .collect();
    if !guid.is_empty() {
        words.push(format!("GUID:{}", guid.join(",")));
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_as_sfdisk_writes_them() {
        let bits = parse_attrs("RequiredPartition LegacyBIOSBootable GUID:52,53").unwrap();
        assert_eq!(bits, 1 | 4 | 1 << 52 | 1 << 53);
        assert_eq!(
            attrs_text(bits),
            "RequiredPartition LegacyBIOSBootable GUID:52,53"
        );
        assert_eq!(parse_attrs("GUID:63").unwrap(), 1 << 63);
        assert!(parse_attrs("GUID:3").is_err());
        assert!(parse_attrs("Hidden").is_err());
    }

    #[test]
    fn the_entry_array_fills_sectors_of_either_size() {
        assert_eq!(usable(8_388_608, 512), (34, 8_388_574));
        assert_eq!(usable(1_048_576, 4096), (6, 1_048_570));
    }
}
