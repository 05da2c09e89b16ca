//! The planner: a pure function from (saved layout, disks present, mapping,
//! options) to an ordered list of steps that recreate the layout. Nothing
//! here touches a disk; `apply` runs the steps, and refuses any step whose
//! devices are not inside the mapping.
//!
//! Order follows the dependency graph: wipe old signatures → partition
//! tables → md RAID → LUKS (on partitions, disks, RAID) → LVM PVs, VGs,
//! LVs → LUKS on logical volumes → filesystems and swap → btrfs
//! subvolumes → mounts below the mount root.

mod fs;
mod geometry;
mod luks;
mod lvm;
mod mapping;
mod mounts;
pub mod names;
mod partitions;
mod raid;
mod script;
mod step;
#[cfg(test)]
mod tests;

pub use geometry::{sfdisk_script, table};
pub use mapping::map_disks;
pub use step::{Input, Step};

use crate::model::*;
use mapping::Renamer;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A disk found on the machine being recovered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresentDisk {
    pub device: String,
    pub size: u64,
    pub logical_sector_size: u32,
    pub serial: Option<String>,
    pub wwn: Option<String>,
    /// Names of its links in /dev/disk/by-id and /dev/disk/by-path
    /// ([`crate::present::add_links`]).
    pub by_id: Vec<String>,
    pub by_path: Vec<String>,
    /// Partition devices on it now.
    pub partitions: Vec<String>,
    /// Identifiers of what is on it now: PTUUID, PARTUUIDs, filesystem
    /// UUIDs and labels (matched against write-protection patterns).
    pub ids: Vec<String>,
    /// Why it must not be written, when it is in use (mounted, holds the
    /// rescue medium or the backup).
    pub in_use: Option<String>,
    pub model: Option<String>,
    /// What is on it now, as `blkid -p` finds it: `gpt partition table`,
    /// `ext4 on /dev/sdb1`, `LVM2_member`. Empty (and no partitions): blank.
    pub holds: Vec<String>,
}

impl PresentDisk {
    /// No partition table, file system, RAID, LVM or LUKS signature: a new
    /// disk, safe to choose without being named.
    pub fn is_blank(&self) -> bool {
        self.partitions.is_empty() && self.holds.is_empty()
    }

    /// Size, model, serial, WWN and what it holds, for the operator.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.device, human(self.size));
        if let Some(m) = &self.model {
            s.push_str(&format!(", model {m}"));
        }
        if let Some(x) = &self.serial {
            s.push_str(&format!(", serial {x}"));
        }
        if let Some(w) = &self.wwn {
            s.push_str(&format!(", WWN {w}"));
        }
        if self.is_blank() {
            s.push_str(", blank");
        } else if self.holds.is_empty() {
            s.push_str(&format!(", partitions {}", self.partitions.join(" ")));
        } else {
            s.push_str(&format!(", holds {}", self.holds.join(", ")));
        }
        s
    }
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
    /// OLD=NEW pairs from the command line, in its order; they override
    /// automatic mapping. Either side is one of [`names::FORMS`].
    pub map: Vec<(String, String)>,
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
            map: Vec::new(),
            passphrase_file: None,
            resize: Resize::default(),
            // ReaR's backup disks: never a recovery target.
            write_protected: vec!["REAR-000".into()],
            mount_root: "/mnt/local".into(),
            mount: true,
        }
    }
}
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Old disk → new disk.
    pub mapping: BTreeMap<String, String>,
    /// Old disk → how its new disk was chosen (`--map ENTRY`, `its serial
    /// X`, `blank, of its name and size`, ...).
    pub chosen: BTreeMap<String, String>,
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
    #[error("no disk here matches {old} ({size}): only a disk with its WWN or serial, or a blank one, is chosen without being named; name one with --map {old}=/dev/NEW (disks here: {candidates})")]
    Unmapped {
        old: String,
        size: String,
        candidates: String,
    },
    #[error("--map {0}: {1}")]
    BadMap(String, String),
    #[error("the layout cannot be recreated: {0}")]
    Invalid(String),
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

/// What the stages share: the inputs, the steps so far, and what each
/// stage leaves for the later ones.
struct Ctx<'a> {
    layout: &'a Layout,
    present: &'a [PresentDisk],
    opts: &'a Options,
    /// Old disk → new disk.
    mapping: &'a BTreeMap<String, String>,
    r: &'a Renamer,
    steps: Vec<Step>,
    /// Device → the devices it lives on (new names), for `writes`.
    under: BTreeMap<String, Vec<String>>,
    /// How much each old device grows (negative: shrinks) on its target.
    grown: BTreeMap<String, i128>,
    /// Old disk → its partitions refitted to its new disk.
    new_parts: BTreeMap<String, Vec<Partition>>,
    notes: Vec<String>,
}

impl Ctx<'_> {
    fn push(&mut self, step: Step) {
        self.steps.push(step);
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

    /// The target disk of old disk `old`.
    fn new_disk(&self, old: &str) -> &PresentDisk {
        let new = &self.mapping[old];
        self.present.iter().find(|p| &p.device == new).unwrap()
    }
}

/// A command line from its words.
fn argv<S: Into<String>>(words: impl IntoIterator<Item = S>) -> Vec<String> {
    words.into_iter().map(Into::into).collect()
}

/// Plans the recreation of `layout` on the disks `present`.
pub fn plan(layout: &Layout, present: &[PresentDisk], opts: &Options) -> Result<Plan, PlanError> {
    // Loading checks a file; a layout made in memory is checked here.
    crate::validate::check(layout).map_err(PlanError::Invalid)?;
    plan_checked(layout, present, opts)
}

/// [`plan`] of a layout already checked (the script writer's tests feed
/// it what the check refuses, to prove the script holds anyway).
fn plan_checked(
    layout: &Layout,
    present: &[PresentDisk],
    opts: &Options,
) -> Result<Plan, PlanError> {
    let (mapping, chosen) = mapping::choose(layout, present, opts)?;
    mapping::check_targets(&mapping, present, opts)?;
    let r = Renamer::new(layout, &mapping);
    let mut cx = Ctx {
        layout,
        present,
        opts,
        mapping: &mapping,
        r: &r,
        steps: Vec::new(),
        under: BTreeMap::new(),
        grown: BTreeMap::new(),
        new_parts: BTreeMap::new(),
        notes: Vec::new(),
    };
    partitions::refit_disks(&mut cx)?;
    partitions::wipe(&mut cx);
    partitions::tables(&mut cx);
    raid::arrays(&mut cx)?;
    // LUKS on a logical volume comes after LVM, which makes its backing device.
    luks::volumes(&mut cx, luks::Backing::NotLv)?;
    lvm::volumes(&mut cx)?;
    luks::volumes(&mut cx, luks::Backing::Lv)?;
    fs::filesystems(&mut cx)?;
    fs::swaps(&mut cx);
    if opts.mount {
        mounts::mounts(&mut cx);
    }
    let (steps, notes) = (cx.steps, cx.notes);
    let plan = Plan {
        renames: r.names,
        targets: mapping.values().cloned().collect(),
        mapping,
        chosen,
        steps,
        notes,
    };
    check_confined(&plan)?;
    Ok(plan)
}

impl Plan {
    /// One line per disk of the layout: the disk here it is recreated on,
    /// described (size, model, serial, WWN, what it holds now), and how
    /// that disk was chosen. What the operator confirms, and what an
    /// unattended recovery logs.
    pub fn mapping_lines(&self, present: &[PresentDisk]) -> Vec<String> {
        self.mapping
            .iter()
            .map(|(old, new)| {
                let disk = present
                    .iter()
                    .find(|p| &p.device == new)
                    .map_or_else(|| new.clone(), PresentDisk::describe);
                match self.chosen.get(old) {
                    Some(how) => format!("{old} -> {disk} (chosen by {how})"),
                    None => format!("{old} -> {disk}"),
                }
            })
            .collect()
    }
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
            // A partition of a target disk, or of an array made on them.
            let partition_of_target = plan.targets.iter().chain(&allowed).any(|t| {
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
