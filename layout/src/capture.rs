//! Placeholder until the capture module lands (same API).
use crate::model::Layout;
pub trait Source {
    fn run(&self, argv: &[&str]) -> Result<String, String>;
    fn read(&self, path: &str) -> Result<String, String>;
}
pub struct System;
impl Source for System {
    fn run(&self, _argv: &[&str]) -> Result<String, String> {
        Err("not yet".into())
    }
    fn read(&self, _path: &str) -> Result<String, String> {
        Err("not yet".into())
    }
}
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub exclude_mountpoints: Vec<String>,
    pub exclude_vgs: Vec<String>,
    pub only_vgs: Vec<String>,
    pub exclude_disks: Vec<String>,
}
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CaptureError(pub String);
pub fn capture(_src: &dyn Source, _opts: &Options) -> Result<Layout, CaptureError> {
    Err(CaptureError("capture is not written yet".into()))
}
