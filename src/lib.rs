//! Tessera: a content host runtime. See `ARCHITECTURE.md` for the map of modules.

pub mod jwt;
pub mod keywords;
pub mod packages;
pub mod types;
