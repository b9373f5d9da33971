//! The issues service's own settings (section `[issues]`, `FIVELEDGER_ISSUES__…`).

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
}

impl Default for IssuesSettings {
    fn default() -> Self {
        Self {
            follow_rounds_events: true,
            max_import_rows: 5000,
            clue_transfer_due_days: 30,
            recurrence_window_years: 5,
            recurrence_check_interval_ms: 60_000,
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
        Ok(())
    }
}
