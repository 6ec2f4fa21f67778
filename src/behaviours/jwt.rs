//! The `json-web-token` behaviour: issues an HS256 token, signed with the asset's secret, whose
//! claims are the asset's payload template rendered for the requesting user.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use super::{Outcome, Target};
use crate::error::{Error, Result};
use crate::jwt::{self, claims::ClaimsTemplate};
use crate::keywords;
use crate::types::Behaviour;

/// RFC 7518 §3.2: an HS256 key should be at least as long as the hash output.
pub const MIN_SECRET_BYTES: usize = 32;
/// Expiries beyond this are unwise for tokens handed to third parties.
pub const MAX_ADVISED_EXPIRY: u64 = 15 * 60;

/// Compiles a payload template, reusing the compiled form of a payload seen before: the same
/// text always compiles to the same template, and compiling on every request would cost more
/// than signing.
fn compiled(payload: &str) -> std::result::Result<Arc<ClaimsTemplate>, jwt::claims::ClaimsError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<ClaimsTemplate>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(t) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(payload) {
        return Ok(Arc::clone(t));
    }
    let template = Arc::new(ClaimsTemplate::compile(payload)?);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    // Payloads change rarely; a bound keeps a long-running server's memory flat regardless.
    if cache.len() >= 1024 {
        cache.clear();
    }
    cache.insert(payload.to_owned(), Arc::clone(&template));
    Ok(template)
}

/// Checks a JWT asset's configuration: a payload that can never make claims is an error; a
/// short secret, no expiry, a long expiry and unknown keywords or modifiers are warnings.
pub fn check_config(attributes: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let payload = attributes.get("payload").map_or("", String::as_str);
    let template = compiled(payload)
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

/// Issues a token to the requester. The caller has checked that the requester is logged in
/// and may read the asset.
pub(super) fn token(target: &Target, values: &BTreeMap<String, String>, now: i64) -> Outcome {
    let (asset, attributes) = (&target.asset, &target.attributes);
    let secret = attributes.get("secret").map_or("", String::as_str);
    if secret.is_empty() {
        return config_error(format!("asset {} has no secret", asset.id));
    }
    let payload = attributes.get("payload").map_or("", String::as_str);
    let template = match compiled(payload) {
        Ok(t) => t,
        Err(e) => return config_error(format!("asset {}: {e}", asset.id)),
    };
    let expiry = match attributes.get("expiry").map(String::as_str) {
        None | Some("") => None,
        Some(s) => match s.parse::<u64>() {
            Ok(seconds) => Some(seconds),
            Err(_) => {
                return config_error(format!("asset {}: expiry {s:?} is not seconds", asset.id));
            }
        },
    };
    match jwt::issue_from_template(&template, values, secret.as_bytes(), now, expiry) {
        Ok(token) => Outcome::Token(token),
        Err(e) => config_error(format!("asset {}: {e}", asset.id)),
    }
}
