//! The planner: a pure function from (saved layout, disks present, mapping,
//! options) to an ordered list of steps that recreate the layout. Nothing
//! here touches a disk; `apply` runs the steps, and refuses any step whose
//! devices are not inside the mapping.
//!
//! Order follows the dependency graph: wipe old signatures → partition
//! tables → md RAID → LUKS (on partitions, disks, RAID) → LVM PVs, VGs,
//! LVs → LUKS on logical volumes → filesystems and swap → btrfs
//! subvolumes → mounts below the mount root.

use crate::model::*;
use rear_exec::quote;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

/// A disk found on the machine being recovered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresentDisk {
    pub device: String,
    pub size: u64,
    pub logical_sector_size: u32,
    pub serial: Option<String>,
    pub wwn: Option<String>,
    pub by_id: Vec<String>,
    /// Partition devices on it now.
    pub partitions: Vec<String>,
    /// Identifiers of what is on it now: PTUUID, PARTUUIDs, filesystem
    /// UUIDs and labels (matched against write-protection patterns).
    pub ids: Vec<String>,
    /// Why it must not be written, when it is in use (mounted, holds the
    /// rescue medium or the backup).
    pub in_use: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resize {
    /// The last partition of a disk grows or shrinks to fit (ReaR's default).
    #[default]
    LastPartition,
    /// Every partition scales with the disk (alignment kept to 1 MiB).
    Proportional,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// OLD=NEW pairs from the command line; they override automatic mapping.
    pub map: BTreeMap<String, String>,
    /// File holding the LUKS passphrase (first line), read only when applied.
    pub passphrase_file: Option<PathBuf>,
    pub resize: Resize,
    /// Glob patterns over disk identifiers (device, WWN, serial, by-id
    /// names, PTUUID, PARTUUIDs, UUIDs, labels): matching disks are never written.
    pub write_protected: Vec<String>,
    /// Where the recreated file systems are mounted.
    pub mount_root: String,
    /// Mount the recreated file systems at the end.
    pub mount: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            map: BTreeMap::new(),
            passphrase_file: None,
            resize: Resize::default(),
            // ReaR's backup disks: never a recovery target.
            write_protected: vec!["REAR-000".into()],
            mount_root: "/mnt/local".into(),
            mount: true,
        }
    }
}

/// Standard input of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Shown in the plan.
    Text(String),
    /// The first line of this file, read when the step runs; never shown,
    /// never on a command line.
    Secret(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Stable identifier, used to skip steps already done on a re-run.
    pub id: String,
    pub what: String,
    pub argv: Vec<String>,
    pub input: Option<Input>,
    /// Devices this step writes (or holds open for writing).
    pub writes: Vec<String>,
    /// Devices this step brings into existence.
    pub creates: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Old disk → new disk.
    pub mapping: BTreeMap<String, String>,
    /// Old device → new device, for the disks and their partitions (what
    /// the restored system's fstab, crypttab and boot configuration must follow).
    pub renames: BTreeMap<String, String>,
    /// The disks the plan writes: exactly the mapping's targets.
    pub targets: BTreeSet<String>,
    pub steps: Vec<Step>,
    /// Things the operator should know (resizes, ignored components).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("no disk here matches {old} ({size}); name one with --map {old}=/dev/NEW (disks here: {candidates})")]
    Unmapped {
        old: String,
        size: String,
        candidates: String,
    },
    #[error("--map {0}: {1}")]
    BadMap(String, String),
    #[error("the mapping is not one-to-one: {0} and {1} both map to {2}")]
    NotOneToOne(String, String, String),
    #[error("refusing to write {disk}: {why}")]
    Protected { disk: String, why: String },
    #[error("{disk} ({have}) is too small for the layout of {old}: {need}")]
    TooSmall {
        disk: String,
        old: String,
        have: String,
        need: String,
    },
    #[error("volume group {vg} no longer fits on its resized physical volumes: its logical volumes need {need}, the volume group will have {have}")]
    LvsDoNotFit {
        vg: String,
        need: String,
        have: String,
    },
    #[error("the layout has LUKS volume {0}: give the passphrase with --passphrase-file FILE")]
    NoPassphrase(String),
    #[error("{0}")]
    Unsupported(String),
}

pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    // `*` and `?` only; enough for identifiers and simpler than a dependency.
    fn m(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], t) || (!t.is_empty() && m(p, &t[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => m(&p[1..], &t[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), text.as_bytes())
}

/// Why `disk` must not be written, if it must not.
fn protection(disk: &PresentDisk, patterns: &[String]) -> Option<String> {
    if let Some(why) = &disk.in_use {
        return Some(why.clone());
    }
    let ids = std::iter::once(&disk.device)
        .chain(&disk.serial)
        .chain(&disk.wwn)
        .chain(&disk.by_id)
        .chain(&disk.ids);
    for id in ids {
        if let Some(p) = patterns.iter().find(|p| glob(p, id)) {
            return Some(format!("it is write-protected ({id} matches {p:?})"));
        }
    }
    None
}

/// Old disk → new disk: `--map` first, then identity (WWN, serial), then
/// same name and size, then a unique disk of the same size, then the same
/// name on a larger disk.
pub fn map_disks(
    layout: &Layout,
    present: &[PresentDisk],
    opts: &Options,
) -> Result<BTreeMap<String, String>, PlanError> {
    let mut map = BTreeMap::new();
    for (old, new) in &opts.map {
        if layout.disk(old).is_none() {
            return Err(PlanError::BadMap(
                format!("{old}={new}"),
                format!("{old} is not a disk of the saved layout"),
            ));
        }
        if !present.iter().any(|p| &p.device == new) {
            return Err(PlanError::BadMap(
                format!("{old}={new}"),
                format!("{new} is not a disk on this machine"),
            ));
        }
        map.insert(old.clone(), new.clone());
    }
    let taken = |map: &BTreeMap<String, String>, dev: &str| map.values().any(|v| v == dev);
    // Identity.
    for d in &layout.disks {
        if map.contains_key(&d.device) {
            continue;
        }
        let same = present.iter().find(|p| {
            !taken(&map, &p.device)
                && ((d.wwn.is_some() && p.wwn == d.wwn)
                    || (d.serial.is_some() && p.serial == d.serial))
        });
        if let Some(p) = same {
            map.insert(d.device.clone(), p.device.clone());
        }
    }
    // Same name and size.
    for d in &layout.disks {
        if map.contains_key(&d.device) {
            continue;
        }
        if let Some(p) = present
            .iter()
            .find(|p| p.device == d.device && p.size == d.size && !taken(&map, &p.device))
        {
            map.insert(d.device.clone(), p.device.clone());
        }
    }
    // A unique disk of the same size.
    for d in &layout.disks {
        if map.contains_key(&d.device) {
            continue;
        }
        let same: Vec<&PresentDisk> = present
            .iter()
            .filter(|p| p.size == d.size && !taken(&map, &p.device))
            .filter(|p| protection(p, &opts.write_protected).is_none())
            .collect();
        if same.len() == 1 {
            map.insert(d.device.clone(), same[0].device.clone());
        }
    }
    // The same name on a larger disk: a failed disk replaced by a bigger one.
    for d in &layout.disks {
        if map.contains_key(&d.device) {
            continue;
        }
        if let Some(p) = present.iter().find(|p| {
            p.device == d.device
                && p.size > d.size
                && !taken(&map, &p.device)
                && protection(p, &opts.write_protected).is_none()
        }) {
            map.insert(d.device.clone(), p.device.clone());
        }
    }
    for d in &layout.disks {
        if !map.contains_key(&d.device) {
            return Err(PlanError::Unmapped {
                old: d.device.clone(),
                size: human(d.size),
                candidates: present
                    .iter()
                    .map(|p| format!("{} {}", p.device, human(p.size)))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (old, new) in &map {
        if let Some(other) = seen.insert(new, old) {
            return Err(PlanError::NotOneToOne(
                other.into(),
                old.clone(),
                new.clone(),
            ));
        }
    }
    Ok(map)
}

/// Renames every device of the layout through the disk mapping.
struct Renamer {
    names: BTreeMap<String, String>,
}

impl Renamer {
    fn new(layout: &Layout, map: &BTreeMap<String, String>) -> Renamer {
        let mut names = BTreeMap::new();
        for d in &layout.disks {
            let new = &map[&d.device];
            names.insert(d.device.clone(), new.clone());
            for p in &d.partitions {
                names.insert(p.device.clone(), partition_device(new, p.number));
            }
        }
        Renamer { names }
    }
    fn get(&self, dev: &str) -> String {
        self.names
            .get(dev)
            .cloned()
            .unwrap_or_else(|| dev.to_string())
    }
}

const MIB: u64 = 1 << 20;

/// Bytes GPT keeps at the end of a disk for its backup header and entries.
fn gpt_tail(sector: u64) -> u64 {
    16384 + sector
}

/// The partitions of `disk` refitted to `new_size`; errors when they cannot fit.
fn refit(
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

struct Builder<'a> {
    layout: &'a Layout,
    r: Renamer,
    steps: Vec<Step>,
    /// Device → the devices it lives on (new names), for `writes`.
    under: BTreeMap<String, Vec<String>>,
}

impl Builder<'_> {
    fn step(
        &mut self,
        id: String,
        what: String,
        argv: Vec<String>,
        input: Option<Input>,
        writes: Vec<String>,
        creates: Vec<String>,
    ) {
        self.steps.push(Step {
            id,
            what,
            argv,
            input,
            writes,
            creates,
        });
    }

    /// The new names of everything `dev` stands on, itself included.
    fn stack(&self, dev: &str) -> Vec<String> {
        let mut out = vec![dev.to_string()];
        let mut i = 0;
        while i < out.len() {
            if let Some(u) = self.under.get(&out[i]) {
                for d in u {
                    if !out.contains(d) {
                        out.push(d.clone());
                    }
                }
            }
            i += 1;
        }
        out
    }
}

/// Formats and opens one LUKS volume (the passphrase from the file, on
/// standard input only). The first key slot gets the original's PBKDF
/// costs when the layout has them.
fn luks_steps(
    b: &mut Builder,
    l: &Luks,
    opts: &Options,
    grown: &mut BTreeMap<String, i128>,
) -> Result<(), PlanError> {
    let Some(pass) = &opts.passphrase_file else {
        return Err(PlanError::NoPassphrase(l.device.clone()));
    };
    let backing = b.r.get(&l.backing);
    let mut a = argv(&["cryptsetup", "luksFormat", "--batch-mode"]);
    a.push(format!("--type=luks{}", l.version));
    a.push(format!("--cipher={}", l.cipher));
    a.push(format!("--key-size={}", l.key_size));
    a.push(format!("--hash={}", l.hash));
    if let Some(p) = &l.pbkdf {
        if l.version == 2 {
            a.push(format!("--pbkdf={p}"));
        }
    }
    a.extend(pbkdf_cost_args(l));
    a.push(format!("--uuid={}", l.uuid));
    if let Some(lab) = &l.label {
        if l.version == 2 {
            a.push(format!("--label={lab}"));
        }
    }
    a.push(backing.clone());
    let writes = b.stack(&backing);
    b.step(
        format!("luks:{}", l.name),
        format!("format LUKS{} on {backing}", l.version),
        a,
        Some(Input::Secret(pass.clone())),
        writes.clone(),
        vec![],
    );
    b.step(
        format!("open:{}", l.name),
        format!("open {backing} as {}", l.device),
        argv(&["cryptsetup", "open", &backing, &l.name]),
        Some(Input::Secret(pass.clone())),
        writes,
        vec![l.device.clone()],
    );
    b.under.insert(l.device.clone(), vec![backing.clone()]);
    let delta = grown.get(&l.backing).copied().unwrap_or(0);
    grown.insert(l.device.clone(), delta);
    Ok(())
}

/// cryptsetup's options for the recorded PBKDF costs: iterations (PBKDF2)
/// or time cost (Argon2) skip the benchmark; Argon2 also keeps its memory
/// and threads. Nothing without recorded iterations (cryptsetup then
/// benchmarks, as for a layout imported from ReaR).
fn pbkdf_cost_args(l: &Luks) -> Vec<String> {
    let Some(it) = l.pbkdf_iterations else {
        return Vec::new();
    };
    let mut a = vec![format!("--pbkdf-force-iterations={it}")];
    let argon2 = l.version == 2 && l.pbkdf.as_deref().is_some_and(|p| p.starts_with("argon2"));
    if argon2 {
        if let Some(m) = l.pbkdf_memory_kib {
            a.push(format!("--pbkdf-memory={m}"));
        }
        if let Some(t) = l.pbkdf_threads {
            a.push(format!("--pbkdf-parallel={t}"));
        }
    }
    a
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Plans the recreation of `layout` on the disks `present`.
pub fn plan(layout: &Layout, present: &[PresentDisk], opts: &Options) -> Result<Plan, PlanError> {
    let mapping = map_disks(layout, present, opts)?;
    for new in mapping.values() {
        let disk = present.iter().find(|p| &p.device == new).unwrap();
        if let Some(why) = protection(disk, &opts.write_protected) {
            return Err(PlanError::Protected {
                disk: new.clone(),
                why,
            });
        }
    }
    let mut notes = Vec::new();
    let mut b = Builder {
        layout,
        r: Renamer::new(layout, &mapping),
        steps: Vec::new(),
        under: BTreeMap::new(),
    };

    // Partition tables, refitted to the new disks.
    let mut new_parts: BTreeMap<String, Vec<Partition>> = BTreeMap::new();
    // How much each old device grows (negative: shrinks) on its target.
    let mut grown: BTreeMap<String, i128> = BTreeMap::new();
    for d in &layout.disks {
        let new = mapping[&d.device].clone();
        let p = present.iter().find(|p| p.device == new).unwrap();
        if d.label.is_none() {
            if p.size < d.size {
                return Err(PlanError::TooSmall {
                    disk: new,
                    old: d.device.clone(),
                    have: human(p.size),
                    need: human(d.size),
                });
            }
            grown.insert(d.device.clone(), p.size as i128 - d.size as i128);
            continue;
        }
        let parts = refit(d, p.size, &new, opts.resize)?;
        if p.size != d.size {
            notes.push(format!(
                "{} ({}) is recreated on {} ({}): partitions resized",
                d.device,
                human(d.size),
                new,
                human(p.size)
            ));
        }
        for (old, part) in d.partitions.iter().zip(&parts) {
            let dev = partition_device(&new, part.number);
            b.under.insert(dev, vec![new.clone()]);
            grown.insert(old.device.clone(), part.size as i128 - old.size as i128);
        }
        new_parts.insert(d.device.clone(), parts);
    }

    // Wipe what is on the targets now: partitions first, then the disks.
    for new in mapping.values() {
        let p = present.iter().find(|p| &p.device == new).unwrap();
        for part in &p.partitions {
            b.step(
                format!("wipe:{part}"),
                format!("wipe old signatures on {part}"),
                argv(&["wipefs", "--all", "--force", part]),
                None,
                vec![part.clone(), new.clone()],
                vec![],
            );
        }
        b.step(
            format!("wipe:{new}"),
            format!("wipe old signatures on {new}"),
            argv(&["wipefs", "--all", "--force", new]),
            None,
            vec![new.clone()],
            vec![],
        );
    }
    for d in &layout.disks {
        let Some(parts) = new_parts.get(&d.device) else {
            continue;
        };
        let new = mapping[&d.device].clone();
        b.step(
            format!("partition:{new}"),
            format!(
                "create the {} partition table on {new}",
                if d.label == Some(Label::Gpt) {
                    "GPT"
                } else {
                    "msdos"
                }
            ),
            argv(&["sfdisk", "--wipe=always", "--wipe-partitions=always", &new]),
            Some(Input::Text(sfdisk_script(d, parts, &new))),
            vec![new.clone()],
            parts
                .iter()
                .map(|p| partition_device(&new, p.number))
                .collect(),
        );
        for p in parts.iter().filter(|p| p.kind != PartKind::Extended) {
            let dev = partition_device(&new, p.number);
            b.step(
                format!("wipe:{dev}"),
                format!("wipe leftovers in {dev}"),
                argv(&["wipefs", "--all", "--force", &dev]),
                None,
                vec![dev.clone()],
                vec![],
            );
        }
    }

    // md RAID.
    for raid in &layout.raids {
        let members: Vec<String> = raid.devices.iter().map(|d| b.r.get(d)).collect();
        let spares: Vec<String> = raid.spares.iter().map(|d| b.r.get(d)).collect();
        let mut a = argv(&["mdadm", "--create", &raid.device, "--run"]);
        a.push(format!("--metadata={}", raid.metadata));
        a.push(format!("--level={}", raid.level));
        a.push(format!("--raid-devices={}", members.len()));
        if !spares.is_empty() {
            a.push(format!("--spare-devices={}", spares.len()));
        }
        a.push(format!("--uuid={}", raid.uuid));
        if let Some(n) = &raid.name {
            a.push(format!("--name={n}"));
        }
        if let Some(c) = raid.chunk {
            a.push(format!("--chunk={}K", c / 1024));
        }
        if let Some(l) = &raid.layout {
            a.push(format!("--layout={l}"));
        }
        a.extend(members.iter().cloned());
        a.extend(spares.iter().cloned());
        let mut under = members.clone();
        under.extend(spares.iter().cloned());
        let mut writes = vec![raid.device.clone()];
        writes.extend(under.iter().cloned());
        b.under.insert(raid.device.clone(), under);
        // The array changes by what its smallest member changed, times the
        // members that hold data.
        let data_members = match raid.level.as_str() {
            "raid0" | "linear" => members.len() as i128,
            "raid4" | "raid5" => members.len() as i128 - 1,
            "raid6" => members.len() as i128 - 2,
            "raid10" => members.len() as i128 / 2,
            _ => 1,
        };
        let delta = raid
            .devices
            .iter()
            .map(|d| grown.get(d).copied().unwrap_or(0))
            .min()
            .unwrap_or(0);
        grown.insert(raid.device.clone(), delta * data_members);
        b.step(
            format!("raid:{}", raid.device),
            format!(
                "create {} {} on {}",
                raid.level,
                raid.device,
                members.join(" ")
            ),
            a,
            None,
            writes,
            vec![raid.device.clone()],
        );
    }

    // LUKS on partitions, disks and RAID arrays; LUKS on a logical volume
    // comes after LVM, which makes its backing device.
    let on_lv = |l: &Luks| {
        layout
            .lvs
            .iter()
            .any(|lv| lv.device == l.backing || lv_device(&lv.vg, &lv.name) == l.backing)
    };
    for l in layout.luks.iter().filter(|l| !on_lv(l)) {
        luks_steps(&mut b, l, opts, &mut grown)?;
    }

    // LVM.
    for pv in &layout.pvs {
        let dev = b.r.get(&pv.device);
        b.step(
            format!("pv:{dev}"),
            format!("make {dev} an LVM physical volume of {}", pv.vg),
            vec![
                "pvcreate".into(),
                "--force".into(),
                "--force".into(),
                "--yes".into(),
                "--norestorefile".into(),
                format!("--uuid={}", pv.uuid),
                dev.clone(),
            ],
            None,
            b.stack(&dev),
            vec![],
        );
    }
    for vg in &layout.vgs {
        let pvs: Vec<String> = layout
            .pvs
            .iter()
            .filter(|p| p.vg == vg.name)
            .map(|p| b.r.get(&p.device))
            .collect();
        if pvs.is_empty() {
            return Err(PlanError::Unsupported(format!(
                "volume group {} has no physical volume in the layout",
                vg.name
            )));
        }
        // Capacity check before anything is written: the volume group
        // changes by what its physical volumes changed.
        let delta: i128 = layout
            .pvs
            .iter()
            .filter(|p| p.vg == vg.name)
            .map(|p| grown.get(&p.device).copied().unwrap_or(0))
            .sum();
        if delta < 0 {
            let shrink = delta.unsigned_abs() as u64;
            let free = vg.free.unwrap_or_else(|| {
                // Without a recorded free size: the LVs' own sizes, a thin
                // pool's metadata twice (its spare copy).
                let used: u64 = layout
                    .lvs
                    .iter()
                    .filter(|l| l.vg == vg.name && l.segtype != "thin")
                    .map(|l| {
                        l.size.div_ceil(vg.extent_size) * vg.extent_size
                            + 2 * l.metadata_size.unwrap_or(0)
                    })
                    .sum();
                vg.size.saturating_sub(used)
            });
            if shrink > free {
                return Err(PlanError::LvsDoNotFit {
                    vg: vg.name.clone(),
                    need: human(vg.size - free),
                    have: human(vg.size.saturating_sub(shrink)),
                });
            }
        }
        let mut a = vec![
            "vgcreate".into(),
            "--yes".into(),
            format!("--physicalextentsize={}k", vg.extent_size / 1024),
            vg.name.clone(),
        ];
        a.extend(pvs.iter().cloned());
        let mut writes = Vec::new();
        for p in &pvs {
            writes.extend(b.stack(p));
        }
        b.step(
            format!("vg:{}", vg.name),
            format!("create volume group {}", vg.name),
            a,
            None,
            writes.clone(),
            vec![],
        );
        // Thin pools before the volumes in them.
        let mut lvs: Vec<&Lv> = layout.lvs.iter().filter(|l| l.vg == vg.name).collect();
        lvs.sort_by_key(|l| (l.segtype == "thin", l.name.clone()));
        for lv in lvs {
            let mut a = vec![
                "lvcreate".into(),
                "--yes".into(),
                "--wipesignatures=y".into(),
                "--zero=y".into(),
            ];
            match lv.segtype.as_str() {
                "thin" => {
                    let pool = lv.pool.clone().ok_or_else(|| PlanError::Unsupported(format!("thin volume {}/{} names no pool", lv.vg, lv.name)))?;
                    a = vec!["lvcreate".into(), "--yes".into(), "--type=thin".into(), format!("--virtualsize={}b", lv.size), format!("--thinpool={pool}")];
                }
                "thin-pool" => {
                    // Signature wiping does not apply to pools, and zeroing
                    // is the pool's own setting: LVM's default stays.
                    a = vec!["lvcreate".into(), "--yes".into(), "--type=thin-pool".into()];
                    a.push(format!("--size={}b", lv.size));
                    if let Some(m) = lv.metadata_size {
                        a.push(format!("--poolmetadatasize={}b", m));
                    }
                    if let Some(c) = lv.chunk_size {
                        a.push(format!("--chunksize={}k", c / 1024));
                    }
                }
                "linear" => a.push(format!("--size={}b", lv.size)),
                "striped" => {
                    a.push(format!("--size={}b", lv.size));
                    a.push(format!("--stripes={}", lv.stripes.unwrap_or(1)));
                    if let Some(s) = lv.stripe_size {
                        a.push(format!("--stripesize={}k", s / 1024));
                    }
                }
                "raid1" | "mirror" | "raid0" | "raid4" | "raid5" | "raid6" | "raid10" => {
                    a.push(format!("--type={}", lv.segtype));
                    a.push(format!("--size={}b", lv.size));
                    if let Some(m) = lv.mirrors {
                        a.push(format!("--mirrors={m}"));
                    }
                    if let Some(s) = lv.stripes.filter(|_| lv.segtype != "raid1" && lv.segtype != "mirror") {
                        a.push(format!("--stripes={s}"));
                    }
                    if let Some(s) = lv.stripe_size {
                        a.push(format!("--stripesize={}k", s / 1024));
                    }
                }
                other => {
                    return Err(PlanError::Unsupported(format!(
                        "logical volume {}/{} has segment type {other}, which rear-build cannot recreate yet",
                        lv.vg, lv.name
                    )))
                }
            }
            a.push(format!("--name={}", lv.name));
            a.push(lv.vg.clone());
            let dev = lv_device(&lv.vg, &lv.name);
            b.under.insert(dev.clone(), pvs.clone());
            b.step(
                format!("lv:{}/{}", lv.vg, lv.name),
                format!(
                    "create {} logical volume {}/{} ({})",
                    lv.segtype,
                    lv.vg,
                    lv.name,
                    human(lv.size)
                ),
                a,
                None,
                writes.clone(),
                vec![dev],
            );
        }
    }

    for l in layout.luks.iter().filter(|l| on_lv(l)) {
        luks_steps(&mut b, l, opts, &mut grown)?;
    }

    // File systems and swap.
    for fs in &layout.filesystems {
        let dev = b.r.get(&fs.device);
        let devices: Vec<String> = if fs.devices.is_empty() {
            vec![dev.clone()]
        } else {
            fs.devices.iter().map(|d| b.r.get(d)).collect()
        };
        let resized = grown.get(&fs.device).is_some_and(|d| *d != 0);
        let a = mkfs_argv(fs, &devices, resized)?;
        let mut writes = Vec::new();
        for d in &devices {
            writes.extend(b.stack(d));
        }
        b.step(
            format!("mkfs:{dev}"),
            format!("make a {} file system on {dev}", fs.fstype),
            a,
            None,
            writes.clone(),
            vec![],
        );
        if fs.fstype == "btrfs" && !fs.subvolumes.is_empty() {
            let top = format!(
                "/run/rear-build/btrfs/{}",
                dev.trim_start_matches("/dev/").replace('/', "_")
            );
            b.step(
                format!("btrfs-top:{dev}"),
                format!("mount the top level of {dev}"),
                vec!["mkdir".into(), "-p".into(), top.clone()],
                None,
                vec![],
                vec![],
            );
            b.step(
                format!("btrfs-mount:{dev}"),
                format!("mount the top level of {dev} at {top}"),
                vec![
                    "mount".into(),
                    "-t".into(),
                    "btrfs".into(),
                    "-o".into(),
                    "subvolid=5".into(),
                    dev.clone(),
                    top.clone(),
                ],
                None,
                writes.clone(),
                vec![],
            );
            let mut subs: Vec<&Subvolume> = fs.subvolumes.iter().collect();
            subs.sort_by(|a, b| a.path.cmp(&b.path));
            for s in &subs {
                b.step(
                    format!("subvol:{dev}:{}", s.path),
                    format!("create subvolume {}", s.path),
                    vec![
                        "btrfs".into(),
                        "subvolume".into(),
                        "create".into(),
                        format!("{top}/{}", s.path),
                    ],
                    None,
                    writes.clone(),
                    vec![],
                );
                if s.nocow {
                    b.step(
                        format!("nocow:{dev}:{}", s.path),
                        format!("no copy-on-write for {}", s.path),
                        vec!["chattr".into(), "+C".into(), format!("{top}/{}", s.path)],
                        None,
                        writes.clone(),
                        vec![],
                    );
                }
            }
            if let Some(d) = subs.iter().find(|s| s.default) {
                b.step(
                    format!("subvol-default:{dev}"),
                    format!("make {} the default subvolume", d.path),
                    vec![
                        "btrfs".into(),
                        "subvolume".into(),
                        "set-default".into(),
                        format!("{top}/{}", d.path),
                    ],
                    None,
                    writes.clone(),
                    vec![],
                );
            }
            b.step(
                format!("btrfs-umount:{dev}"),
                format!("unmount {top}"),
                vec!["umount".into(), top],
                None,
                vec![],
                vec![],
            );
        }
    }
    for s in &layout.swaps {
        let dev = b.r.get(&s.device);
        let mut a = vec!["mkswap".into(), "--force".into()];
        if let Some(u) = &s.uuid {
            a.push(format!("--uuid={u}"));
        }
        if let Some(l) = &s.label {
            a.push(format!("--label={l}"));
        }
        a.push(dev.clone());
        let w = b.stack(&dev);
        b.step(
            format!("mkswap:{dev}"),
            format!("make swap on {dev}"),
            a,
            None,
            w,
            vec![],
        );
    }

    // Mounts, parents first.
    if opts.mount {
        let mut mounts: Vec<&Mount> = b
            .layout
            .mounts
            .iter()
            .filter(|m| m.fstype != "swap")
            .collect();
        // Parents before children: `/` first, then by depth.
        mounts.sort_by_key(|m| {
            (
                if m.mountpoint == "/" {
                    0
                } else {
                    m.mountpoint.matches('/').count()
                },
                m.mountpoint.clone(),
            )
        });
        for m in mounts {
            let dev = b.r.get(&m.device);
            let target = format!(
                "{}{}",
                opts.mount_root.trim_end_matches('/'),
                if m.mountpoint == "/" {
                    ""
                } else {
                    &m.mountpoint
                }
            );
            let target = if target.is_empty() {
                "/".to_string()
            } else {
                target
            };
            b.step(
                format!("mkdir:{target}"),
                format!("create mount point {target}"),
                vec!["mkdir".into(), "-p".into(), target.clone()],
                None,
                vec![],
                vec![],
            );
            let mut a = vec!["mount".into(), "-t".into(), m.fstype.clone()];
            let owners = Mount::owner_options(&m.options);
            if let Some(sv) = &m.subvolume {
                a.push("-o".into());
                a.push(format!("subvol={sv}"));
            } else if Mount::modes_from_options(&m.fstype) && !owners.is_empty() {
                a.push("-o".into());
                a.push(owners.join(","));
            }
            a.push(dev.clone());
            a.push(target.clone());
            let w = b.stack(&dev);
            b.step(
                format!("mount:{target}"),
                format!("mount {dev} at {target}"),
                a,
                None,
                w,
                vec![],
            );
        }
    }

    let targets: BTreeSet<String> = mapping.values().cloned().collect();
    let plan = Plan {
        renames: b.r.names.clone(),
        mapping,
        targets,
        steps: b.steps,
        notes,
    };
    check_confined(&plan)?;
    Ok(plan)
}

/// Every device a step writes is a target disk, one of its partitions, or
/// made by an earlier step on them. A plan that breaks this is a bug here,
/// and is refused rather than run.
pub fn check_confined(plan: &Plan) -> Result<(), PlanError> {
    let mut allowed: BTreeSet<String> = plan.targets.clone();
    for s in &plan.steps {
        for c in &s.creates {
            allowed.insert(c.clone());
        }
        for w in &s.writes {
            let partition_of_target = plan.targets.iter().any(|t| {
                w.strip_prefix(t.as_str()).is_some_and(|rest| {
                    !rest.is_empty()
                        && rest
                            .trim_start_matches('p')
                            .chars()
                            .all(|c| c.is_ascii_digit())
                })
            });
            if !allowed.contains(w) && !partition_of_target {
                return Err(PlanError::Protected {
                    disk: w.clone(),
                    why: format!(
                        "step {} would write it, and it is outside the mapping",
                        s.id
                    ),
                });
            }
        }
    }
    Ok(())
}

/// `resized`: the device is not the size it was, so ratios are kept, not
/// counts.
fn mkfs_argv(fs: &Filesystem, devices: &[String], resized: bool) -> Result<Vec<String>, PlanError> {
    let attr = |k: &str| fs.attrs.get(k).filter(|v| !v.is_empty());
    let mut a: Vec<String>;
    match fs.fstype.as_str() {
        "ext2" | "ext3" | "ext4" => {
            a = vec![format!("mkfs.{}", fs.fstype), "-F".into(), "-q".into()];
            if let Some(u) = &fs.uuid {
                a.extend(["-U".into(), u.clone()]);
            }
            if let Some(l) = &fs.label {
                a.extend(["-L".into(), l.clone()]);
            }
            if let Some(v) = attr("block_size") {
                a.extend(["-b".into(), v.clone()]);
            }
            if let Some(v) = attr("inode_size") {
                a.extend(["-I".into(), v.clone()]);
            }
            match (attr("inode_count"), attr("bytes_per_inode")) {
                (Some(n), _) if !resized => a.extend(["-N".into(), n.clone()]),
                (_, Some(v)) => a.extend(["-i".into(), v.clone()]),
                _ => {}
            }
            if let Some(v) = attr("reserved_percent") {
                a.extend(["-m".into(), v.clone()]);
            }
            if let Some(v) = attr("features") {
                // State flags are not features one can ask mkfs for.
                let keep: Vec<&str> = v
                    .split([',', ' '])
                    .filter(|f| {
                        !f.is_empty() && !matches!(*f, "needs_recovery" | "orphan_present" | "mmp")
                    })
                    .collect();
                a.extend(["-O".into(), format!("none,{}", keep.join(","))]);
            }
        }
        "xfs" => {
            a = vec!["mkfs.xfs".into(), "-f".into(), "-q".into()];
            if let Some(l) = &fs.label {
                a.extend(["-L".into(), l.clone()]);
            }
            let mut m = Vec::new();
            if let Some(u) = &fs.uuid {
                m.push(format!("uuid={u}"));
            }
            for k in [
                "crc",
                "finobt",
                "reflink",
                "rmapbt",
                "bigtime",
                "inobtcount",
            ] {
                if let Some(v) = attr(k) {
                    m.push(format!("{k}={v}"));
                }
            }
            if !m.is_empty() {
                a.extend(["-m".into(), m.join(",")]);
            }
            if let Some(v) = attr("block_size") {
                a.extend(["-b".into(), format!("size={v}")]);
            }
            if let Some(v) = attr("inode_size") {
                a.extend(["-i".into(), format!("size={v}")]);
            }
            // Capture records stripe unit, width and log size in bytes.
            if let (Some(su), Some(sw)) = (attr("sunit"), attr("swidth")) {
                let (su_b, sw_b): (u64, u64) = (su.parse().unwrap_or(0), sw.parse().unwrap_or(0));
                if su_b > 0 && sw_b >= su_b {
                    a.extend(["-d".into(), format!("su={su_b},sw={}", sw_b / su_b)]);
                }
            }
            if let Some(v) = attr("log_size") {
                a.extend(["-l".into(), format!("size={v}")]);
            }
        }
        "btrfs" => {
            a = vec!["mkfs.btrfs".into(), "--force".into(), "--quiet".into()];
            if let Some(u) = &fs.uuid {
                a.push(format!("--uuid={u}"));
            }
            if let Some(l) = &fs.label {
                a.push(format!("--label={l}"));
            }
            if let Some(v) = attr("nodesize") {
                a.push(format!("--nodesize={v}"));
            }
            if let Some(v) = attr("sectorsize") {
                a.push(format!("--sectorsize={v}"));
            }
            if let Some(v) = attr("data_profile") {
                a.push(format!("--data={v}"));
            }
            if let Some(v) = attr("metadata_profile") {
                a.push(format!("--metadata={v}"));
            }
        }
        "vfat" => {
            a = vec!["mkfs.vfat".into()];
            if let Some(v) = attr("fat_size") {
                a.extend(["-F".into(), v.clone()]);
            }
            if let Some(u) = &fs.uuid {
                a.extend(["-i".into(), u.replace('-', "")]);
            }
            if let Some(l) = &fs.label {
                a.extend(["-n".into(), l.clone()]);
            }
        }
        other => {
            return Err(PlanError::Unsupported(format!(
                "{}: file system type {other} cannot be recreated yet",
                fs.device
            )))
        }
    }
    a.extend(devices.iter().cloned());
    Ok(a)
}

impl Plan {
    /// The plan as a shell script the operator can read, edit and run:
    /// each step is skipped when a previous run recorded it as done.
    pub fn script(&self, layout_file: &str) -> String {
        let mut s = String::from("#!/bin/bash\n");
        let _ = writeln!(s, "# Recreates the storage layout of {layout_file}.");
        let _ = writeln!(
            s,
            "# Made by `rear-build recover --layout-only -s`; review it, edit it, run it."
        );
        let _ = writeln!(s, "# Disks (old -> new); only these are written:");
        for (o, n) in &self.mapping {
            let _ = writeln!(s, "#   {o} -> {n}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "# note: {n}");
        }
        s.push_str(
            "set -euo pipefail\n\
             state=${REAR_LAYOUT_STATE:-/var/lib/rear-build/layout-steps.done}\n\
             mkdir -p \"$(dirname \"$state\")\"\n\
             # step ID COMMAND...: runs COMMAND unless ID is recorded as done.\n\
             step() { local id=$1; shift\n\
             \x20 if grep -qxF \"$id\" \"$state\" 2>/dev/null; then echo \"done already: $id\"; return; fi\n\
             \x20 echo \"+ $*\"; \"$@\"; echo \"$id\" >> \"$state\"; }\n\
             # passphrase FILE: the first line of FILE (a CR before its newline dropped),\n\
             # for cryptsetup's standard input.\n\
             passphrase() { local l=; IFS= read -r l < \"$1\" || true; printf '%s\\n' \"${l%$'\\r'}\"; }\n\n",
        );
        for st in &self.steps {
            let _ = writeln!(s, "# {}", st.what);
            let cmd: Vec<String> = st.argv.iter().map(|a| quote(a)).collect();
            match &st.input {
                None => {
                    let _ = writeln!(s, "step {} {}", quote(&st.id), cmd.join(" "));
                }
                Some(Input::Text(t)) => {
                    let _ = write!(
                        s,
                        "step {} {} <<'REAR_EOF'\n{t}REAR_EOF\n",
                        quote(&st.id),
                        cmd.join(" ")
                    );
                }
                Some(Input::Secret(f)) => {
                    let _ = writeln!(
                        s,
                        "step {} {} < <(passphrase {})",
                        quote(&st.id),
                        cmd.join(" "),
                        quote(&f.to_string_lossy())
                    );
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;
    const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
    const LINUX: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
    const SWAP: &str = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f";

    /// Scenario (a): GPT with ESP + ext4 root + swap on a 2 GiB disk.
    fn gpt_layout() -> Layout {
        let mut l = Layout::new();
        let part = |n: u32, start: u64, size: u64, t: &str| Partition {
            number: n,
            device: format!("/dev/vda{n}"),
            start,
            size,
            type_: t.into(),
            uuid: Some(format!("00000000-0000-4000-8000-00000000000{n}")),
            ..Default::default()
        };
        l.disks.push(Disk {
            device: "/dev/vda".into(),
            size: 2 * GIB,
            logical_sector_size: 512,
            physical_sector_size: 512,
            label: Some(Label::Gpt),
            identifier: Some("11111111-2222-4333-8444-555555555555".into()),
            serial: Some("OLD0".into()),
            partitions: vec![
                part(1, MIB, 64 * MIB, ESP),
                part(2, 65 * MIB, 1536 * MIB, LINUX),
                part(
                    3,
                    1601 * MIB,
                    2 * GIB - 1601 * MIB - 16384 - 512 - MIB,
                    SWAP,
                ),
            ],
            ..Default::default()
        });
        l.filesystems.push(Filesystem {
            device: "/dev/vda1".into(),
            fstype: "vfat".into(),
            uuid: Some("ABCD-1234".into()),
            ..Default::default()
        });
        l.filesystems.push(Filesystem {
            device: "/dev/vda2".into(),
            fstype: "ext4".into(),
            uuid: Some("aaaaaaaa-0000-4000-8000-000000000001".into()),
            label: Some("root".into()),
            attrs: [(
                "features".to_string(),
                "has_journal,extent,needs_recovery".to_string(),
            )]
            .into(),
            ..Default::default()
        });
        l.swaps.push(Swap {
            device: "/dev/vda3".into(),
            uuid: Some("bbbbbbbb-0000-4000-8000-000000000001".into()),
            label: None,
        });
        l.mounts.push(Mount {
            device: "/dev/vda1".into(),
            mountpoint: "/boot/efi".into(),
            fstype: "vfat".into(),
            options: "rw,relatime,fmask=0077,dmask=0077".into(),
            ..Default::default()
        });
        l.mounts.push(Mount {
            device: "/dev/vda2".into(),
            mountpoint: "/".into(),
            fstype: "ext4".into(),
            ..Default::default()
        });
        l
    }

    fn disk(dev: &str, size: u64) -> PresentDisk {
        PresentDisk {
            device: dev.into(),
            size,
            logical_sector_size: 512,
            ..Default::default()
        }
    }

    fn map1(old: &str, new: &str) -> Options {
        Options {
            map: [(old.to_string(), new.to_string())].into(),
            ..Default::default()
        }
    }

    fn ids(p: &Plan) -> Vec<&str> {
        p.steps.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn same_disk_plan_is_ordered_and_confined() {
        let mut here = disk("/dev/vda", 2 * GIB);
        here.partitions = vec!["/dev/vda1".into()];
        let p = plan(
            &gpt_layout(),
            &[here, disk("/dev/vdb", 2 * GIB)],
            &Options::default(),
        )
        .unwrap();
        assert_eq!(p.mapping["/dev/vda"], "/dev/vda");
        assert_eq!(p.targets, BTreeSet::from(["/dev/vda".to_string()]));
        assert_eq!(
            ids(&p),
            [
                "wipe:/dev/vda1",
                "wipe:/dev/vda",
                "partition:/dev/vda",
                "wipe:/dev/vda1",
                "wipe:/dev/vda2",
                "wipe:/dev/vda3",
                "mkfs:/dev/vda1",
                "mkfs:/dev/vda2",
                "mkswap:/dev/vda3",
                "mkdir:/mnt/local",
                "mount:/mnt/local",
                "mkdir:/mnt/local/boot/efi",
                "mount:/mnt/local/boot/efi",
            ]
        );
        assert!(p
            .steps
            .iter()
            .all(|s| s.writes.iter().all(|w| w.starts_with("/dev/vda"))));
        let mkfs = &p.steps[7].argv;
        assert_eq!(mkfs[..3], ["mkfs.ext4", "-F", "-q"]);
        assert!(
            mkfs.contains(&"none,has_journal,extent".to_string()),
            "{mkfs:?}"
        );
        assert!(mkfs
            .windows(2)
            .any(|w| w == ["-U", "aaaaaaaa-0000-4000-8000-000000000001"]));
        let vfat = &p.steps[6].argv;
        assert!(vfat.windows(2).any(|w| w == ["-i", "ABCD1234"]), "{vfat:?}");
        // FAT gets the modes the source mounted it with; ext4 has its own.
        assert_eq!(
            p.steps[12].argv,
            [
                "mount",
                "-t",
                "vfat",
                "-o",
                "fmask=0077,dmask=0077",
                "/dev/vda1",
                "/mnt/local/boot/efi"
            ]
        );
        assert_eq!(
            p.steps[10].argv,
            ["mount", "-t", "ext4", "/dev/vda2", "/mnt/local"]
        );
    }

    #[test]
    fn ext4_keeps_its_inode_count_unless_resized() {
        let mut l = gpt_layout();
        // The ext4 root is the last partition, so a larger disk grows it.
        l.disks[0].partitions.pop();
        l.swaps.clear();
        l.filesystems[1].attrs.extend([
            ("inode_count".to_string(), "229824".to_string()),
            ("bytes_per_inode".to_string(), "16356".to_string()),
        ]);
        let mkfs_of = |size: u64| {
            let p = plan(&l, &[disk("/dev/vda", size)], &Options::default()).unwrap();
            p.steps
                .iter()
                .find(|s| s.id == "mkfs:/dev/vda2")
                .unwrap()
                .argv
                .clone()
        };
        let same = mkfs_of(2 * GIB);
        assert!(same.windows(2).any(|w| w == ["-N", "229824"]), "{same:?}");
        assert!(!same.contains(&"-i".to_string()), "{same:?}");
        let grown = mkfs_of(4 * GIB);
        assert!(grown.windows(2).any(|w| w == ["-i", "16356"]), "{grown:?}");
        assert!(!grown.contains(&"-N".to_string()), "{grown:?}");
    }

    #[test]
    fn sfdisk_script_keeps_ids_and_geometry() {
        let l = gpt_layout();
        let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &Options::default()).unwrap();
        let step = p
            .steps
            .iter()
            .find(|s| s.id == "partition:/dev/vda")
            .unwrap();
        let Some(Input::Text(script)) = &step.input else {
            panic!()
        };
        assert!(script.starts_with(
            "label: gpt\nlabel-id: 11111111-2222-4333-8444-555555555555\nunit: sectors\n"
        ));
        assert!(script.contains(&format!("/dev/vda1 : start=2048, size=131072, type={ESP}, uuid=00000000-0000-4000-8000-000000000001")), "{script}");
    }

    #[test]
    fn migration_to_a_larger_disk_with_another_name_grows_the_last_partition() {
        let l = gpt_layout();
        let p = plan(
            &l,
            &[disk("/dev/sdb", 4 * GIB)],
            &map1("/dev/vda", "/dev/sdb"),
        )
        .unwrap();
        assert_eq!(p.mapping["/dev/vda"], "/dev/sdb");
        assert!(p.steps.iter().any(|s| s.argv
            == [
                "mkswap",
                "--force",
                "--uuid=bbbbbbbb-0000-4000-8000-000000000001",
                "/dev/sdb3"
            ]));
        let step = p
            .steps
            .iter()
            .find(|s| s.id == "partition:/dev/sdb")
            .unwrap();
        let Some(Input::Text(script)) = &step.input else {
            panic!()
        };
        // The swap partition keeps its start and its 1 MiB gap before the end.
        let end = 4 * GIB - 16384 - 512 - MIB;
        let size = (end - 1601 * MIB) / 512;
        assert!(
            script.contains(&format!(
                "/dev/sdb3 : start={}, size={size},",
                1601 * MIB / 512
            )),
            "{script}"
        );
        assert!(p.notes[0].contains("partitions resized"));
    }

    #[test]
    fn a_slightly_smaller_disk_that_still_fits_shrinks_the_last_partition() {
        let p = plan(
            &gpt_layout(),
            &[disk("/dev/vdb", 2 * GIB - 100 * MIB)],
            &map1("/dev/vda", "/dev/vdb"),
        )
        .unwrap();
        assert_eq!(p.mapping["/dev/vda"], "/dev/vdb");
    }

    #[test]
    fn proportional_resize_scales_every_partition() {
        let mut opts = map1("/dev/vda", "/dev/vdb");
        opts.resize = Resize::Proportional;
        let p = plan(&gpt_layout(), &[disk("/dev/vdb", 4 * GIB)], &opts).unwrap();
        let step = p
            .steps
            .iter()
            .find(|s| s.id == "partition:/dev/vdb")
            .unwrap();
        let Some(Input::Text(script)) = &step.input else {
            panic!()
        };
        // Root doubles (1536 MiB → about 3 GiB) instead of only the swap growing.
        let root = script.lines().find(|l| l.starts_with("/dev/vdb2")).unwrap();
        let size: u64 = root
            .split("size=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(size * 512 > 3000 * MIB && size * 512 < 3100 * MIB, "{root}");
        let starts: Vec<u64> = script
            .lines()
            .filter_map(|l| l.split("start=").nth(1))
            .map(|s| s.split(',').next().unwrap().parse::<u64>().unwrap())
            .collect();
        assert!(
            starts.iter().all(|s| s * 512 % MIB == 0),
            "aligned: {starts:?}"
        );
    }

    #[test]
    fn a_target_too_small_fails_before_any_step() {
        let err = plan(
            &gpt_layout(),
            &[disk("/dev/vdb", GIB)],
            &map1("/dev/vda", "/dev/vdb"),
        )
        .unwrap_err();
        assert!(matches!(err, PlanError::TooSmall { .. }), "{err}");
        assert!(
            err.to_string().contains("/dev/vdb (1.0 GiB) is too small"),
            "{err}"
        );
    }

    #[test]
    fn no_match_is_an_error_that_lists_the_candidates() {
        let err = plan(
            &gpt_layout(),
            &[disk("/dev/vdb", 3 * GIB), disk("/dev/vdc", 3 * GIB)],
            &Options::default(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("--map /dev/vda=/dev/NEW") && msg.contains("/dev/vdc 3.0 GiB"),
            "{msg}"
        );
        let opts = Options {
            map: [("/dev/vda".to_string(), "/dev/vdc".to_string())].into(),
            ..Default::default()
        };
        let p = plan(
            &gpt_layout(),
            &[disk("/dev/vdb", 3 * GIB), disk("/dev/vdc", 3 * GIB)],
            &opts,
        )
        .unwrap();
        assert_eq!(p.targets, BTreeSet::from(["/dev/vdc".to_string()]));
        assert!(p
            .steps
            .iter()
            .all(|s| s.writes.iter().all(|w| w.starts_with("/dev/vdc"))));
    }

    #[test]
    fn identity_beats_name_and_size() {
        let mut other = disk("/dev/vda", 2 * GIB);
        other.serial = Some("NEW".into());
        let mut same = disk("/dev/vdb", 3 * GIB);
        same.serial = Some("OLD0".into());
        let p = plan(&gpt_layout(), &[other, same], &Options::default()).unwrap();
        assert_eq!(p.mapping["/dev/vda"], "/dev/vdb");
    }

    #[test]
    fn a_larger_disk_of_the_same_name_replaces_the_old_one_a_smaller_does_not() {
        // gpt_layout's /dev/vda is 2 GiB.
        let p = plan(
            &gpt_layout(),
            &[disk("/dev/vda", 4 * GIB)],
            &Options::default(),
        )
        .unwrap();
        assert_eq!(p.mapping["/dev/vda"], "/dev/vda");
        let err = plan(&gpt_layout(), &[disk("/dev/vda", GIB)], &Options::default()).unwrap_err();
        assert!(matches!(err, PlanError::Unmapped { .. }), "{err}");
        // Another name of any larger size is not guessed.
        let err = plan(
            &gpt_layout(),
            &[disk("/dev/vdb", 4 * GIB)],
            &Options::default(),
        )
        .unwrap_err();
        assert!(matches!(err, PlanError::Unmapped { .. }), "{err}");
    }

    #[test]
    fn map_to_unknown_or_from_unknown_disk_is_refused() {
        let here = [disk("/dev/vda", 2 * GIB)];
        for (o, n, want) in [
            (
                "/dev/vda",
                "/dev/vdz",
                "/dev/vdz is not a disk on this machine",
            ),
            (
                "/dev/sdq",
                "/dev/vda",
                "/dev/sdq is not a disk of the saved layout",
            ),
        ] {
            let opts = Options {
                map: [(o.to_string(), n.to_string())].into(),
                ..Default::default()
            };
            let err = plan(&gpt_layout(), &here, &opts).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn two_old_disks_onto_one_new_disk_is_refused() {
        let mut l = gpt_layout();
        let mut d2 = l.disks[0].clone();
        d2.device = "/dev/vdb".into();
        d2.serial = None;
        d2.partitions.clear();
        d2.label = None;
        l.disks.push(d2);
        let opts = Options {
            map: [
                ("/dev/vda".to_string(), "/dev/vdc".to_string()),
                ("/dev/vdb".to_string(), "/dev/vdc".to_string()),
            ]
            .into(),
            ..Default::default()
        };
        let err = plan(&l, &[disk("/dev/vdc", 2 * GIB)], &opts).unwrap_err();
        assert!(matches!(err, PlanError::NotOneToOne(..)), "{err}");
    }

    #[test]
    fn disks_in_use_or_write_protected_are_refused() {
        let mut busy = disk("/dev/vda", 2 * GIB);
        busy.in_use = Some("it holds the rescue medium".into());
        let err = plan(&gpt_layout(), &[busy], &Options::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("refusing to write /dev/vda: it holds the rescue medium"),
            "{err}"
        );

        let mut usb = disk("/dev/vda", 2 * GIB);
        usb.ids = vec!["REAR-000".into()];
        let err = plan(&gpt_layout(), &[usb], &Options::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("write-protected (REAR-000"), "{err}");

        let mut wwn = disk("/dev/vda", 2 * GIB);
        wwn.wwn = Some("0x5000c500a1b2c3d4".into());
        let opts = Options {
            write_protected: vec!["0x5000c500*".into()],
            ..Default::default()
        };
        let err = plan(&gpt_layout(), &[wwn], &opts).unwrap_err().to_string();
        assert!(err.contains("0x5000c500a1b2c3d4 matches"), "{err}");
    }

    #[test]
    fn an_equal_size_protected_disk_is_not_chosen_automatically() {
        // ReaR issue 1271: a backup disk of the same size taken as target.
        let mut usb = disk("/dev/sdb", 2 * GIB);
        usb.ids = vec!["REAR-000".into()];
        let err = plan(
            &gpt_layout(),
            &[usb, disk("/dev/sdc", 2 * GIB)],
            &Options::default(),
        )
        .unwrap();
        assert_eq!(err.mapping["/dev/vda"], "/dev/sdc");
    }

    fn raid_lvm_layout() -> Layout {
        // Scenario (c): two-disk RAID1 → LVM with linear xfs and thin ext4.
        let mut l = Layout::new();
        for d in ["/dev/vda", "/dev/vdb"] {
            l.disks.push(Disk {
                device: d.into(),
                size: GIB,
                logical_sector_size: 512,
                physical_sector_size: 512,
                label: Some(Label::Gpt),
                partitions: vec![Partition {
                    number: 1,
                    device: format!("{d}1"),
                    start: MIB,
                    size: GIB - 2 * MIB,
                    type_: "a19d880f-05fc-4d3b-a006-743f0f84911e".into(),
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        l.raids.push(Raid {
            device: "/dev/md0".into(),
            level: "raid1".into(),
            devices: vec!["/dev/vda1".into(), "/dev/vdb1".into()],
            metadata: "1.2".into(),
            uuid: "01234567:89abcdef:01234567:89abcdef".into(),
            name: Some("data".into()),
            size: GIB - 4 * MIB,
            ..Default::default()
        });
        l.pvs.push(Pv {
            device: "/dev/md0".into(),
            uuid: "pvuuid".into(),
            vg: "vg0".into(),
            size: GIB - 4 * MIB,
        });
        l.vgs.push(Vg {
            name: "vg0".into(),
            extent_size: 4 * MIB,
            size: GIB - 8 * MIB,
            uuid: None,
            free: None,
        });
        l.lvs.push(Lv {
            vg: "vg0".into(),
            name: "data".into(),
            device: lv_device("vg0", "data"),
            segtype: "linear".into(),
            size: 400 * MIB,
            ..Default::default()
        });
        l.lvs.push(Lv {
            vg: "vg0".into(),
            name: "thin".into(),
            device: lv_device("vg0", "thin"),
            segtype: "thin".into(),
            size: 2 * GIB,
            pool: Some("pool".into()),
            ..Default::default()
        });
        l.lvs.push(Lv {
            vg: "vg0".into(),
            name: "pool".into(),
            device: lv_device("vg0", "pool"),
            segtype: "thin-pool".into(),
            size: 300 * MIB,
            metadata_size: Some(4 * MIB),
            chunk_size: Some(64 * 1024),
            ..Default::default()
        });
        l.filesystems.push(Filesystem {
            device: lv_device("vg0", "data"),
            fstype: "xfs".into(),
            uuid: Some("cccccccc-0000-4000-8000-000000000001".into()),
            attrs: [
                ("crc".to_string(), "1".to_string()),
                ("reflink".to_string(), "1".to_string()),
            ]
            .into(),
            ..Default::default()
        });
        l
    }

    #[test]
    fn raid_lvm_thin_are_created_in_dependency_order() {
        let p = plan(
            &raid_lvm_layout(),
            &[disk("/dev/vdc", GIB), disk("/dev/vdd", GIB)],
            &Options {
                map: [
                    ("/dev/vda".to_string(), "/dev/vdc".to_string()),
                    ("/dev/vdb".to_string(), "/dev/vdd".to_string()),
                ]
                .into(),
                ..Default::default()
            },
        )
        .unwrap();
        let order = ids(&p);
        let pos = |id: &str| {
            order
                .iter()
                .position(|s| *s == id)
                .unwrap_or_else(|| panic!("{id} not in {order:?}"))
        };
        assert!(pos("partition:/dev/vdd") < pos("raid:/dev/md0"));
        assert!(pos("raid:/dev/md0") < pos("pv:/dev/md0"));
        assert!(pos("pv:/dev/md0") < pos("vg:vg0"));
        assert!(pos("lv:vg0/pool") < pos("lv:vg0/thin"));
        assert!(pos("lv:vg0/data") < pos("mkfs:/dev/mapper/vg0-data"));
        let raid = &p.steps[pos("raid:/dev/md0")];
        assert!(
            raid.argv
                .ends_with(&["/dev/vdc1".to_string(), "/dev/vdd1".to_string()]),
            "{:?}",
            raid.argv
        );
        assert!(raid
            .argv
            .contains(&"--uuid=01234567:89abcdef:01234567:89abcdef".to_string()));
        // The xfs on the LV writes, through md, only the target disks.
        let mkfs = &p.steps[pos("mkfs:/dev/mapper/vg0-data")];
        assert!(
            mkfs.writes.contains(&"/dev/vdc".to_string())
                && mkfs.writes.contains(&"/dev/vdd".to_string()),
            "{:?}",
            mkfs.writes
        );
        assert!(
            mkfs.argv
                .contains(&"uuid=cccccccc-0000-4000-8000-000000000001,crc=1,reflink=1".to_string()),
            "{:?}",
            mkfs.argv
        );
        let thin = &p.steps[pos("lv:vg0/thin")];
        assert!(
            thin.argv.contains(&"--thinpool=pool".to_string())
                && thin.argv.contains(&format!("--virtualsize={}b", 2 * GIB))
        );
    }

    #[test]
    fn lvs_that_no_longer_fit_are_an_error_before_writing() {
        let l = raid_lvm_layout();
        let small = [disk("/dev/vdc", 700 * MIB), disk("/dev/vdd", 700 * MIB)];
        let opts = Options {
            map: [
                ("/dev/vda".to_string(), "/dev/vdc".to_string()),
                ("/dev/vdb".to_string(), "/dev/vdd".to_string()),
            ]
            .into(),
            ..Default::default()
        };
        let err = plan(&l, &small, &opts).unwrap_err();
        assert!(matches!(err, PlanError::LvsDoNotFit { .. }), "{err}");
        assert!(err.to_string().contains("volume group vg0"), "{err}");
        // 900 MiB members leave enough room: the plan goes through.
        let fits = [disk("/dev/vdc", 900 * MIB), disk("/dev/vdd", 900 * MIB)];
        plan(&l, &fits, &opts).unwrap();
    }

    #[test]
    fn luks_needs_a_passphrase_file_and_never_puts_it_on_argv() {
        let mut l = gpt_layout();
        l.luks.push(Luks {
            device: "/dev/mapper/cr".into(),
            name: "cr".into(),
            backing: "/dev/vda2".into(),
            version: 2,
            cipher: "aes-xts-plain64".into(),
            key_size: 512,
            hash: "sha256".into(),
            pbkdf: Some("argon2id".into()),
            uuid: "dddddddd-0000-4000-8000-000000000001".into(),
            ..Default::default()
        });
        l.filesystems[1].device = "/dev/mapper/cr".into();
        l.mounts[1].device = "/dev/mapper/cr".into();
        let here = [disk("/dev/vda", 2 * GIB)];
        let err = plan(&l, &here, &Options::default()).unwrap_err();
        assert_eq!(err, PlanError::NoPassphrase("/dev/mapper/cr".into()));
        let opts = Options {
            passphrase_file: Some("/media/pass".into()),
            ..Default::default()
        };
        let p = plan(&l, &here, &opts).unwrap();
        let fmt = p.steps.iter().find(|s| s.id == "luks:cr").unwrap();
        assert_eq!(fmt.input, Some(Input::Secret("/media/pass".into())));
        assert!(fmt.argv.iter().all(|a| !a.contains("pass")));
        let script = p.script("layout.json");
        assert!(script.contains("< <(passphrase /media/pass)"), "{script}");
        let mkfs = p
            .steps
            .iter()
            .find(|s| s.id == "mkfs:/dev/mapper/cr")
            .unwrap();
        assert!(mkfs.writes.contains(&"/dev/vda2".to_string()));
    }

    /// Scenario (d): /boot on vda2, LVM on vda3, LUKS2 on vg0/root, ext4 in it.
    fn luks_on_lvm_layout() -> Layout {
        let mut l = gpt_layout();
        l.disks[0].partitions[2].type_ = "e6d6d379-f507-44c2-a23c-238f2a3df928".into();
        l.swaps.clear();
        l.pvs.push(Pv {
            device: "/dev/vda3".into(),
            uuid: "pvuuid".into(),
            vg: "vg0".into(),
            size: 300 * MIB,
        });
        l.vgs.push(Vg {
            name: "vg0".into(),
            extent_size: 4 * MIB,
            size: 296 * MIB,
            uuid: None,
            free: None,
        });
        l.lvs.push(Lv {
            vg: "vg0".into(),
            name: "root".into(),
            device: lv_device("vg0", "root"),
            segtype: "linear".into(),
            size: 200 * MIB,
            ..Default::default()
        });
        l.luks.push(Luks {
            device: "/dev/mapper/cryptroot".into(),
            name: "cryptroot".into(),
            backing: lv_device("vg0", "root"),
            version: 2,
            cipher: "aes-xts-plain64".into(),
            key_size: 512,
            hash: "sha256".into(),
            pbkdf: Some("argon2id".into()),
            pbkdf_iterations: Some(4),
            pbkdf_memory_kib: Some(65536),
            pbkdf_threads: Some(2),
            uuid: "dddddddd-0000-4000-8000-000000000002".into(),
            ..Default::default()
        });
        l.filesystems[1].device = "/dev/mapper/cryptroot".into();
        l.mounts[1].device = "/dev/mapper/cryptroot".into();
        l
    }

    #[test]
    fn luks_on_a_logical_volume_comes_after_lvm() {
        let l = luks_on_lvm_layout();
        let opts = Options {
            passphrase_file: Some("/media/pass".into()),
            ..Default::default()
        };
        let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
        let pos = |id: &str| {
            p.steps
                .iter()
                .position(|s| s.id == id)
                .unwrap_or_else(|| panic!("no step {id}"))
        };
        assert!(pos("lv:vg0/root") < pos("luks:cryptroot"));
        assert!(pos("luks:cryptroot") < pos("open:cryptroot"));
        assert!(pos("open:cryptroot") < pos("mkfs:/dev/mapper/cryptroot"));
        let fmt = &p.steps[pos("luks:cryptroot")];
        assert_eq!(fmt.argv.last().unwrap(), "/dev/mapper/vg0-root");
        // What it writes reaches down to the disk (apply checks the targets).
        for d in ["/dev/mapper/vg0-root", "/dev/vda3", "/dev/vda"] {
            assert!(fmt.writes.contains(&d.to_string()), "{:?}", fmt.writes);
        }
        let mkfs = &p.steps[pos("mkfs:/dev/mapper/cryptroot")];
        assert!(
            mkfs.writes.contains(&"/dev/vda".to_string()),
            "{:?}",
            mkfs.writes
        );
        // LUKS on a partition still comes before LVM.
        let mut l2 = gpt_layout();
        l2.luks.push(Luks {
            device: "/dev/mapper/cr".into(),
            name: "cr".into(),
            backing: "/dev/vda2".into(),
            version: 2,
            ..Default::default()
        });
        l2.pvs.push(Pv {
            device: "/dev/mapper/cr".into(),
            uuid: "pv".into(),
            vg: "vgc".into(),
            size: GIB,
        });
        l2.vgs.push(Vg {
            name: "vgc".into(),
            extent_size: 4 * MIB,
            size: GIB,
            uuid: None,
            free: None,
        });
        let p2 = plan(&l2, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
        let pos2 = |id: &str| p2.steps.iter().position(|s| s.id == id).unwrap();
        assert!(pos2("open:cr") < pos2("pv:/dev/mapper/cr"));
    }

    #[test]
    fn luks_keeps_the_recorded_pbkdf_costs() {
        let l = luks_on_lvm_layout();
        let opts = Options {
            passphrase_file: Some("/media/pass".into()),
            ..Default::default()
        };
        let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
        let fmt = p.steps.iter().find(|s| s.id == "luks:cryptroot").unwrap();
        for a in [
            "--pbkdf=argon2id",
            "--pbkdf-force-iterations=4",
            "--pbkdf-memory=65536",
            "--pbkdf-parallel=2",
        ] {
            assert!(
                fmt.argv.contains(&a.to_string()),
                "{a} not in {:?}",
                fmt.argv
            );
        }
        // PBKDF2 (LUKS1, or LUKS2 with pbkdf2): iterations only.
        let mut x = l.luks[0].clone();
        x.version = 1;
        x.pbkdf = Some("pbkdf2".into());
        x.pbkdf_iterations = Some(123456);
        assert_eq!(pbkdf_cost_args(&x), ["--pbkdf-force-iterations=123456"]);
        // Nothing recorded (a layout imported from ReaR): cryptsetup benchmarks.
        x.pbkdf_iterations = None;
        assert!(pbkdf_cost_args(&x).is_empty());
    }

    #[test]
    fn the_scripts_passphrase_is_the_first_line_without_cr() {
        let l = luks_on_lvm_layout();
        let opts = Options {
            passphrase_file: Some("/media/pass".into()),
            ..Default::default()
        };
        let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
        let script = p.script("layout.json");
        let def = script
            .lines()
            .find(|l| l.starts_with("passphrase() {"))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (content, want) in [
            (&b"pass phrase\nsecond\n"[..], &b"pass phrase\n"[..]),
            (b"crlf\r\n", b"crlf\n"),
            (b"no newline", b"no newline\n"),
        ] {
            let f = dir.path().join("p");
            std::fs::write(&f, content).unwrap();
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("{def}\npassphrase \"$1\""))
                .arg("-")
                .arg(&f)
                .output()
                .unwrap();
            assert_eq!(out.stdout, want, "{content:?}");
        }
    }

    #[test]
    fn msdos_extended_and_logical_keep_their_kinds() {
        let mut l = Layout::new();
        let part = |n: u32, start: u64, size: u64, t: &str, kind: PartKind| Partition {
            number: n,
            device: format!("/dev/vda{n}"),
            start,
            size,
            type_: t.into(),
            kind,
            bootable: n == 1,
            ..Default::default()
        };
        l.disks.push(Disk {
            device: "/dev/vda".into(),
            size: 2 * GIB,
            logical_sector_size: 512,
            physical_sector_size: 512,
            label: Some(Label::Msdos),
            identifier: Some("0x1234abcd".into()),
            partitions: vec![
                part(1, MIB, 500 * MIB, "0x83", PartKind::Primary),
                part(2, 501 * MIB, 2 * GIB - 501 * MIB, "0x5", PartKind::Extended),
                part(5, 502 * MIB, 600 * MIB, "0x83", PartKind::Logical),
                part(
                    6,
                    1103 * MIB,
                    2 * GIB - 1103 * MIB,
                    "0x83",
                    PartKind::Logical,
                ),
            ],
            ..Default::default()
        });
        let p = plan(
            &l,
            &[disk("/dev/vdb", 3 * GIB)],
            &map1("/dev/vda", "/dev/vdb"),
        )
        .unwrap();
        let step = p
            .steps
            .iter()
            .find(|s| s.id == "partition:/dev/vdb")
            .unwrap();
        let Some(Input::Text(script)) = &step.input else {
            panic!()
        };
        assert!(
            script.starts_with("label: dos\nlabel-id: 0x1234abcd\n"),
            "{script}"
        );
        assert!(
            script.contains("/dev/vdb1 : start=2048, size=1024000, type=83, bootable"),
            "{script}"
        );
        // Both the extended container and its last logical partition grow.
        let grown = (3 * GIB - 1103 * MIB) / 512;
        assert!(
            script.contains(&format!(
                "/dev/vdb6 : start={}, size={grown}, type=83",
                1103 * MIB / 512
            )),
            "{script}"
        );
        assert!(
            script.contains(&format!(
                "/dev/vdb2 : start={}, size={}, type=5",
                501 * MIB / 512,
                (3 * GIB - 501 * MIB) / 512
            )),
            "{script}"
        );
        assert!(
            !p.steps.iter().any(|s| s.id == "wipe:/dev/vdb2"),
            "extended containers are not wiped"
        );
    }

    #[test]
    fn a_step_writing_outside_the_mapping_is_refused() {
        let mut p = plan(
            &gpt_layout(),
            &[disk("/dev/vda", 2 * GIB)],
            &Options::default(),
        )
        .unwrap();
        p.steps[0].writes.push("/dev/sdz".into());
        let err = check_confined(&p).unwrap_err().to_string();
        assert!(
            err.contains("/dev/sdz") && err.contains("outside the mapping"),
            "{err}"
        );
        // A partition-looking name of a non-target is refused too.
        p.steps[0].writes = vec!["/dev/vda1x".into()];
        assert!(check_confined(&p).is_err());
    }

    #[test]
    fn the_script_skips_done_steps_and_quotes() {
        let p = plan(
            &gpt_layout(),
            &[disk("/dev/vda", 2 * GIB)],
            &Options::default(),
        )
        .unwrap();
        let s = p.script("/var/lib/rear-build/layout.json");
        assert!(s.contains("#   /dev/vda -> /dev/vda"));
        assert!(
            s.contains("step wipe:/dev/vda wipefs --all --force /dev/vda\n"),
            "{s}"
        );
        assert!(s.contains("step partition:/dev/vda sfdisk --wipe=always --wipe-partitions=always /dev/vda <<'REAR_EOF'\nlabel: gpt\n"), "{s}");
        assert!(s.contains("grep -qxF \"$id\" \"$state\""));
    }

    #[test]
    fn globs() {
        assert!(glob("REAR-*", "rear-000"));
        assert!(glob("0x5000c500*", "0x5000c500a1"));
        assert!(!glob("sd?", "sdab"));
    }
}
