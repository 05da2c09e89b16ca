//! Storage layouts: the model (`model`), capture from a running system
//! (`capture`), import of ReaR's disklayout.conf (`rear`), comparison
//! (`compare`), and the pure planner (`plan`) whose steps `apply` runs
//! (its progress in `progress`, shared with the plan's `-s` script);
//! `scenarios` are named example layouts for tests; `validate` checks a
//! layout before anything is planned from it.

pub mod apply;
pub mod capture;
pub mod compare;
#[cfg(test)]
mod fuzz;
pub mod gpt;
pub mod model;
pub mod needs;
pub mod plan;
pub mod present;
pub mod progress;
pub mod rear;
pub mod scenarios;
pub mod show;
pub mod validate;

pub use model::*;
