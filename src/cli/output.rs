//! Human-readable output of the command line. The `--json` output is the serde form of the
//! same values.

use std::fmt::Write;

use crate::assets::AssetView;
use crate::users::UserView;

pub fn time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

pub fn asset(a: &AssetView) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "id:         {}", a.id);
    let _ = writeln!(s, "type:       {}", a.type_code);
    let _ = writeln!(s, "name:       {}", a.name);
    let _ = writeln!(
        s,
        "path:       {}{}",
        a.path,
        if a.in_trash { " (in the trash)" } else { "" }
    );
    let _ = writeln!(s, "status:     {}", a.status);
    let _ = writeln!(s, "link type:  {}", a.link_type);
    let _ = writeln!(
        s,
        "created:    {}{}",
        time(a.created_at),
        a.created_by
            .as_ref()
            .map(|u| format!(" by {u}"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "updated:    {}", time(a.updated_at));
    if let Some(v) = &a.type_version {
        let _ = writeln!(s, "type version: {v}");
    }
    if !a.attributes.is_empty() {
        let _ = writeln!(s, "attributes:");
        for (k, v) in &a.attributes {
            if v.contains('\n') {
                let _ = writeln!(s, "  {k}:");
                for line in v.lines() {
                    let _ = writeln!(s, "    {line}");
                }
            } else {
                let _ = writeln!(s, "  {k}: {v}");
            }
        }
    }
    s
}

pub fn tree(assets: &[AssetView]) -> String {
    let mut s = String::new();
    for a in assets {
        let _ = writeln!(
            s,
            "{}{} [{}] {} {}{}",
            "  ".repeat(a.depth),
            a.id,
            a.type_code,
            a.path,
            a.name,
            if a.status == "live" {
                String::new()
            } else {
                format!(" ({})", a.status)
            }
        );
    }
    s
}

pub fn trash(assets: &[AssetView]) -> String {
    if assets.is_empty() {
        return "the trash is empty".into();
    }
    let mut s = String::new();
    for a in assets {
        let _ = writeln!(
            s,
            "{} [{}] {} (was {}, trashed {})",
            a.id,
            a.type_code,
            a.name,
            a.path,
            a.trashed_at.map(time).unwrap_or_default()
        );
    }
    s
}

pub fn user(u: &UserView) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "name:    {}", u.name);
    let _ = writeln!(s, "level:   {}", u.level);
    let _ = writeln!(s, "created: {}", time(u.created_at));
    for (k, v) in &u.attributes {
        let _ = writeln!(s, "  {k}: {v}");
    }
    s
}

pub fn user_list(users: &[UserView]) -> String {
    users
        .iter()
        .map(|u| format!("{:<24} {}\n", u.name, u.level))
        .collect()
}
