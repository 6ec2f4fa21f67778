//! The keyword engine: parses templates with `%keyword^modifier:arg%` replacements and renders
//! them against a set of values. Pure: no I/O.
//!
//! # Grammar
//!
//! A keyword is `%name%` or `%name^mod^mod:arg1:arg2%`, where `name` and each modifier name are
//! `[A-Za-z0-9_]+`. Inside a modifier argument these escapes apply: `\:` for a colon, `\^` for a
//! caret, `\%` for a percent sign and `\\` for one backslash. Any other backslash is kept as
//! written, so a regular expression such as `\s+` or `\d` needs no doubling; a regex anchor `^`
//! is written `\^`, and a regex matching a literal caret `\\\^`. A keyword never spans
//! a line break. Anything that does not match this grammar exactly (a lone `%`, `%two words%`,
//! `%name^%`, a keyword with no closing `%`) is literal text, so [`Template::parse`] never fails.
//!
//! # Rendering
//!
//! - A keyword whose name the [`Lookup`] does not know renders exactly as written (its `raw`
//!   text), so a typo shows in the output. [`is_known_keyword`] lets the host warn beforehand.
//! - Modifiers apply left to right.
//! - An unknown modifier leaves the whole keyword as written, like an unknown keyword: a
//!   half-applied chain would produce a value nobody asked for. [`Template::problems`] lists it.
//! - A known modifier with an argument that cannot work (an invalid or oversized regular
//!   expression, a non-numeric `maxchars`) passes the value through unchanged; it too is listed
//!   by [`Template::problems`] so the host can warn the administrator.
//!
//! # Modifier semantics worth knowing
//!
//! - `eq`, `neq`, `gt`, `lt`, `gte`, `lte` `:compare:if_true:if_false` compare numerically when
//!   both sides are decimal numbers (`1.0` equals `1`, `10` is greater than `9`), and as text
//!   (by Unicode code point) otherwise. `if_true` defaults to `1`, `if_false` to the empty string.
//! - `empty:text` is a default: it gives `text` when the value is empty and the value otherwise.
//!   `notempty:text` gives `text` when the value is not empty and the empty string otherwise.
//!   This is our reading of the Squiz Matrix modifiers of those names ("display this when the
//!   keyword is empty / not empty"). Only the empty string is empty; `0` and spaces are values.
//! - `capitalize` upper-cases the first letter of each whitespace-separated word.
//! - `maxchars:N` keeps the first N characters (not bytes).
//! - `escapequotes` puts a backslash before `"`, `'` and `\`.
//! - `escapehtml` escapes `& < > " '`.
//! - `urlencode` is form encoding (space as `+`, only `A-Za-z0-9-_.` left as is);
//!   `rawurlencode` is RFC 3986 (space as `%20`, `~` left as is).
//! - `base64decode` accepts the standard alphabet with or without padding (and the URL-safe one);
//!   invalid input, or bytes that are not UTF-8 text, give the empty string.
//! - `md5`, `sha1` give lowercase hex of the value's UTF-8 bytes.
//! - `replace:regex:with` replaces every match; `with` may refer to groups as `$1` or `${name}`.
//!   `contains:regex:if_true:if_false` defaults like `eq`. Patterns are compiled once, with size
//!   limits, when the template is parsed.

mod modifiers;
mod parse;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use modifiers::Op;

/// Where keyword values come from. The host implements it over the requesting user and asset.
pub trait Lookup {
    /// The value of keyword `name`, or `None` when there is no such keyword.
    fn lookup(&self, name: &str) -> Option<String>;

    /// The same value, borrowed when the implementation holds it already. Rendering calls this
    /// one, so a map of values is read without copying each value (the JWT signer renders per
    /// request). The default copies through [`Lookup::lookup`]; implementations that store
    /// their values should return them borrowed.
    fn lookup_str(&self, name: &str) -> Option<Cow<'_, str>> {
        self.lookup(name).map(Cow::Owned)
    }
}

impl<S: BuildHasher> Lookup for HashMap<String, String, S> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn lookup_str(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|value| Cow::Borrowed(value.as_str()))
    }
}

impl Lookup for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn lookup_str(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|value| Cow::Borrowed(value.as_str()))
    }
}

/// Whether `name` is a keyword of SPEC §7 (without modifiers). The host uses it to warn about
/// keywords that will never be replaced.
pub fn is_known_keyword(name: &str) -> bool {
    const KNOWN: &[&str] = &[
        "globals_user_assetid",
        "globals_user_name",
        "asset_assetid",
        "asset_name",
        "asset_url",
        "asset_has_write_access",
        "asset_has_admin_access",
    ];
    if let Some(attribute) = name.strip_prefix("globals_user_attribute_") {
        return !attribute.is_empty();
    }
    KNOWN.contains(&name)
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Text copied to the output as it is.
    Literal(String),
    /// A keyword replaced by its (modified) value.
    Keyword(Keyword),
}

/// A parsed keyword such as `%asset_name^uppercase^maxchars:10%`.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyword {
    /// The keyword exactly as written, `%` signs included; an unknown keyword renders as this.
    pub raw: String,
    /// The keyword name, `asset_name` above.
    pub name: String,
    /// The modifiers in the order they apply.
    pub modifiers: Vec<Modifier>,
}

/// One `^name:arg:arg` modifier of a keyword, with its escapes resolved.
#[derive(Debug, Clone)]
pub struct Modifier {
    pub name: String,
    pub args: Vec<String>,
    op: Op,
}

impl PartialEq for Modifier {
    fn eq(&self, other: &Self) -> bool {
        // The compiled form follows from the name and arguments.
        self.name == other.name && self.args == other.args
    }
}

impl Modifier {
    /// Whether this engine knows the modifier's name.
    pub fn is_known(&self) -> bool {
        !matches!(self.op, Op::Unknown)
    }
}

/// A configuration problem in a template, for the host to show as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The modifier is not one of SPEC §7; the keyword renders as written.
    UnknownModifier { keyword: String, modifier: String },
    /// The modifier's arguments cannot work; the value passes through unchanged.
    InvalidArgument {
        keyword: String,
        modifier: String,
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownModifier { keyword, modifier } => write!(
                f,
                "unknown modifier {modifier:?} in {keyword}: the keyword is left as written; \
                 check the spelling against the modifier list"
            ),
            Problem::InvalidArgument {
                keyword,
                modifier,
                reason,
            } => write!(f, "modifier {modifier:?} in {keyword} is ignored: {reason}"),
        }
    }
}

impl Keyword {
    /// Parses the keyword whose opening `%` is at byte `start` of `text`, returning it with the
    /// byte offset just past its closing `%`; `None` when no well-formed keyword starts there.
    /// Other parsers (the JWT claims template) use it to treat keywords as atomic tokens.
    pub fn parse_at(text: &str, start: usize) -> Option<(Keyword, usize)> {
        parse::keyword_at(text, start)
    }

    /// The keyword's modified value, or `None` when it is left as written (an unknown keyword
    /// or an unknown modifier). The value stays borrowed (from `values` or from a modifier's
    /// argument) until a modifier has to change it.
    pub fn value<'a>(&'a self, values: &'a dyn Lookup) -> Option<Cow<'a, str>> {
        self.value_through(&self.modifiers, values)
    }

    /// The value after the first modifiers only (`modifiers` is a prefix of `self.modifiers`),
    /// or `None` when the whole keyword is left as written.
    fn value_through<'a>(
        &'a self,
        modifiers: &'a [Modifier],
        values: &'a dyn Lookup,
    ) -> Option<Cow<'a, str>> {
        if self.modifiers.iter().any(|m| !m.is_known()) {
            return None;
        }
        let mut value = values.lookup_str(&self.name)?;
        for modifier in modifiers {
            value = modifier.op.apply(&modifier.args, value);
        }
        Some(value)
    }

    /// Renders this keyword, appending to `out`.
    pub fn render_into(&self, values: &dyn Lookup, out: &mut String) {
        match self.value(values) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&self.raw),
        }
    }

    /// Renders this keyword, appending its UTF-8 bytes to `out`: the same text as
    /// [`Keyword::render_into`]. A final `json_encode` escapes straight into `out`, with no
    /// escaped copy in between; the claims writer uses this for every string hole.
    ///
    /// Returns whether the appended bytes are `json_encode` output, which is JSON string
    /// content exactly as serde_json writes it, so the caller need not check them again.
    pub(crate) fn render_into_bytes(&self, values: &dyn Lookup, out: &mut Vec<u8>) -> bool {
        if let [init @ .., last] = self.modifiers.as_slice()
            && matches!(last.op, Op::JsonEncode)
        {
            return match self.value_through(init, values) {
                Some(value) => {
                    modifiers::json_escape_into_bytes(&value, out);
                    true
                }
                None => {
                    out.extend_from_slice(self.raw.as_bytes());
                    false
                }
            };
        }
        match self.value(values) {
            Some(value) => out.extend_from_slice(value.as_bytes()),
            None => out.extend_from_slice(self.raw.as_bytes()),
        }
        false
    }

    /// Renders this keyword to a string: its value, or its raw text when left as written.
    pub fn render(&self, values: &dyn Lookup) -> String {
        self.value(values)
            .map_or_else(|| self.raw.clone(), Cow::into_owned)
    }

    /// The configuration problems of this keyword's modifiers.
    pub fn problems(&self) -> impl Iterator<Item = Problem> + '_ {
        self.modifiers.iter().filter_map(|m| match &m.op {
            Op::Unknown => Some(Problem::UnknownModifier {
                keyword: self.raw.clone(),
                modifier: m.name.clone(),
            }),
            Op::Invalid(reason) => Some(Problem::InvalidArgument {
                keyword: self.raw.clone(),
                modifier: m.name.clone(),
                reason: reason.clone(),
            }),
            _ => None,
        })
    }
}

/// A template parsed once and rendered many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `text`. Never fails: malformed pieces are literal text.
    pub fn parse(text: &str) -> Template {
        Template {
            segments: parse::segments(text),
        }
    }

    /// Renders the template against `values`.
    pub fn render(&self, values: &dyn Lookup) -> String {
        let mut out = String::new();
        self.render_into(values, &mut out);
        out
    }

    /// Renders the template against `values`, appending to `out`.
    pub fn render_into(&self, values: &dyn Lookup, out: &mut String) {
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Keyword(keyword) => keyword.render_into(values, out),
            }
        }
    }

    /// The keyword names used, in order of appearance (a name used twice appears twice).
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Keyword(k) => Some(k.name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The parsed pieces of the template.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Unknown modifiers and unusable modifier arguments, for the host to warn about.
    pub fn problems(&self) -> Vec<Problem> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Keyword(k) => Some(k.problems()),
                Segment::Literal(_) => None,
            })
            .flatten()
            .collect()
    }

    /// The names of unknown modifiers used, in order of appearance.
    pub fn unknown_modifiers(&self) -> impl Iterator<Item = &str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Keyword(k) => Some(k.modifiers.iter()),
                Segment::Literal(_) => None,
            })
            .flatten()
            .filter(|m| !m.is_known())
            .map(|m| m.name.as_str())
    }
}

#[cfg(test)]
mod tests;
