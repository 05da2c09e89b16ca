//! Real network servers on the host's loopback for tests of network backup
//! targets: Samba's smbd (SMB/CIFS), NFS-Ganesha (NFSv4, user space: the
//! host kernel has no nfsd) and OpenSSH's sshd (sftp). Each runs in the
//! foreground with its own configuration, state and keys in a test
//! directory, on a free port, and is killed when dropped. A rescue VM with
//! `host_net` reaches them as 10.0.2.2.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub name: &'static str,
    child: Child,
    pub port: u16,
    /// The directory the server shares (exported, or the sftp target).
    pub share: PathBuf,
    /// Where its log goes, for failure messages.
    pub log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn dir(work: &Path, name: &str) -> PathBuf {
    let d = work.join(name);
    fs::create_dir_all(&d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
    d
}

fn run(c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Server {
    /// Starts `c` (its output to `log`) and waits until it listens on `port`.
    fn start(name: &'static str, mut c: Command, port: u16, share: PathBuf, log: PathBuf) -> Self {
        let out = fs::File::create(&log).unwrap();
        let child = c
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start {name} ({c:?}): {e}; is it installed (ci/setup --test)?")
            });
        let mut s = Server {
            name,
            child,
            port,
            share,
            log,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("{name} exited ({st}): {}", s.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{name} did not listen on {port}: {}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// smbd sharing `share` as `backup`, writable by `root` with
    /// `password` (in a passdb of its own), files owned by root.
    pub fn smbd(work: &Path, password: &str) -> Self {
        let d = dir(work, "smb");
        let share = dir(&d, "share");
        let port = free_port();
        let conf = d.join("smb.conf");
        let mut text = format!(
            "[global]\n smb ports = {port}\n interfaces = 127.0.0.1\n bind interfaces only = yes\n \
             server role = standalone server\n map to guest = never\n load printers = no\n \
             disable spoolss = yes\n log file = {}/log.%m\n",
            d.display()
        );
        for (k, sub) in [
            ("private dir", "private"),
            ("lock directory", "lock"),
            ("state directory", "state"),
            ("cache directory", "cache"),
            ("pid directory", "pid"),
            ("ncalrpc dir", "ncalrpc"),
        ] {
            text += &format!(" {k} = {}\n", dir(&d, sub).display());
        }
        text += &format!(
            "[backup]\n path = {}\n read only = no\n force user = root\n",
            share.display()
        );
        fs::write(&conf, text).unwrap();
        let mut add = Command::new("smbpasswd");
        add.arg("-c").arg(&conf).args(["-s", "-a", "root"]);
        let mut child = add
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("smbpasswd (samba) is needed");
        use std::io::Write;
        write!(child.stdin.take().unwrap(), "{password}\n{password}\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "smbpasswd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut c = Command::new("smbd");
        c.arg("-s")
            .arg(&conf)
            .args(["-F", "--no-process-group", "--debug-stdout"]);
        Self::start("smbd", c, port, share, d.join("smbd.log"))
    }

    /// NFS-Ganesha exporting `share` as `/backup` (NFSv4 over TCP only,
    /// no root squashing).
    pub fn ganesha(work: &Path) -> Self {
        let d = dir(work, "nfs");
        let share = dir(&d, "export");
        let port = free_port();
        let conf = d.join("ganesha.conf");
        fs::write(
            &conf,
            format!(
                "NFS_CORE_PARAM {{ NFS_Port = {port}; Bind_addr = 127.0.0.1; Protocols = 4; \
                 Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }}\n\
                 NFSV4 {{ Graceless = true; RecoveryBackend = fs; RecoveryRoot = {rec}; }}\n\
                 EXPORT {{ Export_Id = 1; Path = {share}; Pseudo = /backup; Access_Type = RW; \
                 Squash = No_Root_Squash; Protocols = 4; Transports = TCP; SecType = sys; \
                 FSAL {{ Name = VFS; }} }}\n",
                rec = dir(&d, "recovery").display(),
                share = share.display()
            ),
        )
        .unwrap();
        let log = d.join("ganesha.log");
        let mut c = Command::new("ganesha.nfsd");
        c.arg("-F")
            .arg("-f")
            .arg(&conf)
            .arg("-L")
            .arg(&log)
            .arg("-p")
            .arg(d.join("ganesha.pid"))
            .args(["-N", "NIV_EVENT"]);
        Self::start("ganesha.nfsd", c, port, share, log)
    }

    /// sshd with its own host key that lets root in with the key pair it
    /// returns the private half of (sftp by its internal server).
    pub fn sshd(work: &Path) -> (Self, PathBuf) {
        let d = dir(work, "ssh");
        let share = dir(&d, "srv");
        for k in ["host_key", "client_key"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(k)));
        }
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        fs::write(
            d.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/host_key\n\
                 AuthorizedKeysFile {d}/client_key.pub\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nPidFile none\nSubsystem sftp internal-sftp\n",
                d = d.display()
            ),
        )
        .unwrap();
        let mut c = Command::new("/usr/sbin/sshd");
        c.args(["-D", "-e", "-f"]).arg(d.join("sshd_config"));
        let s = Self::start("sshd", c, port, share, d.join("sshd.log"));
        (s, d.join("client_key"))
    }
}
