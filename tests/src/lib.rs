//! Helpers for rear-build's integration and VM tests: finding the built
//! binary, building images into scratch directories, and booting them in
//! qemu (software emulation) while watching the serial console for markers;
//! the fuzz harness of the parsers of outside input (`fuzz`).

pub mod debian;
pub mod fslist;
pub mod fuzz;
pub mod rescue_vm;
pub mod servers;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The release binary `ci/test` builds; `REAR_BUILD_BIN` overrides.
pub fn bin() -> PathBuf {
    if let Ok(p) = std::env::var("REAR_BUILD_BIN") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/rear-build");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build --release), or run ci/test",
        p.display()
    );
    p
}

/// One initrd layer (or several of one compression), uncompressed, and
/// its compression by the magic bytes: `zstd` (28 b5 2f fd), `xz` (fd 37
/// 7a 58 5a 00) or `gzip` (1f 8b). Decoded with the crates themselves, not
/// with rear-build's reader, so a test checks rear-build against them.
pub fn uncompress_layer(data: &[u8]) -> (&'static str, Vec<u8>) {
    let mut out = Vec::new();
    let name = if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        out = zstd::decode_all(data).expect("zstd layer");
        "zstd"
    } else if data.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
        xz2::read::XzDecoder::new_multi_decoder(data)
            .read_to_end(&mut out)
            .expect("xz layer");
        "xz"
    } else if data.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut out)
            .expect("gzip layer");
        "gzip"
    } else {
        panic!(
            "an initrd layer of unknown compression: {:02x?}",
            &data[..data.len().min(6)]
        )
    };
    (name, out)
}

/// Where failing tests leave console logs for inspection.
pub fn artefact_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artefacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs rear-build with `args` and extra environment; never panics on a
/// non-zero exit (tests assert on it).
pub fn rear_build(args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> Run {
    let mut c = Command::new(bin());
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let out = c.output().expect("run rear-build");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An unencrypted key pair made by `rear-build keygen`: (BASE.key, BASE.pub).
pub fn keygen(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let base = dir.join(name);
    let r = rear_build(
        &["keygen", "-o", base.to_str().unwrap(), "--unencrypted"],
        &[],
        None,
    );
    assert_eq!(r.status, 0, "keygen:\n{}\n{}", r.stdout, r.stderr);
    (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    )
}

pub fn sha256_file(p: &Path) -> String {
    use sha2::Digest;
    let data = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    hex::encode(sha2::Sha256::digest(data))
}

/// True when the caller opted out of VM tests; says so on stderr.
/// A test known to fail, run only with REAR_KNOWN_FAILING=1; otherwise
/// listed as skipped (with why) for ci/test to report, never as passed.
pub fn known_failing(name: &str, why: &str) -> bool {
    if std::env::var("REAR_KNOWN_FAILING").is_ok_and(|v| v == "1") {
        return false;
    }
    eprintln!("SKIPPED {name}: known to fail ({why}); REAR_KNOWN_FAILING=1 runs it");
    list_skipped(&format!("{name} (known to fail: {why})"));
    true
}

/// The harness counts a test that returns as passed: ci/test reads this
/// list (REAR_SKIPPED_LIST) to report it as skipped instead.
fn list_skipped(line: &str) {
    if let Some(list) = std::env::var_os("REAR_SKIPPED_LIST") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(list)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

pub fn vm_tests_skipped(name: &str) -> bool {
    if std::env::var("REAR_SKIP_VM").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED {name}: REAR_SKIP_VM=1 was set");
        list_skipped(name);
        return true;
    }
    assert!(
        which("qemu-system-x86_64"),
        "{name} needs qemu-system-x86_64: apt-get install qemu-system-x86 (or run ci/setup --test); set REAR_SKIP_VM=1 to skip VM tests"
    );
    false
}

/// Unpacks the tar archive a guest wrote onto a raw results disk.
pub fn unpack_results(disk: &Path, out_dir: &Path) -> Result<(), String> {
    let r = Command::new("tar")
        .arg("-C")
        .arg(out_dir)
        .arg("-xf")
        .arg(disk)
        .output()
        .map_err(|e| format!("run tar: {e}"))?;
    if r.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&r.stderr).trim().to_string())
    }
}

pub fn which(prog: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(prog).exists())
}

/// A qemu guest booted from a kernel and initrd, its serial console read
/// line by line.
pub struct Vm {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    pub log: Vec<String>,
    name: String,
}

pub struct VmSpec<'a> {
    pub name: &'a str,
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    pub append: &'a str,
    pub disks: Vec<PathBuf>,
    pub memory_mb: u32,
    /// The guest may open connections to the host's loopback servers as
    /// 10.0.2.2 (qemu's user network); otherwise it is isolated.
    pub host_net: bool,
}

/// qemu as every test VM runs it: `machine` (e.g. `q35,accel=tcg`), 2
/// CPUs, `memory_mb`, no default devices or display, no reboot, the serial
/// console on stdout.
pub fn qemu(machine: &str, memory_mb: u32) -> Command {
    let mut c = Command::new("qemu-system-x86_64");
    c.args(["-machine", machine, "-cpu", "max", "-smp", "2"])
        .args(["-m", &memory_mb.to_string()])
        .args([
            "-nodefaults",
            "-nographic",
            "-no-reboot",
            "-serial",
            "stdio",
        ]);
    c
}

impl Vm {
    pub fn boot(spec: VmSpec) -> Vm {
        let mut c = qemu("q35,accel=tcg", spec.memory_mb);
        c.args([
            "-netdev",
            if spec.host_net {
                "user,id=n0"
            } else {
                "user,id=n0,restrict=on"
            },
            "-device",
            "virtio-net-pci,netdev=n0",
        ])
        .arg("-kernel")
        .arg(spec.kernel)
        .arg("-initrd")
        .arg(spec.initrd)
        .args([
            "-append",
            &format!("console=ttyS0 panic=-1 {}", spec.append),
        ]);
        for (i, d) in spec.disks.iter().enumerate() {
            c.arg("-drive")
                .arg(format!("file={},format=raw,if=none,id=d{i}", d.display()))
                .arg("-device")
                .arg(format!("virtio-blk-pci,drive=d{i},serial=rbdisk{i}"));
        }
        Vm::spawn(spec.name, c)
    }

    /// Starts a prepared qemu command; its serial console (stdout) is read
    /// line by line, and written as it comes to
    /// target/test-artefacts/`name`.console.log (`tail -f` it to watch).
    pub fn spawn(name: &str, mut c: Command) -> Vm {
        // The serial console's input: keys for GRUB's menu (`send`).
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qemu-system-x86_64");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let live_path = artefact_dir().join(format!("{name}.console.log"));
        let mut live = std::fs::File::create(&live_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", live_path.display()));
        std::thread::spawn(move || {
            use std::io::Write;
            // The console mixes \r\n and bare \r (GRUB, getty); split on
            // \n and drop the carriage returns at the ends.
            for line in BufReader::new(out).split(b'\n') {
                let Ok(line) = line else { break };
                let s = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_string();
                let _ = writeln!(live, "{s}");
                if tx.send(s).is_err() {
                    break;
                }
            }
        });
        Vm {
            child,
            lines: rx,
            log: Vec::new(),
            name: name.to_string(),
        }
    }

    /// Waits for a console line containing `marker`; returns that line.
    /// Panics (saving the console log) when qemu ends or time runs out.
    pub fn expect(&mut self, marker: &str, timeout: Duration) -> String {
        match self.wait_for(marker, timeout) {
            Some(line) => line,
            None => self.fail(&format!("no {marker:?} on the console within {timeout:?}")),
        }
    }

    /// Waits for a console line containing `marker`; None when time runs
    /// out (the VM is left running). Panics when qemu ends.
    pub fn wait_for(&mut self, marker: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(marker);
                    self.log.push(line.clone());
                    if hit {
                        return Some(line);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("qemu ended before {marker:?} appeared"))
                }
            }
        }
    }

    /// Waits for a GRUB menu that shows `shown`, lets GRUB finish drawing
    /// it (1.5 s of its 5 s timeout: a key typed while GRUB still draws
    /// can be lost; its countdown line is no sign, OVMF's console splits
    /// it), then types `keys`.
    pub fn choose(&mut self, shown: &str, within: Duration, keys: &[&str]) {
        self.expect(shown, within);
        std::thread::sleep(Duration::from_millis(1500));
        self.send(keys);
    }

    /// Types `keys` on the serial console, a key every 200 ms (GRUB reads
    /// an escape sequence as one key only when it arrives whole).
    pub fn send(&mut self, keys: &[&str]) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("qemu's stdin");
        for k in keys {
            stdin
                .write_all(k.as_bytes())
                .expect("type on the serial console");
            stdin.flush().expect("type on the serial console");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops qemu.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for qemu to exit (the guest powered off).
    pub fn wait_exit(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            while let Ok(l) = self.lines.try_recv() {
                self.log.push(l);
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.fail("the guest did not power off in time");
    }

    pub fn save_log(&self) -> PathBuf {
        let p = artefact_dir().join(format!("{}.console.log", self.name));
        std::fs::write(&p, self.log.join("\n")).unwrap();
        p
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        while let Ok(l) = self.lines.try_recv() {
            self.log.push(l);
        }
        let p = self.save_log();
        let tail: Vec<&String> = self.log.iter().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().map(|s| s.as_str()).collect();
        panic!(
            "{}: {why}\nqemu stderr: {err}\nconsole log: {}\nlast lines:\n{}",
            self.name,
            p.display(),
            tail.join("\n")
        );
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every process's argv, as /proc shows it to every user: a secret on a
/// command line is readable by anyone on the machine while it runs.
pub mod argv {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Every process's argv now, its arguments joined by spaces.
    pub fn all() -> Vec<String> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return out;
        };
        for e in dir.flatten() {
            if let Ok(b) = std::fs::read(e.path().join("cmdline")) {
                out.push(String::from_utf8_lossy(&b).replace('\0', " "));
            }
        }
        out
    }

    /// Samples every process's argv from a thread of its own, every
    /// `every`, until stopped, keeping each argv that holds one of the
    /// needles.
    pub struct Watch {
        done: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<(Vec<String>, usize)>,
    }

    /// What a watch saw: the argvs that held a needle, and how many times
    /// it looked.
    pub struct Seen {
        pub hits: Vec<String>,
        pub samples: usize,
    }

    impl Watch {
        pub fn start(needles: &[&str], every: Duration) -> Watch {
            let needles: Vec<String> = needles.iter().map(|s| s.to_string()).collect();
            let done = Arc::new(AtomicBool::new(false));
            let stop = done.clone();
            let thread = std::thread::spawn(move || {
                let mut hits = Vec::new();
                let mut samples = 0;
                // Sample once more after the stop, so even a command that
                // ended before the thread was scheduled is looked at.
                loop {
                    let last = stop.load(Ordering::SeqCst);
                    hits.extend(
                        all()
                            .into_iter()
                            .filter(|a| needles.iter().any(|n| a.contains(n.as_str()))),
                    );
                    samples += 1;
                    if last {
                        break;
                    }
                    std::thread::sleep(every);
                }
                (hits, samples)
            });
            Watch { done, thread }
        }

        pub fn stop(self) -> Seen {
            self.done.store(true, Ordering::SeqCst);
            let (hits, samples) = self.thread.join().expect("the argv watch panicked");
            Seen { hits, samples }
        }
    }
}
