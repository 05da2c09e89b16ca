//! rsync and borg over ssh, to an sshd this test starts on 127.0.0.1 with
//! its own host key, client key and configuration (rear-tests' servers;
//! nothing of the machine's ssh setup is used or changed, but /run/sshd,
//! which sshd insists on). The client reaches it through a host alias in a client
//! configuration named by RSYNC_RSH and BORG_RSH, so the urls are the ones
//! a user writes: `ssh://root@ALIAS/DIR`, `root@ALIAS:/DIR`. tar reaches
//! an `sftp://` target through sshfs, with the ssh options a user gives in
//! `backup.mount_options`.

mod common;

use common::{pass_file, round_trip, Real};
use rear_backup::borg::Borg;
use rear_backup::rsync::Rsync;
use rear_backup::secret::Passphrase;
use rear_backup::tar::Tar;
use rear_backup::target::{mounted, MOUNT_POINT};
use rear_backup::Target;
use rear_tests::servers::Server;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const ALIAS: &str = "rear-test-backup";

/// The test's sshd (rear-tests' server) and a client configuration that
/// names it by [`ALIAS`].
struct Sshd {
    server: Server,
    /// `ssh -F CONFIG`, for RSYNC_RSH and BORG_RSH.
    rsh: String,
    /// The client's private key.
    key: PathBuf,
}

impl Sshd {
    fn start(work: &Path) -> Sshd {
        let (server, key) = Server::sshd(work);
        let config = work.join("ssh_config");
        fs::write(
            &config,
            format!(
                "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  \
                 IdentityFile {key}\n  IdentitiesOnly yes\n  BatchMode yes\n  \
                 StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
                port = server.port,
                key = key.display()
            ),
        )
        .unwrap();
        Sshd {
            server,
            rsh: format!("ssh -F {}", config.display()),
            key,
        }
    }

    fn exec(&self, work: &Path) -> Real {
        Real {
            env: vec![
                ("RSYNC_RSH".into(), self.rsh.clone()),
                ("BORG_RSH".into(), self.rsh.clone()),
                (
                    "BORG_BASE_DIR".into(),
                    work.join("borg-home").display().to_string(),
                ),
            ],
        }
    }
}

#[test]
fn rsync_over_ssh() {
    let d = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(d.path());
    let dest = d.path().join("remote/web1");
    // rsync makes the last directory of a destination, not its parents.
    fs::create_dir_all(d.path().join("remote")).unwrap();
    let t = Target::parse(&format!("root@{ALIAS}:{}", dest.display())).unwrap();
    round_trip(&Rsync::at(&t).unwrap(), &sshd.exec(d.path()), d.path());
    assert!(dest.join("current").is_file());
}

#[test]
fn borg_over_ssh() {
    let d = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(d.path());
    let repo = d.path().join("remote/borg");
    let t = Target::parse(&format!("ssh://root@{ALIAS}{}", repo.display())).unwrap();
    let pass = Passphrase::File(pass_file(d.path(), "over ssh"));
    round_trip(
        &Borg::at(&t, pass, "web1").unwrap(),
        &sshd.exec(d.path()),
        d.path(),
    );
    assert!(repo.join("config").is_file());
}

/// tar to `sftp://`: the target is mounted with sshfs at the mount point
/// every mounted target uses, the backups land in the host's directory on
/// the server, and a second open finds the mount in place.
#[test]
fn tar_over_sftp_through_sshfs() {
    assert!(
        !mounted(),
        "{MOUNT_POINT} is in use; this test mounts there"
    );
    let d = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(d.path());
    let remote = d.path().join("remote");
    fs::create_dir_all(&remote).unwrap();
    let url = format!(
        "sftp://root@127.0.0.1:{}{}",
        sshd.server.port,
        remote.display()
    );
    let options = format!(
        "IdentityFile={},BatchMode=yes,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null",
        sshd.key.display()
    );
    let t = Target::parse_for(rear_backup::Method::Tar, &url).unwrap();
    let exec = Real::default();
    let place = t
        .open(&exec, "web1", rear_backup::Method::Tar, &options)
        .unwrap();
    struct Unmount;
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("fusermount3")
                .args(["-u", MOUNT_POINT])
                .status();
        }
    }
    let _unmount = Unmount;
    assert!(mounted(), "sshfs did not mount {MOUNT_POINT}");
    let Target::File(dir) = place else {
        panic!("{place:?}")
    };
    assert_eq!(dir, Path::new(MOUNT_POINT).join("web1"));
    assert_eq!(
        t.open(&exec, "web1", rear_backup::Method::Tar, &options)
            .unwrap(),
        Target::File(dir.clone())
    );
    round_trip(&Tar { dir, age: None }, &exec, d.path());
    // Written on the server, not below the mount point's own directory.
    let current = fs::read_to_string(remote.join("web1/current")).unwrap();
    assert!(remote
        .join("web1")
        .join(current.trim())
        .join("backup.tar.zst")
        .is_file());
}
