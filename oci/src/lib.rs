//! Rescue images in an OCI registry (docs/provenance.md, "OCI
//! distribution"): `push` stores an output directory as an OCI artifact,
//! `pull` brings one back into a directory, every blob checked.
//!
//! The image is an OCI image manifest (artifactType [`ARTIFACT_TYPE`])
//! whose config blob is `manifest.json` and whose layers are the kernel,
//! each compressed layer of the initrd (so hosts sharing a kernel share those
//! blobs in the registry) and the other artefacts, each annotated with its
//! file name. The signature files travel as a second artifact whose
//! `subject` is the image: found through the referrers API, or, where the
//! registry lacks it, under the tag `sha256-<DIGEST>.sig`.
//!
//! The registry is driven by `oci-client` on a current-thread tokio
//! runtime, one per command.

use anyhow::{bail, ensure, Context, Result};
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use rear_builder::compress::Algorithm;
use rear_builder::manifest::{Artefact, Manifest};
use rear_builder::provenance::{MANIFEST, MANIFEST_SIG, SUMS, SUMS_SIG};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The image manifest's artifactType.
pub const ARTIFACT_TYPE: &str = "application/vnd.rear-build.image.v1";
/// The config blob: the image's manifest.json.
pub const CONFIG_TYPE: &str = "application/vnd.rear-build.manifest.v1+json";
/// The kernel (vmlinuz).
pub const KERNEL_TYPE: &str = "application/vnd.rear-build.kernel.v1";
/// One layer of the initrd: a newc cpio archive, zstd-compressed; an xz
/// or gzip one has its own type ([`initrd_layer_type`]).
pub const INITRD_LAYER_TYPE: &str = "application/vnd.rear-build.initrd.layer.v1.cpio+zstd";
/// An xz-compressed initrd layer.
pub const INITRD_LAYER_TYPE_XZ: &str = "application/vnd.rear-build.initrd.layer.v1.cpio+xz";
/// A gzip-compressed initrd layer.
pub const INITRD_LAYER_TYPE_GZIP: &str = "application/vnd.rear-build.initrd.layer.v1.cpio+gzip";

/// The media type of an initrd layer compressed with `a`.
pub fn initrd_layer_type(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Zstd => INITRD_LAYER_TYPE,
        Algorithm::Xz => INITRD_LAYER_TYPE_XZ,
        Algorithm::Gzip => INITRD_LAYER_TYPE_GZIP,
    }
}

/// The compression an initrd layer's media type names, if it is one.
pub fn initrd_layer_compression(media_type: &str) -> Option<Algorithm> {
    Algorithm::ALL
        .into_iter()
        .find(|a| initrd_layer_type(*a) == media_type)
}
/// Any other artefact (rescue.iso, rescue.img, rescue.tap, the PXE tree's files).
pub const ARTEFACT_TYPE: &str = "application/vnd.rear-build.artefact.v1";
/// The signature artifact's artifactType.
pub const SIGNATURE_TYPE: &str = "application/vnd.rear-build.signature.v1";
/// A minisign signature file.
pub const MINISIG_TYPE: &str = "application/vnd.rear-build.minisig.v1";
/// SHA256SUMS.
pub const SUMS_TYPE: &str = "application/vnd.rear-build.sha256sums.v1";
/// OCI 1.1's empty descriptor, the signature artifact's config.
pub const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The file a blob is, relative to the output directory.
pub const TITLE: &str = "org.opencontainers.image.title";
/// Which initrd layer (by its name in manifest.json) a blob is.
pub const LAYER_NAME: &str = "org.rear-build.initrd.layer";
/// The image manifest's annotation naming the artefacts that are
/// initrd.img's bytes (a JSON list): pull copies them from it, push sends
/// no blob for them.
pub const INITRD_COPIES: &str = "org.rear-build.initrd.copies";
const KERNEL: &str = "vmlinuz";
const INITRD: &str = "initrd.img";
const SIGNATURE_FILES: [&str; 3] = [MANIFEST_SIG, SUMS, SUMS_SIG];

/// `oci://REGISTRY/REPO[:TAG][@sha256:DIGEST]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl std::str::FromStr for Target {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Target> {
        let rest = s
            .strip_prefix("oci://")
            .with_context(|| format!("{s:?}: not oci://REGISTRY/REPO[:TAG][@sha256:DIGEST]"))?;
        let (registry, rest) = rest
            .split_once('/')
            .with_context(|| format!("{s:?}: no repository after the registry"))?;
        ensure!(!registry.is_empty(), "{s:?}: no registry");
        let (name, digest) = match rest.split_once('@') {
            Some((n, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .with_context(|| format!("{s:?}: the digest is not sha256:HEX"))?;
                ensure!(
                    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{s:?}: the digest is not sha256 and 64 hex digits"
                );
                (n, Some(d.to_ascii_lowercase()))
            }
            None => (rest, None),
        };
        let (repository, tag) = match name.rsplit_once(':') {
            Some((r, t)) => (r, Some(t.to_string())),
            None => (name, None),
        };
        ensure!(
            !repository.is_empty()
                && repository.split('/').all(|c| !c.is_empty())
                && repository
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b)),
            "{s:?}: the repository {repository:?} is not lower-case letters, digits, '.', '_', '-' and '/'"
        );
        if let Some(t) = &tag {
            ensure!(
                !t.is_empty()
                    && t.len() <= 128
                    && !t.starts_with(['.', '-'])
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{s:?}: the tag {t:?} is not letters, digits, '.', '_' and '-' (at most 128)"
            );
        }
        Ok(Target {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl Target {
    fn by_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.registry.clone(),
            self.repository.clone(),
            digest.to_string(),
        )
    }

    fn by_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.registry.clone(),
            self.repository.clone(),
            tag.to_string(),
        )
    }

    /// The registry is this machine: plain http is allowed.
    pub fn is_local(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => self.registry.split(':').next().unwrap_or(""),
        };
        matches!(host, "localhost" | "127.0.0.1" | "::1")
    }
}

/// How to reach the registry.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Plain http for a registry that is not this machine too.
    pub insecure: bool,
    /// A file whose first line is `user:password` (basic auth); anonymous
    /// without one. Its content never goes into an error or a log.
    pub credentials: Option<PathBuf>,
}

/// Where a signature went, or was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signature {
    /// Found through the registry's referrers API (OCI 1.1).
    Referrer(String),
    /// Under the tag `sha256-<DIGEST>.sig` (the registry has no referrers API).
    Tag(String),
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signature::Referrer(d) => write!(f, "{d}, a referrer of the image"),
            Signature::Tag(t) => write!(f, "under the tag {t} (no referrers API)"),
        }
    }
}

/// What `push` did.
#[derive(Clone, Debug)]
pub struct PushReport {
    /// The image manifest's digest (`sha256:HEX`).
    pub digest: String,
    /// `oci://REGISTRY/REPO@DIGEST`: the pinned reference.
    pub pinned: String,
    /// Blobs sent, and their bytes.
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Blobs the registry already had (a HEAD answered 200): not sent.
    pub present: usize,
    pub signature: Option<Signature>,
}

/// What `pull` did.
#[derive(Clone, Debug)]
pub struct PullReport {
    pub digest: String,
    pub pinned: String,
    /// Blobs fetched (each checked against its digest), and their bytes.
    pub blobs: usize,
    pub bytes: u64,
    /// The files written, relative to the output directory.
    pub files: Vec<String>,
    pub signature: Option<Signature>,
}

struct Session {
    client: Client,
    auth: RegistryAuth,
    rt: tokio::runtime::Runtime,
}

/// Reads `user:password` from the first line of `file`; nothing of its
/// content goes into an error.
fn credentials(file: &Path) -> Result<RegistryAuth> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("read the credentials file {}", file.display()))?;
    let line = text.lines().next().unwrap_or("");
    let (user, password) = line.split_once(':').with_context(|| {
        format!(
            "the credentials file {}: its first line is not user:password",
            file.display()
        )
    })?;
    ensure!(
        !user.is_empty(),
        "the credentials file {}: no user before ':'",
        file.display()
    );
    Ok(RegistryAuth::Basic(user.to_string(), password.to_string()))
}

fn session(target: &Target, opts: &Options, op: RegistryOperation) -> Result<Session> {
    let protocol = if target.is_local() || opts.insecure {
        ClientProtocol::HttpsExcept(vec![target.registry.clone()])
    } else {
        ClientProtocol::Https
    };
    let client = Client::try_from(ClientConfig {
        protocol,
        connect_timeout: Some(std::time::Duration::from_secs(30)),
        read_timeout: Some(std::time::Duration::from_secs(300)),
        user_agent: concat!("rear-build/", env!("CARGO_PKG_VERSION")),
        ..Default::default()
    })
    .context("set up the registry client")?;
    let auth = match &opts.credentials {
        Some(f) => credentials(f)?,
        None => RegistryAuth::Anonymous,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let any = target.by_tag("latest");
    rt.block_on(client.auth(&any, &auth, op))
        .with_context(|| format!("authenticate to {}", target.registry))?;
    Ok(Session { client, auth, rt })
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("read {}", p.display()))
}

/// A name from manifest.json or an annotation that is safe to write
/// under the output directory: relative, no `..`, no empty component.
fn safe_name(name: &str) -> Result<&str> {
    ensure!(
        !name.is_empty()
            && !name.starts_with('/')
            && name
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."),
        "{name:?} is not a file name inside the output directory"
    );
    Ok(name)
}

/// `data` is the artefact `a` (size, sha256, BLAKE3).
fn holds(data: &[u8], a: &Artefact) -> Result<()> {
    let got = rear_builder::image::artefact(&a.name, data);
    ensure!(
        got.size == a.size && got.sha256 == a.sha256 && got.blake3 == a.blake3,
        "{}: {} bytes, sha256 {}; manifest.json says {} bytes, sha256 {}",
        a.name,
        got.size,
        got.sha256,
        a.size,
        a.sha256
    );
    Ok(())
}

struct Blob {
    /// Shared, so handing it to the client copies nothing.
    data: bytes::Bytes,
    descriptor: OciDescriptor,
}

fn blob(data: impl Into<bytes::Bytes>, media_type: &str, annotations: &[(&str, &str)]) -> Blob {
    let data: bytes::Bytes = data.into();
    let descriptor = OciDescriptor {
        media_type: media_type.to_string(),
        digest: sha256(&data),
        size: data.len() as i64,
        urls: None,
        artifact_type: None,
        annotations: (!annotations.is_empty()).then(|| {
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }),
    };
    Blob { data, descriptor }
}

/// The blobs of the image in `dir`: the kernel, the initrd's layers, the
/// other artefacts present; each checked against manifest.json first.
/// The blobs of the image in `dir` and the artefacts that are copies of
/// initrd.img (the PXE tree's), which travel as a name only.
fn image_blobs(dir: &Path, m: &Manifest) -> Result<(Vec<Blob>, Vec<String>)> {
    let artefact = |name: &str| {
        m.artefacts
            .iter()
            .find(|a| a.name == name)
            .with_context(|| format!("manifest.json lists no {name}"))
    };
    let checked = |a: &Artefact| -> Result<Vec<u8>> {
        let data = read(&dir.join(safe_name(&a.name)?))?;
        holds(&data, a).context("it differs from manifest.json: not pushed")?;
        Ok(data)
    };
    let mut blobs = vec![blob(
        checked(artefact(KERNEL)?)?,
        KERNEL_TYPE,
        &[(TITLE, KERNEL)],
    )];
    let initrd = bytes::Bytes::from(checked(artefact(INITRD)?)?);
    let total: u64 = m.layers.iter().map(|l| l.size).sum();
    ensure!(
        total == initrd.len() as u64,
        "initrd.img is {} bytes, its layers in manifest.json {total}",
        initrd.len()
    );
    let mut at = 0usize;
    for (i, l) in m.layers.iter().enumerate() {
        let part = initrd.slice(at..at + l.size as usize);
        at += l.size as usize;
        ensure!(
            sha256(&part) == format!("sha256:{}", l.sha256),
            "initrd.img: layer {} is not the manifest's (sha256)",
            l.name
        );
        // Its type and name say the compression its bytes really have.
        let alg = Algorithm::detect(&part).with_context(|| {
            format!("initrd.img: layer {} is neither zstd, xz nor gzip", l.name)
        })?;
        let title = format!(
            "initrd.img.layers/{:02}-{}.cpio.{}",
            i + 1,
            l.name,
            alg.extension()
        );
        blobs.push(blob(
            part,
            initrd_layer_type(alg),
            &[(TITLE, &title), (LAYER_NAME, &l.name)],
        ));
    }
    let whole = artefact(INITRD)?;
    let mut copies = Vec::new();
    for a in &m.artefacts {
        if a.name == KERNEL || a.name == INITRD || !dir.join(safe_name(&a.name)?).exists() {
            continue;
        }
        let data = checked(a)?;
        if a.sha256 == whole.sha256 && a.size == whole.size {
            copies.push(a.name.clone());
            continue;
        }
        blobs.push(blob(data, ARTEFACT_TYPE, &[(TITLE, &a.name)]));
    }
    Ok((blobs, copies))
}

fn manifest_bytes(m: &OciImageManifest) -> Vec<u8> {
    serde_json::to_vec(m).expect("an OCI manifest serializes")
}

fn media_type(v: &str) -> http::HeaderValue {
    v.parse().expect("a media type is a header value")
}

impl Session {
    /// HEADs each blob and sends those the registry lacks: (sent, bytes, present).
    fn upload(&self, to: &Reference, blobs: &[&Blob]) -> Result<(usize, u64, usize)> {
        let (mut sent, mut bytes, mut present) = (0, 0, 0);
        let mut seen = BTreeSet::new();
        for b in blobs {
            let d = &b.descriptor.digest;
            if !seen.insert(d.clone()) {
                continue;
            }
            let there = self
                .rt
                .block_on(self.client.blob_exists(to, d))
                .with_context(|| format!("ask the registry for blob {d}"))?;
            if there {
                present += 1;
                continue;
            }
            let name = b
                .descriptor
                .annotations
                .as_ref()
                .and_then(|a| a.get(TITLE))
                .map_or("manifest.json", String::as_str);
            self.rt
                .block_on(self.client.push_blob(to, b.data.clone(), d))
                .with_context(|| format!("upload {name} ({d})"))?;
            log::info!("uploaded {name} ({} bytes, {d})", b.data.len());
            sent += 1;
            bytes += b.data.len() as u64;
        }
        Ok((sent, bytes, present))
    }

    fn put_manifest(&self, to: &Reference, body: &[u8]) -> Result<()> {
        self.rt
            .block_on(self.client.push_manifest_raw(
                to,
                body.to_vec(),
                media_type(OCI_MANIFEST_TYPE),
            ))
            .with_context(|| format!("store the manifest as {to}"))?;
        Ok(())
    }

    /// The manifest `r` names, its bytes checked against its digest
    /// (`want`, when pinned): (bytes, digest).
    fn get_manifest(&self, r: &Reference, want: Option<&str>) -> Result<(Vec<u8>, String)> {
        let (body, _) = self
            .rt
            .block_on(
                self.client
                    .pull_manifest_raw(r, &self.auth, &[OCI_MANIFEST_TYPE]),
            )
            .with_context(|| format!("fetch the manifest {r}"))?;
        let got = sha256(&body);
        if let Some(w) = want {
            ensure!(
                got == w,
                "the registry's manifest for {w} has the digest {got}: refused"
            );
        }
        Ok((body.to_vec(), got))
    }

    /// Fetches the blob `d` into `out`, checking its size and sha256.
    fn fetch(&self, from: &Reference, d: &OciDescriptor, out: &mut dyn Write) -> Result<u64> {
        let mut stream = self
            .rt
            .block_on(self.client.pull_blob_stream(from, d))
            .with_context(|| format!("fetch blob {}", d.digest))?;
        let mut h = Sha256::new();
        let mut n = 0u64;
        self.rt.block_on(async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.with_context(|| format!("read blob {}", d.digest))?;
                h.update(&chunk);
                n += chunk.len() as u64;
                out.write_all(&chunk)
                    .with_context(|| format!("write blob {}", d.digest))?;
            }
            anyhow::Ok(())
        })?;
        let got = format!("sha256:{}", hex::encode(h.finalize()));
        ensure!(
            got == d.digest && n == d.size as u64,
            "blob {}: the registry sent {n} bytes with the digest {got}, the manifest says {} bytes: refused",
            d.digest,
            d.size
        );
        Ok(n)
    }
}

fn descriptor_of(media: &str, body: &[u8]) -> OciDescriptor {
    OciDescriptor {
        media_type: media.to_string(),
        digest: sha256(body),
        size: body.len() as i64,
        urls: None,
        artifact_type: None,
        annotations: None,
    }
}

/// The tag a signature goes under where the registry has no referrers API.
pub fn signature_tag(image_digest: &str) -> String {
    format!("{}.sig", image_digest.replace(':', "-"))
}

/// Pushes the image in `dir` (manifest.json, vmlinuz, initrd.img and the
/// other artefacts present; the signature files if there) to `target`.
pub fn push(dir: &Path, target: &Target, opts: &Options) -> Result<PushReport> {
    ensure!(
        target.digest.is_none(),
        "{target}: push takes a tag or none, not a digest (the digest is the manifest's own)"
    );
    let config = read(&dir.join(MANIFEST))?;
    let m: Manifest = serde_json::from_slice(&config).with_context(|| {
        format!(
            "{}: not a rear-build manifest",
            dir.join(MANIFEST).display()
        )
    })?;
    let (layers, copies) = image_blobs(dir, &m)?;
    let config = blob(config, CONFIG_TYPE, &[]);
    let mut annotations = BTreeMap::new();
    if let Some(h) = &m.inputs.host {
        annotations.insert("org.rear-build.host".to_string(), h.clone());
    }
    annotations.insert(
        "org.rear-build.kernel".to_string(),
        m.inputs.kernel.version.clone(),
    );
    if !copies.is_empty() {
        annotations.insert(
            INITRD_COPIES.to_string(),
            serde_json::to_string(&copies).expect("names serialize"),
        );
    }
    let image = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_TYPE.to_string()),
        config: config.descriptor.clone(),
        layers: layers.iter().map(|b| b.descriptor.clone()).collect(),
        subject: None,
        artifact_type: Some(ARTIFACT_TYPE.to_string()),
        annotations: Some(annotations),
    };
    let body = manifest_bytes(&image);
    let digest = sha256(&body);

    let s = session(target, opts, RegistryOperation::Push)?;
    let at = target.by_digest(&digest);
    let mut all: Vec<&Blob> = layers.iter().collect();
    all.push(&config);
    let (mut uploaded, mut uploaded_bytes, mut present) = s.upload(&at, &all)?;
    let to = match &target.tag {
        Some(t) => target.by_tag(t),
        None => at.clone(),
    };
    s.put_manifest(&to, &body)?;

    let sig_files: Vec<&str> = SIGNATURE_FILES
        .into_iter()
        .filter(|f| dir.join(f).exists())
        .collect();
    let signature = if sig_files.is_empty() {
        None
    } else {
        let blobs = sig_files
            .iter()
            .map(|f| {
                let media = if *f == SUMS { SUMS_TYPE } else { MINISIG_TYPE };
                Ok(blob(read(&dir.join(f))?, media, &[(TITLE, f)]))
            })
            .collect::<Result<Vec<_>>>()?;
        let empty = blob(b"{}".to_vec(), EMPTY_TYPE, &[]);
        let mut all: Vec<&Blob> = blobs.iter().collect();
        all.push(&empty);
        let (u, b, p) = s.upload(&at, &all)?;
        uploaded += u;
        uploaded_bytes += b;
        present += p;
        let sig = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST_TYPE.to_string()),
            config: empty.descriptor.clone(),
            layers: blobs.iter().map(|b| b.descriptor.clone()).collect(),
            subject: Some(descriptor_of(OCI_MANIFEST_TYPE, &body)),
            artifact_type: Some(SIGNATURE_TYPE.to_string()),
            annotations: None,
        };
        let sig_body = manifest_bytes(&sig);
        let sig_digest = sha256(&sig_body);
        s.put_manifest(&target.by_digest(&sig_digest), &sig_body)?;
        // A registry with the referrers API lists it now; one without
        // gets it under a tag named after the image.
        let listed = match s
            .rt
            .block_on(s.client.pull_referrers(&at, Some(SIGNATURE_TYPE)))
        {
            Ok(index) => index.manifests.iter().any(|e| e.digest == sig_digest),
            Err(e) => {
                log::info!("no referrers from {}: {e}", target.registry);
                false
            }
        };
        Some(if listed {
            Signature::Referrer(sig_digest)
        } else {
            let tag = signature_tag(&digest);
            s.put_manifest(&target.by_tag(&tag), &sig_body)?;
            Signature::Tag(tag)
        })
    };
    Ok(PushReport {
        pinned: format!("oci://{}/{}@{digest}", target.registry, target.repository),
        digest,
        uploaded,
        uploaded_bytes,
        present,
        signature,
    })
}

fn write_private(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))
}

fn title(d: &OciDescriptor) -> Result<&str> {
    d.annotations
        .as_ref()
        .and_then(|a| a.get(TITLE))
        .map(String::as_str)
        .with_context(|| format!("blob {} has no {TITLE}", d.digest))
}

/// Pulls the image `target` names (by digest: pinned; by tag: whatever
/// the tag names now) into `out`, which must not exist or be empty. The
/// blobs go into a temporary directory beside `out`, each checked against
/// its digest; initrd.img is put together from its layers; every artefact
/// is checked against manifest.json; then `check` runs on the directory
/// (provenance's verify, when a key is trusted); only then is it renamed
/// to `out`. Nothing is left behind on failure.
pub fn pull(
    target: &Target,
    out: &Path,
    opts: &Options,
    check: &dyn Fn(&Path) -> Result<()>,
) -> Result<PullReport> {
    if out.exists() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("read {}", out.display()))?;
        ensure!(
            entries.next().is_none(),
            "{} is not empty: pull writes into a new or empty directory",
            out.display()
        );
    }
    let name = out
        .file_name()
        .with_context(|| format!("{}: no directory name", out.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("create {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.pull-"))
        .tempdir_in(&parent)
        .with_context(|| format!("create a temporary directory in {}", parent.display()))?;

    let s = session(target, opts, RegistryOperation::Pull)?;
    let first = match (&target.digest, &target.tag) {
        (Some(d), _) => target.by_digest(d),
        (None, Some(t)) => target.by_tag(t),
        (None, None) => bail!("{target}: name the image by digest (@sha256:...) or by tag"),
    };
    let (body, digest) = s.get_manifest(&first, target.digest.as_deref())?;
    let at = target.by_digest(&digest);
    let image: OciImageManifest = serde_json::from_slice(&body)
        .with_context(|| format!("{target}: not an OCI image manifest"))?;
    ensure!(
        image.artifact_type.as_deref() == Some(ARTIFACT_TYPE)
            && image.config.media_type == CONFIG_TYPE,
        "{target}: not a rear-build image (artifactType {:?}, config {})",
        image.artifact_type,
        image.config.media_type
    );
    let mut blobs = 0;
    let mut bytes = 0;
    let mut config = Vec::new();
    bytes += s.fetch(&at, &image.config, &mut config)?;
    blobs += 1;
    let m: Manifest = serde_json::from_slice(&config)
        .with_context(|| format!("{target}: its config is not a rear-build manifest"))?;
    write_private(&tmp.path().join(MANIFEST))?
        .write_all(&config)
        .context("write manifest.json")?;
    let mut files = vec![MANIFEST.to_string()];

    // initrd.img: its layers in manifest.json's order.
    let layer_blobs: Vec<&OciDescriptor> = image
        .layers
        .iter()
        .filter(|d| initrd_layer_compression(&d.media_type).is_some())
        .collect();
    ensure!(
        layer_blobs.len() == m.layers.len(),
        "{target}: {} initrd layers, manifest.json lists {}",
        layer_blobs.len(),
        m.layers.len()
    );
    {
        let p = tmp.path().join(INITRD);
        let mut f = write_private(&p)?;
        for l in &m.layers {
            let want = format!("sha256:{}", l.sha256);
            let d = layer_blobs
                .iter()
                .find(|d| d.digest == want)
                .with_context(|| format!("{target}: no blob for the initrd layer {}", l.name))?;
            // The layer's type must be the manifest's compression (the
            // bytes themselves are checked by their digest).
            let alg = initrd_layer_compression(&d.media_type);
            ensure!(
                alg.map(Algorithm::name) == Some(m.inputs.compression.algorithm.as_str()),
                "{target}: the initrd layer {} is {}, manifest.json says its compression is {}",
                l.name,
                d.media_type,
                m.inputs.compression.algorithm
            );
            bytes += s.fetch(&at, d, &mut f)?;
            blobs += 1;
        }
        f.sync_all()
            .with_context(|| format!("write {}", p.display()))?;
        files.push(INITRD.to_string());
    }
    // The kernel and the other artefacts, each a blob named by its title.
    let mut done: BTreeMap<String, String> = BTreeMap::new();
    for d in image
        .layers
        .iter()
        .filter(|d| d.media_type == KERNEL_TYPE || d.media_type == ARTEFACT_TYPE)
    {
        let name = safe_name(title(d)?)?;
        ensure!(
            m.artefacts.iter().any(|a| a.name == name) && name != INITRD,
            "{target}: blob {} is {name:?}, not an artefact of manifest.json",
            d.digest
        );
        ensure!(!done.contains_key(name), "{target}: two blobs are {name:?}");
        let p = tmp.path().join(name);
        let mut f = write_private(&p)?;
        match done.iter().find(|(_, dg)| **dg == d.digest) {
            // The same bytes under another name (the PXE tree's kernel).
            Some((other, _)) => {
                let data = read(&tmp.path().join(other))?;
                f.write_all(&data)
                    .with_context(|| format!("write {}", p.display()))?;
            }
            None => {
                bytes += s.fetch(&at, d, &mut f)?;
                blobs += 1;
            }
        }
        f.sync_all()
            .with_context(|| format!("write {}", p.display()))?;
        done.insert(name.to_string(), d.digest.clone());
        files.push(name.to_string());
    }
    ensure!(
        done.contains_key(KERNEL),
        "{target}: the image has no kernel blob"
    );
    if let Some(list) = image
        .annotations
        .as_ref()
        .and_then(|a| a.get(INITRD_COPIES))
    {
        let names: Vec<String> = serde_json::from_str(list)
            .with_context(|| format!("{target}: {INITRD_COPIES} is not a list of names"))?;
        let whole = tmp.path().join(INITRD);
        for name in &names {
            let name = safe_name(name)?;
            ensure!(
                m.artefacts.iter().any(|a| a.name == name)
                    && name != INITRD
                    && !done.contains_key(name),
                "{target}: {INITRD_COPIES} names {name:?}, not another artefact of manifest.json"
            );
            let p = tmp.path().join(name);
            let mut f = write_private(&p)?;
            let mut from =
                std::fs::File::open(&whole).with_context(|| format!("read {}", whole.display()))?;
            std::io::copy(&mut from, &mut f)
                .and_then(|_| f.sync_all())
                .with_context(|| format!("write {}", p.display()))?;
            done.insert(name.to_string(), String::new());
            files.push(name.to_string());
        }
    }
    for a in &m.artefacts {
        let p = tmp.path().join(safe_name(&a.name)?);
        if p.exists() {
            holds(&read(&p)?, a).with_context(|| format!("{target}: pulled"))?;
        }
    }

    // The signature: a referrer, or under the fallback tag.
    let (signature, n, b) = pull_signature(&s, target, &digest, tmp.path(), &mut files)?;
    blobs += n;
    bytes += b;
    check(tmp.path())?;

    if out.exists() {
        std::fs::remove_dir(out).with_context(|| format!("remove the empty {}", out.display()))?;
    }
    let kept = tmp.keep();
    if let Err(e) = std::fs::rename(&kept, out) {
        let _ = std::fs::remove_dir_all(&kept);
        return Err(e).with_context(|| format!("rename {} to {}", kept.display(), out.display()));
    }
    files.sort();
    Ok(PullReport {
        pinned: format!("oci://{}/{}@{digest}", target.registry, target.repository),
        digest,
        blobs,
        bytes,
        files,
        signature,
    })
}

fn pull_signature(
    s: &Session,
    target: &Target,
    digest: &str,
    dir: &Path,
    files: &mut Vec<String>,
) -> Result<(Option<Signature>, usize, u64)> {
    let at = target.by_digest(digest);
    let referrers = match s
        .rt
        .block_on(s.client.pull_referrers(&at, Some(SIGNATURE_TYPE)))
    {
        Ok(index) => index.manifests,
        Err(e) => {
            log::info!("no referrers from {}: {e}", target.registry);
            Vec::new()
        }
    };
    let (body, found) = match referrers.iter().find(|e| e.media_type == OCI_MANIFEST_TYPE) {
        Some(e) => {
            let (body, d) = s.get_manifest(&target.by_digest(&e.digest), Some(&e.digest))?;
            (body, Signature::Referrer(d))
        }
        None => {
            let tag = signature_tag(digest);
            match s.rt.block_on(s.client.pull_manifest_raw(
                &target.by_tag(&tag),
                &s.auth,
                &[OCI_MANIFEST_TYPE],
            )) {
                Ok((body, _)) => (body.to_vec(), Signature::Tag(tag)),
                Err(oci_client::errors::OciDistributionError::ImageManifestNotFoundError(_)) => {
                    return Ok((None, 0, 0))
                }
                Err(oci_client::errors::OciDistributionError::RegistryError {
                    envelope, ..
                }) if envelope
                    .errors
                    .iter()
                    .any(|e| e.code == oci_client::errors::OciErrorCode::ManifestUnknown) =>
                {
                    return Ok((None, 0, 0))
                }
                Err(e) => return Err(e).with_context(|| format!("fetch the signature tag {tag}")),
            }
        }
    };
    let sig: OciImageManifest =
        serde_json::from_slice(&body).context("the signature is not an OCI manifest")?;
    ensure!(
        sig.artifact_type.as_deref() == Some(SIGNATURE_TYPE)
            && sig.subject.as_ref().is_some_and(|d| d.digest == digest),
        "{found}: not a rear-build signature of {digest}"
    );
    let (mut blobs, mut bytes) = (0, 0);
    for d in &sig.layers {
        let name = title(d)?;
        ensure!(
            SIGNATURE_FILES.contains(&name),
            "the signature artifact holds {name:?}, not a signature file"
        );
        let p = dir.join(name);
        let mut f = write_private(&p)?;
        bytes += s.fetch(&at, d, &mut f)?;
        blobs += 1;
        f.sync_all()
            .with_context(|| format!("write {}", p.display()))?;
        files.push(name.to_string());
    }
    Ok((Some(found), blobs, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_compression_has_its_own_layer_type() {
        for a in Algorithm::ALL {
            let t = initrd_layer_type(a);
            assert!(t.starts_with("application/vnd.rear-build.initrd.layer.v1.cpio+"));
            assert_eq!(initrd_layer_compression(t), Some(a));
        }
        assert_eq!(
            initrd_layer_type(Algorithm::Zstd),
            "application/vnd.rear-build.initrd.layer.v1.cpio+zstd",
            "what images pushed before xz and gzip have"
        );
        assert_eq!(initrd_layer_compression(KERNEL_TYPE), None);
    }

    #[test]
    fn targets_parse() {
        let t: Target = "oci://127.0.0.1:5000/rescue/web1:v1".parse().unwrap();
        assert_eq!(t.registry, "127.0.0.1:5000");
        assert_eq!(t.repository, "rescue/web1");
        assert_eq!(t.tag.as_deref(), Some("v1"));
        assert!(t.digest.is_none());
        assert!(t.is_local());
        let d = format!("sha256:{}", "ab".repeat(32));
        let t: Target = format!("oci://reg.example.org/rescue@{d}").parse().unwrap();
        assert_eq!(t.repository, "rescue");
        assert_eq!(t.tag, None);
        assert_eq!(t.digest.as_deref(), Some(d.as_str()));
        assert!(!t.is_local());
        assert_eq!(t.to_string(), format!("oci://reg.example.org/rescue@{d}"));
        assert!("oci://[::1]:5000/r".parse::<Target>().unwrap().is_local());
        assert!("oci://localhost/r".parse::<Target>().unwrap().is_local());
        for bad in [
            "http://reg/repo",
            "oci://reg",
            "oci:///repo",
            "oci://reg/Repo",
            "oci://reg/repo@sha256:abc",
            "oci://reg/repo@md5:0123",
            "oci://reg/repo:",
            "oci://reg//repo",
            "oci://reg/repo:-x",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn names_stay_inside() {
        assert!(safe_name("pxe/52-54-00-12-34-56/vmlinuz").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a"] {
            assert!(safe_name(bad).is_err(), "{bad:?} allowed");
        }
    }

    #[test]
    fn credentials_never_show_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cred");
        std::fs::write(&f, "pusher:s3cr3t-canary\n").unwrap();
        match credentials(&f).unwrap() {
            RegistryAuth::Basic(u, p) => {
                assert_eq!((u.as_str(), p.as_str()), ("pusher", "s3cr3t-canary"))
            }
            _ => panic!("not basic auth"),
        }
        std::fs::write(&f, "s3cr3t-canary-without-colon\n").unwrap();
        let e = format!("{:#}", credentials(&f).unwrap_err());
        assert!(!e.contains("canary"), "{e}");
        assert!(e.contains("user:password"), "{e}");
    }

    #[test]
    fn the_signature_tag_is_named_after_the_image() {
        let d = format!("sha256:{}", "0f".repeat(32));
        assert_eq!(signature_tag(&d), format!("sha256-{}.sig", "0f".repeat(32)));
    }
}
