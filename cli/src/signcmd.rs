//! keygen, sign and verify: a build's results signed where they are made
//! and checked before they are trusted (docs/provenance.md).

use crate::config;
use anyhow::{Context, Result};
use rear_builder::provenance;
use rear_sign::{Password, PublicKey, SecretKey};
use std::path::{Path, PathBuf};

fn password(file: Option<&Path>) -> Password {
    match file {
        Some(f) => Password::File(f.to_path_buf()),
        None => Password::Terminal,
    }
}

pub fn keygen(base: &Path, password_file: Option<&Path>, unencrypted: bool) -> Result<i32> {
    let pw = match unencrypted {
        true => Password::Unencrypted,
        false => password(password_file),
    };
    let (key, public) = rear_sign::keygen(base, &pw)?;
    let id = PublicKey::load(&public)?.id();
    eprintln!(
        "rear-build: key {id}: the secret key is {} (keep it safe{}), the public key {}",
        key.display(),
        if unencrypted {
            "; it is not encrypted"
        } else {
            ""
        },
        public.display()
    );
    Ok(0)
}

/// The secret key at `key`, decrypted with the password from
/// `password_file` or the terminal.
pub fn load_key(key: &Path, password_file: Option<&Path>) -> Result<SecretKey> {
    SecretKey::load(key, &password(password_file))
}

/// Signs `dir` with the key; the files written.
pub fn sign_dir(dir: &Path, key: &Path, password_file: Option<&Path>) -> Result<Vec<PathBuf>> {
    let sk = load_key(key, password_file)?;
    let written =
        provenance::sign_dir(dir, &sk).with_context(|| format!("sign {}", dir.display()))?;
    eprintln!(
        "rear-build: {} signed with key {}: {}",
        dir.display(),
        sk.id(),
        written
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(written)
}

/// Prints each check of a report, `ok` or `FAIL`, a line each.
pub fn print_findings(report: &provenance::Report) {
    for f in &report.findings {
        let mark = if f.ok { "ok  " } else { "FAIL" };
        println!(
            "{mark} {}: {}",
            f.subject,
            f.detail.replace('\n', "\n       ")
        );
    }
}

pub fn verify(
    cfg: &config::Config,
    pubkey: Option<&Path>,
    target: &Path,
    allow_downgrade: bool,
) -> Result<i32> {
    let key_file = pubkey
        .map(Path::to_path_buf)
        .or_else(|| cfg.trust.pubkey.clone())
        .context("no public key to trust: give --pubkey FILE, or set trust.pubkey")?;
    let key = PublicKey::load(&key_file)?;
    let mut report = provenance::verify(target, &key, &rear_exec::System)?;
    // Only an image that verifies counts as seen, and is compared with
    // those seen before.
    if report.holds() {
        let dir = match target.is_dir() {
            true => target,
            false => target.parent().unwrap_or(Path::new(".")),
        };
        let (m, _) = crate::pinning::manifest_at(dir)?;
        let admitted = crate::pinning::Newest::load(&cfg.trust.state())
            .and_then(|mut n| n.admit(&key, &m, allow_downgrade));
        report.findings.push(provenance::Finding {
            subject: "age".into(),
            ok: admitted.is_ok(),
            detail: match admitted {
                Ok(d) => d,
                Err(e) => format!("{e:#}"),
            },
        });
    }
    print_findings(&report);
    let bad = report.findings.iter().filter(|f| !f.ok).count();
    if bad == 0 {
        eprintln!(
            "rear-build: {} verified with key {}: {} checks hold",
            target.display(),
            key.id(),
            report.findings.len()
        );
        Ok(0)
    } else {
        eprintln!(
            "rear-build: {} does NOT verify with key {}: {bad} of {} checks failed",
            target.display(),
            key.id(),
            report.findings.len()
        );
        Ok(1)
    }
}
