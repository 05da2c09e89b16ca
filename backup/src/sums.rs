//! The checksum manifest of a backup: one JSON line per file with what a
//! restore must reproduce (type, mode, owner, size, content hash, link
//! target, extended attributes including ACLs, hardlink group, sparseness),
//! and the check of a restored tree against it.

use crate::view::shown;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to the backup root, `./`-less (`etc/fstab`).
    pub path: String,
    /// `file`, `dir`, `symlink`, `char`, `block`, `fifo`, `socket`.
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Extended attribute name → blake3 of its value (ACLs are
    /// `system.posix_acl_*` attributes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub xattrs: BTreeMap<String, String>,
    /// The first path of its hardlink group, for every other member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_of: Option<String>,
    /// Has holes (`SEEK_HOLE` finds one before its end): restored with a
    /// hole wherever it holds a whole block of zeros; a file without is
    /// restored fully allocated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sparse: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdev: Option<u64>,
    /// Changed while it was backed up: in the backup (or gone, if it was
    /// deleted), but what it holds cannot be checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
}

/// `entries` with those at `changed` paths marked unverified, and an
/// unverified entry for each changed path they lack (it appeared while
/// the backup ran), sorted by path.
pub fn mark_unverified(
    mut entries: Vec<Entry>,
    changed: &std::collections::BTreeSet<String>,
) -> Vec<Entry> {
    let mut seen = std::collections::BTreeSet::new();
    for e in &mut entries {
        e.unverified |= changed.contains(&e.path);
        seen.insert(e.path.clone());
    }
    let appeared: Vec<Entry> = changed
        .iter()
        .filter(|p| !seen.contains(*p))
        .map(|p| Entry {
            path: p.clone(),
            unverified: true,
            ..Default::default()
        })
        .collect();
    if !appeared.is_empty() {
        entries.extend(appeared);
        entries.sort_by(|a, b| a.path.cmp(&b.path));
    }
    entries
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("paths have no NUL")
}

/// Extended attributes of `p` itself (not following a symlink).
pub fn xattrs(p: &Path) -> BTreeMap<String, String> {
    let c = cpath(p);
    let mut out = BTreeMap::new();
    // SAFETY: llistxattr/lgetxattr get a valid C path and buffers of the
    // lengths passed; a size query passes a null buffer with length 0.
    unsafe {
        let n = libc::llistxattr(c.as_ptr(), std::ptr::null_mut(), 0);
        if n <= 0 {
            return out;
        }
        let mut names = vec![0u8; n as usize];
        let n = libc::llistxattr(
            c.as_ptr(),
            names.as_mut_ptr() as *mut libc::c_char,
            names.len(),
        );
        if n <= 0 {
            return out;
        }
        for name in names[..n as usize]
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
        {
            let cname = CString::new(name).unwrap();
            let len = libc::lgetxattr(c.as_ptr(), cname.as_ptr(), std::ptr::null_mut(), 0);
            if len < 0 {
                continue;
            }
            let mut val = vec![0u8; len as usize];
            let len = libc::lgetxattr(
                c.as_ptr(),
                cname.as_ptr(),
                val.as_mut_ptr() as *mut libc::c_void,
                val.len(),
            );
            if len < 0 {
                continue;
            }
            val.truncate(len as usize);
            out.insert(
                String::from_utf8_lossy(name).into_owned(),
                blake3::hash(&val).to_hex().to_string(),
            );
        }
    }
    out
}

/// A path or link target as manifest text, losslessly: UTF-8 as is, a
/// backslash doubled, every byte that is not UTF-8 as `\xHH` (Linux names
/// are bytes; JSON strings are Unicode).
pub fn encode(name: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in name.as_bytes().utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes [`encode`] wrote.
pub fn decode(text: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("");
            match u8::from_str_radix(hex, 16) {
                Ok(v) => {
                    out.push(v);
                    i += 4;
                }
                Err(_) => {
                    out.push(b[i]);
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// The content hash of `p` and whether it has holes.
fn hash_file(p: &Path) -> Result<(String, bool)> {
    thread_local! {
        // One buffer per thread, reused: a new zeroed 4 MiB for each of
        // tens of thousands of small files was most of a verify's time.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let f = fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
    let holes = has_holes(&f);
    let mut h = blake3::Hasher::new();
    // Taken out of the thread's slot while in use, not borrowed: while
    // update_rayon waits for its other half, this thread may run another
    // file's hash_file (rayon steals work), which then makes its own.
    let mut buf = BUF.take();
    buf.resize(4 << 20, 0);
    let mut read = |h: &mut blake3::Hasher, from: u64, to: u64| -> Result<()> {
        let mut at = from;
        while at < to {
            let want = buf.len().min((to - at) as usize);
            let n = read_full_at(&f, &mut buf[..want], at)
                .with_context(|| format!("read {}", p.display()))?;
            // Whole buffers: blake3 spreads a large update over the cores.
            h.update_rayon(&buf[..n]);
            if n < want {
                break;
            }
            at += n as u64;
        }
        Ok(())
    };
    let len = f
        .metadata()
        .with_context(|| format!("stat {}", p.display()))?
        .len();
    if !holes {
        // To the end as it is now, whatever the size said.
        read(&mut h, 0, u64::MAX)?;
    } else {
        // Only the data is read; a hole hashes as the zeros it reads as
        // (read from the kernel, a hole costs as much as data).
        static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
        let mut at = 0;
        for (data, end) in data_segments(&f, len) {
            zeros(&mut h, data - at, &ZEROS);
            read(&mut h, data, end)?;
            at = end;
        }
        zeros(&mut h, len - at, &ZEROS);
    }
    BUF.set(buf);
    Ok((h.finalize().to_hex().to_string(), holes))
}

fn zeros(h: &mut blake3::Hasher, mut n: u64, z: &[u8]) {
    while n > 0 {
        let k = n.min(z.len() as u64) as usize;
        h.update(&z[..k]);
        n -= k as u64;
    }
}

/// The (start, end) of each run of data in `f` before `len`, by
/// `SEEK_DATA` and `SEEK_HOLE`.
pub(crate) fn data_segments(f: &fs::File, len: u64) -> Vec<(u64, u64)> {
    use std::os::unix::io::AsRawFd;
    let mut out = Vec::new();
    let mut off = 0u64;
    while off < len {
        // SAFETY: lseek on an open descriptor; ENXIO (no data after
        // `off`) ends the walk; there is always a hole at the end.
        let data = unsafe { libc::lseek(f.as_raw_fd(), off as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            break;
        }
        let hole = unsafe { libc::lseek(f.as_raw_fd(), data, libc::SEEK_HOLE) };
        let end = if hole < 0 {
            len
        } else {
            (hole as u64).min(len)
        };
        if end <= data as u64 {
            break;
        }
        out.push((data as u64, end));
        off = end;
    }
    out
}

fn read_full_at(f: &fs::File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], at + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Whether the open file `f` has a hole: `SEEK_HOLE` from its start finds
/// one before its end (every file has the implicit hole at its end). A file
/// system without hole reporting answers the end: no holes.
pub fn has_holes(f: &fs::File) -> bool {
    use std::os::unix::io::AsRawFd;
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    // SAFETY: lseek on an open descriptor; the offset goes back to the
    // start, where the caller's reads begin.
    let (hole, rewound) = unsafe {
        (
            libc::lseek(f.as_raw_fd(), 0, libc::SEEK_HOLE),
            libc::lseek(f.as_raw_fd(), 0, libc::SEEK_SET),
        )
    };
    hole >= 0 && rewound == 0 && (hole as u64) < len
}

fn kind_of(ft: &fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else {
        "socket"
    }
}

/// One entry, as found at `root/rel`.
fn entry(root: &Path, rel: &str, meta: &fs::Metadata) -> Result<Entry> {
    entry_known(root, rel, meta, None)
}

/// [`entry`], with the content hash of a file already known (taken from
/// the stream it was restored from: `streamed`, blake3 and size) when the
/// size matches the file's: the file is then opened for its holes only,
/// not read.
fn entry_known(
    root: &Path,
    rel: &str,
    meta: &fs::Metadata,
    streamed: Option<&(String, u64)>,
) -> Result<Entry> {
    let p = root.join(decode(rel));
    let kind = kind_of(&meta.file_type());
    let (blake3, sparse) = match streamed {
        _ if kind != "file" => (None, false),
        Some((h, size)) if *size == meta.len() => {
            let f = fs::File::open(&p).with_context(|| format!("open {}", p.display()))?;
            (Some(h.clone()), has_holes(&f))
        }
        _ => {
            let (h, holes) = hash_file(&p)?;
            (Some(h), holes)
        }
    };
    Ok(Entry {
        path: rel.to_string(),
        kind: kind.into(),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size: if kind == "file" { meta.len() } else { 0 },
        blake3,
        target: if kind == "symlink" {
            Some(encode(fs::read_link(&p)?.as_os_str()))
        } else {
            None
        },
        xattrs: xattrs(&p),
        link_of: None,
        sparse,
        rdev: matches!(kind, "char" | "block").then_some(meta.rdev()),
        unverified: false,
    })
}

/// What a second look compares: any write or metadata change moves a
/// file's ctime, so an equal stamp means an unchanged file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// A manifest and the stamps its files had when it was taken.
pub struct Taken {
    pub entries: Vec<Entry>,
    pub stamps: BTreeMap<String, Stamp>,
}

fn vanished(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
    })
}

/// Walks `root/path` for each path, staying on each one's file system, and
/// skipping `exclude` (paths relative to root): (manifest path, metadata),
/// directories before what they hold, children in name order. A file that
/// vanishes while it is walked is left out (a live system).
fn walk(
    root: &Path,
    paths: &[PathBuf],
    exclude: &[PathBuf],
) -> Result<Vec<(String, fs::Metadata)>> {
    let mut out = Vec::new();
    for top in paths {
        let start = root.join(top);
        let dev = fs::symlink_metadata(&start)
            .with_context(|| format!("stat {}", start.display()))?
            .dev();
        let mut stack = vec![top.clone()];
        while let Some(rel) = stack.pop() {
            // `./var/cache` is `var/cache`: a leading `.` is a component of its own.
            let plain: PathBuf = rel
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            if exclude.iter().any(|x| plain.starts_with(x)) {
                continue;
            }
            let p = root.join(&rel);
            let meta = match fs::symlink_metadata(&p) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                m => m.with_context(|| format!("stat {}", p.display()))?,
            };
            if meta.dev() != dev {
                continue; // another file system: backed up on its own, or not at all
            }
            if meta.is_dir() {
                let mut children: Vec<PathBuf> = match fs::read_dir(&p) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    d => d
                        .with_context(|| format!("list {}", p.display()))?
                        .map(|c| c.map(|c| rel.join(c.file_name())))
                        .collect::<std::io::Result<_>>()
                        .with_context(|| format!("list {}", p.display()))?,
                };
                children.sort();
                stack.extend(children.into_iter().rev());
            }
            let rel_os = rel.strip_prefix(".").unwrap_or(&rel);
            let rels = if rel_os.as_os_str().is_empty() {
                ".".to_string()
            } else {
                encode(rel_os.as_os_str())
            };
            out.push((rels, meta));
        }
    }
    Ok(out)
}

/// The manifest of `root/path` for each path (see [`walk`]), sorted by
/// path, with the stamps for a second look. Files are hashed in parallel.
pub fn take(root: &Path, paths: &[PathBuf], exclude: &[PathBuf]) -> Result<Taken> {
    use rayon::prelude::*;
    let walked = walk(root, paths, exclude)?;
    let hashed: Vec<Option<Entry>> = walked
        .par_iter()
        .map(|(rel, meta)| match entry(root, rel, meta) {
            Err(e) if vanished(&e) => Ok(None),
            e => e.map(Some),
        })
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(walked.len());
    let mut stamps = BTreeMap::new();
    // Hardlink groups in walk order: the first path seen names the group.
    let mut links: BTreeMap<(u64, u64), String> = BTreeMap::new();
    for ((rel, meta), e) in walked.iter().zip(hashed) {
        let Some(mut e) = e else { continue };
        if e.kind == "file" && meta.nlink() > 1 {
            match links.get(&(meta.dev(), meta.ino())) {
                Some(first) => e.link_of = Some(first.clone()),
                None => {
                    links.insert((meta.dev(), meta.ino()), rel.clone());
                }
            }
        }
        stamps.insert(rel.clone(), Stamp::of(meta));
        out.push(e);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Taken {
        entries: out,
        stamps,
    })
}

/// [`take`] without the stamps.
pub fn collect(root: &Path, paths: &[PathBuf], exclude: &[PathBuf]) -> Result<Vec<Entry>> {
    Ok(take(root, paths, exclude)?.entries)
}

/// The stamps of what [`take`] would walk, without reading any file.
pub fn stamps(
    root: &Path,
    paths: &[PathBuf],
    exclude: &[PathBuf],
) -> Result<BTreeMap<String, Stamp>> {
    Ok(walk(root, paths, exclude)?
        .into_iter()
        .map(|(rel, meta)| (rel, Stamp::of(&meta)))
        .collect())
}

/// The manifest as text: one JSON line per entry.
pub fn to_text(entries: &[Entry]) -> String {
    let mut text = String::new();
    for e in entries {
        text.push_str(&serde_json::to_string(e).expect("entries serialize"));
        text.push('\n');
    }
    text
}

/// Writes a manifest's text, mode 0600 (it names every file of the machine).
pub fn write(text: &str, dest: &Path) -> Result<()> {
    use std::io::Write;
    crate::generation::create_private(dest)?
        .write_all(text.as_bytes())
        .with_context(|| format!("write {}", dest.display()))
}

/// Reads a manifest from text, its header line (`pin`) apart; `origin`
/// names where it came from in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Entry>> {
    parse_sealed(text, origin).map(|(_, entries)| entries)
}

/// A manifest's header (checked against its entries) and entries.
pub fn parse_sealed(text: &str, origin: &str) -> Result<(Option<crate::pin::Header>, Vec<Entry>)> {
    let (header, body) = crate::pin::split(text, origin)?;
    let skip = usize::from(header.is_some());
    let entries = body
        .lines()
        .enumerate()
        .map(|(i, l)| (i + skip, l))
        .map(|(i, l)| {
            let e: Entry = serde_json::from_str(l)
                .with_context(|| format!("{origin}:{}: not a checksum entry", i + 1))?;
            // Restores dig holes and check files at these paths below the
            // root: a path that leads elsewhere is refused.
            for p in std::iter::once(&e.path).chain(&e.link_of) {
                if !confined(p) {
                    bail!(
                        "{origin}:{}: the path {p:?} leads out of the restored tree (absolute, or with `..`)",
                        i + 1
                    );
                }
            }
            Ok(e)
        })
        .collect::<Result<_>>()?;
    Ok((header, entries))
}

/// Whether a manifest path stays below the root it is relative to: `.`,
/// or relative with no `..` component, once decoded as restores use it
/// (`\x2f` is a `/`).
fn confined(p: &str) -> bool {
    decode(p).components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    })
}

pub fn read(src: &Path) -> Result<Vec<Entry>> {
    read_sealed(src).map(|(_, entries)| entries)
}

pub fn read_sealed(src: &Path) -> Result<(Option<crate::pin::Header>, Vec<Entry>)> {
    let text = fs::read_to_string(src).with_context(|| format!("read {}", src.display()))?;
    parse_sealed(&text, &src.display().to_string())
}

/// Compares a restored tree with the manifest; returns the differences.
pub fn verify(root: &Path, expected: &[Entry]) -> Vec<String> {
    verify_with(root, expected, None)
}

/// [`verify`], with the content hashes the restore took from its stream
/// (`tarhash`): a file found there (at the size it has) is not read again;
/// everything else about it is checked all the same, and every other file
/// is read.
pub fn verify_with(
    root: &Path,
    expected: &[Entry],
    streamed: Option<&crate::tarhash::Hashes>,
) -> Vec<String> {
    use rayon::prelude::*;
    // Each file on its own (in parallel), then the hardlink groups.
    let checked: Vec<Checked> = expected
        .par_iter()
        .map(|want| match want.unverified {
            true => (Vec::new(), None),
            false => check(root, want, streamed.and_then(|s| s.get(&want.path))),
        })
        .collect();
    let inode_of: BTreeMap<&str, (u64, u64)> = expected
        .iter()
        .zip(&checked)
        .filter_map(|(e, (_, ino))| ino.map(|i| (e.path.as_str(), i)))
        .collect();
    let mut bad: Vec<String> = checked.into_iter().flat_map(|(b, _)| b).collect();
    for want in expected {
        if let Some(first) = want.link_of.as_ref().filter(|_| !want.unverified) {
            if inode_of.get(first.as_str()) != inode_of.get(want.path.as_str()) {
                bad.push(format!(
                    "{}: no longer a hardlink of {}",
                    shown(&want.path),
                    shown(first)
                ));
            }
        }
    }
    bad
}

/// What lies below `root` that `expected` does not list, as manifest
/// paths: everything on every file system mounted there, except what
/// recreating the layout makes itself (see [`layout_made`]) and the
/// directories that hold what it lists.
pub fn extras(root: &Path, expected: &[Entry]) -> Result<Vec<String>> {
    let listed: std::collections::BTreeSet<&str> =
        expected.iter().map(|e| e.path.as_str()).collect();
    // A directory that holds a listed path: a restore makes it to put that
    // path there (a backup of `srv/data` without `/`).
    let holds_listed = |dir: &str| {
        let prefix = format!("{dir}/");
        dir == "."
            || listed
                .range(prefix.as_str()..)
                .next()
                .is_some_and(|p| p.starts_with(&prefix))
    };
    let mut unlisted = Vec::new();
    // Restored through a view: each file system's directory is one the
    // view made. Where the layout has no file system of its own at a
    // mount point, that directory is also met inside its parent's: it is
    // walked once, as itself.
    let units = crate::view::units(expected).unwrap_or_default();
    let mut mounts: Vec<String> = units.iter().map(|u| encode(u)).collect();
    let tops: std::collections::BTreeSet<(u64, u64)> = units
        .iter()
        .filter_map(|u| fs::symlink_metadata(root.join(u)).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    // (manifest path, the device of the directory holding it)
    let top = fs::symlink_metadata(root).with_context(|| format!("stat {}", root.display()))?;
    let mut stack = vec![(PathBuf::from("."), top.dev())];
    while let Some((rel, parent_dev)) = stack.pop() {
        let p = root.join(&rel);
        let meta = fs::symlink_metadata(&p).with_context(|| format!("stat {}", p.display()))?;
        let name = match rel.strip_prefix(".") {
            Ok(r) if r.as_os_str().is_empty() => ".".to_string(),
            Ok(r) => encode(r.as_os_str()),
            Err(_) => encode(rel.as_os_str()),
        };
        if meta.dev() != parent_dev {
            mounts.push(name.clone());
        }
        let again = rel.components().count() > 2 && tops.contains(&(meta.dev(), meta.ino()));
        if meta.is_dir() && !again {
            for c in fs::read_dir(&p).with_context(|| format!("list {}", p.display()))? {
                let c = c.with_context(|| format!("list {}", p.display()))?;
                stack.push((rel.join(c.file_name()), meta.dev()));
            }
        }
        if !listed.contains(name.as_str()) {
            unlisted.push((name, meta.is_dir()));
        }
    }
    let mut out: Vec<String> = unlisted
        .into_iter()
        .filter(|(name, dir)| !(*dir && (layout_made(name, &mounts) || holds_listed(name))))
        .map(|(name, _)| name)
        .collect();
    out.sort();
    Ok(out)
}

/// Whether the directory `name` is one recreating a layout makes: the
/// root, a mount point or a directory on the way to one (`mkdir -p`), or
/// the `lost+found` that mkfs.ext* puts at the top of a file system.
pub fn layout_made(name: &str, mounts: &[String]) -> bool {
    let below = |m: &str, d: &str| d == "." || m == d || m.starts_with(&format!("{d}/"));
    if mounts.iter().any(|m| below(m, name)) {
        return true;
    }
    match name.rsplit_once('/') {
        None => name == "lost+found",
        Some((parent, last)) => last == "lost+found" && mounts.iter().any(|m| m == parent),
    }
}

/// The differences of one restored file from its entry, and its inode.
type Checked = (Vec<String>, Option<(u64, u64)>);

fn check(root: &Path, want: &Entry, streamed: Option<&(String, u64)>) -> Checked {
    let mut bad = Vec::new();
    let name = shown(&want.path);
    let p = root.join(decode(&want.path));
    let meta = match fs::symlink_metadata(&p) {
        Ok(m) => m,
        Err(e) => return (vec![format!("{name}: missing ({e})")], None),
    };
    let got = match entry_known(root, &want.path, &meta, streamed) {
        Ok(g) => g,
        Err(e) => return (vec![format!("{name}: {e:#}")], None),
    };
    let mut diff = |what: &str, a: String, b: String| {
        if a != b {
            bad.push(format!("{name}: {what} {a} → {b}"));
        }
    };
    diff("type", want.kind.clone(), got.kind.clone());
    // A symlink's mode means nothing and may differ across file systems.
    if want.kind != "symlink" {
        diff(
            "mode",
            format!("{:o}", want.mode),
            format!("{:o}", got.mode),
        );
    }
    diff(
        "owner",
        format!("{}:{}", want.uid, want.gid),
        format!("{}:{}", got.uid, got.gid),
    );
    diff("size", want.size.to_string(), got.size.to_string());
    diff(
        "content",
        format!("{:?}", want.blake3),
        format!("{:?}", got.blake3),
    );
    diff(
        "link target",
        format!("{:?}", want.target),
        format!("{:?}", got.target),
    );
    diff(
        "xattrs",
        format!("{:?}", want.xattrs),
        format!("{:?}", got.xattrs),
    );
    diff(
        "device",
        format!("{:?}", want.rdev),
        format!("{:?}", got.rdev),
    );
    if want.sparse && !got.sparse {
        bad.push(format!("{name}: has no holes, had some"));
    }
    if !want.sparse && got.sparse {
        bad.push(format!("{name}: has holes, had none"));
    }
    (bad, Some((meta.dev(), meta.ino())))
}

#[cfg(test)]
mod tests {

    #[test]
    fn files_hashed_side_by_side_while_blake3_splits_its_work() {
        // update_rayon hands half its work to another thread and, while it
        // waits, its own thread may start hashing another file: each call
        // must then have a buffer of its own (it once panicked, "RefCell
        // already borrowed", about one verify run in ten in the tests).
        use rayon::prelude::*;
        let d = tempfile::tempdir().unwrap();
        let files: Vec<(PathBuf, String)> = (0..48u8)
            .map(|i| {
                // 64 KiB to 6 MiB: big ones split, small ones are stolen.
                let data = vec![i; (64 << 10) * (1 + (i as usize * 37) % 96)];
                let p = d.path().join(format!("f{i}"));
                fs::write(&p, &data).unwrap();
                (p, blake3::hash(&data).to_hex().to_string())
            })
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(8)
            .build()
            .unwrap();
        for _ in 0..20 {
            pool.install(|| {
                files.par_iter().for_each(|(p, want)| {
                    assert_eq!(&hash_file(p).unwrap().0, want, "{}", p.display());
                })
            });
        }
    }

    #[test]
    fn paths_that_lead_out_of_the_root_are_refused() {
        for good in ["etc/x", ".", "./etc/x"] {
            let line = format!(r#"{{"path":"{good}","kind":"file","mode":420,"uid":0,"gid":0}}"#);
            parse(&line, "m").unwrap_or_else(|e| panic!("{good}: {e:#}"));
        }
        for bad in ["/etc/shadow", "../../etc/x", "etc/../../x"] {
            let line = format!(r#"{{"path":"{bad}","kind":"file","mode":420,"uid":0,"gid":0}}"#);
            let err = format!("{:#}", parse(&line, "m").unwrap_err());
            assert!(
                err.contains("leads out of the restored tree"),
                "{bad}: {err}"
            );
        }
    }

    /// Found by fuzz::backup_sums: `\x2f` is `/` once decoded, as
    /// restores use the path; the check read the text and took it.
    #[test]
    fn escaped_paths_that_lead_out_of_the_root_are_refused() {
        for bad in [
            "\\x2fetc\\x2fshadow",
            "\\x2e\\x2e/x",
            "etc/\\x2e\\x2e/\\x2e\\x2e/x",
        ] {
            let entry = |path: &str, link_of: Option<&str>| {
                serde_json::json!({"path": path, "kind": "file", "mode": 420, "uid": 0,
                    "gid": 0, "link_of": link_of})
                .to_string()
            };
            let err = format!("{:#}", parse(&entry(bad, None), "m").unwrap_err());
            assert!(
                err.contains("leads out of the restored tree"),
                "{bad}: {err}"
            );
            let err = format!("{:#}", parse(&entry("x", Some(bad)), "m").unwrap_err());
            assert!(
                err.contains("leads out of the restored tree"),
                "link_of {bad}: {err}"
            );
        }
    }

    #[test]
    fn names_that_are_not_utf8_round_trip() {
        use std::os::unix::ffi::OsStrExt;
        for raw in [
            &b"plain"[..],
            b"back\\slash",
            b"bytes-\xff\xfe",
            b"\\xff literal",
            b"caf\xc3\xa9",
        ] {
            let os = std::ffi::OsStr::from_bytes(raw);
            let text = encode(os);
            assert_eq!(decode(&text).as_os_str().as_bytes(), raw, "{text}");
        }
        assert_eq!(encode(std::ffi::OsStr::from_bytes(b"a\xffb")), "a\\xffb");
        let d = tempfile::tempdir().unwrap();
        let name = std::ffi::OsStr::from_bytes(b"odd-\xff\\name");
        fs::write(d.path().join(name), b"x").unwrap();
        std::os::unix::fs::symlink(name, d.path().join("link")).unwrap();
        let got = collect(d.path(), &[PathBuf::from(".")], &[]).unwrap();
        assert!(got.iter().any(|e| e.path == "odd-\\xff\\\\name"), "{got:?}");
        assert!(verify(d.path(), &got).is_empty());
    }

    use super::*;

    #[test]
    fn collect_and_verify_catch_every_kind_of_difference() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("dir")).unwrap();
        fs::write(src.join("dir/a b\nc"), "odd name").unwrap();
        fs::write(src.join("f"), "content").unwrap();
        fs::hard_link(src.join("f"), src.join("f2")).unwrap();
        std::os::unix::fs::symlink("f", src.join("l")).unwrap();
        let sparse = fs::File::create(src.join("sparse")).unwrap();
        sparse.set_len(64 << 20).unwrap();
        let entries = collect(&src, &[PathBuf::from(".")], &[]).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, [".", "dir", "dir/a b\nc", "f", "f2", "l", "sparse"]);
        assert_eq!(entries[4].link_of.as_deref(), Some("f"));
        assert!(entries[6].sparse);
        assert!(
            verify(&src, &entries).is_empty(),
            "{:?}",
            verify(&src, &entries)
        );

        // A copy that loses the hardlink, the sparseness and a mode bit.
        let dst = d.path().join("dst");
        fs::create_dir_all(dst.join("dir")).unwrap();
        fs::write(dst.join("dir/a b\nc"), "odd name").unwrap();
        fs::write(dst.join("f"), "content").unwrap();
        fs::write(dst.join("f2"), "content").unwrap();
        std::os::unix::fs::symlink("f", dst.join("l")).unwrap();
        fs::write(dst.join("sparse"), vec![0u8; 64 << 20]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dst.join("f"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(&dst, fs::metadata(&src).unwrap().permissions()).unwrap();
        fs::set_permissions(
            dst.join("dir"),
            fs::metadata(src.join("dir")).unwrap().permissions(),
        )
        .unwrap();
        let bad = verify(&dst, &entries);
        assert!(bad.iter().any(|b| b.starts_with("f: mode")), "{bad:?}");
        assert!(
            bad.iter().any(|b| b == "f2: no longer a hardlink of f"),
            "{bad:?}"
        );
        assert!(
            bad.iter().any(|b| b == "sparse: has no holes, had some"),
            "{bad:?}"
        );
        fs::remove_file(dst.join("l")).unwrap();
        assert!(verify(&dst, &entries)
            .iter()
            .any(|b| b.starts_with("l: missing")));
    }

    /// A hash taken from the restore's stream stands for the file's: a
    /// file whose stream hash differs from the manifest is a content
    /// difference though the file itself matches (it is not read again);
    /// one at another size than the file's, or missing, is read.
    #[test]
    fn stream_hashes_are_used_instead_of_reading_the_files() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a"), "aaaa").unwrap();
        fs::write(d.path().join("b"), "bbbb").unwrap();
        fs::write(d.path().join("c"), "cccc").unwrap();
        let entries = collect(d.path(), &[PathBuf::from(".")], &[]).unwrap();
        let hash = |p: &str| entries.iter().find(|e| e.path == p).unwrap().blake3.clone();
        let other = blake3::hash(b"other").to_hex().to_string();
        let mut streamed = crate::tarhash::Hashes::new();
        streamed.insert("a".into(), (other.clone(), 4));
        streamed.insert("b".into(), (other.clone(), 5));
        streamed.insert("c".into(), (hash("c").unwrap(), 4));
        let bad = verify_with(d.path(), &entries, Some(&streamed));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].starts_with("a: content"), "{bad:?}");
        // A restored file that differs is caught when its stream hash is
        // not known, by reading it.
        fs::write(d.path().join("b"), "BBBB").unwrap();
        let bad = verify_with(d.path(), &entries, Some(&streamed));
        assert!(bad.iter().any(|b| b.starts_with("b: content")), "{bad:?}");
        assert!(verify_with(d.path(), &entries, None)
            .iter()
            .any(|b| b.starts_with("b: content")));
    }

    #[test]
    fn extras_are_what_the_manifest_lacks_but_what_the_layout_made() {
        let d = tempfile::tempdir().unwrap();
        for dir in ["etc", "lost+found", "etc/lost+found", "srv/data"] {
            fs::create_dir_all(d.path().join(dir)).unwrap();
        }
        fs::write(d.path().join("etc/fstab"), "x").unwrap();
        fs::write(d.path().join("etc/evil"), "x").unwrap();
        let listed = |paths: &[&str]| -> Vec<Entry> {
            paths
                .iter()
                .map(|p| Entry {
                    path: p.to_string(),
                    ..Default::default()
                })
                .collect()
        };
        // `srv` holds a listed path; lost+found at the top is mkfs's.
        let got = extras(d.path(), &listed(&[".", "etc", "etc/fstab", "srv/data"])).unwrap();
        assert_eq!(got, ["etc/evil", "etc/lost+found"]);
        // Mount points, the directories on the way to them, and the
        // lost+found at the top of each.
        let mounts = ["srv/data".to_string(), "boot".to_string()];
        for made in [
            ".",
            "srv",
            "srv/data",
            "boot",
            "lost+found",
            "srv/data/lost+found",
        ] {
            assert!(layout_made(made, &mounts), "{made}");
        }
        for not in [
            "etc",
            "srv/other",
            "etc/lost+found",
            "srv/lost+found",
            "bootx",
        ] {
            assert!(!layout_made(not, &mounts), "{not}");
        }
    }

    #[test]
    fn excludes_apply_below_the_root_path() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("var/cache/x")).unwrap();
        fs::write(d.path().join("var/cache/x/f"), "").unwrap();
        fs::write(d.path().join("var/keep"), "").unwrap();
        let e = collect(
            d.path(),
            &[PathBuf::from(".")],
            &[PathBuf::from("var/cache")],
        )
        .unwrap();
        let names: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, [".", "var", "var/keep"]);
    }

    #[test]
    fn manifest_round_trips() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("x"), "1").unwrap();
        let e = collect(d.path(), &[PathBuf::from("x")], &[]).unwrap();
        write(&to_text(&e), &d.path().join("sums")).unwrap();
        assert_eq!(read(&d.path().join("sums")).unwrap(), e);
    }
}
