//! The ledgers service's own settings (section `[ledgers]`, `FIVELEDGER_LEDGERS__…`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LedgersSettings {}
