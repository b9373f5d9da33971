//! Avoidance (回避) when staffing groups: who may not inspect which target.
//!
//! - 任职回避 (`AVOIDANCE_POST`): a person who works, or worked, in the
//!   target's subtree.
//! - 地域回避 (`AVOIDANCE_REGION`): in a linked city-county round or a
//!   cross-county round, nobody inspects their own county: the county of
//!   the target is the one they work in (home organisation) or the one they
//!   come from (native place, 籍贯). The source: "巡察县（市）区单位的人员实行
//!   任职回避、地域回避、公务回避，交叉巡察，避免本县（市）区人员巡察本县（市）区单位".
//! - 公务回避 (`AVOIDANCE_RELATION`): a person who declared a relation to
//!   an organisation that contains the target or lies within it.

use std::collections::HashSet;

use fiveledger_platform::ApiError;
use fiveledger_platform::auth::in_subtree;
use fiveledger_platform::error::Violation;
use fiveledger_proto::rounds::ErrorReason;

use super::inspector::{StoredPost, StoredRelation};

pub const POST: ErrorReason = ErrorReason::AvoidancePost;
pub const REGION: ErrorReason = ErrorReason::AvoidanceRegion;
pub const RELATION: ErrorReason = ErrorReason::AvoidanceRelation;
/// A person already staffed in another group of the round.
pub const IN_OTHER_GROUP: ErrorReason = ErrorReason::InspectorInOtherGroup;

/// What avoidance needs to know of one person.
#[derive(Debug, Clone)]
pub struct Person<'a> {
    /// `inspectors/{id}`.
    pub name: String,
    pub home_path: &'a str,
    /// Path of the native place (籍贯); empty when none is recorded.
    pub native_place_path: &'a str,
    pub posts: &'a [StoredPost],
    pub relations: &'a [StoredRelation],
}

/// What avoidance needs to know of one target.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// `organisations/{id}`.
    pub name: String,
    pub path: &'a str,
}

/// The county (an organisation id on the path whose kind is county) of a
/// path, if the path lies in one.
pub fn county_of<'p>(path: &'p str, counties: &HashSet<String>) -> Option<&'p str> {
    path.split('/').find(|id| counties.contains(*id))
}

/// Every violation of the rules by `people` inspecting `targets`, one per
/// person, target and rule. `regional` says whether 地域回避 applies to the
/// round.
pub fn violations(
    people: &[Person<'_>],
    targets: &[Target<'_>],
    regional: bool,
    counties: &HashSet<String>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for target in targets {
        let target_county = county_of(target.path, counties);
        for person in people {
            let worked = in_subtree(person.home_path, target.path)
                || person
                    .posts
                    .iter()
                    .any(|p| in_subtree(&p.path, target.path));
            if worked {
                out.push(Violation {
                    kind: POST.as_str_name().into(),
                    subject: person.name.clone(),
                    description: format!(
                        "{} works or worked in {} (任职回避)",
                        person.name, target.name
                    ),
                });
            }
            if let Some(county) = target_county.filter(|_| regional) {
                let own = |path: &str| county_of(path, counties) == Some(county);
                let why = if own(person.home_path) {
                    Some("works in")
                } else if own(person.native_place_path) {
                    Some("comes from (籍贯)")
                } else {
                    None
                };
                if let Some(why) = why {
                    out.push(Violation {
                        kind: REGION.as_str_name().into(),
                        subject: person.name.clone(),
                        description: format!(
                            "{} {why} organisations/{county}, the county of {} (地域回避)",
                            person.name, target.name
                        ),
                    });
                }
            }
            let related = person
                .relations
                .iter()
                .any(|r| in_subtree(&r.path, target.path) || in_subtree(target.path, &r.path));
            if related {
                out.push(Violation {
                    kind: RELATION.as_str_name().into(),
                    subject: person.name.clone(),
                    description: format!(
                        "{} declared a relation to {} (公务回避)",
                        person.name, target.name
                    ),
                });
            }
        }
    }
    out
}

/// The refusal for a non-empty list of violations: the reason is the rule
/// of the first, the details list them all.
pub fn refuse(violations: Vec<Violation>) -> ApiError {
    let first = violations.first().map(|v| v.kind.as_str());
    let reason = [POST, REGION, RELATION]
        .into_iter()
        .find(|rule| first == Some(rule.as_str_name()))
        .unwrap_or(IN_OTHER_GROUP);
    let people: Vec<&str> = violations.iter().map(|v| v.subject.as_str()).collect();
    ApiError::precondition_with(
        reason,
        format!("avoidance refuses {}", people.join(", ")),
        violations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str) -> StoredPost {
        StoredPost {
            organisation_id: path.rsplit('/').next().unwrap_or_default().into(),
            path: path.into(),
            start: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("date"),
            end: None,
        }
    }

    #[test]
    fn each_rule_is_found() {
        let counties: HashSet<String> = ["xn".to_owned(), "qx".to_owned()].into();
        let target = Target {
            name: "organisations/xn-edu".into(),
            path: "gx/nn/xn/xn-edu",
        };
        let posts = [post("gx/nn/xn/xn-edu/school")];
        let relations = [StoredRelation {
            organisation_id: "xn".into(),
            path: "gx/nn/xn".into(),
        }];
        let worked = Person {
            name: "inspectors/a".into(),
            home_path: "gx/nn/qx",
            native_place_path: "",
            posts: &posts,
            relations: &[],
        };
        let local = Person {
            name: "inspectors/b".into(),
            home_path: "gx/nn/xn/xn-town",
            native_place_path: "",
            posts: &[],
            relations: &[],
        };
        let related = Person {
            name: "inspectors/c".into(),
            home_path: "gx/nn/qx",
            native_place_path: "",
            posts: &[],
            relations: &relations,
        };
        let v = violations(
            std::slice::from_ref(&worked),
            std::slice::from_ref(&target),
            true,
            &counties,
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, POST.as_str_name());
        let v = violations(
            std::slice::from_ref(&local),
            std::slice::from_ref(&target),
            true,
            &counties,
        );
        assert_eq!(v[0].kind, REGION.as_str_name());
        assert!(violations(&[local], std::slice::from_ref(&target), false, &counties).is_empty());
        let v = violations(&[related], std::slice::from_ref(&target), false, &counties);
        assert_eq!(v[0].kind, RELATION.as_str_name());
        // Working elsewhere, but born in the target's county.
        let native = Person {
            name: "inspectors/d".into(),
            home_path: "gx/nn/qx",
            native_place_path: "gx/nn/xn/xn-village",
            posts: &[],
            relations: &[],
        };
        let v = violations(
            std::slice::from_ref(&native),
            std::slice::from_ref(&target),
            true,
            &counties,
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, REGION.as_str_name());
        assert!(
            v[0].description
                .contains("comes from (籍贯) organisations/xn")
        );
        assert!(violations(&[native], &[target], false, &counties).is_empty());
    }
}
