//! The real runner.

use crate::{Call, Exec, Output};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs real programs: stdin from the call's bytes or /dev/null, stdout and
/// stderr captured.
#[derive(Clone, Copy, Debug, Default)]
pub struct System;

impl Exec for System {
    fn execute(&self, c: &Call) -> std::io::Result<Output> {
        let mut cmd = Command::new(c.program());
        cmd.args(c.args_os());
        for k in c.unset_vars() {
            cmd.env_remove(k);
        }
        cmd.envs(c.env_vars().iter().map(|(k, v)| (k, v)));
        if let Some(d) = c.working_dir() {
            cmd.current_dir(d);
        }
        let mut child = cmd
            .stdin(if c.input().is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // Fed from a thread while the output is read: a command that prints
        // much before it reads its input would otherwise wait for us forever.
        let feeder = c.input().map(|data| {
            let data = data.to_vec();
            let mut pipe = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || {
                // A command that exits without reading all of it reports its own error.
                let _ = pipe.write_all(&data);
            })
        });
        let out = child.wait_with_output()?;
        if let Some(f) = feeder {
            let _ = f.join();
        }
        Ok(Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Call {
        Call::argv(["sh", "-c", script])
    }

    #[test]
    fn failure_names_command_status_and_stderr() {
        let err = System
            .run(&sh("echo oops >&2; exit 3"))
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
        let err = System
            .run(&Call::new("/nonexistent/prog"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot run `/nonexistent/prog`"), "{err}");
    }

    #[test]
    fn stdin_is_fed() {
        let out = System
            .run(&Call::new("cat").stdin(b"fed\n".to_vec()))
            .unwrap();
        assert_eq!(out, "fed\n");
    }

    #[test]
    fn without_stdin_a_command_reads_nothing() {
        assert_eq!(System.run(&Call::new("cat")).unwrap(), "");
    }

    #[test]
    fn directory_and_environment() {
        let out = System
            .run(
                &sh("pwd; echo \"${A-unset} ${HOME-unset}\"")
                    .dir("/")
                    .env("A", "set")
                    .unset("HOME"),
            )
            .unwrap();
        assert_eq!(out, "/\nset unset\n");
    }

    #[test]
    fn a_large_input_is_fed_while_output_is_read() {
        let data = vec![b'x'; 4 << 20];
        let out = System.run(&Call::new("cat").stdin(data.clone())).unwrap();
        assert_eq!(out.len(), data.len());
    }

    #[test]
    fn output_keeps_a_non_zero_exit() {
        let out = System.output(&sh("echo a; echo b >&2; exit 1")).unwrap();
        assert_eq!(
            out,
            Output {
                code: 1,
                stdout: "a\n".into(),
                stderr: "b\n".into()
            }
        );
    }

    #[test]
    fn a_secret_printed_by_the_command_is_redacted() {
        let c = sh("echo \"$PASS\" >&2; exit 2").env_secret("PASS", "hunter2");
        let err = System.run(&c).unwrap_err().to_string();
        assert!(!err.contains("hunter2") && err.contains("***"), "{err}");
    }

    #[test]
    fn a_secret_on_argv_is_refused_before_anything_runs() {
        let d = tempfile::tempdir().unwrap();
        let mark = d.path().join("ran");
        let c = Call::argv(["touch", mark.to_str().unwrap(), "hunter2"]).secret("hunter2");
        let err = System.run(&c).unwrap_err().to_string();
        assert!(
            err.contains("refusing") && !err.contains("hunter2"),
            "{err}"
        );
        let c = Call::argv(["touch", mark.to_str().unwrap(), "-o", "user=a,password=x"]);
        let err = System.run(&c).unwrap_err().to_string();
        assert!(
            err.contains("password= option") && !err.contains("=x"),
            "{err}"
        );
        assert!(!mark.exists(), "a refused call ran");
    }
}
