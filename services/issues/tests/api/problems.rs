//! Problems over gRPC: routing, freezing, the responsibility lists, import,
//! and the rounds service missing or down.

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_platform::time::Clock;
use fiveledger_proto::issues::*;
use fiveledger_proto::rounds::InspectionPhase;
use fiveledger_proto::types::{Evidence, Severity};
use prost::Message;
use tonic::Code;

fn update(problem: Problem, paths: &[&str]) -> UpdateProblemRequest {
    UpdateProblemRequest {
        problem: Some(problem),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        request_id: String::new(),
    }
}

fn responsibilities(p: &Problem) -> Responsibilities {
    p.responsibilities.clone().expect("responsibilities")
}

#[tokio::test]
async fn routing_rules_fill_the_supervising_body_and_can_be_overridden() {
    let app = spawn().await;
    // Defaults: (1) the inspected unit, (3) the level's discipline commission.
    let routed = app
        .create(problem("party-leadership", "落实主体责任不力"))
        .await
        .expect("create");
    let r = responsibilities(&routed);
    assert_eq!(r.main_unit, "organisations/xingning");
    assert_eq!(r.main_unit_path, "guangxi/nanning/xingning");
    assert_eq!(r.supervising_body, "organisations/nanning-jw");
    assert!(r.supervising_body_routed);
    assert_eq!(routed.round, "rounds/r12-9");
    assert_eq!(routed.target_path, "guangxi/nanning/xingning");
    assert!(!routed.frozen);

    let personnel = app
        .create(problem("personnel-selection", "超职数配备干部"))
        .await
        .expect("create");
    assert_eq!(
        responsibilities(&personnel).supervising_body,
        "organisations/nanning-zzb"
    );

    // Overridden per problem.
    let mut named = problem("personnel-selection", "带病提拔");
    named.responsibilities.as_mut().expect("r").supervising_body =
        "organisations/nanning-jw".into();
    let named = app.create(named).await.expect("create");
    assert_eq!(
        responsibilities(&named).supervising_body,
        "organisations/nanning-jw"
    );
    assert!(!responsibilities(&named).supervising_body_routed);

    // A routed body follows a change of category; a named one stays.
    let moved = app
        .problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: routed.name.clone(),
                    category: "personnel-selection".into(),
                    etag: routed.etag.clone(),
                    ..Default::default()
                },
                &["category"],
            ),
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(
        responsibilities(&moved).supervising_body,
        "organisations/nanning-zzb"
    );
    let kept = app
        .problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: named.name.clone(),
                    category: "party-building".into(),
                    ..Default::default()
                },
                &["category"],
            ),
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(
        responsibilities(&kept).supervising_body,
        "organisations/nanning-jw"
    );

    // A stale etag is refused.
    let stale = app
        .problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: routed.name.clone(),
                    title: "x".into(),
                    etag: routed.etag.clone(),
                    ..Default::default()
                },
                &["title"],
            ),
        ))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);

    // No propaganda department at this level: left empty for the caller.
    let ideology = app
        .create(problem("ideology", "意识形态责任制落实不到位"))
        .await
        .expect("create");
    assert_eq!(responsibilities(&ideology).supervising_body, "");

    // The rules are data: route ideology to the organisation department.
    let category = app
        .categories()
        .get_category(authed(
            &office(),
            GetCategoryRequest {
                name: "categories/ideology".into(),
            },
        ))
        .await
        .expect("category")
        .into_inner();
    assert_eq!(
        category.supervising_body_kind,
        SupervisingBodyKind::PropagandaDepartment as i32
    );
    let admin_token = admin();
    app.categories()
        .update_category(authed(
            &admin_token,
            UpdateCategoryRequest {
                category: Some(Category {
                    name: category.name.clone(),
                    supervising_body_kind: SupervisingBodyKind::OrganisationDepartment as i32,
                    etag: category.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["supervising_body_kind".into()],
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("update rule");
    let rerouted = app
        .create(problem("ideology", "网络意识形态阵地管理薄弱"))
        .await
        .expect("create");
    assert_eq!(
        responsibilities(&rerouted).supervising_body,
        "organisations/nanning-zzb"
    );
    let catalogue = app
        .categories()
        .list_categories(authed(&office(), ListCategoriesRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(catalogue.categories.len(), 8);

    // An unknown category or organisation names the field.
    let err = app
        .create(problem("no-such-category", "x"))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "UNKNOWN_CATEGORY");
    assert_eq!(bad_field(&err), "problem.category");
    let mut wrong = problem("party-leadership", "x");
    wrong.responsibilities.as_mut().expect("r").supervising_body = "organisations/qingxiu".into();
    let err = app.create(wrong).await.expect_err("not a supervisor");
    assert_eq!(reason(&err), "WRONG_ORGANISATION_KIND");
    assert_eq!(bad_field(&err), "problem.responsibilities.supervising_body");
}

/// A write's own events are streamed as soon as it is answered (within the
/// 300 ms `events` waits), while a transaction elsewhere on the PostgreSQL
/// server stays open throughout: streams wait for the outbox's own writers,
/// not for the rest of the server (what failed in CI with parallel tests).
#[tokio::test]
async fn a_writes_events_are_served_once_it_is_answered_while_other_transactions_stay_open() {
    let app = spawn().await;
    let _open = testing::UnrelatedTransaction::open().await;
    let a = app
        .create(problem("party-leadership", "a"))
        .await
        .expect("create");
    assert_eq!(subjects(&app.events("ProblemCreated").await), [&a.name]);
    let b = app.create(problem("ideology", "b")).await.expect("create");
    assert_eq!(
        subjects(&app.events("ProblemCreated").await),
        [&a.name, &b.name]
    );
}

fn subjects(events: &[fiveledger_proto::types::Event]) -> Vec<&String> {
    events.iter().map(|e| &e.subject).collect()
}

#[tokio::test]
async fn freezing_needs_responsibilities_one_and_three_and_then_nothing_changes() {
    let app = spawn().await;
    let complete = app
        .create(problem("party-leadership", "a"))
        .await
        .expect("create");
    // No propaganda department at the level: (3) stays empty.
    let bare = app.create(problem("ideology", "b")).await.expect("create");
    assert_eq!(app.events("ProblemCreated").await.len(), 2);

    let err = app
        .problems()
        .freeze_problem_list(authed(
            &office(),
            FreezeProblemListRequest {
                inspection: INSPECTION.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("incomplete");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "RESPONSIBILITIES_INCOMPLETE");
    let subjects = violation_subjects(&err);
    assert!(subjects.contains(&bare.name), "{subjects:?}");
    assert!(!subjects.contains(&complete.name));
    assert!(err.message().contains(&bare.name));
    assert_eq!(
        app.list_state(INSPECTION).await.state,
        ProblemListState::Open as i32
    );

    let mut r = responsibilities(&bare);
    r.principal = "王局长".into();
    r.supervising_body = "organisations/nanning-jw".into();
    app.problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: bare.name.clone(),
                    responsibilities: Some(r),
                    ..Default::default()
                },
                &["responsibilities"],
            ),
        ))
        .await
        .expect("complete it");

    for _ in 0..2 {
        let list = app
            .problems()
            .freeze_problem_list(authed(
                &office(),
                FreezeProblemListRequest {
                    inspection: INSPECTION.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect("freeze")
            .into_inner();
        assert_eq!(list.state, ProblemListState::Frozen as i32);
        assert_eq!(list.problem_count, 2);
    }
    let events = app.events("ProblemListFrozen").await;
    assert_eq!(events.len(), 1, "freezing twice writes one event");
    let frozen = ProblemListFrozen::decode(
        events[0]
            .payload
            .as_ref()
            .expect("payload")
            .value
            .as_slice(),
    )
    .expect("decode");
    assert_eq!(frozen.inspection, INSPECTION);
    let mut names: Vec<_> = frozen.problems.iter().map(|p| p.name.clone()).collect();
    names.sort();
    let mut expected = vec![complete.name.clone(), bare.name.clone()];
    expected.sort();
    assert_eq!(names, expected);
    assert!(frozen.problems.iter().all(|p| p.frozen));

    // Frozen: no edit, no delete, no new problem, not even responsibilities.
    let err = app
        .problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: complete.name.clone(),
                    title: "changed".into(),
                    ..Default::default()
                },
                &["title"],
            ),
        ))
        .await
        .expect_err("frozen");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "PROBLEM_LIST_FROZEN");
    let err = app
        .problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: complete.name.clone(),
                    ..Default::default()
                },
                &["responsibilities.leader_in_charge"],
            ),
        ))
        .await
        .expect_err("frozen");
    assert_eq!(reason(&err), "PROBLEM_LIST_FROZEN");
    let err = app
        .problems()
        .delete_problem(authed(
            &office(),
            DeleteProblemRequest {
                name: complete.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("frozen");
    assert_eq!(reason(&err), "PROBLEM_LIST_FROZEN");
    let err = app
        .create(problem("party-leadership", "late"))
        .await
        .expect_err("frozen");
    assert_eq!(reason(&err), "PROBLEM_LIST_FROZEN");

    let got = app
        .problems()
        .get_problem(authed(
            &office(),
            GetProblemRequest {
                name: complete.name.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert!(got.frozen);
    assert_eq!(app.list_all(&office(), "frozen = true", 1).await.len(), 2);
    assert!(
        app.list_all(&office(), "frozen = false", 10)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn problems_are_registered_only_while_stationed() {
    let app = spawn().await;
    let mut p = problem("party-leadership", "x");
    p.inspection = PREPARING.into();
    let err = app.create(p).await.expect_err("preparation");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "INSPECTION_NOT_STATIONED");
    assert!(err.message().contains("INSPECTION_PHASE_PREPARATION"));

    let created = app
        .create(problem("party-leadership", "x"))
        .await
        .expect("create");
    app.problems()
        .delete_problem(authed(
            &office(),
            DeleteProblemRequest {
                name: created.name.clone(),
                etag: created.etag.clone(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("delete while stationed");
    let err = app
        .problems()
        .get_problem(authed(
            &office(),
            GetProblemRequest {
                name: created.name.clone(),
            },
        ))
        .await
        .expect_err("deleted");
    assert_eq!(err.code(), Code::NotFound);
    // Each change is an event: created once (the refused one is not), deleted once.
    let created_events = app.events("ProblemCreated").await;
    assert_eq!(created_events.len(), 1);
    assert_eq!(created_events[0].subject, created.name);
    let deleted = app.events("ProblemDeleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].subject, created.name);
}

#[tokio::test]
async fn the_reported_event_freezes_or_leaves_only_responsibilities_open() {
    let app = spawn().await;
    // No propaganda department at the level: (3) of both stays empty.
    let incomplete = app.create(problem("ideology", "x")).await.expect("create");
    let second = app.create(problem("ideology", "z")).await.expect("create");
    app.create(problem("party-building", "y"))
        .await
        .expect("create");

    app.fake.report(INSPECTION).await;
    let mut state = 0;
    for _ in 0..100 {
        state = app.list_state(INSPECTION).await.state;
        if state == ProblemListState::Reported as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, ProblemListState::Reported as i32);
    assert!(app.events("ProblemListFrozen").await.is_empty());
    // The list says why it waits, and its problems can be found.
    let list = app.list_state(INSPECTION).await;
    assert_eq!(list.problem_count, 3);
    assert_eq!(list.incomplete_problem_count, 2);
    assert_eq!(
        list.missing_responsibilities,
        [MissingResponsibility {
            field: "responsibilities.supervising_body".into(),
            problem_count: 2,
        }]
    );
    let waiting = app
        .list_all(
            &office(),
            "list_state = PROBLEM_LIST_STATE_REPORTED AND frozen = false",
            10,
        )
        .await;
    assert_eq!(waiting.len(), 3);
    assert!(
        app.list_all(&office(), "list_state = PROBLEM_LIST_STATE_FROZEN", 10)
            .await
            .is_empty()
    );

    // Reported: content is final, responsibilities may be completed.
    let err = app
        .problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: incomplete.name.clone(),
                    title: "new".into(),
                    ..Default::default()
                },
                &["title"],
            ),
        ))
        .await
        .expect_err("content");
    assert_eq!(reason(&err), "PROBLEM_LIST_REPORTED");
    let err = app
        .create(problem("party-leadership", "late"))
        .await
        .expect_err("new");
    assert_eq!(reason(&err), "PROBLEM_LIST_REPORTED");
    let complete = |name: String| {
        let mut client = app.problems();
        async move {
            client
                .update_problem(authed(
                    &office(),
                    update(
                        Problem {
                            name,
                            responsibilities: Some(Responsibilities {
                                supervising_body: "organisations/nanning-jw".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        &["responsibilities.supervising_body"],
                    ),
                ))
                .await
                .expect("complete")
                .into_inner()
        }
    };
    // One still incomplete: the list stays reported.
    let first = complete(incomplete.name.clone()).await;
    assert!(!first.frozen);
    let list = app.list_state(INSPECTION).await;
    assert_eq!(list.state, ProblemListState::Reported as i32);
    assert_eq!(list.incomplete_problem_count, 1);
    assert_eq!(list.missing_responsibilities[0].problem_count, 1);
    assert!(app.events("ProblemListFrozen").await.is_empty());
    // The last one completed freezes the list in the same update.
    let last = complete(second.name.clone()).await;
    assert!(last.frozen);
    let list = app.list_state(INSPECTION).await;
    assert_eq!(list.state, ProblemListState::Frozen as i32);
    assert!(list.freeze_time.is_some());
    assert!(list.missing_responsibilities.is_empty());
    assert_eq!(list.incomplete_problem_count, 0);
    let frozen = app.events("ProblemListFrozen").await;
    assert_eq!(frozen.len(), 1);
    assert_eq!(frozen[0].actor, "office-nn");
    assert_eq!(app.list_all(&office(), "frozen = true", 10).await.len(), 3);
    // Freezing again changes nothing and writes no second event.
    let list = app
        .problems()
        .freeze_problem_list(authed(
            &office(),
            FreezeProblemListRequest {
                inspection: INSPECTION.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("freeze")
        .into_inner();
    assert_eq!(list.state, ProblemListState::Frozen as i32);
    assert!(list.report_time.is_some());
    assert_eq!(app.events("ProblemListFrozen").await.len(), 1);
}

/// 第一责任人 is required: refused on create, on an update clearing it, and
/// per row of an import, with the field named and nothing stored.
#[tokio::test]
async fn a_problem_without_its_principal_is_refused_at_the_door() {
    let app = spawn().await;
    let mut nameless = problem("party-leadership", "x");
    nameless.responsibilities.as_mut().expect("r").principal = "  ".into();
    let err = app.create(nameless).await.expect_err("no principal");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "REQUIRED_FIELD");
    assert_eq!(bad_field(&err), "problem.responsibilities.principal");
    // No responsibilities at all: the principal is what is missing.
    let bare = Problem {
        responsibilities: None,
        ..problem("party-leadership", "z")
    };
    let err = app.create(bare).await.expect_err("no responsibilities");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "problem.responsibilities.principal");
    assert!(app.events("ProblemCreated").await.is_empty());
    assert!(app.list_all(&office(), "", 10).await.is_empty());

    let created = app
        .create(problem("party-leadership", "y"))
        .await
        .expect("create");
    let err = app
        .problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: created.name.clone(),
                    responsibilities: Some(Responsibilities::default()),
                    ..Default::default()
                },
                &["responsibilities.principal"],
            ),
        ))
        .await
        .expect_err("cleared");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "problem.responsibilities.principal");

    let mut batch = rows(3);
    batch[1].responsibilities.as_mut().expect("r").principal = String::new();
    let response = import(&app, batch).await.expect("answered");
    assert!(response.problems.is_empty());
    let errors: Vec<_> = response
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        errors,
        [(2, "responsibilities.principal", "REQUIRED_FIELD")]
    );
    assert_eq!(app.list_all(&office(), "", 10).await.len(), 1);
}

#[tokio::test]
async fn the_reported_event_freezes_a_complete_list_once() {
    let app = spawn().await;
    app.create(problem("party-leadership", "x"))
        .await
        .expect("create");
    app.fake.report(INSPECTION).await;
    app.fake.report(INSPECTION).await; // a second report: still one freeze
    let mut state = 0;
    for _ in 0..100 {
        state = app.list_state(INSPECTION).await.state;
        if state == ProblemListState::Frozen as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, ProblemListState::Frozen as i32);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = app.events("ProblemListFrozen").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "service:issues");
}

fn rows(n: usize) -> Vec<Problem> {
    (0..n)
        .map(|i| {
            let mut p = problem(
                if i % 2 == 0 {
                    "party-leadership"
                } else {
                    "personnel-selection"
                },
                &format!("问题 {i}"),
            );
            p.inspection = String::new();
            if i % 5 == 0 {
                p.responsibilities
                    .as_mut()
                    .expect("r")
                    .functional_department = "organisations/nanning-jtj".into();
            }
            p
        })
        .collect()
}

async fn import(
    app: &TestApp,
    rows: Vec<Problem>,
) -> Result<ImportProblemsResponse, tonic::Status> {
    // Several messages, as a client streams a large file.
    let messages: Vec<ImportProblemsRequest> = rows
        .chunks(100)
        .enumerate()
        .map(|(i, chunk)| ImportProblemsRequest {
            inspection: if i == 0 {
                INSPECTION.into()
            } else {
                String::new()
            },
            problems: chunk.to_vec(),
            request_id: if i == 0 {
                "import-1".into()
            } else {
                String::new()
            },
        })
        .collect();
    app.problems()
        .import_problems(authed(&office(), tokio_stream::iter(messages)))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn an_import_with_one_bad_row_stores_nothing_and_names_the_row() {
    let app = spawn().await;
    let mut batch = rows(500);
    batch[136].category = "no-such-category".into();
    batch[41]
        .responsibilities
        .as_mut()
        .expect("r")
        .supervising_body = "organisations/nowhere".into();
    batch[7].title = String::new();
    let before = app
        .fake
        .calls
        .batch_get_organisations
        .load(Ordering::SeqCst);
    let response = import(&app, batch).await.expect("answered");
    assert_eq!(
        app.fake
            .calls
            .batch_get_organisations
            .load(Ordering::SeqCst)
            - before,
        1,
        "the unknown organisation costs no second call"
    );
    assert!(response.problems.is_empty());
    let errors: Vec<_> = response
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (8, "title", "REQUIRED_FIELD"),
            (
                42,
                "responsibilities.supervising_body",
                "UNKNOWN_ORGANISATION"
            ),
            (137, "category", "UNKNOWN_CATEGORY"),
        ]
    );
    assert!(app.list_all(&office(), "", 1000).await.is_empty());
    assert!(app.events("ProblemsImported").await.is_empty());
}

#[tokio::test]
async fn a_good_import_of_500_problems_stores_500_with_batched_calls() {
    let app = spawn().await;
    let before_get = app.fake.calls.get_inspection.load(Ordering::SeqCst);
    let before_batch = app
        .fake
        .calls
        .batch_get_organisations
        .load(Ordering::SeqCst);
    let before_list = app.fake.calls.list_organisations.load(Ordering::SeqCst);
    let response = import(&app, rows(500)).await.expect("import");
    assert!(response.errors.is_empty(), "{:?}", response.errors.first());
    assert_eq!(response.problems.len(), 500);
    // One event for the whole import.
    assert_eq!(app.events("ProblemsImported").await.len(), 1);
    assert_eq!(
        app.fake.calls.get_inspection.load(Ordering::SeqCst) - before_get,
        1
    );
    assert_eq!(
        app.fake
            .calls
            .batch_get_organisations
            .load(Ordering::SeqCst)
            - before_batch,
        1
    );
    // One directory lookup per routed kind (discipline commission, organisation department).
    assert_eq!(
        app.fake.calls.list_organisations.load(Ordering::SeqCst) - before_list,
        2
    );

    let all = app
        .list_all(&office(), &format!("inspection = \"{INSPECTION}\""), 200)
        .await;
    assert_eq!(all.len(), 500);
    let by_time = app.list_all(&office(), "", 120).await;
    assert_eq!(by_time.len(), 500);

    // A retry with the same request id stores nothing more.
    let again = import(&app, rows(500)).await.expect("retry");
    assert_eq!(again.problems.len(), 500);
    assert_eq!(app.list_all(&office(), "", 1000).await.len(), 500);

    // Responsibility lists: (4) the transport bureau holds every fifth.
    let bureau = app
        .list_all(
            &office(),
            "responsible = \"organisations/nanning-jtj\" AND responsibility = 4",
            30,
        )
        .await;
    assert_eq!(bureau.len(), 100);
    // (3) the organisation department holds the personnel problems.
    let zzb = app
        .list_all(
            &office(),
            "responsible = \"organisations/nanning-zzb\" AND responsibility = 3 AND category = personnel-selection",
            1000,
        )
        .await;
    assert_eq!(zzb.len(), 250);
}

#[tokio::test]
async fn responsibility_lists_are_queried_by_holder_and_scoped() {
    let app = spawn().await;
    for i in 0..3 {
        app.create(problem("party-leadership", &format!("p{i}")))
            .await
            .expect("create");
    }
    let mut sev = problem("personnel-selection", "severe");
    sev.severity = Severity::Severe as i32;
    app.create(sev).await.expect("create");

    // Until feedback the list belongs to the office and the group: the
    // supervising body does not see its problems yet.
    let jw = discipline();
    assert!(
        app.list_all(
            &jw,
            "responsible = \"organisations/nanning-jw\" AND responsibility = 3",
            10
        )
        .await
        .is_empty()
    );
    app.hand_over(INSPECTION).await;
    // The discipline commission sees the problems it supervises, though the
    // targets lie outside its own subtree, page by page.
    let supervised = app
        .list_all(
            &jw,
            "responsible = \"organisations/nanning-jw\" AND responsibility = 3",
            1,
        )
        .await;
    assert_eq!(supervised.len(), 3);
    assert!(
        app.list_all(
            &jw,
            "responsible = \"organisations/nanning-jw\" AND responsibility = 1",
            10
        )
        .await
        .is_empty()
    );
    assert!(app.list_all(&jw, "", 10).await.is_empty(), "nothing else");

    // (1) and (2): the inspected unit's list and its leaders in charge.
    let unit = testing::token("unit", "guangxi/nanning/xingning", &[Role::InspectedUnit]);
    assert_eq!(
        app.list_all(
            &unit,
            "responsible = \"organisations/xingning\" AND responsibility = 1",
            2
        )
        .await
        .len(),
        4
    );
    assert_eq!(
        app.list_all(
            &unit,
            "responsible = \"organisations/xingning\" AND responsibility = 2 AND leader_in_charge = \"李副书记\"",
            2
        )
        .await
        .len(),
        4
    );
    assert_eq!(
        app.list_all(&office(), "severity = SEVERITY_SEVERE", 10)
            .await
            .len(),
        1
    );
    assert_eq!(
        app.list_all(
            &office(),
            "target_subtree = \"guangxi/nanning/xingning\" AND round = \"rounds/r12-9\"",
            10
        )
        .await
        .len(),
        4
    );

    // Another county sees nothing of Xingning.
    let other = testing::token("q", "guangxi/nanning/qingxiu", &[Role::InspectionOffice]);
    assert!(app.list_all(&other, "", 10).await.is_empty());
    let one = &supervised[0];
    let err = app
        .problems()
        .get_problem(authed(
            &other,
            GetProblemRequest {
                name: one.name.clone(),
            },
        ))
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .problems()
        .list_problems(authed(
            &office(),
            ListProblemsRequest {
                filter: "responsibility = 3".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("needs a holder");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "INVALID_FILTER");
}

#[tokio::test]
async fn an_unknown_inspection_is_not_found_by_name() {
    let app = spawn().await;
    let mut p = problem("party-leadership", "x");
    p.inspection = "rounds/r12-9/inspections/nowhere".into();
    let err = app.create(p).await.expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        metadata(&err, "resource"),
        "rounds/r12-9/inspections/nowhere"
    );
    assert!(err.message().contains("rounds/r12-9/inspections/nowhere"));
}

#[tokio::test]
async fn with_the_rounds_service_down_calls_are_unavailable_and_nothing_is_written() {
    let app = spawn_without_rounds().await;
    let err = app
        .create(problem("party-leadership", "x"))
        .await
        .expect_err("down");
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(reason(&err), "DEPENDENCY_UNAVAILABLE");
    let response = import(&app, rows(3)).await.expect_err("down");
    assert_eq!(response.code(), Code::Unavailable);
    let err = app
        .problems()
        .freeze_problem_list(authed(
            &office(),
            FreezeProblemListRequest {
                inspection: INSPECTION.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("down");
    assert_eq!(err.code(), Code::Unavailable);
    assert!(app.list_all(&admin(), "", 100).await.is_empty());
    assert!(app.events("").await.is_empty());
    let _ = InspectionPhase::Stationed;
}

/// Many rows naming distinct unknown organisations, in every responsibility
/// field: one answer naming each row and field, nothing stored, and the
/// directory asked once per 1000 distinct names (not once per unknown name).
#[tokio::test]
async fn an_import_naming_many_unknown_organisations_names_every_row_in_bounded_calls() {
    let app = spawn().await;
    let mut batch = rows(1600);
    let mut expected = Vec::new();
    for (i, p) in batch.iter_mut().enumerate() {
        if i % 16 == 15 {
            continue;
        }
        let r = p.responsibilities.as_mut().expect("r");
        let field = match i % 3 {
            0 => {
                r.main_unit = format!("organisations/ghost-m{i}");
                "responsibilities.main_unit"
            }
            1 => {
                r.supervising_body = format!("organisations/ghost-s{i}");
                "responsibilities.supervising_body"
            }
            _ => {
                r.functional_department = format!("organisations/ghost-f{i}");
                "responsibilities.functional_department"
            }
        };
        expected.push((
            i as i32 + 1,
            field.to_owned(),
            "UNKNOWN_ORGANISATION".to_owned(),
        ));
    }
    assert_eq!(expected.len(), 1500);
    let before = app
        .fake
        .calls
        .batch_get_organisations
        .load(Ordering::SeqCst);
    let response = import(&app, batch).await.expect("answered");
    let calls = app
        .fake
        .calls
        .batch_get_organisations
        .load(Ordering::SeqCst)
        - before;
    // 1501 distinct names (the unknown ones and the transport bureau).
    assert_eq!(calls, 2);
    assert!(response.problems.is_empty());
    let errors: Vec<_> = response
        .errors
        .iter()
        .map(|e| (e.row, e.field.clone(), e.reason.clone()))
        .collect();
    assert_eq!(errors, expected);
    assert!(app.list_all(&office(), "", 1000).await.is_empty());
    assert!(app.events("ProblemsImported").await.is_empty());
}

#[tokio::test]
async fn an_import_over_the_configured_maximum_is_refused_whole() {
    let settings = fiveledger_issues::IssuesSettings {
        max_import_rows: 5,
        ..Default::default()
    };
    let app = spawn_with(settings, Clock::system()).await;
    let err = import(&app, rows(6)).await.expect_err("too many");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "TOO_MANY_ROWS");
    assert_eq!(bad_field(&err), "problems");
    assert!(app.list_all(&office(), "", 100).await.is_empty());
    assert!(app.events("ProblemsImported").await.is_empty());
    // The maximum itself is taken.
    let ok = import(&app, rows(5)).await.expect("five");
    assert_eq!(ok.problems.len(), 5);
}

async fn list_ordered(app: &TestApp, order_by: &str, page_size: i32) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .problems()
            .list_problems(authed(
                &office(),
                ListProblemsRequest {
                    page_size,
                    page_token: page_token.clone(),
                    order_by: order_by.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("list")
            .into_inner();
        assert!(page.problems.len() <= page_size as usize);
        out.extend(page.problems);
        pages += 1;
        assert!(pages < 100, "paging does not end");
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
}

/// Rows imported in one call share their create_time: the keyset pages by
/// (create_time, name) in both directions, with no row repeated or skipped.
#[tokio::test]
async fn problems_page_by_create_time_across_ties_in_both_directions() {
    let app = spawn().await;
    let imported = import(&app, rows(25)).await.expect("import").problems;
    assert!(
        imported
            .iter()
            .all(|p| p.create_time == imported[0].create_time),
        "one import, one create_time"
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut later = Vec::new();
    for i in 0..3 {
        later.push(
            app.create(problem("party-leadership", &format!("later {i}")))
                .await
                .expect("create"),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut tied: Vec<String> = imported.iter().map(|p| p.name.clone()).collect();
    tied.sort();
    let mut expected = tied.clone();
    expected.extend(later.iter().map(|p| p.name.clone()));

    for page_size in [4, 7] {
        let asc: Vec<String> = list_ordered(&app, "create_time", page_size)
            .await
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(asc, expected, "ascending, page size {page_size}");
        let desc: Vec<String> = list_ordered(&app, "create_time desc", page_size)
            .await
            .into_iter()
            .map(|p| p.name)
            .collect();
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(desc, reversed, "descending, page size {page_size}");
    }
}

/// List (2) holds only problems that name a leader in charge, so it differs
/// from list (1) of the same unit.
#[tokio::test]
async fn the_leader_in_charge_list_leaves_out_problems_without_one() {
    let app = spawn().await;
    let mut with = Vec::new();
    for i in 0..2 {
        with.push(
            app.create(problem("party-leadership", &format!("led {i}")))
                .await
                .expect("create"),
        );
    }
    let mut unled = problem("party-building", "no leader in charge");
    unled.responsibilities.as_mut().expect("r").leader_in_charge = String::new();
    let unled = app.create(unled).await.expect("create");
    let unit = testing::token("unit", "guangxi/nanning/xingning", &[Role::InspectedUnit]);
    app.hand_over(INSPECTION).await;
    let names = |ps: Vec<Problem>| {
        let mut n: Vec<String> = ps.into_iter().map(|p| p.name).collect();
        n.sort();
        n
    };
    let first = names(
        app.list_all(
            &unit,
            "responsible = \"organisations/xingning\" AND responsibility = 1",
            2,
        )
        .await,
    );
    assert_eq!(first.len(), 3);
    assert!(first.contains(&unled.name));
    let second = names(
        app.list_all(
            &unit,
            "responsible = \"organisations/xingning\" AND responsibility = 2",
            2,
        )
        .await,
    );
    let mut expected: Vec<String> = with.iter().map(|p| p.name.clone()).collect();
    expected.sort();
    assert_eq!(second, expected);
}

/// A category created over gRPC routes the problems that use it.
#[tokio::test]
async fn a_created_category_is_used_by_a_problem() {
    let app = spawn().await;
    let create = |token: String| {
        let mut client = app.categories();
        async move {
            client
                .create_category(authed(
                    &token,
                    CreateCategoryRequest {
                        category: Some(Category {
                            display_name: "农村集体“三资”管理".into(),
                            supervising_body_kind: SupervisingBodyKind::OrganisationDepartment
                                as i32,
                            grassroots: true,
                            ..Default::default()
                        }),
                        category_id: "rural-collective-assets".into(),
                        request_id: String::new(),
                    },
                ))
                .await
        }
    };
    let err = create(discipline()).await.expect_err("not the office");
    assert_eq!(err.code(), Code::PermissionDenied);
    // The catalogue is the region's: a city's office may not change it.
    let err = create(office()).await.expect_err("a city office");
    assert_eq!(err.code(), Code::PermissionDenied);
    let region = testing::token("office-gx", "guangxi", &[Role::InspectionOffice]);
    let err = app
        .create(problem("rural-collective-assets", "x"))
        .await
        .expect_err("not yet");
    assert_eq!(reason(&err), "UNKNOWN_CATEGORY");
    let created = create(region).await.expect("create").into_inner();
    assert_eq!(created.name, "categories/rural-collective-assets");
    assert!(created.grassroots);
    let p = app
        .create(problem("rural-collective-assets", "集体资产出租未公开"))
        .await
        .expect("problem");
    assert_eq!(p.category, "rural-collective-assets");
    let r = responsibilities(&p);
    assert_eq!(r.supervising_body, "organisations/nanning-zzb");
    assert!(r.supervising_body_routed);
    assert_eq!(
        app.list_all(&office(), "category = rural-collective-assets", 10)
            .await
            .len(),
        1
    );
}

/// Fixed on the spot (date and action) and evidence references come back
/// as sent, on create, read, list and update.
#[tokio::test]
async fn fixed_on_the_spot_and_evidence_round_trip() {
    let app = spawn().await;
    let fixed = FixedOnTheSpot {
        date: Some(fiveledger_proto::google::r#type::Date {
            year: 2026,
            month: 3,
            day: 4,
        }),
        action: "当场退还违规收取的费用".into(),
    };
    let evidence = vec![
        Evidence {
            document: "谈话笔录-01.pdf".into(),
            sha256: "b".repeat(64),
        },
        Evidence {
            document: "收费凭证.jpg".into(),
            sha256: "c".repeat(64),
        },
    ];
    let mut p = problem("party-leadership", "违规收费");
    p.fixed_on_the_spot = Some(fixed.clone());
    p.evidence = evidence.clone();
    let created = app.create(p).await.expect("create");
    assert_eq!(created.fixed_on_the_spot, Some(fixed.clone()));
    assert_eq!(created.evidence, evidence);
    let got = app
        .problems()
        .get_problem(authed(
            &office(),
            GetProblemRequest {
                name: created.name.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.fixed_on_the_spot, Some(fixed.clone()));
    assert_eq!(got.evidence, evidence);
    let listed = app.list_all(&office(), "", 10).await;
    assert_eq!(listed[0].fixed_on_the_spot, Some(fixed));
    assert_eq!(listed[0].evidence, evidence);

    let refixed = FixedOnTheSpot {
        date: Some(fiveledger_proto::google::r#type::Date {
            year: 2026,
            month: 3,
            day: 6,
        }),
        action: "已全额退还".into(),
    };
    let updated = app
        .problems()
        .update_problem(authed(
            &office(),
            update(
                Problem {
                    name: created.name.clone(),
                    fixed_on_the_spot: Some(refixed.clone()),
                    evidence: evidence[..1].to_vec(),
                    ..Default::default()
                },
                &["fixed_on_the_spot", "evidence"],
            ),
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.fixed_on_the_spot, Some(refixed));
    assert_eq!(updated.evidence, evidence[..1].to_vec());
}

fn frozen_events_report_dates(
    events: &[fiveledger_proto::types::Event],
) -> Vec<Option<fiveledger_proto::google::r#type::Date>> {
    events
        .iter()
        .map(|e| {
            ProblemListFrozen::decode(e.payload.as_ref().expect("payload").value.as_slice())
                .expect("decode")
                .report_date
        })
        .collect()
}

/// The frozen list carries the date of the inspection's comprehensive
/// report, so the ledger opens its entries on the report day; a list frozen
/// by request before any report carries none.
#[tokio::test]
async fn the_frozen_list_carries_the_report_date() {
    let app = spawn().await;
    let reported = fiveledger_proto::google::r#type::Date {
        year: 2026,
        month: 3,
        day: 17,
    };
    app.fake
        .inspections
        .lock()
        .expect("lock")
        .get_mut(INSPECTION)
        .expect("inspection")
        .comprehensive_report = Some(fiveledger_proto::rounds::ReportRecord {
        date: Some(reported),
        summary: "综合报告".into(),
    });
    app.create(problem("party-leadership", "x"))
        .await
        .expect("create");
    app.fake.report(INSPECTION).await;
    let mut events = Vec::new();
    for _ in 0..100 {
        events = app.events("ProblemListFrozen").await;
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(frozen_events_report_dates(&events), vec![Some(reported)]);

    // Frozen by request while stationed, without a report: no date.
    let app = spawn().await;
    app.create(problem("party-leadership", "y"))
        .await
        .expect("create");
    app.problems()
        .freeze_problem_list(authed(
            &office(),
            FreezeProblemListRequest {
                inspection: INSPECTION.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("freeze");
    let events = app.events("ProblemListFrozen").await;
    assert_eq!(frozen_events_report_dates(&events), vec![None]);
}
