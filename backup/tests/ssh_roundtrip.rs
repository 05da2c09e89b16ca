//! rsync and borg over ssh, to an sshd this test starts on 127.0.0.1 with
//! its own host key, client key and configuration (nothing of the
//! machine's ssh setup is used or changed, but /run/sshd, which sshd
//! insists on). The client reaches it through a host alias in a client
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
use rear_backup::target::MOUNT_POINT;
use rear_backup::Target;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ALIAS: &str = "rear-test-backup";

struct Sshd {
    child: Child,
    /// `ssh -F CONFIG`, for RSYNC_RSH and BORG_RSH.
    rsh: String,
    port: u16,
    /// The client's private key.
    key: std::path::PathBuf,
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen");
}

impl Sshd {
    fn start(work: &Path) -> Sshd {
        let d = work.join("ssh");
        fs::create_dir_all(&d).unwrap();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        fs::write(
            d.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {dir}/host_key\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nPidFile none\nSubsystem sftp internal-sftp\n",
                dir = d.display()
            ),
        )
        .unwrap();
        fs::write(
            d.join("ssh_config"),
            format!(
                "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  \
                 IdentityFile {dir}/client_key\n  IdentitiesOnly yes\n  BatchMode yes\n  \
                 StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
                dir = d.display()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd (openssh-server) is needed for the ssh tests");
        let mut s = Sshd {
            child,
            rsh: format!("ssh -F {}", d.join("ssh_config").display()),
            port,
            key: d.join("client_key"),
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("sshd exited: {st}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
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

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

fn mounted(at: &str) -> bool {
    fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(at))
}

/// tar to `sftp://`: the target is mounted with sshfs at the mount point
/// every mounted target uses, the backups land in the host's directory on
/// the server, and a second open finds the mount in place.
#[test]
fn tar_over_sftp_through_sshfs() {
    assert!(
        !mounted(MOUNT_POINT),
        "{MOUNT_POINT} is in use; this test mounts there"
    );
    let d = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(d.path());
    let remote = d.path().join("remote");
    fs::create_dir_all(&remote).unwrap();
    let url = format!("sftp://root@127.0.0.1:{}{}", sshd.port, remote.display());
    let options = format!(
        "IdentityFile={},BatchMode=yes,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null",
        sshd.key.display()
    );
    let t = Target::parse_for("tar", &url).unwrap();
    let exec = Real::default();
    let place = t.open(&exec, "web1", "tar", &options).unwrap();
    struct Unmount;
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("fusermount3")
                .args(["-u", MOUNT_POINT])
                .status();
        }
    }
    let _unmount = Unmount;
    assert!(mounted(MOUNT_POINT), "sshfs did not mount {MOUNT_POINT}");
    let Target::File(dir) = place else {
        panic!("{place:?}")
    };
    assert_eq!(dir, Path::new(MOUNT_POINT).join("web1"));
    assert_eq!(
        t.open(&exec, "web1", "tar", &options).unwrap(),
        Target::File(dir.clone())
    );
    round_trip(&Tar { dir }, &exec, d.path());
    // Written on the server, not below the mount point's own directory.
    let current = fs::read_to_string(remote.join("web1/current")).unwrap();
    assert!(remote
        .join("web1")
        .join(current.trim())
        .join("backup.tar.zst")
        .is_file());
}
