//! An office's 整改台账 moved in with its whole history: rows written off
//! (已销号) and transferred (已移交) recorded after the fact on the sheet's
//! authority, once; an edited 完成情况 posted as the next progress report;
//! and the ledger's rules for a write-off recorded after the fact
//! (`RequestWriteOffRequest.requested_by`), over gRPC.

use fiveledger::cli::Services;
use fiveledger::cli::connect::{admin_token, reason_of};
use fiveledger::cli::import::{ImportRejected, Imported, Options, import_problems};
use fiveledger_e2e::spawn_suite;
use fiveledger_platform::auth::Role;
use fiveledger_proto::ledgers as l;
use l::posting::Detail;

use crate::cli::{args, cli, date, entries_of, report_and_hand_over, stationed_inspection, today};
use crate::office_sheets::{chinese, posting_counts, problems_of, write_office_sheet};

const LEDGER_HEADERS: &[&str] = &[
    "整改措施",
    "整改时限",
    "完成情况",
    "完成时间",
    "状态",
    "销号时间",
    "移交单位",
];

/// The ledger steps an import took (or would take), by row.
pub(crate) fn steps(i: &Imported) -> Vec<(usize, String)> {
    i.ledger_steps
        .iter()
        .map(|s| (s.row, s.step.clone()))
        .collect()
}

fn owned(steps: &[(usize, &str)]) -> Vec<(usize, String)> {
    steps.iter().map(|(r, s)| (*r, (*s).to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_off_and_transferred_rows_move_in_once_and_an_edited_cell_is_the_next_report() {
    let suite = spawn_suite(Default::default()).await;
    let signer = fiveledger::signer(&suite.env.settings).unwrap();
    let admin = Services::with_token(&args(&suite), &admin_token(&signer, "cli-admin")).unwrap();
    let inspection = stationed_inspection(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let due = today() + chrono::Days::new(60);
    // The feedback was 15 days ago: everything below is after it.
    let finished = today() - chrono::Days::new(10);
    let closed = today() - chrono::Days::new(5);
    let moved = today() - chrono::Days::new(8);
    let sheet = dir.path().join("ledger.xlsx");
    let rows = |progress7: &str| -> Vec<Vec<String>> {
        vec![
            // Row 4: rectified, verified and written off (销号).
            vec![
                "1.重新传达学习；2.建立工作台账".into(),
                chinese(due),
                "已完成整改，制度已修订".into(),
                chinese(finished),
                "已销号".into(),
                chinese(closed),
                String::new(),
            ],
            // Row 5: transferred to the organisation department.
            vec![
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                "已移交".into(),
                chinese(moved),
                "测试市委组织部".into(),
            ],
            // Row 6: 已移交 in 完成情况 only: to the supervising body, today.
            vec![
                String::new(),
                String::new(),
                "已移交市纪委监委".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            // Row 7: being rectified.
            vec![
                "修订财务制度".into(),
                chinese(due),
                progress7.into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        ]
    };
    write_office_sheet(&sheet, LEDGER_HEADERS, &rows("整改中，制度已起草"));
    let on_behalf = Options {
        on_behalf: true,
        ..Default::default()
    };
    let check = Options {
        check: true,
        ..on_behalf.clone()
    };

    // A write-off is the unit's request: without --on-behalf the sheet is
    // refused in the first pass, naming the cell, and nothing is stored.
    let err = import_problems(&admin, &sheet, &inspection, &Default::default())
        .await
        .expect_err("已销号 without --on-behalf");
    let rejected = err.downcast_ref::<ImportRejected>().expect("row errors");
    let got: Vec<(usize, &str, &str)> = rejected
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(got, vec![(4, "状态", "ON_BEHALF_REQUIRED")], "{rejected}");
    assert!(!rejected.partly_recorded);
    assert!(problems_of(&admin, &inspection).await.is_empty());

    let first = import_problems(&admin, &sheet, &inspection, &on_behalf)
        .await
        .expect("import before the hand-over");
    assert_eq!(first.awaiting_entries, vec![4, 5, 6, 7]);
    report_and_hand_over(&admin, &inspection, 6).await;

    // The dry run lists every step, the history included, and takes none.
    let want = owned(&[
        (4, "acknowledged"),
        (4, "plan submitted and approved"),
        (4, "progress"),
        (4, "write-off requested"),
        (4, "write-off approved"),
        (5, "transferred"),
        (6, "transferred"),
        (7, "acknowledged"),
        (7, "plan submitted and approved"),
        (7, "progress"),
    ]);
    let before = posting_counts(&admin, &inspection).await;
    let dry = import_problems(&admin, &sheet, &inspection, &check)
        .await
        .expect("dry run");
    assert_eq!(steps(&dry), want);
    assert_eq!(posting_counts(&admin, &inspection).await, before);
    let real = import_problems(&admin, &sheet, &inspection, &on_behalf)
        .await
        .expect("the history moves in");
    assert_eq!(steps(&real), want);

    let entries = entries_of(&admin, &inspection).await;
    let entry = |row: usize| {
        let problem = &first.problems[row - 4];
        entries
            .iter()
            .find(|e| e.problem == *problem)
            .expect("entry")
            .clone()
    };
    // Row 4: written off on the 销号时间, asked for by the unit on the
    // sheet's authority, verified by the importing office.
    let written_off = entry(4);
    assert_eq!(written_off.state(), l::EntryState::WrittenOff);
    assert_eq!(written_off.first_written_off_date, date(closed));
    let w = written_off.write_off.clone().expect("the write-off");
    let unit = written_off
        .responsibility
        .clone()
        .unwrap_or_default()
        .responsible_unit;
    assert_eq!(unit, "organisations/t-finance");
    assert_eq!(
        (w.requested_by.as_str(), w.verified_by.as_str(), w.approved),
        (unit.as_str(), "cli-admin", true)
    );
    assert_eq!(w.verify_date, date(closed));
    assert_eq!(w.closure_statement, "已完成整改，制度已修订");
    assert_eq!(w.evidence.len(), 1);
    assert_eq!(w.evidence[0].document, "ledger.xlsx 第4行");
    assert_eq!(w.evidence[0].sha256.len(), 64);
    for m in &written_off.plan.clone().expect("the plan").measures {
        assert_eq!((m.done, m.done_date), (true, date(finished)));
    }
    let full = admin
        .ledger()
        .get_entry(l::GetEntryRequest {
            name: written_off.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let write_off_postings: Vec<_> = full
        .postings
        .iter()
        .filter(|p| {
            matches!(
                p.detail,
                Some(Detail::WriteOffRequested(_) | Detail::WriteOffApproved(_))
            )
        })
        .map(|p| (p.actor.as_str(), p.effective_date))
        .collect();
    // Both recorded by the importing office (the journal says who posted).
    assert_eq!(
        write_off_postings,
        vec![("cli-admin", date(closed)), ("cli-admin", date(closed))]
    );
    // Rows 5 and 6: transferred, to the named body and to the supervising one.
    let to_zzb = entry(5);
    assert_eq!(to_zzb.state(), l::EntryState::Transferred);
    let t = &to_zzb.transfers[0];
    assert_eq!(
        (
            t.receiving_body.as_str(),
            t.matter.as_str(),
            t.transfer_date
        ),
        ("organisations/t-zzb", "已移交", date(moved))
    );
    let to_jw = entry(6);
    let t = &to_jw.transfers[0];
    assert_eq!(
        (
            t.receiving_body.as_str(),
            t.matter.as_str(),
            t.transfer_date
        ),
        ("organisations/t-jw", "已移交市纪委监委", date(today()))
    );
    assert!(t.due_date.is_some());
    assert_eq!(entry(7).state(), l::EntryState::Rectifying);
    // The journal still verifies with the history recorded.
    cli(&suite, &["verify", "--scope", &inspection])
        .await
        .expect("the journal verifies");

    // The same sheet again changes nothing.
    let after = posting_counts(&admin, &inspection).await;
    let again = import_problems(&admin, &sheet, &inspection, &on_behalf)
        .await
        .expect("the same sheet again");
    assert_eq!(steps(&again), vec![]);
    assert_eq!(posting_counts(&admin, &inspection).await, after);

    // An edited 完成情况 is the unit's next report: posted once, the
    // earlier one kept; the same sheet again posts nothing more.
    write_office_sheet(&sheet, LEDGER_HEADERS, &rows("制度已印发"));
    let dry = import_problems(&admin, &sheet, &inspection, &check)
        .await
        .expect("dry run of the edited sheet");
    assert_eq!(steps(&dry), owned(&[(7, "progress")]));
    let edited = import_progress(&admin, &sheet, &inspection, &on_behalf).await;
    assert_eq!(steps(&edited), owned(&[(7, "progress")]));
    let again = import_progress(&admin, &sheet, &inspection, &on_behalf).await;
    assert_eq!(steps(&again), vec![]);
    let progress: Vec<String> = admin
        .ledger()
        .get_entry(l::GetEntryRequest {
            name: entry(7).name,
        })
        .await
        .unwrap()
        .into_inner()
        .postings
        .into_iter()
        .filter_map(|p| match p.detail {
            Some(Detail::Progress(p)) => Some(p.description),
            _ => None,
        })
        .collect();
    assert_eq!(progress, ["整改中，制度已起草", "制度已印发"]);

    // A written-off row's 完成情况 no longer changes: refused by name,
    // in the dry run as in the real one, and nothing is posted.
    let mut closed_edit = rows("制度已印发");
    closed_edit[0][2] = "已完成整改，另行补充".into();
    write_office_sheet(&sheet, LEDGER_HEADERS, &closed_edit);
    let before = posting_counts(&admin, &inspection).await;
    for options in [&check, &on_behalf] {
        let err = import_problems(&admin, &sheet, &inspection, options)
            .await
            .expect_err("a written-off row edited");
        let rejected = err.downcast_ref::<ImportRejected>().expect("step errors");
        assert_eq!(rejected.errors.len(), 1, "{rejected}");
        assert_eq!(rejected.errors[0].row, 4);
        assert!(
            rejected.errors[0].message.contains("no longer changes"),
            "{rejected}"
        );
    }
    assert_eq!(posting_counts(&admin, &inspection).await, before);

    // The ledger's rules for `requested_by`, on row 7's entry once its
    // measure is done.
    let rectifying = entry(7).name;
    admin
        .ledger()
        .post_progress(l::PostProgressRequest {
            name: rectifying.clone(),
            measure_id: "m1".into(),
            description: "完成".into(),
            measure_done: true,
            ..Default::default()
        })
        .await
        .expect("the measure done");
    let request = |requested_by: &str, effective: bool| l::RequestWriteOffRequest {
        name: rectifying.clone(),
        closure_statement: "已完成".into(),
        evidence: vec![fiveledger_proto::types::Evidence {
            document: "台账.xlsx 第7行".into(),
            sha256: "b".repeat(64),
        }],
        effective_date: if effective { date(today()) } else { None },
        requested_by: requested_by.into(),
        ..Default::default()
    };
    let unit = admin
        .as_caller(&signer.mint(
            "unit-finance",
            "t-region/t-city/t-finance",
            &[Role::InspectedUnit],
            chrono::Duration::hours(1),
        ))
        .unwrap();
    let refused = |s: tonic::Status| (s.code(), reason_of(&s).unwrap_or_default());
    // Only an administrator names who asked on paper…
    let s = unit
        .ledger()
        .request_write_off(request("organisations/t-finance", false))
        .await
        .expect_err("a unit names another requester");
    assert_eq!(s.code(), tonic::Code::PermissionDenied, "{s:?}");
    // …only for a write-off recorded after the fact, and briefly.
    let s = admin
        .ledger()
        .request_write_off(request("organisations/t-finance", false))
        .await
        .expect_err("requested_by without effective_date");
    assert_eq!(
        refused(s.clone()),
        (tonic::Code::InvalidArgument, "REQUIRED_FIELD".into()),
        "{s:?}"
    );
    assert!(s.message().contains("effective_date"), "{s:?}");
    let s = admin
        .ledger()
        .request_write_off(request(&"单".repeat(201), true))
        .await
        .expect_err("a requester of 201 characters");
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    // Without it the office that asks cannot verify its own request.
    admin
        .ledger()
        .request_write_off(request("", false))
        .await
        .expect("the office asks");
    let s = admin
        .ledger()
        .approve_write_off(l::ApproveWriteOffRequest {
            name: rectifying.clone(),
            ..Default::default()
        })
        .await
        .expect_err("the requester verifies");
    assert_eq!(
        refused(s),
        (
            tonic::Code::FailedPrecondition,
            "VERIFIER_IS_REQUESTER".into()
        )
    );
    suite.suite.stop().await.unwrap();
}

/// Imports the sheet, which must take only its progress steps.
async fn import_progress(
    admin: &Services,
    sheet: &std::path::Path,
    inspection: &str,
    options: &Options,
) -> Imported {
    import_problems(admin, sheet, inspection, options)
        .await
        .expect("the edited sheet imports")
}
