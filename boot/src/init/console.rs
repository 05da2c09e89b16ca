//! The consoles: which terminals get the markers and the shells.
//!
//! `/proc/consoles` lists every console the kernel writes to (`console=ttyS0 console=tty0`
//! gives two). `/dev/console` is an alias of just one of them (the one flagged `C`), so it is
//! used only when `/proc/consoles` yields nothing usable.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// One line of `/proc/consoles`, e.g. `ttyS0  -W- (EC p a)    4:64`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// The console's name (`ttyS0`, `tty0`, `netcon0`).
    pub name: String,
    /// The flags between the parentheses, spaces removed (`ECpa`); `C` marks the console
    /// `/dev/console` refers to.
    pub flags: String,
    /// The tty's device number, when the console has a tty. For `tty0` this is the virtual
    /// terminal in the foreground (4:1 = tty1), not 4:0.
    pub device: Option<(u32, u32)>,
}

impl ConsoleEntry {
    /// True for the console `/dev/console` refers to.
    pub fn is_preferred(&self) -> bool {
        self.flags.contains('C')
    }
}

/// Parses the text of `/proc/consoles`. Lines that do not look like console lines are skipped.
pub fn parse_proc_consoles(text: &str) -> Vec<ConsoleEntry> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let name = line.split_whitespace().next()?.to_string();
            let rest = &line[name.len()..];
            let (flags, tail) = match (rest.find('('), rest.rfind(')')) {
                (Some(open), Some(close)) if open < close => (
                    rest[open + 1..close]
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect(),
                    &rest[close + 1..],
                ),
                _ => (String::new(), rest),
            };
            let device = tail.split_whitespace().last().and_then(parse_major_minor);
            Some(ConsoleEntry {
                name,
                flags,
                device,
            })
        })
        .collect()
}

fn parse_major_minor(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Keeps the first path of every device number; candidates without a known number are kept
/// unless the same path was already taken.
pub fn dedupe_consoles(candidates: Vec<(Option<(u32, u32)>, PathBuf)>) -> Vec<PathBuf> {
    let mut keys = Vec::new();
    let mut out: Vec<PathBuf> = Vec::new();
    for (key, path) in candidates {
        if let Some(key) = key {
            if keys.contains(&key) {
                continue;
            }
            keys.push(key);
        }
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// Splits a Linux `dev_t` into (major, minor) the way glibc's `gnu_dev_major/minor` do.
pub(crate) fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// The `TERM` for a shell on the given console: `linux` on virtual terminals (and
/// `/dev/console`, as the kernel sets for init), `vt100` on serial and other terminals.
pub fn term_for_console(path: &Path) -> &'static str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let vt = name
        .strip_prefix("tty")
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
    if vt || name == "console" {
        "linux"
    } else {
        "vt100"
    }
}

/// The console devices from `/proc/consoles`, deduplicated by device number, or
/// `/dev/console` when there are none.
pub(crate) fn console_paths() -> Vec<PathBuf> {
    let text = match std::fs::read_to_string("/proc/consoles") {
        Ok(t) => t,
        Err(e) => {
            say!("/proc/consoles: {e}; using /dev/console");
            return fallback();
        }
    };
    let mut candidates = Vec::new();
    for entry in parse_proc_consoles(&text) {
        let path = entry
            .device
            .and_then(char_device_path)
            .unwrap_or_else(|| Path::new("/dev").join(&entry.name));
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.file_type().is_char_device() {
            continue;
        }
        let key = entry.device.unwrap_or_else(|| split_dev(meta.rdev()));
        candidates.push((Some(key), path));
    }
    let paths = dedupe_consoles(candidates);
    if paths.is_empty() {
        return fallback();
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    say!("consoles: {}", names.join(" "));
    paths
}

/// Just `/dev/console`.
pub(crate) fn fallback() -> Vec<PathBuf> {
    vec![PathBuf::from("/dev/console")]
}

/// The `/dev` path of a character device, from `DEVNAME=` in its sysfs `uevent`.
fn char_device_path((major, minor): (u32, u32)) -> Option<PathBuf> {
    let uevent = std::fs::read_to_string(format!("/sys/dev/char/{major}:{minor}/uevent")).ok()?;
    let name = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
    Some(Path::new("/dev").join(name.trim()))
}

/// Opens a terminal read-write without making it our controlling terminal and without
/// waiting for a modem carrier; the returned file is in blocking mode.
pub(crate) fn open_tty(path: &Path, write_only: bool) -> std::io::Result<File> {
    let f = File::options()
        .read(!write_only)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)?;
    let fd = f.as_raw_fd();
    // SAFETY: plain fcntl calls on a file descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(f)
}

/// Writes `text` to every console; failures are reported on stderr and otherwise ignored.
pub(crate) fn write_consoles(paths: &[PathBuf], text: &str) {
    for path in paths {
        let result = open_tty(path, true).and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = result {
            say!("{}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "ttyS0                -W- (EC p a)    4:64\n\
                       tty0                 -WU (E  p  )    4:1\n\
                       netcon0              -W- (E     )\n";

    #[test]
    fn parses_proc_consoles() {
        let c = parse_proc_consoles(TWO);
        assert_eq!(
            c,
            vec![
                ConsoleEntry {
                    name: "ttyS0".into(),
                    flags: "ECpa".into(),
                    device: Some((4, 64))
                },
                ConsoleEntry {
                    name: "tty0".into(),
                    flags: "Ep".into(),
                    device: Some((4, 1))
                },
                ConsoleEntry {
                    name: "netcon0".into(),
                    flags: "E".into(),
                    device: None
                },
            ]
        );
        assert!(c[0].is_preferred());
        assert!(!c[1].is_preferred());
    }

    #[test]
    fn odd_lines() {
        assert!(parse_proc_consoles("").is_empty());
        assert!(parse_proc_consoles("\n   \n").is_empty());
        let c = parse_proc_consoles("hvc0 -W- 229:0\nttyAMA0 -W- (EC) x:y\n");
        assert_eq!(c[0].device, Some((229, 0)));
        assert_eq!(c[0].flags, "");
        assert_eq!(c[1].device, None);
        assert_eq!(c[1].flags, "EC");
    }

    #[test]
    fn dedupes_by_device() {
        let out = dedupe_consoles(vec![
            (Some((4, 64)), PathBuf::from("/dev/ttyS0")),
            (Some((4, 1)), PathBuf::from("/dev/tty1")),
            (Some((4, 64)), PathBuf::from("/dev/serial-alias")),
            (None, PathBuf::from("/dev/x")),
            (None, PathBuf::from("/dev/x")),
            (Some((4, 2)), PathBuf::from("/dev/tty1")),
        ]);
        assert_eq!(
            out,
            vec![
                PathBuf::from("/dev/ttyS0"),
                PathBuf::from("/dev/tty1"),
                PathBuf::from("/dev/x")
            ]
        );
        assert!(dedupe_consoles(Vec::new()).is_empty());
    }

    #[test]
    fn device_numbers() {
        assert_eq!(split_dev(0x0440), (4, 64));
        assert_eq!(split_dev(0x0501), (5, 1));
        // large numbers use the extended encoding (glibc's makedev)
        let makedev = |major: u64, minor: u64| {
            (minor & 0xff)
                | ((major & 0xfff) << 8)
                | ((minor & !0xff) << 12)
                | ((major & !0xfff) << 32)
        };
        assert_eq!(split_dev(makedev(0x1123, 0x45678)), (0x1123, 0x45678));
        // compare with the real /dev/null (1:3) when it exists
        if let Ok(m) = std::fs::metadata("/dev/null") {
            assert_eq!(split_dev(m.rdev()), (1, 3));
        }
    }

    #[test]
    fn terms() {
        assert_eq!(term_for_console(Path::new("/dev/tty1")), "linux");
        assert_eq!(term_for_console(Path::new("/dev/tty")), "linux");
        assert_eq!(term_for_console(Path::new("/dev/console")), "linux");
        assert_eq!(term_for_console(Path::new("/dev/ttyS0")), "vt100");
        assert_eq!(term_for_console(Path::new("/dev/hvc0")), "vt100");
        assert_eq!(term_for_console(Path::new("/dev/ttyAMA0")), "vt100");
    }
}
