//! How a machine's data is backed up (`backup.method`).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Method {
    /// GNU tar archives, one per file system.
    Tar,
    /// A tree of files, hard-linked to the previous backup's.
    Rsync,
    /// A borg repository.
    Borg,
    /// A restic repository.
    Restic,
    /// A backup client of the site's own, whose commands rear-build runs.
    External,
    /// No backup: layout and rescue image only.
    None,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Tar,
        Method::Rsync,
        Method::Borg,
        Method::Restic,
        Method::External,
        Method::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Tar => "tar",
            Method::Rsync => "rsync",
            Method::Borg => "borg",
            Method::Restic => "restic",
            Method::External => "external",
            Method::None => "none",
        }
    }

    /// Whether rear-build makes and restores the backups itself (a backend).
    pub fn is_backend(self) -> bool {
        matches!(
            self,
            Method::Tar | Method::Rsync | Method::Borg | Method::Restic
        )
    }

    /// Whether its repository takes a passphrase (borg, restic).
    pub fn has_passphrase(self) -> bool {
        matches!(self, Method::Borg | Method::Restic)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Method, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "backup.method = {s:?}: allowed are \"tar\", \"rsync\", \"borg\", \"restic\", \"external\" and \"none\""
                )
            })
    }
}

impl TryFrom<String> for Method {
    type Error = String;
    fn try_from(s: String) -> Result<Method, String> {
        s.parse()
    }
}

impl From<Method> for String {
    fn from(m: Method) -> String {
        m.name().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_say_what_is_allowed() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>(), Ok(m));
        }
        let err = "bacula".parse::<Method>().unwrap_err();
        assert!(err.contains("\"bacula\": allowed are \"tar\""), "{err}");
    }
}
