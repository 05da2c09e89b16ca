//! sfdisk's script format, the subset the recovery plan writes: printed
//! into the plan, parsed back by `rear-build partition-table`.

use crate::{Error, Label, Part, Table};
use std::fmt::Write;

impl Table {
    /// The script that recreates this table on `device` (its partitions
    /// are named as the kernel names them: `/dev/vda1`, `/dev/md127p1`).
    pub fn script(&self, device: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "label: {}", self.label.as_str());
        if let Some(id) = &self.id {
            let _ = writeln!(s, "label-id: {id}");
        }
        let _ = writeln!(s, "unit: sectors");
        let _ = writeln!(s, "sector-size: {}", self.sector_size);
        for p in &self.parts {
            let _ = write!(
                s,
                "{} : start={}, size={}, type={}",
                partition_device(device, p.number),
                p.start,
                p.size,
                p.type_.trim_start_matches("0x")
            );
            if self.label == Label::Gpt {
                if let Some(u) = &p.uuid {
                    let _ = write!(s, ", uuid={u}");
                }
                if let Some(n) = &p.name {
                    let _ = write!(s, ", name=\"{}\"", n.replace('"', ""));
                }
                if let Some(a) = &p.attrs {
                    let _ = write!(s, ", attrs=\"{a}\"");
                }
            }
            if p.bootable {
                s.push_str(", bootable");
            }
            s.push('\n');
        }
        s
    }

    /// Parses a script [`Table::script`] writes (or sfdisk's own dump of
    /// a table: its `device:`, `first-lba:`, `last-lba:` and
    /// `table-length:` lines are accepted and left to this crate's
    /// defaults). Errors name the line.
    pub fn parse_script(text: &str) -> Result<Table, Error> {
        let mut label = None;
        let mut id = None;
        let mut sector_size = 512u32;
        let mut parts: Vec<Part> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let bad = |what: String| Error::Invalid(format!("line {}: {what}: {line}", i + 1));
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((dev, fields)) = line.split_once(" : ") {
                let number = trailing_number(dev.trim())
                    .ok_or_else(|| bad(format!("no partition number in {:?}", dev.trim())))?;
                let mut p = Part {
                    number,
                    ..Default::default()
                };
                let (mut start, mut size) = (None, None);
                for f in split_fields(fields) {
                    let (k, v) = match f.split_once('=') {
                        Some((k, v)) => (k.trim(), Some(unquote(v.trim()))),
                        None => (f.trim(), None),
                    };
                    let num = |v: Option<String>| {
                        v.and_then(|v| v.parse::<u64>().ok())
                            .ok_or_else(|| bad(format!("{k} must be a number of sectors")))
                    };
                    match (k, v) {
                        ("start", v) => start = Some(num(v)?),
                        ("size", v) => size = Some(num(v)?),
                        ("type" | "Id", Some(v)) => p.type_ = v.to_ascii_lowercase(),
                        ("uuid", Some(v)) => p.uuid = Some(v.to_ascii_lowercase()),
                        ("name", Some(v)) => p.name = Some(v),
                        ("attrs", Some(v)) => p.attrs = Some(v),
                        ("bootable", None) => p.bootable = true,
                        (k, _) => return Err(bad(format!("unknown field {k:?}"))),
                    }
                }
                p.start = start.ok_or_else(|| bad("no start=".into()))?;
                p.size = size.ok_or_else(|| bad("no size=".into()))?;
                if p.type_.is_empty() {
                    return Err(bad("no type=".into()));
                }
                if parts.iter().any(|q| q.number == number) {
                    return Err(bad(format!("partition {number} twice")));
                }
                parts.push(p);
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                return Err(bad("neither a `key: value` nor a partition line".into()));
            };
            let v = v.trim();
            match k.trim() {
                "label" => {
                    label = Some(match v {
                        "gpt" => Label::Gpt,
                        "dos" | "mbr" | "msdos" => Label::Dos,
                        _ => return Err(bad(format!("label {v:?} (gpt or dos)"))),
                    })
                }
                "label-id" => id = Some(v.to_ascii_lowercase()),
                "unit" if v == "sectors" => {}
                "unit" => return Err(bad("only `unit: sectors` is read".into())),
                "sector-size" => {
                    sector_size = v
                        .parse()
                        .ok()
                        .filter(|s: &u32| s.is_power_of_two() && (512..=65536).contains(s))
                        .ok_or_else(|| bad("sector-size must be 512, 1024, ... 65536".into()))?
                }
                "device" | "first-lba" | "last-lba" | "table-length" | "grain" => {}
                other => return Err(bad(format!("unknown header {other:?}"))),
            }
        }
        let label = label.ok_or_else(|| Error::Invalid("no `label:` line".into()))?;
        parts.sort_by_key(|p| p.number);
        Ok(Table {
            label,
            id,
            sector_size,
            parts,
        })
    }
}

/// The kernel's name of partition `n` of `disk`: a `p` before the number
/// when the disk's name ends in a digit (`/dev/nvme0n1p1`, `/dev/md127p1`).
pub fn partition_device(disk: &str, n: u32) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{n}")
    } else {
        format!("{disk}{n}")
    }
}

/// `/dev/vda12` → 12, `/dev/nvme0n1p3` → 3, `/dev/mapper/mpatha-part2` → 2.
pub fn trailing_number(s: &str) -> Option<u32> {
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    s[s.len() - digits..].parse().ok()
}

/// Splits `a=1, name="x, y", bootable` at the commas outside quotes.
fn split_fields(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut from) = (false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[from..]);
    out.into_iter().filter(|f| !f.trim().is_empty()).collect()
}

fn unquote(v: &str) -> String {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt() -> Table {
        Table {
            label: Label::Gpt,
            id: Some("0a2f1e9c-7a33-4ac6-8d5c-5f5e1f0b8a01".into()),
            sector_size: 512,
            parts: vec![
                Part {
                    number: 1,
                    start: 2048,
                    size: 2048,
                    type_: "21686148-6449-6e6f-744e-656564454649".into(),
                    attrs: Some("LegacyBIOSBootable GUID:52,53".into()),
                    ..Default::default()
                },
                Part {
                    number: 2,
                    start: 4096,
                    size: 100000,
                    type_: "0fc63daf-8483-4772-8e79-3d69d8477de4".into(),
                    uuid: Some("9e1f2b4c-1d2e-4f50-8a6b-7c8d9e0f1a2b".into()),
                    name: Some("root, the first".into()),
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn a_script_parses_back_to_its_table() {
        let t = gpt();
        let s = t.script("/dev/nvme0n1");
        assert!(
            s.contains("/dev/nvme0n1p2 : start=4096, size=100000"),
            "{s}"
        );
        assert_eq!(Table::parse_script(&s).unwrap(), t);
        let dos = Table {
            label: Label::Dos,
            id: Some("0x1234abcd".into()),
            sector_size: 4096,
            parts: vec![Part {
                number: 5,
                start: 8,
                size: 80,
                type_: "83".into(),
                bootable: true,
                ..Default::default()
            }],
        };
        assert_eq!(Table::parse_script(&dos.script("/dev/sda")).unwrap(), dos);
    }

    #[test]
    fn sfdisks_own_dump_is_read() {
        let dump = "label: gpt\nlabel-id: 0A2F1E9C-7A33-4AC6-8D5C-5F5E1F0B8A01\ndevice: /dev/vda\nunit: sectors\nfirst-lba: 34\nlast-lba: 8388574\nsector-size: 512\n\n/dev/vda1 : start=        2048, size=        2048, type=21686148-6449-6E6F-744E-656564454649, uuid=9E1F2B4C-1D2E-4F50-8A6B-7C8D9E0F1A2B\n";
        let t = Table::parse_script(dump).unwrap();
        assert_eq!(
            t.id.as_deref(),
            Some("0a2f1e9c-7a33-4ac6-8d5c-5f5e1f0b8a01")
        );
        assert_eq!((t.parts[0].start, t.parts[0].size), (2048, 2048));
        assert_eq!(t.parts[0].type_, "21686148-6449-6e6f-744e-656564454649");
    }

    #[test]
    fn bad_scripts_are_refused_naming_the_line() {
        for (text, says) in [
            ("unit: sectors\n", "no `label:`"),
            ("label: sun\n", "line 1: label \"sun\""),
            ("label: gpt\n/dev/vda1 : start=x, size=1, type=83\n", "line 2: start must be"),
            ("label: gpt\n/dev/vda1 : size=1, type=83\n", "line 2: no start="),
            ("label: gpt\n/dev/vda : start=1, size=1, type=83\n", "no partition number"),
            ("label: gpt\n/dev/vda1 : start=1, size=1, type=83, color=red\n", "unknown field \"color\""),
            ("label: dos\n/dev/vda1 : start=1, size=1, type=83\n/dev/vda1 : start=9, size=1, type=83\n", "partition 1 twice"),
            ("label: dos\nsector-size: 1000\n", "sector-size must be"),
        ] {
            let e = Table::parse_script(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
