//! Transient faults reach callers as UNAVAILABLE (retry with back-off), not
//! INTERNAL: a service this one depends on that hangs up on every
//! connection, and one that has stopped.

use crate::common;

use common::*;
use fiveledger_e2e::{spawn_suite, tokens};
use fiveledger_platform::testing::{TestEnv, authed};
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::issues::{self};
use fiveledger_proto::types::Severity;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;
use tonic::Code;

fn create_problem() -> issues::CreateProblemRequest {
    issues::CreateProblemRequest {
        problem: Some(issues::Problem {
            inspection: "rounds/r1/inspections/xn".into(),
            category: "party-leadership".into(),
            severity: Severity::Major as i32,
            title: "问题".into(),
            responsibilities: Some(issues::Responsibilities {
                principal: "区委书记 张三".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        problem_id: String::new(),
        request_id: String::new(),
    }
}

fn assert_unavailable(status: &tonic::Status, service: &str) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(status), "DEPENDENCY_UNAVAILABLE", "{status:?}");
    assert_eq!(info(status, "service"), service, "{status:?}");
}

/// A "rounds service" that accepts each connection, reads the start of
/// the request and hangs up: the connection breaks in the middle of a call.
async fn hanging_up_upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 64];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    addr
}

#[tokio::test]
async fn a_broken_connection_to_another_service_is_unavailable_not_internal() {
    let upstream = hanging_up_upstream().await;
    let mut env = TestEnv::new("issues_alone");
    env.settings.upstream.rounds = format!("http://{upstream}");
    let issues = fiveledger_issues::start(
        &env.settings,
        fiveledger_issues::IssuesSettings {
            follow_rounds_events: false,
            ..Default::default()
        },
        CancellationToken::new(),
    )
    .await
    .expect("issues starts");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", issues.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let status = ProblemServiceClient::new(channel)
        .create_problem(authed(&tokens::admin(), create_problem()))
        .await
        .expect_err("rounds hangs up");
    assert_unavailable(&status, "rounds");
    issues.stop().await.expect("stops");
}

#[tokio::test]
async fn a_stopped_dependency_is_unavailable() {
    let t = spawn_suite(Default::default()).await;
    let mut problems = ProblemServiceClient::new(t.issues.clone());
    // While rounds serves, the unknown inspection is simply not found.
    let status = problems
        .create_problem(authed(&tokens::admin(), create_problem()))
        .await
        .expect_err("no such inspection");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let fiveledger::Suite {
        rounds,
        issues: _issues,
        ledgers: _ledgers,
        stop: _stop,
    } = t.suite;
    rounds.stop().await.expect("rounds stops");
    let status = problems
        .create_problem(authed(&tokens::admin(), create_problem()))
        .await
        .expect_err("rounds is down");
    assert_unavailable(&status, "rounds");
}
