//! The rounds service's own settings (section `[rounds]`,
//! `FIVELEDGER_ROUNDS__…`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RoundsSettings {
    /// Days after feedback within which the double report (双报告) is due.
    pub double_report_days: u32,
    /// Days after feedback within which a receiving body acknowledges what
    /// was handed to it (移交签收); later, the hand-off colours.
    pub hand_off_acknowledgement_days: u32,
    /// Seconds between periodic double-report sweeps (四色预警); 0 turns
    /// the periodic sweep off (`FIVELEDGER_ROUNDS__SWEEP_INTERVAL_SECONDS`).
    pub sweep_interval_seconds: u64,
    /// The shared four-colour thresholds (section `[warnings]`), copied in
    /// when the service starts.
    #[serde(skip)]
    pub warnings: fiveledger_platform::deadline::WarningSettings,
}

impl Default for RoundsSettings {
    fn default() -> Self {
        Self {
            double_report_days: 60,
            hand_off_acknowledgement_days: 15,
            sweep_interval_seconds: 600,
            warnings: Default::default(),
        }
    }
}

/// What each setting of this section means, by its path under the section
/// (`--help` lists them; a test keeps the list complete).
pub const MEANINGS: &[(&str, &str)] = &[
    (
        "double_report_days",
        "days after feedback the double report (双报告) is due",
    ),
    (
        "hand_off_acknowledgement_days",
        "days after feedback a receiving body has to acknowledge a hand-off (移交签收)",
    ),
    (
        "sweep_interval_seconds",
        "seconds between double-report and hand-off warning sweeps (0: only on demand)",
    ),
];
