//! The 整改台账 columns of an imported sheet, read: 整改措施 and 整改时限
//! (with 整改责任人) become the entry's plan, 完成情况 its progress, 状态
//! (or 完成情况) saying 已销号 or 已移交 its write-off or transfer, dated
//! by 销号时间/移交时间, and 备注 a remark. `ledger_steps.rs` applies them.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What the ledger columns of one row say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerCells {
    /// 整改措施, one per line or numbered item.
    pub measures: Vec<String>,
    /// 整改时限.
    pub due: Option<NaiveDate>,
    /// 整改责任人 (else the principal).
    pub owner: String,
    /// 完成情况 (when it says written off and 状态 is empty, the 状态;
    /// empty when it only says transferred: that is the transfer's matter).
    pub progress: String,
    /// 完成情况 says the rectification is done.
    pub done: bool,
    /// 完成时间: the day of the progress, recorded after the fact (the
    /// plan is then dated the day of the hand-over); for a written-off or
    /// transferred row, the 销号时间/移交时间 when empty.
    pub progress_date: Option<NaiveDate>,
    /// 备注.
    pub remark: String,
    /// Where the sheet says the entry ended: written off or transferred.
    pub outcome: Outcome,
    /// The words that say so (状态, else 完成情况).
    pub status: String,
    /// 销号时间/移交时间: the day of the write-off or transfer.
    pub closed_date: Option<NaiveDate>,
    /// 移交单位 (`organisations/…`, resolved by the import); empty: the
    /// entry's supervising body.
    pub receiving_body: String,
}

impl LedgerCells {
    pub fn is_empty(&self) -> bool {
        self.measures.is_empty()
            && self.progress.is_empty()
            && self.remark.is_empty()
            && self.outcome == Outcome::Open
    }
}

/// Where a row's 状态 says the entry ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Still in hand (整改中), or the sheet does not say.
    #[default]
    Open,
    /// 已销号 / 已完成整改: rectified and verified.
    WrittenOff,
    /// 已移交: handed to a supervising or functional body.
    Transferred,
}

impl Outcome {
    /// What a 状态 or 完成情况 cell says.
    pub fn of(text: &str) -> Self {
        let t = text.trim();
        if ["已销号", "已销账", "已完成整改", "已办结"]
            .iter()
            .any(|w| t.starts_with(w))
        {
            Outcome::WrittenOff
        } else if t.starts_with("已移交") {
            Outcome::Transferred
        } else {
            Outcome::Open
        }
    }
}

/// Which ledger cell a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Measures,
    DueDate,
    ProgressDate,
    ClosedDate,
}

/// A row's ledger cells as written.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCells<'a> {
    pub measures: &'a str,
    pub due: &'a str,
    pub owner: &'a str,
    pub progress: &'a str,
    pub progress_date: &'a str,
    pub remark: &'a str,
    pub status: &'a str,
    pub closed_date: &'a str,
}

/// Reads the ledger cells of a row. Measures need a due date and a due
/// date needs measures; a 销号/移交 date needs a status saying so and is
/// not before the 完成时间; `parse_date` reads a plain date.
pub fn parse(
    raw: RawCells<'_>,
    parse_date: impl Fn(&str) -> Option<NaiveDate>,
) -> Result<LedgerCells, Vec<(Cell, String)>> {
    let mut errors = Vec::new();
    let mut date = |cell: Cell, text: &str| match text.trim() {
        "" => None,
        d => {
            let parsed = parse_date(d);
            if parsed.is_none() {
                errors.push((cell, format!("{d:?} is not a date")));
            }
            parsed
        }
    };
    let progress_date = date(Cell::ProgressDate, raw.progress_date);
    let closed_date = date(Cell::ClosedDate, raw.closed_date);
    let measures = split_measures(raw.measures);
    let due = match raw.due.trim() {
        "" => None,
        d => match parse_date(d).or_else(|| end_of_month(d)) {
            Some(d) => Some(d),
            None => {
                errors.push((
                    Cell::DueDate,
                    format!("{d:?} is not a date (2026-06-30, 2026年6月30日 or 2026年6月底)"),
                ));
                None
            }
        },
    };
    match (measures.is_empty(), due.is_some() || !errors.is_empty()) {
        (false, false) => errors.push((Cell::DueDate, "measures need a due date".into())),
        (true, true) => errors.push((Cell::Measures, "a due date needs measures".into())),
        _ => {}
    }
    let mut progress = raw.progress.trim().to_owned();
    let status = match raw.status.trim() {
        "" => progress.clone(),
        s => s.to_owned(),
    };
    let outcome = Outcome::of(&status);
    match (outcome, closed_date, progress_date) {
        (Outcome::Open, Some(_), _) => errors.push((
            Cell::ClosedDate,
            "a 销号/移交 date is given but the status says neither 已销号 nor 已移交".into(),
        )),
        (_, Some(closed), Some(done)) if closed < done => errors.push((
            Cell::ClosedDate,
            format!("{closed} is before the 完成时间 {done}"),
        )),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match outcome {
        Outcome::WrittenOff if progress.is_empty() => progress = status.clone(),
        Outcome::Transferred if raw.status.trim().is_empty() => progress.clear(),
        _ => {}
    }
    Ok(LedgerCells {
        done: is_done(&progress) || outcome == Outcome::WrittenOff,
        measures,
        due,
        owner: raw.owner.trim().to_owned(),
        progress,
        progress_date: match outcome {
            Outcome::Open => progress_date,
            _ => progress_date.or(closed_date),
        },
        remark: raw.remark.trim().to_owned(),
        outcome,
        status,
        closed_date,
        receiving_body: String::new(),
    })
}

/// Measures one per line or item: `1.…；2.…`, `（1）…`.
fn split_measures(cell: &str) -> Vec<String> {
    cell.split(['\n', '；', ';'])
        .map(|m| {
            m.trim()
                .trim_start_matches(|c: char| c.is_ascii_digit() || "（）().、．. ".contains(c))
                .trim()
                .to_owned()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

/// `2026年6月底`, `2026年6月`, `2026-06`: the month's last day.
fn end_of_month(cell: &str) -> Option<NaiveDate> {
    let s = cell
        .trim()
        .trim_end_matches(['底', '末'])
        .trim_end_matches('月');
    let (y, m) = s.split_once(['年', '-', '/', '.'])?;
    let first = NaiveDate::from_ymd_opt(y.trim().parse().ok()?, m.trim().parse().ok()?, 1)?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    next.pred_opt().filter(|d| d.month() == first.month())
}

/// 完成情况 that says the rectification is done.
fn is_done(progress: &str) -> bool {
    let p = progress.trim();
    ["已完成", "已整改", "完成整改", "已办结", "已销号"]
        .iter()
        .any(|w| p.starts_with(w))
        || p == "完成"
}

/// A row's content fingerprint: the fields a stored problem keeps as sent.
pub fn fingerprint(fields: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.trim().as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// One step the ledger columns took (or would take, with `--check`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    pub row: usize,
    pub entry: String,
    /// `acknowledged`, `plan submitted and approved`, `progress`,
    /// `write-off requested`, `write-off approved`, `transferred`, `remark`.
    pub step: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    fn raw<'a>(cells: [&'a str; 6]) -> RawCells<'a> {
        let [measures, due, owner, progress, progress_date, remark] = cells;
        RawCells {
            measures,
            due,
            owner,
            progress,
            progress_date,
            remark,
            ..Default::default()
        }
    }

    #[test]
    fn the_columns_of_a_ledger_row() {
        let cells = parse(
            raw([
                "1.重新制定制度；2、退还违规补贴\n（3）通报批评",
                "2026年6月底",
                "办公室",
                "整改完成",
                "2026-05-01",
                "已约谈",
            ]),
            date,
        )
        .unwrap();
        assert_eq!(cells.measures, ["重新制定制度", "退还违规补贴", "通报批评"]);
        assert_eq!(cells.due, NaiveDate::from_ymd_opt(2026, 6, 30));
        assert!(!cells.done);
        assert_eq!(cells.outcome, Outcome::Open);
        assert_eq!(cells.progress_date, NaiveDate::from_ymd_opt(2026, 5, 1));
        let first = |cells: RawCells<'_>| parse(cells, date).unwrap_err()[0].0;
        assert_eq!(
            first(raw(["", "", "", "完成", "五月", ""])),
            Cell::ProgressDate
        );
        assert!(parse(raw(["", "", "", "完成", "", ""]), date).unwrap().done);
        assert!(
            !parse(raw(["", "", "", "整改中", "", ""]), date)
                .unwrap()
                .done
        );
        assert_eq!(first(raw(["措施", "", "", "", "", ""])), Cell::DueDate);
        assert_eq!(
            first(raw(["", "2026-06-30", "", "", "", ""])),
            Cell::Measures
        );
        assert_eq!(
            first(raw(["措施", "长期坚持", "", "", "", ""])),
            Cell::DueDate
        );
        assert_eq!(
            end_of_month("2026-02"),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
    }

    #[test]
    fn written_off_and_transferred_rows() {
        // 已完成整改 in 完成情况: written off, dated by 销号时间.
        let cells = parse(
            RawCells {
                progress: "已完成整改，制度已修订",
                closed_date: "2026-05-03",
                ..Default::default()
            },
            date,
        )
        .unwrap();
        assert_eq!(cells.outcome, Outcome::WrittenOff);
        assert!(cells.done);
        assert_eq!(cells.progress_date, date("2026-05-03"));
        // A 状态 column says so even when 完成情况 describes the work.
        let cells = parse(
            RawCells {
                progress: "制度已修订",
                status: "已销号",
                ..Default::default()
            },
            date,
        )
        .unwrap();
        assert_eq!((cells.outcome, cells.done), (Outcome::WrittenOff, true));
        assert_eq!(cells.progress, "制度已修订");
        // 已移交 in 完成情况 is the transfer's matter, not progress.
        let cells = parse(
            RawCells {
                progress: "已移交市纪委监委",
                ..Default::default()
            },
            date,
        )
        .unwrap();
        assert_eq!(cells.outcome, Outcome::Transferred);
        assert_eq!(
            (cells.progress.as_str(), cells.status.as_str()),
            ("", "已移交市纪委监委")
        );
        assert!(!cells.is_empty());
        let first = |cells: RawCells<'_>| parse(cells, date).unwrap_err()[0].0;
        // A 销号时间 without a status saying so, or before 完成时间.
        assert_eq!(
            first(RawCells {
                progress: "整改中",
                closed_date: "2026-05-03",
                ..Default::default()
            }),
            Cell::ClosedDate
        );
        assert_eq!(
            first(RawCells {
                status: "已销号",
                progress_date: "2026-05-04",
                closed_date: "2026-05-03",
                ..Default::default()
            }),
            Cell::ClosedDate
        );
    }
}
