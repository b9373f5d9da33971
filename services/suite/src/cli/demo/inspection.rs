//! One target's inspection through its stages: briefed and stationed,
//! problems and clues found, reported and fed back (the ledger then opens
//! its entries), rectified, and for old rounds closed.

use chrono::{Days, NaiveDate};
use fiveledger_proto::rounds::{
    Briefing, CloseInspectionRequest, CreateInspectionRequest, DoubleFeedback, DoubleReportKind,
    FeedbackPart, GiveFeedbackRequest, Inspection, InspectionReportKind, LeaderInCharge,
    LeaderInChargeRole, LeadersInChargeNotice, NotifyLeadersInChargeRequest, RecordBriefingRequest,
    RecordDoubleReportRequest, ReportInspectionRequest, ReportRecord, StartRectificationRequest,
    StartStationingRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::calendar::date;
use super::entry::EntryContext;
use super::rounds::{GroupPlan, RoundPlan, TargetPlan};
use super::world::World;
use super::{Story, add, clues, ledger, look_back, problems, step};
use crate::cli::connect::{Services, failed};

/// One target's inspection from preparation to rectification, its
/// problems and clues, and the ledger steps of its entries. Every draw
/// comes from `seed`, in the story's order, so a seed loads one story.
pub(super) async fn inspect(
    story: &Story,
    round: &RoundPlan,
    round_name: &str,
    staffing: Staffing<'_>,
    target: &TargetPlan,
    seed: u64,
) -> anyhow::Result<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let cast = &story.cast;
    let office = &cast.office;
    let group = cast.group_leader(&staffing.group.leader)?;
    let name = create(story, round, round_name, &staffing, target).await?;
    let start = round.start + Days::new(rng.random_range(0..10));
    prepare(office, &group, &story.world, &name, start).await?;
    let found = problems::import(story, &group, &name, target, start, &mut rng).await?;
    clues::register(story, &group, &name, &target.clues, start, &mut rng).await?;
    let feedback = feed_back(office, &group, &name, start).await?;

    let ctx = EntryContext {
        story,
        unit: cast.unit(&story.world.path(&target.target))?,
        feedback,
    };
    ledger::drive_all(&ctx, &name, found, target, &mut rng).await?;
    // A look-back's campaign on the earlier inspection of its target.
    if let Some(earlier) = target.look_back_of.as_deref() {
        look_back::campaign(&ctx, earlier, &name, found, target.reopens, &mut rng).await?;
    }
    if round.closes {
        close(office, &name, feedback).await?;
    }
    Ok(name)
}

/// Who inspects a target: its group and, in a linked round, the group
/// of the target's own county that avoidance must refuse first.
pub(super) struct Staffing<'a> {
    pub group: &'a GroupPlan,
    pub avoided: Option<&'a GroupPlan>,
}

/// Creates the inspection, named after the target's place in the round.
/// Where a group of the target's own county is tried first, the rounds
/// service must refuse it (地域回避) before the right group takes it.
async fn create(
    story: &Story,
    round: &RoundPlan,
    round_name: &str,
    staffing: &Staffing<'_>,
    target: &TargetPlan,
) -> anyhow::Result<String> {
    let index = round
        .targets
        .iter()
        .position(|t| t.target == target.target)
        .unwrap_or_default();
    let request = |group: &str| CreateInspectionRequest {
        parent: round_name.to_owned(),
        inspection: Some(Inspection {
            target: format!("organisations/{}", target.target),
            group: group.to_owned(),
            look_back_of: target.look_back_of.clone().unwrap_or_default(),
            ..Default::default()
        }),
        inspection_id: format!("i{index}"),
        request_id: String::new(),
    };
    let office = &story.cast.office;
    if let Some(avoided) = staffing.avoided {
        match office
            .inspections()
            .create_inspection(request(&avoided.name))
            .await
        {
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                add(&story.tally.avoidance_refusals, 1);
            }
            Err(s) => return Err(failed("staffing against avoidance", s)),
            Ok(_) => anyhow::bail!(
                "{} inspected {} though its members come from the target's county: avoidance (地域回避) did not refuse",
                avoided.name,
                target.target
            ),
        }
    }
    let inspection = office
        .inspections()
        .create_inspection(request(&staffing.group.name))
        .await
        .map_err(step("creating the inspection"))?
        .into_inner();
    Ok(inspection.name)
}

/// 巡前: the discipline commission and the organisation department both
/// brief the group before it may be stationed (the office records it);
/// then the group's leader records its stationing.
async fn prepare(
    office: &Services,
    group: &Services,
    world: &World,
    name: &str,
    start: NaiveDate,
) -> anyhow::Result<()> {
    for (body, summary) in [
        (
            &world.commission,
            "通报被巡察党组织领导班子及其成员党风廉政情况",
        ),
        (
            &world.org_department,
            "通报被巡察党组织领导班子及其成员选人用人和干部队伍建设情况",
        ),
    ] {
        office
            .inspections()
            .record_briefing(RecordBriefingRequest {
                name: name.to_owned(),
                briefing: Some(Briefing {
                    organisation: body.clone(),
                    date: date(start - Days::new(3)),
                    summary: summary.into(),
                }),
                request_id: String::new(),
            })
            .await
            .map_err(step("recording the briefing"))?;
    }
    group
        .inspections()
        .start_stationing(StartStationingRequest {
            name: name.to_owned(),
            start_date: date(start),
            end_date: date(start + Days::new(30)),
            request_id: String::new(),
        })
        .await
        .map_err(step("stationing the group"))?;
    Ok(())
}

/// The group's reports, then the office's notice, feedback and the start
/// of rectification (the list is frozen, the ledger opens and hands over).
/// Returns the day of the feedback.
async fn feed_back(
    office: &Services,
    group: &Services,
    name: &str,
    start: NaiveDate,
) -> anyhow::Result<NaiveDate> {
    for (kind, days, summary) in [
        (InspectionReportKind::MidTerm, 15, "中期汇报"),
        (InspectionReportKind::Comprehensive, 35, "综合汇报"),
    ] {
        group
            .inspections()
            .report_inspection(ReportInspectionRequest {
                name: name.to_owned(),
                kind: kind as i32,
                report: Some(ReportRecord {
                    date: date(start + Days::new(days)),
                    summary: summary.into(),
                }),
                request_id: String::new(),
            })
            .await
            .map_err(step("reporting the inspection"))?;
    }
    let feedback = start + Days::new(45);
    let part = |recipient: &str| FeedbackPart {
        date: date(feedback),
        given_by: "巡察组组长".into(),
        recipient: recipient.into(),
    };
    // Before feedback, the party and government leaders in charge of the
    // unit are told what was found (分管领导通报).
    let leader = |role: LeaderInChargeRole, name: &str| LeaderInCharge {
        role: role as i32,
        display_name: name.into(),
        post: String::new(),
    };
    office
        .inspections()
        .notify_leaders_in_charge(NotifyLeadersInChargeRequest {
            name: name.to_owned(),
            notice: Some(LeadersInChargeNotice {
                date: date(feedback),
                leaders: vec![
                    leader(LeaderInChargeRole::Party, "分管市委常委"),
                    leader(LeaderInChargeRole::Government, "分管副市长"),
                ],
                summary: "巡察发现的主要问题".into(),
            }),
            request_id: String::new(),
        })
        .await
        .map_err(step("notifying the leaders in charge"))?;
    office
        .inspections()
        .give_feedback(GiveFeedbackRequest {
            name: name.to_owned(),
            feedback: Some(DoubleFeedback {
                individual: Some(part("主要负责人")),
                public: Some(part("领导班子")),
            }),
            request_id: String::new(),
            functional_hand_offs: Vec::new(),
        })
        .await
        .map_err(step("giving feedback"))?;
    office
        .inspections()
        .start_rectification(StartRectificationRequest {
            name: name.to_owned(),
            start_date: date(feedback),
            request_id: String::new(),
        })
        .await
        .map_err(step("starting rectification"))?;
    Ok(feedback)
}

/// An old round's inspection: both double reports in, then closed.
async fn close(office: &Services, name: &str, feedback: NaiveDate) -> anyhow::Result<()> {
    for (kind, days) in [
        (DoubleReportKind::Team, 50),
        (DoubleReportKind::Principal, 52),
    ] {
        office
            .inspections()
            .record_double_report(RecordDoubleReportRequest {
                name: name.to_owned(),
                kind: kind as i32,
                report: Some(ReportRecord {
                    date: date(feedback + Days::new(days)),
                    summary: "整改情况报告".into(),
                }),
                request_id: String::new(),
            })
            .await
            .map_err(step("recording the double report"))?;
    }
    office
        .inspections()
        .close_inspection(CloseInspectionRequest {
            name: name.to_owned(),
            close_date: date(feedback + Days::new(90)),
            note: "整改基本完成，转入日常监督".into(),
            request_id: String::new(),
        })
        .await
        .map_err(step("closing the inspection"))?;
    Ok(())
}
