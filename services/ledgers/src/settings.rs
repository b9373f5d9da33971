//! The ledgers service's own settings (section `[ledgers]`, `FIVELEDGER_LEDGERS__…`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LedgersSettings {
    /// Days after feedback an entry is due by default, per severity
    /// (`FIVELEDGER_LEDGERS__DUE_DAYS__SEVERE=30` …).
    pub due_days: DueDays,
    /// The shared four-colour thresholds (section `[warnings]`, every
    /// service's), copied in when the service starts.
    #[serde(skip)]
    pub warnings: fiveledger_platform::deadline::WarningSettings,
    /// Seconds between periodic warning sweeps; 0 turns the periodic sweep
    /// off (`FIVELEDGER_LEDGERS__SWEEP_INTERVAL_SECONDS`).
    pub sweep_interval_seconds: u64,
    /// Weights of the four rates in assessments of lower levels' work
    /// (`FIVELEDGER_LEDGERS__ASSESSMENT_WEIGHTS__ON_TIME=40` …), used when
    /// ComputeAssessment names none.
    pub assessment_weights: crate::domain::assessment::Weights,
    /// Days an item may stay red without the next interview (约谈) before
    /// the sweep requires that level; 0 never escalates
    /// (`FIVELEDGER_LEDGERS__INTERVIEW_ESCALATION_DAYS`).
    pub interview_escalation_days: u32,
    /// Days after an interview its follow-up is due when the interview
    /// names no date (`FIVELEDGER_LEDGERS__INTERVIEW_FOLLOW_UP_DAYS`).
    pub interview_follow_up_days: u32,
    /// How many days back a step recorded after the fact (补录) may be
    /// dated (`FIVELEDGER_LEDGERS__BACKFILL_DAYS`); five years by default.
    pub backfill_days: u32,
}

impl Default for LedgersSettings {
    fn default() -> Self {
        Self {
            due_days: DueDays::default(),
            warnings: Default::default(),
            sweep_interval_seconds: 600,
            assessment_weights: Default::default(),
            interview_escalation_days: 15,
            interview_follow_up_days: 30,
            backfill_days: 1826,
        }
    }
}

impl LedgersSettings {
    pub fn thresholds(&self) -> crate::domain::warning::Thresholds {
        self.warnings
    }

    /// Refuses settings the service cannot run with.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.assessment_weights
            .check("ledgers.assessment_weights")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

/// Default rectification period after feedback, in days, by severity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DueDays {
    pub minor: u32,
    pub major: u32,
    pub severe: u32,
}

impl Default for DueDays {
    fn default() -> Self {
        // Two months is the usual rule; severe problems are pressed harder.
        Self {
            minor: 60,
            major: 60,
            severe: 30,
        }
    }
}

impl DueDays {
    /// Days for a `Severity` value (unknown severities get the minor period).
    pub fn for_severity(&self, severity: i32) -> u32 {
        match fiveledger_proto::types::Severity::try_from(severity) {
            Ok(fiveledger_proto::types::Severity::Major) => self.major,
            Ok(fiveledger_proto::types::Severity::Severe) => self.severe,
            _ => self.minor,
        }
    }
}

/// What each setting of this section means, by its path under the section
/// (`--help` lists them; a test keeps the list complete).
pub const MEANINGS: &[(&str, &str)] = &[
    (
        "due_days.minor",
        "days after feedback a minor problem's entry is due",
    ),
    (
        "due_days.major",
        "days after feedback a major problem's entry is due",
    ),
    (
        "due_days.severe",
        "days after feedback a severe problem's entry is due",
    ),
    (
        "sweep_interval_seconds",
        "seconds between four-colour warning sweeps (0: only on demand)",
    ),
    (
        "assessment_weights.on_time",
        "weight of the on-time rate in assessments of lower levels (0-100)",
    ),
    (
        "assessment_weights.completion",
        "weight of the completion rate in assessments (0-100)",
    ),
    (
        "assessment_weights.overdue",
        "weight of the share not overdue in assessments (0-100)",
    ),
    (
        "assessment_weights.reopened",
        "weight of the share never reopened in assessments (0-100)",
    ),
    (
        "interview_escalation_days",
        "days an item may stay red without the next interview level before the sweep requires it (0: never)",
    ),
    (
        "interview_follow_up_days",
        "days after an interview its follow-up is due when the interview names no date",
    ),
    (
        "backfill_days",
        "how many days back a step recorded after the fact (effective_date) may be dated",
    ),
];
