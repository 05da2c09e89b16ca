//! Where backups live (`[backup] url`), and which places each method can use.

use crate::{Call, Exec, Method};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

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
    /// A directory over sftp (`sftp://[USER@]HOST[:PORT]/DIR`): restic's
    /// own, mounted with sshfs for tar.
    Sftp(Remote),
    /// An NFS export, mounted (`nfs://HOST[:PORT]/EXPORT`).
    Nfs(Remote),
    /// An SMB/CIFS share, mounted (`cifs://[USER@]HOST[:PORT]/SHARE[/DIR]`).
    Cifs(Remote),
    /// A tape drive (`tape:///dev/nst0`), or a SIMH tape image file that
    /// stands for one; tar's archives after the rescue image (`tape`).
    Tape(PathBuf),
}

/// Where network and USB targets are mounted.
pub const MOUNT_POINT: &str = "/run/rear-build/target";

/// The forms of url each method takes, for messages.
pub fn forms(method: Method) -> &'static str {
    match method {
        Method::Tar => "file:///DIR, usb://LABEL, nfs://HOST/EXPORT, cifs://HOST/SHARE[/DIR], sftp://[USER@]HOST[:PORT]/DIR, tape:///dev/nst0",
        Method::Rsync => "file:///DIR, usb://LABEL, nfs://HOST/EXPORT, cifs://HOST/SHARE[/DIR], rsync://HOST[:PORT]/MODULE[/PATH], ssh://[USER@]HOST[:PORT]/DIR, [USER@]HOST:/DIR",
        Method::Borg => "file:///DIR, usb://LABEL, nfs://HOST/EXPORT, cifs://HOST/SHARE[/DIR], ssh://[USER@]HOST[:PORT]/DIR, [USER@]HOST:/DIR",
        Method::Restic => "file:///DIR, usb://LABEL, nfs://HOST/EXPORT, cifs://HOST/SHARE[/DIR], sftp://[USER@]HOST[:PORT]/DIR",
        Method::External | Method::None => "",
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

impl Remote {
    /// `[USER@]HOST[:PORT][/PATH]`: a url with its scheme removed (the
    /// path without its leading and trailing slashes).
    pub fn parse(rest: &str) -> Result<Remote> {
        let (a, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host, port) = authority(a)?;
        Ok(Remote {
            user,
            host,
            port,
            path: path.trim_end_matches('/').to_string(),
        })
    }
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
        if let Some(p) = url.strip_prefix("tape://") {
            if !p.starts_with('/') || p.len() < 2 {
                bail!("a tape:// target names the non-rewinding tape device (or a SIMH tape file), as in tape:///dev/nst0");
            }
            return Ok(Target::Tape(PathBuf::from(p)));
        }
        if let Some(rest) = url.strip_prefix("rsync://") {
            let r = Remote::parse(rest)?;
            if r.path.is_empty() {
                bail!("an rsync:// target names the daemon's module, as in rsync://backup.example/rear/HOST");
            }
            return Ok(Target::Rsyncd(r));
        }
        for (scheme, example) in [
            ("ssh://", "/srv/backup"),
            ("sftp://", "/srv/backup"),
            ("nfs://", "/export/backup"),
            ("cifs://", "/SHARE"),
        ] {
            if let Some(rest) = url.strip_prefix(scheme) {
                let mut r = Remote::parse(rest)?;
                if r.path.is_empty() {
                    bail!("needs the directory on the host, as in {scheme}backup.example{example}");
                }
                return Ok(match scheme {
                    "cifs://" => Target::Cifs(r),
                    _ => {
                        r.path = format!("/{}", r.path);
                        match scheme {
                            "ssh://" => Target::Ssh(r),
                            "sftp://" => Target::Sftp(r),
                            _ => Target::Nfs(r),
                        }
                    }
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
        bail!("unsupported backup target; use file:///DIR, usb://LABEL, nfs://HOST/EXPORT, cifs://HOST/SHARE, rsync://HOST/MODULE, ssh://[USER@]HOST/DIR, sftp://[USER@]HOST/DIR or tape:///dev/nst0")
    }

    /// A url `method` can use.
    pub fn parse_for(method: Method, url: &str) -> Result<Target> {
        use Method::*;
        let t = Target::parse(url)?;
        let ok = matches!(
            (&t, method),
            (
                Target::File(_) | Target::Usb { .. } | Target::Nfs(_) | Target::Cifs(_),
                Tar | Rsync | Borg | Restic
            ) | (Target::Rsyncd(_), Rsync)
                | (Target::Ssh(_), Rsync | Borg)
                | (Target::Sftp(_), Tar | Restic)
                | (Target::Tape(_), Tar)
        );
        if !ok {
            bail!(
                "not a place for method \"{method}\"; it takes {}",
                forms(method)
            );
        }
        Ok(t)
    }

    /// Whether `method` reaches this target through a mount (usb://, nfs://,
    /// cifs://, and sftp:// for tar) rather than by itself.
    pub fn is_mounted(&self, method: Method) -> bool {
        match self {
            Target::Usb { .. } | Target::Nfs(_) | Target::Cifs(_) => true,
            Target::Sftp(_) => method == Method::Tar,
            _ => false,
        }
    }

    /// The command that mounts this target at `mnt` for `method` (with
    /// `options`, as in `mount -o`), and the directory below `mnt` that
    /// holds `host`'s backups; None when the method reaches the target by
    /// itself. `dev` is a usb:// target's device. A CIFS `password=` option
    /// goes to mount.cifs in its environment (`PASSWD`), never on argv.
    pub fn mount(
        &self,
        method: Method,
        options: &str,
        host: &str,
        dev: &str,
        mnt: &Path,
    ) -> Option<(Call, PathBuf)> {
        if !self.is_mounted(method) {
            return None;
        }
        let mut password = None;
        let mut opts: Vec<String> = Vec::new();
        for o in options.split(',').filter(|o| !o.is_empty()) {
            match o.split_once('=') {
                Some((k, v))
                    if matches!(self, Target::Cifs(_))
                        && matches!(k.to_ascii_lowercase().as_str(), "password" | "pass") =>
                {
                    password = Some(v.to_string())
                }
                _ => opts.push(o.to_string()),
            }
        }
        let at = mnt.to_string_lossy().to_string();
        let (mut argv, source) = match self {
            Target::Usb { .. } => (vec!["mount".to_string()], dev.to_string()),
            Target::Nfs(r) | Target::Cifs(r) => {
                let nfs = matches!(self, Target::Nfs(_));
                if let Some(p) = r.port {
                    opts.push(format!("port={p}"));
                }
                if let Some(u) = r.user.as_ref().filter(|_| !nfs) {
                    opts.push(format!("username={u}"));
                }
                let fstype = if nfs { "nfs" } else { "cifs" };
                let source = if nfs {
                    format!("{}:{}", r.host, r.path)
                } else {
                    format!("//{}/{}", r.host, r.path)
                };
                (vec!["mount".into(), "-t".into(), fstype.into()], source)
            }
            Target::Sftp(r) => {
                let mut argv = vec!["sshfs".to_string()];
                if let Some(p) = r.port {
                    argv.extend(["-p".to_string(), p.to_string()]);
                }
                (argv, format!("{}:{}", r.user_host(), r.path))
            }
            _ => return None,
        };
        if !opts.is_empty() {
            argv.extend(["-o".to_string(), opts.join(",")]);
        }
        argv.extend([source, at]);
        let mut call = Call::argv(&argv);
        if let Some(p) = password {
            call = call.env_secret("PASSWD", &p);
        }
        let dir = match self {
            // ReaR's layout on a USB disk.
            Target::Usb { .. } => mnt.join("rear").join(host),
            _ => mnt.join(host),
        };
        Some((call, dir))
    }

    /// Where backups go on this machine: a usb://, nfs://, cifs:// target
    /// (and sftp:// for tar) is mounted at [`MOUNT_POINT`] unless something
    /// already is, and becomes its directory for `host`; any other is as it
    /// is.
    pub fn open(
        &self,
        exec: &dyn Exec,
        host: &str,
        method: Method,
        options: &str,
    ) -> Result<Target> {
        self.open_at(exec, host, method, options, Path::new(MOUNT_POINT))
    }

    /// [`Target::open`] with the mount point `mnt` (`push` mounts the
    /// output url beside a backup target).
    pub fn open_at(
        &self,
        exec: &dyn Exec,
        host: &str,
        method: Method,
        options: &str,
        mnt: &Path,
    ) -> Result<Target> {
        let at = mnt.display();
        let mounted = mounted_at(mnt);
        let dev = match self {
            Target::Usb { label } if !mounted => exec
                .run(&Call::argv(["blkid", "-L", label]))
                .with_context(|| {
                    format!("no file system labelled {label} (format a disk with `mkfs.ext4 -L {label}`)")
                })?
                .trim()
                .to_string(),
            _ => String::new(),
        };
        let Some((call, dir)) = self.mount(method, options, host, &dev, mnt) else {
            return Ok(self.clone());
        };
        if !mounted {
            // /dev/fuse appears with the module; nothing loads it on demand
            // in the rescue system.
            if call.program() == "sshfs" && !Path::new("/dev/fuse").exists() {
                exec.run(&Call::argv(["modprobe", "fuse"]))
                    .context("load the fuse module for sshfs")?;
            }
            std::fs::create_dir_all(mnt).with_context(|| format!("create {at}"))?;
            exec.run(&call)
                .with_context(|| match mnt == Path::new(MOUNT_POINT) {
                    true => format!("mount the backup target at {at}"),
                    false => format!("mount the target at {at}"),
                })?;
        }
        Ok(Target::File(dir))
    }
}

/// Whether something is mounted at [`MOUNT_POINT`].
pub fn mounted() -> bool {
    mounted_at(Path::new(MOUNT_POINT))
}

/// Whether something is mounted at `mnt`.
pub fn mounted_at(mnt: &Path) -> bool {
    let mnt = mnt.to_string_lossy();
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(&*mnt))
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
        assert_eq!(
            Target::parse("nfs://nas:2049/export/rear/").unwrap(),
            Target::Nfs(r(None, "nas", Some(2049), "/export/rear"))
        );
        assert_eq!(
            Target::parse("cifs://bk@nas/backup/rear").unwrap(),
            Target::Cifs(r(Some("bk"), "nas", None, "backup/rear"))
        );
        assert_eq!(
            Target::parse("tape:///dev/nst0").unwrap(),
            Target::Tape("/dev/nst0".into())
        );
    }

    fn mount(url: &str, method: &str, options: &str) -> Option<(String, PathBuf)> {
        Target::parse(url)
            .unwrap()
            .mount(
                method.parse().unwrap(),
                options,
                "web1",
                "/dev/sdb1",
                Path::new("/mnt/t"),
            )
            .map(|(call, dir)| (call.argv_lossy().join(" "), dir))
    }

    #[test]
    fn a_cifs_password_goes_to_the_environment_not_argv() {
        let (call, _) = Target::parse("cifs://bk@nas/backup")
            .unwrap()
            .mount(
                Method::Tar,
                "vers=3.0,password=s3cr,et",
                "web1",
                "",
                Path::new("/mnt/t"),
            )
            .unwrap();
        let line = call.argv_lossy().join(" ");
        assert!(!line.contains("s3cr"), "{line}");
        assert_eq!(
            line,
            "mount -t cifs -o vers=3.0,et,username=bk //nas/backup /mnt/t"
        );
        assert_eq!(call.env_value("PASSWD").unwrap(), "s3cr");
        assert!(!call.line().contains("s3cr"));
    }

    #[test]
    fn network_targets_are_mounted_with_their_port_user_and_options() {
        let m = |u: &str, meth: &str, o| {
            assert!(
                Target::parse(u).unwrap().is_mounted(meth.parse().unwrap()),
                "{u} {meth}"
            );
            mount(u, meth, o).unwrap()
        };
        assert_eq!(
            m("usb://REAR-000", "tar", ""),
            ("mount /dev/sdb1 /mnt/t".into(), "/mnt/t/rear/web1".into())
        );
        assert_eq!(
            m("nfs://nas/export/rear", "tar", "nfsvers=4.2"),
            (
                "mount -t nfs -o nfsvers=4.2 nas:/export/rear /mnt/t".into(),
                "/mnt/t/web1".into()
            )
        );
        assert_eq!(
            m("nfs://nas:20490/x", "borg", "").0,
            "mount -t nfs -o port=20490 nas:/x /mnt/t"
        );
        assert_eq!(
            m("cifs://bk@nas:4450/backup/rear", "tar", "credentials=/etc/c,vers=3.0").0,
            "mount -t cifs -o credentials=/etc/c,vers=3.0,port=4450,username=bk //nas/backup/rear /mnt/t"
        );
        assert_eq!(
            m("sftp://bk@nas:2222/srv/rear", "tar", "IdentityFile=/root/k"),
            (
                "sshfs -p 2222 -o IdentityFile=/root/k bk@nas:/srv/rear /mnt/t".into(),
                "/mnt/t/web1".into()
            )
        );
    }

    #[test]
    fn what_a_method_reaches_by_itself_is_not_mounted() {
        for (url, method) in [
            ("sftp://nas/srv", "restic"),
            ("file:///srv", "tar"),
            ("ssh://nas/srv", "borg"),
            ("rsync://nas/m", "rsync"),
        ] {
            assert_eq!(mount(url, method, "x"), None, "{url} {method}");
            assert!(!Target::parse(url)
                .unwrap()
                .is_mounted(method.parse().unwrap()));
        }
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (bad, says) in [
            ("file://relative", "absolute path"),
            ("usb://", "label"),
            ("ftp://x", "unsupported"),
            ("nfs://server", "directory on the host"),
            ("cifs://server/", "directory on the host"),
            ("rsync://host", "module"),
            ("ssh://host", "directory on the host"),
            ("ssh://host:99999/x", "port"),
            ("ssh://@host/x", "user name"),
            ("host:relative", "absolute"),
            ("/srv/backup", "unsupported"),
            ("tape://nst0", "tape:///dev/nst0"),
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
            ("tar", "sftp://h/d"),
            ("tar", "nfs://h/d"),
            ("borg", "cifs://h/s"),
            ("tar", "tape:///dev/nst0"),
        ] {
            assert!(
                Target::parse_for(method.parse().unwrap(), url).is_ok(),
                "{method} {url}"
            );
        }
        for (method, url) in [
            ("tar", "ssh://h/d"),
            ("tar", "rsync://h/m"),
            ("borg", "rsync://h/m"),
            ("borg", "sftp://h/d"),
            ("restic", "ssh://h/d"),
            ("rsync", "tape:///dev/nst0"),
            ("borg", "tape:///dev/nst0"),
        ] {
            let m: Method = method.parse().unwrap();
            let err = Target::parse_for(m, url).unwrap_err().to_string();
            assert!(
                err.contains(&format!("not a place for method {method:?}"))
                    && err.contains(forms(m)),
                "{err}"
            );
        }
    }
}
