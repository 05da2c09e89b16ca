//! Finalizing a recovery: what the restored system needs before it boots on
//! its (possibly new) disks. Device names in its configuration follow the
//! recreation's renames, its initramfs is rebuilt with its own tool when the
//! disks changed, and the bootloader it had is installed again.
//!
//! [`plan`] is pure: it reads the layout, the renames and the restored tree
//! (through [`Tree`]) and returns steps; the caller runs them (chroot, efivars).

use rear_layout::{Firmware, Label, Layout};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// GPT type of GRUB's BIOS boot partition.
use rear_layout::gpt::BIOS_BOOT as BIOS_GRUB_TYPE;

/// The restored system, read-only, by paths relative to its root.
pub trait Tree {
    /// The path exists (as a file, directory or symlink; links not followed,
    /// as absolute links point into the restored root, not ours).
    fn exists(&self, rel: &str) -> bool;
    fn read(&self, rel: &str) -> Option<String>;
    /// Names in a directory, sorted; empty when it is missing.
    fn list(&self, rel_dir: &str) -> Vec<String>;
    /// Both are files with the same bytes.
    fn same(&self, a: &str, b: &str) -> bool;
}

/// A restored root on disk.
pub struct Dir(pub PathBuf);

impl Tree for Dir {
    fn exists(&self, rel: &str) -> bool {
        self.0.join(rel).symlink_metadata().is_ok()
    }
    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(rel)).ok()
    }
    fn same(&self, a: &str, b: &str) -> bool {
        match (std::fs::read(self.0.join(a)), std::fs::read(self.0.join(b))) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
    fn list(&self, rel_dir: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.0.join(rel_dir))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Initramfs {
    /// Rebuild when a device was renamed (the disks changed).
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Replace the file at `path` (relative to the restored root) with `text`.
    Rewrite { path: String, text: String },
    /// Run inside the restored system (chroot).
    Chroot { argv: Vec<String> },
    /// A firmware boot entry for `loader` (an ESP path with backslashes) on
    /// partition `part` of `disk`, replacing entries with the same label.
    EfiEntry {
        disk: String,
        part: u32,
        label: String,
        loader: String,
    },
    /// Copy `from` over `to` (both relative to the restored root).
    Copy { from: String, to: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub what: String,
    pub action: Action,
    /// A failure stops the recovery; otherwise it is reported and skipped
    /// (only for a boot entry when a fallback path boots the system too).
    pub required: bool,
    /// The devices it writes or points firmware at (the disk grub-install
    /// writes its boot code to, the disk of a boot entry): before anything
    /// runs, [`apply`] checks through sysfs that each is on a target disk
    /// of the recovery.
    pub writes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("cannot tell where GRUB goes: the layout names no disk it was installed on, and no recreated disk has a BIOS boot partition or an msdos label; install a bootloader by hand (chroot {root} grub-install DISK) or run with --no-bootloader")]
    NoGrubDisk { root: String },
    #[error("the system booted by BIOS, but neither GRUB nor its disks are known (boot/grub/i386-pc is missing in the restored system, and the layout names no GRUB disk): only GRUB is supported; install the bootloader by hand or run with --no-bootloader")]
    UnknownBiosLoader,
    #[error("the restored system has no {path}, which {why}")]
    Missing { path: String, why: String },
    #[error("the system booted by UEFI, but the layout has no EFI system partition{0}")]
    NoEsp(String),
    #[error("refusing to {what} on {device}: it is no disk of the recreated layout, so no target of the disk mapping, and what it holds is not this recovery's; install the bootloader by hand (chroot {root} ...) or run with --no-bootloader")]
    NotMapped {
        what: String,
        device: String,
        root: String,
    },
}

pub struct Options {
    pub initramfs: Initramfs,
    pub bootloader: bool,
    /// Where the restored system is mounted (for messages only).
    pub root: String,
}

/// Config files that name block devices, fixed up when devices were renamed.
const DEVICE_FILES: &[&str] = &[
    "etc/fstab",
    "etc/crypttab",
    "etc/mdadm/mdadm.conf",
    "etc/mdadm.conf",
    "etc/default/grub",
    "etc/initramfs-tools/conf.d/resume",
    "etc/kernel/cmdline",
];

pub fn plan(
    layout: &Layout,
    renames: &BTreeMap<String, String>,
    tree: &dyn Tree,
    opts: &Options,
) -> Result<Plan, Error> {
    let mut p = Plan::default();
    let renamed = renames.iter().any(|(o, n)| o != n);

    // Device names: only files that exist and actually change.
    let mut files: Vec<String> = DEVICE_FILES.iter().map(|s| s.to_string()).collect();
    for dir in loader_entry_dirs(layout) {
        for name in tree.list(&dir) {
            if name.ends_with(".conf") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    for f in files {
        if let Some(new) = tree.read(&f).and_then(|t| rename_devices(&t, renames)) {
            p.steps.push(Step {
                what: format!("rename devices in /{f}"),
                action: Action::Rewrite { path: f, text: new },
                required: true,
                writes: Vec::new(),
            });
        }
    }

    let rebuild = match opts.initramfs {
        Initramfs::Always => true,
        Initramfs::Never => false,
        Initramfs::Auto => renamed,
    };
    if rebuild {
        match initramfs_tool(tree) {
            Some(argv) => p.steps.push(Step {
                what: format!("rebuild the initramfs ({})", argv[0]),
                action: Action::Chroot { argv },
                required: true,
                writes: Vec::new(),
            }),
            None => p.notes.push(
                "no initramfs tool (update-initramfs, dracut, mkinitcpio) in the restored system: its initramfs is kept as restored".into(),
            ),
        }
    } else if opts.initramfs == Initramfs::Auto {
        p.notes.push("no device was renamed: the restored initramfs is kept (--initramfs always rebuilds it)".into());
    }

    let system = layout.mounts.iter().any(|m| m.mountpoint == "/");
    if !system {
        p.notes.push(
            "the layout has no root file system (data only): no bootloader is installed".into(),
        );
    } else if opts.bootloader {
        match layout.boot.firmware {
            Firmware::Bios => bios(layout, renames, tree, opts, &mut p)?,
            Firmware::Uefi => uefi(layout, renames, tree, &opts.root, &mut p)?,
        }
    } else {
        p.notes
            .push("--no-bootloader: no bootloader is installed".into());
    }
    Ok(p)
}

/// `/dev/...` names in `text` replaced by their renames, in one pass (so a
/// swap of two names cannot chain); `None` when nothing changes.
pub fn rename_devices(text: &str, renames: &BTreeMap<String, String>) -> Option<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || "_./:+-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find("/dev/") {
        // Part of a longer path (e.g. /mnt/dev/sda): leave it.
        let prev = rest[..i].chars().last().or_else(|| out.chars().last());
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail[5..]
            .find(|c: char| !is_name(c))
            .map_or(tail.len(), |j| j + 5);
        let token = &tail[..end];
        match renames.get(token) {
            Some(new) if new != token && !prev.is_some_and(is_name) => {
                out.push_str(new);
                changed = true;
            }
            _ => out.push_str(token),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

fn initramfs_tool(tree: &dyn Tree) -> Option<Vec<String>> {
    let argv = |a: &[&str]| Some(a.iter().map(|s| s.to_string()).collect());
    if tree.exists("usr/sbin/update-initramfs") {
        argv(&["update-initramfs", "-u", "-k", "all"])
    } else if tree.exists("usr/bin/dracut") || tree.exists("usr/sbin/dracut") {
        argv(&["dracut", "--force", "--regenerate-all"])
    } else if tree.exists("usr/bin/mkinitcpio") {
        argv(&["mkinitcpio", "-P"])
    } else {
        None
    }
}

/// GRUB's programs in the restored system: (grub-install, grub-mkconfig, grub.cfg).
fn grub_tools(tree: &dyn Tree) -> Result<(&'static str, &'static str, &'static str), Error> {
    for (install, mkconfig, cfg) in [
        ("grub-install", "grub-mkconfig", "/boot/grub/grub.cfg"),
        ("grub2-install", "grub2-mkconfig", "/boot/grub2/grub.cfg"),
    ] {
        if ["usr/sbin", "usr/bin"]
            .iter()
            .any(|d| tree.exists(&format!("{d}/{install}")))
        {
            return Ok((install, mkconfig, cfg));
        }
    }
    Err(Error::Missing {
        path: "grub-install (or grub2-install)".into(),
        why: "installing GRUB needs".into(),
    })
}

fn grub_platform(tree: &dyn Tree, platform: &str, package: &str) -> Result<(), Error> {
    let dirs = [
        format!("usr/lib/grub/{platform}"),
        format!("usr/lib/grub2/{platform}"),
    ];
    if dirs.iter().any(|d| tree.exists(d)) {
        Ok(())
    } else {
        Err(Error::Missing {
            path: format!("/{}", dirs[0]),
            why: format!("grub-install --target={platform} needs (package {package})"),
        })
    }
}

fn chroot(what: String, argv: &[&str]) -> Step {
    Step {
        what,
        action: Action::Chroot {
            argv: argv.iter().map(|s| s.to_string()).collect(),
        },
        required: true,
        writes: Vec::new(),
    }
}

/// The recreated name of `old`, a disk (or partition) of the layout: the
/// bootloader goes only onto the recovery's targets, never onto a disk
/// that merely has the old name here.
fn mapped(
    renames: &BTreeMap<String, String>,
    old: &str,
    what: &str,
    root: &str,
) -> Result<String, Error> {
    renames.get(old).cloned().ok_or_else(|| Error::NotMapped {
        what: what.into(),
        device: old.into(),
        root: root.into(),
    })
}

fn bios(
    layout: &Layout,
    renames: &BTreeMap<String, String>,
    tree: &dyn Tree,
    opts: &Options,
    p: &mut Plan,
) -> Result<(), Error> {
    let had_grub = !layout.boot.grub_disks.is_empty()
        || tree.exists("boot/grub/i386-pc")
        || tree.exists("boot/grub2/i386-pc");
    if !had_grub {
        return Err(Error::UnknownBiosLoader);
    }
    let (install, mkconfig, cfg) = grub_tools(tree)?;
    grub_platform(tree, "i386-pc", "grub-pc-bin")?;
    let mut disks: Vec<String> = layout
        .boot
        .grub_disks
        .iter()
        .map(|d| mapped(renames, d, "install GRUB", &opts.root))
        .collect::<Result<_, _>>()?;
    if disks.is_empty() {
        // GRUB's files are there but its disks were not seen: every
        // recreated disk GRUB can live on (what a BIOS system boots from).
        disks = layout
            .disks
            .iter()
            .filter(|d| {
                d.label == Some(Label::Msdos)
                    || d.partitions.iter().any(|p| p.type_ == BIOS_GRUB_TYPE)
            })
            .filter_map(|d| renames.get(&d.device).cloned())
            .collect();
        if disks.is_empty() {
            return Err(Error::NoGrubDisk {
                root: opts.root.clone(),
            });
        }
        p.notes.push(format!(
            "the layout names no GRUB disk: installing GRUB on {}",
            disks.join(", ")
        ));
    }
    for d in &disks {
        let mut step = chroot(
            format!("install GRUB (BIOS) on {d}"),
            &[install, "--target=i386-pc", d],
        );
        step.writes = vec![d.clone()];
        p.steps.push(step);
    }
    p.steps
        .push(chroot(format!("write {cfg}"), &[mkconfig, "-o", cfg]));
    Ok(())
}

/// Where systemd-boot's and the kernel's loader entries may live.
fn loader_entry_dirs(layout: &Layout) -> Vec<String> {
    let mut v = vec!["boot/loader/entries".to_string()];
    if let Some(mp) = esp_mount(layout) {
        let mp = mp.trim_matches('/');
        if !mp.is_empty() && mp != "boot" {
            v.push(format!("{mp}/loader/entries"));
        }
    }
    v
}

fn esp_mount(layout: &Layout) -> Option<String> {
    let esp = layout.boot.esp.as_ref()?;
    layout
        .mounts
        .iter()
        .find(|m| &m.device == esp)
        .map(|m| m.mountpoint.clone())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EfiLoader {
    Shim,
    Grub,
    SystemdBoot,
}

fn uefi(
    layout: &Layout,
    renames: &BTreeMap<String, String>,
    tree: &dyn Tree,
    root: &str,
    p: &mut Plan,
) -> Result<(), Error> {
    let esp = layout.boot.esp.clone().ok_or(Error::NoEsp(String::new()))?;
    let mp = esp_mount(layout)
        .ok_or_else(|| Error::NoEsp(format!(" mounted ({esp} is not mounted in the layout)")))?;
    let (disk, part) = layout
        .disks
        .iter()
        .find_map(|d| {
            d.partitions
                .iter()
                .find(|p| p.device == esp)
                .map(|p| (d.device.clone(), p.clone()))
        })
        .ok_or_else(|| Error::NoEsp(format!(" on a partition ({esp} is none)")))?;
    let new_disk = mapped(renames, &disk, "create a UEFI boot entry", root)?;
    let rel_mp = mp.trim_matches('/').to_string();
    let in_esp = |p: &str| {
        if rel_mp.is_empty() {
            p.to_string()
        } else {
            format!("{rel_mp}/{p}")
        }
    };

    // The loader it booted: the firmware entry on this ESP, else what the
    // ESP holds.
    let entry = layout
        .boot
        .efi_entries
        .iter()
        .filter(|e| e.path.is_some())
        .filter(|e| part.uuid.is_none() || e.partuuid == part.uuid)
        .min_by_key(|e| kind_of(e.path.as_deref().unwrap_or("")).map_or(9, |k| k as u8));
    let (label, loader) = match entry {
        Some(e) => (e.label.clone(), e.path.clone().unwrap()),
        None => {
            let found = tree
                .list(&in_esp("EFI"))
                .into_iter()
                .filter(|d| !d.eq_ignore_ascii_case("BOOT"))
                .find_map(|d| {
                    ["shimx64.efi", "grubx64.efi", "systemd-bootx64.efi"]
                        .iter()
                        .find(|f| tree.exists(&in_esp(&format!("EFI/{d}/{f}"))))
                        .map(|f| (d.clone(), format!("\\EFI\\{d}\\{f}")))
                });
            let (id, path) = found.ok_or(Error::Missing {
                path: format!("{mp}/EFI/*/{{shim,grub,systemd-boot}}x64.efi"),
                why: "tells which UEFI bootloader to install (and the layout has no boot entry)"
                    .into(),
            })?;
            p.notes.push(format!(
                "the layout has no UEFI boot entry: using {path} found on the ESP"
            ));
            (id, path)
        }
    };
    let kind = kind_of(&loader).unwrap_or(EfiLoader::Grub);
    let esp_path = |l: &str| l.trim_start_matches('\\').replace('\\', "/");
    let loader_rel = esp_path(&loader);
    let dir = loader_rel
        .rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default();
    let id = dir.rsplit('/').next().unwrap_or("debian").to_string();

    match kind {
        EfiLoader::SystemdBoot => {
            if !tree.exists("usr/bin/bootctl") {
                return Err(Error::Missing {
                    path: "/usr/bin/bootctl".into(),
                    why: "installing systemd-boot needs".into(),
                });
            }
            p.steps.push(chroot(
                "install systemd-boot".into(),
                &[
                    "bootctl",
                    "install",
                    &format!("--esp-path={mp}"),
                    "--no-variables",
                ],
            ));
        }
        EfiLoader::Shim | EfiLoader::Grub => {
            let (install, mkconfig, cfg) = grub_tools(tree)?;
            grub_platform(tree, "x86_64-efi", "grub-efi-amd64-bin")?;
            p.steps.push(chroot(
                format!("install GRUB (UEFI) into {mp}/EFI/{id}"),
                &[
                    install,
                    "--target=x86_64-efi",
                    &format!("--efi-directory={mp}"),
                    &format!("--bootloader-id={id}"),
                    "--no-nvram",
                ],
            ));
            p.steps
                .push(chroot(format!("write {cfg}"), &[mkconfig, "-o", cfg]));
        }
    }
    // The removable-media path boots the disk even where the firmware has
    // no entry for it (a new machine, or NVRAM that was reset).
    let fallback = in_esp("EFI/BOOT/BOOTX64.EFI");
    p.steps.push(Step {
        what: format!("create the UEFI boot entry {label:?} for {loader}"),
        writes: vec![new_disk.clone()],
        action: Action::EfiEntry {
            disk: new_disk,
            part: part.number,
            label,
            loader: loader.clone(),
        },
        required: false,
    });
    if kind != EfiLoader::SystemdBoot {
        let mut copies = vec![(in_esp(&loader_rel), fallback)];
        if kind == EfiLoader::Shim {
            // shim looks for grubx64.efi next to itself.
            copies.push((
                in_esp(&format!("{dir}/grubx64.efi")),
                in_esp("EFI/BOOT/grubx64.efi"),
            ));
        }
        for (from, to) in copies {
            // A restored copy of the old loader would boot the old one,
            // which looks for the old disks (GRUB's embedded lvmid/UUID):
            // renewed. Anything else there is another system's, and kept.
            if tree.exists(&to) && !tree.same(&from, &to) {
                p.notes
                    .push(format!("/{to} is not a copy of /{from}: left as restored"));
                continue;
            }
            p.steps.push(Step {
                what: format!("copy /{from} to the fallback path /{to}"),
                action: Action::Copy { from, to },
                required: true,
                writes: Vec::new(),
            });
        }
    }
    Ok(())
}

fn kind_of(loader: &str) -> Option<EfiLoader> {
    let l = loader.to_ascii_lowercase();
    if l.contains("shim") {
        Some(EfiLoader::Shim)
    } else if l.contains("grub") {
        Some(EfiLoader::Grub)
    } else if l.contains("systemd-boot") {
        Some(EfiLoader::SystemdBoot)
    } else {
        None
    }
}

/// The file a relative tree path names below `root`.
pub fn under(root: &Path, rel: &str) -> PathBuf {
    root.join(rel.trim_start_matches('/'))
}

mod apply;
pub use apply::apply;

#[cfg(test)]
mod tests;
