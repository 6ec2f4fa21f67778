//! The `folder` and `page` behaviours: small HTML documents. A folder lists its live children
//! that the requester can read and that are shown in menus; a page renders its content with
//! keyword replacement.

use std::fmt::Write;

use rusqlite::Connection;

use super::{Outcome, Requester, Target};
use crate::assets::{LinkType, Status};
use crate::error::Result;
use crate::keywords::{Lookup, Segment, Template};
use crate::perms::{self, Perm};
use crate::store;

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{body}\n</body>\n</html>\n",
        escape_html(title)
    )
}

pub(super) fn folder(conn: &Connection, req: &Requester<'_>, target: &Target) -> Result<Outcome> {
    let asset = &target.asset;
    let base = target.path.trim_end_matches('/');
    let mut body = format!("<h1>{}</h1>\n<ul>\n", escape_html(&asset.name));
    for child in store::assets::children(conn, asset.id)? {
        let listed = child.link_type == LinkType::Menu
            && child.status == Status::Live
            && perms::has(conn, req.actor, child.id, Perm::Read)?;
        if listed {
            let _ = writeln!(
                body,
                "<li><a href=\"{base}/{}\">{}</a></li>",
                escape_html(&child.segment),
                escape_html(&child.name)
            );
        }
    }
    body.push_str("</ul>");
    Ok(Outcome::Html(document(&asset.name, &body)))
}

pub(super) fn page(target: &Target, values: &dyn Lookup) -> Outcome {
    // The content is the administrator's HTML; the values put into it come from users, so each
    // keyword's output is escaped as it is inserted (after its modifiers ran on the raw value).
    let content = target.attributes.get("content").map_or("", String::as_str);
    let mut rendered = String::with_capacity(content.len());
    for segment in Template::parse(content).segments() {
        match segment {
            Segment::Literal(text) => rendered.push_str(text),
            Segment::Keyword(keyword) => rendered.push_str(&escape_html(&keyword.render(values))),
        }
    }
    Outcome::Html(document(&target.asset.name, &rendered))
}
