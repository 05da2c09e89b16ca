//! The rescue system's own configuration: files generated for the image
//! (users, shell profile, LVM without udev, the init's rescue.json) and the
//! host facts they carry (hostname, network).

use anyhow::{Context, Result};
use rear_boot::init::{Interface, Network, RescueConfig, Route};
use serde_json::Value;

/// Generated files: (image path, mode, content).
pub type Generated = Vec<(String, u32, Vec<u8>)>;

const BANNER: &str = "\
Welcome to the rear-build rescue system.

  lsblk -f               the disks and their file systems
  rear-build --help      what rear-build can do here
  poweroff -f            power off (or: echo o > /proc/sysrq-trigger)

Earlier commands are in the shell history (arrow up).";

/// Reads the host's network setup from `ip -json` output: up Ethernet-like
/// interfaces with their global addresses, gateway routes, nameservers.
pub fn network_from_ip(addr_json: &str, route_json: &str, resolv_conf: &str) -> Result<Network> {
    let links: Vec<Value> = serde_json::from_str(addr_json).context("parse `ip -j addr`")?;
    let routes: Vec<Value> = serde_json::from_str(route_json).context("parse `ip -j route`")?;
    let mut net = Network::default();
    for l in &links {
        let s = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or_default();
        let up = l
            .get("flags")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x == "UP"));
        if s("link_type") != "ether" || !up {
            continue;
        }
        let addrs: Vec<&Value> = l
            .get("addr_info")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter(|a| a["scope"] == "global").collect())
            .unwrap_or_default();
        let dhcp = addrs.iter().any(|a| a["dynamic"] == true);
        net.interfaces.push(Interface {
            name: s("ifname").to_string(),
            mac: s("address").to_lowercase(),
            dhcp,
            addresses: if dhcp {
                Vec::new()
            } else {
                addrs
                    .iter()
                    .filter_map(|a| Some(format!("{}/{}", a["local"].as_str()?, a["prefixlen"])))
                    .collect()
            },
            mtu: l.get("mtu").and_then(Value::as_u64).map(|m| m as u32),
        });
    }
    let known: Vec<&str> = net.interfaces.iter().map(|i| i.name.as_str()).collect();
    for r in &routes {
        let dev = r["dev"].as_str().unwrap_or_default();
        // Routes the kernel adds for an address come back with the address.
        if r["protocol"] == "kernel" || r["protocol"] == "dhcp" || !known.contains(&dev) {
            continue;
        }
        net.routes.push(Route {
            destination: r["dst"].as_str().unwrap_or("default").to_string(),
            gateway: r["gateway"].as_str().map(str::to_string),
            interface: dev.to_string(),
        });
    }
    net.nameservers = resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|n| n.trim().to_string())
        .collect();
    Ok(net)
}

fn host_network() -> Network {
    use rear_exec::Exec;
    let ip = |args: &[&str]| rear_exec::System.run(&rear_exec::Call::new("ip").args(args));
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    match (ip(&["-j", "addr", "show"]), ip(&["-j", "route", "show"])) {
        (Ok(a), Ok(r)) => network_from_ip(&a, &r, &resolv).unwrap_or_else(|e| {
            log::warn!("network setup not captured: {e:#}");
            Network::default()
        }),
        (Err(e), _) | (_, Err(e)) => {
            log::warn!("network setup not captured: {e:#}");
            Network::default()
        }
    }
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "rescue".into())
}

/// The rescue configuration for this host.
pub fn config(modules: Vec<String>, sshd: bool) -> RescueConfig {
    RescueConfig {
        hostname: host_name(),
        modules,
        network: host_network(),
        sshd,
        history: vec![
            "lsblk -o NAME,SIZE,TYPE,FSTYPE,LABEL,UUID,MOUNTPOINTS".into(),
            "blkid".into(),
            "rear-build --help".into(),
        ],
        banner: BANNER.into(),
        keymap: None,
        ntp: host_ntp_servers(std::path::Path::new("/")),
    }
}

/// systemd-timesyncd's servers when it is enabled with none configured
/// (Debian builds it with these).
const TIMESYNCD_DEBIAN: &[&str] = &[
    "0.debian.pool.ntp.org",
    "1.debian.pool.ntp.org",
    "2.debian.pool.ntp.org",
    "3.debian.pool.ntp.org",
];

/// Files below `root` matching `dir/*.ext`, sorted, after `first`.
fn conf_files(root: &std::path::Path, first: &str, dir: &str, ext: &str) -> Vec<String> {
    let mut out = vec![first.to_string()];
    let mut more: Vec<String> = std::fs::read_dir(root.join(dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(ext))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    more.sort();
    out.extend(more);
    out
}

/// The NTP servers this host syncs its clock with, from the first time
/// service configured: chrony (`server`/`pool` lines, sources.d too),
/// ntpsec or ntp (`server`/`pool`), systemd-timesyncd (`NTP=`, else
/// `FallbackNTP=`, else Debian's built-in pool when it is enabled).
/// Empty when none is: the rescue system then leaves the clock alone.
pub fn host_ntp_servers(root: &std::path::Path) -> Vec<String> {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
    let lines_of = |files: Vec<String>, keys: &[&str]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in files {
            for l in read(&f).lines() {
                let mut w = l.split_whitespace();
                if let (Some(k), Some(host)) = (w.next(), w.next()) {
                    if keys.contains(&k) && !out.iter().any(|o| o == host) {
                        out.push(host.to_string());
                    }
                }
            }
        }
        out
    };
    let chrony = lines_of(
        [
            conf_files(root, "etc/chrony/chrony.conf", "etc/chrony/conf.d", ".conf"),
            conf_files(root, "etc/chrony.conf", "etc/chrony/sources.d", ".sources"),
        ]
        .concat(),
        &["server", "pool", "peer"],
    );
    if !chrony.is_empty() {
        return chrony;
    }
    let ntp = lines_of(
        vec!["etc/ntpsec/ntp.conf".into(), "etc/ntp.conf".into()],
        &["server", "pool"],
    );
    if !ntp.is_empty() {
        return ntp;
    }
    let files = conf_files(
        root,
        "etc/systemd/timesyncd.conf",
        "etc/systemd/timesyncd.conf.d",
        ".conf",
    );
    let setting = |key: &str| -> Vec<String> {
        // The last assignment wins, as in systemd's parser.
        let mut v = Vec::new();
        for f in &files {
            for l in read(f).lines() {
                if let Some(val) = l.trim().strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                    v = val.split_whitespace().map(str::to_string).collect();
                }
            }
        }
        v
    };
    let (ntp, fallback) = (setting("NTP"), setting("FallbackNTP"));
    if !ntp.is_empty() {
        return ntp;
    }
    if !fallback.is_empty() {
        return fallback;
    }
    let enabled = root
        .join("etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service")
        .exists();
    if enabled {
        return TIMESYNCD_DEBIAN.iter().map(|s| s.to_string()).collect();
    }
    Vec::new()
}

/// Where the host's console key map goes in the image.
pub const KEYMAP_PATH: &str = "/etc/rear-build/keymap.kmap.gz";

/// The host's console key map, as console-setup compiled it for the
/// console (`/etc/console-setup/cached_*.kmap.gz`, written by
/// setupcon from /etc/default/keyboard), below `root`. Without that cache
/// the XKB layout of /etc/default/keyboard would need ckbcomp (Perl) to
/// become a console map: then there is none, and the rescue console keeps
/// the kernel's (US) map.
pub fn host_keymap(root: &std::path::Path) -> Option<std::path::PathBuf> {
    let dir = root.join("etc/console-setup");
    let mut maps: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cached") && n.ends_with(".kmap.gz"))
        })
        .collect();
    maps.sort();
    let found = maps.into_iter().next();
    if found.is_none() && root.join("etc/default/keyboard").is_file() {
        log::info!(
            "no compiled console key map in {} (console-setup's setupcon makes one): the rescue console keeps the kernel's US map",
            dir.display()
        );
    }
    found
}

/// Files the rescue system needs that are generated, not copied.
pub fn generated(cfg: &RescueConfig) -> Generated {
    let mut out: Generated = Vec::new();
    let mut add =
        |path: &str, mode: u32, text: String| out.push((path.into(), mode, text.into_bytes()));
    let mut json = serde_json::to_string_pretty(cfg).expect("rescue config serializes");
    json.push('\n');
    add("/etc/rear-build/rescue.json", 0o644, json);
    add("/etc/hostname", 0o644, format!("{}\n", cfg.hostname));
    add(
        "/etc/hosts",
        0o644,
        format!(
            "127.0.0.1\tlocalhost\n127.0.1.1\t{}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            cfg.hostname
        ),
    );
    add(
        "/etc/passwd",
        0o644,
        "root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".into(),
    );
    add(
        "/etc/group",
        0o644,
        "root:x:0:\ntty:x:5:\ndisk:x:6:\nnogroup:x:65534:\n".into(),
    );
    // Root has no password: the console needs none and ssh takes keys only.
    add(
        "/etc/shadow",
        0o600,
        "root:*:1::::::\nsshd:*:1::::::\nnobody:*:1::::::\n".into(),
    );
    add(
        "/etc/nsswitch.conf",
        0o644,
        "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n".into(),
    );
    add(
        "/etc/profile",
        0o644,
        "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         export HISTFILE=/root/.bash_history HISTSIZE=1000\n\
         PS1='RESCUE \\h:\\w # '\n\
         alias ls='ls --color=auto'\n"
            .into(),
    );
    // Without udev in the rescue system LVM must not wait for it.
    add(
        "/etc/lvm/lvm.conf",
        0o644,
        "devices {\n\tobtain_device_list_from_udev = 0\n\texternal_device_info_source = \"none\"\n}\n\
         activation {\n\tudev_sync = 0\n\tudev_rules = 0\n\tmonitoring = 0\n}\n\
         global {\n\tuse_lvmlockd = 0\n}\n"
            .into(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_dhcp_interfaces_and_gateway_routes() {
        let addr = r#"[
          {"ifname":"lo","link_type":"loopback","flags":["UP"],"address":"00:00:00:00:00:00","addr_info":[]},
          {"ifname":"eth0","link_type":"ether","flags":["BROADCAST","UP"],"mtu":1500,"address":"52:54:00:AB:CD:EF",
           "addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24,"scope":"global"},
                        {"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]},
          {"ifname":"eth1","link_type":"ether","flags":["UP"],"address":"52:54:00:00:00:01",
           "addr_info":[{"family":"inet","local":"10.0.0.5","prefixlen":8,"scope":"global","dynamic":true}]},
          {"ifname":"ifb0","link_type":"ether","flags":["BROADCAST","NOARP"],"address":"9e:1e:b9:c1:97:9f","addr_info":[]}
        ]"#;
        let route = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},
          {"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link"},
          {"dst":"default","gateway":"10.0.0.1","dev":"eth1","protocol":"dhcp"}]"#;
        let net = network_from_ip(addr, route, "# x\nnameserver 192.0.2.53\n").unwrap();
        assert_eq!(net.interfaces.len(), 2);
        let (e0, e1) = (&net.interfaces[0], &net.interfaces[1]);
        assert_eq!(
            (e0.mac.as_str(), e0.dhcp, e0.addresses.clone()),
            ("52:54:00:ab:cd:ef", false, vec!["192.0.2.2/24".to_string()])
        );
        assert_eq!((e1.dhcp, e1.addresses.len()), (true, 0));
        assert_eq!(net.routes.len(), 1);
        assert_eq!(net.routes[0].gateway.as_deref(), Some("192.0.2.1"));
        assert_eq!(net.nameservers, ["192.0.2.53"]);
    }

    #[test]
    fn ntp_servers_from_chrony_ntpsec_or_timesyncd() {
        let d = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        assert!(host_ntp_servers(d.path()).is_empty());
        // timesyncd enabled, nothing configured: Debian's pool.
        w(
            "etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service",
            "",
        );
        w("etc/systemd/timesyncd.conf", "[Time]\n#NTP=\n");
        assert_eq!(host_ntp_servers(d.path())[0], "0.debian.pool.ntp.org");
        w(
            "etc/systemd/timesyncd.conf.d/site.conf",
            "[Time]\nNTP=ntp1.example ntp2.example\n",
        );
        assert_eq!(host_ntp_servers(d.path()), ["ntp1.example", "ntp2.example"]);
        w(
            "etc/ntpsec/ntp.conf",
            "# x\npool 2.debian.pool.ntp.org iburst\nserver 192.0.2.1\n",
        );
        assert_eq!(
            host_ntp_servers(d.path()),
            ["2.debian.pool.ntp.org", "192.0.2.1"]
        );
        w(
            "etc/chrony/chrony.conf",
            "pool pool.example iburst\nsourcedir /run/chrony-dhcp\n",
        );
        w(
            "etc/chrony/sources.d/local.sources",
            "server 192.0.2.9 iburst\n",
        );
        assert_eq!(host_ntp_servers(d.path()), ["pool.example", "192.0.2.9"]);
    }

    #[test]
    fn the_key_map_is_console_setup_s_cache() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(host_keymap(d.path()), None);
        let cs = d.path().join("etc/console-setup");
        std::fs::create_dir_all(&cs).unwrap();
        std::fs::write(cs.join("cached_setup_keyboard.sh"), "").unwrap();
        std::fs::write(cs.join("compose.ISO-8859-1.inc"), "").unwrap();
        assert_eq!(host_keymap(d.path()), None);
        std::fs::write(cs.join("cached_UTF-8_del.kmap.gz"), "").unwrap();
        assert_eq!(
            host_keymap(d.path()),
            Some(cs.join("cached_UTF-8_del.kmap.gz"))
        );
    }

    #[test]
    fn generated_files_keep_secrets_private() {
        let files = generated(&RescueConfig::default());
        let shadow = files.iter().find(|f| f.0 == "/etc/shadow").unwrap();
        assert_eq!(shadow.1, 0o600);
        assert!(files.iter().any(|f| f.0 == "/etc/rear-build/rescue.json"));
    }
}
