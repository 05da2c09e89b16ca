//! The end-to-end disaster-recovery loop on a real Debian bookworm system
//! (issue 4). Run by `ci/e2e`; ignored in the ordinary test run.
//!
//! The loop: the system is built (or taken from the cache) and installed
//! onto a scenario's layout from inside a rescue system; booted from its own
//! disks, it gets test data, lists every file, and runs `rear-build
//! mkbackup` onto a disk labelled REAR-000; its disks are replaced by blank
//! ones; the rescue image mkbackup stored on REAR-000 recovers unattended:
//! in scenario a booted from its `rescue.iso` as a CD, in c from the
//! REAR-000 disk itself (made by `rear-build format`; mkbackup added its
//! image to the disk's boot menu), the unattended-recovery entry chosen
//! from the menu on the serial console; in the others from its kernel and
//! initrd with `rear.auto=recover`; the recovered disks boot to multi-user, and their
//! file list and layout must equal the source's. Each phase prints
//! `E2E-TIMING phase=... seconds=...`.

use rear_layout::{compare, Layout};
use rear_tests::debian::{self, Disk, Firmware};
use rear_tests::{artefact_dir, vm_tests_skipped};
use std::path::PathBuf;
use std::time::Duration;

const GIB: u64 = 1 << 30;

fn timing(phase: &str, seconds: f64, note: &str) {
    eprintln!("E2E-TIMING phase={phase} seconds={seconds:.1} {note}");
}

/// recover's last line, `recovery finished in T s (backup checked A s,
/// layout B s, restore and verify C s, finalize D s)`: [T, A, B, C, D].
fn recovery_phases(log: &str) -> Option<[f64; 5]> {
    let line = log.lines().rfind(|l| l.contains("recovery finished in "))?;
    let rest = line.split("recovery finished in ").nth(1)?;
    let nums: Vec<f64> = rest
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|w| !w.is_empty() && w.contains('.'))
        .take(5)
        .filter_map(|w| w.parse().ok())
        .collect();
    nums.try_into().ok()
}

#[test]
fn recovery_phases_are_read_from_recovers_last_line() {
    let log = "x\nrear-build: recovery finished in 120.5 s (backup checked 1.2 s, layout 10.0 s, restore and verify 99.3 s, finalize 10.0 s): layout recreated, data restored and verified, system finalized at /mnt/local\n";
    assert_eq!(recovery_phases(log), Some([120.5, 1.2, 10.0, 99.3, 10.0]));
    assert_eq!(recovery_phases("recovery finished: layout recreated"), None);
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The host name of the Debian tree (tests/e2e/debian-rootfs.sh).
const HOST: &str = "e2e-bookworm";

/// Inside the source system: test data, the file list, mkbackup; the list,
/// layout and log go onto the REAR-000 disk (e2e/), which mkbackup
/// unmounted when done (checked) and the job mounts again.
const SOURCE_JOB: &str = r#"
set -euxo pipefail
cd "$(dirname "$0")"
if [ -f setup.sh ]; then bash setup.sh; fi
bash testdata.sh
rear-build mkbackup
T=/run/rear-build/target
if findmnt -q "$T"; then echo "mkbackup left the target mounted"; exit 1; fi
mount "$(blkid -L REAR-000)" "$T"
mkdir -p "$T/e2e"
bash fslist.sh / > "$T/e2e/source.list"
cp /var/lib/rear-build/layout.json "$T/e2e/source-layout.json"
cp "/var/log/rear-build/rear-build-$(hostname).log" "$T/e2e/mkbackup.log"
wc -l "$T/e2e/source.list"
umount "$T"
sync
echo E2E-JOB-OK
"#;

/// Inside the recovered system: what it is, its layout and file list, onto
/// the REAR-000 disk again (e2e/).
const RECOVERED_JOB: &str = r#"
set -euxo pipefail
cd "$(dirname "$0")"
B=/mnt/backup
mkdir -p $B
mount "$(blkid -L REAR-000)" $B
rear-build savelayout -o $B/e2e/recovered-layout.json
bash fslist.sh / > $B/e2e/recovered.list
# recover copied its log into the restored system.
cp /var/log/rear-build/recover-*.log $B/e2e/recover.log
findmnt -no SOURCE,FSTYPE / > $B/e2e/recovered-root
umount $B
sync
echo E2E-JOB-OK
"#;

/// What changes between the source's file list (taken right after
/// mkbackup) and the recovered system's (taken after its first boot),
/// whatever the scenario: logs written by both boots (and /var/log's time:
/// recover makes /var/log/rear-build, which the backup leaves out), and the
/// root directory's time (mount points are made below it).
const BOOT_CHANGES: &str = "/var/log mtime\n/var/log/**\n/ mtime\n";

/// What mkbackup leaves out on purpose: rear-build's store and images
/// (the next `image` makes them again; the images are on REAR-000), and
/// so the time of the directory that held them.
const LEFT_OUT: &str = "/var/lib/rear-build/store\n/var/lib/rear-build/store/**\n\
/var/lib/rear-build/output\n/var/lib/rear-build/output/**\n/var/lib/rear-build mtime\n";

/// Fetches e2e/`name` from the REAR-000 disk into `dir`.
fn fetch(backup: &std::path::Path, inside: &str, dir: &std::path::Path) -> PathBuf {
    let name = inside.rsplit('/').next().unwrap();
    let dest = dir.join(name);
    debian::ext4_get(backup, inside, &dest).unwrap_or_else(|e| panic!("{e}"));
    dest
}

fn layout(p: &std::path::Path) -> Layout {
    Layout::from_json(&read(p.to_path_buf())).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The part of every scenario after installation: back up, replace the
/// disks, recover, boot the recovered disks, compare. `new_disks` are
/// (path, bytes) of the blank replacements, attached in the same order.
struct Loop<'a> {
    name: &'a str,
    firmware: Firmware,
    work: &'a std::path::Path,
    disks: Vec<PathBuf>,
    /// (file, bytes, bootable): spare disks that are not bootable come
    /// first to give the new system disk another name.
    new_disks: Vec<(&'a str, u64, bool)>,
    /// Old disk → new disk, for comparing layouts.
    mapping: Vec<(&'a str, &'a str)>,
    /// A new disk's size differs from the old one's (sizes are not compared).
    resized: bool,
    /// More fslist ignore rules (what the recovery rightly changes here).
    ignore: &'a str,
    /// What the recovered system's E2E-STATE line must contain.
    state: &'a [&'a str],
    /// The backup method the source is configured with (by `setup`).
    method: &'a str,
    /// A script the source system runs before its test data and mkbackup
    /// (the backup method's configuration).
    setup: &'a str,
    /// How the rescue system boots for the recovery.
    rescue: Rescue,
    /// More checks of the source system's console log (what mkbackup
    /// printed), right after the source VM.
    source_check: Option<fn(&str)>,
}

/// How a scenario's rescue system boots: the kernel and initrd from
/// REAR-000 (`rear.auto=recover` and the mapping on the command line), or
/// through the firmware, the unattended-recovery entry chosen from the
/// menu by typing on the serial console: from `rescue.iso` as a CD, or
/// from the REAR-000 disk itself, made by `rear-build format`, which
/// mkbackup made boot its image.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rescue {
    Kernel,
    Iso,
    UsbDisk,
}

fn run_loop(l: &Loop) {
    let out = artefact_dir().join(format!("{}-files", l.name));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let backup = match l.rescue {
        Rescue::UsbDisk => debian::rescue_disk(&l.work.join("rear000.raw"), 8 * GIB),
        _ => debian::rear000_disk(&l.work.join("rear000.raw"), 8 * GIB),
    };

    // 1. The source system: test data, file list, mkbackup.
    let mut files = debian::JOB_TOOLS.to_vec();
    files.push(("setup.sh", 0o755, l.setup.as_bytes()));
    let job = debian::job_disk_with(l.work, SOURCE_JOB, &files);
    let mut disks: Vec<Disk> = l
        .disks
        .iter()
        .enumerate()
        .map(|(i, d)| Disk::boot(d, &format!("rbdisk{i}")))
        .collect();
    disks.push(Disk::rw(&backup, "rear000"));
    disks.push(Disk::ro(&job, "e2e-job"));
    let src = debian::boot_installed(
        &format!("{}-source", l.name),
        l.firmware,
        disks,
        true,
        Duration::from_secs(1800),
    );
    timing(
        "source-vm",
        src.seconds,
        &format!(
            "multi-user after {:.0} s; then test data, mkbackup, file list",
            src.to_multi_user
        ),
    );
    assert_eq!(
        src.job_exit,
        Some(0),
        "the source job (test data, mkbackup, file list) failed; console log {}",
        src.console_log.display()
    );
    if let Some(check) = l.source_check {
        check(&read(src.console_log.clone()));
    }
    let rescue = format!("/rear/{HOST}/rescue");
    let kernel = fetch(&backup, &format!("{rescue}/vmlinuz"), &out);
    let initrd = fetch(&backup, &format!("{rescue}/initrd.img"), &out);
    fetch(&backup, &format!("{rescue}/manifest.json"), &out);
    let source_list = fetch(&backup, "/e2e/source.list", &out);
    let source_layout = fetch(&backup, "/e2e/source-layout.json", &out);
    // Every run logs each external command it runs (README).
    let mkbackup_log = read(fetch(&backup, "/e2e/mkbackup.log", &out));
    for cmd in ["mount", l.method] {
        assert!(
            mkbackup_log.contains(&format!("running: {cmd} ")),
            "mkbackup's log names no {cmd} it ran: {}",
            tail(&mkbackup_log, 20)
        );
    }

    // 2. New blank disks, with other serials: a replaced machine's disks.
    let new: Vec<PathBuf> = l
        .new_disks
        .iter()
        .map(|(n, bytes, _)| debian::blank_disk(&l.work.join(n), *bytes))
        .collect();
    for d in &l.disks {
        let _ = std::fs::remove_file(d);
    }

    // 3. The rescue image from the backup medium recovers unattended.
    let mut disks: Vec<Disk> = new
        .iter()
        .enumerate()
        .map(|(i, d)| Disk::rw(d, &format!("newdisk{i}")))
        .collect();
    disks.push(match l.rescue {
        Rescue::UsbDisk => Disk::boot(&backup, "rear000"),
        _ => Disk::rw(&backup, "rear000"),
    });
    let append = std::iter::once("rear.auto=recover".to_string())
        .chain(
            l.mapping
                .iter()
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("rear.map={a}={b}")),
        )
        .collect::<Vec<_>>()
        .join(" ");
    // The menus: the ISO's entries (shell, shell on serial, unattended
    // recovery); the rescue disk's submenu per generation (this host's
    // only one first), holding the same entries.
    // GRUB's one-byte "next entry" key: an arrow key is an escape
    // sequence, which GRUB takes for Esc when its bytes arrive apart
    // (seen under emulation on a busy machine).
    let down = "v";
    let recovery = "rear-build unattended recovery of";
    let iso_menu: &[(&str, &[&str])] = &[(recovery, &[down, down, "\r"])];
    let generation = format!("{HOST} image-");
    let disk_menu: &[(&str, &[&str])] = &[(&generation, &["\r"]), (recovery, &[down, down, "\r"])];
    assert!(
        l.rescue == Rescue::Kernel || l.mapping.iter().all(|(a, b)| a == b),
        "{}: a menu passes no rear.map, so the mapping must keep the names",
        l.name
    );
    let iso = out.join("rescue.iso");
    let how = match l.rescue {
        Rescue::Kernel => debian::RescueBoot::Kernel(&kernel, &initrd, &append),
        Rescue::Iso => {
            fetch(&backup, &format!("{rescue}/rescue.iso"), &out);
            debian::RescueBoot::Cd(&iso, iso_menu)
        }
        Rescue::UsbDisk => debian::RescueBoot::Disk(disk_menu),
    };
    let (exit, secs, console) = debian::rescue_run(
        &format!("{}-recover", l.name),
        l.firmware,
        how,
        disks,
        Duration::from_secs(2400),
    );
    let booted = match l.rescue {
        Rescue::Kernel => "kernel and initrd, rear.auto=recover",
        Rescue::Iso => "rescue.iso, unattended recovery chosen from its menu",
        Rescue::UsbDisk => "the REAR-000 rescue disk, unattended recovery chosen from its menu",
    };
    timing("recover-vm", secs, booted);
    let log = read(console.clone());
    assert_eq!(
        exit,
        0,
        "unattended recovery failed; console log {}:\n{}",
        console.display(),
        tail(&log, 40)
    );
    assert!(log.contains("recovery finished"), "{}", tail(&log, 40));
    let recovery = recovery_phases(&log).unwrap_or_else(|| {
        panic!(
            "no phase times in \"recovery finished\":\n{}",
            tail(&log, 20)
        )
    });
    assert!(
        log.contains(&format!("of the {} backup", l.method)),
        "not restored with {}: {}",
        l.method,
        tail(&log, 40)
    );

    // 4. The recovered disks boot by themselves.
    let job = debian::job_disk_with(l.work, RECOVERED_JOB, debian::JOB_TOOLS);
    let mut disks: Vec<Disk> = new
        .iter()
        .zip(&l.new_disks)
        .enumerate()
        .map(|(i, (d, (_, _, boot)))| {
            let serial = format!("newdisk{i}");
            if *boot {
                Disk::boot(d, &serial)
            } else {
                Disk::rw(d, &serial)
            }
        })
        .collect();
    disks.push(Disk::rw(&backup, "rear000"));
    disks.push(Disk::ro(&job, "e2e-job"));
    let rec = debian::boot_installed(
        &format!("{}-recovered", l.name),
        l.firmware,
        disks,
        true,
        Duration::from_secs(1800),
    );
    timing(
        "recovered-vm",
        rec.seconds,
        &format!("multi-user after {:.0} s", rec.to_multi_user),
    );
    eprintln!("{}: recovered system: {rec:?}", l.name);
    // The recovery time, phase by phase (the README keeps this table).
    let [total, checked, laid, restore, finalize] = recovery;
    eprintln!(
        "E2E-PHASES | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
        l.name,
        secs - total + checked,
        laid,
        restore,
        finalize,
        rec.to_multi_user
    );
    eprintln!(
        "E2E-PHASES   (scenario | rescue boot to recover's start, and the backup checked | layout | restore and verify | finalize | recovered system to multi-user; seconds, TCG)"
    );
    for want in l.state {
        assert!(rec.state.contains(want), "{want} not in {:?}", rec.state);
    }
    assert!(
        rec.failed_units.is_empty(),
        "units failed on the recovered system: {:?} (console log {})",
        rec.failed_units,
        rec.console_log.display()
    );
    assert_eq!(
        rec.job_exit,
        Some(0),
        "the checks in the recovered system failed; console log {}",
        rec.console_log.display()
    );

    // 5. Every file as it was; the layout as it was (up to the mapping).
    let recover_log = read(fetch(&backup, "/e2e/recover.log", &out));
    assert!(
        recover_log.contains("restored and verified") && recover_log.contains("recovery finished"),
        "the log recover copied into the restored system: {}",
        tail(&recover_log, 20)
    );
    for cmd in ["wipefs", l.method] {
        assert!(
            recover_log.contains(&format!("running: {cmd} ")),
            "recover's log names no {cmd} it ran: {}",
            tail(&recover_log, 20)
        );
    }
    let recovered_list = fetch(&backup, "/e2e/recovered.list", &out);
    let recovered_layout = fetch(&backup, "/e2e/recovered-layout.json", &out);
    let rules = format!("{BOOT_CHANGES}{LEFT_OUT}{}", l.ignore);
    let diffs = rear_tests::fslist::diff_text(&read(source_list), &read(recovered_list), &rules)
        .unwrap_or_else(|e| panic!("file lists: {e}"));
    assert!(
        diffs.is_empty(),
        "the recovered files differ from the source:\n{}",
        rear_tests::fslist::report(&diffs, 40)
    );
    let opts = compare::Options {
        mapping: l
            .mapping
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        ignore_sizes: l.resized,
        recreated: true,
    };
    let d = compare::diff(&layout(&source_layout), &layout(&recovered_layout), &opts);
    assert!(
        d.is_empty(),
        "the recovered layout differs from the source:\n{}",
        d.join("\n")
    );
    eprintln!(
        "{}: console logs and files in {}",
        l.name,
        artefact_dir().display()
    );
}

/// Builds (or takes) the Debian tree and installs it onto blank disks of
/// `sizes` with the layout `scenario` makes; returns the work directory
/// and the disks.
fn installed(name: &str, scenario: &str, sizes: &[u64]) -> (tempfile::TempDir, Vec<PathBuf>) {
    installed_within(name, scenario, sizes, Duration::from_secs(1200))
}

/// [`installed_from`] the full tree.
fn installed_within(
    name: &str,
    scenario: &str,
    sizes: &[u64],
    timeout: Duration,
) -> (tempfile::TempDir, Vec<PathBuf>) {
    installed_from(debian::Tree::Full, name, scenario, sizes, timeout)
}

/// [`installed`] from the Debian tree `tree`, with another time limit
/// for the install VM (scenario d rebuilds the initramfs under TCG: 885 s
/// of its 1023 s once, with another VM running).
fn installed_from(
    tree: debian::Tree,
    name: &str,
    scenario: &str,
    sizes: &[u64],
    timeout: Duration,
) -> (tempfile::TempDir, Vec<PathBuf>) {
    let rootfs = debian::rootfs_of(tree);
    timing(
        "debian-rootfs",
        rootfs.seconds,
        &format!(
            "tree={} status={} kernel={}",
            tree.name(),
            rootfs.status,
            rootfs.kernel
        ),
    );
    let work = tempfile::Builder::new()
        .prefix(&format!("rear-{name}-"))
        .tempdir_in("/var/tmp")
        .unwrap();
    let disks: Vec<PathBuf> = sizes
        .iter()
        .enumerate()
        .map(|(i, b)| debian::blank_disk(&work.path().join(format!("disk{i}.raw")), *b))
        .collect();
    let inst = debian::install(
        &format!("{name}-install"),
        &work.path().join("install"),
        scenario,
        &disks,
        &rootfs,
        timeout,
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
    (work, disks)
}

#[test]
#[ignore = "e2e: ci/e2e"]
fn a_bios_gpt_ext4_boot_swap() {
    if vm_tests_skipped("e2e a") {
        return;
    }
    let (work, disks) = installed("e2e-a", debian::SCENARIO_A, &[4 * GIB]);
    run_loop(&Loop {
        name: "e2e-a",
        firmware: Firmware::Bios,
        work: work.path(),
        disks,
        new_disks: vec![("new-vda.raw", 4 * GIB, true)],
        mapping: vec![("/dev/vda", "/dev/vda")],
        resized: false,
        ignore: "",
        state: &["root=/dev/vda4", "boot=/dev/vda2", "swap=/dev/vda3"],
        method: "tar",
        setup: "",
        rescue: Rescue::Iso,
        source_check: None,
    });
}

#[test]
#[ignore = "e2e: ci/e2e"]
fn b_uefi_lvm_xfs_migration_to_a_larger_disk() {
    if vm_tests_skipped("e2e b") {
        return;
    }
    let (work, disks) = installed("e2e-b", debian::SCENARIO_B, &[4 * GIB]);
    run_loop(&Loop {
        name: "e2e-b",
        firmware: Firmware::Uefi,
        work: work.path(),
        disks,
        // A small spare disk takes the name vda: the system moves to vdb.
        new_disks: vec![("spare.raw", GIB, false), ("new-vdb.raw", 6 * GIB, true)],
        mapping: vec![("/dev/vda", "/dev/vdb")],
        resized: true,
        // Moved to another disk name, the initramfs was rebuilt (in /boot,
        // a directory of the root file system here).
        ignore: "/boot mtime\n/boot/**\n/var/lib/initramfs-tools/**\n",
        state: &["root=/dev/mapper/vg0-root", "boot=none"],
        method: "tar",
        setup: "",
        rescue: Rescue::Kernel,
        source_check: None,
    });
}

#[test]
#[ignore = "e2e: ci/e2e"]
fn c_bios_raid1_lvm_one_larger_disk() {
    if vm_tests_skipped("e2e c") {
        return;
    }
    let (work, disks) = installed("e2e-c", debian::SCENARIO_C, &[3 * GIB, 3 * GIB]);
    run_loop(&Loop {
        name: "e2e-c",
        firmware: Firmware::Bios,
        work: work.path(),
        disks,
        // The second disk is replaced by a larger one of the same name.
        new_disks: vec![
            ("new-vda.raw", 3 * GIB, true),
            ("new-vdb.raw", 4 * GIB, true),
        ],
        mapping: vec![("/dev/vda", "/dev/vda"), ("/dev/vdb", "/dev/vdb")],
        resized: true,
        ignore: "",
        state: &["root=/dev/mapper/vg0-root", "boot=none"],
        method: "tar",
        setup: "",
        rescue: Rescue::UsbDisk,
        source_check: None,
    });
}

/// Scenario (d)'s LUKS passphrase: tests/e2e/scenario-d.sh makes the root
/// volume with it (its key file holds exactly these bytes).
const LUKS_PASSPHRASE: &str = "e2e luks2 passphrase (d)";

/// Scenario (d)'s source, before mkbackup: the passphrase for unattended
/// recovery, as `luks-passphrase` in the backup's directory on REAR-000
/// (with a newline at the end, as `echo` writes it: recover reads the
/// first line).
fn luks_passphrase_setup() -> String {
    format!(
        "set -eux\nM=/run/e2e-rear000\nmkdir -p $M\nmount \"$(blkid -L REAR-000)\" $M\n\
mkdir -p $M/rear/{HOST}\n(umask 077 && printf '%s\\n' '{LUKS_PASSPHRASE}' > $M/rear/{HOST}/luks-passphrase)\n\
ls -l $M/rear/{HOST}\numount $M\n"
    )
}

#[test]
#[ignore = "e2e: ci/e2e"]
fn d_bios_luks2_root_on_lvm() {
    if vm_tests_skipped("e2e d") {
        return;
    }
    assert!(
        debian::SCENARIO_D.contains(&format!("LUKS_PASSPHRASE='{LUKS_PASSPHRASE}'")),
        "scenario-d.sh and LUKS_PASSPHRASE must agree"
    );
    let (work, disks) = installed_within(
        "e2e-d",
        debian::SCENARIO_D,
        &[4 * GIB],
        Duration::from_secs(2400),
    );
    let setup = luks_passphrase_setup();
    run_loop(&Loop {
        name: "e2e-d",
        firmware: Firmware::Bios,
        work: work.path(),
        disks,
        new_disks: vec![("new-vda.raw", 4 * GIB, true)],
        mapping: vec![("/dev/vda", "/dev/vda")],
        resized: false,
        ignore: "",
        state: &["root=/dev/mapper/cryptroot", "boot=/dev/vda2"],
        method: "tar",
        setup: &setup,
        rescue: Rescue::Kernel,
        source_check: None,
    });
}

/// The source system's configuration for a backup method: to the REAR-000
/// disk like tar; borg and restic with a passphrase file that the rescue
/// image carries (`image.include`), so recovery stays unattended.
fn method_setup(method: &str) -> String {
    let secret = match method {
        "borg" | "restic" => "passphrase_file = \"/etc/rear-build/repo.pass\"\n[image]\ninclude = [\"/etc/rear-build/repo.pass\"]\n",
        _ => "",
    };
    format!(
        "set -eux\nmkdir -p /etc/rear-build/conf.d\nprintf 'e2e repository secret\\n' > /etc/rear-build/repo.pass\nchmod 600 /etc/rear-build/repo.pass\nprintf '%s' '[backup]\nmethod = \"{method}\"\nurl = \"usb://REAR-000\"\n{secret}' > /etc/rear-build/conf.d/50-e2e.toml\ncat /etc/rear-build/conf.d/50-e2e.toml\n"
    )
}

/// What a method does not bring back, on purpose or by its design.
fn method_ignore(method: &str) -> &'static str {
    match method {
        // mkbackup leaves out the tool's own state (rewritten while it
        // runs). borg keeps times within 1970-01-01 .. 2038-01-17 and
        // clamps others.
        "borg" => {
            "/root/.cache/borg\n/root/.cache/borg/**\n/root/.config/borg/security\n\
             /root/.config/borg/security/**\n\
             /srv/e2e-data/times/after-2038 mtime\n/srv/e2e-data/times/before-epoch mtime\n"
        }
        "restic" => "/root/.cache/restic\n/root/.cache/restic/**\n",
        _ => "",
    }
}

/// Scenario (a)'s layout, backed up and recovered with rsync, borg and
/// restic in turn: one installation, copied for each method.
#[test]
#[ignore = "e2e: ci/e2e"]
fn e_rsync_borg_restic_on_a_layout() {
    if vm_tests_skipped("e2e e") {
        return;
    }
    let (work, disks) = installed("e2e-e", debian::SCENARIO_A, &[4 * GIB]);
    let installed_disk = work.path().join("installed.raw");
    std::fs::rename(&disks[0], &installed_disk).unwrap();
    // E2E_METHODS=borg,restic runs only those (to re-run one after a fix).
    let methods = std::env::var("E2E_METHODS").unwrap_or_else(|_| "rsync,borg,restic".into());
    for method in methods.split(',') {
        assert!(
            ["rsync", "borg", "restic"].contains(&method),
            "E2E_METHODS: {method:?} is not rsync, borg or restic"
        );
        let dir = work.path().join(method);
        std::fs::create_dir_all(&dir).unwrap();
        let disk = dir.join("disk0.raw");
        let st = std::process::Command::new("cp")
            .arg("--sparse=always")
            .arg(&installed_disk)
            .arg(&disk)
            .status()
            .unwrap();
        assert!(st.success(), "copy the installed disk");
        let setup = method_setup(method);
        let name = format!("e2e-e-{method}");
        let t = std::time::Instant::now();
        run_loop(&Loop {
            name: &name,
            firmware: Firmware::Bios,
            work: &dir,
            disks: vec![disk],
            new_disks: vec![("new-vda.raw", 4 * GIB, true)],
            mapping: vec![("/dev/vda", "/dev/vda")],
            resized: false,
            ignore: method_ignore(method),
            state: &["root=/dev/vda4", "boot=/dev/vda2", "swap=/dev/vda3"],
            method,
            setup: &setup,
            rescue: Rescue::Kernel,
            source_check: None,
        });
        timing(&format!("loop-{method}"), t.elapsed().as_secs_f64(), "");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Inside an installed system: the Debian package installed (the e2e
/// overlay's own rear-build removed first), ReaR's local.conf and
/// `rear -v mkrescue`, then the timer's service: nothing rebuilt while the
/// layout holds, a rebuild once a new logical volume appears.
const PACKAGE_JOB: &str = r#"
set -euxo pipefail
cd "$(dirname "$0")"
rm -f /usr/local/sbin/rear-build
hash -r
dpkg -i rear-build.deb || { apt-get -f install -y; dpkg -i rear-build.deb; }
test "$(command -v rear-build)" = /usr/bin/rear-build
test "$(readlink -f "$(command -v rear)")" = /usr/bin/rear-build
systemctl is-enabled rear-build-check.timer
systemctl is-active rear-build-check.timer
test -s /usr/share/man/man8/rear-build.8.gz
test -s /usr/share/man/man8/rear.8.gz
test -s /usr/share/bash-completion/completions/rear-build
mkdir -p /etc/rear
printf 'OUTPUT=ISO\nBACKUP=NETFS\nBACKUP_URL=usb:///dev/disk/by-label/REAR-000\n' > /etc/rear/local.conf
rear -v mkrescue
out=/var/lib/rear-build/output
test -s $out/rescue.iso
test -s /var/log/rear/rear-$(hostname).log
before=$(sha256sum < $out/manifest.json)
systemctl start rear-build-check.service
test "$(sha256sum < $out/manifest.json)" = "$before" || { echo "rebuilt without a change"; exit 1; }
extra=/dev/disk/by-id/virtio-e2e-extra
pvcreate -y $extra
vgcreate vgnew $extra
lvcreate -y -L 64M -n e2enew vgnew
systemctl start rear-build-check.service
journalctl -u rear-build-check.service --no-pager | tail -30
test "$(sha256sum < $out/manifest.json)" != "$before" || { echo "not rebuilt after the new LV"; exit 1; }
grep -q e2enew /var/lib/rear-build/layout.json
rear-build checklayout
echo E2E-PACKAGE-OK
"#;

/// Issue 15: the Debian package on scenario (a)'s installed system.
#[test]
#[ignore = "e2e: ci/e2e"]
fn f_debian_package_rear_mkrescue_and_the_timer() {
    if vm_tests_skipped("e2e f") {
        return;
    }
    let (work, disks) = installed("e2e-f", debian::SCENARIO_A, &[4 * GIB]);
    let bin = rear_tests::bin();
    let target = bin.parent().and_then(|p| p.parent()).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(repo.join("ci/deb"))
        .arg("--no-build")
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ci/deb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = std::fs::read(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let job = debian::job_disk_with(work.path(), PACKAGE_JOB, &[("rear-build.deb", 0o644, &deb)]);
    let extra = debian::blank_disk(&work.path().join("extra.raw"), GIB / 2);
    let mut vm_disks: Vec<Disk> = disks
        .iter()
        .enumerate()
        .map(|(i, d)| Disk::boot(d, &format!("rbdisk{i}")))
        .collect();
    vm_disks.push(Disk::rw(&extra, "e2e-extra"));
    vm_disks.push(Disk::ro(&job, "e2e-job"));
    let r = debian::boot_installed(
        "e2e-f-package",
        Firmware::Bios,
        vm_disks,
        true,
        Duration::from_secs(1800),
    );
    timing(
        "package-vm",
        r.seconds,
        "dpkg -i, rear -v mkrescue, the timer's service twice",
    );
    let log = read(r.console_log.clone());
    assert_eq!(
        r.job_exit,
        Some(0),
        "the package job failed; console log {}:\n{}",
        r.console_log.display(),
        tail(&log, 60)
    );
    assert!(log.contains("E2E-PACKAGE-OK"), "{}", tail(&log, 40));
}

/// The console of the minimal server's mkbackup: the image was built (the
/// job passed), with exactly one line naming the optional tools left out.
fn minimal_source_check(console: &str) {
    let notes: Vec<&str> = console
        .lines()
        .filter(|l| l.contains("optional tools left out"))
        .collect();
    assert_eq!(
        notes.len(),
        1,
        "not one left-out line from mkbackup's image build: {notes:?}"
    );
    for pkg in debian::MINIMAL_LACKS {
        assert!(
            notes[0].contains(&format!(" {pkg}")),
            "{pkg} not named as left out: {}",
            notes[0]
        );
    }
    eprintln!("e2e-n: {}", notes[0].trim());
}

/// Issue 15 (must-show 4): a minimal Debian server (debootstrap minbase,
/// kernel, GRUB, lvm2, mdadm, xfsprogs: tests/e2e/debian-packages-minimal.txt)
/// with the typical two-disk layout, md RAID1 + LVM + xfs, BIOS: mkbackup
/// builds its image there (naming what it left out, refusing nothing),
/// writes it onto the REAR-000 rescue disk (no xorriso: no ISO), and that
/// disk recovers the layout and the files onto blank disks.
#[test]
#[ignore = "e2e: ci/e2e"]
fn n_minimal_debian_raid1_lvm_xfs_recreated() {
    if vm_tests_skipped("e2e n") {
        return;
    }
    let (work, disks) = installed_from(
        debian::Tree::Minimal,
        "e2e-n",
        debian::SCENARIO_N,
        &[4 * GIB, 4 * GIB],
        Duration::from_secs(1200),
    );
    run_loop(&Loop {
        name: "e2e-n",
        firmware: Firmware::Bios,
        work: work.path(),
        disks,
        new_disks: vec![
            ("new-vda.raw", 4 * GIB, true),
            ("new-vdb.raw", 4 * GIB, true),
        ],
        mapping: vec![("/dev/vda", "/dev/vda"), ("/dev/vdb", "/dev/vdb")],
        resized: false,
        ignore: "",
        state: &["root=/dev/mapper/vg0-root", "boot=none", "swap=/dev/"],
        method: "tar",
        setup: "",
        rescue: Rescue::UsbDisk,
        source_check: Some(minimal_source_check),
    });
}
