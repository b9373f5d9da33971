//! `fiveledger backup` while the suite serves and is written to, `fiveledger
//! restore` into a fresh data folder, and a suite started there: every
//! write acknowledged before the backup began is present, the journal
//! verifies and the books reconcile (before and after the restored suite
//! carries on). On PostgreSQL both commands refuse, pointing to pg_dump.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Parser;
use fiveledger::cli::AdminCommand;
use fiveledger::cli::backup::{backup, restore};
use fiveledger::{Domains, Layout};
use fiveledger_e2e::{Clients, EVENT_TIMEOUT, date, eventually, spawn_suite, tokens};
use fiveledger_platform::testing::{self, authed};
use fiveledger_proto::rounds::{self, OrganisationKind};
use fiveledger_proto::types::Severity;
use tokio::sync::watch;

const R9: &str = "rounds/r9";
const XN: &str = "rounds/r9/inspections/xn";
const QX: &str = "rounds/r9/inspections/qx";

/// What the writer had acknowledged, and when.
#[derive(Default)]
struct Acknowledged {
    organisations: Vec<(Instant, String)>,
    problems: Vec<(Instant, String)>,
}

/// Keeps creating organisations (rounds) and problems of Qingxiu's
/// inspection (issues) until `stop`, recording each acknowledged write.
async fn write_until(c: Clients, acked: Arc<Mutex<Acknowledged>>, stop: watch::Receiver<bool>) {
    let leader = tokens::group_member("sun-leader");
    for i in 0.. {
        if *stop.borrow() {
            return;
        }
        let id = format!("w-{i}");
        c.organisation(
            &id,
            OrganisationKind::Township,
            "qingxiu",
            &format!("第{i}街道"),
        )
        .await;
        acked
            .lock()
            .expect("lock")
            .organisations
            .push((Instant::now(), id));
        let problem = c
            .problem(
                &leader,
                QX,
                &format!("q-{i}"),
                "party-leadership",
                Severity::Minor,
                &format!("问题{i}"),
                "",
                "",
            )
            .await
            .unwrap_or_else(|s| panic!("problem q-{i}: {s:?}"));
        acked
            .lock()
            .expect("lock")
            .problems
            .push((Instant::now(), problem.name));
    }
}

/// Runs `fiveledger <words> --rounds … --issues … --ledgers …` (an admin
/// command) against `suite`.
async fn cli(
    suite: &fiveledger::Suite,
    settings: &fiveledger_platform::settings::ServerSettings,
    words: &[&str],
) -> anyhow::Result<()> {
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: AdminCommand,
    }
    let mut argv = vec!["fiveledger".to_owned()];
    argv.extend(words.iter().map(|w| w.to_string()));
    for (flag, addr) in [
        ("--rounds", suite.rounds.addr),
        ("--issues", suite.issues.addr),
        ("--ledgers", suite.ledgers.addr),
    ] {
        argv.extend([flag.to_owned(), format!("http://{addr}")]);
    }
    let parsed = Cli::try_parse_from(argv)?;
    let signer = fiveledger::signer(settings)?;
    fiveledger::cli::run(parsed.command, Some(&signer)).await
}

/// The journal verifies and round 9's books balance, once the consumers
/// have caught up.
async fn books_are_clean(c: &Clients) {
    let verified = c.verify_journal().await;
    assert!(verified.valid, "{verified:?}");
    assert!(verified.entries > 0, "{verified:?}");
    eventually("the books of round 9 balance", EVENT_TIMEOUT, || async {
        let r = c.reconcile_round(R9).await;
        r.balanced.then_some(r)
    })
    .await;
}

#[tokio::test]
async fn a_backup_taken_while_writing_restores_to_books_that_verify_and_reconcile() {
    let t = spawn_suite(Default::default()).await;
    let folder = tempfile::tempdir().expect("temp dir");
    let to = folder.path().join("backup");
    if testing::backend() == "postgres" {
        for err in [
            backup(&t.env.settings, &to).await.expect_err("refused"),
            restore(&t.env.settings, &to, false)
                .await
                .expect_err("refused"),
        ] {
            let err = err.to_string();
            assert!(
                err.contains("pg_dump") && err.contains("fiveledger verify"),
                "{err}"
            );
        }
        assert!(!to.exists(), "nothing written");
        t.suite.stop().await.expect("stops");
        return;
    }

    // Round 9: Xingning's three problems reported (the ledger holds their
    // entries), Qingxiu stationed and being written to.
    t.two_stationed_inspections("r9", 9).await;
    let leader = tokens::group_member("li-leader");
    for i in 0..3 {
        t.problem(
            &leader,
            XN,
            &format!("p-{i}"),
            "party-leadership",
            Severity::Major,
            "落实上级决策部署不到位",
            "",
            "",
        )
        .await
        .expect("problem");
    }
    t.report(XN, "li-leader", date(2026, 4, 10), date(2026, 5, 20))
        .await;
    t.wait_for_entries(&format!("inspection = \"{XN}\""), 3)
        .await;

    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let (stop, stopped) = watch::channel(false);
    let writer = tokio::spawn(write_until(t.clients.clone(), acked.clone(), stopped));
    eventually("writes under way", EVENT_TIMEOUT, || async {
        (acked.lock().expect("lock").problems.len() >= 10).then_some(())
    })
    .await;
    let began = Instant::now();
    let files = backup(&t.env.settings, &to).await.expect("backup");
    let ended = Instant::now();
    assert_eq!(files.len(), 3, "{files:?}");
    // Writes went on during the backup and after it.
    eventually("writes after the backup", EVENT_TIMEOUT, || async {
        let acked = acked.lock().expect("lock");
        acked
            .problems
            .iter()
            .any(|(at, _)| *at > ended)
            .then_some(())
    })
    .await;
    stop.send(true).expect("stop the writer");
    writer.await.expect("the writer never failed");
    let err = backup(&t.env.settings, &to)
        .await
        .expect_err("never overwrites")
        .to_string();
    assert!(err.contains("exists"), "{err}");
    t.suite.stop().await.expect("stops");

    // Restored into a fresh data folder (the same keys and secret).
    let mut settings = t.env.settings.clone();
    settings.data_dir = folder.path().join("restored");
    restore(&settings, &to, false).await.expect("restore");
    let err = restore(&settings, &to, false)
        .await
        .expect_err("the folder holds databases now")
        .to_string();
    assert!(err.contains("--force"), "{err}");
    let layout = Layout {
        ports: [0, 0, 0],
        ..Layout::default()
    };
    let suite = fiveledger::start(&settings, Domains::default(), layout)
        .await
        .expect("a suite starts on the restored folder");
    let c = Clients::of(&suite).await;

    // Every write acknowledged before the backup began is there.
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    let before = |writes: &[(Instant, String)]| -> Vec<String> {
        writes
            .iter()
            .filter(|(at, _)| *at < began)
            .map(|(_, name)| name.clone())
            .collect()
    };
    let organisations = before(&acked.organisations);
    assert!(organisations.len() >= 10, "{}", organisations.len());
    for id in &organisations {
        c.organisations()
            .get_organisation(authed(
                &tokens::admin(),
                rounds::GetOrganisationRequest {
                    name: format!("organisations/{id}"),
                },
            ))
            .await
            .unwrap_or_else(|s| panic!("{id} acknowledged before the backup is missing: {s:?}"));
    }
    let stored: Vec<String> = c
        .list_problems(&tokens::office(), &format!("inspection = \"{QX}\""))
        .await
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    for name in before(&acked.problems) {
        assert!(
            stored.contains(&name),
            "{name} acknowledged before the backup is missing"
        );
    }
    assert_eq!(
        c.list_entries(&tokens::admin(), &format!("inspection = \"{XN}\""))
            .await
            .expect("entries")
            .len(),
        3
    );
    books_are_clean(&c).await;
    cli(&suite, &settings, &["verify"])
        .await
        .expect("fiveledger verify");
    cli(&suite, &settings, &["reconcile", "--scope", R9])
        .await
        .expect("fiveledger reconcile");

    // The restored suite carries on: Qingxiu's list, as restored, is
    // reported and every problem of it gets its entry.
    c.report(QX, "sun-leader", date(2026, 4, 11), date(2026, 5, 21))
        .await;
    c.wait_for_entries(&format!("inspection = \"{QX}\""), stored.len())
        .await;
    books_are_clean(&c).await;
    suite.stop().await.expect("stops");
}
