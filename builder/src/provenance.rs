//! Signing an output directory and verifying one (docs/provenance.md).
//!
//! `sign` writes `manifest.json.minisig` (minisign's format, so the stock
//! `minisign -V` checks it) and `SHA256SUMS` + `SHA256SUMS.minisig` over
//! every artefact and the manifest (so `sha256sum -c` works too). The
//! trusted comment names the tool's version, the host and
//! `SOURCE_DATE_EPOCH`, never a clock: signing twice gives the same bytes.
//!
//! `verify` checks, in order, and reports each: the manifest's signature,
//! SHA256SUMS and its signature where present, every artefact's size,
//! sha256 and BLAKE3, then what is inside: the initrd's layers and every
//! file in them against the manifest, and the kernel and initrd inside
//! the ISO, the raw disk, the OBDR tape and the PXE tree against the
//! image's own.

use crate::manifest::{Artefact, FileInfo, Manifest};
use anyhow::{Context, Result};
use rear_exec::{Call, Exec};
use rear_sign::{PublicKey, SecretKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_SIG: &str = "manifest.json.minisig";
pub const SUMS: &str = "SHA256SUMS";
pub const SUMS_SIG: &str = "SHA256SUMS.minisig";

/// What a signature's trusted comment says of the image.
pub fn trusted_comment(m: &Manifest, file: &str) -> String {
    format!(
        "rear-build {} host {} epoch {} file {file}",
        m.tool.version,
        m.inputs.host.as_deref().unwrap_or("-"),
        m.inputs.source_date_epoch
    )
}

fn read_manifest(dir: &Path) -> Result<(Vec<u8>, Manifest)> {
    let p = dir.join(MANIFEST);
    let data = std::fs::read(&p).with_context(|| format!("read {}", p.display()))?;
    let m = parse_manifest(&data)?;
    Ok((data, m))
}

fn parse_manifest(data: &[u8]) -> Result<Manifest> {
    serde_json::from_slice(data).context("not a rear-build manifest")
}

/// Signs the output directory `dir`: after checking that every artefact
/// there is what the manifest says (nothing else is ever signed). Returns
/// the files written.
pub fn sign_dir(dir: &Path, key: &SecretKey) -> Result<Vec<PathBuf>> {
    let (data, m) = read_manifest(dir)?;
    let mut sums = Vec::new();
    for a in &m.artefacts {
        let p = dir.join(&a.name);
        if !p.exists() {
            continue;
        }
        let got = rear_sign::sha256_file(&p)?;
        anyhow::ensure!(
            got == a.sha256,
            "{} is not what manifest.json says (sha256 {got}, not {}): not signed; build the image again",
            p.display(),
            a.sha256
        );
        sums.push((a.name.clone(), got));
    }
    anyhow::ensure!(
        !sums.is_empty(),
        "{}: none of the manifest's artefacts is there",
        dir.display()
    );
    sums.push((MANIFEST.to_string(), crate::layer::sha256_hex(&data)));
    let sums_text = rear_sign::sha256sums(&sums);
    let untrusted = format!("signed by rear-build, key {}", key.id());
    let out = [
        (
            MANIFEST_SIG,
            key.sign(&data, &trusted_comment(&m, MANIFEST), &untrusted)?,
        ),
        (SUMS, sums_text.clone()),
        (
            SUMS_SIG,
            key.sign(sums_text.as_bytes(), &trusted_comment(&m, SUMS), &untrusted)?,
        ),
    ];
    let mut written = Vec::new();
    for (name, text) in out {
        let p = dir.join(name);
        rear_store::write_file_atomic(&p, text.as_bytes(), 0o644)?;
        written.push(p);
    }
    Ok(written)
}

/// One check and how it came out.
#[derive(Clone, Debug)]
pub struct Finding {
    pub subject: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    fn add(&mut self, subject: impl Into<String>, ok: bool, detail: impl Into<String>) {
        self.findings.push(Finding {
            subject: subject.into(),
            ok,
            detail: detail.into(),
        });
    }

    fn result(&mut self, subject: impl Into<String>, r: Result<String>) {
        match r {
            Ok(d) => self.add(subject, true, d),
            Err(e) => self.add(subject, false, format!("{e:#}")),
        }
    }

    /// Every check held.
    pub fn holds(&self) -> bool {
        self.findings.iter().all(|f| f.ok)
    }
}

/// Verifies `target`: an output directory (or a rescue disk's generation),
/// or one artefact in one. A report of every check; an error only when
/// there is nothing to check (no manifest).
pub fn verify(target: &Path, key: &PublicKey, exec: &dyn Exec) -> Result<Report> {
    let (dir, only) = match target.is_dir() {
        true => (target.to_path_buf(), None),
        false => {
            let name = target
                .file_name()
                .with_context(|| format!("{}: no file name", target.display()))?
                .to_string_lossy()
                .into_owned();
            let dir = target.parent().unwrap_or(Path::new(".")).to_path_buf();
            (dir, Some(name))
        }
    };
    let mut r = Report::default();
    let p = dir.join(MANIFEST);
    let data = std::fs::read(&p).with_context(|| format!("read {}", p.display()))?;
    r.result(MANIFEST_SIG, signature(&dir, MANIFEST_SIG, &data, key));
    let m = match parse_manifest(&data) {
        Ok(m) => m,
        Err(e) => {
            r.add(MANIFEST, false, format!("{e:#}"));
            return Ok(r);
        }
    };
    if !m.image_id.is_empty() {
        let kernel = m.artefacts.iter().find(|a| a.name == "vmlinuz");
        let got = crate::manifest::image_id(
            kernel.map_or("", |a| a.blake3.as_str()),
            m.files.iter().map(|f| &f.entry),
        );
        match got == m.image_id {
            true => r.add(
                "image id",
                true,
                format!("{got}: the kernel and files listed"),
            ),
            false => r.add(
                "image id",
                false,
                format!(
                    "the kernel and files listed make {got}, the manifest says {}",
                    m.image_id
                ),
            ),
        }
    }
    let wanted: Vec<&Artefact> = m
        .artefacts
        .iter()
        .filter(|a| only.as_deref().is_none_or(|o| a.name == o))
        .collect();
    if let Some(o) = &only {
        if wanted.is_empty() {
            r.add(o, false, "not an artefact of this manifest");
        }
    }
    // Each file is hashed once: SHA256SUMS is checked against these.
    let mut hashed = BTreeMap::from([(MANIFEST.to_string(), crate::layer::sha256_hex(&data))]);
    for a in wanted {
        let p = dir.join(&a.name);
        if !p.exists() {
            // A rescue disk's generation holds the kernel and initrd only.
            let needed = only.is_some() || matches!(a.name.as_str(), "vmlinuz" | "initrd.img");
            r.add(&a.name, !needed, "not here, not checked");
            continue;
        }
        let held = std::fs::read(&p)
            .with_context(|| format!("read {}", p.display()))
            .and_then(|data| {
                let got = crate::image::artefact(&a.name, &data);
                hashed.insert(a.name.clone(), got.sha256.clone());
                artefact_holds(&got, a)
            });
        let ok = held.is_ok();
        r.result(&a.name, held);
        if ok {
            contents(&dir, a, &m, exec, &mut r);
        }
    }
    if dir.join(SUMS_SIG).exists() || dir.join(SUMS).exists() {
        check_sums(&dir, key, only.as_deref(), &hashed, &mut r);
    }
    Ok(r)
}

/// Checks the signature `sig` (a file in `dir`) of `data`.
fn signature(dir: &Path, sig: &str, data: &[u8], key: &PublicKey) -> Result<String> {
    let p = dir.join(sig);
    let text = std::fs::read_to_string(&p)
        .with_context(|| format!("no signature: read {}", p.display()))?;
    let trusted = key.verify(data, &text)?;
    Ok(format!("signed by {}: {trusted}", key.id()))
}

/// Checks SHA256SUMS and its signature, and each file it lists (from
/// `hashed` when the artefact check already hashed it).
fn check_sums(
    dir: &Path,
    key: &PublicKey,
    only: Option<&str>,
    hashed: &BTreeMap<String, String>,
    r: &mut Report,
) {
    let text = match std::fs::read(dir.join(SUMS)) {
        Ok(t) => t,
        Err(e) => return r.add(SUMS, false, format!("read: {e}")),
    };
    r.result(SUMS_SIG, signature(dir, SUMS_SIG, &text, key));
    let lines = match rear_sign::parse_sha256sums(&String::from_utf8_lossy(&text)) {
        Ok(l) => l,
        Err(e) => return r.add(SUMS, false, format!("{e:#}")),
    };
    for (name, hash) in lines {
        if only.is_some_and(|o| o != name) || !dir.join(&name).exists() {
            continue;
        }
        let got = match hashed.get(&name) {
            Some(h) => Ok(h.clone()),
            None => rear_sign::sha256_file(&dir.join(&name)),
        };
        match got {
            Ok(g) if g == hash => {}
            Ok(g) => r.add(
                format!("{SUMS}: {name}"),
                false,
                format!("sha256 {g}, SHA256SUMS says {hash}"),
            ),
            Err(e) => r.add(format!("{SUMS}: {name}"), false, format!("{e:#}")),
        }
    }
}

/// `got` (a file's size and hashes) is the artefact `a`.
fn artefact_holds(got: &Artefact, a: &Artefact) -> Result<String> {
    anyhow::ensure!(
        got.size == a.size,
        "{} bytes, the manifest says {}",
        got.size,
        a.size
    );
    anyhow::ensure!(
        got.sha256 == a.sha256,
        "sha256 {}, the manifest says {}",
        got.sha256,
        a.sha256
    );
    anyhow::ensure!(
        got.blake3 == a.blake3,
        "BLAKE3 {}, the manifest says {}",
        got.blake3,
        a.blake3
    );
    Ok(format!("{} bytes, sha256 {}", a.size, a.sha256))
}

/// What is inside an artefact, where rear-build knows how to look.
fn contents(dir: &Path, a: &Artefact, m: &Manifest, exec: &dyn Exec, r: &mut Report) {
    let p = dir.join(&a.name);
    let subject = format!("{} (inside)", a.name);
    let inner = match a.name.as_str() {
        "initrd.img" => initrd_files(&p, m),
        "rescue.iso" => boot_files(m, |name, to| iso_extract(&p, name, to, exec)),
        "rescue.img" => boot_files(m, |name, to| raw_extract(&p, name, to, exec)),
        "rescue.tap" => (|| {
            let scratch = tempfile::tempdir().context("create a temporary directory")?;
            let iso = scratch.path().join("rescue.iso");
            crate::media::obdr::extract_iso(&p, &iso)?;
            boot_files(m, |name, to| iso_extract(&iso, name, to, exec))
        })(),
        n if n.starts_with("pxe/") && (n.ends_with("/vmlinuz") || n.ends_with("/initrd.img")) => {
            let base = if n.ends_with("/vmlinuz") {
                "vmlinuz"
            } else {
                "initrd.img"
            };
            same_as(a, m, base)
        }
        _ => return,
    };
    r.result(subject, inner);
}

/// The artefact `a` holds the same bytes as the image's `base` artefact.
fn same_as(a: &Artefact, m: &Manifest, base: &str) -> Result<String> {
    let want = m
        .artefacts
        .iter()
        .find(|x| x.name == base)
        .with_context(|| format!("the manifest has no {base}"))?;
    anyhow::ensure!(a.sha256 == want.sha256, "not the image's {base}");
    Ok(format!("the image's {base}"))
}

/// The kernel and initrd a medium boots (from `/boot`, as every medium
/// stages them) are the image's own.
fn boot_files(m: &Manifest, extract: impl Fn(&str, &Path) -> Result<()>) -> Result<String> {
    let scratch = tempfile::tempdir().context("create a temporary directory")?;
    for name in ["vmlinuz", "initrd.img"] {
        let to = scratch.path().join(name);
        extract(&format!("/boot/{name}"), &to)?;
        let want = m
            .artefacts
            .iter()
            .find(|a| a.name == name)
            .with_context(|| format!("the manifest has no {name}"))?;
        let got = rear_sign::sha256_file(&to)?;
        anyhow::ensure!(
            got == want.sha256,
            "its /boot/{name} is not the image's {name} (sha256 {got}, not {})",
            want.sha256
        );
    }
    Ok("boots the image's vmlinuz and initrd.img".into())
}

/// Copies `name` out of the ISO 9660 image `iso` to `to`.
pub(crate) fn iso_extract(iso: &Path, name: &str, to: &Path, exec: &dyn Exec) -> Result<()> {
    exec.run(
        &Call::new("xorriso")
            .args(["-osirrox", "on", "-indev"])
            .arg(iso)
            .arg("-extract")
            .arg(name)
            .arg(to),
    )
    .with_context(|| format!("take {name} out of {}", iso.display()))?;
    Ok(())
}

/// Copies `name` out of the EFI system partition of the disk image `disk`.
fn raw_extract(disk: &Path, name: &str, to: &Path, exec: &dyn Exec) -> Result<()> {
    let table: serde_json::Value = serde_json::from_str(
        &exec
            .run(&Call::new("sfdisk").arg("--json").arg(disk))
            .with_context(|| format!("read the partition table of {}", disk.display()))?,
    )
    .context("sfdisk's JSON")?;
    const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
    let esp = table["partitiontable"]["partitions"]
        .as_array()
        .and_then(|ps| {
            ps.iter().find(|p| {
                p["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(ESP))
            })
        })
        .with_context(|| format!("{}: no EFI system partition", disk.display()))?;
    let sector = table["partitiontable"]["sectorsize"]
        .as_u64()
        .unwrap_or(512);
    let start = esp["start"].as_u64().context("the partition's start")? * sector;
    exec.run(
        &Call::new("mcopy")
            .arg("-n")
            .arg("-i")
            .arg(format!("{}@@{start}", disk.display()))
            .arg(format!("::{name}"))
            .arg(to),
    )
    .with_context(|| format!("take {name} out of {}", disk.display()))?;
    Ok(())
}

/// The initrd is its layers, in order, each as the manifest lists it, and
/// every entry of every layer is the manifest's file.
fn initrd_files(p: &Path, m: &Manifest) -> Result<String> {
    let data = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
    let mut at = 0usize;
    let mut by_layer: BTreeMap<&str, Vec<&FileInfo>> = BTreeMap::new();
    for f in &m.files {
        by_layer.entry(f.layer.as_str()).or_default().push(f);
    }
    let mut bad = Vec::new();
    let mut checked = 0;
    for l in &m.layers {
        let end = at + l.size as usize;
        anyhow::ensure!(end <= data.len(), "it ends inside the {} layer", l.name);
        let part = &data[at..end];
        anyhow::ensure!(
            crate::layer::sha256_hex(part) == l.sha256,
            "the {} layer (bytes {at}..{end}) is not the manifest's",
            l.name
        );
        at = end;
        let got =
            crate::initrd::unpack(part).with_context(|| format!("read the {} layer", l.name))?;
        let want: BTreeMap<&str, &FileInfo> = by_layer
            .get(l.name.as_str())
            .into_iter()
            .flatten()
            .map(|f| (f.entry.path.as_str(), *f))
            .collect();
        for (path, e) in &got {
            match want.get(path.as_str()) {
                None => bad.push(format!(
                    "{path}: in the {} layer, not in the manifest",
                    l.name
                )),
                Some(f) => {
                    if let Some(d) = crate::initrd::differs(e, &f.entry) {
                        bad.push(format!("{path}: {d}"));
                    }
                }
            }
        }
        for path in want.keys().filter(|p| !got.contains_key(**p)) {
            bad.push(format!(
                "{path}: in the manifest's {} layer, not in the initrd",
                l.name
            ));
        }
        checked += got.len();
    }
    anyhow::ensure!(
        at == data.len(),
        "{} bytes after the last layer",
        data.len() - at
    );
    if !bad.is_empty() {
        anyhow::bail!(
            "{} files differ from the manifest, e.g.:\n  {}",
            bad.len(),
            bad.iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    Ok(format!(
        "{} layers, {checked} files as the manifest lists them",
        m.layers.len()
    ))
}
