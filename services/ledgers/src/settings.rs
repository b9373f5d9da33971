//! The ledgers service's own settings (section `[ledgers]`, `FIVELEDGER_LEDGERS__…`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LedgersSettings {
    /// Days after feedback an entry is due by default, per severity
    /// (`FIVELEDGER_LEDGERS__DUE_DAYS__SEVERE=30` …).
    pub due_days: DueDays,
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
        match fiveledger_proto::ledgers::Severity::try_from(severity) {
            Ok(fiveledger_proto::ledgers::Severity::Major) => self.major,
            Ok(fiveledger_proto::ledgers::Severity::Severe) => self.severe,
            _ => self.minor,
        }
    }
}
