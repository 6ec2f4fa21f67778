//! The package system: manifests, archives, and the install, upgrade and uninstall operations.
//!
//! [`manifest`] and [`archive`] are pure: they read, validate and build packages without touching
//! an instance. The operations that change an instance are built on top of them.

pub mod archive;
pub mod manifest;
pub mod ops;
