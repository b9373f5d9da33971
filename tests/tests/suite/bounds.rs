//! A malformed or hostile request costs little and changes nothing: lists
//! of 100,000 names are refused before any name is looked at, bytes that are
//! not the method's message are INVALID_ARGUMENT (naming no internal type),
//! and one caller flooding a service is held to its own limits.

use crate::common;

use std::time::Instant;

use common::reason;
use fiveledger_e2e::{spawn_suite, tokens};
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, TestEnv, authed};
use fiveledger_proto::rounds::group_service_client::GroupServiceClient;
use fiveledger_proto::rounds::*;
use tonic::Code;
use tonic_types::StatusExt;

const HUGE: usize = 100_000;

/// Any bytes as field 1, whatever the method expects there.
#[derive(Clone, PartialEq, prost::Message)]
struct RawField1 {
    #[prost(bytes = "vec", tag = "1")]
    value: Vec<u8>,
}

fn field(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

#[tokio::test]
async fn lists_of_a_hundred_thousand_names_are_refused_before_any_is_looked_at() {
    let t = spawn_suite(Default::default()).await;
    let names: Vec<String> = (0..HUGE).map(|i| format!("inspectors/p{i}")).collect();
    let mut groups = GroupServiceClient::new(t.rounds.clone()).max_encoding_message_size(16 << 20);
    let started = Instant::now();
    let err = groups
        .create_group(authed(
            &tokens::office(),
            CreateGroupRequest {
                parent: "rounds/r9".into(),
                group: Some(Group {
                    display_name: "g".into(),
                    deputies: names.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect_err("too many");
    assert_eq!(
        (err.code(), reason(&err).as_str(), field(&err).as_str()),
        (Code::InvalidArgument, "TOO_MANY", "group")
    );
    let err = groups
        .add_group_members(authed(
            &tokens::office(),
            AddGroupMembersRequest {
                group: "rounds/r9/groups/g1".into(),
                members: names
                    .iter()
                    .map(|n| GroupMember {
                        inspector: n.clone(),
                        role: GroupRole::Member as i32,
                    })
                    .collect(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("too many");
    assert_eq!(
        (reason(&err).as_str(), field(&err).as_str()),
        ("TOO_MANY", "members")
    );
    let err = groups
        .remove_group_members(authed(
            &tokens::office(),
            RemoveGroupMembersRequest {
                group: "rounds/r9/groups/g1".into(),
                inspectors: names.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("too many");
    assert_eq!(
        (reason(&err).as_str(), field(&err).as_str()),
        ("TOO_MANY", "inspectors")
    );
    // Event types, of every service's stream.
    let service = testing::service_token("issues");
    let err =
        fiveledger_proto::rounds::event_service_client::EventServiceClient::new(t.rounds.clone())
            .max_encoding_message_size(16 << 20)
            .watch_events(authed(
                &service,
                WatchEventsRequest {
                    after_cursor: String::new(),
                    types: names.clone(),
                },
            ))
            .await
            .expect_err("too many types");
    assert_eq!(
        (reason(&err).as_str(), field(&err).as_str()),
        ("TOO_MANY", "types")
    );
    // Refused at a cost of the decoding alone (not asserted: see README).
    eprintln!("four refusals of {HUGE} names in {:?}", started.elapsed());
}

#[tokio::test]
async fn bytes_that_are_not_the_methods_message_are_invalid_argument_naming_no_internal_type() {
    let t = spawn_suite(Default::default()).await;
    // Field 1 of CreateGroupRequest is a string: invalid UTF-8 cannot decode.
    let bytes = RawField1 {
        value: vec![0xff, 0xfe, 0xfd],
    };
    let mut grpc = tonic::client::Grpc::new(t.rounds.clone());
    grpc.ready().await.expect("ready");
    let err = grpc
        .unary(
            authed(&tokens::office(), bytes),
            http::uri::PathAndQuery::from_static("/fiveledger.rounds.v1.GroupService/CreateGroup"),
            tonic_prost::ProstCodec::<RawField1, Group>::default(),
        )
        .await
        .expect_err("undecodable");
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::InvalidArgument, "MALFORMED_REQUEST")
    );
    for internal in ["CreateGroupRequest", "parent", "Protobuf", "UTF-8"] {
        assert!(!err.message().contains(internal), "{internal}: {err:?}");
    }
}

#[tokio::test]
async fn one_caller_flooding_a_service_is_held_to_its_own_limit() {
    let env = TestEnv::new("rounds");
    let mut settings = env.settings.clone();
    settings.limits.caller.requests_per_second = 1.0;
    settings.limits.caller.burst = 5.0;
    let running = fiveledger_rounds::start(
        &settings,
        Default::default(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect("starts");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", running.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let list = |token: String| {
        let mut client =
            fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient::new(
                channel.clone(),
            );
        async move {
            client
                .list_organisations(authed(&token, ListOrganisationsRequest::default()))
                .await
        }
    };
    let flooder = testing::token("flood", "guangxi", &[Role::Viewer]);
    let mut refused = None;
    for _ in 0..20 {
        if let Err(status) = list(flooder.clone()).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("the flood is refused");
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::ResourceExhausted, "RATE_LIMITED")
    );
    // The same subject for another organisation, another caller, and the
    // health check are unaffected.
    list(testing::token("flood", "guangxi/nanning", &[Role::Viewer]))
        .await
        .expect("another caller");
    list(testing::token("calm", "guangxi", &[Role::Viewer]))
        .await
        .expect("another subject");
    tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health is not limited");
    running.stop().await.expect("stops");
}
