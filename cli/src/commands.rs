//! The commands' dispatch and the bodies of the small ones (image, dump,
//! closure, store); the layout, backup and workflow commands have files of
//! their own.

use crate::cmdline::{
    Cli, Command, ConfigCommand, ImageArgs, LayoutCommand, StoreCommand, TapeCommand,
};
use crate::ui::{self, Progress};
use crate::{backupcmd, config, layoutcmd, paths, workflows};
use anyhow::{bail, Context, Result};
use clap::Parser;
use rear_builder::image::{self, Options};
use rear_builder::manifest::Manifest;
use rear_closure::modules::Policy;
use rear_exec::System;
use rear_layout::capture::Host;
use rear_store::Store;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub fn main() -> i32 {
    let cli = Cli::parse();
    ui::init_log(cli.verbose, cli.debug, cli.trace);
    let rear = match &cli.rear_config {
        Some(dir) => match crate::rearcmd::Rear::read(dir, &[], false) {
            Ok(r) => Some(r),
            Err(e) => return finish(Err(e)),
        },
        None => None,
    };
    finish(run(cli, rear.as_ref()))
}

/// A command's exit code; an error is printed and logged, and is 2.
pub fn finish(r: Result<i32>) -> i32 {
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rear-build: error: {e:#}");
            ui::file_only("ERROR", &format!("{e:#}"));
            log::logger().flush();
            2
        }
    }
}

/// Runs a command; `rear` is ReaR's configuration when called as `rear`,
/// one more layer over rear-build's own.
pub fn run(cli: Cli, rear: Option<&crate::rearcmd::Rear>) -> Result<i32> {
    if cli.command.does_work() {
        let log = cli
            .log
            .clone()
            .unwrap_or_else(|| paths::log_file(&rear_builder::rescue::host_name()));
        if log.as_os_str() != "none" {
            ui::log_to_file(&log);
        }
    }
    let loaded = config::load_all(&cli.config_dir, rear.map(|r| &r.import))?;
    let (files_cfg, mut files) = (loaded.config.clone(), loaded.files.clone());
    if let Some(r) = rear.filter(|r| !r.import.table.is_empty()) {
        if matches!(cli.command, Command::Image(_) | Command::Mkbackup(_)) {
            files.push(crate::rearcmd::write_import(&r.import)?);
        }
    }
    let cfg = files_cfg.with(&cli.flags());
    let host = Host::new(&System);
    match cli.command {
        Command::Image(a) => {
            if a.save_layout {
                let layout = Path::new(paths::LAYOUT);
                layoutcmd::savelayout(&host, layout, &capture_settings(&cfg))?;
            }
            image_cmd(&cfg, &files, &a)?;
            warn_image_keys(&cfg);
            Ok(0)
        }
        Command::Closure { files } => closure_cmd(files),
        Command::Store(s) => store_cmd(&cfg.image.store(), s),
        Command::Dump => dump(&loaded),
        Command::Config(ConfigCommand::ImportRear {
            dir,
            output,
            lenient,
        }) => crate::rearcmd::import_rear(&dir, output.as_deref(), lenient),
        Command::Mountonly {
            layout,
            root,
            read_only,
        } => crate::rearcmd::mountonly(&layout, &root, read_only),
        Command::Generate { what, dir } => generate(&what, &dir),
        Command::PartitionTable { device, dump } => layoutcmd::partition_table(&device, dump),
        Command::Mkbackuponly { layout } => backupcmd::unmounting_target(|| {
            backupcmd::mkbackuponly(
                &cfg.backup,
                &regenerated(&cfg),
                &layoutcmd::load(&layout)?,
                crate::pinning::seal(&cfg, None)?,
            )
        }),
        Command::Mkbackup(a) => {
            backupcmd::unmounting_target(|| workflows::mkbackup(&host, &cfg, &files, &a))
        }
        Command::Restoreonly { root } => backupcmd::restoreonly(&cfg.backup, &root),
        Command::Savelayout { output, .. } => {
            layoutcmd::savelayout(&host, &output, &capture_settings(&cfg))
        }
        Command::Checklayout { layout, .. } => {
            layoutcmd::checklayout(&host, &layout, &capture_settings(&cfg))
        }
        Command::Layout(LayoutCommand::Show { file }) => layoutcmd::show_file(&file),
        Command::Layout(LayoutCommand::ImportRear { input, output }) => {
            layoutcmd::import_rear(&input, output.as_deref(), Path::new(paths::LAYOUT))
        }
        Command::Recover(a) => workflows::recover(&a, &cfg),
        Command::Layoutonly(mut a) => {
            a.layout_only = true;
            workflows::recover(&a, &cfg)
        }
        Command::Format { device, yes, force } => crate::usbcmd::format(&device, yes, force),
        Command::Tape(t) => tape_cmd(t),
        Command::Keygen {
            output,
            password_file,
            unencrypted,
        } => crate::signcmd::keygen(&output, password_file.as_deref(), unencrypted),
        Command::Sign {
            key,
            password_file,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| cfg.image.output());
            crate::signcmd::sign_dir(&dir, &key, password_file.as_deref())?;
            Ok(0)
        }
        Command::Diff { a, b, json } => diff_cmd(&a, &b, json),
        Command::Push {
            target,
            dir,
            registry,
        } => {
            let dir = dir.unwrap_or_else(|| cfg.image.output());
            crate::ocicmd::push(&target, &dir, &registry.over(&cfg.oci))
        }
        Command::Pull {
            target,
            output,
            pubkey,
            registry,
        } => crate::ocicmd::pull(
            &target,
            &output,
            pubkey.or(cfg.trust.pubkey.clone()).as_deref(),
            &registry.over(&cfg.oci),
        ),
        Command::Verify {
            pubkey,
            target,
            allow_downgrade,
        } => crate::signcmd::verify(&cfg, pubkey.as_deref(), &target, allow_downgrade),
    }
}

/// What capture leaves out: the settings, and the disk holding the backup
/// medium.
pub fn capture_settings(cfg: &config::Config) -> config::Layout {
    let mut c = cfg.layout.clone();
    for d in backupcmd::medium_disks(&cfg.backup) {
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

/// What the rescue system must hold for this machine: a shell, what
/// recreating the saved layout runs (or, with none saved, the layout as it
/// is now), and what restoring the backup runs. Everything else the
/// recipes name is optional.
fn required_programs(cfg: &config::Config) -> Vec<image::Required> {
    let req = |p: &str, why: &str| image::Required {
        program: p.into(),
        why: why.into(),
    };
    let mut out = vec![
        req("sh", "the rescue shell and scripts"),
        req("bash", "the rescue shell"),
    ];
    let saved = Path::new(paths::LAYOUT);
    let layout = if saved.is_file() {
        layoutcmd::load(saved).map(|l| (l, format!("the saved layout {}", saved.display())))
    } else {
        layoutcmd::capture_now(&Host::new(&System), &capture_settings(cfg))
            .map(|l| (l, "the layout as captured now (none saved)".to_string()))
    };
    match layout.and_then(|(l, from)| {
        rear_layout::needs::programs(&l)
            .map(|n| (n, from))
            .map_err(|e| anyhow::anyhow!("{e}"))
    }) {
        Ok((needs, from)) => out.extend(needs.into_iter().map(|n| image::Required {
            program: n.program,
            why: format!("{} ({from})", n.why),
        })),
        Err(e) => log::warn!(
            "no layout tool is required, as the layout is not known (rear-build savelayout saves it): {e:#}"
        ),
    }
    let b = &cfg.backup;
    let target = rear_backup::target::Target::parse_for(b.method, &b.url).ok();
    for (p, why) in
        rear_backup::needs::programs(b.method, target.as_ref(), !b.recipients_file.is_empty())
    {
        out.push(image::Required { program: p, why });
    }
    out
}

/// Builds the image; returns the paths of vmlinuz, initrd.img, the media
/// and manifest.json.
pub fn image_cmd(
    cfg: &config::Config,
    config_files: &[PathBuf],
    a: &ImageArgs,
) -> Result<Vec<PathBuf>> {
    let c = &cfg.image;
    let mut includes = c
        .include
        .iter()
        .map(|s| image::parse_include(s))
        .collect::<Result<Vec<_>>>()?;
    // The configuration travels with the image (at the default place), so
    // `recover` there finds the backup without arguments.
    for f in config_files {
        includes.push((f.clone(), config::image_path(f)));
    }
    let media = c.media()?;
    // Where the network boot tree goes is checked before anything is built.
    if let Some(root) = cfg.pxe.root() {
        if !media.contains(&rear_builder::media::Kind::Pxe) {
            bail!(
                "pxe.root (--pxe-root) is {}, but no network boot tree is built: add pxe to image.media (--media pxe), or unset pxe.root",
                root.display()
            );
        }
        rear_builder::media::pxe::check_root(root)?;
    }
    let opts = Options {
        kernel: rear_builder::kernel::Choice {
            version: a.kernel_version.clone(),
            image: a.kernel.clone(),
            modules_dir: a.modules_dir.clone(),
        },
        output: c.output(),
        includes,
        recipes: c.recipes.clone(),
        extra_recipes: c.recipe().into_iter().collect(),
        default_recipes: !a.no_default_recipes,
        modules: Policy {
            kind: c.modules(),
            include: c.add_modules.clone(),
            exclude: c.omit_modules.clone(),
        },
        firmware_dir: c.firmware_dir(),
        epoch: epoch()?,
        compression: c.compression(),
        level: c.compress_level(),
        layout: Some((
            PathBuf::from(paths::LAYOUT),
            paths::IMAGE_LAYOUT.to_string(),
        )),
        media: media.clone(),
        menu: c.menu(&rear_builder::rescue::host_name()),
        usb: rear_builder::media::usb::Place {
            device: a
                .usb_device
                .clone()
                .or_else(|| (!cfg.usb.device.is_empty()).then(|| PathBuf::from(&cfg.usb.device))),
            keep: cfg.usb.keep,
        },
        // Read (and its password asked) before the build, not after it.
        sign: cfg
            .sign
            .key
            .as_deref()
            .map(|k| crate::signcmd::load_key(k, cfg.sign.password_file.as_deref()))
            .transpose()?
            .map(std::sync::Arc::new),
        required: required_programs(cfg),
        backup: cfg.backup.method.is_backend().then(|| {
            format!(
                "{} {}",
                cfg.backup.method,
                crate::pinning::without_credentials(&cfg.backup.url)
            )
        }),
    };
    let store = Store::open(&c.store())?;
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
    if let Some(l) = &report.left_out {
        eprintln!("rear-build: {l}");
    }
    for n in &report.media_notes {
        eprintln!("rear-build: {n}");
    }
    if let Some(dev) = &cfg.obdr.device {
        let tap = report
            .paths
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == "rescue.tap"))
            .context("obdr.device (--tape-device) is set, but no OBDR medium was built: add obdr to image.media (--media)")?;
        let mut from = rear_tape::simh::Reader::open(tap)?;
        rear_tape::copy(&mut from, rear_tape::create(dev)?.as_mut())
            .with_context(|| format!("write {} to {}", tap.display(), dev.display()))?;
        eprintln!("rear-build: the OBDR tape is written to {}", dev.display());
    }
    let paths = report.paths.clone();
    // Into the server's root once the results are whole (and signed).
    if let Some(root) = cfg.pxe.root() {
        install_pxe(&cfg.pxe, root, &report.paths)?;
    }
    for p in &paths {
        println!("{}", p.display());
    }
    crate::push::push(
        &cfg.output,
        &c.output(),
        &paths,
        &rear_builder::rescue::host_name(),
    )?;
    Ok(paths)
}

/// Installs the network boot tree among `paths` into `root` (`pxe.root`).
fn install_pxe(pxe: &config::Pxe, root: &Path, paths: &[PathBuf]) -> Result<()> {
    let tree = paths
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == "pxe"))
        .context("pxe.root (--pxe-root) is set, but no network boot tree was built")?;
    let done = rear_builder::media::pxe::install(tree, root, pxe.access()).with_context(|| {
        format!(
            "install the network boot tree {} into pxe.root {}",
            tree.display(),
            root.display()
        )
    })?;
    eprintln!(
        "rear-build: the network boot tree is installed in {}: {} files written ({}, group {}){}",
        root.display(),
        done.written.len(),
        match pxe.world_readable {
            true => "mode 0644: pxe.world_readable",
            false => "mode 0640",
        },
        group_name(done.gid),
        match done.kept.is_empty() {
            true => String::new(),
            false => format!(
                "; {} there already the same",
                done.kept
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    );
    Ok(())
}

/// The name of group `gid` in /etc/group, else its number.
fn group_name(gid: u32) -> String {
    std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == gid.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| gid.to_string())
}

fn dump(loaded: &config::Loaded) -> Result<i32> {
    let cfg = &loaded.config;
    println!(
        "# rear-build {} effective configuration: each setting with the file and line it came from",
        env!("CARGO_PKG_VERSION")
    );
    if loaded.files.is_empty() {
        println!("# (no rear-build configuration files)");
    }
    for f in &loaded.files {
        println!("# file {}", f.display());
    }
    let value = toml::Value::try_from(cfg).context("the configuration as TOML")?;
    print!("{}", annotated(&value, "", &loaded.origins));
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

/// `value`'s settings as TOML, each with its origin (or "default").
fn annotated(
    value: &toml::Value,
    path: &str,
    origins: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    let Some(t) = value.as_table() else {
        return out;
    };
    let key = |k: &str| match path {
        "" => k.to_string(),
        p => format!("{p}.{k}"),
    };
    let leaves: Vec<_> = t.iter().filter(|(_, v)| !v.is_table()).collect();
    if !path.is_empty() && !leaves.is_empty() {
        out.push_str(&format!("\n[{path}]\n"));
    }
    for (k, v) in leaves {
        let from = origins.get(&key(k)).map_or("default", String::as_str);
        out.push_str(&format!("{k} = {v}  # {from}\n"));
    }
    for (k, v) in t.iter().filter(|(_, v)| v.is_table()) {
        out.push_str(&annotated(v, &key(k), origins));
    }
    out
}

/// `generate`: man pages or completions from the command line's
/// definition, for packaging.
fn generate(what: &str, dir: &Path) -> Result<i32> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    match what {
        "man" => {
            write_man(&cmd, "rear-build", dir)?;
            write_man(&crate::rearcmd::command(), "rear", dir)?;
        }
        shell => {
            let shell: clap_complete::Shell = shell.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            clap_complete::generate_to(shell, &mut cmd, "rear-build", dir)
                .with_context(|| format!("write completions into {}", dir.display()))?;
        }
    }
    Ok(0)
}

/// NAME.8 and NAME-SUB.8 for each visible subcommand, recursively.
fn write_man(cmd: &clap::Command, name: &str, dir: &Path) -> Result<()> {
    let cmd = cmd
        .clone()
        .name(name.to_string())
        .display_name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .render(&mut buf)
        .with_context(|| format!("render the man page of {name}"))?;
    let file = dir.join(format!("{name}.8"));
    std::fs::write(&file, buf).with_context(|| format!("write {}", file.display()))?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_man(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
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

fn diff_cmd(a: &Path, b: &Path, json: bool) -> Result<i32> {
    use rear_builder::diff;
    let (sa, sb) = (diff::Side::load(a, &System)?, diff::Side::load(b, &System)?);
    let d = diff::diff(&sa, &sb);
    match json {
        true => println!(
            "{}",
            serde_json::to_string_pretty(&d).context("the diff as JSON")?
        ),
        false => print!("{}", diff::to_text(&d, &sa.name, &sb.name)),
    }
    Ok(if d.is_empty() { 0 } else { 1 })
}

fn tape_cmd(cmd: TapeCommand) -> Result<i32> {
    use rear_builder::media::obdr;
    match cmd {
        TapeCommand::List { file } => {
            for (i, f) in rear_tape::list(rear_tape::open_read(&file)?.as_mut())?
                .iter()
                .enumerate()
            {
                let runs: Vec<String> = f
                    .runs
                    .iter()
                    .map(|(size, n)| format!("{n} x {size} bytes"))
                    .collect();
                println!("file {i}: {} ({} bytes)", runs.join(", "), f.bytes);
            }
        }
        TapeCommand::Extract { file, out } => {
            let size = obdr::extract_iso(&file, &out)?;
            eprintln!(
                "rear-build: {}: the ISO, {size} bytes, from block {} of {}",
                out.display(),
                obdr::HEADER_RECORDS,
                file.display()
            );
        }
        TapeCommand::Write { file, device } => {
            let mut from = rear_tape::simh::Reader::open(&file)?;
            rear_tape::copy(&mut from, rear_tape::create(&device)?.as_mut())?;
            eprintln!(
                "rear-build: {} written to {}",
                file.display(),
                device.display()
            );
        }
    }
    Ok(0)
}

fn store_cmd(root: &Path, cmd: StoreCommand) -> Result<i32> {
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
        StoreCommand::Export { manifest, output } => {
            let data =
                std::fs::read(&manifest).with_context(|| format!("read {}", manifest.display()))?;
            let m = rear_builder::export::export(&store, &data, &output)?;
            eprintln!(
                "rear-build: {}: {} objects ({:.1} MiB) and the manifest",
                output.display(),
                m.objects,
                m.bytes as f64 / (1 << 20) as f64
            );
            Ok(0)
        }
        StoreCommand::Import { file } => {
            let (_, m) = rear_builder::export::import(&store, &file)?;
            eprintln!(
                "rear-build: {} objects ({:.1} MiB) from {} are in the store {}",
                m.objects,
                m.bytes as f64 / (1 << 20) as f64,
                file.display(),
                root.display()
            );
            Ok(0)
        }
        StoreCommand::Rebuild { manifest, output } => {
            let data =
                std::fs::read(&manifest).with_context(|| format!("read {}", manifest.display()))?;
            for p in rear_builder::export::rebuild(&store, &data, &output)? {
                println!("{}", p.display());
            }
            Ok(0)
        }
    }
}

/// A backup repository's passphrase that `image.include` brings into the
/// rescue image.
#[derive(Clone, Debug, PartialEq)]
pub struct CarriedKey {
    /// The method whose repository it opens (borg, restic).
    pub method: rear_backup::Method,
    /// The file on this machine (`backup.passphrase_file`).
    pub host: PathBuf,
    /// Where the image has it.
    pub dest: String,
}

impl CarriedKey {
    /// "the borg passphrase (FILE, in the image as DEST)"
    pub fn describe(&self) -> String {
        format!(
            "the {} passphrase (backup.passphrase_file {}, in the image as {})",
            self.method,
            self.host.display(),
            self.dest
        )
    }
}

/// The backup passphrase the image carries, if `image.include` brings in
/// `backup.passphrase_file` (itself or a directory holding it).
pub fn image_key(cfg: &config::Config) -> Option<CarriedKey> {
    let b = &cfg.backup;
    if !b.method.has_passphrase() || b.passphrase_file.is_empty() {
        return None;
    }
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let key = real(Path::new(&b.passphrase_file));
    cfg.image.include.iter().find_map(|spec| {
        let (src, dest) = image::parse_include(spec).ok()?;
        let rel = key.strip_prefix(real(&src)).ok()?;
        let dest = match rel.as_os_str().is_empty() {
            true => dest,
            false => format!("{dest}/{}", rel.display()),
        };
        Some(CarriedKey {
            method: b.method,
            host: PathBuf::from(&b.passphrase_file),
            dest,
        })
    })
}

/// `image` warns when the image carries the backup's passphrase: whoever
/// reads the image can read the backup, and beside the backup (where
/// `mkbackup` stores it, or an output directory inside a file:// target)
/// the passphrase protects nothing.
fn warn_image_keys(cfg: &config::Config) {
    let Some(key) = image_key(cfg) else { return };
    let out = cfg.image.output();
    let beside = match rear_backup::Target::parse(&cfg.backup.url) {
        Ok(rear_backup::Target::File(dir)) => out.starts_with(&dir),
        _ => false,
    };
    if beside {
        log::warn!(
            "the rescue image in {} carries {}, and lies in the backup target {} it unlocks: on the same medium as the encrypted backup the passphrase protects nothing; whoever can read the one reads the other",
            out.display(),
            key.describe(),
            cfg.backup.url
        );
    } else {
        log::warn!(
            "the rescue image in {} carries {}: whoever reads the image can read the backup at {}; keep the image apart from the backup (`mkbackup` stores it beside the backup, where the passphrase protects nothing)",
            out.display(),
            key.describe(),
            cfg.backup.url
        );
    }
}

/// What the backup leaves out because `image` makes it again.
pub fn regenerated(cfg: &config::Config) -> [PathBuf; 2] {
    [cfg.image.store(), cfg.image.output()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_carries_the_backup_passphrase_when_an_include_brings_it() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("keys/borg.pass");
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        std::fs::write(&key, "x\n").unwrap();
        let mut cfg = config::Config::builtin();
        cfg.backup.method = rear_backup::Method::Borg;
        cfg.backup.url = "usb://REAR-000".into();
        cfg.backup.passphrase_file = key.display().to_string();
        assert_eq!(image_key(&cfg), None, "no include");
        cfg.image.include = vec!["/etc/hostname".into()];
        assert_eq!(image_key(&cfg), None, "another file");
        for (include, dest) in [
            (key.display().to_string(), key.display().to_string()),
            (
                format!("{}:/etc/rear-build/b.pass", key.display()),
                "/etc/rear-build/b.pass".into(),
            ),
            (
                format!("{}/keys:/k", d.path().display()),
                "/k/borg.pass".to_string(),
            ),
        ] {
            cfg.image.include = vec!["/etc/hostname".into(), include.clone()];
            let k = image_key(&cfg).unwrap_or_else(|| panic!("{include}"));
            assert_eq!(k.dest, dest, "{include}");
            assert!(
                k.describe().starts_with("the borg passphrase"),
                "{}",
                k.describe()
            );
        }
        // tar has no passphrase to carry.
        cfg.backup.method = rear_backup::Method::Tar;
        assert_eq!(image_key(&cfg), None);
    }
}
