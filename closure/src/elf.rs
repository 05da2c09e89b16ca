//! ELF dependency closure: every host file a program needs to run, found the
//! way glibc's dynamic loader (`ld.so`) would find it, inside a given root.
//!
//! # What is followed
//!
//! * `PT_INTERP` (the program interpreter) and `DT_NEEDED`, breadth-first with
//!   a non-repeating worklist, the way `ld.so` builds its link map: within one
//!   program each object is processed once, and a need that names an object
//!   already loaded (by the name it was loaded as, or by its `DT_SONAME`) is
//!   not searched again. Programs are independent trees (as at run time, where
//!   each program is its own process); parsing, file look-ups and the result
//!   per wanted path are cached over the whole [`Resolver::resolve`] call.
//! * Search order of a need, as `ld.so` without `LD_LIBRARY_PATH`:
//!   1. if the needing object has no `DT_RUNPATH`: the `DT_RPATH` of the
//!      object, then of the object that loaded it, and so on up to the program
//!      (an object that has `DT_RUNPATH` has its `DT_RPATH` ignored);
//!   2. otherwise the object's own `DT_RUNPATH` (it never applies to the
//!      needs of the objects it loads);
//!   3. the directories of `/etc/ld.so.conf` in file order (`include` globs
//!      expanded in sorted order; relative patterns relative to the including
//!      file's directory, as `ldconfig` does);
//!   4. default directories: `/lib/<triple>`, `/usr/lib/<triple>` (the
//!      multiarch triple derived from the object's ELF class, byte order and
//!      machine, e.g. `x86_64-linux-gnu`), then `/lib64`, `/usr/lib64` for
//!      64-bit objects (`/lib32`, `/usr/lib32` for 32-bit ones), then `/lib`,
//!      `/usr/lib`.
//!
//!   `LD_LIBRARY_PATH`, `DF_1_NODEFLIB`, `glibc-hwcaps/` and legacy hwcap
//!   subdirectories are not used: the rescue image must work on the baseline
//!   of the architecture, and the build host's environment must not leak in.
//! * Dynamic string tokens in `DT_RPATH`/`DT_RUNPATH`: `$ORIGIN`/`${ORIGIN}`
//!   (directory of the program's resolved path, or of the path a library was
//!   found at, as `ld.so` computes it), `$LIB`/`${LIB}` and
//!   `$PLATFORM`/`${PLATFORM}`. `$LIB` is `lib/<triple>` when the root has a
//!   `/usr/lib/<triple>` directory (Debian's multiarch `ld.so` is built that
//!   way: `LD_DEBUG=libs` on bookworm shows `$LIB` expanding to
//!   `lib/x86_64-linux-gnu`), otherwise `lib64` for ELFCLASS64 and `lib` for
//!   ELFCLASS32 (the Fedora/SUSE layout). `$PLATFORM` is the machine's base
//!   name (`x86_64`, `i686`, `aarch64`, ...), not the CPU-model string
//!   (`haswell`) glibc may pick at run time. Tokens that are not followed by
//!   `/` or the end are left alone, as in glibc.
//! * A `DT_NEEDED` containing `/` is a path: used as-is when absolute; a
//!   relative one depends on the working directory and gives a warning.
//! * A candidate only counts if it is an ELF file with the same class, data
//!   encoding and machine as the object needing it; others are skipped.
//! * Every symlink met on the way is kept: symlinked directory components
//!   (`/lib64 -> usr/lib64`), every link of a chain with its target exactly as
//!   stored, and the final file. More than 40 links in one look-up is an
//!   error, like `ELOOP`.
//! * Scripts (`#!`): the interpreter is resolved like a wanted file; for
//!   `/usr/bin/env X`, `X` is also looked up in the standard `PATH`.
//! * `.note.dlopen` (the FDO ELF dlopen metadata note, type `0x407c0c0a`):
//!   each entry's sonames are alternatives, the first one found is taken and
//!   resolved with the noting object as loader. Missing ones are always
//!   warnings, whatever their priority: dlopen dependencies are optional at
//!   run time by definition (the program checks whether `dlopen` worked), so
//!   an image without them still boots; the warning tells what is lost.
//! * Known dlopen sets: with `libc.so.6` come the NSS modules
//!   `libnss_files.so.2`, `libnss_dns.so.2` (and `libnss_compat.so.2` when
//!   present) and `libresolv.so.2`; with `libc.so.6` or `libpthread.so.0`
//!   comes `libgcc_s.so.1` (thread cancellation and unwinding load it). They
//!   are looked up from the libc's search path; missing ones are warnings.
//!   A dlopen'd library whose own needs cannot be resolved is left out with
//!   a warning.
//!
//! # Cost
//!
//! Only the ELF header, program headers, interpreter, dynamic section, its
//! string table and notes are read (a few `pread`s per file, each file parsed
//! once). Look-ups are cached per path, so resolving a few hundred programs
//! takes milliseconds when the page cache is warm.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// One thing to include: an absolute host path. `optional` items that are missing, or whose
/// needs cannot be resolved, produce a warning instead of an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Want {
    pub path: PathBuf,
    pub optional: bool,
}

impl Want {
    /// A path that must be there, with everything it needs.
    pub fn required(path: impl Into<PathBuf>) -> Want {
        Want {
            path: path.into(),
            optional: false,
        }
    }

    /// A path that is left out, with a warning, when it or one of its needs is missing.
    pub fn optional(path: impl Into<PathBuf>) -> Want {
        Want {
            path: path.into(),
            optional: true,
        }
    }
}

/// What goes into the image for a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    File,
    Dir,
    /// A symbolic link; the target exactly as stored in the link.
    Symlink(PathBuf),
}

/// The result of [`Resolver::resolve`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Closure {
    /// Every host path needed, sorted: the wanted files, every symlink on the way
    /// (including directory symlinks in path components such as /lib64 -> usr/lib64 and /lib -> usr/lib),
    /// every link in a symlink chain and its final target, the ELF interpreter, every library,
    /// script interpreters.
    pub nodes: BTreeMap<PathBuf, Node>,
    /// Non-fatal problems (optional items missing, unresolved needs of optional items,
    /// dlopen dependencies not found).
    pub warnings: Vec<String>,
}

impl Closure {
    /// Sorted absolute paths of the closure (the keys of `nodes`).
    pub fn paths(&self) -> Vec<&Path> {
        self.nodes.keys().map(PathBuf::as_path).collect()
    }
}

/// Why a closure could not be computed. Messages name the chain that led to the problem,
/// e.g. `/usr/sbin/foo → libbar.so.1: not found in [/lib/x86_64-linux-gnu, ...]`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The last path of the chain does not exist.
    #[error("{}: no such file", Chain(.chain))]
    Missing { chain: Vec<PathBuf> },
    /// A needed library (or a program looked up in `PATH`) was found in none of the directories.
    #[error("{} → {name}: not found in [{}]", Chain(.chain), Dirs(.searched))]
    NotFound {
        chain: Vec<PathBuf>,
        name: String,
        searched: Vec<PathBuf>,
    },
    /// More than 40 symbolic links were met looking up the last path of the chain.
    #[error("{}: too many levels of symbolic links", Chain(.chain))]
    SymlinkLoop { chain: Vec<PathBuf> },
    /// A wanted path is a directory.
    #[error("{}: is a directory; directories are to be expanded by the caller", .path.display())]
    IsDirectory { path: PathBuf },
    /// A wanted path is not absolute.
    #[error("{}: not an absolute path", .path.display())]
    NotAbsolute { path: PathBuf },
    /// The last file of the chain cannot be used (bad ELF, bad `#!` line, ...).
    #[error("{}: {reason}", Chain(.chain))]
    Malformed { chain: Vec<PathBuf>, reason: String },
    /// Reading a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The root or its ld.so configuration cannot be used.
    #[error("{}: {reason}", .path.display())]
    Config { path: PathBuf, reason: String },
}

/// Finds the closure of wanted files inside a root.
#[derive(Clone, Debug)]
pub struct Resolver {
    root: PathBuf,
    conf_dirs: Vec<PathBuf>,
}

impl Resolver {
    /// Reads root/etc/ld.so.conf (with `include` globs, relative to root) and sets default dirs.
    /// `root` is "/" normally; tests use a temp dir as a fake root. All paths in Want/Closure are
    /// absolute paths as seen inside root (i.e. "/usr/bin/bash"), and file access goes through root.
    /// A missing `/etc/ld.so.conf` is not an error (only the default dirs are searched then).
    pub fn new(root: &Path) -> Result<Resolver, Error> {
        let md = fs::metadata(root).map_err(|source| Error::Io {
            path: root.to_path_buf(),
            source,
        })?;
        if !md.is_dir() {
            return Err(Error::Config {
                path: root.to_path_buf(),
                reason: "root is not a directory".into(),
            });
        }
        let mut conf_dirs = Vec::new();
        read_ld_so_conf(root, Path::new("/etc/ld.so.conf"), &mut conf_dirs, 0)?;
        let mut seen = HashSet::new();
        conf_dirs.retain(|d| seen.insert(d.clone()));
        Ok(Resolver {
            root: root.to_path_buf(),
            conf_dirs,
        })
    }

    /// The root all paths are seen in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directories from `/etc/ld.so.conf`, in search order.
    pub fn conf_dirs(&self) -> &[PathBuf] {
        &self.conf_dirs
    }

    /// The closure of `wants`. Fails on the first problem of a required want; problems of
    /// optional wants become warnings and leave that want (and what only it needed) out.
    /// A want that is a directory or not an absolute path is an error even when optional:
    /// the caller expands directories into the files it wants.
    pub fn resolve(&self, wants: &[Want]) -> Result<Closure, Error> {
        let ctx = Ctx::new(self);
        let mut closure = Closure::default();
        // Programs share most of their nodes (libc, ...): collect them in a map hashed on
        // the bytes of the path, and sort once at the end.
        let mut nodes: HashMap<OsString, Node> = HashMap::new();
        let mut merged: HashSet<*const ItemOut> = HashSet::new();
        let mut merged_walks: HashSet<*const Walked> = HashSet::new();
        let mut seen_warnings = HashSet::new();
        let mut warn = |closure: &mut Closure, w: String| {
            if seen_warnings.insert(w.clone()) {
                closure.warnings.push(w);
            }
        };
        for want in wants {
            if !want.path.is_absolute() {
                return Err(Error::NotAbsolute {
                    path: want.path.clone(),
                });
            }
            match ctx.item(&want.path, &[], 0) {
                Ok(out) => {
                    if !merged.insert(Rc::as_ptr(&out)) {
                        continue;
                    }
                    for w in &out.walks {
                        if !merged_walks.insert(Rc::as_ptr(w)) {
                            continue;
                        }
                        for (path, node) in walk_nodes(w) {
                            if !nodes.contains_key(path.as_os_str()) {
                                nodes.insert(path.clone().into_os_string(), node);
                            }
                        }
                    }
                    for w in &out.warnings {
                        warn(&mut closure, w.clone());
                    }
                }
                Err(e @ (Error::IsDirectory { .. } | Error::NotAbsolute { .. })) => return Err(e),
                Err(e) if want.optional => warn(&mut closure, format!("{e} (optional; left out)")),
                Err(e) => return Err(e),
            }
        }
        closure.nodes = nodes
            .into_iter()
            .map(|(p, n)| (PathBuf::from(p), n))
            .collect();
        Ok(closure)
    }
}

// ---------------------------------------------------------------------------
// Error formatting helpers
// ---------------------------------------------------------------------------

struct Chain<'a>(&'a [PathBuf]);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "{}", p.display())?;
        }
        Ok(())
    }
}

struct Dirs<'a>(&'a [PathBuf]);

impl fmt::Display for Dirs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", p.display())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// ld.so.conf
// ---------------------------------------------------------------------------

const MAX_INCLUDE_DEPTH: usize = 16;

fn read_ld_so_conf(
    root: &Path,
    file: &Path,
    out: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(Error::Config {
            path: file.to_path_buf(),
            reason: format!("include nesting deeper than {MAX_INCLUDE_DEPTH}"),
        });
    }
    let walked = match walk_from(root, &Walked::root(), file) {
        Ok(w) if w.is_dir => {
            return Err(Error::Config {
                path: file.to_path_buf(),
                reason: "is a directory".into(),
            })
        }
        Ok(w) => w,
        Err(WalkErr::Missing) => return Ok(()),
        Err(e) => return Err(walk_error(e, vec![file.to_path_buf()])),
    };
    let host_path = host(root, &walked.phys);
    let bytes = fs::read(&host_path).map_err(|source| Error::Io {
        path: host_path.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let here = file.parent().unwrap_or(Path::new("/"));
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = strip_keyword(line, "include") {
            for pattern in rest.split_whitespace() {
                let pattern = here.join(pattern);
                for f in glob_in_root(root, &pattern)? {
                    read_ld_so_conf(root, &f, out, depth + 1)?;
                }
            }
            continue;
        }
        if strip_keyword(line, "hwcap").is_some() {
            continue;
        }
        // Old ldconfig syntax allowed several dirs per line and a `=TYPE` suffix.
        for tok in line.split(|c: char| c.is_whitespace() || c == ':' || c == ',') {
            let tok = tok.split('=').next().unwrap_or("");
            if tok.starts_with('/') {
                out.push(Path::new(tok).components().collect());
            }
        }
    }
    Ok(())
}

fn strip_keyword<'a>(line: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(keyword)?;
    rest.starts_with(|c: char| c.is_whitespace())
        .then_some(rest)
}

/// Expands a glob pattern (an absolute path inside root) to the sorted files it matches,
/// looking every directory up through root (so absolute symlinks stay inside it).
fn glob_in_root(root: &Path, pattern: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut current = vec![PathBuf::from("/")];
    for comp in pattern.components() {
        match comp {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => current.iter_mut().for_each(|c| c.push("..")),
            Component::Normal(s) => {
                let text = s.to_string_lossy();
                if !text.contains(['*', '?', '[']) {
                    current.iter_mut().for_each(|c| c.push(s));
                    continue;
                }
                let pat = glob::Pattern::new(&text).map_err(|e| Error::Config {
                    path: pattern.to_path_buf(),
                    reason: format!("bad include pattern: {e}"),
                })?;
                let mut next = Vec::new();
                for dir in &current {
                    let Ok(w) = walk_from(root, &Walked::root(), dir) else {
                        continue;
                    };
                    if !w.is_dir {
                        continue;
                    }
                    let Ok(entries) = fs::read_dir(host(root, &w.phys)) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        let name = entry.file_name();
                        let name_text = name.to_string_lossy();
                        if name_text.starts_with('.') && !text.starts_with('.') {
                            continue;
                        }
                        if pat.matches(&name_text) {
                            next.push(dir.join(&name));
                        }
                    }
                }
                next.sort();
                current = next;
            }
        }
    }
    current.retain(|p| matches!(walk_from(root, &Walked::root(), p), Ok(w) if !w.is_dir));
    current.sort();
    Ok(current)
}

// ---------------------------------------------------------------------------
// Path look-up inside root, keeping every symlink met
// ---------------------------------------------------------------------------

const MAX_SYMLINK_HOPS: u32 = 40;

/// A path looked up inside root.
#[derive(Clone, Debug)]
struct Walked {
    /// The path with no symlink left in it (inside root).
    phys: PathBuf,
    /// Every symlink met, in order: (link path without symlinks in its parent, stored target).
    links: Vec<(PathBuf, PathBuf)>,
    is_dir: bool,
    hops: u32,
}

impl Walked {
    fn root() -> Walked {
        Walked {
            phys: PathBuf::from("/"),
            links: Vec::new(),
            is_dir: true,
            hops: 0,
        }
    }
}

#[derive(Clone, Debug)]
enum WalkErr {
    Missing,
    Loop,
    Io(PathBuf, io::ErrorKind, String),
}

fn host(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// Looks `rest` up starting at `start` (a directory), like the kernel's path walk but
/// inside root: `..` never leaves root and absolute link targets restart at root.
fn walk_from(root: &Path, start: &Walked, rest: &Path) -> Result<Walked, WalkErr> {
    let mut w = start.clone();
    // Components still to look up, last one first; a symlink's target is pushed on top.
    let mut stack: Vec<OsString> = Vec::new();
    push_components(&mut stack, rest, &mut w);
    while let Some(c) = stack.pop() {
        if c == ".." {
            w.phys.pop();
            w.is_dir = true;
            continue;
        }
        if !w.is_dir {
            return Err(WalkErr::Missing);
        }
        let next = w.phys.join(&c);
        let host_next = host(root, &next);
        let md = match fs::symlink_metadata(&host_next) {
            Ok(md) => md,
            Err(e) if is_missing(&e) => return Err(WalkErr::Missing),
            Err(e) => return Err(WalkErr::Io(host_next, e.kind(), e.to_string())),
        };
        if md.file_type().is_symlink() {
            w.hops += 1;
            if w.hops > MAX_SYMLINK_HOPS {
                return Err(WalkErr::Loop);
            }
            let target = fs::read_link(&host_next)
                .map_err(|e| WalkErr::Io(host_next.clone(), e.kind(), e.to_string()))?;
            if target.as_os_str().is_empty() {
                return Err(WalkErr::Missing);
            }
            push_components(&mut stack, &target, &mut w);
            w.links.push((next, target));
        } else {
            w.phys = next;
            w.is_dir = md.is_dir();
        }
    }
    Ok(w)
}

/// Pushes the components of `p` (reversed, so they pop in order); an absolute `p`
/// restarts the walk at root.
fn push_components(stack: &mut Vec<OsString>, p: &Path, w: &mut Walked) {
    if p.is_absolute() {
        w.phys = PathBuf::from("/");
        w.is_dir = true;
    }
    for comp in p.components().rev() {
        match comp {
            Component::Normal(s) => stack.push(s.to_os_string()),
            Component::ParentDir => stack.push("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20 /* ENOTDIR */)
}

fn walk_error(e: WalkErr, chain: Vec<PathBuf>) -> Error {
    match e {
        WalkErr::Missing => Error::Missing { chain },
        WalkErr::Loop => Error::SymlinkLoop { chain },
        WalkErr::Io(path, kind, msg) => Error::Io {
            path,
            source: io::Error::new(kind, msg),
        },
    }
}

// ---------------------------------------------------------------------------
// Lightweight ELF / script parsing
// ---------------------------------------------------------------------------

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;

const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

const NT_FDO_DLOPEN: u32 = 0x407c_0c0a;

const EM_386: u16 = 3;
const EM_M68K: u16 = 4;
const EM_MIPS: u16 = 8;
const EM_PARISC: u16 = 15;
const EM_PPC: u16 = 20;
const EM_PPC64: u16 = 21;
const EM_S390: u16 = 22;
const EM_ARM: u16 = 40;
const EM_SPARCV9: u16 = 43;
const EM_IA_64: u16 = 50;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const EM_RISCV: u16 = 243;
const EM_LOONGARCH: u16 = 258;

/// Bytes read at the start of every file: enough for the ELF header, the program
/// headers and usually the interpreter and notes, or a `#!` line.
const HEAD_LEN: usize = 4096;
/// The kernel reads at most this much of a `#!` line.
const SHEBANG_MAX: usize = 256;
/// Notes larger than this are not read.
const MAX_NOTE_SEGMENT: u64 = 1 << 20;

/// What must match between an object and the libraries it loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Ident {
    class64: bool,
    little: bool,
    machine: u16,
}

impl Ident {
    /// The Debian multiarch tuple.
    fn triple(self) -> Option<&'static str> {
        Some(match (self.machine, self.class64, self.little) {
            (EM_X86_64, true, _) => "x86_64-linux-gnu",
            (EM_X86_64, false, _) => "x86_64-linux-gnux32",
            (EM_386, _, _) => "i386-linux-gnu",
            (EM_AARCH64, _, true) => "aarch64-linux-gnu",
            (EM_AARCH64, _, false) => "aarch64_be-linux-gnu",
            (EM_ARM, _, true) => "arm-linux-gnueabihf",
            (EM_PPC64, _, true) => "powerpc64le-linux-gnu",
            (EM_PPC64, _, false) => "powerpc64-linux-gnu",
            (EM_PPC, _, _) => "powerpc-linux-gnu",
            (EM_S390, true, _) => "s390x-linux-gnu",
            (EM_RISCV, true, _) => "riscv64-linux-gnu",
            (EM_LOONGARCH, true, _) => "loongarch64-linux-gnu",
            (EM_MIPS, true, true) => "mips64el-linux-gnuabi64",
            (EM_MIPS, true, false) => "mips64-linux-gnuabi64",
            (EM_MIPS, false, true) => "mipsel-linux-gnu",
            (EM_MIPS, false, false) => "mips-linux-gnu",
            (EM_SPARCV9, true, _) => "sparc64-linux-gnu",
            (EM_IA_64, _, _) => "ia64-linux-gnu",
            (EM_PARISC, _, _) => "hppa-linux-gnu",
            (EM_M68K, _, _) => "m68k-linux-gnu",
            _ => return None,
        })
    }

    /// The value of `$PLATFORM`; `None` drops the search path element, as glibc does
    /// when it does not know the platform.
    fn platform(self) -> Option<&'static str> {
        Some(match (self.machine, self.class64, self.little) {
            (EM_X86_64, _, _) => "x86_64",
            (EM_386, _, _) => "i686",
            (EM_AARCH64, _, _) => "aarch64",
            (EM_ARM, _, _) => "v7l",
            (EM_PPC64, _, true) => "ppc64le",
            (EM_PPC64, _, false) => "ppc64",
            (EM_PPC, _, _) => "ppc",
            (EM_S390, _, _) => "s390x",
            (EM_RISCV, _, _) => "riscv64",
            (EM_LOONGARCH, _, _) => "loongarch64",
            (EM_MIPS, true, _) => "mips64",
            (EM_MIPS, false, _) => "mips",
            (EM_SPARCV9, _, _) => "sparc64",
            (EM_IA_64, _, _) => "ia64",
            (EM_PARISC, _, _) => "parisc",
            (EM_M68K, _, _) => "m68k",
            _ => return None,
        })
    }
}

/// One `.note.dlopen` entry: alternative sonames, the first one found is used.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DlopenDep {
    sonames: Vec<String>,
    feature: Option<String>,
    priority: String,
}

/// What the resolver needs of an ELF file.
#[derive(Debug)]
struct ElfInfo {
    ident: Ident,
    interp: Option<String>,
    needed: Vec<String>,
    soname: Option<String>,
    /// `None` when the object has a `DT_RUNPATH` (then `DT_RPATH` is ignored).
    rpath: Option<String>,
    runpath: Option<String>,
    dlopen: Vec<DlopenDep>,
}

#[derive(Debug)]
struct Shebang {
    interp: String,
    arg: Option<String>,
}

#[derive(Clone, Debug)]
enum Kind {
    Elf(Rc<ElfInfo>),
    Script(Rc<Shebang>),
    Other,
}

#[derive(Clone, Debug)]
enum ParseErr {
    Io(io::ErrorKind, String),
    Bad(String),
}

impl From<io::Error> for ParseErr {
    fn from(e: io::Error) -> ParseErr {
        ParseErr::Io(e.kind(), e.to_string())
    }
}

fn bad<T>(msg: impl Into<String>) -> Result<T, ParseErr> {
    Err(ParseErr::Bad(format!("malformed ELF: {}", msg.into())))
}

fn parse_error(e: ParseErr, chain: Vec<PathBuf>, host_path: &Path) -> Error {
    match e {
        ParseErr::Io(kind, msg) => Error::Io {
            path: host_path.to_path_buf(),
            source: io::Error::new(kind, msg),
        },
        ParseErr::Bad(reason) => Error::Malformed { chain, reason },
    }
}

fn parse_file(host_path: &Path) -> Result<Kind, ParseErr> {
    let file = File::open(host_path)?;
    let len = file.metadata()?.len();
    let mut head = vec![0u8; HEAD_LEN.min(usize::try_from(len).unwrap_or(HEAD_LEN))];
    file.read_exact_at(&mut head, 0)?;
    if head.starts_with(b"#!") {
        return parse_shebang(&head).map(|s| Kind::Script(Rc::new(s)));
    }
    if head.len() < 16 || !head.starts_with(b"\x7fELF") {
        return Ok(Kind::Other);
    }
    parse_elf(&file, len, &head).map(|i| Kind::Elf(Rc::new(i)))
}

fn parse_shebang(head: &[u8]) -> Result<Shebang, ParseErr> {
    let line = &head[2..head.len().min(SHEBANG_MAX)];
    let line = match line.iter().position(|&b| b == b'\n') {
        Some(end) => &line[..end],
        None => line,
    };
    let line = String::from_utf8_lossy(line);
    // The kernel only splits on blanks and tabs (a '\r' stays part of the name).
    let line = line.trim_matches(|c| c == ' ' || c == '\t');
    let (interp, arg) = match line.find([' ', '\t']) {
        Some(pos) => (
            &line[..pos],
            line[pos..].trim_matches(|c| c == ' ' || c == '\t'),
        ),
        None => (line, ""),
    };
    if interp.is_empty() {
        return Err(ParseErr::Bad("empty #! line".into()));
    }
    Ok(Shebang {
        interp: interp.to_string(),
        arg: (!arg.is_empty()).then(|| arg.to_string()),
    })
}

/// Reads byte ranges of a file, from the already read head when it covers them.
struct Reader<'a> {
    file: &'a File,
    len: u64,
    head: &'a [u8],
}

impl Reader<'_> {
    fn bytes(&self, off: u64, size: u64, what: &str) -> Result<Cow<'_, [u8]>, ParseErr> {
        let Some(end) = off.checked_add(size).filter(|&e| e <= self.len) else {
            return bad(format!("{what} beyond the end of the file"));
        };
        if end <= self.head.len() as u64 {
            return Ok(Cow::Borrowed(&self.head[off as usize..end as usize]));
        }
        let mut buf = vec![0u8; size as usize];
        self.file.read_exact_at(&mut buf, off)?;
        Ok(Cow::Owned(buf))
    }
}

#[derive(Clone, Copy)]
struct Endian {
    little: bool,
    class64: bool,
}

impl Endian {
    fn u16(self, b: &[u8], o: usize) -> u16 {
        let a = [b[o], b[o + 1]];
        if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }

    fn u32(self, b: &[u8], o: usize) -> u32 {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }

    fn u64(self, b: &[u8], o: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        if self.little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }

    /// An address/offset-sized word.
    fn word(self, b: &[u8], o: usize) -> u64 {
        if self.class64 {
            self.u64(b, o)
        } else {
            u64::from(self.u32(b, o))
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Phdr {
    ty: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    align: u64,
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn parse_elf(file: &File, len: u64, head: &[u8]) -> Result<ElfInfo, ParseErr> {
    let class64 = match head[4] {
        1 => false,
        2 => true,
        c => return bad(format!("unknown ELF class {c}")),
    };
    let little = match head[5] {
        1 => true,
        2 => false,
        d => return bad(format!("unknown ELF data encoding {d}")),
    };
    let en = Endian { little, class64 };
    let ehsize = if class64 { 64 } else { 52 };
    if head.len() < ehsize {
        return bad("truncated ELF header");
    }
    let machine = en.u16(head, 18);
    let (phoff, phentsize, phnum) = if class64 {
        (en.u64(head, 32), en.u16(head, 54), en.u16(head, 56))
    } else {
        (
            u64::from(en.u32(head, 28)),
            en.u16(head, 42),
            en.u16(head, 44),
        )
    };
    let ident = Ident {
        class64,
        little,
        machine,
    };
    let r = Reader { file, len, head };

    let mut phdrs = Vec::with_capacity(usize::from(phnum));
    if phnum > 0 {
        let min = if class64 { 56 } else { 32 };
        if usize::from(phentsize) < min {
            return bad(format!("program header size {phentsize} too small"));
        }
        if phnum == 0xffff {
            return bad("extended program header count (PN_XNUM) not supported");
        }
        let table = r.bytes(
            phoff,
            u64::from(phentsize) * u64::from(phnum),
            "program headers",
        )?;
        for b in table.chunks_exact(usize::from(phentsize)) {
            phdrs.push(if class64 {
                Phdr {
                    ty: en.u32(b, 0),
                    offset: en.u64(b, 8),
                    vaddr: en.u64(b, 16),
                    filesz: en.u64(b, 32),
                    align: en.u64(b, 48),
                }
            } else {
                Phdr {
                    ty: en.u32(b, 0),
                    offset: u64::from(en.u32(b, 4)),
                    vaddr: u64::from(en.u32(b, 8)),
                    filesz: u64::from(en.u32(b, 16)),
                    align: u64::from(en.u32(b, 28)),
                }
            });
        }
    }

    let mut info = ElfInfo {
        ident,
        interp: None,
        needed: Vec::new(),
        soname: None,
        rpath: None,
        runpath: None,
        dlopen: Vec::new(),
    };

    for ph in &phdrs {
        match ph.ty {
            PT_INTERP if info.interp.is_none() => {
                let b = r.bytes(ph.offset, ph.filesz, "PT_INTERP")?;
                info.interp = Some(c_string(&b));
            }
            PT_NOTE if ph.filesz <= MAX_NOTE_SEGMENT => {
                let b = r.bytes(ph.offset, ph.filesz, "PT_NOTE")?;
                read_notes(&b, en, ph.align, &mut info.dlopen);
            }
            _ => {}
        }
    }

    if let Some(dynamic) = phdrs.iter().find(|p| p.ty == PT_DYNAMIC) {
        read_dynamic(&r, en, &phdrs, dynamic, &mut info)?;
    }
    Ok(info)
}

fn read_dynamic(
    r: &Reader<'_>,
    en: Endian,
    phdrs: &[Phdr],
    dynamic: &Phdr,
    info: &mut ElfInfo,
) -> Result<(), ParseErr> {
    let entsize = if en.class64 { 16 } else { 8 };
    let d = r.bytes(dynamic.offset, dynamic.filesz, "PT_DYNAMIC")?;
    let (mut strtab, mut strsz) = (None, None);
    let (mut needed, mut soname, mut rpath, mut runpath) = (Vec::new(), None, None, None);
    for e in d.chunks_exact(entsize) {
        let tag = en.word(e, 0);
        let val = en.word(e, entsize / 2);
        match tag {
            DT_NULL => break,
            DT_NEEDED => needed.push(val),
            DT_STRTAB => strtab = Some(val),
            DT_STRSZ => strsz = Some(val),
            DT_SONAME => soname = Some(val),
            DT_RPATH => rpath = Some(val),
            DT_RUNPATH => runpath = Some(val),
            _ => {}
        }
    }
    if needed.is_empty() && soname.is_none() && rpath.is_none() && runpath.is_none() {
        return Ok(());
    }
    let Some(addr) = strtab else {
        return bad("dynamic section without DT_STRTAB");
    };
    // DT_STRTAB is an address: find the loaded segment that maps it.
    let Some(seg) = phdrs
        .iter()
        .find(|p| p.ty == PT_LOAD && p.vaddr <= addr && addr - p.vaddr < p.filesz)
    else {
        return bad("DT_STRTAB outside the loaded segments");
    };
    let off = seg.offset + (addr - seg.vaddr);
    let seg_left = seg.filesz - (addr - seg.vaddr);
    let size = strsz.unwrap_or(seg_left).min(r.len.saturating_sub(off));
    let table = r.bytes(off, size, "string table")?;
    let string = |o: u64| -> Result<String, ParseErr> {
        match usize::try_from(o).ok().and_then(|o| table.get(o..)) {
            Some(b) => Ok(c_string(b)),
            None => bad("dynamic string offset outside the string table"),
        }
    };
    for o in needed {
        info.needed.push(string(o)?);
    }
    if let Some(o) = soname {
        info.soname = Some(string(o)?);
    }
    if let Some(o) = runpath {
        info.runpath = Some(string(o)?);
    } else if let Some(o) = rpath {
        info.rpath = Some(string(o)?);
    }
    Ok(())
}

/// Collects FDO dlopen notes. Malformed notes are logged and ignored: they only add
/// optional dependencies.
fn read_notes(b: &[u8], en: Endian, align: u64, out: &mut Vec<DlopenDep>) {
    let align = if align == 8 { 8 } else { 4 };
    let up = |n: usize| n.div_ceil(align) * align;
    let mut pos = 0usize;
    while pos + 12 <= b.len() {
        let namesz = en.u32(b, pos) as usize;
        let descsz = en.u32(b, pos + 4) as usize;
        let ty = en.u32(b, pos + 8);
        let name_start = pos + 12;
        let Some(desc_start) = name_start.checked_add(namesz).map(up) else {
            return;
        };
        let Some(desc_end) = desc_start.checked_add(descsz) else {
            return;
        };
        if desc_end > b.len() {
            return;
        }
        if ty == NT_FDO_DLOPEN && c_string(&b[name_start..name_start + namesz]) == "FDO" {
            let json = c_string(&b[desc_start..desc_end]);
            match parse_dlopen_json(&json) {
                Ok(deps) => out.extend(deps),
                Err(e) => log::warn!("ignoring malformed .note.dlopen: {e}"),
            }
        }
        pos = up(desc_end);
    }
}

/// Parses the note payload: a JSON array of objects (or, in the first version of the
/// specification, one object) with `soname` as an array of alternatives (or one string).
fn parse_dlopen_json(json: &str) -> Result<Vec<DlopenDep>, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let entries = match value {
        serde_json::Value::Array(a) => a,
        v @ serde_json::Value::Object(_) => vec![v],
        _ => return Err("not a JSON array or object".into()),
    };
    let mut deps = Vec::new();
    for entry in entries {
        let sonames: Vec<String> = match entry.get("soname") {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            _ => return Err("entry without \"soname\"".into()),
        };
        if sonames.is_empty() {
            continue;
        }
        deps.push(DlopenDep {
            sonames,
            feature: entry
                .get("feature")
                .and_then(|f| f.as_str())
                .map(str::to_string),
            priority: entry
                .get("priority")
                .and_then(|p| p.as_str())
                .unwrap_or("recommended")
                .to_string(),
        });
    }
    Ok(deps)
}

/// Expands `$ORIGIN`, `$LIB` and `$PLATFORM` (also in `${...}` form) in one search path
/// element. Unbraced tokens count only when followed by `/` or the end; unknown ones are
/// kept literally. `None` when the element cannot be used (unknown platform).
fn expand_dst(elem: &str, origin: &str, lib: &str, platform: Option<&str>) -> Option<String> {
    let mut out = String::with_capacity(elem.len() + origin.len());
    let mut rest = elem;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let mut matched = None;
        for name in ["ORIGIN", "LIB", "PLATFORM"] {
            if let Some(tail) = after
                .strip_prefix('{')
                .and_then(|a| a.strip_prefix(name))
                .and_then(|a| a.strip_prefix('}'))
            {
                matched = Some((name, tail));
                break;
            }
            if let Some(tail) = after.strip_prefix(name) {
                if tail.is_empty() || tail.starts_with('/') {
                    matched = Some((name, tail));
                    break;
                }
            }
        }
        match matched {
            Some((name, tail)) => {
                match name {
                    "ORIGIN" => out.push_str(origin),
                    "LIB" => out.push_str(lib),
                    _ => out.push_str(platform?),
                }
                rest = tail;
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

// ---------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------

const MAX_SCRIPT_DEPTH: usize = 8;

/// `PATH` used to look up `/usr/bin/env X` (and by the image builder to
/// find recipe programs), whatever the caller's own PATH is.
pub const SEARCH_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Libraries glibc loads with dlopen behind the program's back.
struct KnownDlopen {
    trigger: &'static str,
    sonames: &'static [&'static str],
    why: &'static str,
    warn_missing: bool,
}

const KNOWN_DLOPEN: &[KnownDlopen] = &[
    KnownDlopen {
        trigger: "libc.so.6",
        sonames: &["libnss_files.so.2"],
        why: "NSS module for files",
        warn_missing: true,
    },
    KnownDlopen {
        trigger: "libc.so.6",
        sonames: &["libnss_dns.so.2"],
        why: "NSS module for DNS",
        warn_missing: true,
    },
    KnownDlopen {
        trigger: "libc.so.6",
        sonames: &["libnss_compat.so.2"],
        why: "NSS module for compat",
        warn_missing: false,
    },
    KnownDlopen {
        trigger: "libc.so.6",
        sonames: &["libresolv.so.2"],
        why: "resolver for NSS DNS",
        warn_missing: true,
    },
    KnownDlopen {
        trigger: "libc.so.6",
        sonames: &["libgcc_s.so.1"],
        why: "unwinder for thread cancellation",
        warn_missing: true,
    },
    KnownDlopen {
        trigger: "libpthread.so.0",
        sonames: &["libgcc_s.so.1"],
        why: "unwinder for thread cancellation",
        warn_missing: true,
    },
];

/// What one wanted path contributes: the look-ups of every file it needs (shared with
/// other programs; turned into nodes once, when merging) and warnings.
#[derive(Debug, Default)]
struct ItemOut {
    walks: Vec<Rc<Walked>>,
    warnings: Vec<String>,
}

impl ItemOut {
    fn merge(&mut self, other: &ItemOut) {
        self.walks.extend(other.walks.iter().cloned());
        self.warnings.extend(other.warnings.iter().cloned());
    }
}

/// The nodes of a look-up: every symlink met and the file it ends at.
fn walk_nodes(w: &Walked) -> impl Iterator<Item = (&PathBuf, Node)> {
    w.links
        .iter()
        .map(|(link, target)| (link, Node::Symlink(target.clone())))
        .chain(std::iter::once((
            &w.phys,
            if w.is_dir { Node::Dir } else { Node::File },
        )))
}

/// A library found in a search directory.
#[derive(Clone)]
struct Found {
    logical: PathBuf,
    walked: Rc<Walked>,
    info: Rc<ElfInfo>,
}

/// An object in one program's link map.
struct Obj {
    /// The path it was opened by (for `$ORIGIN` and messages).
    logical: PathBuf,
    info: Rc<ElfInfo>,
    loader: Option<usize>,
    origin: String,
}

/// A pending dlopen: alternative names, looked up with `loader`'s search path.
struct Request {
    loader: usize,
    names: Vec<String>,
    why: String,
    warn_missing: bool,
}

#[derive(Clone, Copy)]
struct Mark {
    objs: usize,
    walks: usize,
    warnings: usize,
}

/// One program's link map.
#[derive(Default)]
struct Tree {
    objs: Vec<Obj>,
    by_name: HashMap<String, usize>,
    by_phys: HashMap<OsString, usize>,
    walks: Vec<Rc<Walked>>,
    warnings: Vec<String>,
}

impl Tree {
    fn add(&mut self, obj: Obj, phys: &Path) -> usize {
        let idx = self.objs.len();
        if let Some(s) = &obj.info.soname {
            self.by_name.entry(s.clone()).or_insert(idx);
        }
        self.by_name
            .entry(obj.logical.to_string_lossy().into_owned())
            .or_insert(idx);
        self.by_phys
            .entry(phys.as_os_str().to_os_string())
            .or_insert(idx);
        self.objs.push(obj);
        idx
    }

    /// Adds a found library needed as `name` by `loader`; `Some(index)` when it is new.
    fn load(&mut self, f: Found, loader: usize, name: &str) -> Option<usize> {
        self.walks.push(f.walked.clone());
        if let Some(&idx) = self.by_phys.get(f.walked.phys.as_os_str()) {
            self.by_name.entry(name.to_string()).or_insert(idx);
            return None;
        }
        let origin = f
            .logical
            .parent()
            .unwrap_or(Path::new("/"))
            .to_string_lossy()
            .into_owned();
        let idx = self.add(
            Obj {
                logical: f.logical,
                info: f.info,
                loader: Some(loader),
                origin,
            },
            &f.walked.phys,
        );
        self.by_name.entry(name.to_string()).or_insert(idx);
        Some(idx)
    }

    fn mark(&self) -> Mark {
        Mark {
            objs: self.objs.len(),
            walks: self.walks.len(),
            warnings: self.warnings.len(),
        }
    }

    fn rollback(&mut self, m: Mark) {
        self.objs.truncate(m.objs);
        self.walks.truncate(m.walks);
        self.warnings.truncate(m.warnings);
        self.by_name.retain(|_, i| *i < m.objs);
        self.by_phys.retain(|_, i| *i < m.objs);
    }
}

// Memo maps are keyed by the bytes of the path (cheaper to hash and compare than `Path`,
// which works component by component); the paths used here are built by joining
// components, so equal paths have equal bytes.
type WalkMemo = HashMap<OsString, Result<Rc<Walked>, WalkErr>>;

/// Caches for one `resolve` call.
struct Ctx<'r> {
    res: &'r Resolver,
    walks: RefCell<WalkMemo>,
    kinds: RefCell<HashMap<OsString, Result<Kind, ParseErr>>>,
    items: RefCell<HashMap<OsString, Rc<ItemOut>>>,
    std_dirs: RefCell<HashMap<Ident, Rc<Vec<PathBuf>>>>,
    std_found: RefCell<HashMap<Ident, HashMap<String, Option<Found>>>>,
    libdirs: RefCell<HashMap<Ident, Rc<str>>>,
}

impl<'r> Ctx<'r> {
    fn new(res: &'r Resolver) -> Ctx<'r> {
        Ctx {
            res,
            walks: RefCell::default(),
            kinds: RefCell::default(),
            items: RefCell::default(),
            std_dirs: RefCell::default(),
            std_found: RefCell::default(),
            libdirs: RefCell::default(),
        }
    }

    /// Looks a path up inside root, reusing the look-up of its parent directory.
    fn walk(&self, p: &Path) -> Result<Rc<Walked>, WalkErr> {
        let cached = self.walks.borrow().get(p.as_os_str()).cloned();
        if let Some(r) = cached {
            return r;
        }
        let root = &self.res.root;
        let r = match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) if parent != Path::new("/") => self
                .walk(parent)
                .and_then(|base| walk_from(root, &base, Path::new(name))),
            _ => walk_from(root, &Walked::root(), p),
        }
        .map(Rc::new);
        self.walks
            .borrow_mut()
            .insert(p.as_os_str().to_os_string(), r.clone());
        r
    }

    /// What kind of file a physical path (inside root) is; parsed once.
    fn kind(&self, phys: &Path) -> Result<Kind, ParseErr> {
        let cached = self.kinds.borrow().get(phys.as_os_str()).cloned();
        if let Some(k) = cached {
            return k;
        }
        let k = parse_file(&host(&self.res.root, phys));
        self.kinds
            .borrow_mut()
            .insert(phys.as_os_str().to_os_string(), k.clone());
        k
    }

    fn host(&self, p: &Path) -> PathBuf {
        host(&self.res.root, p)
    }

    /// `$LIB`: see the module documentation.
    fn libdir(&self, ident: Ident) -> Rc<str> {
        if let Some(l) = self.libdirs.borrow().get(&ident) {
            return l.clone();
        }
        let multiarch = ident
            .triple()
            .filter(|t| matches!(self.walk(&Path::new("/usr/lib").join(t)), Ok(w) if w.is_dir));
        let l: Rc<str> = match multiarch {
            Some(t) => format!("lib/{t}").into(),
            None if ident.class64 => "lib64".into(),
            None => "lib".into(),
        };
        self.libdirs.borrow_mut().insert(ident, l.clone());
        l
    }

    /// The directories of ld.so.conf, then the default ones for objects of kind `ident`.
    fn std_dirs(&self, ident: Ident) -> Rc<Vec<PathBuf>> {
        if let Some(d) = self.std_dirs.borrow().get(&ident) {
            return d.clone();
        }
        let mut dirs = self.res.conf_dirs.clone();
        if let Some(t) = ident.triple() {
            dirs.push(Path::new("/lib").join(t));
            dirs.push(Path::new("/usr/lib").join(t));
        }
        let bits = if ident.class64 { "64" } else { "32" };
        dirs.push(PathBuf::from(format!("/lib{bits}")));
        dirs.push(PathBuf::from(format!("/usr/lib{bits}")));
        dirs.push(PathBuf::from("/lib"));
        dirs.push(PathBuf::from("/usr/lib"));
        let mut seen = HashSet::new();
        dirs.retain(|d| seen.insert(d.clone()));
        let dirs = Rc::new(dirs);
        self.std_dirs.borrow_mut().insert(ident, dirs.clone());
        dirs
    }

    fn expand_list(&self, list: &str, origin: &str, ident: Ident, out: &mut Vec<PathBuf>) {
        let lib = self.libdir(ident);
        for elem in list.split(':').filter(|e| !e.is_empty()) {
            if let Some(dir) = expand_dst(elem, origin, &lib, ident.platform()) {
                // Relative elements depend on the working directory: not usable here.
                if dir.starts_with('/') {
                    out.push(PathBuf::from(dir));
                }
            }
        }
    }

    /// Where `ld.so` looks for the needs of object `i` before the standard directories:
    /// its RUNPATH, or the RPATHs of it and its loaders (see the module documentation).
    /// Usually empty.
    fn own_dirs(&self, t: &Tree, i: usize) -> Vec<PathBuf> {
        let o = &t.objs[i];
        let mut dirs = Vec::new();
        match &o.info.runpath {
            Some(runpath) => self.expand_list(runpath, &o.origin, o.info.ident, &mut dirs),
            None => {
                let mut saw_program = false;
                let mut j = Some(i);
                while let Some(k) = j {
                    let ok = &t.objs[k];
                    saw_program |= k == 0;
                    if let Some(rpath) = &ok.info.rpath {
                        self.expand_list(rpath, &ok.origin, ok.info.ident, &mut dirs);
                    }
                    j = ok.loader;
                }
                if !saw_program {
                    let p = &t.objs[0];
                    if let Some(rpath) = &p.info.rpath {
                        self.expand_list(rpath, &p.origin, p.info.ident, &mut dirs);
                    }
                }
            }
        }
        dirs
    }

    /// Every directory searched for the needs of object `i`, in order (for messages).
    fn search_dirs(&self, t: &Tree, i: usize) -> Vec<PathBuf> {
        let mut dirs = self.own_dirs(t, i);
        dirs.extend(self.std_dirs(t.objs[i].info.ident).iter().cloned());
        let mut seen = HashSet::new();
        dirs.retain(|d| seen.insert(d.clone()));
        dirs
    }

    /// `p` as a library for an object of kind `ident`: an ELF file of the same class,
    /// data encoding and machine.
    fn candidate(&self, p: &Path, ident: Ident) -> Option<Found> {
        let w = self.walk(p).ok()?;
        if w.is_dir {
            return None;
        }
        match self.kind(&w.phys) {
            Ok(Kind::Elf(info)) if info.ident == ident => Some(Found {
                logical: p.to_path_buf(),
                walked: w,
                info,
            }),
            _ => None,
        }
    }

    /// `name` in `own` (an object's RUNPATH or RPATHs), then in the standard directories.
    fn search(&self, name: &str, own: &[PathBuf], ident: Ident) -> Option<Found> {
        own.iter()
            .find_map(|d| self.candidate(&d.join(name), ident))
            .or_else(|| self.search_std(name, ident))
    }

    /// `name` in the standard directories; the answer is the same for every object of
    /// kind `ident`, so it is cached.
    fn search_std(&self, name: &str, ident: Ident) -> Option<Found> {
        if let Some(found) = self
            .std_found
            .borrow()
            .get(&ident)
            .and_then(|m| m.get(name))
        {
            return found.clone();
        }
        let found = self
            .std_dirs(ident)
            .iter()
            .find_map(|d| self.candidate(&d.join(name), ident));
        self.std_found
            .borrow_mut()
            .entry(ident)
            .or_default()
            .insert(name.to_string(), found.clone());
        found
    }

    /// The chain of objects that led to object `i`, for messages.
    fn chain(&self, t: &Tree, i: usize, prefix: &[PathBuf]) -> Vec<PathBuf> {
        let mut objs = Vec::new();
        let mut j = Some(i);
        while let Some(k) = j {
            objs.push(t.objs[k].logical.clone());
            j = t.objs[k].loader;
        }
        objs.reverse();
        prefix.iter().cloned().chain(objs).collect()
    }

    /// Everything a wanted path (or a script interpreter) brings in; cached per path.
    fn item(&self, path: &Path, prefix: &[PathBuf], depth: usize) -> Result<Rc<ItemOut>, Error> {
        let cached = self.items.borrow().get(path.as_os_str()).cloned();
        if let Some(out) = cached {
            return Ok(out);
        }
        let mut chain = prefix.to_vec();
        chain.push(path.to_path_buf());
        if depth > MAX_SCRIPT_DEPTH {
            return Err(Error::Malformed {
                chain,
                reason: format!("#! interpreters nested deeper than {MAX_SCRIPT_DEPTH}"),
            });
        }
        let w = self.walk(path).map_err(|e| walk_error(e, chain.clone()))?;
        if w.is_dir {
            return Err(Error::IsDirectory {
                path: path.to_path_buf(),
            });
        }
        let mut out = ItemOut::default();
        out.walks.push(w.clone());
        let kind = self
            .kind(&w.phys)
            .map_err(|e| parse_error(e, chain.clone(), &self.host(&w.phys)))?;
        match kind {
            Kind::Other => {}
            Kind::Script(sb) => self.script(&sb, &chain, depth, &mut out)?,
            Kind::Elf(info) => self.program(path, &w, info, prefix, &mut out)?,
        }
        let out = Rc::new(out);
        self.items
            .borrow_mut()
            .insert(path.as_os_str().to_os_string(), out.clone());
        Ok(out)
    }

    fn script(
        &self,
        sb: &Shebang,
        chain: &[PathBuf],
        depth: usize,
        out: &mut ItemOut,
    ) -> Result<(), Error> {
        let interp = Path::new(&sb.interp);
        if !interp.is_absolute() {
            return Err(Error::Malformed {
                chain: chain.to_vec(),
                reason: format!("#! interpreter {:?} is not an absolute path", sb.interp),
            });
        }
        out.merge(&*self.item(interp, chain, depth + 1)?);
        if interp.file_name() != Some("env".as_ref()) {
            return Ok(());
        }
        let Some(cmd) = sb.arg.as_deref().and_then(env_command) else {
            return Ok(());
        };
        let mut env_chain = chain.to_vec();
        env_chain.push(interp.to_path_buf());
        let target = if cmd.starts_with('/') {
            PathBuf::from(cmd)
        } else if cmd.contains('/') {
            out.warnings.push(format!(
                "{} → {cmd}: relative path depends on the working directory; not resolved",
                Chain(&env_chain)
            ));
            return Ok(());
        } else {
            self.find_in_path(cmd).ok_or_else(|| Error::NotFound {
                chain: env_chain.clone(),
                name: cmd.to_string(),
                searched: SEARCH_PATH.iter().map(PathBuf::from).collect(),
            })?
        };
        out.merge(&*self.item(&target, chain, depth + 1)?);
        Ok(())
    }

    /// An executable regular file called `name` in [`SEARCH_PATH`].
    fn find_in_path(&self, name: &str) -> Option<PathBuf> {
        SEARCH_PATH
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| {
                let Ok(w) = self.walk(p) else { return false };
                !w.is_dir
                    && fs::metadata(self.host(&w.phys))
                        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                        .unwrap_or(false)
            })
    }

    /// The link map of an ELF program (or of a wanted library).
    fn program(
        &self,
        path: &Path,
        w: &Walked,
        info: Rc<ElfInfo>,
        prefix: &[PathBuf],
        out: &mut ItemOut,
    ) -> Result<(), Error> {
        let mut t = Tree::default();
        // $ORIGIN of the program is the directory of its resolved path (/proc/self/exe).
        let origin = w
            .phys
            .parent()
            .unwrap_or(Path::new("/"))
            .to_string_lossy()
            .into_owned();
        let interp = info.interp.clone();
        let root = t.add(
            Obj {
                logical: path.to_path_buf(),
                info,
                loader: None,
                origin,
            },
            &w.phys,
        );
        let mut queue = VecDeque::from([root]);
        if let Some(interp) = interp {
            let ip = PathBuf::from(&interp);
            let mut chain = prefix.to_vec();
            chain.extend([path.to_path_buf(), ip.clone()]);
            if !ip.is_absolute() {
                return Err(Error::Malformed {
                    chain,
                    reason: "ELF interpreter is not an absolute path".into(),
                });
            }
            let iw = self.walk(&ip).map_err(|e| walk_error(e, chain.clone()))?;
            t.walks.push(iw.clone());
            let kind = self
                .kind(&iw.phys)
                .map_err(|e| parse_error(e, chain, &self.host(&iw.phys)))?;
            if let Kind::Elf(ii) = kind {
                let origin = ip
                    .parent()
                    .unwrap_or(Path::new("/"))
                    .to_string_lossy()
                    .into_owned();
                let idx = t.add(
                    Obj {
                        logical: ip,
                        info: ii,
                        loader: None,
                        origin,
                    },
                    &iw.phys,
                );
                queue.push_back(idx);
            }
        }
        let mut pending = VecDeque::new();
        self.drain(&mut t, queue, &mut pending, prefix)?;
        while let Some(req) = pending.pop_front() {
            self.dlopen(&mut t, req, &mut pending, prefix);
        }
        out.walks.append(&mut t.walks);
        out.warnings.append(&mut t.warnings);
        Ok(())
    }

    /// Breadth-first: loads the needs of every object in `queue` and of what they load.
    fn drain(
        &self,
        t: &mut Tree,
        mut queue: VecDeque<usize>,
        pending: &mut VecDeque<Request>,
        prefix: &[PathBuf],
    ) -> Result<(), Error> {
        while let Some(i) = queue.pop_front() {
            let info = t.objs[i].info.clone();
            for dep in &info.dlopen {
                pending.push_back(Request {
                    loader: i,
                    names: dep.sonames.clone(),
                    why: format!(
                        "dlopen note{}, priority {}",
                        dep.feature
                            .as_deref()
                            .map(|f| format!(" for {f}"))
                            .unwrap_or_default(),
                        dep.priority
                    ),
                    warn_missing: true,
                });
            }
            if let Some(soname) = &info.soname {
                for k in KNOWN_DLOPEN.iter().filter(|k| k.trigger == soname) {
                    pending.push_back(Request {
                        loader: i,
                        names: k.sonames.iter().map(|s| s.to_string()).collect(),
                        why: format!("dlopen by {soname}: {}", k.why),
                        warn_missing: k.warn_missing,
                    });
                }
            }
            let mut own: Option<Vec<PathBuf>> = None;
            for need in &info.needed {
                if t.by_name.contains_key(need) {
                    continue;
                }
                if need.contains('/') {
                    if !need.starts_with('/') {
                        let chain = self.chain(t, i, prefix);
                        t.warnings.push(format!(
                            "{} → {need}: relative DT_NEEDED path depends on the working \
                             directory; not resolved",
                            Chain(&chain)
                        ));
                        continue;
                    }
                    match self.candidate(Path::new(need), info.ident) {
                        Some(f) => {
                            if let Some(idx) = t.load(f, i, need) {
                                queue.push_back(idx);
                            }
                        }
                        None => {
                            let mut chain = self.chain(t, i, prefix);
                            chain.push(PathBuf::from(need));
                            return Err(Error::Missing { chain });
                        }
                    }
                    continue;
                }
                let own = own.get_or_insert_with(|| self.own_dirs(t, i));
                match self.search(need, own, info.ident) {
                    Some(f) => {
                        if let Some(idx) = t.load(f, i, need) {
                            queue.push_back(idx);
                        }
                    }
                    None => {
                        return Err(Error::NotFound {
                            chain: self.chain(t, i, prefix),
                            name: need.clone(),
                            searched: self.search_dirs(t, i),
                        })
                    }
                }
            }
        }
        Ok(())
    }

    /// A dlopen the program will do: found ones are loaded with all they need; whatever
    /// fails becomes a warning and is left out.
    fn dlopen(
        &self,
        t: &mut Tree,
        req: Request,
        pending: &mut VecDeque<Request>,
        prefix: &[PathBuf],
    ) {
        if req.names.iter().any(|n| t.by_name.contains_key(n)) {
            return;
        }
        let ident = t.objs[req.loader].info.ident;
        let own = self.own_dirs(t, req.loader);
        let found = req
            .names
            .iter()
            .find_map(|n| self.search(n, &own, ident).map(|f| (n, f)));
        let Some((name, f)) = found else {
            if req.warn_missing {
                // Named by the object doing the dlopen only, so that the warning is given
                // once, not once per program that ends up loading that object.
                t.warnings.push(format!(
                    "{} → {} ({}): not found in [{}]",
                    t.objs[req.loader].logical.display(),
                    req.names.join(" | "),
                    req.why,
                    Dirs(&self.search_dirs(t, req.loader))
                ));
            }
            return;
        };
        let mark = t.mark();
        let pending_len = pending.len();
        if let Some(idx) = t.load(f, req.loader, name) {
            if let Err(e) = self.drain(t, VecDeque::from([idx]), pending, prefix) {
                t.rollback(mark);
                pending.truncate(pending_len);
                t.warnings
                    .push(format!("{e} (for {name}, {}; left out)", req.why));
            }
        }
    }
}

/// The program `env` runs, from the rest of a `#!/usr/bin/env ...` line.
fn env_command(arg: &str) -> Option<&str> {
    let mut words = arg.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "-u" | "--unset" | "-C" | "--chdir" => {
                words.next();
            }
            _ if w.starts_with('-') || w.contains('=') => {}
            _ => return Some(w),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::process::Command;

    const MA: &str = "x86_64-linux-gnu";

    // -- hand-made ELF files -------------------------------------------------

    /// A minimal ELF file: header, program headers (one PT_LOAD over the whole file,
    /// PT_INTERP if `interp`, PT_DYNAMIC if `dynamic` is not empty, PT_NOTE if `note`),
    /// then the interpreter, the notes, the string table and the dynamic array.
    fn craft_elf(
        class64: bool,
        little: bool,
        machine: u16,
        interp: Option<&str>,
        dynamic: &[(u64, &str)],
        note: Option<&[u8]>,
    ) -> Vec<u8> {
        let (ehsize, phentsize, word) = if class64 { (64, 56, 8) } else { (52, 32, 4) };
        let base: u64 = 0x40_0000;
        let mut phnum = 1;
        phnum += usize::from(interp.is_some());
        phnum += usize::from(!dynamic.is_empty());
        phnum += usize::from(note.is_some());
        let mut off = ehsize + phnum * phentsize;
        let interp_off = off;
        let interp_bytes = interp
            .map(|i| format!("{i}\0").into_bytes())
            .unwrap_or_default();
        off += interp_bytes.len();
        off = off.div_ceil(4) * 4;
        let note_off = off;
        let note_bytes = note.unwrap_or(&[]).to_vec();
        off += note_bytes.len();
        let str_off = off;
        let mut strtab = vec![0u8];
        let mut dyn_vals = Vec::new();
        for (tag, s) in dynamic {
            dyn_vals.push((*tag, strtab.len() as u64));
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
        }
        off += strtab.len();
        off = off.div_ceil(8) * 8;
        let dyn_off = off;
        let mut dyn_entries = dyn_vals;
        if !dynamic.is_empty() {
            dyn_entries.push((DT_STRTAB, base + str_off as u64));
            dyn_entries.push((DT_STRSZ, strtab.len() as u64));
            dyn_entries.push((DT_NULL, 0));
        }
        let dyn_size = if dynamic.is_empty() {
            0
        } else {
            dyn_entries.len() * 2 * word
        };
        let total = dyn_off + dyn_size;

        let mut b = vec![0u8; total];
        let put = |b: &mut Vec<u8>, at: usize, v: u64, n: usize| {
            let bytes = if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            let src = if little { &bytes[..n] } else { &bytes[8 - n..] };
            b[at..at + n].copy_from_slice(src);
        };
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = if class64 { 2 } else { 1 };
        b[5] = if little { 1 } else { 2 };
        b[6] = 1;
        put(&mut b, 16, 3, 2); // ET_DYN
        put(&mut b, 18, u64::from(machine), 2);
        put(&mut b, 20, 1, 4);
        if class64 {
            put(&mut b, 32, ehsize as u64, 8);
            put(&mut b, 52, ehsize as u64, 2);
            put(&mut b, 54, phentsize as u64, 2);
            put(&mut b, 56, phnum as u64, 2);
        } else {
            put(&mut b, 28, ehsize as u64, 4);
            put(&mut b, 40, ehsize as u64, 2);
            put(&mut b, 42, phentsize as u64, 2);
            put(&mut b, 44, phnum as u64, 2);
        }
        let mut ph = ehsize;
        let mut phdr = |b: &mut Vec<u8>, ty: u32, offset: usize, size: usize, align: u64| {
            if class64 {
                put(b, ph, u64::from(ty), 4);
                put(b, ph + 8, offset as u64, 8);
                put(b, ph + 16, base + offset as u64, 8);
                put(b, ph + 24, base + offset as u64, 8);
                put(b, ph + 32, size as u64, 8);
                put(b, ph + 40, size as u64, 8);
                put(b, ph + 48, align, 8);
            } else {
                put(b, ph, u64::from(ty), 4);
                put(b, ph + 4, offset as u64, 4);
                put(b, ph + 8, base + offset as u64, 4);
                put(b, ph + 12, base + offset as u64, 4);
                put(b, ph + 16, size as u64, 4);
                put(b, ph + 20, size as u64, 4);
                put(b, ph + 28, align, 4);
            }
            ph += phentsize;
        };
        phdr(&mut b, PT_LOAD, 0, total, 0x1000);
        if interp.is_some() {
            phdr(&mut b, PT_INTERP, interp_off, interp_bytes.len(), 1);
        }
        if note.is_some() {
            phdr(&mut b, PT_NOTE, note_off, note_bytes.len(), 4);
        }
        if !dynamic.is_empty() {
            phdr(&mut b, PT_DYNAMIC, dyn_off, dyn_size, 8);
        }
        b[interp_off..interp_off + interp_bytes.len()].copy_from_slice(&interp_bytes);
        b[note_off..note_off + note_bytes.len()].copy_from_slice(&note_bytes);
        b[str_off..str_off + strtab.len()].copy_from_slice(&strtab);
        for (i, (tag, val)) in dyn_entries.iter().enumerate() {
            let at = dyn_off + i * 2 * word;
            put(&mut b, at, *tag, word);
            put(&mut b, at + word, *val, word);
        }
        b
    }

    /// An x86-64 little-endian ELF with the given dynamic entries.
    fn x64(dynamic: &[(u64, &str)]) -> Vec<u8> {
        craft_elf(true, true, EM_X86_64, None, dynamic, None)
    }

    fn fdo_note(json: &str, little: bool) -> Vec<u8> {
        let desc = format!("{json}\0").into_bytes();
        let u32b = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let mut n = Vec::new();
        n.extend_from_slice(&u32b(4));
        n.extend_from_slice(&u32b(desc.len() as u32));
        n.extend_from_slice(&u32b(NT_FDO_DLOPEN));
        n.extend_from_slice(b"FDO\0");
        n.extend_from_slice(&desc);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n
    }

    fn parse_bytes(bytes: &[u8]) -> Result<Kind, ParseErr> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, bytes).unwrap();
        parse_file(&p)
    }

    fn elf_info(bytes: &[u8]) -> Rc<ElfInfo> {
        match parse_bytes(bytes) {
            Ok(Kind::Elf(i)) => i,
            other => panic!("not parsed as ELF: {other:?}"),
        }
    }

    // -- fake roots ----------------------------------------------------------

    struct Fake {
        dir: tempfile::TempDir,
    }

    impl Fake {
        /// An empty merged-/usr root with /etc/ld.so.conf including conf.d/*.conf,
        /// which lists the Debian multiarch dirs.
        fn bare() -> Fake {
            let f = Fake {
                dir: tempfile::tempdir().unwrap(),
            };
            for d in [
                "usr/bin",
                "usr/sbin",
                "usr/lib64",
                "etc/ld.so.conf.d",
                &format!("usr/lib/{MA}"),
            ] {
                fs::create_dir_all(f.root().join(d)).unwrap();
            }
            for (l, t) in [
                ("/bin", "usr/bin"),
                ("/sbin", "usr/sbin"),
                ("/lib", "usr/lib"),
                ("/lib64", "usr/lib64"),
            ] {
                f.link(l, t);
            }
            f.write("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
            f.write(
                &format!("/etc/ld.so.conf.d/{MA}.conf"),
                format!("# Multiarch support\n/usr/local/lib/{MA}\n/lib/{MA}\n/usr/lib/{MA}\n"),
            );
            f
        }

        /// `bare` plus the host's dynamic loader and libc at Debian's places, with
        /// /usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2.
        fn with_libc() -> Fake {
            let f = Fake::bare();
            f.copy_host(
                &format!("/usr/lib/{MA}/libc.so.6"),
                &format!("/usr/lib/{MA}/libc.so.6"),
            );
            f.copy_host(
                &format!("/usr/lib/{MA}/ld-linux-x86-64.so.2"),
                &format!("/usr/lib/{MA}/ld-linux-x86-64.so.2"),
            );
            f.link(
                "/usr/lib64/ld-linux-x86-64.so.2",
                &format!("/lib/{MA}/ld-linux-x86-64.so.2"),
            );
            f
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn host(&self, inside: &str) -> PathBuf {
            host(self.root(), Path::new(inside))
        }

        fn mkdirs(&self, inside: &str) {
            fs::create_dir_all(self.host(inside)).unwrap();
        }

        fn write(&self, inside: &str, content: impl AsRef<[u8]>) {
            let p = self.host(inside);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, content).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }

        fn copy_host(&self, host_src: &str, inside: &str) {
            let src = fs::canonicalize(host_src)
                .unwrap_or_else(|e| panic!("host file {host_src} needed by this test: {e}"));
            let dst = self.host(inside);
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            fs::copy(&src, &dst).unwrap();
        }

        fn copy_file(&self, src: &Path, inside: &str) {
            let dst = self.host(inside);
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            fs::copy(src, &dst).unwrap();
        }

        fn link(&self, inside: &str, target: &str) {
            let p = self.host(inside);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            symlink(target, &p).unwrap();
        }

        fn resolver(&self) -> Resolver {
            Resolver::new(self.root()).unwrap()
        }

        fn resolve(&self, paths: &[&str]) -> Result<Closure, Error> {
            let wants: Vec<Want> = paths.iter().map(|p| Want::required(*p)).collect();
            self.resolver().resolve(&wants)
        }
    }

    fn node(c: &Closure, p: &str) -> Option<Node> {
        c.nodes.get(Path::new(p)).cloned()
    }

    fn sym(target: &str) -> Option<Node> {
        Some(Node::Symlink(PathBuf::from(target)))
    }

    /// Compiles C source with gcc into `dir/out`.
    fn cc(dir: &Path, out: &str, src: &str, args: &[&str]) -> PathBuf {
        let c = dir.join(format!("{out}.c"));
        fs::write(&c, src).unwrap();
        let o = dir.join(out);
        let res = Command::new("gcc")
            .arg("-o")
            .arg(&o)
            .arg(&c)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("gcc is needed by this test");
        assert!(
            res.status.success(),
            "gcc {args:?} failed: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        o
    }

    /// A shared library `name` (also its soname) defining `int <func>(void)`, which calls
    /// `calls` if given (linked against `link`, a file in `dir`).
    fn cc_lib(dir: &Path, name: &str, func: &str, calls: Option<(&str, &str)>) -> PathBuf {
        let soname = format!("-Wl,-soname,{name}");
        let (src, link) = match calls {
            Some((callee, file)) => (
                format!("int {callee}(void); int {func}(void) {{ return {callee}() + 1; }}\n"),
                Some(format!("-l:{file}")),
            ),
            None => (format!("int {func}(void) {{ return 1; }}\n"), None),
        };
        let mut args = vec!["-shared", "-fPIC", &soname, "-L."];
        if let Some(l) = &link {
            args.push(l);
        }
        cc(dir, name, &src, &args)
    }

    // -- pure functions --------------------------------------------------------

    #[test]
    fn dst_expansion() {
        let p = Some("x86_64");
        let e = |s| expand_dst(s, "/opt/app/bin", "lib/x86_64-linux-gnu", p);
        assert_eq!(e("$ORIGIN/../lib").unwrap(), "/opt/app/bin/../lib");
        assert_eq!(e("${ORIGIN}/../lib").unwrap(), "/opt/app/bin/../lib");
        assert_eq!(e("$ORIGIN").unwrap(), "/opt/app/bin");
        assert_eq!(e("/usr/$LIB/x").unwrap(), "/usr/lib/x86_64-linux-gnu/x");
        assert_eq!(e("/usr/${LIB}x").unwrap(), "/usr/lib/x86_64-linux-gnux");
        assert_eq!(e("/opt/$PLATFORM/lib").unwrap(), "/opt/x86_64/lib");
        assert_eq!(e("/opt/${PLATFORM}").unwrap(), "/opt/x86_64");
        // Not followed by '/' or the end, or unknown: left alone, like glibc.
        assert_eq!(e("/opt/$ORIGINAL").unwrap(), "/opt/$ORIGINAL");
        assert_eq!(e("/opt/$HOME/x").unwrap(), "/opt/$HOME/x");
        assert_eq!(e("/opt/$").unwrap(), "/opt/$");
        assert_eq!(expand_dst("/$PLATFORM", "/", "lib", None), None);
    }

    #[test]
    fn triples_and_platforms() {
        let id = |class64, little, machine| Ident {
            class64,
            little,
            machine,
        };
        assert_eq!(id(true, true, EM_X86_64).triple(), Some("x86_64-linux-gnu"));
        assert_eq!(id(false, true, EM_386).triple(), Some("i386-linux-gnu"));
        assert_eq!(
            id(true, true, EM_AARCH64).triple(),
            Some("aarch64-linux-gnu")
        );
        assert_eq!(
            id(true, true, EM_PPC64).triple(),
            Some("powerpc64le-linux-gnu")
        );
        assert_eq!(id(true, false, EM_S390).triple(), Some("s390x-linux-gnu"));
        assert_eq!(id(true, true, EM_RISCV).triple(), Some("riscv64-linux-gnu"));
        assert_eq!(id(true, true, 0x1234).triple(), None);
        assert_eq!(id(false, true, EM_386).platform(), Some("i686"));
        assert_eq!(id(true, true, EM_X86_64).platform(), Some("x86_64"));
        assert_eq!(id(true, true, EM_AARCH64).platform(), Some("aarch64"));
    }

    #[test]
    fn env_command_skips_options_and_assignments() {
        assert_eq!(env_command("python3"), Some("python3"));
        assert_eq!(env_command("-S python3 -u"), Some("python3"));
        assert_eq!(env_command("-i FOO=1 perl -w"), Some("perl"));
        assert_eq!(env_command("-u HOME -C /tmp bash"), Some("bash"));
        assert_eq!(env_command("-i"), None);
    }

    #[test]
    fn shebang_lines() {
        let s = parse_shebang(b"#!/bin/sh\necho\n").unwrap();
        assert_eq!((s.interp.as_str(), s.arg), ("/bin/sh", None));
        let s = parse_shebang(b"#! /usr/bin/env  python3 -u \nx").unwrap();
        assert_eq!(s.interp, "/usr/bin/env");
        assert_eq!(s.arg.as_deref(), Some("python3 -u"));
        let s = parse_shebang(b"#!/bin/bash\t-e").unwrap();
        assert_eq!(
            (s.interp.as_str(), s.arg.as_deref()),
            ("/bin/bash", Some("-e"))
        );
        assert!(parse_shebang(b"#!   \n").is_err());
    }

    #[test]
    fn dlopen_json_forms() {
        let deps = parse_dlopen_json(
            r#"[{"feature":"foo","soname":["libfoo.so.2","libfoo.so.1"],"priority":"required"},
                {"soname":["libbar.so.0"]}]"#,
        )
        .unwrap();
        assert_eq!(deps.len(), 2);
        assert_eq!(deps[0].sonames, ["libfoo.so.2", "libfoo.so.1"]);
        assert_eq!(deps[0].feature.as_deref(), Some("foo"));
        assert_eq!(deps[0].priority, "required");
        assert_eq!(deps[1].priority, "recommended");
        // The first version of the specification: one object, soname a string.
        let deps = parse_dlopen_json(r#"{"soname":"libold.so.1","priority":"suggested"}"#).unwrap();
        assert_eq!(deps[0].sonames, ["libold.so.1"]);
        assert!(parse_dlopen_json(r#"[{"feature":"x"}]"#).is_err());
        assert!(parse_dlopen_json("not json").is_err());
    }

    // -- parsing -------------------------------------------------------------

    #[test]
    fn parses_crafted_elf_in_every_class_and_byte_order() {
        let dynamic = [
            (DT_NEEDED, "libfoo.so.1"),
            (DT_NEEDED, "libbar.so.2"),
            (DT_SONAME, "libme.so.3"),
            (DT_RPATH, "/r1:$ORIGIN/r2"),
        ];
        let note = |little| {
            fdo_note(
                r#"[{"soname":["libdl.so.9"],"priority":"suggested"}]"#,
                little,
            )
        };
        for (class64, little, machine) in [
            (true, true, EM_X86_64),
            (false, true, EM_386),
            (true, false, EM_S390),
            (false, false, EM_PPC),
        ] {
            let n = note(little);
            let bytes = craft_elf(
                class64,
                little,
                machine,
                Some("/lib/ld.so.1"),
                &dynamic,
                Some(&n),
            );
            let info = elf_info(&bytes);
            let ctx = format!("class64={class64} little={little}");
            assert_eq!(
                info.ident,
                Ident {
                    class64,
                    little,
                    machine
                },
                "{ctx}"
            );
            assert_eq!(info.interp.as_deref(), Some("/lib/ld.so.1"), "{ctx}");
            assert_eq!(info.needed, ["libfoo.so.1", "libbar.so.2"], "{ctx}");
            assert_eq!(info.soname.as_deref(), Some("libme.so.3"), "{ctx}");
            assert_eq!(info.rpath.as_deref(), Some("/r1:$ORIGIN/r2"), "{ctx}");
            assert_eq!(info.runpath, None, "{ctx}");
            assert_eq!(info.dlopen.len(), 1, "{ctx}");
            assert_eq!(info.dlopen[0].sonames, ["libdl.so.9"], "{ctx}");
        }
    }

    #[test]
    fn rpath_is_ignored_when_runpath_is_present() {
        let info = elf_info(&x64(&[
            (DT_RPATH, "/from/rpath"),
            (DT_RUNPATH, "/from/runpath"),
        ]));
        assert_eq!(info.rpath, None);
        assert_eq!(info.runpath.as_deref(), Some("/from/runpath"));
    }

    #[test]
    fn non_elf_script_and_broken_elf() {
        assert!(matches!(parse_bytes(b"hello\n"), Ok(Kind::Other)));
        assert!(matches!(parse_bytes(b""), Ok(Kind::Other)));
        assert!(matches!(parse_bytes(b"#!/bin/sh\n"), Ok(Kind::Script(_))));
        let mut truncated = x64(&[(DT_NEEDED, "libfoo.so.1")]);
        truncated.truncate(100);
        assert!(matches!(parse_bytes(&truncated), Err(ParseErr::Bad(_))));
        let mut bad_class = x64(&[]);
        bad_class[4] = 7;
        assert!(matches!(parse_bytes(&bad_class), Err(ParseErr::Bad(_))));
    }

    #[test]
    fn parses_host_binaries() {
        let Ok(Kind::Elf(info)) = parse_file(Path::new("/usr/bin/true")) else {
            panic!("/usr/bin/true is not parsed as ELF");
        };
        assert!(info.interp.is_some());
        assert!(info.needed.iter().any(|n| n.starts_with("libc.so")));
        let libc = fs::canonicalize(format!("/usr/lib/{MA}/libc.so.6")).unwrap();
        let Ok(Kind::Elf(info)) = parse_file(&libc) else {
            panic!("libc is not parsed as ELF");
        };
        assert_eq!(info.soname.as_deref(), Some("libc.so.6"));
    }

    // -- ld.so.conf ----------------------------------------------------------

    #[test]
    fn ld_so_conf_includes_in_sorted_order() {
        let f = Fake::bare();
        f.write(
            "/etc/ld.so.conf",
            "# comment\n/first/dir/ # trailing comment\ninclude ld.so.conf.d/*.conf /etc/extra.d/*.conf\n\
             hwcap 1 nosegneg\n/last:/last2,/last3\n",
        );
        fs::remove_file(f.host(&format!("/etc/ld.so.conf.d/{MA}.conf"))).unwrap();
        // Created out of order; included sorted.
        f.write("/etc/ld.so.conf.d/b.conf", "/b\n");
        f.write("/etc/ld.so.conf.d/a.conf", "/a\ninclude ../nested.conf\n");
        f.write("/etc/ld.so.conf.d/.hidden.conf", "/hidden\n");
        f.write("/etc/ld.so.conf.d/ignored.txt", "/ignored\n");
        f.write("/etc/nested.conf", "/nested\n/a\n");
        // Through an absolute symlink: must stay inside root.
        f.mkdirs("/srv/extra");
        f.write("/srv/extra/x.conf", "/x\n");
        f.link("/etc/extra.d", "/srv/extra");
        let r = f.resolver();
        let want: Vec<PathBuf> = [
            "/first/dir",
            "/a",
            "/nested",
            "/b",
            "/x",
            "/last",
            "/last2",
            "/last3",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(r.conf_dirs(), want.as_slice());
    }

    #[test]
    fn missing_ld_so_conf_is_fine_and_include_loops_are_stopped() {
        let f = Fake::bare();
        fs::remove_file(f.host("/etc/ld.so.conf")).unwrap();
        assert!(f.resolver().conf_dirs().is_empty());
        f.write("/etc/ld.so.conf", "include /etc/ld.so.conf\n");
        let err = Resolver::new(f.root()).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
    }

    #[test]
    fn library_found_through_included_conf() {
        let f = Fake::bare();
        f.write("/etc/ld.so.conf.d/zz-custom.conf", "/opt/custom/lib\n");
        f.write(
            "/opt/custom/lib/libcustom.so.1",
            x64(&[(DT_SONAME, "libcustom.so.1")]),
        );
        f.write("/usr/bin/prog", x64(&[(DT_NEEDED, "libcustom.so.1")]));
        let c = f.resolve(&["/usr/bin/prog"]).unwrap();
        assert_eq!(node(&c, "/opt/custom/lib/libcustom.so.1"), Some(Node::File));
        // Without the include line it is not found.
        f.write("/etc/ld.so.conf", "");
        let err = f.resolve(&["/usr/bin/prog"]).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }

    // -- resolution with real system files -------------------------------------

    #[test]
    fn interpreter_libc_and_directory_symlinks() {
        let f = Fake::with_libc();
        f.copy_host("/usr/bin/true", "/usr/bin/true");
        let c = f.resolve(&["/bin/true"]).unwrap();
        assert_eq!(node(&c, "/bin"), sym("usr/bin"));
        assert_eq!(node(&c, "/usr/bin/true"), Some(Node::File));
        // PT_INTERP /lib64/ld-linux-x86-64.so.2: /lib64 -> usr/lib64, then an absolute link
        // to /lib/x86_64-linux-gnu/..., /lib -> usr/lib, then the file.
        assert_eq!(node(&c, "/lib64"), sym("usr/lib64"));
        assert_eq!(
            node(&c, "/usr/lib64/ld-linux-x86-64.so.2"),
            sym(&format!("/lib/{MA}/ld-linux-x86-64.so.2"))
        );
        assert_eq!(node(&c, "/lib"), sym("usr/lib"));
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/ld-linux-x86-64.so.2")),
            Some(Node::File)
        );
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
            Some(Node::File)
        );
        // Nothing else but the warnings for the NSS modules and libgcc_s the fake lacks.
        assert_eq!(c.nodes.len(), 7, "{:#?}", c.nodes);
        for missing in [
            "libnss_files.so.2",
            "libnss_dns.so.2",
            "libresolv.so.2",
            "libgcc_s.so.1",
        ] {
            assert!(
                c.warnings.iter().any(|w| w.contains(missing)),
                "no warning for {missing}: {:?}",
                c.warnings
            );
        }
        assert!(!c.warnings.iter().any(|w| w.contains("libnss_compat")));
        assert_eq!(c.paths().len(), c.nodes.len());
        assert!(c.paths().windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn known_dlopen_sets_come_with_libc() {
        let f = Fake::with_libc();
        f.copy_host("/usr/bin/true", "/usr/bin/true");
        for lib in ["libnss_files.so.2", "libgcc_s.so.1", "libresolv.so.2"] {
            f.copy_host(
                &format!("/usr/lib/{MA}/{lib}"),
                &format!("/usr/lib/{MA}/{lib}"),
            );
        }
        let c = f.resolve(&["/usr/bin/true"]).unwrap();
        for lib in ["libnss_files.so.2", "libgcc_s.so.1", "libresolv.so.2"] {
            assert_eq!(
                node(&c, &format!("/usr/lib/{MA}/{lib}")),
                Some(Node::File),
                "{lib}"
            );
        }
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("libnss_dns.so.2"),
            "{:?}",
            c.warnings
        );
        assert!(
            c.warnings[0].starts_with(&format!("/lib/{MA}/libc.so.6 → libnss_dns.so.2")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn symlink_chains_relative_and_absolute() {
        let f = Fake::with_libc();
        f.copy_host("/usr/bin/true", "/usr/bin/true");
        f.link("/usr/bin/a", "b");
        f.link("/usr/bin/b", "../../bin/c");
        f.link("/usr/bin/c", "/usr/bin/true");
        let c = f.resolve(&["/usr/bin/a"]).unwrap();
        assert_eq!(node(&c, "/usr/bin/a"), sym("b"));
        assert_eq!(node(&c, "/usr/bin/b"), sym("../../bin/c"));
        assert_eq!(node(&c, "/bin"), sym("usr/bin"));
        assert_eq!(node(&c, "/usr/bin/c"), sym("/usr/bin/true"));
        assert_eq!(node(&c, "/usr/bin/true"), Some(Node::File));
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
            Some(Node::File)
        );
    }

    #[test]
    fn symlink_loops_are_errors() {
        let f = Fake::bare();
        f.link("/usr/bin/a", "b");
        f.link("/usr/bin/b", "a");
        let err = f.resolve(&["/usr/bin/a"]).unwrap_err();
        assert!(matches!(err, Error::SymlinkLoop { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "/usr/bin/a: too many levels of symbolic links"
        );
        // 40 links are fine, 41 are not.
        for i in 0..41 {
            f.link(&format!("/usr/bin/l{i}"), &format!("l{}", i + 1));
        }
        f.write("/usr/bin/l41", "data");
        assert!(f.resolve(&["/usr/bin/l1"]).is_ok());
        assert!(matches!(
            f.resolve(&["/usr/bin/l0"]).unwrap_err(),
            Error::SymlinkLoop { .. }
        ));
    }

    #[test]
    fn missing_files_and_optional_wants() {
        let f = Fake::with_libc();
        let err = f.resolve(&["/usr/sbin/foo"]).unwrap_err();
        assert!(matches!(err, Error::Missing { .. }));
        assert_eq!(err.to_string(), "/usr/sbin/foo: no such file");
        let c = f
            .resolver()
            .resolve(&[Want::optional("/usr/sbin/foo")])
            .unwrap();
        assert!(c.nodes.is_empty());
        assert_eq!(
            c.warnings,
            ["/usr/sbin/foo: no such file (optional; left out)"]
        );
        // A dangling symlink is a missing file too.
        f.link("/usr/sbin/dangling", "nowhere");
        assert!(matches!(
            f.resolve(&["/usr/sbin/dangling"]).unwrap_err(),
            Error::Missing { .. }
        ));
    }

    #[test]
    fn missing_library_names_the_chain() {
        let f = Fake::with_libc();
        f.write(
            &format!("/usr/lib/{MA}/libmid.so.1"),
            x64(&[(DT_SONAME, "libmid.so.1"), (DT_NEEDED, "libbar.so.1")]),
        );
        f.write(
            "/usr/sbin/foo",
            x64(&[(DT_NEEDED, "libc.so.6"), (DT_NEEDED, "libmid.so.1")]),
        );
        let err = f.resolve(&["/usr/sbin/foo"]).unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg,
            format!(
                "/usr/sbin/foo → /lib/{MA}/libmid.so.1 → libbar.so.1: not found in \
                 [/usr/local/lib/{MA}, /lib/{MA}, /usr/lib/{MA}, /lib64, /usr/lib64, /lib, /usr/lib]"
            )
        );
        // The same as an optional want: a warning, and nothing of it in the closure.
        let c = f
            .resolver()
            .resolve(&[
                Want::optional("/usr/sbin/foo"),
                Want::required("/usr/lib64"),
            ])
            .unwrap_err();
        assert!(matches!(c, Error::IsDirectory { .. }), "{c}");
        let c = f
            .resolver()
            .resolve(&[Want::optional("/usr/sbin/foo")])
            .unwrap();
        assert!(c.nodes.is_empty(), "{:?}", c.nodes);
        assert_eq!(c.warnings, [format!("{msg} (optional; left out)")]);
    }

    #[test]
    fn directories_are_rejected() {
        let f = Fake::bare();
        let err = f.resolve(&["/usr/bin"]).unwrap_err();
        assert!(matches!(err, Error::IsDirectory { .. }));
        assert!(err.to_string().contains("expanded by the caller"), "{err}");
        let err = f.resolve(&["usr/bin/x"]).unwrap_err();
        assert!(matches!(err, Error::NotAbsolute { .. }));
    }

    #[test]
    fn wrong_class_machine_or_non_elf_candidates_are_skipped() {
        let f = Fake::with_libc();
        f.copy_host("/usr/bin/true", "/usr/bin/true");
        f.write(
            "/etc/ld.so.conf",
            "/opt/text\n/opt/elf32\n/opt/arm64\n/opt/bigendian\ninclude /etc/ld.so.conf.d/*.conf\n",
        );
        f.write("/opt/text/libc.so.6", "INPUT(-lc)\n");
        f.write(
            "/opt/elf32/libc.so.6",
            craft_elf(false, true, EM_386, None, &[(DT_SONAME, "libc.so.6")], None),
        );
        f.write(
            "/opt/arm64/libc.so.6",
            craft_elf(
                true,
                true,
                EM_AARCH64,
                None,
                &[(DT_SONAME, "libc.so.6")],
                None,
            ),
        );
        f.write(
            "/opt/bigendian/libc.so.6",
            craft_elf(
                true,
                false,
                EM_X86_64,
                None,
                &[(DT_SONAME, "libc.so.6")],
                None,
            ),
        );
        let c = f.resolve(&["/usr/bin/true"]).unwrap();
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
            Some(Node::File)
        );
        assert!(
            !c.nodes.keys().any(|p| p.starts_with("/opt")),
            "{:#?}",
            c.nodes
        );
        // A 32-bit program gets the 32-bit library, found in the i386 multiarch dir.
        f.write(
            "/usr/lib/i386-linux-gnu/libc.so.6",
            craft_elf(false, true, EM_386, None, &[(DT_SONAME, "libc.so.6")], None),
        );
        fs::remove_dir_all(f.host("/opt/elf32")).unwrap();
        f.write(
            "/usr/bin/prog32",
            craft_elf(false, true, EM_386, None, &[(DT_NEEDED, "libc.so.6")], None),
        );
        let c = f.resolve(&["/usr/bin/prog32"]).unwrap();
        assert_eq!(
            node(&c, "/usr/lib/i386-linux-gnu/libc.so.6"),
            Some(Node::File)
        );
        assert_eq!(node(&c, &format!("/usr/lib/{MA}/libc.so.6")), None);
    }

    #[test]
    fn scripts_bring_their_interpreter() {
        let f = Fake::with_libc();
        f.copy_host("/usr/bin/dash", "/usr/bin/dash");
        f.link("/usr/bin/sh", "dash");
        f.write("/usr/sbin/script", "#!/bin/sh -e\necho hello\n");
        let c = f.resolve(&["/usr/sbin/script"]).unwrap();
        assert_eq!(node(&c, "/usr/sbin/script"), Some(Node::File));
        assert_eq!(node(&c, "/bin"), sym("usr/bin"));
        assert_eq!(node(&c, "/usr/bin/sh"), sym("dash"));
        assert_eq!(node(&c, "/usr/bin/dash"), Some(Node::File));
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
            Some(Node::File)
        );
        assert_eq!(node(&c, "/lib64"), sym("usr/lib64"));
        // A script running a script.
        f.write("/usr/sbin/outer", "#!/usr/sbin/script\n");
        let c = f.resolve(&["/usr/sbin/outer"]).unwrap();
        assert_eq!(node(&c, "/usr/bin/dash"), Some(Node::File));
        // Missing interpreter: the chain is named.
        f.write("/usr/sbin/broken", "#!/usr/bin/python9\n");
        let err = f.resolve(&["/usr/sbin/broken"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/usr/sbin/broken → /usr/bin/python9: no such file"
        );
    }

    #[test]
    fn env_scripts_bring_the_program_from_path() {
        let f = Fake::with_libc();
        f.copy_host("/usr/bin/env", "/usr/bin/env");
        f.copy_host("/usr/bin/true", "/usr/sbin/tool");
        f.write("/usr/sbin/s1", "#!/usr/bin/env -S tool --flag\n");
        let c = f.resolve(&["/usr/sbin/s1"]).unwrap();
        assert_eq!(node(&c, "/usr/bin/env"), Some(Node::File));
        assert_eq!(node(&c, "/usr/sbin/tool"), Some(Node::File));
        // Found through the /sbin symlink? No: /usr/sbin comes first in PATH.
        assert_eq!(node(&c, "/sbin"), None);
        // Not executable: not found by env.
        fs::set_permissions(f.host("/usr/sbin/tool"), fs::Permissions::from_mode(0o644)).unwrap();
        let err = f.resolve(&["/usr/sbin/s1"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/usr/sbin/s1 → /usr/bin/env → tool: not found in \
             [/usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin]"
        );
    }

    #[test]
    fn needed_with_a_slash_is_a_path() {
        let f = Fake::bare();
        f.write("/opt/x/libabs.so", x64(&[]));
        f.write(
            "/usr/bin/prog",
            x64(&[(DT_NEEDED, "/opt/x/libabs.so"), (DT_NEEDED, "rel/libr.so")]),
        );
        let c = f.resolve(&["/usr/bin/prog"]).unwrap();
        assert_eq!(node(&c, "/opt/x/libabs.so"), Some(Node::File));
        assert!(
            c.warnings.iter().any(|w| w.contains("rel/libr.so")),
            "{:?}",
            c.warnings
        );
        fs::remove_file(f.host("/opt/x/libabs.so")).unwrap();
        let err = f.resolve(&["/usr/bin/prog"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/usr/bin/prog → /opt/x/libabs.so: no such file"
        );
    }

    #[test]
    fn lib_and_platform_tokens() {
        let f = Fake::bare();
        f.write(
            "/usr/bin/prog",
            x64(&[
                (DT_NEEDED, "libfoo.so.1"),
                (DT_RUNPATH, "/opt/$LIB/x:/opt/${PLATFORM}"),
            ]),
        );
        f.write(
            "/usr/bin/prog2",
            x64(&[
                (DT_NEEDED, "libbar.so.1"),
                (DT_RUNPATH, "/opt/$LIB/x:/opt/${PLATFORM}"),
            ]),
        );
        f.write(&format!("/opt/lib/{MA}/x/libfoo.so.1"), x64(&[]));
        f.write("/opt/x86_64/libbar.so.1", x64(&[]));
        let c = f.resolve(&["/usr/bin/prog", "/usr/bin/prog2"]).unwrap();
        assert_eq!(
            node(&c, &format!("/opt/lib/{MA}/x/libfoo.so.1")),
            Some(Node::File)
        );
        assert_eq!(node(&c, "/opt/x86_64/libbar.so.1"), Some(Node::File));
        // Without a multiarch /usr/lib/<triple>, $LIB is lib64 for 64-bit objects.
        let g = Fake::bare();
        fs::remove_dir_all(g.host(&format!("/usr/lib/{MA}"))).unwrap();
        g.write(
            "/usr/bin/prog",
            x64(&[(DT_NEEDED, "libfoo.so.1"), (DT_RUNPATH, "/opt/$LIB")]),
        );
        g.write("/opt/lib64/libfoo.so.1", x64(&[]));
        let c = g.resolve(&["/usr/bin/prog"]).unwrap();
        assert_eq!(node(&c, "/opt/lib64/libfoo.so.1"), Some(Node::File));
    }

    #[test]
    fn search_dirs_follow_ld_so_rules() {
        let f = Fake::bare();
        f.write("/etc/ld.so.conf", "/conf\n");
        let res = f.resolver();
        let ctx = Ctx::new(&res);
        let obj = |dynamic: &[(u64, &str)], loader, origin: &str| Obj {
            logical: PathBuf::from(format!("{origin}/x")),
            info: elf_info(&x64(dynamic)),
            loader,
            origin: origin.to_string(),
        };
        let mut t = Tree::default();
        t.objs
            .push(obj(&[(DT_RPATH, "/exe:$ORIGIN/../l")], None, "/usr/bin"));
        t.objs.push(obj(&[(DT_RPATH, "/lib1")], Some(0), "/a"));
        t.objs.push(obj(
            &[(DT_RUNPATH, "/lib2run"), (DT_RPATH, "/lib2rpath")],
            Some(1),
            "/b",
        ));
        t.objs.push(obj(&[], Some(2), "/c"));
        t.objs.push(obj(&[], None, "/d")); // loaded by nobody (like the interpreter)
        let dirs = |i| -> Vec<String> {
            ctx.search_dirs(&t, i)
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        let defaults = [
            "/conf",
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib64",
            "/usr/lib64",
            "/lib",
            "/usr/lib",
        ];
        let with = |v: &[&str]| -> Vec<String> {
            v.iter()
                .chain(defaults.iter())
                .map(|s| s.to_string())
                .collect()
        };
        assert_eq!(dirs(0), with(&["/exe", "/usr/bin/../l"]));
        // RPATH of the object, then of its loaders up to the program.
        assert_eq!(dirs(1), with(&["/lib1", "/exe", "/usr/bin/../l"]));
        // RUNPATH: only the object's own, and its RPATH is ignored.
        assert_eq!(dirs(2), with(&["/lib2run"]));
        // Below a RUNPATH object: the loaders' RPATHs apply again (the RUNPATH does not).
        assert_eq!(dirs(3), with(&["/lib1", "/exe", "/usr/bin/../l"]));
        // Not loaded by the program: the program's RPATH still applies.
        assert_eq!(dirs(4), with(&["/exe", "/usr/bin/../l"]));
    }

    #[test]
    fn loaded_sonames_are_not_searched_again() {
        // The program's RUNPATH finds libB; libA needs libB too and gets the loaded one,
        // although the RUNPATH does not apply to libA's needs.
        let f = Fake::bare();
        f.write("/opt/r/libB.so.1", x64(&[(DT_SONAME, "libB.so.1")]));
        f.write(
            &format!("/usr/lib/{MA}/libA.so.1"),
            x64(&[(DT_SONAME, "libA.so.1"), (DT_NEEDED, "libB.so.1")]),
        );
        f.write(
            "/usr/bin/both",
            x64(&[
                (DT_NEEDED, "libA.so.1"),
                (DT_NEEDED, "libB.so.1"),
                (DT_RUNPATH, "/opt/r"),
            ]),
        );
        f.write(
            "/usr/bin/only_a",
            x64(&[(DT_NEEDED, "libA.so.1"), (DT_RUNPATH, "/opt/r")]),
        );
        let c = f.resolve(&["/usr/bin/both"]).unwrap();
        assert_eq!(node(&c, "/opt/r/libB.so.1"), Some(Node::File));
        let err = f.resolve(&["/usr/bin/only_a"]).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "/usr/bin/only_a → /lib/{MA}/libA.so.1 → libB.so.1: not found in"
            )),
            "{err}"
        );
    }

    #[test]
    fn dlopen_notes_are_resolved_or_warned_about() {
        let f = Fake::bare();
        let note = fdo_note(
            r#"[{"feature":"foo","soname":["libnothere.so.9","libfoo.so.1"],"priority":"required"},
               {"feature":"bar","soname":["libmissing.so.3"],"priority":"suggested"},
               {"feature":"baz","soname":["libbroken.so.1"],"priority":"suggested"}]"#,
            true,
        );
        f.write(
            "/usr/bin/prog",
            craft_elf(
                true,
                true,
                EM_X86_64,
                None,
                &[(DT_NEEDED, "libbase.so.1")],
                Some(&note),
            ),
        );
        f.write(
            &format!("/usr/lib/{MA}/libbase.so.1"),
            x64(&[(DT_SONAME, "libbase.so.1")]),
        );
        f.write(
            &format!("/usr/lib/{MA}/libfoo.so.1"),
            x64(&[
                (DT_SONAME, "libfoo.so.1"),
                (DT_NEEDED, "libbase.so.1"),
                (DT_NEEDED, "libfoodep.so.1"),
            ]),
        );
        f.write(&format!("/usr/lib/{MA}/libfoodep.so.1"), x64(&[]));
        f.write(
            &format!("/usr/lib/{MA}/libbroken.so.1"),
            x64(&[(DT_NEEDED, "libgone.so.1")]),
        );
        let c = f.resolve(&["/usr/bin/prog"]).unwrap();
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libfoo.so.1")),
            Some(Node::File)
        );
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libfoodep.so.1")),
            Some(Node::File)
        );
        // A dlopen'd library whose needs are missing is left out.
        assert_eq!(node(&c, &format!("/usr/lib/{MA}/libbroken.so.1")), None);
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(
            c.warnings[0].starts_with("/usr/bin/prog → libmissing.so.3 (dlopen note for bar, priority suggested): not found in ["),
            "{:?}",
            c.warnings
        );
        assert!(
            c.warnings[1].contains("libgone.so.1: not found"),
            "{:?}",
            c.warnings
        );
        assert!(c.warnings[1].contains("left out"), "{:?}", c.warnings);
    }

    #[test]
    fn deterministic_and_cached_results() {
        let f = Fake::with_libc();
        f.copy_host("/usr/bin/true", "/usr/bin/true");
        f.copy_host("/usr/bin/dash", "/usr/bin/dash");
        f.link("/usr/bin/sh", "dash");
        for i in 0..5 {
            f.write(&format!("/usr/sbin/s{i}"), "#!/bin/sh\n");
        }
        let wants: Vec<Want> = [
            "/usr/sbin/s3",
            "/usr/bin/true",
            "/usr/sbin/s0",
            "/usr/sbin/s1",
        ]
        .iter()
        .map(|p| Want::required(*p))
        .collect();
        let r = f.resolver();
        let a = r.resolve(&wants).unwrap();
        let mut rev = wants.clone();
        rev.reverse();
        let b = r.resolve(&rev).unwrap();
        assert_eq!(a.nodes, b.nodes);
        // Warnings are not repeated per program.
        let mut w = a.warnings.clone();
        w.dedup();
        assert_eq!(w.len(), a.warnings.len());
        assert!(a.warnings.len() <= 4, "{:?}", a.warnings);
    }

    // -- resolution with programs built by gcc ---------------------------------

    #[test]
    fn gcc_origin_runpath_through_a_symlinked_program() {
        let build = tempfile::tempdir().unwrap();
        let b = build.path();
        cc_lib(b, "libfoo.so.1", "foo", None);
        let prog = cc(
            b,
            "prog",
            "int foo(void); int main(void) { return foo(); }\n",
            &[
                "-L.",
                "-l:libfoo.so.1",
                "-Wl,--enable-new-dtags",
                "-Wl,-rpath,$ORIGIN/../lib",
            ],
        );
        let prog2 = cc(
            b,
            "prog2",
            "int foo(void); int main(void) { return foo(); }\n",
            &[
                "-L.",
                "-l:libfoo.so.1",
                "-Wl,--disable-new-dtags",
                "-Wl,-rpath,${ORIGIN}/../lib",
            ],
        );
        let info = elf_info(&fs::read(&prog).unwrap());
        assert_eq!(info.runpath.as_deref(), Some("$ORIGIN/../lib"));
        let info2 = elf_info(&fs::read(&prog2).unwrap());
        assert_eq!(
            (info2.runpath.as_deref(), info2.rpath.as_deref()),
            (None, Some("${ORIGIN}/../lib"))
        );

        let f = Fake::with_libc();
        f.copy_file(&prog, "/opt/app/bin/prog");
        f.copy_file(&prog2, "/opt/app/bin/prog2");
        f.copy_file(&b.join("libfoo.so.1"), "/opt/app/lib/libfoo.so.1");
        f.link("/usr/bin/prog", "../../opt/app/bin/prog");
        f.link("/usr/bin/prog2", "/opt/app/bin/prog2");
        // $ORIGIN is the directory of the resolved program, not of the symlink.
        let c = f.resolve(&["/usr/bin/prog", "/usr/bin/prog2"]).unwrap();
        assert_eq!(node(&c, "/usr/bin/prog"), sym("../../opt/app/bin/prog"));
        assert_eq!(node(&c, "/opt/app/bin/prog"), Some(Node::File));
        assert_eq!(node(&c, "/opt/app/lib/libfoo.so.1"), Some(Node::File));
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libc.so.6")),
            Some(Node::File)
        );
    }

    #[test]
    fn gcc_runpath_is_not_used_for_indirect_needs_but_rpath_is() {
        let build = tempfile::tempdir().unwrap();
        let b = build.path();
        cc_lib(b, "libB.so.1", "fb", None);
        cc_lib(b, "libA.so.1", "fa", Some(("fb", "libB.so.1")));
        let src = "int fa(void); int main(void) { return fa(); }\n";
        let common = [
            "-L.",
            "-l:libA.so.1",
            "-Wl,-rpath-link,.",
            "-Wl,-rpath,/opt/r/lib",
        ];
        let with = |extra: &'static str| -> Vec<&'static str> {
            let mut v = common.to_vec();
            v.push(extra);
            v
        };
        let p_runpath = cc(b, "p_runpath", src, &with("-Wl,--enable-new-dtags"));
        let p_rpath = cc(b, "p_rpath", src, &with("-Wl,--disable-new-dtags"));

        let f = Fake::with_libc();
        f.copy_file(&p_runpath, "/usr/bin/p_runpath");
        f.copy_file(&p_rpath, "/usr/bin/p_rpath");
        f.copy_file(&b.join("libA.so.1"), &format!("/usr/lib/{MA}/libA.so.1"));
        f.copy_file(&b.join("libB.so.1"), "/opt/r/lib/libB.so.1");

        let c = f.resolve(&["/usr/bin/p_rpath"]).unwrap();
        assert_eq!(node(&c, "/opt/r/lib/libB.so.1"), Some(Node::File));
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libA.so.1")),
            Some(Node::File)
        );

        let err = f.resolve(&["/usr/bin/p_runpath"]).unwrap_err();
        let Error::NotFound {
            chain,
            name,
            searched,
        } = &err
        else {
            panic!("unexpected error {err}");
        };
        assert_eq!(name, "libB.so.1");
        assert_eq!(
            chain,
            &[
                PathBuf::from("/usr/bin/p_runpath"),
                PathBuf::from(format!("/lib/{MA}/libA.so.1"))
            ]
        );
        assert!(!searched.contains(&PathBuf::from("/opt/r/lib")), "{err}");
    }

    #[test]
    fn gcc_dlopen_note_section() {
        let build = tempfile::tempdir().unwrap();
        let b = build.path();
        cc_lib(b, "libplugin.so.2", "plug", None);
        let src = r#"
#include <stdint.h>
#define JSON "[{\"feature\":\"plug\",\"soname\":[\"libplugin.so.3\",\"libplugin.so.2\"],\"priority\":\"recommended\"}]"
__attribute__((used, section(".note.dlopen"), aligned(4)))
static const struct {
    uint32_t namesz, descsz, type;
    char name[4];
    char desc[(sizeof(JSON) + 3) & ~3];
} dlopen_note = { 4, sizeof(JSON), 0x407c0c0a, "FDO", JSON };
int main(void) { return 0; }
"#;
        let prog = cc(b, "noted", src, &[]);
        let f = Fake::with_libc();
        f.copy_file(&prog, "/usr/bin/noted");
        f.copy_file(
            &b.join("libplugin.so.2"),
            &format!("/usr/lib/{MA}/libplugin.so.2"),
        );
        let c = f.resolve(&["/usr/bin/noted"]).unwrap();
        assert_eq!(
            node(&c, &format!("/usr/lib/{MA}/libplugin.so.2")),
            Some(Node::File)
        );
        assert!(
            !c.warnings.iter().any(|w| w.contains("libplugin")),
            "{:?}",
            c.warnings
        );
    }
}
