//! Placeholder API until the resolver lands.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub struct Want {
    pub path: PathBuf,
    pub optional: bool,
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    File,
    Dir,
    Symlink(PathBuf),
}
pub struct Closure {
    pub nodes: BTreeMap<PathBuf, Node>,
    pub warnings: Vec<String>,
}
impl Closure {
    pub fn paths(&self) -> Vec<&Path> {
        self.nodes.keys().map(|p| p.as_path()).collect()
    }
}
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("x")]
    X,
}
pub struct Resolver;
impl Resolver {
    pub fn new(_root: &Path) -> Result<Resolver, Error> {
        Ok(Resolver)
    }
    pub fn resolve(&self, _w: &[Want]) -> Result<Closure, Error> {
        Err(Error::X)
    }
}
