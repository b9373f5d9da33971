//! The scope a command works on: an inspection, a round or an organisation
//! subtree, as the user writes it on the command line.

use std::fmt;
use std::str::FromStr;

use super::connect::{Services, failed};
use super::failure::{Failure, fail};

/// `rounds/{r}/inspections/{i}`, `rounds/{r}`, or an organisation path
/// such as `demo-city/county-1` (targets within that subtree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Inspection(String),
    Round(String),
    Subtree(String),
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().trim_end_matches('/');
        let parts: Vec<&str> = s.split('/').collect();
        if s.is_empty() {
            return Err("the scope is empty: give an inspection (rounds/R/inspections/I), a round (rounds/R) or an organisation path (city/county)".into());
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!("{s:?} has an empty segment"));
        }
        match parts.as_slice() {
            ["rounds", _, "inspections", _] => Ok(Scope::Inspection(s.to_owned())),
            ["rounds", _] => Ok(Scope::Round(s.to_owned())),
            ["rounds", ..] => Err(format!(
                "{s:?} is neither a round (rounds/R) nor an inspection (rounds/R/inspections/I)"
            )),
            ["organisations", id] => Err(format!(
                "give the organisation's path, not its name (e.g. city/{id} rather than organisations/{id})"
            )),
            _ => Ok(Scope::Subtree(s.to_owned())),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Inspection(s) | Scope::Round(s) | Scope::Subtree(s) => f.write_str(s),
        }
    }
}

impl Scope {
    /// Refuses a scope the rounds service does not know (or does not show
    /// the caller) with NOT_FOUND naming it, before anything is read or
    /// written: a mistyped scope must not pass for an empty one.
    pub async fn check_exists(&self, services: &Services) -> anyhow::Result<()> {
        use fiveledger_proto::rounds::{
            GetInspectionRequest, GetOrganisationRequest, GetRoundRequest,
        };
        let missing = |what: &str| {
            fail(
                Failure::NotFound,
                format!("--scope {self}: the suite knows no such {what}"),
            )
        };
        let result = match self {
            Scope::Inspection(name) => services
                .inspections()
                .get_inspection(GetInspectionRequest { name: name.clone() })
                .await
                .map(|_| true),
            Scope::Round(name) => services
                .rounds()
                .get_round(GetRoundRequest { name: name.clone() })
                .await
                .map(|_| true),
            // A path's last segment is the organisation's id.
            Scope::Subtree(path) => {
                let id = path.rsplit('/').next().unwrap_or_default();
                services
                    .organisations()
                    .get_organisation(GetOrganisationRequest {
                        name: format!("organisations/{id}"),
                    })
                    .await
                    .map(|o| o.into_inner().path == *path)
            }
        };
        let what = match self {
            Scope::Inspection(_) => "inspection",
            Scope::Round(_) => "round",
            Scope::Subtree(_) => "organisation path",
        };
        match result {
            Ok(true) => Ok(()),
            Ok(false) => Err(missing(what)),
            Err(status) if status.code() == tonic::Code::NotFound => Err(missing(what)),
            Err(status) => Err(failed(&format!("looking up --scope {self}"), status)),
        }
    }

    /// The `ListEntries` filter selecting the scope's entries.
    pub fn entries_filter(&self) -> String {
        match self {
            Scope::Inspection(name) => format!("inspection = \"{name}\""),
            Scope::Round(name) => format!("round = \"{name}\""),
            Scope::Subtree(path) => format!("target_subtree = \"{path}\""),
        }
    }

    pub fn reconcile_request(&self) -> fiveledger_proto::ledgers::ReconcileRequest {
        let mut r = fiveledger_proto::ledgers::ReconcileRequest::default();
        match self {
            Scope::Inspection(s) => r.inspection = s.clone(),
            Scope::Round(s) => r.round = s.clone(),
            Scope::Subtree(s) => r.organisation_path = s.clone(),
        }
        r
    }

    pub fn verify_request(&self) -> fiveledger_proto::ledgers::VerifyJournalRequest {
        let mut r = fiveledger_proto::ledgers::VerifyJournalRequest::default();
        match self {
            Scope::Inspection(s) => r.inspection = s.clone(),
            Scope::Round(s) => r.round = s.clone(),
            Scope::Subtree(s) => r.organisation_path = s.clone(),
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_by_shape() {
        assert_eq!(
            "rounds/r1/inspections/i1".parse(),
            Ok(Scope::Inspection("rounds/r1/inspections/i1".into()))
        );
        assert_eq!("rounds/r1".parse(), Ok(Scope::Round("rounds/r1".into())));
        assert_eq!("city/c1/".parse(), Ok(Scope::Subtree("city/c1".into())));
        assert!("rounds/r1/groups".parse::<Scope>().is_err());
        assert!("organisations/x".parse::<Scope>().is_err());
        assert!("".parse::<Scope>().is_err());
    }
}
