//! Tessera: a content host runtime. See `ARCHITECTURE.md` for the map of modules.

pub mod assets;
pub mod behaviours;
pub mod check;
pub mod cli;
pub mod error;
pub mod instance;
pub mod jwt;
pub mod keywords;
pub mod packages;
pub mod perms;
pub mod quickstart;
pub mod store;
pub mod types;
pub mod users;
pub mod web;
