//! The storage layout model: what the disks held, in enough detail to build
//! them again. Serialized as JSON (`layout.json`); documented in
//! docs/layout.md. Sizes are bytes; device names are kernel paths as seen
//! at capture time (`/dev/vda1`, `/dev/md0`, `/dev/mapper/vg-root`).
//! Secrets (passphrases, keys) are never part of it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub schema: u32,
    #[serde(default)]
    pub disks: Vec<Disk>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raids: Vec<Raid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub luks: Vec<Luks>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pvs: Vec<Pv>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vgs: Vec<Vg>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lvs: Vec<Lv>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filesystems: Vec<Filesystem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swaps: Vec<Swap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub boot: Boot,
    /// Components seen but not representable, or excluded, with the reason;
    /// never silently dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// Disks capture left out (excluded, the backup medium, removable),
    /// with their identity: recovery never picks one by itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_disks: Vec<ExcludedDisk>,
}

/// A disk left out of the layout, as recovery must recognise it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedDisk {
    pub device: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wwn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub why: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Gpt,
    Msdos,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    pub device: String,
    pub size: u64,
    #[serde(default = "default_sector")]
    pub logical_sector_size: u32,
    #[serde(default = "default_sector")]
    pub physical_sector_size: u32,
    /// None: no partition table (the whole disk is a PV, RAID member, ...).
    #[serde(default)]
    pub label: Option<Label>,
    /// GPT disk GUID (lowercase) or MBR disk identifier (`0x1234abcd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wwn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Names under /dev/disk/by-id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_id: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Partition>,
}

fn default_sector() -> u32 {
    512
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    #[default]
    Primary,
    Extended,
    Logical,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub number: u32,
    pub device: String,
    /// Offset from the start of the disk, bytes.
    pub start: u64,
    pub size: u64,
    /// GPT type GUID (lowercase) or MBR type (`0x83`).
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "is_primary")]
    pub kind: PartKind,
    /// GPT partition name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// PARTUUID: GPT partition GUID (lowercase), or `<disk id>-<nn>` on msdos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// GPT attribute bits as sfdisk writes them (`LegacyBIOSBootable GUID:63`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<String>,
    /// MBR active flag.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bootable: bool,
}

fn is_primary(k: &PartKind) -> bool {
    *k == PartKind::Primary
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raid {
    pub device: String,
    /// `raid0`, `raid1`, `raid4`, `raid5`, `raid6`, `raid10`, `linear`.
    pub level: String,
    /// Active members in role order.
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spares: Vec<String>,
    /// Superblock version: `1.2`, `1.0`, `0.90`.
    pub metadata: String,
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Chunk size, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Array size, bytes.
    pub size: u64,
    /// A member array of a container (IMSM, DDF): the space it takes on
    /// each member disk, bytes (mdadm `--size`); None: all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_size: Option<u64>,
    /// A partition table on the array itself (`/dev/md127p1`); None: the
    /// array holds its content directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Its GPT disk GUID or MBR identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Partition>,
}

impl Raid {
    /// An IMSM or DDF container: holds member arrays, not data.
    pub fn is_container(&self) -> bool {
        self.level == "container"
    }

    /// Metadata kept outside md's own superblock (a container's format).
    pub fn external_metadata(&self) -> bool {
        let m = self.metadata.as_str();
        m == "imsm" || m == "ddf" || m.starts_with("external:")
    }

    /// The array's partition table as a disk, for what partitions a disk
    /// (geometry, checks, sfdisk input).
    pub fn as_disk(&self) -> Disk {
        Disk {
            device: self.device.clone(),
            size: self.size,
            logical_sector_size: 512,
            physical_sector_size: 512,
            label: self.label,
            identifier: self.identifier.clone(),
            partitions: self.partitions.clone(),
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Luks {
    /// The opened device, `/dev/mapper/<name>`.
    pub device: String,
    pub name: String,
    /// The device holding the LUKS header.
    pub backing: String,
    /// 1 or 2.
    pub version: u8,
    pub cipher: String,
    /// Bits.
    pub key_size: u32,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pbkdf: Option<String>,
    /// The first key slot's PBKDF costs, so the recreated slot takes what
    /// the original took to open (memory above all: an Argon2 slot made
    /// with more memory than the machine's initramfs has cannot be
    /// opened). Iterations for PBKDF2, the time cost for Argon2; None when
    /// unknown (cryptsetup then benchmarks the machine it runs on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pbkdf_iterations: Option<u32>,
    /// Argon2's memory cost, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pbkdf_memory_kib: Option<u32>,
    /// Argon2's parallel threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pbkdf_threads: Option<u32>,
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Size of the opened device, bytes.
    pub size: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pv {
    pub device: String,
    pub uuid: String,
    pub vg: String,
    pub size: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vg {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Bytes.
    pub extent_size: u64,
    pub size: u64,
    /// Unallocated bytes at capture time (what a smaller disk may take away).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lv {
    pub vg: String,
    pub name: String,
    /// `/dev/mapper/<vg>-<lv>` (dashes in names doubled).
    pub device: String,
    /// `linear`, `striped`, `mirror`, `raid0`, `raid1`, `raid4`, `raid5`,
    /// `raid6`, `raid10`, `thin-pool`, `thin`.
    pub segtype: String,
    /// Bytes; for a thin volume, its virtual size.
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirrors: Option<u32>,
    /// For thin volumes: the pool LV's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// For thin pools, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u64>,
    /// Where a linear LV's extents lie, in its logical order; empty when
    /// not captured (layouts saved before) or not linear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
}

/// A run of physical extents of a logical volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// The PV's device.
    pub pv: String,
    /// First physical extent on it.
    pub start: u64,
    /// Extents.
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    pub device: String,
    /// `ext2`, `ext3`, `ext4`, `xfs`, `btrfs`, `vfat`.
    pub fstype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What mkfs needs to make it the same: for ext `block_size`,
    /// `inode_size`, `features`, `reserved_percent`, `bytes_per_inode`;
    /// for xfs `block_size`, `inode_size`, `crc`, `finobt`, `reflink`,
    /// `rmapbt`, `bigtime`, `inobtcount`, `sunit`, `swidth`, `log_size`;
    /// for btrfs `nodesize`, `sectorsize`, `data_profile`,
    /// `metadata_profile`, `features`; for vfat `fat_size`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
    /// btrfs: every member device (the first is `device`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subvolumes: Vec<Subvolume>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subvolume {
    /// Path below the top level, `@`, `@home`, `data/projects`.
    pub path: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nocow: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swap {
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub options: String,
    /// btrfs subvolume mounted there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subvolume: Option<String>,
}

/// Mount options that give the files of a file system without Unix
/// owners and modes (FAT, exFAT, NTFS) the ones they show.
const OWNER_OPTIONS: &[&str] = &["uid", "gid", "umask", "fmask", "dmask", "allow_utime"];

impl Mount {
    /// Where it goes below `root` (`/mnt/local` + `/home`; the root itself
    /// at `root`).
    pub fn below(&self, root: &str) -> String {
        let at = format!(
            "{}{}",
            root.trim_end_matches('/'),
            if self.mountpoint == "/" {
                ""
            } else {
                &self.mountpoint
            }
        );
        if at.is_empty() {
            "/".to_string()
        } else {
            at
        }
    }

    /// Whether owners and modes on this file system come from its mount
    /// options rather than from the file system.
    pub fn modes_from_options(fstype: &str) -> bool {
        matches!(fstype, "vfat" | "msdos" | "exfat" | "ntfs" | "ntfs3")
    }

    /// The options among `options` that set owners and modes (`fmask=0077`).
    pub fn owner_options(options: &str) -> Vec<&str> {
        options
            .split(',')
            .filter(|o| OWNER_OPTIONS.contains(&o.split_once('=').map_or(*o, |(k, _)| k)))
            .collect()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    #[default]
    Bios,
    Uefi,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    pub firmware: Firmware,
    /// The EFI system partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esp: Option<String>,
    /// Disks GRUB was installed to (BIOS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grub_disks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub efi_entries: Vec<EfiEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EfiEntry {
    pub number: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partuuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub device: String,
    pub what: String,
}

impl Layout {
    /// The mounted file systems (not swap) in the order they are mounted:
    /// `/` first, then by depth, then by name.
    pub fn mounts_in_order(&self) -> Vec<&Mount> {
        let mut mounts: Vec<&Mount> = self.mounts.iter().filter(|m| m.fstype != "swap").collect();
        mounts.sort_by_key(|m| {
            (
                if m.mountpoint == "/" {
                    0
                } else {
                    m.mountpoint.matches('/').count()
                },
                m.mountpoint.clone(),
            )
        });
        mounts
    }

    pub fn new() -> Layout {
        Layout {
            schema: SCHEMA,
            ..Default::default()
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("layouts serialize");
        s.push('\n');
        s
    }

    pub fn from_json(text: &str) -> Result<Layout, String> {
        let l: Layout = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if l.schema != SCHEMA {
            return Err(format!(
                "layout schema {} is not supported (this rear-build reads schema {SCHEMA})",
                l.schema
            ));
        }
        crate::validate::check(&l)?;
        Ok(l)
    }

    pub fn disk(&self, device: &str) -> Option<&Disk> {
        self.disks.iter().find(|d| d.device == device)
    }
}

/// `/dev/vda` + 1 → `/dev/vda1`; `/dev/nvme0n1` + 1 → `/dev/nvme0n1p1`.
pub use rear_ptable::partition_device;

/// `/dev/mapper/<vg>-<lv>` with dashes doubled, as device-mapper names them.
pub fn lv_device(vg: &str, lv: &str) -> String {
    format!(
        "/dev/mapper/{}-{}",
        vg.replace('-', "--"),
        lv.replace('-', "--")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(partition_device("/dev/vda", 2), "/dev/vda2");
        assert_eq!(partition_device("/dev/nvme0n1", 1), "/dev/nvme0n1p1");
        assert_eq!(partition_device("/dev/md0", 1), "/dev/md0p1");
        assert_eq!(lv_device("vg-a", "root"), "/dev/mapper/vg--a-root");
    }

    /// A layout saved before arrays had partition tables, containers and
    /// LVs segments still loads, the new fields at their defaults; one with
    /// them round-trips.
    #[test]
    fn layouts_saved_before_segments_and_array_tables_still_load() {
        let old = r#"{
  "schema": 1,
  "disks": [{"device": "/dev/vda", "size": 1073741824}, {"device": "/dev/vdb", "size": 1073741824}],
  "raids": [{"device": "/dev/md0", "level": "raid1", "devices": ["/dev/vda", "/dev/vdb"],
             "metadata": "1.2", "uuid": "0:1:2:3", "size": 1064304640}],
  "pvs": [{"device": "/dev/md0", "uuid": "u", "vg": "vg", "size": 1064304640}],
  "vgs": [{"name": "vg", "extent_size": 4194304, "size": 1060110336}],
  "lvs": [{"vg": "vg", "name": "root", "device": "/dev/mapper/vg-root", "segtype": "linear", "size": 104857600}]
}"#;
        let l = Layout::from_json(old).unwrap();
        let r = &l.raids[0];
        assert_eq!((r.label, r.member_size), (None, None));
        assert!(r.partitions.is_empty() && r.identifier.is_none());
        assert!(l.lvs[0].segments.is_empty());
        // Nothing new is written for them either.
        let json = l.to_json();
        for k in ["segments", "partitions", "member_size", "identifier"] {
            assert!(!json.contains(k), "{k} in {json}");
        }
        let l = crate::scenarios::partitioned_raid1_lvm();
        assert_eq!(Layout::from_json(&l.to_json()).unwrap(), l);
        let l = crate::scenarios::imsm_raid1();
        assert_eq!(Layout::from_json(&l.to_json()).unwrap(), l);
    }

    #[test]
    fn json_round_trip_and_schema_check() {
        let mut l = Layout::new();
        l.disks.push(Disk {
            device: "/dev/vda".into(),
            size: 1 << 30,
            logical_sector_size: 512,
            physical_sector_size: 512,
            label: Some(Label::Gpt),
            partitions: vec![Partition {
                number: 1,
                device: "/dev/vda1".into(),
                start: 1 << 20,
                size: 100 << 20,
                type_: crate::gpt::ESP.into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let back = Layout::from_json(&l.to_json()).unwrap();
        assert_eq!(back, l);
        let err = Layout::from_json(r#"{"schema": 99}"#).unwrap_err();
        assert!(err.contains("schema 99"), "{err}");
        let err = Layout::from_json(r#"{"schema": 1, "diskz": []}"#).unwrap_err();
        assert!(err.contains("diskz"), "{err}");
    }
}
