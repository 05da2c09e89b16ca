//! What every backend's test shares: a runner for the real tools, a tree
//! with every awkward kind of file, and the checks a round trip must pass.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use rear_backup::{restore_and_verify, Backend, Call, Exec, Spec};
use std::fs;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the real tools, with `env` added to every call (to keep a tool's
/// caches and security records in the test's own directory).
#[derive(Default)]
pub struct Real {
    pub env: Vec<(String, String)>,
}

impl Exec for Real {
    fn execute(&self, c: &Call) -> std::io::Result<rear_exec::Output> {
        let mut c = c.clone();
        // The call's own variables win, as they were set after these.
        let own: Vec<_> = c.env_vars().to_vec();
        for (k, v) in &self.env {
            if !own.iter().any(|(n, _)| n == k.as_str()) {
                c = c.env(k, v);
            }
        }
        rear_exec::System.execute(&c)
    }
}

/// A backup directory as `generation` leaves it is private whatever the
/// umask: itself and each generation's directory 0700, the pointer, the
/// manifests and archives 0600 (an rsync tree keeps its files' modes
/// inside its generation's 0700 directory).
pub fn assert_private(dir: &Path) {
    let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    let mut gens = 0;
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == rear_backup::generation::POINTER {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        } else if name.starts_with(rear_backup::generation::PREFIX) {
            gens += 1;
            assert_eq!(mode(&p), 0o700, "{}", p.display());
            for f in fs::read_dir(&p).unwrap() {
                let f = f.unwrap().path();
                if f.is_file() {
                    assert_eq!(mode(&f), 0o600, "{}", f.display());
                }
            }
        }
    }
    assert!(gens > 0, "no generation in {}", dir.display());
}

/// The umask most systems run with, which would leave files 0644.
pub fn usual_umask() {
    // SAFETY: umask only sets the process's file mode mask.
    unsafe { libc::umask(0o022) };
}

pub fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}

/// Names with spaces and newlines, setuid, hardlinks, symlinks (one
/// dangling), a sparse file, a file of allocated zeros, an xattr, an ACL, a numeric owner with no
/// user, a fifo, many small files, and a directory to exclude.
pub fn tree(root: &Path) {
    fs::create_dir_all(root.join("etc/deep/er")).unwrap();
    fs::create_dir_all(root.join("var/cache/skip")).unwrap();
    fs::write(root.join("var/cache/skip/big"), "excluded").unwrap();
    fs::write(root.join("etc/with space"), "spaces").unwrap();
    fs::write(root.join("etc/new\nline"), "newline in the name").unwrap();
    fs::write(root.join("etc/deep/er/file"), "deep").unwrap();
    // A name that is not UTF-8, as old systems and careless tools leave.
    use std::os::unix::ffi::OsStrExt;
    let bytes = std::ffi::OsStr::from_bytes(b"etc/latin1-\xe9t\xe9");
    fs::write(root.join(bytes), "bytes").unwrap();
    std::os::unix::fs::symlink(bytes, root.join("etc/to-latin1")).unwrap();
    fs::write(root.join("suid"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(root.join("hard1"), "shared").unwrap();
    fs::hard_link(root.join("hard1"), root.join("etc/hard2")).unwrap();
    std::os::unix::fs::symlink("../hard1", root.join("etc/link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).unwrap();
    let f = fs::File::create(root.join("sparse")).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    sh(&format!(
        "printf data | dd of='{}' bs=1 seek=40000000 conv=notrunc status=none",
        root.join("sparse").display()
    ));
    // Data all through but one hole of 64 KiB: far from "mostly holes",
    // and it still has one to come back.
    fs::write(root.join("holey"), vec![0xabu8; 4 << 20]).unwrap();
    sh(&format!(
        "fallocate --punch-hole --offset 1048576 --length 65536 '{}'",
        root.join("holey").display()
    ));
    // Zeros written out: a restore must not make holes of them.
    fs::write(root.join("zeros"), vec![0u8; 2 << 20]).unwrap();
    for i in 0..500 {
        fs::write(root.join(format!("etc/deep/small{i}")), format!("{i}")).unwrap();
    }
    std::os::unix::fs::chown(root.join("etc/deep/small1"), Some(1234), Some(5678)).unwrap();
    sh(&format!(
        "setfattr -n user.rear -v hello '{}'",
        root.join("etc/with space").display()
    ));
    sh(&format!(
        "setfacl -m u:1234:rw '{}'",
        root.join("etc/deep/er/file").display()
    ));
    sh(&format!("mkfifo '{}'", root.join("fifo").display()));
}

pub fn spec(root: &Path) -> Spec {
    Spec::new(
        root,
        vec![PathBuf::from(".")],
        vec![PathBuf::from("var/cache/skip")],
    )
}

/// Restores into a fresh directory and checks it; returns how many files.
pub fn restore_fresh(b: &dyn Backend, exec: &dyn Exec, dst: &Path) -> usize {
    fs::create_dir_all(dst).unwrap();
    restore_and_verify(b, dst, exec)
        .unwrap_or_else(|e| panic!("{}: {e:#}", b.name()))
        .sums
        .len()
}

/// The round trip every backend must pass: the tree backed up, restored
/// elsewhere, checked against the manifest; then a change, a second
/// backup (the incremental path), and a second restore that has it.
pub fn round_trip(b: &dyn Backend, exec: &dyn Exec, work: &Path) {
    let src = work.join("src");
    fs::create_dir_all(&src).unwrap();
    tree(&src);
    let made = b
        .backup(&spec(&src), exec)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(made.files > 500, "{}", made.files);
    let found = b.latest(exec).unwrap();
    assert_eq!(found.sums.len(), made.files);
    let with = |name: &str, key: &str| {
        found
            .sums
            .iter()
            .any(|e| e.path == name && e.xattrs.contains_key(key))
    };
    assert!(
        with("etc/with space", "user.rear"),
        "xattrs are in the manifest"
    );
    assert!(
        with("etc/deep/er/file", "system.posix_acl_access"),
        "ACLs are in the manifest"
    );

    let dst = work.join("dst1");
    assert_eq!(restore_fresh(b, exec, &dst), made.files);
    // Times of directories and symlinks (the manifest has none): etc holds
    // a symlink whose target is not UTF-8, which restic's restore mangles
    // and rear-build makes again. Whole seconds: an rsync daemon keeps no
    // nanoseconds of a directory.
    for p in ["etc", "etc/to-latin1"] {
        let mtime = |root: &Path| fs::symlink_metadata(root.join(p)).unwrap().mtime();
        assert_eq!(mtime(&dst), mtime(&src), "{}: the mtime of {p}", b.name());
    }
    // 4 bytes of data in 64 MiB: borg restores holes by whole chunks (up
    // to 8 MiB), and rear-build digs the zeros around the data again.
    let meta = fs::metadata(dst.join("sparse")).unwrap();
    assert!(
        meta.blocks() * 512 <= 64 << 10,
        "{}: restored sparse file takes {} bytes",
        b.name(),
        meta.blocks() * 512
    );
    let holes = |name: &str| rear_backup::sums::has_holes(&fs::File::open(dst.join(name)).unwrap());
    assert!(
        holes("holey"),
        "{}: a file with one hole came back without it",
        b.name()
    );
    assert!(
        !holes("zeros"),
        "{}: a file of written zeros came back with holes",
        b.name()
    );
    let zeros = fs::metadata(dst.join("zeros")).unwrap();
    assert!(
        zeros.blocks() * 512 >= 2 << 20,
        "{}: a file of written zeros came back with holes ({} bytes allocated)",
        b.name(),
        zeros.blocks() * 512
    );
    assert!(
        !dst.join("var/cache/skip").exists(),
        "{}: the excluded directory came back",
        b.name()
    );

    fs::write(src.join("etc/with space"), "changed").unwrap();
    fs::write(src.join("new file"), "new").unwrap();
    fs::remove_file(src.join("etc/deep/small7")).unwrap();
    b.backup(&spec(&src), exec)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dst = work.join("dst2");
    restore_fresh(b, exec, &dst);
    assert_eq!(fs::read(dst.join("etc/with space")).unwrap(), b"changed");
    assert_eq!(fs::read(dst.join("new file")).unwrap(), b"new");
    assert!(!dst.join("etc/deep/small7").exists());
}

/// Runs the real tools, but first deletes `path` for the call that backs
/// it up: a file system that vanishes between the manifest and the copy,
/// as on a live system, so the tool itself fails half way.
struct Vanish<'a> {
    inner: &'a dyn Exec,
    path: PathBuf,
}

impl Vanish<'_> {
    fn vanish(&self, c: &Call) {
        let name = self.path.file_name().unwrap().to_string_lossy();
        if c.argv_lossy().iter().any(|a| a.ends_with(name.as_ref())) && self.path.exists() {
            fs::remove_dir_all(&self.path).unwrap();
        }
    }
}

impl Exec for Vanish<'_> {
    fn execute(&self, c: &Call) -> std::io::Result<rear_exec::Output> {
        self.vanish(c);
        self.inner.execute(c)
    }
}

/// A run that fails leaves the previous backup the one restored, whole.
pub fn failed_backup_keeps_the_previous_one(b: &dyn Backend, exec: &dyn Exec, work: &Path) {
    let src = work.join("src");
    fs::create_dir_all(src.join("gone")).unwrap();
    fs::write(src.join("a"), "first").unwrap();
    b.backup(&spec(&src), exec)
        .unwrap_or_else(|e| panic!("{e:#}"));
    fs::write(src.join("a"), "second").unwrap();
    fs::write(src.join("gone/file"), "x").unwrap();
    let mut two = spec(&src);
    two.paths.push(PathBuf::from("gone"));
    let vanish = Vanish {
        inner: exec,
        path: src.join("gone"),
    };
    let err = format!("{:#}", b.backup(&two, &vanish).unwrap_err());
    assert!(
        err.contains("previous backup is kept"),
        "{}: {err}",
        b.name()
    );
    fs::create_dir_all(src.join("gone")).unwrap();
    let dst = work.join("dst");
    restore_fresh(b, exec, &dst);
    assert_eq!(fs::read(dst.join("a")).unwrap(), b"first", "{}", b.name());
}

/// A passphrase file for borg and restic.
pub fn pass_file(dir: &Path, pass: &str) -> PathBuf {
    let p = dir.join("pass");
    fs::write(&p, format!("{pass}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// Runs the real tools; right after the first call that reads the source
/// (the data backup), rewrites `path`: a file that changed while it was
/// backed up, seen as changed on the backend's second look.
struct Change<'a> {
    inner: &'a dyn Exec,
    root: PathBuf,
    path: PathBuf,
    done: std::sync::atomic::AtomicBool,
}

impl Change<'_> {
    fn reads(&self, c: &Call) -> bool {
        let root = self.root.to_string_lossy();
        c.working_dir() == Some(self.root.as_path())
            || c.argv_lossy().iter().any(|a| a.contains(root.as_ref()))
    }

    /// Before the tool reads: a file appears that the manifest (taken
    /// before) does not list, and the tool will back up.
    fn before(&self, c: &Call) {
        let appeared = self.root.join("etc/appeared");
        if self.reads(c) && !self.done.load(std::sync::atomic::Ordering::SeqCst) {
            fs::write(appeared, "made while the backup ran").unwrap();
        }
    }

    fn after(&self, c: &Call) {
        if self.reads(c) && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            fs::write(&self.path, "written while the backup ran").unwrap();
        }
    }
}

impl Exec for Change<'_> {
    fn execute(&self, c: &Call) -> std::io::Result<rear_exec::Output> {
        self.before(c);
        let r = self.inner.execute(c);
        self.after(c);
        r
    }
}

/// A file that changes while it is backed up, or appears while the backup
/// runs, does not fail the backup or the restore: it is restored as the
/// backup has it, and not verified.
pub fn changed_during_backup_is_restored_unverified(b: &dyn Backend, exec: &dyn Exec, work: &Path) {
    let src = work.join("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("etc/steady"), "steady").unwrap();
    fs::write(src.join("etc/busy"), "before").unwrap();
    let change = Change {
        inner: exec,
        root: src.clone(),
        path: src.join("etc/busy"),
        done: Default::default(),
    };
    b.backup(&spec(&src), &change)
        .unwrap_or_else(|e| panic!("{}: {e:#}", b.name()));
    assert!(
        change.done.load(std::sync::atomic::Ordering::SeqCst),
        "{}: no call read the source",
        b.name()
    );
    let found = b.latest(exec).unwrap();
    let unverified = |p: &str| {
        found
            .sums
            .iter()
            .find(|e| e.path == p)
            .map(|e| e.unverified)
    };
    assert_eq!(unverified("etc/steady"), Some(false), "{}", b.name());
    assert_eq!(unverified("etc/busy"), Some(true), "{}", b.name());
    assert_eq!(unverified("etc/appeared"), Some(true), "{}", b.name());
    // The file that appeared is in the backup, and the restore takes it
    // for nothing slipped in.
    let dst = work.join("dst");
    restore_fresh(b, exec, &dst);
    assert!(dst.join("etc/appeared").exists(), "{}", b.name());
    assert_eq!(
        fs::read(dst.join("etc/busy")).unwrap(),
        b"before",
        "{}",
        b.name()
    );
}
