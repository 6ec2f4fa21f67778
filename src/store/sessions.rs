//! Web sessions. Only a hash of each session's random value is stored.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

pub fn insert(conn: &Connection, token_hash: &str, user_id: i64, expires_at: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, user_id, super::now(), expires_at],
    )?;
    Ok(())
}

/// The user of a session that has not expired at `now`.
pub fn user_of(conn: &Connection, token_hash: &str, now: i64) -> Result<Option<i64>> {
    let mut stmt = conn
        .prepare_cached("SELECT user_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2")?;
    Ok(stmt
        .query_row(params![token_hash, now], |r| r.get(0))
        .optional()?)
}

pub fn delete(conn: &Connection, token_hash: &str) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}

pub fn delete_expired(conn: &Connection, now: i64) -> Result<usize> {
    Ok(conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?)
}

/// The user and expiry time of a session that has not expired at `now`, so that a cache of
/// sessions can tell when an entry stops holding.
pub fn lookup(conn: &Connection, token_hash: &str, now: i64) -> Result<Option<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, expires_at FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
    )?;
    Ok(stmt
        .query_row(params![token_hash, now], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}
