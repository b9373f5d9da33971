//! Assessments of lower levels' inspection work (巡察工作考核评价) over gRPC:
//! a county's year scored from its rounds' entries with the configured or
//! asked weights, stored per version, and recomputed from the books.

use chrono::{TimeZone, Utc};
use fiveledger_ledgers::storage::assessments as stored;
use fiveledger_ledgers::storage::books::{self, Signature};
use fiveledger_platform::auth::Role;
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, authed};
use fiveledger_platform::time::Clock;
use fiveledger_proto::ledgers::assessment_service_client::AssessmentServiceClient;
use fiveledger_proto::ledgers::posting::Detail;
use fiveledger_proto::ledgers::*;
use sea_orm::sea_query::Expr;
use sea_orm::{EntityTrait, QueryFilter};
use tonic::Code;
use tonic::transport::Channel;

use crate::common::*;

const COUNTY: &str = "guangxi/nanning/xingning";

fn us(y: i32, m: u32, d: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0)
        .unwrap()
        .timestamp_micros()
}

/// Appends one posting through the books (the one write path), at `at_us`
/// (again while the running server holds SQLite's lock).
async fn post(db: &Db, id: &str, detail: Detail, at_us: i64) {
    // The verifier of a write-off is not its requester.
    let actor = if matches!(detail, Detail::WriteOffApproved(_)) {
        "commission"
    } else {
        "unit"
    };
    let signature = Signature {
        actor: actor.into(),
        at_us,
        ..Default::default()
    };
    let mut last = None;
    for _ in 0..100 {
        let txn = match db.begin().await {
            Ok(txn) => txn,
            Err(e) => {
                last = Some(format!("{e:?}"));
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let attempt = async {
            let row = books::lock(&txn, id).await?;
            books::append(&txn, row.as_ref(), id, detail.clone(), &signature).await
        }
        .await;
        match attempt {
            Ok(_) => {
                if db.commit(txn).await.is_ok() {
                    return;
                }
            }
            Err(e) => {
                last = Some(format!("{e:?}"));
                let _ = db.rollback(txn).await;
                if !last.as_deref().unwrap_or_default().contains("locked") {
                    break;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{id}: {last:?}");
}

/// Opens an entry of a round run by `running` on `at`, handed over due `due`.
async fn open(db: &Db, id: &str, running: &str, at: i64, due: (i32, i32, i32)) {
    post(
        db,
        id,
        Detail::Open(OpenDetail {
            problem: format!("problems/{id}"),
            inspection: "rounds/rx/inspections/xn".into(),
            round: "rounds/rx".into(),
            target: "organisations/xingning".into(),
            target_path: COUNTY.into(),
            category: "party-leadership".into(),
            title: format!("问题 {id}"),
            round_organisation_path: running.into(),
            ..Default::default()
        }),
        at,
    )
    .await;
    post(
        db,
        id,
        Detail::HandOver(HandOverDetail {
            feedback_date: chrono::DateTime::from_timestamp_micros(at)
                .map(|t| fiveledger_platform::time::to_date(t.date_naive())),
            due_date: Some(date(due.0, due.1, due.2)),
        }),
        at,
    )
    .await;
    post(db, id, Detail::HandOverAcknowledged(Default::default()), at).await;
}

/// Plans (due `due`) and writes the entry off at `at`.
async fn write_off(db: &Db, id: &str, version: i32, due: (i32, i32, i32), at: i64) {
    post(
        db,
        id,
        Detail::PlanSubmitted(RectificationPlan {
            version,
            summary: "整改方案".into(),
            due_date: Some(date(due.0, due.1, due.2)),
            ..Default::default()
        }),
        at,
    )
    .await;
    post(
        db,
        id,
        Detail::PlanApproved(PlanDecisionDetail {
            version,
            ..Default::default()
        }),
        at,
    )
    .await;
    post(
        db,
        id,
        Detail::WriteOffRequested(WriteOff {
            closure_statement: "已整改".into(),
            ..Default::default()
        }),
        at,
    )
    .await;
    post(db, id, Detail::WriteOffApproved(Default::default()), at).await;
}

/// Xingning's rounds in 2026: one entry written off on time, one late, one
/// open past its due date, one written off and reopened by a look-back;
/// one of 2025 written off only in 2026; one of a city round.
async fn county_books(db: &Db) {
    let feb = us(2026, 2, 1);
    for id in ["e1", "e2", "e3", "e4"] {
        open(db, id, COUNTY, feb, (2026, 3, 31)).await;
    }
    write_off(db, "e1", 1, (2026, 3, 31), us(2026, 3, 20)).await;
    write_off(db, "e2", 1, (2026, 4, 30), us(2026, 5, 5)).await;
    write_off(db, "e4", 1, (2026, 3, 31), us(2026, 3, 20)).await;
    post(
        db,
        "e4",
        Detail::Reopened(ReopenDetail {
            inspection: LOOK_BACK.into(),
            reason: "文字整改".into(),
            due_date: Some(date(2026, 8, 31)),
        }),
        us(2026, 5, 10),
    )
    .await;
    open(db, "e5", COUNTY, us(2025, 6, 1), (2025, 9, 30)).await;
    write_off(db, "e5", 1, (2025, 9, 30), us(2026, 2, 10)).await;
    open(db, "c1", CITY, feb, (2026, 3, 31)).await;
}

fn client(app: &TestApp) -> AssessmentServiceClient<Channel> {
    AssessmentServiceClient::new(app.channel.clone())
}

fn county_office() -> String {
    testing::token("office-xn", COUNTY, &[Role::InspectionOffice])
}

async fn compute(
    app: &TestApp,
    token: &str,
    path: &str,
    year: i32,
    weights: Option<AssessmentWeights>,
) -> Result<Assessment, tonic::Status> {
    client(app)
        .compute_assessment(authed(
            token,
            ComputeAssessmentRequest {
                organisation_path: path.into(),
                year,
                weights,
                request_id: String::new(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn verify(app: &TestApp, name: &str) -> VerifyAssessmentResponse {
    client(app)
        .verify_assessment(authed(
            &office(),
            VerifyAssessmentRequest { name: name.into() },
        ))
        .await
        .expect("verify")
        .into_inner()
}

fn figures(
    found: i64,
    written_off: i64,
    due_so_far: i64,
    on_time: i64,
    overdue: i64,
    reopened: i64,
) -> Option<AssessmentFigures> {
    Some(AssessmentFigures {
        found,
        written_off,
        due_so_far,
        written_off_on_time: on_time,
        overdue,
        reopened,
    })
}

#[tokio::test]
async fn a_county_year_is_scored_from_its_books_and_recomputed_equal() {
    let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
    let clock = Clock::fixed(now);
    let app = spawn_with_clock(clock.clone()).await;
    let db = app.db().await;
    county_books(&db).await;

    let first = compute(&app, &office(), COUNTY, 2026, None)
        .await
        .expect("compute");
    assert_eq!(first.version, 1);
    assert_eq!(first.as_of, Some(date(2026, 7, 1)));
    // e1 on time, e2 late, e3 overdue, e4 reopened (open, due in August);
    // e5 is 2025's, c1 the city's.
    assert_eq!(first.figures, figures(4, 2, 4, 1, 1, 1));
    assert_eq!(first.on_time_rate, 0.25);
    assert_eq!(first.completion_rate, 0.5);
    // 40·¼ + 30·½ + 20·¾ + 10·¾ = 47.5 on 100 (the configured weights).
    assert_eq!(first.score_hundredths, 4750);
    assert_eq!(
        first.weights,
        Some(AssessmentWeights {
            on_time: 40,
            completion: 30,
            overdue: 20,
            reopened: 10,
        })
    );
    assert_eq!(first.computed_by, "office-nn");

    // Recomputed from the books, it holds.
    let checked = verify(&app, &first.name).await;
    assert!(checked.holds);
    assert_eq!(checked.recomputed, Some(first.clone()));

    // The books move on after the cutoff (e3 written off): the stored
    // version still holds (the books as of its cutoff), a new one counts it.
    clock.set(now + chrono::Duration::days(2));
    write_off(&db, "e3", 1, (2026, 3, 31), us(2026, 7, 2)).await;
    assert!(verify(&app, &first.name).await.holds);
    let second = compute(&app, &office(), COUNTY, 2026, None)
        .await
        .expect("compute again");
    assert_eq!(second.version, 2);
    assert_eq!(second.figures, figures(4, 3, 4, 1, 0, 1));
    assert!(verify(&app, &second.name).await.holds);
    let got = client(&app)
        .get_assessment(authed(
            &office(),
            GetAssessmentRequest {
                name: first.name.clone(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got, first);

    // A stored figure altered behind the service's back no longer holds.
    let id = first.name.trim_start_matches("assessments/").to_owned();
    stored::Entity::update_many()
        .col_expr(stored::Column::Overdue, Expr::value(0i64))
        .filter(sea_orm::ColumnTrait::eq(&stored::Column::Id, id))
        .exec(db.writer())
        .await
        .expect("tamper");
    let tampered = verify(&app, &first.name).await;
    assert!(!tampered.holds);
    assert_eq!(
        tampered.recomputed.and_then(|r| r.figures),
        figures(4, 2, 4, 1, 1, 1)
    );

    // A year that is over is judged on its last day, on its books then.
    let last_year = compute(&app, &office(), COUNTY, 2025, None)
        .await
        .expect("2025");
    assert_eq!(last_year.as_of, Some(date(2025, 12, 31)));
    assert_eq!(last_year.figures, figures(1, 0, 1, 0, 1, 0));
    // Only "never reopened" is met: 10 on 100.
    assert_eq!(last_year.score_hundredths, 1000);

    // Weights asked for replace the configured ones.
    let on_time_only = compute(
        &app,
        &office(),
        COUNTY,
        2026,
        Some(AssessmentWeights {
            on_time: 1,
            ..Default::default()
        }),
    )
    .await
    .expect("weights");
    assert_eq!(on_time_only.score_hundredths, 2500);
    assert_eq!(on_time_only.version, 3);

    // Listed by organisation and year, a page at a time, oldest first.
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client(&app)
            .list_assessments(authed(
                &county_office(),
                ListAssessmentsRequest {
                    page_size: 1,
                    page_token: page_token.clone(),
                    filter: format!("organisation_path = \"{COUNTY}\" AND year = 2026"),
                },
            ))
            .await
            .expect("list")
            .into_inner();
        names.extend(page.assessments.into_iter().map(|a| a.version));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(names, vec![1, 2, 3]);
}

#[tokio::test]
async fn assessments_refuse_bad_weights_years_and_callers_out_of_place() {
    let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
    let app = spawn_with_clock(Clock::fixed(now)).await;
    let bad = |w: AssessmentWeights| Some(w);
    for (weights, year, path, field) in [
        (
            bad(AssessmentWeights {
                on_time: 101,
                ..Default::default()
            }),
            2026,
            COUNTY,
            "weights.on_time",
        ),
        (
            bad(AssessmentWeights {
                reopened: -1,
                on_time: 5,
                ..Default::default()
            }),
            2026,
            COUNTY,
            "weights.reopened",
        ),
        (bad(AssessmentWeights::default()), 2026, COUNTY, "weights"),
        (None, 1999, COUNTY, "year"),
        (None, 2027, COUNTY, "year"),
        (None, 2026, "", "organisation_path"),
    ] {
        let err = compute(&app, &office(), path, year, weights)
            .await
            .expect_err(field);
        assert_eq!(err.code(), Code::InvalidArgument, "{field}");
        assert_eq!(bad_field(&err), field);
    }
    // Its own level is assessed from above.
    let err = compute(&app, &county_office(), COUNTY, 2026, None)
        .await
        .expect_err("own level");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(reason(&err), "ASSESSMENT_OF_OWN_LEVEL");
    // Another city's office does not see the county; a viewer may not ask.
    let liuzhou = testing::token("office-lz", "guangxi/liuzhou", &[Role::InspectionOffice]);
    let err = compute(&app, &liuzhou, COUNTY, 2026, None)
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    let viewer = testing::token("viewer", "guangxi/nanning", &[Role::Viewer]);
    let err = compute(&app, &viewer, COUNTY, 2026, None)
        .await
        .expect_err("viewer");
    assert_eq!(err.code(), Code::PermissionDenied);

    // Made by the city: the county reads it, Liuzhou finds nothing.
    let made = compute(&app, &office(), COUNTY, 2026, None)
        .await
        .expect("compute");
    assert_eq!(made.figures, figures(0, 0, 0, 0, 0, 0));
    assert_eq!(made.score_hundredths, 10_000);
    let get = |token: String| {
        let mut c = client(&app);
        let name = made.name.clone();
        async move {
            c.get_assessment(authed(&token, GetAssessmentRequest { name }))
                .await
        }
    };
    assert!(get(county_office()).await.is_ok());
    assert_eq!(
        get(liuzhou.clone()).await.expect_err("hidden").code(),
        Code::NotFound
    );
    let listed = client(&app)
        .list_assessments(authed(&liuzhou, ListAssessmentsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.assessments.is_empty());
}
