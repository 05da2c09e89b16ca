//! Boot media written from an image's kernel and initrd, one file per
//! medium behind [`Medium`]: the hybrid ISO (`iso`), the raw disk image
//! (`raw`), the network boot tree (`pxe`) and the OBDR tape (`obdr`). Each
//! is written under a temporary name and renamed when whole, byte for byte
//! the same from the same inputs (dates from `SOURCE_DATE_EPOCH`, serials
//! and ids from the image's own hashes, no host times, owners or paths).
//! [`build`] writes them concurrently, a thread each; a medium made of
//! another's file (the tape of the ISO) waits for it through [`Shared`]
//! instead of making it again. docs/media.md says how each is made and why.

pub mod bios;
pub mod fat;
pub mod grub;
pub mod iso;
pub mod obdr;
pub mod pe;
pub mod pxe;
pub mod raw;
pub mod usb;

use crate::manifest::Artefact;
use anyhow::{bail, Context, Result};
use rear_exec::Exec;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// A medium `image --media` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Iso,
    Raw,
    Pxe,
    Obdr,
    /// Not a file: a new generation on the rescue disk (`usb::publish`).
    Usb,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[Kind::Iso, Kind::Raw, Kind::Pxe, Kind::Obdr, Kind::Usb];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Iso => "iso",
            Kind::Raw => "raw",
            Kind::Pxe => "pxe",
            Kind::Obdr => "obdr",
            Kind::Usb => "usb",
        }
    }

    /// Its file (or directory) in the output directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Iso => "rescue.iso",
            Kind::Raw => "rescue.img",
            Kind::Pxe => "pxe",
            Kind::Obdr => "rescue.tap",
            Kind::Usb => "the rescue disk",
        }
    }

    /// The writer of a medium that is a file (or directory) in the
    /// output directory.
    fn medium(self) -> Option<&'static (dyn Medium + Sync)> {
        match self {
            Kind::Iso => Some(&iso::Iso),
            Kind::Raw => Some(&raw::Raw),
            Kind::Pxe => Some(&pxe::Pxe),
            Kind::Obdr => Some(&obdr::Obdr),
            Kind::Usb => None,
        }
    }
}

/// The media named in `items` (each a comma-separated list), sorted, each
/// once; `none` alone for no medium.
pub fn parse_list(items: &[String]) -> Result<Vec<Kind>> {
    let mut out = Vec::new();
    for name in items.iter().flat_map(|i| i.split(',')).map(str::trim) {
        match name {
            "" | "none" => {}
            n => match Kind::ALL.iter().find(|k| k.name() == n) {
                Some(k) => out.push(*k),
                None => {
                    bail!(
                        "unknown medium {n:?}: the media are {} (or none)",
                        Kind::ALL
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            },
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The Debian packages `kinds` need that this host lacks.
pub fn missing_packages(kinds: &[Kind]) -> Vec<&'static str> {
    if kinds.is_empty() {
        return Vec::new();
    }
    let program = |p: &str| crate::image::find_in_path(p).is_some();
    let grub = |dir: &str| Path::new(dir).join("linux.mod").is_file();
    [
        ("xorriso", program("xorriso")),
        ("mtools", program("mcopy")),
        ("dosfstools", program("mkfs.fat")),
        ("grub-pc-bin", grub(grub::BIOS_DIR)),
        ("grub-efi-amd64-bin", grub(grub::EFI_DIR)),
    ]
    .into_iter()
    .filter(|(_, there)| !there)
    .map(|(p, _)| p)
    .collect()
}

/// The boot menu every medium offers (docs/media.md).
#[derive(Clone, Debug, Default)]
pub struct Menu {
    /// Shown in the entries: the host the image was made on.
    pub host: String,
    /// Seconds before the default entry (the rescue shell) boots.
    pub timeout: u32,
    /// The consoles every entry passes; the last is where the shell of
    /// the default entry runs.
    pub consoles: String,
    /// More kernel arguments for every entry.
    pub cmdline: String,
}

/// What a medium is made of.
pub struct Input<'a> {
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    /// `SOURCE_DATE_EPOCH`: every date on a medium.
    pub epoch: u64,
    pub menu: &'a Menu,
    /// A hex string unique to the image (from its initrd's hash): serials
    /// and the file GRUB looks for to find its own medium.
    pub id: &'a str,
    /// The host's network cards' MAC addresses, for the network boot
    /// menus named by them.
    pub macs: &'a [String],
}

/// The MAC addresses of the host's network cards (those with a device
/// behind them), sorted.
pub fn host_macs() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("device").exists())
        .filter_map(|e| std::fs::read_to_string(e.path().join("address")).ok())
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| a.len() == 17 && a != "00:00:00:00:00:00")
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A medium writer.
pub trait Medium {
    /// Writes the medium to `to` (a new file), using `scratch` for
    /// anything else and what the media written beside it hand over
    /// (`shared`); returns a note for the user (what it boots with).
    fn write(
        &self,
        input: &Input,
        to: &Path,
        scratch: &Path,
        exec: &dyn Exec,
        shared: &Shared,
    ) -> Result<String>;
}

/// A value one thread sets once and others wait for.
pub struct Slot<T> {
    value: Mutex<Option<T>>,
    set: Condvar,
}

impl<T: Clone> Slot<T> {
    pub fn new() -> Slot<T> {
        Slot {
            value: Mutex::new(None),
            set: Condvar::new(),
        }
    }

    /// Sets the value, unless it is set already (the first one stays),
    /// and wakes the waiters.
    pub fn fill(&self, v: T) {
        let mut g = self.value.lock().unwrap_or_else(PoisonError::into_inner);
        if g.is_none() {
            *g = Some(v);
            self.set.notify_all();
        }
    }

    /// The value, once set.
    pub fn wait(&self) -> T {
        let mut g = self.value.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(v) = g.as_ref() {
                return v.clone();
            }
            g = self.set.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<T: Clone> Default for Slot<T> {
    fn default() -> Self {
        Slot::new()
    }
}

/// A medium's file, whole, handed to another medium: open (it is renamed
/// into place while the other reads it: read it with `read_at`, the
/// offset may be shared), its final name, and its writer's note.
#[derive(Clone, Debug)]
pub struct Finished {
    pub file: Arc<std::fs::File>,
    pub path: PathBuf,
    pub note: String,
}

/// What the media written together in one [`build`] hand each other: the
/// ISO, once the `iso` medium has written it whole (while it is hashed and
/// renamed to `rescue.iso`), for the OBDR tape that carries it, so the ISO
/// is made once. The ISO is reproducible, so the tape is the same bytes
/// either way.
#[derive(Default)]
pub struct Shared {
    /// The `iso` medium's outcome (`None` inside: it failed), when it is
    /// written in this build.
    iso: Option<Slot<Option<Finished>>>,
}

impl Shared {
    /// Nothing handed over: each medium makes what it needs itself.
    pub fn none() -> Shared {
        Shared::default()
    }

    /// For writing `kinds` together.
    pub fn new(kinds: &[Kind]) -> Shared {
        Shared {
            iso: kinds.contains(&Kind::Iso).then(Slot::new),
        }
    }

    /// The ISO the `iso` medium writes in this build, waiting until it is
    /// whole; `None` when `iso` is not written in this build or failed (the
    /// caller makes its own).
    pub fn iso(&self) -> Option<Finished> {
        self.iso.as_ref().and_then(Slot::wait)
    }

    /// Says how the `iso` medium ended (the first call counts).
    fn iso_done(&self, outcome: Option<Finished>) {
        if let Some(slot) = &self.iso {
            slot.fill(outcome);
        }
    }
}

/// Tells the waiters for the ISO that there is none when dropped before
/// the ISO was handed over: on an error, and when the `iso` medium's thread
/// panics, so no waiter waits for ever.
struct IsoGuard<'a>(&'a Shared);

impl Drop for IsoGuard<'_> {
    fn drop(&mut self) {
        self.0.iso_done(None);
    }
}

/// A medium written: its artefacts (one, or each file of a directory)
/// and the note of its writer.
#[derive(Debug)]
pub struct Written {
    pub kind: Kind,
    pub path: PathBuf,
    pub artefacts: Vec<Artefact>,
    pub note: String,
}

fn remove(p: &Path) {
    let _ = std::fs::remove_file(p);
    let _ = std::fs::remove_dir_all(p);
}

/// Makes `part` (a file, or a directory and all below) private: files
/// 0600, directories 0700. Returns its files, named `name` and `name/REL`.
fn make_private(part: &Path, name: &str) -> Result<Vec<(PathBuf, String)>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![(part.to_path_buf(), name.to_string())];
    while let Some((p, n)) = stack.pop() {
        let dir = p.is_dir();
        let mode = if dir { 0o700 } else { 0o600 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {}", p.display()))?;
        if dir {
            for e in std::fs::read_dir(&p).with_context(|| format!("list {}", p.display()))? {
                let e = e.with_context(|| format!("list {}", p.display()))?;
                let child = format!("{n}/{}", e.file_name().to_string_lossy());
                stack.push((e.path(), child));
            }
        } else {
            out.push((p, n));
        }
    }
    Ok(out)
}

/// Makes `part` private ([`make_private`]) and lists its files as
/// artefacts, sorted by name.
fn private_artefacts(part: &Path, name: &str) -> Result<Vec<Artefact>> {
    let mut out = Vec::new();
    for (p, n) in make_private(part, name)? {
        let data = std::fs::read(&p).with_context(|| format!("read {}", p.display()))?;
        out.push(crate::image::artefact(&n, &data));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Copies the file `src` into `disk` (a device or image file) at byte
/// `at`, and syncs it.
fn write_at(disk: &Path, at: u64, src: &Path) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .open(disk)
        .with_context(|| format!("open {}", disk.display()))?;
    let mut from = std::fs::File::open(src).with_context(|| format!("open {}", src.display()))?;
    to.seek(SeekFrom::Start(at))
        .and_then(|_| std::io::copy(&mut from, &mut to))
        .and_then(|_| to.sync_all())
        .with_context(|| format!("write {} at {at} of {}", src.display(), disk.display()))?;
    Ok(())
}

/// Puts `part` in the place of `to`: a rename for a file; for a
/// directory, the old one is moved aside first and removed after.
fn replace(part: &Path, to: &Path) -> Result<()> {
    let old = to.with_file_name(format!(
        ".{}.old",
        to.file_name().unwrap_or_default().to_string_lossy()
    ));
    let is_dir = to.is_dir();
    if is_dir {
        remove(&old);
        std::fs::rename(to, &old).with_context(|| format!("rename {}", to.display()))?;
    }
    std::fs::rename(part, to)
        .with_context(|| format!("rename {} to {}", part.display(), to.display()))?;
    if is_dir {
        remove(&old);
    }
    Ok(())
}

/// Writes each of `kinds` that is a file into `dir` concurrently, a
/// thread each (not rayon's pool: the OBDR tape blocks until the ISO is
/// whole, which must not hold a worker the ISO may need), each to a
/// temporary name renamed when complete (mode 0600: a medium holds the
/// initrd). The results are in the order of `kinds`; the first error in
/// that order is returned, any others logged.
pub fn build(kinds: &[Kind], input: &Input, dir: &Path, exec: &dyn Exec) -> Result<Vec<Written>> {
    let jobs: Vec<(Kind, &(dyn Medium + Sync))> = kinds
        .iter()
        .filter_map(|&kind| kind.medium().map(|m| (kind, m)))
        .collect();
    build_jobs(&jobs, input, dir, exec)
}

/// [`build`] with the writers given.
fn build_jobs(
    jobs: &[(Kind, &(dyn Medium + Sync))],
    input: &Input,
    dir: &Path,
    exec: &dyn Exec,
) -> Result<Vec<Written>> {
    let shared = Shared::new(&jobs.iter().map(|j| j.0).collect::<Vec<_>>());
    let results: Vec<Result<Written>> = std::thread::scope(|s| {
        let threads: Vec<_> = jobs
            .iter()
            .map(|&(kind, medium)| {
                let shared = &shared;
                let t = std::thread::Builder::new()
                    .name(format!("medium-{}", kind.name()))
                    .spawn_scoped(s, move || {
                        // Whatever happens to the ISO, its waiters hear of it.
                        let _guard = (kind == Kind::Iso).then(|| IsoGuard(shared));
                        write_one(kind, medium, input, dir, exec, shared)
                    });
                if t.is_err() && kind == Kind::Iso {
                    shared.iso_done(None);
                }
                t.with_context(|| format!("start a thread for the {} medium", kind.name()))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| match t?.join() {
                Ok(w) => w,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let mut out = Vec::new();
    let mut first = None;
    for r in results {
        match r {
            Ok(w) => out.push(w),
            Err(e) if first.is_none() => first = Some(e),
            Err(e) => log::error!("{e:#}"),
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Writes one medium into `dir`: to `.NAME.partial`, made private and
/// listed, then renamed to `NAME`. The ISO is handed over ([`Shared`])
/// as soon as it is whole.
fn write_one(
    kind: Kind,
    medium: &dyn Medium,
    input: &Input,
    dir: &Path,
    exec: &dyn Exec,
    shared: &Shared,
) -> Result<Written> {
    let to = dir.join(kind.file_name());
    let part = dir.join(format!(".{}.partial", kind.file_name()));
    let scratch = tempfile::Builder::new()
        .prefix(".rear-build-media.")
        .tempdir_in(dir)
        .with_context(|| format!("create a temporary directory in {}", dir.display()))?;
    remove(&part);
    let start = std::time::Instant::now();
    let written = medium
        .write(input, &part, scratch.path(), exec, shared)
        .and_then(|note| {
            let wrote = start.elapsed();
            if kind == Kind::Iso {
                let file = std::fs::File::open(&part)
                    .with_context(|| format!("open {}", part.display()))?;
                shared.iso_done(Some(Finished {
                    file: Arc::new(file),
                    path: to.clone(),
                    note: note.clone(),
                }));
            }
            let artefacts = private_artefacts(&part, kind.file_name())?;
            replace(&part, &to)?;
            log::debug!(
                "medium {}: written in {:.2} s, hashed and renamed in {:.2} s more",
                kind.name(),
                wrote.as_secs_f64(),
                (start.elapsed() - wrote).as_secs_f64()
            );
            Ok(Written {
                kind,
                path: to.clone(),
                artefacts,
                note,
            })
        });
    if written.is_err() {
        remove(&part);
    }
    written.with_context(|| format!("write the {} medium {}", kind.name(), to.display()))
}

/// Stages what every medium's file system holds: the kernel and initrd
/// in `boot/`, GRUB's menu, `.disk/info` (what Debian's signed GRUB looks
/// for) and the marker our GRUB looks for.
fn stage_tree(input: &Input, stage: &Path) -> Result<()> {
    let grub_dir = stage.join("boot/grub");
    let disk = stage.join(".disk");
    for d in [&grub_dir, &disk] {
        std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
    }
    copy_boot_files(input, &stage.join("boot"))?;
    write_text(
        &grub_dir.join("grub.cfg"),
        &grub::menu(input.menu, "/boot/vmlinuz", "/boot/initrd.img"),
    )?;
    write_text(
        &disk.join("info"),
        &format!("rear-build rescue system of {}\n", input.menu.host),
    )?;
    write_text(
        &stage.join(grub::marker(input.id).trim_start_matches('/')),
        "",
    )
}

/// Stages the UEFI files below `stage` as `EFI/BOOT/NAME`.
fn stage_efi(efi: &grub::EfiFiles, stage: &Path) -> Result<()> {
    let boot = stage.join("EFI/BOOT");
    std::fs::create_dir_all(&boot).with_context(|| format!("create {}", boot.display()))?;
    for (name, src) in &efi.files {
        let to = boot.join(name);
        std::fs::copy(src, &to)
            .with_context(|| format!("copy {} to {}", src.display(), to.display()))?;
    }
    Ok(())
}

/// What a medium with `efi` boots with, for the user.
fn boots_with(efi: &grub::EfiFiles) -> String {
    match efi.secure_boot {
        true => "BIOS and UEFI with Secure Boot (Debian's signed shim, GRUB and kernel)".into(),
        false => "BIOS and UEFI; not with Secure Boot on (that needs shim-signed, grub-efi-amd64-signed and a signed kernel)".into(),
    }
}

/// Writes a medium's text file.
fn write_text(p: &Path, text: &str) -> Result<()> {
    std::fs::write(p, text).with_context(|| format!("write {}", p.display()))
}

/// Copies the kernel and initrd into `dir` as `vmlinuz` and `initrd.img`.
/// Copies, not hard links: a medium's tree gets its times set, a link
/// would set the artefacts' own.
fn copy_boot_files(input: &Input, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for (src, name) in [(input.kernel, "vmlinuz"), (input.initrd, "initrd.img")] {
        let dest = dir.join(name);
        std::fs::copy(src, &dest)
            .with_context(|| format!("copy {} to {}", src.display(), dest.display()))?;
    }
    Ok(())
}

/// Sets every file's and directory's times below `dir` (and its own) to
/// `epoch`, so no tool copies a build time onto a medium.
pub fn set_times(dir: &Path, epoch: u64) -> Result<()> {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    let mut stack = vec![dir.to_path_buf()];
    let mut all = Vec::new();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).with_context(|| format!("list {}", p.display()))? {
                stack.push(e.with_context(|| format!("list {}", p.display()))?.path());
            }
        }
        all.push(p);
    }
    for p in all {
        std::fs::File::open(&p)
            .and_then(|f| f.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t)))
            .with_context(|| format!("set the times of {}", p.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_lists_parse_comma_separated_and_repeated() {
        let l = |v: &[&str]| parse_list(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(l(&["iso"]).unwrap(), [Kind::Iso]);
        assert_eq!(l(&["iso,iso", " iso "]).unwrap(), [Kind::Iso]);
        assert_eq!(l(&["pxe,iso"]).unwrap(), [Kind::Iso, Kind::Pxe]);
        assert!(l(&["none"]).unwrap().is_empty());
        let e = l(&["iso,floppy"]).unwrap_err().to_string();
        assert!(e.contains("\"floppy\"") && e.contains("iso"), "{e}");
    }

    #[test]
    fn the_iso_is_waited_for_only_when_it_is_built_beside() {
        assert!(Shared::none().iso().is_none());
        assert!(Shared::new(&[Kind::Raw, Kind::Obdr]).iso().is_none());
        let shared = Shared::new(&[Kind::Iso, Kind::Obdr]);
        let done = Finished {
            file: Arc::new(tempfile::tempfile().unwrap()),
            path: "/o/rescue.iso".into(),
            note: "n".into(),
        };
        let path = |f: Option<Finished>| f.map(|f| f.path);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| shared.iso());
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished(), "returned before the ISO was there");
            shared.iso_done(Some(done.clone()));
            assert_eq!(path(waiter.join().unwrap()), Some(done.path.clone()));
        });
        // The first outcome stays.
        shared.iso_done(None);
        assert_eq!(path(shared.iso()), Some(done.path));
    }

    #[test]
    fn a_panicking_iso_writer_does_not_leave_its_waiters_waiting() {
        let shared = Shared::new(&[Kind::Iso, Kind::Obdr]);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| shared.iso());
            let writer = s.spawn(|| {
                let _guard = IsoGuard(&shared);
                std::thread::sleep(std::time::Duration::from_millis(20));
                panic!("the ISO writer fails");
            });
            assert!(writer.join().is_err());
            assert!(waiter.join().unwrap().is_none());
        });
    }

    /// A medium of the test: writes `text` (after `delay`), or fails; as
    /// the tape, copies the shared ISO when there is one.
    struct Fake {
        text: &'static str,
        delay_ms: u64,
        fail: bool,
        takes_iso: bool,
    }

    impl Medium for Fake {
        fn write(
            &self,
            _input: &Input,
            to: &Path,
            _scratch: &Path,
            _exec: &dyn Exec,
            shared: &Shared,
        ) -> Result<String> {
            std::thread::sleep(std::time::Duration::from_millis(self.delay_ms));
            if self.fail {
                bail!("{} failed", self.text);
            }
            if self.takes_iso {
                if let Some(iso) = shared.iso() {
                    use std::os::unix::fs::FileExt;
                    let mut buf = vec![0; iso.file.metadata()?.len() as usize];
                    iso.file.read_exact_at(&mut buf, 0)?;
                    std::fs::write(to, buf)?;
                    return Ok(format!("from {}", iso.note));
                }
            }
            std::fs::write(to, self.text)?;
            Ok(format!("made {}", self.text))
        }
    }

    #[test]
    fn the_tape_takes_the_iso_written_beside_it_or_makes_its_own() {
        let d = tempfile::tempdir().unwrap();
        let menu = Menu::default();
        let input = Input {
            kernel: Path::new("/nonexistent/vmlinuz"),
            initrd: Path::new("/nonexistent/initrd.img"),
            epoch: 1,
            menu: &menu,
            id: "0123456789abcdef",
            macs: &[],
        };
        let fake = |text, delay_ms, fail, takes_iso| Fake {
            text,
            delay_ms,
            fail,
            takes_iso,
        };
        let iso = fake("the iso", 100, false, false);
        let raw = fake("the raw disk", 0, false, false);
        let tape = fake("own iso", 0, false, true);
        let exec = rear_exec::System;
        let w = build_jobs(
            &[(Kind::Iso, &iso), (Kind::Raw, &raw), (Kind::Obdr, &tape)],
            &input,
            d.path(),
            &exec,
        )
        .unwrap();
        let kinds: Vec<Kind> = w.iter().map(|w| w.kind).collect();
        assert_eq!(kinds, [Kind::Iso, Kind::Raw, Kind::Obdr], "in order");
        assert_eq!(w[2].note, "from made the iso");
        let read = |n: &str| std::fs::read_to_string(d.path().join(n)).unwrap();
        assert_eq!(read("rescue.tap"), "the iso", "waited for the whole ISO");
        // No ISO in this build: the tape makes its own.
        let w = build_jobs(&[(Kind::Obdr, &tape)], &input, d.path(), &exec).unwrap();
        assert_eq!(w[0].note, "made own iso");
        // The ISO failed: the tape makes its own, the ISO's error is the
        // build's, and nothing of the ISO is left.
        std::fs::remove_file(d.path().join("rescue.iso")).unwrap();
        let bad = fake("the iso", 50, true, false);
        let e = build_jobs(
            &[(Kind::Iso, &bad), (Kind::Obdr, &tape)],
            &input,
            d.path(),
            &exec,
        )
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("write the iso medium") && e.contains("the iso failed"),
            "{e}"
        );
        assert_eq!(read("rescue.tap"), "own iso");
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            !left.iter().any(|n| n.contains("iso") || n.starts_with(".")),
            "{left:?}"
        );
    }
}
