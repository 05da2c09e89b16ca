//! Interim comparison of two file lists (replaced by the full one).

#[derive(Default)]
pub struct Ignore {
    pub prefixes: Vec<String>,
}

/// Lines in one list and not the other.
pub fn diff(a: &str, b: &str, ignore: &Ignore) -> Vec<String> {
    let keep = |l: &&str| !ignore.prefixes.iter().any(|p| l.starts_with(p.as_str()));
    let sa: std::collections::BTreeSet<&str> = a.lines().filter(keep).collect();
    let sb: std::collections::BTreeSet<&str> = b.lines().filter(keep).collect();
    let mut out: Vec<String> = sa.difference(&sb).map(|l| format!("- {l}")).collect();
    out.extend(sb.difference(&sa).map(|l| format!("+ {l}")));
    out
}
