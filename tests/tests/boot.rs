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
"#;

/// The operator's toolkit (recipes/toolkit.toml): (program, Debian package,
/// a harmless invocation that exits 0 when the program works in the
/// rescue system). Each is checked when the host has it.
const TOOLKIT: &[(&str, &str, &str)] = &[
    ("ping", "iputils-ping", "ping -c1 -W2 127.0.0.1"),
    ("traceroute", "traceroute", "traceroute --version"),
    ("curl", "curl", "curl --version"),
    ("wget", "wget", "wget --version"),
    ("nc", "netcat-openbsd", "nc -h"),
    ("ethtool", "ethtool", "ethtool --version"),
    ("strace", "strace", "strace -V"),
    ("lsscsi", "lsscsi", "lsscsi --version"),
    ("sg_inq", "sg3-utils", "sg_inq --version"),
    ("sg_map", "sg3-utils", "sg_map -V"),
    ("smartctl", "smartmontools", "smartctl --version"),
    ("nvme", "nvme-cli", "nvme version"),
    ("hdparm", "hdparm", "hdparm -V"),
    ("xxd", "xxd", "sh -c 'echo rescue | xxd | grep -q 7265'"),
    ("hexdump", "bsdextrautils", "hexdump -C /etc/hostname"),
    ("diff", "diffutils", "diff --version"),
    ("cmp", "diffutils", "cmp --version"),
    // The magic database came along: without it the answer is "data".
    ("file", "file", "sh -c 'file -L /bin/sh | grep -q ELF'"),
    ("lsof", "lsof", "lsof -v"),
    ("killall", "psmisc", "killall --version"),
    ("pstree", "psmisc", "pstree -V"),
    ("mt", "mt-st", "mt --version"),
    ("ddrescue", "gddrescue", "ddrescue --version"),
    ("dmidecode", "dmidecode", "dmidecode --version"),
    ("loadkeys", "kbd", "loadkeys -V"),
    ("kill", "procps", "kill -l"),
    ("ps", "procps", "ps -p 1"),
];

fn on_host(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(program).exists())
}

#[test]
fn rescue_image_boots_and_runs_the_included_script() {
    if vm_tests_skipped("rescue_image_boots_and_runs_the_included_script") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("rescue-check");
    // The toolkit's checks ride on this boot: one boot, a few seconds more.
    let mut text = CHECK.to_string();
    let (mut have, mut lack) = (0, Vec::new());
    text.push_str("toolkit_start=$(date +%s%N)\n");
    for (prog, pkg, cmd) in TOOLKIT {
        if on_host(prog) {
            // `check` runs its words: /usr/bin/kill, not bash's builtin.
            let cmd = if *prog == "kill" {
                "/usr/bin/kill -l"
            } else {
                cmd
            };
            text.push_str(&format!("check {cmd}\n"));
            have += 1;
        } else {
            lack.push(*pkg);
        }
    }
    eprintln!("toolkit: {have} checks; not on this host: {lack:?}");
    // What the toolkit's checks cost in the boot, for the report.
    text.push_str("echo \"TOOLKIT-MS=$((($(date +%s%N) - toolkit_start) / 1000000))\"\n");
    text.push_str("echo \"CHECKS-FAILED=$fails\"\nexit $fails\n");
    std::fs::write(&script, text).unwrap();
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
    // Tools the host lacks are named, with their packages, on one line.
    let left: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("left out"))
        .collect();
    assert!(left.len() <= 1, "more than one left-out line: {left:?}");
    for pkg in &lack {
        assert!(
            left.first().is_some_and(|l| l.contains(pkg)),
            "{pkg} not named as left out: {left:?}"
        );
    }
    let keymap = rear_builder_keymap();

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
    if let Some(ms) = vm.log.iter().find(|l| l.starts_with("TOOLKIT-MS=")) {
        eprintln!("the toolkit's checks took {ms} in the rescue VM");
    }
    let fails: Vec<&String> = vm.log.iter().filter(|l| l.contains("CHECK-FAIL")).collect();
    let oks = vm.log.iter().filter(|l| l.contains("CHECK-OK")).count();
    assert!(
        exit.trim_end().ends_with("REAR-RUN-EXIT=0") && fails.is_empty() && oks == 12 + have,
        "checks failed in the rescue system ({oks} ok): {fails:?}\nexit line: {exit}\nconsole log: {}",
        log.display()
    );
    // The host's console key map is loaded at boot, when it has one.
    if keymap && on_host("loadkeys") {
        assert!(
            vm.log
                .iter()
                .any(|l| l.contains("keymap /etc/rear-build/keymap.kmap.gz loaded")),
            "the key map was not loaded; console log: {}",
            log.display()
        );
    }
}

/// Whether this host has a compiled console key map for the image to carry.
fn rear_builder_keymap() -> bool {
    std::fs::read_dir("/etc/console-setup")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.starts_with("cached") && n.ends_with(".kmap.gz")
        })
}
