//! Quoting for a POSIX shell: for logs, error messages, the `-s` recovery
//! script and tools that split a command line like a shell (borg's
//! BORG_PASSCOMMAND).

/// `s` as one shell word: as it is when it has only characters a shell
/// leaves alone, else in single quotes.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// An argv as a shell command line.
pub fn quote_argv<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_and_others_are_single_quoted() {
        assert_eq!(quote("/dev/vda1"), "/dev/vda1");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("/a b/it's"), "'/a b/it'\\''s'");
        assert_eq!(quote("x\nREAR_EOF"), "'x\nREAR_EOF'");
        assert_eq!(quote_argv(&["echo", "a b"]), "echo 'a b'");
    }

    #[test]
    fn a_shell_reads_back_what_was_quoted() {
        let words = [
            "plain",
            "a b",
            "it's",
            "$(touch /tmp/x)",
            "`x`",
            "a\nb",
            "*",
            "",
        ];
        let line = format!("printf '%s\\0' {}", quote_argv(&words));
        let out = std::process::Command::new("sh")
            .args(["-c", &line])
            .output()
            .unwrap();
        let got: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
        let want: Vec<&[u8]> = words
            .iter()
            .map(|w| w.as_bytes())
            .chain([&b""[..]])
            .collect();
        assert_eq!(got, want);
    }
}
