//! SIMH tape image files (`.tap`, read by SIMH, mhvtl's tools, `file`):
//! each record is its length (4 bytes, little-endian), the data (padded
//! to an even length) and the length again; a tape mark is a zero length;
//! 0xFFFFFFFF marks the end of the medium.

use crate::{Item, Records, Source};
use anyhow::{bail, ensure, Context, Result};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// SIMH's markers.
const TAPE_MARK: u32 = 0;
const END_OF_MEDIUM: u32 = 0xFFFF_FFFF;

/// A SIMH tape image.
pub struct Simh<W: Write> {
    out: W,
    name: String,
}

impl Simh<BufWriter<std::fs::File>> {
    pub fn create(path: &Path) -> Result<Self> {
        let f =
            std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
        Ok(Simh {
            out: BufWriter::with_capacity(1 << 20, f),
            name: path.display().to_string(),
        })
    }

    /// Keeps the first `files` files of the image at `path` and writes
    /// after them: the file is cut after their last tape mark.
    pub fn after(path: &Path, files: usize) -> Result<Self> {
        let mut keep = 0u64;
        if files > 0 {
            let mut r = Reader::open(path)?;
            let mut seen = 0;
            while seen < files {
                if !r.skip_file()? {
                    bail!(
                        "{}: the tape holds {seen} files, not the {files} to keep",
                        path.display()
                    );
                }
                seen += 1;
            }
            keep = r.offset;
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("open {}", path.display()))?;
        f.set_len(keep)
            .with_context(|| format!("cut {} at byte {keep}", path.display()))?;
        let mut f = f;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(keep))
            .with_context(|| format!("seek in {}", path.display()))?;
        Ok(Simh {
            out: BufWriter::with_capacity(1 << 20, f),
            name: path.display().to_string(),
        })
    }
}

impl<W: Write> Simh<W> {
    pub fn new(out: W, name: &str) -> Self {
        Simh {
            out,
            name: name.into(),
        }
    }

    fn word(&mut self, w: u32) -> Result<()> {
        self.out
            .write_all(&w.to_le_bytes())
            .with_context(|| format!("write {}", self.name))
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Records for Simh<W> {
    fn block_size(&mut self, _size: usize) -> Result<()> {
        // Each record carries its own length.
        Ok(())
    }

    fn record(&mut self, data: &[u8]) -> Result<()> {
        ensure!(
            !data.is_empty() && data.len() < 1 << 24,
            "a SIMH record holds 1 byte to 16 MiB, not {}",
            data.len()
        );
        let n = data.len() as u32;
        self.word(n)?;
        self.out
            .write_all(data)
            .with_context(|| format!("write {}", self.name))?;
        if data.len() % 2 == 1 {
            self.out
                .write_all(&[0])
                .with_context(|| format!("write {}", self.name))?;
        }
        self.word(n)
    }

    fn tape_mark(&mut self) -> Result<()> {
        self.word(TAPE_MARK)
    }

    fn finish(&mut self) -> Result<()> {
        self.word(END_OF_MEDIUM)?;
        self.out
            .flush()
            .with_context(|| format!("write {}", self.name))
    }
}

/// Walks a SIMH tape image: its records and tape marks, up to the end of
/// the medium (the marker or the end of the file).
pub struct Reader<R: Read> {
    input: R,
    name: String,
    offset: u64,
    done: bool,
}

impl Reader<BufReader<std::fs::File>> {
    pub fn open(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        Ok(Reader::new(
            BufReader::with_capacity(1 << 20, f),
            &path.display().to_string(),
        ))
    }
}

impl<R: Read> Reader<R> {
    pub fn new(input: R, name: &str) -> Self {
        Reader {
            input,
            name: name.into(),
            offset: 0,
            done: false,
        }
    }

    /// The next word, or None at the end of the file.
    fn word(&mut self) -> Result<Option<u32>> {
        let mut b = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            let n = self
                .input
                .read(&mut b[got..])
                .with_context(|| format!("read {}", self.name))?;
            if n == 0 {
                if got == 0 {
                    return Ok(None);
                }
                bail!(
                    "{}: cut off at byte {}",
                    self.name,
                    self.offset + got as u64
                );
            }
            got += n;
        }
        self.offset += 4;
        Ok(Some(u32::from_le_bytes(b)))
    }

    /// The next record or tape mark; None at the end of the medium.
    fn read_item(&mut self) -> Result<Option<Item>> {
        if self.done {
            return Ok(None);
        }
        let at = self.offset;
        let n = match self.word()? {
            None | Some(END_OF_MEDIUM) => {
                self.done = true;
                return Ok(None);
            }
            Some(TAPE_MARK) => return Ok(Some(Item::TapeMark)),
            Some(n) if n >= 0xFF00_0000 => {
                bail!("{}: byte {at}: SIMH marker {n:#x}, not handled", self.name)
            }
            // The top byte is a class (SIMH: nonzero for bad records).
            Some(n) if n >> 24 != 0 => {
                bail!("{}: byte {at}: a record marked bad ({n:#x})", self.name)
            }
            Some(n) => n as usize,
        };
        let mut data = vec![0u8; n + n % 2];
        self.input
            .read_exact(&mut data)
            .with_context(|| format!("{}: the record at byte {at} is cut off", self.name))?;
        self.offset += data.len() as u64;
        data.truncate(n);
        match self.word()? {
            Some(m) if m as usize == n => {}
            m => bail!(
                "{}: the record at byte {at} has length {n} before and {m:?} after it",
                self.name
            ),
        }
        Ok(Some(Item::Record(data)))
    }
}

impl<R: Read> Source for Reader<R> {
    fn next_item(&mut self) -> Result<Option<Item>> {
        self.read_item()
    }
}
