//! One sheet row as a problem: the names it refers to, resolved once for
//! the whole file, and the cells parsed in the user's terms.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use fiveledger_issues::domain::problem as domain;
use fiveledger_platform::ApiError;
use fiveledger_proto::issues::{FixedOnTheSpot, Problem, Responsibilities};
use fiveledger_proto::rounds::{GetInspectionRequest, ListOrganisationsRequest};
use fiveledger_proto::types::Severity;

use super::categories::{Catalogue, normalise};
use super::connect::{Services, failed};
use super::import_columns::Column;
use super::import_report::CellError;
use super::table::{Row, Table};

/// What rows refer to by name, resolved once for the whole file (no call
/// per row).
pub(super) struct Lookup {
    categories: Catalogue,
    /// Organisation cell value → `organisations/…`, or why it cannot be.
    organisations: HashMap<String, Result<String, String>>,
    today: NaiveDate,
}

impl Lookup {
    pub(super) async fn load(
        services: &Services,
        inspection: &str,
        table: &Table,
        columns: &BTreeMap<Column, usize>,
        synonyms: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let found = services
            .inspections()
            .get_inspection(GetInspectionRequest {
                name: inspection.to_owned(),
            })
            .await
            .map_err(|s| failed(&format!("reading inspection {inspection}"), s))?
            .into_inner();
        let categories = Catalogue::load(services, synonyms).await?;
        // Names are looked up within the organisation running the round:
        // every county has a "纪委监委", the right one is the one above.
        let level = found
            .round_organisation_path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut wanted = BTreeSet::new();
        for column in [
            Column::MainUnit,
            Column::SupervisingBody,
            Column::FunctionalDepartment,
            Column::ReceivingBody,
        ] {
            if let Some(&i) = columns.get(&column) {
                for row in &table.rows {
                    let v = row.cell(i);
                    if !v.is_empty() && !v.starts_with("organisations/") {
                        wanted.insert(v.to_owned());
                    }
                }
            }
        }
        let mut organisations = HashMap::new();
        for name in wanted {
            let filter = format!(
                "display_name = \"{}\" AND ancestor = \"organisations/{level}\"",
                name.replace('"', "\\\"")
            );
            let page = services
                .organisations()
                .list_organisations(ListOrganisationsRequest {
                    page_size: 10,
                    filter,
                    ..Default::default()
                })
                .await
                .map_err(|s| failed(&format!("looking up the organisation {name:?}"), s))?
                .into_inner();
            let resolved = match page.organisations.as_slice() {
                [one] => Ok(one.name.clone()),
                [] => Err(format!(
                    "no organisation named {name:?} under {}",
                    found.round_organisation_path
                )),
                many => Err(format!(
                    "{name:?} names {} organisations ({}); write the resource name instead",
                    many.len(),
                    many.iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            organisations.insert(name, resolved);
        }
        Ok(Self {
            categories,
            organisations,
            today: chrono::Local::now().date_naive(),
        })
    }

    pub(super) fn organisation(&self, value: &str) -> Result<String, String> {
        if value.starts_with("organisations/") {
            return Ok(value.to_owned());
        }
        self.organisations
            .get(value)
            .cloned()
            .unwrap_or_else(|| Err(format!("{value:?} was not looked up")))
    }
}

pub(super) fn to_problem(
    table: &Table,
    columns: &BTreeMap<Column, usize>,
    by_field: &HashMap<&'static str, String>,
    lookup: &Lookup,
    row: &Row,
) -> Result<Problem, Vec<CellError>> {
    let mut errors = Vec::new();
    let cell = |c: Column| columns.get(&c).map(|&i| row.cell(i)).unwrap_or("");
    let mut refuse = |c: Column, reason: &str, message: String| {
        errors.push(CellError::at(
            table, row.number, columns, c, reason, message,
        ))
    };

    let category = cell(Column::Category);
    let category = match lookup.categories.resolve(category) {
        Some(code) => code,
        None if category.is_empty() => {
            refuse(Column::Category, "REQUIRED", "the category is empty".into());
            String::new()
        }
        None => {
            refuse(
                Column::Category,
                "UNKNOWN_CATEGORY",
                format!(
                    "{category:?} is neither the name nor the code of a category; the categories are {}",
                    lookup.categories.valid_list()
                ),
            );
            String::new()
        }
    };
    let severity = match parse_severity(cell(Column::Severity)) {
        Some(s) => s as i32,
        None => {
            refuse(
                Column::Severity,
                "INVALID_SEVERITY",
                format!(
                    "{:?} is not 一般/较重/严重 (minor/major/severe)",
                    cell(Column::Severity)
                ),
            );
            0
        }
    };
    let description = cell(Column::Description).to_owned();
    let title = match cell(Column::Title) {
        "" => title_from(&description),
        t => t.to_owned(),
    };
    let mut org = |c: Column| -> String {
        let v = cell(c);
        if v.is_empty() {
            return String::new();
        }
        match lookup.organisation(v) {
            Ok(name) => name,
            Err(message) => {
                refuse(c, "UNKNOWN_ORGANISATION", message);
                String::new()
            }
        }
    };
    let main_unit = org(Column::MainUnit);
    let supervising_body = org(Column::SupervisingBody);
    let functional_department = org(Column::FunctionalDepartment);
    let fixed = match fixed_on_the_spot(
        cell(Column::FixedOnTheSpot),
        cell(Column::FixedDate),
        lookup.today,
    ) {
        Ok(f) => f,
        Err((column, message)) => {
            refuse(column, "INVALID_FIXED_ON_THE_SPOT", message);
            None
        }
    };
    // The service's own field checks, so that every bad cell of every row
    // is reported in one pass rather than after the client's are fixed.
    let principal = cell(Column::Principal);
    let leader = cell(Column::LeaderInCharge);
    for check in [
        domain::parse_title("title", &title).map(drop),
        domain::parse_description("description", &description).map(drop),
        domain::parse_principal("", principal).map(drop),
        domain::parse_person("", "leader_in_charge", leader).map(drop),
    ] {
        if let Err(ApiError::InvalidArgument {
            field,
            reason,
            description,
        }) = check
        {
            let column = by_field.get(field.as_str()).cloned().unwrap_or(field);
            errors.push(CellError::named(
                table,
                row.number,
                column,
                reason,
                description,
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Problem {
        category,
        severity,
        title,
        description,
        fixed_on_the_spot: fixed,
        responsibilities: Some(Responsibilities {
            main_unit,
            principal: cell(Column::Principal).to_owned(),
            leader_in_charge: cell(Column::LeaderInCharge).to_owned(),
            supervising_body,
            functional_department,
            ..Default::default()
        }),
        ..Default::default()
    })
}

pub fn parse_severity(s: &str) -> Option<Severity> {
    match normalise(s).as_str() {
        "" | "一般" | "minor" | "低" | "1" => Some(Severity::Minor),
        "较重" | "较严重" | "major" | "中" | "2" => Some(Severity::Major),
        "严重" | "severe" | "高" | "3" => Some(Severity::Severe),
        _ => None,
    }
}

/// A short title from a description: its first sentence, at most 60 characters.
pub fn title_from(description: &str) -> String {
    let first = description
        .split(['。', '；', ';', '\n'])
        .next()
        .unwrap_or_default()
        .trim();
    first.chars().take(60).collect()
}

fn yes_no(s: &str) -> Option<bool> {
    match normalise(s).as_str() {
        "是" | "y" | "yes" | "true" | "1" | "√" | "已整改" => Some(true),
        "" | "否" | "n" | "no" | "false" | "0" | "×" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let s = s.split([' ', 'T']).next().unwrap_or(s);
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// 立行立改: yes/no, a date, or the action taken; the date column (or
/// today) dates it.
fn fixed_on_the_spot(
    cell: &str,
    date_cell: &str,
    today: NaiveDate,
) -> Result<Option<FixedOnTheSpot>, (Column, String)> {
    let date = match date_cell {
        "" => None,
        d => Some(parse_date(d).ok_or_else(|| {
            (
                Column::FixedDate,
                format!("{d:?} is not a date (YYYY-MM-DD)"),
            )
        })?),
    };
    let (fixed, action) = match (yes_no(cell), parse_date(cell)) {
        (Some(b), _) => (b, "立行立改".to_owned()),
        (None, Some(d)) => return Ok(Some(fixed_record(date.unwrap_or(d), "立行立改"))),
        (None, None) => (true, cell.to_owned()),
    };
    if !fixed {
        return match date {
            Some(_) => Err((
                Column::FixedDate,
                "a date is given but the problem is not marked fixed on the spot".into(),
            )),
            None => Ok(None),
        };
    }
    Ok(Some(fixed_record(date.unwrap_or(today), &action)))
}

fn fixed_record(date: NaiveDate, action: &str) -> FixedOnTheSpot {
    FixedOnTheSpot {
        date: Some(fiveledger_platform::time::to_date(date)),
        action: action.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_on_the_spot_cells() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(fixed_on_the_spot("否", "", today), Ok(None));
        assert_eq!(fixed_on_the_spot("", "", today), Ok(None));
        let f = fixed_on_the_spot("是", "2026-03-01", today)
            .unwrap()
            .unwrap();
        assert_eq!(f.date.unwrap().month, 3);
        let f = fixed_on_the_spot("已退还违规发放补贴", "", today)
            .unwrap()
            .unwrap();
        assert_eq!(f.action, "已退还违规发放补贴");
        assert!(fixed_on_the_spot("是", "yesterday", today).is_err());
    }

    #[test]
    fn severities_and_titles() {
        assert_eq!(parse_severity(""), Some(Severity::Minor));
        assert_eq!(parse_severity("严重"), Some(Severity::Severe));
        assert_eq!(parse_severity("Major"), Some(Severity::Major));
        assert_eq!(parse_severity("very"), None);
        assert_eq!(
            title_from("落实主体责任不到位。具体表现为……"),
            "落实主体责任不到位"
        );
    }
}
