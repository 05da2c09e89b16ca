//! BorgBackup: a deduplicating, encrypted repository, local or over ssh.
//!
//! One archive per backup, `HOST-STAMP`, holding the file systems (paths
//! relative to the root, since borg runs in it) and the manifest, read from
//! standard input as `.rear-build.sums`, so the two can never be separated,
//! not even by `borg prune`. The archive is made as
//! `rear-build-partial-HOST-STAMP` and renamed when borg has finished
//! without complaint: restores look only for finished names, so a failed or
//! interrupted run leaves the previous backup the one restored. Files that
//! changed while borg read them (its one allowed warning, or a difference
//! on a second look) are listed in an amendment archive `HOST-STAMP.changed`,
//! made before the rename; a restore leaves them unverified. Should a prune
//! drop the amendment alone, the restore check fails on them: never the
//! other way round.

use crate::secret::Passphrase;
use crate::{generation, says, sums, Backend, Call, Exec, Found, Made, Spec, Target};
use anyhow::{bail, Context, Result};
use rear_exec::quote as shell_quote;
use serde::Deserialize;
use std::path::Path;

/// The manifest's name in every archive.
pub const SUMS: &str = ".rear-build.sums";
const PARTIAL: &str = "rear-build-partial-";
/// The amendment of archive `NAME` is `NAME.changed`, holding `CHANGED`.
const AMENDMENT: &str = ".changed";
const CHANGED: &str = ".rear-build.changed";

fn amendment(name: &str) -> String {
    format!("{name}{AMENDMENT}")
}

/// The paths of borg's "file changed while we backed it up" warnings
/// (`--log-json` lines), and every other warning or error it printed.
fn changed_warnings(stderr: &str) -> (std::collections::BTreeSet<String>, Vec<String>) {
    const SAYS: &str = ": file changed while we backed it up";
    let mut changed = std::collections::BTreeSet::new();
    let mut others = Vec::new();
    for l in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let msg = serde_json::from_str::<serde_json::Value>(l)
            .ok()
            .and_then(|v| {
                let level = v["levelname"].as_str().unwrap_or("");
                matches!(level, "WARNING" | "ERROR" | "CRITICAL")
                    .then(|| v["message"].as_str().map(str::to_string))
                    .flatten()
            });
        match msg {
            Some(m) => match m.strip_suffix(SAYS) {
                Some(p) => {
                    changed.insert(p.trim_start_matches("./").to_string());
                }
                None => others.push(m),
            },
            // Not JSON: borg said it outside its logger (a traceback).
            None if serde_json::from_str::<serde_json::Value>(l).is_err() => {
                others.push(l.to_string())
            }
            None => {}
        }
    }
    (changed, others)
}

/// The variables borg reads a passphrase from, in its order of preference.
pub const PASS_VARS: &[&str] = &["BORG_PASSPHRASE", "BORG_PASSCOMMAND", "BORG_PASSPHRASE_FD"];

pub struct Borg {
    /// As borg takes it: a path or `ssh://[USER@]HOST[:PORT]/DIR`.
    pub repo: String,
    pass: Passphrase,
    host: String,
}

#[derive(Deserialize)]
struct Listing {
    archives: Vec<Archive>,
}

#[derive(Deserialize)]
struct Archive {
    name: String,
}

/// A host name as an archive name can hold it.
fn clean_host(host: &str) -> String {
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `STAMP` is what generation::stamp makes: digits, T, a dot, Z.
fn is_stamp(s: &str) -> bool {
    s.len() == 26
        && s.ends_with('Z')
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, 'T' | '.' | 'Z'))
}

impl Borg {
    /// A borg backend for a target (a usb:// one opened first).
    pub fn at(t: &Target, pass: Passphrase, host: &str) -> Result<Borg> {
        let repo = match t {
            Target::File(d) => d.display().to_string(),
            Target::Ssh(r) => format!("ssh://{}{}", r.authority(), r.path),
            other => bail!("borg cannot use {other:?} as a repository"),
        };
        Ok(Borg {
            repo,
            pass,
            host: clean_host(host),
        })
    }

    /// A borg command. It logs in JSON, whose message ids say what went
    /// wrong better than its words; the passphrase is named in the
    /// environment; and every question borg could ask is answered no, as
    /// nobody is there to answer (and standard input may be the manifest).
    fn borg(&self, args: &[&str]) -> Call {
        let mut argv = vec!["borg", args[0], "--log-json"];
        argv.extend(&args[1..]);
        let mut c = Call::argv(&argv)
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "no")
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "no")
            // `borg delete REPO` without archive names deletes everything.
            .env("BORG_DELETE_I_KNOW_WHAT_I_AM_DOING", "NO");
        if let Passphrase::File(f) = &self.pass {
            // borg prefers BORG_PASSPHRASE to BORG_PASSCOMMAND: the
            // configured file must win over what the environment has.
            c = c
                .env(
                    "BORG_PASSCOMMAND",
                    format!("cat -- {}", shell_quote(&f.to_string_lossy())),
                )
                .unset("BORG_PASSPHRASE")
                .unset("BORG_PASSPHRASE_FD");
        }
        c
    }

    fn archive(&self, name: &str) -> String {
        format!("{}::{name}", self.repo)
    }

    /// Turns borg's failure into what it means for the user.
    fn explain(&self, e: impl Into<anyhow::Error>, doing: &str) -> anyhow::Error {
        let e = e.into();
        if says(&e, &["\"PassphraseWrong\""]) {
            return e.context(format!(
                "the passphrase from {} does not open the borg repository {}",
                self.pass.origin(),
                self.repo
            ));
        }
        if says(&e, &["\"Repository.DoesNotExist\""]) {
            return e.context(format!("there is no borg repository at {}", self.repo));
        }
        if says(&e, &["\"Repository.InvalidRepository\""]) {
            return e.context(format!("{} is not a borg repository", self.repo));
        }
        e.context(format!("borg could not {doing} ({})", self.repo))
    }

    fn names(&self, exec: &dyn Exec) -> Result<Vec<String>> {
        let out = exec
            .run(&self.borg(&["list", "--json", &self.repo]))
            .map_err(|e| self.explain(e, "list the repository"))?;
        let l: Listing = serde_json::from_str(&out)
            .with_context(|| format!("borg list --json of {}: unexpected output", self.repo))?;
        Ok(l.archives.into_iter().map(|a| a.name).collect())
    }

    fn create_call(&self, spec: &Spec, partial: &str, manifest: Vec<u8>) -> Call {
        let mut args: Vec<String> = [
            "create",
            "--numeric-ids",
            "--one-file-system",
            "--compression",
            "zstd,3",
            "--stdin-name",
            SUMS,
            "--stdin-mode",
            "0600",
        ]
        .map(String::from)
        .to_vec();
        // Paths are stored as given, relative to the root borg runs in, so
        // `pp:` (path prefix) patterns are relative too, with no wildcards.
        for x in &spec.exclude {
            args.push(format!("--exclude=pp:{}", x.display()));
        }
        if let Some(rel) = spec.inside(Path::new(&self.repo)) {
            args.push(format!("--exclude=pp:{}", rel.display()));
        }
        args.push(self.archive(partial));
        args.push("--".into());
        args.extend(spec.paths.iter().map(|p| p.display().to_string()));
        args.push("-".into()); // the manifest, from standard input
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.borg(&refs).dir(spec.source()).stdin(manifest)
    }
}

impl Backend for Borg {
    fn name(&self) -> &'static str {
        "borg"
    }

    fn backup(&self, spec: &Spec, exec: &dyn Exec) -> Result<Made> {
        let existing = match self.names(exec) {
            Ok(n) => n,
            Err(e) if says(&e, &["\"Repository.DoesNotExist\""]) => {
                // The first backup makes the repository; its key is kept in
                // it, locked by the passphrase, so the passphrase alone
                // opens it on recovery day.
                exec.run(&self.borg(&[
                    "init",
                    "--encryption",
                    "repokey-blake2",
                    "--make-parent-dirs",
                    &self.repo,
                ]))
                .map_err(|e| self.explain(e, "create the repository"))?;
                log::info!("created the borg repository {} (repokey-blake2)", self.repo);
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let taken = sums::take(spec.source(), &spec.paths, &spec.exclude)?;
        let entries = &taken.entries;
        let name = format!(
            "{}-{}",
            self.host,
            generation::stamp(std::time::SystemTime::now())
        );
        let partial = format!("{PARTIAL}{name}");
        let (code, stderr) = exec
            .output(&self.create_call(
                spec,
                &partial,
                spec.seal.apply(sums::to_text(entries))?.into_bytes(),
            ))
            .map(|o| (o.code, o.stderr))?;
        let (reported, others) = changed_warnings(&stderr);
        // Exit 1 is a warning: only "file changed while we backed it up" is
        // one a live system's backup may have.
        if code != 0 && !(code == 1 && others.is_empty()) {
            // borg keeps an archive when it only warned (a file it could
            // not read): never let it be found, and free its space.
            let _ = exec.run(&self.borg(&["delete", &self.archive(&partial)]));
            let said = if others.is_empty() {
                stderr.trim().to_string()
            } else {
                others.join("; ")
            };
            return Err(self
                .explain(
                    anyhow::anyhow!("`borg create` exited {code}: {said}"),
                    "make the backup",
                )
                .context("the previous backup is kept"));
        }
        // The manifest went in before the data: what changed since is named
        // in an amendment, made before the rename makes the backup count.
        let changed = crate::changed_since(spec, &taken, reported)?;
        if !changed.is_empty() {
            let list = serde_json::to_vec(&changed).context("list the changed files")?;
            let c = self
                .borg(&[
                    "create",
                    "--stdin-name",
                    CHANGED,
                    "--stdin-mode",
                    "0600",
                    &self.archive(&amendment(&name)),
                    "-",
                ])
                .stdin(list);
            if let Err(e) = exec.run(&c) {
                let _ = exec.run(&self.borg(&["delete", &self.archive(&partial)]));
                return Err(self
                    .explain(e, "store the list of files that changed")
                    .context("the previous backup is kept"));
            }
        }
        exec.run(&self.borg(&["rename", &self.archive(&partial), &name]))
            .map_err(|e| self.explain(e, "name the finished backup"))?;
        // Archives of runs that died before their rename (and borg's
        // checkpoints of them) are never restored: free their space.
        let stale: Vec<&str> = existing
            .iter()
            .filter(|n| {
                n.starts_with(&format!("{PARTIAL}{}-", self.host))
                    || n.strip_suffix(AMENDMENT).is_some_and(|a| {
                        a.starts_with(&format!("{}-", self.host))
                            && !existing.iter().any(|x| x == a)
                    })
            })
            .map(String::as_str)
            .collect();
        if !stale.is_empty() {
            let repo = self.repo.clone();
            let mut args = vec!["delete", repo.as_str()];
            args.extend(stale);
            if let Err(e) = exec.run(&self.borg(&args)) {
                log::warn!("could not delete unfinished borg archives: {e:#}");
            }
        }
        Ok(Made::of(self.archive(&name), entries))
    }

    fn latest(&self, exec: &dyn Exec) -> Result<Found> {
        let prefix = format!("{}-", self.host);
        let names = self.names(exec)?;
        let newest = names
            .iter()
            .filter(|n| n.strip_prefix(&prefix).is_some_and(is_stamp))
            .max()
            .cloned();
        let Some(name) = newest else {
            bail!(
                "the borg repository {} has no complete backup of {} (archives named {prefix}STAMP)",
                self.repo,
                self.host
            );
        };
        let text = exec
            .run(&self.borg(&["extract", "--stdout", &self.archive(&name), SUMS]))
            .map_err(|e| self.explain(e, "read the manifest"))
            .with_context(|| format!("the archive {name} has no checksum manifest"))?;
        let mut found = Found::parse(
            name.clone(),
            &text,
            &format!("{}:{SUMS}", self.archive(&name)),
        )?;
        if names.iter().any(|n| *n == amendment(&name)) {
            let text = exec
                .run(&self.borg(&[
                    "extract",
                    "--stdout",
                    &self.archive(&amendment(&name)),
                    CHANGED,
                ]))
                .map_err(|e| self.explain(e, "read the list of files that changed"))?;
            let changed: std::collections::BTreeSet<String> = serde_json::from_str(&text)
                .with_context(|| format!("{}:{CHANGED}: not a list of paths", amendment(&name)))?;
            log::info!(
                "{} files changed while {name} was made: restored, not verified",
                changed.len()
            );
            found.sums = sums::mark_unverified(found.sums, &changed);
        }
        Ok(found)
    }

    fn restore(&self, found: &Found, root: &Path, exec: &dyn Exec) -> Result<()> {
        // borg extracts into its working directory.
        let c = self
            .borg(&[
                "extract",
                "--numeric-ids",
                "--sparse",
                &format!("--exclude=pp:{SUMS}"),
                &self.archive(&found.id),
            ])
            .dir(root);
        exec.run(&c)
            .map_err(|e| self.explain(e, "restore the backup"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Remote;

    #[test]
    fn changed_files_are_told_from_other_warnings() {
        let stderr = concat!(
            r#"{"type": "log_message", "levelname": "WARNING", "name": "borg.archiver", "message": "var/log/syslog: file changed while we backed it up"}"#,
            "\n",
            r#"{"type": "log_message", "levelname": "INFO", "name": "borg.archiver", "message": "Remote: x"}"#,
            "\n",
            r#"{"type": "log_message", "levelname": "WARNING", "name": "borg.archiver", "message": "etc/shadow: open: [Errno 13] Permission denied"}"#,
            "\nTraceback (most recent call last):\n",
        );
        let (changed, others) = changed_warnings(stderr);
        assert_eq!(changed.into_iter().collect::<Vec<_>>(), ["var/log/syslog"]);
        assert_eq!(
            others,
            [
                "etc/shadow: open: [Errno 13] Permission denied",
                "Traceback (most recent call last):"
            ]
        );
    }

    #[test]
    fn repositories_and_archive_names() {
        let pass = Passphrase::Inherited("BORG_PASSPHRASE".into());
        let b = Borg::at(
            &Target::Ssh(Remote {
                user: Some("bk".into()),
                host: "backup".into(),
                port: Some(2222),
                path: "/srv/borg".into(),
            }),
            pass.clone(),
            "web 1",
        )
        .unwrap();
        assert_eq!(b.repo, "ssh://bk@backup:2222/srv/borg");
        assert_eq!(b.host, "web_1");
        assert!(Borg::at(&Target::Usb { label: "X".into() }, pass, "h").is_err());
        assert!(is_stamp("20240101T000000.000000000Z"));
        assert!(!is_stamp("20240101T000000.000000000Z.checkpoint"));
    }

    #[test]
    fn a_passphrase_file_is_named_never_passed() {
        let b = Borg::at(
            &Target::File("/r".into()),
            Passphrase::File("/etc/rear-build/borg pass".into()),
            "h",
        )
        .unwrap();
        let c = b.borg(&["list", "/r"]);
        assert_eq!(c.argv_lossy(), ["borg", "list", "--log-json", "/r"]);
        assert_eq!(
            c.env_value("BORG_PASSCOMMAND").unwrap(),
            "cat -- '/etc/rear-build/borg pass'"
        );
        assert!(c.unset_vars().iter().any(|v| v == "BORG_PASSPHRASE"));
    }

    #[test]
    fn create_keeps_metadata_and_one_file_system() {
        let b = Borg::at(
            &Target::File("/var/backup/borg".into()),
            Passphrase::Inherited("BORG_PASSPHRASE".into()),
            "h",
        )
        .unwrap();
        let spec = Spec::new(
            Path::new("/"),
            vec![".".into(), "boot".into()],
            vec!["var/cache".into()],
        );
        let c = b.create_call(&spec, "p", b"m".to_vec());
        let argv = c.argv_lossy();
        for a in [
            "--numeric-ids",
            "--one-file-system",
            "--exclude=pp:var/cache",
            "--exclude=pp:var/backup/borg",
        ] {
            assert!(argv.iter().any(|x| x == a), "{a}: {argv:?}");
        }
        assert_eq!(
            &argv[argv.len() - 5..],
            ["/var/backup/borg::p", "--", ".", "boot", "-"]
        );
        assert_eq!(c.working_dir(), Some(Path::new("/")));
        assert_eq!(c.input(), Some(&b"m"[..]));
    }
}
