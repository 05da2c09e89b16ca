//! What a file needs to run: the ELF closure of programs and libraries
//! (`elf`), and the kernel-module closure with its firmware (`modules`).

pub mod elf;
pub mod modules;
