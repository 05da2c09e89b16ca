//! `/etc/ld.so.conf` with its `include` globs, read inside the root.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::walk::{host, walk_error, walk_from, WalkErr, Walked};
use super::Error;

const MAX_INCLUDE_DEPTH: usize = 16;

pub(super) fn read_ld_so_conf(
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
