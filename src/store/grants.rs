//! Permission grants and denials on assets.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::perms::{Grant, Perm, Subject};

fn subject_columns(subject: &Subject) -> (&'static str, i64) {
    match subject {
        Subject::User(id) => ("user", *id),
        Subject::AllUsers => ("all-users", 0),
        Subject::Public => ("public", 0),
    }
}

pub fn on_asset(conn: &Connection, asset: i64) -> Result<Vec<Grant>> {
    let mut stmt = conn.prepare_cached(
        "SELECT subject, user_id, perm, deny FROM grants WHERE asset_id = ?1
         ORDER BY subject, user_id, perm",
    )?;
    let rows = stmt.query_map([asset], |r| {
        let subject: String = r.get(0)?;
        let user_id: i64 = r.get(1)?;
        let perm: String = r.get(2)?;
        Ok(Grant {
            subject: match subject.as_str() {
                "user" => Subject::User(user_id),
                "all-users" => Subject::AllUsers,
                _ => Subject::Public,
            },
            perm: Perm::parse(&perm).unwrap_or(Perm::Admin),
            deny: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records a grant or a denial, replacing an earlier one for the same subject and permission.
pub fn set(conn: &Connection, asset: i64, grant: &Grant) -> Result<()> {
    let (subject, user_id) = subject_columns(&grant.subject);
    conn.prepare_cached(
        "INSERT INTO grants (asset_id, subject, user_id, perm, deny) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (asset_id, subject, user_id, perm) DO UPDATE SET deny = excluded.deny",
    )?
    .execute(params![
        asset,
        subject,
        user_id,
        grant.perm.as_str(),
        grant.deny
    ])?;
    Ok(())
}

/// Removes a grant or denial; returns whether there was one.
pub fn remove(conn: &Connection, asset: i64, subject: &Subject, perm: Perm) -> Result<bool> {
    let (subject, user_id) = subject_columns(subject);
    let n = conn.execute(
        "DELETE FROM grants WHERE asset_id = ?1 AND subject = ?2 AND user_id = ?3 AND perm = ?4",
        params![asset, subject, user_id, perm.as_str()],
    )?;
    Ok(n > 0)
}

/// Gives `child` a copy of `parent`'s grants.
pub fn copy(conn: &Connection, parent: i64, child: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO grants (asset_id, subject, user_id, perm, deny)
         SELECT ?2, subject, user_id, perm, deny FROM grants WHERE asset_id = ?1",
    )?
    .execute(params![parent, child])?;
    Ok(())
}
