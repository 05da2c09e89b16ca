//! Kernel-module closure (to be written).
