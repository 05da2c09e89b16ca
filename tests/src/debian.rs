//! The end-to-end harness's real Debian system: building its root tree
//! (cached, `tests/e2e/debian-rootfs.sh`), installing it onto a scenario
//! layout from inside the rescue system, and booting it from its own disks.
//!
//! Machines are qemu guests (software emulation) with a serial console on
//! stdio, read by [`Vm`]. Disks are raw image files attached as virtio
//! disks with serials, so scripts inside find them without udev; they are
//! attached in the order given, so the first ones are `vda`, `vdb`, ...

use crate::rescue_vm::{build_image, RESULTS_SNIPPET};
use crate::{artefact_dir, bin, Vm};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the scripts in `tests/e2e/` are; the installer is compiled in.
pub const INSTALL_LIB: &str = include_str!("../e2e/install-lib.sh");
/// Scenario (a): BIOS, GPT with bios_grub, ext4 root + ext4 /boot + swap.
pub const SCENARIO_A: &str = include_str!("../e2e/scenario-a.sh");
/// Scenario (b): UEFI, ESP + LVM: / (xfs) and /home (ext4).
pub const SCENARIO_B: &str = include_str!("../e2e/scenario-b.sh");
/// Scenario (c): BIOS, md RAID1 over two disks, LVM: / (ext4) and swap.
pub const SCENARIO_C: &str = include_str!("../e2e/scenario-c.sh");
/// Scenario (d): BIOS, GPT: /boot (ext4) + LVM: swap and a LUKS2 root
/// (ext4 on /dev/mapper/cryptroot), unlocked by a key file in the initramfs.
pub const SCENARIO_D: &str = include_str!("../e2e/scenario-d.sh");
/// Scenario (n): the minimal server ([`Tree::Minimal`]): BIOS, msdos on
/// two disks, md RAID1, LVM: / (xfs), swap, /home (xfs).
pub const SCENARIO_N: &str = include_str!("../e2e/scenario-n.sh");

/// The results disk's serial: above every target disk's `rbdiskN`, so
/// [`RESULTS_SNIPPET`] picks it.
const RESULTS_SERIAL: &str = "rbdisk9";

pub fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e")
}

/// The packages the minimal server lacks (issue 15's list, and fdisk and
/// zstd, which rear-build no longer needs): its image build names each in
/// its one line of optional tools left out.
pub const MINIMAL_LACKS: &[&str] = &[
    "btrfs-progs",
    "cryptsetup-bin",
    "dosfstools",
    "parted",
    "gdisk",
    "procps",
    "iproute2",
    "less",
    "vim-tiny",
    "fdisk",
    "zstd",
];

/// Which Debian tree `debian-rootfs.sh` builds (each cached under its own
/// key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// `debian-packages.txt`: every tool the scenarios a..f use.
    Full,
    /// `debian-packages-minimal.txt`: the minimal server of issue 15
    /// (kernel, GRUB, lvm2, mdadm, xfsprogs, and what the harness needs).
    Minimal,
}

impl Tree {
    /// Its name for `debian-rootfs.sh --tree`.
    pub fn name(self) -> &'static str {
        match self {
            Tree::Full => "full",
            Tree::Minimal => "minimal",
        }
    }
}

/// The cached Debian tree, as `debian-rootfs.sh` reported it.
#[derive(Debug, Clone)]
pub struct RootFs {
    /// Uncompressed tar archive of the tree (never written by the tests).
    pub tar: PathBuf,
    /// The tree's kernel version.
    pub kernel: String,
    /// "cached" or "built".
    pub status: String,
    /// Wall time of the script, seconds.
    pub seconds: f64,
}

/// Runs `tests/e2e/debian-rootfs.sh` (its progress goes to stderr) and
/// returns the full tree it built or found. Panics with a message when it
/// fails.
pub fn rootfs() -> RootFs {
    rootfs_of(Tree::Full)
}

/// [`rootfs`] for the tree `tree`.
pub fn rootfs_of(tree: Tree) -> RootFs {
    let script = e2e_dir().join("debian-rootfs.sh");
    let t0 = Instant::now();
    let out = Command::new(&script)
        .args(["--tree", tree.name()])
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed ({}); stdout:\n{stdout}",
        script.display(),
        out.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("e2e-rootfs "))
        .unwrap_or_else(|| panic!("no e2e-rootfs line from {}:\n{stdout}", script.display()));
    let field = |k: &str| -> String {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {k}= in {line:?}"))
    };
    RootFs {
        tar: PathBuf::from(field("tar")),
        kernel: field("kernel"),
        status: field("status"),
        seconds: t0.elapsed().as_secs_f64(),
    }
}

/// Runs `tar` with `args`; panics with its stderr on failure.
fn tar(args: &[&str], cwd: &Path) {
    let out = Command::new("tar")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run tar");
    assert!(
        out.status.success(),
        "tar {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tar archive (to attach as a raw disk) of `files` as (path inside the
/// archive, mode, content), owned by root. Built in `dir`, which is emptied.
pub fn tar_disk(dir: &Path, name: &str, files: &[(&str, u32, &[u8])]) -> PathBuf {
    let stage = dir.join(format!("{name}.d"));
    let _ = std::fs::remove_dir_all(&stage);
    for (path, mode, content) in files {
        let p = stage.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    let out = dir.join(format!("{name}.tar"));
    let out_s = out.to_str().unwrap();
    tar(
        &[
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--sort=name",
            "-cf",
            out_s,
            ".",
        ],
        &stage,
    );
    let _ = std::fs::remove_dir_all(&stage);
    out
}

/// The unit that reports multi-user on the console, runs a job and powers
/// off (tests/e2e/e2e-report*; enabled by the installer).
pub const E2E_REPORT: &str = include_str!("../e2e/e2e-report");
pub const E2E_REPORT_SERVICE: &str = include_str!("../e2e/e2e-report.service");

/// What install time adds to the tree: the locally built rear-build as
/// /usr/local/sbin/rear-build and the e2e-report unit (not in the cached
/// tree, so changing them keeps the cache).
pub fn overlay_disk(dir: &Path) -> PathBuf {
    let rb = std::fs::read(bin()).expect("read the rear-build binary");
    tar_disk(
        dir,
        "overlay",
        &[
            ("usr/local/sbin/rear-build", 0o755, &rb),
            ("usr/local/sbin/e2e-report", 0o755, E2E_REPORT.as_bytes()),
            (
                "etc/systemd/system/e2e-report.service",
                0o644,
                E2E_REPORT_SERVICE.as_bytes(),
            ),
        ],
    )
}

/// A job for the installed system: a tar archive with `run` (bash), which
/// the system's e2e-report unit runs once multi-user is reached, printing
/// `E2E-RUN-EXIT=<code>`. Attach it with serial `e2e-job`.
pub fn job_disk(dir: &Path, script: &str) -> PathBuf {
    job_disk_with(dir, script, &[])
}

/// Scripts a job may need, for [`job_disk_with`]: they land next to `run`
/// (the job's working directory), so `bash ./fslist.sh /` works.
pub const JOB_TOOLS: &[(&str, u32, &[u8])] = &[
    ("fslist.sh", 0o755, crate::fslist::FSLIST_SH.as_bytes()),
    ("testdata.sh", 0o755, crate::fslist::TESTDATA_SH.as_bytes()),
];

/// [`job_disk`] with more files next to `run` (path in the job directory,
/// mode, content), e.g. [`JOB_TOOLS`].
pub fn job_disk_with(dir: &Path, script: &str, files: &[(&str, u32, &[u8])]) -> PathBuf {
    let body = format!("#!/bin/bash\n{script}");
    let mut all: Vec<(&str, u32, &[u8])> = vec![("run", 0o755, body.as_bytes())];
    all.extend_from_slice(files);
    tar_disk(dir, "job", &all)
}

/// The serial of the disk the installed system's e2e-report unit writes
/// the job's output directory onto: what the job puts into `$E2E_OUT`
/// (/run/e2e-job/out), as a tar archive, after the job ends (the console
/// says `E2E-RESULTS=<tar's exit code> ...`).
pub const JOB_RESULTS_SERIAL: &str = "e2e-results";

/// A blank disk of `bytes` in `dir` for a job's output, attached with
/// [`JOB_RESULTS_SERIAL`]; read it with [`unpack_job_results`] after the
/// machine powered off.
pub fn job_results_disk(dir: &Path, bytes: u64) -> Disk {
    let p = blank_disk(&dir.join("job-results.raw"), bytes);
    Disk::rw(&p, JOB_RESULTS_SERIAL)
}

/// Unpacks what a job wrote onto its results disk into
/// target/test-artefacts/`name`/ (emptied first) and returns that
/// directory. Err when nothing was written (the disk is still blank: no
/// job ran, or the unit never got that far) or tar fails.
pub fn unpack_job_results(disk: &Path, name: &str) -> Result<PathBuf, String> {
    use std::io::Read;
    // An all-zero disk reads as an empty archive; tell it apart.
    let mut head = [0u8; 512];
    std::fs::File::open(disk)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| format!("read {}: {e}", disk.display()))?;
    if head.iter().all(|&b| b == 0) {
        return Err(format!(
            "{}: blank, the job's results were never written",
            disk.display()
        ));
    }
    let out = artefact_dir().join(name);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    crate::unpack_results(disk, &out)?;
    Ok(out)
}

/// A sparse raw disk of `bytes` with an ext4 file system labelled REAR-000,
/// the backup medium of the tests (made here: mkfs works on a file).
pub fn rear000_disk(path: &Path, bytes: u64) -> PathBuf {
    blank_disk(path, bytes);
    let out = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "REAR-000"])
        .arg(path)
        .output()
        .expect("run mkfs.ext4");
    assert!(
        out.status.success(),
        "mkfs.ext4 {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    path.to_path_buf()
}

/// Copies `inside` (a path on the ext4 file system of `disk`) to `dest`
/// with debugfs, which reads the image without mounting it (the host
/// kernel need not be trusted with it). Err when it is not there.
pub fn ext4_get(disk: &Path, inside: &str, dest: &Path) -> Result<(), String> {
    let _ = std::fs::remove_file(dest);
    // A rescue disk made by `format` holds REAR-000 as partition 3: read
    // it through a read-only loop device over the partition's bytes.
    let part = rear000_partition(disk);
    let lo = part.map(|(start, size)| {
        let o = Command::new("losetup")
            .args(["--find", "--show", "--read-only", "-o"])
            .arg(start.to_string())
            .arg("--sizelimit")
            .arg(size.to_string())
            .arg(disk)
            .output()
            .expect("run losetup");
        assert!(
            o.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    });
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(format!("dump -p {inside} {}", dest.display()))
        .arg(lo.as_deref().map(Path::new).unwrap_or(disk))
        .output()
        .map_err(|e| format!("run debugfs: {e}"));
    if let Some(lo) = &lo {
        let _ = Command::new("losetup").args(["-d", lo]).status();
    }
    let out = out?;
    if dest.is_file() {
        Ok(())
    } else {
        Err(format!(
            "{inside} is not on {}: {}",
            disk.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The byte offset and size of the partition named REAR-000 on `disk`, if
/// it has a partition table with one.
fn rear000_partition(disk: &Path) -> Option<(u64, u64)> {
    let o = Command::new("sfdisk")
        .arg("--json")
        .arg(disk)
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
    v["partitiontable"]["partitions"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "REAR-000")
        .and_then(|p| Some((p["start"].as_u64()? * 512, p["size"].as_u64()? * 512)))
}

/// A rescue disk of `bytes` made by `rear-build format` (GPT, GRUB,
/// REAR-000 as partition 3): the backup medium that also boots.
pub fn rescue_disk(path: &Path, bytes: u64) -> PathBuf {
    blank_disk(path, bytes);
    let r = crate::rear_build(&["format", path.to_str().unwrap(), "--yes"], &[], None);
    assert_eq!(r.status, 0, "format {}: {}", path.display(), r.stderr);
    path.to_path_buf()
}

/// How long a rescue kernel may take to start its init.
const RESCUE_INIT_WITHIN: Duration = Duration::from_secs(300);

/// How a rescue system boots: its kernel and initrd with a command line,
/// or through the firmware from a CD or the boot disk among `disks`, its
/// menu driven by typing: for each (text shown, keys), the keys once the
/// text is on the console.
pub enum RescueBoot<'a> {
    Kernel(&'a Path, &'a Path, &'a str),
    Cd(&'a Path, &'a [(&'a str, &'a [&'a str])]),
    Disk(&'a [(&'a str, &'a [&'a str])]),
}

/// Boots a rescue system as `how` says with `disks`, waits for
/// `REAR-RUN-EXIT=` and the power-off; returns (exit code, seconds,
/// console log path).
pub fn rescue_run(
    name: &str,
    firmware: Firmware,
    how: RescueBoot,
    disks: Vec<Disk>,
    timeout: Duration,
) -> (i32, f64, PathBuf) {
    let t0 = Instant::now();
    let (kernel, cd, menu) = match how {
        RescueBoot::Kernel(k, i, a) => (Some((k, i, a)), None, &[][..]),
        RescueBoot::Cd(iso, menu) => (None, Some(iso), menu),
        RescueBoot::Disk(menu) => (None, None, menu),
    };
    let m = Machine {
        name,
        firmware,
        kernel,
        cd,
        disks,
        memory_mb: 2048,
    };
    let start = |m: &Machine| {
        let mut vm = boot(m);
        for (shown, keys) in menu {
            vm.choose(shown, Duration::from_secs(300), keys);
        }
        vm
    };
    let mut vm = start(&m);
    // Under emulation a kernel has been seen to stop for good early in its
    // boot (after switching to the hpet clocksource). Nothing has touched
    // the disks before the rescue system's init speaks: boot once more.
    if vm.wait_for("rear-init", RESCUE_INIT_WITHIN).is_none() {
        vm.kill();
        let hung = vm.save_log();
        eprintln!(
            "{name}: no rear-init line within {RESCUE_INIT_WITHIN:?} (a boot hang, console {}): booting it once more",
            hung.display()
        );
        std::fs::rename(&hung, hung.with_extension("hung.log")).unwrap();
        vm = start(&m);
    }
    let line = vm.expect("REAR-RUN-EXIT=", timeout);
    vm.wait_exit(Duration::from_secs(60));
    let seconds = t0.elapsed().as_secs_f64();
    let log = vm.save_log();
    let exit = line
        .rsplit("REAR-RUN-EXIT=")
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(-1);
    (exit, seconds, log)
}

/// A sparse raw disk image of `bytes`.
pub fn blank_disk(path: &Path, bytes: u64) -> PathBuf {
    let f =
        std::fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.set_len(bytes).unwrap();
    path.to_path_buf()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// qemu's SeaBIOS.
    Bios,
    /// OVMF from Debian's `ovmf` package.
    Uefi,
}

/// One virtio disk.
#[derive(Debug, Clone)]
pub struct Disk {
    pub path: PathBuf,
    pub serial: String,
    pub readonly: bool,
    /// Offered to the firmware as a boot disk (in the order of the list).
    pub boot: bool,
}

impl Disk {
    pub fn rw(path: &Path, serial: &str) -> Disk {
        Disk {
            path: path.to_path_buf(),
            serial: serial.to_string(),
            readonly: false,
            boot: false,
        }
    }
    pub fn ro(path: &Path, serial: &str) -> Disk {
        Disk {
            readonly: true,
            ..Disk::rw(path, serial)
        }
    }
    pub fn boot(path: &Path, serial: &str) -> Disk {
        Disk {
            boot: true,
            ..Disk::rw(path, serial)
        }
    }
}

/// A machine: booted from its disks (no `kernel`) through the firmware, or
/// directly from a kernel and initrd with a command line.
pub struct Machine<'a> {
    pub name: &'a str,
    pub firmware: Firmware,
    pub kernel: Option<(&'a Path, &'a Path, &'a str)>,
    /// A CD (an ISO image), booted first.
    pub cd: Option<&'a Path>,
    pub disks: Vec<Disk>,
    pub memory_mb: u32,
}

/// The qemu command line for `m` (exposed for logs and for tests of it).
pub fn qemu_command(m: &Machine) -> Command {
    let mut c = Command::new("qemu-system-x86_64");
    c.args(["-machine", "q35,accel=tcg", "-cpu", "max", "-smp", "2"])
        .args(["-m", &m.memory_mb.to_string()])
        .args(["-nodefaults", "-nographic", "-no-reboot"])
        .args(["-serial", "stdio", "-boot", "strict=on"])
        .args([
            "-netdev",
            "user,id=n0,restrict=on",
            "-device",
            "virtio-net-pci,netdev=n0,romfile=",
        ]);
    if m.firmware == Firmware::Uefi {
        c.args(["-bios", "/usr/share/ovmf/OVMF.fd"]);
    }
    if let Some((kernel, initrd, append)) = m.kernel {
        c.arg("-kernel")
            .arg(kernel)
            .arg("-initrd")
            .arg(initrd)
            .arg("-append")
            .arg(format!("console=ttyS0 panic=-1 {append}"));
    }
    let mut bootindex = 0;
    if let Some(iso) = m.cd {
        c.arg("-drive")
            .arg(format!(
                "file={},format=raw,if=none,id=cd,readonly=on",
                iso.display()
            ))
            .args(["-device", "ide-cd,drive=cd,bootindex=0"]);
        bootindex = 1;
    }
    for (i, d) in m.disks.iter().enumerate() {
        let ro = if d.readonly { ",readonly=on" } else { "" };
        c.arg("-drive").arg(format!(
            "file={},format=raw,if=none,id=d{i}{ro}",
            d.path.display()
        ));
        let mut dev = format!("virtio-blk-pci,drive=d{i},serial={}", d.serial);
        if d.boot {
            dev.push_str(&format!(",bootindex={bootindex}"));
            bootindex += 1;
        }
        c.arg("-device").arg(dev);
    }
    c
}

/// Starts `m`; its serial console is read line by line into the [`Vm`],
/// and written as it comes to target/test-artefacts/`name`.console.log
/// (`tail -f` it to watch; [`Vm::save_log`] rewrites it at the end).
pub fn boot(m: &Machine) -> Vm {
    if m.firmware == Firmware::Uefi {
        assert!(
            Path::new("/usr/share/ovmf/OVMF.fd").exists(),
            "{}: UEFI needs /usr/share/ovmf/OVMF.fd: apt-get install ovmf",
            m.name
        );
    }
    let c = qemu_command(m);
    eprintln!("{}: {:?}", m.name, c);
    Vm::spawn(m.name, c)
}

/// The outcome of an installation.
pub struct Installed {
    /// The install script's exit code (0: the system is on the disks).
    pub exit: i32,
    /// What the script saved: log.txt, fstab, grub.cfg, blkid.txt.
    pub results: PathBuf,
    pub console_log: PathBuf,
    pub seconds: f64,
}

/// Installs `rootfs` onto `targets` (attached first: vda, vdb, ...) with
/// the layout `scenario` makes (a bash script using `tests/e2e/install-lib.sh`),
/// from inside a rescue image built here with the installer included.
/// `work` holds the image, the overlay and results disks. Results go to
/// target/test-artefacts/`name`/.
pub fn install(
    name: &str,
    work: &Path,
    scenario: &str,
    targets: &[PathBuf],
    rootfs: &RootFs,
    timeout: Duration,
) -> Installed {
    std::fs::create_dir_all(work).unwrap();
    let script = work.join("e2e-install");
    std::fs::write(
        &script,
        format!("#!/bin/bash\n{RESULTS_SNIPPET}\n{INSTALL_LIB}\n{scenario}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (kernel, initrd) = build_image(
        &work.join("store"),
        &work.join("rescue"),
        &[(script, "/usr/local/bin/e2e-install")],
    );
    let overlay = overlay_disk(work);
    let results = blank_disk(&work.join("results.raw"), 64 << 20);

    let mut disks: Vec<Disk> = targets
        .iter()
        .enumerate()
        .map(|(i, p)| Disk::rw(p, &format!("rbdisk{i}")))
        .collect();
    assert!(targets.len() < 9, "at most 8 target disks");
    disks.push(Disk::ro(&rootfs.tar, "e2e-rootfs"));
    disks.push(Disk::ro(&overlay, "e2e-overlay"));
    disks.push(Disk::rw(&results, RESULTS_SERIAL));

    let (exit, seconds, console_log) = rescue_run(
        name,
        Firmware::Bios,
        RescueBoot::Kernel(&kernel, &initrd, "rear.auto=run:/usr/local/bin/e2e-install"),
        disks,
        timeout,
    );

    let out = artefact_dir().join(name);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let unpacked = crate::unpack_results(&results, &out);
    let _ = std::fs::remove_file(&results);
    if let Err(e) = unpacked {
        panic!(
            "{name}: no results archive (install exit {exit}): {e}\nconsole log: {}",
            console_log.display()
        );
    }
    Installed {
        exit,
        results: out,
        console_log,
        seconds,
    }
}

/// What the installed system reported on its console (e2e-report unit).
#[derive(Debug, Clone)]
pub struct Report {
    /// `E2E-STATE ...`: root, boot and swap devices, kernel.
    pub state: String,
    /// `E2E-REAR-BUILD ...`: `rear-build --version` inside the system.
    pub rear_build: String,
    /// Units systemd reported failed when multi-user was reached.
    pub failed_units: Vec<String>,
    /// Exit code of the job from an `e2e-job` disk, if one was attached.
    pub job_exit: Option<i32>,
    /// From power-on to multi-user.
    pub to_multi_user: f64,
    /// From power-on to power-off (the job included).
    pub seconds: f64,
    pub console_log: PathBuf,
}

/// Boots an installed system from `disks` (the boot disks first, marked
/// [`Disk::boot`]), waits for the `E2E-MULTI-USER` marker, the job's exit
/// if `with_job`, and the power-off; every wait bounded by `timeout` in
/// all. The console log is saved either way.
pub fn boot_installed(
    name: &str,
    firmware: Firmware,
    disks: Vec<Disk>,
    with_job: bool,
    timeout: Duration,
) -> Report {
    let t0 = Instant::now();
    let mut vm = boot(&Machine {
        name,
        firmware,
        kernel: None,
        cd: None,
        disks,
        memory_mb: 1024,
    });
    let left = |t0: Instant| timeout.saturating_sub(t0.elapsed());
    let state = vm.expect("E2E-STATE ", left(t0));
    let rear_build = vm.expect("E2E-REAR-BUILD ", left(t0));
    let failed = vm.expect("E2E-FAILED-UNITS ", left(t0));
    vm.expect("E2E-MULTI-USER", left(t0));
    let to_multi_user = t0.elapsed().as_secs_f64();
    let job_exit = with_job.then(|| {
        let l = vm.expect("E2E-RUN-EXIT=", left(t0));
        l.rsplit("E2E-RUN-EXIT=")
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(-1)
    });
    vm.expect("E2E-POWEROFF", left(t0));
    vm.wait_exit(Duration::from_secs(120).min(left(t0) + Duration::from_secs(5)));
    let seconds = t0.elapsed().as_secs_f64();
    let console_log = vm.save_log();
    let after = |l: &str, k: &str| l[l.find(k).unwrap() + k.len()..].trim().to_string();
    let failed_units = after(&failed, "E2E-FAILED-UNITS ")
        .trim_matches(|c| c == '[' || c == ']')
        .split_whitespace()
        .map(str::to_string)
        .collect();
    Report {
        state: after(&state, "E2E-STATE "),
        rear_build: after(&rear_build, "E2E-REAR-BUILD "),
        failed_units,
        job_exit,
        to_multi_user,
        seconds,
        console_log,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packages of a list for debian-rootfs.sh, as it reads them.
    fn listed(text: &str) -> Vec<&str> {
        text.lines()
            .flat_map(|l| l.split('#').next().unwrap().split_whitespace())
            .collect()
    }

    /// The minimal server's list keeps to what issue 15 allows: no
    /// partitioning program or zstd either (rear-build writes partition
    /// tables and compresses tar backups itself).
    #[test]
    fn the_minimal_tree_lists_only_what_the_server_needs() {
        let text = include_str!("../e2e/debian-packages-minimal.txt");
        let pkgs = listed(text);
        for p in [
            "linux-image-amd64",
            "systemd-sysv",
            "grub-pc-bin",
            "lvm2",
            "mdadm",
            "xfsprogs",
        ] {
            assert!(pkgs.contains(&p), "{p} missing");
        }
        for p in MINIMAL_LACKS.iter().copied().chain([
            "cryptsetup",
            "xorriso",
            "mtools",
            "borgbackup",
            "restic",
            "rsync",
        ]) {
            assert!(!pkgs.contains(&p), "{p} is not for the minimal server");
        }
    }

    #[test]
    fn job_disk_carries_the_tools_next_to_run() {
        let tmp = tempfile::tempdir().unwrap();
        let disk = job_disk_with(tmp.path(), "echo hi\n", JOB_TOOLS);
        let x = tmp.path().join("x");
        std::fs::create_dir(&x).unwrap();
        crate::unpack_results(&disk, &x).unwrap();
        for f in ["run", "fslist.sh", "testdata.sh"] {
            let m = std::fs::metadata(x.join(f)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o755, "{f}");
        }
        assert_eq!(
            std::fs::read_to_string(x.join("run")).unwrap(),
            "#!/bin/bash\necho hi\n"
        );
        assert_eq!(
            std::fs::read(x.join("fslist.sh")).unwrap(),
            crate::fslist::FSLIST_SH.as_bytes()
        );
    }

    /// What e2e-report does in the guest (tar -cf onto the whole disk,
    /// which keeps its size), then the host's side.
    #[test]
    fn job_results_come_back_from_the_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let d = job_results_disk(tmp.path(), 4 << 20);
        assert_eq!(d.serial, JOB_RESULTS_SERIAL);
        let name = "unit-job-results";
        let blank = unpack_job_results(&d.path, name).unwrap_err();
        assert!(blank.contains("blank"), "{blank}");

        let out = tmp.path().join("out");
        std::fs::create_dir_all(out.join("sub")).unwrap();
        std::fs::write(out.join("before.fslist"), "/ type=d\n").unwrap();
        std::fs::write(out.join("sub/x"), "x").unwrap();
        let st = Command::new("bash")
            .arg("-c")
            .arg(r#"tar -C "$1" -cf - . | dd of="$2" conv=notrunc status=none"#)
            .arg("-")
            .arg(&out)
            .arg(&d.path)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(std::fs::metadata(&d.path).unwrap().len(), 4 << 20);
        let got = unpack_job_results(&d.path, name).unwrap();
        assert_eq!(
            std::fs::read_to_string(got.join("before.fslist")).unwrap(),
            "/ type=d\n"
        );
        assert_eq!(std::fs::read_to_string(got.join("sub/x")).unwrap(), "x");
        let _ = std::fs::remove_dir_all(got);
    }
}
