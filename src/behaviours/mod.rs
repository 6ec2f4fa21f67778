//! Host behaviours: what assets of a type do. A type (core or from a package) binds to one
//! [`Behaviour`]; this module checks an asset's configuration for it and produces what the
//! asset gives a requester. It knows nothing of HTTP: the web module maps an [`Outcome`] to a
//! response, and `asset preview` prints one.

pub mod jwt;
mod page;

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::assets::{self, Status};
use crate::error::Result;
use crate::perms::{self, Perm};
use crate::store::{self, assets::AssetRow};
use crate::types::{AssetType, Behaviour};
use crate::users::Actor;

/// Checks an asset's attributes for its type's behaviour. A configuration that can never
/// work is an error; one that works but is unwise gives warnings.
pub fn check_config(ty: &AssetType, attributes: &BTreeMap<String, String>) -> Result<Vec<String>> {
    match ty.behaviour {
        Behaviour::Folder | Behaviour::Page => Ok(Vec::new()),
        Behaviour::JsonWebToken => jwt::check_config(attributes),
    }
}

/// Who asks, and the address the instance is reached at (for `%asset_url%`).
pub struct Requester<'a> {
    pub actor: &'a Actor,
    /// Scheme and authority without a trailing slash, e.g. `http://127.0.0.1:8080`; empty
    /// when unknown, which makes asset URLs plain paths.
    pub base_url: &'a str,
}

/// What an asset gives a requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTML document (folders and pages).
    Html(String),
    /// A freshly signed token (JWT assets).
    Token(String),
    /// There is no live asset at that path.
    NotFound,
    /// The requester may not have it: not logged in where that is needed, no read permission,
    /// or the asset is under construction and the requester cannot write to it.
    Forbidden {
        behaviour: Behaviour,
        reason: String,
    },
    /// The asset's configuration cannot produce a result; the reason is for administrators.
    ConfigError {
        behaviour: Behaviour,
        reason: String,
    },
}

/// Serves the live asset at a web path.
pub fn serve_path(conn: &Connection, req: &Requester<'_>, path: &str, now: i64) -> Result<Outcome> {
    match assets::resolve_path(conn, path)? {
        Some(id) if id != assets::ROOT_ID || path == "/" => match store::assets::get(conn, id)? {
            Some(row) => serve(conn, req, &row, now),
            None => Ok(Outcome::NotFound),
        },
        _ => Ok(Outcome::NotFound),
    }
}

/// Serves one asset to a requester, checking read permission and status first.
pub fn serve(
    conn: &Connection,
    req: &Requester<'_>,
    asset: &AssetRow,
    now: i64,
) -> Result<Outcome> {
    let Some(ty) = assets::find_type(conn, &asset.type_code)? else {
        // The type's package is gone; the asset cannot behave as anything.
        return Ok(Outcome::NotFound);
    };
    let behaviour = ty.definition.behaviour;
    let forbidden = |reason: String| Ok(Outcome::Forbidden { behaviour, reason });
    if behaviour == Behaviour::JsonWebToken && req.actor.user.is_none() {
        return forbidden("the public user never gets a token: log in".into());
    }
    if !perms::has(conn, req.actor, asset.id, Perm::Read)? {
        return forbidden(format!("no read permission on asset {}", asset.id));
    }
    if asset.status != Status::Live && !perms::has(conn, req.actor, asset.id, Perm::Write)? {
        return forbidden(format!(
            "asset {} is under construction and only users with write permission see it",
            asset.id
        ));
    }
    let attributes = store::assets::attributes(conn, asset.id)?;
    match behaviour {
        Behaviour::Folder => page::folder(conn, req, asset),
        Behaviour::Page => page::page(conn, req, asset, &attributes),
        Behaviour::JsonWebToken => jwt::token(conn, req, asset, &attributes, now),
    }
}

/// The keyword values every behaviour offers for a requester and an asset.
pub fn keyword_values(
    conn: &Connection,
    req: &Requester<'_>,
    asset: &AssetRow,
) -> Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    if let Some(user) = &req.actor.user {
        let attributes = store::users::attributes(conn, user.id)?;
        let full_name = [attributes.get("first_name"), attributes.get("last_name")]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        values.insert("globals_user_assetid".into(), user.id.to_string());
        values.insert(
            "globals_user_name".into(),
            if full_name.is_empty() {
                user.name.clone()
            } else {
                full_name
            },
        );
        values.insert("globals_user_attribute_username".into(), user.name.clone());
        for key in ["first_name", "last_name", "email"] {
            values.insert(format!("globals_user_attribute_{key}"), String::new());
        }
        for (key, value) in attributes {
            values.insert(format!("globals_user_attribute_{key}"), value);
        }
    }
    let location = assets::locate(conn, asset)?;
    values.insert("asset_assetid".into(), asset.id.to_string());
    values.insert("asset_name".into(), asset.name.clone());
    values.insert(
        "asset_url".into(),
        format!("{}{}", req.base_url, location.path),
    );
    let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
    values.insert(
        "asset_has_write_access".into(),
        flag(perms::has(conn, req.actor, asset.id, Perm::Write)?),
    );
    values.insert(
        "asset_has_admin_access".into(),
        flag(perms::has(conn, req.actor, asset.id, Perm::Admin)?),
    );
    Ok(values)
}
