//! `tessera check`: the consistency check of an instance. It reads only; every fault it finds
//! is a line of the report.

use std::collections::{HashMap, HashSet};

use crate::assets::{self, ROOT_ID, TRASH_ID};
use crate::error::Result;
use crate::instance::Instance;
use crate::store;
use crate::users::Level;

/// Returns one line per fault; an empty list means the instance is sound.
pub fn run(instance: &Instance) -> Result<Vec<String>> {
    let conn = instance.store.conn();
    let mut faults = instance.store.integrity_faults()?;

    let rows = store::assets::all(conn)?;
    let by_id: HashMap<i64, &store::assets::AssetRow> = rows.iter().map(|a| (a.id, a)).collect();
    for (id, name) in [(ROOT_ID, "root folder"), (TRASH_ID, "trash folder")] {
        match by_id.get(&id) {
            Some(a) if a.parent_id.is_none() && a.type_code == "folder" => {}
            Some(_) => faults.push(format!("the {name} (asset {id}) is not a top-level folder")),
            None => faults.push(format!("the {name} (asset {id}) is missing")),
        }
    }

    // Reachability from the root and trash folders. An asset that cannot be reached has a
    // missing parent or sits on a cycle.
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for a in &rows {
        match a.parent_id {
            Some(p) => children.entry(p).or_default().push(a.id),
            None if a.id != ROOT_ID && a.id != TRASH_ID => {
                faults.push(format!("asset {} has no parent", a.id));
            }
            None => {}
        }
    }
    let mut reached = HashSet::new();
    let mut stack = vec![ROOT_ID, TRASH_ID];
    while let Some(id) = stack.pop() {
        if reached.insert(id) {
            stack.extend(children.get(&id).into_iter().flatten().copied());
        }
    }
    for a in &rows {
        if !reached.contains(&a.id) {
            faults.push(format!(
                "asset {} is reachable from neither the root nor the trash (a missing parent or a cycle)",
                a.id
            ));
        }
    }

    // Segments: valid, and unique among siblings outside the trash's top level.
    let mut seen: HashMap<(i64, &str), i64> = HashMap::new();
    for a in &rows {
        let Some(parent) = a.parent_id else { continue };
        if assets::validate_segment(&a.segment).is_err() {
            faults.push(format!(
                "asset {} has an invalid web path segment {:?}",
                a.id, a.segment
            ));
        }
        if parent == TRASH_ID {
            continue;
        }
        if a.trashed_from.is_some() {
            faults.push(format!(
                "asset {} is marked as trashed but is not in the trash",
                a.id
            ));
        }
        if let Some(other) = seen.insert((parent, a.segment.as_str()), a.id) {
            faults.push(format!(
                "assets {other} and {} share the web path segment {:?} under asset {parent}",
                a.id, a.segment
            ));
        }
    }

    // Types: every asset's type is known to the instance.
    let known: HashSet<String> = assets::all_types(conn)?
        .into_iter()
        .map(|t| t.definition.code)
        .collect();
    for a in &rows {
        if !known.contains(&a.type_code) {
            faults.push(format!(
                "asset {} has type {}, which no installed package provides",
                a.id, a.type_code
            ));
        }
    }

    let roots = store::users::list(conn)?
        .into_iter()
        .filter(|u| u.level == Level::Root)
        .count();
    if roots != 1 {
        faults.push(format!(
            "the instance has {roots} root users instead of one"
        ));
    }

    faults.extend(crate::packages::ops::check_files(instance)?);
    Ok(faults)
}
