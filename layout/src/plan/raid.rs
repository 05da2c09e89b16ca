//! The md RAID stage: containers (IMSM, DDF) first, then the arrays (the
//! member arrays of a container among them), each followed by the
//! partition table on it when it has one.

use super::geometry::refit;
use super::{argv, Ctx, PlanError, Step};
use crate::model::*;

/// Creates each md array with its UUID, name, metadata, chunk and layout,
/// members in role order, then spares; then its partition table.
pub(super) fn arrays(cx: &mut Ctx) -> Result<(), PlanError> {
    let layout = cx.layout;
    // A member array is made inside its container, which must exist first.
    let ordered = layout
        .raids
        .iter()
        .filter(|r| r.is_container())
        .chain(layout.raids.iter().filter(|r| !r.is_container()));
    for raid in ordered {
        create(cx, raid);
        if raid.label.is_some() {
            table(cx, raid)?;
        }
    }
    Ok(())
}

fn create(cx: &mut Ctx, raid: &Raid) {
    let members: Vec<String> = raid.devices.iter().map(|d| cx.r.get(d)).collect();
    let spares: Vec<String> = raid.spares.iter().map(|d| cx.r.get(d)).collect();
    let in_container = members.len() == 1
        && cx
            .layout
            .raids
            .iter()
            .any(|c| c.is_container() && c.device == raid.devices[0]);
    let mut a = argv(["mdadm", "--create", &raid.device, "--run"]);
    // A member array takes its container's metadata; a container's format
    // (imsm, ddf) assigns the UUIDs itself.
    if !in_container {
        a.push(format!("--metadata={}", raid.metadata));
    }
    a.push(format!("--level={}", raid.level));
    let count = if in_container {
        // The member array spans the container's disks.
        cx.layout
            .raids
            .iter()
            .find(|c| c.device == raid.devices[0])
            .map_or(1, |c| c.devices.len())
    } else {
        members.len()
    };
    a.push(format!("--raid-devices={count}"));
    if !spares.is_empty() {
        a.push(format!("--spare-devices={}", spares.len()));
    }
    if !raid.external_metadata() && !raid.uuid.is_empty() {
        a.push(format!("--uuid={}", raid.uuid));
    }
    // A container has no name of its own in its metadata.
    if let Some(n) = raid.name.as_ref().filter(|_| !raid.is_container()) {
        a.push(format!("--name={n}"));
    }
    if let Some(c) = raid.chunk {
        a.push(format!("--chunk={}K", c / 1024));
    }
    if let Some(l) = &raid.layout {
        a.push(format!("--layout={l}"));
    }
    if let Some(s) = raid.member_size {
        a.push(format!("--size={}K", s / 1024));
    }
    a.extend(members.iter().cloned());
    a.extend(spares.iter().cloned());
    let mut under = members.clone();
    under.extend(spares.iter().cloned());
    let mut writes = vec![raid.device.clone()];
    for u in &under {
        writes.extend(cx.stack(u));
    }
    writes.dedup();
    cx.under.insert(raid.device.clone(), under);
    // The array changes by what its smallest member changed, times the
    // members that hold data; a member array of a container keeps the
    // size it is given.
    let data_members = match raid.level.as_str() {
        "raid0" | "linear" => members.len() as i128,
        "raid4" | "raid5" => members.len() as i128 - 1,
        "raid6" => members.len() as i128 - 2,
        "raid10" => members.len() as i128 / 2,
        _ => 1,
    };
    let delta = if in_container && raid.member_size.is_some() {
        0
    } else {
        raid.devices
            .iter()
            .map(|d| cx.grown.get(d).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
            * data_members
    };
    cx.grown.insert(raid.device.clone(), delta);
    let what = if raid.is_container() {
        format!(
            "create the {} container {} on {}",
            raid.metadata,
            raid.device,
            members.join(" ")
        )
    } else {
        format!(
            "create {} {} on {}",
            raid.level,
            raid.device,
            members.join(" ")
        )
    };
    cx.push(
        Step::new(format!("raid:{}", raid.device), what)
            .argv(a)
            .writes(writes)
            .creates([&raid.device]),
    );
}

/// The partition table on an array, refitted to the array's new size (it
/// follows its members), then leftovers wiped in its partitions.
fn table(cx: &mut Ctx, raid: &Raid) -> Result<(), PlanError> {
    let disk = raid.as_disk();
    let grown = cx.grown.get(&raid.device).copied().unwrap_or(0);
    let new_size = (raid.size as i128 + grown).max(0) as u64;
    // A size unknown (imported without a raiddisk line): as it was.
    let parts = if raid.size == 0 {
        disk.partitions.clone()
    } else {
        refit(&disk, new_size, &raid.device, cx.opts.resize)?
    };
    for (old, p) in disk.partitions.iter().zip(&parts) {
        let dev = partition_device(&raid.device, p.number);
        cx.under.insert(dev, vec![raid.device.clone()]);
        cx.grown
            .insert(old.device.clone(), p.size as i128 - old.size as i128);
    }
    let writes = cx.stack(&raid.device);
    cx.push(super::partitions::table_step(&disk, &parts, &raid.device).writes(writes));
    for p in parts.iter().filter(|p| p.kind != PartKind::Extended) {
        let dev = partition_device(&raid.device, p.number);
        let mut w = vec![dev.clone()];
        w.extend(cx.stack(&raid.device));
        cx.push(
            Step::new(format!("clean:{dev}"), format!("wipe leftovers in {dev}"))
                .argv(["wipefs", "--all", "--force", &dev])
                .writes(w),
        );
    }
    Ok(())
}
