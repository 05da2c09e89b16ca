//! `rear.auto=` on the kernel command line.

use std::fmt;
use std::path::PathBuf;

/// Parsed kernel command line settings: what init does once the rescue system is up.
#[derive(Clone, Debug, PartialEq)]
pub enum Auto {
    /// Offer a shell on every console (the default).
    Shell,
    /// Power off right away.
    Poweroff,
    /// Run `rear-build recover --unattended`, print its exit code, power off.
    Recover,
    /// Run the given script, print its exit code, power off.
    Run(PathBuf),
}

impl fmt::Display for Auto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auto::Shell => f.write_str("shell"),
            Auto::Poweroff => f.write_str("poweroff"),
            Auto::Recover => f.write_str("recover"),
            Auto::Run(p) => write!(f, "run:{}", p.display()),
        }
    }
}

const KEY: &str = "rear.auto";

/// Parses `rear.auto=shell|poweroff|recover|run:/PATH` out of a kernel command line (the
/// contents of `/proc/cmdline`). Without the parameter the result is [`Auto::Shell`]; when it
/// is given more than once the last one wins, as for kernel parameters. An unknown or
/// malformed value is an error with a message that says what is accepted.
pub fn parse_cmdline(cmdline: &str) -> Result<Auto, String> {
    let mut value: Option<String> = None;
    for word in split_cmdline(cmdline) {
        if word == KEY {
            value = Some(String::new());
        } else if let Some(v) = word.strip_prefix(KEY).and_then(|r| r.strip_prefix('=')) {
            value = Some(v.to_string());
        }
    }
    let Some(value) = value else {
        return Ok(Auto::Shell);
    };
    match value.as_str() {
        "shell" => Ok(Auto::Shell),
        "poweroff" => Ok(Auto::Poweroff),
        "recover" => Ok(Auto::Recover),
        v => match v.strip_prefix("run:") {
            Some(path) if path.starts_with('/') && path.len() > 1 => {
                Ok(Auto::Run(PathBuf::from(path)))
            }
            Some(path) => Err(format!(
                "rear.auto=run: needs an absolute script path (run:/PATH), got {path:?}"
            )),
            None => Err(format!(
                "unknown rear.auto value {v:?} (expected shell, poweroff, recover or run:/PATH)"
            )),
        },
    }
}

/// `rear.map=OLD=NEW` words (repeatable, or comma-separated): the disk
/// mapping for an unattended recovery onto other disks, passed on as `--map`
/// (so either side is any form `--map` takes: a kernel name, a by-id or
/// by-path link, `wwn:VALUE`, `serial:VALUE`).
pub fn recover_maps(cmdline: &str) -> Vec<String> {
    split_cmdline(cmdline)
        .iter()
        .filter_map(|w| w.strip_prefix("rear.map="))
        .flat_map(|v| v.split(','))
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits a kernel command line into words the way the kernel does: on whitespace, with
/// double quotes grouping (and being removed from) a word, e.g. `a="b c"` is `a=b c`.
fn split_cmdline(cmdline: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_maps_for_recover() {
        assert_eq!(
            recover_maps("console=ttyS0 rear.map=/dev/vda=/dev/vdb,/dev/sda=/dev/nvme0n1 rear.map=/dev/x=/dev/y rear.auto=recover"),
            ["/dev/vda=/dev/vdb", "/dev/sda=/dev/nvme0n1", "/dev/x=/dev/y"]
        );
        assert!(recover_maps("rear.auto=recover").is_empty());
    }

    #[test]
    fn default_is_shell() {
        assert_eq!(parse_cmdline(""), Ok(Auto::Shell));
        assert_eq!(
            parse_cmdline("BOOT_IMAGE=/vmlinuz console=ttyS0 quiet\n"),
            Ok(Auto::Shell)
        );
    }

    #[test]
    fn known_values() {
        assert_eq!(parse_cmdline("rear.auto=shell"), Ok(Auto::Shell));
        assert_eq!(
            parse_cmdline("console=ttyS0 rear.auto=poweroff quiet"),
            Ok(Auto::Poweroff)
        );
        assert_eq!(parse_cmdline("rear.auto=recover\n"), Ok(Auto::Recover));
        assert_eq!(
            parse_cmdline("rear.auto=run:/root/test.sh console=ttyS0"),
            Ok(Auto::Run(PathBuf::from("/root/test.sh")))
        );
    }

    #[test]
    fn last_one_wins() {
        assert_eq!(
            parse_cmdline("rear.auto=poweroff rear.auto=shell"),
            Ok(Auto::Shell)
        );
    }

    #[test]
    fn quoted_values() {
        assert_eq!(
            parse_cmdline("x=\"a b\" rear.auto=\"run:/root/my script.sh\""),
            Ok(Auto::Run(PathBuf::from("/root/my script.sh")))
        );
        assert_eq!(
            split_cmdline(" a  \"b c\"d e=\"f\"\t"),
            vec!["a", "b cd", "e=f"]
        );
    }

    #[test]
    fn similar_keys_are_not_ours() {
        assert_eq!(parse_cmdline("rear.automatic=poweroff"), Ok(Auto::Shell));
        assert_eq!(parse_cmdline("xrear.auto=poweroff"), Ok(Auto::Shell));
    }

    #[test]
    fn errors_name_the_value() {
        let e = parse_cmdline("rear.auto=reboot").unwrap_err();
        assert!(e.contains("\"reboot\"") && e.contains("run:/PATH"), "{e}");
        assert!(parse_cmdline("rear.auto=").is_err());
        assert!(parse_cmdline("rear.auto").is_err());
        assert!(parse_cmdline("rear.auto=run:").is_err());
        assert!(parse_cmdline("rear.auto=run:/").is_err());
        let e = parse_cmdline("rear.auto=run:relative.sh").unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        assert!(parse_cmdline("rear.auto=Shell").is_err());
    }

    #[test]
    fn display_round_trips() {
        for a in [
            Auto::Shell,
            Auto::Poweroff,
            Auto::Recover,
            Auto::Run(PathBuf::from("/x/y")),
        ] {
            assert_eq!(parse_cmdline(&format!("rear.auto={a}")), Ok(a));
        }
    }
}
