//! The LUKS stage: run twice, before LVM for volumes on partitions, disks
//! and arrays, and after it for volumes on logical volumes.

use super::{argv, Ctx, Input, PlanError, Step};
use crate::model::*;

/// Which LUKS volumes a run of [`volumes`] takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Backing {
    /// On a partition, a disk or an md array.
    NotLv,
    /// On a logical volume (LVM makes its backing device first).
    Lv,
}

/// Formats and opens the LUKS volumes whose backing device is `which`.
pub(super) fn volumes(cx: &mut Ctx, which: Backing) -> Result<(), PlanError> {
    let layout = cx.layout;
    let on_lv = |l: &Luks| {
        layout
            .lvs
            .iter()
            .any(|lv| lv.device == l.backing || lv_device(&lv.vg, &lv.name) == l.backing)
    };
    for l in layout
        .luks
        .iter()
        .filter(|l| on_lv(l) == (which == Backing::Lv))
    {
        volume(cx, l)?;
    }
    Ok(())
}

/// Formats and opens one LUKS volume (the passphrase from the file, on
/// standard input only). The first key slot gets the original's PBKDF
/// costs when the layout has them.
fn volume(cx: &mut Ctx, l: &Luks) -> Result<(), PlanError> {
    let opts = cx.opts;
    let Some(pass) = &opts.passphrase_file else {
        return Err(PlanError::NoPassphrase(l.device.clone()));
    };
    let backing = cx.r.get(&l.backing);
    let mut a = argv(["cryptsetup", "luksFormat", "--batch-mode"]);
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
    let writes = cx.stack(&backing);
    cx.push(
        Step::new(
            format!("luks:{}", l.name),
            format!("format LUKS{} on {backing}", l.version),
        )
        .argv(a)
        .input(Input::Secret(pass.clone()))
        .writes(writes.clone()),
    );
    cx.push(
        Step::new(
            format!("open:{}", l.name),
            format!("open {backing} as {}", l.device),
        )
        .argv(["cryptsetup", "open", &backing, &l.name])
        .input(Input::Secret(pass.clone()))
        .writes(writes)
        .creates([&l.device]),
    );
    cx.under.insert(l.device.clone(), vec![backing]);
    let delta = cx.grown.get(&l.backing).copied().unwrap_or(0);
    cx.grown.insert(l.device.clone(), delta);
    Ok(())
}

/// cryptsetup's options for the recorded PBKDF costs: iterations (PBKDF2)
/// or time cost (Argon2) skip the benchmark; Argon2 also keeps its memory
/// and threads. Nothing without recorded iterations (cryptsetup then
/// benchmarks, as for a layout imported from ReaR).
pub(super) fn pbkdf_cost_args(l: &Luks) -> Vec<String> {
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
