//! OrganisationService: the directory of units.

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names;
use fiveledger_platform::aip::page::{PageRequest, parse_order_by};
use fiveledger_platform::aip::{etag, field_mask};
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::organisation_service_server::OrganisationService;
use fiveledger_proto::rounds::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::filters::Narrowed;
use super::scope::context;
use crate::domain::organisation::{self as domain, COLLECTION, NewOrganisation};
use crate::storage::organisations::{self as store, ListQuery, Order, visible};

const MAX_BATCH: usize = 1000;

#[tonic::async_trait]
impl OrganisationService for Api {
    async fn create_organisation(
        &self,
        request: Request<CreateOrganisationRequest>,
    ) -> Result<Response<Organisation>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateOrganisation", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let new = NewOrganisation::parse(request.organisation.as_ref(), &request.organisation_id)?;
        let ctx = context(&caller, &request.request_id);
        let now = self.clock.now();
        let created = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let id = new.id.clone().unwrap_or_else(|| names::generate_id('o'));
                let path = match &new.parent_id {
                    None => {
                        // Only a caller over the whole tree may add a root.
                        if !caller.is_root() {
                            return Err(ApiError::PermissionDenied(
                                "only a caller scoped to the whole tree may create a region".into(),
                            ));
                        }
                        id.clone()
                    }
                    Some(parent_id) => {
                        let parent = visible(
                            txn,
                            &caller,
                            "organisation.parent",
                            &domain::name_of(parent_id),
                        )
                        .await?;
                        domain::child_path(new.kind, &id, parent.kind(), &parent.path)?
                    }
                };
                let model = store::insert(
                    txn,
                    store::Model {
                        id,
                        display_name: new.display_name,
                        kind: new.kind.as_str_name().to_owned(),
                        parent_id: new.parent_id,
                        path,
                        code: new.code,
                        revision: 1,
                        create_time: now,
                        update_time: now,
                    },
                )
                .await?;
                let organisation = model.to_proto();
                outbox::append(
                    txn,
                    &ctx.about(&organisation.path),
                    &organisation.name,
                    &OrganisationCreated {
                        organisation: Some(organisation.clone()),
                    },
                )
                .await?;
                Ok(organisation)
            })
        })
        .await?;
        Ok(Response::new(created))
    }

    async fn get_organisation(
        &self,
        request: Request<GetOrganisationRequest>,
    ) -> Result<Response<Organisation>, Status> {
        let caller = Caller::of(&request)?;
        let name = &request.get_ref().name;
        let org = store::visible_in(&self.organisations, &caller, "name", name).await?;
        Ok(Response::new(org.to_proto()))
    }

    async fn batch_get_organisations(
        &self,
        request: Request<BatchGetOrganisationsRequest>,
    ) -> Result<Response<BatchGetOrganisationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let names = &request.get_ref().names;
        if names.len() > MAX_BATCH {
            return Err(ApiError::invalid(
                "names",
                CommonReason::TooMany,
                format!("at most {MAX_BATCH} names"),
            )
            .into());
        }
        let ids = names
            .iter()
            .map(|n| names::parse("names", n, COLLECTION).map(str::to_owned))
            .collect::<ApiResult<Vec<_>>>()?;
        let found = store::find_many(self.db.reader(), &ids).await?;
        let by_id: std::collections::HashMap<_, _> =
            found.iter().map(|o| (o.id.as_str(), o)).collect();
        let allow_missing = request.get_ref().allow_missing;
        let organisations = ids
            .iter()
            .zip(names)
            .filter_map(|(id, name)| match by_id.get(id.as_str()) {
                Some(org) if caller.can_see(&org.path) => Some(Ok(org.to_proto())),
                _ if allow_missing => None,
                _ => Some(Err(ApiError::not_found(name.clone()))),
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(Response::new(BatchGetOrganisationsResponse {
            organisations,
        }))
    }

    async fn list_organisations(
        &self,
        request: Request<ListOrganisationsRequest>,
    ) -> Result<Response<ListOrganisationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &request.order_by, &caller.key()],
        )?;
        let (order, desc) = parse_order_by(&request.order_by, &["name", "display_name"])?;
        let query = ListQuery {
            scope: caller.scope_path.clone(),
            order: if order == "name" {
                Order::Id
            } else {
                Order::DisplayName
            },
            desc,
            limit: page.limit(),
            ..Default::default()
        };
        let mut narrowed = Narrowed::new(query);
        super::filters::ORGANISATIONS_LIST.apply(&request.filter, &mut narrowed)?;
        let mut query = narrowed.query;
        if let Some(ancestor) = narrowed.organisation {
            query.ancestor_path = Some(
                visible(self.db.reader(), &caller, "filter", &ancestor)
                    .await?
                    .path,
            );
        }
        if page.after.is_some() {
            let key = page.after_str(0)?.unwrap_or_default().to_owned();
            let id = page.after_str(1)?.unwrap_or_default().to_owned();
            query.after = Some((key, id));
        }
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| {
            let key = match query.order {
                Order::Id => last.id.clone(),
                Order::DisplayName => last.display_name.clone(),
            };
            vec![key.into(), last.id.clone().into()]
        });
        Ok(Response::new(ListOrganisationsResponse {
            organisations: rows.iter().map(store::Model::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_organisation(
        &self,
        request: Request<UpdateOrganisationRequest>,
    ) -> Result<Response<Organisation>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "UpdateOrganisation", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let patch = request
            .organisation
            .clone()
            .ok_or_else(|| ApiError::required("organisation"))?;
        let fields = field_mask::paths(request.update_mask.as_ref(), &["display_name", "code"])?;
        if fields.contains("display_name") {
            names::validate_text(
                "organisation.display_name",
                &patch.display_name,
                true,
                domain::MAX_DISPLAY_NAME,
            )?;
        }
        if fields.contains("code") {
            names::validate_text("organisation.code", &patch.code, false, domain::MAX_CODE)?;
        }
        let ctx = context(&caller, &request.request_id);
        let now = self.clock.now();
        let updated = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let current = visible(txn, &caller, "organisation.name", &patch.name).await?;
                etag::check(&patch.name, &patch.etag, current.revision)?;
                let mut changed = Vec::new();
                let mut next = current.clone();
                if fields.contains("display_name")
                    && patch.display_name.trim() != current.display_name
                {
                    next.display_name = patch.display_name.trim().to_owned();
                    changed.push("display_name".to_owned());
                }
                if fields.contains("code") && patch.code.trim() != current.code {
                    next.code = patch.code.trim().to_owned();
                    changed.push("code".to_owned());
                }
                if changed.is_empty() {
                    return Ok(current.to_proto());
                }
                next.update_time = now;
                let updated = store::save(txn, &current, next).await?;
                let organisation = updated.to_proto();
                outbox::append(
                    txn,
                    &ctx.about(&organisation.path),
                    &organisation.name,
                    &OrganisationUpdated {
                        organisation: Some(organisation.clone()),
                        changed_fields: changed,
                    },
                )
                .await?;
                Ok(organisation)
            })
        })
        .await?;
        Ok(Response::new(updated))
    }
}
