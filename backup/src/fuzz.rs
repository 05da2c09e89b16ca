//! Fuzz test of the backup manifest reader (docs/fuzz.md): `backup.sums`
//! comes back from the backup target, so it is outside input. No input
//! may panic or hang; a refusal names the manifest and the line; what is
//! read names only paths that stay below the restored tree once decoded,
//! as restores use them.

use crate::sums::{self, Entry};
use proptest::prelude::*;
use rear_tests::fuzz;
use std::path::{Component, Path};

/// Whether `p` (manifest text) decodes to a path below the root it is
/// relative to.
fn stays_below(p: &str) -> bool {
    let decoded = sums::decode(p);
    Path::new(&decoded)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// A manifest with every kind of entry and field.
fn example() -> String {
    let e = |path: &str, kind: &str| Entry {
        path: path.into(),
        kind: kind.into(),
        mode: 0o644,
        ..Default::default()
    };
    sums::to_text(&[
        Entry {
            mode: 0o755,
            ..e(".", "dir")
        },
        Entry {
            size: 4096,
            blake3: Some("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262".into()),
            xattrs: [("user.x".to_string(), "00".repeat(32))].into(),
            ..e("etc/fstab", "file")
        },
        Entry {
            link_of: Some("etc/fstab".into()),
            size: 4096,
            ..e("etc/fstab.hard", "file")
        },
        Entry {
            size: 1 << 30,
            sparse: true,
            uid: 1000,
            gid: 1000,
            ..e("var/lib/disk.img", "file")
        },
        Entry {
            target: Some("../etc/fstab".into()),
            ..e("b\\xffad\\\\name", "symlink")
        },
        Entry {
            rdev: Some(259),
            ..e("dev/null", "char")
        },
        e("run/fifo", "fifo"),
    ])
}

#[test]
fn backup_sums() {
    fuzz::run(
        "backup.sums",
        fuzz::json_lines(vec![example()]),
        |t| match sums::parse(&t, "backup.sums") {
            Ok(entries) => {
                for e in &entries {
                    prop_assert!(stays_below(&e.path), "taken: {:?}", e.path);
                    if let Some(l) = &e.link_of {
                        prop_assert!(stays_below(l), "taken: link_of {l:?}");
                    }
                    let _ = e.target.as_deref().map(sums::decode);
                }
                Ok(true)
            }
            Err(e) => {
                let msg = format!("{e:#}");
                let line = msg
                    .strip_prefix("backup.sums:")
                    .and_then(|r| r.split_once(':'))
                    .and_then(|(n, _)| n.parse::<usize>().ok());
                prop_assert!(
                    line.is_some_and(|n| n >= 1 && n <= t.lines().count()),
                    "names no line of the manifest: {msg}"
                );
                Ok(false)
            }
        },
    );
}
