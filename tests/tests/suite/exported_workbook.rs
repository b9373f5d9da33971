//! An exported ledger workbook read back as an office's superior would get
//! it: with calamine for the cells (names, Chinese labels, the title
//! block, figures equal to GetStatistics), and as the xlsx zip for what
//! calamine does not read (print setup, borders, the charts).

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use fiveledger::cli::Services;
use fiveledger::cli::charts::{CHARTS_SHEET, COLOURS};
use fiveledger::cli::export::{self, COLUMNS, HEADER_ROW, SUMMARY_FIGURES};
use fiveledger::cli::scope::Scope;
use fiveledger_proto::ledgers::{self as l, StatisticsCounts};
use fiveledger_proto::rounds as r;

pub(crate) fn text(range: &calamine::Range<Data>, row: usize, column: usize) -> String {
    range
        .get((row, column))
        .map(fiveledger::cli::table::cell_text)
        .unwrap_or_default()
}

fn number(range: &calamine::Range<Data>, row: usize, column: usize) -> f64 {
    match range.get((row, column)) {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        other => panic!("({row}, {column}) is not a number: {other:?}"),
    }
}

fn has_latin(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_alphabetic())
}

/// The display name of an organisation path's last segment.
async fn organisation_name(s: &Services, path: &str) -> String {
    let id = path.rsplit('/').next().unwrap();
    s.organisations()
        .get_organisation(r::GetOrganisationRequest {
            name: format!("organisations/{id}"),
        })
        .await
        .expect("organisation")
        .into_inner()
        .display_name
}

/// Checks the workbook at `path`, exported for `scope`, against the
/// suite's own answers.
pub(crate) async fn check(
    admin: &Services,
    scope: &Scope,
    path: &Path,
    scope_title: &str,
    exported_by: &str,
) {
    let by_unit = export::statistics(admin, scope, l::StatisticsGrouping::Organisation)
        .await
        .unwrap();
    let by_round = export::statistics(admin, scope, l::StatisticsGrouping::Round)
        .await
        .unwrap();
    let total = by_unit.total.as_ref().unwrap().counts.unwrap();
    let as_of = export::date(by_unit.as_of.as_ref()).unwrap();
    let mut units: Vec<(String, StatisticsCounts)> = Vec::new();
    for row in &by_unit.rows {
        let key = row.key.as_ref().unwrap();
        units.push((
            organisation_name(admin, &key.organisation_path).await,
            row.counts.unwrap(),
        ));
    }
    assert!(!units.is_empty());

    let mut book = open_workbook_auto(path).unwrap();
    let ledger = book.worksheet_range(export::LEDGER_SHEET).unwrap();
    // The title block: what, which scope by name, as of when, who.
    assert_eq!(text(&ledger, 0, 0), "巡察整改台账");
    assert_eq!(
        text(&ledger, 1, 0),
        format!("范围：{scope_title}　　截至：{as_of}　　导出人：{exported_by}")
    );
    let header = HEADER_ROW as usize;
    for (c, (h, _, _)) in COLUMNS.iter().enumerate() {
        assert_eq!(text(&ledger, header, c), *h);
        assert!(!has_latin(h), "{h}");
    }
    // Names, not keys; Chinese labels only.
    let rows = ledger.height() - header - 1;
    assert!(rows > 0);
    for r in header + 1..ledger.height() {
        for c in [2, 3, 4, 6, 9, 13, 15] {
            let v = text(&ledger, r, c);
            assert!(
                !has_latin(&v) && !v.contains('/'),
                "row {r} column {c}: {v:?}"
            );
        }
        assert!(!text(&ledger, r, 13).is_empty(), "a state in row {r}");
    }

    // The summary: a column per unit by name, then the total; every
    // figure equals GetStatistics.
    let summary = book.worksheet_range(export::SUMMARY_SHEET).unwrap();
    assert_eq!(text(&summary, 0, 0), "巡察整改情况汇总");
    let mut columns: Vec<(String, StatisticsCounts)> = units.clone();
    columns.push(("合计".into(), total));
    for (g, (name, counts)) in columns.iter().enumerate() {
        assert_eq!(text(&summary, header, g + 1), *name);
        for (i, (label, _)) in SUMMARY_FIGURES.iter().enumerate() {
            assert_eq!(text(&summary, header + 1 + i, 0), *label);
            assert!(!has_latin(label), "{label}");
            let got = number(&summary, header + 1 + i, g + 1);
            let want = export::figure(counts, i);
            assert!((got - want).abs() < 1e-9, "{name} {label}: {got} != {want}");
        }
    }

    // The charts' tables equal GetStatistics too.
    let charts = book.worksheet_range(CHARTS_SHEET).unwrap();
    for (i, (name, counts)) in units.iter().enumerate() {
        assert_eq!(text(&charts, i + 1, 0), *name);
        assert_eq!(number(&charts, i + 1, 1), counts.on_time_rate);
        assert_eq!(number(&charts, i + 1, 2), counts.completion_rate);
    }
    let colours = [total.green, total.blue, total.yellow, total.red];
    for (i, ((label, _), n)) in COLOURS.iter().zip(colours).enumerate() {
        assert_eq!(text(&charts, i + 1, 4), *label);
        assert_eq!(number(&charts, i + 1, 5), n as f64);
    }
    let found: i64 = by_round.rows.iter().map(|r| r.counts.unwrap().found).sum();
    let written_off: i64 = by_round
        .rows
        .iter()
        .map(|r| r.counts.unwrap().written_off)
        .sum();
    assert_eq!((found, written_off), (total.found, total.written_off));
    for i in 0..by_round.rows.len() {
        assert!(!text(&charts, i + 1, 7).starts_with("rounds/"));
    }
    let charted: f64 = (0..by_round.rows.len())
        .map(|i| number(&charts, i + 1, 8))
        .sum();
    assert_eq!(charted, found as f64);

    // What calamine does not read, from the xlsx itself.
    let parts = xlsx_parts(path);
    let sheet1 = &parts["xl/worksheets/sheet1.xml"];
    for want in [
        "paperSize=\"9\"",
        "orientation=\"landscape\"",
        "fitToHeight=\"0\"",
        "fitToPage=\"1\"",
        "horizontalCentered=\"1\"",
        "<autoFilter ref=\"A3:",
        "ySplit=\"3\"",
        "<mergeCell ref=\"A1:",
    ] {
        assert!(sheet1.contains(want), "sheet1.xml lacks {want}");
    }
    assert!(parts["xl/workbook.xml"].contains("_xlnm.Print_Titles"));
    assert!(parts["xl/styles.xml"].contains("<left style=\"thin\">"));
    assert!(parts["xl/styles.xml"].contains("wrapText=\"1\""));
    let chart_kinds: Vec<(&str, &str)> = [
        ("xl/charts/chart1.xml", "<c:barChart>"),
        ("xl/charts/chart2.xml", "<c:pieChart>"),
        ("xl/charts/chart3.xml", "<c:lineChart>"),
    ]
    .into_iter()
    .filter(|(part, kind)| parts.get(*part).is_some_and(|x| x.contains(kind)))
    .collect();
    assert_eq!(
        chart_kinds.len(),
        3,
        "charts: {:?}",
        parts
            .keys()
            .filter(|k| k.contains("chart"))
            .collect::<Vec<_>>()
    );
    for (part, title) in [
        ("xl/charts/chart1.xml", "各单位按期整改率与办结率"),
        ("xl/charts/chart2.xml", "未销号问题四色预警"),
        ("xl/charts/chart3.xml", "发现问题与已销号"),
    ] {
        assert!(parts[part].contains(title), "{part} lacks {title}");
    }
    // The pie's slices are the warning colours.
    for (_, rgb) in COLOURS {
        assert!(parts["xl/charts/chart2.xml"].contains(&format!("{rgb:06X}")));
    }
}

/// The XML parts of an xlsx file by path.
pub(crate) fn xlsx_parts(path: &Path) -> HashMap<String, String> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut parts = HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        if name.ends_with(".xml") {
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            parts.insert(name, text);
        }
    }
    parts
}
