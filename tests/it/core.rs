//! The core runtime: instances, users, assets, permissions and the trash.
