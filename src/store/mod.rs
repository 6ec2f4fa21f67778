//! The SQLite store: the only module that runs SQL. It opens the database, applies the schema
//! migrations and offers typed reads and writes grouped by table family.
//!
//! Every write goes through [`Store::write`], which runs one `BEGIN IMMEDIATE` transaction: two
//! processes never interleave a write (the second waits on SQLite's busy timeout), and a failed
//! closure rolls everything back.

pub mod assets;
pub mod audit;
pub mod grants;
pub mod packages;
mod schema;
pub mod sessions;
pub mod users;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

pub use schema::SCHEMA_VERSION;

/// An open instance database.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens an existing database, applying any pending schema migrations.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Store::configure(conn)
    }

    /// Creates a new database file; refuses if one exists.
    pub fn create(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Store::configure(conn)
    }

    /// An in-memory database, for tests and benchmarks of pure store logic.
    pub fn in_memory() -> Result<Store> {
        Store::configure(Connection::open_in_memory()?)
    }

    fn configure(mut conn: Connection) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // WAL lets the web server read while a command writes. Only switch when needed, so that
        // opening an instance for a read never writes to the file.
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            conn.pragma_update(None, "journal_mode", "wal")?;
        }
        conn.pragma_update(None, "synchronous", "full")?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one immediate transaction; commits if it returns `Ok`, rolls back otherwise.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<Error>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(Error::from)?;
        Ok(value)
    }

    /// Runs the database's own consistency checks; returns a line per fault found.
    pub fn integrity_faults(&self) -> Result<Vec<String>> {
        let mut faults = Vec::new();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let row = row?;
            if row != "ok" {
                faults.push(format!("sqlite integrity: {row}"));
            }
        }
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
        let rows = stmt.query_map([], |r| {
            Ok(format!(
                "foreign key: table {} row {} points to a missing {} row",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                r.get::<_, String>(2)?
            ))
        })?;
        for row in rows {
            faults.push(row?);
        }
        Ok(faults)
    }
}

/// Seconds since the Unix epoch, the unit every timestamp in the store uses.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

pub fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}
