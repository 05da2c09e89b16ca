//! `manifest.json`: every input, every file and every artefact of an image.
//! Its schema is documented in docs/manifest.md; it is what `diff`, `sign`
//! and `verify` will work from, so fields are only ever added.

use crate::layer::{Built, Entry};
use serde::{Deserialize, Serialize};

pub const SCHEMA: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: u32,
    pub tool: Tool,
    pub inputs: Inputs,
    pub layers: Vec<LayerInfo>,
    pub artefacts: Vec<Artefact>,
    /// Every entry of every layer, sorted by path then layer order.
    pub files: Vec<FileInfo>,
    /// The rescue tree's identity ([`image_id`]): also in the image at
    /// [`IMAGE_ID_PATH`], so a running rescue system knows which image it
    /// is and backups name the image they were made with (docs/provenance.md).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
}

/// Where the image carries its own [`image_id`].
pub const IMAGE_ID_PATH: &str = "/etc/rear-build/image-id";

/// An image's identity: BLAKE3 over the kernel's BLAKE3 and every entry of
/// its tree (path, type, content hash or link target, mode, owner), but
/// the file that carries the identity and where files came from on the
/// host. The same tree on another build host or from another store has
/// the same id; a changed byte anywhere in it gives another one.
pub fn image_id<'a>(kernel_blake3: &str, entries: impl IntoIterator<Item = &'a Entry>) -> String {
    let mut lines: Vec<String> = entries
        .into_iter()
        .filter(|e| e.path != IMAGE_ID_PATH)
        .map(|e| {
            let e = Entry {
                source: None,
                ..e.clone()
            };
            serde_json::to_string(&e).expect("entries serialize")
        })
        .collect();
    lines.sort();
    let mut h = blake3::Hasher::new();
    h.update(b"rear-build image id 1\n");
    h.update(kernel_blake3.as_bytes());
    for l in &lines {
        h.update(b"\n");
        h.update(l.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Inputs {
    /// The host the image was made on (its boot menus name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub kernel: KernelInput,
    pub recipes: Vec<Named>,
    /// blake3 of the generated rescue configuration (/etc/rear-build/rescue.json).
    pub rescue_config_blake3: String,
    pub includes: Vec<String>,
    pub modules_policy: String,
    pub source_date_epoch: u64,
    pub compression: Compression,
    /// The backup the image was made to recover: method and place
    /// (`tar usb://REAR-000`), without credentials. Each backup in turn
    /// names the image made with it (docs/provenance.md, "Pinning").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KernelInput {
    pub version: String,
    pub image: String,
    pub sha256: String,
    pub blake3: String,
    pub modules: usize,
    pub firmware: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Named {
    pub name: String,
    pub blake3: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Compression {
    /// zstd, xz or gzip: every layer of the initrd.
    pub algorithm: String,
    pub level: i32,
    /// `requested` (image.compression, --compress) or `default` (zstd
    /// when the kernel unpacks it, else gzip, else xz).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chosen: String,
    /// The compressions the kernel unpacks, of zstd, xz and gzip ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_unpacks: Vec<String>,
    /// ... as its configuration (its path) or its version says.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kernel_unpacks_from: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerInfo {
    pub name: String,
    pub files: usize,
    pub uncompressed_size: u64,
    pub size: u64,
    pub sha256: String,
    pub blake3: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Artefact {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub blake3: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileInfo {
    #[serde(flatten)]
    pub entry: Entry,
    pub layer: String,
    /// The Debian package its host source belongs to, and that package's
    /// version, at build time (none for generated files and files no
    /// package owns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Manifest {
    pub fn files_of(layers: &[Built]) -> Vec<FileInfo> {
        let mut files: Vec<(usize, FileInfo)> = layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                l.entries.iter().map(move |e| {
                    (
                        i,
                        FileInfo {
                            entry: e.clone(),
                            layer: l.name.clone(),
                            package: None,
                            version: None,
                        },
                    )
                })
            })
            .collect();
        files.sort_by(|a, b| a.1.entry.path.cmp(&b.1.entry.path).then(a.0.cmp(&b.0)));
        files.into_iter().map(|(_, f)| f).collect()
    }

    /// Notes each file's Debian package and version from `db`.
    pub fn add_packages(&mut self, db: &crate::dpkg::Db) {
        for f in &mut self.files {
            if let Some(o) = f.entry.source.as_deref().and_then(|s| db.owner(s)) {
                f.package = Some(o.package);
                f.version = Some(o.version);
            }
        }
    }

    pub fn layer_infos(layers: &[Built]) -> Vec<LayerInfo> {
        layers
            .iter()
            .map(|l| LayerInfo {
                name: l.name.clone(),
                files: l.entries.len(),
                uncompressed_size: l.uncompressed_size,
                size: l.size,
                sha256: l.sha256.clone(),
                blake3: l.blake3.clone(),
            })
            .collect()
    }

    /// Store objects this manifest needs: every file, every layer, and
    /// the kernel.
    pub fn referenced(&self) -> impl Iterator<Item = &str> {
        self.layers
            .iter()
            .map(|l| l.blake3.as_str())
            .chain(
                self.artefacts
                    .iter()
                    .filter(|a| a.name == "vmlinuz")
                    .map(|a| a.blake3.as_str()),
            )
            .chain(self.files.iter().filter_map(|f| match &f.entry.kind {
                crate::layer::Kind::File { blake3, .. } => Some(blake3.as_str()),
                _ => None,
            }))
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serializes");
        v.push(b'\n');
        v
    }
}
