//! A recording fake for tests: every call is kept, and answered by a
//! function of the call (by default: success with no output).

use crate::{Call, Exec, Output};
use std::sync::Mutex;

type Answer = dyn Fn(&Call) -> std::io::Result<Output> + Send + Sync;

pub struct Fake {
    calls: Mutex<Vec<Call>>,
    answer: Box<Answer>,
}

impl Default for Fake {
    fn default() -> Self {
        Fake::new()
    }
}

impl Fake {
    /// Every call succeeds and prints nothing.
    pub fn new() -> Fake {
        Fake::answering(|_| Ok(Output::default()))
    }

    /// Every call is answered by `f` (an `Err` is a program that cannot run).
    pub fn answering(f: impl Fn(&Call) -> std::io::Result<Output> + Send + Sync + 'static) -> Fake {
        Fake {
            calls: Mutex::new(Vec::new()),
            answer: Box::new(f),
        }
    }

    /// The calls made so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("not poisoned").clone()
    }

    /// The calls' argvs, each joined with spaces.
    pub fn lines(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| c.argv_lossy().join(" "))
            .collect()
    }
}

impl Exec for Fake {
    fn execute(&self, c: &Call) -> std::io::Result<Output> {
        // Kept without its pipe ends: the caller's reader or writer sees
        // the pipe close when the call is done, as with a real command.
        self.calls
            .lock()
            .expect("not poisoned")
            .push(c.without_streams());
        (self.answer)(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_recorded_and_answered() {
        let f = Fake::answering(|c| {
            Ok(if c.program() == "false" {
                Output::fail(1, "no")
            } else {
                Output::ok("yes")
            })
        });
        assert_eq!(f.run(&Call::argv(["echo", "a"])).unwrap(), "yes");
        let err = f.run(&Call::new("false")).unwrap_err();
        assert_eq!(err.stderr(), Some("no"));
        assert_eq!(f.lines(), ["echo a", "false"]);
    }

    #[test]
    fn a_recorded_call_keeps_no_pipe_open() {
        use std::io::Read;
        let (mut from_cmd, to_us) = crate::pipe().unwrap();
        let f = Fake::new();
        let c = Call::new("tar").stdout_to(to_us);
        f.run(&c).unwrap();
        drop(c);
        let mut got = Vec::new();
        // The end of the data, not a wait for ever.
        from_cmd.read_to_end(&mut got).unwrap();
        assert!(got.is_empty());
        assert!(f.calls()[0].output_fd().is_none());
    }

    #[test]
    fn a_refused_call_is_not_made() {
        let f = Fake::new();
        assert!(f.run(&Call::argv(["mount", "-o", "pass=x"])).is_err());
        assert!(f.calls().is_empty());
    }
}
