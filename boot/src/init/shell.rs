//! Signals of PID 1 and the shells on the consoles.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{console, exec};

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Makes SIGINT, SIGTERM and SIGHUP do nothing in PID 1. A no-op handler rather than SIG_IGN:
/// handlers are reset to the default by exec, so children never inherit the "ignored" state
/// (they also reset it explicitly, see [`exec::command`]).
pub(crate) fn ignore_init_signals() {
    let action = SigAction::new(
        SigHandler::Handler(ignore_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler does nothing, so it is trivially async-signal-safe.
        if let Err(e) = unsafe { sigaction(sig, &action) } {
            say!("sigaction {sig}: {e}");
        }
    }
}

/// A console and its shell.
struct Slot {
    path: PathBuf,
    pid: Option<Pid>,
    last_spawn: Option<Instant>,
    retry_at: Option<Instant>,
}

/// Respawning a shell on the same console happens at most this often.
const RESPAWN_INTERVAL: Duration = Duration::from_secs(1);
/// After a failed spawn, the console is tried again after this long.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Keeps a shell running on every console and reaps every child (orphans included). Never
/// returns.
pub(crate) fn shell_loop(consoles: &[PathBuf], banner: &str) {
    let banner = super::ensure_trailing_newline(banner);
    let mut slots: Vec<Slot> = consoles
        .iter()
        .map(|p| Slot {
            path: p.clone(),
            pid: None,
            last_spawn: None,
            retry_at: None,
        })
        .collect();
    loop {
        for slot in slots.iter_mut().filter(|s| s.pid.is_none()) {
            if slot.retry_at.is_some_and(|t| Instant::now() < t) {
                continue;
            }
            if let Some(last) = slot.last_spawn {
                let since = last.elapsed();
                if since < RESPAWN_INTERVAL {
                    std::thread::sleep(RESPAWN_INTERVAL - since);
                }
                // a respawn: the banner again (the first time it came with the ready marker)
                if !banner.is_empty() {
                    console::write_consoles(std::slice::from_ref(&slot.path), &banner);
                }
            }
            slot.last_spawn = Some(Instant::now());
            match spawn_shell(&slot.path) {
                Ok(pid) => {
                    slot.pid = Some(pid);
                    slot.retry_at = None;
                }
                Err(e) => {
                    say!("shell on {}: {e}", slot.path.display());
                    slot.retry_at = Some(Instant::now() + RETRY_AFTER_FAILURE);
                }
            }
        }

        let waiting_for_retry = slots.iter().any(|s| s.pid.is_none());
        if waiting_for_retry {
            // Some console has no shell: reap without blocking and come back soon.
            loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(status) => note_exit(&mut slots, status),
                }
            }
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        match waitpid(Pid::from_raw(-1), None) {
            Ok(status) => note_exit(&mut slots, status),
            Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => {
                // Our shells are gone without us noticing: start them again.
                for slot in &mut slots {
                    slot.pid = None;
                }
            }
            Err(e) => {
                say!("waitpid: {e}");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Frees the slot of a shell that terminated; other children are just reaped.
fn note_exit(slots: &mut [Slot], status: WaitStatus) {
    let Some(code) = exec::wait_status_code(&status) else {
        return;
    };
    let Some(pid) = status.pid() else { return };
    if let Some(slot) = slots.iter_mut().find(|s| s.pid == Some(pid)) {
        say!("shell on {} exited ({code})", slot.path.display());
        slot.pid = None;
    }
}

/// Starts a login shell (no login prompt) in a new session with `tty` as its controlling
/// terminal and as stdin/stdout/stderr.
fn spawn_shell(tty: &Path) -> Result<Pid, String> {
    let shell = if exec::is_executable(Path::new("/bin/bash")) {
        "/bin/bash"
    } else {
        "/bin/sh"
    };
    let f = console::open_tty(tty, false).map_err(|e| format!("open: {e}"))?;
    let dup = |f: &std::fs::File| f.try_clone().map_err(|e| format!("dup: {e}"));
    let (stdin, stdout) = (dup(&f)?, dup(&f)?);
    let home = if Path::new("/root").is_dir() {
        "/root"
    } else {
        "/"
    };
    let mut cmd = exec::command(shell);
    cmd.arg("-l")
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(f))
        .current_dir(home)
        .env("TERM", console::term_for_console(tty));
    // SAFETY: only async-signal-safe calls (setsid, ioctl, write) between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::setsid();
            // Take the terminal even if a former session still holds it (we are root).
            if libc::ioctl(0, libc::TIOCSCTTY as _, 1 as libc::c_int) != 0 {
                let msg = b"rear-init: no controlling terminal, job control is off\n";
                libc::write(2, msg.as_ptr().cast(), msg.len());
            }
            Ok(())
        });
    }
    say!("starting {shell} on {}", tty.display());
    let child = cmd.spawn().map_err(|e| exec::spawn_error_text(shell, &e))?;
    Ok(Pid::from_raw(child.id() as i32))
}
