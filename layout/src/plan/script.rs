//! The plan as a shell script (`recover --layout-only -s`): what the
//! operator can read, edit and run instead of letting apply run it.

use super::{Input, Plan};
use rear_exec::quote;
use std::fmt::Write as _;

impl Plan {
    /// The plan as a shell script the operator can read, edit and run:
    /// each step is skipped when a previous run recorded it as done.
    pub fn script(&self, layout_file: &str) -> String {
        let mut s = String::from("#!/bin/bash\n");
        let _ = writeln!(s, "# Recreates the storage layout of {layout_file}.");
        let _ = writeln!(
            s,
            "# Made by `rear-build recover --layout-only -s`; review it, edit it, run it."
        );
        let _ = writeln!(s, "# Disks (old -> new); only these are written:");
        for (o, n) in &self.mapping {
            let _ = writeln!(s, "#   {o} -> {n}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "# note: {n}");
        }
        s.push_str(
            "set -euo pipefail\n\
             state=${REAR_LAYOUT_STATE:-/var/lib/rear-build/layout-steps.done}\n\
             mkdir -p \"$(dirname \"$state\")\"\n\
             # step ID COMMAND...: runs COMMAND unless ID is recorded as done.\n\
             step() { local id=$1; shift\n\
             \x20 if grep -qxF \"$id\" \"$state\" 2>/dev/null; then echo \"done already: $id\"; return; fi\n\
             \x20 echo \"+ $*\"; \"$@\"; echo \"$id\" >> \"$state\"; }\n\
             # passphrase FILE: the first line of FILE (a CR before its newline dropped),\n\
             # for cryptsetup's standard input.\n\
             passphrase() { local l=; IFS= read -r l < \"$1\" || true; printf '%s\\n' \"${l%$'\\r'}\"; }\n\n",
        );
        for st in &self.steps {
            let _ = writeln!(s, "# {}", st.what);
            let cmd: Vec<String> = st.argv.iter().map(|a| quote(a)).collect();
            match &st.input {
                None => {
                    let _ = writeln!(s, "step {} {}", quote(&st.id), cmd.join(" "));
                }
                Some(Input::Text(t)) => {
                    let _ = write!(
                        s,
                        "step {} {} <<'REAR_EOF'\n{t}REAR_EOF\n",
                        quote(&st.id),
                        cmd.join(" ")
                    );
                }
                Some(Input::Secret(f)) => {
                    let _ = writeln!(
                        s,
                        "step {} {} < <(passphrase {})",
                        quote(&st.id),
                        cmd.join(" "),
                        quote(&f.to_string_lossy())
                    );
                }
            }
        }
        s
    }
}
