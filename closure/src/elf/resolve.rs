//! The loader's search: link maps per program, search paths, dynamic string tokens,
//! scripts and dlopen sets.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use goblin::elf::header::{
    EM_386, EM_68K, EM_AARCH64, EM_ARM, EM_IA_64, EM_LOONGARCH, EM_MIPS, EM_PARISC, EM_PPC,
    EM_PPC64, EM_RISCV, EM_S390, EM_SPARCV9, EM_X86_64,
};

use super::ldconf::read_ld_so_conf;
use super::parse::{parse_error, parse_file, ElfInfo, Ident, Kind, ParseErr, Shebang};
use super::walk::{host, walk_error, walk_from, WalkErr, Walked};
use super::{Chain, Closure, Dirs, Error, Node, Want};

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

// Search rules per kind of object: the multiarch triple and `$PLATFORM`.
impl Ident {
    /// The Debian multiarch tuple.
    pub(super) fn triple(self) -> Option<&'static str> {
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
            (EM_68K, _, _) => "m68k-linux-gnu",
            _ => return None,
        })
    }

    /// The value of `$PLATFORM`; `None` drops the search path element, as glibc does
    /// when it does not know the platform.
    pub(super) fn platform(self) -> Option<&'static str> {
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
            (EM_68K, _, _) => "m68k",
            _ => return None,
        })
    }
}

/// Expands `$ORIGIN`, `$LIB` and `$PLATFORM` (also in `${...}` form) in one search path
/// element. Unbraced tokens count only when followed by `/` or the end; unknown ones are
/// kept literally. `None` when the element cannot be used (unknown platform).
pub(super) fn expand_dst(
    elem: &str,
    origin: &str,
    lib: &str,
    platform: Option<&str>,
) -> Option<String> {
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
pub(super) struct Obj {
    /// The path it was opened by (for `$ORIGIN` and messages).
    pub(super) logical: PathBuf,
    pub(super) info: Rc<ElfInfo>,
    pub(super) loader: Option<usize>,
    pub(super) origin: String,
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
pub(super) struct Tree {
    pub(super) objs: Vec<Obj>,
    pub(super) by_name: HashMap<String, usize>,
    pub(super) by_phys: HashMap<OsString, usize>,
    pub(super) walks: Vec<Rc<Walked>>,
    pub(super) warnings: Vec<String>,
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
pub(super) struct Ctx<'r> {
    res: &'r Resolver,
    walks: RefCell<WalkMemo>,
    kinds: RefCell<HashMap<OsString, Result<Kind, ParseErr>>>,
    items: RefCell<HashMap<OsString, Rc<ItemOut>>>,
    std_dirs: RefCell<HashMap<Ident, Rc<Vec<PathBuf>>>>,
    std_found: RefCell<HashMap<Ident, HashMap<String, Option<Found>>>>,
    libdirs: RefCell<HashMap<Ident, Rc<str>>>,
}

impl<'r> Ctx<'r> {
    pub(super) fn new(res: &'r Resolver) -> Ctx<'r> {
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
    pub(super) fn search_dirs(&self, t: &Tree, i: usize) -> Vec<PathBuf> {
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
pub(super) fn env_command(arg: &str) -> Option<&str> {
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
