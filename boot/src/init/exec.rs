//! Starting external programs from PID 1.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::wait::WaitStatus;

/// Finds `name` in the colon-separated `path` list like a shell does: the first regular file
/// with an execute bit. A name containing `/` is taken as is (if it is executable).
pub fn which(name: &str, path: &str) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(name))
        .find(|p| is_executable(p))
}

/// True for a regular file (after following symlinks) with at least one execute bit.
pub(crate) fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// [`which`] with the rescue system's `PATH`.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    which(name, super::RESCUE_PATH)
}

/// The exit code a shell would report for a finished process: the exit status, or 128 plus
/// the signal number for a killed one. `None` for stop/continue notifications.
pub fn wait_status_code(status: &WaitStatus) -> Option<i32> {
    match *status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Like [`wait_status_code`] for a [`std::process::ExitStatus`].
pub(crate) fn exit_status_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(255)
}

/// A `Command` for a child of PID 1: the signal dispositions PID 1 changed are reset to their
/// defaults and the child runs with stdin from `/dev/null` unless the caller says otherwise.
pub(crate) fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null());
    // SAFETY: the closure only calls async-signal-safe functions (signal, sigprocmask).
    unsafe {
        cmd.pre_exec(|| {
            reset_signals_in_child();
            Ok(())
        });
    }
    cmd
}

/// Restores default dispositions and an empty signal mask; called between fork and exec.
pub(crate) fn reset_signals_in_child() {
    // SAFETY: signal() and sigprocmask() are async-signal-safe and take no Rust-owned data.
    unsafe {
        for sig in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGPIPE,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
            libc::SIGCHLD,
        ] {
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Why an external command failed.
#[derive(Debug)]
pub struct CmdError {
    /// The command line, as logged.
    pub cmdline: String,
    /// Exit code (128+signal for a killed command); `None` when it could not be started.
    pub code: Option<i32>,
    /// What it wrote to stderr (trimmed), or why it could not be started.
    pub stderr: String,
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "`{}` failed with exit code {code}", self.cmdline)?,
            None => write!(f, "`{}` could not be started", self.cmdline)?,
        }
        if !self.stderr.is_empty() {
            write!(f, ": {}", self.stderr)?;
        }
        Ok(())
    }
}

impl std::error::Error for CmdError {}

/// Commands with more arguments than this are logged with the rest elided.
const LOG_MAX_ARGS: usize = 10;

/// The command line as it is logged: words separated by spaces, words with special
/// characters in single quotes; after [`LOG_MAX_ARGS`] words, `... (+N more)`.
pub(crate) fn display_cmdline<S: AsRef<str>>(argv: &[S]) -> String {
    let shown = &argv[..argv.len().min(LOG_MAX_ARGS)];
    // Redacted as rear-exec redacts its calls: a password option or a URL
    // password never reaches the console or the log.
    let mut text = rear_exec::redact(&rear_exec::quote_argv(shown), &[]);
    if argv.len() > LOG_MAX_ARGS {
        text.push_str(&format!(" ... (+{} more)", argv.len() - LOG_MAX_ARGS));
    }
    text
}

/// Logs `argv` on the console and builds its Command: (command line, program, command).
fn prepare<'a, S: AsRef<str>>(
    argv: &'a [S],
    suffix: &str,
) -> Result<(String, &'a str, Command), CmdError> {
    let cmdline = display_cmdline(argv);
    say!("+ {cmdline}{suffix}");
    let Some((program, args)) = argv.split_first() else {
        return Err(CmdError {
            cmdline,
            code: None,
            stderr: "empty command".into(),
        });
    };
    let mut cmd = command(program.as_ref());
    cmd.args(args.iter().map(|a| a.as_ref()));
    Ok((cmdline, program.as_ref(), cmd))
}

/// Runs `argv` to completion: logs the command line on the console, lets its stdout go to the
/// console, captures its stderr and returns an error with the exit code and stderr when it
/// fails. Stderr is captured in an unlinked file rather than a pipe so that a command that
/// leaves a daemon behind (sshd, dhclient) cannot keep us waiting for end-of-file.
pub(crate) fn run<S: AsRef<str>>(argv: &[S]) -> Result<(), CmdError> {
    let (cmdline, program, mut cmd) = prepare(argv, "")?;
    let capture = capture_file().and_then(|f| {
        let for_child = f.try_clone().ok()?;
        cmd.stderr(for_child);
        Some(f)
    });
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) => {
            return Err(CmdError {
                cmdline,
                code: None,
                stderr: spawn_error_text(program, &e),
            })
        }
    };
    if status.success() {
        return Ok(());
    }
    let stderr = capture.map(read_capture).unwrap_or_default();
    Err(CmdError {
        cmdline,
        code: Some(exit_status_code(status)),
        stderr,
    })
}

/// Starts `argv` in the background (stdout and stderr to the console) and returns its PID;
/// PID 1's reaping loop collects it later.
pub(crate) fn spawn_background<S: AsRef<str>>(argv: &[S]) -> Result<u32, CmdError> {
    let (cmdline, program, mut cmd) = prepare(argv, " &")?;
    cmd.spawn().map(|child| child.id()).map_err(|e| CmdError {
        cmdline,
        code: None,
        stderr: spawn_error_text(program, &e),
    })
}

pub(crate) fn spawn_error_text(program: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("{program}: not found")
    } else {
        format!("{program}: {e}")
    }
}

/// An anonymous file for a child's stderr, in the first writable of /run, /tmp and the
/// process's temporary directory.
fn capture_file() -> Option<File> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!(".rear-init-stderr-{}-{n}", std::process::id());
    let dirs = [
        PathBuf::from("/run"),
        PathBuf::from("/tmp"),
        std::env::temp_dir(),
    ];
    for dir in dirs {
        let p = dir.join(&name);
        if let Ok(f) = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&p)
        {
            let _ = std::fs::remove_file(&p);
            return Some(f);
        }
    }
    None
}

/// The last few KiB of a capture file, trimmed, as text.
fn read_capture(mut f: File) -> String {
    const KEEP: u64 = 4096;
    let len = f.seek(SeekFrom::End(0)).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(KEEP)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn which_finds_executables_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("tool"), "").unwrap(); // not executable
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(a.join("dir")).unwrap();
        let path = format!("{}::{}", a.display(), b.display());
        assert_eq!(which("tool", &path), Some(b.join("tool")));
        assert_eq!(which("dir", &path), None);
        assert_eq!(which("missing", &path), None);
        assert_eq!(which("", &path), None);
        let abs = b.join("tool");
        assert_eq!(which(abs.to_str().unwrap(), ""), Some(abs));
        assert_eq!(which(a.join("tool").to_str().unwrap(), &path), None);
    }

    #[test]
    fn status_codes() {
        let pid = Pid::from_raw(7);
        assert_eq!(wait_status_code(&WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            wait_status_code(&WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(
            wait_status_code(&WaitStatus::Stopped(pid, Signal::SIGSTOP)),
            None
        );
        assert_eq!(exit_status_code(ExitStatus::from_raw(2 << 8)), 2);
        assert_eq!(exit_status_code(ExitStatus::from_raw(15)), 143);
    }

    #[test]
    fn cmdline_display_quotes() {
        assert_eq!(
            display_cmdline(&["ip", "addr", "add", "192.0.2.1/24", "dev", "eth0"]),
            "ip addr add 192.0.2.1/24 dev eth0"
        );
        assert_eq!(
            display_cmdline(&["sh", "-c", "echo it's"]),
            "sh -c 'echo it'\\''s'"
        );
        assert_eq!(display_cmdline(&["a", ""]), "a ''");
        let long: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        assert_eq!(display_cmdline(&long), "0 1 2 3 4 5 6 7 8 9 ... (+15 more)");
    }

    #[test]
    fn run_reports_exit_code_and_stderr() {
        run(&["sh", "-c", "exit 0"]).unwrap();
        let e = run(&["sh", "-c", "echo first >&2; echo oops >&2; exit 3"]).unwrap_err();
        assert_eq!(e.code, Some(3));
        assert_eq!(e.stderr, "first\noops");
        let text = e.to_string();
        assert!(
            text.contains("exit code 3") && text.contains("oops"),
            "{text}"
        );
        let e = run(&["sh", "-c", "kill -9 $$"]).unwrap_err();
        assert_eq!(e.code, Some(137));
    }

    #[test]
    fn run_reports_missing_programs() {
        let e = run(&["/nonexistent/rear-init-test-program", "x"]).unwrap_err();
        assert_eq!(e.code, None);
        assert!(e.stderr.contains("not found"), "{e}");
        let e = run::<&str>(&[]).unwrap_err();
        assert!(e.to_string().contains("empty"));
    }

    #[test]
    fn children_get_default_signal_dispositions() {
        // With SIGINT ignored in the parent, a child must still see the default disposition
        // (bit SIGINT-1 of the SigIgn mask in /proc/self/status must be clear).
        use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: installs SIG_IGN, no handler code involved; restored right after.
        let old = unsafe { sigaction(Signal::SIGINT, &ignore) }.unwrap();
        let out = command("sh")
            .args(["-c", "grep SigIgn /proc/self/status"])
            .output();
        // SAFETY: restores the previous disposition.
        unsafe { sigaction(Signal::SIGINT, &old) }.unwrap();
        let out = out.unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mask = u64::from_str_radix(text.split_whitespace().nth(1).unwrap_or("0"), 16).unwrap();
        assert_eq!(mask & (1 << (libc::SIGINT - 1)), 0, "{text}");
    }

    #[test]
    fn background_spawn() {
        let pid = spawn_background(&["sh", "-c", "exit 0"]).unwrap();
        assert!(pid > 0);
        let _ = nix::sys::wait::waitpid(Pid::from_raw(pid as i32), None);
        assert!(spawn_background(&["/nonexistent/x"]).is_err());
    }
}
