//! A service's background chores: run now, then every period, until the
//! service stops.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Runs `chore` now and every `period` until `stop`. A run that overruns its
/// period delays the next one rather than queueing the missed ones.
pub async fn every<F, Fut>(period: Duration, stop: CancellationToken, mut chore: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => chore().await,
        }
    }
}
