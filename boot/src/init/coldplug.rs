//! Loading the kernel modules for the hardware present ("coldplug"), without udev.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use super::exec;

/// How many aliases one `modprobe -a` gets.
pub const MODPROBE_BATCH: usize = 200;
/// Coldplug stops after this many rounds even if loading keeps making new devices appear.
const MAX_ROUNDS: usize = 5;
/// How long to wait at most for `/sys/class/block` to stop changing.
const SETTLE_MAX: Duration = Duration::from_secs(2);
const SETTLE_POLL: Duration = Duration::from_millis(100);
/// The number of block devices must stay the same for this many polls.
const SETTLE_STABLE_POLLS: usize = 5;

/// Every non-empty `modalias` (trimmed, deduplicated, sorted) in the tree under `root`
/// (normally `/sys/devices`). Symbolic links are not followed (sysfs is full of links that
/// lead back up the tree), unreadable entries are skipped.
pub fn collect_modaliases(root: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                dirs.push(entry.path());
            } else if ft.is_file() && entry.file_name() == "modalias" {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    let alias = text.trim();
                    if !alias.is_empty() {
                        found.insert(alias.to_string());
                    }
                }
            }
        }
    }
    found
}

/// The aliases in `found` that are not in `seen`, in sorted order.
pub fn new_aliases(found: &BTreeSet<String>, seen: &BTreeSet<String>) -> Vec<String> {
    found.difference(seen).cloned().collect()
}

/// True when the last `stable_polls` observations all equal the one before them, i.e. the
/// observed value has not changed for `stable_polls` polls.
pub fn settled(history: &[usize], stable_polls: usize) -> bool {
    if history.len() <= stable_polls {
        return false;
    }
    let tail = &history[history.len() - stable_polls - 1..];
    tail.iter().all(|&n| n == tail[0])
}

/// Loads the modules for every device alias (in rounds, as loaded drivers reveal new devices),
/// then the configuration's own modules, then waits briefly for block devices to settle.
pub(crate) fn coldplug(modules: &[String]) {
    let Some(modprobe) = exec::find_program("modprobe") else {
        say!("modprobe not found; not loading modules");
        wait_for_block_devices();
        return;
    };
    let modprobe = modprobe.to_string_lossy().into_owned();
    let mut seen = BTreeSet::new();
    for round in 1..=MAX_ROUNDS {
        let found = collect_modaliases(Path::new("/sys/devices"));
        let new = new_aliases(&found, &seen);
        if new.is_empty() {
            break;
        }
        say!(
            "loading modules for {} device aliases (round {round})",
            new.len()
        );
        for batch in new.chunks(MODPROBE_BATCH) {
            let mut argv = vec![modprobe.clone(), "-q".into(), "-a".into(), "-b".into()];
            argv.extend(batch.iter().cloned());
            if let Err(e) = exec::run(&argv) {
                // Most aliases have no module; modprobe -q then just exits with 1.
                if !(e.code == Some(1) && e.stderr.is_empty()) {
                    say!("{e}");
                }
            }
        }
        seen.extend(new);
    }
    let wanted: Vec<&String> = modules.iter().filter(|m| !m.trim().is_empty()).collect();
    if !wanted.is_empty() {
        say!("loading configured modules");
        let mut argv = vec![modprobe.clone(), "-q".into(), "-a".into()];
        argv.extend(wanted.into_iter().cloned());
        if let Err(e) = exec::run(&argv) {
            say!("{e}");
        }
    }
    wait_for_block_devices();
}

/// Polls `/sys/class/block` until the number of entries has not changed for a while, at most
/// [`SETTLE_MAX`].
fn wait_for_block_devices() {
    say!("waiting for block devices");
    let start = Instant::now();
    let mut history = Vec::new();
    loop {
        let n = std::fs::read_dir("/sys/class/block")
            .map(|d| d.count())
            .unwrap_or(0);
        history.push(n);
        if settled(&history, SETTLE_STABLE_POLLS) || start.elapsed() >= SETTLE_MAX {
            say!("{n} block devices");
            return;
        }
        std::thread::sleep(SETTLE_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn collects_dedupes_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("devices");
        let pci = root.join("pci0000:00/0000:00:01.0");
        let virtio = pci.join("virtio0");
        let block = virtio.join("block/vda");
        fs::create_dir_all(&block).unwrap();
        fs::create_dir_all(root.join("platform/serial8250")).unwrap();
        fs::create_dir_all(root.join("system/cpu")).unwrap();
        fs::write(pci.join("modalias"), "pci:v00001AF4d00001001sv*\n").unwrap();
        fs::write(virtio.join("modalias"), "virtio:d00000002v00001AF4\n").unwrap();
        fs::write(
            root.join("platform/serial8250/modalias"),
            "platform:serial8250\n",
        )
        .unwrap();
        // duplicate, empty and whitespace-only aliases
        fs::write(root.join("system/cpu/modalias"), "platform:serial8250").unwrap();
        fs::write(block.join("modalias"), "\n").unwrap();
        fs::write(root.join("modalias"), "  ").unwrap();
        // a file that merely ends in modalias, and a directory called modalias
        fs::write(pci.join("not_modalias"), "nope").unwrap();
        fs::create_dir_all(root.join("x/modalias")).unwrap();
        // a symlink loop back up the tree and a symlink to a modalias elsewhere
        std::os::unix::fs::symlink(&root, virtio.join("subsystem")).unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("modalias"), "outside:x").unwrap();
        std::os::unix::fs::symlink(outside.join("modalias"), block.join("modalias2")).unwrap();
        std::os::unix::fs::symlink(&outside, block.join("device")).unwrap();

        let found: Vec<String> = collect_modaliases(&root).into_iter().collect();
        assert_eq!(
            found,
            vec![
                "pci:v00001AF4d00001001sv*",
                "platform:serial8250",
                "virtio:d00000002v00001AF4"
            ]
        );
    }

    #[test]
    fn missing_root_is_empty() {
        assert!(collect_modaliases(Path::new("/nonexistent/rear-init/sys")).is_empty());
    }

    #[test]
    fn rounds_only_see_new_aliases() {
        let found: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let seen: BTreeSet<String> = ["b", "z"].iter().map(|s| s.to_string()).collect();
        assert_eq!(new_aliases(&found, &seen), vec!["a", "c"]);
        assert!(new_aliases(&found, &found).is_empty());
    }

    #[test]
    fn settling() {
        assert!(!settled(&[], 2));
        assert!(!settled(&[3, 3], 2));
        assert!(settled(&[3, 3, 3], 2));
        assert!(!settled(&[3, 3, 4], 2));
        assert!(settled(&[1, 2, 4, 4, 4], 2));
        assert!(settled(&[0], 0));
    }
}
