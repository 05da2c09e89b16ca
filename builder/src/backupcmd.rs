//! mkbackuponly and restoreonly: the data half of ReaR's workflows, with
//! the backup method and target from the configuration's `[backup]`.

use crate::config::Backup;
use crate::run::Cmd;
use anyhow::{bail, Context, Result};
use rear_backup::secret::Passphrase;
use rear_backup::{borg, restic};
use rear_backup::{restore_and_verify, Backend, Call, Exec, Spec, Target};
use rear_layout::Layout;
use std::path::{Path, PathBuf};

struct Runner;

impl Exec for Runner {
    fn call(&self, c: &Call) -> Result<String> {
        let mut cmd = Cmd::new(&c.argv[0]).args(&c.argv[1..]);
        for (k, v) in &c.env {
            cmd = cmd.env(k, v);
        }
        for k in &c.unset {
            cmd = cmd.env_remove(k);
        }
        if let Some(d) = &c.dir {
            cmd = cmd.current_dir(d);
        }
        if let Some(data) = &c.stdin {
            cmd = cmd.stdin(data.clone());
        }
        cmd.run()
    }
}

/// The passphrase of a borg or restic repository: the configured file,
/// else the tool's own variables in the environment.
fn passphrase(cfg: &Backup, tool: &str, vars: &[&str]) -> Result<Passphrase> {
    let file = (!cfg.passphrase_file.is_empty()).then(|| Path::new(&cfg.passphrase_file));
    Passphrase::resolve(file, tool, vars, |v| std::env::var(v).ok())
}

/// The configured method, bound to the configured place (a USB disk
/// mounted first).
fn backend(cfg: &Backup) -> Result<Box<dyn Backend>> {
    if cfg.method == "none" {
        bail!("backup.method is \"none\": there is no backup to make or restore");
    }
    let host = crate::rescue::host_name();
    let target = Target::parse_for(&cfg.method, &cfg.url)
        .with_context(|| format!("backup.url = {:?}", cfg.url))?;
    // Asked before mounting anything: a missing passphrase is the first thing to hear of.
    let pass = match cfg.method.as_str() {
        "borg" => Some(passphrase(cfg, "borg", borg::PASS_VARS)?),
        "restic" => Some(passphrase(cfg, "restic", restic::PASS_VARS)?),
        _ => None,
    };
    let usb = matches!(target, Target::Usb { .. });
    let place = target.open(&Runner, &host)?;
    // A repository on a USB disk gets its own directory beside the tar and
    // rsync backups of the same host.
    let repo = match (&place, usb) {
        (Target::File(d), true) => Target::File(d.join(&cfg.method)),
        _ => place.clone(),
    };
    Ok(match (cfg.method.as_str(), pass) {
        ("tar", _) => match place {
            Target::File(dir) => Box::new(rear_backup::tar::Tar { dir }),
            other => bail!("tar writes to a directory, not to {other:?}"),
        },
        ("rsync", _) => Box::new(rear_backup::rsync::Rsync::at(&place)?),
        ("borg", Some(p)) => Box::new(borg::Borg::at(&repo, p, &host)?),
        ("restic", Some(p)) => Box::new(restic::Restic::at(&repo, p, &host)?),
        (other, _) => bail!("backup.method {other:?} is not supported"),
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

pub fn mkbackuponly(cfg: &Backup, layout: &Layout) -> Result<i32> {
    let paths = paths_of(layout);
    if paths.is_empty() {
        bail!(
            "the layout has no mounted file system to back up (run `rear-build savelayout` first)"
        );
    }
    let b = backend(cfg)?;
    let spec = Spec {
        root: PathBuf::from("/"),
        paths,
        exclude: cfg
            .exclude
            .iter()
            .map(|x| PathBuf::from(x.trim_start_matches('/')))
            .collect(),
    };
    let t = std::time::Instant::now();
    let made = b.backup(&spec, &Runner)?;
    eprintln!(
        "rear-build: {} backup of {} files ({:.1} MiB) to {} in {:.1} s",
        b.name(),
        made.files,
        made.bytes as f64 / (1 << 20) as f64,
        made.at,
        t.elapsed().as_secs_f64()
    );
    Ok(0)
}

pub fn restoreonly(cfg: &Backup, root: &Path) -> Result<i32> {
    let b = backend(cfg)?;
    let t = std::time::Instant::now();
    let n = restore_and_verify(b.as_ref(), root, &Runner).with_context(|| {
        format!(
            "restore the {} backup at {} into {}",
            b.name(),
            cfg.url,
            root.display()
        )
    })?;
    eprintln!(
        "rear-build: restored and verified {n} files into {} in {:.1} s",
        root.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rear_layout::Mount;

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
