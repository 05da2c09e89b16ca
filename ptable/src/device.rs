//! A table onto a disk (or disk image) and back, and the kernel told.

use crate::{gpt, mbr, Error, Label, Table};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// What is cleared outside partitions at each end of the disk before the
/// table is written: old tables (a GPT's backup at the end), boot code and
/// file system or RAID signatures in the gaps.
const CLEAR: u64 = 1 << 20;

/// Writes `t` onto `dev`, then makes the kernel use it. The device is
/// opened exclusively (a disk in use, mounted or held by md, LVM or
/// device-mapper, is refused), its sector size must be the table's, and
/// every partition must fit.
pub fn write(dev: &Path, t: &Table) -> Result<(), Error> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_EXCL | libc::O_CLOEXEC)
        .open(dev)
        .map_err(Error::io(format!(
            "open {} for writing (is it in use?)",
            dev.display()
        )))?;
    let block = is_block(&f);
    if block {
        let ss = logical_sector_size(&f).map_err(Error::io(format!(
            "{}: read its sector size",
            dev.display()
        )))?;
        if ss != t.sector_size {
            return Err(Error::Fit(format!(
                "{} has {ss}-byte sectors; the table was made for {}-byte ones",
                dev.display(),
                t.sector_size
            )));
        }
    }
    let bytes = size(&f, dev)?;
    let ss = t.sector_size as u64;
    let sectors = bytes / ss;
    let records = match t.label {
        Label::Gpt => gpt::encode(t, sectors),
        Label::Dos => mbr::encode(t, sectors),
    }
    .map_err(|e| match e {
        Error::Fit(m) => Error::Fit(format!("{}: {m}", dev.display())),
        e => e,
    })?;
    let first = t.parts.iter().map(|p| p.start).min().unwrap_or(sectors);
    let last = t.parts.iter().map(|p| p.end()).max().unwrap_or(0);
    let head = (first * ss).min(CLEAR).min(bytes);
    let tail_from = (last * ss).max(bytes.saturating_sub(CLEAR)).min(bytes);
    let at = |what: &str| Error::io(format!("{}: {what}", dev.display()));
    f.write_all_at(&vec![0u8; head as usize], 0)
        .map_err(at("clear the start"))?;
    f.write_all_at(&vec![0u8; (bytes - tail_from) as usize], tail_from)
        .map_err(at("clear the end"))?;
    for (lba, data) in &records {
        f.write_all_at(data, lba * ss)
            .map_err(at(&format!("write sector {lba}")))?;
    }
    f.sync_all().map_err(at("flush"))?;
    if block {
        reread(&f, dev, t)?;
    }
    Ok(())
}

/// Reads the table on `dev`, its sectors `sector_size` bytes (a block
/// device's own size is used instead). A GPT is read when sector 0 holds
/// a protective (0xEE) partition.
pub fn read(dev: &Path, sector_size: u32) -> Result<Table, Error> {
    let f = File::open(dev).map_err(Error::io(format!("open {}", dev.display())))?;
    let ss = match is_block(&f) {
        true => logical_sector_size(&f).map_err(Error::io(format!(
            "{}: read its sector size",
            dev.display()
        )))?,
        false => sector_size,
    };
    let bytes = size(&f, dev)?;
    let mut read = |lba: u64, count: u64| -> Result<Vec<u8>, Error> {
        let mut b = vec![0u8; (count * ss as u64) as usize];
        f.read_exact_at(&mut b, lba * ss as u64)
            .map_err(Error::io(format!("{}: read sector {lba}", dev.display())))?;
        Ok(b)
    };
    let named = |e: Error| match e {
        Error::Read(m) => Error::Read(format!("{}: {m}", dev.display())),
        e => e,
    };
    let table = mbr::decode(&mut read, ss).map_err(named)?;
    if table.parts.iter().any(|p| p.type_ == "ee") {
        return gpt::decode(&mut read, bytes / ss as u64, ss).map_err(named);
    }
    Ok(table)
}

fn is_block(f: &File) -> bool {
    f.metadata().is_ok_and(|m| m.file_type().is_block_device())
}

fn size(mut f: &File, dev: &Path) -> Result<u64, Error> {
    f.seek(SeekFrom::End(0))
        .map_err(Error::io(format!("{}: find its size", dev.display())))
}

// <linux/fs.h>: _IO(0x12, 104), _IO(0x12, 95), _IO(0x12, 105).
const BLKSSZGET: libc::c_ulong = 0x1268;
const BLKRRPART: libc::c_ulong = 0x125f;
const BLKPG: libc::c_ulong = 0x1269;
const BLKPG_ADD_PARTITION: libc::c_int = 1;
const BLKPG_DEL_PARTITION: libc::c_int = 2;

fn logical_sector_size(f: &File) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    let mut ss: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer.
    if unsafe { libc::ioctl(f.as_raw_fd(), BLKSSZGET as _, &mut ss) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(ss as u32)
}

#[repr(C)]
struct BlkpgPartition {
    start: i64,
    length: i64,
    pno: libc::c_int,
    devname: [u8; 64],
    volname: [u8; 64],
}

#[repr(C)]
struct BlkpgIoctlArg {
    op: libc::c_int,
    flags: libc::c_int,
    datalen: libc::c_int,
    data: *mut libc::c_void,
}

fn blkpg(f: &File, op: libc::c_int, pno: u32, start: u64, length: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut p = BlkpgPartition {
        start: start as i64,
        length: length as i64,
        pno: pno as libc::c_int,
        devname: [0; 64],
        volname: [0; 64],
    };
    let mut arg = BlkpgIoctlArg {
        op,
        flags: 0,
        datalen: std::mem::size_of::<BlkpgPartition>() as libc::c_int,
        data: (&mut p as *mut BlkpgPartition).cast(),
    };
    // SAFETY: `arg` points at `p`, both alive for the call.
    if unsafe { libc::ioctl(f.as_raw_fd(), BLKPG as _, &mut arg) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the kernel's partitions of `dev` those of `t`: BLKRRPART, then
/// partition by partition with BLKPG for what the kernel still has
/// different: when the disk is busy (a partition of it open), or when the
/// kernel lacks the table's parser. Partitions that did not change are
/// left alone; one in use that did fails.
fn reread(f: &File, dev: &Path, t: &Table) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    // SAFETY: BLKRRPART takes no argument.
    if unsafe { libc::ioctl(f.as_raw_fd(), BLKRRPART as _, 0) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EBUSY) {
            return Err(Error::Io {
                what: format!("{}: make the kernel read the new table", dev.display()),
                source: err,
            });
        }
    }
    let ss = t.sector_size as u64;
    let want: Vec<(u32, u64, u64)> = t
        .parts
        .iter()
        .map(|p| {
            // The kernel gives an extended partition one sector, at
            // least 1 KiB, as a handle only.
            let len = match t.label == Label::Dos && crate::is_extended(&p.type_) {
                true => ss.max(1024).min(p.size * ss),
                false => p.size * ss,
            };
            (p.number, p.start * ss, len)
        })
        .collect();
    let have = kernel_partitions(dev);
    for (n, start, len) in &have {
        if want.contains(&(*n, *start, *len)) {
            continue;
        }
        blkpg(f, BLKPG_DEL_PARTITION, *n, 0, 0).map_err(|e| Error::Io {
            what: format!(
                "{}: remove the old partition {n} from the kernel (is it in use?)",
                dev.display()
            ),
            source: e,
        })?;
    }
    for (n, start, len) in &want {
        if have.contains(&(*n, *start, *len)) {
            continue;
        }
        blkpg(f, BLKPG_ADD_PARTITION, *n, *start, *len).map_err(|e| Error::Io {
            what: format!("{}: add partition {n} to the kernel", dev.display()),
            source: e,
        })?;
    }
    Ok(())
}

/// The kernel's partitions of `dev` from sysfs: (number, start, length) in bytes.
fn kernel_partitions(dev: &Path) -> Vec<(u32, u64, u64)> {
    let real = std::fs::canonicalize(dev).unwrap_or(dev.to_path_buf());
    let Some(name) = real.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let dir = Path::new("/sys/class/block").join(name);
    let num = |p: &Path| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            Some((
                num(&p.join("partition"))? as u32,
                num(&p.join("start"))? * 512,
                num(&p.join("size"))? * 512,
            ))
        })
        .collect()
}
