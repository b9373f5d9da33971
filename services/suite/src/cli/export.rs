//! `fiveledger export ledger`: the rectification ledger (整改台账) of a scope
//! as an Excel workbook (with a summary sheet of the rates) or a CSV file.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::{
    EntryState, GetStatisticsRequest, LedgerEntry, ListEntriesRequest, StatisticsCounts,
    StatisticsGrouping,
};
use fiveledger_proto::rounds::BatchGetOrganisationsRequest;
use fiveledger_proto::types::{Severity, WarningColour};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook};

use super::connect::{Services, failed};
use super::progress::Progress;
use super::scope::Scope;
use super::{Output, ServiceArgs};

/// Export the rectification ledger of a scope to .xlsx or .csv.
#[derive(Debug, Clone, Args)]
pub struct ExportLedgerArgs {
    /// An inspection (rounds/R/inspections/I), a round (rounds/R) or an
    /// organisation path (city/county: targets within it).
    #[arg(long)]
    pub scope: Scope,
    /// File format (default: from the file name, else xlsx).
    #[arg(long, value_enum)]
    pub format: Option<Format_>,
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
    ("序号 No", Kind::Number, 7.0),
    ("问题 Problem", Kind::Text, 40.0),
    ("被巡察单位 Target", Kind::Text, 22.0),
    ("问题类别 Category", Kind::Text, 18.0),
    ("严重程度 Severity", Kind::Text, 10.0),
    ("整改措施 Measures", Kind::Text, 50.0),
    ("责任单位 Responsible unit", Kind::Text, 22.0),
    ("第一责任人 Principal", Kind::Text, 12.0),
    ("分管领导 Leader in charge", Kind::Text, 12.0),
    ("监督责任单位 Supervising body", Kind::Text, 22.0),
    ("交办日期 Handed over", Kind::Date, 12.0),
    ("原定时限 Original due date", Kind::Date, 12.0),
    ("当前时限 Current due date", Kind::Date, 12.0),
    ("状态 State", Kind::Text, 14.0),
    ("整改进展 Progress", Kind::Text, 16.0),
    ("预警 Colour", Kind::Text, 8.0),
    ("移交情况 Transfer", Kind::Text, 30.0),
    ("销号日期 Written off", Kind::Date, 12.0),
    ("追缴资金(元) Funds recovered", Kind::Yuan, 14.0),
    ("挽回损失(元) Losses recovered", Kind::Yuan, 14.0),
    ("问责 Held accountable", Kind::Number, 8.0),
    ("处分 Disciplined", Kind::Number, 8.0),
    ("建章立制 Rules", Kind::Number, 8.0),
    ("台账条目 Entry", Kind::Text, 22.0),
    ("问题编号 Problem id", Kind::Text, 22.0),
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
        EntryState::Open => "已报账 open",
        EntryState::HandedOver => "已交账 handed over",
        EntryState::Acknowledged => "已签收 acknowledged",
        EntryState::Planned => "方案待批 planned",
        EntryState::Rectifying => "整改中 rectifying",
        EntryState::Transferred => "已移交 transferred",
        EntryState::AwaitingVerification => "待验收 awaiting verification",
        EntryState::WrittenOff => "已销号 written off",
        EntryState::Reopened => "已重启 reopened",
    }
}

pub fn colour_label(colour: WarningColour) -> &'static str {
    match colour {
        WarningColour::Unspecified => "",
        WarningColour::Green => "绿 green",
        WarningColour::Blue => "蓝 blue",
        WarningColour::Yellow => "黄 yellow",
        WarningColour::Red => "红 red",
    }
}

pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Unspecified => "",
        Severity::Minor => "一般 minor",
        Severity::Major => "较重 major",
        Severity::Severe => "严重 severe",
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

/// One ledger row, in column order. `names` maps organisation names to
/// display names.
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
        Cell::Text(entry.category.clone()),
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
/// thousand, never one per row).
pub async fn organisation_names(
    services: &Services,
    entries: &[LedgerEntry],
) -> anyhow::Result<HashMap<String, String>> {
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

pub async fn run(args: &ExportLedgerArgs, services: &Services) -> anyhow::Result<()> {
    let format = args.format.unwrap_or_else(|| format_of(&args.file));
    let done = export_ledger(services, &args.scope, format, &args.file).await?;
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "scope": args.scope.to_string(), "file": done.file, "entries": done.entries,
            })
        ),
        Output::Text => println!(
            "wrote {} entries of {} to {}",
            done.entries, args.scope, done.file
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
    let names = organisation_names(services, &entries).await?;
    let rows: Vec<Vec<Cell>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| row(i, e, &names))
        .collect();
    match format {
        Format_::Csv => write_csv(file, &rows)?,
        Format_::Xlsx => {
            let stats = statistics(services, scope, StatisticsGrouping::Organisation).await?;
            write_xlsx(file, scope, &rows, &stats)?
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

/// Names of the two sheets.
pub const LEDGER_SHEET: &str = "整改台账 Ledger";
pub const SUMMARY_SHEET: &str = "汇总 Summary";

fn write_xlsx(
    file: &Path,
    scope: &Scope,
    rows: &[Vec<Cell>],
    stats: &fiveledger_proto::ledgers::GetStatisticsResponse,
) -> anyhow::Result<()> {
    let mut book = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_background_color(rust_xlsxwriter::Color::RGB(0xDDEBF7));
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    let money = Format::new().set_num_format("#,##0.00");
    let wrap = Format::new().set_text_wrap();
    let progress = Progress::new(rows.len() as u64, "writing rows");

    let sheet = book.add_worksheet();
    sheet.set_name(LEDGER_SHEET)?;
    for (c, (title, _, width)) in COLUMNS.iter().enumerate() {
        sheet.write_with_format(0, c as u16, *title, &header)?;
        sheet.set_column_width(c as u16, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) if s.is_empty() => {}
                Cell::Text(s) if s.contains('\n') => {
                    sheet.write_with_format(r, c, s.as_str(), &wrap)?;
                }
                Cell::Text(s) => {
                    sheet.write(r, c, s.as_str())?;
                }
                Cell::Number(n) => {
                    sheet.write(r, c, *n as f64)?;
                }
                Cell::Date(None) => {}
                Cell::Date(Some(d)) => {
                    let d = ExcelDateTime::parse_from_str(&d.to_string())?;
                    sheet.write_datetime_with_format(r, c, &d, &date_format)?;
                }
                Cell::Fen(f) => {
                    // Two decimals of yuan: exact in a double for any
                    // realistic amount (below 2^53 fen).
                    sheet.write_with_format(r, c, *f as f64 / 100.0, &money)?;
                }
            }
        }
        progress.inc(1);
    }
    if !rows.is_empty() {
        sheet.autofilter(0, 0, rows.len() as u32, COLUMNS.len() as u16 - 1)?;
    }
    progress.finish();

    let summary = book.add_worksheet();
    summary.set_name(SUMMARY_SHEET)?;
    summary.set_column_width(0, 30)?;
    summary.write_with_format(
        0,
        0,
        format!("范围 Scope: {scope}"),
        &Format::new().set_bold(),
    )?;
    if let Some(as_of) = date(stats.as_of.as_ref()) {
        summary.write(1, 0, "截至 As of")?;
        let d = ExcelDateTime::parse_from_str(&as_of.to_string())?;
        summary.write_datetime_with_format(1, 1, &d, &date_format)?;
    }
    let percent = Format::new().set_num_format("0.0%");
    let mut groups: Vec<(String, StatisticsCounts)> = stats
        .rows
        .iter()
        .map(|r| {
            (
                r.key.as_ref().map(|k| k.label.clone()).unwrap_or_default(),
                r.counts.unwrap_or_default(),
            )
        })
        .collect();
    groups.push((
        "合计 Total".to_owned(),
        stats
            .total
            .as_ref()
            .and_then(|t| t.counts)
            .unwrap_or_default(),
    ));
    let header_row = 3;
    summary.write_with_format(header_row, 0, "指标 Figure", &header)?;
    for (g, (label, _)) in groups.iter().enumerate() {
        let c = g as u16 + 1;
        summary.write_with_format(header_row, c, label.as_str(), &header)?;
        summary.set_column_width(c, 16)?;
    }
    for (i, (label, kind)) in SUMMARY_FIGURES.iter().enumerate() {
        let r = header_row + 1 + i as u32;
        summary.write(r, 0, *label)?;
        for (g, (_, counts)) in groups.iter().enumerate() {
            let c = g as u16 + 1;
            let value = figure(counts, i);
            match kind {
                Figure::Count => summary.write(r, c, value)?,
                Figure::Rate => summary.write_with_format(r, c, value, &percent)?,
                Figure::Yuan => summary.write_with_format(r, c, value, &money)?,
            };
        }
    }
    summary.set_freeze_panes(header_row + 1, 1)?;
    book.save(file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(())
}

pub enum Figure {
    Count,
    Rate,
    Yuan,
}

/// The summary sheet's rows.
pub const SUMMARY_FIGURES: &[(&str, Figure)] = &[
    ("发现问题 Found", Figure::Count),
    ("立行立改 Fixed on the spot", Figure::Count),
    ("已交账 Handed over", Figure::Count),
    ("已移交 Transferred", Figure::Count),
    ("已销号 Written off", Figure::Count),
    ("未销号 Open", Figure::Count),
    ("逾期 Overdue", Figure::Count),
    ("重启 Reopened", Figure::Count),
    ("按期整改率 On-time rate", Figure::Rate),
    ("办结率 Completion rate", Figure::Rate),
    ("追缴资金(元) Funds recovered", Figure::Yuan),
    ("挽回损失(元) Losses recovered", Figure::Yuan),
    ("问责 Held accountable", Figure::Count),
    ("党纪政务处分 Disciplined", Figure::Count),
    ("建立健全制度 Rules established", Figure::Count),
    ("绿 Green", Figure::Count),
    ("蓝 Blue", Figure::Count),
    ("黄 Yellow", Figure::Count),
    ("红 Red", Figure::Count),
    ("问题线索 Clues", Figure::Count),
    ("线索已处置 Clues disposed", Figure::Count),
    ("线索已办结 Clues concluded", Figure::Count),
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
