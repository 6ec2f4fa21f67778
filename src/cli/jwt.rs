//! The `jwt` commands and `asset preview`.

use std::fs;

use anyhow::{Context, bail};
use base64::Engine;

use super::Globals;
use super::args::JwtCmd;
use super::output;
use crate::assets;
use crate::behaviours::{self, Outcome, Requester};
use crate::instance::Instance;
use crate::jwt;
use crate::perms::{self, Perm};
use crate::store;
use crate::types::Behaviour;
use crate::users::{Actor, Level};

pub fn run(ctx: &Globals, cmd: JwtCmd) -> anyhow::Result<()> {
    match cmd {
        JwtCmd::Decode { token } => {
            let decoded = jwt::decode(token.trim())?;
            print_decoded(ctx, &decoded, None)
        }
        JwtCmd::Verify {
            token,
            secret_file,
            asset,
        } => {
            let secret = match (secret_file, asset) {
                (Some(file), _) => {
                    super::strip_final_newline(fs::read_to_string(&file).with_context(|| {
                        format!("cannot read the secret from {}", file.display())
                    })?)
                    .into_bytes()
                }
                (None, Some(asset)) => asset_secret(ctx, &asset)?,
                (None, None) => unreachable!("clap requires --secret-file or --asset"),
            };
            let decoded = jwt::verify_hs256(token.trim(), &secret, store::now())?;
            print_decoded(
                ctx,
                &decoded,
                Some("valid: the signature matches and the token has not expired"),
            )
        }
    }
}

/// The secret of a JSON Web Token asset, for a user who may read the asset.
fn asset_secret(ctx: &Globals, asset: &str) -> anyhow::Result<Vec<u8>> {
    let instance = ctx.open()?;
    let actor = ctx.actor(&instance)?;
    let conn = instance.store.conn();
    let row = assets::resolve(conn, asset)?;
    perms::require(conn, &actor, row.id, Perm::Read, || {
        format!("verifying with asset {}", row.id)
    })?;
    let ty = assets::find_type(conn, &row.type_code)?;
    if ty.map(|t| t.definition.behaviour) != Some(Behaviour::JsonWebToken) {
        bail!(
            "asset {} is a {}, not a JSON Web Token asset: pass a JWT asset or --secret-file",
            row.id,
            row.type_code
        );
    }
    let secret = store::assets::attributes(conn, row.id)?
        .remove("secret")
        .unwrap_or_default();
    if secret.is_empty() {
        bail!(
            "asset {} has no secret: set one with tessera asset set {} --attr secret=@FILE",
            row.id,
            row.id
        );
    }
    Ok(secret.into_bytes())
}

fn print_decoded(
    ctx: &Globals,
    decoded: &jwt::Decoded,
    verdict: Option<&str>,
) -> anyhow::Result<()> {
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&decoded.signature);
    let mut value = serde_json::json!({
        "header": decoded.header,
        "claims": decoded.claims,
        "signature": signature,
    });
    if verdict.is_some() {
        value["valid"] = serde_json::Value::Bool(true);
    }
    ctx.print(&value, |_| {
        let mut s = format!(
            "header:\n{}\nclaims:\n{}\n",
            serde_json::to_string_pretty(&decoded.header).unwrap_or_default(),
            serde_json::to_string_pretty(&decoded.claims).unwrap_or_default()
        );
        for claim in ["iat", "nbf", "exp"] {
            if let Some(t) = decoded
                .claims
                .get(claim)
                .and_then(serde_json::Value::as_i64)
            {
                s.push_str(&format!("{claim}: {}\n", output::time(t)));
            }
        }
        s.push_str(&format!("signature: {signature}\n"));
        if let Some(v) = verdict {
            s.push_str(v);
            s.push('\n');
        }
        s
    })
}

/// `asset preview`: what the front end gives a user (the acting user, or `--for` another).
pub fn preview(
    instance: &Instance,
    actor: Actor,
    asset: &str,
    for_user: Option<&str>,
) -> anyhow::Result<()> {
    let conn = instance.store.conn();
    let subject = match for_user {
        Some(name) if actor.name() != Some(name) => {
            // A preview for someone else is a token in their name: only system administrators
            // may mint those.
            perms::require_level(&actor, Level::SystemAdministrator, || {
                format!("previewing asset {asset} for user {name}")
            })?;
            let user = store::users::by_name(conn, name)?
                .with_context(|| format!("no user named {name:?}: see tessera user list"))?;
            Actor::user(user)
        }
        _ => actor,
    };
    let row = assets::resolve(conn, asset)?;
    let who = subject.name().unwrap_or("the public user").to_owned();
    let outcome = if assets::locate(conn, &row)?.in_trash {
        Outcome::NotFound
    } else {
        let requester = Requester {
            actor: &subject,
            base_url: "",
        };
        behaviours::serve(conn, &requester, &row, store::now())?
    };
    match outcome {
        Outcome::Token(token) | Outcome::Html(token) => {
            println!("{}", token.trim_end());
            Ok(())
        }
        Outcome::NotFound => bail!(
            "asset {} is not served (it is in the trash): restore it first",
            row.id
        ),
        Outcome::Forbidden { reason, .. } => bail!("{who} would get 403 forbidden: {reason}"),
        Outcome::ConfigError { reason, .. } => {
            bail!("{who} would get 500: the asset cannot make a token: {reason}")
        }
    }
}
