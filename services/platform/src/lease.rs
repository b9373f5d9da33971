//! Leases: replicas of a service take turns at a job (an event consumer, a
//! periodic sweep) through a row in their shared database. The holder
//! renews it well before it expires; a replica that dies stops renewing and
//! another takes over once the lease has expired, so hand-over takes at
//! most one lease period (plus one renewal interval, the standby's polling).
//!
//! A lease makes the work efficient (one replica does it), not correct: the
//! jobs themselves stay idempotent (see `consumer`), so a paused holder that
//! wakes after losing its lease still cannot double an effect.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, Condition};

use crate::error::ApiResult;
use crate::group_commit::Step;
use crate::storage::Db;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub holder: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// One replica's claim on a named job.
#[derive(Clone, Debug)]
pub struct Lease {
    db: Db,
    name: String,
    holder: String,
    period: Duration,
    renew_every: Duration,
}

impl Lease {
    /// A lease on `name` for this process (a fresh holder id), lasting
    /// `period` and renewed every third of it.
    pub fn new(db: Db, name: &str, period: Duration) -> Self {
        Self::with_renewal(db, name, period, period / 3)
    }

    /// A lease lasting `period`, renewed (and, by a standby, polled) every
    /// `renew_every`, which should be well below `period`.
    pub fn with_renewal(db: Db, name: &str, period: Duration, renew_every: Duration) -> Self {
        Self {
            db,
            name: name.to_owned(),
            holder: uuid::Uuid::new_v4().to_string(),
            period,
            renew_every,
        }
    }

    /// How often the holder renews, and a standby looks whether it lapsed.
    pub fn renew_every(&self) -> Duration {
        self.renew_every
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// Takes the lease if it is free, expired or already ours, and extends
    /// it; false when another replica holds it.
    pub async fn acquire(&self) -> ApiResult<bool> {
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::from_std(self.period).unwrap_or_default();
        self.db
            .transaction(async |txn| {
                Entity::insert(ActiveModel {
                    name: Set(self.name.clone()),
                    holder: Set(String::new()),
                    expires_at: Set(now - chrono::Duration::seconds(1)),
                })
                .on_conflict(OnConflict::column(Column::Name).do_nothing().to_owned())
                .try_insert()
                .exec(txn)
                .await?;
                let taken = Entity::update_many()
                    .col_expr(Column::Holder, Expr::value(self.holder.clone()))
                    .col_expr(Column::ExpiresAt, Expr::value(until))
                    .filter(Column::Name.eq(self.name.clone()))
                    .filter(
                        Condition::any()
                            .add(Column::Holder.eq(self.holder.clone()))
                            .add(Column::ExpiresAt.lt(now)),
                    )
                    .exec(txn)
                    .await?
                    .rows_affected
                    == 1;
                Ok(Step::Commit(taken))
            })
            .await
    }

    /// Gives the lease up (on shutdown), so another replica need not wait.
    pub async fn release(&self) -> ApiResult<()> {
        self.db
            .transaction(async |txn| {
                Entity::update_many()
                    .col_expr(
                        Column::ExpiresAt,
                        Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
                    )
                    .filter(Column::Name.eq(self.name.clone()))
                    .filter(Column::Holder.eq(self.holder.clone()))
                    .exec(txn)
                    .await?;
                Ok(Step::Commit(()))
            })
            .await
    }
}

/// Runs `job` every `interval` on whichever replica holds the lease `name`
/// (held across a run and the wait after it, so it lapses within twice the
/// interval, at least 30 s, when its holder dies), until `stop`.
pub async fn run_periodically<F, Fut>(
    db: Db,
    name: &str,
    interval: Duration,
    stop: tokio_util::sync::CancellationToken,
    job: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run_periodically_or(db, name, interval, stop, job, || {}).await
}

/// [`run_periodically`], calling `idle` on each tick this replica does not
/// hold the lease and once on stop: what a replica that is not (or no
/// longer) the holder must undo, e.g. gauges only the holder reports.
pub async fn run_periodically_or<F, Fut, I>(
    db: Db,
    name: &str,
    interval: Duration,
    stop: tokio_util::sync::CancellationToken,
    mut job: F,
    mut idle: I,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
    I: FnMut(),
{
    let lease = Lease::new(db, name, (interval * 2).max(Duration::from_secs(30)));
    while !stop.is_cancelled() {
        match lease.acquire().await {
            Ok(true) => job().await,
            Ok(false) => idle(),
            Err(err) => {
                tracing::warn!(error = ?err, lease = name, "could not take the lease");
                idle();
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    idle();
    let _ = lease.release().await;
}
