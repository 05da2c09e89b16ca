//! `/etc/ld.so.conf` and its includes.

use super::*;

#[test]
fn ld_so_conf_includes_in_sorted_order() {
    let f = Fake::bare();
    f.write(
        "/etc/ld.so.conf",
        "# comment\n/first/dir/ # trailing comment\ninclude ld.so.conf.d/*.conf /etc/extra.d/*.conf\n\
         hwcap 1 nosegneg\n/last:/last2,/last3\n",
    );
    fs::remove_file(f.host(&format!("/etc/ld.so.conf.d/{MA}.conf"))).unwrap();
    // Created out of order; included sorted.
    f.write("/etc/ld.so.conf.d/b.conf", "/b\n");
    f.write("/etc/ld.so.conf.d/a.conf", "/a\ninclude ../nested.conf\n");
    f.write("/etc/ld.so.conf.d/.hidden.conf", "/hidden\n");
    f.write("/etc/ld.so.conf.d/ignored.txt", "/ignored\n");
    f.write("/etc/nested.conf", "/nested\n/a\n");
    // Through an absolute symlink: must stay inside root.
    f.mkdirs("/srv/extra");
    f.write("/srv/extra/x.conf", "/x\n");
    f.link("/etc/extra.d", "/srv/extra");
    let r = f.resolver();
    let want: Vec<PathBuf> = [
        "/first/dir",
        "/a",
        "/nested",
        "/b",
        "/x",
        "/last",
        "/last2",
        "/last3",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(r.conf_dirs(), want.as_slice());
}

#[test]
fn missing_ld_so_conf_is_fine_and_include_loops_are_stopped() {
    let f = Fake::bare();
    fs::remove_file(f.host("/etc/ld.so.conf")).unwrap();
    assert!(f.resolver().conf_dirs().is_empty());
    f.write("/etc/ld.so.conf", "include /etc/ld.so.conf\n");
    let err = Resolver::new(f.root()).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}

#[test]
fn library_found_through_included_conf() {
    let f = Fake::bare();
    f.write("/etc/ld.so.conf.d/zz-custom.conf", "/opt/custom/lib\n");
    f.write(
        "/opt/custom/lib/libcustom.so.1",
        x64(&[(DT_SONAME, "libcustom.so.1")]),
    );
    f.write("/usr/bin/prog", x64(&[(DT_NEEDED, "libcustom.so.1")]));
    let c = f.resolve(&["/usr/bin/prog"]).unwrap();
    assert_eq!(node(&c, "/opt/custom/lib/libcustom.so.1"), Some(Node::File));
    // Without the include line it is not found.
    f.write("/etc/ld.so.conf", "");
    let err = f.resolve(&["/usr/bin/prog"]).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}
