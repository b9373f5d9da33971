//! HandOffService, and the steps around feedback that feed it: the notice
//! to the leaders in charge before feedback (分管领导通报) and the feedback
//! itself with its hand-offs (移交). InspectionService's methods for those
//! steps call in here.

use fiveledger_platform::aip::filter::{EQ, Field, Schema};
use fiveledger_platform::aip::idempotency::{RequestKey, mutate};
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::aip::page::PageRequest;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::replay_first;
use fiveledger_platform::time::from_optional_date;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::rounds::hand_off_service_server::HandOffService;
use fiveledger_proto::rounds::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::filters::Narrowed;
use super::scope::context;
use crate::domain::hand_off::{self as domain, expect_result_open, expect_unacknowledged};
use crate::domain::inspection::{FEEDBACK, MAX_SUMMARY, Step, not_before, parse_feedback_part};
use crate::domain::leaders::parse_notice;
use crate::storage::hand_offs::{self as store, ListQuery};
use crate::storage::{inspections, organisations};

/// `ListHandOffs`: `fiveledger.rounds.v1.ListHandOffsRequest.filter`.
pub(super) const HAND_OFFS: Schema<Narrowed<ListQuery>> = Schema(&[
    Field {
        name: "receiver",
        ops: EQ,
        apply: |n, _, v| {
            n.organisation = Some(v);
            Ok(())
        },
    },
    Field {
        name: "kind",
        ops: EQ,
        apply: |n, _, v| {
            n.query.kind = Some(HandOffKind::from_str_name(&v).ok_or_else(|| {
                ApiError::invalid(
                    "filter",
                    CommonReason::InvalidFilter,
                    format!("unknown kind {v}"),
                )
            })?);
            Ok(())
        },
    },
    Field {
        name: "acknowledged",
        ops: EQ,
        apply: |n, _, v| {
            n.query.acknowledged = Some(match v.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::invalid(
                        "filter",
                        CommonReason::InvalidFilter,
                        "acknowledged is true or false",
                    ));
                }
            });
            Ok(())
        },
    },
]);

impl Api {
    /// InspectionService.NotifyLeadersInCharge.
    pub(super) async fn notify_leaders(
        &self,
        request: Request<NotifyLeadersInChargeRequest>,
    ) -> Result<Response<Inspection>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "NotifyLeadersInCharge",
            &request.request_id,
            &request,
        )?;
        replay_first!(&self.db, key);
        let (date, notice) = parse_notice(request.notice.as_ref())?;
        let step = Step::NotifyLeaders { date, notice };
        self.step(caller, request.name, request.request_id, key, step)
            .await
    }

    /// InspectionService.GiveFeedback: the step, then its hand-offs, in one
    /// transaction.
    pub(super) async fn feedback(
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
        let step = Step::Feedback {
            individual: parse_feedback_part("feedback.individual", feedback.individual.as_ref())?,
            public: parse_feedback_part("feedback.public", feedback.public.as_ref())?,
        };
        let functional = domain::parse_functional(&request.functional_hand_offs)?;
        let (round_id, inspection_id) = names::parse_nested(
            "name",
            &request.name,
            crate::domain::round::COLLECTION,
            crate::domain::inspection::COLLECTION,
        )?;
        // One question to the issues service per feedback, before the
        // transaction: are there ideology problems for propaganda?
        let ideology = self
            .issues
            .has_problem_of(
                &crate::domain::inspection::name_of(round_id, inspection_id),
                domain::IDEOLOGY_CATEGORY,
            )
            .await?;
        let ctx = context(&caller, &request.request_id);
        let settings = self.settings.clone();
        let now = self.clock.now();
        let name = request.name;
        let inspection = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let (current, round) =
                    inspections::changeable(txn, &caller, &name, &FEEDBACK).await?;
                let given =
                    inspections::take_step(txn, &ctx, &settings, now, &current, &name, step)
                        .await?;
                let after = inspections::find(txn, &current.round_id, &current.id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(&name))?;
                let handing = store::Handing {
                    functional: &functional,
                    ideology,
                };
                store::make_at_feedback(txn, &ctx, &settings, now, &after, &round, &handing)
                    .await?;
                Ok(given)
            })
        })
        .await?;
        Ok(Response::new(inspection))
    }
}

#[tonic::async_trait]
impl HandOffService for Api {
    async fn list_hand_offs(
        &self,
        request: Request<ListHandOffsRequest>,
    ) -> Result<Response<ListHandOffsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let page = PageRequest::parse(
            request.page_size,
            &request.page_token,
            &[&request.parent, &request.filter, &caller.key()],
        )?;
        let mut query = ListQuery::reach_of(&caller);
        query.limit = page.limit();
        if request.parent != "rounds/-/inspections/-" {
            // NOT_FOUND unless the caller may see the inspection.
            let row =
                inspections::visible(self.db.reader(), &caller, "parent", &request.parent).await?;
            query.inspection = Some((row.round_id, row.id));
        }
        let mut narrowed = Narrowed::new(query);
        HAND_OFFS.apply(&request.filter, &mut narrowed)?;
        let mut query = narrowed.query;
        if let Some(receiver) = narrowed.organisation {
            let org = organisations::visible_in(&self.organisations, &caller, "filter", &receiver)
                .await?;
            query.receiver_id = Some(org.id);
        }
        if page.after.is_some() {
            let part =
                |i| -> ApiResult<String> { Ok(page.after_str(i)?.unwrap_or_default().to_owned()) };
            query.after = Some((part(0)?, part(1)?, part(2)?));
        }
        let rows = store::list(self.db.reader(), &query).await?;
        let (rows, next_page_token) = page.finish(rows, |last| {
            vec![
                last.round_id.clone().into(),
                last.inspection_id.clone().into(),
                last.id.clone().into(),
            ]
        });
        let today = self.clock.today();
        Ok(Response::new(ListHandOffsResponse {
            hand_offs: rows
                .iter()
                .map(|r| r.to_proto(today, &self.settings.warnings))
                .collect(),
            next_page_token,
        }))
    }

    async fn acknowledge_hand_off(
        &self,
        request: Request<AcknowledgeHandOffRequest>,
    ) -> Result<Response<HandOff>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(&caller, "AcknowledgeHandOff", &request.request_id, &request)?;
        replay_first!(&self.db, key);
        domain::parse_name("name", &request.name)?;
        let date = from_optional_date("date", request.date.as_ref())?;
        validate_text("note", &request.note, false, MAX_SUMMARY)?;
        let ctx = context(&caller, &request.request_id);
        let settings = self.settings.clone();
        let now = self.clock.now();
        let today = self.clock.today();
        let hand_off = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let current = store::received(txn, &caller, &request.name, &request.etag).await?;
                expect_unacknowledged(&request.name, current.acknowledged)?;
                let date = dated(date, today, Some(current.hand_off_date), "the hand-off")?;
                let note = request.note.trim().to_owned();
                store::acknowledge(txn, &ctx, &settings, now, &current, date, note).await
            })
        })
        .await?;
        Ok(Response::new(hand_off))
    }

    async fn record_hand_off_result(
        &self,
        request: Request<RecordHandOffResultRequest>,
    ) -> Result<Response<HandOff>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let key = RequestKey::new(
            &caller,
            "RecordHandOffResult",
            &request.request_id,
            &request,
        )?;
        replay_first!(&self.db, key);
        domain::parse_name("name", &request.name)?;
        let date = from_optional_date("date", request.date.as_ref())?;
        validate_text("conclusion", &request.conclusion, true, MAX_SUMMARY)?;
        let ctx = context(&caller, &request.request_id);
        let settings = self.settings.clone();
        let now = self.clock.now();
        let today = self.clock.today();
        let hand_off = mutate(&self.db, key, move |txn| {
            Box::pin(async move {
                let current = store::received(txn, &caller, &request.name, &request.etag).await?;
                expect_result_open(
                    &request.name,
                    current.acknowledged,
                    current.result_date.is_some(),
                )?;
                let acknowledged = current.acknowledgement_date;
                let date = dated(date, today, acknowledged, "the acknowledgement")?;
                let conclusion = request.conclusion.trim().to_owned();
                store::record_result(txn, &ctx, &settings, now, &current, date, conclusion).await
            })
        })
        .await?;
        Ok(Response::new(hand_off))
    }

    async fn sweep_hand_offs(
        &self,
        request: Request<SweepHandOffsRequest>,
    ) -> Result<Response<SweepHandOffsResponse>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            crate::hand_off_sweep::sweep(
                &self.db,
                &self.settings.warnings,
                self.clock.now(),
                &caller.scope_path,
                &caller.actor(),
            )
            .await?,
        ))
    }
}

/// The day a receiving body's step is dated (`date`, today when empty):
/// not before `earliest` (`what`) nor after today (INVALID_ARGUMENT `date`).
fn dated(
    date: Option<chrono::NaiveDate>,
    today: chrono::NaiveDate,
    earliest: Option<chrono::NaiveDate>,
    what: &str,
) -> ApiResult<chrono::NaiveDate> {
    let date = date.unwrap_or(today);
    not_before("date", date, earliest, what)?;
    if date > today {
        return Err(ApiError::invalid(
            "date",
            CommonReason::OutOfRange,
            format!("date cannot be after today ({today})"),
        ));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiveledger_platform::aip::filter::{documented_fields, field_comment};

    #[test]
    fn the_list_accepts_exactly_the_fields_its_request_documents() {
        let comment = field_comment("fiveledger.rounds.v1.ListHandOffsRequest", "filter")
            .expect("documented");
        assert_eq!(documented_fields(&comment), HAND_OFFS.names());
    }
}
