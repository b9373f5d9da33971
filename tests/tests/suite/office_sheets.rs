//! Spreadsheets as inspection offices keep them, imported over gRPC into a
//! real suite: title rows and merged cells, the 方面 wording of categories
//! and the office's synonyms, a GBK CSV, bad rows all reported in one pass.

use std::collections::HashMap;
use std::path::Path;

use fiveledger::cli::Services;
use fiveledger::cli::connect::admin_token;
use fiveledger::cli::import::{ImportRejected, Options, import_problems};
use fiveledger_e2e::spawn_suite;
use fiveledger_proto::issues::{ListProblemsRequest, Problem};
use rust_xlsxwriter::{Format, Workbook, Worksheet};

use fiveledger_proto::ledgers as l;

use crate::cli::{args, cli, date, entries_of, report_and_hand_over, stationed_inspection, today};
use crate::ledger_history::steps;

/// The header of an office's 问题清单, with a column the import does not
/// read (督办人).
const HEADERS: &[&str] = &[
    "序号",
    "问题类别",
    "问题描述",
    "严重程度",
    "责任单位",
    "责任领导",
    "分管领导",
    "监督责任单位",
    "督办人",
];

/// Two merged title rows, the header in row 3, a 问题类别 merged down the
/// rows of its problems, and two notes rows under the table.
pub(crate) fn write_office_sheet(path: &Path, extra_headers: &[&str], extra: &[Vec<String>]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("整改台账").unwrap();
    let width = (HEADERS.len() + extra_headers.len()) as u16 - 1;
    let title = Format::new().set_bold();
    sheet
        .merge_range(0, 0, 0, width, "测试市财政局巡察反馈问题整改台账", &title)
        .unwrap();
    sheet
        .merge_range(
            1,
            0,
            1,
            width,
            "填报单位：测试市财政局    填报日期：2026年3月1日",
            &Format::new(),
        )
        .unwrap();
    for (c, h) in HEADERS.iter().chain(extra_headers).enumerate() {
        sheet.write(2, c as u16, *h).unwrap();
    }
    // 问题类别 as offices write them: merged over the rows of their problems.
    merge_down(sheet, 3, 5, 1, "党的领导方面");
    merge_down(sheet, 6, 7, 1, "全面从严治党方面");
    sheet.write(8, 1, "选人用人工作方面问题").unwrap();
    for i in 0..6u32 {
        let row = 3 + i;
        sheet.write(row, 0, f64::from(i + 1)).unwrap();
        sheet
            .write(row, 2, format!("第{i}个问题。具体表现如下"))
            .unwrap();
        sheet
            .write(row, 3, ["一般", "较重", "严重"][i as usize % 3])
            .unwrap();
        sheet.write(row, 4, "测试市财政局").unwrap();
        sheet.write(row, 5, format!("局长{i}")).unwrap();
        sheet.write(row, 6, format!("副局长{i}")).unwrap();
        sheet.write(row, 7, "测试市纪委监委").unwrap();
        sheet.write(row, 8, "督办员").unwrap();
        for (c, v) in extra.get(i as usize).into_iter().flatten().enumerate() {
            if !v.is_empty() {
                sheet
                    .write(row, (HEADERS.len() + c) as u16, v.as_str())
                    .unwrap();
            }
        }
    }
    sheet
        .merge_range(
            10,
            0,
            10,
            width,
            "注：整改时限自反馈之日起计算。",
            &Format::new(),
        )
        .unwrap();
    sheet.write(11, 0, "填表人：张三    审核人：李四").unwrap();
    book.save(path).unwrap();
}

fn merge_down(sheet: &mut Worksheet, first: u32, last: u32, column: u16, text: &str) {
    sheet
        .merge_range(first, column, last, column, text, &Format::new())
        .unwrap();
}

pub(crate) async fn problems_of(s: &Services, inspection: &str) -> HashMap<String, Problem> {
    let page = s
        .problems()
        .list_problems(ListProblemsRequest {
            page_size: 1000,
            filter: format!("inspection = \"{inspection}\""),
            ..Default::default()
        })
        .await
        .expect("problems")
        .into_inner();
    page.problems
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_sheets_with_titles_merged_cells_and_gbk_import() {
    let suite = spawn_suite(Default::default()).await;
    let signer = fiveledger::signer(&suite.env.settings).unwrap();
    let admin = Services::with_token(&args(&suite), &admin_token(&signer, "cli-admin")).unwrap();
    let inspection = stationed_inspection(&admin).await;
    let dir = tempfile::tempdir().unwrap();

    // --strict refuses the column the import does not read, storing nothing.
    let sheet = dir.path().join("office.xlsx");
    write_office_sheet(&sheet, &[], &[]);
    let strict = Options {
        strict: true,
        ..Default::default()
    };
    let err = import_problems(&admin, &sheet, &inspection, &strict)
        .await
        .expect_err("--strict refuses 督办人");
    assert!(format!("{err:#}").contains("督办人"), "{err:#}");
    assert!(problems_of(&admin, &inspection).await.is_empty());

    // Without it: titles and notes skipped, the merged category carried
    // down, the 方面 wording read, the unknown column a warning.
    let imported = import_problems(&admin, &sheet, &inspection, &Default::default())
        .await
        .expect("the office's sheet imports");
    assert_eq!(imported.header_row, 3);
    assert_eq!(imported.skipped_rows, vec![1, 2, 11, 12]);
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert!(imported.warnings[0].contains("督办人"));
    assert_eq!(imported.encoding, None);
    let stored = problems_of(&admin, &inspection).await;
    let got: Vec<(&str, &str, &str)> = imported
        .problems
        .iter()
        .map(|n| {
            let p = &stored[n];
            let r = p.responsibilities.as_ref().unwrap();
            (
                p.category.as_str(),
                r.principal.as_str(),
                r.main_unit.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("party-leadership", "局长0", "organisations/t-finance"),
            ("party-leadership", "局长1", "organisations/t-finance"),
            ("party-leadership", "局长2", "organisations/t-finance"),
            ("strict-governance", "局长3", "organisations/t-finance"),
            ("strict-governance", "局长4", "organisations/t-finance"),
            ("personnel-selection", "局长5", "organisations/t-finance"),
        ]
    );

    // A CSV saved by Chinese Excel (GBK), with the office's own wording
    // for a category in a synonym list, through the command line.
    let synonyms = dir.path().join("synonyms.txt");
    std::fs::write(&synonyms, "# 本办用语\n政治建设 = 党的领导\n").unwrap();
    let text = "序号,问题类别,问题描述,第一责任人\r\n1,政治建设方面,政治建设不到位,王五\r\n2,党的建设方面,组织生活不规范,赵六\r\n";
    let (gbk, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable && std::str::from_utf8(&gbk).is_err());
    let csv = dir.path().join("gbk.csv");
    std::fs::write(&csv, &gbk).unwrap();
    let with_synonyms = Options {
        synonyms: Some(synonyms.clone()),
        ..Default::default()
    };
    let imported = import_problems(&admin, &csv, &inspection, &with_synonyms)
        .await
        .expect("the GBK CSV imports");
    assert_eq!(imported.encoding.as_deref(), Some("GB18030 (GBK)"));
    let stored = problems_of(&admin, &inspection).await;
    let got: Vec<(&str, &str)> = imported
        .problems
        .iter()
        .map(|n| (stored[n].category.as_str(), stored[n].title.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("party-leadership", "政治建设不到位"),
            ("party-building", "组织生活不规范")
        ]
    );
    cli(
        &suite,
        &[
            "import",
            "problems",
            csv.to_str().unwrap(),
            "--inspection",
            &inspection,
            "--synonyms",
            synonyms.to_str().unwrap(),
            "--output",
            "json",
        ],
    )
    .await
    .expect("the command line reads the synonyms too");
    // The same rows again: already stored, so nothing is added.
    assert_eq!(problems_of(&admin, &inspection).await.len(), 8);
    suite.suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_row_of_a_sheet_is_reported_in_one_pass() {
    let suite = spawn_suite(Default::default()).await;
    let signer = fiveledger::signer(&suite.env.settings).unwrap();
    let admin = Services::with_token(&args(&suite), &admin_token(&signer, "cli-admin")).unwrap();
    let inspection = stationed_inspection(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let long = "张".repeat(80);
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        format!(
            "某局问题清单\n序号,问题类别,问题描述,严重程度,第一责任人\n\
             1,党的领导方面,问题一,一般,王五\n\
             2,财务管理方面,问题二,一般,王五\n\
             3,党的建设,问题三,一般,{long}\n\
             4,不存在,问题四,很严重,王五\n\
             5,全面从严治党,,一般,王五\n\
             注：以上问题由巡察组反馈\n"
        ),
    )
    .unwrap();
    let err = import_problems(&admin, &csv, &inspection, &Default::default())
        .await
        .expect_err("bad rows");
    let rejected = err.downcast_ref::<ImportRejected>().expect("row errors");
    let got: Vec<(usize, &str, &str)> = rejected
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "问题类别", "UNKNOWN_CATEGORY"),
            (5, "第一责任人", "TOO_LONG"),
            (6, "问题类别", "UNKNOWN_CATEGORY"),
            (6, "严重程度", "INVALID_SEVERITY"),
            (7, "问题描述", "REQUIRED_FIELD"),
        ],
        "{rejected}"
    );
    let unknown = &rejected.errors[0].message;
    for valid in [
        "党的领导 (party-leadership)",
        "惠民政策落实 (benefit-policies)",
    ] {
        assert!(unknown.contains(valid), "{unknown}");
    }
    assert!(problems_of(&admin, &inspection).await.is_empty());
    suite.suite.stop().await.unwrap();
}

/// `YYYY年M月D日`, as offices write a date.
pub(crate) fn chinese(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

pub(crate) async fn posting_counts(s: &Services, inspection: &str) -> Vec<(String, i64)> {
    let mut counts: Vec<(String, i64)> = entries_of(s, inspection)
        .await
        .into_iter()
        .map(|e| (e.name, e.posting_count))
        .collect();
    counts.sort();
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_ledger_moves_in_and_a_second_import_changes_nothing() {
    let suite = spawn_suite(Default::default()).await;
    let signer = fiveledger::signer(&suite.env.settings).unwrap();
    let admin = Services::with_token(&args(&suite), &admin_token(&signer, "cli-admin")).unwrap();
    let inspection = stationed_inspection(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let due = today() + chrono::Days::new(60);
    // Finished before the import: recorded after the fact (补录).
    let finished = today() - chrono::Days::new(5);
    let sheet = dir.path().join("ledger.xlsx");
    write_office_sheet(
        &sheet,
        &[
            "整改措施",
            "整改时限",
            "整改责任人",
            "完成情况",
            "完成时间",
            "备注",
        ],
        &[
            vec![
                "1.重新传达学习；2.建立工作台账".into(),
                chinese(due),
                "办公室".into(),
                "已完成整改".into(),
                chinese(finished),
                "已约谈相关责任人".into(),
            ],
            vec![
                "修订财务制度".into(),
                chinese(due),
                String::new(),
                "整改中，制度已起草".into(),
                String::new(),
                String::new(),
            ],
        ],
    );
    let on_behalf = Options {
        on_behalf: true,
        ..Default::default()
    };
    let check = Options {
        check: true,
        ..on_behalf.clone()
    };

    // A dry run stores nothing and says what the real run would do.
    let dry = import_problems(&admin, &sheet, &inspection, &check)
        .await
        .expect("dry run");
    assert!(dry.check);
    assert_eq!(dry.already_imported, Vec::<usize>::new());
    assert_eq!(dry.awaiting_entries, vec![4, 5]);
    assert!(problems_of(&admin, &inspection).await.is_empty());

    // Before the hand-over: the problems go in, the ledger columns wait.
    let first = import_problems(&admin, &sheet, &inspection, &on_behalf)
        .await
        .expect("import before the hand-over");
    assert_eq!(first.problems.len(), 6);
    assert_eq!(first.awaiting_entries, vec![4, 5]);
    assert!(first.ledger_steps.is_empty());
    let again = import_problems(&admin, &sheet, &inspection, &on_behalf)
        .await
        .expect("the same sheet again");
    assert!(again.problems.is_empty(), "{:?}", again.problems);
    assert_eq!(again.already_imported, vec![4, 5, 6, 7, 8, 9]);
    assert_eq!(problems_of(&admin, &inspection).await.len(), 6);

    // After it: the dry run lists the steps and takes none.
    report_and_hand_over(&admin, &inspection, 6).await;
    let before = posting_counts(&admin, &inspection).await;
    let want: Vec<(usize, String)> = [
        (4, "acknowledged"),
        (4, "plan submitted and approved"),
        (4, "progress"),
        // 已完成整改: written off after the fact, on the 完成时间.
        (4, "write-off requested"),
        (4, "write-off approved"),
        (4, "remark"),
        (5, "acknowledged"),
        (5, "plan submitted and approved"),
        (5, "progress"),
    ]
    .into_iter()
    .map(|(r, s)| (r, s.to_owned()))
    .collect();
    let dry = import_problems(&admin, &sheet, &inspection, &check)
        .await
        .expect("dry run after the hand-over");
    assert_eq!(steps(&dry), want);
    assert_eq!(posting_counts(&admin, &inspection).await, before);

    // The real run takes them: the plan on the unit's behalf, progress, a remark.
    let moved = import_problems(&admin, &sheet, &inspection, &on_behalf)
        .await
        .expect("the ledger columns apply");
    assert_eq!(steps(&moved), want);
    let entries = entries_of(&admin, &inspection).await;
    let by_problem = |name: &str| {
        entries
            .iter()
            .find(|e| e.problem == name)
            .expect("entry")
            .clone()
    };
    let done = by_problem(&first.problems[0]);
    let plan = done.plan.clone().expect("an approved plan");
    let measures: Vec<(&str, &str, bool)> = plan
        .measures
        .iter()
        .map(|m| (m.description.as_str(), m.owner.as_str(), m.done))
        .collect();
    assert_eq!(
        measures,
        vec![
            ("重新传达学习", "办公室", true),
            ("建立工作台账", "办公室", true)
        ]
    );
    assert_eq!(plan.due_date, date(due));
    // Back-dated: the progress on the day the sheet gives, the plan on the
    // day of the hand-over.
    for m in &plan.measures {
        assert_eq!(m.done_date, date(finished));
    }
    assert_eq!(done.state(), l::EntryState::WrittenOff);
    assert_eq!(done.first_written_off_date, date(finished));
    let rectifying = by_problem(&first.problems[1]);
    let plan = rectifying.plan.clone().expect("an approved plan");
    assert_eq!(plan.measures.len(), 1);
    assert_eq!(plan.measures[0].owner, "局长1");
    assert!(!plan.measures[0].done);
    assert_eq!(rectifying.state(), l::EntryState::Rectifying);
    let full = admin
        .ledger()
        .get_entry(l::GetEntryRequest {
            name: done.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(full.postings.iter().any(|p| matches!(
        &p.detail,
        Some(l::posting::Detail::Supervision(s)) if s.remarks == "已约谈相关责任人"
    )));
    let plan_dates: Vec<_> = full
        .postings
        .iter()
        .filter(|p| matches!(p.detail, Some(l::posting::Detail::PlanApproved(_))))
        .map(|p| p.effective_date)
        .collect();
    assert_eq!(plan_dates, vec![done.handed_over_date]);
    assert_eq!(
        by_problem(&first.problems[2]).state(),
        l::EntryState::HandedOver
    );

    // A second import of the same sheet changes nothing.
    let after = posting_counts(&admin, &inspection).await;
    let again = import_problems(&admin, &sheet, &inspection, &on_behalf)
        .await
        .expect("the same sheet a third time");
    assert!(again.problems.is_empty() && again.ledger_steps.is_empty());
    assert_eq!(posting_counts(&admin, &inspection).await, after);
    assert_eq!(problems_of(&admin, &inspection).await.len(), 6);
    suite.suite.stop().await.unwrap();
}
