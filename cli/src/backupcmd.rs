//! mkbackuponly and restoreonly: the data half of ReaR's workflows, with
//! the backup method and target from the configuration's `[backup]`.

use crate::config::{Backup, External};
use crate::say;
use anyhow::{bail, Context, Result};
use rear_backup::secret::Passphrase;
use rear_backup::{borg, restic};
use rear_backup::{generation, restore_and_verify, Backend, Method, Spec, Target};
use rear_exec::{Call, Exec, System};
use rear_layout::Layout;
use std::path::{Path, PathBuf};

/// The passphrase of a borg or restic repository: the configured file,
/// else the tool's own variables in the environment.
fn passphrase(cfg: &Backup, tool: &str, vars: &[&str]) -> Result<Passphrase> {
    let file = (!cfg.passphrase_file.is_empty()).then(|| Path::new(&cfg.passphrase_file));
    Passphrase::resolve(file, tool, vars, |v| std::env::var(v).ok())
}

/// The configured method, bound to the configured place (a USB disk
/// mounted first).
fn backend(cfg: &Backup) -> Result<Box<dyn Backend>> {
    if !cfg.method.is_backend() {
        bail!(
            "backup.method is \"{}\": rear-build makes and restores no backup itself",
            cfg.method
        );
    }
    let host = rear_builder::rescue::host_name();
    let target = Target::parse_for(cfg.method, &cfg.url)
        .with_context(|| format!("backup.url = {:?}", cfg.url))?;
    // Asked before mounting anything: a missing passphrase is the first thing to hear of.
    let pass = match cfg.method {
        Method::Borg => Some(passphrase(cfg, "borg", borg::PASS_VARS)?),
        Method::Restic => Some(passphrase(cfg, "restic", restic::PASS_VARS)?),
        _ => None,
    };
    let place = target.open(&System, &host, cfg.method, &cfg.mount_options)?;
    // A repository on a mounted disk or share gets its own directory beside
    // the tar and rsync backups of the same host.
    let repo = match &place {
        Target::File(d) if place != target => Target::File(d.join(cfg.method.name())),
        _ => place.clone(),
    };
    Ok(match (cfg.method, pass) {
        (Method::Tar, _) => match place {
            Target::File(dir) => Box::new(rear_backup::tar::Tar {
                dir,
                age: cfg.age(),
            }),
            Target::Tape(device) => Box::new(rear_backup::tape::TapeBackup {
                device,
                age: cfg.age(),
            }),
            other => bail!("tar writes to a directory or a tape, not to {other:?}"),
        },
        (Method::Rsync, _) => Box::new(rear_backup::rsync::Rsync::at(&place)?),
        (Method::Borg, Some(p)) => Box::new(borg::Borg::at(&repo, p, &host)?),
        (Method::Restic, Some(p)) => Box::new(restic::Restic::at(&repo, p, &host)?),
        (other, _) => unreachable!("{other} is a backend with its passphrase"),
    })
}

/// The file systems to back up: every mounted one in the layout, as
/// paths relative to `/`.
pub fn paths_of(layout: &Layout) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = layout
        .mounts
        .iter()
        .filter(|m| m.fstype != "swap")
        .map(|m| match m.mountpoint.trim_start_matches('/') {
            "" => PathBuf::from("."),
            rel => PathBuf::from(rel),
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The mount point a path of [`paths_of`] stands for (`.` is `/`).
fn mount_point(rel: &Path) -> String {
    match rel.to_string_lossy().as_ref() {
        "." => "/".to_string(),
        rel => format!("/{rel}"),
    }
}

/// The file systems of `layout` that a backup must hold for recovery to
/// restore them: each mount point's own directory entry (`.` for `/`),
/// as the manifest names it. Missing ones, by mount point.
pub fn uncovered(layout: &Layout, sums: &[rear_backup::sums::Entry]) -> Vec<String> {
    let have: std::collections::BTreeSet<&str> = sums.iter().map(|e| e.path.as_str()).collect();
    paths_of(layout)
        .iter()
        .filter(|p| {
            // Made through a view (each file system in a directory of its
            // own), or by an older rear-build (paths relative to `/`).
            let through_view = rear_backup::view::unit(p);
            ![p.as_os_str(), &through_view]
                .iter()
                .any(|n| have.contains(rear_backup::sums::encode(n).as_str()))
        })
        .map(|p| mount_point(p))
        .collect()
}

/// Proves the backup usable before recovery writes a disk: the method
/// makes backups, its target opens, its newest whole backup is found, and
/// its manifest reads (with the passphrase, for borg and restic). A backup
/// that holds none of a file system the layout recreates is warned about
/// (the operator may restore a part on purpose). An external client's
/// backup cannot be looked into: its restore command (or the operator)
/// answers for it.
pub fn preflight(
    cfg: &Backup,
    layout: &Layout,
    image: Option<&str>,
    trust: Option<&rear_sign::PublicKey>,
) -> Result<()> {
    if cfg.method == Method::External {
        return Ok(());
    }
    let b = backend(cfg)?;
    let found = b.latest(&System)?;
    let pinned = crate::pinning::check(&found.id, found.header.as_ref(), image, trust)?;
    say!("backup {}: {pinned}", found.id);
    let missing = uncovered(layout, &found.sums);
    if !missing.is_empty() {
        log::warn!(
            "the backup {} holds nothing of {}, which the layout recreates: is it this machine's backup? (backup.url = {:?})",
            found.id,
            missing.join(", "),
            cfg.url
        );
    }
    say!(
        "backup {} checked before any disk is written: its manifest lists {} files of {}",
        found.id,
        found.sums.len(),
        paths_of(layout)
            .iter()
            .map(|p| mount_point(p))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The disks that hold a `usb://LABEL` target, if it is attached: the
/// backup medium, never part of the layout (as ReaR leaves it out).
pub fn medium_disks(cfg: &Backup) -> Vec<String> {
    let Ok(Target::Usb { label }) = Target::parse(&cfg.url) else {
        return Vec::new();
    };
    let Ok(dev) = System.run(&Call::new("blkid").args(["-L", &label])) else {
        return Vec::new();
    };
    // The disks under it, found through sysfs as recovery checks its steps.
    rear_layout::apply::Resolver::default()
        .disks(dev.trim())
        .unwrap_or_default()
        .into_iter()
        .map(|d| format!("/dev/{d}"))
        .collect()
}

/// The backup's directory for this host when the target is one (a
/// directory or a USB disk, mounted if needed); None for a server.
pub fn target_dir(cfg: &Backup) -> Result<Option<PathBuf>> {
    if cfg.method == Method::External {
        return Ok(None);
    }
    let target = Target::parse_for(cfg.method, &cfg.url)
        .with_context(|| format!("backup.url = {:?}", cfg.url))?;
    let host = rear_builder::rescue::host_name();
    Ok(
        match target.open(&System, &host, cfg.method, &cfg.mount_options)? {
            Target::File(d) => Some(d),
            _ => None,
        },
    )
}

use crate::paths::LOG_DIR;

/// Backs up the layout's mounted file systems. `regenerated` are
/// rear-build's own store and images: rebuilt by the next `image`, and the
/// images are on the backup target anyway (as ReaR leaves out its output).
pub fn mkbackuponly(
    cfg: &Backup,
    regenerated: &[PathBuf],
    layout: &Layout,
    seal: rear_backup::pin::Seal,
) -> Result<i32> {
    if cfg.method == Method::External {
        return external_backup(&cfg.external);
    }
    let paths = paths_of(layout);
    if paths.is_empty() {
        bail!(
            "the layout has no mounted file system to back up (run `rear-build savelayout` first)"
        );
    }
    let b = backend(cfg)?;
    // Our own log grows while the backup runs: it could never verify.
    let exclude = cfg
        .exclude
        .iter()
        .map(Path::new)
        .chain([Path::new(LOG_DIR)])
        .chain(regenerated.iter().map(PathBuf::as_path))
        .map(|x| x.strip_prefix("/").unwrap_or(x).to_path_buf())
        .chain(tool_state(cfg.method, |v| std::env::var(v).ok()))
        .collect();
    let mut spec = Spec::new(Path::new("/"), paths, exclude);
    spec.seal = seal;
    let view = rear_backup::view::View::mount(
        &spec.root,
        &spec.paths,
        Path::new(crate::paths::BACKUP_VIEW),
        &System,
    )?;
    let spec = spec.through(&view.dir);
    let t = std::time::Instant::now();
    let mut progress = crate::ui::Progress::new();
    progress.stage(&format!("{} backup to {}", b.name(), cfg.url));
    let made = b.backup(&spec, &System);
    progress.finish();
    drop(view);
    let made = made?;
    say!(
        "{} backup of {} files ({:.1} MiB) to {} in {:.1} s",
        b.name(),
        made.files,
        made.bytes as f64 / (1 << 20) as f64,
        made.at,
        t.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// The backup tool's own state, which it rewrites while it runs (so it
/// could never verify) and remakes when it is gone: borg's cache and
/// security records, restic's cache. Relative to `/`. borg's keys (a
/// keyfile repository's key) stay in the backup.
fn tool_state(method: Method, env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let home = env("HOME").unwrap_or_else(|| "/root".into());
    let base = env("BORG_BASE_DIR").unwrap_or_else(|| home.clone());
    let cache_home = env("XDG_CACHE_HOME").unwrap_or_else(|| format!("{home}/.cache"));
    let config_home = env("XDG_CONFIG_HOME").unwrap_or_else(|| format!("{home}/.config"));
    let dirs = match method {
        Method::Borg => {
            let (cache, config) = match env("BORG_BASE_DIR") {
                Some(_) => (
                    format!("{base}/.cache/borg"),
                    format!("{base}/.config/borg"),
                ),
                None => (format!("{cache_home}/borg"), format!("{config_home}/borg")),
            };
            vec![
                env("BORG_CACHE_DIR").unwrap_or(cache),
                env("BORG_SECURITY_DIR").unwrap_or(format!("{config}/security")),
            ]
        }
        Method::Restic => vec![env("RESTIC_CACHE_DIR").unwrap_or(format!("{cache_home}/restic"))],
        _ => vec![],
    };
    dirs.iter()
        .map(|d| PathBuf::from(d.trim_start_matches('/')))
        .collect()
}

/// Where `mkbackup` puts the rescue image on the backup target, so the
/// medium that holds the backup also holds what recovers it.
pub const IMAGE_DIR: &str = "rescue";

/// Copies the image's artefacts and this run's log so far into the target's
/// `rescue/` directory, replacing the previous set only when all are copied.
/// `key`: the backup passphrase the image carries, if it does: stored
/// beside the backup it unlocks, it protects nothing, which is warned about.
/// On a rescue disk made by `format` (`usb://`), the image also becomes a
/// generation in its boot menu, with `menu` and `keep` generations kept,
/// tied to the backup just made, so the disk boots and recovers by itself.
pub fn store_image(
    cfg: &Backup,
    artefacts: &[PathBuf],
    key: Option<&crate::commands::CarriedKey>,
    (menu, keep): (&rear_builder::media::Menu, usize),
) -> Result<()> {
    let Some(dir) = target_dir(cfg)? else {
        say!(
            "the rescue image stays where it was built: the backup target {} is not a directory",
            cfg.url
        );
        if let Some(key) = key {
            log::warn!(
                "the rescue image carries {}: whoever reads the image can read the backup at {}; keep the image apart from the backup",
                key.describe(),
                cfg.url
            );
        }
        return Ok(());
    };
    let part = dir.join(format!("{IMAGE_DIR}.partial"));
    let _ = std::fs::remove_dir_all(&part);
    // Private as the backup beside it, and on the disk before the rename
    // makes it the image found: a USB disk pulled right after holds it whole.
    generation::private_dir(&part)?;
    // The files (a network boot tree is for a TFTP root, not the medium).
    let mut files: Vec<PathBuf> = artefacts.iter().filter(|a| a.is_file()).cloned().collect();
    log::logger().flush();
    files.extend(crate::ui::log_path());
    for f in &files {
        let name = f.file_name().context("artefact without a name")?;
        let to = part.join(name);
        std::fs::copy(f, &to)
            .with_context(|| format!("copy {} to {}", f.display(), part.display()))?;
        generation::private(&to, 0o600)?;
        generation::sync(&to)?;
    }
    generation::sync(&part)?;
    let done = dir.join(IMAGE_DIR);
    let old = dir.join(format!("{IMAGE_DIR}.old"));
    let _ = std::fs::remove_dir_all(&old);
    if done.exists() {
        std::fs::rename(&done, &old).with_context(|| format!("rename {}", done.display()))?;
    }
    std::fs::rename(&part, &done).with_context(|| format!("rename {}", part.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    generation::sync(&dir)?;
    say!("rescue image and log stored in {}", done.display());
    // DIR is MOUNT/rear/HOST on a USB target.
    let root = dir.parent().and_then(Path::parent);
    if let (Ok(Target::Usb { .. }), Some(root)) = (Target::parse(&cfg.url), root) {
        use rear_builder::media::usb;
        if usb::is_rescue_disk(root) {
            let (kernel, initrd) = (done.join("vmlinuz"), done.join("initrd.img"));
            let input = rear_builder::media::Input {
                kernel: &kernel,
                initrd: &initrd,
                epoch: 0,
                menu,
                id: "",
                macs: &[],
            };
            let backup = generation::current(&dir)?;
            let note = usb::write_generation(
                &input,
                &done.join("manifest.json"),
                root,
                keep,
                backup.as_deref(),
            )?;
            say!("the rescue disk boots it: {note}");
        } else {
            say!(
                "{} is not a rescue disk made by `rear-build format`, so it does not boot: the image is on it for copying",
                cfg.url
            );
        }
    }
    if let Some(key) = key {
        log::warn!(
            "the rescue image stored in {} carries {}, on the same medium as the {} backup it unlocks ({}): there the passphrase protects nothing, whoever holds the medium reads the backup. Leave it out of image.include and bring it to the rescue system apart from the medium, or keep the medium as safe as the passphrase (docs/backup.md)",
            done.display(),
            key.describe(),
            key.method,
            cfg.url
        );
    }
    Ok(())
}

pub fn restoreonly(cfg: &Backup, root: &Path) -> Result<i32> {
    // A restore writes every file of the backup: over the running system
    // it would replace what runs it.
    if std::fs::canonicalize(root).is_ok_and(|r| r == Path::new("/")) {
        bail!(
            "restoreonly --root {}: that is the running system's root; restore into the recreated file systems (mounted at {} by recover)",
            root.display(),
            crate::paths::RECOVER_ROOT
        );
    }
    if cfg.method == Method::External {
        return external_restore(&cfg.external, root);
    }
    let b = backend(cfg)?;
    let t = std::time::Instant::now();
    let mut progress = crate::ui::Progress::new();
    progress.stage(&format!(
        "restoring the {} backup from {} and checking every file",
        b.name(),
        cfg.url
    ));
    let found = restore_and_verify(b.as_ref(), root, &System);
    progress.finish();
    let found = found.with_context(|| {
        format!(
            "restore the {} backup at {} into {}",
            b.name(),
            cfg.url,
            root.display()
        )
    })?;
    say!(
        "restored and verified {} files of the {} backup {} into {} in {:.1} s: each one's {}, and that nothing else is below {} but the mount points and lost+found directories the layout made",
        found.sums.len(),
        b.name(),
        found.id,
        root.display(),
        t.elapsed().as_secs_f64(),
        rear_backup::CHECKED,
        root.display(),
    );
    Ok(0)
}

/// `cmd` with `{root}` replaced, run with `REAR_BUILD_ROOT` set.
fn external_cmd(cmd: &[String], root: &Path) -> Call {
    let r = root.to_string_lossy();
    Call::argv(cmd.iter().map(|a| a.replace("{root}", &r))).env("REAR_BUILD_ROOT", r.as_ref())
}

fn external_backup(ext: &External) -> Result<i32> {
    if ext.backup.is_empty() {
        say!("backup.method is \"external\" without backup.external.backup: the client backs up on its own schedule; nothing to do");
        return Ok(0);
    }
    let t = std::time::Instant::now();
    System
        .run(&external_cmd(&ext.backup, Path::new("/")))
        .context("the external backup client failed")?;
    say!(
        "external backup client finished in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Runs `f` (a backup); when it leaves the backup target mounted and it was
/// not before, unmounts it, which writes out all it holds: a USB disk
/// pulled right after holds the whole backup and image. A target mounted
/// before (by the operator, or a recovery) stays.
pub fn unmounting_target<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let before = rear_backup::target::mounted();
    let result = f();
    if before || !rear_backup::target::mounted() {
        return result;
    }
    let mp = rear_backup::target::MOUNT_POINT;
    let unmounted = System.run(&Call::new("umount").args([mp]));
    let value = result?;
    unmounted.with_context(|| {
        format!("unmount the backup target at {mp}: it may not be all on the disk yet; run `sync` and `umount {mp}` before removing it")
    })?;
    say!("backup target unmounted from {mp}: written out, safe to remove");
    Ok(value)
}

/// Whether recovery can restore without an operator.
pub fn restores_unattended(cfg: &Backup) -> bool {
    cfg.method != Method::External || !cfg.external.restore.is_empty()
}

fn external_restore(ext: &External, root: &Path) -> Result<i32> {
    let t = std::time::Instant::now();
    if ext.restore.is_empty() {
        use std::io::{BufRead, IsTerminal};
        if !std::io::stdin().is_terminal() {
            bail!(
                "backup.method is \"external\" without backup.external.restore, and no operator is at a terminal to restore by hand: set backup.external.restore, or run recover on the console"
            );
        }
        eprintln!(
            "Restore the backup with your backup client into {} now (on another console), then type \"restored\" and Enter here (anything else stops the recovery):",
            root.display()
        );
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("read the operator's answer")?;
        if line.trim() != "restored" {
            bail!(
                "the operator did not confirm the restore ({:?})",
                line.trim()
            );
        }
    } else {
        System
            .run(&external_cmd(&ext.restore, root))
            .context("the external backup client could not restore")?;
    }
    // Beyond what the layout made (mount points, lost+found), something
    // must have come: a restore command that did nothing fails here.
    let restored = rear_backup::sums::extras(root, &[])?;
    if restored.is_empty() {
        bail!(
            "after the external restore, {} holds only what recreating the layout made (mount points, lost+found): nothing was restored there",
            root.display()
        );
    }
    say!(
        "restored by the external client into {} in {:.1} s: {} files and directories there now; not verified (rear-build keeps no manifest of an external client's backups)",
        root.display(),
        t.elapsed().as_secs_f64(),
        restored.len()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rear_layout::Mount;

    #[test]
    fn the_tools_own_state_is_left_out() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let home = env(&[("HOME", "/root")]);
        assert_eq!(
            tool_state(Method::Borg, home),
            [
                PathBuf::from("root/.cache/borg"),
                "root/.config/borg/security".into()
            ]
        );
        assert_eq!(
            tool_state(Method::Restic, home),
            [PathBuf::from("root/.cache/restic")]
        );
        assert!(tool_state(Method::Tar, home).is_empty());
        let set = env(&[
            ("HOME", "/root"),
            ("BORG_BASE_DIR", "/srv/b"),
            ("BORG_CACHE_DIR", "/var/cache/borg"),
        ]);
        assert_eq!(
            tool_state(Method::Borg, set),
            [
                PathBuf::from("var/cache/borg"),
                "srv/b/.config/borg/security".into()
            ]
        );
    }

    #[test]
    fn a_backup_must_hold_every_file_system_the_layout_recreates() {
        let mut l = Layout::new();
        for mp in ["/", "/boot", "/srv/my data"] {
            l.mounts.push(Mount {
                device: "/dev/x".into(),
                mountpoint: mp.into(),
                fstype: "ext4".into(),
                ..Default::default()
            });
        }
        let entry = |p: &str| rear_backup::sums::Entry {
            path: p.into(),
            kind: "dir".into(),
            ..Default::default()
        };
        let all = [
            entry("."),
            entry("boot"),
            entry("etc"),
            entry("srv/my data"),
        ];
        assert!(uncovered(&l, &all).is_empty());
        assert_eq!(uncovered(&l, &all[..3]), ["/srv/my data"]);
        assert_eq!(uncovered(&l, &[]), ["/", "/boot", "/srv/my data"]);
    }

    #[test]
    fn a_restore_over_the_running_system_is_refused() {
        for root in ["/", "/.", "/usr/.."] {
            let err = restoreonly(&Backup::default(), Path::new(root))
                .unwrap_err()
                .to_string();
            assert!(err.contains("running system's root"), "{root}: {err}");
        }
    }

    #[test]
    fn mounted_file_systems_become_relative_paths() {
        let mut l = Layout::new();
        for (mp, fs) in [
            ("/", "ext4"),
            ("/boot", "ext4"),
            ("none", "swap"),
            ("/home", "xfs"),
        ] {
            l.mounts.push(Mount {
                device: "/dev/x".into(),
                mountpoint: mp.into(),
                fstype: fs.into(),
                ..Default::default()
            });
        }
        let p: Vec<String> = paths_of(&l)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(p, [".", "boot", "home"]);
    }
}
