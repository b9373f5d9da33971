//! The 整改台账 columns of an imported sheet: 整改措施 and 整改时限 (with
//! 整改责任人) become the entry's plan, 完成情况 its progress, 备注 a
//! remark. They apply once the problem's entry exists (after the hand-over),
//! so an office imports its sheet before the feedback and again after it;
//! every step is skipped when the entry already shows it, so a second
//! import of the same sheet changes nothing.

use chrono::{Datelike, NaiveDate};
use fiveledger_proto::ledgers::{
    AcknowledgeHandOverRequest, ApprovePlanRequest, EntryState, GetEntryRequest, LedgerEntry,
    Measure, MeasureKind, PostProgressRequest, PostSupervisionRequest, RectificationPlan,
    SubmitPlanRequest, posting::Detail,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::connect::Services;

/// What the ledger columns of one row say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerCells {
    /// 整改措施, one per line or numbered item.
    pub measures: Vec<String>,
    /// 整改时限.
    pub due: Option<NaiveDate>,
    /// 整改责任人 (else the principal).
    pub owner: String,
    /// 完成情况.
    pub progress: String,
    /// 完成情况 says the rectification is done.
    pub done: bool,
    /// 完成时间: the day of the progress, recorded after the fact (the
    /// plan is then dated the day of the hand-over).
    pub progress_date: Option<NaiveDate>,
    /// 备注.
    pub remark: String,
}

impl LedgerCells {
    pub fn is_empty(&self) -> bool {
        self.measures.is_empty() && self.progress.is_empty() && self.remark.is_empty()
    }
}

/// Which ledger cell a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Measures,
    DueDate,
    ProgressDate,
}

/// Reads the ledger cells of a row. Measures need a due date and a due
/// date needs measures; `parse_date` reads a plain date.
pub fn parse(
    measures: &str,
    due: &str,
    owner: &str,
    progress: &str,
    progress_date: &str,
    remark: &str,
    parse_date: impl Fn(&str) -> Option<NaiveDate>,
) -> Result<LedgerCells, Vec<(Cell, String)>> {
    let mut errors = Vec::new();
    let progress_date = match progress_date.trim() {
        "" => None,
        d => {
            let parsed = parse_date(d);
            if parsed.is_none() {
                errors.push((Cell::ProgressDate, format!("{d:?} is not a date")));
            }
            parsed
        }
    };
    let measures = split_measures(measures);
    let due = match due.trim() {
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
    if !errors.is_empty() {
        return Err(errors);
    }
    let progress = progress.trim().to_owned();
    Ok(LedgerCells {
        done: is_done(&progress),
        measures,
        due,
        owner: owner.trim().to_owned(),
        progress,
        progress_date,
        remark: remark.trim().to_owned(),
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
    /// `acknowledged`, `plan submitted and approved`, `progress`, `remark`.
    pub step: String,
}

/// Applies a row's ledger cells to its entry: each step only when the
/// entry does not show it yet. `on_behalf`: the plan is submitted (and
/// approved) for the unit; without it measures are left to the unit.
/// `check`: nothing is written, the steps are only listed.
pub async fn apply(
    services: &Services,
    row: usize,
    entry: &str,
    cells: &LedgerCells,
    fingerprint: &str,
    on_behalf: bool,
    check: bool,
) -> Result<Vec<Step>, tonic::Status> {
    let e = services
        .ledger()
        .get_entry(GetEntryRequest {
            name: entry.to_owned(),
        })
        .await?
        .into_inner();
    let mut steps = Vec::new();
    let mut step = |s: &str| {
        steps.push(Step {
            row,
            entry: entry.to_owned(),
            step: s.to_owned(),
        })
    };
    // Request ids from the row's content: a retry of a step stores it once.
    let key = |s: &str| format!("sheet-{}-{s}", &fingerprint[..32]);
    let planned = e.plan.is_some() || e.pending_plan.is_some();
    // Progress dated in the past needs the plan dated before it: the day
    // of the hand-over, the entry's last step.
    let back_dated = cells.progress_date.and(e.last_step_date);
    if on_behalf && !cells.measures.is_empty() && !planned {
        if e.state() == EntryState::HandedOver {
            step("acknowledged");
            if !check {
                services
                    .ledger()
                    .acknowledge_hand_over(AcknowledgeHandOverRequest {
                        name: entry.to_owned(),
                        remarks: "整改台账导入（代为签收）".into(),
                        request_id: key("ack"),
                        effective_date: back_dated,
                        ..Default::default()
                    })
                    .await?;
            }
        }
        step("plan submitted and approved");
        if !check {
            let due = cells.due.map(fiveledger_platform::time::to_date);
            let owner = if cells.owner.is_empty() {
                e.responsibility.clone().unwrap_or_default().principal
            } else {
                cells.owner.clone()
            };
            let submitted = services
                .ledger()
                .submit_plan(SubmitPlanRequest {
                    name: entry.to_owned(),
                    plan: Some(RectificationPlan {
                        summary: cells.measures.join("；"),
                        measures: cells
                            .measures
                            .iter()
                            .enumerate()
                            .map(|(i, m)| Measure {
                                id: format!("m{}", i + 1),
                                kind: MeasureKind::Corrective as i32,
                                description: m.clone(),
                                owner: owner.clone(),
                                due_date: due,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }),
                    request_id: key("plan"),
                    effective_date: back_dated,
                    ..Default::default()
                })
                .await?
                .into_inner();
            let version = submitted.pending_plan.map(|p| p.version).unwrap_or(1);
            services
                .ledger()
                .approve_plan(ApprovePlanRequest {
                    name: entry.to_owned(),
                    version,
                    remarks: "整改台账导入（代为提交）".into(),
                    request_id: key("approve"),
                    effective_date: back_dated,
                    ..Default::default()
                })
                .await?;
        }
    }
    if !cells.progress.is_empty()
        && !posted(
            &e,
            |d| matches!(d, Detail::Progress(p) if p.description == cells.progress),
        )
    {
        step("progress");
        if !check {
            progress(services, &e, cells, &key).await?;
        }
    }
    if !cells.remark.is_empty()
        && !posted(
            &e,
            |d| matches!(d, Detail::Supervision(s) if s.remarks == cells.remark),
        )
    {
        step("remark");
        if !check {
            services
                .ledger()
                .post_supervision(PostSupervisionRequest {
                    name: entry.to_owned(),
                    remarks: cells.remark.clone(),
                    request_id: key("remark"),
                    ..Default::default()
                })
                .await?;
        }
    }
    Ok(steps)
}

fn posted(e: &LedgerEntry, matches: impl Fn(&Detail) -> bool) -> bool {
    e.postings
        .iter()
        .any(|p| p.detail.as_ref().is_some_and(&matches))
}

/// 完成情况: for the entry as a whole, or, when it says done, marking every
/// measure of the plan done. Read again after a plan was just submitted.
async fn progress(
    services: &Services,
    e: &LedgerEntry,
    cells: &LedgerCells,
    key: &impl Fn(&str) -> String,
) -> Result<(), tonic::Status> {
    let current = services
        .ledger()
        .get_entry(GetEntryRequest {
            name: e.name.clone(),
        })
        .await?
        .into_inner();
    let open: Vec<String> = current
        .plan
        .iter()
        .flat_map(|p| &p.measures)
        .filter(|m| !m.done)
        .map(|m| m.id.clone())
        .collect();
    let ids: Vec<String> = if cells.done && !open.is_empty() {
        open
    } else {
        vec![String::new()]
    };
    for id in ids {
        services
            .ledger()
            .post_progress(PostProgressRequest {
                name: e.name.clone(),
                measure_id: id.clone(),
                description: cells.progress.clone(),
                measure_done: !id.is_empty(),
                request_id: key(&format!("progress-{id}")),
                effective_date: cells.progress_date.map(fiveledger_platform::time::to_date),
                ..Default::default()
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn the_columns_of_a_ledger_row() {
        let cells = parse(
            "1.重新制定制度；2、退还违规补贴\n（3）通报批评",
            "2026年6月底",
            "办公室",
            "已完成整改",
            "2026-05-01",
            "已约谈",
            date,
        )
        .unwrap();
        assert_eq!(cells.measures, ["重新制定制度", "退还违规补贴", "通报批评"]);
        assert_eq!(cells.due, NaiveDate::from_ymd_opt(2026, 6, 30));
        assert!(cells.done);
        assert_eq!(cells.progress_date, NaiveDate::from_ymd_opt(2026, 5, 1));
        assert_eq!(
            parse("", "", "", "完成", "五月", "", date).unwrap_err()[0].0,
            Cell::ProgressDate
        );
        assert!(!parse("", "", "", "整改中", "", "", date).unwrap().done);
        assert_eq!(
            parse("措施", "", "", "", "", "", date).unwrap_err()[0].0,
            Cell::DueDate
        );
        assert_eq!(
            parse("", "2026-06-30", "", "", "", "", date).unwrap_err()[0].0,
            Cell::Measures
        );
        assert_eq!(
            parse("措施", "长期坚持", "", "", "", "", date).unwrap_err()[0].0,
            Cell::DueDate
        );
        assert_eq!(
            end_of_month("2026-02"),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
    }
}
