//! The talent pool, rounds and groups: validation, etags, filters, states,
//! idempotent steps.

use crate::common;

use common::*;
use fiveledger_platform::testing::authed;
use fiveledger_proto::google::r#type::Date;
use fiveledger_proto::rounds::group_service_client::GroupServiceClient;
use fiveledger_proto::rounds::inspection_service_client::InspectionServiceClient;
use fiveledger_proto::rounds::inspector_service_client::InspectorServiceClient;
use fiveledger_proto::rounds::round_service_client::RoundServiceClient;
use fiveledger_proto::rounds::*;
use tonic::Code;

fn date(y: i32, m: i32, d: i32) -> Option<Date> {
    Some(Date {
        year: y,
        month: m,
        day: d,
    })
}

fn person(id: &str, home: &str) -> CreateInspectorRequest {
    CreateInspectorRequest {
        inspector: Some(Inspector {
            display_name: id.to_uppercase(),
            home_organisation: format!("organisations/{home}"),
            ..Default::default()
        }),
        inspector_id: id.into(),
        request_id: String::new(),
    }
}

fn round(number: i32, kind: RoundKind) -> Round {
    Round {
        display_name: format!("round {number}"),
        term: 12,
        number,
        kind: kind as i32,
        organisation: "organisations/nanning".into(),
        planned_start_date: date(2026, 3, 1),
        planned_end_date: date(2026, 6, 30),
        ..Default::default()
    }
}

/// Creates round 1 (regular) as `rounds/r1`.
async fn create_r1(app: &TestApp, token: &str) -> Round {
    RoundServiceClient::new(app.channel.clone())
        .create_round(authed(
            token,
            CreateRoundRequest {
                round: Some(round(1, RoundKind::Regular)),
                round_id: "r1".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("round r1")
        .into_inner()
}

#[tokio::test]
async fn inspectors_are_created_updated_with_etags_and_listed_by_subtree() {
    let app = spawn().await;
    app.small_tree().await;
    let t = office("guangxi/nanning");
    let mut pool = InspectorServiceClient::new(app.channel.clone());
    let mut missing = person("x", "nanning");
    missing
        .inspector
        .as_mut()
        .expect("inspector")
        .home_organisation = String::new();
    let status = pool
        .create_inspector(authed(&t, missing))
        .await
        .expect_err("no home");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&status), "inspector.home_organisation");
    let status = pool
        .create_inspector(authed(&t, person("x", "nowhere")))
        .await
        .expect_err("unknown home");
    assert_eq!(status.code(), Code::NotFound);
    // A county office cannot put people in the city's pool.
    let county = office("guangxi/nanning/xingning");
    let status = pool
        .create_inspector(authed(&county, person("x", "nanning")))
        .await
        .expect_err("out of scope");
    assert_eq!(status.code(), Code::NotFound);

    let li = pool
        .create_inspector(authed(&t, person("li", "nanning")))
        .await
        .expect("li")
        .into_inner();
    pool.create_inspector(authed(&t, person("wang", "qingxiu")))
        .await
        .expect("wang");
    pool.create_inspector(authed(&t, person("zhou", "xingning")))
        .await
        .expect("zhou");

    let update = |etag: &str| UpdateInspectorRequest {
        inspector: Some(Inspector {
            name: li.name.clone(),
            subject: "li-sub".into(),
            past_posts: vec![Post {
                organisation: "organisations/xingning".into(),
                start_date: date(2018, 1, 1),
                end_date: date(2020, 1, 1),
                ..Default::default()
            }],
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["subject".into(), "past_posts".into()],
        }),
        request_id: String::new(),
    };
    let updated = pool
        .update_inspector(authed(&t, update(&li.etag)))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.subject, "li-sub");
    assert_eq!(updated.display_name, "LI", "outside the mask: kept");
    assert_eq!(
        updated.past_posts[0].organisation_path,
        "guangxi/nanning/xingning"
    );
    let stale = pool
        .update_inspector(authed(&t, update(&li.etag)))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);

    let listed = pool
        .list_inspectors(authed(
            &t,
            ListInspectorsRequest {
                filter: "organisation = organisations/qingxiu".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed
            .inspectors
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["inspectors/wang"]
    );
    let own = pool
        .list_inspectors(authed(&county, ListInspectorsRequest::default()))
        .await
        .expect("county list")
        .into_inner();
    assert_eq!(own.inspectors.len(), 1, "a county sees its own people");
    let by_subject = pool
        .list_inspectors(authed(
            &t,
            ListInspectorsRequest {
                filter: "subject = li-sub".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("by subject")
        .into_inner();
    assert_eq!(by_subject.inspectors[0].name, li.name);
}

/// Rows are stamped by the service's clock, not the real time: a pinned
/// clock is what create and update times read, and moving it moves them.
#[tokio::test]
async fn round_times_come_from_the_service_clock() {
    use fiveledger_platform::time::to_timestamp;
    let app = spawn().await;
    app.small_tree().await;
    let t = office("guangxi/nanning");
    let created = create_r1(&app, &t).await;
    let start = noon(today());
    assert_eq!(created.create_time, Some(to_timestamp(start)));
    assert_eq!(created.update_time, Some(to_timestamp(start)));
    let later = start + chrono::Duration::days(1);
    app.clock.set(later);
    let started = RoundServiceClient::new(app.channel.clone())
        .start_round(authed(
            &t,
            StartRoundRequest {
                name: created.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("start")
        .into_inner();
    assert_eq!(started.create_time, Some(to_timestamp(start)));
    assert_eq!(started.update_time, Some(to_timestamp(later)));
}

#[tokio::test]
async fn rounds_are_validated_filtered_and_move_through_their_states() {
    let app = spawn().await;
    app.small_tree().await;
    let t = office("guangxi/nanning");
    let mut rounds = RoundServiceClient::new(app.channel.clone());
    let create = |round: Round, id: &str| CreateRoundRequest {
        round: Some(round),
        round_id: id.into(),
        request_id: String::new(),
    };
    let status = rounds
        .create_round(authed(&t, create(round(1, RoundKind::Special), "s1")))
        .await
        .expect_err("no theme");
    assert_eq!(bad_field(&status), "round.theme");
    let status = rounds
        .create_round(authed(&t, create(round(1, RoundKind::LookBack), "l1")))
        .await
        .expect_err("nothing to look back at");
    assert_eq!(bad_field(&status), "round.look_back_rounds");
    let mut backwards = round(1, RoundKind::Regular);
    backwards.planned_end_date = date(2026, 1, 1);
    let status = rounds
        .create_round(authed(&t, create(backwards, "b1")))
        .await
        .expect_err("ends before it starts");
    assert_eq!(reason(&status), "END_BEFORE_START");

    let r1 = rounds
        .create_round(authed(&t, create(round(1, RoundKind::Regular), "r1")))
        .await
        .expect("r1")
        .into_inner();
    assert_eq!(r1.state, RoundState::Planned as i32);
    assert_eq!(r1.organisation_path, "guangxi/nanning");
    let status = rounds
        .create_round(authed(&t, create(round(1, RoundKind::Regular), "r1-again")))
        .await
        .expect_err("same term and number");
    assert_eq!(status.code(), Code::AlreadyExists);
    let mut special = round(2, RoundKind::Special);
    special.theme = "扶贫领域".into();
    rounds
        .create_round(authed(&t, create(special, "s2")))
        .await
        .expect("special");

    let update = rounds
        .update_round(authed(
            &t,
            UpdateRoundRequest {
                round: Some(Round {
                    name: r1.name.clone(),
                    planned_start_date: date(2027, 2, 1),
                    planned_end_date: date(2027, 5, 1),
                    etag: r1.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["planned_start_date".into(), "planned_end_date".into()],
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("move to 2027")
        .into_inner();
    assert_eq!(update.planned_start_date, date(2027, 2, 1));
    let list = |filter: &str| ListRoundsRequest {
        filter: filter.into(),
        ..Default::default()
    };
    let names = |r: ListRoundsResponse| {
        r.rounds
            .into_iter()
            .map(|r| r.name)
            .collect::<Vec<String>>()
    };
    assert_eq!(
        names(
            rounds
                .list_rounds(authed(&t, list("year = 2027")))
                .await
                .expect("year")
                .into_inner()
        ),
        ["rounds/r1"]
    );
    assert_eq!(
        names(
            rounds
                .list_rounds(authed(&t, list("kind = ROUND_KIND_SPECIAL")))
                .await
                .expect("kind")
                .into_inner()
        ),
        ["rounds/s2"]
    );
    let county = office("guangxi/nanning/xingning");
    assert!(
        rounds
            .list_rounds(authed(&county, list("")))
            .await
            .expect("county")
            .into_inner()
            .rounds
            .is_empty(),
        "a county does not see the city's rounds"
    );

    // Staff and target the round, then move it.
    let mut pool = InspectorServiceClient::new(app.channel.clone());
    pool.create_inspector(authed(&t, person("li", "nanning")))
        .await
        .expect("li");
    let mut groups = GroupServiceClient::new(app.channel.clone());
    let group = groups
        .create_group(authed(
            &t,
            CreateGroupRequest {
                parent: "rounds/r1".into(),
                group: Some(Group {
                    display_name: "第一巡察组".into(),
                    ..Default::default()
                }),
                group_id: "g1".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("group")
        .into_inner();
    let add = AddGroupMembersRequest {
        group: group.name.clone(),
        members: vec![GroupMember {
            inspector: "inspectors/li".into(),
            role: GroupRole::Leader as i32,
        }],
        request_id: "add-li".into(),
    };
    let staffed = groups
        .add_group_members(authed(&t, add.clone()))
        .await
        .expect("add")
        .into_inner();
    assert_eq!(staffed.leader, "inspectors/li");
    let again = groups
        .add_group_members(authed(&t, add))
        .await
        .expect("retried with its request id")
        .into_inner();
    assert_eq!(again, staffed);
    let removed = groups
        .remove_group_members(authed(
            &t,
            RemoveGroupMembersRequest {
                group: group.name.clone(),
                inspectors: vec!["inspectors/li".into()],
                request_id: String::new(),
            },
        ))
        .await
        .expect("remove")
        .into_inner();
    assert_eq!(removed.leader, "");
    let status = groups
        .remove_group_members(authed(
            &t,
            RemoveGroupMembersRequest {
                group: group.name.clone(),
                inspectors: vec!["inspectors/li".into()],
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("not a member any more");
    assert_eq!(reason(&status), "NOT_A_MEMBER");

    let mut inspections = InspectionServiceClient::new(app.channel.clone());
    let status = inspections
        .create_inspection(authed(
            &t,
            CreateInspectionRequest {
                parent: "rounds/r1".into(),
                inspection: Some(Inspection {
                    target: "organisations/guangxi".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("above the city");
    assert_eq!(status.code(), Code::NotFound, "outside the office's scope");
    inspections
        .create_inspection(authed(
            &t,
            CreateInspectionRequest {
                parent: "rounds/r1".into(),
                inspection: Some(Inspection {
                    target: "organisations/xingning".into(),
                    ..Default::default()
                }),
                inspection_id: "xn".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("inspection");
    let state = |name: &str| StartRoundRequest {
        name: name.into(),
        ..Default::default()
    };
    let status = rounds
        .close_round(authed(
            &t,
            CloseRoundRequest {
                name: "rounds/r1".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("not started");
    assert_eq!(reason(&status), "WRONG_ROUND_STATE");
    assert!(status.message().contains("ROUND_STATE_PLANNED"));
    rounds
        .start_round(authed(&t, state("rounds/r1")))
        .await
        .expect("start");
    let status = rounds
        .start_round(authed(&t, state("rounds/r1")))
        .await
        .expect_err("twice");
    assert_eq!(reason(&status), "WRONG_ROUND_STATE");
    let status = rounds
        .close_round(authed(
            &t,
            CloseRoundRequest {
                name: "rounds/r1".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("an inspection is open");
    assert_eq!(reason(&status), "INSPECTIONS_OPEN");
    let listed = rounds
        .list_rounds(authed(&t, list("state = ROUND_STATE_IN_PROGRESS")))
        .await
        .expect("state")
        .into_inner();
    assert_eq!(names(listed), ["rounds/r1"]);
}

#[tokio::test]
async fn a_retried_step_is_applied_once() {
    let app = spawn().await;
    app.small_tree().await;
    let t = office("guangxi/nanning");
    create_r1(&app, &t).await;
    let mut inspections = InspectionServiceClient::new(app.channel.clone());
    let i = inspections
        .create_inspection(authed(
            &t,
            CreateInspectionRequest {
                parent: "rounds/r1".into(),
                inspection: Some(Inspection {
                    target: "organisations/qingxiu".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("inspection")
        .into_inner();
    let briefing = RecordBriefingRequest {
        name: i.name.clone(),
        briefing: Some(Briefing {
            organisation: "organisations/nanning-jw".into(),
            date: date(2026, 3, 2),
            summary: String::new(),
        }),
        request_id: "brief-1".into(),
    };
    let first = inspections
        .record_briefing(authed(&t, briefing.clone()))
        .await
        .expect("first")
        .into_inner();
    let retried = inspections
        .record_briefing(authed(&t, briefing))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, retried);
    assert_eq!(retried.briefings.len(), 1);
    let status = inspections
        .start_stationing(authed(
            &t,
            StartStationingRequest {
                name: i.name.clone(),
                start_date: date(2026, 3, 10),
                end_date: date(2026, 5, 10),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("no group");
    assert_eq!(reason(&status), "GROUP_NOT_ASSIGNED");
}
