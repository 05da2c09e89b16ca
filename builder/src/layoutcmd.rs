//! The storage-layout commands: savelayout, checklayout, layout show,
//! layout import-rear, and recover --layout-only.

use crate::run::Cmd;
use crate::say;
use anyhow::{bail, Context, Result};
use clap::Args;
use rear_layout::apply::{self, Exec, Resolver};
use rear_layout::capture::{self, System};
use rear_layout::plan::{self, Resize};
use rear_layout::{compare, present, show, Layout};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

pub const DEFAULT_LAYOUT: &str = "/var/lib/rear-build/layout.json";
/// Where the rescue image carries the layout of the machine it was made on.
pub const IMAGE_LAYOUT: &str = "/etc/rear-build/layout.json";
const STATE: &str = rear_layout::progress::DEFAULT_PATH;

#[derive(Args, Debug, Clone, Default)]
pub struct CaptureArgs {
    /// Leave out file systems mounted at or below this path. Repeatable.
    #[arg(long = "exclude-mountpoint", value_name = "PATH")]
    pub exclude_mountpoints: Vec<String>,
    /// Leave out this LVM volume group. Repeatable.
    #[arg(long = "exclude-vg", value_name = "VG")]
    pub exclude_vgs: Vec<String>,
    /// Take only these LVM volume groups. Repeatable.
    #[arg(long = "only-vg", value_name = "VG")]
    pub only_vgs: Vec<String>,
    /// Leave out this disk and everything on it. Repeatable.
    #[arg(long = "exclude-disk", value_name = "DEV")]
    pub exclude_disks: Vec<String>,
}

impl CaptureArgs {
    /// These flags added to the configuration's `[layout]` lists.
    pub fn with_config(&self, c: &crate::config::Layout) -> CaptureArgs {
        let join = |a: &[String], b: &[String]| a.iter().chain(b).cloned().collect();
        CaptureArgs {
            exclude_mountpoints: join(&c.exclude_mountpoints, &self.exclude_mountpoints),
            exclude_vgs: join(&c.exclude_vgs, &self.exclude_vgs),
            only_vgs: join(&c.only_vgs, &self.only_vgs),
            exclude_disks: join(&c.exclude_disks, &self.exclude_disks),
        }
    }

    fn options(&self) -> capture::Options {
        capture::Options {
            exclude_mountpoints: self.exclude_mountpoints.clone(),
            exclude_vgs: self.exclude_vgs.clone(),
            only_vgs: self.only_vgs.clone(),
            exclude_disks: self.exclude_disks.clone(),
        }
    }
}

fn capture_now(args: &CaptureArgs) -> Result<Layout> {
    capture::capture(&System, &args.options()).context("capture the storage layout")
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

pub fn savelayout(output: &Path, args: &CaptureArgs) -> Result<i32> {
    let layout = capture_now(args)?;
    write(output, &layout)?;
    print!("{}", show::tree(&layout));
    for n in &layout.notes {
        log::warn!("{}: {}", n.device, n.what);
    }
    say!("layout saved to {}", output.display());
    Ok(0)
}

/// 0: unchanged; 1: changed (differences printed). Errors become 2 in main.
pub fn checklayout(saved: &Path, args: &CaptureArgs) -> Result<i32> {
    let old = load(saved)?;
    let now = capture_now(args)?;
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

pub fn import_rear(input: &Path, output: &Path) -> Result<i32> {
    let text =
        std::fs::read_to_string(input).with_context(|| format!("read {}", input.display()))?;
    let layout =
        rear_layout::rear::import(&text).with_context(|| format!("import {}", input.display()))?;
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
    /// Recreate disk OLD of the layout on disk NEW of this machine. Repeatable.
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
    #[arg(long, value_name = "DIR", default_value = "/mnt/local")]
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
}

struct Runner;

impl Exec for Runner {
    fn run(&self, argv: &[String], stdin: Option<&[u8]>) -> std::result::Result<(), String> {
        let mut c = Cmd::new(&argv[0]).args(&argv[1..]);
        if let Some(data) = stdin {
            c = c.stdin(data.to_vec());
        }
        c.run().map(|_| ()).map_err(|e| format!("{e:#}"))
    }
}

fn present_disks() -> Vec<plan::PresentDisk> {
    let blkid = |dev: &str| {
        Cmd::new("blkid")
            .args(["-p", "-o", "export", dev])
            .run()
            .unwrap_or_default()
    };
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    present::scan(Path::new("/sys"), &blkid, &mountinfo, &swaps)
}

/// Asks on the terminal; anything but YES (or no terminal) is a no.
fn confirm(plan: &plan::Plan, present: &[plan::PresentDisk]) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("not on a terminal, so nobody can confirm: run with --yes to recreate the layout without asking");
    }
    let mut err = std::io::stderr();
    writeln!(err, "These disks will be overwritten:")?;
    for t in &plan.targets {
        let p = present.iter().find(|p| &p.device == t);
        writeln!(
            err,
            "  {t}  {}  {}",
            p.map(|p| plan::human(p.size)).unwrap_or_default(),
            p.and_then(|p| p.serial.clone()).unwrap_or_default()
        )?;
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
    pub code: i32,
}

/// Recreates the layout (or prints the plan with -s).
pub fn recover_layout(a: &RecoverArgs) -> Result<Recreated> {
    let path = match &a.layout {
        Some(p) => p.clone(),
        None if Path::new(DEFAULT_LAYOUT).exists() => PathBuf::from(DEFAULT_LAYOUT),
        None if Path::new(IMAGE_LAYOUT).exists() => PathBuf::from(IMAGE_LAYOUT),
        None => bail!(
            "no saved layout at {DEFAULT_LAYOUT} or {IMAGE_LAYOUT}: name one with --layout FILE"
        ),
    };
    let layout = load(&path)?;
    let mut map = BTreeMap::new();
    for m in &a.map {
        let (o, n) = m.split_once('=').with_context(|| {
            format!("--map {m}: expected OLD=NEW, e.g. --map /dev/sda=/dev/vdb")
        })?;
        map.insert(o.to_string(), n.to_string());
    }
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
            code: 0,
        });
    }
    for n in &p.notes {
        say!("{n}");
    }
    for (o, n) in &p.mapping {
        say!("{o} -> {n}");
    }
    let confirmed = a.yes || a.unattended || confirm(&p, &present)?;
    if !confirmed {
        say!("not confirmed; nothing was written");
        return Ok(Recreated {
            layout,
            renames: p.renames,
            code: 1,
        });
    }
    let state = Path::new(STATE);
    if a.restart {
        let _ = std::fs::remove_file(state);
    }
    let ran = apply::apply(&p, &Runner, &Resolver::default(), state, &mut |l| {
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
        code: 0,
    })
}
