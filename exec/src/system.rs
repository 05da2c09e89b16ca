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
        let stdin = match (c.input_fd(), c.input()) {
            (Some(fd), _) => Stdio::from(fd.try_clone()?),
            (None, Some(_)) => Stdio::piped(),
            (None, None) => Stdio::null(),
        };
        let stdout = match c.output_fd() {
            Some(fd) => Stdio::from(fd.try_clone()?),
            None => Stdio::piped(),
        };
        let mut child = cmd
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()?;
        // The copies the child got are closed here, not when `cmd` goes.
        drop(cmd);
        // Fed from a thread while the output is read: a command that prints
        // much before it reads its input would otherwise wait for us forever.
        let feeder = c.input().filter(|_| c.input_fd().is_none()).map(|data| {
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
    fn a_command_streams_through_pipes() {
        use std::io::Read;
        let (from_us, to_cmd) = crate::call::pipe().unwrap();
        let (from_cmd, to_us) = crate::call::pipe().unwrap();
        let call = Call::argv(["tr", "a-z", "A-Z"])
            .stdin_from(from_us)
            .stdout_to(to_us);
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut w = to_cmd;
                for _ in 0..10_000 {
                    w.write_all(b"streamed\n").unwrap();
                }
            });
            let reader = s.spawn(move || {
                let mut out = String::new();
                let mut r = from_cmd;
                r.read_to_string(&mut out).unwrap();
                out
            });
            let out = System.output(&call).unwrap();
            drop(call);
            assert_eq!(out.code, 0);
            assert_eq!(out.stdout, "", "streamed output is not captured");
            let got = reader.join().unwrap();
            assert_eq!(got.len(), 90_000);
            assert!(got.lines().all(|l| l == "STREAMED"));
        });
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
