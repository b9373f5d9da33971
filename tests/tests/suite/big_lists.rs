//! The largest legal lists flow through every consumer: a 5,000-row import
//! (the default `max_import_rows`), with some rows at the longest every
//! field allows, is frozen in bounded events, each deliverable over a
//! stream with the standard 4 MiB limit; the ledger opens exactly one entry
//! per problem, and a list frozen after it is not held up.

use std::collections::HashSet;
use std::time::Duration;

use fiveledger_e2e::{TestSuite, date, eventually, spawn_suite, tokens};
use fiveledger_platform::outbox::MAX_EVENT_BYTES;
use fiveledger_platform::testing::authed;
use fiveledger_proto::issues::{self};
use fiveledger_proto::ledgers;
use fiveledger_proto::types;
use fiveledger_proto::types::Severity;
use futures::StreamExt;
use prost::Message;

const BIG: &str = "rounds/r1/inspections/xn";
const SMALL: &str = "rounds/r1/inspections/qx";
const ROWS: usize = 5000;
/// Rows with every text at its longest and every list full.
const LONGEST_ROWS: usize = 20;

/// Row `n` of the import: an ordinary row with a long description, or
/// (the first [`LONGEST_ROWS`]) one at every limit, in four-byte characters
/// where text is free.
fn row(n: usize) -> issues::Problem {
    let longest = n < LONGEST_ROWS;
    let (title, description) = if longest {
        ("𠀀".repeat(200), "𠀀".repeat(10_000))
    } else {
        (
            format!("问题 {n}：专项资金管理不规范"),
            "经查，该单位专项资金拨付未按规定程序审批，台账记录不完整。".repeat(40),
        )
    };
    issues::Problem {
        category: "party-leadership".into(),
        severity: Severity::Major as i32,
        title,
        description,
        evidence: (0..if longest { 50 } else { 2 })
            .map(|e| types::Evidence {
                document: if longest {
                    format!("{e:03}{}", "𠀀".repeat(253))
                } else {
                    format!("{n}-{e}-谈话记录.pdf")
                },
                sha256: "ab".repeat(32),
            })
            .collect(),
        fixed_on_the_spot: longest.then(|| issues::FixedOnTheSpot {
            date: Some(date(2026, 3, 20)),
            action: "𠀀".repeat(2_000),
        }),
        responsibilities: Some(issues::Responsibilities {
            principal: if longest {
                "𠀀".repeat(64)
            } else {
                "区委书记 张三".into()
            },
            leader_in_charge: if longest {
                "𠀀".repeat(64)
            } else {
                "分管副区长 李四".into()
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Imports [`ROWS`] rows into the big inspection, in stream messages well
/// under the request limit.
async fn import_big_list(t: &TestSuite) {
    let rows: Vec<issues::Problem> = (0..ROWS).map(row).collect();
    let messages: Vec<issues::ImportProblemsRequest> = rows
        .chunks(250)
        .enumerate()
        .map(|(i, chunk)| issues::ImportProblemsRequest {
            inspection: if i == 0 { BIG.into() } else { String::new() },
            problems: chunk.to_vec(),
            request_id: if i == 0 {
                "import-5000".into()
            } else {
                String::new()
            },
        })
        .collect();
    for m in &messages {
        assert!(m.encoded_len() < 4 * 1024 * 1024, "a message fits");
    }
    // The response lists every stored problem (tens of MB): read it with
    // the CLI's allowance.
    let response = t
        .problems()
        .max_decoding_message_size(256 * 1024 * 1024)
        .import_problems(authed(&tokens::office(), futures::stream::iter(messages)))
        .await
        .expect("the import")
        .into_inner();
    assert!(response.errors.is_empty(), "{:?}", &response.errors[..1]);
    assert_eq!(response.problems.len(), ROWS);
}

/// Every entry of `inspection`, read a thousand at a time.
async fn entries_of(t: &TestSuite, inspection: &str) -> Vec<ledgers::LedgerEntry> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = t
            .ledger()
            .max_decoding_message_size(64 * 1024 * 1024)
            .list_entries(authed(
                &tokens::admin(),
                ledgers::ListEntriesRequest {
                    page_size: 1000,
                    page_token: page_token.clone(),
                    filter: format!("inspection = \"{inspection}\""),
                    order_by: String::new(),
                },
            ))
            .await
            .expect("list entries")
            .into_inner();
        out.extend(page.entries);
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn a_five_thousand_row_import_flows_to_the_ledger_and_does_not_hold_up_later_lists() {
    let t = spawn_suite(Default::default()).await;
    t.two_stationed_inspections("r1", 1).await;
    import_big_list(&t).await;
    t.problem(
        &tokens::office(),
        SMALL,
        "p-small",
        "party-leadership",
        Severity::Minor,
        "小问题",
        "",
        "",
    )
    .await
    .expect("the small list's problem");

    // The big list is reported (and so frozen) first, the small one after.
    t.report(BIG, "li-leader", date(2026, 4, 10), date(2026, 5, 20))
        .await;
    t.report(SMALL, "sun-leader", date(2026, 4, 10), date(2026, 5, 21))
        .await;

    // Every event the issues service wrote is deliverable over a stream
    // with the standard limit (the client's default 4 MiB), and the frozen
    // big list came as numbered parts adding up to the whole list.
    let mut events =
        fiveledger_proto::issues::event_service_client::EventServiceClient::new(t.issues.clone())
            .watch_events(authed(
                &tokens::admin(),
                issues::WatchEventsRequest {
                    after_cursor: String::new(),
                    types: vec![],
                },
            ))
            .await
            .expect("watch")
            .into_inner();
    let mut frozen_parts = Vec::new();
    let mut imported = 0;
    let mut small_frozen = false;
    while !small_frozen {
        let response = tokio::time::timeout(Duration::from_secs(120), events.next())
            .await
            .expect("the events keep coming")
            .expect("the stream stays open")
            .expect("every event is delivered");
        assert!(response.encoded_len() <= MAX_EVENT_BYTES);
        let event = response.event.expect("event");
        let any = event.payload.expect("payload");
        match event.r#type.as_str() {
            "ProblemListFrozen" => {
                let part = issues::ProblemListFrozen::decode(any.value.as_slice()).expect("decode");
                if part.inspection == SMALL {
                    small_frozen = true;
                } else {
                    frozen_parts.push(part);
                }
            }
            "ProblemsImported" => {
                let part = issues::ProblemsImported::decode(any.value.as_slice()).expect("decode");
                assert_eq!(part.problem_count as usize, ROWS);
                imported += part.problems.len();
            }
            _ => {}
        }
    }
    assert_eq!(imported, ROWS, "the import's parts add up to it");
    let count = frozen_parts.len() as i32;
    assert!(count >= 10, "5,000 problems take several parts: {count}");
    for (i, part) in frozen_parts.iter().enumerate() {
        assert_eq!(part.part, i as i32 + 1);
        assert_eq!(part.part_count, count);
        assert_eq!(part.problem_count as usize, ROWS);
        assert!(part.report_date.is_some(), "each part is dated");
    }
    let frozen: Vec<&issues::Problem> = frozen_parts.iter().flat_map(|p| &p.problems).collect();
    let names: HashSet<&str> = frozen.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), ROWS, "each problem in exactly one part");
    assert!(frozen.iter().all(|p| p.frozen));

    // The list frozen after the big one reaches the ledger, and so does the
    // big list: exactly one entry per problem.
    let small = eventually(
        "the small list's entry",
        Duration::from_secs(180),
        || async {
            let entries = entries_of(&t, SMALL).await;
            (!entries.is_empty()).then_some(entries)
        },
    )
    .await;
    assert_eq!(small.len(), 1);
    let big = entries_of(&t, BIG).await;
    assert_eq!(big.len(), ROWS, "one entry per problem of the big list");
    let posted: HashSet<&str> = big.iter().map(|e| e.problem.as_str()).collect();
    assert_eq!(posted, names, "every problem posted once");
    let longest = big
        .iter()
        .filter(|e| e.title.chars().count() == 200)
        .count();
    assert_eq!(longest, LONGEST_ROWS, "the longest rows are posted whole");

    // The consumer is healthy: it applied everything and never stalled.
    let mut health = tonic_health::pb::health_client::HealthClient::new(t.ledgers.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "ledgers.problem-lists".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}
