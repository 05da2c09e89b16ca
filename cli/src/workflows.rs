//! The workflows, commands made of the others: `mkbackup` (savelayout,
//! image, mkbackuponly, and the image onto the backup medium) and
//! `recover` (recreate the layout, restore the backup into it and verify
//! every file, then finalize the restored system: device names, initramfs,
//! bootloader). Any failed step of recover stops it with its name; the log
//! goes to the console and into the restored system either way.

use crate::cmdline::ImageArgs;
use crate::config::Config;
use crate::layoutcmd::{self, RecoverArgs};
use crate::{backupcmd, commands, paths, say};
use anyhow::{bail, Context, Result};
use rear_finalize::Initramfs;
use rear_layout::capture::Source;
use std::path::{Path, PathBuf};

/// `mkbackup`: the layout, the rescue image and the backup, with the image
/// and this run's log stored beside the backup.
pub fn mkbackup(
    host: &dyn Source,
    cfg: &Config,
    config_files: &[PathBuf],
    a: &ImageArgs,
) -> Result<i32> {
    let layout = Path::new(paths::LAYOUT);
    layoutcmd::savelayout(host, layout, &commands::capture_settings(cfg))?;
    let image = commands::image_cmd(cfg, config_files, a)?;
    let manifest = image.iter().find(|p| p.ends_with("manifest.json"));
    let code = backupcmd::mkbackuponly(
        &cfg.backup,
        &commands::regenerated(cfg),
        &layoutcmd::load(layout)?,
        crate::pinning::seal(cfg, manifest.map(PathBuf::as_path))?,
    )?;
    let menu = cfg.image.menu(&rear_builder::rescue::host_name());
    backupcmd::store_image(
        &cfg.backup,
        &image,
        commands::image_key(cfg).as_ref(),
        (&menu, cfg.usb.keep),
    )?;
    Ok(code)
}

/// A file in the backup's directory whose first line is the LUKS
/// passphrase, for unattended recovery (the backup medium is kept safe
/// like the passphrase itself).
pub const PASSPHRASE_FILE: &str = "luks-passphrase";

pub fn recover(a: &RecoverArgs, cfg: &Config) -> Result<i32> {
    let backup = &cfg.backup;
    let mut a = a.clone();
    // --protect with the configuration's (Config::with joined them).
    a.protect = cfg.layout.protect.clone();
    let restoring = !a.layout_only && !a.simulate;
    if restoring && a.no_mount {
        bail!("--no-mount leaves nowhere to restore to: use --layout-only, or drop --no-mount");
    }
    if restoring && a.unattended && !crate::backupcmd::restores_unattended(backup) {
        bail!("unattended recovery needs backup.external.restore: with the \"external\" method and no restore command, an operator must restore by hand (run recover on the console)");
    }
    if restoring && a.passphrase_file.is_none() && backup.method != rear_backup::Method::None {
        let dir = crate::backupcmd::target_dir(backup)?;
        if let Some(f) = dir.map(|d| d.join(PASSPHRASE_FILE)).filter(|f| f.is_file()) {
            say!("LUKS passphrase from {}", f.display());
            a.passphrase_file = Some(f);
        }
    }
    let started = std::time::Instant::now();
    let path = layoutcmd::saved_layout(&a)?;
    let layout = layoutcmd::load(&path)?;
    if restoring {
        // Nothing is written before the backup is known to be there and
        // readable.
        let image = match &a.image {
            Some(r) => Some(crate::pinning::image_ref(r)?),
            None => crate::pinning::running_image(),
        };
        backupcmd::preflight(backup, &layout, image.as_deref(), cfg.trust.key()?.as_ref())
            .context("recovery stopped before writing any disk")?;
    }
    let checked = started.elapsed().as_secs_f64();
    let r = layoutcmd::recover_layout(&a, &path, layout)?;
    if !restoring || r.code != 0 {
        return Ok(r.code);
    }
    let laid = started.elapsed().as_secs_f64();
    let root = Path::new(&a.mount_root);
    let result = restore_and_finalize(&a, backup, &r, root, &cfg.recover.post_script, started);
    match &result {
        Ok(restored) => {
            let total = started.elapsed().as_secs_f64();
            say!(
            "recovery finished in {total:.1} s (backup checked {checked:.1} s, layout {:.1} s, restore and verify {:.1} s, finalize {:.1} s): layout recreated, data restored and {}, system finalized at {}",
            laid - checked,
            restored - laid,
            total - restored,
            match backup.method {
                rear_backup::Method::External => "not verified (the external client's)",
                _ => "verified",
            },
            a.mount_root
        )
        }
        // main prints it; the copy in the restored system must have it too.
        Err(e) => crate::ui::file_only("ERROR", &format!("{e:#}")),
    }
    save_log(root);
    result.map(|_| 0)
}

/// Restores, then finalizes; returns the seconds from `started` to the
/// end of the restore.
fn restore_and_finalize(
    a: &RecoverArgs,
    backup: &crate::config::Backup,
    r: &layoutcmd::Recreated,
    root: &Path,
    post: &str,
    started: std::time::Instant,
) -> Result<f64> {
    crate::backupcmd::restoreonly(backup, root)
        .context("recovery failed at step \"restore the backup\"")?;
    let restored = started.elapsed().as_secs_f64();
    let opts = rear_finalize::Options {
        initramfs: match a.initramfs.as_str() {
            "always" => Initramfs::Always,
            "never" => Initramfs::Never,
            _ => Initramfs::Auto,
        },
        bootloader: !a.no_bootloader,
        root: a.mount_root.clone(),
    };
    let tree = rear_finalize::Dir(root.to_path_buf());
    let plan = rear_finalize::plan(&r.layout, &r.renames, &tree, &opts)
        .context("recovery failed at step \"plan the finalization\"")?;
    rear_finalize::apply(
        &plan,
        root,
        &rear_exec::System,
        &r.targets,
        &rear_layout::apply::Resolver::default(),
        &mut |l| say!("{l}"),
    )
    .context("recovery failed while finalizing")?;
    post_script(post, root)?;
    Ok(restored)
}

/// recover.post_script, with the recovered system's root in
/// $TARGET_FS_ROOT (as ReaR's POST_RECOVERY_SCRIPT has it).
fn post_script(script: &str, root: &Path) -> Result<()> {
    if script.is_empty() {
        return Ok(());
    }
    say!("running recover.post_script {script}");
    rear_exec::Exec::run(
        &rear_exec::System,
        &rear_exec::Call::new(script).env("TARGET_FS_ROOT", root),
    )
    .with_context(|| format!("recovery failed at step \"recover.post_script {script}\""))?;
    Ok(())
}

/// This run's log into the restored system's /var/log/rear-build.
fn save_log(root: &Path) {
    let Some(log) = crate::ui::log_path() else {
        return;
    };
    if !root.join("etc").is_dir() {
        return; // nothing restored there to keep it
    }
    let dir = root.join("var/log/rear-build");
    let dst = dir.join(format!("recover-{}.log", rear_builder::rescue::host_name()));
    log::logger().flush();
    match std::fs::create_dir_all(&dir).and_then(|_| std::fs::copy(&log, &dst)) {
        Ok(_) => say!("log copied to {}", dst.display()),
        Err(e) => log::warn!("cannot copy the log to {}: {e}", dst.display()),
    }
}
