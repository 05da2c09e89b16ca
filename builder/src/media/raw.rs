//! The raw disk image (`rescue.img`), for VMs and `dd`: a GPT disk with a
//! BIOS boot partition holding GRUB's core image (`bios::embed`) and an
//! EFI system partition (FAT32) holding everything else: the UEFI
//! loaders, GRUB's menu, the kernel and the initrd. No loop mount, no
//! root; the disk and partition GUIDs are derived from the image's id, so
//! two builds give the same bytes.

use super::{bios, fat, grub, Input, Medium, Shared};
use anyhow::{Context, Result};
use rear_exec::{Call, Exec};
use std::path::Path;

pub struct Raw;

/// Where the partitions start and how long the BIOS boot one is, in
/// 512-byte sectors (1 MiB alignment, as partitioning tools do).
const BIOS_LBA: u64 = 2048;
const BIOS_SECTORS: u64 = 2048;
const ESP_LBA: u64 = BIOS_LBA + BIOS_SECTORS;
/// Room after the last partition: the backup GPT, aligned.
const TAIL_SECTORS: u64 = 2048;

const BIOS_BOOT_TYPE: &str = "21686148-6449-6E6F-744E-656564454649";
const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

/// A GUID for `what` on the medium `id`: stable for the same image,
/// different between images.
pub fn guid(id: &str, what: &str) -> String {
    let h = blake3::hash(format!("rear-build {id} {what}").as_bytes());
    let mut b: [u8; 16] = h.as_bytes()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// The sfdisk script of the raw disk.
fn table(id: &str, esp_sectors: u64) -> String {
    format!(
        "label: gpt\nlabel-id: {}\nunit: sectors\n\
         start={BIOS_LBA}, size={BIOS_SECTORS}, type={BIOS_BOOT_TYPE}, uuid={}, name=\"BIOS boot\"\n\
         start={ESP_LBA}, size={esp_sectors}, type={ESP_TYPE}, uuid={}, name=\"{}\"\n",
        guid(id, "disk"),
        guid(id, "bios"),
        guid(id, "esp"),
        super::iso::ESP_LABEL
    )
}

impl Medium for Raw {
    fn write(
        &self,
        input: &Input,
        to: &Path,
        scratch: &Path,
        exec: &dyn Exec,
        _shared: &Shared,
    ) -> Result<String> {
        let stage = scratch.join("raw");
        super::stage_tree(input, &stage)?;
        let core = scratch.join("core.img");
        let efi = grub::images(
            &grub::early_config(&grub::marker(input.id)),
            input.kernel,
            (grub::Bios::Disk, &core),
            scratch,
            exec,
        )?;
        super::stage_efi(&efi, &stage)?;
        let esp = scratch.join("esp.img");
        fat::image(
            &stage,
            super::iso::ESP_LABEL,
            input.id,
            input.epoch,
            None,
            &esp,
            exec,
        )?;
        let esp_sectors = std::fs::metadata(&esp)
            .with_context(|| format!("stat {}", esp.display()))?
            .len()
            / 512;
        std::fs::File::create(to)
            .and_then(|f| f.set_len((ESP_LBA + esp_sectors + TAIL_SECTORS) * 512))
            .with_context(|| format!("create {}", to.display()))?;
        exec.run(
            &Call::new("sfdisk")
                .args(["--quiet", "--no-reread", "--no-tell-kernel"])
                .arg(to)
                .stdin(table(input.id, esp_sectors).into_bytes()),
        )
        .context("partition the raw disk image (apt-get install fdisk)")?;
        super::write_at(to, ESP_LBA * 512, &esp)?;
        bios::embed(
            to,
            &Path::new(grub::BIOS_DIR).join("boot.img"),
            &core,
            BIOS_LBA,
            BIOS_SECTORS,
        )?;
        Ok(super::boots_with(&efi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_stable_per_image_and_well_formed() {
        let a = guid("0123456789abcdef", "disk");
        assert_eq!(a, guid("0123456789abcdef", "disk"));
        assert_ne!(a, guid("0123456789abcdef", "esp"));
        assert_ne!(a, guid("fedcba9876543210", "disk"));
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{a}");
        assert_eq!(&a[14..15], "4", "version 4: {a}");
    }
}
