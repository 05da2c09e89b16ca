//! GRUB for the media: the menu (`grub.cfg`), and the boot images made
//! with `grub-mkimage` with an early configuration embedded (which finds
//! the medium by a file named for the image and loads the menu from it).
//! `grub-mkimage` is reproducible; `grub-mkstandalone` is not (its memdisk
//! carries build times). With Debian's signed shim and GRUB and a signed
//! kernel on the host, UEFI boots shim → signed GRUB → kernel, so the
//! medium boots with Secure Boot on.

use super::Menu;
use anyhow::{Context, Result};
use rear_exec::{Call, Exec};
use std::path::{Path, PathBuf};

/// Where Debian's GRUB modules are, per platform.
pub const BIOS_DIR: &str = "/usr/lib/grub/i386-pc";
pub const EFI_DIR: &str = "/usr/lib/grub/x86_64-efi";
/// Debian's signed shim, its MOK manager, and the signed GRUB made for
/// CDs (it finds its medium by `/.disk/info` and reads
/// `/boot/grub/grub.cfg`).
pub const SHIM: &str = "/usr/lib/shim/shimx64.efi.signed";
pub const MOK_MANAGER: &str = "/usr/lib/shim/mmx64.efi.signed";
pub const SIGNED_GRUB: &str = "/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed";

/// The modules every GRUB image holds: enough to find the medium (CD or
/// disk, GPT or MBR, ISO 9660 or FAT), show the menu on screen and serial
/// line, and boot Linux.
const MODULES: &[&str] = &[
    "normal",
    "configfile",
    "linux",
    "search",
    "search_fs_file",
    "iso9660",
    "fat",
    "ext2",
    "part_gpt",
    "part_msdos",
    "echo",
    "test",
    "serial",
    "terminal",
    "all_video",
    "gzio",
    "reboot",
    "halt",
    "chain",
];

/// The file GRUB looks for to find its own medium (not another rescue
/// medium attached to the same machine).
pub fn marker(id: &str) -> String {
    format!("/.disk/rear-build-{id}")
}

/// The configuration embedded in each GRUB image: find the file system
/// holding `marker` and show its menu.
pub fn early_config(marker: &str) -> String {
    format!(
        "search --no-floppy --file --set=root {marker}\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n"
    )
}

/// GRUB's quoting: single quotes, a quote itself as '\''.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `consoles` ordered for the default entry (screen last) and the serial
/// one (serial line last). Every entry passes every console (the kernel
/// and the rescue system write to all, a shell runs on each); the last is
/// /dev/console.
pub fn console_orders(consoles: &str) -> (String, String) {
    let ordered = |serial_last: bool| {
        let mut c: Vec<&str> = consoles.split_whitespace().collect();
        c.sort_by_key(|a| a.starts_with("console=ttyS") == serial_last);
        c.join(" ")
    };
    (ordered(false), ordered(true))
}

/// The menu: the rescue shell (default; never anything destructive), the
/// rescue shell on the serial line, unattended recovery, the first disk.
/// `kernel` and `initrd` are paths on the medium.
pub fn menu(m: &Menu, kernel: &str, initrd: &str) -> String {
    header(m, "0") + &entries(m, kernel, initrd) + FIRST_DISK
}

/// The menu's settings: GRUB on screen and serial line, the default entry
/// and the timeout.
pub fn header(m: &Menu, default: &str) -> String {
    format!(
        "serial --unit=0 --speed=115200\nterminal_input console serial\nterminal_output console serial\nset default=\"{default}\"\nset timeout={}\n",
        m.timeout
    )
}

/// The last entry of every menu.
pub const FIRST_DISK: &str =
    "menuentry 'Boot from the first disk' {\n  set root=(hd0)\n  chainloader +1\n}\n";

/// The three entries that boot the rescue system.
pub fn entries(m: &Menu, kernel: &str, initrd: &str) -> String {
    let args = |extra: &str, consoles: &str| {
        [consoles, m.cmdline.as_str(), extra]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (screen_last, serial_last) = console_orders(&m.consoles);
    let entry = |title: &str, extra: &str, consoles: &str| {
        format!(
            "menuentry {} {{\n  echo {}\n  linux {kernel} {}\n  initrd {initrd}\n}}\n",
            quote(title),
            quote(&format!("Loading {title} ...")),
            args(extra, consoles)
        )
    };
    let host = &m.host;
    entry(
        &format!("rear-build rescue shell ({host})"),
        "",
        &screen_last,
    ) + &entry(
        &format!("rear-build rescue shell on serial ttyS0 ({host})"),
        "",
        &serial_last,
    ) + &entry(
        &format!("rear-build unattended recovery of {host} (rewrites its disks)"),
        "rear.auto=recover",
        &serial_last,
    )
}

/// The UEFI files of an ESP: `EFI/BOOT/BOOTX64.EFI` and what it loads,
/// as (name, source) pairs; whether they boot with Secure Boot on.
pub struct EfiFiles {
    pub files: Vec<(String, PathBuf)>,
    pub secure_boot: bool,
}

/// GRUB's BIOS image: for El Torito (a CD, or a disk through
/// `boot_hybrid.img`), or the core image embedded in a disk's BIOS boot
/// partition (`bios::embed`).
#[derive(Clone, Copy, Debug)]
pub enum Bios {
    ElTorito,
    Disk,
}

/// Writes the BIOS image to `bios` and chooses the UEFI files: signed
/// shim and GRUB when the host has them and `kernel` is signed, else an
/// unsigned GRUB made into `scratch`. Both find their medium by
/// `early` (an `early_config`).
pub fn images(
    early: &str,
    kernel: &Path,
    (format, bios): (Bios, &Path),
    scratch: &Path,
    exec: &dyn Exec,
) -> Result<EfiFiles> {
    let early_file = scratch.join("early.cfg");
    std::fs::write(&early_file, early)
        .with_context(|| format!("write {}", early_file.display()))?;
    let early = &early_file;
    let format = match format {
        Bios::ElTorito => "i386-pc-eltorito",
        Bios::Disk => "i386-pc",
    };
    mkimage(format, BIOS_DIR, early, bios, &["biosdisk"], exec)?;
    let signed = [SHIM, SIGNED_GRUB].iter().all(|p| Path::new(p).is_file());
    if signed && super::pe::is_signed(kernel)? {
        let mut files = vec![
            ("BOOTX64.EFI".to_string(), PathBuf::from(SHIM)),
            ("grubx64.efi".to_string(), PathBuf::from(SIGNED_GRUB)),
        ];
        if Path::new(MOK_MANAGER).is_file() {
            files.push(("mmx64.efi".to_string(), PathBuf::from(MOK_MANAGER)));
        }
        return Ok(EfiFiles {
            files,
            secure_boot: true,
        });
    }
    let efi = scratch.join("bootx64.efi");
    mkimage("x86_64-efi", EFI_DIR, early, &efi, &["efi_gop"], exec)?;
    Ok(EfiFiles {
        files: vec![("BOOTX64.EFI".to_string(), efi)],
        secure_boot: false,
    })
}

fn mkimage(
    format: &str,
    dir: &str,
    early: &Path,
    out: &Path,
    extra: &[&str],
    exec: &dyn Exec,
) -> Result<()> {
    if !Path::new(dir).join("linux.mod").is_file() {
        anyhow::bail!(
            "{dir} has no GRUB modules: the boot media need GRUB for BIOS and for UEFI (apt-get install grub-pc-bin grub-efi-amd64-bin)"
        );
    }
    let c = Call::new("grub-mkimage")
        .args(["-O", format, "-d", dir, "-p", "/boot/grub", "-c"])
        .arg(early)
        .arg("-o")
        .arg(out)
        .args(MODULES.iter().chain(extra).copied());
    exec.run(&c)
        .with_context(|| format!("make the {format} GRUB image"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Menu {
        Menu {
            host: "web1".into(),
            timeout: 5,
            consoles: "console=tty0 console=ttyS0,115200".into(),
            cmdline: "quiet".into(),
        }
    }

    #[test]
    fn the_menu_defaults_to_the_shell_and_passes_both_consoles_everywhere() {
        let text = menu(&m(), "/boot/vmlinuz", "/boot/initrd.img");
        assert!(
            text.contains("set default=\"0\"\nset timeout=5\n"),
            "{text}"
        );
        let linux: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("linux "))
            .collect();
        assert_eq!(linux.len(), 3, "{text}");
        for l in &linux {
            assert!(
                l.contains("console=tty0")
                    && l.contains("console=ttyS0,115200")
                    && l.contains("quiet"),
                "{l}"
            );
        }
        // Only the third entry recovers; the first (default) is the shell.
        assert!(!linux[0].contains("rear.auto") && !linux[1].contains("rear.auto"));
        assert!(linux[2].contains("rear.auto=recover"));
        // The serial entry puts ttyS0 last (/dev/console), the default tty0.
        assert!(
            linux[0].ends_with("console=ttyS0,115200 console=tty0 quiet"),
            "{}",
            linux[0]
        );
        assert!(
            linux[1].ends_with("console=tty0 console=ttyS0,115200 quiet"),
            "{}",
            linux[1]
        );
        let first_title = text.lines().find(|l| l.starts_with("menuentry")).unwrap();
        assert!(first_title.contains("rescue shell (web1)"), "{first_title}");
    }

    #[test]
    fn menu_titles_are_quoted_for_grub() {
        let mut menu_in = m();
        menu_in.host = "it's".into();
        let text = menu(&menu_in, "/k", "/i");
        assert!(
            text.contains("'rear-build rescue shell (it'\\''s)'"),
            "{text}"
        );
    }
}
