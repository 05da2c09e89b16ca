use super::*;
use rear_layout::{gpt, scenarios, Disk, Partition};

/// A restored tree in memory: path → content (directories are implied).
struct Mem(BTreeMap<String, String>);

impl Mem {
    fn new(files: &[(&str, &str)]) -> Mem {
        Mem(files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect())
    }
}

impl Tree for Mem {
    fn exists(&self, rel: &str) -> bool {
        self.0
            .keys()
            .any(|k| k == rel || k.starts_with(&format!("{rel}/")))
    }
    fn read(&self, rel: &str) -> Option<String> {
        self.0.get(rel).cloned()
    }
    fn same(&self, a: &str, b: &str) -> bool {
        matches!((self.0.get(a), self.0.get(b)), (Some(a), Some(b)) if a == b)
    }
    fn list(&self, rel_dir: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .0
            .keys()
            .filter_map(|k| k.strip_prefix(&format!("{rel_dir}/")))
            .map(|r| r.split('/').next().unwrap().to_string())
            .collect();
        v.dedup();
        v
    }
}

const DEBIAN_BIOS: &[(&str, &str)] = &[
    ("usr/sbin/grub-install", ""),
    ("usr/sbin/grub-mkconfig", ""),
    ("usr/sbin/update-initramfs", ""),
    ("usr/lib/grub/i386-pc/boot.img", ""),
    ("boot/grub/i386-pc/core.img", ""),
];

fn renames(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn part(disk: &str, n: u32, type_: &str) -> Partition {
    Partition {
        number: n,
        device: format!("{disk}{n}"),
        type_: type_.into(),
        ..Default::default()
    }
}

fn opts() -> Options {
    Options {
        initramfs: Initramfs::Auto,
        bootloader: true,
        root: "/mnt/local".into(),
    }
}

fn argvs(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| match &s.action {
            Action::Chroot { argv } => argv.join(" "),
            Action::Rewrite { path, .. } => format!("rewrite {path}"),
            Action::EfiEntry {
                disk,
                part,
                label,
                loader,
            } => format!("efi-entry {disk} {part} {label} {loader}"),
            Action::Copy { from, to } => format!("copy {from} {to}"),
        })
        .collect()
}

#[test]
fn renames_are_whole_names_in_one_pass() {
    let r = renames(&[
        ("/dev/sda", "/dev/sdb"),
        ("/dev/sda1", "/dev/sdb1"),
        ("/dev/sdb", "/dev/sda"),
        ("/dev/sdb1", "/dev/sda1"),
    ]);
    let text = "/dev/sda1 / ext4 defaults 0 1\n/dev/sdb1\t/home xfs\n/dev/sda10 /x ext4\n/mnt/dev/sda1 keep\nresume=/dev/sdb1,x\n";
    assert_eq!(
        rename_devices(text, &r).unwrap(),
        "/dev/sdb1 / ext4 defaults 0 1\n/dev/sda1\t/home xfs\n/dev/sda10 /x ext4\n/mnt/dev/sda1 keep\nresume=/dev/sda1,x\n"
    );
    assert_eq!(rename_devices("UUID=abc / ext4\n", &r), None);
    // Identity renames change nothing.
    let same = renames(&[("/dev/vda", "/dev/vda"), ("/dev/vda1", "/dev/vda1")]);
    assert_eq!(rename_devices("/dev/vda1 / ext4\n", &same), None);
}

#[test]
fn bios_identity_recovery_installs_grub_on_the_recorded_disk_and_keeps_the_initramfs() {
    let l = scenarios::bios_gpt_grub();
    let r = renames(&[("/dev/sda", "/dev/sda"), ("/dev/sda2", "/dev/sda2")]);
    let p = plan(&l, &r, &Mem::new(DEBIAN_BIOS), &opts()).unwrap();
    assert_eq!(
        argvs(&p),
        [
            "grub-install --target=i386-pc /dev/sda",
            "grub-mkconfig -o /boot/grub/grub.cfg"
        ]
    );
    assert!(p.notes.iter().any(|n| n.contains("initramfs is kept")));
}

#[test]
fn migration_renames_fstab_rebuilds_the_initramfs_and_follows_the_disk() {
    let l = scenarios::bios_gpt_grub();
    let r = renames(&[
        ("/dev/sda", "/dev/vdb"),
        ("/dev/sda1", "/dev/vdb1"),
        ("/dev/sda2", "/dev/vdb2"),
    ]);
    let mut files = DEBIAN_BIOS.to_vec();
    files.push(("etc/fstab", "/dev/sda2 / ext4 defaults 0 1\n"));
    files.push(("etc/crypttab", "# none\n"));
    let p = plan(&l, &r, &Mem::new(&files), &opts()).unwrap();
    assert_eq!(
        argvs(&p),
        [
            "rewrite etc/fstab",
            "update-initramfs -u -k all",
            "grub-install --target=i386-pc /dev/vdb",
            "grub-mkconfig -o /boot/grub/grub.cfg"
        ]
    );
    assert_eq!(
        p.steps[0].action,
        Action::Rewrite {
            path: "etc/fstab".into(),
            text: "/dev/vdb2 / ext4 defaults 0 1\n".into()
        }
    );
}

#[test]
fn initramfs_policy_and_tools() {
    let l = scenarios::bios_gpt_grub();
    let same = renames(&[("/dev/sda", "/dev/sda")]);
    let mut o = opts();
    o.initramfs = Initramfs::Always;
    let p = plan(&l, &same, &Mem::new(DEBIAN_BIOS), &o).unwrap();
    assert_eq!(argvs(&p)[0], "update-initramfs -u -k all");

    let mut dracut: Vec<(&str, &str)> = DEBIAN_BIOS[..2].to_vec();
    dracut.push(("usr/bin/dracut", ""));
    dracut.push(("usr/lib/grub/i386-pc/x", ""));
    let p = plan(&l, &same, &Mem::new(&dracut), &o).unwrap();
    assert_eq!(argvs(&p)[0], "dracut --force --regenerate-all");

    let moved = renames(&[("/dev/sda", "/dev/sdb")]);
    o.initramfs = Initramfs::Never;
    let p = plan(&l, &moved, &Mem::new(DEBIAN_BIOS), &o).unwrap();
    assert!(!argvs(&p).iter().any(|a| a.contains("initramfs")));
}

#[test]
fn bios_without_a_recorded_disk_uses_the_disks_with_a_bios_boot_partition() {
    let mut l = scenarios::bios_gpt_grub();
    l.boot.grub_disks.clear();
    l.disks.push(Disk {
        device: "/dev/sdb".into(),
        label: Some(Label::Gpt),
        partitions: vec![part("/dev/sdb", 1, gpt::LINUX_FS)],
        ..Default::default()
    });
    let r = renames(&[("/dev/sda", "/dev/vda"), ("/dev/sdb", "/dev/vdb")]);
    let p = plan(&l, &r, &Mem::new(DEBIAN_BIOS), &opts()).unwrap();
    assert!(argvs(&p).contains(&"grub-install --target=i386-pc /dev/vda".to_string()));
    assert!(!argvs(&p).iter().any(|a| a.ends_with("/dev/vdb")));
    assert!(p.notes.iter().any(|n| n.contains("names no GRUB disk")));

    // No such disk: an error, not a guess.
    l.disks.remove(0);
    let err = plan(&l, &r, &Mem::new(DEBIAN_BIOS), &opts()).unwrap_err();
    assert!(matches!(err, Error::NoGrubDisk { .. }), "{err}");
}

#[test]
fn missing_grub_pieces_are_errors_that_name_them() {
    let l = scenarios::bios_gpt_grub();
    let r = renames(&[]);
    let err = plan(&l, &r, &Mem::new(&[("boot/grub/i386-pc/x", "")]), &opts()).unwrap_err();
    assert!(err.to_string().contains("grub-install"), "{err}");
    let err = plan(
        &l,
        &r,
        &Mem::new(&[("usr/sbin/grub-install", ""), ("boot/grub/i386-pc/x", "")]),
        &opts(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("grub-pc-bin"), "{err}");
    // No GRUB at all on a BIOS system: unknown bootloader.
    let mut l2 = scenarios::bios_gpt_grub();
    l2.boot.grub_disks.clear();
    let err = plan(&l2, &r, &Mem::new(&[]), &opts()).unwrap_err();
    assert_eq!(err, Error::UnknownBiosLoader);
    // A data-only layout (no /) needs no bootloader.
    let mut data = l2.clone();
    data.mounts[0].mountpoint = "/srv".into();
    let p = plan(&data, &r, &Mem::new(&[]), &opts()).unwrap();
    assert!(p.steps.is_empty());
    assert!(p.notes.iter().any(|n| n.contains("no root file system")));
    // --no-bootloader skips all of it.
    let mut o = opts();
    o.bootloader = false;
    assert!(plan(&l2, &r, &Mem::new(&[]), &o).unwrap().steps.is_empty());
}

/// The UEFI scenario booting `loader`.
fn uefi_layout(loader: &str) -> Layout {
    let mut l = scenarios::uefi_gpt_grub();
    l.boot.efi_entries[1].path = Some(loader.into());
    l
}

const DEBIAN_UEFI: &[(&str, &str)] = &[
    ("usr/sbin/grub-install", ""),
    ("usr/lib/grub/x86_64-efi/x", ""),
    ("boot/efi/EFI/debian/grubx64.efi", ""),
];

#[test]
fn uefi_grub_migration_installs_grub_creates_the_entry_and_the_fallback() {
    let l = uefi_layout("\\EFI\\debian\\grubx64.efi");
    let r = renames(&[("/dev/sda", "/dev/vdb"), ("/dev/sda1", "/dev/vdb1")]);
    let mut o = opts();
    o.initramfs = Initramfs::Never;
    let p = plan(&l, &r, &Mem::new(DEBIAN_UEFI), &o).unwrap();
    assert_eq!(
        argvs(&p),
        [
            "grub-install --target=x86_64-efi --efi-directory=/boot/efi --bootloader-id=debian --no-nvram",
            "grub-mkconfig -o /boot/grub/grub.cfg",
            "efi-entry /dev/vdb 1 debian \\EFI\\debian\\grubx64.efi",
            "copy boot/efi/EFI/debian/grubx64.efi boot/efi/EFI/BOOT/BOOTX64.EFI",
        ]
    );
    // The entry may fail where the fallback boots the disk anyway.
    assert!(!p.steps[2].required && p.steps[3].required);

    // A restored copy of the old loader is renewed (it would look for the
    // old disks); another system's loader on the fallback path is kept.
    let copy = |fallback: &'static str| {
        let mut files = DEBIAN_UEFI.to_vec();
        files.push(("boot/efi/EFI/BOOT/BOOTX64.EFI", fallback));
        plan(&l, &r, &Mem::new(&files), &o).unwrap()
    };
    let p = copy("");
    assert_eq!(
        argvs(&p)[3],
        "copy boot/efi/EFI/debian/grubx64.efi boot/efi/EFI/BOOT/BOOTX64.EFI"
    );
    let p = copy("another system's loader");
    assert_eq!(argvs(&p).len(), 3, "{:?}", argvs(&p));
    assert!(
        p.notes.iter().any(|n| n.contains("not a copy")),
        "{:?}",
        p.notes
    );
}

#[test]
fn uefi_shim_and_systemd_boot() {
    let l = uefi_layout("\\EFI\\debian\\shimx64.efi");
    let p = plan(
        &l,
        &renames(&[("/dev/sda", "/dev/sda")]),
        &Mem::new(DEBIAN_UEFI),
        &opts(),
    )
    .unwrap();
    let a = argvs(&p);
    assert!(a.contains(&"efi-entry /dev/sda 1 debian \\EFI\\debian\\shimx64.efi".to_string()));
    assert!(a.contains(
        &"copy boot/efi/EFI/debian/grubx64.efi boot/efi/EFI/BOOT/grubx64.efi".to_string()
    ));

    let l = uefi_layout("\\EFI\\systemd\\systemd-bootx64.efi");
    let err = plan(
        &l,
        &renames(&[("/dev/sda", "/dev/sda")]),
        &Mem::new(DEBIAN_UEFI),
        &opts(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("bootctl"), "{err}");
    let p = plan(
        &l,
        &renames(&[("/dev/sda", "/dev/sda")]),
        &Mem::new(&[("usr/bin/bootctl", "")]),
        &opts(),
    )
    .unwrap();
    assert_eq!(
        argvs(&p),
        [
            "bootctl install --esp-path=/boot/efi --no-variables",
            "efi-entry /dev/sda 1 debian \\EFI\\systemd\\systemd-bootx64.efi"
        ]
    );
}

#[test]
fn uefi_without_entries_finds_the_loader_on_the_esp_and_without_esp_fails() {
    let mut l = uefi_layout("");
    l.boot.efi_entries.clear();
    let p = plan(
        &l,
        &renames(&[("/dev/sda", "/dev/sda")]),
        &Mem::new(DEBIAN_UEFI),
        &opts(),
    )
    .unwrap();
    assert!(
        argvs(&p).contains(&"efi-entry /dev/sda 1 debian \\EFI\\debian\\grubx64.efi".to_string())
    );
    assert!(p.notes.iter().any(|n| n.contains("found on the ESP")));

    l.boot.esp = None;
    let err = plan(
        &l,
        &renames(&[("/dev/sda", "/dev/sda")]),
        &Mem::new(DEBIAN_UEFI),
        &opts(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NoEsp(_)), "{err}");
}

#[test]
fn systemd_boot_entries_on_the_esp_are_renamed() {
    let l = uefi_layout("\\EFI\\systemd\\systemd-bootx64.efi");
    let r = renames(&[("/dev/sda", "/dev/vda"), ("/dev/sda2", "/dev/vda2")]);
    let files = [
        ("usr/bin/bootctl", ""),
        (
            "boot/efi/loader/entries/debian.conf",
            "options root=/dev/sda2 ro\n",
        ),
    ];
    let mut o = opts();
    o.initramfs = Initramfs::Never;
    let p = plan(&l, &r, &Mem::new(&files), &o).unwrap();
    assert_eq!(
        p.steps[0].action,
        Action::Rewrite {
            path: "boot/efi/loader/entries/debian.conf".into(),
            text: "options root=/dev/vda2 ro\n".into()
        }
    );
}

/// A GRUB disk or ESP disk the layout names but the recreation did not map
/// (a hand-edited or imported layout): installing there would write a disk
/// that merely has the old name here. Refused, naming the disk.
#[test]
fn the_bootloader_is_planned_only_onto_mapped_disks() {
    let mut l = scenarios::bios_gpt_grub();
    l.boot.grub_disks.push("/dev/sdz".into());
    let r = renames(&[("/dev/sda", "/dev/vdb"), ("/dev/sda2", "/dev/vdb2")]);
    let err = plan(&l, &r, &Mem::new(DEBIAN_BIOS), &opts()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "refusing to install GRUB on /dev/sdz: it is no disk of the recreated layout"
        ),
        "{err}"
    );
    // The mapped one is written, and says so for apply's sysfs check.
    l.boot.grub_disks.pop();
    let p = plan(&l, &r, &Mem::new(DEBIAN_BIOS), &opts()).unwrap();
    let grub = p
        .steps
        .iter()
        .find(|s| s.what.contains("install GRUB"))
        .unwrap();
    assert_eq!(grub.writes, ["/dev/vdb"]);

    let l = uefi_layout("\\EFI\\debian\\grubx64.efi");
    let err = plan(&l, &renames(&[]), &Mem::new(DEBIAN_UEFI), &opts()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("refusing to create a UEFI boot entry on /dev/sda"),
        "{err}"
    );
}
