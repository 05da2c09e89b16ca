//! ReaR's variables onto rear-build's configuration keys: one more layer
//! of the configuration (a TOML table), where each key came from, and a
//! note, with file and line, for every variable that maps to nothing or
//! only in part. Pure: nothing is read here but the variables.
//!
//! Secrets never reach the table or a note: a passphrase or a password in
//! an option is named, not shown, and the note says which file to put it
//! in. Exported `BORG_*` and `RESTIC_*` variables are kept apart
//! ([`Import::environment`]) for the `rear` command to hand to the tool.

use crate::{Config, Origin, Value};
use std::collections::{BTreeMap, BTreeSet};
use toml::Value as T;

/// What ReaR's configuration says in rear-build's terms.
#[derive(Debug, Default)]
pub struct Import {
    /// The settings: `[backup] url = ...` as `{"backup": {"url": ...}}`.
    pub table: toml::Table,
    /// For each key set (`backup.url`), the variables it came from.
    pub origins: BTreeMap<String, Vec<Source>>,
    /// What maps to nothing, or only in part, in file order.
    pub notes: Vec<Note>,
    /// Exported variables of the backup tools (`BORG_PASSPHRASE`): given
    /// to the tool's environment by `rear`, never written anywhere.
    pub environment: Vec<(String, String)>,
}

/// A variable and where it was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub var: String,
    pub origin: Origin,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.origin, self.var)
    }
}

/// Something the reader of the result must know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// None for what the files do not say (a default of ReaR's).
    pub origin: Option<Origin>,
    pub var: String,
    pub text: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{o}: {}: {}", self.var, self.text),
            None => write!(f, "{}: {}", self.var, self.text),
        }
    }
}

/// Where a preset variable (one ReaR defines itself, `HOSTNAME`) is from.
pub const PRESET: &str = "(set by ReaR)";

/// ReaR's backup methods whose client restores on its own: rear-build
/// runs it as an external method (its programs come in by a recipe).
const CLIENTS: &[(&str, &str)] = &[
    ("BACULA", "Bacula"),
    ("BAREOS", "Bareos"),
    ("TSM", "IBM Storage Protect (TSM)"),
    ("NBU", "NetBackup"),
    ("DP", "Data Protector"),
    ("GALAXY", "Commvault"),
    ("GALAXY7", "Commvault"),
    ("GALAXY10", "Commvault"),
    ("GALAXY11", "Commvault"),
    ("NSR", "NetWorker"),
    ("SESAM", "SEP sesam"),
    ("AVA", "Avamar"),
    ("CDM", "Rubrik CDM"),
    ("PPDM", "PowerProtect"),
    ("VEEAM", "Veeam"),
    ("DUPLICITY", "duplicity"),
    ("BORG", "borg"),
];

/// Maps `cfg` (read with [`crate::Config::read_dir`], `HOSTNAME` preset).
pub fn map(cfg: &Config) -> Import {
    let mut m = Mapper {
        cfg,
        used: BTreeSet::new(),
        out: Import::default(),
    };
    m.output();
    m.backup();
    m.layout();
    m.image();
    m.unsupported();
    m.out.notes.sort_by_key(|n| {
        n.origin
            .as_ref()
            .map(|o| (o.file.clone(), o.line))
            .unwrap_or_default()
    });
    m.out
}

struct Mapper<'a> {
    cfg: &'a Config,
    used: BTreeSet<String>,
    out: Import,
}

/// A path pattern ReaR's tar excludes take: `DIR/*` is DIR's contents.
fn glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn yes(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "yes" | "true" | "1" | "on"
    )
}

impl Mapper<'_> {
    /// The variable, marked as read (so not listed as unsupported).
    fn take(&mut self, name: &str) -> Option<(Value, Source)> {
        let v = self.cfg.vars.get(name)?;
        self.used.insert(name.to_string());
        Some((
            v.value.clone(),
            Source {
                var: name.to_string(),
                origin: v.origin.clone(),
            },
        ))
    }

    /// Where a variable was set, without marking it read.
    fn source(&self, name: &str) -> Option<Source> {
        self.cfg.vars.get(name).map(|v| Source {
            var: name.to_string(),
            origin: v.origin.clone(),
        })
    }

    /// A scalar variable, unless empty.
    fn scalar(&mut self, name: &str) -> Option<(String, Source)> {
        self.take(name)
            .map(|(v, s)| (v.scalar().trim().to_string(), s))
            .filter(|(v, _)| !v.is_empty())
    }

    /// An array variable's non-empty items.
    fn items(&mut self, name: &str) -> Option<(Vec<String>, Source)> {
        self.take(name)
            .map(|(v, s)| (v.items().into_iter().filter(|i| !i.is_empty()).collect(), s))
            .filter(|(v, _): &(Vec<String>, _)| !v.is_empty())
    }

    /// The value at a dotted key (`backup.external.restore`), made.
    fn slot(&mut self, key: &str) -> &mut T {
        let mut parts = key.split('.');
        let mut t = &mut self.out.table;
        let mut last = parts.next().expect("a key");
        for next in parts {
            let v = t
                .entry(last)
                .or_insert_with(|| T::Table(Default::default()));
            if !v.is_table() {
                *v = T::Table(Default::default());
            }
            t = v.as_table_mut().expect("a table");
            last = next;
        }
        t.entry(last).or_insert(T::Array(Vec::new()))
    }

    fn set(&mut self, key: &str, value: T, from: &[&Source]) {
        *self.slot(key) = value;
        let o = self.out.origins.entry(key.to_string()).or_default();
        o.clear();
        o.extend(from.iter().map(|s| (*s).clone()));
    }

    fn set_str(&mut self, key: &str, value: &str, from: &[&Source]) {
        self.set(key, T::String(value.to_string()), from)
    }

    /// Appends to a list key, each value once.
    fn push(&mut self, key: &str, values: &[String], from: &Source) {
        if values.is_empty() {
            return;
        }
        if let T::Array(a) = self.slot(key) {
            for v in values {
                let v = T::String(v.clone());
                if !a.contains(&v) {
                    a.push(v);
                }
            }
        }
        let o = self.out.origins.entry(key.to_string()).or_default();
        if !o.contains(from) {
            o.push(from.clone());
        }
    }

    fn note(&mut self, from: &Source, text: impl Into<String>) {
        self.out.notes.push(Note {
            origin: Some(from.origin.clone()),
            var: from.var.clone(),
            text: text.into(),
        });
    }

    fn note_default(&mut self, var: &str, text: impl Into<String>) {
        self.out.notes.push(Note {
            origin: None,
            var: var.to_string(),
            text: text.into(),
        });
    }

    fn output(&mut self) {
        let output = self.scalar("OUTPUT");
        if let Some((o, src)) = &output {
            let medium = match o.to_ascii_uppercase().as_str() {
                "ISO" => Some("iso"),
                "USB" => Some("usb"),
                "PXE" => Some("pxe"),
                "OBDR" => Some("obdr"),
                "RAWDISK" => Some("raw"),
                // The kernel and initrd alone, which every build writes.
                "RAMDISK" => Some("none"),
                _ => None,
            };
            match medium {
                Some(m) => self.set("image.media", T::Array(vec![T::String(m.into())]), &[src]),
                None => self.note(
                    src,
                    format!("OUTPUT={o} has no rear-build medium (iso, usb, pxe, obdr, raw): the default (iso) is kept"),
                ),
            }
        }
        let kind = output
            .as_ref()
            .map(|(o, _)| o.to_ascii_uppercase())
            .unwrap_or_default();
        // Where the results go: OUTPUT_URL, or ISO_URL of older files.
        let url = self.scalar("OUTPUT_URL");
        let iso_url = self.scalar("ISO_URL");
        if let (Some(_), Some((_, src))) = (&url, &iso_url) {
            self.note(src, "OUTPUT_URL is set too and wins");
        }
        if let Some((u, src)) = url.or(iso_url) {
            self.output_url(&u, &src, &kind);
        }
        if let Some((dev, src)) = self.scalar("USB_DEVICE") {
            // The partition labelled REAR-000 is what rear-build finds by
            // itself; another label or a device is named.
            if dev != "/dev/disk/by-label/REAR-000" {
                self.set_str("usb.device", &dev, &[&src]);
            }
        }
        if let Some((n, src)) = self.scalar("USB_RETAIN_BACKUP_NR") {
            match n.parse::<i64>() {
                Ok(n) if n >= 1 => self.set("usb.keep", T::Integer(n), &[&src]),
                _ => self.note(
                    &src,
                    format!("{n:?} is not a number of generations (1 or more): usb.keep stays 3"),
                ),
            }
        }
        if let Some((dev, src)) = self.scalar("TAPE_DEVICE") {
            if kind == "OBDR" {
                self.set_str("obdr.device", &dev, &[&src]);
            }
        }
        for var in ["PXE_TFTP_PATH", "PXE_TFTP_URL"] {
            if let Some((u, src)) = self.scalar(var) {
                match u.strip_prefix("file://").or(u.starts_with('/').then_some(u.as_str())) {
                    Some(dir) => self.set_str("pxe.root", dir, &[&src]),
                    None => self.note(
                        &src,
                        format!("{u}: rear-build installs the network boot tree into a local directory: mount it there and set pxe.root (--pxe-root)"),
                    ),
                }
            }
        }
        for var in ["PXE_CONFIG_URL", "PXE_CONFIG_PATH"] {
            if let Some((_, src)) = self.scalar(var) {
                self.note(&src, "the boot menus go into pxe.root with the kernel and initrd (pxelinux.cfg/, grub/, iPXE), named by this host's MAC addresses");
            }
        }
    }

    fn output_url(&mut self, u: &str, src: &Source, kind: &str) {
        let scheme = u.split_once("://").map_or("", |(s, _)| s);
        match scheme {
            "file" | "nfs" | "cifs" | "sftp" | "https" => self.set_str("output.url", u, &[src]),
            "http" => {
                let https = format!("https://{}", &u["http://".len()..]);
                self.set_str("output.url", &https, &[src]);
                self.note(src, format!("{u}: rear-build never sends an image over plain http (it carries the rescue system's keys and passwords): it pushes to {https} with WebDAV PUT; give the server TLS, or set output.url to a file://, nfs:// or sftp:// url"));
            }
            "sshfs" => {
                let sftp = format!("sftp://{}", &u["sshfs://".len()..]);
                self.set_str("output.url", &sftp, &[src]);
            }
            "null" => {}
            "usb" if kind == "USB" => {}
            _ => self.note(
                src,
                format!("{u}: rear-build pushes to file://, nfs://, cifs://, sftp:// and https:// only; the results stay in image.output"),
            ),
        }
    }

    fn backup(&mut self) {
        let output = self
            .cfg
            .get("OUTPUT")
            .map(|v| v.scalar().to_ascii_uppercase())
            .unwrap_or_default();
        let prog = self
            .scalar("BACKUP_PROG")
            .map(|(p, _)| p)
            .unwrap_or_default();
        let Some((b, src)) = self.scalar("BACKUP") else {
            self.set_str("backup.method", "external", &[]);
            self.note_default(
                "BACKUP",
                "not set: ReaR's default REQUESTRESTORE (no backup by ReaR; the operator restores by hand and confirms) is backup.method = \"external\" without commands",
            );
            return;
        };
        let b = b.to_ascii_uppercase();
        let method = match b.as_str() {
            "NETFS" if prog.ends_with("rsync") => "rsync",
            "NETFS" => "tar",
            "RSYNC" => "rsync",
            "BORG" => "borg",
            "EXTERNAL" | "REQUESTRESTORE" => "external",
            other => match CLIENTS.iter().find(|(n, _)| *n == other) {
                Some((_, client)) => {
                    self.note(&src, format!("{client} restores on its own: backup.method = \"external\"; put its client's programs and configuration into the image with a recipe (image.recipes), and set backup.external.restore to the command that restores, or restore by hand and confirm"));
                    "external"
                }
                None => {
                    self.note(&src, format!("BACKUP={b} is not known to rear-build: backup.method = \"external\" (restore by hand and confirm)"));
                    "external"
                }
            },
        };
        self.set_str("backup.method", method, &[&src]);
        match method {
            "tar" | "rsync" => self.netfs_url(method, &output),
            "borg" => self.borg(),
            "external" => self.external(),
            _ => {}
        }
        if let Some((o, osrc)) = self.scalar("BACKUP_OPTIONS") {
            self.mount_options(&o, &osrc);
        }
        let mut exclude = Vec::new();
        let mut unsupported = Vec::new();
        for var in ["BACKUP_PROG_EXCLUDE", "EXCLUDE_BACKUP"] {
            let Some((items, xsrc)) = self.items(var) else {
                continue;
            };
            exclude.clear();
            unsupported.clear();
            for i in items {
                let path = match var {
                    "EXCLUDE_BACKUP" => match i.strip_prefix("fs:") {
                        Some(p) => p.to_string(),
                        None => {
                            unsupported.push(i);
                            continue;
                        }
                    },
                    _ => i,
                };
                let path = path.strip_suffix("/*").unwrap_or(&path).to_string();
                match path.starts_with('/') && !glob_chars(&path) {
                    true => exclude.push(path),
                    false => unsupported.push(path),
                }
            }
            self.push("backup.exclude", &exclude, &xsrc);
            if !unsupported.is_empty() {
                self.note(&xsrc, format!("backup.exclude takes absolute paths (a directory and all below it), not patterns: left out {unsupported:?}"));
            }
        }
        if let Some((_, isrc)) = self.items("BACKUP_PROG_INCLUDE") {
            self.note(&isrc, "rear-build backs up every file system the saved layout mounts (each through its own view, so nothing under a mount point is missed): paths on them are in the backup without being listed");
        }
    }

    /// NETFS and RSYNC targets in rear-build's url forms.
    fn netfs_url(&mut self, method: &str, output: &str) {
        let Some((u, src)) = self.scalar("BACKUP_URL") else {
            // ReaR of old put a NETFS backup beside the rescue system on
            // the USB disk or the OBDR tape.
            match output {
                "USB" => {
                    let label = self
                        .cfg
                        .get("USB_DEVICE")
                        .and_then(|v| v.scalar().strip_prefix("/dev/disk/by-label/").map(String::from))
                        .unwrap_or_else(|| "REAR-000".into());
                    let from = self.source("OUTPUT");
                    self.set_str("backup.url", &format!("usb://{label}"), &from.iter().collect::<Vec<_>>());
                    if let Some(f) = from {
                        self.note(&f, "NETFS without BACKUP_URL: the backup goes onto the USB disk, as ReaR of old did");
                    }
                }
                "OBDR" => {
                    if let Some(dev) = self.cfg.get("TAPE_DEVICE").map(|v| v.scalar().to_string()) {
                        let from = self.source("TAPE_DEVICE");
                        self.set_str("backup.url", &format!("tape://{dev}"), &from.iter().collect::<Vec<_>>());
                    }
                }
                _ => self.note_default("BACKUP_URL", "not set: ReaR refuses NETFS without one; rear-build's default is usb://REAR-000"),
            }
            return;
        };
        let (scheme, rest) = u.split_once("://").unwrap_or(("", u.as_str()));
        let url = match (scheme, method) {
            ("nfs" | "cifs" | "file" | "tape", _) => Some(u.clone()),
            ("usb", _) => match rest.strip_prefix("/dev/disk/by-label/") {
                Some(label) => Some(format!("usb://{label}")),
                None => {
                    self.note(&src, format!("{u}: rear-build finds a USB target by its label (usb://LABEL, a disk made by `rear-build format`), not by device name"));
                    None
                }
            },
            ("sshfs", "tar") => Some(format!("sftp://{rest}")),
            // ReaR's rsync://HOST/PATH goes over ssh, rsync://HOST::/MODULE
            // to the rsync daemon.
            ("rsync", "rsync") => match rest.split_once("::") {
                Some((host, module)) => {
                    Some(format!("rsync://{host}/{}", module.trim_start_matches('/')))
                }
                None => Some(format!("ssh://{rest}")),
            },
            _ => {
                self.note(&src, format!("{u}: no {method} target of rear-build has this form, so backup.url keeps its default (usb://REAR-000) until you set it; see backup.url in docs/config.md"));
                None
            }
        };
        if let Some(url) = url {
            self.set_str("backup.url", &url, &[&src]);
        }
    }

    fn mount_options(&mut self, o: &str, src: &Source) {
        let (secret, kept): (Vec<&str>, Vec<&str>) = o
            .split(',')
            .filter(|x| !x.is_empty())
            .partition(|x| rear_exec::secret_option(x).is_some());
        if !secret.is_empty() {
            let names: Vec<&str> = secret
                .iter()
                .map(|x| x.split('=').next().unwrap_or(x))
                .collect();
            self.note(src, format!("{} left out: a password in mount options would be copied into the rescue image and the logs; put username= and password= lines into a file (mode 0600, say /etc/rear-build/cifs.cred) and add credentials=FILE to backup.mount_options", names.join(", ")));
        }
        if !kept.is_empty() {
            self.set_str("backup.mount_options", &kept.join(","), &[src]);
        }
    }

    fn borg(&mut self) {
        let host = self.scalar("BORGBACKUP_HOST");
        let user = self.scalar("BORGBACKUP_USERNAME");
        let port = self.scalar("BORGBACKUP_PORT");
        let Some((repo, rsrc)) = self.scalar("BORGBACKUP_REPO") else {
            self.note_default(
                "BORGBACKUP_REPO",
                "not set: set backup.url to the borg repository",
            );
            return;
        };
        let mut from = vec![rsrc.clone()];
        let url = match &host {
            Some((h, hsrc)) => {
                from.push(hsrc.clone());
                let mut a = h.clone();
                if let Some((u, usrc)) = &user {
                    a = format!("{u}@{a}");
                    from.push(usrc.clone());
                }
                if let Some((p, psrc)) = &port {
                    a = format!("{a}:{p}");
                    from.push(psrc.clone());
                }
                format!("ssh://{a}/{}", repo.trim_start_matches('/'))
            }
            None => format!("file://{repo}"),
        };
        let from: Vec<&Source> = from.iter().collect();
        self.set_str("backup.url", &url, &from);
        if self.cfg.get("BORG_PASSPHRASE").is_some() {
            let (_, psrc) = self.take("BORG_PASSPHRASE").expect("present");
            self.note(&psrc, "not written here: put the passphrase into a file (mode 0600, owned by root) and set backup.passphrase_file to it (`rear` passes it to borg itself)");
        }
        for (name, v) in &self.cfg.vars {
            let tool = name.starts_with("BORGBACKUP_PRUNE_")
                || matches!(
                    name.as_str(),
                    "BORGBACKUP_COMPRESSION"
                        | "BORGBACKUP_ENC_TYPE"
                        | "BORGBACKUP_ARCHIVE_PREFIX"
                        | "BORGBACKUP_REMOTE_PATH"
                );
            if tool {
                self.out.notes.push(Note {
                    origin: Some(v.origin.clone()),
                    var: name.clone(),
                    text: match name.starts_with("BORGBACKUP_PRUNE_") {
                        true => "not supported: rear-build never prunes a repository; prune with borg itself",
                        false => "not supported: rear-build makes repositories with borg's defaults (repokey encryption, lz4 compression)",
                    }
                    .into(),
                });
                self.used.insert(name.clone());
            }
        }
        self.environment(&["BORG_"]);
    }

    /// Exported variables of a backup tool, for its environment.
    fn environment(&mut self, prefixes: &[&str]) {
        let names: Vec<String> = self
            .cfg
            .vars
            .keys()
            .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
            .cloned()
            .collect();
        for n in names {
            let (v, src) = self.take(&n).expect("listed");
            if n != "BORG_PASSPHRASE" {
                self.note(
                    &src,
                    "passed to the tool's environment by `rear`; not a rear-build setting",
                );
            }
            self.out.environment.push((n, v.scalar().to_string()));
        }
    }

    fn external(&mut self) {
        for (var, key) in [
            ("EXTERNAL_BACKUP", "backup"),
            ("EXTERNAL_RESTORE", "restore"),
        ] {
            let Some((cmd, src)) = self.scalar(var) else {
                continue;
            };
            let words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
            let plain = !cmd.contains(['|', '&', ';', '<', '>', '$', '`', '"', '\'', '*', '(']);
            if plain && words[0].starts_with('/') {
                self.set(
                    &format!("backup.external.{key}"),
                    T::Array(words.into_iter().map(T::String).collect()),
                    &[&src],
                );
            } else {
                self.note(&src, format!("ReaR runs this through the shell; rear-build runs a program with its arguments: put the command into a script and set backup.external.{key} = [\"/path/to/script\"]"));
            }
        }
    }

    fn layout(&mut self) {
        for (var, key) in [
            ("EXCLUDE_MOUNTPOINTS", "layout.exclude_mountpoints"),
            ("EXCLUDE_VG", "layout.exclude_vgs"),
            ("ONLY_INCLUDE_VG", "layout.only_vgs"),
            ("WRITE_PROTECTED_IDS", "layout.protect"),
        ] {
            if let Some((items, src)) = self.items(var) {
                self.push(key, &items, &src);
            }
        }
        if let Some((items, src)) = self.items("EXCLUDE_COMPONENTS") {
            let mut disks = Vec::new();
            for i in items {
                match i.strip_prefix("/dev/") {
                    Some(_) if !i.contains("/mapper/") => disks.push(i),
                    _ => self.note(&src, format!("{i}: only whole disks (/dev/NAME) are left out by rear-build (layout.exclude_disks); use exclude_mountpoints or exclude_vgs for the rest")),
                }
            }
            self.push("layout.exclude_disks", &disks, &src);
        }
        if let Some((v, src)) = self.scalar("AUTORESIZE_PARTITIONS") {
            match yes(&v) {
                true => self.note(&src, "every partition scales to a larger disk with `rear-build recover --proportional`; without it only the last partition grows"),
                false => self.note(&src, "as rear-build does by default: only the last partition of a disk grows or shrinks to fit"),
            }
        }
    }

    fn image(&mut self) {
        if let Some((items, src)) = self.items("MODULES") {
            let mut add = Vec::new();
            for m in items {
                match m.as_str() {
                    "all_modules" => self.set_str("image.modules", "all", &[&src]),
                    "loaded_modules" => self.set_str("image.modules", "loaded", &[&src]),
                    "no_modules" => self.note(&src, "no_modules: rear-build always takes the modules the rescue system needs to reach disks, network and console"),
                    _ => add.push(m),
                }
            }
            self.push("image.add_modules", &add, &src);
        }
        if let Some((items, src)) = self.items("MODULES_LOAD") {
            self.push("image.load_modules", &items, &src);
        }
        if let Some((items, src)) = self.items("EXCLUDE_MODULES") {
            self.push("image.omit_modules", &items, &src);
        }
        if let Some((items, src)) = self.items("FIRMWARE_FILES") {
            match items.iter().map(|i| i.to_ascii_lowercase()).collect::<Vec<_>>().as_slice() {
                [y] if yes(y) => {}
                _ => self.note(&src, "rear-build takes the firmware the modules in the image ask for (modinfo -F firmware) from image.firmware_dir; other selections are not supported"),
            }
        }
        let copy: Vec<String> = self
            .cfg
            .vars
            .keys()
            .filter(|n| n.starts_with("COPY_AS_IS") && *n != "COPY_AS_IS_EXCLUDE")
            .cloned()
            .collect();
        let lists = copy.iter().map(|n| (n.as_str(), "image.files")).chain([
            ("PROGS", "image.programs"),
            ("REQUIRED_PROGS", "image.required_programs"),
            ("LIBS", "image.files"),
        ]);
        for (var, key) in lists.collect::<Vec<_>>() {
            if let Some((items, src)) = self.items(var) {
                self.push(key, &items, &src);
            }
        }
        if let Some((items, src)) = self.items("COPY_AS_IS_EXCLUDE") {
            self.note(&src, format!("not supported: rear-build leaves out only what recipes exclude; left in {items:?}"));
        }
        if let Some((c, src)) = self.scalar("KERNEL_CMDLINE") {
            self.set_str("image.boot_cmdline", &c, &[&src]);
        }
        if let Some((_, src)) = self.take("SSH_ROOT_PASSWORD") {
            self.note(&src, "not supported yet: the rescue system's root logs in with the host's authorized_keys; a password (even as a hash) is not carried");
        }
        for var in ["USE_DHCLIENT", "USE_STATIC_NETWORKING"] {
            if let Some((v, src)) = self.scalar(var) {
                if yes(&v) {
                    self.note(&src, "the rescue system sets up each interface as the host has it: the host's static addresses and routes, DHCP where the host uses DHCP");
                }
            }
        }
        if let Some((items, src)) = self.items("POST_RECOVERY_SCRIPT") {
            match items.as_slice() {
                [f] if f.starts_with('/') && !f.contains(char::is_whitespace) => {
                    self.set_str("recover.post_script", f, &[&src]);
                }
                _ => self.note(&src, "rear-build runs a file, not shell text: put these commands into a script (it gets the recovered system's root as $TARGET_FS_ROOT), include it in the image (image.files) and set recover.post_script to it"),
            }
        }
    }

    /// Every variable the files set that nothing above read.
    fn unsupported(&mut self) {
        let left: Vec<(String, Origin)> = self
            .cfg
            .vars
            .iter()
            .filter(|(n, v)| !self.used.contains(*n) && v.origin.file.as_os_str() != PRESET)
            .map(|(n, v)| (n.clone(), v.origin.clone()))
            .collect();
        for (n, origin) in left {
            self.out.notes.push(Note {
                origin: Some(origin),
                var: n,
                text: "not supported by rear-build: ignored".into(),
            });
        }
    }
}

impl Import {
    /// The result as a configuration file: each key with the variables
    /// it came from, then every note, as comments.
    pub fn to_toml(&self, header: &str) -> String {
        let mut out = String::new();
        for l in header.lines() {
            out.push_str(&format!("# {l}\n"));
        }
        self.section(&mut out, "", &self.table);
        if !self.notes.is_empty() {
            out.push_str("\n# Notes:\n");
            for n in &self.notes {
                out.push_str(&format!("# {n}\n"));
            }
        }
        out
    }

    fn section(&self, out: &mut String, path: &str, t: &toml::Table) {
        let key = |k: &str| match path {
            "" => k.to_string(),
            p => format!("{p}.{k}"),
        };
        let values: Vec<_> = t.iter().filter(|(_, v)| !v.is_table()).collect();
        if !values.is_empty() {
            out.push_str(&format!("\n[{path}]\n"));
        }
        for (k, v) in values {
            let from = self
                .origins
                .get(&key(k))
                .filter(|o| !o.is_empty())
                .map(|o| {
                    let o: Vec<String> = o.iter().map(Source::to_string).collect();
                    format!("  # {}", o.join(", "))
                })
                .unwrap_or_default();
            out.push_str(&format!("{k} = {v}{from}\n"));
        }
        for (k, v) in t {
            if let T::Table(sub) = v {
                self.section(out, &key(k), sub);
            }
        }
    }
}
