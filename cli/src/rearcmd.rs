//! ReaR's side of rear-build: `config import-rear` (ReaR's site.conf and
//! local.conf as rear-build's TOML), and the `rear` command line (this
//! binary called as `rear`: ReaR's verbs and flags, ReaR's configuration
//! read as one more layer over rear-build's own, its log in /var/log/rear).

use crate::cmdline::Cli;
use anyhow::{bail, Context, Result};
use clap::Parser;
use rear_rearconf as rc;
use std::path::{Path, PathBuf};

/// ReaR's configuration directory.
pub const REAR_DIR: &str = "/etc/rear";

/// ReaR's configuration, read and mapped.
pub struct Rear {
    pub import: rc::Import,
}

impl Rear {
    /// Reads `dir` as ReaR does (`site.conf`, `local.conf`, then `extra`),
    /// never running anything in them.
    pub fn read(dir: &Path, extra: &[String], lenient: bool) -> Result<Rear> {
        if !rc::present(dir) && extra.is_empty() {
            // No ReaR configuration: nothing over rear-build's own.
            return Ok(Rear {
                import: rc::Import::default(),
            });
        }
        let mut cfg = rc::Config::default();
        cfg.preset("HOSTNAME", &rear_builder::rescue::host_name());
        let cfg = cfg.read_dir(dir, extra, lenient)?;
        for s in &cfg.skipped {
            log::warn!("{s}");
        }
        Ok(Rear {
            import: rc::map(&cfg),
        })
    }
}

/// ReaR's configuration as rear-build's, into [`paths::REAR_IMPORT`]
/// for the image to carry; written only when it changed.
pub fn write_import(import: &rc::Import) -> Result<PathBuf> {
    let p = PathBuf::from(crate::paths::REAR_IMPORT);
    let text =
        import.to_toml("ReaR's configuration as rear-build read it (rear, or --rear-config).");
    if std::fs::read_to_string(&p).ok().as_deref() == Some(text.as_str()) {
        return Ok(p);
    }
    let dir = p.parent().expect("a directory");
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let tmp = p.with_extension("toml.part");
    std::fs::write(&tmp, &text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &p).with_context(|| format!("rename into {}", p.display()))?;
    Ok(p)
}

/// `rear-build config import-rear`: the TOML, on stdout or into `output`.
pub fn import_rear(dir: &Path, output: Option<&Path>, lenient: bool) -> Result<i32> {
    if !rc::present(dir) {
        bail!(
            "{} holds no site.conf or local.conf: name ReaR's configuration directory",
            dir.display()
        );
    }
    let rear = Rear::read(dir, &[], lenient)?;
    let mut text = rear.import.to_toml(&format!(
        "rear-build configuration imported from ReaR's {} by `rear-build config import-rear`.\n\
         Each setting names the file, line and variable it came from; what does\n\
         not carry over is in the notes at the end.",
        dir.display()
    ));
    // The result must load: checked as one more layer over the defaults.
    let check = crate::config::check_table(&rear.import.table);
    if let Err(e) = &check {
        text.push_str(&format!(
            "# NOT VALID as it stands: {}\n",
            format!("{e:#}").replace('\n', " ")
        ));
    }
    match output {
        None => print!("{text}"),
        Some(o) => {
            if o.exists() {
                bail!(
                    "{} exists: rear-build does not overwrite a configuration; name a new file (-o conf.d/50-rear.toml)",
                    o.display()
                );
            }
            let tmp = o.with_extension("toml.part");
            std::fs::write(&tmp, &text).with_context(|| format!("write {}", tmp.display()))?;
            std::fs::rename(&tmp, o).with_context(|| format!("rename into {}", o.display()))?;
            eprintln!(
                "rear-build: wrote {} ({} settings, {} notes)",
                o.display(),
                rear.import.origins.len(),
                rear.import.notes.len()
            );
        }
    }
    match check {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("rear-build: the imported configuration does not load: {e:#}");
            Ok(1)
        }
    }
}

const REAR_HELP: &str = "\
rear-build's ReaR-compatible command line. Reads ReaR's configuration
(site.conf, then local.conf, from -c DIR, default /etc/rear) as data, never
running it, over rear-build's own (/etc/rear-build), and logs to
/var/log/rear/rear-HOST.log.

Commands:
  mkrescue       build the rescue image (rear-build image)
  mkbackup       capture the layout, build the image and back up
  mkbackuponly   back up only
  recover        recreate the disks, restore the backup, install the bootloader
  restoreonly    restore the backup into the recreated file systems
  layoutonly     recreate the disks only
  checklayout    exit 0 when the disks match the saved layout, 1 when not
  savelayout     capture the disks' layout
  dump           show every setting and where it came from
  format         make a disk a rescue disk (rear format [--] [-y] DEVICE)
  mountonly      mount the file systems of the saved layout at /mnt/local
  help           this text

`rear-build config import-rear` shows how ReaR's variables map, and which do
not carry over.";

/// ReaR's flags, with ReaR's meanings.
#[derive(Parser, Debug)]
#[command(name = "rear", version, about = "Relax-and-Recover's command line, run by rear-build", long_about = REAR_HELP, disable_version_flag = true, disable_help_subcommand = true)]
struct RearArgs {
    /// The configuration directory (ReaR's).
    #[arg(short = 'c', value_name = "DIR", default_value = REAR_DIR)]
    config_dir: PathBuf,
    /// An additional configuration file (NAME.conf in the directory, or a path). Repeatable.
    #[arg(short = 'C', value_name = "CONFIG")]
    extra: Vec<String>,
    /// Debug mode: every external command line and its stderr.
    #[arg(short = 'd')]
    debug: bool,
    /// Debug mode with more (trace).
    #[arg(short = 'D', long = "debugscripts")]
    trace: bool,
    /// Verbose.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// The version.
    #[arg(short = 'V', long = "version")]
    version: bool,
    /// Kernel version for the rescue image.
    #[arg(short = 'r', value_name = "KERNEL")]
    kernel: Option<String>,
    /// Simulation: show what would be done (recover and layoutonly print their plan).
    #[arg(short = 's')]
    simulate: bool,
    /// Step by step: recover and layoutonly ask before writing.
    #[arg(short = 'S')]
    step: bool,
    /// Non-interactive: no questions (recover and layoutonly proceed
    /// when every safety check holds; format erases).
    #[arg(short = 'n', long = "non-interactive")]
    non_interactive: bool,
    /// Skip statements of ReaR's files that are not plain assignments
    /// (if, for, functions), with a warning, instead of refusing them.
    #[arg(long)]
    lenient: bool,
    /// The command and its arguments.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

/// The `rear` command line's definition (for its man page).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    RearArgs::command()
}

/// The native command line a ReaR one stands for: None for what is done
/// here (help, -V, -s of a command without a plan).
fn native(a: &RearArgs, log: &Path) -> Result<Option<Vec<String>>> {
    let Some((verb, rest)) = a.command.split_first() else {
        bail!("no command given (rear help lists them)");
    };
    let mut argv: Vec<String> = vec![
        "rear-build".into(),
        "--log".into(),
        log.display().to_string(),
    ];
    for _ in 0..a.verbose {
        argv.push("-v".into());
    }
    if a.debug {
        argv.push("--debug".into());
    }
    if a.trace {
        argv.push("--trace".into());
    }
    let rest: Vec<String> = rest.iter().filter(|x| *x != "--").cloned().collect();
    let plans = matches!(verb.as_str(), "recover" | "layoutonly");
    match verb.as_str() {
        "mkrescue" => argv.extend(["image".into(), "--save-layout".into()]),
        "mkbackup" | "mkbackuponly" | "recover" | "restoreonly" | "layoutonly" | "checklayout"
        | "savelayout" | "dump" | "mountonly" => argv.push(verb.clone()),
        "format" => {
            argv.push("format".into());
            for x in &rest {
                match x.as_str() {
                    "-y" | "--yes" => argv.push("--yes".into()),
                    // rear-build's rescue disk boots both ways.
                    "-e" | "--efi" | "-b" | "--bios" => {}
                    x if x.starts_with('-') => bail!("rear format: {x} is not an option rear-build knows (it takes -y and the device)"),
                    x => argv.push(x.into()),
                }
            }
            if a.non_interactive && !argv.iter().any(|x| x == "--yes") {
                argv.push("--yes".into());
            }
        }
        "help" => return Ok(None),
        other => {
            bail!("`rear {other}` is not a command rear-build has (rear help lists those it has)")
        }
    }
    if let Some(k) = &a.kernel {
        if !matches!(verb.as_str(), "mkrescue" | "mkbackup") {
            bail!("-r KERNEL is for mkrescue and mkbackup");
        }
        argv.extend(["-r".into(), k.clone()]);
    }
    if verb != "format" && !rest.is_empty() {
        bail!("rear {verb} takes no arguments (given: {})", rest.join(" "));
    }
    if plans {
        if a.simulate {
            argv.push("-s".into());
        } else if a.non_interactive && !a.step {
            argv.push("--yes".into());
        }
    } else if a.simulate {
        return Ok(None);
    }
    Ok(Some(argv))
}

/// This binary called as `rear`.
pub fn main() -> i32 {
    let a = RearArgs::parse();
    if a.version {
        println!(
            "Relax-and-Recover command line of rear-build {}",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    let host = rear_builder::rescue::host_name();
    let log = Path::new("/var/log/rear").join(format!("rear-{host}.log"));
    let argv = match native(&a, &log) {
        Ok(Some(argv)) => argv,
        Ok(None) if a.simulate => {
            println!(
                "simulation: rear {} would run rear-build {} with ReaR's configuration from {}",
                a.command.join(" "),
                a.command
                    .first()
                    .map_or("", |v| if v == "mkrescue" { "image" } else { v }),
                a.config_dir.display()
            );
            return 0;
        }
        Ok(None) => {
            println!("{REAR_HELP}");
            return 0;
        }
        Err(e) => {
            eprintln!("rear: {e:#}");
            return 1;
        }
    };
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    crate::ui::init_log(cli.verbose, cli.debug, cli.trace);
    let rear = match Rear::read(&a.config_dir, &a.extra, a.lenient) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rear: {e:#}");
            return 1;
        }
    };
    let unused = rear.import.notes.len();
    if unused > 0 {
        let level = match a.verbose {
            0 => log::Level::Info,
            _ => log::Level::Warn,
        };
        log::log!(
            level,
            "{unused} notes on ReaR's configuration (what does not carry over): `rear-build config import-rear {}` lists them",
            a.config_dir.display()
        );
        for n in &rear.import.notes {
            log::info!("{n}");
        }
    }
    // The backup tools' own variables (BORG_PASSPHRASE): into this
    // process's environment, which their commands inherit; never argv.
    for (k, v) in &rear.import.environment {
        std::env::set_var(k, v);
    }
    crate::commands::finish(crate::commands::run(cli, Some(&rear)))
}

/// `mountonly`: what to run to mount the saved layout's file systems at
/// `root`, parents first, without creating or changing any.
pub fn mount_plan(
    layout: &rear_layout::model::Layout,
    root: &str,
    read_only: bool,
) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    if !layout.raids.is_empty() {
        out.push(vec!["mdadm".into(), "--assemble".into(), "--scan".into()]);
    }
    for l in &layout.luks {
        out.push(vec![
            "cryptsetup".into(),
            "open".into(),
            l.backing.clone(),
            l.name.clone(),
        ]);
    }
    if !layout.vgs.is_empty() {
        out.push(vec!["vgchange".into(), "-ay".into()]);
    }
    for m in layout.mounts_in_order() {
        let at = m.below(root);
        out.push(vec!["mkdir".into(), "-p".into(), at.clone()]);
        let mut opts: Vec<String> = Vec::new();
        if read_only {
            opts.push("ro".into());
        }
        if let Some(sv) = &m.subvolume {
            opts.push(format!("subvol={sv}"));
        }
        let mut a = vec!["mount".to_string(), "-t".into(), m.fstype.clone()];
        if !opts.is_empty() {
            a.extend(["-o".into(), opts.join(",")]);
        }
        // By UUID where known: kernel names may differ from the layout's.
        let uuid = layout
            .filesystems
            .iter()
            .find(|f| f.device == m.device)
            .and_then(|f| f.uuid.clone());
        match uuid {
            Some(u) => a.extend([format!("UUID={u}"), at]),
            None => a.extend([m.device.clone(), at]),
        }
        out.push(a);
    }
    out
}

/// Runs [`mount_plan`], each step said and logged; stops at the first failure.
pub fn mountonly(layout: &Path, root: &Path, read_only: bool) -> Result<i32> {
    let layout = crate::layoutcmd::load(layout)?;
    let root = root.display().to_string();
    let plan = mount_plan(&layout, &root, read_only);
    if plan.is_empty() {
        bail!("the saved layout mounts no file system");
    }
    for argv in plan {
        crate::say!("{}", argv.join(" "));
        rear_exec::Exec::run(&rear_exec::System, &rear_exec::Call::argv(argv.iter()))
            .with_context(|| format!("mountonly: {}", argv.join(" ")))?;
    }
    crate::say!("the file systems are mounted at {root}; unmount them with umount -R {root}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> RearArgs {
        RearArgs::try_parse_from(std::iter::once("rear").chain(v.iter().copied())).unwrap()
    }

    fn native_of(v: &[&str]) -> Option<Vec<String>> {
        native(&args(v), Path::new("/var/log/rear/rear-h.log"))
            .unwrap()
            .map(|a| a[3..].to_vec())
    }

    #[test]
    fn rears_verbs_and_flags_become_rear_builds() {
        assert_eq!(
            native_of(&["-v", "mkrescue"]).unwrap(),
            ["-v", "image", "--save-layout"]
        );
        assert_eq!(
            native_of(&["-d", "-r", "6.1.0-9-amd64", "mkbackup"]).unwrap(),
            ["--debug", "mkbackup", "-r", "6.1.0-9-amd64"]
        );
        assert_eq!(native_of(&["-n", "recover"]).unwrap(), ["recover", "--yes"]);
        assert_eq!(native_of(&["-s", "recover"]).unwrap(), ["recover", "-s"]);
        assert_eq!(
            native_of(&["-n", "-S", "layoutonly"]).unwrap(),
            ["layoutonly"]
        );
        assert_eq!(
            native_of(&["format", "--", "--efi", "-y", "/dev/sdz"]).unwrap(),
            ["format", "--yes", "/dev/sdz"]
        );
        assert_eq!(native_of(&["-s", "mkrescue"]), None, "said, not run");
        assert_eq!(native_of(&["help"]), None);
        let log = native(
            &args(&["checklayout"]),
            Path::new("/var/log/rear/rear-h.log"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(log[1..3], ["--log", "/var/log/rear/rear-h.log"]);
        for bad in [
            &["shell"][..],
            &["-r", "6.1", "recover"],
            &["dump", "extra"],
            &[],
        ] {
            assert!(native(&args(bad), Path::new("/l")).is_err(), "{bad:?}");
        }
        // Every native command line it makes parses.
        for v in [
            &["mkrescue"][..],
            &["-n", "recover"],
            &["mountonly"],
            &["savelayout"],
            &["format", "-y", "/dev/x"],
        ] {
            let argv = native(&args(v), Path::new("/l")).unwrap().unwrap();
            Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        }
    }

    #[test]
    fn mountonly_assembles_opens_activates_then_mounts_parents_first() {
        use rear_layout::model::Mount;
        let mut layout = rear_layout::scenarios::raid1_lvm_thin();
        assert!(!layout.raids.is_empty() && !layout.vgs.is_empty());
        let m = |device: &str, mountpoint: &str| Mount {
            device: device.into(),
            mountpoint: mountpoint.into(),
            fstype: "xfs".into(),
            ..Mount::default()
        };
        layout.mounts = vec![
            m("/dev/vg0/data", "/srv/data"),
            m("/dev/vg0/root", "/"),
            m("/dev/md0", "/srv"),
        ];
        let plan = mount_plan(&layout, "/mnt/local", true);
        let first = |w: &str| plan.iter().position(|a| a[0] == w).unwrap();
        assert!(first("mdadm") < first("vgchange") && first("vgchange") < first("mount"));
        let mounts: Vec<&Vec<String>> = plan.iter().filter(|a| a[0] == "mount").collect();
        let at: Vec<&str> = mounts.iter().map(|a| a.last().unwrap().as_str()).collect();
        assert_eq!(
            at,
            ["/mnt/local", "/mnt/local/srv", "/mnt/local/srv/data"],
            "parents first"
        );
        assert!(mounts.iter().all(|a| a.contains(&"ro".to_string())));
        assert!(plan.iter().all(
            |a| !["mkfs", "rear-build", "wipefs", "lvcreate", "pvcreate"]
                .iter()
                .any(|w| a[0].starts_with(w))
        ));
    }
}
