//! The one runner for external commands. Every program rear-build runs (on
//! the host, in the rescue system, for capture, recreation, backup and
//! finalize) goes through [`Exec`]: the exact command line goes to the run
//! log before it runs and its outcome after, its stderr is captured, and a
//! failure becomes an [`Error`] that says what ran, how it ended and what it
//! printed. Secrets never reach a log, an error message or a process's argv
//! (which every user of the machine can read in /proc): a [`Call`] names its
//! secrets, they are redacted from every text, and a call that would put one
//! on its command line is refused before anything runs.
//!
//! [`System`] runs real programs; [`Fake`] records calls and answers them,
//! for tests. The logging and redaction live in the trait's provided
//! methods, so a fake's calls are logged exactly as real ones.

mod call;
mod fake;
mod quote;
mod redact;
mod secret_file;
mod system;

pub use call::{pipe, Call};
pub use fake::Fake;
pub use quote::{quote, quote_argv};
pub use redact::{redact, secret_option};
pub use secret_file::check_secret_file;
pub use system::System;

use std::time::Instant;

/// How a finished command ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code; -1 when a signal ended it.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// A successful run that printed `stdout`.
    pub fn ok(stdout: impl Into<String>) -> Output {
        Output {
            stdout: stdout.into(),
            ..Default::default()
        }
    }

    /// A run that exited with `code` after printing `stderr`.
    pub fn fail(code: i32, stderr: impl Into<String>) -> Output {
        Output {
            code,
            stderr: stderr.into(),
            ..Default::default()
        }
    }

    pub fn success(&self) -> bool {
        self.code == 0
    }
}

/// Why a call did not succeed. Every text in it is redacted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot run `{line}`: {why} (is {program} installed?)")]
    Spawn {
        line: String,
        program: String,
        why: String,
    },
    #[error("`{line}` failed (exit status: {code}): {stderr}")]
    Failed {
        line: String,
        code: i32,
        stderr: String,
    },
    #[error("refusing to run `{line}`: {what} would be on its command line, where every user of this machine can read it; {hint}")]
    SecretOnArgv {
        line: String,
        what: String,
        hint: &'static str,
    },
}

impl Error {
    /// The command's standard error when it ran and failed.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            Error::Failed { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

/// Runs external commands. Implementors provide [`Exec::execute`]; callers
/// use [`Exec::output`] and [`Exec::run`], which check, log and redact.
pub trait Exec: Sync {
    /// Runs the call to its end and returns how it ended, whatever the exit
    /// code; an error only when it could not run at all.
    fn execute(&self, c: &Call) -> std::io::Result<Output>;

    /// Runs the call and returns its output whatever the exit code (for
    /// tools whose exit 1 is a warning, like tar's "file changed"). Fails
    /// only when it cannot run, or would put a secret on its command line.
    /// The output's texts are redacted.
    fn output(&self, c: &Call) -> Result<Output, Error> {
        let line = c.line();
        if let Some(what) = c.secret_on_argv() {
            log::debug!("refused: {line} ({what} on the command line)");
            return Err(Error::SecretOnArgv {
                line,
                what,
                hint: "pass it through a file or the environment",
            });
        }
        log::debug!("running: {line}");
        let started = Instant::now();
        let out = self.execute(c).map_err(|e| {
            log::debug!("cannot run: {line}: {e}");
            Error::Spawn {
                line: line.clone(),
                program: c.program().to_string_lossy().into_owned(),
                why: c.redact(&e.to_string()),
            }
        })?;
        let out = Output {
            code: out.code,
            stdout: c.redact(&out.stdout),
            stderr: c.redact(&out.stderr),
        };
        let how = match out.code {
            0 => "ok".to_string(),
            -1 => "killed by a signal".to_string(),
            n => format!("exit {n}"),
        };
        log::debug!(
            "{how} after {:.2} s: {line}",
            started.elapsed().as_secs_f64()
        );
        if !out.stderr.trim().is_empty() {
            log::debug!("stderr of {line}: {}", out.stderr.trim());
        }
        Ok(out)
    }

    /// Runs the call; its standard output, or an error on a non-zero exit
    /// that names the command, its exit code and its stderr.
    fn run(&self, c: &Call) -> Result<String, Error> {
        let out = self.output(c)?;
        if out.code != 0 {
            return Err(Error::Failed {
                line: c.line(),
                code: out.code,
                stderr: out.stderr.trim().to_string(),
            });
        }
        Ok(out.stdout)
    }
}
