//! The programs the rescue system needs to restore a backup: the method's
//! own tool and what reaches its target. Pure, for the image builder's
//! list of required programs.

use crate::method::Method;
use crate::target::Target;

/// (program, why) for restoring with `method` from `target`; `encrypted`:
/// tar archives encrypted to age recipients.
pub fn programs(method: Method, target: Option<&Target>, encrypted: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |p: &str, why: &str| out.push((p.to_string(), why.to_string()));
    let m = method.name();
    match method {
        Method::Tar => {
            // zstd is rear-build's own (`stream`): no program for it.
            add("tar", "restoring the backup (backup.method tar)");
            if encrypted {
                add("age", "decrypting the archives (backup.recipients_file)");
            }
        }
        Method::Rsync | Method::Borg | Method::Restic => {
            let tool = if method == Method::Borg { "borg" } else { m };
            add(tool, &format!("restoring the backup (backup.method {m})"));
        }
        Method::External | Method::None => return out,
    }
    let net = "configuring the rescue system's network for a backup on the network (backup.url)";
    match target {
        Some(Target::Nfs(_)) => {
            add("mount.nfs", "mounting the backup (backup.url nfs://)");
            add("ip", net);
        }
        Some(Target::Cifs(_)) => {
            add("mount.cifs", "mounting the backup (backup.url cifs://)");
            add("ip", net);
        }
        Some(Target::Sftp(_)) => {
            if method == Method::Tar {
                add("sshfs", "mounting the backup (backup.url sftp://)");
                add("fusermount3", "unmounting the backup (backup.url sftp://)");
            }
            add("ssh", "reaching the backup (backup.url sftp://)");
            add("ip", net);
        }
        Some(Target::Ssh(_)) => {
            add("ssh", "reaching the backup (backup.url ssh://)");
            add("ip", net);
        }
        Some(Target::Rsyncd(_)) => add("ip", net),
        Some(Target::File(_) | Target::Usb { .. } | Target::Tape(_)) | None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(method: Method, url: &str, enc: bool) -> Vec<String> {
        let t = Target::parse_for(method, url).unwrap();
        programs(method, Some(&t), enc)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    #[test]
    fn each_method_needs_its_tool_and_its_target_s() {
        assert_eq!(names(Method::Tar, "usb://REAR-000", false), ["tar"]);
        assert_eq!(names(Method::Tar, "file:///srv/b", true), ["tar", "age"]);
        assert_eq!(
            names(Method::Borg, "ssh://b@h/r", false),
            ["borg", "ssh", "ip"]
        );
        assert_eq!(
            names(Method::Restic, "nfs://h/x", false),
            ["restic", "mount.nfs", "ip"]
        );
        assert_eq!(
            names(Method::Tar, "sftp://h/x", false),
            ["tar", "sshfs", "fusermount3", "ssh", "ip"]
        );
        assert!(programs(Method::None, None, false).is_empty());
    }
}
