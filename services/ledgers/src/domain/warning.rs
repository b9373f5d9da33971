//! Four-colour warnings (四色预警): the colour of every item with a time
//! limit, the ladder that remembers past colours, and the notice a colour
//! change sends. No I/O; the clock's date and the thresholds are passed in.
//!
//! The ladder is kept by [`track`] (called from `entry::apply`, so it is a
//! fold of the postings like everything else): it only changes when a due
//! date changes, an item closes or the entry is reopened, and it remembers
//! the colours warning postings recorded. The colour shown now is then a
//! pure function of (due date, ladder, today, thresholds): [`colour_now`].

use chrono::NaiveDate;
use fiveledger_platform::colour::{Ladder, api_colour, rule_colour};
use fiveledger_platform::time::to_date;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::*;
use fiveledger_proto::types::{DeadlineKind, Notice, WarningColour, WarningDetail};

use super::entry::date_of;

pub const ENTRY_ITEM: &str = "entry";

/// The configured thresholds: the shared `[warnings]` settings.
pub type Thresholds = fiveledger_platform::deadline::WarningSettings;

/// The colour an open item with due date `due` and ladder `ladder` shows on
/// `today`: the calendar colour, raised to red for a second yellow, and never
/// below the ladder's floor (the shared rule's `shown`).
pub fn shown(
    due: NaiveDate,
    ladder: &ColourLadder,
    today: NaiveDate,
    t: &Thresholds,
) -> WarningColour {
    let ladder = Ladder {
        yellows: ladder.yellow_count,
        floor: rule_colour(ladder.floor()),
    };
    api_colour(t.rule().shown(due, ladder, today))
}

/// The colour of a deadline now (UNSPECIFIED when closed or without a date).
pub fn colour_now(d: &Deadline, today: NaiveDate, t: &Thresholds) -> WarningColour {
    match (d.closed, date_of(d.due_date.as_ref())) {
        (false, Some(due)) => shown(due, &d.ladder.unwrap_or_default(), today, t),
        _ => WarningColour::Unspecified,
    }
}

/// Fills the computed `colour` of the entry and each of its deadlines.
pub fn paint(entry: &mut LedgerEntry, today: NaiveDate, t: &Thresholds) {
    for d in &mut entry.deadlines {
        d.set_colour(colour_now(d, today, t));
    }
    entry.colour = entry
        .deadlines
        .iter()
        .find(|d| d.item == ENTRY_ITEM)
        .map(|d| d.colour)
        .unwrap_or_default();
}

/// The floor after a peak: red catches up to yellow, yellow to blue.
fn floor_after(peak: WarningColour) -> WarningColour {
    match peak {
        WarningColour::Red => WarningColour::Yellow,
        WarningColour::Yellow => WarningColour::Blue,
        _ => WarningColour::Green,
    }
}

/// Ends the period of the current due date: what the sweep recorded in it
/// is remembered (a yellow counts once; the floor follows the peak).
fn close_period(d: &mut Deadline) {
    let notified = d.notified_colour();
    let ladder = d.ladder.get_or_insert_with(Default::default);
    if notified >= WarningColour::Yellow {
        ladder.yellow_count += 1;
    }
    if notified > ladder.peak() {
        ladder.set_peak(notified);
    }
    let floor = floor_after(ladder.peak()).max(ladder.floor());
    ladder.set_floor(floor);
}

/// One item as the entry now defines it: (item, kind, due date, closed).
type Wanted = (String, DeadlineKind, Option<Date>, bool);

fn wanted(entry: &LedgerEntry) -> Vec<Wanted> {
    let mut out = Vec::new();
    if entry.due_date.is_some() {
        out.push((
            ENTRY_ITEM.to_owned(),
            DeadlineKind::Entry,
            entry.due_date,
            entry.state() == EntryState::WrittenOff,
        ));
    }
    if let Some(plan) = &entry.plan {
        for m in &plan.measures {
            out.push((
                format!("measures/{}", m.id),
                DeadlineKind::Measure,
                m.due_date,
                m.done,
            ));
        }
    }
    for t in &entry.transfers {
        out.push((
            format!("transfers/{}", t.id),
            DeadlineKind::Transfer,
            t.due_date,
            !t.result.is_empty(),
        ));
    }
    for n in &entry.notices {
        out.push((
            n.reply_item.clone(),
            DeadlineKind::NoticeReply,
            n.reply_due_date,
            !n.replied_by.is_empty(),
        ));
    }
    for i in entry
        .interviews
        .iter()
        .filter(|i| i.follow_up_due_date.is_some())
    {
        out.push((
            super::interview::follow_up_item(&i.id),
            DeadlineKind::InterviewFollowUp,
            i.follow_up_due_date,
            !i.follow_up.is_empty(),
        ));
    }
    out
}

/// Brings the entry's deadlines in line with the entry after a posting made
/// on `date`: new items start green, a changed due date or a closing ends a
/// period of the ladder, a reopening counts as a yellow.
pub fn track(entry: &mut LedgerEntry, date: Option<Date>, reopened: bool) {
    let wanted = wanted(entry);
    for (item, kind, due, closed) in &wanted {
        let pos = entry.deadlines.iter().position(|d| &d.item == item);
        let d = match pos {
            Some(i) => &mut entry.deadlines[i],
            None => {
                entry.deadlines.push(Deadline {
                    item: item.clone(),
                    kind: *kind as i32,
                    due_date: *due,
                    ladder: Some(ColourLadder {
                        since: date,
                        ..Default::default()
                    }),
                    closed: *closed,
                    ..Default::default()
                });
                continue;
            }
        };
        let was_closed = d.closed;
        if !was_closed && (*closed || d.due_date != *due) {
            close_period(d);
            if let Some(l) = d.ladder.as_mut() {
                l.since = date;
            }
        }
        if *closed && !was_closed {
            // Warnings stop with the item; a reopening starts afresh.
            d.set_notified_colour(WarningColour::Unspecified);
        }
        if item == ENTRY_ITEM && reopened {
            // A reopening counts as the entry's having been yellow once:
            // by the ladder it shows at least blue while its new due date
            // is ahead, and red once overdue again (a second yellow). It is
            // not overdue (yellow) before its due date.
            let ladder = d.ladder.get_or_insert_with(Default::default);
            ladder.yellow_count += 1;
            if ladder.peak() < WarningColour::Yellow {
                ladder.set_peak(WarningColour::Yellow);
            }
            let floor = floor_after(ladder.peak()).max(ladder.floor());
            ladder.set_floor(floor);
            ladder.since = date;
        }
        d.due_date = *due;
        d.closed = *closed;
    }
    // Measures dropped from a new plan version are closed.
    for d in &mut entry.deadlines {
        if !d.closed && !wanted.iter().any(|(item, ..)| item == &d.item) {
            close_period(d);
            d.closed = true;
            d.set_notified_colour(WarningColour::Unspecified);
        }
    }
}

/// Records a warning posting on its deadline (and the day it turned red,
/// which interviews escalate from).
pub fn record(entry: &mut LedgerEntry, w: &WarningDetail) {
    if let Some(d) = entry.deadlines.iter_mut().find(|d| d.item == w.item) {
        if w.to_colour() < WarningColour::Red {
            d.red_since = None;
        } else if d.notified_colour() != WarningColour::Red {
            d.red_since = w.as_of;
        }
        d.set_notified_colour(w.to_colour());
        let ladder = d.ladder.get_or_insert_with(Default::default);
        if w.to_colour() > ladder.peak() {
            ladder.set_peak(w.to_colour());
        }
    }
}

/// The colour a deadline was last recorded at, counting "never" as green
/// (an item starts green without a notice).
fn recorded(d: &Deadline) -> WarningColour {
    d.notified_colour().max(WarningColour::Green)
}

/// Display names of organisations by resource name (`organisations/{id}`),
/// for the text of notices.
pub type OrganisationNames = std::collections::HashMap<String, String>;

/// The organisations an entry's notices may name: the responsible unit and
/// every receiving body.
pub fn named_organisations(entry: &LedgerEntry) -> Vec<String> {
    let r = entry.responsibility.clone().unwrap_or_default();
    let mut names = vec![r.responsible_unit];
    names.extend(entry.transfers.iter().map(|t| t.receiving_body.clone()));
    names.retain(|n| !n.is_empty());
    names
}

/// The colour changes a sweep on `today` must post for this entry, each with
/// its notice (the number is filled in when posted). `names` gives the
/// organisations' display names for the notices' text.
pub fn changes(
    entry: &LedgerEntry,
    today: NaiveDate,
    t: &Thresholds,
    names: &OrganisationNames,
) -> Vec<WarningDetail> {
    let mut out = Vec::new();
    if matches!(
        entry.state(),
        EntryState::Unspecified | EntryState::Open | EntryState::WrittenOff
    ) {
        return out;
    }
    for d in &entry.deadlines {
        let now = colour_now(d, today, t);
        if now == WarningColour::Unspecified || now == recorded(d) {
            continue;
        }
        let from = d.notified_colour();
        out.push(WarningDetail {
            item: d.item.clone(),
            kind: d.kind,
            due_date: d.due_date,
            from_colour: from as i32,
            to_colour: now as i32,
            notice: Some(notice(entry, d, from, now, today, t, names)),
            as_of: Some(to_date(today)),
        });
    }
    out.extend(super::interview::late_replies(entry, today, names));
    out
}

/// What a notice is about, as its text names it: the unit, the problem by
/// its title, and the measure or transfer.
pub(super) fn matter(entry: &LedgerEntry, d: &Deadline, names: &OrganisationNames) -> String {
    let r = entry.responsibility.clone().unwrap_or_default();
    let name_of = |organisation: &str| {
        names
            .get(organisation)
            .cloned()
            .unwrap_or_else(|| "责任单位".to_owned())
    };
    let unit = name_of(&r.responsible_unit);
    let problem = format!("「{}」", entry.title);
    if let Some(id) = d.item.strip_prefix("measures/") {
        let measure = entry
            .plan
            .as_ref()
            .and_then(|p| p.measures.iter().find(|m| m.id == id))
            .map(|m| format!("“{}”", m.description))
            .unwrap_or_default();
        format!("{unit}问题{problem}的整改措施{measure}")
    } else if let Some(id) = d.item.strip_prefix("transfers/") {
        let body = entry
            .transfers
            .iter()
            .find(|x| x.id == id)
            .map(|x| name_of(&x.receiving_body))
            .unwrap_or_default();
        format!("移交{body}办理的{unit}问题{problem}")
    } else if d.item.starts_with(super::interview::NOTICE_ITEM) {
        format!("{unit}就问题{problem}督办通知书的回复")
    } else if d.item.starts_with(super::interview::INTERVIEW_ITEM) {
        format!("{unit}就问题{problem}约谈要求的落实")
    } else if entry.reopen_count > 0 {
        format!("{unit}问题{problem}的整改（经回头看重新交办）")
    } else {
        format!("{unit}问题{problem}的整改")
    }
}

fn notice(
    entry: &LedgerEntry,
    d: &Deadline,
    from: WarningColour,
    to: WarningColour,
    today: NaiveDate,
    t: &Thresholds,
    names: &OrganisationNames,
) -> Notice {
    let r = entry.responsibility.clone().unwrap_or_default();
    let due = date_of(d.due_date.as_ref()).unwrap_or(today);
    let what = matter(entry, d, names);
    // The handler: a measure's owner, a transfer's receiver, else the unit.
    let handler = if let Some(id) = d.item.strip_prefix("measures/") {
        entry
            .plan
            .as_ref()
            .and_then(|p| p.measures.iter().find(|m| m.id == id))
            .map(|m| format!("handler:{}", m.owner))
            .unwrap_or_else(|| r.responsible_unit.clone())
    } else if let Some(id) = d.item.strip_prefix("transfers/") {
        entry
            .transfers
            .iter()
            .find(|x| x.id == id)
            .map(|x| x.receiving_body.clone())
            .unwrap_or_else(|| r.responsible_unit.clone())
    } else {
        r.responsible_unit.clone()
    };
    let to_whom = fiveledger_platform::deadline::Addressees {
        handler,
        unit: r.responsible_unit.clone(),
        circular: vec![r.supervising_body.clone(), office_of(&entry.target_path)],
    };
    let (from, to) = (rule_colour(from), rule_colour(to));
    fiveledger_platform::deadline::notice(&what, due, from, to, to_whom, today, t)
}

/// The inspection office over a target: the office of its parent
/// organisation (a county's targets are inspected by the county), named by
/// path as the ledger knows no office names.
pub(super) fn office_of(target_path: &str) -> String {
    let parent = target_path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    format!("office:{parent}")
}

/// The earliest due date among the open items (for choosing sweep work).
pub fn next_due(entry: &LedgerEntry) -> Option<NaiveDate> {
    entry
        .deadlines
        .iter()
        .filter(|d| !d.closed)
        .filter_map(|d| date_of(d.due_date.as_ref()))
        .min()
}

/// The highest recorded colour or floor among the open items: an entry
/// above green must be looked at by every sweep (its colour may ease).
/// A closed item whose late reply no warning recorded yet counts with its
/// late colour.
pub fn attention(entry: &LedgerEntry) -> WarningColour {
    entry
        .deadlines
        .iter()
        .map(|d| {
            if d.closed {
                if super::interview::late_unposted(d) {
                    d.closing_colour()
                } else {
                    WarningColour::Unspecified
                }
            } else {
                d.notified_colour()
                    .max(d.ladder.as_ref().map(|l| l.floor()).unwrap_or_default())
            }
        })
        .max()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;
    use fiveledger_proto::types::NoticeKind;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    #[test]
    fn the_ladder_remembers_red_and_a_second_yellow() {
        let t = Thresholds::default();
        let mut entry = LedgerEntry {
            state: EntryState::Rectifying as i32,
            due_date: Some(to_date(day(7, 31))),
            ..Default::default()
        };
        track(&mut entry, Some(to_date(day(6, 1))), false);
        let red = changes(&entry, day(9, 1), &t, &Default::default());
        assert_eq!(red.len(), 1);
        assert_eq!(
            red[0].notice.as_ref().map(|n| n.kind()),
            Some(NoticeKind::Circular)
        );
        record(&mut entry, &red[0]);
        assert!(changes(&entry, day(9, 1), &t, &Default::default()).is_empty());
        // The due date moves far out: red catches up to yellow, not green.
        entry.due_date = Some(to_date(day(12, 31)));
        track(&mut entry, Some(to_date(day(9, 2))), false);
        paint(&mut entry, day(9, 3), &t);
        assert_eq!(entry.colour(), WarningColour::Yellow);
        let eased = changes(&entry, day(9, 3), &t, &Default::default());
        assert_eq!(
            eased[0].notice.as_ref().map(|n| n.kind()),
            Some(NoticeKind::Eased)
        );
        record(&mut entry, &eased[0]);
        // Overdue again: a second yellow is red.
        let late = day(12, 31) + Days::new(1);
        let d = &entry.deadlines[0];
        assert_eq!(colour_now(d, late, &t), WarningColour::Red);
    }
}
