//! The loader's search, on fake roots with hand-made ELF files and the host's libc.

use super::*;

#[test]
fn dst_expansion() {
    let p = Some("x86_64");
    let e = |s| expand_dst(s, "/opt/app/bin", "lib/x86_64-linux-gnu", p);
    assert_eq!(e("$ORIGIN/../lib").unwrap(), "/opt/app/bin/../lib");
    assert_eq!(e("${ORIGIN}/../lib").unwrap(), "/opt/app/bin/../lib");
    assert_eq!(e("$ORIGIN").unwrap(), "/opt/app/bin");
    assert_eq!(e("/usr/$LIB/x").unwrap(), "/usr/lib/x86_64-linux-gnu/x");
    assert_eq!(e("/usr/${LIB}x").unwrap(), "/usr/lib/x86_64-linux-gnux");
    assert_eq!(e("/opt/$PLATFORM/lib").unwrap(), "/opt/x86_64/lib");
    assert_eq!(e("/opt/${PLATFORM}").unwrap(), "/opt/x86_64");
    // Not followed by '/' or the end, or unknown: left alone, like glibc.
    assert_eq!(e("/opt/$ORIGINAL").unwrap(), "/opt/$ORIGINAL");
    assert_eq!(e("/opt/$HOME/x").unwrap(), "/opt/$HOME/x");
    assert_eq!(e("/opt/$").unwrap(), "/opt/$");
    assert_eq!(expand_dst("/$PLATFORM", "/", "lib", None), None);
}

#[test]
fn triples_and_platforms() {
    let id = |class64, little, machine| Ident {
        class64,
        little,
        machine,
    };
    assert_eq!(id(true, true, EM_X86_64).triple(), Some("x86_64-linux-gnu"));
    assert_eq!(id(false, true, EM_386).triple(), Some("i386-linux-gnu"));
    assert_eq!(
        id(true, true, EM_AARCH64).triple(),
        Some("aarch64-linux-gnu")
    );
    assert_eq!(
        id(true, true, EM_PPC64).triple(),
        Some("powerpc64le-linux-gnu")
    );
    assert_eq!(id(true, false, EM_S390).triple(), Some("s390x-linux-gnu"));
    assert_eq!(id(true, true, EM_RISCV).triple(), Some("riscv64-linux-gnu"));
    assert_eq!(id(true, true, 0x1234).triple(), None);
    assert_eq!(id(false, true, EM_386).platform(), Some("i686"));
    assert_eq!(id(true, true, EM_X86_64).platform(), Some("x86_64"));
    assert_eq!(id(true, true, EM_AARCH64).platform(), Some("aarch64"));
}

#[test]
fn env_command_skips_options_and_assignments() {
    assert_eq!(env_command("python3"), Some("python3"));
    assert_eq!(env_command("-S python3 -u"), Some("python3"));
    assert_eq!(env_command("-i FOO=1 perl -w"), Some("perl"));
    assert_eq!(env_command("-u HOME -C /tmp bash"), Some("bash"));
    assert_eq!(env_command("-i"), None);
}

#[test]
fn interpreter_libc_and_directory_symlinks() {
    let f = Fake::with_libc();
    f.copy_host("/usr/bin/true", "/usr/bin/true");
    let c = f.resolve(&["/bin/true"]).unwrap();
    assert_eq!(node(&c, "/bin"), sym("usr/bin"));
    assert_eq!(node(&c, "/usr/bin/true"), Some(Node::File));
    // PT_INTERP /lib64/ld-linux-x86-64.so.2: /lib64 -> usr/lib64, then an absolute link
    // to /lib/x86_64-linux-gnu/..., /lib -> usr/lib, then the file.
    assert_eq!(node(&c, "/lib64"), sym("usr/lib64"));
    assert_eq!(
        node(&c, "/usr/lib64/ld-linux-x86-64.so.2"),
        sym(&format!("/lib/{MA}/ld-linux-x86-64.so.2"))
    );
    assert_eq!(node(&c, "/lib"), sym("usr/lib"));
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/ld-linux-x86-64.so.2")),
        Some(Node::File)
    );
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
        Some(Node::File)
    );
    // Nothing else but the warnings for the NSS modules and libgcc_s the fake lacks.
    assert_eq!(c.nodes.len(), 7, "{:#?}", c.nodes);
    for missing in [
        "libnss_files.so.2",
        "libnss_dns.so.2",
        "libresolv.so.2",
        "libgcc_s.so.1",
    ] {
        assert!(
            c.warnings.iter().any(|w| w.contains(missing)),
            "no warning for {missing}: {:?}",
            c.warnings
        );
    }
    assert!(!c.warnings.iter().any(|w| w.contains("libnss_compat")));
    assert_eq!(c.paths().len(), c.nodes.len());
    assert!(c.paths().windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn known_dlopen_sets_come_with_libc() {
    let f = Fake::with_libc();
    f.copy_host("/usr/bin/true", "/usr/bin/true");
    for lib in ["libnss_files.so.2", "libgcc_s.so.1", "libresolv.so.2"] {
        f.copy_host(
            &format!("/usr/lib/{MA}/{lib}"),
            &format!("/usr/lib/{MA}/{lib}"),
        );
    }
    let c = f.resolve(&["/usr/bin/true"]).unwrap();
    for lib in ["libnss_files.so.2", "libgcc_s.so.1", "libresolv.so.2"] {
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/{lib}")),
            Some(Node::File),
            "{lib}"
        );
    }
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("libnss_dns.so.2"),
        "{:?}",
        c.warnings
    );
    assert!(
        c.warnings[0].starts_with(&format!("/lib/{MA}/libc.so.6 → libnss_dns.so.2")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn missing_library_names_the_chain() {
    let f = Fake::with_libc();
    f.write(
        &format!("/usr/lib/{MA}/libmid.so.1"),
        x64(&[(DT_SONAME, "libmid.so.1"), (DT_NEEDED, "libbar.so.1")]),
    );
    f.write(
        "/usr/sbin/foo",
        x64(&[(DT_NEEDED, "libc.so.6"), (DT_NEEDED, "libmid.so.1")]),
    );
    let err = f.resolve(&["/usr/sbin/foo"]).unwrap_err();
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "/usr/sbin/foo → /lib/{MA}/libmid.so.1 → libbar.so.1: not found in \
             [/usr/local/lib/{MA}, /lib/{MA}, /usr/lib/{MA}, /lib64, /usr/lib64, /lib, /usr/lib]"
        )
    );
    // The same as an optional want: a warning, and nothing of it in the closure.
    let c = f
        .resolver()
        .resolve(&[
            Want::optional("/usr/sbin/foo"),
            Want::required("/usr/lib64"),
        ])
        .unwrap_err();
    assert!(matches!(c, Error::IsDirectory { .. }), "{c}");
    let c = f
        .resolver()
        .resolve(&[Want::optional("/usr/sbin/foo")])
        .unwrap();
    assert!(c.nodes.is_empty(), "{:?}", c.nodes);
    assert_eq!(c.warnings, [format!("{msg} (optional; left out)")]);
}

#[test]
fn wrong_class_machine_or_non_elf_candidates_are_skipped() {
    let f = Fake::with_libc();
    f.copy_host("/usr/bin/true", "/usr/bin/true");
    f.write(
        "/etc/ld.so.conf",
        "/opt/text\n/opt/elf32\n/opt/arm64\n/opt/bigendian\ninclude /etc/ld.so.conf.d/*.conf\n",
    );
    f.write("/opt/text/libc.so.6", "INPUT(-lc)\n");
    f.write(
        "/opt/elf32/libc.so.6",
        craft_elf(false, true, EM_386, None, &[(DT_SONAME, "libc.so.6")], None),
    );
    f.write(
        "/opt/arm64/libc.so.6",
        craft_elf(
            true,
            true,
            EM_AARCH64,
            None,
            &[(DT_SONAME, "libc.so.6")],
            None,
        ),
    );
    f.write(
        "/opt/bigendian/libc.so.6",
        craft_elf(
            true,
            false,
            EM_X86_64,
            None,
            &[(DT_SONAME, "libc.so.6")],
            None,
        ),
    );
    let c = f.resolve(&["/usr/bin/true"]).unwrap();
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
        Some(Node::File)
    );
    assert!(
        !c.nodes.keys().any(|p| p.starts_with("/opt")),
        "{:#?}",
        c.nodes
    );
    // A 32-bit program gets the 32-bit library, found in the i386 multiarch dir.
    f.write(
        "/usr/lib/i386-linux-gnu/libc.so.6",
        craft_elf(false, true, EM_386, None, &[(DT_SONAME, "libc.so.6")], None),
    );
    fs::remove_dir_all(f.host("/opt/elf32")).unwrap();
    f.write(
        "/usr/bin/prog32",
        craft_elf(false, true, EM_386, None, &[(DT_NEEDED, "libc.so.6")], None),
    );
    let c = f.resolve(&["/usr/bin/prog32"]).unwrap();
    assert_eq!(
        node(&c, "/usr/lib/i386-linux-gnu/libc.so.6"),
        Some(Node::File)
    );
    assert_eq!(node(&c, &format!("/usr/lib/{MA}/libc.so.6")), None);
}

#[test]
fn scripts_bring_their_interpreter() {
    let f = Fake::with_libc();
    f.copy_host("/usr/bin/dash", "/usr/bin/dash");
    f.link("/usr/bin/sh", "dash");
    f.write("/usr/sbin/script", "#!/bin/sh -e\necho hello\n");
    let c = f.resolve(&["/usr/sbin/script"]).unwrap();
    assert_eq!(node(&c, "/usr/sbin/script"), Some(Node::File));
    assert_eq!(node(&c, "/bin"), sym("usr/bin"));
    assert_eq!(node(&c, "/usr/bin/sh"), sym("dash"));
    assert_eq!(node(&c, "/usr/bin/dash"), Some(Node::File));
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
        Some(Node::File)
    );
    assert_eq!(node(&c, "/lib64"), sym("usr/lib64"));
    // A script running a script.
    f.write("/usr/sbin/outer", "#!/usr/sbin/script\n");
    let c = f.resolve(&["/usr/sbin/outer"]).unwrap();
    assert_eq!(node(&c, "/usr/bin/dash"), Some(Node::File));
    // Missing interpreter: the chain is named.
    f.write("/usr/sbin/broken", "#!/usr/bin/python9\n");
    let err = f.resolve(&["/usr/sbin/broken"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/usr/sbin/broken → /usr/bin/python9: no such file"
    );
}

#[test]
fn env_scripts_bring_the_program_from_path() {
    let f = Fake::with_libc();
    f.copy_host("/usr/bin/env", "/usr/bin/env");
    f.copy_host("/usr/bin/true", "/usr/sbin/tool");
    f.write("/usr/sbin/s1", "#!/usr/bin/env -S tool --flag\n");
    let c = f.resolve(&["/usr/sbin/s1"]).unwrap();
    assert_eq!(node(&c, "/usr/bin/env"), Some(Node::File));
    assert_eq!(node(&c, "/usr/sbin/tool"), Some(Node::File));
    // Found through the /sbin symlink? No: /usr/sbin comes first in PATH.
    assert_eq!(node(&c, "/sbin"), None);
    // Not executable: not found by env.
    fs::set_permissions(f.host("/usr/sbin/tool"), fs::Permissions::from_mode(0o644)).unwrap();
    let err = f.resolve(&["/usr/sbin/s1"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/usr/sbin/s1 → /usr/bin/env → tool: not found in \
         [/usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin]"
    );
}

#[test]
fn needed_with_a_slash_is_a_path() {
    let f = Fake::bare();
    f.write("/opt/x/libabs.so", x64(&[]));
    f.write(
        "/usr/bin/prog",
        x64(&[(DT_NEEDED, "/opt/x/libabs.so"), (DT_NEEDED, "rel/libr.so")]),
    );
    let c = f.resolve(&["/usr/bin/prog"]).unwrap();
    assert_eq!(node(&c, "/opt/x/libabs.so"), Some(Node::File));
    assert!(
        c.warnings.iter().any(|w| w.contains("rel/libr.so")),
        "{:?}",
        c.warnings
    );
    fs::remove_file(f.host("/opt/x/libabs.so")).unwrap();
    let err = f.resolve(&["/usr/bin/prog"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/usr/bin/prog → /opt/x/libabs.so: no such file"
    );
}

#[test]
fn lib_and_platform_tokens() {
    let f = Fake::bare();
    f.write(
        "/usr/bin/prog",
        x64(&[
            (DT_NEEDED, "libfoo.so.1"),
            (DT_RUNPATH, "/opt/$LIB/x:/opt/${PLATFORM}"),
        ]),
    );
    f.write(
        "/usr/bin/prog2",
        x64(&[
            (DT_NEEDED, "libbar.so.1"),
            (DT_RUNPATH, "/opt/$LIB/x:/opt/${PLATFORM}"),
        ]),
    );
    f.write(&format!("/opt/lib/{MA}/x/libfoo.so.1"), x64(&[]));
    f.write("/opt/x86_64/libbar.so.1", x64(&[]));
    let c = f.resolve(&["/usr/bin/prog", "/usr/bin/prog2"]).unwrap();
    assert_eq!(
        node(&c, &format!("/opt/lib/{MA}/x/libfoo.so.1")),
        Some(Node::File)
    );
    assert_eq!(node(&c, "/opt/x86_64/libbar.so.1"), Some(Node::File));
    // Without a multiarch /usr/lib/<triple>, $LIB is lib64 for 64-bit objects.
    let g = Fake::bare();
    fs::remove_dir_all(g.host(&format!("/usr/lib/{MA}"))).unwrap();
    g.write(
        "/usr/bin/prog",
        x64(&[(DT_NEEDED, "libfoo.so.1"), (DT_RUNPATH, "/opt/$LIB")]),
    );
    g.write("/opt/lib64/libfoo.so.1", x64(&[]));
    let c = g.resolve(&["/usr/bin/prog"]).unwrap();
    assert_eq!(node(&c, "/opt/lib64/libfoo.so.1"), Some(Node::File));
}

#[test]
fn search_dirs_follow_ld_so_rules() {
    let f = Fake::bare();
    f.write("/etc/ld.so.conf", "/conf\n");
    let res = f.resolver();
    let ctx = Ctx::new(&res);
    let obj = |dynamic: &[(u64, &str)], loader, origin: &str| Obj {
        logical: PathBuf::from(format!("{origin}/x")),
        info: elf_info(&x64(dynamic)),
        loader,
        origin: origin.to_string(),
    };
    let mut t = Tree::default();
    t.objs
        .push(obj(&[(DT_RPATH, "/exe:$ORIGIN/../l")], None, "/usr/bin"));
    t.objs.push(obj(&[(DT_RPATH, "/lib1")], Some(0), "/a"));
    t.objs.push(obj(
        &[(DT_RUNPATH, "/lib2run"), (DT_RPATH, "/lib2rpath")],
        Some(1),
        "/b",
    ));
    t.objs.push(obj(&[], Some(2), "/c"));
    t.objs.push(obj(&[], None, "/d")); // loaded by nobody (like the interpreter)
    let dirs = |i| -> Vec<String> {
        ctx.search_dirs(&t, i)
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    };
    let defaults = [
        "/conf",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ];
    let with = |v: &[&str]| -> Vec<String> {
        v.iter()
            .chain(defaults.iter())
            .map(|s| s.to_string())
            .collect()
    };
    assert_eq!(dirs(0), with(&["/exe", "/usr/bin/../l"]));
    // RPATH of the object, then of its loaders up to the program.
    assert_eq!(dirs(1), with(&["/lib1", "/exe", "/usr/bin/../l"]));
    // RUNPATH: only the object's own, and its RPATH is ignored.
    assert_eq!(dirs(2), with(&["/lib2run"]));
    // Below a RUNPATH object: the loaders' RPATHs apply again (the RUNPATH does not).
    assert_eq!(dirs(3), with(&["/lib1", "/exe", "/usr/bin/../l"]));
    // Not loaded by the program: the program's RPATH still applies.
    assert_eq!(dirs(4), with(&["/exe", "/usr/bin/../l"]));
}

#[test]
fn loaded_sonames_are_not_searched_again() {
    // The program's RUNPATH finds libB; libA needs libB too and gets the loaded one,
    // although the RUNPATH does not apply to libA's needs.
    let f = Fake::bare();
    f.write("/opt/r/libB.so.1", x64(&[(DT_SONAME, "libB.so.1")]));
    f.write(
        &format!("/usr/lib/{MA}/libA.so.1"),
        x64(&[(DT_SONAME, "libA.so.1"), (DT_NEEDED, "libB.so.1")]),
    );
    f.write(
        "/usr/bin/both",
        x64(&[
            (DT_NEEDED, "libA.so.1"),
            (DT_NEEDED, "libB.so.1"),
            (DT_RUNPATH, "/opt/r"),
        ]),
    );
    f.write(
        "/usr/bin/only_a",
        x64(&[(DT_NEEDED, "libA.so.1"), (DT_RUNPATH, "/opt/r")]),
    );
    let c = f.resolve(&["/usr/bin/both"]).unwrap();
    assert_eq!(node(&c, "/opt/r/libB.so.1"), Some(Node::File));
    let err = f.resolve(&["/usr/bin/only_a"]).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "/usr/bin/only_a → /lib/{MA}/libA.so.1 → libB.so.1: not found in"
        )),
        "{err}"
    );
}

#[test]
fn dlopen_notes_are_resolved_or_warned_about() {
    let f = Fake::bare();
    let note = fdo_note(
        r#"[{"feature":"foo","soname":["libnothere.so.9","libfoo.so.1"],"priority":"required"},
           {"feature":"bar","soname":["libmissing.so.3"],"priority":"suggested"},
           {"feature":"baz","soname":["libbroken.so.1"],"priority":"suggested"}]"#,
        true,
    );
    f.write(
        "/usr/bin/prog",
        craft_elf(
            true,
            true,
            EM_X86_64,
            None,
            &[(DT_NEEDED, "libbase.so.1")],
            Some(&note),
        ),
    );
    f.write(
        &format!("/usr/lib/{MA}/libbase.so.1"),
        x64(&[(DT_SONAME, "libbase.so.1")]),
    );
    f.write(
        &format!("/usr/lib/{MA}/libfoo.so.1"),
        x64(&[
            (DT_SONAME, "libfoo.so.1"),
            (DT_NEEDED, "libbase.so.1"),
            (DT_NEEDED, "libfoodep.so.1"),
        ]),
    );
    f.write(&format!("/usr/lib/{MA}/libfoodep.so.1"), x64(&[]));
    f.write(
        &format!("/usr/lib/{MA}/libbroken.so.1"),
        x64(&[(DT_NEEDED, "libgone.so.1")]),
    );
    let c = f.resolve(&["/usr/bin/prog"]).unwrap();
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libfoo.so.1")),
        Some(Node::File)
    );
    assert_eq!(
        node(&c, &format!("/usr/lib/{MA}/libfoodep.so.1")),
        Some(Node::File)
    );
    // A dlopen'd library whose needs are missing is left out.
    assert_eq!(node(&c, &format!("/usr/lib/{MA}/libbroken.so.1")), None);
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(
        c.warnings[0].starts_with("/usr/bin/prog → libmissing.so.3 (dlopen note for bar, priority suggested): not found in ["),
        "{:?}",
        c.warnings
    );
    assert!(
        c.warnings[1].contains("libgone.so.1: not found"),
        "{:?}",
        c.warnings
    );
    assert!(c.warnings[1].contains("left out"), "{:?}", c.warnings);
}

#[test]
fn deterministic_and_cached_results() {
    let f = Fake::with_libc();
    f.copy_host("/usr/bin/true", "/usr/bin/true");
    f.copy_host("/usr/bin/dash", "/usr/bin/dash");
    f.link("/usr/bin/sh", "dash");
    for i in 0..5 {
        f.write(&format!("/usr/sbin/s{i}"), "#!/bin/sh\n");
    }
    let wants: Vec<Want> = [
        "/usr/sbin/s3",
        "/usr/bin/true",
        "/usr/sbin/s0",
        "/usr/sbin/s1",
    ]
    .iter()
    .map(|p| Want::required(*p))
    .collect();
    let r = f.resolver();
    let a = r.resolve(&wants).unwrap();
    let mut rev = wants.clone();
    rev.reverse();
    let b = r.resolve(&rev).unwrap();
    assert_eq!(a.nodes, b.nodes);
    // Warnings are not repeated per program.
    let mut w = a.warnings.clone();
    w.dedup();
    assert_eq!(w.len(), a.warnings.len());
    assert!(a.warnings.len() <= 4, "{:?}", a.warnings);
}
