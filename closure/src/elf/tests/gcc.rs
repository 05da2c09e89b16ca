//! The loader's search with programs and libraries built by gcc.

use super::*;

#[test]
fn gcc_origin_runpath_through_a_symlinked_program() {
    let build = tempfile::tempdir().unwrap();
    let b = build.path();
    cc_lib(b, "libfoo.so.1", "foo", None);
    let prog = cc(
        b,
        "prog",
        "int foo(void); int main(void) { return foo(); }\n",
        &[
            "-L.",
            "-l:libfoo.so.1",
            "-Wl,--enable-new-dtags",
            "-Wl,-rpath,$ORIGIN/../lib",
        ],
    );
    let prog2 = cc(
        b,
        "prog2",
        "int foo(void); int main(void) { return foo(); }\n",
        &[
            "-L.",
            "-l:libfoo.so.1",
            "-Wl,--disable-new-dtags",
            "-Wl,-rpath,${ORIGIN}/../lib",
        ],
    );
    let info = elf_info(&fs::read(&prog).unwrap());
    assert_eq!(info.runpath.as_deref(), Some("$ORIGIN/../lib"));
    let info2 = elf_info(&fs::read(&prog2).unwrap());
    assert_eq!(
        (info2.runpath.as_deref(), info2.rpath.as_deref()),
        (None, Some("${ORIGIN}/../lib"))
    );

    let f = Fake::with_libc();
    f.copy_file(&prog, "/opt/app/bin/prog");
    f.copy_file(&prog2, "/opt/app/bin/prog2");
    f.copy_file(&b.join("libfoo.so.1"), "/opt/app/lib/libfoo.so.1");
    f.link("/usr/bin/prog", "../../opt/app/bin/prog");
    f.link("/usr/bin/prog2", "/opt/app/bin/prog2");
    // $ORIGIN is the directory of the resolved program, not of the symlink.
    let c = f.resolve(&["/usr/bin/prog", "/usr/bin/prog2"]).unwrap();
    assert_eq!(node(&c, "/usr/bin/prog"), sym("../../opt/app/bin/prog"));
    assert_eq!(node(&c, "/opt/app/bin/prog"), Some(Node::File));
    assert_eq!(node(&c, "/opt/app/lib/libfoo.so.1"), Some(Node::File));
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
        Some(Node::File)
    );
}

#[test]
fn gcc_runpath_is_not_used_for_indirect_needs_but_rpath_is() {
    let build = tempfile::tempdir().unwrap();
    let b = build.path();
    cc_lib(b, "libB.so.1", "fb", None);
    cc_lib(b, "libA.so.1", "fa", Some(("fb", "libB.so.1")));
    let src = "int fa(void); int main(void) { return fa(); }\n";
    let common = [
        "-L.",
        "-l:libA.so.1",
        "-Wl,-rpath-link,.",
        "-Wl,-rpath,/opt/r/lib",
    ];
    let with = |extra: &'static str| -> Vec<&'static str> {
        let mut v = common.to_vec();
        v.push(extra);
        v
    };
    let p_runpath = cc(b, "p_runpath", src, &with("-Wl,--enable-new-dtags"));
    let p_rpath = cc(b, "p_rpath", src, &with("-Wl,--disable-new-dtags"));

    let f = Fake::with_libc();
    f.copy_file(&p_runpath, "/usr/bin/p_runpath");
    f.copy_file(&p_rpath, "/usr/bin/p_rpath");
    f.copy_file(&b.join("libA.so.1"), &format!("/usr/lib/{MA}/libA.so.1"));
    f.copy_file(&b.join("libB.so.1"), "/opt/r/lib/libB.so.1");

    let c = f.resolve(&["/usr/bin/p_rpath"]).unwrap();
    assert_eq!(node(&c, "/opt/r/lib/libB.so.1"), Some(Node::File));
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libA.so.1")),
        Some(Node::File)
    );

    let err = f.resolve(&["/usr/bin/p_runpath"]).unwrap_err();
    let Error::NotFound {
        chain,
        name,
        searched,
    } = &err
    else {
        panic!("unexpected error {err}");
    };
    assert_eq!(name, "libB.so.1");
    assert_eq!(
        chain,
        &[
            PathBuf::from("/usr/bin/p_runpath"),
            PathBuf::from(format!("/lib/{MA}/libA.so.1"))
        ]
    );
    assert!(!searched.contains(&PathBuf::from("/opt/r/lib")), "{err}");
}

#[test]
fn gcc_dlopen_note_section() {
    let build = tempfile::tempdir().unwrap();
    let b = build.path();
    cc_lib(b, "libplugin.so.2", "plug", None);
    let src = r#"
#include <stdint.h>
#define JSON "[{\"feature\":\"plug\",\"soname\":[\"libplugin.so.3\",\"libplugin.so.2\"],\"priority\":\"recommended\"}]"
__attribute__((used, section(".note.dlopen"), aligned(4)))
static const struct {
uint32_t namesz, descsz, type;
char name[4];
char desc[(sizeof(JSON) + 3) & ~3];
} dlopen_note = { 4, sizeof(JSON), 0x407c0c0a, "FDO", JSON };
int main(void) { return 0; }
"#;
    let prog = cc(b, "noted", src, &[]);
    let f = Fake::with_libc();
    f.copy_file(&prog, "/usr/bin/noted");
    f.copy_file(
        &b.join("libplugin.so.2"),
        &format!("/usr/lib/{MA}/libplugin.so.2"),
    );
    let c = f.resolve(&["/usr/bin/noted"]).unwrap();
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libplugin.so.2")),
        Some(Node::File)
    );
    assert!(
        !c.warnings.iter().any(|w| w.contains("libplugin")),
        "{:?}",
        c.warnings
    );
}
