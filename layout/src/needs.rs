//! What the rescue system must hold to recreate a layout: every program the
//! planner's steps run, found by planning the layout onto blank disks like
//! its own (so the answer is what `recover` will really call, not a second
//! list kept beside the planner), and what recovery runs beside the plan
//! (finding the disks, finalize's chroot and mounts, UEFI boot entries).
//! Pure: nothing here touches a disk.

use crate::model::{Firmware, Layout};
use crate::plan::{self, PlanError, PresentDisk};
use std::collections::BTreeMap;

/// A program the rescue system needs, and why (the first layout element
/// that needs it, and how many more do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub program: String,
    pub why: String,
}

/// The programs recreating `layout` runs, sorted by name.
pub fn programs(layout: &Layout) -> Result<Vec<Need>, PlanError> {
    // Blank disks of the same names, sizes and identities: the mapping
    // takes each as its own, and every stage of the plan is produced.
    let present: Vec<PresentDisk> = layout
        .disks
        .iter()
        .map(|d| PresentDisk {
            device: d.device.clone(),
            size: d.size,
            logical_sector_size: d.logical_sector_size,
            serial: d.serial.clone(),
            wwn: d.wwn.clone(),
            ..Default::default()
        })
        .collect();
    let opts = plan::Options {
        // Never read: the plan only names the file.
        passphrase_file: Some("/dev/null".into()),
        write_protected: Vec::new(),
        ..Default::default()
    };
    let p = plan::plan(layout, &present, &opts)?;
    // program → (first reason, how many steps call it)
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut add = |program: &str, why: String| {
        let e = seen.entry(program.to_string()).or_insert((why, 0));
        e.1 += 1;
    };
    // rear-build itself (it writes the partition tables) is always there.
    for s in p
        .steps
        .iter()
        .filter(|s| s.argv.first().is_some_and(|p| p != "rear-build"))
    {
        add(&s.argv[0], s.what.clone());
    }
    // Recovery beside the plan: disks are identified by blkid, the
    // recreated file systems mounted and unmounted, and finalize runs the
    // restored system's own bootloader and initramfs tools through chroot
    // (grub-install, update-initramfs come from the restored files, not
    // from the rescue system).
    add(
        "blkid",
        "finding the disks to recreate the layout on".into(),
    );
    add("mount", "mounting the recreated file systems".into());
    add("umount", "unmounting the recreated file systems".into());
    add(
        "chroot",
        "installing the bootloader and rebuilding the initramfs inside the restored system".into(),
    );
    if layout.boot.firmware == Firmware::Uefi {
        add(
            "efibootmgr",
            "the UEFI boot entry (the layout's boot firmware is UEFI)".into(),
        );
    }
    Ok(seen
        .into_iter()
        .map(|(program, (why, n))| Need {
            program,
            why: match n {
                1 => why,
                n => format!("{why}, and {} more step(s)", n - 1),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios;

    fn names(l: &Layout) -> Vec<String> {
        programs(l)
            .unwrap()
            .into_iter()
            .map(|n| n.program)
            .collect()
    }

    /// The typical RAID1 + LVM server: md, LVM, xfs; nothing of btrfs,
    /// LUKS, FAT, and no partitioning program (rear-build writes the
    /// tables), and none of the operator's conveniences.
    #[test]
    fn raid1_lvm_xfs_needs_only_its_own_tools() {
        let mut l = scenarios::raid1_lvm_thin();
        // Plain LVM (no thin pool), xfs only: the host of the brief.
        l.lvs.retain(|v| v.segtype == "linear");
        let got = names(&l);
        for want in [
            "mdadm", "pvcreate", "vgcreate", "lvcreate", "mkfs.xfs", "blkid", "mount", "chroot",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
        }
        for never in [
            "mkfs.btrfs",
            "btrfs",
            "cryptsetup",
            "mkfs.vfat",
            "mkfs.fat",
            "parted",
            "sfdisk",
            "rear-build",
            "sgdisk",
            "gdisk",
            "ps",
            "kill",
            "ip",
            "less",
            "vim.tiny",
            "efibootmgr",
        ] {
            assert!(!got.iter().any(|g| g == never), "{never} in {got:?}");
        }
    }

    #[test]
    fn luks_needs_cryptsetup_and_says_which_volume() {
        let l = scenarios::luks_on_lvm();
        let needs = programs(&l).unwrap();
        let c = needs.iter().find(|n| n.program == "cryptsetup");
        let c = c.unwrap_or_else(|| panic!("no cryptsetup in {needs:?}"));
        assert!(c.why.starts_with("format LUKS2 on /dev/"), "{c:?}");
        // Its ESP is vfat, its root ext4; it booted by BIOS.
        let got = names(&l);
        for want in ["mkfs.vfat", "mkfs.ext4"] {
            assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
        }
        assert!(!got.iter().any(|g| g == "efibootmgr"), "{got:?}");
        // Booted by UEFI: the firmware's boot entry needs efibootmgr.
        let uefi = programs(&scenarios::uefi_gpt_grub()).unwrap();
        let e = uefi.iter().find(|n| n.program == "efibootmgr");
        assert!(e.is_some_and(|e| e.why.contains("UEFI")), "{uefi:?}");
    }

    #[test]
    fn each_file_system_brings_its_mkfs_and_swap_mkswap() {
        let got = names(&scenarios::gpt_esp_ext4_swap());
        for want in ["mkfs.vfat", "mkfs.ext4", "mkswap", "wipefs"] {
            assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
        }
        assert!(
            !got.iter().any(|g| g == "mkfs.xfs" || g == "mdadm"),
            "{got:?}"
        );
    }

    #[test]
    fn every_planned_program_is_named_once_with_a_reason() {
        for l in [
            scenarios::raid1_lvm_thin(),
            scenarios::luks_on_lvm(),
            scenarios::msdos_logical(),
            scenarios::uefi_gpt_grub(),
            scenarios::whole_disk_luks(),
        ] {
            let n = programs(&l).unwrap();
            let mut p: Vec<&str> = n.iter().map(|n| n.program.as_str()).collect();
            p.dedup();
            assert_eq!(p.len(), n.len());
            assert!(n.iter().all(|n| !n.why.is_empty() && !n.program.is_empty()));
        }
    }
}
