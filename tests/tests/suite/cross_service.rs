//! Refusals and scope that only show with the real services together: the
//! issues service asking the rounds service about an inspection, the ledger
//! reconciling its books against the issues service, and an inspected
//! unit's view across all three.

use crate::common;

use common::*;
use fiveledger_e2e::{EVENT_TIMEOUT, TestSuite, date, paths, spawn_suite, tokens};
use fiveledger_platform::testing::authed;
use fiveledger_proto::issues::{self};
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds;
use fiveledger_proto::types::Severity;
use sea_orm::ConnectionTrait;
use tonic::Code;

const R9: &str = "rounds/r9";
const XN: &str = "rounds/r9/inspections/xn";
const QX: &str = "rounds/r9/inspections/qx";

/// Round 9 with two stationed inspections: Xingning (group g1, leader li)
/// and Qingxiu (group g2, leader sun).
async fn two_stationed_inspections(t: &TestSuite) {
    t.two_stationed_inspections("r9", 9).await;
}

async fn problem(t: &TestSuite, inspection: &str, id: &str, category: &str) -> issues::Problem {
    t.problem(
        &tokens::office(),
        inspection,
        id,
        category,
        Severity::Major,
        &format!("问题 {id}"),
        "",
        "",
    )
    .await
    .unwrap_or_else(|s| panic!("problem {id}: {s:?}"))
}

#[tokio::test]
async fn a_problem_for_an_inspection_the_rounds_service_does_not_know_is_not_found() {
    let t = spawn_suite(Default::default()).await;
    two_stationed_inspections(&t).await;
    let office = tokens::office();

    for missing in [
        "rounds/r9/inspections/nowhere",
        "rounds/r404/inspections/xn",
    ] {
        let status = t
            .problem(
                &office,
                missing,
                "p-missing",
                "party-leadership",
                Severity::Major,
                "无此巡察",
                "",
                "",
            )
            .await
            .expect_err("no such inspection");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert_eq!(reason(&status), "NOT_FOUND", "{status:?}");
        assert_eq!(info(&status, "resource"), missing, "{status:?}");
        assert!(status.message().contains(missing), "{status:?}");
        // Freezing its list is refused the same way.
        let status = t
            .problems()
            .freeze_problem_list(authed(
                &office,
                issues::FreezeProblemListRequest {
                    inspection: missing.into(),
                    request_id: String::new(),
                },
            ))
            .await
            .expect_err("no such inspection");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert_eq!(info(&status, "resource"), missing, "{status:?}");
    }

    // An inspection that exists but lies outside the caller's subtree is
    // just as unknown to a county's inspection office.
    let county_office = fiveledger_platform::testing::token(
        "office-qx",
        paths::QINGXIU,
        &[fiveledger_platform::auth::Role::InspectionOffice],
    );
    let status = t
        .problem(
            &county_office,
            XN,
            "p-elsewhere",
            "party-leadership",
            Severity::Major,
            "越权登记",
            "",
            "",
        )
        .await
        .expect_err("outside scope");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(info(&status, "resource"), XN, "{status:?}");

    // Nothing was written anywhere.
    assert!(
        t.list_problems(&tokens::admin(), "")
            .await
            .expect("list")
            .is_empty()
    );
    t.suite.stop().await.expect("stops");
}

#[tokio::test]
async fn reconcile_names_a_frozen_problem_whose_entry_is_missing_from_the_books() {
    let t = spawn_suite(Default::default()).await;
    two_stationed_inspections(&t).await;
    let p1 = problem(&t, XN, "p1", "party-leadership").await;
    let p2 = problem(&t, XN, "p2", "strict-governance").await;
    let frozen = t
        .problems()
        .freeze_problem_list(authed(
            &tokens::office(),
            issues::FreezeProblemListRequest {
                inspection: XN.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("freeze")
        .into_inner();
    assert_eq!(frozen.problem_count, 2);
    let entries = t
        .wait_for_entries(&format!("inspection = \"{XN}\""), 2)
        .await;
    let reconcile = || async {
        t.ledger()
            .reconcile(authed(
                &tokens::office(),
                ReconcileRequest {
                    inspection: XN.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("reconcile")
            .into_inner()
    };
    let clean = reconcile().await;
    assert!(clean.balanced, "{clean:?}");
    assert_eq!(clean.balance.expect("balance").open, 2);

    // The books lose p2's entry (an operator restores the ledger's tables
    // from a bad copy): the problem is still frozen in the issues service.
    let lost = entries
        .iter()
        .find(|e| e.problem == p2.name)
        .expect("p2's entry");
    let id = lost.name.trim_start_matches("entries/");
    let db = t.ledgers_db().await;
    for table in ["postings WHERE entry_id", "entries WHERE id"] {
        db.writer()
            .execute_unprepared(&format!("DELETE FROM {table} = '{id}'"))
            .await
            .expect("damage the books");
    }
    let damaged = reconcile().await;
    assert!(!damaged.balanced, "{damaged:?}");
    assert_eq!(damaged.problems, 2);
    assert_eq!(damaged.balance.expect("balance").reported, 1);
    let missing: Vec<&Discrepancy> = damaged
        .discrepancies
        .iter()
        .filter(|d| d.kind == "PROBLEM_WITHOUT_ENTRY")
        .collect();
    assert_eq!(missing.len(), 1, "{damaged:?}");
    assert_eq!(missing[0].subject, p2.name);
    assert!(
        !damaged.discrepancies.iter().any(|d| d.subject == p1.name),
        "p1 is accounted for: {damaged:?}"
    );
    t.suite.stop().await.expect("stops");
}

/// A problem kept from before the principal was required (or a routed body
/// missing at the level) keeps its reported list from freezing: the list
/// says why, and Reconcile counts its problems as reported but not posted
/// until the last responsibility is filled.
#[tokio::test]
async fn reconcile_counts_a_reported_list_that_cannot_freeze_as_not_posted() {
    let t = spawn_suite(Default::default()).await;
    two_stationed_inspections(&t).await;
    let p1 = problem(&t, XN, "p1", "party-leadership").await;
    problem(&t, XN, "p2", "strict-governance").await;
    // p1 as older data holds it: no principal.
    t.service_db("issues")
        .await
        .writer()
        .execute_unprepared("UPDATE problems SET principal = '' WHERE id = 'p1'")
        .await
        .expect("an older row");
    t.report(XN, "li-leader", date(2026, 4, 10), date(2026, 5, 20))
        .await;
    let list_name = format!("{XN}/problemList");
    let list = fiveledger_e2e::eventually("the list reported", EVENT_TIMEOUT, || async {
        let list = t
            .problems()
            .get_problem_list(authed(
                &tokens::office(),
                issues::GetProblemListRequest {
                    name: list_name.clone(),
                },
            ))
            .await
            .expect("the list")
            .into_inner();
        (list.state == issues::ProblemListState::Reported as i32).then_some(list)
    })
    .await;
    assert_eq!(list.incomplete_problem_count, 1);
    assert_eq!(
        list.missing_responsibilities,
        [issues::MissingResponsibility {
            field: "responsibilities.principal".into(),
            problem_count: 1,
        }]
    );

    let reconcile = || async {
        t.ledger()
            .reconcile(authed(
                &tokens::office(),
                ReconcileRequest {
                    round: R9.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("reconcile")
            .into_inner()
    };
    let waiting = reconcile().await;
    assert!(!waiting.balanced, "{waiting:?}");
    assert_eq!(waiting.unposted, 2, "{waiting:?}");
    assert_eq!(waiting.balance.expect("balance").reported, 0);
    let not_frozen: Vec<&Discrepancy> = waiting
        .discrepancies
        .iter()
        .filter(|d| d.kind == "PROBLEM_LIST_NOT_FROZEN")
        .collect();
    assert_eq!(not_frozen.len(), 1, "{waiting:?}");
    assert_eq!(not_frozen[0].subject, list_name);
    assert!(
        not_frozen[0]
            .description
            .contains("1 lack responsibilities.principal"),
        "{not_frozen:?}"
    );

    // The office fills the principal: the list freezes, the books post.
    t.problems()
        .update_problem(authed(
            &tokens::office(),
            issues::UpdateProblemRequest {
                problem: Some(issues::Problem {
                    name: p1.name.clone(),
                    responsibilities: Some(issues::Responsibilities {
                        principal: "区委书记 张三".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["responsibilities.principal".into()],
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("complete it");
    t.wait_for_entries(&format!("inspection = \"{XN}\""), 2)
        .await;
    let posted = reconcile().await;
    assert!(posted.balanced, "{posted:?}");
    assert_eq!(posted.unposted, 0);
    assert_eq!(posted.balance.expect("balance").reported, 2);
    t.suite.stop().await.expect("stops");
}

#[tokio::test]
async fn an_inspected_unit_sees_only_its_own_across_the_services() {
    let t = spawn_suite(Default::default()).await;
    two_stationed_inspections(&t).await;
    let xn1 = problem(&t, XN, "xn1", "party-leadership").await;
    let xn2 = problem(&t, XN, "xn2", "personnel-selection").await;
    let qx1 = problem(&t, QX, "qx1", "party-building").await;
    // Xingning's list is frozen by its report (the event), Qingxiu's by
    // the RPC: both paths open the books.
    t.report(XN, "li-leader", date(2026, 4, 10), date(2026, 5, 20))
        .await;
    t.problems()
        .freeze_problem_list(authed(
            &tokens::office(),
            issues::FreezeProblemListRequest {
                inspection: QX.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("freeze Qingxiu");
    let all = t.wait_for_entries(&format!("round = \"{R9}\""), 3).await;
    let entry_of = |problem: &str| {
        all.iter()
            .find(|e| e.problem == problem)
            .unwrap_or_else(|| panic!("no entry for {problem}"))
            .name
            .clone()
    };
    let qx_entry = entry_of(&qx1.name);

    let xingning = tokens::unit(paths::XINGNING);
    let qingxiu = tokens::unit(paths::QINGXIU);

    // Until feedback, the list belongs to the group and the office: the
    // unit sees neither its problems nor its entries.
    assert!(
        t.list_entries(&xingning, "")
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        t.list_problems(&xingning, "")
            .await
            .expect("list")
            .is_empty()
    );
    let status = t
        .problems()
        .get_problem(authed(
            &xingning,
            issues::GetProblemRequest {
                name: xn1.name.clone(),
            },
        ))
        .await
        .expect_err("not handed over yet");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    t.report(QX, "sun-leader", date(2026, 4, 10), date(2026, 5, 20))
        .await;
    for inspection in [XN, QX] {
        t.give_feedback(inspection, date(2026, 6, 1)).await;
    }
    t.wait_for_entries("state = ENTRY_STATE_HANDED_OVER", 3)
        .await;

    // Ledgers: its own entries, nothing of the other county, even asked by name.
    let mine = t.list_entries(&xingning, "").await.expect("list");
    let mut problems: Vec<&str> = mine.iter().map(|e| e.problem.as_str()).collect();
    problems.sort();
    assert_eq!(problems, [xn1.name.as_str(), xn2.name.as_str()]);
    assert!(
        t.list_entries(&xingning, &format!("inspection = \"{QX}\""))
            .await
            .expect("list")
            .is_empty()
    );
    let status = t
        .ledger()
        .get_entry(authed(
            &xingning,
            GetEntryRequest {
                name: qx_entry.clone(),
            },
        ))
        .await
        .expect_err("another unit's entry");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let before = t.entry(&qx_entry).await;
    let status = t
        .ledger()
        .acknowledge_hand_over(authed(
            &xingning,
            AcknowledgeHandOverRequest {
                name: qx_entry.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("another unit's entry");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(t.entry(&qx_entry).await.posting_count, before.posting_count);
    let status = t
        .ledger()
        .reconcile(authed(
            &xingning,
            ReconcileRequest {
                round: R9.into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("units do not audit");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let theirs = t.list_entries(&qingxiu, "").await.expect("list");
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].name, qx_entry);
    // The organisation department sees what it supervises (routed by
    // category), nothing else.
    let supervised = t
        .list_entries(&tokens::org_department(), "")
        .await
        .expect("list");
    assert_eq!(supervised.len(), 1, "{supervised:?}");
    assert_eq!(supervised[0].problem, xn2.name);

    // Issues: the same problems, and no other.
    let listed = t.list_problems(&xingning, "").await.expect("problems");
    let mut names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(names, [xn1.name.as_str(), xn2.name.as_str()]);
    let status = t
        .problems()
        .get_problem(authed(
            &xingning,
            issues::GetProblemRequest {
                name: qx1.name.clone(),
            },
        ))
        .await
        .expect_err("another unit's problem");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // Rounds: its own inspection, not the other.
    let own = t
        .inspections()
        .get_inspection(authed(
            &xingning,
            rounds::GetInspectionRequest { name: XN.into() },
        ))
        .await
        .expect("its own inspection")
        .into_inner();
    assert_eq!(own.target_path, paths::XINGNING);
    let status = t
        .inspections()
        .get_inspection(authed(
            &xingning,
            rounds::GetInspectionRequest { name: QX.into() },
        ))
        .await
        .expect_err("another unit's inspection");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let visible = t
        .inspections()
        .list_inspections(authed(
            &xingning,
            rounds::ListInspectionsRequest {
                parent: R9.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list inspections")
        .into_inner();
    let names: Vec<&str> = visible
        .inspections
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, [XN]);
    t.suite.stop().await.expect("stops");
}

/// The bodies of a level name their own organisation in the token and act
/// for the level they serve: the city's inspection office records on the
/// city's round (issues asks rounds what the office is), sees the city's
/// tree (rounds knows it), and acts as the office on the entries (ledgers).
#[tokio::test]
async fn a_body_of_a_level_names_itself_and_acts_for_its_level() {
    use fiveledger_platform::auth::Role;
    let t = spawn_suite(Default::default()).await;
    two_stationed_inspections(&t).await;
    let office = fiveledger_platform::testing::token(
        "office-body",
        paths::OFFICE,
        &[Role::InspectionOffice],
    );
    let recorded = t
        .problem(
            &office,
            XN,
            "by-the-office",
            "party-leadership",
            Severity::Major,
            "由巡察办登记",
            "",
            "",
        )
        .await
        .expect("the office records on its level's round");
    let counties = t
        .organisations()
        .list_organisations(authed(
            &office,
            rounds::ListOrganisationsRequest {
                filter: "kind = ORGANISATION_KIND_COUNTY".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(counties.organisations.len(), 2, "the whole city");
    t.report(XN, "li-leader", date(2026, 4, 10), date(2026, 5, 20))
        .await;
    let entries = t
        .wait_for_entries(&format!("problem = \"{}\"", recorded.name), 1)
        .await;
    t.ledger()
        .post_supervision(authed(
            &office,
            PostSupervisionRequest {
                name: entries[0].name.clone(),
                remarks: "督办".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("acts as the office of the level running the round");
    // A token naming an organisation that is not a body keeps to its
    // subtree: a county's own office cannot record on the city's round.
    let county = fiveledger_platform::testing::token(
        "xn-office",
        paths::XINGNING,
        &[Role::InspectionOffice],
    );
    let err = problem_as(&t, &county, QX)
        .await
        .expect_err("not the running office");
    assert_eq!(
        err.code(),
        Code::NotFound,
        "Qingxiu is outside Xingning: {err:?}"
    );
    let err = problem_as(&t, &county, XN)
        .await
        .expect_err("not the running office");
    assert_eq!(reason(&err), "ROUND_OUT_OF_SCOPE");
    t.suite.stop().await.expect("stops");
}

async fn problem_as(
    t: &TestSuite,
    token: &str,
    inspection: &str,
) -> Result<issues::Problem, tonic::Status> {
    t.problem(
        token,
        inspection,
        "x",
        "party-leadership",
        Severity::Major,
        "问题",
        "",
        "",
    )
    .await
}

/// Identity fails closed at every service: a token without `org`, not yet
/// valid (`nbf`), issued in the future, living a century, or naming nobody
/// (`sub`) is refused before anything is read.
#[tokio::test]
async fn tokens_missing_or_stretching_a_claim_are_refused_by_every_service() {
    use fiveledger_platform::auth::Claims;
    let t = spawn_suite(Default::default()).await;
    let now = chrono::Utc::now().timestamp();
    let base = Claims {
        sub: "someone".into(),
        org: Some(paths::CITY.into()),
        roles: vec!["viewer".into()],
        iss: "fiveledger".into(),
        iat: now,
        nbf: None,
        exp: now + 600,
    };
    let signer = fiveledger_platform::testing::signer();
    let bad = [
        (
            "no org",
            Claims {
                org: None,
                ..base.clone()
            },
        ),
        (
            "empty org",
            Claims {
                org: Some(String::new()),
                ..base.clone()
            },
        ),
        (
            "not before",
            Claims {
                nbf: Some(now + 3600),
                ..base.clone()
            },
        ),
        (
            "issued ahead",
            Claims {
                iat: now + 3600,
                exp: now + 4000,
                ..base.clone()
            },
        ),
        (
            "a century",
            Claims {
                exp: now + 3_153_600_000,
                ..base.clone()
            },
        ),
        (
            "nobody",
            Claims {
                sub: String::new(),
                ..base.clone()
            },
        ),
    ];
    for (what, claims) in bad {
        let token = signer.sign(&claims);
        let rounds = t
            .organisations()
            .list_organisations(authed(&token, rounds::ListOrganisationsRequest::default()))
            .await
            .expect_err(what);
        let issues = t
            .problems()
            .list_problems(authed(&token, issues::ListProblemsRequest::default()))
            .await
            .expect_err(what);
        let ledgers = t
            .ledger()
            .list_entries(authed(&token, ListEntriesRequest::default()))
            .await
            .expect_err(what);
        for status in [rounds, issues, ledgers] {
            assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
        }
    }
    // The same claims, whole, are accepted.
    t.organisations()
        .list_organisations(authed(
            &signer.sign(&base),
            rounds::ListOrganisationsRequest::default(),
        ))
        .await
        .expect("a whole token");
    t.suite.stop().await.expect("stops");
}
