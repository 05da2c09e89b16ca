//! Stat cache: (path, dev, inode, size, mtime, ctime) → content hash.
//!
//! ctime is part of the key because it cannot be set from user space: a file
//! rewritten with its old mtime restored still misses the cache.

use crate::{io_err, write_file_atomic, Hash, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatKey {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl StatKey {
    pub fn of(meta: &fs::Metadata) -> StatKey {
        StatKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    key: StatKey,
    hash: Hash,
}

/// Thread-safe; shared by the rayon workers that hash inputs.
pub struct StatCache {
    file: PathBuf,
    entries: Mutex<HashMap<PathBuf, Entry>>,
    dirty: Mutex<bool>,
    pub hits: std::sync::atomic::AtomicUsize,
    pub misses: std::sync::atomic::AtomicUsize,
}

impl StatCache {
    /// Loads the cache; a missing or unreadable cache starts empty.
    pub fn load(file: &Path) -> StatCache {
        let entries = fs::read(file)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default();
        StatCache {
            file: file.to_path_buf(),
            entries: Mutex::new(entries),
            dirty: Mutex::new(false),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// True when the cache has ever seen `path` (whatever its stat now):
    /// a build that finds paths it has not seen is likely a cold one.
    pub fn knows(&self, path: &Path) -> bool {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(path)
    }

    /// The cached hash of `path` if its stat is unchanged.
    pub fn lookup(&self, path: &Path, meta: &fs::Metadata) -> Option<Hash> {
        use std::sync::atomic::Ordering::Relaxed;
        let key = StatKey::of(meta);
        let hit = self
            .entries
            .lock()
            .unwrap()
            .get(path)
            .filter(|e| e.key == key)
            .map(|e| e.hash.clone());
        match hit {
            Some(_) => self.hits.fetch_add(1, Relaxed),
            None => self.misses.fetch_add(1, Relaxed),
        };
        hit
    }

    /// Records `hash` for `path` as of `meta`.
    pub fn insert(&self, path: &Path, meta: &fs::Metadata, hash: &str) {
        let key = StatKey::of(meta);
        // A file modified within the same clock tick as its stat could later
        // change without changing the key; don't cache such racy entries.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        if now - key.mtime_ns > 2_000_000_000 {
            self.entries.lock().unwrap().insert(
                path.to_path_buf(),
                Entry {
                    key,
                    hash: hash.to_string(),
                },
            );
            *self.dirty.lock().unwrap() = true;
        }
    }

    pub fn save(&self) -> Result<()> {
        if !*self.dirty.lock().unwrap() {
            return Ok(());
        }
        let entries = self.entries.lock().unwrap();
        let data = serde_json::to_vec(&*entries)
            .map_err(|e| io_err("serialize", &self.file)(io::Error::other(e)))?;
        write_file_atomic(&self.file, &data, 0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn unchanged_files_hit_and_changed_files_miss() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, b"one").unwrap();
        // Age the file so the entry is not considered racy.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let store = crate::Store::open(&dir.path().join("store")).unwrap();
        let put = |c: &StatCache| store.put_file(&f, &fs::metadata(&f).unwrap(), c).unwrap();
        let cache_file = dir.path().join("cache.json");
        let c = StatCache::load(&cache_file);
        let h1 = put(&c);
        c.save().unwrap();

        let c = StatCache::load(&cache_file);
        assert_eq!(put(&c), h1);
        assert_eq!((c.hits.load(Relaxed), c.misses.load(Relaxed)), (1, 0));

        fs::write(&f, b"two").unwrap();
        let h2 = put(&c);
        assert_ne!(h1, h2);
        assert_eq!(h2, crate::hash_bytes(b"two"));
        assert_eq!(c.misses.load(Relaxed), 1);
    }
}
