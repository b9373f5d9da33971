//! The 整改台账 columns of a row applied to its entry, once the entry exists
//! (after the hand-over): an office imports its sheet before the feedback
//! and again after it. Each step is taken only when the entry does not
//! show it yet, so a second import of the same sheet changes nothing:
//!
//! - the plan (整改措施, 整改时限) acknowledged, submitted and approved on
//!   the unit's behalf (`--on-behalf`), dated the day of the hand-over when
//!   the row is recorded after the fact;
//! - 完成情况 as progress, dated by 完成时间. An edited 完成情况 is the
//!   unit's next report: posted as new progress beside the earlier one
//!   (nothing is edited in place); a text the entry already shows is not
//!   posted again, whichever import sent it;
//! - a row whose 状态 says 已销号 (or 已完成整改): the write-off requested on
//!   the unit's behalf with the sheet as its evidence (file name and row,
//!   the row's fingerprint as the hash) and approved by the importing
//!   office, both dated by 销号时间 (补录);
//! - 已移交: transferred by the office to the 移交单位 (else the entry's
//!   supervising body), dated by 移交时间;
//! - 备注 as a remark, last (a remark is dated today).

use fiveledger_platform::time::to_date;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::{
    AcknowledgeHandOverRequest, ApprovePlanRequest, ApproveWriteOffRequest, EntryState,
    GetEntryRequest, LedgerEntry, Measure, MeasureKind, PostProgressRequest,
    PostSupervisionRequest, RectificationPlan, RequestWriteOffRequest, SubmitPlanRequest,
    TransferRequest, posting::Detail,
};
use fiveledger_proto::types::Evidence;
use tonic::Status;

use super::connect::Services;
use super::ledger_columns::{LedgerCells, Outcome, Step, fingerprint};

/// The sheet row the cells come from, and how to apply them.
#[derive(Debug, Clone, Copy)]
pub struct SheetRow<'a> {
    /// The file's name, named as the evidence of a write-off.
    pub file: &'a str,
    /// The row number as the sheet shows it.
    pub number: usize,
    /// The row's content fingerprint (hex SHA-256).
    pub fingerprint: &'a str,
    /// Take the unit's steps (plan, write-off request) on its behalf.
    pub on_behalf: bool,
    /// Only list the steps.
    pub check: bool,
}

/// Applies a row's ledger cells to its entry: each step only when the
/// entry does not show it yet. `check`: nothing is written, the steps are
/// only listed.
pub async fn apply(
    services: &Services,
    entry: &str,
    cells: &LedgerCells,
    row: SheetRow<'_>,
) -> Result<Vec<Step>, Status> {
    let e = services
        .ledger()
        .get_entry(GetEntryRequest {
            name: entry.to_owned(),
        })
        .await?
        .into_inner();
    let mut apply = Apply {
        services,
        e: &e,
        cells,
        row,
        steps: Vec::new(),
    };
    apply.plan().await?;
    apply.progress().await?;
    match cells.outcome {
        Outcome::WrittenOff => apply.write_off().await?,
        Outcome::Transferred => apply.transfer().await?,
        Outcome::Open => {}
    }
    apply.remark().await?;
    Ok(apply.steps)
}

struct Apply<'a> {
    services: &'a Services,
    /// The entry as read before the first step.
    e: &'a LedgerEntry,
    cells: &'a LedgerCells,
    row: SheetRow<'a>,
    steps: Vec<Step>,
}

impl Apply<'_> {
    /// Lists a step; true when it is to be taken (not a dry run).
    fn step(&mut self, s: &str) -> bool {
        self.steps.push(Step {
            row: self.row.number,
            entry: self.e.name.clone(),
            step: s.to_owned(),
        });
        !self.row.check
    }

    /// Request ids from the row's content: a retry of a step stores it once.
    fn key(&self, s: &str) -> String {
        format!("sheet-{}-{s}", &self.row.fingerprint[..32])
    }

    fn name(&self) -> String {
        self.e.name.clone()
    }

    /// A step recorded after the fact on `day` keeps the journal in order
    /// of days: refused before anything is written (in a dry run too).
    fn not_before_last(&self, day: Option<Date>, what: &str) -> Result<(), Status> {
        let key = |d: &Date| (d.year, d.month, d.day);
        match (day, self.e.last_step_date) {
            (Some(day), Some(last)) if key(&day) < key(&last) => {
                Err(Status::failed_precondition(format!(
                    "the sheet dates the {what} {}-{:02}-{:02}, before the last step of {} \
                     ({}-{:02}-{:02})",
                    day.year, day.month, day.day, self.e.name, last.year, last.month, last.day
                )))
            }
            _ => Ok(()),
        }
    }

    /// The plan, on the unit's behalf: acknowledged, submitted, approved.
    async fn plan(&mut self) -> Result<(), Status> {
        let (e, cells) = (self.e, self.cells);
        let planned = e.plan.is_some() || e.pending_plan.is_some();
        if !self.row.on_behalf || cells.measures.is_empty() || planned {
            return Ok(());
        }
        // Progress or an outcome dated in the past needs the plan dated
        // before it: the day of the hand-over, the entry's last step.
        let back_dated = cells
            .progress_date
            .or(cells.closed_date)
            .and(e.last_step_date);
        if e.state() == EntryState::HandedOver && self.step("acknowledged") {
            self.services
                .ledger()
                .acknowledge_hand_over(AcknowledgeHandOverRequest {
                    name: self.name(),
                    remarks: "整改台账导入（代为签收）".into(),
                    request_id: self.key("ack"),
                    effective_date: back_dated,
                    ..Default::default()
                })
                .await?;
        }
        if !self.step("plan submitted and approved") {
            return Ok(());
        }
        let due = cells.due.map(to_date);
        let owner = if cells.owner.is_empty() {
            e.responsibility.clone().unwrap_or_default().principal
        } else {
            cells.owner.clone()
        };
        let submitted = self
            .services
            .ledger()
            .submit_plan(SubmitPlanRequest {
                name: self.name(),
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
                request_id: self.key("plan"),
                effective_date: back_dated,
                ..Default::default()
            })
            .await?
            .into_inner();
        let version = submitted.pending_plan.map(|p| p.version).unwrap_or(1);
        self.services
            .ledger()
            .approve_plan(ApprovePlanRequest {
                name: self.name(),
                version,
                remarks: "整改台账导入（代为提交）".into(),
                request_id: self.key("approve"),
                effective_date: back_dated,
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// 完成情况: for the entry as a whole, or, when it says done, marking
    /// every measure of the plan done. A text the entry shows already is
    /// not posted again; an edited one is the next report.
    async fn progress(&mut self) -> Result<(), Status> {
        let cells = self.cells;
        let text = cells.progress.as_str();
        let shown = posted(
            self.e,
            |d| matches!(d, Detail::Progress(p) if p.description == text),
        );
        if text.is_empty() || shown {
            return Ok(());
        }
        if matches!(
            self.e.state(),
            EntryState::WrittenOff | EntryState::AwaitingVerification
        ) {
            return Err(Status::failed_precondition(format!(
                "{} is {}: its 完成情况 no longer changes (a look-back reopens it)",
                self.e.name,
                self.e.state().as_str_name()
            )));
        }
        let day = cells.progress_date.map(to_date);
        self.not_before_last(day, "完成情况")?;
        if !self.step("progress") {
            return Ok(());
        }
        // Read again: a plan may just have been approved.
        let current = self
            .services
            .ledger()
            .get_entry(GetEntryRequest { name: self.name() })
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
        // The text is in the key: an edited cell is a new request.
        let text_key = &fingerprint(&[text])[..16];
        for id in ids {
            self.services
                .ledger()
                .post_progress(PostProgressRequest {
                    name: self.name(),
                    measure_id: id.clone(),
                    description: text.to_owned(),
                    measure_done: !id.is_empty(),
                    request_id: self.key(&format!("progress-{text_key}-{id}")),
                    effective_date: day,
                    ..Default::default()
                })
                .await?;
        }
        Ok(())
    }

    /// 已销号: requested on the unit's behalf with the sheet as evidence,
    /// approved by the importing office, both on the 销号时间.
    async fn write_off(&mut self) -> Result<(), Status> {
        let (e, cells) = (self.e, self.cells);
        if posted(e, |d| matches!(d, Detail::WriteOffApproved(_))) {
            return Ok(());
        }
        let will_have_plan = e.plan.is_some()
            || (self.row.on_behalf && !cells.measures.is_empty() && e.pending_plan.is_none());
        if !will_have_plan {
            return Err(Status::failed_precondition(format!(
                "the sheet says {:?} but {} has no approved plan to write off: give the row's \
                 整改措施 and 整改时限",
                cells.status, e.name
            )));
        }
        let day = to_date(
            cells
                .closed_date
                .or(cells.progress_date)
                .unwrap_or_else(|| chrono::Utc::now().date_naive()),
        );
        self.not_before_last(Some(day), "write-off")?;
        let awaiting = e.state() == EntryState::AwaitingVerification;
        if !awaiting && self.step("write-off requested") {
            let statement = if cells.progress.is_empty() {
                &cells.status
            } else {
                &cells.progress
            };
            let unit = e
                .responsibility
                .clone()
                .unwrap_or_default()
                .responsible_unit;
            self.services
                .ledger()
                .request_write_off(RequestWriteOffRequest {
                    name: self.name(),
                    closure_statement: statement.clone(),
                    evidence: vec![self.evidence()],
                    request_id: self.key("write-off"),
                    effective_date: Some(day),
                    requested_by: unit,
                    ..Default::default()
                })
                .await?;
        }
        if self.step("write-off approved") {
            self.services
                .ledger()
                .approve_write_off(ApproveWriteOffRequest {
                    name: self.name(),
                    remarks: format!("整改台账导入：据台账销号（{}）", cells.status),
                    request_id: self.key("verify"),
                    effective_date: Some(day),
                    ..Default::default()
                })
                .await?;
        }
        Ok(())
    }

    /// The sheet as the write-off's evidence: file and row, the row's
    /// fingerprint as the hash.
    fn evidence(&self) -> Evidence {
        let file: String = self.row.file.chars().take(150).collect();
        Evidence {
            document: format!("{file} 第{}行", self.row.number),
            sha256: self.row.fingerprint.to_owned(),
        }
    }

    /// 已移交: transferred by the office to the 移交单位, else the entry's
    /// supervising body, due by 整改时限 (else the entry's due date).
    async fn transfer(&mut self) -> Result<(), Status> {
        let (e, cells) = (self.e, self.cells);
        if posted(e, |d| matches!(d, Detail::Transferred(_))) {
            return Ok(());
        }
        let body = match cells.receiving_body.as_str() {
            "" => {
                e.responsibility
                    .clone()
                    .unwrap_or_default()
                    .supervising_body
            }
            b => b.to_owned(),
        };
        if body.is_empty() {
            return Err(Status::failed_precondition(format!(
                "the sheet says {:?} but names no 移交单位, and {} has no supervising body",
                cells.status, e.name
            )));
        }
        let day = cells.closed_date.map(to_date);
        self.not_before_last(day, "transfer")?;
        if self.step("transferred") {
            self.services
                .ledger()
                .transfer(TransferRequest {
                    name: self.name(),
                    receiving_body: body,
                    matter: cells.status.clone(),
                    due_date: cells.due.map(to_date).or(e.due_date),
                    request_id: self.key("transfer"),
                    effective_date: day,
                    ..Default::default()
                })
                .await?;
        }
        Ok(())
    }

    /// 备注 as a remark, once.
    async fn remark(&mut self) -> Result<(), Status> {
        let remark = self.cells.remark.as_str();
        if remark.is_empty()
            || posted(
                self.e,
                |d| matches!(d, Detail::Supervision(s) if s.remarks == remark),
            )
        {
            return Ok(());
        }
        if self.step("remark") {
            let text_key = &fingerprint(&[remark])[..16];
            self.services
                .ledger()
                .post_supervision(PostSupervisionRequest {
                    name: self.name(),
                    remarks: remark.to_owned(),
                    request_id: self.key(&format!("remark-{text_key}")),
                    ..Default::default()
                })
                .await?;
        }
        Ok(())
    }
}

fn posted(e: &LedgerEntry, matches: impl Fn(&Detail) -> bool) -> bool {
    e.postings
        .iter()
        .any(|p| p.detail.as_ref().is_some_and(&matches))
}
