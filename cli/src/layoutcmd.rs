//! The storage-layout commands: savelayout, checklayout, layout show,
//! layout import-rear, and recover --layout-only.

use crate::say;
use anyhow::{bail, Context, Result};
use clap::Args;
use rear_exec::{Call, Exec, System};
use rear_layout::apply::{self, Resolver};
use rear_layout::capture::{self, Source};
use rear_layout::plan::{self, Resize};
use rear_layout::{compare, present, show, Layout};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use crate::config::Layout as Settings;
use crate::paths::LAYOUT_STATE as STATE;

/// This machine's layout; a mounted file system capture cannot represent
/// and no setting leaves out is an error naming it and the settings that
/// would (savelayout, checklayout and mkbackup all capture through here).
pub(crate) fn capture_now(src: &dyn Source, settings: &Settings) -> Result<Layout> {
    let c = capture::capture_all(src, &settings.capture_options())
        .context("capture the storage layout")?;
    if !c.unmodelled.is_empty() {
        bail!("{}", unmodelled_error(&c.unmodelled));
    }
    Ok(c.layout)
}

/// Each mounted file system a recovery could not recreate, with the
/// settings that leave it out explicitly.
fn unmodelled_error(list: &[capture::Unmodelled]) -> String {
    let mut s = String::from(
        "capture the storage layout: mounted file systems it cannot represent, so a recovery from the layout could not recreate them:",
    );
    for u in list {
        let mp = &u.mountpoint;
        s.push_str(&format!(
            "\n  {u}\n    to leave it out (it and what is mounted below it will not be recreated): exclude_mountpoints = [{mp:?}] in [layout] of the configuration, or --exclude-mountpoint {mp}"
        ));
        for d in &u.disks {
            s.push_str(&format!(
                "; or its disk with all on it: exclude_disks = [{d:?}], or --exclude-disk {d}"
            ));
        }
    }
    s
}

pub fn load(path: &Path) -> Result<Layout> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("read layout {}", path.display()))?;
    Layout::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn write(path: &Path, layout: &Layout) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    rear_store::write_file_atomic(path, layout.to_json().as_bytes(), 0o600)?;
    Ok(())
}

/// Captures the layout of the system `src` describes into `output`.
/// `partition-table`: the script on stdin onto `device`, or (`dump`) the
/// table on `device` printed as one.
pub fn partition_table(device: &Path, dump: bool) -> Result<i32> {
    if dump {
        let t = rear_ptable::read(device, 512)?;
        print!("{}", t.script(&device.to_string_lossy()));
        return Ok(0);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("read the partition table script from standard input")?;
    let t = rear_ptable::Table::parse_script(&text).context("the script on standard input")?;
    rear_ptable::write(device, &t)?;
    say!(
        "wrote a {} partition table with {} partition(s) to {}",
        match t.label {
            rear_ptable::Label::Gpt => "GPT",
            rear_ptable::Label::Dos => "MBR",
        },
        t.parts.len(),
        device.display()
    );
    Ok(0)
}

pub fn savelayout(src: &dyn Source, output: &Path, args: &Settings) -> Result<i32> {
    let layout = capture_now(src, args)?;
    write(output, &layout)?;
    print!("{}", show::tree(&layout));
    for n in &layout.notes {
        log::warn!("{}: {}", n.device, n.what);
    }
    say!("layout saved to {}", output.display());
    Ok(0)
}

/// 0: unchanged; 1: changed (differences printed). Errors become 2 in main.
pub fn checklayout(src: &dyn Source, saved: &Path, args: &Settings) -> Result<i32> {
    let old = load(saved)?;
    let now = capture_now(src, args)?;
    let d = compare::diff(&old, &now, &compare::Options::default());
    if d.is_empty() {
        println!("layout unchanged since {}", saved.display());
        Ok(0)
    } else {
        println!("layout changed since {}:", saved.display());
        for line in d {
            println!("  {line}");
        }
        Ok(1)
    }
}

pub fn show_file(path: &Path) -> Result<i32> {
    print!("{}", show::tree(&load(path)?));
    Ok(0)
}

/// Imports ReaR's disklayout.conf into `output`, or into this machine's
/// saved layout `saved` when there is none yet (it describes this
/// machine's disks: an import never replaces it unasked).
pub fn import_rear(input: &Path, output: Option<&Path>, saved: &Path) -> Result<i32> {
    let output = match output {
        Some(o) => o,
        None if saved.exists() => bail!(
            "{} exists: it is this machine's saved layout; name the imported layout's file with -o FILE",
            saved.display()
        ),
        None => saved,
    };
    let text =
        std::fs::read_to_string(input).with_context(|| format!("read {}", input.display()))?;
    let layout =
        rear_layout::rear::import(&text).with_context(|| format!("import {}", input.display()))?;
    // What ReaR's file holds may still be no layout to recreate (a
    // partition without a start, one past its disk's end): said here, not
    // on recovery day.
    rear_layout::validate::check(&layout).map_err(|e| {
        anyhow::anyhow!(
            "{}: imported, but not a layout rear-build can recreate: {e}",
            input.display()
        )
    })?;
    write(output, &layout)?;
    print!("{}", show::tree(&layout));
    say!("{} imported into {}", input.display(), output.display());
    Ok(0)
}

#[derive(Args, Debug, Clone)]
pub struct RecoverArgs {
    /// Recreate the storage layout only (partitions, RAID, LUKS, LVM, file systems, mounts).
    #[arg(long)]
    pub layout_only: bool,
    /// The saved layout (default: /var/lib/rear-build/layout.json, else the rescue image's copy).
    #[arg(long, value_name = "FILE")]
    pub layout: Option<PathBuf>,
    /// Recreate disk OLD of the layout on disk NEW of this machine: /dev/NAME, /dev/disk/by-id/NAME, /dev/disk/by-path/NAME (NEW only), wwn:VALUE or serial:VALUE. Repeatable.
    #[arg(long = "map", value_name = "OLD=NEW")]
    pub map: Vec<String>,
    /// File whose first line is the LUKS passphrase (never give it on the command line).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Never write disks whose device, WWN, serial, by-id name, PTUUID, PARTUUID, UUID or label matches (glob). Repeatable; REAR-000 is always protected.
    #[arg(long = "protect", value_name = "PATTERN")]
    pub protect: Vec<String>,
    /// Scale every partition to a larger disk instead of growing only the last one.
    #[arg(long)]
    pub proportional: bool,
    /// Do not mount the recreated file systems.
    #[arg(long)]
    pub no_mount: bool,
    /// Where the recreated file systems are mounted.
    #[arg(long, value_name = "DIR", default_value = crate::paths::RECOVER_ROOT)]
    pub mount_root: String,
    /// Do not install a bootloader after the restore (the system will not boot by itself).
    #[arg(long)]
    pub no_bootloader: bool,
    /// Rebuild the restored system's initramfs with its own tool: auto (when a device was renamed), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub initramfs: String,
    /// Do not ask before writing the disks.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// As --yes, for the rescue system's unattended mode.
    #[arg(long, hide = true)]
    pub unattended: bool,
    /// Start from the first step even if an earlier run did some.
    #[arg(long)]
    pub restart: bool,
    /// Simulate: print the plan as a shell script and change nothing.
    #[arg(short = 's', long)]
    pub simulate: bool,
    /// The image the backup must have been made with, instead of the
    /// running rescue system's: an image id (12 or more hex digits) or an
    /// image's output directory or manifest.json. For a rescue system
    /// booted from another image, when its layout (or --layout's) is the
    /// one to recreate.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
}

/// `--map` (and `rear.map=`) entries as OLD, NEW pairs, each side one of
/// the forms [`plan::names::FORMS`] lists.
fn map_entries(args: &[String]) -> Result<Vec<(String, String)>> {
    args.iter()
        .map(|m| {
            plan::names::split_entry(m)
                .map(|(o, n)| (o.to_string(), n.to_string()))
                .map_err(|e| anyhow::anyhow!("--map {m}: {e}"))
        })
        .collect()
}

/// `blkid -p -o export DEV`: what is on a device. Exit 2 with nothing on
/// stderr is blkid's "nothing found"; any other failure (exit 2 too when
/// it cannot read the device) is no answer, and such a disk is never
/// taken for blank.
pub fn blkid_probe(dev: &str) -> Result<String, String> {
    let out = System
        .output(&Call::new("blkid").args(["-p", "-o", "export", dev]))
        .map_err(|e| e.to_string())?;
    match out.code {
        0 => Ok(out.stdout),
        2 if out.stderr.trim().is_empty() => Ok(String::new()),
        code => Err(format!("exit {code}: {}", out.stderr.trim())),
    }
}

fn present_disks() -> Vec<plan::PresentDisk> {
    let blkid = blkid_probe;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    let mut disks = present::scan(Path::new("/sys"), &blkid, &mountinfo, &swaps);
    present::add_links(&mut disks, Path::new("/"));
    disks
}

/// Asks on the terminal; anything but YES (or no terminal) is a no.
fn confirm(plan: &plan::Plan, present: &[plan::PresentDisk]) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("not on a terminal, so nobody can confirm: run with --yes to recreate the layout without asking");
    }
    let mut err = std::io::stderr();
    writeln!(
        err,
        "These disks will be overwritten (all they hold is lost), for the layout's disks:"
    )?;
    for line in plan.mapping_lines(present) {
        writeln!(err, "  {line}")?;
    }
    write!(err, "Type YES to go on: ")?;
    err.flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim() == "YES")
}

/// What recreating the layout gave: the layout, old → new device names, and
/// the exit code so far.
pub struct Recreated {
    pub layout: Layout,
    pub renames: BTreeMap<String, String>,
    /// The disks it was recreated on: all that later stages may write.
    pub targets: BTreeSet<String>,
    pub code: i32,
}

/// The layout recovery recreates: --layout, else this machine's saved
/// one, else the one the rescue image carries.
pub fn saved_layout(a: &RecoverArgs) -> Result<PathBuf> {
    Ok(match &a.layout {
        Some(p) => p.clone(),
        None if Path::new(crate::paths::LAYOUT).exists() => PathBuf::from(crate::paths::LAYOUT),
        None if Path::new(crate::paths::IMAGE_LAYOUT).exists() => {
            PathBuf::from(crate::paths::IMAGE_LAYOUT)
        }
        None => bail!(
            "no saved layout at {} or {}: name one with --layout FILE",
            crate::paths::LAYOUT,
            crate::paths::IMAGE_LAYOUT
        ),
    })
}

/// Recreates `layout`, read from `path` (or prints the plan with -s).
pub fn recover_layout(a: &RecoverArgs, path: &Path, layout: Layout) -> Result<Recreated> {
    let map = map_entries(&a.map)?;
    let mut opts = plan::Options {
        map,
        passphrase_file: a.passphrase_file.clone(),
        resize: if a.proportional {
            Resize::Proportional
        } else {
            Resize::LastPartition
        },
        mount_root: a.mount_root.clone(),
        mount: !a.no_mount,
        ..Default::default()
    };
    opts.write_protected.extend(a.protect.iter().cloned());
    let present = present_disks();
    let p = plan::plan(&layout, &present, &opts)
        .context("cannot plan the recreation; nothing was written")?;
    if a.simulate {
        print!("{}", p.script(&path.to_string_lossy()));
        return Ok(Recreated {
            layout,
            renames: p.renames,
            targets: p.targets,
            code: 0,
        });
    }
    for n in &p.notes {
        say!("{n}");
    }
    for line in p.mapping_lines(&present) {
        say!("{line}");
    }
    let confirmed = a.yes || a.unattended || confirm(&p, &present)?;
    if !confirmed {
        say!("not confirmed; nothing was written");
        return Ok(Recreated {
            layout,
            renames: p.renames,
            targets: p.targets,
            code: 1,
        });
    }
    let state = Path::new(STATE);
    if a.restart {
        let _ = std::fs::remove_file(state);
    }
    let ran = apply::apply(&p, &System, &Resolver::default(), state, &mut |l| {
        say!("{l}")
    })?;
    say!(
        "layout recreated ({ran} steps run, {} in all){}",
        p.steps.len(),
        if a.no_mount {
            String::new()
        } else {
            format!("; file systems mounted at {}", a.mount_root)
        }
    );
    Ok(Recreated {
        layout,
        renames: p.renames,
        targets: p.targets,
        code: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rescue system's recorded gpt-esp scenario, with an f2fs (which
    /// the layout cannot hold) on the whole of /dev/vdb mounted at /srv.
    struct F2fsOnVdb(capture::FixtureSource);

    impl F2fsOnVdb {
        fn new() -> F2fsOnVdb {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../layout/tests/fixtures/capture/gpt-esp");
            F2fsOnVdb(capture::FixtureSource::new(dir))
        }
    }

    impl Source for F2fsOnVdb {
        fn run(&self, argv: &[&str]) -> std::result::Result<String, String> {
            if argv == ["blkid", "-p", "-o", "export", "/dev/vdb"] {
                return Ok("DEVNAME=/dev/vdb\nUUID=1234\nTYPE=f2fs\n".into());
            }
            self.0.run(argv)
        }
        fn read(&self, path: &str) -> std::result::Result<String, String> {
            let text = self.0.read(path)?;
            Ok(if path == "/proc/self/mountinfo" {
                text + "31 1 254:16 / /srv rw,relatime - f2fs /dev/vdb rw\n"
            } else {
                text
            })
        }
    }

    #[test]
    fn a_mounted_file_system_capture_cannot_hold_fails_savelayout_checklayout_and_mkbackup() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("layout.json");
        let src = F2fsOnVdb::new();
        let err = savelayout(&src, &out, &Settings::default())
            .unwrap_err()
            .to_string();
        for want in [
            "/dev/vdb mounted at /srv (f2fs): a f2fs signature: not supported",
            "exclude_mountpoints = [\"/srv\"] in [layout]",
            "--exclude-mountpoint /srv",
            "exclude_disks = [\"/dev/vdb\"]",
            "--exclude-disk /dev/vdb",
        ] {
            assert!(err.contains(want), "{want:?} not in: {err}");
        }
        assert!(!out.exists(), "no layout saved");

        // mkbackup stops at its capture, before the image or the backup.
        let mut cfg = crate::config::Config::builtin();
        cfg.backup.url = format!("file://{}", d.path().join("backup").display());
        let cli = <crate::cmdline::Cli as clap::Parser>::try_parse_from(["rear-build", "mkbackup"])
            .unwrap();
        let crate::cmdline::Command::Mkbackup(a) = cli.command else {
            panic!("not mkbackup");
        };
        let err = crate::workflows::mkbackup(&src, &cfg, &[], &a)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/dev/vdb mounted at /srv (f2fs)"), "{err}");

        // Excluded in the configuration: saved without it.
        let conf = d.path().join("etc");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(
            conf.join("config.toml"),
            "[layout]\nexclude_mountpoints = [\"/srv\"]\n",
        )
        .unwrap();
        let (cfg, _) = crate::config::load(&conf).unwrap();
        assert_eq!(savelayout(&src, &out, &cfg.layout).unwrap(), 0);
        let saved = load(&out).unwrap();
        assert!(saved.disk("/dev/vdb").is_none());
        assert!(saved.mounts.iter().all(|m| m.mountpoint != "/srv"));
        assert_eq!(checklayout(&src, &out, &cfg.layout).unwrap(), 0);
        // checklayout without the setting refuses as savelayout does.
        let err = checklayout(&src, &out, &Settings::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/dev/vdb mounted at /srv (f2fs)"), "{err}");
        // Excluding its disk (--exclude-disk) saves the layout too.
        let by_disk = Settings {
            exclude_disks: vec!["/dev/vdb".into()],
            ..Default::default()
        };
        assert_eq!(savelayout(&src, &out, &by_disk).unwrap(), 0);
    }

    #[test]
    fn an_import_never_replaces_the_saved_layout_unasked() {
        let d = tempfile::tempdir().unwrap();
        let conf = d.path().join("disklayout.conf");
        std::fs::write(&conf, "disk /dev/vda 2147483648 gpt\n").unwrap();
        let saved = d.path().join("layout.json");
        import_rear(&conf, None, &saved).unwrap();
        let first = std::fs::read(&saved).unwrap();
        let err = import_rear(&conf, None, &saved).unwrap_err().to_string();
        assert!(
            err.contains("saved layout") && err.contains("-o FILE"),
            "{err}"
        );
        assert_eq!(std::fs::read(&saved).unwrap(), first);
        let other = d.path().join("other.json");
        import_rear(&conf, Some(&other), &saved).unwrap();
        assert!(other.is_file());
    }

    #[test]
    fn map_entries_keep_their_order_and_name_the_bad_one() {
        let args = [
            "/dev/sda=/dev/disk/by-id/wwn-0x5000c500a1b2c3d4".to_string(),
            "serial:OLD1=/dev/disk/by-path/pci-0000:00:1f.2-ata-2".to_string(),
        ];
        assert_eq!(
            map_entries(&args).unwrap(),
            [
                (
                    "/dev/sda".to_string(),
                    "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4".to_string()
                ),
                (
                    "serial:OLD1".to_string(),
                    "/dev/disk/by-path/pci-0000:00:1f.2-ata-2".to_string()
                ),
            ]
        );
        let err = map_entries(&["/dev/sda=sdb".to_string()])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--map /dev/sda=sdb: \"sdb\" is not a form of disk name"),
            "{err}"
        );
    }
}
