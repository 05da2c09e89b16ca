//! The plan as a shell script (`recover --layout-only -s`): what the
//! operator can read, edit and run instead of letting apply run it. It
//! records its progress in apply's file (see [`crate::progress`]), so
//! either can resume what the other left.
//!
//! Nothing from the layout reaches the script as shell code: every word
//! is quoted with [`quote`], comments have their line breaks (and other
//! control characters) escaped, and a here-document ends with a line its
//! text does not have.

use super::{Input, Plan};
use crate::progress::{self, key};
use rear_exec::quote;
use std::fmt::Write as _;

impl Plan {
    /// The plan as a shell script the operator can read, edit and run:
    /// each step is skipped when a previous run (of the script or of
    /// apply, for this plan) recorded it as done.
    pub fn script(&self, layout_file: &str) -> String {
        let mut s = String::from("#!/bin/bash\n");
        comment(
            &mut s,
            &format!("Recreates the storage layout of {layout_file}."),
        );
        comment(
            &mut s,
            "Made by `rear-build recover --layout-only -s`; review it, edit it, run it.",
        );
        comment(&mut s, "Disks (old -> new); only these are written:");
        for (o, n) in &self.mapping {
            match self.chosen.get(o) {
                Some(how) => comment(&mut s, &format!("  {o} -> {n} (chosen by {how})")),
                None => comment(&mut s, &format!("  {o} -> {n}")),
            }
        }
        for n in &self.notes {
            comment(&mut s, &format!("note: {n}"));
        }
        let _ = write!(
            s,
            "set -euo pipefail\n\
             state=${{{env}:-{path}}}\n\
             plan={plan}\n\
             mkdir -p \"$(dirname \"$state\")\"\n\
             # The state file names the plan on its first line, then the steps done\n\
             # (by this script or by rear-build itself); another plan's starts afresh.\n\
             first=\n\
             if [ -r \"$state\" ]; then IFS= read -r first < \"$state\" || true; fi\n\
             if [ \"$first\" != \"plan $plan\" ]; then printf 'plan %s\\n' \"$plan\" > \"$state\"; fi\n\
             # step ID COMMAND...: runs COMMAND unless ID is recorded as done.\n\
             step() {{ local id=$1; shift\n\
             \x20 if grep -qxF \"$id\" \"$state\" 2>/dev/null; then echo \"done already: $id\"; return; fi\n\
             \x20 echo \"+ $*\"; \"$@\"; printf '%s\\n' \"$id\" >> \"$state\"; }}\n\
             # passphrase FILE: the first line of FILE (a CR before its newline dropped),\n\
             # for cryptsetup's standard input.\n\
             passphrase() {{ local l=; IFS= read -r l < \"$1\" || true; printf '%s\\n' \"${{l%$'\\r'}}\"; }}\n\n",
            env = progress::PATH_ENV,
            path = quote(progress::DEFAULT_PATH),
            plan = quote(&progress::digest(self)),
        );
        for st in &self.steps {
            comment(&mut s, &st.what);
            let _ = write!(
                s,
                "step {} {}",
                quote(&key(&st.id)),
                rear_exec::quote_argv(&st.argv)
            );
            match &st.input {
                None => s.push('\n'),
                Some(Input::Text(t)) if t.ends_with('\n') => {
                    let end = terminator(t);
                    let _ = write!(s, " <<'{end}'\n{t}{end}\n");
                }
                Some(Input::Text(t)) => {
                    let _ = writeln!(s, " < <(printf '%s' {})", quote(t));
                }
                Some(Input::Secret(f)) => {
                    let _ = writeln!(s, " < <(passphrase {})", quote(&f.to_string_lossy()));
                }
            }
        }
        s
    }
}

/// `text` as one comment line: line breaks and other control characters
/// escaped (`\n`, `\u{1b}`), so none ends the comment or hides what follows.
fn comment(s: &mut String, text: &str) {
    s.push_str("# ");
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(s, "{}", c.escape_default());
        } else {
            s.push(c);
        }
    }
    s.push('\n');
}

/// A here-document terminator that is no line of `text`: `REAR_EOF`, or
/// with a number added when the text has that line.
fn terminator(text: &str) -> String {
    let mut end = "REAR_EOF".to_string();
    let mut n = 0;
    while text.split('\n').any(|l| l == end) {
        n += 1;
        end = format!("REAR_EOF_{n}");
    }
    end
}
