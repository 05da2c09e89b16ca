//! Pinning (docs/provenance.md): a backup names the rescue image made
//! with it and is signed where it is made; recovery checks both before it
//! writes a disk; `verify` refuses an image older than the newest it
//! verified before.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use rear_backup::pin::{short, Header, Pin, Seal};
use rear_builder::manifest::{Manifest, IMAGE_ID_PATH};
use rear_sign::PublicKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The running rescue system's image id; None on any other system.
pub fn running_image() -> Option<String> {
    let id = std::fs::read_to_string(IMAGE_ID_PATH).ok()?;
    Some(id.trim().to_string()).filter(|i| !i.is_empty())
}

/// The manifest at `p` (a file, or the directory holding it), and its bytes.
pub fn manifest_at(p: &Path) -> Result<(Manifest, Vec<u8>)> {
    let file = match p.is_dir() {
        true => p.join("manifest.json"),
        false => p.to_path_buf(),
    };
    let data = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
    let m = serde_json::from_slice(&data)
        .with_context(|| format!("{}: not a rear-build manifest", file.display()))?;
    Ok((m, data))
}

/// The pin of the image whose manifest is at `p` (a file or its directory).
pub fn pin_of(p: &Path) -> Result<Pin> {
    let (m, data) = manifest_at(p)?;
    if m.image_id.is_empty() {
        bail!(
            "{}: made by an older rear-build, it names no image id: build the image again",
            p.display()
        );
    }
    Ok(Pin {
        image: m.image_id,
        manifest_sha256: Some(rear_builder::layer::sha256_hex(&data)),
        host: m.inputs.host.unwrap_or_default(),
        epoch: m.inputs.source_date_epoch,
    })
}

/// What a backup made now is sealed with: the image at `manifest` (the
/// one just built), else the newest in the output directory, else the
/// running rescue system's; signed with `[sign] key` when set.
pub fn seal(cfg: &Config, manifest: Option<&Path>) -> Result<Seal> {
    let out = cfg.image.output().join("manifest.json");
    let pin = match manifest
        .map(Path::to_path_buf)
        .or(out.is_file().then_some(out))
    {
        // An image from before pinning names no id: the backup is still made.
        Some(m) => pin_of(&m)
            .map_err(|e| log::warn!("{e:#}; the backup names no image"))
            .ok(),
        None => running_image().map(|image| Pin {
            image,
            manifest_sha256: None,
            host: rear_builder::rescue::host_name(),
            epoch: 0,
        }),
    };
    match &pin {
        Some(p) => log::info!("the backup is made with {}", p.describe()),
        None => log::warn!(
            "no rescue image in {} to tie the backup to: recovery will not know which image it was made with (run `rear-build image` first, or `mkbackup`)",
            cfg.image.output().display()
        ),
    }
    let sign = match &cfg.sign.key {
        None => None,
        Some(k) => {
            let key = crate::signcmd::load_key(k, cfg.sign.password_file.as_deref())?;
            let trusted = format!(
                "rear-build {} backup manifest host {}",
                env!("CARGO_PKG_VERSION"),
                rear_builder::rescue::host_name()
            );
            let signer: rear_backup::pin::Signer =
                std::sync::Arc::new(move |data: &[u8]| key.sign(data, &trusted, ""));
            Some(signer)
        }
    };
    Ok(Seal { pin, sign })
}

/// `url` without what may be credentials (`USER:PASSWORD@` or `USER@`).
pub fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (auth, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        // HOST:/DIR and USER@HOST:/DIR (rsync and borg over ssh).
        None => url.rsplit_once('@').map_or(url, |(_, h)| h).to_string(),
    }
}

/// `recover --image REF`: an image id (12 or more hex digits, a prefix
/// of the pin's), or an output directory or manifest.json.
pub fn image_ref(r: &str) -> Result<String> {
    if r.len() >= 12 && r.bytes().all(|b| b.is_ascii_hexdigit()) && !Path::new(r).exists() {
        return Ok(r.to_ascii_lowercase());
    }
    Ok(pin_of(Path::new(r))
        .with_context(|| {
            format!(
                "--image {r}: neither an image id nor an image's output directory or manifest.json"
            )
        })?
        .image)
}

/// The checks before recovery writes a disk, of the newest backup's
/// manifest header: signed by the trusted key when one is set, and made
/// with `image` (the running rescue system's, or `--image`'s) when both
/// are known. What was found, for the operator.
pub fn check(
    backup: &str,
    header: Option<&Header>,
    image: Option<&str>,
    trust: Option<&PublicKey>,
) -> Result<String> {
    let mut said = Vec::new();
    if let Some(key) = trust {
        let Some(sig) = header.and_then(|h| h.signature.as_deref()) else {
            bail!("the backup {backup}'s manifest is not signed, and trust.pubkey is set: only a backup signed with key {} is restored (sign.key where backups are made)", key.id());
        };
        let h = header.expect("a signature is in a header");
        key.verify(&h.signed_bytes(), sig).with_context(|| {
            format!(
                "the backup {backup}'s manifest does not verify with the trusted key {}: it was changed, or signed with another key",
                key.id()
            )
        })?;
        said.push(format!("its manifest is signed with key {}", key.id()));
    }
    match (header.and_then(|h| h.pin.as_ref()), image) {
        (Some(pin), Some(image)) if same_image(&pin.image, image) => {
            said.push(format!("it was made with this image ({})", short(image)))
        }
        (Some(pin), Some(image)) => bail!(
            "the backup {backup} was made with {}, but this rescue system is image {}: another image may recreate another layout, or lack what restores the backup. Boot the image made with the backup (mkbackup stores it beside the backup in rescue/, and a rescue disk offers it in its menu); or, if this image's layout is the one to recreate, say so: recover --image {}",
            pin.describe(),
            short(image),
            short(&pin.image)
        ),
        (Some(pin), None) => said.push(format!(
            "it was made with {}; this system is no rear-build rescue image, so that is not checked (--image REF to check it)",
            pin.describe()
        )),
        (None, _) => said.push(
            "it names no rescue image (made by an older rear-build, or with no image built), so which image recovers it is not checked".into(),
        ),
    }
    Ok(said.join("; "))
}

/// Whether two ids name one image: equal, or one a prefix of 12 or more
/// hex digits of the other (`--image` with a short id).
fn same_image(a: &str, b: &str) -> bool {
    a.len().min(b.len()) >= 12 && (a.starts_with(b) || b.starts_with(a))
}

/// The newest image epoch verified per key and host: `verify` refuses an
/// older one (a downgrade) unless told to accept it.
pub struct Newest {
    path: PathBuf,
    seen: BTreeMap<String, u64>,
}

impl Newest {
    pub fn load(path: &Path) -> Result<Newest> {
        let seen = match std::fs::read(path) {
            Ok(d) => serde_json::from_slice(&d)
                .with_context(|| format!("{}: not a record of verified images", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        Ok(Newest {
            path: path.to_path_buf(),
            seen,
        })
    }

    /// Checks the image `m`, verified with `key`, is not older than the
    /// newest verified before with it for its host; records it.
    pub fn admit(
        &mut self,
        key: &PublicKey,
        m: &Manifest,
        allow_downgrade: bool,
    ) -> Result<String> {
        let host = m.inputs.host.clone().unwrap_or_default();
        let slot = format!("{} {host}", key.id());
        let epoch = m.inputs.source_date_epoch;
        let newest = self.seen.get(&slot).copied().unwrap_or(0);
        if epoch < newest && !allow_downgrade {
            bail!(
                "a downgrade: this image of host {host:?} has SOURCE_DATE_EPOCH {epoch}, older than {newest} of one verified before with key {} (recorded in {}); --allow-downgrade to accept it",
                key.id(),
                self.path.display()
            );
        }
        if epoch > newest {
            self.seen.insert(slot, epoch);
            if let Some(d) = self.path.parent() {
                std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
            }
            let json = serde_json::to_vec_pretty(&self.seen).expect("a map serializes");
            rear_store::write_file_atomic(&self.path, &json, 0o644)?;
        }
        Ok(match epoch < newest {
            true => format!("older than {newest}, verified before: a downgrade, accepted"),
            false => format!("SOURCE_DATE_EPOCH {epoch}, not older than any verified before"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(image: &str) -> Header {
        Header {
            pin: Some(Pin {
                image: image.into(),
                manifest_sha256: None,
                host: "web1".into(),
                epoch: 5,
            }),
            entries_blake3: "00".into(),
            signature: None,
        }
    }

    #[test]
    fn a_backup_of_another_image_is_refused_and_its_own_accepted() {
        let h = header(&"a".repeat(64));
        let e = check("g1", Some(&h), Some(&"b".repeat(64)), None).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("was made with image aaaaaaaaaaaaaaaa")
                && e.contains("this rescue system is image bbbbbbbbbbbbbbbb"),
            "{e}"
        );
        let ok = check("g1", Some(&h), Some(&"a".repeat(64)), None).unwrap();
        assert!(ok.contains("made with this image"), "{ok}");
        // --image with a prefix of the pin.
        assert!(check("g1", Some(&h), Some(&"a".repeat(12)), None).is_ok());
        // A pin emptied or cut short in the file names no image.
        for cut in ["", "aaaa"] {
            assert!(check("g1", Some(&header(cut)), Some(&"a".repeat(64)), None).is_err());
        }
        assert_eq!(short("é".repeat(20).as_str()).len(), 16);
    }

    #[test]
    fn urls_in_the_manifest_lose_their_credentials() {
        for (url, want) in [
            ("cifs://bob:s3cret@nas/share/dir", "cifs://nas/share/dir"),
            ("sftp://bob@host:22/dir", "sftp://host:22/dir"),
            ("usb://REAR-000", "usb://REAR-000"),
            ("bob@host:/srv/borg", "host:/srv/borg"),
            ("file:///var/backup", "file:///var/backup"),
        ] {
            assert_eq!(without_credentials(url), want);
        }
    }

    #[test]
    fn without_a_pin_or_a_rescue_image_nothing_is_refused() {
        assert!(check("g1", None, Some("ab"), None)
            .unwrap()
            .contains("names no rescue image"));
        let h = header(&"a".repeat(64));
        assert!(check("g1", Some(&h), None, None)
            .unwrap()
            .contains("not checked"));
    }
}
