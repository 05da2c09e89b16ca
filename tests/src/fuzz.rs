//! Fuzz tests of the parsers of outside input (docs/fuzz.md): [`run`]
//! feeds a parser inputs from a proptest strategy, each case watched for
//! hangs, and reports how many inputs it tried;
//! [`text`] and [`json`] make those inputs: arbitrary bytes, soups of the
//! format's own words, and valid examples with lines, fields and numbers
//! deleted, repeated or replaced by extremes (0, `u64::MAX` and beyond,
//! negative, huge, unicode, control characters, NUL).
//!
//! `REAR_FUZZ_CASES` sets the inputs per parser ([`DEFAULT_CASES`]
//! otherwise); `REAR_FUZZ_REPORT` names a file each run appends its
//! figures to (ci/test prints it). proptest's own variables apply too
//! (`PROPTEST_RNG_SEED` replays a run).

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::Value;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Inputs per parser under plain `cargo test`: a second or two each.
pub const DEFAULT_CASES: u32 = 256;

/// A case that takes longer than this (milliseconds) fails as a hang.
pub const CASE_TIMEOUT_MS: u32 = 5000;

/// Inputs per parser: `REAR_FUZZ_CASES`, else [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var("REAR_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CASES)
}

/// Runs `check` on [`cases`] inputs from `inputs`; `check` says whether
/// the parser took the input (true) or refused it (false), and fails the
/// case (`prop_assert!`) when a refusal does not say where. A panic fails
/// the test with the shrunk input. A case that runs longer than
/// [`CASE_TIMEOUT_MS`] is a hang: the input is printed and the test
/// process exits (a hung parser cannot be stopped, and proptest's own
/// timeout, which runs the cases in a child process, starts one more
/// child per step of shrinking a hang: unbounded in practice).
///
/// Prints `fuzz <parser>: N inputs, 0 panics (...)`.
pub fn run<S>(parser: &str, inputs: S, check: impl Fn(S::Value) -> Result<bool, TestCaseError>)
where
    S: Strategy,
    S::Value: Debug + Clone + Send,
{
    let config = Config {
        cases: cases(),
        // Found failures become named regression tests, not files.
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let start = Instant::now();
    let tried = AtomicUsize::new(0);
    let taken = AtomicUsize::new(0);
    // The case running now, and since when: the watchdog's view.
    let current: Mutex<Option<(Instant, S::Value)>> = Mutex::new(None);
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| watch(parser, &current, &done, &tried));
        let result = TestRunner::new(config).run(&inputs, |input| {
            tried.fetch_add(1, Ordering::Relaxed);
            *current.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((Instant::now(), input.clone()));
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(input)));
            *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
            match outcome {
                Ok(took) => {
                    if took? {
                        taken.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        done.store(true, Ordering::Relaxed);
        result
    });
    match result {
        Ok(()) => report(&format!(
            "fuzz {parser}: {} inputs, 0 panics ({} taken, {} refused), {:.1} s",
            tried.load(Ordering::Relaxed),
            taken.load(Ordering::Relaxed),
            tried.load(Ordering::Relaxed) - taken.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64()
        )),
        Err(TestError::Fail(why, input)) => {
            panic!("fuzz {parser}: {why}\nminimal failing input: {input:?}")
        }
        Err(e) => panic!("fuzz {parser}: {e}"),
    }
}

/// Ends the process when a case runs over [`CASE_TIMEOUT_MS`], printing
/// its input (straight to stderr: the harness's capture dies with us).
fn watch<V: Debug>(
    parser: &str,
    current: &Mutex<Option<(Instant, V)>>,
    done: &AtomicBool,
    tried: &AtomicUsize,
) {
    let limit = Duration::from_millis(CASE_TIMEOUT_MS.into());
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let now = current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((since, input)) = now.as_ref().filter(|(t, _)| t.elapsed() > limit) {
            let line = format!(
                "fuzz {parser}: HANG: input {} ran over {} s: {input:?}",
                tried.load(Ordering::Relaxed),
                since.elapsed().as_secs()
            );
            report(&line);
            std::process::exit(101);
        }
    }
}

/// Prints a line of figures (past the harness's capture, so that a run
/// shows them), and appends it to `REAR_FUZZ_REPORT`.
fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(path) = std::env::var_os("REAR_FUZZ_REPORT") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Values that break parsers: numbers at and past the edges of their
/// types, empty and odd separators, escapes, control characters, NUL,
/// unicode (multi-byte, right-to-left override, byte order mark).
pub const NASTY: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "-0",
    "255",
    "256",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "1e308",
    "1e999",
    "-1e308",
    "0.5",
    "NaN",
    "inf",
    "0x",
    "0xffffffff",
    "\0",
    "\t",
    "\r",
    "\n",
    "\x7f",
    "\x1b[2J",
    " ",
    "é",
    "€",
    "𝕏",
    "\u{202e}",
    "\u{feff}",
    "%",
    "%zz",
    "%00",
    "%C3",
    "=",
    "==",
    ":",
    " : ",
    ",",
    ",,",
    "/",
    "//",
    "/dev/",
    "/dev/..",
    "../..",
    "*",
    "'",
    "\"",
    "\\",
    "\\040",
    "\\777",
    "\\x",
    "\\x2f",
    "\\x2e\\x2e",
    "\\x00",
    "\\xff",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    " - ",
    " -> ",
    " path ",
    "null",
    "true",
    "none",
    "unknown",
    "<FS_TREE>",
    "password=x",
];

/// One string for a field: a [`NASTY`] one, a number of any size or
/// sign, a long run, or random text.
pub fn nasty() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(NASTY).prop_map(String::from),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<u32>().prop_map(|n| n.to_string()),
        1 => (0..70_000u32).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => "[0-9]{20,60}",
        1 => (select(&["x", "9", "é", "/", "\0", " "][..]), 1..20_000usize)
            .prop_map(|(s, n)| s.repeat(n)),
        2 => any::<String>(),
    ]
    .boxed()
}

/// A change to a text, lines and fields chosen by index (modulo their
/// count), so that shrinking keeps it meaningful. Fields are the runs
/// between blanks, tabs, `=`, `:` and `,`.
#[derive(Clone, Debug)]
pub enum Edit {
    DeleteLine(usize),
    /// Copies line .0 to before line .1.
    CopyLine(usize, usize),
    SwapLines(usize, usize),
    InsertLine(usize, String),
    DeleteField(usize, usize),
    ReplaceField(usize, usize, String),
    CopyField(usize, usize),
    /// Replaces the .0th run of digits in the text.
    ReplaceNumber(usize, String),
    /// Inserts at a character index.
    Insert(usize, String),
    /// Keeps the first .0 characters.
    Truncate(usize),
}

/// One [`Edit`].
pub fn edit() -> impl Strategy<Value = Edit> {
    let i = || any::<usize>();
    prop_oneof![
        2 => i().prop_map(Edit::DeleteLine),
        1 => (i(), i()).prop_map(|(a, b)| Edit::CopyLine(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        1 => (i(), nasty()).prop_map(|(a, s)| Edit::InsertLine(a, s)),
        2 => (i(), i()).prop_map(|(a, b)| Edit::DeleteField(a, b)),
        4 => (i(), i(), nasty()).prop_map(|(a, b, s)| Edit::ReplaceField(a, b, s)),
        1 => (i(), i()).prop_map(|(a, b)| Edit::CopyField(a, b)),
        4 => (i(), nasty()).prop_map(|(a, s)| Edit::ReplaceNumber(a, s)),
        1 => (i(), nasty()).prop_map(|(a, s)| Edit::Insert(a, s)),
        1 => i().prop_map(Edit::Truncate),
    ]
}

fn is_field_sep(c: char) -> bool {
    matches!(c, ' ' | '\t' | '=' | ':' | ',')
}

/// Byte ranges of the fields of a line.
fn fields(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (is_field_sep(c), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// Byte ranges of the runs of ASCII digits of a text.
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

fn char_index(s: &str, k: usize) -> usize {
    let n = s.chars().count();
    s.char_indices()
        .nth(k % (n + 1))
        .map_or(s.len(), |(i, _)| i)
}

/// `text` with `edits` applied in order.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    for e in edits {
        let n = lines.len();
        match e {
            Edit::DeleteLine(a) => {
                if n > 0 {
                    lines.remove(a % n);
                }
            }
            Edit::CopyLine(a, b) => {
                if n > 0 {
                    let l = lines[a % n].clone();
                    lines.insert(b % (n + 1), l);
                }
            }
            Edit::SwapLines(a, b) => {
                if n > 0 {
                    lines.swap(a % n, b % n);
                }
            }
            Edit::InsertLine(a, s) => lines.insert(a % (n + 1), s.clone()),
            Edit::DeleteField(a, f) | Edit::ReplaceField(a, f, _) | Edit::CopyField(a, f) => {
                if n == 0 {
                    continue;
                }
                let line = &mut lines[a % n];
                let fs = fields(line);
                let Some(&(s, t)) = fs.get(f % fs.len().max(1)) else {
                    if let Edit::ReplaceField(_, _, new) = e {
                        line.insert_str(0, new);
                    }
                    continue;
                };
                match e {
                    Edit::DeleteField(..) => line.replace_range(s..t, ""),
                    Edit::ReplaceField(_, _, new) => line.replace_range(s..t, new),
                    _ => {
                        let copy = format!(" {}", &line[s..t]);
                        line.insert_str(t, &copy);
                    }
                }
            }
            Edit::ReplaceNumber(k, new) => {
                let mut text = lines.join("\n");
                let ns = numbers(&text);
                if let Some(&(s, t)) = ns.get(k % ns.len().max(1)) {
                    text.replace_range(s..t, new);
                    lines = text.split('\n').map(String::from).collect();
                }
            }
            Edit::Insert(k, new) => {
                let mut text = lines.join("\n");
                let at = char_index(&text, *k);
                text.insert_str(at, new);
                lines = text.split('\n').map(String::from).collect();
            }
            Edit::Truncate(k) => {
                let mut text = lines.join("\n");
                let at = char_index(&text, *k);
                text.truncate(at);
                lines = text.split('\n').map(String::from).collect();
            }
        }
    }
    lines.join("\n")
}

/// Arbitrary bytes, as the text a reader would make of them.
pub fn bytes() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..2048)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Texts for a parser whose valid inputs look like `examples`: arbitrary
/// bytes, soups of the examples' own fields and [`NASTY`] values with
/// separators, and (mostly) examples with 1 to 8 [`Edit`]s.
pub fn text(examples: Vec<String>) -> BoxedStrategy<String> {
    assert!(!examples.is_empty(), "no valid examples to start from");
    let mut words: Vec<String> = examples
        .iter()
        .flat_map(|e| {
            e.lines()
                .flat_map(|l| fields(l).into_iter().map(|(s, t)| l[s..t].to_string()))
        })
        .collect();
    words.sort();
    words.dedup();
    words.extend(NASTY.iter().map(|s| s.to_string()));
    let seps = &[" ", "  ", "\t", "\n", "=", ":", ": ", ",", " : ", ""][..];
    let soup = prop::collection::vec((select(words), select(seps)), 0..80)
        .prop_map(|ws| ws.into_iter().map(|(w, s)| w + s).collect::<String>());
    let edited = (select(examples), prop::collection::vec(edit(), 1..8))
        .prop_map(|(text, edits)| apply(&text, &edits));
    prop_oneof![1 => bytes(), 1 => soup, 6 => edited].boxed()
}

/// A change to a JSON document: the node is chosen by index (modulo the
/// count) in depth-first order.
#[derive(Clone, Debug)]
pub enum JsonEdit {
    Replace(usize, Value),
    /// Changes a number or string to another of its kind (so that the
    /// document still has the shape its reader wants), a boolean to the
    /// other; other nodes stay.
    Change(usize, Value, String),
    Delete(usize),
    /// Repeats an array element, or an object member under a new key.
    Copy(usize),
    /// Renames an object member.
    Rename(usize, String),
    /// Sets a number to another number of the document plus -1, 0 or 1
    /// (a partition's end to its disk's size, one past it, ...), or to
    /// twice it.
    Alias(usize, usize, i8),
}

/// JSON values at the edges: numbers past every integer type, fractions,
/// [`NASTY`] strings, null, booleans, empty and deeply nested containers.
pub fn json_value() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        Just(Value::from(0)),
        Just(Value::from(-1)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
        Just(Value::from(u32::MAX as u64 + 1)),
        Just(Value::from(1e300)),
        Just(Value::from(-1e300)),
        Just(Value::from(0.5)),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ];
    prop_oneof![
        4 => number,
        4 => nasty().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Array(vec![])),
        1 => Just(Value::Object(Default::default())),
        1 => (1..300usize).prop_map(|depth| {
            (0..depth).fold(Value::Null, |v, _| Value::Array(vec![v]))
        }),
    ]
}

/// One [`JsonEdit`].
pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
    let number = prop_oneof![
        Just(Value::from(0)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(-1)),
        Just(Value::from(1e300)),
        any::<u64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        (0..70_000u32).prop_map(Value::from),
        (0..1u64 << 40).prop_map(Value::from),
    ];
    prop_oneof![
        6 => (any::<usize>(), number, nasty()).prop_map(|(i, n, s)| JsonEdit::Change(i, n, s)),
        3 => (any::<usize>(), json_value()).prop_map(|(i, v)| JsonEdit::Replace(i, v)),
        3 => any::<usize>().prop_map(JsonEdit::Delete),
        2 => any::<usize>().prop_map(JsonEdit::Copy),
        1 => (any::<usize>(), nasty()).prop_map(|(i, k)| JsonEdit::Rename(i, k)),
        3 => (any::<usize>(), any::<usize>(), -1i8..=2).prop_map(|(i, j, d)| JsonEdit::Alias(i, j, d)),
    ]
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(Step::Index(i));
                paths(x, at, out);
                at.pop();
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                at.push(Step::Key(k.clone()));
                paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

fn node_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// `doc` with `edits` applied in order.
pub fn apply_json(doc: &Value, edits: &[JsonEdit]) -> Value {
    let mut doc = doc.clone();
    for e in edits {
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        let pick = |i: &usize| all[i % all.len()].clone();
        match e {
            JsonEdit::Replace(i, new) => {
                if let Some(n) = node_mut(&mut doc, &pick(i)) {
                    *n = new.clone();
                }
            }
            JsonEdit::Alias(i, j, delta) => {
                let numbers: Vec<&Vec<Step>> = all
                    .iter()
                    .filter(|p| node(&doc, p).is_some_and(Value::is_u64))
                    .collect();
                if numbers.is_empty() {
                    continue;
                }
                let from = node(&doc, numbers[j % numbers.len()])
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let to = match delta {
                    2 => from.wrapping_mul(2),
                    d => from.wrapping_add_signed(i64::from(*d)),
                };
                let at = numbers[i % numbers.len()].clone();
                if let Some(n) = node_mut(&mut doc, &at) {
                    *n = Value::from(to);
                }
            }
            JsonEdit::Change(i, number, string) => match node_mut(&mut doc, &pick(i)) {
                Some(n @ Value::Number(_)) => *n = number.clone(),
                Some(Value::String(s)) => *s = string.clone(),
                Some(Value::Bool(b)) => *b = !*b,
                _ => {}
            },
            JsonEdit::Delete(i) | JsonEdit::Copy(i) | JsonEdit::Rename(i, _) => {
                let path = pick(i);
                let Some((last, parent)) = path.split_last() else {
                    if let JsonEdit::Delete(_) = e {
                        doc = Value::Null;
                    }
                    continue;
                };
                let Some(p) = node_mut(&mut doc, parent) else {
                    continue;
                };
                match (p, last, e) {
                    (Value::Array(a), Step::Index(j), JsonEdit::Delete(_)) => {
                        a.remove(*j);
                    }
                    (Value::Array(a), Step::Index(j), JsonEdit::Copy(_)) => {
                        let x = a[*j].clone();
                        a.insert(*j, x);
                    }
                    (Value::Object(o), Step::Key(k), JsonEdit::Delete(_)) => {
                        o.remove(k);
                    }
                    (Value::Object(o), Step::Key(k), JsonEdit::Copy(_)) => {
                        let x = o[k].clone();
                        o.insert(format!("{k}_"), x);
                    }
                    (Value::Object(o), Step::Key(k), JsonEdit::Rename(_, new)) => {
                        if let Some(x) = o.remove(k) {
                            o.insert(new.clone(), x);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    doc
}

/// JSON texts for a parser whose valid inputs look like `examples`:
/// arbitrary bytes, text [`Edit`]s of an example, and (mostly) examples
/// with 1 to 6 [`JsonEdit`]s, printed pretty (one value a line).
pub fn json(examples: Vec<String>) -> BoxedStrategy<String> {
    let docs: Vec<Value> = examples
        .iter()
        .map(|e| serde_json::from_str(e).expect("the examples are valid JSON"))
        .collect();
    let edited =
        (select(docs), prop::collection::vec(json_edit(), 1..6)).prop_map(|(doc, edits)| {
            serde_json::to_string_pretty(&apply_json(&doc, &edits)).expect("values serialize")
        });
    prop_oneof![1 => bytes(), 2 => text(examples), 6 => edited].boxed()
}

/// Texts of one JSON document a line (a manifest) for a parser whose
/// valid inputs look like `examples`: arbitrary bytes, text [`Edit`]s,
/// and (mostly) examples with [`JsonEdit`]s of one to three of their
/// lines.
pub fn json_lines(examples: Vec<String>) -> BoxedStrategy<String> {
    let line_edits = prop::collection::vec(
        (any::<usize>(), prop::collection::vec(json_edit(), 1..4)),
        1..4,
    );
    let edited = (select(examples.clone()), line_edits).prop_map(|(text, edits)| {
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        for (i, e) in edits {
            if lines.is_empty() {
                break;
            }
            let n = lines.len();
            if let Ok(doc) = serde_json::from_str::<Value>(&lines[i % n]) {
                lines[i % n] =
                    serde_json::to_string(&apply_json(&doc, &e)).expect("values serialize");
            }
        }
        lines.join("\n") + "\n"
    });
    prop_oneof![1 => bytes(), 2 => text(examples), 6 => edited].boxed()
}

/// The texts of the files in `dir` whose names satisfy `keep`, sorted by
/// name (the valid examples of a parser, from recorded fixtures).
pub fn examples(dir: &std::path::Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_change_lines_fields_and_numbers() {
        let t = "disk /dev/vda 1024 gpt\npart /dev/vda 512 1 x boot /dev/vda1";
        assert_eq!(apply(t, &[Edit::DeleteLine(1)]), "disk /dev/vda 1024 gpt");
        assert_eq!(
            apply(t, &[Edit::ReplaceField(0, 2, "-1".into())]),
            "disk /dev/vda -1 gpt\npart /dev/vda 512 1 x boot /dev/vda1"
        );
        assert_eq!(
            apply(t, &[Edit::ReplaceNumber(1, "18446744073709551616".into())]),
            "disk /dev/vda 1024 gpt\npart /dev/vda 18446744073709551616 1 x boot /dev/vda1"
        );
        assert_eq!(
            apply(t, &[Edit::CopyField(0, 0), Edit::Truncate(9)]),
            "disk disk"
        );
        assert_eq!(apply("", &[Edit::DeleteLine(3), Edit::CopyField(1, 1)]), "");
    }

    #[test]
    fn json_edits_reach_every_node() {
        let doc: Value = serde_json::from_str(r#"{"a": [1, {"b": 2}]}"#).unwrap();
        assert_eq!(
            apply_json(&doc, &[JsonEdit::Replace(4, Value::from(u64::MAX))]),
            serde_json::json!({"a": [1, {"b": u64::MAX}]})
        );
        assert_eq!(
            apply_json(&doc, &[JsonEdit::Delete(2), JsonEdit::Copy(2)]),
            serde_json::json!({"a": [{"b": 2}, {"b": 2}]})
        );
        assert_eq!(
            apply_json(&doc, &[JsonEdit::Change(2, Value::from(0), "s".into())]),
            serde_json::json!({"a": [0, {"b": 2}]})
        );
        assert_eq!(
            apply_json(&doc, &[JsonEdit::Alias(0, 1, 2)]),
            serde_json::json!({"a": [4, {"b": 2}]})
        );
        assert_eq!(
            apply_json(&doc, &[JsonEdit::Rename(1, "x".into())]),
            serde_json::json!({"x": [1, {"b": 2}]})
        );
    }
}
