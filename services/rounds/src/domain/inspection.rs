//! Inspections (被巡察对象) and their phase machine.

use chrono::NaiveDate;
use fiveledger_platform::ApiError;
use fiveledger_platform::ApiResult;
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::auth::{Caller, Role, in_subtree};
use fiveledger_platform::error::Violation;
use fiveledger_platform::time::{from_date, to_date};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::{
    Briefing, DoubleFeedback, DoubleReport, DoubleReportKind, FeedbackPart, Inspection,
    InspectionPhase, InspectionReportKind, LeadersInChargeNotice, OrganisationKind, ReportRecord,
    RoundKind, RoundState, Stationing,
};

use InspectionPhase as P;

pub const COLLECTION: &str = "inspections";
pub const GROUPS: &str = "groups";
pub const MAX_SUMMARY: usize = 4000;
pub const MAX_PERSON: usize = 200;

/// Who briefs a group before it goes on site (巡前: 纪委监委、组织部通报
/// 情况): a briefing comes from one of these, and stationing needs one of
/// each.
pub const BRIEFING_BODIES: &[OrganisationKind] = &[
    OrganisationKind::DisciplineCommission,
    OrganisationKind::OrganisationDepartment,
];

pub fn name_of(round_id: &str, id: &str) -> String {
    format!("rounds/{round_id}/{COLLECTION}/{id}")
}

pub fn group_name_of(round_id: &str, id: &str) -> String {
    format!("rounds/{round_id}/{GROUPS}/{id}")
}

/// Which event a step writes.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    Created,
    GroupAssigned,
    BriefingRecorded,
    Stationed,
    MidTermReported,
    Reported,
    LeadersInChargeNotified,
    FeedbackGiven,
    RectificationStarted,
    DoubleReportRecorded(DoubleReportKind),
    Closed,
}

/// What a step changes.
#[derive(Debug, Clone)]
pub struct Change {
    pub phase: InspectionPhase,
    /// The timeline records after the step.
    pub records: Inspection,
    /// `Some` to (re)assign the group.
    pub group_id: Option<String>,
    /// Set by the feedback step (with the due date it implies).
    pub feedback_date: Option<NaiveDate>,
    pub event: Event,
    pub description: String,
}

/// What an inspected unit is not shown of its own inspection: what the
/// discipline commission and the organisation department briefed the group
/// about it (巡前通报, about its leaders). Bodies and dates stay; everyone
/// who works the inspection sees the summaries.
pub fn shown_to(caller: &Caller, mut inspection: Inspection) -> Inspection {
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
        if let Some(notice) = inspection.leaders_in_charge_notice.as_mut() {
            notice.summary.clear();
        }
    }
    inspection
}

pub fn required_date(field: &str, d: Option<&Date>) -> ApiResult<NaiveDate> {
    from_date(field, d.ok_or_else(|| ApiError::required(field))?)
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

/// Refuses a target outside the subtree of the organisation running the
/// round.
pub fn check_target(
    target: &str,
    target_path: &str,
    round_organisation_id: &str,
    round_organisation_path: &str,
) -> Result<(), ApiError> {
    if in_subtree(target_path, round_organisation_path) {
        return Ok(());
    }
    Err(ApiError::invalid(
        "inspection.target",
        ErrorReason::TargetOutsideRound,
        format!(
            "{target} is not under {}, which runs the round",
            super::organisation::name_of(round_organisation_id)
        ),
    ))
}

/// An inspection as a step sees it: where its timeline stands.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The inspection's name (as the request named it, for refusals).
    pub name: String,
    pub phase: InspectionPhase,
    pub group_assigned: bool,
    pub feedback_date: Option<NaiveDate>,
    /// The timeline records so far.
    pub records: Inspection,
}

/// A step of the timeline with what it was given (parsed and validated
/// already) and what was read for it.
#[derive(Debug, Clone)]
pub enum Step {
    /// AssignInspectionGroup: `group_id` passed the staffing checks.
    AssignGroup { group: String, group_id: String },
    /// RecordBriefing by a body of kind `body`.
    Brief {
        briefing: Briefing,
        body: OrganisationKind,
    },
    /// StartStationing, in a round in `round`, after briefings by bodies
    /// of the kinds `briefed`.
    Station {
        start: NaiveDate,
        end: NaiveDate,
        round: RoundState,
        briefed: Vec<OrganisationKind>,
    },
    /// ReportInspection.
    Report {
        kind: InspectionReportKind,
        date: NaiveDate,
        report: ReportRecord,
    },
    /// NotifyLeadersInCharge: the notice (parsed by
    /// `leaders::parse_notice`) and its date.
    NotifyLeaders {
        date: NaiveDate,
        notice: LeadersInChargeNotice,
    },
    /// GiveFeedback: both parts with their dates.
    Feedback {
        individual: (NaiveDate, FeedbackPart),
        public: (NaiveDate, FeedbackPart),
    },
    /// StartRectification (without a start date: the feedback date, or
    /// `today`).
    Rectify {
        start: Option<NaiveDate>,
        today: NaiveDate,
    },
    /// RecordDoubleReport.
    DoubleReport {
        kind: DoubleReportKind,
        date: NaiveDate,
        report: ReportRecord,
    },
    /// CloseInspection.
    Close { date: NaiveDate, note: String },
}

/// Who may take a step and when: the RPC taking it (also the timeline
/// step's name), the phases it may be taken in, and whether the leader of
/// the inspection's group may take it too (the on-site steps), not only
/// the office running the round.
#[derive(Debug)]
pub struct Rule {
    pub method: &'static str,
    pub allowed: &'static [InspectionPhase],
    pub leader_may: bool,
}

const fn rule(method: &'static str, allowed: &'static [InspectionPhase], leader_may: bool) -> Rule {
    Rule {
        method,
        allowed,
        leader_may,
    }
}

pub const ASSIGN_GROUP: Rule = rule("AssignInspectionGroup", &[P::Preparation], false);
pub const BRIEF: Rule = rule("RecordBriefing", &[P::Preparation], false);
pub const STATION: Rule = rule("StartStationing", &[P::Preparation], true);
pub const REPORT: Rule = rule("ReportInspection", &[P::Stationed], true);
pub const NOTIFY_LEADERS: Rule = rule("NotifyLeadersInCharge", &[P::Reported], false);
pub const FEEDBACK: Rule = rule("GiveFeedback", &[P::Reported], false);
pub const RECTIFY: Rule = rule("StartRectification", &[P::FeedbackGiven], false);
pub const DOUBLE_REPORT: Rule = rule("RecordDoubleReport", &[P::Rectifying], false);
pub const CLOSE: Rule = rule("CloseInspection", &[P::Rectifying], false);

impl Step {
    pub fn rule(&self) -> &'static Rule {
        match self {
            Step::AssignGroup { .. } => &ASSIGN_GROUP,
            Step::Brief { .. } => &BRIEF,
            Step::Station { .. } => &STATION,
            Step::Report { .. } => &REPORT,
            Step::NotifyLeaders { .. } => &NOTIFY_LEADERS,
            Step::Feedback { .. } => &FEEDBACK,
            Step::Rectify { .. } => &RECTIFY,
            Step::DoubleReport { .. } => &DOUBLE_REPORT,
            Step::Close { .. } => &CLOSE,
        }
    }
}

fn date_of(record: &Option<ReportRecord>) -> Option<NaiveDate> {
    record
        .as_ref()
        .and_then(|r| r.date.as_ref())
        .and_then(|d| from_date("", d).ok())
}

/// The phase machine: what `step` changes on `timeline`, or why it is
/// refused. No I/O; the caller writes the change.
pub fn apply(timeline: Timeline, step: Step) -> Result<Change, ApiError> {
    let Timeline {
        name,
        phase,
        group_assigned,
        feedback_date,
        mut records,
    } = timeline;
    let rule = step.rule();
    expect_phase(&name, phase, rule.allowed, rule.method)?;
    let change = |phase, records, event, description| Change {
        phase,
        records,
        group_id: None,
        feedback_date: None,
        event,
        description,
    };
    match step {
        Step::AssignGroup { group, group_id } => Ok(Change {
            group_id: Some(group_id),
            ..change(
                P::Preparation,
                records,
                Event::GroupAssigned,
                format!("{group} assigned"),
            )
        }),
        Step::Brief { briefing, body } => {
            if !BRIEFING_BODIES.contains(&body) {
                return Err(ApiError::invalid(
                    "briefing.organisation",
                    ErrorReason::NotABriefingBody,
                    format!(
                        "{} is {}; briefings come from {}",
                        briefing.organisation,
                        body.as_str_name(),
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
                briefing.organisation,
                body.as_str_name()
            );
            records.briefings.push(briefing);
            Ok(change(
                P::Preparation,
                records,
                Event::BriefingRecorded,
                description,
            ))
        }
        Step::Station {
            start,
            end,
            round,
            briefed,
        } => {
            if !group_assigned {
                return Err(missing(
                    ErrorReason::GroupNotAssigned,
                    &name,
                    "no group is assigned yet",
                ));
            }
            check_briefings(&name, &briefed)?;
            if round != RoundState::InProgress {
                return Err(missing(
                    ErrorReason::RoundNotInProgress,
                    &name,
                    &format!("the round is in {}", round.as_str_name()),
                ));
            }
            records.stationing = Some(Stationing {
                start_date: Some(to_date(start)),
                end_date: Some(to_date(end)),
            });
            Ok(change(
                P::Stationed,
                records,
                Event::Stationed,
                format!("stationed from {start} to {end}"),
            ))
        }
        Step::Report { kind, date, report } => {
            let stationed = records
                .stationing
                .as_ref()
                .and_then(|s| s.start_date.as_ref())
                .and_then(|d| from_date("", d).ok());
            not_before("report.date", date, stationed, "the stationing start")?;
            if kind == InspectionReportKind::MidTerm {
                if records.mid_term_report.is_some() {
                    return Err(missing(
                        ErrorReason::MidTermAlreadyReported,
                        &name,
                        "the mid-term report is already recorded",
                    ));
                }
                records.mid_term_report = Some(report);
                return Ok(change(
                    P::Stationed,
                    records,
                    Event::MidTermReported,
                    format!("mid-term report on {date}"),
                ));
            }
            if records.mid_term_report.is_none() {
                return Err(missing(
                    ErrorReason::MidTermReportMissing,
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
            Ok(change(
                P::Reported,
                records,
                Event::Reported,
                format!("comprehensive report on {date}; problem list frozen"),
            ))
        }
        Step::NotifyLeaders { date, notice } => {
            if records.leaders_in_charge_notice.is_some() {
                return Err(missing(
                    ErrorReason::LeadersInChargeAlreadyNotified,
                    &name,
                    "the leaders in charge are already notified",
                ));
            }
            not_before(
                "notice.date",
                date,
                date_of(&records.comprehensive_report),
                "the comprehensive report",
            )?;
            let description = super::leaders::describe(&notice);
            records.leaders_in_charge_notice = Some(notice);
            Ok(change(
                P::Reported,
                records,
                Event::LeadersInChargeNotified,
                description,
            ))
        }
        Step::Feedback {
            individual: (individual_date, individual),
            public: (public_date, public),
        } => {
            let notified = super::leaders::notified_on(&name, &records)?;
            for (field, date) in [
                ("feedback.individual.date", individual_date),
                ("feedback.public.date", public_date),
            ] {
                not_before(
                    field,
                    date,
                    Some(notified),
                    "the notice to the leaders in charge",
                )?;
            }
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
                feedback_date: Some(date),
                ..change(
                    P::FeedbackGiven,
                    records,
                    Event::FeedbackGiven,
                    format!("double feedback given, complete on {date}"),
                )
            })
        }
        Step::Rectify { start, today } => {
            let start = start.or(feedback_date).unwrap_or(today);
            not_before("start_date", start, feedback_date, "the feedback")?;
            records.rectification_start_date = Some(to_date(start));
            records.double_report = Some(DoubleReport::default());
            Ok(change(
                P::Rectifying,
                records,
                Event::RectificationStarted,
                format!("rectification started on {start}"),
            ))
        }
        Step::DoubleReport { kind, date, report } => {
            not_before("report.date", date, feedback_date, "the feedback")?;
            let double = records.double_report.get_or_insert_with(Default::default);
            let slot = match kind {
                DoubleReportKind::Team => &mut double.team_report,
                _ => &mut double.principal_report,
            };
            if slot.is_some() {
                return Err(missing(
                    ErrorReason::DoubleReportAlreadyRecorded,
                    &name,
                    &format!("{} is already recorded", kind.as_str_name()),
                ));
            }
            *slot = Some(report);
            Ok(change(
                P::Rectifying,
                records,
                Event::DoubleReportRecorded(kind),
                format!("{} received on {date}", kind.as_str_name()),
            ))
        }
        Step::Close { date, note } => {
            let double = records.double_report.clone().unwrap_or_default();
            if double.team_report.is_none() || double.principal_report.is_none() {
                return Err(missing(
                    ErrorReason::DoubleReportMissing,
                    &name,
                    "both the team's and the principal's reports must be received",
                ));
            }
            let last = date_of(&double.team_report).max(date_of(&double.principal_report));
            not_before("close_date", date, last, "the double report")?;
            records.close_date = Some(to_date(date));
            records.closing_note = note;
            Ok(change(
                P::Closed,
                records,
                Event::Closed,
                format!("closed on {date}"),
            ))
        }
    }
}

/// The organisation ids of the bodies that have briefed (unparsable names
/// are skipped: they were checked when recorded).
pub fn briefing_body_ids(records: &Inspection) -> Vec<String> {
    records
        .briefings
        .iter()
        .filter_map(|b| names::parse("", &b.organisation, super::organisation::COLLECTION).ok())
        .map(str::to_owned)
        .collect()
}

/// Refuses stationing until each body that briefs before it
/// (`BRIEFING_BODIES`) has a briefing recorded, given the kinds of the
/// bodies that have briefed.
pub fn check_briefings(name: &str, briefed: &[OrganisationKind]) -> Result<(), ApiError> {
    for kind in BRIEFING_BODIES {
        if !briefed.contains(kind) {
            return Err(missing(
                ErrorReason::BriefingMissing,
                name,
                &format!("no briefing by the {} is recorded yet", kind.as_str_name()),
            ));
        }
    }
    Ok(())
}

/// Whether a new inspection in a round of `kind` looks back at an earlier
/// one (`look_back_of`): required in a look-back round, refused elsewhere.
pub fn looks_back(kind: RoundKind, look_back_of: &str) -> Result<bool, ApiError> {
    let field = "inspection.look_back_of";
    if kind != RoundKind::LookBack {
        if look_back_of.is_empty() {
            return Ok(false);
        }
        return Err(ApiError::invalid(
            field,
            ErrorReason::LookBackOnlyInLookBackRound,
            "only an inspection of a look-back round (ROUND_KIND_LOOK_BACK) looks back",
        ));
    }
    if look_back_of.is_empty() {
        return Err(ApiError::required(field));
    }
    Ok(true)
}

/// The inspection a look-back re-checks, as far as the rule needs it.
pub struct LookedBack<'a> {
    pub name: &'a str,
    pub target_id: &'a str,
    pub round_id: &'a str,
    pub phase: InspectionPhase,
}

/// Checks a look-back link of a new inspection of `target_id` in the round
/// `round_id` (which re-checks `rechecked_rounds`): the earlier inspection
/// inspected the same target, in a round this one re-checks, and has had
/// its feedback.
pub fn check_look_back(
    earlier: &LookedBack<'_>,
    target_id: &str,
    round_id: &str,
    rechecked_rounds: &[String],
) -> Result<(), ApiError> {
    let field = "inspection.look_back_of";
    let look_back_of = earlier.name;
    if earlier.target_id != target_id {
        return Err(ApiError::invalid(
            field,
            ErrorReason::LookBackTargetMismatch,
            format!(
                "{look_back_of} inspected {}, not {}",
                super::organisation::name_of(earlier.target_id),
                super::organisation::name_of(target_id)
            ),
        ));
    }
    if !rechecked_rounds.iter().any(|r| r == earlier.round_id) {
        return Err(ApiError::invalid(
            field,
            ErrorReason::LookBackRoundNotRechecked,
            format!(
                "{look_back_of} is not in one of the rounds {} re-checks",
                super::round::name_of(round_id)
            ),
        ));
    }
    if !matches!(
        earlier.phase,
        InspectionPhase::FeedbackGiven | InspectionPhase::Rectifying | InspectionPhase::Closed
    ) {
        return Err(missing(
            ErrorReason::LookBackBeforeFeedback,
            look_back_of,
            &format!(
                "a look-back re-checks rectification; it is in {}",
                earlier.phase.as_str_name()
            ),
        ));
    }
    Ok(())
}

/// Refuses a step unless the inspection is in one of `allowed` phases;
/// the refusal names the phase it is in.
pub fn expect_phase(
    name: &str,
    current: InspectionPhase,
    allowed: &[InspectionPhase],
    step: &str,
) -> Result<(), ApiError> {
    if allowed.contains(&current) {
        return Ok(());
    }
    let needed: Vec<&str> = allowed.iter().map(|p| p.as_str_name()).collect();
    Err(ApiError::precondition_with(
        ErrorReason::WrongPhase,
        format!(
            "{name} is in {}; {step} needs {}",
            current.as_str_name(),
            needed.join(" or ")
        ),
        vec![Violation {
            kind: "PHASE".into(),
            subject: name.to_owned(),
            description: format!("current phase: {}", current.as_str_name()),
        }],
    ))
}

/// A missing prerequisite of a step (e.g. no briefing yet).
pub fn missing(reason: ErrorReason, name: &str, what: &str) -> ApiError {
    ApiError::precondition_with(
        reason,
        format!("{name}: {what}"),
        vec![Violation {
            kind: reason.as_str_name().into(),
            subject: name.to_owned(),
            description: what.to_owned(),
        }],
    )
}

/// The day the double report is due: `days` after the feedback date.
pub fn double_report_due(feedback: NaiveDate, days: u32) -> NaiveDate {
    feedback + chrono::Days::new(u64::from(days))
}

/// Overdue: past the due date with a part still missing, or a part
/// received after the due date.
pub fn double_report_overdue(
    today: NaiveDate,
    due: Option<NaiveDate>,
    team: Option<NaiveDate>,
    principal: Option<NaiveDate>,
) -> bool {
    let Some(due) = due else { return false };
    [team, principal].iter().any(|part| match part {
        None => today > due,
        Some(received) => *received > due,
    })
}

/// A date that must not come before another (e.g. a report before the
/// group was on site).
pub fn not_before(
    field: &str,
    date: NaiveDate,
    earliest: Option<NaiveDate>,
    what: &str,
) -> Result<(), ApiError> {
    match earliest {
        Some(earliest) if date < earliest => Err(ApiError::invalid(
            field,
            ErrorReason::DateTooEarly,
            format!("{field} cannot be before {what} ({earliest})"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn due_and_overdue() {
        let due = double_report_due(d(2026, 3, 1), 60);
        assert_eq!(due, d(2026, 4, 30));
        assert!(!double_report_overdue(
            d(2026, 4, 30),
            Some(due),
            None,
            None
        ));
        assert!(double_report_overdue(
            d(2026, 5, 1),
            Some(due),
            Some(d(2026, 4, 1)),
            None
        ));
        assert!(!double_report_overdue(
            d(2026, 5, 1),
            Some(due),
            Some(d(2026, 4, 1)),
            Some(d(2026, 4, 2))
        ));
        assert!(double_report_overdue(
            d(2026, 4, 1),
            Some(due),
            Some(d(2026, 5, 3)),
            Some(d(2026, 4, 2))
        ));
    }

    fn at(phase: InspectionPhase) -> Timeline {
        Timeline {
            name: "rounds/r/inspections/i".into(),
            phase,
            group_assigned: true,
            feedback_date: None,
            records: Inspection::default(),
        }
    }

    fn report(y: i32, m: u32, day: u32) -> ReportRecord {
        ReportRecord {
            date: Some(to_date(d(y, m, day))),
            summary: String::new(),
        }
    }

    #[test]
    fn the_comprehensive_report_follows_the_mid_term_one() {
        let comprehensive = |t| {
            apply(
                t,
                Step::Report {
                    kind: InspectionReportKind::Comprehensive,
                    date: d(2026, 5, 1),
                    report: report(2026, 5, 1),
                },
            )
        };
        let err = comprehensive(at(P::Stationed)).expect_err("no mid-term yet");
        assert_eq!(err.reason(), "MID_TERM_REPORT_MISSING");
        let mid = apply(
            at(P::Stationed),
            Step::Report {
                kind: InspectionReportKind::MidTerm,
                date: d(2026, 4, 1),
                report: report(2026, 4, 1),
            },
        )
        .expect("mid-term");
        assert_eq!(mid.phase, P::Stationed);
        let t = Timeline {
            records: mid.records,
            ..at(P::Stationed)
        };
        let done = comprehensive(t).expect("comprehensive");
        assert_eq!(done.phase, P::Reported);
        assert!(matches!(done.event, Event::Reported));
    }

    #[test]
    fn a_step_out_of_its_phase_is_refused_by_the_fold() {
        let err = apply(
            at(P::Preparation),
            Step::Close {
                date: d(2026, 6, 1),
                note: String::new(),
            },
        )
        .expect_err("wrong phase");
        assert_eq!(err.reason(), "WRONG_PHASE");
        let err = apply(
            at(P::Rectifying),
            Step::Close {
                date: d(2026, 6, 1),
                note: String::new(),
            },
        )
        .expect_err("double report missing");
        assert_eq!(err.reason(), "DOUBLE_REPORT_MISSING");
    }

    #[test]
    fn stationing_needs_a_group_both_briefings_and_a_running_round() {
        let station = |group_assigned, briefed: &[OrganisationKind], round| {
            apply(
                Timeline {
                    group_assigned,
                    ..at(P::Preparation)
                },
                Step::Station {
                    start: d(2026, 3, 1),
                    end: d(2026, 4, 1),
                    round,
                    briefed: briefed.to_vec(),
                },
            )
        };
        let both = BRIEFING_BODIES;
        let reason = |r: Result<Change, ApiError>| r.expect_err("refused").reason();
        assert_eq!(
            reason(station(false, both, RoundState::InProgress)),
            "GROUP_NOT_ASSIGNED"
        );
        assert_eq!(
            reason(station(true, &both[..1], RoundState::InProgress)),
            "BRIEFING_MISSING"
        );
        assert_eq!(
            reason(station(true, both, RoundState::Planned)),
            "ROUND_NOT_IN_PROGRESS"
        );
        let change = station(true, both, RoundState::InProgress).expect("stationed");
        assert_eq!(change.phase, P::Stationed);
    }

    #[test]
    fn wrong_phase_names_the_current_one() {
        let err = expect_phase(
            "rounds/r/inspections/i",
            InspectionPhase::Preparation,
            &[InspectionPhase::Reported],
            "GiveFeedback",
        )
        .expect_err("wrong");
        assert_eq!(err.reason(), "WRONG_PHASE");
        assert!(err.to_string().contains("INSPECTION_PHASE_PREPARATION"));
    }
}
