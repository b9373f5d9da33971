//! InspectorService: the talent pool.

use std::collections::HashMap;

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::aip::{etag, field_mask, names};
use fiveledger_platform::auth::Caller;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::inspector_service_server::InspectorService;
use fiveledger_proto::rounds::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::filters::Narrowed;
use super::scope::context;
use crate::domain::inspector::{InspectorInput, StoredPost, StoredRelation};
use crate::storage::inspectors::{self as store, ListQuery, encode, visible};
use crate::storage::organisations;

/// What an inspector's update mask may name.
pub const ALL_FIELDS: &[&str] = &[
    "display_name",
    "subject",
    "home_organisation",
    "native_place",
    "past_posts",
    "related_organisations",
];

fn native_place_path(
    input: &InspectorInput,
    orgs: &HashMap<String, organisations::Model>,
) -> String {
    orgs.get(&input.native_place_id)
        .map(|o| o.path.clone())
        .unwrap_or_default()
}

fn stored_posts(
    input: &InspectorInput,
    orgs: &HashMap<String, organisations::Model>,
) -> Vec<StoredPost> {
    input
        .posts
        .iter()
        .map(|p| StoredPost {
            organisation_id: p.organisation_id.clone(),
            path: orgs[&p.organisation_id].path.clone(),
            start: p.start,
            end: p.end,
        })
        .collect()
}

fn stored_relations(
    input: &InspectorInput,
    orgs: &HashMap<String, organisations::Model>,
) -> Vec<StoredRelation> {
    input
        .relations
        .iter()
        .map(|id| StoredRelation {
            organisation_id: id.clone(),
            path: orgs[id].path.clone(),
        })
        .collect()
}

#[tonic::async_trait]
impl InspectorService for Api {
    async fn create_inspector(
        &self,
        request: Request<CreateInspectorRequest>,
    ) -> Result<Response<Inspector>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateInspector", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let inspector = request
            .inspector
            .as_ref()
            .ok_or_else(|| ApiError::required("inspector"))?;
        let input = InspectorInput::parse(inspector, ALL_FIELDS)?;
        let id = if request.inspector_id.is_empty() {
            None
        } else {
            names::validate_id("inspector_id", &request.inspector_id)?;
            Some(request.inspector_id.clone())
        };
        let ctx = context(&caller, &request.request_id);
        let now = self.clock.now();
        let created = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                // Every organisation the input names must be in the caller's scope:
                // one outside it answers as one that does not exist, so a county's
                // office can neither probe nor echo another county's tree.
                let orgs =
                    organisations::all_visible(txn, &caller, &input.organisation_ids()).await?;
                let id = id.unwrap_or_else(|| names::generate_id('p'));
                let model = store::insert(
                    txn,
                    store::Model {
                        id,
                        display_name: input.display_name.clone(),
                        subject: input.subject.clone(),
                        home_organisation_id: input.home_organisation_id.clone(),
                        home_path: orgs[&input.home_organisation_id].path.clone(),
                        native_place_id: input.native_place_id.clone(),
                        native_place_path: native_place_path(&input, &orgs),
                        past_posts: encode(&stored_posts(&input, &orgs))?,
                        relations: encode(&stored_relations(&input, &orgs))?,
                        revision: 1,
                        create_time: now,
                        update_time: now,
                    },
                )
                .await?;
                let inspector = model.to_proto()?;
                outbox::append(
                    txn,
                    &ctx.about(&inspector.home_organisation_path),
                    &inspector.name,
                    &InspectorCreated {
                        inspector: Some(inspector.clone()),
                    },
                )
                .await?;
                Ok(inspector)
            })
        })
        .await?;
        Ok(Response::new(created))
    }

    async fn get_inspector(
        &self,
        request: Request<GetInspectorRequest>,
    ) -> Result<Response<Inspector>, Status> {
        let caller = Caller::of(&request)?;
        let row = visible(self.db.reader(), &caller, "name", &request.get_ref().name).await?;
        Ok(Response::new(row.to_proto()?))
    }

    async fn list_inspectors(
        &self,
        request: Request<ListInspectorsRequest>,
    ) -> Result<Response<ListInspectorsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &caller.key()],
        )?;
        let query = ListQuery {
            scope: caller.scope_path.clone(),
            limit: page.limit(),
            after: page.after_str(0)?.map(str::to_owned),
            ..Default::default()
        };
        let mut narrowed = Narrowed::new(query);
        super::filters::INSPECTORS.apply(&request.filter, &mut narrowed)?;
        let mut query = narrowed.query;
        if let Some(organisation) = narrowed.organisation {
            let org =
                organisations::visible_in(&self.organisations, &caller, "filter", &organisation)
                    .await?;
            query.within = Some(org.path);
        }
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        Ok(Response::new(ListInspectorsResponse {
            inspectors: rows
                .iter()
                .map(store::Model::to_proto)
                .collect::<ApiResult<_>>()?,
            next_page_token,
        }))
    }

    async fn update_inspector(
        &self,
        request: Request<UpdateInspectorRequest>,
    ) -> Result<Response<Inspector>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "UpdateInspector", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let patch = request
            .inspector
            .clone()
            .ok_or_else(|| ApiError::required("inspector"))?;
        let fields: Vec<&str> = field_mask::paths(request.update_mask.as_ref(), ALL_FIELDS)?
            .into_iter()
            .collect();
        let input = InspectorInput::parse(&patch, &fields)?;
        let ctx = context(&caller, &request.request_id);
        let now = self.clock.now();
        let updated = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let current = visible(txn, &caller, "inspector.name", &patch.name).await?;
                etag::check(&patch.name, &patch.etag, current.revision)?;
                // Every organisation the input names must be in the caller's scope:
                // one outside it answers as one that does not exist, so a county's
                // office can neither probe nor echo another county's tree.
                let orgs =
                    organisations::all_visible(txn, &caller, &input.organisation_ids()).await?;
                let mut next = current.clone();
                let mut changed = Vec::new();
                if fields.contains(&"display_name") && input.display_name != current.display_name {
                    next.display_name = input.display_name.clone();
                    changed.push("display_name".to_owned());
                }
                if fields.contains(&"subject") && input.subject != current.subject {
                    next.subject = input.subject.clone();
                    changed.push("subject".to_owned());
                }
                if fields.contains(&"home_organisation")
                    && input.home_organisation_id != current.home_organisation_id
                {
                    next.home_organisation_id = input.home_organisation_id.clone();
                    next.home_path = orgs[&input.home_organisation_id].path.clone();
                    changed.push("home_organisation".to_owned());
                }
                if fields.contains(&"native_place")
                    && input.native_place_id != current.native_place_id
                {
                    next.native_place_id = input.native_place_id.clone();
                    next.native_place_path = native_place_path(&input, &orgs);
                    changed.push("native_place".to_owned());
                }
                if fields.contains(&"past_posts") {
                    let posts = encode(&stored_posts(&input, &orgs))?;
                    if posts != current.past_posts {
                        next.past_posts = posts;
                        changed.push("past_posts".to_owned());
                    }
                }
                if fields.contains(&"related_organisations") {
                    let relations = encode(&stored_relations(&input, &orgs))?;
                    if relations != current.relations {
                        next.relations = relations;
                        changed.push("related_organisations".to_owned());
                    }
                }
                if changed.is_empty() {
                    return current.to_proto();
                }
                next.update_time = now;
                let updated = store::save(txn, &current, next).await?;
                let inspector = updated.to_proto()?;
                outbox::append(
                    txn,
                    &ctx.about(&inspector.home_organisation_path),
                    &inspector.name,
                    &InspectorUpdated {
                        inspector: Some(inspector.clone()),
                        changed_fields: changed,
                    },
                )
                .await?;
                Ok(inspector)
            })
        })
        .await?;
        Ok(Response::new(updated))
    }
}
