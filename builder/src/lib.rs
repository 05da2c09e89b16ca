//! The image builder: recipes → closure → store → layers → manifest, from
//! the host's own kernel and tools to a reproducible rescue initrd. It
//! knows nothing of the command line: its callers pass [`image::Options`]
//! and a [`Progress`] to report to.

pub mod compress;
pub mod diff;
pub mod dpkg;
pub mod export;
pub mod image;
pub mod initrd;
pub mod kernel;
pub mod layer;
pub mod manifest;
pub mod media;
pub mod provenance;
pub mod recipe;
pub mod rescue;

/// Where the builder reports what it is doing: a spinner on a terminal,
/// plain lines elsewhere, or nothing.
pub trait Progress {
    /// A new stage begins (the previous one is done).
    fn stage(&mut self, what: &str);
    /// A line for the user, between stages.
    fn note(&mut self, line: &str);
}

/// Reports nothing (for tests and library callers).
pub struct Silent;

impl Progress for Silent {
    fn stage(&mut self, _: &str) {}
    fn note(&mut self, _: &str) {}
}
