//! Masking secrets in text: a call's named secrets, `password=`-style
//! options (mount options, connection strings) and passwords in URLs.

const MASK: &str = "***";

/// Option names whose value is a secret, as mount and other tools spell
/// them (`-o username=bk,password=...`).
const SECRET_OPTIONS: &[&str] = &["password", "passwd", "pass", "passphrase"];

/// `text` with every one of `secrets`, every `password=`-style option value
/// and every password in a URL (`scheme://user:PASSWORD@host`) masked.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    // Longest first, so a secret containing another is masked whole.
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in sorted {
        out = out.replace(s.as_str(), MASK);
    }
    mask_options(&mask_urls(&out))
}

/// Whether the boundary before byte `i` of `s` starts a word.
fn word_start(s: &str, i: usize) -> bool {
    i == 0
        || s[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c == ',' || c == '\'' || c == '"' || c == '-' || c.is_whitespace())
}

fn value_end(s: &str, from: usize) -> usize {
    s[from..]
        .find(|c: char| c == ',' || c == '\'' || c == '"' || c.is_whitespace())
        .map_or(s.len(), |n| from + n)
}

/// The secret option (`password`, ...) whose `NAME=` starts a word at byte
/// `i` of `text` (`lower` is `text` in lowercase), if one does.
fn option_at(text: &str, lower: &str, i: usize) -> Option<&'static str> {
    if !word_start(text, i) {
        return None;
    }
    SECRET_OPTIONS.iter().copied().find(|name| {
        lower[i..]
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('='))
    })
}

fn mask_options(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match option_at(text, &lower, i).map(|name| name.len() + 1) {
            Some(k) => {
                let end = value_end(text, i + k);
                out.push_str(&text[i..i + k]);
                out.push_str(MASK);
                i = end;
            }
            None => {
                let c = text[i..].chars().next().expect("inside the text");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// The range of the password in the URL whose `://` starts at `at`.
fn url_password(text: &str, at: usize) -> Option<(usize, usize)> {
    let start = at + 3;
    let end = text[start..]
        .find(|c: char| c == '/' || c == '\'' || c == '"' || c.is_whitespace())
        .map_or(text.len(), |n| start + n);
    let authority = &text[start..end];
    let userinfo = &authority[..authority.rfind('@')?];
    let colon = userinfo.find(':')?;
    Some((start + colon + 1, start + userinfo.len()))
}

/// The byte ranges of every URL password in `text`, in order.
fn url_passwords(text: &str) -> Vec<(usize, usize)> {
    text.match_indices("://")
        .filter_map(|(at, _)| url_password(text, at))
        .collect()
}

fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (a, b) in url_passwords(text) {
        out.push_str(&text[done..a]);
        out.push_str(MASK);
        done = b;
    }
    out.push_str(&text[done..]);
    out
}

/// The secret-looking option or URL password in one argument (or option
/// list), if any.
pub fn secret_option(arg: &str) -> Option<String> {
    let lower = arg.to_ascii_lowercase();
    if let Some(name) = (0..arg.len())
        .filter(|&i| arg.is_char_boundary(i))
        .find_map(|i| option_at(arg, &lower, i))
    {
        return Some(name.to_string());
    }
    (!url_passwords(arg).is_empty()).then(|| "URL password (user:password@)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_secrets_are_masked_longest_first() {
        let s = vec!["abc".to_string(), "abcdef".to_string()];
        assert_eq!(redact("x abcdef y abc", &s), "x *** y ***");
    }

    #[test]
    fn password_options_are_masked_anywhere_in_an_option_list() {
        assert_eq!(
            redact(
                "mount -o username=bk,password=s3cr,vers=3.0 //nas/b /m",
                &[]
            ),
            "mount -o username=bk,password=***,vers=3.0 //nas/b /m"
        );
        assert_eq!(
            redact("'pass=a b' PASSWORD=x", &[]),
            "'pass=*** b' PASSWORD=***"
        );
        // Only whole option names: a file named bypass=1 is not a password.
        assert_eq!(
            redact("bypass=1 credentials=/etc/c", &[]),
            "bypass=1 credentials=/etc/c"
        );
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            redact("rest:https://u:pw@h:8000/r and sftp://u@h/x", &[]),
            "rest:https://u:***@h:8000/r and sftp://u@h/x"
        );
        assert_eq!(redact("ssh://a:b:c@h", &[]), "ssh://a:***@h");
    }

    #[test]
    fn secrets_on_argv_are_found() {
        assert_eq!(
            secret_option("username=bk,password=x").as_deref(),
            Some("password")
        );
        assert!(secret_option("https://u:p@h/").is_some());
        assert!(secret_option("https://u@h/").is_none());
        assert!(secret_option("credentials=/etc/cifs").is_none());
        assert!(secret_option("--passphrase-file").is_none());
    }
}
