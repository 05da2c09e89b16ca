//! ReaR's configuration files read as data, never run: `site.conf` then
//! `local.conf` (ReaR's order), in the subset of bash they are written
//! in: `VAR=value`, `export VAR=value`, single and double quotes with
//! their escapes, `VAR=( a "b c" )` over several lines, `VAR+=( d )`,
//! `VAR+=" e"`, `$VAR`, `${VAR}`, `"${VAR[@]}"` of earlier variables,
//! comments, line continuations, blank values, `;` between assignments.
//! Anything else (command substitution, conditionals, loops, functions,
//! sourcing, commands) is refused with the file, line and construct, or,
//! when lenient, skipped with the same words as a warning.

use anyhow::{bail, Result};

pub mod map;

/// ReaR's configuration files, in the order ReaR reads them.
pub const FILES: [&str; 2] = ["site.conf", "local.conf"];

/// Whether `dir` holds any of [`FILES`].
pub fn present(dir: &Path) -> bool {
    FILES.iter().any(|f| dir.join(f).is_file())
}
pub use map::{map, Import, Note, Source};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A variable's value: a string, or an array (`VAR=( ... )`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Array(Vec<String>),
}

impl Value {
    /// As bash gives `$VAR`: an array's first element.
    pub fn scalar(&self) -> &str {
        match self {
            Value::Str(s) => s,
            Value::Array(a) => a.first().map_or("", String::as_str),
        }
    }

    /// As bash gives `"${VAR[@]}"`: a string is one element.
    pub fn items(&self) -> Vec<String> {
        match self {
            Value::Str(s) => vec![s.clone()],
            Value::Array(a) => a.clone(),
        }
    }
}

/// Where a setting was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A variable and the last assignment to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Var {
    pub value: Value,
    pub origin: Origin,
}

/// What a statement could not be read as: where, and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub origin: Origin,
    pub construct: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} is not read (only assignments are; nothing in these files is run)",
            self.origin, self.construct
        )
    }
}

/// Every variable the files set, and what was skipped (lenient only).
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub vars: BTreeMap<String, Var>,
    pub skipped: Vec<Skipped>,
}

impl Config {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name).map(|v| &v.value)
    }

    /// Sets a variable ReaR defines before it reads the files
    /// (`HOSTNAME`), so `$HOSTNAME` in them has its value.
    pub fn preset(&mut self, name: &str, value: &str) {
        self.vars.insert(
            name.to_string(),
            Var {
                value: Value::Str(value.to_string()),
                origin: Origin {
                    file: PathBuf::from(map::PRESET),
                    line: 0,
                },
            },
        );
    }

    /// Reads ReaR's configuration directory as ReaR does: `site.conf`,
    /// then `local.conf`, each when it exists, then each of `extra`
    /// (ReaR's `-C`: a path, or a name in `dir` with or without `.conf`),
    /// which must exist.
    pub fn read_dir(mut self, dir: &Path, extra: &[String], lenient: bool) -> Result<Config> {
        for name in FILES {
            let p = dir.join(name);
            match std::fs::read_to_string(&p) {
                Ok(text) => self.read(&text, &p, lenient)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => bail!("read {}: {e}", p.display()),
            }
        }
        for name in extra {
            let p = match Path::new(name) {
                p if p.is_absolute() => p.to_path_buf(),
                _ if name.ends_with(".conf") => dir.join(name),
                _ => dir.join(format!("{name}.conf")),
            };
            let text = std::fs::read_to_string(&p)
                .map_err(|e| anyhow::anyhow!("read {} (-C {name}): {e}", p.display()))?;
            self.read(&text, &p, lenient)?;
        }
        Ok(self)
    }

    /// Reads one file's text into the variables set so far.
    pub fn read(&mut self, text: &str, file: &Path, lenient: bool) -> Result<()> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
            line: 1,
            file,
            cfg: self,
        };
        p.statements(lenient)
    }
}

/// Why a statement is not read: its words, and where it starts.
struct Refusal {
    line: usize,
    construct: String,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    file: &'a Path,
    cfg: &'a mut Config,
}

/// Words that open a compound command, and the word that closes it.
const COMPOUND: &[(&str, &str)] = &[
    ("if", "fi"),
    ("for", "done"),
    ("while", "done"),
    ("until", "done"),
    ("select", "done"),
    ("case", "esac"),
];

fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    /// The character whose first byte `first` was just taken, whole: the
    /// text is UTF-8 and every byte the parser stops at is ASCII.
    fn rest_of_char(&mut self, first: u8) -> String {
        let mut v = vec![first];
        while let Some(b) = self.peek().filter(|b| b & 0xC0 == 0x80) {
            v.push(b);
            self.i += 1;
        }
        String::from_utf8_lossy(&v).into_owned()
    }

    /// Whether the byte here starts a word (after a blank, `(`, `=` or `:`).
    fn word_start(&self) -> bool {
        self.i == 0
            || matches!(
                self.s[self.i - 1],
                b' ' | b'\t' | b'\n' | b'(' | b'=' | b':'
            )
    }

    fn origin(&self, line: usize) -> Origin {
        Origin {
            file: self.file.to_path_buf(),
            line,
        }
    }

    fn refuse<T>(&self, line: usize, construct: impl Into<String>) -> Result<T, Refusal> {
        Err(Refusal {
            line,
            construct: construct.into(),
        })
    }

    /// Spaces, tabs and line continuations.
    fn blanks(&mut self) {
        loop {
            match (self.peek(), self.at(1)) {
                (Some(b' ' | b'\t' | b'\r'), _) => {
                    self.bump();
                }
                (Some(b'\\'), Some(b'\n')) => {
                    self.bump();
                    self.bump();
                }
                _ => return,
            }
        }
    }

    /// A comment up to its line's end.
    fn comment(&mut self) {
        while self.peek().is_some_and(|b| b != b'\n') {
            self.bump();
        }
    }

    fn statements(&mut self, lenient: bool) -> Result<()> {
        loop {
            self.blanks();
            match self.peek() {
                None => return Ok(()),
                Some(b'\n' | b';') => {
                    self.bump();
                    continue;
                }
                Some(b'#') => {
                    self.comment();
                    continue;
                }
                _ => {}
            }
            let start = self.i;
            let line = self.line;
            if let Err(r) = self.assignment() {
                let skipped = Skipped {
                    origin: self.origin(r.line),
                    construct: r.construct,
                };
                if !lenient {
                    bail!("{skipped}; rewrite it as plain assignments, or --lenient to skip it");
                }
                // Back to the statement's start, and past all of it.
                self.i = start;
                self.line = line;
                self.skip_statement();
                self.cfg.skipped.push(skipped);
            }
        }
    }

    /// Skips a statement not read: a compound command to its closing
    /// word, a function to its closing brace, anything else to its line's
    /// end (continuations included).
    fn skip_statement(&mut self) {
        let first = self.word_text();
        let close = COMPOUND.iter().find(|(o, _)| *o == first).map(|(_, c)| *c);
        let function = first == "function" || {
            let save = (self.i, self.line);
            self.blanks();
            let f = self.peek() == Some(b'(') && self.at(1) == Some(b')');
            (self.i, self.line) = save;
            f
        };
        match (close, function) {
            (Some(close), _) => self.skip_to_word(first.as_str(), close),
            (None, true) => self.skip_braces(),
            _ => self.skip_line(),
        }
    }

    /// A bare word (for keywords): letters, digits, `_`, `.`, `-`, `/`.
    fn word_text(&mut self) -> String {
        let mut w = String::new();
        while let Some(b) = self.peek().filter(|b| is_name(*b) || b"./-".contains(b)) {
            w.push(b as char);
            self.bump();
        }
        w
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.bump() {
            match b {
                b'\\' => {
                    self.bump();
                }
                b'\n' => return,
                _ => {}
            }
        }
    }

    /// Skips to the word `close` matching an `open` already read, nested
    /// ones counted.
    fn skip_to_word(&mut self, open: &str, close: &str) {
        let mut depth = 1;
        let mut word_start = true;
        while let Some(b) = self.peek() {
            if word_start && is_name_start(b) {
                let w = self.word_text();
                if w == open {
                    depth += 1;
                } else if w == close {
                    depth -= 1;
                    if depth == 0 {
                        self.skip_line();
                        return;
                    }
                }
                word_start = false;
                continue;
            }
            self.bump();
            word_start = b" \t\n;&|(".contains(&b);
        }
    }

    fn skip_braces(&mut self) {
        let mut depth = 0;
        while let Some(b) = self.bump() {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth <= 0 {
                        self.skip_line();
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// `[export] NAME=value`, `NAME+=value`, `NAME=( ... )`, `NAME+=( ... )`.
    fn assignment(&mut self) -> Result<(), Refusal> {
        let line = self.line;
        let mut name = self.name();
        if name == "export" && matches!(self.peek(), Some(b' ' | b'\t')) {
            self.blanks();
            name = self.name();
        }
        let append = self.peek() == Some(b'+') && self.at(1) == Some(b'=');
        if name.is_empty() || !(append || self.peek() == Some(b'=')) {
            let rest = self.rest_of_line();
            let words = format!("{name}{rest}");
            let first = words.split_whitespace().next().unwrap_or("").to_string();
            let what = match first.as_str() {
                "source" | "." => format!("sourcing another file ({})", words.trim()),
                w if COMPOUND.iter().any(|(o, _)| *o == w) => {
                    format!("a conditional or loop ({w} ...)")
                }
                "function" => "a function".to_string(),
                _ if words.contains("()") => "a function".to_string(),
                "declare" | "local" | "typeset" | "readonly" | "unset" => {
                    format!("the builtin {first}")
                }
                _ => format!("the command `{}`", shorten(words.trim())),
            };
            return self.refuse(line, what);
        }
        self.i += if append { 2 } else { 1 };
        let value = if self.peek() == Some(b'(') {
            self.bump();
            Value::Array(self.array()?)
        } else {
            let mut fields = Fields::scalar();
            self.word(&mut fields, false)?;
            Value::Str(fields.cur)
        };
        // What may follow an assignment: blanks, a comment, `;`, a line end.
        self.blanks();
        match self.peek() {
            None | Some(b'\n' | b';' | b'#') => {}
            Some(b @ (b'&' | b'|' | b'<' | b'>' | b'(' | b')')) => {
                return self.refuse(
                    line,
                    format!("`{}` (a list, pipe, redirection or subshell)", b as char),
                )
            }
            Some(_) => {
                // NAME=value NAME2=value: another assignment on the line.
                let save = (self.i, self.line);
                let next = self.name();
                let more = !next.is_empty() && matches!(self.peek(), Some(b'=' | b'+'));
                (self.i, self.line) = save;
                if !more {
                    let rest = self.rest_of_line();
                    return self.refuse(
                        line,
                        format!(
                            "`{name}=... {}` (a command run with a variable set)",
                            shorten(rest.trim())
                        ),
                    );
                }
            }
        }
        let origin = self.origin(line);
        let value = match (append, self.cfg.vars.get(&name).map(|v| &v.value), value) {
            (true, Some(Value::Array(old)), Value::Array(new)) => {
                Value::Array(old.iter().cloned().chain(new).collect())
            }
            (true, Some(Value::Str(old)), Value::Array(new)) => {
                Value::Array(std::iter::once(old.clone()).chain(new).collect())
            }
            (true, Some(Value::Array(old)), Value::Str(s)) => {
                // bash appends to element 0.
                let mut a = old.clone();
                match a.first_mut() {
                    Some(f) => f.push_str(&s),
                    None => a.push(s),
                }
                Value::Array(a)
            }
            (true, Some(Value::Str(old)), Value::Str(s)) => Value::Str(format!("{old}{s}")),
            (_, _, v) => v,
        };
        self.cfg.vars.insert(name, Var { value, origin });
        Ok(())
    }

    fn name(&mut self) -> String {
        let mut n = String::new();
        if self.peek().is_some_and(is_name_start) {
            while let Some(b) = self.peek().filter(|b| is_name(*b)) {
                n.push(b as char);
                self.bump();
            }
        }
        n
    }

    /// The rest of the line, for messages (the position is restored by
    /// the caller when it matters).
    fn rest_of_line(&mut self) -> String {
        let start = self.i;
        let line = self.line;
        let mut end = start;
        while let Some(&b) = self.s.get(end) {
            if b == b'\n' {
                break;
            }
            end += 1;
        }
        let text = String::from_utf8_lossy(&self.s[start..end]).into_owned();
        (self.i, self.line) = (start, line);
        text
    }

    /// The elements of `( ... )`, over lines and comments.
    fn array(&mut self) -> Result<Vec<String>, Refusal> {
        let line = self.line;
        let mut out = Vec::new();
        loop {
            self.blanks();
            match self.peek() {
                None => return self.refuse(line, "an array without its closing `)`"),
                Some(b')') => {
                    self.bump();
                    return Ok(out);
                }
                Some(b'\n') => {
                    self.bump();
                }
                Some(b'#') => self.comment(),
                Some(_) => {
                    let mut fields = Fields::split();
                    self.word(&mut fields, true)?;
                    out.extend(fields.finish());
                }
            }
        }
    }

    /// One shell word into `fields`; in an array, unquoted expansions are
    /// split on blanks and `)` ends the word.
    fn word(&mut self, fields: &mut Fields, in_array: bool) -> Result<(), Refusal> {
        let line = self.line;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => break,
                b')' if in_array => break,
                b';' if !in_array => break,
                b'&' | b'|' | b'<' | b'>' | b';' | b'(' | b')' => {
                    return self.refuse(
                        line,
                        format!("`{}` (a list, pipe, redirection or subshell)", b as char),
                    )
                }
                b'`' => return self.refuse(line, "command substitution (`...`)"),
                b'\'' => {
                    self.bump();
                    let mut s = String::new();
                    loop {
                        match self.bump() {
                            None => return self.refuse(line, "a ' quote that is never closed"),
                            Some(b'\'') => break,
                            Some(c) => s.push_str(&self.rest_of_char(c)),
                        }
                    }
                    fields.quoted(&s);
                }
                b'"' => {
                    self.bump();
                    self.double_quoted(fields, line)?;
                }
                b'\\' => {
                    self.bump();
                    match self.bump() {
                        Some(b'\n') | None => {}
                        Some(c) => fields.quoted(&self.rest_of_char(c)),
                    }
                }
                b'$' => self.expansion(fields, false, line)?,
                // `~` and `~root` at a word's start: root's home, as ReaR
                // runs as root.
                b'~' if self.word_start() => {
                    self.bump();
                    if self.s[self.i..].starts_with(b"root") && !self.at(4).is_some_and(is_name) {
                        self.i += 4;
                    }
                    match self.peek() {
                        None | Some(b'/' | b' ' | b'\t' | b'\n' | b')' | b';' | b':') => {
                            fields.quoted("/root")
                        }
                        _ => fields.quoted("~"),
                    }
                }
                _ => {
                    self.bump();
                    fields.quoted(&self.rest_of_char(b));
                }
            }
        }
        Ok(())
    }

    fn double_quoted(&mut self, fields: &mut Fields, line: usize) -> Result<(), Refusal> {
        fields.touch();
        loop {
            match self.peek() {
                None => return self.refuse(line, "a \" quote that is never closed"),
                Some(b'"') => {
                    self.bump();
                    return Ok(());
                }
                Some(b'`') => return self.refuse(line, "command substitution (`...`)"),
                Some(b'$') => self.expansion(fields, true, line)?,
                Some(b'\\') => {
                    self.bump();
                    match self.bump() {
                        Some(b'\n') => {}
                        Some(c @ (b'"' | b'\\' | b'$' | b'`')) => {
                            fields.quoted(&(c as char).to_string())
                        }
                        Some(c) => fields.quoted(&format!("\\{}", self.rest_of_char(c))),
                        None => return self.refuse(line, "a \" quote that is never closed"),
                    }
                }
                Some(_) => {
                    let c = self.bump().expect("peeked");
                    fields.quoted(&self.rest_of_char(c));
                }
            }
        }
    }

    /// `$NAME`, `${NAME}`, `${NAME[@]}`, `${NAME[*]}`; anything else
    /// after `$` is refused, but a lone `$`, which is itself.
    fn expansion(&mut self, fields: &mut Fields, quoted: bool, line: usize) -> Result<(), Refusal> {
        self.bump(); // $
        let (name, all) = match self.peek() {
            Some(b'(') => return self.refuse(line, "command substitution $(...)"),
            Some(b'{') => {
                self.bump();
                let name = self.name();
                let all = match (self.peek(), self.at(1), self.at(2)) {
                    (Some(b'['), Some(b'@' | b'*'), Some(b']')) => {
                        self.i += 3;
                        true
                    }
                    _ => false,
                };
                if name.is_empty() || self.peek() != Some(b'}') {
                    let rest = self.rest_of_line();
                    return self.refuse(
                        line,
                        format!("the parameter expansion ${{{name}{}", shorten(&rest)),
                    );
                }
                self.bump();
                (name, all)
            }
            Some(b) if is_name_start(b) => (self.name(), false),
            Some(b) if b.is_ascii_digit() || b"?#$!*@-".contains(&b) => {
                return self.refuse(line, format!("the special parameter ${}", b as char))
            }
            _ => {
                fields.quoted("$");
                return Ok(());
            }
        };
        let value = self.cfg.vars.get(&name).map(|v| v.value.clone());
        match (value, all) {
            (v, true) => {
                let items = v.map(|v| v.items()).unwrap_or_default();
                match quoted {
                    true => fields.elements(&items),
                    false => fields.unquoted(&items.join(" ")),
                }
            }
            (None, false) => fields.touch_if(quoted),
            (Some(v), false) if quoted => fields.quoted(v.scalar()),
            (Some(v), false) => fields.unquoted(v.scalar()),
        }
        Ok(())
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The fields a word expands to: one for an assignment's value; in an
/// array, unquoted expansions split on blanks and `"${A[@]}"` gives one
/// field per element.
struct Fields {
    split: bool,
    done: Vec<String>,
    cur: String,
    /// The current field exists even if empty (`""`).
    started: bool,
}

impl Fields {
    fn scalar() -> Fields {
        Fields {
            split: false,
            done: Vec::new(),
            cur: String::new(),
            started: false,
        }
    }

    fn split() -> Fields {
        Fields {
            split: true,
            ..Fields::scalar()
        }
    }

    fn touch(&mut self) {
        self.started = true;
    }

    fn touch_if(&mut self, quoted: bool) {
        self.started |= quoted;
    }

    fn quoted(&mut self, s: &str) {
        self.cur.push_str(s);
        self.started = true;
    }

    fn unquoted(&mut self, s: &str) {
        if !self.split {
            return self.quoted(s);
        }
        let mut parts = s.split([' ', '\t', '\n']).peekable();
        let mut first = true;
        while let Some(p) = parts.next() {
            if !first {
                self.end();
            }
            first = false;
            if !p.is_empty() {
                self.quoted(p);
            }
            if parts.peek().is_none() {
                break;
            }
        }
    }

    /// `"${A[@]}"`: the first element joins the text before, the last the
    /// text after, each other is a field of its own.
    fn elements(&mut self, items: &[String]) {
        if items.is_empty() && self.cur.is_empty() {
            // "${EMPTY[@]}" alone is no field at all (unless text follows).
            self.started = false;
        }
        for (k, item) in items.iter().enumerate() {
            if k > 0 {
                self.end();
            }
            self.quoted(item);
        }
    }

    fn end(&mut self) {
        if self.started || !self.cur.is_empty() {
            self.done.push(std::mem::take(&mut self.cur));
        }
        self.started = false;
    }

    fn finish(mut self) -> Vec<String> {
        self.end();
        self.done
    }
}

#[cfg(test)]
mod tests;
