//! The `json-web-token` behaviour: issues an HS256 token, signed with the asset's secret, whose
//! claims are the asset's payload template rendered for the requesting user.

use std::collections::BTreeMap;

use super::Outcome;
use crate::error::{Error, Result};
use crate::jwt::{self, claims::ClaimsTemplate};
use crate::keywords::{self, Lookup};
use crate::types::Behaviour;

/// RFC 7518 §3.2: an HS256 key should be at least as long as the hash output.
pub const MIN_SECRET_BYTES: usize = 32;
/// Expiries beyond this are unwise for tokens handed to third parties.
pub const MAX_ADVISED_EXPIRY: u64 = 15 * 60;

/// Checks a JWT asset's configuration: a payload that can never make claims is an error; a
/// short secret, no expiry, a long expiry and unknown keywords or modifiers are warnings.
pub fn check_config(attributes: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let payload = attributes.get("payload").map_or("", String::as_str);
    let template = ClaimsTemplate::compile(payload)
        .map_err(|e| Error::invalid(format!("attribute payload: {e}: fix the payload template")))?;
    let secret = attributes.get("secret").map_or("", String::as_str);
    if secret.len() < MIN_SECRET_BYTES {
        warnings.push(format!(
            "the secret is {} bytes long: RFC 7518 section 3.2 asks for at least {MIN_SECRET_BYTES} \
             bytes for HS256",
            secret.len()
        ));
    }
    match attributes.get("expiry").map(String::as_str) {
        None | Some("") => warnings.push(
            "no expiry is set, so tokens never expire: set expiry (for example 15m)".to_owned(),
        ),
        Some(seconds) => {
            if seconds.parse::<u64>().is_ok_and(|s| s > MAX_ADVISED_EXPIRY) {
                warnings.push(format!(
                    "the expiry is {seconds} seconds, over the advised 15 minutes: a value \
                     between 5 and 15 minutes is recommended"
                ));
            }
        }
    }
    for name in template.keywords() {
        if !keywords::is_known_keyword(name) {
            warnings.push(format!(
                "unknown keyword %{name}% in the payload: it will be left as written"
            ));
        }
    }
    for problem in template.problems() {
        warnings.push(format!("payload: {problem}"));
    }
    warnings.dedup();
    Ok(warnings)
}

fn config_error(reason: String) -> Outcome {
    Outcome::ConfigError {
        behaviour: Behaviour::JsonWebToken,
        reason,
    }
}

/// A JWT asset's configuration, read once from its attributes when its target is loaded and
/// kept with it, so that requests neither parse the expiry nor compile the payload again.
#[derive(Debug, Clone)]
pub struct Config {
    secret: String,
    template: std::result::Result<ClaimsTemplate, String>,
    expiry: std::result::Result<Option<u64>, String>,
}

impl Config {
    pub fn from_attributes(attributes: &BTreeMap<String, String>) -> Config {
        let payload = attributes.get("payload").map_or("", String::as_str);
        Config {
            secret: attributes.get("secret").cloned().unwrap_or_default(),
            template: ClaimsTemplate::compile(payload).map_err(|e| e.to_string()),
            expiry: match attributes.get("expiry").map(String::as_str) {
                None | Some("") => Ok(None),
                Some(s) => s
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| format!("expiry {s:?} is not seconds")),
            },
        }
    }
}

/// Issues a token to the requester. The caller has checked that the requester is logged in
/// and may read the asset.
pub(super) fn token(asset: i64, config: &Config, values: &dyn Lookup, now: i64) -> Outcome {
    if config.secret.is_empty() {
        return config_error(format!("asset {asset} has no secret"));
    }
    let template = match &config.template {
        Ok(t) => t,
        Err(e) => return config_error(format!("asset {asset}: {e}")),
    };
    let expiry = match &config.expiry {
        Ok(expiry) => *expiry,
        Err(e) => return config_error(format!("asset {asset}: {e}")),
    };
    match jwt::issue_from_template(template, values, config.secret.as_bytes(), now, expiry) {
        Ok(token) => Outcome::Token(token),
        Err(e) => config_error(format!("asset {asset}: {e}")),
    }
}
