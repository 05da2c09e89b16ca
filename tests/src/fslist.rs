//! Comparing file lists written by `tests/e2e/fslist.sh`: one taken in the
//! system before the backup, one after the recovery.
//!
//! A list has one line per file: an escaped path (no spaces or newlines,
//! see the script's header) and `key=value` fields. [`diff`] reports what
//! differs as readable lines, leaving out what an allow-list of
//! [`Ignore`] rules names (paths whose times legitimately change, per-boot
//! state, ...).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The scripts, to put on a job disk (`debian::job_disk_with`).
pub const FSLIST_SH: &str = include_str!("../e2e/fslist.sh");
pub const TESTDATA_SH: &str = include_str!("../e2e/testdata.sh");

/// A parsed list: escaped path -> field -> value.
pub type List = BTreeMap<String, BTreeMap<String, String>>;

/// Parses fslist.sh output. Blank lines and lines starting with `#` are
/// skipped; a field without `=`, a repeated field or a repeated path is
/// an error (the list is not what the script writes).
pub fn parse(text: &str) -> Result<List, String> {
    let mut list = List::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split(' ');
        let path = words.next().unwrap_or_default();
        if path.is_empty() {
            return Err(format!("line {}: no path: {line:?}", n + 1));
        }
        let mut fields = BTreeMap::new();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| format!("line {}: field without '=': {w:?}", n + 1))?;
            if fields.insert(k.to_string(), v.to_string()).is_some() {
                return Err(format!("line {}: field {k} twice", n + 1));
            }
        }
        if list.insert(path.to_string(), fields).is_some() {
            return Err(format!("line {}: path {path} twice", n + 1));
        }
    }
    Ok(list)
}

/// One rule of the allow-list: which paths, and which field of them (all
/// of the entry, including its being missing or extra, when `field` is
/// None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// An escaped path as in the lists.
    pub path: String,
    /// `path` itself when false; everything below it (not `path`) when
    /// true. `path` "" with `subtree` matches every path.
    pub subtree: bool,
    /// A field name, or a prefix ending in `*` (`xattr.*`).
    pub field: Option<String>,
}

impl Ignore {
    /// Parses the text form, one rule a line, `#` comments:
    /// `PATH [FIELD]` where PATH is a path (just it), `PATH/**` (what is
    /// below it) or `**` (every path), and FIELD a field name or prefix
    /// with `*`. `/var/log/** mtime` ignores the mtime of everything below
    /// /var/log, `/home` alone ignores /home being missing or different.
    pub fn parse_rules(text: &str) -> Result<Vec<Ignore>, String> {
        let mut rules = Vec::new();
        for line in text.lines() {
            // A comment starts a line or follows a blank: '#' is an
            // ordinary character in paths.
            let line = match line.find(" #").or_else(|| line.find("\t#")) {
                Some(i) => &line[..i],
                None => line,
            }
            .trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let p = words.next().unwrap_or_default();
            let field = words.next().map(str::to_string);
            if let Some(extra) = words.next() {
                return Err(format!("ignore rule {line:?}: unexpected {extra:?}"));
            }
            let (path, subtree) = if p == "**" {
                (String::new(), true)
            } else if let Some(base) = p.strip_suffix("/**") {
                // "/**" keeps its "/": an empty path is "**".
                (if base.is_empty() { "/" } else { base }.to_string(), true)
            } else {
                (p.to_string(), false)
            };
            if !(path.starts_with('/') || (subtree && path.is_empty())) {
                return Err(format!("ignore rule {line:?}: not an absolute path"));
            }
            rules.push(Ignore {
                path,
                subtree,
                field,
            });
        }
        Ok(rules)
    }

    fn matches_path(&self, path: &str) -> bool {
        if !self.subtree {
            return path == self.path;
        }
        if self.path.is_empty() {
            return true;
        }
        let base = self.path.trim_end_matches('/');
        if base.is_empty() {
            // "/**": every path but "/".
            return path != "/";
        }
        path.len() > base.len() && path.starts_with(base) && path.as_bytes()[base.len()] == b'/'
    }

    fn matches_field(&self, field: &str) -> bool {
        match &self.field {
            None => true,
            Some(f) => match f.strip_suffix('*') {
                Some(prefix) => field.starts_with(prefix),
                None => field == f,
            },
        }
    }
}

/// One difference between the list before and the list after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// In the first list only.
    Missing {
        path: String,
        fields: BTreeMap<String, String>,
    },
    /// In the second list only.
    Extra {
        path: String,
        fields: BTreeMap<String, String>,
    },
    /// A field that differs, or is on one side only (None).
    Field {
        path: String,
        field: String,
        before: Option<String>,
        after: Option<String>,
    },
}

/// The fields worth showing for a missing or extra entry.
fn summary(fields: &BTreeMap<String, String>) -> String {
    ["type", "mode", "uid", "gid", "size", "target"]
        .iter()
        .filter_map(|k| fields.get(*k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Difference::Missing { path, fields } => {
                write!(f, "missing: {path} ({})", summary(fields))
            }
            Difference::Extra { path, fields } => write!(f, "extra: {path} ({})", summary(fields)),
            Difference::Field {
                path,
                field,
                before,
                after,
            } => match (before, after) {
                (Some(b), Some(a)) => write!(f, "{path}: {field} differs: {b} vs {a}"),
                (Some(b), None) => write!(f, "{path}: {field} lost (was {b})"),
                (None, Some(a)) => write!(f, "{path}: {field} added ({a})"),
                (None, None) => write!(f, "{path}: {field}"),
            },
        }
    }
}

impl Difference {
    pub fn path(&self) -> &str {
        match self {
            Difference::Missing { path, .. }
            | Difference::Extra { path, .. }
            | Difference::Field { path, .. } => path,
        }
    }
}

/// What differs between `before` and `after`, in path order, without what
/// `ignores` allows. Missing and extra entries are only ignored by a rule
/// without a field.
pub fn diff(before: &List, after: &List, ignores: &[Ignore]) -> Vec<Difference> {
    let ignored = |path: &str, field: Option<&str>| {
        ignores.iter().any(|r| {
            r.matches_path(path)
                && match field {
                    None => r.field.is_none(),
                    Some(f) => r.matches_field(f),
                }
        })
    };
    let mut out = Vec::new();
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        if ignored(path, None) {
            continue;
        }
        match (before.get(path), after.get(path)) {
            (Some(b), None) => out.push(Difference::Missing {
                path: path.clone(),
                fields: b.clone(),
            }),
            (None, Some(a)) => out.push(Difference::Extra {
                path: path.clone(),
                fields: a.clone(),
            }),
            (Some(b), Some(a)) => {
                let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let (vb, va) = (b.get(k), a.get(k));
                    if vb != va && !ignored(path, Some(k)) {
                        out.push(Difference::Field {
                            path: path.clone(),
                            field: k.clone(),
                            before: vb.cloned(),
                            after: va.cloned(),
                        });
                    }
                }
            }
            (None, None) => unreachable!(),
        }
    }
    out
}

/// [`diff`] on the lists' and rules' text; the differences as lines.
pub fn diff_text(before: &str, after: &str, ignores: &str) -> Result<Vec<String>, String> {
    let b = parse(before).map_err(|e| format!("first list: {e}"))?;
    let a = parse(after).map_err(|e| format!("second list: {e}"))?;
    let rules = Ignore::parse_rules(ignores)?;
    Ok(diff(&b, &a, &rules).iter().map(|d| d.to_string()).collect())
}

/// The first `max` lines and how many more there are, for a panic message.
pub fn report(lines: &[String], max: usize) -> String {
    let mut s = lines
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > max {
        s.push_str(&format!("\n... and {} more", lines.len() - max));
    }
    s
}

pub fn script_path() -> PathBuf {
    crate::debian::e2e_dir().join("fslist.sh")
}

/// Runs fslist.sh on this machine: `--root root` with `args` (paths,
/// `--exclude`, ...). Returns the list; panics with the script's stderr
/// when it fails. Warnings go to this process's stderr.
pub fn run_fslist(root: &Path, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(script_path())
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run bash fslist.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fslist.sh --root {} {args:?} failed ({}): {stderr}",
        root.display(),
        out.status
    );
    if !stderr.is_empty() {
        eprintln!("fslist.sh --root {}: {stderr}", root.display());
    }
    String::from_utf8(out.stdout).expect("fslist.sh writes ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
/ type=d mode=0755 uid=0 gid=0 mtime=100
/etc type=d mode=0755 uid=0 gid=0 mtime=100
/etc/a\\x20b type=f mode=0644 uid=0 gid=0 size=3 mtime=5 sha256=aa xattr.user.x=0x01
/etc/gone type=f mode=0600 uid=0 gid=0 size=1 mtime=5 sha256=bb
/etc/link type=l uid=0 gid=0 target=a\\x20b
/var/log/x type=f mode=0644 uid=0 gid=0 size=1 mtime=7 sha256=cc
";

    fn lines(before: &str, after: &str, ignores: &str) -> Vec<String> {
        diff_text(before, after, ignores).unwrap()
    }

    #[test]
    fn identical_lists_have_no_differences() {
        assert!(lines(BEFORE, BEFORE, "").is_empty());
    }

    #[test]
    fn reports_missing_extra_and_fields() {
        let after = "\
/ type=d mode=0755 uid=0 gid=0 mtime=200
/etc type=d mode=0755 uid=0 gid=0 mtime=100
/etc/a\\x20b type=f mode=0600 uid=0 gid=0 size=3 mtime=5 sha256=aa xattr.user.y=0x02
/etc/link type=l uid=0 gid=0 target=elsewhere
/etc/new type=p mode=0644 uid=0 gid=0
/var/log/x type=f mode=0644 uid=0 gid=0 size=1 mtime=7 sha256=cc
";
        assert_eq!(
            lines(BEFORE, after, ""),
            [
                "/: mtime differs: 100 vs 200",
                "/etc/a\\x20b: mode differs: 0644 vs 0600",
                "/etc/a\\x20b: xattr.user.x lost (was 0x01)",
                "/etc/a\\x20b: xattr.user.y added (0x02)",
                "missing: /etc/gone (type=f mode=0600 uid=0 gid=0 size=1)",
                "/etc/link: target differs: a\\x20b vs elsewhere",
                "extra: /etc/new (type=p mode=0644 uid=0 gid=0)",
            ]
        );
    }

    #[test]
    fn ignore_rules_by_path_subtree_and_field() {
        let after = "\
/ type=d mode=0755 uid=0 gid=0 mtime=200
/etc type=d mode=0700 uid=0 gid=0 mtime=300
/etc/a\\x20b type=f mode=0644 uid=0 gid=0 size=3 mtime=5 sha256=aa xattr.user.x=0x09
/etc/link type=l uid=0 gid=0 target=a\\x20b
/var/log/x type=f mode=0644 uid=0 gid=0 size=2 mtime=8 sha256=dd
/var/log/y type=f mode=0644 uid=0 gid=0 size=2 mtime=8 sha256=dd
";
        let rules = "
# the root's time changes on every mkfs
/ mtime
/etc/gone            # whole entry
/var/log/**
/etc/a\\x20b xattr.*
";
        // /etc's mtime and mode are still reported: '/ mtime' is / only.
        assert_eq!(
            lines(BEFORE, after, rules),
            [
                "/etc: mode differs: 0755 vs 0700",
                "/etc: mtime differs: 100 vs 300",
            ]
        );
        assert_eq!(
            lines(
                BEFORE,
                after,
                "** mtime\n** mode\n/etc/gone\n/var/log/**\n/etc/a\\x20b"
            ),
            Vec::<String>::new()
        );
        // "/**" is everything below /, not / itself.
        assert_eq!(
            lines(BEFORE, after, "/** mtime\n/** mode\n/**"),
            ["/: mtime differs: 100 vs 200"]
        );
    }

    #[test]
    fn a_field_rule_does_not_hide_a_missing_entry() {
        let after: String = BEFORE
            .lines()
            .filter(|l| !l.starts_with("/etc/gone"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            lines(BEFORE, &after, "/etc/gone mtime"),
            ["missing: /etc/gone (type=f mode=0600 uid=0 gid=0 size=1)"]
        );
    }

    #[test]
    fn subtree_rules_respect_component_boundaries() {
        let r = Ignore::parse_rules("/var/log/**").unwrap();
        assert!(r[0].matches_path("/var/log/x"));
        assert!(r[0].matches_path("/var/log/x/y"));
        assert!(!r[0].matches_path("/var/log"));
        assert!(!r[0].matches_path("/var/logs/x"));
        let root = Ignore::parse_rules("/**").unwrap();
        assert!(root[0].matches_path("/etc"));
        assert!(!root[0].matches_path("/"));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(parse("/a type=f\n/a type=f\n")
            .unwrap_err()
            .contains("twice"));
        assert!(parse("/a type=f type=d\n").unwrap_err().contains("twice"));
        assert!(parse("/a type\n").unwrap_err().contains("without '='"));
        assert!(Ignore::parse_rules("etc mtime").is_err());
        assert!(Ignore::parse_rules("etc/** mtime").is_err());
        assert!(Ignore::parse_rules("/etc mtime extra").is_err());
    }

    #[test]
    fn report_cuts_long_lists() {
        let l: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        assert_eq!(report(&l, 2), "0\n1\n... and 3 more");
        assert_eq!(report(&l, 9), "0\n1\n2\n3\n4");
    }

    #[test]
    fn comments_need_a_blank_before_them() {
        let r = Ignore::parse_rules("# all\n/srv/#hash mtime # its time\n").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].path, "/srv/#hash");
        assert_eq!(r[0].field.as_deref(), Some("mtime"));
    }
}

/// fslist.sh and testdata.sh run on this machine, in temp dirs under
/// /var/tmp (disk-backed: /tmp may be a tmpfs, which has no extent map).
/// What the file system or the user cannot do is skipped with a message.
#[cfg(test)]
mod host_tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Instant;

    fn is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    }

    /// Runs a command; Err(stderr) when it fails or cannot start.
    fn try_run(prog: &str, args: &[&OsStr]) -> Result<(), String> {
        let out = Command::new(prog)
            .args(args)
            .output()
            .map_err(|e| format!("{prog}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{prog} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn run(prog: &str, args: &[&OsStr]) {
        try_run(prog, args).unwrap_or_else(|e| panic!("{e}"));
    }

    fn os<P: AsRef<OsStr> + ?Sized>(p: &P) -> &OsStr {
        p.as_ref()
    }

    fn scratch(prefix: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/var/tmp")
            .unwrap()
    }

    fn set_mode(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// (path, field) of each difference, "-" / "+" for missing / extra.
    fn keys(d: &[Difference]) -> BTreeSet<(String, String)> {
        d.iter()
            .map(|d| match d {
                Difference::Missing { path, .. } => (path.clone(), "-".to_string()),
                Difference::Extra { path, .. } => (path.clone(), "+".to_string()),
                Difference::Field { path, field, .. } => (path.clone(), field.clone()),
            })
            .collect()
    }

    fn line_of<'a>(list: &'a str, path: &str) -> &'a str {
        list.lines()
            .find(|l| l.split(' ').next() == Some(path))
            .unwrap_or_else(|| panic!("no {path} in the list:\n{list}"))
    }

    #[test]
    fn fslist_sees_what_a_copy_keeps_and_what_changes() {
        let tmp = scratch("fslist-");
        let a = tmp.path().join("a");
        let d = a.join("data");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        let root = is_root();
        let w = |name: &[u8], content: &str| {
            let p = d.join(OsStr::from_bytes(name));
            std::fs::write(&p, content).unwrap();
            set_mode(&p, 0o644);
            p
        };
        w(b"plain", "plain\n");
        w(b"with space", "spaces\n");
        w(b"new\nline", "newline\n");
        w(b"\xe9t\xe9", "latin1\n");
        let hl1 = w(b"hl1", "linked\n");
        std::fs::hard_link(&hl1, d.join("sub/hl2")).unwrap();
        std::os::unix::fs::symlink("with space", d.join("link")).unwrap();
        set_mode(&w(b"mode-file", "mode\n"), 0o640);

        // 8 MiB with 4 KiB of data at 0 and at 6 MiB.
        let sparse = d.join("sparse");
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = std::fs::File::create(&sparse).unwrap();
            f.set_len(8 << 20).unwrap();
            f.write_all(&[b'x'; 4096]).unwrap();
            f.seek(SeekFrom::Start(6 << 20)).unwrap();
            f.write_all(&[b'y'; 4096]).unwrap();
        }
        // Preallocated (unwritten) 64 KiB at 3 MiB: zeros to any reader, so
        // a hole in the list (xfs leaves such extents after a restore).
        run(
            "fallocate",
            &[os("-o"), os("3145728"), os("-l"), os("65536"), os(&sparse)],
        );
        set_mode(&sparse, 0o644);
        let extent_map = try_run("filefrag", &[os(&sparse)]).is_ok();
        if !extent_map {
            eprintln!("SKIPPED part: filefrag cannot map files in /var/tmp (no FIEMAP): hole layout not checked");
        }

        if root {
            let owned = w(b"owned", "owned\n");
            std::os::unix::fs::chown(&owned, Some(1234), Some(5678)).unwrap();
            let suid = w(b"suid", "suid\n");
            set_mode(&suid, 0o4755);
        } else {
            eprintln!("SKIPPED part: not root: no foreign owners");
        }
        let xattr_file = w(b"xattr-file", "xattr\n");
        let xattrs = match try_run(
            "setfattr",
            &[
                os("-n"),
                os("user.t"),
                os("-v"),
                os("hello"),
                os(&xattr_file),
            ],
        ) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("SKIPPED part: no user xattrs here ({e})");
                false
            }
        };
        let acl_file = w(b"acl-file", "acl\n");
        let dacl_dir = d.join("dacl-dir");
        std::fs::create_dir(&dacl_dir).unwrap();
        let acls = match try_run("setfacl", &[os("-m"), os("u:1234:rw"), os(&acl_file)]) {
            Ok(()) => {
                run(
                    "setfacl",
                    &[os("-d"), os("-m"), os("u:1234:rwx"), os(&dacl_dir)],
                );
                true
            }
            Err(e) => {
                eprintln!("SKIPPED part: no POSIX ACLs here ({e})");
                false
            }
        };
        // getfattr and getfacl print these names each in its own quoting,
        // which the script has to read back.
        let odd: [&[u8]; 4] = [b"new\nline", b"\xe9t\xe9", b"back\\slash", b"cr\rx"];
        for name in odd {
            let p = w(name, "odd\n");
            if xattrs {
                run(
                    "setfattr",
                    &[os("-n"), os("user.odd"), os("-v"), os("1"), os(&p)],
                );
            }
            if acls {
                run("setfacl", &[os("-m"), os("u:99:r"), os(&p)]);
            }
        }

        let b = tmp.path().join("b");
        run("cp", &[os("-a"), os("--sparse=always"), os(&a), os(&b)]);
        let t0 = Instant::now();
        let list_a = run_fslist(&a, &["/"]);
        eprintln!(
            "fslist.sh on {} entries: {:.2?}",
            list_a.lines().count(),
            t0.elapsed()
        );
        let list_b = run_fslist(&b, &["/"]);
        let same = diff_text(&list_a, &list_b, "").unwrap();
        assert!(
            same.is_empty(),
            "a copy made with cp -a differs:\n{}\nlist:\n{list_a}",
            report(&same, 40)
        );

        // What the list says about the tree.
        assert!(line_of(&list_a, "/data/new\\x0aline").contains(" sha256="));
        assert!(line_of(&list_a, "/data/\\xe9t\\xe9").contains(" type=f "));
        assert!(line_of(&list_a, "/data/with\\x20space").contains(" mode=0644 "));
        assert!(line_of(&list_a, "/data/link").ends_with(" target=with\\x20space"));
        assert!(line_of(&list_a, "/data/sub/hl2").contains(" hardlink=/data/hl1 "));
        assert!(line_of(&list_a, "/data/hl1").contains(" hardlink=/data/hl1 "));
        assert!(!line_of(&list_a, "/data/plain").contains("hardlink"));
        assert!(line_of(&list_a, "/data/mode-file").contains(" mode=0640 "));
        if extent_map {
            assert!(
                line_of(&list_a, "/data/sparse").contains(" data_kib=0-64,6144-6208 sha256_data="),
                "{list_a}"
            );
        }
        if root {
            assert!(line_of(&list_a, "/data/owned").contains(" uid=1234 gid=5678 "));
            assert!(line_of(&list_a, "/data/suid").contains(" mode=4755 "));
        }
        if xattrs {
            assert!(line_of(&list_a, "/data/xattr-file").ends_with(" xattr.user.t=0x68656c6c6f"));
        }
        for p in [
            "/data/new\\x0aline",
            "/data/\\xe9t\\xe9",
            "/data/back\\x5cslash",
            "/data/cr\\x0dx",
        ] {
            let l = line_of(&list_a, p);
            assert!(!xattrs || l.contains(" xattr.user.odd=0x31"), "{l}");
            assert!(!acls || l.contains(" acl=user::rw-,user:99:r--,"), "{l}");
        }
        if acls {
            assert!(line_of(&list_a, "/data/acl-file")
                .ends_with(" acl=user::rw-,user:1234:rw-,group::r--,mask::rw-,other::r--"));
            let dl = line_of(&list_a, "/data/dacl-dir");
            assert!(
                dl.ends_with(" dacl=user::rwx,user:1234:rwx,group::r-x,mask::rwx,other::r-x"),
                "{dl}"
            );
            assert!(
                !dl.contains(" acl="),
                "a minimal access ACL is left out: {dl}"
            );
        }

        // Now change b, one thing per file, and keep the times where a
        // real difference would otherwise also show as an mtime.
        let bd = b.join("data");
        let keep_time = |p: &Path| {
            let rel = p.strip_prefix(&b).unwrap();
            run("touch", &[os("-h"), os("-r"), os(&a.join(rel)), os(p)]);
        };
        let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
        let mut expect = |p: &str, f: &str| expected.insert((p.to_string(), f.to_string()));

        set_mode(&bd.join("mode-file"), 0o600);
        expect("/data/mode-file", "mode");

        std::fs::write(bd.join("plain"), "PLAIN\n").unwrap();
        keep_time(&bd.join("plain"));
        expect("/data/plain", "sha256");

        // A copy in place of one name of the group: same content, mode, time.
        let hl2 = bd.join("sub/hl2");
        run("cp", &[os("-p"), os(&hl2), os(&bd.join("sub/tmp"))]);
        std::fs::rename(bd.join("sub/tmp"), &hl2).unwrap();
        expect("/data/hl1", "hardlink");
        expect("/data/sub/hl2", "hardlink");

        std::fs::remove_file(bd.join("link")).unwrap();
        std::os::unix::fs::symlink("plain", bd.join("link")).unwrap();
        expect("/data/link", "target");

        if extent_map {
            // Written out dense: same bytes, no holes.
            let dense = bd.join("dense.tmp");
            run(
                "cp",
                &[
                    os("-p"),
                    os("--sparse=never"),
                    os(&bd.join("sparse")),
                    os(&dense),
                ],
            );
            std::fs::rename(&dense, bd.join("sparse")).unwrap();
            expect("/data/sparse", "data_kib");
            expect("/data/sparse", "sha256_data");
            expect("/data/sparse", "sha256");
        }
        if root {
            std::os::unix::fs::chown(bd.join("owned"), Some(4321), None).unwrap();
            expect("/data/owned", "uid");
        }
        if xattrs {
            let p = bd.join("xattr-file");
            run(
                "setfattr",
                &[os("-n"), os("user.t"), os("-v"), os("bye"), os(&p)],
            );
            expect("/data/xattr-file", "xattr.user.t");
        }
        if acls {
            // The mask follows (rw- to r--), and the mode's group bits
            // are the mask.
            run(
                "setfacl",
                &[os("-m"), os("u:1234:r"), os(&bd.join("acl-file"))],
            );
            expect("/data/acl-file", "acl");
            expect("/data/acl-file", "mode");
            run("setfacl", &[os("-k"), os(&bd.join("dacl-dir"))]);
            expect("/data/dacl-dir", "dacl");
        }
        std::fs::write(bd.join("extra"), "extra\n").unwrap();
        expect("/data/extra", "+");
        std::fs::remove_file(bd.join("with space")).unwrap();
        expect("/data/with\\x20space", "-");
        // Creating and removing names moved the directories' times.
        for dir in [b.as_path(), &bd, &bd.join("sub"), &bd.join("dacl-dir")] {
            keep_time(dir);
        }

        let list_b = run_fslist(&b, &["/"]);
        let diffs = diff(&parse(&list_a).unwrap(), &parse(&list_b).unwrap(), &[]);
        let text: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
        assert_eq!(keys(&diffs), expected, "differences:\n{}", text.join("\n"));
        assert!(text.contains(&"/data/mode-file: mode differs: 0640 vs 0600".to_string()));
        assert!(text.contains(&"/data/hl1: hardlink lost (was /data/hl1)".to_string()));
        assert!(text.contains(&"/data/link: target differs: with\\x20space vs plain".to_string()));
        if extent_map {
            assert!(text.contains(&"/data/sparse: data_kib lost (was 0-64,6144-6208)".to_string()));
        }

        // And the allow-list takes them out again.
        let rules = "/data/** mode\n/data/** hardlink\n/data/plain\n/data/link target\n\
                     /data/sparse\n/data/owned\n/data/xattr-file xattr.*\n/data/acl-file acl\n\
                     /data/dacl-dir dacl\n/data/extra\n/data/with\\x20space\n";
        let left = diff_text(&list_a, &list_b, rules).unwrap();
        assert!(left.is_empty(), "{}", left.join("\n"));
    }

    #[test]
    fn testdata_survives_a_copy_unchanged() {
        if !is_root() {
            eprintln!("SKIPPED testdata_survives_a_copy_unchanged: testdata.sh needs root (chown, setuid, trusted.* xattrs)");
            return;
        }
        let tmp = scratch("testdata-");
        let a = tmp.path().join("a");
        std::fs::create_dir(&a).unwrap();
        let script = crate::debian::e2e_dir().join("testdata.sh");
        let t0 = Instant::now();
        let out = Command::new("bash")
            .arg(&script)
            .arg("--root")
            .arg(&a)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "testdata.sh failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("testdata.sh: {:.2?}: {}", t0.elapsed(), stdout.trim());
        assert!(stdout.contains("E2E-TESTDATA "), "{stdout}");
        // Again: it starts from scratch.
        run("bash", &[os(&script), os("--root"), os(&a)]);

        let b = tmp.path().join("b");
        run("cp", &[os("-a"), os("--sparse=always"), os(&a), os(&b)]);
        let t0 = Instant::now();
        let list_a = run_fslist(&a, &["/srv", "/home", "/root"]);
        eprintln!(
            "fslist.sh on testdata ({} entries): {:.2?}",
            list_a.lines().count(),
            t0.elapsed()
        );
        let list_b = run_fslist(&b, &["/srv", "/home", "/root"]);
        let d = diff_text(&list_a, &list_b, "").unwrap();
        assert!(d.is_empty(), "cp -a copy differs:\n{}", report(&d, 40));

        let many = list_a
            .lines()
            .filter(|l| l.starts_with("/srv/e2e-data/many/d"))
            .count();
        assert_eq!(many, 50 + 5000 + 2, "directories, small files, empty ones");
        let l = |p: &str| line_of(&list_a, p).to_string();
        assert!(l("/srv/e2e-data/modes/setuid-true").contains(" mode=4755 "));
        assert!(l("/srv/e2e-data/modes/setgid-true").contains(" mode=2755 "));
        assert!(l("/srv/e2e-data/modes/sticky-1777").contains(" mode=1777 "));
        assert!(l("/srv/e2e-data/modes/mode-0000").contains(" mode=0000 "));
        assert!(l("/srv/e2e-data/owners/orphan-file").contains(" uid=1234 gid=5678 "));
        assert!(l("/srv/e2e-data/owners/setuid-orphan").contains(" mode=4750 uid=1234 gid=5678 "));
        assert!(l("/srv/e2e-data/names/new\\x0aline").contains(" type=f "));
        assert!(l("/srv/e2e-data/names/bytes-\\xff\\xfe\\x80").contains(" type=f "));
        assert!(
            l("/srv/e2e-data/links/sub/hl-three").contains(" hardlink=/srv/e2e-data/links/hl-one ")
        );
        assert!(l("/srv/e2e-data/links/dangling-link").ends_with(" target=does/not/exist"));
        assert!(l("/srv/e2e-data/special/fifo").contains(" type=p "));
        let acl = l("/srv/e2e-data/xattr-acl/acl-and-xattr");
        assert!(
            acl.contains(" xattr.user.e2e=0x68656c6c6f20776f726c64 "),
            "{acl}"
        );
        assert!(acl.contains(" acl=user::rw-,user:1234:rw-,"), "{acl}");
        assert!(
            l("/srv/e2e-data/xattr-acl/default-acl-dir").contains(" dacl=user::rwx,user:1234:rwx,")
        );
        assert!(l("/srv/e2e-data/xattr-acl/cap-net-raw-true")
            .contains(" xattr.security.capability=0x0100000200200000000000000000000000000000"));
        assert!(l("/srv/e2e-data/times/before-epoch").contains(" mtime=-86400 "));
        let big = l("/srv/e2e-data/sparse/1g-islands");
        if try_run("filefrag", &[os(&a.join("srv/e2e-data/sparse/1g-islands"))]).is_ok() {
            assert!(
                big.contains(" size=1073741824 mtime=")
                    && big.contains(
                        " data_kib=0-64,1024-1088,307200-307264,524288-524416,1048512-1048576 "
                    ),
                "{big}"
            );
            assert!(l("/srv/e2e-data/sparse/hole-only").contains(" data_kib=none "));
            assert!(!l("/srv/e2e-data/sparse/dense-4m").contains("data_kib"));
        } else {
            eprintln!(
                "SKIPPED part: filefrag cannot map files in /var/tmp: hole layout not checked"
            );
        }
    }
}
