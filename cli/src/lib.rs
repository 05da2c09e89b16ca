//! The `rear-build` command: clap types (`cmdline`), the settings and the
//! configuration file (`config`), the commands' bodies (`commands`,
//! `layoutcmd`, `backupcmd`), copying an image's results elsewhere
//! (`push`), to and from an OCI registry (`ocicmd`), the workflows (`workflows`), every default location (`paths`)
//! and the terminal UI (`ui`).
//! Everything it does goes through the crates below it: the image builder,
//! layout, backup, finalize, and exec for every external command.

pub mod backupcmd;
pub mod cmdline;
pub mod commands;
pub mod config;
pub mod layoutcmd;
pub mod ocicmd;
pub mod paths;
pub mod pinning;
pub mod push;
pub mod rearcmd;
pub mod signcmd;
pub mod ui;
pub mod usbcmd;
pub mod workflows;
