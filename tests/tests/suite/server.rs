//! What the shared server bootstrap promises every service: reflection lists
//! exactly the services each server serves (v1 and v1alpha), every RPC of
//! the API has an entry in its service's roles table, and a shutdown reports
//! NOT_SERVING for the drain period before the listener closes.

use std::collections::BTreeSet;
use std::time::Duration;

use fiveledger::{Domains, Layout};
use fiveledger_e2e::{eventually, spawn_suite};
use fiveledger_platform::auth::{Role, RoleTable};
use fiveledger_platform::testing::{TestEnv, authed, token};
use fiveledger_proto::rounds::ListOrganisationsRequest;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use prost::Message;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The API's services and their methods, read from the descriptor set the
/// servers register for reflection.
fn api() -> Vec<(String, Vec<String>)> {
    let set = prost_types::FileDescriptorSet::decode(fiveledger_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    set.file
        .iter()
        .flat_map(|file| {
            file.service.iter().map(move |service| {
                (
                    format!("{}.{}", file.package(), service.name()),
                    service.method.iter().map(|m| m.name().to_owned()).collect(),
                )
            })
        })
        .collect()
}

/// The services a server says it serves (its `SERVICES`): its own
/// package's, and shared ones such as the access log.
fn services_of(services: &[&str]) -> BTreeSet<String> {
    services.iter().map(|s| (*s).to_owned()).collect()
}

const SERVERS: [(&str, &[&str], RoleTable); 3] = [
    (
        "rounds",
        fiveledger_rounds::grpc::SERVICES,
        fiveledger_rounds::grpc::ROLES,
    ),
    (
        "issues",
        fiveledger_issues::grpc::SERVICES,
        fiveledger_issues::grpc::ROLES,
    ),
    (
        "ledgers",
        fiveledger_ledgers::grpc::SERVICES,
        fiveledger_ledgers::grpc::ROLES,
    ),
];

#[test]
fn every_rpc_has_its_roles_and_every_roles_entry_an_rpc() {
    for (package, services, roles) in SERVERS {
        // Every service of the package is served by its server.
        let own = api()
            .into_iter()
            .map(|(service, _)| service)
            .filter(|service| service.starts_with(&format!("fiveledger.{package}.v1.")));
        for service in own {
            assert!(services.contains(&service.as_str()), "{package}: {service}");
        }
        let rpcs: BTreeSet<String> = api()
            .into_iter()
            .filter(|(service, _)| services.contains(&service.as_str()))
            .flat_map(|(service, methods)| {
                methods
                    .into_iter()
                    .map(move |method| format!("/{service}/{method}"))
            })
            .collect();
        assert!(rpcs.len() > 5, "{package}: {rpcs:?}");
        let table: BTreeSet<String> = roles.iter().map(|(path, _)| (*path).to_owned()).collect();
        assert_eq!(
            table.len(),
            roles.len(),
            "{package}: an RPC listed twice in the roles table"
        );
        let unlisted: Vec<_> = rpcs.difference(&table).collect();
        assert!(
            unlisted.is_empty(),
            "{package}: RPCs without roles (refused to everyone): {unlisted:?}"
        );
        let stale: Vec<_> = table.difference(&rpcs).collect();
        assert!(
            stale.is_empty(),
            "{package}: roles for RPCs that do not exist: {stale:?}"
        );
        for (path, allowed) in roles {
            assert!(!allowed.is_empty(), "{path}: no role may call it");
        }
    }
}

#[tokio::test]
async fn reflection_lists_exactly_each_servers_services_in_v1_and_v1alpha() {
    let t = spawn_suite(Default::default()).await;
    for ((package, services, _), channel) in
        SERVERS.into_iter().zip([&t.rounds, &t.issues, &t.ledgers])
    {
        let mut expected = services_of(services);
        assert!(expected.len() >= 2, "{package}: {expected:?}");
        expected.extend(
            [
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ]
            .map(String::from),
        );
        assert_eq!(
            reflection::list_v1(channel.clone()).await,
            expected,
            "{package} (v1)"
        );
        assert_eq!(
            reflection::list_v1alpha(channel.clone()).await,
            expected,
            "{package} (v1alpha)"
        );
    }
    t.suite.stop().await.expect("stops");
}

/// A client that loads every listed service (grpcurl `describe` with no
/// symbol) must be able to: each endpoint resolves every symbol either
/// endpoint lists, and every file those import, by name.
#[tokio::test]
async fn both_reflection_endpoints_describe_every_service_either_lists() {
    use reflection::{Answer, Ask};
    let t = spawn_suite(Default::default()).await;
    for (package, channel) in [
        ("rounds", &t.rounds),
        ("issues", &t.issues),
        ("ledgers", &t.ledgers),
    ] {
        let mut listed = reflection::list_v1(channel.clone()).await;
        listed.extend(reflection::list_v1alpha(channel.clone()).await);
        for (version, endpoint) in [("v1", true), ("v1alpha", false)] {
            let ask = |ask: Ask| {
                let channel = channel.clone();
                async move {
                    if endpoint {
                        reflection::ask_v1(channel, ask).await
                    } else {
                        reflection::ask_v1alpha(channel, ask).await
                    }
                }
            };
            for service in &listed {
                let files = match ask(Ask::Symbol(service.clone())).await {
                    Answer::Files(files) => files,
                    Answer::Error(error) => {
                        panic!("{package} ({version}) cannot resolve {service}: {error}")
                    }
                    other => panic!("{package} ({version}): {service} is {other:?}"),
                };
                let file = files.first().expect("a file");
                assert!(
                    file.service
                        .iter()
                        .any(|s| format!("{}.{}", file.package(), s.name()) == *service),
                    "{package} ({version}): {service} is not in {}",
                    file.name()
                );
                // Every import, transitively, resolves by its file name.
                let mut pending: Vec<String> = file.dependency.clone();
                let mut seen = BTreeSet::new();
                while let Some(name) = pending.pop() {
                    if !seen.insert(name.clone()) {
                        continue;
                    }
                    match ask(Ask::File(name.clone())).await {
                        Answer::Files(files) => {
                            pending.extend(files.into_iter().flat_map(|f| f.dependency));
                        }
                        other => panic!(
                            "{package} ({version}): {service} imports {name}, which is {other:?}"
                        ),
                    }
                }
            }
        }
    }
    t.suite.stop().await.expect("stops");
}

async fn health(channel: &Channel, service: &str) -> Result<i32, tonic::Status> {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|r| r.into_inner().status)
}

#[tokio::test]
async fn a_stopping_service_says_not_serving_for_the_drain_then_closes() {
    let mut env = TestEnv::new("drain");
    env.settings.limits.shutdown_drain_seconds = 2;
    let suite = fiveledger::start(
        &env.settings,
        Domains::default(),
        Layout {
            ports: [0, 0, 0],
            ..Layout::default()
        },
    )
    .await
    .expect("the suite starts");
    let channel = Channel::from_shared(format!("http://{}", suite.rounds.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    assert_eq!(
        health(&channel, "").await.expect("health"),
        ServingStatus::Serving as i32
    );
    let admin = token("admin", "", &[Role::Admin]);
    let list = || {
        let mut client = OrganisationServiceClient::new(channel.clone());
        let request = authed(&admin, ListOrganisationsRequest::default());
        async move { client.list_organisations(request).await }
    };
    list().await.expect("serving before the stop");

    let stopping = tokio::time::Instant::now();
    suite.stop.cancel();
    // Probes on the still-open listener see NOT_SERVING, overall and per
    // service, and other calls are refused as UNAVAILABLE, not dropped.
    eventually("NOT_SERVING", Duration::from_secs(1), || async {
        (health(&channel, "").await.ok() == Some(ServingStatus::NotServing as i32)).then_some(())
    })
    .await;
    for name in ["rounds", "fiveledger.rounds.v1.OrganisationService"] {
        assert_eq!(
            health(&channel, name).await.expect("health while draining"),
            ServingStatus::NotServing as i32,
            "{name}"
        );
    }
    let refused = list().await.expect_err("refused while draining");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    let info = tonic_types::StatusExt::get_error_details(&refused)
        .error_info()
        .cloned()
        .expect("ErrorInfo");
    assert_eq!(info.reason, "NOT_READY");
    assert!(
        stopping.elapsed() < Duration::from_millis(1500),
        "all of that inside the drain"
    );
    // Then the service stops, well within drain plus grace.
    tokio::time::timeout(Duration::from_secs(10), suite.rounds.wait())
        .await
        .expect("stops after the drain")
        .expect("stops cleanly");
    assert!(
        stopping.elapsed() >= Duration::from_secs(2),
        "stopped before the drain ended: {:?}",
        stopping.elapsed()
    );
    assert!(
        health(&channel, "").await.is_err(),
        "the listener is closed"
    );
}

/// Minimal reflection clients for both protocol versions: list the services,
/// and resolve a symbol to its file and that file's imports, as grpcurl's
/// `describe` does.
pub(crate) mod reflection {
    use std::collections::BTreeSet;

    use prost::Message;
    use tonic::transport::Channel;

    /// What a reflection request asks.
    pub enum Ask {
        Services,
        Symbol(String),
        File(String),
    }

    /// What the server answered: service names, file descriptors, or the
    /// error it returned in the stream.
    #[derive(Debug)]
    pub enum Answer {
        Services(BTreeSet<String>),
        Files(Vec<prost_types::FileDescriptorProto>),
        Error(String),
    }

    macro_rules! ask {
        ($name:ident, $version:ident) => {
            pub async fn $name(channel: Channel, ask: Ask) -> Answer {
                use tonic_reflection::pb::$version::ServerReflectionRequest;
                use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
                use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
                use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
                let request = ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(match ask {
                        Ask::Services => MessageRequest::ListServices(String::new()),
                        Ask::Symbol(symbol) => MessageRequest::FileContainingSymbol(symbol),
                        Ask::File(file) => MessageRequest::FileByFilename(file),
                    }),
                };
                let mut stream = ServerReflectionClient::new(channel)
                    .server_reflection_info(futures::stream::once(async { request }))
                    .await
                    .expect("reflection")
                    .into_inner();
                match stream
                    .message()
                    .await
                    .expect("response")
                    .and_then(|r| r.message_response)
                {
                    Some(MessageResponse::ListServicesResponse(list)) => {
                        Answer::Services(list.service.into_iter().map(|s| s.name).collect())
                    }
                    Some(MessageResponse::FileDescriptorResponse(files)) => Answer::Files(
                        files
                            .file_descriptor_proto
                            .iter()
                            .map(|raw| {
                                prost_types::FileDescriptorProto::decode(raw.as_slice())
                                    .expect("a file descriptor")
                            })
                            .collect(),
                    ),
                    Some(MessageResponse::ErrorResponse(error)) => Answer::Error(format!(
                        "{} {}",
                        error.error_code, error.error_message
                    )),
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
    }

    ask!(ask_v1, v1);
    ask!(ask_v1alpha, v1alpha);

    pub async fn list_v1(channel: Channel) -> BTreeSet<String> {
        match ask_v1(channel, Ask::Services).await {
            Answer::Services(services) => services,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn list_v1alpha(channel: Channel) -> BTreeSet<String> {
        match ask_v1alpha(channel, Ask::Services).await {
            Answer::Services(services) => services,
            other => panic!("unexpected {other:?}"),
        }
    }
}
