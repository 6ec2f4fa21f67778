//! The operations that change an instance's packages: install, upgrade and uninstall, each
//! planned first (what `--dry-run` prints) and then carried out as one transaction.
//!
//! How an operation stays atomic: the new package's files are unpacked into a staging
//! directory under `packages/`, synced, and renamed to a directory whose name no committed
//! state uses; then one SQLite transaction switches the database to the new state. The
//! database is the source of truth: a package directory that no row names is a leftover of an
//! interrupted operation (or the old version after an upgrade) and is removed, after the commit
//! or at the next start-up. The instance lock is held from the first read to the end, so two
//! operations never interleave.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use semver::Version;
use serde::Serialize;

use super::archive::{self, Limits, PackageArchive};
use super::manifest::Manifest;
use crate::assets;
use crate::error::{Error, Result};
use crate::instance::{Instance, InstanceLock, sync_dir};
use crate::perms::require_level;
use crate::store::{self, audit::AuditEntry, packages::PackageRow};
use crate::users::{Actor, Level};

/// The version of this host, which packages' `host` requirements are checked against.
pub fn host_version() -> Version {
    Version::parse(env!("CARGO_PKG_VERSION")).expect("the crate version is semver")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Install,
    Upgrade,
    Uninstall,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Install => "install",
            Action::Upgrade => "upgrade",
            Action::Uninstall => "uninstall",
        }
    }

    /// How a permission refusal names the attempt.
    fn attempt(self) -> String {
        match self {
            Action::Install => "installing a package",
            Action::Upgrade => "upgrading a package",
            Action::Uninstall => "uninstalling a package",
        }
        .to_owned()
    }
}

/// An asset an operation touches or is refused for.
#[derive(Debug, Clone, Serialize)]
pub struct AffectedAsset {
    pub id: i64,
    #[serde(rename = "type")]
    pub type_code: String,
    pub path: String,
    pub in_trash: bool,
    /// The type version the asset is at before the operation.
    pub type_version: Option<String>,
    /// The migrations that will run on it, as `VERSION (step; step)`.
    pub migrations: Vec<String>,
}

/// What an operation does, or did.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub action: Action,
    pub package: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sha256: Option<String>,
    /// Files unpacked (path and size).
    pub files: Vec<(String, u64)>,
    pub types_added: Vec<String>,
    pub types_kept: Vec<String>,
    pub types_removed: Vec<String>,
    pub assets: Vec<AffectedAsset>,
    pub dry_run: bool,
}

/// Stops the process at a named step when `TESSERA_FAULT` names it, as `kill -9` would. Only
/// debug builds have it, so the crash tests can interrupt every step; release builds compile
/// it away.
fn fault_point(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("TESSERA_FAULT").is_ok_and(|f| f == step) {
        eprintln!("fault injected at {step}");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

fn write_audit(instance: &mut Instance, entry: AuditEntry) -> Result<()> {
    instance.store.write(|tx| store::audit::append(tx, &entry))
}

/// Records a refused or failed operation in the audit log and returns its error.
fn refused(
    instance: &mut Instance,
    actor: &Actor,
    action: Action,
    package: Option<&str>,
    sha256: Option<String>,
    error: Error,
) -> Error {
    let entry = AuditEntry {
        package: package.map(str::to_owned),
        sha256,
        ..AuditEntry::new(
            actor.audit_name(),
            action.as_str(),
            format!("refused: {error}"),
        )
    };
    // The refusal is what the user must see, even if the log cannot be written.
    let _ = write_audit(instance, entry);
    error
}

/// Records a refused operation for a user who could not be authenticated.
pub fn record_failed_authentication(
    instance: &mut Instance,
    name: &str,
    action: Action,
    error: &Error,
) -> Result<()> {
    let entry = AuditEntry::new(name, action.as_str(), format!("refused: {error}"));
    write_audit(instance, entry)
}

fn read_archive(bytes: &[u8], pin: Option<&str>) -> Result<PackageArchive> {
    let digest = archive::sha256_hex(bytes);
    if let Some(pin) = pin {
        let pin = pin.trim().to_ascii_lowercase();
        if pin != digest {
            return Err(Error::invalid(format!(
                "the archive's sha256 is {digest}, not the {pin} given with --sha256: \
                 check that you have the right file"
            )));
        }
    }
    archive::read(bytes, &Limits::default()).map_err(|e| Error::invalid(e.to_string()))
}

/// Checks a manifest against the instance: host version and dependencies.
fn check_requirements(instance: &Instance, manifest: &Manifest) -> Result<()> {
    manifest
        .check_host(&host_version())
        .map_err(|e| Error::invalid(e.to_string()))?;
    for dep in &manifest.dependencies {
        match store::packages::get(instance.store.conn(), &dep.name)? {
            None => {
                return Err(Error::invalid(format!(
                    "package {} needs package {} ({}), which is not installed: install it first",
                    manifest.name, dep.name, dep.requirement
                )));
            }
            Some(row) => {
                let installed = Version::parse(&row.version).map_err(|e| {
                    Error::invalid(format!(
                        "installed package {} has a bad version: {e}",
                        row.name
                    ))
                })?;
                if !dep.requirement.matches(&installed) {
                    return Err(Error::invalid(format!(
                        "package {} needs package {} {}, but {} is installed: upgrade it first",
                        manifest.name, dep.name, dep.requirement, installed
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Refuses type codes that the core or another package already provides.
fn check_type_codes(instance: &Instance, manifest: &Manifest) -> Result<()> {
    for ty in &manifest.types {
        if let Some(existing) = assets::find_type(instance.store.conn(), &ty.code)? {
            match existing.package {
                Some((package, _)) if package == manifest.name => {}
                Some((package, _)) => {
                    return Err(Error::conflict(format!(
                        "type {} is already provided by package {package}: a type code belongs to one package",
                        ty.code
                    )));
                }
                None => {
                    return Err(Error::conflict(format!(
                        "type {} is a core type and cannot be provided by a package",
                        ty.code
                    )));
                }
            }
        }
    }
    Ok(())
}

fn affected_assets(
    instance: &Instance,
    codes: &[String],
) -> Result<Vec<(store::assets::AssetRow, AffectedAsset)>> {
    let conn = instance.store.conn();
    store::assets::of_types(conn, codes)?
        .into_iter()
        .map(|row| {
            let location = assets::locate(conn, &row)?;
            let affected = AffectedAsset {
                id: row.id,
                type_code: row.type_code.clone(),
                path: location.path,
                in_trash: location.in_trash,
                type_version: row.type_version.clone(),
                migrations: Vec::new(),
            };
            Ok((row, affected))
        })
        .collect()
}

fn file_list(archive: &PackageArchive) -> Vec<(String, u64)> {
    archive
        .files
        .iter()
        .map(|f| (f.path.clone(), f.data.len() as u64))
        .collect()
}

/// The directory name a package version's files live in. The digest makes it unique, so a new
/// state never reuses a directory an older state may still name.
fn package_dir_name(manifest: &Manifest, sha256: &str) -> String {
    format!("{}-{}-{}", manifest.name, manifest.version, &sha256[..12])
}

/// Unpacks into a staging directory, syncs it, and renames it to its final name.
fn stage(instance: &Instance, archive: &PackageArchive, dir_name: &str) -> Result<()> {
    let packages = instance.packages_dir();
    fs::create_dir_all(&packages)
        .map_err(|e| Error::io("cannot create the packages directory", e))?;
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(&packages)
        .map_err(|e| Error::io("cannot create a staging directory", e))?;
    archive
        .write_to(staging.path())
        .map_err(|e| Error::io("cannot unpack the package", e))?;
    fault_point("staged");
    let staging = staging.keep();
    let target = packages.join(dir_name);
    if target.exists() {
        // Unreferenced (the cleanup would have removed it otherwise), so it is safe to replace.
        fs::remove_dir_all(&target)
            .map_err(|e| Error::io("cannot remove a stale package directory", e))?;
    }
    fs::rename(&staging, &target).map_err(|e| {
        let _ = fs::remove_dir_all(&staging);
        Error::io("cannot move the unpacked package into place", e)
    })?;
    sync_dir(&packages)?;
    fault_point("moved");
    Ok(())
}

const STAGING_PREFIX: &str = ".staging-";

/// Removes package directories no installed package names: leftovers of an interrupted
/// operation, or old versions whose removal was interrupted. Runs only while holding the lock.
fn remove_unreferenced(instance: &Instance) -> Result<Vec<String>> {
    let referenced: Vec<String> = store::packages::list(instance.store.conn())?
        .into_iter()
        .map(|p| p.dir)
        .collect();
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(instance.packages_dir()) else {
        return Ok(removed);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !referenced.contains(&name) {
            let path = entry.path();
            let result = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            result
                .map_err(|e| Error::io(format!("cannot remove leftover {}", path.display()), e))?;
            removed.push(name);
        }
    }
    Ok(removed)
}

/// Cleans leftovers at start-up, unless another operation holds the lock (its staging
/// directory is not a leftover then).
pub fn clean_leftovers(instance: &Instance) -> Result<()> {
    if let Some(_lock) = instance.try_lock()? {
        remove_unreferenced(instance)?;
    }
    Ok(())
}

/// Faults in the package files, for `tessera check`.
pub fn check_files(instance: &Instance) -> Result<Vec<String>> {
    let mut faults = Vec::new();
    for p in store::packages::list(instance.store.conn())? {
        let dir = instance.packages_dir().join(&p.dir);
        if !dir.is_dir() {
            faults.push(format!(
                "package {} {}: its files are missing from {}",
                p.name,
                p.version,
                dir.display()
            ));
        }
        if let Err(e) = Manifest::parse(&p.manifest) {
            faults.push(format!(
                "package {}: its stored manifest does not validate: {e}",
                p.name
            ));
        }
    }
    Ok(faults)
}

/// The first steps of install and upgrade: the level check (before anything is read from the
/// archive), the lock, start-up cleanup, and reading the archive. Refusals are audited.
fn open_archive(
    instance: &mut Instance,
    actor: &Actor,
    action: Action,
    file: &Path,
    pin: Option<&str>,
) -> Result<(PackageArchive, InstanceLock)> {
    if let Err(e) = require_level(actor, Level::SystemAdministrator, || action.attempt()) {
        return Err(refused(instance, actor, action, None, None, e));
    }
    let bytes = match read_file(file) {
        Ok(bytes) => bytes,
        Err(e) => return Err(refused(instance, actor, action, None, None, e)),
    };
    let lock = instance.lock()?;
    remove_unreferenced(instance)?;
    fault_point("locked");
    match read_archive(&bytes, pin) {
        Ok(archive) => Ok((archive, lock)),
        Err(e) => {
            let sha256 = archive::sha256_hex(&bytes);
            Err(refused(instance, actor, action, None, Some(sha256), e))
        }
    }
}

/// The last steps of install and upgrade: stage the files, then switch the database to the
/// new package row and types, migrate assets and write the audit entry, in one transaction.
fn commit_package(
    instance: &mut Instance,
    actor: &Actor,
    archive: &PackageArchive,
    migrated: &[(i64, BTreeMap<String, String>)],
    entry: AuditEntry,
) -> Result<()> {
    let m = &archive.manifest;
    let dir_name = package_dir_name(m, &archive.sha256);
    stage(instance, archive, &dir_name)?;
    let row = PackageRow {
        name: m.name.clone(),
        version: m.version.to_string(),
        description: m.description.clone(),
        manifest: m.to_toml(),
        sha256: archive.sha256.clone(),
        dir: dir_name,
        installed_at: store::now(),
        installed_by: actor.audit_name(),
    };
    instance.store.write(|tx| {
        store::packages::put(tx, &row)?;
        store::packages::set_types(tx, &m.name, &m.types)?;
        for (id, attributes) in migrated {
            store::assets::replace_attributes(tx, *id, attributes)?;
            store::assets::set_type_version(tx, *id, &row.version)?;
        }
        store::audit::append(tx, &entry)?;
        fault_point("before-commit");
        Ok::<_, Error>(())
    })?;
    fault_point("committed");
    // After an upgrade, the old version's files are unreferenced now.
    remove_unreferenced(instance)?;
    Ok(())
}

/// `package install`.
pub fn install(
    instance: &mut Instance,
    actor: &Actor,
    file: &Path,
    pin: Option<&str>,
    dry_run: bool,
) -> Result<Plan> {
    let (archive, _lock) = open_archive(instance, actor, Action::Install, file, pin)?;
    let m = &archive.manifest;
    let checked = (|| {
        if let Some(existing) = store::packages::get(instance.store.conn(), &m.name)? {
            return Err(Error::conflict(format!(
                "package {} is already installed at version {}: use tessera package upgrade",
                m.name, existing.version
            )));
        }
        check_requirements(instance, m)?;
        check_type_codes(instance, m)
    })();
    if let Err(e) = checked {
        let sha256 = Some(archive.sha256.clone());
        return Err(refused(
            instance,
            actor,
            Action::Install,
            Some(&m.name),
            sha256,
            e,
        ));
    }
    let plan = Plan {
        action: Action::Install,
        package: m.name.clone(),
        from: None,
        to: Some(m.version.to_string()),
        sha256: Some(archive.sha256.clone()),
        files: file_list(&archive),
        types_added: m.types.iter().map(|t| t.code.clone()).collect(),
        types_kept: vec![],
        types_removed: vec![],
        assets: vec![],
        dry_run,
    };
    if !dry_run {
        let entry = AuditEntry {
            package: Some(m.name.clone()),
            to: plan.to.clone(),
            sha256: plan.sha256.clone(),
            ..AuditEntry::new(actor.audit_name(), "install", "done")
        };
        commit_package(instance, actor, &archive, &[], entry)?;
    }
    Ok(plan)
}

/// `package upgrade`: same name, strictly higher version; migrations run over every asset of
/// the package's types, in the same transaction.
pub fn upgrade(
    instance: &mut Instance,
    actor: &Actor,
    file: &Path,
    pin: Option<&str>,
    dry_run: bool,
) -> Result<Plan> {
    let (archive, _lock) = open_archive(instance, actor, Action::Upgrade, file, pin)?;
    let (old, plan, migrated) = match plan_upgrade(instance, &archive, dry_run) {
        Ok(p) => p,
        Err(e) => {
            let (name, sha256) = (archive.manifest.name.clone(), archive.sha256.clone());
            return Err(refused(
                instance,
                actor,
                Action::Upgrade,
                Some(&name),
                Some(sha256),
                e,
            ));
        }
    };
    if !dry_run {
        let outcome = format!("done: {} asset(s) migrated", migrated.len());
        let entry = AuditEntry {
            package: Some(plan.package.clone()),
            from: Some(old.version),
            to: plan.to.clone(),
            sha256: plan.sha256.clone(),
            ..AuditEntry::new(actor.audit_name(), "upgrade", outcome)
        };
        commit_package(instance, actor, &archive, &migrated, entry)?;
    }
    Ok(plan)
}

type UpgradePlan = (PackageRow, Plan, Vec<(i64, BTreeMap<String, String>)>);

fn plan_upgrade(
    instance: &Instance,
    archive: &PackageArchive,
    dry_run: bool,
) -> Result<UpgradePlan> {
    let m = &archive.manifest;
    let conn = instance.store.conn();
    let old = store::packages::get(conn, &m.name)?.ok_or_else(|| {
        Error::invalid(format!(
            "package {} is not installed: use tessera package install",
            m.name
        ))
    })?;
    let old_version = Version::parse(&old.version).map_err(|e| {
        Error::invalid(format!(
            "installed package {} has a bad version: {e}",
            old.name
        ))
    })?;
    if m.version <= old_version {
        return Err(Error::invalid(format!(
            "package {} is installed at version {old_version}; upgrade needs a higher version than {}",
            m.name, m.version
        )));
    }
    check_requirements(instance, m)?;
    check_type_codes(instance, m)?;
    let old_manifest = Manifest::parse(&old.manifest).map_err(|e| Error::invalid(e.to_string()))?;
    let old_codes: Vec<String> = old_manifest.types.iter().map(|t| t.code.clone()).collect();
    let new_codes: Vec<String> = m.types.iter().map(|t| t.code.clone()).collect();
    let types_removed: Vec<String> = old_codes
        .iter()
        .filter(|c| !new_codes.contains(c))
        .cloned()
        .collect();

    let mut affected = Vec::new();
    let mut migrated = Vec::new();
    for (row, mut view) in affected_assets(instance, &old_codes)? {
        let Some(ty) = m.asset_type(&row.type_code) else {
            return Err(Error::conflict(format!(
                "version {} of package {} no longer provides type {}, but asset {} ({}) uses it: \
                 trash it, then purge the trash, before upgrading",
                m.version, m.name, row.type_code, row.id, view.path
            )));
        };
        let from = row
            .type_version
            .as_deref()
            .and_then(|v| Version::parse(v).ok())
            .unwrap_or_else(|| old_version.clone());
        let mut attributes = store::assets::attributes(conn, row.id)?;
        for migration in m.migrations_for(&row.type_code, &from) {
            migration.apply(&mut attributes);
            view.migrations.push(format!(
                "{} ({})",
                migration.version,
                migration
                    .steps
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let attributes = assets::apply_attributes(ty, &attributes, &[]).map_err(|e| {
            Error::invalid(format!(
                "after migration, asset {} ({}) would not be valid for version {}: {e}",
                row.id, view.path, m.version
            ))
        })?;
        migrated.push((row.id, attributes));
        affected.push(view);
    }
    let plan = Plan {
        action: Action::Upgrade,
        package: m.name.clone(),
        from: Some(old.version.clone()),
        to: Some(m.version.to_string()),
        sha256: Some(archive.sha256.clone()),
        files: file_list(archive),
        types_added: new_codes
            .iter()
            .filter(|c| !old_codes.contains(c))
            .cloned()
            .collect(),
        types_kept: new_codes
            .iter()
            .filter(|c| old_codes.contains(c))
            .cloned()
            .collect(),
        types_removed,
        assets: affected,
        dry_run,
    };
    Ok((old, plan, migrated))
}

/// `package uninstall`: refused while any asset of the package's types exists (live or in the
/// trash) or another installed package depends on it.
pub fn uninstall(
    instance: &mut Instance,
    actor: &Actor,
    name: &str,
    dry_run: bool,
) -> Result<Plan> {
    if let Err(e) = require_level(actor, Level::SystemAdministrator, || {
        Action::Uninstall.attempt()
    }) {
        return Err(refused(
            instance,
            actor,
            Action::Uninstall,
            Some(name),
            None,
            e,
        ));
    }
    let _lock = instance.lock()?;
    remove_unreferenced(instance)?;
    fault_point("locked");
    let planned = plan_uninstall(instance, name, dry_run);
    let (row, plan) = match planned {
        Ok(p) => p,
        Err(e) => {
            return Err(refused(
                instance,
                actor,
                Action::Uninstall,
                Some(name),
                None,
                e,
            ));
        }
    };
    if dry_run {
        return Ok(plan);
    }
    let entry = AuditEntry {
        package: Some(name.to_owned()),
        from: Some(row.version.clone()),
        sha256: Some(row.sha256.clone()),
        ..AuditEntry::new(actor.audit_name(), "uninstall", "done")
    };
    let codes = plan.types_removed.clone();
    instance.store.write(|tx| {
        // Checked again inside the transaction: an asset created since the plan was made
        // must stop the uninstall.
        if !store::assets::of_types(tx, &codes)?.is_empty() {
            return Err(Error::conflict(format!(
                "an asset of package {name}'s types was created meanwhile: run the uninstall again to see it"
            )));
        }
        store::packages::delete(tx, name)?;
        store::audit::append(tx, &entry)?;
        fault_point("before-commit");
        Ok(())
    })?;
    fault_point("committed");
    remove_unreferenced(instance)?;
    Ok(plan)
}

fn plan_uninstall(instance: &Instance, name: &str, dry_run: bool) -> Result<(PackageRow, Plan)> {
    let conn = instance.store.conn();
    let row = store::packages::get(conn, name)?.ok_or_else(|| {
        Error::not_found(format!(
            "package {name} is not installed: see tessera package list"
        ))
    })?;
    let dependents: Vec<String> = store::packages::list(conn)?
        .into_iter()
        .filter(|p| p.name != name)
        .filter(|p| {
            Manifest::parse(&p.manifest)
                .is_ok_and(|m| m.dependencies.iter().any(|d| d.name == name))
        })
        .map(|p| p.name)
        .collect();
    if !dependents.is_empty() {
        return Err(Error::conflict(format!(
            "package {name} is needed by installed package(s) {}: uninstall them first",
            dependents.join(", ")
        )));
    }
    let manifest = Manifest::parse(&row.manifest).map_err(|e| Error::invalid(e.to_string()))?;
    let codes: Vec<String> = manifest.types.iter().map(|t| t.code.clone()).collect();
    let assets: Vec<AffectedAsset> = affected_assets(instance, &codes)?
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    if !assets.is_empty() {
        let list = assets
            .iter()
            .map(|a| {
                format!(
                    "{} {} ({})",
                    a.id,
                    a.path,
                    if a.in_trash {
                        "in the trash"
                    } else {
                        "live in the tree"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::conflict(format!(
            "package {name} cannot be uninstalled while {} asset(s) of its types exist: {list}; \
             trash them (tessera asset trash ID), then purge the trash (tessera trash purge ID or --all)",
            assets.len()
        )));
    }
    let plan = Plan {
        action: Action::Uninstall,
        package: name.to_owned(),
        from: Some(row.version.clone()),
        to: None,
        sha256: Some(row.sha256.clone()),
        files: vec![],
        types_added: vec![],
        types_kept: vec![],
        types_removed: codes,
        assets: vec![],
        dry_run,
    };
    Ok((row, plan))
}

/// Reads an archive file for an operation, with a clear error.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}
