//! `fiveledger export public`: the 双公开 public edition as a printable
//! sheet per unit, read back with calamine and as the xlsx zip. Its cells
//! are exactly what GetPublication gives the public role; nothing of the
//! internal edition or of the problems' confidential details is on it.

use calamine::{Reader, open_workbook_auto};
use fiveledger::cli::Services;
use fiveledger::cli::connect::admin_token;
use fiveledger::cli::export;
use fiveledger::cli::public_sheet::{CHANGES_TITLE, PUBLIC_COLUMNS, PUBLIC_TITLE, changes_lines};
use fiveledger_e2e::{TestSuite, date, paths, spawn_suite, tokens};
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{authed, token};
use fiveledger_proto::ledgers::{self as l, PublicationEdition, PublishedStatus};
use fiveledger_proto::rounds as r;
use fiveledger_proto::types::Severity;

use crate::cli::{args, cli};
use crate::exported_workbook::{text, xlsx_parts};

/// Qingxiu's display name for this test: too long for a sheet name and
/// with characters Excel forbids in one.
const LONG_NAME: &str = "南宁市青秀区[试点]:巡察整改/专项工作领导小组办公室及其所属单位名称很长";

/// Two inspections (Xingning, Qingxiu) of round 9 with three problems
/// handed over; Xingning's first one acknowledged with an approved plan.
/// Returns that entry's name.
async fn handed_over_books(t: &TestSuite) -> String {
    t.two_stationed_inspections("r9", 9).await;
    for (inspection, id, title) in [
        ("rounds/r9/inspections/xn", "p1", "兴宁问题一"),
        ("rounds/r9/inspections/xn", "p2", "兴宁问题二"),
        ("rounds/r9/inspections/qx", "p3", "青秀问题三"),
    ] {
        t.problem(
            &tokens::office(),
            inspection,
            id,
            "party-leadership",
            Severity::Major,
            title,
            "",
            "",
        )
        .await
        .expect("problem");
    }
    for (inspection, leader) in [
        ("rounds/r9/inspections/xn", "li-leader"),
        ("rounds/r9/inspections/qx", "sun-leader"),
    ] {
        t.report(inspection, leader, date(2026, 4, 10), date(2026, 5, 20))
            .await;
        t.give_feedback(inspection, date(2026, 6, 1)).await;
    }
    let entries = t
        .wait_for_entries(
            "round = \"rounds/r9\" AND state = ENTRY_STATE_HANDED_OVER",
            3,
        )
        .await;
    let first = entries
        .iter()
        .find(|e| e.title == "兴宁问题一")
        .expect("p1's entry");
    let unit = token("unit-xn", paths::XINGNING, &[Role::InspectedUnit]);
    let mut ledger = t.ledger();
    ledger
        .acknowledge_hand_over(authed(
            &unit,
            l::AcknowledgeHandOverRequest {
                name: first.name.clone(),
                remarks: "签收".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("acknowledge");
    ledger
        .submit_plan(authed(
            &unit,
            l::SubmitPlanRequest {
                name: first.name.clone(),
                plan: Some(fiveledger_e2e::one_measure_plan(
                    "内部整改方案摘要",
                    "修订议事规则",
                    "整改专班赵六",
                    Some(date(2026, 7, 1)),
                )),
                ..Default::default()
            },
        ))
        .await
        .expect("plan");
    ledger
        .approve_plan(authed(
            &tokens::admin(),
            l::ApprovePlanRequest {
                name: first.name.clone(),
                version: 1,
                remarks: "同意".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("approve");
    first.name.clone()
}

/// `fiveledger export public --scope SCOPE -o FILE [more]`.
async fn export_public(
    t: &TestSuite,
    scope: &str,
    file: &std::path::Path,
    more: &[&str],
) -> anyhow::Result<()> {
    let mut words = vec![
        "export",
        "public",
        "--scope",
        scope,
        "-o",
        file.to_str().unwrap(),
    ];
    words.extend(more);
    cli(t, &words).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_edition_prints_a_sheet_per_unit_with_nothing_confidential() {
    let t = spawn_suite(Default::default()).await;
    let planned = handed_over_books(&t).await;
    let mut organisations = t.organisations();
    let qingxiu = organisations
        .get_organisation(authed(
            &tokens::admin(),
            r::GetOrganisationRequest {
                name: "organisations/qingxiu".into(),
            },
        ))
        .await
        .expect("qingxiu")
        .into_inner();
    organisations
        .update_organisation(authed(
            &tokens::admin(),
            r::UpdateOrganisationRequest {
                organisation: Some(r::Organisation {
                    display_name: LONG_NAME.into(),
                    ..qingxiu
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("rename qingxiu");
    let mut publications = t.publications();
    // Published twice, the second time through the command line after
    // Xingning's measure was done: the sheet shows the latest version and
    // what changed since the first.
    publications
        .publish(authed(
            &tokens::admin(),
            l::PublishRequest {
                organisation_path: paths::CITY.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("publish");
    t.ledger()
        .post_progress(authed(
            &token("unit-xn", paths::XINGNING, &[Role::InspectedUnit]),
            l::PostProgressRequest {
                name: planned,
                measure_id: "m1".into(),
                description: "议事规则已修订印发".into(),
                measure_done: true,
                ..Default::default()
            },
        ))
        .await
        .expect("the measure done");
    let err = cli(&t, &["publish", "--scope", "rounds/no-such-round"])
        .await
        .expect_err("an unknown scope publishes nothing");
    assert!(
        format!("{err:#}").contains("knows no such round"),
        "{err:#}"
    );
    cli(&t, &["publish", "--scope", paths::CITY, "--output", "json"])
        .await
        .expect("fiveledger publish");

    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("公开.xlsx");
    export_public(&t, paths::CITY, &xlsx, &["--output", "json"])
        .await
        .expect("export public");

    // What the public role reads: the latest version of each unit, PUBLIC.
    let listed = publications
        .list_publications(authed(
            &tokens::admin(),
            l::ListPublicationsRequest {
                page_size: 100,
                filter: format!("target_subtree = \"{}\"", paths::CITY),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner()
        .publications;
    let latest: Vec<&l::Publication> = listed.iter().filter(|p| p.version == 2).collect();
    assert_eq!(latest.len(), 2, "{listed:?}");
    let citizen = token("citizen", "", &[Role::Public]);
    let operator = tokens::admin();
    let signer = fiveledger::signer(&t.env.settings).unwrap();
    let admin = Services::with_token(&args(&t), &admin_token(&signer, "public-test")).unwrap();
    let party_leadership = admin
        .categories()
        .get_category(fiveledger_proto::issues::GetCategoryRequest {
            name: "categories/party-leadership".into(),
        })
        .await
        .expect("category")
        .into_inner()
        .display_name;
    assert!(!party_leadership.is_empty());

    let mut book = open_workbook_auto(&xlsx).unwrap();
    // Target path order: guangxi/nanning/qingxiu, then …/xingning; the
    // long name cut to Excel's 31 characters, its forbidden ones replaced.
    let qingxiu_sheet = "南宁市青秀区_试点__巡察整改_专项工作领导小组办公室及其所属".to_owned();
    assert_eq!(qingxiu_sheet.encode_utf16().count(), 31);
    assert_eq!(
        book.sheet_names(),
        vec![qingxiu_sheet.clone(), "兴宁区".to_owned()]
    );
    let units = [(qingxiu_sheet.as_str(), LONG_NAME), ("兴宁区", "兴宁区")];
    for (p, (sheet, unit)) in latest.iter().zip(units) {
        // The public edition as the public role reads it; the internal one
        // for what must stay off the sheet.
        let [public, internal] = [
            (&citizen, PublicationEdition::Public),
            (&operator, PublicationEdition::Internal),
        ]
        .map(|(who, edition)| {
            let mut client = publications.clone();
            let name = p.name.clone();
            let who = who.clone();
            async move {
                client
                    .get_publication(authed(
                        &who,
                        l::GetPublicationRequest {
                            name,
                            edition: edition as i32,
                        },
                    ))
                    .await
                    .unwrap_or_else(|s| panic!("{edition:?} edition: {s:?}"))
                    .into_inner()
            }
        });
        let (public, internal) = (public.await, internal.await);
        let range = book.worksheet_range(sheet).unwrap();
        // The title block: what, which unit, scope, as of when, version.
        assert_eq!(text(&range, 0, 0), PUBLIC_TITLE);
        let published =
            chrono::DateTime::from_timestamp(public.publish_time.unwrap().seconds + 8 * 3600, 0)
                .unwrap()
                .date_naive();
        assert_eq!(
            text(&range, 1, 0),
            format!("单位：{unit}　　范围：南宁市　　截至：{published}　　第2版")
        );
        for (c, (h, _, _)) in PUBLIC_COLUMNS.iter().enumerate() {
            assert_eq!(text(&range, 2, c), *h);
        }
        assert_eq!(range.width(), PUBLIC_COLUMNS.len());
        // Exactly the public items, in order, then the publication's totals.
        assert!(!public.items.is_empty());
        for (i, item) in public.items.iter().enumerate() {
            let status = match item.status() {
                PublishedStatus::Rectifying => "整改中",
                PublishedStatus::Completed => "已完成",
                other => panic!("unexpected status {other:?}"),
            };
            let measures: Vec<String> = item
                .measures
                .iter()
                .map(|m| format!("{} {}", if m.done { "✓" } else { "·" }, m.description))
                .collect();
            assert_eq!(
                (0..PUBLIC_COLUMNS.len())
                    .map(|c| text(&range, 3 + i, c))
                    .collect::<Vec<_>>(),
                vec![
                    (i + 1).to_string(),
                    item.title.clone(),
                    party_leadership.clone(),
                    measures.join("\n"),
                    status.to_owned(),
                    String::new(),
                ],
                "{sheet} item {i}"
            );
        }
        let footer = 3 + public.items.len();
        assert_eq!(
            text(&range, footer, 0),
            format!(
                "合计：共{}个问题，已完成{}个",
                public.item_count, public.completed_count
            )
        );
        // Under a blank row, what changed since the first version: the
        // publication's own list, titles only.
        let changes = changes_lines(&public);
        assert_eq!(changes[0], CHANGES_TITLE);
        let want = if sheet == "兴宁区" {
            "整改措施变化：兴宁问题一（整改中）"
        } else {
            "无变化"
        };
        assert_eq!(changes[1..], [want.to_owned()], "{sheet}");
        for (i, line) in changes.iter().enumerate() {
            assert_eq!(text(&range, footer + 2 + i, 0), *line, "{sheet}");
        }
        assert_eq!(range.height(), footer + 2 + changes.len());

        // Nothing confidential: not the problems' descriptions, evidence or
        // responsible people, not the internal edition's owners, due dates,
        // responsible units or progress, not the plan's summary.
        let cells: String = range
            .rows()
            .flatten()
            .map(fiveledger::cli::table::cell_text)
            .collect::<Vec<_>>()
            .join("|");
        let mut secrets: Vec<String> = vec![
            "巡察组查实".into(),
            "谈话记录".into(),
            "张三".into(),
            "李四".into(),
            "内部整改方案摘要".into(),
            "entries/".into(),
        ];
        for item in &internal.items {
            secrets.extend(item.progress.iter().cloned());
            for m in &item.measures {
                secrets.push(m.owner.clone());
                if let Some(d) = export::date(m.due_date.as_ref()) {
                    secrets.push(d.to_string());
                }
            }
            if let Some(d) = export::date(item.due_date.as_ref()) {
                secrets.push(d.to_string());
            }
        }
        secrets.retain(|s| !s.is_empty());
        for secret in &secrets {
            assert!(!cells.contains(secret.as_str()), "{sheet} shows {secret:?}");
        }
    }
    // The measure published for Xingning's first problem, its owner not.
    let xingning = book.worksheet_range("兴宁区").unwrap();
    assert!(xingning.rows().any(|r| {
        r.iter()
            .any(|c| fiveledger::cli::table::cell_text(c) == "✓ 修订议事规则")
    }));

    // Print setup of every sheet, from the xlsx itself.
    let parts = xlsx_parts(&xlsx);
    for sheet in ["xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"] {
        for want in [
            "paperSize=\"9\"",
            "orientation=\"landscape\"",
            "fitToHeight=\"0\"",
            "fitToPage=\"1\"",
            "<mergeCell ref=\"A1:F1\"/>",
            "<mergeCell ref=\"A2:F2\"/>",
            "ySplit=\"3\"",
        ] {
            assert!(parts[sheet].contains(want), "{sheet} lacks {want}");
        }
    }
    let workbook = &parts["xl/workbook.xml"];
    assert_eq!(workbook.matches("_xlnm.Print_Titles").count(), 2);
    assert!(parts["xl/styles.xml"].contains("<left style=\"thin\">"));
    assert!(parts["xl/styles.xml"].contains("wrapText=\"1\""));

    // An inspection's scope: its unit's sheet only.
    let one = dir.path().join("兴宁.xlsx");
    export_public(&t, "rounds/r9/inspections/xn", &one, &[])
        .await
        .expect("export one inspection's unit");
    let by_inspection = open_workbook_auto(&one).unwrap();
    assert_eq!(by_inspection.sheet_names(), vec!["兴宁区".to_owned()]);

    // A scope with nothing published is refused, nothing written.
    let unpublished = dir.path().join("unpublished.xlsx");
    let err = export_public(&t, "guangxi/nanning/nanning-edu", &unpublished, &[])
        .await
        .expect_err("nothing published for the education bureau");
    assert!(err.to_string().contains("nothing is published"), "{err:#}");
    assert!(!unpublished.exists());
}
