//! Ledger entries (台账条目) and the rules of the five steps. An entry is
//! the fold of its postings: [`apply`] is the only place state changes, used
//! both when a posting is made (it refuses a step out of order) and when a
//! journal is replayed to verify the stored projection.

use chrono::NaiveDate;
use fiveledger_platform::aip::etag::etag;
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::error::Violation;
use fiveledger_platform::time::{from_date, to_date};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::ErrorReason;
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::Evidence;

use super::interview;

pub const COLLECTION: &str = "entries";
pub const MAX_TEXT: usize = 4000;
pub const MAX_SHORT_TEXT: usize = 200;
pub const MAX_MEASURES: usize = 50;
pub const MAX_EVIDENCE: usize = 50;

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

pub fn posting_name(entry_id: &str, seq: i64) -> String {
    format!("{COLLECTION}/{entry_id}/postings/{seq}")
}

/// Parses `entries/{entry}`.
pub fn parse_name<'a>(field: &str, name: &'a str) -> ApiResult<&'a str> {
    names::parse(field, name, COLLECTION)
}

pub fn kind_of(detail: &Detail) -> PostingKind {
    match detail {
        Detail::Open(_) => PostingKind::Open,
        Detail::HandOver(_) => PostingKind::HandOver,
        Detail::HandOverAcknowledged(_) => PostingKind::HandOverAcknowledged,
        Detail::PlanSubmitted(_) => PostingKind::PlanSubmitted,
        Detail::PlanApproved(_) => PostingKind::PlanApproved,
        Detail::PlanRejected(_) => PostingKind::PlanRejected,
        Detail::Progress(_) => PostingKind::Progress,
        Detail::Supervision(_) => PostingKind::Supervision,
        Detail::Transferred(_) => PostingKind::Transferred,
        Detail::TransferAcknowledged(_) => PostingKind::TransferAcknowledged,
        Detail::TransferResult(_) => PostingKind::TransferResult,
        Detail::WriteOffRequested(_) => PostingKind::WriteOffRequested,
        Detail::WriteOffApproved(_) => PostingKind::WriteOffApproved,
        Detail::WriteOffRejected(_) => PostingKind::WriteOffRejected,
        Detail::Reopened(_) => PostingKind::Reopened,
        Detail::Warning(_) => PostingKind::Warning,
        Detail::NoticeReplied(_) => PostingKind::NoticeReplied,
        Detail::Interview(_) => PostingKind::Interview,
        Detail::InterviewFollowUp(_) => PostingKind::InterviewFollowUp,
        Detail::InterviewRequired(_) => PostingKind::InterviewRequired,
    }
}

/// A date field as a `NaiveDate`, if set and valid.
pub fn date_of(d: Option<&Date>) -> Option<NaiveDate> {
    d.and_then(|d| from_date("date", d).ok())
}

/// The day a posting took effect: its effective date, else the day of its
/// time.
fn posting_date(posting: &Posting) -> Option<Date> {
    posting.effective_date.or_else(|| {
        posting
            .create_time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .map(|t| to_date(t.date_naive()))
    })
}

fn wrong_state(entry: &LedgerEntry, step: &str, allowed: &[EntryState]) -> ApiError {
    let state = entry.state().as_str_name();
    ApiError::precondition_with(
        ErrorReason::WrongState,
        format!(
            "cannot {step}: {} is in state {state} (allowed: {})",
            entry.name,
            allowed
                .iter()
                .map(|s| s.as_str_name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        vec![Violation {
            kind: "STATE".into(),
            subject: entry.name.clone(),
            description: format!("the entry is {state}"),
        }],
    )
}

/// The states of an entry in the unit's hands or with a receiver: handed
/// over and not written off.
pub const ACTIVE: &[EntryState] = &[
    EntryState::HandedOver,
    EntryState::Acknowledged,
    EntryState::Planned,
    EntryState::Rectifying,
    EntryState::Transferred,
    EntryState::AwaitingVerification,
    EntryState::Reopened,
];

pub fn require(entry: &LedgerEntry, step: &str, allowed: &[EntryState]) -> ApiResult<()> {
    if allowed.contains(&entry.state()) {
        Ok(())
    } else {
        Err(wrong_state(entry, step, allowed))
    }
}

/// A decision names exactly the pending version: an older one was decided
/// already (approved or rejected), a newer one was never submitted.
fn check_version(entry: &LedgerEntry, version: i32) -> ApiResult<()> {
    let pending = entry.pending_plan.as_ref().map(|p| p.version).unwrap_or(0);
    if version == pending {
        return Ok(());
    }
    let what = if version < pending {
        "was decided already"
    } else {
        "was never submitted"
    };
    Err(ApiError::precondition_with(
        ErrorReason::PlanVersionMismatch,
        format!(
            "{}: plan version {version} {what}; the entry is {} with version {pending} pending",
            entry.name,
            entry.state().as_str_name()
        ),
        vec![Violation {
            kind: "PLAN_VERSION".into(),
            subject: entry.name.clone(),
            description: format!("version {pending} is pending"),
        }],
    ))
}

fn check_verifier(entry: &LedgerEntry, actor: &str) -> ApiResult<()> {
    let requester = entry
        .write_off
        .as_ref()
        .map(|w| w.requested_by.as_str())
        .unwrap_or_default();
    if requester == actor {
        return Err(ApiError::precondition_with(
            ErrorReason::VerifierIsRequester,
            format!("{actor} requested this write-off and cannot verify it"),
            vec![Violation {
                kind: "SEPARATION_OF_DUTIES".into(),
                subject: entry.name.clone(),
                description: "the verifier must not be the requester".into(),
            }],
        ));
    }
    Ok(())
}

/// Applies one posting to the entry, or refuses it (leaving the entry as it
/// was). The posting's envelope (actor, time, seq, hash) is already set.
pub fn apply(entry: &mut LedgerEntry, posting: &Posting) -> ApiResult<()> {
    use EntryState as S;
    let detail = posting
        .detail
        .as_ref()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("posting without detail")))?;
    let mut next = entry.clone();
    match detail {
        Detail::Open(o) => {
            require(entry, "open the entry", &[S::Unspecified])?;
            next.problem = o.problem.clone();
            next.inspection = o.inspection.clone();
            next.round = o.round.clone();
            next.target = o.target.clone();
            next.target_path = o.target_path.clone();
            next.round_organisation_path = o.round_organisation_path.clone();
            next.category = o.category.clone();
            next.severity = o.severity;
            next.title = o.title.clone();
            next.fixed_on_the_spot = o.fixed_on_the_spot;
            next.responsibility = o.responsibility.clone();
            next.create_time = posting.create_time;
            next.set_state(S::Open);
        }
        Detail::HandOver(h) => {
            require(entry, "hand over", &[S::Open])?;
            next.handed_over_date = h.feedback_date;
            next.original_due_date = h.due_date;
            next.due_date = h.due_date;
            next.set_state(S::HandedOver);
        }
        Detail::HandOverAcknowledged(_) => {
            require(entry, "acknowledge the hand-over", &[S::HandedOver])?;
            next.set_state(S::Acknowledged);
        }
        Detail::PlanSubmitted(plan) => {
            require(
                entry,
                "submit a plan",
                &[S::Acknowledged, S::Planned, S::Rectifying, S::Reopened],
            )?;
            let expected = next_plan_version(entry);
            // Journals written before rejected versions were counted
            // restarted after a rejection; they replay as recorded.
            let restarted = plan.version == kept_plan_version(entry) + 1;
            if plan.version != expected && !restarted {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "plan version {} posted where {expected} was due",
                    plan.version
                )));
            }
            next.latest_plan_version = entry.latest_plan_version.max(plan.version);
            if entry.state() != S::Planned {
                next.set_previous_state(entry.state());
            }
            let mut plan = plan.clone();
            plan.submitted_by = posting.actor.clone();
            plan.approved_by.clear();
            next.pending_plan = Some(plan);
            next.set_state(S::Planned);
        }
        Detail::PlanApproved(d) => {
            require(entry, "approve a plan", &[S::Planned])?;
            check_version(entry, d.version)?;
            let mut plan = next.pending_plan.take().unwrap_or_default();
            plan.approved_by = posting.actor.clone();
            // Measures carried over keep their progress (same id, same kind).
            if let Some(old) = &entry.plan {
                for m in &mut plan.measures {
                    // After a reopening every measure is to be done again.
                    if entry.previous_state() == S::Reopened {
                        break;
                    }
                    if let Some(o) = old.measures.iter().find(|o| o.id == m.id) {
                        m.done = o.done;
                        m.done_date = o.done_date;
                    }
                }
            }
            next.due_date = plan.due_date;
            next.plan = Some(plan);
            next.set_state(S::Rectifying);
        }
        Detail::PlanRejected(d) => {
            require(entry, "reject a plan", &[S::Planned])?;
            check_version(entry, d.version)?;
            next.pending_plan = None;
            next.set_state(entry.previous_state());
        }
        Detail::Progress(p) => {
            require(
                entry,
                "post progress",
                &[
                    S::Acknowledged,
                    S::Planned,
                    S::Rectifying,
                    S::Transferred,
                    S::Reopened,
                ],
            )?;
            if !p.measure_id.is_empty() {
                let measure = next
                    .plan
                    .as_mut()
                    .and_then(|plan| plan.measures.iter_mut().find(|m| m.id == p.measure_id))
                    .ok_or_else(|| {
                        ApiError::precondition(
                            ErrorReason::MeasureNotInPlan,
                            format!(
                                "{} has no measure {} in its approved plan",
                                entry.name, p.measure_id
                            ),
                        )
                    })?;
                if p.measure_done && !measure.done {
                    measure.done = true;
                    measure.done_date = p.date.or_else(|| posting_date(posting));
                }
            }
        }
        Detail::Supervision(_) => {
            if entry.state() == S::Unspecified {
                return Err(wrong_state(entry, "post supervision", &[]));
            }
        }
        Detail::Transferred(t) => {
            require(
                entry,
                "transfer",
                &[S::HandedOver, S::Acknowledged, S::Rectifying, S::Reopened],
            )?;
            next.set_previous_state(entry.state());
            let mut t = t.clone();
            t.transfer_date = posting_date(posting);
            next.transfers.push(t);
            next.set_state(S::Transferred);
        }
        Detail::TransferAcknowledged(_) => {
            require(entry, "acknowledge the transfer", &[S::Transferred])?;
            let open = next.transfers.last_mut().ok_or_else(corrupt_transfer)?;
            if !open.acknowledged_by.is_empty() {
                return Err(ApiError::precondition(
                    CommonReason::TransferAlreadyAcknowledged,
                    format!(
                        "transfer {} was acknowledged by {}",
                        open.id, open.acknowledged_by
                    ),
                ));
            }
            open.acknowledged_by = posting.actor.clone();
        }
        Detail::TransferResult(r) => {
            require(entry, "return a transfer result", &[S::Transferred])?;
            let open = next.transfers.last_mut().ok_or_else(corrupt_transfer)?;
            if open.acknowledged_by.is_empty() {
                return Err(ApiError::precondition(
                    ErrorReason::TransferNotAcknowledged,
                    format!(
                        "transfer {} must be acknowledged before its result",
                        open.id
                    ),
                ));
            }
            open.result = r.result.clone();
            open.result_date = r.date.or_else(|| posting_date(posting));
            next.set_state(entry.previous_state());
            next.set_previous_state(S::Transferred);
        }
        Detail::WriteOffRequested(w) => {
            require(entry, "request a write-off", &[S::Rectifying])?;
            let open: Vec<&Measure> = entry
                .plan
                .as_ref()
                .map(|p| p.measures.iter().filter(|m| !m.done).collect())
                .unwrap_or_default();
            if !open.is_empty() {
                return Err(ApiError::precondition_with(
                    ErrorReason::MeasuresOpen,
                    format!(
                        "{} cannot be written off while {} measure(s) are not done",
                        entry.name,
                        open.len()
                    ),
                    open.iter()
                        .map(|m| Violation {
                            kind: "MEASURE_OPEN".into(),
                            subject: m.id.clone(),
                            description: format!("measure {} is not done", m.id),
                        })
                        .collect(),
                ));
            }
            let mut w = w.clone();
            // A write-off recorded after the fact names who asked on paper;
            // otherwise the one who posted it asked.
            if w.requested_by.is_empty() {
                w.requested_by = posting.actor.clone();
            }
            w.request_time = posting.create_time;
            next.write_off = Some(w);
            next.set_state(S::AwaitingVerification);
        }
        Detail::WriteOffApproved(v) => {
            require(entry, "approve the write-off", &[S::AwaitingVerification])?;
            check_verifier(entry, &posting.actor)?;
            if let Some(w) = next.write_off.as_mut() {
                w.verified_by = posting.actor.clone();
                w.verify_time = posting.create_time;
                w.verify_date = posting_date(posting);
                w.approved = true;
                w.verifier_remarks = v.remarks.clone();
            }
            if next.first_written_off_date.is_none() {
                next.first_written_off_date = posting_date(posting);
            }
            next.set_state(S::WrittenOff);
        }
        Detail::WriteOffRejected(v) => {
            require(entry, "reject the write-off", &[S::AwaitingVerification])?;
            check_verifier(entry, &posting.actor)?;
            if let Some(w) = next.write_off.as_mut() {
                w.verified_by = posting.actor.clone();
                w.verify_time = posting.create_time;
                w.verify_date = posting_date(posting);
                w.approved = false;
                w.verifier_remarks = v.remarks.clone();
            }
            next.set_state(S::Rectifying);
        }
        Detail::Reopened(r) => {
            require(entry, "reopen", &[S::WrittenOff])?;
            next.reopen_count += 1;
            next.due_date = r.due_date;
            next.set_previous_state(S::WrittenOff);
            next.set_state(S::Reopened);
        }
        Detail::Warning(_) => {
            if entry.state() == S::Unspecified {
                return Err(wrong_state(entry, "post a warning", &[]));
            }
        }
        Detail::NoticeReplied(r) => {
            require(entry, "reply to a notice", ACTIVE)?;
            interview::reply(&mut next, r, &posting.actor, posting_date(posting))?;
        }
        Detail::Interview(i) => {
            require(entry, "record an interview", ACTIVE)?;
            interview::record(&mut next, i, &posting.actor)?;
        }
        Detail::InterviewFollowUp(f) => {
            require(entry, "record an interview's follow-up", ACTIVE)?;
            interview::follow_up(&mut next, f, &posting.actor, posting_date(posting))?;
        }
        Detail::InterviewRequired(r) => {
            require(entry, "require an interview", ACTIVE)?;
            next.interview_requirements.push(r.clone());
        }
    }
    // Postings of the sweep are not steps of the entry.
    let swept = matches!(detail, Detail::Warning(_) | Detail::InterviewRequired(_));
    if !swept {
        next.last_step_date = posting_date(posting);
    }
    match detail {
        Detail::Warning(w) => {
            super::warning::record(&mut next, w);
            // A supervision notice opens its reply item.
            if interview::notice_sent(&mut next, posting, w) {
                super::warning::track(&mut next, posting_date(posting), false);
            }
        }
        Detail::InterviewRequired(_) => {}
        _ => super::warning::track(
            &mut next,
            posting_date(posting),
            matches!(detail, Detail::Reopened(_)),
        ),
    }
    if matches!(detail, Detail::NoticeReplied(_)) {
        interview::mark_late_replies(&mut next);
    }
    next.posting_count = posting.seq;
    next.journal_head = posting.hash.clone();
    next.update_time = posting.create_time;
    next.etag = etag(posting.seq);
    *entry = next;
    Ok(())
}

/// A TRANSFERRED entry always has a transfer (the posting that entered the
/// state pushed it); without one the journal is corrupt.
fn corrupt_transfer() -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "entry in state TRANSFERRED without a transfer"
    ))
}

/// The version the next submitted plan gets: one more than any submitted
/// before, rejected ones included.
pub fn next_plan_version(entry: &LedgerEntry) -> i32 {
    entry.latest_plan_version.max(kept_plan_version(entry)) + 1
}

/// The higher of the approved and the pending version.
fn kept_plan_version(entry: &LedgerEntry) -> i32 {
    let approved = entry.plan.as_ref().map(|p| p.version).unwrap_or(0);
    let pending = entry.pending_plan.as_ref().map(|p| p.version).unwrap_or(0);
    approved.max(pending)
}

/// The id the next transfer gets.
pub fn next_transfer_id(entry: &LedgerEntry) -> String {
    format!("t{}", entry.transfers.len() + 1)
}

// ---- parsing requests into posting details (invalid input stops here) ----

pub fn parse_evidence(field: &str, evidence: &[Evidence]) -> ApiResult<Vec<Evidence>> {
    if evidence.len() > MAX_EVIDENCE {
        return Err(ApiError::invalid(
            field,
            CommonReason::TooMany,
            format!("at most {MAX_EVIDENCE} documents"),
        ));
    }
    for (i, e) in evidence.iter().enumerate() {
        validate_text(
            &format!("{field}[{i}].document"),
            &e.document,
            true,
            MAX_SHORT_TEXT,
        )?;
        let hash_ok = e.sha256.len() == 64 && e.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hash_ok {
            return Err(ApiError::invalid(
                format!("{field}[{i}].sha256"),
                CommonReason::InvalidSha256,
                "sha256 must be 64 hex digits",
            ));
        }
    }
    Ok(evidence
        .iter()
        .map(|e| Evidence {
            document: e.document.trim().to_owned(),
            sha256: e.sha256.to_ascii_lowercase(),
        })
        .collect())
}

pub fn parse_required_date(field: &str, d: Option<&Date>) -> ApiResult<Date> {
    let d = d.ok_or_else(|| ApiError::required(field))?;
    Ok(to_date(from_date(field, d)?))
}

/// Validates a submitted plan; the version and signatures are set later.
pub fn parse_plan(plan: Option<&RectificationPlan>) -> ApiResult<RectificationPlan> {
    let plan = plan.ok_or_else(|| ApiError::required("plan"))?;
    validate_text("plan.summary", &plan.summary, true, MAX_TEXT)?;
    if plan.measures.is_empty() {
        return Err(ApiError::required("plan.measures"));
    }
    if plan.measures.len() > MAX_MEASURES {
        return Err(ApiError::invalid(
            "plan.measures",
            CommonReason::TooMany,
            format!("at most {MAX_MEASURES} measures"),
        ));
    }
    let mut measures = Vec::with_capacity(plan.measures.len());
    let mut latest: Option<NaiveDate> = None;
    for (i, m) in plan.measures.iter().enumerate() {
        let f = |name: &str| format!("plan.measures[{i}].{name}");
        names::validate_id(&f("id"), &m.id)?;
        if measures.iter().any(|o: &Measure| o.id == m.id) {
            return Err(ApiError::invalid(
                f("id"),
                ErrorReason::DuplicateId,
                format!("measure id {} appears twice", m.id),
            ));
        }
        let kind = match MeasureKind::try_from(m.kind) {
            Ok(MeasureKind::Unspecified) => return Err(ApiError::required(f("kind"))),
            Ok(k) => k,
            Err(_) => {
                return Err(ApiError::invalid(
                    f("kind"),
                    CommonReason::UnknownEnumValue,
                    format!("{} is not a measure kind", m.kind),
                ));
            }
        };
        validate_text(&f("description"), &m.description, true, MAX_TEXT)?;
        validate_text(&f("owner"), &m.owner, true, MAX_SHORT_TEXT)?;
        let due = parse_required_date(&f("due_date"), m.due_date.as_ref())?;
        let due_naive = date_of(Some(&due));
        latest = latest.max(due_naive);
        measures.push(Measure {
            id: m.id.clone(),
            kind: kind as i32,
            description: m.description.trim().to_owned(),
            owner: m.owner.trim().to_owned(),
            due_date: Some(due),
            done: false,
            done_date: None,
        });
    }
    Ok(RectificationPlan {
        version: 0,
        summary: plan.summary.trim().to_owned(),
        measures,
        due_date: latest.map(to_date),
        submitted_by: String::new(),
        approved_by: String::new(),
    })
}

pub fn parse_figures(figures: Option<&RectificationFigures>) -> ApiResult<RectificationFigures> {
    let f = figures.cloned().unwrap_or_default();
    for (field, negative) in [
        ("figures.funds_recovered_fen", f.funds_recovered_fen < 0),
        ("figures.losses_recovered_fen", f.losses_recovered_fen < 0),
        (
            "figures.people_held_accountable",
            f.people_held_accountable < 0,
        ),
        ("figures.people_disciplined", f.people_disciplined < 0),
        ("figures.rules_established", f.rules_established < 0),
    ] {
        if negative {
            return Err(ApiError::invalid(
                field,
                ErrorReason::Negative,
                format!("{field} must not be negative"),
            ));
        }
    }
    Ok(f)
}

pub fn text(field: &str, value: &str, required: bool) -> ApiResult<String> {
    validate_text(field, value, required, MAX_TEXT)?;
    Ok(value.trim().to_owned())
}

/// An optional short text (a name), at most [`MAX_SHORT_TEXT`] characters.
pub fn text_short(field: &str, value: &str) -> ApiResult<String> {
    validate_text(field, value, false, MAX_SHORT_TEXT)?;
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(entry: &mut LedgerEntry, seq: i64, actor: &str, detail: Detail) -> ApiResult<()> {
        apply(
            entry,
            &Posting {
                seq,
                actor: actor.into(),
                create_time: Some(prost_types::Timestamp {
                    seconds: 1_790_000_000,
                    nanos: 0,
                }),
                hash: format!("h{seq}"),
                detail: Some(detail),
                ..Default::default()
            },
        )
    }

    fn date(y: i32, m: i32, d: i32) -> Option<Date> {
        Some(Date {
            year: y,
            month: m,
            day: d,
        })
    }

    /// Postings 2 and 3 of an opened entry: handed over (due 2026-03-01)
    /// and acknowledged.
    fn hand_over_and_acknowledge(e: &mut LedgerEntry) {
        post(
            e,
            2,
            "s",
            Detail::HandOver(HandOverDetail {
                feedback_date: date(2026, 1, 1),
                due_date: date(2026, 3, 1),
            }),
        )
        .expect("hand over");
        post(e, 3, "u", Detail::HandOverAcknowledged(Default::default())).expect("ack");
    }

    #[test]
    fn steps_out_of_order_are_refused_and_change_nothing() {
        let mut e = LedgerEntry {
            name: "entries/e1".into(),
            ..Default::default()
        };
        post(&mut e, 1, "s", Detail::Open(OpenDetail::default())).expect("open");
        let before = e.clone();
        let err = post(
            &mut e,
            2,
            "u",
            Detail::HandOverAcknowledged(Default::default()),
        )
        .expect_err("not handed over");
        assert_eq!(err.reason(), "WRONG_STATE");
        assert!(err.to_string().contains("ENTRY_STATE_OPEN"));
        assert_eq!(e, before);
        hand_over_and_acknowledge(&mut e);
        let plan = RectificationPlan {
            version: 1,
            measures: vec![Measure {
                id: "m1".into(),
                due_date: date(2026, 5, 1),
                ..Default::default()
            }],
            due_date: date(2026, 5, 1),
            ..Default::default()
        };
        post(&mut e, 4, "u", Detail::PlanSubmitted(plan)).expect("plan");
        post(
            &mut e,
            5,
            "o",
            Detail::PlanApproved(PlanDecisionDetail {
                version: 1,
                ..Default::default()
            }),
        )
        .expect("approve");
        assert_eq!(e.state(), EntryState::Rectifying);
        assert_eq!(e.due_date, date(2026, 5, 1));
        assert_eq!(e.original_due_date, date(2026, 3, 1));
        let err = post(
            &mut e,
            6,
            "u",
            Detail::WriteOffRequested(WriteOff::default()),
        )
        .expect_err("measure open");
        assert_eq!(err.reason(), "MEASURES_OPEN");
        post(
            &mut e,
            6,
            "u",
            Detail::Progress(ProgressDetail {
                measure_id: "m1".into(),
                measure_done: true,
                ..Default::default()
            }),
        )
        .expect("progress");
        post(
            &mut e,
            7,
            "u",
            Detail::WriteOffRequested(WriteOff::default()),
        )
        .expect("request");
        let err = post(&mut e, 8, "u", Detail::WriteOffApproved(Default::default()))
            .expect_err("own write-off");
        assert_eq!(err.reason(), "VERIFIER_IS_REQUESTER");
        post(&mut e, 8, "o", Detail::WriteOffApproved(Default::default())).expect("verify");
        assert_eq!(e.state(), EntryState::WrittenOff);
        assert_eq!(e.posting_count, 8);
        assert_eq!(e.etag, etag(8));
    }

    #[test]
    fn a_journal_from_before_rejections_counted_replays_and_moves_on() {
        let mut e = LedgerEntry {
            name: "entries/e1".into(),
            ..Default::default()
        };
        post(&mut e, 1, "s", Detail::Open(OpenDetail::default())).expect("open");
        hand_over_and_acknowledge(&mut e);
        let plan = |version| {
            Detail::PlanSubmitted(RectificationPlan {
                version,
                due_date: date(2026, 5, 1),
                ..Default::default()
            })
        };
        let reject = Detail::PlanRejected(PlanDecisionDetail {
            version: 1,
            ..Default::default()
        });
        post(&mut e, 4, "u", plan(1)).expect("plan 1");
        post(&mut e, 5, "o", reject).expect("reject 1");
        // As written before: the resubmission restarted at 1.
        post(&mut e, 6, "u", plan(1)).expect("the old journal replays");
        assert_eq!(e.latest_plan_version, 1);
        assert_eq!(next_plan_version(&e), 2);
        // A version from nowhere is still refused.
        let err = post(&mut e, 7, "u", plan(5)).expect_err("skipped versions");
        assert_eq!(err.reason(), "INTERNAL");
    }
}
