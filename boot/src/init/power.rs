//! Powering off.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{sync, Pid};

use super::mounts;

/// Stops every process, unmounts what the recovery mounted, syncs and powers off. Returns only
/// when the power-off itself failed.
pub(crate) fn poweroff() {
    say!("powering off");
    sync();
    say!("sending SIGTERM to all processes");
    let _ = kill(Pid::from_raw(-1), Signal::SIGTERM);
    reap_for(Duration::from_secs(2));
    say!("sending SIGKILL to all processes");
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    reap_for(Duration::from_secs(1));
    mounts::unmount_all();
    sync();
    if let Some(e) = reboot(RebootMode::RB_POWER_OFF).err() {
        say!("power off failed: {e}");
    }
}

/// Reaps children until there are none left or `limit` has passed.
fn reap_for(limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(50)),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return, // ECHILD: nobody left
        }
    }
}
