//! The ledger's side of an inspection: waiting for it to open and hand over
//! the entries (it follows the other services' events asynchronously),
//! driving them side by side.

use std::time::{Duration, Instant};

use anyhow::Context;
use fiveledger_proto::ledgers::{LedgerEntry, ListEntriesRequest};
use futures::{StreamExt, TryStreamExt, stream};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::Cast;
use super::entry::{EntryContext, Fate};
use super::figures::deal;
use super::rounds::TargetPlan;
use crate::cli::connect::failed;

/// Entries of one inspection driven at once (each entry's steps follow
/// one another; the entries do not wait for each other).
const ENTRIES_AT_ONCE: usize = 8;

/// Entries driven at once over all the inspections loading side by side.
/// The office signs most steps, and the suite refuses a caller's requests
/// beyond `limits.caller.in_flight` (128 by default) with
/// RESOURCE_EXHAUSTED: 64 entries, one step each at a time, leave room for
/// the inspections' own steps.
pub(super) const DRIVEN_AT_ONCE: usize = 64;

/// Takes the entries of `inspection` (as many as `target` planned) through
/// their steps once the ledger has handed them over: `target.open` stay
/// open, the rest are written off (`target.late` of them after their
/// original due date), sharing what the plan says they recovered.
pub(super) async fn drive_all(
    ctx: &EntryContext<'_>,
    inspection: &str,
    expected: usize,
    target: &TargetPlan,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let entries = handed_over(&ctx.story.cast, inspection, expected).await?;
    let fates = fates(entries.len(), target, rng);
    // Each entry has its own story (and seed), so they load side by side.
    let seeds: Vec<u64> = entries.iter().map(|_| rng.random()).collect();
    stream::iter(entries.iter().zip(fates).zip(seeds))
        .map(|((entry, fate), seed)| async move {
            let _turn = ctx.story.driving.acquire().await?;
            ctx.drive(entry, fate, StdRng::seed_from_u64(seed))
                .await
                .with_context(|| format!("driving {}", entry.name))
        })
        .buffer_unordered(ENTRIES_AT_ONCE)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// The fates of `n` entries: `target.open` of them open, chosen at random,
/// and `target.late` of the others written off late; about a third of the
/// written-off ones recover money, sharing the target's amount.
fn fates(n: usize, target: &TargetPlan, rng: &mut StdRng) -> Vec<Fate> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let written_off: Vec<usize> = order.iter().copied().skip(target.open).collect();
    let weights: Vec<f64> = written_off
        .iter()
        .enumerate()
        .map(|(k, _)| {
            if k == 0 || rng.random_bool(0.3) {
                rng.random_range(1.0..10.0)
            } else {
                0.0
            }
        })
        .collect();
    let money = deal(usize::try_from(target.recovered_fen).unwrap_or(0), &weights);
    let mut out = vec![Fate::Open; n];
    for (k, (i, m)) in written_off.into_iter().zip(money).enumerate() {
        out[i] = Fate::WrittenOff {
            recovered_fen: m as i64,
            on_time: k >= target.late,
        };
    }
    out
}

/// The written-off entries of `inspection`.
pub(super) async fn written_off(cast: &Cast, inspection: &str) -> anyhow::Result<Vec<LedgerEntry>> {
    let filter = format!("inspection = \"{inspection}\" AND state = ENTRY_STATE_WRITTEN_OFF");
    list_entries(cast, &filter).await
}

async fn list_entries(cast: &Cast, filter: &str) -> anyhow::Result<Vec<LedgerEntry>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = cast
            .office
            .ledger()
            .list_entries(ListEntriesRequest {
                page_size: 1000,
                page_token: token,
                filter: filter.to_owned(),
                order_by: String::new(),
            })
            .await
            .map_err(|s| failed("listing entries", s))?
            .into_inner();
        out.extend(page.entries);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        token = page.next_page_token;
    }
}

/// Waits until the ledger has opened and handed over every entry of the
/// inspection, sorted by problem so seeds fall to entries the same way
/// every load.
async fn handed_over(
    cast: &Cast,
    inspection: &str,
    expected: usize,
) -> anyhow::Result<Vec<LedgerEntry>> {
    // The ledger follows the other services' events; under a full load on
    // a busy machine it may lag minutes behind.
    let deadline = Instant::now() + Duration::from_secs(600);
    let filter = format!("inspection = \"{inspection}\" AND state = ENTRY_STATE_HANDED_OVER");
    loop {
        let mut entries = list_entries(cast, &filter).await?;
        if entries.len() >= expected {
            entries.sort_by(|a, b| a.problem.cmp(&b.problem));
            return Ok(entries);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the ledger handed over {} of {expected} entries of {inspection} within ten minutes",
            entries.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
