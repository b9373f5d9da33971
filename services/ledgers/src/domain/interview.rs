//! Escalation that bites (约谈): replies to written supervision notices,
//! interviews and their follow-ups, and the sweep's escalation of an item
//! that stays red. No I/O; called from `entry::apply` (the fold) and from
//! the sweep with the clock's date and the settings passed in.
//!
//! A supervision notice (yellow) opens a reply item `notices/{seq}` due on
//! its reply date, which colours like any other item (a missing reply is
//! itself a warning). A reply after that date is recorded, and its lateness
//! is posted once as a warning of its own ([`late_replies`]). Graded
//! reminder interviews go handler → liaison → leader in charge on one item,
//! never skipping a level; an item red for `escalation_days` without the
//! next level gets that level required, once ([`escalations`]).

use chrono::{Days, NaiveDate};
use fiveledger_platform::aip::names::validate_text;
use fiveledger_platform::deadline::chinese_date;
use fiveledger_platform::error::{CommonReason, Violation};
use fiveledger_platform::time::to_date;
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::ErrorReason;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::{DeadlineKind, Notice, NoticeKind, WarningColour, WarningDetail};

use super::entry::{MAX_SHORT_TEXT, MAX_TEXT, date_of};
use super::warning::{self, ENTRY_ITEM, OrganisationNames, Thresholds};

/// The prefix of a notice's reply item.
pub const NOTICE_ITEM: &str = "notices/";
/// The prefix of an interview's follow-up item.
pub const INTERVIEW_ITEM: &str = "interviews/";
/// Most interviewers or interviewees one interview names.
pub const MAX_PERSONS: usize = 20;

/// The reply item of the notice posted as posting `seq`.
pub fn reply_item(seq: i64) -> String {
    format!("{NOTICE_ITEM}{seq}")
}

/// A warning posting that sent a written supervision notice with a reply
/// date opens the notice's reply item (not one about a missing reply: its
/// reply is the one awaited). True when it did.
pub fn notice_sent(entry: &mut LedgerEntry, posting: &Posting, w: &WarningDetail) -> bool {
    let Some(n) = w.notice.as_ref() else {
        return false;
    };
    if n.kind() != NoticeKind::SupervisionNotice
        || w.kind() == DeadlineKind::NoticeReply
        || n.reply_due_date.is_none()
    {
        return false;
    }
    entry.notices.push(NoticeReply {
        notice: posting.name.clone(),
        item: w.item.clone(),
        reply_item: reply_item(posting.seq),
        issue_date: n.issue_date,
        reply_due_date: n.reply_due_date,
        ..Default::default()
    });
    true
}

/// Records the unit's reply to a notice of the entry.
pub fn reply(
    entry: &mut LedgerEntry,
    r: &NoticeReplyDetail,
    actor: &str,
    date: Option<Date>,
) -> ApiResult<()> {
    let notice = entry
        .notices
        .iter_mut()
        .find(|n| n.notice == r.notice)
        .ok_or_else(|| ApiError::not_found(r.notice.clone()))?;
    if !notice.replied_by.is_empty() {
        return Err(ApiError::precondition_with(
            ErrorReason::NoticeAlreadyReplied,
            format!(
                "notice {} was replied to by {}",
                notice.notice, notice.replied_by
            ),
            vec![Violation {
                kind: "NOTICE".into(),
                subject: notice.notice.clone(),
                description: "the notice was replied to already".into(),
            }],
        ));
    }
    notice.reply = r.reply.clone();
    notice.evidence = r.evidence.clone();
    notice.replied_by = actor.to_owned();
    notice.reply_date = r.reply_date.or(date);
    notice.late_colour = r.late_colour;
    Ok(())
}

/// Copies the lateness of replied notices onto their (closed) reply items.
pub fn mark_late_replies(entry: &mut LedgerEntry) {
    for n in &entry.notices {
        if n.late_colour() >= WarningColour::Yellow
            && let Some(d) = entry.deadlines.iter_mut().find(|d| d.item == n.reply_item)
        {
            d.set_closing_colour(n.late_colour());
        }
    }
}

/// The graded reminder interviews recorded on `item`.
fn graded<'a>(entry: &'a LedgerEntry, item: &'a str) -> impl Iterator<Item = &'a Interview> {
    entry
        .interviews
        .iter()
        .filter(move |i| i.kind() == InterviewKind::GradedReminder && i.item == item)
}

/// The highest level recorded on `item` (0 for none).
fn level_done(entry: &LedgerEntry, item: &str) -> i32 {
    graded(entry, item).map(|i| i.level).max().unwrap_or(0)
}

/// Records an interview: a graded reminder's level follows the level below
/// it on the same item; the talk before rectification only comes before
/// the plan is approved.
pub fn record(entry: &mut LedgerEntry, i: &Interview, actor: &str) -> ApiResult<()> {
    use EntryState as S;
    match i.kind() {
        InterviewKind::GradedReminder => {
            if !entry
                .deadlines
                .iter()
                .any(|d| d.item == i.item && !d.closed)
            {
                return Err(no_such_item(entry, &i.item));
            }
            let done = level_done(entry, &i.item);
            if i.level > done + 1 {
                let missing = InterviewLevel::try_from(done + 1).unwrap_or_default();
                return Err(ApiError::precondition_with(
                    ErrorReason::InterviewLevelSkipped,
                    format!(
                        "{}: {} on {} needs {} first",
                        entry.name,
                        i.level().as_str_name(),
                        i.item,
                        missing.as_str_name()
                    ),
                    vec![Violation {
                        kind: "INTERVIEW_LEVEL".into(),
                        subject: format!("{}/{}", entry.name, i.item),
                        description: format!("{} is not recorded", missing.as_str_name()),
                    }],
                ));
            }
        }
        InterviewKind::PreRectificationTalk => {
            super::entry::require(
                entry,
                "hold the talk before rectification",
                &[S::HandedOver, S::Acknowledged, S::Planned, S::Reopened],
            )?;
        }
        _ => {}
    }
    let mut i = i.clone();
    i.recorded_by = actor.to_owned();
    let id = i.id.clone();
    if i.kind() == InterviewKind::GradedReminder {
        for r in &mut entry.interview_requirements {
            if r.item == i.item && r.level == i.level && r.met_by.is_empty() {
                r.met_by = id.clone();
            }
        }
    }
    entry.interviews.push(i);
    Ok(())
}

/// Records an interview's follow-up (once).
pub fn follow_up(
    entry: &mut LedgerEntry,
    f: &InterviewFollowUpDetail,
    actor: &str,
    date: Option<Date>,
) -> ApiResult<()> {
    let name = entry.name.clone();
    let i = entry
        .interviews
        .iter_mut()
        .find(|i| i.id == f.interview_id)
        .ok_or_else(|| ApiError::not_found(format!("{name}/interviews/{}", f.interview_id)))?;
    if !i.followed_up_by.is_empty() {
        return Err(ApiError::precondition(
            ErrorReason::InterviewAlreadyFollowedUp,
            format!("interview {} was followed up by {}", i.id, i.followed_up_by),
        ));
    }
    i.follow_up = f.follow_up.clone();
    i.follow_up_date = f.date.or(date);
    i.followed_up_by = actor.to_owned();
    Ok(())
}

fn no_such_item(entry: &LedgerEntry, item: &str) -> ApiError {
    ApiError::precondition(
        ErrorReason::NoSuchItem,
        format!("{} has no open item {item}", entry.name),
    )
}

/// The colour an item must show for an interview of `level`.
fn colour_for(level: InterviewLevel) -> WarningColour {
    match level {
        InterviewLevel::Handler => WarningColour::Blue,
        InterviewLevel::Liaison => WarningColour::Yellow,
        _ => WarningColour::Red,
    }
}

/// Refuses a graded reminder interview on an item that does not show its
/// level's colour on `today` (the handler's on blue, the liaison's on
/// yellow, the leader in charge's on red).
pub fn check_due(
    entry: &LedgerEntry,
    i: &Interview,
    today: NaiveDate,
    t: &Thresholds,
) -> ApiResult<()> {
    // A skipped level is refused as such by the fold (`record`).
    if i.kind() != InterviewKind::GradedReminder || i.level > level_done(entry, &i.item) + 1 {
        return Ok(());
    }
    let d = entry
        .deadlines
        .iter()
        .find(|d| d.item == i.item && !d.closed)
        .ok_or_else(|| no_such_item(entry, &i.item))?;
    let now = warning::colour_now(d, today, t);
    let needed = colour_for(i.level());
    if now < needed {
        return Err(ApiError::precondition(
            ErrorReason::InterviewNotDue,
            format!(
                "{}: {} needs {} {}, which shows {}",
                entry.name,
                i.level().as_str_name(),
                i.item,
                needed.as_str_name(),
                now.as_str_name()
            ),
        ));
    }
    Ok(())
}

/// Who conducts an interview of `level`, as a notice names them.
fn conductor(level: InterviewLevel) -> &'static str {
    match level {
        InterviewLevel::Handler => "主办部门（谁主办、谁负责）",
        InterviewLevel::Liaison => "联系领导（谁联系、谁负责）",
        _ => "分管领导（谁分管、谁负责）",
    }
}

/// The interview levels the sweep on `today` must require: for each open
/// item recorded red, the level after the highest recorded on it, once
/// `days` days passed since it turned red or since its last interview,
/// whichever is later; never a level already required of the item. `days`
/// 0 turns escalation off. The notices' numbers are filled in when posted.
pub fn escalations(
    entry: &LedgerEntry,
    today: NaiveDate,
    days: u32,
    names: &OrganisationNames,
) -> Vec<InterviewRequirement> {
    let mut out = Vec::new();
    if days == 0
        || matches!(
            entry.state(),
            EntryState::Unspecified | EntryState::Open | EntryState::WrittenOff
        )
    {
        return out;
    }
    for d in &entry.deadlines {
        if d.closed || d.notified_colour() != WarningColour::Red {
            continue;
        }
        let Some(red_since) = date_of(d.red_since.as_ref()) else {
            continue;
        };
        let next = level_done(entry, &d.item) + 1;
        let Ok(level) = InterviewLevel::try_from(next) else {
            continue;
        };
        let required = entry
            .interview_requirements
            .iter()
            .any(|r| r.item == d.item && r.level == next);
        if required {
            continue;
        }
        let last = graded(entry, &d.item)
            .filter_map(|i| date_of(i.interview_date.as_ref()))
            .max()
            .map_or(red_since, |l| l.max(red_since));
        if today < last + Days::new(u64::from(days)) {
            continue;
        }
        out.push(InterviewRequirement {
            item: d.item.clone(),
            level: next,
            red_since: d.red_since,
            as_of: Some(to_date(today)),
            notice: Some(escalation_notice(
                entry, d, level, red_since, today, days, names,
            )),
            met_by: String::new(),
        });
    }
    out
}

fn escalation_notice(
    entry: &LedgerEntry,
    d: &Deadline,
    level: InterviewLevel,
    red_since: NaiveDate,
    today: NaiveDate,
    days: u32,
    names: &OrganisationNames,
) -> Notice {
    let r = entry.responsibility.clone().unwrap_or_default();
    let office = warning::office_of(&entry.target_path);
    let receiver = d
        .item
        .strip_prefix("transfers/")
        .and_then(|id| entry.transfers.iter().find(|t| t.id == id))
        .map(|t| t.receiving_body.clone());
    let mut addressees = match level {
        InterviewLevel::Handler => vec![receiver.unwrap_or(office)],
        InterviewLevel::Liaison => vec![office, r.supervising_body.clone()],
        _ => vec![r.supervising_body.clone(), office],
    };
    addressees.retain(|a| !a.is_empty());
    let what = warning::matter(entry, d, names);
    Notice {
        kind: NoticeKind::InterviewRequired as i32,
        number: String::new(),
        addressees,
        text: format!(
            "约谈要求：{what}自{}起为红色预警，{days}日内未进行下一级约谈，现须由{}进行约谈提醒。",
            chinese_date(red_since),
            conductor(level)
        ),
        issue_date: Some(to_date(today)),
        reply_due_date: None,
    }
}

/// The warnings a sweep on `today` must post for replies that came after
/// their notice's reply date: each late reply's colour, once (never when a
/// warning already recorded that colour on the item).
pub fn late_replies(
    entry: &LedgerEntry,
    today: NaiveDate,
    names: &OrganisationNames,
) -> Vec<WarningDetail> {
    let r = entry.responsibility.clone().unwrap_or_default();
    let mut out = Vec::new();
    for d in entry.deadlines.iter().filter(|d| late_unposted(d)) {
        let reply = entry.notices.iter().find(|n| n.reply_item == d.item);
        let replied = reply
            .and_then(|n| date_of(n.reply_date.as_ref()))
            .map(chinese_date)
            .unwrap_or_default();
        let due = date_of(d.due_date.as_ref())
            .map(chinese_date)
            .unwrap_or_default();
        let what = warning::matter(entry, d, names);
        let mut addressees = vec![
            r.responsible_unit.clone(),
            warning::office_of(&entry.target_path),
        ];
        addressees.retain(|a| !a.is_empty());
        out.push(WarningDetail {
            item: d.item.clone(),
            kind: d.kind,
            due_date: d.due_date,
            from_colour: d.notified_colour,
            to_colour: d.closing_colour,
            notice: Some(Notice {
                kind: NoticeKind::LateReply as i32,
                number: String::new(),
                addressees,
                text: format!(
                    "逾期回复：{what}应于{due}前书面报告，{replied}方才报告，逾期回复予以记录。"
                ),
                issue_date: Some(to_date(today)),
                reply_due_date: None,
            }),
            as_of: Some(to_date(today)),
        });
    }
    out
}

/// A closed item whose late colour no warning recorded yet.
pub fn late_unposted(d: &Deadline) -> bool {
    let peak = d.ladder.as_ref().map(|l| l.peak()).unwrap_or_default();
    d.closed && d.closing_colour() > peak.max(d.notified_colour())
}

// ---- parsing requests (invalid input stops here) ----

fn persons(field: &str, values: &[String]) -> ApiResult<Vec<String>> {
    if values.is_empty() {
        return Err(ApiError::required(field));
    }
    if values.len() > MAX_PERSONS {
        return Err(ApiError::invalid(
            field,
            CommonReason::TooMany,
            format!("at most {MAX_PERSONS}"),
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(n, v)| {
            validate_text(&format!("{field}[{n}]"), v, true, MAX_SHORT_TEXT)?;
            Ok(v.trim().to_owned())
        })
        .collect()
}

/// Validates a recorded interview (the id and signatures are set later):
/// a graded reminder names a level (its item defaults to the entry), the
/// other kinds none; a 双约谈 names at least two interviewers; the date is
/// not after `today`.
pub fn parse_interview(i: Option<&Interview>, today: NaiveDate) -> ApiResult<Interview> {
    let i = i.ok_or_else(|| ApiError::required("interview"))?;
    let kind = match InterviewKind::try_from(i.kind) {
        Ok(InterviewKind::Unspecified) => return Err(ApiError::required("interview.kind")),
        Ok(k) => k,
        Err(_) => {
            return Err(ApiError::invalid(
                "interview.kind",
                CommonReason::UnknownEnumValue,
                format!("{} is not an interview kind", i.kind),
            ));
        }
    };
    let level = InterviewLevel::try_from(i.level).map_err(|_| {
        ApiError::invalid(
            "interview.level",
            CommonReason::UnknownEnumValue,
            format!("{} is not an interview level", i.level),
        )
    })?;
    let graded = kind == InterviewKind::GradedReminder;
    if graded && level == InterviewLevel::Unspecified {
        return Err(ApiError::required("interview.level"));
    }
    if !graded && (level != InterviewLevel::Unspecified || !i.item.is_empty()) {
        let field = if i.item.is_empty() {
            "interview.level"
        } else {
            "interview.item"
        };
        return Err(ApiError::invalid(
            field,
            ErrorReason::NotForKind,
            "only a graded reminder interview takes a level and an item",
        ));
    }
    let item = if graded && i.item.is_empty() {
        ENTRY_ITEM.to_owned()
    } else {
        validate_text("interview.item", &i.item, false, MAX_SHORT_TEXT)?;
        i.item.clone()
    };
    let interviewers = persons("interview.interviewers", &i.interviewers)?;
    if kind == InterviewKind::DoubleInterview && interviewers.len() < 2 {
        return Err(ApiError::invalid(
            "interview.interviewers",
            ErrorReason::TooFew,
            "a 双约谈 names the commission's and the organisation department's interviewers",
        ));
    }
    let interviewees = persons("interview.interviewees", &i.interviewees)?;
    let date =
        super::entry::parse_required_date("interview.interview_date", i.interview_date.as_ref())?;
    if date_of(Some(&date)).is_some_and(|d| d > today) {
        return Err(ApiError::invalid(
            "interview.interview_date",
            ErrorReason::InTheFuture,
            format!("interview_date is after today ({today})"),
        ));
    }
    validate_text("interview.requirements", &i.requirements, true, MAX_TEXT)?;
    let follow_up_due_date = match i.follow_up_due_date.as_ref() {
        Some(d) => Some(super::entry::parse_required_date(
            "interview.follow_up_due_date",
            Some(d),
        )?),
        None => None,
    };
    Ok(Interview {
        id: String::new(),
        kind: kind as i32,
        level: level as i32,
        item,
        interviewers,
        interviewees,
        interview_date: Some(date),
        requirements: i.requirements.trim().to_owned(),
        follow_up_due_date,
        ..Default::default()
    })
}

/// An interview with its follow-up's due date: as given, else `days` after
/// the interview.
pub fn with_follow_up_due(mut i: Interview, days: u32) -> Interview {
    if i.follow_up_due_date.is_none() {
        i.follow_up_due_date = date_of(i.interview_date.as_ref())
            .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(days))))
            .map(fiveledger_platform::time::to_date);
    }
    i
}

/// The item of an interview's follow-up.
pub fn follow_up_item(id: &str) -> String {
    format!("{INTERVIEW_ITEM}{id}")
}

/// The id the next interview gets.
pub fn next_interview_id(entry: &LedgerEntry) -> String {
    format!("i{}", entry.interviews.len() + 1)
}
