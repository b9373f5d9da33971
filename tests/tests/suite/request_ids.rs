//! Request ids are remembered for a while, then forgotten.

use fiveledger_platform::aip::idempotency::{RequestKey, mutate, prune};
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::testing::{TestEnv, consumer_db};
use fiveledger_proto::rounds::Organisation;

#[tokio::test]
async fn a_retry_replays_until_the_record_is_pruned() {
    let env = TestEnv::new("requests");
    let db = consumer_db(&env).await;
    let caller = Caller::new("u1", "", &[Role::Admin]);
    let request = Organisation {
        display_name: "x".into(),
        ..Default::default()
    };
    let run = |n: &'static str| {
        let key = RequestKey::new(&caller, "Test", "req-1", &request).expect("key");
        let db = db.clone();
        async move {
            mutate(&db, key, move |_txn| {
                Box::pin(async move {
                    Ok(Organisation {
                        name: n.into(),
                        ..Default::default()
                    })
                })
            })
            .await
            .expect("mutate")
        }
    };
    assert_eq!(run("first").await.name, "first");
    assert_eq!(
        run("second").await.name,
        "first",
        "a retry replays the first answer"
    );

    // Records older than the cutoff go; younger ones stay.
    assert_eq!(
        prune(&db, chrono::Utc::now() - chrono::Duration::hours(1))
            .await
            .expect("prune"),
        0
    );
    assert_eq!(run("third").await.name, "first");
    assert_eq!(
        prune(&db, chrono::Utc::now() + chrono::Duration::seconds(1))
            .await
            .expect("prune"),
        1
    );
    assert_eq!(
        run("fourth").await.name,
        "fourth",
        "a forgotten id is a new request"
    );
}

#[tokio::test]
async fn a_request_id_belongs_to_the_whole_caller_not_only_its_subject() {
    let env = TestEnv::new("requests");
    let db = consumer_db(&env).await;
    let request = Organisation {
        display_name: "x".into(),
        ..Default::default()
    };
    let run = |caller: Caller, n: &'static str| {
        let key = RequestKey::new(&caller, "Test", "req-1", &request).expect("key");
        let db = db.clone();
        async move {
            mutate(&db, key, move |_txn| {
                Box::pin(async move {
                    Ok(Organisation {
                        name: n.into(),
                        ..Default::default()
                    })
                })
            })
            .await
            .expect("mutate")
        }
    };
    let county_a = Caller::new("u1", "gx/nn/a", &[Role::InspectionOffice]);
    assert_eq!(run(county_a.clone(), "a").await.name, "a");
    // The same subject for another county, or with other roles, is another
    // caller: it never replays county A's answer.
    let county_b = Caller::new("u1", "gx/nn/b", &[Role::InspectionOffice]);
    assert_eq!(run(county_b, "b").await.name, "b");
    let viewer_a = Caller::new("u1", "gx/nn/a", &[Role::Viewer]);
    assert_eq!(run(viewer_a, "v").await.name, "v");
    assert_eq!(run(county_a, "again").await.name, "a");
}
