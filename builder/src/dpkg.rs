//! Which Debian package a host file belongs to, from dpkg's database as it
//! is at build time (`/var/lib/dpkg/info/*.list` and `status`), so the
//! manifest, and `diff` between two manifests, can speak in packages and
//! versions. Read directly, not through `dpkg -S`: one pass over the lists
//! answers every file of an image.

use std::collections::BTreeMap;
use std::path::Path;

/// A package owning a file: its name (without the architecture) and the
/// installed version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub package: String,
    pub version: String,
}

#[derive(Debug, Default)]
pub struct Db {
    /// Path → the package (as its list file names it, `libc6:amd64`).
    owners: BTreeMap<String, String>,
    /// `name` and `name:arch` → version, for installed packages.
    versions: BTreeMap<String, String>,
}

/// The top directories merged into /usr on a merged-/usr system: dpkg may
/// list a file under either name.
const MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

impl Db {
    /// The database below `root` (`/` for this host); empty when there is
    /// none (not a Debian system): every file is then of no package.
    pub fn load(root: &Path) -> Db {
        let mut db = Db::default();
        let info = root.join("var/lib/dpkg/info");
        let mut lists: Vec<_> = std::fs::read_dir(&info)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "list"))
            .collect();
        // In name order, the first owner of a path wins: the same result
        // whatever order the directory lists them in.
        lists.sort();
        for list in lists {
            let Some(pkg) = list.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(&list) else {
                log::debug!("cannot read {}", list.display());
                continue;
            };
            for path in text.lines().filter(|l| l.starts_with('/')) {
                db.owners
                    .entry(path.to_string())
                    .or_insert_with(|| pkg.clone());
            }
        }
        if let Ok(status) = std::fs::read_to_string(root.join("var/lib/dpkg/status")) {
            db.versions = versions(&status);
        }
        db
    }

    /// The package owning `path` (a host path) and its version.
    pub fn owner(&self, path: &str) -> Option<Owner> {
        let pkg = self.owners.get(path).or_else(|| {
            let alt = alternate(path)?;
            self.owners.get(&alt)
        })?;
        let name = pkg.split(':').next().unwrap_or(pkg);
        let version = self
            .versions
            .get(pkg.as_str())
            .or_else(|| self.versions.get(name))?;
        Some(Owner {
            package: name.to_string(),
            version: version.clone(),
        })
    }
}

/// `path` under the other name merged /usr gives it: `/usr/bin/x` for
/// `/bin/x` and back.
fn alternate(path: &str) -> Option<String> {
    if let Some(rest) = path.strip_prefix("/usr/") {
        let top = rest.split('/').next()?;
        return MERGED.contains(&top).then(|| format!("/{rest}"));
    }
    let top = path.strip_prefix('/')?.split('/').next()?;
    MERGED.contains(&top).then(|| format!("/usr{path}"))
}

/// Installed packages' versions from dpkg's status file, by `name` and by
/// `name:arch`.
fn versions(status: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stanza in status.split("\n\n") {
        let field = |k: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(':').map(str::trim))
        };
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
            continue;
        };
        if !field("Status").is_some_and(|s| s.ends_with(" installed")) {
            continue;
        }
        if let Some(arch) = field("Architecture") {
            out.insert(format!("{name}:{arch}"), version.to_string());
        }
        out.entry(name.to_string())
            .or_insert_with(|| version.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_and_versions_come_from_the_lists_and_the_status() {
        let d = tempfile::tempdir().unwrap();
        let info = d.path().join("var/lib/dpkg/info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(
            info.join("libc6:amd64.list"),
            "/.\n/lib/x86_64-linux-gnu/libc.so.6\n",
        )
        .unwrap();
        std::fs::write(
            info.join("lvm2.list"),
            "/.\n/sbin/lvm\n/usr/share/doc/lvm2\n",
        )
        .unwrap();
        std::fs::write(info.join("gone.list"), "/usr/bin/gone\n").unwrap();
        std::fs::write(
            d.path().join("var/lib/dpkg/status"),
            "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u14\n\n\
             Package: lvm2\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.03.16-2\n\n\
             Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n",
        )
        .unwrap();
        let db = Db::load(d.path());
        let o = |p: &str| db.owner(p).map(|o| format!("{} {}", o.package, o.version));
        // Merged /usr: listed under /lib and /sbin, found under /usr too.
        assert_eq!(
            o("/usr/lib/x86_64-linux-gnu/libc.so.6").as_deref(),
            Some("libc6 2.36-9+deb12u14")
        );
        assert_eq!(
            o("/lib/x86_64-linux-gnu/libc.so.6").as_deref(),
            Some("libc6 2.36-9+deb12u14")
        );
        assert_eq!(o("/usr/sbin/lvm").as_deref(), Some("lvm2 2.03.16-2"));
        assert_eq!(o("/usr/share/lvm2"), None);
        // Not installed (only its configuration left): no version, no owner.
        assert_eq!(o("/usr/bin/gone"), None);
        assert_eq!(Db::load(&d.path().join("nothing")).owner("/sbin/lvm"), None);
    }
}
