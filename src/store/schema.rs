//! The schema as an append-only list of migrations, tracked with `PRAGMA user_version` and
//! applied in one exclusive transaction when a database is opened. Never edit a migration that
//! has shipped; add a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

const MIGRATIONS: &[&str] = &[
    // 1: users, the asset tree, permissions, packages, the audit log and web sessions.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        level         TEXT NOT NULL CHECK (level IN
                        ('user', 'content-editor', 'backend-user', 'system-administrator', 'root')),
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX users_one_root ON users (level) WHERE level = 'root';

    CREATE TABLE user_attributes (
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        PRIMARY KEY (user_id, key)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE assets (
        id           INTEGER PRIMARY KEY,
        type_code    TEXT NOT NULL,
        type_version TEXT,
        name         TEXT NOT NULL,
        parent_id    INTEGER REFERENCES assets (id),
        segment      TEXT NOT NULL,
        link_type    TEXT NOT NULL CHECK (link_type IN ('1', '2', '3', 'notice')),
        status       TEXT NOT NULL CHECK (status IN ('under_construction', 'live')),
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        created_by   INTEGER REFERENCES users (id),
        -- Set only on the top asset of a trashed subtree: the parent it came from.
        -- Not a foreign key: the old parent may be purged while this asset waits in the trash.
        trashed_from INTEGER,
        trashed_at   INTEGER
    ) STRICT;
    CREATE INDEX assets_by_type ON assets (type_code);
    -- Sibling segments are unique, except among the trash's direct children, which may have
    -- come from different folders.
    CREATE UNIQUE INDEX assets_sibling_segment ON assets (parent_id, segment)
        WHERE trashed_from IS NULL;
    CREATE INDEX assets_by_parent ON assets (parent_id);

    CREATE TABLE asset_attributes (
        asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        PRIMARY KEY (asset_id, key)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE grants (
        asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
        subject  TEXT NOT NULL CHECK (subject IN ('user', 'all-users', 'public')),
        user_id  INTEGER NOT NULL DEFAULT 0,
        perm     TEXT NOT NULL CHECK (perm IN ('read', 'write', 'admin')),
        deny     INTEGER NOT NULL CHECK (deny IN (0, 1)),
        PRIMARY KEY (asset_id, subject, user_id, perm)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX grants_by_user ON grants (user_id) WHERE subject = 'user';

    CREATE TABLE packages (
        name         TEXT PRIMARY KEY,
        version      TEXT NOT NULL,
        description  TEXT NOT NULL,
        manifest     TEXT NOT NULL,
        sha256       TEXT NOT NULL,
        dir          TEXT NOT NULL,
        installed_at INTEGER NOT NULL,
        installed_by TEXT NOT NULL
    ) STRICT;

    CREATE TABLE package_types (
        code       TEXT PRIMARY KEY,
        package    TEXT NOT NULL REFERENCES packages (name) ON DELETE CASCADE,
        definition TEXT NOT NULL
    ) STRICT;

    CREATE TABLE audit_log (
        id           INTEGER PRIMARY KEY,
        time         INTEGER NOT NULL,
        user         TEXT NOT NULL,
        action       TEXT NOT NULL,
        package      TEXT,
        from_version TEXT,
        to_version   TEXT,
        sha256       TEXT,
        outcome      TEXT NOT NULL,
        detail       TEXT NOT NULL DEFAULT ''
    ) STRICT;

    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    if current > SCHEMA_VERSION {
        return Err(Error::invalid(format!(
            "this instance has schema version {current}, newer than this tessera understands \
             ({SCHEMA_VERSION}): use a newer tessera"
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    // Read again inside the lock: another process may have migrated meanwhile.
    let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for migration in MIGRATIONS.iter().skip(current.max(0) as usize) {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let tables = |c: &Connection| -> i64 {
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .unwrap()
        };
        let before = tables(&conn);
        migrate(&mut conn).unwrap();
        assert_eq!(tables(&conn), before);
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("newer than this tessera"), "{err}");
    }
}
