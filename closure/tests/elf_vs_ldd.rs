//! Compares the ELF closure with what the host's `ldd` (that is, the real `ld.so`) loads.
//!
//! A sample of the ELF files in /usr/bin and /usr/sbin (every 7th, sorted, plus
//! /usr/bin/journalctl, whose libsystemd-shared comes by RUNPATH) is checked by default; `CLOSURE_LDD_ALL=1` checks all of them.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rear_closure::elf::{Resolver, Want};

fn is_elf(p: &Path) -> bool {
    let Ok(md) = fs::metadata(p) else {
        return false;
    };
    if !md.is_file() {
        return false;
    }
    let mut magic = [0u8; 4];
    fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

fn elf_files() -> Vec<PathBuf> {
    let mut all = Vec::new();
    for dir in ["/usr/bin", "/usr/sbin"] {
        let Ok(rd) = fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            // Symlinks are compared through their targets.
            if e.file_type().map(|t| t.is_file()).unwrap_or(false) && is_elf(&p) {
                all.push(p);
            }
        }
    }
    all.sort();
    if std::env::var_os("CLOSURE_LDD_ALL").is_some_and(|v| v == "1") {
        return all;
    }
    let mut sample: Vec<PathBuf> = all.iter().step_by(7).cloned().collect();
    // journalctl needs systemd's private library through RUNPATH only,
    // which ldd-based tools such as ReaR's check have been seen to miss.
    let journalctl = PathBuf::from("/usr/bin/journalctl");
    if all.contains(&journalctl) && !sample.contains(&journalctl) {
        sample.push(journalctl);
    }
    sample
}

enum Ldd {
    NotDynamic,
    Broken(String),
    Paths(Vec<PathBuf>),
}

fn ldd(p: &Path) -> Ldd {
    let out = Command::new("ldd")
        .arg(p)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .output()
        .expect("run ldd");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stdout.contains("not a dynamic executable")
        || stderr.contains("not a dynamic executable")
        || stdout.contains("statically linked")
    {
        return Ldd::NotDynamic;
    }
    if !out.status.success() {
        return Ldd::Broken(format!("ldd failed: {}{}", stdout, stderr));
    }
    let mut paths = Vec::new();
    for line in stdout.lines() {
        let line = line.trim();
        if let Some((name, rest)) = line.split_once("=>") {
            let rest = rest.trim();
            if rest.starts_with("not found") {
                return Ldd::Broken(format!("{} not found", name.trim()));
            }
            if let Some(path) = rest
                .split_whitespace()
                .next()
                .filter(|s| s.starts_with('/'))
            {
                paths.push(PathBuf::from(path));
            }
        } else if line.starts_with('/') {
            // The interpreter line: "/lib64/ld-linux-x86-64.so.2 (0x...)".
            if let Some(path) = line.split_whitespace().next() {
                paths.push(PathBuf::from(path));
            }
        }
    }
    Ldd::Paths(paths)
}

#[test]
fn closure_contains_everything_ldd_loads() {
    if Command::new("ldd").arg("--version").output().is_err() {
        panic!("ldd is not installed; this test compares against it");
    }
    let resolver = Resolver::new(Path::new("/")).expect("resolver for /");
    let (mut files, mut libs, mut skipped_static) = (0usize, 0usize, 0usize);
    let mut broken = Vec::new();
    let mut failures = Vec::new();
    for file in elf_files() {
        let expected = match ldd(&file) {
            Ldd::NotDynamic => {
                skipped_static += 1;
                continue;
            }
            Ldd::Broken(why) => {
                broken.push(format!("{}: {why}", file.display()));
                continue;
            }
            Ldd::Paths(p) => p,
        };
        let closure = match resolver.resolve(&[Want::required(&file)]) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: resolve failed: {e}", file.display()));
                continue;
            }
        };
        let ours: BTreeSet<PathBuf> = closure
            .paths()
            .iter()
            .filter_map(|p| fs::canonicalize(p).ok())
            .collect();
        files += 1;
        for lib in expected {
            libs += 1;
            let canon = fs::canonicalize(&lib).unwrap_or(lib.clone());
            if !ours.contains(&canon) {
                failures.push(format!(
                    "{}: ldd loads {} ({}), not in our closure",
                    file.display(),
                    lib.display(),
                    canon.display()
                ));
            }
        }
    }
    for b in &broken {
        println!("skipped (host broken): {b}");
    }
    println!(
        "compared {files} files, {libs} ldd entries; {skipped_static} static, {} broken on the host",
        broken.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        files >= 20,
        "only {files} files compared; the test would pass vacuously"
    );
}

#[test]
fn timing_of_rescue_tools() {
    let wants: Vec<Want> = [
        "/usr/bin/bash",
        "/usr/sbin/lvm",
        "/usr/sbin/mdadm",
        "/usr/sbin/cryptsetup",
        "/usr/bin/systemctl",
    ]
    .iter()
    .filter(|p| Path::new(p).exists())
    .map(|p| Want::required(*p))
    .collect();
    let resolver = Resolver::new(Path::new("/")).expect("resolver for /");
    let first = Instant::now();
    let closure = resolver
        .resolve(&wants)
        .expect("closure of the rescue tools");
    let cold = first.elapsed();
    let mut best = std::time::Duration::MAX;
    for _ in 0..10 {
        let t = Instant::now();
        let again = resolver
            .resolve(&wants)
            .expect("closure of the rescue tools");
        best = best.min(t.elapsed());
        assert_eq!(again, closure, "resolution must be deterministic");
    }
    println!(
        "{} wants → {} nodes, {} warnings; first run {:?}, best warm run {:?}",
        wants.len(),
        closure.nodes.len(),
        closure.warnings.len(),
        cold,
        best
    );
    for w in &closure.warnings {
        println!("warning: {w}");
    }
    for p in closure.paths() {
        println!("  {}", p.display());
    }
}

/// Everything in /usr/bin and /usr/sbin (ELF files and scripts) as optional wants in one
/// call: the size of a big rescue image, and a check that nothing on the host trips it up.
#[test]
fn timing_of_everything_in_usr_bin_and_sbin() {
    let mut wants = Vec::new();
    for dir in ["/usr/bin", "/usr/sbin"] {
        let Ok(rd) = fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            if e.path().is_file() {
                wants.push(Want::optional(e.path()));
            }
        }
    }
    wants.sort_by(|a, b| a.path.cmp(&b.path));
    let resolver = Resolver::new(Path::new("/")).expect("resolver for /");
    let first = Instant::now();
    let closure = resolver
        .resolve(&wants)
        .expect("closure of /usr/bin and /usr/sbin");
    let cold = first.elapsed();
    let t = Instant::now();
    let again = resolver
        .resolve(&wants)
        .expect("closure of /usr/bin and /usr/sbin");
    let warm = t.elapsed();
    assert_eq!(again, closure, "resolution must be deterministic");
    println!(
        "{} wants → {} nodes, {} warnings; first run {:?}, warm run {:?}",
        wants.len(),
        closure.nodes.len(),
        closure.warnings.len(),
        cold,
        warm
    );
    for w in &closure.warnings {
        println!("warning: {w}");
    }
    assert!(closure.nodes.len() >= wants.len() / 2);

    // About the size of a rescue image: 300 programs and 200 libraries.
    let mut programs: Vec<Want> = wants
        .iter()
        .filter(|w| is_elf(&w.path))
        .take(300)
        .cloned()
        .collect();
    let mut libs: Vec<PathBuf> = fs::read_dir("/usr/lib/x86_64-linux-gnu")
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    libs.retain(|p| p.to_string_lossy().contains(".so") && is_elf(p));
    libs.sort();
    programs.extend(libs.into_iter().take(200).map(Want::optional));
    let first = Instant::now();
    let closure = resolver
        .resolve(&programs)
        .expect("closure of a rescue-sized set");
    let cold = first.elapsed();
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        resolver
            .resolve(&programs)
            .expect("closure of a rescue-sized set");
        best = best.min(t.elapsed());
    }
    println!(
        "{} wants (programs + libraries) → {} nodes, {} warnings; first run {:?}, best warm run {:?}",
        programs.len(),
        closure.nodes.len(),
        closure.warnings.len(),
        cold,
        best
    );
}
