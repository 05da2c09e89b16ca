//! Files that hold a secret (a passphrase, a key): readable only by their
//! owner, and owned by the user rear-build runs as (root), or they are
//! refused: a secret others can read, or replace, protects nothing.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Why `path` may not hold a secret, if it may not.
pub fn check_secret_file(path: &Path) -> Result<(), String> {
    let m = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = m.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} holds a secret but other users may read it (mode {mode:o}): chmod 600 {}",
            path.display(),
            path.display()
        ));
    }
    // SAFETY: geteuid has no failure mode and touches no memory.
    let me = unsafe { libc::geteuid() };
    if m.uid() != me {
        return Err(format!(
            "{} holds a secret but belongs to user {} (rear-build runs as user {me}): chown {me} {}",
            path.display(),
            m.uid(),
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_a_file_its_owner_alone_reads_may_hold_a_secret() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pass");
        std::fs::write(&f, "secret\n").unwrap();
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, false),
            (0o644, false),
            (0o604, false),
        ] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            let r = check_secret_file(&f);
            assert_eq!(r.is_ok(), ok, "{mode:o}: {r:?}");
            if let Err(e) = r {
                assert!(e.contains("chmod 600") && !e.contains("secret\n"), "{e}");
            }
        }
        assert!(check_secret_file(&d.path().join("none")).is_err());
    }
}
