//! The `-s` shell script.

use super::*;
use crate::apply::{self, Resolver};
use crate::progress::{self, State};
use std::path::Path;
use std::process::{Command, Output};

#[test]
fn the_scripts_passphrase_is_the_first_line_without_cr() {
    let l = scenarios::luks_on_lvm();
    let opts = Options {
        passphrase_file: Some("/media/pass".into()),
        ..Default::default()
    };
    let p = plan(&l, &[disk("/dev/vda", 2 * GIB)], &opts).unwrap();
    let script = p.script("layout.json");
    let def = script
        .lines()
        .find(|l| l.starts_with("passphrase() {"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (content, want) in [
        (&b"pass phrase\nsecond\n"[..], &b"pass phrase\n"[..]),
        (b"crlf\r\n", b"crlf\n"),
        (b"no newline", b"no newline\n"),
    ] {
        let f = dir.path().join("p");
        std::fs::write(&f, content).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{def}\npassphrase \"$1\""))
            .arg("-")
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(out.stdout, want, "{content:?}");
    }
}

#[test]
fn the_script_skips_done_steps_and_quotes() {
    let p = plan(
        &scenarios::gpt_esp_ext4_swap(),
        &[disk("/dev/vda", 2 * GIB)],
        &Options::default(),
    )
    .unwrap();
    let s = p.script("/var/lib/rear-build/layout.json");
    assert!(s.contains("#   /dev/vda -> /dev/vda"));
    assert!(
        s.contains("step wipe:/dev/vda wipefs --all --force /dev/vda\n"),
        "{s}"
    );
    assert!(s.contains("step partition:/dev/vda rear-build partition-table /dev/vda <<'REAR_EOF'\nlabel: gpt\n"), "{s}");
    assert!(s.contains("grep -qxF \"$id\" \"$state\""));
}

/// Runs `script` with bash in `dir`, its progress in `state`.
fn run_script(script: &str, dir: &Path, state: &Path) -> Output {
    let f = dir.join("layout.sh");
    std::fs::write(&f, script).unwrap();
    Command::new("bash")
        .arg(&f)
        .current_dir(dir)
        .env(progress::PATH_ENV, state)
        .output()
        .unwrap()
}

/// `p` with every command wrapped in one that runs nothing: it writes its
/// arguments (the original command line, one per line) and then its
/// standard input to `dir/step<N>`.
fn harmless(mut p: Plan, dir: &Path) -> Plan {
    for (i, s) in p.steps.iter_mut().enumerate() {
        let out = dir.join(format!("step{i}"));
        let mut a = argv([
            "sh",
            "-c",
            r#"o=$1; shift; printf '%s\n' "$@" > "$o"; cat >> "$o""#,
            "sh",
            &out.to_string_lossy(),
        ]);
        a.append(&mut s.argv);
        s.argv = a;
    }
    p
}

#[test]
fn hostile_names_cannot_inject_commands_into_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Each way in touches its own file when it gets a command run.
    let evil = |way: &str| format!("x\nREAR_EOF\ntouch {}/pwned-{way}\n", d.display());
    let mut l = scenarios::gpt_esp_ext4_swap();
    l.disks[0].partitions[1].name = Some(evil("gpt-name"));
    // Loading and planning refuse such a name; the script must hold even
    // so, should one get past them.
    assert!(matches!(
        plan(&l, &[], &Options::default()),
        Err(PlanError::Invalid(_))
    ));
    // A target that is no disk of any machine, should a command run after all.
    let target = "/dev/rear-build-test-no-such-disk";
    let mut p = plan_checked(&l, &[disk(target, 2 * GIB)], &map1("/dev/vda", target)).unwrap();
    let partition = p
        .steps
        .iter()
        .position(|s| s.id == format!("partition:{target}"))
        .unwrap();
    assert_eq!(partition, 1);
    p.notes.push(evil("note"));
    p.mapping.insert(evil("mapping"), "/dev/vdz".into());
    p.steps[0].what = evil("comment");
    p.steps[2].argv.push(evil("argv"));
    p.steps[2]
        .argv
        .push(format!("$(touch {}/pwned-subst)'\"", d.display()));
    p.steps[3].id = evil("id");
    let Some(Input::Text(table)) = p.steps[partition].input.clone() else {
        panic!()
    };
    assert!(table.contains("\nREAR_EOF\n"), "{table}");
    let p = harmless(p, d);
    let script = p.script(&evil("layout-file"));

    let syntax = Command::new("bash")
        .arg("-n")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let state = d.join("state/layout-steps.done");
    let out = run_script(&script, d, &state);
    let pwned: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pwned"))
        .collect();
    assert!(
        pwned.is_empty(),
        "injected commands ran: {pwned:?}\n{script}"
    );
    assert!(
        out.status.success(),
        "{}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every command got exactly its arguments, the partition table its
    // standard input byte for byte.
    for (i, s) in p.steps.iter().enumerate() {
        let got = std::fs::read_to_string(d.join(format!("step{i}"))).unwrap();
        let mut want: String = s.argv[5..].iter().map(|a| format!("{a}\n")).collect();
        if let Some(Input::Text(t)) = &s.input {
            want.push_str(t);
        }
        assert_eq!(got, want, "step {i} {}", s.id);
    }
    assert!(std::fs::read_to_string(d.join(format!("step{partition}")))
        .unwrap()
        .ends_with(&table));
    // And each step is recorded as done, the odd id on one line.
    let done = State::load(&state, &progress::digest(&p));
    assert_eq!(done.done.len(), p.steps.len(), "{done:?}");
    assert!(p.steps.iter().all(|s| done.is_done(&s.id)));
}

/// Three steps that append their names to `log`; `two` exits 3 when
/// `two_fails`.
fn logging_plan(log: &Path, two_fails: bool) -> Plan {
    let log = log.to_string_lossy();
    let step = |name: &str| {
        Step::new(name, format!("log {name}")).argv([
            "sh",
            "-c",
            r#"printf '%s\n' "$0" >> "$1""#,
            name,
            &log,
        ])
    };
    let mut two = step("two");
    if two_fails {
        two = two.argv(["sh", "-c", "exit 3", "two"]);
    }
    Plan {
        steps: vec![step("one"), two, step("three")],
        ..Default::default()
    }
}

/// Records what apply runs; fails the command whose argument 3 is `fail`.
fn record(fail: Option<&'static str>) -> rear_exec::Fake {
    rear_exec::Fake::answering(move |c| {
        let name = c.argv_lossy().get(3).cloned().unwrap_or_default();
        Ok(match fail {
            Some(f) if f == name => rear_exec::Output::fail(1, format!("{name} failed")),
            _ => rear_exec::Output::default(),
        })
    })
}

/// The names (argument 3) of the commands `rec` ran.
fn names(rec: &rear_exec::Fake) -> Vec<String> {
    rec.calls()
        .iter()
        .map(|c| c.argv_lossy().get(3).cloned().unwrap_or_default())
        .collect()
}

#[test]
fn the_script_skips_what_apply_did() {
    let dir = tempfile::tempdir().unwrap();
    let (log, state) = (dir.path().join("log"), dir.path().join("layout-steps.done"));
    let p = logging_plan(&log, false);
    // apply runs one, fails at two.
    let rec = record(Some("two"));
    apply::apply(&p, &rec, &Resolver::default(), &state, &mut |_| {}).unwrap_err();
    assert_eq!(names(&rec), ["one", "two"]);
    // The script resumes there: two and three.
    let out = run_script(&p.script("layout.json"), dir.path(), &state);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "two\nthree\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("done already: one"));
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        format!("plan {}\none\ntwo\nthree\n", progress::digest(&p))
    );
    // Another plan's state counts for nothing: all of this one runs.
    std::fs::write(&state, "plan 0123456789abcdef\none\ntwo\nthree\n").unwrap();
    std::fs::remove_file(&log).unwrap();
    let out = run_script(&p.script("layout.json"), dir.path(), &state);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\nthree\n");
}

#[test]
fn apply_skips_what_the_script_did() {
    let dir = tempfile::tempdir().unwrap();
    let (log, state) = (dir.path().join("log"), dir.path().join("layout-steps.done"));
    // The script runs one, fails at two.
    let p = logging_plan(&log, true);
    let out = run_script(&p.script("layout.json"), dir.path(), &state);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\n");
    // apply resumes there: two and three.
    let rec = record(None);
    let ran = apply::apply(&p, &rec, &Resolver::default(), &state, &mut |_| {}).unwrap();
    assert_eq!(ran, 2);
    assert_eq!(names(&rec), ["two", "three"]);
    assert_eq!(
        State::load(&state, &progress::digest(&p)).done,
        ["one", "two", "three"]
    );
}
