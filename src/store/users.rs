//! Users and their attributes.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::users::Level;

/// A stored user. The password hash stays in the store; see [`password_hash`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub level: Level,
    pub created_at: i64,
}

fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    let level: String = r.get(2)?;
    Ok(UserRow {
        id: r.get(0)?,
        name: r.get(1)?,
        // The CHECK constraint only admits stored levels, so parsing cannot fail on a sound
        // database; `tessera check` reports anything else.
        level: Level::parse(&level).unwrap_or(Level::User),
        created_at: r.get(3)?,
    })
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<UserRow>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, level, created_at FROM users WHERE name = ?1")?;
    Ok(stmt.query_row([name], row_to_user).optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<UserRow>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, level, created_at FROM users WHERE id = ?1")?;
    Ok(stmt.query_row([id], row_to_user).optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<UserRow>> {
    let mut stmt = conn.prepare("SELECT id, name, level, created_at FROM users ORDER BY name")?;
    let rows = stmt.query_map([], row_to_user)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn password_hash(conn: &Connection, id: i64) -> Result<Option<String>> {
    let mut stmt = conn.prepare_cached("SELECT password_hash FROM users WHERE id = ?1")?;
    Ok(stmt.query_row([id], |r| r.get(0)).optional()?)
}

pub fn insert(conn: &Connection, name: &str, level: Level, password_hash: &str) -> Result<i64> {
    conn.execute(
        "INSERT INTO users (name, level, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, level.as_str(), password_hash, super::now()],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn set_level(conn: &Connection, id: i64, level: Level) -> Result<()> {
    conn.execute(
        "UPDATE users SET level = ?2 WHERE id = ?1",
        params![id, level.as_str()],
    )?;
    Ok(())
}

pub fn set_password_hash(conn: &Connection, id: i64, hash: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    Ok(())
}

pub fn attributes(conn: &Connection, id: i64) -> Result<BTreeMap<String, String>> {
    let mut stmt =
        conn.prepare_cached("SELECT key, value FROM user_attributes WHERE user_id = ?1")?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets an attribute; an empty value removes it.
pub fn set_attribute(conn: &Connection, id: i64, key: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        conn.execute(
            "DELETE FROM user_attributes WHERE user_id = ?1 AND key = ?2",
            params![id, key],
        )?;
    } else {
        conn.execute(
            "INSERT INTO user_attributes (user_id, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value",
            params![id, key, value],
        )?;
    }
    Ok(())
}
