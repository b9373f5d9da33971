//! PublicationService: the double publication (双公开), immutable versioned
//! snapshots per inspected unit in a public and an internal edition. The
//! rules are `domain::publication`, the reads and writes
//! `storage::publications`.

use std::collections::BTreeMap;

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, parse_path};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult, outbox};
use fiveledger_proto::ledgers::ErrorReason;
use fiveledger_proto::ledgers::publication_service_server::PublicationService;
use fiveledger_proto::ledgers::*;
use prost::Message;
use tonic::{Request, Response, Status};

use super::Api;
use crate::domain::publication::{
    self as rules, COLLECTION, PROGRESS_NOTES, internal_item, only_public, public_edition,
};
use crate::storage::publications::{self as store, Covering};
use crate::storage::{Txn, books};

/// Makes one new version per target among the entries covered; in `txn`.
async fn publish_in(
    txn: &Txn,
    api: &Api,
    caller: &Caller,
    covering: &Covering,
    ctx: &outbox::EventContext,
) -> ApiResult<PublishResponse> {
    let rows = store::publishable(txn, caller, covering).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut notes = store::progress_notes(txn, &ids, PROGRESS_NOTES).await?;
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
        let previous = match store::latest(txn, &target_path).await? {
            Some(p) => Some((
                p.version,
                format!("{COLLECTION}/{}", p.id),
                Publication::decode(p.internal_edition.as_slice())
                    .map_err(ApiError::internal)?
                    .items,
            )),
            None => None,
        };
        let id = names::generate_id('p');
        let internal = rules::next_version(&id, target, target_path, previous, items, now);
        let public = public_edition(&internal);
        store::insert(
            txn,
            store::Model {
                id,
                target: internal.target.clone(),
                target_path: internal.target_path.clone(),
                version: internal.version,
                previous: internal.previous.clone(),
                public_edition: public.encode_to_vec(),
                internal_edition: internal.encode_to_vec(),
                create_time_us: now.timestamp_micros(),
            },
            &internal.name,
        )
        .await?;
        let summary = rules::summary(internal);
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
                ErrorReason::OneScope,
                "set exactly one of inspection, round and organisation_path",
            )
            .into());
        }
        let covering = if !r.inspection.is_empty() {
            names::parse_nested("inspection", &r.inspection, "rounds", "inspections")?;
            Covering::Inspection(r.inspection.clone())
        } else if !r.round.is_empty() {
            names::parse("round", &r.round, "rounds")?;
            Covering::Round(r.round.clone())
        } else {
            Covering::Subtree(parse_path("organisation_path", &r.organisation_path)?)
        };
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
            Box::pin(async move { publish_in(txn, &api, &caller, &covering, &ctx).await })
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
        let id = names::parse("name", &r.name, COLLECTION)?;
        let edition = match PublicationEdition::try_from(r.edition) {
            Ok(PublicationEdition::Unspecified) => {
                return Err(ApiError::required("edition").into());
            }
            Ok(e) => e,
            Err(_) => {
                return Err(ApiError::invalid(
                    "edition",
                    CommonReason::UnknownEnumValue,
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
        let row = store::find(self.db.reader(), id)
            .await?
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
        let mut query = store::ListQuery {
            scope: caller.scope_path.clone(),
            limit: page.limit(),
            ..Default::default()
        };
        super::filters::PUBLICATIONS.apply(&r.filter, &mut query.narrowed)?;
        if page.after.is_some() {
            let path = page.after_str(0)?.unwrap_or_default().to_owned();
            let version = page.after_i64(1)?.unwrap_or_default();
            query.after = Some((path, i32::try_from(version).unwrap_or(i32::MAX)));
        }
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| {
            vec![
                last.target_path.clone().into(),
                i64::from(last.version).into(),
            ]
        });
        let publications = rows
            .iter()
            .map(|row| {
                Ok(rules::summary(
                    Publication::decode(row.internal_edition.as_slice())
                        .map_err(ApiError::internal)?,
                ))
            })
            .collect::<ApiResult<_>>()?;
        Ok(Response::new(ListPublicationsResponse {
            publications,
            next_page_token,
        }))
    }
}
