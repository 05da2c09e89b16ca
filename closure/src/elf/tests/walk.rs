//! Path look-up inside the root: symlink chains, loops, missing files, directories.

use super::*;

#[test]
fn symlink_chains_relative_and_absolute() {
    let f = Fake::with_libc();
    f.copy_host("/usr/bin/true", "/usr/bin/true");
    f.link("/usr/bin/a", "b");
    f.link("/usr/bin/b", "../../bin/c");
    f.link("/usr/bin/c", "/usr/bin/true");
    let c = f.resolve(&["/usr/bin/a"]).unwrap();
    assert_eq!(node(&c, "/usr/bin/a"), sym("b"));
    assert_eq!(node(&c, "/usr/bin/b"), sym("../../bin/c"));
    assert_eq!(node(&c, "/bin"), sym("usr/bin"));
    assert_eq!(node(&c, "/usr/bin/c"), sym("/usr/bin/true"));
    assert_eq!(node(&c, "/usr/bin/true"), Some(Node::File));
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
        Some(Node::File)
    );
}

#[test]
fn symlink_loops_are_errors() {
    let f = Fake::bare();
    f.link("/usr/bin/a", "b");
    f.link("/usr/bin/b", "a");
    let err = f.resolve(&["/usr/bin/a"]).unwrap_err();
    assert!(matches!(err, Error::SymlinkLoop { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "/usr/bin/a: too many levels of symbolic links"
    );
    // 40 links are fine, 41 are not.
    for i in 0..41 {
        f.link(&format!("/usr/bin/l{i}"), &format!("l{}", i + 1));
    }
    f.write("/usr/bin/l41", "data");
    assert!(f.resolve(&["/usr/bin/l1"]).is_ok());
    assert!(matches!(
        f.resolve(&["/usr/bin/l0"]).unwrap_err(),
        Error::SymlinkLoop { .. }
    ));
}

#[test]
fn missing_files_and_optional_wants() {
    let f = Fake::with_libc();
    let err = f.resolve(&["/usr/sbin/foo"]).unwrap_err();
    assert!(matches!(err, Error::Missing { .. }));
    assert_eq!(err.to_string(), "/usr/sbin/foo: no such file");
    let c = f
        .resolver()
        .resolve(&[Want::optional("/usr/sbin/foo")])
        .unwrap();
    assert!(c.nodes.is_empty());
    assert_eq!(
        c.warnings,
        ["/usr/sbin/foo: no such file (optional; left out)"]
    );
    // A dangling symlink is a missing file too.
    f.link("/usr/sbin/dangling", "nowhere");
    assert!(matches!(
        f.resolve(&["/usr/sbin/dangling"]).unwrap_err(),
        Error::Missing { .. }
    ));
}

#[test]
fn directories_are_rejected() {
    let f = Fake::bare();
    let err = f.resolve(&["/usr/bin"]).unwrap_err();
    assert!(matches!(err, Error::IsDirectory { .. }));
    assert!(err.to_string().contains("expanded by the caller"), "{err}");
    let err = f.resolve(&["usr/bin/x"]).unwrap_err();
    assert!(matches!(err, Error::NotAbsolute { .. }));
}
