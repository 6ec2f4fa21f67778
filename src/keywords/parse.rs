//! The keyword grammar: recognises one `%name^modifier:arg^modifier%` keyword at a given position
//! and splits a whole template into literal text and keywords. Everything that does not match the
//! grammar exactly is literal text, so parsing never fails.

use super::modifiers::Op;
use super::{Keyword, Modifier, Segment};

/// Returns the end of a run of `[A-Za-z0-9_]` starting at `start`.
fn ident_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    i
}

/// Parses the keyword whose opening `%` is at byte `start` of `text`.
///
/// Returns the keyword and the byte offset just past its closing `%`, or `None` when the text at
/// `start` is not a well-formed keyword (the caller then treats the `%` as literal text).
pub(crate) fn keyword_at(text: &str, start: usize) -> Option<(Keyword, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(start) != Some(&b'%') {
        return None;
    }
    let name_start = start + 1;
    let name_end = ident_end(bytes, name_start);
    if name_end == name_start {
        return None;
    }
    let mut i = name_end;
    let mut modifiers = Vec::new();
    loop {
        match bytes.get(i) {
            Some(b'%') => {
                i += 1;
                break;
            }
            Some(b'^') => {
                let mod_start = i + 1;
                let mod_end = ident_end(bytes, mod_start);
                if mod_end == mod_start {
                    return None;
                }
                i = mod_end;
                let mut args = Vec::new();
                while bytes.get(i) == Some(&b':') {
                    i += 1;
                    let (arg, next) = argument(text, i)?;
                    args.push(arg);
                    i = next;
                }
                let name = text[mod_start..mod_end].to_owned();
                let op = Op::compile(&name, &args);
                modifiers.push(Modifier { name, args, op });
            }
            _ => return None,
        }
    }
    let keyword = Keyword {
        raw: text[start..i].to_owned(),
        name: text[name_start..name_end].to_owned(),
        modifiers,
    };
    Some((keyword, i))
}

/// Reads one modifier argument starting at byte `start`, resolving the escapes `\:`, `\^`, `\%`
/// and `\\`. Any other backslash is kept as written, so regular expressions such as `\s+` need no
/// doubling. Returns `None` at the end of the text or at a line break: a keyword never spans lines,
/// which keeps a stray `%` in one line from swallowing the next.
fn argument(text: &str, start: usize) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let mut arg = String::new();
    let mut i = start;
    loop {
        match *bytes.get(i)? {
            b':' | b'^' | b'%' => return Some((arg, i)),
            b'\n' | b'\r' => return None,
            b'\\' => match bytes.get(i + 1) {
                Some(&c @ (b':' | b'^' | b'%' | b'\\')) => {
                    arg.push(c as char);
                    i += 2;
                }
                _ => {
                    arg.push('\\');
                    i += 1;
                }
            },
            _ => {
                // `i` is always on a char boundary here: every other branch advances over ASCII.
                let ch = text[i..].chars().next()?;
                arg.push(ch);
                i += ch.len_utf8();
            }
        }
    }
}

/// Splits `text` into literal text and keywords, merging adjacent literal pieces.
pub(crate) fn segments(text: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut copied_to = 0;
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find('%') {
        let at = search_from + offset;
        match keyword_at(text, at) {
            Some((keyword, end)) => {
                literal.push_str(&text[copied_to..at]);
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Keyword(keyword));
                copied_to = end;
                search_from = end;
            }
            None => search_from = at + 1,
        }
    }
    literal.push_str(&text[copied_to..]);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    segments
}
