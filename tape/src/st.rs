//! A tape drive through Linux's `st` driver (`Documentation/scsi/st.rst`):
//! block sizes set with MTSETBLK (0: variable, each write one record),
//! tape marks with MTWEOF, files skipped with MTFSF, rewound with MTREW.
//! Use the non-rewinding device (`/dev/nst0`). Untested here: these
//! machines have no drive, and qemu emulates none.

use crate::{Item, Records, Source};
use anyhow::{ensure, Context, Result};
use std::io::{Read, Write};
use std::path::Path;

pub struct Drive {
    file: std::fs::File,
    name: String,
    /// Reading: the last read was a tape mark (a second one in a row is
    /// the end of the data).
    after_mark: bool,
}

/// `struct mtop` of <linux/mtio.h> and the operations used.
#[repr(C)]
struct MtOp {
    op: libc::c_short,
    count: libc::c_int,
}
const MTFSF: libc::c_short = 1;
const MTWEOF: libc::c_short = 5;
const MTREW: libc::c_short = 6;
const MTSETBLK: libc::c_short = 20;
const MTCOMPRESSION: libc::c_short = 32;
/// `_IOW('m', 1, struct mtop)`.
const MTIOCTOP: libc::c_ulong =
    (1 << 30) | ((std::mem::size_of::<MtOp>() as libc::c_ulong) << 16) | (0x6d << 8) | 1;

/// The largest record read (the st driver fails a read into a smaller
/// buffer than the record).
const MAX_RECORD: usize = 1 << 20;

impl Drive {
    fn open(device: &Path, write: bool) -> Result<Drive> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .open(device)
            .with_context(|| format!("open the tape device {}", device.display()))?;
        let mut t = Drive {
            file,
            name: device.display().to_string(),
            after_mark: false,
        };
        t.op(MTREW, 1, "rewind")?;
        Ok(t)
    }

    /// Opens `device` to read from its start, records of any size.
    pub fn open_read(device: &Path) -> Result<Drive> {
        let mut t = Drive::open(device, false)?;
        t.op(MTSETBLK, 0, "set variable-size records")?;
        Ok(t)
    }

    /// Opens `device` to write after its first `files` files.
    pub fn open_write(device: &Path, files: usize) -> Result<Drive> {
        let mut t = Drive::open(device, true)?;
        if files > 0 {
            let n = libc::c_int::try_from(files).context("too many files to skip")?;
            t.op(MTFSF, n, &format!("skip {files} files"))?;
        }
        // As ReaR: the drive's compression off, so an OBDR image is stored
        // as the emulated CD reads it. Not every drive has it.
        if let Err(e) = t.op(MTCOMPRESSION, 0, "turn compression off") {
            log::warn!("{e:#}");
        }
        Ok(t)
    }

    fn op(&mut self, op: libc::c_short, count: libc::c_int, what: &str) -> Result<()> {
        use std::os::fd::AsRawFd;
        let arg = MtOp { op, count };
        // SAFETY: MTIOCTOP reads one `struct mtop`, which `arg` is.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), MTIOCTOP, &arg as *const MtOp) };
        if r != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("{what} on the tape device {}", self.name));
        }
        Ok(())
    }
}

impl Records for Drive {
    fn block_size(&mut self, size: usize) -> Result<()> {
        let n = libc::c_int::try_from(size).context("block size")?;
        self.op(MTSETBLK, n, "set the block size")
    }

    fn record(&mut self, data: &[u8]) -> Result<()> {
        let n = self
            .file
            .write(data)
            .with_context(|| format!("write a record to {}", self.name))?;
        ensure!(
            n == data.len(),
            "{}: wrote {n} of a record's {} bytes",
            self.name,
            data.len()
        );
        Ok(())
    }

    fn tape_mark(&mut self) -> Result<()> {
        self.op(MTWEOF, 1, "write a tape mark")
    }

    fn finish(&mut self) -> Result<()> {
        self.op(MTREW, 1, "rewind")
    }
}

impl Source for Drive {
    fn next_item(&mut self) -> Result<Option<Item>> {
        let mut buf = vec![0u8; MAX_RECORD];
        match self.file.read(&mut buf) {
            // A tape mark reads as nothing; two in a row end the data.
            Ok(0) if self.after_mark => Ok(None),
            Ok(0) => {
                self.after_mark = true;
                Ok(Some(Item::TapeMark))
            }
            Ok(n) => {
                self.after_mark = false;
                buf.truncate(n);
                Ok(Some(Item::Record(buf)))
            }
            // Some drives fail a read past the last tape mark instead.
            Err(_) if self.after_mark => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read a record from {}", self.name)),
        }
    }

    fn skip_file(&mut self) -> Result<bool> {
        self.after_mark = true;
        Ok(self.op(MTFSF, 1, "skip a file").is_ok())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tape_ioctl_number_is_linuxs() {
        // <linux/mtio.h> on x86_64: _IOW('m', 1, struct mtop) = 0x40086d01.
        assert_eq!(super::MTIOCTOP, 0x4008_6d01);
    }
}
