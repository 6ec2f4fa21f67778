//! Host behaviours: what assets of a type do. A type (core or from a package) binds to one
//! [`Behaviour`]; this module checks an asset's configuration for it and produces what the
//! asset gives a requester. It knows nothing of HTTP: the web module maps outcomes to
//! responses.

pub mod jwt;

use std::collections::BTreeMap;

use crate::error::Result;
use crate::types::{AssetType, Behaviour};

/// Checks an asset's attributes for its type's behaviour. A configuration that can never
/// work is an error; one that works but is unwise gives warnings.
pub fn check_config(ty: &AssetType, attributes: &BTreeMap<String, String>) -> Result<Vec<String>> {
    match ty.behaviour {
        Behaviour::Folder | Behaviour::Page => Ok(Vec::new()),
        Behaviour::JsonWebToken => jwt::check_config(attributes),
    }
}
