//! Which kernel the rescue image boots: `-r KVER`, `--kernel PATH` with
//! `--modules-dir DIR`, the running kernel, or the newest one in /boot.

use anyhow::{bail, Context, Result};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Kernel {
    pub version: String,
    pub image: PathBuf,
    pub modules_dir: PathBuf,
}

impl Kernel {
    /// Where this kernel's build configuration may be: beside its image
    /// (`/boot/config-KVER` for /boot/vmlinuz-KVER), in /boot, or in its
    /// module directory (as some distributions ship it).
    pub fn config_candidates(&self) -> Vec<PathBuf> {
        let name = format!("config-{}", self.version);
        let mut v: Vec<PathBuf> = self
            .image
            .parent()
            .map(|d| d.join(&name))
            .into_iter()
            .collect();
        v.push(Path::new("/boot").join(&name));
        v.push(self.modules_dir.join("config"));
        v.dedup();
        v
    }

    /// What this kernel can unpack as its initramfs: from its
    /// configuration when one is found, else from its version.
    pub fn compression_support(&self) -> Result<crate::compress::Support> {
        for p in self.config_candidates() {
            if p.is_file() {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("read the kernel configuration {}", p.display()))?;
                return Ok(crate::compress::support(
                    &self.version,
                    Some((&text, &p.display().to_string())),
                ));
            }
        }
        Ok(crate::compress::support(&self.version, None))
    }
}

#[derive(Clone, Debug, Default)]
pub struct Choice {
    pub version: Option<String>,
    pub image: Option<PathBuf>,
    pub modules_dir: Option<PathBuf>,
}

/// Compares versions the way `sort -V` does: digit runs numerically.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    for (x, y) in chunks(a).iter().zip(chunks(b).iter()) {
        let o = if x.0 && y.0 {
            let (xn, yn) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
            xn.len().cmp(&yn.len()).then(xn.cmp(yn))
        } else {
            x.1.cmp(y.1)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    chunks(a).len().cmp(&chunks(b).len())
}

/// Resolves the choice against `root` ("/" normally); the second value is a
/// note for the user when the running kernel could not be used.
pub fn choose(c: &Choice, root: &Path) -> Result<(Kernel, Option<String>)> {
    let boot = root.join("boot");
    let modules = root.join("lib/modules");
    let from_version = |v: &str| Kernel {
        version: v.to_string(),
        image: c
            .image
            .clone()
            .unwrap_or_else(|| boot.join(format!("vmlinuz-{v}"))),
        modules_dir: c.modules_dir.clone().unwrap_or_else(|| modules.join(v)),
    };
    let mut note = None;
    let kernel = if let Some(v) = &c.version {
        from_version(v)
    } else if let Some(img) = &c.image {
        let v = img
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("vmlinuz-"))
            .map(str::to_string)
            .or_else(|| {
                c.modules_dir
                    .as_ref()
                    .and_then(|d| d.file_name())
                    .map(|n| n.to_string_lossy().to_string())
            })
            .context("cannot tell the kernel version from --kernel: name it with -r KVER")?;
        from_version(&v)
    } else {
        let running = nix_uname_release();
        let k = from_version(&running);
        if k.image.exists() && k.modules_dir.exists() {
            k
        } else {
            let mut versions: Vec<String> = std::fs::read_dir(&boot)
                .with_context(|| format!("list {}", boot.display()))?
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix("vmlinuz-"))
                        .map(str::to_string)
                })
                .filter(|v| modules.join(v).is_dir())
                .collect();
            versions.sort_by(|a, b| version_cmp(a, b));
            let Some(newest) = versions.pop() else {
                bail!(
                    "the running kernel {running} has no {} and {} holds no other kernel with modules; \
                     install one (apt-get install linux-image-amd64) or name it with --kernel and --modules-dir",
                    k.image.display(),
                    boot.display()
                );
            };
            note = Some(format!(
                "the running kernel {running} has no {} or {}; using the newest installed kernel, {newest}",
                k.image.display(),
                k.modules_dir.display()
            ));
            from_version(&newest)
        }
    };
    if !kernel.image.is_file() {
        bail!(
            "kernel image {} not found (kernel {}); pick another with -r or --kernel",
            kernel.image.display(),
            kernel.version
        );
    }
    if !kernel.modules_dir.join("modules.dep").is_file() {
        bail!(
            "{} has no modules.dep: not a module directory of kernel {} (run `depmod {}` or name it with --modules-dir)",
            kernel.modules_dir.display(),
            kernel.version,
            kernel.version
        );
    }
    Ok((kernel, note))
}

fn nix_uname_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn versions_sort_like_sort_v() {
        let mut v = vec![
            "6.1.0-9-amd64",
            "6.1.0-10-amd64",
            "5.10.0-28-amd64",
            "6.10.1",
        ];
        v.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(
            v,
            [
                "5.10.0-28-amd64",
                "6.1.0-9-amd64",
                "6.1.0-10-amd64",
                "6.10.1"
            ]
        );
    }

    fn fake_kernel(root: &Path, v: &str) {
        fs::create_dir_all(root.join("boot")).unwrap();
        fs::write(root.join(format!("boot/vmlinuz-{v}")), b"k").unwrap();
        fs::create_dir_all(root.join(format!("lib/modules/{v}"))).unwrap();
        fs::write(root.join(format!("lib/modules/{v}/modules.dep")), b"").unwrap();
    }

    #[test]
    fn newest_installed_kernel_when_running_one_is_absent() {
        let d = tempfile::tempdir().unwrap();
        fake_kernel(d.path(), "6.1.0-9-amd64");
        fake_kernel(d.path(), "6.1.0-10-amd64");
        fs::write(d.path().join("boot/vmlinuz-9.9-nomodules"), b"k").unwrap();
        let (k, note) = choose(&Choice::default(), d.path()).unwrap();
        assert_eq!(k.version, "6.1.0-10-amd64");
        assert!(note
            .unwrap()
            .contains("using the newest installed kernel, 6.1.0-10-amd64"));
    }

    #[test]
    fn explicit_version_must_exist() {
        let d = tempfile::tempdir().unwrap();
        fake_kernel(d.path(), "6.1.0-9-amd64");
        let c = Choice {
            version: Some("6.1.0-9-amd64".into()),
            ..Default::default()
        };
        assert_eq!(choose(&c, d.path()).unwrap().0.version, "6.1.0-9-amd64");
        let c = Choice {
            version: Some("7.0".into()),
            ..Default::default()
        };
        let err = choose(&c, d.path()).unwrap_err().to_string();
        assert!(err.contains("vmlinuz-7.0 not found"), "{err}");
    }

    #[test]
    fn compression_support_reads_the_configuration_beside_the_image() {
        let d = tempfile::tempdir().unwrap();
        // A version no /boot of a build host has.
        let v = "4.18.0-0.rear-build-test";
        fake_kernel(d.path(), v);
        let k = Kernel {
            version: v.into(),
            image: d.path().join(format!("boot/vmlinuz-{v}")),
            modules_dir: d.path().join(format!("lib/modules/{v}")),
        };
        let s = k.compression_support().unwrap();
        assert_eq!(
            s.unpacks,
            [
                crate::compress::Algorithm::Xz,
                crate::compress::Algorithm::Gzip
            ]
        );
        assert!(s.from.contains("version"), "{}", s.from);
        let config = d.path().join(format!("boot/config-{v}"));
        fs::write(&config, "CONFIG_RD_ZSTD=y\n# CONFIG_RD_XZ is not set\n").unwrap();
        let s = k.compression_support().unwrap();
        assert_eq!(s.unpacks, [crate::compress::Algorithm::Zstd]);
        assert_eq!(s.from, config.display().to_string());
    }

    #[test]
    fn empty_boot_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("boot")).unwrap();
        let err = choose(&Choice::default(), d.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("apt-get install linux-image-amd64"), "{err}");
    }
}
