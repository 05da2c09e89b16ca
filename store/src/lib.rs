//! Content-addressed store for rescue-image inputs and built layers.
//!
//! Layout under the store root:
//!
//! ```text
//! objects/ab/cdef…   file contents, named by their blake3 hash, mode 0400
//! layers/<key>.json  a built layer, found by the hash of its inputs
//! roots/<name>       symlinks to kept manifests (the garbage-collector roots)
//! statcache.json     path + stat → hash, so unchanged host files are not read again
//! tmp/               staging for atomic writes
//! ```
//!
//! Every write goes to `tmp/` first, is fsynced and renamed into place, so an
//! interrupted run never leaves a half-written object under its final name.

mod statcache;

pub use statcache::{StatCache, StatKey};

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Errors at the store's boundary; each names the path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {msg}")]
    Invalid { path: PathBuf, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A blake3 digest in lowercase hex.
pub type Hash = String;

/// Whether `s` is a blake3 hash as the store names objects.
pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An error unless the object at `path`, stored as `want`, hashed to it.
fn check_object(path: PathBuf, want: &str, got: &str) -> Result<()> {
    if got == want {
        return Ok(());
    }
    Err(Error::Invalid {
        path,
        msg: format!("corrupt store object: its content hashes to {got}; run `rear-build store verify`, remove what it lists, and build again"),
    })
}

/// `hash_bytes`, on every core for large data (the same hash).
fn hash_data(data: &[u8]) -> Hash {
    if data.len() > 4 << 20 {
        blake3::Hasher::new()
            .update_rayon(data)
            .finalize()
            .to_hex()
            .to_string()
    } else {
        hash_bytes(data)
    }
}

/// Host files are read this much at a time ([`Store::put_file`]).
const PIECE: usize = 1 << 20;

thread_local! {
    /// Each thread's read buffer, kept: a fresh one per file would have
    /// the kernel hand out and clear new pages for every file read.
    static PIECE_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn changed(path: &Path) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        msg: "file changed while the image was being built; run again".into(),
    }
}

pub fn hash_bytes(data: &[u8]) -> Hash {
    blake3::hash(data).to_hex().to_string()
}

/// Hashes a file by streaming it; large files use blake3's rayon mode.
pub fn hash_file(path: &Path) -> Result<Hash> {
    let mut hasher = blake3::Hasher::new();
    let meta = fs::metadata(path).map_err(io_err("stat", path))?;
    if meta.len() > 4 << 20 {
        let data = fs::read(path).map_err(io_err("read", path))?;
        hasher.update_rayon(&data);
    } else {
        let mut f = File::open(path).map_err(io_err("open", path))?;
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(io_err("read", path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

pub struct Store {
    root: PathBuf,
    tmp_seq: AtomicU64,
    /// Objects this process wrote from bytes it hashed itself: reading
    /// them back need not hash them again ([`Store::copy_object`]).
    written: std::sync::Mutex<std::collections::HashSet<Hash>>,
}

/// Result of `Store::verify`.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub checked: usize,
    pub corrupt: Vec<PathBuf>,
}

/// Result of `Store::gc`.
#[derive(Debug, Default)]
pub struct GcReport {
    pub kept: usize,
    pub removed: usize,
    pub freed_bytes: u64,
    pub layers_removed: usize,
}

/// An object's mode: read-only, and for the owner (root) alone. Objects
/// are copies of whatever the image takes in, the secrets `image.include`
/// brings (a backup passphrase, a CIFS credentials file) among them; the
/// store's 0700 root keeps others out, and the objects stay private also
/// where that root's mode is lost (a copy, a hardlink, a restore).
pub const OBJECT_MODE: u32 = 0o400;

impl Store {
    /// Opens (creating if needed) a store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        for sub in ["objects", "layers", "roots", "tmp"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io_err("create directory", &p))?;
        }
        // The store holds copies of system files (possibly /etc/shadow-like
        // secrets when configured in): keep it private.
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))
            .map_err(io_err("chmod", root))?;
        Ok(Store {
            root: root.to_path_buf(),
            tmp_seq: AtomicU64::new(0),
            written: Default::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the object named `hash` lives. A name that is no blake3 hash
    /// (64 lowercase hex digits) gets a path no object has.
    pub fn object_path(&self, hash: &str) -> PathBuf {
        if !is_hash(hash) {
            return self.root.join("objects").join("not-a-hash");
        }
        self.root.join("objects").join(&hash[..2]).join(&hash[2..])
    }

    pub fn has(&self, hash: &str) -> bool {
        self.object_path(hash).exists()
    }

    fn tmp_path(&self) -> PathBuf {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        self.root.join("tmp").join(format!(
            "{}.{}.{:?}",
            std::process::id(),
            n,
            std::thread::current().id()
        ))
    }

    /// Writes `data` to `dest` atomically: temp file in the store, fsync, rename.
    fn write_atomic(&self, dest: &Path, data: &[u8], mode: u32) -> Result<()> {
        let tmp = self.tmp_path();
        write_file_atomic_via(&tmp, dest, &[data], mode)
    }

    /// True when the object exists with the expected size: an object cut
    /// short by a crash before `sync` is taken as absent and written again.
    /// An object others may read (a store written before objects were
    /// 0400) is made private here, as it is used.
    fn has_sized(&self, hash: &str, size: u64) -> bool {
        let p = self.object_path(hash);
        let Ok(m) = fs::metadata(&p) else {
            return false;
        };
        if m.permissions().mode() & 0o077 != 0 {
            // Not private: written again (privately) when it cannot be made so.
            if fs::set_permissions(&p, fs::Permissions::from_mode(OBJECT_MODE)).is_err() {
                return false;
            }
        }
        m.len() == size
    }

    /// Writes an object without fsync; `sync` makes all of them durable
    /// before anything that references them (a layer record, a manifest) is
    /// written. One sync per build instead of one per file.
    fn write_object(&self, hash: &str, data: &[u8]) -> Result<()> {
        let dest = self.object_dest(hash)?;
        write_via(&self.tmp_path(), &dest, &[data], OBJECT_MODE, false)?;
        self.wrote(hash);
        Ok(())
    }

    /// Where the object `hash` goes, its directory made.
    fn object_dest(&self, hash: &str) -> Result<PathBuf> {
        let dest = self.object_path(hash);
        let dir = dest.parent().unwrap();
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        Ok(dest)
    }

    fn wrote(&self, hash: &str) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash.to_string());
    }

    /// Stores bytes, returning their hash. Existing objects are not rewritten.
    pub fn put_bytes(&self, data: &[u8]) -> Result<Hash> {
        let hash = hash_bytes(data);
        if !self.has_sized(&hash, data.len() as u64) {
            self.write_object(&hash, data)?;
        }
        Ok(hash)
    }

    /// Takes a host file into the store and returns its hash. The stat
    /// cache answers for unchanged files whose object is present; otherwise
    /// the file is read once, hashed, and written.
    pub fn put_file(&self, path: &Path, meta: &fs::Metadata, cache: &StatCache) -> Result<Hash> {
        if let Some(hash) = cache.lookup(path, meta) {
            if self.has_sized(&hash, meta.len()) {
                return Ok(hash);
            }
        }
        let mut f = File::open(path).map_err(io_err("open", path))?;
        let hash = if meta.len() <= PIECE as u64 {
            PIECE_BUF.with_borrow_mut(|buf| -> Result<Hash> {
                buf.clear();
                buf.reserve(meta.len() as usize + 1);
                (&mut f)
                    .take(PIECE as u64 + 1)
                    .read_to_end(buf)
                    .map_err(io_err("read", path))?;
                if buf.len() as u64 != meta.len() {
                    return Err(changed(path));
                }
                let hash = hash_bytes(buf);
                if !self.has_sized(&hash, meta.len()) {
                    self.write_object(&hash, buf)?;
                }
                Ok(hash)
            })?
        } else {
            self.put_stream(path, &mut f, meta.len())?
        };
        cache.insert(path, meta, &hash);
        Ok(hash)
    }

    /// A large file copied into the store as it is hashed, a piece at a
    /// time: no buffer the size of the file (a cold build takes hundreds
    /// of MiB in). The copy is dropped when the object is there already.
    fn put_stream(&self, path: &Path, f: &mut File, size: u64) -> Result<Hash> {
        let tmp = self.tmp_path();
        let mut out = create_tmp(&tmp, OBJECT_MODE)?;
        let mut hasher = blake3::Hasher::new();
        let copied = PIECE_BUF.with_borrow_mut(|buf| -> Result<u64> {
            buf.resize(PIECE, 0);
            let mut n = 0u64;
            loop {
                let k = match f.read(buf) {
                    Ok(0) => return Ok(n),
                    Ok(k) => k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_err("read", path)(e)),
                };
                hasher.update(&buf[..k]);
                out.write_all(&buf[..k]).map_err(io_err("write", &tmp))?;
                n += k as u64;
            }
        });
        let hash = hasher.finalize().to_hex().to_string();
        match copied {
            Ok(n) if n == size && !self.has_sized(&hash, size) => {
                finish_tmp(out, &tmp, &self.object_dest(&hash)?, OBJECT_MODE, false)?;
                self.wrote(&hash);
                Ok(hash)
            }
            other => {
                drop(out);
                let _ = fs::remove_file(&tmp);
                match other {
                    Ok(n) if n == size => Ok(hash),
                    Ok(_) => Err(changed(path)),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Makes every object written so far durable (syncfs on the store).
    pub fn sync(&self) -> Result<()> {
        let f = File::open(&self.root).map_err(io_err("open", &self.root))?;
        // SAFETY: syncfs takes a valid open descriptor and touches no memory.
        let rc = unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f)) };
        if rc != 0 {
            return Err(io_err("sync", &self.root)(io::Error::last_os_error()));
        }
        Ok(())
    }

    /// An object's bytes, hashed again as they are read: a corrupted
    /// object never reaches an image whose manifest lists the original.
    pub fn read(&self, hash: &str) -> Result<Vec<u8>> {
        let p = self.checked_object_path(hash)?;
        let data = fs::read(&p).map_err(io_err("read store object", &p))?;
        check_object(p, hash, &hash_data(&data))?;
        Ok(data)
    }

    /// [`Store::read`] into `to`, `buf` at a time: no buffer the size of
    /// the object (archives of hundreds of MiB are made of these). The
    /// bytes are hashed as they go by, unless this process wrote the
    /// object from bytes it hashed; on a mismatch `to` has had them, and
    /// the error says the result must not be used.
    pub fn copy_object(&self, hash: &str, to: &mut dyn Write, buf: &mut [u8]) -> Result<u64> {
        let p = self.checked_object_path(hash)?;
        let mut f = File::open(&p).map_err(io_err("open store object", &p))?;
        let check = !self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(hash);
        let mut hasher = blake3::Hasher::new();
        let mut n = 0u64;
        loop {
            let k = match f.read(buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read store object", &p)(e)),
            };
            if check {
                hasher.update(&buf[..k]);
            }
            to.write_all(&buf[..k])
                .map_err(io_err("copy store object", &p))?;
            n += k as u64;
        }
        if check {
            check_object(p, hash, hasher.finalize().to_hex().as_str())?;
        }
        Ok(n)
    }

    /// Where the object `hash` lives; an error when `hash` is none.
    fn checked_object_path(&self, hash: &str) -> Result<PathBuf> {
        let path = self.object_path(hash);
        match is_hash(hash) {
            true => Ok(path),
            false => Err(Error::Invalid {
                path,
                msg: format!("{hash:?} is not a blake3 hash: a damaged layer record; run `rear-build store gc` and build again"),
            }),
        }
    }

    /// Looks up a cached layer record by the hash of its inputs.
    pub fn get_layer<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let p = self.root.join("layers").join(format!("{key}.json"));
        let data = match fs::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &p)(e)),
        };
        // A record that does not parse is treated as absent: it is rebuilt.
        Ok(serde_json::from_slice(&data).ok())
    }

    pub fn put_layer<T: serde::Serialize>(&self, key: &str, record: &T) -> Result<()> {
        let p = self.root.join("layers").join(format!("{key}.json"));
        let data = serde_json::to_vec(record).expect("layer records serialize");
        self.write_atomic(&p, &data, 0o644)
    }

    /// Registers `manifest` as a garbage-collection root.
    pub fn add_root(&self, manifest: &Path) -> Result<()> {
        let abs = fs::canonicalize(manifest).map_err(io_err("resolve", manifest))?;
        let name = hash_bytes(abs.as_os_str().as_encoded_bytes());
        let link = self.root.join("roots").join(&name[..32]);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&abs, &link).map_err(io_err("create root link", &link))
    }

    /// Manifests that are still present behind the root links.
    pub fn live_roots(&self) -> Result<Vec<PathBuf>> {
        let dir = self.root.join("roots");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let e = e.map_err(io_err("list", &dir))?;
            if let Ok(target) = fs::read_link(e.path()) {
                if target.exists() {
                    out.push(target);
                } else {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn objects(&self) -> Result<Vec<(Hash, PathBuf)>> {
        let dir = self.root.join("objects");
        let mut out = Vec::new();
        for sub in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let sub = sub.map_err(io_err("list", &dir))?.path();
            let prefix = sub.file_name().unwrap().to_string_lossy().to_string();
            for obj in fs::read_dir(&sub).map_err(io_err("list", &sub))? {
                let obj = obj.map_err(io_err("list", &sub))?.path();
                let rest = obj.file_name().unwrap().to_string_lossy().to_string();
                out.push((format!("{prefix}{rest}"), obj));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Re-hashes every object; corrupt ones are listed in the report.
    pub fn verify(&self) -> Result<VerifyReport> {
        use rayon::prelude::*;
        let objects = self.objects()?;
        let corrupt: Vec<PathBuf> = objects
            .par_iter()
            .filter_map(|(name, path)| match hash_file(path) {
                Ok(h) if &h == name => None,
                _ => Some(path.clone()),
            })
            .collect();
        Ok(VerifyReport {
            checked: objects.len(),
            corrupt,
        })
    }

    /// Removes objects not in `referenced`, and layer records whose object is gone.
    pub fn gc(&self, referenced: &BTreeSet<Hash>) -> Result<GcReport> {
        let mut report = GcReport::default();
        for (name, path) in self.objects()? {
            if referenced.contains(&name) {
                report.kept += 1;
                continue;
            }
            let len = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
            report.removed += 1;
            report.freed_bytes += len;
        }
        let layers = self.root.join("layers");
        for e in fs::read_dir(&layers).map_err(io_err("list", &layers))? {
            let p = e.map_err(io_err("list", &layers))?.path();
            let record: Option<serde_json::Value> = fs::read(&p)
                .ok()
                .and_then(|d| serde_json::from_slice(&d).ok());
            let object = record
                .as_ref()
                .and_then(|r| r.get("blake3"))
                .and_then(|v| v.as_str());
            if !matches!(object, Some(h) if referenced.contains(h)) {
                fs::remove_file(&p).map_err(io_err("remove", &p))?;
                report.layers_removed += 1;
            }
        }
        // Leftovers of interrupted runs.
        let tmp = self.root.join("tmp");
        for e in fs::read_dir(&tmp).map_err(io_err("list", &tmp))?.flatten() {
            let _ = fs::remove_file(e.path());
        }
        Ok(report)
    }
}

/// Writes `parts` one after the other to `tmp`, fsyncs it, renames it to
/// `dest` and fsyncs the directory, so `dest` holds either the old or the
/// whole new content.
fn write_file_atomic_via(tmp: &Path, dest: &Path, parts: &[&[u8]], mode: u32) -> Result<()> {
    write_via(tmp, dest, parts, mode, true)
}

/// Writes `tmp`, renames it to `dest`; `durable` adds the fsyncs (store
/// objects leave them to one `Store::sync` per build).
fn write_via(tmp: &Path, dest: &Path, parts: &[&[u8]], mode: u32, durable: bool) -> Result<()> {
    let mut f = create_tmp(tmp, mode)?;
    for data in parts {
        f.write_all(data).map_err(io_err("write", tmp))?;
    }
    finish_tmp(f, tmp, dest, mode, durable)
}

/// The new file `tmp`, for [`finish_tmp`] to put in place.
fn create_tmp(tmp: &Path, mode: u32) -> Result<File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)
        .map_err(io_err("create", tmp))
}

/// Renames `tmp`, written through `f`, to `dest`; see [`write_via`].
fn finish_tmp(f: File, tmp: &Path, dest: &Path, mode: u32, durable: bool) -> Result<()> {
    if !durable {
        // Writeback starts now, not when the kernel gets to it: the
        // syncfs before a record names this object (`Store::sync`) then
        // waits for the last objects only, not for all of a cold build's
        // hundreds of MiB. Only a hint: its failure changes nothing.
        // SAFETY: a valid open descriptor; no memory is passed.
        unsafe {
            libc::sync_file_range(
                std::os::fd::AsRawFd::as_raw_fd(&f),
                0,
                0,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    // Mode set explicitly: the umask must not change what we write.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err("chmod", tmp))?;
    if durable {
        f.sync_all().map_err(io_err("fsync", tmp))?;
    }
    drop(f);
    fs::rename(tmp, dest).map_err(|e| {
        let _ = fs::remove_file(tmp);
        io_err("rename into place", dest)(e)
    })?;
    if durable {
        if let Some(dir) = dest.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
    }
    Ok(())
}

/// Atomic write next to `dest` (temp file in the same directory).
pub fn write_file_atomic(dest: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_file_atomic_parts(dest, &[data], mode)
}

/// [`write_file_atomic`] of the concatenation of `parts`, without making it.
pub fn write_file_atomic_parts(dest: &Path, parts: &[&[u8]], mode: u32) -> Result<()> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let prefix = format!(".{name}.tmp.");
    // Temp files of runs that were killed (their process is gone) would
    // stay for good: an initrd's is tens of MiB.
    if let Some(Ok(entries)) = dest.parent().map(fs::read_dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let gone = n
                .strip_prefix(&prefix)
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let tmp = dest.with_file_name(format!("{prefix}{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_file_atomic_via(&tmp, dest, parts, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_addressed_and_verify_finds_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let h = store.put_bytes(b"hello").unwrap();
        assert_eq!(h, hash_bytes(b"hello"));
        assert_eq!(store.put_bytes(b"hello").unwrap(), h);
        assert_eq!(store.read(&h).unwrap(), b"hello");
        let h2 = store.put_bytes(b"world").unwrap();
        let r = store.verify().unwrap();
        assert_eq!((r.checked, r.corrupt.len()), (2, 0));

        let p = store.object_path(&h2);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&p, b"w0rld").unwrap();
        let r = store.verify().unwrap();
        assert_eq!(r.corrupt, vec![p]);
    }

    #[test]
    fn objects_are_for_their_owner_alone_also_those_of_an_older_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mode = |h: &str| {
            fs::metadata(store.object_path(h))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        let h = store.put_bytes(b"password=hunter2\n").unwrap();
        assert_eq!(mode(&h), 0o400);
        // An object an older rear-build wrote world-readable is made
        // private when it is used again.
        fs::set_permissions(store.object_path(&h), fs::Permissions::from_mode(0o444)).unwrap();
        assert_eq!(store.put_bytes(b"password=hunter2\n").unwrap(), h);
        assert_eq!(mode(&h), 0o400);
        assert_eq!(store.read(&h).unwrap(), b"password=hunter2\n");
    }

    #[test]
    fn put_file_stores_content_and_notices_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        let cache = StatCache::load(&dir.path().join("c.json"));
        let f = dir.path().join("f");
        fs::write(&f, b"one").unwrap();
        let meta = fs::metadata(&f).unwrap();
        let h = store.put_file(&f, &meta, &cache).unwrap();
        assert_eq!(store.read(&h).unwrap(), b"one");
        fs::write(&f, b"longer").unwrap();
        let err = store.put_file(&f, &meta, &cache).unwrap_err();
        assert!(err.to_string().contains("changed while"), "{err}");
        // A truncated object (a crash before sync) is written again.
        let p = store.object_path(&h);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&p, b"").unwrap();
        assert_eq!(store.put_bytes(b"one").unwrap(), h);
        assert_eq!(store.read(&h).unwrap(), b"one");
        store.sync().unwrap();
    }

    #[test]
    fn a_large_file_is_streamed_into_the_store_whole_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        let f = dir.path().join("big");
        // Over several pieces, and not a multiple of one.
        let data: Vec<u8> = (0..3 * PIECE as u32 + 17)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        fs::write(&f, &data).unwrap();
        let meta = fs::metadata(&f).unwrap();
        let tmp_left = || fs::read_dir(dir.path().join("s/tmp")).unwrap().count();
        let h = store
            .put_file(&f, &meta, &StatCache::load(&dir.path().join("c1")))
            .unwrap();
        assert_eq!(h, hash_bytes(&data));
        assert_eq!(fs::read(store.object_path(&h)).unwrap(), data);
        assert_eq!(
            fs::metadata(store.object_path(&h))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            OBJECT_MODE
        );
        // Again without the stat cache: the same object, its copy dropped.
        let again = store
            .put_file(&f, &meta, &StatCache::load(&dir.path().join("c2")))
            .unwrap();
        assert_eq!((again, tmp_left()), (h, 0));
        // Grown since it was looked at: refused, nothing left behind.
        fs::write(&f, [&data[..], b"more"].concat()).unwrap();
        let err = store
            .put_file(&f, &meta, &StatCache::load(&dir.path().join("c3")))
            .unwrap_err();
        assert!(err.to_string().contains("changed while"), "{err}");
        assert_eq!(tmp_left(), 0);
    }

    #[test]
    fn gc_keeps_referenced_objects_and_their_layers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let keep = store.put_bytes(b"keep").unwrap();
        let drop_ = store.put_bytes(b"drop").unwrap();
        store
            .put_layer("k1", &serde_json::json!({"blake3": keep}))
            .unwrap();
        store
            .put_layer("k2", &serde_json::json!({"blake3": drop_}))
            .unwrap();
        let r = store.gc(&BTreeSet::from([keep.clone()])).unwrap();
        assert_eq!((r.kept, r.removed, r.layers_removed), (1, 1, 1));
        assert!(store.has(&keep) && !store.has(&drop_));
        assert!(store
            .get_layer::<serde_json::Value>("k1")
            .unwrap()
            .is_some());
        assert!(store
            .get_layer::<serde_json::Value>("k2")
            .unwrap()
            .is_none());
    }

    #[test]
    fn atomic_write_ignores_umask_and_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        write_file_atomic(&p, b"first", 0o600).unwrap();
        write_file_atomic(&p, b"second", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_same_size_corruption_is_found_when_the_object_is_read() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let hash = store.put_bytes(b"the original content").unwrap();
        let p = store.object_path(&hash);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&p, b"the 0riginal content").unwrap();
        let err = store.read(&hash).unwrap_err().to_string();
        assert!(
            err.contains("corrupt store object") && err.contains(&p.display().to_string()),
            "{err}"
        );
        // Nor when a later run copies it into an archive a piece at a time
        // (the run that wrote an object trusts the bytes it hashed).
        let later = Store::open(d.path()).unwrap();
        let err = later
            .copy_object(&hash, &mut Vec::new(), &mut [0u8; 7])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("corrupt store object") && err.contains(&p.display().to_string()),
            "{err}"
        );
        let good = store.put_bytes(b"another content").unwrap();
        let mut copied = Vec::new();
        assert_eq!(
            store
                .copy_object(&good, &mut copied, &mut [0u8; 7])
                .unwrap(),
            15
        );
        assert_eq!(copied, b"another content");
    }

    #[test]
    fn a_name_that_is_no_hash_is_an_error_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        for bad in ["", "a", "zz", &"A".repeat(64)] {
            let err = store.read(bad).unwrap_err().to_string();
            assert!(err.contains("not a blake3 hash"), "{bad:?}: {err}");
            let err = store
                .copy_object(bad, &mut Vec::new(), &mut [0u8; 7])
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a blake3 hash"), "{bad:?}: {err}");
            assert!(!store.has(bad));
        }
    }

    #[test]
    fn a_killed_run_s_temp_file_is_removed_by_the_next_write() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("initrd.img");
        // No process has a pid this large (pid_max is at most 2^22).
        let stale = d.path().join(".initrd.img.tmp.999999999");
        let live = d
            .path()
            .join(format!(".initrd.img.tmp.{}", std::process::id()));
        fs::write(&stale, b"left by a killed run").unwrap();
        let other = d.path().join(".manifest.json.tmp.999999999");
        fs::write(&other, b"another file's").unwrap();
        write_file_atomic(&dest, b"new", 0o600).unwrap();
        assert!(!stale.exists());
        assert!(!live.exists(), "this run's own is renamed into place");
        assert!(
            other.exists(),
            "only the same file's temp files are looked at"
        );
        assert_eq!(fs::read(&dest).unwrap(), b"new");
    }
}
