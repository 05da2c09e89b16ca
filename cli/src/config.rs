//! The configuration: built-in defaults, then `config.toml` of the config
//! directory (`/etc/rear-build`, or `-c DIR`), then its `conf.d/*.toml` in
//! name order, each layer overriding the keys it sets; command-line flags
//! override all. Unknown keys and wrong types are errors naming the file,
//! the key and what is allowed. A reader of ReaR's local.conf can later
//! produce one more layer of the same shape.

use anyhow::{bail, Context, Result};
use clap::Args;
use rear_backup::Method;
use rear_builder::compress::Algorithm;
use rear_closure::modules::PolicyKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Value;

pub use crate::paths::CONFIG_DIR as DEFAULT_DIR;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub image: Image,
    pub recover: Recover,
    pub layout: Layout,
    pub backup: Backup,
    pub usb: Usb,
    pub obdr: Obdr,
    pub pxe: Pxe,
    pub output: Output,
    pub sign: Sign,
    pub trust: Trust,
    pub oci: Oci,
}

/// `[sign]`, and `image`'s `--sign`: the key a build's results are
/// signed with (docs/provenance.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct Sign {
    /// Sign the results as they are built with this minisign secret key
    /// (made by `rear-build keygen` or `minisign -G`): manifest.json.minisig,
    /// SHA256SUMS and SHA256SUMS.minisig (sign.key).
    #[arg(long = "sign", value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// The file whose first line is the secret key's password (mode 0600,
    /// owned by root); without it an encrypted key's password is asked on
    /// the terminal (sign.password_file).
    #[arg(long = "sign-password-file", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// `[trust]`: the public key images are verified with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Trust {
    /// A minisign public key file (`rear-build keygen`'s BASE.pub):
    /// `verify` uses it when given no --pubkey; `recover` restores only a
    /// backup whose manifest it verifies.
    pub pubkey: Option<PathBuf>,
    /// Where `verify` records the newest image it verified per key and
    /// host, to refuse older ones (default /var/lib/rear-build/verified.json).
    pub state: Option<PathBuf>,
}

impl Trust {
    pub fn state(&self) -> PathBuf {
        self.state
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::paths::VERIFIED))
    }

    /// The trusted key, when one is set.
    pub fn key(&self) -> Result<Option<rear_sign::PublicKey>> {
        self.pubkey
            .as_deref()
            .map(|k| {
                rear_sign::PublicKey::load(k)
                    .with_context(|| format!("trust.pubkey = {}", k.display()))
            })
            .transpose()
    }
}

/// `[recover]`: what recovery does besides recreating and restoring.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recover {
    /// A program (in the rescue system: include it with image.files) run
    /// after the restore and the bootloader, with the recovered system's
    /// root in $TARGET_FS_ROOT (ReaR's POST_RECOVERY_SCRIPT); a failure
    /// fails the recovery.
    pub post_script: String,
}

/// `[oci]`, and `push`'s and `pull`'s flags: how the OCI registry is
/// reached (docs/provenance.md, "OCI distribution").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct Oci {
    /// The file whose first line is `user:password` for the registry's
    /// basic auth (mode 0600, owned by root); anonymous without one
    /// (oci.credentials). Never on the command line itself.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Plain http to a registry other than localhost, 127.0.0.1 or ::1
    /// (which always get it); https otherwise (oci.insecure).
    #[arg(long)]
    pub insecure: bool,
}

impl Oci {
    /// These flags over the configuration's `[oci]`.
    pub fn over(&self, cfg: &Oci) -> Oci {
        Oci {
            credentials: self
                .credentials
                .clone()
                .or(cfg.credentials.clone())
                .filter(|c| !c.as_os_str().is_empty()),
            insecure: self.insecure || cfg.insecure,
        }
    }
}

/// `[usb]`: the rescue disk `image --media usb` writes to (docs/media.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Usb {
    /// The disk (or disk image file) made by `rear-build format`, or its
    /// REAR-000 partition; empty: the partition labelled REAR-000.
    pub device: String,
    /// Image generations kept per host (at least 1); one that a backup on
    /// the disk was made with is never removed.
    pub keep: usize,
}

impl Default for Usb {
    fn default() -> Self {
        Usb {
            device: String::new(),
            keep: 3,
        }
    }
}

/// `[obdr]`, and `image`'s tape flag: where the OBDR medium goes besides
/// rescue.tap.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct Obdr {
    /// Also write the OBDR tape (with --media obdr) to this tape drive, the
    /// non-rewinding device such as /dev/nst0, overwriting the tape (obdr.device).
    #[arg(long = "tape-device", value_name = "DEVICE")]
    pub device: Option<PathBuf>,
}

/// `[pxe]`, and `image`'s --pxe-root: the TFTP or HTTP root the network
/// boot tree is installed into besides pxe/ (docs/media.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct Pxe {
    /// Also install the network boot tree (with --media pxe) into DIR, the
    /// TFTP or HTTP server's root, which must exist (pxe.root). Only this
    /// host's files there are replaced, each written beside and renamed:
    /// rear-HOST/, rear-HOST.ipxe and the menus named by this host's MAC
    /// addresses; pxelinux.0 and ldlinux.c32 only when absent or
    /// different; other hosts' files are left alone. The files get DIR's
    /// group and mode 0640, so give DIR the server's group (chgrp tftp
    /// DIR); mode 0644 only with pxe.world_readable = true in the
    /// configuration: the initrd is the whole rescue system, with whatever
    /// keys and passwords it carries.
    #[arg(long = "pxe-root", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Install the files 0644 (directories 0755), readable by every user
    /// of the server and the network: only for an image that carries no
    /// secrets.
    #[arg(skip)]
    pub world_readable: bool,
}

impl Pxe {
    /// The root to install into, if any (an empty one is none).
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref().filter(|r| !r.as_os_str().is_empty())
    }

    /// Who may read the installed files.
    pub fn access(&self) -> rear_builder::media::pxe::Access {
        use rear_builder::media::pxe::Access;
        match self.world_readable {
            true => Access::World,
            false => Access::Group,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    /// `tar`, `rsync`, `borg`, `restic`, `external`, or `none` (layout and
    /// image only).
    pub method: Method,
    /// Where backups go; the forms each method takes are in
    /// `rear_backup::target::forms`.
    pub url: String,
    /// Paths never backed up (absolute).
    pub exclude: Vec<String>,
    /// borg and restic: a file holding the repository passphrase (empty:
    /// the tool's own variables in the environment).
    pub passphrase_file: String,
    /// tar: a file of age recipients (public keys) to encrypt the archive
    /// and its manifest to (empty: not encrypted). docs/backup.md.
    pub recipients_file: String,
    /// tar: the age identity (secret key) file that decrypts, needed to
    /// restore an encrypted backup; mode 0600, owned by root. Kept off the
    /// machine and the backup medium until recovery day.
    pub identity_file: String,
    /// Options for mounting a usb://, nfs://, cifs:// target (as in
    /// `mount -o`: `nfsvers=4.2`, `credentials=/etc/rear-build/cifs.cred`)
    /// or sshfs's for sftp:// with tar (`IdentityFile=/root/.ssh/backup`);
    /// ReaR's BACKUP_OPTIONS.
    pub mount_options: String,
    /// The `external` method: a backup client rear-build runs.
    pub external: External,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            method: Method::Tar,
            url: "usb://REAR-000".into(),
            exclude: Vec::new(),
            passphrase_file: String::new(),
            recipients_file: String::new(),
            identity_file: String::new(),
            mount_options: String::new(),
            external: External::default(),
        }
    }
}

/// A backup client of its own (Bacula, TSM, NetBackup, a script): its
/// programs and configuration go into the image through a recipe
/// (`image.recipes`); rear-build runs its commands. `{root}` in an argument
/// is the root to restore below (also `$REAR_BUILD_ROOT`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct External {
    /// Run by `mkbackuponly` (empty: the client backs up on its own schedule).
    pub backup: Vec<String>,
    /// Run by `restoreonly` and `recover` (empty: the operator restores
    /// with the client and confirms; never in unattended mode).
    pub restore: Vec<String>,
}

// Each settings group below is declared once: its fields are both the
// configuration file's keys (serde) and the command line's flags (clap).
// A scalar is an Option, so a flag not given is told from one given
// (`Default` is "nothing set"); `builtin()` holds the defaults, which
// `load` starts from. Flags go over the files in one place, `Config::with`.

/// `[image]`, and the flags of `image` and `mkbackup`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct Image {
    /// Where the artefacts go (default: image.output, /var/lib/rear-build/output).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The content-addressed store (the global --store).
    #[arg(skip)]
    pub store: Option<PathBuf>,
    /// Which kernel modules go in (default: image.modules, most).
    #[arg(long, value_parser = modules_parser())]
    pub modules: Option<PolicyKind>,
    /// Also take this module (and its dependencies). Repeatable.
    #[arg(long = "add-module", value_name = "NAME")]
    pub add_modules: Vec<String>,
    /// Leave out modules matching NAME (glob). Repeatable.
    #[arg(long = "omit-module", value_name = "NAME")]
    pub omit_modules: Vec<String>,
    /// Extra recipe: a file path, a name in /etc/rear-build/recipes, or a built-in. Repeatable.
    #[arg(long = "recipe", value_name = "NAME")]
    pub recipes: Vec<String>,
    /// Extra file or directory for the image, at DEST (default: the same path). Repeatable.
    #[arg(long, value_name = "SRC[:DEST]")]
    pub include: Vec<String>,
    /// The initrd's compression (image.compression): zstd, xz or gzip.
    /// Default: zstd when the kernel unpacks it (CONFIG_RD_ZSTD in its
    /// /boot/config-KVER; without one, Linux 5.9 or newer), else gzip. A
    /// choice the kernel cannot unpack is an error.
    #[arg(long = "compress", value_name = "ALGORITHM", value_parser = compress_parser())]
    pub compression: Option<Algorithm>,
    /// The compression level (image.compress_level): zstd 1-19 (default
    /// 2), xz 0-9 (default 6), gzip 1-9 (default 6).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..=19))]
    pub compress_level: Option<i32>,
    /// Where firmware is found (default: image.firmware_dir, /lib/firmware).
    #[arg(long, value_name = "DIR")]
    pub firmware_dir: Option<PathBuf>,
    /// Boot media to write beside vmlinuz and initrd.img: iso (rescue.iso,
    /// BIOS and UEFI, CD or stick), raw (rescue.img, a GPT disk image for
    /// VMs and dd, BIOS and UEFI), pxe (pxe/: iPXE, PXELINUX and GRUB
    /// menus for a TFTP or HTTP root), obdr (rescue.tap: the ISO on an OBDR
    /// tape, as a SIMH tape image), usb (a new generation on the rescue disk
    /// made by `rear-build format`), or none. Comma-separated, repeatable
    /// (default: image.media; else iso when the host has xorriso, mtools
    /// and GRUB's modules, with a warning when not).
    #[arg(long, value_name = "LIST")]
    pub media: Vec<String>,
    /// Seconds the boot menu waits before the rescue shell (image.boot_timeout, 5).
    #[arg(skip)]
    pub boot_timeout: Option<u32>,
    /// The consoles every boot entry passes (image.boot_consoles,
    /// "console=tty0 console=ttyS0,115200").
    #[arg(skip)]
    pub boot_consoles: Option<String>,
    /// More kernel arguments for every boot entry (image.boot_cmdline).
    #[arg(skip)]
    pub boot_cmdline: Option<String>,
    /// More programs for the rescue system, found in PATH, with what they
    /// need; one the host lacks is left out with a note (ReaR's PROGS).
    #[arg(skip)]
    pub programs: Vec<String>,
    /// Programs the rescue system must have: a missing one stops the
    /// build (ReaR's REQUIRED_PROGS).
    #[arg(skip)]
    pub required_programs: Vec<String>,
    /// More host files and directories (globs allowed), copied as they
    /// are with what they need; missing ones are left out with a note
    /// (ReaR's COPY_AS_IS and LIBS).
    #[arg(skip)]
    pub files: Vec<String>,
    /// Kernel modules the rescue system loads at boot whatever the
    /// hardware (ReaR's MODULES_LOAD).
    #[arg(skip)]
    pub load_modules: Vec<String>,
}

/// `--modules`: the closure crate's own policy names, with help for each.
fn modules_parser() -> impl clap::builder::TypedValueParser<Value = PolicyKind> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("most")
            .help("Storage, network, input, filesystems and crypto: what any machine may need"),
        PossibleValue::new("all").help("Every module of the kernel"),
        PossibleValue::new("loaded").help("The modules loaded on this machine now"),
    ])
    .map(|s| s.parse::<PolicyKind>().expect("a possible value"))
}

/// `--compress`: the builder's algorithm names, with help for each.
fn compress_parser() -> impl clap::builder::TypedValueParser<Value = Algorithm> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("zstd").help("Fast to make and to unpack; Linux 5.9 or newer"),
        PossibleValue::new("xz").help("The smallest, slowest to make (CRC32, LZMA2)"),
        PossibleValue::new("gzip").help("What every kernel unpacks; the largest"),
    ])
    .map(|s| s.parse::<Algorithm>().expect("a possible value"))
}

/// A scalar setting: the flag's value, else the files', else the default.
fn pick<T: Clone>(flag: &Option<T>, file: &Option<T>, default: &Option<T>) -> T {
    flag.as_ref()
        .or(file.as_ref())
        .or(default.as_ref())
        .cloned()
        .expect("every scalar setting has a default")
}

/// A list setting: the files' entries, then the flags'.
fn join(file: &[String], flag: &[String]) -> Vec<String> {
    file.iter().chain(flag).cloned().collect()
}

impl Image {
    /// The built-in defaults.
    pub fn builtin() -> Image {
        Image {
            output: Some(crate::paths::OUTPUT.into()),
            store: Some(crate::paths::STORE.into()),
            modules: Some(PolicyKind::Most),
            add_modules: Vec::new(),
            omit_modules: Vec::new(),
            recipes: Vec::new(),
            include: Vec::new(),
            // By the kernel and the algorithm, at build time.
            compression: None,
            compress_level: None,
            firmware_dir: Some("/lib/firmware".into()),
            // Empty: the ISO where the host has its tools (`media`).
            media: Vec::new(),
            boot_timeout: Some(5),
            boot_consoles: Some("console=tty0 console=ttyS0,115200".into()),
            boot_cmdline: Some(String::new()),
            programs: Vec::new(),
            required_programs: Vec::new(),
            files: Vec::new(),
            load_modules: Vec::new(),
        }
    }

    /// The media to write, checked. Named ones need their tools; the
    /// default ISO is left out, with a warning, on a host without them
    /// (a backup must not fail for want of a boot medium).
    pub fn media(&self) -> Result<Vec<rear_builder::media::Kind>> {
        use rear_builder::media;
        if !self.media.is_empty() {
            let kinds = media::parse_list(&self.media).context("image.media (or --media)")?;
            let missing = media::missing_packages(&kinds);
            if !missing.is_empty() {
                bail!(
                    "the boot media need packages this host lacks: apt-get install {} (or --media none)",
                    missing.join(" ")
                );
            }
            return Ok(kinds);
        }
        let kinds = vec![media::Kind::Iso];
        let missing = media::missing_packages(&kinds);
        if missing.is_empty() {
            return Ok(kinds);
        }
        log::warn!(
            "no rescue.iso: this host lacks {} (apt-get install {}); the kernel and initrd boot only through PXE or qemu -kernel. Set image.media = [\"none\"] to silence this",
            missing.join(", "),
            missing.join(" ")
        );
        Ok(Vec::new())
    }

    /// The boot menu of the media, for `host`.
    pub fn menu(&self, host: &str) -> rear_builder::media::Menu {
        let d = Image::builtin();
        rear_builder::media::Menu {
            host: host.into(),
            timeout: pick(&self.boot_timeout, &None, &d.boot_timeout),
            consoles: pick(&self.boot_consoles, &None, &d.boot_consoles),
            cmdline: pick(&self.boot_cmdline, &None, &d.boot_cmdline),
        }
    }

    pub fn output(&self) -> PathBuf {
        pick(&self.output, &None, &Image::builtin().output)
    }
    pub fn store(&self) -> PathBuf {
        pick(&self.store, &None, &Image::builtin().store)
    }
    pub fn modules(&self) -> PolicyKind {
        pick(&self.modules, &None, &Image::builtin().modules)
    }
    /// None: zstd when the kernel unpacks it, else a fallback.
    pub fn compression(&self) -> Option<Algorithm> {
        self.compression
    }
    /// None: the algorithm's default level.
    pub fn compress_level(&self) -> Option<i32> {
        self.compress_level
    }
    pub fn firmware_dir(&self) -> PathBuf {
        pick(&self.firmware_dir, &None, &Image::builtin().firmware_dir)
    }

    /// `flags` over these settings.
    fn with(&self, flags: &Image) -> Image {
        let d = Image::builtin();
        Image {
            output: Some(pick(&flags.output, &self.output, &d.output)),
            store: Some(pick(&flags.store, &self.store, &d.store)),
            modules: Some(pick(&flags.modules, &self.modules, &d.modules)),
            add_modules: join(&self.add_modules, &flags.add_modules),
            omit_modules: join(&self.omit_modules, &flags.omit_modules),
            recipes: join(&self.recipes, &flags.recipes),
            include: join(&self.include, &flags.include),
            compression: flags.compression.or(self.compression),
            compress_level: flags.compress_level.or(self.compress_level),
            firmware_dir: Some(pick(
                &flags.firmware_dir,
                &self.firmware_dir,
                &d.firmware_dir,
            )),
            // The command line's list replaces the configuration's.
            media: match flags.media.is_empty() {
                true => self.media.clone(),
                false => flags.media.clone(),
            },
            boot_timeout: Some(pick(
                &flags.boot_timeout,
                &self.boot_timeout,
                &d.boot_timeout,
            )),
            boot_consoles: Some(pick(
                &flags.boot_consoles,
                &self.boot_consoles,
                &d.boot_consoles,
            )),
            boot_cmdline: Some(pick(
                &flags.boot_cmdline,
                &self.boot_cmdline,
                &d.boot_cmdline,
            )),
            programs: self.programs.clone(),
            required_programs: self.required_programs.clone(),
            files: self.files.clone(),
            load_modules: self.load_modules.clone(),
        }
    }

    /// The recipe `programs`, `required_programs`, `files` and
    /// `load_modules` make, if they name anything.
    pub fn recipe(&self) -> Option<rear_builder::recipe::Recipe> {
        use rear_builder::recipe::{Package, Recipe};
        let lists = [
            &self.programs,
            &self.required_programs,
            &self.files,
            &self.load_modules,
        ];
        if lists.iter().all(|l| l.is_empty()) {
            return None;
        }
        let package = |name: &str, optional: bool| Package {
            name: name.into(),
            optional,
            ..Package::default()
        };
        Some(Recipe {
            name: "configuration".into(),
            // The manifest records the recipe by this hash.
            hash: rear_store::hash_bytes(format!("{lists:?}").as_bytes()),
            description: "image.programs, image.required_programs, image.files and image.load_modules of the configuration".into(),
            modules: self.load_modules.clone(),
            exclude: Vec::new(),
            packages: vec![
                Package {
                    binaries: self.programs.clone(),
                    ..package("image.programs (a program in PATH)", true)
                },
                Package {
                    binaries: self.required_programs.clone(),
                    ..package("image.required_programs (a program in PATH)", false)
                },
                Package {
                    dirs: self.files.clone(),
                    ..package("image.files (a host path)", true)
                },
            ],
        })
    }
}

/// `[output]`, and `--push` of `image` and `mkbackup`: where a build's
/// results are copied once written (`push`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// After the build, copy vmlinuz, initrd.img, the media and
    /// manifest.json into URL/HOST/, replacing the previous ones only when
    /// all arrived: file:///DIR, https://HOST[:PORT]/PATH (WebDAV),
    /// sftp://[USER@]HOST[:PORT]/DIR, nfs://HOST/EXPORT[/DIR],
    /// cifs://[USER@]HOST/SHARE[/DIR] (default: output.url; none).
    #[arg(long = "push", value_name = "URL")]
    pub url: Option<String>,
    /// https: a file (mode 0600) holding USER:PASSWORD, or netrc lines
    /// (`machine HOST login USER password PASSWORD`), for HTTP basic auth.
    #[arg(skip)]
    pub credentials_file: String,
    /// https: the CA certificate(s) to verify the server with, instead of
    /// the system's.
    #[arg(skip)]
    pub ca_file: String,
    /// nfs://, cifs://, sftp://: options for mounting the url (as
    /// backup.mount_options).
    #[arg(skip)]
    pub mount_options: String,
}

impl Output {
    /// The url to push to, if any.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref().filter(|u| !u.is_empty())
    }

    fn with(&self, flags: &Output) -> Output {
        Output {
            url: flags.url.clone().or_else(|| self.url.clone()),
            ..self.clone()
        }
    }

    /// The settings, checked together (also for a url given as --push).
    pub fn validate(&self) -> Result<()> {
        // The other settings may wait for a url given as --push.
        let Some(url) = self.url() else {
            return Ok(());
        };
        let dest = crate::push::Dest::parse(url)
            .with_context(|| format!("output.url = {:?}", rear_exec::redact(url, &[])))?;
        let https = matches!(dest, crate::push::Dest::Dav(_));
        for (k, v) in [
            ("credentials_file", &self.credentials_file),
            ("ca_file", &self.ca_file),
        ] {
            if v.is_empty() {
                continue;
            }
            if !https {
                bail!("output.{k} = {v:?}: only an https:// output.url uses it");
            }
            if !v.starts_with('/') {
                bail!("output.{k} = {v:?}: allowed is an absolute path");
            }
        }
        let mo = &self.mount_options;
        if let Some(what) = rear_exec::secret_option(mo) {
            bail!(
                "output.mount_options = {:?}: a {what} here would be copied into the rescue image and the logs; put it in a credentials file (credentials=/etc/rear-build/cifs.cred, mode 0600, with username= and password= lines)",
                rear_exec::redact(mo, &[])
            );
        }
        if !mo.is_empty() && !dest.is_mounted() {
            bail!("output.mount_options = {mo:?}: output.url = {url:?} is not mounted; mount options are for nfs://, cifs:// and sftp://");
        }
        if mo.chars().any(|c| c.is_whitespace()) {
            bail!("output.mount_options = {mo:?}: options are separated by commas, without spaces");
        }
        Ok(())
    }
}

/// `[layout]`, and the capture flags of `savelayout` and `checklayout`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct Layout {
    /// Leave out file systems mounted at or below this path. Repeatable.
    #[arg(long = "exclude-mountpoint", value_name = "PATH")]
    pub exclude_mountpoints: Vec<String>,
    /// Leave out this LVM volume group. Repeatable.
    #[arg(long = "exclude-vg", value_name = "VG")]
    pub exclude_vgs: Vec<String>,
    /// Take only these LVM volume groups. Repeatable.
    #[arg(long = "only-vg", value_name = "VG")]
    pub only_vgs: Vec<String>,
    /// Leave out this disk and everything on it. Repeatable.
    #[arg(long = "exclude-disk", value_name = "DEV")]
    pub exclude_disks: Vec<String>,
    /// Identifier patterns of disks recovery must never write (REAR-000
    /// always); recover's --protect.
    #[arg(skip)]
    pub protect: Vec<String>,
}

impl Layout {
    fn with(&self, flags: &Layout) -> Layout {
        Layout {
            exclude_mountpoints: join(&self.exclude_mountpoints, &flags.exclude_mountpoints),
            exclude_vgs: join(&self.exclude_vgs, &flags.exclude_vgs),
            only_vgs: join(&self.only_vgs, &flags.only_vgs),
            exclude_disks: join(&self.exclude_disks, &flags.exclude_disks),
            protect: join(&self.protect, &flags.protect),
        }
    }

    /// What capture leaves out.
    pub fn capture_options(&self) -> rear_layout::capture::Options {
        rear_layout::capture::Options {
            exclude_mountpoints: self.exclude_mountpoints.clone(),
            exclude_vgs: self.exclude_vgs.clone(),
            only_vgs: self.only_vgs.clone(),
            exclude_disks: self.exclude_disks.clone(),
        }
    }
}

/// The settings given on the command line, by group (`Default`: none).
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub image: Image,
    pub layout: Layout,
    pub obdr: Obdr,
    pub pxe: Pxe,
    pub output: Output,
    pub sign: Sign,
}

/// Overlays `top` on `base`: tables merge key by key, anything else is replaced.
fn merge(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Table(b), Value::Table(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, t) => *b = t,
    }
}

/// The files that make up the configuration in `dir`, in the order they apply.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let main = dir.join("config.toml");
    if main.is_file() {
        out.push(main);
    }
    let d = dir.join("conf.d");
    if d.is_dir() {
        let mut extra: Vec<PathBuf> = std::fs::read_dir(&d)
            .with_context(|| format!("list {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        extra.sort();
        out.extend(extra);
    }
    Ok(out)
}

/// Loads the layered configuration from `dir`; a missing directory is
/// fine (defaults), a broken file is an error naming it.
/// Where a loaded configuration file goes in the rescue image: the same
/// name below the default directory.
pub fn image_path(f: &Path) -> String {
    let name = f.file_name().unwrap_or_default().to_string_lossy();
    if f.parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "conf.d")
    {
        format!("{DEFAULT_DIR}/conf.d/{name}")
    } else {
        format!("{DEFAULT_DIR}/config.toml")
    }
}

pub fn load(dir: &Path) -> Result<(Config, Vec<PathBuf>)> {
    let l = load_all(dir, None)?;
    Ok((l.config, l.files))
}

/// A loaded configuration, and where each setting came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    /// rear-build's own files, in the order they apply.
    pub files: Vec<PathBuf>,
    /// `backup.url` → `/etc/rear-build/config.toml:4`, or the ReaR file,
    /// line and variable; a setting not here is a default.
    pub origins: std::collections::BTreeMap<String, String>,
}

/// rear-build's files in `dir`, then (when called as `rear`) ReaR's
/// configuration mapped, each over the one before.
pub fn load_all(dir: &Path, rear: Option<&rear_rearconf::Import>) -> Result<Loaded> {
    let mut value = Value::try_from(Config::builtin()).expect("defaults serialize");
    let files = files(dir)?;
    let mut origins = std::collections::BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).with_context(|| format!("read {}", f.display()))?;
        let name = f.display().to_string();
        layer(&mut value, &text, &name)?;
        for (key, line) in key_lines(&text) {
            origins.insert(key, format!("{name}:{line}"));
        }
    }
    if let Some(r) = rear {
        merge(&mut value, Value::Table(r.table.clone()));
        check(&value).context("ReaR's configuration, as rear-build reads it (rear-build config import-rear shows how)")?;
        for (key, from) in &r.origins {
            let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
            let from = match from.is_empty() {
                true => "ReaR's default".to_string(),
                false => from.join(", "),
            };
            origins.insert(key.clone(), from);
        }
    }
    let config = Config::deserialize(value).context("the merged configuration is not valid")?;
    Ok(Loaded {
        config,
        files,
        origins,
    })
}

/// Whether `table` loads as one more layer over the defaults.
pub fn check_table(table: &toml::Table) -> Result<()> {
    let mut value = Value::try_from(Config::builtin()).expect("defaults serialize");
    merge(&mut value, Value::Table(table.clone()));
    check(&value)
}

fn check(value: &Value) -> Result<()> {
    Config::deserialize(value.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .and_then(|c| c.validate())
}

/// Each setting of a TOML text (`image.media`) and the line it is on.
fn key_lines(text: &str) -> Vec<(String, usize)> {
    fn walk(t: &toml_edit::Table, path: &str, text: &str, out: &mut Vec<(String, usize)>) {
        for (k, item) in t.iter() {
            let key = match path {
                "" => k.to_string(),
                p => format!("{p}.{k}"),
            };
            match item {
                toml_edit::Item::Table(sub) => walk(sub, &key, text, out),
                toml_edit::Item::Value(toml_edit::Value::InlineTable(sub)) => {
                    walk(&sub.clone().into_table(), &key, text, out)
                }
                _ => {
                    let at = t
                        .key(k)
                        .and_then(|k| k.span())
                        .or_else(|| item.span())
                        .map_or(0, |r| r.start);
                    out.push((key, text[..at.min(text.len())].matches('\n').count() + 1));
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(doc) = text.parse::<toml_edit::ImDocument<String>>() {
        walk(doc.as_table(), "", text, &mut out);
    }
    out
}

/// The configuration `value` with one file's text over it; errors name
/// the file (`origin`).
fn layer(value: &mut Value, text: &str, origin: &str) -> Result<()> {
    let layer: Value = toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    // Check after each layer, so an error names the file it is in.
    merge(value, layer);
    check(value).with_context(|| origin.to_string())
}

impl Backup {
    fn validate(&self) -> Result<()> {
        let method = self.method;
        let ext = &self.external;
        if method != Method::External && (!ext.backup.is_empty() || !ext.restore.is_empty()) {
            bail!("backup.external is set, but backup.method = \"{method}\": set method = \"external\" to use it");
        }
        for (k, cmd) in [("backup", &ext.backup), ("restore", &ext.restore)] {
            if cmd.first().is_some_and(|p| !p.starts_with('/')) {
                bail!(
                    "backup.external.{k} = {cmd:?}: the program must be an absolute path (the rescue system's PATH is not the machine's)"
                );
            }
        }
        if !method.is_backend() {
            return Ok(());
        }
        let target = rear_backup::Target::parse_for(method, &self.url)
            .with_context(|| format!("backup.url = {:?}", self.url))?;
        let mo = &self.mount_options;
        if let Some(what) = rear_exec::secret_option(mo) {
            bail!(
                "backup.mount_options = {:?}: a {what} here would be copied into the rescue image and the logs; put it in a credentials file (credentials=/etc/rear-build/cifs.cred, mode 0600, with username= and password= lines)",
                rear_exec::redact(mo, &[])
            );
        }
        if !mo.is_empty() && !target.is_mounted(method) {
            bail!("backup.mount_options = {mo:?}: backup.url = {:?} is not mounted; mount options are for usb://, nfs://, cifs:// and (with tar) sftp://", self.url);
        }
        if mo.chars().any(|c| c.is_whitespace()) {
            bail!("backup.mount_options = {mo:?}: options are separated by commas, without spaces");
        }
        let pf = &self.passphrase_file;
        if !pf.is_empty() {
            // A passphrase that tar or rsync would silently ignore would
            // make a reader believe the backup is encrypted.
            if !method.has_passphrase() {
                bail!(
                    "backup.passphrase_file = {pf:?}: only borg and restic use a passphrase; method \"{method}\" stores files unencrypted"
                );
            }
            if !pf.starts_with('/') {
                bail!("backup.passphrase_file = {pf:?}: allowed is an absolute path");
            }
        }
        for (key, v) in [
            ("recipients_file", &self.recipients_file),
            ("identity_file", &self.identity_file),
        ] {
            if v.is_empty() {
                continue;
            }
            if method != Method::Tar {
                bail!("backup.{key} = {v:?}: age encryption is for method \"tar\" (borg and restic encrypt with backup.passphrase_file; rsync stores files as they are)");
            }
            if !v.starts_with('/') {
                bail!("backup.{key} = {v:?}: allowed is an absolute path");
            }
        }
        if self.recipients_file.is_empty() && !self.identity_file.is_empty() {
            bail!("backup.identity_file = {:?} without backup.recipients_file: set both (the recipients to encrypt to, the identity to restore)", self.identity_file);
        }
        Ok(())
    }
}

impl Backup {
    /// The age encryption of tar backups, when configured.
    pub fn age(&self) -> Option<rear_backup::age::Age> {
        (!self.recipients_file.is_empty()).then(|| rear_backup::age::Age {
            recipients: self.recipients_file.clone().into(),
            identity: (!self.identity_file.is_empty()).then(|| self.identity_file.clone().into()),
        })
    }
}

impl Config {
    /// The built-in defaults, which the files override.
    pub fn builtin() -> Config {
        Config {
            image: Image::builtin(),
            ..Config::default()
        }
    }

    /// The settings a command runs with: each group's flags over what the
    /// configuration files say (the one place they meet).
    pub fn with(&self, flags: &Flags) -> Config {
        Config {
            image: self.image.with(&flags.image),
            layout: self.layout.with(&flags.layout),
            backup: self.backup.clone(),
            usb: self.usb.clone(),
            obdr: Obdr {
                device: flags
                    .obdr
                    .device
                    .clone()
                    .or(self.obdr.device.clone())
                    .filter(|d| !d.as_os_str().is_empty()),
            },
            pxe: Pxe {
                root: flags.pxe.root.clone().or(self.pxe.root.clone()),
                world_readable: self.pxe.world_readable,
            },
            output: self.output.with(&flags.output),
            sign: Sign {
                key: flags.sign.key.clone().or(self.sign.key.clone()),
                password_file: flags
                    .sign
                    .password_file
                    .clone()
                    .or(self.sign.password_file.clone()),
            },
            trust: self.trust.clone(),
            oci: self.oci.clone(),
            recover: self.recover.clone(),
        }
    }

    fn validate(&self) -> Result<()> {
        self.backup.validate()?;
        let ps = &self.recover.post_script;
        if !ps.is_empty() && !ps.starts_with('/') {
            bail!("recover.post_script = {ps:?}: the program must be an absolute path (the rescue system's PATH is not the machine's)");
        }
        if self.usb.keep == 0 {
            bail!("usb.keep = 0: keep at least the generation just written (1 or more)");
        }
        self.output.validate()?;
        if let Some(r) = self.pxe.root().filter(|r| !r.is_absolute()) {
            bail!(
                "pxe.root = {:?}: allowed is an absolute path (the TFTP or HTTP server's root)",
                r.display().to_string()
            );
        }
        match (self.image.compression, self.image.compress_level) {
            (Some(a), Some(l)) => rear_builder::compress::check_level(a, l, "image.compress_level")
                .context("set by image.compression")?,
            // The algorithm is chosen with the kernel; the build checks
            // the level against it.
            (None, Some(l)) if !(0..=19).contains(&l) => bail!(
                "image.compress_level = {l}: allowed are zstd 1 to 19, xz 0 to 9, gzip 1 to 9"
            ),
            _ => {}
        }
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("configs serialize")
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn no_directory_means_defaults() {
        let (c, used) = load(Path::new("/nonexistent/rear-build")).unwrap();
        assert_eq!(c, Config::builtin());
        assert!(used.is_empty());
    }

    #[test]
    fn layers_override_key_by_key_in_order() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join("config.toml"),
            "[image]\nmodules = \"all\"\ncompress_level = 9\n",
        )
        .unwrap();
        fs::create_dir(d.path().join("conf.d")).unwrap();
        fs::write(
            d.path().join("conf.d/20-site.toml"),
            "[image]\ncompress_level = 5\n",
        )
        .unwrap();
        fs::write(
            d.path().join("conf.d/10-first.toml"),
            "[layout]\nprotect = [\"WWN-1*\"]\n[image]\ncompress_level = 7\n",
        )
        .unwrap();
        fs::write(d.path().join("conf.d/ignored.txt"), "not toml").unwrap();
        let (c, used) = load(d.path()).unwrap();
        assert_eq!(c.image.modules().name(), "all");
        assert_eq!(
            c.image.compress_level(),
            Some(5),
            "conf.d files apply in name order, after config.toml"
        );
        assert_eq!(c.layout.protect, ["WWN-1*"]);
        assert_eq!(
            c.image.output(),
            PathBuf::from("/var/lib/rear-build/output")
        );
        assert_eq!(used.len(), 3);
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("config.toml"), "[image]\nmodulez = \"all\"\n").unwrap();
        let msg = format!("{:#}", load(d.path()).unwrap_err());
        assert!(
            msg.contains("config.toml") && msg.contains("modulez") && msg.contains("modules"),
            "{msg}"
        );

        fs::write(
            d.path().join("config.toml"),
            "[image]\ncompress_level = \"high\"\n",
        )
        .unwrap();
        let msg = format!("{:#}", load(d.path()).unwrap_err());
        assert!(
            msg.contains("config.toml") && msg.contains("compress_level"),
            "{msg}"
        );

        fs::write(
            d.path().join("config.toml"),
            "[image]\nmodules = \"some\"\n",
        )
        .unwrap();
        let msg = format!("{:#}", load(d.path()).unwrap_err());
        assert!(
            msg.contains("allowed are \"most\", \"all\", \"loaded\""),
            "{msg}"
        );
    }

    #[test]
    fn compression_and_its_level_per_algorithm() {
        let d = tempfile::tempdir().unwrap();
        let load_with = |text: &str| {
            fs::write(d.path().join("config.toml"), text).unwrap();
            load(d.path()).map(|c| c.0.image)
        };
        let i = load_with("").unwrap();
        assert_eq!(
            (i.compression(), i.compress_level()),
            (None, None),
            "by the kernel"
        );
        let i = load_with("[image]\ncompression = \"xz\"\ncompress_level = 0\n").unwrap();
        assert_eq!(
            (i.compression(), i.compress_level()),
            (Some(Algorithm::Xz), Some(0))
        );
        for (text, want) in [
            (
                "compression = \"xz\"\ncompress_level = 12",
                "image.compress_level = 12: allowed for xz are 0 to 9",
            ),
            (
                "compression = \"gzip\"\ncompress_level = 0",
                "image.compress_level = 0: allowed for gzip are 1 to 9",
            ),
            (
                "compression = \"zstd\"\ncompress_level = 0",
                "image.compress_level = 0: allowed for zstd are 1 to 19",
            ),
            (
                "compress_level = 20",
                "image.compress_level = 20: allowed are zstd 1 to 19, xz 0 to 9, gzip 1 to 9",
            ),
            (
                "compression = \"lz4\"",
                "\"lz4\": allowed are \"zstd\", \"xz\", \"gzip\"",
            ),
        ] {
            let msg = format!(
                "{:#}",
                load_with(&format!("[image]\n{text}\n")).unwrap_err()
            );
            assert!(
                msg.contains(want) && msg.contains("config.toml"),
                "{text}: {msg}"
            );
        }
        // The flag goes over the file; its level too.
        let file = load_with("[image]\ncompression = \"xz\"\ncompress_level = 9\n").unwrap();
        let flags = Image {
            compression: Some(Algorithm::Gzip),
            ..Image::default()
        };
        let i = file.with(&flags);
        assert_eq!(
            (i.compression(), i.compress_level()),
            (Some(Algorithm::Gzip), Some(9))
        );
    }

    #[test]
    fn backup_methods_and_their_urls() {
        let d = tempfile::tempdir().unwrap();
        let load_with = |text: &str| {
            fs::write(d.path().join("config.toml"), text).unwrap();
            load(d.path()).map(|c| c.0.backup)
        };
        for (method, url) in [
            ("tar", "file:///srv/backup"),
            ("rsync", "rsync://backup/rear/web1"),
            ("rsync", "bk@backup:/srv/rear"),
            ("borg", "ssh://bk@backup:2222/srv/borg"),
            ("restic", "sftp://backup/srv/restic"),
            ("restic", "usb://REAR-000"),
            ("tar", "nfs://nas/export/rear"),
            ("tar", "sftp://bk@nas/srv/rear"),
            ("rsync", "cifs://nas/backup"),
        ] {
            let b = load_with(&format!(
                "[backup]\nmethod = \"{method}\"\nurl = \"{url}\"\n"
            ))
            .unwrap_or_else(|e| panic!("{method} {url}: {e:#}"));
            assert_eq!((b.method.name(), b.url.as_str()), (method, url));
        }
        let b = load_with(
            "[backup]\nurl = \"cifs://nas/b\"\nmount_options = \"credentials=/etc/c,vers=3.0\"\n",
        )
        .unwrap();
        assert_eq!(b.mount_options, "credentials=/etc/c,vers=3.0");
        let b = load_with("[backup]\nmethod = \"borg\"\nurl = \"file:///b\"\npassphrase_file = \"/etc/rear-build/borg.pass\"\n").unwrap();
        assert_eq!(b.passphrase_file, "/etc/rear-build/borg.pass");
        let b = load_with("[backup]\nurl = \"file:///b\"\nrecipients_file = \"/etc/rear-build/backup.age.pub\"\nidentity_file = \"/media/key/backup.age\"\n").unwrap();
        let age = b.age().unwrap();
        assert_eq!(age.recipients, Path::new("/etc/rear-build/backup.age.pub"));
        assert_eq!(
            age.identity.as_deref(),
            Some(Path::new("/media/key/backup.age"))
        );

        for (text, says) in [
            ("method = \"bacula\"", "backup.method = \"bacula\": allowed are \"tar\", \"rsync\", \"borg\", \"restic\", \"external\" and \"none\""),
            ("method = \"tar\"\n[backup.external]\nrestore = [\"/x\"]", "backup.external is set, but backup.method = \"tar\""),
            ("method = \"external\"\n[backup.external]\nrestore = [\"bconsole\"]", "backup.external.restore = [\"bconsole\"]: the program must be an absolute path"),
            ("method = \"borg\"\nurl = \"rsync://h/m\"", "backup.url = \"rsync://h/m\": not a place for method \"borg\"; it takes file:///DIR, usb://LABEL, nfs://"),
            ("method = \"tar\"\nurl = \"ssh://h/d\"", "it takes file:///DIR, usb://LABEL"),
            ("method = \"restic\"\nurl = \"sftp://h\"", "needs the directory on the host"),
            ("method = \"rsync\"\nurl = \"file:///b\"\npassphrase_file = \"/p\"", "backup.passphrase_file = \"/p\": only borg and restic"),
            ("method = \"borg\"\nurl = \"file:///b\"\npassphrase_file = \"p\"", "allowed is an absolute path"),
            ("passphrase = \"secret\"", "unknown field `passphrase`"),
            ("method = \"rsync\"\nurl = \"file:///b\"\nrecipients_file = \"/r\"", "backup.recipients_file = \"/r\": age encryption is for method \"tar\""),
            ("recipients_file = \"r.pub\"", "backup.recipients_file = \"r.pub\": allowed is an absolute path"),
            ("identity_file = \"/k\"", "backup.identity_file = \"/k\" without backup.recipients_file"),
            ("method = \"restic\"\nurl = \"sftp://h/d\"\nmount_options = \"x\"", "backup.mount_options = \"x\": backup.url = \"sftp://h/d\" is not mounted"),
            ("url = \"nfs://h/d\"\nmount_options = \"vers=4, soft\"", "separated by commas, without spaces"),
            ("url = \"cifs://h/s\"\nmount_options = \"username=bk,password=hunter2\"", "\"username=bk,password=***\": a password here"),
        ] {
            let msg = format!("{:#}", load_with(&format!("[backup]\n{text}\n")).unwrap_err());
            assert!(msg.contains("config.toml") && msg.contains(says), "{text}: {msg}");
        }
        // The password itself is in no message.
        let msg = format!(
            "{:#}",
            load_with("[backup]\nurl = \"cifs://h/s\"\nmount_options = \"pass=hunter2\"\n")
                .unwrap_err()
        );
        assert!(
            msg.contains("credentials file") && !msg.contains("hunter2"),
            "{msg}"
        );
        let b = load_with("[backup]\nmethod = \"external\"\n[backup.external]\nrestore = [\"/opt/client/restore\", \"--to\", \"{root}\"]\n").unwrap();
        assert_eq!(b.external.restore[2], "{root}");
        // No backup: the url is not looked at.
        let b = load_with("[backup]\nmethod = \"none\"\nurl = \"whatever\"\n").unwrap();
        assert_eq!(b.method.name(), "none");
    }

    #[test]
    fn flags_go_over_the_files_and_lists_add_up() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join("config.toml"),
            "[image]\nmodules = \"all\"\ncompress_level = 9\nadd_modules = [\"a\"]\n[layout]\nexclude_vgs = [\"vg1\"]\nprotect = [\"p1\"]\n",
        )
        .unwrap();
        let (files, _) = load(d.path()).unwrap();
        assert_eq!(
            files.with(&Flags::default()),
            files,
            "no flag changes nothing"
        );
        let flags = Flags {
            image: Image {
                modules: Some(PolicyKind::Loaded),
                add_modules: vec!["b".into()],
                output: Some("/o".into()),
                ..Image::default()
            },
            layout: Layout {
                exclude_vgs: vec!["vg2".into()],
                protect: vec!["p2".into()],
                ..Layout::default()
            },
            obdr: Obdr {
                device: Some("/dev/nst1".into()),
            },
            pxe: Pxe {
                root: Some("/srv/tftp".into()),
                ..Pxe::default()
            },
            output: Output {
                url: Some("file:///flag".into()),
                ..Output::default()
            },
            sign: Sign {
                key: Some("/k.key".into()),
                password_file: None,
            },
        };
        let c = files.with(&flags);
        assert_eq!(c.obdr.device, Some(PathBuf::from("/dev/nst1")));
        assert_eq!(c.sign.key, Some(PathBuf::from("/k.key")));
        assert_eq!(c.pxe.root(), Some(Path::new("/srv/tftp")));
        assert_eq!(c.image.modules(), PolicyKind::Loaded);
        assert_eq!(c.image.compress_level(), Some(9), "from the file");
        assert_eq!(c.image.add_modules, ["a", "b"]);
        assert_eq!(c.image.output(), PathBuf::from("/o"));
        assert_eq!(
            c.image.firmware_dir(),
            PathBuf::from("/lib/firmware"),
            "the default"
        );
        assert_eq!(c.layout.exclude_vgs, ["vg1", "vg2"]);
        assert_eq!(c.layout.protect, ["p1", "p2"]);
        assert_eq!(
            c.output.url(),
            Some("file:///flag"),
            "--push over the files"
        );
    }

    #[test]
    fn output_settings_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let load_with = |text: &str| {
            fs::write(d.path().join("config.toml"), text).unwrap();
            load(d.path()).map(|c| c.0.output)
        };
        let o = load_with("[output]\nurl = \"https://dav.example/rear\"\ncredentials_file = \"/etc/rear-build/push.cred\"\nca_file = \"/etc/rear-build/ca.pem\"\n").unwrap();
        assert_eq!(o.url(), Some("https://dav.example/rear"));
        let o =
            load_with("[output]\nurl = \"nfs://nas/export\"\nmount_options = \"nfsvers=4.2\"\n")
                .unwrap();
        assert_eq!(o.mount_options, "nfsvers=4.2");
        assert_eq!(load_with("").unwrap().url(), None);
        for (text, says) in [
            ("url = \"https://bk:hunter2@dav/x\"", "output.url = \"https://bk:***@dav/x\": an https url carries no user name or password"),
            ("url = \"ftp://h/x\"", "not a place to push to"),
            ("url = \"file:///x\"\ncredentials_file = \"/c\"", "output.credentials_file = \"/c\": only an https:// output.url"),
            ("url = \"https://h/x\"\nca_file = \"ca.pem\"", "allowed is an absolute path"),
            ("url = \"https://h/x\"\nmount_options = \"vers=4\"", "is not mounted"),
            ("url = \"cifs://h/s\"\nmount_options = \"password=hunter2\"", "a password here"),
            ("password = \"hunter2\"", "unknown field `password`"),
        ] {
            let msg = format!("{:#}", load_with(&format!("[output]\n{text}\n")).unwrap_err());
            assert!(msg.contains("config.toml") && msg.contains(says) && !msg.contains("hunter2"), "{text}: {msg}");
        }
    }

    #[test]
    fn pxe_settings_and_the_flag() {
        let d = tempfile::tempdir().unwrap();
        let load_with = |text: &str| {
            fs::write(d.path().join("config.toml"), text).unwrap();
            load(d.path()).map(|c| c.0)
        };
        let c = load_with("").unwrap();
        assert_eq!(c.pxe.root(), None);
        assert_eq!(c.pxe.access(), rear_builder::media::pxe::Access::Group);
        let c = load_with("[pxe]\nroot = \"\"\n").unwrap();
        assert_eq!(c.pxe.root(), None, "empty: none");
        let c = load_with("[pxe]\nroot = \"/srv/tftp\"\nworld_readable = true\n").unwrap();
        assert_eq!(c.pxe.root(), Some(Path::new("/srv/tftp")));
        assert_eq!(c.pxe.access(), rear_builder::media::pxe::Access::World);
        // The flag goes over the file; world_readable is the file's alone.
        let flags = Flags {
            pxe: Pxe {
                root: Some("/var/www/boot".into()),
                ..Pxe::default()
            },
            ..Flags::default()
        };
        let w = c.with(&flags);
        assert_eq!(w.pxe.root(), Some(Path::new("/var/www/boot")));
        assert!(w.pxe.world_readable);
        let msg = format!("{:#}", load_with("[pxe]\nroot = \"tftp\"\n").unwrap_err());
        assert!(
            msg.contains("config.toml")
                && msg.contains("pxe.root = \"tftp\": allowed is an absolute path"),
            "{msg}"
        );
        let msg = format!(
            "{:#}",
            load_with("[pxe]\nworld_readable = \"yes\"\n").unwrap_err()
        );
        assert!(msg.contains("world_readable"), "{msg}");
    }

    #[test]
    fn dump_round_trips() {
        let c = Config::builtin();
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }
}
