//! The collective decision on a clue's disposal (三级集体研判, "任何个人不得
//! 擅自决策"): each DisposeClue is one signature; the disposal takes effect
//! once enough distinct signers agree on one way and every required
//! decision level has signed.

use fiveledger_platform::ApiError;
use fiveledger_proto::issues::{ClueDecisionLevel, DisposalMethod, ErrorReason};

/// What a decision needs (settings `clue_disposal_signers`,
/// `clue_disposal_levels`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quorum {
    /// Distinct signers (at least 1).
    pub signers: u32,
    /// Levels that must each have signed.
    pub levels: Vec<ClueDecisionLevel>,
}

/// One signature as the rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub signer: String,
    pub level: ClueDecisionLevel,
    pub method: DisposalMethod,
}

/// Parses the level a signer signs for: one of the required levels, or
/// any (or none) when no level is required.
pub fn parse_level(q: &Quorum, value: i32) -> Result<ClueDecisionLevel, ApiError> {
    let level = ClueDecisionLevel::try_from(value).map_err(|_| {
        ApiError::invalid(
            "level",
            fiveledger_platform::error::CommonReason::UnknownEnumValue,
            format!("level {value} is not a known decision level"),
        )
    })?;
    if q.levels.is_empty() || q.levels.contains(&level) {
        return Ok(level);
    }
    let wanted: Vec<&str> = q.levels.iter().map(|l| l.as_str_name()).collect();
    Err(ApiError::invalid(
        "level",
        ErrorReason::DecisionLevelNotRequired,
        format!(
            "a disposal is signed for one of the levels {}; {} is not one",
            wanted.join(", "),
            level.as_str_name()
        ),
    ))
}

/// Refuses a signature the decision cannot take: the same signer twice,
/// or another way than the decision's first signature.
pub fn check_vote(clue: &str, earlier: &[Vote], vote: &Vote) -> Result<(), ApiError> {
    if let Some(same) = earlier.iter().find(|v| v.signer == vote.signer) {
        return Err(ApiError::precondition(
            ErrorReason::ClueAlreadySigned,
            format!(
                "{} already signed the disposal of {clue} (as {})",
                same.signer,
                same.level.as_str_name()
            ),
        ));
    }
    if let Some(first) = earlier.first()
        && first.method != vote.method
    {
        return Err(ApiError::precondition(
            ErrorReason::DisposalMethodDiffers,
            format!(
                "the decision on {clue} is for {}; {} is another way (reopen the decision by \
                 agreeing, or sign for the same way)",
                first.method.as_str_name(),
                vote.method.as_str_name()
            ),
        ));
    }
    Ok(())
}

/// True when `votes` complete the decision.
pub fn complete(q: &Quorum, votes: &[Vote]) -> bool {
    let mut signers: Vec<&str> = votes.iter().map(|v| v.signer.as_str()).collect();
    signers.sort_unstable();
    signers.dedup();
    signers.len() >= q.signers.max(1) as usize
        && q.levels.iter().all(|l| votes.iter().any(|v| v.level == *l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(signer: &str, level: ClueDecisionLevel, method: DisposalMethod) -> Vote {
        Vote {
            signer: signer.into(),
            level,
            method,
        }
    }

    #[test]
    fn three_levels_three_signers() {
        use ClueDecisionLevel as L;
        let q = Quorum {
            signers: 3,
            levels: vec![L::HandlingRoom, L::LeaderInCharge, L::SupervisionMeeting],
        };
        let m = DisposalMethod::PreliminaryVerification;
        let mut votes = vec![vote("a", L::HandlingRoom, m)];
        assert!(!complete(&q, &votes));
        assert_eq!(
            check_vote("c", &votes, &vote("a", L::LeaderInCharge, m))
                .expect_err("twice")
                .reason(),
            "CLUE_ALREADY_SIGNED"
        );
        assert_eq!(
            check_vote(
                "c",
                &votes,
                &vote("b", L::LeaderInCharge, DisposalMethod::Hold)
            )
            .expect_err("differs")
            .reason(),
            "DISPOSAL_METHOD_DIFFERS"
        );
        votes.push(vote("b", L::HandlingRoom, m));
        votes.push(vote("c", L::LeaderInCharge, m));
        // Three signers, but the meeting has not signed.
        assert!(!complete(&q, &votes));
        votes.push(vote("d", L::SupervisionMeeting, m));
        assert!(complete(&q, &votes));
        assert_eq!(
            parse_level(&q, 0).expect_err("none").reason(),
            "DECISION_LEVEL_NOT_REQUIRED"
        );
        assert!(parse_level(&Quorum::default(), 0).is_ok());
        assert!(complete(&Quorum::default(), &votes[..1]));
    }
}
