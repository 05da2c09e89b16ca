//! Named example layouts for tests: each holds what its name says, with
//! fixed identifiers (UUIDs, serials, disk GUIDs) so tests can assert on
//! them. A test that needs a variant starts from one and changes what it
//! needs. The VM tests build the same shapes on real disks.

use crate::gpt;
use crate::model::*;

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// A GPT partition of `disk` numbered `n`.
fn gpt_part(disk: &str, n: u32, start: u64, size: u64, type_: &str) -> Partition {
    Partition {
        number: n,
        device: partition_device(disk, n),
        start,
        size,
        type_: type_.into(),
        ..Default::default()
    }
}

/// A disk of `size` bytes with 512-byte sectors.
fn disk(device: &str, size: u64, label: Label, partitions: Vec<Partition>) -> Disk {
    Disk {
        device: device.into(),
        size,
        logical_sector_size: 512,
        physical_sector_size: 512,
        label: Some(label),
        partitions,
        ..Default::default()
    }
}

fn mount(device: &str, mountpoint: &str, fstype: &str) -> Mount {
    Mount {
        device: device.into(),
        mountpoint: mountpoint.into(),
        fstype: fstype.into(),
        ..Default::default()
    }
}

/// GPT /dev/vda (2 GiB, serial OLD0): an ESP (vfat at /boot/efi, mounted
/// with fmask/dmask), the ext4 root "root" on vda2, and swap filling the
/// disk on vda3 up to a 1 MiB gap before the backup GPT.
pub fn gpt_esp_ext4_swap() -> Layout {
    let mut l = Layout::new();
    let part = |n: u32, start: u64, size: u64, t: &str| Partition {
        uuid: Some(format!("00000000-0000-4000-8000-00000000000{n}")),
        ..gpt_part("/dev/vda", n, start, size, t)
    };
    l.disks.push(Disk {
        identifier: Some("11111111-2222-4333-8444-555555555555".into()),
        serial: Some("OLD0".into()),
        ..disk(
            "/dev/vda",
            2 * GIB,
            Label::Gpt,
            vec![
                part(1, MIB, 64 * MIB, gpt::ESP),
                part(2, 65 * MIB, 1536 * MIB, gpt::LINUX_FS),
                part(
                    3,
                    1601 * MIB,
                    2 * GIB - 1601 * MIB - 16384 - 512 - MIB,
                    gpt::SWAP,
                ),
            ],
        )
    });
    l.filesystems.push(Filesystem {
        device: "/dev/vda1".into(),
        fstype: "vfat".into(),
        uuid: Some("ABCD-1234".into()),
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: "/dev/vda2".into(),
        fstype: "ext4".into(),
        uuid: Some("aaaaaaaa-0000-4000-8000-000000000001".into()),
        label: Some("root".into()),
        attrs: [(
            "features".to_string(),
            "has_journal,extent,needs_recovery".to_string(),
        )]
        .into(),
        ..Default::default()
    });
    l.swaps.push(Swap {
        device: "/dev/vda3".into(),
        uuid: Some("bbbbbbbb-0000-4000-8000-000000000001".into()),
        label: None,
    });
    l.mounts.push(Mount {
        options: "rw,relatime,fmask=0077,dmask=0077".into(),
        ..mount("/dev/vda1", "/boot/efi", "vfat")
    });
    l.mounts.push(mount("/dev/vda2", "/", "ext4"));
    l
}

/// Two 1 GiB GPT disks /dev/vda and /dev/vdb, one RAID partition each, in
/// the RAID1 /dev/md0 ("data"); on it LVM vg0 with a linear LV `data`
/// (xfs with crc and reflink), a thin pool `pool` and a thin volume `thin`
/// (2 GiB virtual) in it.
pub fn raid1_lvm_thin() -> Layout {
    let mut l = Layout::new();
    for d in ["/dev/vda", "/dev/vdb"] {
        l.disks.push(disk(
            d,
            GIB,
            Label::Gpt,
            vec![gpt_part(d, 1, MIB, GIB - 2 * MIB, gpt::LINUX_RAID)],
        ));
    }
    l.raids.push(Raid {
        device: "/dev/md0".into(),
        level: "raid1".into(),
        devices: vec!["/dev/vda1".into(), "/dev/vdb1".into()],
        metadata: "1.2".into(),
        uuid: "01234567:89abcdef:01234567:89abcdef".into(),
        name: Some("data".into()),
        size: GIB - 4 * MIB,
        ..Default::default()
    });
    l.pvs.push(Pv {
        device: "/dev/md0".into(),
        uuid: "pvuuid".into(),
        vg: "vg0".into(),
        size: GIB - 4 * MIB,
    });
    l.vgs.push(Vg {
        name: "vg0".into(),
        extent_size: 4 * MIB,
        size: GIB - 8 * MIB,
        uuid: None,
        free: None,
    });
    l.lvs.push(Lv {
        vg: "vg0".into(),
        name: "data".into(),
        device: lv_device("vg0", "data"),
        segtype: "linear".into(),
        size: 400 * MIB,
        ..Default::default()
    });
    l.lvs.push(Lv {
        vg: "vg0".into(),
        name: "thin".into(),
        device: lv_device("vg0", "thin"),
        segtype: "thin".into(),
        size: 2 * GIB,
        pool: Some("pool".into()),
        ..Default::default()
    });
    l.lvs.push(Lv {
        vg: "vg0".into(),
        name: "pool".into(),
        device: lv_device("vg0", "pool"),
        segtype: "thin-pool".into(),
        size: 300 * MIB,
        metadata_size: Some(4 * MIB),
        chunk_size: Some(64 * 1024),
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: lv_device("vg0", "data"),
        fstype: "xfs".into(),
        uuid: Some("cccccccc-0000-4000-8000-000000000001".into()),
        attrs: [
            ("crc".to_string(), "1".to_string()),
            ("reflink".to_string(), "1".to_string()),
        ]
        .into(),
        ..Default::default()
    });
    l
}

/// [`gpt_esp_ext4_swap`] with LVM instead of swap on vda3: vg0 with LV
/// `root`, LUKS2 `cryptroot` on it (Argon2id with recorded costs), and the
/// ext4 root in that; vda2 is left without a file system.
pub fn luks_on_lvm() -> Layout {
    let mut l = gpt_esp_ext4_swap();
    l.disks[0].partitions[2].type_ = gpt::LINUX_LVM.into();
    l.swaps.clear();
    l.pvs.push(Pv {
        device: "/dev/vda3".into(),
        uuid: "pvuuid".into(),
        vg: "vg0".into(),
        size: 300 * MIB,
    });
    l.vgs.push(Vg {
        name: "vg0".into(),
        extent_size: 4 * MIB,
        size: 296 * MIB,
        uuid: None,
        free: None,
    });
    l.lvs.push(Lv {
        vg: "vg0".into(),
        name: "root".into(),
        device: lv_device("vg0", "root"),
        segtype: "linear".into(),
        size: 200 * MIB,
        ..Default::default()
    });
    l.luks.push(Luks {
        device: "/dev/mapper/cryptroot".into(),
        name: "cryptroot".into(),
        backing: lv_device("vg0", "root"),
        version: 2,
        cipher: "aes-xts-plain64".into(),
        key_size: 512,
        hash: "sha256".into(),
        pbkdf: Some("argon2id".into()),
        pbkdf_iterations: Some(4),
        pbkdf_memory_kib: Some(65536),
        pbkdf_threads: Some(2),
        uuid: "dddddddd-0000-4000-8000-000000000002".into(),
        ..Default::default()
    });
    l.filesystems[1].device = "/dev/mapper/cryptroot".into();
    l.mounts[1].device = "/dev/mapper/cryptroot".into();
    l
}

/// msdos /dev/vda (2 GiB, id 0x1234abcd): a bootable primary vda1, the
/// extended vda2 filling the rest, logical vda5 and vda6 (the last, to the
/// end of the disk) in it. Partitions only.
pub fn msdos_logical() -> Layout {
    let mut l = Layout::new();
    let part = |n: u32, start: u64, size: u64, t: &str, kind: PartKind| Partition {
        number: n,
        device: format!("/dev/vda{n}"),
        start,
        size,
        type_: t.into(),
        kind,
        bootable: n == 1,
        ..Default::default()
    };
    l.disks.push(Disk {
        identifier: Some("0x1234abcd".into()),
        ..disk(
            "/dev/vda",
            2 * GIB,
            Label::Msdos,
            vec![
                part(1, MIB, 500 * MIB, "0x83", PartKind::Primary),
                part(2, 501 * MIB, 2 * GIB - 501 * MIB, "0x5", PartKind::Extended),
                part(5, 502 * MIB, 600 * MIB, "0x83", PartKind::Logical),
                part(
                    6,
                    1103 * MIB,
                    2 * GIB - 1103 * MIB,
                    "0x83",
                    PartKind::Logical,
                ),
            ],
        )
    });
    l
}

/// An old msdos /dev/vda (2 GiB) aligned to cylinders, as DOS-era tools
/// made it: no primary partition, only the extended partition 1 from
/// sector 63 to the end, holding the logical partitions 5 (about 500 MiB)
/// and 6 (the rest), each 63 sectors after the one before (its EBR).
pub fn msdos_only_logical() -> Layout {
    const CYL: u64 = 255 * 63 * 512;
    const TRACK: u64 = 63 * 512;
    let mut l = Layout::new();
    let part = |n: u32, start: u64, size: u64, t: &str, kind: PartKind| Partition {
        number: n,
        device: format!("/dev/vda{n}"),
        start,
        size,
        type_: t.into(),
        kind,
        ..Default::default()
    };
    let l6 = 64 * CYL + TRACK;
    l.disks.push(Disk {
        identifier: Some("0x0badcafe".into()),
        ..disk(
            "/dev/vda",
            2 * GIB,
            Label::Msdos,
            vec![
                part(1, TRACK, 2 * GIB - TRACK, "0x5", PartKind::Extended),
                part(
                    5,
                    2 * TRACK,
                    64 * CYL - 2 * TRACK,
                    "0x83",
                    PartKind::Logical,
                ),
                part(6, l6, 2 * GIB - l6, "0x83", PartKind::Logical),
            ],
        )
    });
    l
}

/// GPT /dev/vda (1 GiB, serial A) with one 500 MiB LVM partition: vg
/// "vg" (with UUID and 96 MiB free) holding the 400 MiB linear LV `root`
/// (with UUID). No file systems.
pub fn gpt_lvm_linear() -> Layout {
    let mut l = Layout::new();
    l.disks.push(Disk {
        serial: Some("A".into()),
        ..disk(
            "/dev/vda",
            GIB,
            Label::Gpt,
            vec![gpt_part("/dev/vda", 1, MIB, 500 * MIB, gpt::LINUX_LVM)],
        )
    });
    l.pvs.push(Pv {
        device: "/dev/vda1".into(),
        uuid: "p".into(),
        vg: "vg".into(),
        size: 500 * MIB,
    });
    l.vgs.push(Vg {
        name: "vg".into(),
        uuid: Some("u1".into()),
        extent_size: 4 * MIB,
        size: 496 * MIB,
        free: Some(96 * MIB),
    });
    l.lvs.push(Lv {
        vg: "vg".into(),
        name: "root".into(),
        device: lv_device("vg", "root"),
        segtype: "linear".into(),
        size: 400 * MIB,
        uuid: Some("l1".into()),
        ..Default::default()
    });
    l
}

/// A BIOS machine: GPT /dev/sda (2 GiB) with a BIOS boot partition sda1
/// and the ext4 root on sda2, GRUB installed on /dev/sda.
pub fn bios_gpt_grub() -> Layout {
    let mut l = Layout::new();
    l.disks.push(disk(
        "/dev/sda",
        2 * GIB,
        Label::Gpt,
        vec![
            gpt_part("/dev/sda", 1, MIB, MIB, gpt::BIOS_BOOT),
            gpt_part("/dev/sda", 2, 2 * MIB, 2 * GIB - 4 * MIB, gpt::LINUX_FS),
        ],
    ));
    l.filesystems.push(Filesystem {
        device: "/dev/sda2".into(),
        fstype: "ext4".into(),
        uuid: Some("eeeeeeee-0000-4000-8000-000000000001".into()),
        ..Default::default()
    });
    l.mounts.push(mount("/dev/sda2", "/", "ext4"));
    l.boot.grub_disks = vec!["/dev/sda".into()];
    l
}

/// A UEFI machine: GPT /dev/sda (2 GiB) with an ESP sda1 (vfat at
/// /boot/efi) and the ext4 root on sda2; firmware entries for the disk
/// itself (0001) and for debian's GRUB on the ESP (0004,
/// `\EFI\debian\grubx64.efi`).
pub fn uefi_gpt_grub() -> Layout {
    let esp_uuid = "00000000-0000-4000-8000-0000000000e1";
    let mut l = Layout::new();
    l.disks.push(disk(
        "/dev/sda",
        2 * GIB,
        Label::Gpt,
        vec![
            Partition {
                uuid: Some(esp_uuid.into()),
                ..gpt_part("/dev/sda", 1, MIB, 64 * MIB, gpt::ESP)
            },
            gpt_part("/dev/sda", 2, 65 * MIB, 2 * GIB - 66 * MIB, gpt::LINUX_FS),
        ],
    ));
    l.filesystems.push(Filesystem {
        device: "/dev/sda1".into(),
        fstype: "vfat".into(),
        uuid: Some("EF00-0001".into()),
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: "/dev/sda2".into(),
        fstype: "ext4".into(),
        uuid: Some("eeeeeeee-0000-4000-8000-000000000002".into()),
        ..Default::default()
    });
    l.mounts.push(mount("/dev/sda1", "/boot/efi", "vfat"));
    l.mounts.push(mount("/dev/sda2", "/", "ext4"));
    l.boot.firmware = Firmware::Uefi;
    l.boot.esp = Some("/dev/sda1".into());
    l.boot.efi_entries = vec![
        EfiEntry {
            number: "0001".into(),
            label: "UEFI QEMU HARDDISK".into(),
            partuuid: None,
            path: None,
        },
        EfiEntry {
            number: "0004".into(),
            label: "debian".into(),
            partuuid: Some(esp_uuid.into()),
            path: Some("\\EFI\\debian\\grubx64.efi".into()),
        },
    ];
    l
}

/// A disk without a partition table: what it holds is on the disk
/// device itself.
fn whole(device: &str, size: u64, serial: &str) -> Disk {
    Disk {
        device: device.into(),
        size,
        logical_sector_size: 512,
        physical_sector_size: 512,
        label: None,
        serial: Some(serial.into()),
        ..Default::default()
    }
}

/// ext4 "root" on the whole of /dev/vda (2 GiB, serial OLD0, no partition
/// table), mounted at /, as on many VMs and cloud instances.
pub fn whole_disk_ext4_root() -> Layout {
    let mut l = Layout::new();
    l.disks.push(whole("/dev/vda", 2 * GIB, "OLD0"));
    l.filesystems.push(Filesystem {
        device: "/dev/vda".into(),
        fstype: "ext4".into(),
        uuid: Some("aaaaaaaa-0000-4000-8000-0000000000d0".into()),
        label: Some("root".into()),
        attrs: [
            ("inode_count".to_string(), "131072".to_string()),
            ("bytes_per_inode".to_string(), "16384".to_string()),
        ]
        .into(),
        ..Default::default()
    });
    l.mounts.push(mount("/dev/vda", "/", "ext4"));
    l
}

/// An LVM PV on the whole of /dev/vdb (1 GiB, serial OLD1), volume group
/// `vgw` (4 MiB extents) with the linear LV `data` (512 MiB, xfs at /srv).
pub fn whole_disk_lvm() -> Layout {
    let mut l = Layout::new();
    l.disks.push(whole("/dev/vdb", GIB, "OLD1"));
    l.pvs.push(Pv {
        device: "/dev/vdb".into(),
        uuid: "wwwwww-0000-1111-2222-3333-4444-555555".into(),
        vg: "vgw".into(),
        size: GIB - 4 * MIB,
    });
    l.vgs.push(Vg {
        name: "vgw".into(),
        extent_size: 4 * MIB,
        size: GIB - 4 * MIB,
        free: Some(GIB - 516 * MIB),
        ..Default::default()
    });
    l.lvs.push(Lv {
        vg: "vgw".into(),
        name: "data".into(),
        device: lv_device("vgw", "data"),
        segtype: "linear".into(),
        size: 512 * MIB,
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: lv_device("vgw", "data"),
        fstype: "xfs".into(),
        uuid: Some("dddddddd-0000-4000-8000-0000000000d1".into()),
        ..Default::default()
    });
    l.mounts
        .push(mount(&lv_device("vgw", "data"), "/srv", "xfs"));
    l
}

/// md RAID1 /dev/md0 ("wraid") of the whole disks /dev/vda and /dev/vdb
/// (1 GiB each, serials OLD0, OLD1), ext4 on it at /data.
pub fn whole_disk_raid1() -> Layout {
    let mut l = Layout::new();
    l.disks.push(whole("/dev/vda", GIB, "OLD0"));
    l.disks.push(whole("/dev/vdb", GIB, "OLD1"));
    l.raids.push(Raid {
        device: "/dev/md0".into(),
        level: "raid1".into(),
        devices: vec!["/dev/vda".into(), "/dev/vdb".into()],
        metadata: "1.2".into(),
        uuid: "0000000d:11111111:22222222:33333333".into(),
        name: Some("wraid".into()),
        size: GIB - 8 * MIB,
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: "/dev/md0".into(),
        fstype: "ext4".into(),
        uuid: Some("aaaaaaaa-0000-4000-8000-0000000000d2".into()),
        ..Default::default()
    });
    l.mounts.push(mount("/dev/md0", "/data", "ext4"));
    l
}

/// LUKS2 on the whole of /dev/vda (1 GiB, serial OLD0), opened as
/// /dev/mapper/cryptw, ext4 on it at /secret.
pub fn whole_disk_luks() -> Layout {
    let mut l = Layout::new();
    l.disks.push(whole("/dev/vda", GIB, "OLD0"));
    l.luks.push(Luks {
        device: "/dev/mapper/cryptw".into(),
        name: "cryptw".into(),
        backing: "/dev/vda".into(),
        version: 2,
        cipher: "aes-xts-plain64".into(),
        key_size: 512,
        hash: "sha256".into(),
        pbkdf: Some("argon2id".into()),
        uuid: "cccccccc-0000-4000-8000-0000000000d3".into(),
        size: GIB - 16 * MIB,
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: "/dev/mapper/cryptw".into(),
        fstype: "ext4".into(),
        uuid: Some("aaaaaaaa-0000-4000-8000-0000000000d3".into()),
        ..Default::default()
    });
    l.mounts
        .push(mount("/dev/mapper/cryptw", "/secret", "ext4"));
    l
}

/// md RAID1 /dev/md127 ("sys", metadata 1.2) of the whole disks /dev/vda
/// and /dev/vdb (1 GiB, serials OLD0, OLD1) with a GPT on the array: an
/// ESP (vfat) on md127p1, /boot (ext4) on md127p2, an LVM PV on md127p3.
/// In vgm (4 MiB extents), `root` holds extents 0-24 and 40-44 and `home`
/// 25-39: not in name order, and root in two segments.
pub fn partitioned_raid1_lvm() -> Layout {
    let mut l = Layout::new();
    l.disks.push(whole("/dev/vda", GIB, "OLD0"));
    l.disks.push(whole("/dev/vdb", GIB, "OLD1"));
    let md = "/dev/md127";
    let size = GIB - 8 * MIB;
    let part = |n: u32, start: u64, size: u64, t: &str| Partition {
        uuid: Some(format!("00000000-0000-4000-8000-0000000001{n:02}")),
        ..gpt_part(md, n, start, size, t)
    };
    l.raids.push(Raid {
        device: md.into(),
        level: "raid1".into(),
        devices: vec!["/dev/vda".into(), "/dev/vdb".into()],
        metadata: "1.2".into(),
        uuid: "00000127:11111111:22222222:33333333".into(),
        name: Some("sys".into()),
        size,
        label: Some(Label::Gpt),
        identifier: Some("12700000-2222-4333-8444-555555555555".into()),
        partitions: vec![
            part(1, MIB, 64 * MIB, gpt::ESP),
            part(2, 65 * MIB, 128 * MIB, gpt::LINUX_FS),
            part(3, 193 * MIB, size - 194 * MIB, gpt::LINUX_LVM),
        ],
        ..Default::default()
    });
    let pv = partition_device(md, 3);
    l.pvs.push(Pv {
        device: pv.clone(),
        uuid: "pvuuid-m".into(),
        vg: "vgm".into(),
        size: size - 194 * MIB,
    });
    l.vgs.push(Vg {
        name: "vgm".into(),
        extent_size: 4 * MIB,
        size: 200 * 4 * MIB,
        ..Default::default()
    });
    let seg = |start: u64, count: u64| Segment {
        pv: pv.clone(),
        start,
        count,
    };
    for (name, segments) in [
        ("home", vec![seg(25, 15)]),
        ("root", vec![seg(0, 25), seg(40, 5)]),
    ] {
        let size = segments.iter().map(|s| s.count).sum::<u64>() * 4 * MIB;
        l.lvs.push(Lv {
            vg: "vgm".into(),
            name: name.into(),
            device: lv_device("vgm", name),
            segtype: "linear".into(),
            size,
            segments,
            ..Default::default()
        });
    }
    for (dev, fstype) in [
        (partition_device(md, 1), "vfat"),
        (partition_device(md, 2), "ext4"),
        (lv_device("vgm", "root"), "ext4"),
        (lv_device("vgm", "home"), "ext4"),
    ] {
        l.filesystems.push(Filesystem {
            device: dev,
            fstype: fstype.into(),
            ..Default::default()
        });
    }
    l.mounts.push(mount(&lv_device("vgm", "root"), "/", "ext4"));
    l.mounts
        .push(mount(&partition_device(md, 2), "/boot", "ext4"));
    l.mounts
        .push(mount(&partition_device(md, 1), "/boot/efi", "vfat"));
    l.mounts
        .push(mount(&lv_device("vgm", "home"), "/home", "ext4"));
    l
}

/// An Intel RST (IMSM) container /dev/md127 on the whole disks /dev/sda
/// and /dev/sdb (1 GiB, serials OLD0, OLD1), the RAID1 volume /dev/md126
/// ("vol0", 900 MiB of each disk) in it, a GPT on the volume with ext4 on
/// md126p1 at /.
pub fn imsm_raid1() -> Layout {
    let mut l = Layout::new();
    l.disks.push(whole("/dev/sda", GIB, "OLD0"));
    l.disks.push(whole("/dev/sdb", GIB, "OLD1"));
    l.raids.push(Raid {
        device: "/dev/md127".into(),
        level: "container".into(),
        devices: vec!["/dev/sda".into(), "/dev/sdb".into()],
        metadata: "imsm".into(),
        uuid: "c0c0c0c0:11111111:22222222:33333333".into(),
        ..Default::default()
    });
    let md = "/dev/md126";
    l.raids.push(Raid {
        device: md.into(),
        level: "raid1".into(),
        devices: vec!["/dev/md127".into()],
        metadata: "imsm".into(),
        uuid: "v0v0v0v0:11111111:22222222:33333333".into(),
        name: Some("vol0".into()),
        size: 900 * MIB,
        member_size: Some(900 * MIB),
        label: Some(Label::Gpt),
        partitions: vec![gpt_part(md, 1, MIB, 800 * MIB, gpt::LINUX_FS)],
        ..Default::default()
    });
    l.filesystems.push(Filesystem {
        device: partition_device(md, 1),
        fstype: "ext4".into(),
        uuid: Some("aaaaaaaa-0000-4000-8000-000000000126".into()),
        ..Default::default()
    });
    l.mounts.push(mount(&partition_device(md, 1), "/", "ext4"));
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario is a layout the planner takes (on disks of its own
    /// names and sizes) and that survives its JSON form.
    #[test]
    fn every_scenario_plans_and_round_trips() {
        use crate::plan::{plan, Options, PresentDisk};
        for (name, l) in [
            ("gpt_esp_ext4_swap", gpt_esp_ext4_swap()),
            ("raid1_lvm_thin", raid1_lvm_thin()),
            ("luks_on_lvm", luks_on_lvm()),
            ("msdos_logical", msdos_logical()),
            ("msdos_only_logical", msdos_only_logical()),
            ("gpt_lvm_linear", gpt_lvm_linear()),
            ("bios_gpt_grub", bios_gpt_grub()),
            ("uefi_gpt_grub", uefi_gpt_grub()),
            ("whole_disk_ext4_root", whole_disk_ext4_root()),
            ("whole_disk_lvm", whole_disk_lvm()),
            ("whole_disk_raid1", whole_disk_raid1()),
            ("whole_disk_luks", whole_disk_luks()),
        ] {
            assert_eq!(Layout::from_json(&l.to_json()).unwrap(), l, "{name}");
            let here: Vec<PresentDisk> = l
                .disks
                .iter()
                .map(|d| PresentDisk {
                    device: d.device.clone(),
                    size: d.size,
                    logical_sector_size: 512,
                    ..Default::default()
                })
                .collect();
            let opts = Options {
                passphrase_file: Some("/media/pass".into()),
                ..Default::default()
            };
            let p = plan(&l, &here, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!p.steps.is_empty(), "{name}");
        }
    }
}
