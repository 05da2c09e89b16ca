//! Initramfs layers: a sorted map of entries, written as a deterministic
//! newc cpio archive and compressed on its own (zstd, xz or gzip:
//! [`crate::compress`]).
//!
//! The kernel unpacks concatenated, separately compressed archives in order,
//! so the image is the concatenation of its layers; a layer is cached in the
//! store under the hash of everything that determines its bytes.

use crate::compress::Algorithm;
use anyhow::{Context, Result};
use rear_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;

/// Bumped whenever the bytes a layer turns into change for the same entries.
const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Kind {
    File { size: u64, blake3: String },
    Dir,
    Symlink { target: String },
    Char { major: u32, minor: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Absolute path inside the image.
    pub path: String,
    #[serde(flatten)]
    pub kind: Kind,
    /// Permission bits, setuid/setgid/sticky included; no file type bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Where it came from on the host (absent for generated files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Entry {
    pub fn dir(path: &str) -> Entry {
        Entry {
            path: path.to_string(),
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            source: None,
        }
    }
}

/// Compression settings; part of every layer's cache key.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Params {
    pub algorithm: Algorithm,
    pub level: i32,
    /// mtime of every entry.
    pub epoch: u64,
}

/// One layer before it is built: its name, position and entries by path.
#[derive(Clone, Debug, Default)]
pub struct Layer {
    pub name: &'static str,
    /// Position in the image; also spaces the layers' inode numbers apart,
    /// because the kernel matches hardlinks across concatenated archives.
    pub index: u32,
    pub entries: BTreeMap<String, Entry>,
}

/// A built layer, as cached in the store.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Built {
    pub name: String,
    /// Store object holding the compressed archive.
    pub blake3: String,
    pub sha256: String,
    pub size: u64,
    pub uncompressed_size: u64,
    pub entries: Vec<Entry>,
    /// Extra facts found while building, kept so a cached layer needs no
    /// rework (e.g. the firmware the modules ask for).
    #[serde(default)]
    pub extra: Vec<String>,
    #[serde(skip)]
    pub from_cache: bool,
    /// The compressed archive, when this run built it: the initrd is made
    /// from it without reading the object back from the store.
    #[serde(skip)]
    pub data: Option<Compressed>,
}

/// A layer's compressed bytes, shown by their length only.
#[derive(Clone)]
pub struct Compressed(pub std::sync::Arc<Vec<u8>>);

impl std::fmt::Debug for Compressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compressed({} bytes)", self.0.len())
    }
}

/// The image's layers in their order: a layer's index is its place here.
pub const ORDER: [&str; 4] = ["base", "modules", "firmware", "config"];

impl Layer {
    /// The empty layer `name`, one of [`ORDER`]; None for another name.
    pub fn named(name: &str) -> Option<Layer> {
        let index = ORDER.iter().position(|n| *n == name)?;
        Some(Layer {
            name: ORDER[index],
            index: index as u32,
            entries: BTreeMap::new(),
        })
    }

    /// The empty layer `name`, one of [`ORDER`].
    pub fn new(name: &str) -> Layer {
        Layer::named(name).unwrap_or_else(|| panic!("{name} is not a layer of {ORDER:?}"))
    }

    pub fn insert(&mut self, e: Entry) {
        self.entries.insert(e.path.clone(), e);
    }

    /// Adds a directory entry for every ancestor not present yet.
    pub fn add_parents(&mut self) {
        let mut missing = Vec::new();
        for path in self.entries.keys() {
            let mut p = path.as_str();
            while let Some(i) = p.rfind('/') {
                p = &p[..i];
                if p.is_empty() || self.entries.contains_key(p) {
                    break;
                }
                missing.push(p.to_string());
            }
        }
        for p in missing {
            self.entries
                .entry(p.clone())
                .or_insert_with(|| Entry::dir(&p));
        }
    }

    /// The cache key: everything that decides the layer's bytes.
    pub fn key(&self, params: &Params) -> String {
        let mut h = blake3::Hasher::new();
        let head = serde_json::json!({
            "format": FORMAT, "name": self.name, "index": self.index,
            "compression": params.algorithm, "level": params.level, "epoch": params.epoch,
        });
        h.update(head.to_string().as_bytes());
        for e in self.entries.values() {
            h.update(&serde_json::to_vec(e).expect("entries serialize"));
            h.update(b"\n");
        }
        h.finalize().to_hex().to_string()
    }

    /// Writes the newc archive. File contents come from the store, so what
    /// goes in is exactly what was hashed.
    pub fn cpio(&self, store: &Store, epoch: u64) -> Result<Vec<u8>> {
        // Sized for its files and headers at once: growing a buffer of
        // hundreds of MiB step by step copies it again and again.
        let mut out = Vec::with_capacity(
            self.entries
                .values()
                .map(|e| match &e.kind {
                    Kind::File { size, .. } => *size as usize + e.path.len() + 120,
                    _ => e.path.len() + 120,
                })
                .sum::<usize>()
                + 512,
        );
        self.write_cpio(store, epoch, &mut out)?;
        Ok(out)
    }

    /// [`Layer::cpio`] written to `out` as it is made; the bytes written.
    pub fn write_cpio(&self, store: &Store, epoch: u64, out: &mut dyn Write) -> Result<u64> {
        let mut out = Counted { inner: out, n: 0 };
        // Files with the same content and metadata become one inode with
        // several names: smaller images, and host hardlinks kept.
        let mut groups: BTreeMap<(&str, u32, u32, u32), Vec<&str>> = BTreeMap::new();
        for e in self.entries.values() {
            if let Kind::File { blake3, .. } = &e.kind {
                groups
                    .entry((blake3.as_str(), e.mode, e.uid, e.gid))
                    .or_default()
                    .push(e.path.as_str());
            }
        }
        let mut link_of: BTreeMap<&str, (u32, u32, bool)> = BTreeMap::new();
        let base = (self.index + 1) * 1_000_000;
        let mut ino = base;
        for e in self.entries.values() {
            if let Kind::File { blake3, .. } = &e.kind {
                if link_of.contains_key(e.path.as_str()) {
                    continue;
                }
                ino += 1;
                let names = &groups[&(blake3.as_str(), e.mode, e.uid, e.gid)];
                for (i, n) in names.iter().enumerate() {
                    // newc carries the data with the last name of a link group.
                    link_of.insert(n, (ino, names.len() as u32, i + 1 == names.len()));
                }
            }
        }

        let mut buf = vec![0u8; 1 << 20];
        for e in self.entries.values() {
            let name = e.path.trim_start_matches('/');
            let b = cpio::newc::Builder::new(name)
                .uid(e.uid)
                .gid(e.gid)
                .mtime(epoch as u32);
            match &e.kind {
                Kind::File { blake3, size } => {
                    let (ino, nlink, carries) = link_of[e.path.as_str()];
                    let b = b.ino(ino).nlink(nlink).mode(0o100000 | e.mode);
                    if carries {
                        let mut w = b.write(&mut out, *size as u32);
                        let n = store.copy_object(blake3, &mut w, &mut buf)?;
                        anyhow::ensure!(
                            n == *size,
                            "store object {blake3} for {} has the wrong size; run `rear-build store verify`",
                            e.path
                        );
                        w.finish()?;
                    } else {
                        b.write(&mut out, 0).finish()?;
                    }
                }
                Kind::Dir => {
                    ino += 1;
                    b.ino(ino)
                        .nlink(2)
                        .mode(0o040000 | e.mode)
                        .write(&mut out, 0)
                        .finish()?;
                }
                Kind::Symlink { target } => {
                    ino += 1;
                    let mut w = b
                        .ino(ino)
                        .nlink(1)
                        .mode(0o120000 | 0o777)
                        .write(&mut out, target.len() as u32);
                    w.write_all(target.as_bytes())?;
                    w.finish()?;
                }
                Kind::Char { major, minor } => {
                    ino += 1;
                    b.ino(ino)
                        .nlink(1)
                        .mode(0o020000 | e.mode)
                        .rdev_major(*major)
                        .rdev_minor(*minor)
                        .write(&mut out, 0)
                        .finish()?;
                }
            }
        }
        cpio::newc::trailer(&mut out)?;
        Ok(out.n)
    }

    /// The layer's archive, compressed as `params` say, and its size
    /// before compression.
    pub fn compressed(&self, store: &Store, params: &Params) -> Result<(Vec<u8>, u64)> {
        match params.algorithm {
            // Streamed: zstd's workers compress while the archive is made.
            Algorithm::Zstd => {
                let mut enc = crate::compress::zstd_writer(params.level)
                    .with_context(|| format!("compress the {} layer", self.name))?;
                let n = self
                    .write_cpio(store, params.epoch, &mut enc)
                    .with_context(|| format!("write the {} layer", self.name))?;
                let c = enc
                    .finish()
                    .with_context(|| format!("compress the {} layer", self.name))?;
                Ok((c, n))
            }
            _ => {
                let archive = self
                    .cpio(store, params.epoch)
                    .with_context(|| format!("write the {} layer", self.name))?;
                let c = crate::compress::compress(params.algorithm, &archive, params.level)
                    .with_context(|| format!("compress the {} layer", self.name))?;
                Ok((c, archive.len() as u64))
            }
        }
    }

    /// Builds the layer, or takes it from the cache under `key` (normally
    /// `self.key(params)`), and returns its record, recorded.
    pub fn build(
        &self,
        store: &Store,
        params: &Params,
        key: &str,
        extra: Vec<String>,
    ) -> Result<Built> {
        let built = self.make(store, params, key, extra)?;
        record(store, &[(key, &built)])?;
        Ok(built)
    }

    /// [`Layer::build`] without recording it: the caller records its
    /// layers together ([`record`], one sync for all).
    pub fn make(
        &self,
        store: &Store,
        params: &Params,
        key: &str,
        extra: Vec<String>,
    ) -> Result<Built> {
        if let Some(b) = cached(store, key) {
            return Ok(b);
        }
        let (compressed, uncompressed_size) = self.compressed(store, params)?;
        let (blake3, sha256) =
            rayon::join(|| store.put_bytes(&compressed), || sha256_hex(&compressed));
        let built = Built {
            name: self.name.to_string(),
            blake3: blake3?,
            sha256,
            size: compressed.len() as u64,
            uncompressed_size,
            entries: self.entries.values().cloned().collect(),
            extra,
            from_cache: false,
            data: Some(Compressed(std::sync::Arc::new(compressed))),
        };
        Ok(built)
    }
}

/// A writer that counts what goes through it.
struct Counted<'a> {
    inner: &'a mut dyn Write,
    n: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(b)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Makes the store durable (one sync), then records the layers built
/// (not those from the cache) under their keys: a record must never
/// outlive the objects it names.
pub fn record(store: &Store, layers: &[(&str, &Built)]) -> Result<()> {
    store.sync()?;
    for (key, b) in layers.iter().filter(|(_, b)| !b.from_cache) {
        store.put_layer(key, *b)?;
    }
    Ok(())
}

/// A cached layer record whose object is still in the store.
pub fn cached(store: &Store, key: &str) -> Option<Built> {
    store
        .get_layer::<Built>(key)
        .ok()
        .flatten()
        .filter(|b| store.has(&b.blake3))
        .map(|b| Built {
            from_cache: true,
            ..b
        })
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(store: &Store, path: &str, data: &[u8], mode: u32) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File {
                size: data.len() as u64,
                blake3: store.put_bytes(data).unwrap(),
            },
            mode,
            uid: 0,
            gid: 0,
            source: None,
        }
    }

    /// Reads a newc archive back: (name, mode, ino, nlink, mtime, data).
    fn read_back(mut data: &[u8]) -> Vec<(String, u32, u32, u32, u32, Vec<u8>)> {
        use std::io::Read;
        let mut out = Vec::new();
        loop {
            let mut r = cpio::NewcReader::new(data).unwrap();
            if r.entry().is_trailer() {
                break;
            }
            let e = r.entry();
            let (name, mode, ino, nlink, mtime) = (
                e.name().to_string(),
                e.mode(),
                e.ino(),
                e.nlink(),
                e.mtime(),
            );
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).unwrap();
            data = r.finish().unwrap();
            out.push((name, mode, ino, nlink, mtime, buf));
        }
        out
    }

    #[test]
    fn archive_is_sorted_with_parents_links_and_fixed_times() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let mut l = Layer::new("base");
        l.insert(file(&store, "/usr/bin/b", b"same", 0o755));
        l.insert(file(&store, "/usr/bin/a", b"same", 0o755));
        l.insert(file(&store, "/usr/bin/s", b"same", 0o4755));
        l.insert(Entry {
            path: "/bin".into(),
            kind: Kind::Symlink {
                target: "usr/bin".into(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
            source: None,
        });
        l.add_parents();
        let got = read_back(&l.cpio(&store, 42).unwrap());
        let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "usr",
                "usr/bin",
                "usr/bin/a",
                "usr/bin/b",
                "usr/bin/s"
            ]
        );
        assert!(got.iter().all(|g| g.4 == 42));
        let (a, b, s) = (&got[3], &got[4], &got[5]);
        // a and b share an inode; only the last name carries the data.
        assert_eq!((a.2 == b.2, a.3, b.3), (true, 2, 2));
        assert_eq!((a.5.as_slice(), b.5.as_slice()), (&b""[..], &b"same"[..]));
        // Different mode: its own inode, setuid kept.
        assert_ne!(s.2, a.2);
        assert_eq!((s.1, s.3, s.5.as_slice()), (0o104755, 1, &b"same"[..]));
        assert_eq!(got[0].5, b"usr/bin");
    }

    #[test]
    fn same_entries_same_bytes_and_key_tracks_content() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let params = Params {
            algorithm: Algorithm::Zstd,
            level: 3,
            epoch: 1,
        };
        let mut l = Layer::new("config");
        l.insert(file(&store, "/etc/x", b"1", 0o644));
        let k1 = l.key(&params);
        let b1 = l.build(&store, &params, &l.key(&params), vec![]).unwrap();
        let b2 = l.build(&store, &params, &l.key(&params), vec![]).unwrap();
        assert!(!b1.from_cache && b2.from_cache);
        assert_eq!(
            (b1.sha256.clone(), b1.blake3.clone()),
            (b2.sha256, b2.blake3)
        );
        // The bytes do not depend on the cache: rebuilding without it gives the same.
        let fresh =
            crate::compress::compress(Algorithm::Zstd, &l.cpio(&store, 1).unwrap(), 3).unwrap();
        assert_eq!(sha256_hex(&fresh), b1.sha256);
        l.insert(file(&store, "/etc/x", b"2", 0o644));
        assert_ne!(l.key(&params), k1);
        let b3 = l.build(&store, &params, &l.key(&params), vec![]).unwrap();
        assert_ne!(b3.sha256, b1.sha256);
        let raw = zstd::decode_all(&store.read(&b3.blake3).unwrap()[..]).unwrap();
        assert_eq!(raw.len() as u64, b3.uncompressed_size);
    }

    #[test]
    fn compression_is_part_of_the_key_and_of_the_bytes() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let mut l = Layer::new("config");
        l.insert(file(&store, "/etc/x", b"1", 0o644));
        let mut seen = std::collections::BTreeSet::new();
        for algorithm in Algorithm::ALL {
            let params = Params {
                algorithm,
                level: 6,
                epoch: 1,
            };
            let key = l.key(&params);
            assert!(seen.insert(key.clone()), "{algorithm}: the key of another");
            // Built after another compression's layer: not taken from its cache.
            let b = l.build(&store, &params, &key, vec![]).unwrap();
            assert!(!b.from_cache, "{algorithm}");
            let data = store.read(&b.blake3).unwrap();
            assert_eq!(Algorithm::detect(&data), Some(algorithm));
            let (raw, _) = crate::compress::decompress(&data).unwrap();
            assert_eq!(raw, l.cpio(&store, 1).unwrap());
        }
        let p = |level| Params {
            algorithm: Algorithm::Xz,
            level,
            epoch: 1,
        };
        assert_ne!(l.key(&p(1)), l.key(&p(2)));
    }
}
