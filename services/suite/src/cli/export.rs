//! `fiveledger export ledger`: the rectification ledger (整改台账) of a scope
//! as an Excel workbook (with a summary sheet of the rates) or a CSV file.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::ListCategoriesRequest;
use fiveledger_proto::ledgers::{
    EntryState, GetStatisticsRequest, LedgerEntry, ListEntriesRequest, StatisticsCounts,
    StatisticsGrouping,
};
use fiveledger_proto::rounds::BatchGetOrganisationsRequest;
use fiveledger_proto::types::{Severity, WarningColour};

use super::connect::{Services, failed};
use super::ledger_workbook;
use super::progress::Progress;
use super::scope::Scope;
use super::{Output, ServiceArgs};

/// Export the rectification ledger of a scope to .xlsx or .csv.
#[derive(Debug, Clone, Args)]
pub struct ExportLedgerArgs {
    #[command(flatten)]
    pub to: ExportTo,
    /// File format (default: from the file name, else xlsx).
    #[arg(long, value_enum)]
    pub format: Option<Format_>,
}

/// What every export takes: the scope, the file, the suite, how to print.
#[derive(Debug, Clone, Args)]
pub struct ExportTo {
    /// An inspection (rounds/R/inspections/I), a round (rounds/R) or an
    /// organisation path (city/county: targets within it).
    #[arg(long)]
    pub scope: Scope,
    /// Where to write.
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub services: ServiceArgs,
    /// `json`: what was written (and any error) as JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// The file formats the ledger exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum Format_ {
    Xlsx,
    Csv,
}

/// What one column holds and how it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Date,
    Yuan,
}

/// The columns of the ledger sheet: header and kind.
pub const COLUMNS: &[(&str, Kind, f64)] = &[
    ("序号", Kind::Number, 7.0),
    ("问题", Kind::Text, 40.0),
    ("被巡察单位", Kind::Text, 22.0),
    ("问题类别", Kind::Text, 18.0),
    ("严重程度", Kind::Text, 10.0),
    ("整改措施", Kind::Text, 50.0),
    ("责任单位", Kind::Text, 22.0),
    ("第一责任人", Kind::Text, 12.0),
    ("分管领导", Kind::Text, 12.0),
    ("监督责任单位", Kind::Text, 22.0),
    ("交办日期", Kind::Date, 12.0),
    ("原定时限", Kind::Date, 12.0),
    ("当前时限", Kind::Date, 12.0),
    ("状态", Kind::Text, 14.0),
    ("整改进展", Kind::Text, 16.0),
    ("预警", Kind::Text, 8.0),
    ("移交情况", Kind::Text, 30.0),
    ("销号日期", Kind::Date, 12.0),
    ("追缴资金(元)", Kind::Yuan, 14.0),
    ("挽回损失(元)", Kind::Yuan, 14.0),
    ("问责", Kind::Number, 8.0),
    ("处分", Kind::Number, 8.0),
    ("建章立制", Kind::Number, 8.0),
    ("台账条目", Kind::Text, 22.0),
    ("问题编号", Kind::Text, 22.0),
];

/// One cell before it is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(i64),
    Date(Option<NaiveDate>),
    /// Money in fen, shown in yuan.
    Fen(i64),
}

impl Cell {
    /// The cell as CSV text (and as the xlsx cell reads back as text).
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
            Cell::Date(d) => d.map(|d| d.to_string()).unwrap_or_default(),
            Cell::Fen(f) => yuan(*f),
        }
    }
}

/// Fen as yuan with two decimals, exactly (no float on the way).
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

pub fn date(d: Option<&Date>) -> Option<NaiveDate> {
    d.and_then(|d| NaiveDate::from_ymd_opt(d.year, d.month as u32, d.day as u32))
}

pub fn state_label(state: EntryState) -> &'static str {
    match state {
        EntryState::Unspecified => "",
        EntryState::Open => "已报账",
        EntryState::HandedOver => "已交账",
        EntryState::Acknowledged => "已签收",
        EntryState::Planned => "方案待批",
        EntryState::Rectifying => "整改中",
        EntryState::Transferred => "已移交",
        EntryState::AwaitingVerification => "待验收",
        EntryState::WrittenOff => "已销号",
        EntryState::Reopened => "已重启",
    }
}

pub fn colour_label(colour: WarningColour) -> &'static str {
    match colour {
        WarningColour::Unspecified => "",
        WarningColour::Green => "绿",
        WarningColour::Blue => "蓝",
        WarningColour::Yellow => "黄",
        WarningColour::Red => "红",
    }
}

pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Unspecified => "",
        Severity::Minor => "一般",
        Severity::Major => "较重",
        Severity::Severe => "严重",
    }
}

/// The measures of the plan in force (or the pending one), one per line.
pub fn measures_text(entry: &LedgerEntry) -> String {
    entry
        .plan
        .as_ref()
        .or(entry.pending_plan.as_ref())
        .map(|p| {
            p.measures
                .iter()
                .map(|m| {
                    let mark = if m.done { "✓" } else { "·" };
                    format!("{mark} {} ({})", m.description, m.owner)
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

pub fn progress_text(entry: &LedgerEntry) -> String {
    match entry.plan.as_ref() {
        Some(p) if !p.measures.is_empty() => {
            let done = p.measures.iter().filter(|m| m.done).count();
            format!("{done}/{} 措施完成", p.measures.len())
        }
        _ => String::new(),
    }
}

pub fn transfer_text(entry: &LedgerEntry, names: &HashMap<String, String>) -> String {
    entry
        .transfers
        .iter()
        .map(|t| {
            let body = names.get(&t.receiving_body).unwrap_or(&t.receiving_body);
            let status = if !t.result.is_empty() {
                format!("已反馈: {}", t.result)
            } else if !t.acknowledged_by.is_empty() {
                "已签收".to_owned()
            } else {
                "已移交".to_owned()
            };
            format!("{} → {body} {status}", t.id)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The date of the approved write-off, if the entry stands written off.
pub fn written_off_date(entry: &LedgerEntry) -> Option<NaiveDate> {
    let w = entry.write_off.as_ref().filter(|w| w.approved)?;
    if entry.state() != EntryState::WrittenOff {
        return None;
    }
    let d = w.verify_date.as_ref()?;
    fiveledger_platform::time::from_date("verify_date", d).ok()
}

/// One ledger row, in column order. `names` maps organisation and
/// category names (`categories/{code}`) to display names.
pub fn row(index: usize, entry: &LedgerEntry, names: &HashMap<String, String>) -> Vec<Cell> {
    let name = |n: &str| Cell::Text(names.get(n).cloned().unwrap_or_else(|| n.to_owned()));
    let r = entry.responsibility.clone().unwrap_or_default();
    let figures = entry
        .write_off
        .as_ref()
        .filter(|w| w.approved)
        .and_then(|w| w.figures)
        .unwrap_or_default();
    vec![
        Cell::Number(index as i64 + 1),
        Cell::Text(entry.title.clone()),
        name(&entry.target),
        Cell::Text(
            names
                .get(&format!("categories/{}", entry.category))
                .cloned()
                .unwrap_or_else(|| entry.category.clone()),
        ),
        Cell::Text(severity_label(entry.severity()).to_owned()),
        Cell::Text(measures_text(entry)),
        name(&r.responsible_unit),
        Cell::Text(r.principal.clone()),
        Cell::Text(r.leader_in_charge.clone()),
        name(&r.supervising_body),
        Cell::Date(date(entry.handed_over_date.as_ref())),
        Cell::Date(date(entry.original_due_date.as_ref())),
        Cell::Date(date(entry.due_date.as_ref())),
        Cell::Text(state_label(entry.state()).to_owned()),
        Cell::Text(progress_text(entry)),
        Cell::Text(colour_label(entry.colour()).to_owned()),
        Cell::Text(transfer_text(entry, names)),
        Cell::Date(written_off_date(entry)),
        Cell::Fen(figures.funds_recovered_fen),
        Cell::Fen(figures.losses_recovered_fen),
        Cell::Number(figures.people_held_accountable.into()),
        Cell::Number(figures.people_disciplined.into()),
        Cell::Number(figures.rules_established.into()),
        Cell::Text(entry.name.clone()),
        Cell::Text(entry.problem.clone()),
    ]
}

/// Every entry of the scope, by name.
pub async fn entries(
    services: &Services,
    scope: &Scope,
    progress: &Progress,
) -> anyhow::Result<Vec<LedgerEntry>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = services
            .ledger()
            .list_entries(ListEntriesRequest {
                page_size: 1000,
                page_token: token,
                filter: scope.entries_filter(),
                order_by: String::new(),
            })
            .await
            .map_err(|s| failed(&format!("listing the entries of {scope}"), s))?
            .into_inner();
        progress.inc(page.entries.len() as u64);
        out.extend(page.entries);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        token = page.next_page_token;
    }
}

/// Display names of the organisations the entries name (one batch call per
/// thousand, never one per row) and of the categories (`categories/{code}`).
pub async fn display_names(
    services: &Services,
    entries: &[LedgerEntry],
) -> anyhow::Result<HashMap<String, String>> {
    let mut names = category_names(services).await?;
    let mut wanted = BTreeSet::new();
    for e in entries {
        wanted.insert(e.target.clone());
        if let Some(r) = &e.responsibility {
            wanted.insert(r.responsible_unit.clone());
            wanted.insert(r.supervising_body.clone());
        }
        for t in &e.transfers {
            wanted.insert(t.receiving_body.clone());
        }
    }
    wanted.retain(|n| n.starts_with("organisations/"));
    names.extend(organisations_by_name(services, wanted).await?);
    Ok(names)
}

/// `categories/{code}` → display name.
pub(crate) async fn category_names(services: &Services) -> anyhow::Result<HashMap<String, String>> {
    let mut names = HashMap::new();
    let mut token = String::new();
    loop {
        let page = services
            .categories()
            .list_categories(ListCategoriesRequest {
                page_size: 1000,
                page_token: token,
            })
            .await
            .map_err(|s| failed("reading the category catalogue", s))?
            .into_inner();
        names.extend(
            page.categories
                .into_iter()
                .map(|c| (c.name, c.display_name)),
        );
        if page.next_page_token.is_empty() {
            return Ok(names);
        }
        token = page.next_page_token;
    }
}

/// Display names of `organisations/…` names.
pub(crate) async fn organisations_by_name(
    services: &Services,
    wanted: BTreeSet<String>,
) -> anyhow::Result<HashMap<String, String>> {
    let wanted: Vec<String> = wanted.into_iter().collect();
    let mut names = HashMap::new();
    for chunk in wanted.chunks(1000) {
        let found = services
            .organisations()
            .batch_get_organisations(BatchGetOrganisationsRequest {
                names: chunk.to_vec(),
                allow_missing: false,
            })
            .await
            .map_err(|s| failed("reading the organisations' names", s))?
            .into_inner();
        for o in found.organisations {
            names.insert(o.name, o.display_name);
        }
    }
    Ok(names)
}

/// Statistics of the scope (GetStatistics). Where the ledgers service does
/// not offer GetStatistics yet (UNIMPLEMENTED), the totals are counted here
/// from the scope's entries, and a note says so on stderr.
pub async fn statistics(
    services: &Services,
    scope: &Scope,
    group_by: StatisticsGrouping,
) -> anyhow::Result<fiveledger_proto::ledgers::GetStatisticsResponse> {
    let mut request = GetStatisticsRequest {
        group_by: group_by as i32,
        ..Default::default()
    };
    match scope {
        Scope::Inspection(s) => request.inspection = s.clone(),
        Scope::Round(s) => request.round = s.clone(),
        Scope::Subtree(s) => request.organisation_path = s.clone(),
    }
    match services.statistics().get_statistics(request).await {
        Ok(r) => Ok(r.into_inner()),
        // Until the service answers GetStatistics (its contract came first).
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::Unimplemented | tonic::Code::PermissionDenied
            ) =>
        {
            eprintln!(
                "note: GetStatistics is not available ({}); figures counted from the entries",
                s.message()
            );
            let entries = entries(services, scope, &Progress::spinner("counting entries")).await?;
            let today = fiveledger_platform::time::Clock::system().today();
            Ok(fiveledger_proto::ledgers::GetStatisticsResponse {
                rows: Vec::new(),
                total: Some(fiveledger_proto::ledgers::StatisticsRow {
                    key: Some(fiveledger_proto::ledgers::StatisticsKey {
                        label: "total".into(),
                        ..Default::default()
                    }),
                    counts: Some(count(&entries, today)),
                }),
                as_of: Some(fiveledger_platform::time::to_date(today)),
            })
        }
        Err(s) => Err(failed(&format!("reading the statistics of {scope}"), s)),
    }
}

/// The figures of a set of entries, counted on the client (the fallback of
/// [`statistics`]): written off on time is judged by the first write-off
/// date against the original due date.
pub fn count(entries: &[LedgerEntry], today: NaiveDate) -> StatisticsCounts {
    let mut c = StatisticsCounts::default();
    for e in entries {
        c.found += 1;
        c.fixed_on_the_spot += i64::from(e.fixed_on_the_spot);
        let handed = e.handed_over_date.is_some();
        c.handed_over += i64::from(handed);
        c.transferred += i64::from(!e.transfers.is_empty());
        c.reopened += i64::from(e.reopen_count > 0);
        let written_off = e.state() == EntryState::WrittenOff;
        let original = date(e.original_due_date.as_ref());
        let first = date(e.first_written_off_date.as_ref());
        let on_time =
            matches!((first, original), (Some(f), Some(d)) if f <= d) && e.reopen_count == 0;
        if written_off {
            c.written_off += 1;
            if let Some(f) = e.write_off.as_ref().and_then(|w| w.figures.as_ref()) {
                c.funds_recovered_fen += f.funds_recovered_fen;
                c.losses_recovered_fen += f.losses_recovered_fen;
                c.people_held_accountable += i64::from(f.people_held_accountable);
                c.people_disciplined += i64::from(f.people_disciplined);
                c.rules_established += i64::from(f.rules_established);
            }
        } else {
            c.open += 1;
            match e.colour() {
                WarningColour::Green => c.green += 1,
                WarningColour::Blue => c.blue += 1,
                WarningColour::Yellow => {
                    c.yellow += 1;
                    c.overdue += 1
                }
                WarningColour::Red => {
                    c.red += 1;
                    c.overdue += 1
                }
                WarningColour::Unspecified => {}
            }
        }
        if handed && (on_time || original.is_some_and(|d| d < today)) {
            c.due_so_far += 1;
            c.written_off_on_time += i64::from(on_time);
        }
    }
    let rate = |n: i64, d: i64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    c.on_time_rate = rate(c.written_off_on_time, c.due_so_far);
    c.completion_rate = rate(c.written_off, c.found);
    c
}

/// What the export wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exported {
    pub file: String,
    pub entries: usize,
}

pub async fn run(ledger: &ExportLedgerArgs, services: &Services) -> anyhow::Result<()> {
    let args = &ledger.to;
    let format = ledger.format.unwrap_or_else(|| format_of(&args.file));
    let done = export_ledger(services, &args.scope, format, &args.file).await?;
    match args.output {
        Output::Json => crate::say!(
            "{}",
            serde_json::json!({
                "scope": args.scope.to_string(), "file": done.file, "entries": done.entries,
            })
        ),
        Output::Text => crate::say!(
            "wrote {} entries of {} to {}",
            done.entries,
            args.scope,
            done.file
        ),
    }
    Ok(())
}

pub fn format_of(path: &Path) -> Format_ {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => Format_::Csv,
        _ => Format_::Xlsx,
    }
}

pub async fn export_ledger(
    services: &Services,
    scope: &Scope,
    format: Format_,
    file: &Path,
) -> anyhow::Result<Exported> {
    scope.check_exists(services).await?;
    let progress = Progress::spinner("reading entries");
    let entries = entries(services, scope, &progress).await?;
    progress.finish();
    let names = display_names(services, &entries).await?;
    let rows: Vec<Vec<Cell>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| row(i, e, &names))
        .collect();
    match format {
        Format_::Csv => write_csv(file, &rows)?,
        Format_::Xlsx => {
            let by_unit = statistics(services, scope, StatisticsGrouping::Organisation).await?;
            let by_round = statistics(services, scope, StatisticsGrouping::Round).await?;
            let book = ledger_workbook::Book {
                heading: ledger_workbook::heading(services, scope, by_unit.as_of.as_ref()).await?,
                units: ledger_workbook::named_groups(services, &by_unit).await?,
                rounds: ledger_workbook::named_rounds(services, &by_round).await?,
                total: by_unit
                    .total
                    .as_ref()
                    .and_then(|t| t.counts)
                    .unwrap_or_default(),
            };
            ledger_workbook::write(file, &rows, &book)?
        }
    }
    Ok(Exported {
        file: file.display().to_string(),
        entries: rows.len(),
    })
}

fn write_csv(file: &Path, rows: &[Vec<Cell>]) -> anyhow::Result<()> {
    let mut out = Vec::new();
    // Excel needs the byte-order mark to read UTF-8 CSV.
    out.extend_from_slice(b"\xEF\xBB\xBF");
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(COLUMNS.iter().map(|(h, _, _)| *h))?;
        for row in rows {
            w.write_record(row.iter().map(Cell::text))?;
        }
        w.flush()?;
    }
    std::fs::write(file, out).with_context(|| format!("cannot write {}", file.display()))
}

pub use super::ledger_workbook::{HEADER_ROW, LEDGER_SHEET, SUMMARY_SHEET};

pub enum Figure {
    Count,
    Rate,
    Yuan,
}

/// The summary sheet's rows.
pub const SUMMARY_FIGURES: &[(&str, Figure)] = &[
    ("发现问题", Figure::Count),
    ("立行立改", Figure::Count),
    ("已交账", Figure::Count),
    ("已移交", Figure::Count),
    ("已销号", Figure::Count),
    ("未销号", Figure::Count),
    ("逾期", Figure::Count),
    ("重启", Figure::Count),
    ("按期整改率", Figure::Rate),
    ("办结率", Figure::Rate),
    ("追缴资金(元)", Figure::Yuan),
    ("挽回损失(元)", Figure::Yuan),
    ("问责", Figure::Count),
    ("党纪政务处分", Figure::Count),
    ("建立健全制度", Figure::Count),
    ("绿", Figure::Count),
    ("蓝", Figure::Count),
    ("黄", Figure::Count),
    ("红", Figure::Count),
    ("问题线索", Figure::Count),
    ("线索已处置", Figure::Count),
    ("线索已办结", Figure::Count),
];

/// The value of the `i`-th summary figure (yuan for money).
pub fn figure(c: &StatisticsCounts, i: usize) -> f64 {
    match i {
        0 => c.found as f64,
        1 => c.fixed_on_the_spot as f64,
        2 => c.handed_over as f64,
        3 => c.transferred as f64,
        4 => c.written_off as f64,
        5 => c.open as f64,
        6 => c.overdue as f64,
        7 => c.reopened as f64,
        8 => c.on_time_rate,
        9 => c.completion_rate,
        10 => c.funds_recovered_fen as f64 / 100.0,
        11 => c.losses_recovered_fen as f64 / 100.0,
        12 => c.people_held_accountable as f64,
        13 => c.people_disciplined as f64,
        14 => c.rules_established as f64,
        15 => c.green as f64,
        16 => c.blue as f64,
        17 => c.yellow as f64,
        18 => c.red as f64,
        // Clue figures: zero for callers who hold no clues.
        19 => c.clues.map_or(0, |k| k.registered) as f64,
        20 => c.clues.map_or(0, |k| k.disposed) as f64,
        _ => c.clues.map_or(0, |k| k.with_outcome) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fen_to_yuan_is_exact() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(123_456_789), "1234567.89");
        assert_eq!(yuan(-150), "-1.50");
    }
}
