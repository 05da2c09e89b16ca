//! Restore throughput of the tar backend against the raw sequential write
//! speed of the same target disk, both measured in one rescue VM run.
//! A benchmark, not a test: it asserts only that the runs worked, and
//! prints `BENCH ...` lines that `ci/bench` puts in its table. Run it with
//! `ci/bench` (or `cargo test --release -p rear-tests --test bench_restore
//! -- --ignored --nocapture`).

use rear_tests::rescue_vm::{build_image, run_in_rescue, RESULTS_SNIPPET};
use rear_tests::{artefact_dir, vm_tests_skipped};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// vda: the target disk; vdb: the backup (REAR-000); vdc: the source data.
/// The source is the rescue system's own /usr, copied 4 times: real
/// programs and libraries, about 1 GiB.
const SCRIPT: &str = r#"
exec > >(tee -a /results/log.txt) 2>&1
trap 'rc=$?; echo "SCRIPT-EXIT=$rc"; save_results; exit $rc' EXIT
set -euxo pipefail
now() { date +%s.%N; }
mkfs.ext4 -q -L REAR-000 /dev/vdb
mkfs.ext4 -q -L src /dev/vdc
mkdir -p /mnt/src && mount /dev/vdc /mnt/src
for i in 1 2 3 4; do cp -a /usr "/mnt/src/usr$i"; done
sync
bytes=$(du -sb --apparent-size /mnt/src | cut -f1)
files=$(find /mnt/src | wc -l)
mkdir -p /etc/rear-build
printf '[backup]\nurl = "usb://REAR-000"\n' > /etc/rear-build/config.toml
rear-build savelayout --exclude-disk /dev/vda
rear-build mkbackuponly
mount "$(blkid -L REAR-000)" /run/rear-build/target
archive=$(stat -c %s /run/rear-build/target/rear/*/backup-*/backup.tar.zst)
# The target: one partition over the disk. First its raw speed, then a
# file system on it, the backup restored into it (verify included).
printf 'label: gpt\ntype=L\n' | sfdisk -q /dev/vda
sleep 1
t0=$(now); dd if=/dev/zero of=/dev/vda1 bs=4M count=256 oflag=direct status=none; t1=$(now)
dd_s=$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }')
mkfs.ext4 -q /dev/vda1
mkdir -p /mnt/target && mount /dev/vda1 /mnt/target
sync; echo 3 > /proc/sys/vm/drop_caches
t0=$(now); rear-build restoreonly --root /mnt/target; sync; t1=$(now)
restore_s=$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }')
echo "BENCH dd bytes=1073741824 seconds=$dd_s" | tee /results/bench.txt
echo "BENCH restore bytes=$bytes files=$files archive=$archive seconds=$restore_s" | tee -a /results/bench.txt
"#;

fn field(line: &str, k: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {k}= in {line:?}"))
}

#[test]
#[ignore = "benchmark: ci/bench"]
fn restore_throughput_against_dd() {
    if vm_tests_skipped("bench restore") {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let script = dir.path().join("bench-restore");
    std::fs::write(&script, format!("#!/bin/bash\n{RESULTS_SNIPPET}\n{SCRIPT}")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (kernel, initrd) = build_image(
        &dir.path().join("store"),
        &dir.path().join("out"),
        &[(script, "/usr/local/bin/bench-restore")],
    );
    let disks: Vec<_> = [
        ("target", 4u64 << 30),
        ("backup", 3 << 30),
        ("src", 3 << 30),
    ]
    .iter()
    .map(|(n, b)| {
        let p = dir.path().join(format!("{n}.raw"));
        std::fs::File::create(&p).unwrap().set_len(*b).unwrap();
        p
    })
    .collect();
    let out = artefact_dir().join("bench-restore");
    let _ = std::fs::remove_dir_all(&out);
    let code = run_in_rescue(
        "bench-restore",
        &kernel,
        &initrd,
        "/usr/local/bin/bench-restore",
        &disks,
        &out,
        Duration::from_secs(1800),
    );
    let log = std::fs::read_to_string(out.join("log.txt")).unwrap_or_default();
    assert_eq!(code, 0, "the benchmark script failed:\n{log}");
    let bench = std::fs::read_to_string(out.join("bench.txt")).unwrap();
    let mut lines = bench.lines();
    let (dd, restore) = (lines.next().unwrap(), lines.next().unwrap());
    let gib = |l: &str| field(l, "bytes") / field(l, "seconds") / (1u64 << 30) as f64;
    println!(
        "BENCH-TABLE dd sequential write to the target disk: {:.3} GiB/s",
        gib(dd)
    );
    println!(
        "BENCH-TABLE tar restore + verify into ext4 on it: {:.3} GiB/s ({:.0} MiB in {} files, archive {:.0} MiB, {:.1} s)",
        gib(restore),
        field(restore, "bytes") / (1 << 20) as f64,
        field(restore, "files"),
        field(restore, "archive") / (1 << 20) as f64,
        field(restore, "seconds")
    );
    println!("BENCH-TABLE restore / dd: {:.2}", gib(restore) / gib(dd));
}
