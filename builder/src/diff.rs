//! What changed between two images (`rear-build diff A B`): their inputs,
//! layers, files grouped by the Debian package they belong to (with the
//! versions on each side), and kernel modules. A and B are output
//! directories, manifests, or artefacts read directly (an initrd, an ISO)
//! when no manifest is at hand; then only their files are compared.

use crate::layer::{Entry, Kind};
use crate::manifest::{FileInfo, Manifest};
use anyhow::{Context, Result};
use rear_exec::Exec;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One side: a manifest, or the files of an artefact.
pub struct Side {
    pub name: String,
    pub manifest: Option<Manifest>,
    pub files: BTreeMap<String, FileInfo>,
}

impl Side {
    /// Reads `path`: a directory with manifest.json, a manifest, an
    /// initrd, or an ISO (its /boot/initrd.img).
    pub fn load(path: &Path, exec: &dyn Exec) -> Result<Side> {
        let name = path.display().to_string();
        let file = match path.is_dir() {
            true => path.join("manifest.json"),
            false => path.to_path_buf(),
        };
        let data = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
        if data.first() == Some(&b'{') {
            let m: Manifest = serde_json::from_slice(&data)
                .with_context(|| format!("{}: not a rear-build manifest", file.display()))?;
            let files = m
                .files
                .iter()
                .map(|f| (f.entry.path.clone(), f.clone()))
                .collect();
            return Ok(Side {
                name,
                manifest: Some(m),
                files,
            });
        }
        let initrd = match data.get(0x8001..0x8006) == Some(b"CD001") {
            false => data,
            true => {
                let scratch = tempfile::tempdir().context("create a temporary directory")?;
                let to = scratch.path().join("initrd.img");
                crate::provenance::iso_extract(&file, "/boot/initrd.img", &to, exec)?;
                std::fs::read(&to).with_context(|| format!("read {}", to.display()))?
            }
        };
        let files = crate::initrd::unpack(&initrd)
            .with_context(|| {
                format!(
                    "{}: neither a manifest nor a rear-build initrd or ISO",
                    file.display()
                )
            })?
            .into_iter()
            .map(|(p, entry)| {
                (
                    p,
                    FileInfo {
                        entry,
                        layer: String::new(),
                        package: None,
                        version: None,
                    },
                )
            })
            .collect();
        Ok(Side {
            name,
            manifest: None,
            files,
        })
    }
}

/// A value on each side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub what: String,
    pub a: String,
    pub b: String,
}

/// A file that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub how: &'static str,
    /// What changed (size, content, mode, owner, link target, type).
    pub details: Vec<String>,
}

/// The files of one package (or of none) that differ, and its versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageChange {
    /// None: files no package owns (generated, or from no package).
    pub package: Option<String>,
    pub version_a: Option<String>,
    pub version_b: Option<String>,
    pub files: Vec<FileChange>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// False when a side had no manifest (its inputs and layers are unknown).
    pub manifests: bool,
    pub inputs: Vec<Change>,
    pub layers: Vec<Change>,
    pub packages: Vec<PackageChange>,
    pub modules_added: Vec<String>,
    pub modules_removed: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
            && self.layers.is_empty()
            && self.packages.is_empty()
            && self.modules_added.is_empty()
            && self.modules_removed.is_empty()
    }
}

pub fn diff(a: &Side, b: &Side) -> Diff {
    let mut d = Diff::default();
    if let (Some(ma), Some(mb)) = (&a.manifest, &b.manifest) {
        d.manifests = true;
        d.inputs = inputs(ma, mb);
        d.layers = layers(ma, mb);
    }
    d.packages = packages(a, b);
    let (ma, mb) = (modules(&a.files), modules(&b.files));
    d.modules_added = mb.difference(&ma).cloned().collect();
    d.modules_removed = ma.difference(&mb).cloned().collect();
    d
}

fn change(out: &mut Vec<Change>, what: &str, a: String, b: String) {
    if a != b {
        out.push(Change {
            what: what.to_string(),
            a,
            b,
        });
    }
}

fn inputs(a: &Manifest, b: &Manifest) -> Vec<Change> {
    let mut out = Vec::new();
    let (ia, ib) = (&a.inputs, &b.inputs);
    change(
        &mut out,
        "tool",
        a.tool.version.clone(),
        b.tool.version.clone(),
    );
    change(
        &mut out,
        "host",
        ia.host.clone().unwrap_or_default(),
        ib.host.clone().unwrap_or_default(),
    );
    let kernel = |m: &Manifest| {
        let k = &m.inputs.kernel;
        format!(
            "{} (sha256 {})",
            k.version,
            &k.sha256[..k.sha256.len().min(16)]
        )
    };
    change(&mut out, "kernel", kernel(a), kernel(b));
    change(
        &mut out,
        "modules policy",
        ia.modules_policy.clone(),
        ib.modules_policy.clone(),
    );
    change(
        &mut out,
        "SOURCE_DATE_EPOCH",
        ia.source_date_epoch.to_string(),
        ib.source_date_epoch.to_string(),
    );
    let comp = |m: &Manifest| {
        format!(
            "{} {}",
            m.inputs.compression.algorithm, m.inputs.compression.level
        )
    };
    change(&mut out, "compression", comp(a), comp(b));
    change(
        &mut out,
        "includes",
        ia.includes.join(" "),
        ib.includes.join(" "),
    );
    change(
        &mut out,
        "backup",
        ia.backup.clone().unwrap_or_default(),
        ib.backup.clone().unwrap_or_default(),
    );
    change(
        &mut out,
        "rescue configuration",
        ia.rescue_config_blake3.clone(),
        ib.rescue_config_blake3.clone(),
    );
    let recipes = |m: &Manifest| -> BTreeMap<String, String> {
        m.inputs
            .recipes
            .iter()
            .map(|r| (r.name.clone(), r.blake3.clone()))
            .collect()
    };
    let (ra, rb) = (recipes(a), recipes(b));
    for name in ra.keys().chain(rb.keys()).collect::<BTreeSet<_>>() {
        let v =
            |m: &BTreeMap<String, String>| m.get(name).cloned().unwrap_or_else(|| "(none)".into());
        change(&mut out, &format!("recipe {name}"), v(&ra), v(&rb));
    }
    out
}

fn layers(a: &Manifest, b: &Manifest) -> Vec<Change> {
    let of = |m: &Manifest| -> BTreeMap<String, String> {
        m.layers
            .iter()
            .map(|l| (l.name.clone(), l.sha256.clone()))
            .collect()
    };
    let (la, lb) = (of(a), of(b));
    let mut out = Vec::new();
    for name in la.keys().chain(lb.keys()).collect::<BTreeSet<_>>() {
        let v =
            |m: &BTreeMap<String, String>| m.get(name).cloned().unwrap_or_else(|| "(none)".into());
        change(&mut out, name, v(&la), v(&lb));
    }
    out
}

/// How two entries of one path differ, in words; empty when they do not.
fn details(a: &Entry, b: &Entry) -> Vec<String> {
    let mut out = Vec::new();
    match (&a.kind, &b.kind) {
        (
            Kind::File {
                size: sa,
                blake3: ha,
            },
            Kind::File {
                size: sb,
                blake3: hb,
            },
        ) => {
            if sa != sb {
                out.push(format!("size {sa} → {sb}"));
            }
            if ha != hb {
                out.push(format!(
                    "content (BLAKE3 {} → {})",
                    &ha[..16.min(ha.len())],
                    &hb[..16.min(hb.len())]
                ));
            }
        }
        (Kind::Symlink { target: ta }, Kind::Symlink { target: tb }) if ta != tb => {
            out.push(format!("link target {ta} → {tb}"))
        }
        (ka, kb) if ka != kb => out.push(format!(
            "{} → {}",
            crate::initrd::describe(ka),
            crate::initrd::describe(kb)
        )),
        _ => {}
    }
    if a.mode != b.mode && !matches!(b.kind, Kind::Symlink { .. }) {
        out.push(format!("mode {:o} → {:o}", a.mode, b.mode));
    }
    if (a.uid, a.gid) != (b.uid, b.gid) {
        out.push(format!("owner {}:{} → {}:{}", a.uid, a.gid, b.uid, b.gid));
    }
    out
}

fn packages(a: &Side, b: &Side) -> Vec<PackageChange> {
    // Versions of every package on each side (from any of its files).
    let versions = |s: &Side| -> BTreeMap<String, String> {
        s.files
            .values()
            .filter_map(|f| Some((f.package.clone()?, f.version.clone()?)))
            .collect()
    };
    let (va, vb) = (versions(a), versions(b));
    let mut by: BTreeMap<Option<String>, Vec<FileChange>> = BTreeMap::new();
    // The image id changes with any other change: it says nothing more.
    let paths: BTreeSet<&String> = a
        .files
        .keys()
        .chain(b.files.keys())
        .filter(|p| *p != crate::manifest::IMAGE_ID_PATH)
        .collect();
    for p in paths {
        let (fa, fb) = (a.files.get(p), b.files.get(p));
        let (how, details) = match (fa, fb) {
            (Some(_), None) => ("removed", Vec::new()),
            (None, Some(_)) => ("added", Vec::new()),
            (Some(x), Some(y)) => {
                let d = details(&x.entry, &y.entry);
                if d.is_empty() {
                    continue;
                }
                ("changed", d)
            }
            (None, None) => continue,
        };
        let package = fb
            .and_then(|f| f.package.clone())
            .or_else(|| fa.and_then(|f| f.package.clone()));
        by.entry(package).or_default().push(FileChange {
            path: p.clone(),
            how,
            details,
        });
    }
    // A package whose version changed with no file changed is named too
    // (when both sides know packages: manifests before 2026-12 do not).
    if !va.is_empty() && !vb.is_empty() {
        for name in va.keys().chain(vb.keys()) {
            if va.get(name) != vb.get(name) {
                by.entry(Some(name.clone())).or_default();
            }
        }
    }
    by.into_iter()
        .map(|(package, files)| PackageChange {
            version_a: package.as_ref().and_then(|p| va.get(p).cloned()),
            version_b: package.as_ref().and_then(|p| vb.get(p).cloned()),
            package,
            files,
        })
        .collect()
}

/// The kernel modules among `files`, by name (`ext4` for
/// `/lib/modules/KVER/kernel/fs/ext4/ext4.ko.xz`).
fn modules(files: &BTreeMap<String, FileInfo>) -> BTreeSet<String> {
    files
        .keys()
        .filter(|p| p.contains("/lib/modules/"))
        .filter_map(|p| {
            let name = p.rsplit('/').next()?;
            let stem = name.split(".ko").next()?;
            (name.len() > stem.len()).then(|| stem.to_string())
        })
        .collect()
}

/// The diff as text for a terminal.
pub fn to_text(d: &Diff, a: &str, b: &str) -> String {
    let mut out = format!("--- {a}\n+++ {b}\n");
    if d.is_empty() {
        out += "same: no input, layer, file or module differs\n";
        return out;
    }
    if !d.manifests {
        out += "(one side has no manifest: its inputs and layers are unknown, its files are read from the initrd)\n";
    }
    let list = |out: &mut String, title: &str, cs: &[Change]| {
        if !cs.is_empty() {
            *out += &format!("{title}:\n");
            for c in cs {
                *out += &format!("  {}: {} → {}\n", c.what, c.a, c.b);
            }
        }
    };
    list(&mut out, "inputs", &d.inputs);
    list(&mut out, "layers (sha256)", &d.layers);
    for p in &d.packages {
        let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "(not there)".into());
        out += &match &p.package {
            Some(name) if p.version_a != p.version_b => {
                format!(
                    "package {name}: {} → {}\n",
                    v(&p.version_a),
                    v(&p.version_b)
                )
            }
            Some(name) => format!("package {name} {}:\n", v(&p.version_b)),
            None => "files of no package:\n".into(),
        };
        for f in &p.files {
            out += &format!("  {} {}", f.how, f.path);
            if !f.details.is_empty() {
                out += &format!(" ({})", f.details.join(", "));
            }
            out += "\n";
        }
    }
    if !d.modules_added.is_empty() {
        out += &format!("modules added: {}\n", d.modules_added.join(" "));
    }
    if !d.modules_removed.is_empty() {
        out += &format!("modules removed: {}\n", d.modules_removed.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str, pkg: Option<(&str, &str)>) -> (String, FileInfo) {
        (
            path.to_string(),
            FileInfo {
                entry: Entry {
                    path: path.into(),
                    kind: Kind::File {
                        size: content.len() as u64,
                        blake3: blake3::hash(content.as_bytes()).to_hex().to_string(),
                    },
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    source: None,
                },
                layer: "base".into(),
                package: pkg.map(|p| p.0.to_string()),
                version: pkg.map(|p| p.1.to_string()),
            },
        )
    }

    fn side(files: Vec<(String, FileInfo)>) -> Side {
        Side {
            name: "x".into(),
            manifest: None,
            files: files.into_iter().collect(),
        }
    }

    #[test]
    fn files_are_grouped_by_package_with_both_versions() {
        let a = side(vec![
            file("/usr/bin/foo", "v1", Some(("foo", "1.0-1"))),
            file("/usr/share/foo/same", "s", Some(("foo", "1.0-1"))),
            file("/usr/bin/bar", "b", Some(("bar", "2"))),
            file("/etc/gen", "a", None),
            file("/lib/modules/6.1/kernel/fs/ext4/ext4.ko.xz", "m", None),
        ]);
        let b = side(vec![
            file("/usr/bin/foo", "v1.1", Some(("foo", "1.1-1"))),
            file("/usr/share/foo/same", "s", Some(("foo", "1.1-1"))),
            file("/usr/bin/bar", "b", Some(("bar", "2"))),
            file("/etc/gen", "a", None),
            file("/lib/modules/6.1/kernel/fs/xfs/xfs.ko.xz", "m", None),
        ]);
        let d = diff(&a, &b);
        assert_eq!(d.packages.len(), 2, "{d:#?}");
        let foo = &d.packages[1];
        assert_eq!(foo.package.as_deref(), Some("foo"));
        assert_eq!(
            (foo.version_a.as_deref(), foo.version_b.as_deref()),
            (Some("1.0-1"), Some("1.1-1"))
        );
        assert_eq!(foo.files.len(), 1);
        assert_eq!(foo.files[0].path, "/usr/bin/foo");
        assert!(foo.files[0].details[0].starts_with("size 2 → 4"));
        assert_eq!(d.modules_added, ["xfs"]);
        assert_eq!(d.modules_removed, ["ext4"]);
        let text = to_text(&d, "A", "B");
        assert!(
            text.contains("package foo: 1.0-1 → 1.1-1\n  changed /usr/bin/foo"),
            "{text}"
        );
        assert!(!text.contains("bar"), "{text}");
        assert!(diff(&a, &a).is_empty());
    }
}
