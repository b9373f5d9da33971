//! ProblemService: problems, their responsibility lists, bulk import and
//! freezing.

use fiveledger_platform::access_log::{Access, Reader};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::page::{PageRequest, parse_order_by};
use fiveledger_platform::aip::{etag, field_mask, names};
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::outbox;
use fiveledger_platform::replay_first;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::problem_service_server::ProblemService;
use fiveledger_proto::issues::*;
use tonic::{Request, Response, Status, Streaming};

use super::{Api, context};
use crate::domain::problem::{self as domain, COLLECTION, is_responsibility};
use crate::domain::problem_list::{Change, check_editable};
use crate::domain::scope;
use crate::freezing::{self, Trigger};
use crate::storage::problem_lists;
use crate::storage::problems::{self as store, ListQuery, Order};

impl Api {
    /// Reads a problem the caller may see, or NOT_FOUND.
    async fn visible(&self, caller: &Caller, field: &str, name: &str) -> ApiResult<store::Model> {
        Ok(self.visible_with_facts(caller, field, name).await?.0)
    }

    /// As [`Self::visible`], and whether its list was handed over yet.
    async fn visible_with_facts(
        &self,
        caller: &Caller,
        field: &str,
        name: &str,
    ) -> ApiResult<(store::Model, bool)> {
        let id = names::parse(field, name, COLLECTION)?;
        let Some(problem) = store::find(self.db.reader(), id).await? else {
            return Err(ApiError::not_found(name));
        };
        let list = problem_lists::find(self.db.reader(), &problem.inspection).await?;
        let facts = list
            .as_ref()
            .map(problem_lists::Model::facts)
            .unwrap_or(scope::ListFacts {
                round_organisation_path: "",
                handed_over: false,
            });
        if problem.visible_to(caller, facts, false)
            || (self.is_member(caller, &problem.inspection).await?
                && problem.visible_to(caller, facts, true))
        {
            Ok((problem, facts.handed_over))
        } else {
            Err(ApiError::not_found(name))
        }
    }

    /// Whether a group-role caller is a member of the inspection's group
    /// (asked of the rounds service: one call, only for group callers).
    pub(super) async fn is_member(&self, caller: &Caller, inspection: &str) -> ApiResult<bool> {
        if !caller.roles.contains(&Role::InspectionGroup) {
            return Ok(false);
        }
        match self.rounds.inspection(caller, inspection).await {
            Ok(found) => Ok(scope::is_member(caller, &found)),
            Err(ApiError::NotFound { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

pub(super) fn frozen_fast(list: Option<&problem_lists::Model>) -> ApiResult<()> {
    match list {
        Some(list) if list.state() == ProblemListState::Frozen => check_editable(
            &list.inspection,
            ProblemListState::Frozen,
            Default::default(),
            Change::Responsibilities,
        ),
        _ => Ok(()),
    }
}

fn invalid_filter(description: impl Into<String>) -> ApiError {
    ApiError::invalid("filter", CommonReason::InvalidFilter, description)
}

#[tonic::async_trait]
impl ProblemService for Api {
    async fn get_problem(
        &self,
        request: Request<GetProblemRequest>,
    ) -> Result<Response<Problem>, Status> {
        let reader = Reader::of(&request)?;
        let (p, handed_over) = self
            .visible_with_facts(&reader.caller, "name", &request.get_ref().name)
            .await?;
        let problem = p.to_proto();
        if !handed_over {
            self.access
                .record(
                    &reader,
                    Access::new(PROBLEM!("GetProblem")).resources([problem.name.clone()]),
                )
                .await;
        }
        Ok(Response::new(problem))
    }

    async fn list_problems(
        &self,
        request: Request<ListProblemsRequest>,
    ) -> Result<Response<ListProblemsResponse>, Status> {
        let reader = Reader::of(&request)?;
        let caller = &reader.caller;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.filter, &request.order_by, &caller.key()],
        )?;
        let (order, desc) = parse_order_by(&request.order_by, &["name", "create_time"])?;
        let mut query = ListQuery {
            scope: caller.scope_path.clone(),
            own: caller.org_path.clone(),
            by_target: caller.has_any(scope::BY_TARGET),
            works_rounds: caller.has_any(&[Role::InspectionOffice, Role::InspectionGroup]),
            everything: caller.has_role(Role::Service),
            order: if order == "name" {
                Order::Id
            } else {
                Order::CreateTime
            },
            desc,
            limit: page.limit(),
            ..Default::default()
        };
        super::filters::PROBLEMS.apply(&request.filter, &mut query)?;
        if query.responsibility.is_some() && query.responsible.is_none() {
            return Err(
                invalid_filter("responsibility needs responsible = an organisation").into(),
            );
        }
        // A group member from outside the running level reads its own
        // inspection's list by naming it (one call to learn membership).
        if let Some(inspection) = &query.inspection
            && self.is_member(caller, inspection).await?
        {
            query.member_of = Some(inspection.clone());
        }
        if page.after.is_some() {
            let id = page.after_str(1)?.unwrap_or_default().to_owned();
            query.after = Some(match query.order {
                Order::Id => store::Cursor::Id(id),
                Order::CreateTime => {
                    let raw = page.after_str(0)?.unwrap_or_default();
                    let time = chrono::DateTime::parse_from_rfc3339(raw)
                        .map_err(|_| {
                            ApiError::invalid(
                                "page_token",
                                CommonReason::InvalidPageToken,
                                "page_token is malformed",
                            )
                        })?
                        .with_timezone(&chrono::Utc);
                    store::Cursor::CreateTime(time, id)
                }
            });
        }
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| {
            let key = match query.order {
                Order::Id => last.id.clone(),
                Order::CreateTime => last
                    .create_time
                    .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            };
            vec![key.into(), last.id.clone().into()]
        });
        // Problems of lists not yet handed over are confidential reads.
        let hidden = problem_lists::before_feedback(
            self.db.reader(),
            rows.iter().map(|p| p.inspection.clone()),
        )
        .await?;
        let problems: Vec<Problem> = rows.iter().map(store::Model::to_proto).collect();
        if !hidden.is_empty() {
            let names = problems
                .iter()
                .filter(|p| hidden.contains(&p.inspection))
                .map(|p| p.name.clone());
            self.access
                .record(
                    &reader,
                    Access::new(PROBLEM!("ListProblems"))
                        .resources(names)
                        .query(request.filter),
                )
                .await;
        }
        Ok(Response::new(ListProblemsResponse {
            problems,
            next_page_token,
        }))
    }

    async fn create_problem(
        &self,
        request: Request<CreateProblemRequest>,
    ) -> Result<Response<Problem>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateProblem", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let problem = request
            .problem
            .clone()
            .ok_or_else(|| ApiError::required("problem"))?;
        domain::parse_inspection("problem.inspection", &problem.inspection)?;
        let parsed = domain::parse_new("problem", &problem)?;
        let id = if request.problem_id.is_empty() {
            names::generate_id('p')
        } else {
            names::validate_id("problem_id", &request.problem_id)?;
            request.problem_id.clone()
        };
        let ctx_actor = caller.actor();
        // Who may record comes first: a list's state is no business of others.
        let inspection = self.rounds.inspection(&caller, &problem.inspection).await?;
        scope::may_record(&caller, &inspection)?;
        frozen_fast(
            problem_lists::find(self.db.reader(), &problem.inspection)
                .await?
                .as_ref(),
        )?;
        let resolved = self
            .resolve(&inspection, std::slice::from_ref(&parsed))
            .await?;
        let (content, responsibilities) = parsed;
        let row = resolved.row(
            "problem",
            id,
            &inspection,
            content,
            responsibilities,
            &ctx_actor,
            self.clock.now(),
        )?;
        let ctx = context(&caller, &request.request_id).about(&inspection.round_organisation_path);
        let now = self.clock.now();
        let created = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let list = problem_lists::lock(txn, &inspection, now).await?;
                check_editable(
                    &inspection.name,
                    list.state(),
                    inspection.phase(),
                    Change::Content,
                )?;
                store::insert(txn, &row).await?;
                let problem = row.to_proto();
                let event = ProblemCreated {
                    problem: Some(problem.clone()),
                };
                outbox::append(txn, &ctx, &problem.name, &event).await?;
                Ok(problem)
            })
        })
        .await?;
        Ok(Response::new(created))
    }

    async fn update_problem(
        &self,
        request: Request<UpdateProblemRequest>,
    ) -> Result<Response<Problem>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "UpdateProblem", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let patch = request
            .problem
            .clone()
            .ok_or_else(|| ApiError::required("problem"))?;
        let fields = field_mask::paths(request.update_mask.as_ref(), domain::UPDATABLE)?;
        let change = if fields.iter().all(|f| is_responsibility(f)) {
            Change::Responsibilities
        } else {
            Change::Content
        };
        let current = self.visible(&caller, "problem.name", &patch.name).await?;
        etag::check(&patch.name, &patch.etag, current.revision)?;
        let inspection = self.rounds.inspection(&caller, &current.inspection).await?;
        scope::may_record(&caller, &inspection)?;
        frozen_fast(
            problem_lists::find(self.db.reader(), &current.inspection)
                .await?
                .as_ref(),
        )?;

        // The problem as it will be: the current one with the masked fields
        // replaced, validated as a whole.
        let mut merged = current.to_proto();
        let new_r = patch.responsibilities.clone().unwrap_or_default();
        let r = merged.responsibilities.get_or_insert_with(Default::default);
        let all_r = fields.contains("responsibilities");
        let touches = |f: &str| all_r || fields.contains(f);
        if touches("responsibilities.main_unit") {
            r.main_unit = new_r.main_unit.clone();
        }
        if touches("responsibilities.principal") {
            r.principal = new_r.principal.clone();
        }
        if touches("responsibilities.leader_in_charge") {
            r.leader_in_charge = new_r.leader_in_charge.clone();
        }
        if touches("responsibilities.functional_department") {
            r.functional_department = new_r.functional_department.clone();
        }
        let category_changed = fields.contains("category") && patch.category != current.category;
        let body_touched = touches("responsibilities.supervising_body");
        if body_touched {
            r.supervising_body = new_r.supervising_body.clone();
        } else if current.supervising_body_routed && category_changed {
            // A routed body follows the category; a named one stays.
            r.supervising_body.clear();
        }
        if fields.contains("category") {
            merged.category = patch.category.clone();
        }
        if fields.contains("severity") {
            merged.severity = patch.severity;
        }
        if fields.contains("title") {
            merged.title = patch.title.clone();
        }
        if fields.contains("description") {
            merged.description = patch.description.clone();
        }
        if fields.contains("evidence") {
            merged.evidence = patch.evidence.clone();
        }
        if fields.contains("fixed_on_the_spot") {
            merged.fixed_on_the_spot = patch.fixed_on_the_spot.clone();
        }
        let keep_routed = !body_touched && current.supervising_body_routed && !category_changed;
        let mut parsed = domain::parse_new("problem", &merged)?;
        if keep_routed {
            // Not re-resolved: the routed body stays as it was.
            parsed.1.supervising_body = None;
        }

        let resolved = self
            .resolve(&inspection, std::slice::from_ref(&parsed))
            .await?;
        let (content, responsibilities) = parsed;
        let mut row = resolved.row(
            "problem",
            current.id.clone(),
            &inspection,
            content,
            responsibilities,
            &current.recorded_by,
            current.create_time,
        )?;
        if keep_routed {
            row.supervising_body = current.supervising_body.clone();
            row.supervising_body_path = current.supervising_body_path.clone();
            row.supervising_body_routed = true;
        }
        // Where the problem lives never changes on update.
        row.target = current.target.clone();
        row.target_path = current.target_path.clone();
        row.revision = current.revision + 1;
        row.update_time = self.clock.now();
        let revision = current.revision;
        let ctx = context(&caller, &request.request_id).about(&inspection.round_organisation_path);
        let now = self.clock.now();
        let updated = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let list = problem_lists::lock(txn, &inspection, now).await?;
                check_editable(&inspection.name, list.state(), inspection.phase(), change)?;
                let mut problem = store::update_if_revision(txn, row, revision)
                    .await?
                    .to_proto();
                let event = ProblemUpdated {
                    problem: Some(problem.clone()),
                };
                outbox::append(txn, &ctx, &problem.name, &event).await?;
                // A reported list waited only for its responsibilities: the
                // update completing the last one freezes it, as the report
                // would have.
                if list.state() == ProblemListState::Reported
                    && store::count_incomplete(txn, &inspection.name).await? == 0
                {
                    freezing::freeze(txn, &inspection, &ctx, Trigger::Reported, now).await?;
                    problem.frozen = true;
                }
                Ok(problem)
            })
        })
        .await?;
        Ok(Response::new(updated))
    }

    async fn delete_problem(
        &self,
        request: Request<DeleteProblemRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "DeleteProblem", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let current = self.visible(&caller, "name", &request.name).await?;
        etag::check(&request.name, &request.etag, current.revision)?;
        let inspection = self.rounds.inspection(&caller, &current.inspection).await?;
        scope::may_record(&caller, &inspection)?;
        frozen_fast(
            problem_lists::find(self.db.reader(), &current.inspection)
                .await?
                .as_ref(),
        )?;
        let ctx = context(&caller, &request.request_id).about(&inspection.round_organisation_path);
        let now = self.clock.now();
        mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let list = problem_lists::lock(txn, &inspection, now).await?;
                check_editable(
                    &inspection.name,
                    list.state(),
                    inspection.phase(),
                    Change::Content,
                )?;
                store::delete_if_revision(txn, &current.id, current.revision).await?;
                let event = ProblemDeleted {
                    name: current.name(),
                    inspection: current.inspection.clone(),
                };
                outbox::append(txn, &ctx, &event.name, &event).await
            })
        })
        .await?;
        Ok(Response::new(()))
    }

    async fn import_problems(
        &self,
        request: Request<Streaming<ImportProblemsRequest>>,
    ) -> Result<Response<ImportProblemsResponse>, Status> {
        super::problem_import::import_problems(self, request).await
    }

    async fn get_problem_list(
        &self,
        request: Request<GetProblemListRequest>,
    ) -> Result<Response<ProblemList>, Status> {
        super::problem_lists::get_problem_list(self, request).await
    }

    async fn freeze_problem_list(
        &self,
        request: Request<FreezeProblemListRequest>,
    ) -> Result<Response<ProblemList>, Status> {
        super::problem_lists::freeze_problem_list(self, request).await
    }
}
