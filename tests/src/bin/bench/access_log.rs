//! Clue reads with the access log on against off.

use std::sync::Arc;

use fiveledger_platform::auth::Role;
use fiveledger_platform::testing::{self, authed};

use crate::measure::{Report, measure};

/// Clues registered in each suite of the access log scenarios.
const BENCH_CLUES: usize = 60;

/// A suite with round 9's inspections stationed and [`BENCH_CLUES`] clues
/// on Xingning's, its access log on or off.
async fn clue_suite(
    log: bool,
    flush_ms: u64,
) -> anyhow::Result<(fiveledger_e2e::TestSuite, Vec<String>)> {
    use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
    use fiveledger_proto::issues::{Clue, CreateClueRequest};
    let suite = crate::bench_suite(Default::default(), |s| {
        s.access_log.enabled = log;
        s.access_log.flush_ms = flush_ms;
    })
    .await;
    suite.two_stationed_inspections("r9", 9).await;
    let office = fiveledger_e2e::tokens::office();
    let mut client = ClueServiceClient::new(suite.issues.clone());
    let mut names = Vec::with_capacity(BENCH_CLUES);
    for i in 0..BENCH_CLUES {
        let clue = client
            .create_clue(authed(
                &office,
                CreateClueRequest {
                    clue: Some(Clue {
                        inspection: "rounds/r9/inspections/xn".into(),
                        subject_name: format!("干部{i}"),
                        subject_post: "科长".into(),
                        summary: "反映问题线索".into(),
                        source: "来信来访".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
            ))
            .await?
            .into_inner();
        names.push(clue.name);
    }
    Ok((suite, names))
}

/// GetClue and ListClues (50 a page) as the city's office, with the access
/// log off (the baseline) and on, each on its own suite, measured in turn.
pub async fn access_log(n: usize, c: usize, flush_ms: u64) -> anyhow::Result<()> {
    use fiveledger_proto::access::VerifyAccessLogRequest;
    use fiveledger_proto::access::access_log_service_client::AccessLogServiceClient;
    use fiveledger_proto::issues::clue_service_client::ClueServiceClient;
    use fiveledger_proto::issues::{GetClueRequest, ListCluesRequest};
    let office = Arc::new(fiveledger_e2e::tokens::office());
    let (off, off_clues) = clue_suite(false, flush_ms).await?;
    let (on, on_clues) = clue_suite(true, flush_ms).await?;
    println!("access log flush_ms = {flush_ms}");
    let mut reports: Vec<Report> = Vec::new();
    for list in [false, true] {
        for (label, suite, clues) in [("off", &off, &off_clues), ("on", &on, &on_clues)] {
            let (ch, t, clues) = (
                suite.issues.clone(),
                office.clone(),
                Arc::new(clues.clone()),
            );
            let name = if list {
                format!("ListClues (50/page), access log {label}")
            } else {
                format!("GetClue, access log {label}")
            };
            let report = measure(name, n, c, move |i| {
                let mut client = ClueServiceClient::new(ch.clone());
                let (t, clues) = (t.clone(), clues.clone());
                async move {
                    if list {
                        let request = ListCluesRequest {
                            page_size: 50,
                            ..Default::default()
                        };
                        client.list_clues(authed(&t, request)).await.map(|_| ())
                    } else {
                        let request = GetClueRequest {
                            name: clues[i % clues.len()].clone(),
                        };
                        client.get_clue(authed(&t, request)).await.map(|_| ())
                    }
                }
            })
            .await;
            reports.push(report);
        }
    }
    for pair in reports.chunks(2) {
        pair[0].print(None);
        pair[1].print(Some(&pair[0]));
    }
    // Every read made it into the log, and the chain holds.
    let verified = AccessLogServiceClient::new(on.issues.clone())
        .verify_access_log(authed(
            &testing::token("bench-jw", "", &[Role::DisciplineCommission]),
            VerifyAccessLogRequest {},
        ))
        .await?
        .into_inner();
    println!(
        "access log after the run: {} records, valid: {}",
        verified.records, verified.valid
    );
    off.suite.stop().await?;
    on.suite.stop().await?;
    Ok(())
}
