//! The one runner for external commands: logs the exact command line,
//! captures stderr, and turns a failure into an error that says what ran,
//! how it ended and what it printed.

use anyhow::{bail, Context, Result};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Stdio};

/// Quoting as a shell would need it, shared with the layout plans.
pub use rear_layout::plan::quote as shell_quote;
pub use rear_layout::plan::quote_argv as shell_quote_argv;

pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    /// Bytes for the command's standard input (never logged: may be secret).
    pub fn stdin(mut self, data: Vec<u8>) -> Cmd {
        self.stdin = Some(data);
        self
    }

    /// The command line as a shell would take it, for logs and errors.
    pub fn line(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs to completion; returns stdout. Fails on a non-zero exit.
    pub fn run(&self) -> Result<String> {
        let (code, stdout, stderr) = self.output()?;
        if code != 0 {
            bail!(
                "`{}` failed (exit status: {code}): {}",
                self.line(),
                stderr.trim()
            );
        }
        Ok(stdout)
    }

    /// Runs to completion; (exit code, stdout, stderr) whatever the code
    /// (-1 when killed by a signal). Fails only when it cannot run.
    pub fn output(&self) -> Result<(i32, String, String)> {
        log::debug!("running: {}", self.line());
        let started = std::time::Instant::now();
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot run `{}`: is {} installed?",
                    self.line(),
                    Path::new(&self.program).display()
                )
            })?;
        if let Some(data) = &self.stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().expect("stdin is piped");
            // A command that exits without reading all of it reports its own error.
            let _ = pipe.write_all(data);
        }
        let out = child
            .wait_with_output()
            .with_context(|| format!("wait for `{}`", self.line()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        log::debug!(
            "{} after {:.2} s: {}",
            if out.status.success() { "ok" } else { "failed" },
            started.elapsed().as_secs_f64(),
            self.line()
        );
        if !stderr.trim().is_empty() {
            log::debug!("{}: {}", self.line(), stderr.trim());
        }
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr.into_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_names_command_status_and_stderr() {
        let err = Cmd::new("sh")
            .args(["-c", "echo oops >&2; exit 3"])
            .run()
            .unwrap_err()
            .to_string();
        assert!(err.contains("sh -c 'echo oops >&2; exit 3'"), "{err}");
        assert!(
            err.contains("exit status: 3") && err.contains("oops"),
            "{err}"
        );
    }

    #[test]
    fn missing_program_says_so() {
        let err = format!("{:#}", Cmd::new("/nonexistent/prog").run().unwrap_err());
        assert!(err.contains("cannot run `/nonexistent/prog`"), "{err}");
    }

    #[test]
    fn stdin_is_fed() {
        let out = Cmd::new("cat").stdin(b"fed\n".to_vec()).run().unwrap();
        assert_eq!(out, "fed\n");
    }

    #[test]
    fn stdout_is_returned() {
        assert_eq!(Cmd::new("echo").arg("hi").run().unwrap(), "hi\n");
    }
}
