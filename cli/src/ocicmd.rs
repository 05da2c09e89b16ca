//! push and pull: an image to and from an OCI registry (docs/provenance.md,
//! "OCI distribution"); the registry work is rear-oci's.

use crate::config;
use anyhow::{ensure, Context, Result};
use rear_builder::provenance;
use rear_oci::{Options, Target};
use rear_sign::PublicKey;
use std::path::Path;
use std::time::Instant;

fn options(o: &config::Oci) -> Options {
    Options {
        insecure: o.insecure,
        credentials: o.credentials.clone(),
    }
}

/// A 401 says what to give.
fn hint(e: anyhow::Error) -> anyhow::Error {
    if format!("{e:#}").contains("401 Unauthorized") {
        e.context("the registry refused: it wants credentials, or took them as wrong (--credentials FILE or [oci] credentials, a first line user:password)")
    } else {
        e
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn push(target: &str, dir: &Path, o: &config::Oci) -> Result<i32> {
    let t: Target = target.parse()?;
    let start = Instant::now();
    let r = rear_oci::push(dir, &t, &options(o))
        .with_context(|| format!("push {} to {t}", dir.display()))
        .map_err(hint)?;
    eprintln!(
        "rear-build: {} pushed to {t}: {} blobs uploaded ({}), {} already in the registry, in {:.1} s",
        dir.display(),
        r.uploaded,
        mib(r.uploaded_bytes),
        r.present,
        start.elapsed().as_secs_f64()
    );
    match &r.signature {
        Some(s) => eprintln!("rear-build: signature {s}"),
        None => eprintln!(
            "rear-build: no signature in {} (rear-build sign)",
            dir.display()
        ),
    }
    eprintln!(
        "rear-build: pull it pinned with: rear-build pull {} -o DIR",
        r.pinned
    );
    println!("{}", r.pinned);
    Ok(0)
}

pub fn pull(target: &str, out: &Path, pubkey: Option<&Path>, o: &config::Oci) -> Result<i32> {
    let t: Target = target.parse()?;
    // The key is read before anything is fetched.
    let key = pubkey.map(PublicKey::load).transpose()?;
    let start = Instant::now();
    let check = |dir: &Path| -> Result<()> {
        let Some(key) = &key else {
            return Ok(());
        };
        let report = provenance::verify(dir, key, &rear_exec::System)?;
        crate::signcmd::print_findings(&report);
        let bad = report.findings.iter().filter(|f| !f.ok).count();
        ensure!(
            bad == 0,
            "{t} does NOT verify with key {}: {bad} of {} checks failed; nothing written",
            key.id(),
            report.findings.len()
        );
        Ok(())
    };
    let r = rear_oci::pull(&t, out, &options(o), &check)
        .with_context(|| format!("pull {t} into {}", out.display()))
        .map_err(hint)?;
    if t.digest.is_none() {
        eprintln!("rear-build: {t} named {}; pin it: {}", r.digest, r.pinned);
    }
    eprintln!(
        "rear-build: {} pulled into {}: {} blobs ({}), each checked against its digest, in {:.1} s",
        r.pinned,
        out.display(),
        r.blobs,
        mib(r.bytes),
        start.elapsed().as_secs_f64()
    );
    match (&r.signature, &key) {
        (_, Some(k)) => eprintln!(
            "rear-build: verified with key {} (signature {})",
            k.id(),
            r.signature
                .as_ref()
                .map_or("-".to_string(), |s| s.to_string())
        ),
        (Some(s), None) => eprintln!(
            "rear-build: signature {s} fetched but not checked (no --pubkey or trust.pubkey); every artefact matches manifest.json"
        ),
        (None, None) => eprintln!(
            "rear-build: no signature and no key: every artefact matches manifest.json, nothing more"
        ),
    }
    Ok(0)
}
