//! GNU tar (ReaR's NETFS method): xattrs, ACLs, SELinux labels, sparse
//! files, numeric owners, one file system per path, zstd (compressed by
//! rear-build itself, `stream`: no `zstd` program needed). The archive and
//! its manifest are one generation of a local directory (`generation`).

use crate::age::{self, Age};
use crate::generation::{self, SUMS};
use crate::{stream, sums, Backend, Exec, Found, Made, Spec};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

pub const ARCHIVE: &str = "backup.tar.zst";

pub struct Tar {
    /// The backup directory (made on the first backup).
    pub dir: PathBuf,
    /// Archive and manifest encrypted to age recipients, or plain.
    pub age: Option<Age>,
}

/// The options both directions share, so what is saved is what comes back.
const METADATA: &[&str] = &[
    "--xattrs",
    "--xattrs-include=*",
    "--acls",
    "--selinux",
    "--numeric-owner",
];

impl Tar {
    /// tar's argv that archives `spec` onto its stdout (`--file=-`): the
    /// plain tar stream, which `stream` compresses.
    pub(crate) fn create_argv(&self, spec: &Spec) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            "tar".into(),
            "--create".into(),
            "--sparse".into(),
            "--one-file-system".into(),
        ];
        argv.extend(METADATA.iter().map(|s| s.to_string()));
        argv.push("--file=-".into());
        argv.push(format!("--directory={}", spec.source().display()));
        for x in &spec.exclude {
            argv.push(format!("--exclude=./{}", x.display()));
        }
        if let Some(rel) = spec.inside(&self.dir) {
            argv.push(format!("--exclude=./{}", rel.display()));
        }
        argv.push("--".into());
        for p in &spec.paths {
            argv.push(
                format!("./{}", p.display())
                    .replace("/./", "/")
                    .trim_end_matches("/.")
                    .to_string(),
            );
        }
        argv
    }
}

impl Backend for Tar {
    fn name(&self) -> &'static str {
        "tar"
    }

    fn backup(&self, spec: &Spec, exec: &dyn Exec) -> Result<Made> {
        generation::private_dir(&self.dir)
            .with_context(|| format!("backup directory {}", self.dir.display()))?;
        let gen = generation::new_name();
        let gdir = self.dir.join(&gen);
        fs::create_dir(&gdir).with_context(|| format!("create {}", gdir.display()))?;
        generation::private(&gdir, 0o700)?;
        let taken = sums::take(spec.source(), &spec.paths, &spec.exclude)?;
        let archive = gdir.join(age::stored(ARCHIVE, self.age.as_ref()));
        let failed = |e: anyhow::Error| {
            // Not pointed to, so never restored; the next run would delete it too.
            let _ = fs::remove_dir_all(&gdir);
            e.context("tar could not make the backup; the previous backup is kept")
        };
        let out = generation::create_private(&archive).map_err(failed)?;
        let (code, stderr) = stream::create(
            exec,
            &self.create_argv(spec),
            self.age.as_ref(),
            out,
            &archive.display().to_string(),
        )
        .map(|o| (o.code, o.stderr))
        .map_err(failed)?;
        // Exit 1 is tar's "file changed as we read it": a warning on a live system.
        let changed = changed_paths(&stderr);
        // Any other exit, or a signal (-1), is a failure.
        if code != 0 && (code != 1 || changed.is_empty()) {
            return Err(failed(anyhow::anyhow!(
                "tar exited {code}: {}",
                stderr.trim()
            )));
        }
        generation::private(&archive, 0o600)?;
        let entries = crate::settle(spec, taken, changed)?;
        let sums_file = gdir.join(age::stored(SUMS, self.age.as_ref()));
        let text = spec.seal.apply(sums::to_text(&entries)).map_err(failed)?;
        match &self.age {
            None => sums::write(&text, &sums_file)?,
            Some(a) => a
                .encrypt(text.into_bytes(), &sums_file, exec)
                .map_err(failed)?,
        }
        for p in [&archive, &sums_file, &gdir] {
            generation::sync(p)?;
        }
        generation::switch(&self.dir, &gen)?;
        generation::prune(&self.dir, &gen)?;
        Ok(Made::of(archive.display().to_string(), &entries))
    }

    fn latest(&self, exec: &dyn Exec) -> Result<Found> {
        let Some(gen) = generation::current(&self.dir)? else {
            bail!(
                "{} has no complete backup: no checksum manifest of one (no {} file)",
                self.dir.display(),
                generation::POINTER
            );
        };
        let plain = self.dir.join(&gen).join(SUMS);
        let sealed = self.dir.join(&gen).join(format!("{SUMS}{}", age::SUFFIX));
        let no_manifest = || {
            format!(
                "the backup {gen} in {} has no checksum manifest",
                self.dir.display()
            )
        };
        let (header, sums) = match (&self.age, sealed.is_file()) {
            (Some(a), true) => {
                sums::parse_sealed(&a.decrypt(&sealed, exec)?, &sealed.display().to_string())?
            }
            (None, true) => bail!(
                "the backup {gen} in {} is encrypted with age: set backup.recipients_file and backup.identity_file",
                self.dir.display()
            ),
            (_, false) => sums::read_sealed(&plain).with_context(no_manifest)?,
        };
        Ok(Found {
            id: gen,
            sums,
            header,
        })
    }

    fn restore(&self, found: &Found, root: &Path, exec: &dyn Exec) -> Result<()> {
        self.restore_hashed(found, root, exec).map(drop)
    }

    fn restore_hashed(
        &self,
        found: &Found,
        root: &Path,
        exec: &dyn Exec,
    ) -> Result<Option<crate::tarhash::Hashes>> {
        let sealed = self
            .dir
            .join(&found.id)
            .join(format!("{ARCHIVE}{}", age::SUFFIX));
        // Plain when the backup was made plain, whatever is configured now.
        let (archive, age) = match sealed.is_file() {
            true => (sealed, self.age.as_ref()),
            false => (self.dir.join(&found.id).join(ARCHIVE), None),
        };
        if !archive.is_file() {
            bail!("no backup archive at {}", archive.display());
        }
        let input =
            fs::File::open(&archive).with_context(|| format!("open {}", archive.display()))?;
        stream::extract_hashed(
            exec,
            &extract_argv(root),
            age,
            input,
            &archive.display().to_string(),
        )
        .context("tar could not restore the backup")
    }
}

/// tar's argv that restores the tar stream on its stdin (`--file=-`) below
/// `root`.
pub(crate) fn extract_argv(root: &Path) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        "tar".into(),
        "--extract".into(),
        "--preserve-permissions".into(),
        "--same-owner".into(),
    ];
    argv.extend(METADATA.iter().map(|s| s.to_string()));
    argv.push("--file=-".into());
    argv.push(format!("--directory={}", root.display()));
    argv
}

/// The paths (relative, as in the manifest) of tar's "file changed as we
/// read it" warnings.
pub(crate) fn changed_paths(stderr: &str) -> std::collections::BTreeSet<String> {
    // What tar says of a file that changed under it (exit 1, a warning).
    const SAYS: &[&str] = &[
        ": file changed as we read it",
        ": File removed before we read it",
        ": File shrank by ",
    ];
    stderr
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("tar: ")?;
            SAYS.iter().find_map(|s| l.find(s).map(|i| &l[..i]))
        })
        .map(|p| match p.trim_start_matches("./") {
            "" | "." => ".".to_string(),
            p => p.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn changed_paths_are_relative_manifest_paths() {
        let got = super::changed_paths(
            "tar: ./sys: file changed as we read it\ntar: ./var/log/syslog: file changed as we read it\ntar: Removing leading `/'\ntar: ./tmp/x: File removed before we read it\ntar: ./var/big: File shrank by 10 bytes; padding with zeros\ntar: .: file changed as we read it\n",
        );
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            [".", "sys", "tmp/x", "var/big", "var/log/syslog"]
        );
    }
}
