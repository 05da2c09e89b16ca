//! Rescue init (to be written).
