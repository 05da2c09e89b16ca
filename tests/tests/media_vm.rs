//! The boot media boot a machine: `rescue.iso` as a CD and as a disk
//! (hybrid), the raw disk `rescue.img`, the rescue disk made by `format`
//! (a generation chosen from its menu by typing on the serial console),
//! the ISO taken out of the OBDR tape, and the PXE tree, on SeaBIOS and
//! on OVMF (UEFI), and with Secure Boot enforcing (OVMF with Microsoft's
//! keys: shim → Debian's signed GRUB → Debian's signed kernel). Each boot
//! waits for the rescue system's `REAR-RESCUE-READY` on the serial
//! console; but for the rescue disk, no key is pressed. The quick tier
//! boots the ISO as a CD on SeaBIOS and with Secure Boot, the raw disk on
//! SeaBIOS and the rescue disk on OVMF; the full tier (`ci/test --full`)
//! the rest and an unsigned ISO refused by Secure Boot. The full tier also
//! boots a gzip and an xz initrd (`--compress`) with the host's kernel.
use rear_tests::{qemu, rear_build, vm_tests_skipped, Run, Vm, VmSpec};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Debian's OVMF (package ovmf).
const OVMF: &str = "/usr/share/ovmf/OVMF.fd";
const SECBOOT_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
const MS_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

/// `rear-build image` with its store and output (`out`) in `dir`.
fn image(dir: &Path, extra: &[&str]) -> Run {
    let (store, out) = (dir.join("store"), dir.join("out"));
    let mut args = vec![
        "image",
        "--store",
        store.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    rear_build(&args, &[], None)
}

/// One image for every test of this file, with its ISO and raw disk (in
/// the returned directory): building it takes seconds, the boots minutes.
fn media() -> &'static Path {
    static OUT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &OUT.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let r = image(d.path(), &["--media", "iso,raw"]);
        assert_eq!(r.status, 0, "image failed:\n{}", r.stderr);
        assert!(
            r.stderr.contains("rescue.iso: BIOS and UEFI with Secure Boot"),
            "the ISO is not made for Secure Boot (shim-signed, grub-efi-amd64-signed and the signed Debian kernel are in ci/packages.txt):\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("rescue.img: BIOS and UEFI with Secure Boot"),
            "{}",
            r.stderr
        );
        let out = d.path().join("out");
        (d, out)
    })
    .1
}

#[derive(Clone, Copy, Debug)]
enum Firmware {
    SeaBios,
    Ovmf,
    SecureBoot,
}

#[derive(Clone, Copy, Debug)]
enum As {
    Cd,
    Disk,
}

fn boot_command(name: &str, fw: Firmware, medium: As, iso: &Path, work: &Path) -> Command {
    let machine = match fw {
        Firmware::SecureBoot => "q35,smm=on,accel=tcg",
        _ => "q35,accel=tcg",
    };
    let mut c = qemu(machine, 2048);
    match fw {
        Firmware::SeaBios => {}
        Firmware::Ovmf => {
            c.args(["-bios", OVMF]);
        }
        Firmware::SecureBoot => {
            // Variables with Microsoft's keys enrolled, a copy per boot.
            let vars = work.join(format!("{name}.vars.fd"));
            std::fs::copy(MS_VARS, &vars).unwrap();
            c.args(["-global", "driver=cfi.pflash01,property=secure,value=on"])
                .arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=0,file={SECBOOT_CODE},readonly=on"
                ))
                .arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    vars.display()
                ));
        }
    }
    // Read-only: the medium itself must not change by being booted.
    match medium {
        As::Cd => c
            .arg("-drive")
            .arg(format!(
                "file={},format=raw,if=none,id=cd,readonly=on",
                iso.display()
            ))
            .args(["-device", "ide-cd,drive=cd,bootindex=0"]),
        As::Disk => c
            .arg("-drive")
            .arg(format!(
                "file={},format=raw,if=none,id=stick,readonly=on",
                iso.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=stick,bootindex=0"]),
    };
    c
}

/// Boots `file` of the shared image (`rescue.iso`, `rescue.img`) and
/// waits for the rescue system, no key pressed.
fn boots(name: &str, fw: Firmware, medium: As, file: &str) {
    if vm_tests_skipped(name) {
        return;
    }
    for f in [OVMF, SECBOOT_CODE, MS_VARS] {
        assert!(
            !matches!(fw, Firmware::Ovmf | Firmware::SecureBoot) || Path::new(f).is_file(),
            "{name} needs {f}: apt-get install ovmf (or run ci/setup --test)"
        );
    }
    let work = tempfile::tempdir().unwrap();
    let path = media().join(file);
    let mut vm = Vm::spawn(name, boot_command(name, fw, medium, &path, work.path()));
    vm.expect("REAR-RESCUE-READY", Duration::from_secs(300));
    let log = vm.log.join("\n");
    // GRUB's menu came first, on the serial line.
    assert!(
        log.contains("rear-build rescue shell"),
        "{name}: no menu on the serial console"
    );
    if let Firmware::SecureBoot = fw {
        assert!(
            log.contains("Secure boot enabled"),
            "{name}: the kernel did not see Secure Boot on: {}",
            vm.save_log().display()
        );
    }
    vm.kill();
}

#[test]
fn iso_boots_as_a_cd_with_seabios() {
    boots("iso-cd-seabios", Firmware::SeaBios, As::Cd, "rescue.iso");
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn iso_boots_as_a_disk_with_ovmf() {
    boots("iso-disk-ovmf", Firmware::Ovmf, As::Disk, "rescue.iso");
}

#[test]
fn iso_boots_as_a_cd_with_secure_boot_enforcing() {
    boots(
        "iso-cd-secureboot",
        Firmware::SecureBoot,
        As::Cd,
        "rescue.iso",
    );
}

#[test]
fn raw_disk_boots_with_seabios() {
    boots("raw-seabios", Firmware::SeaBios, As::Disk, "rescue.img");
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn raw_disk_boots_with_ovmf() {
    boots("raw-ovmf", Firmware::Ovmf, As::Disk, "rescue.img");
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn raw_disk_boots_with_secure_boot_enforcing() {
    boots(
        "raw-secureboot",
        Firmware::SecureBoot,
        As::Disk,
        "rescue.img",
    );
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn iso_boots_as_a_disk_with_seabios() {
    boots(
        "iso-disk-seabios",
        Firmware::SeaBios,
        As::Disk,
        "rescue.iso",
    );
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn iso_boots_as_a_cd_with_ovmf() {
    boots("iso-cd-ovmf", Firmware::Ovmf, As::Cd, "rescue.iso");
}

/// An ISO made for an unsigned kernel carries an unsigned GRUB, which
/// Secure Boot refuses: the firmware never starts it.
#[test]
#[ignore = "full VM tier: ci/test --full"]
fn an_unsigned_iso_is_refused_by_secure_boot() {
    if vm_tests_skipped("iso-unsigned-secureboot") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // The Debian kernel with its certificate table entry emptied (named
    // as a kernel is: its version comes from the name).
    let signed = newest_kernel();
    let kernel = d.path().join(signed.file_name().unwrap());
    let mut data = std::fs::read(&signed).unwrap();
    let pe = u32::from_le_bytes(data[0x3c..0x40].try_into().unwrap()) as usize;
    let cert_size = pe + 24 + 112 + 4 * 8 + 4;
    data[cert_size..cert_size + 4].copy_from_slice(&[0; 4]);
    std::fs::write(&kernel, &data).unwrap();
    let version = signed
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("vmlinuz-")
        .to_string();
    let out = d.path().join("out");
    let r = image(
        d.path(),
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--modules-dir",
            &format!("/lib/modules/{version}"),
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("not with Secure Boot on"), "{}", r.stderr);
    let iso = out.join("rescue.iso");
    let name = "iso-unsigned-secureboot";
    let mut vm = Vm::spawn(
        name,
        boot_command(name, Firmware::SecureBoot, As::Cd, &iso, d.path()),
    );
    // OVMF's boot manager: the CD's boot loader fails its signature check.
    let refused = vm.wait_for("Access Denied", Duration::from_secs(240));
    let log = vm.log.join("\n");
    vm.kill();
    assert!(
        refused.is_some_and(|l| l.contains("DVD-ROM")),
        "no refusal of the CD on the console:\n{log}"
    );
    assert!(!log.contains("REAR-RESCUE-READY"), "{log}");
}

fn newest_kernel() -> PathBuf {
    let mut k: Vec<PathBuf> = std::fs::read_dir("/boot")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("vmlinuz-")
        })
        .collect();
    k.sort();
    k.pop()
        .expect("a Debian kernel in /boot (apt-get install linux-image-amd64)")
}

/// The PXE tree served by qemu's own TFTP server: the NIC's iPXE fetches
/// the host's iPXE script, whose menu boots the rescue shell by itself.
#[test]
#[ignore = "full VM tier: ci/test --full"]
fn pxe_boots_through_ipxe_over_tftp() {
    let name = "pxe-ipxe-seabios";
    if vm_tests_skipped(name) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let r = image(d.path(), &["--media", "pxe"]);
    assert_eq!(r.status, 0, "image failed:\n{}", r.stderr);
    let tree = out.join("pxe");
    let script = std::fs::read_dir(&tree)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".ipxe"))
        .expect("an iPXE script in pxe/");
    let mut c = qemu("q35,accel=tcg", 2048);
    c.arg("-netdev")
        .arg(format!(
            "user,id=n0,restrict=on,tftp={},bootfile={script}",
            tree.display()
        ))
        .args(["-device", "virtio-net-pci,netdev=n0,bootindex=0"]);
    let mut vm = Vm::spawn(name, c);
    vm.expect(
        &format!("tftp://10.0.2.2/{script}"),
        Duration::from_secs(120),
    );
    vm.expect("REAR-RESCUE-READY", Duration::from_secs(300));
    vm.kill();
}

/// A rescue disk image made by `rear-build format`, holding two
/// generations of this host and two of `web2` (built in another UTS
/// namespace, named so), with the generations' names (host/GEN) in the
/// order `image` wrote them.
fn usb_disk() -> &'static (tempfile::TempDir, PathBuf, Vec<String>) {
    static DISK: OnceLock<(tempfile::TempDir, PathBuf, Vec<String>)> = OnceLock::new();
    DISK.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let disk = d.path().join("usb.img");
        std::fs::File::create(&disk)
            .unwrap()
            .set_len(2 << 30)
            .unwrap();
        let r = rear_build(&["format", disk.to_str().unwrap(), "--yes"], &[], None);
        assert_eq!(r.status, 0, "format failed:\n{}", r.stderr);
        let (store, out) = (d.path().join("store"), d.path().join("out"));
        let mut gens = Vec::new();
        for host in [None, None, Some("web2"), Some("web2")] {
            let mut c = match host {
                None => Command::new(rear_tests::bin()),
                Some(h) => {
                    let mut c = Command::new("unshare");
                    c.args([
                        "--uts",
                        "sh",
                        "-c",
                        &format!("hostname {h} && exec \"$0\" \"$@\""),
                    ])
                    .arg(rear_tests::bin());
                    c
                }
            };
            c.args(["image", "--media", "usb", "--usb-device"])
                .arg(&disk)
                .arg("--store")
                .arg(&store)
                .arg("--output")
                .arg(&out);
            let o = c.output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "image --media usb failed:\n{err}");
            // "rescue disk: DEV (rear/HOST/GEN; ...)"
            let gen = err
                .split("(rear/")
                .nth(1)
                .and_then(|s| s.split(';').next())
                .unwrap_or_else(|| panic!("no generation named:\n{err}"))
                .to_string();
            gens.push(gen);
        }
        let last = gens.last().unwrap();
        assert!(last.starts_with("web2/"), "{gens:?}");
        (d, disk, gens)
    })
}

/// Boots the rescue disk and picks web2's older generation from the menu
/// by typing on the serial console: the menu lists this host's two
/// generations, then web2's newest first, so it is the fourth submenu.
fn usb_boots_the_chosen_generation(name: &str, fw: Firmware) {
    if vm_tests_skipped(name) {
        return;
    }
    let (_d, disk, gens) = usb_disk();
    let chosen = &gens[2];
    let work = tempfile::tempdir().unwrap();
    // A copy: booting must not depend on the disk being writable, and
    // tests must not share a writable disk.
    let copy = work.path().join("usb.img");
    std::fs::copy(disk, &copy).unwrap();
    let mut vm = Vm::spawn(name, boot_command(name, fw, As::Disk, &copy, work.path()));
    let title = chosen.replacen('/', " ", 1);
    // GRUB's one-byte "next entry" key: an arrow key is an escape
    // sequence, which GRUB takes for Esc when its bytes arrive apart
    // (seen under emulation on a busy machine).
    let down = "v";
    vm.choose(&title, Duration::from_secs(240), &[down, down, down, "\r"]);
    vm.expect("rear-build rescue shell (web2)", Duration::from_secs(60));
    vm.send(&["\r"]);
    let cmdline = vm.expect("Command line:", Duration::from_secs(120));
    assert!(
        cmdline.contains(&format!("rear.usb={chosen} "))
            || cmdline.ends_with(&format!("rear.usb={chosen}")),
        "{name}: booted {cmdline:?}, not {chosen}"
    );
    vm.expect("REAR-RESCUE-READY", Duration::from_secs(300));
    vm.kill();
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn usb_disk_boots_a_chosen_generation_with_seabios() {
    usb_boots_the_chosen_generation("usb-seabios", Firmware::SeaBios);
}

#[test]
fn usb_disk_boots_a_chosen_generation_with_ovmf() {
    usb_boots_the_chosen_generation("usb-ovmf", Firmware::Ovmf);
}

/// The OBDR tape: the ISO that `rear-build tape extract` takes out of
/// rescue.tap (what an OBDR drive in CD-ROM emulation presents: the
/// tape from block 20 on) boots as a CD on SeaBIOS, no key pressed.
#[test]
#[ignore = "full VM tier: ci/test --full"]
fn the_iso_on_the_obdr_tape_boots_as_a_cd_with_seabios() {
    let name = "obdr-cd-seabios";
    if vm_tests_skipped(name) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let r = image(d.path(), &["--media", "obdr"]);
    assert_eq!(r.status, 0, "image failed:\n{}", r.stderr);
    let tap = d.path().join("out/rescue.tap");
    let listed = rear_build(&["tape", "list", tap.to_str().unwrap()], &[], None);
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.starts_with("file 0: 20 x 512 bytes, ") && listed.stdout.lines().count() == 1,
        "not the OBDR layout:\n{}",
        listed.stdout
    );
    let iso = d.path().join("from-tape.iso");
    let x = rear_build(
        &[
            "tape",
            "extract",
            tap.to_str().unwrap(),
            iso.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(x.status, 0, "{}", x.stderr);
    let mut vm = Vm::spawn(
        name,
        boot_command(name, Firmware::SeaBios, As::Cd, &iso, d.path()),
    );
    vm.expect("REAR-RESCUE-READY", Duration::from_secs(300));
    let log = vm.log.join("\n");
    vm.kill();
    assert!(
        log.contains("rear-build rescue shell"),
        "{name}: no menu on the serial console"
    );
}

/// Runs inside the rescue system: each of the four layers was unpacked
/// (base: bash runs this; modules: modprobe loads one the init did not;
/// config: this script and the image id) and the kernel reported no
/// unpacking error.
const COMPRESSED_CHECK: &str = r#"#!/bin/bash
fails=0
check() { if "$@" >/tmp/out 2>&1; then echo "CHECK-OK: $*"; else echo "CHECK-FAIL: $* ($(head -c 300 /tmp/out))"; fails=$((fails+1)); fi; }
check modprobe dm_zero
check grep -q '^dm_zero ' /proc/modules
check test -s /etc/rear-build/image-id
check dmesg
check sh -c '! dmesg | grep -i "initramfs unpacking failed"'
echo "IMAGE-ID=$(cat /etc/rear-build/image-id)"
echo "CHECKS-FAILED=$fails"
exit $fails
"#;

/// An initrd compressed with `alg` boots with the host's Debian kernel
/// (qemu -kernel -initrd) into its init, which runs the check above.
fn compressed_initrd_boots(alg: &str) {
    let name = format!("{alg}-initrd-boots");
    if vm_tests_skipped(&name) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("compress-check");
    std::fs::write(&script, COMPRESSED_CHECK).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let include = format!("{}:/usr/local/bin/compress-check", script.display());
    let r = image(
        d.path(),
        &["--media", "none", "--compress", alg, "--include", &include],
    );
    assert_eq!(r.status, 0, "image failed:\n{}", r.stderr);
    let out = d.path().join("out");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["inputs"]["compression"]["algorithm"], alg);
    let initrd = out.join("initrd.img");
    let size = std::fs::metadata(&initrd).unwrap().len();
    let started = std::time::Instant::now();
    let mut vm = Vm::boot(VmSpec {
        name: &name,
        kernel: &out.join("vmlinuz"),
        initrd: &initrd,
        append: "rear.auto=run:/usr/local/bin/compress-check",
        disks: vec![],
        memory_mb: 2048,
        host_net: false,
    });
    vm.expect("REAR-RESCUE-READY", Duration::from_secs(300));
    let ready = started.elapsed();
    let exit = vm.expect("REAR-RUN-EXIT=", Duration::from_secs(180));
    vm.wait_exit(Duration::from_secs(60));
    let log = vm.save_log();
    eprintln!(
        "{name}: initrd.img {size} bytes, REAR-RESCUE-READY after {:.1} s, done after {:.1} s",
        ready.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let fails: Vec<&String> = vm.log.iter().filter(|l| l.contains("CHECK-FAIL")).collect();
    let id = format!("IMAGE-ID={}", m["image_id"].as_str().unwrap());
    assert!(
        exit.trim_end().ends_with("REAR-RUN-EXIT=0")
            && fails.is_empty()
            && vm.log.iter().any(|l| l.trim_end().ends_with(&id)),
        "{name}: the rescue system did not pass its checks: {fails:?}\nexit line: {exit}\nconsole log: {}",
        log.display()
    );
    assert!(
        !vm.log
            .iter()
            .any(|l| l.contains("Initramfs unpacking failed")),
        "{name}: the kernel could not unpack it; console log: {}",
        log.display()
    );
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn gzip_initrd_boots_with_the_debian_kernel() {
    compressed_initrd_boots("gzip");
}

#[test]
#[ignore = "full VM tier: ci/test --full"]
fn xz_initrd_boots_with_the_debian_kernel() {
    compressed_initrd_boots("xz");
}
