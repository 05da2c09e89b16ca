//! Import of ReaR's `disklayout.conf` (written by `rear savelayout` or
//! `rear mkrescue` to `/var/lib/rear/layout/disklayout.conf`) into our
//! [`Layout`].
//!
//! The file holds one component per line. ReaR reads each line with the bash
//! builtin `read`, which splits on runs of blanks, so we do the same (ReaR
//! itself writes empty values such as `label=` followed by two blanks). Lines
//! starting with `#` are comments; a component line commented out (`#lvmvol
//! ...`, no blank after the `#`) is how ReaR excludes a component, and is kept
//! as a [`Note`]. Blank lines are skipped. Unknown line types and malformed
//! lines are errors that name the line ([`ImportError`]).
//!
//! What the line types mean, their fields and units, comes from ReaR's own
//! scripts (`usr/share/rear/layout/save/GNU/Linux/*.sh` write the file,
//! `layout/prepare/GNU/Linux/*.sh` read it back), ReaR 1.17 to 2.9 and its
//! current master ("after 2.9" below):
//!
//! | line | written by | fields |
//! |---|---|---|
//! | `disk` | 200_partition_layout.sh | `<dev> <bytes> [<label>]`; label is parted's name: `msdos`, `gpt`, `gpt_sync_mbr`, `dasd`, `loop` (a file system on the whole disk), `unknown` or nothing (no partition table) |
//! | `part` | 200_partition_layout.sh | `<disk> <bytes> <start bytes> <msdos kind or GPT name> <flags,or none> <partdev> [<partuuid>]`; GPT names are percent-encoded since ReaR 2.4 (before, blanks were written as `0x20`), `rear-noname`: no name; the PARTUUID field is written after 2.9 (`no-partuuid` when there is none) |
//! | `raidarray` | 210_raid_layout.sh (2.7+) | `<dev> level= raid-devices= devices=a,b [name=] [metadata=] [uuid=] [layout=] [chunk=KiB] [spare-devices=] [size=KiB]`; `level=container` (`metadata=imsm`/`ddf`): an IMSM/DDF container on its disks; `devices=<container> size=<KiB per disk>`: an array inside it |
//! | `raid` | 21_raid_layout.sh (up to 2.6) | `<dev> metadata= level= raid-devices= uuid= [name=] [spare-devices=] [layout=] [chunk=KiB] devices=a,b`, followed by `part` lines naming the array when it is partitioned (no label: msdos when all are primary/extended/logical, else GPT) |
//! | `raiddisk` | 210_raid_layout.sh (2.7+) | `<md dev> <bytes> [<label>]`, followed by `part` lines when the array is partitioned: the array's partition table |
//! | `lvmdev` | 220_lvm_layout.sh | `/dev/<vg> <pv> <uuid> <size>`; the size is in 512-byte sectors up to ReaR 2.7 (`pvdisplay -c`) and in bytes from 2.8 on (`pvdisplay -C --units b`) |
//! | `lvmgrp` | 220_lvm_layout.sh | `/dev/<vg> <extent KiB> <extents> <KiB>` (`vgdisplay -c`) |
//! | `lvmvol` | 220_lvm_layout.sh | 2.4+: `/dev/<vg> <lv> <bytes>b <lv_layout> [key:value ...]` (`poolmetadatasize:` since 2.8); before: `/dev/<vg> <lv> <extents> <512-byte sectors>` (`lvdisplay -c`) |
//! | `fs` | 230_filesystem_layout.sh | `<dev> <mountpoint> <fstype> [key=value ...] options=<mount options>`; btrfs `nodesize=`, `sectorsize=`, `features=` after 2.9; ext `reserved_blocks=N%`, in old versions a block count `N` |
//! | `btrfsdefaultsubvol`, `btrfssnapshotsubvol`, `btrfsnormalsubvol` | 230_filesystem_layout.sh | `<dev> <mountpoint> <subvolume id> <path>` (`/`: the top level) |
//! | `btrfsmountedsubvol` | 230_filesystem_layout.sh | `<dev> <mountpoint> <mount options> [<path>]` |
//! | `btrfsnocopyonwrite` | 230_filesystem_layout.sh (2.3+) | `<path>` |
//! | `swap` | 240_swaps_layout.sh | `<dev> uuid= label=` |
//! | `crypt` | 260_crypt_layout.sh | 2.7+: `/dev/mapper/<name> <dev> type=luksN cipher= key_size=bits hash= uuid= [keyfile=]` (`pbkdf=` after 2.9); 2.3-2.6: the same without `type=` (LUKS1 only); before: `cipher=<name> mode=<mode> hash= uuid=` |
//! | `drbd`, `multipath`, `opaldisk`, `smartarray`, `logicaldrive`, `dasd_channel`, `dasdfmt` | 250, 280, 190, 270 and s390 scripts | not representable in our model: each becomes a [`Note`] |
//!
//! What disklayout.conf does not record is left at the model's default:
//! sector sizes (512), disk identifiers, serials, LV and VG UUIDs, and how
//! the machine boots ([`Layout::boot`] is left as it is; ReaR keeps that in
//! other files). Sizes ReaR does not record are 0: the opened size of a LUKS
//! volume ([`Luks::size`]), and a RAID array's size when there is no
//! `raiddisk` line ([`Raid::size`]).

use crate::gpt;
use crate::model::{
    lv_device, Disk, Filesystem, Label, Layout, Luks, Lv, Mount, Note, PartKind, Partition, Pv,
    Raid, Subvolume, Swap, Vg,
};
use std::collections::{BTreeMap, BTreeSet};

/// A line of disklayout.conf that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("disklayout.conf:{line}: {message}: {text}")]
pub struct ImportError {
    /// 1-based line number.
    pub line: usize,
    /// The line as it is in the file, except that the values of
    /// `password=` fields are replaced by `***`.
    pub text: String,
    /// What is wrong, starting with the line type (`part: size "12x" is not
    /// a number`).
    pub message: String,
}

/// Every line type ReaR writes (commented out, they are excluded components).
const KEYWORDS: &[&str] = &[
    "disk",
    "part",
    "raid",
    "raidarray",
    "raiddisk",
    "lvmdev",
    "lvmgrp",
    "lvmvol",
    "fs",
    "btrfsdefaultsubvol",
    "btrfssnapshotsubvol",
    "btrfsnormalsubvol",
    "btrfsmountedsubvol",
    "btrfsnocopyonwrite",
    "swap",
    "crypt",
    "multipath",
    "drbd",
    "opaldisk",
    "smartarray",
    "logicaldrive",
    "dasd_channel",
    "dasdfmt",
];

/// Reads a disklayout.conf (its text) into a layout.
///
/// Components the model cannot hold, and components ReaR excluded, are
/// listed in [`Layout::notes`]; so are values that were not imported (a LUKS
/// key file, a password, an unknown option). Sizes in bytes, device paths
/// as in the file, GPT type GUIDs lowercase, MBR types like `0x83`.
pub fn import(text: &str) -> Result<Layout, ImportError> {
    let mut records = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = Line {
            no: i + 1,
            text: raw,
            f: raw.split_whitespace().collect(),
        };
        let Some(&first) = line.f.first() else {
            continue;
        };
        if let Some(rest) = first.strip_prefix('#') {
            if KEYWORDS.contains(&rest) {
                records.push((line.no, Record::Excluded(excluded(rest, &line.f[1..]))));
            }
            continue;
        }
        records.push((line.no, parse_line(&line)?));
    }
    Builder::default().build(text, records)
}

/// One line, split into fields.
struct Line<'a> {
    no: usize,
    text: &'a str,
    f: Vec<&'a str>,
}

impl Line<'_> {
    fn err(&self, message: impl Into<String>) -> ImportError {
        error_at(self.no, self.text, message)
    }

    fn kw(&self) -> &str {
        self.f[0]
    }

    /// Fields after the keyword: at least `min`, at most `max`.
    fn count(&self, min: usize, max: usize, form: &str) -> Result<(), ImportError> {
        let n = self.f.len() - 1;
        if n < min || n > max {
            let many = if n < min { "too few" } else { "too many" };
            return Err(self.err(format!(
                "{}: {many} fields ({n}; the form is \"{} {form}\")",
                self.kw(),
                self.kw()
            )));
        }
        Ok(())
    }

    fn num(&self, what: &str, s: &str) -> Result<u64, ImportError> {
        s.parse::<u64>()
            .map_err(|_| self.err(format!("{}: {what} \"{s}\" is not a number", self.kw())))
    }

    /// A number of `unit`-byte units (KiB, sectors), in bytes.
    fn bytes(&self, what: &str, s: &str, unit: u64) -> Result<u64, ImportError> {
        self.num(what, s)?.checked_mul(unit).ok_or_else(|| {
            self.err(format!(
                "{}: {what} \"{s}\" in units of {unit} bytes is past 2^64 bytes",
                self.kw()
            ))
        })
    }

    /// A number with an optional unit suffix (`4096b`, `12345B`).
    fn num_suffix(&self, what: &str, s: &str, suffix: char) -> Result<u64, ImportError> {
        self.num(what, s.strip_suffix(suffix).unwrap_or(s))
    }

    fn dev(&self, what: &str, s: &str) -> Result<String, ImportError> {
        if s.starts_with("/dev/") && s.len() > 5 {
            Ok(s.to_string())
        } else {
            Err(self.err(format!(
                "{}: {what} \"{s}\" is not a device path (/dev/...)",
                self.kw()
            )))
        }
    }

    /// `key=value` fields from `from` on. With `label_continues`, words
    /// without `=` after `label=` are taken as the rest of a label with
    /// blanks (ReaR writes labels unquoted).
    fn kv(&self, from: usize, label_continues: bool) -> Result<Vec<(String, String)>, ImportError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for tok in &self.f[from.min(self.f.len())..] {
            match tok.split_once('=') {
                Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
                _ => match out.last_mut() {
                    Some((k, v)) if label_continues && k == "label" => {
                        v.push(' ');
                        v.push_str(tok);
                    }
                    _ => {
                        return Err(self.err(format!(
                            "{}: \"{}\" is not key=value",
                            self.kw(),
                            redact(tok)
                        )))
                    }
                },
            }
        }
        Ok(out)
    }
}

fn error_at(no: usize, text: &str, message: impl Into<String>) -> ImportError {
    ImportError {
        line: no,
        text: redact_line(text),
        message: message.into(),
    }
}

/// The line with the value of every `password=` field replaced by `***`,
/// blanks and tabs kept as they are.
fn redact_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    let mut field_start = true;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            skipping = false;
            field_start = true;
            out.push(c);
            continue;
        }
        if field_start && text[i..].starts_with("password=") {
            out.push_str("password=***");
            skipping = true;
        } else if !skipping {
            out.push(c);
        }
        field_start = false;
    }
    out
}

/// `password=secret` → `password=***`: secrets never leave the importer.
fn redact(tok: &str) -> String {
    match tok.split_once('=') {
        Some(("password", _)) => "password=***".to_string(),
        _ => tok.to_string(),
    }
}

/// A line, parsed but not yet resolved against the others.
enum Record {
    Disk(DiskRec),
    Part(PartRec),
    Raid(RaidRec),
    RaidDisk(DiskRec),
    LvmDev(LvmDevRec),
    LvmGrp(LvmGrpRec),
    LvmVol(LvmVolRec),
    Fs(FsRec),
    Subvol(SubvolRec),
    MountedSubvol(MountedSubvolRec),
    NoCow(String),
    Swap(Swap),
    Crypt(Luks, Vec<Note>),
    /// Not representable: its note, and whether `part` lines may name its
    /// device as their disk (multipath devices).
    Unsupported(Note, bool),
    Excluded(Note),
}

struct DiskRec {
    dev: String,
    size: u64,
    label: Option<String>,
}

struct PartRec {
    disk: String,
    size: u64,
    start: Option<u64>,
    name_or_kind: String,
    flags: Vec<String>,
    dev: String,
    number: u32,
    partuuid: Option<String>,
}

struct RaidRec {
    raid: Raid,
    raid_devices: usize,
    members: Vec<String>,
    /// mdadm `--size` of a member of a container, KiB.
    container_size: Option<u64>,
    unknown: Vec<String>,
}

struct LvmDevRec {
    vg: String,
    pv: String,
    uuid: String,
    /// As written: sectors or bytes, see [`Builder::pv_size_unit`].
    size: Option<u64>,
}

struct LvmGrpRec {
    vg: String,
    /// Bytes.
    extent_size: u64,
    /// Bytes: the size given, else extents times their size, else 0.
    size: u64,
}

struct LvmVolRec {
    lv: Option<Lv>,
    notes: Vec<Note>,
}

struct FsRec {
    fs: Filesystem,
    mount: Mount,
    notes: Vec<Note>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SubvolKind {
    Default,
    Snapshot,
    Normal,
}

struct SubvolRec {
    kind: SubvolKind,
    dev: String,
    path: String,
}

struct MountedSubvolRec {
    dev: String,
    mountpoint: String,
    options: String,
    path: Option<String>,
}

fn parse_line(l: &Line) -> Result<Record, ImportError> {
    Ok(match l.kw() {
        "disk" => Record::Disk(parse_disk(l)?),
        "raiddisk" => Record::RaidDisk(parse_disk(l)?),
        "part" => Record::Part(parse_part(l)?),
        "raidarray" | "raid" => Record::Raid(parse_raid(l)?),
        "lvmdev" => Record::LvmDev(parse_lvmdev(l)?),
        "lvmgrp" => Record::LvmGrp(parse_lvmgrp(l)?),
        "lvmvol" => Record::LvmVol(parse_lvmvol(l)?),
        "fs" => Record::Fs(parse_fs(l)?),
        "btrfsdefaultsubvol" | "btrfssnapshotsubvol" | "btrfsnormalsubvol" => {
            l.count(4, 4, "<device> <mountpoint> <subvolume id> <path>")?;
            let dev = l.dev("device", l.f[1])?;
            l.num("subvolume id", l.f[3])?;
            let kind = match l.kw() {
                "btrfsdefaultsubvol" => SubvolKind::Default,
                "btrfssnapshotsubvol" => SubvolKind::Snapshot,
                _ => SubvolKind::Normal,
            };
            Record::Subvol(SubvolRec {
                kind,
                dev,
                path: subvol_path(l.f[4]),
            })
        }
        "btrfsmountedsubvol" => {
            l.count(3, 4, "<device> <mountpoint> <mount options> [<path>]")?;
            Record::MountedSubvol(MountedSubvolRec {
                dev: l.dev("device", l.f[1])?,
                mountpoint: l.f[2].to_string(),
                options: l.f[3].to_string(),
                path: l.f.get(4).map(|p| subvol_path(p)),
            })
        }
        "btrfsnocopyonwrite" => {
            l.count(1, 1, "<path>")?;
            Record::NoCow(subvol_path(l.f[1]))
        }
        "swap" => Record::Swap(parse_swap(l)?),
        "crypt" => {
            let (luks, notes) = parse_crypt(l)?;
            Record::Crypt(luks, notes)
        }
        "multipath" => {
            l.count(2, 4, "<device> <bytes> <label> <path,path,...>")?;
            let dev = l.dev("device", l.f[1])?;
            let size = l.num("size", l.f[2])?;
            let paths = l.f.get(4).copied().unwrap_or("");
            Record::Unsupported(
                note(
                    &dev,
                    format!("multipath device ({size} bytes, paths {paths}) is not supported yet"),
                ),
                true,
            )
        }
        "drbd" => {
            l.count(3, 3, "<device> <resource> <disk>")?;
            let dev = l.dev("device", l.f[1])?;
            Record::Unsupported(
                note(
                    &dev,
                    format!(
                        "DRBD device (resource {}, backing disk {}) is not supported yet",
                        l.f[2], l.f[3]
                    ),
                ),
                false,
            )
        }
        "opaldisk" => {
            l.count(1, 3, "<device> [boot=y|n] [password=...]")?;
            let dev = l.dev("device", l.f[1])?;
            let mut what = "TCG Opal self-encrypting disk is not supported yet".to_string();
            if l.kv(2, false)?.iter().any(|(k, _)| k == "password") {
                what.push_str(" (its password in disklayout.conf is not imported)");
            }
            Record::Unsupported(note(&dev, what), false)
        }
        "smartarray" => {
            l.count(1, 1, "<slot>")?;
            Record::Unsupported(
                note(
                    &format!("slot={}", l.f[1]),
                    "HP Smart Array controller configuration is not supported yet",
                ),
                false,
            )
        }
        "logicaldrive" => {
            l.count(
                2,
                16,
                "<device> <slot>|<array>|<drive> raid= drives= spares= ...",
            )?;
            let dev = l.dev("device", l.f[1])?;
            Record::Unsupported(
                note(
                    &dev,
                    format!(
                        "HP Smart Array logical drive ({}) is not supported yet",
                        l.f[2..].join(" ")
                    ),
                ),
                false,
            )
        }
        "dasd_channel" | "dasdfmt" => {
            // `dasd_channel <bus id> <status> <name> <device>` (from lsdasd),
            // `dasdfmt -b <blocksize> -d <layout> -y /dev/<name>`.
            let fields = &l.f[1..];
            let dev = match fields.iter().find(|f| f.starts_with("/dev/")) {
                Some(d) => d.to_string(),
                None => match fields.iter().find(|f| f.starts_with("dasd")) {
                    Some(name) => format!("/dev/{name}"),
                    None => fields.first().unwrap_or(&"").to_string(),
                },
            };
            Record::Unsupported(
                note(
                    &dev,
                    format!("s390 DASD ({}) is not supported yet", l.f.join(" ")),
                ),
                false,
            )
        }
        other => return Err(l.err(format!("unknown line type \"{other}\""))),
    })
}

fn note(device: &str, what: impl Into<String>) -> Note {
    Note {
        device: device.to_string(),
        what: what.into(),
    }
}

/// The note for a commented-out component line (`#fs /dev/vdb1 ...`).
fn excluded(kw: &str, f: &[&str]) -> Note {
    let at = |i: usize| f.get(i).copied().unwrap_or("");
    let device = match kw {
        "lvmvol" => lv_device(at(0).trim_start_matches("/dev/"), at(1)),
        "lvmdev" => at(1).to_string(),
        "part" => at(5).to_string(),
        _ => at(0).to_string(),
    };
    let what = match kw {
        "btrfssnapshotsubvol" => format!(
            "btrfs snapshot subvolume {} excluded in disklayout.conf (ReaR does not recreate snapshots)",
            subvol_path(at(3))
        ),
        "btrfsnormalsubvol" | "btrfsdefaultsubvol" => format!(
            "btrfs subvolume {} ({kw}) excluded in disklayout.conf",
            subvol_path(at(3))
        ),
        "btrfsmountedsubvol" => format!(
            "btrfs subvolume {} mounted at {} excluded in disklayout.conf",
            subvol_path(at(3)),
            at(1)
        ),
        "fs" => format!("{} file system at {} excluded in disklayout.conf", at(2), at(1)),
        "part" => format!("partition of {} excluded in disklayout.conf", at(0)),
        _ => format!("{kw} excluded in disklayout.conf"),
    };
    note(&device, what)
}

/// Subvolume paths as the model keeps them: below the top level, without a
/// leading `/` or ReaR's `<FS_TREE>/`; the top level itself is `/`.
fn subvol_path(p: &str) -> String {
    let p = p.strip_prefix("<FS_TREE>").unwrap_or(p);
    let t = p.trim_start_matches('/');
    if t.is_empty() {
        "/".to_string()
    } else {
        t.to_string()
    }
}

/// Partition table names parted reports (`Partition Table:`) and ReaR
/// writes; `loop` means a file system on the whole disk.
fn parse_disk(l: &Line) -> Result<DiskRec, ImportError> {
    l.count(2, 3, "<device> <bytes> <partition table type>")?;
    Ok(DiskRec {
        dev: l.dev("device", l.f[1])?,
        size: l.num("size", l.f[2])?,
        label: l.f.get(3).map(|s| s.to_string()),
    })
}

fn parse_part(l: &Line) -> Result<PartRec, ImportError> {
    l.count(
        6,
        7,
        "<disk> <bytes> <start> <type|name> <flags> <partition> [<partuuid>]",
    )?;
    let disk = l.dev("disk", l.f[1])?;
    // Very old ReaR wrote sizes with parted's `B` unit.
    let size = l.num_suffix("size", l.f[2], 'B')?;
    let start = match l.f[3] {
        "unknown" => None,
        s => Some(l.num_suffix("start", s, 'B')?),
    };
    let flags: Vec<String> = match l.f[5] {
        "none" => Vec::new(),
        s => s.split(',').map(str::to_string).collect(),
    };
    for flag in &flags {
        if flag.is_empty()
            || !flag
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return Err(l.err(format!("part: flag \"{flag}\" is not a parted flag")));
        }
    }
    let dev = l.dev("partition", l.f[6])?;
    let digits = dev.len() - dev.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let number: u32 = dev[dev.len() - digits..]
        .parse()
        .map_err(|_| l.err(format!("part: partition \"{dev}\" has no partition number")))?;
    let partuuid = match l.f.get(7) {
        None | Some(&"no-partuuid") => None,
        Some(u) => Some(u.to_ascii_lowercase()),
    };
    Ok(PartRec {
        disk,
        size,
        start,
        name_or_kind: l.f[4].to_string(),
        flags,
        dev,
        number,
        partuuid,
    })
}

/// `raidarray` (ReaR 2.7+) and `raid` (before) have the same `key=value`
/// fields; only their order differs.
fn parse_raid(l: &Line) -> Result<RaidRec, ImportError> {
    if l.f.len() < 2 {
        return Err(l.err(format!("{}: no device", l.kw())));
    }
    let dev = l.dev("device", l.f[1])?;
    let mut raid = Raid {
        device: dev,
        ..Default::default()
    };
    let mut raid_devices = None;
    let mut members = Vec::new();
    let mut container_size = None;
    let mut unknown = Vec::new();
    for (k, v) in l.kv(2, false)? {
        match k.as_str() {
            "level" => raid.level = v,
            "raid-devices" => raid_devices = Some(l.num("raid-devices", &v)? as usize),
            "devices" => {
                members = v
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(|d| l.dev("member", d))
                    .collect::<Result<_, _>>()?
            }
            "name" => raid.name = Some(v),
            "metadata" => raid.metadata = v,
            "uuid" => raid.uuid = v,
            "layout" => raid.layout = Some(v),
            // mdadm's "Chunk Size : 512K", written without the unit.
            "chunk" => raid.chunk = Some(l.bytes("chunk", &v, 1024)?),
            // Only a count; the spares are the members after the active ones.
            "spare-devices" => {
                l.num("spare-devices", &v)?;
            }
            // mdadm's "Used Dev Size" (KiB) of an array inside a container.
            "size" => container_size = Some(l.num("size", &v)?),
            _ => unknown.push(k),
        }
    }
    if raid.level.is_empty() {
        return Err(l.err(format!("{}: no level=", l.kw())));
    }
    if members.is_empty() {
        return Err(l.err(format!("{}: no devices=", l.kw())));
    }
    let raid_devices =
        raid_devices.ok_or_else(|| l.err(format!("{}: no raid-devices=", l.kw())))?;
    Ok(RaidRec {
        raid,
        raid_devices,
        members,
        container_size,
        unknown,
    })
}

fn parse_lvmdev(l: &Line) -> Result<LvmDevRec, ImportError> {
    l.count(2, 4, "/dev/<vg> <pv> [<uuid>] [<size>]")?;
    let vg = vg_name(l, l.f[1])?;
    let pv = l.dev("physical volume", l.f[2])?;
    let size = match l.f.get(4) {
        Some(s) => Some(l.num("size", s)?),
        None => None,
    };
    Ok(LvmDevRec {
        vg,
        pv,
        uuid: l.f.get(3).unwrap_or(&"").to_string(),
        size,
    })
}

fn vg_name(l: &Line, s: &str) -> Result<String, ImportError> {
    match s.strip_prefix("/dev/") {
        Some(vg) if !vg.is_empty() && !vg.contains('/') => Ok(vg.to_string()),
        _ => Err(l.err(format!("{}: volume group \"{s}\" is not /dev/<vg>", l.kw()))),
    }
}

fn parse_lvmgrp(l: &Line) -> Result<LvmGrpRec, ImportError> {
    l.count(2, 4, "/dev/<vg> <extent size KiB> [<extents>] [<size KiB>]")?;
    let vg = vg_name(l, l.f[1])?;
    let extent_size = l.bytes("extent size", l.f[2], 1024)?;
    let extents = l.f.get(3).map(|s| l.num("extents", s)).transpose()?;
    let size = match (l.f.get(4), extents) {
        (Some(kib), _) => l.bytes("size", kib, 1024)?,
        (None, Some(n)) => n.checked_mul(extent_size).ok_or_else(|| {
            l.err(format!(
                "lvmgrp: {n} extents of {extent_size} bytes are past 2^64 bytes"
            ))
        })?,
        (None, None) => 0,
    };
    Ok(LvmGrpRec {
        vg,
        extent_size,
        size,
    })
}

/// `lvmvol /dev/<vg> <lv> <bytes>b <lv_layout> [key:value ...]` (ReaR 2.4+)
/// or `lvmvol /dev/<vg> <lv> <extents> <sectors>` (before).
fn parse_lvmvol(l: &Line) -> Result<LvmVolRec, ImportError> {
    if l.f.len() < 4 {
        return Err(l.err(
            "lvmvol: too few fields (the form is \"lvmvol /dev/<vg> <lv> <bytes>b <layout> [key:value ...]\")",
        ));
    }
    let vg = vg_name(l, l.f[1])?;
    let name = l.f[2].to_string();
    let device = lv_device(&vg, &name);
    let mut lv = Lv {
        vg,
        name,
        device: device.clone(),
        ..Default::default()
    };
    let mut notes = Vec::new();
    if !l.f[3].ends_with('b') {
        // Old form: `lvdisplay -c` fields 8 (extents) and 7 (512-byte sectors).
        l.count(4, 4, "/dev/<vg> <lv> <extents> <sectors>")?;
        l.num("extents", l.f[3])?;
        lv.size = l.bytes("size", l.f[4], 512)?;
        lv.segtype = "linear".to_string();
        notes.push(note(
            &device,
            "old lvmvol line (ReaR before 2.4) records no LV type; taken as linear",
        ));
        return Ok(LvmVolRec {
            lv: Some(lv),
            notes,
        });
    }
    lv.size = l.num_suffix("size", l.f[3], 'b')?;
    let layout =
        l.f.get(4)
            .ok_or_else(|| l.err("lvmvol: no LV layout after the size"))?;
    let has = |w: &str| layout.split(',').any(|x| x == w);
    // As create_lvmvol() in ReaR's 110_include_lvm_code.sh reads lv_layout.
    lv.segtype = if has("thin") && has("pool") {
        "thin-pool".into()
    } else if has("thin") && has("sparse") {
        "thin".into()
    } else if has("linear") {
        "linear".into()
    } else if has("mirror") {
        "mirror".into()
    } else if has("striped") {
        "striped".into()
    } else if has("raid") {
        match ["raid0", "raid1", "raid4", "raid5", "raid6", "raid10"]
            .iter()
            .find(|lvl| has(lvl))
        {
            Some(lvl) => lvl.to_string(),
            None => {
                // RAID_UNKNOWNTYPE: ReaR recreates it as a linear volume.
                notes.push(note(
                    &device,
                    format!(
                        "LV RAID type unknown (layout {layout}); taken as linear, as ReaR does"
                    ),
                ));
                "linear".into()
            }
        }
    } else {
        notes.push(note(
            &device,
            format!("LV layout {layout} is not supported yet; LV not imported"),
        ));
        return Ok(LvmVolRec { lv: None, notes });
    };
    for kv in &l.f[5..] {
        let (k, v) = kv
            .split_once(':')
            .ok_or_else(|| l.err(format!("lvmvol: \"{kv}\" is not key:value")))?;
        match k {
            "thinpool" => lv.pool = Some(v.to_string()),
            "poolmetadatasize" => lv.metadata_size = Some(l.num_suffix(k, v, 'b')?),
            "chunksize" => lv.chunk_size = Some(l.num_suffix(k, v, 'b')?),
            "stripesize" => lv.stripe_size = Some(l.num_suffix(k, v, 'b')?),
            "stripes" => lv.stripes = Some(l.num(k, v)? as u32),
            "mirrors" => lv.mirrors = Some(l.num(k, v)? as u32),
            _ => notes.push(note(&device, format!("lvmvol option {kv} is not imported"))),
        }
    }
    Ok(LvmVolRec {
        lv: Some(lv),
        notes,
    })
}

/// A reserved block count read from an old disklayout.conf, until
/// [`Builder::reserved_counts`] makes it a percentage.
const RESERVED_COUNT: &str = "reserved_blocks (count)";

/// ext: `uuid= label= blocksize= reserved_blocks=N% max_mounts=
/// check_interval=Nd bytes_per_inode= [default_mount_options=]`;
/// vfat, xfs, reiserfs: `uuid= label=`; btrfs: `uuid= label= [nodesize=]
/// [sectorsize=] [features=]`; all: `options=` (the mount options).
fn parse_fs(l: &Line) -> Result<FsRec, ImportError> {
    if l.f.len() < 4 {
        return Err(l.err(
            "fs: too few fields (the form is \"fs <device> <mountpoint> <fstype> [key=value ...]\")",
        ));
    }
    let dev = l.dev("device", l.f[1])?;
    let mountpoint = l.f[2].to_string();
    let fstype = l.f[3].to_string();
    let mut fs = Filesystem {
        device: dev.clone(),
        fstype: fstype.clone(),
        ..Default::default()
    };
    let mut mount = Mount {
        device: dev.clone(),
        mountpoint,
        fstype: fstype.clone(),
        ..Default::default()
    };
    let mut notes = Vec::new();
    let opt = |v: String| if v.is_empty() { None } else { Some(v) };
    for (k, v) in l.kv(4, true)? {
        // Our attribute names (model.rs, Filesystem::attrs) for what mkfs
        // and tune2fs need; ReaR's ext options keep their names.
        let attr = match k.as_str() {
            "uuid" => {
                fs.uuid = opt(v);
                continue;
            }
            "label" => {
                // ReaR 2.7 writes btrfs labels as `btrfs filesystem show`
                // prints them, in single quotes (its diskrestore.sh then
                // passes them through the shell, which drops the quotes).
                let v = match v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                    Some(inner) if fstype == "btrfs" => inner.to_string(),
                    _ => v,
                };
                fs.label = opt(v);
                continue;
            }
            "options" => {
                mount.options = v;
                continue;
            }
            "blocksize" => {
                l.num("blocksize", &v)?;
                "block_size"
            }
            "reserved_blocks" => {
                // A percentage (`5%`) in newer ReaR, a block count in older
                // ones (tune2fs's "Reserved block count"), made a percentage
                // once the device's size is known (Builder::reserved_counts).
                match v.strip_suffix('%') {
                    Some(pct) => {
                        l.num("reserved_blocks", pct)?;
                        fs.attrs.insert("reserved_percent".into(), pct.to_string());
                    }
                    None => {
                        let n = l.num("reserved_blocks", &v)?;
                        fs.attrs.insert(RESERVED_COUNT.into(), n.to_string());
                    }
                }
                continue;
            }
            "bytes_per_inode" | "nodesize" | "sectorsize" => {
                l.num(&k, &v)?;
                k.as_str()
            }
            "max_mounts" | "check_interval" | "default_mount_options" | "features" => k.as_str(),
            _ => {
                notes.push(note(&dev, format!("fs option {k}={v} is not imported")));
                continue;
            }
        };
        if !v.is_empty() {
            fs.attrs.insert(attr.to_string(), v);
        }
    }
    if fstype == "btrfs" {
        fs.devices = vec![dev.clone()];
        mount.subvolume = mount
            .options
            .split(',')
            .find_map(|o| o.strip_prefix("subvol="))
            .map(subvol_path)
            .filter(|p| p != "/");
    }
    Ok(FsRec { fs, mount, notes })
}

fn parse_swap(l: &Line) -> Result<Swap, ImportError> {
    if l.f.len() < 2 {
        return Err(l.err("swap: no device"));
    }
    let mut swap = Swap {
        device: l.dev("device", l.f[1])?,
        ..Default::default()
    };
    for (k, v) in l.kv(2, true)? {
        let v = if v.is_empty() { None } else { Some(v) };
        match k.as_str() {
            "uuid" => swap.uuid = v,
            "label" => swap.label = v,
            _ => return Err(l.err(format!("swap: unknown field \"{k}\""))),
        }
    }
    Ok(swap)
}

fn parse_crypt(l: &Line) -> Result<(Luks, Vec<Note>), ImportError> {
    if l.f.len() < 3 {
        return Err(l.err(
            "crypt: too few fields (the form is \"crypt /dev/mapper/<name> <device> [key=value ...]\")",
        ));
    }
    let device = l.dev("device", l.f[1])?;
    let name = device
        .strip_prefix("/dev/mapper/")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| l.err(format!("crypt: \"{device}\" is not /dev/mapper/<name>")))?
        .to_string();
    let mut luks = Luks {
        device: device.clone(),
        name,
        backing: l.dev("device", l.f[2])?,
        // Without type=, ReaR (before 2.7) only read LUKS1 headers.
        version: 1,
        ..Default::default()
    };
    let mut notes = Vec::new();
    let mut mode = None;
    for (k, v) in l.kv(3, false)? {
        match k.as_str() {
            "type" => {
                luks.version = match v.as_str() {
                    "luks" | "luks1" => 1,
                    "luks2" => 2,
                    _ => return Err(l.err(format!("crypt: type \"{v}\" is not luks1 or luks2"))),
                }
            }
            "cipher" => luks.cipher = v,
            // ReaR before 2.3: cipher=<name> mode=<mode>.
            "mode" => mode = Some(v),
            "key_size" => {
                luks.key_size = if v.is_empty() {
                    0
                } else {
                    l.num("key_size", &v)? as u32
                }
            }
            "hash" => luks.hash = v,
            "uuid" => luks.uuid = v,
            "pbkdf" => luks.pbkdf = if v.is_empty() { None } else { Some(v) },
            "keyfile" => notes.push(note(
                &device,
                format!("LUKS volume is opened with the key file {v} (from /etc/crypttab); the key is not part of the layout"),
            )),
            "password" => notes.push(note(
                &device,
                "disklayout.conf holds a password for this LUKS volume; it is not imported",
            )),
            _ => notes.push(note(&device, format!("crypt option {k} is not imported"))),
        }
    }
    if let Some(mode) = mode {
        if !mode.is_empty() {
            luks.cipher = format!("{}-{mode}", luks.cipher);
        }
    }
    Ok((luks, notes))
}

/// Resolves the records against each other into the layout.
#[derive(Default)]
struct Builder {
    layout: Layout,
    /// Devices `part` lines may name whose partitions are not representable
    /// (RAID arrays, multipath, DASD, unsupported partition tables).
    foreign: BTreeMap<String, String>,
    /// Devices of excluded (commented-out) components.
    excluded: BTreeSet<String>,
    /// msdos partitions with the `lba` flag and no type flag: their type
    /// depends on the file system (see partition_types).
    lba: BTreeSet<String>,
}

impl Builder {
    fn build(mut self, text: &str, records: Vec<(usize, Record)>) -> Result<Layout, ImportError> {
        self.layout = Layout::new();
        let lines: Vec<&str> = text.lines().collect();
        let err = |no: usize, msg: String| error_at(no, lines[no - 1], msg);

        let mut raids: Vec<(usize, RaidRec)> = Vec::new();
        let mut raid_disks: Vec<(usize, DiskRec)> = Vec::new();
        let mut parts: Vec<(usize, PartRec)> = Vec::new();
        let mut pvs: Vec<(usize, LvmDevRec)> = Vec::new();
        let mut vgs: Vec<(usize, LvmGrpRec)> = Vec::new();
        let mut lvs: Vec<(usize, Lv)> = Vec::new();
        let mut subvols: Vec<(usize, SubvolRec)> = Vec::new();
        let mut mounted: Vec<(usize, MountedSubvolRec)> = Vec::new();
        let mut nocow: Vec<(usize, String)> = Vec::new();

        for (no, rec) in records {
            match rec {
                Record::Disk(d) => self.add_disk(no, d, &err)?,
                Record::RaidDisk(d) => raid_disks.push((no, d)),
                Record::Part(p) => parts.push((no, p)),
                Record::Raid(r) => raids.push((no, r)),
                Record::LvmDev(p) => pvs.push((no, p)),
                Record::LvmGrp(g) => vgs.push((no, g)),
                Record::LvmVol(v) => {
                    self.layout.notes.extend(v.notes);
                    if let Some(lv) = v.lv {
                        lvs.push((no, lv));
                    }
                }
                Record::Fs(f) => self.add_fs(no, f, &err)?,
                Record::Subvol(s) => subvols.push((no, s)),
                Record::MountedSubvol(m) => mounted.push((no, m)),
                Record::NoCow(p) => nocow.push((no, p)),
                Record::Swap(s) => {
                    if self.layout.swaps.iter().any(|x| x.device == s.device) {
                        return Err(err(no, format!("swap: {} is listed twice", s.device)));
                    }
                    self.layout.swaps.push(s)
                }
                Record::Crypt(luks, notes) => {
                    if self.layout.luks.iter().any(|x| x.device == luks.device) {
                        return Err(err(no, format!("crypt: {} is listed twice", luks.device)));
                    }
                    self.layout.luks.push(luks);
                    self.layout.notes.extend(notes);
                }
                Record::Unsupported(n, holds_partitions) => {
                    if holds_partitions {
                        self.foreign.insert(
                            n.device.clone(),
                            "multipath devices are not supported yet".into(),
                        );
                    }
                    self.layout.notes.push(n);
                }
                Record::Excluded(n) => {
                    self.excluded.insert(n.device.clone());
                    self.layout.notes.push(n);
                }
            }
        }
        self.add_raids(raids, raid_disks, &err)?;
        self.raid_labels(&parts);
        self.add_partitions(parts, &err)?;
        self.add_lvm(pvs, vgs, lvs, &err)?;
        self.add_btrfs(subvols, mounted, nocow, &err)?;
        self.partition_types();
        self.reserved_counts();
        Ok(self.layout)
    }

    /// Old ReaR's `reserved_blocks=N` (a count) as the percentage mkfs
    /// takes (`-m`, a fraction allowed): N of the blocks the device holds.
    /// Half a block more, as mke2fs rounds the product down.
    fn reserved_counts(&mut self) {
        let sizes: BTreeMap<String, u64> = self
            .layout
            .disks
            .iter()
            .flat_map(|d| {
                std::iter::once((d.device.clone(), d.size))
                    .chain(d.partitions.iter().map(|p| (p.device.clone(), p.size)))
            })
            .chain(self.layout.raids.iter().flat_map(|r| {
                std::iter::once((r.device.clone(), r.size))
                    .chain(r.partitions.iter().map(|p| (p.device.clone(), p.size)))
            }))
            .chain(self.layout.lvs.iter().map(|l| (l.device.clone(), l.size)))
            .filter(|(_, s)| *s > 0)
            .collect();
        for fs in &mut self.layout.filesystems {
            let Some(count) = fs.attrs.remove(RESERVED_COUNT) else {
                continue;
            };
            let count: u64 = count.parse().unwrap_or(0);
            let block: Option<u64> = fs.attrs.get("block_size").and_then(|b| b.parse().ok());
            let blocks = match (sizes.get(&fs.device), block) {
                (Some(size), Some(b)) if b > 0 && size / b > 0 => size / b,
                _ => {
                    self.layout.notes.push(note(
                        &fs.device,
                        format!("reserved_blocks={count} (a block count) is not imported: the size of the device or the block size is not known"),
                    ));
                    continue;
                }
            };
            let pct = (count as f64 + 0.5) * 100.0 / blocks as f64;
            let text = format!("{pct:.6}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            fs.attrs.insert("reserved_percent".into(), text.to_string());
        }
    }

    fn add_disk(
        &mut self,
        no: usize,
        d: DiskRec,
        err: &impl Fn(usize, String) -> ImportError,
    ) -> Result<(), ImportError> {
        if self.layout.disks.iter().any(|x| x.device == d.dev) {
            return Err(err(no, format!("disk: {} is listed twice", d.dev)));
        }
        let label = match d.label.as_deref() {
            Some("msdos") => Some(Label::Msdos),
            Some("gpt") => Some(Label::Gpt),
            Some("gpt_sync_mbr") => {
                self.layout.notes.push(note(
                    &d.dev,
                    "gpt_sync_mbr: GPT with a hybrid MBR kept in sync (SUSE); imported as GPT, the hybrid MBR is not",
                ));
                Some(Label::Gpt)
            }
            None | Some("unknown") | Some("loop") => None,
            Some(other) => {
                let what = if other == "dasd" {
                    "s390 DASD partition table is not supported yet".to_string()
                } else {
                    format!("partition table type {other} is not supported")
                };
                self.foreign.insert(d.dev.clone(), what.clone());
                self.layout.notes.push(note(&d.dev, what));
                return Ok(());
            }
        };
        self.layout.disks.push(Disk {
            device: d.dev,
            size: d.size,
            logical_sector_size: 512,
            physical_sector_size: 512,
            label,
            ..Default::default()
        });
        Ok(())
    }

    fn add_fs(
        &mut self,
        no: usize,
        f: FsRec,
        err: &impl Fn(usize, String) -> ImportError,
    ) -> Result<(), ImportError> {
        self.layout.notes.extend(f.notes);
        match self
            .layout
            .filesystems
            .iter()
            .find(|x| x.device == f.fs.device)
        {
            Some(old) if old.fstype != f.fs.fstype => {
                return Err(err(
                    no,
                    format!(
                        "fs: {} is listed as {} before and as {} here",
                        f.fs.device, old.fstype, f.fs.fstype
                    ),
                ))
            }
            Some(_) => {}
            None => self.layout.filesystems.push(f.fs),
        }
        if self
            .layout
            .mounts
            .iter()
            .any(|m| m.mountpoint == f.mount.mountpoint)
        {
            return Err(err(
                no,
                format!("fs: mount point {} is listed twice", f.mount.mountpoint),
            ));
        }
        self.layout.mounts.push(f.mount);
        Ok(())
    }

    /// RAID arrays (IMSM/DDF containers and the arrays inside them among
    /// them), their sizes and partition tables from `raiddisk` lines.
    fn add_raids(
        &mut self,
        raids: Vec<(usize, RaidRec)>,
        raid_disks: Vec<(usize, DiskRec)>,
        err: &impl Fn(usize, String) -> ImportError,
    ) -> Result<(), ImportError> {
        let containers: BTreeMap<String, String> = raids
            .iter()
            .filter(|(_, r)| r.raid.level == "container")
            .map(|(_, r)| (r.raid.device.clone(), r.raid.metadata.clone()))
            .collect();
        for (no, r) in raids {
            let dev = r.raid.device.clone();
            if self.layout.raids.iter().any(|x| x.device == dev) {
                return Err(err(no, format!("raid: {dev} is listed twice")));
            }
            for k in &r.unknown {
                self.layout
                    .notes
                    .push(note(&dev, format!("RAID option {k} is not imported")));
            }
            let mut raid = r.raid;
            if raid.level == "container" {
                // Its disks have no roles: every one is the container's.
                raid.devices = r.members;
                self.layout.raids.push(raid);
                continue;
            }
            if let [c] = &r.members[..] {
                if let Some(metadata) = containers.get(c) {
                    // An array inside a container: on the container, across
                    // its disks; `size=` is what it takes of each (KiB).
                    raid.devices = r.members.clone();
                    if raid.metadata.is_empty() || raid.metadata.starts_with("external:") {
                        raid.metadata = metadata.clone();
                    }
                    raid.member_size = r.container_size.and_then(|k| k.checked_mul(1024));
                    self.layout.raids.push(raid);
                    continue;
                }
            }
            if r.container_size.is_some() {
                return Err(err(
                    no,
                    format!(
                        "raid: {dev} has size= (an array inside a container) but its device {} is no container listed here",
                        r.members.join(",")
                    ),
                ));
            }
            let active = r.raid_devices.min(r.members.len());
            raid.devices = r.members[..active].to_vec();
            raid.spares = r.members[active..].to_vec();
            if r.members.len() < r.raid_devices {
                self.layout.notes.push(note(
                    &dev,
                    format!(
                        "RAID array has {} of its {} devices; ReaR fills in 'missing'",
                        r.members.len(),
                        r.raid_devices
                    ),
                ));
            }
            self.layout.raids.push(raid);
        }
        for (no, d) in raid_disks {
            let Some(raid) = self.layout.raids.iter_mut().find(|r| r.device == d.dev) else {
                if self.excluded.contains(&d.dev) {
                    continue;
                }
                return Err(err(
                    no,
                    format!("raiddisk: no raidarray line for {}", d.dev),
                ));
            };
            raid.size = d.size;
            match d.label.as_deref() {
                None | Some("unknown") | Some("loop") | Some("") => {}
                Some("gpt") | Some("gpt_sync_mbr") => raid.label = Some(Label::Gpt),
                Some("msdos") => raid.label = Some(Label::Msdos),
                Some(label) => {
                    let what = format!("{label} partition table on a RAID array is not supported");
                    self.foreign.insert(d.dev.clone(), what.clone());
                    self.layout.notes.push(note(&d.dev, what));
                }
            }
        }
        Ok(())
    }

    /// Old ReaR (before 2.7) wrote `part` lines for a partitioned array
    /// without its partition table's type: msdos when every partition is
    /// primary, extended or logical, GPT otherwise (a GPT name).
    fn raid_labels(&mut self, parts: &[(usize, PartRec)]) {
        for r in &mut self.layout.raids {
            let mine: Vec<&PartRec> = parts
                .iter()
                .map(|(_, p)| p)
                .filter(|p| p.disk == r.device)
                .collect();
            if r.label.is_some() || mine.is_empty() {
                continue;
            }
            let msdos = mine
                .iter()
                .all(|p| matches!(p.name_or_kind.as_str(), "primary" | "extended" | "logical"));
            r.label = Some(if msdos { Label::Msdos } else { Label::Gpt });
            self.layout.notes.push(note(
                &r.device,
                format!(
                    "disklayout.conf does not say which partition table the array has (no raiddisk line); {} assumed from its partitions",
                    if msdos { "msdos" } else { "GPT" }
                ),
            ));
        }
    }

    fn add_partitions(
        &mut self,
        parts: Vec<(usize, PartRec)>,
        err: &impl Fn(usize, String) -> ImportError,
    ) -> Result<(), ImportError> {
        for (no, p) in parts {
            if let Some(why) = self.foreign.get(&p.disk) {
                let what = format!(
                    "partition {} ({} bytes at {}) not imported: {why}",
                    p.number,
                    p.size,
                    p.start
                        .map_or("an unknown start".to_string(), |s| s.to_string())
                );
                self.layout.notes.push(note(&p.dev, what));
                continue;
            }
            if self.excluded.contains(&p.disk) {
                self.layout
                    .notes
                    .push(note(&p.dev, "partition of an excluded disk; not imported"));
                continue;
            }
            // A disk's, or an array's (`part /dev/md126 ... /dev/md126p1`).
            let (label, list) = match self.layout.disks.iter_mut().find(|d| d.device == p.disk) {
                Some(d) => (d.label, &mut d.partitions),
                None => match self.layout.raids.iter_mut().find(|r| r.device == p.disk) {
                    Some(r) => (r.label, &mut r.partitions),
                    None => {
                        return Err(err(no, format!("part: no disk line for {}", p.disk)));
                    }
                },
            };
            let Some(label) = label else {
                return Err(err(
                    no,
                    format!("part: disk {} has no partition table", p.disk),
                ));
            };
            if list.iter().any(|x| x.number == p.number) {
                return Err(err(
                    no,
                    format!("part: partition {} is listed twice", p.dev),
                ));
            }
            let mut part = Partition {
                number: p.number,
                device: p.dev.clone(),
                start: p.start.unwrap_or(0),
                size: p.size,
                uuid: p.partuuid,
                ..Default::default()
            };
            if p.start.is_none() {
                self.layout.notes.push(note(
                    &p.dev,
                    "disklayout.conf gives no start for this partition (\"unknown\"); start is 0",
                ));
            }
            let mut notes = Vec::new();
            match label {
                Label::Msdos => {
                    part.kind = match p.name_or_kind.as_str() {
                        "primary" => PartKind::Primary,
                        "extended" => PartKind::Extended,
                        "logical" => PartKind::Logical,
                        other => {
                            return Err(err(
                                no,
                                format!("part: \"{other}\" is not primary, extended or logical (msdos disk)"),
                            ))
                        }
                    };
                    if msdos_flags(&mut part, &p.flags, &mut notes) {
                        self.lba.insert(part.device.clone());
                    }
                }
                Label::Gpt => {
                    part.name = gpt_name(&p.name_or_kind);
                    gpt_flags(&mut part, &p.flags, &mut notes);
                }
            }
            self.layout.notes.extend(notes);
            list.push(part);
        }
        Ok(())
    }

    /// Partitions with no type flag hold a swap or vfat file system more
    /// often than not; older parted (before 3.5) reported no `swap` flag, so
    /// a swap line for the partition gives it the swap type. Run after all
    /// lines are read (swap lines come after part lines).
    fn partition_types(&mut self) {
        let swaps: BTreeSet<&str> = self
            .layout
            .swaps
            .iter()
            .map(|s| s.device.as_str())
            .collect();
        let vfat: BTreeSet<&str> = self
            .layout
            .filesystems
            .iter()
            .filter(|f| f.fstype == "vfat")
            .map(|f| f.device.as_str())
            .collect();
        for disk in &mut self.layout.disks {
            for p in &mut disk.partitions {
                let dev = p.device.as_str();
                match disk.label {
                    Some(Label::Gpt) if p.type_ == gpt::LINUX_FS && swaps.contains(dev) => {
                        p.type_ = gpt::SWAP.into()
                    }
                    Some(Label::Msdos) if p.type_ == "0x83" && swaps.contains(dev) => {
                        p.type_ = "0x82".into()
                    }
                    // parted's msdos type for FAT32 is 0xb, 0xc with the
                    // lba flag.
                    Some(Label::Msdos) if p.type_ == "0x83" && vfat.contains(dev) => {
                        p.type_ = if self.lba.contains(dev) { "0xc" } else { "0xb" }.into()
                    }
                    _ => {}
                }
            }
        }
    }

    fn add_lvm(
        &mut self,
        pvs: Vec<(usize, LvmDevRec)>,
        vgs: Vec<(usize, LvmGrpRec)>,
        lvs: Vec<(usize, Lv)>,
        err: &impl Fn(usize, String) -> ImportError,
    ) -> Result<(), ImportError> {
        for (no, g) in &vgs {
            if self.layout.vgs.iter().any(|v| v.name == g.vg) {
                return Err(err(*no, format!("lvmgrp: /dev/{} is listed twice", g.vg)));
            }
            self.layout.vgs.push(Vg {
                name: g.vg.clone(),
                uuid: None,
                extent_size: g.extent_size,
                size: g.size,
                free: None,
            });
        }
        let excluded_vg = |vg: &str, ex: &BTreeSet<String>| ex.contains(&format!("/dev/{vg}"));
        // Sizes per VG: sectors up to ReaR 2.7, bytes after (see pv_size_unit).
        let vg_names: BTreeSet<String> = pvs.iter().map(|(_, p)| p.vg.clone()).collect();
        let mut units = BTreeMap::new();
        for vg in &vg_names {
            let members: Vec<&LvmDevRec> =
                pvs.iter().map(|(_, p)| p).filter(|p| &p.vg == vg).collect();
            units.insert(vg.clone(), self.pv_size_unit(vg, &members));
        }
        for (no, p) in pvs {
            if !self.layout.vgs.iter().any(|v| v.name == p.vg) {
                if excluded_vg(&p.vg, &self.excluded) {
                    continue;
                }
                return Err(err(no, format!("lvmdev: no lvmgrp line for /dev/{}", p.vg)));
            }
            if self.layout.pvs.iter().any(|x| x.device == p.pv) {
                return Err(err(no, format!("lvmdev: {} is listed twice", p.pv)));
            }
            let (unit, guessed) = units[&p.vg];
            if guessed {
                self.layout.notes.push(note(
                    &p.pv,
                    format!(
                        "lvmdev size {}: unit not decidable (sectors up to ReaR 2.7, bytes after); taken as {}",
                        p.size.unwrap_or(0),
                        if unit == 512 { "sectors" } else { "bytes" }
                    ),
                ));
            }
            let size = p.size.unwrap_or(0).checked_mul(unit).ok_or_else(|| {
                err(
                    no,
                    format!(
                        "lvmdev: size {} sectors is past 2^64 bytes",
                        p.size.unwrap_or(0)
                    ),
                )
            })?;
            self.layout.pvs.push(Pv {
                device: p.pv,
                uuid: p.uuid,
                vg: p.vg,
                size,
            });
        }
        for (no, lv) in lvs {
            if !self.layout.vgs.iter().any(|v| v.name == lv.vg) {
                if excluded_vg(&lv.vg, &self.excluded) {
                    continue;
                }
                return Err(err(
                    no,
                    format!("lvmvol: no lvmgrp line for /dev/{}", lv.vg),
                ));
            }
            if self
                .layout
                .lvs
                .iter()
                .any(|x| x.vg == lv.vg && x.name == lv.name)
            {
                return Err(err(no, format!("lvmvol: {} is listed twice", lv.device)));
            }
            self.layout.lvs.push(lv);
        }
        for lv in &self.layout.lvs {
            if let Some(pool) = &lv.pool {
                if !self
                    .layout
                    .lvs
                    .iter()
                    .any(|p| p.vg == lv.vg && &p.name == pool && p.segtype == "thin-pool")
                {
                    self.layout.notes.push(note(
                        &lv.device,
                        format!("thin volume's pool {pool} is not among the imported LVs"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The unit of the `lvmdev` sizes of one VG, and whether it was guessed.
    /// ReaR up to 2.7 wrote `pvdisplay -c` field 3, 512-byte sectors; 2.8+
    /// writes bytes. PVs hold at least the VG's extents, so when their sum
    /// read as bytes is below the VG's size, they are sectors. Without a VG
    /// size, the size of the partition or disk holding the PV decides.
    fn pv_size_unit(&self, vg: &str, members: &[&LvmDevRec]) -> (u64, bool) {
        let sum = members
            .iter()
            .filter_map(|p| p.size)
            .fold(0u64, u64::saturating_add);
        if sum == 0 {
            return (1, false);
        }
        if let Some(v) = self.layout.vgs.iter().find(|v| v.name == vg) {
            if v.size > 0 {
                return (if sum < v.size { 512 } else { 1 }, false);
            }
        }
        for p in members {
            if let (Some(size), Some(dev)) = (p.size, self.block_size(&p.pv)) {
                return (
                    if size.saturating_mul(256) <= dev {
                        512
                    } else {
                        1
                    },
                    false,
                );
            }
        }
        (512, true)
    }

    /// The size of a disk, partition or RAID array, when known.
    fn block_size(&self, dev: &str) -> Option<u64> {
        self.layout
            .disks
            .iter()
            .find(|d| d.device == dev)
            .map(|d| d.size)
            .or_else(|| {
                self.layout
                    .disks
                    .iter()
                    .flat_map(|d| &d.partitions)
                    .find(|p| p.device == dev)
                    .map(|p| p.size)
            })
            .or_else(|| {
                self.layout
                    .raids
                    .iter()
                    .find(|r| r.device == dev && r.size > 0)
                    .map(|r| r.size)
            })
    }

    /// The btrfs file system on `dev`: None (with a note) when its fs line
    /// is excluded, an error when there is none.
    fn btrfs_fs(
        &mut self,
        no: usize,
        kw: &str,
        dev: &str,
        what: &str,
        err: &impl Fn(usize, String) -> ImportError,
    ) -> Result<Option<usize>, ImportError> {
        match self
            .layout
            .filesystems
            .iter()
            .position(|f| f.device == dev && f.fstype == "btrfs")
        {
            Some(i) => Ok(Some(i)),
            None if self.excluded.contains(dev) => {
                self.layout.notes.push(note(
                    dev,
                    format!("{what} of an excluded btrfs file system; not imported"),
                ));
                Ok(None)
            }
            None => Err(err(no, format!("{kw}: no btrfs fs line for {dev}"))),
        }
    }

    fn add_btrfs(
        &mut self,
        subvols: Vec<(usize, SubvolRec)>,
        mounted: Vec<(usize, MountedSubvolRec)>,
        nocow: Vec<(usize, String)>,
        err: &impl Fn(usize, String) -> ImportError,
    ) -> Result<(), ImportError> {
        let mut pending_notes = Vec::new();
        for (no, s) in subvols {
            let kw = match s.kind {
                SubvolKind::Default => "btrfsdefaultsubvol",
                SubvolKind::Snapshot => "btrfssnapshotsubvol",
                SubvolKind::Normal => "btrfsnormalsubvol",
            };
            let what = format!("btrfs subvolume {}", s.path);
            let Some(i) = self.btrfs_fs(no, kw, &s.dev, &what, err)? else {
                continue;
            };
            if s.kind == SubvolKind::Snapshot {
                pending_notes.push(note(
                    &s.dev,
                    format!(
                        "btrfs snapshot subvolume {} is not recreated (as in ReaR)",
                        s.path
                    ),
                ));
                continue;
            }
            if s.path == "/" {
                // The top level as the default subvolume: btrfs's own default.
                continue;
            }
            let fs = &mut self.layout.filesystems[i];
            let sv = match fs.subvolumes.iter().position(|x| x.path == s.path) {
                Some(j) => &mut fs.subvolumes[j],
                None => {
                    fs.subvolumes.push(Subvolume {
                        path: s.path.clone(),
                        ..Default::default()
                    });
                    fs.subvolumes.last_mut().unwrap()
                }
            };
            if s.kind == SubvolKind::Default {
                sv.default = true;
            }
        }
        for (no, m) in mounted {
            let what = format!("mount at {}", m.mountpoint);
            let Some(i) = self.btrfs_fs(no, "btrfsmountedsubvol", &m.dev, &what, err)? else {
                continue;
            };
            let path = m.path.filter(|p| p != "/");
            if path.is_none() && m.options.contains("subvol=") {
                pending_notes.push(note(
                    &m.dev,
                    format!("mount at {} names no subvolume path", m.mountpoint),
                ));
            }
            if let Some(p) = &path {
                let fs = &mut self.layout.filesystems[i];
                if !fs.subvolumes.iter().any(|x| &x.path == p) {
                    fs.subvolumes.push(Subvolume {
                        path: p.clone(),
                        ..Default::default()
                    });
                }
            }
            match self
                .layout
                .mounts
                .iter_mut()
                .find(|x| x.mountpoint == m.mountpoint)
            {
                Some(existing) => {
                    if existing.device != m.dev {
                        return Err(err(
                            no,
                            format!(
                                "btrfsmountedsubvol: {} is mounted from {} by an fs line",
                                m.mountpoint, existing.device
                            ),
                        ));
                    }
                    if existing.subvolume.is_none() {
                        existing.subvolume = path;
                    }
                }
                None => self.layout.mounts.push(Mount {
                    device: m.dev,
                    mountpoint: m.mountpoint,
                    fstype: "btrfs".into(),
                    options: m.options,
                    subvolume: path,
                }),
            }
        }
        for (no, path) in nocow {
            let mut found = false;
            for fs in self
                .layout
                .filesystems
                .iter_mut()
                .filter(|f| f.fstype == "btrfs")
            {
                for sv in fs.subvolumes.iter_mut().filter(|s| s.path == path) {
                    sv.nocow = true;
                    found = true;
                }
            }
            if !found {
                if self.layout.filesystems.iter().any(|f| f.fstype == "btrfs") {
                    pending_notes.push(note(
                        &path,
                        "btrfs no-copy-on-write attribute for a path that is no imported subvolume; not imported",
                    ));
                } else {
                    return Err(err(
                        no,
                        format!("btrfsnocopyonwrite: no btrfs subvolume {path}"),
                    ));
                }
            }
        }
        self.layout.notes.extend(pending_notes);
        // Each subvolume once, in path order: the same file whatever the
        // order of ReaR's lines.
        for fs in &mut self.layout.filesystems {
            fs.subvolumes.sort_by(|a, b| a.path.cmp(&b.path));
        }
        Ok(())
    }
}

/// GPT partition name: percent-encoded since ReaR 2.4 (`EFI%20System`),
/// spaces as `0x20` before; `rear-noname`: none.
fn gpt_name(s: &str) -> Option<String> {
    if s == "rear-noname" {
        return None;
    }
    if !s.contains('%') && s.contains("0x20") {
        return Some(s.replace("0x20", " "));
    }
    Some(percent_decode(s))
}

/// `%XX` → byte XX, as ReaR's percent_decode; anything else as it is.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(byte) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// parted's flags on a GPT partition (libparted's gpt.c): one flag sets the
/// partition type GUID, two set attribute bits.
///
/// | flag | GPT |
/// |---|---|
/// | `boot`, `esp` | type c12a7328-f81f-11d2-ba4b-00a0c93ec93b (EFI system; on GPT parted's `boot` is the ESP type) |
/// | `bios_grub` | type 21686148-6449-6e6f-744e-656564454649 (BIOS boot) |
/// | `lvm` | type e6d6d379-f507-44c2-a23c-238f2a3df928 (Linux LVM) |
/// | `raid` | type a19d880f-05fc-4d3b-a006-743f0f84911e (Linux RAID) |
/// | `swap` | type 0657fd6d-a4ab-43c4-84e5-0933c84b4f4f (Linux swap; parted 3.5+) |
/// | `prep` | type 9e1a2d38-c612-4316-aa26-8b49521e5a8b (PowerPC PReP boot) |
/// | none of these | type 0fc63daf-8483-4772-8e79-3d69d8477de4 (Linux filesystem), or swap when a swap line names the partition |
/// | `legacy_boot` | attribute LegacyBIOSBootable (bit 2) |
/// | `hidden` | attribute RequiredPartition (bit 0), as parted writes it |
/// | `lba`, `palo`, `root` | no meaning on GPT: a note |
fn gpt_flags(part: &mut Partition, flags: &[String], notes: &mut Vec<Note>) {
    let mut type_: Option<&str> = None;
    let mut attrs = Vec::new();
    for flag in flags {
        let t = match flag.as_str() {
            "boot" | "esp" => gpt::ESP,
            "bios_grub" => gpt::BIOS_BOOT,
            "lvm" => gpt::LINUX_LVM,
            "raid" => gpt::LINUX_RAID,
            "swap" => gpt::SWAP,
            "prep" => gpt::PREP,
            "legacy_boot" => {
                attrs.push("LegacyBIOSBootable");
                continue;
            }
            "hidden" => {
                attrs.insert(0, "RequiredPartition");
                continue;
            }
            other => {
                notes.push(note(
                    &part.device,
                    format!("parted flag {other} has no GPT equivalent; ignored"),
                ));
                continue;
            }
        };
        choose_type(&mut type_, t, flag, &part.device, notes);
    }
    part.type_ = type_.unwrap_or(gpt::LINUX_FS).to_string();
    if !attrs.is_empty() {
        part.attributes = Some(attrs.join(" "));
    }
}

/// Takes `t` as the partition type unless an earlier flag chose another.
fn choose_type<'a>(
    type_: &mut Option<&'a str>,
    t: &'a str,
    flag: &str,
    device: &str,
    notes: &mut Vec<Note>,
) {
    match type_ {
        Some(prev) if *prev != t => notes.push(note(
            device,
            format!("parted flag {flag} conflicts with an earlier type flag; ignored"),
        )),
        _ => *type_ = Some(t),
    }
}

/// parted's flags on an msdos partition (libparted's dos.c), as MBR types:
///
/// | flag | MBR |
/// |---|---|
/// | extended partition | 0x5, or 0xf (extended, LBA) with `lba` |
/// | `lvm` | 0x8e |
/// | `raid` | 0xfd |
/// | `swap` | 0x82 (parted 3.5+; before, a swap line for the partition gives 0x82) |
/// | `esp` | 0xef |
/// | `prep` | 0x41 |
/// | `palo` | 0xf0 |
/// | none of these | 0x83 (Linux); 0xb when an fs line says vfat, 0xc with `lba` |
/// | `boot` | the active flag ([`Partition::bootable`]), not a type |
/// | `hidden`, `root`, `legacy_boot`, `bios_grub` | no MBR type of their own: a note |
/// Returns whether the partition has `lba` but no type flag.
fn msdos_flags(part: &mut Partition, flags: &[String], notes: &mut Vec<Note>) -> bool {
    let lba = flags.iter().any(|f| f == "lba");
    let mut type_: Option<&str> = None;
    for flag in flags {
        let t = match flag.as_str() {
            "boot" => {
                part.bootable = true;
                continue;
            }
            "lba" => continue,
            "lvm" => "0x8e",
            "raid" => "0xfd",
            "swap" => "0x82",
            "esp" => "0xef",
            "prep" => "0x41",
            "palo" => "0xf0",
            other => {
                notes.push(note(
                    &part.device,
                    format!("parted flag {other} has no MBR type; ignored"),
                ));
                continue;
            }
        };
        choose_type(&mut type_, t, flag, &part.device, notes);
    }
    let extended = part.kind == PartKind::Extended;
    part.type_ = match (extended, lba, type_) {
        (true, true, _) => "0xf",
        (true, false, _) => "0x5",
        (false, _, Some(t)) => t,
        (false, _, None) => "0x83",
    }
    .to_string();
    !extended && lba && type_.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("EFI%20System%20Partition"),
            "EFI System Partition"
        );
        assert_eq!(percent_decode("bin%C3%A4r"), "binär");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%zzb"), "a%zzb");
        assert_eq!(gpt_name("rear-noname"), None);
        assert_eq!(gpt_name("EFI0x20System").as_deref(), Some("EFI System"));
    }

    #[test]
    fn subvolume_paths() {
        assert_eq!(subvol_path("/"), "/");
        assert_eq!(subvol_path("/@/home"), "@/home");
        assert_eq!(subvol_path("<FS_TREE>/@"), "@");
        assert_eq!(subvol_path("@"), "@");
    }

    #[test]
    fn passwords_are_redacted_in_errors() {
        let e = import("crypt /dev/mapper/x /dev/vda2 type=luks3 password=hunter2\n").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("password=***"), "{e}");
    }
}
