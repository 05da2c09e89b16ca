//! The partition stages: the tables refitted to the new disks, old
//! signatures wiped, then each partition table written.

use super::geometry::{refit, sfdisk_script};
use super::{human, Ctx, Input, PlanError, Step};
use crate::model::*;

/// Refits every partitioned disk to its target (notes when it resizes);
/// records how much each old disk and partition grows. Errors, before any
/// step, when a target is too small.
pub(super) fn refit_disks(cx: &mut Ctx) -> Result<(), PlanError> {
    let layout = cx.layout;
    for d in &layout.disks {
        let (new, size) = {
            let p = cx.new_disk(&d.device);
            (p.device.clone(), p.size)
        };
        if d.label.is_none() {
            if size < d.size {
                return Err(PlanError::TooSmall {
                    disk: new,
                    old: d.device.clone(),
                    have: human(size),
                    need: human(d.size),
                });
            }
            cx.grown
                .insert(d.device.clone(), size as i128 - d.size as i128);
            continue;
        }
        let parts = refit(d, size, &new, cx.opts.resize)?;
        if size != d.size {
            cx.notes.push(format!(
                "{} ({}) is recreated on {} ({}): partitions resized",
                d.device,
                human(d.size),
                new,
                human(size)
            ));
        }
        for (old, part) in d.partitions.iter().zip(&parts) {
            let dev = partition_device(&new, part.number);
            cx.under.insert(dev, vec![new.clone()]);
            cx.grown
                .insert(old.device.clone(), part.size as i128 - old.size as i128);
        }
        cx.new_parts.insert(d.device.clone(), parts);
    }
    Ok(())
}

/// Wipes what is on the targets now: partitions first, then the disks.
pub(super) fn wipe(cx: &mut Ctx) {
    let (mapping, present) = (cx.mapping, cx.present);
    for new in mapping.values() {
        let p = present.iter().find(|p| &p.device == new).unwrap();
        for part in &p.partitions {
            cx.push(
                Step::new(
                    format!("wipe:{part}"),
                    format!("wipe old signatures on {part}"),
                )
                .argv(["wipefs", "--all", "--force", part])
                .writes([part, new]),
            );
        }
        cx.push(
            Step::new(
                format!("wipe:{new}"),
                format!("wipe old signatures on {new}"),
            )
            .argv(["wipefs", "--all", "--force", new])
            .writes([new]),
        );
    }
}

/// Writes each partition table, then wipes leftovers inside its partitions.
pub(super) fn tables(cx: &mut Ctx) {
    let (layout, mapping) = (cx.layout, cx.mapping);
    for d in &layout.disks {
        let Some(parts) = cx.new_parts.get(&d.device) else {
            continue;
        };
        let new = &mapping[&d.device];
        cx.steps.push(table_step(d, parts, new).writes([new]));
        for p in parts.iter().filter(|p| p.kind != PartKind::Extended) {
            let dev = partition_device(new, p.number);
            cx.steps.push(
                // Not `wipe:`: the disk's old partition of the same name was
                // wiped under that id, and a done id is skipped on a re-run.
                Step::new(format!("clean:{dev}"), format!("wipe leftovers in {dev}"))
                    .argv(["wipefs", "--all", "--force", &dev])
                    .writes([&dev]),
            );
        }
    }
}

/// The step that writes `disk`'s table with `parts` onto `new`: rear-build
/// itself, so the rescue system needs no partitioning program (the plan
/// shows the script; `sfdisk NEW` takes the same one by hand).
pub(super) fn table_step(disk: &Disk, parts: &[Partition], new: &str) -> Step {
    let label = match disk.label {
        Some(Label::Gpt) => "GPT",
        _ => "msdos",
    };
    Step::new(
        format!("partition:{new}"),
        format!("create the {label} partition table on {new}"),
    )
    .argv(["rear-build", "partition-table", new])
    .input(Input::Text(sfdisk_script(disk, parts, new)))
    .creates(parts.iter().map(|p| partition_device(new, p.number)))
}
