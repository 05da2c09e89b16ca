//! GPT and MBR partition tables, read from and written to a disk by
//! rear-build itself, so that recreating a layout needs no partitioning
//! program in the rescue system (a minimal server has none: Debian's
//! sfdisk is in `fdisk`, which debootstrap's minbase leaves out) and
//! capture works where sfdisk is too old for `--json` (util-linux < 2.27).
//!
//! A [`Table`] prints as, and is parsed from, the subset of sfdisk's script
//! format that the recovery plan writes (`label:`, `label-id:`, `unit:
//! sectors`, `sector-size:`, then one `DEVICE : start=, size=, type=,
//! uuid=, name=, attrs=, bootable` line per partition), so a printed plan
//! can also be carried out by hand with `sfdisk DEVICE < script`.
//!
//! [`gpt`] and [`mbr`] turn a table into the sectors that hold it and back;
//! [`device`] writes them to a disk and makes the kernel see the new
//! partitions. Sizes and offsets are in sectors of the table's size.

pub mod device;
pub mod gpt;
pub mod mbr;
mod script;

pub use device::{read, write};
pub use script::{partition_device, trailing_number};

/// The partition table type, as sfdisk names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    Gpt,
    Dos,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Gpt => "gpt",
            Label::Dos => "dos",
        }
    }
}

/// A partition table: what sfdisk's script and `--json` say of a disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub label: Label,
    /// GPT disk GUID (lowercase) or MBR disk identifier (`0x1234abcd`);
    /// None: a new random one is written.
    pub id: Option<String>,
    /// Logical sector size in bytes; every start and size counts these.
    pub sector_size: u32,
    /// Sorted by number.
    pub parts: Vec<Part>,
}

/// One partition. On MBR, numbers 1–4 are the primary slots and 5 up are
/// logical partitions inside the one extended partition, in chain order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Part {
    pub number: u32,
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub size: u64,
    /// GPT type GUID (lowercase) or MBR type in hex without `0x` (`83`).
    pub type_: String,
    /// GPT partition GUID (lowercase); None: a new random one is written.
    pub uuid: Option<String>,
    /// GPT partition name.
    pub name: Option<String>,
    /// GPT attribute bits as sfdisk writes them (`LegacyBIOSBootable GUID:63`).
    pub attrs: Option<String>,
    /// MBR active flag.
    pub bootable: bool,
}

impl Part {
    /// One past the last sector.
    pub fn end(&self) -> u64 {
        self.start + self.size
    }
}

/// MBR types of an extended partition (the container of logical ones).
pub fn is_extended(mbr_type: &str) -> bool {
    matches!(
        u8::from_str_radix(mbr_type.trim_start_matches("0x"), 16),
        Ok(0x05 | 0x0f | 0x85)
    )
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The script or table itself is wrong: what and where.
    #[error("{0}")]
    Invalid(String),
    /// The table does not fit the disk.
    #[error("{0}")]
    Fit(String),
    /// The disk holds no table this crate reads, or a damaged one.
    #[error("{0}")]
    Read(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

/// A GUID in its text form (any case) as the 16 bytes on disk: the first
/// three fields little-endian, the rest as written.
pub fn guid_bytes(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let groups: Vec<usize> = s.split('-').map(str::len).collect();
    if hex.len() != 32 || groups != [8, 4, 4, 4, 12] {
        return None;
    }
    let mut b = [0u8; 16];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    Some(b)
}

/// The text form (lowercase) of a GUID's 16 bytes on disk.
pub fn guid_text(b: &[u8; 16]) -> String {
    let mut b = *b;
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A new random (version 4) GUID, for a disk or partition the table does
/// not name one for (as sfdisk does).
pub fn random_guid() -> Result<[u8; 16], Error> {
    let mut b = [0u8; 16];
    random_bytes(&mut b)?;
    // Version 4 in the time_hi field (little-endian on disk), variant 10.
    b[7] = (b[7] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(b)
}

fn random_bytes(b: &mut [u8]) -> Result<(), Error> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(b))
        .map_err(Error::io("/dev/urandom"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_mixed_endian_on_disk() {
        // The EFI system partition type as the UEFI specification lists its bytes.
        let esp = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
        let b = guid_bytes(esp).unwrap();
        assert_eq!(
            b,
            [
                0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
                0xc9, 0x3b
            ]
        );
        assert_eq!(guid_text(&b), esp);
        assert_eq!(guid_bytes(&esp.to_uppercase()), Some(b));
        for bad in [
            "",
            "c12a7328f81f11d2ba4b00a0c93ec93b",
            "c12a7328-f81f-11d2-ba4b-00a0c93ec93",
            "g12a7328-f81f-11d2-ba4b-00a0c93ec93b",
        ] {
            assert_eq!(guid_bytes(bad), None, "{bad}");
        }
    }

    #[test]
    fn random_guids_are_version_4() {
        let t = guid_text(&random_guid().unwrap());
        assert_eq!(&t[14..15], "4", "{t}");
        assert!(matches!(&t[19..20], "8" | "9" | "a" | "b"), "{t}");
        assert_ne!(random_guid().unwrap(), random_guid().unwrap());
    }
}
