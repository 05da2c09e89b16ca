//! File systems: what mkfs is asked for.

use super::*;

#[test]
fn ext4_keeps_its_inode_count_unless_resized() {
    let mut l = scenarios::gpt_esp_ext4_swap();
    // The ext4 root is the last partition, so a larger disk grows it.
    l.disks[0].partitions.pop();
    l.swaps.clear();
    l.filesystems[1].attrs.extend([
        ("inode_count".to_string(), "229824".to_string()),
        ("bytes_per_inode".to_string(), "16356".to_string()),
    ]);
    let mkfs_of = |size: u64| {
        let p = plan(&l, &[disk("/dev/vda", size)], &Options::default()).unwrap();
        p.steps
            .iter()
            .find(|s| s.id == "mkfs:/dev/vda2")
            .unwrap()
            .argv
            .clone()
    };
    let same = mkfs_of(2 * GIB);
    assert!(same.windows(2).any(|w| w == ["-N", "229824"]), "{same:?}");
    assert!(!same.contains(&"-i".to_string()), "{same:?}");
    let grown = mkfs_of(4 * GIB);
    assert!(grown.windows(2).any(|w| w == ["-i", "16356"]), "{grown:?}");
    assert!(!grown.contains(&"-N".to_string()), "{grown:?}");
}
