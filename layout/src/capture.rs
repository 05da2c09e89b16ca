//! Capture (to be written).
