//! Asset type definitions: the schema every asset type follows, whether it is one of the core
//! types (`folder`, `page`) or comes from an installed package.
//!
//! A type binds to a host [`Behaviour`]: the code in this crate that gives assets of the type
//! their meaning (how they render on the web, what they need). Packages cannot bring code; they
//! can only name a behaviour the host already has and declare the attributes it reads.

use serde::{Deserialize, Serialize};

/// The schema of one asset type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetType {
    /// The type code users type, e.g. `json_web_token`.
    pub code: String,
    /// The display name, e.g. `JSON Web Token`.
    pub name: String,
    /// The category the type is listed under, e.g. `Connectors`.
    pub category: String,
    /// Whether only `backend-user` accounts and above may create assets of this type.
    pub admin_only: bool,
    /// The host behaviour the type binds to.
    pub behaviour: Behaviour,
    /// The attributes, in the order they are shown.
    pub attributes: Vec<AttributeDef>,
}

/// One attribute of an asset type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDef {
    pub name: String,
    pub kind: AttrKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    /// A secret is stored but never printed back in full, nor logged.
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub help: String,
}

/// What values an attribute takes. Every value is stored as text; the kind says which texts
/// are valid and how the command line may spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttrKind {
    /// Any text, including several lines.
    Text,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A number of seconds, or empty for none. The command line also accepts `15m`, `1h`.
    Duration,
}

/// The host behaviours a type can bind to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// A container; on the web it lists its live children.
    Folder,
    /// Renders its `content` attribute with keyword replacement.
    Page,
    /// Issues an HS256 JSON Web Token to the requesting user.
    JsonWebToken,
}

impl Behaviour {
    pub const ALL: [Behaviour; 3] = [Behaviour::Folder, Behaviour::Page, Behaviour::JsonWebToken];

    /// The name used in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Folder => "folder",
            Behaviour::Page => "page",
            Behaviour::JsonWebToken => "json-web-token",
        }
    }

    pub fn from_name(name: &str) -> Option<Behaviour> {
        Behaviour::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The attributes this behaviour reads; a type bound to it must declare each with this kind.
    pub fn required_attributes(self) -> &'static [(&'static str, AttrKind)] {
        match self {
            Behaviour::Folder => &[],
            Behaviour::Page => &[("content", AttrKind::Text)],
            Behaviour::JsonWebToken => &[
                ("secret", AttrKind::Text),
                ("payload", AttrKind::Text),
                ("expiry", AttrKind::Duration),
            ],
        }
    }
}
