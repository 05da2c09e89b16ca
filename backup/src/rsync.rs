//! rsync: the backup is a plain tree, to a local directory, an rsync daemon
//! or a host over ssh, one generation at a time (`generation`), each new
//! one hardlinked to the last where files did not change (`--link-dest`),
//! so a run copies only what changed and still never touches the backup
//! that restores use until it is whole.
//!
//! ```text
//! DEST/current
//! DEST/backup-<stamp>/backup.sums
//! DEST/backup-<stamp>/tree/...
//! ```
//!
//! Every step on DEST is an rsync run, the same for all three kinds of
//! destination: rsync itself replaces `current` atomically (it writes a
//! temporary file and renames it), and deletes old generations.

use crate::generation::{self, POINTER, PREFIX, SUMS};
use crate::{says, sums, Backend, Call, Exec, Found, Made, Remote, Spec, Target};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Dest {
    Local(PathBuf),
    Daemon(Remote),
    Ssh(Remote),
}

pub struct Rsync {
    dest: Dest,
}

/// What both directions keep: permissions, times, owners and groups as
/// numbers (the rescue system has no user database), hardlinks, ACLs,
/// xattrs, devices and special files, holes.
const METADATA: &[&str] = &["-aHAXS", "--numeric-ids"];

/// For rear-build's own files at the destination (the backup directory, a
/// generation's directory, its manifest, the pointer): private whatever the
/// umask, and an existing backup directory made so too. A generation's
/// tree keeps the files' own modes (a restore takes them from it); its
/// 0700 directory keeps every other user out.
const PRIVATE: [&str; 2] = ["--perms", "--chmod=D0700,F0600"];

/// A path relative to the transfer's root as an rsync filter pattern: one
/// with a wildcard character in it has its backslashes and wildcards escaped.
fn pattern(rel: &Path) -> String {
    let s = rel.to_string_lossy();
    let wild = s.contains(['*', '?', '[']);
    let mut out = String::from("/");
    for c in s.chars() {
        if wild && matches!(c, '*' | '?' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Rsync {
    /// An rsync backend for a target (a usb:// one opened first).
    pub fn at(t: &Target) -> Result<Rsync> {
        let dest = match t {
            Target::File(d) => Dest::Local(d.clone()),
            Target::Rsyncd(r) => Dest::Daemon(r.clone()),
            Target::Ssh(r) => Dest::Ssh(r.clone()),
            other => bail!("rsync cannot write to {other:?}"),
        };
        Ok(Rsync { dest })
    }

    /// `rel` below the destination, as rsync takes it.
    fn loc(&self, rel: &str) -> String {
        match &self.dest {
            Dest::Local(d) => format!("{}/{rel}", d.display()),
            Dest::Daemon(r) => format!("rsync://{}/{}/{rel}", r.authority(), r.path),
            Dest::Ssh(r) => format!("{}:{}/{rel}", r.user_host(), r.path),
        }
    }

    /// `rsync`, and how to reach the host when it is over ssh on another port.
    fn rsync(&self) -> Vec<String> {
        let mut argv = vec!["rsync".to_string()];
        if let Dest::Ssh(Remote { port: Some(p), .. }) = &self.dest {
            argv.push("-e".into());
            argv.push(format!("ssh -p {p}"));
        }
        argv
    }

    /// Copies `src` (a file, or a directory with its contents) into the
    /// destination as `rel`. `--ignore-times`: a file of the same size
    /// written in the same second is still copied.
    fn put(&self, exec: &dyn Exec, src: &Path, rel: &str) -> Result<()> {
        let mut argv = self.rsync();
        argv.extend(["--recursive", "--ignore-times"].map(String::from));
        argv.extend(PRIVATE.map(String::from));
        argv.push(src.display().to_string());
        argv.push(self.loc(rel));
        exec.run(&Call::argv(&argv))
            .with_context(|| format!("rsync could not write {}", self.loc(rel)))?;
        Ok(())
    }

    /// On a local destination, flushes what rsync wrote to disk, so the
    /// pointer never reaches the disk before what it points to. (A server
    /// is trusted with its own disks: `--fsync` would ask the same of it,
    /// but servers before rsync 3.2.4 refuse the option.)
    fn flush(&self) -> Result<()> {
        match &self.dest {
            Dest::Local(d) => generation::sync_fs(d),
            _ => Ok(()),
        }
    }

    /// Makes the destination directory if it is missing (rsync makes the
    /// last directory of a destination, as `mkdir` would).
    fn ensure(&self, exec: &dyn Exec, scratch: &Path) -> Result<()> {
        let empty = scratch.join("empty");
        fs::create_dir_all(&empty).with_context(|| format!("create {}", empty.display()))?;
        let mut argv = self.rsync();
        argv.push("--recursive".into());
        argv.extend(PRIVATE.map(String::from));
        argv.push(format!("{}/", empty.display()));
        argv.push(self.loc(""));
        exec.run(&Call::argv(&argv))
            .with_context(|| format!("rsync could not make {}", self.loc("")))?;
        Ok(())
    }

    /// The current generation, fetched into `scratch`; None when the
    /// destination has none (or does not exist yet).
    fn current(&self, exec: &dyn Exec, scratch: &Path) -> Result<Option<String>> {
        let mut argv = self.rsync();
        // A missing pointer is no error: there is no backup yet. Anything
        // else (no such host or module, no permission) is.
        argv.push("--ignore-missing-args".into());
        argv.push(self.loc(POINTER));
        argv.push(format!("{}/", scratch.display()));
        exec.run(&Call::argv(&argv))
            .with_context(|| format!("rsync could not read {}", self.loc(POINTER)))?;
        let p = scratch.join(POINTER);
        if !p.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
        Ok(Some(generation::parse_pointer(&text, &self.loc(POINTER))?))
    }

    fn tree_argv(&self, spec: &Spec, gen: &str, prev: Option<&str>) -> Vec<String> {
        let mut argv = self.rsync();
        argv.extend(METADATA.iter().map(|s| s.to_string()));
        // One file system per path; paths kept relative to root (`/./`).
        argv.extend(["-x", "--relative"].map(String::from));
        if let Some(p) = prev {
            // Relative to the destination directory, DEST/<gen>/tree.
            argv.push(format!("--link-dest=../../{p}/tree"));
        }
        for x in &spec.exclude {
            argv.push(format!("--exclude={}", pattern(x)));
        }
        if let Dest::Local(d) = &self.dest {
            if let Some(rel) = spec.inside(d) {
                argv.push(format!("--exclude={}", pattern(&rel)));
            }
        }
        let root = spec.source().to_string_lossy();
        for p in &spec.paths {
            let rel = p.to_string_lossy();
            let rel = if rel == "." { "" } else { rel.as_ref() };
            argv.push(format!("{}/./{rel}", root.trim_end_matches('/')));
        }
        argv.push(self.loc(&format!("{gen}/tree/")));
        argv
    }

    /// Deletes every generation but `keep`: an empty directory synced onto
    /// the destination with --delete, all but other generations excluded
    /// (and so protected from deletion).
    fn prune(&self, exec: &dyn Exec, scratch: &Path, keep: &str) -> Result<()> {
        let empty = scratch.join("empty");
        fs::create_dir_all(&empty).with_context(|| format!("create {}", empty.display()))?;
        let mut argv = self.rsync();
        argv.extend(["--recursive", "--delete"].map(String::from));
        argv.push(format!("--exclude=/{keep}/"));
        argv.push(format!("--include=/{PREFIX}*/***"));
        argv.push("--exclude=*".into());
        argv.push(format!("{}/", empty.display()));
        argv.push(self.loc(""));
        exec.run(&Call::argv(&argv)).with_context(|| {
            format!("rsync could not delete the old backups in {}", self.loc(""))
        })?;
        Ok(())
    }
}

impl Backend for Rsync {
    fn name(&self) -> &'static str {
        "rsync"
    }

    fn backup(&self, spec: &Spec, exec: &dyn Exec) -> Result<Made> {
        if let Dest::Local(d) = &self.dest {
            generation::private_dir(d)
                .with_context(|| format!("backup directory {}", d.display()))?;
        }
        let scratch = tempfile::tempdir().context("create a temporary directory")?;
        self.ensure(exec, scratch.path())?;
        let prev = self.current(exec, scratch.path())?;
        let gen = generation::new_name();
        let taken = sums::take(spec.source(), &spec.paths, &spec.exclude)?;
        // The new generation's directory first, so rsync need not make
        // missing directories (--mkpath is rsync 3.2.3+).
        let g = scratch.path().join(&gen);
        fs::create_dir(&g).with_context(|| format!("create {}", g.display()))?;
        self.put(exec, &g, "")?;
        let (code, stderr) = exec
            .output(&Call::argv(self.tree_argv(spec, &gen, prev.as_deref())))
            .map(|o| (o.code, o.stderr))?;
        // Exit 24: files vanished while rsync ran, a warning on a live system.
        if code != 0 && code != 24 {
            bail!(
                "rsync could not make the backup; the previous backup is kept: rsync exited {code}: {}",
                stderr.trim()
            );
        }
        let entries = crate::settle(spec, taken, vanished_paths(&stderr))?;
        sums::write(&spec.seal.apply(sums::to_text(&entries))?, &g.join(SUMS))?;
        self.put(exec, &g.join(SUMS), &format!("{gen}/{SUMS}"))?;
        self.flush()?;
        // The switch: from here on restores find the new generation.
        let p = scratch.path().join(POINTER);
        fs::write(&p, format!("{gen}\n")).with_context(|| format!("write {}", p.display()))?;
        self.put(exec, &p, POINTER)?;
        self.flush()?;
        self.prune(exec, scratch.path(), &gen)?;
        Ok(Made::of(self.loc(&gen), &entries))
    }

    fn latest(&self, exec: &dyn Exec) -> Result<Found> {
        let scratch = tempfile::tempdir().context("create a temporary directory")?;
        let none = || {
            anyhow::anyhow!(
                "{} has no complete backup: no checksum manifest of one (no {POINTER} file)",
                self.loc("")
            )
        };
        let gen = match self.current(exec, scratch.path()) {
            Ok(Some(gen)) => gen,
            Ok(None) => return Err(none()),
            // The directory itself is missing.
            Err(e) if says(&e, &["change_dir"]) && says(&e, &["No such file or directory"]) => {
                return Err(e.context(none()))
            }
            Err(e) => return Err(e),
        };
        let mut argv = self.rsync();
        argv.push(self.loc(&format!("{gen}/{SUMS}")));
        argv.push(format!("{}/", scratch.path().display()));
        exec.run(&Call::argv(&argv)).with_context(|| {
            format!(
                "the backup {gen} in {} has no checksum manifest",
                self.loc("")
            )
        })?;
        let (header, sums) = sums::read_sealed(&scratch.path().join(SUMS))?;
        Ok(Found {
            id: gen,
            sums,
            header,
        })
    }

    fn restore(&self, found: &Found, root: &Path, exec: &dyn Exec) -> Result<()> {
        let mut argv = self.rsync();
        argv.extend(METADATA.iter().map(|s| s.to_string()));
        argv.push(self.loc(&format!("{}/tree/", found.id)));
        argv.push(format!("{}/", root.display()));
        exec.run(&Call::argv(&argv))
            .context("rsync could not restore the backup")?;
        Ok(())
    }
}

/// The paths (relative, as in the manifest) of rsync's "file has vanished"
/// warnings (the sender names them as given, `ROOT/./PATH`). The second
/// look in `settle` finds them as well; this names them when it cannot.
fn vanished_paths(stderr: &str) -> std::collections::BTreeSet<String> {
    const SAYS: &str = "file has vanished: \"";
    stderr
        .lines()
        .filter_map(|l| Some(&l[l.find(SAYS)? + SAYS.len()..]))
        .filter_map(|p| p.strip_suffix('"'))
        .map(|p| match p.split_once("/./") {
            Some((_, rel)) => rel.to_string(),
            None => p.trim_start_matches('/').to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(port: Option<u16>, path: &str) -> Remote {
        Remote {
            user: Some("bk".into()),
            host: "backup".into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn vanished_files_are_manifest_paths() {
        let got = vanished_paths(
            "file has vanished: \"/./var/log/x y\"\nrsync: [sender] file has vanished: \"/mnt/./tmp/z\"\nrsync warning: some files vanished before they could be transferred (code 24)\n",
        );
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            ["tmp/z", "var/log/x y"]
        );
    }

    #[test]
    fn destinations_as_rsync_takes_them() {
        let local = Rsync::at(&Target::File("/srv/b".into())).unwrap();
        assert_eq!(local.loc("current"), "/srv/b/current");
        let d = Rsync::at(&Target::Rsyncd(remote(Some(873), "rear/web1"))).unwrap();
        assert_eq!(d.loc("x/tree/"), "rsync://bk@backup:873/rear/web1/x/tree/");
        assert_eq!(d.rsync(), ["rsync"]);
        let s = Rsync::at(&Target::Ssh(remote(Some(2222), "/srv/b"))).unwrap();
        assert_eq!(s.loc(""), "bk@backup:/srv/b/");
        assert_eq!(s.rsync(), ["rsync", "-e", "ssh -p 2222"]);
        assert!(Rsync::at(&Target::Usb { label: "X".into() }).is_err());
    }

    #[test]
    fn tree_flags_keep_all_metadata_and_one_file_system() {
        let r = Rsync::at(&Target::File("/mnt/b".into())).unwrap();
        let spec = Spec::new(
            Path::new("/"),
            vec![".".into(), "boot".into()],
            vec!["var/cache".into(), "odd*[x]\\".into()],
        );
        let argv = r.tree_argv(&spec, "backup-2", Some("backup-1"));
        let has = |a: &str| argv.iter().any(|x| x == a);
        for a in ["-aHAXS", "--numeric-ids", "-x", "--relative"] {
            assert!(has(a), "{a}: {argv:?}");
        }
        assert!(has("--link-dest=../../backup-1/tree"));
        assert!(has("--exclude=/var/cache"));
        assert!(has("--exclude=/odd\\*\\[x]\\\\"));
        assert!(has("--exclude=/mnt/b"), "the target is not backed up");
        assert_eq!(
            &argv[argv.len() - 3..],
            ["/./", "/./boot", "/mnt/b/backup-2/tree/"]
        );
    }
}
