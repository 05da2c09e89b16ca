//! Backups: where they go (`Target`), the methods that make and restore
//! them (one file each behind `Backend`: tar, rsync, borg, restic), and the
//! checksum manifest every backup carries (`sums`).
//!
//! Every method replaces the previous good backup only as a whole: tar and
//! rsync write a new generation and switch a pointer to it last
//! (`generation`); borg renames a finished archive into the name restores
//! look for; restic writes the manifest snapshot, which restores look for,
//! after the data snapshot. docs/backup.md says why each way.

pub mod age;
pub mod borg;
#[cfg(test)]
mod fuzz;
pub mod generation;
pub mod method;
pub mod needs;
pub mod pin;
pub mod restic;
pub mod rsync;
pub mod secret;
pub mod sparse;
pub mod stream;
pub mod sums;
pub mod tape;
pub mod tar;
pub mod target;
pub mod tarhash;
pub mod view;

pub use method::Method;
pub use target::{Remote, Target};

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Every command runs through the project's one runner; secrets go to a
/// tool through its environment or a file, never on argv.
pub use rear_exec::{Call, Exec};

/// What to back up: file systems (mount points) below `root`.
#[derive(Clone, Debug)]
pub struct Spec {
    /// `/` normally; the backup's paths are relative to it.
    pub root: PathBuf,
    /// Mount points relative to root (`.` for root itself, `boot`, `home`),
    /// each backed up without crossing into other file systems.
    pub paths: Vec<PathBuf>,
    /// Paths relative to root never backed up.
    pub exclude: Vec<PathBuf>,
    /// Where the files of root are read: a private view of its file
    /// systems alone (`view::View`, see [`Spec::through`]), or root itself
    /// when None.
    pub view: Option<PathBuf>,
    /// Through a view, the mount points `paths` stand for.
    pub mounts: Vec<PathBuf>,
    /// The image the backup is made with, and the key its manifest is
    /// signed with.
    pub seal: pin::Seal,
}

impl Spec {
    /// What to back up below `root`, read there.
    pub fn new(root: &Path, paths: Vec<PathBuf>, exclude: Vec<PathBuf>) -> Spec {
        Spec {
            root: root.to_path_buf(),
            paths,
            exclude,
            view: None,
            mounts: Vec::new(),
            seal: pin::Seal::default(),
        }
    }

    /// This spec read through a view of its paths mounted at `dir`
    /// (`view::View::mount`): each path becomes its file system's
    /// directory there, and the exclusions move with them.
    pub fn through(self, dir: &Path) -> Spec {
        let exclude = self
            .exclude
            .iter()
            .filter_map(|x| view::place(&self.paths, x))
            .collect();
        Spec {
            root: self.root,
            paths: self.paths.iter().map(|p| view::unit(p).into()).collect(),
            exclude,
            view: Some(dir.to_path_buf()),
            mounts: self.paths,
            seal: self.seal,
        }
    }

    /// The directory the backup reads `paths` below.
    pub fn source(&self) -> &Path {
        self.view.as_deref().unwrap_or(&self.root)
    }

    /// `p` below the source when it lies below root: a local backup target
    /// or repository, which must never go into its own backup.
    pub fn inside(&self, p: &Path) -> Option<PathBuf> {
        let rel = p
            .strip_prefix(&self.root)
            .ok()
            .filter(|r| !r.as_os_str().is_empty())?;
        match self.view {
            None => Some(rel.to_path_buf()),
            Some(_) => view::place(&self.mounts, rel),
        }
    }
}

/// What a backup run made.
#[derive(Clone, Debug)]
pub struct Made {
    /// Where the backup is: a directory, or a repository and archive.
    pub at: String,
    pub files: usize,
    /// The size of the files backed up.
    pub bytes: u64,
}

impl Made {
    pub fn of(at: String, entries: &[sums::Entry]) -> Made {
        Made {
            at,
            files: entries.len(),
            bytes: entries.iter().map(|e| e.size).sum(),
        }
    }
}

/// The newest whole backup: how its method names it, and its manifest.
#[derive(Clone, Debug)]
pub struct Found {
    pub id: String,
    pub sums: Vec<sums::Entry>,
    /// The manifest's header: the image the backup was made with, and
    /// the manifest's signature.
    pub header: Option<pin::Header>,
}

impl Found {
    /// The backup `id` whose manifest is `text`.
    pub fn parse(id: String, text: &str, origin: &str) -> Result<Found> {
        let (header, sums) = sums::parse_sealed(text, origin)?;
        Ok(Found { id, sums, header })
    }
}

/// A backup method, bound to where its backups live.
pub trait Backend {
    fn name(&self) -> &'static str;
    /// Backs up `spec` with its manifest; the previous backup stays the one
    /// restores find until this one is whole.
    fn backup(&self, spec: &Spec, exec: &dyn Exec) -> Result<Made>;
    /// The newest whole backup; an error when there is none.
    fn latest(&self, exec: &dyn Exec) -> Result<Found>;
    /// Restores `found` below `root`.
    fn restore(&self, found: &Found, root: &Path, exec: &dyn Exec) -> Result<()>;
    /// [`Backend::restore`], and the content hashes of the files it
    /// restored where the method took them as it went (tar: from its
    /// stream, `tarhash`), for the check after it not to read them again.
    fn restore_hashed(
        &self,
        found: &Found,
        root: &Path,
        exec: &dyn Exec,
    ) -> Result<Option<tarhash::Hashes>> {
        self.restore(found, root, exec).map(|()| None)
    }
}

/// What a restore checks of every file the manifest lists (and that
/// nothing else is there), for the messages that say so.
pub const CHECKED: &str = "type, mode, owner, size, content (blake3), link target, xattrs and ACLs, hardlinks, device numbers, holes";

/// Restores the newest backup and then checks every file against its
/// manifest, and that nothing the manifest does not list is below `root`
/// (but the directories recreating the layout made: `sums::layout_made`).
///
/// A backup made through a view is restored through one: each file system
/// of the backup into the one mounted at its mount point below `root`
/// (or a directory made there), what lay under a mount point onto the
/// file system below it.
pub fn restore_and_verify(b: &dyn Backend, root: &Path, exec: &dyn Exec) -> Result<Found> {
    let found = b.latest(exec)?;
    let view = match view::units(&found.sums) {
        None => None,
        Some(units) => {
            // Never a temporary directory removed recursively: a bind still
            // there would take the restored files with it.
            let base = Path::new(view::RESTORE_DIR);
            Some(view::View::restore(root, &units, base, exec)?)
        }
    };
    let at = view.as_ref().map_or(root, |v| v.dir.as_path());
    let t = std::time::Instant::now();
    let streamed = b.restore_hashed(&found, at, exec)?;
    let restored = t.elapsed().as_secs_f64();
    let allocation = sparse::restore_allocation(&found.sums, at)?;
    log::info!("holes: {allocation}");
    let holes = t.elapsed().as_secs_f64();
    // The files' check and the walk for anything else, side by side.
    let (mut bad, extras) = rayon::join(
        || sums::verify_with(at, &found.sums, streamed.as_ref()),
        || sums::extras(at, &found.sums),
    );
    let extras = extras?;
    log::info!(
        "restore {restored:.1} s, holes {:.1} s, verify and the look for anything else {:.1} s",
        holes - restored,
        t.elapsed().as_secs_f64() - holes
    );
    drop(view);
    bad.extend(extras.iter().map(|p| {
        format!(
            "{}: restored, but not in the backup's manifest",
            view::shown(p)
        )
    }));
    if !bad.is_empty() {
        let shown: Vec<&str> = bad.iter().take(20).map(String::as_str).collect();
        bail!(
            "the restored files differ from the backup's manifest in {} places, e.g.:\n  {}{}",
            bad.len(),
            shown.join("\n  "),
            match extras.is_empty() {
                true => "",
                false => "\nWhat the manifest does not list was slipped into the backup, or was below the root before this restore (an earlier attempt's: `recover --restart` makes the file systems anew)",
            }
        );
    }
    Ok(found)
}

/// Whether the error of a failed command says one of `needles` (the
/// runner's error carries the command's stderr).
pub(crate) fn says(e: &(impl std::fmt::Display + ?Sized), needles: &[&str]) -> bool {
    let text = format!("{e:#}");
    needles.iter().any(|n| text.contains(n))
}

/// The paths that changed while they were backed up: what the tool
/// reported (`reported`) and what a second look (stat only, see
/// `sums::Stamp`) finds changed, gone or new. They are in the backup, but a
/// restore cannot verify them.
pub fn changed_since(
    spec: &Spec,
    taken: &sums::Taken,
    mut reported: std::collections::BTreeSet<String>,
) -> Result<std::collections::BTreeSet<String>> {
    let now = sums::stamps(spec.source(), &spec.paths, &spec.exclude)?;
    for (path, stamp) in &taken.stamps {
        if now.get(path) != Some(stamp) {
            reported.insert(path.clone());
        }
    }
    // Only what the manifest holds: tar reports the mount points it crosses.
    reported.retain(|p| taken.stamps.contains_key(p));
    // And what appeared while the backup ran (a new log, a temporary
    // file): it may be in the backup, so it is listed, unverified, and a
    // restore takes it for neither missing nor slipped in. (What appeared
    // and went again before this second look is not listed: a restore
    // that finds it fails as for a slipped-in file.)
    reported.extend(
        now.keys()
            .filter(|p| !taken.stamps.contains_key(*p))
            .cloned(),
    );
    if !reported.is_empty() {
        log::warn!(
            "{} files changed, went or appeared while the backup ran; they may be in it, and a restore will not verify them: {}",
            reported.len(),
            reported.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(reported)
}

/// The manifest of `taken`, with what changed while it was backed up
/// (`changed_since`) marked unverified: in the backup, but not checked.
pub fn settle(
    spec: &Spec,
    taken: sums::Taken,
    reported: std::collections::BTreeSet<String>,
) -> Result<Vec<sums::Entry>> {
    let changed = changed_since(spec, &taken, reported)?;
    Ok(sums::mark_unverified(taken.entries, &changed))
}
