//! Trust boundaries of the issues service: what a problem or clue may name,
//! who records on an inspection, and who reads a list before and after
//! feedback, against a real server over gRPC. Out of scope answers exactly
//! as unknown.

use crate::common;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::issues::*;
use fiveledger_proto::rounds::{Inspection, InspectionPhase, Organisation, OrganisationKind};
use tonic::Code;

/// A county round's inspection, run by Xingning, of one of its townships.
const COUNTY_INSPECTION: &str = "rounds/xn-r1/inspections/xn-town";

/// Adds Qingxiu's bodies, Xingning's commission and a township, and the
/// county round's inspection; the city round's inspection gets its group.
fn seed(app: &TestApp) {
    use OrganisationKind as K;
    let org = |id: &str, kind: K, path: &str| Organisation {
        name: format!("organisations/{id}"),
        display_name: id.into(),
        kind: kind as i32,
        path: path.into(),
        ..Default::default()
    };
    let mut orgs = app.fake.organisations.lock().expect("lock");
    for o in [
        org(
            "qingxiu-jw",
            K::DisciplineCommission,
            "guangxi/nanning/qingxiu/qingxiu-jw",
        ),
        org(
            "qingxiu-jyj",
            K::FunctionalDepartment,
            "guangxi/nanning/qingxiu/qingxiu-jyj",
        ),
        org(
            "xingning-jw",
            K::DisciplineCommission,
            "guangxi/nanning/xingning/xingning-jw",
        ),
        org(
            "xingning-office",
            K::InspectionOffice,
            "guangxi/nanning/xingning/xingning-office",
        ),
        org("xn-town", K::Township, "guangxi/nanning/xingning/xn-town"),
    ] {
        orgs.insert(o.name.clone(), o);
    }
    drop(orgs);
    let mut inspections = app.fake.inspections.lock().expect("lock");
    if let Some(i) = inspections.get_mut(INSPECTION) {
        i.group_member_subjects = vec!["member-1".into(), "xn-member".into()];
    }
    inspections.insert(
        COUNTY_INSPECTION.into(),
        Inspection {
            name: COUNTY_INSPECTION.into(),
            target: "organisations/xn-town".into(),
            target_path: "guangxi/nanning/xingning/xn-town".into(),
            phase: InspectionPhase::Stationed as i32,
            round_organisation_path: "guangxi/nanning/xingning".into(),
            ..Default::default()
        },
    );
}

fn with_responsibility(mut p: Problem, set: impl FnOnce(&mut Responsibilities)) -> Problem {
    set(p.responsibilities.as_mut().expect("responsibilities"));
    p
}

async fn create_as(app: &TestApp, token: &str, p: Problem) -> Result<Problem, tonic::Status> {
    app.problems()
        .create_problem(authed(
            token,
            CreateProblemRequest {
                problem: Some(p),
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner())
}

/// The code, reason and field of a refusal: what a caller can learn.
fn answer(status: &tonic::Status) -> (Code, String, String) {
    (status.code(), reason(status), bad_field(status))
}

#[tokio::test]
async fn a_problem_names_only_organisations_inside_its_round_and_out_of_scope_looks_unknown() {
    let app = spawn().await;
    seed(&app);
    let unknown = |field: &str| {
        (
            Code::InvalidArgument,
            "UNKNOWN_ORGANISATION".to_owned(),
            field.to_owned(),
        )
    };

    // (1) the responsible unit lies in the target's subtree: another
    // county's unit is refused exactly as a name nobody knows.
    for name in ["organisations/qingxiu", "organisations/no-such-unit"] {
        let p = with_responsibility(problem("party-leadership", "x"), |r| {
            r.main_unit = name.into()
        });
        let err = create_as(&app, &office(), p).await.expect_err(name);
        assert_eq!(
            answer(&err),
            unknown("problem.responsibilities.main_unit"),
            "{name}"
        );
        assert!(
            !err.message().contains("COUNTY"),
            "nothing about it: {err:?}"
        );
    }
    // (3) another county's commission: the same answer, never its kind; a
    // unit of another county named as supervising body does not tell its
    // kind either.
    for name in [
        "organisations/qingxiu-jw",
        "organisations/qingxiu-jyj",
        "organisations/no-such-body",
    ] {
        let p = with_responsibility(problem("party-leadership", "x"), |r| {
            r.supervising_body = name.into()
        });
        let err = create_as(&app, &office(), p).await.expect_err(name);
        assert_eq!(
            answer(&err),
            unknown("problem.responsibilities.supervising_body"),
            "{name}"
        );
        assert!(!err.message().contains("FUNCTIONAL"), "{err:?}");
    }
    // (4) another county's bureau.
    let p = with_responsibility(problem("party-leadership", "x"), |r| {
        r.functional_department = "organisations/qingxiu-jyj".into()
    });
    let err = create_as(&app, &office(), p)
        .await
        .expect_err("other county");
    assert_eq!(
        answer(&err),
        unknown("problem.responsibilities.functional_department")
    );
    // A county round cannot name the city's commission: upward is no accident.
    let p = Problem {
        inspection: COUNTY_INSPECTION.into(),
        ..with_responsibility(problem("party-leadership", "x"), |r| {
            r.supervising_body = "organisations/nanning-jw".into()
        })
    };
    let county_office = testing::token(
        "xn-office",
        "guangxi/nanning/xingning/xingning-office",
        &[Role::InspectionOffice],
    );
    let err = create_as(&app, &county_office, p)
        .await
        .expect_err("upward");
    assert_eq!(
        answer(&err),
        unknown("problem.responsibilities.supervising_body")
    );
    // Inside reach the same names are fine.
    let p = with_responsibility(problem("party-leadership", "ok"), |r| {
        r.supervising_body = "organisations/nanning-jw".into();
        r.functional_department = "organisations/nanning-jtj".into();
    });
    create_as(&app, &office(), p).await.expect("inside reach");

    // An import's rows are held to the same rule, row by row.
    let rows = vec![
        with_responsibility(problem("party-leadership", "a"), |r| {
            r.main_unit = "organisations/qingxiu".into()
        }),
        problem("party-leadership", "b"),
    ];
    let response = app
        .problems()
        .import_problems(authed(
            &office(),
            futures::stream::iter(vec![ImportProblemsRequest {
                inspection: INSPECTION.into(),
                problems: rows,
                ..Default::default()
            }]),
        ))
        .await
        .expect("import answers")
        .into_inner();
    assert!(response.problems.is_empty(), "all or nothing");
    assert_eq!(response.errors.len(), 1);
    assert_eq!(response.errors[0].row, 1);
    assert_eq!(response.errors[0].reason, "UNKNOWN_ORGANISATION");
}

#[tokio::test]
async fn only_the_running_office_and_the_inspections_own_group_record() {
    let app = spawn().await;
    seed(&app);
    // A member of another group of the city, and the county's office (it
    // sees its county's target but does not run the city round).
    let stranger = testing::token("member-9", "guangxi/nanning", &[Role::InspectionGroup]);
    let err = create_as(&app, &stranger, problem("party-leadership", "x"))
        .await
        .expect_err("not a member");
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "NOT_GROUP_MEMBER")
    );
    let county_office = testing::token(
        "xn-office",
        "guangxi/nanning/xingning",
        &[Role::InspectionOffice],
    );
    let err = create_as(&app, &county_office, problem("party-leadership", "x"))
        .await
        .expect_err("not the running office");
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "ROUND_OUT_OF_SCOPE")
    );
    // A member records, also one from a county (linked city-county rounds
    // draw members from the counties' pool).
    let member = testing::token("member-1", "guangxi/nanning", &[Role::InspectionGroup]);
    let recorded = create_as(&app, &member, problem("party-leadership", "by a member"))
        .await
        .expect("a member records");
    let county_member = testing::token(
        "xn-member",
        "guangxi/nanning/xingning",
        &[Role::InspectionGroup],
    );
    create_as(
        &app,
        &county_member,
        problem("party-leadership", "by a county member"),
    )
    .await
    .expect("a county member of the group records");
    // The stranger may not delete the member's problem either.
    let err = app
        .problems()
        .delete_problem(authed(
            &stranger,
            DeleteProblemRequest {
                name: recorded.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("not a member");
    assert_eq!(reason(&err), "NOT_GROUP_MEMBER");
    // Nor register a clue on the inspection.
    let err = app
        .clues()
        .create_clue(authed(
            &stranger,
            CreateClueRequest {
                clue: Some(Clue {
                    inspection: INSPECTION.into(),
                    subject_name: "某某".into(),
                    subject_post: "局长".into(),
                    summary: "x".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("not a member");
    assert_eq!(reason(&err), "NOT_GROUP_MEMBER");
    assert!(app.events("ClueRegistered").await.is_empty());
}

#[tokio::test]
async fn a_list_belongs_to_the_group_and_the_office_until_feedback() {
    let app = spawn().await;
    seed(&app);
    let p = app
        .create(problem("party-leadership", "draft"))
        .await
        .expect("create");
    let unit = testing::token("unit", "guangxi/nanning/xingning", &[Role::InspectedUnit]);
    let viewer = testing::token("v", "guangxi/nanning", &[Role::Viewer]);
    let county_office = testing::token("xo", "guangxi/nanning/xingning", &[Role::InspectionOffice]);
    let member = testing::token(
        "xn-member",
        "guangxi/nanning/xingning",
        &[Role::InspectionGroup],
    );
    let get = |token: String| {
        let mut problems = app.problems();
        let name = p.name.clone();
        async move {
            problems
                .get_problem(authed(&token, GetProblemRequest { name }))
                .await
        }
    };
    for token in [
        unit.clone(),
        viewer.clone(),
        county_office.clone(),
        discipline(),
    ] {
        let err = get(token).await.expect_err("a draft");
        assert_eq!(err.code(), Code::NotFound);
    }
    assert!(app.list_all(&unit, "", 10).await.is_empty());
    assert!(app.list_all(&viewer, "", 10).await.is_empty());
    // The group's own member from the county reads it by name, and lists it
    // by naming the inspection.
    get(member.clone()).await.expect("a member reads the draft");
    assert_eq!(
        app.list_all(&member, &format!("inspection = \"{INSPECTION}\""), 10)
            .await
            .len(),
        1
    );
    app.hand_over(INSPECTION).await;
    for token in [unit.clone(), viewer.clone(), county_office] {
        get(token).await.expect("handed over");
    }
    assert_eq!(app.list_all(&unit, "", 10).await.len(), 1);
    let other = testing::token("u2", "guangxi/nanning/qingxiu", &[Role::InspectedUnit]);
    assert_eq!(
        get(other).await.expect_err("another county").code(),
        Code::NotFound
    );
}

async fn create_clue(
    app: &TestApp,
    token: &str,
    inspection: &str,
    receiving_body: &str,
    managed_by: &str,
) -> Result<Clue, tonic::Status> {
    app.clues()
        .create_clue(authed(
            token,
            CreateClueRequest {
                clue: Some(Clue {
                    inspection: inspection.into(),
                    subject_name: "某某".into(),
                    subject_post: "局长".into(),
                    summary: "涉嫌违规".into(),
                    receiving_body: receiving_body.into(),
                    subject_managed_by: managed_by.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_clue_stays_in_its_level_goes_up_only_by_the_managing_rule_and_is_never_seen_below() {
    let app = spawn().await;
    seed(&app);
    let county_office = testing::token(
        "xn-office",
        "guangxi/nanning/xingning/xingning-office",
        &[Role::InspectionOffice],
    );
    // Another county's commission is out of reach, exactly as unknown.
    for body in ["organisations/qingxiu-jw", "organisations/no-such-jw"] {
        let err = create_clue(&app, &office(), INSPECTION, body, "")
            .await
            .expect_err(body);
        assert_eq!(
            answer(&err),
            (
                Code::InvalidArgument,
                "UNKNOWN_ORGANISATION".into(),
                "clue.receiving_body".into()
            ),
            "{body}"
        );
    }
    // A county round's clue does not go up to the city by accident...
    let err = create_clue(
        &app,
        &county_office,
        COUNTY_INSPECTION,
        "organisations/nanning-jw",
        "",
    )
    .await
    .expect_err("upward without the rule");
    assert_eq!(reason(&err), "UNKNOWN_ORGANISATION");
    // ...only when the cadre is managed by the city, to the city's
    // commission (its default then), and nowhere else up there.
    let err = create_clue(
        &app,
        &county_office,
        COUNTY_INSPECTION,
        "organisations/nanning-zzb",
        "organisations/nanning",
    )
    .await
    .expect_err("only the managing level's commission");
    assert_eq!(reason(&err), "UNKNOWN_ORGANISATION");
    let err = create_clue(
        &app,
        &county_office,
        COUNTY_INSPECTION,
        "",
        "organisations/xingning",
    )
    .await
    .expect_err("the running level itself");
    assert_eq!(
        (reason(&err).as_str(), bad_field(&err).as_str()),
        ("NOT_ABOVE_THE_RUNNING_LEVEL", "clue.subject_managed_by")
    );
    let up = create_clue(
        &app,
        &county_office,
        COUNTY_INSPECTION,
        "",
        "organisations/nanning",
    )
    .await
    .expect("up to the managing level");
    assert_eq!(up.receiving_body, "organisations/nanning-jw");
    assert_eq!(up.subject_managed_by, "organisations/nanning");
    // Within the county it may go to the county's own commission.
    let own = create_clue(
        &app,
        &county_office,
        COUNTY_INSPECTION,
        "organisations/xingning-jw",
        "",
    )
    .await
    .expect("within the running level");

    // A city round's clue about Xingning's cadres is never seen below.
    let city = create_clue(&app, &office(), INSPECTION, "", "")
        .await
        .expect("city clue");
    let county_jw = testing::token(
        "xn-jw",
        "guangxi/nanning/xingning/xingning-jw",
        &[Role::DisciplineCommission],
    );
    for token in [county_jw.clone(), county_office.clone()] {
        let err = app
            .clues()
            .get_clue(authed(
                &token,
                GetClueRequest {
                    name: city.name.clone(),
                },
            ))
            .await
            .expect_err("below the running level");
        assert_eq!(err.code(), Code::NotFound);
        let listed = app
            .clues()
            .list_clues(authed(&token, ListCluesRequest::default()))
            .await
            .expect("list")
            .into_inner();
        assert!(listed.clues.iter().all(|c| c.name != city.name));
    }
    // The county's commission sees its county round's clues (the one it
    // holds and the one gone up: its level runs that round); the city's
    // sees all three (a level above), and holds only what went up to it.
    let listed = app
        .clues()
        .list_clues(authed(&county_jw, ListCluesRequest::default()))
        .await
        .expect("list")
        .into_inner();
    let mut names: Vec<&str> = listed.clues.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    let mut expected = [own.name.as_str(), up.name.as_str()];
    expected.sort();
    assert_eq!(names, expected);
    let listed = app
        .clues()
        .list_clues(authed(&discipline(), ListCluesRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.clues.len(), 3);
    // A clue id is never chosen by the caller: nothing to probe.
    assert!(city.name.starts_with("clues/c"));
}
