//! restic: a deduplicating, encrypted repository, local or over sftp.
//!
//! A backup is two snapshots of one host, tagged with the same stamp: the
//! data (tag `rear-build`, paths relative to the root, since restic runs in
//! it), then the manifest (tag `rear-build-sums`, `backup.sums` read from
//! standard input; restic cannot take standard input and paths in one
//! snapshot). Restores start from the manifest snapshot, so the data of a
//! failed or interrupted run, which has none, is never restored; a failed
//! run also forgets its data snapshot when restic made one.

use crate::secret::Passphrase;
use crate::{generation, says, sums, Backend, Call, Exec, Found, Made, Spec, Target};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const SUMS: &str = "backup.sums";
const DATA_TAG: &str = "rear-build";
const SUMS_TAG: &str = "rear-build-sums";
const STAMP_TAG: &str = "rear-build-stamp=";

/// The variables restic reads a password from.
pub const PASS_VARS: &[&str] = &[
    "RESTIC_PASSWORD",
    "RESTIC_PASSWORD_FILE",
    "RESTIC_PASSWORD_COMMAND",
];

pub struct Restic {
    /// As restic takes it: a path or `sftp://[USER@]HOST[:PORT]//DIR`.
    pub repo: String,
    pass: Passphrase,
    host: String,
}

#[derive(Deserialize)]
struct Snapshot {
    id: String,
    #[serde(default)]
    tags: Vec<String>,
    /// What was backed up, absolute.
    #[serde(default)]
    paths: Vec<PathBuf>,
}

impl Snapshot {
    fn stamp(&self) -> Option<&str> {
        self.tags.iter().find_map(|t| t.strip_prefix(STAMP_TAG))
    }

    fn tagged(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// An absolute path as a restic pattern: wildcards and backslashes escaped.
fn pattern(p: &Path) -> String {
    let mut out = String::new();
    for c in p.to_string_lossy().chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Restic {
    /// A restic backend for a target (a usb:// one opened first).
    pub fn at(t: &Target, pass: Passphrase, host: &str) -> Result<Restic> {
        let repo = match t {
            Target::File(d) => d.display().to_string(),
            // restic's sftp url separates host and path by one slash; the
            // path's own leading slash makes it absolute.
            Target::Sftp(r) => format!("sftp://{}/{}", r.authority(), r.path),
            other => bail!("restic cannot use {other:?} as a repository"),
        };
        Ok(Restic {
            repo,
            pass,
            host: host.to_string(),
        })
    }

    /// A restic command on the repository, told where the password is.
    fn restic(&self, args: &[&str]) -> Call {
        let mut argv = vec!["restic", args[0], "--repo", &self.repo];
        argv.extend(&args[1..]);
        // The repository is on argv; one from the environment would clash.
        let mut c = Call::argv(&argv)
            .unset("RESTIC_REPOSITORY")
            .unset("RESTIC_REPOSITORY_FILE");
        if let Passphrase::File(f) = &self.pass {
            c = c
                .env("RESTIC_PASSWORD_FILE", f)
                .unset("RESTIC_PASSWORD")
                .unset("RESTIC_PASSWORD_COMMAND");
        }
        c
    }

    /// Turns restic's failure into what it means for the user.
    fn explain(&self, e: impl Into<anyhow::Error>, doing: &str) -> anyhow::Error {
        let e = e.into();
        if says(&e, &["wrong password"]) {
            return e.context(format!(
                "the passphrase from {} does not open the restic repository {}",
                self.pass.origin(),
                self.repo
            ));
        }
        if says(&e, &["Is there a repository at the following location?"]) {
            return e.context(format!("there is no restic repository at {}", self.repo));
        }
        e.context(format!("restic could not {doing} ({})", self.repo))
    }

    fn snapshots(&self, exec: &dyn Exec) -> Result<Vec<Snapshot>> {
        let out = exec
            .run(&self.restic(&["snapshots", "--json", "--host", &self.host]))
            .map_err(|e| self.explain(e, "list the snapshots"))?;
        serde_json::from_str(&out).with_context(|| {
            format!(
                "restic snapshots --json of {}: unexpected output",
                self.repo
            )
        })
    }

    /// Forgets the data snapshot of a run that failed (best effort: the
    /// manifest snapshot is missing, so it is never restored anyway).
    fn forget_run(&self, exec: &dyn Exec, stamp: &str) {
        let Ok(snaps) = self.snapshots(exec) else {
            return;
        };
        let tag = format!("{STAMP_TAG}{stamp}");
        let ids: Vec<&str> = snaps
            .iter()
            .filter(|s| s.tagged(&tag))
            .map(|s| s.id.as_str())
            .collect();
        if !ids.is_empty() {
            let mut args = vec!["forget"];
            args.extend(ids);
            let _ = exec.run(&self.restic(&args));
        }
    }

    fn backup_call(&self, spec: &Spec, stamp: &str) -> Call {
        let tag = format!("{STAMP_TAG}{stamp}");
        let mut args: Vec<String> = [
            "backup",
            "--quiet",
            "--one-file-system",
            "--host",
            &self.host,
            "--tag",
            DATA_TAG,
            "--tag",
            &tag,
        ]
        .map(String::from)
        .to_vec();
        // restic matches excludes against the absolute path on disk.
        for x in &spec.exclude {
            args.push(format!("--exclude={}", pattern(&spec.source().join(x))));
        }
        if let Some(rel) = spec.inside(Path::new(&self.repo)) {
            args.push(format!("--exclude={}", pattern(&spec.source().join(rel))));
        }
        args.push("--".into());
        args.extend(spec.paths.iter().map(|p| p.display().to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        // Relative paths from the root: the snapshot holds `etc/...`, not
        // the root's own path, so a restore puts files below any root.
        self.restic(&refs).dir(spec.source())
    }

    /// restic skips a path that does not exist with a warning and still
    /// succeeds: the snapshot must hold every path the manifest has.
    fn check_paths(&self, exec: &dyn Exec, spec: &Spec, stamp: &str) -> Result<()> {
        let tag = format!("{STAMP_TAG}{stamp}");
        let snaps = self.snapshots(exec)?;
        let Some(snap) = snaps.iter().find(|s| s.tagged(DATA_TAG) && s.tagged(&tag)) else {
            bail!("restic made no snapshot tagged {tag}");
        };
        for p in &spec.paths {
            // restic names the paths where it read them (the view's).
            let want: PathBuf = spec
                .source()
                .join(p)
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            if !snap.paths.contains(&want) {
                bail!(
                    "restic skipped {} (it disappeared during the backup?): the snapshot has only {:?}",
                    want.display(),
                    snap.paths
                );
            }
        }
        Ok(())
    }

    /// Whether this restic restores holes itself (0.15 and later).
    fn restores_sparse(&self, exec: &dyn Exec) -> bool {
        exec.run(&Call::argv(["restic", "restore", "--help"]))
            .map(|h| h.contains("--sparse"))
            .unwrap_or(false)
    }
}

impl Backend for Restic {
    fn name(&self) -> &'static str {
        "restic"
    }

    fn backup(&self, spec: &Spec, exec: &dyn Exec) -> Result<Made> {
        if let Err(e) = self.snapshots(exec) {
            if !says(&e, &["Is there a repository at the following location?"]) {
                return Err(e);
            }
            // The first backup makes the repository; its key is kept in it,
            // locked by the passphrase.
            exec.run(&self.restic(&["init"]))
                .map_err(|e| self.explain(e, "create the repository"))?;
            log::info!("created the restic repository {}", self.repo);
        }
        let taken = sums::take(spec.source(), &spec.paths, &spec.exclude)?;
        let stamp = generation::stamp(std::time::SystemTime::now());
        if let Err(e) = exec
            .run(&self.backup_call(spec, &stamp))
            .map_err(anyhow::Error::from)
            .and_then(|_| self.check_paths(exec, spec, &stamp))
        {
            self.forget_run(exec, &stamp);
            return Err(self
                .explain(e, "make the backup")
                .context("the previous backup is kept"));
        }
        let entries = crate::settle(spec, taken, Default::default())?;
        // The manifest snapshot is written last: it is what makes the backup count.
        let tag = format!("{STAMP_TAG}{stamp}");
        let c = self
            .restic(&[
                "backup",
                "--quiet",
                "--host",
                &self.host,
                "--tag",
                SUMS_TAG,
                "--tag",
                &tag,
                "--stdin",
                "--stdin-filename",
                SUMS,
            ])
            .stdin(spec.seal.apply(sums::to_text(&entries))?.into_bytes());
        if let Err(e) = exec.run(&c) {
            self.forget_run(exec, &stamp);
            return Err(self
                .explain(e, "store the manifest")
                .context("the previous backup is kept"));
        }
        Ok(Made::of(
            format!("{} ({} {stamp})", self.repo, self.host),
            &entries,
        ))
    }

    fn latest(&self, exec: &dyn Exec) -> Result<Found> {
        let snaps = self.snapshots(exec)?;
        let mut manifests: Vec<&Snapshot> = snaps
            .iter()
            .filter(|s| s.tagged(SUMS_TAG) && s.stamp().is_some())
            .collect();
        manifests.sort_by_key(|s| std::cmp::Reverse(s.stamp()));
        // The newest manifest whose data is still there (a `restic forget`
        // may have removed one and not the other).
        for m in manifests {
            let tag = format!("{STAMP_TAG}{}", m.stamp().unwrap_or_default());
            let Some(data) = snaps.iter().find(|s| s.tagged(DATA_TAG) && s.tagged(&tag)) else {
                log::warn!(
                    "restic snapshot {} is a manifest without its data; skipped",
                    m.id
                );
                continue;
            };
            let text = exec
                .run(&self.restic(&["dump", &m.id, &format!("/{SUMS}")]))
                .map_err(|e| self.explain(e, "read the manifest"))?;
            return Found::parse(
                data.id.clone(),
                &text,
                &format!("restic snapshot {}:/{SUMS}", m.id),
            );
        }
        bail!(
            "the restic repository {} has no complete backup of {}: no checksum manifest of one (snapshots tagged {SUMS_TAG})",
            self.repo,
            self.host
        )
    }

    fn restore(&self, found: &Found, root: &Path, exec: &dyn Exec) -> Result<()> {
        let target = root.display().to_string();
        let mut args = vec!["restore", &found.id, "--target", &target];
        if self.restores_sparse(exec) {
            args.push("--sparse");
        }
        exec.run(&self.restic(&args))
            .map_err(|e| self.explain(e, "restore the backup"))?;
        // A snapshot of `.` has no entry for `.` itself: the root's owner
        // and mode come from the manifest.
        if let Some(top) = found.sums.iter().find(|e| e.path == ".") {
            std::os::unix::fs::chown(root, Some(top.uid), Some(top.gid))
                .with_context(|| format!("chown {}", root.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(top.mode))
                .with_context(|| format!("chmod {}", root.display()))?;
        }
        // Without --sparse (before 0.15) holes come back as zeros:
        // restore_and_verify digs them again (crate::sparse).
        // restic before 0.17 stores link targets as text: one that is not
        // UTF-8 comes back mangled. The manifest has it byte for byte.
        for e in found.sums.iter().filter(|e| e.kind == "symlink") {
            let Some(t) = e.target.as_deref().map(sums::decode) else {
                continue;
            };
            if t.to_str().is_some() {
                continue;
            }
            let p = root.join(sums::decode(&e.path));
            // The link's and its directory's times as restic restored them.
            let dir = p.parent().unwrap_or(root);
            let stat = |p: &Path| {
                std::fs::symlink_metadata(p).with_context(|| format!("stat {}", p.display()))
            };
            let (link_meta, dir_meta) = (stat(&p)?, stat(dir)?);
            std::fs::remove_file(&p).with_context(|| format!("remove {}", p.display()))?;
            std::os::unix::fs::symlink(&t, &p)
                .with_context(|| format!("symlink {}", p.display()))?;
            std::os::unix::fs::lchown(&p, Some(e.uid), Some(e.gid))
                .with_context(|| format!("chown {}", p.display()))?;
            crate::sparse::set_times(&p, &link_meta)?;
            crate::sparse::set_times(dir, &dir_meta)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Remote;

    #[test]
    fn repositories_as_restic_takes_them() {
        let pass = Passphrase::Inherited("RESTIC_PASSWORD".into());
        let r = Restic::at(
            &Target::Sftp(Remote {
                user: Some("bk".into()),
                host: "backup".into(),
                port: Some(2222),
                path: "/srv/restic".into(),
            }),
            pass.clone(),
            "h",
        )
        .unwrap();
        assert_eq!(r.repo, "sftp://bk@backup:2222//srv/restic");
        assert!(Restic::at(&Target::Usb { label: "X".into() }, pass, "h").is_err());
    }

    #[test]
    fn a_password_file_is_named_never_passed() {
        let r = Restic::at(
            &Target::File("/r".into()),
            Passphrase::File("/etc/rear-build/restic".into()),
            "h",
        )
        .unwrap();
        let c = r.restic(&["snapshots"]);
        assert_eq!(c.argv_lossy(), ["restic", "snapshots", "--repo", "/r"]);
        assert_eq!(
            c.env_value("RESTIC_PASSWORD_FILE").unwrap(),
            "/etc/rear-build/restic"
        );
        assert!(c.unset_vars().iter().any(|v| v == "RESTIC_PASSWORD"));
    }

    #[test]
    fn backup_flags() {
        let r = Restic::at(
            &Target::File("/var/restic".into()),
            Passphrase::Inherited("RESTIC_PASSWORD".into()),
            "h",
        )
        .unwrap();
        let spec = Spec::new(
            Path::new("/"),
            vec![".".into(), "boot".into()],
            vec!["var/cache*".into()],
        );
        let c = r.backup_call(&spec, "S");
        let argv = c.argv_lossy();
        for a in [
            "--one-file-system",
            "--exclude=/var/cache\\*",
            "--exclude=/var/restic",
            "rear-build-stamp=S",
        ] {
            assert!(argv.iter().any(|x| x == a), "{a}: {argv:?}");
        }
        assert_eq!(&argv[argv.len() - 3..], ["--", ".", "boot"]);
    }
}
