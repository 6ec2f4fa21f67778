//! Installed packages and the asset types they provide.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::types::AssetType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRow {
    pub name: String,
    pub version: String,
    pub description: String,
    /// The manifest as installed, in TOML.
    pub manifest: String,
    pub sha256: String,
    /// The package's files, relative to the instance's `packages/` directory.
    pub dir: String,
    pub installed_at: i64,
    pub installed_by: String,
}

fn row_to_package(r: &rusqlite::Row<'_>) -> rusqlite::Result<PackageRow> {
    Ok(PackageRow {
        name: r.get(0)?,
        version: r.get(1)?,
        description: r.get(2)?,
        manifest: r.get(3)?,
        sha256: r.get(4)?,
        dir: r.get(5)?,
        installed_at: r.get(6)?,
        installed_by: r.get(7)?,
    })
}

const COLUMNS: &str =
    "name, version, description, manifest, sha256, dir, installed_at, installed_by";

pub fn get(conn: &Connection, name: &str) -> Result<Option<PackageRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM packages WHERE name = ?1"))?;
    Ok(stmt.query_row([name], row_to_package).optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<PackageRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM packages ORDER BY name"))?;
    let rows = stmt.query_map([], row_to_package)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Inserts a package, or replaces the row of the same name (an upgrade).
pub fn put(conn: &Connection, row: &PackageRow) -> Result<()> {
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO packages ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            row.name,
            row.version,
            row.description,
            row.manifest,
            row.sha256,
            row.dir,
            row.installed_at,
            row.installed_by
        ],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, name: &str) -> Result<()> {
    conn.execute("DELETE FROM package_types WHERE package = ?1", [name])?;
    conn.execute("DELETE FROM packages WHERE name = ?1", [name])?;
    Ok(())
}

/// Replaces the types a package provides.
pub fn set_types(conn: &Connection, package: &str, types: &[AssetType]) -> Result<()> {
    conn.execute("DELETE FROM package_types WHERE package = ?1", [package])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO package_types (code, package, definition) VALUES (?1, ?2, ?3)",
    )?;
    for t in types {
        let definition = serde_json::to_string(t)
            .map_err(|e| Error::invalid(format!("cannot store type {}: {e}", t.code)))?;
        stmt.execute(params![t.code, package, definition])?;
    }
    Ok(())
}

/// A type provided by an installed package, with the package's name and version.
#[derive(Debug, Clone)]
pub struct PackageType {
    pub package: String,
    pub version: String,
    pub definition: AssetType,
}

fn row_to_type(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn parse_type((package, version, json): (String, String, String)) -> Result<PackageType> {
    let definition = serde_json::from_str(&json).map_err(|e| {
        Error::invalid(format!(
            "the stored definition of a type of package {package} is unreadable ({e}): \
             run tessera check"
        ))
    })?;
    Ok(PackageType {
        package,
        version,
        definition,
    })
}

pub fn type_by_code(conn: &Connection, code: &str) -> Result<Option<PackageType>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.package, p.version, t.definition FROM package_types t
         JOIN packages p ON p.name = t.package WHERE t.code = ?1",
    )?;
    match stmt.query_row([code], row_to_type).optional()? {
        Some(row) => parse_type(row).map(Some),
        None => Ok(None),
    }
}

pub fn types(conn: &Connection) -> Result<Vec<PackageType>> {
    let mut stmt = conn.prepare(
        "SELECT t.package, p.version, t.definition FROM package_types t
         JOIN packages p ON p.name = t.package ORDER BY t.code",
    )?;
    let rows = stmt.query_map([], row_to_type)?;
    rows.map(|r| parse_type(r?)).collect()
}
