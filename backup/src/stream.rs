//! tar's archive streamed through a pipe and compressed here, with the zstd
//! library: tar writes and reads the plain tar stream (`--file=-`), so
//! neither the host nor the rescue system needs the `zstd` program. The
//! archive is a standard `.tar.zst` all the same (`tar --zstd -xf` or
//! `zstd -d | tar -x` restore it by hand); encrypted, it is that stream
//! through the `age` program.
//!
//! Compression: zstd's default level 3 (what `tar --zstd` gives), with a
//! content checksum (as the `zstd` program writes it) and zstd's worker
//! threads. With one worker or more the library's output does not depend on
//! the worker count, nor on how the input is fed (checked with libzstd
//! 1.5.7 and 1 to 8 workers on 120 MB, and by a test here); it differs from
//! single-threaded mode's, and from another zstd version's, so the bytes
//! depend on the library, not on the machine.
//!
//! Every stage stops when its neighbour does: a compressor or decoder that
//! fails drops its pipe ends, so tar sees the end of its input or a broken
//! pipe; a tar that dies leaves the decoder a broken pipe, which stops it.
//! The error reported is the cause, not what it set off.

use crate::age::Age;
use crate::{Call, Exec};
use anyhow::{anyhow, bail, Context, Result};
use rear_exec::Output;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Write};

/// zstd's default level, the one `tar --zstd` gives.
pub const LEVEL: i32 = 3;

/// Read and write sizes, and the pipes' capacity: few system calls and
/// context switches per gigabyte.
const BUF: usize = 1 << 20;

/// Worker threads at most: each holds some 20 MiB at level 3. The bytes do
/// not depend on the count (module docs).
const MAX_WORKERS: u32 = 8;

/// A pipe (read end, write end) of [`BUF`] bytes where the kernel allows
/// (64 KiB otherwise: only slower).
fn pipe() -> Result<(File, File)> {
    let (r, w) = rear_exec::pipe().context("make a pipe")?;
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own; failure leaves the pipe as it was.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, BUF as libc::c_int) };
    Ok((r, w))
}

fn workers() -> u32 {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get() as u32)
        .clamp(1, MAX_WORKERS)
}

/// Compresses all of `from` into `to` as one zstd frame; `to` when done.
pub fn compress<W: Write>(mut from: impl Read, to: W, workers: u32) -> io::Result<W> {
    let mut enc = zstd::stream::write::Encoder::new(BufWriter::with_capacity(BUF, to), LEVEL)?;
    enc.multithread(workers.max(1))?;
    enc.include_checksum(true)?;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Never flush before the end: a flush would end a job early.
        enc.write_all(&buf[..n])?;
    }
    enc.finish()?.into_inner().map_err(|e| e.into_error())
}

/// Why decompressing stopped.
#[derive(Debug)]
pub enum Decode {
    /// The archive could not be read or is no whole zstd stream.
    Archive(io::Error),
    /// Its reader (tar) took no more.
    Out(io::Error),
}

/// Decompresses `from` (zstd frames, to their end) into `to`; the bytes
/// written.
pub fn decompress(from: impl Read, to: impl Write) -> Result<u64, Decode> {
    decompress_tee(from, to, None)
}

/// Chunks in flight to a [`Tee`]'s reader: with [`BUF`]-byte chunks, some
/// MiB of memory, and room for the reader to lag a little.
const TEE_CHUNKS: usize = 8;

/// Where [`decompress_tee`] also sends the decoded stream: chunks on a
/// bounded channel (a slow reader slows the decoder, never loses data),
/// and the spent buffers back for reuse (no copy on the decoder's side).
pub struct Tee {
    pub to: std::sync::mpsc::SyncSender<crate::tarhash::Chunk>,
    pub spent: std::sync::mpsc::Receiver<Vec<u8>>,
}

/// A tee and the reader at its other end.
pub fn tee() -> (Tee, crate::tarhash::Chunks) {
    let (to, rx) = std::sync::mpsc::sync_channel(TEE_CHUNKS);
    let (back, spent) = std::sync::mpsc::sync_channel(TEE_CHUNKS + 2);
    (Tee { to, spent }, crate::tarhash::Chunks::new(rx, back))
}

/// [`decompress`], every chunk written to `to` then also sent to `tee`
/// while its reader takes them; one that stops (done, failed, panicked)
/// stops only the tee, never the decoding.
pub fn decompress_tee(
    from: impl Read,
    mut to: impl Write,
    mut tee: Option<Tee>,
) -> Result<u64, Decode> {
    let mut dec = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(BUF, from))
        .map_err(Decode::Archive)?;
    let mut buf = vec![0u8; BUF];
    let mut bytes = 0u64;
    loop {
        let n = match dec.read(&mut buf) {
            Ok(0) => return Ok(bytes),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Decode::Archive(e)),
        };
        to.write_all(&buf[..n]).map_err(Decode::Out)?;
        bytes += n as u64;
        if let Some(t) = &tee {
            let next = t.spent.try_recv().unwrap_or_else(|_| vec![0u8; BUF]);
            match t.to.send((std::mem::replace(&mut buf, next), n)) {
                Ok(()) => {}
                Err(back) => {
                    buf = back.0 .0;
                    tee = None;
                }
            }
        }
    }
}

/// A thread's result, a panic made an error.
fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>, what: &str) -> Result<T> {
    h.join().map_err(|_| anyhow!("{what} panicked"))
}

/// Whether age's run ended by a signal: its output pipe was closed under it
/// (something after it failed first).
fn killed(o: &Output) -> bool {
    o.code == -1
}

/// Runs tar's `argv` (which writes the tar stream to stdout: `--file=-`),
/// compresses the stream here and, with `age`, encrypts it with the `age`
/// program; the archive goes to `out` (a file, or a pipe to a tape writer).
/// Returns how tar ended, whatever its exit code (the caller judges it:
/// exit 1 can be a warning). An error when the archive could not be made
/// whole: compression or encryption failed (`name`: the archive, for
/// messages), or tar could not run.
pub fn create(
    exec: &dyn Exec,
    argv: &[String],
    age: Option<&Age>,
    out: File,
    name: &str,
) -> Result<Output> {
    let (from_tar, tar_out) = pipe()?;
    let workers = workers();
    std::thread::scope(|s| {
        let (compressed, sealed) = match age {
            None => (
                s.spawn(move || compress(from_tar, out, workers).map(drop)),
                None,
            ),
            Some(a) => {
                let (to_age, age_in) = pipe()?;
                let call = a.encrypt_call().stdin_from(to_age).stdout_to(out);
                let sealed = s.spawn(move || {
                    let o = exec.output(&call);
                    // Its stdin's last read end: a compressor left with data sees it close.
                    drop(call);
                    o
                });
                (
                    s.spawn(move || compress(from_tar, age_in, workers).map(drop)),
                    Some(sealed),
                )
            }
        };
        let call = Call::argv(argv).stdout_to(tar_out);
        let ran = exec.output(&call);
        // The stream's last write end: the compressor sees its end.
        drop(call);
        let compressed = joined(compressed, "the compressor")?;
        if let Some(sealed) = sealed {
            let o = joined(sealed, "age's runner")?
                .with_context(|| format!("age could not encrypt {name}"))?;
            if o.code != 0 {
                bail!(
                    "age could not encrypt {name}: exit {}: {}",
                    o.code,
                    o.stderr.trim()
                );
            }
        }
        compressed.with_context(|| format!("compress tar's stream into {name}"))?;
        ran.map_err(Into::into)
    })
}

/// Restores with tar's `argv` (which reads the tar stream from stdin:
/// `--file=-`) from `input`, the archive as stored (a file, or a pipe a
/// tape reader writes): decrypted with the `age` program when `age`,
/// decompressed here. A damaged archive fails naming `name`.
pub fn extract(
    exec: &dyn Exec,
    argv: &[String],
    age: Option<&Age>,
    input: File,
    name: &str,
) -> Result<()> {
    extract_with(exec, argv, age, input, name, false).map(drop)
}

/// [`extract`], and the content hash of every regular file in the tar
/// stream (`tarhash`), taken by a thread of its own from a tee of the
/// decoded stream. None when they could not be taken (logged, with why):
/// the caller then reads the restored files instead.
pub fn extract_hashed(
    exec: &dyn Exec,
    argv: &[String],
    age: Option<&Age>,
    input: File,
    name: &str,
) -> Result<Option<crate::tarhash::Hashes>> {
    extract_with(exec, argv, age, input, name, true)
}

fn extract_with(
    exec: &dyn Exec,
    argv: &[String],
    age: Option<&Age>,
    input: File,
    name: &str,
    hash: bool,
) -> Result<Option<crate::tarhash::Hashes>> {
    let (tar_in, to_tar) = pipe()?;
    let (tee, chunks) = match hash {
        true => {
            let (t, c) = tee();
            (Some(t), Some(c))
        }
        false => (None, None),
    };
    std::thread::scope(|s| {
        // Its end (done, an error, a panic) drops the channel's reader:
        // the decoder stops teeing and goes on.
        let hashed = chunks.map(|c| s.spawn(move || crate::tarhash::hashes(c)));
        let (decoded, opened) = match age {
            None => (s.spawn(move || decompress_tee(input, to_tar, tee)), None),
            Some(a) => {
                let (from_age, age_out) = pipe()?;
                let call = a.decrypt_call()?.stdin_from(input).stdout_to(age_out);
                let opened = s.spawn(move || {
                    let o = exec.output(&call);
                    // Its stdout's last write end: the decoder sees the end.
                    drop(call);
                    o
                });
                (
                    s.spawn(move || decompress_tee(from_age, to_tar, tee)),
                    Some(opened),
                )
            }
        };
        let call = Call::argv(argv).stdin_from(tar_in);
        let ran = exec.run(&call);
        // The stream's last read end: a decoder left with data sees it close.
        drop(call);
        let decoded = joined(decoded, "the decompressor")?;
        // The decoder is done: the channel has its end, the parser returns.
        let hashes = hashed.and_then(|h| {
            match joined(h, "the parser of the tar stream").and_then(|r| r) {
                Ok(h) => Some(h),
                Err(e) => {
                    log::warn!("the files' hashes could not be taken from the tar stream ({e:#}): every restored file is read again to check it");
                    None
                }
            }
        });
        // Upstream first: each stage's failure cuts the next one short.
        if let Some(opened) = opened {
            let o = joined(opened, "age's runner")?
                .with_context(|| format!("age could not decrypt {name}"))?;
            if o.code != 0 && !(killed(&o) && decoded.is_err()) {
                let id = age.and_then(|a| a.identity.as_deref());
                let id = id.map_or("?".into(), |p| p.display().to_string());
                let hint = match o.stderr.contains("no identity matched") {
                    true => " (is it the one for the recipients the backup was made for?)",
                    false => " (is the archive damaged?)",
                };
                bail!(
                    "age could not decrypt {name} with the identity in {id}{hint}: exit {}: {}",
                    o.code,
                    o.stderr.trim()
                );
            }
        }
        match (decoded, ran) {
            (Err(Decode::Archive(e)), ran) => {
                let tar = match ran {
                    Err(t) => format!(" (and so tar failed: {t})"),
                    Ok(_) => String::new(),
                };
                Err(anyhow!(e).context(format!(
                    "the archive {name} is damaged or unreadable: it is no whole zstd stream{tar}"
                )))
            }
            (_, Err(t)) => Err(t.into()),
            (Err(Decode::Out(e)), Ok(_)) => Err(anyhow!(e).context(format!(
                "tar ended before the archive {name} did: the rest was not restored"
            ))),
            (Ok(_), Ok(_)) => Ok(hashes),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Some MiB of tar-like data: text, repeats and noise.
    fn data(mib: usize) -> Vec<u8> {
        let mut x = 0x9e3779b97f4a7c15u64;
        let mut out = Vec::with_capacity(mib << 20);
        while out.len() < mib << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 3 {
                0 => out.extend_from_slice(format!("line {} of a file\n", x % 1000).as_bytes()),
                1 => out.extend_from_slice(&x.to_le_bytes()),
                _ => out.extend(std::iter::repeat_n((x >> 8) as u8, (x % 300) as usize)),
            }
        }
        out
    }

    #[test]
    fn the_bytes_do_not_depend_on_the_worker_count_and_round_trip() {
        // More than a few of zstd's jobs at level 3.
        let d = data(40);
        let one = compress(&d[..], Vec::new(), 1).unwrap();
        assert_eq!(one, compress(&d[..], Vec::new(), 3).unwrap());
        assert_eq!(&one[..4], b"\x28\xb5\x2f\xfd", "a zstd frame");
        let mut back = Vec::new();
        assert_eq!(decompress(&one[..], &mut back).unwrap(), d.len() as u64);
        assert!(back == d);
    }

    #[test]
    fn damage_and_a_cut_are_archive_errors() {
        let d = data(2);
        let z = compress(&d[..], Vec::new(), 1).unwrap();
        let mut bad = z.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        for (what, input) in [
            ("damaged", &bad[..]),
            ("cut", &z[..z.len() - 100]),
            ("no zstd", &b"plain tar, not zstd"[..]),
        ] {
            match decompress(input, io::sink()) {
                Err(Decode::Archive(_)) => {}
                other => panic!("{what}: {other:?}"),
            }
        }
    }

    fn sh(script: &str) -> Vec<String> {
        ["sh", "-c", script].map(String::from).to_vec()
    }

    /// A full disk under the compressor fails the run naming the archive,
    /// and the "tar" writing into it stops (a broken pipe) instead of
    /// waiting for ever.
    #[test]
    fn a_compressor_that_cannot_write_fails_and_stops_tar() {
        let full = File::options().write(true).open("/dev/full").unwrap();
        let err = create(
            &rear_exec::System,
            &sh("head -c 50000000 /dev/urandom"),
            None,
            full,
            "/srv/backup.tar.zst",
        )
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("compress tar's stream into /srv/backup.tar.zst")
                && err.contains("No space left on device"),
            "{err}"
        );
    }

    #[test]
    fn tar_s_exit_code_and_stderr_come_back_and_the_archive_is_whole() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.zst");
        let out = create(
            &rear_exec::System,
            &sh("printf stream; echo warned >&2; exit 1"),
            None,
            File::create(&a).unwrap(),
            "a",
        )
        .unwrap();
        assert_eq!((out.code, out.stderr.as_str()), (1, "warned\n"));
        let mut back = Vec::new();
        decompress(File::open(&a).unwrap(), &mut back).unwrap();
        assert_eq!(back, b"stream");
    }

    /// A damaged archive fails naming it, and "tar" sees the end of its
    /// input (it would wait for ever otherwise); a "tar" that stops reading
    /// stops the decoder.
    #[test]
    fn restores_stop_at_the_first_failure_and_name_it() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.zst");
        fs_write(&a, &compress(&data(8)[..], Vec::new(), 1).unwrap());
        let ok = extract(
            &rear_exec::System,
            &sh("cat > /dev/null"),
            None,
            File::open(&a).unwrap(),
            "a",
        );
        ok.unwrap();
        let err = extract(
            &rear_exec::System,
            &sh("head -c 1 > /dev/null; exit 3"),
            None,
            File::open(&a).unwrap(),
            "a",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("exit status: 3"), "{err:#}");
        let mut bad = std::fs::read(&a).unwrap();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        fs_write(&a, &bad);
        let err = extract(
            &rear_exec::System,
            &sh("cat > /dev/null"),
            None,
            File::open(&a).unwrap(),
            "/srv/a.tar.zst",
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("the archive /srv/a.tar.zst is damaged"),
            "{err:#}"
        );
    }

    fn fs_write(p: &std::path::Path, data: &[u8]) {
        std::fs::write(p, data).unwrap();
    }

    #[test]
    fn a_closed_reader_stops_the_decoder() {
        let z = compress(&data(8)[..], Vec::new(), 1).unwrap();
        let (r, w) = pipe().unwrap();
        drop(r);
        match decompress(&z[..], w) {
            Err(Decode::Out(e)) => assert_eq!(e.kind(), ErrorKind::BrokenPipe),
            other => panic!("{other:?}"),
        }
    }
}
