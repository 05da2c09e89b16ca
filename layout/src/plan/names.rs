//! How a `--map OLD=NEW` entry (or `rear.map=`) names a disk, and which
//! disk a name stands for: a disk of the saved layout (OLD) or a disk here
//! (NEW). Kernel names of SCSI disks follow the scan order, so a disk may
//! also be named by what stays with it: its `/dev/disk/by-id` or
//! `/dev/disk/by-path` link, its WWN or its serial. Pure: the links are
//! the ones [`crate::present::add_links`] put on each present disk, and the
//! layout's are the by-id names capture recorded.

use super::PresentDisk;
use crate::model::{Disk, Layout};
use std::fmt;

const BY_ID: &str = "/dev/disk/by-id/";
const BY_PATH: &str = "/dev/disk/by-path/";

/// What the forms are, for error messages.
pub const FORMS: &str =
    "/dev/NAME, /dev/disk/by-id/NAME, /dev/disk/by-path/NAME, wwn:VALUE or serial:VALUE";

/// One side of a map entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskName {
    /// A kernel name, `/dev/sda`.
    Kernel(String),
    /// The name of a `/dev/disk/by-id` link.
    ById(String),
    /// The name of a `/dev/disk/by-path` link.
    ByPath(String),
    /// `wwn:VALUE`.
    Wwn(String),
    /// `serial:VALUE`.
    Serial(String),
}

impl fmt::Display for DiskName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            DiskName::Kernel(d) => write!(f, "{d}"),
            DiskName::ById(n) => write!(f, "{BY_ID}{n}"),
            DiskName::ByPath(n) => write!(f, "{BY_PATH}{n}"),
            DiskName::Wwn(w) => write!(f, "wwn:{w}"),
            DiskName::Serial(s) => write!(f, "serial:{s}"),
        }
    }
}

impl DiskName {
    /// Reads one side of a map entry.
    pub fn parse(text: &str) -> Result<DiskName, String> {
        let bad = |why: &str| Err(format!("{text:?} {why} (expected {FORMS})"));
        let plain = |v: &str| !v.is_empty() && !v.contains('/') && v != "." && v != "..";
        if let Some(v) = text.strip_prefix("wwn:") {
            let v = v.trim();
            if v.is_empty() {
                return bad("gives no WWN");
            }
            return Ok(DiskName::Wwn(v.to_string()));
        }
        if let Some(v) = text.strip_prefix("serial:") {
            let v = v.trim();
            if v.is_empty() {
                return bad("gives no serial");
            }
            return Ok(DiskName::Serial(v.to_string()));
        }
        if let Some(n) = text.strip_prefix(BY_ID) {
            return if plain(n) {
                Ok(DiskName::ById(n.to_string()))
            } else {
                bad("is no link name in /dev/disk/by-id")
            };
        }
        if let Some(n) = text.strip_prefix(BY_PATH) {
            return if plain(n) {
                Ok(DiskName::ByPath(n.to_string()))
            } else {
                bad("is no link name in /dev/disk/by-path")
            };
        }
        if text.starts_with("/dev/disk/") {
            // by-uuid, by-label, by-partuuid: file systems and partitions.
            return bad("names no whole disk");
        }
        match text.strip_prefix("/dev/") {
            Some(rest)
                if !rest.is_empty()
                    && rest
                        .split('/')
                        .all(|c| !c.is_empty() && c != "." && c != "..")
                    && !text.contains(char::is_whitespace) =>
            {
                Ok(DiskName::Kernel(text.to_string()))
            }
            _ => bad("is not a form of disk name"),
        }
    }

    /// The present disks this name stands for (none, one, or, for a WWN or
    /// serial that two disks share, several).
    fn matches<'a>(&self, present: &'a [PresentDisk]) -> Vec<&'a PresentDisk> {
        present
            .iter()
            .filter(|p| match self {
                DiskName::Kernel(d) => &p.device == d,
                DiskName::ById(n) => p.by_id.contains(n),
                DiskName::ByPath(n) => p.by_path.contains(n),
                DiskName::Wwn(w) => p.wwn.as_deref().is_some_and(|x| same_wwn(x, w)),
                DiskName::Serial(s) => p.serial.as_deref().is_some_and(|x| x.trim() == s),
            })
            .collect()
    }
}

/// A WWN as compared: case and blanks around it do not count, nor the
/// prefix that says it is NAA (`0x` as lsblk and udev print it, `naa.` as
/// sysfs's wwid does).
pub fn normal_wwn(w: &str) -> String {
    let w = w.trim().to_ascii_lowercase();
    match w.strip_prefix("0x").or_else(|| w.strip_prefix("naa.")) {
        Some(rest) => rest.to_string(),
        None => w,
    }
}

/// Whether two WWNs name the same disk.
pub fn same_wwn(a: &str, b: &str) -> bool {
    let (a, b) = (normal_wwn(a), normal_wwn(b));
    !a.is_empty() && a == b
}

/// Splits `OLD=NEW`. A link name may hold `=` itself: the entry is split
/// at the one `=` where both sides are disk names.
pub fn split_entry(entry: &str) -> Result<(DiskName, DiskName), String> {
    let mut found = Vec::new();
    let mut last_err = None;
    for (i, _) in entry.match_indices('=') {
        match (
            DiskName::parse(&entry[..i]),
            DiskName::parse(&entry[i + 1..]),
        ) {
            (Ok(o), Ok(n)) => found.push((o, n)),
            (Err(e), _) | (_, Err(e)) => last_err = Some(e),
        }
    }
    match found.len() {
        1 => Ok(found.pop().unwrap()),
        0 => Err(match last_err {
            Some(e) => e,
            None => "expected OLD=NEW, e.g. --map /dev/sda=/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"
                .into(),
        }),
        _ => Err(format!(
            "it splits into OLD=NEW in {} ways ({}): name the disks by wwn: or serial:",
            found.len(),
            found
                .iter()
                .map(|(o, n)| format!("{o} = {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Each disk here, described, with its links: what an error offers.
fn here(present: &[PresentDisk]) -> String {
    if present.is_empty() {
        return "there are no disks here".into();
    }
    let disks: Vec<String> = present
        .iter()
        .map(|p| {
            let mut s = p.describe();
            for n in &p.by_id {
                s.push_str(&format!(", {BY_ID}{n}"));
            }
            for n in &p.by_path {
                s.push_str(&format!(", {BY_PATH}{n}"));
            }
            s
        })
        .collect();
    format!("disks here: {}", disks.join("; "))
}

/// The disk here that `name` (the NEW side) stands for.
pub fn find_present<'a>(
    name: &DiskName,
    present: &'a [PresentDisk],
) -> Result<&'a PresentDisk, String> {
    let found = name.matches(present);
    match found[..] {
        [one] => Ok(one),
        [] => {
            let what = match name {
                DiskName::Kernel(d) => match present.iter().find(|p| p.partitions.contains(d)) {
                    Some(p) => format!("{d} is a partition of {}, not a whole disk", p.device),
                    None => format!("{d} is not a disk on this machine"),
                },
                DiskName::ById(n) if n.contains("-part") => {
                    format!("no disk here is {name} (a -partN link names a partition, not a disk)")
                }
                DiskName::ById(_) | DiskName::ByPath(_) => format!(
                    "no disk here is {name} (where udev made no links, as in the rescue \
                     system, only wwn-, virtio- and nvme-eui. names are known; wwn:VALUE \
                     and serial:VALUE always are)"
                ),
                DiskName::Wwn(_) => format!("no disk here has the WWN of {name}"),
                DiskName::Serial(_) => format!("no disk here has the serial of {name}"),
            };
            Err(format!("{what} ({})", here(present)))
        }
        _ => Err(format!(
            "{name} is ambiguous: {} all have it; name the disk by its /dev/disk/by-path link",
            found
                .iter()
                .map(|p| p.device.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A disk of the layout with what it was recorded by.
fn recorded(d: &Disk) -> String {
    let mut s = d.device.clone();
    if let Some(w) = &d.wwn {
        s.push_str(&format!(", wwn:{w}"));
    }
    if let Some(x) = &d.serial {
        s.push_str(&format!(", serial:{x}"));
    }
    for n in &d.by_id {
        s.push_str(&format!(", {BY_ID}{n}"));
    }
    s
}

/// The disk of the layout that `name` (the OLD side) stands for, by what
/// capture recorded of it: its kernel name, by-id names, WWN or serial.
pub fn find_layout<'a>(name: &DiskName, layout: &'a Layout) -> Result<&'a Disk, String> {
    let found: Vec<&Disk> = layout
        .disks
        .iter()
        .filter(|d| match name {
            DiskName::Kernel(k) => &d.device == k,
            DiskName::ById(n) => d.by_id.contains(n),
            DiskName::ByPath(_) => false,
            DiskName::Wwn(w) => d.wwn.as_deref().is_some_and(|x| same_wwn(x, w)),
            DiskName::Serial(s) => d.serial.as_deref().is_some_and(|x| x.trim() == s),
        })
        .collect();
    let disks = || {
        layout
            .disks
            .iter()
            .map(recorded)
            .collect::<Vec<_>>()
            .join("; ")
    };
    match found[..] {
        [one] => Ok(one),
        [] => Err(match name {
            DiskName::Kernel(k) => format!(
                "{k} is not a disk of the saved layout (its disks: {})",
                disks()
            ),
            DiskName::ByPath(_) => format!(
                "the saved layout records no by-path names: name its disk by kernel name, \
                 by-id name, wwn: or serial: (its disks: {})",
                disks()
            ),
            _ => format!(
                "{name} names no disk of the saved layout (its disks: {})",
                disks()
            ),
        }),
        _ => Err(format!(
            "{name} is ambiguous: the saved layout's {} all have it",
            found
                .iter()
                .map(|d| d.device.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
