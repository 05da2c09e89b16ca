//! The content hash of every regular file in a tar stream, taken as the
//! stream goes by (a restore tees tar's input here, `stream::extract_hashed`),
//! so that the check after a restore need not read the files again.
//!
//! What GNU tar writes with tar.rs's options: POSIX (PAX) format, which
//! GNU tar 1.34 takes for `--xattrs`/`--acls` (PAX records `path`,
//! `linkpath`, `size` apply to the next member; xattrs, ACLs and SELinux
//! labels are skipped; sparse files in PAX sparse 1.0), and the gnu format
//! of older archives (long names and link names `L`, `K`; old GNU sparse
//! members `S` with extension blocks). Hardlinks (`1`) get their target's
//! hash. A sparse member hashes as the file it restores to: its holes as
//! zeros. Anything this parser does not understand for certain (a bad
//! checksum, PAX sparse 0.x, a truncated stream) is an error: the caller
//! then reads every file again instead.
//!
//! What this trusts: tar wrote the bytes it was given (it exits non-zero
//! when a write fails) and the file has the size the stream gave it. What
//! it proves: the archive's bytes are the manifest's.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;

/// Manifest path (`sums::encode`d, `./`-less) → (blake3 hex, size).
pub type Hashes = HashMap<String, (String, u64)>;

const BLOCK: usize = 512;

/// The manifest path of a member name: `./srv/x` is `srv/x`, `./` is `.`.
fn manifest_path(name: &[u8]) -> String {
    let mut n = name;
    while let Some(rest) = n.strip_prefix(b"./") {
        n = rest;
    }
    while let Some(rest) = n.strip_prefix(b"/") {
        n = rest;
    }
    while n.len() > 1 && n.ends_with(b"/") {
        n = &n[..n.len() - 1];
    }
    if n.is_empty() || n == b"." {
        return ".".into();
    }
    crate::sums::encode(std::ffi::OsStr::from_bytes(n))
}

/// A NUL-terminated field.
fn cstr(f: &[u8]) -> &[u8] {
    f.iter().position(|b| *b == 0).map_or(f, |i| &f[..i])
}

/// A numeric header field: octal (spaces and NULs around it), or GNU's
/// base-256 when its first byte has the high bit.
fn number(f: &[u8]) -> Result<u64> {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        if f[0] & 0x40 != 0 {
            bail!("a negative number in a tar header");
        }
        let mut v: u64 = u64::from(f[0] & 0x3f);
        for b in &f[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .context("a number too large in a tar header")?;
        }
        return Ok(v);
    }
    let t = std::str::from_utf8(f).context("a number in a tar header is not text")?;
    let t = t.trim_matches(|c: char| c == ' ' || c == '\0');
    if t.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(t, 8).with_context(|| format!("{t:?} is no octal number in a tar header"))
}

fn checksum_ok(h: &[u8; BLOCK]) -> Result<bool> {
    let want = number(&h[148..156])?;
    let got: u64 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    // Some old tars summed signed bytes.
    let signed: i64 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(*b as i8)
            }
        })
        .sum();
    Ok(got == want || signed == want as i64)
}

/// The reader's next `n` bytes, fed to `each` in pieces.
fn take(r: &mut impl Read, mut n: u64, buf: &mut [u8], mut each: impl FnMut(&[u8])) -> Result<()> {
    while n > 0 {
        let k = n.min(buf.len() as u64) as usize;
        r.read_exact(&mut buf[..k])
            .context("the tar stream ended inside a member")?;
        each(&buf[..k]);
        n -= k as u64;
    }
    Ok(())
}

fn padding(n: u64) -> u64 {
    (BLOCK as u64 - n % BLOCK as u64) % BLOCK as u64
}

fn zeros(h: &mut blake3::Hasher, mut n: u64) {
    static Z: [u8; 1 << 16] = [0; 1 << 16];
    while n > 0 {
        let k = n.min(Z.len() as u64) as usize;
        h.update(&Z[..k]);
        n -= k as u64;
    }
}

/// A member's data as a whole (a long name, PAX records), at most 16 MiB.
fn whole(r: &mut impl Read, size: u64) -> Result<Vec<u8>> {
    if size > 16 << 20 {
        bail!("a tar metadata member of {size} bytes");
    }
    let mut v = vec![0u8; size as usize];
    r.read_exact(&mut v)
        .context("the tar stream ended inside a member")?;
    io::copy(&mut r.take(padding(size)), &mut io::sink())?;
    Ok(v)
}

/// PAX records: `LEN key=value\n`.
fn pax(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() && rest[0] != 0 {
        let sp = rest
            .iter()
            .position(|b| *b == b' ')
            .context("a PAX record without its length")?;
        let len: usize = std::str::from_utf8(&rest[..sp])?
            .parse()
            .context("a PAX record's length")?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            bail!("a PAX record's length is wrong");
        }
        let rec = &rest[sp + 1..len - 1];
        let eq = rec
            .iter()
            .position(|b| *b == b'=')
            .context("a PAX record without `=`")?;
        out.push((
            String::from_utf8_lossy(&rec[..eq]).into_owned(),
            rec[eq + 1..].to_vec(),
        ));
        rest = &rest[len..];
    }
    Ok(out)
}

fn sparse_field(line: &[u8]) -> Result<u64> {
    std::str::from_utf8(line)?
        .trim()
        .parse()
        .context("a sparse map's number")
}

/// The hash of a sparse file whose runs of data (`map`: offset, length;
/// `stored` bytes in all) come next in `r`, its holes as zeros, `real`
/// bytes long.
fn sparse_hash(
    r: &mut impl Read,
    map: &[(u64, u64)],
    real: u64,
    stored: u64,
    buf: &mut [u8],
) -> Result<String> {
    let total: u64 = map.iter().map(|(_, n)| n).sum();
    if total != stored {
        bail!("a sparse member's map ({total} bytes) disagrees with its data ({stored})");
    }
    let mut hasher = blake3::Hasher::new();
    let mut at = 0u64;
    for &(off, n) in map {
        if off < at || off.checked_add(n).is_none_or(|e| e > real) {
            bail!("a sparse member's map is out of order");
        }
        zeros(&mut hasher, off - at);
        take(r, n, buf, |d| {
            hasher.update(d);
        })?;
        at = off + n;
    }
    zeros(&mut hasher, real - at);
    Ok(hasher.finalize().to_hex().to_string())
}

/// Reads a tar stream to its end-of-archive blocks; the hashes of its
/// regular files (a hardlink gets its target's, when the stream had it).
pub fn hashes(mut r: impl Read) -> Result<Hashes> {
    let mut out = Hashes::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut h = [0u8; BLOCK];
    // What the metadata members say of the next member.
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax_path: Option<Vec<u8>> = None;
    let mut pax_link: Option<Vec<u8>> = None;
    let mut pax_size: Option<u64> = None;
    // PAX sparse 1.0 (what GNU tar writes in posix format, the one it
    // takes for --xattrs): (major, minor), name, real size.
    let mut sparse: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut sparse_name: Option<Vec<u8>> = None;
    let mut sparse_real: Option<u64> = None;
    loop {
        r.read_exact(&mut h)
            .context("the tar stream ended before its end-of-archive block")?;
        if h.iter().all(|b| *b == 0) {
            // The end: what follows (a second zero block, the record's
            // padding) is tar's to read.
            return Ok(out);
        }
        if !checksum_ok(&h)? {
            bail!("a tar header's checksum is wrong");
        }
        let kind = h[156];
        let size = match pax_size {
            Some(s) if !matches!(kind, b'x' | b'g' | b'L' | b'K') => s,
            _ => number(&h[124..136])?,
        };
        match kind {
            b'L' => {
                long_name = Some(cstr(&whole(&mut r, size)?).to_vec());
                continue;
            }
            b'K' => {
                long_link = Some(cstr(&whole(&mut r, size)?).to_vec());
                continue;
            }
            b'x' => {
                for (k, v) in pax(&whole(&mut r, size)?)? {
                    match k.as_str() {
                        "path" => pax_path = Some(v),
                        "linkpath" => pax_link = Some(v),
                        "size" => {
                            pax_size = Some(
                                std::str::from_utf8(&v)?
                                    .parse()
                                    .context("a PAX size is no number")?,
                            )
                        }
                        "GNU.sparse.major" => sparse.get_or_insert_default().0 = v,
                        "GNU.sparse.minor" => sparse.get_or_insert_default().1 = v,
                        "GNU.sparse.name" => sparse_name = Some(v),
                        "GNU.sparse.realsize" => {
                            sparse_real = Some(
                                std::str::from_utf8(&v)?
                                    .parse()
                                    .context("a PAX sparse size is no number")?,
                            )
                        }
                        k if k.starts_with("GNU.sparse") => {
                            bail!("a PAX sparse member of format 0.x ({k}): not read here")
                        }
                        _ => {}
                    }
                }
                continue;
            }
            b'g' => {
                whole(&mut r, size)?;
                continue;
            }
            _ => {}
        }
        let sparse_v1 = match sparse.take() {
            None => false,
            Some((maj, min)) if maj == b"1" && min == b"0" => true,
            Some((maj, min)) => bail!(
                "a PAX sparse member of format {}.{}: not read here",
                String::from_utf8_lossy(&maj),
                String::from_utf8_lossy(&min)
            ),
        };
        let name = match (sparse_name.take(), long_name.take(), pax_path.take()) {
            (Some(n), _, _) => n,
            (None, l, p) => match (l, p) {
                (_, Some(p)) => p,
                (Some(l), None) => l,
                (None, None) => {
                    let mut n = cstr(&h[..100]).to_vec();
                    // POSIX ustar (not GNU's `ustar  `) splits long names.
                    if &h[257..263] == b"ustar\0" {
                        let prefix = cstr(&h[345..500]);
                        if !prefix.is_empty() {
                            n = [prefix, b"/", &n].concat();
                        }
                    }
                    n
                }
            },
        };
        let real = sparse_real.take();
        let link = match (long_link.take(), pax_link.take()) {
            (_, Some(p)) => p,
            (Some(l), None) => l,
            (None, None) => cstr(&h[157..257]).to_vec(),
        };
        pax_size = None;
        match kind {
            b'0' | b'\0' | b'7' if sparse_v1 => {
                // The map first, as decimal lines (how many runs, then
                // each one's offset and length), to a block's end; then
                // the runs' data.
                let real = real.context("a PAX sparse member without its real size")?;
                let mut text = Vec::new();
                let mut lines = 0usize;
                let mut want: Option<usize> = None;
                while want.is_none_or(|w| lines < 1 + 2 * w) {
                    let mut b = [0u8; BLOCK];
                    r.read_exact(&mut b)
                        .context("the tar stream ended inside a sparse map")?;
                    text.extend_from_slice(&b);
                    lines = text.iter().filter(|c| **c == b'\n').count();
                    if want.is_none() && lines >= 1 {
                        want = Some(
                            sparse_field(text.split(|c| *c == b'\n').next().unwrap())? as usize
                        );
                    }
                    if text.len() > 16 << 20 {
                        bail!("a sparse map of more than 16 MiB");
                    }
                }
                let nums: Vec<u64> = text
                    .split(|c| *c == b'\n')
                    .skip(1)
                    .take(2 * want.unwrap_or(0))
                    .map(sparse_field)
                    .collect::<Result<_>>()?;
                let map: Vec<(u64, u64)> = nums.chunks(2).map(|c| (c[0], c[1])).collect();
                let stored = size
                    .checked_sub(text.len() as u64)
                    .context("a sparse map longer than its member")?;
                let h = sparse_hash(&mut r, &map, real, stored, &mut buf)?;
                take(&mut r, padding(size), &mut buf, |_| {})?;
                out.insert(manifest_path(&name), (h, real));
            }
            b'0' | b'\0' | b'7' => {
                let mut hasher = blake3::Hasher::new();
                take(&mut r, size, &mut buf, |d| {
                    hasher.update(d);
                })?;
                take(&mut r, padding(size), &mut buf, |_| {})?;
                out.insert(
                    manifest_path(&name),
                    (hasher.finalize().to_hex().to_string(), size),
                );
            }
            b'S' => {
                // Old GNU sparse: (offset, length) of each run of data, 4
                // in the header, 21 in each extension block; the data are
                // the runs one after the other.
                let mut map = Vec::new();
                let entries = |blk: &[u8], at: usize, n: usize, map: &mut Vec<(u64, u64)>| {
                    for i in 0..n {
                        let e = &blk[at + i * 24..at + i * 24 + 24];
                        if e[0] == 0 {
                            break;
                        }
                        map.push((number(&e[..12])?, number(&e[12..])?));
                    }
                    Ok::<_, anyhow::Error>(())
                };
                entries(&h, 386, 4, &mut map)?;
                let real = number(&h[483..495])?;
                let mut more = h[482] != 0;
                while more {
                    let mut x = [0u8; BLOCK];
                    r.read_exact(&mut x)
                        .context("the tar stream ended inside a sparse header")?;
                    entries(&x, 0, 21, &mut map)?;
                    more = x[504] != 0;
                }
                let h = sparse_hash(&mut r, &map, real, size, &mut buf)?;
                take(&mut r, padding(size), &mut buf, |_| {})?;
                out.insert(manifest_path(&name), (h, real));
            }
            b'1' => {
                take(&mut r, size + padding(size), &mut buf, |_| {})?;
                if let Some(v) = out.get(&manifest_path(&link)).cloned() {
                    out.insert(manifest_path(&name), v);
                }
            }
            // Directories, symlinks, devices, FIFOs, GNU dumpdirs, volume
            // labels: their data (usually none) is skipped.
            _ => take(&mut r, size + padding(size), &mut buf, |_| {})?,
        }
    }
}

/// A chunk of the stream: a buffer and how much of it holds data.
pub type Chunk = (Vec<u8>, usize);

/// A reader of the chunks a channel brings; the end of the channel is the
/// end of the stream. Each chunk read goes back on `spent` for reuse.
pub struct Chunks {
    rx: std::sync::mpsc::Receiver<Chunk>,
    spent: std::sync::mpsc::SyncSender<Vec<u8>>,
    cur: Chunk,
    at: usize,
}

impl Chunks {
    pub fn new(
        rx: std::sync::mpsc::Receiver<Chunk>,
        spent: std::sync::mpsc::SyncSender<Vec<u8>>,
    ) -> Chunks {
        Chunks {
            rx,
            spent,
            cur: (Vec::new(), 0),
            at: 0,
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.cur.1 {
            match self.rx.recv() {
                Ok(next) => {
                    let (done, _) = std::mem::replace(&mut self.cur, next);
                    // The decoder takes it back if it has room; else dropped.
                    if !done.is_empty() {
                        let _ = self.spent.try_send(done);
                    }
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.1 - self.at);
        out[..n].copy_from_slice(&self.cur.0[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    /// A tree with what tar's headers make awkward: a sparse file of more
    /// runs than its header holds, long names and link targets, xattrs, an
    /// ACL, hardlinks (one to a long name), a name that is not UTF-8, an
    /// empty file, files of exactly 512 bytes and of zero-filled blocks.
    pub(crate) fn awkward(src: &Path) {
        fs::create_dir_all(src.join("srv/d")).unwrap();
        let f = fs::File::create(src.join("srv/sparse")).unwrap();
        f.set_len(64 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        for i in 0..12u64 {
            f.write_all_at(&[i as u8 + 1; 5000], i * (5 << 20) + 777)
                .unwrap();
        }
        drop(f);
        let long = "l".repeat(120);
        let deep = src.join(format!("srv/{}/{}", "d".repeat(90), "e".repeat(90)));
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join(&long), "deep and long").unwrap();
        fs::hard_link(deep.join(&long), src.join("srv/link-to-long")).unwrap();
        std::os::unix::fs::symlink(deep.join(&long), src.join("srv/sym")).unwrap();
        fs::write(src.join("srv/a"), "content a").unwrap();
        fs::hard_link(src.join("srv/a"), src.join("srv/d/a2")).unwrap();
        fs::write(src.join("srv/empty"), "").unwrap();
        fs::write(src.join("srv/512"), [b'x'; 512]).unwrap();
        fs::write(src.join("srv/zeros"), vec![0u8; 3 * 512]).unwrap();
        let odd = std::ffi::OsStr::from_bytes(b"srv/odd-\xff\\name");
        fs::write(src.join(odd), "not utf-8").unwrap();
        let x = src.join("srv/with-xattr");
        fs::write(&x, "has an xattr").unwrap();
        let c = std::ffi::CString::new(x.as_os_str().as_bytes()).unwrap();
        let value = b"value of the attribute";
        // SAFETY: a valid C path, name and value with its length.
        let r = unsafe {
            libc::setxattr(
                c.as_ptr(),
                c"user.test".as_ptr(),
                value.as_ptr() as *const libc::c_void,
                value.len(),
                0,
            )
        };
        assert_eq!(r, 0, "setxattr: {}", io::Error::last_os_error());
        let _ = std::process::Command::new("setfacl")
            .args(["-m", "u:1234:r"])
            .arg(&x)
            .status();
    }

    /// The archive GNU tar makes of `src` with the tar method's options.
    pub(crate) fn gnu_tar(src: &Path, extra: &[&str]) -> Vec<u8> {
        let b = crate::tar::Tar {
            dir: PathBuf::from("/nonexistent"),
            age: None,
        };
        let mut argv = b.create_argv(&crate::Spec::new(src, vec![PathBuf::from(".")], vec![]));
        argv.splice(2..2, extra.iter().map(|s| s.to_string()));
        stdout_of(std::process::Command::new(&argv[0]).args(&argv[1..]))
    }

    /// What a tar run that must succeed wrote.
    fn stdout_of(c: &mut std::process::Command) -> Vec<u8> {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Whether the archive has a member of type `t` (a header's checksum
    /// and type at a block boundary).
    fn has_type(tar: &[u8], t: u8) -> bool {
        tar.chunks(BLOCK).any(|b| {
            b.len() == BLOCK && b[156] == t && checksum_ok(b.try_into().unwrap()).unwrap_or(false)
        })
    }

    /// The archive `tar --format=gnu` makes of `src` without xattrs (with
    /// them GNU tar writes PAX headers, and so PAX sparse members).
    fn old_gnu_tar(src: &Path) -> Vec<u8> {
        stdout_of(
            std::process::Command::new("tar")
                .args([
                    "--create",
                    "--sparse",
                    "--format=gnu",
                    "--numeric-owner",
                    "--file=-",
                ])
                .arg(format!("--directory={}", src.display()))
                .arg("."),
        )
    }

    fn same_as_the_files(d: &Path, tar: &[u8]) {
        let got = hashes(tar).unwrap();
        let want = crate::sums::collect(d, &[PathBuf::from(".")], &[]).unwrap();
        let files: Vec<_> = want.iter().filter(|e| e.kind == "file").collect();
        assert_eq!(files.len(), 10, "{files:?}");
        for e in &files {
            assert_eq!(
                got.get(&e.path),
                Some(&(e.blake3.clone().unwrap(), e.size)),
                "{}",
                e.path
            );
        }
        assert_eq!(got.len(), files.len(), "{:?}", got.keys());
        assert!(got.contains_key("srv/odd-\\xff\\\\name"));
        assert_eq!(got["srv/sparse"].1, 64 << 20);
    }

    #[test]
    fn stream_hashes_are_the_files_own_for_what_gnu_tar_writes() {
        let d = tempfile::tempdir().unwrap();
        awkward(d.path());
        // With the tar method's options: PAX headers (xattrs, long names,
        // sparse files as PAX sparse 1.0).
        let tar = gnu_tar(d.path(), &[]);
        for (t, what) in [(b'x', "a PAX header"), (b'1', "a hardlink")] {
            assert!(has_type(&tar, t), "no {what} in the archive");
        }
        for needle in [
            &b"SCHILY.xattr.user.test"[..],
            b"GNU.sparse.major=1",
            b"linkpath=",
            b" path=",
        ] {
            assert!(
                tar.windows(needle.len()).any(|w| w == needle),
                "no {} in the archive",
                String::from_utf8_lossy(needle)
            );
        }
        same_as_the_files(d.path(), &tar);
        // GNU format: long names, old GNU sparse with extension blocks.
        let tar = old_gnu_tar(d.path());
        for (t, what) in [
            (b'S', "a GNU sparse member"),
            (b'L', "a long name"),
            (b'K', "a long link name"),
            (b'1', "a hardlink"),
        ] {
            assert!(has_type(&tar, t), "no {what} in the archive");
        }
        let ext = tar
            .chunks(BLOCK)
            .any(|b| b.len() == BLOCK && b[156] == b'S' && b[482] != 0);
        assert!(ext, "no extended sparse header");
        same_as_the_files(d.path(), &tar);
    }

    #[test]
    fn a_damaged_or_cut_stream_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("f"), vec![5u8; 3000]).unwrap();
        let tar = gnu_tar(d.path(), &[]);
        hashes(&tar[..]).unwrap();
        assert!(hashes(&tar[..1024]).is_err(), "cut");
        let mut bad = tar.clone();
        bad[10] ^= 1; // the first header's name: its checksum fails
        assert!(hashes(&bad[..]).is_err(), "damaged");
        // Older PAX sparse formats: not read, an error.
        let f = fs::File::create(d.path().join("sparse")).unwrap();
        f.set_len(1 << 20).unwrap();
        let old = gnu_tar(d.path(), &["--sparse-version=0.1"]);
        let err = format!("{:#}", hashes(&old[..]).unwrap_err());
        assert!(err.contains("PAX sparse member of format 0"), "{err}");
    }

    #[test]
    fn member_names_are_manifest_paths() {
        assert_eq!(manifest_path(b"./srv/x"), "srv/x");
        assert_eq!(manifest_path(b"./"), ".");
        assert_eq!(manifest_path(b"./srv/d/"), "srv/d");
        assert_eq!(manifest_path(b"a\xffb"), "a\\xffb");
    }
}
