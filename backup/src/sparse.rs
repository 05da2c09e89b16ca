//! Gives restored files the allocation they had: holes where the source
//! had them, written zeros where it had those.
//!
//! [`dig_holes`] makes every all-zero block a hole, for a restore tool that
//! writes holes out as zeros (restic before 0.15, Debian 12's) or allocates
//! more than the source had (borg: whole chunks around data).
//! [`fill_holes`] undoes the opposite: rsync -S, borg --sparse and restic
//! --sparse make a hole of every run of zeros in every file, also in files
//! that had none (a database's preallocated pages, a swap file), which a
//! later write would then have to allocate.

use anyhow::{Context, Result};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// What [`restore_allocation`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Files the manifest says have holes.
    pub with_holes: usize,
    /// Of those, the ones whose all-zero blocks had to be made holes again
    /// (the restore wrote them out, or allocated chunks around the data).
    pub dug: usize,
    /// Files without holes in the manifest that came back with some, and
    /// had them filled with written zeros.
    pub filled: usize,
}

impl std::fmt::Display for Allocation {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{} files had holes in the backup ({} of them written out or over-allocated by the restore and dug again); {} files without holes came back with some, now filled",
            self.with_holes, self.dug, self.filled
        )
    }
}

/// Gives the files below `root` the allocation `sums` recorded: holes dug
/// wherever a file that had holes came back with allocated zero blocks,
/// zeros written into the holes of a file that had none.
pub fn restore_allocation(sums: &[crate::sums::Entry], root: &Path) -> Result<Allocation> {
    use rayon::prelude::*;
    // Each file on its own, in parallel: (had holes, dug, filled).
    let done: Vec<(bool, bool, bool)> = sums
        .par_iter()
        .filter(|e| e.kind == "file" && e.size > 0 && !e.unverified)
        .map(|e| -> Result<(bool, bool, bool)> {
            let p = root.join(crate::sums::decode(&e.path));
            // A file that did not come back is the check's to report.
            let Ok(meta) = fs::symlink_metadata(&p) else {
                return Ok((false, false, false));
            };
            // Every file with holes is dug, also one that came back with
            // some: borg writes whole chunks around the data, allocating
            // the zeros.
            if e.sparse {
                return Ok((true, dig_holes(&p, &meta)? > 0, false));
            }
            // Blocks for every byte: no hole to fill, nothing to open.
            if meta.blocks() * 512 >= meta.len() {
                return Ok((false, false, false));
            }
            Ok((false, false, fill_holes(&p, &meta)?))
        })
        .collect::<Result<_>>()?;
    Ok(Allocation {
        with_holes: done.iter().filter(|d| d.0).count(),
        dug: done.iter().filter(|d| d.1).count(),
        filled: done.iter().filter(|d| d.2).count(),
    })
}

/// Writes zeros over the holes of `p` (content and times unchanged);
/// whether it had any.
fn fill_holes(p: &Path, meta: &fs::Metadata) -> Result<bool> {
    // Read-only to look: nearly every file has no holes.
    let look = fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
    if !crate::sums::has_holes(&look) {
        return Ok(false);
    }
    let f = OpenOptions::new()
        .write(true)
        .open(p)
        .with_context(|| format!("open {}", p.display()))?;
    let fd = f.as_raw_fd();
    let len = meta.len() as libc::off_t;
    let zeros = vec![0u8; 1 << 20];
    let mut any = false;
    let mut off: libc::off_t = 0;
    while off < len {
        // SAFETY: lseek on an open descriptor.
        let hole = unsafe { libc::lseek(fd, off, libc::SEEK_HOLE) };
        if hole < 0 || hole >= len {
            break;
        }
        // SAFETY: as above; ENXIO (no data after the hole) ends at the size.
        let data = unsafe { libc::lseek(fd, hole, libc::SEEK_DATA) };
        let end = if data < 0 { len } else { data.min(len) };
        let mut at = hole;
        while at < end {
            let n = ((end - at) as usize).min(zeros.len());
            f.write_all_at(&zeros[..n], at as u64)
                .with_context(|| format!("fill a hole of {}", p.display()))?;
            at += n as libc::off_t;
        }
        any = true;
        off = end;
    }
    drop(f);
    if any {
        set_times(p, meta)?;
    }
    Ok(any)
}

/// Punches a hole over every all-zero block of `p`, keeping its size and
/// times; returns the bytes freed. Only allocated ranges are read, so a
/// large sparse file costs what it holds, not its size.
pub fn dig_holes(p: &Path, meta: &fs::Metadata) -> Result<u64> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .with_context(|| format!("open {}", p.display()))?;
    let fd = f.as_raw_fd();
    let len = meta.len();
    let block = meta.blksize().clamp(4096, 1 << 20);
    // Read in large pieces (one read per block was 500 000 reads for a
    // 2 GiB file written out as zeros), each block looked at on its own,
    // and a run of zero blocks punched at once.
    let chunk = ((4u64 << 20) / block).max(1) * block;
    let mut buf = vec![0u8; chunk as usize];
    let punch = |from: u64, to: u64| -> Result<()> {
        // SAFETY: fallocate on an open descriptor; KEEP_SIZE, so a range
        // past the end frees the last block and keeps the size.
        let r = unsafe {
            libc::fallocate(
                fd,
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                from as libc::off_t,
                (to - from).div_ceil(block) as libc::off_t * block as libc::off_t,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("punch a hole into {}", p.display()));
        }
        Ok(())
    };
    let mut freed = 0u64;
    // Only allocated ranges are read; digging inside one moves no other.
    for (data, end) in crate::sums::data_segments(&f, len) {
        // Whole blocks from a block boundary (a partial block frees
        // nothing), and the last block, which ends at the file's end.
        let limit = if end == len { len } else { end / block * block };
        let mut at = data / block * block;
        let mut run: Option<u64> = None;
        while at < limit {
            let n = chunk.min(limit - at) as usize;
            f.read_exact_at(&mut buf[..n], at)
                .with_context(|| format!("read {}", p.display()))?;
            for (i, b) in buf[..n].chunks(block as usize).enumerate() {
                let pos = at + i as u64 * block;
                if b.iter().all(|x| *x == 0) {
                    run.get_or_insert(pos);
                } else if let Some(from) = run.take() {
                    punch(from, pos)?;
                    freed += pos - from;
                }
            }
            at += n as u64;
        }
        if let Some(from) = run.take() {
            punch(from, limit)?;
            freed += limit - from;
        }
    }
    drop(f);
    if freed > 0 {
        // Punching holes is a write: the restored times come back.
        set_times(p, meta)?;
    }
    Ok(freed)
}

/// Sets the access and modification times of `p` (a symlink itself, not
/// what it points to) back to `meta`'s.
pub(crate) fn set_times(p: &Path, meta: &fs::Metadata) -> Result<()> {
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
    if unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("set the times of {}", p.display()));
    }
    Ok(())
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
        let freed = dig_holes(&p, &fs::metadata(&p).unwrap()).unwrap();
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

    #[test]
    fn holes_of_a_file_that_had_none_are_filled_and_sparse_files_stay() {
        let d = tempfile::tempdir().unwrap();
        let (full, sparse) = (d.path().join("full"), d.path().join("sparse"));
        for p in [&full, &sparse] {
            let mut f = fs::File::create(p).unwrap();
            f.seek(SeekFrom::Start(5 << 20)).unwrap();
            f.write_all(b"data").unwrap();
        }
        let before = fs::read(&full).unwrap();
        let mtime = fs::metadata(&full).unwrap().mtime();
        let entry = |name: &str, sparse: bool| crate::sums::Entry {
            path: name.into(),
            kind: "file".into(),
            size: (5 << 20) + 4,
            sparse,
            ..Default::default()
        };
        // Written out in full, but sparse in the source (borg's chunks).
        let dug = d.path().join("dug");
        let mut data = vec![0u8; 5 << 20];
        data.extend_from_slice(b"data");
        fs::write(&dug, &data).unwrap();
        // Sparse already, but with a whole allocated chunk of zeros around
        // its data (borg's restore of a sparse file).
        let chunky = d.path().join("chunky");
        let mut f = fs::File::create(&chunky).unwrap();
        f.write_all(&data[..1 << 20]).unwrap();
        f.write_all(b"data").unwrap();
        f.write_all(&vec![0u8; 3 << 20]).unwrap();
        f.set_len(16 << 20).unwrap();
        drop(f);
        let chunky_data = fs::read(&chunky).unwrap();
        assert!(crate::sums::has_holes(&fs::File::open(&chunky).unwrap()));
        let sums = [
            entry("full", false),
            entry("sparse", true),
            entry("dug", true),
            entry("chunky", true),
        ];
        let done = |dug, filled| Allocation {
            with_holes: 3,
            dug,
            filled,
        };
        assert_eq!(restore_allocation(&sums, d.path()).unwrap(), done(2, 1));
        assert!(fs::metadata(&chunky).unwrap().blocks() * 512 <= 64 << 10);
        assert_eq!(fs::read(&chunky).unwrap(), chunky_data);
        assert!(fs::metadata(&dug).unwrap().blocks() * 512 < 1 << 20);
        assert_eq!(fs::read(&dug).unwrap(), data);
        let meta = fs::metadata(&full).unwrap();
        assert!(
            meta.blocks() * 512 >= 5 << 20,
            "{} bytes",
            meta.blocks() * 512
        );
        assert_eq!((meta.mtime(), fs::read(&full).unwrap()), (mtime, before));
        assert!(fs::metadata(&sparse).unwrap().blocks() * 512 < 1 << 20);
        // Nothing left to fill.
        assert_eq!(restore_allocation(&sums, d.path()).unwrap(), done(0, 0));
    }
}
