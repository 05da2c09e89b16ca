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
//! once), and each is handed to goblin's parser for that structure; goblin's
//! whole-file `Elf::parse` would read and parse every file in full (see
//! `docs/design.md`). Look-ups are cached per path, so resolving a few hundred
//! programs takes milliseconds when the page cache is warm.
//!
//! # Layout
//!
//! `ldconf` reads `/etc/ld.so.conf`; `walk` looks paths up inside the root,
//! keeping every symlink; `parse` tells ELF objects, scripts and other files
//! apart and reads what the loader needs; `resolve` holds the search rules
//! above and the [`Resolver`].

mod ldconf;
mod parse;
mod resolve;
mod walk;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use resolve::{Resolver, SEARCH_PATH};

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
