//! Command line: `rear-build image`, `closure`, `store verify|gc`.

use crate::backupcmd;
use crate::config;
use crate::layoutcmd;
use crate::paths;
use crate::ui::{self, Progress};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use rear_builder::image::{self, Options};
use rear_builder::manifest::Manifest;
use rear_closure::modules::{Policy, PolicyKind};
use rear_exec::System;
use rear_layout::capture::Host;
use rear_store::Store;
use std::collections::BTreeSet;
use std::path::PathBuf;

const ABOUT: &str = "Relax-and-Recover rebuilt as a reproducible rescue image builder";

const LONG_ABOUT: &str = "\
Relax-and-Recover rebuilt as a reproducible rescue image builder.

rear-build makes a rescue system from this machine's own kernel and tools:
every program with the libraries it needs, the kernel modules and firmware
for storage, network and input, and rear-build itself as the rescue
system's init. Files are kept in a content-addressed store, so a rebuild
only redoes what changed, and the same inputs always give the same bytes.

Typical use:
  rear-build image                       build vmlinuz + initrd.img + manifest.json
  rear-build savelayout                  capture the disks' layout
  rear-build checklayout || rear-build image   rebuild when the disks changed
  rear-build recover --layout-only       in the rescue system: recreate the disks
  rear-build closure /usr/sbin/lvm       what a program needs, one path a line
  rear-build store verify                re-hash the store, report corruption";

#[derive(Parser, Debug)]
#[command(name = "rear-build", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// The configuration directory (config.toml and conf.d/*.toml).
    #[arg(short = 'c', long = "config-dir", global = true, value_name = "DIR", default_value = config::DEFAULT_DIR)]
    pub config_dir: PathBuf,
    /// The content-addressed store of files and built layers (default: image.store of the configuration, /var/lib/rear-build/store).
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// More output (-v: each stage's time and cache use; -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Debug output: every external command line and its stderr.
    #[arg(short = 'd', long, global = true)]
    pub debug: bool,
    /// Trace output (more than debug).
    #[arg(short = 'D', long, global = true)]
    pub trace: bool,
    /// The log of this run, with every external command and its outcome (default: /var/log/rear-build/rear-build-HOST.log; `none` for no log).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the rescue image: vmlinuz, initrd.img and manifest.json.
    #[command(visible_alias = "mkrescue", long_about = IMAGE_HELP)]
    Image(ImageArgs),
    /// Print every host path FILES need (libraries, interpreter, symlinks), sorted.
    #[command(long_about = CLOSURE_HELP)]
    Closure {
        /// Programs, libraries or scripts (absolute paths or names found in PATH).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Inspect and maintain the store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Print the effective configuration (and the files it came from) and this system's facts.
    Dump,
    /// Back up the file systems of the saved layout to [backup] url (tar by default).
    Mkbackuponly {
        /// The saved layout whose mounted file systems are backed up.
        #[arg(long, value_name = "FILE", default_value = paths::LAYOUT)]
        layout: PathBuf,
    },
    /// Capture the layout, build the rescue image, and back up the file systems.
    Mkbackup(ImageArgs),
    /// In the rescue system: restore the backup into the recreated file systems and verify every file.
    Restoreonly {
        /// Where the recreated file systems are mounted.
        #[arg(long, value_name = "DIR", default_value = crate::paths::RECOVER_ROOT)]
        root: PathBuf,
    },
    /// Capture the storage layout (disks, partitions, RAID, LUKS, LVM, file systems, mounts).
    Savelayout {
        /// Where to write it.
        #[arg(short, long, value_name = "FILE", default_value = paths::LAYOUT)]
        output: PathBuf,
        #[command(flatten)]
        capture: layoutcmd::CaptureArgs,
    },
    /// Exit 0 when the disks match the saved layout, 1 when they changed (with the differences), 2 on error.
    Checklayout {
        /// The saved layout.
        #[arg(long, value_name = "FILE", default_value = paths::LAYOUT)]
        layout: PathBuf,
        #[command(flatten)]
        capture: layoutcmd::CaptureArgs,
    },
    /// Show or convert saved layouts.
    #[command(subcommand)]
    Layout(LayoutCommand),
    /// In the rescue system: recreate the disks from the saved layout, restore the backup into them and verify it.
    #[command(long_about = RECOVER_HELP)]
    Recover(layoutcmd::RecoverArgs),
    /// Same as `recover --layout-only`.
    Layoutonly(layoutcmd::RecoverArgs),
}

const RECOVER_HELP: &str = "\
In the rescue system: recreate the storage layout saved by `savelayout`,
mount it at /mnt/local, restore the backup ([backup] of the configuration)
into it and check every file against the backup's manifest, then finalize
the restored system: device names in fstab, crypttab, mdadm.conf and boot
configuration follow renamed disks, its initramfs is rebuilt with its own
tool when a device was renamed (--initramfs), and the bootloader it had is
installed again: GRUB on the mapped disks (BIOS), or GRUB, shim or
systemd-boot with a firmware boot entry and the fallback path EFI/BOOT
(UEFI). Any failed step stops with a non-zero exit and names the step; the
log goes into the restored system's /var/log/rear-build either way. For an
unattended recovery of LUKS volumes, put the passphrase in the file
luks-passphrase of the backup's directory.

Disks of the layout are mapped to the disks here by identity (WWN, serial),
then by the same name and size, then by a unique disk of the same size;
anything else needs --map OLD=NEW. Only mapped disks are ever written: every
step is checked, through sysfs, to touch nothing else, and disks that are in
use or write-protected (--protect, and always REAR-000) are refused. A target
smaller than the layout needs, or one on which the logical volumes no longer
fit, is refused before anything is written. The last partition of a disk
grows or shrinks to fit (or all of them scale, with --proportional).

  rear-build recover --layout-only -s            print the plan as a shell script
  rear-build recover --layout-only               ask, then recreate
  rear-build recover --layout-only --yes --map /dev/sda=/dev/vdb --passphrase-file /root/pass

A re-run after a failure skips the steps already done (--restart to redo all).";

impl Command {
    /// Commands that change something (and so write a log); the others only read.
    fn does_work(&self) -> bool {
        matches!(
            self,
            Command::Image(_)
                | Command::Mkbackup(_)
                | Command::Mkbackuponly { .. }
                | Command::Restoreonly { .. }
                | Command::Savelayout { .. }
                | Command::Recover(_)
                | Command::Layoutonly(_)
        )
    }
}

#[derive(Subcommand, Debug)]
pub enum LayoutCommand {
    /// Print a layout file as a tree.
    Show {
        #[arg(value_name = "FILE", default_value = paths::LAYOUT)]
        file: PathBuf,
    },
    /// Read ReaR's disklayout.conf into a rear-build layout.
    ImportRear {
        #[arg(value_name = "DISKLAYOUT_CONF")]
        input: PathBuf,
        #[arg(short, long, value_name = "FILE", default_value = paths::LAYOUT)]
        output: PathBuf,
    },
}

const IMAGE_HELP: &str = "\
Build the rescue image: vmlinuz, initrd.img and manifest.json in --output.

The initrd is four layers, each a deterministic cpio archive compressed with
zstd and cached in the store: base (programs and libraries from the recipes,
rear-build as /init), modules, firmware and config (hostname, network,
--include files). Boot it with the kernel command line
  rear.auto=shell       a shell on every console (the default)
  rear.auto=run:/PATH   run PATH, print REAR-RUN-EXIT=<code>, power off
  rear.auto=poweroff    power off once ready
The same inputs give the same bytes; SOURCE_DATE_EPOCH sets every file's time.";

const CLOSURE_HELP: &str = "\
Print every host path FILES need to run, one absolute path a line, sorted:
the files themselves, each symlink and its target, the ELF interpreter and
every library (DT_NEEDED, RUNPATH/RPATH with $ORIGIN, ld.so.conf, .note.dlopen),
and the interpreters of scripts. Exits non-zero, naming the chain, when a
needed library cannot be found.";

/// `--modules`: the closure crate's own policy names, with help for each.
fn modules_parser() -> impl clap::builder::TypedValueParser<Value = PolicyKind> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("most")
            .help("Storage, network, input, filesystems and crypto: what any machine may need"),
        PossibleValue::new("all").help("Every module of the kernel"),
        PossibleValue::new("loaded").help("The modules loaded on this machine now"),
    ])
    .map(|s| s.parse::<PolicyKind>().expect("a possible value"))
}

#[derive(Args, Debug)]
pub struct ImageArgs {
    /// Kernel version (default: the running kernel, or the newest in /boot).
    #[arg(short = 'r', long = "kernel-version", value_name = "KVER")]
    pub kernel_version: Option<String>,
    /// Kernel image to boot (with --modules-dir for its modules).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Module directory of that kernel (default /lib/modules/KVER).
    #[arg(long, value_name = "DIR")]
    pub modules_dir: Option<PathBuf>,
    /// Where the artefacts go (default: image.output, /var/lib/rear-build/output).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Extra file or directory for the image, at DEST (default: the same path). Repeatable.
    #[arg(long, value_name = "SRC[:DEST]")]
    pub include: Vec<String>,
    /// Extra recipe: a file path, a name in /etc/rear-build/recipes, or a built-in. Repeatable.
    #[arg(long, value_name = "NAME")]
    pub recipe: Vec<String>,
    /// Leave out the default recipes (rescue, storage, network, backup, rear-build).
    #[arg(long)]
    pub no_default_recipes: bool,
    /// Which kernel modules go in (default: image.modules, most).
    #[arg(long, value_parser = modules_parser())]
    pub modules: Option<PolicyKind>,
    /// Also take this module (and its dependencies). Repeatable.
    #[arg(long = "add-module", value_name = "NAME")]
    pub add_module: Vec<String>,
    /// Leave out modules matching NAME (glob). Repeatable.
    #[arg(long = "omit-module", value_name = "NAME")]
    pub omit_module: Vec<String>,
    /// Where firmware is found (default: image.firmware_dir, /lib/firmware).
    #[arg(long, value_name = "DIR")]
    pub firmware_dir: Option<PathBuf>,
    /// zstd level for the layers, 1-19 (default: image.compress_level, 3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=19))]
    pub compress_level: Option<i32>,
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    ui::init_log(cli.verbose, cli.debug, cli.trace);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rear-build: error: {e:#}");
            ui::file_only("ERROR", &format!("{e:#}"));
            log::logger().flush();
            2
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    if cli.command.does_work() {
        let log = cli
            .log
            .clone()
            .unwrap_or_else(|| crate::paths::log_file(&rear_builder::rescue::host_name()));
        if log.as_os_str() != "none" {
            ui::log_to_file(&log);
        }
    }
    let (cfg, files) = config::load(&cli.config_dir)?;
    let store = cli.store.clone().unwrap_or_else(|| cfg.image.store.clone());
    match cli.command {
        Command::Image(a) => image_cmd(&store, &cfg, &files, a).map(|_| 0),
        Command::Closure { files } => closure_cmd(files),
        Command::Store(s) => store_cmd(&store, s),
        Command::Dump => dump(&cfg, &files),
        Command::Mkbackuponly { layout } => {
            backupcmd::mkbackuponly(&cfg.backup, &regenerated(&cfg), &layoutcmd::load(&layout)?)
        }
        Command::Mkbackup(a) => {
            let capture = capture_args(&cfg, &layoutcmd::CaptureArgs::default());
            layoutcmd::savelayout(
                &Host::new(&System),
                std::path::Path::new(paths::LAYOUT),
                &capture,
            )?;
            let image = image_cmd(&store, &cfg, &files, a)?;
            let code = backupcmd::mkbackuponly(
                &cfg.backup,
                &regenerated(&cfg),
                &layoutcmd::load(std::path::Path::new(paths::LAYOUT))?,
            )?;
            backupcmd::store_image(&cfg.backup, &image)?;
            Ok(code)
        }
        Command::Restoreonly { root } => backupcmd::restoreonly(&cfg.backup, &root),
        Command::Savelayout { output, capture } => {
            layoutcmd::savelayout(&Host::new(&System), &output, &capture_args(&cfg, &capture))
        }
        Command::Checklayout { layout, capture } => {
            layoutcmd::checklayout(&Host::new(&System), &layout, &capture_args(&cfg, &capture))
        }
        Command::Layout(LayoutCommand::Show { file }) => layoutcmd::show_file(&file),
        Command::Layout(LayoutCommand::ImportRear { input, output }) => {
            layoutcmd::import_rear(&input, &output)
        }
        Command::Recover(mut a) => {
            a.protect.extend(cfg.layout.protect.iter().cloned());
            crate::recover::recover(&a, &cfg.backup)
        }
        Command::Layoutonly(mut a) => {
            a.layout_only = true;
            a.protect.extend(cfg.layout.protect.iter().cloned());
            crate::recover::recover(&a, &cfg.backup)
        }
    }
}

/// The capture flags with the configuration's, and the backup medium left out.
fn capture_args(cfg: &config::Config, flags: &layoutcmd::CaptureArgs) -> layoutcmd::CaptureArgs {
    let mut c = flags.with_config(&cfg.layout);
    if let Some(d) = backupcmd::medium_disk(&cfg.backup) {
        log::info!(
            "{d} holds the backup target {}: not part of the layout",
            cfg.backup.url
        );
        c.exclude_disks.push(d);
    }
    c
}

fn epoch() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds")),
        Err(_) => Ok(image::DEFAULT_EPOCH),
    }
}

/// Builds the image; returns the paths of vmlinuz, initrd.img and manifest.json.
fn image_cmd(
    store: &std::path::Path,
    cfg: &config::Config,
    config_files: &[PathBuf],
    a: ImageArgs,
) -> Result<[PathBuf; 3]> {
    let c = &cfg.image;
    let mut includes = c
        .include
        .iter()
        .chain(&a.include)
        .map(|s| image::parse_include(s))
        .collect::<Result<Vec<_>>>()?;
    // The configuration travels with the image (at the default place), so
    // `recover` there finds the backup without arguments.
    for f in config_files {
        includes.push((f.clone(), config::image_path(f)));
    }
    let opts = Options {
        kernel: rear_builder::kernel::Choice {
            version: a.kernel_version,
            image: a.kernel,
            modules_dir: a.modules_dir,
        },
        output: a.output.unwrap_or_else(|| c.output.clone()),
        includes,
        recipes: c.recipes.iter().cloned().chain(a.recipe).collect(),
        default_recipes: !a.no_default_recipes,
        modules: Policy {
            kind: a.modules.unwrap_or(c.modules),
            include: c.add_modules.iter().cloned().chain(a.add_module).collect(),
            exclude: c
                .omit_modules
                .iter()
                .cloned()
                .chain(a.omit_module)
                .collect(),
        },
        firmware_dir: a.firmware_dir.unwrap_or_else(|| c.firmware_dir.clone()),
        epoch: epoch()?,
        level: a.compress_level.unwrap_or(c.compress_level),
        layout: Some((
            PathBuf::from(paths::LAYOUT),
            paths::IMAGE_LAYOUT.to_string(),
        )),
    };
    let store = Store::open(store)?;
    let mut progress = Progress::new();
    let report = image::build(&store, &opts, &mut progress)?;
    let took = progress.finish();
    let m = &report.manifest;
    let initrd = &m.artefacts[1];
    log::info!(
        "layers from cache: {}",
        if report.cached.is_empty() {
            "none".to_string()
        } else {
            report.cached.join(", ")
        }
    );
    eprintln!(
        "rear-build: image for kernel {}: {} files, {} modules, initrd {:.1} MiB, in {:.2} s",
        report.kernel.version,
        m.files.len(),
        m.inputs.kernel.modules,
        initrd.size as f64 / (1 << 20) as f64,
        took.as_secs_f64()
    );
    for p in &report.paths {
        println!("{}", p.display());
    }
    Ok(report.paths)
}

fn dump(cfg: &config::Config, files: &[PathBuf]) -> Result<i32> {
    println!(
        "# rear-build {} effective configuration",
        env!("CARGO_PKG_VERSION")
    );
    if files.is_empty() {
        println!("# (no configuration files: built-in defaults)");
    }
    for f in files {
        println!("# from {}", f.display());
    }
    print!("{}", cfg.to_toml());
    println!("\n# system");
    println!("# hostname: {}", rear_builder::rescue::host_name());
    let firmware = if std::path::Path::new("/sys/firmware/efi").exists() {
        "uefi"
    } else {
        "bios"
    };
    println!("# firmware: {firmware}");
    match rear_builder::kernel::choose(
        &rear_builder::kernel::Choice::default(),
        std::path::Path::new("/"),
    ) {
        Ok((k, note)) => {
            println!("# kernel: {} ({})", k.version, k.image.display());
            if let Some(n) = note {
                println!("# note: {n}");
            }
        }
        Err(e) => println!("# kernel: none usable: {e:#}"),
    }
    let saved = std::path::Path::new(paths::LAYOUT);
    println!(
        "# saved layout: {}",
        if saved.exists() {
            saved.display().to_string()
        } else {
            "none (run rear-build savelayout)".into()
        }
    );
    Ok(0)
}

fn closure_cmd(files: Vec<PathBuf>) -> Result<i32> {
    use rear_closure::elf::{Resolver, Want};
    let mut wants = Vec::new();
    for f in files {
        let path = if f.is_absolute() {
            f
        } else if f.components().count() == 1 {
            image::find_in_path(&f.to_string_lossy()).with_context(|| {
                format!(
                    "{}: not found in PATH ({})",
                    f.display(),
                    image::SEARCH_PATH.join(":")
                )
            })?
        } else {
            std::path::absolute(&f)?
        };
        wants.push(Want {
            path,
            optional: false,
        });
    }
    let closure = Resolver::new(std::path::Path::new("/"))?.resolve(&wants)?;
    for w in &closure.warnings {
        log::warn!("{w}");
    }
    let mut out = String::new();
    for p in closure.paths() {
        out.push_str(&p.to_string_lossy());
        out.push('\n');
    }
    print!("{out}");
    Ok(0)
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Re-hash every object; exit 1 and list the corrupt ones if any.
    Verify,
    /// Remove objects that no kept manifest references.
    Gc,
}

fn store_cmd(root: &std::path::Path, cmd: StoreCommand) -> Result<i32> {
    let store = Store::open(root)?;
    match cmd {
        StoreCommand::Verify => {
            let r = store.verify()?;
            for p in &r.corrupt {
                println!("corrupt: {}", p.display());
            }
            println!("{} objects checked, {} corrupt", r.checked, r.corrupt.len());
            if !r.corrupt.is_empty() {
                eprintln!("rear-build: the store has corrupt objects; remove them and rebuild (`rear-build store gc` keeps what manifests need)");
                return Ok(1);
            }
            Ok(0)
        }
        StoreCommand::Gc => {
            let mut keep = BTreeSet::new();
            let roots = store.live_roots()?;
            for m in &roots {
                let data =
                    std::fs::read(m).with_context(|| format!("read manifest {}", m.display()))?;
                let man: Manifest = serde_json::from_slice(&data)
                    .with_context(|| format!("{} is not a rear-build manifest", m.display()))?;
                keep.extend(man.referenced().map(str::to_string));
            }
            let r = store.gc(&keep)?;
            println!(
                "{} manifests kept {} objects; removed {} objects ({:.1} MiB) and {} cached layers",
                roots.len(),
                r.kept,
                r.removed,
                r.freed_bytes as f64 / (1 << 20) as f64,
                r.layers_removed
            );
            Ok(0)
        }
    }
}

/// What the backup leaves out because `image` makes it again.
fn regenerated(cfg: &config::Config) -> [&std::path::Path; 2] {
    [&cfg.image.store, &cfg.image.output]
}
