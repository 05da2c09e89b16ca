//! Replaying the host's network configuration on the interfaces with the same MAC addresses.

use std::path::Path;

use super::config::Network;
use super::exec;

/// An interface the rescue system has, from `/sys/class/net`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentInterface {
    pub name: String,
    /// Lowercase MAC address (empty when the interface has none).
    pub mac: String,
    /// True when backed by a device (`/sys/class/net/NAME/device` exists), i.e. not a VLAN,
    /// bridge or bond that may share a physical interface's MAC.
    pub physical: bool,
}

/// Reads the interfaces under `class_net` (normally `/sys/class/net`), sorted by name.
pub fn read_net_interfaces(class_net: &Path) -> Vec<PresentInterface> {
    let Ok(entries) = std::fs::read_dir(class_net) else {
        return Vec::new();
    };
    let mut out: Vec<PresentInterface> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let dir = class_net.join(&name);
            let mac = std::fs::read_to_string(dir.join("address"))
                .map(|m| m.trim().to_ascii_lowercase())
                .unwrap_or_default();
            let physical = std::fs::symlink_metadata(dir.join("device")).is_ok();
            Some(PresentInterface {
                name,
                mac,
                physical,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// One thing to do to configure the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetStep {
    /// Run this command (through the logging helper) and wait for it.
    Run(Vec<String>),
    /// Start a DHCP client for this (local) interface in the background.
    Dhcp(String),
}

/// What [`plan_network`] decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetPlan {
    /// The steps, in order: `lo` up, then per interface MTU, up and addresses (or DHCP), then
    /// the routes (routes without a gateway first, so gateways are reachable).
    pub steps: Vec<NetStep>,
    /// Messages for the console: interface name mappings and what was skipped, and why.
    pub notes: Vec<String>,
    /// The contents of /etc/resolv.conf, when the configuration names nameservers.
    pub resolv_conf: Option<String>,
}

fn ip(args: &[&str]) -> NetStep {
    NetStep::Run(
        std::iter::once("ip")
            .chain(args.iter().copied())
            .map(String::from)
            .collect(),
    )
}

/// Maps the configuration's interfaces onto the present ones by MAC address (by name when the
/// configuration has no MAC) and plans the commands that configure them.
///
/// When several present interfaces have the MAC, the one with the host's name wins, then one
/// backed by a device, then the first by name. A present interface is used at most once.
pub fn plan_network(config: &Network, present: &[PresentInterface]) -> NetPlan {
    let mut plan = NetPlan::default();
    plan.steps.push(ip(&["link", "set", "dev", "lo", "up"]));

    // host name -> (local name, dhcp)
    let mut mapped: Vec<(String, String, bool)> = Vec::new();
    for iface in &config.interfaces {
        let mac = iface.mac.trim().to_ascii_lowercase();
        let free = |p: &&PresentInterface| {
            p.name != "lo" && !mapped.iter().any(|(_, local, _)| *local == p.name)
        };
        let candidates: Vec<&PresentInterface> = if mac.is_empty() {
            present
                .iter()
                .filter(free)
                .filter(|p| p.name == iface.name)
                .collect()
        } else {
            present
                .iter()
                .filter(free)
                .filter(|p| p.mac == mac)
                .collect()
        };
        let chosen = candidates
            .iter()
            .find(|p| p.name == iface.name)
            .or_else(|| candidates.iter().find(|p| p.physical))
            .or_else(|| candidates.first());
        let Some(local) = chosen else {
            let how = if mac.is_empty() {
                "no interface with this name".to_string()
            } else {
                format!("no interface with MAC {mac}")
            };
            plan.notes
                .push(format!("{}: {how}; not configured", iface.name));
            continue;
        };
        let local = local.name.clone();
        if local != iface.name {
            plan.notes
                .push(format!("{} is {local} here (MAC {mac})", iface.name));
        }
        if let Some(mtu) = iface.mtu {
            let mtu = mtu.to_string();
            plan.steps
                .push(ip(&["link", "set", "dev", &local, "mtu", &mtu]));
        }
        plan.steps.push(ip(&["link", "set", "dev", &local, "up"]));
        if iface.dhcp {
            plan.steps.push(NetStep::Dhcp(local.clone()));
        } else {
            for addr in iface.addresses.iter().filter(|a| !a.trim().is_empty()) {
                plan.steps
                    .push(ip(&["addr", "add", addr.trim(), "dev", &local]));
            }
        }
        mapped.push((iface.name.clone(), local, iface.dhcp));
    }

    let mut routes: Vec<_> = config.routes.iter().collect();
    routes.sort_by_key(|r| r.gateway.is_some());
    for route in routes {
        let dest = route.destination.trim();
        let Some((_, local, dhcp)) = mapped.iter().find(|(host, _, _)| *host == route.interface)
        else {
            plan.notes.push(format!(
                "route {dest} via interface {}: interface not configured; skipped",
                route.interface
            ));
            continue;
        };
        if *dhcp {
            plan.notes
                .push(format!("route {dest} on {local}: left to DHCP; skipped"));
            continue;
        }
        if dest.is_empty() {
            plan.notes
                .push(format!("route on {local} without destination; skipped"));
            continue;
        }
        let gateway = route
            .gateway
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty());
        let v6 = dest.contains(':') || gateway.is_some_and(|g| g.contains(':'));
        let mut args = Vec::new();
        if v6 {
            args.push("-6");
        }
        args.extend(["route", "add", dest]);
        if let Some(gw) = gateway {
            args.extend(["via", gw]);
        }
        args.extend(["dev", local.as_str()]);
        plan.steps.push(ip(&args));
    }

    let servers: Vec<&str> = config
        .nameservers
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if !servers.is_empty() {
        plan.resolv_conf = Some(
            servers
                .iter()
                .map(|s| format!("nameserver {s}\n"))
                .collect(),
        );
    }
    plan
}

/// Configures the network of the rescue system from the configuration.
pub(crate) fn configure(config: &Network) {
    say!("configuring network");
    let present = read_net_interfaces(Path::new("/sys/class/net"));
    let plan = plan_network(config, &present);
    for note in &plan.notes {
        say!("{note}");
    }
    for step in &plan.steps {
        match step {
            NetStep::Run(argv) => {
                if let Err(e) = exec::run(argv) {
                    say!("{e}");
                }
            }
            NetStep::Dhcp(iface) => start_dhcp(iface),
        }
    }
    if let Some(text) = &plan.resolv_conf {
        write_resolv_conf(text);
    }
}

fn start_dhcp(iface: &str) {
    let result = if let Some(dhclient) = exec::find_program("dhclient") {
        let dhclient = dhclient.to_string_lossy().into_owned();
        exec::spawn_background(&[dhclient.as_str(), "-1", "-v", iface])
    } else if let Some(udhcpc) = exec::find_program("udhcpc") {
        let udhcpc = udhcpc.to_string_lossy().into_owned();
        exec::spawn_background(&[udhcpc.as_str(), "-i", iface])
    } else {
        say!("{iface}: no DHCP client (dhclient, udhcpc) in the image");
        return;
    };
    if let Err(e) = result {
        say!("{e}");
    }
}

/// Writes /etc/resolv.conf, replacing a symlink copied from the host (which would point into
/// the host's /run).
fn write_resolv_conf(text: &str) {
    let path = Path::new("/etc/resolv.conf");
    say!("writing {}", path.display());
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = std::fs::remove_file(path);
    }
    if let Err(e) = std::fs::write(path, text) {
        say!("{}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::config::{Interface, Route};

    fn present(name: &str, mac: &str, physical: bool) -> PresentInterface {
        PresentInterface {
            name: name.into(),
            mac: mac.into(),
            physical,
        }
    }

    fn run(words: &str) -> NetStep {
        NetStep::Run(words.split(' ').map(String::from).collect())
    }

    fn iface(name: &str, mac: &str, dhcp: bool, addrs: &[&str]) -> Interface {
        Interface {
            name: name.into(),
            mac: mac.into(),
            dhcp,
            addresses: addrs.iter().map(|s| s.to_string()).collect(),
            mtu: None,
        }
    }

    #[test]
    fn empty_config_brings_up_lo_only() {
        let plan = plan_network(
            &Network::default(),
            &[present("lo", "00:00:00:00:00:00", false)],
        );
        assert_eq!(plan.steps, vec![run("ip link set dev lo up")]);
        assert!(plan.notes.is_empty());
        assert_eq!(plan.resolv_conf, None);
    }

    #[test]
    fn static_config_by_mac_with_renaming() {
        let mut eno1 = iface(
            "eno1",
            "52:54:00:AA:BB:01",
            false,
            &["192.0.2.10/24", "2001:db8::10/64"],
        );
        eno1.mtu = Some(9000);
        let config = Network {
            interfaces: vec![eno1],
            routes: vec![
                Route {
                    destination: "default".into(),
                    gateway: Some("192.0.2.1".into()),
                    interface: "eno1".into(),
                },
                Route {
                    destination: "198.51.100.0/24".into(),
                    gateway: None,
                    interface: "eno1".into(),
                },
                Route {
                    destination: "default".into(),
                    gateway: Some("2001:db8::1".into()),
                    interface: "eno1".into(),
                },
            ],
            nameservers: vec!["192.0.2.53".into(), " ".into(), "2001:db8::53".into()],
        };
        let here = [
            present("eth0", "52:54:00:aa:bb:01", true),
            present("lo", "00:00:00:00:00:00", false),
        ];
        let plan = plan_network(&config, &here);
        assert_eq!(
            plan.steps,
            vec![
                run("ip link set dev lo up"),
                run("ip link set dev eth0 mtu 9000"),
                run("ip link set dev eth0 up"),
                run("ip addr add 192.0.2.10/24 dev eth0"),
                run("ip addr add 2001:db8::10/64 dev eth0"),
                run("ip route add 198.51.100.0/24 dev eth0"),
                run("ip route add default via 192.0.2.1 dev eth0"),
                run("ip -6 route add default via 2001:db8::1 dev eth0"),
            ]
        );
        assert_eq!(
            plan.notes,
            vec!["eno1 is eth0 here (MAC 52:54:00:aa:bb:01)"]
        );
        assert_eq!(
            plan.resolv_conf.as_deref(),
            Some("nameserver 192.0.2.53\nnameserver 2001:db8::53\n")
        );
    }

    #[test]
    fn dhcp_and_missing_interfaces() {
        let config = Network {
            interfaces: vec![
                iface("eth0", "52:54:00:00:00:01", true, &["10.0.0.5/8"]),
                iface("eth1", "52:54:00:00:00:02", false, &["10.1.0.5/16"]),
            ],
            routes: vec![
                Route {
                    destination: "default".into(),
                    gateway: Some("10.0.0.1".into()),
                    interface: "eth0".into(),
                },
                Route {
                    destination: "10.9.0.0/16".into(),
                    gateway: Some("10.1.0.1".into()),
                    interface: "eth1".into(),
                },
            ],
            nameservers: vec![],
        };
        let here = [present("eth0", "52:54:00:00:00:01", true)];
        let plan = plan_network(&config, &here);
        assert_eq!(
            plan.steps,
            vec![
                run("ip link set dev lo up"),
                run("ip link set dev eth0 up"),
                NetStep::Dhcp("eth0".into()),
            ]
        );
        assert_eq!(plan.notes.len(), 3, "{:?}", plan.notes);
        assert!(plan.notes[0].contains("eth1") && plan.notes[0].contains("52:54:00:00:00:02"));
        assert!(plan.notes[1].contains("DHCP"));
        assert!(plan.notes[2].contains("10.9.0.0/16") && plan.notes[2].contains("not configured"));
    }

    #[test]
    fn prefers_same_name_then_physical_and_uses_each_once() {
        let mac = "52:54:00:00:00:09";
        let here = [
            present("bond0", mac, false),
            present("eth0", mac, true),
            present("eth0.10", mac, false),
        ];
        let one = |name: &str| Network {
            interfaces: vec![iface(name, mac, false, &[])],
            ..Default::default()
        };
        let up_of = |plan: &NetPlan| plan.steps[1].clone();
        assert_eq!(
            up_of(&plan_network(&one("eth0.10"), &here)),
            run("ip link set dev eth0.10 up")
        );
        assert_eq!(
            up_of(&plan_network(&one("eno5"), &here)),
            run("ip link set dev eth0 up")
        );

        let two = Network {
            interfaces: vec![iface("a", mac, false, &[]), iface("b", mac, false, &[])],
            ..Default::default()
        };
        let plan = plan_network(&two, &here);
        assert_eq!(plan.steps[1], run("ip link set dev eth0 up"));
        assert_eq!(plan.steps[2], run("ip link set dev bond0 up"));
    }

    #[test]
    fn no_mac_matches_by_name() {
        let config = Network {
            interfaces: vec![
                iface("wg0", "", false, &["10.7.0.1/24"]),
                iface("gone", "", false, &[]),
            ],
            ..Default::default()
        };
        let plan = plan_network(&config, &[present("wg0", "", false)]);
        assert_eq!(plan.steps[1], run("ip link set dev wg0 up"));
        assert_eq!(plan.steps[2], run("ip addr add 10.7.0.1/24 dev wg0"));
        assert_eq!(
            plan.notes,
            vec!["gone: no interface with this name; not configured"]
        );
    }

    #[test]
    fn reads_sys_class_net() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path();
        for (name, mac, dev) in [
            ("lo", "00:00:00:00:00:00\n", false),
            ("eth0", "52:54:00:AB:CD:EF\n", true),
            ("br0", "52:54:00:ab:cd:ef\n", false),
        ] {
            std::fs::create_dir_all(net.join(name)).unwrap();
            std::fs::write(net.join(name).join("address"), mac).unwrap();
            if dev {
                std::fs::create_dir_all(net.join(name).join("device")).unwrap();
            }
        }
        std::fs::create_dir_all(net.join("tun0")).unwrap();
        let found = read_net_interfaces(net);
        assert_eq!(
            found,
            vec![
                present("br0", "52:54:00:ab:cd:ef", false),
                present("eth0", "52:54:00:ab:cd:ef", true),
                present("lo", "00:00:00:00:00:00", false),
                present("tun0", "", false),
            ]
        );
        assert!(read_net_interfaces(&net.join("missing")).is_empty());
    }
}
