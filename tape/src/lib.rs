//! Tapes, record by record: a SIMH tape image file ([`simh`]) or a drive
//! through Linux's `st` driver ([`st`]), behind one writer ([`Records`])
//! and one reader ([`Source`]). The OBDR medium writes its header and ISO
//! with them, the tape backup target its archives; [`open_read`],
//! [`create`] and [`open_after`] pick the kind by what the path is (a
//! character device is a drive, anything else a SIMH file).
//!
//! A tape holds files, each a run of records ended by a tape mark; two
//! tape marks in a row end the recorded data.

pub mod simh;
pub mod st;

use anyhow::{bail, Context, Result};
use std::path::Path;

/// What a tape holds, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    Record(Vec<u8>),
    TapeMark,
}

/// Where records go.
pub trait Records {
    /// The size of the records that follow (a drive's fixed block size;
    /// 0 for records of any size).
    fn block_size(&mut self, size: usize) -> Result<()>;
    fn record(&mut self, data: &[u8]) -> Result<()>;
    fn tape_mark(&mut self) -> Result<()>;
    /// After the last record: ends the medium and flushes it.
    fn finish(&mut self) -> Result<()>;
}

/// Where records come from.
pub trait Source {
    /// The next record or tape mark; None at the end of the data.
    fn next_item(&mut self) -> Result<Option<Item>>;

    /// Moves past the next tape mark; false when the data ended first.
    fn skip_file(&mut self) -> Result<bool> {
        loop {
            match self.next_item()? {
                Some(Item::TapeMark) => return Ok(true),
                Some(Item::Record(_)) => {}
                None => return Ok(false),
            }
        }
    }
}

/// The label ReaR puts at the start of the first record of a tape it
/// writes (its `REAR-000`), and checks before it overwrites one.
pub const LABEL: &[u8] = b"REAR-000";
/// The label header: 20 records of 512 bytes (what OBDR drives expect
/// before the CD image).
pub const HEADER_RECORDS: usize = 20;
pub const HEADER_RECORD: usize = 512;

/// The label header's records: [`LABEL`], then `text` (what the tape
/// holds) in the second record, the rest zeros.
pub fn label(text: &str) -> Vec<[u8; HEADER_RECORD]> {
    let mut out = vec![[0u8; HEADER_RECORD]; HEADER_RECORDS];
    out[0][..LABEL.len()].copy_from_slice(LABEL);
    let text = &text.as_bytes()[..text.len().min(HEADER_RECORD)];
    out[1][..text.len()].copy_from_slice(text);
    out
}

/// Whether `path` is a tape drive (a character device) rather than a
/// SIMH file.
pub fn is_drive(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

/// Reads the tape at `path` from its start.
pub fn open_read(path: &Path) -> Result<Box<dyn Source + Send>> {
    Ok(match is_drive(path) {
        true => Box::new(st::Drive::open_read(path)?),
        false => Box::new(simh::Reader::open(path)?),
    })
}

/// Writes the tape at `path` from its start (a SIMH file is made anew).
pub fn create(path: &Path) -> Result<Box<dyn Records + Send>> {
    Ok(match is_drive(path) {
        true => Box::new(st::Drive::open_write(path, 0)?),
        false => Box::new(simh::Simh::create(path)?),
    })
}

/// Writes the tape at `path` after its first `files` files: what follows
/// them is overwritten (a drive cannot do otherwise; a SIMH file is cut
/// there). Fails when the tape holds fewer files.
pub fn open_after(path: &Path, files: usize) -> Result<Box<dyn Records + Send>> {
    Ok(match is_drive(path) {
        true => Box::new(st::Drive::open_write(path, files)?),
        false => Box::new(simh::Simh::after(path, files)?),
    })
}

/// A tape file: the records between two tape marks (or the start, or the
/// end of the data), their sizes run-length encoded.
#[derive(Debug, PartialEq, Eq)]
pub struct FileSummary {
    /// (record size, how many in a row).
    pub runs: Vec<(usize, u64)>,
    pub bytes: u64,
}

/// The files on a tape, up to the double tape mark or the end.
pub fn list(from: &mut dyn Source) -> Result<Vec<FileSummary>> {
    let empty = || FileSummary {
        runs: Vec::new(),
        bytes: 0,
    };
    let mut out = Vec::new();
    let mut cur = empty();
    let mut marks_in_a_row = 0;
    while let Some(item) = from.next_item()? {
        match item {
            Item::TapeMark => {
                marks_in_a_row += 1;
                if marks_in_a_row == 2 {
                    break;
                }
                out.push(std::mem::replace(&mut cur, empty()));
            }
            Item::Record(d) => {
                marks_in_a_row = 0;
                cur.bytes += d.len() as u64;
                match cur.runs.last_mut() {
                    Some((size, count)) if *size == d.len() => *count += 1,
                    _ => cur.runs.push((d.len(), 1)),
                }
            }
        }
    }
    if !cur.runs.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// Writes every record and tape mark of `from` to `to`, each run of
/// records after setting its size, then finishes `to`.
pub fn copy(from: &mut dyn Source, to: &mut dyn Records) -> Result<()> {
    let mut size = 0;
    while let Some(item) = from.next_item()? {
        match item {
            Item::Record(d) => {
                if d.len() != size {
                    size = d.len();
                    to.block_size(size)?;
                }
                to.record(&d)?;
            }
            Item::TapeMark => to.tape_mark()?,
        }
    }
    to.finish()
}

/// Reads the records of the current file into `out` up to its tape mark;
/// the bytes read. An error when the data ends first.
pub fn read_file(from: &mut dyn Source, out: &mut dyn std::io::Write, what: &str) -> Result<u64> {
    let mut bytes = 0u64;
    loop {
        match from.next_item()? {
            Some(Item::Record(d)) => {
                out.write_all(&d).with_context(|| format!("write {what}"))?;
                bytes += d.len() as u64;
            }
            Some(Item::TapeMark) => return Ok(bytes),
            None => bail!("{what}: the tape ends inside it (no tape mark after it)"),
        }
    }
}

/// Writes `data` as one tape file: records of `record` bytes (the last
/// one shorter), then a tape mark.
pub fn write_file(
    to: &mut dyn Records,
    data: &mut dyn std::io::Read,
    record: usize,
    what: &str,
) -> Result<u64> {
    let mut buf = vec![0u8; record];
    let mut bytes = 0u64;
    loop {
        let mut n = 0;
        while n < record {
            match data.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).with_context(|| format!("read {what}")),
            }
        }
        if n == 0 {
            break;
        }
        to.record(&buf[..n])?;
        bytes += n as u64;
        if n < record {
            break;
        }
    }
    to.tape_mark()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_starts_with_rears_and_says_what_follows() {
        let l = label("rear-build tape\n");
        assert_eq!(l.len(), 20);
        assert_eq!(&l[0][..8], b"REAR-000");
        assert!(l[0][8..].iter().all(|&b| b == 0));
        assert!(l[1].starts_with(b"rear-build tape\n"));
        assert!(l[2..].iter().all(|r| r.iter().all(|&b| b == 0)));
    }

    #[test]
    fn files_are_written_in_records_and_read_back_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let mut w = simh::Simh::new(Vec::new(), "mem");
        assert_eq!(
            write_file(&mut w, &mut &data[..], 4096, "d").unwrap(),
            10_000
        );
        assert_eq!(write_file(&mut w, &mut &b""[..], 4096, "e").unwrap(), 0);
        w.tape_mark().unwrap();
        w.finish().unwrap();
        let b = w.into_inner();
        let mut r = simh::Reader::new(std::io::Cursor::new(&b), "mem");
        assert_eq!(
            list(&mut r).unwrap(),
            [FileSummary {
                runs: vec![(4096, 2), (1808, 1)],
                bytes: 10_000
            }]
        );
        let mut r = simh::Reader::new(std::io::Cursor::new(&b), "mem");
        let mut got = Vec::new();
        assert_eq!(read_file(&mut r, &mut got, "d").unwrap(), 10_000);
        assert!(got == data);
        // The empty file: a tape mark alone, then the second one.
        assert_eq!(read_file(&mut r, &mut Vec::new(), "e").unwrap(), 0);
        assert_eq!(r.next_item().unwrap(), Some(Item::TapeMark));
        assert_eq!(r.next_item().unwrap(), None);
    }
}
