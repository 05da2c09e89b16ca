//! Generations: how a backup directory (tar, rsync) holds one whole backup
//! and replaces it only as a whole.
//!
//! ```text
//! DIR/current                      the generation restored: "backup-<stamp>"
//! DIR/backup-<stamp>/backup.sums   its manifest, beside its data
//! DIR/backup-<stamp>/...           its data (an archive, or a tree)
//! ```
//!
//! A run writes a new generation beside the old one and then replaces
//! `current`, a file of one line, by rename: the one step that switches from
//! the old backup to the new. A crash before it leaves the old pointer,
//! pointing at the old generation, untouched; a crash after it leaves an old
//! generation that the next run deletes. Only `backup-*` entries are ever
//! deleted: the directory may hold other things (rescue images on a USB disk).

use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The pointer file's name.
pub const POINTER: &str = "current";
/// The manifest's name inside a generation.
pub const SUMS: &str = "backup.sums";
/// What every generation's name starts with.
pub const PREFIX: &str = "backup-";

/// A UTC time stamp that sorts as text, to the nanosecond so two runs in
/// the same second still get two names: `20240131T235959.123456789Z`.
pub fn stamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, day) = civil(days);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), by
/// counting whole 400-year eras (146097 days each), then years within the
/// era with the year starting in March, so the leap day falls last.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A new generation's name.
pub fn new_name() -> String {
    format!("{PREFIX}{}", stamp(SystemTime::now()))
}

/// Checks what a pointer file says: one generation name, nothing that could
/// lead a restore out of the backup directory.
pub fn parse_pointer(text: &str, origin: &str) -> Result<String> {
    let name = text.trim_end_matches('\n');
    let ok = name.starts_with(PREFIX)
        && name.len() > PREFIX.len()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && !name.contains("..");
    if !ok {
        bail!("{origin} does not name a backup generation (it says {name:?})");
    }
    Ok(name.to_string())
}

/// The generation `dir/current` points to, or None when there is no pointer.
pub fn current(dir: &Path) -> Result<Option<String>> {
    let p = dir.join(POINTER);
    match fs::read_to_string(&p) {
        Ok(text) => Ok(Some(parse_pointer(&text, &p.display().to_string())?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
    }
}

/// Flushes a file or directory to disk, so a pointer never reaches the
/// disk before what it points to.
pub fn sync(p: &Path) -> Result<()> {
    fs::File::open(p)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("flush {} to disk", p.display()))
}

/// Flushes the whole file system `p` is on: after an rsync run wrote a
/// tree of files, one call instead of one per file.
pub fn sync_fs(p: &Path) -> Result<()> {
    use std::os::unix::io::AsRawFd;
    let f = fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
    // SAFETY: syncfs on a descriptor we hold open.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("flush the file system of {} to disk", p.display()));
    }
    Ok(())
}

/// Creates `dir` (with missing parents) and makes it private, 0700
/// whatever the umask: a backup holds /etc/shadow, host and user keys.
pub fn private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    private(dir, 0o700)
}

/// Sets `p`'s mode (0600 for a backup's files, 0700 for its directories).
pub fn private(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .with_context(|| format!("make {} private (mode {mode:o})", p.display()))
}

/// Creates the file `p` with mode 0600 (not the umask's), to write.
pub fn create_private(p: &Path) -> Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
        .with_context(|| format!("create {}", p.display()))?;
    // `mode` only applies to a new file.
    private(p, 0o600)?;
    Ok(f)
}

/// Makes `gen` the current generation of `dir`: the pointer is written
/// under a temporary name, flushed, renamed over the old one, and the
/// directory flushed so the rename itself is on disk.
pub fn switch(dir: &Path, gen: &str) -> Result<()> {
    let tmp = dir.join(format!("{POINTER}.partial"));
    let mut f = create_private(&tmp)?;
    f.write_all(format!("{gen}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("write {}", tmp.display()))?;
    drop(f);
    let dest = dir.join(POINTER);
    fs::rename(&tmp, &dest)
        .with_context(|| format!("rename {} to {}", tmp.display(), dest.display()))?;
    sync(dir)
}

/// Deletes every generation of `dir` but `keep` (old ones and the leftovers
/// of interrupted runs).
pub fn prune(dir: &Path, keep: &str) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))? {
        let e = e.with_context(|| format!("list {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(PREFIX) && name != keep {
            let p = e.path();
            let r = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            r.with_context(|| format!("delete the old backup {}", p.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_and_sort_as_text() {
        let at = |s: u64, n: u32| stamp(UNIX_EPOCH + Duration::new(s, n));
        assert_eq!(at(0, 0), "19700101T000000.000000000Z");
        // 2000-02-29 (a leap day in a century year), 2024-12-31, 2100-03-01.
        assert_eq!(at(951_782_400, 5), "20000229T000000.000000005Z");
        assert_eq!(at(1_735_689_599, 0), "20241231T235959.000000000Z");
        assert_eq!(at(4_107_542_400, 0), "21000301T000000.000000000Z");
        assert!(at(1_735_689_599, 999_999_999) < at(1_735_689_600, 0));
    }

    #[test]
    fn pointers_name_a_generation_and_nothing_else() {
        assert_eq!(
            parse_pointer("backup-20240101T000000.000000000Z\n", "p").unwrap(),
            "backup-20240101T000000.000000000Z"
        );
        for bad in [
            "",
            "backup-",
            "../etc",
            "backup-../../x",
            "backup-a/b",
            "other\n",
        ] {
            assert!(parse_pointer(bad, "p").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn switch_then_prune_keeps_one_generation_and_foreign_files() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(current(d.path()).unwrap(), None);
        for g in ["backup-1", "backup-2"] {
            fs::create_dir(d.path().join(g)).unwrap();
        }
        fs::create_dir(d.path().join("rescue-image")).unwrap();
        switch(d.path(), "backup-2").unwrap();
        assert_eq!(current(d.path()).unwrap().as_deref(), Some("backup-2"));
        prune(d.path(), "backup-2").unwrap();
        let mut left: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["backup-2", "current", "rescue-image"]);
    }
}
