//! Several replicas: consumers on one database take turns through a lease,
//! a dead holder is replaced within one lease period, and each event has
//! exactly one effect; replicas starting together migrate safely.

use std::time::Duration;

use fiveledger_e2e::spawn_suite;
use fiveledger_platform::auth::Role;
use fiveledger_platform::consumer::{self, Consumer, EventSource, RunOptions};
use fiveledger_platform::lease::Lease;
use fiveledger_platform::testing::{self, CopyToOutbox, TestEnv, authed, consumer_db, copied};
use fiveledger_proto::rounds::organisation_service_client::OrganisationServiceClient;
use fiveledger_proto::rounds::{CreateOrganisationRequest, Organisation, OrganisationKind};
use tokio_util::sync::CancellationToken;

async fn wait_for(db: &fiveledger_platform::storage::Db, n: u64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while copied(db).await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} effects, saw {}",
            copied(db).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_dead_consumer_is_replaced_and_no_event_is_applied_twice() {
    let t = spawn_suite(Default::default()).await;
    let env = TestEnv::new("replicas");
    let db = consumer_db(&env).await;
    let source = EventSource::Rounds(
        consumer::channel(&format!("http://{}", t.suite.rounds.addr)).expect("channel"),
        testing::observer_credentials(),
    );
    let token = testing::token("e2e", "", &[Role::Admin]);
    let orgs = OrganisationServiceClient::new(t.rounds.clone());
    let create = |id: &str, kind: OrganisationKind, parent: &str| {
        let request = authed(
            &token,
            CreateOrganisationRequest {
                organisation: Some(Organisation {
                    display_name: id.into(),
                    kind: kind as i32,
                    parent: parent.into(),
                    ..Default::default()
                }),
                organisation_id: id.into(),
                request_id: String::new(),
            },
        );
        let mut client = orgs.clone();
        async move { client.create_organisation(request).await.expect("create") }
    };
    let lease = Duration::from_millis(1500);
    let renew = Duration::from_millis(300);
    let replica = |stop: CancellationToken| {
        let consumer = Consumer {
            name: "copy".into(),
            source: source.clone(),
            types: vec![],
            handler: Box::new(CopyToOutbox),
        };
        let options = RunOptions {
            lease,
            renew,
            health: None,
        };
        tokio::spawn(consumer::run_with(db.clone(), consumer, options, stop))
    };

    // Replica A takes the lease and applies the first events.
    let a = replica(CancellationToken::new());
    create("guangxi", OrganisationKind::Region, "").await;
    create("nanning", OrganisationKind::City, "organisations/guangxi").await;
    wait_for(&db, 2, Duration::from_secs(10)).await;

    // Replica B starts and waits its turn; A dies without releasing.
    let b_stop = CancellationToken::new();
    let b = replica(b_stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.abort();
    let _ = a.await;
    let died = tokio::time::Instant::now();
    create("liuzhou", OrganisationKind::City, "organisations/guangxi").await;
    create("guilin", OrganisationKind::City, "organisations/guangxi").await;
    // B takes over once A's last renewal has lapsed: within the lease and
    // one renewal interval of B's polling (slack for a loaded machine).
    wait_for(&db, 4, lease + renew + Duration::from_secs(3)).await;
    let took = died.elapsed();
    assert!(
        took < lease + renew + Duration::from_millis(1500),
        "B took over {took:?} after A died (lease {lease:?}, renewal {renew:?})"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(copied(&db).await, 4, "each event has exactly one effect");
    assert_eq!(
        consumer::position(&db, "copy").await.expect("position").id,
        4
    );
    b_stop.cancel();
    b.await.expect("B stops");
}

/// The lease alone: a holder that stops renewing loses it once the lease
/// has run out since its last renewal, not before, and then another
/// replica takes it; the defaults fail over within a few seconds.
#[tokio::test]
async fn a_lease_not_renewed_passes_to_another_replica_when_it_runs_out() {
    let env = TestEnv::new("lease");
    let db = consumer_db(&env).await;
    let period = Duration::from_millis(1200);
    let holder = Lease::with_renewal(db.clone(), "job", period, period / 4);
    let standby = Lease::with_renewal(db.clone(), "job", period, period / 4);
    assert!(
        holder.acquire().await.expect("acquire"),
        "a free lease is taken"
    );
    let renewed = tokio::time::Instant::now();
    assert!(holder.acquire().await.expect("renew"), "the holder renews");
    assert!(
        !standby.acquire().await.expect("try"),
        "held: the standby waits"
    );
    // The holder stops renewing. Before the lease runs out it is still held.
    tokio::time::sleep(period / 2).await;
    assert!(
        !standby.acquire().await.expect("try"),
        "still within the lease"
    );
    let mut taken = None;
    while taken.is_none() {
        tokio::time::sleep(period / 10).await;
        if standby.acquire().await.expect("try") {
            taken = Some(renewed.elapsed());
        }
        assert!(renewed.elapsed() < period * 3, "never taken over");
    }
    let taken = taken.expect("taken");
    assert!(
        taken >= period,
        "taken over after {taken:?}, before the lease ran out"
    );
    assert!(
        !holder.acquire().await.expect("try"),
        "the old holder cannot take it back"
    );

    let defaults = fiveledger_platform::settings::ConsumerSettings::default();
    let (lease, renew) = defaults.periods().expect("valid defaults");
    assert!(
        lease + renew <= Duration::from_secs(5),
        "failover within a few seconds"
    );
    assert!(renew * 2 < lease, "renewed well before it runs out");
    let bad = fiveledger_platform::settings::ConsumerSettings {
        lease_ms: 1000,
        renew_ms: 1000,
    };
    assert!(
        bad.periods().is_err(),
        "renewal must come before the lease runs out"
    );
}

#[tokio::test]
async fn replicas_starting_together_migrate_safely() {
    if testing::postgres_url().is_none() {
        // Several replicas share one database only on PostgreSQL; a SQLite
        // file belongs to one process.
        eprintln!("skipped on SQLite: replicas share a database only on PostgreSQL");
        return;
    }
    let env = TestEnv::new("migrate");
    let starts = (0..3).map(|_| {
        let settings = env.settings.clone();
        async move {
            fiveledger_rounds::start(&settings, Default::default(), CancellationToken::new())
                .await
                .expect("each replica starts")
        }
    });
    let replicas = futures::future::join_all(starts).await;
    for replica in replicas {
        replica.stop().await.expect("stops");
    }
}
