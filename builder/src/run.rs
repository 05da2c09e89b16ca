//! The one runner for external commands: logs the exact command line,
//! captures stderr, and turns a failure into an error that says what ran,
//! how it ended and what it printed.

use anyhow::{bail, Context, Result};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Stdio};

/// Quoting as a shell would need it, shared with the layout plans.
pub use rear_exec::{quote as shell_quote, quote_argv as shell_quote_argv};

pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    unset: Vec<OsString>,
    dir: Option<std::path::PathBuf>,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            unset: Vec::new(),
            dir: None,
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

    /// Removes a variable from the environment the command inherits.
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Cmd {
        self.unset.push(k.as_ref().to_owned());
        self
    }

    /// The command's working directory.
    pub fn current_dir(mut self, d: impl AsRef<Path>) -> Cmd {
        self.dir = Some(d.as_ref().to_path_buf());
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
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for k in &self.unset {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        let mut child = cmd
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
        // Fed from a thread while the output is read: a command that prints
        // much before it reads its input would otherwise wait for us forever.
        let feeder = self.stdin.clone().map(|data| {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || {
                use std::io::Write;
                // A command that exits without reading all of it reports its own error.
                let _ = pipe.write_all(&data);
            })
        });
        let out = child
            .wait_with_output()
            .with_context(|| format!("wait for `{}`", self.line()))?;
        if let Some(f) = feeder {
            let _ = f.join();
        }
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
    fn directory_and_environment() {
        let out = Cmd::new("sh")
            .args(["-c", "pwd; echo \"${A-unset} ${HOME-unset}\""])
            .current_dir("/")
            .env("A", "set")
            .env_remove("HOME")
            .run()
            .unwrap();
        assert_eq!(out, "/\nset unset\n");
    }

    #[test]
    fn a_large_input_is_fed_while_output_is_read() {
        let data = vec![b'x'; 4 << 20];
        let out = Cmd::new("cat").stdin(data.clone()).run().unwrap();
        assert_eq!(out.len(), data.len());
    }

    #[test]
    fn stdout_is_returned() {
        assert_eq!(Cmd::new("echo").arg("hi").run().unwrap(), "hi\n");
    }
}
