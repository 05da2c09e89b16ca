//! GRUB's BIOS boot from a GPT disk, written without `grub-install` (which
//! wants a real device and guesses the host's root): GRUB's core image
//! goes into the BIOS boot partition as is, and GRUB's `boot.img` into
//! the MBR's boot code, told where the core image starts. The core image
//! carries no Reed-Solomon codes (as `grub-bios-setup --no-rs-codes`
//! writes it). Offsets are those of GRUB 2's `boot.h` and `diskboot.S`.

use anyhow::{bail, Context, Result};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const SECTOR: u64 = 512;
/// In `boot.img`: the LBA of the core image's first sector (u64).
const KERNEL_SECTOR: usize = 0x5c;
/// In `boot.img`: a jump over the fix for BIOSes that pass a wrong boot
/// drive; set to two NOPs for a hard disk, as grub-bios-setup does.
const DRIVE_CHECK: usize = 0x66;
/// In the MBR: disk signature, partition table and boot signature, kept.
const TABLE: std::ops::Range<usize> = 0x1b8..0x200;
/// In the core image's first sector: the block list of the rest (start
/// LBA u64, sectors u16, segment u16; grub-mkimage fills the count).
const BLOCKLIST: usize = 0x1f4;

/// Makes the disk image `disk` boot GRUB's `core` on BIOS: `core` is
/// written at `lba` (the BIOS boot partition, `sectors` long) and
/// `boot_img` into the MBR.
pub fn embed(disk: &Path, boot_img: &Path, core: &Path, lba: u64, sectors: u64) -> Result<()> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("read {}", p.display()));
    let mut boot = read(boot_img)?;
    let mut core = read(core)?;
    if boot.len() != SECTOR as usize {
        bail!(
            "{}: {} bytes, not GRUB's 512-byte boot image",
            boot_img.display(),
            boot.len()
        );
    }
    let n = (core.len() as u64).div_ceil(SECTOR);
    if n > sectors || n < 2 {
        bail!("GRUB's core image is {n} sectors: it must fit the BIOS boot partition's {sectors}");
    }
    core.resize((n * SECTOR) as usize, 0);
    let count = u16::from_le_bytes([core[BLOCKLIST + 8], core[BLOCKLIST + 9]]) as u64;
    if count != n - 1 {
        bail!("GRUB's core image lists {count} sectors after its first, not {}: not a core image of this GRUB", n - 1);
    }
    core[BLOCKLIST..BLOCKLIST + 8].copy_from_slice(&(lba + 1).to_le_bytes());
    boot[KERNEL_SECTOR..KERNEL_SECTOR + 8].copy_from_slice(&lba.to_le_bytes());
    boot[DRIVE_CHECK..DRIVE_CHECK + 2].copy_from_slice(&[0x90, 0x90]);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(disk)
        .with_context(|| format!("open {}", disk.display()))?;
    let mut mbr = [0u8; SECTOR as usize];
    f.read_exact(&mut mbr)
        .with_context(|| format!("read the MBR of {}", disk.display()))?;
    boot[TABLE].copy_from_slice(&mbr[TABLE]);
    let write = |f: &mut std::fs::File, at: u64, data: &[u8]| {
        f.seek(SeekFrom::Start(at))
            .and_then(|_| f.write_all(data))
            .with_context(|| format!("write {} bytes at {at} of {}", data.len(), disk.display()))
    };
    write(&mut f, lba * SECTOR, &core)?;
    write(&mut f, 0, &boot)?;
    f.sync_all()
        .with_context(|| format!("sync {}", disk.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mbr_points_at_the_core_image_and_keeps_the_partition_table() {
        let d = tempfile::tempdir().unwrap();
        let disk = d.path().join("disk");
        let mut mbr = vec![0u8; 4096 * 512];
        mbr[0x1be..0x1ce].copy_from_slice(&[7; 16]);
        mbr[0x1fe] = 0x55;
        mbr[0x1ff] = 0xaa;
        std::fs::write(&disk, &mbr).unwrap();
        let boot = d.path().join("boot.img");
        std::fs::write(&boot, [0xeb_u8; 512]).unwrap();
        // A core image of 3 sectors, listing 2 after the first.
        let mut core = vec![1u8; 1100];
        core[BLOCKLIST..BLOCKLIST + 12].copy_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x20, 8]);
        let core_p = d.path().join("core.img");
        std::fs::write(&core_p, &core).unwrap();
        embed(&disk, &boot, &core_p, 2048, 2048).unwrap();
        let out = std::fs::read(&disk).unwrap();
        assert_eq!(
            &out[KERNEL_SECTOR..KERNEL_SECTOR + 8],
            &2048u64.to_le_bytes()
        );
        assert_eq!(&out[DRIVE_CHECK..DRIVE_CHECK + 2], &[0x90, 0x90]);
        assert_eq!(&out[0x1be..0x1ce], &[7; 16], "the partition table stays");
        assert_eq!(&out[0x1fe..0x200], &[0x55, 0xaa]);
        assert_eq!(out[0], 0xeb, "the boot code is GRUB's");
        let at = 2048 * 512;
        assert_eq!(
            &out[at + BLOCKLIST..at + BLOCKLIST + 8],
            &2049u64.to_le_bytes()
        );
        assert_eq!(
            &out[at + BLOCKLIST + 8..at + BLOCKLIST + 12],
            &[2, 0, 0x20, 8]
        );
        assert_eq!(&out[at..at + 4], &[1, 1, 1, 1]);
        assert!(out[at + 1100..at + 1536].iter().all(|&b| b == 0), "padded");
        // Too big for the partition: refused, nothing written.
        let before = std::fs::read(&disk).unwrap();
        assert!(embed(&disk, &boot, &core_p, 2048, 2).is_err());
        assert_eq!(std::fs::read(&disk).unwrap(), before);
    }
}
