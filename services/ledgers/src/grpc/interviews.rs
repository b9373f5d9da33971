//! LedgerService's steps of escalation (约谈): the reply to a supervision
//! notice, interviews and their follow-ups (the rules are in
//! `domain::interview`; `ledger.rs` routes the RPCs here).

use fiveledger_platform::aip::idempotency::RequestKey;
use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::replay_first;
use fiveledger_platform::time::from_date;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::WarningColour;
use tonic::{Request, Response, Status};

use super::{Api, traceparent};
use crate::domain::entry::{self as domain, text};
use crate::domain::interview::{self, next_interview_id};
use crate::domain::scope::Capacity;
use crate::domain::warning;

/// Who records an interview, by its kind and level (see `InterviewLevel`
/// and `InterviewKind` in the API).
fn recorders(i: &Interview) -> &'static [Capacity] {
    match (i.kind(), i.level()) {
        (InterviewKind::GradedReminder, InterviewLevel::Handler) => {
            &[Capacity::Office, Capacity::Receiver]
        }
        (InterviewKind::GradedReminder, InterviewLevel::Liaison) => {
            &[Capacity::Office, Capacity::Supervisor]
        }
        (InterviewKind::GradedReminder, _) => &[Capacity::Supervisor],
        (InterviewKind::DoubleInterview, _) => &[Capacity::Supervisor, Capacity::Receiver],
        _ => &[Capacity::Office],
    }
}

/// `entries/{entry}/postings/{seq}` of the entry `name`: the seq.
pub fn parse_notice(name: &str, notice: &str) -> ApiResult<i64> {
    if notice.is_empty() {
        return Err(ApiError::required("notice"));
    }
    let seq = notice
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix("/postings/"))
        .and_then(|seq| seq.parse::<i64>().ok())
        .filter(|seq| *seq > 0);
    seq.ok_or_else(|| {
        ApiError::invalid(
            "notice",
            fiveledger_platform::error::CommonReason::InvalidName,
            format!("notice must be a posting of {name}: {name}/postings/{{seq}}"),
        )
    })
}

impl Api {
    pub(super) async fn reply_to_notice_step(
        &self,
        request: Request<ReplyToNoticeRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "ReplyToNotice", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        domain::parse_name("name", &r.name)?;
        let seq = parse_notice(&r.name, &r.notice)?;
        let reply = text("reply", &r.reply, true)?;
        let evidence = domain::parse_evidence("evidence", &r.evidence)?;
        let notice = r.notice.clone();
        let thresholds = self.settings.thresholds();
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Unit],
            move |entry, day| {
                // Late: the reply item's colour that day (yellow or red).
                let item = interview::reply_item(seq);
                let today = from_date("date", &day)?;
                let late_colour = entry
                    .deadlines
                    .iter()
                    .find(|d| d.item == item)
                    .map(|d| warning::colour_now(d, today, &thresholds))
                    .filter(|c| *c >= WarningColour::Yellow)
                    .unwrap_or_default();
                Ok(Detail::NoticeReplied(NoticeReplyDetail {
                    notice,
                    reply,
                    evidence,
                    reply_date: Some(day),
                    late_colour: late_colour as i32,
                }))
            },
        )
        .await
    }

    pub(super) async fn record_interview_step(
        &self,
        request: Request<RecordInterviewRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "RecordInterview", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        let today = self.clock.now().date_naive();
        let parsed = interview::with_follow_up_due(
            interview::parse_interview(r.interview.as_ref(), today)?,
            self.settings.interview_follow_up_days,
        );
        let capacities = recorders(&parsed);
        let thresholds = self.settings.thresholds();
        self.step(caller, trace, &r, key, capacities, move |entry, day| {
            interview::check_due(entry, &parsed, from_date("date", &day)?, &thresholds)?;
            Ok(Detail::Interview(Interview {
                id: next_interview_id(entry),
                ..parsed
            }))
        })
        .await
    }

    pub(super) async fn record_interview_follow_up_step(
        &self,
        request: Request<RecordInterviewFollowUpRequest>,
    ) -> Result<Response<LedgerEntry>, Status> {
        let (caller, trace) = (Caller::of(&request)?, traceparent(&request));
        let r = request.into_inner();
        let key = RequestKey::new(&caller, "RecordInterviewFollowUp", &r.request_id, &r)?;
        replay_first!(&self.db, key);
        names::validate_id("interview_id", &r.interview_id)?;
        let follow_up = text("follow_up", &r.follow_up, true)?;
        let evidence = domain::parse_evidence("evidence", &r.evidence)?;
        let interview_id = r.interview_id.clone();
        self.step(
            caller,
            trace,
            &r,
            key,
            &[Capacity::Unit, Capacity::Office, Capacity::Supervisor],
            move |_, day| {
                Ok(Detail::InterviewFollowUp(InterviewFollowUpDetail {
                    interview_id,
                    follow_up,
                    evidence,
                    date: Some(day),
                }))
            },
        )
        .await
    }
}
