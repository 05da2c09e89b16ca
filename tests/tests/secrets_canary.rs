//! The secrets canary (issue 12): a rescue image build and borg backups
//! with a borg passphrase, a CIFS password and a LUKS passphrase
//! configured, each a distinct string of its own, and a borg passphrase
//! that is wrong. None of them may reach a log, an argv (sampled from
//! /proc every few milliseconds while each command runs), stdout, stderr
//! or an error message, manifest.json, or a world-readable file under the
//! output directory, the store, the backup directory or borg's own
//! directories. The initrd holds the two secrets the configuration
//! deliberately brings into the image (docs/backup.md: the borg
//! passphrase file and the CIFS credentials file, through image.include)
//! as exactly those files, mode 0600, and nowhere else in its whole
//! uncompressed stream; the LUKS passphrase (`luks-passphrase` in the
//! backup directory, for unattended recovery) is not in it at all.

use rear_tests::argv::Watch;
use rear_tests::{rear_build, Run};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Canaries {
    borg: String,
    wrong: String,
    cifs: String,
    luks: String,
}

impl Canaries {
    fn new() -> Canaries {
        let nonce = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        Canaries {
            borg: format!("borgpass-canary-{nonce}"),
            wrong: format!("wrongpass-canary-{nonce}"),
            cifs: format!("cifspass-canary-{nonce}"),
            luks: format!("lukspass-canary-{nonce}"),
        }
    }

    fn all(&self) -> [(&'static str, &str); 4] {
        [
            ("borg passphrase", &self.borg),
            ("wrong borg passphrase", &self.wrong),
            ("CIFS password", &self.cifs),
            ("LUKS passphrase", &self.luks),
        ]
    }

    /// The canaries `data` holds, by name.
    fn found_in(&self, data: &[u8]) -> Vec<&'static str> {
        self.all()
            .into_iter()
            .filter(|(_, c)| count(data, c.as_bytes()) > 0)
            .map(|(name, _)| name)
            .collect()
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn secret_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// argv samples taken over the whole test.
static SAMPLES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs rear-build while every process's argv is watched for the canaries;
/// its stdout and stderr must not hold them either.
fn run(c: &Canaries, args: &[&str], env: &[(&str, &str)]) -> Run {
    let needles: Vec<&str> = c.all().iter().map(|(_, s)| *s).collect();
    let watch = Watch::start(&needles, Duration::from_millis(2));
    let r = rear_build(args, env, None);
    let seen = watch.stop();
    // A command that fails at once (the CIFS mount) may end between two
    // samples under load; the test as a whole must have sampled often.
    assert!(seen.samples >= 1, "{args:?}: argv never sampled");
    SAMPLES.fetch_add(seen.samples, std::sync::atomic::Ordering::SeqCst);
    assert!(seen.hits.is_empty(), "{args:?}: on argv: {:?}", seen.hits);
    for (what, out) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        let found = c.found_in(out.as_bytes());
        assert!(found.is_empty(), "{args:?}: {found:?} on {what}:\n{out}");
    }
    r
}

/// Every regular file below `dir` (symlinks not followed).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// The world-readable files below `dir` that hold a canary.
fn world_readable_leaks(c: &Canaries, dir: &Path) -> Vec<String> {
    let mut leaks = Vec::new();
    for f in files(dir) {
        let mode = std::fs::symlink_metadata(&f).unwrap().permissions().mode();
        if mode & 0o004 == 0 {
            continue;
        }
        let found = c.found_in(&std::fs::read(&f).unwrap());
        if !found.is_empty() {
            leaks.push(format!(
                "{} (mode {:o}): {found:?}",
                f.display(),
                mode & 0o7777
            ));
        }
    }
    leaks
}

/// The initrd's layers (concatenated compressed streams, as manifest.json lists
/// them) uncompressed into one stream, and every entry of their newc
/// archives: (path, mode, data).
type Entry = (String, u32, Vec<u8>);
fn initrd(out: &Path) -> (Vec<u8>, Vec<Entry>) {
    use std::io::Read;
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let bytes = std::fs::read(out.join("initrd.img")).unwrap();
    let (mut stream, mut entries, mut offset) = (Vec::new(), Vec::new(), 0usize);
    for l in m["layers"].as_array().unwrap() {
        let size = l["size"].as_u64().unwrap() as usize;
        let (_, raw) = rear_tests::uncompress_layer(&bytes[offset..offset + size]);
        offset += size;
        let mut data = &raw[..];
        loop {
            let mut r = cpio::NewcReader::new(data).unwrap();
            if r.entry().is_trailer() {
                break;
            }
            let (name, mode) = (format!("/{}", r.entry().name()), r.entry().mode());
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).unwrap();
            data = r.finish().unwrap();
            entries.push((name, mode, buf));
        }
        stream.extend_from_slice(&raw);
    }
    assert_eq!(offset, bytes.len(), "the layers make up the whole initrd");
    (stream, entries)
}

#[test]
fn no_secret_reaches_a_log_an_argv_an_output_or_a_readable_file() {
    let c = Canaries::new();
    let d = tempfile::tempdir().unwrap();
    let p = |rel: &str| d.path().join(rel);
    let s = |path: &PathBuf| path.to_str().unwrap().to_string();
    for dir in ["secrets", "src/etc", "logs", "restored"] {
        std::fs::create_dir_all(p(dir)).unwrap();
    }
    // The secrets, each in a file of its own as the configuration takes it.
    secret_file(&p("secrets/borg.pass"), &format!("{}\n", c.borg));
    secret_file(&p("secrets/wrong.pass"), &format!("{}\n", c.wrong));
    secret_file(
        &p("secrets/cifs.cred"),
        &format!("username=bk\npassword={}\n", c.cifs),
    );
    std::fs::write(p("src/etc/motd"), "backed up\n").unwrap();
    std::fs::write(p("src/data"), vec![7u8; 100_000]).unwrap();
    let mut layout = rear_layout::Layout::new();
    layout.mounts.push(rear_layout::Mount {
        device: "/dev/x".into(),
        mountpoint: s(&p("src")),
        fstype: "ext4".into(),
        ..Default::default()
    });
    std::fs::write(p("layout.json"), layout.to_json()).unwrap();

    // Three configurations: borg to a local repository; the same with a
    // wrong passphrase; and borg to a CIFS share (nothing listens on port
    // 1, so its mount fails) whose image carries both secrets the rescue
    // system needs for it, as docs/backup.md says to.
    let image = format!(
        "[image]\noutput = \"{}\"\nstore = \"{}\"\n",
        s(&p("out")),
        s(&p("store"))
    );
    let config = |name: &str, backup: String| {
        let dir = p(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), format!("{image}{backup}")).unwrap();
        s(&dir)
    };
    let local = config(
        "etc-local",
        format!(
            "[backup]\nmethod = \"borg\"\nurl = \"file://{}\"\npassphrase_file = \"{}\"\n",
            s(&p("repo")),
            s(&p("secrets/borg.pass"))
        ),
    );
    let wrong = config(
        "etc-wrong",
        format!(
            "[backup]\nmethod = \"borg\"\nurl = \"file://{}\"\npassphrase_file = \"{}\"\n",
            s(&p("repo")),
            s(&p("secrets/wrong.pass"))
        ),
    );
    // (`include` continues the [image] table that `config` starts with.)
    let cifs = config(
        "etc-cifs",
        format!(
            "include = [\"{}:/etc/rear-build/borg.pass\", \"{}:/etc/rear-build/cifs.cred\"]\n[backup]\nmethod = \"borg\"\nurl = \"cifs://bk@127.0.0.1:1/share\"\nmount_options = \"credentials={},vers=3.0\"\npassphrase_file = \"{}\"\n",
            s(&p("secrets/borg.pass")),
            s(&p("secrets/cifs.cred")),
            s(&p("secrets/cifs.cred")),
            s(&p("secrets/borg.pass"))
        ),
    );
    // borg's cache and security records go into the test's directory too.
    let borg_base = s(&p("borg-base"));
    let env = [("BORG_BASE_DIR", borg_base.as_str())];
    let log = |name: &str| s(&p(&format!("logs/{name}.log")));
    let lf = s(&p("layout.json"));

    let r = run(&c, &["-c", &cifs, "--log", &log("image"), "image"], &env);
    assert_eq!(r.status, 0, "image: {}", r.stderr);
    let backup = |cfg: &str, name: &str| {
        run(
            &c,
            &[
                "-c",
                cfg,
                "--log",
                &log(name),
                "mkbackuponly",
                "--layout",
                &lf,
            ],
            &env,
        )
    };
    let r = backup(&local, "backup1");
    assert_eq!(r.status, 0, "first backup: {}", r.stderr);
    // The LUKS passphrase for unattended recovery, where recover looks for
    // it (cli/src/workflows.rs PASSPHRASE_FILE), then a second backup.
    secret_file(&p("repo/luks-passphrase"), &format!("{}\n", c.luks));
    let r = backup(&local, "backup2");
    assert_eq!(r.status, 0, "second backup: {}", r.stderr);
    let r = run(
        &c,
        &[
            "-c",
            &local,
            "--log",
            &log("restore"),
            "restoreonly",
            "--root",
            &s(&p("restored")),
        ],
        &env,
    );
    assert_eq!(r.status, 0, "restore: {}", r.stderr);
    // Failures: their errors must not carry the secrets either.
    let r = backup(&wrong, "wrong");
    assert_ne!(r.status, 0, "a wrong passphrase was taken: {}", r.stderr);
    assert!(r.stderr.contains("passphrase"), "{}", r.stderr);
    let r = backup(&cifs, "cifs");
    assert_ne!(r.status, 0, "a mount of port 1 worked?: {}", r.stderr);
    assert!(r.stderr.contains("mount"), "{}", r.stderr);

    // No log holds a canary, whatever its mode.
    for f in files(&p("logs")) {
        let text = std::fs::read(&f).unwrap();
        let found = c.found_in(&text);
        assert!(
            found.is_empty(),
            "{found:?} in the log {}:\n{}",
            f.display(),
            String::from_utf8_lossy(&text)
        );
    }
    assert!(
        std::fs::read_to_string(p("logs/wrong.log"))
            .unwrap()
            .contains("borg"),
        "the log of the failed backup has its borg commands"
    );
    let manifest = std::fs::read(p("out/manifest.json")).unwrap();
    assert!(c.found_in(&manifest).is_empty(), "in manifest.json");
    // No world-readable file holds one.
    let mut leaks = Vec::new();
    for dir in ["out", "store", "repo", "borg-base", "logs"] {
        leaks.extend(world_readable_leaks(&c, &p(dir)));
    }
    assert!(leaks.is_empty(), "world-readable:\n{}", leaks.join("\n"));

    // The initrd: the borg passphrase and the CIFS password only as the
    // files image.include brought in, mode 0600; the others not at all.
    let (stream, entries) = initrd(&p("out"));
    for (what, canary, carrier) in [
        (
            "borg passphrase",
            &c.borg,
            Some("/etc/rear-build/borg.pass"),
        ),
        ("CIFS password", &c.cifs, Some("/etc/rear-build/cifs.cred")),
        ("wrong borg passphrase", &c.wrong, None),
        ("LUKS passphrase", &c.luks, None),
    ] {
        let holders: Vec<&Entry> = entries
            .iter()
            .filter(|e| count(&e.2, canary.as_bytes()) > 0)
            .collect();
        let names: Vec<&str> = holders.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, carrier.into_iter().collect::<Vec<_>>(), "{what}");
        for e in &holders {
            assert_eq!(e.1 & 0o7777, 0o600, "{what}: {} mode {:o}", e.0, e.1);
        }
        let inside: usize = holders.iter().map(|e| count(&e.2, canary.as_bytes())).sum();
        assert_eq!(
            count(&stream, canary.as_bytes()),
            inside,
            "{what}: in the initrd's stream outside the file that carries it"
        );
    }
    let samples = SAMPLES.load(std::sync::atomic::Ordering::SeqCst);
    assert!(samples >= 50, "argv sampled only {samples} times in all");
}
