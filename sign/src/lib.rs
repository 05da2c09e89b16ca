//! Signatures in minisign's format (`minisign -V` verifies them; keys made
//! by `minisign -G` sign through us), made deterministically: Ed25519 as
//! RFC 8032 defines it (no random noise, unlike the minisign crate's own
//! `sign`), over BLAKE2b-512 of the data ("ED", minisign's prehashed
//! mode), with a trusted comment the caller chooses. Same key, data and
//! comment: the same signature bytes, so a signed output directory stays
//! reproducible. docs/provenance.md says why this format.
//!
//! The minisign crate reads and writes the key files (and decrypts a
//! password-protected secret key with its scrypt KDF), and checks
//! signatures: what we write is checked by code that is not ours.

use anyhow::{bail, ensure, Context, Result};
use blake2::{Blake2b512, Digest};
use ct_codecs::{Base64, Decoder, Encoder};
use ed25519_dalek::Signer;
use std::path::{Path, PathBuf};

/// Where a secret key's password comes from.
#[derive(Clone, Debug)]
pub enum Password {
    /// The first line of a file (private: mode 0600, owned by root).
    File(PathBuf),
    /// Asked on the terminal.
    Terminal,
    /// None: the key is stored unencrypted (for CI secret stores).
    Unencrypted,
}

impl Password {
    fn read(&self, twice: bool) -> Result<Option<String>> {
        match self {
            Password::Unencrypted => Ok(None),
            Password::File(p) => {
                rear_exec::check_secret_file(p)
                    .map_err(|e| anyhow::anyhow!("the password file: {e}"))?;
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("read the password file {}", p.display()))?;
                let pw = text.lines().next().unwrap_or_default().to_string();
                ensure!(!pw.is_empty(), "the password file {} is empty", p.display());
                Ok(Some(pw))
            }
            Password::Terminal => {
                let pw = rpassword::prompt_password("Password for the secret key: ").context(
                    "read the password from the terminal (or give --password-file FILE)",
                )?;
                if twice {
                    let again = rpassword::prompt_password("The same password again: ")
                        .context("read the password from the terminal")?;
                    ensure!(pw == again, "the two passwords differ");
                }
                ensure!(
                    !pw.is_empty(),
                    "an empty password protects nothing (use --unencrypted if that is meant)"
                );
                Ok(Some(pw))
            }
        }
    }
}

/// A secret key, decrypted.
pub struct SecretKey {
    key_id: [u8; 8],
    signing: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        write!(f, "SecretKey({})", self.id())
    }
}

/// A public key.
#[derive(Clone)]
pub struct PublicKey {
    inner: minisign::PublicKey,
}

/// Makes a key pair: `BASE.key` (the secret key, mode 0600, encrypted
/// unless the password says otherwise) and `BASE.pub`. Never overwrites.
pub fn keygen(base: &Path, password: &Password) -> Result<(PathBuf, PathBuf)> {
    let with = |ext: &str| {
        let mut p = base.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let (key, public) = (with(".key"), with(".pub"));
    for p in [&key, &public] {
        ensure!(
            !p.exists(),
            "{} exists: a key is never overwritten (move it away, or choose another name)",
            p.display()
        );
    }
    let pair = match password.read(true)? {
        Some(pw) => minisign::KeyPair::generate_encrypted_keypair(Some(pw)),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| anyhow::anyhow!("make a key pair: {e}"))?;
    let id = hex_id(pair.pk.keynum());
    let sk = pair
        .sk
        .to_box(Some(&format!("rear-build secret key {id}")))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    let pk = pair
        .pk
        .to_box()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    write_new(&key, sk.as_bytes(), 0o600)?;
    write_new(&public, pk.as_bytes(), 0o644)?;
    Ok((key, public))
}

/// Writes a new file with `mode` from the start (a secret is never
/// readable by others, even for a moment).
fn write_new(p: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(p)
        .with_context(|| format!("create {}", p.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("write {}", p.display()))
}

/// A key id as minisign prints it (the 8 bytes, little-endian, in hex).
fn hex_id(keynum: &[u8]) -> String {
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}

fn b64(data: &[u8]) -> String {
    Base64::encode_to_string(data).expect("base64 of a small buffer")
}

impl SecretKey {
    /// Reads the secret key at `path` (minisign's format), decrypting it
    /// with the password when it is encrypted.
    pub fn load(path: &Path, password: &Password) -> Result<SecretKey> {
        rear_exec::check_secret_file(path)
            .map_err(|e| anyhow::anyhow!("the secret key {}: {e}", path.display()))?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read the secret key {}", path.display()))?;
        let line = text.lines().nth(1).with_context(|| {
            format!(
                "{}: not a minisign secret key (no second line)",
                path.display()
            )
        })?;
        let raw = Base64::decode_to_vec(line.trim(), None).map_err(|_| {
            anyhow::anyhow!(
                "{}: not a minisign secret key (no base64 on its second line)",
                path.display()
            )
        })?;
        ensure!(
            raw.len() == 158 && &raw[..2] == b"Ed",
            "{}: not a minisign Ed25519 secret key",
            path.display()
        );
        // An unencrypted key is read as it is (`minisign -G -W` leaves its
        // checksum zero; the public half checked below stands for it).
        let bytes = match raw[2..4] != [0, 0] {
            false => raw,
            true => {
                let pw = match password {
                    Password::Unencrypted => bail!(
                        "the secret key {} is encrypted: give its password (--password-file FILE, or on the terminal)",
                        path.display()
                    ),
                    p => p.read(false)?,
                };
                minisign::SecretKeyBox::from_string(&text)
                    .and_then(|b| b.into_secret_key(pw))
                    .map_err(|e| anyhow::anyhow!("the secret key {}: {e}", path.display()))?
                    .to_bytes()
            }
        };
        // minisign's layout: algorithms (6 bytes), salt (32), limits (16),
        // then the key id (8), the Ed25519 key (seed and public, 64), checksum.
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&bytes[54..62]);
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes[62..94]);
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        ensure!(
            signing.verifying_key().as_bytes()[..] == bytes[94..126],
            "{}: the key's public half does not match its secret half",
            path.display()
        );
        Ok(SecretKey { key_id, signing })
    }

    /// The key id, as minisign prints it.
    pub fn id(&self) -> String {
        hex_id(&self.key_id)
    }

    /// The public key that verifies this key's signatures.
    pub fn public(&self) -> PublicKey {
        let mut raw = b"Ed".to_vec();
        raw.extend(self.key_id);
        raw.extend(self.signing.verifying_key().as_bytes());
        PublicKey {
            inner: minisign::PublicKey::from_bytes(&raw).expect("a public key's 42 bytes"),
        }
    }

    /// The signature of `data` in minisign's format, with `trusted` as its
    /// trusted comment (one line) and `untrusted` as the first line's.
    pub fn sign(&self, data: &[u8], trusted: &str, untrusted: &str) -> Result<String> {
        ensure!(
            !trusted.contains('\n') && !untrusted.contains('\n'),
            "a signature's comments are single lines"
        );
        let sig = self.signing.sign(&Blake2b512::digest(data));
        let mut first = b"ED".to_vec();
        first.extend(self.key_id);
        first.extend(sig.to_bytes());
        let mut global = sig.to_bytes().to_vec();
        global.extend(trusted.as_bytes());
        let global = self.signing.sign(&global);
        Ok(format!(
            "untrusted comment: {untrusted}\n{}\ntrusted comment: {trusted}\n{}\n",
            b64(&first),
            b64(&global.to_bytes())
        ))
    }
}

impl PublicKey {
    /// Reads a public key file (minisign's format), or the base64 line of
    /// one given as text (`RW...`).
    pub fn load(path: &Path) -> Result<PublicKey> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read the public key {}", path.display()))?;
        PublicKey::parse(&text).with_context(|| format!("the public key {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<PublicKey> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .context("no key in it")?;
        let inner = minisign::PublicKey::from_base64(line)
            .map_err(|e| anyhow::anyhow!("not a minisign public key: {e}"))?;
        Ok(PublicKey { inner })
    }

    pub fn id(&self) -> String {
        hex_id(self.inner.keynum())
    }

    /// The file's text, as minisign writes it.
    pub fn to_text(&self) -> String {
        self.inner
            .to_box()
            .map(|b| b.into_string())
            .expect("a public key boxes")
    }

    /// Checks `signature` (minisign's format) of `data`; its trusted
    /// comment when it holds. Legacy (not prehashed) signatures too, as
    /// `minisign -V` takes them.
    pub fn verify(&self, data: &[u8], signature: &str) -> Result<String> {
        let sig = minisign::SignatureBox::from_string(signature)
            .map_err(|e| anyhow::anyhow!("not a minisign signature: {e}"))?;
        let id = hex_id(sig.keynum());
        if id != self.id() {
            bail!(
                "signed by the key {id}, not by the trusted key {}",
                self.id()
            );
        }
        minisign::verify(
            &self.inner,
            &sig,
            std::io::Cursor::new(data),
            true,
            false,
            true,
        )
        .map_err(|e| anyhow::anyhow!("the signature does not verify: {e}"))?;
        sig.trusted_comment()
            .map_err(|e| anyhow::anyhow!("the signature's trusted comment: {e}"))
    }
}

/// `SHA256SUMS` as `sha256sum` writes it (`HASH  NAME`), sorted by name.
pub fn sha256sums(files: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
        .iter()
        .map(|(name, hash)| format!("{hash}  {name}\n"))
        .collect()
}

/// The (name, sha256) lines of a `SHA256SUMS`.
pub fn parse_sha256sums(text: &str) -> Result<Vec<(String, String)>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let (hash, name) = l
                .split_once("  ")
                .or_else(|| l.split_once(" *"))
                .with_context(|| format!("SHA256SUMS line {}: not HASH  NAME", i + 1))?;
            ensure!(
                hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                "SHA256SUMS line {}: {hash:?} is no sha256",
                i + 1
            );
            Ok((name.to_string(), hash.to_ascii_lowercase()))
        })
        .collect()
}

/// The sha256 of a file, in hex.
pub fn sha256_file(p: &Path) -> Result<String> {
    use sha2::Sha256;
    let mut f = std::fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("read {}", p.display()))?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path) -> (SecretKey, PublicKey) {
        let (k, p) = keygen(&dir.join("test"), &Password::Unencrypted).unwrap();
        (
            SecretKey::load(&k, &Password::Unencrypted).unwrap(),
            PublicKey::load(&p).unwrap(),
        )
    }

    #[test]
    fn signatures_are_deterministic_and_verify() {
        let d = tempfile::tempdir().unwrap();
        let (sk, pk) = pair(d.path());
        assert_eq!(sk.id(), pk.id());
        let a = sk.sign(b"data", "tool 1 host h epoch 1", "u").unwrap();
        let b = sk.sign(b"data", "tool 1 host h epoch 1", "u").unwrap();
        assert_eq!(a, b, "the same inputs gave two signatures");
        assert_eq!(pk.verify(b"data", &a).unwrap(), "tool 1 host h epoch 1");
        let e = format!("{:#}", pk.verify(b"datb", &a).unwrap_err());
        assert!(e.contains("does not verify"), "{e}");
        // The trusted comment is signed too.
        let forged = a.replace("epoch 1", "epoch 2");
        assert!(pk.verify(b"data", &forged).is_err());
    }

    #[test]
    fn another_key_is_named() {
        let d = tempfile::tempdir().unwrap();
        let (sk, _) = pair(d.path());
        let other = tempfile::tempdir().unwrap();
        let (_, pk2) = pair(other.path());
        let sig = sk.sign(b"x", "t", "u").unwrap();
        let e = format!("{:#}", pk2.verify(b"x", &sig).unwrap_err());
        assert!(e.contains(&sk.id()) && e.contains(&pk2.id()), "{e}");
    }

    #[test]
    fn keys_are_never_overwritten_and_the_secret_one_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let (k, p) = keygen(&d.path().join("k"), &Password::Unencrypted).unwrap();
        assert_eq!(
            std::fs::metadata(&k).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let e = keygen(&d.path().join("k"), &Password::Unencrypted)
            .unwrap_err()
            .to_string();
        assert!(e.contains("never overwritten"), "{e}");
    }

    #[test]
    fn an_encrypted_key_needs_its_password() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let pw = d.path().join("pw");
        std::fs::write(&pw, "correct horse\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (k, p) = keygen(&d.path().join("k"), &Password::File(pw.clone())).unwrap();
        let e = format!(
            "{:#}",
            SecretKey::load(&k, &Password::Unencrypted).err().unwrap()
        );
        assert!(e.contains("is encrypted"), "{e}");
        let wrong = d.path().join("wrong");
        std::fs::write(&wrong, "battery staple\n").unwrap();
        std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = format!(
            "{:#}",
            SecretKey::load(&k, &Password::File(wrong)).err().unwrap()
        );
        assert!(e.contains("Wrong password"), "{e}");
        let sk = SecretKey::load(&k, &Password::File(pw)).unwrap();
        let sig = sk.sign(b"x", "t", "u").unwrap();
        PublicKey::load(&p).unwrap().verify(b"x", &sig).unwrap();
    }

    #[test]
    fn sha256sums_round_trip_sorted() {
        let text = sha256sums(&[("b".into(), "1".repeat(64)), ("a".into(), "2".repeat(64))]);
        assert!(text.starts_with(&format!("{}  a\n", "2".repeat(64))));
        let back = parse_sha256sums(&text).unwrap();
        assert_eq!(back[0].0, "a");
        assert!(parse_sha256sums("xyz  a\n").is_err());
    }
}
