//! The issues service's own settings (section `[issues]`, `FIVELEDGER_ISSUES__…`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IssuesSettings {}
