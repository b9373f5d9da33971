//! The lists at scale: N problems and N ledger entries loaded straight into
//! the services' tables, then ListProblems and ListEntries with each
//! documented filter, 50 a page, walking page after page, as a viewer of the
//! whole tree and as the inspection office of one city (a tenth of it).
//!
//!     cargo run --release -p fiveledger-e2e --bin bench -- --requests 500 --list-rows 1000000

use std::sync::{Arc, Mutex};
use std::time::Instant;

use fiveledger_platform::auth::Role;
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::issues::ListProblemsRequest;
use fiveledger_proto::issues::problem_service_client::ProblemServiceClient;
use fiveledger_proto::ledgers::ledger_service_client::LedgerServiceClient;
use fiveledger_proto::ledgers::{EntryState, LedgerEntry, ListEntriesRequest};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::measure::measure;

/// Rows per INSERT … SELECT statement (and per transaction).
const CHUNK: usize = 100_000;

/// The city the scoped office runs; every filter below names something in
/// it, so that both callers list rows.
const CITY: &str = "bench/c3";

/// Loads `rows` problems and `rows` entries, then measures both lists.
pub async fn lists(
    suite: &fiveledger_e2e::TestSuite,
    rows: usize,
    n: usize,
    only: &[String],
) -> anyhow::Result<()> {
    let chosen = |label: &str| only.is_empty() || only.iter().any(|w| label.contains(w.as_str()));
    load_problems(suite, rows).await?;
    load_entries(suite, rows).await?;
    let viewer = Arc::new(testing::token("bench-viewer", "", &[Role::Viewer]));
    let office = Arc::new(testing::token(
        "bench-office",
        CITY,
        &[Role::InspectionOffice],
    ));
    for (who, token) in [("all", &viewer), ("city", &office)] {
        for order in ["name", "create_time"] {
            for &filter in PROBLEM_FILTERS {
                let (ch, t) = (suite.issues.clone(), token.clone());
                let label = format!("ListProblems {who} {order} {}", field(filter));
                if !chosen(&label) {
                    continue;
                }
                walk(label, n, move |page_token| {
                    let mut client = ProblemServiceClient::new(ch.clone());
                    let request = authed(
                        &t,
                        ListProblemsRequest {
                            page_size: 50,
                            page_token,
                            filter: filter.into(),
                            order_by: order.into(),
                        },
                    );
                    async move {
                        let page = client.list_problems(request).await?.into_inner();
                        Ok((page.problems.len(), page.next_page_token))
                    }
                })
                .await;
            }
        }
        for order in ["name", "due_date"] {
            for &filter in ENTRY_FILTERS {
                let (ch, t) = (suite.ledgers.clone(), token.clone());
                let label = format!("ListEntries {who} {order} {}", field(filter));
                if !chosen(&label) {
                    continue;
                }
                walk(label, n, move |page_token| {
                    let mut client = LedgerServiceClient::new(ch.clone());
                    let request = authed(
                        &t,
                        ListEntriesRequest {
                            page_size: 50,
                            page_token,
                            filter: filter.into(),
                            order_by: order.into(),
                        },
                    );
                    async move {
                        let page = client.list_entries(request).await?.into_inner();
                        Ok((page.entries.len(), page.next_page_token))
                    }
                })
                .await;
            }
        }
    }
    Ok(())
}

/// Each documented filter of ListProblems, on what [`load_problems`] wrote.
const PROBLEM_FILTERS: &[&str] = &[
    "",
    r#"inspection = "rounds/r1/inspections/u3""#,
    r#"round = "rounds/r7""#,
    "frozen = false",
    r#"category = "category-3""#,
    "severity = SEVERITY_SEVERE",
    r#"target_subtree = "bench/c3/x2""#,
    r#"responsible = "organisations/u3""#,
    r#"responsible = "organisations/c3-jw" AND responsibility = 3"#,
    r#"leader_in_charge = "leader 3""#,
    "list_state = PROBLEM_LIST_STATE_REPORTED",
];

/// Each documented filter of ListEntries, on what [`load_entries`] wrote.
const ENTRY_FILTERS: &[&str] = &[
    "",
    "state = ENTRY_STATE_RECTIFYING",
    "colour = WARNING_COLOUR_RED",
    r#"responsible_subtree = "bench/c3/x2""#,
    r#"target_subtree = "bench/c3""#,
    r#"round = "rounds/r7""#,
    r#"inspection = "rounds/r1/inspections/u3""#,
    r#"problem = "problems/p00000093""#,
    r#"category = "category-3""#,
    "severity = SEVERITY_SEVERE",
    r#"due_date < "2026-03-01""#,
    r#"due_date >= "2026-11-01""#,
];

/// The filter's first field and operator, for a label ("(none)" if empty).
fn field(filter: &str) -> String {
    let mut words = filter.split_whitespace();
    match (words.next(), words.next()) {
        (Some(name), Some(op)) if filter.contains("responsibility") => {
            format!("{name}{op}+responsibility")
        }
        (Some(name), Some(op)) => format!("{name}{op}"),
        _ => "(none)".into(),
    }
}

/// `n` calls one after another, each asking for the page after the last
/// one's (from the first again after the last page), so that deep pages are
/// measured too; prints the percentiles and the rows of the first page.
async fn walk<F, Fut>(label: String, n: usize, call: F)
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(usize, String), tonic::Status>> + Send + 'static,
{
    let call = Arc::new(call);
    let first = call(String::new()).await.map(|(rows, _)| rows);
    let token = Arc::new(Mutex::new(String::new()));
    let report = measure(label, n, 1, move |_| {
        let (call, token) = (call.clone(), token.clone());
        async move {
            let current = token.lock().expect("token").clone();
            let (_, next) = call(current).await?;
            *token.lock().expect("token") = next;
            Ok(())
        }
    })
    .await;
    report.print(None);
    match first {
        Ok(rows) if rows < 50 => println!("    (first page: {rows} rows)"),
        Ok(_) => {}
        Err(status) => println!("    (refused: {})", status.message()),
    }
}

/// The service's own database, opened as the bench's suite configured it.
pub(crate) async fn open(suite: &fiveledger_e2e::TestSuite, service: &str) -> anyhow::Result<Db> {
    let settings = settings(suite, service);
    Db::connect(&settings.database, &sqlite_file(&settings, service)).await
}

/// The service's settings in the bench's suite.
pub(crate) fn settings(
    suite: &fiveledger_e2e::TestSuite,
    service: &str,
) -> fiveledger_platform::settings::ServerSettings {
    fiveledger::service_settings(
        &suite.env.settings,
        service,
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
}

/// The file of the service's SQLite database (when it is on SQLite).
pub(crate) fn sqlite_file(
    settings: &fiveledger_platform::settings::ServerSettings,
    service: &str,
) -> std::path::PathBuf {
    settings.data_dir.join(format!("{service}.sqlite"))
}

/// The SQL for one backend: rows numbered `i` from `lo` to `hi` (excluded),
/// `i` zero-padded to eight digits, and a timestamp `seconds` after the epoch.
struct Sql(DbBackend);

impl Sql {
    fn numbers(&self, lo: usize, hi: usize) -> String {
        match self.0 {
            DbBackend::Postgres => format!("generate_series({lo}::bigint, {}) AS s(i)", hi - 1),
            _ => format!(
                "(WITH RECURSIVE s(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {hi}) SELECT i FROM s) AS s"
            ),
        }
    }

    fn pad(&self, expr: &str, width: usize) -> String {
        match self.0 {
            DbBackend::Postgres => format!("lpad(({expr})::text, {width}, '0')"),
            _ => format!("substr('{}' || ({expr}), -{width})", "0".repeat(width)),
        }
    }

    fn timestamp(&self, seconds: &str) -> String {
        match self.0 {
            DbBackend::Postgres => format!("to_timestamp({seconds})"),
            // As sqlx writes a whole-second UTC time.
            _ => format!("strftime('%Y-%m-%dT%H:%M:%S+00:00', {seconds}, 'unixepoch')"),
        }
    }

    fn date(&self, text: &str) -> String {
        match self.0 {
            DbBackend::Postgres => format!("DATE '{text}'"),
            _ => format!("'{text}'"),
        }
    }

    fn blob(&self) -> &'static str {
        match self.0 {
            DbBackend::Postgres => "$1",
            _ => "?",
        }
    }
}

/// The organisation tree the rows hang in: 2,000 units, `unit` of row `i`,
/// under 10 cities × 10 counties (as [`crate::ledger::load_ledger`] spreads
/// its entries), each city with its discipline commission (`jw`) and five
/// functional departments.
const UNIT: &str = "((i / 7) % 2000)";

fn target_path() -> String {
    format!("'bench/c' || ({UNIT} % 10) || '/x' || (({UNIT} / 10) % 10) || '/u' || ({UNIT} / 100)")
}

fn city_path() -> String {
    format!("'bench/c' || ({UNIT} % 10)")
}

/// Loads `rows` problems straight into the issues database: twelve rounds
/// (the first six run by the region, the others by each city), one
/// inspection per round and unit, 8 categories, 3 severities, a leader in
/// charge on half, one in ten not yet frozen; one list per inspection: that
/// of round 11 still open (not handed over), round 10 reported, the others
/// frozen.
async fn load_problems(suite: &fiveledger_e2e::TestSuite, rows: usize) -> anyhow::Result<()> {
    let db = open(suite, "issues").await?;
    let sql = Sql(db.backend());
    let started = Instant::now();
    let target = target_path();
    let city = city_path();
    let time = sql.timestamp(&format!("1767225600 + (i * 7919) % {rows}"));
    // The lists first, as the service records them (a list row is locked
    // before its first problem): each problem then takes its list's facts
    // as it is inserted (the triggers of the issues migrations).
    let r = "CAST(SUBSTR(round, 9) AS INTEGER)";
    let handed_over = sql.date("2026-03-01");
    db.writer()
        .execute_unprepared(&format!(
            "INSERT INTO problem_lists (inspection, round, target, target_path, \
               round_organisation_path, state, revision, report_time, freeze_time, update_time, \
               feedback_date) \
             SELECT inspection, round, target, target_path, \
               CASE WHEN {r} < 6 THEN 'bench' ELSE SUBSTR(target_path, 1, 8) END, \
               CASE {r} WHEN 11 THEN 'PROBLEM_LIST_STATE_OPEN' WHEN 10 THEN 'PROBLEM_LIST_STATE_REPORTED' \
                 ELSE 'PROBLEM_LIST_STATE_FROZEN' END, \
               1, NULL, NULL, MIN(create_time), \
               CASE WHEN {r} = 11 THEN NULL ELSE {handed_over} END \
             FROM (SELECT 'rounds/r' || (i % 12) || '/inspections/u' || {UNIT} AS inspection, \
                 'rounds/r' || (i % 12) AS round, 'organisations/u' || {UNIT} AS target, \
                 {target} AS target_path, {time} AS create_time \
               FROM {numbers}) AS p \
             GROUP BY inspection, round, target, target_path",
            numbers = sql.numbers(0, rows),
        ))
        .await?;
    for lo in (0..rows).step_by(CHUNK) {
        let hi = (lo + CHUNK).min(rows);
        let txn = db.begin().await?;
        txn.execute_unprepared(&format!(
            "INSERT INTO problems (id, inspection, round, target, target_path, category, \
               severity, title, description, evidence, fixed_date, fixed_action, main_unit, \
               main_unit_path, principal, leader_in_charge, supervising_body, \
               supervising_body_path, supervising_body_routed, functional_department, \
               functional_department_path, recorded_by, frozen, revision, create_time, \
               update_time) \
             SELECT 'p' || {id}, 'rounds/r' || (i % 12) || '/inspections/u' || {UNIT}, \
               'rounds/r' || (i % 12), 'organisations/u' || {UNIT}, {target}, \
               'category-' || (i % 8), \
               CASE i % 3 WHEN 0 THEN 'PROBLEM_SEVERITY_MINOR' WHEN 1 THEN 'PROBLEM_SEVERITY_MAJOR' \
                 ELSE 'PROBLEM_SEVERITY_SEVERE' END, \
               '问题 ' || i, '', '[]', NULL, '', 'organisations/u' || {UNIT}, {target}, '负责人', \
               CASE WHEN i % 2 = 0 THEN 'leader ' || {UNIT} ELSE '' END, \
               'organisations/c' || ({UNIT} % 10) || '-jw', {city} || '/jw', (1 = 1), \
               'organisations/c' || ({UNIT} % 10) || '-fd' || (i % 5), {city} || '/fd' || (i % 5), \
               'bench', ((i / 13) % 10) <> 0, 1, {time}, {time} \
             FROM {numbers}",
            id = sql.pad("i", 8),
            numbers = sql.numbers(lo, hi),
        ))
        .await?;
        db.commit(txn).await?;
    }
    crate::ledger::settle(&db).await?;
    println!(
        "loaded {rows} problems in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Loads `rows` ledger entries straight into the ledger's projection (what
/// ListEntries reads; no postings behind them, unlike
/// [`crate::ledger::load_ledger`], which takes far longer at a million):
/// the problems' tree, rounds and categories, 93 in 100 written off, the
/// rest spread over the open states, due dates over 2026. Every row holds
/// the same snapshot: decoding costs the same, names read wrong.
async fn load_entries(suite: &fiveledger_e2e::TestSuite, rows: usize) -> anyhow::Result<()> {
    use prost::Message;
    let db = open(suite, "ledgers").await?;
    let sql = Sql(db.backend());
    let started = Instant::now();
    let snapshot = LedgerEntry {
        name: "entries/e00000000".into(),
        problem: "problems/p00000000".into(),
        state: EntryState::Rectifying as i32,
        title: "问题".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let target = target_path();
    let city = city_path();
    let state = format!(
        "CASE WHEN i % 100 < 93 THEN '{}' ELSE CASE i % 100 {} ELSE '{}' END END",
        EntryState::WrittenOff.as_str_name(),
        [
            EntryState::HandedOver,
            EntryState::Acknowledged,
            EntryState::Planned,
            EntryState::Rectifying,
            EntryState::Transferred,
            EntryState::AwaitingVerification,
        ]
        .iter()
        .enumerate()
        .map(|(k, s)| format!("WHEN {} THEN '{}'", 93 + k, s.as_str_name()))
        .collect::<Vec<_>>()
        .join(" "),
        EntryState::Open.as_str_name(),
    );
    let due = format!(
        "'2026-' || {} || '-' || {}",
        sql.pad("1 + (i / 100) % 12", 2),
        sql.pad("1 + (i / 1200) % 28", 2)
    );
    for lo in (0..rows).step_by(CHUNK) {
        let hi = (lo + CHUNK).min(rows);
        let txn = db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            db.backend(),
            format!(
                "INSERT INTO entries (id, problem, inspection, round, target_path, \
                   round_organisation_path, responsible_unit_path, supervising_body_path, \
                   receiving_body_path, category, severity, state, due_date, original_due_date, \
                   posting_count, journal_head, snapshot, create_time_us, update_time_us, \
                   fixed_on_the_spot, transfer_count, reopen_count, first_written_off_date, \
                   funds_recovered_fen, losses_recovered_fen, people_held_accountable, \
                   people_disciplined, rules_established, colour_floor, yellow_count, \
                   next_due_date, attention) \
                 SELECT 'le' || {id}, 'problems/p' || {id}, \
                   'rounds/r' || (i % 12) || '/inspections/u' || {UNIT}, 'rounds/r' || (i % 12), \
                   {target}, CASE WHEN i % 12 < 6 THEN 'bench' ELSE {city} END, {target}, \
                   {city} || '/jw', '', 'category-' || (i % 8), 1 + i % 3, {state}, {due}, {due}, \
                   2, '', {blob}, 0, 0, 0, 0, 0, \
                   CASE WHEN i % 100 < 93 THEN '2026-02-15' ELSE '' END, 0, 0, 0, 0, 0, 0, 0, \
                   CASE WHEN i % 100 < 93 THEN '' ELSE {due} END, 0 \
                 FROM {numbers}",
                id = sql.pad("i", 8),
                blob = sql.blob(),
                numbers = sql.numbers(lo, hi),
            ),
            [snapshot.clone().into()],
        ))
        .await?;
        db.commit(txn).await?;
    }
    crate::ledger::settle(&db).await?;
    println!(
        "loaded {rows} ledger entries (projection only) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
