//! The README's crate table is the crate graph: each crate's row names
//! exactly the workspace crates its Cargo.toml depends on, and no crate
//! below `cli/` depends on it.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The workspace crates (by folder) `dir`'s Cargo.toml depends on (not dev).
fn deps(dir: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).unwrap();
    let mut out = BTreeSet::new();
    let mut in_deps = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_deps = line.trim() == "[dependencies]";
            continue;
        }
        if in_deps {
            if let Some((_, path)) = line.split_once("path = \"../") {
                out.insert(path.split('"').next().unwrap().to_string());
            }
        }
    }
    out
}

#[test]
fn the_readme_crate_table_matches_every_cargo_toml() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut rows = 0;
    for line in readme.lines() {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((dir, _)) = rest.split_once("/`") else {
            continue;
        };
        if !root().join(dir).join("Cargo.toml").is_file() {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let named: BTreeSet<String> = cells[cells.len() - 2]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        assert_eq!(named, deps(dir), "README row of {dir}/");
        if dir != "cli" {
            assert!(!deps(dir).contains("cli"), "{dir}/ depends on the CLI");
        }
        rows += 1;
    }
    let members = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let members = members
        .lines()
        .find(|l| l.starts_with("members"))
        .unwrap()
        .matches('"')
        .count()
        / 2;
    assert_eq!(rows, members, "a README row for every workspace member");
}
