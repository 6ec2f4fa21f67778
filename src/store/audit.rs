//! The audit log: every package operation and trash purge, done or refused.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub time: i64,
    pub user: String,
    pub action: String,
    pub package: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sha256: Option<String>,
    pub outcome: String,
    pub detail: String,
}

impl AuditEntry {
    /// An entry made now, with no package details; callers fill in the ones they have.
    pub fn new(user: impl Into<String>, action: &str, outcome: impl Into<String>) -> AuditEntry {
        AuditEntry {
            time: super::now(),
            user: user.into(),
            action: action.to_owned(),
            package: None,
            from: None,
            to: None,
            sha256: None,
            outcome: outcome.into(),
            detail: String::new(),
        }
    }
}

pub fn append(conn: &Connection, entry: &AuditEntry) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_log (time, user, action, package, from_version, to_version, sha256,
                                outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            entry.time,
            entry.user,
            entry.action,
            entry.package,
            entry.from,
            entry.to,
            entry.sha256,
            entry.outcome,
            entry.detail
        ],
    )?;
    Ok(())
}

/// The log in the order it was written, optionally only one package's entries.
pub fn list(conn: &Connection, package: Option<&str>) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare(
        "SELECT time, user, action, package, from_version, to_version, sha256, outcome, detail
         FROM audit_log WHERE ?1 IS NULL OR package = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([package], |r| {
        Ok(AuditEntry {
            time: r.get(0)?,
            user: r.get(1)?,
            action: r.get(2)?,
            package: r.get(3)?,
            from: r.get(4)?,
            to: r.get(5)?,
            sha256: r.get(6)?,
            outcome: r.get(7)?,
            detail: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
