//! Problem categories (问题类别) and the routing rule each carries.

use fiveledger_platform::ApiError;
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::error::CommonReason;
use fiveledger_proto::issues::{Category, SupervisingBodyKind};
use fiveledger_proto::rounds::OrganisationKind;

pub const COLLECTION: &str = "categories";
pub const MAX_DISPLAY_NAME: usize = 100;

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// The organisation kind in the rounds directory that a supervising body
/// kind corresponds to.
pub fn organisation_kind(kind: SupervisingBodyKind) -> OrganisationKind {
    match kind {
        SupervisingBodyKind::Unspecified | SupervisingBodyKind::DisciplineCommission => {
            OrganisationKind::DisciplineCommission
        }
        SupervisingBodyKind::OrganisationDepartment => OrganisationKind::OrganisationDepartment,
        SupervisingBodyKind::PropagandaDepartment => OrganisationKind::PropagandaDepartment,
    }
}

/// Organisation kinds that may hold responsibility (3).
pub fn may_supervise(kind: OrganisationKind) -> bool {
    matches!(
        kind,
        OrganisationKind::DisciplineCommission
            | OrganisationKind::OrganisationDepartment
            | OrganisationKind::PropagandaDepartment
            | OrganisationKind::FunctionalDepartment
    )
}

pub fn parse_kind(field: &str, value: i32) -> Result<SupervisingBodyKind, ApiError> {
    match SupervisingBodyKind::try_from(value) {
        Ok(SupervisingBodyKind::Unspecified) => Err(ApiError::required(field)),
        Ok(kind) => Ok(kind),
        Err(_) => Err(ApiError::invalid(
            field,
            CommonReason::UnknownEnumValue,
            format!("{field} {value} is not a known kind"),
        )),
    }
}

/// A validated new category.
#[derive(Debug, Clone)]
pub struct NewCategory {
    pub id: String,
    pub display_name: String,
    pub kind: SupervisingBodyKind,
    pub grassroots: bool,
}

impl NewCategory {
    pub fn parse(category: Option<&Category>, id: &str) -> Result<Self, ApiError> {
        let category = category.ok_or_else(|| ApiError::required("category"))?;
        if id.is_empty() {
            return Err(ApiError::required("category_id"));
        }
        names::validate_id("category_id", id)?;
        validate_text(
            "category.display_name",
            &category.display_name,
            true,
            MAX_DISPLAY_NAME,
        )?;
        Ok(Self {
            id: id.to_owned(),
            display_name: category.display_name.trim().to_owned(),
            kind: parse_kind(
                "category.supervising_body_kind",
                category.supervising_body_kind,
            )?,
            grassroots: category.grassroots,
        })
    }
}

/// The catalogue the first migration seeds: the source's categories.
pub const SEED: &[(&str, &str, SupervisingBodyKind, bool)] = &[
    (
        "party-leadership",
        "党的领导",
        SupervisingBodyKind::DisciplineCommission,
        false,
    ),
    (
        "party-building",
        "党的建设",
        SupervisingBodyKind::DisciplineCommission,
        false,
    ),
    (
        "strict-governance",
        "全面从严治党",
        SupervisingBodyKind::DisciplineCommission,
        false,
    ),
    (
        "personnel-selection",
        "选人用人",
        SupervisingBodyKind::OrganisationDepartment,
        false,
    ),
    (
        "ideology",
        "意识形态",
        SupervisingBodyKind::PropagandaDepartment,
        false,
    ),
    (
        "graft-close-to-the-people",
        "群众身边腐败",
        SupervisingBodyKind::DisciplineCommission,
        true,
    ),
    (
        "weak-grassroots-organisations",
        "基层组织软弱涣散",
        SupervisingBodyKind::OrganisationDepartment,
        true,
    ),
    (
        "benefit-policies",
        "惠民政策落实",
        SupervisingBodyKind::DisciplineCommission,
        true,
    ),
];
