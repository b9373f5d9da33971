//! InspectionService: inspections and their timeline (巡前 → 巡中 → 汇报 →
//! 反馈 → 整改 → closed). Every step is one transaction that checks the
//! phase, writes the inspection, records the step and appends its event.

use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::replay_first;
use fiveledger_platform::time::{from_optional_date, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::inspection_service_server::InspectionService;
use fiveledger_proto::rounds::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::filters::Narrowed;
use super::scope::context;
use crate::domain::inspection::{
    self as domain, LookedBack, MAX_SUMMARY, Step, briefing_body_ids, parse_report, required_date,
};
use crate::domain::{organisation, parse_enum, round as round_domain};
use crate::staffing::{assignable_group, expect_open_round};
use crate::storage::inspections::{self as store, ListQuery};
use crate::storage::{groups, organisations, rounds};

const MAX_BATCH: usize = 1000;

impl Api {
    /// The inspection `name` as `caller` may read it (NOT_FOUND outside
    /// their scope), with its row.
    async fn read(&self, caller: &Caller, name: &str) -> ApiResult<(store::Model, Inspection)> {
        let row = store::visible(self.db.reader(), caller, "name", name).await?;
        let inspection = store::one(
            self.db.reader(),
            &row,
            self.clock.today(),
            &self.settings.warnings,
        )
        .await?;
        let mut inspection = domain::shown_to(caller, inspection);
        // The suite's own services bind group members to their group.
        if caller.roles.contains(&Role::Service)
            && let Some(group) = &row.group_id
        {
            inspection.group_member_subjects =
                groups::member_subjects(self.db.reader(), &row.round_id, group).await?;
        }
        Ok((row, inspection))
    }

    /// Runs one step that needs nothing read beyond the inspection: in one
    /// transaction, find the inspection the caller may change under the
    /// step's rule, apply the step, write the change.
    pub(super) async fn step(
        &self,
        caller: Caller,
        name: String,
        request_id: String,
        key: Option<RequestKey>,
        step: Step,
    ) -> Result<Response<Inspection>, Status> {
        let ctx = context(&caller, &request_id);
        let settings = self.settings.clone();
        let now = self.clock.now();
        let inspection = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let rule = step.rule();
                let (current, _) = store::changeable(txn, &caller, &name, rule).await?;
                store::take_step(txn, &ctx, &settings, now, &current, &name, step).await
            })
        })
        .await?;
        Ok(Response::new(inspection))
    }
}

#[tonic::async_trait]
impl InspectionService for Api {
    async fn get_inspection(
        &self,
        request: Request<GetInspectionRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let (_, inspection) = self.read(&caller, &request.get_ref().name).await?;
        Ok(Response::new(inspection))
    }

    async fn batch_get_inspections(
        &self,
        request: Request<BatchGetInspectionsRequest>,
    ) -> Result<Response<BatchGetInspectionsResponse>, Status> {
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
        let keys = names
            .iter()
            .map(|n| {
                names::parse_nested("names", n, "rounds", domain::COLLECTION)
                    .map(|(r, i)| (r.to_owned(), i.to_owned()))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let found = store::find_many(self.db.reader(), &keys).await?;
        let ordered = keys
            .iter()
            .zip(names)
            .map(|((r, i), name)| {
                found
                    .iter()
                    .find(|row| &row.round_id == r && &row.id == i)
                    .filter(|row| row.seen_by(&caller))
                    .cloned()
                    .ok_or_else(|| ApiError::not_found(name.clone()))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let inspections = store::to_protos(
            self.db.reader(),
            &ordered,
            self.clock.today(),
            &self.settings.warnings,
        )
        .await?;
        let inspections = inspections
            .into_iter()
            .map(|i| domain::shown_to(&caller, i))
            .collect();
        Ok(Response::new(BatchGetInspectionsResponse { inspections }))
    }

    async fn create_inspection(
        &self,
        request: Request<CreateInspectionRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CreateInspection", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let new = request
            .inspection
            .clone()
            .ok_or_else(|| ApiError::required("inspection"))?;
        let target_id =
            names::parse("inspection.target", &new.target, organisation::COLLECTION)?.to_owned();
        let id = if request.inspection_id.is_empty() {
            None
        } else {
            names::validate_id("inspection_id", &request.inspection_id)?;
            Some(request.inspection_id.clone())
        };
        let ctx = context(&caller, &request.request_id);
        let warnings = self.settings.warnings;
        let now = self.clock.now();
        let created = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let round = rounds::visible(txn, &caller, "parent", &request.parent).await?;
                expect_open_round(&round)?;
                let target =
                    organisations::visible(txn, &caller, "inspection.target", &new.target).await?;
                domain::check_target(
                    &new.target,
                    &target.path,
                    &round.organisation_id,
                    &round.organisation_path,
                )?;
                let look_back_of = if domain::looks_back(round.kind(), &new.look_back_of)? {
                    let earlier =
                        store::visible(txn, &caller, "inspection.look_back_of", &new.look_back_of)
                            .await?;
                    domain::check_look_back(
                        &LookedBack {
                            name: &new.look_back_of,
                            target_id: &earlier.target_id,
                            round_id: &earlier.round_id,
                            phase: earlier.phase(),
                        },
                        &target_id,
                        &round.id,
                        &round.look_back_round_ids()?,
                    )?;
                    earlier.name()
                } else {
                    String::new()
                };
                let group_id = if new.group.is_empty() {
                    None
                } else {
                    Some(
                        assignable_group(
                            txn,
                            &caller,
                            &round,
                            "inspection.group",
                            &new.group,
                            (&target.id, &target.path),
                            now,
                        )
                        .await?,
                    )
                };
                let row = store::New {
                    id: id.unwrap_or_else(|| names::generate_id('i')),
                    round: &round,
                    target: &target,
                    group_id,
                    look_back_of,
                };
                store::create(txn, &ctx, now, &warnings, row, &new.target).await
            })
        })
        .await?;
        Ok(Response::new(created))
    }

    async fn list_inspections(
        &self,
        request: Request<ListInspectionsRequest>,
    ) -> Result<Response<ListInspectionsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.parent, &request.filter, &caller.key()],
        )?;
        let round_id = if request.parent == "rounds/-" {
            None
        } else {
            Some(names::parse("parent", &request.parent, round_domain::COLLECTION)?.to_owned())
        };
        let query = ListQuery {
            scope: caller.scope_path.clone(),
            round_id: round_id.clone(),
            limit: page.limit(),
            ..Default::default()
        };
        let mut narrowed = Narrowed::new(query);
        super::filters::INSPECTIONS.apply(&request.filter, &mut narrowed)?;
        let mut query = narrowed.query;
        if let Some(ancestor) = narrowed.organisation {
            let org = organisations::visible_in(&self.organisations, &caller, "filter", &ancestor)
                .await?;
            query.ancestor_path = Some(org.path);
        }
        // Under a round (the parent's or the group's): NOT_FOUND rather than
        // an empty page when it does not exist or lies outside the caller's
        // reach; `rounds/-` is every round in scope.
        if let Some(round_id) = &query.round_id {
            rounds::listable(self.db.reader(), &caller, round_id).await?;
        }
        if page.after.is_some() {
            query.after = Some((
                page.after_str(0)?.unwrap_or_default().to_owned(),
                page.after_str(1)?.unwrap_or_default().to_owned(),
            ));
        }
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| {
            vec![last.round_id.clone().into(), last.id.clone().into()]
        });
        let inspections = store::to_protos(
            self.db.reader(),
            &rows,
            self.clock.today(),
            &self.settings.warnings,
        )
        .await?;
        Ok(Response::new(ListInspectionsResponse {
            inspections: inspections
                .into_iter()
                .map(|i| domain::shown_to(&caller, i))
                .collect(),
            next_page_token,
        }))
    }

    async fn get_inspection_timeline(
        &self,
        request: Request<GetInspectionTimelineRequest>,
    ) -> Result<Response<InspectionTimeline>, Status> {
        let caller = Caller::of(&request)?;
        let (row, inspection) = self.read(&caller, &request.get_ref().name).await?;
        let steps = store::steps(self.db.reader(), &row.round_id, &row.id).await?;
        Ok(Response::new(InspectionTimeline {
            inspection: Some(inspection),
            steps,
        }))
    }

    async fn assign_inspection_group(
        &self,
        request: Request<AssignInspectionGroupRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "AssignInspectionGroup",
            &request.request_id,
            &request,
        )?;
        replay_first!(&self.db, key);
        if request.group.is_empty() {
            return Err(ApiError::required("group").into());
        }
        let ctx = context(&caller, &request.request_id);
        let settings = self.settings.clone();
        let now = self.clock.now();
        let inspection = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let rule = &domain::ASSIGN_GROUP;
                let (current, round) = store::changeable(txn, &caller, &request.name, rule).await?;
                let group_id = assignable_group(
                    txn,
                    &caller,
                    &round,
                    "group",
                    &request.group,
                    (&current.target_id, &current.target_path),
                    now,
                )
                .await?;
                let step = Step::AssignGroup {
                    group: request.group,
                    group_id,
                };
                store::take_step(txn, &ctx, &settings, now, &current, &request.name, step).await
            })
        })
        .await?;
        Ok(Response::new(inspection))
    }

    async fn record_briefing(
        &self,
        request: Request<RecordBriefingRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "RecordBriefing", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let briefing = request
            .briefing
            .clone()
            .ok_or_else(|| ApiError::required("briefing"))?;
        let org_id = names::parse(
            "briefing.organisation",
            &briefing.organisation,
            organisation::COLLECTION,
        )?
        .to_owned();
        let date = required_date("briefing.date", briefing.date.as_ref())?;
        validate_text("briefing.summary", &briefing.summary, false, MAX_SUMMARY)?;
        let ctx = context(&caller, &request.request_id);
        let settings = self.settings.clone();
        let now = self.clock.now();
        let briefing = Briefing {
            organisation: briefing.organisation.clone(),
            date: Some(to_date(date)),
            summary: briefing.summary.trim().to_owned(),
        };
        let inspection = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let rule = &domain::BRIEF;
                let (current, _) = store::changeable(txn, &caller, &request.name, rule).await?;
                // Read in the transaction; an organisation's kind never changes.
                let body = organisations::find(txn, &org_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(&briefing.organisation))?
                    .kind();
                let step = Step::Brief { briefing, body };
                store::take_step(txn, &ctx, &settings, now, &current, &request.name, step).await
            })
        })
        .await?;
        Ok(Response::new(inspection))
    }

    async fn start_stationing(
        &self,
        request: Request<StartStationingRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "StartStationing", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let start = required_date("start_date", request.start_date.as_ref())?;
        let end = required_date("end_date", request.end_date.as_ref())?;
        if end < start {
            return Err(ApiError::invalid(
                "end_date",
                ErrorReason::EndBeforeStart,
                "end_date cannot be before start_date",
            )
            .into());
        }
        let ctx = context(&caller, &request.request_id);
        let settings = self.settings.clone();
        let now = self.clock.now();
        let inspection = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let rule = &domain::STATION;
                let (current, round) = store::changeable(txn, &caller, &request.name, rule).await?;
                let briefed =
                    organisations::find_many(txn, &briefing_body_ids(&current.records()?))
                        .await?
                        .iter()
                        .map(organisations::Model::kind)
                        .collect();
                let step = Step::Station {
                    start,
                    end,
                    round: round.state(),
                    briefed,
                };
                store::take_step(txn, &ctx, &settings, now, &current, &request.name, step).await
            })
        })
        .await?;
        Ok(Response::new(inspection))
    }

    async fn report_inspection(
        &self,
        request: Request<ReportInspectionRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "ReportInspection", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let kind: InspectionReportKind = parse_enum("kind", request.kind)?;
        let (date, report) = parse_report("report", request.report.as_ref())?;
        let step = Step::Report { kind, date, report };
        self.step(caller, request.name, request.request_id, key, step)
            .await
    }

    async fn notify_leaders_in_charge(
        &self,
        request: Request<NotifyLeadersInChargeRequest>,
    ) -> Result<Response<Inspection>, Status> {
        self.notify_leaders(request).await
    }

    async fn give_feedback(
        &self,
        request: Request<GiveFeedbackRequest>,
    ) -> Result<Response<Inspection>, Status> {
        self.feedback(request).await
    }

    async fn start_rectification(
        &self,
        request: Request<StartRectificationRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "StartRectification", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let start = from_optional_date("start_date", request.start_date.as_ref())?;
        // With neither a start date nor a feedback date, it starts today.
        let step = Step::Rectify {
            start,
            today: self.clock.today(),
        };
        self.step(caller, request.name, request.request_id, key, step)
            .await
    }

    async fn record_double_report(
        &self,
        request: Request<RecordDoubleReportRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "RecordDoubleReport", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let kind: DoubleReportKind = parse_enum("kind", request.kind)?;
        let (date, report) = parse_report("report", request.report.as_ref())?;
        let step = Step::DoubleReport { kind, date, report };
        self.step(caller, request.name, request.request_id, key, step)
            .await
    }

    async fn sweep_double_reports(
        &self,
        request: Request<SweepDoubleReportsRequest>,
    ) -> Result<Response<SweepDoubleReportsResponse>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            crate::sweep::sweep(
                &self.db,
                &self.settings.warnings,
                self.clock.now(),
                &caller.scope_path,
                &caller.actor(),
            )
            .await?,
        ))
    }

    async fn close_inspection(
        &self,
        request: Request<CloseInspectionRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "CloseInspection", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let date = required_date("close_date", request.close_date.as_ref())?;
        validate_text("note", &request.note, false, MAX_SUMMARY)?;
        let step = Step::Close {
            date,
            note: request.note.trim().to_owned(),
        };
        self.step(caller, request.name, request.request_id, key, step)
            .await
    }
}
