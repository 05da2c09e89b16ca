//! ELF dependency closure (to be written).
