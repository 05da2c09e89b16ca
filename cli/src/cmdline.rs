//! The command line: clap types only. Each settings group (`config::Image`,
//! `config::Layout`) is declared once, in config.rs, and flattened in here;
//! the commands' bodies are in `commands`, `layoutcmd`, `backupcmd` and
//! `workflows`.

use crate::config;
use crate::layoutcmd::RecoverArgs;
use crate::paths;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const ABOUT: &str = "Relax-and-Recover rebuilt as a reproducible rescue image builder";

const LONG_ABOUT: &str = "\
Relax-and-Recover rebuilt as a reproducible rescue image builder.

rear-build makes a rescue system from this machine's own kernel and tools:
every program with the libraries it needs, the kernel modules and firmware
for storage, network and input, and rear-build itself as the rescue
system's init. Files are kept in a content-addressed store, so a rebuild
only redoes what changed, and the same inputs always give the same bytes.

Typical use:
  rear-build image                       build vmlinuz + initrd.img + manifest.json
  rear-build savelayout                  capture the disks' layout
  rear-build checklayout || rear-build image   rebuild when the disks changed
  rear-build recover --layout-only       in the rescue system: recreate the disks
  rear-build closure /usr/sbin/lvm       what a program needs, one path a line
  rear-build store verify                re-hash the store, report corruption";

#[derive(Parser, Debug)]
#[command(name = "rear-build", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// The configuration directory (config.toml and conf.d/*.toml).
    #[arg(short = 'c', long = "config-dir", global = true, value_name = "DIR", default_value = config::DEFAULT_DIR, env = "REAR_BUILD_CONFIG_DIR")]
    pub config_dir: PathBuf,
    /// Also read ReaR's configuration in DIR (site.conf, then local.conf)
    /// over rear-build's own, as the `rear` command does; nothing when
    /// DIR holds neither (rear-build-check.service passes /etc/rear).
    #[arg(long, global = true, value_name = "DIR")]
    pub rear_config: Option<PathBuf>,
    /// The content-addressed store of files and built layers (default: image.store of the configuration, /var/lib/rear-build/store).
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// More output (-v: each stage's time and cache use; -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Debug output: every external command line and its stderr.
    #[arg(short = 'd', long, global = true)]
    pub debug: bool,
    /// Trace output (more than debug).
    #[arg(short = 'D', long, global = true)]
    pub trace: bool,
    /// The log of this run, with every external command and its outcome (default: /var/log/rear-build/rear-build-HOST.log; `none` for no log).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the rescue image: vmlinuz, initrd.img and manifest.json.
    #[command(visible_alias = "mkrescue", long_about = IMAGE_HELP)]
    Image(ImageArgs),
    /// Print every host path FILES need (libraries, interpreter, symlinks), sorted.
    #[command(long_about = CLOSURE_HELP)]
    Closure {
        /// Programs, libraries or scripts (absolute paths or names found in PATH).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Inspect and maintain the store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Print the effective configuration (and the files it came from) and this system's facts.
    Dump,
    /// Back up the file systems of the saved layout to [backup] url (tar by default).
    Mkbackuponly {
        /// The saved layout whose mounted file systems are backed up.
        #[arg(long, value_name = "FILE", default_value = paths::LAYOUT)]
        layout: PathBuf,
    },
    /// Capture the layout, build the rescue image, and back up the file systems.
    Mkbackup(ImageArgs),
    /// In the rescue system: restore the backup into the recreated file systems and verify every file.
    Restoreonly {
        /// Where the recreated file systems are mounted.
        #[arg(long, value_name = "DIR", default_value = crate::paths::RECOVER_ROOT)]
        root: PathBuf,
    },
    /// Capture the storage layout (disks, partitions, RAID, LUKS, LVM, file systems, mounts).
    Savelayout {
        /// Where to write it.
        #[arg(short, long, value_name = "FILE", default_value = paths::LAYOUT)]
        output: PathBuf,
        #[command(flatten)]
        capture: config::Layout,
    },
    /// Exit 0 when the disks match the saved layout, 1 when they changed (with the differences), 2 on error.
    Checklayout {
        /// The saved layout.
        #[arg(long, value_name = "FILE", default_value = paths::LAYOUT)]
        layout: PathBuf,
        #[command(flatten)]
        capture: config::Layout,
    },
    /// Show or convert saved layouts.
    #[command(subcommand)]
    Layout(LayoutCommand),
    /// In the rescue system: recreate the disks from the saved layout, restore the backup into them and verify it.
    #[command(long_about = RECOVER_HELP)]
    Recover(RecoverArgs),
    /// Same as `recover --layout-only`.
    Layoutonly(RecoverArgs),
    /// Make DEVICE a rescue disk for `image --media usb` (erases it).
    #[command(long_about = FORMAT_HELP)]
    Format {
        /// The whole disk (/dev/sdX), or a disk image file.
        #[arg(value_name = "DEVICE")]
        device: PathBuf,
        /// Do not ask; erase it.
        #[arg(long)]
        yes: bool,
        /// Also erase a disk that holds file systems other than a rescue
        /// disk's, or is not removable. Never a mounted or busy disk, nor
        /// the one the running system is on.
        #[arg(long)]
        force: bool,
    },
    /// Make a key pair for signing images: BASE.key (secret, encrypted) and BASE.pub.
    #[command(long_about = KEYGEN_HELP)]
    Keygen {
        /// Where the keys go: BASE.key and BASE.pub (never overwritten).
        #[arg(short, long, value_name = "BASE")]
        output: PathBuf,
        /// The file whose first line is the password the secret key is
        /// encrypted with (mode 0600); default: asked on the terminal.
        #[arg(long, value_name = "FILE", conflicts_with = "unencrypted")]
        password_file: Option<PathBuf>,
        /// Store the secret key unencrypted (for a CI secret store, which
        /// protects it itself).
        #[arg(long)]
        unencrypted: bool,
    },
    /// Sign a build's results: manifest.json.minisig, SHA256SUMS, SHA256SUMS.minisig.
    #[command(long_about = SIGN_HELP)]
    Sign {
        /// The minisign secret key (rear-build keygen's BASE.key, or minisign -G's).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The file whose first line is the key's password; default: asked
        /// on the terminal when the key is encrypted.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The output directory (default: image.output).
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check a build's results against its signed manifest: exit 0 when all holds, 1 when not, 2 on error.
    #[command(long_about = VERIFY_HELP)]
    Verify {
        /// The minisign public key to trust (default: trust.pubkey).
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
        /// An output directory, a rescue disk's generation (rear/HOST/GEN),
        /// or one artefact in one (rescue.iso, initrd.img, ...).
        #[arg(value_name = "DIR|ARTEFACT")]
        target: PathBuf,
        /// Accept an image older (by SOURCE_DATE_EPOCH) than the newest of
        /// its host verified before with the same key.
        #[arg(long)]
        allow_downgrade: bool,
    },
    /// Store an image in an OCI registry; only the blobs it lacks are sent.
    #[command(long_about = PUSH_HELP)]
    Push {
        /// Where: oci://REGISTRY/REPO[:TAG] (without a tag, by digest only).
        #[arg(value_name = "oci://REGISTRY/REPO[:TAG]")]
        target: String,
        /// The output directory (default: image.output).
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        registry: config::Oci,
    },
    /// Fetch an image from an OCI registry into a new directory, every blob and artefact checked.
    #[command(long_about = PULL_HELP)]
    Pull {
        /// Which: oci://REGISTRY/REPO@sha256:DIGEST (pinned), or :TAG.
        #[arg(value_name = "oci://REGISTRY/REPO@sha256:DIGEST")]
        target: String,
        /// The directory to write (new, or empty).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Verify with this minisign public key before anything is written,
        /// as `verify` does (default: trust.pubkey; without either, every
        /// artefact is checked against manifest.json only).
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
        #[command(flatten)]
        registry: config::Oci,
    },
    /// What changed between two images: exit 0 same, 1 different, 2 error.
    #[command(long_about = DIFF_HELP)]
    Diff {
        /// An output directory, a manifest.json, or an initrd or ISO.
        #[arg(value_name = "A")]
        a: PathBuf,
        #[arg(value_name = "B")]
        b: PathBuf,
        /// Print the differences as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read an OBDR tape image (rescue.tap), take its ISO out, or put it on a tape drive.
    #[command(subcommand)]
    Tape(TapeCommand),
    /// Work with configurations: ReaR's imported.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Mount the file systems of the saved layout (assembling md, opening LUKS, activating LVM) for repair; nothing is created or changed.
    #[command(long_about = MOUNTONLY_HELP)]
    Mountonly {
        /// The saved layout.
        #[arg(long, value_name = "FILE", default_value = paths::LAYOUT)]
        layout: PathBuf,
        /// Where the root file system goes; the others below it.
        #[arg(long, value_name = "DIR", default_value = crate::paths::RECOVER_ROOT)]
        root: PathBuf,
        /// Mount every file system read-only.
        #[arg(long)]
        read_only: bool,
    },
    /// Write a partition table (GPT or MBR) read from an sfdisk-style script on stdin, or print a disk's table as one (--dump).
    #[command(long_about = PARTITION_TABLE_HELP)]
    PartitionTable {
        /// The disk (or disk image file).
        #[arg(value_name = "DEVICE")]
        device: PathBuf,
        /// Print the table on DEVICE as a script instead of writing one.
        #[arg(long)]
        dump: bool,
    },
    /// Write the man pages (man) or a shell's completions (bash, zsh, fish) into DIR, for packaging.
    #[command(hide = true)]
    Generate {
        #[arg(value_parser = ["man", "bash", "zsh", "fish"])]
        what: String,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print (or write) ReaR's site.conf and local.conf as rear-build's configuration.
    #[command(long_about = IMPORT_REAR_HELP)]
    ImportRear {
        /// ReaR's configuration directory.
        #[arg(value_name = "DIR", default_value = crate::rearcmd::REAR_DIR)]
        dir: PathBuf,
        /// Write it to FILE (new; for instance /etc/rear-build/conf.d/50-rear.toml) instead of printing it.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Skip statements that are not plain assignments (if, for,
        /// case, functions, commands), with a warning naming file and
        /// line, instead of refusing the file.
        #[arg(long)]
        lenient: bool,
    },
}

const IMPORT_REAR_HELP: &str = "\
Read ReaR's configuration (site.conf, then local.conf, in DIR) as data and
print the rear-build configuration that does the same: OUTPUT and
OUTPUT_URL become image.media and output.url, BACKUP and BACKUP_URL
backup.method and backup.url, EXCLUDE_VG layout.exclude_vgs, and so on.
Each setting names the file, line and variable it came from; every
variable that does not carry over, or only in part, is listed with its file
and line in notes at the end. Nothing in the files is run: a command
substitution, a conditional, a loop, a function or `source` is refused
with its file and line (--lenient skips it with a warning). Passwords and
passphrases are never written: the notes say which file to put them in.
Exit 1 when the result would not load as it stands.

  rear-build config import-rear
  rear-build config import-rear /etc/rear -o /etc/rear-build/conf.d/50-rear.toml
  rear-build config import-rear --lenient /srv/old-rear-configs/web1";

const PARTITION_TABLE_HELP: &str = "\
Write the partition table a script on standard input describes onto
DEVICE, then make the kernel use it: the recovery plan's partitioning
step, so the rescue system needs no partitioning program. The script is
sfdisk's format (the lines `rear-build recover --dry-run` and the -s
script show; `sfdisk DEVICE` takes the same script by hand):

  label: gpt
  label-id: 0a2f1e9c-7a33-4ac6-8d5c-5f5e1f0b8a01
  unit: sectors
  sector-size: 512
  /dev/vda1 : start=2048, size=2048, type=21686148-6449-6e6f-744e-656564454649
  /dev/vda2 : start=4096, size=8380416, type=0fc63daf-8483-4772-8e79-3d69d8477de4, name=\"root\"

GPT (type GUIDs, uuid=, name=, attrs=) and MBR (`label: dos`, hex types,
`bootable`, logical partitions 5 and up inside one extended partition).
What is missing (label-id, uuid) gets a new random value. The disk is
opened exclusively: one in use (mounted, or held by md, LVM or
device-mapper) is refused. The table must fit the disk and its sector
size; nothing is written otherwise. Everything on DEVICE outside the new
partitions' sectors, up to 1 MiB at each end, is zeroed (old tables and
signatures). --dump prints the table on DEVICE in the same form.

  rear-build partition-table --dump /dev/sda
  rear-build partition-table /dev/sdb < sda.table";

const MOUNTONLY_HELP: &str = "\
Mount the file systems of the saved layout below --root (/mnt/local), to
repair a system that does not boot, or to look into one that was just
recovered: md arrays are assembled (mdadm --assemble --scan), LUKS
volumes opened (the passphrase is asked on the terminal), volume groups
activated, then each file system mounted by its UUID, the root first.
Nothing is created, formatted or resized. ReaR's `rear mountonly`.

  rear-build mountonly
  rear-build mountonly --read-only --root /mnt/inspect";

#[derive(Subcommand, Debug)]
pub enum TapeCommand {
    /// List the files of a tape (a SIMH tape image or a drive) and the sizes of their records.
    List {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Copy the ISO of an OBDR tape image (what the drive boots as a CD) to OUT.
    Extract {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(value_name = "OUT")]
        out: PathBuf,
    },
    /// Write a SIMH tape image record by record to a tape drive (st driver), then rewind it.
    Write {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The non-rewinding tape device, such as /dev/nst0. Everything on the tape is overwritten.
        #[arg(long, value_name = "DEVICE")]
        device: PathBuf,
    },
}

const KEYGEN_HELP: &str = "\
Make a key pair for signing rescue images, in minisign's format: BASE.key
(the secret key, mode 0600, encrypted with a password from --password-file
or the terminal, or --unencrypted) and BASE.pub (the public key, to give to
whoever verifies). Existing files are never overwritten. A key made by
`minisign -G` works as well.

  rear-build keygen -o /etc/rear-build/sign
  rear-build keygen -o ci-sign --unencrypted    for a CI secret store";

const SIGN_HELP: &str = "\
Sign a build's output directory: manifest.json.minisig (the signature of
manifest.json, which lists every input, file and artefact with its hashes),
SHA256SUMS over every artefact and the manifest, and SHA256SUMS.minisig.
Every artefact is checked against the manifest first; nothing that differs
is signed. The signatures are in minisign's format (`minisign -Vm
manifest.json -p KEY.pub` checks them) and reproducible: the trusted comment
names the tool's version, the host and SOURCE_DATE_EPOCH, no clock, and
Ed25519 is deterministic. `image --sign KEY` signs as it builds.

  rear-build sign --key /etc/rear-build/sign.key /var/lib/rear-build/output";

const VERIFY_HELP: &str = "\
Check a build's results before trusting them, and report each check: the
signature of manifest.json with the trusted public key, SHA256SUMS and its
signature where present, every artefact's size, sha256 and BLAKE3, then what
is inside: every file in the initrd against the manifest (type, mode, owner,
size, BLAKE3, link target), and the kernel and initrd that the ISO, the raw
disk, the OBDR tape and the PXE tree boot against the image's own, and
the image id against the files listed. An image that verifies is recorded
(trust.state): one of the same host older by SOURCE_DATE_EPOCH than the
newest verified with the same key is a downgrade, refused unless
--allow-downgrade. Exit 0 only when everything holds; 1 names what
differs; 2 when there is nothing to check.

  rear-build verify --pubkey sign.pub /var/lib/rear-build/output
  rear-build verify --pubkey sign.pub /var/lib/rear-build/output/rescue.iso
  rear-build verify /mnt/rear/web1/image-20261204T101500Z    (trust.pubkey)";

const PUSH_HELP: &str = "\
Store a build's output directory in an OCI registry (a Docker registry,
Harbor, Zot, ...) as an OCI artifact: an image manifest (artifactType
application/vnd.rear-build.image.v1) whose config is manifest.json and whose
layers are the kernel, each compressed layer of the initrd and the other artefacts
present (rescue.iso, rescue.img, rescue.tap, the PXE tree's kernel and
initrd), each named by an org.opencontainers.image.title annotation. Every
artefact is checked against manifest.json first. Each blob is asked for
(HEAD) and only those the registry lacks are sent, so hosts on one kernel
share its blob and the base, modules and firmware layers (put them in one
repository, a tag each); how many were sent and found is printed. A
signature (manifest.json.minisig, SHA256SUMS, SHA256SUMS.minisig, from
`sign`) goes as a second artifact whose subject is the image, found through
the referrers API, or under the tag sha256-DIGEST.sig where the registry has
none. The pinned reference (REPO@sha256:DIGEST) is printed on stdout.

Plain http only to localhost, 127.0.0.1 and ::1 unless --insecure; basic
auth from --credentials FILE (first line user:password), never the command
line.

  rear-build push oci://registry.example.org/rescue:web1
  rear-build push --credentials /etc/rear-build/oci.cred oci://reg.example.org/rescue:db1 /srv/out
  rear-build push oci://127.0.0.1:5000/rescue          (stored by digest only, no tag)";

const PULL_HELP: &str = "\
Fetch an image that `push` stored into DIR, which must not exist or be
empty. Name it by digest (REPO@sha256:DIGEST, what push printed): that is
the pinned path, the same bytes whatever happens to tags. A tag (REPO:TAG)
is accepted and the digest it named is printed. Every blob is checked
against its digest, initrd.img is put together from its layers, every
artefact is checked against manifest.json, and with a trusted key
(--pubkey or trust.pubkey) the signature travelling with the image and
every check of `verify` must hold. All of it happens in a temporary
directory beside DIR, renamed to DIR only when everything held: on any
failure nothing is written.

  rear-build pull --pubkey sign.pub oci://reg.example.org/rescue@sha256:3f5c... -o /srv/web1
  rear-build pull oci://127.0.0.1:5000/rescue:web1 -o /tmp/web1     (a tag: not pinned)";

const DIFF_HELP: &str = "\
Show what changed between two rescue images: their inputs (kernel, module
policy, recipes, includes, SOURCE_DATE_EPOCH, compression, host), the
layers whose bytes changed, the files added, removed or changed (size,
content, mode, owner, link target, type) grouped by the Debian package
they belong to with its version on each side, and the kernel modules added
and removed. A and B are output directories or manifests; an initrd or an
ISO is read directly when no manifest is at hand (then only its files are
compared, without packages). Exit 0 when they are the same, 1 when they
differ, 2 on error.

  rear-build diff /srv/images/web1/2026-11 /srv/images/web1/2026-12
  rear-build diff --json old/manifest.json new/manifest.json
  rear-build diff old/rescue.iso new/initrd.img";

const FORMAT_HELP: &str = "\
Make DEVICE a rescue disk (ReaR's `rear format`): a GPT with a BIOS boot
partition, an EFI system partition labelled REAR-EFI and an ext4 partition
labelled REAR-000; GRUB for BIOS and UEFI (Debian's signed shim and GRUB
when installed, so it boots with Secure Boot on) is installed once. Then
`rear-build image --media usb` adds the image as a new generation of this
host (rear/HOST/GEN), keeps usb.keep generations per host, and rewrites one
boot menu listing every host and generation; `mkbackup` with
backup.url = \"usb://REAR-000\" puts its backup there too.

Refused, whatever --force says: a disk that is mounted, used as swap or
held by RAID, LVM or device-mapper, and the disk the running system is on.
Refused without --force: a disk holding file systems that are not a rescue
disk's, and one that is not removable (no USB, no removable flag). DEVICE
may also be a disk image file (at least 512 MiB; make it with truncate).
Asks for YES on the terminal unless --yes.

Example: rear-build format /dev/sdb";

const RECOVER_HELP: &str = "\
In the rescue system: recreate the storage layout saved by `savelayout`,
mount it at /mnt/local, restore the backup ([backup] of the configuration)
into it and check every file against the backup's manifest, then finalize
the restored system: device names in fstab, crypttab, mdadm.conf and boot
configuration follow renamed disks, its initramfs is rebuilt with its own
tool when a device was renamed (--initramfs), and the bootloader it had is
installed again: GRUB on the mapped disks (BIOS), or GRUB, shim or
systemd-boot with a firmware boot entry and the fallback path EFI/BOOT
(UEFI). Any failed step stops with a non-zero exit and names the step; the
log goes into the restored system's /var/log/rear-build either way. For an
unattended recovery of LUKS volumes, put the passphrase in the file
luks-passphrase of the backup's directory.

Disks of the layout are mapped to the disks here by identity (WWN, serial);
a blank disk (no partition table or signature) is also taken by the same
name and size, as the only one of that size, or by the same name when
larger. A disk that holds anything else needs --map OLD=NEW, and so does a
disk the layout left out (the backup medium). Kernel names of SCSI disks
follow the scan order, so either side may name a disk by what stays with
it: NEW as /dev/NAME, /dev/disk/by-id/NAME, /dev/disk/by-path/NAME,
wwn:VALUE or serial:VALUE (a WWN's case and 0x or naa. prefix do not
count); OLD as /dev/NAME, or by the by-id name, WWN or serial the layout
recorded. A name that fits no disk, or two, is an error that lists the
disks. Before anything is written, each mapping is shown with the disk it
resolved to (size, model, serial, WWN, what it holds) and how it was
chosen. Only mapped disks are ever written: every step is checked, through
sysfs, to touch nothing else, and disks that are in use or write-protected
(--protect, and always REAR-000) are refused. A target smaller than the
layout needs, or one on which the logical volumes no longer fit, is
refused before anything is written.

Nor is anything written before the backup is known to be usable: its
manifest is read, and a backup made with another rescue image than the
running one (each backup names the image made with it) is refused, as is,
with trust.pubkey set, one whose manifest is not signed with that key.
--image REF names the image to hold the backup to instead: after booting
another image on purpose, when its layout is the one to recreate. The last partition of a disk
grows or shrinks to fit (or all of them scale, with --proportional).

  rear-build recover --layout-only -s            print the plan as a shell script
  rear-build recover --layout-only               ask, then recreate
  rear-build recover --layout-only --yes --map /dev/sda=/dev/vdb --passphrase-file /root/pass
  rear-build recover --map serial:OLD0=/dev/disk/by-id/wwn-0x5000c500a1b2c3d4

A re-run after a failure skips the steps already done (--restart to redo all).";

impl Command {
    /// Commands that change something (and so write a log); the others only read.
    pub fn does_work(&self) -> bool {
        matches!(
            self,
            Command::Image(_)
                | Command::Mkbackup(_)
                | Command::Mkbackuponly { .. }
                | Command::Restoreonly { .. }
                | Command::Savelayout { .. }
                | Command::Recover(_)
                | Command::Layoutonly(_)
                | Command::Tape(TapeCommand::Write { .. })
                | Command::Mountonly { .. }
        )
    }
}

#[derive(Subcommand, Debug)]
pub enum LayoutCommand {
    /// Print a layout file as a tree.
    Show {
        #[arg(value_name = "FILE", default_value = paths::LAYOUT)]
        file: PathBuf,
    },
    /// Read ReaR's disklayout.conf into a rear-build layout.
    ImportRear {
        #[arg(value_name = "DISKLAYOUT_CONF")]
        input: PathBuf,
        /// Where to write it (default: this machine's saved layout, /var/lib/rear-build/layout.json, only when there is none yet).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

const IMAGE_HELP: &str = "\
Build the rescue image: vmlinuz, initrd.img and manifest.json in --output.

The initrd is four layers, each a deterministic cpio archive compressed
(--compress: zstd when the kernel unpacks it, 5.9 or newer, else gzip; or
xz) and cached in the store: base (programs and libraries from the recipes,
rear-build as /init), modules, firmware and config (hostname, network,
--include files). Boot it with the kernel command line
  rear.auto=shell       a shell on every console (the default)
  rear.auto=run:/PATH   run PATH, print REAR-RUN-EXIT=<code>, power off
  rear.auto=poweroff    power off once ready
The same inputs give the same bytes; SOURCE_DATE_EPOCH sets every file's time.

With --media pxe --pxe-root DIR (or [pxe] root) the network boot tree is
also installed into DIR, a TFTP or HTTP root shared with other hosts: only
this host's files there are replaced, each renamed into place, 0640 with
DIR's group (give DIR the TFTP server's group), 0644 only with [pxe]
world_readable = true, since the initrd may carry secrets:
  rear-build image --media iso,pxe --pxe-root /srv/tftp

With --push URL (or [output] url of the configuration) the results are then
copied into URL/HOST/, the previous ones there replaced only when all
arrived; a failed push leaves them as they were and exits non-zero:
  rear-build image --push file:///srv/rescue
  rear-build image --push https://dav.example/rear     ([output] credentials_file, ca_file)
  rear-build image --push sftp://push@nas/srv/rescue   ([output] mount_options = \"IdentityFile=...\")";

const CLOSURE_HELP: &str = "\
Print every host path FILES need to run, one absolute path a line, sorted:
the files themselves, each symlink and its target, the ELF interpreter and
every library (DT_NEEDED, RUNPATH/RPATH with $ORIGIN, ld.so.conf, .note.dlopen),
and the interpreters of scripts. Exits non-zero, naming the chain, when a
needed library cannot be found.";

#[derive(Args, Debug)]
pub struct ImageArgs {
    /// Kernel version (default: the running kernel, or the newest in /boot).
    #[arg(short = 'r', long = "kernel-version", value_name = "KVER")]
    pub kernel_version: Option<String>,
    /// Kernel image to boot (with --modules-dir for its modules).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Module directory of that kernel (default /lib/modules/KVER).
    #[arg(long, value_name = "DIR")]
    pub modules_dir: Option<PathBuf>,
    /// Leave out the default recipes (rescue, storage, network, backup, rear-build).
    #[arg(long)]
    pub no_default_recipes: bool,
    /// Capture the disks' layout first (savelayout), so the image carries
    /// the current one, as ReaR's mkrescue does; what the daily check runs
    /// when the layout changed.
    #[arg(long)]
    pub save_layout: bool,
    /// The rescue disk for --media usb: a disk made by `rear-build format`,
    /// its image file, or its REAR-000 partition (default: usb.device, else
    /// the partition labelled REAR-000).
    #[arg(long, value_name = "DEVICE")]
    pub usb_device: Option<PathBuf>,
    #[command(flatten)]
    pub settings: config::Image,
    #[command(flatten)]
    pub obdr: config::Obdr,
    #[command(flatten)]
    pub pxe: config::Pxe,
    #[command(flatten)]
    pub push: config::Output,
    #[command(flatten)]
    pub sign: config::Sign,
}

impl Cli {
    /// The settings this command line gives, by group, for `Config::with`.
    pub fn flags(&self) -> config::Flags {
        let mut f = config::Flags::default();
        f.image.store = self.store.clone();
        match &self.command {
            Command::Image(a) | Command::Mkbackup(a) => {
                f.image = config::Image {
                    store: self.store.clone(),
                    ..a.settings.clone()
                };
                f.obdr = a.obdr.clone();
                f.pxe = a.pxe.clone();
                f.output = a.push.clone();
                f.sign = a.sign.clone();
            }
            Command::Savelayout { capture, .. } | Command::Checklayout { capture, .. } => {
                f.layout = capture.clone()
            }
            Command::Recover(a) | Command::Layoutonly(a) => f.layout.protect = a.protect.clone(),
            _ => {}
        }
        f
    }
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Re-hash every object; exit 1 and list the corrupt ones if any.
    Verify,
    /// Remove objects that no kept manifest references.
    Gc,
    /// Write exactly the objects an image needs (and its manifest) to one file.
    Export {
        /// The image's manifest.json.
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        /// The file to write (zstd over cpio; mode 0600).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Put the objects of an export into the store, each checked against its hash.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Make an image's vmlinuz, initrd.img and manifest.json again from the store alone, byte for byte.
    Rebuild {
        /// The image's manifest.json (as `store export` carried it, or any copy).
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        /// Where to write them.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use rear_closure::modules::PolicyKind;

    #[test]
    fn each_command_gives_its_own_settings_groups() {
        let cli = Cli::try_parse_from([
            "rear-build",
            "--store",
            "/s",
            "image",
            "--modules",
            "all",
            "--add-module",
            "x",
            "--recipe",
            "r",
            "-o",
            "/out",
        ])
        .unwrap();
        let f = cli.flags();
        assert_eq!(f.image.modules, Some(PolicyKind::All));
        assert_eq!(f.image.add_modules, ["x"]);
        assert_eq!(f.image.recipes, ["r"]);
        assert_eq!(f.image.output, Some("/out".into()));
        assert_eq!(f.image.store, Some("/s".into()));
        assert_eq!(f.image.compress_level, None, "not given");

        let cli = Cli::try_parse_from(["rear-build", "savelayout", "--exclude-vg", "vg9"]).unwrap();
        assert_eq!(cli.flags().layout.exclude_vgs, ["vg9"]);
        let cli = Cli::try_parse_from(["rear-build", "recover", "--protect", "WWN-1*"]).unwrap();
        assert_eq!(cli.flags().layout.protect, ["WWN-1*"]);
        assert!(Cli::try_parse_from(["rear-build", "image", "--compress-level", "20"]).is_err());
        assert!(Cli::try_parse_from(["rear-build", "image", "--compress", "lz4"]).is_err());
        let cli = Cli::try_parse_from([
            "rear-build",
            "image",
            "--compress",
            "xz",
            "--compress-level",
            "0",
        ])
        .unwrap();
        let f = cli.flags();
        assert_eq!(
            (f.image.compression, f.image.compress_level),
            (Some(rear_builder::compress::Algorithm::Xz), Some(0))
        );
    }
}
