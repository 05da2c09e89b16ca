//! Real network servers on the host's loopback for tests of network backup
//! and push targets: Samba's smbd (SMB/CIFS), NFS-Ganesha (NFSv4, user
//! space: the host kernel has no nfsd), OpenSSH's sshd (sftp) and nginx
//! (WebDAV over https). Each runs in the
//! foreground with its own configuration, state and keys in a test
//! directory, on a free port, and is killed when dropped. A rescue VM with
//! `host_net` reaches them as 10.0.2.2.

use std::collections::BTreeSet;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
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

/// A free port from the kernel, never one this process was handed before:
/// the port is given back before the server binds it, and tests run side by
/// side, so without the record two servers could race for one port.
fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if given.insert(port) {
            return port;
        }
    }
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

    /// nginx serving `root` as a WebDAV collection over https on
    /// 127.0.0.1 (PUT, DELETE, MKCOL, COPY, MOVE; basic auth as `user`
    /// with `password`, from an htpasswd file made by `openssl passwd`),
    /// taking request bodies up to `max_body` (nginx's
    /// client_max_body_size: "0" for any size). Its certificate is
    /// self-signed for 127.0.0.1 and localhost; returns it too, the CA file
    /// a client trusts it through.
    pub fn nginx_dav(
        work: &Path,
        root: &Path,
        user: &str,
        password: &str,
        max_body: &str,
    ) -> (Self, PathBuf) {
        let d = dir(work, "nginx");
        for sub in ["tmp", "logs"] {
            dir(&d, sub);
        }
        let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
        if !cert.exists() {
            run(Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=localhost"])
                .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert));
        }
        let hash = Command::new("openssl")
            .args(["passwd", "-apr1", "-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                writeln!(c.stdin.take().unwrap(), "{password}")?;
                c.wait_with_output()
            })
            .expect("openssl passwd");
        assert!(hash.status.success(), "openssl passwd failed");
        let htpasswd = d.join("htpasswd");
        fs::write(
            &htpasswd,
            format!("{user}:{}", String::from_utf8_lossy(&hash.stdout)),
        )
        .unwrap();
        let port = free_port();
        let conf = d.join("nginx.conf");
        fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/logs/error.log info;\nevents {{ worker_connections 64; }}\n\
                 http {{\n access_log {d}/logs/access.log;\n client_body_temp_path {d}/tmp;\n\
                 server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {cert};\n\
                 ssl_certificate_key {key};\n  root {root};\n  client_max_body_size {max_body};\n\
                 location / {{\n   auth_basic push;\n   auth_basic_user_file {htpasswd};\n\
                 dav_methods PUT DELETE MKCOL COPY MOVE;\n   dav_access user:rw;\n  }}\n }}\n}}\n",
                d = d.display(),
                cert = cert.display(),
                key = key.display(),
                root = root.display(),
                htpasswd = htpasswd.display(),
            ),
        )
        .unwrap();
        let mut c = Command::new("/usr/sbin/nginx");
        c.arg("-p").arg(&d).arg("-e").arg(d.join("logs/error.log"));
        c.arg("-c").arg(&conf);
        let s = Self::start(
            "nginx",
            c,
            port,
            root.to_path_buf(),
            d.join("logs/error.log"),
        );
        (s, cert)
    }

    /// Debian's docker-registry (distribution 2.8) on 127.0.0.1, plain
    /// http, its blobs and manifests in `share` (the filesystem driver:
    /// `share/docker/registry/v2/blobs/sha256/XX/HEX/data`). With
    /// `htpasswd` (bcrypt lines), basic auth is required.
    pub fn docker_registry(work: &Path, htpasswd: Option<&Path>) -> Self {
        let d = dir(work, "registry");
        let share = dir(&d, "storage");
        let port = free_port();
        let auth = htpasswd.map_or(String::new(), |h| {
            format!(
                "auth:\n  htpasswd:\n    realm: rear-build-test\n    path: {}\n",
                h.display()
            )
        });
        let conf = d.join("config.yml");
        fs::write(
            &conf,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 {auth}http:\n  addr: 127.0.0.1:{port}\n",
                share.display()
            ),
        )
        .unwrap();
        let mut c = Command::new("/usr/bin/docker-registry");
        c.arg("serve").arg(&conf);
        Self::start("docker-registry", c, port, share, d.join("registry.log"))
    }
}
