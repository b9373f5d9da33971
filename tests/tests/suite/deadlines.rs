//! Deadlines are honoured: a call whose `grpc-timeout` runs out fails and
//! writes nothing, and a service calling another on a caller's behalf passes
//! on what is left of the caller's deadline, so nobody works on for a caller
//! who has given up.

use crate::common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use common::reason;
use fiveledger_e2e::{TestSuite, spawn_suite, tokens};
use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, TestEnv, authed};
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::issues::{self};
use fiveledger_proto::rounds::inspection_service_server;
use fiveledger_proto::types::Severity;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::body::Body;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;
use tonic::transport::Server;

const XN: &str = "rounds/r9/inspections/xn";

/// CreateProblem for `inspection`, as the office, with `timeout` as its
/// deadline. The issues service asks the rounds service about the
/// inspection before it writes.
fn create_problem(
    inspection: &str,
    id: &str,
    timeout: Option<Duration>,
) -> tonic::Request<issues::CreateProblemRequest> {
    let mut request = authed(
        &tokens::office(),
        issues::CreateProblemRequest {
            problem: Some(issues::Problem {
                inspection: inspection.into(),
                category: "party-leadership".into(),
                severity: Severity::Major as i32,
                title: "重大事项未经集体研究".into(),
                responsibilities: Some(issues::Responsibilities {
                    principal: "区委书记 张三".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            problem_id: id.into(),
            request_id: String::new(),
        },
    );
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    request
}

async fn problems_of_xn(t: &TestSuite) -> Vec<String> {
    t.list_problems(&tokens::office(), &format!("inspection = \"{XN}\""))
        .await
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect()
}

#[tokio::test]
async fn a_call_whose_deadline_runs_out_fails_and_writes_nothing() {
    let t = spawn_suite(Default::default()).await;
    t.stationed_xingning_in_round_nine().await;

    let status = t
        .problems()
        .create_problem(create_problem(XN, "p1", Some(Duration::from_millis(1))))
        .await
        .expect_err("1 ms is too short to ask the rounds service and write");
    // Two clocks race here, and either answer means "your time ran out":
    // tonic's client enforces the deadline itself and reports CANCELLED
    // "Timeout expired" (not the spec's DEADLINE_EXCEEDED); the server,
    // whose call to rounds carried what was left and failed for want of
    // it, answers DEADLINE_EXCEEDED when that reaches the caller first.
    // Never UNAVAILABLE: rounds is up, and a retry signal would be a lie.
    let ran_out = (status.code() == Code::Cancelled && status.message() == "Timeout expired")
        || (status.code() == Code::DeadlineExceeded && reason(&status) == "DEADLINE_EXCEEDED");
    assert!(ran_out, "{status:?}");

    // Dropped mid-way, the handler wrote nothing, then or later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(problems_of_xn(&t).await, Vec::<String>::new());
    t.suite.stop().await.expect("stops");
}

#[tokio::test]
async fn a_call_with_a_generous_deadline_succeeds() {
    let t = spawn_suite(Default::default()).await;
    t.stationed_xingning_in_round_nine().await;

    let problem = t
        .problems()
        .create_problem(create_problem(XN, "p1", Some(Duration::from_secs(30))))
        .await
        .expect("30 s is plenty")
        .into_inner();
    assert_eq!(
        (problem.name.as_str(), problem.inspection.as_str()),
        ("problems/p1", XN)
    );
    assert_eq!(problems_of_xn(&t).await, vec![problem.name]);
    t.suite.stop().await.expect("stops");
}

/// A stand-in for the rounds service's InspectionService: notes the
/// `grpc-timeout` each call arrives with and answers NOT_FOUND.
#[derive(Clone, Default)]
struct FakeInspections {
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl NamedService for FakeInspections {
    const NAME: &'static str = inspection_service_server::SERVICE_NAME;
}

impl Service<http::Request<Body>> for FakeInspections {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let timeout = request
            .headers()
            .get("grpc-timeout")
            .map(|v| v.to_str().expect("ASCII").to_owned());
        self.seen.lock().expect("lock").push(timeout);
        std::future::ready(Ok(
            tonic::Status::not_found("no such inspection").into_http()
        ))
    }
}

/// Parses a `grpc-timeout` as tonic writes it (nanoseconds, microseconds or
/// milliseconds for anything under a day).
fn parse_timeout(value: &str) -> Duration {
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().expect("digits");
    match unit {
        "n" => Duration::from_nanos(n),
        "u" => Duration::from_micros(n),
        "m" => Duration::from_millis(n),
        "S" => Duration::from_secs(n),
        other => panic!("unexpected unit {other:?} in {value:?}"),
    }
}

#[tokio::test]
async fn the_upstream_call_carries_what_is_left_of_the_callers_deadline() {
    // The issues service alone, its rounds service a stand-in that shows
    // what reaches it.
    let fake = FakeInspections::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let fake_addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let serving = tokio::spawn(
        Server::builder()
            .add_service(fake.clone())
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                stop.clone().cancelled_owned(),
            ),
    );
    let env = TestEnv::new("issues");
    let mut settings = env.settings.clone();
    settings.upstream.rounds = format!("http://{fake_addr}");
    let issues = fiveledger_issues::start(
        &settings,
        fiveledger_issues::IssuesSettings {
            follow_rounds_events: false,
            ..Default::default()
        },
        stop.child_token(),
    )
    .await
    .expect("issues starts");
    let mut client = ProblemServiceClient::connect(format!("http://{}", issues.addr))
        .await
        .expect("connect");
    let admin = testing::token("e2e", "", &[Role::Admin]);
    let request = |timeout| {
        let mut request = create_problem(XN, "p1", timeout);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {admin}").parse().expect("ASCII"),
        );
        request
    };

    let caller = Duration::from_secs(5);
    let status = client
        .create_problem(request(Some(caller)))
        .await
        .expect_err("the stand-in knows no inspection");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // Without a deadline of its caller's, the issues service sets none: its
    // channel's own timeout stays on its side.
    let status = client
        .create_problem(request(None))
        .await
        .expect_err("the stand-in knows no inspection");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let seen = fake.seen.lock().expect("lock").clone();
    assert_eq!(
        seen.len(),
        2,
        "one GetInspection per CreateProblem: {seen:?}"
    );
    let passed_on = parse_timeout(seen[0].as_deref().expect("a grpc-timeout upstream"));
    // What is left: less than the caller gave (time passed in the issues
    // service), but not gone.
    assert!(
        passed_on < caller && passed_on > caller - Duration::from_secs(2),
        "{passed_on:?}"
    );
    assert_eq!(seen[1], None, "no caller deadline, none passed on");

    issues.stop().await.expect("issues stops");
    stop.cancel();
    serving.await.expect("joins").expect("serves");
}
