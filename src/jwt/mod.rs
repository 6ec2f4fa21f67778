//! JSON Web Tokens: the claims template (payload rendering that keyword values cannot
//! restructure) and the HS256 signer, decoder and verifier. Pure: no I/O.
//!
//! Only HS256 exists here (SPEC §7): the signer always writes the header
//! `{"alg":"HS256","typ":"JWT"}`, and the verifier refuses every other `alg`, `none` included, so
//! a token cannot choose how it is checked. The current time is always a parameter, which keeps
//! this module free of clocks and its tests free of sleeps.
//!
//! The host compiles an asset's payload once ([`ClaimsTemplate::compile`], caching the result)
//! and per request calls [`issue_from_template`], which renders and signs in one pass. The
//! two-step form, [`ClaimsTemplate::render`] then [`issue`], gives the same token byte for byte
//! and suits callers that want to look at the claims first.

pub mod claims;

pub use claims::{ClaimsError, ClaimsTemplate};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// The base64url encoding of the fixed header `{"alg":"HS256","typ":"JWT"}`, so signing never
/// serialises or encodes it again.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Why a token was refused. Each case is one thing a caller may want to report differently.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum JwtError {
    /// The token is not a well-formed compact JWS with JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names an algorithm other than HS256.
    #[error("unsupported algorithm {0:?}: only HS256 tokens are accepted")]
    UnsupportedAlgorithm(String),
    /// The signature does not match the secret.
    #[error("bad signature: the token was changed or signed with another secret")]
    BadSignature,
    /// The `exp` claim is not after `now`.
    #[error("token expired at {} ({} seconds ago): request a new token", describe_time(*.exp), .now - .exp)]
    Expired { exp: i64, now: i64 },
    /// The `nbf` claim is after `now`.
    #[error("token not valid before {} ({} seconds from now)", describe_time(*.nbf), .nbf - .now)]
    NotYetValid { nbf: i64, now: i64 },
}

/// Formats a Unix time as RFC 3339 for messages, falling back to the number itself.
fn describe_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or_else(
            || format!("unix time {unix}"),
            |t| format!("{t} (unix time {unix})"),
        )
}

/// Signs `claims` as an HS256 JWT: header `{"alg":"HS256","typ":"JWT"}`, base64url without
/// padding, HMAC-SHA256 keyed with `secret`'s bytes.
pub fn sign_hs256(claims: &Map<String, Value>, secret: &[u8]) -> String {
    // Serialising a map of JSON values cannot fail: all keys are strings. The capacity fits
    // typical payloads, so the buffer rarely grows.
    let mut payload = Vec::with_capacity(256);
    let _ = serde_json::to_writer(&mut payload, claims);
    sign_payload(&payload, secret)
}

/// Renders `template` and issues its token in one pass, without building a claims map: the
/// per-request path for the host. The token is byte for byte the one
/// `issue(template.render(values)?, secret, now, expiry)` gives, and fails in the same cases.
pub fn issue_from_template(
    template: &ClaimsTemplate,
    values: &dyn crate::keywords::Lookup,
    secret: &[u8],
    now: i64,
    expiry: Option<u64>,
) -> Result<String, ClaimsError> {
    let mut payload = Vec::with_capacity(256);
    template.write_claims_json(values, now, expiry, &mut payload)?;
    Ok(sign_payload(&payload, secret))
}

/// Signs the JSON bytes of a payload under the fixed header.
fn sign_payload(payload: &[u8], secret: &[u8]) -> String {
    // The token is built as bytes in one buffer sized up front, then checked as UTF-8 once;
    // base64url output is ASCII, so that check cannot fail.
    let payload_len = base64::encoded_len(payload.len(), false).unwrap_or(0);
    let signature_len = 43; // base64url of 32 bytes without padding
    let mut token = Vec::with_capacity(HEADER_B64.len() + payload_len + signature_len + 2);
    token.extend_from_slice(HEADER_B64.as_bytes());
    token.push(b'.');
    let start = token.len();
    token.resize(start + payload_len, 0);
    let written = URL_SAFE_NO_PAD
        .encode_slice(payload, &mut token[start..])
        .unwrap_or(0);
    token.truncate(start + written);
    let mut mac = new_mac(secret);
    mac.update(&token);
    let signature = mac.finalize().into_bytes();
    token.push(b'.');
    let start = token.len();
    token.resize(start + signature_len, 0);
    let written = URL_SAFE_NO_PAD
        .encode_slice(signature, &mut token[start..])
        .unwrap_or(0);
    token.truncate(start + written);
    String::from_utf8(token).unwrap_or_default()
}

fn new_mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (long ones are hashed first), so this cannot fail.
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// Issues a token: `claims` plus `iat` = `now`, plus `exp` = `now + expiry` when an expiry is
/// set. `iat` always replaces a template `iat`; `exp` replaces a template `exp` only when an
/// expiry is set (SPEC §7: the expiry wins), otherwise the template's `exp` is kept. A replaced
/// claim keeps its place in the key order.
pub fn issue(
    mut claims: Map<String, Value>,
    secret: &[u8],
    now: i64,
    expiry: Option<u64>,
) -> String {
    claims.insert("iat".to_owned(), Value::from(now));
    if let Some(expiry) = expiry {
        let expiry = i64::try_from(expiry).unwrap_or(i64::MAX);
        claims.insert("exp".to_owned(), Value::from(now.saturating_add(expiry)));
    }
    sign_hs256(&claims, secret)
}

/// A token taken apart, as a JWT debugger shows it. Decoding checks nothing about trust.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The header, always a JSON object.
    pub header: Value,
    /// The claims, always a JSON object.
    pub claims: Value,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
    /// The signed part of the token (`header.payload`), kept for verification.
    signing_input: String,
}

impl Decoded {
    /// The bytes the signature covers: the first two parts of the token and the dot between.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// The `alg` header parameter, if it is a string.
    pub fn algorithm(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
}

/// Takes a compact JWS apart without a secret, like a JWT debugger.
pub fn decode(token: &str) -> Result<Decoded, JwtError> {
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(JwtError::Malformed(
                "this looks like an encrypted token (JWE, five parts); only signed tokens \
                 (three parts) can be read"
                    .to_owned(),
            ));
        }
        n => {
            return Err(JwtError::Malformed(format!(
                "expected three dot-separated parts (header.payload.signature), found {n}"
            )));
        }
    }
    let header = decode_json_part(parts[0], "header")?;
    let claims = decode_json_part(parts[1], "payload")?;
    let signature = decode_part(parts[2], "signature")?;
    let signing_input_len = parts[0].len() + 1 + parts[1].len();
    Ok(Decoded {
        header,
        claims,
        signature,
        signing_input: token[..signing_input_len].to_owned(),
    })
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|e| {
        JwtError::Malformed(format!("the {what} is not base64url without padding ({e})"))
    })
}

fn decode_json_part(part: &str, what: &str) -> Result<Value, JwtError> {
    let bytes = decode_part(part, what)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(JwtError::Malformed(format!(
            "the {what} is JSON but not an object"
        ))),
        Err(e) => Err(JwtError::Malformed(format!(
            "the {what} is not valid JSON ({e})"
        ))),
    }
}

/// Verifies an HS256 token: the algorithm, the signature (in constant time), then `exp` and
/// `nbf` against `now`. Returns the decoded token when all hold.
pub fn verify_hs256(token: &str, secret: &[u8], now: i64) -> Result<Decoded, JwtError> {
    let decoded = decode(token)?;
    match decoded.header.get("alg") {
        Some(Value::String(alg)) if alg == "HS256" => {}
        Some(Value::String(alg)) => return Err(JwtError::UnsupportedAlgorithm(alg.clone())),
        Some(_) => {
            return Err(JwtError::Malformed(
                "the header's \"alg\" is not a string".to_owned(),
            ));
        }
        None => {
            return Err(JwtError::Malformed("the header has no \"alg\"".to_owned()));
        }
    }
    // RFC 7515 §4.1.11: a recipient must refuse critical extensions it does not understand, and
    // this verifier understands none.
    if decoded.header.get("crit").is_some() {
        return Err(JwtError::Malformed(
            "the header has \"crit\" extensions, which this verifier does not support".to_owned(),
        ));
    }
    let mut mac = new_mac(secret);
    mac.update(decoded.signing_input.as_bytes());
    // `verify_slice` compares in constant time, so timing reveals nothing about the signature.
    mac.verify_slice(&decoded.signature)
        .map_err(|_| JwtError::BadSignature)?;
    // RFC 7519 §4.1.4: the token must be used *before* `exp`, so `now == exp` is expired.
    if let Some(exp) = numeric_date(&decoded.claims, "exp")?
        && now >= exp
    {
        return Err(JwtError::Expired { exp, now });
    }
    if let Some(nbf) = numeric_date(&decoded.claims, "nbf")?
        && now < nbf
    {
        return Err(JwtError::NotYetValid { nbf, now });
    }
    Ok(decoded)
}

/// Reads a NumericDate claim (RFC 7519 §2), which may have a fraction; it is rounded towards
/// the safe side for the check (down for `exp`, up for `nbf`).
fn numeric_date(claims: &Value, name: &str) -> Result<Option<i64>, JwtError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    if let Some(n) = value.as_i64() {
        return Ok(Some(n));
    }
    match value.as_f64() {
        Some(f) if f.is_finite() => {
            let rounded = if name == "exp" { f.floor() } else { f.ceil() };
            // Casting saturates for numbers beyond the i64 range, which is the right direction.
            Ok(Some(rounded as i64))
        }
        _ => Err(JwtError::Malformed(format!(
            "the {name:?} claim is not a number of seconds since 1970"
        ))),
    }
}

#[cfg(test)]
mod tests;
