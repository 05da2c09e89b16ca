//! Capture: the storage layout of the running system, as a [`Layout`].
//!
//! Everything comes through a [`Source`]: [`Host`] runs the real
//! commands, [`FixtureSource`] replays outputs recorded in the rescue
//! system (layout/tests/fixtures/capture/). Capture works without udev
//! (as in the rescue system): device relations come from `lsblk`'s tree
//! (sysfs), signatures from `blkid -p` (direct probing), sizes and serials
//! from sysfs, LVM from its json reports; lsblk's FSTYPE/UUID columns,
//! which need udev's database, are not used.
//!
//! What it runs (each `pub fn parse_*` in [`parse`] reads one of them):
//! `lsblk --json --bytes --output-all --tree` (or `-O`), `blkid -p -o
//! export DEV` for every block device, `sfdisk --json DISK` for disks with
//! a partition table, `mdadm --detail --export MD` and `mdadm --detail MD`,
//! `cryptsetup luksDump DEV`, `pvs`/`vgs`/`lvs --reportformat json`,
//! `dmsetup table` (to name device-mapper targets it cannot represent),
//! `dumpe2fs -h DEV`, `xfs_info DEV` (else `xfs_db -r -c info DEV`, for
//! systems without xfs_spaceman), `btrfs filesystem show --raw`, `btrfs
//! inspect-internal dump-super DEV`, and on a mounted btrfs `btrfs
//! subvolume list -a -p MNT`, `btrfs subvolume get-default MNT`, `btrfs
//! filesystem df --raw MNT` and `lsattr -d PATH` per reachable subvolume;
//! `efibootmgr -v` on UEFI, `dd if=DISK bs=512 count=1 status=none` on
//! BIOS, `ls -l /dev/disk/by-id`; it reads /proc/self/mountinfo,
//! /proc/swaps (swap files become notes), /sys/firmware/efi/fw_platform_size and, per disk,
//! /sys/block/K/{size, queue/logical_block_size, queue/physical_block_size,
//! serial, device/serial, wwid, device/wwid, device/model}.
//!
//! Attribute units: xfs `sunit`, `swidth` and `log_size` are bytes (xfs_info
//! prints blocks); ext `reserved_percent` is a percentage to a tenth; btrfs
//! `features` are mkfs.btrfs `-O` names.
//!
//! Left out, each with a [`Note`] saying why: loop, ram, zram, sr and fd
//! devices (silently: they are never part of a layout), removable disks
//! (the rescue medium, USB sticks) unless a kept mount lives on them, blank
//! disks (`blkid -p` found nothing on them, nothing sits on them or is
//! mounted from them; a disk blkid could not probe is no blank disk but an
//! unrepresentable one), mounts under /media,
//! /run and /tmp and those in [`Options::exclude_mountpoints`], the VGs and
//! disks the options name, everything that sits on an excluded component,
//! and components only used by excluded ones. Components the model cannot
//! represent (multipath, plain dm-crypt, dm targets other than LVM and
//! LUKS, LVM snapshots/caches, unsupported filesystems or partition
//! tables) are notes too, and so is everything on top of them.
//!
//! A file system on a whole disk (no partition table) is captured as any
//! other: the disk has no `label` and no partitions, and the file system's
//! (PV's, md member's, LUKS header's) device is the disk itself.
//!
//! A mounted file system the layout cannot hold (its type, or something
//! under it, is unsupported; blkid could not probe its device) is an error
//! of [`capture`] naming it ([`Unmodelled`]), unless a setting leaves it
//! out: its mount point (or one above it) in `exclude_mountpoints` or
//! under /media, /run or /tmp, or a disk or VG under it in
//! `exclude_disks`, `exclude_vgs` or outside `only_vgs`. Being blank or
//! removable does not excuse it. A layout without it would be saved, and
//! a recovery from it could not recreate it.
//!
//! Boot facts: firmware is UEFI when /sys/firmware/efi/fw_platform_size
//! exists; the ESP is the partition of the ESP type mounted at a path
//! ending in /boot/efi, else the first one; EFI entries are efibootmgr's
//! active ones; grub_disks (BIOS only) are the disks whose first sector
//! holds the text "GRUB" (GRUB's boot.img does), a cheap check that can
//! miss GRUB installed elsewhere (e.g. only to a BIOS boot partition
//! without boot code in the MBR).

pub mod parse;

use crate::model::*;
use parse::*;
use rear_exec::{Call, Exec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read the output of {what}: {why}")]
    Parse { what: &'static str, why: String },
    #[error("`{cmd}` failed: {why}")]
    Command { cmd: String, why: String },
    #[error("cannot read {path}: {why}")]
    Read { path: String, why: String },
    #[error("{}", unmodelled_message(.0))]
    Unmodelled(Vec<Unmodelled>),
}

/// A mounted file system capture cannot put into the layout (an
/// unsupported file system or device under it, a device blkid could not
/// probe), and that no setting leaves out: a recovery from the layout
/// could not recreate it, so capture refuses ([`capture`]) rather than
/// save a layout that silently lacks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmodelled {
    /// The mounted device.
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    /// Why capture cannot represent it.
    pub why: String,
    /// The disks it sits on (what `exclude_disks` would name).
    pub disks: Vec<String>,
}

impl std::fmt::Display for Unmodelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} mounted at {} ({}): {}",
            self.device, self.mountpoint, self.fstype, self.why
        )
    }
}

fn unmodelled_message(list: &[Unmodelled]) -> String {
    let each: Vec<String> = list.iter().map(ToString::to_string).collect();
    format!(
        "mounted file systems the layout cannot hold, so a recovery could not recreate them: {}; leave each out explicitly (Options::exclude_mountpoints, or exclude_disks for its disk)",
        each.join("; ")
    )
}

/// What [`capture_all`] found: the layout, and the mounted file systems
/// it could not represent and no setting left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub layout: Layout,
    pub unmodelled: Vec<Unmodelled>,
}

impl CaptureError {
    /// The error of a command run for one device, naming the device.
    fn of(self, device: &str) -> CaptureError {
        match self {
            CaptureError::Parse { what, why } => CaptureError::Parse {
                what,
                why: format!("{device}: {why}"),
            },
            e => e,
        }
    }
}

/// Where capture gets its facts: real commands/files, or recorded fixtures in tests.
pub trait Source {
    /// Runs a command (argv) and returns stdout; Err(message) when it failed or is absent.
    fn run(&self, argv: &[&str]) -> Result<String, String>;
    /// Reads a file (e.g. /proc/self/mountinfo, /sys/block/vda/size).
    fn read(&self, path: &str) -> Result<String, String>;
    /// The partition table of `dev` read without sfdisk, for when
    /// `sfdisk --json` fails (a minimal system has no sfdisk; before
    /// util-linux 2.27 it has no --json). None: not available here.
    fn own_table(&self, _dev: &str, _sector_size: u32) -> Option<Result<PartitionTable, String>> {
        None
    }
}

/// The running system: commands run through `exec` (so each is logged)
/// with `LC_ALL=C`, stdin from /dev/null; files are read below `root`
/// (`/`, or a recorded fixture's `files/`). A failure's message is
/// `exit N: <stderr>`.
pub struct Host<'a> {
    pub exec: &'a dyn Exec,
    pub root: PathBuf,
}

impl<'a> Host<'a> {
    /// This machine, its commands run through `exec`.
    pub fn new(exec: &'a dyn Exec) -> Host<'a> {
        Host {
            exec,
            root: PathBuf::from("/"),
        }
    }
}

/// Capture only reads: LVM's report commands would otherwise write
/// /etc/lvm/backup and archive when they find them stale.
const LVM_READ_ONLY: [&str; 2] = ["--config", "backup/backup=0 backup/archive=0"];

impl Source for Host<'_> {
    fn run(&self, argv: &[&str]) -> Result<String, String> {
        let (prog, args) = argv.split_first().ok_or("empty command")?;
        let mut call = Call::new(prog);
        if matches!(*prog, "pvs" | "vgs" | "lvs") {
            call = call.args(LVM_READ_ONLY);
        }
        let call = call
            .args(args)
            .env("LC_ALL", "C")
            .env("LVM_SUPPRESS_FD_WARNINGS", "1");
        let out = self.exec.output(&call).map_err(|e| e.to_string())?;
        if out.success() {
            Ok(out.stdout)
        } else {
            Err(format!("exit {}: {}", out.code, out.stderr.trim()))
        }
    }

    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read(self.root.join(path.trim_start_matches('/')))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| e.to_string())
    }

    /// The device below `root`, read by rear-ptable.
    fn own_table(&self, dev: &str, sector_size: u32) -> Option<Result<PartitionTable, String>> {
        let path = self.root.join(dev.trim_start_matches('/'));
        path.exists().then(|| {
            rear_ptable::read(&path, sector_size)
                .map(|t| parse::from_ptable(&t, dev))
                .map_err(|e| e.to_string())
        })
    }
}

/// Replays a recorded fixture directory (see layout/tests/fixtures/capture/
/// README.md): a command's stdout is `cmd/<name>`, where `<name>` is its
/// argv joined with spaces, then `/` → `%` and ` ` → `_`; `cmd/<name>.fail`
/// holds the message of a command that failed; a file is `files/<path>`.
/// Calls with nothing recorded fail and are remembered ([`Self::missing`]).
pub struct FixtureSource {
    dir: PathBuf,
    missing: std::sync::Mutex<Vec<String>>,
}

impl FixtureSource {
    pub fn new(dir: impl Into<PathBuf>) -> FixtureSource {
        FixtureSource {
            dir: dir.into(),
            missing: Default::default(),
        }
    }

    /// The name a command's output is recorded under.
    pub fn command_file(argv: &[&str]) -> String {
        argv.join(" ").replace('/', "%").replace(' ', "_")
    }

    /// Commands and files asked for but not recorded, in call order.
    pub fn missing(&self) -> Vec<String> {
        self.missing.lock().expect("not poisoned").clone()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl FixtureSource {
    /// Answers a call as the recorded system would (for a [`rear_exec::Fake`]
    /// under [`Host`], whose files are this fixture's `files/`): capture's
    /// fixed LVM options are not part of a command's recorded name.
    pub fn answer(&self, c: &Call) -> std::io::Result<rear_exec::Output> {
        let argv = c.argv_lossy();
        let mut argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        if argv.get(1..3) == Some(&LVM_READ_ONLY[..]) {
            argv.drain(1..3);
        }
        Ok(match self.run(&argv) {
            Ok(out) => rear_exec::Output::ok(out),
            Err(msg) => {
                let code = msg
                    .strip_prefix("exit ")
                    .and_then(|r| r.split(':').next())
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(1);
                let stderr = msg.split_once(": ").map_or("", |(_, e)| e);
                rear_exec::Output::fail(code, stderr)
            }
        })
    }

    /// The recorded files, as [`Host::root`].
    pub fn files(&self) -> PathBuf {
        self.dir.join("files")
    }
}

impl Source for FixtureSource {
    fn run(&self, argv: &[&str]) -> Result<String, String> {
        let base = self.dir.join("cmd").join(Self::command_file(argv));
        let fail = base.with_file_name(format!("{}.fail", Self::command_file(argv)));
        if let Ok(msg) = std::fs::read_to_string(&fail) {
            return Err(msg.trim_end().to_string());
        }
        match std::fs::read(&base) {
            Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Err(_) => {
                self.missing
                    .lock()
                    .expect("not poisoned")
                    .push(argv.join(" "));
                Err(format!("{}: not recorded", argv.join(" ")))
            }
        }
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let p = self.dir.join("files").join(path.trim_start_matches('/'));
        std::fs::read(&p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| format!("{path}: {e}"))
    }
}

/// What to leave out besides the automatic exclusions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Mount points to leave out, with everything below them (and the
    /// filesystems and devices only they use).
    pub exclude_mountpoints: Vec<String>,
    pub exclude_vgs: Vec<String>,
    /// When not empty, only these VGs are kept.
    pub only_vgs: Vec<String>,
    /// Disks to leave out (`/dev/sdb` or `sdb`), with everything on them.
    pub exclude_disks: Vec<String>,
}

/// Mount points under these are never part of the layout.
pub const AUTO_EXCLUDED_MOUNTS: &[&str] = &["/media", "/run", "/tmp"];

const FS_TYPES: &[&str] = &["ext2", "ext3", "ext4", "xfs", "btrfs", "vfat"];
use crate::gpt::ESP as ESP_TYPE;

fn never_layout(d: &BlockDev) -> bool {
    matches!(d.type_.as_str(), "loop" | "rom")
        || ["loop", "ram", "zram", "sr", "fd"].iter().any(|p| {
            d.kname
                .strip_prefix(p)
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
        })
}

fn cmd_err(argv: &[&str], why: String) -> CaptureError {
    CaptureError::Command {
        cmd: argv.join(" "),
        why,
    }
}

/// Whether a failure of `blkid -p` is its "nothing found": exit 2 with
/// nothing on stderr. Exit 2 is also what blkid gives when it cannot open
/// or read the device (`blkid: error: /dev/vda: Operation not permitted`):
/// that is no answer about what is on it.
fn blkid_nothing(msg: &str) -> bool {
    matches!(msg.trim(), "exit 2:" | "exit 2")
}

struct Ctx<'a> {
    src: &'a dyn Source,
    devs: Vec<BlockDev>,
    /// Any name a device goes by (path, /dev/kname, /dev/name,
    /// /dev/mapper/name) → its lsblk path.
    alias: BTreeMap<String, String>,
    blkid: BTreeMap<String, BTreeMap<String, String>>,
    notes: Vec<Note>,
    /// Devices the model cannot represent: everything on them is left out.
    unsupported: BTreeMap<String, String>,
    /// Logical volumes among `unsupported` → their VG.
    unsupported_lvs: BTreeMap<String, String>,
    /// Devices `blkid -p` probed and found nothing on (exit 2): only such
    /// a disk can be blank.
    nothing_found: BTreeSet<String>,
    /// Devices something is mounted from.
    mounted: BTreeSet<String>,
    /// Mounts of devices whose file system is not in the layout:
    /// (device, mount point, fstype).
    uncaptured: Vec<(String, String, String)>,
}

impl Ctx<'_> {
    fn note(&mut self, device: &str, what: impl Into<String>) {
        let what = what.into();
        if !self
            .notes
            .iter()
            .any(|n| n.device == device && n.what == what)
        {
            self.notes.push(Note {
                device: device.to_string(),
                what,
            });
        }
    }

    fn canon(&self, name: &str) -> String {
        self.alias
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    fn dev(&self, path: &str) -> Option<&BlockDev> {
        self.devs.iter().find(|d| d.path == path)
    }

    fn sys(&self, kname: &str, rel: &str) -> Option<String> {
        self.src
            .read(&format!("/sys/block/{kname}/{rel}"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn blkid_of(&self, path: &str) -> Option<&BTreeMap<String, String>> {
        self.blkid.get(path)
    }

    fn blkid_type(&self, path: &str) -> Option<&str> {
        self.blkid_of(path)
            .and_then(|m| m.get("TYPE"))
            .map(String::as_str)
    }
}

/// Captures the layout of the system `src` describes; a mounted file
/// system it cannot represent and no option leaves out is an error
/// ([`CaptureError::Unmodelled`], naming each).
pub fn capture(src: &dyn Source, opts: &Options) -> Result<Layout, CaptureError> {
    let c = capture_all(src, opts)?;
    if c.unmodelled.is_empty() {
        Ok(c.layout)
    } else {
        Err(CaptureError::Unmodelled(c.unmodelled))
    }
}

/// [`capture`], returning the layout together with the mounted file
/// systems it could not represent (for callers that report them their way).
pub fn capture_all(src: &dyn Source, opts: &Options) -> Result<Captured, CaptureError> {
    let lsblk_argv = ["lsblk", "--json", "--bytes", "--output-all", "--tree"];
    let text = match src.run(&lsblk_argv) {
        Ok(t) => t,
        Err(first) => {
            let alt = ["lsblk", "--json", "--bytes", "-O", "--tree"];
            src.run(&alt)
                .map_err(|e| cmd_err(&lsblk_argv, format!("{first}; with -O: {e}")))?
        }
    };
    let all = parse_lsblk(&text)?;
    let devs: Vec<BlockDev> = all.into_iter().filter(|d| !never_layout(d)).collect();
    let mut alias = BTreeMap::new();
    for d in &devs {
        for a in [
            d.path.clone(),
            format!("/dev/{}", d.kname),
            format!("/dev/{}", d.name),
            format!("/dev/mapper/{}", d.name),
        ] {
            alias.entry(a).or_insert_with(|| d.path.clone());
        }
    }
    let mut cx = Ctx {
        src,
        devs,
        alias,
        blkid: BTreeMap::new(),
        notes: Vec::new(),
        unsupported: BTreeMap::new(),
        unsupported_lvs: BTreeMap::new(),
        nothing_found: BTreeSet::new(),
        mounted: BTreeSet::new(),
        uncaptured: Vec::new(),
    };
    let mountinfo = src
        .read("/proc/self/mountinfo")
        .map_err(|why| CaptureError::Read {
            path: "/proc/self/mountinfo".into(),
            why,
        })?;
    let mounts = parse_mountinfo(&mountinfo)?;

    // Signatures.
    let paths: Vec<String> = cx.devs.iter().map(|d| d.path.clone()).collect();
    for p in &paths {
        match src.run(&["blkid", "-p", "-o", "export", p]) {
            Ok(t) => {
                cx.blkid.insert(p.clone(), parse_blkid_export(&t));
            }
            Err(e) if blkid_nothing(&e) => {
                cx.nothing_found.insert(p.clone());
            }
            Err(e) => {
                // What is on it is unknown: not blank, and nothing on it
                // can be recreated.
                let what = format!("blkid -p could not probe it: {e}");
                cx.note(p, what.clone());
                cx.unsupported.insert(p.clone(), what);
            }
        }
    }

    // A whole-disk md member with its superblock at the end (0.90, 1.0)
    // shows the array's partition table at its start as well: partitions
    // the kernel found there are the array's, seen through one member.
    let members: BTreeSet<String> = cx
        .devs
        .iter()
        .filter(|d| d.type_ == "disk" && cx.blkid_type(&d.path).is_some_and(md_member))
        .map(|d| d.path.clone())
        .collect();
    cx.devs
        .retain(|d| !(d.type_ == "part" && d.parents.iter().any(|p| members.contains(p))));

    let mut layout = Layout::new();
    capture_disks(&mut cx, &mut layout)?;
    capture_raids(&mut cx, &mut layout)?;
    capture_dm(&mut cx, &mut layout)?;
    capture_lvm(&mut cx, &mut layout)?;
    capture_filesystems(&mut cx, &mut layout, &mounts)?;
    capture_mounts(&mut cx, &mut layout, &mounts);
    capture_active_swaps(&mut cx, &layout);
    capture_boot(&mut cx, &mut layout);
    let notes = std::mem::take(&mut cx.notes);
    layout.notes = notes;
    let unmodelled = exclude(&cx, &mut layout, opts);
    Ok(Captured { layout, unmodelled })
}

fn capture_disks(cx: &mut Ctx, layout: &mut Layout) -> Result<(), CaptureError> {
    let by_id = cx
        .src
        .run(&["ls", "-l", "/dev/disk/by-id"])
        .map(|t| parse_by_id(&t))
        .unwrap_or_default();
    let candidates: Vec<BlockDev> = cx
        .devs
        .iter()
        // An md array, partitioned or not, is a Raid (capture_raids).
        .filter(|d| d.type_ == "disk" && !is_md(d))
        .cloned()
        .collect();
    for d in candidates {
        let pttype = cx
            .blkid_of(&d.path)
            .filter(|m| !m.get("TYPE").is_some_and(|t| md_member(t)))
            .and_then(|m| m.get("PTTYPE"))
            .cloned();
        let kname = d.kname.clone();
        let size = cx
            .sys(&kname, "size")
            .and_then(|s| s.parse::<u64>().ok())
            .and_then(|s| s.checked_mul(512))
            .unwrap_or(d.size);
        let logical = cx
            .sys(&kname, "queue/logical_block_size")
            .and_then(|s| s.parse().ok())
            .or(d.log_sec)
            .unwrap_or(512);
        let physical = cx
            .sys(&kname, "queue/physical_block_size")
            .and_then(|s| s.parse().ok())
            .or(d.phy_sec)
            .unwrap_or(logical);
        let mut disk = Disk {
            device: d.path.clone(),
            size,
            logical_sector_size: logical,
            physical_sector_size: physical,
            serial: cx
                .sys(&kname, "serial")
                .or_else(|| cx.sys(&kname, "device/serial"))
                .or(d.serial.clone()),
            wwn: d
                .wwn
                .clone()
                .or_else(|| cx.sys(&kname, "wwid"))
                .or_else(|| cx.sys(&kname, "device/wwid")),
            model: d.model.clone().or_else(|| cx.sys(&kname, "device/model")),
            by_id: by_id
                .iter()
                .filter(|(_, k)| *k == kname)
                .map(|(n, _)| n.clone())
                .collect(),
            ..Default::default()
        };
        if let Some(pt) = pttype {
            match partition_table(cx.src, &d.path, logical)? {
                Ok(table) => {
                    disk.label = Some(table.label);
                    disk.identifier = table.identifier;
                    disk.partitions = table.partitions;
                    for p in &mut disk.partitions {
                        p.device = cx.canon(&p.device);
                    }
                }
                Err(e) => {
                    cx.unsupported.insert(d.path.clone(), e.to_string());
                    cx.note(&d.path, format!("partition table ({pt}) left out: {e}"));
                }
            }
        }
        layout.disks.push(disk);
    }
    // A partition table inside an LV or LUKS device (a virtual machine's
    // disk, say) is data to the layout: the device is recreated, what is
    // inside it is not.
    let others: Vec<(String, String, String)> = cx
        .devs
        .iter()
        .filter(|d| d.type_ != "disk" && !is_md(d) && d.type_ != "part")
        .filter_map(|d| {
            cx.blkid_of(&d.path)
                .and_then(|m| m.get("PTTYPE"))
                .map(|t| (d.path.clone(), t.clone(), d.type_.clone()))
        })
        .collect();
    for (p, t, kind) in others {
        cx.note(
            &p,
            format!("holds a {t} partition table ({kind} device): its partitions are not part of the layout"),
        );
    }
    Ok(())
}

/// The partition table of `dev`: `sfdisk --json`, or where that fails,
/// the table the source reads itself ([`Source::own_table`]). The outer
/// error: neither could read the device; the inner: what was read is not
/// a table the layout takes.
fn partition_table(
    src: &dyn Source,
    dev: &str,
    sector_size: u32,
) -> Result<Result<PartitionTable, CaptureError>, CaptureError> {
    let argv = ["sfdisk", "--json", dev];
    match src.run(&argv) {
        Ok(t) => Ok(parse_sfdisk(&t, sector_size)),
        Err(e) => match src.own_table(dev, sector_size) {
            Some(Ok(t)) => {
                log::info!(
                    "{}: {e}; the partition table was read without it",
                    argv.join(" ")
                );
                Ok(Ok(t))
            }
            Some(Err(own)) => Err(cmd_err(&argv, format!("{e}; read directly: {own}"))),
            None => Err(cmd_err(&argv, e)),
        },
    }
}

/// A `blkid` type of an md member: md's own superblock, or an IMSM (Intel
/// RST) or DDF container's metadata.
fn md_member(t: &str) -> bool {
    matches!(
        t,
        "linux_raid_member" | "isw_raid_member" | "ddf_raid_member"
    )
}

fn is_md(d: &BlockDev) -> bool {
    (d.kname.starts_with("md") && d.kname[2..].chars().all(|c| c.is_ascii_digit()))
        || d.type_.starts_with("raid")
        || d.type_ == "linear"
        || d.type_ == "md"
}

fn capture_raids(cx: &mut Ctx, layout: &mut Layout) -> Result<(), CaptureError> {
    let mds: Vec<BlockDev> = cx
        .devs
        .iter()
        .filter(|d| is_md(d) && d.type_ != "part")
        .cloned()
        .collect();
    // md name (`imsm0`, as /dev/md/imsm0) → device, to find containers by.
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    // Member array → its container as mdadm names it.
    let mut container_of: Vec<(usize, String)> = Vec::new();
    for d in mds {
        let argv = ["mdadm", "--detail", "--export", d.path.as_str()];
        let text = cx.src.run(&argv).map_err(|e| cmd_err(&argv, e))?;
        let mut r = parse_mdadm_export(&text).map_err(|e| e.of(&d.path))?;
        let export = parse_export_kv(&text);
        if let Some(n) = export.get("MD_DEVNAME") {
            by_name.insert(n.clone(), d.path.clone());
        }
        if let Some(c) = export.get("MD_CONTAINER") {
            // The member array lives in the container, across its disks.
            container_of.push((layout.raids.len(), c.clone()));
            r.spares.clear();
            if r.name.is_none() {
                r.name = export.get("MD_DEVNAME").cloned();
            }
        } else if r.level == "container" {
            // A container's disks have no role in it: every one counts.
            r.devices.append(&mut r.spares);
            r.devices.sort();
        } else if d.type_ == "md" && r.devices.is_empty() {
            let what = format!(
                "an md {} (metadata {}) without member devices is not supported",
                r.level, r.metadata
            );
            cx.note(&d.path, what.clone());
            cx.unsupported.insert(d.path.clone(), what);
            continue;
        }
        let detail = cx
            .src
            .run(&["mdadm", "--detail", d.path.as_str()])
            .map(|t| parse_mdadm_detail(&t))
            .unwrap_or_default();
        r.device = d.path.clone();
        r.devices = r.devices.iter().map(|m| cx.canon(m)).collect();
        r.spares = r.spares.iter().map(|m| cx.canon(m)).collect();
        r.chunk = detail.chunk;
        r.layout = detail.layout;
        if export.contains_key("MD_CONTAINER") {
            r.member_size = detail.used_dev_size;
        }
        let pttype = cx.blkid_of(&d.path).and_then(|m| m.get("PTTYPE")).cloned();
        if let Some(pt) = pttype {
            match partition_table(cx.src, &d.path, 512)? {
                Ok(table) => {
                    r.label = Some(table.label);
                    r.identifier = table.identifier;
                    r.partitions = table.partitions;
                    for p in &mut r.partitions {
                        p.device = cx.canon(&p.device);
                    }
                }
                Err(e) => {
                    cx.unsupported.insert(d.path.clone(), e.to_string());
                    cx.note(&d.path, format!("partition table ({pt}) left out: {e}"));
                }
            }
        }
        r.size = cx
            .sys(&d.kname, "size")
            .and_then(|s| s.parse::<u64>().ok())
            .and_then(|s| s.checked_mul(512))
            .or(detail.size)
            .unwrap_or(d.size);
        if let Some(want) = detail.raid_devices {
            if (r.devices.len() as u32) < want {
                cx.note(
                    &d.path,
                    format!("degraded: {} of {want} members active", r.devices.len()),
                );
            }
        }
        layout.raids.push(r);
    }
    for (i, c) in container_of {
        let base = c.rsplit('/').next().unwrap_or(&c).to_string();
        let dev = by_name.get(&base).cloned().unwrap_or_else(|| cx.canon(&c));
        let metadata = layout
            .raids
            .iter()
            .find(|x| x.device == dev)
            .map(|x| x.metadata.clone());
        let r = &mut layout.raids[i];
        r.devices = vec![dev];
        if let Some(m) =
            metadata.filter(|_| r.metadata.is_empty() || r.metadata.starts_with("external:"))
        {
            r.metadata = m;
        }
    }
    Ok(())
}

/// `KEY=value` lines of `mdadm --detail --export`.
fn parse_export_kv(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// LUKS, and device-mapper devices that are neither LVM nor LUKS.
fn capture_dm(cx: &mut Ctx, layout: &mut Layout) -> Result<(), CaptureError> {
    let luks_devs: Vec<String> = cx
        .devs
        .iter()
        .filter(|d| cx.blkid_type(&d.path) == Some("crypto_LUKS"))
        .map(|d| d.path.clone())
        .collect();
    let mut luks_opened: BTreeSet<String> = BTreeSet::new();
    for p in luks_devs {
        let argv = ["cryptsetup", "luksDump", p.as_str()];
        let text = cx.src.run(&argv).map_err(|e| cmd_err(&argv, e))?;
        let mut l = parse_luks_dump(&text).map_err(|e| e.of(&p))?;
        let opened = cx.dev(&p).and_then(|d| {
            d.children
                .iter()
                .filter_map(|c| cx.dev(c))
                .find(|c| c.type_ == "crypt")
                .cloned()
        });
        let Some(o) = opened else {
            cx.note(
                &p,
                "a LUKS device that is not open: what it holds is unknown",
            );
            continue;
        };
        luks_opened.insert(o.path.clone());
        l.device = o.path.clone();
        l.name = o.name.clone();
        l.backing = p.clone();
        l.size = o.size;
        layout.luks.push(l);
    }
    let mut tables: Option<BTreeMap<String, String>> = None;
    let odd: Vec<BlockDev> = cx
        .devs
        .iter()
        .filter(|d| {
            !matches!(d.type_.as_str(), "disk" | "part" | "lvm")
                && !is_md(d)
                && !luks_opened.contains(&d.path)
        })
        .cloned()
        .collect();
    for d in odd {
        let tables = tables.get_or_insert_with(|| {
            cx.src
                .run(&["dmsetup", "table"])
                .map(|t| {
                    let mut m: BTreeMap<String, String> = BTreeMap::new();
                    for l in t.lines() {
                        if let Some((name, rest)) = l.split_once(": ") {
                            if let Some(target) = rest.split_whitespace().nth(2) {
                                m.entry(name.to_string())
                                    .or_insert_with(|| target.to_string());
                            }
                        }
                    }
                    m
                })
                .unwrap_or_default()
        });
        let what = match (d.type_.as_str(), tables.get(&d.name)) {
            ("crypt", _) => "a dm-crypt device without a LUKS header (plain, TCRYPT, BitLocker) is not supported".to_string(),
            ("mpath", _) => "multipath is not supported".to_string(),
            (_, Some(t)) => format!("a device-mapper device of target {t:?} is not supported"),
            (t, None) => format!("a block device of type {t:?} is not supported"),
        };
        cx.note(&d.path, what.clone());
        cx.unsupported.insert(d.path.clone(), what);
    }
    Ok(())
}

fn capture_lvm(cx: &mut Ctx, layout: &mut Layout) -> Result<(), CaptureError> {
    let any = cx.devs.iter().any(|d| d.type_ == "lvm")
        || cx
            .blkid
            .values()
            .any(|m| m.get("TYPE").map(String::as_str) == Some("LVM2_member"));
    if !any {
        return Ok(());
    }
    let pvs_argv = [
        "pvs",
        "--reportformat",
        "json",
        "--units",
        "b",
        "--nosuffix",
        "-o",
        "pv_name,pv_uuid,vg_name,pv_size",
    ];
    let vgs_argv = [
        "vgs",
        "--reportformat",
        "json",
        "--units",
        "b",
        "--nosuffix",
        "-o",
        "vg_name,vg_uuid,vg_extent_size,vg_size",
    ];
    let lvs_argv = [
        "lvs", "-a", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
        "lv_name,vg_name,lv_uuid,lv_size,segtype,stripes,stripe_size,pool_lv,lv_metadata_size,chunk_size,lv_attr,data_stripes,lv_dm_path",
    ];
    let pvs = parse_pvs(&cx.src.run(&pvs_argv).map_err(|e| cmd_err(&pvs_argv, e))?)?;
    let vgs = parse_vgs(&cx.src.run(&vgs_argv).map_err(|e| cmd_err(&vgs_argv, e))?)?;
    let rep = parse_lvs(&cx.src.run(&lvs_argv).map_err(|e| cmd_err(&lvs_argv, e))?)?;
    for mut pv in pvs {
        if pv.vg.is_empty() {
            cx.note(&cx.canon(&pv.device), "an LVM PV in no VG");
            continue;
        }
        if pv.device == "[unknown]" || pv.device.is_empty() {
            cx.note(
                &format!("vg:{}", pv.vg),
                format!("VG {} misses a PV (uuid {})", pv.vg, pv.uuid),
            );
            continue;
        }
        pv.device = cx.canon(&pv.device);
        layout.pvs.push(pv);
    }
    layout.vgs = vgs;
    for (dev, why) in rep.unsupported {
        let dev = cx.canon(&dev);
        // Its VG, so that leaving the VG out leaves it out too.
        let vg = layout.vgs.iter().find(|vg| {
            dev.strip_prefix(&format!("/dev/mapper/{}-", vg.name.replace('-', "--")))
                .is_some_and(|lv| !lv.replace("--", "").contains('-'))
        });
        if let Some(vg) = vg {
            cx.unsupported_lvs.insert(dev.clone(), vg.name.clone());
        }
        let what = format!("{why} is not supported");
        cx.note(&dev, what.clone());
        cx.unsupported.insert(dev, what);
    }
    // Where each linear LV's extents lie, so recovery puts them back there;
    // without it (an older LVM, a failure) they are allocated anew.
    let seg_argv = [
        "lvs",
        "--segments",
        "--reportformat",
        "json",
        "-o",
        "vg_name,lv_name,segtype,seg_start_pe,seg_pe_ranges",
    ];
    let segments = cx
        .src
        .run(&seg_argv)
        .ok()
        .and_then(|t| parse_lv_segments(&t).ok())
        .unwrap_or_default();
    for mut lv in rep.lvs {
        lv.device = cx.canon(&lv.device);
        if lv.segtype == "linear" {
            if let Some(segs) = segments.get(&(lv.vg.clone(), lv.name.clone())) {
                lv.segments = segs
                    .iter()
                    .map(|s| Segment {
                        pv: cx.canon(&s.pv),
                        ..s.clone()
                    })
                    .collect();
            }
        }
        layout.lvs.push(lv);
    }
    Ok(())
}

fn capture_filesystems(
    cx: &mut Ctx,
    layout: &mut Layout,
    mounts: &[MountEntry],
) -> Result<(), CaptureError> {
    let shows = cx
        .src
        .run(&["btrfs", "filesystem", "show", "--raw"])
        .map(|t| parse_btrfs_show(&t))
        .unwrap_or_default();
    let paths: Vec<String> = cx.devs.iter().map(|d| d.path.clone()).collect();
    let mut btrfs_done: BTreeSet<String> = BTreeSet::new();
    for p in paths {
        let Some(b) = cx.blkid_of(&p).cloned() else {
            continue;
        };
        let Some(t) = b.get("TYPE").cloned() else {
            continue;
        };
        match t.as_str() {
            "swap" => {
                layout.swaps.push(Swap {
                    device: p.clone(),
                    uuid: b.get("UUID").cloned(),
                    label: b.get("LABEL").cloned(),
                });
                continue;
            }
            "LVM2_member" | "crypto_LUKS" => continue,
            t if md_member(t) => continue,
            t if FS_TYPES.contains(&t) => {}
            other => {
                let what = format!("a {other} signature: not supported");
                cx.note(&p, what.clone());
                cx.unsupported.insert(p.clone(), what);
                continue;
            }
        }
        let mut fs = Filesystem {
            device: p.clone(),
            fstype: t.clone(),
            uuid: b.get("UUID").cloned(),
            label: b.get("LABEL").cloned(),
            ..Default::default()
        };
        match t.as_str() {
            "ext2" | "ext3" | "ext4" => {
                match cx
                    .src
                    .run(&["dumpe2fs", "-h", &p])
                    .map_err(|e| e.to_string())
                    .and_then(|t| parse_dumpe2fs(&t).map_err(|e| e.to_string()))
                {
                    Ok(a) => fs.attrs = a,
                    Err(e) => cx.note(
                        &p,
                        format!(
                            "{t} attributes unknown (dumpe2fs -h: {e}); mkfs defaults will be used"
                        ),
                    ),
                }
            }
            "xfs" => {
                let text = cx.src.run(&["xfs_info", &p]).or_else(|e| {
                    cx.src
                        .run(&["xfs_db", "-r", "-c", "info", &p])
                        .map_err(|e2| format!("{e}; xfs_db: {e2}"))
                });
                match text.and_then(|t| parse_xfs_info(&t).map_err(|e| e.to_string())) {
                    Ok(a) => fs.attrs = a,
                    Err(e) => cx.note(
                        &p,
                        format!("xfs attributes unknown ({e}); mkfs defaults will be used"),
                    ),
                }
            }
            "vfat" => {
                if let Some(n) = b.get("VERSION").and_then(|v| fat_size(v)) {
                    fs.attrs.insert("fat_size".into(), n);
                }
            }
            "btrfs" => {
                let uuid = fs.uuid.clone().unwrap_or_default();
                if !btrfs_done.insert(uuid.clone()) {
                    continue;
                }
                let members: Vec<String> = shows
                    .iter()
                    .find(|s| s.uuid == uuid)
                    .map(|s| s.devices.iter().map(|d| cx.canon(d)).collect())
                    .unwrap_or_default();
                if let Some(first) = members.first() {
                    fs.device = first.clone();
                    fs.devices = members.clone();
                } else {
                    fs.devices = vec![p.clone()];
                }
                btrfs_details(cx, &mut fs, mounts);
            }
            _ => {}
        }
        layout.filesystems.push(fs);
    }
    Ok(())
}

fn btrfs_details(cx: &mut Ctx, fs: &mut Filesystem, mounts: &[MountEntry]) {
    let dev = fs.device.clone();
    match cx
        .src
        .run(&["btrfs", "inspect-internal", "dump-super", &dev])
        .map_err(|e| e.to_string())
        .and_then(|t| parse_btrfs_dump_super(&t).map_err(|e| e.to_string()))
    {
        Ok(mut m) => {
            m.remove("fsid");
            fs.attrs.extend(m);
        }
        Err(e) => cx.note(&dev, format!("btrfs attributes unknown ({e})")),
    }
    // Its mounts, in mountinfo order.
    let members: Vec<String> = fs.devices.clone();
    let mine: Vec<&MountEntry> = mounts
        .iter()
        .filter(|m| m.fstype == "btrfs" && members.contains(&cx.canon(&m.source)))
        .collect();
    let Some(first) = mine.first() else {
        cx.note(
            &dev,
            "btrfs not mounted: its subvolumes and profiles are unknown",
        );
        return;
    };
    let mp = first.mountpoint.clone();
    if let Ok(t) = cx.src.run(&["btrfs", "filesystem", "df", "--raw", &mp]) {
        let (d, m) = parse_btrfs_df(&t);
        if let Some(d) = d {
            fs.attrs.insert("data_profile".into(), d);
        }
        if let Some(m) = m {
            fs.attrs.insert("metadata_profile".into(), m);
        }
    }
    match cx.src.run(&["btrfs", "subvolume", "list", "-a", "-p", &mp]) {
        Ok(t) => fs.subvolumes = parse_btrfs_subvolume_list(&t),
        Err(e) => cx.note(&dev, format!("btrfs subvolumes unknown: {e}")),
    }
    let default = cx
        .src
        .run(&["btrfs", "subvolume", "get-default", &mp])
        .ok()
        .and_then(|t| parse_btrfs_get_default(&t));
    for sv in &mut fs.subvolumes {
        sv.default = default.as_deref() == Some(sv.path.as_str());
        // The first mount from which the subvolume is reachable.
        let full = format!("/{}", sv.path);
        let path = mine.iter().find_map(|m| {
            if m.root == full {
                Some(m.mountpoint.clone())
            } else if m.root == "/" {
                Some(format!(
                    "{}/{}",
                    m.mountpoint.trim_end_matches('/'),
                    sv.path
                ))
            } else {
                full.strip_prefix(&format!("{}/", m.root))
                    .map(|rest| format!("{}/{rest}", m.mountpoint.trim_end_matches('/')))
            }
        });
        if let Some(path) = path {
            if let Ok(t) = cx.src.run(&["lsattr", "-d", &path]) {
                sv.nocow = parse_lsattr_nocow(&t);
            }
        }
    }
}

fn capture_mounts(cx: &mut Ctx, layout: &mut Layout, mounts: &[MountEntry]) {
    let by_majmin: BTreeMap<String, String> = cx
        .devs
        .iter()
        .map(|d| (d.maj_min.clone(), d.path.clone()))
        .collect();
    for m in mounts {
        let dev = by_majmin
            .get(&m.maj_min)
            .cloned()
            .or_else(|| m.source.starts_with("/dev/").then(|| cx.canon(&m.source)));
        let Some(dev) = dev else { continue }; // proc, tmpfs, nfs, ...
        cx.mounted.insert(dev.clone());
        let fs = layout
            .filesystems
            .iter()
            .find(|f| f.device == dev || f.devices.contains(&dev));
        let Some(fs) = fs else {
            if cx.dev(&dev).is_some() || !is_never_name(&dev) {
                cx.note(
                    &dev,
                    format!(
                        "mounted at {} ({}) but not captured",
                        m.mountpoint, m.fstype
                    ),
                );
                cx.uncaptured
                    .push((dev.clone(), m.mountpoint.clone(), m.fstype.clone()));
            }
            continue;
        };
        let subvolume = if m.fstype == "btrfs" {
            let r = m.root.trim_start_matches('/');
            (!r.is_empty()).then(|| r.to_string())
        } else {
            if m.root != "/" {
                cx.note(
                    &fs.device.clone(),
                    format!("bind mount of {} at {} left out", m.root, m.mountpoint),
                );
                continue;
            }
            None
        };
        // A FAT file system's modes live in its super options (fmask=0077):
        // the recovery mounts with them, or restored files change mode.
        let mut options = m.options.clone();
        if Mount::modes_from_options(&m.fstype) {
            for o in Mount::owner_options(&m.super_options) {
                options = format!("{options},{o}");
            }
        }
        layout.mounts.push(Mount {
            device: fs.device.clone(),
            mountpoint: m.mountpoint.clone(),
            fstype: m.fstype.clone(),
            options,
            subvolume,
        });
    }
}

/// Active swap that is not a swap device of the layout (swap files, which
/// the backup restores, or swap on something left out) gets a note.
fn capture_active_swaps(cx: &mut Ctx, layout: &Layout) {
    let Ok(text) = cx.src.read("/proc/swaps") else {
        return;
    };
    for (name, kind) in parse_proc_swaps(&text) {
        if kind == "file" {
            cx.note(
                &name,
                "a swap file: not part of the layout (the backup holds it)",
            );
            continue;
        }
        let dev = cx.canon(&name);
        if !layout.swaps.iter().any(|s| s.device == dev) && !is_never_name(&dev) {
            cx.note(
                &dev,
                "active swap on a device without a swap signature blkid knows",
            );
        }
    }
}

fn is_never_name(path: &str) -> bool {
    let k = path.rsplit('/').next().unwrap_or("");
    ["loop", "ram", "zram", "sr", "fd"].iter().any(|p| {
        k.strip_prefix(p)
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
    })
}

fn capture_boot(cx: &mut Ctx, layout: &mut Layout) {
    let uefi = cx.src.read("/sys/firmware/efi/fw_platform_size").is_ok();
    layout.boot.firmware = if uefi { Firmware::Uefi } else { Firmware::Bios };
    let esps: Vec<String> = layout
        .disks
        .iter()
        .flat_map(|d| d.partitions.iter())
        .filter(|p| p.type_ == ESP_TYPE)
        .map(|p| p.device.clone())
        .collect();
    layout.boot.esp = esps
        .iter()
        .find(|e| {
            layout
                .mounts
                .iter()
                .any(|m| m.device == **e && m.mountpoint.ends_with("/boot/efi"))
        })
        .or(esps.first())
        .cloned();
    if uefi {
        match cx.src.run(&["efibootmgr", "-v"]) {
            Ok(t) => layout.boot.efi_entries = parse_efibootmgr(&t),
            Err(e) => cx.note("efi", format!("EFI boot entries unknown: {e}")),
        }
    } else {
        for d in &layout.disks {
            if let Ok(sector) = cx.src.run(&[
                "dd",
                &format!("if={}", d.device),
                "bs=512",
                "count=1",
                "status=none",
            ]) {
                if sector.contains("GRUB") {
                    layout.boot.grub_disks.push(d.device.clone());
                }
            }
        }
    }
}

// ---------------------------------------------------------------- exclusion

/// Node names: device paths, `vg:NAME`, `fs:DEV`, `swap:DEV`, `mount:MP`.
struct Graph {
    /// node → the nodes it sits on.
    parents: BTreeMap<String, BTreeSet<String>>,
    children: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn edge(&mut self, child: &str, parent: &str) {
        self.parents
            .entry(child.to_string())
            .or_default()
            .insert(parent.to_string());
        self.children
            .entry(parent.to_string())
            .or_default()
            .insert(child.to_string());
        self.parents.entry(parent.to_string()).or_default();
        self.children.entry(child.to_string()).or_default();
    }

    fn node(&mut self, n: &str) {
        self.parents.entry(n.to_string()).or_default();
        self.children.entry(n.to_string()).or_default();
    }

    fn descendants(&self, n: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![n.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(x) = todo.pop() {
            for c in self.children.get(&x).into_iter().flatten() {
                if seen.insert(c.clone()) {
                    out.push(c.clone());
                    todo.push(c.clone());
                }
            }
        }
        out
    }
}

fn build_graph(cx: &Ctx, l: &Layout) -> Graph {
    let mut g = Graph {
        parents: BTreeMap::new(),
        children: BTreeMap::new(),
    };
    for d in &l.disks {
        g.node(&d.device);
        for p in &d.partitions {
            g.edge(&p.device, &d.device);
        }
    }
    for r in &l.raids {
        g.node(&r.device);
        for m in r.devices.iter().chain(&r.spares) {
            g.edge(&r.device, m);
        }
        for p in &r.partitions {
            g.edge(&p.device, &r.device);
        }
    }
    for x in &l.luks {
        g.edge(&x.device, &x.backing);
    }
    for pv in &l.pvs {
        g.edge(&format!("vg:{}", pv.vg), &pv.device);
    }
    for vg in &l.vgs {
        g.node(&format!("vg:{}", vg.name));
    }
    for lv in &l.lvs {
        g.edge(&lv.device, &format!("vg:{}", lv.vg));
        if let Some(pool) = &lv.pool {
            g.edge(&lv.device, &lv_device(&lv.vg, pool));
        }
    }
    for f in &l.filesystems {
        let n = format!("fs:{}", f.device);
        g.node(&n);
        for d in std::iter::once(&f.device).chain(&f.devices) {
            g.edge(&n, d);
        }
    }
    for s in &l.swaps {
        g.edge(&format!("swap:{}", s.device), &s.device);
    }
    for m in &l.mounts {
        g.edge(
            &format!("mount:{}", m.mountpoint),
            &format!("fs:{}", m.device),
        );
    }
    // Devices the model has no entry for (unsupported ones) still connect
    // what is above them to what is below, through lsblk's tree.
    for d in &cx.devs {
        if cx.unsupported.contains_key(&d.path) {
            for p in &d.parents {
                g.edge(&d.path, p);
            }
            for c in &d.children {
                g.edge(c, &d.path);
            }
        }
    }
    for (lv, vg) in &cx.unsupported_lvs {
        g.edge(lv, &format!("vg:{vg}"));
    }
    g
}

fn under(mp: &str, prefix: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    p.is_empty() || mp == p || mp.starts_with(&format!("{p}/"))
}

/// What leaves a node out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    /// A setting, or a mount point under [`AUTO_EXCLUDED_MOUNTS`].
    Excluded,
    /// Left out by itself: a blank disk, a removable one, a component only
    /// left-out ones use.
    Automatic,
    /// Capture cannot represent it, or what it sits on.
    Unmodelled,
}

/// Why a node is left out: the reason its note gives, what causes it, and
/// the node that started it with that node's own reason.
#[derive(Clone, Debug)]
struct Out {
    why: String,
    cause: Cause,
    root: (String, String),
}

fn exclude(cx: &Ctx, l: &mut Layout, o: &Options) -> Vec<Unmodelled> {
    let g = build_graph(cx, l);
    // node → why it is left out
    let mut out: BTreeMap<String, Out> = BTreeMap::new();
    let seed = |out: &mut BTreeMap<String, Out>, n: String, why: String, cause: Cause| {
        let root = (n.clone(), why.clone());
        out.entry(n).or_insert(Out { why, cause, root });
    };
    for m in &l.mounts {
        if let Some(p) = auto_excluded(&m.mountpoint) {
            seed(
                &mut out,
                format!("mount:{}", m.mountpoint),
                format!("mounted under {p}"),
                Cause::Excluded,
            );
        } else if let Some(p) = o
            .exclude_mountpoints
            .iter()
            .find(|p| under(&m.mountpoint, p))
        {
            seed(
                &mut out,
                format!("mount:{}", m.mountpoint),
                format!("excluded mount point {p}"),
                Cause::Excluded,
            );
        }
    }
    for vg in &l.vgs {
        if o.exclude_vgs.contains(&vg.name) {
            seed(
                &mut out,
                format!("vg:{}", vg.name),
                "excluded VG".into(),
                Cause::Excluded,
            );
        } else if !o.only_vgs.is_empty() && !o.only_vgs.contains(&vg.name) {
            seed(
                &mut out,
                format!("vg:{}", vg.name),
                "not among the VGs to keep".into(),
                Cause::Excluded,
            );
        }
    }
    for d in &l.disks {
        let short = d.device.trim_start_matches("/dev/");
        if o.exclude_disks.iter().any(|x| x == &d.device || x == short) {
            seed(
                &mut out,
                d.device.clone(),
                "excluded disk".into(),
                Cause::Excluded,
            );
        }
    }
    for (dev, why) in &cx.unsupported {
        seed(&mut out, dev.clone(), why.clone(), Cause::Unmodelled);
    }
    for d in &l.disks {
        let used = g.children.get(&d.device).is_some_and(|c| !c.is_empty())
            || cx.dev(&d.device).is_some_and(|b| !b.children.is_empty());
        // Blank: blkid -p found nothing on it (not: could not probe it),
        // nothing sits on it and nothing is mounted from it.
        let blank = d.label.is_none()
            && cx.nothing_found.contains(&d.device)
            && !used
            && !cx.mounted.contains(&d.device);
        if blank {
            seed(
                &mut out,
                d.device.clone(),
                "blank disk (no partition table, signature or holder)".into(),
                Cause::Automatic,
            );
        }
    }

    let propagate = |out: &mut BTreeMap<String, Out>| loop {
        let mut changed = false;
        // Down: whatever sits on a left-out node (the reason names the
        // first left-out node it sits on directly, one a setting leaves
        // out before any other).
        // What a setting leaves out is left out for that, even when it
        // is also unsupported.
        for (n, ps) in &g.parents {
            let excluded = |x: &Out| x.cause == Cause::Excluded;
            if out.get(n).is_some_and(excluded) {
                continue;
            }
            let gone: Vec<&String> = ps.iter().filter(|p| out.contains_key(*p)).collect();
            let by_setting = gone.iter().find(|p| excluded(&out[**p]));
            let p = match (by_setting, out.contains_key(n)) {
                (Some(p), _) => p,
                (None, true) => continue,
                (None, false) => match gone.first() {
                    Some(p) => p,
                    None => continue,
                },
            };
            let parent = &out[*p];
            let o = Out {
                why: format!("on {}", display_node(p)),
                cause: parent.cause,
                root: parent.root.clone(),
            };
            out.insert(n.clone(), o);
            changed = true;
        }
        // Up: a node all of whose users are left out.
        for (n, cs) in &g.children {
            if out.contains_key(n) || cs.is_empty() {
                continue;
            }
            if cs.iter().all(|c| out.contains_key(c)) {
                let causes: Vec<Cause> = cs.iter().map(|c| out[c].cause).collect();
                let cause = if causes.contains(&Cause::Unmodelled) {
                    Cause::Unmodelled
                } else if causes.iter().all(|c| *c == Cause::Excluded) {
                    Cause::Excluded
                } else {
                    Cause::Automatic
                };
                let why = "only used by components left out".to_string();
                let root = (n.clone(), why.clone());
                out.insert(n.clone(), Out { why, cause, root });
                changed = true;
            }
        }
        if !changed {
            break;
        }
    };
    propagate(&mut out);
    // Removable disks (the rescue medium, USB sticks) go unless a kept
    // mount lives on them.
    for d in &l.disks {
        let removable = cx.dev(&d.device).is_some_and(|b| b.removable);
        if removable && !out.contains_key(&d.device) {
            let kept_mount = g
                .descendants(&d.device)
                .iter()
                .any(|n| n.starts_with("mount:") && !out.contains_key(n));
            if !kept_mount {
                let why = "removable disk without a kept mount".to_string();
                let root = (d.device.clone(), why.clone());
                out.insert(
                    d.device.clone(),
                    Out {
                        why,
                        cause: Cause::Automatic,
                        root,
                    },
                );
            }
        }
    }
    propagate(&mut out);

    let unmodelled = unmodelled_mounts(cx, l, o, &out);
    let gone = |n: &str| out.contains_key(n);
    let mut notes: Vec<Note> = Vec::new();
    let mut say = |device: &str, kind: &str, n: &str| {
        if let Some(x) = out.get(n) {
            notes.push(Note {
                device: device.to_string(),
                what: format!("{kind} left out: {}", x.why),
            });
        }
    };
    for d in &l.disks {
        say(&d.device, "disk", &d.device);
        if let Some(x) = out.get(&d.device) {
            l.excluded_disks.push(ExcludedDisk {
                device: d.device.clone(),
                size: d.size,
                wwn: d.wwn.clone(),
                serial: d.serial.clone(),
                why: x.why.clone(),
            });
        }
    }
    for r in &l.raids {
        say(&r.device, "RAID", &r.device);
    }
    for x in &l.luks {
        say(&x.device, "LUKS", &x.device);
    }
    for vg in &l.vgs {
        say(&format!("vg:{}", vg.name), "VG", &format!("vg:{}", vg.name));
    }
    for lv in &l.lvs {
        say(&lv.device, "LV", &lv.device);
    }
    for f in &l.filesystems {
        say(&f.device, "filesystem", &format!("fs:{}", f.device));
    }
    for s in &l.swaps {
        say(&s.device, "swap", &format!("swap:{}", s.device));
    }
    for m in &l.mounts {
        say(
            &m.device,
            &format!("mount {}", m.mountpoint),
            &format!("mount:{}", m.mountpoint),
        );
    }
    l.disks.retain(|d| !gone(&d.device));
    // A kept disk keeps its whole partition table, even partitions whose
    // contents were left out.
    l.raids.retain(|r| !gone(&r.device));
    l.luks.retain(|x| !gone(&x.device));
    l.pvs.retain(|p| !gone(&format!("vg:{}", p.vg)));
    l.vgs.retain(|v| !gone(&format!("vg:{}", v.name)));
    l.lvs.retain(|v| !gone(&v.device));
    l.filesystems.retain(|f| !gone(&format!("fs:{}", f.device)));
    l.swaps.retain(|s| !gone(&format!("swap:{}", s.device)));
    l.mounts
        .retain(|m| !gone(&format!("mount:{}", m.mountpoint)));
    if l.boot.esp.as_ref().is_some_and(|e| gone(e)) {
        l.boot.esp = None;
    }
    l.boot.grub_disks.retain(|d| !gone(d));
    l.notes.extend(notes);
    unmodelled
}

/// The prefix of [`AUTO_EXCLUDED_MOUNTS`] a mount point is under, if any.
fn auto_excluded(mp: &str) -> Option<&'static str> {
    AUTO_EXCLUDED_MOUNTS.iter().copied().find(|p| under(mp, p))
}

/// `dev` and everything it sits on, through lsblk's tree.
fn lsblk_stack(cx: &Ctx, dev: &str) -> Vec<String> {
    let mut out = vec![dev.to_string()];
    let mut i = 0;
    while i < out.len() {
        if let Some(d) = cx.dev(&out[i]) {
            for p in &d.parents {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
        i += 1;
    }
    out
}

/// The mounted file systems a recovery could not recreate and no setting
/// leaves out: mounts of the layout left out because what they sit on
/// cannot be represented, and mounts of devices capture found no file
/// system of its own on, unless their mount point or a device under them
/// is excluded.
fn unmodelled_mounts(
    cx: &Ctx,
    l: &Layout,
    o: &Options,
    out: &BTreeMap<String, Out>,
) -> Vec<Unmodelled> {
    let disks_under = |dev: &str| -> Vec<String> {
        lsblk_stack(cx, dev)
            .into_iter()
            .filter(|d| cx.dev(d).is_some_and(|b| b.type_ == "disk"))
            .collect()
    };
    let why_of = |dev: &str, x: &Out| {
        let (node, why) = &x.root;
        if node == dev {
            why.clone()
        } else {
            format!("it sits on {}: {why}", display_node(node))
        }
    };
    let mut list = Vec::new();
    for m in &l.mounts {
        let Some(x) = out.get(&format!("mount:{}", m.mountpoint)) else {
            continue;
        };
        if x.cause == Cause::Unmodelled {
            list.push(Unmodelled {
                device: m.device.clone(),
                mountpoint: m.mountpoint.clone(),
                fstype: m.fstype.clone(),
                why: why_of(&m.device, x),
                disks: disks_under(&m.device),
            });
        }
    }
    for (dev, mp, fstype) in &cx.uncaptured {
        let excluded_mp =
            auto_excluded(mp).is_some() || o.exclude_mountpoints.iter().any(|p| under(mp, p));
        let stack = lsblk_stack(cx, dev);
        let excluded_dev = stack
            .iter()
            .any(|n| out.get(n).is_some_and(|x| x.cause == Cause::Excluded));
        if excluded_mp || excluded_dev {
            continue;
        }
        let why = stack
            .iter()
            .find_map(|n| {
                out.get(n)
                    .filter(|x| x.cause == Cause::Unmodelled)
                    .map(|x| why_of(dev, x))
            })
            .unwrap_or_else(|| match cx.blkid_type(dev) {
                Some(t) => format!("capture cannot represent its {t} signature"),
                None => "blkid -p finds no file system on it that capture knows".into(),
            });
        list.push(Unmodelled {
            device: dev.clone(),
            mountpoint: mp.clone(),
            fstype: fstype.clone(),
            why,
            disks: disks_under(dev),
        });
    }
    list
}

fn display_node(n: &str) -> String {
    if let Some(v) = n.strip_prefix("vg:") {
        format!("VG {v}")
    } else if let Some(m) = n.strip_prefix("mount:") {
        format!("mount {m}")
    } else if let Some(f) = n.strip_prefix("fs:") {
        format!("the filesystem on {f}")
    } else if let Some(s) = n.strip_prefix("swap:") {
        format!("swap on {s}")
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests;
