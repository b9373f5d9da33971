//! Organisations (单位) and where each kind may sit in the tree.

use fiveledger_platform::ApiError;
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::error::CommonReason;
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::{Organisation, OrganisationKind};

pub const COLLECTION: &str = "organisations";
pub const MAX_DISPLAY_NAME: usize = 200;
pub const MAX_CODE: usize = 64;
/// Deepest tree we keep (region → … → village is 5; departments add one).
pub const MAX_DEPTH: usize = 8;

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// A validated request to create an organisation.
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub id: Option<String>,
    pub display_name: String,
    pub kind: OrganisationKind,
    pub parent_id: Option<String>,
    pub code: String,
}

impl NewOrganisation {
    pub fn parse(org: Option<&Organisation>, organisation_id: &str) -> Result<Self, ApiError> {
        let org = org.ok_or_else(|| ApiError::required("organisation"))?;
        let id = if organisation_id.is_empty() {
            None
        } else {
            names::validate_id("organisation_id", organisation_id)?;
            Some(organisation_id.to_owned())
        };
        validate_text(
            "organisation.display_name",
            &org.display_name,
            true,
            MAX_DISPLAY_NAME,
        )?;
        validate_text("organisation.code", &org.code, false, MAX_CODE)?;
        let kind = parse_kind("organisation.kind", org.kind)?;
        let parent_id = if org.parent.is_empty() {
            None
        } else {
            Some(names::parse("organisation.parent", &org.parent, COLLECTION)?.to_owned())
        };
        if kind == OrganisationKind::Region && parent_id.is_some() {
            return Err(ApiError::invalid(
                "organisation.parent",
                ErrorReason::RegionHasNoParent,
                "a region is a root and has no parent",
            ));
        }
        if kind != OrganisationKind::Region && parent_id.is_none() {
            return Err(ApiError::invalid(
                "organisation.parent",
                ErrorReason::ParentRequired,
                "organisation.parent is required for every kind but a region",
            ));
        }
        Ok(Self {
            id,
            display_name: org.display_name.trim().to_owned(),
            kind,
            parent_id,
            code: org.code.trim().to_owned(),
        })
    }
}

pub fn parse_kind(field: &str, value: i32) -> Result<OrganisationKind, ApiError> {
    match OrganisationKind::try_from(value) {
        Ok(OrganisationKind::Unspecified) => Err(ApiError::required(field)),
        Ok(kind) => Ok(kind),
        Err(_) => Err(ApiError::invalid(
            field,
            CommonReason::UnknownEnumValue,
            format!("{field} {value} is not a known kind"),
        )),
    }
}

/// Whether an organisation of `child` kind may sit under one of `parent` kind.
pub fn may_sit_under(child: OrganisationKind, parent: OrganisationKind) -> bool {
    use OrganisationKind as K;
    let administrative = matches!(parent, K::Region | K::City | K::County | K::Township);
    match child {
        K::Unspecified | K::Region => false,
        K::City => parent == K::Region,
        K::County => parent == K::City,
        K::Township => parent == K::County,
        K::Village => parent == K::Township,
        K::DisciplineCommission
        | K::OrganisationDepartment
        | K::PropagandaDepartment
        | K::InspectionOffice
        | K::FunctionalDepartment
        | K::Enterprise => administrative,
    }
}

/// Checks the parent found for a new organisation and returns the new path.
pub fn child_path(
    child_kind: OrganisationKind,
    child_id: &str,
    parent_kind: OrganisationKind,
    parent_path: &str,
) -> Result<String, ApiError> {
    if !may_sit_under(child_kind, parent_kind) {
        return Err(ApiError::precondition_with(
            ErrorReason::InvalidParentKind,
            format!(
                "an organisation of kind {} cannot sit under one of kind {}",
                child_kind.as_str_name(),
                parent_kind.as_str_name()
            ),
            vec![fiveledger_platform::error::Violation {
                kind: "PARENT_KIND".into(),
                subject: "organisation.parent".into(),
                description: format!(
                    "{} may not be under {}",
                    child_kind.as_str_name(),
                    parent_kind.as_str_name()
                ),
            }],
        ));
    }
    let path = format!("{parent_path}/{child_id}");
    if path.split('/').count() > MAX_DEPTH {
        return Err(ApiError::precondition(
            ErrorReason::TreeTooDeep,
            format!("the tree may be at most {MAX_DEPTH} levels deep"),
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrganisationKind as K;

    #[test]
    fn tree_rules() {
        assert!(may_sit_under(K::City, K::Region));
        assert!(!may_sit_under(K::Village, K::City));
        assert!(may_sit_under(K::DisciplineCommission, K::County));
        assert!(!may_sit_under(K::Enterprise, K::Village));
        assert!(!may_sit_under(K::Region, K::Region));
    }

    #[test]
    fn parse_refuses_bad_input_naming_the_field() {
        let org = Organisation {
            display_name: "".into(),
            kind: K::City as i32,
            parent: "organisations/gx".into(),
            ..Default::default()
        };
        let err = NewOrganisation::parse(Some(&org), "nn").expect_err("empty name");
        assert!(
            matches!(err, ApiError::InvalidArgument { ref field, .. } if field == "organisation.display_name")
        );
        let org = Organisation {
            display_name: "Nanning".into(),
            kind: K::City as i32,
            ..Default::default()
        };
        let err = NewOrganisation::parse(Some(&org), "nn").expect_err("no parent");
        assert!(
            matches!(err, ApiError::InvalidArgument { ref field, .. } if field == "organisation.parent")
        );
    }
}
