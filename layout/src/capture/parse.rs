//! Pure parsers for the outputs capture reads. Each takes the text a
//! command printed (or a file held) and returns plain data; none runs
//! anything. Sizes are bytes.

use super::CaptureError;
use crate::model::{
    partition_device, EfiEntry, Label, Luks, Lv, PartKind, Partition, Pv, Raid, Subvolume, Vg,
};
use serde_json::Value;
use std::collections::BTreeMap;

fn perr(what: &'static str, why: impl Into<String>) -> CaptureError {
    CaptureError::Parse {
        what,
        why: why.into(),
    }
}

// ---------------------------------------------------------------- JSON helpers

/// A string field; numbers are turned into their decimal text. JSON null,
/// absent and empty strings are None.
fn jstr(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A byte count or number: a JSON number, or a string such as `"4194304"`,
/// `"4194304B"` (LVM without --nosuffix) or `"4194304.00"`.
fn jnum(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::String(s) => num_text(s),
        _ => None,
    }
}

fn num_text(s: &str) -> Option<u64> {
    let t = s.trim().trim_end_matches(['B', 'b']);
    t.parse::<u64>().ok().or_else(|| {
        t.parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// Booleans come as JSON booleans (util-linux ≥ 2.33) or `"0"`/`"1"`.
fn jbool(v: &Value, key: &str) -> bool {
    match v.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1" || s == "true",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

// ---------------------------------------------------------------- lsblk

/// One block device from `lsblk --json --bytes --output-all --tree`,
/// flattened; devices under several parents (RAID, LVM over several PVs)
/// appear once with every parent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockDev {
    /// Kernel path, `/dev/vda1`, `/dev/md0`, `/dev/mapper/vg-root`.
    pub path: String,
    /// lsblk NAME: the kernel name, or the device-mapper name.
    pub name: String,
    /// Kernel name: `vda1`, `dm-0`.
    pub kname: String,
    pub maj_min: String,
    /// lsblk TYPE: `disk`, `part`, `raid1`, `lvm`, `crypt`, `dm`, `mpath`, `loop`, `rom`, ...
    pub type_: String,
    pub size: u64,
    pub removable: bool,
    pub log_sec: Option<u32>,
    pub phy_sec: Option<u32>,
    pub serial: Option<String>,
    pub wwn: Option<String>,
    pub model: Option<String>,
    pub mountpoints: Vec<String>,
    /// Paths of the devices this one sits on, in tree order.
    pub parents: Vec<String>,
    /// Paths of the devices sitting on this one.
    pub children: Vec<String>,
}

pub fn parse_lsblk(text: &str) -> Result<Vec<BlockDev>, CaptureError> {
    let v: Value = serde_json::from_str(text).map_err(|e| perr("lsblk --json", e.to_string()))?;
    let top = v
        .get("blockdevices")
        .and_then(Value::as_array)
        .ok_or_else(|| perr("lsblk --json", "no \"blockdevices\" array"))?;
    let mut out: Vec<BlockDev> = Vec::new();
    for d in top {
        walk_lsblk(d, None, &mut out)?;
    }
    Ok(out)
}

fn walk_lsblk(
    v: &Value,
    parent: Option<&str>,
    out: &mut Vec<BlockDev>,
) -> Result<(), CaptureError> {
    let name = jstr(v, "name").ok_or_else(|| perr("lsblk --json", "a device without \"name\""))?;
    let type_ = jstr(v, "type").unwrap_or_default();
    let kname = jstr(v, "kname").unwrap_or_else(|| name.clone());
    let path = jstr(v, "path").unwrap_or_else(|| {
        if kname.starts_with("dm-") && kname != name {
            format!("/dev/mapper/{name}")
        } else {
            format!("/dev/{name}")
        }
    });
    let mut mountpoints: Vec<String> = match v.get("mountpoints") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    if mountpoints.is_empty() {
        if let Some(m) = jstr(v, "mountpoint") {
            mountpoints.push(m);
        }
    }
    let idx = match out.iter().position(|d| d.path == path) {
        Some(i) => i,
        None => {
            out.push(BlockDev {
                path: path.clone(),
                name,
                kname,
                maj_min: jstr(v, "maj:min").unwrap_or_default(),
                type_,
                size: jnum(v, "size").unwrap_or(0),
                removable: jbool(v, "rm"),
                log_sec: jnum(v, "log-sec").map(|n| n as u32),
                phy_sec: jnum(v, "phy-sec").map(|n| n as u32),
                serial: jstr(v, "serial")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
                wwn: jstr(v, "wwn"),
                model: jstr(v, "model")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
                mountpoints,
                ..Default::default()
            });
            out.len() - 1
        }
    };
    if let Some(p) = parent {
        if !out[idx].parents.iter().any(|x| x == p) {
            out[idx].parents.push(p.to_string());
        }
        if let Some(pi) = out.iter().position(|d| d.path == p) {
            if !out[pi].children.contains(&path) {
                out[pi].children.push(path.clone());
            }
        }
    }
    if let Some(Value::Array(children)) = v.get("children") {
        for c in children {
            walk_lsblk(c, Some(&path), out)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- sfdisk

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionTable {
    pub label: Label,
    /// GPT disk GUID (lowercase) or MBR identifier `0x1234abcd`.
    pub identifier: Option<String>,
    pub partitions: Vec<Partition>,
}

/// `sfdisk --json DISK`. `sector_size` is used when sfdisk does not say
/// (older util-linux); start and size become bytes. MBR partitions of an
/// extended type (0x5, 0xf, 0x85) are `extended`, numbers from 5 up are
/// `logical`.
pub fn parse_sfdisk(text: &str, sector_size: u32) -> Result<PartitionTable, CaptureError> {
    let v: Value = serde_json::from_str(text).map_err(|e| perr("sfdisk --json", e.to_string()))?;
    let t = v
        .get("partitiontable")
        .ok_or_else(|| perr("sfdisk --json", "no \"partitiontable\""))?;
    let label = match jstr(t, "label").as_deref() {
        Some("gpt") => Label::Gpt,
        Some("dos") => Label::Msdos,
        Some(other) => {
            return Err(perr(
                "sfdisk --json",
                format!("partition table type {other:?} is not supported (only gpt and dos)"),
            ))
        }
        None => return Err(perr("sfdisk --json", "no \"label\"")),
    };
    if let Some(unit) = jstr(t, "unit") {
        if unit != "sectors" {
            return Err(perr(
                "sfdisk --json",
                format!("unit {unit:?} (expected sectors)"),
            ));
        }
    }
    let ss = jnum(t, "sectorsize").unwrap_or(sector_size as u64);
    let identifier = jstr(t, "id").map(|id| match label {
        Label::Gpt => id.to_ascii_lowercase(),
        Label::Msdos => {
            let hex = id.trim_start_matches("0x").trim_start_matches("0X");
            format!("0x{:0>8}", hex.to_ascii_lowercase())
        }
    });
    let mut partitions = Vec::new();
    for p in t
        .get("partitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let node =
            jstr(p, "node").ok_or_else(|| perr("sfdisk --json", "a partition without \"node\""))?;
        let number = trailing_number(&node)
            .ok_or_else(|| perr("sfdisk --json", format!("no partition number in {node:?}")))?;
        let start =
            jnum(p, "start").ok_or_else(|| perr("sfdisk --json", format!("{node}: no start")))?;
        let size =
            jnum(p, "size").ok_or_else(|| perr("sfdisk --json", format!("{node}: no size")))?;
        let raw_type = jstr(p, "type").unwrap_or_default();
        let (type_, kind, uuid) = match label {
            Label::Gpt => (
                raw_type.to_ascii_lowercase(),
                PartKind::Primary,
                jstr(p, "uuid").map(|u| u.to_ascii_lowercase()),
            ),
            Label::Msdos => {
                let n = u32::from_str_radix(raw_type.trim_start_matches("0x"), 16)
                    .map_err(|_| perr("sfdisk --json", format!("{node}: MBR type {raw_type:?}")))?;
                (
                    format!("0x{n:x}"),
                    mbr_kind(n, number),
                    mbr_partuuid(identifier.as_deref(), number),
                )
            }
        };
        let bytes = |what: &str, n: u64| {
            n.checked_mul(ss).ok_or_else(|| {
                perr(
                    "sfdisk --json",
                    format!("{node}: {what} {n} of {ss}-byte sectors is past 2^64 bytes"),
                )
            })
        };
        let (start, size) = (bytes("start", start)?, bytes("size", size)?);
        partitions.push(Partition {
            number,
            device: node,
            start,
            size,
            type_,
            kind,
            name: if label == Label::Gpt {
                jstr(p, "name")
            } else {
                None
            },
            uuid,
            attributes: jstr(p, "attrs"),
            bootable: jbool(p, "bootable"),
        });
    }
    Ok(PartitionTable {
        label,
        identifier,
        partitions,
    })
}

/// An MBR partition's kind by its type and number.
fn mbr_kind(type_: u32, number: u32) -> PartKind {
    if matches!(type_, 0x5 | 0xf | 0x85) {
        PartKind::Extended
    } else if number >= 5 {
        PartKind::Logical
    } else {
        PartKind::Primary
    }
}

/// An MBR partition's PARTUUID: the disk identifier and the number.
fn mbr_partuuid(identifier: Option<&str>, number: u32) -> Option<String> {
    identifier.map(|id| format!("{}-{number:02}", id.trim_start_matches("0x")))
}

/// A table read by rear-ptable (where sfdisk is missing, or too old for
/// `--json`), as [`parse_sfdisk`] gives it; partitions are named after
/// `dev` as the kernel names them.
pub fn from_ptable(t: &rear_ptable::Table, dev: &str) -> PartitionTable {
    let ss = t.sector_size as u64;
    let gpt = t.label == rear_ptable::Label::Gpt;
    let identifier = t.id.clone();
    let partitions = t
        .parts
        .iter()
        .map(|p| {
            let n = u32::from_str_radix(&p.type_, 16).unwrap_or(0);
            Partition {
                number: p.number,
                device: partition_device(dev, p.number),
                start: p.start * ss,
                size: p.size * ss,
                type_: match gpt {
                    true => p.type_.clone(),
                    false => format!("0x{n:x}"),
                },
                kind: match gpt {
                    true => PartKind::Primary,
                    false => mbr_kind(n, p.number),
                },
                name: p.name.clone(),
                uuid: match gpt {
                    true => p.uuid.clone(),
                    false => mbr_partuuid(identifier.as_deref(), p.number),
                },
                attributes: p.attrs.clone(),
                bootable: p.bootable,
            }
        })
        .collect();
    PartitionTable {
        label: if gpt { Label::Gpt } else { Label::Msdos },
        identifier,
        partitions,
    }
}

pub use rear_ptable::trailing_number;

// ---------------------------------------------------------------- blkid

/// `blkid -p -o export DEVICE`: KEY=value lines; values have shell-style
/// backslash escapes (`EFI\ System`), which are removed.
pub fn parse_blkid_export(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let mut val = String::new();
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    val.push(n);
                }
            } else {
                val.push(c);
            }
        }
        m.insert(k.trim().to_string(), val);
    }
    m
}

// ---------------------------------------------------------------- LVM

fn lvm_rows<'a>(v: &'a Value, kind: &str) -> Result<&'a Vec<Value>, CaptureError> {
    v.get("report")
        .and_then(Value::as_array)
        .and_then(|r| r.iter().find_map(|e| e.get(kind)))
        .and_then(Value::as_array)
        .ok_or_else(|| perr("LVM json report", format!("no report.{kind} array")))
}

/// `lvs --segments --reportformat json -o vg_name,lv_name,segtype,seg_start_pe,seg_pe_ranges`:
/// (vg, lv) → its linear segments in logical order. An LV with any
/// segment on more than one range (striped, RAID) or on no PV (a pool's
/// hidden volumes) gets none.
pub fn parse_lv_segments(
    text: &str,
) -> Result<BTreeMap<(String, String), Vec<crate::model::Segment>>, CaptureError> {
    let v = lvm_json(text)?;
    // (vg, lv) → (first logical extent, the segment when it is linear).
    type Rows = BTreeMap<(String, String), Vec<(u64, Option<crate::model::Segment>)>>;
    let mut rows: Rows = BTreeMap::new();
    for r in lvm_rows(&v, "seg")? {
        let (Some(vg), Some(lv)) = (jstr(r, "vg_name"), jstr(r, "lv_name")) else {
            continue;
        };
        let le = jnum(r, "seg_start_pe").unwrap_or(0);
        let ranges = jstr(r, "seg_pe_ranges").unwrap_or_default();
        let words: Vec<&str> = ranges.split_whitespace().collect();
        // `/dev/vdb1:0-24`: extents 0 to 24 (inclusive) of /dev/vdb1.
        let seg = match (jstr(r, "segtype").as_deref(), &words[..]) {
            (Some("linear") | None, [one]) => one.rsplit_once(':').and_then(|(pv, range)| {
                let (a, b) = range.split_once('-')?;
                let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
                (pv.starts_with("/dev/") && b >= a).then(|| crate::model::Segment {
                    pv: pv.to_string(),
                    start: a,
                    count: b - a + 1,
                })
            }),
            _ => None,
        };
        rows.entry((vg, lv)).or_default().push((le, seg));
    }
    Ok(rows
        .into_iter()
        .filter_map(|(k, mut segs)| {
            segs.sort_by_key(|(le, _)| *le);
            let all: Option<Vec<_>> = segs.into_iter().map(|(_, s)| s).collect();
            all.map(|a| (k, a))
        })
        .collect())
}

fn lvm_json(text: &str) -> Result<Value, CaptureError> {
    serde_json::from_str(text).map_err(|e| perr("LVM json report", e.to_string()))
}

/// `pvs --reportformat json --units b --nosuffix -o pv_name,pv_uuid,vg_name,pv_size`.
/// PVs in no VG have an empty `vg`.
pub fn parse_pvs(text: &str) -> Result<Vec<Pv>, CaptureError> {
    let v = lvm_json(text)?;
    lvm_rows(&v, "pv")?
        .iter()
        .map(|r| {
            Ok(Pv {
                device: jstr(r, "pv_name").ok_or_else(|| perr("pvs", "a PV without pv_name"))?,
                uuid: jstr(r, "pv_uuid").unwrap_or_default(),
                vg: jstr(r, "vg_name").unwrap_or_default(),
                size: jnum(r, "pv_size").unwrap_or(0),
            })
        })
        .collect()
}

/// `vgs --reportformat json --units b --nosuffix -o vg_name,vg_uuid,vg_extent_size,vg_size`.
pub fn parse_vgs(text: &str) -> Result<Vec<Vg>, CaptureError> {
    let v = lvm_json(text)?;
    lvm_rows(&v, "vg")?
        .iter()
        .map(|r| {
            Ok(Vg {
                name: jstr(r, "vg_name").ok_or_else(|| perr("vgs", "a VG without vg_name"))?,
                uuid: jstr(r, "vg_uuid"),
                extent_size: jnum(r, "vg_extent_size")
                    .ok_or_else(|| perr("vgs", "a VG without vg_extent_size"))?,
                size: jnum(r, "vg_size").unwrap_or(0),
                free: None,
            })
        })
        .collect()
}

/// What `lvs` said, split into what the model holds and what it cannot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LvReport {
    pub lvs: Vec<Lv>,
    /// (device, why): visible LVs the model cannot represent (cache,
    /// snapshot, vdo, writecache, integrity, ...).
    pub unsupported: Vec<(String, String)>,
}

/// `lvs -a --reportformat json --units b --nosuffix -o lv_name,vg_name,
/// lv_uuid,lv_size,segtype,stripes,stripe_size,pool_lv,lv_metadata_size,
/// chunk_size,lv_attr,data_stripes,lv_dm_path`. Hidden LVs (`[pool_tdata]`,
/// `[lv_rimage_0]`, `[lvol0_pmspare]`) are internal and skipped; an LV with
/// several segments (one row each) takes its first segment's type, and
/// differing segment types are reported as unsupported. For mirror and
/// raid1 `mirrors` is lvcreate's `-m` (images - 1); for striped and
/// raid4/5/6/10, `stripes` is lvcreate's `-i` (data stripes).
pub fn parse_lvs(text: &str) -> Result<LvReport, CaptureError> {
    let v = lvm_json(text)?;
    let mut rep = LvReport::default();
    let mut mixed: Vec<String> = Vec::new();
    for r in lvm_rows(&v, "lv")? {
        let name = jstr(r, "lv_name").ok_or_else(|| perr("lvs", "an LV without lv_name"))?;
        if name.starts_with('[') {
            continue;
        }
        let vg = jstr(r, "vg_name").ok_or_else(|| perr("lvs", format!("{name}: no vg_name")))?;
        let device = jstr(r, "lv_dm_path").unwrap_or_else(|| crate::model::lv_device(&vg, &name));
        let segtype = jstr(r, "segtype").unwrap_or_default();
        if let Some(prev) = rep.lvs.iter().find(|l| l.vg == vg && l.name == name) {
            if prev.segtype != segtype && !mixed.contains(&prev.device) {
                mixed.push(prev.device.clone());
            }
            continue;
        }
        if rep.unsupported.iter().any(|(d, _)| *d == device) {
            continue;
        }
        let attr = jstr(r, "lv_attr").unwrap_or_default();
        let kind = attr.chars().next().unwrap_or('-');
        let why = match (segtype.as_str(), kind) {
            (_, 's') | (_, 'S') => Some("an LVM snapshot".to_string()),
            ("cache", _) | (_, 'C') => Some("an LVM cache volume".to_string()),
            ("cache-pool", _) => Some("an LVM cache pool".to_string()),
            ("writecache", _) => Some("an LVM writecache volume".to_string()),
            ("vdo", _) | ("vdo-pool", _) => Some("an LVM VDO volume".to_string()),
            ("integrity", _) => Some("an LVM integrity volume".to_string()),
            (
                "linear" | "striped" | "mirror" | "raid0" | "raid0_meta" | "raid1" | "raid4"
                | "raid5" | "raid5_la" | "raid5_ls" | "raid5_ra" | "raid5_rs" | "raid5_n" | "raid6"
                | "raid6_zr" | "raid6_nr" | "raid6_nc" | "raid10" | "thin-pool" | "thin",
                _,
            ) => None,
            (other, _) => Some(format!("an LVM volume of segment type {other:?}")),
        };
        if let Some(why) = why {
            rep.unsupported.push((device, why));
            continue;
        }
        let stripes = jnum(r, "stripes").map(|n| n as u32);
        let data_stripes = jnum(r, "data_stripes").map(|n| n as u32);
        let stripe_size = jnum(r, "stripe_size").filter(|n| *n > 0);
        let base = segtype.split('_').next().unwrap_or(&segtype).to_string();
        let mut lv = Lv {
            vg,
            name,
            device,
            segtype: base.clone(),
            size: jnum(r, "lv_size").unwrap_or(0),
            uuid: jstr(r, "lv_uuid"),
            ..Default::default()
        };
        match base.as_str() {
            "striped" | "raid0" | "raid4" | "raid5" | "raid6" => {
                lv.stripes = data_stripes.or(stripes);
                lv.stripe_size = stripe_size;
            }
            "raid10" => {
                lv.stripes = data_stripes.or(stripes.map(|s| s / 2));
                lv.stripe_size = stripe_size;
                lv.mirrors = Some(1);
            }
            "mirror" | "raid1" => {
                lv.mirrors = stripes.map(|s| s.saturating_sub(1));
            }
            "thin-pool" => {
                lv.metadata_size = jnum(r, "lv_metadata_size").filter(|n| *n > 0);
                lv.chunk_size = jnum(r, "chunk_size").filter(|n| *n > 0);
            }
            "thin" => {
                lv.pool = jstr(r, "pool_lv");
            }
            _ => {}
        }
        rep.lvs.push(lv);
    }
    for d in mixed {
        rep.lvs.retain(|l| l.device != d);
        rep.unsupported.push((
            d,
            "an LVM volume whose segments have different types".to_string(),
        ));
    }
    Ok(rep)
}

// ---------------------------------------------------------------- mdadm

/// `mdadm --detail --export /dev/mdN`: level, members in role order,
/// spares, metadata, uuid and name (without the `host:` prefix mdadm
/// adds). `device`, `size`, `chunk` and `layout` are left for the caller
/// (sysfs and [`parse_mdadm_detail`]). Faulty members are left out.
pub fn parse_mdadm_export(text: &str) -> Result<Raid, CaptureError> {
    let kv: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let level = kv
        .get("MD_LEVEL")
        .cloned()
        .ok_or_else(|| perr("mdadm --detail --export", "no MD_LEVEL"))?;
    let metadata = kv.get("MD_METADATA").cloned().unwrap_or_default();
    let uuid = kv
        .get("MD_UUID")
        .cloned()
        .ok_or_else(|| perr("mdadm --detail --export", "no MD_UUID"))?;
    let name = kv.get("MD_NAME").map(|n| match n.split_once(':') {
        Some((_, short)) => short.to_string(),
        None => n.clone(),
    });
    let mut active: Vec<(u32, String)> = Vec::new();
    let mut spares = Vec::new();
    for (k, role) in &kv {
        let Some(id) = k
            .strip_prefix("MD_DEVICE_")
            .and_then(|r| r.strip_suffix("_ROLE"))
        else {
            continue;
        };
        let dev = kv
            .get(&format!("MD_DEVICE_{id}_DEV"))
            .cloned()
            .unwrap_or_else(|| format!("/{}", id.replace('_', "/")));
        match role.parse::<u32>() {
            Ok(n) => active.push((n, dev)),
            Err(_) if role == "spare" => spares.push(dev),
            Err(_) => {}
        }
    }
    active.sort();
    spares.sort();
    Ok(Raid {
        level,
        devices: active.into_iter().map(|(_, d)| d).collect(),
        spares,
        metadata,
        uuid,
        name,
        ..Default::default()
    })
}

/// From `mdadm --detail /dev/mdN` (the human form): chunk size (bytes),
/// layout and array size (bytes), when it prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MdDetail {
    pub chunk: Option<u64>,
    pub layout: Option<String>,
    pub size: Option<u64>,
    pub raid_devices: Option<u32>,
    /// "Used Dev Size" (what each member gives the array), bytes.
    pub used_dev_size: Option<u64>,
}

pub fn parse_mdadm_detail(text: &str) -> MdDetail {
    let mut d = MdDetail::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(" : ") else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "Chunk Size" => d.chunk = parse_unit_size(v),
            "Layout" => d.layout = Some(v.to_string()),
            "Array Size" => {
                d.size = v
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .and_then(|k| k.checked_mul(1024))
            }
            "Raid Devices" => d.raid_devices = v.parse().ok(),
            "Used Dev Size" => {
                d.used_dev_size = v
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .and_then(|k| k.checked_mul(1024))
            }
            _ => {}
        }
    }
    d
}

/// `512K`, `64k`, `1M`, `4096` → bytes.
fn parse_unit_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
}

// ---------------------------------------------------------------- LUKS

/// `cryptsetup luksDump DEVICE` (LUKS1 and LUKS2): version, cipher, key
/// size (bits), hash, pbkdf and its costs, uuid and label; `device`,
/// `name`, `backing` and `size` are left for the caller. For LUKS2 the
/// cipher is the data segment's, the key size, PBKDF, its costs and hash
/// are the first key slot's (hash: its AF hash, else the digest's).
pub fn parse_luks_dump(text: &str) -> Result<Luks, CaptureError> {
    let what = "cryptsetup luksDump";
    let field = |key: &str| -> Option<String> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let version: u8 = field("Version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| perr(what, "no Version"))?;
    let uuid = field("UUID").ok_or_else(|| perr(what, "no UUID"))?;
    let mut l = Luks {
        version,
        uuid,
        ..Default::default()
    };
    match version {
        1 => {
            let name = field("Cipher name").ok_or_else(|| perr(what, "no Cipher name"))?;
            let mode = field("Cipher mode").ok_or_else(|| perr(what, "no Cipher mode"))?;
            l.cipher = format!("{name}-{mode}");
            l.hash = field("Hash spec").ok_or_else(|| perr(what, "no Hash spec"))?;
            l.key_size = field("MK bits")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| perr(what, "no MK bits"))?;
            l.pbkdf = Some("pbkdf2".to_string());
            // The first enabled key slot's (the master key's "MK
            // iterations" are another field).
            l.pbkdf_iterations = field("Iterations").and_then(|v| v.parse().ok());
        }
        2 => {
            l.label = field("Label").filter(|s| s != "(no label)" && !s.is_empty());
            let section = |name: &str| -> Vec<&str> {
                text.lines()
                    .skip_while(|s| s.trim_end() != name)
                    .skip(1)
                    .take_while(|s| s.starts_with(char::is_whitespace) || s.is_empty())
                    .collect()
            };
            let get = |lines: &[&str], key: &str| -> Option<String> {
                lines.iter().find_map(|s| {
                    let (k, v) = s.split_once(':')?;
                    (k.trim() == key).then(|| v.trim().to_string())
                })
            };
            let seg = section("Data segments:");
            let slots = section("Keyslots:");
            let digests = section("Digests:");
            l.cipher = get(&seg, "cipher").ok_or_else(|| perr(what, "no data segment cipher"))?;
            let key = get(&slots, "Key")
                .or_else(|| get(&slots, "Cipher key"))
                .ok_or_else(|| perr(what, "no key slot with a key size"))?;
            l.key_size = key
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| perr(what, format!("key size {key:?}")))?;
            l.pbkdf = get(&slots, "PBKDF");
            // The first key slot alone ("  0: luks2" up to the next "  N: ").
            let is_slot = |s: &str| {
                s.trim()
                    .split_once(':')
                    .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            };
            let first: Vec<&str> = slots
                .iter()
                .skip_while(|s| !is_slot(s))
                .enumerate()
                .take_while(|(i, s)| *i == 0 || !is_slot(s))
                .map(|(_, s)| *s)
                .collect();
            let num = |key: &str| get(&first, key).and_then(|v| v.parse::<u32>().ok());
            l.pbkdf_iterations = num("Time cost").or_else(|| num("Iterations"));
            l.pbkdf_memory_kib = num("Memory");
            l.pbkdf_threads = num("Threads");
            l.hash = get(&slots, "AF hash")
                .or_else(|| get(&slots, "Hash"))
                .or_else(|| get(&digests, "Hash"))
                .ok_or_else(|| perr(what, "no hash"))?;
        }
        v => return Err(perr(what, format!("LUKS version {v}"))),
    }
    Ok(l)
}

// ---------------------------------------------------------------- btrfs

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtrfsShow {
    pub uuid: String,
    pub label: Option<String>,
    /// Member devices in devid order.
    pub devices: Vec<String>,
}

/// `btrfs filesystem show --raw`: every btrfs with its member devices.
/// Missing devices (`*** Some devices missing`) are simply absent.
pub fn parse_btrfs_show(text: &str) -> Vec<BtrfsShow> {
    let mut out: Vec<BtrfsShow> = Vec::new();
    let mut devs: Vec<(u64, String)> = Vec::new();
    let flush = |out: &mut Vec<BtrfsShow>, devs: &mut Vec<(u64, String)>| {
        if let Some(last) = out.last_mut() {
            devs.sort();
            last.devices = devs.drain(..).map(|(_, p)| p).collect();
        }
    };
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Label:") {
            flush(&mut out, &mut devs);
            let (label_part, uuid) = match rest.rsplit_once("uuid:") {
                Some((l, u)) => (l.trim(), u.trim().to_string()),
                None => (rest.trim(), String::new()),
            };
            let label = if label_part == "none" {
                None
            } else {
                Some(label_part.trim_matches('\'').to_string())
            };
            out.push(BtrfsShow {
                uuid,
                label,
                devices: Vec::new(),
            });
        } else if let Some(rest) = t.strip_prefix("devid") {
            let mut it = rest.split_whitespace();
            let id = it.next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
            if let Some(p) = rest.split(" path ").nth(1) {
                devs.push((id, p.trim().to_string()));
            }
        }
    }
    flush(&mut out, &mut devs);
    out
}

/// `btrfs subvolume list -a -p MOUNT`: subvolume paths below the top level
/// (`<FS_TREE>/` removed), in the order listed.
pub fn parse_btrfs_subvolume_list(text: &str) -> Vec<Subvolume> {
    text.lines()
        .filter_map(|l| l.split_once(" path ").map(|(_, p)| p.trim()))
        .map(|p| Subvolume {
            path: p.strip_prefix("<FS_TREE>/").unwrap_or(p).to_string(),
            ..Default::default()
        })
        .collect()
}

/// `btrfs subvolume get-default MOUNT`: the default subvolume's path, or
/// None when it is the top level (`ID 5 (FS_TREE)`).
pub fn parse_btrfs_get_default(text: &str) -> Option<String> {
    let l = text.lines().find(|l| l.starts_with("ID "))?;
    if l.contains("(FS_TREE)") {
        return None;
    }
    l.split_once(" path ")
        .map(|(_, p)| p.trim())
        .map(|p| p.strip_prefix("<FS_TREE>/").unwrap_or(p).to_string())
}

/// `btrfs inspect-internal dump-super DEVICE`: `fsid`, and the attributes
/// `nodesize`, `sectorsize` and `features` (mkfs.btrfs -O names, comma
/// separated, from the incompat and compat_ro flags mkfs can set).
pub fn parse_btrfs_dump_super(text: &str) -> Result<BTreeMap<String, String>, CaptureError> {
    let mut m = BTreeMap::new();
    let mut flags: Vec<String> = Vec::new();
    let mut in_flags = false;
    for line in text.lines() {
        let t = line.trim();
        if line.starts_with(char::is_whitespace) || t.starts_with('(') {
            if in_flags {
                flags.extend(
                    t.trim_matches(|c| c == '(' || c == ')')
                        .split('|')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            }
            continue;
        }
        let mut it = t.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        in_flags = k == "incompat_flags" || k == "compat_ro_flags";
        match k {
            "fsid" | "nodesize" | "sectorsize" => {
                m.insert(k.to_string(), v.to_string());
            }
            _ => {}
        }
    }
    if !m.contains_key("nodesize") {
        return Err(perr("btrfs inspect-internal dump-super", "no nodesize"));
    }
    let mut features: Vec<&str> = Vec::new();
    for f in &flags {
        let name = match f.as_str() {
            "MIXED_GROUPS" => "mixed-bg",
            "EXTENDED_IREF" => "extref",
            "RAID56" => "raid56",
            "SKINNY_METADATA" => "skinny-metadata",
            "NO_HOLES" => "no-holes",
            "ZONED" => "zoned",
            "RAID1C34" => "raid1c34",
            "BLOCK_GROUP_TREE" => "block-group-tree",
            "FREE_SPACE_TREE" => "free-space-tree",
            _ => continue,
        };
        if !features.contains(&name) {
            features.push(name);
        }
    }
    m.insert("features".to_string(), features.join(","));
    Ok(m)
}

/// `btrfs filesystem df --raw MOUNT`: (data profile, metadata profile),
/// lowercase (`single`, `dup`, `raid1`, ...).
pub fn parse_btrfs_df(text: &str) -> (Option<String>, Option<String>) {
    let profile = |kind: &str| {
        text.lines().find_map(|l| {
            let (k, _) = l.split_once(':')?;
            let (t, p) = k.split_once(',')?;
            (t.trim() == kind).then(|| p.trim().to_ascii_lowercase())
        })
    };
    (
        profile("Data").or_else(|| profile("Data+Metadata")),
        profile("Metadata").or_else(|| profile("Data+Metadata")),
    )
}

/// `lsattr -d PATH`: whether the `C` (no copy-on-write) attribute is set.
pub fn parse_lsattr_nocow(text: &str) -> bool {
    text.lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
        .is_some_and(|flags| flags.contains('C'))
}

// ---------------------------------------------------------------- xfs, ext, vfat

/// `xfs_info` (or `xfs_db -r -c info`): `block_size`, `inode_size` (bytes),
/// `crc`, `finobt`, `reflink`, `rmapbt`, `bigtime`, `inobtcount` (0/1),
/// `sunit`, `swidth` and `log_size` (bytes).
/// The xfs metadata features capture keeps and recreation asks mkfs.xfs
/// for (`-m crc=1,...`), as xfs_info names them.
pub const XFS_FEATURES: [&str; 6] = [
    "crc",
    "finobt",
    "reflink",
    "rmapbt",
    "bigtime",
    "inobtcount",
];

pub fn parse_xfs_info(text: &str) -> Result<BTreeMap<String, String>, CaptureError> {
    let mut section = "";
    let mut raw: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let (head, rest) = match line.split_once('=') {
            Some((h, r)) => (h.trim(), r),
            None => continue,
        };
        if !head.is_empty() {
            section = match head {
                "meta-data" => "meta",
                "data" => "data",
                "naming" => "naming",
                "log" => "log",
                "realtime" => "rt",
                _ => "",
            };
        }
        // `rest` is like "/dev/vda5   isize=512    agcount=2, agsize=40960 blks".
        for tok in rest.split([' ', ',', '\t']) {
            let Some((k, v)) = tok.split_once('=') else {
                continue;
            };
            raw.insert(format!("{section}.{k}"), v.to_string());
        }
    }
    let bsize: u64 = raw
        .get("data.bsize")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| perr("xfs_info", "no data bsize"))?;
    let mut m = BTreeMap::new();
    m.insert("block_size".to_string(), bsize.to_string());
    if let Some(v) = raw.get("meta.isize") {
        m.insert("inode_size".to_string(), v.clone());
    }
    for k in XFS_FEATURES {
        if let Some(v) = raw.get(&format!("meta.{k}")) {
            m.insert(k.to_string(), v.clone());
        }
    }
    // Block counts that are no number of bytes are left out, as those
    // that are no number.
    for k in ["sunit", "swidth"] {
        if let Some(n) = raw
            .get(&format!("data.{k}"))
            .and_then(|v| v.parse::<u64>().ok())
            .and_then(|n| n.checked_mul(bsize))
        {
            m.insert(k.to_string(), n.to_string());
        }
    }
    let log_bsize: u64 = raw
        .get("log.bsize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(bsize);
    if let Some(n) = raw
        .get("log.blocks")
        .and_then(|v| v.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(log_bsize))
    {
        m.insert("log_size".to_string(), n.to_string());
    }
    Ok(m)
}

/// `dumpe2fs -h DEVICE`: `block_size`, `inode_size`, `features` (space
/// separated, without state flags such as `needs_recovery`),
/// `reserved_percent` (to a tenth), `bytes_per_inode` and `inode_count`.
pub fn parse_dumpe2fs(text: &str) -> Result<BTreeMap<String, String>, CaptureError> {
    let f: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let num = |k: &str| f.get(k).and_then(|v| v.parse::<u64>().ok());
    let block = num("Block size").ok_or_else(|| perr("dumpe2fs -h", "no Block size"))?;
    let blocks = num("Block count").ok_or_else(|| perr("dumpe2fs -h", "no Block count"))?;
    let mut m = BTreeMap::new();
    m.insert("block_size".to_string(), block.to_string());
    if let Some(v) = num("Inode size") {
        m.insert("inode_size".to_string(), v.to_string());
    }
    if let Some(feat) = f.get("Filesystem features") {
        let list: Vec<&str> = feat
            .split_whitespace()
            .filter(|x| !matches!(*x, "needs_recovery" | "orphan_present" | "(none)"))
            .collect();
        m.insert("features".to_string(), list.join(" "));
    }
    if let (Some(r), true) = (num("Reserved block count"), blocks > 0) {
        // In u128: the counts are the file's, and need not be sane.
        let tenths = (u128::from(r) * 1000 + u128::from(blocks) / 2) / u128::from(blocks);
        let pct = if tenths % 10 == 0 {
            format!("{}", tenths / 10)
        } else {
            format!("{}.{}", tenths / 10, tenths % 10)
        };
        m.insert("reserved_percent".to_string(), pct);
    }
    // mke2fs rounds size / ratio up to whole inode tables per group, so
    // only the count itself makes the same file system again (`-N`, when
    // the size is the same). The ratio, for a resized one, is rounded up:
    // the floor would add inodes at each recreation.
    if let Some(inodes) = num("Inode count").filter(|n| *n > 0) {
        // A size past u64 is no file system: no ratio then.
        if let Some(bytes) = blocks.checked_mul(block) {
            m.insert(
                "bytes_per_inode".to_string(),
                bytes.div_ceil(inodes).to_string(),
            );
        }
        m.insert("inode_count".to_string(), inodes.to_string());
    }
    Ok(m)
}

/// The FAT size from blkid's VERSION (`FAT12`, `FAT16`, `FAT32`).
pub fn fat_size(blkid_version: &str) -> Option<String> {
    blkid_version
        .strip_prefix("FAT")
        .filter(|n| matches!(*n, "12" | "16" | "32"))
        .map(str::to_string)
}

// ---------------------------------------------------------------- mounts, swaps

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u32,
    pub parent: u32,
    pub maj_min: String,
    /// The path inside the filesystem that is mounted (`/`, `/@home`).
    pub root: String,
    pub mountpoint: String,
    /// Per-mount options (`rw,relatime`).
    pub options: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

/// `/proc/self/mountinfo`, with octal escapes (`\040`) decoded.
pub fn parse_mountinfo(text: &str) -> Result<Vec<MountEntry>, CaptureError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let no = i + 1;
        let (left, right) = line
            .split_once(" - ")
            .ok_or_else(|| perr("mountinfo", format!("line {no}: no separator in {line:?}")))?;
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 2 {
            return Err(perr("mountinfo", format!("line {no}: short line {line:?}")));
        }
        out.push(MountEntry {
            id: l[0].parse().unwrap_or(0),
            parent: l[1].parse().unwrap_or(0),
            maj_min: l[2].to_string(),
            root: unescape_octal(l[3]),
            mountpoint: unescape_octal(l[4]),
            options: l[5].to_string(),
            fstype: unescape_octal(r[0]),
            source: unescape_octal(r[1]),
            super_options: r.get(2).map(|s| s.to_string()).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// `\040` → space, `\011` → tab, `\012` → newline, `\134` → backslash.
pub fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/proc/swaps`: (file name, type) of each active swap area.
pub fn parse_proc_swaps(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((unescape_octal(it.next()?), it.next()?.to_string()))
        })
        .collect()
}

// ---------------------------------------------------------------- boot

/// `efibootmgr -v`: the active boot entries (`Boot0001* label\tpath`),
/// with the partition GUID of `HD(n,GPT,guid,...)` and the `File(...)`
/// path when the entry has them.
pub fn parse_efibootmgr(text: &str) -> Vec<EfiEntry> {
    const PATH_STARTS: &[&str] = &[
        "HD(",
        "PciRoot(",
        "FvVol(",
        "Fv(",
        "VenHw(",
        "VenMsg(",
        "VenMedia(",
        "BBS(",
        "File(",
        "MAC(",
        "Uri(",
        "Acpi(",
        "Pci(",
        "USB(",
        "Sata(",
        "NVMe(",
        "Scsi(",
        "CDROM(",
    ];
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("Boot") else {
            continue;
        };
        // `get`: the four bytes after `Boot` need not end a character.
        let Some(number) = rest
            .get(..4)
            .filter(|n| n.chars().all(|c| c.is_ascii_hexdigit()))
        else {
            continue;
        };
        if rest.as_bytes().get(4) != Some(&b'*') {
            continue;
        }
        let number = number.to_string();
        let body = rest[5..].trim_start();
        let (label, path) = match body.split_once('\t') {
            Some((l, p)) => (l.trim().to_string(), p.trim().to_string()),
            None => {
                let cut = PATH_STARTS
                    .iter()
                    .filter_map(|p| body.find(p))
                    .min()
                    .unwrap_or(body.len());
                (
                    body[..cut].trim().to_string(),
                    body[cut..].trim().to_string(),
                )
            }
        };
        let partuuid = path.find("HD(").and_then(|i| {
            let inner = &path[i + 3..];
            let inner = &inner[..inner.find(')')?];
            let parts: Vec<&str> = inner.split(',').collect();
            (parts.len() >= 3 && parts[1] == "GPT").then(|| parts[2].to_ascii_lowercase())
        });
        // A `File(...)` node of the device path, not `FvFile(...)` (a
        // firmware application such as the setup menu).
        let file = path.split('/').find_map(|node| {
            let inner = node.strip_prefix("File(")?;
            inner.find(')').map(|j| inner[..j].to_string())
        });
        out.push(EfiEntry {
            number,
            label,
            partuuid,
            path: file,
        });
    }
    out
}

/// `ls -l /dev/disk/by-id`: (link name, kernel name it points to).
pub fn parse_by_id(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            let name = left.split_whitespace().last()?;
            let k = target.trim().rsplit('/').next()?;
            Some((name.to_string(), k.to_string()))
        })
        .collect()
}
