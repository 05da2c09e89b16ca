//! Reading files: ELF objects of every class and byte order, scripts, dlopen notes.

use super::*;

#[test]
fn shebang_lines() {
    let s = parse_shebang(b"#!/bin/sh\necho\n").unwrap();
    assert_eq!((s.interp.as_str(), s.arg), ("/bin/sh", None));
    let s = parse_shebang(b"#! /usr/bin/env  python3 -u \nx").unwrap();
    assert_eq!(s.interp, "/usr/bin/env");
    assert_eq!(s.arg.as_deref(), Some("python3 -u"));
    let s = parse_shebang(b"#!/bin/bash\t-e").unwrap();
    assert_eq!(
        (s.interp.as_str(), s.arg.as_deref()),
        ("/bin/bash", Some("-e"))
    );
    assert!(parse_shebang(b"#!   \n").is_err());
}

#[test]
fn dlopen_json_forms() {
    let deps = parse_dlopen_json(
        r#"[{"feature":"foo","soname":["libfoo.so.2","libfoo.so.1"],"priority":"required"},
            {"soname":["libbar.so.0"]}]"#,
    )
    .unwrap();
    assert_eq!(deps.len(), 2);
    assert_eq!(deps[0].sonames, ["libfoo.so.2", "libfoo.so.1"]);
    assert_eq!(deps[0].feature.as_deref(), Some("foo"));
    assert_eq!(deps[0].priority, "required");
    assert_eq!(deps[1].priority, "recommended");
    // The first version of the specification: one object, soname a string.
    let deps = parse_dlopen_json(r#"{"soname":"libold.so.1","priority":"suggested"}"#).unwrap();
    assert_eq!(deps[0].sonames, ["libold.so.1"]);
    assert!(parse_dlopen_json(r#"[{"feature":"x"}]"#).is_err());
    assert!(parse_dlopen_json("not json").is_err());
}

#[test]
fn parses_crafted_elf_in_every_class_and_byte_order() {
    let dynamic = [
        (DT_NEEDED, "libfoo.so.1"),
        (DT_NEEDED, "libbar.so.2"),
        (DT_SONAME, "libme.so.3"),
        (DT_RPATH, "/r1:$ORIGIN/r2"),
    ];
    let note = |little| {
        fdo_note(
            r#"[{"soname":["libdl.so.9"],"priority":"suggested"}]"#,
            little,
        )
    };
    for (class64, little, machine) in [
        (true, true, EM_X86_64),
        (false, true, EM_386),
        (true, false, EM_S390),
        (false, false, EM_PPC),
    ] {
        let n = note(little);
        let bytes = craft_elf(
            class64,
            little,
            machine,
            Some("/lib/ld.so.1"),
            &dynamic,
            Some(&n),
        );
        let info = elf_info(&bytes);
        let ctx = format!("class64={class64} little={little}");
        assert_eq!(
            info.ident,
            Ident {
                class64,
                little,
                machine
            },
            "{ctx}"
        );
        assert_eq!(info.interp.as_deref(), Some("/lib/ld.so.1"), "{ctx}");
        assert_eq!(info.needed, ["libfoo.so.1", "libbar.so.2"], "{ctx}");
        assert_eq!(info.soname.as_deref(), Some("libme.so.3"), "{ctx}");
        assert_eq!(info.rpath.as_deref(), Some("/r1:$ORIGIN/r2"), "{ctx}");
        assert_eq!(info.runpath, None, "{ctx}");
        assert_eq!(info.dlopen.len(), 1, "{ctx}");
        assert_eq!(info.dlopen[0].sonames, ["libdl.so.9"], "{ctx}");
    }
}

#[test]
fn rpath_is_ignored_when_runpath_is_present() {
    let info = elf_info(&x64(&[
        (DT_RPATH, "/from/rpath"),
        (DT_RUNPATH, "/from/runpath"),
    ]));
    assert_eq!(info.rpath, None);
    assert_eq!(info.runpath.as_deref(), Some("/from/runpath"));
}

#[test]
fn non_elf_script_and_broken_elf() {
    assert!(matches!(parse_bytes(b"hello\n"), Ok(Kind::Other)));
    assert!(matches!(parse_bytes(b""), Ok(Kind::Other)));
    assert!(matches!(parse_bytes(b"#!/bin/sh\n"), Ok(Kind::Script(_))));
    let mut truncated = x64(&[(DT_NEEDED, "libfoo.so.1")]);
    truncated.truncate(100);
    assert!(matches!(parse_bytes(&truncated), Err(ParseErr::Bad(_))));
    let mut bad_class = x64(&[]);
    bad_class[4] = 7;
    assert!(matches!(parse_bytes(&bad_class), Err(ParseErr::Bad(_))));
}

#[test]
fn parses_host_binaries() {
    let Ok(Kind::Elf(info)) = parse_file(Path::new("/usr/bin/true")) else {
        panic!("/usr/bin/true is not parsed as ELF");
    };
    assert!(info.interp.is_some());
    assert!(info.needed.iter().any(|n| n.starts_with("libc.so")));
    let libc = fs::canonicalize(format!("/usr/lib/{MA}/libc.so.6")).unwrap();
    let Ok(Kind::Elf(info)) = parse_file(&libc) else {
        panic!("libc is not parsed as ELF");
    };
    assert_eq!(info.soname.as_deref(), Some("libc.so.6"));
}

#[test]
fn broken_elf_is_named_in_the_error() {
    let f = Fake::bare();
    let mut bad_class = x64(&[]);
    bad_class[4] = 7;
    f.write("/usr/bin/badclass", &bad_class);
    let mut truncated = x64(&[(DT_NEEDED, "libfoo.so.1")]);
    truncated.truncate(100);
    f.write("/usr/bin/truncated", &truncated);
    for (prog, reason) in [
        ("/usr/bin/badclass", "invalid ELF class 7"),
        (
            "/usr/bin/truncated",
            "program headers beyond the end of the file",
        ),
    ] {
        let err = f.resolve(&[prog]).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        assert_eq!(err.to_string(), format!("{prog}: malformed ELF: {reason}"));
    }
}

#[test]
fn dlopen_note_among_other_notes_and_trailing_bytes() {
    let mut notes = Vec::new();
    // A GNU build-id note first (name "GNU", type 3, 8 bytes of id).
    for w in [4u32, 8, 3] {
        notes.extend_from_slice(&w.to_le_bytes());
    }
    notes.extend_from_slice(b"GNU\0");
    notes.extend_from_slice(&[0xab; 8]);
    notes.extend(fdo_note(r#"[{"soname":["libx.so.1"]}]"#, true));
    // Padding that is not a note: ignored.
    notes.extend_from_slice(&[0; 4]);
    let info = elf_info(&craft_elf(true, true, EM_X86_64, None, &[], Some(&notes)));
    assert_eq!(info.dlopen.len(), 1);
    assert_eq!(info.dlopen[0].sonames, ["libx.so.1"]);
    assert_eq!(info.dlopen[0].priority, "recommended");
}

/// goblin's whole-file parse and the range reading agree on the host's files.
#[test]
fn agrees_with_goblins_whole_file_parse() {
    let mut checked = 0;
    for dir in ["/usr/bin", "/usr/sbin", &format!("/usr/lib/{MA}")] {
        let Ok(rd) = fs::read_dir(dir) else { continue };
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files.iter().step_by(5) {
            let Ok(md) = fs::symlink_metadata(p) else {
                continue;
            };
            if !md.is_file() || md.len() > 8 << 20 {
                continue;
            }
            let Ok(Kind::Elf(info)) = parse_file(p) else {
                continue;
            };
            let bytes = fs::read(p).unwrap();
            let whole = goblin::elf::Elf::parse(&bytes).unwrap();
            let ctx = p.display();
            assert_eq!(info.needed, whole.libraries, "{ctx}");
            assert_eq!(info.soname.as_deref(), whole.soname, "{ctx}");
            assert_eq!(info.interp.as_deref(), whole.interpreter, "{ctx}");
            assert_eq!(
                info.runpath.as_deref(),
                whole.runpaths.first().copied(),
                "{ctx}"
            );
            if info.runpath.is_none() {
                assert_eq!(
                    info.rpath.as_deref(),
                    whole.rpaths.first().copied(),
                    "{ctx}"
                );
            }
            assert_eq!(info.ident.class64, whole.is_64, "{ctx}");
            assert_eq!(info.ident.little, whole.little_endian, "{ctx}");
            assert_eq!(info.ident.machine, whole.header.e_machine, "{ctx}");
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} host ELF files checked");
}
