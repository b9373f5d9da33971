//! The charts sheet of the exported ledger: native Excel charts offices
//! paste into their reports, each drawn from a small table on the same
//! sheet (on-time and completion rates by unit, the four colours of open
//! items, found against written off round by round).

use rust_xlsxwriter::{
    Chart, ChartFormat, ChartPoint, ChartSolidFill, ChartType, Format, Workbook, XlsxError,
};

pub const CHARTS_SHEET: &str = "图表";

/// The figures the charts draw, all from GetStatistics.
#[derive(Debug, Clone, Default)]
pub struct ChartData {
    /// `(unit, on-time rate, completion rate)`.
    pub by_unit: Vec<(String, f64, f64)>,
    /// Open items by colour: green, blue, yellow, red.
    pub colours: [i64; 4],
    /// `(round, found, written off)`, oldest first.
    pub by_round: Vec<(String, i64, i64)>,
}

/// The colours' labels and their fills.
pub const COLOURS: [(&str, u32); 4] = [
    ("绿色", 0x00B050),
    ("蓝色", 0x0070C0),
    ("黄色", 0xFFC000),
    ("红色", 0xFF0000),
];

/// Where each table sits: first column, and its headers.
const UNIT_TABLE: (u16, [&str; 3]) = (0, ["单位", "按期整改率", "办结率"]);
const COLOUR_TABLE: (u16, [&str; 2]) = (4, ["预警颜色", "未销号问题"]);
const ROUND_TABLE: (u16, [&str; 3]) = (7, ["巡察轮次", "发现问题", "已销号"]);

pub fn write(
    book: &mut Workbook,
    data: &ChartData,
    header: &Format,
    percent: &Format,
) -> Result<(), XlsxError> {
    let sheet = book.add_worksheet();
    sheet.set_name(CHARTS_SHEET)?;
    sheet
        .set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0);
    let headers = |sheet: &mut rust_xlsxwriter::Worksheet, first: u16, names: &[&str]| {
        for (i, h) in names.iter().enumerate() {
            sheet.write_with_format(0, first + i as u16, *h, header)?;
            sheet.set_column_width(first + i as u16, if i == 0 { 22 } else { 12 })?;
        }
        Ok::<_, XlsxError>(())
    };
    headers(sheet, UNIT_TABLE.0, &UNIT_TABLE.1)?;
    for (r, (unit, on_time, completion)) in data.by_unit.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write(r, UNIT_TABLE.0, unit.as_str())?;
        sheet.write_with_format(r, UNIT_TABLE.0 + 1, *on_time, percent)?;
        sheet.write_with_format(r, UNIT_TABLE.0 + 2, *completion, percent)?;
    }
    headers(sheet, COLOUR_TABLE.0, &COLOUR_TABLE.1)?;
    for (r, ((label, _), n)) in COLOURS.iter().zip(data.colours).enumerate() {
        let r = r as u32 + 1;
        sheet.write(r, COLOUR_TABLE.0, *label)?;
        sheet.write(r, COLOUR_TABLE.0 + 1, n as f64)?;
    }
    headers(sheet, ROUND_TABLE.0, &ROUND_TABLE.1)?;
    for (r, (round, found, written_off)) in data.by_round.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write(r, ROUND_TABLE.0, round.as_str())?;
        sheet.write(r, ROUND_TABLE.0 + 1, *found as f64)?;
        sheet.write(r, ROUND_TABLE.0 + 2, *written_off as f64)?;
    }

    let below = data.by_unit.len().max(data.by_round.len()).max(4) as u32 + 3;
    let range = |first: u16, column: u16, rows: usize| {
        (CHARTS_SHEET, 1, first + column, rows as u32, first + column)
    };
    if !data.by_unit.is_empty() {
        let mut chart = Chart::new(ChartType::Column);
        chart.title().set_name("各单位按期整改率与办结率");
        chart.y_axis().set_num_format("0%");
        for (column, name) in [(1, "按期整改率"), (2, "办结率")] {
            chart
                .add_series()
                .set_name(name)
                .set_categories(range(UNIT_TABLE.0, 0, data.by_unit.len()))
                .set_values(range(UNIT_TABLE.0, column, data.by_unit.len()));
        }
        sheet.insert_chart(below, 0, &chart)?;
    }
    let mut pie = Chart::new(ChartType::Pie);
    pie.title().set_name("未销号问题四色预警");
    let points: Vec<ChartPoint> = COLOURS
        .iter()
        .map(|(_, rgb)| {
            ChartPoint::new().set_format(
                ChartFormat::new().set_solid_fill(ChartSolidFill::new().set_color(*rgb)),
            )
        })
        .collect();
    pie.add_series()
        .set_name("未销号问题")
        .set_categories(range(COLOUR_TABLE.0, 0, COLOURS.len()))
        .set_values(range(COLOUR_TABLE.0, 1, COLOURS.len()))
        .set_points(&points);
    sheet.insert_chart(below, 8, &pie)?;
    if !data.by_round.is_empty() {
        let mut chart = Chart::new(ChartType::Line);
        chart.title().set_name("发现问题与已销号（按巡察轮次）");
        for (column, name) in [(1, "发现问题"), (2, "已销号")] {
            chart
                .add_series()
                .set_name(name)
                .set_categories(range(ROUND_TABLE.0, 0, data.by_round.len()))
                .set_values(range(ROUND_TABLE.0, column, data.by_round.len()));
        }
        sheet.insert_chart(below + 16, 0, &chart)?;
    }
    Ok(())
}
