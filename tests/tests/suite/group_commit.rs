//! Group commit over gRPC: requests written at the same time share a
//! transaction, each in its own savepoint. A request refused inside the
//! transaction changes nothing and the others commit; the same request
//! sent twice at once (one request id) acts once and both get its answer,
//! also across PostgreSQL's lanes of batches (the suite runs four there).

use fiveledger_e2e::spawn_suite_with;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::*;
use tonic::Code;

fn create(id: &str, name: &str, request_id: &str) -> CreateOrganisationRequest {
    CreateOrganisationRequest {
        organisation: Some(Organisation {
            display_name: name.into(),
            kind: OrganisationKind::City as i32,
            parent: "organisations/region".into(),
            ..Default::default()
        }),
        organisation_id: id.into(),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn refusals_in_a_batch_change_nothing_and_the_rest_commit() {
    // Four lanes: with requests dealt out in turn a duplicate landed in
    // another lane than its first, and the two deadlocked.
    let suite = spawn_suite_with(Default::default(), |s| s.database.group_commit_lanes = 4).await;
    let token = testing::token("admin", "", &[Role::Admin]);
    let mut client = OrganisationServiceClient::new(suite.rounds.clone());
    client
        .create_organisation(authed(
            &token,
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: "Region".into(),
                    kind: OrganisationKind::Region as i32,
                    ..Default::default()
                }),
                organisation_id: "region".into(),
                request_id: String::new(),
            },
        ))
        .await
        .expect("region");
    for taken in 0..8 {
        client
            .create_organisation(authed(
                &token,
                create(&format!("taken-{taken}"), "first", ""),
            ))
            .await
            .expect("an organisation there before");
    }

    // 96 at once: 64 new cities, 8 ids already taken (refused inside the
    // transaction), and 24 duplicates sharing a request id with a new one.
    let mut calls = Vec::new();
    for i in 0..96usize {
        let request = match i {
            0..64 => create(
                &format!("city-{i}"),
                &format!("City {i}"),
                &format!("r-{i}"),
            ),
            64..72 => create(&format!("taken-{}", i - 64), "second", &format!("r-{i}")),
            _ => create(
                &format!("city-{}", i - 72),
                &format!("City {}", i - 72),
                &format!("r-{}", i - 72),
            ),
        };
        let (mut client, request) = (client.clone(), authed(&token, request));
        calls.push(tokio::spawn(async move {
            client
                .create_organisation(request)
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.expect("call"));
    }
    for (i, answer) in answers.iter().enumerate() {
        match i {
            0..64 => assert_eq!(
                answer.as_ref().expect("created").name,
                format!("organisations/city-{i}")
            ),
            64..72 => assert_eq!(
                answer.as_ref().expect_err("taken").code(),
                Code::AlreadyExists
            ),
            _ => assert_eq!(
                answer.as_ref().expect("the first answer"),
                answers[i - 72].as_ref().expect("created"),
                "a duplicate gets the first request's answer"
            ),
        }
    }

    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_organisations(authed(
                &token,
                ListOrganisationsRequest {
                    page_size: 50,
                    page_token,
                    filter: r#"parent = "organisations/region""#.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("list")
            .into_inner();
        names.extend(
            page.organisations
                .into_iter()
                .map(|o| (o.name, o.display_name)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(names.len(), 72, "64 new and 8 there before, none doubled");
    for (name, display_name) in &names {
        if name.starts_with("organisations/taken-") {
            assert_eq!(
                display_name, "first",
                "{name} unchanged by the refused request"
            );
        }
    }
    suite.suite.stop().await.expect("stop");
}
