//! A tape as the backup target (`tape:///dev/nst0`, or a SIMH tape image
//! file that stands for a drive): ReaR's NETFS on tape, the archive made
//! by GNU tar as `tar.rs` makes it, with the manifest every backup carries.
//!
//! On the tape, after its first file (the OBDR rescue image that `image
//! --media obdr --tape-device` writes, or ReaR's label alone on a blank
//! tape), each backup is two files:
//!
//! 1. the archive as tar writes it, in 64 KiB records;
//! 2. its index: a line naming the format, a JSON line with the
//!    generation, the archive's name, size and BLAKE3, then the checksum
//!    manifest (age-encrypted when the archive is).
//!
//! The index comes last: a backup without its index was cut off, is never
//! restored, and the next backup is written over it. Backups are
//! appended, so the previous one stays restorable until the new one is
//! whole; writing the rescue image again starts the tape afresh. Restores
//! stream the archive from the tape into tar, hashing it on the way, and
//! fail when it is not what the index says. A tape whose first record is
//! not ReaR's label is never written: it holds something else.

use crate::age::{self, Age};
use crate::tar::{self, Tar, ARCHIVE};
use crate::{stream, sums, Backend, Exec, Found, Made, Spec};
use anyhow::{bail, Context, Result};
use rear_tape::Item;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub struct TapeBackup {
    /// The non-rewinding device (`/dev/nst0`) or a SIMH file.
    pub device: PathBuf,
    /// Archive and manifest encrypted to age recipients, or plain.
    pub age: Option<Age>,
}

/// The archive's record size.
const RECORD: usize = 64 << 10;
/// The first line of an index file.
const INDEX: &str = "rear-build tape backup index 1\n";

/// What an index says of its archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Index {
    generation: String,
    /// `backup.tar.zst`, or with `.age` when encrypted.
    archive: String,
    bytes: u64,
    blake3: String,
}

/// The newest whole backup on a tape.
struct Newest {
    /// The number of its archive's file (0 is the label's).
    file: usize,
    index: Index,
    /// The checksum manifest as stored (text, or age's ciphertext).
    sums: Vec<u8>,
}

/// What a tape holds.
struct Scan {
    /// No record at all: a new tape.
    blank: bool,
    /// The files a new backup is written after: the first one and every
    /// whole backup.
    keep: usize,
    newest: Option<Newest>,
}

/// Reads a hashing what passes.
struct Hashing<T> {
    inner: T,
    hash: blake3::Hasher,
    bytes: u64,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Hashing {
            inner,
            hash: blake3::Hasher::new(),
            bytes: 0,
        }
    }

    fn sum(&self) -> (u64, String) {
        (self.bytes, self.hash.finalize().to_hex().to_string())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl TapeBackup {
    fn name(&self) -> String {
        self.device.display().to_string()
    }

    /// Walks the tape: its label, then each backup's archive and index.
    fn scan(&self) -> Result<Scan> {
        let name = self.name();
        let mut t = rear_tape::open_read(&self.device)?;
        match t.next_item()? {
            None => {
                return Ok(Scan {
                    blank: true,
                    keep: 0,
                    newest: None,
                })
            }
            Some(Item::Record(r)) if r.starts_with(rear_tape::LABEL) => {}
            Some(other) => bail!(
                "{name}: the tape does not start with ReaR's label {} but with {}: it is no ReaR or rear-build tape, and is never written as one (write a rescue image to it first with `rear-build image --media obdr --tape-device {name}`, which overwrites it)",
                String::from_utf8_lossy(rear_tape::LABEL),
                match other {
                    Item::TapeMark => "a tape mark".to_string(),
                    Item::Record(r) => format!("a {}-byte record", r.len()),
                }
            ),
        }
        if !t.skip_file()? {
            bail!("{name}: the tape's first file (its label or rescue image) is cut off: write the rescue image again");
        }
        let mut keep = 1;
        let mut newest = None;
        let mut archive_before = false;
        // What cannot be read after the last whole backup is a backup cut
        // off (on a drive: the end of the recorded data).
        let cut = |file: usize, e: anyhow::Error| {
            log::warn!(
                "{name}: file {file} does not read to its end, taken for a backup cut off: {e:#}"
            );
        };
        for file in 1.. {
            let first = match t.next_item() {
                Ok(Some(Item::Record(r))) => r,
                // An empty file: the end of the data.
                Ok(_) => break,
                Err(e) => {
                    cut(file, e);
                    break;
                }
            };
            if !first.starts_with(INDEX.as_bytes()) {
                archive_before = match t.skip_file() {
                    Ok(whole) => whole,
                    Err(e) => {
                        cut(file, e);
                        false
                    }
                };
                if !archive_before {
                    break;
                }
                continue;
            }
            let mut data = first;
            if let Err(e) = rear_tape::read_file(t.as_mut(), &mut data, "an index") {
                cut(file, e);
                break;
            }
            if !archive_before {
                log::warn!("{name}: file {file} is an index with no archive before it; left alone");
                continue;
            }
            let (index, sums) =
                parse_index(&data).with_context(|| format!("{name}: the index in file {file}"))?;
            newest = Some(Newest {
                file: file - 1,
                index,
                sums,
            });
            keep = file + 1;
            archive_before = false;
        }
        Ok(Scan {
            blank: false,
            keep,
            newest,
        })
    }

    fn newest(&self) -> Result<Newest> {
        self.scan()?.newest.with_context(|| {
            format!(
                "{}: the tape holds no whole backup (no index after an archive)",
                self.name()
            )
        })
    }

    /// The age to decrypt an archive named `archive` with, if it is encrypted.
    fn age_for(&self, archive: &str) -> Result<Option<&Age>> {
        let sealed = archive.ends_with(age::SUFFIX);
        if sealed && self.age.is_none() {
            bail!(
                "the backup on {} is encrypted with age: set backup.recipients_file and backup.identity_file",
                self.name()
            );
        }
        Ok(self.age.as_ref().filter(|_| sealed))
    }
}

/// Whether an error was a write into a pipe whose reader had gone.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn index_text(index: &Index, sums: &[u8]) -> Vec<u8> {
    let mut out = INDEX.as_bytes().to_vec();
    out.extend(
        serde_json::to_string(index)
            .expect("an index serializes")
            .bytes(),
    );
    out.push(b'\n');
    out.extend_from_slice(sums);
    out
}

fn parse_index(data: &[u8]) -> Result<(Index, Vec<u8>)> {
    let rest = data
        .strip_prefix(INDEX.as_bytes())
        .context("not an index")?;
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .context("the index has no end of its first line")?;
    let index: Index = serde_json::from_slice(&rest[..end]).context("the index's JSON")?;
    Ok((index, rest[end + 1..].to_vec()))
}

impl Backend for TapeBackup {
    fn name(&self) -> &'static str {
        "tar"
    }

    fn backup(&self, spec: &Spec, exec: &dyn Exec) -> Result<Made> {
        let scan = self.scan()?;
        let scratch = tempfile::tempdir().context("create a temporary directory")?;
        // The scratch directory (the encrypted manifest) is never part of the backup.
        let mut spec = spec.clone();
        let own = spec.inside(scratch.path());
        spec.exclude.extend(own);
        let taken = sums::take(spec.source(), &spec.paths, &spec.exclude)?;
        let tar = Tar {
            dir: scratch.path().to_path_buf(),
            age: self.age.clone(),
        };
        let argv = tar.create_argv(&spec);
        let mut out = match scan.blank {
            true => {
                let mut out = rear_tape::create(&self.device)?;
                out.block_size(rear_tape::HEADER_RECORD)?;
                for r in rear_tape::label("rear-build backup tape\n") {
                    out.record(&r)?;
                }
                out.tape_mark()?;
                out
            }
            false => rear_tape::open_after(&self.device, scan.keep)?,
        };
        out.block_size(0)?;
        let name = format!("the archive on {}", self.name());
        let (from_tar, to_us) = rear_exec::pipe().context("make a pipe")?;
        let (written, ran) = std::thread::scope(|s| {
            let writer = s.spawn(move || -> Result<_> {
                let mut archive = Hashing::new(from_tar);
                rear_tape::write_file(out.as_mut(), &mut archive, RECORD, "tar's archive")?;
                Ok((out, archive.sum()))
            });
            // The archive's last write end goes with it: the writer sees its end.
            let ran = stream::create(exec, &argv, self.age.as_ref(), to_us, &name);
            (writer.join(), ran)
        });
        let written = written
            .map_err(|_| anyhow::anyhow!("the tape writer panicked"))?
            .with_context(|| format!("write the archive to {}", self.name()));
        // A tape that fails leaves the compressor a broken pipe: the tape's
        // error is the cause.
        let (ran, (mut out, (bytes, blake3))) = match (ran, written) {
            (_, Err(e)) => return Err(e),
            (Err(e), Ok(_)) => return Err(e.context("tar could not make the backup")),
            (Ok(ran), Ok(w)) => (ran, w),
        };
        let changed = tar::changed_paths(&ran.stderr);
        if ran.code != 0 && (ran.code != 1 || changed.is_empty()) {
            bail!(
                "tar exited {}: {}; the previous backup is kept (the tape keeps every whole backup)",
                ran.code,
                ran.stderr.trim()
            );
        }
        let entries = crate::settle(&spec, taken, changed)?;
        let text = spec.seal.apply(sums::to_text(&entries))?;
        let stored_sums = match &self.age {
            None => text.into_bytes(),
            Some(a) => {
                let f = scratch.path().join("sums.age");
                a.encrypt(text.into_bytes(), &f, exec)?;
                std::fs::read(&f).with_context(|| format!("read {}", f.display()))?
            }
        };
        let index = Index {
            generation: crate::generation::new_name(),
            archive: age::stored(ARCHIVE, self.age.as_ref()),
            bytes,
            blake3,
        };
        rear_tape::write_file(
            out.as_mut(),
            &mut &index_text(&index, &stored_sums)[..],
            RECORD,
            "the index",
        )?;
        // The second tape mark: the end of the data.
        out.tape_mark()?;
        out.finish()?;
        Ok(Made::of(
            format!("{} ({}, file {})", self.name(), index.generation, scan.keep),
            &entries,
        ))
    }

    fn latest(&self, exec: &dyn Exec) -> Result<Found> {
        let newest = self.newest()?;
        let origin = format!(
            "the manifest of {} on {}",
            newest.index.generation,
            self.name()
        );
        let text = match newest.index.archive.ends_with(age::SUFFIX) {
            false => String::from_utf8(newest.sums).with_context(|| origin.clone())?,
            true => {
                let scratch = tempfile::tempdir().context("create a temporary directory")?;
                let f = scratch.path().join("sums.age");
                crate::generation::create_private(&f)?
                    .write_all(&newest.sums)
                    .with_context(|| format!("write {}", f.display()))?;
                let a = self.age.as_ref().with_context(|| {
                    format!(
                        "the backup on {} is encrypted with age: set backup.recipients_file and backup.identity_file",
                        self.name()
                    )
                })?;
                a.decrypt(&f, exec)?
            }
        };
        Found::parse(newest.index.generation, &text, &origin)
    }

    fn restore(&self, found: &Found, root: &Path, exec: &dyn Exec) -> Result<()> {
        let newest = self.newest()?;
        if newest.index.generation != found.id {
            bail!(
                "the newest backup on {} is {}, not {} as it was when checked: was the tape changed?",
                self.name(),
                newest.index.generation,
                found.id
            );
        }
        let age = self.age_for(&newest.index.archive)?;
        let argv = tar::extract_argv(root);
        let mut t = rear_tape::open_read(&self.device)?;
        for _ in 0..newest.file {
            if !t.skip_file()? {
                bail!("{}: the tape ends before file {}", self.name(), newest.file);
            }
        }
        let name = format!("the archive on {}", self.name());
        let (to_tar, to_us) = rear_exec::pipe().context("make a pipe")?;
        let (read, ran) = std::thread::scope(|s| {
            let reader = s.spawn(move || -> Result<_> {
                let mut into_tar = Hashing::new(to_us);
                rear_tape::read_file(t.as_mut(), &mut into_tar, "the archive")?;
                Ok(into_tar.sum())
            });
            // The archive's last read end goes with it: a reader left with data sees it close.
            let ran = stream::extract(exec, &argv, age, to_tar, &name);
            (reader.join(), ran)
        });
        let read = read.map_err(|_| anyhow::anyhow!("the tape reader panicked"))?;
        let (bytes, blake3) = match (ran, read) {
            // A restore that stopped leaves the reader a broken pipe: not the cause.
            (Err(e), Err(r)) if broken_pipe(&r) => {
                return Err(e).context("tar could not restore the backup")
            }
            (Err(e), Ok(_)) => return Err(e).context("tar could not restore the backup"),
            // A tape that fails cuts the archive short: the tape's error is the cause.
            (_, Err(e)) => {
                return Err(e).with_context(|| format!("read the archive from {}", self.name()))
            }
            (Ok(_), Ok(sum)) => sum,
        };
        if (bytes, &blake3) != (newest.index.bytes, &newest.index.blake3) {
            bail!(
                "the archive read from {} ({bytes} bytes, BLAKE3 {blake3}) is not the one written ({} bytes, BLAKE3 {})",
                self.name(),
                newest.index.bytes,
                newest.index.blake3
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_round_trips_and_anything_else_is_no_index() {
        let i = Index {
            generation: "backup-20261204T180000Z".into(),
            archive: "backup.tar.zst.age".into(),
            bytes: 123,
            blake3: "ab".repeat(32),
        };
        let text = index_text(&i, b"{\"path\":\".\"}\n");
        assert!(text.starts_with(INDEX.as_bytes()));
        let (got, sums) = parse_index(&text).unwrap();
        assert_eq!(got, i);
        assert_eq!(sums, b"{\"path\":\".\"}\n");
        assert!(parse_index(b"\x28\xb5\x2f\xfd zstd").is_err());
        assert!(parse_index(INDEX.as_bytes()).is_err());
    }
}
