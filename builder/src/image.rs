//! `rear-build image`: from recipes and a kernel to vmlinuz, initrd.img and
//! manifest.json.
//!
//! Four layers, each cached in the store under the hash of its inputs:
//! `base` (programs, libraries, rear-build as /init), `modules` (kernel
//! modules with index files made by depmod), `firmware`, and `config`
//! (generated files and `--include`s). A rebuild redoes only the layers
//! whose inputs changed.

use crate::kernel::{self, Kernel};
use crate::layer::{self, Built, Entry, Kind, Layer, Params};
use crate::manifest::{self, Manifest};
use crate::recipe::{self, Recipe};
use crate::Progress;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use rear_closure::elf::{Node, Resolver, Want};
use rear_closure::modules::{self as kmod, ModuleTree, Policy, PolicyKind};
use rear_store::{StatCache, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use rear_closure::elf::SEARCH_PATH;

/// The fixed timestamp when SOURCE_DATE_EPOCH is unset.
pub const DEFAULT_EPOCH: u64 = 1;

#[derive(Clone, Debug)]
pub struct Options {
    pub kernel: kernel::Choice,
    pub output: PathBuf,
    pub includes: Vec<(PathBuf, String)>,
    pub recipes: Vec<String>,
    /// Recipes made in memory (the configuration's image.programs, ...).
    pub extra_recipes: Vec<Recipe>,
    pub default_recipes: bool,
    pub modules: Policy,
    pub firmware_dir: PathBuf,
    pub epoch: u64,
    /// The initrd's compression; None: zstd when the kernel unpacks it,
    /// else a fallback (`compress::choose`).
    pub compression: Option<crate::compress::Algorithm>,
    /// Its level; None: the algorithm's default.
    pub level: Option<i32>,
    /// The saved layout on the host and where it goes in the image, so
    /// `recover` needs no arguments; carried when the file exists.
    pub layout: Option<(PathBuf, String)>,
    /// Boot media written beside the kernel and initrd, and their menu.
    pub media: Vec<crate::media::Kind>,
    pub menu: crate::media::Menu,
    /// The rescue disk, for the `usb` medium.
    pub usb: crate::media::usb::Place,
    /// Sign the results with this key (`provenance::sign_dir`), before a
    /// rescue disk's generation is written, so it carries the signature.
    pub sign: Option<std::sync::Arc<rear_sign::SecretKey>>,
    /// The backup the image is made to recover (`METHOD URL`, no
    /// credentials), recorded in the manifest.
    pub backup: Option<String>,
    /// Programs the layout, the boot setup and the backup need: an error
    /// when missing, whatever the recipes say.
    pub required: Vec<Required>,
}

pub struct Report {
    pub kernel: Kernel,
    pub manifest: Manifest,
    /// vmlinuz, initrd.img, the media, manifest.json.
    pub paths: Vec<PathBuf>,
    /// Per medium written, what it boots with.
    pub media_notes: Vec<String>,
    /// Layers taken from the cache, by name.
    pub cached: Vec<String>,
    /// The one line naming the optional tools left out, if any.
    pub left_out: Option<String>,
}

/// `SRC[:DEST]` → (SRC, DEST); DEST defaults to SRC's absolute path.
pub fn parse_include(spec: &str) -> Result<(PathBuf, String)> {
    let (src, dest) = match spec.split_once(':') {
        Some((s, d)) => (s, d.to_string()),
        None => (spec, String::new()),
    };
    let abs = std::path::absolute(src).with_context(|| format!("--include {spec}"))?;
    let dest = if dest.is_empty() {
        abs.to_string_lossy().to_string()
    } else {
        dest
    };
    if !dest.starts_with('/') {
        bail!("--include {spec}: the destination {dest:?} must be an absolute path in the image");
    }
    Ok((abs, dest.trim_end_matches('/').to_string()))
}

/// Where a host path lands in the image: its real directory, its own name
/// (so a symlink stays a symlink, next to what it points to).
fn image_path(host: &Path) -> Result<String> {
    let parent = host.parent().unwrap_or(Path::new("/"));
    let real = fs::canonicalize(parent).with_context(|| format!("resolve {}", parent.display()))?;
    Ok(match host.file_name() {
        Some(n) => real.join(n).to_string_lossy().to_string(),
        None => real.to_string_lossy().to_string(),
    })
}

/// A program by name in SEARCH_PATH (an absolute name as it is).
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        return Path::new(name).exists().then(|| PathBuf::from(name));
    }
    SEARCH_PATH
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| fs::symlink_metadata(p).is_ok())
}

fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>> {
    if !pattern.contains(['*', '?', '[']) {
        return Ok(if fs::symlink_metadata(pattern).is_ok() {
            vec![PathBuf::from(pattern)]
        } else {
            vec![]
        });
    }
    let mut v: Vec<PathBuf> = glob::glob(pattern)
        .with_context(|| format!("bad pattern {pattern:?}"))?
        .filter_map(|p| p.ok())
        .collect();
    v.sort();
    Ok(v)
}

/// Every path below `dir` (not following symlinks), sorted, minus excludes.
fn walk(dir: &Path, exclude: &[glob::Pattern], out: &mut Vec<PathBuf>) -> Result<()> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("list {}", dir.display()))?;
    names.sort();
    for p in names {
        if exclude.iter().any(|x| x.matches_path(&p)) {
            continue;
        }
        let meta = fs::symlink_metadata(&p).with_context(|| format!("stat {}", p.display()))?;
        out.push(p.clone());
        if meta.is_dir() {
            walk(&p, exclude, out)?;
        }
    }
    Ok(())
}

/// Host files, hashed (stat cache) and copied into the store, in parallel.
struct Hasher<'a> {
    store: &'a Store,
    cache: &'a StatCache,
}

impl Hasher<'_> {
    /// An entry for the host path `host`, placed at `dest` in the image.
    fn entry(&self, host: &Path, dest: String) -> Result<Entry> {
        let meta =
            fs::symlink_metadata(host).with_context(|| format!("stat {}", host.display()))?;
        let kind = if meta.file_type().is_symlink() {
            let t = fs::read_link(host).with_context(|| format!("read link {}", host.display()))?;
            Kind::Symlink {
                target: t.to_string_lossy().to_string(),
            }
        } else if meta.is_dir() {
            Kind::Dir
        } else if meta.is_file() {
            let hash = self.store.put_file(host, &meta, self.cache)?;
            Kind::File {
                size: meta.len(),
                blake3: hash,
            }
        } else {
            bail!(
                "{}: not a regular file, directory or symlink",
                host.display()
            );
        };
        Ok(Entry {
            path: dest,
            mode: if matches!(kind, Kind::Symlink { .. }) {
                0o777
            } else {
                meta.mode() & 0o7777
            },
            kind,
            uid: 0,
            gid: 0,
            source: Some(host.to_string_lossy().to_string()),
        })
    }

    /// In the I/O pool ([`io_pool`]).
    fn entries(&self, items: Vec<(PathBuf, String)>) -> Result<Vec<Entry>> {
        let run = || {
            items
                .into_par_iter()
                .map(|(host, dest)| self.entry(&host, dest))
                .collect()
        };
        match io_pool() {
            Some(p) => p.install(run),
            None => run(),
        }
    }

    fn generated(&self, path: &str, mode: u32, data: &[u8]) -> Result<Entry> {
        Ok(Entry {
            path: path.to_string(),
            kind: Kind::File {
                size: data.len() as u64,
                blake3: self.store.put_bytes(data)?,
            },
            mode,
            uid: 0,
            gid: 0,
            source: None,
        })
    }
}

/// A pool of more threads than cores for reading host files: on a cold
/// build most of the time is spent waiting for the disk, which serves
/// several reads at once far faster than one after the other.
fn io_pool() -> Option<&'static rayon::ThreadPool> {
    static IO: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    IO.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads((4 * n).clamp(8, 32))
            .build()
            .ok()
    })
    .as_ref()
}

/// Asks the kernel to start reading `paths` (posix_fadvise WILLNEED) on
/// the I/O pool, without waiting for it. The closure resolver reads the
/// headers of one file after the other: on a cold build it then finds
/// them in the page cache instead of waiting for the disk once per file,
/// and hashing finds the files read. Only a hint: errors change nothing.
fn prefetch(paths: Vec<PathBuf>) {
    let Some(pool) = io_pool() else { return };
    for chunk in paths.chunks(16) {
        let chunk = chunk.to_vec();
        pool.spawn(move || {
            for p in chunk {
                if let Ok(f) = fs::File::open(&p) {
                    // SAFETY: a valid open descriptor; no memory is passed.
                    unsafe {
                        libc::posix_fadvise(
                            std::os::fd::AsRawFd::as_raw_fd(&f),
                            0,
                            0,
                            libc::POSIX_FADV_WILLNEED,
                        );
                    }
                }
            }
        });
    }
}

struct Wanted {
    wants: Vec<Want>,
    /// Directory entries from recipe `dirs` (closure takes files only).
    dirs: Vec<PathBuf>,
    modules: Vec<String>,
    /// Optional programs not on this host: Debian package → programs.
    left_out: BTreeMap<String, Vec<String>>,
}

/// A program the rescue system must hold whatever the recipes say, and why
/// (the layout element or setting that needs it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Required {
    pub program: String,
    pub why: String,
}

/// The Debian package of programs the recipes do not name (bookworm's
/// `dpkg -S`), for the error when one is missing.
const PACKAGES: &[(&str, &str)] = &[
    ("mkdir", "coreutils"),
    ("chroot", "coreutils"),
    ("dd", "coreutils"),
    ("mount", "mount"),
    ("umount", "mount"),
    ("ip", "iproute2"),
];

/// Turns recipes into closure wants. A program in `required` must be there
/// (an error naming why and the package); so must those of a package not
/// marked optional; the rest is left out when the host lacks it, and
/// listed in `left_out`.
fn wanted(recipes: &[Recipe], required: &[Required]) -> Result<Wanted> {
    let mut w = Wanted {
        wants: Vec::new(),
        dirs: Vec::new(),
        modules: Vec::new(),
        left_out: BTreeMap::new(),
    };
    let need: BTreeMap<&str, &str> = required
        .iter()
        .map(|r| (r.program.as_str(), r.why.as_str()))
        .collect();
    let mut named: BTreeSet<&str> = BTreeSet::new();
    let mut missing = Vec::new();
    // Required programs missing (kept apart from `missing`, which `miss` holds).
    let mut needed = Vec::new();
    for r in recipes {
        w.modules.extend(r.modules.iter().cloned());
        for p in &r.packages {
            let exclude: Vec<glob::Pattern> = r
                .exclude
                .iter()
                .chain(&p.exclude)
                .map(|x| {
                    glob::Pattern::new(x)
                        .with_context(|| format!("recipe {}: bad exclude {x:?}", r.name))
                })
                .collect::<Result<_>>()?;
            let mut miss = |what: String, optional: bool| {
                if optional || p.optional {
                    log::info!(
                        "recipe {}: {what} not found (package {}), left out",
                        r.name,
                        p.name
                    );
                } else {
                    missing.push(format!(
                        "{what} (recipe {}, Debian package {})",
                        r.name, p.name
                    ));
                }
            };
            for b in &p.binaries {
                named.insert(b);
                let why = need.get(b.as_str());
                match (find_in_path(b), why) {
                    (Some(path), _) => w.wants.push(Want {
                        path,
                        optional: p.optional && why.is_none(),
                    }),
                    (None, Some(why)) => needed.push(format!(
                        "program {b}, needed for {why}: install Debian package {}",
                        p.name
                    )),
                    (None, None) if p.optional => w
                        .left_out
                        .entry(p.name.clone())
                        .or_default()
                        .push(b.clone()),
                    (None, None) => miss(format!("program {b}"), false),
                }
            }
            for item in &p.files {
                let (pattern, opt) = recipe::split_optional(item);
                let found = expand_glob(pattern)?;
                if found.is_empty() {
                    miss(format!("file {pattern}"), opt);
                }
                for f in found
                    .into_iter()
                    .filter(|f| !exclude.iter().any(|x| x.matches_path(f)))
                {
                    w.wants.push(Want {
                        path: f,
                        optional: p.optional || opt,
                    });
                }
            }
            for item in &p.dirs {
                let (pattern, opt) = recipe::split_optional(item);
                let found = expand_glob(pattern)?;
                if found.is_empty() {
                    miss(format!("directory {pattern}"), opt);
                }
                for d in found {
                    // A file where a directory may be (image.files).
                    if !d.is_dir() {
                        w.wants.push(Want {
                            path: d,
                            optional: true,
                        });
                        continue;
                    }
                    let mut all = vec![d.clone()];
                    walk(&d, &exclude, &mut all)?;
                    for f in all {
                        let meta = fs::symlink_metadata(&f)?;
                        // Directories, and links to directories, are copied
                        // as they are; the closure resolves files only.
                        if meta.is_dir() || (meta.file_type().is_symlink() && f.is_dir()) {
                            w.dirs.push(f);
                        } else {
                            w.wants.push(Want {
                                path: f,
                                optional: true,
                            });
                        }
                    }
                }
            }
        }
    }
    missing.append(&mut needed);
    // Required programs no recipe names go in on their own.
    for r in required
        .iter()
        .filter(|r| !named.contains(r.program.as_str()))
    {
        match find_in_path(&r.program) {
            Some(path) => w.wants.push(Want {
                path,
                optional: false,
            }),
            None => {
                let pkg = PACKAGES.iter().find(|(p, _)| *p == r.program).map_or(
                    "the one that provides it (dpkg -S, apt-file search)",
                    |(_, k)| k,
                );
                missing.push(format!(
                    "program {}, needed for {}: install Debian package {pkg}",
                    r.program, r.why
                ));
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "required items are missing:\n  {}\ninstall the packages named (apt-get install ...); what the layout or the backup needs cannot be left out, other items only with recipes that leave them out",
            missing.join("\n  ")
        );
    }
    Ok(w)
}

/// The recipes' packages the build cannot do without: those not marked
/// optional, and those holding a required program.
pub fn required_packages(recipes: &[Recipe], required: &[Required]) -> BTreeSet<String> {
    recipes
        .iter()
        .flat_map(|r| &r.packages)
        .filter(|p| {
            !p.optional
                || p.binaries
                    .iter()
                    .any(|b| required.iter().any(|r| &r.program == b))
        })
        .map(|p| p.name.clone())
        .collect()
}

/// One line naming the optional programs left out, by package:
/// `btrfs-progs (btrfs, mkfs.btrfs, btrfstune, fsck.btrfs), less`.
pub fn left_out_line(left_out: &BTreeMap<String, Vec<String>>) -> Option<String> {
    if left_out.is_empty() {
        return None;
    }
    let items: Vec<String> = left_out
        .iter()
        .map(|(pkg, progs)| {
            if progs.len() == 1 && progs[0] == *pkg {
                pkg.clone()
            } else {
                format!("{pkg} ({})", progs.join(", "))
            }
        })
        .collect();
    Some(format!(
        "optional tools left out, not installed here (Debian package, its programs): {}",
        items.join(", ")
    ))
}

/// The image paths of the merged-/usr links, as on the host.
fn top_links(layer: &mut Layer) -> Result<()> {
    for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        if let Ok(t) = fs::read_link(top) {
            layer.insert(Entry {
                path: top.into(),
                kind: Kind::Symlink {
                    target: t.to_string_lossy().to_string(),
                },
                mode: 0o777,
                uid: 0,
                gid: 0,
                source: Some(top.into()),
            });
        }
    }
    Ok(())
}

fn base_layer(
    h: &Hasher,
    mut wants: Vec<Want>,
    dirs: &[PathBuf],
    progress: &mut dyn Progress,
) -> Result<Layer> {
    let exe = std::env::current_exe().context("find the rear-build binary")?;
    wants.push(Want {
        path: exe.clone(),
        optional: false,
    });
    progress.stage(&format!("resolving the closure of {} files", wants.len()));
    prefetch(wants.iter().map(|w| w.path.clone()).collect());
    let resolver = Resolver::new(Path::new("/"))?;
    let closure = resolver.resolve(&wants)?;
    for w in &closure.warnings {
        log::info!("{w}");
    }
    progress.stage(&format!(
        "hashing {} files of the base layer",
        closure.nodes.len()
    ));
    let mut items = Vec::new();
    for (path, node) in &closure.nodes {
        let dest = if path == &exe {
            "/usr/bin/rear-build".to_string()
        } else {
            image_path(path)?
        };
        if matches!(node, Node::Dir) {
            continue;
        }
        items.push((path.clone(), dest));
    }
    for d in dirs {
        items.push((d.clone(), image_path(d)?));
    }
    let mut layer = Layer::new("base");
    for e in h.entries(items)? {
        layer.insert(e);
    }
    top_links(&mut layer)?;
    let dev = |path: &str, mode, major, minor| Entry {
        path: path.into(),
        kind: Kind::Char { major, minor },
        mode,
        uid: 0,
        gid: 0,
        source: None,
    };
    // The kernel opens /dev/console before /init runs, so it must exist in
    // the archive itself; devtmpfs comes later.
    layer.insert(dev("/dev/console", 0o600, 5, 1));
    layer.insert(dev("/dev/null", 0o666, 1, 3));
    for d in [
        "/proc",
        "/sys",
        "/run",
        "/tmp",
        "/mnt",
        "/var/log",
        "/var/lib/rear-build",
        "/etc",
    ] {
        layer.insert(Entry::dir(d));
    }
    layer.insert(Entry {
        mode: 0o1777,
        ..Entry::dir("/tmp")
    });
    layer.insert(Entry {
        mode: 0o700,
        ..Entry::dir("/root")
    });
    // /init runs rear-build as PID 1; `rear` takes ReaR's command line.
    for link in ["/init", "/usr/sbin/rear"] {
        layer.insert(Entry {
            path: link.into(),
            kind: Kind::Symlink {
                target: "/usr/bin/rear-build".into(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
            source: None,
        });
    }
    layer.add_parents();
    Ok(layer)
}

/// Where the module tree lives in the image (as on a merged-/usr host).
fn image_modules_dir(kver: &str) -> String {
    let lib = fs::canonicalize("/lib").unwrap_or_else(|_| PathBuf::from("/lib"));
    format!("{}/modules/{kver}", lib.display())
}

/// Index inputs depmod needs besides the modules themselves.
const MODULE_INDEX_INPUTS: &[&str] = &[
    "modules.order",
    "modules.builtin",
    "modules.builtin.modinfo",
];

struct ModulesOut {
    /// Complete with depmod's index files, unless its key is in the cache
    /// (then the cached record is used as it is).
    layer: Layer,
    key: String,
    firmware: Vec<String>,
    names: BTreeSet<String>,
}

fn modules_layer(
    h: &Hasher,
    kernel: &Kernel,
    tree: &ModuleTree,
    policy: &Policy,
    params: &Params,
    progress: &mut dyn Progress,
) -> Result<ModulesOut> {
    let loaded = match policy.kind {
        PolicyKind::Loaded => kmod::loaded_modules(Path::new("/sys/module"))?,
        _ => Vec::new(),
    };
    let sel = tree.select(policy, &loaded)?;
    for m in &sel.missing_softdeps {
        log::debug!("soft dependency not available: {m}");
    }
    let dest_root = image_modules_dir(&kernel.version);
    progress.stage(&format!("hashing {} kernel modules", sel.modules.len()));
    // Relative to the module directory: the modules and depmod's inputs.
    let mut rels: Vec<&str> = sel.modules.iter().map(|n| tree.paths[n].as_str()).collect();
    rels.extend(
        MODULE_INDEX_INPUTS
            .iter()
            .filter(|f| kernel.modules_dir.join(f).exists()),
    );
    let items: Vec<(PathBuf, String)> = rels
        .iter()
        .map(|rel| (kernel.modules_dir.join(rel), format!("{dest_root}/{rel}")))
        .collect();
    // The firmware the modules ask for, and depmod's index files: wanted
    // on a cache miss only; a warm build neither parses modules nor runs
    // depmod. depmod is one process on one core: the parse goes beside it.
    let index = || -> Result<(Vec<String>, Vec<Entry>)> {
        let (firmware, indexes) = rayon::join(
            || {
                sel.modules
                    .par_iter()
                    .map(|n| {
                        let path = kernel.modules_dir.join(&tree.paths[n]);
                        Ok(kmod::firmware_of(&kmod::modinfo_file(&path)?))
                    })
                    .collect::<Result<Vec<Vec<String>>>>()
            },
            || depmod(h, kernel, &rels, &dest_root),
        );
        let mut firmware: Vec<String> = firmware?.into_iter().flatten().collect();
        firmware.sort();
        firmware.dedup();
        Ok((firmware, indexes?))
    };
    // Modules the stat cache has never seen mean a layer that is most
    // likely not cached (a cold store, a new kernel): then both start now,
    // from the host's files, beside the hashing instead of after it.
    let likely_cold = items.iter().any(|(p, _)| !h.cache.knows(p));
    std::thread::scope(|s| {
        let early = likely_cold.then(|| s.spawn(index));
        let mut layer = Layer::new("modules");
        for e in h.entries(items)? {
            layer.insert(e);
        }
        let key = layer.key(params);
        if let Some(built) = layer::cached(h.store, &key) {
            // Started for nothing: its result, even an error, is not used.
            drop(early.map(|t| t.join()));
            return Ok(ModulesOut {
                layer,
                key,
                firmware: built.extra,
                names: sel.modules.clone(),
            });
        }
        progress.stage(&format!(
            "reading {} modules and running depmod",
            sel.modules.len()
        ));
        let (firmware, indexes) = match early {
            Some(t) => joined(t)?,
            None => index()?,
        };
        for e in indexes {
            layer.insert(e);
        }
        layer.add_parents();
        Ok(ModulesOut {
            layer,
            key,
            firmware,
            names: sel.modules.clone(),
        })
    })
}

/// Runs depmod over the chosen modules (`rels`, relative to the kernel's
/// module directory) and returns the index files it made, so that modprobe
/// in the rescue system knows exactly the modules that are there. depmod
/// reads them through a scratch tree of links to the host's files (it
/// follows links), so it needs nothing from the store and can run while
/// the modules are being hashed.
fn depmod(h: &Hasher, kernel: &Kernel, rels: &[&str], dest_root: &str) -> Result<Vec<Entry>> {
    let scratch = tempfile::Builder::new()
        .prefix("depmod.")
        .tempdir_in(h.store.root().join("tmp"))
        .context("create a scratch directory for depmod")?;
    let tree = scratch.path().join("lib/modules").join(&kernel.version);
    for rel in rels {
        let dest = tree.join(rel);
        fs::create_dir_all(dest.parent().unwrap())
            .with_context(|| format!("create {}", dest.parent().unwrap().display()))?;
        std::os::unix::fs::symlink(kernel.modules_dir.join(rel), &dest)
            .with_context(|| format!("stage {}", dest.display()))?;
    }
    use rear_exec::Exec;
    rear_exec::System
        .run(
            &rear_exec::Call::new("depmod")
                .arg("-b")
                .arg(scratch.path())
                .arg(&kernel.version),
        )
        .context("depmod (package kmod) could not index the chosen modules")?;
    let mut out = Vec::new();
    let mut names: Vec<String> = fs::read_dir(&tree)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("modules.") && !MODULE_INDEX_INPUTS.contains(&n.as_str()))
        .collect();
    names.sort();
    for n in names {
        let data = fs::read(tree.join(&n))?;
        out.push(h.generated(&format!("{dest_root}/{n}"), 0o644, &data)?);
    }
    Ok(out)
}

fn firmware_layer(h: &Hasher, fw_dir: &Path, wanted: &[String]) -> Result<(Layer, usize)> {
    let mut items = Vec::new();
    for name in wanted {
        if let Some(p) = kmod::find_firmware(fw_dir, name) {
            // Firmware names may be symlinks into other vendor directories.
            let mut cur = p;
            for _ in 0..8 {
                items.push((cur.clone(), image_path(&cur)?));
                match fs::read_link(&cur) {
                    Ok(t) => cur = cur.parent().unwrap().join(t),
                    Err(_) => break,
                }
            }
        } else {
            log::debug!("firmware {name} is not installed; left out");
        }
    }
    items.sort();
    items.dedup();
    let found = items.len();
    let mut layer = Layer::new("firmware");
    for e in h.entries(items)? {
        layer.insert(e);
    }
    layer.add_parents();
    Ok((layer, found))
}

fn config_layer(h: &Hasher, opts: &Options, modules: Vec<String>) -> Result<(Layer, String)> {
    let mut layer = Layer::new("config");
    let keys = Path::new("/root/.ssh/authorized_keys");
    let sshd = keys.is_file();
    let mut cfg = crate::rescue::config(modules, sshd);
    let keymap = crate::rescue::host_keymap(Path::new("/"));
    if keymap.is_some() {
        cfg.keymap = Some(crate::rescue::KEYMAP_PATH.into());
    }
    let mut cfg_hash = String::new();
    for (path, mode, data) in crate::rescue::generated(&cfg) {
        let e = h.generated(&path, mode, &data)?;
        if path == "/etc/rear-build/rescue.json" {
            cfg_hash = rear_store::hash_bytes(&data);
        }
        layer.insert(e);
    }
    let mut items = Vec::new();
    if let Some(k) = keymap {
        items.push((k, crate::rescue::KEYMAP_PATH.to_string()));
    }
    // The saved layout travels with the image, so `recover` needs no arguments.
    if let Some((host, dest)) = opts.layout.as_ref().filter(|(host, _)| host.is_file()) {
        items.push((host.clone(), dest.clone()));
    }
    if sshd {
        items.push((keys.to_path_buf(), "/root/.ssh/authorized_keys".to_string()));
    }
    for (src, dest) in &opts.includes {
        let meta = fs::symlink_metadata(src)
            .with_context(|| format!("--include {}: cannot read it", src.display()))?;
        items.push((src.clone(), dest.clone()));
        if meta.is_dir() {
            let mut all = Vec::new();
            walk(src, &[], &mut all)?;
            for p in all {
                let rel = p.strip_prefix(src).unwrap().to_string_lossy().to_string();
                items.push((p, format!("{dest}/{rel}")));
            }
        }
    }
    for e in h.entries(items)? {
        layer.insert(e);
    }
    layer.insert(Entry {
        mode: 0o700,
        ..Entry::dir("/root/.ssh")
    });
    layer.insert(Entry {
        mode: 0o700,
        ..Entry::dir("/root")
    });
    layer.add_parents();
    Ok((layer, cfg_hash))
}

/// The modules layer, built: the recipes' boot modules added to the
/// policy, the modules read and indexed, the layer archived and compressed
/// (or taken from the cache). Also the boot modules, for the config layer.
fn modules_part(
    h: &Hasher,
    kernel: &Kernel,
    opts: &Options,
    recipe_modules: &[String],
    params: &Params,
) -> Result<(ModulesOut, Vec<String>, Built)> {
    let tree = ModuleTree::load(&kernel.modules_dir)?;
    // Modules the recipes want loaded at boot go in whatever the policy.
    let mut policy = opts.modules.clone();
    let mut boot_modules = Vec::new();
    for m in recipe_modules {
        let n = kmod::normalize(m);
        if tree.paths.contains_key(&n) {
            policy.include.push(n.clone());
            boot_modules.push(n);
        } else if !tree.builtin.contains(&n) {
            log::info!(
                "module {m} named by a recipe is not part of kernel {}",
                kernel.version
            );
        }
    }
    boot_modules.sort();
    boot_modules.dedup();
    let modules = modules_layer(h, kernel, &tree, &policy, params, &mut crate::Silent)?;
    let built = modules
        .layer
        .make(h.store, params, &modules.key, modules.firmware.clone())?;
    Ok((modules, boot_modules, built))
}

/// A thread's result; its panic goes on in the caller.
fn joined<T>(t: std::thread::ScopedJoinHandle<'_, T>) -> T {
    t.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Builds the image and writes the artefacts into `opts.output`.
pub fn build(store: &Store, opts: &Options, progress: &mut dyn Progress) -> Result<Report> {
    progress.stage("choosing the kernel");
    let (kernel, note) = kernel::choose(&opts.kernel, Path::new("/"))?;
    if let Some(n) = note {
        progress.note(&format!("rear-build: {n}"));
    }
    let mut recipes = Vec::new();
    if opts.default_recipes {
        for n in recipe::DEFAULTS {
            recipes.push(Recipe::load(n)?);
        }
    }
    for r in &opts.recipes {
        recipes.push(Recipe::load(r)?);
    }
    recipes.extend(opts.extra_recipes.iter().cloned());
    let support = kernel.compression_support()?;
    let algorithm = crate::compress::choose(opts.compression, &kernel.version, &support)?;
    let level = opts.level.unwrap_or(algorithm.default_level());
    crate::compress::check_level(algorithm, level, "image.compress_level (--compress-level)")
        .with_context(|| match opts.compression {
            Some(_) => format!("the initrd is compressed with {algorithm}"),
            None => format!(
                "the initrd is compressed with {algorithm}, the default for kernel {} (set image.compression or --compress)",
                kernel.version
            ),
        })?;
    let params = Params {
        algorithm,
        level,
        epoch: opts.epoch,
    };
    let cache = StatCache::load(&store.root().join("statcache.json"));
    let h = Hasher {
        store,
        cache: &cache,
    };

    progress.stage("reading recipes");
    let Wanted {
        wants,
        dirs,
        modules: recipe_modules,
        left_out,
    } = wanted(&recipes, &opts.required)?;
    // The modules (read, parsed, indexed by depmod, archived, compressed)
    // on a thread of their own beside the closure and the base layer: a
    // cold build waits for the disk much of the time, and both chains
    // leave cores free. The package database is read beside them too.
    let packages = std::thread::spawn(|| crate::dpkg::Db::load(Path::new("/")));
    let (base_built, base_key, modules, boot_modules, modules_built) =
        std::thread::scope(|s| -> Result<_> {
            let mods = s.spawn(|| modules_part(&h, &kernel, opts, &recipe_modules, &params));
            let base = base_layer(&h, wants, &dirs, progress)?;
            progress.stage("building the base layer");
            let base_key = base.key(&params);
            let base_built = base.make(store, &params, &base_key, Vec::new())?;
            progress.stage("reading, indexing and building the modules layer");
            let (modules, boot_modules, modules_built) = joined(mods)?;
            Ok((base_built, base_key, modules, boot_modules, modules_built))
        })?;

    progress.stage("collecting firmware");
    let (firmware, fw_count) = firmware_layer(&h, &opts.firmware_dir, &modules.firmware)?;
    let (mut config, cfg_hash) = config_layer(&h, opts, boot_modules)?;
    let vmlinuz =
        fs::read(&kernel.image).with_context(|| format!("read {}", kernel.image.display()))?;
    let kernel_art = artefact("vmlinuz", &vmlinuz);
    progress.stage("building layers");
    let firmware_key = firmware.key(&params);
    let firmware_built = firmware.make(store, &params, &firmware_key, Vec::new())?;
    let mut layers = vec![base_built, modules_built, firmware_built];
    // The image names itself, so the rescue system knows which it is:
    // from the built layers' entries (a cached modules layer's are not
    // read again), and the config layer's, which is built last.
    let image_id = manifest::image_id(
        &kernel_art.blake3,
        layers
            .iter()
            .flat_map(|l| l.entries.iter())
            .chain(config.entries.values()),
    );
    config.insert(h.generated(
        manifest::IMAGE_ID_PATH,
        0o644,
        format!("{image_id}\n").as_bytes(),
    )?);
    let config_key = config.key(&params);
    layers.push(config.make(store, &params, &config_key, Vec::new())?);
    // Objects are written without fsync; make them durable (once, for
    // all of them) before the layer records, the stat cache and the
    // manifest refer to them.
    let keys = [&base_key, &modules.key, &firmware_key, &config_key];
    let records: Vec<(&str, &Built)> = keys.iter().map(|k| k.as_str()).zip(&layers).collect();
    layer::record(store, &records)?;
    cache.save()?;
    {
        use std::sync::atomic::Ordering::Relaxed;
        log::info!(
            "stat cache: {} hits, {} misses",
            cache.hits.load(Relaxed),
            cache.misses.load(Relaxed)
        );
    }

    progress.stage("writing artefacts");
    fs::create_dir_all(&opts.output)
        .with_context(|| format!("create output directory {}", opts.output.display()))?;
    // In the store too, so the image can be made again from the store
    // alone (`store export`, `store rebuild`).
    if !store.has(&kernel_art.blake3) {
        store.put_bytes(&vmlinuz)?;
    }
    // The initrd's hashes are cached by its layers' hashes, so a warm build
    // neither concatenates nor hashes it.
    let joined: Vec<&str> = layers.iter().map(|l| l.blake3.as_str()).collect();
    let initrd_key = format!(
        "initrd-{}",
        rear_store::hash_bytes(joined.join(",").as_bytes())
    );
    let mut paths = vec![
        opts.output.join("vmlinuz"),
        opts.output.join("initrd.img"),
        opts.output.join("manifest.json"),
    ];
    // Artefacts are 0600: an initrd may carry keys and configuration.
    // Files that already hold the right bytes are left alone. Side by
    // side, as each waits for its fsync; a new initrd is hashed as it is
    // written.
    let cached_initrd = store.get_layer::<manifest::Artefact>(&initrd_key)?;
    let (k, i) = rayon::join(
        || -> Result<()> {
            if !holds(&paths[0], &kernel_art) {
                rear_store::write_file_atomic(&paths[0], &vmlinuz, 0o600)?;
            }
            Ok(())
        },
        || -> Result<manifest::Artefact> {
            let write =
                |parts: &[&[u8]]| rear_store::write_file_atomic_parts(&paths[1], parts, 0o600);
            match cached_initrd {
                Some(a) => {
                    if !holds(&paths[1], &a) {
                        write(&slices(&layer_bytes(store, &layers)?))?;
                    }
                    Ok(a)
                }
                None => {
                    let parts = layer_bytes(store, &layers)?;
                    let parts = slices(&parts);
                    let (a, w) =
                        rayon::join(|| artefact_of("initrd.img", &parts), || write(&parts));
                    w?;
                    store.put_layer(&initrd_key, &a)?;
                    Ok(a)
                }
            }
        },
    );
    k?;
    let initrd_art = i?;
    let mut manifest = Manifest {
        schema: manifest::SCHEMA,
        tool: manifest::Tool {
            name: "rear-build".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        inputs: manifest::Inputs {
            host: Some(opts.menu.host.clone()).filter(|h| !h.is_empty()),
            kernel: manifest::KernelInput {
                version: kernel.version.clone(),
                image: kernel.image.to_string_lossy().to_string(),
                sha256: kernel_art.sha256.clone(),
                blake3: kernel_art.blake3.clone(),
                modules: modules.names.len(),
                firmware: fw_count,
            },
            recipes: recipes
                .iter()
                .map(|r| manifest::Named {
                    name: r.name.clone(),
                    blake3: r.hash.clone(),
                })
                .collect(),
            rescue_config_blake3: cfg_hash,
            includes: opts
                .includes
                .iter()
                .map(|(s, d)| format!("{}:{d}", s.display()))
                .collect(),
            modules_policy: policy_string(&opts.modules),
            source_date_epoch: opts.epoch,
            backup: opts.backup.clone(),
            compression: manifest::Compression {
                algorithm: algorithm.name().into(),
                level,
                chosen: match opts.compression {
                    Some(_) => "requested".into(),
                    None => "default".into(),
                },
                kernel_unpacks: support.unpacks.iter().map(|a| a.name().into()).collect(),
                kernel_unpacks_from: support.from.clone(),
            },
        },
        layers: Manifest::layer_infos(&layers),
        artefacts: vec![kernel_art.clone(), initrd_art.clone()],
        files: Manifest::files_of(&layers),
        image_id,
    };
    manifest.add_packages(
        &packages
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
    );
    let mut media_notes = Vec::new();
    let (kernel_path, initrd_path) = (paths[0].clone(), paths[1].clone());
    let input = crate::media::Input {
        kernel: &kernel_path,
        initrd: &initrd_path,
        epoch: opts.epoch,
        menu: &opts.menu,
        id: &initrd_art.blake3[..16],
        macs: &crate::media::host_macs(),
    };
    let exec = rear_exec::System;
    let files: Vec<_> = opts
        .media
        .iter()
        .filter(|&&k| k != crate::media::Kind::Usb)
        .collect();
    if !files.is_empty() {
        progress.stage(&format!(
            "writing {}",
            files
                .iter()
                .map(|k| k.file_name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for w in crate::media::build(&opts.media, &input, &opts.output, &exec)? {
            media_notes.push(format!("{}: {}", w.kind.file_name(), w.note));
            manifest.artefacts.extend(w.artefacts);
            paths.insert(paths.len() - 1, w.path);
        }
    }
    let json = manifest.to_json();
    let manifest_path = &paths[paths.len() - 1];
    if !holds(manifest_path, &artefact("manifest.json", &json)) {
        rear_store::write_file_atomic(manifest_path, &json, 0o600)?;
    }
    store.add_root(manifest_path)?;
    let signed = match &opts.sign {
        Some(key) => crate::provenance::sign_dir(&opts.output, key)?,
        None => Vec::new(),
    };
    if !signed.is_empty() {
        media_notes.push(format!(
            "signed with key {}",
            opts.sign.as_ref().map(|k| k.id()).unwrap_or_default()
        ));
    }
    if opts.media.contains(&crate::media::Kind::Usb) {
        progress.stage("writing a generation onto the rescue disk");
        let note = crate::media::usb::publish(&input, manifest_path, &opts.usb, None, &exec)?;
        media_notes.push(format!("rescue disk: {note}"));
    }
    paths.extend(signed);
    Ok(Report {
        kernel,
        manifest,
        paths,
        media_notes,
        cached: layers
            .iter()
            .filter(|l| l.from_cache)
            .map(|l| l.name.clone())
            .collect(),
        left_out: left_out_line(&left_out),
    })
}

pub fn artefact(name: &str, data: &[u8]) -> manifest::Artefact {
    artefact_of(name, &[data])
}

/// The artefact that is the concatenation of `parts`, hashed piece by
/// piece: the initrd is its layers one after the other, and is never
/// copied into one buffer.
fn artefact_of(name: &str, parts: &[&[u8]]) -> manifest::Artefact {
    use sha2::Digest;
    let (sha256, blake3) = rayon::join(
        || {
            let mut h = sha2::Sha256::new();
            parts.iter().for_each(|p| h.update(p));
            hex::encode(h.finalize())
        },
        || {
            let mut h = blake3::Hasher::new();
            parts.iter().for_each(|p| {
                h.update_rayon(p);
            });
            h.finalize().to_hex().to_string()
        },
    );
    manifest::Artefact {
        name: name.into(),
        size: parts.iter().map(|p| p.len() as u64).sum(),
        sha256,
        blake3,
    }
}

/// The layers' compressed bytes, in order: those built by this run from
/// memory, cached ones from the store (checked as they are read).
fn layer_bytes(store: &Store, layers: &[Built]) -> Result<Vec<std::sync::Arc<Vec<u8>>>> {
    layers
        .iter()
        .map(|l| match &l.data {
            Some(d) => Ok(d.0.clone()),
            None => Ok(std::sync::Arc::new(store.read(&l.blake3)?)),
        })
        .collect()
}

fn slices(parts: &[std::sync::Arc<Vec<u8>>]) -> Vec<&[u8]> {
    parts.iter().map(|p| p.as_slice()).collect()
}

/// True when `path` is private and holds exactly the artefact's bytes.
fn holds(path: &Path, a: &manifest::Artefact) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    meta.len() == a.size
        && meta.permissions().mode() & 0o7777 == 0o600
        && fs::read(path).is_ok_and(|d| {
            blake3::Hasher::new()
                .update_rayon(&d)
                .finalize()
                .to_hex()
                .as_str()
                == a.blake3
        })
}

pub fn policy_string(p: &Policy) -> String {
    let mut s = p.kind.name().to_string();
    for i in &p.include {
        s.push_str(&format!(" +{i}"));
    }
    for x in &p.exclude {
        s.push_str(&format!(" -{x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_specs() {
        let (src, dest) = parse_include("/etc/fstab").unwrap();
        assert_eq!(
            (src, dest.as_str()),
            (PathBuf::from("/etc/fstab"), "/etc/fstab")
        );
        let (_, dest) = parse_include("/tmp/x.sh:/usr/local/bin/check/").unwrap();
        assert_eq!(dest, "/usr/local/bin/check");
        let err = parse_include("/tmp/x:relative").unwrap_err().to_string();
        assert!(err.contains("must be an absolute path"), "{err}");
    }

    #[test]
    fn image_paths_follow_directory_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("usr/lib");
        fs::create_dir_all(&real).unwrap();
        std::os::unix::fs::symlink("usr/lib", d.path().join("lib")).unwrap();
        let real = fs::canonicalize(&real).unwrap();
        assert_eq!(
            image_path(&d.path().join("lib/libx.so")).unwrap(),
            real.join("libx.so").to_string_lossy()
        );
    }

    #[test]
    fn recipe_dirs_keep_links_to_directories_as_links() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("tree");
        fs::create_dir_all(root.join("real")).unwrap();
        fs::write(root.join("real/f"), "x").unwrap();
        std::os::unix::fs::symlink("real", root.join("link")).unwrap();
        let r = Recipe::parse(
            "t",
            &format!(
                "[[package]]\nname = \"x\"\ndirs = [\"{}\"]\n",
                root.display()
            ),
        )
        .unwrap();
        let w = wanted(&[r], &[]).unwrap();
        assert!(w.dirs.contains(&root.join("link")), "{:?}", w.dirs);
        assert!(w.wants.iter().all(|x| x.path != root.join("link")));
        assert!(w.wants.iter().any(|x| x.path == root.join("real/f")));
    }

    fn req(program: &str, why: &str) -> Required {
        Required {
            program: program.into(),
            why: why.into(),
        }
    }

    /// An optional package's program becomes required when the layout
    /// needs it: its absence is then an error with the reason and package.
    #[test]
    fn required_overrides_optional_and_says_why() {
        let r = Recipe::parse(
            "t",
            "[[package]]\nname = \"frob-tools\"\noptional = true\nbinaries = [\"frob-nonexistent\", \"sh\"]\n",
        )
        .unwrap();
        let w = wanted(std::slice::from_ref(&r), &[]).unwrap();
        assert_eq!(
            w.left_out.get("frob-tools"),
            Some(&vec!["frob-nonexistent".to_string()])
        );
        let line = left_out_line(&w.left_out).unwrap();
        assert!(
            !line.contains('\n') && line.contains("frob-tools (frob-nonexistent)"),
            "{line}"
        );
        let err = format!(
            "{:#}",
            wanted(
                &[r],
                &[req(
                    "frob-nonexistent",
                    "make a frob file system on /dev/md0"
                )]
            )
            .err()
            .unwrap()
        );
        assert!(
            err.contains("program frob-nonexistent, needed for make a frob file system on /dev/md0: install Debian package frob-tools"),
            "{err}"
        );
    }

    /// A required program no recipe names goes in by itself, or is an
    /// error naming its package from the table.
    #[test]
    fn required_programs_outside_the_recipes() {
        let w = wanted(&[], &[req("sh", "the shell")]).unwrap();
        assert!(w
            .wants
            .iter()
            .any(|x| x.path.ends_with("sh") && !x.optional));
        let err = format!(
            "{:#}",
            wanted(&[], &[req("/nonexistent/ip", "x")]).err().unwrap()
        );
        assert!(
            err.contains("program /nonexistent/ip, needed for x"),
            "{err}"
        );
        assert_eq!(left_out_line(&BTreeMap::new()), None);
    }

    fn builtin() -> Vec<Recipe> {
        recipe::BUILTIN
            .iter()
            .map(|(n, t)| Recipe::parse(n, t).unwrap())
            .collect()
    }

    fn layout_needs(l: &rear_layout::Layout) -> Vec<Required> {
        rear_layout::needs::programs(l)
            .unwrap()
            .into_iter()
            .map(|n| req(&n.program, &n.why))
            .collect()
    }

    /// The host of RAID1 + LVM + xfs (no btrfs, LUKS or FAT) with a tar
    /// backup: none of the packages such a minimal server lacks is
    /// required (no partitioning program: rear-build writes the tables;
    /// no zstd: it compresses tar's stream itself); LVM's, md's and xfs's
    /// are.
    #[test]
    fn raid1_lvm_xfs_requires_only_its_own_packages() {
        let mut l = rear_layout::scenarios::raid1_lvm_thin();
        l.lvs.retain(|v| v.segtype == "linear");
        let mut required = layout_needs(&l);
        required.push(req("tar", "backup"));
        let pkgs = required_packages(&builtin(), &required);
        for never in [
            "btrfs-progs",
            "cryptsetup-bin",
            "dosfstools",
            "parted",
            "gdisk",
            "procps",
            "iproute2",
            "less",
            "vim-tiny",
            "thin-provisioning-tools",
            "fdisk",
            "zstd",
        ] {
            assert!(!pkgs.contains(never), "{never} required: {pkgs:?}");
        }
        for want in ["lvm2", "mdadm", "xfsprogs", "util-linux", "tar"] {
            assert!(pkgs.contains(want), "{want} not required: {pkgs:?}");
        }
        // `kill` is procps's, and nothing requires it.
        assert!(!required.iter().any(|r| r.program == "kill"));
        // With LUKS on top, cryptsetup is required, naming the volume.
        let l = rear_layout::scenarios::luks_on_lvm();
        let required = layout_needs(&l);
        assert!(required_packages(&builtin(), &required).contains("cryptsetup-bin"));
        let c = required.iter().find(|r| r.program == "cryptsetup").unwrap();
        assert!(c.why.contains("LUKS"), "{c:?}");
    }

    /// Every program the planner runs for any example layout is named by a
    /// built-in recipe, or by the package table: a missing one is reported
    /// with its package, never as "unknown".
    #[test]
    fn every_planned_program_has_a_package() {
        let recipes: Vec<Recipe> = recipe::BUILTIN
            .iter()
            .map(|(n, t)| Recipe::parse(n, t).unwrap())
            .collect();
        let named = |p: &str| {
            recipes
                .iter()
                .flat_map(|r| &r.packages)
                .any(|k| k.binaries.iter().any(|b| b == p))
                || PACKAGES.iter().any(|(x, _)| *x == p)
        };
        use rear_layout::scenarios as s;
        for l in [
            s::gpt_esp_ext4_swap(),
            s::raid1_lvm_thin(),
            s::luks_on_lvm(),
            s::msdos_logical(),
            s::msdos_only_logical(),
            s::gpt_lvm_linear(),
            s::bios_gpt_grub(),
            s::uefi_gpt_grub(),
            s::whole_disk_ext4_root(),
            s::whole_disk_lvm(),
            s::whole_disk_raid1(),
            s::whole_disk_luks(),
        ] {
            for n in rear_layout::needs::programs(&l).unwrap() {
                assert!(
                    named(&n.program),
                    "{} ({}) has no package",
                    n.program,
                    n.why
                );
            }
        }
    }

    /// The recipes' package names are dpkg's (on this host, for every
    /// program dpkg knows): `kill` is procps's, `sfdisk` fdisk's, `mount`
    /// mount's on Debian 12, whatever older releases said.
    #[test]
    fn recipe_packages_agree_with_dpkg() {
        let db = crate::dpkg::Db::load(Path::new("/"));
        let mut wrong = Vec::new();
        for (n, t) in recipe::BUILTIN {
            for p in Recipe::parse(n, t).unwrap().packages {
                for b in &p.binaries {
                    let Some(path) = find_in_path(b) else {
                        continue;
                    };
                    if let Some(o) = db.owner(&path.to_string_lossy()) {
                        if o.package != p.name {
                            wrong.push(format!(
                                "{b}: recipe {n} says {}, dpkg {}",
                                p.name, o.package
                            ));
                        }
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn missing_required_program_names_the_package() {
        let r = Recipe::parse(
            "t",
            "[[package]]\nname = \"frobnicator-tools\"\nbinaries = [\"frobnicate-nonexistent\"]\n",
        )
        .unwrap();
        let err = format!("{:#}", wanted(&[r], &[]).err().unwrap());
        assert!(
            err.contains("program frobnicate-nonexistent")
                && err.contains("Debian package frobnicator-tools"),
            "{err}"
        );
        let r = Recipe::parse(
            "t",
            "[[package]]\nname = \"x\"\noptional = true\nbinaries = [\"frobnicate-nonexistent\"]\n",
        )
        .unwrap();
        assert!(wanted(&[r], &[]).unwrap().wants.is_empty());
    }
}
