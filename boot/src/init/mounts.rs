//! API file systems, standard descriptors and the environment of PID 1.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount, MsFlags};

/// One file system PID 1 mounts: (fstype/source, mount point, flags, options).
type ApiMount = (&'static str, &'static str, MsFlags, Option<&'static str>);

fn api_mounts() -> [ApiMount; 7] {
    let secure = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let nosuid_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    [
        ("proc", "/proc", secure, None),
        ("sysfs", "/sys", secure, None),
        ("devtmpfs", "/dev", MsFlags::MS_NOSUID, Some("mode=0755")),
        (
            "devpts",
            "/dev/pts",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("gid=5,mode=620,ptmxmode=666"),
        ),
        ("tmpfs", "/dev/shm", nosuid_nodev, Some("mode=1777")),
        ("tmpfs", "/run", nosuid_nodev, Some("mode=0755")),
        ("tmpfs", "/tmp", nosuid_nodev, Some("mode=1777")),
    ]
}

/// Mounts proc, sysfs, devtmpfs, devpts, /dev/shm, /run and /tmp (creating the mount points),
/// efivarfs when the firmware is EFI, and creates the usual /dev symlinks.
pub(crate) fn mount_api_filesystems() {
    // SAFETY: umask has no memory-safety preconditions.
    unsafe {
        libc::umask(0o022);
    }
    let _ = std::env::set_current_dir("/");
    for (fstype, target, flags, data) in api_mounts() {
        if already_mounted(target) {
            say!("{target} already mounted");
            continue;
        }
        say!("mounting {target}");
        if let Err(e) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(target)
        {
            say!("mkdir {target}: {e}");
        }
        if let Err(e) = mount(Some(fstype), target, Some(fstype), flags, data) {
            say!("mount {fstype} on {target}: {e}");
        }
    }
    let efivars = "/sys/firmware/efi/efivars";
    if Path::new(efivars).is_dir() && !already_mounted(efivars) {
        say!("mounting {efivars}");
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        if let Err(e) = mount(
            Some("efivarfs"),
            efivars,
            Some("efivarfs"),
            flags,
            None::<&str>,
        ) {
            say!("mount efivarfs on {efivars}: {e}");
        }
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ] {
        if std::fs::symlink_metadata(link).is_err() {
            if let Err(e) = std::os::unix::fs::symlink(target, link) {
                say!("symlink {link}: {e}");
            }
        }
    }
}

/// True when `target` is a mount point according to /proc/self/mounts (for /proc itself:
/// when /proc/self exists).
fn already_mounted(target: &str) -> bool {
    if target == "/proc" {
        return Path::new("/proc/self").exists();
    }
    std::fs::read_to_string("/proc/self/mounts").is_ok_and(|text| {
        text.lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .any(|mp| decode_mount_path(mp) == Path::new(target))
    })
}

/// Makes sure descriptors 0, 1 and 2 are open: the kernel leaves them closed when the image
/// had no /dev/console; after devtmpfs is mounted there is one.
pub(crate) fn ensure_stdio() {
    // SAFETY: fcntl/open/dup2/close on plain descriptor numbers; no Rust-owned descriptor is
    // touched (only 0..=2 when they are closed, and the one we open).
    unsafe {
        let closed: Vec<i32> = (0..3)
            .filter(|&fd| libc::fcntl(fd, libc::F_GETFD) < 0)
            .collect();
        if closed.is_empty() {
            return;
        }
        let mut fd = libc::open(
            c"/dev/console".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        }
        if fd < 0 {
            return;
        }
        for &target in &closed {
            if fd != target {
                libc::dup2(fd, target);
            } else {
                // open() returned one of the closed numbers: keep it, without close-on-exec.
                libc::fcntl(fd, libc::F_SETFD, 0);
            }
        }
        if !closed.contains(&fd) {
            libc::close(fd);
        }
    }
    say!("reopened standard descriptors on /dev/console");
}

/// Sets PATH, HOME and TERM for PID 1 and (by inheritance) everything it starts.
pub(crate) fn set_environment() {
    let term = std::fs::read_to_string("/proc/consoles")
        .ok()
        .and_then(|t| {
            super::parse_proc_consoles(&t)
                .into_iter()
                .find(|c| c.is_preferred())
        })
        .map(|c| super::term_for_console(Path::new(&c.name)))
        .unwrap_or("linux");
    say!("PATH={} TERM={term}", super::RESCUE_PATH);
    // PID 1 is single-threaded at this point, so changing the environment is sound.
    std::env::set_var("PATH", super::RESCUE_PATH);
    std::env::set_var("HOME", "/root");
    std::env::set_var("TERM", term);
}

/// Decodes the octal escapes (`\040` for a space, `\011`, `\012`, `\134`) the kernel uses in
/// the mount point field of /proc/mounts.
pub fn decode_mount_path(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let oct = bytes.get(i + 1..i + 4).unwrap_or_default();
            if oct.len() == 3 && oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// The mount points to unmount before powering off, innermost (most recently mounted) first:
/// everything in `/proc/mounts` text except `/`, anything under /proc, /sys and /dev, and
/// PID 1's own /run and /tmp. API file systems mounted elsewhere (`/mnt/local/proc` for a
/// chroot) are included: they would keep their parent busy.
pub fn unmount_order(proc_mounts: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in proc_mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_source), Some(mp), Some(_fstype)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let mp = decode_mount_path(mp);
        let api_dir = ["/proc", "/sys", "/dev"].iter().any(|d| mp.starts_with(d));
        let own = mp == Path::new("/") || mp == Path::new("/run") || mp == Path::new("/tmp");
        if api_dir || own {
            continue;
        }
        if !out.contains(&mp) {
            out.push(mp);
        }
    }
    out.reverse();
    out
}

/// Unmounts what the recovery mounted; what stays busy is remounted read-only.
pub(crate) fn unmount_all() {
    let Ok(text) = std::fs::read_to_string("/proc/mounts") else {
        return;
    };
    let targets = unmount_order(&text);
    if targets.is_empty() {
        return;
    }
    say!("unmounting {} file systems", targets.len());
    for target in targets {
        if umount(&target).is_ok() {
            continue;
        }
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        if let Err(e) = mount(None::<&str>, &target, None::<&str>, flags, None::<&str>) {
            say!(
                "{}: busy, and read-only remount failed: {e}",
                target.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes() {
        assert_eq!(decode_mount_path("/mnt/a\\040b"), PathBuf::from("/mnt/a b"));
        assert_eq!(
            decode_mount_path("/x\\011y\\012z\\134w"),
            PathBuf::from("/x\ty\nz\\w")
        );
        assert_eq!(decode_mount_path("/plain"), PathBuf::from("/plain"));
        // not an escape: kept as is
        assert_eq!(decode_mount_path("/a\\9xy"), PathBuf::from("/a\\9xy"));
        assert_eq!(decode_mount_path("/end\\04"), PathBuf::from("/end\\04"));
        assert_eq!(decode_mount_path("/end\\"), PathBuf::from("/end\\"));
    }

    #[test]
    fn unmounts_recovery_mounts_innermost_first() {
        let text = "\
rootfs / rootfs rw 0 0
proc /proc proc rw,nosuid,nodev,noexec 0 0
sysfs /sys sysfs rw 0 0
devtmpfs /dev devtmpfs rw 0 0
devpts /dev/pts devpts rw 0 0
tmpfs /dev/shm tmpfs rw 0 0
tmpfs /run tmpfs rw 0 0
tmpfs /tmp tmpfs rw 0 0
efivarfs /sys/firmware/efi/efivars efivarfs rw 0 0
/dev/vda2 /mnt/local ext4 rw 0 0
/dev/vda1 /mnt/local/boot vfat rw 0 0
proc /mnt/local/proc proc rw 0 0
/dev/mapper/vg-data /mnt/local/srv/my\\040data xfs rw 0 0
";
        assert_eq!(
            unmount_order(text),
            vec![
                PathBuf::from("/mnt/local/srv/my data"),
                PathBuf::from("/mnt/local/proc"),
                PathBuf::from("/mnt/local/boot"),
                PathBuf::from("/mnt/local"),
            ]
        );
        assert!(unmount_order("").is_empty());
        assert!(unmount_order("garbage\n").is_empty());
    }

    #[test]
    fn api_mount_table() {
        let targets: Vec<&str> = api_mounts().iter().map(|m| m.1).collect();
        // parents before children
        let pos = |t: &str| targets.iter().position(|x| *x == t).unwrap();
        assert!(pos("/dev") < pos("/dev/pts"));
        assert!(pos("/dev") < pos("/dev/shm"));
        assert!(pos("/proc") < pos("/dev"));
    }
}
