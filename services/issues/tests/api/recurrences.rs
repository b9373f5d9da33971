//! Back-tracking (倒查) over gRPC: problems found in a unit flagged against
//! the earlier inspection of the unit (and its group) that should have
//! found them, within the window only; listing and deciding them, in scope.

use crate::common;

use std::time::Duration;

use common::*;
use fiveledger_issues::IssuesSettings;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_platform::time::Clock;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::issues::recurrence_service_client::RecurrenceServiceClient;
use fiveledger_proto::issues::*;
use fiveledger_proto::rounds::{
    Inspection, InspectionPhase, Organisation, OrganisationKind, ReportRecord,
};
use tonic::Code;
use tonic::transport::Channel;

/// The city's round nine and a half years before (outside the window of
/// every later one).
const LONG_AGO: &str = "rounds/r2016-1/inspections/xingning";
/// The city's round four years before, with its group.
const EARLIER: &str = "rounds/r2022-3/inspections/xingning";
const EARLIER_GROUP: &str = "rounds/r2022-3/groups/g2";
/// Another unit, inspected in the same round.
const OTHER_UNIT: &str = "rounds/r2022-3/inspections/qingxiu";

fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// An inspection stationed now that reported (its comprehensive report)
/// on `reported`, by `group`, in a round run by `running`.
fn reported(name: &str, target: &str, reported: Date, group: &str, running: &str) -> Inspection {
    Inspection {
        group: group.into(),
        round_organisation_path: running.into(),
        comprehensive_report: Some(ReportRecord {
            date: Some(reported),
            summary: "综合汇报".into(),
        }),
        ..inspection(name, target, InspectionPhase::Stationed)
    }
}

fn recurrences(app: &TestApp) -> RecurrenceServiceClient<Channel> {
    RecurrenceServiceClient::new(app.channel.clone())
}

fn county_office() -> String {
    testing::token(
        "office-xn",
        "guangxi/nanning/xingning",
        &[Role::InspectionOffice],
    )
}

async fn list(app: &TestApp, token: &str, filter: &str) -> Result<Vec<Recurrence>, tonic::Status> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = recurrences(app)
            .list_recurrences(authed(
                token,
                ListRecurrencesRequest {
                    page_size: 1,
                    page_token: page_token.clone(),
                    filter: filter.into(),
                },
            ))
            .await?
            .into_inner();
        out.extend(page.recurrences);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        page_token = page.next_page_token;
    }
}

async fn freeze(app: &TestApp, inspection: &str) {
    app.problems()
        .freeze_problem_list(authed(
            &office(),
            FreezeProblemListRequest {
                inspection: inspection.into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("freeze");
}

async fn create_in(app: &TestApp, inspection: &str, category: &str) -> Problem {
    app.create(Problem {
        inspection: inspection.into(),
        ..problem(category, category)
    })
    .await
    .expect("create")
}

/// Xingning inspected by the city in 2016 and 2022 and by the county now
/// (reported 2026-05-01); Qingxiu by the city in 2022; and Xingning again
/// on each day of `also` (by the city, nothing found). Returns the
/// problems found now (party leadership, party building) and the 2022
/// party-building problem.
async fn inspections_of_one_unit(
    app: &TestApp,
    also: &[(&str, Date)],
) -> (Problem, Problem, Problem) {
    {
        let mut orgs = app.fake.organisations.lock().expect("lock");
        // The county's own discipline commission, for its round's routing.
        orgs.insert(
            "organisations/xingning-jw".into(),
            Organisation {
                name: "organisations/xingning-jw".into(),
                display_name: "兴宁区纪委监委".into(),
                kind: OrganisationKind::DisciplineCommission as i32,
                parent: "organisations/xingning".into(),
                path: "guangxi/nanning/xingning/xingning-jw".into(),
                ..Default::default()
            },
        );
        let mut inspections = app.fake.inspections.lock().expect("lock");
        for i in [
            reported(
                LONG_AGO,
                "xingning",
                date(2016, 10, 30),
                "rounds/r2016-1/groups/g1",
                "guangxi/nanning",
            ),
            reported(
                EARLIER,
                "xingning",
                date(2022, 6, 1),
                EARLIER_GROUP,
                "guangxi/nanning",
            ),
            reported(
                OTHER_UNIT,
                "qingxiu",
                date(2022, 6, 1),
                EARLIER_GROUP,
                "guangxi/nanning",
            ),
            reported(
                INSPECTION,
                "xingning",
                date(2026, 5, 1),
                "rounds/r12-9/groups/g3",
                "guangxi/nanning/xingning",
            ),
        ]
        .into_iter()
        .chain(also.iter().map(|(name, day)| {
            reported(
                name,
                "xingning",
                *day,
                "rounds/r-also/groups/g",
                "guangxi/nanning",
            )
        })) {
            inspections.insert(i.name.clone(), i);
        }
    }
    create_in(app, LONG_AGO, "party-leadership").await;
    let found_then = create_in(app, EARLIER, "party-building").await;
    create_in(app, OTHER_UNIT, "party-leadership").await;
    for i in [LONG_AGO, EARLIER, OTHER_UNIT]
        .into_iter()
        .chain(also.iter().map(|(name, _)| *name))
    {
        freeze(app, i).await;
    }
    let missed = create_in(app, INSPECTION, "party-leadership").await;
    let repeated = create_in(app, INSPECTION, "party-building").await;
    freeze(app, INSPECTION).await;
    (missed, repeated, found_then)
}

/// The recurrences the city office sees once the check flagged `n`.
async fn flagged(app: &TestApp, n: usize) -> Vec<Recurrence> {
    for _ in 0..200 {
        let found = list(app, &office(), "").await.expect("list");
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} recurrences flagged");
}

fn checking_often(window_years: u32) -> IssuesSettings {
    IssuesSettings {
        recurrence_check_interval_ms: 50,
        recurrence_window_years: window_years,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_problem_an_earlier_inspection_should_have_found_is_flagged_with_it_and_its_group() {
    let app = spawn_with(checking_often(5), Clock::system()).await;
    let (missed, repeated, found_then) = inspections_of_one_unit(&app, &[]).await;
    let found = flagged(&app, 2).await;
    // Give a late (wrong) flag time to appear, then look again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let found_again = list(&app, &office(), "").await.expect("list");
    assert_eq!(found_again.len(), 2, "{found_again:#?}");
    assert_eq!(found, found_again);
    // Both against the 2022 inspection of the same unit (2016 is outside
    // five years of 2026-05-01; Qingxiu is another unit), with its group.
    for r in &found {
        assert_eq!(r.earlier_inspection, EARLIER);
        assert_eq!(r.earlier_group, EARLIER_GROUP);
        assert_eq!(r.earlier_report_date, Some(date(2022, 6, 1)));
        assert_eq!(r.report_date, Some(date(2026, 5, 1)));
        assert_eq!(r.inspection, INSPECTION);
        assert_eq!(r.target, "organisations/xingning");
        assert_eq!(r.rule, "category-and-unit");
        assert_eq!(r.decision, None);
    }
    let by_problem = |p: &Problem| {
        found
            .iter()
            .find(|r| r.problem == p.name)
            .cloned()
            .expect("flagged")
    };
    let m = by_problem(&missed);
    assert_eq!(m.kind, RecurrenceKind::Missed as i32);
    assert!(m.earlier_problems.is_empty());
    let r = by_problem(&repeated);
    assert_eq!(r.kind, RecurrenceKind::Repeated as i32);
    assert_eq!(r.earlier_problems, vec![found_then.name.clone()]);

    // Filters, and the same flag by name.
    let only = list(&app, &office(), "kind = RECURRENCE_KIND_REPEATED")
        .await
        .expect("list");
    assert_eq!(only, vec![r.clone()]);
    let by_earlier = list(
        &app,
        &office(),
        &format!("earlier_inspection = \"{LONG_AGO}\""),
    )
    .await
    .expect("list");
    assert!(by_earlier.is_empty());
    let got = recurrences(&app)
        .get_recurrence(authed(
            &office(),
            GetRecurrenceRequest {
                name: m.name.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got, m);
    let err = list(&app, &office(), "kind = RECURRENCE_KIND_UNSPECIFIED")
        .await
        .expect_err("unspecified kind");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "filter");
}

#[tokio::test]
async fn outside_the_configured_window_nothing_is_flagged_and_the_window_is_three_to_five_years() {
    // Three years: the 2022-06-01 inspection is 3.9 years before 2026-05-01.
    // Within it, an inspection of 2024 that found nothing: the flags
    // against it show the list was compared (in one transaction, with
    // every earlier list of the unit).
    const RECENT: &str = "rounds/r2024-1/inspections/xingning";
    let app = spawn_with(checking_often(3), Clock::system()).await;
    inspections_of_one_unit(&app, &[(RECENT, date(2024, 1, 10))]).await;
    flagged(&app, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let found = list(&app, &office(), "").await.expect("list");
    assert_eq!(found.len(), 2, "{found:#?}");
    for r in found {
        assert_eq!(r.earlier_inspection, RECENT);
        assert_eq!(r.kind, RecurrenceKind::Missed as i32);
    }

    for years in [2, 6] {
        let env = testing::TestEnv::new("issues");
        let refused = fiveledger_issues::start_with_clock(
            &env.settings,
            checking_often(years),
            Clock::system(),
            tokio_util::sync::CancellationToken::new(),
        )
        .await;
        let err = refused.err().expect("refused").to_string();
        assert!(err.contains("recurrence_window_years"), "{err}");
    }
}

#[tokio::test]
async fn the_office_that_sent_the_group_decides_once_and_others_are_refused() {
    let app = spawn_with(checking_often(5), Clock::system()).await;
    let (missed, _, _) = inspections_of_one_unit(&app, &[]).await;
    let found = flagged(&app, 2).await;
    let name = found
        .iter()
        .find(|r| r.problem == missed.name)
        .expect("flagged")
        .name
        .clone();
    let decide = |token: String, outcome: AccountabilityOutcome, note: &str| {
        let mut client = recurrences(&app);
        let request = DecideRecurrenceRequest {
            name: name.clone(),
            outcome: outcome as i32,
            note: note.into(),
            request_id: String::new(),
        };
        async move { client.decide_recurrence(authed(&token, request)).await }
    };
    let accountable = AccountabilityOutcome::GroupAccountable;

    // Bad input names the field.
    let err = decide(office(), AccountabilityOutcome::Unspecified, "x")
        .await
        .expect_err("no outcome");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "outcome");
    let err = decide(office(), accountable, " ")
        .await
        .expect_err("no note");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "note");

    // The county ran the later round: it sees the flags but the city sent
    // the group, so only the city decides.
    assert_eq!(
        list(&app, &county_office(), "").await.expect("list").len(),
        2
    );
    let err = decide(county_office(), accountable, "应发现未发现")
        .await
        .expect_err("not the sending office");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(reason(&err), "ROUND_OUT_OF_SCOPE");
    // Another city's office, and a viewer, see nothing of it.
    let liuzhou = testing::token("office-lz", "guangxi/liuzhou", &[Role::InspectionOffice]);
    assert!(list(&app, &liuzhou, "").await.expect("list").is_empty());
    let err = decide(liuzhou, accountable, "应发现未发现")
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    let viewer = testing::token("viewer", "guangxi/nanning", &[Role::Viewer]);
    let err = list(&app, &viewer, "").await.expect_err("viewer");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        list(&app, &office(), "decided = true")
            .await
            .expect("list")
            .len(),
        0
    );

    let decided = decide(
        office(),
        accountable,
        "该问题2022年已存在，巡察组应发现未发现",
    )
    .await
    .expect("decide")
    .into_inner();
    let decision = decided.decision.clone().expect("decision");
    assert_eq!(decision.outcome, accountable as i32);
    assert_eq!(decision.decided_by, "office-nn");
    assert!(decision.decide_time.is_some());
    assert_eq!(app.events("RecurrenceDecided").await.len(), 1);

    // Once only.
    let err = decide(office(), AccountabilityOutcome::NotAccountable, "改判")
        .await
        .expect_err("decided");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "RECURRENCE_ALREADY_DECIDED");
    let listed = list(&app, &office(), "decided = true").await.expect("list");
    assert_eq!(listed, vec![decided]);
    assert_eq!(
        list(&app, &office(), "decided = false")
            .await
            .expect("list")
            .len(),
        1
    );
}
