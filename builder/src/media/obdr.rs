//! The OBDR tape (`rescue.tap`): HP's One-Button Disaster Recovery layout,
//! as ReaR's `OUTPUT=OBDR` writes it, in a SIMH tape image file.
//!
//! An OBDR drive switched into CD-ROM emulation takes the tape for a CD
//! whose image starts 20 blocks into it, and boots it when the 18th
//! 2048-byte record of that image holds El Torito's boot record (HP
//! Ultrium technical reference, "CD-ROM emulation"). So, on the tape:
//!
//! 1. the header: 20 records of 512 bytes, the first starting with ReaR's
//!    label `REAR-000` (what ReaR checks before it overwrites a tape), the
//!    second naming the image, the rest zeros;
//! 2. at logical block 20, with no tape mark before it (a tape mark counts
//!    as a block and would move the image to block 21), the ISO that the
//!    `iso` medium writes (its rescue.iso when both are built together,
//!    else one made here the same way), in records of 2048 bytes;
//! 3. a tape mark, and a second one: the end of the recorded data.
//!
//! The records go into a SIMH tape image file or to a drive through the
//! `st` driver (the `tape` crate); the backup target `tape://` adds the
//! backup's files after them.

use super::{Input, Medium, Shared};
use anyhow::{bail, ensure, Context, Result};
use rear_exec::Exec;
use rear_tape::{simh::Simh, Item, Records, Source};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

pub struct Obdr;

pub use rear_tape::{HEADER_RECORD, HEADER_RECORDS, LABEL};
/// The size of the ISO's records: a CD's sector.
pub const ISO_RECORD: usize = 2048;

/// The header's records: ReaR's label, then what is on the tape.
pub fn header(host: &str, id: &str) -> Vec<[u8; HEADER_RECORD]> {
    rear_tape::label(&format!(
        "rear-build OBDR rescue tape\nhost {host}\nimage {id}\nat block {HEADER_RECORDS}: the rescue ISO in {ISO_RECORD}-byte records\n"
    ))
}

/// Writes the OBDR layout to `to`: the header, the ISO at `iso` in
/// 2048-byte records straight after it, two tape marks.
pub fn write_tape(to: &mut dyn Records, header: &[[u8; HEADER_RECORD]], iso: &Path) -> Result<()> {
    let f = std::fs::File::open(iso).with_context(|| format!("open {}", iso.display()))?;
    write_tape_from(to, header, &f, iso)
}

/// Reads a file from an offset on with `pread`, leaving the file's own
/// offset alone (another thread may hold the same file).
struct ReadAt<'a> {
    file: &'a std::fs::File,
    at: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// [`write_tape`] from the ISO open as `f` (named `iso` in messages),
/// read from its start whatever its offset.
pub fn write_tape_from(
    to: &mut dyn Records,
    header: &[[u8; HEADER_RECORD]],
    f: &std::fs::File,
    iso: &Path,
) -> Result<()> {
    let size = f
        .metadata()
        .with_context(|| format!("stat {}", iso.display()))?
        .len();
    ensure!(
        size > 0 && size % ISO_RECORD as u64 == 0,
        "{}: {size} bytes, not a whole number of {ISO_RECORD}-byte sectors",
        iso.display()
    );
    to.block_size(HEADER_RECORD)?;
    for r in header {
        to.record(r)?;
    }
    to.block_size(ISO_RECORD)?;
    let mut r = BufReader::with_capacity(1 << 20, ReadAt { file: f, at: 0 });
    let mut buf = [0u8; ISO_RECORD];
    for _ in 0..size / ISO_RECORD as u64 {
        r.read_exact(&mut buf)
            .with_context(|| format!("read {}", iso.display()))?;
        to.record(&buf)?;
    }
    to.tape_mark()?;
    to.tape_mark()?;
    to.finish()
}

impl Medium for Obdr {
    fn write(
        &self,
        input: &Input,
        to: &Path,
        scratch: &Path,
        exec: &dyn Exec,
        shared: &Shared,
    ) -> Result<String> {
        // The `iso` medium's rescue.iso when it is written in this build
        // (waiting for it); else the same ISO made here from the same
        // inputs: byte for byte rescue.iso either way (its build is
        // reproducible).
        let header = header(&input.menu.host, input.id);
        let mut out = Simh::create(to)?;
        let note = match shared.iso() {
            Some(done) => {
                log::debug!("obdr: the ISO of the iso medium, {}", done.path.display());
                write_tape_from(&mut out, &header, &done.file, &done.path)?;
                done.note
            }
            None => {
                let iso = scratch.join("rescue.iso");
                let iso_scratch = scratch.join("iso-scratch");
                std::fs::create_dir_all(&iso_scratch)
                    .with_context(|| format!("create {}", iso_scratch.display()))?;
                let note = super::iso::Iso.write(input, &iso, &iso_scratch, exec, shared)?;
                write_tape(&mut out, &header, &iso)?;
                note
            }
        };
        Ok(format!(
            "SIMH tape image: {HEADER_RECORDS} x {HEADER_RECORD}-byte header, the ISO at block {HEADER_RECORDS} ({note}); rear-build tape write puts it on a drive"
        ))
    }
}

/// Copies the ISO of an OBDR image (`rescue.tap`) to `to`: what the drive
/// presents as a CD, from block 20 up to the next tape mark. Checks the
/// header's layout and the El Torito record the drive looks for; returns
/// the ISO's size.
pub fn extract_iso(tap: &Path, to: &Path) -> Result<u64> {
    let mut r = rear_tape::simh::Reader::open(tap)?;
    for i in 0..HEADER_RECORDS {
        match r.next_item()? {
            Some(Item::Record(d)) if d.len() == HEADER_RECORD => {
                if i == 0 && !d.starts_with(LABEL) {
                    log::warn!(
                        "{}: no {} label (not written by ReaR or rear-build)",
                        tap.display(),
                        String::from_utf8_lossy(LABEL)
                    );
                }
            }
            other => bail!(
                "{}: not an OBDR tape: block {i} is {} where the header has a {HEADER_RECORD}-byte record",
                tap.display(),
                describe(&other)
            ),
        }
    }
    let f = std::fs::File::create(to).with_context(|| format!("create {}", to.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, f);
    let mut size = 0u64;
    let mut block = HEADER_RECORDS;
    loop {
        match r.next_item()? {
            Some(Item::Record(d)) if d.len() == ISO_RECORD => {
                if block - HEADER_RECORDS == 17 && &d[7..30] != b"EL TORITO SPECIFICATION" {
                    bail!(
                        "{}: the image's 18th record holds no El Torito boot record: an OBDR drive would not boot it",
                        tap.display()
                    );
                }
                out.write_all(&d)
                    .with_context(|| format!("write {}", to.display()))?;
                size += d.len() as u64;
            }
            Some(Item::TapeMark) => break,
            other => bail!(
                "{}: block {block} is {} inside the ISO, which has {ISO_RECORD}-byte records up to a tape mark",
                tap.display(),
                describe(&other)
            ),
        }
        block += 1;
    }
    ensure!(
        size >= 18 * ISO_RECORD as u64,
        "{}: the ISO has only {} records",
        tap.display(),
        size / ISO_RECORD as u64
    );
    out.flush()
        .with_context(|| format!("write {}", to.display()))?;
    Ok(size)
}

fn describe(item: &Option<Item>) -> String {
    match item {
        None => "the end of the data".into(),
        Some(Item::TapeMark) => "a tape mark".into(),
        Some(Item::Record(d)) => format!("a {}-byte record", d.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small ISO-like file: 20 sectors, El Torito's record in the 18th.
    fn fake_iso(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
        let mut data: Vec<u8> = (0..20 * ISO_RECORD).map(|i| (i % 251) as u8).collect();
        let at = 17 * ISO_RECORD;
        data[at..at + 7].copy_from_slice(b"\0CD001\x01");
        data[at + 7..at + 30].copy_from_slice(b"EL TORITO SPECIFICATION");
        let p = dir.join("fake.iso");
        std::fs::write(&p, &data).unwrap();
        (p, data)
    }

    fn le(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// The bytes of a tape image, walked by hand (not by `Reader`).
    #[test]
    fn the_simh_image_frames_the_header_and_the_iso_records() {
        let d = tempfile::tempdir().unwrap();
        let (iso, iso_data) = fake_iso(d.path());
        let mut w = Simh::new(Vec::new(), "mem");
        write_tape(&mut w, &header("web1", "0123abcd"), &iso).unwrap();
        let b = w.into_inner();
        let mut at = 0;
        // The header: 20 records of 512, each framed by its length.
        for i in 0..HEADER_RECORDS {
            assert_eq!(le(&b, at), 512, "header record {i}: leading length");
            let rec = &b[at + 4..at + 4 + 512];
            assert_eq!(
                le(&b, at + 4 + 512),
                512,
                "header record {i}: trailing length"
            );
            match i {
                0 => {
                    assert_eq!(&rec[..8], b"REAR-000");
                    assert!(rec[8..].iter().all(|&x| x == 0));
                }
                1 => {
                    let t = String::from_utf8_lossy(rec);
                    assert!(
                        t.starts_with("rear-build OBDR rescue tape\nhost web1\nimage 0123abcd\n"),
                        "{t}"
                    );
                }
                _ => assert!(rec.iter().all(|&x| x == 0), "header record {i}"),
            }
            at += 4 + 512 + 4;
        }
        // The ISO follows at once (no tape mark: it must be block 20), in
        // records of 2048 whose data is the ISO's bytes in order.
        assert_eq!(le(&b, at), 2048, "block 20 is not the ISO's first record");
        let mut got = Vec::new();
        while le(&b, at) == 2048 {
            got.extend_from_slice(&b[at + 4..at + 4 + 2048]);
            assert_eq!(le(&b, at + 4 + 2048), 2048);
            at += 4 + 2048 + 4;
        }
        assert!(
            got == iso_data,
            "the records hold {} bytes, not the ISO's {}",
            got.len(),
            iso_data.len()
        );
        assert_eq!(
            &got[17 * 2048 + 7..17 * 2048 + 30],
            b"EL TORITO SPECIFICATION"
        );
        // Two tape marks and the end of the medium, nothing after.
        assert_eq!(&b[at..], &[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn the_reader_lists_the_files_and_extracts_the_iso() {
        let d = tempfile::tempdir().unwrap();
        let (iso, iso_data) = fake_iso(d.path());
        let tap = d.path().join("rescue.tap");
        let mut w = Simh::create(&tap).unwrap();
        write_tape(&mut w, &header("web1", "0123abcd"), &iso).unwrap();
        drop(w);
        assert_eq!(
            rear_tape::list(&mut rear_tape::simh::Reader::open(&tap).unwrap()).unwrap(),
            [rear_tape::FileSummary {
                runs: vec![(512, 20), (2048, 20)],
                bytes: 20 * 512 + 20 * 2048
            }]
        );
        let out = d.path().join("out.iso");
        assert_eq!(extract_iso(&tap, &out).unwrap(), iso_data.len() as u64);
        assert!(
            std::fs::read(&out).unwrap() == iso_data,
            "the ISO extracted differs"
        );
    }

    #[test]
    fn the_reader_refuses_broken_frames_and_images_that_would_not_boot() {
        let d = tempfile::tempdir().unwrap();
        let (iso, mut iso_data) = fake_iso(d.path());
        let mut w = Simh::new(Vec::new(), "mem");
        write_tape(&mut w, &header("h", "i"), &iso).unwrap();
        let good = w.into_inner();
        let tap = d.path().join("t.tap");
        let out = d.path().join("o.iso");
        // A trailing length that disagrees.
        let mut bad = good.clone();
        bad[4 + 512] = 0x01;
        std::fs::write(&tap, &bad).unwrap();
        let e = format!("{:#}", extract_iso(&tap, &out).unwrap_err());
        assert!(e.contains("length 512 before"), "{e}");
        // Cut off inside a record.
        std::fs::write(&tap, &good[..good.len() / 2]).unwrap();
        let e = format!("{:#}", extract_iso(&tap, &out).unwrap_err());
        assert!(e.contains("cut off"), "{e}");
        // No El Torito record where the drive looks for it.
        iso_data[17 * ISO_RECORD + 7] = b'X';
        std::fs::write(&iso, &iso_data).unwrap();
        let mut w = Simh::new(Vec::new(), "mem");
        write_tape(&mut w, &header("h", "i"), &iso).unwrap();
        std::fs::write(&tap, w.into_inner()).unwrap();
        let e = format!("{:#}", extract_iso(&tap, &out).unwrap_err());
        assert!(e.contains("El Torito"), "{e}");
    }

    #[test]
    fn an_odd_record_is_padded_to_an_even_length() {
        let mut w = Simh::new(Vec::new(), "mem");
        w.record(b"abc").unwrap();
        w.tape_mark().unwrap();
        w.finish().unwrap();
        let b = w.into_inner();
        assert_eq!(b, b"\x03\0\0\0abc\0\x03\0\0\0\0\0\0\0\xff\xff\xff\xff");
        let mut r = rear_tape::simh::Reader::new(&b[..], "mem");
        assert_eq!(r.next_item().unwrap(), Some(Item::Record(b"abc".to_vec())));
        assert_eq!(r.next_item().unwrap(), Some(Item::TapeMark));
        assert_eq!(r.next_item().unwrap(), None);
    }
}
