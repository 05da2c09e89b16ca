//! `rear-build image --push URL` against real servers on loopback: nginx's
//! WebDAV over https (a self-signed certificate trusted through
//! output.ca_file, basic auth from output.credentials_file), sshd's sftp
//! (mounted with sshfs) and a directory (file://). Each pushes the output
//! twice (the second replaces the first), then makes a push fail and checks
//! that the exit status is non-zero, that the results pushed before are
//! byte for byte as they were, and that nothing else is left beside them.
//! The output has the PXE tree, so directories go too. Needs root
//! (mounts), nginx, openssl, curl, sshd and sshfs (ci/setup --test).

use rear_tests::servers::Server;
use rear_tests::{rear_build, sha256_file, Run};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PUSH_MOUNT: &str = "/run/rear-build/push";

fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// Every file and directory below `d`: relative path → sha256 (or "dir").
fn tree(d: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, d: &Path, m: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(d)
            .unwrap_or_else(|e| panic!("list {}: {e}", d.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if p.is_dir() {
                m.insert(rel, "dir".into());
                walk(base, &p, m);
            } else {
                m.insert(rel, sha256_file(&p));
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(d, d, &mut m);
    m
}

/// The names in `d`.
fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A scratch setup: store, output, a configuration directory.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let w = Work {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(w.conf()).unwrap();
        w
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn out(&self) -> PathBuf {
        self.path().join("out")
    }
    fn conf(&self) -> PathBuf {
        self.path().join("conf")
    }
    fn log(&self) -> PathBuf {
        self.path().join("run.log")
    }
    fn config(&self, text: &str) {
        fs::write(self.conf().join("config.toml"), text).unwrap();
    }

    /// `image --media pxe --push URL` (warm after the first; the PXE tree
    /// brings directories), with a file in the image holding `marker`, so
    /// each marker gives another initrd.
    fn image(&self, url: &str, marker: &str) -> Run {
        let inc = self.path().join("marker");
        fs::write(&inc, format!("{marker}\n")).unwrap();
        let inc = format!("{}:/etc/push-marker", inc.display());
        let (store, out, conf, log) = (
            self.path().join("store"),
            self.out(),
            self.conf(),
            self.log(),
        );
        let r = rear_build(
            &[
                "-c",
                conf.to_str().unwrap(),
                "--log",
                log.to_str().unwrap(),
                "image",
                "--store",
                store.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--media",
                "pxe",
                "--include",
                &inc,
                "--push",
                url,
            ],
            &[],
            None,
        );
        eprintln!(
            "--- image --push {url} ({marker}): exit {}\n{}",
            r.status, r.stderr
        );
        r
    }

    /// Pushes `marker` to `url`, which must succeed and leave exactly the
    /// output in `remote`/HOST; returns the output's tree.
    fn pushed(&self, url: &str, remote: &Path, marker: &str) -> BTreeMap<String, String> {
        let r = self.image(url, marker);
        assert_eq!(r.status, 0, "push of {marker} failed:\n{}", r.stderr);
        let want = tree(&self.out());
        for f in ["vmlinuz", "initrd.img", "manifest.json", "pxe"] {
            assert!(want.contains_key(f), "{f} is not in the output: {want:?}");
        }
        let files = want.values().filter(|v| *v != "dir").count();
        assert!(
            r.stderr.contains(&format!("pushed {files} files"))
                && r.stderr.contains(&format!("/{}/", host())),
            "{}",
            r.stderr
        );
        assert_eq!(
            tree(&remote.join(host())),
            want,
            "the pushed files differ from the output"
        );
        assert_eq!(
            names(remote),
            [host()],
            "something beside the host's directory"
        );
        want
    }
}

/// nginx with WebDAV: push, push again (replaced), an untrusted server
/// (no ca_file), a server refusing the large files (HTTP 413). The password
/// is in no argv, output or log.
#[test]
fn push_to_webdav_over_https() {
    let w = Work::new();
    let root = w.path().join("dav");
    let remote = root.join("images");
    fs::create_dir_all(&remote).unwrap();
    let canary = "push-canary-7Qx2";
    let (server, ca) = Server::nginx_dav(w.path(), &root, "bk", canary, "0");
    let cred = w.path().join("push.cred");
    fs::write(&cred, format!("bk:{canary}\n")).unwrap();
    fs::set_permissions(&cred, fs::Permissions::from_mode(0o600)).unwrap();
    let trusting = format!(
        "[output]\ncredentials_file = \"{}\"\nca_file = \"{}\"\n",
        cred.display(),
        ca.display()
    );
    w.config(&trusting);
    let watch = rear_tests::argv::Watch::start(&[canary], Duration::from_millis(5));
    let mut runs = Vec::new();

    let url = format!("https://127.0.0.1:{}/images", server.port);
    let first = w.pushed(&url, &remote, "one");
    let second = w.pushed(&url, &remote, "two");
    assert_ne!(
        first["initrd.img"], second["initrd.img"],
        "the second push replaced the first"
    );

    // The system's CAs do not know the test's: refused, nothing changed.
    w.config(&format!(
        "[output]\ncredentials_file = \"{}\"\n",
        cred.display()
    ));
    let r = w.image(&url, "three");
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("not trusted") && r.stderr.contains("output.ca_file"),
        "{}",
        r.stderr
    );
    assert_eq!(tree(&remote.join(host())), second);
    runs.push(r);

    // A wrong password: the server says so, nothing changed.
    let bad = w.path().join("bad.cred");
    fs::write(&bad, "bk:wrong\n").unwrap();
    fs::set_permissions(&bad, fs::Permissions::from_mode(0o600)).unwrap();
    w.config(&format!(
        "[output]\ncredentials_file = \"{}\"\nca_file = \"{}\"\n",
        bad.display(),
        ca.display()
    ));
    let r = w.image(&url, "three");
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);
    assert_eq!(tree(&remote.join(host())), second);
    runs.push(r);

    // A server that takes no body over 1 MiB: the kernel and initrd are
    // refused half-way; the results before stay, nothing else is left.
    drop(server);
    let (server, _) = Server::nginx_dav(w.path(), &root, "bk", canary, "1m");
    w.config(&trusting);
    let url = format!("https://127.0.0.1:{}/images", server.port);
    let r = w.image(&url, "four");
    assert_ne!(r.status, 0, "a refused upload must fail the command");
    assert!(
        r.stderr.contains("HTTP 413")
            && r.stderr.contains("client_max_body_size")
            && r.stderr
                .contains(&format!("nothing under {url}/{}/ changed", host())),
        "{}",
        r.stderr
    );
    assert_eq!(
        tree(&remote.join(host())),
        second,
        "the results before changed"
    );
    assert_eq!(names(&remote), [host()], "a failed push left something");
    runs.push(r);

    let seen = watch.stop();
    assert!(
        seen.hits.is_empty(),
        "the password was on a command line: {:?}",
        seen.hits
    );
    assert!(
        seen.samples > 10,
        "the argv watch looked only {} times",
        seen.samples
    );
    for r in &runs {
        assert!(!r.stderr.contains(canary) && !r.stdout.contains(canary));
    }
    let log = fs::read_to_string(w.log()).unwrap();
    assert!(log.contains("curl -q"), "the log has the curl commands");
    assert!(!log.contains(canary), "the password is in the log");
}

fn mounted(at: &str) -> bool {
    rear_backup::target::mounted_at(Path::new(at))
}

/// sftp through sshfs: push, push again (replaced: FUSE has no
/// RENAME_EXCHANGE, so this takes the two renames), unmounted after.
#[test]
fn push_over_sftp() {
    assert!(
        !mounted(PUSH_MOUNT),
        "{PUSH_MOUNT} is in use; this test mounts there"
    );
    let w = Work::new();
    let (server, key) = Server::sshd(w.path());
    let remote = w.path().join("remote");
    fs::create_dir_all(&remote).unwrap();
    let url = format!("sftp://root@127.0.0.1:{}{}", server.port, remote.display());
    w.config(&format!(
        "[output]\nurl = \"{url}\"\nmount_options = \"IdentityFile={},BatchMode=yes,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null\"\n",
        key.display()
    ));
    let first = w.pushed(&url, &remote, "one");
    assert!(!mounted(PUSH_MOUNT), "left mounted");
    let second = w.pushed(&url, &remote, "two");
    assert_ne!(first["initrd.img"], second["initrd.img"]);
    assert!(!mounted(PUSH_MOUNT), "left mounted");
}

/// Unmounts a test's tmpfs when dropped.
struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// file://: push, push again (replaced), then onto a file system with room
/// for one set of results but not two: the second fails half-way (no space
/// left) and changes nothing.
#[test]
fn push_to_a_directory() {
    let w = Work::new();
    let remote = w.path().join("dir/images");
    let url = format!("file://{}", remote.display());
    let first = w.pushed(&url, &remote, "one");
    let second = w.pushed(&url, &remote, "two");
    assert_ne!(first["initrd.img"], second["initrd.img"]);

    let small = w.path().join("small");
    fs::create_dir_all(&small).unwrap();
    let bytes: u64 = tree(&w.out())
        .iter()
        .filter(|(_, v)| *v != "dir")
        .map(|(p, _)| fs::metadata(w.out().join(p)).unwrap().len())
        .sum();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o"])
        .arg(format!("size={}k", bytes * 3 / 2 / 1024))
        .arg("tmpfs")
        .arg(&small)
        .status()
        .unwrap();
    assert!(st.success(), "mount a tmpfs (needs root)");
    let _unmount = Unmount(small.clone());
    let url = format!("file://{}", small.display());
    let kept = w.pushed(&url, &small, "three");
    let r = w.image(&url, "four");
    assert_ne!(r.status, 0, "a push onto a full disk must fail the command");
    assert!(
        r.stderr.contains("No space left on device")
            && r.stderr.contains(&format!(
                "nothing under {}/{} changed",
                small.display(),
                host()
            )),
        "{}",
        r.stderr
    );
    assert_eq!(
        tree(&small.join(host())),
        kept,
        "the results before changed"
    );
    assert_eq!(names(&small), [host()], "a failed push left something");
}
