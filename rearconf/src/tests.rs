use super::*;

fn read(text: &str) -> Result<Config> {
    let mut c = Config::default();
    c.read(text, Path::new("/etc/rear/local.conf"), false)?;
    Ok(c)
}

fn lenient(text: &str) -> Config {
    let mut c = Config::default();
    c.read(text, Path::new("/etc/rear/local.conf"), true)
        .unwrap();
    c
}

fn s(c: &Config, name: &str) -> String {
    match c.get(name) {
        Some(Value::Str(s)) => s.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn a(c: &Config, name: &str) -> Vec<String> {
    match c.get(name) {
        Some(Value::Array(a)) => a.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn a_typical_local_conf_reads() {
    let c = read(
        r#"# Default is to create Relax-and-Recover rescue media as ISO image
OUTPUT=ISO
BACKUP=NETFS
BACKUP_URL=nfs://backup.example.com/srv/rear   # the NFS server
export TMPDIR="/var/tmp"
BACKUP_PROG_EXCLUDE=( "${BACKUP_PROG_EXCLUDE[@]}" '/mnt/*' /media/*
    "/var/lib/docker/*"   # containers are rebuilt
)
BACKUP_PROG_EXCLUDE+=( /srv/scratch )
COPY_AS_IS+=( /etc/multipath.conf )
EXCLUDE_MOUNTPOINTS=()
SSH_ROOT_PASSWORD='$6$salt$hash'
KERNEL_CMDLINE="$KERNEL_CMDLINE console=ttyS0,115200"
KERNEL_CMDLINE+=" net.ifnames=0"
USB_RETAIN_BACKUP_NR=3
AUTORESIZE_PARTITIONS=
"#,
    )
    .unwrap();
    assert_eq!(s(&c, "OUTPUT"), "ISO");
    assert_eq!(s(&c, "BACKUP_URL"), "nfs://backup.example.com/srv/rear");
    assert_eq!(s(&c, "TMPDIR"), "/var/tmp");
    assert_eq!(
        a(&c, "BACKUP_PROG_EXCLUDE"),
        ["/mnt/*", "/media/*", "/var/lib/docker/*", "/srv/scratch"]
    );
    assert_eq!(a(&c, "COPY_AS_IS"), ["/etc/multipath.conf"]);
    assert_eq!(a(&c, "EXCLUDE_MOUNTPOINTS"), Vec::<String>::new());
    assert_eq!(s(&c, "SSH_ROOT_PASSWORD"), "$6$salt$hash");
    assert_eq!(
        s(&c, "KERNEL_CMDLINE"),
        " console=ttyS0,115200 net.ifnames=0"
    );
    assert_eq!(s(&c, "USB_RETAIN_BACKUP_NR"), "3");
    assert_eq!(s(&c, "AUTORESIZE_PARTITIONS"), "");
    let v = &c.vars["BACKUP_PROG_EXCLUDE"];
    assert_eq!(v.origin.to_string(), "/etc/rear/local.conf:9");
}

#[test]
fn quotes_escapes_and_continuations() {
    let c = read(concat!(
        "A=\"a \\\"quoted\\\" \\$dollar \\\\ back\"\n",
        "B='single $A \\n'\n",
        "C=un\\ quoted\\$x\n",
        "D=\"one \\\n",
        "two\"\n",
        "E=con\\\n",
        "tinued\n",
        "F=x;G=y # two on a line\n",
        "H=1 I=2\n",
        "J=\"$A\"\n",
        "K=${J}-$NOPE-end\n",
        "L=pre\"mid\"'post'\n",
        "M=cost$\n",
    ))
    .unwrap();
    assert_eq!(s(&c, "A"), "a \"quoted\" $dollar \\ back");
    assert_eq!(s(&c, "B"), "single $A \\n");
    assert_eq!(s(&c, "C"), "un quoted$x");
    assert_eq!(s(&c, "D"), "one two");
    assert_eq!(s(&c, "E"), "continued");
    assert_eq!((s(&c, "F"), s(&c, "G")), ("x".into(), "y".into()));
    assert_eq!((s(&c, "H"), s(&c, "I")), ("1".into(), "2".into()));
    assert_eq!(s(&c, "J"), s(&c, "A"));
    assert_eq!(s(&c, "K"), format!("{}--end", s(&c, "A")));
    assert_eq!(s(&c, "L"), "premidpost");
    assert_eq!(s(&c, "M"), "cost$");
    assert_eq!(c.vars["E"].origin.line, 6);
    assert_eq!(c.vars["I"].origin.line, 9);
}

#[test]
fn arrays_split_unquoted_expansions_and_keep_quoted_elements() {
    let c = read(concat!(
        "W=\"one two\"\n",
        "A=( $W \"$W\" \"x${W}y\" '' )\n",
        "B=( \"${A[@]}\" last )\n",
        "C=( \"${UNSET[@]}\" only )\n",
        "D=( ${A[*]} )\n",
        "E=( \"pre${A[@]}post\" )\n",
        "S=str\n",
        "S+=( more )\n",
        "T=( t1 t2 )\n",
        "T+=x\n",
        "U=( a # a comment ) in it\n",
        "    b )\n",
    ))
    .unwrap();
    assert_eq!(a(&c, "A"), ["one", "two", "one two", "xone twoy", ""]);
    assert_eq!(
        a(&c, "B"),
        ["one", "two", "one two", "xone twoy", "", "last"]
    );
    assert_eq!(a(&c, "C"), ["only"]);
    assert_eq!(a(&c, "D"), ["one", "two", "one", "two", "xone", "twoy"]);
    assert_eq!(
        a(&c, "E"),
        ["preone", "two", "one two", "xone twoy", "post"]
    );
    assert_eq!(a(&c, "S"), ["str", "more"]);
    assert_eq!(a(&c, "T"), ["t1x", "t2"]);
    assert_eq!(a(&c, "U"), ["a", "b"]);
}

#[test]
fn what_would_run_something_is_refused_with_file_line_and_construct() {
    for (text, line, construct) in [
        ("A=1\nB=$(hostname)\n", 2, "command substitution $(...)"),
        ("B=\"`date`\"\n", 1, "command substitution (`...`)"),
        (
            "A=1\n\nif [ -e /x ]; then\n A=2\nfi\n",
            3,
            "a conditional or loop (if ...)",
        ),
        (
            "for d in a b; do X=$d; done\n",
            1,
            "a conditional or loop (for ...)",
        ),
        ("source /etc/rear/other.conf\n", 1, "sourcing another file"),
        (". /etc/rear/other.conf\n", 1, "sourcing another file"),
        ("f() { A=1; }\n", 1, "a function"),
        ("function f {\n A=1\n}\n", 1, "a function"),
        ("A=1 cmd arg\n", 1, "a command run with a variable set"),
        ("A=x | cat\n", 1, "a list, pipe, redirection or subshell"),
        (
            "A=${B:-default}\n",
            1,
            "the parameter expansion ${B:-default}",
        ),
        ("A=$1\n", 1, "the special parameter $1"),
        ("rm -rf /tmp/x\n", 1, "the command `rm -rf /tmp/x`"),
        ("declare -a A\n", 1, "the builtin declare"),
        ("A=( a b\n", 1, "an array without its closing `)`"),
        ("A=\"open\n", 1, "quote that is never closed"),
    ] {
        let e = read(text).unwrap_err().to_string();
        assert!(
            e.contains(&format!("/etc/rear/local.conf:{line}: ")) && e.contains(construct),
            "{text:?} gave: {e}"
        );
        assert!(e.contains("--lenient"), "{e}");
    }
}

#[test]
fn lenient_skips_whole_constructs_and_says_where() {
    let c = lenient(concat!(
        "A=1\n",
        "if [ \"$(hostname)\" = db1 ]; then\n",
        "    A=2\n",
        "    if true; then B=3; fi\n",
        "fi\n",
        "C=$(date)\n",
        "my_func() {\n",
        "    D=4\n",
        "}\n",
        "for x in 1 2; do\n",
        "    E=5\n",
        "done\n",
        "F=6\n",
    ));
    assert_eq!(s(&c, "A"), "1");
    for n in ["B", "C", "D", "E"] {
        assert!(c.get(n).is_none(), "{n} was read: {:?}", c.get(n));
    }
    assert_eq!(s(&c, "F"), "6");
    let lines: Vec<usize> = c.skipped.iter().map(|s| s.origin.line).collect();
    assert_eq!(lines, [2, 6, 7, 10]);
    assert!(c.skipped[0]
        .to_string()
        .starts_with("/etc/rear/local.conf:2: a conditional"));
}

#[test]
fn site_conf_then_local_conf_as_rear_reads_them() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("site.conf"),
        "OUTPUT=USB\nBACKUP=NETFS\nCOPY_AS_IS=( /site )\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("local.conf"),
        "# local wins\nOUTPUT=ISO\nCOPY_AS_IS+=( /local )\n",
    )
    .unwrap();
    let c = Config::default().read_dir(d.path(), &[], false).unwrap();
    assert_eq!(s(&c, "OUTPUT"), "ISO");
    assert_eq!(c.vars["OUTPUT"].origin.file, d.path().join("local.conf"));
    assert_eq!(c.vars["OUTPUT"].origin.line, 2);
    assert_eq!(s(&c, "BACKUP"), "NETFS");
    assert_eq!(c.vars["BACKUP"].origin.file, d.path().join("site.conf"));
    assert_eq!(a(&c, "COPY_AS_IS"), ["/site", "/local"]);
    // A directory with neither file reads as nothing set.
    let empty = tempfile::tempdir().unwrap();
    assert!(Config::default()
        .read_dir(empty.path(), &[], false)
        .unwrap()
        .vars
        .is_empty());
}

#[test]
fn text_beyond_ascii_is_kept_whole() {
    let c = read("A=/srv/sauvegardé\nB='Zürich'\nC=\"José ${A}\"\nD=( 'ü' \"ä\" ö\\é )\n").unwrap();
    assert_eq!(s(&c, "A"), "/srv/sauvegardé");
    assert_eq!(s(&c, "B"), "Zürich");
    assert_eq!(s(&c, "C"), "José /srv/sauvegardé");
    assert_eq!(a(&c, "D"), ["ü", "ä", "öé"]);
}

#[test]
fn a_tilde_at_a_words_start_is_roots_home() {
    let c = read("K=~root/keys\nH=~\nP=/a:~/b\nQ='~/x'\nA=( ~/y x~ ~bob/z )\n").unwrap();
    assert_eq!(s(&c, "K"), "/root/keys");
    assert_eq!(s(&c, "H"), "/root");
    assert_eq!(s(&c, "P"), "/a:/root/b");
    assert_eq!(s(&c, "Q"), "~/x", "quoted: as it is");
    assert_eq!(a(&c, "A"), ["/root/y", "x~", "~bob/z"]);
}
