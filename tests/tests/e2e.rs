//! The end-to-end disaster-recovery loop on a real Debian bookworm system
//! (issue 4). Run by `ci/e2e`; ignored in the ordinary test run.
//!
//! So far: the system is built (or taken from the cache), installed onto
//! scenario (a)'s layout from inside the rescue system, and booted from its
//! own disk to multi-user.target; a job run inside it checks the installed
//! rear-build. Each phase prints `E2E-TIMING phase=... seconds=...`.

use rear_tests::debian::{self, Disk, Firmware};
use rear_tests::{artefact_dir, vm_tests_skipped};
use std::path::PathBuf;
use std::time::Duration;

const GIB: u64 = 1 << 30;

fn timing(phase: &str, seconds: f64, note: &str) {
    eprintln!("E2E-TIMING phase={phase} seconds={seconds:.1} {note}");
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Checks run inside the booted system (its exit code is asserted).
const JOB_A: &str = r#"
set -eux
# The installed system is what scenario (a) says: ext4 / and /boot, swap.
test "$(findmnt -no FSTYPE /)" = ext4
test "$(findmnt -no FSTYPE /boot)" = ext4
swapon --show=NAME --noheadings | grep -qx /dev/vda3
# fstab names every file system by UUID.
! grep -v '^#' /etc/fstab | grep -v '^UUID=' | grep -q .
# rear-build runs here and sees the layout.
rear-build --version
rear-build savelayout -o /tmp/layout.json
rear-build layout show /tmp/layout.json
# Time since the kernel started (systemd-analyze needs a finished boot,
# and this job is part of it); for the README's figures, not asserted.
echo "E2E-UPTIME $(cut -d' ' -f1 /proc/uptime) s"
echo E2E-JOB-OK
"#;

#[test]
#[ignore = "e2e: ci/e2e"]
fn a_bios_gpt_ext4_boot_swap() {
    if vm_tests_skipped("e2e a") {
        return;
    }
    let rootfs = debian::rootfs();
    timing(
        "debian-rootfs",
        rootfs.seconds,
        &format!("status={} kernel={}", rootfs.status, rootfs.kernel),
    );

    let work = tempfile::Builder::new()
        .prefix("rear-e2e-a-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let disk = debian::blank_disk(&work.path().join("vda.raw"), 4 * GIB);

    let inst = debian::install(
        "e2e-a-install",
        &work.path().join("install"),
        debian::SCENARIO_A,
        std::slice::from_ref(&disk),
        &rootfs,
        Duration::from_secs(1200),
    );
    let log = std::fs::read_to_string(inst.results.join("log.txt")).unwrap_or_default();
    let inner: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("E2E-INSTALL-TIMING "))
        .collect();
    timing("install-vm", inst.seconds, &inner.join(" "));
    assert_eq!(
        inst.exit,
        0,
        "installing failed; results in {}, console log {}; the script's log ends:\n{}",
        inst.results.display(),
        inst.console_log.display(),
        tail(&log, 60)
    );
    let fstab = read(inst.results.join("fstab"));
    assert_eq!(
        fstab.lines().filter(|l| l.starts_with("UUID=")).count(),
        3,
        "fstab:\n{fstab}"
    );
    let grub_cfg = read(inst.results.join("grub.cfg"));
    assert!(grub_cfg.contains("e2e.poweroff=1"), "grub.cfg:\n{grub_cfg}");

    let job = debian::job_disk(work.path(), JOB_A);
    let report = debian::boot_installed(
        "e2e-a-boot",
        Firmware::Bios,
        vec![Disk::boot(&disk, "rbdisk0"), Disk::ro(&job, "e2e-job")],
        true,
        Duration::from_secs(900),
    );
    timing("boot-vm", report.seconds, "to multi-user");
    eprintln!("e2e a: {report:?}");
    assert!(
        report.state.contains("root=/dev/vda4") && report.state.contains("boot=/dev/vda2"),
        "{report:?}"
    );
    assert!(
        report.rear_build.starts_with("rear-build "),
        "rear-build does not run in the installed system: {report:?}"
    );
    assert!(
        report.failed_units.is_empty(),
        "units failed on the installed system: {:?} (console log {})",
        report.failed_units,
        report.console_log.display()
    );
    assert_eq!(
        report.job_exit,
        Some(0),
        "the checks inside the installed system failed; console log {}",
        report.console_log.display()
    );
    eprintln!(
        "e2e a: console logs and results in {}",
        artefact_dir().display()
    );
}
