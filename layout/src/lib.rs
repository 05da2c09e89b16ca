//! Storage layouts: the model (`model`), capture from a running system
//! (`capture`), import of ReaR's disklayout.conf (`rear`), comparison
//! (`compare`), and the pure planner (`plan`) whose steps `apply` runs.

pub mod capture;
pub mod model;
pub mod rear;

pub use model::*;
