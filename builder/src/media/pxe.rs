//! The network boot tree (`pxe/`), to copy into a TFTP or HTTP root:
//!
//! - `rear-HOST/vmlinuz`, `rear-HOST/initrd.img`;
//! - `rear-HOST.ipxe`: an iPXE script with the menu (iPXE, also what
//!   qemu and many NICs run), paths relative to the script;
//! - `pxelinux.cfg/01-MAC`: PXELINUX's menu for each of the host's NICs
//!   (with `pxelinux.0` and `ldlinux.c32` copied in when the host has
//!   Debian's `pxelinux` and `syslinux-common`);
//! - `grub/grub.cfg-01-MAC`: GRUB's (network-booted GRUB looks for it in
//!   its prefix by the MAC it booted from).
//!
//! Every file is the same for the same inputs; nothing in it depends on
//! the server's address.
//!
//! [`install`] copies the tree into a server's root (`pxe.root`) shared
//! with other hosts: file by file, each renamed into place, nothing but
//! the tree's own files touched.

use super::{grub, write_text as write, Input, Medium, Menu, Shared};
use anyhow::{bail, Context, Result};
use rear_exec::Exec;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct Pxe;

/// Debian's PXELINUX, copied in when the host has it.
const PXELINUX: &[(&str, &str)] = &[
    ("/usr/lib/PXELINUX/pxelinux.0", "pxelinux.0"),
    ("/usr/lib/syslinux/modules/bios/ldlinux.c32", "ldlinux.c32"),
];

/// `aa:bb:cc:dd:ee:ff` as PXELINUX and GRUB name a file for it:
/// `01-aa-bb-cc-dd-ee-ff` (01: Ethernet).
pub fn mac_file(mac: &str) -> String {
    format!("01-{}", mac.to_ascii_lowercase().replace(':', "-"))
}

/// The kernel arguments of the menu's entries, as the ISO's: (name,
/// title, arguments).
fn entries(m: &Menu) -> Vec<(&'static str, String, String)> {
    let join = |parts: &[&str]| {
        parts
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (screen_last, serial_last) = grub::console_orders(&m.consoles);
    vec![
        (
            "shell",
            format!("rear-build rescue shell ({})", m.host),
            join(&[&screen_last, &m.cmdline]),
        ),
        (
            "serial",
            format!("rear-build rescue shell on serial ttyS0 ({})", m.host),
            join(&[&serial_last, &m.cmdline]),
        ),
        (
            "recover",
            format!(
                "rear-build unattended recovery of {} (rewrites its disks)",
                m.host
            ),
            join(&[&serial_last, &m.cmdline, "rear.auto=recover"]),
        ),
    ]
}

/// The iPXE script: a menu (the rescue shell after the timeout), or the
/// shell straight away where iPXE has no menus.
pub fn ipxe(m: &Menu, dir: &str) -> String {
    let mut out = format!(
        "#!ipxe\nmenu rear-build rescue of {} || goto shell\n",
        m.host
    );
    for (name, title, _) in entries(m) {
        out += &format!("item {name} {title}\n");
    }
    out += &format!(
        "choose --default shell --timeout {} target || goto shell\ngoto ${{target}}\n",
        m.timeout * 1000
    );
    for (name, title, args) in entries(m) {
        out += &format!(
            ":{name}\necho Loading {title} ...\nkernel {dir}/vmlinuz initrd=initrd.img {args}\ninitrd {dir}/initrd.img\nboot\n"
        );
    }
    out
}

/// PXELINUX's configuration (paths relative to the TFTP root).
pub fn pxelinux(m: &Menu, dir: &str) -> String {
    let mut out = format!(
        "SERIAL 0 115200\nDEFAULT shell\nPROMPT 1\nTIMEOUT {}\nSAY rear-build rescue of {}: shell (default), serial, recover, local\n",
        m.timeout * 10,
        m.host
    );
    for (name, title, args) in entries(m) {
        out += &format!(
            "LABEL {name}\n  MENU LABEL {title}\n  KERNEL {dir}/vmlinuz\n  APPEND initrd={dir}/initrd.img {args}\n"
        );
    }
    out += "LABEL local\n  MENU LABEL Boot from the first disk\n  LOCALBOOT 0\n";
    out
}

impl Medium for Pxe {
    fn write(
        &self,
        input: &Input,
        to: &Path,
        _scratch: &Path,
        _exec: &dyn Exec,
        _shared: &Shared,
    ) -> Result<String> {
        let m = input.menu;
        let dir = format!("rear-{}", m.host);
        let mkdir = |p: &Path| {
            std::fs::create_dir_all(p).with_context(|| format!("create {}", p.display()))
        };
        super::copy_boot_files(input, &to.join(&dir))?;
        write(&to.join(format!("{dir}.ipxe")), &ipxe(m, &dir))?;
        mkdir(&to.join("pxelinux.cfg"))?;
        mkdir(&to.join("grub"))?;
        let grub_cfg = grub::menu(m, &format!("/{dir}/vmlinuz"), &format!("/{dir}/initrd.img"));
        for mac in input.macs {
            write(
                &to.join("pxelinux.cfg").join(mac_file(mac)),
                &pxelinux(m, &dir),
            )?;
            write(
                &to.join("grub").join(format!("grub.cfg-{}", mac_file(mac))),
                &grub_cfg,
            )?;
        }
        let mut with_pxelinux = true;
        for (src, name) in PXELINUX {
            match std::fs::copy(src, to.join(name)) {
                Ok(_) => {}
                Err(_) => with_pxelinux = false,
            }
        }
        super::set_times(to, input.epoch)?;
        Ok(format!(
            "iPXE script {dir}.ipxe; PXELINUX and GRUB menus for {}{}",
            match input.macs.is_empty() {
                true => "no NIC (none found)".to_string(),
                false => input.macs.join(", "),
            },
            match with_pxelinux {
                true => "",
                false => "; pxelinux.0 not copied (apt-get install pxelinux syslinux-common)",
            }
        ))
    }
}

/// Who may read what [`install`] puts into a server's root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Files 0640 and new directories 0750, with the root's group: the
    /// server reads them through that group (the default: the initrd may
    /// carry keys and passwords).
    Group,
    /// Files 0644 and new directories 0755 (`pxe.world_readable`).
    World,
}

impl Access {
    fn modes(self) -> (u32, u32) {
        match self {
            Access::Group => (0o640, 0o750),
            Access::World => (0o644, 0o755),
        }
    }
}

/// What [`install`] did, paths relative to the root.
#[derive(Debug, Default, PartialEq)]
pub struct Installed {
    /// Written (new or replaced).
    pub written: Vec<PathBuf>,
    /// Shared boot loader files left as they were: the root had the same
    /// bytes.
    pub kept: Vec<PathBuf>,
    /// The root's group, which the files got.
    pub gid: u32,
}

/// Checks that `root`, a server's root for [`install`], is a directory
/// there; returns its group.
pub fn check_root(root: &Path) -> Result<u32> {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => Ok(m.gid()),
        Ok(_) => bail!(
            "pxe.root (--pxe-root) {} is not a directory: name the directory the TFTP or HTTP server serves",
            root.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "pxe.root (--pxe-root) {} does not exist: the network boot tree is installed into the TFTP or HTTP server's existing root; set pxe.root to that directory (tftpd-hpa serves /srv/tftp), or create it with the server's group (install -d -g tftp -m 0750 {})",
            root.display(),
            root.display()
        ),
        Err(e) => Err(e).with_context(|| format!("pxe.root (--pxe-root) {}", root.display())),
    }
}

/// The files below `dir`, relative to it, sorted.
fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let p = dir.join(&rel);
        for e in std::fs::read_dir(&p).with_context(|| format!("list {}", p.display()))? {
            let e = e.with_context(|| format!("list {}", p.display()))?;
            let child = rel.join(e.file_name());
            match e.file_type()?.is_dir() {
                true => stack.push(child),
                false => out.push(child),
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Creates the directories of `rel` below `root` that are missing, with
/// `mode` and the group `gid`; leaves existing ones as they are.
fn make_dirs(root: &Path, rel: &Path, mode: u32, gid: u32) -> Result<()> {
    let mut p = root.to_path_buf();
    for c in rel.components() {
        p.push(c);
        match std::fs::create_dir(&p) {
            Ok(()) => {
                std::os::unix::fs::chown(&p, None, Some(gid))
                    .and_then(|_| {
                        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                    })
                    .with_context(|| format!("set the group and mode of {}", p.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && p.is_dir() => {}
            Err(e) => return Err(e).with_context(|| format!("create {}", p.display())),
        }
    }
    Ok(())
}

/// Copies `src` to `to` as a whole: written to a temporary name beside it
/// with `mode` and the group `gid`, synced, then renamed over `to`.
fn put(src: &Path, to: &Path, mode: u32, gid: u32) -> Result<()> {
    let dir = to.parent().context("a file in the root")?;
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("create a temporary file in {}", dir.display()))?;
    let mut from = std::fs::File::open(src).with_context(|| format!("open {}", src.display()))?;
    std::io::copy(&mut from, tmp.as_file_mut())
        .and_then(|_| std::os::unix::fs::fchown(tmp.as_file(), None, Some(gid)))
        .and_then(|_| {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
        })
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("write {}", tmp.path().display()))?;
    tmp.persist(to)
        .map_err(|e| e.error)
        .with_context(|| format!("rename into {}", to.display()))?;
    Ok(())
}

/// True when `a` and `b` are files with the same bytes.
fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Installs the network boot tree `tree` (this host's, as [`Pxe`] writes
/// it) into a TFTP or HTTP server's `root`, shared with other hosts: each
/// of the tree's files goes to the same path below the root, written to a
/// temporary name in its directory and renamed over the old one (atomic
/// per file), the boot files (`rear-HOST/`) first, then the menus; missing
/// directories are created. Nothing else in the root is touched: other
/// hosts' files stay as they are, and `pxelinux.0` and `ldlinux.c32`,
/// which the hosts share, are written only when absent or different.
/// Files get the root's group and `access`'s mode; their times are the
/// time of installing (HTTP servers make caching validators of them).
pub fn install(tree: &Path, root: &Path, access: Access) -> Result<Installed> {
    let gid = check_root(root)?;
    let (file_mode, dir_mode) = access.modes();
    let mut files = files_below(tree)?;
    // The kernel and initrd (rear-HOST/*) before the menus that name them.
    let boot_file = |f: &Path| {
        f.components().count() == 2
            && f.iter()
                .next()
                .is_some_and(|d| d.to_string_lossy().starts_with("rear-"))
    };
    files.sort_by_key(|f| (!boot_file(f), f.clone()));
    let mut out = Installed {
        gid,
        ..Installed::default()
    };
    let mut dirs = std::collections::BTreeSet::new();
    for rel in files {
        let (src, to) = (tree.join(&rel), root.join(&rel));
        let parent = rel.parent().unwrap_or(Path::new(""));
        make_dirs(root, parent, dir_mode, gid)?;
        let shared = PXELINUX.iter().any(|(_, n)| rel == Path::new(n));
        if shared && same_bytes(&src, &to) {
            out.kept.push(rel);
            continue;
        }
        put(&src, &to, file_mode, gid)?;
        dirs.insert(to.parent().unwrap_or(root).to_path_buf());
        out.written.push(rel);
    }
    // The renames themselves on disk.
    for d in dirs {
        std::fs::File::open(&d)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("sync {}", d.display()))?;
    }
    if gid == 0 && access == Access::Group {
        log::warn!(
            "{} belongs to group root: the files installed there are 0640 root:root, which a TFTP or HTTP server running as its own user cannot read; give the root the server's group (chgrp tftp {}) and install again, or set pxe.world_readable = true if the image carries no secrets",
            root.display(),
            root.display()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Menu {
        Menu {
            host: "web1".into(),
            timeout: 5,
            consoles: "console=tty0 console=ttyS0,115200".into(),
            cmdline: String::new(),
        }
    }

    #[test]
    fn macs_name_files_as_pxelinux_and_grub_look_for_them() {
        assert_eq!(mac_file("52:54:00:AB:cd:01"), "01-52-54-00-ab-cd-01");
    }

    #[test]
    fn the_ipxe_script_defaults_to_the_shell_and_falls_back_without_menus() {
        let s = ipxe(&m(), "rear-web1");
        assert!(
            s.starts_with("#!ipxe\nmenu rear-build rescue of web1 || goto shell\n"),
            "{s}"
        );
        assert!(
            s.contains("choose --default shell --timeout 5000 target || goto shell"),
            "{s}"
        );
        let shell = s.split(":shell\n").nth(1).unwrap();
        let first_kernel = shell.lines().find(|l| l.starts_with("kernel")).unwrap();
        assert_eq!(
            first_kernel,
            "kernel rear-web1/vmlinuz initrd=initrd.img console=ttyS0,115200 console=tty0"
        );
        assert_eq!(s.matches("rear.auto=recover").count(), 1, "{s}");
    }

    #[test]
    fn pxelinux_waits_in_tenths_and_offers_the_local_disk() {
        let s = pxelinux(&m(), "rear-web1");
        assert!(
            s.contains("DEFAULT shell\n") && s.contains("TIMEOUT 50\n"),
            "{s}"
        );
        assert!(
            s.contains("APPEND initrd=rear-web1/initrd.img console=ttyS0,115200 console=tty0\n"),
            "{s}"
        );
        assert!(s.contains("LOCALBOOT 0"), "{s}");
    }

    fn tree_and_root() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let (tree, root) = (d.path().join("pxe"), d.path().join("tftp"));
        for (rel, text) in [
            ("rear-web1/vmlinuz", "kernel 2"),
            ("rear-web1/initrd.img", "initrd 2"),
            ("rear-web1.ipxe", "#!ipxe 2"),
            ("pxelinux.cfg/01-52-54-00-00-00-01", "pxelinux 2"),
            ("grub/grub.cfg-01-52-54-00-00-00-01", "grub 2"),
            ("pxelinux.0", "pxelinux.0 new"),
            ("ldlinux.c32", "ldlinux same"),
        ] {
            let p = tree.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        std::fs::create_dir(&root).unwrap();
        (d, tree, root)
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn install_writes_the_trees_files_and_nothing_else() {
        let (_d, tree, root) = tree_and_root();
        // Another host's files, this host's old ones, the shared loader
        // (one file the same, one not).
        let others = [
            ("rear-web2/vmlinuz", "web2 kernel"),
            ("rear-web2.ipxe", "web2 ipxe"),
            ("pxelinux.cfg/01-52-54-00-00-00-02", "web2 pxelinux"),
            ("pxelinux.cfg/default", "the site's default"),
            ("grub/grub.cfg-01-52-54-00-00-00-02", "web2 grub"),
        ];
        for (rel, text) in others.iter().chain(&[
            ("rear-web1/initrd.img", "initrd 1"),
            ("pxelinux.0", "pxelinux.0 old"),
            ("ldlinux.c32", "ldlinux same"),
        ]) {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o604)).unwrap();
        }
        let gid = std::fs::metadata(&root).unwrap().gid();
        let dir_mode = mode(&root.join("rear-web1"));
        let got = install(&tree, &root, Access::Group).unwrap();
        assert_eq!(got.gid, gid);
        assert_eq!(got.kept, [PathBuf::from("ldlinux.c32")]);
        let written: Vec<String> = got
            .written
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            written,
            [
                "rear-web1/initrd.img",
                "rear-web1/vmlinuz",
                "grub/grub.cfg-01-52-54-00-00-00-01",
                "pxelinux.0",
                "pxelinux.cfg/01-52-54-00-00-00-01",
                "rear-web1.ipxe",
            ],
            "the boot files first"
        );
        for rel in &got.written {
            assert_eq!(
                std::fs::read(root.join(rel)).unwrap(),
                std::fs::read(tree.join(rel)).unwrap(),
                "{}",
                rel.display()
            );
            assert_eq!(mode(&root.join(rel)), 0o640, "{}", rel.display());
            assert_eq!(
                std::fs::metadata(root.join(rel)).unwrap().gid(),
                gid,
                "{}",
                rel.display()
            );
        }
        assert_eq!(mode(&root.join("ldlinux.c32")), 0o604, "kept as it was");
        for (rel, text) in others {
            assert_eq!(
                std::fs::read_to_string(root.join(rel)).unwrap(),
                text,
                "{rel}"
            );
            assert_eq!(mode(&root.join(rel)), 0o604, "{rel}");
        }
        assert_eq!(
            mode(&root.join("rear-web1")),
            dir_mode,
            "an existing directory is left alone"
        );
        // No temporary file is left.
        let all = files_below(&root).unwrap();
        assert!(
            !all.iter()
                .any(|p| p.file_name().unwrap().to_string_lossy().starts_with('.')),
            "{all:?}"
        );
        assert_eq!(all.len(), 7 + 5);
    }

    #[test]
    fn install_world_readable_and_into_an_empty_root() {
        let (_d, tree, root) = tree_and_root();
        let got = install(&tree, &root, Access::World).unwrap();
        assert_eq!(got.written.len(), 7);
        for rel in &got.written {
            assert_eq!(mode(&root.join(rel)), 0o644, "{}", rel.display());
        }
        for d in ["rear-web1", "pxelinux.cfg", "grub"] {
            assert_eq!(mode(&root.join(d)), 0o755, "{d}");
        }
        // Again, private: this host's files are replaced, the loader kept.
        let got = install(&tree, &root, Access::Group).unwrap();
        assert_eq!(got.written.len(), 5);
        assert_eq!(got.kept.len(), 2);
        assert_eq!(mode(&root.join("rear-web1/initrd.img")), 0o640);
        assert_eq!(
            mode(&root.join("pxelinux.0")),
            0o644,
            "the same bytes: kept"
        );
    }

    #[test]
    fn a_missing_root_is_refused_with_what_to_do() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("srv/tftp");
        let e = format!(
            "{:#}",
            install(d.path(), &missing, Access::Group).unwrap_err()
        );
        assert!(
            e.contains(&format!("{} does not exist", missing.display()))
                && e.contains("pxe.root")
                && e.contains("install -d -g tftp"),
            "{e}"
        );
        assert!(!missing.exists(), "created");
        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        let e = format!("{:#}", check_root(&file).unwrap_err());
        assert!(e.contains("is not a directory"), "{e}");
    }
}
