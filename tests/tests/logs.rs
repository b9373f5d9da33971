//! JSON logs as log tools read them: one request line per call at info
//! (method, code, duration, caller), each line with the `trace_id` and
//! `span_id` of its span at the top level, and a failed dependency named
//! as `upstream`, not as the service that logged.

use std::time::Duration;

use fiveledger_e2e::spawn_suite;
use fiveledger_platform::auth::Role;
use fiveledger_platform::settings::LogSettings;
use fiveledger_platform::telemetry::{self, LogLines};
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{GetOrganisationRequest, ListOrganisationsRequest};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;

fn requests<'a>(lines: &'a [Value], method: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["message"] == "request" && l["method"] == method)
        .collect()
}

#[tokio::test]
async fn each_call_logs_one_request_line_with_its_trace() {
    let lines = LogLines::default();
    let _telemetry = telemetry::init_with_writer(
        &LogSettings {
            format: "json".into(),
            filter: "info".into(),
            ..Default::default()
        },
        SdkTracerProvider::builder().build(),
        lines.clone(),
    );
    let t = spawn_suite(Default::default()).await;
    let token = testing::token("auditor-7", "", &[Role::Admin]);
    let mut orgs = OrganisationServiceClient::new(t.rounds.clone());
    orgs.list_organisations(authed(&token, ListOrganisationsRequest::default()))
        .await
        .expect("list");
    orgs.get_organisation(authed(
        &token,
        GetOrganisationRequest {
            name: "organisations/nowhere".into(),
        },
    ))
    .await
    .expect_err("no such organisation");

    let list = "fiveledger.rounds.v1.OrganisationService/ListOrganisations";
    let get = "fiveledger.rounds.v1.OrganisationService/GetOrganisation";
    // The line is written when the trailers leave, a moment after the answer.
    let logged = fiveledger_e2e::eventually("both calls logged", Duration::from_secs(5), || {
        let logged = lines.json();
        async move {
            (!requests(&logged, list).is_empty() && !requests(&logged, get).is_empty())
                .then_some(logged)
        }
    })
    .await;
    for (method, code) in [(list, "OK"), (get, "NotFound")] {
        let found = requests(&logged, method);
        assert_eq!(found.len(), 1, "one request line per call: {found:?}");
        let line = found[0];
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["code"], code, "{line}");
        assert_eq!(line["caller"], "auditor-7", "{line}");
        assert!(
            line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
            "{line}"
        );
        let trace_id = line["trace_id"].as_str().expect("trace_id at the top");
        assert_eq!(trace_id.len(), 32, "{line}");
        assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
        // The service that logged is the one that served.
        let spans = line["spans"].as_array().expect("spans");
        assert_eq!(spans[0]["service"], "rounds", "{line}");
        assert_eq!(spans[0]["trace_id"], trace_id, "{line}");
    }

    // Rounds stops: issues logs the dependency it misses as `upstream`.
    t.suite.rounds.stop_token().cancel();
    let request = || {
        authed(
            &token,
            fiveledger_e2e::create_problem_in("rounds/r1/inspections/i1"),
        )
    };
    fiveledger_e2e::eventually(
        "issues finds rounds unavailable",
        Duration::from_secs(10),
        || async {
            let err = ProblemServiceClient::new(t.issues.clone())
                .create_problem(request())
                .await
                .expect_err("rounds is stopping");
            (err.code() == tonic::Code::Unavailable).then_some(())
        },
    )
    .await;
    let logged = lines.json();
    let missed = logged
        .iter()
        .find(|l| l["message"] == "dependency unavailable")
        .expect("a dependency unavailable line");
    assert_eq!(missed["upstream"], "rounds", "{missed}");
    assert!(missed.get("service").is_none(), "{missed}");
    assert_eq!(missed["spans"][0]["service"], "issues", "{missed}");
    assert!(missed["trace_id"].is_string(), "{missed}");
    let failed = requests(&logged, "fiveledger.issues.v1.ProblemService/CreateProblem");
    assert!(
        failed.iter().any(|l| l["code"] == "Unavailable"),
        "{failed:?}"
    );
    t.suite.stop().await.expect("stops");
}
