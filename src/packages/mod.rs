//! The package system: manifests, archives, and the install, upgrade and uninstall operations.
