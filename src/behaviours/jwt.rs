//! The `json-web-token` behaviour: issues an HS256 token, signed with the asset's secret, whose
//! claims are the asset's payload template rendered for the requesting user.

use std::collections::BTreeMap;

use crate::error::Result;

/// RFC 7518 §3.2: an HS256 key should be at least as long as the hash output.
pub const MIN_SECRET_BYTES: usize = 32;
/// Expiries beyond this are unwise for tokens handed to third parties.
pub const MAX_ADVISED_EXPIRY: u64 = 15 * 60;

/// Warnings for a JWT asset's configuration.
pub fn check_config(attributes: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
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
    Ok(warnings)
}

/// Issues a token to the requester. FIXME: signing lands with the JWT engine branch.
pub(super) fn token(
    _conn: &rusqlite::Connection,
    _req: &super::Requester<'_>,
    _asset: &crate::store::assets::AssetRow,
    _attributes: &BTreeMap<String, String>,
    _now: i64,
) -> Result<super::Outcome> {
    Ok(super::Outcome::ConfigError {
        behaviour: crate::types::Behaviour::JsonWebToken,
        reason: "the signer is not built yet".into(),
    })
}
