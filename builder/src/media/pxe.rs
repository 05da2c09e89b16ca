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

use super::{grub, write_text as write, Input, Medium, Menu, Shared};
use anyhow::{Context, Result};
use rear_exec::Exec;
use std::path::Path;

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
}
