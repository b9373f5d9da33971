//! Inspectors (巡察干部) of the talent pool and what avoidance needs of them.

use chrono::NaiveDate;
use fiveledger_platform::ApiError;
use fiveledger_platform::aip::names::{self, validate_text};
use fiveledger_platform::error::CommonReason;
use fiveledger_platform::time::{from_date, from_optional_date};
use fiveledger_proto::rounds::ErrorReason;
use fiveledger_proto::rounds::Inspector;
use serde::{Deserialize, Serialize};

use super::organisation;

pub const COLLECTION: &str = "inspectors";
pub const MAX_DISPLAY_NAME: usize = 200;
pub const MAX_SUBJECT: usize = 256;
/// Most posts or relations one person may list.
pub const MAX_LIST: usize = 50;

pub fn name_of(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// A past post as stored (the organisation's path is resolved on write).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPost {
    pub organisation_id: String,
    pub path: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// A declared relation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRelation {
    pub organisation_id: String,
    pub path: String,
}

/// A post as requested, before its organisation is looked up.
#[derive(Debug, Clone)]
pub struct PostInput {
    pub organisation_id: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// The validated fields of an inspector (create, or the masked part of an
/// update).
#[derive(Debug, Clone, Default)]
pub struct InspectorInput {
    pub display_name: String,
    pub subject: String,
    pub home_organisation_id: String,
    /// Empty: none recorded (or cleared by an update).
    pub native_place_id: String,
    pub posts: Vec<PostInput>,
    pub relations: Vec<String>,
}

impl InspectorInput {
    /// Parses the fields named in `fields` (all on create).
    pub fn parse(inspector: &Inspector, fields: &[&str]) -> Result<Self, ApiError> {
        let mut out = Self::default();
        if fields.contains(&"display_name") {
            validate_text(
                "inspector.display_name",
                &inspector.display_name,
                true,
                MAX_DISPLAY_NAME,
            )?;
            out.display_name = inspector.display_name.trim().to_owned();
        }
        if fields.contains(&"subject") {
            validate_text("inspector.subject", &inspector.subject, false, MAX_SUBJECT)?;
            out.subject = inspector.subject.trim().to_owned();
        }
        if fields.contains(&"home_organisation") {
            out.home_organisation_id = names::parse(
                "inspector.home_organisation",
                &inspector.home_organisation,
                organisation::COLLECTION,
            )?
            .to_owned();
        }
        if fields.contains(&"native_place") && !inspector.native_place.is_empty() {
            out.native_place_id = names::parse(
                "inspector.native_place",
                &inspector.native_place,
                organisation::COLLECTION,
            )?
            .to_owned();
        }
        if fields.contains(&"past_posts") {
            if inspector.past_posts.len() > MAX_LIST {
                return Err(ApiError::invalid(
                    "inspector.past_posts",
                    CommonReason::TooMany,
                    format!("at most {MAX_LIST} past posts"),
                ));
            }
            for (i, post) in inspector.past_posts.iter().enumerate() {
                let field = format!("inspector.past_posts[{i}]");
                let organisation_id = names::parse(
                    &format!("{field}.organisation"),
                    &post.organisation,
                    organisation::COLLECTION,
                )?
                .to_owned();
                let start = from_date(
                    &format!("{field}.start_date"),
                    post.start_date
                        .as_ref()
                        .ok_or_else(|| ApiError::required(format!("{field}.start_date")))?,
                )?;
                let end = from_optional_date(&format!("{field}.end_date"), post.end_date.as_ref())?;
                if end.is_some_and(|end| end < start) {
                    return Err(ApiError::invalid(
                        format!("{field}.end_date"),
                        ErrorReason::EndBeforeStart,
                        "a post cannot end before it starts",
                    ));
                }
                out.posts.push(PostInput {
                    organisation_id,
                    start,
                    end,
                });
            }
        }
        if fields.contains(&"related_organisations") {
            if inspector.related_organisations.len() > MAX_LIST {
                return Err(ApiError::invalid(
                    "inspector.related_organisations",
                    CommonReason::TooMany,
                    format!("at most {MAX_LIST} related organisations"),
                ));
            }
            for (i, name) in inspector.related_organisations.iter().enumerate() {
                let id = names::parse(
                    &format!("inspector.related_organisations[{i}]"),
                    name,
                    organisation::COLLECTION,
                )?;
                if !out.relations.iter().any(|r| r == id) {
                    out.relations.push(id.to_owned());
                }
            }
        }
        Ok(out)
    }

    /// Every organisation this input refers to, for one batched lookup.
    pub fn organisation_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        if !self.home_organisation_id.is_empty() {
            ids.push(self.home_organisation_id.clone());
        }
        if !self.native_place_id.is_empty() {
            ids.push(self.native_place_id.clone());
        }
        ids.extend(self.posts.iter().map(|p| p.organisation_id.clone()));
        ids.extend(self.relations.iter().cloned());
        ids.sort();
        ids.dedup();
        ids
    }
}
