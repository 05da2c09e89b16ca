//! The rescue disk (`usb`): `rear-build format` makes a GPT disk with a
//! BIOS boot partition (GRUB's core image), an ESP labelled `REAR-EFI`
//! (UEFI loaders) and an ext4 partition labelled `REAR-000` that holds
//! `rear/HOST/GEN/{vmlinuz,initrd.img,manifest.json,entries.cfg}` for any
//! number of hosts and generations, the backups beside them, and one GRUB
//! menu listing them all (`boot/grub/grub.cfg`, rewritten by each
//! `image --media usb`). GRUB is installed once, by `format`; both
//! firmwares read the same menu. The checks that decide whether a disk
//! may be formatted are the caller's (`rear-build format`).

use super::{bios, fat, grub, Input, Menu};
use anyhow::{bail, Context, Result};
use rear_exec::{Call, Exec};
use std::path::{Path, PathBuf};

/// The data partition's file system label (ReaR's).
pub const DATA_LABEL: &str = "REAR-000";
/// The smallest disk `format` takes: BIOS boot, ESP and room for images.
pub const MIN_BYTES: u64 = 512 << 20;

const BIOS_LBA: u64 = 2048;
const BIOS_SECTORS: u64 = 2048;
const ESP_LBA: u64 = BIOS_LBA + BIOS_SECTORS;
const ESP_SECTORS: u64 = 64 << 11; // 64 MiB
const DATA_LBA: u64 = ESP_LBA + ESP_SECTORS;
/// What the file on the data partition that our GRUB looks for starts
/// with; the rest is the disk's own id, so two rescue disks attached to
/// one machine each boot their own menu.
const MARKER_PREFIX: &str = "/.disk/rear-build-usb-";
/// Where the data partition is mounted while `image` writes to it.
const MOUNT_DIR: &str = "/run/rear-build";

/// The sfdisk script of a rescue disk (sfdisk picks the GUIDs: a disk is
/// formatted once, not built reproducibly).
fn table() -> String {
    format!(
        "label: gpt\nunit: sectors\n\
         start={BIOS_LBA}, size={BIOS_SECTORS}, type=21686148-6449-6E6F-744E-656564454649, name=\"BIOS boot\"\n\
         start={ESP_LBA}, size={ESP_SECTORS}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"{}\"\n\
         start={DATA_LBA}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"{DATA_LABEL}\"\n",
        super::iso::ESP_LABEL
    )
}

/// A partition as sfdisk lists it, in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub start: u64,
    pub size: u64,
}

/// The partitions of `disk` (a device or an image file); none when it has
/// no partition table.
pub fn partitions(disk: &Path, exec: &dyn Exec) -> Result<Vec<Partition>> {
    let out = exec
        .output(&Call::new("sfdisk").arg("--json").arg(disk))
        .with_context(|| format!("read the partition table of {}", disk.display()))?;
    if !out.success() {
        // sfdisk says so on a disk without a table; that is an answer.
        if out
            .stderr
            .contains("does not contain a recognized partition table")
        {
            return Ok(Vec::new());
        }
        bail!("sfdisk --json {}: {}", disk.display(), out.stderr.trim());
    }
    parse_partitions(&out.stdout)
        .with_context(|| format!("read sfdisk's listing of {}", disk.display()))
}

fn parse_partitions(json: &str) -> Result<Vec<Partition>> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let t = &v["partitiontable"];
    let sector = t["sectorsize"].as_u64().unwrap_or(512);
    let mut out = Vec::new();
    for p in t["partitions"].as_array().into_iter().flatten() {
        let num = |k: &str| {
            p[k].as_u64()
                .with_context(|| format!("a partition without {k}"))
        };
        out.push(Partition {
            name: p["name"].as_str().unwrap_or("").to_string(),
            start: num("start")? * sector,
            size: num("size")? * sector,
        });
    }
    Ok(out)
}

/// Formats `disk` (a whole disk or an image file, already checked by the
/// caller) as a rescue disk; returns the disk's id.
pub fn format(disk: &Path, bytes: u64, kernel: &Path, exec: &dyn Exec) -> Result<String> {
    if bytes < MIN_BYTES {
        bail!(
            "{} holds {} MiB: a rescue disk needs at least {} MiB",
            disk.display(),
            bytes >> 20,
            MIN_BYTES >> 20
        );
    }
    let id = disk_id()?;
    let scratch = tempfile::Builder::new()
        .prefix("rear-build-format.")
        .tempdir()
        .context("create a temporary directory")?;
    let scratch = scratch.path();
    // What GRUB needs, made before anything on the disk changes.
    let core = scratch.join("core.img");
    let marker = format!("{MARKER_PREFIX}{id}");
    let efi = grub::images(
        &grub::early_config(&marker),
        kernel,
        (grub::Bios::Disk, &core),
        scratch,
        exec,
    )?;
    let esp_tree = scratch.join("esp");
    super::stage_efi(&efi, &esp_tree)?;
    let esp = scratch.join("esp.img");
    fat::image(
        &esp_tree,
        super::iso::ESP_LABEL,
        &id,
        unix_now(),
        Some(ESP_SECTORS / 2),
        &esp,
        exec,
    )?;
    let data_tree = scratch.join("data");
    for d in ["boot/grub", "rear", ".disk"] {
        let p = data_tree.join(d);
        std::fs::create_dir_all(&p).with_context(|| format!("create {}", p.display()))?;
    }
    super::write_text(&data_tree.join(marker.trim_start_matches('/')), "")?;
    super::write_text(&data_tree.join(".disk/info"), "rear-build rescue disk\n")?;
    super::write_text(
        &data_tree.join("boot/grub/grub.cfg"),
        &usb_menu(&Menu::default(), &[]),
    )?;

    exec.run(&Call::new("wipefs").args(["--all", "--force"]).arg(disk))
        .with_context(|| format!("wipe the signatures on {}", disk.display()))?;
    exec.run(
        &Call::new("sfdisk")
            .arg("--quiet")
            .arg(disk)
            .stdin(table().into_bytes()),
    )
    .with_context(|| format!("partition {}", disk.display()))?;
    let parts = partitions(disk, exec)?;
    let data = parts
        .iter()
        .find(|p| p.name == DATA_LABEL)
        .with_context(|| {
            format!(
                "{}: no {DATA_LABEL} partition after partitioning",
                disk.display()
            )
        })?;
    super::write_at(disk, ESP_LBA * 512, &esp)?;
    bios::embed(
        disk,
        &Path::new(grub::BIOS_DIR).join("boot.img"),
        &core,
        BIOS_LBA,
        BIOS_SECTORS,
    )?;
    // Through the whole disk at the partition's offset: the same for a
    // device and an image file, and no waiting for partition nodes.
    exec.run(
        &Call::new("mkfs.ext4")
            .args(["-q", "-F", "-L", DATA_LABEL, "-d"])
            .arg(&data_tree)
            .arg("-E")
            .arg(format!("offset={}", data.start))
            .arg(disk)
            .arg(format!("{}k", data.size / 1024)),
    )
    .with_context(|| format!("make the {DATA_LABEL} file system on {}", disk.display()))?;
    if is_block(disk) {
        // The kernel learns the new partitions (and udev their labels).
        let _ = exec.output(&Call::new("partx").args(["--update"]).arg(disk));
        let _ = exec.output(&Call::new("udevadm").args(["settle", "--timeout=10"]));
    }
    Ok(id)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new disk's id: 16 hex digits from the kernel's random source.
fn disk_id() -> Result<String> {
    let u = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .context("read /proc/sys/kernel/random/uuid")?;
    Ok(u.trim().replace('-', "")[..16].to_string())
}

fn is_block(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p)
        .map(|m| m.file_type().is_block_device())
        .unwrap_or(false)
}

/// One generation on the disk: `rear/HOST/GEN`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Generation {
    pub host: String,
    pub name: String,
}

/// The top menu: one submenu per generation (hosts sorted, each host's
/// newest first), each holding that generation's own entries; the
/// default is the first one's rescue shell.
pub fn usb_menu(m: &Menu, gens: &[Generation]) -> String {
    let mut out = grub::header(m, "0>0");
    if gens.is_empty() {
        out += "menuentry 'No rescue system on this disk yet: run rear-build image --media usb' {\n  true\n}\n";
    }
    for g in gens {
        out += &format!(
            "submenu {} {{\n  source {}\n}}\n",
            grub::quote(&format!("{} {}", g.host, g.name)),
            grub::quote(&format!("/rear/{}/{}/entries.cfg", g.host, g.name))
        );
    }
    out + grub::FIRST_DISK
}

/// The generations on a mounted data partition, in menu order.
fn generations(root: &Path) -> Result<Vec<Generation>> {
    let mut out = Vec::new();
    let rear = root.join("rear");
    for host in read_dirs(&rear)? {
        let mut gens: Vec<Generation> = read_dirs(&rear.join(&host))?
            .into_iter()
            .filter(|g| is_generation(g) && rear.join(&host).join(g).join("entries.cfg").is_file())
            .map(|name| Generation {
                host: host.clone(),
                name,
            })
            .collect();
        gens.sort_by(|a, b| b.name.cmp(&a.name));
        out.extend(gens);
    }
    Ok(out)
}

fn read_dirs(p: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if !p.is_dir() {
        return Ok(out);
    }
    for e in std::fs::read_dir(p).with_context(|| format!("list {}", p.display()))? {
        let e = e.with_context(|| format!("list {}", p.display()))?;
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// An image generation's name: `image-YYYYMMDDTHHMMSSZ`.
fn is_generation(name: &str) -> bool {
    name.strip_prefix("image-")
        .is_some_and(|s| s.len() == 16 && s.ends_with('Z') && s.as_bytes()[8] == b'T')
}

/// `image-YYYYMMDDTHHMMSSZ` for `secs` since the epoch (UTC).
fn generation_name(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to a civil date: eras of 400 years, years starting in March.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "image-{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Where `image --media usb` writes: `device` (a disk or image file with
/// a `REAR-000` partition, or that partition), else the partition
/// labelled `REAR-000`.
#[derive(Clone, Debug, Default)]
pub struct Place {
    pub device: Option<PathBuf>,
    /// Generations kept per host.
    pub keep: usize,
}

/// The data partition's mount source and options.
fn data_source(place: &Place, exec: &dyn Exec) -> Result<(PathBuf, Option<String>)> {
    let Some(dev) = &place.device else {
        let out = exec
            .output(&Call::new("blkid").args(["-L", DATA_LABEL]))
            .context("look for the rescue disk")?;
        if !out.success() || out.stdout.trim().is_empty() {
            bail!(
                "no disk labelled {DATA_LABEL} is attached: plug in the rescue disk, or make one with `rear-build format DEVICE`, or name it with --usb-device / usb.device"
            );
        }
        return Ok((PathBuf::from(out.stdout.trim()), None));
    };
    if !dev.exists() {
        bail!("usb.device {}: no such device or file", dev.display());
    }
    let parts = partitions(dev, exec)?;
    if parts.is_empty() {
        // The partition itself.
        return Ok((dev.clone(), None));
    }
    let data = parts
        .iter()
        .find(|p| p.name == DATA_LABEL)
        .with_context(|| {
            format!(
            "{} has no {DATA_LABEL} partition: make it a rescue disk with `rear-build format {}`",
            dev.display(),
            dev.display()
        )
        })?;
    Ok((
        dev.clone(),
        Some(format!(
            "loop,offset={},sizelimit={}",
            data.start, data.size
        )),
    ))
}

/// Writes the image (`input`'s kernel and initrd, and `manifest`) as a
/// new generation of `host` onto the rescue disk, removes the host's
/// generations beyond the newest `keep` (never one a backup on the disk
/// names), and rewrites the menu. Returns a note for the user.
pub fn publish(
    input: &Input,
    manifest: &Path,
    place: &Place,
    backup: Option<&str>,
    exec: &dyn Exec,
) -> Result<String> {
    let host = &input.menu.host;
    if host.is_empty() || host.contains('/') || host.starts_with('.') {
        bail!("the host name {host:?} cannot name a directory on the rescue disk");
    }
    let (source, options) = data_source(place, exec)?;
    std::fs::create_dir_all(MOUNT_DIR).with_context(|| format!("create {MOUNT_DIR}"))?;
    let mnt = PathBuf::from(MOUNT_DIR).join(format!("usb.{}", std::process::id()));
    std::fs::create_dir_all(&mnt).with_context(|| format!("create {}", mnt.display()))?;
    let mut mount = Call::new("mount").args(["-t", "ext4"]);
    if let Some(o) = &options {
        mount = mount.args(["-o", o]);
    }
    exec.run(&mount.arg(&source).arg(&mnt)).with_context(|| {
        format!(
            "mount the rescue disk's {DATA_LABEL} file system from {}",
            source.display()
        )
    })?;
    let done = write_generation(input, manifest, &mnt, place.keep, backup);
    let unmounted = exec.run(&Call::new("umount").arg(&mnt));
    let _ = std::fs::remove_dir(&mnt);
    let note = done?;
    unmounted.with_context(|| format!("unmount {}", mnt.display()))?;
    Ok(format!("{} ({note})", source.display()))
}

/// Whether the file system mounted at `root` is a rescue disk's
/// `REAR-000` (made by `format`: it has the file our GRUB looks for).
pub fn is_rescue_disk(root: &Path) -> bool {
    std::fs::read_dir(root.join(".disk"))
        .map(|d| {
            d.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("rear-build-usb-")
            })
        })
        .unwrap_or(false)
}

/// Writes the image as a new generation of its host onto the rescue
/// disk's `REAR-000` mounted at `root` (see [`publish`]); `backup` names
/// the backup on the disk made with it.
pub fn write_generation(
    input: &Input,
    manifest: &Path,
    root: &Path,
    keep: usize,
    backup: Option<&str>,
) -> Result<String> {
    if !is_rescue_disk(root) {
        bail!("this {DATA_LABEL} file system was not made by `rear-build format` (no /.disk/rear-build-usb-*), so its GRUB would not show this menu: make the disk a rescue disk with `rear-build format DEVICE`");
    }
    let host = &input.menu.host;
    let host_dir = root.join("rear").join(host);
    std::fs::create_dir_all(&host_dir).with_context(|| format!("create {}", host_dir.display()))?;
    let mut secs = unix_now();
    let mut name = generation_name(secs);
    while host_dir.join(&name).exists() {
        secs += 1;
        name = generation_name(secs);
    }
    let part = host_dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&part);
    super::copy_boot_files(input, &part)?;
    // The manifest, and its signature when the image is signed: a
    // generation verifies by itself (`rear-build verify`).
    let sig = manifest.with_file_name(crate::provenance::MANIFEST_SIG);
    for (from, name) in [
        (manifest, "manifest.json"),
        (sig.as_path(), crate::provenance::MANIFEST_SIG),
    ] {
        if name != "manifest.json" && !from.exists() {
            continue;
        }
        let to = part.join(name);
        std::fs::copy(from, &to)
            .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
    }
    let dir = format!("/rear/{host}/{name}");
    let mut menu = input.menu.clone();
    menu.cmdline = [menu.cmdline.as_str(), &format!("rear.usb={host}/{name}")]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    super::write_text(
        &part.join("entries.cfg"),
        &grub::entries(
            &menu,
            &format!("{dir}/vmlinuz"),
            &format!("{dir}/initrd.img"),
        ),
    )?;
    if let Some(b) = backup {
        super::write_text(&part.join("backup"), &format!("{b}\n"))?;
    }
    super::make_private(&part, &name)?;
    sync_tree(&part)?;
    std::fs::rename(&part, host_dir.join(&name))
        .with_context(|| format!("rename {} to {name}", part.display()))?;
    let removed = prune(&host_dir, keep)?;
    let gens = generations(root)?;
    let cfg = root.join("boot/grub/grub.cfg");
    let new = cfg.with_extension("cfg.new");
    super::write_text(&new, &usb_menu(input.menu, &gens))?;
    sync_tree(&new)?;
    std::fs::rename(&new, &cfg).with_context(|| format!("rename {}", new.display()))?;
    sync_tree(root)?;
    let hosts: std::collections::BTreeSet<&str> = gens.iter().map(|g| g.host.as_str()).collect();
    Ok(format!(
        "rear/{host}/{name}; {} generation(s) of {} host(s) on the disk{}",
        gens.len(),
        hosts.len(),
        if removed.is_empty() {
            String::new()
        } else {
            format!("; removed {}", removed.join(", "))
        }
    ))
}

/// Removes the host's generations beyond the newest `keep`, except those
/// whose `backup` file names a backup still on the disk.
fn prune(host_dir: &Path, keep: usize) -> Result<Vec<String>> {
    let mut gens: Vec<String> = read_dirs(host_dir)?
        .into_iter()
        .filter(|g| is_generation(g))
        .collect();
    gens.sort();
    gens.reverse();
    let mut removed = Vec::new();
    for g in gens.into_iter().skip(keep.max(1)) {
        let dir = host_dir.join(&g);
        let needed = std::fs::read_to_string(dir.join("backup"))
            .ok()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty() && !b.contains('/') && host_dir.join(b).exists());
        if let Some(b) = needed {
            log::info!("keeping rear/{g}: the backup {b} on the disk was made with it");
            continue;
        }
        std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
        removed.push(g);
    }
    Ok(removed)
}

/// fsync `p` (and, for a directory, every file below it).
fn sync_tree(p: &Path) -> Result<()> {
    if p.is_dir() {
        for e in std::fs::read_dir(p).with_context(|| format!("list {}", p.display()))? {
            let e = e.with_context(|| format!("list {}", p.display()))?;
            if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                sync_tree(&e.path())?;
            }
        }
    }
    std::fs::File::open(p)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("sync {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_names_sort_by_time_and_are_recognised() {
        assert_eq!(generation_name(0), "image-19700101T000000Z");
        assert_eq!(generation_name(1_700_000_000), "image-20231114T221320Z");
        assert_eq!(generation_name(951_782_400), "image-20000229T000000Z");
        assert!(generation_name(1) < generation_name(1_000_000_000));
        assert!(is_generation("image-20231114T221320Z"));
        assert!(!is_generation("backup-20231114T221320.1Z"));
        assert!(!is_generation("image-2023"));
    }

    #[test]
    fn the_menu_lists_every_generation_and_defaults_to_the_first_shell() {
        let m = Menu {
            host: "a".into(),
            timeout: 7,
            consoles: "console=ttyS0,115200".into(),
            cmdline: String::new(),
        };
        let g = |h: &str, n: &str| Generation {
            host: h.into(),
            name: n.into(),
        };
        let text = usb_menu(
            &m,
            &[g("a", "image-2"), g("a", "image-1"), g("b's", "image-3")],
        );
        assert!(
            text.contains("set default=\"0>0\"\nset timeout=7\n"),
            "{text}"
        );
        let subs: Vec<&str> = text.lines().filter(|l| l.starts_with("submenu")).collect();
        assert_eq!(
            subs,
            [
                "submenu 'a image-2' {",
                "submenu 'a image-1' {",
                "submenu 'b'\\''s image-3' {"
            ]
        );
        assert!(
            text.contains("source '/rear/a/image-1/entries.cfg'"),
            "{text}"
        );
        assert!(text.ends_with(grub::FIRST_DISK));
        assert!(usb_menu(&m, &[]).contains("No rescue system"));
    }

    #[test]
    fn sfdisk_listings_give_bytes() {
        let json = r#"{"partitiontable":{"label":"gpt","sectorsize":512,"partitions":[
            {"node":"d1","start":2048,"size":2048,"type":"x","name":"BIOS boot"},
            {"node":"d3","start":135168,"size":100,"type":"y","name":"REAR-000"}]}}"#;
        let p = parse_partitions(json).unwrap();
        assert_eq!(
            p[1],
            Partition {
                name: "REAR-000".into(),
                start: 135168 * 512,
                size: 51200
            }
        );
    }

    #[test]
    fn old_generations_go_unless_a_backup_needs_them() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path();
        for g in [
            "image-20240101T000000Z",
            "image-20240102T000000Z",
            "image-20240103T000000Z",
            "image-20240104T000000Z",
        ] {
            std::fs::create_dir(host.join(g)).unwrap();
        }
        std::fs::create_dir(host.join("backup-X")).unwrap();
        std::fs::write(host.join("image-20240101T000000Z/backup"), "backup-X\n").unwrap();
        std::fs::write(host.join("image-20240102T000000Z/backup"), "backup-gone\n").unwrap();
        let removed = prune(host, 2).unwrap();
        assert_eq!(removed, ["image-20240102T000000Z"]);
        let left = read_dirs(host).unwrap();
        assert_eq!(
            left,
            [
                "backup-X",
                "image-20240101T000000Z",
                "image-20240103T000000Z",
                "image-20240104T000000Z"
            ]
        );
    }
}
