//! Permissions on assets: `read` < `write` < `admin`, granted or denied to a user, to all
//! logged-in users or to the public. Deny beats grant; root ignores permissions and system
//! administrators hold admin on every asset.

use std::fmt;

use rusqlite::Connection;

use crate::error::{ActingAs, Error, Needed, Result};
use crate::store;
use crate::users::{Actor, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Perm {
    Read,
    Write,
    Admin,
}

impl Perm {
    pub fn as_str(self) -> &'static str {
        match self {
            Perm::Read => "read",
            Perm::Write => "write",
            Perm::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Perm> {
        match text {
            "read" => Some(Perm::Read),
            "write" => Some(Perm::Write),
            "admin" => Some(Perm::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whom a grant is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(i64),
    AllUsers,
    Public,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub subject: Subject,
    pub perm: Perm,
    pub deny: bool,
}

/// Decides `perm` from the grants that apply to a requester. A grant of a permission implies
/// the lower ones; a denial of a permission also denies the higher ones.
pub fn decide<I>(applicable: I, perm: Perm) -> bool
where
    I: IntoIterator<Item = (Perm, bool)>,
    I::IntoIter: Clone,
{
    let applicable = applicable.into_iter();
    let denied = applicable.clone().any(|(p, deny)| deny && p <= perm);
    let granted = applicable.into_iter().any(|(p, deny)| !deny && p >= perm);
    granted && !denied
}

/// Whether `actor` holds `perm` given all the grants on an asset (as read by
/// `store::grants::on_asset`): which grants apply to whom is decided here and only here.
pub fn allows(actor: &Actor, grants: &[Grant], perm: Perm) -> bool {
    if actor.level() >= Level::SystemAdministrator {
        return true;
    }
    let applicable = grants
        .iter()
        .filter(|g| match g.subject {
            Subject::Public => true,
            Subject::AllUsers => actor.user.is_some(),
            Subject::User(id) => actor.id() == Some(id),
        })
        .map(|g| (g.perm, g.deny));
    decide(applicable, perm)
}

/// Whether `actor` holds `perm` on the asset.
pub fn has(conn: &Connection, actor: &Actor, asset: i64, perm: Perm) -> Result<bool> {
    if actor.level() >= Level::SystemAdministrator {
        return Ok(true);
    }
    Ok(allows(actor, &store::grants::on_asset(conn, asset)?, perm))
}

/// Refuses unless `actor` holds `perm` on the asset; `action` says what was attempted.
pub fn require(
    conn: &Connection,
    actor: &Actor,
    asset: i64,
    perm: Perm,
    action: impl FnOnce() -> String,
) -> Result<()> {
    if has(conn, actor, asset, perm)? {
        Ok(())
    } else {
        Err(Error::PermissionDenied {
            action: action(),
            needed: Needed::Permission(perm),
            who: ActingAs(actor.name().map(str::to_owned)),
        })
    }
}

/// Refuses unless `actor` has at least the account level `level`.
pub fn require_level(actor: &Actor, level: Level, action: impl FnOnce() -> String) -> Result<()> {
    if actor.level() >= level {
        Ok(())
    } else {
        Err(Error::PermissionDenied {
            action: action(),
            needed: Needed::Level(level),
            who: ActingAs(actor.name().map(str::to_owned)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_implies_lower_permissions() {
        let g = [(Perm::Write, false)];
        assert!(decide(g, Perm::Read));
        assert!(decide(g, Perm::Write));
        assert!(!decide(g, Perm::Admin));
    }

    #[test]
    fn deny_beats_grant_and_covers_higher_permissions() {
        let g = [(Perm::Admin, false), (Perm::Write, true)];
        assert!(decide(g, Perm::Read));
        assert!(!decide(g, Perm::Write));
        assert!(!decide(g, Perm::Admin));
        let g = [(Perm::Read, false), (Perm::Read, true)];
        assert!(!decide(g, Perm::Read));
    }

    #[test]
    fn nothing_granted_means_nothing_allowed() {
        assert!(!decide([], Perm::Read));
        assert!(!decide([(Perm::Read, true)], Perm::Read));
    }
}
