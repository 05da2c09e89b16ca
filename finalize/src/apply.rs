//! Runs a [`Plan`] against the restored system at a root: the chroot with
//! the rescue system's /dev, /proc, /sys and /run bound into it, file
//! rewrites that keep mode and owner, firmware boot entries. Every command
//! goes through the caller's [`Exec`], so tests run it with a recording
//! fake and no root.

use crate::{Action, Plan, Step};
use anyhow::{bail, Context, Result};
use rear_exec::{Call, Exec};
use rear_layout::apply::{check_writes, Resolver};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Programs of the restored system come first inside the chroot.
const CHROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The API file systems bound into the root, unmounted (innermost first)
/// when dropped, also when a step failed.
struct Binds<'a> {
    exec: &'a dyn Exec,
    dirs: Vec<PathBuf>,
}

impl<'a> Binds<'a> {
    fn mount(root: &Path, exec: &'a dyn Exec) -> Result<Binds<'a>> {
        let mut b = Binds {
            exec,
            dirs: Vec::new(),
        };
        // /sys recursively: efivarfs lives below it and grub/efibootmgr need it.
        for (src, recursive) in [
            ("/dev", true),
            ("/proc", false),
            ("/sys", true),
            ("/run", false),
        ] {
            let dst = root.join(src.trim_start_matches('/'));
            std::fs::create_dir_all(&dst).with_context(|| format!("create {}", dst.display()))?;
            exec.run(
                &Call::new("mount")
                    .arg(if recursive { "--rbind" } else { "--bind" })
                    .arg(src)
                    .arg(&dst),
            )?;
            b.dirs.push(dst);
        }
        Ok(b)
    }
}

impl Drop for Binds<'_> {
    fn drop(&mut self) {
        for d in self.dirs.iter().rev() {
            let umount = Call::new("umount").arg("-R");
            if self.exec.run(&umount.clone().arg(d)).is_err() {
                let _ = self.exec.run(&umount.arg("-l").arg(d));
            }
        }
    }
}

/// Runs `plan` on the restored system at `root`; `say` gets the plan's
/// notes and a line per step. First, before anything runs, every device a
/// step writes (the disk grub-install writes to) is resolved through sysfs
/// by `r` and must be on the recovery's `targets` (the disks the layout
/// was recreated on), as apply checks the layout's steps. A failed
/// required step stops it with an error naming the step; a failed
/// optional one is logged and skipped.
pub fn apply(
    plan: &Plan,
    root: &Path,
    exec: &dyn Exec,
    targets: &BTreeSet<String>,
    r: &Resolver,
    say: &mut dyn FnMut(&str),
) -> Result<()> {
    for s in &plan.steps {
        check_writes(&s.what, &s.writes, targets, &|_| false, r)
            .context("the bootloader would be installed outside the disk mapping; nothing of the finalization ran")?;
    }
    for n in &plan.notes {
        say(n);
    }
    let chroot = plan
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::Chroot { .. }));
    let _binds = if chroot {
        Some(Binds::mount(root, exec)?)
    } else {
        None
    };
    for s in &plan.steps {
        say(&format!("finalize: {}", s.what));
        match run_step(s, root, exec) {
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

fn run_step(s: &Step, root: &Path, exec: &dyn Exec) -> Result<()> {
    match &s.action {
        Action::Rewrite { path, text } => rewrite(&crate::under(root, path), text),
        Action::Chroot { argv } => {
            let out = exec.run(
                &Call::new("chroot")
                    .arg(root)
                    .args(argv)
                    .env("PATH", CHROOT_PATH)
                    .env("LC_ALL", "C"),
            )?;
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
            let now = exec.run(&Call::new("efibootmgr"))?;
            for e in rear_layout::capture::parse::parse_efibootmgr(&now) {
                if &e.label == label {
                    exec.run(&Call::new("efibootmgr").args([
                        "--quiet",
                        "--bootnum",
                        &e.number,
                        "--delete-bootnum",
                    ]))?;
                }
            }
            exec.run(
                &Call::new("efibootmgr")
                    .args(["--quiet", "--create", "--disk", disk, "--part"])
                    .arg(part.to_string())
                    .args(["--label", label, "--loader", loader]),
            )?;
            Ok(())
        }
        Action::Copy { from, to } => {
            let (from, to) = (crate::under(root, from), crate::under(root, to));
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

    /// [`apply`] of a plan whose steps name no device.
    fn run(plan: &Plan, root: &Path, exec: &dyn Exec, say: &mut dyn FnMut(&str)) -> Result<()> {
        apply(
            plan,
            root,
            exec,
            &BTreeSet::new(),
            &Resolver::default(),
            say,
        )
    }

    /// A fake /sys and /dev below `dir`: disks vda (partition vda1) and vdb.
    fn two_disks(dir: &Path) -> (Resolver, String) {
        use std::os::unix::fs::symlink;
        let sys = dir.join("sys");
        std::fs::create_dir_all(sys.join("devices/pci/vda/vda1")).unwrap();
        std::fs::create_dir_all(sys.join("devices/pci/vdb")).unwrap();
        std::fs::write(sys.join("devices/pci/vda/vda1/partition"), "1").unwrap();
        std::fs::create_dir_all(sys.join("class/block")).unwrap();
        for (n, p) in [
            ("vda", "devices/pci/vda"),
            ("vda1", "devices/pci/vda/vda1"),
            ("vdb", "devices/pci/vdb"),
        ] {
            symlink(sys.join(p), sys.join("class/block").join(n)).unwrap();
        }
        let dev = dir.join("dev");
        std::fs::create_dir_all(&dev).unwrap();
        for n in ["vda", "vda1", "vdb"] {
            std::fs::write(dev.join(n), "").unwrap();
        }
        (Resolver { sys }, dev.to_string_lossy().to_string())
    }

    /// grub-install onto a disk that is not a target of the recovery (a
    /// disk that merely has the old name here) is refused before anything
    /// runs, naming the disk; onto a target (or its partition) it runs.
    #[test]
    fn the_bootloader_goes_onto_targets_only_checked_through_sysfs() {
        let d = tempfile::tempdir().unwrap();
        let (r, dev) = two_disks(d.path());
        let root = d.path().join("root");
        let grub = |disk: &str| Plan {
            steps: vec![Step {
                what: format!("install GRUB (BIOS) on {disk}"),
                action: Action::Chroot {
                    argv: vec!["grub-install".into(), disk.into()],
                },
                required: true,
                writes: vec![disk.into()],
            }],
            notes: vec![],
        };
        let targets = BTreeSet::from([format!("{dev}/vda")]);
        let fake = rear_exec::Fake::new();
        let err = apply(
            &grub(&format!("{dev}/vdb")),
            &root,
            &fake,
            &targets,
            &r,
            &mut |_| {},
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("outside the disk mapping")
                && msg.contains(&format!("{dev}/vdb is on /dev/vdb, which is not a target")),
            "{msg}"
        );
        assert!(fake.calls().is_empty(), "nothing ran, nothing was bound");
        // A device that is not there at all is refused too.
        let err = apply(
            &grub(&format!("{dev}/vdz")),
            &root,
            &fake,
            &targets,
            &r,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
        assert!(fake.calls().is_empty());
        for ok in ["vda", "vda1"] {
            let fake = rear_exec::Fake::new();
            apply(
                &grub(&format!("{dev}/{ok}")),
                &root,
                &fake,
                &targets,
                &r,
                &mut |_| {},
            )
            .unwrap();
            assert!(fake
                .lines()
                .iter()
                .any(|l| l.ends_with(&format!("grub-install {dev}/{ok}"))));
        }
    }

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
                    writes: vec![],
                },
                Step {
                    what: "never reached".into(),
                    action: Action::Rewrite {
                        path: "x".into(),
                        text: "y".into(),
                    },
                    required: true,
                    writes: vec![],
                },
            ],
            notes: vec![],
        };
        let fake = rear_exec::Fake::new();
        let err = format!(
            "{:#}",
            run(&plan, d.path(), &fake, &mut |_| {}).unwrap_err()
        );
        assert!(
            err.contains("finalize step \"copy the loader\" failed"),
            "{err}"
        );
        assert!(!d.path().join("x").exists());
    }

    fn chroot_and_entry() -> Plan {
        Plan {
            steps: vec![
                Step {
                    what: "install GRUB".into(),
                    action: Action::Chroot {
                        argv: vec!["grub-install".into(), "/dev/vda".into()],
                    },
                    required: true,
                    writes: vec![],
                },
                Step {
                    what: "boot entry".into(),
                    action: Action::EfiEntry {
                        disk: "/dev/vda".into(),
                        part: 1,
                        label: "debian".into(),
                        loader: "\\EFI\\debian\\shimx64.efi".into(),
                    },
                    required: false,
                    writes: vec![],
                },
            ],
            notes: vec!["a note".into()],
        }
    }

    const EFIBOOTMGR: &str = "BootCurrent: 0001\nBootOrder: 0003,0001\nBoot0001* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)\nBoot0003* debian\tHD(1,GPT,0b3e,0x800,0x100000)/File(\\EFI\\debian\\shimx64.efi)\n";

    #[test]
    fn chroot_steps_run_inside_bound_api_file_systems_which_are_unbound_after() {
        let d = tempfile::tempdir().unwrap();
        let fake = rear_exec::Fake::answering(|c| {
            Ok(if c.argv_lossy() == ["efibootmgr"] {
                rear_exec::Output::ok(EFIBOOTMGR)
            } else {
                rear_exec::Output::default()
            })
        });
        let mut said = Vec::new();
        run(&chroot_and_entry(), d.path(), &fake, &mut |l| {
            said.push(l.to_string())
        })
        .unwrap();
        let r = d.path().display().to_string();
        assert_eq!(
            fake.lines(),
            [
                format!("mount --rbind /dev {r}/dev"),
                format!("mount --bind /proc {r}/proc"),
                format!("mount --rbind /sys {r}/sys"),
                format!("mount --bind /run {r}/run"),
                format!("chroot {r} grub-install /dev/vda"),
                "efibootmgr".into(),
                "efibootmgr --quiet --bootnum 0003 --delete-bootnum".into(),
                "efibootmgr --quiet --create --disk /dev/vda --part 1 --label debian --loader \\EFI\\debian\\shimx64.efi".into(),
                format!("umount -R {r}/run"),
                format!("umount -R {r}/sys"),
                format!("umount -R {r}/proc"),
                format!("umount -R {r}/dev"),
            ]
        );
        let chroot = &fake.calls()[4];
        assert_eq!(chroot.env_value("PATH").unwrap(), CHROOT_PATH);
        assert_eq!(
            said,
            ["a note", "finalize: install GRUB", "finalize: boot entry"]
        );
    }

    #[test]
    fn a_failed_optional_step_is_skipped_and_a_failed_chroot_still_unbinds() {
        let d = tempfile::tempdir().unwrap();
        // efibootmgr fails (no EFI variables): the entry is optional.
        let fake = rear_exec::Fake::answering(|c| {
            Ok(match c.program().to_str() {
                Some("efibootmgr") => rear_exec::Output::fail(2, "EFI variables are not supported"),
                _ => rear_exec::Output::default(),
            })
        });
        run(&chroot_and_entry(), d.path(), &fake, &mut |_| {}).unwrap();
        // grub-install fails: the error names the step and the binds go.
        let fake = rear_exec::Fake::answering(|c| {
            Ok(match c.program().to_str() {
                Some("chroot") => rear_exec::Output::fail(1, "grub-install: error: disk not found"),
                _ => rear_exec::Output::default(),
            })
        });
        let err = format!(
            "{:#}",
            run(&chroot_and_entry(), d.path(), &fake, &mut |_| {}).unwrap_err()
        );
        assert!(
            err.contains("finalize step \"install GRUB\" failed") && err.contains("disk not found"),
            "{err}"
        );
        let lines = fake.lines();
        assert!(
            !lines.iter().any(|l| l.starts_with("efibootmgr")),
            "{lines:?}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("umount -R")).count(),
            4
        );
    }
}
