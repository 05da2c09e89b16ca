//! One command to run: argv, environment, working directory, standard
//! input, and the secrets it carries (which never go on argv).

use std::ffi::{OsStr, OsString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Call {
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    unset: Vec<OsString>,
    dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    /// Streams: the command's stdin read from, or its stdout written to,
    /// a pipe the caller holds the other end of.
    stdin_fd: Option<Arc<OwnedFd>>,
    stdout_fd: Option<Arc<OwnedFd>>,
    secrets: Vec<String>,
}

/// A pipe: (read end, write end), closed on exec (a child gets only the
/// end a call hands it).
pub fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both are open and owned by nothing else.
    Ok(unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    })
}

impl Call {
    /// A call of `program` with no arguments yet.
    pub fn new(program: impl AsRef<OsStr>) -> Call {
        Call {
            argv: vec![program.as_ref().to_owned()],
            ..Default::default()
        }
    }

    /// A call of a whole argv (program first).
    pub fn argv<I, S>(argv: I) -> Call
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Call {
            argv: argv.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            ..Default::default()
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Call {
        self.argv.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Call
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.argv
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets a variable in the command's environment, on top of the
    /// inherited one (never logged).
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Call {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    /// Sets a variable whose value is secret: it is also redacted from
    /// every text about this call.
    pub fn env_secret(self, k: impl AsRef<OsStr>, v: &str) -> Call {
        self.env(k, v).secret(v)
    }

    /// Removes a variable from the inherited environment (so a configured
    /// file wins over a variable the tool would otherwise prefer).
    pub fn unset(mut self, k: impl AsRef<OsStr>) -> Call {
        self.unset.push(k.as_ref().to_owned());
        self
    }

    /// The command's working directory.
    pub fn dir(mut self, d: impl AsRef<Path>) -> Call {
        self.dir = Some(d.as_ref().to_path_buf());
        self
    }

    /// Bytes for the command's standard input (never logged: may be
    /// secret). Without it the command reads /dev/null, so no tool can stop
    /// to ask.
    pub fn stdin(mut self, data: Vec<u8>) -> Call {
        self.stdin = Some(data);
        self
    }

    /// The command reads its standard input from `from` (the read end of
    /// a [`pipe`] another thread writes; drop the call when the command
    /// ends, so the writer sees the pipe close).
    pub fn stdin_from(mut self, from: impl Into<OwnedFd>) -> Call {
        self.stdin_fd = Some(Arc::new(from.into()));
        self
    }

    /// The command writes its standard output to `to` (the write end of a
    /// [`pipe`] another thread reads; drop the call when the command ends,
    /// so the reader sees the end of the data). Its output is not captured.
    pub fn stdout_to(mut self, to: impl Into<OwnedFd>) -> Call {
        self.stdout_fd = Some(Arc::new(to.into()));
        self
    }

    /// The call without its pipe ends (a record of it: a kept end would
    /// keep the pipe open, and its other end waiting).
    pub(crate) fn without_streams(&self) -> Call {
        Call {
            stdin_fd: None,
            stdout_fd: None,
            ..self.clone()
        }
    }

    /// A value that must never appear in a log, an error or argv: redacted
    /// from every text, and a call with it on argv is refused.
    pub fn secret(mut self, s: &str) -> Call {
        let s = s.trim_end_matches(['\n', '\r']);
        if !s.is_empty() {
            self.secrets.push(s.to_string());
        }
        self
    }

    pub fn program(&self) -> &OsStr {
        self.argv.first().map_or(OsStr::new(""), |p| p.as_os_str())
    }

    /// The arguments after the program.
    pub fn args_os(&self) -> &[OsString] {
        self.argv.get(1..).unwrap_or_default()
    }

    /// The whole argv as text (for tests and messages; lossy for non-UTF-8).
    pub fn argv_lossy(&self) -> Vec<String> {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    pub fn env_vars(&self) -> &[(OsString, OsString)] {
        &self.env
    }

    /// The value set for `k` by [`Call::env`], if any.
    pub fn env_value(&self, k: &str) -> Option<&OsStr> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_os_str())
    }

    pub fn unset_vars(&self) -> &[OsString] {
        &self.unset
    }

    pub fn working_dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn input(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    pub fn input_fd(&self) -> Option<&OwnedFd> {
        self.stdin_fd.as_deref()
    }

    pub fn output_fd(&self) -> Option<&OwnedFd> {
        self.stdout_fd.as_deref()
    }

    /// The command line as a shell would take it, redacted: for logs and
    /// errors.
    pub fn line(&self) -> String {
        self.redact(&crate::quote_argv(&self.argv_lossy()))
    }

    /// `text` with this call's secrets, and every secret-looking option or
    /// URL password, masked.
    pub fn redact(&self, text: &str) -> String {
        crate::redact(text, &self.secrets)
    }

    /// What secret would be on argv, if one would.
    pub(crate) fn secret_on_argv(&self) -> Option<String> {
        for a in &self.argv {
            let a = a.to_string_lossy();
            if self.secrets.iter().any(|s| a.contains(s.as_str())) {
                return Some("a secret value".into());
            }
            if let Some(opt) = crate::redact::secret_option(&a) {
                return Some(format!("a {opt}= option"));
            }
        }
        None
    }
}
