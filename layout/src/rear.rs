//! Import of ReaR disklayout.conf (to be written).
