//! Running a script inside the rescue system and getting files back.
//!
//! [`run_in_rescue`] boots a rescue image with the given raw disk images
//! plus one blank "results" disk attached last, runs a script that the
//! image carries (`rear.auto=run:PATH`), and unpacks the tar archive the
//! script wrote onto the results disk. Scripts find that disk with
//! [`RESULTS_SNIPPET`]: it is the virtio disk whose serial is the highest
//! `rbdiskN` (virtio-blk exposes the serial in `/sys/block/*/serial`, which
//! needs no udev).

use crate::{bin, Vm, VmSpec};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Size of the results disk the guest writes its tar archive onto.
pub const RESULTS_DISK_BYTES: u64 = 64 << 20;

/// Shell code (bash) that scripts prepend or source: `results_dir=/results`
/// (created) and `save_results`, which writes `tar -C /results -cf
/// /dev/<results disk> .`. The results disk is the one with the highest
/// `rbdiskN` serial; without serials, the last `vdX`. Scripts may run
/// `trap save_results EXIT` to keep partial results when they fail.
pub const RESULTS_SNIPPET: &str = r#"
results_dir=/results
mkdir -p "$results_dir"
results_disk() {
    local best="" bestn=-1 b s n
    for b in /sys/block/*; do
        s=$(cat "$b/serial" 2>/dev/null) || continue
        case "$s" in
            rbdisk[0-9]*) n=${s#rbdisk}
                if [ "$n" -gt "$bestn" ]; then bestn=$n; best=${b##*/}; fi ;;
        esac
    done
    if [ -z "$best" ]; then
        best=$(ls /sys/block | grep '^vd[a-z]*$' | sort | tail -n 1)
    fi
    [ -n "$best" ] && echo "/dev/$best"
}
save_results() {
    local dev
    dev=$(results_disk) || { echo "save_results: no results disk" >&2; return 1; }
    sync
    tar -C "$results_dir" -cf "$dev" . && sync && echo "save_results: wrote $results_dir to $dev"
}
"#;

/// Builds a rescue image with the release binary ([`bin`]) into `out`,
/// with `includes` as `--include SRC:DEST`; returns (kernel, initrd).
/// Panics with rear-build's stderr when it fails.
pub fn build_image(store: &Path, out: &Path, includes: &[(PathBuf, &str)]) -> (PathBuf, PathBuf) {
    let mut c = Command::new(bin());
    c.arg("image")
        .arg("--store")
        .arg(store)
        .arg("--output")
        .arg(out);
    for (src, dest) in includes {
        c.arg("--include").arg(format!("{}:{dest}", src.display()));
    }
    let r = c.output().expect("run rear-build image");
    assert!(
        r.status.success(),
        "rear-build image failed ({}):\n{}",
        r.status,
        String::from_utf8_lossy(&r.stderr)
    );
    (out.join("vmlinuz"), out.join("initrd.img"))
}

/// Boots `kernel`+`initrd` with `disks` (raw image files, attached as
/// virtio disks with serials rbdisk0.. in order) plus one extra blank
/// "results" disk attached last, runs `script_path_in_image` (put there
/// with --include) via `rear.auto=run:`, waits for `REAR-RUN-EXIT`, and
/// unpacks what the script wrote with `tar -C /results -cf /dev/<results
/// disk> .` into `out_dir`. Returns the script's exit code; panics with the
/// console log saved (see [`Vm::save_log`]) on timeout. The console log is
/// also saved when the run succeeds.
pub fn run_in_rescue(
    name: &str,
    kernel: &Path,
    initrd: &Path,
    script_path_in_image: &str,
    disks: &[PathBuf],
    out_dir: &Path,
    timeout: Duration,
) -> i32 {
    let (image, script) = ((kernel, initrd), script_path_in_image);
    run_in_rescue_on(name, image, script, disks, out_dir, timeout, false)
}

/// [`run_in_rescue`] with the choice of reaching the host's loopback
/// servers as 10.0.2.2 (`host_net`).
pub fn run_in_rescue_on(
    name: &str,
    (kernel, initrd): (&Path, &Path),
    script_path_in_image: &str,
    disks: &[PathBuf],
    out_dir: &Path,
    timeout: Duration,
    host_net: bool,
) -> i32 {
    std::fs::create_dir_all(out_dir)
        .unwrap_or_else(|e| panic!("create {}: {e}", out_dir.display()));
    let results =
        std::env::temp_dir().join(format!("rear-results-{name}-{}.raw", std::process::id()));
    let f = std::fs::File::create(&results)
        .unwrap_or_else(|e| panic!("create {}: {e}", results.display()));
    f.set_len(RESULTS_DISK_BYTES).unwrap();
    drop(f);
    let mut all = disks.to_vec();
    all.push(results.clone());

    let mut vm = Vm::boot(VmSpec {
        name,
        kernel,
        initrd,
        append: &format!("rear.auto=run:{script_path_in_image}"),
        disks: all,
        memory_mb: 2048,
        host_net,
    });
    let line = vm.expect("REAR-RUN-EXIT=", timeout);
    vm.wait_exit(Duration::from_secs(60));
    let log = vm.save_log();
    let code: i32 = line
        .rsplit("REAR-RUN-EXIT=")
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{name}: unreadable exit line {line:?} (console log {})",
                log.display()
            )
        });
    drop(vm);

    let unpacked = crate::unpack_results(&results, out_dir);
    let _ = std::fs::remove_file(&results);
    if let Err(e) = unpacked {
        panic!(
            "{name}: the results disk holds no readable tar archive (script exit {code}): {e}\nconsole log: {}",
            log.display()
        );
    }
    code
}
