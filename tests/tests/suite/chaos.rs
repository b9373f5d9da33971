//! Chaos: the three services run as separate processes (the binaries the
//! container image runs), and each is killed with SIGKILL a few times while
//! clients keep writing, each write retried with its request id until it is
//! answered. Afterwards nothing acknowledged is lost and nothing is doubled,
//! every frozen problem has exactly one ledger entry, the journal verifies
//! and the books reconcile. Bounded for every CI run (a kill of each
//! service in each phase); `FIVELEDGER_CHAOS_KILLS=N` makes a longer soak.
//! On SQLite and, with `FIVELEDGER_TEST_DATABASE_URL`, on PostgreSQL.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fiveledger_e2e::{Clients, date, eventually, tokens};
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::issues::{self};
use fiveledger_proto::ledgers::*;
use fiveledger_proto::rounds::{self, RoundKind};
use fiveledger_proto::types::Severity;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const R9: &str = "rounds/r9";
const INSPECTIONS: [(&str, &str, &str, &str, &str, &str); 2] = [
    ("xn", "xingning", "g1", "li", "wang", "li-leader"),
    ("qx", "qingxiu", "g2", "sun", "zhao", "sun-leader"),
];

/// One service binary, started and killed by the test.
struct Process {
    name: &'static str,
    port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

/// Where cargo put the service binaries (beside this test's own folder).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target folder");
    let path = dir.join(format!("fiveledger-{name}"));
    assert!(
        path.exists(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build -p fiveledger-{name}`)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Process {
    fn start(&mut self) {
        let mut command = Command::new(binary(self.name));
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("FIVELEDGER_LISTEN", format!("127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(command.spawn().expect("the service starts"));
    }

    /// SIGKILL: no drain, no shutdown, whatever was in flight is cut.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn serving(&self) {
        let url = format!("http://127.0.0.1:{}", self.port);
        eventually(
            &format!("{} serving", self.name),
            Duration::from_secs(60),
            || {
                let url = url.clone();
                let name = self.name;
                async move {
                    let channel = Channel::from_shared(url).ok()?.connect().await.ok()?;
                    let status = HealthClient::new(channel)
                        .check(HealthCheckRequest {
                            service: name.into(),
                        })
                        .await
                        .ok()?
                        .into_inner()
                        .status;
                    (status == 1).then_some(())
                }
            },
        )
        .await;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The three services of one fresh suite, each in its own process.
struct Suite {
    processes: Vec<Process>,
    clients: Clients,
    _data: tempfile::TempDir,
}

impl Suite {
    async fn start() -> Self {
        let data = tempfile::tempdir().expect("data folder");
        let ports = [free_port(), free_port(), free_port()];
        let url = |p: u16| format!("http://127.0.0.1:{p}");
        let schema = format!("t_chaos_{}", uuid_like());
        let mut processes: Vec<Process> = ["rounds", "issues", "ledgers"]
            .into_iter()
            .zip(ports)
            .map(|(name, port)| {
                let mut env = vec![
                    (
                        "FIVELEDGER_DATA_DIR".into(),
                        data.path().display().to_string(),
                    ),
                    (
                        "FIVELEDGER_AUTH__SECRET".into(),
                        testing::TEST_SECRET.into(),
                    ),
                    (
                        "FIVELEDGER_AUTH__SERVICE_KEY_FILE".into(),
                        fiveledger_platform::service_identity::key_file(
                            testing::service_keys(),
                            name,
                        )
                        .display()
                        .to_string(),
                    ),
                    (
                        "FIVELEDGER_AUTH__SERVICE_KEYS_DIR".into(),
                        testing::service_keys().display().to_string(),
                    ),
                    ("FIVELEDGER_UPSTREAM__ROUNDS".into(), url(ports[0])),
                    ("FIVELEDGER_UPSTREAM__ISSUES".into(), url(ports[1])),
                    ("FIVELEDGER_UPSTREAM__LEDGERS".into(), url(ports[2])),
                    ("FIVELEDGER_LOG__FILTER".into(), "warn".into()),
                    // Only the sweeps the test asks for.
                    (
                        "FIVELEDGER_LEDGERS__SWEEP_INTERVAL_SECONDS".into(),
                        "0".into(),
                    ),
                    (
                        "FIVELEDGER_ROUNDS__SWEEP_INTERVAL_SECONDS".into(),
                        "0".into(),
                    ),
                ];
                if let Some(pg) = testing::postgres_url() {
                    env.push(("FIVELEDGER_DATABASE__URL".into(), pg));
                    env.push((
                        "FIVELEDGER_DATABASE__SCHEMA".into(),
                        format!("{schema}_{name}"),
                    ));
                }
                Process {
                    name,
                    port,
                    env,
                    child: None,
                }
            })
            .collect();
        for p in &mut processes {
            p.start();
        }
        for p in &processes {
            p.serving().await;
        }
        let lazy = |p: u16| {
            Channel::from_shared(url(p))
                .expect("url")
                .timeout(Duration::from_secs(10))
                .connect_lazy()
        };
        Self {
            clients: Clients {
                rounds: lazy(ports[0]),
                issues: lazy(ports[1]),
                ledgers: lazy(ports[2]),
            },
            processes,
            _data: data,
        }
    }
}

fn uuid_like() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_nanos()
    )
}

/// Whether a failed call may be retried with the same request id: the
/// service (or one it asked) was down, or the connection was cut.
fn transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
    )
}

/// Calls until answered, retrying transient failures as a client would.
async fn until_answered<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    for _ in 0..600 {
        match call().await {
            Ok(answer) => return answer,
            Err(status) if transient(&status) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("{what}: {status:?}"),
        }
    }
    panic!("{what}: never answered");
}

/// Kills each service in turn, `rounds` of them, while `busy` holds.
async fn killer(processes: &mut [Process], rounds: usize, busy: Arc<AtomicBool>) -> usize {
    let mut kills = 0;
    'outer: for _ in 0..rounds {
        for p in processes.iter_mut() {
            if !busy.load(Ordering::Relaxed) {
                break 'outer;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
            p.kill();
            kills += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            p.start();
            p.serving().await;
        }
    }
    kills
}

async fn stationed(c: &Clients) {
    c.city().await;
    for (_, _, _, leader, member, subject) in INSPECTIONS {
        let home = if member == "wang" {
            "nanning-jw"
        } else {
            "nanning-zzb"
        };
        c.inspector(leader, subject, "nanning-xcban", vec![]).await;
        c.inspector(member, &format!("{member}-x"), home, vec![])
            .await;
    }
    c.started_round(
        "r9",
        RoundKind::Regular,
        9,
        &[],
        (date(2026, 3, 1), date(2026, 6, 30)),
    )
    .await;
    for (id, target, group, leader, member, subject) in INSPECTIONS {
        let g = c.group(R9, group, leader, &[member]).await.expect("group");
        let i = c.inspection(R9, id, target, "").await.expect("inspection");
        c.assign(&i.name, &g.name).await.expect("assign");
        c.brief_and_station(&i.name, subject, date(2026, 3, 10), date(2026, 5, 10))
            .await;
    }
}

#[tokio::test]
async fn killed_services_lose_and_double_nothing_acknowledged() {
    let kills_per_phase: usize = std::env::var("FIVELEDGER_CHAOS_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(1);
    let mut suite = Suite::start().await;
    let c = suite.clients.clone();
    stationed(&c).await;

    // Phase 1: problems written by four clients while each service dies.
    let busy = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for w in 0..4 {
        let c = c.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..30 {
                let (inspection, ..) = INSPECTIONS[(w + i) % 2];
                let inspection = format!("{R9}/inspections/{inspection}");
                let title = format!("chaos-{w}-{i}");
                let request = issues::CreateProblemRequest {
                    problem: Some(issues::Problem {
                        inspection: inspection.clone(),
                        category: "party-leadership".into(),
                        severity: Severity::Major as i32,
                        title: title.clone(),
                        description: format!("{title}：巡察组查实。"),
                        responsibilities: Some(issues::Responsibilities {
                            principal: "区委书记".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    request_id: format!("chaos-create-{w}-{i}"),
                    ..Default::default()
                };
                let created = until_answered(&title, || {
                    let mut problems = c.problems();
                    let request = request.clone();
                    async move {
                        problems
                            .create_problem(authed(&tokens::office(), request))
                            .await
                            .map(tonic::Response::into_inner)
                    }
                })
                .await;
                assert_eq!(created.title, title);
                acknowledged.push((inspection, created.name));
            }
            acknowledged
        }));
    }
    let killing = {
        let busy = busy.clone();
        async move {
            let mut processes = std::mem::take(&mut suite.processes);
            let kills = killer(&mut processes, kills_per_phase, busy).await;
            (processes, kills)
        }
    };
    let writing = async {
        let mut acknowledged = Vec::new();
        for w in writers {
            acknowledged.extend(w.await.expect("writer"));
        }
        busy.store(false, Ordering::Relaxed);
        acknowledged
    };
    let ((mut processes, kills), acknowledged) = tokio::join!(killing, writing);
    assert!(kills >= 1, "at least one kill happened while writing");

    // Nothing acknowledged is lost, nothing is doubled.
    let mut by_inspection: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for (inspection, name) in &acknowledged {
        assert!(
            by_inspection
                .entry(inspection.clone())
                .or_default()
                .insert(name.clone()),
            "{name} acknowledged twice"
        );
    }
    for (inspection, names) in &by_inspection {
        let filter = format!("inspection = \"{inspection}\"");
        let office = tokens::office();
        let stored = until_answered("list", || c.list_problems(&office, &filter)).await;
        let stored: HashSet<String> = stored.into_iter().map(|p| p.name).collect();
        assert_eq!(
            &stored, names,
            "{inspection}: exactly the acknowledged problems"
        );
    }

    // Phase 2: the reports freeze the lists and the ledger opens the
    // entries while each service dies again.
    let busy = Arc::new(AtomicBool::new(true));
    let reporting = async {
        for (id, _, _, _, _, subject) in INSPECTIONS {
            let name = format!("{R9}/inspections/{id}");
            for (kind, day) in [
                (rounds::InspectionReportKind::MidTerm, date(2026, 4, 10)),
                (
                    rounds::InspectionReportKind::Comprehensive,
                    date(2026, 5, 20),
                ),
            ] {
                let request = rounds::ReportInspectionRequest {
                    name: name.clone(),
                    kind: kind as i32,
                    report: Some(rounds::ReportRecord {
                        date: Some(day),
                        summary: "向巡察工作领导小组汇报".into(),
                    }),
                    request_id: format!("chaos-report-{id}-{}", kind as i32),
                };
                until_answered("report", || {
                    let mut inspections = c.inspections();
                    let request = request.clone();
                    async move {
                        inspections
                            .report_inspection(authed(&tokens::group_member(subject), request))
                            .await
                    }
                })
                .await;
            }
        }
        busy.store(false, Ordering::Relaxed);
    };
    let (_, (processes_after, _)) = tokio::join!(reporting, async {
        let kills = killer(&mut processes, kills_per_phase, busy.clone()).await;
        (processes, kills)
    });
    suite.processes = processes_after;

    // Every frozen problem has exactly one entry.
    for (inspection, names) in &by_inspection {
        let entries = eventually("every entry opened", Duration::from_secs(60), || async {
            let entries = c
                .list_entries(&tokens::office(), &format!("inspection = \"{inspection}\""))
                .await
                .ok()?;
            (entries.len() >= names.len()).then_some(entries)
        })
        .await;
        let mut problems: Vec<&str> = entries.iter().map(|e| e.problem.as_str()).collect();
        problems.sort();
        let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(problems, expected, "{inspection}: one entry per problem");
    }

    // The journal verifies and the books balance.
    let verified = until_answered("verify", || {
        let mut ledger = c.ledger();
        async move {
            ledger
                .verify_journal(authed(&tokens::admin(), VerifyJournalRequest::default()))
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    assert!(verified.valid, "{verified:?}");
    let reconciled = until_answered("reconcile", || {
        let mut ledger = c.ledger();
        async move {
            ledger
                .reconcile(authed(
                    &tokens::admin(),
                    ReconcileRequest {
                        round: R9.into(),
                        ..Default::default()
                    },
                ))
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    assert!(reconciled.balanced, "{reconciled:?}");
}
