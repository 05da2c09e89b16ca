//! The rescue system's PID 1.
//!
//! The image builder makes `/init` a symlink to `/usr/bin/rear-build`; the binary's `main()`
//! calls [`run`] when it is started as `init` (or as PID 1). [`run`] mounts the API file systems,
//! loads the kernel modules the hardware and the configuration need, configures the host name,
//! the network and sshd from `/etc/rear-build/rescue.json`, announces `REAR-RESCUE-READY` on
//! every console and then, depending on `rear.auto=` on the kernel command line, offers shells,
//! powers off, or runs a script or the unattended recovery and powers off.
//!
//! Everything that can be decided without touching the system lives in pure functions
//! ([`parse_cmdline`], [`parse_config`], [`collect_modaliases`], [`parse_proc_consoles`],
//! [`format_history`], [`plan_network`], ...) so it can be unit-tested on any machine.
//!
//! PID 1 must never panic (a panicking init is a kernel panic): every boot step runs behind
//! [`std::panic::catch_unwind`], errors are printed and the boot continues where it safely can.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Duration;

/// Prints one `rear-init: ...` line on PID 1's stderr (the console).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::init::log_line(format_args!($($arg)*))
    };
}

mod cmdline;
mod coldplug;
mod config;
mod console;
mod exec;
mod mounts;
mod net;
mod power;
mod rescue;
mod shell;
pub mod timesync;

pub use cmdline::{parse_cmdline, Auto};
pub use coldplug::{collect_modaliases, new_aliases, settled, MODPROBE_BATCH};
pub use config::{parse_config, Interface, Network, RescueConfig, Route};
pub use console::{dedupe_consoles, parse_proc_consoles, term_for_console, ConsoleEntry};
pub use exec::{wait_status_code, which, CmdError};
pub use mounts::{decode_mount_path, unmount_order};
pub use net::{plan_network, read_net_interfaces, NetPlan, NetStep, PresentInterface};
pub use rescue::{ensure_trailing_newline, format_history};

/// Where the builder puts the rescue configuration inside the image.
pub const CONFIG_PATH: &str = "/etc/rear-build/rescue.json";
/// The `PATH` of PID 1 and everything it starts.
pub const RESCUE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Printed on a line of its own on every console once the rescue system is up.
pub const READY_MARKER: &str = "REAR-RESCUE-READY";
/// Prefix of the line printed on every console after `rear.auto=run:`/`recover` finished.
pub const RUN_EXIT_PREFIX: &str = "REAR-RUN-EXIT=";

/// Writes `rear-init: <message>` as one line to stderr, ignoring every error (a closed or
/// broken console must not bring PID 1 down).
#[doc(hidden)]
pub fn log_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = format!("rear-init: {args}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Runs one boot step; a panic inside it is reported and swallowed.
fn step<T>(name: &str, f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(_) => {
            say!("{name}: internal error (panic), continuing");
            None
        }
    }
}

/// Runs as PID 1 of the rescue system. Never returns: ends in a shell loop, or powers off.
pub fn run() -> ! {
    step("signals", shell::ignore_init_signals);
    step("mounts", mounts::mount_api_filesystems);
    step("stdio", mounts::ensure_stdio);
    step("environment", mounts::set_environment);

    let config = step("config", || config::load_config(Path::new(CONFIG_PATH))).unwrap_or_default();

    step("modules", || coldplug::coldplug(&config.modules));
    step("hostname", || rescue::set_hostname(&config.hostname));
    step("keymap", || rescue::load_keymap(config.keymap.as_deref()));
    step("network", || net::configure(&config.network));
    step("time", || timesync::start(config.ntp.clone()));
    step("sshd", || rescue::start_sshd(config.sshd));
    step("history", || rescue::write_history(&config.history));

    let consoles = step("consoles", console::console_paths).unwrap_or_else(console::fallback);
    step("ready", || {
        let banner = ensure_trailing_newline(&config.banner);
        console::write_consoles(&consoles, &format!("{banner}{READY_MARKER}\n"));
    });

    let auto = step("cmdline", read_auto).unwrap_or(Auto::Shell);
    match auto {
        Auto::Shell => {}
        Auto::Poweroff => {
            step("poweroff", power::poweroff);
        }
        Auto::Run(path) => {
            step("run", || rescue::run_script_and_poweroff(&path, &consoles));
        }
        Auto::Recover => {
            step("recover", || rescue::run_recover_and_poweroff(&consoles));
        }
    }
    // Shell mode, or a failed power-off: offer shells forever. The loop only returns by
    // panicking; keep it alive whatever happens, and back off so a persistent bug can't spin.
    loop {
        step("shells", || shell::shell_loop(&consoles, &config.banner));
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Reads `/proc/cmdline` and decides what to do after the boot; unknown values fall back to
/// [`Auto::Shell`] with a message.
fn read_auto() -> Auto {
    let text = match std::fs::read_to_string("/proc/cmdline") {
        Ok(t) => t,
        Err(e) => {
            say!("/proc/cmdline: {e}; starting shells");
            return Auto::Shell;
        }
    };
    match parse_cmdline(&text) {
        Ok(auto) => {
            say!("mode: {}", auto);
            auto
        }
        Err(e) => {
            say!("{e}; starting shells");
            Auto::Shell
        }
    }
}
