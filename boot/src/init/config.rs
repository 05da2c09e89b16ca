//! The rescue configuration (`/etc/rear-build/rescue.json`).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The rescue configuration the builder writes to /etc/rear-build/rescue.json in the image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RescueConfig {
    pub hostname: String,
    /// Modules the configuration needs whatever the hardware (dm_mod, md_mod, raid1, dm_crypt, filesystems)
    pub modules: Vec<String>,
    pub network: Network,
    /// When true and /root/.ssh/authorized_keys exists in the image, sshd is started.
    pub sshd: bool,
    /// Shell history lines, oldest first (the recovery commands), written to /root/.bash_history.
    pub history: Vec<String>,
    /// Banner printed before each shell.
    pub banner: String,
    /// The host's console key map in the image (a `loadkeys` file), loaded at boot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keymap: Option<String>,
    /// NTP servers the host syncs with; the clock is set from one at boot.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ntp: Vec<String>,
}

/// The host's network configuration, replayed on the interfaces with the same MAC addresses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
    pub nameservers: Vec<String>,
}

/// One host interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Interface {
    /// The interface's name on the host.
    pub name: String,
    /// Lowercase `aa:bb:cc:dd:ee:ff`; the rescue system looks the interface up by it.
    pub mac: String,
    /// Configure by DHCP (then `addresses` is not used).
    pub dhcp: bool,
    /// Static addresses in CIDR notation (`192.0.2.10/24`, `2001:db8::10/64`).
    pub addresses: Vec<String>,
    pub mtu: Option<u32>,
}

/// One host route.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    /// `default` or CIDR.
    pub destination: String,
    pub gateway: Option<String>,
    /// The host interface name (mapped to the rescue system's name through the MAC).
    pub interface: String,
}

/// Parses the JSON text of a rescue configuration; the error names what is wrong and where.
pub fn parse_config(text: &str) -> Result<RescueConfig, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Reads the configuration at `path`. A missing or invalid file yields the defaults; the
/// reason is printed on the console.
pub(crate) fn load_config(path: &Path) -> RescueConfig {
    say!("reading {}", path.display());
    let (config, problem) = load_config_from(path);
    if let Some(problem) = problem {
        say!("{problem}");
    }
    config
}

/// [`load_config`] without the console output: the configuration and, when the defaults were
/// used, why.
fn load_config_from(path: &Path) -> (RescueConfig, Option<String>) {
    match std::fs::read_to_string(path) {
        Ok(text) => match parse_config(&text) {
            Ok(c) => (c, None),
            Err(e) => (
                RescueConfig::default(),
                Some(format!("{}: invalid ({e}); using defaults", path.display())),
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
            RescueConfig::default(),
            Some(format!("{}: not found; using defaults", path.display())),
        ),
        Err(e) => (
            RescueConfig::default(),
            Some(format!("{}: {e}; using defaults", path.display())),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RescueConfig {
        RescueConfig {
            hostname: "web1".into(),
            modules: vec!["dm_mod".into(), "raid1".into()],
            network: Network {
                interfaces: vec![Interface {
                    name: "eno1".into(),
                    mac: "52:54:00:12:34:56".into(),
                    dhcp: false,
                    addresses: vec!["192.0.2.10/24".into()],
                    mtu: Some(9000),
                }],
                routes: vec![Route {
                    destination: "default".into(),
                    gateway: Some("192.0.2.1".into()),
                    interface: "eno1".into(),
                }],
                nameservers: vec!["192.0.2.53".into()],
            },
            sshd: true,
            history: vec!["rear-build recover".into()],
            banner: "Welcome".into(),
            keymap: Some("/etc/rear-build/keymap.kmap.gz".into()),
            ntp: vec!["192.0.2.123".into()],
        }
    }

    #[test]
    fn round_trip() {
        let c = sample();
        let text = serde_json::to_string_pretty(&c).unwrap();
        assert_eq!(parse_config(&text), Ok(c));
    }

    #[test]
    fn everything_is_optional() {
        assert_eq!(parse_config("{}"), Ok(RescueConfig::default()));
        let c = parse_config(
            r#"{"hostname":"h","network":{"interfaces":[{"mac":"aa:bb:cc:dd:ee:ff"}]}}"#,
        )
        .unwrap();
        assert_eq!(c.hostname, "h");
        assert_eq!(c.network.interfaces[0].mac, "aa:bb:cc:dd:ee:ff");
        assert_eq!(c.network.interfaces[0].mtu, None);
        assert!(!c.sshd);
    }

    #[test]
    fn unknown_fields_and_bad_types_are_errors() {
        let e = parse_config(r#"{"hostnam":"x"}"#).unwrap_err();
        assert!(e.contains("hostnam"), "{e}");
        let e = parse_config(r#"{"network":{"interfaces":[{"name":"a","speed":1}]}}"#).unwrap_err();
        assert!(e.contains("speed"), "{e}");
        assert!(parse_config(r#"{"sshd":"yes"}"#).is_err());
        assert!(parse_config("not json").is_err());
    }

    #[test]
    fn load_missing_invalid_and_valid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rescue.json");
        let (c, why) = load_config_from(&path);
        assert_eq!(c, RescueConfig::default());
        assert!(why.unwrap().contains("not found"));

        std::fs::write(&path, "{\"sshd\": 1}").unwrap();
        let (c, why) = load_config_from(&path);
        assert_eq!(c, RescueConfig::default());
        let why = why.unwrap();
        assert!(why.contains("invalid") && why.contains("line 1"), "{why}");

        std::fs::write(&path, serde_json::to_string(&sample()).unwrap()).unwrap();
        assert_eq!(load_config_from(&path), (sample(), None));
    }
}
