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
}

impl Default for IssuesSettings {
    fn default() -> Self {
        Self {
            follow_rounds_events: true,
            max_import_rows: 5000,
            clue_transfer_due_days: 30,
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
];
