//! InspectionService: inspections and their timeline (巡前 → 巡中 → 汇报 →
//! 反馈 → 整改 → closed). Every step is one transaction that checks the
//! phase, writes the inspection, records the step and appends its event.

use chrono::NaiveDate;
use fiveledger_platform::aip::filter::{self, Op};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::replay_first;
use fiveledger_platform::time::{from_date, from_optional_date, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::rounds::inspection_service_server::InspectionService;
use fiveledger_proto::rounds::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::scope::context;
use crate::domain::inspection::{
    self as domain, BRIEFING_BODIES, Change, Event, GROUPS, LookedBack, MAX_PERSON, MAX_SUMMARY,
    briefing_body_ids, check_briefings, missing, not_before,
};
use crate::domain::{organisation, parse_enum, round as round_domain};
use crate::staffing::{assignable_group, expect_open_round};
use crate::storage::inspections::{self as store, ListQuery, encode_records};
use crate::storage::{groups, organisations, rounds};

use InspectionPhase as P;

const MAX_BATCH: usize = 1000;

/// What an inspected unit is not shown of its own inspection: what the
/// discipline commission and the organisation department briefed the group
/// about it (巡前通报, about its leaders). Bodies and dates stay; everyone
/// who works the inspection sees the summaries.
fn shown_to(caller: &Caller, mut inspection: Inspection) -> Inspection {
    let insider = [
        Role::InspectionOffice,
        Role::InspectionGroup,
        Role::DisciplineCommission,
        Role::Supervisor,
        Role::Viewer,
        Role::Service,
    ]
    .into_iter()
    .any(|role| caller.has_role(role));
    if !insider {
        for briefing in &mut inspection.briefings {
            briefing.summary.clear();
        }
    }
    inspection
}

pub fn required_date(field: &str, d: Option<&Date>) -> ApiResult<NaiveDate> {
    from_date(field, d.ok_or_else(|| ApiError::required(field))?)
}

fn date_of(record: &Option<ReportRecord>) -> Option<NaiveDate> {
    record
        .as_ref()
        .and_then(|r| r.date.as_ref())
        .and_then(|d| from_date("", d).ok())
}

/// Validates a report record: a date and a bounded summary.
pub fn parse_report(
    field: &str,
    report: Option<&ReportRecord>,
) -> ApiResult<(NaiveDate, ReportRecord)> {
    let report = report.ok_or_else(|| ApiError::required(field))?;
    let date = required_date(&format!("{field}.date"), report.date.as_ref())?;
    validate_text(
        &format!("{field}.summary"),
        &report.summary,
        false,
        MAX_SUMMARY,
    )?;
    Ok((
        date,
        ReportRecord {
            date: Some(to_date(date)),
            summary: report.summary.trim().to_owned(),
        },
    ))
}

pub fn parse_feedback_part(
    field: &str,
    part: Option<&FeedbackPart>,
) -> ApiResult<(NaiveDate, FeedbackPart)> {
    let part = part.ok_or_else(|| ApiError::required(field))?;
    let date = required_date(&format!("{field}.date"), part.date.as_ref())?;
    validate_text(
        &format!("{field}.given_by"),
        &part.given_by,
        true,
        MAX_PERSON,
    )?;
    validate_text(
        &format!("{field}.recipient"),
        &part.recipient,
        true,
        MAX_PERSON,
    )?;
    Ok((
        date,
        FeedbackPart {
            date: Some(to_date(date)),
            given_by: part.given_by.trim().to_owned(),
            recipient: part.recipient.trim().to_owned(),
        },
    ))
}

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
        let mut inspection = shown_to(caller, inspection);
        // The suite's own services bind group members to their group.
        if caller.roles.contains(&Role::Service)
            && let Some(group) = &row.group_id
        {
            inspection.group_member_subjects =
                groups::member_subjects(self.db.reader(), &row.round_id, group).await?;
        }
        Ok((row, inspection))
    }

    /// Runs one phase step: in one transaction, find the inspection the
    /// caller may change in an `allowed` phase, apply, commit.
    #[allow(clippy::too_many_arguments)]
    async fn step<F>(
        &self,
        caller: Caller,
        method: &'static str,
        name: String,
        request_id: String,
        key: Option<RequestKey>,
        allowed: &'static [InspectionPhase],
        leader_may: bool,
        apply: F,
    ) -> Result<Response<Inspection>, Status>
    where
        F: FnOnce(&store::Model, Inspection) -> ApiResult<Change> + Send + 'static,
    {
        let ctx = context(&caller, &request_id);
        let settings = self.settings.clone();
        let today = self.clock.today();
        let inspection = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let (current, _) =
                    store::changeable(txn, &caller, &name, method, allowed, leader_may).await?;
                let change = apply(&current, current.records()?)?;
                store::write_step(txn, &ctx, &settings, today, method, &current, change).await
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
                "TOO_MANY",
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
            .map(|i| shown_to(&caller, i))
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
        let today = self.clock.today();
        let created = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let round = rounds::visible(txn, &caller, "parent", &request.parent).await?;
                expect_open_round(&round)?;
                let target =
                    organisations::visible(txn, &caller, "inspection.target", &new.target).await?;
                if !fiveledger_platform::auth::in_subtree(&target.path, &round.organisation_path) {
                    return Err(ApiError::invalid(
                        "inspection.target",
                        "TARGET_OUTSIDE_ROUND",
                        format!(
                            "{} is not under {}, which runs the round",
                            new.target,
                            organisation::name_of(&round.organisation_id)
                        ),
                    ));
                }
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
                        )
                        .await?,
                    )
                };
                let id = id.unwrap_or_else(|| names::generate_id('i'));
                let now = chrono::Utc::now();
                let row = store::Model {
                    round_id: round.id.clone(),
                    id,
                    target_id: target.id.clone(),
                    target_path: target.path.clone(),
                    group_id,
                    phase: P::Preparation.as_str_name().to_owned(),
                    round_kind: round.kind.clone(),
                    round_organisation_path: round.organisation_path.clone(),
                    look_back_of,
                    feedback_date: None,
                    double_report_due_date: None,
                    records: encode_records(&Inspection::default()),
                    revision: 1,
                    create_time: now,
                    update_time: now,
                };
                store::create(txn, &ctx, today, &warnings, row, &new.target).await
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
        let mut query = ListQuery {
            scope: caller.scope_path.clone(),
            round_id: round_id.clone(),
            limit: page.limit(),
            ..Default::default()
        };
        for term in filter::parse(&request.filter)? {
            let value = term.expect_op(&[Op::Eq])?;
            match term.field.as_str() {
                "group" => {
                    let (r, g) = names::parse_nested("filter", value, "rounds", GROUPS)?;
                    if round_id.as_deref().is_some_and(|id| id != r) {
                        return Err(ApiError::invalid(
                            "filter",
                            "INVALID_FILTER",
                            "the group is not of the parent round",
                        )
                        .into());
                    }
                    query.round_id = Some(r.to_owned());
                    query.group_id = Some(g.to_owned());
                }
                "phase" => {
                    query.phase = Some(InspectionPhase::from_str_name(value).ok_or_else(|| {
                        ApiError::invalid(
                            "filter",
                            "INVALID_FILTER",
                            format!("unknown phase {value}"),
                        )
                    })?);
                }
                "target" => {
                    query.target_id =
                        Some(names::parse("filter", value, organisation::COLLECTION)?.to_owned());
                }
                "ancestor" => {
                    let org =
                        organisations::visible(self.db.reader(), &caller, "filter", value).await?;
                    query.ancestor_path = Some(org.path);
                }
                "look_back_of" => {
                    names::parse_nested("filter", value, "rounds", domain::COLLECTION)?;
                    query.look_back_of = Some(value.to_owned());
                }
                other => {
                    return Err(ApiError::invalid(
                        "filter",
                        "INVALID_FILTER",
                        format!(
                            "unknown field {other}; use group, phase, target, ancestor or look_back_of"
                        ),
                    )
                    .into());
                }
            }
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
                .map(|i| shown_to(&caller, i))
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
        let today = self.clock.today();
        let inspection = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let (current, round) = store::changeable(
                    txn,
                    &caller,
                    &request.name,
                    "AssignInspectionGroup",
                    &[P::Preparation],
                    false,
                )
                .await?;
                let group_id = assignable_group(
                    txn,
                    &caller,
                    &round,
                    "group",
                    &request.group,
                    (&current.target_id, &current.target_path),
                )
                .await?;
                let change = Change {
                    phase: P::Preparation,
                    records: current.records()?,
                    group_id: Some(group_id),
                    feedback_date: None,
                    event: Event::GroupAssigned,
                    description: format!("{} assigned", request.group),
                };
                store::write_step(
                    txn,
                    &ctx,
                    &settings,
                    today,
                    "AssignInspectionGroup",
                    &current,
                    change,
                )
                .await
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
        let today = self.clock.today();
        let record = Briefing {
            organisation: briefing.organisation.clone(),
            date: Some(to_date(date)),
            summary: briefing.summary.trim().to_owned(),
        };
        let inspection = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let (current, _) = store::changeable(
                    txn,
                    &caller,
                    &request.name,
                    "RecordBriefing",
                    &[P::Preparation],
                    false,
                )
                .await?;
                // Read in the transaction; an organisation's kind never changes.
                let body = organisations::find(txn, &org_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(&record.organisation))?;
                if !BRIEFING_BODIES.contains(&body.kind()) {
                    return Err(ApiError::invalid(
                        "briefing.organisation",
                        "NOT_A_BRIEFING_BODY",
                        format!(
                            "{} is {}; briefings come from {}",
                            record.organisation,
                            body.kind().as_str_name(),
                            BRIEFING_BODIES
                                .iter()
                                .map(|k| k.as_str_name())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                    ));
                }
                let description = format!(
                    "briefing by {} ({})",
                    record.organisation,
                    body.kind().as_str_name()
                );
                let mut records = current.records()?;
                records.briefings.push(record);
                let change = Change {
                    phase: P::Preparation,
                    records,
                    group_id: None,
                    feedback_date: None,
                    event: Event::BriefingRecorded,
                    description,
                };
                store::write_step(
                    txn,
                    &ctx,
                    &settings,
                    today,
                    "RecordBriefing",
                    &current,
                    change,
                )
                .await
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
                "END_BEFORE_START",
                "end_date cannot be before start_date",
            )
            .into());
        }
        let ctx = context(&caller, &request.request_id);
        let settings = self.settings.clone();
        let today = self.clock.today();
        let inspection = mutate(&self.db, key, |txn| {
            Box::pin(async move {
                let name = request.name;
                let (current, round) = store::changeable(
                    txn,
                    &caller,
                    &name,
                    "StartStationing",
                    &[P::Preparation],
                    true,
                )
                .await?;
                if current.group_id.is_none() {
                    return Err(missing(
                        "GROUP_NOT_ASSIGNED",
                        &name,
                        "no group is assigned yet",
                    ));
                }
                let mut records = current.records()?;
                let briefed = organisations::find_many(txn, &briefing_body_ids(&records)).await?;
                check_briefings(&name, &briefed.iter().map(|b| b.kind()).collect::<Vec<_>>())?;
                if round.state() != RoundState::InProgress {
                    return Err(missing(
                        "ROUND_NOT_IN_PROGRESS",
                        &name,
                        &format!("the round is in {}", round.state().as_str_name()),
                    ));
                }
                records.stationing = Some(Stationing {
                    start_date: Some(to_date(start)),
                    end_date: Some(to_date(end)),
                });
                let change = Change {
                    phase: P::Stationed,
                    records,
                    group_id: None,
                    feedback_date: None,
                    event: Event::Stationed,
                    description: format!("stationed from {start} to {end}"),
                };
                store::write_step(
                    txn,
                    &ctx,
                    &settings,
                    today,
                    "StartStationing",
                    &current,
                    change,
                )
                .await
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
        let name = request.name.clone();
        self.step(
            caller,
            "ReportInspection",
            request.name,
            request.request_id,
            key,
            &[P::Stationed],
            true,
            move |_, mut records| {
                let stationed = records
                    .stationing
                    .as_ref()
                    .and_then(|s| s.start_date.as_ref())
                    .and_then(|d| from_date("", d).ok());
                not_before("report.date", date, stationed, "the stationing start")?;
                match kind {
                    InspectionReportKind::MidTerm => {
                        if records.mid_term_report.is_some() {
                            return Err(missing(
                                "MID_TERM_ALREADY_REPORTED",
                                &name,
                                "the mid-term report is already recorded",
                            ));
                        }
                        records.mid_term_report = Some(report);
                        Ok(Change {
                            phase: P::Stationed,
                            records,
                            group_id: None,
                            feedback_date: None,
                            event: Event::MidTermReported,
                            description: format!("mid-term report on {date}"),
                        })
                    }
                    _ => {
                        if records.mid_term_report.is_none() {
                            return Err(missing(
                                "MID_TERM_REPORT_MISSING",
                                &name,
                                "the mid-term report comes before the comprehensive one",
                            ));
                        }
                        not_before(
                            "report.date",
                            date,
                            date_of(&records.mid_term_report),
                            "the mid-term report",
                        )?;
                        records.comprehensive_report = Some(report);
                        Ok(Change {
                            phase: P::Reported,
                            records,
                            group_id: None,
                            feedback_date: None,
                            event: Event::Reported,
                            description: format!(
                                "comprehensive report on {date}; problem list frozen"
                            ),
                        })
                    }
                }
            },
        )
        .await
    }

    async fn give_feedback(
        &self,
        request: Request<GiveFeedbackRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "GiveFeedback", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        let feedback = request
            .feedback
            .as_ref()
            .ok_or_else(|| ApiError::required("feedback"))?;
        let (individual_date, individual) =
            parse_feedback_part("feedback.individual", feedback.individual.as_ref())?;
        let (public_date, public) =
            parse_feedback_part("feedback.public", feedback.public.as_ref())?;
        self.step(
            caller,
            "GiveFeedback",
            request.name,
            request.request_id,
            key,
            &[P::Reported],
            false,
            move |_, mut records| {
                let reported = date_of(&records.comprehensive_report);
                not_before(
                    "feedback.individual.date",
                    individual_date,
                    reported,
                    "the comprehensive report",
                )?;
                not_before(
                    "feedback.public.date",
                    public_date,
                    reported,
                    "the comprehensive report",
                )?;
                // Feedback is complete when both parts are given.
                let date = individual_date.max(public_date);
                records.feedback = Some(DoubleFeedback {
                    individual: Some(individual),
                    public: Some(public),
                });
                Ok(Change {
                    phase: P::FeedbackGiven,
                    records,
                    group_id: None,
                    feedback_date: Some(date),
                    event: Event::FeedbackGiven,
                    description: format!("double feedback given, complete on {date}"),
                })
            },
        )
        .await
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
        let today = self.clock.today();
        self.step(
            caller,
            "StartRectification",
            request.name,
            request.request_id,
            key,
            &[P::FeedbackGiven],
            false,
            move |current, mut records| {
                let start = start.or(current.feedback_date).unwrap_or(today);
                not_before("start_date", start, current.feedback_date, "the feedback")?;
                records.rectification_start_date = Some(to_date(start));
                records.double_report = Some(DoubleReport::default());
                Ok(Change {
                    phase: P::Rectifying,
                    records,
                    group_id: None,
                    feedback_date: None,
                    event: Event::RectificationStarted,
                    description: format!("rectification started on {start}"),
                })
            },
        )
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
        let name = request.name.clone();
        self.step(
            caller,
            "RecordDoubleReport",
            request.name,
            request.request_id,
            key,
            &[P::Rectifying],
            false,
            move |current, mut records| {
                not_before("report.date", date, current.feedback_date, "the feedback")?;
                let double = records.double_report.get_or_insert_with(Default::default);
                let slot = match kind {
                    DoubleReportKind::Team => &mut double.team_report,
                    _ => &mut double.principal_report,
                };
                if slot.is_some() {
                    return Err(missing(
                        "DOUBLE_REPORT_ALREADY_RECORDED",
                        &name,
                        &format!("{} is already recorded", kind.as_str_name()),
                    ));
                }
                *slot = Some(report);
                Ok(Change {
                    phase: P::Rectifying,
                    records,
                    group_id: None,
                    feedback_date: None,
                    event: Event::DoubleReportRecorded(kind),
                    description: format!("{} received on {date}", kind.as_str_name()),
                })
            },
        )
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
                self.clock.today(),
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
        let note = request.note.trim().to_owned();
        let name = request.name.clone();
        self.step(
            caller,
            "CloseInspection",
            request.name,
            request.request_id,
            key,
            &[P::Rectifying],
            false,
            move |_, mut records| {
                let double = records.double_report.clone().unwrap_or_default();
                if double.team_report.is_none() || double.principal_report.is_none() {
                    return Err(missing(
                        "DOUBLE_REPORT_MISSING",
                        &name,
                        "both the team's and the principal's reports must be received",
                    ));
                }
                let last = date_of(&double.team_report).max(date_of(&double.principal_report));
                not_before("close_date", date, last, "the double report")?;
                records.close_date = Some(to_date(date));
                records.closing_note = note;
                Ok(Change {
                    phase: P::Closed,
                    records,
                    group_id: None,
                    feedback_date: None,
                    event: Event::Closed,
                    description: format!("closed on {date}"),
                })
            },
        )
        .await
    }
}
