//! OrganisationService over gRPC: the directory, its rules and its scope.

use crate::common;

use common::*;
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::*;
use tonic::Code;

fn create(
    id: &str,
    kind: OrganisationKind,
    parent: &str,
    request_id: &str,
) -> CreateOrganisationRequest {
    CreateOrganisationRequest {
        organisation: Some(Organisation {
            display_name: format!("Org {id}"),
            kind: kind as i32,
            parent: parent.into(),
            ..Default::default()
        }),
        organisation_id: id.into(),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn create_get_and_paths() {
    let app = spawn().await;
    app.small_tree().await;
    let got = app
        .organisations()
        .get_organisation(testing::authed(
            &admin(),
            GetOrganisationRequest {
                name: "organisations/xingning".into(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.path, "guangxi/nanning/xingning");
    assert_eq!(got.parent, "organisations/nanning");
    assert_eq!(got.kind, OrganisationKind::County as i32);
    assert_eq!(got.display_name, "兴宁区");
    assert!(!got.etag.is_empty());
    assert!(got.create_time.is_some());
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field() {
    let app = spawn().await;
    app.small_tree().await;
    let mut client = app.organisations();
    let cases: Vec<(CreateOrganisationRequest, &str, &str)> = vec![
        (
            CreateOrganisationRequest::default(),
            "organisation",
            "REQUIRED_FIELD",
        ),
        (
            create(
                "Bad_Id",
                OrganisationKind::City,
                "organisations/guangxi",
                "",
            ),
            "organisation_id",
            "INVALID_ID",
        ),
        (
            create(
                "x1",
                OrganisationKind::Unspecified,
                "organisations/guangxi",
                "",
            ),
            "organisation.kind",
            "REQUIRED_FIELD",
        ),
        (
            create("x2", OrganisationKind::City, "", ""),
            "organisation.parent",
            "PARENT_REQUIRED",
        ),
        (
            create("x3", OrganisationKind::City, "rounds/r1", ""),
            "organisation.parent",
            "INVALID_NAME",
        ),
        (
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: "  ".into(),
                    kind: OrganisationKind::City as i32,
                    parent: "organisations/guangxi".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "organisation.display_name",
            "REQUIRED_FIELD",
        ),
        (
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: "x".into(),
                    kind: 99,
                    parent: "organisations/guangxi".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "organisation.kind",
            "UNKNOWN_ENUM_VALUE",
        ),
    ];
    for (request, field, code) in cases {
        let err = client
            .create_organisation(testing::authed(&admin(), request))
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert_eq!(bad_field(&err), field);
        assert_eq!(reason(&err), code, "{field}");
    }
    // Nothing was written by the refusals.
    let all = client
        .list_organisations(testing::authed(
            &admin(),
            ListOrganisationsRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.organisations.len(), 5);
}

#[tokio::test]
async fn tree_rules_are_preconditions() {
    let app = spawn().await;
    app.small_tree().await;
    let err = app
        .organisations()
        .create_organisation(testing::authed(
            &admin(),
            create("v1", OrganisationKind::Village, "organisations/nanning", ""),
        ))
        .await
        .expect_err("a village is not under a city");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "INVALID_PARENT_KIND");
    let err = app
        .organisations()
        .create_organisation(testing::authed(
            &admin(),
            create(
                "nanning",
                OrganisationKind::County,
                "organisations/nanning",
                "",
            ),
        ))
        .await
        .expect_err("duplicate id");
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = app
        .organisations()
        .create_organisation(testing::authed(
            &admin(),
            create("c9", OrganisationKind::County, "organisations/nowhere", ""),
        ))
        .await
        .expect_err("unknown parent");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn a_repeated_request_id_returns_the_first_result() {
    let app = spawn().await;
    app.small_tree().await;
    let mut client = app.organisations();
    // No id given: the server generates one, so a second create would make a
    // second organisation if the retry were not recognised.
    let mut request = create(
        "",
        OrganisationKind::Township,
        "organisations/xingning",
        "8a3c1f9e-retry",
    );
    request.organisation_id.clear();
    let first = client
        .create_organisation(testing::authed(&admin(), request.clone()))
        .await
        .expect("first")
        .into_inner();
    let again = client
        .create_organisation(testing::authed(&admin(), request.clone()))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, again);
    let towns = client
        .list_organisations(testing::authed(
            &admin(),
            ListOrganisationsRequest {
                filter: "kind = ORGANISATION_KIND_TOWNSHIP".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(towns.organisations.len(), 1);

    // The same id with another request is refused.
    request.organisation.as_mut().expect("org").display_name = "Another".into();
    let err = client
        .create_organisation(testing::authed(&admin(), request))
        .await
        .expect_err("reused id");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "request_id");
    assert_eq!(reason(&err), "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn concurrent_retries_create_one_organisation() {
    let app = spawn().await;
    app.small_tree().await;
    let mut request = create(
        "",
        OrganisationKind::Township,
        "organisations/qingxiu",
        "concurrent-1",
    );
    request.organisation_id.clear();
    let calls = (0..8).map(|_| {
        let mut client = app.organisations();
        let request = request.clone();
        async move {
            client
                .create_organisation(testing::authed(&admin(), request))
                .await
                .map(|r| r.into_inner())
        }
    });
    let results = futures::future::join_all(calls).await;
    let first = results[0].as_ref().expect("ok").clone();
    for r in &results {
        assert_eq!(r.as_ref().expect("every retry succeeds"), &first);
    }
}

#[tokio::test]
async fn a_stale_etag_is_aborted() {
    let app = spawn().await;
    app.small_tree().await;
    let mut client = app.organisations();
    let org = client
        .get_organisation(testing::authed(
            &admin(),
            GetOrganisationRequest {
                name: "organisations/nanning".into(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    let mut patch = org.clone();
    patch.display_name = "南宁".into();
    let updated = client
        .update_organisation(testing::authed(
            &admin(),
            UpdateOrganisationRequest {
                organisation: Some(patch.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.display_name, "南宁");
    assert_ne!(updated.etag, org.etag);
    // The same old etag again: someone changed it since.
    patch.display_name = "Nanning".into();
    let err = client
        .update_organisation(testing::authed(
            &admin(),
            UpdateOrganisationRequest {
                organisation: Some(patch),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("stale");
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(reason(&err), "ETAG_MISMATCH");
    // Immutable fields cannot be masked in.
    let err = client
        .update_organisation(testing::authed(
            &admin(),
            UpdateOrganisationRequest {
                organisation: Some(updated),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["kind".into()],
                }),
                request_id: String::new(),
            },
        ))
        .await
        .expect_err("kind is immutable");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "update_mask");
}

/// Reads that arrive together go to the database together
/// (`point_reads`): each is still answered with its own organisation and
/// judged by its own caller's scope.
#[tokio::test]
async fn reads_that_go_together_are_each_judged_by_their_own_caller() {
    let app = spawn().await;
    app.small_tree().await;
    let callers = [
        ("xingning", office("guangxi/nanning/xingning")),
        ("qingxiu", office("guangxi/nanning/qingxiu")),
    ];
    let names = ["xingning", "qingxiu", "nanning", "nowhere"];
    let calls = (0..120).map(|i| {
        let (home, token) = callers[i % 2].clone();
        let name = names[(i / 2) % names.len()];
        let mut client = app.organisations();
        async move {
            let got = client
                .get_organisation(testing::authed(
                    &token,
                    GetOrganisationRequest {
                        name: format!("organisations/{name}"),
                    },
                ))
                .await;
            (home, name, got)
        }
    });
    for (home, name, got) in futures::future::join_all(calls).await {
        if name == home {
            let org = got.expect("its own county").into_inner();
            assert_eq!(org.name, format!("organisations/{name}"));
        } else {
            let err = got.expect_err("outside its county, or missing");
            assert_eq!(err.code(), Code::NotFound, "{home} reading {name}");
        }
    }
}

#[tokio::test]
async fn scope_is_the_callers_subtree() {
    let app = spawn().await;
    app.small_tree().await;
    let xingning = office("guangxi/nanning/xingning");
    let mut client = app.organisations();
    // A county office sees its county, not its neighbour or its city.
    for (name, code) in [
        ("organisations/xingning", Code::Ok),
        ("organisations/qingxiu", Code::NotFound),
        ("organisations/nanning", Code::NotFound),
    ] {
        let result = client
            .get_organisation(testing::authed(
                &xingning,
                GetOrganisationRequest { name: name.into() },
            ))
            .await;
        assert_eq!(
            result.map(|_| Code::Ok).unwrap_or_else(|s| s.code()),
            code,
            "{name}"
        );
    }
    let listed = client
        .list_organisations(testing::authed(
            &xingning,
            ListOrganisationsRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed
            .organisations
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["organisations/xingning"]
    );
    // It may add under itself but not under its neighbour.
    client
        .create_organisation(testing::authed(
            &xingning,
            create(
                "xn-town",
                OrganisationKind::Township,
                "organisations/xingning",
                "",
            ),
        ))
        .await
        .expect("own subtree");
    let err = client
        .create_organisation(testing::authed(
            &xingning,
            create(
                "qx-town",
                OrganisationKind::Township,
                "organisations/qingxiu",
                "",
            ),
        ))
        .await
        .expect_err("neighbour");
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .create_organisation(testing::authed(
            &xingning,
            create("root2", OrganisationKind::Region, "", ""),
        ))
        .await
        .expect_err("a root needs the whole tree");
    assert_eq!(err.code(), Code::PermissionDenied);
    // BatchGet refuses anything outside scope, naming it.
    let err = client
        .batch_get_organisations(testing::authed(
            &xingning,
            BatchGetOrganisationsRequest {
                names: vec![
                    "organisations/xingning".into(),
                    "organisations/qingxiu".into(),
                ],
                allow_missing: false,
            },
        ))
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("qingxiu"));
    // With allow_missing, the out-of-scope and unknown names are left out.
    let found = client
        .batch_get_organisations(testing::authed(
            &xingning,
            BatchGetOrganisationsRequest {
                names: vec![
                    "organisations/qingxiu".into(),
                    "organisations/xingning".into(),
                    "organisations/nowhere".into(),
                ],
                allow_missing: true,
            },
        ))
        .await
        .expect("allow missing")
        .into_inner();
    let names: Vec<&str> = found
        .organisations
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["organisations/xingning"]);
}

#[tokio::test]
async fn lists_page_by_keyset_and_filter() {
    let app = spawn().await;
    app.small_tree().await;
    let t = admin();
    for i in 0..45 {
        app.org(
            &t,
            &format!("t{i:03}"),
            OrganisationKind::Township,
            "organisations/xingning",
            &format!("镇 {:03}", 44 - i),
        )
        .await;
    }
    let mut client = app.organisations();
    let list = |token: String, filter: &str, order_by: &str| ListOrganisationsRequest {
        page_size: 10,
        page_token: token,
        filter: filter.into(),
        order_by: order_by.into(),
    };
    for order_by in ["", "display_name", "display_name desc"] {
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = client
                .list_organisations(testing::authed(
                    &t,
                    list(token, r#"parent = "organisations/xingning""#, order_by),
                ))
                .await
                .expect("page")
                .into_inner();
            assert!(page.organisations.len() <= 10);
            seen.extend(page.organisations.into_iter().map(|o| o.display_name));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(seen.len(), 45, "{order_by}");
        let mut sorted = seen.clone();
        sorted.sort();
        if order_by == "display_name desc" {
            sorted.reverse();
        }
        if !order_by.is_empty() {
            assert_eq!(seen, sorted, "{order_by}");
        }
    }
    // Subtree filter: everything under Nanning except Nanning's own row count.
    let under = client
        .list_organisations(testing::authed(
            &t,
            ListOrganisationsRequest {
                page_size: 1000,
                filter: r#"ancestor = "organisations/xingning""#.into(),
                ..Default::default()
            },
        ))
        .await
        .expect("subtree")
        .into_inner();
    assert_eq!(under.organisations.len(), 46);

    // A token is bound to its filter.
    let first = client
        .list_organisations(testing::authed(
            &t,
            list(String::new(), "kind = ORGANISATION_KIND_TOWNSHIP", ""),
        ))
        .await
        .expect("first page")
        .into_inner();
    let err = client
        .list_organisations(testing::authed(
            &t,
            list(first.next_page_token, "kind = ORGANISATION_KIND_COUNTY", ""),
        ))
        .await
        .expect_err("token with another filter");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "page_token");
    assert_eq!(reason(&err), "PAGE_TOKEN_MISMATCH");

    for bad in [
        "kind = NOPE",
        "colour = red",
        "parent",
        "kind > ORGANISATION_KIND_CITY",
    ] {
        let err = client
            .list_organisations(testing::authed(&t, list(String::new(), bad, "")))
            .await
            .expect_err(bad);
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        assert_eq!(bad_field(&err), "filter");
    }
    let err = client
        .list_organisations(testing::authed(&t, list(String::new(), "", "kind")))
        .await
        .expect_err("order_by kind");
    assert_eq!(bad_field(&err), "order_by");
    let _ = Role::Viewer;
}

/// A body of a level (here a city's inspection office) acts for the level
/// it serves; the level is read from the directory and remembered once
/// found, but a body not in the directory yet is asked about again, so it
/// gains its level as soon as it is created.
#[tokio::test]
async fn a_body_gains_its_levels_scope_once_it_is_in_the_directory() {
    let app = spawn().await;
    app.small_tree().await;
    let body = office("guangxi/nanning/nanning-xcban");
    let mut client = app.organisations();
    let read = |client: &mut OrganisationServiceClient<tonic::transport::Channel>, name: &str| {
        let mut client = client.clone();
        let request = testing::authed(&body, GetOrganisationRequest { name: name.into() });
        async move {
            client
                .get_organisation(request)
                .await
                .map(|_| Code::Ok)
                .unwrap_or_else(|s| s.code())
        }
    };
    // Unknown: its scope is its own path, which holds nothing yet.
    assert_eq!(
        read(&mut client, "organisations/xingning").await,
        Code::NotFound
    );
    app.org(
        &admin(),
        "nanning-xcban",
        OrganisationKind::InspectionOffice,
        "organisations/nanning",
        "南宁市委巡察办",
    )
    .await;
    // Created: the city's subtree, at once, and on every later call.
    for _ in 0..3 {
        assert_eq!(read(&mut client, "organisations/xingning").await, Code::Ok);
        assert_eq!(read(&mut client, "organisations/nanning").await, Code::Ok);
        assert_eq!(
            read(&mut client, "organisations/guangxi").await,
            Code::NotFound
        );
    }
}
