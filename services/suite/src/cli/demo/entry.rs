//! One ledger entry's story after the hand-over: acknowledged, perhaps
//! transferred to a supervising body, planned, and either written off or
//! left open with a due date that gives it the colour people see.

use chrono::{Days, NaiveDate};
use fiveledger_proto::ledgers::{
    AcknowledgeHandOverRequest, AcknowledgeTransferRequest, ApprovePlanRequest,
    ApproveWriteOffRequest, LedgerEntry, Measure, MeasureKind, PostProgressRequest,
    RectificationFigures, RectificationPlan, RejectWriteOffRequest, RequestWriteOffRequest,
    ReturnTransferResultRequest, SubmitPlanRequest, TransferRequest,
};
use fiveledger_proto::types::Evidence;
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::{StepDays, date};
use super::{Story, add};
use crate::cli::connect::{Services, failed};

/// What the entries of one inspection share.
pub(super) struct EntryContext<'a> {
    pub story: &'a Story,
    /// The inspected unit, signing its own steps.
    pub unit: Services,
    /// The inspection's feedback day: its entries are handed over on it.
    pub feedback: NaiveDate,
}

/// What becomes of one entry: still open today, or written off with what
/// its rectification recovered (funds and losses together, in fen), by its
/// original due date (on time) or after it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fate {
    Open,
    WrittenOff { recovered_fen: i64, on_time: bool },
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
    /// each signed by who takes it and dated on its day of the story
    /// (recorded after the fact, `effective_date`): acknowledged within
    /// days of the feedback, planned within a fortnight, written off by the
    /// original due date or, for a late one, after it.
    pub async fn drive(
        &self,
        entry: &LedgerEntry,
        fate: Fate,
        mut rng: StdRng,
    ) -> anyhow::Result<()> {
        let rng = &mut rng;
        let today = self.story.today;
        let days = &mut StepDays::from(self.feedback, today);
        let acknowledged = days.after(rng, 1..=3);
        let e = self
            .unit
            .ledger()
            .acknowledge_hand_over(AcknowledgeHandOverRequest {
                name: entry.name.clone(),
                remarks: "已签收，立即组织整改".into(),
                effective_date: date(acknowledged),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("acknowledging the hand-over", s))?
            .into_inner();
        // Some items go to a supervising body first (移交转账).
        if rng.random_bool(0.08) {
            self.transfer(&e, days, rng).await?;
        }
        if let Fate::WrittenOff {
            recovered_fen,
            on_time,
        } = fate
        {
            let original_due = e
                .original_due_date
                .as_ref()
                .and_then(|d| fiveledger_platform::time::from_date("due", d).ok())
                .unwrap_or(self.feedback + Days::new(60));
            let written_off = if on_time {
                // By the original due date, and after the plan's steps
                // (at most six days) and the request (a day before).
                let earliest = days.last() + Days::new(8);
                if earliest >= original_due {
                    earliest
                } else {
                    let spare = (original_due - earliest).num_days().unsigned_abs();
                    earliest + Days::new(rng.random_range(0..=spare))
                }
            } else {
                original_due + Days::new(rng.random_range(1..=40))
            };
            let e = self.plan(&e, written_off, days, rng).await?;
            return self
                .write_off(&e, figures(recovered_fen, rng), written_off, days, rng)
                .await;
        }
        let e = self.plan(&e, open_due(today, rng), days, rng).await?;
        let measures = e
            .plan
            .as_ref()
            .map(|p| p.measures.clone())
            .unwrap_or_default();
        if let Some(m) = measures.first()
            && measures.len() > 1
        {
            let done = days.after(rng, 5..=20);
            self.progress(&e, &m.id, done).await?;
        }
        Ok(())
    }

    /// The unit submits a plan of one or two measures due by `due` a few
    /// days after the last step; the office approves it a day or two later.
    pub async fn plan(
        &self,
        e: &LedgerEntry,
        due: NaiveDate,
        days: &mut StepDays,
        rng: &mut StdRng,
    ) -> anyhow::Result<LedgerEntry> {
        let submitted = days.after(rng, 1..=4);
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
            .unit
            .ledger()
            .submit_plan(SubmitPlanRequest {
                name: e.name.clone(),
                plan: Some(RectificationPlan {
                    summary: "制定整改方案，明确责任和时限".into(),
                    measures,
                    ..Default::default()
                }),
                effective_date: date(submitted),
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
        let approved = days.after(rng, 1..=2);
        Ok(self
            .story
            .cast
            .office
            .ledger()
            .approve_plan(ApprovePlanRequest {
                name: e.name.clone(),
                version,
                remarks: "同意".into(),
                effective_date: date(approved),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("approving the plan", s))?
            .into_inner())
    }

    /// The unit marks `measure` done on `day`, with evidence.
    async fn progress(
        &self,
        e: &LedgerEntry,
        measure: &str,
        day: NaiveDate,
    ) -> anyhow::Result<LedgerEntry> {
        Ok(self
            .unit
            .ledger()
            .post_progress(PostProgressRequest {
                name: e.name.clone(),
                measure_id: measure.to_owned(),
                description: "已完成该项整改措施".into(),
                evidence: vec![evidence("整改佐证材料", &format!("{}:{measure}", e.name))],
                measure_done: true,
                effective_date: date(day),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("posting progress", s))?
            .into_inner())
    }

    /// The office transfers the entry to the body that supervises its
    /// category, which acknowledges it and returns a result, each on its
    /// day.
    async fn transfer(
        &self,
        e: &LedgerEntry,
        days: &mut StepDays,
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
        let transferred = days.after(rng, 1..=3);
        cast.office
            .ledger()
            .transfer(TransferRequest {
                name: e.name.clone(),
                receiving_body: body.clone(),
                matter: "移交问题线索及相关材料，请依规依纪处理".into(),
                due_date: date(transferred + Days::new(rng.random_range(30..60))),
                effective_date: date(transferred),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("transferring", s))?;
        let receiver = cast.receiver(world, body);
        receiver
            .ledger()
            .acknowledge_transfer(AcknowledgeTransferRequest {
                name: e.name.clone(),
                remarks: "已接收".into(),
                effective_date: date(days.after(rng, 1..=2)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("acknowledging the transfer", s))?;
        receiver
            .ledger()
            .return_transfer_result(ReturnTransferResultRequest {
                name: e.name.clone(),
                result: ["已立案审查", "给予党内警告处分", "谈话提醒", "予以了结"]
                    [rng.random_range(0..4)]
                .into(),
                effective_date: date(days.after(rng, 2..=8)),
                ..Default::default()
            })
            .await
            .map_err(|s| failed("returning the transfer's result", s))?;
        add(&self.story.tally.transfers, 1);
        Ok(())
    }

    /// The unit completes every measure and asks for the write-off with
    /// what the rectification recovered, the day before `day`; the office's
    /// verifier approves it on `day` (a few first requests fall short and
    /// are sent back).
    pub async fn write_off(
        &self,
        e: &LedgerEntry,
        figures: RectificationFigures,
        day: NaiveDate,
        days: &mut StepDays,
        rng: &mut StdRng,
    ) -> anyhow::Result<()> {
        let asked = days.on(day - Days::new(1));
        let measures = e
            .plan
            .as_ref()
            .map(|p| p.measures.clone())
            .unwrap_or_default();
        for m in &measures {
            self.progress(e, &m.id, asked).await?;
        }
        let request = RequestWriteOffRequest {
            name: e.name.clone(),
            closure_statement: "问题已整改到位，申请销号".into(),
            evidence: vec![evidence("销号申请及佐证", &e.name)],
            figures: Some(figures),
            effective_date: date(asked),
            ..Default::default()
        };
        let (unit, verifier) = (&self.unit, &self.story.cast.verifier);
        let ask = |request: RequestWriteOffRequest| async move {
            unit.ledger()
                .request_write_off(request)
                .await
                .map_err(|s| failed("requesting the write-off", s))
        };
        ask(request.clone()).await?;
        if rng.random_bool(0.03) {
            verifier
                .ledger()
                .reject_write_off(RejectWriteOffRequest {
                    name: e.name.clone(),
                    reason: "佐证材料不充分，请补充".into(),
                    effective_date: date(asked),
                    ..Default::default()
                })
                .await
                .map_err(|s| failed("rejecting the write-off", s))?;
            ask(request).await?;
        }
        verifier
            .ledger()
            .approve_write_off(ApproveWriteOffRequest {
                name: e.name.clone(),
                remarks: "经核查，整改到位，同意销号".into(),
                effective_date: date(days.on(day)),
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

/// What a write-off recovered: `recovered_fen` (the plan's share of the
/// source's 93.1 M yuan) split between funds returned and losses recovered.
/// People disciplined or handled are counted where the source counts them,
/// on the clues' outcomes, not here.
fn figures(recovered_fen: i64, rng: &mut StdRng) -> RectificationFigures {
    let funds = if recovered_fen > 0 {
        rng.random_range(0..=recovered_fen)
    } else {
        0
    };
    RectificationFigures {
        funds_recovered_fen: funds,
        losses_recovered_fen: recovered_fen - funds,
        people_held_accountable: 0,
        people_disciplined: 0,
        rules_established: rng.random_range(0..=1),
    }
}
