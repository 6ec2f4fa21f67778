//! The package manifest, `package.toml`: its TOML format, its validation, and the declarative
//! migrations it carries.
//!
//! This module owns everything that can be checked about a package without an instance: names,
//! versions, type and attribute schemas, behaviour bindings, defaults and migration steps. What
//! needs an instance (is the package already installed, are its dependencies present) belongs to
//! the installer, which calls [`Manifest::check_host`] and reads [`Manifest::dependencies`].
//!
//! The format is described for authors in `docs/packages.md`; keep the two in step.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::types::{AssetType, AttrKind, AttributeDef, Behaviour};

/// The file name of the manifest at the root of every package, used as the prefix of every
/// validation message so the author knows which file to open.
pub const MANIFEST_FILE: &str = "package.toml";

/// The longest package name, type code or attribute name accepted. Names end up in paths, URLs
/// and database keys, so a bound keeps them readable everywhere.
pub const MAX_NAME_LEN: usize = 64;

/// Type codes the host defines itself; a package may not redefine them.
pub const CORE_TYPE_CODES: [&str; 2] = ["folder", "page"];

/// A validated package manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub version: Version,
    pub description: String,
    /// The host versions this package works with, matched against the crate version.
    pub host: VersionReq,
    /// Other packages this one needs, sorted by name.
    pub dependencies: Vec<Dependency>,
    /// The asset types the package adds, in manifest order.
    pub types: Vec<AssetType>,
    /// Upgrade migrations in ascending version order.
    pub migrations: Vec<Migration>,
}

/// Another package that must be installed, at a matching version, before this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    pub requirement: VersionReq,
}

/// Declarative steps that bring the attributes of one type's assets from the previous package
/// version up to `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The package version that introduced the change. The migration applies to assets whose
    /// stored type version is lower than this.
    pub version: Version,
    /// The type whose assets the steps rewrite.
    pub type_code: String,
    pub steps: Vec<MigrationStep>,
}

/// One change to an asset's attribute map. Packages never bring code, so these three steps are
/// the whole migration language; each is harmless to apply to an asset it does not concern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MigrationStep {
    /// Moves the value of `from` to `to`. If `from` is absent nothing happens; if both exist,
    /// `from` wins, because the old name holds the value the user actually set.
    Rename { from: String, to: String },
    /// Sets `attribute` to `value` when the asset has no value for it. An existing value, even
    /// an empty one, is the user's choice and is kept.
    SetDefault {
        attribute: String,
        #[serde(deserialize_with = "scalar_as_string")]
        value: String,
    },
    /// Drops `attribute` and its value.
    Remove { attribute: String },
}

/// Why a manifest was refused. Messages start with `package.toml:`, name the field path and say
/// how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The text is not TOML, has an unknown field, or a value of the wrong TOML type. The
    /// message carries the line and column.
    #[error("{MANIFEST_FILE}: {message}")]
    Syntax { message: String },
    /// A field breaks one of the rules; `field` is its path, e.g. `types[0].attributes[2].kind`.
    #[error("{MANIFEST_FILE}: {field}: {message}")]
    Invalid { field: String, message: String },
    /// The package does not support this host version. Boxed to keep the error small, since
    /// every `Result` in the package system carries it.
    #[error(
        "package {} {} needs host version {}, this host is {}: use a package version made for this host",
        .0.package, .0.version, .0.requirement, .0.host
    )]
    HostMismatch(Box<HostMismatch>),
}

/// The details of [`ManifestError::HostMismatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMismatch {
    pub package: String,
    pub version: Version,
    pub requirement: VersionReq,
    pub host: Version,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Manifest {
    /// Parses and validates a manifest. Every rule that can be checked without an instance is
    /// checked here, so a manifest that parses can be installed on any host it names.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
        raw.validate()
    }

    /// Renders the manifest as TOML that [`Manifest::parse`] reads back to an equal value. The
    /// installer stores this form so the database never depends on the archive staying around.
    pub fn to_toml(&self) -> String {
        let raw = RawManifest::from(self);
        toml::to_string(&raw)
            .expect("a manifest always serialises: all its values are strings, booleans and tables")
    }

    /// Refuses a host version outside the package's `host` requirement.
    pub fn check_host(&self, host: &Version) -> Result<(), ManifestError> {
        if self.host.matches(host) {
            Ok(())
        } else {
            Err(ManifestError::HostMismatch(Box::new(HostMismatch {
                package: self.name.clone(),
                version: self.version.clone(),
                requirement: self.host.clone(),
                host: host.clone(),
            })))
        }
    }

    /// The migrations that apply to an asset of `type_code` whose type was stored at package
    /// version `from`, when upgrading to `self.version`, in the order they must run.
    pub fn migrations_for(&self, type_code: &str, from: &Version) -> Vec<&Migration> {
        self.migrations
            .iter()
            .filter(|m| m.type_code == type_code && m.version > *from && m.version <= self.version)
            .collect()
    }

    /// The type with this code, if the package defines it.
    pub fn asset_type(&self, code: &str) -> Option<&AssetType> {
        self.types.iter().find(|t| t.code == code)
    }
}

impl Migration {
    /// Applies the steps in order to one asset's attributes.
    pub fn apply(&self, attributes: &mut BTreeMap<String, String>) {
        for step in &self.steps {
            step.apply(attributes);
        }
    }
}

impl MigrationStep {
    /// Applies this one step; see the variants for the exact rules.
    pub fn apply(&self, attributes: &mut BTreeMap<String, String>) {
        match self {
            MigrationStep::Rename { from, to } => {
                if let Some(value) = attributes.remove(from) {
                    attributes.insert(to.clone(), value);
                }
            }
            MigrationStep::SetDefault { attribute, value } => {
                attributes
                    .entry(attribute.clone())
                    .or_insert_with(|| value.clone());
            }
            MigrationStep::Remove { attribute } => {
                attributes.remove(attribute);
            }
        }
    }
}

impl fmt::Display for MigrationStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrationStep::Rename { from, to } => write!(f, "rename {from} to {to}"),
            MigrationStep::SetDefault { attribute, value } => {
                write!(f, "set {attribute} to {value:?} where unset")
            }
            MigrationStep::Remove { attribute } => write!(f, "remove {attribute}"),
        }
    }
}

/// Turns a toml error into one line with its position, since the CLI prints exactly one line per
/// failure and the crate's own rendering spans several.
fn syntax_error(text: &str, error: &toml::de::Error) -> ManifestError {
    let message = error.message().trim().replace('\n', " ");
    let message = match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    };
    ManifestError::Syntax { message }
}

/// Accepts a TOML string, integer or boolean and keeps it as text, because every attribute value
/// is stored as text but authors naturally write `default = 900` or `default = true`.
fn scalar_as_string<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Integer(i64),
        Boolean(bool),
    }
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(s) => s,
        Scalar::Integer(i) => i.to_string(),
        Scalar::Boolean(b) => b.to_string(),
    })
}

fn optional_scalar_as_string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    scalar_as_string(deserializer).map(Some)
}

// The raw structs mirror the TOML exactly. Versions, kinds and behaviours are read as plain
// strings so that validation, not serde, reports them, with the field path and the fix.

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    package: RawPackage,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    dependencies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    types: Vec<RawType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    migrations: Vec<RawMigration>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackage {
    name: String,
    version: String,
    description: String,
    host: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    code: String,
    name: String,
    category: String,
    #[serde(default)]
    admin_only: bool,
    behaviour: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<RawAttribute>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    name: String,
    kind: String,
    #[serde(default)]
    required: bool,
    #[serde(
        default,
        deserialize_with = "optional_scalar_as_string",
        skip_serializing_if = "Option::is_none"
    )]
    default: Option<String>,
    #[serde(default)]
    secret: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    help: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMigration {
    version: String,
    #[serde(rename = "type")]
    type_code: String,
    steps: Vec<MigrationStep>,
}

impl From<&Manifest> for RawManifest {
    fn from(m: &Manifest) -> Self {
        RawManifest {
            package: RawPackage {
                name: m.name.clone(),
                version: m.version.to_string(),
                description: m.description.clone(),
                host: m.host.to_string(),
            },
            dependencies: m
                .dependencies
                .iter()
                .map(|d| (d.name.clone(), d.requirement.to_string()))
                .collect(),
            types: m
                .types
                .iter()
                .map(|t| RawType {
                    code: t.code.clone(),
                    name: t.name.clone(),
                    category: t.category.clone(),
                    admin_only: t.admin_only,
                    behaviour: t.behaviour.name().to_string(),
                    attributes: t
                        .attributes
                        .iter()
                        .map(|a| RawAttribute {
                            name: a.name.clone(),
                            kind: kind_name(a.kind).to_string(),
                            required: a.required,
                            default: a.default.clone(),
                            secret: a.secret,
                            help: a.help.clone(),
                        })
                        .collect(),
                })
                .collect(),
            migrations: m
                .migrations
                .iter()
                .map(|mig| RawMigration {
                    version: mig.version.to_string(),
                    type_code: mig.type_code.clone(),
                    steps: mig.steps.clone(),
                })
                .collect(),
        }
    }
}

/// The manifest spelling of an attribute kind.
pub fn kind_name(kind: AttrKind) -> &'static str {
    match kind {
        AttrKind::Text => "text",
        AttrKind::Integer => "integer",
        AttrKind::Boolean => "boolean",
        AttrKind::Duration => "duration",
    }
}

fn kind_from_name(name: &str) -> Option<AttrKind> {
    [
        AttrKind::Text,
        AttrKind::Integer,
        AttrKind::Boolean,
        AttrKind::Duration,
    ]
    .into_iter()
    .find(|k| kind_name(*k) == name)
}

/// Whether `value` is a valid stored value for an attribute of `kind`, in its canonical form
/// (`true`/`false`, whole seconds). Manifest defaults must already be canonical; the asset
/// commands accept friendlier spellings (`yes`, `15m`) and normalise them in
/// `assets::apply_attributes`, whose output always passes this check.
pub fn value_fits_kind(kind: AttrKind, value: &str) -> bool {
    match kind {
        AttrKind::Text => true,
        AttrKind::Integer => value.parse::<i64>().is_ok(),
        AttrKind::Boolean => value == "true" || value == "false",
        AttrKind::Duration => value.is_empty() || value.parse::<u64>().is_ok(),
    }
}

fn kind_rule(kind: AttrKind) -> &'static str {
    match kind {
        AttrKind::Text => "any text",
        AttrKind::Integer => "a whole number such as 42",
        AttrKind::Boolean => "true or false",
        AttrKind::Duration => "a number of seconds such as 900, or empty for none",
    }
}

/// Checks a package name: `[a-z][a-z0-9-]*`, at most [`MAX_NAME_LEN`] characters.
pub fn check_package_name(name: &str) -> Result<(), String> {
    check_identifier(name, '-', "[a-z][a-z0-9-]*")
}

/// Checks a type code or attribute name: `[a-z][a-z0-9_]*`, at most [`MAX_NAME_LEN`] characters.
pub fn check_code(code: &str) -> Result<(), String> {
    check_identifier(code, '_', "[a-z][a-z0-9_]*")
}

fn check_identifier(value: &str, separator: char, pattern: &str) -> Result<(), String> {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == separator);
    if !first_ok || !rest_ok {
        return Err(format!(
            "{value:?} is not a valid name: use lowercase letters, digits and '{separator}', starting with a letter ({pattern})"
        ));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(format!(
            "{value:?} is {} characters long: use at most {MAX_NAME_LEN}",
            value.len()
        ));
    }
    Ok(())
}

fn check_label(field: &str, value: &str) -> Result<(), ManifestError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty: give a short label"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "contains a control character or line break: use one line of plain text",
        ));
    }
    Ok(())
}

fn parse_version(field: &str, value: &str) -> Result<Version, ManifestError> {
    Version::parse(value).map_err(|e| {
        invalid(
            field,
            format!("{value:?} is not a semantic version ({e}): write it like \"1.0.2\""),
        )
    })
}

fn parse_requirement(field: &str, value: &str) -> Result<VersionReq, ManifestError> {
    VersionReq::parse(value).map_err(|e| {
        invalid(
            field,
            format!(
                "{value:?} is not a version requirement ({e}): write it like \">=0.1.0, <0.2.0\" or \"^1.2\""
            ),
        )
    })
}

impl RawManifest {
    fn validate(self) -> Result<Manifest, ManifestError> {
        let p = &self.package;
        check_package_name(&p.name).map_err(|m| invalid("package.name", m))?;
        let version = parse_version("package.version", &p.version)?;
        if p.description.trim().is_empty() {
            return Err(invalid(
                "package.description",
                "must not be empty: say in a sentence what the package adds",
            ));
        }
        let host = parse_requirement("package.host", &p.host)?;

        let mut dependencies = Vec::new();
        for (name, requirement) in &self.dependencies {
            let field = format!("dependencies.{name}");
            check_package_name(name).map_err(|m| invalid(&field, m))?;
            if *name == p.name {
                return Err(invalid(
                    &field,
                    "a package cannot depend on itself: remove this line",
                ));
            }
            dependencies.push(Dependency {
                name: name.clone(),
                requirement: parse_requirement(&field, requirement)?,
            });
        }

        let mut types = Vec::new();
        let mut codes = BTreeSet::new();
        for (i, raw) in self.types.into_iter().enumerate() {
            let ty = raw.validate(&format!("types[{i}]"))?;
            if !codes.insert(ty.code.clone()) {
                return Err(invalid(
                    format!("types[{i}].code"),
                    format!(
                        "type {:?} is defined twice: give each type its own code",
                        ty.code
                    ),
                ));
            }
            types.push(ty);
        }

        let mut migrations: Vec<Migration> = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, raw) in self.migrations.into_iter().enumerate() {
            let field = format!("migrations[{i}]");
            let mig_version = parse_version(&format!("{field}.version"), &raw.version)?;
            if mig_version > version {
                return Err(invalid(
                    format!("{field}.version"),
                    format!(
                        "{mig_version} is newer than the package version {version}: a migration belongs to the version that introduced it"
                    ),
                ));
            }
            if let Some(previous) = migrations.last()
                && mig_version < previous.version
            {
                return Err(invalid(
                    format!("{field}.version"),
                    format!(
                        "{mig_version} comes after {}: list migrations in ascending version order",
                        previous.version
                    ),
                ));
            }
            if !codes.contains(&raw.type_code) {
                return Err(invalid(
                    format!("{field}.type"),
                    format!(
                        "{:?} is not a type of this package: use one of {}",
                        raw.type_code,
                        quoted_list(codes.iter().map(String::as_str))
                    ),
                ));
            }
            if !seen.insert((mig_version.clone(), raw.type_code.clone())) {
                return Err(invalid(
                    format!("{field}.version"),
                    format!(
                        "a second migration for type {:?} at {mig_version}: merge their steps into one migration",
                        raw.type_code
                    ),
                ));
            }
            if raw.steps.is_empty() {
                return Err(invalid(
                    format!("{field}.steps"),
                    "is empty: list at least one step or remove the migration",
                ));
            }
            for (j, step) in raw.steps.iter().enumerate() {
                validate_step(&format!("{field}.steps[{j}]"), step)?;
            }
            migrations.push(Migration {
                version: mig_version,
                type_code: raw.type_code,
                steps: raw.steps,
            });
        }

        Ok(Manifest {
            name: self.package.name,
            version,
            description: self.package.description,
            host,
            dependencies,
            types,
            migrations,
        })
    }
}

fn validate_step(field: &str, step: &MigrationStep) -> Result<(), ManifestError> {
    match step {
        MigrationStep::Rename { from, to } => {
            check_code(from).map_err(|m| invalid(format!("{field}.rename.from"), m))?;
            check_code(to).map_err(|m| invalid(format!("{field}.rename.to"), m))?;
            if from == to {
                return Err(invalid(
                    format!("{field}.rename"),
                    "renames an attribute to itself: remove the step",
                ));
            }
        }
        MigrationStep::SetDefault { attribute, .. } => {
            check_code(attribute)
                .map_err(|m| invalid(format!("{field}.set_default.attribute"), m))?;
        }
        MigrationStep::Remove { attribute } => {
            check_code(attribute).map_err(|m| invalid(format!("{field}.remove.attribute"), m))?;
        }
    }
    Ok(())
}

fn quoted_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(|s| format!("{s:?}")).collect();
    match items.len() {
        0 => "(none defined)".to_string(),
        1 => items[0].clone(),
        n => format!("{} or {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

impl RawType {
    fn validate(self, field: &str) -> Result<AssetType, ManifestError> {
        check_code(&self.code).map_err(|m| invalid(format!("{field}.code"), m))?;
        if CORE_TYPE_CODES.contains(&self.code.as_str()) {
            return Err(invalid(
                format!("{field}.code"),
                format!(
                    "{:?} is a core type of the host: choose another code",
                    self.code
                ),
            ));
        }
        check_label(&format!("{field}.name"), &self.name)?;
        check_label(&format!("{field}.category"), &self.category)?;
        let behaviour = Behaviour::from_name(&self.behaviour).ok_or_else(|| {
            invalid(
                format!("{field}.behaviour"),
                format!(
                    "unknown behaviour {:?}: use {}",
                    self.behaviour,
                    quoted_list(Behaviour::ALL.iter().map(|b| b.name()))
                ),
            )
        })?;

        let mut attributes: Vec<AttributeDef> = Vec::new();
        for (i, raw) in self.attributes.into_iter().enumerate() {
            let afield = format!("{field}.attributes[{i}]");
            check_code(&raw.name).map_err(|m| invalid(format!("{afield}.name"), m))?;
            if attributes.iter().any(|a| a.name == raw.name) {
                return Err(invalid(
                    format!("{afield}.name"),
                    format!(
                        "attribute {:?} is declared twice: declare each attribute once",
                        raw.name
                    ),
                ));
            }
            let kind = kind_from_name(&raw.kind).ok_or_else(|| {
                invalid(
                    format!("{afield}.kind"),
                    format!(
                        "unknown kind {:?}: use text, integer, boolean or duration",
                        raw.kind
                    ),
                )
            })?;
            if let Some(default) = &raw.default {
                if !value_fits_kind(kind, default) {
                    return Err(invalid(
                        format!("{afield}.default"),
                        format!(
                            "{default:?} is not a valid {} value: use {}",
                            kind_name(kind),
                            kind_rule(kind)
                        ),
                    ));
                }
                if raw.required && raw.secret {
                    return Err(invalid(
                        format!("{afield}.default"),
                        "a required secret cannot have a default, or every asset would share it: remove the default",
                    ));
                }
            }
            attributes.push(AttributeDef {
                name: raw.name,
                kind,
                required: raw.required,
                default: raw.default,
                secret: raw.secret,
                help: raw.help,
            });
        }

        for (needed, kind) in behaviour.required_attributes() {
            match attributes.iter().position(|a| a.name == *needed) {
                None => {
                    return Err(invalid(
                        format!("{field}.attributes"),
                        format!(
                            "behaviour {:?} reads attribute {needed:?} of kind {}: declare it",
                            behaviour.name(),
                            kind_name(*kind)
                        ),
                    ));
                }
                Some(i) if attributes[i].kind != *kind => {
                    return Err(invalid(
                        format!("{field}.attributes[{i}].kind"),
                        format!(
                            "behaviour {:?} reads {needed:?} as {}: set kind = \"{}\"",
                            behaviour.name(),
                            kind_name(*kind),
                            kind_name(*kind)
                        ),
                    ));
                }
                Some(_) => {}
            }
        }

        Ok(AssetType {
            code: self.code,
            name: self.name,
            category: self.category,
            admin_only: self.admin_only,
            behaviour,
            attributes,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The shape of the first real package, so the tests exercise what authors will write.
    pub(crate) const JWT: &str = r#"
[package]
name = "json-web-token"
version = "1.1.0"
description = "Issues HS256 JSON Web Tokens to logged-in users"
host = ">=0.1.0, <0.2.0"

[dependencies]
base-tools = "^1.2"

[[types]]
code = "json_web_token"
name = "JSON Web Token"
category = "Connectors"
admin_only = true
behaviour = "json-web-token"

[[types.attributes]]
name = "secret"
kind = "text"
required = true
secret = true
help = "The HMAC key"

[[types.attributes]]
name = "payload"
kind = "text"
default = "{}"

[[types.attributes]]
name = "expiry"
kind = "duration"
default = 900

[[migrations]]
version = "1.0.1"
type = "json_web_token"
steps = [{ set_default = { attribute = "payload", value = "{}" } }]

[[migrations]]
version = "1.1.0"
type = "json_web_token"
steps = [
  { rename = { from = "lifetime", to = "expiry" } },
  { remove = { attribute = "old" } },
]
"#;

    fn err(text: &str) -> String {
        Manifest::parse(text).unwrap_err().to_string()
    }

    /// Replaces one line of the example, so each refusal test changes exactly one thing.
    fn with(from: &str, to: &str) -> String {
        assert!(JWT.contains(from), "test fixture lacks {from:?}");
        JWT.replacen(from, to, 1)
    }

    #[test]
    fn parses_the_example() {
        let m = Manifest::parse(JWT).unwrap();
        assert_eq!(m.name, "json-web-token");
        assert_eq!(m.version, Version::new(1, 1, 0));
        assert_eq!(m.dependencies[0].name, "base-tools");
        let t = &m.types[0];
        assert_eq!(t.behaviour, Behaviour::JsonWebToken);
        assert!(t.admin_only);
        assert_eq!(t.attributes[2].kind, AttrKind::Duration);
        assert_eq!(t.attributes[2].default.as_deref(), Some("900"));
        assert_eq!(m.migrations.len(), 2);
    }

    #[test]
    fn to_toml_round_trips() {
        let m = Manifest::parse(JWT).unwrap();
        let again = Manifest::parse(&m.to_toml()).unwrap();
        assert_eq!(m, again);
    }

    #[test]
    fn unknown_field_is_named_with_position() {
        let e = err(&with(
            "admin_only = true",
            "admin_only = true\ncolour = \"red\"",
        ));
        assert!(e.starts_with("package.toml: line "), "{e}");
        assert!(e.contains("colour"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn toml_syntax_error_has_line_and_column() {
        let e = err("[package]\nname = \n");
        assert!(e.contains("line 2, column"), "{e}");
    }

    #[test]
    fn unknown_kind_names_the_field_and_the_choices() {
        let e = err(&with("kind = \"duration\"", "kind = \"strnig\""));
        assert_eq!(
            e,
            "package.toml: types[0].attributes[2].kind: unknown kind \"strnig\": use text, integer, boolean or duration"
        );
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(
            err(&with("name = \"json-web-token\"", "name = \"Json\"")).contains("package.name")
        );
        let long = format!("name = \"{}\"", "a".repeat(65));
        assert!(err(&with("name = \"json-web-token\"", &long)).contains("at most 64"));
        assert!(
            err(&with(
                "code = \"json_web_token\"",
                "code = \"json-web-token\""
            ))
            .contains("types[0].code")
        );
        assert!(
            err(&with("name = \"payload\"", "name = \"Pay load\""))
                .contains("types[0].attributes[1].name")
        );
    }

    #[test]
    fn core_type_codes_are_refused() {
        let text = with("code = \"json_web_token\"", "code = \"page\"");
        assert!(err(&text).contains("core type"));
    }

    #[test]
    fn duplicate_types_and_attributes_are_refused() {
        let e = err(&with("name = \"payload\"", "name = \"secret\""));
        assert!(
            e.contains("types[0].attributes[1].name") && e.contains("twice"),
            "{e}"
        );

        let second = "\n[[types]]\ncode = \"json_web_token\"\nname = \"x\"\ncategory = \"x\"\nbehaviour = \"folder\"\n";
        let text = format!("{}{second}", JWT.split("[[migrations]]").next().unwrap());
        let e = err(&text);
        assert!(e.contains("types[1].code") && e.contains("twice"), "{e}");
    }

    #[test]
    fn unknown_behaviour_lists_the_known_ones() {
        let e = err(&with(
            "behaviour = \"json-web-token\"",
            "behaviour = \"oauth\"",
        ));
        assert!(e.contains("types[0].behaviour"), "{e}");
        assert!(
            e.contains("\"folder\", \"page\" or \"json-web-token\""),
            "{e}"
        );
    }

    #[test]
    fn behaviour_attributes_must_be_declared_with_their_kind() {
        let e = err(&with("name = \"expiry\"", "name = \"lifetime\""));
        assert!(
            e.contains("types[0].attributes:") && e.contains("\"expiry\""),
            "{e}"
        );
        let e = err(&with("kind = \"duration\"", "kind = \"integer\""));
        assert!(
            e.contains("types[0].attributes[2].kind") && e.contains("duration"),
            "{e}"
        );
    }

    #[test]
    fn defaults_must_fit_their_kind() {
        let e = err(&with("default = 900", "default = \"15 minutes\""));
        assert!(e.contains("types[0].attributes[2].default"), "{e}");
        assert!(Manifest::parse(&with("default = 900", "default = \"\"")).is_ok());
        assert!(value_fits_kind(AttrKind::Boolean, "true"));
        assert!(!value_fits_kind(AttrKind::Boolean, "yes"));
        assert!(value_fits_kind(AttrKind::Integer, "-3"));
        assert!(!value_fits_kind(AttrKind::Integer, "3.5"));
        assert!(!value_fits_kind(AttrKind::Duration, "-1"));
    }

    #[test]
    fn required_secret_has_no_default() {
        let e = err(&with("secret = true", "secret = true\ndefault = \"abc\""));
        assert!(
            e.contains("types[0].attributes[0].default") && e.contains("secret"),
            "{e}"
        );
    }

    #[test]
    fn migration_rules() {
        let e = err(&with(
            "version = \"1.1.0\"\ntype",
            "version = \"2.0.0\"\ntype",
        ));
        assert!(
            e.contains("migrations[1].version") && e.contains("newer"),
            "{e}"
        );
        let e = err(
            &with("version = \"1.0.1\"\ntype", "version = \"1.1.0\"\ntype").replacen(
                "version = \"1.1.0\"\ntype = \"json_web_token\"\nsteps = [\n",
                "version = \"1.0.0\"\ntype = \"json_web_token\"\nsteps = [\n",
                1,
            ),
        );
        assert!(
            e.contains("migrations[1].version") && e.contains("ascending"),
            "{e}"
        );
        let e = err(&with("type = \"json_web_token\"", "type = \"jwt\""));
        assert!(
            e.contains("migrations[0].type") && e.contains("\"json_web_token\""),
            "{e}"
        );
        let e = err(&with("from = \"lifetime\"", "from = \"expiry\""));
        assert!(e.contains("migrations[1].steps[0].rename"), "{e}");
        let e = err(&with(
            "{ remove = { attribute = \"old\" } }",
            "{ drop = { attribute = \"old\" } }",
        ));
        assert!(e.contains("drop"), "{e}");
        let e = err(&with(
            "version = \"1.1.0\"\ntype",
            "version = \"1.0.1\"\ntype",
        ));
        assert!(e.contains("merge"), "{e}");
    }

    #[test]
    fn dependency_rules() {
        let e = err(&with("base-tools = \"^1.2\"", "json-web-token = \"^1\""));
        assert!(
            e.contains("dependencies.json-web-token") && e.contains("itself"),
            "{e}"
        );
        let e = err(&with("base-tools = \"^1.2\"", "base-tools = \"one\""));
        assert!(
            e.contains("dependencies.base-tools") && e.contains("requirement"),
            "{e}"
        );
        let e = err(&with("base-tools = \"^1.2\"", "Base = \"^1\""));
        assert!(e.contains("dependencies.Base"), "{e}");
    }

    #[test]
    fn versions_and_host_are_checked() {
        let e = err(&with(
            "version = \"1.1.0\"\ndesc",
            "version = \"1.1\"\ndesc",
        ));
        assert!(e.contains("package.version"), "{e}");
        let e = err(&with(">=0.1.0, <0.2.0", "latest"));
        assert!(e.contains("package.host"), "{e}");
        let m = Manifest::parse(JWT).unwrap();
        assert!(m.check_host(&Version::new(0, 1, 0)).is_ok());
        let e = m.check_host(&Version::new(0, 2, 0)).unwrap_err();
        assert!(matches!(e, ManifestError::HostMismatch(_)));
        assert!(e.to_string().contains("this host is 0.2.0"), "{e}");
    }

    #[test]
    fn migrations_for_selects_newer_ones_in_order() {
        let m = Manifest::parse(JWT).unwrap();
        let versions = |from: Version| -> Vec<String> {
            m.migrations_for("json_web_token", &from)
                .iter()
                .map(|m| m.version.to_string())
                .collect()
        };
        assert_eq!(versions(Version::new(1, 0, 0)), ["1.0.1", "1.1.0"]);
        assert_eq!(versions(Version::new(1, 0, 1)), ["1.1.0"]);
        assert!(versions(Version::new(1, 1, 0)).is_empty());
        assert!(m.migrations_for("other", &Version::new(0, 0, 1)).is_empty());
    }

    #[test]
    fn migration_steps_apply_in_order() {
        let m = Manifest::parse(JWT).unwrap();
        let mut attrs: BTreeMap<String, String> = [
            ("secret", "k"),
            ("lifetime", "60"),
            ("old", "x"),
            ("expiry", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for mig in m.migrations_for("json_web_token", &Version::new(1, 0, 0)) {
            mig.apply(&mut attrs);
        }
        let expected: BTreeMap<String, String> =
            [("secret", "k"), ("expiry", "60"), ("payload", "{}")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(attrs, expected);

        // An existing value, even empty, survives set_default.
        let mut attrs = BTreeMap::from([("payload".to_string(), String::new())]);
        m.migrations[0].apply(&mut attrs);
        assert_eq!(attrs["payload"], "");
    }

    #[test]
    fn the_documented_example_parses() {
        // docs/packages.md promises its example is a valid manifest; hold it to that.
        let doc = include_str!("../../docs/packages.md");
        let example = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/packages.md has a toml example");
        let m = Manifest::parse(example).unwrap();
        assert_eq!(m.types[0].behaviour, Behaviour::JsonWebToken);
        assert_eq!(m.migrations[0].steps.len(), 3);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever the description and help texts hold, storing and re-reading a manifest
            /// gives back the same manifest.
            #[test]
            fn to_toml_round_trips_any_text(description in "[^\\p{Cc}]{1,40}", help in "\\PC{0,40}") {
                prop_assume!(!description.trim().is_empty());
                let mut m = Manifest::parse(JWT).unwrap();
                m.description = description;
                m.types[0].attributes[1].help = help;
                prop_assert_eq!(Manifest::parse(&m.to_toml()).unwrap(), m);
            }
        }
    }
}
