//! A ReaR user switching: ReaR's configuration files imported (the
//! configurations ReaR's own presentation shows, and the examples Debian's
//! `rear` package ships), files with shell code refused and never run, and
//! the binary called as `rear`.

use rear_tests::{bin, rear_build};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A ReaR configuration directory holding `local.conf`.
fn conf_dir(text: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("local.conf"), text).unwrap();
    d
}

/// `config import-rear DIR` as TOML, which must load (exit 0).
fn import(dir: &Path) -> (toml::Table, String) {
    let r = rear_build(&["config", "import-rear", dir.to_str().unwrap()], &[], None);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    let t: toml::Table = r
        .stdout
        .parse()
        .unwrap_or_else(|e| panic!("not TOML: {e}\n{}", r.stdout));
    (t, r.stdout)
}

fn get<'a>(t: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut v = t.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

fn str_of(t: &toml::Table, key: &str) -> Option<String> {
    get(t, key).and_then(|v| v.as_str()).map(String::from)
}

fn list_of(t: &toml::Table, key: &str) -> Vec<String> {
    get(t, key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// (media, method, backup url, output url) of an import.
fn settings(t: &toml::Table) -> (Vec<String>, Option<String>, Option<String>, Option<String>) {
    (
        list_of(t, "image.media"),
        str_of(t, "backup.method"),
        str_of(t, "backup.url"),
        str_of(t, "output.url"),
    )
}

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn the_presentations_configurations_import_to_their_media_and_backups() {
    // Belgian Federal Police: USB rescue media, Bacula restores.
    let d = conf_dir("BACKUP=BACULA\nOUTPUT=USB\nUSB_DEVICE=/dev/disk/by-label/REAR-000\n");
    let (t, text) = import(d.path());
    assert_eq!(settings(&t), (v(&["usb"]), some("external"), None, None));
    assert!(
        get(&t, "usb.device").is_none(),
        "REAR-000 is found by its label"
    );
    assert!(
        text.contains("local.conf:1: BACKUP: Bacula restores on its own"),
        "{text}"
    );

    // USB backup media: the backup onto the USB disk, two exclusions.
    let d = conf_dir(
        "BACKUP=NETFS\nOUTPUT=USB\nUSB_DEVICE=/dev/disk/by-label/REAR-000\nONLY_INCLUDE_VG=( vg00 )\nEXCLUDE_MOUNTPOINTS=( /data )\n",
    );
    let (t, text) = import(d.path());
    assert_eq!(
        settings(&t),
        (v(&["usb"]), some("tar"), some("usb://REAR-000"), None)
    );
    assert_eq!(list_of(&t, "layout.only_vgs"), ["vg00"]);
    assert_eq!(list_of(&t, "layout.exclude_mountpoints"), ["/data"]);
    assert!(
        text.contains("only_vgs = [\"vg00\"]  # ")
            && text.contains("local.conf:4 (ONLY_INCLUDE_VG)"),
        "each setting names its file, line and variable:\n{text}"
    );

    // OBDR rescue tapes with Bacula; the Bacula variables are listed.
    let d =
        conf_dir("BACKUP=BACULA\nOUTPUT=OBDR\nBEXTRACT_DEVICE=Ultrium-1\nBEXTRACT_VOLUME=VOL-*\n");
    let (t, text) = import(d.path());
    assert_eq!(settings(&t), (v(&["obdr"]), some("external"), None, None));
    for (line, var) in [(3, "BEXTRACT_DEVICE"), (4, "BEXTRACT_VOLUME")] {
        assert!(
            text.contains(&format!("local.conf:{line}: {var}: not supported")),
            "{var} is listed with file and line:\n{text}"
        );
    }

    // OBDR backup tapes: the rescue image and the backup on the tape.
    let d = conf_dir("BACKUP=NETFS\nOUTPUT=OBDR\nTAPE_DEVICE=/dev/nst0\n");
    let (t, _) = import(d.path());
    assert_eq!(
        settings(&t),
        (v(&["obdr"]), some("tar"), some("tape:///dev/nst0"), None)
    );
    assert_eq!(str_of(&t, "obdr.device"), some("/dev/nst0"));

    // Centralized images: the ISO pushed over HTTP, which rear-build does
    // only with TLS (the note says so).
    let d = conf_dir("BACKUP=BACULA\nOUTPUT=ISO\nISO_URL=http://server:8080/path/\n");
    let (t, text) = import(d.path());
    assert_eq!(
        settings(&t),
        (
            v(&["iso"]),
            some("external"),
            None,
            some("https://server:8080/path/")
        )
    );
    assert!(text.contains("local.conf:3: ISO_URL: http://server:8080/path/: rear-build never sends an image over plain http"), "{text}");
}

/// Debian's `rear` package's examples: installed, or taken from the
/// package without installing it.
fn rear_examples() -> PathBuf {
    let installed = Path::new("/usr/share/doc/rear/examples");
    if installed.is_dir() {
        return installed.to_path_buf();
    }
    let d = std::env::temp_dir().join("rear-build-test-rear-deb");
    let ex = d.join("x/usr/share/doc/rear/examples");
    if ex.is_dir() {
        return ex;
    }
    fs::create_dir_all(&d).unwrap();
    let ok = Command::new("apt-get")
        .args(["download", "rear"])
        .current_dir(&d)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "needs Debian's rear package: apt-get download rear failed"
    );
    let deb = fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("the downloaded rear .deb");
    let tmp = d.join("x.part");
    let _ = fs::remove_dir_all(&tmp);
    let ok = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&tmp)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "dpkg-deb -x {}", deb.display());
    fs::rename(&tmp, d.join("x")).unwrap();
    ex
}

/// An example's name, media, method, backup.url, output.url, and one more
/// (key, value) it sets.
type Example<'a> = (
    &'a str,
    &'a [&'a str],
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    (&'a str, &'a str),
);

#[test]
fn the_examples_rear_ships_import_to_their_media_and_backups() {
    let dir = rear_examples();
    let nfs = "nfs://your.NFS.server.IP/path/to/your/rear/backup";
    // Each example: (media, method, backup.url, output.url), and one more
    // setting it makes.
    let want: &[Example] = &[
        (
            "PXE-booting-example-with-URL-style.conf",
            &["pxe"],
            "tar",
            Some("nfs://server/export/nfs/tftpboot"),
            None,
            ("", ""),
        ),
        (
            "RHEL6-NETFS-of-NBU-master-example.conf",
            &["iso"],
            "tar",
            Some("nfs://nfs-server-address/path/to/images"),
            None,
            ("backup.mount_options", "nfsvers=3,nolock"),
        ),
        (
            "RHEL7-ISO-Oracle-example.conf",
            &["iso"],
            "tar",
            Some("nfs://NASserver-FQDN/vol/linux/images_1/myHOSTNAME"),
            None,
            ("backup.exclude", "/DBEXPORT"),
        ),
        (
            "RHEL7-PPC64LE-Multipath-PXE-GRUB.conf",
            &["pxe"],
            "tar",
            Some("nfs://XX.YY.ZZ.AA/NFS/rear"),
            None,
            ("", ""),
        ),
        (
            "SLE11-SLE12-SAP-HANA-UEFI-example.conf",
            &["iso"],
            "tar",
            Some(nfs),
            None,
            ("layout.exclude_vgs", "vgHANA-log-HC2"),
        ),
        (
            "SLE11-ext3-example.conf",
            &["iso"],
            "tar",
            Some(nfs),
            None,
            ("backup.mount_options", "nfsvers=3,nolock"),
        ),
        (
            "SLE12-SP1-btrfs-example.conf",
            &["iso"],
            "tar",
            Some(nfs),
            None,
            ("image.required_programs", "snapper"),
        ),
        (
            "SLE12-SP2-btrfs-example.conf",
            &["iso"],
            "tar",
            Some(nfs),
            None,
            ("image.files", "/usr/lib/snapper/installation-helper"),
        ),
        (
            "SLE12-btrfs-example.conf",
            &["iso"],
            "tar",
            Some(nfs),
            None,
            ("", ""),
        ),
        (
            "USB-and-Samba-example.conf",
            &["usb"],
            "tar",
            Some("cifs://server/share"),
            None,
            ("usb.device", "/dev/sdXN"),
        ),
        (
            "borg-example.conf",
            &["iso"],
            "borg",
            Some("ssh://borg_user@foo.bar.xy/mnt/rear/{host}"),
            Some("nfs://foo.bar.xy/mnt/rear/iso"),
            ("backup.exclude", "/crash"),
        ),
        // The backup inside the ISO has no rear-build form: backup.url is
        // left to be set (the note says so).
        (
            "rescue-and-backup-on-same-ISO-image-example.conf",
            &["iso"],
            "tar",
            None,
            Some("nfs://SERVER/vol/linux_images_dr/rear"),
            ("", ""),
        ),
    ];
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let mut seen = 0;
    for (name, media, method, url, out, (key, value)) in want {
        let file = dir.join(name);
        assert!(file.is_file(), "{} is not in the package", file.display());
        let text = fs::read_to_string(&file).unwrap();
        let d = conf_dir(&text);
        let (t, out_text) = import(d.path());
        let url = url.map(|u| u.replace("{host}", &host));
        assert_eq!(
            settings(&t),
            (v(media), some(method), url, out.map(String::from)),
            "{name}:\n{out_text}"
        );
        if !key.is_empty() {
            let got = get(&t, key).unwrap_or_else(|| panic!("{name}: no {key}:\n{out_text}"));
            let has = match got {
                toml::Value::Array(a) => a.iter().any(|x| x.as_str() == Some(value)),
                v => v.as_str() == Some(value),
            };
            assert!(has, "{name}: {key} = {got}, wanted {value}");
        }
        seen += 1;
    }
    // Every example the package ships is in the table above.
    let shipped = fs::read_dir(&dir).unwrap().count();
    assert_eq!(seen, shipped, "examples in {} not tested", dir.display());

    // Secrets never reach the result: the Samba password and the borg
    // passphrase are named in notes, not shown.
    for (name, secret) in [
        ("USB-and-Samba-example.conf", "pass=password"),
        ("borg-example.conf", "S3cr37_P455w0rD"),
    ] {
        let d = conf_dir(&fs::read_to_string(dir.join(name)).unwrap());
        let (_, text) = import(d.path());
        assert!(
            !text.contains(secret),
            "{name}: the secret is in the output:\n{text}"
        );
    }
}

#[test]
fn shell_code_in_rears_files_is_refused_with_file_and_line_and_never_run() {
    let work = tempfile::tempdir().unwrap();
    let canary = work.path().join("canary");
    let c = canary.display();
    let cases = [
        (
            format!("OUTPUT=ISO\nBACKUP_URL=$(touch {c})\n"),
            2,
            "command substitution $(...)",
        ),
        (
            format!("OUTPUT=ISO\nX=`touch {c}`\n"),
            2,
            "command substitution (`...`)",
        ),
        (
            format!("OUTPUT=ISO\n\nif true; then touch {c}; fi\n"),
            3,
            "if",
        ),
        (
            format!("for f in a; do touch {c}; done\nOUTPUT=USB\n"),
            1,
            "for",
        ),
        (
            format!("OUTPUT=ISO\ncase x in x) touch {c};; esac\n"),
            2,
            "case",
        ),
        (
            format!("OUTPUT=ISO\nf() {{ touch {c}; }}\nf\n"),
            2,
            "function",
        ),
        (format!("OUTPUT=ISO\nsource {c}.sh\n"), 2, "source"),
        (format!("OUTPUT=ISO\ntouch {c}\n"), 2, "touch"),
    ];
    fs::write(format!("{c}.sh"), format!("touch {c}\n")).unwrap();
    for (text, line, construct) in &cases {
        let d = conf_dir(text);
        let dir = d.path().to_str().unwrap();
        let r = rear_build(&["config", "import-rear", dir], &[], None);
        assert_eq!(r.status, 2, "{text}: refused\n{}", r.stdout);
        let at = format!("{dir}/local.conf:{line}:");
        assert!(
            r.stderr.contains(&at) && r.stderr.contains(construct),
            "{text}: the error names {at} and {construct}:\n{}",
            r.stderr
        );
        // Lenient: the rest is read, that statement skipped with a warning.
        let r = rear_build(&["config", "import-rear", "--lenient", dir], &[], None);
        assert_eq!(r.status, 0, "{text}: lenient\n{}", r.stderr);
        assert!(
            r.stderr.contains(&at),
            "{text}: the warning names {at}:\n{}",
            r.stderr
        );
        let t: toml::Table = r.stdout.parse().unwrap();
        let media = if text.contains("OUTPUT=USB") {
            "usb"
        } else {
            "iso"
        };
        assert_eq!(list_of(&t, "image.media"), [media], "{text}:\n{}", r.stdout);
        assert!(!canary.exists(), "{text}: something in the file ran");
    }
    // The binary called as `rear` reads the same files the same way.
    let link = work.path().join("rear");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let d = conf_dir(&cases[0].0);
    let out = Command::new(&link)
        .args(["-c", d.path().to_str().unwrap(), "dump"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(!canary.exists(), "rear dump ran something in the file");
}

#[test]
fn called_as_rear_it_takes_rears_flags_and_shows_where_each_setting_came_from() {
    let work = tempfile::tempdir().unwrap();
    let link = work.path().join("rear");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let d = conf_dir("OUTPUT=USB\nBACKUP=NETFS\nBACKUP_URL=nfs://nas/rear\nEXCLUDE_VG=( vgdata )\nFOO_UNKNOWN=1\n");
    fs::write(
        d.path().join("site.conf"),
        "OUTPUT=ISO\nUSB_RETAIN_BACKUP_NR=5\n",
    )
    .unwrap();
    fs::write(
        d.path().join("extra.conf"),
        "KERNEL_CMDLINE=\"quiet net.ifnames=0\"\n",
    )
    .unwrap();
    let cfg = tempfile::tempdir().unwrap(); // rear-build's own: none
    let rear = |args: &[&str]| {
        let out = Command::new(&link)
            .args(args)
            .env("REAR_BUILD_CONFIG_DIR", cfg.path())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = d.path().to_str().unwrap();
    let (code, out, err) = rear(&["-c", dir, "-C", "extra", "dump"]);
    assert_eq!(code, 0, "{err}");
    let local = format!("{dir}/local.conf");
    for (setting, from) in [
        ("media = [\"usb\"]", format!("{local}:1 (OUTPUT)")),
        (
            "url = \"nfs://nas/rear\"",
            format!("{local}:3 (BACKUP_URL)"),
        ),
        (
            "exclude_vgs = [\"vgdata\"]",
            format!("{local}:4 (EXCLUDE_VG)"),
        ),
        (
            "keep = 5",
            format!("{dir}/site.conf:2 (USB_RETAIN_BACKUP_NR)"),
        ),
        (
            "boot_cmdline = \"quiet net.ifnames=0\"",
            format!("{dir}/extra.conf:1 (KERNEL_CMDLINE)"),
        ),
        ("boot_timeout = 5", "default".to_string()),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(setting) && l.ends_with(&format!("# {from}"))),
            "dump shows {setting} from {from}:\n{out}"
        );
    }
    let (code, out, _) = rear(&["-V"]);
    assert_eq!(code, 0);
    assert!(out.contains("rear-build"), "{out}");
    let (code, out, _) = rear(&["help"]);
    assert_eq!(code, 0);
    for verb in [
        "mkrescue",
        "mkbackuponly",
        "restoreonly",
        "layoutonly",
        "checklayout",
        "mountonly",
        "format",
    ] {
        assert!(out.contains(verb), "rear help lacks {verb}:\n{out}");
    }
    let (code, out, _) = rear(&["-c", dir, "-s", "mkrescue"]);
    assert_eq!((code, out.contains("simulation")), (0, true), "{out}");
    let (code, _, err) = rear(&["-c", dir, "shell"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("`rear shell` is not a command rear-build has"),
        "{err}"
    );
}
