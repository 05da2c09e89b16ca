//! Makes a restored file sparse again: every all-zero block becomes a hole.
//! For a restore tool that writes holes out as zeros (restic before 0.15,
//! Debian 12's): the content is the same, only the allocation changes, as
//! the tools that do restore holes do it (all-zero blocks are not written).

use anyhow::{Context, Result};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Punches a hole over every all-zero block of `p`, keeping its size and
/// times; returns the bytes freed.
pub fn dig_holes(p: &Path) -> Result<u64> {
    let meta = fs::symlink_metadata(p).with_context(|| format!("stat {}", p.display()))?;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .with_context(|| format!("open {}", p.display()))?;
    let block = (meta.blksize() as usize).clamp(4096, 1 << 20);
    let mut buf = vec![0u8; block];
    let (mut off, mut freed) = (0u64, 0u64);
    loop {
        let n = crate::sums::read_full(&mut f, &mut buf)
            .with_context(|| format!("read {}", p.display()))?;
        if n == 0 {
            break;
        }
        // Only whole blocks: a hole in the last, partial block frees nothing.
        if n == block && buf.iter().all(|b| *b == 0) {
            // SAFETY: fallocate on an open descriptor with a range inside the file.
            let r = unsafe {
                libc::fallocate(
                    f.as_raw_fd(),
                    libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    off as libc::off_t,
                    n as libc::off_t,
                )
            };
            if r != 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("punch a hole into {}", p.display()));
            }
            freed += n as u64;
        }
        off += n as u64;
    }
    drop(f);
    // Punching holes is a write: the restored times come back.
    let times = [
        libc::timespec {
            tv_sec: meta.atime() as libc::time_t,
            tv_nsec: meta.atime_nsec() as _,
        },
        libc::timespec {
            tv_sec: meta.mtime() as libc::time_t,
            tv_nsec: meta.mtime_nsec() as _,
        },
    ];
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()))
        .expect("paths have no NUL");
    // SAFETY: a valid C path and an array of two timespecs.
    if unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("set the times of {}", p.display()));
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn zeros_become_holes_and_content_stays() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let mut f = fs::File::create(&p).unwrap();
        f.write_all(&vec![0u8; 8 << 20]).unwrap();
        f.seek(SeekFrom::Start(3 << 20)).unwrap();
        f.write_all(b"data").unwrap();
        f.set_len((8 << 20) + 100).unwrap();
        drop(f);
        let before = fs::read(&p).unwrap();
        let mtime = fs::metadata(&p).unwrap().mtime();
        let freed = dig_holes(&p).unwrap();
        assert!(freed >= 7 << 20, "{freed}");
        let meta = fs::metadata(&p).unwrap();
        assert!(
            meta.blocks() * 512 < 1 << 20,
            "{} bytes",
            meta.blocks() * 512
        );
        assert_eq!(meta.mtime(), mtime);
        assert_eq!(fs::read(&p).unwrap(), before);
    }
}
