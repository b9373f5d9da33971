//! A clue's time limit (办理时限) and its four-colour warnings (四色预警), as
//! the source runs them for clues: each disposal way has its own limit from
//! the clue's receipt; the colour follows the shared rule
//! (`fiveledger_platform::colour`) with the memory ledger items have (a
//! second yellow is red, a clue once red never shows below yellow), and each
//! change of colour sends one notice (`fiveledger_platform::deadline`). No
//! I/O: today, the settings and the clue's parts are passed in.

use chrono::NaiveDate;
use fiveledger_platform::colour::{Colour, Ladder};
use fiveledger_platform::deadline::{self, Addressees, WarningSettings};
use fiveledger_proto::issues::{ClueState, DisposalMethod};
use fiveledger_proto::types::Notice;

use crate::settings::IssuesSettings;

/// The item name a clue's warnings carry.
pub const ITEM: &str = "clue";

/// What a clue remembers of its warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Warned {
    /// The colour last notified (none before the first notice).
    pub notified: Colour,
    /// Yellows notified under earlier time limits.
    pub yellows: i32,
    /// The clue never shows below this.
    pub floor: Colour,
    /// The highest colour ever notified.
    pub peak: Colour,
}

impl Warned {
    fn ladder(&self) -> Ladder {
        Ladder {
            yellows: self.yellows,
            floor: self.floor,
        }
    }

    /// Ends the period of a time limit: a yellow (or red) notified in it
    /// counts once, and the floor follows the peak (red catches up to
    /// yellow, yellow to blue), as for ledger items.
    fn close_period(&mut self) {
        if self.notified >= Colour::Yellow {
            self.yellows += 1;
        }
        self.peak = self.peak.max(self.notified);
        let after = match self.peak {
            Colour::Red => Colour::Yellow,
            Colour::Yellow => Colour::Blue,
            _ => Colour::Unspecified,
        };
        self.floor = self.floor.max(after);
    }
}

/// A stored due date (ISO text, "" for none).
pub fn parse_due(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A due date as stored.
pub fn due_text(due: Option<NaiveDate>) -> String {
    due.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The time limit of a clue's current stage: before its disposal, its
/// current transfer's due date (`transfer_due`); once disposed, its receipt
/// (the current transfer's date, or the day it was reopened when later)
/// plus the days of its disposal way; none once concluded.
pub fn due(
    state: ClueState,
    method: Option<DisposalMethod>,
    transfer_date: NaiveDate,
    transfer_due: NaiveDate,
    reopen_date: Option<NaiveDate>,
    s: &IssuesSettings,
) -> Option<NaiveDate> {
    let receipt = reopen_date.map_or(transfer_date, |r| r.max(transfer_date));
    match state {
        ClueState::Registered => {
            // A reopened clue's clock starts again on the day it reopened.
            let fresh =
                receipt.checked_add_days(chrono::Days::new(u64::from(s.clue_transfer_due_days)))?;
            Some(if reopen_date.is_some() {
                fresh.max(transfer_due)
            } else {
                transfer_due
            })
        }
        ClueState::Disposed => receipt.checked_add_days(chrono::Days::new(u64::from(
            s.disposal_days(method.unwrap_or_default()),
        ))),
        ClueState::Concluded | ClueState::Unspecified => None,
    }
}

/// Moves a clue's warning memory to a new time limit: a changed or ended
/// limit closes the period of the old one; an ended one stops the warnings
/// (a reopening starts afresh).
pub fn retime(w: &mut Warned, old: Option<NaiveDate>, new: Option<NaiveDate>) {
    if old == new {
        return;
    }
    if old.is_some() {
        w.close_period();
    }
    if new.is_none() {
        w.notified = Colour::Unspecified;
    }
}

/// The colour a clue due on `due` with memory `w` shows on `today` (none
/// without a time limit).
pub fn shown(due: Option<NaiveDate>, w: &Warned, today: NaiveDate, t: &WarningSettings) -> Colour {
    match due {
        Some(due) => t.rule().shown(due, w.ladder(), today),
        None => Colour::Unspecified,
    }
}

/// The change a sweep on `today` must notify, if any: (from, to), where
/// `from` is the colour last notified (none at first; a clue starts green
/// without a notice).
pub fn change(
    due: Option<NaiveDate>,
    w: &Warned,
    today: NaiveDate,
    t: &WarningSettings,
) -> Option<(Colour, Colour)> {
    let now = shown(due, w, today, t);
    let recorded = w.notified.max(Colour::Green);
    (now != Colour::Unspecified && now != recorded).then_some((w.notified, now))
}

/// Records a notified change in the memory.
pub fn record(w: &mut Warned, to: Colour) {
    w.notified = to;
    w.peak = w.peak.max(to);
}

/// Who a clue's notices go to: the handling body (the current receiving
/// body) for a reminder and the written supervision notice; for a
/// circular (印发全委), the commission holding the clue as a whole (the
/// receiving body, by name) and the inspection office of the level running
/// the round (by path, as `office:{path}`).
pub fn addressees(receiving_body: &str, round_organisation_path: &str) -> Addressees {
    Addressees {
        handler: receiving_body.to_owned(),
        unit: receiving_body.to_owned(),
        circular: vec![
            receiving_body.to_owned(),
            format!("office:{round_organisation_path}"),
        ],
    }
}

/// The notice of a clue's change from `from` to `to`. The text names the
/// clue by its resource name only: who the cadre is stays in the clue.
pub fn notice(
    clue: &str,
    due: NaiveDate,
    from: Colour,
    to: Colour,
    to_whom: Addressees,
    today: NaiveDate,
    t: &WarningSettings,
) -> Notice {
    let what = format!("问题线索{clue}的办理");
    deadline::notice(&what, due, from, to, to_whom, today, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    #[test]
    fn each_disposal_way_has_its_own_limit() {
        let s = IssuesSettings::default();
        let got = |state, method| due(state, method, day(3, 1), day(3, 31), None, &s);
        assert_eq!(got(ClueState::Registered, None), Some(day(3, 31)));
        assert_eq!(
            got(ClueState::Disposed, Some(DisposalMethod::TalkOrLetter)),
            Some(day(3, 31))
        );
        assert_eq!(
            got(
                ClueState::Disposed,
                Some(DisposalMethod::PreliminaryVerification)
            ),
            Some(day(5, 30))
        );
        assert_eq!(
            got(ClueState::Disposed, Some(DisposalMethod::Hold)),
            Some(day(8, 28))
        );
        assert_eq!(
            got(ClueState::Disposed, Some(DisposalMethod::Conclude)),
            Some(day(3, 16))
        );
        assert_eq!(got(ClueState::Concluded, None), None);
        // Reopened later: the clock starts again.
        assert_eq!(
            due(
                ClueState::Registered,
                None,
                day(3, 1),
                day(3, 31),
                Some(day(6, 1)),
                &s
            ),
            Some(day(7, 1))
        );
    }

    #[test]
    fn the_memory_is_the_ledgers() {
        let t = WarningSettings::default();
        let mut w = Warned::default();
        let due = Some(day(3, 31));
        assert_eq!(change(due, &w, day(3, 1), &t), None);
        assert_eq!(
            change(due, &w, day(3, 25), &t),
            Some((Colour::Unspecified, Colour::Blue))
        );
        record(&mut w, Colour::Red);
        // A new limit far out: red catches up to yellow.
        retime(&mut w, due, Some(day(12, 31)));
        assert_eq!(shown(Some(day(12, 31)), &w, day(4, 1), &t), Colour::Yellow);
        // Overdue again: a second yellow is red.
        let next_year = NaiveDate::from_ymd_opt(2027, 1, 1).expect("date");
        assert_eq!(shown(Some(day(12, 31)), &w, next_year, &t), Colour::Red);
        // Concluded: no colour, no notice.
        retime(&mut w, Some(day(12, 31)), None);
        assert_eq!(change(None, &w, day(4, 1), &t), None);
    }
}
