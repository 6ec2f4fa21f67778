//! The asset tree: core and package types, web paths, creation and changes, permissions on
//! assets, and the trash. Every operation checks the acting user's right before it acts.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::Serialize;

use crate::behaviours;
use crate::error::{Error, Result};
use crate::perms::{self, Grant, Perm, Subject};
use crate::store::{self, Store, assets::AssetRow, assets::NewAsset, audit::AuditEntry};
use crate::types::{AssetType, AttrKind, AttributeDef, Behaviour};
use crate::users::{Actor, Level};

/// The id of the root folder, `/`.
pub const ROOT_ID: i64 = 1;
/// The id of the trash folder.
pub const TRASH_ID: i64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// `1`: shown in menus.
    Menu,
    /// `2`: shown in the backend only.
    Backend,
    /// `3`: hidden.
    Hidden,
    /// `notice`.
    Notice,
}

impl LinkType {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkType::Menu => "1",
            LinkType::Backend => "2",
            LinkType::Hidden => "3",
            LinkType::Notice => "notice",
        }
    }

    pub fn parse(text: &str) -> Option<LinkType> {
        match text {
            "1" => Some(LinkType::Menu),
            "2" => Some(LinkType::Backend),
            "3" => Some(LinkType::Hidden),
            "notice" => Some(LinkType::Notice),
            _ => None,
        }
    }

    pub fn parse_arg(text: &str) -> Result<LinkType> {
        LinkType::parse(text).ok_or_else(|| {
            Error::invalid(format!(
                "unknown link type {text:?}: use 1 (menus), 2 (backend only), 3 (hidden) or notice"
            ))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    UnderConstruction,
    Live,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::UnderConstruction => "under_construction",
            Status::Live => "live",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "under_construction" => Some(Status::UnderConstruction),
            "live" => Some(Status::Live),
            _ => None,
        }
    }

    pub fn parse_arg(text: &str) -> Result<Status> {
        Status::parse(text).ok_or_else(|| {
            Error::invalid(format!(
                "unknown status {text:?}: use under_construction or live"
            ))
        })
    }
}

/// Creates the root and trash folders of a new instance.
pub fn create_top_folders(conn: &Connection) -> Result<()> {
    for (id, name) in [(ROOT_ID, "Root Folder"), (TRASH_ID, "Trash")] {
        store::assets::insert_with_id(
            conn,
            id,
            &NewAsset {
                type_code: "folder",
                type_version: None,
                name,
                parent_id: None,
                segment: "",
                link_type: LinkType::Hidden,
                status: Status::Live,
                created_by: None,
            },
        )?;
    }
    Ok(())
}

/// What a secret attribute shows instead of its value.
pub const MASK: &str = "********";

// ---------------------------------------------------------------------------------------------
// Types

/// The core types every instance has.
pub fn core_types() -> Vec<AssetType> {
    vec![
        AssetType {
            code: "folder".into(),
            name: "Folder".into(),
            category: "Core".into(),
            admin_only: false,
            behaviour: Behaviour::Folder,
            attributes: vec![],
        },
        AssetType {
            code: "page".into(),
            name: "Page".into(),
            category: "Core".into(),
            admin_only: false,
            behaviour: Behaviour::Page,
            attributes: vec![AttributeDef {
                name: "content".into(),
                kind: AttrKind::Text,
                required: false,
                default: Some(String::new()),
                secret: false,
                help: "The page's content; keywords such as %globals_user_name% are replaced"
                    .into(),
            }],
        },
    ]
}

/// A type as the instance knows it: its definition and, for a package type, which package
/// provides it at which version.
#[derive(Debug, Clone)]
pub struct KnownType {
    pub definition: AssetType,
    pub package: Option<(String, String)>,
}

pub fn find_type(conn: &Connection, code: &str) -> Result<Option<KnownType>> {
    if let Some(core) = core_types().into_iter().find(|t| t.code == code) {
        return Ok(Some(KnownType {
            definition: core,
            package: None,
        }));
    }
    Ok(
        store::packages::type_by_code(conn, code)?.map(|t| KnownType {
            definition: t.definition,
            package: Some((t.package, t.version)),
        }),
    )
}

fn require_type(conn: &Connection, code: &str) -> Result<KnownType> {
    find_type(conn, code)?.ok_or_else(|| {
        Error::invalid(format!(
            "unknown asset type {code}: install the package that provides it"
        ))
    })
}

/// Every type the instance knows, core types first.
pub fn all_types(conn: &Connection) -> Result<Vec<KnownType>> {
    let mut types: Vec<KnownType> = core_types()
        .into_iter()
        .map(|definition| KnownType {
            definition,
            package: None,
        })
        .collect();
    types.extend(
        store::packages::types(conn)?
            .into_iter()
            .map(|t| KnownType {
                definition: t.definition,
                package: Some((t.package, t.version)),
            }),
    );
    Ok(types)
}

// ---------------------------------------------------------------------------------------------
// Web paths

/// Checks one web path segment: lowercase letters, digits, `-`, `_` and `.`, not empty and
/// not only dots.
pub fn validate_segment(segment: &str) -> Result<()> {
    let chars_ok = segment
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if segment.is_empty() || !chars_ok || segment.chars().all(|c| c == '.') || segment.len() > 128 {
        return Err(Error::invalid(format!(
            "invalid web path segment {segment:?}: use up to 128 lowercase letters, digits, \
             '-', '_' and '.', not only dots"
        )));
    }
    Ok(())
}

/// The segment a name suggests: lowercase, runs of other characters turned into `-`.
pub fn segment_from_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(128).collect()
}

/// Finds the live asset at a web path such as `/demo/token`; `/` is the root folder.
pub fn resolve_path(conn: &Connection, path: &str) -> Result<Option<i64>> {
    let mut id = ROOT_ID;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        match store::assets::child_by_segment(conn, id, segment)? {
            Some(child) => id = child,
            None => return Ok(None),
        }
    }
    Ok(Some(id))
}

/// Where an asset is: its web path and whether it is in the trash. A trashed asset's path is
/// the one it had before, when its old parent still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub in_trash: bool,
}

pub fn locate(conn: &Connection, asset: &AssetRow) -> Result<Location> {
    if asset.id == ROOT_ID {
        return Ok(Location {
            path: "/".into(),
            in_trash: false,
        });
    }
    if asset.id == TRASH_ID {
        return Ok(Location {
            path: String::new(),
            in_trash: true,
        });
    }
    let mut segments = vec![asset.segment.clone()];
    let mut in_trash = false;
    let mut current = asset.clone();
    // The tree is at most as deep as it has rows, which bounds the walk even on a damaged
    // database that `tessera check` would flag.
    for _ in 0..10_000 {
        let parent = match (current.parent_id, current.trashed_from) {
            (Some(TRASH_ID), from) => {
                in_trash = true;
                match from {
                    Some(from) => from,
                    None => break,
                }
            }
            (Some(parent), _) => parent,
            (None, _) => break,
        };
        if parent == ROOT_ID {
            break;
        }
        match store::assets::get(conn, parent)? {
            Some(p) => {
                segments.push(p.segment.clone());
                current = p;
            }
            None => {
                segments.push("(purged)".into());
                break;
            }
        }
    }
    segments.reverse();
    Ok(Location {
        path: format!("/{}", segments.join("/")),
        in_trash,
    })
}

/// Finds an asset named by id (`42`) or by live web path (`/demo/token`).
pub fn resolve(conn: &Connection, id_or_path: &str) -> Result<AssetRow> {
    let id = if id_or_path.starts_with('/') {
        resolve_path(conn, id_or_path)?.ok_or_else(|| {
            Error::not_found(format!(
                "no asset at web path {id_or_path}: see tessera asset tree"
            ))
        })?
    } else if let Ok(id) = id_or_path.parse::<i64>() {
        id
    } else {
        return Err(Error::invalid(format!(
            "{id_or_path:?} is neither an asset id nor a web path: give a number such as 7 or a \
             path such as /demo/token"
        )));
    };
    store::assets::get(conn, id)?
        .ok_or_else(|| Error::not_found(format!("no asset with id {id}: see tessera asset tree")))
}

// ---------------------------------------------------------------------------------------------
// Attributes

/// Parses a duration as seconds: `900`, `90s`, `15m`, `1h`, `1h30m`, `2d`; empty means none.
pub fn parse_duration(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return Some(String::new());
    }
    if let Ok(n) = text.parse::<u64>() {
        return Some(n.to_string());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        number.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    number.is_empty().then(|| total.to_string())
}

/// Checks and normalises one value for its attribute's kind.
fn normalise(def: &AttributeDef, value: &str) -> Result<String> {
    let bad =
        |what: &str| Error::invalid(format!("attribute {}: {value:?} is not {what}", def.name));
    match def.kind {
        AttrKind::Text => Ok(value.to_owned()),
        AttrKind::Integer => {
            if value.is_empty() {
                return Ok(String::new());
            }
            value
                .trim()
                .parse::<i64>()
                .map(|n| n.to_string())
                .map_err(|_| bad("a whole number"))
        }
        AttrKind::Boolean => match value.trim() {
            "true" | "yes" | "1" => Ok("true".into()),
            "false" | "no" | "0" | "" => Ok("false".into()),
            _ => Err(bad("true or false")),
        },
        AttrKind::Duration => parse_duration(value).ok_or_else(|| {
            bad("a duration: use seconds (900) or a number with s, m, h or d (15m, 1h), or empty for none")
        }),
    }
}

/// Applies `changes` to `current` under the type's schema: unknown attributes are refused,
/// values are normalised for their kind, and required attributes must end up non-empty.
pub fn apply_attributes(
    ty: &AssetType,
    current: &BTreeMap<String, String>,
    changes: &[(String, String)],
) -> Result<BTreeMap<String, String>> {
    let mut attributes = current.clone();
    for (key, value) in changes {
        let def = ty
            .attributes
            .iter()
            .find(|a| &a.name == key)
            .ok_or_else(|| {
                let names: Vec<&str> = ty.attributes.iter().map(|a| a.name.as_str()).collect();
                Error::invalid(format!(
                    "asset type {} has no attribute {key:?}: its attributes are {}",
                    ty.code,
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
            })?;
        attributes.insert(key.clone(), normalise(def, value)?);
    }
    for def in &ty.attributes {
        if let (false, Some(default)) = (attributes.contains_key(&def.name), &def.default) {
            attributes.insert(def.name.clone(), normalise(def, default)?);
        }
        let empty = attributes.get(&def.name).is_none_or(|v| v.is_empty());
        if def.required && empty {
            return Err(Error::invalid(format!(
                "attribute {} is required for asset type {}: pass --attr {}=VALUE",
                def.name, ty.code, def.name
            )));
        }
    }
    Ok(attributes)
}

/// The attributes as shown to users: secrets masked.
pub fn masked(ty: &AssetType, attributes: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|(k, v)| {
            let secret = ty.attributes.iter().any(|a| &a.name == k && a.secret);
            let shown = if secret && !v.is_empty() {
                MASK.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Views

/// An asset as `asset show`, `asset tree` and `trash list` print it.
#[derive(Debug, Clone, Serialize)]
pub struct AssetView {
    pub id: i64,
    #[serde(rename = "type")]
    pub type_code: String,
    pub name: String,
    pub path: String,
    pub status: &'static str,
    pub link_type: &'static str,
    pub attributes: BTreeMap<String, String>,
    pub parent: Option<i64>,
    pub in_trash: bool,
    pub depth: usize,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<i64>,
}

fn view(conn: &Connection, row: &AssetRow, depth: usize) -> Result<AssetView> {
    let location = locate(conn, row)?;
    let attributes = store::assets::attributes(conn, row.id)?;
    let attributes = match find_type(conn, &row.type_code)? {
        Some(t) => masked(&t.definition, &attributes),
        // A type whose package is gone (only on a damaged instance): show nothing that might
        // be a secret.
        None => attributes
            .keys()
            .map(|k| (k.clone(), MASK.to_owned()))
            .collect(),
    };
    let created_by = match row.created_by {
        Some(id) => store::users::by_id(conn, id)?.map(|u| u.name),
        None => None,
    };
    Ok(AssetView {
        id: row.id,
        type_code: row.type_code.clone(),
        name: row.name.clone(),
        path: location.path,
        status: row.status.as_str(),
        link_type: row.link_type.as_str(),
        attributes,
        parent: row.parent_id,
        in_trash: location.in_trash,
        depth,
        created_at: row.created_at,
        updated_at: row.updated_at,
        created_by,
        type_version: row.type_version.clone(),
        trashed_at: row.trashed_at,
    })
}

/// `asset show`: needs read permission.
pub fn show(conn: &Connection, actor: &Actor, id_or_path: &str) -> Result<AssetView> {
    let row = resolve(conn, id_or_path)?;
    perms::require(conn, actor, row.id, Perm::Read, || {
        format!("reading asset {}", row.id)
    })?;
    view(conn, &row, 0)
}

/// `asset tree`: the subtree the actor can read, parents before children. Branches the actor
/// cannot read are left out whole.
pub fn tree(conn: &Connection, actor: &Actor, id_or_path: Option<&str>) -> Result<Vec<AssetView>> {
    let top = match id_or_path {
        Some(p) => resolve(conn, p)?,
        None => store::assets::get(conn, ROOT_ID)?
            .ok_or_else(|| Error::not_found("the root folder is missing: run tessera check"))?,
    };
    perms::require(conn, actor, top.id, Perm::Read, || {
        format!("reading asset {}", top.id)
    })?;
    let mut out = Vec::new();
    let mut stack = vec![(top, 0usize)];
    while let Some((row, depth)) = stack.pop() {
        let children = store::assets::children(conn, row.id)?;
        out.push(view(conn, &row, depth)?);
        for child in children.into_iter().rev() {
            if perms::has(conn, actor, child.id, Perm::Read)? {
                stack.push((child, depth + 1));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Changes

/// What `asset create` asks for.
#[derive(Debug, Default)]
pub struct NewAssetRequest {
    pub type_code: String,
    pub parent: String,
    pub name: String,
    pub segment: Option<String>,
    pub link_type: Option<LinkType>,
    pub status: Option<Status>,
    pub attributes: Vec<(String, String)>,
}

/// The result of a create or set: the asset and any configuration warnings.
#[derive(Debug, Serialize)]
pub struct Changed {
    pub asset: AssetView,
    pub warnings: Vec<String>,
}

fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "invalid asset name {name:?}: use 1 to 255 characters without control characters"
        )));
    }
    Ok(())
}

fn check_segment_free(
    conn: &Connection,
    parent: i64,
    segment: &str,
    except: Option<i64>,
) -> Result<()> {
    if parent == ROOT_ID && segment.starts_with('_') {
        return Err(Error::invalid(format!(
            "web path segment {segment:?} is reserved: top-level segments starting with '_' \
             belong to the server (/_login, /_logout, /_health)"
        )));
    }
    if let Some(existing) = store::assets::child_by_segment(conn, parent, segment)?
        && Some(existing) != except
    {
        {
            return Err(Error::conflict(format!(
                "web path segment {segment:?} is already used by asset {existing} under the same \
                 parent: choose another with --path"
            )));
        }
    }
    Ok(())
}

/// `asset create`: needs write on the parent; admin-only types need backend-user or above.
pub fn create(store: &mut Store, actor: &Actor, req: &NewAssetRequest) -> Result<Changed> {
    let conn = store.conn();
    let parent = resolve(conn, &req.parent)?;
    if locate(conn, &parent)?.in_trash {
        return Err(Error::invalid(format!(
            "asset {} is in the trash: restore it before creating assets under it",
            parent.id
        )));
    }
    perms::require(conn, actor, parent.id, Perm::Write, || {
        format!("creating an asset under asset {}", parent.id)
    })?;
    let ty = require_type(conn, &req.type_code)?;
    if ty.definition.admin_only {
        perms::require_level(actor, Level::BackendUser, || {
            format!(
                "creating an asset of admin-only type {}",
                ty.definition.code
            )
        })?;
    }
    validate_name(&req.name)?;
    let segment = match &req.segment {
        Some(s) => s.clone(),
        None => {
            let derived = segment_from_name(&req.name);
            if derived.is_empty() {
                return Err(Error::invalid(format!(
                    "cannot derive a web path segment from the name {:?}: pass --path SEGMENT",
                    req.name
                )));
            }
            derived
        }
    };
    validate_segment(&segment)?;
    check_segment_free(conn, parent.id, &segment, None)?;
    let attributes = apply_attributes(&ty.definition, &BTreeMap::new(), &req.attributes)?;
    let warnings = behaviours::check_config(&ty.definition, &attributes)?;
    let type_version = ty.package.as_ref().map(|(_, v)| v.clone());

    let id = store.write(|tx| {
        // Checked again inside the transaction: an uninstall may have removed the type since.
        require_type(tx, &req.type_code)?;
        let id = store::assets::insert(
            tx,
            &NewAsset {
                type_code: &ty.definition.code,
                type_version: type_version.as_deref(),
                name: req.name.trim(),
                parent_id: Some(parent.id),
                segment: &segment,
                link_type: req.link_type.unwrap_or(LinkType::Menu),
                status: req.status.unwrap_or(Status::UnderConstruction),
                created_by: actor.id(),
            },
        )?;
        store::assets::replace_attributes(tx, id, &attributes)?;
        store::grants::copy(tx, parent.id, id)?;
        Ok::<_, Error>(id)
    })?;
    let row = store::assets::get(store.conn(), id)?.expect("the asset was just created");
    Ok(Changed {
        asset: view(store.conn(), &row, 0)?,
        warnings,
    })
}

/// What `asset set` changes.
#[derive(Debug, Default)]
pub struct AssetChanges {
    pub name: Option<String>,
    pub segment: Option<String>,
    pub status: Option<Status>,
    pub link_type: Option<LinkType>,
    pub attributes: Vec<(String, String)>,
}

/// `asset set`: needs write on the asset.
pub fn set(
    store: &mut Store,
    actor: &Actor,
    id_or_path: &str,
    changes: &AssetChanges,
) -> Result<Changed> {
    let conn = store.conn();
    let row = resolve(conn, id_or_path)?;
    perms::require(conn, actor, row.id, Perm::Write, || {
        format!("changing asset {}", row.id)
    })?;
    if (row.id == ROOT_ID || row.id == TRASH_ID) && changes.segment.is_some() {
        return Err(Error::invalid(
            "the root and trash folders have no web path segment to change",
        ));
    }
    if let Some(name) = &changes.name {
        validate_name(name)?;
    }
    if let Some(segment) = &changes.segment {
        validate_segment(segment)?;
        if let (Some(parent), None) = (row.parent_id, row.trashed_from) {
            check_segment_free(conn, parent, segment, Some(row.id))?;
        }
    }
    let ty = require_type(conn, &row.type_code)?;
    let current = store::assets::attributes(conn, row.id)?;
    let attributes = apply_attributes(&ty.definition, &current, &changes.attributes)?;
    let warnings = behaviours::check_config(&ty.definition, &attributes)?;
    store.write(|tx| {
        if let Some(name) = &changes.name {
            store::assets::set_name(tx, row.id, name.trim())?;
        }
        if let Some(segment) = &changes.segment {
            store::assets::set_segment(tx, row.id, segment)?;
        }
        if let Some(status) = changes.status {
            store::assets::set_status(tx, row.id, status)?;
        }
        if let Some(link_type) = changes.link_type {
            store::assets::set_link_type(tx, row.id, link_type)?;
        }
        if attributes != current {
            store::assets::replace_attributes(tx, row.id, &attributes)?;
        }
        Ok::<_, Error>(())
    })?;
    let row = store::assets::get(store.conn(), row.id)?.expect("the asset exists");
    Ok(Changed {
        asset: view(store.conn(), &row, 0)?,
        warnings,
    })
}

/// Who a grant is for, as the command line names it.
#[derive(Debug, Clone)]
pub enum GrantTarget {
    User(String),
    AllUsers,
    Public,
}

/// What `asset grant` asks for.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub target: GrantTarget,
    pub perm: Perm,
    /// Record a denial instead of a grant.
    pub deny: bool,
    /// Apply to the whole subtree.
    pub cascade: bool,
    /// Remove the grant or denial instead.
    pub revoke: bool,
}

/// `asset grant`: needs admin on the asset (on every asset of the subtree with `cascade`).
/// Returns how many assets changed.
pub fn grant(
    store: &mut Store,
    actor: &Actor,
    id_or_path: &str,
    req: &GrantRequest,
) -> Result<usize> {
    let GrantRequest {
        target,
        perm,
        deny,
        cascade,
        revoke,
    } = req.clone();
    let conn = store.conn();
    let row = resolve(conn, id_or_path)?;
    let subject = match &target {
        GrantTarget::User(name) => {
            let user = store::users::by_name(conn, name)?.ok_or_else(|| {
                Error::not_found(format!("no user named {name:?}: see tessera user list"))
            })?;
            Subject::User(user.id)
        }
        GrantTarget::AllUsers => Subject::AllUsers,
        GrantTarget::Public => Subject::Public,
    };
    if subject == Subject::Public && perm > Perm::Read && !deny && !revoke {
        return Err(Error::invalid(
            "the public user can only be granted read: grant write or admin to users or --all-users",
        ));
    }
    let ids = if cascade {
        store::assets::subtree_ids(conn, row.id)?
    } else {
        vec![row.id]
    };
    for &id in &ids {
        perms::require(conn, actor, id, Perm::Admin, || {
            format!("changing permissions on asset {id}")
        })?;
    }
    store.write(|tx| {
        for &id in &ids {
            if revoke {
                store::grants::remove(tx, id, &subject, perm)?;
            } else {
                store::grants::set(
                    tx,
                    id,
                    &Grant {
                        subject: subject.clone(),
                        perm,
                        deny,
                    },
                )?;
            }
        }
        Ok::<_, Error>(ids.len())
    })
}

fn ensure_movable(row: &AssetRow) -> Result<()> {
    if row.id == ROOT_ID || row.id == TRASH_ID {
        return Err(Error::invalid(
            "the root and trash folders cannot be trashed, restored or purged",
        ));
    }
    Ok(())
}

/// `asset trash`: needs write on the asset; the subtree goes with it.
pub fn trash(store: &mut Store, actor: &Actor, id_or_path: &str) -> Result<AssetView> {
    let conn = store.conn();
    let row = resolve(conn, id_or_path)?;
    ensure_movable(&row)?;
    if locate(conn, &row)?.in_trash {
        return Err(Error::invalid(format!(
            "asset {} is already in the trash",
            row.id
        )));
    }
    perms::require(conn, actor, row.id, Perm::Write, || {
        format!("trashing asset {}", row.id)
    })?;
    store.write(|tx| store::assets::move_to_trash(tx, row.id, TRASH_ID))?;
    let row = store::assets::get(store.conn(), row.id)?.expect("the asset exists");
    view(store.conn(), &row, 0)
}

/// `asset restore`: puts a trashed asset back where it was, or under `to` when given (needed
/// when its old parent was purged). Needs write on the asset and on the new parent.
pub fn restore(store: &mut Store, actor: &Actor, id: &str, to: Option<&str>) -> Result<AssetView> {
    let conn = store.conn();
    let row = resolve(conn, id)?;
    ensure_movable(&row)?;
    if row.parent_id != Some(TRASH_ID) {
        return Err(Error::invalid(if locate(conn, &row)?.in_trash {
            format!(
                "asset {} is in the trash inside a trashed asset: restore the top of its subtree",
                row.id
            )
        } else {
            format!("asset {} is not in the trash", row.id)
        }));
    }
    let parent = match to {
        Some(to) => resolve(conn, to)?,
        None => row
            .trashed_from
            .and_then(|p| store::assets::get(conn, p).transpose())
            .transpose()?
            .ok_or_else(|| {
                Error::invalid(format!(
                    "the folder asset {} was trashed from no longer exists: pass --parent ID|PATH",
                    row.id
                ))
            })?,
    };
    if locate(conn, &parent)?.in_trash {
        return Err(Error::invalid(format!(
            "the parent asset {} is in the trash: restore it first, or pass --parent ID|PATH",
            parent.id
        )));
    }
    perms::require(conn, actor, row.id, Perm::Write, || {
        format!("restoring asset {}", row.id)
    })?;
    perms::require(conn, actor, parent.id, Perm::Write, || {
        format!("restoring an asset under asset {}", parent.id)
    })?;
    check_segment_free(conn, parent.id, &row.segment, None)?;
    store.write(|tx| store::assets::move_out_of_trash(tx, row.id, parent.id))?;
    let row = store::assets::get(store.conn(), row.id)?.expect("the asset exists");
    view(store.conn(), &row, 0)
}

/// `trash list`: the assets directly in the trash that the actor can read.
pub fn trash_list(conn: &Connection, actor: &Actor) -> Result<Vec<AssetView>> {
    let mut out = Vec::new();
    for row in store::assets::children(conn, TRASH_ID)? {
        if perms::has(conn, actor, row.id, Perm::Read)? {
            out.push(view(conn, &row, 0)?);
        }
    }
    Ok(out)
}

/// What `trash purge` removes.
pub enum PurgeTarget<'a> {
    All,
    Ids(&'a [String]),
}

/// `trash purge`: system administrators only; deletes the assets and their subtrees for good.
/// Done or refused, the purge is written to the audit log. Returns the ids deleted.
pub fn purge(store: &mut Store, actor: &Actor, target: PurgeTarget<'_>) -> Result<Vec<i64>> {
    let what = match &target {
        PurgeTarget::All => "all".to_owned(),
        PurgeTarget::Ids(ids) => ids.join(" "),
    };
    let result = purge_checked(store, actor, target);
    let outcome = match &result {
        Ok(ids) => format!("done: {} asset(s) deleted", ids.len()),
        Err(e) => format!("refused: {e}"),
    };
    let entry = AuditEntry {
        detail: what,
        ..AuditEntry::new(actor.audit_name(), "trash-purge", outcome)
    };
    store.write(|tx| store::audit::append(tx, &entry))?;
    result
}

fn purge_checked(store: &mut Store, actor: &Actor, target: PurgeTarget<'_>) -> Result<Vec<i64>> {
    perms::require_level(actor, Level::SystemAdministrator, || {
        "purging the trash".into()
    })?;
    let conn = store.conn();
    let tops: Vec<i64> = match target {
        PurgeTarget::All => store::assets::children(conn, TRASH_ID)?
            .into_iter()
            .map(|a| a.id)
            .collect(),
        PurgeTarget::Ids(ids) => {
            let mut tops = Vec::new();
            for id in ids {
                let row = resolve(conn, id)?;
                ensure_movable(&row)?;
                if !locate(conn, &row)?.in_trash {
                    return Err(Error::invalid(format!(
                        "asset {} is not in the trash: trash it first with tessera asset trash {}",
                        row.id, row.id
                    )));
                }
                tops.push(row.id);
            }
            tops
        }
    };
    // Subtrees of tops that lie inside another top's subtree are already covered; dropping
    // them keeps the subtrees disjoint, so each is deleted children first.
    let subtrees: Vec<Vec<i64>> = tops
        .iter()
        .map(|&top| store::assets::subtree_ids(conn, top))
        .collect::<Result<_>>()?;
    let mut ids = Vec::new();
    for (i, subtree) in subtrees.iter().enumerate() {
        let covered = subtrees
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && other[1..].contains(&subtree[0]));
        let duplicate = subtrees[..i].iter().any(|other| other[0] == subtree[0]);
        if !covered && !duplicate {
            ids.extend_from_slice(subtree);
        }
    }
    store.write(|tx| store::assets::delete(tx, &ids))?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::manifest::value_fits_kind;

    #[test]
    fn normalised_values_are_canonical_for_their_kind() {
        let cases = [
            (AttrKind::Boolean, "yes"),
            (AttrKind::Boolean, "0"),
            (AttrKind::Integer, " 42 "),
            (AttrKind::Duration, "1h30m"),
            (AttrKind::Duration, "15m"),
            (AttrKind::Duration, ""),
            (AttrKind::Text, "anything\nat all"),
        ];
        for (kind, input) in cases {
            let def = AttributeDef {
                name: "a".into(),
                kind,
                required: false,
                default: None,
                secret: false,
                help: String::new(),
            };
            let stored = normalise(&def, input).unwrap();
            assert!(
                value_fits_kind(kind, &stored),
                "{kind:?} {input:?} -> {stored:?}"
            );
        }
        assert_eq!(parse_duration("1h30m").as_deref(), Some("5400"));
        assert_eq!(parse_duration("soon"), None);
    }
}
