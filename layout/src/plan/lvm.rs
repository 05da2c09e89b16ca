//! The LVM stage: physical volumes, volume groups (refused when their
//! logical volumes no longer fit), then logical volumes, thin pools before
//! the thin volumes in them.

use super::{argv, human, Ctx, PlanError, Step};
use crate::model::*;

/// Creates the PVs with their UUIDs, then each VG and its LVs.
pub(super) fn volumes(cx: &mut Ctx) -> Result<(), PlanError> {
    let layout = cx.layout;
    for pv in &layout.pvs {
        let dev = cx.r.get(&pv.device);
        let uuid = format!("--uuid={}", pv.uuid);
        cx.push(
            Step::new(
                format!("pv:{dev}"),
                format!("make {dev} an LVM physical volume of {}", pv.vg),
            )
            .argv([
                "pvcreate",
                "--force",
                "--force",
                "--yes",
                "--norestorefile",
                &uuid,
                &dev,
            ])
            .writes(cx.stack(&dev)),
        );
    }
    for vg in &layout.vgs {
        let pvs: Vec<String> = layout
            .pvs
            .iter()
            .filter(|p| p.vg == vg.name)
            .map(|p| cx.r.get(&p.device))
            .collect();
        if pvs.is_empty() {
            return Err(PlanError::Unsupported(format!(
                "volume group {} has no physical volume in the layout",
                vg.name
            )));
        }
        check_fits(cx, vg)?;
        let mut a = argv([
            "vgcreate".to_string(),
            "--yes".into(),
            format!("--physicalextentsize={}k", vg.extent_size / 1024),
            vg.name.clone(),
        ]);
        a.extend(pvs.iter().cloned());
        let mut writes = Vec::new();
        for p in &pvs {
            writes.extend(cx.stack(p));
        }
        cx.push(
            Step::new(
                format!("vg:{}", vg.name),
                format!("create volume group {}", vg.name),
            )
            .argv(a)
            .writes(writes.clone()),
        );
        for lv in in_pe_order(layout, vg) {
            let placed = placement(cx, vg, lv);
            let mut a = lv_argv(lv)?;
            if let Some(first) = placed.first() {
                // Its first segment at its own extents; the rest extend it.
                let size = a.iter().position(|w| w.starts_with("--size=")).unwrap();
                a[size] = format!("--extents={}", first.count);
                a.push(pe_range(cx, first));
            } else if !lv.segments.is_empty() && lv.segtype == "linear" {
                cx.notes.push(format!(
                    "{}/{}: a physical volume under it shrank; allocated in its original order, not at its original extents",
                    lv.vg, lv.name
                ));
            }
            let dev = lv_device(&lv.vg, &lv.name);
            cx.under.insert(dev.clone(), pvs.clone());
            cx.push(
                Step::new(
                    format!("lv:{}/{}", lv.vg, lv.name),
                    format!(
                        "create {} logical volume {}/{} ({})",
                        lv.segtype,
                        lv.vg,
                        lv.name,
                        human(lv.size)
                    ),
                )
                .argv(a)
                .writes(writes.clone())
                .creates([dev.clone()]),
            );
            for (i, seg) in placed.iter().enumerate().skip(1) {
                let a = argv([
                    "lvextend".to_string(),
                    "--yes".into(),
                    format!("--extents=+{}", seg.count),
                    format!("{}/{}", lv.vg, lv.name),
                    pe_range(cx, seg),
                ]);
                cx.push(
                    Step::new(
                        format!("lvextend:{}/{}:{i}", lv.vg, lv.name),
                        format!(
                            "extend {}/{} by its segment {} at extent {} of {}",
                            lv.vg,
                            lv.name,
                            i + 1,
                            seg.start,
                            cx.r.get(&seg.pv)
                        ),
                    )
                    .argv(a)
                    .writes(writes.iter().cloned().chain([dev.clone()])),
                );
            }
        }
    }
    Ok(())
}

/// The volume group's LVs in the order their extents lay on the PVs
/// (capture's segments; LVs without them after, by name), thin pools
/// before the volumes in them: plain allocation then also puts each where
/// it was, as long as the ones before it take what they took.
fn in_pe_order<'a>(layout: &'a Layout, vg: &Vg) -> Vec<&'a Lv> {
    let pv_index = |dev: &str| {
        layout
            .pvs
            .iter()
            .filter(|p| p.vg == vg.name)
            .position(|p| p.device == dev)
            .unwrap_or(usize::MAX)
    };
    let mut lvs: Vec<&Lv> = layout.lvs.iter().filter(|l| l.vg == vg.name).collect();
    lvs.sort_by_key(|l| {
        let first = l
            .segments
            .first()
            .map_or((usize::MAX, u64::MAX), |s| (pv_index(&s.pv), s.start));
        (l.segtype == "thin", first, l.name.clone())
    });
    lvs
}

/// The segments of a linear LV to allocate at their original extents:
/// all of them when every PV under it kept its size or grew, and they add
/// up to its size; none otherwise (plain allocation).
fn placement<'a>(cx: &Ctx, vg: &Vg, lv: &'a Lv) -> &'a [Segment] {
    let layout = cx.layout;
    let fits = lv.segtype == "linear"
        && !lv.segments.is_empty()
        && lv.segments.iter().map(|s| s.count).sum::<u64>() * vg.extent_size == lv.size
        && lv.segments.iter().all(|s| {
            s.count > 0
                && layout
                    .pvs
                    .iter()
                    .any(|p| p.device == s.pv && p.vg == vg.name)
                && cx.grown.get(&s.pv).copied().unwrap_or(0) >= 0
        });
    if fits {
        &lv.segments
    } else {
        &[]
    }
}

/// `PV:FIRST-LAST` (lvcreate's and lvextend's physical extent range).
fn pe_range(cx: &Ctx, s: &Segment) -> String {
    format!("{}:{}-{}", cx.r.get(&s.pv), s.start, s.start + s.count - 1)
}

/// Capacity check before anything is written: the volume group changes by
/// what its physical volumes changed, and a shrink must fit in its free space.
fn check_fits(cx: &Ctx, vg: &Vg) -> Result<(), PlanError> {
    let layout = cx.layout;
    let delta: i128 = layout
        .pvs
        .iter()
        .filter(|p| p.vg == vg.name)
        .map(|p| cx.grown.get(&p.device).copied().unwrap_or(0))
        .sum();
    if delta >= 0 {
        return Ok(());
    }
    let shrink = delta.unsigned_abs() as u64;
    let free = vg.free.unwrap_or_else(|| {
        // Without a recorded free size: the LVs' own sizes, a thin
        // pool's metadata twice (its spare copy).
        let used: u64 = layout
            .lvs
            .iter()
            .filter(|l| l.vg == vg.name && l.segtype != "thin")
            .map(|l| {
                l.size.div_ceil(vg.extent_size) * vg.extent_size + 2 * l.metadata_size.unwrap_or(0)
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
    Ok(())
}

/// lvcreate's command line for `lv`.
fn lv_argv(lv: &Lv) -> Result<Vec<String>, PlanError> {
    let size = format!("--size={}b", lv.size);
    // New volumes start clean: no old signatures, zeroed first block.
    let clean = ["--wipesignatures=y", "--zero=y"];
    let mut a = argv(["lvcreate", "--yes"]);
    match lv.segtype.as_str() {
        "thin" => {
            let pool = lv.pool.as_ref().ok_or_else(|| {
                PlanError::Unsupported(format!("thin volume {}/{} names no pool", lv.vg, lv.name))
            })?;
            a.push("--type=thin".into());
            a.push(format!("--virtualsize={}b", lv.size));
            a.push(format!("--thinpool={pool}"));
        }
        "thin-pool" => {
            // Signature wiping does not apply to pools, and zeroing is the
            // pool's own setting: LVM's default stays.
            a.push("--type=thin-pool".into());
            a.push(size);
            if let Some(m) = lv.metadata_size {
                a.push(format!("--poolmetadatasize={m}b"));
            }
            if let Some(c) = lv.chunk_size {
                a.push(format!("--chunksize={}k", c / 1024));
            }
        }
        "linear" => {
            a.extend(argv(clean));
            a.push(size);
        }
        "striped" => {
            a.extend(argv(clean));
            a.push(size);
            a.push(format!("--stripes={}", lv.stripes.unwrap_or(1)));
            if let Some(s) = lv.stripe_size {
                a.push(format!("--stripesize={}k", s / 1024));
            }
        }
        "raid1" | "mirror" | "raid0" | "raid4" | "raid5" | "raid6" | "raid10" => {
            a.extend(argv(clean));
            a.push(format!("--type={}", lv.segtype));
            a.push(size);
            if let Some(m) = lv.mirrors {
                a.push(format!("--mirrors={m}"));
            }
            let striped = lv.segtype != "raid1" && lv.segtype != "mirror";
            if let Some(s) = lv.stripes.filter(|_| striped) {
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
    Ok(a)
}
