//! Fuzz test of the configuration reader (docs/fuzz.md): a file of the
//! configuration directory, read over the built-in defaults as `load`
//! reads each. No input may panic or hang; a refusal names the file, and
//! the line or the key.

use super::*;
use proptest::prelude::*;
use rear_tests::fuzz;

/// Every key of the configuration, `image` to `restore`.
fn keys(v: &Value, out: &mut Vec<String>) {
    if let Value::Table(t) = v {
        for (k, x) in t {
            out.push(k.clone());
            keys(x, out);
        }
    }
}

/// Files that use every setting, backup method and kind of output url.
const EXAMPLES: &[&str] = &[
    "[image]\nmodules = \"all\"\nadd_modules = [\"zfs\"]\nomit_modules = [\"nouveau*\"]\n\
     recipes = [\"/etc/rear-build/recipes/site.toml\"]\ninclude = [\"/etc/ssh:/etc/ssh\"]\n\
     compression = \"zstd\"\ncompress_level = 19\noutput = \"/srv/out\"\nstore = \"/srv/store\"\nfirmware_dir = \"/lib/firmware\"\n",
    "[layout]\nexclude_mountpoints = [\"/data\"]\nexclude_vgs = [\"scratch\"]\nonly_vgs = []\n\
     exclude_disks = [\"/dev/sdb\"]\nprotect = [\"WWN-1*\", \"REAR-000\"]\n",
    "[backup]\nmethod = \"tar\"\nurl = \"nfs://server:2049/export/backup\"\n\
     exclude = [\"/var/cache\", \"/tmp\"]\nmount_options = \"nfsvers=4.2\"\n",
    "[backup]\nmethod = \"borg\"\nurl = \"ssh://backup@host:2222/srv/borg\"\n\
     passphrase_file = \"/etc/rear-build/borg.pass\"\n",
    "[backup]\nmethod = \"restic\"\nurl = \"sftp://u@h/srv/restic\"\npassphrase_file = \"/root/.restic\"\n",
    "[backup]\nmethod = \"rsync\"\nurl = \"root@host:/srv/rsync\"\n",
    "[backup]\nmethod = \"tar\"\nurl = \"cifs://user@nas/share/dir\"\n\
     mount_options = \"credentials=/etc/rear-build/cifs.cred,vers=3.0\"\n",
    "[backup]\nmethod = \"external\"\n[backup.external]\nbackup = [\"/usr/bin/client\", \"backup\"]\n\
     restore = [\"/usr/bin/client\", \"restore\", \"--to\", \"{root}\"]\n",
    "[backup]\nmethod = \"none\"\n",
    "[output]\nurl = \"https://dav.example:8443/rear\"\n\
     credentials_file = \"/etc/rear-build/push.cred\"\nca_file = \"/etc/rear-build/ca.pem\"\n",
    "[output]\nurl = \"sftp://push@nas/srv/rescue\"\nmount_options = \"IdentityFile=/root/.ssh/push\"\n",
    "[image]\ncompression = \"xz\"\ncompress_level = 0\n",
    "[pxe]\nroot = \"/srv/tftp\"\nworld_readable = true\n[obdr]\ndevice = \"/dev/nst0\"\n",
];

#[test]
fn config_toml() {
    let base = Value::try_from(Config::builtin()).expect("defaults serialize");
    let mut names = Vec::new();
    keys(&base, &mut names);
    names.extend(
        [
            "external",
            "backup",
            "restore",
            "compression",
            "compress_level",
        ]
        .map(String::from),
    );
    let mut examples: Vec<String> = EXAMPLES.iter().map(|e| e.to_string()).collect();
    examples.push(Config::builtin().to_toml());
    let origin = "/etc/rear-build/conf.d/10-site.toml";
    fuzz::run("config TOML", fuzz::text(examples), |t| {
        let mut value = base.clone();
        match layer(&mut value, &t, origin) {
            Ok(()) => {
                let c = Config::deserialize(value).expect("a checked layer deserializes");
                let c = c.with(&Flags::default());
                let _ = c.layout.capture_options();
                let _ = c.to_toml();
                Ok(true)
            }
            Err(e) => {
                let msg = format!("{e:#}");
                prop_assert!(msg.starts_with(origin), "does not name the file: {msg}");
                prop_assert!(
                    msg.contains(" line ") || names.iter().any(|k| msg.contains(k.as_str())),
                    "names no line or key: {msg}"
                );
                Ok(false)
            }
        }
    });
}
