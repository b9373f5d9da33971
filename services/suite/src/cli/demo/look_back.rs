//! A look-back inspection's campaign (整改"回头看") on the earlier
//! inspection of its target: the office asks the unit for its self-check
//! report on that rectification, the unit submits it (the ledger compiles
//! its 整改台账) and the office accepts it; the office spot-checks a
//! written-off entry on the day it did. Where the rectification was on
//! paper only the check fails and reopens the entry: it goes on the key
//! problem list, and the unit plans and rectifies it anew until the
//! verifier writes it off again, with what it recovered the first time (so
//! the city's figures stay the source's). The office leaves the unit a
//! supervision suggestion on the look-back, which the unit answers.

use chrono::Days;
use fiveledger_proto::ledgers::{
    AcceptSelfCheckReportRequest, CreateKeyProblemRequest, CreateSpotCheckRequest,
    CreateSupervisionSuggestionRequest, GetEntryRequest, KeyProblem,
    ReplyToSupervisionSuggestionRequest, RequestSelfCheckReportRequest, SelfCheckReport, SpotCheck,
    SpotCheckResult, SubmitSelfCheckReportRequest, SupervisionSuggestion,
};
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::{StepDays, date};
use super::entry::EntryContext;
use super::{add, ledger, step};

/// The campaign of the look-back inspection `inspection` (which found
/// `found` problems) on the `earlier` inspection of the same unit;
/// `reopens` when its spot check fails.
pub(super) async fn campaign(
    ctx: &EntryContext<'_>,
    earlier: &str,
    inspection: &str,
    found: usize,
    reopens: bool,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let (story, office) = (ctx.story, ctx.story.cast.office.look_back());
    let tally = &story.tally;
    let written_off = ledger::written_off(&story.cast, earlier).await?;
    if written_off.is_empty() {
        // Nothing of it was rectified: nothing to report on or check.
        return Ok(());
    }
    self_check(ctx, earlier).await?;
    add(&tally.self_check_reports, 1);

    // The spot check, days after the look-back's feedback (and after the
    // entry's last step), recorded on its day.
    let entry = &written_off[0];
    let since = entry
        .last_step_date
        .as_ref()
        .and_then(|d| fiveledger_platform::time::from_date("last", d).ok())
        .map_or(ctx.feedback, |d| d.max(ctx.feedback));
    let days = &mut StepDays::from(since, story.today);
    let checked = days.after(rng, 5..=20);
    let due = checked + Days::new(rng.random_range(30..90));
    let check = office
        .clone()
        .create_spot_check(CreateSpotCheckRequest {
            spot_check: Some(SpotCheck {
                entry: entry.name.clone(),
                look_back: inspection.to_owned(),
                result: if reopens {
                    SpotCheckResult::Failed
                } else {
                    SpotCheckResult::Passed
                } as i32,
                findings: if reopens {
                    "回头看抽查发现整改不到位，存在文字整改".into()
                } else {
                    "回头看抽查整改到位，制度已落实".into()
                },
                due_date: if reopens { date(due) } else { None },
                effective_date: date(checked),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map_err(step("spot-checking an entry"))?
        .into_inner();
    add(&tally.spot_checks, 1);
    if reopens {
        add(&tally.reopened, 1);
        office
            .clone()
            .create_key_problem(CreateKeyProblemRequest {
                key_problem: Some(KeyProblem {
                    entry: check.entry.clone(),
                    note: "回头看抽查未通过，列入重点问题清单跟踪督办".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .map_err(step("listing a key problem"))?;
        add(&tally.key_problems, 1);
        let recovered = entry
            .write_off
            .as_ref()
            .and_then(|w| w.figures)
            .unwrap_or_default();
        let reopened = story
            .cast
            .office
            .ledger()
            .get_entry(GetEntryRequest {
                name: check.entry.clone(),
            })
            .await
            .map_err(step("reading a reopened entry"))?
            .into_inner();
        let written_off = checked + Days::new(rng.random_range(20..60));
        let e = ctx.plan(&reopened, written_off, days, rng).await?;
        ctx.write_off(&e, recovered, written_off, days, rng).await?;
    }

    // A supervision suggestion on the look-back, answered by the unit.
    if found > 0 {
        let suggestion = office
            .clone()
            .create_supervision_suggestion(CreateSupervisionSuggestionRequest {
                supervision_suggestion: Some(SupervisionSuggestion {
                    inspection: inspection.to_owned(),
                    suggestion: "建立整改长效机制，防止问题反弹回潮".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .map_err(step("making a supervision suggestion"))?
            .into_inner();
        ctx.unit
            .look_back()
            .reply_to_supervision_suggestion(ReplyToSupervisionSuggestionRequest {
                name: suggestion.name,
                reply: "已制定长效机制并报巡察办备案".into(),
                ..Default::default()
            })
            .await
            .map_err(step("replying to a supervision suggestion"))?;
        add(&tally.suggestions, 1);
    }
    Ok(())
}

/// The unit's self-check report on its rectification of `earlier`: asked
/// by the office, submitted by the unit, accepted by the office.
async fn self_check(ctx: &EntryContext<'_>, earlier: &str) -> anyhow::Result<()> {
    let office = ctx.story.cast.office.look_back();
    let report = office
        .clone()
        .request_self_check_report(RequestSelfCheckReportRequest {
            self_check_report: Some(SelfCheckReport {
                inspection: earlier.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map_err(step("asking for a self-check report"))?
        .into_inner();
    ctx.unit
        .look_back()
        .submit_self_check_report(SubmitSelfCheckReportRequest {
            name: report.name.clone(),
            summary: "对照巡察反馈问题逐项自查，整改台账附后".into(),
            ..Default::default()
        })
        .await
        .map_err(step("submitting a self-check report"))?;
    office
        .clone()
        .accept_self_check_report(AcceptSelfCheckReportRequest {
            name: report.name,
            ..Default::default()
        })
        .await
        .map_err(step("accepting a self-check report"))?;
    Ok(())
}
