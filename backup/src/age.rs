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
        exec.run(&self.encrypt_call().arg("--output").arg(dest).stdin(data))
            .with_context(|| format!("age could not encrypt {}", dest.display()))?;
        crate::generation::private(dest, 0o600)
    }

    /// The text of the encrypted file `src`.
    pub fn decrypt(&self, src: &Path, exec: &dyn Exec) -> Result<String> {
        let id = self.identity()?;
        exec.run(&self.decrypt_call()?.arg(src))
        .with_context(|| {
            format!(
                "age could not decrypt {} with the identity in {} (is it the one for the recipients the backup was made for?)",
                src.display(),
                id.display()
            )
        })
    }

    /// age that encrypts its stdin to the recipients onto its stdout: the
    /// stage after zstd of an encrypted archive (`stream`).
    pub fn encrypt_call(&self) -> Call {
        Call::new("age")
            .arg("--encrypt")
            .arg("--recipients-file")
            .arg(&self.recipients)
    }

    /// age that decrypts its stdin with the identity onto its stdout.
    pub fn decrypt_call(&self) -> Result<Call> {
        Ok(Call::new("age")
            .arg("--decrypt")
            .arg("--identity")
            .arg(self.identity()?))
    }
}

/// `name` as it is stored with `age` (encrypted) or without.
pub fn stored(name: &str, age: Option<&Age>) -> String {
    match age {
        Some(_) => format!("{name}{SUFFIX}"),
        None => name.to_string(),
    }
}
