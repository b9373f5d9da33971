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
}

impl Default for IssuesSettings {
    fn default() -> Self {
        Self {
            follow_rounds_events: true,
            max_import_rows: 5000,
        }
    }
}
