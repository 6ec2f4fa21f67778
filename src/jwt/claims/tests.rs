//! Tests of the claims template: the seed example, structural refusals, and the safety property
//! that keyword values never change which claims exist.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const SEED: &str = r#"
"sub": "%globals_user_attribute_username^json_encode%",
"given_name": "%globals_user_attribute_first_name^json_encode%",
"family_name": "%globals_user_attribute_last_name^json_encode%",
"admin": %asset_has_write_access^eq:1:true:false%
"#;

fn user(first_name: &str, write: &str) -> HashMap<String, String> {
    [
        ("globals_user_attribute_username", "jsmith"),
        ("globals_user_attribute_first_name", first_name),
        ("globals_user_attribute_last_name", "Smith"),
        ("asset_has_write_access", write),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Every key path in `value`, such as `address.city` or `roles[].name`.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{prefix}.{k}");
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn keys_of(map: &Map<String, Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    key_paths(&Value::Object(map.clone()), "", &mut out);
    out
}

fn compile_error(template: &str) -> String {
    match ClaimsTemplate::compile(template) {
        Ok(t) => panic!("template {template:?} compiled: {t:?}"),
        Err(e) => {
            assert!(matches!(e, ClaimsError::Template { .. }), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn seed_example_renders() {
    let t = ClaimsTemplate::compile(SEED).unwrap();
    let claims = t.render(&user("John", "1")).unwrap();
    assert_eq!(
        Value::Object(claims.clone()),
        json!({"sub": "jsmith", "given_name": "John", "family_name": "Smith", "admin": true})
    );
    let order: Vec<&str> = claims.keys().map(String::as_str).collect();
    assert_eq!(order, ["sub", "given_name", "family_name", "admin"]);
    let claims = t.render(&user("John", "0")).unwrap();
    assert_eq!(claims["admin"], json!(false));
    assert_eq!(
        t.keywords().collect::<Vec<_>>(),
        [
            "globals_user_attribute_username",
            "globals_user_attribute_first_name",
            "globals_user_attribute_last_name",
            "asset_has_write_access"
        ]
    );
    assert!(t.problems().is_empty());
}

#[test]
fn braces_are_optional() {
    let with = ClaimsTemplate::compile(&format!("{{{SEED}}}")).unwrap();
    let without = ClaimsTemplate::compile(SEED).unwrap();
    let values = user("Ann", "1");
    assert_eq!(
        with.render(&values).unwrap(),
        without.render(&values).unwrap()
    );
    assert_eq!(
        ClaimsTemplate::compile("")
            .unwrap()
            .render(&values)
            .unwrap(),
        Map::new()
    );
    assert_eq!(
        ClaimsTemplate::compile(" {} ")
            .unwrap()
            .render(&values)
            .unwrap(),
        Map::new()
    );
}

#[test]
fn injection_through_a_json_encoded_value_stays_inside_the_string() {
    let evil = r#"", "admin": true, "x": ""#;
    let t = ClaimsTemplate::compile(SEED).unwrap();
    let claims = t.render(&user(evil, "0")).unwrap();
    assert_eq!(claims["given_name"], json!(evil));
    assert_eq!(claims["admin"], json!(false));
    assert_eq!(claims.len(), 4);
    assert!(!claims.contains_key("x"));
}

#[test]
fn injection_without_json_encode_is_an_error() {
    let t = ClaimsTemplate::compile(
        r#""given_name": "%globals_user_attribute_first_name%", "admin": false"#,
    )
    .unwrap();
    let evil = r#"", "admin": true, "x": ""#;
    let err = t.render(&user(evil, "0")).unwrap_err();
    let ClaimsError::Render { claim, message } = &err else {
        panic!("expected a render error, got {err:?}");
    };
    assert_eq!(claim, "given_name");
    assert!(
        message.starts_with("payload string for \"given_name\" rendered to"),
        "{message}"
    );
    assert!(message.contains("json_encode"), "{message}");
    // Harmless values still work without json_encode.
    assert_eq!(
        t.render(&user("Ann", "0")).unwrap()["given_name"],
        json!("Ann")
    );
}

#[test]
fn bare_value_must_be_one_scalar() {
    let t = ClaimsTemplate::compile(r#""admin": %asset_has_write_access%"#).unwrap();
    let render = |v: &str| t.render(&user("Ann", v));
    assert_eq!(render("true").unwrap()["admin"], json!(true));
    assert_eq!(render(" 42 ").unwrap()["admin"], json!(42));
    assert_eq!(render("null").unwrap()["admin"], json!(null));
    assert_eq!(render(r#""quoted""#).unwrap()["admin"], json!("quoted"));
    for bad in [
        "",
        "true, \"root\": true",
        "{\"a\": 1}",
        "[1]",
        "1 2",
        "\"a\" \"b\"",
        "yes",
    ] {
        let err = render(bad).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("payload value for \"admin\" rendered to"),
            "{bad:?}: {message}"
        );
        assert!(
            message.ends_with("which is not one JSON value: check the keyword and its modifiers")
        );
    }
}

#[test]
fn literal_text_around_a_bare_keyword_is_part_of_the_value() {
    let t = ClaimsTemplate::compile(r#""n": -%asset_assetid%0, "s": %asset_name^eq:x:"yes":"no"%"#)
        .unwrap();
    let values: HashMap<String, String> = [("asset_assetid", "4"), ("asset_name", "x")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let claims = t.render(&values).unwrap();
    assert_eq!(Value::Object(claims), json!({"n": -40, "s": "yes"}));
}

#[test]
fn unknown_keyword_in_a_bare_value_is_an_error_and_in_a_string_is_text() {
    let t = ClaimsTemplate::compile(r#""a": "%nope%", "b": %nope%"#).unwrap();
    let err = t.render(&HashMap::<String, String>::new()).unwrap_err();
    assert!(
        matches!(&err, ClaimsError::Render { claim, .. } if claim == "b"),
        "{err:?}"
    );
    let t = ClaimsTemplate::compile(r#""a": "%nope%""#).unwrap();
    let claims = t.render(&HashMap::<String, String>::new()).unwrap();
    assert_eq!(claims["a"], json!("%nope%"));
}

#[test]
fn strings_mix_literal_text_escapes_and_keywords() {
    let t = ClaimsTemplate::compile(
        r#""greeting": "Hi \"%globals_user_attribute_first_name^json_encode%\"\n\u00e9 100%""#,
    )
    .unwrap();
    let claims = t.render(&user("Zoë \\ \"Z\"", "1")).unwrap();
    assert_eq!(claims["greeting"], json!("Hi \"Zoë \\ \"Z\"\"\né 100%"));
}

#[test]
fn control_characters_need_json_encode() {
    let t = ClaimsTemplate::compile(r#""a": "%globals_user_attribute_first_name%""#).unwrap();
    assert!(t.render(&user("line\nbreak", "1")).is_err());
    assert!(t.render(&user("back\\slash", "1")).is_err());
    let t = ClaimsTemplate::compile(r#""a": "%globals_user_attribute_first_name^json_encode%""#)
        .unwrap();
    assert_eq!(
        t.render(&user("line\nbreak\u{1}", "1")).unwrap()["a"],
        json!("line\nbreak\u{1}")
    );
}

#[test]
fn nested_objects_and_arrays() {
    let t = ClaimsTemplate::compile(
        r#"{
          "user": {"name": "%globals_user_attribute_username^json_encode%", "roles": ["a", %asset_has_write_access^eq:1:"editor":null%]},
          "n": [1, 2.5, {"deep": true}],
          "empty": {}, "none": []
        }"#,
    )
    .unwrap();
    let claims = t.render(&user("Ann", "1")).unwrap();
    assert_eq!(
        Value::Object(claims),
        json!({
            "user": {"name": "jsmith", "roles": ["a", "editor"]},
            "n": [1, 2.5, {"deep": true}],
            "empty": {}, "none": []
        })
    );
    let err = ClaimsTemplate::compile(r#""user": {"roles": [%asset_name%]}"#)
        .unwrap()
        .render(&HashMap::from([("asset_name".to_owned(), "{}".to_owned())]))
        .unwrap_err();
    assert!(
        matches!(&err, ClaimsError::Render { claim, .. } if claim == "user.roles[0]"),
        "{err:?}"
    );
}

#[test]
fn keywords_in_names_are_refused() {
    let message = compile_error(r#""%asset_name%": 1"#);
    assert!(
        message.contains("keyword %asset_name% in a claim name"),
        "{message}"
    );
    let message = compile_error(r#""a": {"x_%asset_name%": 1}"#);
    assert!(message.contains("claim name"), "{message}");
    // A percent sign that is not a keyword is fine in a name.
    let t = ClaimsTemplate::compile(r#""100%": 1"#).unwrap();
    assert_eq!(t.render(&user("a", "1")).unwrap()["100%"], json!(1));
}

#[test]
fn a_keyword_in_a_string_may_not_hold_a_quote() {
    // Without this refusal the keyword would run on to the next `%` and swallow claim "b".
    let message = compile_error(r#""a": "%asset_name^eq:1", "b": "%asset_name%""#);
    assert!(message.contains("contains a double quote"), "{message}");
    assert!(message.contains("outside the quotes"), "{message}");
}

#[test]
fn duplicate_names_are_refused_at_every_depth() {
    let message = compile_error("\"a\": 1,\n\"a\": 2");
    assert_eq!(
        message,
        "payload template, line 2 column 1: claim \"a\" is written twice: keep one of them"
    );
    compile_error(r#""o": {"b": 1, "b": 1}"#);
    // The same name after JSON unescaping is the same claim.
    compile_error(r#""a": 1, "\u0061": 2"#);
    // The same name in different objects is fine.
    ClaimsTemplate::compile(r#""b": 1, "o": {"b": 1}"#).unwrap();
}

#[test]
fn trailing_commas_are_refused_clearly() {
    for template in [r#""a": 1,"#, r#"{"a": 1,}"#, r#""a": {"b": 1,}"#] {
        let message = compile_error(template);
        assert!(message.contains("trailing comma"), "{template}: {message}");
        assert!(message.contains("remove it"), "{message}");
    }
    let message = compile_error(r#""a": [1, 2,]"#);
    assert!(
        message.contains("trailing comma in the list \"a\""),
        "{message}"
    );
}

#[test]
fn syntax_errors_say_where_and_what() {
    let cases = [
        (r#""a": 1 "b": 2"#, "expected ','"),
        (r#""a" 1"#, "expected ':'"),
        (r#""a": "#, "missing value for \"a\""),
        (r#""a": ,"#, "missing value"),
        (r#""a": tru"#, "is not a JSON value"),
        (r#""a": "open"#, "no closing double quote"),
        (r#""a": "bad \q""#, "invalid escape"),
        ("\"a\": \"two\nlines\"", "line break"),
        (r#"a: 1"#, "expected a claim name"),
        (r#"{"a": 1} "b": 2"#, "after the closing brace"),
        (r#"["a"]"#, "not an array"),
        (r#"{"a": 1"#, "expected ','"),
        (r#""a": %x% %y%"#, "expected ','"),
        (r#""a": 50%"#, "is not a JSON value"),
    ];
    for (template, expected) in cases {
        let message = compile_error(template);
        assert!(message.contains(expected), "{template:?}: {message}");
        assert!(message.starts_with("payload template, line "), "{message}");
        assert!(!message.ends_with('.'), "{message}");
    }
    let message = compile_error("\"a\": 1,\n  \"b\" 2");
    assert!(
        message.starts_with("payload template, line 2 column 7:"),
        "{message}"
    );
}

#[test]
fn long_values_are_shortened_in_errors() {
    let t = ClaimsTemplate::compile(r#""a": %asset_name%"#).unwrap();
    let long = "é".repeat(500);
    let err = t
        .render(&HashMap::from([("asset_name".to_owned(), long)]))
        .unwrap_err();
    assert!(err.to_string().chars().count() < 250, "{err}");
}

#[test]
fn problems_are_reported() {
    let t =
        ClaimsTemplate::compile(r#""a": "%asset_name^shout%", "b": "%asset_name^replace:(:x%""#)
            .unwrap();
    let problems = t.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
}

fn paths(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|p| p.to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the attribute values, the claims are the template's or there is an error.
    #[test]
    fn values_never_change_the_key_set(
        first in any::<String>(),
        last in "[\"\\\\{}%,:\\[\\]a-z \\n\\t\\u{0}-\\u{1f}é日🎉]{0,40}",
        write in prop_oneof![Just("1".to_owned()), Just("0".to_owned()), any::<String>(),
                             "[\"{}:, a-z0-9\\[\\]]{0,20}"],
    ) {
        let templates = [
            (SEED, paths(&[".sub", ".given_name", ".family_name", ".admin"])),
            (r#""given_name": "%globals_user_attribute_first_name%",
               "n": {"last": "%globals_user_attribute_last_name%", "list": [%asset_has_write_access%]},
               "admin": %asset_has_write_access%"#,
             paths(&[".given_name", ".n", ".n.last", ".n.list", ".admin"])),
            (r#"{"a": "x%globals_user_attribute_last_name^json_encode%y",
                "b": %globals_user_attribute_first_name^eq:1:true:false%,
                "c": %globals_user_attribute_last_name%}"#,
             paths(&[".a", ".b", ".c"])),
        ];
        let mut values = user(&first, &write);
        values.insert("globals_user_attribute_last_name".to_owned(), last.clone());
        let mut benign = user("Ann", "1");
        benign.insert("globals_user_attribute_last_name".to_owned(), "1".to_owned());
        for (template, expected) in &templates {
            let compiled = ClaimsTemplate::compile(template).unwrap();
            // The property is not vacuous: ordinary values render, with exactly these keys.
            prop_assert_eq!(&keys_of(&compiled.render(&benign).unwrap()), expected);
            if let Ok(claims) = compiled.render(&values) {
                prop_assert_eq!(&keys_of(&claims), expected);
            }
        }
        // json_encode in strings always renders, and gives the values back exactly.
        let claims = ClaimsTemplate::compile(SEED).unwrap().render(&values).unwrap();
        prop_assert_eq!(&claims["given_name"], &json!(first));
        prop_assert_eq!(&claims["family_name"], &json!(last));
    }
}

#[test]
fn integers_are_written_like_display() {
    for n in [0, 7, -5, 10, 1_796_000_900, i64::MIN, i64::MAX] {
        let mut out = Vec::new();
        write_i64(&mut out, n);
        assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
    }
}

#[test]
fn canonical_content_is_what_serde_json_writes() {
    for text in ["plain", "q\"b\\", "\u{1}\u{1f}\n\t\r\u{8}\u{c}", "é/日"] {
        let written = serde_json::to_string(text).unwrap();
        assert!(is_canonical(&written[1..written.len() - 1]), "{written}");
    }
    for content in [
        r"\/", r"\u00e9", r"\u001F", r"\u000a", "\"", "\n", r"\x", r"\u00",
    ] {
        assert!(!is_canonical(content), "{content}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The bare-value shortcut gives exactly what the general path (serde_json reading the text
    /// as one value and writing it back) gives, and never accepts what it refuses.
    #[test]
    fn bare_literal_is_what_serde_json_writes(
        text in prop_oneof![
            "[ \t\r\n]{0,2}(true|false|null|-?[0-9]{1,21}(\\.[0-9])?)[ \t\r\n]{0,2}",
            "[-+0-9.eEtrufalsn \"]{0,22}",
        ],
    ) {
        if let Some(json) = bare_literal(&text) {
            let value = bare_value(text.clone(), "c").unwrap();
            prop_assert_eq!(serde_json::to_string(&value).unwrap(), json);
        }
    }
}

#[test]
fn bare_literal_covers_the_common_values() {
    for (text, json) in [
        ("true", "true"),
        (" false\n", "false"),
        ("null", "null"),
        ("0", "0"),
        ("42", "42"),
        ("9999999999999999999", "9999999999999999999"),
    ] {
        assert_eq!(bare_literal(text), Some(json), "{text:?}");
    }
    for text in [
        "",
        "01",
        "-1",
        "-0",
        "1.0",
        "1e3",
        "10000000000000000000",
        "True",
        "\"x\"",
    ] {
        assert_eq!(bare_literal(text), None, "{text:?}");
    }
}

proptest! {
    #[test]
    fn any_integer_is_written_like_display(n in any::<i64>()) {
        let mut out = Vec::new();
        write_i64(&mut out, n);
        prop_assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
    }
}
