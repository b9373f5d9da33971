//! Clues about cadres the group passes to the discipline commission, which
//! disposes of about one in five and concludes most of those (the source's
//! 1,331 / 282 / 235).

use chrono::{Days, NaiveDate};
use fiveledger_proto::issues::{
    Clue, ClueDisposal, ClueOutcome, ClueOutcomeKind, CreateClueRequest, DisposalMethod,
    DisposeClueRequest, RecordClueOutcomeRequest,
};
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::date;
use super::people::person;
use super::{Story, add, step};

/// Registers one to four clues of the inspection, each perhaps disposed of
/// and concluded.
pub(super) async fn register(
    story: &Story,
    inspection: &str,
    start: NaiveDate,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let clues = rng.random_range(1..=4);
    for _ in 0..clues {
        let clue = create(story, inspection, rng).await?;
        if rng.random_bool(282.0 / 1331.0) {
            let day = start + Days::new(rng.random_range(40..90));
            dispose(story, &clue, day, rng).await?;
            if rng.random_bool(235.0 / 282.0) {
                conclude(story, &clue, day, rng).await?;
            }
        }
    }
    Ok(())
}

/// Registers a clue; returns its name.
async fn create(story: &Story, inspection: &str, rng: &mut StdRng) -> anyhow::Result<String> {
    let clue = story
        .cast
        .office
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

async fn dispose(
    story: &Story,
    clue: &str,
    day: NaiveDate,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let method = [
        DisposalMethod::TalkOrLetter,
        DisposalMethod::PreliminaryVerification,
        DisposalMethod::Hold,
        DisposalMethod::Conclude,
    ][rng.random_range(0..4)];
    story
        .cast
        .commission
        .clues()
        .dispose_clue(DisposeClueRequest {
            name: clue.to_owned(),
            disposal: Some(ClueDisposal {
                method: method as i32,
                date: date(day),
                note: "经研究，按规定处置".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map_err(step("disposing of a clue"))?;
    add(&story.tally.clues_disposed, 1);
    Ok(())
}

/// Records the outcome of a clue disposed of on `disposed`.
async fn conclude(
    story: &Story,
    clue: &str,
    disposed: NaiveDate,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let kind = [
        ClueOutcomeKind::CaseFiled,
        ClueOutcomeKind::Disciplined,
        ClueOutcomeKind::OrganisationalHandling,
        ClueOutcomeKind::Cleared,
    ][rng.random_range(0..4)];
    story
        .cast
        .commission
        .clues()
        .record_clue_outcome(RecordClueOutcomeRequest {
            name: clue.to_owned(),
            outcome: Some(ClueOutcome {
                kind: kind as i32,
                date: date(disposed + Days::new(rng.random_range(10..60))),
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
