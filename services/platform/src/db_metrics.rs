//! A service's database figures, sampled on a timer rather than per
//! request: its pools' connections (`fiveledger_db_connections`), the
//! group-commit queue (`fiveledger_db_write_queue`) and the size of its
//! outbox (`fiveledger_outbox_events`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::storage::Db;

/// How often the figures are read.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Samples `db` now and every [`SAMPLE_EVERY`] until `stop`.
pub async fn sample_periodically(service: &'static str, db: Db, stop: CancellationToken) {
    crate::periodic::every(SAMPLE_EVERY, stop, || sample(service, &db)).await
}

/// Records the figures of `db` once.
pub async fn sample(service: &'static str, db: &Db) {
    for pool in db.pools() {
        let in_use = pool.open.saturating_sub(pool.idle);
        for (state, value) in [("in_use", in_use), ("idle", pool.idle), ("max", pool.max)] {
            metrics::gauge!("fiveledger_db_connections", "service" => service, "pool" => pool.name, "state" => state)
                .set(f64::from(value));
        }
    }
    metrics::gauge!("fiveledger_db_write_queue", "service" => service).set(db.write_queue() as f64);
    match crate::outbox::written(db).await {
        Ok(head) => {
            metrics::gauge!("fiveledger_outbox_events", "service" => service).set(head as f64)
        }
        Err(err) => tracing::debug!(%err, "reading the outbox head for its metric"),
    }
}
