//! Which new disk each old disk becomes, which disks must never be
//! written, and the new name of every old device.

use super::names::{self, same_wwn, DiskName};
use super::{human, Options, PlanError, PresentDisk};
use crate::model::*;
use std::collections::BTreeMap;

pub(super) fn glob(pattern: &str, text: &str) -> bool {
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

/// Refuses the plan when a disk it would write is in use or write-protected.
pub(super) fn check_targets(
    mapping: &BTreeMap<String, String>,
    present: &[PresentDisk],
    opts: &Options,
) -> Result<(), PlanError> {
    for new in mapping.values() {
        let disk = present.iter().find(|p| &p.device == new).unwrap();
        if let Some(why) = protection(disk, &opts.write_protected) {
            return Err(PlanError::Protected {
                disk: new.clone(),
                why,
            });
        }
    }
    Ok(())
}

/// Whether `p` is, by its WWN or serial, the disk `wwn`/`serial` name
/// (WWNs as [`same_wwn`] compares them: capture records lsblk's `0x…`,
/// sysfs gives `naa.…`).
fn same_identity(wwn: &Option<String>, serial: &Option<String>, p: &PresentDisk) -> bool {
    let wwn_matches = matches!((wwn, &p.wwn), (Some(a), Some(b)) if same_wwn(a, b));
    wwn_matches || (serial.is_some() && p.serial == *serial)
}

/// How `--map` entries become old → new kernel names: each side read as
/// one of [`names::FORMS`], OLD found among the layout's disks, NEW among
/// the disks here. Every error names the entry.
fn named(
    layout: &Layout,
    present: &[PresentDisk],
    opts: &Options,
    map: &mut BTreeMap<String, String>,
    how: &mut BTreeMap<String, String>,
) -> Result<(), PlanError> {
    for (old, new) in &opts.map {
        let entry = format!("{old}={new}");
        let bad = |why: String| PlanError::BadMap(entry.clone(), why);
        let old = DiskName::parse(old).map_err(bad)?;
        let new = DiskName::parse(new).map_err(bad)?;
        let disk = names::find_layout(&old, layout).map_err(bad)?;
        let here = names::find_present(&new, present).map_err(bad)?;
        if let Some(before) = how.get(&disk.device) {
            return Err(bad(format!(
                "{} of the layout is mapped already (chosen by {before})",
                disk.device
            )));
        }
        map.insert(disk.device.clone(), here.device.clone());
        how.insert(disk.device.clone(), format!("--map {entry}"));
    }
    Ok(())
}

/// Old disk → new disk: `--map` first, then identity (WWN, serial); then,
/// among blank disks only, the same name and size, a unique disk of the
/// same size, the same name on a larger disk. A disk that holds anything
/// is chosen by its identity or by `--map`, never by name or size: a
/// same-size data disk is not a replacement disk. A disk capture left out
/// (the backup medium, an excluded disk) is never chosen by itself.
pub fn map_disks(
    layout: &Layout,
    present: &[PresentDisk],
    opts: &Options,
) -> Result<BTreeMap<String, String>, PlanError> {
    choose(layout, present, opts).map(|(map, _)| map)
}

/// Old disk → new disk, and old disk → how the new one was chosen.
type Chosen = (BTreeMap<String, String>, BTreeMap<String, String>);

/// [`map_disks`], and how each new disk was chosen.
pub(super) fn choose(
    layout: &Layout,
    present: &[PresentDisk],
    opts: &Options,
) -> Result<Chosen, PlanError> {
    let mut map = BTreeMap::new();
    let mut how = BTreeMap::new();
    named(layout, present, opts, &mut map, &mut how)?;
    let taken = |map: &BTreeMap<String, String>, dev: &str| map.values().any(|v| v == dev);
    let left_out = |p: &PresentDisk| {
        layout
            .excluded_disks
            .iter()
            .any(|x| same_identity(&x.wwn, &x.serial, p))
    };
    // Identity.
    for d in &layout.disks {
        if map.contains_key(&d.device) {
            continue;
        }
        let same = present
            .iter()
            .find(|p| !taken(&map, &p.device) && same_identity(&d.wwn, &d.serial, p));
        if let Some(p) = same {
            map.insert(d.device.clone(), p.device.clone());
            let by_wwn = matches!((&d.wwn, &p.wwn), (Some(a), Some(b)) if same_wwn(a, b));
            how.insert(
                d.device.clone(),
                match (&d.wwn, &d.serial) {
                    (Some(w), _) if by_wwn => format!("its WWN {w}"),
                    (_, Some(s)) => format!("its serial {s}"),
                    _ => "its identity".into(),
                },
            );
        }
    }
    // Blank disks that no rule above took and that are not left out.
    let free = |map: &BTreeMap<String, String>, p: &PresentDisk| {
        p.is_blank()
            && !taken(map, &p.device)
            && !left_out(p)
            && protection(p, &opts.write_protected).is_none()
    };
    // Same name and size (a protected one too: the plan is refused then,
    // saying why, rather than another disk taken).
    for d in &layout.disks {
        if map.contains_key(&d.device) {
            continue;
        }
        if let Some(p) = present.iter().find(|p| {
            p.device == d.device
                && p.size == d.size
                && p.is_blank()
                && !taken(&map, &p.device)
                && !left_out(p)
        }) {
            map.insert(d.device.clone(), p.device.clone());
            how.insert(d.device.clone(), "being blank, of its name and size".into());
        }
    }
    // A unique disk of the same size.
    for d in &layout.disks {
        if map.contains_key(&d.device) {
            continue;
        }
        let same: Vec<&PresentDisk> = present
            .iter()
            .filter(|p| p.size == d.size && free(&map, p))
            .collect();
        if same.len() == 1 {
            map.insert(d.device.clone(), same[0].device.clone());
            how.insert(
                d.device.clone(),
                "being the only blank disk of its size".into(),
            );
        }
    }
    // The same name on a larger disk: a failed disk replaced by a bigger one.
    for d in &layout.disks {
        if map.contains_key(&d.device) {
            continue;
        }
        if let Some(p) = present
            .iter()
            .find(|p| p.device == d.device && p.size > d.size && free(&map, p))
        {
            map.insert(d.device.clone(), p.device.clone());
            how.insert(
                d.device.clone(),
                "being blank, of its name and larger".into(),
            );
        }
    }
    for d in &layout.disks {
        if !map.contains_key(&d.device) {
            return Err(PlanError::Unmapped {
                old: d.device.clone(),
                size: human(d.size),
                candidates: present
                    .iter()
                    .map(PresentDisk::describe)
                    .collect::<Vec<_>>()
                    .join("; "),
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
    Ok((map, how))
}

/// Renames every device of the layout through the disk mapping.
pub(super) struct Renamer {
    pub(super) names: BTreeMap<String, String>,
}

impl Renamer {
    pub(super) fn new(layout: &Layout, map: &BTreeMap<String, String>) -> Renamer {
        let mut names = BTreeMap::new();
        for d in &layout.disks {
            let new = &map[&d.device];
            names.insert(d.device.clone(), new.clone());
            for p in &d.partitions {
                names.insert(p.device.clone(), partition_device(new, p.number));
            }
        }
        // Arrays keep their names; their partitions are named after them.
        for r in &layout.raids {
            for p in &r.partitions {
                names.insert(p.device.clone(), partition_device(&r.device, p.number));
            }
        }
        Renamer { names }
    }
    pub(super) fn get(&self, dev: &str) -> String {
        self.names
            .get(dev)
            .cloned()
            .unwrap_or_else(|| dev.to_string())
    }
}
