//! Runs a plan's steps, the only part of layout recreation that touches
//! disks. Before each step it resolves every device the step writes down to
//! whole disks through sysfs (partitions to their disk, md/dm devices to
//! their members) and refuses the step unless all of them are targets of the
//! plan. Done steps are recorded (in the file the `-s` script records its
//! own in, see [`crate::progress`]), so a re-run after a failure resumes
//! where it stopped; the first failing step stops the run.

use crate::plan::{Input, Plan, Step};
pub use crate::progress::{digest, State};
use rear_exec::{Call, Exec};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("refusing step {step}: {device} is on {disk}, which is not a target of this recovery (targets: {targets})")]
    Outside {
        step: String,
        device: String,
        disk: String,
        targets: String,
    },
    #[error("refusing step {step}: {device} does not exist and no earlier step creates it")]
    Missing { step: String, device: String },
    #[error("step {step} ({what}) failed: {error}")]
    Failed {
        step: String,
        what: String,
        error: String,
    },
    #[error("refusing step {step}: {what} is mounted at {target}, not {want}; the restore would go into that file system (unmount it, or choose another --mount-root)")]
    ForeignMount {
        step: String,
        target: String,
        what: String,
        want: String,
    },
    #[error("{0}")]
    Io(String),
}

/// Finds the whole disks under a block device through sysfs.
pub struct Resolver {
    pub sys: PathBuf,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver {
            sys: PathBuf::from("/sys"),
        }
    }
}

impl Resolver {
    /// Kernel name of a device path: `/dev/mapper/vg-lv` → `dm-3`. Found
    /// by device number (without udev, device-mapper nodes are plain nodes,
    /// not links), else by the path's own name.
    fn kernel_name(&self, dev: &str) -> Option<String> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let meta = fs::metadata(dev).ok()?;
        if meta.file_type().is_block_device() {
            let rdev = meta.rdev();
            let (major, minor) = (libc_major(rdev), libc_minor(rdev));
            if let Some(name) = self.devno_name(&format!("{major}:{minor}")) {
                return Some(name);
            }
        }
        let real = fs::canonicalize(dev).ok()?;
        real.file_name().map(|n| n.to_string_lossy().to_string())
    }

    /// Whether the block devices `a` and `b` (kernel names) are members of
    /// one btrfs (/sys/fs/btrfs/FSID/devices lists each file system's).
    fn same_btrfs(&self, a: &str, b: &str) -> bool {
        let Ok(fss) = fs::read_dir(self.sys.join("fs/btrfs")) else {
            return false;
        };
        fss.filter_map(|e| e.ok()).any(|e| {
            let devices = e.path().join("devices");
            devices.join(a).exists() && devices.join(b).exists()
        })
    }

    /// Kernel name of the block device numbered `major:minor`.
    fn devno_name(&self, maj_min: &str) -> Option<String> {
        let target = fs::read_link(self.sys.join("dev/block").join(maj_min)).ok()?;
        target.file_name().map(|n| n.to_string_lossy().to_string())
    }

    /// The whole disks (kernel names) `name` lives on.
    fn disks_of(&self, name: &str, out: &mut BTreeSet<String>, depth: usize) {
        let node = self.sys.join("class/block").join(name);
        if depth > 16 {
            out.insert(name.to_string());
            return;
        }
        if node.join("partition").exists() {
            if let Some(parent) = fs::canonicalize(&node)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
            {
                self.disks_of(&parent, out, depth + 1);
                return;
            }
        }
        let slaves: Vec<String> = fs::read_dir(node.join("slaves"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        if slaves.is_empty() {
            out.insert(name.to_string());
        } else {
            for s in slaves {
                self.disks_of(&s, out, depth + 1);
            }
        }
    }

    /// Whole disks under `dev`, or None when `dev` does not exist.
    pub fn disks(&self, dev: &str) -> Option<BTreeSet<String>> {
        let name = self.kernel_name(dev)?;
        let mut out = BTreeSet::new();
        self.disks_of(&name, &mut out, 0);
        Some(out)
    }
}

// The glibc encoding of dev_t (as `major(3)` and `minor(3)` decode it).
fn libc_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)
}

fn libc_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)
}

/// Checks that `step` writes nothing outside the targets.
pub fn check_step(
    step: &Step,
    targets: &BTreeSet<String>,
    created: &BTreeSet<String>,
    r: &Resolver,
) -> Result<(), ApplyError> {
    let made = |w: &str| created.contains(w) || step.creates.iter().any(|c| c == w);
    check_writes(&step.id, &step.writes, targets, &made, r)
}

/// Checks that every device in `writes` (of the step named `step`) lives
/// on target disks only, resolved through sysfs. A device that does not
/// exist is refused unless `made` says an earlier step makes it. Recovery's
/// later stages (the bootloader) are checked with it too.
pub fn check_writes(
    step: &str,
    writes: &[String],
    targets: &BTreeSet<String>,
    made: &dyn Fn(&str) -> bool,
    r: &Resolver,
) -> Result<(), ApplyError> {
    let target_names: BTreeSet<String> = targets.iter().filter_map(|t| r.kernel_name(t)).collect();
    for w in writes {
        match r.disks(w) {
            Some(disks) => {
                if let Some(d) = disks.iter().find(|d| !target_names.contains(*d)) {
                    return Err(ApplyError::Outside {
                        step: step.to_string(),
                        device: w.clone(),
                        disk: format!("/dev/{d}"),
                        targets: targets.iter().cloned().collect::<Vec<_>>().join(", "),
                    });
                }
            }
            None if made(w) => {}
            None => {
                return Err(ApplyError::Missing {
                    step: step.to_string(),
                    device: w.clone(),
                })
            }
        }
    }
    Ok(())
}

/// The bytes a step reads on standard input; a secret file gives its first
/// line (cryptsetup reads a passphrase up to the newline).
fn input_bytes(input: &Option<Input>) -> Result<Option<Vec<u8>>, String> {
    Ok(match input {
        None => None,
        Some(Input::Text(t)) => Some(t.clone().into_bytes()),
        Some(Input::Secret(f)) => {
            rear_exec::check_secret_file(f)?;
            let data = fs::read(f)
                .map_err(|e| format!("cannot read the passphrase file {}: {e}", f.display()))?;
            let line = first_line(&data);
            if line.is_empty() {
                return Err(format!("the passphrase file {} is empty", f.display()));
            }
            let mut out = line.to_vec();
            out.push(b'\n');
            Some(out)
        }
    })
}

/// A passphrase file's first line as bytes: up to the first newline, a
/// carriage return before it dropped (a file written on Windows). Any
/// other byte is kept as it is (a passphrase need not be UTF-8, and
/// blanks are part of it): the key the volume gets is exactly what a key
/// file with these bytes, or the same line typed at a prompt, opens.
pub fn first_line(data: &[u8]) -> &[u8] {
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What is mounted where a `mount:` step mounts, per /proc/self/mountinfo.
#[derive(Debug, PartialEq, Eq)]
enum AtTarget {
    /// Nothing: the step runs (again, when it was done: an operator
    /// unmounted it after a failed run, and a restore would otherwise go
    /// into the empty directory underneath).
    Nothing,
    /// The file system the step mounts (the same device, and subvolume).
    Ours,
    /// Something else, described.
    Foreign(String),
}

/// The device and mount point a `mount:` step mounts (its command ends
/// `DEVICE TARGET`), and the subvolume it asks for.
fn mount_of(step: &Step) -> Option<(&str, &str, Option<&str>)> {
    let target = step.id.strip_prefix("mount:")?;
    let [.., dev, _] = &step.argv[..] else {
        return None;
    };
    let subvol = step
        .argv
        .windows(2)
        .filter(|w| w[0] == "-o")
        .flat_map(|w| w[1].split(','))
        .find_map(|o| o.strip_prefix("subvol="));
    Some((dev.as_str(), target, subvol))
}

/// What `mountinfo` shows mounted at the step's target (the last, topmost
/// mount there), compared with what the step mounts: the same device by
/// its kernel name (through sysfs from the mount's major:minor, or, for a
/// file system on an anonymous device number such as btrfs, from the
/// mount's source device), and for a subvolume the same one.
fn at_target(step: &Step, mountinfo: &str, r: &Resolver) -> AtTarget {
    let Some((dev, target, subvol)) = mount_of(step) else {
        return AtTarget::Nothing;
    };
    let Some(m) = mountinfo
        .lines()
        .filter_map(|l| crate::capture::parse::parse_mountinfo(l).ok())
        .flatten()
        .rfind(|m| m.mountpoint == target)
    else {
        return AtTarget::Nothing;
    };
    let mounted = r.devno_name(&m.maj_min).or_else(|| {
        (m.maj_min.starts_with("0:") && m.source.starts_with('/'))
            .then(|| r.kernel_name(&m.source))
            .flatten()
    });
    let want = r.kernel_name(dev);
    let same_root = match subvol {
        Some(sv) => m.root.trim_start_matches('/') == sv.trim_start_matches('/'),
        None => true,
    };
    let same_fs = match (&mounted, &want) {
        (Some(a), Some(b)) => a == b || (m.fstype == "btrfs" && r.same_btrfs(a, b)),
        _ => false,
    };
    if same_fs && same_root {
        return AtTarget::Ours;
    }
    let mut what = format!("{} ({}, device {}", m.source, m.fstype, m.maj_min);
    if let Some(name) = &mounted {
        what.push_str(&format!(", /dev/{name}"));
    }
    if m.root != "/" {
        what.push_str(&format!(", subvolume or directory {}", m.root));
    }
    what.push(')');
    AtTarget::Foreign(what)
}

/// Runs the plan. `state_file` records done steps (a [`State`], shared with
/// the `-s` script); `say` gets one line per step. Stops at the first
/// failure, with the done steps saved.
///
/// A `mount:` step whose mount point has a file system mounted already is
/// checked first: the one it mounts is skipped (done), anything else stops
/// the run before the restore could go into it.
pub fn apply(
    plan: &Plan,
    exec: &dyn Exec,
    r: &Resolver,
    state_file: &Path,
    say: &mut dyn FnMut(&str),
) -> Result<usize, ApplyError> {
    let mountinfo = || fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    apply_with(plan, exec, r, state_file, &mountinfo, say)
}

/// [`apply`], with the mount table read by `mountinfo` (before each mount step).
fn apply_with(
    plan: &Plan,
    exec: &dyn Exec,
    r: &Resolver,
    state_file: &Path,
    mountinfo: &dyn Fn() -> String,
    say: &mut dyn FnMut(&str),
) -> Result<usize, ApplyError> {
    let mut state = State::load(state_file, &digest(plan));
    let mut created: BTreeSet<String> = BTreeSet::new();
    let total = plan.steps.len();
    let mut ran = 0;
    for (i, step) in plan.steps.iter().enumerate() {
        created.extend(step.creates.iter().cloned());
        let mount = mount_of(step);
        let at = match mount {
            Some(_) => at_target(step, &mountinfo(), r),
            None => AtTarget::Nothing,
        };
        let done = state.is_done(&step.id);
        match (&at, mount) {
            (AtTarget::Foreign(what), Some((dev, target, _))) => {
                return Err(ApplyError::ForeignMount {
                    step: step.id.clone(),
                    target: target.to_string(),
                    what: what.clone(),
                    want: dev.to_string(),
                });
            }
            (AtTarget::Ours, _) if !done => {
                // Mounted by hand, or by the -s script under another state
                // file: the same file system, not mounted twice.
                say(&format!(
                    "[{}/{total}] mounted already: {}",
                    i + 1,
                    step.what
                ));
                state.mark_done(&step.id);
                state
                    .save(state_file)
                    .map_err(|e| ApplyError::Io(format!("{}: {e}", state_file.display())))?;
                continue;
            }
            _ => {}
        }
        // A done mount whose file system is gone runs again.
        if done && !(mount.is_some() && at == AtTarget::Nothing) {
            say(&format!("[{}/{total}] done already: {}", i + 1, step.what));
            continue;
        }
        check_step(step, &plan.targets, &created, r)?;
        say(&format!(
            "[{}/{total}] {}: {}",
            i + 1,
            step.what,
            rear_exec::quote_argv(&step.argv)
        ));
        let input = input_bytes(&step.input).map_err(|error| ApplyError::Failed {
            step: step.id.clone(),
            what: step.what.clone(),
            error,
        })?;
        let mut call = Call::argv(&step.argv);
        if let Some(data) = input {
            if matches!(step.input, Some(Input::Secret(_))) {
                // Should the tool echo it, the log and the error mask it.
                call = call.secret(&String::from_utf8_lossy(&data));
            }
            call = call.stdin(data);
        }
        exec.run(&call).map_err(|e| ApplyError::Failed {
            step: step.id.clone(),
            what: step.what.clone(),
            error: e.to_string(),
        })?;
        state.mark_done(&step.id);
        state
            .save(state_file)
            .map_err(|e| ApplyError::Io(format!("{}: {e}", state_file.display())))?;
        ran += 1;
    }
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake /sys and /dev: vda (partition vda1), vdb, and dm-0 on vda1.
    fn fake() -> (tempfile::TempDir, Resolver, String) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let sys = root.join("sys");
        let devices = sys.join("devices/virtual/block");
        for disk in ["vda", "vdb"] {
            fs::create_dir_all(sys.join(format!("devices/pci/{disk}"))).unwrap();
        }
        fs::create_dir_all(sys.join("devices/pci/vda/vda1")).unwrap();
        fs::write(sys.join("devices/pci/vda/vda1/partition"), "1").unwrap();
        fs::create_dir_all(devices.join("dm-0/slaves")).unwrap();
        symlink(
            sys.join("devices/pci/vda/vda1"),
            devices.join("dm-0/slaves/vda1"),
        )
        .unwrap();
        fs::create_dir_all(sys.join("class/block")).unwrap();
        for (n, p) in [
            ("vda", "devices/pci/vda"),
            ("vdb", "devices/pci/vdb"),
            ("vda1", "devices/pci/vda/vda1"),
            ("dm-0", "devices/virtual/block/dm-0"),
        ] {
            symlink(sys.join(p), sys.join("class/block").join(n)).unwrap();
        }
        fs::create_dir_all(sys.join("dev/block")).unwrap();
        for (n, p) in [
            ("254:0", "devices/pci/vda"),
            ("254:1", "devices/pci/vda/vda1"),
            ("254:16", "devices/pci/vdb"),
        ] {
            symlink(sys.join(p), sys.join("dev/block").join(n)).unwrap();
        }
        let dev = root.join("dev");
        fs::create_dir_all(dev.join("mapper")).unwrap();
        for n in ["vda", "vdb", "vda1", "dm-0"] {
            fs::write(dev.join(n), "").unwrap();
        }
        symlink(dev.join("dm-0"), dev.join("mapper/cr")).unwrap();
        let dev = dev.to_string_lossy().to_string();
        (d, Resolver { sys }, dev)
    }

    /// A plan of one step that reads the passphrase file `pass` (its mode
    /// set to `mode`) on stdin and writes vdb.
    fn secret_plan(pass: &Path, mode: u32, dev: &str) -> Plan {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(pass, fs::Permissions::from_mode(mode)).unwrap();
        let vdb = format!("{dev}/vdb");
        let mut s = step("cryptsetup", &[&vdb]);
        s.input = Some(Input::Secret(pass.to_path_buf()));
        Plan {
            targets: [vdb].into(),
            steps: vec![s],
            ..Default::default()
        }
    }

    /// Records every call; the program named `fail` fails.
    fn record(fail: Option<&'static str>) -> rear_exec::Fake {
        rear_exec::Fake::answering(move |c| {
            Ok(match fail {
                Some(f) if c.program() == f => rear_exec::Output::fail(1, "boom"),
                _ => rear_exec::Output::default(),
            })
        })
    }

    fn step(id: &str, writes: &[&str]) -> Step {
        Step {
            id: id.into(),
            what: format!("do {id}"),
            argv: vec![id.into()],
            input: None,
            writes: writes.iter().map(|s| s.to_string()).collect(),
            creates: vec![],
        }
    }

    #[test]
    fn device_numbers_decode_like_glibc() {
        // glibc's makedev(3).
        let makedev = |ma: u64, mi: u64| {
            ((ma & 0xffff_f000) << 32)
                | ((ma & 0xfff) << 8)
                | ((mi & 0xffff_ff00) << 12)
                | (mi & 0xff)
        };
        for (ma, mi) in [(254, 17), (259, 1048577), (8, 0), (4095, 255)] {
            let dev = makedev(ma, mi);
            assert_eq!((libc_major(dev), libc_minor(dev)), (ma, mi));
        }
    }

    #[test]
    fn real_block_devices_resolve_through_sys_dev_block() {
        // /dev/loop0 is a block device on every machine this runs on.
        let r = Resolver::default();
        assert_eq!(r.kernel_name("/dev/loop0").as_deref(), Some("loop0"));
    }

    #[test]
    fn devices_resolve_to_their_disks() {
        let (_d, r, dev) = fake();
        assert_eq!(
            r.disks(&format!("{dev}/vda1")).unwrap(),
            BTreeSet::from(["vda".to_string()])
        );
        assert_eq!(
            r.disks(&format!("{dev}/mapper/cr")).unwrap(),
            BTreeSet::from(["vda".to_string()])
        );
        assert_eq!(
            r.disks(&format!("{dev}/vdb")).unwrap(),
            BTreeSet::from(["vdb".to_string()])
        );
        assert!(r.disks(&format!("{dev}/nope")).is_none());
    }

    #[test]
    fn a_write_through_a_mapper_to_a_non_target_disk_is_refused_before_running() {
        let (d, r, dev) = fake();
        let plan = Plan {
            targets: [format!("{dev}/vdb")].into(),
            steps: vec![step("mkfs", &[&format!("{dev}/mapper/cr")])],
            ..Default::default()
        };
        let rec = record(None);
        let err = apply(&plan, &rec, &r, &d.path().join("state"), &mut |_| {}).unwrap_err();
        assert!(matches!(err, ApplyError::Outside { .. }), "{err}");
        assert!(
            err.to_string().contains("/dev/vda, which is not a target"),
            "{err}"
        );
        assert!(rec.calls().is_empty(), "nothing ran");
    }

    /// An IMSM volume's partition (md126p1 → md126, whose members are the
    /// container's disks vda and vdb) is checked against both disks.
    #[test]
    fn a_partition_of_an_array_in_a_container_resolves_to_its_disks() {
        let (d, r, dev) = fake();
        let sys = &r.sys;
        let virt = sys.join("devices/virtual/block");
        for md in ["md127", "md126"] {
            fs::create_dir_all(virt.join(md).join("slaves")).unwrap();
            for disk in ["vda", "vdb"] {
                symlink(
                    sys.join(format!("devices/pci/{disk}")),
                    virt.join(md).join("slaves").join(disk),
                )
                .unwrap();
            }
            symlink(virt.join(md), sys.join("class/block").join(md)).unwrap();
        }
        fs::create_dir_all(virt.join("md126/md126p1")).unwrap();
        fs::write(virt.join("md126/md126p1/partition"), "1").unwrap();
        symlink(virt.join("md126/md126p1"), sys.join("class/block/md126p1")).unwrap();
        fs::write(d.path().join("dev/md126p1"), "").unwrap();
        let p1 = format!("{dev}/md126p1");
        assert_eq!(
            r.disks(&p1).unwrap(),
            BTreeSet::from(["vda".to_string(), "vdb".to_string()])
        );
        let both: BTreeSet<String> = [format!("{dev}/vda"), format!("{dev}/vdb")].into();
        check_writes("mkfs", std::slice::from_ref(&p1), &both, &|_| false, &r).unwrap();
        let one: BTreeSet<String> = [format!("{dev}/vda")].into();
        let err = check_writes("mkfs", &[p1], &one, &|_| false, &r).unwrap_err();
        assert!(matches!(err, ApplyError::Outside { .. }), "{err}");
        assert!(err.to_string().contains("/dev/vdb"), "{err}");
    }

    #[test]
    fn unknown_devices_are_refused_unless_created_by_the_plan() {
        let (d, r, dev) = fake();
        let md = format!("{dev}/md0");
        let mut create = step("mdadm", &[&format!("{dev}/vdb")]);
        create.creates = vec![md.clone()];
        let plan = Plan {
            targets: [format!("{dev}/vdb")].into(),
            steps: vec![create, step("pvcreate", &[&md])],
            ..Default::default()
        };
        let rec = record(None);
        apply(&plan, &rec, &r, &d.path().join("state"), &mut |_| {}).unwrap();
        assert_eq!(rec.calls().len(), 2);
        let plan = Plan {
            targets: [format!("{dev}/vdb")].into(),
            steps: vec![step("pvcreate", &[&md])],
            ..Default::default()
        };
        let err = apply(&plan, &rec, &r, &d.path().join("state2"), &mut |_| {}).unwrap_err();
        assert!(matches!(err, ApplyError::Missing { .. }), "{err}");
    }

    #[test]
    fn failure_stops_and_a_rerun_resumes_after_the_done_steps() {
        let (d, r, dev) = fake();
        let vdb = format!("{dev}/vdb");
        let plan = Plan {
            targets: [vdb.clone()].into(),
            steps: vec![
                step("one", &[&vdb]),
                step("two", &[&vdb]),
                step("three", &[&vdb]),
            ],
            ..Default::default()
        };
        let state = d.path().join("state.json");
        let rec = record(Some("two"));
        let err = apply(&plan, &rec, &r, &state, &mut |_| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("step two (do two) failed: `two` failed (exit status: 1): boom"),
            "{err}"
        );
        assert_eq!(rec.calls().len(), 2, "three never ran");
        let rec = record(None);
        let mut lines = Vec::new();
        let ran = apply(&plan, &rec, &r, &state, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(ran, 2);
        let argv0: Vec<String> = rec
            .calls()
            .iter()
            .map(|c| c.argv_lossy()[0].clone())
            .collect();
        assert_eq!(argv0, ["two", "three"]);
        assert!(lines[0].contains("done already: do one"));
        // Another plan does not reuse this state.
        let mut other = plan.clone();
        other.steps[0].argv.push("x".into());
        let rec = record(None);
        assert_eq!(apply(&other, &rec, &r, &state, &mut |_| {}).unwrap(), 3);
    }

    #[test]
    fn a_passphrase_is_the_first_line_byte_for_byte() {
        assert_eq!(first_line(b"pass phrase\n"), b"pass phrase");
        assert_eq!(first_line(b"pass phrase"), b"pass phrase");
        assert_eq!(first_line(b"crlf\r\nsecond\n"), b"crlf");
        assert_eq!(first_line(b" blanks kept \n"), b" blanks kept ");
        assert_eq!(first_line(b"latin1 \xe9\xff\n"), b"latin1 \xe9\xff");
        assert_eq!(first_line(b"\nsecond"), b"");
        assert_eq!(first_line(b""), b"");
    }

    #[test]
    fn a_passphrase_that_is_not_utf8_reaches_stdin_unchanged() {
        let (d, r, dev) = fake();
        let pass = d.path().join("pass");
        fs::write(&pass, b"caf\xe9\r\n").unwrap();
        let plan = secret_plan(&pass, 0o600, &dev);
        let rec = record(None);
        apply(&plan, &rec, &r, &d.path().join("st"), &mut |_| {}).unwrap();
        assert_eq!(rec.calls()[0].input(), Some(&b"caf\xe9\n"[..]));
    }

    #[test]
    fn secrets_go_to_stdin_as_one_line() {
        let (d, r, dev) = fake();
        let pass = d.path().join("pass");
        fs::write(&pass, "s3cret phrase\nignored\n").unwrap();
        let plan = secret_plan(&pass, 0o600, &dev);
        let rec = record(None);
        let mut lines = Vec::new();
        apply(&plan, &rec, &r, &d.path().join("st"), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert_eq!(rec.calls()[0].input(), Some(&b"s3cret phrase\n"[..]));
        assert!(lines.iter().all(|l| !l.contains("s3cret")));
        fs::write(&pass, "").unwrap();
        let err = apply(&plan, &rec, &r, &d.path().join("st2"), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn a_passphrase_file_others_may_read_is_refused_before_anything_runs() {
        let (d, r, dev) = fake();
        let pass = d.path().join("pass");
        fs::write(&pass, "s3cret\n").unwrap();
        let plan = secret_plan(&pass, 0o644, &dev);
        let rec = record(None);
        let err = apply(&plan, &rec, &r, &d.path().join("st"), &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("chmod 600") && !err.contains("s3cret"),
            "{err}"
        );
        assert!(rec.calls().is_empty());
    }

    /// A step that mounts `dev` at `target`, as the planner makes them.
    fn mount_step(dev: &str, target: &str, opts: &[&str]) -> Step {
        let mut s = step("mount", &[dev]);
        s.id = format!("mount:{target}");
        s.argv = ["mount", "-t", "ext4"]
            .iter()
            .chain(opts)
            .map(|a| a.to_string())
            .chain([dev.to_string(), target.to_string()])
            .collect();
        s
    }

    /// Runs `plan` with `mountinfo` as the mount table.
    fn apply_mounted(
        plan: &Plan,
        r: &Resolver,
        state: &Path,
        mountinfo: &str,
    ) -> (Result<usize, ApplyError>, Vec<String>) {
        let rec = record(None);
        let text = mountinfo.to_string();
        let out = apply_with(plan, &rec, r, state, &move || text.clone(), &mut |_| {});
        (out, rec.lines())
    }

    #[test]
    fn a_done_mount_that_is_gone_runs_again() {
        let (d, r, dev) = fake();
        let vdb = format!("{dev}/vdb");
        let plan = Plan {
            targets: [vdb.clone(), format!("{dev}/vda")].into(),
            steps: vec![
                mount_step(&vdb, "/mnt/t", &[]),
                mount_step(&format!("{dev}/vda1"), "/mnt/t/boot", &[]),
            ],
            ..Default::default()
        };
        let state = d.path().join("st");
        let (ran, _) = apply_mounted(&plan, &r, &state, "");
        assert_eq!(ran.unwrap(), 2);
        // A re-run: /mnt/t is still mounted, /mnt/t/boot is not.
        let (ran, lines) = apply_mounted(
            &plan,
            &r,
            &state,
            &format!("36 1 254:16 / /mnt/t rw - ext4 {vdb} rw\n"),
        );
        assert_eq!(ran.unwrap(), 1);
        assert_eq!(lines, [format!("mount -t ext4 {dev}/vda1 /mnt/t/boot")]);
    }

    /// Something else mounted where a recreated file system goes: the run
    /// stops naming it, done step or not, instead of restoring into it.
    #[test]
    fn a_foreign_file_system_at_the_mount_point_stops_the_run() {
        let (d, r, dev) = fake();
        let vdb = format!("{dev}/vdb");
        let plan = Plan {
            targets: [vdb.clone()].into(),
            steps: vec![step("mkfs", &[&vdb]), mount_step(&vdb, "/mnt/t", &[])],
            ..Default::default()
        };
        let foreign = "36 1 254:0 / /mnt/t rw - xfs /dev/vda rw\n";
        let want = format!(
            "refusing step mount:/mnt/t: /dev/vda (xfs, device 254:0, /dev/vda) is mounted at /mnt/t, not {vdb}"
        );
        let state = d.path().join("st");
        let (err, lines) = apply_mounted(&plan, &r, &state, foreign);
        let err = err.unwrap_err().to_string();
        assert!(err.starts_with(&want), "{err}");
        assert_eq!(lines, ["mkfs"], "the mount never ran");
        // Done in an earlier run, then another file system mounted there.
        let state = d.path().join("st2");
        apply_mounted(&plan, &r, &state, "").0.unwrap();
        let (err, lines) = apply_mounted(&plan, &r, &state, foreign);
        assert!(err.unwrap_err().to_string().starts_with(&want));
        assert!(lines.is_empty());
        // A device that is on no disk (an NFS share, a tmpfs) is named by
        // its source.
        let (err, _) = apply_mounted(
            &plan,
            &r,
            &d.path().join("st3"),
            "36 1 0:52 / /mnt/t rw - tmpfs tmpfs rw\n",
        );
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("tmpfs (tmpfs, device 0:52) is mounted at /mnt/t"),);
    }

    /// The file system the step mounts, mounted already (by hand, or the
    /// topmost of two mounts there): not mounted twice, and done.
    #[test]
    fn the_same_file_system_at_the_mount_point_counts_as_mounted() {
        let (d, r, dev) = fake();
        let vdb = format!("{dev}/vdb");
        let plan = Plan {
            targets: [vdb.clone()].into(),
            steps: vec![mount_step(&vdb, "/mnt/t", &[])],
            ..Default::default()
        };
        let stacked = "36 1 254:0 / /mnt/t rw - xfs /dev/vda rw\n37 1 254:16 / /mnt/t rw - ext4 /dev/vdb rw\n";
        let state = d.path().join("st");
        let (ran, lines) = apply_mounted(&plan, &r, &state, stacked);
        assert_eq!((ran.unwrap(), lines.len()), (0, 0));
        assert!(State::load(&state, &digest(&plan)).is_done("mount:/mnt/t"));
        // btrfs mounts carry an anonymous device number: its source device
        // tells, and its subvolume must be the one asked for.
        let sub = Plan {
            targets: [vdb.clone()].into(),
            steps: vec![mount_step(&vdb, "/mnt/t/home", &["-o", "subvol=@home"])],
            ..Default::default()
        };
        let btrfs = |root: &str| format!("38 1 0:45 {root} /mnt/t/home rw - btrfs {vdb} rw\n");
        let (ran, _) = apply_mounted(&sub, &r, &d.path().join("b1"), &btrfs("/@home"));
        assert_eq!(ran.unwrap(), 0);
        // The kernel names another member of the same btrfs as its source.
        let other = |root: &str| format!("38 1 0:45 {root} /mnt/t/home rw - btrfs {dev}/vda1 rw\n");
        let (err, _) = apply_mounted(&sub, &r, &d.path().join("b3"), &other("/@home"));
        assert!(err.is_err(), "vda1 is no member of vdb's btrfs yet");
        let members = r.sys.join("fs/btrfs/5d3a/devices");
        fs::create_dir_all(&members).unwrap();
        for m in ["vda1", "vdb"] {
            fs::write(members.join(m), "").unwrap();
        }
        let (ran, _) = apply_mounted(&sub, &r, &d.path().join("b4"), &other("/@home"));
        assert_eq!(ran.unwrap(), 0);
        let (err, _) = apply_mounted(&sub, &r, &d.path().join("b2"), &btrfs("/@"));
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("subvolume or directory /@)"),);
    }
}
