//! The tables this crate writes, read by util-linux's sfdisk and gdisk's
//! sgdisk (the tools every distribution has), and the tables sfdisk
//! writes read back by this crate: both ways the same partitions. Then
//! the kernel: a loop device's partitions after a write, also while one
//! of them is open.

use rear_ptable::{read, write, Label, Part, Table};
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;

fn image(dir: &Path, name: &str, bytes: u64) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().set_len(bytes).unwrap();
    p
}

fn part(number: u32, start: u64, size: u64, type_: &str) -> Part {
    Part {
        number,
        start,
        size,
        type_: type_.into(),
        ..Default::default()
    }
}

/// A BIOS + UEFI GPT disk: BIOS boot with attributes, ESP, a named root
/// with its own GUID, and a gap before an LVM partition numbered 5.
fn gpt() -> Table {
    let mut bios = part(1, 2048, 2048, "21686148-6449-6e6f-744e-656564454649");
    bios.attrs = Some("LegacyBIOSBootable".into());
    let mut root = part(
        3,
        210_944,
        1_048_576,
        "0fc63daf-8483-4772-8e79-3d69d8477de4",
    );
    root.uuid = Some("6e1c5b0a-3f2d-4c1e-9a7b-2d4e6f8a0b1c".into());
    root.name = Some("Linux root (x86-64) é".into());
    root.attrs = Some("RequiredPartition GUID:59,63".into());
    Table {
        label: Label::Gpt,
        id: Some("0a2f1e9c-7a33-4ac6-8d5c-5f5e1f0b8a01".into()),
        sector_size: 512,
        parts: vec![
            bios,
            part(2, 4096, 206_848, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
            root,
            part(
                5,
                1_300_480,
                2_000_000,
                "e6d6d379-f507-44c2-a23c-238f2a3df928",
            ),
        ],
    }
}

/// An old BIOS disk: a bootable primary, an extended partition with three
/// logical ones (the first at the extended partition's start + 2048, the
/// next right after the one before and its EBR), and a primary after it.
fn dos() -> Table {
    let mut boot = part(1, 2048, 499_712, "83");
    boot.bootable = true;
    Table {
        label: Label::Dos,
        id: Some("0x5eedc0de".into()),
        sector_size: 512,
        parts: vec![
            boot,
            part(2, 501_760, 2_000_000, "5"),
            part(3, 2_600_000, 500_000, "fd"),
            part(5, 503_808, 400_000, "82"),
            part(6, 905_856, 600_000, "8e"),
            part(7, 1_505_857, 995_903, "83"),
        ],
    }
}

fn sfdisk_json(img: &Path) -> serde_json::Value {
    let out = Command::new("sfdisk")
        .arg("--json")
        .arg(img)
        .output()
        .expect("sfdisk (util-linux) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What sfdisk says of the image, in this crate's terms.
fn as_sfdisk_sees_it(img: &Path) -> Table {
    let v = sfdisk_json(img);
    let t = &v["partitiontable"];
    let s = |v: &serde_json::Value| v.as_str().map(|s| s.to_ascii_lowercase());
    let label = match t["label"].as_str() {
        Some("gpt") => Label::Gpt,
        _ => Label::Dos,
    };
    let parts = t["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let node = p["node"].as_str().unwrap();
            let digits = node.len() - node.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            Part {
                number: node[node.len() - digits..].parse().unwrap(),
                start: p["start"].as_u64().unwrap(),
                size: p["size"].as_u64().unwrap(),
                type_: s(&p["type"]).unwrap(),
                uuid: s(&p["uuid"]),
                name: p["name"].as_str().map(String::from),
                attrs: p["attrs"].as_str().map(String::from),
                bootable: p["bootable"].as_bool().unwrap_or(false),
            }
        })
        .collect();
    Table {
        label,
        id: s(&t["id"]),
        sector_size: t["sectorsize"].as_u64().unwrap_or(512) as u32,
        parts,
    }
}

fn verified_by_sfdisk(img: &Path) {
    let out = Command::new("sfdisk")
        .arg("--verify")
        .arg(img)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sfdisk --verify: {text}");
    assert!(
        text.contains("No errors detected"),
        "sfdisk --verify: {text}"
    );
}

#[test]
fn a_gpt_written_here_is_what_sfdisk_and_sgdisk_read() {
    let d = tempfile::tempdir().unwrap();
    let img = image(d.path(), "gpt.img", 4096 * MIB);
    let t = gpt();
    write(&img, &t).unwrap();
    let seen = as_sfdisk_sees_it(&img);
    let mut want = t.clone();
    // The partitions this table left to a random GUID have one now.
    for (w, s) in want.parts.iter_mut().zip(&seen.parts) {
        assert!(s.uuid.as_deref().is_some_and(|u| u.len() == 36));
        w.uuid.get_or_insert(s.uuid.clone().unwrap());
    }
    assert_eq!(seen, want);
    assert_eq!(read(&img, 512).unwrap(), want, "read back here");
    verified_by_sfdisk(&img);
    let v = sfdisk_json(&img);
    assert_eq!(v["partitiontable"]["firstlba"].as_u64(), Some(34));
    assert_eq!(
        v["partitiontable"]["lastlba"].as_u64(),
        Some(4096 * 2048 - 34)
    );
    let out = Command::new("sgdisk").arg("--verify").arg(&img).output();
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("No problems found"),
            "sgdisk --verify: {text}"
        );
    }
}

#[test]
fn a_gpt_of_4096_byte_sectors_is_what_sfdisk_reads() {
    if !root() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = image(d.path(), "4k.img", 512 * MIB);
    let lo = Loop::new(&img, &["--sector-size", "4096"]).expect("losetup");
    let dev = Path::new(&lo.0);
    let mut t = Table {
        sector_size: 4096,
        ..gpt()
    };
    t.parts = vec![
        part(1, 256, 25_600, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
        part(2, 25_856, 100_000, "0fc63daf-8483-4772-8e79-3d69d8477de4"),
    ];
    // A table of 512-byte sectors does not go onto this disk.
    let e = write(dev, &gpt()).unwrap_err().to_string();
    assert!(
        e.contains("has 4096-byte sectors; the table was made for 512-byte"),
        "{e}"
    );
    write(dev, &t).unwrap();
    let seen = as_sfdisk_sees_it(dev);
    assert_eq!(seen.sector_size, 4096);
    let got: Vec<(u64, u64)> = seen.parts.iter().map(|p| (p.start, p.size)).collect();
    assert_eq!(got, [(256, 25_600), (25_856, 100_000)]);
    let v = sfdisk_json(dev);
    assert_eq!(v["partitiontable"]["firstlba"].as_u64(), Some(6));
    let mine = read(dev, 512).unwrap();
    assert_eq!((mine.sector_size, mine.parts.len()), (4096, 2));
    assert_eq!(mine.id, t.id);
    // The kernel counts 512-byte units in sysfs.
    assert_eq!(
        lo.kernel(),
        [(1, 256 * 8, 25_600 * 8), (2, 25_856 * 8, 100_000 * 8)]
    );
}

#[test]
fn an_mbr_with_logical_partitions_written_here_is_what_sfdisk_reads() {
    let d = tempfile::tempdir().unwrap();
    let img = image(d.path(), "dos.img", 2 * 1024 * MIB);
    let t = dos();
    write(&img, &t).unwrap();
    let mut seen = as_sfdisk_sees_it(&img);
    for p in &mut seen.parts {
        p.uuid = None; // sfdisk makes PARTUUIDs of the disk id: <id>-<nn>
    }
    assert_eq!(seen, t);
    assert_eq!(read(&img, 512).unwrap(), t);
    verified_by_sfdisk(&img);
}

#[test]
fn tables_sfdisk_writes_read_here_as_sfdisk_reads_them() {
    let d = tempfile::tempdir().unwrap();
    // sfdisk leaves 2048 sectors for an EBR where this crate takes one.
    let mut aligned = dos();
    aligned.parts[5] = part(7, 1_507_904, 993_856, "83");
    for (name, t, bytes) in [("gpt", gpt(), 4096 * MIB), ("dos", aligned, 2048 * MIB)] {
        let img = image(d.path(), &format!("{name}.img"), bytes);
        let script = t.script("/dev/sdz");
        let mut child = Command::new("sfdisk")
            .args(["--no-reread", "--no-tell-kernel", "--quiet"])
            .arg(&img)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "sfdisk took:\n{script}");
        let mut seen = as_sfdisk_sees_it(&img);
        let mut mine = read(&img, 512).unwrap();
        if t.label == Label::Dos {
            seen.parts.iter_mut().for_each(|p| p.uuid = None);
        }
        // Types as sfdisk prints them ("5", "fd") and as read here agree.
        mine.parts.sort_by_key(|p| p.number);
        assert_eq!(mine, seen, "{name}");
    }
}

#[test]
fn tables_that_do_not_fit_are_refused_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    let img = image(d.path(), "small.img", 64 * MIB);
    std::fs::write(&img, b"untouched").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(64 * MIB)
        .unwrap();
    let cases: Vec<(Table, &str)> = vec![
        (gpt(), "outside the disk's usable sectors"),
        (
            Table {
                parts: vec![part(1, 2048, 4096, "83"), part(2, 4000, 4096, "83")],
                ..dos()
            },
            "partitions 1 and 2 overlap",
        ),
        (
            Table {
                parts: vec![part(5, 4096, 4096, "83")],
                ..dos()
            },
            "needs an extended partition",
        ),
        (
            Table {
                parts: vec![Part {
                    name: Some("x".repeat(37)),
                    ..part(1, 2048, 4096, "0fc63daf-8483-4772-8e79-3d69d8477de4")
                }],
                ..gpt()
            },
            "longer than a GPT's 36",
        ),
        (
            Table {
                parts: vec![part(1, 2048, 4096, "linux")],
                ..gpt()
            },
            "type \"linux\" is not a GUID",
        ),
        (
            Table {
                sector_size: 4096,
                parts: vec![part(1, 16_000, 4096, "83")],
                ..dos()
            },
            "outside the disk",
        ),
    ];
    for (t, says) in cases {
        let e = write(&img, &t).unwrap_err().to_string();
        assert!(e.contains(says), "{says}: {e}");
        assert_eq!(&std::fs::read(&img).unwrap()[..9], b"untouched", "{says}");
    }
}

/// A loop device over a file, with partitions (`losetup -P`), detached
/// when dropped.
struct Loop(String);

impl Loop {
    fn new(file: &Path, args: &[&str]) -> Option<Loop> {
        let out = Command::new("losetup")
            .args(["--find", "--show", "--partscan"])
            .args(args)
            .arg(file)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| Loop(String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }

    /// (number, start, size) in sectors of the kernel's partitions.
    fn kernel(&self) -> Vec<(u32, u64, u64)> {
        let name = self.0.trim_start_matches("/dev/");
        let mut v: Vec<(u32, u64, u64)> = std::fs::read_dir(format!("/sys/class/block/{name}"))
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let r = |f: &str| -> Option<u64> {
                    std::fs::read_to_string(e.path().join(f))
                        .ok()?
                        .trim()
                        .parse()
                        .ok()
                };
                Some((r("partition")? as u32, r("start")?, r("size")?))
            })
            .collect();
        v.sort();
        v
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn the_kernel_sees_the_new_partitions_also_while_one_is_open() {
    if !root() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = image(d.path(), "loop.img", 1024 * MIB);
    let lo = Loop::new(&img, &[]).expect("losetup --partscan (root, loop module)");
    let dev = Path::new(&lo.0);
    let mut t = Table {
        parts: vec![
            part(1, 2048, 2048, "21686148-6449-6e6f-744e-656564454649"),
            part(2, 4096, 100_000, "0fc63daf-8483-4772-8e79-3d69d8477de4"),
            part(3, 200_000, 300_000, "0fc63daf-8483-4772-8e79-3d69d8477de4"),
        ],
        ..gpt()
    };
    write(dev, &t).unwrap();
    assert_eq!(
        lo.kernel(),
        [(1, 2048, 2048), (2, 4096, 100_000), (3, 200_000, 300_000)]
    );
    // Partition 2 held open: the disk is busy, the kernel is told
    // partition by partition; 2 stays, 3 moves, 4 appears.
    let held = std::fs::File::open(format!("{}p2", lo.0)).unwrap();
    t.parts[2] = part(3, 300_000, 100_000, "0fc63daf-8483-4772-8e79-3d69d8477de4");
    t.parts.push(part(
        4,
        500_000,
        100_000,
        "0fc63daf-8483-4772-8e79-3d69d8477de4",
    ));
    write(dev, &t).unwrap();
    assert_eq!(
        lo.kernel(),
        [
            (1, 2048, 2048),
            (2, 4096, 100_000),
            (3, 300_000, 100_000),
            (4, 500_000, 100_000)
        ]
    );
    // Moving the open partition fails, naming it.
    t.parts[1].size = 50_000;
    let e = write(dev, &t).unwrap_err().to_string();
    assert!(e.contains("remove the old partition 2"), "{e}");
    drop(held);
    write(dev, &t).unwrap();
    assert_eq!(lo.kernel()[1], (2, 4096, 50_000));
}

/// Loop devices need root; said on stderr when skipped.
fn root() -> bool {
    let uid = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .map(|r| r.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false);
    if !uid {
        eprintln!("skipped: loop devices need root");
    }
    uid
}
