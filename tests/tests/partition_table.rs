//! `rear-build partition-table`, the recovery plan's partitioning step:
//! a script on stdin onto a disk image, printed back with --dump; a bad
//! script refused naming its line, the image untouched.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut c = Command::new(rear_tests::bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rear-build");
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

const SCRIPT: &str = "label: gpt
label-id: 0a2f1e9c-7a33-4ac6-8d5c-5f5e1f0b8a01
unit: sectors
sector-size: 512
IMG1 : start=2048, size=2048, type=21686148-6449-6e6f-744e-656564454649, uuid=9e1f2b4c-1d2e-4f50-8a6b-7c8d9e0f1a2b, attrs=\"LegacyBIOSBootable\"
IMG2 : start=4096, size=200000, type=0fc63daf-8483-4772-8e79-3d69d8477de4, uuid=6e1c5b0a-3f2d-4c1e-9a7b-2d4e6f8a0b1c, name=\"root\"
";

#[test]
fn a_script_written_to_a_disk_dumps_back_the_same() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let img = img.to_str().unwrap();
    let script = SCRIPT.replace("IMG", img);
    let w = run(&["partition-table", img], &script);
    let err = String::from_utf8_lossy(&w.stderr);
    assert!(w.status.success(), "{err}");
    assert!(
        err.contains("wrote a GPT partition table with 2 partition(s)"),
        "{err}"
    );
    let dump = run(&["partition-table", "--dump", img], "");
    assert!(dump.status.success());
    assert_eq!(String::from_utf8_lossy(&dump.stdout), script);
}

#[test]
fn a_bad_script_is_refused_naming_the_line_and_nothing_is_written() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("disk.img");
    std::fs::write(&img, b"old contents").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let img = img.to_str().unwrap();
    for (script, says) in [
        (
            SCRIPT.replace("size=200000", "size=lots"),
            "line 6: size must be a number",
        ),
        (
            SCRIPT.replace("start=4096", "start=3000"),
            "partitions 1 and 2 overlap",
        ),
        (
            SCRIPT.replace("size=200000", "size=900000"),
            "outside the disk's usable sectors",
        ),
    ] {
        let w = run(&["partition-table", img], &script.replace("IMG", img));
        let err = String::from_utf8_lossy(&w.stderr);
        assert_ne!(w.status.code(), Some(0), "{says}");
        assert!(err.contains(says), "{says}: {err}");
        assert_eq!(&std::fs::read(img).unwrap()[..12], b"old contents");
    }
}
