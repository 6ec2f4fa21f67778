//! Unit tests of the keyword grammar and of every modifier.

use std::collections::{BTreeMap, HashMap};

use super::*;

fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Renders `template` with keyword `v` set to `value`.
fn apply(template: &str, value: &str) -> String {
    Template::parse(template).render(&values(&[("v", value)]))
}

#[test]
fn plain_keyword_is_replaced() {
    let t = Template::parse("Hello %globals_user_name%!");
    assert_eq!(
        t.render(&values(&[("globals_user_name", "Ann")])),
        "Hello Ann!"
    );
    assert_eq!(t.keywords().collect::<Vec<_>>(), ["globals_user_name"]);
}

#[test]
fn btreemap_is_a_lookup() {
    let mut map = BTreeMap::new();
    map.insert("a".to_string(), "x".to_string());
    assert_eq!(Template::parse("[%a%]").render(&map), "[x]");
}

#[test]
fn unknown_keyword_is_left_as_written() {
    let t = Template::parse("a %nope^uppercase^maxchars:2% b");
    assert_eq!(t.render(&values(&[])), "a %nope^uppercase^maxchars:2% b");
}

#[test]
fn malformed_keywords_are_literal_text() {
    let v = values(&[("name", "N")]);
    for text in [
        "100%",
        "%",
        "%%",
        "%not a keyword%",
        "%name",
        "%name^%",
        "%name^:x%",
        "%name^upper case%",
        "%name^maxchars:3",
        "50% off, 20% more",
        "%na-me%",
        "%name^eq:a\nb%",
    ] {
        assert_eq!(Template::parse(text).render(&v), text, "template {text:?}");
    }
}

#[test]
fn a_failed_percent_does_not_hide_a_later_keyword() {
    let v = values(&[("name", "N")]);
    assert_eq!(Template::parse("50%%name%").render(&v), "50%N");
    assert_eq!(Template::parse("%a b%name%").render(&v), "%a bN");
    assert_eq!(Template::parse("%name%%name%").render(&v), "NN");
    assert_eq!(Template::parse("%name%name%").render(&v), "Nname%");
}

#[test]
fn segments_expose_the_parse() {
    let t = Template::parse(r"x%k^replace:a\:b:c\^d\\e\%f%y");
    let segments = t.segments();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[0], Segment::Literal("x".into()));
    let Segment::Keyword(k) = &segments[1] else {
        panic!("expected a keyword, got {:?}", segments[1]);
    };
    assert_eq!(k.raw, r"%k^replace:a\:b:c\^d\\e\%f%");
    assert_eq!(k.name, "k");
    assert_eq!(k.modifiers.len(), 1);
    assert_eq!(k.modifiers[0].name, "replace");
    assert_eq!(k.modifiers[0].args, ["a:b", r"c^d\e%f"]);
    assert_eq!(segments[2], Segment::Literal("y".into()));
}

#[test]
fn other_backslashes_are_kept_for_regexes() {
    assert_eq!(apply(r"%v^replace:\s+:_%", "a  b\tc"), "a_b_c");
    assert_eq!(apply(r"%v^replace:\d:#%", "a1b22"), "a#b##");
}

#[test]
fn escaped_caret_and_colon_in_args() {
    assert_eq!(apply(r"%v^eq:a\:b:yes\^1:no%", "a:b"), "yes^1");
    // A regex that matches a literal caret is `\^`, written here as `\\` then `\^`.
    assert_eq!(apply(r"%v^replace:\\\^:caret%", "x^y"), "xcarety");
    assert_eq!(apply(r"%v^replace:\^x:y%", "xx"), "yx");
}

#[test]
fn chained_modifiers_apply_left_to_right() {
    assert_eq!(apply("%v^trim^uppercase^maxchars:3%", "  hello "), "HEL");
    assert_eq!(apply("%v^maxchars:3^uppercase%", "hello"), "HEL");
    assert_eq!(apply("%v^uppercase^eq:ABC:match:miss%", "abc"), "match");
    assert_eq!(apply("%v^eq:1:true:false^uppercase%", "1"), "TRUE");
    assert_eq!(apply("%v^base64encode^base64decode%", "round ✓"), "round ✓");
}

#[test]
fn unknown_modifier_leaves_keyword_as_written_and_is_reported() {
    let t = Template::parse("%v^uppercase^frobnicate:1%");
    assert_eq!(
        t.render(&values(&[("v", "x")])),
        "%v^uppercase^frobnicate:1%"
    );
    assert_eq!(t.unknown_modifiers().collect::<Vec<_>>(), ["frobnicate"]);
    let problems = t.problems();
    assert_eq!(problems.len(), 1);
    assert!(
        matches!(&problems[0], Problem::UnknownModifier { modifier, .. } if modifier == "frobnicate")
    );
    assert!(
        problems[0]
            .to_string()
            .starts_with("unknown modifier \"frobnicate\"")
    );
}

#[test]
fn invalid_regex_leaves_value_and_is_reported() {
    let t = Template::parse("%v^replace:(unclosed:x%");
    assert_eq!(t.render(&values(&[("v", "a(b")])), "a(b");
    let problems = t.problems();
    assert_eq!(problems.len(), 1);
    let message = problems[0].to_string();
    assert!(message.contains("invalid regular expression"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert_eq!(apply("%v^contains:[:yes:no%", "["), "[");
}

#[test]
fn oversized_regex_is_refused() {
    let huge = format!("%v^replace:{}:x%", "a{1000}{1000}");
    let t = Template::parse(&huge);
    assert_eq!(t.render(&values(&[("v", "aaa")])), "aaa");
    assert_eq!(t.problems().len(), 1);
}

#[test]
fn json_encode_escapes_without_quotes() {
    assert_eq!(apply("%v^json_encode%", r#"say "hi""#), r#"say \"hi\""#);
    assert_eq!(apply("%v^json_encode%", r"C:\dir\"), r"C:\\dir\\");
    assert_eq!(apply("%v^json_encode%", "a\nb\tc\r"), r"a\nb\tc\r");
    assert_eq!(
        apply("%v^json_encode%", "\u{0}\u{1f}\u{8}\u{c}"),
        r"\u0000\u001f\b\f"
    );
    assert_eq!(apply("%v^json_encode%", "Zoë 日本 🎉"), "Zoë 日本 🎉");
    assert_eq!(apply("%v^json_encode%", "</script>"), "</script>");
}

#[test]
fn json_encode_output_is_valid_json_string_content() {
    let nasty = "\"\\\u{0}\u{7f}\u{2028}é\n/";
    let encoded = apply("%v^json_encode%", nasty);
    let decoded: String = serde_json::from_str(&format!("\"{encoded}\"")).unwrap();
    assert_eq!(decoded, nasty);
}

#[test]
fn eq_compares_numbers_numerically() {
    assert_eq!(apply("%v^eq:1.0%", "1"), "1");
    assert_eq!(apply("%v^eq:1%", "1.0"), "1");
    assert_eq!(apply("%v^eq:01%", "1"), "1");
    assert_eq!(apply("%v^eq:1e1%", "10"), "1");
    assert_eq!(apply("%v^gt:9%", "10"), "1");
    assert_eq!(apply("%v^lt:9%", "10"), "");
    assert_eq!(apply("%v^gt:-1%", "-0.5"), "1");
}

#[test]
fn eq_compares_text_otherwise() {
    assert_eq!(apply("%v^lt:abd%", "abc"), "1");
    assert_eq!(apply("%v^gt:abd%", "abc"), "");
    assert_eq!(apply("%v^eq:abc%", "abc"), "1");
    assert_eq!(apply("%v^eq:ABC%", "abc"), "");
    // One side not a number: text order, where "10" sorts before "9x".
    assert_eq!(apply("%v^lt:9x%", "10"), "1");
    // Words the float parser accepts are not numbers here.
    assert_eq!(apply("%v^eq:inf%", "INF"), "");
    assert_eq!(apply("%v^eq:NaN%", "NaN"), "1");
}

#[test]
fn comparison_defaults_and_branches() {
    assert_eq!(apply("%v^eq:1:true:false%", "1"), "true");
    assert_eq!(apply("%v^eq:1:true:false%", "0"), "false");
    assert_eq!(apply("%v^eq:1%", "0"), "");
    assert_eq!(apply("%v^eq%", ""), "1");
    assert_eq!(apply("%v^neq:1:a:b%", "2"), "a");
    assert_eq!(apply("%v^neq:1:a:b%", "1.00"), "b");
    assert_eq!(apply("%v^gte:5:y:n%", "5"), "y");
    assert_eq!(apply("%v^gte:5:y:n%", "4"), "n");
    assert_eq!(apply("%v^lte:5:y:n%", "5"), "y");
    assert_eq!(apply("%v^lte:5:y:n%", "6"), "n");
    assert_eq!(apply("%v^eq:1:true:%", "0"), "");
}

#[test]
fn empty_is_a_default_and_notempty_a_flag() {
    assert_eq!(apply("%v^empty:nobody%", ""), "nobody");
    assert_eq!(apply("%v^empty:nobody%", "ann"), "ann");
    assert_eq!(apply("%v^empty:nobody%", "0"), "0");
    assert_eq!(apply("%v^notempty:has one%", "ann"), "has one");
    assert_eq!(apply("%v^notempty:has one%", ""), "");
    assert_eq!(apply("%v^notempty%", "x"), "");
}

#[test]
fn case_modifiers_are_unicode_aware() {
    assert_eq!(apply("%v^lowercase%", "ÀÉÎ Straße"), "àéî straße");
    assert_eq!(apply("%v^uppercase%", "straße"), "STRASSE");
    assert_eq!(
        apply("%v^capitalize%", "émile de la tour"),
        "Émile De La Tour"
    );
    assert_eq!(apply("%v^capitalize%", "mIXed\tcase"), "MIXed\tCase");
}

#[test]
fn trim_removes_surrounding_whitespace() {
    assert_eq!(apply("%v^trim%", " \t a b \n"), "a b");
    assert_eq!(apply("%v^trim%", "\u{3000}x\u{3000}"), "x");
}

#[test]
fn maxchars_counts_characters() {
    assert_eq!(apply("%v^maxchars:2%", "日本語"), "日本");
    assert_eq!(apply("%v^maxchars:1%", "🎉x"), "🎉");
    assert_eq!(apply("%v^maxchars:10%", "short"), "short");
    assert_eq!(apply("%v^maxchars:0%", "gone"), "");
    let t = Template::parse("%v^maxchars:ten%");
    assert_eq!(t.render(&values(&[("v", "unchanged")])), "unchanged");
    assert_eq!(t.problems().len(), 1);
}

#[test]
fn escape_modifiers() {
    assert_eq!(
        apply("%v^escapequotes%", r#"it's "x" \"#),
        r#"it\'s \"x\" \\"#
    );
    assert_eq!(
        apply("%v^escapehtml%", r#"<a href="x">Tom & 'Jo'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#039;Jo&#039;&lt;/a&gt;"
    );
}

#[test]
fn url_encodings_differ_on_space_and_tilde() {
    assert_eq!(apply("%v^urlencode%", "a b&c=d~é"), "a+b%26c%3Dd%7E%C3%A9");
    assert_eq!(
        apply("%v^rawurlencode%", "a b&c=d~é"),
        "a%20b%26c%3Dd~%C3%A9"
    );
    assert_eq!(apply("%v^urlencode%", "50%+"), "50%25%2B");
}

#[test]
fn base64_round_trip_and_invalid_input() {
    assert_eq!(apply("%v^base64encode%", "hello"), "aGVsbG8=");
    assert_eq!(apply("%v^base64decode%", "aGVsbG8="), "hello");
    assert_eq!(apply("%v^base64decode%", "aGVsbG8"), "hello");
    assert_eq!(apply("%v^base64decode%", "not base64!"), "");
    // Valid base64 of bytes that are not UTF-8 text.
    assert_eq!(apply("%v^base64decode%", "/w=="), "");
}

#[test]
fn digests_are_lowercase_hex() {
    assert_eq!(apply("%v^md5%", ""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(apply("%v^md5%", "abc"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        apply("%v^sha1%", "abc"),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
}

#[test]
fn replace_and_contains() {
    assert_eq!(apply("%v^replace:o:0%", "foo boo"), "f00 b00");
    assert_eq!(
        apply("%v^replace:(\\w+)@(\\w+):$2 at $1%", "ann@example"),
        "example at ann"
    );
    assert_eq!(apply("%v^replace:x%", "axbx"), "ab");
    assert_eq!(apply(r"%v^contains:\^adm:yes:no%", "admin"), "yes");
    assert_eq!(apply(r"%v^contains:\^adm:yes:no%", "user"), "no");
    assert_eq!(apply("%v^contains:é%", "café"), "1");
    assert_eq!(apply("%v^contains:z%", "café"), "");
}

#[test]
fn known_keyword_list() {
    for name in [
        "globals_user_assetid",
        "globals_user_name",
        "globals_user_attribute_username",
        "globals_user_attribute_shoe_size",
        "asset_assetid",
        "asset_name",
        "asset_url",
        "asset_has_write_access",
        "asset_has_admin_access",
    ] {
        assert!(is_known_keyword(name), "{name}");
    }
    for name in ["globals_user_attribute_", "asset_nam", "user_name", ""] {
        assert!(!is_known_keyword(name), "{name}");
    }
}

#[test]
fn keyword_parse_at_reports_end() {
    let text = r#""%a^eq:1:"yes"%" tail"#;
    let (k, end) = Keyword::parse_at(text, 1).unwrap();
    assert_eq!(k.name, "a");
    assert_eq!(&text[end..], r#"" tail"#);
    assert!(Keyword::parse_at(text, 0).is_none());
}

/// A `Lookup` that only has `lookup`, so rendering goes through the default `lookup_str`.
struct OwnedOnly(HashMap<String, String>);

impl Lookup for OwnedOnly {
    fn lookup(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

#[test]
fn lookup_str_borrows_from_maps_and_defaults_to_lookup() {
    let map = values(&[("v", "x")]);
    assert!(matches!(map.lookup_str("v"), Some(Cow::Borrowed("x"))));
    let tree: BTreeMap<String, String> = map.clone().into_iter().collect();
    assert!(matches!(tree.lookup_str("v"), Some(Cow::Borrowed("x"))));
    assert_eq!(OwnedOnly(map).lookup_str("v").as_deref(), Some("x"));
    assert_eq!(tree.lookup_str("w"), None);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// `render_into_bytes` (which escapes a final `json_encode` straight into the buffer) writes
    /// exactly what `render` gives, for borrowed and owned lookups, known and unknown keywords.
    #[test]
    fn render_into_bytes_equals_render(value in proptest::prelude::any::<String>()) {
        let map = values(&[("v", &value)]);
        let owned = OwnedOnly(map.clone());
        for text in [
            "%v%", "%v^json_encode%", "%v^trim^json_encode%", "%v^maxchars:3^json_encode%",
            "%v^json_encode^json_encode%", "%v^replace:[a-c]:\"^json_encode%",
            "%v^empty:\\\\x\"^json_encode%", "%v^eq:1:true:false%", "%v^nope^json_encode%",
            "%w^json_encode%", "%v^trim^maxchars:2%", "%v^notempty:y%",
        ] {
            let Some((keyword, _)) = Keyword::parse_at(text, 0) else {
                panic!("{text} is a keyword");
            };
            for lookup in [&map as &dyn Lookup, &owned] {
                let mut bytes = Vec::new();
                keyword.render_into_bytes(lookup, &mut bytes);
                proptest::prop_assert_eq!(
                    String::from_utf8(bytes).unwrap(), keyword.render(lookup), "{}", text
                );
            }
        }
    }
}
