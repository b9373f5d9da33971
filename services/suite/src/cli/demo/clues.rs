//! Clues about cadres the group passes to the discipline commission, which
//! disposes of them and records their outcomes as the plan deals them: the
//! source's 1,331 clues and 268 people disciplined or handled
//! organisationally (`figures`).

use chrono::{Days, NaiveDate};
use fiveledger_proto::issues::{
    Clue, ClueDecisionLevel, ClueDisposal, ClueOutcome, ClueOutcomeKind, ClueState,
    CreateClueRequest, DisposalMethod, DisposeClueRequest, RecordClueOutcomeRequest,
};
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::date;
use super::people::person;
use super::rounds::ClueFate;
use super::{Story, add, step};
use crate::cli::connect::Services;

/// Registers the inspection's clues (the group's leader), which the
/// commission disposes of and concludes as each clue's fate says.
pub(super) async fn register(
    story: &Story,
    group: &Services,
    inspection: &str,
    fates: &[ClueFate],
    start: NaiveDate,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    for &fate in fates {
        let clue = create(story, group, inspection, rng).await?;
        if fate == ClueFate::Pending {
            continue;
        }
        let day = (start + Days::new(rng.random_range(40..90))).min(story.today);
        dispose(story, &clue, fate, day, rng).await?;
        let kind = match fate {
            ClueFate::Disciplined => ClueOutcomeKind::Disciplined,
            ClueFate::OrganisationalHandling => ClueOutcomeKind::OrganisationalHandling,
            ClueFate::Cleared => ClueOutcomeKind::Cleared,
            ClueFate::Pending | ClueFate::Disposed => continue,
        };
        conclude(story, &clue, kind, day, rng).await?;
    }
    Ok(())
}

/// Registers a clue; returns its name.
async fn create(
    story: &Story,
    group: &Services,
    inspection: &str,
    rng: &mut StdRng,
) -> anyhow::Result<String> {
    let clue = group
        .clues()
        .create_clue(CreateClueRequest {
            clue: Some(Clue {
                inspection: inspection.to_owned(),
                subject_name: person(rng),
                subject_post: ["副局长", "科长", "村党支部书记", "镇党委委员"]
                    [rng.random_range(0..4)]
                .into(),
                summary: "反映其违规插手工程项目".into(),
                source: "个别谈话".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .map_err(step("registering a clue"))?
        .into_inner();
    add(&story.tally.clues, 1);
    Ok(clue.name)
}

/// The commission disposes of a clue: a clue that ends in discipline or
/// organisational handling is verified first (初步核实). No one decides
/// alone (三级集体研判, "任何个人不得擅自决策"): the handling room, the
/// leader in charge and the supervision meeting each sign, three people,
/// and the disposal takes effect with the signature that completes the
/// decision the suite is configured for (by default the third).
async fn dispose(
    story: &Story,
    clue: &str,
    fate: ClueFate,
    day: NaiveDate,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let method = match fate {
        ClueFate::Disciplined | ClueFate::OrganisationalHandling => {
            DisposalMethod::PreliminaryVerification
        }
        _ => [
            DisposalMethod::TalkOrLetter,
            DisposalMethod::PreliminaryVerification,
            DisposalMethod::Hold,
            DisposalMethod::Conclude,
        ][rng.random_range(0..4)],
    };
    let cast = &story.cast;
    for (signer, level, note) in [
        (
            &cast.commission,
            ClueDecisionLevel::HandlingRoom,
            "承办室室务会集体研究",
        ),
        (
            &cast.leader_in_charge,
            ClueDecisionLevel::LeaderInCharge,
            "分管领导召集研究",
        ),
        (
            &cast.supervision_meeting,
            ClueDecisionLevel::SupervisionMeeting,
            "执纪监督专题会议集体研判",
        ),
    ] {
        let signed = signer
            .clues()
            .dispose_clue(DisposeClueRequest {
                name: clue.to_owned(),
                disposal: Some(ClueDisposal {
                    method: method as i32,
                    date: date(day),
                    note: format!("{note}，按规定处置"),
                    ..Default::default()
                }),
                level: level as i32,
                ..Default::default()
            })
            .await
            .map_err(step("signing a clue's disposal"))?
            .into_inner();
        if signed.state() == ClueState::Disposed {
            add(&story.tally.clues_disposed, 1);
            return Ok(());
        }
    }
    anyhow::bail!("{clue}: three signatures did not dispose of it (clue_disposal_signers above 3?)")
}

/// Records the outcome of a clue disposed of on `disposed`.
async fn conclude(
    story: &Story,
    clue: &str,
    kind: ClueOutcomeKind,
    disposed: NaiveDate,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    story
        .cast
        .commission
        .clues()
        .record_clue_outcome(RecordClueOutcomeRequest {
            name: clue.to_owned(),
            outcome: Some(ClueOutcome {
                kind: kind as i32,
                date: date((disposed + Days::new(rng.random_range(10..60))).min(story.today)),
                note: "办理完毕".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map_err(step("recording a clue's outcome"))?;
    add(&story.tally.clues_concluded, 1);
    Ok(())
}
