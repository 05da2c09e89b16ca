//! Kernel-module closure: which modules go into the rescue image, what they
//! depend on (`modules.dep`, `modules.softdep`), and which firmware they ask
//! for (each module's `.modinfo` `firmware=` entries).
//!
//! Module names are compared in normal form: `-` and `_` are the same to
//! the kernel, so both become `_`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: {msg}")]
    Parse {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    #[error("kernel module {0:?} is neither in modules.dep nor built in; check the name with `modinfo {0}`")]
    UnknownModule(String),
    #[error("{path}: {msg}")]
    BadModule { path: PathBuf, msg: String },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// `ext4`, `crc32c-intel` → `crc32c_intel`.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// Module name of a path in modules.dep: `kernel/fs/ext4/ext4.ko.xz` → `ext4`.
pub fn name_of(relpath: &str) -> String {
    let file = relpath.rsplit('/').next().unwrap_or(relpath);
    let stem = file.split(".ko").next().unwrap_or(file);
    normalize(stem)
}

/// Which modules to take (`most` unless said otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PolicyKind {
    /// Every module of the kernel.
    All,
    /// What a rescue system may need on any machine: storage, network, input,
    /// filesystems, crypto (see `MOST_PREFIXES`).
    #[default]
    Most,
    /// The modules loaded on this host now (`/sys/module`).
    Loaded,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 3] = [PolicyKind::Most, PolicyKind::All, PolicyKind::Loaded];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::All => "all",
            PolicyKind::Most => "most",
            PolicyKind::Loaded => "loaded",
        }
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<PolicyKind, String> {
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("{s:?}: allowed are \"most\", \"all\", \"loaded\""))
    }
}

impl TryFrom<String> for PolicyKind {
    type Error = String;
    fn try_from(s: String) -> Result<PolicyKind, String> {
        s.parse()
    }
}

impl From<PolicyKind> for String {
    fn from(k: PolicyKind) -> String {
        k.name().to_string()
    }
}

/// Subtrees of `kernel/` that `most` takes whole.
pub const MOST_PREFIXES: &[&str] = &[
    "kernel/arch/x86/crypto/",
    "kernel/block/",
    "kernel/crypto/",
    "kernel/fs/",
    "kernel/lib/",
    "kernel/net/packet/",
    "kernel/net/ipv4/",
    "kernel/net/ipv6/",
    "kernel/net/sunrpc/",
    "kernel/net/dns_resolver/",
    "kernel/net/9p/",
    "kernel/drivers/acpi/",
    "kernel/drivers/ata/",
    "kernel/drivers/block/",
    "kernel/drivers/cdrom/",
    "kernel/drivers/char/",
    "kernel/drivers/firmware/",
    "kernel/drivers/hid/",
    "kernel/drivers/hv/",
    "kernel/drivers/input/keyboard/",
    "kernel/drivers/input/serio/",
    "kernel/drivers/input/mouse/",
    "kernel/drivers/input/evdev",
    "kernel/drivers/md/",
    "kernel/drivers/message/",
    "kernel/drivers/mmc/",
    "kernel/drivers/net/",
    "kernel/drivers/nvdimm/",
    "kernel/drivers/nvme/",
    "kernel/drivers/pci/",
    "kernel/drivers/scsi/",
    "kernel/drivers/target/",
    "kernel/drivers/tty/serial/",
    "kernel/drivers/usb/common/",
    "kernel/drivers/usb/core/",
    "kernel/drivers/usb/host/",
    "kernel/drivers/usb/storage/",
    "kernel/drivers/virtio/",
    "kernel/drivers/xen/",
];

/// Subtrees excluded from `most` even below a taken prefix: large, and of
/// no use for bringing a machine back (radios, cameras, graphics, sound).
pub const MOST_EXCLUDED: &[&str] = &[
    "kernel/drivers/net/wireless/",
    "kernel/drivers/net/wwan/",
    "kernel/drivers/net/can/",
    "kernel/drivers/net/ieee802154/",
    "kernel/drivers/net/hamradio/",
    "kernel/drivers/net/arcnet/",
    "kernel/drivers/net/fddi/",
    "kernel/drivers/net/ethernet/mellanox/mlx5/core/fpga/",
    "kernel/drivers/scsi/pcmcia/",
    "kernel/drivers/hid/intel-ish-hid/",
    "kernel/drivers/char/tpm/st33zp24/",
    "kernel/fs/ocfs2/",
    "kernel/fs/gfs2/",
    "kernel/fs/dlm/",
];

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    pub kind: PolicyKind,
    /// Module names always taken (with their dependencies).
    pub include: Vec<String>,
    /// Module names or glob patterns (`*`, `?`) never taken, unless a taken
    /// module depends on them (a hard dependency wins, so modules still load).
    pub exclude: Vec<String>,
}

/// A soft dependency: modules to load before/after a module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SoftDep {
    pub pre: Vec<String>,
    pub post: Vec<String>,
}

/// The module tree of one kernel version, parsed from its index files.
#[derive(Clone, Debug, Default)]
pub struct ModuleTree {
    /// `/lib/modules/<kver>`
    pub dir: PathBuf,
    /// Normal name → path relative to `dir`.
    pub paths: BTreeMap<String, String>,
    /// Normal name → hard dependencies (normal names).
    pub deps: BTreeMap<String, Vec<String>>,
    pub softdeps: BTreeMap<String, SoftDep>,
    pub builtin: BTreeSet<String>,
    /// Alias pattern → module names, from modules.alias (for `modprobe`-style lookups).
    pub aliases: Vec<(String, String)>,
}

/// What `ModuleTree::select` chose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Normal names of the modules taken, sorted.
    pub modules: BTreeSet<String>,
    /// Soft dependencies that are neither modules nor built in (they are optional by nature).
    pub missing_softdeps: Vec<String>,
}

fn read_text(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(io_err("read", path))
}

fn read_optional_text(path: &Path) -> Result<String, Error> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

impl ModuleTree {
    /// Reads `modules.dep`, `modules.softdep`, `modules.builtin` and `modules.alias` in `dir`.
    pub fn load(dir: &Path) -> Result<ModuleTree, Error> {
        let mut tree = ModuleTree {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        let dep_file = dir.join("modules.dep");
        for (i, line) in read_text(&dep_file)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (module, deps) = line.split_once(':').ok_or_else(|| Error::Parse {
                path: dep_file.clone(),
                line: i + 1,
                msg: "expected `module.ko: dependencies`".into(),
            })?;
            let name = name_of(module);
            tree.paths.insert(name.clone(), module.to_string());
            tree.deps
                .insert(name, deps.split_whitespace().map(name_of).collect());
        }
        let soft_file = dir.join("modules.softdep");
        for line in read_optional_text(&soft_file)?.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("softdep") {
                continue;
            }
            let Some(module) = words.next() else { continue };
            let entry = tree.softdeps.entry(normalize(module)).or_default();
            let mut post = false;
            for w in words {
                match w {
                    "pre:" => post = false,
                    "post:" => post = true,
                    // Kept as written: these may be aliases (`crypto-crc32c`).
                    m if post => entry.post.push(m.to_string()),
                    m => entry.pre.push(m.to_string()),
                }
            }
        }
        for line in read_optional_text(&dir.join("modules.builtin"))?.lines() {
            if !line.is_empty() {
                tree.builtin.insert(name_of(line));
            }
        }
        for line in read_optional_text(&dir.join("modules.alias"))?.lines() {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(pattern), Some(module)) =
                (words.next(), words.next(), words.next())
            {
                tree.aliases.push((pattern.to_string(), normalize(module)));
            }
        }
        Ok(tree)
    }

    /// Resolves a name that may be an alias (`crypto-crc32c`) to module names.
    fn lookup(&self, name: &str) -> Vec<String> {
        let n = normalize(name);
        if self.paths.contains_key(&n) || self.builtin.contains(&n) {
            return vec![n];
        }
        // Most aliases are device patterns (`pci:v…`); only compile a
        // pattern when it could match at all, which keeps this cheap over
        // tens of thousands of aliases.
        let device = name.contains(':');
        let mut found: Vec<String> = self
            .aliases
            .iter()
            .filter(|(pattern, _)| pattern.contains(':') == device)
            .filter(|(pattern, _)| {
                if pattern.contains(['*', '?', '[']) {
                    glob_match(pattern, name) || glob_match(&normalize(pattern), &n)
                } else {
                    pattern == name || normalize(pattern) == n
                }
            })
            .map(|(_, m)| m.clone())
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// Chooses modules by policy, then closes over hard and soft dependencies.
    /// `loaded` is the list of module names loaded on the host (for `Loaded`).
    pub fn select(&self, policy: &Policy, loaded: &[String]) -> Result<Selection, Error> {
        let patterns: Vec<(glob::Pattern, glob::Pattern)> = policy
            .exclude
            .iter()
            .filter_map(|p| {
                Some((
                    glob::Pattern::new(&normalize(p)).ok()?,
                    glob::Pattern::new(p).ok()?,
                ))
            })
            .collect();
        let excluded = |name: &str, relpath: &str| {
            patterns
                .iter()
                .any(|(n, r)| n.matches(name) || r.matches(relpath))
        };
        let mut roots: Vec<String> = Vec::new();
        match policy.kind {
            PolicyKind::All => roots.extend(self.paths.keys().cloned()),
            PolicyKind::Most => roots.extend(
                self.paths
                    .iter()
                    .filter(|(_, p)| {
                        MOST_PREFIXES.iter().any(|pre| p.starts_with(pre))
                            && !MOST_EXCLUDED.iter().any(|ex| p.starts_with(ex))
                    })
                    .map(|(n, _)| n.clone()),
            ),
            PolicyKind::Loaded => roots.extend(
                loaded
                    .iter()
                    .map(|n| normalize(n))
                    .filter(|n| self.paths.contains_key(n)),
            ),
        }
        roots.retain(|n| !excluded(n, &self.paths[n]));
        for inc in &policy.include {
            let found = self.lookup(inc);
            if found.is_empty() {
                return Err(Error::UnknownModule(inc.clone()));
            }
            roots.extend(found.into_iter().filter(|n| self.paths.contains_key(n)));
        }

        let mut sel = Selection::default();
        let mut queue: VecDeque<String> = roots.into_iter().collect();
        while let Some(name) = queue.pop_front() {
            if !self.paths.contains_key(&name) || !sel.modules.insert(name.clone()) {
                continue;
            }
            queue.extend(self.deps.get(&name).into_iter().flatten().cloned());
            if let Some(soft) = self.softdeps.get(&name) {
                for s in soft.pre.iter().chain(&soft.post) {
                    let found = self.lookup(s);
                    if found.is_empty() {
                        sel.missing_softdeps.push(format!("{name}: {s}"));
                    }
                    queue.extend(found);
                }
            }
        }
        sel.missing_softdeps.sort();
        sel.missing_softdeps.dedup();
        Ok(sel)
    }
}

/// Shell-style glob with `*`, `?` and `[...]` classes, as in modules.alias.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    glob::Pattern::new(pattern)
        .map(|p| p.matches(text))
        .unwrap_or(pattern == text)
}

/// Reads a module file, decompressing `.ko.xz`, `.ko.zst` and `.ko.gz`.
pub fn read_module(path: &Path) -> Result<Vec<u8>, Error> {
    let raw = fs::read(path).map_err(io_err("read", path))?;
    decompress_module(path, raw)
}

/// Decompresses module bytes according to the file name's ending.
pub fn decompress_module(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, Error> {
    let name = path.to_string_lossy();
    let mut out = Vec::new();
    let res = if name.ends_with(".xz") {
        xz2::read::XzDecoder::new(&raw[..]).read_to_end(&mut out)
    } else if name.ends_with(".zst") {
        zstd::stream::read::Decoder::new(&raw[..]).and_then(|mut d| d.read_to_end(&mut out))
    } else if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out)
    } else {
        return Ok(raw);
    };
    res.map_err(io_err("decompress", path))?;
    Ok(out)
}

/// The `key=value` pairs of a module's `.modinfo` section, in order.
pub fn modinfo(path: &Path, elf: &[u8]) -> Result<Vec<(String, String)>, Error> {
    modinfo_by(path, |off, len| {
        let start = usize::try_from(off).ok()?;
        elf.get(start..start.checked_add(len)?).map(<[u8]>::to_vec)
    })
}

/// [`modinfo`] of the module file at `path`. A plain `.ko` is read by
/// byte ranges only (its ELF header, section headers, their names and
/// `.modinfo`: a few KiB of a file of up to MiBs); anything else goes
/// through [`read_module`], which knows the compressions.
pub fn modinfo_file(path: &Path) -> Result<Vec<(String, String)>, Error> {
    if path.extension().is_none_or(|x| x != "ko") {
        return modinfo(path, &read_module(path)?);
    }
    use std::os::unix::fs::FileExt;
    let f = fs::File::open(path).map_err(io_err("open", path))?;
    modinfo_by(path, |off, len| {
        let mut b = vec![0u8; len];
        f.read_exact_at(&mut b, off).ok().map(|()| b)
    })
}

/// [`modinfo`], reading the module through `read(offset, length)`: None
/// when those bytes lie outside the module.
fn modinfo_by(
    path: &Path,
    read: impl Fn(u64, usize) -> Option<Vec<u8>>,
) -> Result<Vec<(String, String)>, Error> {
    let bad = |msg: String| Error::BadModule {
        path: path.to_path_buf(),
        msg,
    };
    use goblin::elf::{header, section_header::SectionHeader, Elf};
    // Only the section headers are needed: a full parse of symbols and
    // relocations would cost far more over thousands of modules.
    let head = read(0, header::header64::SIZEOF_EHDR)
        .or_else(|| read(0, header::header32::SIZEOF_EHDR))
        .ok_or_else(|| bad("not an ELF module: shorter than an ELF header".into()))?;
    let header = Elf::parse_header(&head).map_err(|e| bad(format!("not an ELF module: {e}")))?;
    let ctx = goblin::container::Ctx::new(
        if header.e_ident[4] == 2 {
            goblin::container::Container::Big
        } else {
            goblin::container::Container::Little
        },
        goblin::container::Endian::from(header.e_ident[5] == 1),
    );
    let count = header.e_shnum as usize;
    // One byte before the table: goblin reads offset 0 as "no section
    // headers".
    let mut table = vec![0u8];
    table.extend(
        read(header.e_shoff, count * SectionHeader::size(ctx))
            .ok_or_else(|| bad("bad section headers: they lie outside the file".into()))?,
    );
    let shdrs = SectionHeader::parse(&table, 1, count, ctx)
        .map_err(|e| bad(format!("bad section headers: {e}")))?;
    let strtab = shdrs
        .get(header.e_shstrndx as usize)
        .ok_or_else(|| bad("no section name table".into()))?;
    let names = read(strtab.sh_offset, strtab.sh_size as usize)
        .ok_or_else(|| bad("section name table lies outside the file".into()))?;
    let name_at = |off: usize| {
        names
            .get(off..)
            .and_then(|n| n.split(|b| *b == 0).next())
            .unwrap_or_default()
    };
    let section = shdrs.iter().find(|sh| name_at(sh.sh_name) == b".modinfo");
    let Some(sh) = section else {
        return Ok(Vec::new());
    };
    let data = read(sh.sh_offset, sh.sh_size as usize)
        .ok_or_else(|| bad(".modinfo lies outside the file".into()))?;
    Ok(data
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let s = String::from_utf8_lossy(kv);
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect())
}

/// Firmware files a module asks for.
pub fn firmware_of(info: &[(String, String)]) -> Vec<String> {
    info.iter()
        .filter(|(k, _)| k == "firmware")
        .map(|(_, v)| v.clone())
        .collect()
}

/// Finds a firmware file in `fw_dir` as the kernel would, also compressed.
pub fn find_firmware(fw_dir: &Path, name: &str) -> Option<PathBuf> {
    ["", ".zst", ".xz"]
        .iter()
        .map(|ext| fw_dir.join(format!("{name}{ext}")))
        .find(|p| p.exists())
}

/// Names of modules loaded now, from `/sys/module` (entries with an `initstate`
/// are loadable modules; built-ins have none).
pub fn loaded_modules(sys_module: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for e in fs::read_dir(sys_module).map_err(io_err("list", sys_module))? {
        let e = e.map_err(io_err("list", sys_module))?;
        if e.path().join("initstate").exists() {
            out.push(normalize(&e.file_name().to_string_lossy()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_tree() -> (tempfile::TempDir, ModuleTree) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(
            d.join("modules.dep"),
            "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko\n\
             kernel/fs/jbd2/jbd2.ko:\n\
             kernel/fs/mbcache.ko:\n\
             kernel/arch/x86/crypto/crc32c-intel.ko:\n\
             kernel/drivers/net/wireless/foo/foo.ko: kernel/net/wireless/cfg80211.ko\n\
             kernel/net/wireless/cfg80211.ko:\n\
             kernel/drivers/md/dm-mod.ko:\n\
             kernel/sound/snd.ko:\n",
        )
        .unwrap();
        fs::write(
            d.join("modules.softdep"),
            "# comment\nsoftdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crc32c post: nothere\n",
        )
        .unwrap();
        fs::write(
            d.join("modules.builtin"),
            "kernel/crypto/crc32c_generic.ko\n",
        )
        .unwrap();
        fs::write(
            d.join("modules.alias"),
            "alias crypto-crc32c crc32c_intel\nalias crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\nalias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n",
        )
        .unwrap();
        let t = ModuleTree::load(d).unwrap();
        (dir, t)
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(name_of("kernel/drivers/md/dm-mod.ko.xz"), "dm_mod");
        assert_eq!(name_of("kernel/fs/ext4/ext4.ko"), "ext4");
    }

    #[test]
    fn most_takes_storage_and_fs_with_deps_and_softdeps_but_not_wireless_or_sound() {
        let (_d, t) = fake_tree();
        let sel = t.select(&Policy::default(), &[]).unwrap();
        let got: Vec<&str> = sel.modules.iter().map(|s| s.as_str()).collect();
        assert_eq!(got, ["crc32c_intel", "dm_mod", "ext4", "jbd2", "mbcache"]);
        assert_eq!(sel.missing_softdeps, ["jbd2: nothere"]);
    }

    #[test]
    fn include_follows_dependencies_and_exclude_takes_globs() {
        let (_d, t) = fake_tree();
        let policy = Policy {
            kind: PolicyKind::Loaded,
            include: vec!["foo".into()],
            exclude: vec!["dm-*".into()],
        };
        let sel = t
            .select(&policy, &["dm_mod".into(), "jbd2".into()])
            .unwrap();
        let got: Vec<&str> = sel.modules.iter().map(|s| s.as_str()).collect();
        assert_eq!(got, ["cfg80211", "crc32c_intel", "foo", "jbd2"]);
    }

    #[test]
    fn unknown_include_is_an_error_but_builtin_is_fine() {
        let (_d, t) = fake_tree();
        let mut p = Policy {
            kind: PolicyKind::Loaded,
            include: vec!["crc32c_generic".into()],
            ..Default::default()
        };
        assert!(t.select(&p, &[]).unwrap().modules.is_empty());
        p.include = vec!["no_such_mod".into()];
        let err = t.select(&p, &[]).unwrap_err().to_string();
        assert!(err.contains("no_such_mod"), "{err}");
    }

    #[test]
    fn all_takes_everything() {
        let (_d, t) = fake_tree();
        let p = Policy {
            kind: PolicyKind::All,
            ..Default::default()
        };
        assert_eq!(t.select(&p, &[]).unwrap().modules.len(), 8);
    }

    #[test]
    fn compressed_modules_are_read_transparently() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let data = b"\x7fELF pretend module".to_vec();
        let gz = dir.path().join("m.ko.gz");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&data).unwrap();
        fs::write(&gz, e.finish().unwrap()).unwrap();
        let zst = dir.path().join("m.ko.zst");
        fs::write(&zst, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
        let xz = dir.path().join("m.ko.xz");
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(&data).unwrap();
        fs::write(&xz, e.finish().unwrap()).unwrap();
        for p in [gz, zst, xz] {
            assert_eq!(read_module(&p).unwrap(), data, "{}", p.display());
        }
    }

    /// The module tree of the Debian kernel that ci/setup installs.
    fn debian_kernel() -> PathBuf {
        fs::read_dir("/lib/modules")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("kernel/drivers/md/dm-mod.ko").exists())
            .expect("needs a Debian kernel in /lib/modules: run ci/setup (linux-image-amd64)")
    }

    #[test]
    fn modinfo_of_a_real_module() {
        let ko = debian_kernel().join("kernel/drivers/md/dm-mod.ko");
        let info = modinfo(&ko, &read_module(&ko).unwrap()).unwrap();
        assert!(
            info.iter().any(|(k, v)| k == "license" && v == "GPL"),
            "{info:?}"
        );
        assert!(info.iter().any(|(k, _)| k == "vermagic"));
        assert_eq!(modinfo_file(&ko).unwrap(), info, "read by byte ranges");
    }

    /// Reading by byte ranges gives what a parse of the whole file gives,
    /// for 400 of a kernel's driver modules, and a module cut short is an
    /// error either way.
    #[test]
    fn modinfo_by_ranges_is_modinfo_of_the_whole_file() {
        let mut todo = vec![debian_kernel().join("kernel/drivers")];
        let mut seen = 0;
        while let Some(d) = todo.pop() {
            for e in fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    todo.push(p);
                } else if seen < 400 && p.to_string_lossy().ends_with(".ko") {
                    let whole = modinfo(&p, &fs::read(&p).unwrap()).unwrap();
                    assert_eq!(modinfo_file(&p).unwrap(), whole, "{}", p.display());
                    seen += 1;
                }
            }
        }
        assert!(seen > 50, "only {seen} modules");
        let t = tempfile::tempdir().unwrap();
        let data = fs::read(debian_kernel().join("kernel/drivers/md/dm-mod.ko")).unwrap();
        // A compressed module is read whole, through read_module.
        let zst = t.path().join("dm-mod.ko.zst");
        fs::write(&zst, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
        assert_eq!(
            modinfo_file(&zst).unwrap(),
            modinfo(&zst, &data).unwrap(),
            "{}",
            zst.display()
        );
        let cut = t.path().join("cut.ko");
        fs::write(&cut, &data[..data.len() - 4096]).unwrap();
        let whole = modinfo(&cut, &fs::read(&cut).unwrap());
        assert!(whole.is_err());
        assert_eq!(
            modinfo_file(&cut).unwrap_err().to_string(),
            whole.unwrap_err().to_string()
        );
    }
}
