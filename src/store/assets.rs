//! The asset tree and asset attributes.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::assets::{LinkType, Status};
use crate::error::Result;

/// A stored asset, without its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRow {
    pub id: i64,
    pub type_code: String,
    pub type_version: Option<String>,
    pub name: String,
    pub parent_id: Option<i64>,
    pub segment: String,
    pub link_type: LinkType,
    pub status: Status,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<i64>,
    pub trashed_from: Option<i64>,
    pub trashed_at: Option<i64>,
}

/// The fields of a new asset.
pub struct NewAsset<'a> {
    pub type_code: &'a str,
    pub type_version: Option<&'a str>,
    pub name: &'a str,
    pub parent_id: Option<i64>,
    pub segment: &'a str,
    pub link_type: LinkType,
    pub status: Status,
    pub created_by: Option<i64>,
}

const COLUMNS: &str = "id, type_code, type_version, name, parent_id, segment, link_type, status, \
                       created_at, updated_at, created_by, trashed_from, trashed_at";

fn row_to_asset(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssetRow> {
    let link_type: String = r.get(6)?;
    let status: String = r.get(7)?;
    Ok(AssetRow {
        id: r.get(0)?,
        type_code: r.get(1)?,
        type_version: r.get(2)?,
        name: r.get(3)?,
        parent_id: r.get(4)?,
        segment: r.get(5)?,
        // The CHECK constraints admit only values these parse.
        link_type: LinkType::parse(&link_type).unwrap_or(LinkType::Hidden),
        status: Status::parse(&status).unwrap_or(Status::UnderConstruction),
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        created_by: r.get(10)?,
        trashed_from: r.get(11)?,
        trashed_at: r.get(12)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<AssetRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM assets WHERE id = ?1"))?;
    Ok(stmt.query_row([id], row_to_asset).optional()?)
}

/// The child of `parent` with web path segment `segment`, outside the trash.
pub fn child_by_segment(conn: &Connection, parent: i64, segment: &str) -> Result<Option<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM assets WHERE parent_id = ?1 AND segment = ?2 AND trashed_from IS NULL",
    )?;
    Ok(stmt
        .query_row(params![parent, segment], |r| r.get(0))
        .optional()?)
}

pub fn children(conn: &Connection, parent: i64) -> Result<Vec<AssetRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM assets WHERE parent_id = ?1 ORDER BY segment, id"
    ))?;
    let rows = stmt.query_map([parent], row_to_asset)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every asset id in the subtree under `id`, `id` included, parents before children.
pub fn subtree_ids(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE sub(id, depth) AS (
             SELECT ?1, 0
             UNION ALL
             SELECT a.id, sub.depth + 1 FROM assets a JOIN sub ON a.parent_id = sub.id
         )
         SELECT id FROM sub ORDER BY depth, id",
    )?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn all(conn: &Connection) -> Result<Vec<AssetRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM assets ORDER BY id"))?;
    let rows = stmt.query_map([], row_to_asset)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Assets of the given types, wherever they are.
pub fn of_types(conn: &Connection, codes: &[String]) -> Result<Vec<AssetRow>> {
    let mut found = Vec::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM assets WHERE type_code = ?1 ORDER BY id"
    ))?;
    for code in codes {
        let rows = stmt.query_map([code], row_to_asset)?;
        for row in rows {
            found.push(row?);
        }
    }
    found.sort_by_key(|a| a.id);
    Ok(found)
}

pub fn insert(conn: &Connection, new: &NewAsset<'_>) -> Result<i64> {
    insert_row(conn, None, new)
}

/// Inserts an asset with a chosen id; only for the root and trash folders of a new instance.
pub fn insert_with_id(conn: &Connection, id: i64, new: &NewAsset<'_>) -> Result<()> {
    insert_row(conn, Some(id), new).map(|_| ())
}

/// Inserts an asset; with no id given, SQLite picks the next one.
fn insert_row(conn: &Connection, id: Option<i64>, new: &NewAsset<'_>) -> Result<i64> {
    let now = super::now();
    conn.prepare_cached(
        "INSERT INTO assets (id, type_code, type_version, name, parent_id, segment, link_type,
                             status, created_at, updated_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
    )?
    .execute(params![
        id,
        new.type_code,
        new.type_version,
        new.name,
        new.parent_id,
        new.segment,
        new.link_type.as_str(),
        new.status.as_str(),
        now,
        new.created_by,
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn set_name(conn: &Connection, id: i64, name: &str) -> Result<()> {
    conn.execute(
        "UPDATE assets SET name = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, name, super::now()],
    )?;
    Ok(())
}

pub fn set_segment(conn: &Connection, id: i64, segment: &str) -> Result<()> {
    conn.execute(
        "UPDATE assets SET segment = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, segment, super::now()],
    )?;
    Ok(())
}

pub fn set_status(conn: &Connection, id: i64, status: Status) -> Result<()> {
    conn.execute(
        "UPDATE assets SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, status.as_str(), super::now()],
    )?;
    Ok(())
}

pub fn set_link_type(conn: &Connection, id: i64, link_type: LinkType) -> Result<()> {
    conn.execute(
        "UPDATE assets SET link_type = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, link_type.as_str(), super::now()],
    )?;
    Ok(())
}

pub fn set_type_version(conn: &Connection, id: i64, version: &str) -> Result<()> {
    conn.execute(
        "UPDATE assets SET type_version = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, version, super::now()],
    )?;
    Ok(())
}

/// Moves the top of a subtree into the trash folder, remembering where it came from.
pub fn move_to_trash(conn: &Connection, id: i64, trash_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE assets SET trashed_from = parent_id, parent_id = ?2, trashed_at = ?3 WHERE id = ?1",
        params![id, trash_id, super::now()],
    )?;
    Ok(())
}

/// Puts a trashed subtree back under `parent`.
pub fn move_out_of_trash(conn: &Connection, id: i64, parent: i64) -> Result<()> {
    conn.execute(
        "UPDATE assets SET parent_id = ?2, trashed_from = NULL, trashed_at = NULL,
                           updated_at = ?3 WHERE id = ?1",
        params![id, parent, super::now()],
    )?;
    Ok(())
}

/// Deletes the given assets for good. Attributes and grants go with them.
pub fn delete(conn: &Connection, ids: &[i64]) -> Result<()> {
    let mut stmt = conn.prepare_cached("DELETE FROM assets WHERE id = ?1")?;
    // Children first, so no row ever points at a deleted parent.
    for id in ids.iter().rev() {
        stmt.execute([id])?;
    }
    Ok(())
}

pub fn attributes(conn: &Connection, id: i64) -> Result<BTreeMap<String, String>> {
    let mut stmt =
        conn.prepare_cached("SELECT key, value FROM asset_attributes WHERE asset_id = ?1")?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Replaces all of an asset's attributes.
pub fn replace_attributes(
    conn: &Connection,
    id: i64,
    attributes: &BTreeMap<String, String>,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM asset_attributes WHERE asset_id = ?1")?
        .execute([id])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO asset_attributes (asset_id, key, value) VALUES (?1, ?2, ?3)",
    )?;
    for (key, value) in attributes {
        stmt.execute(params![id, key, value])?;
    }
    conn.prepare_cached("UPDATE assets SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, super::now()])?;
    Ok(())
}
