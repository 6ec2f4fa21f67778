//! The JSON Web Token package end to end through the real binary: install, configure, issue,
//! verify with an independent JWT implementation, upgrade with a migration, and uninstall.

use std::path::PathBuf;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::packages::build;
use crate::support::{Env, Run};

pub const SECRET: &str = "0123456789abcdef0123456789abcdef-shared";

pub const SEED_PAYLOAD: &str = r#""sub": "%globals_user_attribute_username^json_encode%",
"given_name": "%globals_user_attribute_first_name^json_encode%",
"family_name": "%globals_user_attribute_last_name^json_encode%",
"admin": %asset_has_write_access^eq:1:true:false%"#;

fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("package/json-web-token")
}

/// Builds the real package source, as an administrator would.
pub fn package(env: &Env) -> String {
    let out = env.path("json-web-token-1.0.1.tgz");
    env.public(&[
        "package",
        "build",
        source_dir().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
    .ok();
    out.to_str().unwrap().to_owned()
}

/// A 1.1.0 of the package with a new attribute filled in by a migration.
fn package_1_1_0(env: &Env) -> String {
    let dir = env.path("json-web-token-1.1.0");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = std::fs::read_to_string(source_dir().join("package.toml"))
        .unwrap()
        .replace("version = \"1.0.1\"", "version = \"1.1.0\"");
    let manifest = format!(
        "{manifest}\n[[types.attributes]]\nname = \"audience_note\"\nkind = \"text\"\nrequired = true\n\n\
         [[migrations]]\nversion = \"1.1.0\"\ntype = \"json_web_token\"\n\
         steps = [ {{ set_default = {{ attribute = \"audience_note\", value = \"migrated\" }} }} ]\n"
    );
    std::fs::write(dir.join("package.toml"), manifest).unwrap();
    build(env, &dir).to_str().unwrap().to_owned()
}

/// An instance with the package, a `/demo` folder all users read, users alice (user) and
/// wendy (user with write on /demo), and a live token asset at `/demo/token`.
pub fn demo(env: &Env) -> i64 {
    env.root(&["package", "install", &package(env)]).ok();
    env.add_user(
        "alice",
        "user",
        &[
            "first_name=Alice",
            "last_name=Liddell",
            "email=alice@example.org",
        ],
    );
    env.add_user("wendy", "user", &["first_name=Wendy", "last_name=Darling"]);
    env.create(&[
        "--type", "folder", "--parent", "/", "--name", "demo", "--status", "live",
    ]);
    env.root(&["asset", "grant", "/demo", "--all-users", "--perm", "read"])
        .ok();
    env.root(&[
        "asset", "grant", "/demo", "--user", "wendy", "--perm", "write",
    ])
    .ok();
    std::fs::write(env.path("payload.json"), SEED_PAYLOAD).unwrap();
    std::fs::write(env.path("secret.txt"), format!("{SECRET}\n")).unwrap();
    let payload = format!("payload=@{}", env.path("payload.json").display());
    let secret = format!("secret=@{}", env.path("secret.txt").display());
    env.create(&[
        "--type",
        "json_web_token",
        "--parent",
        "/demo",
        "--name",
        "token",
        "--status",
        "live",
        "--attr",
        &secret,
        "--attr",
        &payload,
        "--attr",
        "expiry=15m",
    ])
}

/// Verifies a token with the independent `jsonwebtoken` crate and returns its claims.
pub fn verify_independently(token: &str, secret: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = true;
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap_or_else(|e| panic!("jsonwebtoken refused {token}: {e}"))
    .claims
}

fn preview(env: &Env, user: &str) -> Run {
    env.root(&["asset", "preview", "/demo/token", "--for", user])
}

#[test]
fn the_full_life_cycle() {
    let env = Env::new();
    let id = demo(&env);

    // Tokens for a reader and a writer, checked by another implementation.
    let token = preview(&env, "alice").ok().stdout.trim().to_owned();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert!(!token.contains('='), "base64url without padding: {token}");
    let claims = verify_independently(&token, SECRET);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["family_name"], "Liddell");
    assert_eq!(claims["admin"], false);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let keys: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["sub", "given_name", "family_name", "admin", "iat", "exp"]
    );
    let wendy = verify_independently(preview(&env, "wendy").ok().stdout.trim(), SECRET);
    assert_eq!(wendy["admin"], true);
    // Users preview their own token.
    let own = env
        .as_user("alice", &["asset", "preview", "/demo/token"])
        .ok();
    assert_eq!(
        verify_independently(own.stdout.trim(), SECRET)["sub"],
        "alice"
    );

    // Our own verifier agrees, by secret file and by asset.
    env.public(&[
        "jwt",
        "verify",
        &token,
        "--secret-file",
        env.path("secret.txt").to_str().unwrap(),
    ])
    .ok();
    env.root(&["jwt", "verify", &token, "--asset", "/demo/token"])
        .ok();
    let decoded = env.public(&["--json", "jwt", "decode", &token]).ok().json();
    assert_eq!(decoded["claims"], claims);

    // Upgrade to 1.1.0: the migration fills the new attribute; tokens are still issued.
    env.root(&["package", "upgrade", &package_1_1_0(&env)]).ok();
    let shown = env
        .root(&["--json", "asset", "show", &id.to_string()])
        .ok()
        .json();
    assert_eq!(shown["attributes"]["audience_note"], "migrated");
    assert_eq!(shown["type_version"], "1.1.0");
    assert_eq!(shown["attributes"]["secret"], "********");
    let after = verify_independently(preview(&env, "alice").ok().stdout.trim(), SECRET);
    assert_eq!(after["sub"], "alice");

    // Trash, purge, uninstall; then the type is gone.
    env.root(&["package", "uninstall", "json-web-token"])
        .refused("/demo/token (live in the tree)");
    env.root(&["asset", "trash", "/demo/token"]).ok();
    env.root(&["asset", "preview", "/demo/token"])
        .refused("no asset at web path /demo/token");
    env.root(&["asset", "preview", &id.to_string(), "--for", "alice"])
        .refused("in the trash");
    env.root(&["package", "uninstall", "json-web-token"])
        .refused("(in the trash)");
    env.root(&["trash", "purge", "--all"]).ok();
    env.root(&["package", "uninstall", "json-web-token"]).ok();
    env.root(&[
        "asset",
        "create",
        "--type",
        "json_web_token",
        "--parent",
        "/demo",
        "--name",
        "t",
    ])
    .refused("unknown asset type json_web_token: install the package that provides it");
    env.root(&["check"]).ok();
}

#[test]
fn the_secret_is_masked_everywhere() {
    let env = Env::new();
    let id = demo(&env);
    for args in [
        vec!["--json", "asset", "show", "/demo/token"],
        vec!["asset", "show", "/demo/token"],
        vec!["--json", "asset", "tree"],
        vec!["--json", "asset", "set", "/demo/token", "--name", "Token"],
    ] {
        let run = env.root(&args).ok();
        assert!(
            !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
            "{args:?}: {run:#?}"
        );
        assert!(run.stdout.contains("********"), "{args:?}: {run:#?}");
    }
    env.root(&["asset", "trash", &id.to_string()]).ok();
    let trash = env.root(&["--json", "trash", "list"]).ok();
    assert!(!trash.stdout.contains(SECRET) && trash.stdout.contains("********"));
}

#[test]
fn configuration_warnings_and_errors() {
    let env = Env::new();
    demo(&env);
    let run = env
        .root(&[
            "asset",
            "create",
            "--type",
            "json_web_token",
            "--parent",
            "/demo",
            "--name",
            "weak",
            "--attr",
            "secret=short",
            "--attr",
            "payload=\"a\": \"%no_such_keyword%\", \"b\": \"%asset_name^frobnicate%\"",
            "--attr",
            "expiry=",
        ])
        .ok();
    for needle in [
        "warning: the secret is 5 bytes long",
        "warning: no expiry is set",
        "warning: unknown keyword %no_such_keyword%",
        "frobnicate",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {run:#?}");
    }
    let run = env
        .root(&["asset", "set", "/demo/weak", "--attr", "expiry=2h"])
        .ok();
    assert!(
        run.stderr.contains("warning: the expiry is 7200 seconds"),
        "{run:#?}"
    );
    // No exp claim without an expiry; the unknown keyword is left as written.
    env.root(&[
        "asset",
        "set",
        "/demo/weak",
        "--attr",
        "expiry=",
        "--status",
        "live",
    ])
    .ok();
    let claims = verify_independently(preview(&env, "alice").ok().stdout.trim(), SECRET);
    assert!(claims.get("exp").is_some());
    let weak = env
        .root(&["asset", "preview", "/demo/weak", "--for", "alice"])
        .ok();
    let decoded = env
        .public(&["--json", "jwt", "decode", weak.stdout.trim()])
        .ok()
        .json();
    assert!(decoded["claims"].get("exp").is_none(), "{decoded}");
    assert_eq!(decoded["claims"]["a"], "%no_such_keyword%");
    // A payload that can never make claims is refused, and nothing changes.
    env.assert_unchanged(|| {
        env.root(&["asset", "set", "/demo/weak", "--attr", "payload=\"a\": 1,"])
            .refused("trailing comma");
        env.root(&["asset", "set", "/demo/weak", "--attr", "expiry=soon"])
            .refused("not a duration");
        env.root(&["asset", "set", "/demo/weak", "--attr", "secret="])
            .refused("attribute secret is required");
    });
}

#[test]
fn a_value_never_changes_which_claims_exist() {
    let env = Env::new();
    demo(&env);
    let evil = r#"", "admin": true, "x": ""#;
    env.add_user("mallory", "user", &[&format!("first_name={evil}")]);
    // With json_encode the value stays inside its claim.
    let claims = verify_independently(preview(&env, "mallory").ok().stdout.trim(), SECRET);
    assert_eq!(claims["given_name"], evil);
    assert_eq!(claims["admin"], false);
    // Without json_encode the structure would change: no token, a configuration error.
    env.root(&[
        "asset", "set", "/demo/token", "--attr",
        "payload=\"sub\": \"%globals_user_attribute_username%\", \"given_name\": \"%globals_user_attribute_first_name%\"",
    ])
    .ok();
    preview(&env, "mallory").refused("would get 500");
    let alice = verify_independently(preview(&env, "alice").ok().stdout.trim(), SECRET);
    assert_eq!(alice["given_name"], "Alice");
    assert!(alice.get("admin").is_none());
}

#[test]
fn who_may_create_preview_and_verify() {
    let env = Env::new();
    demo(&env);
    env.add_user("carl", "content-editor", &[]);
    env.add_user("bea", "backend-user", &[]);
    env.root(&[
        "asset", "grant", "/demo", "--user", "carl", "--perm", "write",
    ])
    .ok();
    env.root(&[
        "asset", "grant", "/demo", "--user", "bea", "--perm", "write",
    ])
    .ok();
    let args = |name: &'static str| {
        vec![
            "asset",
            "create",
            "--type",
            "json_web_token",
            "--parent",
            "/demo",
            "--name",
            name,
            "--attr",
            "secret=0123456789abcdef0123456789abcdef",
            "--attr",
            "payload={}",
        ]
    };
    env.assert_unchanged(|| {
        env.as_user("carl", &args("c"))
            .refused("permission denied: creating an asset of admin-only type json_web_token needs account level backend-user or above");
    });
    env.as_user("bea", &args("b")).ok();
    // Previews for others are system administrators' business; the public never gets a token.
    env.as_user(
        "alice",
        &["asset", "preview", "/demo/token", "--for", "wendy"],
    )
    .refused("permission denied");
    env.public(&["asset", "preview", "/demo/token"])
        .refused("403");
    env.add_user("outsider", "user", &[]);
    env.root(&[
        "asset",
        "grant",
        "/demo/token",
        "--user",
        "outsider",
        "--perm",
        "read",
        "--deny",
    ])
    .ok();
    preview(&env, "outsider").refused("403");
    // Verification refuses tampered, foreign and expired tokens.
    let token = preview(&env, "alice").ok().stdout.trim().to_owned();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"sub":"root","admin":true}"#,
    );
    env.root(&["jwt", "verify", &parts.join("."), "--asset", "/demo/token"])
        .refused("bad signature");
    std::fs::write(env.path("other.txt"), "another secret entirely, 32 bytes").unwrap();
    env.public(&[
        "jwt",
        "verify",
        &token,
        "--secret-file",
        env.path("other.txt").to_str().unwrap(),
    ])
    .refused("bad signature");
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &json!({"sub": "alice", "exp": 1_000_000_000}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    env.root(&["jwt", "verify", &expired, "--asset", "/demo/token"])
        .refused("expired");
    env.public(&["jwt", "decode", "not.a.token"])
        .refused("malformed");
}
