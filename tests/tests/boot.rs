//! Boots a freshly built rescue image in qemu (software emulation) with the
//! Debian kernel, runs a check script from inside the rescue system via
//! `rear.auto=run:` and reads its verdict from the serial console.

use rear_tests::{rear_build, vm_tests_skipped, Vm, VmSpec};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// Runs inside the rescue system; every check prints a line, and the exit
/// code is the number of failed checks.
const CHECK: &str = r#"#!/bin/bash
fails=0
check() { if "$@" >/tmp/out 2>&1; then echo "CHECK-OK: $*"; else echo "CHECK-FAIL: $* ($(head -c 300 /tmp/out))"; fails=$((fails+1)); fi; }
check test -b /dev/vda
check bash -c 'test "$BASH_VERSION"'
check lvm version
check mdadm --version
check cryptsetup --version
check modprobe dm_mod
check test -d /sys/module/dm_mod
# A module the init did not load already: modprobe must find it and its deps.
check modprobe dm_zero
check grep -q '^dm_zero ' /proc/modules
check sfdisk --version
check mkfs.xfs -V
check sh -c 'echo "$(hostname)" | grep -q .'
echo "CHECKS-FAILED=$fails"
exit $fails
"#;

#[test]
fn rescue_image_boots_and_runs_the_included_script() {
    if vm_tests_skipped("rescue_image_boots_and_runs_the_included_script") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("rescue-check");
    std::fs::write(&script, CHECK).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("out");
    let store = dir.path().join("store");
    let include = format!("{}:/usr/local/bin/rescue-check", script.display());
    let r = rear_build(
        &[
            "image",
            "--store",
            store.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--include",
            &include,
        ],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "image failed:\n{}", r.stderr);

    let disk = dir.path().join("disk.raw");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let mut vm = Vm::boot(VmSpec {
        name: "boot-run-check",
        kernel: &out.join("vmlinuz"),
        initrd: &out.join("initrd.img"),
        append: "rear.auto=run:/usr/local/bin/rescue-check",
        disks: vec![disk],
        memory_mb: 2048,
        host_net: false,
    });
    vm.expect("REAR-RESCUE-READY", Duration::from_secs(240));
    let exit = vm.expect("REAR-RUN-EXIT=", Duration::from_secs(180));
    vm.wait_exit(Duration::from_secs(60));
    let log = vm.save_log();
    let fails: Vec<&String> = vm.log.iter().filter(|l| l.contains("CHECK-FAIL")).collect();
    let oks = vm.log.iter().filter(|l| l.contains("CHECK-OK")).count();
    assert!(
        exit.trim_end().ends_with("REAR-RUN-EXIT=0") && fails.is_empty() && oks == 12,
        "checks failed in the rescue system ({oks} ok): {fails:?}\nexit line: {exit}\nconsole log: {}",
        log.display()
    );
}
