//! Placeholder until the importer lands (same API).
use crate::model::Layout;
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImportError(pub String);
pub fn import(_text: &str) -> Result<Layout, ImportError> {
    Err(ImportError("not written yet".into()))
}
