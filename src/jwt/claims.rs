//! The claims template: turns the administrator's payload template into a JSON object whose
//! structure keyword values cannot change.
//!
//! # Why a parser and not text substitution
//!
//! Substituting keyword values into the payload text and parsing the result lets a value such as
//! `", "admin": true, "x": "` add claims. Instead the template is parsed once, by a small JSON
//! parser in which keywords are atomic tokens, into a tree with keyword *holes*:
//!
//! - Object keys must be literal strings; a keyword in a key is refused at compile time, and so is
//!   a key written twice in the same object.
//! - Inside a string literal a keyword's rendered text is string *content*: the completed string
//!   (literal text and rendered keywords, with JSON escapes) must be valid JSON string content, so
//!   an unescaped `"` or a raw control character from a value is a render error, while
//!   `^json_encode` output always fits. A keyword inside a string may not contain a double quote
//!   in its arguments, since JSON would read that quote as the end of the string; such keywords
//!   belong in a bare value position, as in `"claim": %name^eq:1:"yes":"no"%`.
//! - In a bare value position the rendered text (keywords plus adjacent literal text) must be
//!   exactly one JSON scalar: a number, `true`, `false`, `null` or one complete string literal.
//!
//! Rendering then builds the output from the template's tree, so every key comes from the
//! template: a keyword value can change a claim's value, never which claims exist (SPEC §7).
//!
//! The outer braces are optional. Trailing commas and other JSON syntax errors are refused with
//! the line and column and a hint.

use serde_json::{Map, Value};
use thiserror::Error;

use crate::keywords::{Keyword, Lookup, Problem};

/// Why a payload template cannot make claims.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClaimsError {
    /// The template itself is not a valid claims template; no value can fix it.
    #[error("payload template, line {line} column {column}: {message}")]
    Template {
        line: usize,
        column: usize,
        message: String,
    },
    /// A keyword rendered to something that does not fit where it stands.
    #[error("{message}")]
    Render {
        /// The claim path, such as `admin` or `address.city` or `roles[0]`.
        claim: String,
        message: String,
    },
}

/// A piece of a string literal or bare value: template text or a keyword hole.
#[derive(Debug, Clone)]
enum Piece {
    /// Template text exactly as written (for strings: JSON source text, escapes included).
    Text(String),
    Hole(Keyword),
}

#[derive(Debug, Clone)]
enum Node {
    /// A value with no keywords, parsed once.
    Const(Value),
    /// A string literal containing keywords.
    Str {
        claim: String,
        pieces: Vec<Piece>,
        /// Whether every text piece is canonical JSON string content ([`is_canonical`]), so
        /// that the rendered content needs no check when every hole ends in `json_encode`.
        texts_canonical: bool,
    },
    /// A bare value containing keywords, which must render to one JSON scalar.
    Bare {
        claim: String,
        pieces: Vec<Piece>,
    },
    Object(Vec<Member>),
    Array(Vec<Node>),
}

/// One `"name": value` pair of an object in the template.
#[derive(Debug, Clone)]
struct Member {
    key: String,
    /// The key serialised as a JSON string, quotes included, so rendering only copies it.
    key_json: String,
    node: Node,
}

/// A payload template compiled once and rendered for every token.
#[derive(Debug, Clone)]
pub struct ClaimsTemplate {
    members: Vec<Member>,
    keywords: Vec<Keyword>,
}

impl ClaimsTemplate {
    /// Compiles a payload template (a JSON object, its outer braces optional, with keywords).
    pub fn compile(template: &str) -> Result<ClaimsTemplate, ClaimsError> {
        let mut parser = Parser {
            src: template,
            pos: 0,
            keywords: Vec::new(),
        };
        parser.skip_ws();
        let members = match parser.peek() {
            Some(b'{') => {
                parser.pos += 1;
                let members = parser.members(Some(b'}'), "")?;
                parser.skip_ws();
                if parser.peek().is_some() {
                    return Err(parser.error(
                        "unexpected text after the closing brace of the payload: remove it, \
                         or put it inside the braces",
                    ));
                }
                members
            }
            Some(b'[') => {
                return Err(parser.error(
                    "the payload must be a JSON object of claims, not an array: \
                     write \"name\": value pairs",
                ));
            }
            _ => parser.members(None, "")?,
        };
        Ok(ClaimsTemplate {
            members,
            keywords: parser.keywords,
        })
    }

    /// Renders the claims for one request, keeping the template's key order.
    pub fn render(&self, values: &dyn Lookup) -> Result<Map<String, Value>, ClaimsError> {
        let mut scratch = String::new();
        let mut claims = Map::with_capacity(self.members.len() + 2);
        // Room for the `iat` and `exp` that `issue` adds, so it never has to grow the map.
        render_members_into(&self.members, values, &mut scratch, &mut claims)?;
        Ok(claims)
    }

    /// Writes the claims as compact JSON to `out`, with `iat` = `now` and, when an expiry is set,
    /// `exp` = `now + expiry`, without building a [`Map`]. The bytes are exactly what
    /// [`crate::jwt::issue`] signs for `self.render(values)`, with the same errors; this is the
    /// per-request fast path behind [`crate::jwt::issue_from_template`].
    pub fn write_claims_json(
        &self,
        values: &dyn Lookup,
        now: i64,
        expiry: Option<u64>,
        out: &mut Vec<u8>,
    ) -> Result<(), ClaimsError> {
        let exp = expiry.map(|e| now.saturating_add(i64::try_from(e).unwrap_or(i64::MAX)));
        let mut scratch = String::new();
        let (mut wrote_iat, mut wrote_exp) = (false, false);
        out.push(b'{');
        for (
            i,
            Member {
                key,
                key_json,
                node,
            },
        ) in self.members.iter().enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key_json.as_bytes());
            out.push(b':');
            // Like `Map::insert` in `issue`, `iat` and `exp` replace a template value in place.
            // The template value is still rendered so that both paths fail alike.
            let replacement = match (key.as_str(), exp) {
                ("iat", _) => Some(now),
                ("exp", Some(exp)) => Some(exp),
                _ => None,
            };
            match replacement {
                Some(n) => {
                    write_node(node, values, &mut scratch, &mut Vec::new())?;
                    write_i64(out, n);
                    wrote_iat |= key == "iat";
                    wrote_exp |= key == "exp";
                }
                None => write_node(node, values, &mut scratch, out)?,
            }
        }
        let mut extra = |name_json: &[u8], n: i64| {
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(name_json);
            write_i64(out, n);
        };
        if !wrote_iat {
            extra(br#""iat":"#, now);
        }
        if let Some(exp) = exp
            && !wrote_exp
        {
            extra(br#""exp":"#, exp);
        }
        out.push(b'}');
        Ok(())
    }

    /// The keyword names used, in order of appearance.
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.keywords.iter().map(|k| k.name.as_str())
    }

    /// Unknown modifiers and unusable modifier arguments in the template's keywords.
    pub fn problems(&self) -> Vec<Problem> {
        self.keywords.iter().flat_map(Keyword::problems).collect()
    }
}

fn render_members_into(
    members: &[Member],
    values: &dyn Lookup,
    scratch: &mut String,
    map: &mut Map<String, Value>,
) -> Result<(), ClaimsError> {
    for member in members {
        map.insert(
            member.key.clone(),
            render_node(&member.node, values, scratch)?,
        );
    }
    Ok(())
}

fn render_node(
    node: &Node,
    values: &dyn Lookup,
    scratch: &mut String,
) -> Result<Value, ClaimsError> {
    match node {
        Node::Const(value) => Ok(value.clone()),
        Node::Object(members) => {
            let mut map = Map::with_capacity(members.len());
            render_members_into(members, values, scratch, &mut map)?;
            Ok(Value::Object(map))
        }
        Node::Array(items) => items
            .iter()
            .map(|item| render_node(item, values, scratch))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Str { claim, pieces, .. } => {
            string_value(render_pieces(pieces, values), claim, scratch)
        }
        Node::Bare { claim, pieces } => bare_value(render_pieces(pieces, values), claim),
    }
}

/// Writes `node` as compact JSON, byte for byte as serde_json would serialise its rendered value.
fn write_node(
    node: &Node,
    values: &dyn Lookup,
    scratch: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), ClaimsError> {
    match node {
        Node::Const(value) => write_value(out, value),
        Node::Object(members) => {
            out.push(b'{');
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(member.key_json.as_bytes());
                out.push(b':');
                write_node(&member.node, values, scratch, out)?;
            }
            out.push(b'}');
        }
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_node(item, values, scratch, out)?;
            }
            out.push(b']');
        }
        Node::Str {
            claim,
            pieces,
            texts_canonical,
        } => {
            // The content is rendered straight into `out` after the opening quote. If it is
            // canonical, it is exactly what serde_json would write for its value and only the
            // closing quote is missing; otherwise it is taken back out and goes the general way.
            // Canonical pieces make canonical content, since no escape spans two pieces (the
            // template's text holds whole escapes and `json_encode` writes whole escapes), so
            // the check is needed only when some piece is not known to be canonical.
            let quote_at = out.len();
            out.push(b'"');
            let mut known_canonical = *texts_canonical;
            for piece in pieces {
                match piece {
                    Piece::Text(text) => out.extend_from_slice(text.as_bytes()),
                    Piece::Hole(keyword) => {
                        known_canonical &= keyword.render_into_bytes(values, out);
                    }
                }
            }
            if known_canonical || is_canonical(&out[quote_at + 1..]) {
                out.push(b'"');
            } else {
                // Every piece appended was a `&str`, so the content is UTF-8.
                let content = String::from_utf8_lossy(&out[quote_at + 1..]).into_owned();
                out.truncate(quote_at);
                write_value(out, &string_value(content, claim, scratch)?);
            }
        }
        Node::Bare { claim, pieces } => {
            if let [Piece::Hole(keyword)] = pieces.as_slice()
                && let Some(value) = keyword.value(values)
                && let Some(json) = bare_literal(&value)
            {
                out.extend_from_slice(json.as_bytes());
            } else {
                write_value(out, &bare_value(render_pieces(pieces, values), claim)?);
            }
        }
    }
    Ok(())
}

/// The JSON that serde_json writes for `bare_value(text)`, when that is `text` itself, trimmed:
/// `true`, `false`, `null`, or an unsigned integer of at most 19 digits without a leading zero
/// (which serde_json reads as a `u64` and writes back digit for digit). `None` sends the text
/// the general way, through serde_json; this only spares that round trip for the common cases.
fn bare_literal(text: &str) -> Option<&str> {
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    let bytes = trimmed.as_bytes();
    let integer = match bytes {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.len() < 19 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    (integer || matches!(trimmed, "true" | "false" | "null")).then_some(trimmed)
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    // Writing JSON values to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Writes `n` in decimal, as serde_json would, without going through `fmt`. Two digits are
/// made per division, which halves the work for the ten-digit times written on every token.
fn write_i64(out: &mut Vec<u8>, n: i64) {
    const PAIRS: &[u8; 200] = b"\
        0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    while rest >= 100 {
        let pair = usize::try_from(rest % 100).unwrap_or(0) * 2;
        rest /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    // `rest` is now below 100: one digit, or two.
    let pair = usize::try_from(rest).unwrap_or(0) * 2;
    if rest >= 10 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = PAIRS[pair + 1];
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Whether `content` is valid JSON string content written exactly as serde_json writes it: no
/// raw quote or control character, and only the escapes serde_json itself uses (`\"`, `\\`,
/// `\b`, `\f`, `\n`, `\r`, `\t`, and `\u00xx` in lowercase for other control characters).
/// `^json_encode` output always is, so it can be copied to the payload without re-parsing.
/// It takes the bytes of a `str`, as the claims writer holds them.
fn is_canonical(content: impl AsRef<[u8]>) -> bool {
    let bytes = content.as_ref();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return false,
            b if b < 0x20 => return false,
            b'\\' => match bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let Some(&[b'0', b'0', hi, lo]) = bytes.get(i + 2..i + 6) else {
                        return false;
                    };
                    let hex = |d: u8| match d {
                        b'0'..=b'9' => Some(d - b'0'),
                        b'a'..=b'f' => Some(d - b'a' + 10),
                        _ => None,
                    };
                    let (Some(hi), Some(lo)) = (hex(hi), hex(lo)) else {
                        return false;
                    };
                    let code = hi * 16 + lo;
                    // Characters with a short escape, and non-control ones, are written otherwise.
                    if code >= 0x20 || matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                        return false;
                    }
                    i += 6;
                }
                _ => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// Whether `content` needs no JSON escaping: no quote, backslash or control character.
fn is_plain(content: &str) -> bool {
    !content.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Turns the rendered content of a string literal into its value, refusing content that is not
/// valid JSON string content.
fn string_value(content: String, claim: &str, scratch: &mut String) -> Result<Value, ClaimsError> {
    // Content without quotes, backslashes or control characters is its own value: no escapes to
    // resolve and nothing that could end the string. This is the common case and costs no copy.
    if is_plain(&content) {
        return Ok(Value::String(content));
    }
    scratch.clear();
    scratch.push('"');
    scratch.push_str(&content);
    scratch.push('"');
    // serde_json reads exactly one string here; an unescaped quote in the content ends it early
    // and leaves trailing text, which it refuses, so no value can escape the string.
    serde_json::from_str::<String>(scratch)
        .map(Value::String)
        .map_err(|_| ClaimsError::Render {
            claim: claim.to_owned(),
            message: format!(
                "payload string for {claim:?} rendered to {:?}, which is not valid JSON string \
                 content (an unescaped quote, backslash or control character): add ^json_encode \
                 to its keywords",
                shorten(&content)
            ),
        })
}

/// Turns the rendered text of a bare value into exactly one JSON scalar.
fn bare_value(text: String, claim: &str) -> Result<Value, ClaimsError> {
    match text.trim_matches([' ', '\t', '\n', '\r']) {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        "null" => return Ok(Value::Null),
        _ => {}
    }
    // serde_json refuses trailing text, so two values or a value plus more claims fail here;
    // objects and arrays parse but are refused, since they would add structure.
    match serde_json::from_str::<Value>(&text) {
        Ok(value) if !value.is_object() && !value.is_array() => Ok(value),
        _ => Err(ClaimsError::Render {
            claim: claim.to_owned(),
            message: format!(
                "payload value for {claim:?} rendered to {:?}, which is not one JSON value: \
                 check the keyword and its modifiers",
                shorten(&text)
            ),
        }),
    }
}

/// Renders literal text and keywords; a lone keyword's value is returned without a copy.
fn render_pieces(pieces: &[Piece], values: &dyn Lookup) -> String {
    if let [Piece::Hole(keyword)] = pieces {
        return keyword.render(values);
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Hole(keyword) => keyword.render_into(values, &mut out),
        }
    }
    out
}

/// Cuts rendered text for an error message, on a character boundary.
fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A recursive-descent parser over the template text in which keywords are atomic tokens.
struct Parser<'a> {
    src: &'a str,
    pos: usize,
    keywords: Vec<Keyword>,
}

impl Parser<'_> {
    /// Ends the text piece that runs from `text_from` to the keyword at the current position,
    /// adds the keyword as a hole, and moves past it to `end`.
    fn push_hole(
        &mut self,
        pieces: &mut Vec<Piece>,
        text_from: usize,
        keyword: Keyword,
        end: usize,
    ) {
        if text_from < self.pos {
            pieces.push(Piece::Text(self.src[text_from..self.pos].to_owned()));
        }
        self.keywords.push(keyword.clone());
        pieces.push(Piece::Hole(keyword));
        self.pos = end;
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> ClaimsError {
        let before = &self.src[..pos.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ClaimsError::Template {
            line,
            column,
            message: message.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> ClaimsError {
        self.error_at(self.pos, message)
    }

    /// What stands at the current position, for messages.
    fn found(&self) -> String {
        match self.src[self.pos..].chars().next() {
            None => "the end of the payload".to_owned(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// Parses `"name": value` pairs up to `close` (or the end of the text when `close` is
    /// `None`, for a payload written without its outer braces). The opening brace is consumed.
    fn members(&mut self, close: Option<u8>, path: &str) -> Result<Vec<Member>, ClaimsError> {
        let mut members: Vec<Member> = Vec::new();
        let mut comma_at: Option<usize> = None;
        loop {
            self.skip_ws();
            if self.peek() == close {
                if let Some(at) = comma_at {
                    return Err(self.error_at(
                        at,
                        "trailing comma after the last claim: remove it (JSON allows no comma \
                         before a closing brace)",
                    ));
                }
                if close.is_some() {
                    self.pos += 1;
                }
                return Ok(members);
            }
            if self.peek() != Some(b'"') {
                return Err(self.error(format!(
                    "expected a claim name in double quotes, found {}: write \"name\": value",
                    self.found()
                )));
            }
            let key_at = self.pos;
            let key = self.key()?;
            if members.iter().any(|m| m.key == key) {
                return Err(self.error_at(
                    key_at,
                    format!("claim {key:?} is written twice: keep one of them"),
                ));
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error(format!(
                    "expected ':' after the claim name {key:?}, found {}",
                    self.found()
                )));
            }
            self.pos += 1;
            let claim = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let node = self.value(&claim)?;
            let key_json = serde_json::to_string(&key).unwrap_or_default();
            members.push(Member {
                key,
                key_json,
                node,
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    comma_at = Some(self.pos);
                    self.pos += 1;
                }
                next if next == close => comma_at = None,
                _ => {
                    let closer = if close.is_some() { " or '}'" } else { "" };
                    return Err(self.error(format!(
                        "expected ','{closer} after the value of {claim:?}, found {}: \
                         separate claims with commas",
                        self.found()
                    )));
                }
            }
        }
    }

    fn value(&mut self, claim: &str) -> Result<Node, ClaimsError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                Ok(Node::Object(self.members(Some(b'}'), claim)?))
            }
            Some(b'[') => {
                self.pos += 1;
                self.array(claim)
            }
            Some(b'"') => self.string(claim),
            _ => self.bare(claim),
        }
    }

    fn array(&mut self, claim: &str) -> Result<Node, ClaimsError> {
        let mut items = Vec::new();
        let mut comma_at: Option<usize> = None;
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                if let Some(at) = comma_at {
                    return Err(self.error_at(
                        at,
                        format!("trailing comma in the list {claim:?}: remove it"),
                    ));
                }
                self.pos += 1;
                return Ok(Node::Array(items));
            }
            let item_claim = format!("{claim}[{}]", items.len());
            items.push(self.value(&item_claim)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    comma_at = Some(self.pos);
                    self.pos += 1;
                }
                Some(b']') => comma_at = None,
                _ => {
                    return Err(self.error(format!(
                        "expected ',' or ']' after {item_claim:?}, found {}",
                        self.found()
                    )));
                }
            }
        }
    }

    /// Reads a string literal as pieces of JSON source text and keywords; the opening quote is at
    /// the current position. JSON escapes are checked here; they are resolved by serde_json.
    fn string_pieces(&mut self, in_key: bool) -> Result<Vec<Piece>, ClaimsError> {
        let open_at = self.pos;
        self.pos += 1;
        let bytes = self.src.as_bytes();
        let mut pieces = Vec::new();
        let mut text_from = self.pos;
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                return Err(
                    self.error_at(open_at, "this string has no closing double quote: add one")
                );
            };
            match b {
                b'"' => {
                    if text_from < self.pos {
                        pieces.push(Piece::Text(self.src[text_from..self.pos].to_owned()));
                    }
                    self.pos += 1;
                    return Ok(pieces);
                }
                b'\\' => {
                    match bytes.get(self.pos + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                        Some(b'u')
                            if bytes
                                .get(self.pos + 2..self.pos + 6)
                                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) => {}
                        _ => {
                            return Err(self.error(
                                "invalid escape in a string: JSON allows \\\" \\\\ \\/ \\b \\f \
                                 \\n \\r \\t and \\uXXXX",
                            ));
                        }
                    }
                    self.pos += 2;
                }
                b'%' => match Keyword::parse_at(self.src, self.pos) {
                    Some((keyword, end)) => {
                        if in_key {
                            return Err(self.error(format!(
                                "keyword {} in a claim name: claim names must be written out, \
                                 keywords may only stand in values",
                                keyword.raw
                            )));
                        }
                        // Read as JSON, that quote would end the string, so a keyword holding
                        // one would silently swallow whatever the author meant to follow it.
                        if keyword.raw.contains('"') {
                            return Err(self.error(format!(
                                "keyword {} inside a string contains a double quote, which would \
                                 end the string: write the keyword outside the quotes, as in \
                                 \"claim\": %name^eq:1:\"yes\":\"no\"%",
                                keyword.raw
                            )));
                        }
                        self.push_hole(&mut pieces, text_from, keyword, end);
                        text_from = end;
                    }
                    None => self.pos += 1,
                },
                b if b < 0x20 => {
                    return Err(self.error(
                        "line break or control character inside a string: \
                         close the string first, or write it as an escape such as \\n",
                    ));
                }
                _ => self.pos += 1,
            }
        }
    }

    fn key(&mut self) -> Result<String, ClaimsError> {
        let at = self.pos;
        let pieces = self.string_pieces(true)?;
        let source = match pieces.as_slice() {
            [] => String::new(),
            [Piece::Text(text)] => text.clone(),
            _ => unreachable!("keys never contain keywords"),
        };
        serde_json::from_str::<String>(&format!("\"{source}\""))
            .map_err(|e| self.error_at(at, format!("invalid claim name: {e}")))
    }

    fn string(&mut self, claim: &str) -> Result<Node, ClaimsError> {
        let at = self.pos;
        let pieces = self.string_pieces(false)?;
        if pieces.iter().any(|p| matches!(p, Piece::Hole(_))) {
            let texts_canonical = pieces.iter().all(|p| match p {
                Piece::Text(text) => is_canonical(text),
                Piece::Hole(_) => true,
            });
            return Ok(Node::Str {
                claim: claim.to_owned(),
                pieces,
                texts_canonical,
            });
        }
        let source: String = pieces
            .iter()
            .map(|p| match p {
                Piece::Text(text) => text.as_str(),
                Piece::Hole(_) => "",
            })
            .collect();
        serde_json::from_str::<String>(&format!("\"{source}\""))
            .map(|s| Node::Const(Value::String(s)))
            .map_err(|e| self.error_at(at, format!("invalid string for {claim:?}: {e}")))
    }

    /// Reads a bare value: a run of keywords and characters up to whitespace or a delimiter.
    fn bare(&mut self, claim: &str) -> Result<Node, ClaimsError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut pieces = Vec::new();
        let mut text_from = self.pos;
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b'}' | b']' | b'{' | b'[' | b'"' | b':' => {
                    break;
                }
                b'%' => match Keyword::parse_at(self.src, self.pos) {
                    Some((keyword, end)) => {
                        self.push_hole(&mut pieces, text_from, keyword, end);
                        text_from = end;
                    }
                    None => self.pos += 1,
                },
                _ => self.pos += 1,
            }
        }
        if text_from < self.pos {
            pieces.push(Piece::Text(self.src[text_from..self.pos].to_owned()));
        }
        if self.pos == start {
            return Err(self.error(format!(
                "missing value for {claim:?}, found {}: write a value such as \"text\", 1, true \
                 or a keyword",
                self.found()
            )));
        }
        if pieces.iter().any(|p| matches!(p, Piece::Hole(_))) {
            return Ok(Node::Bare {
                claim: claim.to_owned(),
                pieces,
            });
        }
        let text = &self.src[start..self.pos];
        match serde_json::from_str::<Value>(text) {
            Ok(value) if !value.is_object() && !value.is_array() => Ok(Node::Const(value)),
            _ => Err(self.error_at(
                start,
                format!(
                    "{text:?} is not a JSON value for {claim:?}: write a number, true, false, \
                     null, a \"quoted string\" or a keyword"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
