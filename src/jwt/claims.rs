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
//!   `^json_encode` output always fits.
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
    },
    /// A bare value containing keywords, which must render to one JSON scalar.
    Bare {
        claim: String,
        pieces: Vec<Piece>,
    },
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
}

/// A payload template compiled once and rendered for every token.
#[derive(Debug, Clone)]
pub struct ClaimsTemplate {
    members: Vec<(String, Node)>,
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
        render_members(&self.members, values, &mut scratch)
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

fn render_members(
    members: &[(String, Node)],
    values: &dyn Lookup,
    scratch: &mut String,
) -> Result<Map<String, Value>, ClaimsError> {
    let mut map = Map::with_capacity(members.len());
    for (key, node) in members {
        map.insert(key.clone(), render_node(node, values, scratch)?);
    }
    Ok(map)
}

fn render_node(
    node: &Node,
    values: &dyn Lookup,
    scratch: &mut String,
) -> Result<Value, ClaimsError> {
    match node {
        Node::Const(value) => Ok(value.clone()),
        Node::Object(members) => Ok(Value::Object(render_members(members, values, scratch)?)),
        Node::Array(items) => items
            .iter()
            .map(|item| render_node(item, values, scratch))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Str { claim, pieces } => {
            scratch.clear();
            scratch.push('"');
            let content_start = scratch.len();
            render_pieces(pieces, values, scratch);
            let content_end = scratch.len();
            scratch.push('"');
            // serde_json reads exactly one string here; an unescaped quote in the content ends it
            // early and leaves trailing text, which it refuses, so no value can escape the string.
            serde_json::from_str::<String>(scratch)
                .map(Value::String)
                .map_err(|_| ClaimsError::Render {
                    claim: claim.clone(),
                    message: format!(
                        "payload string for {claim:?} rendered to {:?}, which is not valid JSON \
                         string content (an unescaped quote, backslash or control character): \
                         add ^json_encode to its keywords",
                        shorten(&scratch[content_start..content_end])
                    ),
                })
        }
        Node::Bare { claim, pieces } => {
            scratch.clear();
            render_pieces(pieces, values, scratch);
            // serde_json refuses trailing text, so two values or a value plus more claims fail
            // here; objects and arrays parse but are refused, since they would add structure.
            match serde_json::from_str::<Value>(scratch) {
                Ok(value) if !value.is_object() && !value.is_array() => Ok(value),
                _ => Err(ClaimsError::Render {
                    claim: claim.clone(),
                    message: format!(
                        "payload value for {claim:?} rendered to {:?}, which is not one JSON \
                         value: check the keyword and its modifiers",
                        shorten(scratch)
                    ),
                }),
            }
        }
    }
}

fn render_pieces(pieces: &[Piece], values: &dyn Lookup, out: &mut String) {
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Hole(keyword) => keyword.render_into(values, out),
        }
    }
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
    fn members(
        &mut self,
        close: Option<u8>,
        path: &str,
    ) -> Result<Vec<(String, Node)>, ClaimsError> {
        let mut members: Vec<(String, Node)> = Vec::new();
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
            if members.iter().any(|(k, _)| *k == key) {
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
            let value = self.value(&claim)?;
            members.push((key, value));
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
                        if text_from < self.pos {
                            pieces.push(Piece::Text(self.src[text_from..self.pos].to_owned()));
                        }
                        self.keywords.push(keyword.clone());
                        pieces.push(Piece::Hole(keyword));
                        self.pos = end;
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
            return Ok(Node::Str {
                claim: claim.to_owned(),
                pieces,
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
                        if text_from < self.pos {
                            pieces.push(Piece::Text(self.src[text_from..self.pos].to_owned()));
                        }
                        self.keywords.push(keyword.clone());
                        pieces.push(Piece::Hole(keyword));
                        self.pos = end;
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
