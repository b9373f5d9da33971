//! The exported ledger as an office hands it upward: a title block (what,
//! which scope, as of when, who exported), the ledger with borders and
//! wrapped text, printable (A4 landscape, header rows repeated, fit to the
//! page width), a summary sheet by unit and the charts sheet, in Chinese
//! and by display names throughout.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::{GetStatisticsResponse, StatisticsCounts};
use fiveledger_proto::rounds::GetRoundRequest;
use rust_xlsxwriter::{
    Color, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use super::charts::{self, ChartData};
use super::connect::{Services, failed};
use super::export::{
    COLUMNS, Cell, Figure, Kind, SUMMARY_FIGURES, date, figure, organisations_by_name,
};
use super::progress::Progress;
use super::scope::Scope;

pub const LEDGER_SHEET: &str = "整改台账";
pub const SUMMARY_SHEET: &str = "汇总";
/// The header row of the ledger and summary sheets (0-based): the title
/// block takes the rows above it.
pub const HEADER_ROW: u32 = 2;
/// A4 in Excel's paper sizes.
const A4: u8 = 9;

/// The title block.
#[derive(Debug, Clone, Default)]
pub struct Heading {
    /// The scope by display names.
    pub scope: String,
    pub as_of: Option<NaiveDate>,
    pub exported_by: String,
}

impl Heading {
    /// The line under the title.
    pub fn line(&self) -> String {
        let as_of = self.as_of.map(|d| d.to_string()).unwrap_or_default();
        format!(
            "范围：{}　　截至：{as_of}　　导出人：{}",
            self.scope, self.exported_by
        )
    }
}

/// What the workbook shows besides the rows.
#[derive(Debug, Clone, Default)]
pub struct Book {
    pub heading: Heading,
    /// The scope's figures by unit, by display name.
    pub units: Vec<(String, StatisticsCounts)>,
    /// By round, by display name, oldest first.
    pub rounds: Vec<(String, StatisticsCounts)>,
    pub total: StatisticsCounts,
}

/// The title block of a scope: its display names, the statistics' as-of
/// date, and the caller's name.
pub async fn heading(
    services: &Services,
    scope: &Scope,
    as_of: Option<&Date>,
) -> anyhow::Result<Heading> {
    let round_name = |name: String| async move {
        services
            .rounds()
            .get_round(GetRoundRequest { name: name.clone() })
            .await
            .map(|r| r.into_inner().display_name)
            .map_err(|s| failed(&format!("reading {name}"), s))
    };
    let organisation = |name: String| async move {
        let found = organisations_by_name(services, BTreeSet::from([name.clone()])).await?;
        Ok::<_, anyhow::Error>(found.get(&name).cloned().unwrap_or(name))
    };
    let scope_text = match scope {
        Scope::Inspection(name) => {
            let i = services.inspection(name).await?;
            let round = round_name(
                i.name
                    .split("/inspections/")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            )
            .await?;
            format!("{round}·{}", organisation(i.target).await?)
        }
        Scope::Round(name) => round_name(name.clone()).await?,
        Scope::Subtree(path) => {
            let last = path.rsplit('/').next().unwrap_or(path);
            organisation(format!("organisations/{last}")).await?
        }
    };
    Ok(Heading {
        scope: scope_text,
        as_of: date(as_of),
        exported_by: services.exporter(),
    })
}

/// The rows of a statistics answer grouped by organisation, labelled by the
/// organisation's display name (the last segment of the path names it).
pub async fn named_groups(
    services: &Services,
    stats: &GetStatisticsResponse,
) -> anyhow::Result<Vec<(String, StatisticsCounts)>> {
    let name_of = |path: &str| format!("organisations/{}", path.rsplit('/').next().unwrap_or(path));
    let wanted = stats
        .rows
        .iter()
        .filter_map(|r| r.key.as_ref())
        .map(|k| name_of(&k.organisation_path))
        .collect();
    let names = organisations_by_name(services, wanted).await?;
    Ok(stats
        .rows
        .iter()
        .map(|r| {
            let key = r.key.clone().unwrap_or_default();
            let label = names
                .get(&name_of(&key.organisation_path))
                .cloned()
                .unwrap_or(key.label);
            (label, r.counts.unwrap_or_default())
        })
        .collect())
}

/// The rows grouped by round, by the round's display name, oldest first.
pub async fn named_rounds(
    services: &Services,
    stats: &GetStatisticsResponse,
) -> anyhow::Result<Vec<(String, StatisticsCounts)>> {
    let mut rounds = Vec::new();
    for r in &stats.rows {
        let key = r.key.clone().unwrap_or_default();
        let round = services
            .rounds()
            .get_round(GetRoundRequest {
                name: key.round.clone(),
            })
            .await
            .map_err(|s| failed(&format!("reading {}", key.round), s))?
            .into_inner();
        let start = date(round.planned_start_date.as_ref());
        rounds.push((start, round.display_name, r.counts.unwrap_or_default()));
    }
    rounds.sort_by_key(|(start, _, _)| *start);
    Ok(rounds.into_iter().map(|(_, n, c)| (n, c)).collect())
}

/// Formats of the workbook (the public edition's too).
pub(crate) struct Styles {
    title: Format,
    subtitle: Format,
    header: Format,
    text: Format,
    wrapped: Format,
    date: Format,
    money: Format,
    count: Format,
    percent: Format,
}

impl Styles {
    pub(crate) fn new() -> Self {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        Self {
            title: Format::new()
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center),
            subtitle: Format::new(),
            header: cell
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_background_color(Color::RGB(0xDDEBF7)),
            text: cell.clone(),
            wrapped: cell.clone().set_text_wrap(),
            date: cell.clone().set_num_format("yyyy-mm-dd"),
            money: cell.clone().set_num_format("#,##0.00"),
            count: cell.clone(),
            percent: cell.set_num_format("0.0%"),
        }
    }
}

/// A title over `width` columns and the heading `line` under it; then the
/// page set up for print with the rows to `HEADER_ROW` repeated.
pub(crate) fn title_block(
    sheet: &mut Worksheet,
    styles: &Styles,
    title: &str,
    line: &str,
    width: u16,
) -> Result<(), XlsxError> {
    sheet.merge_range(0, 0, 0, width - 1, title, &styles.title)?;
    sheet.merge_range(1, 0, 1, width - 1, line, &styles.subtitle)?;
    sheet.set_row_height(0, 28)?;
    sheet
        .set_landscape()
        .set_paper_size(A4)
        .set_print_fit_to_pages(1, 0)
        .set_print_center_horizontally(true);
    sheet.set_repeat_rows(0, HEADER_ROW)?;
    Ok(())
}

pub fn write(file: &Path, rows: &[Vec<Cell>], book: &Book) -> anyhow::Result<()> {
    let mut workbook = Workbook::new();
    let styles = Styles::new();
    ledger_sheet(&mut workbook, &styles, rows, &book.heading)?;
    summary_sheet(&mut workbook, &styles, book)?;
    let data = ChartData {
        by_unit: book
            .units
            .iter()
            .map(|(n, c)| (n.clone(), c.on_time_rate, c.completion_rate))
            .collect(),
        colours: [
            book.total.green,
            book.total.blue,
            book.total.yellow,
            book.total.red,
        ],
        by_round: book
            .rounds
            .iter()
            .map(|(n, c)| (n.clone(), c.found, c.written_off))
            .collect(),
    };
    charts::write(&mut workbook, &data, &styles.header, &styles.percent)?;
    workbook
        .save(file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(())
}

fn ledger_sheet(
    workbook: &mut Workbook,
    styles: &Styles,
    rows: &[Vec<Cell>],
    heading: &Heading,
) -> anyhow::Result<()> {
    let progress = Progress::new(rows.len() as u64, "writing rows");
    let sheet = workbook.add_worksheet();
    sheet.set_name(LEDGER_SHEET)?;
    title_block(
        sheet,
        styles,
        "巡察整改台账",
        &heading.line(),
        COLUMNS.len() as u16,
    )?;
    header_row(sheet, styles, COLUMNS)?;
    for (r, row) in rows.iter().enumerate() {
        write_row(sheet, styles, HEADER_ROW + 1 + r as u32, row, COLUMNS)?;
        progress.inc(1);
    }
    if !rows.is_empty() {
        sheet.autofilter(
            HEADER_ROW,
            0,
            HEADER_ROW + rows.len() as u32,
            COLUMNS.len() as u16 - 1,
        )?;
    }
    progress.finish();
    Ok(())
}

/// The header row of a table with `columns`, their widths, and the panes
/// frozen under it.
pub(crate) fn header_row(
    sheet: &mut Worksheet,
    styles: &Styles,
    columns: &[(&str, Kind, f64)],
) -> Result<(), XlsxError> {
    for (c, (title, _, width)) in columns.iter().enumerate() {
        sheet.write_with_format(HEADER_ROW, c as u16, *title, &styles.header)?;
        sheet.set_column_width(c as u16, *width)?;
    }
    sheet.set_freeze_panes(HEADER_ROW + 1, 0)?;
    Ok(())
}

/// One table row at sheet row `r`, bordered, long text wrapped.
pub(crate) fn write_row(
    sheet: &mut Worksheet,
    styles: &Styles,
    r: u32,
    row: &[Cell],
    columns: &[(&str, Kind, f64)],
) -> Result<(), XlsxError> {
    for (c, cell) in row.iter().enumerate() {
        // Long text wraps within its column rather than running on.
        let long = columns[c].2 >= 20.0;
        let c = c as u16;
        match cell {
            Cell::Text(s) if s.is_empty() => {
                sheet.write_blank(r, c, &styles.text)?;
            }
            Cell::Text(s) => {
                let f = if long || s.contains('\n') {
                    &styles.wrapped
                } else {
                    &styles.text
                };
                sheet.write_with_format(r, c, s.as_str(), f)?;
            }
            Cell::Number(n) => {
                sheet.write_with_format(r, c, *n as f64, &styles.count)?;
            }
            Cell::Date(None) => {
                sheet.write_blank(r, c, &styles.date)?;
            }
            Cell::Date(Some(d)) => {
                let d = ExcelDateTime::parse_from_str(&d.to_string())?;
                sheet.write_datetime_with_format(r, c, &d, &styles.date)?;
            }
            Cell::Fen(f) => {
                // Two decimals of yuan: exact in a double for any
                // realistic amount (below 2^53 fen).
                sheet.write_with_format(r, c, *f as f64 / 100.0, &styles.money)?;
            }
        }
    }
    Ok(())
}

fn summary_sheet(workbook: &mut Workbook, styles: &Styles, book: &Book) -> anyhow::Result<()> {
    let mut groups: Vec<(&str, &StatisticsCounts)> =
        book.units.iter().map(|(n, c)| (n.as_str(), c)).collect();
    groups.push(("合计", &book.total));
    let summary = workbook.add_worksheet();
    summary.set_name(SUMMARY_SHEET)?;
    let width = groups.len() as u16 + 1;
    title_block(
        summary,
        styles,
        "巡察整改情况汇总",
        &book.heading.line(),
        width.max(4),
    )?;
    summary.set_column_width(0, 24)?;
    summary.write_with_format(HEADER_ROW, 0, "指标", &styles.header)?;
    for (g, (label, _)) in groups.iter().enumerate() {
        let c = g as u16 + 1;
        summary.write_with_format(HEADER_ROW, c, *label, &styles.header)?;
        summary.set_column_width(c, 16)?;
    }
    for (i, (label, kind)) in SUMMARY_FIGURES.iter().enumerate() {
        let r = HEADER_ROW + 1 + i as u32;
        summary.write_with_format(r, 0, *label, &styles.text)?;
        for (g, (_, counts)) in groups.iter().enumerate() {
            let c = g as u16 + 1;
            let value = figure(counts, i);
            let f = match kind {
                Figure::Count => &styles.count,
                Figure::Rate => &styles.percent,
                Figure::Yuan => &styles.money,
            };
            summary.write_with_format(r, c, value, f)?;
        }
    }
    summary.set_freeze_panes(HEADER_ROW + 1, 1)?;
    Ok(())
}
