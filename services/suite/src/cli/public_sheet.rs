//! `fiveledger export public`: the 双公开 public edition of a scope's latest
//! publications as a printable workbook, one sheet per inspected unit.
//! The content is what GetPublication returns for the PUBLIC edition (the
//! very bytes the public role reads), so nothing of the internal edition
//! or the ledger can reach the sheet.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use fiveledger_proto::ledgers::{
    GetPublicationRequest, ListPublicationsRequest, Publication, PublicationChange,
    PublicationChangeKind, PublicationEdition, PublishedItem, PublishedStatus,
};
use fiveledger_proto::rounds::ListInspectionsRequest;
use rust_xlsxwriter::Workbook;

use super::Output;
use super::connect::{Services, failed};
use super::export::{Cell, ExportTo, Kind, category_names, date, organisations_by_name};
use super::failure::{Failure, fail};
use super::ledger_workbook::{HEADER_ROW, Styles, header_row, title_block, write_row};
use super::scope::Scope;

/// Export the public edition (双公开) of a scope to .xlsx, a sheet per unit:
/// an inspection's unit, a round's inspected units, or the units within an
/// organisation path.
#[derive(Debug, Clone, Args)]
pub struct ExportPublicArgs {
    #[command(flatten)]
    pub to: ExportTo,
}

/// The columns of a unit's sheet: the public edition's fields, no more.
pub const PUBLIC_COLUMNS: &[(&str, Kind, f64)] = &[
    ("序号", Kind::Number, 7.0),
    ("问题", Kind::Text, 40.0),
    ("问题类别", Kind::Text, 18.0),
    ("整改措施", Kind::Text, 50.0),
    ("整改状态", Kind::Text, 12.0),
    ("完成日期", Kind::Date, 12.0),
];

/// The title of every unit's sheet.
pub const PUBLIC_TITLE: &str = "巡察整改情况公开";

/// Excel's longest sheet name, in UTF-16 units.
const SHEET_NAME_MAX: usize = 31;

pub fn status_label(status: PublishedStatus) -> &'static str {
    match status {
        PublishedStatus::Unspecified => "",
        PublishedStatus::Rectifying => "整改中",
        PublishedStatus::Completed => "已完成",
        PublishedStatus::Reopened => "重新整改",
    }
}

/// The measures as published, one per line, done ones marked.
pub fn measures_text(item: &PublishedItem) -> String {
    item.measures
        .iter()
        .map(|m| {
            let mark = if m.done { "✓" } else { "·" };
            format!("{mark} {}", m.description)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One item's row, in [`PUBLIC_COLUMNS`] order; the category by its
/// display name (`categories` maps `categories/{code}`).
pub fn row(index: usize, item: &PublishedItem, categories: &HashMap<String, String>) -> Vec<Cell> {
    let category = categories
        .get(&format!("categories/{}", item.category))
        .cloned()
        .unwrap_or_else(|| item.category.clone());
    vec![
        Cell::Number(index as i64 + 1),
        Cell::Text(item.title.clone()),
        Cell::Text(category),
        Cell::Text(measures_text(item)),
        Cell::Text(status_label(item.status()).to_owned()),
        Cell::Date(date(item.completion_date.as_ref())),
    ]
}

/// The day a publication was made, in China Standard Time (UTC+8, no
/// daylight saving): the date the offices print.
pub fn published_on(p: &Publication) -> Option<NaiveDate> {
    let t = p.publish_time.as_ref()?;
    let utc = fiveledger_platform::time::from_timestamp("publish_time", t).ok()?;
    let cst = chrono::FixedOffset::east_opt(8 * 3600)?;
    Some(utc.with_timezone(&cst).date_naive())
}

/// The line under a unit's title.
pub fn heading_line(unit: &str, scope: &str, p: &Publication) -> String {
    let as_of = published_on(p).map(|d| d.to_string()).unwrap_or_default();
    format!(
        "单位：{unit}　　范围：{scope}　　截至：{as_of}　　第{}版",
        p.version
    )
}

/// The line under a unit's table, from the publication's own counts.
pub fn total_line(p: &Publication) -> String {
    format!(
        "合计：共{}个问题，已完成{}个",
        p.item_count, p.completed_count
    )
}

/// The heading of the list of changes under a unit's table.
pub const CHANGES_TITLE: &str = "本版变化（与上一版相比）";

/// One change since the previous version, as the sheet prints it.
pub fn change_line(c: &PublicationChange) -> String {
    let (now, before) = (status_label(c.status()), status_label(c.previous_status()));
    match c.kind() {
        PublicationChangeKind::Added => format!("新增：{}（{now}）", c.title),
        PublicationChangeKind::StatusChanged => {
            format!("状态变化：{}（{before}→{now}）", c.title)
        }
        PublicationChangeKind::MeasuresChanged => format!("整改措施变化：{}（{now}）", c.title),
        PublicationChangeKind::Removed => format!("不再公开：{}（原为{before}）", c.title),
        PublicationChangeKind::Unspecified => c.title.clone(),
    }
}

/// The lines under a unit's totals: what changed since the previous
/// version (none for a first version, which has nothing to compare).
pub fn changes_lines(p: &Publication) -> Vec<String> {
    if p.previous.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![CHANGES_TITLE.to_owned()];
    if p.changes.is_empty() {
        lines.push("无变化".into());
    }
    lines.extend(p.changes.iter().map(change_line));
    lines
}

/// A sheet name Excel accepts for `unit`, distinct (ignoring case) from
/// those in `taken`: the characters Excel forbids become `_`, a leading or
/// trailing apostrophe goes, the name is cut to 31 UTF-16 units with room
/// for a `(2)` when another unit's name cut the same way came first.
pub fn sheet_name(unit: &str, taken: &mut HashSet<String>) -> String {
    let clean: String = unit
        .chars()
        .map(|c| match c {
            '[' | ']' | ':' | '*' | '?' | '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let clean = clean.trim().trim_matches('\'').trim();
    let clean = if clean.is_empty() { "单位" } else { clean };
    for n in 1.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("({n})")
        };
        let room = SHEET_NAME_MAX - suffix.len();
        let mut name = String::new();
        for c in clean.chars() {
            if name.encode_utf16().count() + c.len_utf16() > room {
                break;
            }
            name.push(c);
        }
        // A cut may leave a closing apostrophe, which Excel refuses.
        let name = format!("{}{suffix}", name.trim_end_matches('\''));
        // Excel reserves "History" for its own sheet.
        let key = name.to_lowercase();
        if key != "history" && taken.insert(key) {
            return name;
        }
    }
    unreachable!("some suffix is free")
}

/// One unit's sheet before it is written.
#[derive(Debug, Clone)]
pub struct UnitSheet {
    pub sheet: String,
    pub unit: String,
    pub publication: Publication,
}

/// The `ListPublications` filters covering the scope: a subtree by path,
/// an inspection by its unit, a round by the units it inspects.
async fn filters(services: &Services, scope: &Scope) -> anyhow::Result<Vec<String>> {
    let target = |t: &str| format!("target = \"{t}\"");
    Ok(match scope {
        Scope::Subtree(path) => vec![format!("target_subtree = \"{path}\"")],
        Scope::Inspection(name) => {
            vec![target(&services.inspection(name).await?.target)]
        }
        Scope::Round(round) => {
            let mut targets = BTreeSet::new();
            let mut token = String::new();
            loop {
                let page = services
                    .inspections()
                    .list_inspections(ListInspectionsRequest {
                        parent: round.clone(),
                        page_size: 1000,
                        page_token: token,
                        filter: String::new(),
                    })
                    .await
                    .map_err(|s| failed(&format!("listing the inspections of {round}"), s))?
                    .into_inner();
                targets.extend(page.inspections.into_iter().map(|i| i.target));
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            targets.iter().map(|t| target(t)).collect()
        }
    })
}

/// The latest publication of each unit in the scope (name by target path).
async fn latest(services: &Services, scope: &Scope) -> anyhow::Result<BTreeMap<String, String>> {
    let mut latest: BTreeMap<String, (i32, String)> = BTreeMap::new();
    for filter in filters(services, scope).await? {
        let mut token = String::new();
        loop {
            let page = services
                .publications()
                .list_publications(ListPublicationsRequest {
                    page_size: 1000,
                    page_token: token,
                    filter: filter.clone(),
                })
                .await
                .map_err(|s| failed(&format!("listing the publications of {scope}"), s))?
                .into_inner();
            for p in page.publications {
                let slot = latest.entry(p.target_path).or_default();
                if p.version > slot.0 {
                    *slot = (p.version, p.name);
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
    }
    Ok(latest.into_iter().map(|(path, (_, n))| (path, n)).collect())
}

/// The public edition of the scope's latest publications, one sheet per
/// unit, in target path order.
pub async fn unit_sheets(services: &Services, scope: &Scope) -> anyhow::Result<Vec<UnitSheet>> {
    let mut publications = Vec::new();
    for name in latest(services, scope).await?.into_values() {
        let p = services
            .publications()
            .get_publication(GetPublicationRequest {
                name: name.clone(),
                edition: PublicationEdition::Public as i32,
            })
            .await
            .map_err(|s| failed(&format!("reading the public edition of {name}"), s))?
            .into_inner();
        publications.push(p);
    }
    let units = organisations_by_name(
        services,
        publications.iter().map(|p| p.target.clone()).collect(),
    )
    .await?;
    let mut taken = HashSet::new();
    Ok(publications
        .into_iter()
        .map(|p| {
            let unit = units.get(&p.target).cloned().unwrap_or(p.target.clone());
            UnitSheet {
                sheet: sheet_name(&unit, &mut taken),
                unit,
                publication: p,
            }
        })
        .collect())
}

/// Writes the sheets: a title block, the items bordered and wrapped, the
/// publication's totals under them, printable on A4 landscape.
pub fn write(
    file: &Path,
    scope_title: &str,
    sheets: &[UnitSheet],
    categories: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let mut workbook = Workbook::new();
    let styles = Styles::new();
    let width = PUBLIC_COLUMNS.len() as u16;
    for s in sheets {
        let sheet = workbook.add_worksheet();
        sheet.set_name(&s.sheet)?;
        let line = heading_line(&s.unit, scope_title, &s.publication);
        title_block(sheet, &styles, PUBLIC_TITLE, &line, width)?;
        header_row(sheet, &styles, PUBLIC_COLUMNS)?;
        let items = &s.publication.items;
        for (i, item) in items.iter().enumerate() {
            let r = HEADER_ROW + 1 + i as u32;
            write_row(sheet, &styles, r, &row(i, item, categories), PUBLIC_COLUMNS)?;
        }
        let r = HEADER_ROW + 1 + items.len() as u32;
        sheet.write(r, 0, total_line(&s.publication))?;
        // A blank row, then the changes since the previous version.
        for (i, line) in changes_lines(&s.publication).iter().enumerate() {
            sheet.write(r + 2 + i as u32, 0, line.as_str())?;
        }
    }
    workbook
        .save(file)
        .with_context(|| format!("cannot write {}", file.display()))
}

pub async fn run(public: &ExportPublicArgs, services: &Services) -> anyhow::Result<()> {
    let args = &public.to;
    args.scope.check_exists(services).await?;
    let sheets = unit_sheets(services, &args.scope).await?;
    if sheets.is_empty() {
        return Err(fail(
            Failure::NotFound,
            format!(
                "--scope {}: nothing is published there yet (publish it first: `fiveledger publish --scope {}`)",
                args.scope, args.scope
            ),
        ));
    }
    let categories = category_names(services).await?;
    let scope_title = super::ledger_workbook::heading(services, &args.scope, None)
        .await?
        .scope;
    write(&args.file, &scope_title, &sheets, &categories)?;
    let items: usize = sheets.iter().map(|s| s.publication.items.len()).sum();
    let file = args.file.display().to_string();
    match args.output {
        Output::Json => crate::say!(
            "{}",
            serde_json::json!({
                "scope": args.scope.to_string(),
                "file": file,
                "units": sheets.len(),
                "items": items,
                "publications": sheets.iter().map(|s| &s.publication.name).collect::<Vec<_>>(),
                "changes": sheets.iter().map(|s| s.publication.changes.len()).sum::<usize>(),
            })
        ),
        Output::Text => crate::say!(
            "wrote the public edition of {} units ({items} items) of {} to {file}",
            sheets.len(),
            args.scope
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_excel_accepts() {
        let mut taken = HashSet::new();
        assert_eq!(sheet_name("兴宁区", &mut taken), "兴宁区");
        assert_eq!(sheet_name("a[b]:c*d?e/f\\g", &mut taken), "a_b__c_d_e_f_g");
        assert_eq!(sheet_name("'引号'", &mut taken), "引号");
        assert_eq!(sheet_name("  ", &mut taken), "单位");
        assert_eq!(sheet_name("History", &mut taken), "History(2)");
        let long = "南宁市青秀区人民政府办公室关于巡察整改情况公开的专项工作领导小组";
        let first = sheet_name(long, &mut taken);
        assert_eq!(first.encode_utf16().count(), SHEET_NAME_MAX);
        assert!(long.starts_with(&first));
        // Another unit whose name cuts the same way, and one differing by case.
        let second = sheet_name(long, &mut taken);
        assert!(second.ends_with("(2)") && second.encode_utf16().count() <= SHEET_NAME_MAX);
        assert_eq!(sheet_name("兴宁区", &mut taken), "兴宁区(2)");
        assert_eq!(sheet_name("ABC", &mut taken), "ABC");
        assert_eq!(sheet_name("abc", &mut taken), "abc(2)");
    }
}
