//! GPT partition type GUIDs (lowercase, as sfdisk and lsblk print them and
//! the layout stores them), named once for capture, the ReaR import, the
//! planner, finalize and the tests.

/// EFI system partition.
pub const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
/// BIOS boot partition: where GRUB puts its core image on a GPT disk.
pub const BIOS_BOOT: &str = "21686148-6449-6e6f-744e-656564454649";
/// Linux filesystem data.
pub const LINUX_FS: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
/// Linux swap.
pub const SWAP: &str = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f";
/// Linux LVM physical volume.
pub const LINUX_LVM: &str = "e6d6d379-f507-44c2-a23c-238f2a3df928";
/// Linux md RAID member.
pub const LINUX_RAID: &str = "a19d880f-05fc-4d3b-a006-743f0f84911e";
/// PowerPC PReP boot.
pub const PREP: &str = "9e1a2d38-c612-4316-aa26-8b49521e5a8b";
