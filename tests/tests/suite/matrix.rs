//! The trust matrix (issue #12): every RPC of the API, derived from the
//! descriptor set, called as every caller — each role for its own county,
//! the sibling county, the city above (the level and its body), a township
//! below and a unit — with requests aimed at county A's data (and the
//! city's round about A), against a fixture with data in every scope. Each
//! answer is held to the table in `matrix/expectations.rs`: no data of a
//! scope shown outside it (lists hold exactly what the caller may see), no
//! change made out of scope (and, while the matrix runs, none at all: the
//! outbox and the books are compared before and after), no INTERNAL or
//! UNKNOWN, and out of scope answered exactly as a name that does not
//! exist. Runs on SQLite, and on PostgreSQL with
//! `FIVELEDGER_TEST_DATABASE_URL`.

#[path = "matrix/call.rs"]
mod call;
#[path = "matrix/expectations.rs"]
mod expectations;
#[path = "matrix/fixture.rs"]
mod fixture;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use fiveledger::Domains;
use fiveledger_e2e::{TestSuite, spawn_suite};
use fiveledger_platform::testing::authed;
use fiveledger_proto::{issues, ledgers};
use futures::StreamExt;
use prost::Message;
use sea_orm::{EntityTrait, PaginatorTrait};
use tonic::Code;

use call::{Answer, Channels, Reply, twin_of};
use expectations::{Case, Outcome, Who};

/// Calls in flight at once.
const CONCURRENCY: usize = 32;

/// Every RPC of the API, as `/package.Service/Method`.
fn api() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(fiveledger_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    set.file
        .iter()
        .flat_map(|file| {
            file.service.iter().flat_map(move |service| {
                service
                    .method
                    .iter()
                    .map(move |m| format!("/{}.{}/{}", file.package(), service.name(), m.name()))
            })
        })
        .collect()
}

/// What went wrong in one cell, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    CrossScopeRead,
    CrossScopeWrite,
    Internal,
    Unknown,
    Oracle,
    Unexpected,
}

struct Finding {
    kind: Kind,
    text: String,
}

fn show(result: &Result<Reply, tonic::Status>) -> String {
    match result {
        Ok(reply) if reply.is_empty() => "OK".into(),
        Ok(reply) => format!(
            "OK [{}]",
            reply.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        Err(s) => {
            let a = Answer::of(s, "");
            format!("{:?} {}: {}", a.code, a.reason, a.message)
        }
    }
}

fn reason(status: &tonic::Status) -> String {
    Answer::of(status, "").reason
}

/// Runs one cell and judges its answer; None when it is as expected.
async fn judge(
    channels: Channels,
    rpc: &'static str,
    case: &Case,
    who: &Who,
    expected: &Outcome,
) -> Option<Finding> {
    let result = (case.call)(channels.clone(), case.name.clone(), who.token.clone()).await;
    let finding = |kind: Kind, got: String| {
        Some(Finding {
            kind,
            text: format!(
                "{rpc} [{}] as {}: expected {}, got {got}",
                case.label,
                who.label,
                expectations::describe_outcome(expected)
            ),
        })
    };
    if let Err(s) = &result {
        match s.code() {
            Code::Internal => return finding(Kind::Internal, show(&result)),
            Code::Unknown => return finding(Kind::Unknown, show(&result)),
            _ => {}
        }
    }
    // Served where it should have been refused: a read shows data, any
    // other step may have changed something.
    let method = rpc.rsplit('/').next().unwrap_or(rpc);
    let reads = ["Get", "BatchGet", "List", "Watch"]
        .iter()
        .any(|verb| method.starts_with(verb));
    let leak = if reads {
        Kind::CrossScopeRead
    } else {
        Kind::CrossScopeWrite
    };
    match (expected, &result) {
        (Outcome::Ok | Outcome::Performs, Ok(_)) => None,
        (Outcome::Listed(want), Ok(got)) if want == got => None,
        (Outcome::Listed(want), Ok(got)) => {
            let extra: Vec<_> = got.difference(want).cloned().collect();
            let kind = if extra.is_empty() {
                Kind::Unexpected
            } else {
                Kind::CrossScopeRead
            };
            finding(kind, show(&result))
        }
        (Outcome::Denied, Err(s))
            if s.code() == Code::PermissionDenied && reason(s) == "PERMISSION_DENIED" =>
        {
            None
        }
        (Outcome::Refused(r), Err(s)) if s.code() == Code::PermissionDenied && reason(s) == *r => {
            None
        }
        (Outcome::Fails(code, r), Err(s)) if s.code() == *code && reason(s) == *r => None,
        (Outcome::Unknown(code, r), Err(s)) if s.code() == *code && reason(s) == *r => {
            let twin_name = twin_of(&case.name);
            let twin = (case.call)(channels, twin_name.clone(), who.token.clone()).await;
            match twin {
                Err(t) if Answer::of(s, &case.name) == Answer::of(&t, &twin_name) => None,
                twin => finding(
                    Kind::Oracle,
                    format!(
                        "{} — but for {twin_name} (which does not exist): {}",
                        show(&result),
                        show(&twin)
                    ),
                ),
            }
        }
        (Outcome::Denied | Outcome::Refused(_) | Outcome::Unknown(..), Ok(_)) => {
            finding(leak, show(&result))
        }
        _ => finding(Kind::Unexpected, show(&result)),
    }
}

/// What changes when anything changes: every service's outbox, and the
/// books as the operator reads them.
async fn state(t: &TestSuite) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for service in ["rounds", "issues", "ledgers"] {
        let db = t.service_db(service).await;
        let events = fiveledger_platform::outbox::Entity::find()
            .count(db.reader())
            .await
            .expect("outbox");
        out.insert(format!("{service} outbox events"), events.to_string());
    }
    let admin = fixture::admin();
    for e in t.list_entries(&admin, "").await.expect("entries") {
        out.insert(e.name, format!("{} postings, {}", e.posting_count, e.etag));
    }
    for p in t.list_problems(&admin, "").await.expect("problems") {
        out.insert(p.name, p.etag);
    }
    let clues = issues::clue_service_client::ClueServiceClient::new(t.issues.clone())
        .list_clues(authed(
            &admin,
            issues::ListCluesRequest {
                page_size: 1000,
                ..Default::default()
            },
        ))
        .await
        .expect("clues")
        .into_inner();
    for c in clues.clues {
        out.insert(c.name, c.etag);
    }
    let publications = t
        .publications()
        .list_publications(authed(
            &admin,
            ledgers::ListPublicationsRequest {
                page_size: 1000,
                ..Default::default()
            },
        ))
        .await
        .expect("publications")
        .into_inner();
    out.insert(
        "publications".into(),
        publications.publications.len().to_string(),
    );
    out
}

fn differences(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k}: {:?} → {:?}", before.get(k), after.get(k)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rpc_as_every_caller_reaches_exactly_its_own_part_of_the_books() {
    let started = Instant::now();
    let mut domains = Domains::default();
    // Nothing sweeps on its own while the matrix watches for changes.
    domains.rounds.sweep_interval_seconds = 0;
    domains.ledgers.sweep_interval_seconds = 0;
    // Nor is back-tracking flagged behind its back (the rows expect none).
    domains.issues.recurrence_check_interval_ms = 0;
    // Hand-offs fed back ten days ago are not yet due for a colour.
    domains.rounds.hand_off_acknowledgement_days = 60;
    let t = spawn_suite(domains).await;
    let world = Arc::new(fixture::build(&t).await);
    let fixture_time = started.elapsed();

    // Every RPC has a row, every row an RPC.
    let rows = expectations::rows(&world);
    let covered: BTreeSet<String> = rows.iter().map(|r| r.rpc.to_owned()).collect();
    let api = api();
    let missing: Vec<_> = api.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&api).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "RPCs without a row in the matrix: {missing:?}; rows for RPCs that do not exist: {stale:?}"
    );
    assert_eq!(covered.len(), rows.len(), "one row per RPC");
    for row in &rows {
        assert!(!row.cases.is_empty(), "{}: no case", row.rpc);
    }

    let callers = expectations::callers();
    let mut cells = Vec::new();
    for row in &rows {
        for case in &row.cases {
            for who in &callers {
                let expected = if who.passes_gate(row.rpc) {
                    (case.expect)(who)
                } else {
                    Outcome::Denied
                };
                cells.push((row.rpc, case, who, expected));
            }
        }
    }
    let channels = Channels {
        rounds: t.rounds.clone(),
        issues: t.issues.clone(),
        ledgers: t.ledgers.clone(),
    };

    // Phase 1: everything but the steps that change the books, at once.
    let before = state(&t).await;
    let matrix_started = Instant::now();
    let (now, later): (Vec<_>, Vec<_>) = cells
        .iter()
        .partition(|(_, _, _, expected)| *expected != Outcome::Performs);
    let mut findings: Vec<Finding> = futures::stream::iter(
        now.iter()
            .map(|(rpc, case, who, expected)| judge(channels.clone(), rpc, case, who, expected)),
    )
    .buffer_unordered(CONCURRENCY)
    .filter_map(|f| async move { f })
    .collect()
    .await;
    let phase_one = matrix_started.elapsed();
    let after = state(&t).await;
    for change in differences(&before, &after) {
        findings.push(Finding {
            kind: Kind::CrossScopeWrite,
            text: format!("changed while no call should change anything: {change}"),
        });
    }

    // Phase 2: the steps the callers may take that change the books, one
    // at a time (each must succeed).
    for (rpc, case, who, expected) in &later {
        if let Some(f) = judge(channels.clone(), rpc, case, who, expected).await {
            findings.push(f);
        }
    }

    let mut by_outcome: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, _, expected) in &cells {
        let key = match expected {
            Outcome::Ok | Outcome::Listed(_) => "served",
            Outcome::Denied => "denied",
            Outcome::Refused(_) => "refused by rule",
            Outcome::Fails(..) => "passed scope, refused by state",
            Outcome::Unknown(..) => "as unknown",
            Outcome::Performs => "performed",
        };
        *by_outcome.entry(key).or_default() += 1;
    }
    let cases: usize = rows.iter().map(|r| r.cases.len()).sum();
    println!(
        "matrix on {}: {} RPCs ({} cases) × {} callers = {} cells ({:?}); fixture {:.1?}, phase one {:.1?}, total {:.1?}",
        fiveledger_platform::testing::backend(),
        rows.len(),
        cases,
        callers.len(),
        cells.len(),
        by_outcome,
        fixture_time,
        phase_one,
        started.elapsed()
    );
    findings.sort_by(|a, b| (a.kind, &a.text).cmp(&(b.kind, &b.text)));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for f in &findings {
        *counts.entry(format!("{:?}", f.kind)).or_default() += 1;
    }
    let shown: Vec<String> = findings
        .iter()
        .take(400)
        .map(|f| format!("{:?}: {}", f.kind, f.text))
        .collect();
    t.suite.stop().await.expect("stops");
    assert!(
        findings.is_empty(),
        "{} findings ({counts:?}):\n{}",
        findings.len(),
        shown.join("\n")
    );
}
