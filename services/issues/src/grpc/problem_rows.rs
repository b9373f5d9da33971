//! What new problem rows need from outside the row: the categories, the
//! named organisations and the routed supervising bodies, resolved in one
//! batch for a whole list.

use std::collections::{HashMap, HashSet};

use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::ErrorReason;
use fiveledger_proto::issues::*;
use fiveledger_proto::rounds::{Inspection, Organisation, OrganisationKind};

use super::Api;
use crate::domain::category::{may_supervise, organisation_kind};
use crate::domain::problem::{self as domain, ProblemContent, ResponsibilitiesInput};
use crate::domain::scope::{Reach, unknown_organisation};
use crate::storage::categories;
use crate::storage::problems as store;

/// What a batch of problems needs from outside: the categories, the named
/// organisations, and the bodies the routing rules point at.
pub(super) struct Resolved {
    categories: HashMap<String, categories::Model>,
    organisations: HashMap<String, Organisation>,
    unknown: HashSet<String>,
    routed: HashMap<SupervisingBodyKind, Option<Organisation>>,
}

impl Api {
    /// One category query, one BatchGetOrganisations, and one directory
    /// lookup per supervising-body kind the routing rules need (at most 3).
    pub(super) async fn resolve(
        &self,
        inspection: &Inspection,
        rows: &[(ProblemContent, ResponsibilitiesInput)],
    ) -> ApiResult<Resolved> {
        let categories = categories::find_many(
            self.db.reader(),
            rows.iter()
                .map(|(c, _)| c.category.clone())
                .collect::<HashSet<_>>(),
        )
        .await?;
        let names: HashSet<String> = rows
            .iter()
            .flat_map(|(_, r)| {
                [&r.main_unit, &r.supervising_body, &r.functional_department]
                    .into_iter()
                    .flatten()
                    .cloned()
            })
            .collect();
        let (organisations, unknown) = if names.is_empty() {
            Default::default()
        } else {
            self.rounds.organisations_by_name(names).await?
        };
        let kinds: HashSet<SupervisingBodyKind> = rows
            .iter()
            .filter(|(_, r)| r.supervising_body.is_none())
            .filter_map(|(c, _)| categories.get(&c.category).map(|m| m.kind()))
            .collect();
        let mut routed = HashMap::new();
        for kind in kinds {
            let body = self
                .rounds
                .attached(&inspection.round_organisation_path, organisation_kind(kind))
                .await?;
            routed.insert(kind, body);
        }
        Ok(Resolved {
            categories,
            organisations,
            unknown,
            routed,
        })
    }
}

fn field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Resolved {
    /// The organisation `name`, if the problem may name it: known, within
    /// `reach` (out of reach answers exactly as unknown, before anything
    /// about it is said), and `allowed` by kind.
    pub(super) fn organisation(
        &self,
        field: String,
        name: &str,
        reach: Reach<'_>,
        allowed: impl Fn(OrganisationKind) -> bool,
        what: &str,
    ) -> ApiResult<&Organisation> {
        if self.unknown.contains(name) {
            return Err(unknown_organisation(&field, name));
        }
        let org = self.organisations.get(name).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("{name} missing from the directory answer"))
        })?;
        if !reach.allows(
            &org.path,
            org.kind() == OrganisationKind::DisciplineCommission,
        ) {
            return Err(unknown_organisation(&field, name));
        }
        if !allowed(org.kind()) {
            return Err(ApiError::invalid(
                field,
                ErrorReason::WrongOrganisationKind,
                format!("{name} is a {}, not {what}", org.kind().as_str_name()),
            ));
        }
        Ok(org)
    }

    /// Builds the stored row of one problem, or the first error about it
    /// (fields named under `prefix`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn row(
        &self,
        prefix: &str,
        id: String,
        inspection: &Inspection,
        content: ProblemContent,
        r: ResponsibilitiesInput,
        recorded_by: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> ApiResult<store::Model> {
        let category = self.categories.get(&content.category).ok_or_else(|| {
            ApiError::invalid(
                field(prefix, "category"),
                ErrorReason::UnknownCategory,
                format!("{} is not in the category catalogue", content.category),
            )
        })?;
        let (main_unit, main_unit_path) = match &r.main_unit {
            None => (inspection.target.clone(), inspection.target_path.clone()),
            Some(name) => {
                let org = self.organisation(
                    field(prefix, "responsibilities.main_unit"),
                    name,
                    Reach::Target(&inspection.target_path),
                    |_| true,
                    "a unit",
                )?;
                (org.name.clone(), org.path.clone())
            }
        };
        let (supervising_body, supervising_body_path, routed) = match &r.supervising_body {
            Some(name) => {
                let org = self.organisation(
                    field(prefix, "responsibilities.supervising_body"),
                    name,
                    Reach::Bodies {
                        running: &inspection.round_organisation_path,
                        target: &inspection.target_path,
                        managing_level: "",
                    },
                    may_supervise,
                    "a supervising body",
                )?;
                (org.name.clone(), org.path.clone(), false)
            }
            None => match self.routed.get(&category.kind()).and_then(Option::as_ref) {
                Some(org) => (org.name.clone(), org.path.clone(), true),
                // No such body at the running level: left for the caller to
                // name; freezing refuses until it is.
                None => (String::new(), String::new(), false),
            },
        };
        let (functional_department, functional_department_path) = match &r.functional_department {
            None => (String::new(), String::new()),
            Some(name) => {
                let org = self.organisation(
                    field(prefix, "responsibilities.functional_department"),
                    name,
                    Reach::Bodies {
                        running: &inspection.round_organisation_path,
                        target: &inspection.target_path,
                        managing_level: "",
                    },
                    |k| k == OrganisationKind::FunctionalDepartment,
                    "a functional department",
                )?;
                (org.name.clone(), org.path.clone())
            }
        };
        Ok(store::Model {
            id,
            inspection: inspection.name.clone(),
            round: domain::round_of(&inspection.name),
            target: inspection.target.clone(),
            target_path: inspection.target_path.clone(),
            category: content.category,
            severity: store::severity_text(content.severity),
            title: content.title,
            description: content.description,
            evidence: store::evidence_to_json(&content.evidence),
            fixed_date: content.fixed.as_ref().map(|(d, _)| *d),
            fixed_action: content.fixed.map(|(_, a)| a).unwrap_or_default(),
            main_unit,
            main_unit_path,
            principal: r.principal,
            leader_in_charge: r.leader_in_charge,
            supervising_body,
            supervising_body_path,
            supervising_body_routed: routed,
            functional_department,
            functional_department_path,
            recorded_by: recorded_by.to_owned(),
            frozen: false,
            revision: 1,
            create_time: now,
            update_time: now,
        })
    }
}
