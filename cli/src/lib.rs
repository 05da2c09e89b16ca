//! The `rear-build` command: clap types (`cli`), the configuration file
//! (`config`), the commands' bodies and workflows, and the terminal UI.
//! Everything it does goes through the crates below it: the image builder,
//! layout, backup, finalize, and exec for every external command.

pub mod backupcmd;
pub mod cli;
pub mod config;
pub mod layoutcmd;
pub mod paths;
pub mod recover;
pub mod ui;
