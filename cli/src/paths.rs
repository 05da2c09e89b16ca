//! Every place on the host and in the rescue image that rear-build reads or
//! writes by default, in one list. Lower crates that own a location (the
//! backup target's mount point, the rescue init's configuration) define it;
//! it is named here too, so this module is the whole map.

/// The configuration directory (`-c DIR` overrides it).
pub const CONFIG_DIR: &str = "/etc/rear-build";
/// The saved storage layout (`savelayout`, `checklayout`, `image`).
pub const LAYOUT: &str = "/var/lib/rear-build/layout.json";
/// Where the rescue image carries the layout of the machine it was made on.
pub const IMAGE_LAYOUT: &str = "/etc/rear-build/layout.json";
/// Which steps of a layout recreation are done: shared by `recover` and the
/// `-s` script, so either resumes where the other stopped.
pub use rear_layout::progress::DEFAULT_PATH as LAYOUT_STATE;
/// `image`'s output: vmlinuz, initrd.img, manifest.json.
/// ReaR's configuration as rear-build's, written when `rear` (or
/// --rear-config) builds an image, which carries it as
/// /etc/rear-build/conf.d/zz-rear.toml: `recover` in the rescue system
/// reads the same settings however it is called.
pub const REAR_IMPORT: &str = "/var/lib/rear-build/conf.d/zz-rear.toml";

pub const OUTPUT: &str = "/var/lib/rear-build/output";
/// The content-addressed store.
/// The newest image `verify` saw per key and host (docs/provenance.md).
pub const VERIFIED: &str = "/var/lib/rear-build/verified.json";
pub const STORE: &str = "/var/lib/rear-build/store";
/// Run logs, `rear-build-HOST.log`; recover copies its log into the
/// restored system's copy of this directory.
pub const LOG_DIR: &str = "/var/log/rear-build";
/// Where recovery mounts the recreated file systems.
pub const RECOVER_ROOT: &str = "/mnt/local";
/// Where an nfs://, cifs:// or sftp:// `[output] url` is mounted for `push`.
pub use crate::push::MOUNT_POINT as PUSH_MOUNT;
/// Where a mounted backup target (usb://, nfs://, cifs://, sftp:// with tar) goes.
pub use rear_backup::target::MOUNT_POINT as BACKUP_MOUNT;
/// Where `mkbackup` reads the file systems from: a private view of each alone.
pub use rear_backup::view::DIR as BACKUP_VIEW;
/// The rescue init's configuration, in the image.
pub use rear_boot::init::CONFIG_PATH as IMAGE_RESCUE_CONFIG;

/// This run's log for `host`.
pub fn log_file(host: &str) -> std::path::PathBuf {
    std::path::Path::new(LOG_DIR).join(format!("rear-build-{host}.log"))
}
