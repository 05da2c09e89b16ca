//! Host name, sshd, shell history, and the unattended modes (`run:`, `recover`).

use std::ffi::OsString;
use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::errno::Errno;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::{console, exec, power};

/// The text of /root/.bash_history: one entry per line, oldest first. Trailing line breaks of
/// an entry are dropped, empty entries skipped.
pub fn format_history(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| l.trim_end_matches(['\n', '\r']))
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `text` with a line break at the end (unless it is empty).
pub fn ensure_trailing_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

pub(crate) fn set_hostname(name: &str) {
    let name = name.trim();
    if name.is_empty() {
        return;
    }
    say!("hostname {name}");
    if let Err(e) = nix::unistd::sethostname(name) {
        say!("sethostname {name}: {e}");
    }
}

/// Loads the host's console key map, so the keyboard types on recovery day
/// what it types on the machine.
pub(crate) fn load_keymap(keymap: Option<&str>) {
    let Some(map) = keymap else { return };
    let Some(loadkeys) = exec::find_program("loadkeys") else {
        say!("keymap {map}: loadkeys is not in the image (package kbd); keeping the kernel's key map");
        return;
    };
    match exec::run(&[loadkeys.to_string_lossy().as_ref(), "-q", map]) {
        Ok(_) => say!("keymap {map} loaded"),
        Err(e) => say!("keymap {map}: {e}"),
    }
}

/// Starts sshd when the configuration asks for it and root has authorized keys.
pub(crate) fn start_sshd(enabled: bool) {
    if !enabled {
        return;
    }
    let keys = Path::new("/root/.ssh/authorized_keys");
    if !keys.exists() {
        say!("sshd: {} missing; not starting sshd", keys.display());
        return;
    }
    say!("starting sshd");
    match exec::find_program("ssh-keygen") {
        Some(keygen) => {
            if let Err(e) = exec::run(&[keygen.to_string_lossy().as_ref(), "-A"]) {
                say!("{e}");
            }
        }
        None => say!("ssh-keygen not found; host keys are not generated"),
    }
    let privsep = Path::new("/run/sshd");
    if let Err(e) = DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(privsep)
    {
        say!("mkdir {}: {e}", privsep.display());
    }
    let _ = std::fs::set_permissions(privsep, Permissions::from_mode(0o755));
    let sshd = Some(PathBuf::from("/usr/sbin/sshd"))
        .filter(|p| exec::is_executable(p))
        .or_else(|| exec::find_program("sshd"));
    let Some(sshd) = sshd else {
        say!("sshd not found");
        return;
    };
    // sshd must be started with an absolute path (it re-executes itself); it daemonizes.
    if let Err(e) = exec::run(&[sshd.to_string_lossy().as_ref()]) {
        say!("{e}");
    }
}

/// Writes the recovery commands to /root/.bash_history (mode 0600).
pub(crate) fn write_history(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let path = Path::new("/root/.bash_history");
    say!("writing {}", path.display());
    let _ = DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create("/root");
    let result = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| {
            f.set_permissions(Permissions::from_mode(0o600))?;
            f.write_all(format_history(lines).as_bytes())
        });
    if let Err(e) = result {
        say!("{}: {e}", path.display());
    }
}

/// `rear.auto=run:PATH`: runs the script, announces its exit code, powers off.
pub(crate) fn run_script_and_poweroff(script: &Path, consoles: &[PathBuf]) {
    let argv: Vec<OsString> = if exec::is_executable(script) {
        vec![script.into()]
    } else {
        let shell = if exec::is_executable(Path::new("/bin/bash")) {
            "/bin/bash"
        } else {
            "/bin/sh"
        };
        vec![shell.into(), script.into()]
    };
    let code = run_foreground(&argv);
    console::write_consoles(consoles, &format!("{}{code}\n", super::RUN_EXIT_PREFIX));
    power::poweroff();
}

/// `rear.auto=recover`: runs `rear-build recover --unattended`, announces its exit code,
/// powers off.
pub(crate) fn run_recover_and_poweroff(consoles: &[PathBuf]) {
    let program = exec::find_program("rear-build")
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| PathBuf::from("/usr/bin/rear-build"));
    let mut argv: Vec<OsString> = vec![program.into(), "recover".into(), "--unattended".into()];
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    for m in super::cmdline::recover_maps(&cmdline) {
        argv.push("--map".into());
        argv.push(m.into());
    }
    let code = run_foreground(&argv);
    console::write_consoles(consoles, &format!("{}{code}\n", super::RUN_EXIT_PREFIX));
    power::poweroff();
}

/// Runs a command in its own session with stdin from /dev/null and stdout/stderr on
/// /dev/console, reaping every other child while waiting; returns its exit code (128+signal
/// when killed, 127 when it cannot be started).
fn run_foreground(argv: &[OsString]) -> i32 {
    let shown: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let shown = exec::display_cmdline(&shown);
    say!("running {shown}");
    let Some((program, args)) = argv.split_first() else {
        return 127;
    };
    let mut cmd = exec::command(program);
    cmd.args(args).current_dir("/");
    if let Ok(out) = console::open_tty(Path::new("/dev/console"), true) {
        if let Ok(err) = out.try_clone() {
            cmd.stderr(Stdio::from(err));
        }
        cmd.stdout(Stdio::from(out));
    }
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let pid = match cmd.spawn() {
        Ok(child) => Pid::from_raw(child.id() as i32),
        Err(e) => {
            say!("{}", exec::spawn_error_text(&program.to_string_lossy(), &e));
            return 127;
        }
    };
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(status) if status.pid() == Some(pid) => {
                if let Some(code) = exec::wait_status_code(&status) {
                    say!("{shown} exited with {code}");
                    return code;
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                say!("waiting for {shown}: {e}");
                return 255;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_lines() {
        let lines: Vec<String> = ["rear-build recover", "", "  ", "lsblk\n", "echo 'a  b'\r\n"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            format_history(&lines),
            "rear-build recover\nlsblk\necho 'a  b'\n"
        );
        assert_eq!(format_history(&[]), "");
    }

    #[test]
    fn banners() {
        assert_eq!(ensure_trailing_newline(""), "");
        assert_eq!(ensure_trailing_newline("hi"), "hi\n");
        assert_eq!(ensure_trailing_newline("a\nb\n"), "a\nb\n");
    }
}
