//! CategoryService: the catalogue of categories and its routing rules.

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::aip::{etag, field_mask};
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::category_service_server::CategoryService;
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status};

use super::Api;
use crate::domain::category::{self as domain, COLLECTION, NewCategory};
use crate::storage::categories as store;

/// The catalogue is shared by the whole tree: only callers over a whole
/// region (or the whole tree) may change it.
fn may_edit_catalogue(caller: &Caller) -> ApiResult<()> {
    if caller.has_role(Role::Admin) || !caller.scope_path.contains('/') {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "the category catalogue is changed only by a region's inspection office".into(),
        ))
    }
}

#[tonic::async_trait]
impl CategoryService for Api {
    async fn get_category(
        &self,
        request: Request<GetCategoryRequest>,
    ) -> Result<Response<Category>, Status> {
        let name = &request.get_ref().name;
        let id = names::parse("name", name, COLLECTION)?;
        let category = store::find(self.db.reader(), id)
            .await?
            .ok_or_else(|| ApiError::not_found(name))?;
        Ok(Response::new(category.to_proto()))
    }

    async fn list_categories(
        &self,
        request: Request<ListCategoriesRequest>,
    ) -> Result<Response<ListCategoriesResponse>, Status> {
        let request = request.into_inner();
        let page = PageRequest::parse(request.page_size, &request.page_token, &["categories"])?;
        let after = page.after_str(0)?.map(str::to_owned);
        let rows = store::list(self.db.reader(), after, page.limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |last| vec![last.id.clone().into()]);
        Ok(Response::new(ListCategoriesResponse {
            categories: rows.iter().map(store::Model::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn create_category(
        &self,
        request: Request<CreateCategoryRequest>,
    ) -> Result<Response<Category>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateCategory", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        may_edit_catalogue(&caller)?;
        let new = NewCategory::parse(request.category.as_ref(), &request.category_id)?;
        let now = self.clock.now();
        let created = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let model = store::insert(
                    txn,
                    store::Model {
                        id: new.id.clone(),
                        display_name: new.display_name,
                        supervising_body_kind: new.kind.as_str_name().to_owned(),
                        grassroots: new.grassroots,
                        revision: 1,
                        create_time: now,
                        update_time: now,
                    },
                )
                .await?;
                Ok(model.to_proto())
            })
        })
        .await?;
        Ok(Response::new(created))
    }

    async fn update_category(
        &self,
        request: Request<UpdateCategoryRequest>,
    ) -> Result<Response<Category>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "UpdateCategory", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        may_edit_catalogue(&caller)?;
        let patch = request
            .category
            .clone()
            .ok_or_else(|| ApiError::required("category"))?;
        let fields = field_mask::paths(
            request.update_mask.as_ref(),
            &["display_name", "supervising_body_kind", "grassroots"],
        )?;
        let id = names::parse("category.name", &patch.name, COLLECTION)?.to_owned();
        if fields.contains("display_name") {
            validate_text(
                "category.display_name",
                &patch.display_name,
                true,
                domain::MAX_DISPLAY_NAME,
            )?;
        }
        let kind = if fields.contains("supervising_body_kind") {
            Some(domain::parse_kind(
                "category.supervising_body_kind",
                patch.supervising_body_kind,
            )?)
        } else {
            None
        };
        let now = self.clock.now();
        let updated = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let current = store::find(txn, &id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(&patch.name))?;
                etag::check(&patch.name, &patch.etag, current.revision)?;
                let changes = store::Changes {
                    display_name: fields
                        .contains("display_name")
                        .then(|| patch.display_name.trim().to_owned()),
                    supervising_body_kind: kind,
                    grassroots: fields.contains("grassroots").then_some(patch.grassroots),
                };
                let updated = store::update_if_revision(txn, current, changes, now).await?;
                Ok(updated.to_proto())
            })
        })
        .await?;
        Ok(Response::new(updated))
    }
}
