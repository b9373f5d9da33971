//! Service identities: each service calls the others with a token signed by
//! its own key; a peer lets it call only the RPCs that peer's table grants
//! it and stream only the event types granted; no person's token (signed
//! by the suite's shared key) can be a service. An administrator scoped to
//! an organisation streams the events of its subtree only.

use crate::common;

use std::time::Duration;

use common::reason;
use fiveledger_e2e::{TestSuite, paths, spawn_suite, tokens};
use fiveledger_platform::auth::{Role, RoleTable, in_subtree};
use fiveledger_platform::service_identity::{ServiceCalls, granted};
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::issues::event_service_client::EventServiceClient;
use fiveledger_proto::types::Event;
use fiveledger_proto::{issues, rounds, types};
use futures::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Status};

const XINGNING: &str = paths::XINGNING;

const PEERS: &[&str] = &["rounds", "issues", "ledgers", "test"];

/// Calls `path` with `token` and an empty message: every request's
/// defaults, so a call the gate lets through gets the handler's own answer
/// (often INVALID_ARGUMENT), and one it refuses gets the gate's.
async fn call(channel: &Channel, path: &'static str, token: &str) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(path);
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    if path.path().ends_with("/WatchEvents") {
        grpc.server_streaming(authed(token, ()), path, codec)
            .await
            .map(drop)
    } else {
        grpc.unary(authed(token, ()), path, codec).await.map(drop)
    }
}

fn refused(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::PermissionDenied | Code::Unauthenticated
    )
}

#[tokio::test]
async fn each_service_calls_exactly_what_its_peers_grant_it() {
    let t = spawn_suite(Default::default()).await;
    let callees: [(&str, &Channel, RoleTable, ServiceCalls); 3] = [
        (
            "rounds",
            &t.rounds,
            fiveledger_rounds::grpc::ROLES,
            fiveledger_rounds::grpc::SERVICE_CALLS,
        ),
        (
            "issues",
            &t.issues,
            fiveledger_issues::grpc::ROLES,
            fiveledger_issues::grpc::SERVICE_CALLS,
        ),
        (
            "ledgers",
            &t.ledgers,
            fiveledger_ledgers::grpc::ROLES,
            fiveledger_ledgers::grpc::SERVICE_CALLS,
        ),
    ];
    let mut allowed_calls = 0;
    for (callee, channel, roles, calls) in callees {
        let paths: Vec<&'static str> = roles.iter().map(|(path, _)| *path).collect();
        // A grant names a real RPC of the callee.
        for (peer, granted_paths) in calls {
            for path in *granted_paths {
                assert!(
                    paths.contains(path),
                    "{callee} grants {peer} unknown {path}"
                );
            }
        }
        for peer in PEERS {
            let token = testing::service_token(peer);
            for path in &paths {
                let answer = call(channel, path, &token).await;
                let allowed = granted(calls, peer).contains(path);
                match (&answer, allowed) {
                    (Err(status), true) if refused(status) => {
                        panic!("{peer} → {path} is granted but refused: {status:?}")
                    }
                    (Err(status), false) => assert_eq!(
                        status.code(),
                        Code::PermissionDenied,
                        "{peer} → {path}: {status:?}"
                    ),
                    (Ok(()), false) => panic!("{peer} → {path} is not granted but served"),
                    _ => allowed_calls += 1,
                }
            }
        }
    }
    // Issues and the ledger each need a handful of calls (issues also
    // batches inspections for back-tracking), rounds one (problems, at
    // feedback); nobody calls the ledger, and no service calls itself.
    assert_eq!(allowed_calls, 6 + 4 + 1 + 1, "grants served");
    t.suite.stop().await.expect("stops");
}

#[tokio::test]
async fn no_persons_token_can_be_a_service() {
    let t = spawn_suite(Default::default()).await;
    // Signed with the suite's shared key, claiming the service role.
    for token in [
        testing::token("service:ledgers", "", &[Role::Service]),
        testing::token("service:issues", "", &[Role::Service, Role::Admin]),
    ] {
        for (channel, path) in [
            (
                &t.rounds,
                "/fiveledger.rounds.v1.InspectionService/GetInspection",
            ),
            (&t.issues, "/fiveledger.issues.v1.EventService/WatchEvents"),
            (&t.ledgers, "/fiveledger.ledgers.v1.LedgerService/Reconcile"),
        ] {
            let status = call(channel, path, &token).await.expect_err("refused");
            assert_eq!(status.code(), Code::Unauthenticated, "{path}: {status:?}");
            assert!(status.message().contains("service"), "{status:?}");
        }
    }
    // The key of one service cannot speak for another: the suite knows the
    // test process's `test` key, and a token it signs names `test` only.
    let status = call(
        &t.rounds,
        "/fiveledger.rounds.v1.InspectionService/GetInspection",
        &testing::service_token("test"),
    )
    .await
    .expect_err("test is granted nothing");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    t.suite.stop().await.expect("stops");
}

/// A clue and a frozen list in Xingning's inspection: events of both kinds
/// in the issues outbox.
async fn a_clue_and_a_frozen_list(t: &TestSuite) {
    let inspection = t.stationed_xingning_in_round_nine().await;
    t.problem(
        &tokens::office(),
        &inspection.name,
        "p1",
        "party-leadership",
        types::Severity::Major,
        "三重一大决策不规范",
        "",
        "",
    )
    .await
    .expect("problem");
    issues::clue_service_client::ClueServiceClient::new(t.issues.clone())
        .create_clue(authed(
            &tokens::office(),
            issues::CreateClueRequest {
                clue: Some(issues::Clue {
                    inspection: inspection.name.clone(),
                    subject_name: "干部甲".into(),
                    subject_post: "科长".into(),
                    summary: "反映问题线索".into(),
                    source: "谈话".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("clue");
    t.report(
        &inspection.name,
        "li-leader",
        fiveledger_e2e::date(2026, 4, 10),
        fiveledger_e2e::date(2026, 5, 20),
    )
    .await;
    t.wait_for_entries(&format!("inspection = \"{}\"", inspection.name), 1)
        .await;
}

/// (type, organisation) of each event a stream yields until it has been
/// quiet for a moment, or the first error.
async fn drain<R>(
    mut stream: tonic::Streaming<R>,
    event: impl Fn(R) -> Option<Event>,
) -> Result<Vec<(String, String)>, Status> {
    let mut seen = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(500), stream.next()).await
    {
        let event = event(item?).expect("event");
        seen.push((event.r#type, event.organisation_path));
    }
    Ok(seen)
}

/// The issues events `token` streams (from the start), as (type, organisation).
async fn streamed(
    t: &TestSuite,
    token: &str,
    types: &[&str],
) -> Result<Vec<(String, String)>, Status> {
    let stream = EventServiceClient::new(t.issues.clone())
        .watch_events(authed(
            token,
            issues::WatchEventsRequest {
                after_cursor: String::new(),
                types: types.iter().map(|t| (*t).to_owned()).collect(),
            },
        ))
        .await?
        .into_inner();
    drain(stream, |r| r.event).await
}

/// The types of the issues events `token` streams.
async fn streamed_types(t: &TestSuite, token: &str, types: &[&str]) -> Result<Vec<String>, Status> {
    Ok(streamed(t, token, types)
        .await?
        .into_iter()
        .map(|(kind, _)| kind)
        .collect())
}

/// The rounds events `token` streams, as (type, organisation).
async fn streamed_rounds(t: &TestSuite, token: &str) -> Vec<(String, String)> {
    let stream = rounds::event_service_client::EventServiceClient::new(t.rounds.clone())
        .watch_events(authed(
            token,
            rounds::WatchEventsRequest {
                after_cursor: String::new(),
                types: vec![],
            },
        ))
        .await
        .expect("rounds events")
        .into_inner();
    drain(stream, |r| r.event).await.expect("rounds events")
}

#[tokio::test]
async fn the_ledger_streams_no_clue_event_but_colour_changes_and_a_county_its_county_only() {
    let t = spawn_suite(Default::default()).await;
    a_clue_and_a_frozen_list(&t).await;

    // A whole-tree administrator sees both kinds.
    let all = streamed_types(&t, &tokens::admin(), &[])
        .await
        .expect("admin");
    assert!(all.iter().any(|t| t.starts_with("Clue")), "{all:?}");
    assert!(all.iter().any(|t| t == "ProblemListFrozen"), "{all:?}");

    // The ledger, asking for everything, gets frozen lists and clue colour
    // changes only (none here: no clue changed colour).
    let ledger = testing::service_token("ledgers");
    let ledger_seen = streamed_types(&t, &ledger, &[]).await.expect("ledger");
    assert!(!ledger_seen.is_empty());
    assert!(
        ledger_seen
            .iter()
            .all(|t| t == "ProblemListFrozen" || t == "ClueWarned"),
        "{ledger_seen:?}"
    );
    // Naming another clue event is refused, naming it.
    let clue_type = all
        .iter()
        .find(|t| t.starts_with("Clue") && *t != "ClueWarned")
        .expect("a clue event");
    let status = streamed_types(&t, &ledger, &["ProblemListFrozen", clue_type])
        .await
        .expect_err("clue events are not the ledger's");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(reason(&status), "EVENT_TYPE_NOT_GRANTED");
    assert!(status.message().contains("types[1]"), "{status:?}");

    // A county's administrator streams its county only: the directory
    // under it, none of the city round's problems or clues about it (they
    // concern the city, which runs the round).
    let county = testing::token("admin-xn", XINGNING, &[Role::Admin]);
    let issues_seen = streamed(&t, &county, &[]).await.expect("county");
    assert_eq!(issues_seen, Vec::<(String, String)>::new());
    let directory = streamed_rounds(&t, &county).await;
    assert!(!directory.is_empty());
    for (kind, path) in &directory {
        assert!(in_subtree(path, XINGNING), "{kind} about {path}");
    }
    // The city's administrator streams the city's round, clues included.
    let city = testing::token("admin-nn", paths::CITY, &[Role::Admin]);
    let events = streamed(&t, &city, &[]).await.expect("city");
    assert!(
        events.iter().any(|(t, _)| t.starts_with("Clue")),
        "{events:?}"
    );
    assert!(
        events.iter().all(|(_, path)| path == paths::CITY),
        "{events:?}"
    );
    // Offices and commissions do not stream: they read through the API.
    for token in [tokens::office(), tokens::commission()] {
        let status = streamed_types(&t, &token, &[])
            .await
            .expect_err("no stream");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    // Rounds grants issues the inspection events it acts on, not the rest.
    let mut rounds_events = rounds::event_service_client::EventServiceClient::new(t.rounds.clone());
    let status = rounds_events
        .watch_events(authed(
            &testing::service_token("issues"),
            rounds::WatchEventsRequest {
                after_cursor: String::new(),
                types: vec!["OrganisationCreated".into()],
            },
        ))
        .await
        .expect_err("not granted");
    assert_eq!(reason(&status), "EVENT_TYPE_NOT_GRANTED");
    t.suite.stop().await.expect("stops");
}
