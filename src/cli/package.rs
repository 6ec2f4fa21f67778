//! The `package` commands.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Serialize;

use super::Globals;
use super::args::{ArchiveOp, PackageCmd};
use super::output;
use crate::assets;
use crate::error::Error;
use crate::instance::Instance;
use crate::packages::archive::{self, Limits};
use crate::packages::manifest::Manifest;
use crate::packages::ops::{self, Action, Plan};
use crate::store;
use crate::users::Actor;

pub fn run(ctx: &Globals, cmd: PackageCmd) -> anyhow::Result<()> {
    match cmd {
        PackageCmd::Build { dir, output } => build(ctx, &dir, output.as_deref())?,
        PackageCmd::Inspect { file } => inspect(ctx, &file)?,
        PackageCmd::Install(op) => operate(ctx, Action::Install, ops::install, &op)?,
        PackageCmd::Upgrade(op) => operate(ctx, Action::Upgrade, ops::upgrade, &op)?,
        PackageCmd::Uninstall { name, dry_run } => {
            let mut instance = ctx.open()?;
            let actor = operator(ctx, &mut instance, Action::Uninstall)?;
            let plan = ops::uninstall(&mut instance, &actor, &name, dry_run)?;
            ctx.print(&plan, plan_text)?;
        }
        PackageCmd::List => {
            let instance = ctx.open()?;
            let list: Vec<PackageView> = store::packages::list(instance.store.conn())?
                .into_iter()
                .map(|p| {
                    let types = Manifest::parse(&p.manifest)
                        .map(|m| m.types.into_iter().map(|t| t.code).collect())
                        .unwrap_or_default();
                    PackageView {
                        name: p.name,
                        version: p.version,
                        description: p.description,
                        sha256: p.sha256,
                        installed_at: output::time(p.installed_at),
                        installed_by: p.installed_by,
                        types,
                    }
                })
                .collect();
            ctx.print(&list, |l| {
                if l.is_empty() {
                    return "no packages are installed".to_owned();
                }
                l.iter()
                    .map(|p| {
                        format!(
                            "{} {}  {}  [{}]\n",
                            p.name,
                            p.version,
                            p.description,
                            p.types.join(", ")
                        )
                    })
                    .collect()
            })?;
        }
        PackageCmd::History { name } => {
            let instance = ctx.open()?;
            // The audit log names who did what: it is for system administrators.
            let actor = ctx.logged_in_actor(&instance, "reading the package history")?;
            crate::perms::require_level(&actor, crate::users::Level::SystemAdministrator, || {
                "reading the package history".into()
            })?;
            let entries: Vec<HistoryView> =
                store::audit::list(instance.store.conn(), name.as_deref())?
                    .into_iter()
                    .map(|e| HistoryView {
                        time: output::time(e.time),
                        user: e.user,
                        action: e.action,
                        package: e.package,
                        from: e.from,
                        to: e.to,
                        sha256: e.sha256,
                        outcome: e.outcome,
                        detail: e.detail,
                    })
                    .collect();
            ctx.print(&entries, |l| {
                if l.is_empty() {
                    return "the history is empty".to_owned();
                }
                l.iter()
                    .map(|e| {
                        format!(
                            "{} {} {} {} {}→{} sha256:{} {}{}\n",
                            e.time,
                            e.user,
                            e.action,
                            e.package.as_deref().unwrap_or("-"),
                            e.from.as_deref().unwrap_or("-"),
                            e.to.as_deref().unwrap_or("-"),
                            e.sha256
                                .as_deref()
                                .map(|s| &s[..s.len().min(12)])
                                .unwrap_or("-"),
                            e.outcome,
                            if e.detail.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", e.detail)
                            }
                        )
                    })
                    .collect()
            })?;
        }
        PackageCmd::Types => {
            let instance = ctx.open()?;
            let types: Vec<TypeView> = assets::all_types(instance.store.conn())?
                .into_iter()
                .map(|t| TypeView {
                    package: t.package.as_ref().map(|p| p.0.clone()),
                    version: t.package.map(|p| p.1),
                    definition: t.definition,
                })
                .collect();
            ctx.print(&types, |l| {
                l.iter()
                    .map(|t| {
                        format!(
                            "{:<20} {:<24} {:<12} {}{}\n",
                            t.definition.code,
                            t.definition.name,
                            t.definition.category,
                            match (&t.package, &t.version) {
                                (Some(p), Some(v)) => format!("from {p} {v}"),
                                _ => "core".to_owned(),
                            },
                            if t.definition.admin_only {
                                ", admin only"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect()
            })?;
        }
    }
    Ok(())
}

/// The signature `ops::install` and `ops::upgrade` share.
type ArchiveOperation =
    fn(&mut Instance, &Actor, &Path, Option<&str>, bool) -> crate::error::Result<Plan>;

/// `package install` and `package upgrade`.
fn operate(
    ctx: &Globals,
    action: Action,
    run: ArchiveOperation,
    op: &ArchiveOp,
) -> anyhow::Result<()> {
    let mut instance = ctx.open()?;
    let actor = operator(ctx, &mut instance, action)?;
    let plan = run(
        &mut instance,
        &actor,
        &op.file,
        op.sha256.as_deref(),
        op.dry_run,
    )?;
    ctx.print(&plan, plan_text)
}

/// Authenticates the acting user of a package operation; a failed authentication is written
/// to the audit log like any other refusal.
fn operator(ctx: &Globals, instance: &mut Instance, action: Action) -> anyhow::Result<Actor> {
    let what = format!("package {}", action.as_str());
    match ctx.logged_in_actor(instance, &what) {
        Ok(actor) => Ok(actor),
        Err(e) => {
            if let (Some(Error::Authentication(_)), Some(name)) =
                (e.downcast_ref::<Error>(), &ctx.as_user)
            {
                let error = Error::Authentication(e.to_string());
                ops::record_failed_authentication(instance, name, action, &error)?;
            }
            Err(e)
        }
    }
}

#[derive(Serialize)]
struct PackageView {
    name: String,
    version: String,
    description: String,
    sha256: String,
    installed_at: String,
    installed_by: String,
    types: Vec<String>,
}

#[derive(Serialize)]
struct HistoryView {
    time: String,
    user: String,
    action: String,
    package: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sha256: Option<String>,
    outcome: String,
    detail: String,
}

#[derive(Serialize)]
struct TypeView {
    package: Option<String>,
    version: Option<String>,
    #[serde(flatten)]
    definition: crate::types::AssetType,
}

fn plan_text(plan: &Plan) -> String {
    let mut s = format!(
        "{} {} {}{}\n",
        if plan.dry_run { "would" } else { "did" },
        plan.action.as_str(),
        plan.package,
        match (&plan.from, &plan.to) {
            (Some(f), Some(t)) => format!(" {f} → {t}"),
            (None, Some(t)) => format!(" {t}"),
            (Some(f), None) => format!(" {f}"),
            (None, None) => String::new(),
        }
    );
    if let Some(sha) = &plan.sha256 {
        s.push_str(&format!("sha256: {sha}\n"));
    }
    if !plan.files.is_empty() {
        s.push_str(&format!("files ({}):\n", plan.files.len()));
        for (path, size) in &plan.files {
            s.push_str(&format!("  {path} ({size} bytes)\n"));
        }
    }
    for (label, list) in [
        ("types added", &plan.types_added),
        ("types kept", &plan.types_kept),
        ("types removed", &plan.types_removed),
    ] {
        if !list.is_empty() {
            s.push_str(&format!("{label}: {}\n", list.join(", ")));
        }
    }
    if !plan.assets.is_empty() {
        s.push_str(&format!("assets ({}):\n", plan.assets.len()));
        for a in &plan.assets {
            s.push_str(&format!(
                "  {} [{}] {}{}: {}\n",
                a.id,
                a.type_code,
                a.path,
                if a.in_trash { " (in the trash)" } else { "" },
                if a.migrations.is_empty() {
                    "no migrations".to_owned()
                } else {
                    a.migrations.join(", then ")
                }
            ));
        }
    }
    if plan.dry_run {
        s.push_str("dry run: nothing was changed\n");
    }
    s
}

fn build(ctx: &Globals, dir: &Path, output: Option<&Path>) -> anyhow::Result<()> {
    let bytes = archive::build(dir)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot build a package from {}", dir.display()))?;
    let package = archive::read(&bytes, &Limits::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let m = &package.manifest;
    let path = match output {
        Some(p) => p.to_path_buf(),
        None => format!("{}-{}.tgz", m.name, m.version).into(),
    };
    // Write beside the target and rename, so a reader never sees half an archive.
    let tmp = path.with_extension("tgz.partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    ctx.print(
        &serde_json::json!({
            "file": path, "name": m.name, "version": m.version.to_string(),
            "sha256": package.sha256, "size": bytes.len(), "files": package.files.len(),
        }),
        |_| {
            format!(
                "{}  {}\nbuilt {} {} ({} files, {} bytes)",
                package.sha256,
                path.display(),
                m.name,
                m.version,
                package.files.len(),
                bytes.len()
            )
        },
    )
}

fn inspect(ctx: &Globals, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let sha256 = archive::sha256_hex(&bytes);
    match archive::read(&bytes, &Limits::default()) {
        Ok(package) => {
            let m = &package.manifest;
            let host = m
                .check_host(&ops::host_version())
                .err()
                .map(|e| e.to_string());
            let value = serde_json::json!({
                "valid": true,
                "sha256": sha256,
                "size": bytes.len(),
                "unpacked_size": package.unpacked_size(),
                "manifest": {
                    "name": m.name, "version": m.version.to_string(), "description": m.description,
                    "host": m.host.to_string(),
                    "dependencies": m.dependencies.iter().map(|d| (d.name.clone(), d.requirement.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
                    "types": m.types, "migrations": m.migrations.len(),
                },
                "files": package.files.iter().map(|f| serde_json::json!({"path": f.path, "size": f.data.len()})).collect::<Vec<_>>(),
                "host_compatible": host.is_none(),
            });
            ctx.print(&value, |_| {
                let mut s = format!(
                    "{} {}: {}\nsha256: {sha256}\nsize: {} bytes ({} unpacked)\nhost: {}\n",
                    m.name,
                    m.version,
                    m.description,
                    bytes.len(),
                    package.unpacked_size(),
                    m.host
                );
                for d in &m.dependencies {
                    s.push_str(&format!("needs: {} {}\n", d.name, d.requirement));
                }
                for t in &m.types {
                    s.push_str(&format!(
                        "type: {} ({}, {}, behaviour {}{})\n",
                        t.code,
                        t.name,
                        t.category,
                        t.behaviour.name(),
                        if t.admin_only { ", admin only" } else { "" }
                    ));
                    for a in &t.attributes {
                        s.push_str(&format!(
                            "  {} ({:?}{}{})\n",
                            a.name,
                            a.kind,
                            if a.required { ", required" } else { "" },
                            if a.secret { ", secret" } else { "" }
                        ));
                    }
                }
                s.push_str(&format!(
                    "migrations: {}\nfiles ({}):\n",
                    m.migrations.len(),
                    package.files.len()
                ));
                for f in &package.files {
                    s.push_str(&format!("  {} ({} bytes)\n", f.path, f.data.len()));
                }
                s.push_str(&match &host {
                    None => "verdict: valid\n".to_owned(),
                    Some(e) => format!("verdict: valid, but this host cannot install it: {e}\n"),
                });
                s
            })?;
            Ok(())
        }
        Err(e) => {
            ctx.print(
                &serde_json::json!({ "valid": false, "sha256": sha256, "size": bytes.len(), "error": e.to_string() }),
                |_| format!("sha256: {sha256}\nsize: {} bytes\nverdict: invalid", bytes.len()),
            )?;
            bail!("{} is not a valid package: {e}", file.display())
        }
    }
}
