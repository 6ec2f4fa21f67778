//! Host behaviours: what assets of a type do. A type (core or from a package) binds to one
//! [`Behaviour`]; this module checks an asset's configuration for it and produces what the
//! asset gives a requester. It knows nothing of HTTP: the web module maps an [`Outcome`] to a
//! response, and `asset preview` prints one.

pub mod jwt;
mod page;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rusqlite::Connection;

use crate::assets::{self, Status};
use crate::error::Result;
use crate::keywords::Lookup;
use crate::perms::{self, Perm};
use crate::store::{self, assets::AssetRow, users::UserRow};
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

/// Everything serving an asset needs to know about it, read in one go so that it can be
/// cached: the row, its type, its attributes, its grants and its web path.
#[derive(Debug, Clone)]
pub struct Target {
    pub asset: AssetRow,
    /// `None` when no installed package provides the type any more.
    pub ty: Option<assets::KnownType>,
    pub attributes: BTreeMap<String, String>,
    pub grants: Vec<perms::Grant>,
    pub path: String,
    /// What the behaviour prepared from the attributes.
    pub prepared: Prepared,
}

/// Work a behaviour does once per asset rather than once per request.
#[derive(Debug, Clone)]
pub enum Prepared {
    Nothing,
    JsonWebToken(jwt::Config),
}

impl Target {
    pub fn load(conn: &Connection, asset: AssetRow) -> Result<Target> {
        let ty = assets::find_type(conn, &asset.type_code)?;
        let attributes = store::assets::attributes(conn, asset.id)?;
        let prepared = match ty.as_ref().map(|t| t.definition.behaviour) {
            Some(Behaviour::JsonWebToken) => {
                Prepared::JsonWebToken(jwt::Config::from_attributes(&attributes))
            }
            _ => Prepared::Nothing,
        };
        Ok(Target {
            ty,
            attributes,
            prepared,
            grants: store::grants::on_asset(conn, asset.id)?,
            path: assets::locate(conn, &asset)?.path,
            asset,
        })
    }
}

/// What one database connection remembers between requests: targets by web path and users'
/// keyword values. The owner must call [`ServeCache::clear`] whenever the database may have
/// changed (the web server does so when SQLite's `data_version` moves), since nothing here
/// notices changes by itself.
#[derive(Default)]
pub struct ServeCache {
    targets: HashMap<String, Option<Arc<Target>>>,
    users: HashMap<i64, Arc<BTreeMap<String, String>>>,
}

/// Past this many entries a cache map starts afresh: a crude bound that keeps memory flat
/// whatever paths clients ask for.
const CACHE_CAPACITY: usize = 10_000;

impl ServeCache {
    pub fn clear(&mut self) {
        self.targets.clear();
        self.users.clear();
    }

    fn target(&mut self, conn: &Connection, path: &str) -> Result<Option<Arc<Target>>> {
        if let Some(found) = self.targets.get(path) {
            return Ok(found.clone());
        }
        let found = match live_asset_at(conn, path)? {
            Some(asset) => Some(Arc::new(Target::load(conn, asset)?)),
            None => None,
        };
        if self.targets.len() >= CACHE_CAPACITY {
            self.targets.clear();
        }
        self.targets.insert(path.to_owned(), found.clone());
        Ok(found)
    }

    fn user_values(
        &mut self,
        conn: &Connection,
        actor: &Actor,
    ) -> Result<Arc<BTreeMap<String, String>>> {
        let Some(user) = &actor.user else {
            return Ok(Arc::default());
        };
        if let Some(found) = self.users.get(&user.id) {
            return Ok(Arc::clone(found));
        }
        let found = Arc::new(user_values(user, &store::users::attributes(conn, user.id)?));
        if self.users.len() >= CACHE_CAPACITY {
            self.users.clear();
        }
        self.users.insert(user.id, Arc::clone(&found));
        Ok(found)
    }
}

fn live_asset_at(conn: &Connection, path: &str) -> Result<Option<AssetRow>> {
    match assets::resolve_path(conn, path)? {
        // The root folder answers only at `/` itself, not at `//` or other spellings.
        Some(id) if id != assets::ROOT_ID || path == "/" => store::assets::get(conn, id),
        _ => Ok(None),
    }
}

/// Serves the live asset at a web path, reading through `cache`.
pub fn serve_path(
    conn: &Connection,
    cache: &mut ServeCache,
    req: &Requester<'_>,
    path: &str,
    now: i64,
) -> Result<Outcome> {
    let Some(target) = cache.target(conn, path)? else {
        return Ok(Outcome::NotFound);
    };
    let user_values = cache.user_values(conn, req.actor)?;
    serve_target(conn, req, &target, &user_values, now)
}

/// Serves one asset to a requester, reading everything afresh (for `asset preview`).
pub fn serve(
    conn: &Connection,
    req: &Requester<'_>,
    asset: &AssetRow,
    now: i64,
) -> Result<Outcome> {
    let target = Target::load(conn, asset.clone())?;
    let user_values = match &req.actor.user {
        Some(user) => user_values(user, &store::users::attributes(conn, user.id)?),
        None => BTreeMap::new(),
    };
    serve_target(conn, req, &target, &user_values, now)
}

/// What the requester may do with the target.
struct Access {
    write: bool,
    admin: bool,
}

/// Serves a target, checking read permission and status first.
fn serve_target(
    conn: &Connection,
    req: &Requester<'_>,
    target: &Target,
    user_values: &BTreeMap<String, String>,
    now: i64,
) -> Result<Outcome> {
    let asset = &target.asset;
    let Some(ty) = &target.ty else {
        // The type's package is gone; the asset cannot behave as anything.
        return Ok(Outcome::NotFound);
    };
    let behaviour = ty.definition.behaviour;
    let forbidden = |reason: String| Ok(Outcome::Forbidden { behaviour, reason });
    if behaviour == Behaviour::JsonWebToken && req.actor.user.is_none() {
        return forbidden("the public user never gets a token: log in".into());
    }
    let allows = |perm| perms::allows(req.actor, &target.grants, perm);
    if !allows(Perm::Read) {
        return forbidden(format!("no read permission on asset {}", asset.id));
    }
    let access = Access {
        write: allows(Perm::Write),
        admin: allows(Perm::Admin),
    };
    if asset.status != Status::Live && !access.write {
        return forbidden(format!(
            "asset {} is under construction and only users with write permission see it",
            asset.id
        ));
    }
    let values = KeywordValues {
        user: user_values,
        target,
        base_url: req.base_url,
        access: &access,
    };
    match (behaviour, &target.prepared) {
        (Behaviour::Folder, _) => page::folder(conn, req, target),
        (Behaviour::Page, _) => Ok(page::page(target, &values)),
        (Behaviour::JsonWebToken, Prepared::JsonWebToken(config)) => {
            Ok(jwt::token(asset.id, config, &values, now))
        }
        (Behaviour::JsonWebToken, Prepared::Nothing) => {
            unreachable!("Target::load prepares every JSON Web Token asset")
        }
    }
}

/// The keywords that describe a user (`globals_user_*`), made once per user and cached.
fn user_values(user: &UserRow, attributes: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
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
        values.insert(format!("globals_user_attribute_{key}"), value.clone());
    }
    values
}

/// The keyword values of one request: the requester's (cached per user) and the asset's, read
/// in place rather than copied into a new map for every request.
struct KeywordValues<'a> {
    user: &'a BTreeMap<String, String>,
    target: &'a Target,
    base_url: &'a str,
    access: &'a Access,
}

impl Lookup for KeywordValues<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.lookup_str(name).map(Cow::into_owned)
    }

    fn lookup_str(&self, name: &str) -> Option<Cow<'_, str>> {
        let flag = |b: bool| Cow::Borrowed(if b { "1" } else { "0" });
        match name {
            "asset_assetid" => Some(Cow::Owned(self.target.asset.id.to_string())),
            "asset_name" => Some(Cow::Borrowed(&self.target.asset.name)),
            "asset_url" => Some(Cow::Owned(format!("{}{}", self.base_url, self.target.path))),
            "asset_has_write_access" => Some(flag(self.access.write)),
            "asset_has_admin_access" => Some(flag(self.access.admin)),
            _ => self.user.get(name).map(|v| Cow::Borrowed(v.as_str())),
        }
    }
}
