//! The rescue system's boot side: PID 1 (`init`), and later the boot media writers.

pub mod init;
