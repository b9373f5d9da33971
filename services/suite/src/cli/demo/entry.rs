//! One ledger entry's story after the hand-over: acknowledged, perhaps
//! transferred to a supervising body, planned, and either written off or
//! left open with a due date that gives it the colour people see.

use chrono::{Days, NaiveDate};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::{
    AcknowledgeHandOverRequest, AcknowledgeTransferRequest, ApprovePlanRequest,
    ApproveWriteOffRequest, LedgerEntry, Measure, MeasureKind, PostProgressRequest,
    RectificationFigures, RectificationPlan, RejectWriteOffRequest, RequestWriteOffRequest,
    ReturnTransferResultRequest, SubmitPlanRequest, TransferRequest,
};
use fiveledger_proto::types::Evidence;
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::{Calendar, date, date_of};
use super::{Story, add};
use crate::cli::connect::failed;

/// What the entries of one inspection share.
pub(super) struct EntryContext<'a> {
    pub story: &'a Story,
    /// The day of the feedback: the entries' story starts there.
    pub feedback: NaiveDate,
    /// Share of the entries still open today.
    pub open_share: f64,
}

/// Evidence of a demo document: its name and the SHA-256 of its (made-up)
/// content.
fn evidence(what: &str, entry: &str) -> Evidence {
    use sha2::{Digest, Sha256};
    Evidence {
        document: format!("{what}.pdf"),
        sha256: hex::encode(Sha256::digest(format!("{what}:{entry}").as_bytes())),
    }
}

impl EntryContext<'_> {
    /// Takes one handed-over entry through the steps its fate calls for,
    /// each dated the day it happened.
    pub async fn drive(&self, entry: &LedgerEntry, mut rng: StdRng) -> anyhow::Result<()> {
        let rng = &mut rng;
        let today = self.story.today;
        let mut days = Calendar::new(self.feedback, today);
        let e = self
            .story
            .cast
            .unit
            .ledger()
            .acknowledge_hand_over(AcknowledgeHandOverRequest {
                name: entry.name.clone(),
                remarks: "已签收，立即组织整改".into(),
                effective_date: days.after(rng.random_range(1..4)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("acknowledging the hand-over", s))?
            .into_inner();
        // Some items go to a supervising body first (移交转账).
        if rng.random_bool(0.08) {
            self.transfer(&e, &mut days, rng).await?;
        }
        let original_due = date_of(e.original_due_date.as_ref()).unwrap_or(self.feedback);
        if !rng.random_bool(self.open_share) {
            // Plans fall due before the hand-over's deadline.
            let slack = (original_due - self.feedback).num_days().max(14) as u64;
            let due = self.feedback + Days::new(rng.random_range(slack / 2..slack));
            let e = self.plan(&e, due, &mut days, rng).await?;
            // About one in twenty is written off late: with the open
            // entries already overdue that lands near the source's 91 % on
            // time.
            let approved = if rng.random_bool(0.055) {
                original_due + Days::new(rng.random_range(5..60))
            } else {
                due.min(original_due) - Days::new(rng.random_range(0..5))
            };
            return self.write_off(&e, approved, &mut days, rng).await;
        }
        let e = self.plan(&e, open_due(today, rng), &mut days, rng).await?;
        let measures = e
            .plan
            .as_ref()
            .map(|p| p.measures.clone())
            .unwrap_or_default();
        if let Some(m) = measures.first()
            && measures.len() > 1
        {
            let done = days.after(rng.random_range(5..20));
            self.progress(&e, &m.id, done).await?;
        }
        Ok(())
    }

    /// Submits a plan of one or two measures due by `due` and approves it.
    pub async fn plan(
        &self,
        e: &LedgerEntry,
        due: NaiveDate,
        days: &mut Calendar,
        rng: &mut StdRng,
    ) -> anyhow::Result<LedgerEntry> {
        let count = rng.random_range(1..=2);
        let measures = (0..count)
            .map(|i| Measure {
                id: format!("m{}", i + 1),
                kind: if i == 0 {
                    MeasureKind::Corrective
                } else {
                    MeasureKind::InstitutionBuilding
                } as i32,
                description: if i == 0 {
                    "逐项整改问题，追缴违规资金"
                } else {
                    "建立健全相关制度，堵塞漏洞"
                }
                .into(),
                owner: "办公室".into(),
                due_date: date(if i + 1 == count {
                    due
                } else {
                    due - Days::new(7)
                }),
                ..Default::default()
            })
            .collect();
        let planned = self
            .story
            .cast
            .unit
            .ledger()
            .submit_plan(SubmitPlanRequest {
                name: e.name.clone(),
                plan: Some(RectificationPlan {
                    summary: "制定整改方案，明确责任和时限".into(),
                    measures,
                    ..Default::default()
                }),
                effective_date: days.after(rng.random_range(3..10)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("submitting the plan", s))?
            .into_inner();
        let version = planned
            .pending_plan
            .as_ref()
            .map(|p| p.version)
            .unwrap_or(1);
        Ok(self
            .story
            .cast
            .office
            .ledger()
            .approve_plan(ApprovePlanRequest {
                name: e.name.clone(),
                version,
                remarks: "同意".into(),
                effective_date: days.after(rng.random_range(1..4)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("approving the plan", s))?
            .into_inner())
    }

    /// Marks `measure` done, with evidence.
    async fn progress(
        &self,
        e: &LedgerEntry,
        measure: &str,
        effective_date: Option<Date>,
    ) -> anyhow::Result<LedgerEntry> {
        Ok(self
            .story
            .cast
            .unit
            .ledger()
            .post_progress(PostProgressRequest {
                name: e.name.clone(),
                measure_id: measure.to_owned(),
                description: "已完成该项整改措施".into(),
                evidence: vec![evidence("整改佐证材料", &format!("{}:{measure}", e.name))],
                measure_done: true,
                effective_date,
                ..Default::default()
            })
            .await
            .map_err(|s| failed("posting progress", s))?
            .into_inner())
    }

    /// Transfers the entry to the body that supervises its category, which
    /// acknowledges it and returns a result.
    async fn transfer(
        &self,
        e: &LedgerEntry,
        days: &mut Calendar,
        rng: &mut StdRng,
    ) -> anyhow::Result<()> {
        let (world, cast) = (&self.story.world, &self.story.cast);
        let body = if e.category == "personnel-selection"
            || e.category == "weak-grassroots-organisations"
        {
            &world.org_department
        } else if e.category == "ideology" {
            &world.propaganda
        } else {
            &world.commission
        };
        cast.office
            .ledger()
            .transfer(TransferRequest {
                name: e.name.clone(),
                receiving_body: body.clone(),
                matter: "移交问题线索及相关材料，请依规依纪处理".into(),
                due_date: date(self.feedback + Days::new(rng.random_range(30..60))),
                effective_date: days.after(rng.random_range(1..5)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("transferring", s))?;
        cast.commission
            .ledger()
            .acknowledge_transfer(AcknowledgeTransferRequest {
                name: e.name.clone(),
                remarks: "已接收".into(),
                effective_date: days.after(rng.random_range(1..3)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("acknowledging the transfer", s))?;
        cast.commission
            .ledger()
            .return_transfer_result(ReturnTransferResultRequest {
                name: e.name.clone(),
                result: ["已立案审查", "给予党内警告处分", "谈话提醒", "予以了结"]
                    [rng.random_range(0..4)]
                .into(),
                effective_date: days.after(rng.random_range(5..20)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("returning the transfer's result", s))?;
        add(&self.story.tally.transfers, 1);
        Ok(())
    }

    /// Completes every measure and writes the entry off, approved on
    /// `approved` (or the last step's day, if later).
    async fn write_off(
        &self,
        e: &LedgerEntry,
        approved: NaiveDate,
        days: &mut Calendar,
        rng: &mut StdRng,
    ) -> anyhow::Result<()> {
        let measures = e
            .plan
            .as_ref()
            .map(|p| p.measures.clone())
            .unwrap_or_default();
        let requested = approved - Days::new(rng.random_range(2..6));
        for m in &measures {
            let done = days.at(requested - Days::new(rng.random_range(1..10)));
            self.progress(e, &m.id, done).await?;
        }
        let request = RequestWriteOffRequest {
            name: e.name.clone(),
            closure_statement: "问题已整改到位，申请销号".into(),
            evidence: vec![evidence("销号申请及佐证", &e.name)],
            figures: Some(figures(rng)),
            ..Default::default()
        };
        let (unit, verifier) = (&self.story.cast.unit, &self.story.cast.verifier);
        let ask = |request: RequestWriteOffRequest, day: Option<Date>| async move {
            unit.ledger()
                .request_write_off(RequestWriteOffRequest {
                    effective_date: day,
                    ..request
                })
                .await
                .map_err(|s| failed("requesting the write-off", s))
        };
        ask(request.clone(), days.at(requested)).await?;
        // A few first requests fall short and are sent back.
        if rng.random_bool(0.03) {
            verifier
                .ledger()
                .reject_write_off(RejectWriteOffRequest {
                    name: e.name.clone(),
                    reason: "佐证材料不充分，请补充".into(),
                    effective_date: days.after(1),
                    ..Default::default()
                })
                .await
                .map_err(|s| failed("rejecting the write-off", s))?;
            ask(request, days.after(1)).await?;
        }
        verifier
            .ledger()
            .approve_write_off(ApproveWriteOffRequest {
                name: e.name.clone(),
                remarks: "经核查，整改到位，同意销号".into(),
                effective_date: days.at(approved),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("approving the write-off", s))?;
        add(&self.story.tally.write_offs, 1);
        Ok(())
    }
}

/// The due date of an entry still open today: it sets the colour people
/// see, in the proportions the source reports (2,788 / 111 / 102 / 187).
fn open_due(today: NaiveDate, rng: &mut StdRng) -> NaiveDate {
    let roll = rng.random_range(0..3188);
    if roll < 2788 {
        today + Days::new(rng.random_range(10..150))
    } else if roll < 2788 + 111 {
        today + Days::new(rng.random_range(1..6))
    } else if roll < 2788 + 111 + 102 {
        today - Days::new(rng.random_range(1..25))
    } else {
        today - Days::new(rng.random_range(35..120))
    }
}

/// What a write-off recovered: about 93.1 M yuan over 4,374 write-offs,
/// most items recovering nothing.
fn figures(rng: &mut StdRng) -> RectificationFigures {
    let funds = if rng.random_bool(0.2) {
        rng.random_range(1_000_000..20_000_000i64)
    } else {
        0
    };
    let losses = if rng.random_bool(0.1) {
        rng.random_range(500_000..10_000_000i64)
    } else {
        0
    };
    RectificationFigures {
        funds_recovered_fen: funds,
        losses_recovered_fen: losses,
        people_held_accountable: i32::from(rng.random_bool(0.08)),
        people_disciplined: i32::from(rng.random_bool(0.06)),
        rules_established: rng.random_range(0..=1),
    }
}
