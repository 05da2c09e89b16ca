//! What ties a backup to the rescue image made with it, and signs its
//! checksum manifest: a header line before the manifest's entries
//! (docs/provenance.md, "Pinning"). Recovery reads it before it writes a
//! disk: a backup made with another image than the running one is
//! refused, and with a trusted key an unsigned or changed manifest is.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The rescue image a backup was made with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The image's id (its manifest's `image_id`, and
    /// /etc/rear-build/image-id inside it).
    pub image: String,
    /// sha256 of the image's manifest.json, when it was at hand (not for a
    /// backup made in a rescue system, which has only its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    /// The host the image was built for.
    #[serde(default)]
    pub host: String,
    /// The image's SOURCE_DATE_EPOCH.
    #[serde(default)]
    pub epoch: u64,
}

impl Pin {
    /// The image in words, for messages.
    pub fn describe(&self) -> String {
        format!(
            "image {} (host {}, SOURCE_DATE_EPOCH {}{})",
            short(&self.image),
            if self.host.is_empty() {
                "?"
            } else {
                &self.host
            },
            self.epoch,
            self.manifest_sha256
                .as_deref()
                .map(|s| format!(", manifest.json sha256 {}", short(s)))
                .unwrap_or_default()
        )
    }
}

/// The first 16 hex digits of an id: enough to tell images apart in a message.
pub fn short(id: &str) -> &str {
    // A header read from a changed file may hold anything.
    id.get(..16).unwrap_or(id)
}

/// The header line of a checksum manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<Pin>,
    /// BLAKE3 of the entries (every line after the header).
    pub entries_blake3: String,
    /// A minisign signature of this header's JSON without this field,
    /// made where the backup was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The header line's one key, which no checksum entry has.
const KEY: &str = "rear_build_backup";

#[derive(Serialize, Deserialize)]
struct Line {
    rear_build_backup: Header,
}

impl Header {
    /// What the signature is made over.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = Header {
            signature: None,
            ..self.clone()
        };
        serde_json::to_vec(&unsigned).expect("headers serialize")
    }
}

/// Signs bytes (a minisign signature, as text).
pub type Signer = Arc<dyn Fn(&[u8]) -> Result<String> + Send + Sync>;

/// What a backup's manifest is sealed with: the image it pins, and the
/// key that signs it.
#[derive(Clone, Default)]
pub struct Seal {
    pub pin: Option<Pin>,
    pub sign: Option<Signer>,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seal")
            .field("pin", &self.pin)
            .field("signed", &self.sign.is_some())
            .finish()
    }
}

impl Seal {
    /// The manifest's text: a header line (when there is a pin or a key)
    /// and the entries' text `body`.
    pub fn apply(&self, body: String) -> Result<String> {
        if self.pin.is_none() && self.sign.is_none() {
            return Ok(body);
        }
        let mut h = Header {
            pin: self.pin.clone(),
            entries_blake3: blake3::hash(body.as_bytes()).to_hex().to_string(),
            signature: None,
        };
        if let Some(sign) = &self.sign {
            h.signature = Some(sign(&h.signed_bytes()).context("sign the backup's manifest")?);
        }
        let line = serde_json::to_string(&Line {
            rear_build_backup: h,
        })
        .expect("headers serialize");
        Ok(format!("{line}\n{body}"))
    }
}

/// Splits a manifest's text into its header, checked against the entries
/// it was written with, and the entries' text.
pub fn split<'a>(text: &'a str, origin: &str) -> Result<(Option<Header>, &'a str)> {
    if !text.starts_with(&format!("{{\"{KEY}\":")) {
        return Ok((None, text));
    }
    let (first, body) = text.split_once('\n').unwrap_or((text, ""));
    let line: Line = serde_json::from_str(first)
        .with_context(|| format!("{origin}:1: not a rear-build backup header"))?;
    let h = line.rear_build_backup;
    let got = blake3::hash(body.as_bytes()).to_hex().to_string();
    if got != h.entries_blake3 {
        bail!(
            "{origin}: the checksum manifest's entries are not the ones its header was written with (blake3 {}, the header says {}): it was changed after the backup was made",
            short(&got),
            short(&h.entries_blake3)
        );
    }
    Ok((Some(h), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> Pin {
        Pin {
            image: "ab".repeat(32),
            manifest_sha256: Some("cd".repeat(32)),
            host: "web1".into(),
            epoch: 1700000000,
        }
    }

    #[test]
    fn an_unsealed_manifest_is_the_entries_alone() {
        let text = Seal::default().apply("{\"path\":\".\"}\n".into()).unwrap();
        assert_eq!(text, "{\"path\":\".\"}\n");
        assert_eq!(split(&text, "m").unwrap(), (None, text.as_str()));
    }

    #[test]
    fn the_header_carries_the_pin_and_a_signature_over_itself() {
        let seal = Seal {
            pin: Some(pin()),
            sign: Some(Arc::new(|data: &[u8]| Ok(format!("sig of {}", data.len())))),
        };
        let body = "{\"path\":\"etc\"}\n";
        let text = seal.apply(body.into()).unwrap();
        let (h, rest) = split(&text, "m").unwrap();
        let h = h.unwrap();
        assert_eq!(rest, body);
        assert_eq!(h.pin, Some(pin()));
        assert_eq!(
            h.signature,
            Some(format!("sig of {}", h.signed_bytes().len()))
        );
        assert!(!String::from_utf8(h.signed_bytes())
            .unwrap()
            .contains("signature"));
    }

    #[test]
    fn entries_changed_after_the_header_was_written_are_refused() {
        let seal = Seal {
            pin: Some(pin()),
            sign: None,
        };
        let text = seal.apply("{\"path\":\"etc\"}\n".into()).unwrap();
        let changed = text.replace("etc", "evil");
        let e = split(&changed, "m").unwrap_err().to_string();
        assert!(e.contains("changed after the backup was made"), "{e}");
    }
}
