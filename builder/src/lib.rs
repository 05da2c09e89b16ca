//! rear-build: the library behind the `rear-build` binary.

pub mod backupcmd;
pub mod cli;
pub mod config;
pub mod finalize;
pub mod image;
pub mod kernel;
pub mod layer;
pub mod layoutcmd;
pub mod manifest;
pub mod recipe;
pub mod recover;
pub mod rescue;
pub mod run;
pub mod ui;
