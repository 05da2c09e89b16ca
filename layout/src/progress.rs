//! Which steps of a plan are done: one file that `apply` and the `-s`
//! script both read and write, so a re-run of either skips the steps the
//! other did for the same plan.
//!
//! The file is plain text, for a shell script to read and append to:
//!
//! ```text
//! plan 3f2a9c0d1e4b5a67
//! wipe:/dev/vda
//! partition:/dev/vda
//! ```
//!
//! The first line names the plan by its [`digest`]; a file that names
//! another plan (or none) counts for nothing and is started afresh. Each
//! further line is the [`key`] of a done step: its id, with backslashes
//! and control characters escaped so that every key is one line.

use crate::plan::Plan;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

/// Where recovery keeps the progress of the layout's recreation, unless
/// the script is given [`PATH_ENV`].
pub const DEFAULT_PATH: &str = "/var/lib/rear-build/layout-steps.done";

/// The environment variable the `-s` script takes the file's path from.
pub const PATH_ENV: &str = "REAR_LAYOUT_STATE";

/// A digest of the plan's steps: a state file only counts for the same plan.
pub fn digest(plan: &Plan) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for s in &plan.steps {
        let text = format!("{}\0{:?}\0{:?}\n", s.id, s.argv, s.input);
        for b in text.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

/// A step id as one line of the file: `\` doubled, control characters
/// (newlines above all) as `\n`, `\r`, `\t` or `\u{..}`. Ids without them,
/// which is every id a real layout gives, stay as they are.
pub fn key(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        if c == '\\' || c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The plan (its digest) and the keys of its done steps, in the order done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub plan: String,
    pub done: Vec<String>,
}

impl State {
    /// Nothing done yet of the plan with this digest.
    pub fn new(plan: &str) -> State {
        State {
            plan: plan.to_string(),
            done: Vec::new(),
        }
    }

    /// The state in `text`, if its first line names a plan.
    pub fn parse(text: &str) -> Option<State> {
        let mut lines = text.lines();
        let plan = lines.next()?.strip_prefix("plan ")?;
        Some(State {
            plan: plan.to_string(),
            done: lines.filter(|l| !l.is_empty()).map(String::from).collect(),
        })
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = format!("plan {}\n", self.plan);
        for k in &self.done {
            s.push_str(k);
            s.push('\n');
        }
        s
    }

    /// What `path` records for the plan with digest `plan`; nothing done
    /// when the file is missing, unreadable or for another plan.
    pub fn load(path: &Path, plan: &str) -> State {
        fs::read_to_string(path)
            .ok()
            .and_then(|t| State::parse(&t))
            .filter(|s| s.plan == plan)
            .unwrap_or_else(|| State::new(plan))
    }

    /// Writes the file whole (through a temporary file and a rename).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, self.render())?;
        fs::rename(&tmp, path)
    }

    pub fn is_done(&self, id: &str) -> bool {
        let k = key(id);
        self.done.contains(&k)
    }

    pub fn mark_done(&mut self, id: &str) {
        self.done.push(key(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_line_and_plain_ids_stay() {
        assert_eq!(key("mkfs:/dev/vda2"), "mkfs:/dev/vda2");
        assert_eq!(key("subvol:/dev/vda2:@home"), "subvol:/dev/vda2:@home");
        assert_eq!(key("a\nb\\c\r"), "a\\nb\\\\c\\r");
        assert_eq!(key("x\u{1b}[2K"), "x\\u{1b}[2K");
    }

    #[test]
    fn a_state_reads_back_and_another_plans_counts_for_nothing() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("sub/layout-steps.done");
        let mut s = State::new("0123456789abcdef");
        s.mark_done("wipe:/dev/vda");
        s.mark_done("odd\nid");
        s.save(&f).unwrap();
        assert_eq!(
            fs::read_to_string(&f).unwrap(),
            "plan 0123456789abcdef\nwipe:/dev/vda\nodd\\nid\n"
        );
        let back = State::load(&f, "0123456789abcdef");
        assert_eq!(back, s);
        assert!(back.is_done("odd\nid") && !back.is_done("odd"));
        assert_eq!(
            State::load(&f, "fedcba9876543210").done,
            Vec::<String>::new()
        );
        // A list of ids without the plan line (an older script's) is no state.
        fs::write(&f, "wipe:/dev/vda\n").unwrap();
        assert!(State::load(&f, "0123456789abcdef").done.is_empty());
    }
}
