//! The admin CLI against a running suite: spreadsheet import (500 rows in
//! one call; a bad row stores nothing and is named by row and column),
//! ledger export to xlsx and CSV read back cell by cell, the books
//! commands, and the demo loader at a small scale.

use std::path::Path;
use std::time::Duration;

use calamine::{Data, Reader, open_workbook_auto};
use clap::Parser;
use fiveledger::cli::connect::admin_token;
use fiveledger::cli::export::{self, COLUMNS, Kind};
use fiveledger::cli::import::ImportRejected;
use fiveledger::cli::scope::Scope;
use fiveledger::cli::{AdminCommand, ServiceArgs, Services};
use fiveledger_e2e::{TestSuite, spawn_suite};
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::ledgers::{self as l, LedgerEntry};
use fiveledger_proto::rounds as r;
use rust_xlsxwriter::Workbook;

pub(crate) fn args(suite: &TestSuite) -> ServiceArgs {
    ServiceArgs {
        rounds: format!("http://{}", suite.suite.rounds.addr),
        issues: format!("http://{}", suite.suite.issues.addr),
        ledgers: format!("http://{}", suite.suite.ledgers.addr),
        token: None,
        tls: None,
    }
}

/// The `fiveledger` command line, parsed as the binary parses it.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: AdminCommand,
}

/// Runs one admin subcommand as `fiveledger <words> --rounds … --issues …
/// --ledgers …` would.
pub(crate) async fn cli(suite: &TestSuite, words: &[&str]) -> anyhow::Result<()> {
    let a = args(suite);
    let mut argv = vec!["fiveledger".to_owned()];
    argv.extend(words.iter().map(|w| w.to_string()));
    argv.extend([
        "--rounds".into(),
        a.rounds,
        "--issues".into(),
        a.issues,
        "--ledgers".into(),
        a.ledgers,
    ]);
    let parsed = Cli::try_parse_from(argv)?;
    let signer = fiveledger::signer(&suite.env.settings)?;
    fiveledger::cli::run(parsed.command, Some(&signer)).await
}

pub(crate) fn date(d: chrono::NaiveDate) -> Option<Date> {
    Some(fiveledger_platform::time::to_date(d))
}

pub(crate) fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A city with its bodies, a bureau to inspect, three inspectors, a
/// started round, a group and an inspection stationed on site.
pub(crate) async fn stationed_inspection(s: &Services) -> String {
    use r::OrganisationKind as K;
    for (id, kind, parent, name) in [
        ("t-region", K::Region, "", "测试自治区"),
        ("t-city", K::City, "t-region", "测试市"),
        ("t-jw", K::DisciplineCommission, "t-city", "测试市纪委监委"),
        (
            "t-zzb",
            K::OrganisationDepartment,
            "t-city",
            "测试市委组织部",
        ),
        ("t-xcb", K::PropagandaDepartment, "t-city", "测试市委宣传部"),
        ("t-office", K::InspectionOffice, "t-city", "测试市委巡察办"),
        (
            "t-finance",
            K::FunctionalDepartment,
            "t-city",
            "测试市财政局",
        ),
    ] {
        s.organisations()
            .create_organisation(r::CreateOrganisationRequest {
                organisation: Some(r::Organisation {
                    display_name: name.into(),
                    kind: kind as i32,
                    parent: if parent.is_empty() {
                        String::new()
                    } else {
                        format!("organisations/{parent}")
                    },
                    ..Default::default()
                }),
                organisation_id: id.into(),
                request_id: String::new(),
            })
            .await
            .expect("organisation");
    }
    for i in 0..3 {
        s.inspectors()
            .create_inspector(r::CreateInspectorRequest {
                inspector: Some(r::Inspector {
                    display_name: format!("巡察员{i}"),
                    subject: format!("p{i}"),
                    home_organisation: "organisations/t-office".into(),
                    ..Default::default()
                }),
                inspector_id: format!("p{i}"),
                request_id: String::new(),
            })
            .await
            .expect("inspector");
    }
    let start = today() - chrono::Days::new(40);
    let round = s
        .rounds()
        .create_round(r::CreateRoundRequest {
            round: Some(r::Round {
                display_name: "测试轮".into(),
                term: 1,
                number: 1,
                kind: r::RoundKind::Regular as i32,
                organisation: "organisations/t-city".into(),
                planned_start_date: date(start),
                planned_end_date: date(start + chrono::Days::new(60)),
                ..Default::default()
            }),
            round_id: "r1".into(),
            request_id: String::new(),
        })
        .await
        .expect("round")
        .into_inner();
    s.rounds()
        .start_round(r::StartRoundRequest {
            name: round.name.clone(),
            ..Default::default()
        })
        .await
        .expect("start round");
    let group = s
        .groups()
        .create_group(r::CreateGroupRequest {
            parent: round.name.clone(),
            group: Some(r::Group {
                display_name: "第一组".into(),
                leader: "inspectors/p0".into(),
                deputies: vec!["inspectors/p1".into()],
                members: vec!["inspectors/p2".into()],
                ..Default::default()
            }),
            group_id: "g1".into(),
            request_id: String::new(),
        })
        .await
        .expect("group")
        .into_inner();
    let inspection = s
        .inspections()
        .create_inspection(r::CreateInspectionRequest {
            parent: round.name.clone(),
            inspection: Some(r::Inspection {
                target: "organisations/t-finance".into(),
                group: group.name.clone(),
                ..Default::default()
            }),
            inspection_id: "i1".into(),
            request_id: String::new(),
        })
        .await
        .expect("inspection")
        .into_inner();
    // Both bodies brief before the group is stationed.
    for body in ["organisations/t-jw", "organisations/t-zzb"] {
        s.inspections()
            .record_briefing(r::RecordBriefingRequest {
                name: inspection.name.clone(),
                briefing: Some(r::Briefing {
                    organisation: body.into(),
                    date: date(start),
                    summary: "通报".into(),
                }),
                request_id: String::new(),
            })
            .await
            .expect("briefing");
    }
    s.inspections()
        .start_stationing(r::StartStationingRequest {
            name: inspection.name.clone(),
            start_date: date(start),
            end_date: date(start + chrono::Days::new(20)),
            request_id: String::new(),
        })
        .await
        .expect("stationing");
    inspection.name
}

/// A problem list of `rows` rows as offices keep it; `bad` rows get an
/// unknown category, `long_principal` rows a principal the service refuses.
fn write_problem_list(path: &Path, rows: usize, bad: &[usize], long_principal: &[usize]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("问题清单").unwrap();
    let headers = [
        "序号",
        "问题类别",
        "问题描述",
        "严重程度",
        "第一责任人",
        "分管领导",
        "监督责任单位",
        "立行立改",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write(0, c as u16, *h).unwrap();
    }
    for i in 0..rows {
        let row = i as u32 + 1;
        let category = if bad.contains(&i) {
            "不存在的类别"
        } else {
            [
                "党的领导",
                "personnel-selection",
                "意识形态",
                "全面从严治党",
            ][i % 4]
        };
        let principal = if long_principal.contains(&i) {
            "张".repeat(80)
        } else {
            format!("负责人{i}")
        };
        sheet.write(row, 0, (i + 1) as f64).unwrap();
        sheet.write(row, 1, category).unwrap();
        sheet
            .write(row, 2, format!("第{i}个问题。具体表现如下"))
            .unwrap();
        sheet
            .write(row, 3, ["一般", "较重", "严重"][i % 3])
            .unwrap();
        sheet.write(row, 4, principal).unwrap();
        sheet.write(row, 5, format!("分管{i}")).unwrap();
        sheet
            .write(
                row,
                6,
                if i % 2 == 0 {
                    "测试市纪委监委"
                } else {
                    ""
                },
            )
            .unwrap();
        sheet
            .write(row, 7, if i % 10 == 0 { "是" } else { "否" })
            .unwrap();
    }
    book.save(path).unwrap();
}

pub(crate) async fn problem_count(s: &Services, inspection: &str) -> i32 {
    s.problems()
        .get_problem_list(fiveledger_proto::issues::GetProblemListRequest {
            name: format!("{inspection}/problemList"),
        })
        .await
        .expect("problem list")
        .into_inner()
        .problem_count
}

pub(crate) async fn entries_of(s: &Services, inspection: &str) -> Vec<LedgerEntry> {
    let page = s
        .ledger()
        .list_entries(l::ListEntriesRequest {
            page_size: 1000,
            filter: format!("inspection = \"{inspection}\""),
            ..Default::default()
        })
        .await
        .expect("entries")
        .into_inner();
    assert!(page.next_page_token.is_empty());
    page.entries
}

/// Reports the stationed inspection and gives its feedback, then waits
/// until the ledger has handed over `count` entries.
pub(crate) async fn report_and_hand_over(
    admin: &Services,
    inspection: &str,
    count: usize,
) -> Vec<LedgerEntry> {
    let start = today() - chrono::Days::new(40);
    for (kind, day) in [
        (r::InspectionReportKind::MidTerm, 10),
        (r::InspectionReportKind::Comprehensive, 21),
    ] {
        admin
            .inspections()
            .report_inspection(r::ReportInspectionRequest {
                name: inspection.to_owned(),
                kind: kind as i32,
                report: Some(r::ReportRecord {
                    date: date(start + chrono::Days::new(day)),
                    summary: "汇报".into(),
                }),
                request_id: String::new(),
            })
            .await
            .expect("report");
    }
    let part = r::FeedbackPart {
        date: date(start + chrono::Days::new(25)),
        given_by: "组长".into(),
        recipient: "班子".into(),
    };
    let leader = |role: r::LeaderInChargeRole, name: &str| r::LeaderInCharge {
        role: role as i32,
        display_name: name.into(),
        post: String::new(),
    };
    admin
        .inspections()
        .notify_leaders_in_charge(r::NotifyLeadersInChargeRequest {
            name: inspection.to_owned(),
            notice: Some(r::LeadersInChargeNotice {
                date: date(start + chrono::Days::new(25)),
                leaders: vec![
                    leader(r::LeaderInChargeRole::Party, "市委常委"),
                    leader(r::LeaderInChargeRole::Government, "副市长"),
                ],
                summary: String::new(),
            }),
            request_id: String::new(),
        })
        .await
        .expect("notice to the leaders in charge");
    admin
        .inspections()
        .give_feedback(r::GiveFeedbackRequest {
            name: inspection.to_owned(),
            feedback: Some(r::DoubleFeedback {
                individual: Some(part.clone()),
                public: Some(part),
            }),
            request_id: String::new(),
            functional_hand_offs: Vec::new(),
        })
        .await
        .expect("feedback");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut entries = entries_of(admin, inspection).await;
    while entries
        .iter()
        .filter(|e| e.state() == l::EntryState::HandedOver)
        .count()
        < count
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "entries not handed over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        entries = entries_of(admin, inspection).await;
    }
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_export_and_the_books_through_the_cli() {
    let suite = spawn_suite(Default::default()).await;
    let signer = fiveledger::signer(&suite.env.settings).unwrap();
    let admin = Services::with_token(&args(&suite), &admin_token(&signer, "cli-admin")).unwrap();
    let verifier = admin
        .as_caller(&admin_token(&signer, "cli-verifier"))
        .unwrap();
    let inspection = stationed_inspection(&admin).await;
    let dir = tempfile::tempdir().unwrap();

    // A bad row in the middle: nothing is stored, the error names sheet, row and column.
    let bad = dir.path().join("bad.xlsx");
    write_problem_list(&bad, 500, &[249], &[]);
    let err =
        fiveledger::cli::import::import_problems(&admin, &bad, &inspection, &Default::default())
            .await
            .expect_err("an unknown category is refused");
    let rejected = err.downcast_ref::<ImportRejected>().expect("row errors");
    assert_eq!(rejected.errors.len(), 1, "{rejected}");
    let e = &rejected.errors[0];
    assert_eq!(
        (e.sheet.as_str(), e.row, e.column.as_str()),
        ("问题清单", 251, "问题类别")
    );
    assert_eq!(e.reason, "UNKNOWN_CATEGORY");
    assert_eq!(problem_count(&admin, &inspection).await, 0);

    // A row the service refuses comes back in the file's terms too.
    let refused = dir.path().join("refused.csv");
    std::fs::write(
        &refused,
        "序号,问题类别,问题描述,第一责任人\n1,党的领导,问题一,王五\n2,党的建设,问题二,".to_owned()
            + &"张".repeat(80)
            + "\n",
    )
    .unwrap();
    let err = fiveledger::cli::import::import_problems(
        &admin,
        &refused,
        &inspection,
        &Default::default(),
    )
    .await
    .expect_err("a principal too long is refused by the service");
    let rejected = err.downcast_ref::<ImportRejected>().expect("row errors");
    assert_eq!(rejected.errors.len(), 1, "{rejected}");
    assert_eq!(
        (rejected.errors[0].row, rejected.errors[0].column.as_str()),
        (3, "第一责任人")
    );
    assert_eq!(problem_count(&admin, &inspection).await, 0);

    // 500 rows in one call, through the command line.
    let good = dir.path().join("good.xlsx");
    write_problem_list(&good, 500, &[], &[]);
    cli(
        &suite,
        &[
            "import",
            "problems",
            good.to_str().unwrap(),
            "--inspection",
            &inspection,
            "--output",
            "json",
        ],
    )
    .await
    .expect("import");
    assert_eq!(problem_count(&admin, &inspection).await, 500);

    // Report and feed back: the ledger opens and hands over 500 entries.
    let entries = report_and_hand_over(&admin, &inspection, 500).await;

    // Some entries go further, so that every column has something in it.
    for (i, e) in entries.iter().take(6).enumerate() {
        let ledger = || admin.ledger();
        ledger()
            .acknowledge_hand_over(l::AcknowledgeHandOverRequest {
                name: e.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        if i == 1 {
            ledger()
                .transfer(l::TransferRequest {
                    name: e.name.clone(),
                    receiving_body: "organisations/t-jw".into(),
                    matter: "移交".into(),
                    due_date: date(today() + chrono::Days::new(30)),
                    ..Default::default()
                })
                .await
                .unwrap();
            continue;
        }
        let due = if i == 2 {
            today() - chrono::Days::new(40)
        } else {
            today() + chrono::Days::new(30)
        };
        ledger()
            .submit_plan(l::SubmitPlanRequest {
                name: e.name.clone(),
                plan: Some(fiveledger_e2e::one_measure_plan(
                    "方案",
                    "整改",
                    "办公室",
                    date(due),
                )),
                ..Default::default()
            })
            .await
            .unwrap();
        ledger()
            .approve_plan(l::ApprovePlanRequest {
                name: e.name.clone(),
                version: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        if i >= 3 {
            ledger()
                .post_progress(l::PostProgressRequest {
                    name: e.name.clone(),
                    measure_id: "m1".into(),
                    description: "完成".into(),
                    measure_done: true,
                    ..Default::default()
                })
                .await
                .unwrap();
            ledger()
                .request_write_off(l::RequestWriteOffRequest {
                    name: e.name.clone(),
                    closure_statement: "已整改".into(),
                    evidence: vec![fiveledger_proto::types::Evidence {
                        document: "a.pdf".into(),
                        sha256: "a".repeat(64),
                    }],
                    figures: Some(l::RectificationFigures {
                        funds_recovered_fen: 12_345_678 + i as i64,
                        losses_recovered_fen: 5,
                        people_disciplined: 1,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .unwrap();
            verifier
                .ledger()
                .approve_write_off(l::ApproveWriteOffRequest {
                    name: e.name.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }

    // Export to xlsx and read it back: every cell as the ledger holds it.
    let entries = entries_of(&admin, &inspection).await;
    let names = export::display_names(&admin, &entries).await.unwrap();
    let expected: Vec<Vec<String>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| export::row(i, e, &names).iter().map(|c| c.text()).collect())
        .collect();
    check_independently(&entries, &expected);
    let xlsx = dir.path().join("ledger.xlsx");
    cli(
        &suite,
        &[
            "export",
            "ledger",
            "--scope",
            &inspection,
            "--format",
            "xlsx",
            "-o",
            xlsx.to_str().unwrap(),
        ],
    )
    .await
    .expect("export xlsx");
    crate::exported_workbook::check(
        &admin,
        &Scope::Inspection(inspection.clone()),
        &xlsx,
        "测试轮·测试市财政局",
        // The command line's default token: the local key's admin.
        "local-admin",
    )
    .await;
    // A token naming its person (`fiveledger token --name`, or an identity
    // provider's `name` claim): the title block shows the name and subject.
    let named = signer.mint_named(
        "zhangsan",
        "张三",
        "",
        &[fiveledger_platform::auth::Role::Admin],
        chrono::Duration::hours(1),
    );
    let by_name = dir.path().join("by-name.xlsx");
    cli(
        &suite,
        &[
            "export",
            "ledger",
            "--scope",
            &inspection,
            "-o",
            by_name.to_str().unwrap(),
            "--token",
            &named,
        ],
    )
    .await
    .expect("export with a named token");
    let heading = open_workbook_auto(&by_name)
        .unwrap()
        .worksheet_range(export::LEDGER_SHEET)
        .unwrap();
    let line = fiveledger::cli::table::cell_text(heading.get((1, 0)).expect("title line"));
    assert!(line.ends_with("导出人：张三（zhangsan）"), "{line}");
    let mut book = open_workbook_auto(&xlsx).unwrap();
    assert_eq!(
        book.sheet_names(),
        vec![
            export::LEDGER_SHEET.to_owned(),
            export::SUMMARY_SHEET.to_owned(),
            fiveledger::cli::charts::CHARTS_SHEET.to_owned(),
        ]
    );
    let range = book.worksheet_range(export::LEDGER_SHEET).unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| {
            r.iter()
                .zip(COLUMNS)
                .map(|(c, (_, kind, _))| xlsx_text(c, *kind))
                .collect()
        })
        .collect();
    let headers: Vec<String> = COLUMNS.iter().map(|(h, _, _)| h.to_string()).collect();
    let header = export::HEADER_ROW as usize;
    assert_eq!(rows[header], headers);
    assert_eq!(rows.len(), header + 501);
    for (i, want) in expected.iter().enumerate() {
        let got: Vec<String> = (0..COLUMNS.len())
            .map(|c| rows[header + 1 + i].get(c).cloned().unwrap_or_default())
            .collect();
        assert_eq!(&got, want, "xlsx row {}", header + i + 2);
    }
    // Dates are dates and money is a number in yuan.
    let handed = range.get((header + 1, 10)).unwrap();
    assert!(matches!(handed, Data::DateTime(_)), "{handed:?}");
    let summary = book.worksheet_range(export::SUMMARY_SHEET).unwrap();
    assert!(
        summary
            .rows()
            .any(|r| r.first().map(|c| xlsx_text(c, Kind::Text)).as_deref() == Some("发现问题"))
    );

    // CSV likewise.
    let csv_path = dir.path().join("ledger.csv");
    cli(
        &suite,
        &[
            "export",
            "ledger",
            "--scope",
            &inspection,
            "-o",
            csv_path.to_str().unwrap(),
        ],
    )
    .await
    .expect("export csv");
    let bytes = std::fs::read(&csv_path).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        headers
    );
    let got: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(got, expected);

    // The books: statistics agree with what was done; the books balance; the journal verifies.
    let stats = export::statistics(
        &admin,
        &Scope::Inspection(inspection.clone()),
        l::StatisticsGrouping::Unspecified,
    )
    .await
    .unwrap();
    let total = stats.total.unwrap().counts.unwrap();
    assert_eq!(
        (total.found, total.written_off, total.transferred),
        (500, 3, 1)
    );
    // `stats` names its rows: units, rounds and categories by display name.
    for (grouping, want) in [
        (l::StatisticsGrouping::Organisation, "测试市财政局"),
        (l::StatisticsGrouping::Round, "测试轮"),
        (l::StatisticsGrouping::Category, "意识形态"),
    ] {
        let s = export::statistics(&admin, &Scope::Subtree("t-region/t-city".into()), grouping)
            .await
            .unwrap();
        let names = fiveledger::cli::books::group_names(&admin, &s)
            .await
            .unwrap();
        assert_eq!(names.len(), s.rows.len());
        assert!(names.iter().any(|n| n == want), "{grouping:?}: {names:?}");
        assert!(names.iter().all(|n| !n.contains('/')), "{names:?}");
    }
    for words in [
        vec!["stats", "--scope", inspection.as_str(), "--output", "json"],
        vec![
            "stats",
            "--scope",
            "t-region/t-city",
            "--group-by",
            "organisation",
        ],
        vec!["reconcile", "--scope", inspection.as_str()],
        vec!["reconcile", "--scope", "rounds/r1", "--output", "json"],
        vec!["verify", "--scope", "t-region/t-city"],
        vec!["verify"],
    ] {
        cli(&suite, &words)
            .await
            .unwrap_or_else(|e| panic!("{words:?}: {e:#}"));
    }
    // The overdue entry leaves a warning to follow, once the ledgers
    // service runs the sweep (its contract landed before its code).
    match cli(&suite, &["warnings", "sweep"]).await {
        Ok(()) => tokio::time::timeout(
            Duration::from_secs(10),
            cli(
                &suite,
                &["warnings", "tail", "--count", "1", "--output", "json"],
            ),
        )
        .await
        .expect("a warning arrives")
        .expect("tail"),
        Err(e) => {
            let e = format!("{e:#}");
            assert!(
                e.contains("Unimplemented") || e.contains("PermissionDenied"),
                "{e}"
            );
        }
    }

    // Failures exit non-zero with a message naming what failed.
    let mut down = args(&suite);
    down.ledgers = "http://127.0.0.1:1".into();
    let down = Services::with_token(&down, &admin_token(&signer, "cli-admin")).unwrap();
    let err = export::statistics(
        &down,
        &Scope::Round("rounds/r1".into()),
        l::StatisticsGrouping::Unspecified,
    )
    .await
    .expect_err("the ledgers service is down");
    assert!(format!("{err:#}").contains("unreachable"), "{err:#}");
    let err = cli(
        &suite,
        &[
            "import",
            "problems",
            "/nonexistent.xlsx",
            "--inspection",
            &inspection,
        ],
    )
    .await
    .expect_err("no file");
    assert!(format!("{err:#}").contains("nonexistent.xlsx"), "{err:#}");
    suite.suite.stop().await.unwrap();
}

/// The expected rows agree with the entries on the facts, checked without
/// the export's own code.
fn check_independently(entries: &[LedgerEntry], rows: &[Vec<String>]) {
    for (e, row) in entries.iter().zip(rows) {
        assert_eq!(row[1], e.title);
        // The category by its display name (the seeded catalogue's).
        let category = [
            ("party-leadership", "党的领导"),
            ("party-building", "党的建设"),
            ("strict-governance", "全面从严治党"),
            ("personnel-selection", "选人用人"),
            ("ideology", "意识形态"),
        ]
        .iter()
        .find(|(code, _)| *code == e.category)
        .map(|(_, name)| *name)
        .expect("a seeded category");
        assert_eq!(row[3], category);
        let d = |d: &Option<Date>| {
            d.as_ref()
                .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                .unwrap_or_default()
        };
        assert_eq!(row[10], d(&e.handed_over_date));
        assert_eq!(row[11], d(&e.original_due_date));
        assert_eq!(row[12], d(&e.due_date));
        let fen = e
            .write_off
            .as_ref()
            .filter(|w| w.approved)
            .and_then(|w| w.figures.as_ref())
            .map(|f| f.funds_recovered_fen)
            .unwrap_or(0);
        assert_eq!(row[18], format!("{}.{:02}", fen / 100, fen % 100));
        assert_eq!(row[23], e.name);
        assert_eq!(row[24], e.problem);
        assert_eq!(row[7], e.responsibility.as_ref().unwrap().principal);
    }
}

/// A cell read back from xlsx, in the text the CSV export uses.
fn xlsx_text(cell: &Data, kind: Kind) -> String {
    match (cell, kind) {
        (Data::Float(f), Kind::Yuan) => format!("{f:.2}"),
        (Data::DateTime(d), _) => d
            .as_datetime()
            .map(|d| d.date().to_string())
            .unwrap_or_default(),
        (other, _) => fiveledger::cli::table::cell_text(other),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_load_at_a_small_scale() {
    let suite = spawn_suite(Default::default()).await;
    let signer = fiveledger::signer(&suite.env.settings).unwrap();
    let admin = Services::with_token(&args(&suite), &admin_token(&signer, "cli-admin")).unwrap();
    let report = fiveledger::cli::demo::load(
        &admin,
        &signer,
        &fiveledger::cli::demo::DemoOptions {
            scale: 0.05,
            seed: 7,
            concurrency: 4,
            prefix: "demo".into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("demo load: {e:#}"));
    assert_eq!(report.rounds, 12);
    assert!(report.inspections >= 24, "{report:?}");
    assert_eq!(report.found as u64, report.problems);
    // The source's figures, scaled, are what the suite counts for the city:
    // problems, rectified, clues, money (funds and losses together), people
    // (discipline and organisational handling together), units published
    // the talent pool, and the 2020 township rounds (problems, on time, rate).
    assert_eq!(report.pinned.len(), 10, "{report:?}");
    for p in &report.pinned {
        assert_eq!(p.source, p.loaded, "{}: {report:?}", p.figure);
    }
    let figure = |what: &str| {
        report
            .pinned
            .iter()
            .find(|p| p.figure.starts_with(what))
            .map(|p| p.loaded)
            .unwrap_or_else(|| panic!("no pinned figure {what}: {report:?}"))
    };
    // 4,683 × 0.05, 4,374 × 0.05, 1,331 × 0.05, 9310.97万元 × 0.05, 268 × 0.05
    // and 236 × 0.05, rounded; the pool is the source's 80 at any scale.
    assert_eq!(figure("problems"), 234);
    assert_eq!(figure("rectified"), 219);
    assert_eq!(figure("clues"), 67);
    assert_eq!(figure("losses recovered"), 465_548_500);
    assert_eq!(figure("people"), 13);
    assert_eq!(figure("units published"), 12);
    assert_eq!(figure("talent pool"), 80);
    // Round 3, the 2020 township rounds: 242 × 0.05 problems all rectified,
    // 221 × 0.05 of them on time by the steps' own days (91.3 % at full
    // scale; 11 / 12 here).
    assert_eq!(figure("problems fed back and rectified in the 2020"), 12);
    assert_eq!(figure("of them rectified on time"), 11);
    assert_eq!(figure("on-time rate of the 2020"), 917);
    assert!(
        (report.township_on_time_rate - 11.0 / 12.0).abs() < 1e-9,
        "{report:?}"
    );
    assert_eq!(report.written_off, 219, "{report:?}");
    // The look-back rounds' campaigns: each looked-back unit's self-check
    // report accepted and one of its written-off entries spot-checked; the
    // first failed, reopened its entry and put it on the key-problem list.
    assert!(report.spot_checks >= 2, "{report:?}");
    assert_eq!(report.self_check_reports, report.spot_checks, "{report:?}");
    assert!(report.reopened >= 1, "{report:?}");
    assert_eq!(report.key_problems, report.reopened, "{report:?}");
    assert!(report.suggestions >= 1, "{report:?}");
    let checks = admin
        .look_back()
        .list_spot_checks(l::ListSpotChecksRequest {
            round: "rounds/demo-round-1".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .spot_checks;
    let failed = checks
        .iter()
        .find(|c| !c.posting.is_empty())
        .unwrap_or_else(|| panic!("no failed spot check in round 1: {checks:?}"));
    assert!(
        failed.look_back.starts_with("rounds/demo-round-6/"),
        "{failed:?}"
    );
    assert!(failed.effective_date.is_some(), "{failed:?}");
    assert_eq!(failed.created_by, "demo-office", "{failed:?}");
    // The linked city-county rounds tried a group of the target's own
    // county first, and the rounds service refused it (地域回避).
    assert!(report.avoidance_refusals >= 2, "{report:?}");
    // Every step was signed by who takes it, never by an administrator: a
    // written-off entry's journal names the unit and the office's verifier.
    let written_off = admin
        .ledger()
        .list_entries(l::ListEntriesRequest {
            page_size: 1,
            // Of the 2020 township rounds, long rectified.
            filter: "round = \"rounds/demo-round-3\" AND state = ENTRY_STATE_WRITTEN_OFF".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let entry = admin
        .ledger()
        .get_entry(l::GetEntryRequest {
            name: written_off[0].name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let actors: Vec<&str> = entry.postings.iter().map(|p| p.actor.as_str()).collect();
    assert!(actors.contains(&"demo-verifier"), "{actors:?}");
    assert!(actors.contains(&"demo-office"), "{actors:?}");
    assert!(
        actors.iter().any(|a| a.starts_with("demo-unit-")),
        "{actors:?}"
    );
    assert!(!actors.contains(&"demo-operator"), "{actors:?}");
    // Every step after the hand-over is dated on its day of the story,
    // recorded after the fact by who took it; none is dated today.
    let today = chrono::Utc::now().date_naive();
    for p in entry.postings.iter().skip(2) {
        let kind = p.kind();
        if matches!(
            kind,
            l::PostingKind::Warning | l::PostingKind::InterviewRequired
        ) {
            continue;
        }
        assert!(p.recorded_after_the_fact, "{p:?}");
        let d = p.effective_date.expect("a day");
        let day =
            chrono::NaiveDate::from_ymd_opt(d.year, d.month as u32, d.day as u32).expect("a date");
        assert!(day < today, "{p:?}");
    }
    let open = report.found - report.written_off;
    let coloured = report.green + report.blue + report.yellow + report.red;
    assert_eq!(coloured, open, "{report:?}");
    assert!(report.clues_disposed >= report.clues_concluded);
    // No one disposed of a clue alone (三级集体研判): each disposal was
    // signed by three people of the commission, one at each level.
    let decided = admin
        .clues()
        .list_clues(fiveledger_proto::issues::ListCluesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .clues
        .into_iter()
        .filter(|c| c.disposal.is_some())
        .collect::<Vec<_>>();
    assert_eq!(decided.len() as u64, report.clues_disposed, "{report:?}");
    for clue in &decided {
        let signed: Vec<(&str, i32)> = clue
            .disposal_signatures
            .iter()
            .map(|s| (s.signer.as_str(), s.level))
            .collect();
        use fiveledger_proto::issues::ClueDecisionLevel as L;
        assert_eq!(
            signed,
            [
                ("demo-jw", L::HandlingRoom as i32),
                ("demo-jw-leader", L::LeaderInCharge as i32),
                ("demo-jw-secretary", L::SupervisionMeeting as i32),
            ],
            "{}",
            clue.name
        );
        assert_eq!(
            clue.disposal.as_ref().map(|d| d.recorded_by.as_str()),
            Some("demo-jw-secretary")
        );
    }
    // The ledger's statistics carry the issues service's clue figures.
    assert_eq!(report.statistics_clues as u64, report.clues, "{report:?}");
    assert_eq!(
        report.statistics_clues_disposed as u64, report.clues_disposed,
        "{report:?}"
    );
    assert_eq!(
        report.statistics_clues_concluded as u64, report.clues_concluded,
        "{report:?}"
    );
    // And through the command line, quickly, with another prefix.
    cli(
        &suite,
        &[
            "demo", "load", "--scale", "0.02", "--prefix", "mini", "--output", "json",
        ],
    )
    .await
    .expect("demo load command");
    cli(&suite, &["reconcile", "--scope", "demo-region/demo-city"])
        .await
        .expect("the demo's books balance");
    suite.suite.stop().await.unwrap();
}

/// Parses `words` as the binary does, after `--rounds … --issues …
/// --ledgers …` of `args`.
fn parse(args: &ServiceArgs, words: &[&str]) -> Result<AdminCommand, clap::Error> {
    let mut argv = vec!["fiveledger".to_owned()];
    argv.extend(words.iter().map(|w| w.to_string()));
    argv.extend([
        "--rounds".into(),
        args.rounds.clone(),
        "--issues".into(),
        args.issues.clone(),
        "--ledgers".into(),
        args.ledgers.clone(),
    ]);
    Cli::try_parse_from(argv).map(|cli| cli.command)
}

/// Round 9 run by the city with one inspection of Xingning, its problem
/// frozen and posted: one ledger entry.
async fn one_posted_entry(t: &TestSuite) {
    use fiveledger_e2e::{date as d, tokens};
    let i = t.stationed_xingning_in_round_nine().await;
    t.problem(
        &tokens::office(),
        &i.name,
        "p1",
        "party-leadership",
        fiveledger_proto::types::Severity::Major,
        "问题 p1",
        "",
        "",
    )
    .await
    .expect("problem");
    t.report(&i.name, "li-leader", d(2026, 4, 10), d(2026, 5, 20))
        .await;
    t.wait_for_entries("round = \"rounds/r9\"", 1).await;
}

/// Each way of failing exits with its own code (usage 2, not found 3,
/// books unbalanced or journal broken 4, service unavailable 5), errors
/// print as JSON with `--output json`, and a wrong `--scope` on export
/// fails naming the scope with nothing written.
#[tokio::test]
async fn failures_name_what_failed_and_exit_with_their_own_codes() {
    use fiveledger::cli::failure::{self, Failure};
    let suite = spawn_suite(Default::default()).await;
    one_posted_entry(&suite).await;
    let a = args(&suite);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger.xlsx");
    let file = file.to_str().unwrap();

    // Not found: a scope the suite does not know, written nowhere.
    for scope in [
        "rounds/r404",
        "rounds/r9/inspections/nowhere",
        "guangxi/nowhere",
        "nanning",
    ] {
        let err = cli(&suite, &["export", "ledger", "--scope", scope, "-o", file])
            .await
            .expect_err("an unknown scope");
        assert_eq!(
            failure::kind_of(&err),
            Failure::NotFound,
            "{scope}: {err:#}"
        );
        assert_eq!(failure::exit_code(&err), 3);
        assert!(format!("{err:#}").contains(scope), "{err:#}");
        assert!(!Path::new(file).exists(), "nothing written for {scope}");
    }
    let command = parse(
        &a,
        &[
            "export",
            "ledger",
            "--scope",
            "rounds/r404",
            "-o",
            file,
            "--output",
            "json",
        ],
    )
    .expect("parses");
    assert_eq!(
        fiveledger::cli::execute(command, &suite.env.settings).await,
        3
    );
    assert!(!Path::new(file).exists());
    let err = cli(
        &suite,
        &["stats", "--scope", "rounds/r404", "--output", "json"],
    )
    .await
    .expect_err("unknown");
    let printed: serde_json::Value =
        serde_json::from_str(&failure::render(&err, fiveledger::cli::Output::Json))
            .expect("the error as JSON");
    assert_eq!(printed["error"]["kind"], "not_found");
    assert_eq!(printed["error"]["exit_code"], 3);
    assert!(
        printed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--scope rounds/r404"),
        "{printed}"
    );
    // The scope that exists exports.
    cli(
        &suite,
        &[
            "export",
            "ledger",
            "--scope",
            "guangxi/nanning/xingning",
            "-o",
            file,
        ],
    )
    .await
    .expect("a known scope");
    assert!(Path::new(file).exists());

    // Usage: clap refuses the scope's shape, exit 2.
    let err = anyhow::Error::from(
        parse(&a, &["reconcile", "--scope", "organisations/xingning"]).expect_err("usage"),
    );
    assert_eq!(failure::exit_code(&err), 2);

    // Unbalanced: the books lose the entry; the journal is altered.
    cli(&suite, &["reconcile", "--scope", "rounds/r9"])
        .await
        .expect("balanced at first");
    let db = suite.ledgers_db().await;
    use sea_orm::ConnectionTrait;
    db.writer()
        .execute_unprepared("UPDATE postings SET actor = 'someone-else'")
        .await
        .expect("alter the journal");
    let err = cli(&suite, &["verify", "--scope", "rounds/r9"])
        .await
        .expect_err("altered");
    assert_eq!(failure::exit_code(&err), 4, "{err:#}");
    for table in ["postings", "entries"] {
        db.writer()
            .execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .expect("damage the books");
    }
    let err = cli(
        &suite,
        &["reconcile", "--scope", "rounds/r9", "--output", "json"],
    )
    .await
    .expect_err("unbalanced");
    assert_eq!(failure::kind_of(&err), Failure::Unbalanced, "{err:#}");
    assert_eq!(failure::exit_code(&err), 4);
    let printed: serde_json::Value =
        serde_json::from_str(&failure::render(&err, fiveledger::cli::Output::Json)).unwrap();
    assert_eq!(printed["error"]["kind"], "unbalanced");

    // Unavailable: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let down = ServiceArgs {
        ledgers: format!("http://{closed}"),
        rounds: format!("http://{closed}"),
        ..a.clone()
    };
    let signer = fiveledger::signer(&suite.env.settings).unwrap();
    let command = parse(&down, &["reconcile", "--scope", "rounds/r9"]).expect("parses");
    let err = fiveledger::cli::run(command, Some(&signer))
        .await
        .expect_err("unavailable");
    assert_eq!(failure::kind_of(&err), Failure::Unavailable, "{err:#}");
    assert_eq!(failure::exit_code(&err), 5);
    suite.suite.stop().await.expect("stops");
}

/// Pointed at a suite that is not the local one, without a token or a
/// configured key, the CLI says what it needs and creates no local key (a
/// remote suite could not verify it); with a token it goes ahead.
#[test]
fn a_remote_suite_without_a_token_or_key_is_told_what_is_needed() {
    use fiveledger::cli::failure::{self, Failure};
    let env = fiveledger_platform::testing::TestEnv::new("remote");
    let mut base = env.settings.clone();
    base.auth.secret.clear();
    base.auth.secret_file = None;
    let key = base.data_dir.join("token.key");
    let remote = ServiceArgs {
        rounds: "http://127.0.0.2:50051".into(),
        issues: "http://127.0.0.2:50052".into(),
        ledgers: "http://127.0.0.2:50053".into(),
        token: None,
        tls: None,
    };
    let err = fiveledger::cli::signer_for(&remote, &base).expect_err("no token, no key");
    assert_eq!(failure::kind_of(&err), Failure::Usage);
    let message = format!("{err:#}");
    for needed in [
        "http://127.0.0.2:50051",
        "--token",
        "FIVELEDGER_TOKEN",
        "FIVELEDGER_AUTH__SECRET",
    ] {
        assert!(message.contains(needed), "{needed}: {message}");
    }
    assert!(!key.exists(), "no local key created for a remote suite");
    // The configured upstreams count as remote too.
    let mut upstreams = base.clone();
    upstreams.upstream.ledgers = "http://127.0.0.2:50053".into();
    let local = ServiceArgs {
        rounds: "http://127.0.0.1:50051".into(),
        issues: "http://127.0.0.1:50052".into(),
        ledgers: "http://127.0.0.1:50053".into(),
        token: None,
        tls: None,
    };
    let via_settings = local.with_upstreams(&upstreams.upstream);
    assert!(fiveledger::cli::signer_for(&via_settings, &upstreams).is_err());
    assert!(!key.exists());
    // With a token: no key needed, none created.
    let with_token = ServiceArgs {
        token: Some("a.b.c".into()),
        ..remote.clone()
    };
    assert!(
        fiveledger::cli::signer_for(&with_token, &base)
            .expect("token")
            .is_none()
    );
    assert!(!key.exists());
    // With the remote suite's key configured: signs with it.
    let mut keyed = base.clone();
    keyed.auth.secret = "the-remote-suite-key-0123456789".into();
    assert!(
        fiveledger::cli::signer_for(&remote, &keyed)
            .expect("key")
            .is_some()
    );
    assert!(!key.exists());
    // The local suite: its key, created on first use as before.
    assert!(
        fiveledger::cli::signer_for(&local, &base)
            .expect("local")
            .is_some()
    );
    assert!(key.exists());
}

/// `--help` and the README list the same exit codes.
#[test]
fn the_readme_lists_the_exit_codes_of_help() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let codes: Vec<&str> = fiveledger::cli::EXIT_CODES.lines().skip(1).collect();
    assert_eq!(codes.len(), 6);
    for line in codes {
        let (code, meaning) = line.trim().split_once("  ").expect("code and meaning");
        let row = format!("| {code} | {meaning} |");
        assert!(readme.contains(&row), "README lacks {row}");
    }
}
