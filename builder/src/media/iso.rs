//! The hybrid ISO (`rescue.iso`), made by xorriso: ISO 9660 level 3
//! (files over 4 GiB) with Rock Ridge (`-r`: no host owners or modes), an
//! El Torito BIOS entry (GRUB's `eltorito.img`) and an UEFI entry (the
//! EFI system partition image), and for disks an MBR with GRUB's
//! `boot_hybrid.img` plus a GPT holding the ESP as an appended partition:
//! the same file boots as a CD and written to a stick, on BIOS and UEFI.
//! `SOURCE_DATE_EPOCH` fixes xorriso's volume dates and GPT GUIDs; the
//! staged tree's times are set to it too (xorriso copies file times).

use super::{grub, Input, Medium, Shared};
use anyhow::{Context, Result};
use rear_exec::{Call, Exec};
use std::path::Path;

pub struct Iso;

/// The volume id; the ESP's label.
pub const VOLUME: &str = "REAR-RESCUE";
pub const ESP_LABEL: &str = "REAR-EFI";
/// GPT partition type of the ESP; MBR type of the ISO partition (as
/// GPT "basic data"), written in xorriso's byte order.
const ESP_TYPE: &str = "28732ac11ff8d211ba4b00a0c93ec93b";
const ISO_TYPE: &str = "a2a0d0ebe5b9334487c068b6b72699c7";

impl Medium for Iso {
    fn write(
        &self,
        input: &Input,
        to: &Path,
        scratch: &Path,
        exec: &dyn Exec,
        _shared: &Shared,
    ) -> Result<String> {
        let stage = scratch.join("iso");
        super::stage_tree(input, &stage)?;
        let efi = grub::images(
            &grub::early_config(&grub::marker(input.id)),
            input.kernel,
            (grub::Bios::ElTorito, &stage.join("boot/grub/eltorito.img")),
            scratch,
            exec,
        )?;
        let esp = scratch.join("esp.img");
        let esp_tree = scratch.join("esp");
        super::stage_efi(&efi, &esp_tree)?;
        super::fat::image(
            &esp_tree,
            ESP_LABEL,
            input.id,
            input.epoch,
            None,
            &esp,
            exec,
        )?;
        super::set_times(&stage, input.epoch)?;
        let c = Call::new("xorriso")
            .args([
                "-as",
                "mkisofs",
                "-iso-level",
                "3",
                "-r",
                "-V",
                VOLUME,
                "-o",
            ])
            .arg(to)
            .args(["--grub2-mbr"])
            .arg(Path::new(grub::BIOS_DIR).join("boot_hybrid.img"))
            .args([
                "-partition_offset",
                "16",
                "--mbr-force-bootable",
                "-append_partition",
                "2",
                ESP_TYPE,
            ])
            .arg(&esp)
            .args([
                "-appended_part_as_gpt",
                "-iso_mbr_part_type",
                ISO_TYPE,
                "-c",
                "/boot/grub/boot.cat",
                "-b",
                "/boot/grub/eltorito.img",
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-boot-info-table",
                "--grub2-boot-info",
                "-eltorito-alt-boot",
                "-e",
                "--interval:appended_partition_2:::",
                "-no-emul-boot",
            ])
            // Every file's date, whatever stat says of the staged tree.
            .arg("--set_all_file_dates")
            .arg(format!("={}", input.epoch))
            .arg(&stage)
            .env("SOURCE_DATE_EPOCH", input.epoch.to_string());
        exec.run(&c)
            .context("xorriso could not make the ISO (apt-get install xorriso)")?;
        Ok(super::boots_with(&efi))
    }
}
