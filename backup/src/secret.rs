//! Where a repository passphrase comes from (borg, restic). The passphrase
//! itself never passes through rear-build: a configured file is handed to
//! the tool by name (in its environment, never on argv where every user of
//! the machine can read it, and never in a log); without a file, the
//! tool's own variables already in the environment are left to it.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Passphrase {
    /// `backup.passphrase_file`: the first line of this file.
    File(PathBuf),
    /// The tool's own variable, set in rear-build's environment (named here
    /// for messages).
    Inherited(String),
}

impl Passphrase {
    /// The configured file if there is one, else the first of `vars` set in
    /// the environment `env` looks up; neither is an error that says how to
    /// give one.
    pub fn resolve(
        file: Option<&Path>,
        tool: &str,
        vars: &[&str],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Passphrase> {
        if let Some(f) = file {
            // Opened here so a missing or unreadable file is reported as
            // such, not as a wrong passphrase by the tool.
            std::fs::File::open(f).with_context(|| {
                format!("backup.passphrase_file {}: cannot read it", f.display())
            })?;
            rear_exec::check_secret_file(f)
                .map_err(|e| anyhow::anyhow!("backup.passphrase_file: {e}"))?;
            return Ok(Passphrase::File(f.to_path_buf()));
        }
        match vars
            .iter()
            .find(|v| env(v).is_some_and(|x| !x.is_empty()))
        {
            Some(v) => Ok(Passphrase::Inherited(v.to_string())),
            None => bail!(
                "{tool} needs the repository passphrase: set backup.passphrase_file to a file holding it, or {} in the environment",
                vars.join(" or ")
            ),
        }
    }

    /// Says where the passphrase came from, for errors.
    pub fn origin(&self) -> String {
        match self {
            Passphrase::File(f) => format!("backup.passphrase_file {}", f.display()),
            Passphrase::Inherited(v) => format!("{v} in the environment"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_wins_and_must_be_readable() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pass");
        std::fs::write(&f, "secret\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let env = |_: &str| Some("from-env".to_string());
        // Readable by others: refused, saying how to mend it.
        let err = Passphrase::resolve(Some(&f), "borg", &["BORG_PASSPHRASE"], env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            Passphrase::resolve(Some(&f), "borg", &["BORG_PASSPHRASE"], env).unwrap(),
            Passphrase::File(f.clone())
        );
        let err = Passphrase::resolve(Some(&d.path().join("nope")), "borg", &[], env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("backup.passphrase_file") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn the_environment_is_used_when_no_file_is_set() {
        let env = |v: &str| (v == "BORG_PASSCOMMAND").then(|| "pass show borg".to_string());
        let vars = ["BORG_PASSPHRASE", "BORG_PASSCOMMAND"];
        assert_eq!(
            Passphrase::resolve(None, "borg", &vars, env).unwrap(),
            Passphrase::Inherited("BORG_PASSCOMMAND".into())
        );
        let err = Passphrase::resolve(None, "borg", &vars, |_| None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("backup.passphrase_file")
                && err.contains("BORG_PASSPHRASE or BORG_PASSCOMMAND"),
            "{err}"
        );
        // An empty variable is no passphrase.
        assert!(Passphrase::resolve(None, "borg", &vars, |_| Some(String::new())).is_err());
    }
}
