//! Tests of the HS256 signer, decoder and verifier: the RFC 7515 example, interoperability with
//! the independent `jsonwebtoken` crate, and the refusals.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::*;

const SECRET: &[u8] = b"a-test-secret-that-is-32-bytes!!";

fn claims(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// RFC 7515 appendix A.1: the signing input, with its CRLF line breaks, and the JWK key `k`.
mod rfc7515_a1 {
    pub const HEADER: &str = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
    pub const PAYLOAD: &str =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    pub const SIGNING_INPUT: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    pub const KEY_K: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    pub const SIGNATURE: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
}

#[test]
fn rfc7515_a1_signing_input_and_signature() {
    use rfc7515_a1::*;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(PAYLOAD)
    );
    assert_eq!(input, SIGNING_INPUT);
    let key = URL_SAFE_NO_PAD.decode(KEY_K).unwrap();
    let mut mac = new_mac(&key);
    mac.update(input.as_bytes());
    assert_eq!(
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
        SIGNATURE
    );
}

#[test]
fn rfc7515_a1_token_verifies_before_its_expiry_only() {
    use rfc7515_a1::*;
    let key = URL_SAFE_NO_PAD.decode(KEY_K).unwrap();
    let token = format!("{SIGNING_INPUT}.{SIGNATURE}");
    let decoded = verify_hs256(&token, &key, 1_300_819_379).unwrap();
    assert_eq!(decoded.claims["iss"], json!("joe"));
    assert_eq!(decoded.header["typ"], json!("JWT"));
    assert_eq!(decoded.signing_input(), SIGNING_INPUT);
    assert_eq!(
        verify_hs256(&token, &key, 1_300_819_380),
        Err(JwtError::Expired {
            exp: 1_300_819_380,
            now: 1_300_819_380
        })
    );
}

#[test]
fn header_is_exactly_the_fixed_one() {
    assert_eq!(
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        HEADER_B64
    );
    let token = sign_hs256(&claims(json!({"a": 1})), SECRET);
    assert!(token.starts_with(&format!("{HEADER_B64}.")));
    assert!(!token.contains('='));
    assert_eq!(token.split('.').count(), 3);
}

#[test]
fn issue_adds_iat_and_exp_overriding_the_template() {
    let token = issue(
        claims(json!({"sub": "x", "iat": 1, "exp": 2})),
        SECRET,
        1_000,
        Some(900),
    );
    let decoded = verify_hs256(&token, SECRET, 1_000).unwrap();
    assert_eq!(
        decoded.claims,
        json!({"sub": "x", "iat": 1_000, "exp": 1_900})
    );
    let token = issue(claims(json!({"sub": "x"})), SECRET, 1_000, None);
    let decoded = verify_hs256(&token, SECRET, 1_000_000).unwrap();
    assert_eq!(decoded.claims, json!({"sub": "x", "iat": 1_000}));
}

#[test]
fn issue_keeps_a_template_exp_when_no_expiry_is_set() {
    let token = issue(claims(json!({"exp": 5_000})), SECRET, 1_000, None);
    assert_eq!(decode(&token).unwrap().claims["exp"], json!(5_000));
}

#[test]
fn issued_tokens_verify_with_jsonwebtoken() {
    let template = ClaimsTemplate::compile(
        r#""sub": "%globals_user_attribute_username^json_encode%",
           "given_name": "%globals_user_attribute_first_name^json_encode%",
           "admin": %asset_has_write_access^eq:1:true:false%"#,
    )
    .unwrap();
    let values: HashMap<String, String> = [
        ("globals_user_attribute_username", "jsmith"),
        ("globals_user_attribute_first_name", "Zoë \"Z\" \\ 日本"),
        ("asset_has_write_access", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let rendered = template.render(&values).unwrap();
    let now = wall_clock();
    let expiry = 900;
    let token = issue(rendered.clone(), SECRET, now, Some(expiry));

    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iat"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET),
        &validation,
    )
    .unwrap();
    assert_eq!(data.header.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    let exp = data.claims["exp"].as_i64().unwrap();
    let iat = data.claims["iat"].as_i64().unwrap();
    assert_eq!(iat, now);
    assert_eq!(exp - iat, expiry as i64);
    let mut expected = rendered;
    expected.insert("iat".into(), json!(now));
    expected.insert("exp".into(), json!(now + expiry as i64));
    assert_eq!(data.claims, expected);

    // A wrong secret fails there too.
    assert!(
        jsonwebtoken::decode::<Map<String, Value>>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"another secret"),
            &validation,
        )
        .is_err()
    );
}

#[test]
fn jsonwebtoken_tokens_verify_here() {
    let now = wall_clock();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "ann", "exp": now + 60}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let decoded = verify_hs256(&token, SECRET, now).unwrap();
    assert_eq!(decoded.claims["sub"], json!("ann"));
    assert_eq!(decoded.algorithm(), Some("HS256"));
}

#[test]
fn jsonwebtoken_hs384_is_refused() {
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &json!({"sub": "ann"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(
        verify_hs256(&token, SECRET, 0),
        Err(JwtError::UnsupportedAlgorithm("HS384".into()))
    );
}

#[test]
fn wrong_secret_is_a_bad_signature() {
    let token = issue(claims(json!({"sub": "x"})), SECRET, 0, None);
    assert_eq!(
        verify_hs256(&token, b"not the secret", 0),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn tampered_tokens_are_refused() {
    let token = issue(claims(json!({"sub": "x", "admin": false})), SECRET, 0, None);
    let parts: Vec<&str> = token.split('.').collect();

    // A changed payload, properly encoded.
    let forged_payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"x","admin":true,"iat":0}"#);
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        verify_hs256(&forged, SECRET, 0),
        Err(JwtError::BadSignature)
    );

    // One flipped bit in the signature.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[0] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&signature)
    );
    assert_eq!(
        verify_hs256(&flipped, SECRET, 0),
        Err(JwtError::BadSignature)
    );

    // A truncated signature (eight characters, so it is still valid base64url).
    let short = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..8]);
    assert_eq!(verify_hs256(&short, SECRET, 0), Err(JwtError::BadSignature));

    // No signature at all.
    let bare = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(verify_hs256(&bare, SECRET, 0), Err(JwtError::BadSignature));

    // The untouched token still verifies, so the refusals above are about the changes.
    assert!(verify_hs256(&token, SECRET, 0).is_ok());
}

#[test]
fn alg_none_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"x","admin":true}"#);
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.c2ln"),
    ] {
        assert_eq!(
            verify_hs256(&token, SECRET, 0),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
    }
    // The refusal message says what is accepted.
    assert_eq!(
        JwtError::UnsupportedAlgorithm("none".into()).to_string(),
        "unsupported algorithm \"none\": only HS256 tokens are accepted"
    );
}

#[test]
fn missing_or_odd_alg_and_crit_are_refused() {
    let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#);
    for header in [
        r#"{"typ":"JWT"}"#,
        r#"{"alg":256}"#,
        r#"{"alg":"HS256","crit":["exp"]}"#,
    ] {
        let token = format!("{}.{payload}.AAAA", URL_SAFE_NO_PAD.encode(header));
        assert!(
            matches!(verify_hs256(&token, SECRET, 0), Err(JwtError::Malformed(_))),
            "{header}"
        );
    }
    let token = format!(
        "{}.{payload}.AAAA",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"hs256"}"#)
    );
    assert_eq!(
        verify_hs256(&token, SECRET, 0),
        Err(JwtError::UnsupportedAlgorithm("hs256".into()))
    );
}

#[test]
fn expired_tokens_are_refused_with_the_time() {
    let token = issue(claims(json!({})), SECRET, 1_700_000_000, Some(900));
    assert!(verify_hs256(&token, SECRET, 1_700_000_899).is_ok());
    let err = verify_hs256(&token, SECRET, 1_700_000_960).unwrap_err();
    assert_eq!(
        err,
        JwtError::Expired {
            exp: 1_700_000_900,
            now: 1_700_000_960
        }
    );
    assert_eq!(
        err.to_string(),
        "token expired at 2023-11-14T22:28:20Z (unix time 1700000900) (60 seconds ago): \
         request a new token"
    );
}

#[test]
fn nbf_is_checked_when_present() {
    let token = sign_hs256(&claims(json!({"nbf": 2_000})), SECRET);
    assert_eq!(
        verify_hs256(&token, SECRET, 1_999),
        Err(JwtError::NotYetValid {
            nbf: 2_000,
            now: 1_999
        })
    );
    assert!(verify_hs256(&token, SECRET, 2_000).is_ok());
    let fractional = sign_hs256(&claims(json!({"nbf": 1_999.5, "exp": 2_001.5})), SECRET);
    assert!(verify_hs256(&fractional, SECRET, 1_999).is_err());
    assert!(verify_hs256(&fractional, SECRET, 2_000).is_ok());
    assert!(verify_hs256(&fractional, SECRET, 2_001).is_err());
}

#[test]
fn non_numeric_exp_is_malformed() {
    let token = sign_hs256(&claims(json!({"exp": "tomorrow"})), SECRET);
    assert!(matches!(
        verify_hs256(&token, SECRET, 0),
        Err(JwtError::Malformed(m)) if m.contains("\"exp\"")
    ));
}

#[test]
fn decode_needs_no_secret() {
    let token = issue(claims(json!({"sub": "x"})), SECRET, 42, Some(60));
    let decoded = decode(&token).unwrap();
    assert_eq!(decoded.header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(decoded.claims, json!({"sub": "x", "iat": 42, "exp": 102}));
    assert_eq!(decoded.signature.len(), 32);
    // Surrounding whitespace, as from a copy and paste, is forgiven.
    assert_eq!(decode(&format!("  {token}\n")).unwrap(), decoded);
}

#[test]
fn decode_explains_malformed_tokens() {
    let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
    let cases = [
        ("", "expected three dot-separated parts"),
        ("abc", "found 1"),
        ("a.b", "found 2"),
        ("a.b.c.d.e", "encrypted token"),
        ("!!!.e30.", "the header is not base64url"),
        (&format!("{h}.e30=.")[..], "the payload is not base64url"),
        (
            &format!("{h}.bm90IGpzb24.")[..],
            "the payload is not valid JSON",
        ),
        (
            &format!("{h}.WzFd.")[..],
            "the payload is JSON but not an object",
        ),
        (
            &format!("{h}.e30.***")[..],
            "the signature is not base64url",
        ),
    ];
    for (token, expected) in cases {
        match decode(token) {
            Err(JwtError::Malformed(message)) => {
                assert!(message.contains(expected), "{token:?}: {message}")
            }
            other => panic!("{token:?}: expected malformed, got {other:?}"),
        }
    }
}

/// The two ways of issuing a token from a template, which must agree byte for byte.
fn both_paths(
    template: &str,
    values: &HashMap<String, String>,
    expiry: Option<u64>,
) -> (Result<String, ClaimsError>, Result<String, ClaimsError>) {
    let compiled = ClaimsTemplate::compile(template).unwrap();
    let two_step = compiled
        .render(values)
        .map(|claims| issue(claims, SECRET, 1_000, expiry));
    let fused = issue_from_template(&compiled, values, SECRET, 1_000, expiry);
    (two_step, fused)
}

fn string_map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn fused_issue_matches_render_then_issue() {
    let values = string_map(&[("a", "Zoë \"Z\" \\ \u{1} 日本"), ("n", "1.50"), ("w", "1")]);
    let templates = [
        r#""sub": "%a^json_encode%", "admin": %w^eq:1:true:false%"#,
        r#"{"iat": 5, "x": {"y": [%n%, "%a^json_encode%", null, 1e2, "\u00e9"]}, "exp": 7, "z": {}}"#,
        r#""exp": 7"#,
        r#""iat": "%a^json_encode%", "k": "plain %w% text""#,
        "",
    ];
    for template in templates {
        for expiry in [None, Some(60)] {
            let (two_step, fused) = both_paths(template, &values, expiry);
            let two_step = two_step.unwrap();
            assert_eq!(fused.unwrap(), two_step, "{template} {expiry:?}");
            // A template `exp` of 7 is long past, so check the signature at time 0.
            verify_hs256(&two_step, SECRET, 0).unwrap();
        }
    }
    // Escapes serde_json writes differently must not be copied as they are.
    for raw in [
        r"\/",
        r"\u00e9",
        r"\u001F",
        r"\u000a",
        r"\u0041",
        r"\u001f\n\t\\",
    ] {
        let values = string_map(&[("a", raw)]);
        let (two_step, fused) = both_paths(r#""t": "<%a%>""#, &values, None);
        assert_eq!(fused.unwrap(), two_step.unwrap(), "{raw}");
    }
    // iat and exp replace template values in place, in both paths.
    let (token, _) = both_paths(r#""iat": 5, "x": 1, "exp": 7"#, &values, Some(60));
    let claims = decode(&token.unwrap()).unwrap().claims;
    let order: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(order, ["iat", "x", "exp"]);
    assert_eq!(claims, json!({"iat": 1_000, "x": 1, "exp": 1_060}));
}

#[test]
fn fused_issue_fails_like_render() {
    let values = string_map(&[("a", r#"", "admin": true, "x": ""#), ("w", "{}")]);
    for template in [r#""a": "%a%""#, r#""w": %w%"#, r#""iat": %w%"#] {
        let (two_step, fused) = both_paths(template, &values, Some(60));
        assert!(two_step.is_err(), "{template}");
        assert_eq!(fused, two_step, "{template}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Over arbitrary values the fused path and render-then-issue give the same token or the
    /// same error.
    #[test]
    fn fused_issue_agrees_with_two_step(
        a in proptest::prelude::any::<String>(),
        n in "[-+0-9.eE \"a-z{}\\[\\],]{0,12}",
    ) {
        let values = string_map(&[("a", &a), ("n", &n)]);
        for template in [
            r#""s": "%a^json_encode%", "t": "%a%", "n": %n%"#,
            r#"{"o": {"l": ["x%a%y", %n%]}, "iat": "%a^json_encode%"}"#,
        ] {
            let (two_step, fused) = both_paths(template, &values, Some(60));
            proptest::prop_assert_eq!(fused, two_step);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Strings whose holes all end in `json_encode` between canonical text skip the canonical
    /// check; mixed with other holes or with escapes serde_json writes differently they do not.
    /// Either way the fused path gives the two-step path's token or error.
    #[test]
    fn fused_string_holes_agree_with_two_step(
        a in proptest::prelude::any::<String>(),
        b in "[a-z\"\\\\\\n\u{1}é]{0,8}",
    ) {
        let values = string_map(&[("a", &a), ("b", &b)]);
        for template in [
            r#""s": "<%a^json_encode%|%b^json_encode%>""#,
            r#""s": "\t%a^trim^json_encode%\"%b^json_encode%""#,
            r#""s": "\/%a^json_encode%\u00e9""#,
            r#""s": "%a^json_encode%%b%""#,
            r#""s": "%b^json_encode^maxchars:3%", "t": "%c^json_encode%""#,
        ] {
            let (two_step, fused) = both_paths(template, &values, Some(60));
            proptest::prop_assert_eq!(fused, two_step, "{}", template);
        }
    }
}
