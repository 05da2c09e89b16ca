//! Rescue init: placeholder types until the PID 1 implementation lands.
use std::path::PathBuf;

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RescueConfig {
    pub hostname: String,
    pub modules: Vec<String>,
    pub network: Network,
    pub sshd: bool,
    pub history: Vec<String>,
    pub banner: String,
}
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
    pub nameservers: Vec<String>,
}
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    pub dhcp: bool,
    pub addresses: Vec<String>,
    pub mtu: Option<u32>,
}
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    pub destination: String,
    pub gateway: Option<String>,
    pub interface: String,
}
pub enum Auto {
    Shell,
    Run(PathBuf),
}
pub fn run() -> ! {
    std::process::exit(1)
}
