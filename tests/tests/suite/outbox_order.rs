//! The outbox without writers queueing: concurrent writers, some holding
//! their transaction open after writing (or taking their transaction id
//! long before writing), some rolling back, some in group-commit batches,
//! while a reader follows `WatchEvents` over gRPC from the start and a
//! transaction elsewhere on the server stays open. Every committed event
//! arrives exactly once, each transaction's events together and in order, a
//! transaction that committed before another began first, and nothing of a
//! rolled-back one. On SQLite (one writer) the same holds trivially.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fiveledger_platform::consumer::{self, EventSource};
use fiveledger_platform::group_commit::Step;
use fiveledger_platform::outbox::{self, EventContext, Position};
use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::{self, TestEnv, consumer_db};
use futures::StreamExt;
use sea_orm::{ConnectionTrait, DbBackend};
use tokio_util::sync::CancellationToken;

/// A service that only serves its outbox, as every service does.
#[derive(Clone)]
struct Outbox {
    db: Db,
    stop: CancellationToken,
}

fiveledger_platform::event_service!(Outbox, rounds, unscoped);

/// An outbox database (fresh schema or file) served over gRPC until `stop`.
async fn serve(connections: u32, stop: &CancellationToken) -> (Db, EventSource, TestEnv) {
    let mut env = TestEnv::new("outbox_order");
    env.settings.database.max_connections = connections;
    let db = consumer_db(&env).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = Outbox {
        db: db.clone(),
        stop: stop.clone(),
    };
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                fiveledger_proto::rounds::event_service_server::EventServiceServer::new(service),
            )
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                stop.clone().cancelled_owned(),
            ),
    );
    let source = EventSource::Rounds(
        consumer::channel(&format!("http://{addr}")).expect("channel"),
        testing::observer_credentials(),
    );
    (db, source, env)
}

/// The type of the rarer events (a transaction's third), which a second
/// stream selects alone.
const RARE: &str = "Timestamp";

fn is_rare(subject: &str) -> bool {
    subject.ends_with("/e2")
}

/// Writes one event about `subject` in `txn`.
async fn write(txn: &sea_orm::DatabaseTransaction, subject: &str) {
    let ctx = EventContext {
        actor: "writer".into(),
        ..Default::default()
    };
    let appended = if is_rare(subject) {
        outbox::append(txn, &ctx, subject, &prost_types::Timestamp::default()).await
    } else {
        outbox::append(txn, &ctx, subject, &prost_types::Any::default()).await
    };
    appended.expect("append");
}

/// What one writer's transaction did, on the test's own clock (a counter
/// ticked before each begin and after each commit).
struct Written {
    name: String,
    kind: Kind,
    events: usize,
    began: u64,
    /// When its commit returned; `None` when it rolled back.
    committed: Option<u64>,
}

/// How a transaction behaves.
#[derive(Clone, Copy)]
enum Kind {
    /// Writes and commits at once.
    Quick,
    /// Holds the transaction open between its events and its commit.
    SlowCommit,
    /// Takes its transaction id first, waits, then writes and commits.
    EarlyId,
    /// Writes, waits, and rolls back.
    RolledBack,
    /// Writes in a group-commit batch (`Db::write`), as requests do.
    Grouped,
}

const WRITERS: usize = 16;
const TRANSACTIONS: usize = 6;

fn kind(writer: usize, txn: usize) -> Kind {
    match (writer + txn) % 6 {
        0 | 1 => Kind::Quick,
        2 => Kind::SlowCommit,
        3 => Kind::EarlyId,
        4 => Kind::Grouped,
        _ => Kind::RolledBack,
    }
}

async fn writer(db: Db, writer: usize, clock: Arc<AtomicU64>) -> Vec<Written> {
    let postgres = db.backend() == DbBackend::Postgres;
    let mut written = Vec::new();
    for t in 0..TRANSACTIONS {
        let kind = kind(writer, t);
        let name = format!("w{writer}/t{t}");
        let events = 1 + (writer * 7 + t * 3) % 3;
        // Long enough for many others to commit meanwhile; SQLite has a
        // single writer, so waiting there would only queue the others.
        let hold = if postgres {
            Duration::from_millis(60 + ((writer * 37 + t * 91) % 240) as u64)
        } else {
            Duration::ZERO
        };
        let began = clock.fetch_add(1, Ordering::SeqCst);
        if let Kind::Grouped = kind {
            let subject = name.clone();
            db.write(Box::new(move |txn| {
                Box::pin(async move {
                    for e in 0..events {
                        write(txn, &format!("{subject}/e{e}")).await;
                    }
                    Ok(Step::Commit(()))
                })
            }))
            .await
            .expect("a grouped write");
            written.push(Written {
                name,
                kind,
                events,
                began,
                committed: Some(clock.fetch_add(1, Ordering::SeqCst)),
            });
            continue;
        }
        let txn = db.begin().await.expect("begin");
        if let (Kind::EarlyId, true) = (kind, postgres) {
            txn.execute_unprepared("SELECT pg_current_xact_id()")
                .await
                .expect("a transaction id");
            tokio::time::sleep(hold).await;
        }
        for e in 0..events {
            write(&txn, &format!("{name}/e{e}")).await;
        }
        if let Kind::SlowCommit | Kind::RolledBack = kind {
            tokio::time::sleep(hold).await;
        }
        let committed = if let Kind::RolledBack = kind {
            txn.rollback().await.expect("rollback");
            None
        } else {
            db.commit(txn).await.expect("commit");
            Some(clock.fetch_add(1, Ordering::SeqCst))
        };
        written.push(Written {
            name,
            kind,
            events,
            began,
            committed,
        });
    }
    written
}

/// The transaction of an event's subject (`w1/t2/e0` → `w1/t2`, 0).
fn of_subject(subject: &str) -> (&str, usize) {
    let (txn, event) = subject.rsplit_once("/e").expect("a writer's subject");
    (txn, event.parse().expect("an event number"))
}

#[tokio::test]
async fn concurrent_writers_lose_and_reorder_no_event() {
    let stop = CancellationToken::new();
    // Every writer a connection of its own (the writers' pool is half).
    let (db, source, _env) = serve(2 * (WRITERS as u32 + 4), &stop).await;
    // Open throughout: streams must not wait for it.
    let unrelated = testing::UnrelatedTransaction::open().await;

    // The reader follows from the start, before anything is written.
    let received: Arc<Mutex<Vec<(String, Position, Position)>>> = Arc::default();
    let mut events = source
        .watch_with_head(Position::START, &[])
        .await
        .expect("watch");
    let reader = tokio::spawn({
        let received = received.clone();
        async move {
            while let Some(item) = events.next().await {
                let (event, head) = item.expect("an event");
                let at: Position = event.cursor.parse().expect("a cursor");
                received
                    .lock()
                    .expect("lock")
                    .push((event.subject, at, head));
            }
        }
    });

    // Another follows the rarer type alone: it sees most events go by
    // unselected, and must still miss none of its own.
    let rare: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut rare_events = source
        .watch(Position::START, &[RARE.to_owned()])
        .await
        .expect("watch");
    let rare_reader = tokio::spawn({
        let rare = rare.clone();
        async move {
            while let Some(item) = rare_events.next().await {
                let event = item.expect("an event");
                assert_eq!(event.r#type, RARE);
                rare.lock().expect("lock").push(event.subject);
            }
        }
    });

    let clock = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(db.clone(), w, clock.clone())))
        .collect();
    let mut written = Vec::new();
    for w in writers {
        written.extend(w.await.expect("a writer"));
    }
    let expected: HashSet<String> = written
        .iter()
        .filter(|t| t.committed.is_some())
        .flat_map(|t| (0..t.events).map(move |e| format!("{}/e{e}", t.name)))
        .collect();
    assert!(written.iter().any(|t| t.committed.is_none()));

    // Everything arrives, then nothing more; what is missing after the wait
    // is named below.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while received.lock().expect("lock").len() < expected.len()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let received = received.lock().expect("lock").clone();

    let subjects: Vec<&str> = received.iter().map(|(s, _, _)| s.as_str()).collect();
    let unique: HashSet<String> = subjects.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(unique.len(), subjects.len(), "an event came twice");
    let missing: Vec<_> = expected.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}; not committed but served {extra:?}"
    );
    for pair in received.windows(2) {
        assert!(pair[0].1 < pair[1].1, "cursors ascend: {pair:?}");
    }
    for (subject, at, head) in &received {
        assert!(head >= at, "{subject}: head {head} behind its event {at}");
    }
    let rare_expected: Vec<&str> = subjects.iter().copied().filter(|s| is_rare(s)).collect();
    assert!(
        !rare_expected.is_empty(),
        "some events are of the rarer type"
    );
    assert_eq!(
        *rare.lock().expect("lock"),
        rare_expected,
        "the stream of the rarer type: all of them, once each, in the same order"
    );

    // Each transaction's events together and in order.
    let mut span: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, subject) in subjects.iter().enumerate() {
        let (txn, event) = of_subject(subject);
        let (first, _) = *span.entry(txn).or_insert((i, i));
        assert_eq!(i - first, event, "{subject} in its transaction's place");
        span.insert(txn, (first, i));
    }
    // A transaction that committed before another began comes first. A
    // grouped write's transaction is its batch's, which may have begun (and
    // taken its id) before the write was made: its own start says nothing.
    for t1 in &written {
        for t2 in &written {
            let (Some(done), Some(_)) = (t1.committed, t2.committed) else {
                continue;
            };
            if let Kind::Grouped = t2.kind {
                continue;
            }
            if done < t2.began {
                let (_, last1) = span[t1.name.as_str()];
                let (first2, _) = span[t2.name.as_str()];
                assert!(
                    last1 < first2,
                    "{} committed before {} began, but was served after it",
                    t1.name,
                    t2.name
                );
            }
        }
    }

    // A new stream from any cursor serves exactly what followed it.
    let half = received.len() / 2;
    let rest = source
        .watch(received[half].1, &[])
        .await
        .expect("watch")
        .take(received.len() - half - 1)
        .map(|e| e.expect("an event").subject)
        .collect::<Vec<_>>();
    let rest = tokio::time::timeout(Duration::from_secs(30), rest)
        .await
        .expect("the rest, resumed from a cursor");
    assert_eq!(rest, subjects[half + 1..]);

    drop(unrelated);
    stop.cancel();
    reader.abort();
    rare_reader.abort();
}

/// A committed event is served at once, to a stream already following and
/// to a new one, while transactions that write no events stay open: one
/// elsewhere on the server and, on PostgreSQL, one on this very database
/// holding a transaction id (a report, a maintenance session). Streams wait
/// for the outbox's writers only.
#[tokio::test]
async fn an_event_is_served_at_once_while_other_transactions_stay_open() {
    use sea_orm::TransactionTrait;
    let stop = CancellationToken::new();
    let (db, source, _env) = serve(4, &stop).await;
    let _elsewhere = testing::UnrelatedTransaction::open().await;
    let here = if db.backend() == DbBackend::Postgres {
        let txn = db.writer().begin().await.expect("begin");
        txn.execute_unprepared("SELECT pg_current_xact_id()")
            .await
            .expect("a transaction id");
        Some(txn)
    } else {
        None
    };
    let at_once = Duration::from_secs(1);
    let mut following = source.watch(Position::START, &[]).await.expect("watch");
    for n in 0..3 {
        let subject = format!("e{n}");
        db.write(Box::new({
            let subject = subject.clone();
            move |txn| {
                Box::pin(async move {
                    write(txn, &subject).await;
                    Ok(Step::Commit(()))
                })
            }
        }))
        .await
        .expect("a write");
        let served = tokio::time::timeout(at_once, following.next())
            .await
            .unwrap_or_else(|_| panic!("{subject} not served to the following stream at once"))
            .expect("an event")
            .expect("ok");
        assert_eq!(served.subject, subject);
        let fresh = source
            .watch(Position::START, &[])
            .await
            .expect("watch")
            .take(n + 1)
            .map(|e| e.expect("an event").subject)
            .collect::<Vec<_>>();
        let fresh = tokio::time::timeout(at_once, fresh)
            .await
            .unwrap_or_else(|_| panic!("{subject} not served to a new stream at once"));
        assert_eq!(fresh.last(), Some(&subject));
    }
    if let Some(txn) = here {
        txn.rollback().await.expect("rollback");
    }
    stop.cancel();
}

/// Cursors kept from before transaction ids were recorded (plain event ids)
/// still resume where they point, and events stored then come first.
#[tokio::test]
async fn plain_id_cursors_from_before_transaction_ids_still_resume() {
    let stop = CancellationToken::new();
    let (db, source, _env) = serve(4, &stop).await;
    for subjects in [&["a"][..], &["b"], &["c"], &["d", "e"]] {
        let txn = db.begin().await.expect("begin");
        for subject in subjects {
            write(&txn, subject).await;
        }
        db.commit(txn).await.expect("commit");
    }
    // As the migration leaves the events stored before it.
    db.writer()
        .execute_unprepared("UPDATE outbox_events SET txid = 0 WHERE id <= 2")
        .await
        .expect("events from before");
    let after = |cursor: &str| {
        let source = source.clone();
        let cursor: Position = cursor.parse().expect("a cursor");
        async move {
            let events = source
                .watch(cursor, &[])
                .await
                .expect("watch")
                .take(5 - cursor.id as usize)
                .map(|e| e.expect("an event"))
                .collect::<Vec<_>>();
            tokio::time::timeout(Duration::from_secs(30), events)
                .await
                .expect("the events after the cursor")
        }
    };
    let all = after("").await;
    let subjects: Vec<_> = all.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects, ["a", "b", "c", "d", "e"]);
    assert_eq!((all[0].cursor.as_str(), all[1].cursor.as_str()), ("1", "2"));
    // A plain id resumes after that event, whichever scheme wrote it (an
    // earlier version served plain ids for every event).
    for (cursor, rest) in [("2", &["c", "d", "e"][..]), ("3", &["d", "e"])] {
        let served: Vec<_> = after(cursor).await.into_iter().map(|e| e.subject).collect();
        assert_eq!(served, rest, "after {cursor}");
    }
    stop.cancel();
}
