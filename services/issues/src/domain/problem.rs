//! Problems (问题) and their four responsibility lists (四个责任清单):
//! validation of what callers send, and the completeness rule for freezing.

use chrono::NaiveDate;
use fiveledger_platform::ApiError;
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::time::from_date;
use fiveledger_proto::issues::Problem;
use fiveledger_proto::types::{Evidence, Severity};

pub const COLLECTION: &str = "problems";
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_PERSON: usize = 64;
pub const MAX_ACTION: usize = 2_000;
pub const MAX_DOCUMENT: usize = 256;
pub const MAX_EVIDENCE: usize = 50;
pub const ORGANISATIONS: &str = "organisations";

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// `rounds/{round}` of an inspection name `rounds/{round}/inspections/{i}`.
pub fn round_of(inspection: &str) -> String {
    inspection.split('/').take(2).collect::<Vec<_>>().join("/")
}

/// Checks an inspection name of the rounds service.
pub fn parse_inspection(field: &str, name: &str) -> Result<(), ApiError> {
    names::parse_nested(field, name, "rounds", "inspections").map(|_| ())
}

/// The problem's content as validated (organisations still unresolved).
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemContent {
    pub category: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub evidence: Vec<Evidence>,
    pub fixed: Option<(NaiveDate, String)>,
}

/// The responsibilities as sent: organisation names not yet looked up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponsibilitiesInput {
    pub main_unit: Option<String>,
    pub principal: String,
    pub leader_in_charge: String,
    pub supervising_body: Option<String>,
    pub functional_department: Option<String>,
}

fn field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

pub fn parse_severity(field: &str, value: i32) -> Result<Severity, ApiError> {
    match Severity::try_from(value) {
        Ok(Severity::Unspecified) => Err(ApiError::required(field)),
        Ok(s) => Ok(s),
        Err(_) => Err(ApiError::invalid(
            field,
            CommonReason::UnknownEnumValue,
            format!("{field} {value} is not a known severity"),
        )),
    }
}

pub fn parse_category(field: &str, value: &str) -> Result<String, ApiError> {
    if value.is_empty() {
        return Err(ApiError::required(field));
    }
    names::validate_id(field, value)?;
    Ok(value.to_owned())
}

pub fn parse_title(field: &str, value: &str) -> Result<String, ApiError> {
    validate_text(field, value, true, MAX_TITLE)?;
    Ok(value.trim().to_owned())
}

pub fn parse_description(field: &str, value: &str) -> Result<String, ApiError> {
    validate_text(field, value, false, MAX_DESCRIPTION)?;
    Ok(value.trim().to_owned())
}

pub fn parse_evidence(prefix: &str, evidence: &[Evidence]) -> Result<Vec<Evidence>, ApiError> {
    let f = field(prefix, "evidence");
    if evidence.len() > MAX_EVIDENCE {
        return Err(ApiError::invalid(
            f,
            CommonReason::TooMany,
            format!("at most {MAX_EVIDENCE} evidence references"),
        ));
    }
    evidence
        .iter()
        .enumerate()
        .map(|(i, e)| {
            validate_text(
                &format!("{f}[{i}].document"),
                &e.document,
                true,
                MAX_DOCUMENT,
            )?;
            let hash = e.sha256.to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiError::invalid(
                    format!("{f}[{i}].sha256"),
                    CommonReason::InvalidSha256,
                    "sha256 must be 64 hexadecimal digits",
                ));
            }
            Ok(Evidence {
                document: e.document.trim().to_owned(),
                sha256: hash,
            })
        })
        .collect()
}

pub fn parse_fixed(
    prefix: &str,
    fixed: Option<&fiveledger_proto::issues::FixedOnTheSpot>,
) -> Result<Option<(NaiveDate, String)>, ApiError> {
    let Some(fixed) = fixed else { return Ok(None) };
    let f = field(prefix, "fixed_on_the_spot");
    let date = fixed
        .date
        .as_ref()
        .ok_or_else(|| ApiError::required(format!("{f}.date")))?;
    let date = from_date(&format!("{f}.date"), date)?;
    validate_text(&format!("{f}.action"), &fixed.action, true, MAX_ACTION)?;
    Ok(Some((date, fixed.action.trim().to_owned())))
}

fn optional_org(field: &str, value: &str) -> Result<Option<String>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    names::parse(field, value, ORGANISATIONS)?;
    Ok(Some(value.to_owned()))
}

pub fn parse_main_unit(prefix: &str, value: &str) -> Result<Option<String>, ApiError> {
    optional_org(&field(prefix, "responsibilities.main_unit"), value)
}
pub fn parse_supervising_body(prefix: &str, value: &str) -> Result<Option<String>, ApiError> {
    optional_org(&field(prefix, "responsibilities.supervising_body"), value)
}
pub fn parse_functional_department(prefix: &str, value: &str) -> Result<Option<String>, ApiError> {
    optional_org(
        &field(prefix, "responsibilities.functional_department"),
        value,
    )
}
pub fn parse_person(prefix: &str, name: &str, value: &str) -> Result<String, ApiError> {
    person(prefix, name, value, false)
}

/// The principal (第一责任人) is required: a problem without one could never
/// be frozen, so its list would wait after the report with nothing posted.
pub fn parse_principal(prefix: &str, value: &str) -> Result<String, ApiError> {
    person(prefix, "principal", value, true)
}

fn person(prefix: &str, name: &str, value: &str, required: bool) -> Result<String, ApiError> {
    validate_text(
        &field(prefix, &format!("responsibilities.{name}")),
        value,
        required,
        MAX_PERSON,
    )?;
    Ok(value.trim().to_owned())
}

/// Validates a whole problem as sent on create or import. `prefix` is how
/// fields are named in errors (`problem` on create, empty in an import row).
pub fn parse_new(
    prefix: &str,
    problem: &Problem,
) -> Result<(ProblemContent, ResponsibilitiesInput), ApiError> {
    let content = ProblemContent {
        category: parse_category(&field(prefix, "category"), &problem.category)?,
        severity: parse_severity(&field(prefix, "severity"), problem.severity)?,
        title: parse_title(&field(prefix, "title"), &problem.title)?,
        description: parse_description(&field(prefix, "description"), &problem.description)?,
        evidence: parse_evidence(prefix, &problem.evidence)?,
        fixed: parse_fixed(prefix, problem.fixed_on_the_spot.as_ref())?,
    };
    let r = problem.responsibilities.clone().unwrap_or_default();
    let responsibilities = ResponsibilitiesInput {
        main_unit: parse_main_unit(prefix, &r.main_unit)?,
        principal: parse_principal(prefix, &r.principal)?,
        leader_in_charge: parse_person(prefix, "leader_in_charge", &r.leader_in_charge)?,
        supervising_body: parse_supervising_body(prefix, &r.supervising_body)?,
        functional_department: parse_functional_department(prefix, &r.functional_department)?,
    };
    Ok((content, responsibilities))
}

/// What every problem needs before its list can be frozen, in this order:
/// responsibility (1), the main unit and its principal, and (3), the
/// supervising body.
pub const NEEDED_TO_FREEZE: [&str; 3] = [
    "responsibilities.main_unit",
    "responsibilities.principal",
    "responsibilities.supervising_body",
];

/// What a problem still lacks before its list can be frozen.
pub fn missing_responsibilities(
    main_unit: &str,
    principal: &str,
    supervising_body: &str,
) -> Vec<&'static str> {
    [main_unit, principal, supervising_body]
        .into_iter()
        .zip(NEEDED_TO_FREEZE)
        .filter(|(value, _)| value.is_empty())
        .map(|(_, field)| field)
        .collect()
}

/// Fields of UpdateProblem's mask, and whether each is a responsibility.
pub const UPDATABLE: &[&str] = &[
    "category",
    "severity",
    "title",
    "description",
    "evidence",
    "fixed_on_the_spot",
    "responsibilities",
    "responsibilities.main_unit",
    "responsibilities.principal",
    "responsibilities.leader_in_charge",
    "responsibilities.supervising_body",
    "responsibilities.functional_department",
];

pub fn is_responsibility(path: &str) -> bool {
    path.starts_with("responsibilities")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_problem_needs_its_fields_named() {
        let err = parse_new("", &Problem::default()).expect_err("empty");
        assert!(matches!(err, ApiError::InvalidArgument { ref field, .. } if field == "category"));
        let p = Problem {
            category: "party-leadership".into(),
            severity: Severity::Major as i32,
            title: "t".into(),
            evidence: vec![Evidence {
                document: "a.pdf".into(),
                sha256: "xyz".into(),
            }],
            ..Default::default()
        };
        let err = parse_new("problem", &p).expect_err("bad hash");
        assert!(
            matches!(err, ApiError::InvalidArgument { ref field, .. } if field == "problem.evidence[0].sha256")
        );
    }

    #[test]
    fn the_principal_is_required() {
        let p = Problem {
            category: "party-leadership".into(),
            severity: Severity::Major as i32,
            title: "t".into(),
            responsibilities: Some(fiveledger_proto::issues::Responsibilities {
                principal: "  ".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = parse_new("problem", &p).expect_err("no principal");
        assert!(
            matches!(err, ApiError::InvalidArgument { ref field, .. } if field == "problem.responsibilities.principal"),
            "{err:?}"
        );
    }

    #[test]
    fn completeness_names_what_is_missing() {
        assert_eq!(
            missing_responsibilities("organisations/a", "", ""),
            [
                "responsibilities.principal",
                "responsibilities.supervising_body"
            ]
        );
        assert!(missing_responsibilities("organisations/a", "张三", "organisations/jw").is_empty());
        assert_eq!(round_of("rounds/r1/inspections/i1"), "rounds/r1");
    }
}
