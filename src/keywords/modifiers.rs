//! The keyword modifiers of SPEC §7: each one is compiled once from its name and arguments (so a
//! regular expression is built when the template is parsed, not on every render) and then applied
//! to a value. All of them work on characters, never on bytes, so no output splits a UTF-8 char.

use std::borrow::Cow;
use std::cmp::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, general_purpose};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use regex::{Regex, RegexBuilder};
use sha1::Digest as _;

/// Bytes left as they are by `rawurlencode`: the RFC 3986 unreserved set.
const RFC3986_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Bytes left as they are by `urlencode` (form encoding as PHP and HTML forms do it), apart from
/// the space, which becomes `+`.
const FORM_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Base64 decoding that accepts input with or without its `=` padding, since values pasted by
/// people often lose it.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Regular expressions come from administrators; these limits keep a hostile or careless pattern
/// from using unbounded memory. The regex crate already guarantees linear-time matching.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;
const REGEX_MAX_PATTERN_LEN: usize = 1024;

/// A comparison made by `eq`, `neq`, `gt`, `lt`, `gte` and `lte`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Eq,
    Neq,
    Gt,
    Lt,
    Gte,
    Lte,
}

impl Comparison {
    fn holds(self, ordering: Option<Ordering>) -> bool {
        match (self, ordering) {
            (Comparison::Neq, None) => true,
            (_, None) => false,
            (Comparison::Eq, Some(o)) => o == Ordering::Equal,
            (Comparison::Neq, Some(o)) => o != Ordering::Equal,
            (Comparison::Gt, Some(o)) => o == Ordering::Greater,
            (Comparison::Lt, Some(o)) => o == Ordering::Less,
            (Comparison::Gte, Some(o)) => o != Ordering::Less,
            (Comparison::Lte, Some(o)) => o != Ordering::Greater,
        }
    }
}

/// A compiled modifier.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    JsonEncode,
    Compare(Comparison),
    Empty,
    NotEmpty,
    Lowercase,
    Uppercase,
    Capitalize,
    Trim,
    MaxChars(usize),
    EscapeQuotes,
    EscapeHtml,
    UrlEncode,
    RawUrlEncode,
    Base64Encode,
    Base64Decode,
    Md5,
    Sha1,
    Replace(Regex),
    Contains(Regex),
    /// A modifier name this engine does not know. The whole keyword is then left as written, the
    /// same treatment as an unknown keyword, so a typo is visible in the output and reported.
    Unknown,
    /// A known modifier with an argument that cannot work (an invalid regular expression, a
    /// non-numeric `maxchars`). The value passes through unchanged and the problem is reported.
    Invalid(String),
}

impl Op {
    pub(crate) fn compile(name: &str, args: &[String]) -> Op {
        let arg = |i: usize| args.get(i).map(String::as_str);
        match name {
            "json_encode" => Op::JsonEncode,
            "eq" => Op::Compare(Comparison::Eq),
            "neq" => Op::Compare(Comparison::Neq),
            "gt" => Op::Compare(Comparison::Gt),
            "lt" => Op::Compare(Comparison::Lt),
            "gte" => Op::Compare(Comparison::Gte),
            "lte" => Op::Compare(Comparison::Lte),
            "empty" => Op::Empty,
            "notempty" => Op::NotEmpty,
            "lowercase" => Op::Lowercase,
            "uppercase" => Op::Uppercase,
            "capitalize" => Op::Capitalize,
            "trim" => Op::Trim,
            "maxchars" => match arg(0).map(|a| a.trim().parse::<usize>()) {
                Some(Ok(n)) => Op::MaxChars(n),
                _ => Op::Invalid(
                    "maxchars needs a whole number of characters, as in ^maxchars:20".to_owned(),
                ),
            },
            "escapequotes" => Op::EscapeQuotes,
            "escapehtml" => Op::EscapeHtml,
            "urlencode" => Op::UrlEncode,
            "rawurlencode" => Op::RawUrlEncode,
            "base64encode" => Op::Base64Encode,
            "base64decode" => Op::Base64Decode,
            "md5" => Op::Md5,
            "sha1" => Op::Sha1,
            "replace" => match compile_regex(arg(0)) {
                Ok(re) => Op::Replace(re),
                Err(e) => Op::Invalid(e),
            },
            "contains" => match compile_regex(arg(0)) {
                Ok(re) => Op::Contains(re),
                Err(e) => Op::Invalid(e),
            },
            _ => Op::Unknown,
        }
    }

    /// Applies the modifier to `value`. `Unknown` never reaches here: the keyword renders as
    /// written before any modifier runs.
    ///
    /// Values and results are borrowed where they can be (a looked-up value that needs no
    /// change, an argument chosen by a comparison), since the token path renders per request
    /// and most modifiers of a claims template leave their value alone or pick an argument.
    pub(crate) fn apply<'a>(&self, args: &'a [String], value: Cow<'a, str>) -> Cow<'a, str> {
        let arg = |i: usize| args.get(i).map(String::as_str);
        match self {
            Op::JsonEncode if !needs_json_escape(&value) => value,
            Op::JsonEncode => {
                let mut out = String::with_capacity(value.len() + 8);
                json_escape_into(&value, &mut out);
                Cow::Owned(out)
            }
            Op::Compare(cmp) => {
                let other = arg(0).unwrap_or("");
                let result = if cmp.holds(compare(&value, other)) {
                    arg(1).unwrap_or("1")
                } else {
                    arg(2).unwrap_or("")
                };
                Cow::Borrowed(result)
            }
            Op::Empty => {
                if value.is_empty() {
                    Cow::Borrowed(arg(0).unwrap_or(""))
                } else {
                    value
                }
            }
            Op::NotEmpty => {
                if value.is_empty() {
                    value
                } else {
                    Cow::Borrowed(arg(0).unwrap_or(""))
                }
            }
            Op::Lowercase => Cow::Owned(value.to_lowercase()),
            Op::Uppercase => Cow::Owned(value.to_uppercase()),
            Op::Capitalize => Cow::Owned(capitalize(&value)),
            Op::Trim => match value {
                Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
                Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
                Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
            },
            Op::MaxChars(n) => match value.char_indices().nth(*n) {
                Some((cut, _)) => match value {
                    Cow::Borrowed(text) => Cow::Borrowed(&text[..cut]),
                    Cow::Owned(mut text) => {
                        text.truncate(cut);
                        Cow::Owned(text)
                    }
                },
                None => value,
            },
            Op::EscapeQuotes => {
                let mut out = String::with_capacity(value.len());
                for c in value.chars() {
                    if matches!(c, '"' | '\'' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                Cow::Owned(out)
            }
            Op::EscapeHtml => {
                let mut out = String::with_capacity(value.len());
                for c in value.chars() {
                    match c {
                        '&' => out.push_str("&amp;"),
                        '<' => out.push_str("&lt;"),
                        '>' => out.push_str("&gt;"),
                        '"' => out.push_str("&quot;"),
                        '\'' => out.push_str("&#039;"),
                        c => out.push(c),
                    }
                }
                Cow::Owned(out)
            }
            Op::UrlEncode => {
                let mut out = String::with_capacity(value.len());
                for (i, piece) in value.split(' ').enumerate() {
                    if i > 0 {
                        out.push('+');
                    }
                    out.extend(utf8_percent_encode(piece, FORM_ESCAPED));
                }
                Cow::Owned(out)
            }
            Op::RawUrlEncode => {
                Cow::Owned(utf8_percent_encode(&value, RFC3986_ESCAPED).to_string())
            }
            Op::Base64Encode => Cow::Owned(STANDARD.encode(value.as_bytes())),
            // Invalid base64, or bytes that are not UTF-8 text, decode to the empty string: a
            // predictable result that never passes garbage on to the next modifier.
            Op::Base64Decode => Cow::Owned(
                LENIENT_BASE64
                    .decode(value.trim().as_bytes())
                    .or_else(|_| {
                        general_purpose::URL_SAFE_NO_PAD.decode(value.trim().trim_end_matches('='))
                    })
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .unwrap_or_default(),
            ),
            Op::Md5 => Cow::Owned(hex::encode(md5::Md5::digest(value.as_bytes()))),
            Op::Sha1 => Cow::Owned(hex::encode(sha1::Sha1::digest(value.as_bytes()))),
            Op::Replace(re) => {
                // Without a match the regex crate borrows its input: keep the value uncopied.
                let replaced = match re.replace_all(&value, arg(1).unwrap_or("")) {
                    Cow::Owned(replaced) => Some(replaced),
                    Cow::Borrowed(_) => None,
                };
                replaced.map_or(value, Cow::Owned)
            }
            Op::Contains(re) => {
                let result = if re.is_match(&value) {
                    arg(1).unwrap_or("1")
                } else {
                    arg(2).unwrap_or("")
                };
                Cow::Borrowed(result)
            }
            Op::Unknown | Op::Invalid(_) => value,
        }
    }
}

fn compile_regex(pattern: Option<&str>) -> Result<Regex, String> {
    let pattern = match pattern {
        Some(p) if !p.is_empty() => p,
        _ => return Err("needs a regular expression as its first argument".to_owned()),
    };
    if pattern.len() > REGEX_MAX_PATTERN_LEN {
        return Err(format!(
            "regular expression is longer than {REGEX_MAX_PATTERN_LEN} bytes: shorten it"
        ));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            // The regex crate's messages span several lines; one line reads better in a warning.
            let detail = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            format!("invalid regular expression {pattern:?}: {detail}")
        })
}

/// Compares numerically when both sides are numbers, as text otherwise. `None` only for numbers
/// that cannot be ordered, which `as_number` already excludes.
fn compare(a: &str, b: &str) -> Option<Ordering> {
    // Identical text is equal under either reading, which spares parsing in the common
    // `^eq:1:true:false` case.
    if a == b {
        return Some(Ordering::Equal);
    }
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(a.cmp(b)),
    }
}

/// Reads a decimal number such as `10`, `-1.5` or `2e3`. Words that Rust's float parser accepts
/// (`inf`, `NaN`) are deliberately not numbers here.
fn as_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let numeric_chars = t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if t.is_empty() || !numeric_chars || !t.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Upper-cases the first letter of every whitespace-separated word and leaves the rest alone, as
/// PHP's `ucwords` (which Matrix's `capitalize` follows) does.
fn capitalize(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut at_word_start = true;
    for c in value.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = c.is_whitespace();
    }
    out
}

/// Whether `value` has a character that JSON string content must escape.
pub(crate) fn needs_json_escape(value: &str) -> bool {
    value.bytes().any(|b| JSON_ESCAPES[usize::from(b)] != 0)
}

/// Escapes `value` as the content of a JSON string (without the quotes): `"` and `\` get a
/// backslash, control characters their short escape or `\u00xx`. Other characters, including
/// non-ASCII ones, stay as UTF-8, which JSON allows. This is exactly how serde_json writes
/// string content, so the output is canonical in the sense of the claims template.
fn json_escape_into(value: &str, out: &mut String) {
    json_escape_with(value, |piece| out.push_str(piece));
}

/// [`json_escape_into`] for a byte buffer: the claims writer escapes a looked-up value straight
/// into the payload, without an escaped copy in between.
pub(crate) fn json_escape_into_bytes(value: &str, out: &mut Vec<u8>) {
    json_escape_with(value, |piece| out.extend_from_slice(piece.as_bytes()));
}

/// For each byte, the letter of its JSON escape (`n` for a line feed, written `\n`; `"` for a
/// quote, written `\"`), `u` for the control characters written as `\u00xx`, and 0 for bytes
/// written as they are.
/// A table lookup per byte keeps the scan of values that need no escape cheap.
static JSON_ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Feeds the escaped form of `value` to `push`, piece by piece.
fn json_escape_with(value: &str, mut push: impl FnMut(&str)) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Every character that needs escaping is ASCII, so runs between them are copied as slices
    // (always on char boundaries) instead of char by char.
    let mut copied_to = 0;
    for (i, &b) in value.as_bytes().iter().enumerate() {
        let letter = JSON_ESCAPES[usize::from(b)];
        if letter == 0 {
            continue;
        }
        push(&value[copied_to..i]);
        let short = match letter {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'b' => "\\b",
            b'f' => "\\f",
            b'n' => "\\n",
            b'r' => "\\r",
            b't' => "\\t",
            _ => "",
        };
        if short.is_empty() {
            let unicode = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ];
            // The escape is ASCII, so this is always `Ok`.
            push(std::str::from_utf8(&unicode).unwrap_or_default());
        } else {
            push(short);
        }
        copied_to = i + 1;
    }
    push(&value[copied_to..]);
}
