//! Reading an initramfs back into entries: zstd, xz or gzip streams (any
//! number, each told by its magic bytes, as rear-build concatenates its
//! layers: [`crate::compress::decompress`]) holding newc cpio archives (any
//! number, each up to its trailer), later entries replacing earlier ones
//! as the kernel unpacks them. `verify` and `diff` compare what is really
//! in an initrd with what a manifest says.

use crate::layer::{Entry, Kind};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::Read;

/// The entries of the compressed initrd (or layer) `data`, by path.
pub fn unpack(data: &[u8]) -> Result<BTreeMap<String, Entry>> {
    let (cpio, _) = crate::compress::decompress(data)?;
    entries(&cpio)
}

/// The entries of concatenated newc archives.
pub fn entries(cpio: &[u8]) -> Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    // newc carries a hardlink group's data with one of its names (ours:
    // the last); the others have none. Groups are per archive.
    let mut groups: BTreeMap<u32, (Vec<String>, Option<Kind>)> = BTreeMap::new();
    let mut rest: &[u8] = cpio;
    loop {
        // Archives are padded with zeros to a multiple of 4 (or more).
        let skip = rest.iter().take_while(|&&b| b == 0).count();
        rest = &rest[skip..];
        if rest.is_empty() {
            break;
        }
        let mut r = cpio::NewcReader::new(rest).context("a cpio header")?;
        let e = r.entry();
        if e.is_trailer() {
            rest = r.finish().context("the end of an archive")?;
            settle(&mut groups, &mut out);
            continue;
        }
        let path = format!(
            "/{}",
            e.name().trim_start_matches("./").trim_start_matches('/')
        );
        let (mode, uid, gid, ino, nlink) = (e.mode(), e.uid(), e.gid(), e.ino(), e.nlink());
        let (major, minor) = (e.rdev_major(), e.rdev_minor());
        let mut data = Vec::new();
        r.read_to_end(&mut data)
            .with_context(|| format!("the data of {path}"))?;
        rest = r.finish().with_context(|| format!("the end of {path}"))?;
        let kind = match mode & 0o170000 {
            0o100000 => {
                let k = Kind::File {
                    size: data.len() as u64,
                    blake3: blake3::hash(&data).to_hex().to_string(),
                };
                if nlink > 1 {
                    let g = groups.entry(ino).or_default();
                    g.0.push(path.clone());
                    if !data.is_empty() {
                        g.1 = Some(k.clone());
                    }
                }
                k
            }
            0o040000 => Kind::Dir,
            0o120000 => Kind::Symlink {
                target: String::from_utf8_lossy(&data).into_owned(),
            },
            0o020000 => Kind::Char { major, minor },
            t => anyhow::bail!("{path}: a file of type {t:o}, which rear-build never writes"),
        };
        out.insert(
            path.clone(),
            Entry {
                path,
                kind,
                mode: mode & 0o7777,
                uid,
                gid,
                source: None,
            },
        );
    }
    settle(&mut groups, &mut out);
    Ok(out)
}

/// Gives every name of a hardlink group the group's data.
fn settle(
    groups: &mut BTreeMap<u32, (Vec<String>, Option<Kind>)>,
    out: &mut BTreeMap<String, Entry>,
) {
    for (names, kind) in std::mem::take(groups).into_values() {
        // A group of empty files carries no data at all.
        let kind = kind.unwrap_or(Kind::File {
            size: 0,
            blake3: blake3::hash(b"").to_hex().to_string(),
        });
        for n in names {
            if let Some(e) = out.get_mut(&n) {
                e.kind = kind.clone();
            }
        }
    }
}

/// How `got` (read from an initrd) differs from `want` (a manifest's), if
/// it does: type and content, mode (not a symlink's), owner.
pub fn differs(got: &Entry, want: &Entry) -> Option<String> {
    if got.kind != want.kind {
        return Some(format!(
            "{}, the manifest says {}",
            describe(&got.kind),
            describe(&want.kind)
        ));
    }
    let symlink = matches!(want.kind, Kind::Symlink { .. });
    if !symlink && got.mode != want.mode {
        return Some(format!(
            "mode {:o}, the manifest says {:o}",
            got.mode, want.mode
        ));
    }
    if (got.uid, got.gid) != (want.uid, want.gid) {
        return Some(format!(
            "owner {}:{}, the manifest says {}:{}",
            got.uid, got.gid, want.uid, want.gid
        ));
    }
    None
}

/// An entry's kind in words.
pub fn describe(k: &Kind) -> String {
    match k {
        Kind::File { size, blake3 } => format!(
            "a file of {size} bytes (BLAKE3 {})",
            &blake3[..16.min(blake3.len())]
        ),
        Kind::Dir => "a directory".into(),
        Kind::Symlink { target } => format!("a link to {target}"),
        Kind::Char { major, minor } => format!("a character device {major}:{minor}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A newc archive of (name, mode, ino, nlink, data) entries.
    fn archive(items: &[(&str, u32, u32, u32, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::new();
        for (name, mode, ino, nlink, data) in items {
            let mut w = cpio::newc::Builder::new(name)
                .mode(*mode)
                .ino(*ino)
                .nlink(*nlink)
                .write(&mut out, data.len() as u32);
            w.write_all(data).unwrap();
            w.finish().unwrap();
        }
        cpio::newc::trailer(&mut out).unwrap();
        out
    }

    #[test]
    fn archives_concatenate_and_hardlinks_share_their_data() {
        let mut cpio = archive(&[
            ("etc", 0o040755, 1, 2, b""),
            ("etc/a", 0o100644, 2, 2, b""),
            ("etc/b", 0o100644, 2, 2, b"linked"),
            ("etc/l", 0o120777, 3, 1, b"a"),
        ]);
        cpio.extend(archive(&[("etc/a2", 0o100600, 7, 1, b"second")]));
        let e = entries(&cpio).unwrap();
        assert_eq!(e.len(), 5);
        assert_eq!(e["/etc/a"].kind, e["/etc/b"].kind);
        assert!(matches!(&e["/etc/a"].kind, Kind::File { size: 6, .. }));
        assert_eq!(e["/etc/l"].kind, Kind::Symlink { target: "a".into() });
        assert_eq!(e["/etc/a2"].mode, 0o600);
        assert!(differs(&e["/etc/a"], &e["/etc/b"]).is_none());
        let d = differs(&e["/etc/a"], &e["/etc/a2"]).unwrap();
        assert!(
            d.contains("6 bytes") && d.contains("the manifest says"),
            "{d}"
        );
    }
}
