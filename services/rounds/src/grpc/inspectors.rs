//! InspectorService: the talent pool.

use std::collections::HashMap;

use fiveledger_platform::aip::filter::{self, Op};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::aip::{etag, field_mask, names};
use fiveledger_platform::auth::Caller;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_platform::storage::exists_or_internal;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::inspector_service_server::InspectorService;
use fiveledger_proto::rounds::*;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait};
use tonic::{Request, Response, Status};

use super::Api;
use super::scope::{self, context};
use crate::domain::inspector::{COLLECTION, InspectorInput, StoredPost, StoredRelation, name_of};
use crate::domain::organisation;
use crate::storage::inspectors::{self as store, ListQuery, encode};
use crate::storage::organisations;

const ALL_FIELDS: &[&str] = &[
    "display_name",
    "subject",
    "home_organisation",
    "native_place",
    "past_posts",
    "related_organisations",
];

async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    field: &str,
    name: &str,
) -> ApiResult<store::Model> {
    let id = names::parse(field, name, COLLECTION)?;
    match store::find(conn, id).await? {
        Some(row) if caller.can_see(&row.home_path) => Ok(row),
        _ => Err(ApiError::not_found(name)),
    }
}

/// The organisations an input refers to, looked up in one query. Every
/// one (home, native place, posts, relations) must be in the caller's
/// scope: one outside it answers exactly as one that does not exist, so a
/// county's office can neither probe nor echo another county's tree. A
/// history across counties is recorded by the office over both.
async fn resolve(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    input: &InspectorInput,
) -> ApiResult<HashMap<String, organisations::Model>> {
    let found: HashMap<String, organisations::Model> =
        organisations::find_many(conn, &input.organisation_ids())
            .await?
            .into_iter()
            .filter(|o| caller.can_see(&o.path))
            .map(|o| (o.id.clone(), o))
            .collect();
    for id in input.organisation_ids() {
        if !found.contains_key(&id) {
            return Err(ApiError::not_found(organisation::name_of(&id)));
        }
    }
    Ok(found)
}

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
        let created = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let orgs = resolve(txn, &caller, &input).await?;
                let id = id.unwrap_or_else(|| names::generate_id('p'));
                let now = chrono::Utc::now();
                let model = store::ActiveModel {
                    id: Set(id.clone()),
                    display_name: Set(input.display_name.clone()),
                    subject: Set(input.subject.clone()),
                    home_organisation_id: Set(input.home_organisation_id.clone()),
                    home_path: Set(orgs[&input.home_organisation_id].path.clone()),
                    native_place_id: Set(input.native_place_id.clone()),
                    native_place_path: Set(native_place_path(&input, &orgs)),
                    past_posts: Set(encode(&stored_posts(&input, &orgs))?),
                    relations: Set(encode(&stored_relations(&input, &orgs))?),
                    revision: Set(1),
                    create_time: Set(now),
                    update_time: Set(now),
                }
                .insert(txn)
                .await
                .map_err(exists_or_internal(|| name_of(&id)))?;
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
        let mut query = ListQuery {
            scope: caller.scope_path.clone(),
            limit: page.limit(),
            after: page.after_str(0)?.map(str::to_owned),
            ..Default::default()
        };
        for term in filter::parse(&request.filter)? {
            match term.field.as_str() {
                "organisation" => {
                    let value = term.expect_op(&[Op::Eq])?;
                    let org =
                        scope::organisation(self.db.reader(), &caller, "filter", value).await?;
                    query.within = Some(org.path);
                }
                "subject" => query.subject = Some(term.expect_op(&[Op::Eq])?.to_owned()),
                "display_name" => match term.op {
                    Op::Eq => query.display_name_eq = Some(term.value),
                    Op::Has => query.display_name_contains = Some(term.value),
                    _ => {
                        return Err(ApiError::invalid(
                            "filter",
                            "INVALID_FILTER",
                            "display_name supports = and :",
                        )
                        .into());
                    }
                },
                other => {
                    return Err(ApiError::invalid(
                        "filter",
                        "INVALID_FILTER",
                        format!("unknown field {other}; use organisation, subject or display_name"),
                    )
                    .into());
                }
            }
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
        let updated = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let current = visible(txn, &caller, "inspector.name", &patch.name).await?;
                etag::check(&patch.name, &patch.etag, current.revision)?;
                let orgs = resolve(txn, &caller, &input).await?;
                let mut model: store::ActiveModel = current.clone().into();
                let mut changed = Vec::new();
                if fields.contains(&"display_name") && input.display_name != current.display_name {
                    model.display_name = Set(input.display_name.clone());
                    changed.push("display_name".to_owned());
                }
                if fields.contains(&"subject") && input.subject != current.subject {
                    model.subject = Set(input.subject.clone());
                    changed.push("subject".to_owned());
                }
                if fields.contains(&"home_organisation")
                    && input.home_organisation_id != current.home_organisation_id
                {
                    model.home_organisation_id = Set(input.home_organisation_id.clone());
                    model.home_path = Set(orgs[&input.home_organisation_id].path.clone());
                    changed.push("home_organisation".to_owned());
                }
                if fields.contains(&"native_place")
                    && input.native_place_id != current.native_place_id
                {
                    model.native_place_id = Set(input.native_place_id.clone());
                    model.native_place_path = Set(native_place_path(&input, &orgs));
                    changed.push("native_place".to_owned());
                }
                if fields.contains(&"past_posts") {
                    let posts = encode(&stored_posts(&input, &orgs))?;
                    if posts != current.past_posts {
                        model.past_posts = Set(posts);
                        changed.push("past_posts".to_owned());
                    }
                }
                if fields.contains(&"related_organisations") {
                    let relations = encode(&stored_relations(&input, &orgs))?;
                    if relations != current.relations {
                        model.relations = Set(relations);
                        changed.push("related_organisations".to_owned());
                    }
                }
                if changed.is_empty() {
                    return current.to_proto();
                }
                model.revision = Set(current.revision + 1);
                model.update_time = Set(chrono::Utc::now());
                let updated = store::update_if_revision(txn, model, current.revision).await?;
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
