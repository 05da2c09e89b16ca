//! The `-s` shell script.

use super::*;

#[test]
fn the_scripts_passphrase_is_the_first_line_without_cr() {
    let l = scenarios::luks_on_lvm();
    let opts = Options {
        passphrase_file: Some("/media/pass".into()),
        ..Default::default()
    };
    let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
    let script = p.script("layout.json");
    let def = script
        .lines()
        .find(|l| l.starts_with("passphrase() {"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (content, want) in [
        (&b"pass phrase\nsecond\n"[..], &b"pass phrase\n"[..]),
        (b"crlf\r\n", b"crlf\n"),
        (b"no newline", b"no newline\n"),
    ] {
        let f = dir.path().join("p");
        std::fs::write(&f, content).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{def}\npassphrase \"$1\""))
            .arg("-")
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(out.stdout, want, "{content:?}");
    }
}

#[test]
fn the_script_skips_done_steps_and_quotes() {
    let p = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[disk("/dev/vda", 2 * GIB)],
        &Options::default(),
    )
    .unwrap();
    let s = p.script("/var/lib/rear-build/layout.json");
    assert!(s.contains("#   /dev/vda -> /dev/vda"));
    assert!(
        s.contains("step wipe:/dev/vda wipefs --all --force /dev/vda\n"),
        "{s}"
    );
    assert!(s.contains("step partition:/dev/vda sfdisk --wipe=always --wipe-partitions=always /dev/vda <<'REAR_EOF'\nlabel: gpt\n"), "{s}");
    assert!(s.contains("grep -qxF \"$id\" \"$state\""));
}
