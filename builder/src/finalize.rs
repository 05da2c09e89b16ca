//! Runs a `rear_finalize::Plan` against the restored system at a root: the
//! chroot with the rescue system's /dev, /proc, /sys and /run bound into it,
//! file rewrites that keep mode and owner, firmware boot entries.

use crate::run::Cmd;
use crate::say;
use anyhow::{bail, Context, Result};
use rear_finalize::{Action, Plan, Step};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Programs of the restored system come first inside the chroot.
const CHROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The API file systems bound into the root, unmounted (innermost first)
/// when dropped, also when a step failed.
struct Binds(Vec<PathBuf>);

impl Binds {
    fn mount(root: &Path) -> Result<Binds> {
        let mut b = Binds(Vec::new());
        // /sys recursively: efivarfs lives below it and grub/efibootmgr need it.
        for (src, recursive) in [
            ("/dev", true),
            ("/proc", false),
            ("/sys", true),
            ("/run", false),
        ] {
            let dst = root.join(src.trim_start_matches('/'));
            std::fs::create_dir_all(&dst).with_context(|| format!("create {}", dst.display()))?;
            Cmd::new("mount")
                .arg(if recursive { "--rbind" } else { "--bind" })
                .arg(src)
                .arg(&dst)
                .run()?;
            b.0.push(dst);
        }
        Ok(b)
    }
}

impl Drop for Binds {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            if Cmd::new("umount").arg("-R").arg(d).run().is_err() {
                let _ = Cmd::new("umount").arg("-R").arg("-l").arg(d).run();
            }
        }
    }
}

pub fn run(plan: &Plan, root: &Path) -> Result<()> {
    for n in &plan.notes {
        say!("{n}");
    }
    let chroot = plan
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::Chroot { .. }));
    let _binds = if chroot {
        Some(Binds::mount(root)?)
    } else {
        None
    };
    for s in &plan.steps {
        say!("finalize: {}", s.what);
        match exec(s, root) {
            Ok(()) => {}
            Err(e) if !s.required => {
                log::warn!(
                    "{}: {e:#} (not needed: the fallback boot path is in place)",
                    s.what
                )
            }
            Err(e) => {
                return Err(e).with_context(|| format!("finalize step \"{}\" failed", s.what))
            }
        }
    }
    Ok(())
}

fn exec(s: &Step, root: &Path) -> Result<()> {
    match &s.action {
        Action::Rewrite { path, text } => rewrite(&rear_finalize::under(root, path), text),
        Action::Chroot { argv } => {
            let out = Cmd::new("chroot")
                .arg(root)
                .args(argv)
                .env("PATH", CHROOT_PATH)
                .env("LC_ALL", "C")
                .run()?;
            if !out.trim().is_empty() {
                log::debug!("{}", out.trim());
            }
            Ok(())
        }
        Action::EfiEntry {
            disk,
            part,
            label,
            loader,
        } => {
            let now = Cmd::new("efibootmgr").run()?;
            for e in rear_layout::capture::parse::parse_efibootmgr(&now) {
                if &e.label == label {
                    Cmd::new("efibootmgr")
                        .args(["--quiet", "--bootnum", &e.number, "--delete-bootnum"])
                        .run()?;
                }
            }
            Cmd::new("efibootmgr")
                .args(["--quiet", "--create", "--disk", disk, "--part"])
                .arg(part.to_string())
                .args(["--label", label, "--loader", loader])
                .run()?;
            Ok(())
        }
        Action::Copy { from, to } => {
            let (from, to) = (
                rear_finalize::under(root, from),
                rear_finalize::under(root, to),
            );
            if let Some(d) = to.parent() {
                std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
            }
            std::fs::copy(&from, &to)
                .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
            Ok(())
        }
    }
}

/// Replaces `path` with `text` through a temporary file, keeping its mode and owner.
fn rewrite(path: &Path, text: &str) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("stat {}", path.display()))?;
    let Some(name) = path.file_name() else {
        bail!("{}: not a file", path.display());
    };
    let tmp = path.with_file_name(format!(".{}.rear-build", name.to_string_lossy()));
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, meta.permissions())
        .with_context(|| format!("chmod {}", tmp.display()))?;
    std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid()))
        .with_context(|| format!("chown {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename {}", tmp.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn rewrite_keeps_the_mode_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("crypttab");
        std::fs::write(&f, "old\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        rewrite(&f, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new\n");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_required_step_names_itself_and_stops() {
        let d = tempfile::tempdir().unwrap();
        let plan = Plan {
            steps: vec![
                Step {
                    what: "copy the loader".into(),
                    action: Action::Copy {
                        from: "nope".into(),
                        to: "EFI/BOOT/BOOTX64.EFI".into(),
                    },
                    required: true,
                },
                Step {
                    what: "never reached".into(),
                    action: Action::Rewrite {
                        path: "x".into(),
                        text: "y".into(),
                    },
                    required: true,
                },
            ],
            notes: vec![],
        };
        let err = format!("{:#}", run(&plan, d.path()).unwrap_err());
        assert!(
            err.contains("finalize step \"copy the loader\" failed"),
            "{err}"
        );
        assert!(!d.path().join("x").exists());
    }
}
