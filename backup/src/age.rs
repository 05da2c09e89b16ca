//! tar backups encrypted with age (age-encryption.org) to a recipient's
//! public key: the machine backed up and the host that keeps the backup
//! hold only the public key, so neither can read the backup; the identity
//! (the secret key) is needed on recovery day only. The archive and its
//! manifest (which names every file and hashes its content) are both
//! encrypted; `docs/backup.md` says how to make and keep the keys.

use crate::{Call, Exec};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// What encrypted files are named: the plain name and this suffix.
pub const SUFFIX: &str = ".age";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Age {
    /// A file of age recipients (public keys, `age1...`), as `age -R` reads.
    pub recipients: PathBuf,
    /// The identity (secret key) file that decrypts, for restores; a
    /// secret: mode 0600, owned by root.
    pub identity: Option<PathBuf>,
}

impl Age {
    /// The identity file, checked as a secret, or what to do without one.
    fn identity(&self) -> Result<&Path> {
        let Some(id) = self.identity.as_deref() else {
            bail!(
                "the backup is encrypted to the age recipients in {}: set backup.identity_file to the file holding the matching identity (age's secret key) to restore it",
                self.recipients.display()
            );
        };
        rear_exec::check_secret_file(id)
            .map_err(|e| anyhow::anyhow!("backup.identity_file: {e}"))?;
        Ok(id)
    }

    /// Writes `data` encrypted to `dest`.
    pub fn encrypt(&self, data: Vec<u8>, dest: &Path, exec: &dyn Exec) -> Result<()> {
        exec.run(
            &Call::new("age")
                .arg("--encrypt")
                .arg("--recipients-file")
                .arg(&self.recipients)
                .arg("--output")
                .arg(dest)
                .stdin(data),
        )
        .with_context(|| format!("age could not encrypt {}", dest.display()))?;
        crate::generation::private(dest, 0o600)
    }

    /// The text of the encrypted file `src`.
    pub fn decrypt(&self, src: &Path, exec: &dyn Exec) -> Result<String> {
        let id = self.identity()?;
        exec.run(
            &Call::new("age")
                .arg("--decrypt")
                .arg("--identity")
                .arg(id)
                .arg(src),
        )
        .with_context(|| {
            format!(
                "age could not decrypt {} with the identity in {} (is it the one for the recipients the backup was made for?)",
                src.display(),
                id.display()
            )
        })
    }

    /// A program for tar's `--use-compress-program`: zstd then age to the
    /// recipients, or with `-d` age with the identity then zstd. Written
    /// into `dir` (private), so tar's own argv stays as it is.
    pub fn compressor(&self, dir: &Path, restoring: bool) -> Result<PathBuf> {
        let q = |p: &Path| rear_exec::quote(&p.to_string_lossy());
        let decrypt = match restoring {
            true => format!("age --decrypt --identity {}", q(self.identity()?)),
            false => "false".to_string(),
        };
        let script = format!(
            "#!/bin/bash\n# tar's compressor for an age-encrypted backup (rear-build)\nset -o pipefail\nif [ \"${{1:-}}\" = -d ]; then\n  {decrypt} | zstd -q -d -c\nelse\n  zstd -q -c -T0 | age --encrypt --recipients-file {}\nfi\n",
            q(&self.recipients)
        );
        let p = dir.join("age-zstd");
        use std::io::Write;
        crate::generation::create_private(&p)?
            .write_all(script.as_bytes())
            .with_context(|| format!("write {}", p.display()))?;
        crate::generation::private(&p, 0o700)?;
        Ok(p)
    }
}

/// `name` as it is stored with `age` (encrypted) or without.
pub fn stored(name: &str, age: Option<&Age>) -> String {
    match age {
        Some(_) => format!("{name}{SUFFIX}"),
        None => name.to_string(),
    }
}
