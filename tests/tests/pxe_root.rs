//! `image --media pxe --pxe-root DIR` (and `[pxe] root`): the network boot
//! tree installed into a TFTP root that another host's files share
//! (docs/media.md). Runs as root (the root's group is set to another one).

use rear_tests::{rear_build, Run};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The root's group: not root's, not the caller's.
const GID: u32 = 65534;

/// The boot loader files the hosts of a root share.
const LOADER: [&str; 2] = ["pxelinux.0", "ldlinux.c32"];

/// Another host's files, and one of the site's.
const OTHERS: [(&str, &str); 6] = [
    ("rear-web2/vmlinuz", "web2's kernel"),
    ("rear-web2/initrd.img", "web2's initrd"),
    ("rear-web2.ipxe", "#!ipxe\nweb2\n"),
    ("pxelinux.cfg/01-52-54-00-12-34-56", "web2's pxelinux menu"),
    ("grub/grub.cfg-01-52-54-00-12-34-56", "web2's grub menu"),
    ("pxelinux.cfg/default", "the site's default menu"),
];

/// Every file below `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(dir.join(&rel)).unwrap() {
            let e = e.unwrap();
            let child = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                stack.push(child);
            } else {
                out.push(child);
            }
        }
    }
    out.sort();
    out
}

/// What must not change of a file: bytes, mode, group, inode, mtime.
fn stat(p: &Path) -> (Vec<u8>, u32, u32, u64, i64) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (
        std::fs::read(p).unwrap(),
        m.permissions().mode() & 0o7777,
        m.gid(),
        m.ino(),
        m.mtime(),
    )
}

fn image(d: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "image",
        "-c",
        d.join("cfg").to_str().unwrap().to_string().leak(),
        "--log",
        "none",
        "--store",
        d.join("store").to_str().unwrap().to_string().leak(),
        "--output",
        d.join("out").to_str().unwrap().to_string().leak(),
        // Quicker than most, and enough for a tree to install.
        "--modules",
        "loaded",
    ];
    args.extend_from_slice(extra);
    rear_build(&args, &[], None)
}

/// Checks that every file of the tree is in the root with the same bytes,
/// mode `mode` and the root's group (the loader files: the same bytes);
/// returns the inodes of this host's files.
fn check_installed(tree: &Path, root: &Path, mode: u32) -> Vec<(PathBuf, u64)> {
    let mut inodes = Vec::new();
    for rel in files(tree) {
        let (bytes, m, gid, ino, _) = stat(&root.join(&rel));
        assert!(
            bytes == std::fs::read(tree.join(&rel)).unwrap(),
            "{}: not the tree's bytes",
            rel.display()
        );
        if LOADER.iter().any(|l| rel == Path::new(l)) {
            continue;
        }
        assert!(m == mode, "{}: mode {m:o}, not {mode:o}", rel.display());
        assert_eq!(gid, GID, "{}: group", rel.display());
        inodes.push((rel, ino));
    }
    // Nothing left under a temporary name.
    let all = files(root);
    assert!(
        !all.iter()
            .any(|p| p.file_name().unwrap().to_string_lossy().starts_with('.')),
        "{all:?}"
    );
    inodes
}

#[test]
fn the_tree_is_installed_into_a_shared_root_and_replaces_only_this_hosts_files() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("srv tftp");
    let tree = d.path().join("out/pxe");
    std::fs::create_dir(d.path().join("cfg")).unwrap();
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::chown(&root, None, Some(GID)).unwrap();
    for (rel, text) in OTHERS {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let others = |root: &Path| {
        OTHERS
            .iter()
            .map(|(rel, _)| stat(&root.join(rel)))
            .collect::<Vec<_>>()
    };
    let before = others(&root);
    let include = d.path().join("note.txt");
    std::fs::write(&include, "one\n").unwrap();
    let inc = format!("{}:/etc/note.txt", include.display());
    let root_s = root.to_str().unwrap();

    // Refused before anything is built: a root that does not exist, and a
    // root without the pxe medium.
    let missing = d.path().join("srv/none");
    let r = image(
        d.path(),
        &["--media", "pxe", "--pxe-root", missing.to_str().unwrap()],
    );
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains(&format!(
            "pxe.root (--pxe-root) {} does not exist",
            missing.display()
        )) && r.stderr.contains("set pxe.root to that directory"),
        "{}",
        r.stderr
    );
    let r = image(d.path(), &["--media", "iso", "--pxe-root", root_s]);
    assert_ne!(r.status, 0);
    assert!(
        r.stderr
            .contains("no network boot tree is built: add pxe to image.media (--media pxe)"),
        "{}",
        r.stderr
    );
    assert!(!d.path().join("out/initrd.img").exists(), "built anyway");
    assert!(!missing.exists());

    // Installed from the flag: private, with the root's group.
    let r = image(
        d.path(),
        &["--media", "pxe", "--pxe-root", root_s, "--include", &inc],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "the network boot tree is installed in {}",
            root.display()
        )),
        "{}",
        r.stderr
    );
    let first = check_installed(&tree, &root, 0o640);
    assert!(
        first.iter().any(|(p, _)| p.ends_with("initrd.img"))
            && first
                .iter()
                .any(|(p, _)| p.extension().is_some_and(|e| e == "ipxe")),
        "{first:?}"
    );
    // The host's directory is new: 0750 with the root's group.
    let host_dir = first
        .iter()
        .find(|(p, _)| p.ends_with("vmlinuz"))
        .and_then(|(p, _)| p.parent())
        .unwrap();
    let m = std::fs::metadata(root.join(host_dir)).unwrap();
    assert_eq!((m.permissions().mode() & 0o7777, m.gid()), (0o750, GID));
    assert!(
        others(&root) == before,
        "another host's files changed on the first install"
    );
    let initrd_1 = std::fs::read(root.join(host_dir).join("initrd.img")).unwrap();

    // Again, from the configuration (world_readable), with a changed
    // include: this host's files are replaced (new inodes, the new
    // initrd), the others' still untouched.
    std::fs::write(
        d.path().join("cfg/config.toml"),
        format!("[pxe]\nroot = {root_s:?}\nworld_readable = true\n"),
    )
    .unwrap();
    std::fs::write(&include, "two\n").unwrap();
    let r = image(d.path(), &["--media", "pxe", "--include", &inc]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("mode 0644: pxe.world_readable"),
        "{}",
        r.stderr
    );
    let second = check_installed(&tree, &root, 0o644);
    assert_eq!(
        first.iter().map(|f| &f.0).collect::<Vec<_>>(),
        second.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((rel, a), (_, b)) in first.iter().zip(&second) {
        assert_ne!(a, b, "{}: not replaced", rel.display());
    }
    assert!(
        std::fs::read(root.join(host_dir).join("initrd.img")).unwrap() != initrd_1,
        "the initrd in the root is the first build's"
    );
    assert!(
        others(&root) == before,
        "another host's files changed on the second install"
    );
}
