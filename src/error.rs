//! The library's error type. Callers tell the cases apart to choose an exit status or an HTTP
//! status; every message is lowercase, names the thing that is wrong and, where there is one,
//! says what to do.

use std::fmt;

use crate::users::Level;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The acting user lacks the right to do this.
    #[error("permission denied: {action} needs {needed}{who}")]
    PermissionDenied {
        action: String,
        needed: Needed,
        who: ActingAs,
    },
    /// The acting user could not be authenticated.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The input is not acceptable; the message says why and what to do.
    #[error("{0}")]
    Invalid(String),
    /// The request clashes with the instance's state (a duplicate, a dependency).
    #[error("{0}")]
    Conflict(String),
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Error {
        Error::Conflict(message.into())
    }
}

/// What a refused action needed: an account level, or a permission on an asset.
#[derive(Debug, Clone)]
pub enum Needed {
    Level(Level),
    Permission(crate::perms::Perm),
}

impl fmt::Display for Needed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Needed::Level(level) => write!(f, "account level {level} or above"),
            Needed::Permission(perm) => write!(f, "{perm} permission"),
        }
    }
}

/// Who was refused, so the message can say how to act as someone else.
#[derive(Debug, Clone)]
pub struct ActingAs(pub Option<String>);

impl fmt::Display for ActingAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(name) => write!(f, " (acting as {name})"),
            None => write!(f, " (acting as the public user: pass --as NAME)"),
        }
    }
}
