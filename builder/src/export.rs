//! Exactly the store objects one image needs, as one file, and the image
//! made again from them alone (no host file read): a pipeline exports on
//! the build machine and rebuilds the pinned image byte for byte
//! elsewhere (docs/provenance.md).
//!
//! The file is zstd over a newc cpio archive: `manifest.json`, then
//! `objects/HASH` for every object in hash order, each mode 0644 with
//! mtime 0: the same image gives the same bytes.

use crate::layer::{self, Layer, Params};
use crate::manifest::Manifest;
use anyhow::{bail, ensure, Context, Result};
use rear_store::Store;
use std::collections::BTreeSet;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// What an export or import moved.
#[derive(Debug, Default)]
pub struct Moved {
    pub objects: usize,
    pub bytes: u64,
}

fn parse(manifest: &[u8]) -> Result<Manifest> {
    serde_json::from_slice(manifest).context("not a rear-build manifest")
}

/// Writes the objects `manifest` needs from `store` to `out` (mode 0600:
/// they are the rescue system's files).
pub fn export(store: &Store, manifest: &[u8], out: &Path) -> Result<Moved> {
    let m = parse(manifest)?;
    let hashes: BTreeSet<&str> = m.referenced().collect();
    let missing: Vec<&&str> = hashes.iter().filter(|h| !store.has(h)).collect();
    if !missing.is_empty() {
        bail!(
            "the store lacks {} of the {} objects the image needs (e.g. {}): build the image with this store first",
            missing.len(),
            hashes.len(),
            missing[0]
        );
    }
    let part = out.with_file_name(format!(
        ".{}.partial",
        out.file_name().unwrap_or_default().to_string_lossy()
    ));
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&part)
            .with_context(|| format!("create {}", part.display()))?
    };
    let mut moved = Moved::default();
    let mut write = || -> Result<()> {
        let mut z = zstd::stream::write::Encoder::new(BufWriter::new(&file), 3)?;
        z.include_checksum(true)?;
        let mut entry = |name: &str, ino: u32, data: &[u8]| -> Result<()> {
            let mut w = cpio::newc::Builder::new(name)
                .ino(ino)
                .nlink(1)
                .mode(0o100644)
                .mtime(0)
                .write(
                    &mut z,
                    u32::try_from(data.len()).context("an object over 4 GiB")?,
                );
            w.write_all(data)?;
            w.finish()?;
            Ok(())
        };
        entry("manifest.json", 1, manifest)?;
        for (i, h) in hashes.iter().enumerate() {
            let data = store.read(h)?;
            entry(&format!("objects/{h}"), i as u32 + 2, &data)?;
            moved.objects += 1;
            moved.bytes += data.len() as u64;
        }
        cpio::newc::trailer(&mut z)?;
        z.finish()?.flush()?;
        file.sync_all()?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&part);
        return Err(e.context(format!("write {}", part.display())));
    }
    std::fs::rename(&part, out)
        .with_context(|| format!("rename {} to {}", part.display(), out.display()))?;
    Ok(moved)
}

/// Puts the objects of an export into `store`, each checked against its
/// name (its BLAKE3); returns the manifest and what was added.
pub fn import(store: &Store, from: &Path) -> Result<(Vec<u8>, Moved)> {
    let f = std::fs::File::open(from).with_context(|| format!("open {}", from.display()))?;
    let mut z = zstd::stream::read::Decoder::new(BufReader::new(f))
        .with_context(|| format!("{}: not a rear-build store export", from.display()))?;
    let mut manifest = None;
    let mut moved = Moved::default();
    loop {
        let mut r = cpio::NewcReader::new(&mut z)
            .with_context(|| format!("{}: not a rear-build store export", from.display()))?;
        if r.entry().is_trailer() {
            break;
        }
        let name = r.entry().name().to_string();
        let mut data = Vec::new();
        r.read_to_end(&mut data)
            .with_context(|| format!("read {name} from {}", from.display()))?;
        r.finish()?;
        if name == "manifest.json" {
            manifest = Some(data);
            continue;
        }
        let Some(h) = name.strip_prefix("objects/") else {
            bail!(
                "{}: {name:?} is neither the manifest nor an object",
                from.display()
            );
        };
        let got = store.put_bytes(&data)?;
        ensure!(
            got == h,
            "{}: the object {h} holds other bytes (BLAKE3 {got}): the export is damaged",
            from.display()
        );
        moved.objects += 1;
        moved.bytes += data.len() as u64;
    }
    store.sync()?;
    let manifest =
        manifest.with_context(|| format!("{}: no manifest.json in it", from.display()))?;
    Ok((manifest, moved))
}

/// Makes `vmlinuz`, `initrd.img` and `manifest.json` of the image in
/// `manifest` again, from the store alone, into `out`; each checked
/// against the manifest's hashes. Returns their paths.
pub fn rebuild(store: &Store, manifest: &[u8], out: &Path) -> Result<Vec<PathBuf>> {
    let m = parse(manifest)?;
    let algorithm = &m.inputs.compression.algorithm;
    let params = Params {
        algorithm: crate::compress::Algorithm::parse(algorithm).with_context(|| {
            format!("the manifest's compression {algorithm:?} is none this rear-build makes (zstd, xz, gzip)")
        })?,
        level: m.inputs.compression.level,
        epoch: m.inputs.source_date_epoch,
    };
    let mut initrd = Vec::new();
    for info in &m.layers {
        let Some(mut l) = Layer::named(&info.name) else {
            bail!(
                "the manifest has a layer {:?}, which this rear-build does not make",
                info.name
            )
        };
        for f in m.files.iter().filter(|f| f.layer == info.name) {
            l.insert(f.entry.clone());
        }
        let (data, _) = l
            .compressed(store, &params)
            .with_context(|| format!("make the {} layer again", info.name))?;
        ensure!(
            layer::sha256_hex(&data) == info.sha256,
            "the {} layer made again differs from the manifest's (sha256 {}, not {})",
            info.name,
            layer::sha256_hex(&data),
            info.sha256
        );
        initrd.extend(data);
    }
    let artefact = |name: &str| {
        m.artefacts
            .iter()
            .find(|a| a.name == name)
            .with_context(|| format!("the manifest has no {name}"))
    };
    let kernel = store.read(&artefact("vmlinuz")?.blake3)?;
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let mut paths = Vec::new();
    for (name, data) in [("vmlinuz", &kernel), ("initrd.img", &initrd)] {
        let a = artefact(name)?;
        ensure!(
            layer::sha256_hex(data) == a.sha256,
            "{name} made again differs from the manifest's"
        );
        let p = out.join(name);
        rear_store::write_file_atomic(&p, data, 0o600)?;
        paths.push(p);
    }
    let p = out.join("manifest.json");
    rear_store::write_file_atomic(&p, manifest, 0o600)?;
    paths.push(p);
    Ok(paths)
}
