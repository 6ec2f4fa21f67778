//! `tessera quickstart`: makes a ready instance (or reuses one) with the bundled JSON Web Token
//! package, a `demo` user, a `/demo` folder all users can read and a live token at `/demo/token`.
//!
//! Quickstart acts as root without asking for root's password: it is run by whoever owns the
//! instance directory, who can change the database directly anyway.

use std::path::Path;

use base64::Engine;
use rand::RngCore;

use crate::assets::{self, GrantRequest, GrantTarget, LinkType, NewAssetRequest, Status};
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::packages::{archive, ops};
use crate::perms::Perm;
use crate::store;
use crate::users::{self, Actor, Level};

/// The JSON Web Token package's source, carried in the binary so quickstart needs no source tree.
pub const JWT_PACKAGE_FILES: [(&str, &str); 2] = [
    (
        "package.toml",
        include_str!("../package/json-web-token/package.toml"),
    ),
    (
        "README.md",
        include_str!("../package/json-web-token/README.md"),
    ),
];

/// The payload of the original extension's documentation.
pub const SEED_PAYLOAD: &str = r#""sub": "%globals_user_attribute_username^json_encode%",
"given_name": "%globals_user_attribute_first_name^json_encode%",
"family_name": "%globals_user_attribute_last_name^json_encode%",
"admin": %asset_has_write_access^eq:1:true:false%"#;

/// Builds the bundled JSON Web Token package; the bytes equal `package build` of the source.
pub fn bundled_jwt_package() -> Result<Vec<u8>> {
    let dir =
        tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary directory", e))?;
    for (name, text) in JWT_PACKAGE_FILES {
        std::fs::write(dir.path().join(name), text)
            .map_err(|e| Error::io("cannot write the bundled package", e))?;
    }
    archive::build(dir.path()).map_err(|e| Error::invalid(e.to_string()))
}

/// What quickstart made or found, and the secrets it made (shown once).
#[derive(Debug)]
pub struct Summary {
    /// The root password, when this run created the instance.
    pub root_password: Option<String>,
    /// The demo user's password, when this run created the user.
    pub demo_password: Option<String>,
    pub notes: Vec<String>,
}

fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Makes everything quickstart needs, reusing what is there.
pub fn prepare(dir: &Path) -> Result<Summary> {
    let mut summary = Summary {
        root_password: None,
        demo_password: None,
        notes: Vec::new(),
    };
    let mut instance = if Instance::exists(dir) {
        summary
            .notes
            .push(format!("reusing the instance in {}", dir.display()));
        Instance::open(dir)?
    } else {
        let password = random_secret(15);
        let instance = Instance::init(dir, &password)?;
        summary.root_password = Some(password);
        summary
            .notes
            .push(format!("created a new instance in {}", dir.display()));
        instance
    };
    let root = store::users::list(instance.store.conn())?
        .into_iter()
        .find(|u| u.level == Level::Root)
        .ok_or_else(|| Error::invalid("the instance has no root user: run tessera check"))?;
    let root = Actor::user(root);

    if store::packages::get(instance.store.conn(), "json-web-token")?.is_none() {
        let bytes = bundled_jwt_package()?;
        let file = tempfile::NamedTempFile::new()
            .map_err(|e| Error::io("cannot write a temporary file", e))?;
        std::fs::write(file.path(), &bytes)
            .map_err(|e| Error::io("cannot write a temporary file", e))?;
        ops::install(&mut instance, &root, file.path(), None, false)?;
        summary
            .notes
            .push("installed the JSON Web Token package 1.0.1".into());
    }

    if store::users::by_name(instance.store.conn(), "demo")?.is_none() {
        let password = random_secret(12);
        users::add(
            &mut instance.store,
            &root,
            "demo",
            Level::User,
            &[
                ("first_name".into(), "Demo".into()),
                ("last_name".into(), "User".into()),
                ("email".into(), "demo@example.org".into()),
            ],
            &password,
        )?;
        summary.demo_password = Some(password);
        summary.notes.push("created the user demo".into());
    }

    if assets::resolve_path(instance.store.conn(), "/demo")?.is_none() {
        assets::create(
            &mut instance.store,
            &root,
            &NewAssetRequest {
                type_code: "folder".into(),
                parent: "/".into(),
                name: "Demo".into(),
                segment: Some("demo".into()),
                link_type: Some(LinkType::Menu),
                status: Some(Status::Live),
                attributes: vec![],
            },
        )?;
        assets::grant(
            &mut instance.store,
            &root,
            "/demo",
            &GrantRequest {
                target: GrantTarget::AllUsers,
                perm: Perm::Read,
                deny: false,
                cascade: true,
                revoke: false,
            },
        )?;
        summary
            .notes
            .push("created the folder /demo, readable by all users".into());
    }

    if assets::resolve_path(instance.store.conn(), "/demo/token")?.is_none() {
        assets::create(
            &mut instance.store,
            &root,
            &NewAssetRequest {
                type_code: "json_web_token".into(),
                parent: "/demo".into(),
                name: "Demo token".into(),
                segment: Some("token".into()),
                link_type: Some(LinkType::Menu),
                status: Some(Status::Live),
                attributes: vec![
                    ("secret".into(), random_secret(32)),
                    ("payload".into(), SEED_PAYLOAD.into()),
                    ("expiry".into(), "15m".into()),
                ],
            },
        )?;
        summary
            .notes
            .push("created the live JSON Web Token asset /demo/token".into());
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_package_equals_a_build_of_its_source() {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("package/json-web-token");
        let built = archive::build(&source).unwrap();
        assert_eq!(bundled_jwt_package().unwrap(), built);
        let package = archive::read(&built, &archive::Limits::default()).unwrap();
        assert_eq!(package.manifest.name, "json-web-token");
        assert_eq!(package.manifest.version.to_string(), "1.0.1");
    }
}
