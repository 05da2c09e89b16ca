//! Where backups live (`[backup] url`), and which places each method can use.

use crate::Exec;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// A host reached over the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub user: Option<String>,
    /// A name or address; an IPv6 address keeps its brackets (`[::1]`).
    pub host: String,
    pub port: Option<u16>,
    /// `ssh`, `sftp`: an absolute path. `rsync`: `MODULE[/PATH]`.
    pub path: String,
}

impl Remote {
    /// `[user@]host`.
    pub fn user_host(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// `[user@]host[:port]`.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.user_host()),
            None => self.user_host(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A directory (`file:///DIR`).
    File(PathBuf),
    /// A disk with a file system labelled `label` (ReaR's `REAR-000`),
    /// mounted for the backup (`usb://LABEL`).
    Usb { label: String },
    /// An rsync daemon (`rsync://[USER@]HOST[:PORT]/MODULE[/PATH]`).
    Rsyncd(Remote),
    /// A directory over ssh (`ssh://[USER@]HOST[:PORT]/DIR`, or the scp
    /// form `[USER@]HOST:/DIR`).
    Ssh(Remote),
    /// A directory over sftp (`sftp://[USER@]HOST[:PORT]/DIR`).
    Sftp(Remote),
}

/// The forms of url each method takes, for messages.
pub fn forms(method: &str) -> &'static str {
    match method {
        "tar" => "file:///DIR, usb://LABEL",
        "rsync" => "file:///DIR, usb://LABEL, rsync://HOST[:PORT]/MODULE[/PATH], ssh://[USER@]HOST[:PORT]/DIR, [USER@]HOST:/DIR",
        "borg" => "file:///DIR, usb://LABEL, ssh://[USER@]HOST[:PORT]/DIR, [USER@]HOST:/DIR",
        "restic" => "file:///DIR, usb://LABEL, sftp://[USER@]HOST[:PORT]/DIR",
        _ => "",
    }
}

/// `[user@]host[:port]`, as in every url with an authority.
fn authority(a: &str) -> Result<(Option<String>, String, Option<u16>)> {
    let (user, hostport) = match a.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
        Some(_) => bail!("the user name before @ is empty"),
        None => (None, a),
    };
    // An IPv6 address is bracketed, so its colons are not a port's.
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .context("an IPv6 address needs its closing ]")?;
        (format!("[{addr}]"), after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        bail!("no host name");
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .with_context(|| format!("the port {p:?} is not a number from 1 to 65535"))
        })
        .transpose()?;
    Ok((user, host, port))
}

/// `AUTHORITY/PATH` of a url with the scheme removed.
fn remote(rest: &str) -> Result<Remote> {
    let (a, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host, port) = authority(a)?;
    Ok(Remote {
        user,
        host,
        port,
        path: path.trim_end_matches('/').to_string(),
    })
}

impl Target {
    /// Any form of url this crate knows, for any method.
    pub fn parse(url: &str) -> Result<Target> {
        if let Some(p) = url.strip_prefix("file://") {
            if !p.starts_with('/') {
                bail!("a file:// target needs an absolute path, as in file:///srv/backup");
            }
            return Ok(Target::File(PathBuf::from(p)));
        }
        if let Some(rest) = url.strip_prefix("usb://") {
            let label = rest.strip_prefix("/dev/disk/by-label/").unwrap_or(rest);
            if label.is_empty() || label.contains('/') {
                bail!("a usb:// target names a file-system label, as in usb://REAR-000");
            }
            return Ok(Target::Usb {
                label: label.into(),
            });
        }
        if let Some(rest) = url.strip_prefix("rsync://") {
            let r = remote(rest)?;
            if r.path.is_empty() {
                bail!("an rsync:// target names the daemon's module, as in rsync://backup.example/rear/HOST");
            }
            return Ok(Target::Rsyncd(r));
        }
        for (scheme, sftp) in [("ssh://", false), ("sftp://", true)] {
            if let Some(rest) = url.strip_prefix(scheme) {
                let mut r = remote(rest)?;
                if r.path.is_empty() {
                    bail!(
                        "needs the directory on the host, as in {scheme}backup.example/srv/backup"
                    );
                }
                r.path = format!("/{}", r.path);
                return Ok(if sftp {
                    Target::Sftp(r)
                } else {
                    Target::Ssh(r)
                });
            }
        }
        // The scp form: [user@]host:/dir, with nothing that looks like a scheme.
        if !url.contains("://") {
            if let Some((a, path)) = url.split_once(':') {
                if !a.is_empty() && !a.contains('/') {
                    if !path.starts_with('/') {
                        bail!("the directory on the host must be absolute, as in {a}:/srv/backup");
                    }
                    let (user, host, _) = authority(a)?;
                    return Ok(Target::Ssh(Remote {
                        user,
                        host,
                        port: None,
                        path: path.trim_end_matches('/').to_string(),
                    }));
                }
            }
        }
        bail!("unsupported backup target; use file:///DIR, usb://LABEL, rsync://HOST/MODULE, ssh://[USER@]HOST/DIR or sftp://[USER@]HOST/DIR (nfs and cifs: mount them and use file://)")
    }

    /// A url `method` can use.
    pub fn parse_for(method: &str, url: &str) -> Result<Target> {
        let t = Target::parse(url)?;
        let ok = matches!(
            (&t, method),
            (
                Target::File(_) | Target::Usb { .. },
                "tar" | "rsync" | "borg" | "restic"
            ) | (Target::Rsyncd(_), "rsync")
                | (Target::Ssh(_), "rsync" | "borg")
                | (Target::Sftp(_), "restic")
        );
        if !ok {
            bail!(
                "not a place for method {method:?}; it takes {}",
                forms(method)
            );
        }
        Ok(t)
    }

    /// Where backups go on this machine: a usb:// target is mounted and
    /// becomes its `rear/HOST` directory; any other is as it is.
    pub fn open(&self, exec: &dyn Exec, host: &str) -> Result<Target> {
        let Target::Usb { label } = self else {
            return Ok(self.clone());
        };
        let mnt = PathBuf::from("/run/rear-build/target");
        std::fs::create_dir_all(&mnt).with_context(|| format!("create {}", mnt.display()))?;
        let mounted = std::fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some("/run/rear-build/target"));
        if !mounted {
            let dev = exec
                .run(&["blkid".into(), "-L".into(), label.clone()])
                .with_context(|| {
                    format!("no file system labelled {label} (format a disk with `mkfs.ext4 -L {label}`)")
                })?;
            exec.run(&[
                "mount".into(),
                dev.trim().into(),
                mnt.to_string_lossy().into(),
            ])?;
        }
        Ok(Target::File(mnt.join("rear").join(host)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(user: Option<&str>, host: &str, port: Option<u16>, path: &str) -> Remote {
        Remote {
            user: user.map(Into::into),
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn every_form_parses() {
        assert_eq!(
            Target::parse("file:///srv/b").unwrap(),
            Target::File("/srv/b".into())
        );
        for usb in ["usb://REAR-000", "usb:///dev/disk/by-label/REAR-000"] {
            assert_eq!(
                Target::parse(usb).unwrap(),
                Target::Usb {
                    label: "REAR-000".into()
                }
            );
        }
        assert_eq!(
            Target::parse("rsync://backup:8873/rear/web1/").unwrap(),
            Target::Rsyncd(r(None, "backup", Some(8873), "rear/web1"))
        );
        assert_eq!(
            Target::parse("ssh://bk@[::1]:2222/srv/borg").unwrap(),
            Target::Ssh(r(Some("bk"), "[::1]", Some(2222), "/srv/borg"))
        );
        assert_eq!(
            Target::parse("bk@backup:/srv/rsync/").unwrap(),
            Target::Ssh(r(Some("bk"), "backup", None, "/srv/rsync"))
        );
        assert_eq!(
            Target::parse("sftp://backup/srv/restic").unwrap(),
            Target::Sftp(r(None, "backup", None, "/srv/restic"))
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (bad, says) in [
            ("file://relative", "absolute path"),
            ("usb://", "label"),
            ("ftp://x", "unsupported"),
            ("nfs://server/export", "mount them"),
            ("rsync://host", "module"),
            ("ssh://host", "directory on the host"),
            ("ssh://host:99999/x", "port"),
            ("ssh://@host/x", "user name"),
            ("host:relative", "absolute"),
            ("/srv/backup", "unsupported"),
        ] {
            let err = format!("{:#}", Target::parse(bad).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn each_method_takes_its_own_forms() {
        for (method, url) in [
            ("tar", "usb://REAR-000"),
            ("rsync", "rsync://h/m"),
            ("rsync", "h:/d"),
            ("borg", "ssh://h/d"),
            ("restic", "sftp://h/d"),
            ("restic", "file:///d"),
        ] {
            assert!(Target::parse_for(method, url).is_ok(), "{method} {url}");
        }
        for (method, url) in [
            ("tar", "ssh://h/d"),
            ("borg", "rsync://h/m"),
            ("borg", "sftp://h/d"),
            ("restic", "ssh://h/d"),
        ] {
            let err = Target::parse_for(method, url).unwrap_err().to_string();
            assert!(
                err.contains(&format!("not a place for method {method:?}"))
                    && err.contains(forms(method)),
                "{err}"
            );
        }
    }
}
