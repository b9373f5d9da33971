//! PublicationService: the double publication (双公开), immutable versioned
//! snapshots per inspected unit in a public and an internal edition.

use std::collections::{BTreeMap, HashMap};

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::replay_first;
use fiveledger_platform::storage::{is_unique_violation, within_subtree};
use fiveledger_platform::{ApiError, ApiResult, outbox};
use fiveledger_proto::ledgers::publication_service_server::PublicationService;
use fiveledger_proto::ledgers::*;
use prost::Message;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tonic::{Request, Response, Status};

use super::Api;
use crate::storage::books;
use crate::storage::entries::{self, Column as C};
use crate::storage::postings;
use crate::storage::publications;
use fiveledger_platform::aip::names::parse_path;

const PUBLICATIONS: &str = "publications";
/// Progress notes an internal edition keeps per item.
const PROGRESS_NOTES: usize = 5;

fn status_of(entry: &LedgerEntry) -> PublishedStatus {
    if entry.state() == EntryState::WrittenOff {
        PublishedStatus::Completed
    } else if entry.reopen_count > 0 {
        PublishedStatus::Reopened
    } else {
        PublishedStatus::Rectifying
    }
}

/// The internal edition's item; the public one is cut from it.
fn internal_item(entry: &LedgerEntry, progress: Vec<String>) -> PublishedItem {
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
fn public_item(item: &PublishedItem) -> PublishedItem {
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

fn public_edition(p: &Publication) -> Publication {
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
fn diff(previous: &[PublishedItem], items: &[PublishedItem]) -> Vec<PublicationChange> {
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

/// The latest progress notes per entry, newest first (batched).
async fn progress_notes(
    conn: &impl ConnectionTrait,
    ids: &[String],
) -> ApiResult<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows = postings::Entity::find()
            .filter(postings::Column::EntryId.is_in(chunk.iter().cloned()))
            .filter(postings::Column::Kind.eq(PostingKind::Progress.as_str_name()))
            .order_by_asc(postings::Column::EntryId)
            .order_by_desc(postings::Column::Seq)
            .all(conn)
            .await?;
        for row in rows {
            let notes = out.entry(row.entry_id.clone()).or_default();
            if notes.len() >= PROGRESS_NOTES {
                continue;
            }
            if let Some(posting::Detail::Progress(p)) = books::posting_of(&row)?.detail {
                notes.push(p.description);
            }
        }
    }
    Ok(out)
}

/// Makes one new version per target in the entries read; in `txn`.
async fn publish_in(
    txn: &DatabaseTransaction,
    api: &Api,
    filter: Condition,
    ctx: &outbox::EventContext,
) -> ApiResult<PublishResponse> {
    let rows = entries::Entity::find()
        .filter(filter)
        .filter(C::OriginalDueDate.ne(""))
        .order_by_asc(C::TargetPath)
        .order_by_asc(C::Id)
        .all(txn)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut notes = progress_notes(txn, &ids).await?;
    let mut by_target: BTreeMap<String, (String, Vec<PublishedItem>)> = BTreeMap::new();
    for row in &rows {
        let mut entry = books::decode_snapshot(row)?;
        api.paint(&mut entry);
        let item = internal_item(&entry, notes.remove(&row.id).unwrap_or_default());
        by_target
            .entry(row.target_path.clone())
            .or_insert_with(|| (entry.target.clone(), Vec::new()))
            .1
            .push(item);
    }
    let now = api.clock.now();
    let mut out = PublishResponse::default();
    for (target_path, (target, items)) in by_target {
        let previous = publications::Entity::find()
            .filter(publications::Column::TargetPath.eq(target_path.clone()))
            .order_by_desc(publications::Column::Version)
            .limit(1)
            .one(txn)
            .await?;
        let (version, previous_name, previous_items) = match &previous {
            Some(p) => (
                p.version + 1,
                format!("{PUBLICATIONS}/{}", p.id),
                Publication::decode(p.internal_edition.as_slice())
                    .map_err(ApiError::internal)?
                    .items,
            ),
            None => (1, String::new(), Vec::new()),
        };
        let id = names::generate_id('p');
        let internal = Publication {
            name: format!("{PUBLICATIONS}/{id}"),
            target: target.clone(),
            target_path: target_path.clone(),
            version,
            edition: PublicationEdition::Internal as i32,
            previous: previous_name.clone(),
            publish_time: Some(fiveledger_platform::time::to_timestamp(now)),
            changes: diff(&previous_items, &items),
            item_count: items.len() as i32,
            completed_count: items
                .iter()
                .filter(|i| i.status == PublishedStatus::Completed as i32)
                .count() as i32,
            items,
        };
        let public = public_edition(&internal);
        publications::Entity::insert(publications::ActiveModel {
            id: Set(id),
            target: Set(target),
            target_path: Set(target_path),
            version: Set(version),
            previous: Set(previous_name),
            public_edition: Set(public.encode_to_vec()),
            internal_edition: Set(internal.encode_to_vec()),
            create_time_us: Set(now.timestamp_micros()),
        })
        .exec_without_returning(txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::Aborted {
                    resource: internal.name.clone(),
                }
            } else {
                e.into()
            }
        })?;
        let summary = Publication {
            items: Vec::new(),
            changes: Vec::new(),
            ..internal
        };
        outbox::append(
            txn,
            ctx,
            &summary.name,
            &PublicationPublished {
                publication: Some(summary.clone()),
            },
        )
        .await?;
        out.publications.push(summary);
    }
    Ok(out)
}

/// True when the caller holds no role but `public`.
fn only_public(caller: &Caller) -> bool {
    caller.roles.iter().all(|r| *r == Role::Public)
}

#[tonic::async_trait]
impl PublicationService for Api {
    async fn publish(
        &self,
        request: Request<PublishRequest>,
    ) -> Result<Response<PublishResponse>, Status> {
        let caller = Caller::of(&request)?;
        let trace = super::traceparent(&request);
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "Publish", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let set = [
            !r.inspection.is_empty(),
            !r.round.is_empty(),
            !r.organisation_path.is_empty(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set != 1 {
            return Err(ApiError::invalid(
                "inspection",
                "ONE_SCOPE",
                "set exactly one of inspection, round and organisation_path",
            )
            .into());
        }
        let mut filter = Condition::all().add(books::visible_to(&caller));
        if !r.inspection.is_empty() {
            names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
            filter = filter.add(C::Inspection.eq(r.inspection.clone()));
        } else if !r.round.is_empty() {
            names::parse("round", &r.round, "rounds")?;
            filter = filter.add(C::Round.eq(r.round.clone()));
        } else {
            let path = parse_path("organisation_path", &r.organisation_path)?;
            filter = filter.add(within_subtree(C::TargetPath, &path));
        }
        let api = self.clone();
        // The event says who published, under which request and trace, for
        // the level that published.
        let ctx = outbox::EventContext {
            actor: caller.actor(),
            request_id: r.request_id.clone(),
            traceparent: trace,
            organisation_path: caller.scope_path.clone(),
        };
        let response = mutate(&self.db, key, move |txn| {
            Box::pin(async move { publish_in(txn, &api, filter, &ctx).await })
        })
        .await?;
        Ok(Response::new(response))
    }

    async fn get_publication(
        &self,
        request: Request<GetPublicationRequest>,
    ) -> Result<Response<Publication>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let id = names::parse("name", &r.name, PUBLICATIONS)?;
        let edition = match PublicationEdition::try_from(r.edition) {
            Ok(PublicationEdition::Unspecified) => {
                return Err(ApiError::required("edition").into());
            }
            Ok(e) => e,
            Err(_) => {
                return Err(ApiError::invalid(
                    "edition",
                    "UNKNOWN_ENUM_VALUE",
                    format!("{} is not an edition", r.edition),
                )
                .into());
            }
        };
        if edition == PublicationEdition::Internal && only_public(&caller) {
            return Err(ApiError::PermissionDenied(
                "the public role may read only the PUBLIC edition".into(),
            )
            .into());
        }
        let row = publications::Entity::find_by_id(id.to_owned())
            .one(self.db.reader())
            .await
            .map_err(ApiError::from)?
            // The public edition is public; the internal one stays in scope.
            .filter(|p| edition == PublicationEdition::Public || caller.can_see(&p.target_path))
            .ok_or_else(|| ApiError::not_found(r.name.clone()))?;
        let bytes = match edition {
            PublicationEdition::Public => &row.public_edition,
            _ => &row.internal_edition,
        };
        Ok(Response::new(
            Publication::decode(bytes.as_slice()).map_err(ApiError::internal)?,
        ))
    }

    async fn list_publications(
        &self,
        request: Request<ListPublicationsRequest>,
    ) -> Result<Response<ListPublicationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token, &[&r.filter, &caller.key()])?;
        use publications::Column as P;
        let mut select =
            publications::Entity::find().filter(within_subtree(P::TargetPath, &caller.scope_path));
        let mut narrowed = Vec::new();
        super::filters::PUBLICATIONS.apply(&r.filter, &mut narrowed)?;
        for condition in narrowed {
            select = select.filter(condition);
        }
        if page.after.is_some() {
            let path = page.after_str(0)?.unwrap_or_default().to_owned();
            let version = page.after_i64(1)?.unwrap_or_default();
            select = select.filter(
                Condition::any().add(P::TargetPath.gt(path.clone())).add(
                    Condition::all()
                        .add(P::TargetPath.eq(path))
                        .add(P::Version.gt(version)),
                ),
            );
        }
        let rows = select
            .order_by_asc(P::TargetPath)
            .order_by_asc(P::Version)
            .limit(page.limit())
            .all(self.db.reader())
            .await
            .map_err(ApiError::from)?;
        let (rows, next_page_token) = page.finish(rows, |last| {
            vec![
                last.target_path.clone().into(),
                i64::from(last.version).into(),
            ]
        });
        let publications = rows
            .iter()
            .map(|row| {
                let p = Publication::decode(row.internal_edition.as_slice())
                    .map_err(ApiError::internal)?;
                Ok(Publication {
                    items: Vec::new(),
                    changes: Vec::new(),
                    ..p
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Response::new(ListPublicationsResponse {
            publications,
            next_page_token,
        }))
    }
}
