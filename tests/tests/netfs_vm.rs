//! tar backups to network targets, made and restored inside a rescue VM:
//! `nfs://` (NFS-Ganesha), `cifs://` (Samba's smbd) and `sftp://` (sshfs to
//! OpenSSH's sshd). The servers run on the host's loopback; the VM reaches
//! them as 10.0.2.2 through qemu's user network. Each target: write the
//! configuration, `rear-build mkbackuponly` (which mounts the target and
//! unmounts it when done), then `rear-build restoreonly` onto a fresh file system, which
//! checks every file against the backup's manifest; the script also
//! compares the trees itself.

use rear_tests::rescue_vm::{build_image, run_in_rescue_on, RESULTS_SNIPPET};
use rear_tests::servers::Server;
use rear_tests::{artefact_dir, vm_tests_skipped};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SMB_PASSWORD: &str = "e2e smb secret";

/// vda: the data to back up; vdb: where it is restored.
const SCRIPT: &str = r#"
exec > >(tee -a /results/log.txt) 2>&1
trap 'rc=$?; echo "SCRIPT-EXIT=$rc"; save_results; exit $rc' EXIT
set -euxo pipefail
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
ip link set lo up
ip link set "$nic" up
ip addr add 10.0.2.15/24 dev "$nic"
mkfs.ext4 -q -L data /dev/vda
mkdir -p /mnt/data /mnt/dst
mount /dev/vda /mnt/data
cp -a /usr/lib/modules /mnt/data/modules
printf 'one\ntwo\n' > "/mnt/data/a name with spaces"
truncate -s 64M /mnt/data/sparse
printf 'middle' | dd of=/mnt/data/sparse bs=1M seek=32 conv=notrunc status=none
setfattr -n user.e2e -v kept "/mnt/data/a name with spaces"
setfacl -m u:1234:r "/mnt/data/a name with spaces"
ln /mnt/data/sparse /mnt/data/hardlink
chmod 4755 /mnt/data/modules
# A directory's size is its file system's business (lost+found is made
# larger), not the backup's.
tree() { (cd "$1" && find . \( -type d -printf '%p %y %m %U:%G\n' \) -o -printf '%p %y %m %U:%G %s %n %l\n' | sort && getfattr -R -d -m - . 2>/dev/null | grep -v '^$' | sort && getfacl -R -p . 2>/dev/null | sort); }
# The rescue system has no cmp or diff: compare by hash, show what differs.
same() {
  [ "$(b2sum < "$1")" = "$(b2sum < "$2")" ] && return 0
  echo "DIFFERENT: $1 $2"; cat "$1" "$2" | sort | uniq -u | head -n 20; return 1
}
tree /mnt/data > /results/data.tree
rear-build savelayout --exclude-disk /dev/vdb
for t in nfs cifs sftp; do
  cp "/etc/netfs/$t.toml" /etc/rear-build/config.toml
  cat /etc/rear-build/config.toml
  rear-build mkbackuponly
  # It unmounted the target it mounted (written out, safe to remove).
  if findmnt -q /run/rear-build/target; then echo "mkbackuponly left the target mounted"; exit 1; fi
  mkfs.ext4 -q -F /dev/vdb
  mount /dev/vdb /mnt/dst
  rear-build restoreonly --root /mnt/dst 2> "/results/$t.restore"
  cat "/results/$t.restore"
  tree /mnt/dst/mnt/data > "/results/$t.tree"
  same /results/data.tree "/results/$t.tree"
  same /mnt/data/sparse /mnt/dst/mnt/data/sparse
  echo "sparse: $(du -k /mnt/dst/mnt/data/sparse | cut -f1) KiB used"
  umount /mnt/dst /run/rear-build/target
  echo "NETFS-OK $t"
done
"#;

fn config(url: &str, mount_options: &str) -> String {
    format!("[backup]\nmethod = \"tar\"\nurl = \"{url}\"\nmount_options = \"{mount_options}\"\n")
}

fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// The one backup each server holds, for `host`: the `current` pointer
/// and the archive it names.
fn backup_on(server: &Server, host: &str) -> Result<u64, String> {
    let dir = server.share.join(host);
    let current = std::fs::read_to_string(dir.join("current"))
        .map_err(|e| format!("{}: {e}", dir.join("current").display()))?;
    let archive = dir.join(current.trim()).join("backup.tar.zst");
    std::fs::metadata(&archive)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", archive.display()))
}

#[test]
fn tar_to_nfs_cifs_and_sftp_from_the_rescue_system() {
    if vm_tests_skipped("network targets") {
        return;
    }
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    let nfs = Server::ganesha(work.path());
    let smb = Server::smbd(work.path(), SMB_PASSWORD);
    let (ssh, key) = Server::sshd(work.path());

    let files = work.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let script = write(
        &files,
        "netfs",
        &format!("#!/bin/bash\n{RESULTS_SNIPPET}\n{SCRIPT}"),
        0o755,
    );
    let ssh_options = "IdentityFile=/etc/netfs/key,BatchMode=yes,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null";
    let includes = vec![
        (script, "/usr/local/bin/netfs"),
        (
            write(
                &files,
                "nfs.toml",
                &config(&format!("nfs://10.0.2.2:{}/backup", nfs.port), "vers=4.1"),
                0o644,
            ),
            "/etc/netfs/nfs.toml",
        ),
        (
            write(
                &files,
                "cifs.toml",
                &config(
                    &format!("cifs://root@10.0.2.2:{}/backup", smb.port),
                    "credentials=/etc/netfs/cifs.cred,vers=3.0",
                ),
                0o644,
            ),
            "/etc/netfs/cifs.toml",
        ),
        (
            write(
                &files,
                "cifs.cred",
                &format!("password={SMB_PASSWORD}\n"),
                0o600,
            ),
            "/etc/netfs/cifs.cred",
        ),
        (
            write(
                &files,
                "sftp.toml",
                &config(
                    &format!("sftp://root@10.0.2.2:{}{}", ssh.port, ssh.share.display()),
                    ssh_options,
                ),
                0o644,
            ),
            "/etc/netfs/sftp.toml",
        ),
        (key, "/etc/netfs/key"),
    ];
    let (kernel, initrd) = build_image(
        &work.path().join("store"),
        &work.path().join("out"),
        &includes,
    );
    let disks: Vec<PathBuf> = ["data", "dst"]
        .iter()
        .map(|n| {
            let p = work.path().join(format!("{n}.raw"));
            std::fs::File::create(&p).unwrap().set_len(2 << 30).unwrap();
            p
        })
        .collect();
    let out = artefact_dir().join("netfs");
    let _ = std::fs::remove_dir_all(&out);
    let code = run_in_rescue_on(
        "netfs",
        (&kernel, &initrd),
        "/usr/local/bin/netfs",
        &disks,
        &out,
        Duration::from_secs(2400),
        true,
    );
    let log = std::fs::read_to_string(out.join("log.txt")).unwrap_or_default();
    let servers = [&nfs, &smb, &ssh]
        .iter()
        .map(|s| format!("== {} log:\n{}", s.name, s.log_text()))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(code, 0, "the script failed:\n{log}\n{servers}");
    // The rescue system keeps the name of the machine that made it.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    for (t, server) in [("nfs", &nfs), ("cifs", &smb), ("sftp", &ssh)] {
        assert!(log.contains(&format!("NETFS-OK {t}")), "{t}:\n{log}");
        let restore = std::fs::read_to_string(out.join(format!("{t}.restore"))).unwrap();
        assert!(
            restore.contains("restored and verified") && restore.contains(&format!("from {t}://")),
            "{t}: {restore}"
        );
        // The backup is on the server, in the host's directory.
        let bytes = backup_on(server, host).unwrap_or_else(|e| panic!("{t}: {e}"));
        eprintln!(
            "{t}: archive of {bytes} bytes on the server; {}",
            restore.trim()
        );
    }
}
