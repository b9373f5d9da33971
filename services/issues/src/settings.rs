//! The issues service's own settings (section `[issues]`, `FIVELEDGER_ISSUES__…`).

use fiveledger_proto::issues::{ClueDecisionLevel, DisposalMethod};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IssuesSettings {
    /// Follow the rounds service's `InspectionReported` events and freeze
    /// problem lists as inspections are reported.
    pub follow_rounds_events: bool,
    /// Most rows one `ImportProblems` call accepts.
    pub max_import_rows: usize,
    /// Days a receiving body has to return a transferred clue's result (the
    /// transfer's due date is its transfer date plus these). The source names
    /// time limits for clue hand-overs without fixing one; a month is the
    /// common rule, hence 30.
    pub clue_transfer_due_days: u32,
    /// Years after an inspection within which a problem found in the same
    /// unit back-tracks its group (倒查): the source says 3 to 5, and only
    /// 3 to 5 is accepted.
    pub recurrence_window_years: u32,
    /// How often frozen lists are compared with the earlier lists of their
    /// unit, in milliseconds (0: never).
    pub recurrence_check_interval_ms: u64,
    /// Days a disposed clue has, from its receipt, when disposed by talk or
    /// letter inquiry (谈话函询). The source fixes time limits per disposal
    /// way (办理时限) without naming them; these defaults are an office's
    /// usual ones: a month for a talk or letter, a quarter for a
    /// preliminary verification, half a year for a held clue before it is
    /// looked at again, a fortnight to write a conclusion up.
    pub clue_talk_or_letter_days: u32,
    /// Days for a preliminary verification (初步核实).
    pub clue_preliminary_verification_days: u32,
    /// Days a held clue (暂存待查) waits before it is due again.
    pub clue_hold_days: u32,
    /// Days to conclude a clue (予以了结).
    pub clue_conclude_days: u32,
    /// Distinct signers a clue's disposal needs (集体研判: "任何个人不得擅自
    /// 决策", L3215–3225): 3 by default, one at each level of the
    /// three-level decision. An office with fewer people configures fewer
    /// (1 lets the holder's single signature decide, with no level
    /// required); never fewer than the required levels.
    pub clue_disposal_signers: u32,
    /// Decision levels that must each have signed a disposal, by name and
    /// separated by commas (`handling_room`, `leader_in_charge`,
    /// `supervision_meeting`: the three levels of 三级集体研判, all three by
    /// default); empty for none.
    pub clue_disposal_levels: String,
    /// Seconds between periodic clue warning sweeps (四色预警); 0 turns the
    /// periodic sweep off (SweepClueWarnings still sweeps on demand).
    pub clue_sweep_interval_seconds: u64,
    /// The shared four-colour thresholds (section `[warnings]`), copied in
    /// when the service starts.
    #[serde(skip)]
    pub warnings: fiveledger_platform::deadline::WarningSettings,
}

/// The three levels of 三级集体研判 (承办室室务会集体研究, 分管领导召集研究,
/// 执纪监督专题会议集体研判), each of which signs a disposal by default.
pub const DEFAULT_DISPOSAL_LEVELS: &str = "handling_room,leader_in_charge,supervision_meeting";

impl Default for IssuesSettings {
    fn default() -> Self {
        Self {
            follow_rounds_events: true,
            max_import_rows: 5000,
            clue_transfer_due_days: 30,
            recurrence_window_years: 5,
            recurrence_check_interval_ms: 60_000,
            clue_talk_or_letter_days: 30,
            clue_preliminary_verification_days: 90,
            clue_hold_days: 180,
            clue_conclude_days: 15,
            clue_disposal_signers: 3,
            clue_disposal_levels: DEFAULT_DISPOSAL_LEVELS.to_owned(),
            clue_sweep_interval_seconds: 600,
            warnings: Default::default(),
        }
    }
}

impl IssuesSettings {
    /// The decision levels a disposal needs (`clue_disposal_levels`); an
    /// unknown name is a configuration error.
    pub fn disposal_levels(&self) -> anyhow::Result<Vec<ClueDecisionLevel>> {
        let mut out = Vec::new();
        for name in self.clue_disposal_levels.split(',').map(str::trim) {
            if name.is_empty() {
                continue;
            }
            let level = ClueDecisionLevel::from_str_name(&format!(
                "CLUE_DECISION_LEVEL_{}",
                name.to_uppercase()
            ))
            .filter(|l| *l != ClueDecisionLevel::Unspecified)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "[issues] clue_disposal_levels: unknown level {name:?} \
                     (handling_room, leader_in_charge, supervision_meeting)"
                )
            })?;
            if !out.contains(&level) {
                out.push(level);
            }
        }
        Ok(out)
    }

    /// What a disposal decision needs (levels as validated at start; an
    /// unknown one was refused there).
    pub fn quorum(&self) -> crate::domain::clue_decision::Quorum {
        crate::domain::clue_decision::Quorum {
            signers: self.clue_disposal_signers,
            levels: self.disposal_levels().unwrap_or_default(),
        }
    }

    /// How clues are shown on `today`.
    pub fn clue_view(&self, today: chrono::NaiveDate) -> crate::storage::clues::View {
        crate::storage::clues::View {
            today,
            warnings: self.warnings,
            signers: i32::try_from(self.clue_disposal_signers.max(1)).unwrap_or(i32::MAX),
        }
    }

    /// Days a clue disposed of by `method` has from its receipt.
    pub fn disposal_days(&self, method: DisposalMethod) -> u32 {
        match method {
            DisposalMethod::TalkOrLetter => self.clue_talk_or_letter_days,
            DisposalMethod::PreliminaryVerification => self.clue_preliminary_verification_days,
            DisposalMethod::Hold => self.clue_hold_days,
            DisposalMethod::Conclude | DisposalMethod::Unspecified => self.clue_conclude_days,
        }
    }
}

/// What each setting of this section means, by its path under the section
/// (`--help` lists them; a test keeps the list complete).
pub const MEANINGS: &[(&str, &str)] = &[
    (
        "follow_rounds_events",
        "freeze problem lists when the rounds service reports an inspection",
    ),
    (
        "max_import_rows",
        "most problems one ImportProblems call takes",
    ),
    (
        "clue_transfer_due_days",
        "days a receiving body has to return a transferred clue's result",
    ),
    (
        "recurrence_window_years",
        "years after an inspection within which a problem found in the same unit back-tracks its group (3 to 5)",
    ),
    (
        "recurrence_check_interval_ms",
        "how often frozen problem lists are compared with their unit's earlier ones (0: never)",
    ),
    (
        "clue_talk_or_letter_days",
        "days from receipt a clue disposed by talk or letter inquiry (谈话函询) has",
    ),
    (
        "clue_preliminary_verification_days",
        "days from receipt a clue under preliminary verification (初步核实) has",
    ),
    (
        "clue_hold_days",
        "days from receipt a held clue (暂存待查) waits before it is due again",
    ),
    (
        "clue_conclude_days",
        "days from receipt to conclude a clue (予以了结)",
    ),
    (
        "clue_disposal_signers",
        "distinct signers a clue's disposal needs (集体研判)",
    ),
    (
        "clue_disposal_levels",
        "decision levels that must each sign a clue's disposal (handling_room, leader_in_charge, supervision_meeting)",
    ),
    (
        "clue_sweep_interval_seconds",
        "seconds between clue warning sweeps (0: only on demand)",
    ),
];

impl IssuesSettings {
    /// Refuses settings the service cannot run with.
    pub fn validate(&self) -> anyhow::Result<()> {
        let window = crate::domain::recurrence::WINDOW_YEARS;
        if !window.contains(&self.recurrence_window_years) {
            anyhow::bail!(
                "issues.recurrence_window_years must be {} to {} (the source's 3至5年), not {}",
                window.start(),
                window.end(),
                self.recurrence_window_years
            );
        }
        // Each signer signs once, at one level: more levels than signers
        // would quietly need more signers than configured.
        let levels = self.disposal_levels()?.len();
        if levels > self.clue_disposal_signers.max(1) as usize {
            anyhow::bail!(
                "issues.clue_disposal_signers is {} but clue_disposal_levels names {levels} \
                 levels, each signed by another person: require as many signers, or fewer \
                 levels (empty for none)",
                self.clue_disposal_signers
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiveledger_platform::settings::load_vars;

    fn load(vars: &[(&str, &str)]) -> anyhow::Result<IssuesSettings> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let listen = "127.0.0.1:0".parse().expect("addr");
        let (_, settings) = load_vars::<IssuesSettings>("issues", listen, &vars)?;
        settings.validate()?;
        Ok(settings)
    }

    /// By default no one decides alone: three distinct signers, one at
    /// each level of 三级集体研判.
    #[test]
    fn a_disposal_needs_three_signers_at_three_levels_by_default() {
        use ClueDecisionLevel as L;
        let settings = load(&[]).expect("defaults");
        assert_eq!(settings, IssuesSettings::default());
        let q = settings.quorum();
        assert_eq!(q.signers, 3);
        assert_eq!(
            q.levels,
            [L::HandlingRoom, L::LeaderInCharge, L::SupervisionMeeting]
        );
    }

    /// A small office configures fewer signers, and as few levels.
    #[test]
    fn an_office_configures_fewer_signers_and_levels() {
        let one = load(&[
            ("FIVELEDGER_ISSUES__CLUE_DISPOSAL_SIGNERS", "1"),
            ("FIVELEDGER_ISSUES__CLUE_DISPOSAL_LEVELS", ""),
        ])
        .expect("one signer, no level");
        assert_eq!(one.quorum().signers, 1);
        assert!(one.quorum().levels.is_empty());
        let two = load(&[
            ("FIVELEDGER_ISSUES__CLUE_DISPOSAL_SIGNERS", "2"),
            (
                "FIVELEDGER_ISSUES__CLUE_DISPOSAL_LEVELS",
                "handling_room,supervision_meeting",
            ),
        ])
        .expect("two signers, two levels");
        assert_eq!(two.quorum().levels.len(), 2);
        // Fewer signers than the levels that must sign: refused at start,
        // not a quorum that quietly needs three.
        let err = load(&[("FIVELEDGER_ISSUES__CLUE_DISPOSAL_SIGNERS", "1")])
            .expect_err("one signer, three levels");
        assert!(err.to_string().contains("clue_disposal_signers"), "{err}");
        let err = load(&[("FIVELEDGER_ISSUES__CLUE_DISPOSAL_LEVELS", "room")])
            .expect_err("unknown level");
        assert!(err.to_string().contains("unknown level"), "{err}");
    }
}
