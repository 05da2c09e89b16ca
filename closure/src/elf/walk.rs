//! Path look-up inside the root, keeping every symlink met.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::Error;

const MAX_SYMLINK_HOPS: u32 = 40;

/// A path looked up inside root.
#[derive(Clone, Debug)]
pub(super) struct Walked {
    /// The path with no symlink left in it (inside root).
    pub(super) phys: PathBuf,
    /// Every symlink met, in order: (link path without symlinks in its parent, stored target).
    pub(super) links: Vec<(PathBuf, PathBuf)>,
    pub(super) is_dir: bool,
    pub(super) hops: u32,
}

impl Walked {
    pub(super) fn root() -> Walked {
        Walked {
            phys: PathBuf::from("/"),
            links: Vec::new(),
            is_dir: true,
            hops: 0,
        }
    }
}

#[derive(Clone, Debug)]
pub(super) enum WalkErr {
    Missing,
    Loop,
    Io(PathBuf, io::ErrorKind, String),
}

pub(super) fn host(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// Looks `rest` up starting at `start` (a directory), like the kernel's path walk but
/// inside root: `..` never leaves root and absolute link targets restart at root.
pub(super) fn walk_from(root: &Path, start: &Walked, rest: &Path) -> Result<Walked, WalkErr> {
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

pub(super) fn walk_error(e: WalkErr, chain: Vec<PathBuf>) -> Error {
    match e {
        WalkErr::Missing => Error::Missing { chain },
        WalkErr::Loop => Error::SymlinkLoop { chain },
        WalkErr::Io(path, kind, msg) => Error::Io {
            path,
            source: io::Error::new(kind, msg),
        },
    }
}
