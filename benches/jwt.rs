//! Benchmarks the token path the host runs per request against its floor: rendering the seed's
//! payload and issuing a token (template compiled once, as the host caches it) side by side with
//! a bare HMAC-SHA256 of the same signing input. The target is a ratio of at most 3.
//!
//! `render_and_issue` is the two-step API (`ClaimsTemplate::render` then `jwt::issue`);
//! `render_and_issue_fused` is `jwt::issue_from_template`, which writes the same bytes without
//! building a claims map and is what the host should call per request.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tessera::jwt::{ClaimsTemplate, issue, issue_from_template};

/// The example payload from the JSON Web Token extension's documentation.
const SEED_PAYLOAD: &str = r#""sub": "%globals_user_attribute_username^json_encode%",
"given_name": "%globals_user_attribute_first_name^json_encode%",
"family_name": "%globals_user_attribute_last_name^json_encode%",
"admin": %asset_has_write_access^eq:1:true:false%"#;

const SECRET: &[u8] = b"a-realistic-shared-secret-of-48-bytes-0123456789";
const NOW: i64 = 1_796_000_000;
const EXPIRY: Option<u64> = Some(900);

/// The values as the host passes them: a `BTreeMap` built per request by
/// `behaviours::keyword_values`.
fn user_values() -> BTreeMap<String, String> {
    [
        ("globals_user_attribute_username", "jsmith"),
        ("globals_user_attribute_first_name", "Jöhn \"Johnny\""),
        ("globals_user_attribute_last_name", "Smith-O'Brien"),
        ("globals_user_attribute_email", "john.smith@example.com"),
        ("globals_user_name", "John Smith"),
        ("asset_has_write_access", "1"),
        ("asset_has_admin_access", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn jwt(c: &mut Criterion) {
    let template = ClaimsTemplate::compile(SEED_PAYLOAD).expect("the seed payload compiles");
    let values = user_values();
    let claims = template.render(&values).expect("the seed payload renders");
    let token = issue(claims, SECRET, NOW, EXPIRY);
    let (signing_input, _) = token.rsplit_once('.').expect("a token has three parts");
    let signing_input = signing_input.as_bytes().to_vec();

    let mut group = c.benchmark_group("jwt");
    group.bench_function("render_and_issue", |b| {
        b.iter(|| {
            let claims = template.render(black_box(&values)).unwrap();
            issue(claims, black_box(SECRET), black_box(NOW), EXPIRY)
        })
    });
    group.bench_function("render_and_issue_fused", |b| {
        b.iter(|| {
            issue_from_template(
                &template,
                black_box(&values),
                black_box(SECRET),
                black_box(NOW),
                EXPIRY,
            )
            .unwrap()
        })
    });
    group.bench_function("bare_hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(black_box(SECRET)).unwrap();
            mac.update(black_box(&signing_input));
            mac.finalize().into_bytes()
        })
    });
    group.finish();
}

criterion_group!(benches, jwt);
criterion_main!(benches);
