//! Users: account levels, Argon2id passwords, attributes, authentication, and the user
//! commands' rules (who may add, change and see whom).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::Connection;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::perms::require_level;
use crate::store::{self, Store, users::UserRow};

/// Account levels, lowest first. `Public` is the user who is not logged in; it is never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Public,
    User,
    ContentEditor,
    BackendUser,
    SystemAdministrator,
    Root,
}

impl Level {
    pub const ALL: [Level; 6] = [
        Level::Public,
        Level::User,
        Level::ContentEditor,
        Level::BackendUser,
        Level::SystemAdministrator,
        Level::Root,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Public => "public",
            Level::User => "user",
            Level::ContentEditor => "content-editor",
            Level::BackendUser => "backend-user",
            Level::SystemAdministrator => "system-administrator",
            Level::Root => "root",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == text)
    }

    /// Parses a level a user may be given: not `public`, which is nobody's.
    pub fn parse_storable(text: &str) -> Result<Level> {
        match Level::parse(text) {
            Some(Level::Public) => Err(Error::invalid(
                "level public is the user who is not logged in and cannot be given to an account: \
                 use user, content-editor, backend-user or system-administrator",
            )),
            Some(level) => Ok(level),
            None => Err(Error::invalid(format!(
                "unknown account level {text:?}: use user, content-editor, backend-user or \
                 system-administrator"
            ))),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is acting: a logged-in user, or the public when `user` is `None`.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: Option<UserRow>,
}

impl Actor {
    pub fn public() -> Actor {
        Actor { user: None }
    }

    pub fn user(row: UserRow) -> Actor {
        Actor { user: Some(row) }
    }

    pub fn level(&self) -> Level {
        self.user.as_ref().map_or(Level::Public, |u| u.level)
    }

    pub fn id(&self) -> Option<i64> {
        self.user.as_ref().map(|u| u.id)
    }

    pub fn name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.name.as_str())
    }

    /// The name written to the audit log.
    pub fn audit_name(&self) -> String {
        self.name().unwrap_or("public").to_owned()
    }
}

pub const MIN_PASSWORD_LEN: usize = 8;

/// Hashes a password with Argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid(format!("cannot hash the password: {e}")))
}

/// Checks a password against a stored hash. The comparison inside Argon2 is constant-time.
fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that a wrong name costs as much
/// time as a wrong password and does not reveal which names exist.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"decoy password never matches", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Authenticates `name` with `password`; the error does not say which of the two was wrong.
pub fn authenticate(conn: &Connection, name: &str, password: &str) -> Result<UserRow> {
    let user = store::users::by_name(conn, name)?;
    let hash = match &user {
        Some(u) => store::users::password_hash(conn, u.id)?.unwrap_or_default(),
        None => decoy_hash().to_owned(),
    };
    let matches = password_matches(password, &hash);
    match user {
        Some(u) if matches => Ok(u),
        _ => Err(Error::Authentication(format!(
            "wrong user name or password for {name:?}"
        ))),
    }
}

pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid user name {name:?}: use up to 64 letters, digits, '.', '_', '-' or '@', \
             starting with a letter or digit"
        )))
    }
}

fn validate_attribute_key(key: &str) -> Result<()> {
    if key == "username" {
        return Err(Error::invalid(
            "attribute username is the user's name and cannot be set: choose another key",
        ));
    }
    let ok = key.len() <= 64
        && key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid user attribute key {key:?}: use lowercase letters, digits and '_', \
             starting with a letter (e.g. first_name, email)"
        )))
    }
}

/// A user as shown by `user show` and `user list`.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub level: Level,
    pub attributes: BTreeMap<String, String>,
    pub created_at: i64,
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn view(conn: &Connection, row: UserRow) -> Result<UserView> {
    Ok(UserView {
        attributes: store::users::attributes(conn, row.id)?,
        id: row.id,
        name: row.name,
        level: row.level,
        created_at: row.created_at,
    })
}

fn find(conn: &Connection, name: &str) -> Result<UserRow> {
    store::users::by_name(conn, name)?
        .ok_or_else(|| Error::not_found(format!("no user named {name:?}: see tessera user list")))
}

/// Creates the one root user of a new instance.
pub fn create_root(store: &mut Store, password: &str) -> Result<()> {
    let hash = hash_password(password)?;
    store.write(|tx| store::users::insert(tx, "root", Level::Root, &hash).map(|_| ()))
}

/// `user add`: system administrators add users of any level below root.
pub fn add(
    store: &mut Store,
    actor: &Actor,
    name: &str,
    level: Level,
    attributes: &[(String, String)],
    password: &str,
) -> Result<UserView> {
    require_level(actor, Level::SystemAdministrator, || "adding a user".into())?;
    validate_name(name)?;
    if level == Level::Root {
        return Err(Error::invalid(
            "an instance has exactly one root user: choose a level up to system-administrator",
        ));
    }
    for (key, _) in attributes {
        validate_attribute_key(key)?;
    }
    if store::users::by_name(store.conn(), name)?.is_some() {
        return Err(Error::conflict(format!(
            "a user named {name:?} already exists: choose another name, or change it with tessera user set"
        )));
    }
    let hash = hash_password(password)?;
    store.write(|tx| {
        let id = store::users::insert(tx, name, level, &hash)?;
        for (key, value) in attributes {
            store::users::set_attribute(tx, id, key, value)?;
        }
        let row = store::users::by_id(tx, id)?.expect("the user was just inserted");
        view(tx, row)
    })
}

/// What `user set` changes.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub level: Option<Level>,
    pub attributes: Vec<(String, String)>,
    pub password: Option<String>,
}

/// `user set`: users change their own attributes and password; system administrators change
/// anyone's but root's, and only they change levels.
pub fn set(
    store: &mut Store,
    actor: &Actor,
    name: &str,
    changes: &UserChanges,
) -> Result<UserView> {
    let target = find(store.conn(), name)?;
    let own = actor.id() == Some(target.id);
    if !own {
        require_level(actor, Level::SystemAdministrator, || {
            format!("changing user {name}")
        })?;
        if target.level == Level::Root {
            return Err(Error::PermissionDenied {
                action: "changing the root user".into(),
                needed: crate::error::Needed::Level(Level::Root),
                who: crate::error::ActingAs(actor.name().map(str::to_owned)),
            });
        }
    }
    if let Some(level) = changes.level {
        require_level(actor, Level::SystemAdministrator, || {
            format!("changing the level of user {name}")
        })?;
        if level == Level::Root || target.level == Level::Root {
            return Err(Error::invalid(
                "the root user's level is fixed and no other user can become root",
            ));
        }
    }
    for (key, _) in &changes.attributes {
        validate_attribute_key(key)?;
    }
    let hash = changes.password.as_deref().map(hash_password).transpose()?;
    store.write(|tx| {
        if let Some(level) = changes.level {
            store::users::set_level(tx, target.id, level)?;
        }
        for (key, value) in &changes.attributes {
            store::users::set_attribute(tx, target.id, key, value)?;
        }
        if let Some(hash) = &hash {
            store::users::set_password_hash(tx, target.id, hash)?;
        }
        let row = store::users::by_id(tx, target.id)?.expect("the user exists");
        view(tx, row)
    })
}

/// `user show`: yourself, or anyone if you are a system administrator.
pub fn show(conn: &Connection, actor: &Actor, name: &str) -> Result<UserView> {
    if actor.name() != Some(name) {
        require_level(actor, Level::SystemAdministrator, || {
            format!("showing user {name}")
        })?;
    }
    view(conn, find(conn, name)?)
}

/// `user list`: system administrators only.
pub fn list(conn: &Connection, actor: &Actor) -> Result<Vec<UserView>> {
    require_level(actor, Level::SystemAdministrator, || "listing users".into())?;
    store::users::list(conn)?
        .into_iter()
        .map(|row| view(conn, row))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_lowest_first() {
        assert!(Level::Public < Level::User);
        assert!(Level::BackendUser < Level::SystemAdministrator);
        assert!(Level::SystemAdministrator < Level::Root);
        for level in Level::ALL {
            assert_eq!(Level::parse(level.as_str()), Some(level));
        }
    }

    #[test]
    fn public_cannot_be_stored() {
        assert!(Level::parse_storable("public").is_err());
        assert!(Level::parse_storable("admin").is_err());
        assert_eq!(Level::parse_storable("user").unwrap(), Level::User);
    }

    #[test]
    fn password_hashes_verify_and_are_salted() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(password_matches("correct horse", &a));
        assert!(!password_matches("correct horsf", &a));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn names_are_validated() {
        for good in ["alice", "a.b-c_d", "bob@example.org", "X1"] {
            validate_name(good).unwrap();
        }
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
