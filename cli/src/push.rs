//! `push`: after `image` (and `mkbackup`) wrote the output directory, copy
//! its results (vmlinuz, initrd.img, the media, manifest.json) to
//! `[output] url` (or `--push URL`), into a directory named after the host,
//! so several machines can push to one place. The previous results there
//! are replaced only once every file arrived; a failed push leaves them as
//! they were and ends with an error naming what failed and where.
//!
//! Two ways there (docs/media.md, "Push"):
//! - a directory: `file:///DIR`, or `nfs://`, `cifs://`, `sftp://` mounted
//!   at [`MOUNT_POINT`] the way backup targets are (`rear_backup::Target`,
//!   sshfs for sftp). Copied into `.HOST.partial/` (files fsynced), then
//!   exchanged with `HOST/` in one `renameat2(RENAME_EXCHANGE)` where the
//!   file system has it, else by two renames (`HOST/` aside to
//!   `.HOST.old/`, the new one in, the old one removed);
//! - WebDAV over https, through curl run by rear-exec: MKCOL and PUT into
//!   `.HOST.partial/`, then MOVE `HOST/` aside, MOVE the new one in, DELETE
//!   the old one. The password goes to curl on its standard input (`-K -`),
//!   never on argv or into a log; the server is verified against the
//!   system's CAs or `output.ca_file`, curl's own ~/.curlrc is not read
//!   (`-q`), and only https is spoken (`--proto =https`).

use crate::config::Output;
use crate::say;
use anyhow::{bail, Context, Result};
use rear_backup::{Method, Remote, Target};
use rear_exec::{Call, Exec, System};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where an nfs://, cifs:// or sftp:// output url is mounted while pushing
/// (not the backup target's: `mkbackup` may hold that one).
pub const MOUNT_POINT: &str = "/run/rear-build/push";

/// The forms of `[output] url`, for messages.
pub const FORMS: &str = "file:///DIR, https://HOST[:PORT]/PATH (WebDAV), sftp://[USER@]HOST[:PORT]/DIR, nfs://HOST[:PORT]/EXPORT[/DIR], cifs://[USER@]HOST[:PORT]/SHARE[/DIR]";

/// Where results go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// A directory, here or mounted.
    Dir(Target),
    /// A WebDAV collection over https (`Remote::path` without slashes
    /// around it).
    Dav(Remote),
}

impl Dest {
    pub fn parse(url: &str) -> Result<Dest> {
        if let Some(rest) = url.strip_prefix("https://") {
            let authority = rest.split('/').next().unwrap_or_default();
            if authority.contains('@') {
                bail!("an https url carries no user name or password (it would be in logs, in the configuration the image carries, and in error messages): put USER:PASSWORD in a file (mode 0600) and name it in output.credentials_file");
            }
            let r = Remote::parse(rest)?;
            if r.path.contains(['?', '#']) {
                bail!("an https url for WebDAV names a collection, without ? or #");
            }
            return Ok(Dest::Dav(r));
        }
        if url.starts_with("http://") {
            bail!("plain http would carry the rescue image (and the password) unencrypted to a server nobody verified: use https://");
        }
        if ["file://", "sftp://", "nfs://", "cifs://"]
            .iter()
            .any(|s| url.starts_with(s))
        {
            return Ok(Dest::Dir(Target::parse(url)?));
        }
        bail!("not a place to push to; use {FORMS}")
    }

    /// Whether it is mounted (nfs://, cifs://, sftp://).
    pub fn is_mounted(&self) -> bool {
        // Results are plain files in a directory, as tar's backups are:
        // the same urls are mounted the same way.
        matches!(self, Dest::Dir(t) if t.is_mounted(Method::Tar))
    }
}

/// One file or directory to push, relative to the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Item {
    rel: PathBuf,
    dir: bool,
    size: u64,
}

/// `paths` (in `out`) and, for directories, all below them, sorted; files
/// of an interrupted write (`*.partial`) are left out.
fn items(out: &Path, paths: &[PathBuf]) -> Result<Vec<Item>> {
    fn walk(out: &Path, rel: &Path, v: &mut Vec<Item>) -> Result<()> {
        let p = out.join(rel);
        let m = fs::metadata(&p).with_context(|| format!("stat {}", p.display()))?;
        if !m.is_dir() {
            v.push(Item {
                rel: rel.to_path_buf(),
                dir: false,
                size: m.len(),
            });
            return Ok(());
        }
        v.push(Item {
            rel: rel.to_path_buf(),
            dir: true,
            size: 0,
        });
        let mut names = fs::read_dir(&p)
            .with_context(|| format!("list {}", p.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()
            .with_context(|| format!("list {}", p.display()))?;
        names.sort();
        for n in names
            .iter()
            .filter(|n| !n.to_string_lossy().ends_with(".partial"))
        {
            walk(out, &rel.join(n), v)?;
        }
        Ok(())
    }
    let mut v = Vec::new();
    for p in paths {
        let rel = p
            .strip_prefix(out)
            .with_context(|| format!("{} is not in {}", p.display(), out.display()))?;
        walk(out, rel, &mut v)?;
    }
    Ok(v)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Copies `paths` (the results of a build in `out`) to `cfg`'s url, into
/// `HOST/` there; nothing when no url is set.
pub fn push(cfg: &Output, out: &Path, paths: &[PathBuf], host: &str) -> Result<()> {
    let Some(url) = cfg.url() else {
        return Ok(());
    };
    // A --push url has not been through the configuration's checks.
    cfg.validate()?;
    let shown = rear_exec::redact(url, &[]);
    let at = format!("{}/{host}/", shown.trim_end_matches('/'));
    let dest = Dest::parse(url)?;
    let items = items(out, paths)?;
    let files = items.iter().filter(|i| !i.dir).count();
    let bytes: u64 = items.iter().map(|i| i.size).sum();
    say!("pushing {files} files ({:.1} MiB) to {at}", mib(bytes));
    let t = Instant::now();
    match &dest {
        Dest::Dir(target) => to_dir(cfg, target, host, out, &items),
        Dest::Dav(remote) => {
            Dav::new(cfg, remote, &System).and_then(|dav| dav.push(host, out, &items))
        }
    }
    .with_context(|| {
        format!(
            "push to {at} failed (the image in {} is whole; fix the cause and run `rear-build image` again, or copy it by hand)",
            out.display()
        )
    })?;
    say!(
        "pushed {files} files ({:.1} MiB) to {at} in {:.1} s",
        mib(bytes),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// To a directory: `file://` as it is, the others mounted at
/// [`MOUNT_POINT`] for the push and unmounted after.
fn to_dir(cfg: &Output, target: &Target, host: &str, out: &Path, items: &[Item]) -> Result<()> {
    let mnt = Path::new(MOUNT_POINT);
    let mounts = target.is_mounted(Method::Tar);
    // What is mounted there may be another url: never push into it.
    if mounts && rear_backup::target::mounted_at(mnt) {
        bail!("something is mounted at {MOUNT_POINT} already (another push running, or one that stopped): unmount it (umount {MOUNT_POINT}) and run again");
    }
    let place = target.open_at(&System, host, Method::Tar, &cfg.mount_options, mnt)?;
    let result = match (&place, target) {
        (Target::File(d), Target::File(_)) => replace_dir(&d.join(host), out, items),
        (Target::File(d), _) => replace_dir(d, out, items),
        (other, _) => Err(anyhow::anyhow!("{other:?} is not a directory")),
    };
    // Only what this push mounted is unmounted (a file:// push leaves
    // alone what another run mounted there).
    if !mounts || !rear_backup::target::mounted_at(mnt) {
        return result;
    }
    // Unmounting writes out what the share or sshfs still holds.
    let unmounted = System
        .run(&Call::new("umount").arg(mnt))
        .with_context(|| format!("unmount {MOUNT_POINT}"));
    match (result, unmounted) {
        (Ok(()), u) => u.map(|_| ()),
        (Err(e), Err(u)) => {
            log::warn!("{u:#}");
            Err(e)
        }
        (Err(e), Ok(_)) => Err(e),
    }
}

/// Makes `dest` hold exactly `items` of `out`: staged in `.NAME.partial`
/// beside it, swapped in when whole.
fn replace_dir(dest: &Path, out: &Path, items: &[Item]) -> Result<()> {
    let parent = dest.parent().context("the destination has no parent")?;
    let name = dest
        .file_name()
        .context("the destination has no name")?
        .to_string_lossy();
    let partial = parent.join(format!(".{name}.partial"));
    let old = parent.join(format!(".{name}.old"));
    fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    // A push stopped between its two renames left the results before it
    // aside: they go back (or, when newer ones made it, away).
    if old.symlink_metadata().is_ok() {
        if dest.symlink_metadata().is_err() {
            fs::rename(&old, dest)
                .with_context(|| format!("move {} back to {}", old.display(), dest.display()))?;
        } else {
            fs::remove_dir_all(&old).with_context(|| format!("remove {}", old.display()))?;
        }
    }
    if partial.symlink_metadata().is_ok() {
        fs::remove_dir_all(&partial)
            .with_context(|| format!("remove {} (left by an earlier push)", partial.display()))?;
    }
    if let Err(e) = stage_dir(&partial, out, items) {
        if let Err(r) = fs::remove_dir_all(&partial) {
            log::warn!("remove {}: {r}", partial.display());
        }
        return Err(e.context(format!(
            "nothing under {} changed: the results pushed before, if any, are as they were",
            dest.display()
        )));
    }
    swap(&partial, dest, &old)?;
    sync_dir(parent);
    Ok(())
}

fn stage_dir(partial: &Path, out: &Path, items: &[Item]) -> Result<()> {
    let mkdir = |d: &Path| {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(d)
            .with_context(|| format!("create {}", d.display()))
    };
    mkdir(partial)?;
    for it in items {
        let to = partial.join(&it.rel);
        if it.dir {
            mkdir(&to)?;
            continue;
        }
        let from = out.join(&it.rel);
        let mut src = fs::File::open(&from).with_context(|| format!("open {}", from.display()))?;
        // 0600, as in the output directory: the initrd may hold keys.
        let mut dst = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&to)
            .with_context(|| format!("create {}", to.display()))?;
        io::copy(&mut src, &mut dst)
            .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
        dst.sync_all()
            .with_context(|| format!("write out {}", to.display()))?;
        log::info!("pushed {} ({:.1} MiB)", it.rel.display(), mib(it.size));
    }
    for d in items.iter().filter(|i| i.dir) {
        sync_dir(&partial.join(&d.rel));
    }
    sync_dir(partial);
    Ok(())
}

/// Writes out a directory's entries; a file system without fsync of
/// directories (some FUSE ones) writes them out itself.
fn sync_dir(d: &Path) {
    if let Err(e) = fs::File::open(d).and_then(|f| f.sync_all()) {
        log::debug!("fsync {}: {e}", d.display());
    }
}

/// `renameat2(a, b, RENAME_EXCHANGE)`: both exist, and swap in one step.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    match r {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Puts the whole `partial` at `dest`, the previous `dest` (if any) gone.
fn swap(partial: &Path, dest: &Path, old: &Path) -> Result<()> {
    if dest.symlink_metadata().is_err() {
        return fs::rename(partial, dest)
            .with_context(|| format!("rename {} to {}", partial.display(), dest.display()));
    }
    match exchange(partial, dest) {
        Ok(()) => {
            // `partial` holds the previous results now.
            if let Err(e) = fs::remove_dir_all(partial) {
                log::warn!(
                    "remove the previous results {}: {e}; the next push removes them",
                    partial.display()
                );
            }
            return Ok(());
        }
        // NFS, CIFS and FUSE file systems have no exchange: two renames.
        Err(e)
            if [libc::EINVAL, libc::ENOSYS, libc::EOPNOTSUPP]
                .contains(&e.raw_os_error().unwrap_or(0)) => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "exchange {} with {}; nothing under {} changed",
                    partial.display(),
                    dest.display(),
                    dest.display()
                )
            })
        }
    }
    fs::rename(dest, old).with_context(|| {
        format!(
            "move the previous results {} aside to {}; nothing under {} changed",
            dest.display(),
            old.display(),
            dest.display()
        )
    })?;
    if let Err(e) = fs::rename(partial, dest) {
        let back = fs::rename(old, dest);
        let what = format!("rename {} to {}", partial.display(), dest.display());
        return Err(e).with_context(|| match back {
            Ok(()) => format!("{what}; the previous results are back in place"),
            Err(b) => format!(
                "{what}; and the previous results could not be moved back ({b}): they are in {}, move them to {} by hand",
                old.display(),
                dest.display()
            ),
        });
    }
    if let Err(e) = fs::remove_dir_all(old) {
        log::warn!(
            "remove the previous results {}: {e}; the next push removes them",
            old.display()
        );
    }
    Ok(())
}

/// HTTP basic credentials for the WebDAV server.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Creds {
    user: String,
    password: String,
}

impl Creds {
    /// From `file` (mode 0600, root's): `USER:PASSWORD` on its first line,
    /// or netrc lines, the entry for `host` (else `default`).
    fn read(file: &Path, host: &str) -> Result<Creds> {
        rear_exec::check_secret_file(file).map_err(anyhow::Error::msg)?;
        let text = fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
        Creds::parse(&text, host)
            .with_context(|| format!("output.credentials_file {}", file.display()))
    }

    fn parse(text: &str, host: &str) -> Result<Creds> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if matches!(words.first(), Some(&"machine" | &"default")) {
            return Creds::netrc(&words, host);
        }
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .context("is empty: write USER:PASSWORD in it")?;
        let (user, password) = line.split_once(':').context(
            "holds neither USER:PASSWORD nor netrc lines (machine HOST login USER password PASSWORD)",
        )?;
        if user.is_empty() || password.is_empty() {
            bail!("USER:PASSWORD with an empty user or password");
        }
        Ok(Creds {
            user: user.into(),
            password: password.into(),
        })
    }

    /// netrc's words: `machine NAME` or `default`, each followed by
    /// `login`, `password` (and `account`, ignored) with their values.
    fn netrc(words: &[&str], host: &str) -> Result<Creds> {
        // (machine, None for default), login, password
        let mut entries: Vec<(Option<&str>, Option<&str>, Option<&str>)> = Vec::new();
        let mut w = words.iter();
        while let Some(word) = w.next() {
            match *word {
                "machine" => {
                    let name = w.next().context("netrc: `machine` without a name")?;
                    entries.push((Some(name), None, None));
                }
                "default" => entries.push((None, None, None)),
                key @ ("login" | "password" | "account") => {
                    let v = w
                        .next()
                        .with_context(|| format!("netrc: `{key}` without a value"))?;
                    let e = entries
                        .last_mut()
                        .with_context(|| format!("netrc: `{key}` before any `machine`"))?;
                    match key {
                        "login" => e.1 = Some(v),
                        "password" => e.2 = Some(v),
                        _ => {}
                    }
                }
                // Never echoed: it may be a password with a space in it.
                _ => bail!("netrc: a word that is not machine, default, login, password or account (macdef is not supported)"),
            }
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let e = entries
            .iter()
            .find(|e| e.0 == Some(bare))
            .or_else(|| entries.iter().find(|e| e.0.is_none()))
            .with_context(|| format!("netrc: no `machine {bare}` and no `default`"))?;
        match (e.1, e.2) {
            (Some(u), Some(p)) => Ok(Creds {
                user: u.into(),
                password: p.into(),
            }),
            _ => bail!(
                "netrc: the entry for {} needs both login and password",
                e.0.unwrap_or("default")
            ),
        }
    }

    /// curl's configuration (`-K -`): `user = "USER:PASSWORD"`, quoted.
    fn curl_config(&self) -> String {
        let q = format!("{}:{}", self.user, self.password)
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        format!("user = \"{q}\"\n")
    }
}

/// A path segment for a url: unreserved characters as they are, any other
/// byte %-encoded.
fn encode(segment: &str) -> String {
    let mut s = String::new();
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                s.push(b as char)
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

/// What an HTTP status means for a push.
fn explain(code: u16) -> &'static str {
    match code {
        401 => "unauthorized: the server refused the credentials (output.credentials_file)",
        403 => "forbidden: the server does not let this user write there",
        404 => "not found",
        405 => "method not allowed: does the server take WebDAV there (nginx: dav_methods PUT DELETE MKCOL MOVE)?",
        409 => "conflict: the collection above it does not exist on the server",
        412 => "precondition failed",
        413 => "the file is larger than the server accepts (nginx: client_max_body_size)",
        507 => "insufficient storage: the server has no room for it",
        500..=599 => "server error (see the server's log)",
        _ => "unexpected",
    }
}

/// A WebDAV collection reached with curl.
struct Dav<'a> {
    /// `https://HOST[:PORT]/PATH/`.
    base: String,
    creds: Option<Creds>,
    ca: Option<PathBuf>,
    exec: &'a dyn Exec,
}

impl<'a> Dav<'a> {
    fn new(cfg: &Output, r: &Remote, exec: &'a dyn Exec) -> Result<Dav<'a>> {
        let creds = match cfg.credentials_file.as_str() {
            "" => None,
            f => Some(Creds::read(Path::new(f), &r.host)?),
        };
        let ca = (!cfg.ca_file.is_empty()).then(|| PathBuf::from(&cfg.ca_file));
        if let Some(ca) = &ca {
            fs::metadata(ca).with_context(|| format!("output.ca_file {}", ca.display()))?;
        }
        let port = r.port.map(|p| format!(":{p}")).unwrap_or_default();
        let path = match r.path.trim_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        Ok(Dav {
            base: format!("https://{}{port}/{path}", r.host),
            creds,
            ca,
            exec,
        })
    }

    /// The curl command for one request: its HTTP status on stdout.
    fn call(&self, method: &str, url: &str, headers: &[String], upload: Option<&Path>) -> Call {
        // -q first: root's ~/.curlrc (an `insecure`, a proxy) is not read.
        let mut c = Call::new("curl").args([
            "-q",
            "--silent",
            "--show-error",
            "--globoff",
            "--proto",
            "=https",
            "--connect-timeout",
            "30",
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_code}",
        ]);
        if let Some(ca) = &self.ca {
            c = c.arg("--cacert").arg(ca);
        }
        c = match upload {
            Some(f) => c.arg("--upload-file").arg(f),
            None => c.args(["--request", method]),
        };
        for h in headers {
            c = c.args(["--header", h]);
        }
        if let Some(cr) = &self.creds {
            c = c
                .args(["--config", "-"])
                .stdin(cr.curl_config().into_bytes())
                .secret(&cr.password);
        }
        c.arg(url)
    }

    /// Sends one request; its HTTP status, one of `ok`, or an error that
    /// says what the status means.
    fn expect(
        &self,
        method: &str,
        url: &str,
        headers: &[String],
        upload: Option<&Path>,
        ok: &[u16],
    ) -> Result<u16> {
        let out = self.exec.output(&self.call(method, url, headers, upload))?;
        if out.code != 0 {
            let hint = match out.code {
                60 => ": the server's certificate is not trusted; set output.ca_file to the CA certificate that signed it",
                6 | 7 | 28 => ": the server cannot be reached",
                _ => "",
            };
            // Its first line says it; the rest is curl's general advice.
            let said = out.stderr.lines().next().unwrap_or_default().trim();
            bail!(
                "{method} {url}: curl failed (exit {}): {said}{hint}",
                out.code
            );
        }
        let code: u16 = out.stdout.trim().parse().with_context(|| {
            format!(
                "{method} {url}: curl printed no HTTP status ({:?})",
                out.stdout
            )
        })?;
        if !ok.contains(&code) {
            bail!("{method} {url}: HTTP {code}, {}", explain(code));
        }
        Ok(code)
    }

    fn destination(url: &str, overwrite: bool) -> Vec<String> {
        vec![
            format!("Destination: {url}"),
            format!("Overwrite: {}", if overwrite { "T" } else { "F" }),
        ]
    }

    fn delete(&self, url: &str) -> Result<u16> {
        let depth = ["Depth: infinity".to_string()];
        self.expect("DELETE", url, &depth, None, &[200, 204, 404])
    }

    fn push(&self, host: &str, out: &Path, items: &[Item]) -> Result<()> {
        let h = encode(host);
        let dest = format!("{}{h}/", self.base);
        let partial = format!("{}.{h}.partial/", self.base);
        let old = format!("{}.{h}.old/", self.base);
        // What a push stopped half-way left: the results before it go
        // back in place when nothing took it, else away.
        let tidy = || -> Result<()> {
            self.expect(
                "MOVE",
                &old,
                &Self::destination(&dest, false),
                None,
                &[201, 204, 404, 412],
            )?;
            self.delete(&old)?;
            self.delete(&partial)?;
            Ok(())
        };
        tidy().with_context(|| format!("nothing under {dest} changed"))?;
        if let Err(e) = self.stage(&partial, out, items) {
            if let Err(d) = self.delete(&partial) {
                log::warn!("{d:#}");
            }
            return Err(e.context(format!(
                "nothing under {dest} changed: the results pushed before, if any, are as they were"
            )));
        }
        let had = self.expect(
            "MOVE",
            &dest,
            &Self::destination(&old, true),
            None,
            &[201, 204, 404],
        );
        let had = match had {
            Ok(code) => code != 404,
            Err(e) => {
                if let Err(d) = self.delete(&partial) {
                    log::warn!("{d:#}");
                }
                return Err(e.context(format!("nothing under {dest} changed")));
            }
        };
        if let Err(e) = self.expect(
            "MOVE",
            &partial,
            &Self::destination(&dest, false),
            None,
            &[201, 204],
        ) {
            if !had {
                return Err(e);
            }
            let back = self.expect(
                "MOVE",
                &old,
                &Self::destination(&dest, false),
                None,
                &[201, 204],
            );
            return Err(match back {
                Ok(_) => e.context("the previous results are back in place"),
                Err(b) => e.context(format!(
                    "and the previous results could not be moved back ({b:#}): they are at {old}; move them to {dest}"
                )),
            });
        }
        if had {
            if let Err(e) = self.delete(&old) {
                log::warn!("remove the previous results: {e:#}; the next push removes them");
            }
        }
        Ok(())
    }

    fn stage(&self, partial: &str, out: &Path, items: &[Item]) -> Result<()> {
        let url = |rel: &Path, dir: bool| {
            let mut u = partial.to_string();
            let parts: Vec<String> = rel
                .components()
                .map(|c| encode(&c.as_os_str().to_string_lossy()))
                .collect();
            u.push_str(&parts.join("/"));
            if dir {
                u.push('/');
            }
            u
        };
        self.expect("MKCOL", partial, &[], None, &[201])
            .with_context(|| format!("make {partial} (does {} exist?)", self.base))?;
        for it in items {
            if it.dir {
                self.expect("MKCOL", &url(&it.rel, true), &[], None, &[201])?;
            } else {
                let from = out.join(&it.rel);
                self.expect(
                    "PUT",
                    &url(&it.rel, false),
                    &[],
                    Some(&from),
                    &[200, 201, 204],
                )?;
                log::info!("pushed {} ({:.1} MiB)", it.rel.display(), mib(it.size));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rear_exec::{Fake, Output as Out};

    #[test]
    fn push_urls_parse_and_refuse_what_they_must() {
        assert_eq!(
            Dest::parse("https://dav.example:8443/rear/images/").unwrap(),
            Dest::Dav(Remote {
                user: None,
                host: "dav.example".into(),
                port: Some(8443),
                path: "rear/images".into()
            })
        );
        assert_eq!(
            Dest::parse("file:///srv/images").unwrap(),
            Dest::Dir(Target::File("/srv/images".into()))
        );
        for (url, mounted) in [
            ("nfs://nas/export/rear", true),
            ("cifs://bk@nas/share/dir", true),
            ("sftp://bk@nas:2222/srv/rear", true),
            ("file:///srv", false),
            ("https://h/", false),
        ] {
            assert_eq!(Dest::parse(url).unwrap().is_mounted(), mounted, "{url}");
        }
        for (url, says) in [
            ("https://bk:hunter2@h/x", "put USER:PASSWORD in a file"),
            ("https://bk@h/x", "output.credentials_file"),
            ("http://h/x", "use https://"),
            ("usb://REAR-000", "not a place to push to"),
            ("rsync://h/m", "not a place to push to"),
            ("https:///x", "no host"),
            ("nfs://h", "directory on the host"),
        ] {
            let e = format!("{:#}", Dest::parse(url).unwrap_err());
            assert!(e.contains(says) && !e.contains("hunter2"), "{url}: {e}");
        }
    }

    #[test]
    fn credentials_as_user_password_or_netrc() {
        let c = |t: &str| Creds::parse(t, "dav.example");
        let want = Creds {
            user: "bk".into(),
            password: "p:a ss\"w\\d".into(),
        };
        assert_eq!(c("\n# push\nbk:p:a ss\"w\\d\n").unwrap(), want);
        assert_eq!(
            want.curl_config(),
            "user = \"bk:p:a ss\\\"w\\\\d\"\n",
            "quoted for curl's -K"
        );
        assert_eq!(
            c("machine other login x password y\nmachine dav.example login bk password s3\n")
                .unwrap(),
            Creds {
                user: "bk".into(),
                password: "s3".into()
            }
        );
        assert_eq!(
            c("machine other login x password y\ndefault login d password z").unwrap(),
            Creds {
                user: "d".into(),
                password: "z".into()
            }
        );
        assert_eq!(
            Creds::parse("machine ::1 login a password b", "[::1]")
                .unwrap()
                .user,
            "a"
        );
        for (t, says) in [
            ("", "is empty"),
            ("justapassword", "neither USER:PASSWORD"),
            (":secret1", "empty user"),
            (
                "machine other login x password secret1",
                "no `machine dav.example`",
            ),
            ("machine dav.example login x", "needs both"),
            (
                "machine dav.example login x password secret1 macdef y",
                "not machine",
            ),
        ] {
            let e = format!("{:#}", c(t).unwrap_err());
            assert!(e.contains(says) && !e.contains("secret1"), "{t}: {e}");
        }
    }

    /// A directory push replaces the host's directory whole, and tidies
    /// what a push stopped half-way left (a crash between the renames).
    #[test]
    fn a_directory_is_replaced_whole_and_leftovers_are_tidied() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        fs::create_dir_all(out.join("pxe")).unwrap();
        let set = |v: &str| {
            fs::write(out.join("vmlinuz"), v).unwrap();
            fs::write(out.join("pxe/x"), v).unwrap();
            items(&out, &[out.join("vmlinuz"), out.join("pxe")]).unwrap()
        };
        let at = d.path().join("srv");
        let dest = at.join("web1");
        let read = |p: &str| fs::read_to_string(dest.join(p)).unwrap();
        replace_dir(&dest, &out, &set("one")).unwrap();
        assert_eq!(
            (read("vmlinuz"), read("pxe/x")),
            ("one".into(), "one".into())
        );
        fs::write(dest.join("stale"), "").unwrap();
        replace_dir(&dest, &out, &set("two")).unwrap();
        assert_eq!(read("pxe/x"), "two");
        assert!(
            !dest.join("stale").exists(),
            "the old set is gone as a whole"
        );
        assert_eq!(fs::read_dir(&at).unwrap().count(), 1);
        // Stopped after the old set went aside: it is put back first.
        fs::rename(&dest, at.join(".web1.old")).unwrap();
        fs::create_dir(at.join(".web1.partial")).unwrap();
        let mut bad = set("three");
        bad.push(Item {
            rel: "missing".into(),
            dir: false,
            size: 0,
        });
        let e = format!("{:#}", replace_dir(&dest, &out, &bad).unwrap_err());
        assert!(e.contains("nothing under") && e.contains("missing"), "{e}");
        assert_eq!(read("pxe/x"), "two", "put back, and kept on failure");
        let mut left: Vec<_> = fs::read_dir(&at)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["web1"]);
    }

    /// Fuzz test of the credentials file's reader (docs/fuzz.md): no input
    /// panics; what it takes has a user and a password, and a refusal
    /// never quotes the file.
    #[test]
    fn fuzz_credentials_files() {
        use rear_tests::fuzz;
        let examples = [
            "bk:s3cret\n",
            "# push\nbk:pa:ss\n",
            "machine dav.example login bk password s3cret\n",
            "machine other login x password y\ndefault login d password z account a\n",
        ]
        .map(String::from)
        .to_vec();
        fuzz::run(
            "credentials file",
            fuzz::text(examples),
            |t| match Creds::parse(&t, "dav.example") {
                Ok(c) => {
                    proptest::prop_assert!(!c.user.is_empty() && !c.password.is_empty());
                    Ok(true)
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    for w in t.split_whitespace().filter(|w| w.len() > 12) {
                        proptest::prop_assert!(!msg.contains(w), "quotes {w:?}: {msg}");
                    }
                    Ok(false)
                }
            },
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode("web-1.example_x~"), "web-1.example_x~");
        assert_eq!(encode("a b/c%"), "a%20b%2Fc%25");
    }

    fn dav<'a>(fake: &'a Fake, creds: bool) -> Dav<'a> {
        Dav {
            base: "https://dav:8443/rear/".into(),
            creds: creds.then(|| Creds {
                user: "bk".into(),
                password: "hunter2".into(),
            }),
            ca: Some("/etc/ca.pem".into()),
            exec: fake,
        }
    }

    #[test]
    fn the_password_goes_to_curl_on_stdin_never_argv() {
        let fake = Fake::new();
        let c = dav(&fake, true).call("MKCOL", "https://dav:8443/rear/x/", &[], None);
        let line = c.argv_lossy().join(" ");
        assert!(!line.contains("hunter2"), "{line}");
        assert!(
            line.starts_with("curl -q ")
                && line.contains("--proto =https")
                && line.contains("--cacert /etc/ca.pem")
                && line.contains("--config -")
                && !line.contains("insecure")
                && !line.contains(" -k"),
            "{line}"
        );
        assert_eq!(
            String::from_utf8(c.input().unwrap().to_vec()).unwrap(),
            "user = \"bk:hunter2\"\n"
        );
        assert!(!c.redact("said hunter2").contains("hunter2"));
    }

    /// The order of requests, and that a failed PUT leaves the final
    /// collection alone and removes the staged one.
    #[test]
    fn webdav_stages_then_moves_and_a_failure_touches_nothing_final() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("pxe")).unwrap();
        fs::write(d.path().join("vmlinuz"), "k").unwrap();
        fs::write(d.path().join("pxe/a b"), "p").unwrap();
        let items = items(d.path(), &[d.path().join("vmlinuz"), d.path().join("pxe")]).unwrap();
        let requests = |fake: &Fake| -> Vec<String> {
            fake.calls()
                .iter()
                .map(|c| {
                    let a = c.argv_lossy();
                    let method = match a.iter().position(|x| x == "--request") {
                        Some(i) => a[i + 1].clone(),
                        None => "PUT".into(),
                    };
                    format!("{method} {}", a.last().unwrap())
                })
                .collect()
        };
        // DELETE answers 204, any other request 201.
        let status = |c: &Call| match c.argv_lossy().iter().any(|a| a == "DELETE") {
            true => "204",
            false => "201",
        };
        let fake = Fake::answering(move |c| Ok(Out::ok(status(c))));
        dav(&fake, false).push("web1", d.path(), &items).unwrap();
        let b = "https://dav:8443/rear/";
        assert_eq!(
            requests(&fake),
            [
                format!("MOVE {b}.web1.old/"),
                format!("DELETE {b}.web1.old/"),
                format!("DELETE {b}.web1.partial/"),
                format!("MKCOL {b}.web1.partial/"),
                format!("PUT {b}.web1.partial/vmlinuz"),
                format!("MKCOL {b}.web1.partial/pxe/"),
                format!("PUT {b}.web1.partial/pxe/a%20b"),
                format!("MOVE {b}web1/"),
                format!("MOVE {b}.web1.partial/"),
                format!("DELETE {b}.web1.old/"),
            ]
        );
        let fake = Fake::answering(move |c| {
            let a = c.argv_lossy();
            Ok(Out::ok(
                if a.iter().any(|x| x == "--upload-file") && a.last().unwrap().ends_with("a%20b") {
                    "413"
                } else {
                    status(c)
                },
            ))
        });
        let e = format!(
            "{:#}",
            dav(&fake, false)
                .push("web1", d.path(), &items)
                .unwrap_err()
        );
        assert!(
            e.contains("PUT https://dav:8443/rear/.web1.partial/pxe/a%20b: HTTP 413")
                && e.contains("client_max_body_size")
                && e.contains("nothing under https://dav:8443/rear/web1/ changed"),
            "{e}"
        );
        let r = requests(&fake);
        assert_eq!(r.last().unwrap(), &format!("DELETE {b}.web1.partial/"));
        assert!(
            !r.iter().any(|x| x.starts_with(&format!("MOVE {b}web1/"))),
            "{r:?}"
        );
    }
}
