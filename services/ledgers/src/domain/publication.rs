//! The double publication (双公开): what a version holds for each entry,
//! what the public may read of it, and what changed since the last one.
//! Pure rules; the storage module reads and writes the versions.

use std::collections::HashMap;

use fiveledger_platform::auth::{Caller, Role};
use fiveledger_proto::ledgers::*;

pub const COLLECTION: &str = "publications";
/// Progress notes an internal edition keeps per item.
pub const PROGRESS_NOTES: usize = 5;

pub fn status_of(entry: &LedgerEntry) -> PublishedStatus {
    if entry.state() == EntryState::WrittenOff {
        PublishedStatus::Completed
    } else if entry.reopen_count > 0 {
        PublishedStatus::Reopened
    } else {
        PublishedStatus::Rectifying
    }
}

/// The internal edition's item; the public one is cut from it.
pub fn internal_item(entry: &LedgerEntry, progress: Vec<String>) -> PublishedItem {
    let measures = entry
        .plan
        .as_ref()
        .map(|p| {
            p.measures
                .iter()
                .map(|m| PublishedMeasure {
                    description: m.description.clone(),
                    done: m.done,
                    owner: m.owner.clone(),
                    due_date: m.due_date,
                    done_date: m.done_date,
                })
                .collect()
        })
        .unwrap_or_default();
    let completed = entry.state() == EntryState::WrittenOff;
    let completion_date = entry
        .write_off
        .as_ref()
        .filter(|w| completed && w.approved)
        .and_then(|w| w.verify_date);
    PublishedItem {
        entry: entry.name.clone(),
        title: entry.title.clone(),
        category: entry.category.clone(),
        status: status_of(entry) as i32,
        measures,
        completion_date,
        responsible_unit: entry
            .responsibility
            .as_ref()
            .map(|r| r.responsible_unit.clone())
            .unwrap_or_default(),
        due_date: entry.due_date,
        colour: entry.colour,
        progress,
    }
}

/// Only what the public may read: title, category, status, measure
/// descriptions and whether done, completion date. Built field by field so
/// that a field added later stays internal unless added here.
pub fn public_item(item: &PublishedItem) -> PublishedItem {
    PublishedItem {
        entry: item.entry.clone(),
        title: item.title.clone(),
        category: item.category.clone(),
        status: item.status,
        measures: item
            .measures
            .iter()
            .map(|m| PublishedMeasure {
                description: m.description.clone(),
                done: m.done,
                ..Default::default()
            })
            .collect(),
        completion_date: item.completion_date,
        ..Default::default()
    }
}

pub fn public_edition(p: &Publication) -> Publication {
    Publication {
        name: p.name.clone(),
        target: p.target.clone(),
        target_path: p.target_path.clone(),
        version: p.version,
        edition: PublicationEdition::Public as i32,
        previous: p.previous.clone(),
        publish_time: p.publish_time,
        items: p.items.iter().map(public_item).collect(),
        changes: p.changes.clone(),
        item_count: p.item_count,
        completed_count: p.completed_count,
    }
}

/// What changed from `previous` to `items` (both by entry name).
pub fn diff(previous: &[PublishedItem], items: &[PublishedItem]) -> Vec<PublicationChange> {
    let before: HashMap<&str, &PublishedItem> =
        previous.iter().map(|i| (i.entry.as_str(), i)).collect();
    let mut changes = Vec::new();
    let public_measures = |i: &PublishedItem| public_item(i).measures;
    for item in items {
        let change = |kind: PublicationChangeKind, previous_status: i32| PublicationChange {
            entry: item.entry.clone(),
            title: item.title.clone(),
            kind: kind as i32,
            previous_status,
            status: item.status,
        };
        match before.get(item.entry.as_str()) {
            None => changes.push(change(PublicationChangeKind::Added, 0)),
            Some(old) if old.status != item.status => {
                changes.push(change(PublicationChangeKind::StatusChanged, old.status))
            }
            Some(old) if public_measures(old) != public_measures(item) => {
                changes.push(change(PublicationChangeKind::MeasuresChanged, old.status))
            }
            Some(_) => {}
        }
    }
    for old in previous {
        if !items.iter().any(|i| i.entry == old.entry) {
            changes.push(PublicationChange {
                entry: old.entry.clone(),
                title: old.title.clone(),
                kind: PublicationChangeKind::Removed as i32,
                previous_status: old.status,
                status: 0,
            });
        }
    }
    changes
}

/// The internal edition of the version after `previous` (the first when
/// `None`) for one target, with what changed since.
pub fn next_version(
    id: &str,
    target: String,
    target_path: String,
    previous: Option<(i32, String, Vec<PublishedItem>)>,
    items: Vec<PublishedItem>,
    now: chrono::DateTime<chrono::Utc>,
) -> Publication {
    let (version, previous_name, previous_items) =
        previous.unwrap_or((0, String::new(), Vec::new()));
    Publication {
        name: format!("{COLLECTION}/{id}"),
        target,
        target_path,
        version: version + 1,
        edition: PublicationEdition::Internal as i32,
        previous: previous_name,
        publish_time: Some(fiveledger_platform::time::to_timestamp(now)),
        changes: diff(&previous_items, &items),
        item_count: items.len() as i32,
        completed_count: items
            .iter()
            .filter(|i| i.status == PublishedStatus::Completed as i32)
            .count() as i32,
        items,
    }
}

/// A version as lists and events show it: without its items and changes.
pub fn summary(p: Publication) -> Publication {
    Publication {
        items: Vec::new(),
        changes: Vec::new(),
        ..p
    }
}

/// True when the caller holds no role but `public`.
pub fn only_public(caller: &Caller) -> bool {
    caller.roles.iter().all(|r| *r == Role::Public)
}
