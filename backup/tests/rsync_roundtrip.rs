//! The rsync backend with the real rsync, to a local directory and to an
//! rsync daemon this test starts on 127.0.0.1 (as root: it keeps owners).

mod common;

use common::{
    changed_during_backup_is_restored_unverified, failed_backup_keeps_the_previous_one, round_trip,
    Real,
};
use rear_backup::rsync::Rsync;
use rear_backup::{generation, restore_and_verify, Remote, Target};
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An rsync daemon serving `dir` as module `rear`, stopped when dropped.
struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    fn start(work: &Path, dir: &Path) -> Daemon {
        fs::create_dir_all(dir).unwrap();
        let conf = work.join("rsyncd.conf");
        fs::write(
            &conf,
            format!(
                "pid file = {}\nuse chroot = yes\nuid = root\ngid = root\n\
                 [rear]\npath = {}\nread only = no\n",
                work.join("rsyncd.pid").display(),
                dir.display()
            ),
        )
        .unwrap();
        // A free port: taken from the kernel, given back, then used at once.
        // Tests run side by side: held until this daemon listens, so no
        // other test here is handed the same port in between (two daemons
        // on one port: the loser exits and its test talks to the other).
        static PICK: Mutex<()> = Mutex::new(());
        let _pick = PICK.lock().unwrap_or_else(|e| e.into_inner());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("rsync")
            .args([
                "--daemon",
                "--no-detach",
                "--address=127.0.0.1",
                &format!("--port={port}"),
                &format!("--config={}", conf.display()),
            ])
            .spawn()
            .unwrap();
        let mut d = Daemon { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!("rsync --daemon exited: {st}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "rsync --daemon did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    fn target(&self, path: &str) -> Target {
        Target::Rsyncd(Remote {
            user: None,
            host: "127.0.0.1".into(),
            port: Some(self.port),
            path: format!("rear/{path}"),
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn everything_comes_back_from_a_local_directory() {
    common::usual_umask();
    let d = tempfile::tempdir().unwrap();
    let dest = d.path().join("dest");
    let b = Rsync::at(&Target::File(dest.clone())).unwrap();
    round_trip(&b, &Real::default(), d.path());
    common::assert_private(&dest);
    let gen = generation::current(&dest).unwrap().unwrap();
    let gens: Vec<String> = fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(generation::PREFIX))
        .collect();
    assert_eq!(
        gens,
        std::slice::from_ref(&gen),
        "the older generation is deleted"
    );
    // A plain tree: readable without rear-build.
    assert_eq!(
        fs::read(dest.join(&gen).join("tree/etc/with space")).unwrap(),
        b"changed"
    );
}

#[test]
fn everything_comes_back_from_an_rsync_daemon() {
    let d = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(d.path(), &d.path().join("module"));
    let b = Rsync::at(&daemon.target("web1")).unwrap();
    round_trip(&b, &Real::default(), d.path());
    let served = d.path().join("module/web1");
    common::assert_private(&served);
    let gen = generation::current(&served).unwrap().unwrap();
    assert!(served.join(gen).join("backup.sums").is_file());
}

#[test]
fn a_failed_backup_keeps_the_previous_one() {
    let d = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(d.path(), &d.path().join("module"));
    let b = Rsync::at(&daemon.target("web1")).unwrap();
    failed_backup_keeps_the_previous_one(&b, &Real::default(), d.path());
}

#[test]
fn no_backup_and_no_daemon_module_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let dst = d.path().join("dst");
    fs::create_dir_all(&dst).unwrap();
    let local = Rsync::at(&Target::File(d.path().join("nothing"))).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&local, &dst, &Real::default()).unwrap_err()
    );
    assert!(err.contains("no checksum manifest"), "{err}");

    let daemon = Daemon::start(d.path(), &d.path().join("module"));
    let mut t = daemon.target("web1");
    if let Target::Rsyncd(r) = &mut t {
        r.path = "nomodule/web1".into();
    }
    let b = Rsync::at(&t).unwrap();
    let err = format!(
        "{:#}",
        restore_and_verify(&b, &dst, &Real::default()).unwrap_err()
    );
    assert!(err.contains("Unknown module 'nomodule'"), "{err}");
}

#[test]
fn a_file_that_changes_during_the_backup_is_restored_unverified() {
    let d = tempfile::tempdir().unwrap();
    let b = Rsync::at(&Target::File(d.path().join("dest"))).unwrap();
    changed_during_backup_is_restored_unverified(&b, &Real::default(), d.path());
}
