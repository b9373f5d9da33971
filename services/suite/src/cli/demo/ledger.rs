//! The ledger's side of an inspection: waiting for it to open and hand over
//! the entries (it follows the other services' events asynchronously),
//! driving them side by side, and a look-back's reopening.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Days;
use fiveledger_proto::ledgers::{LedgerEntry, ListEntriesRequest, ReopenRequest};
use futures::{StreamExt, TryStreamExt, stream};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::calendar::{Calendar, date, date_of};
use super::entry::EntryContext;
use super::{Cast, add, step};
use crate::cli::connect::failed;

/// Entries of one inspection driven at once.
const ENTRIES_AT_ONCE: usize = 4;

/// Takes the `expected` entries of `inspection` through their steps, once
/// the ledger has handed them over.
pub(super) async fn drive_all(
    ctx: &EntryContext<'_>,
    inspection: &str,
    expected: usize,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let entries = handed_over(&ctx.story.cast, inspection, expected).await?;
    // Each entry has its own story (and seed), so they load side by side.
    let seeds: Vec<u64> = entries.iter().map(|_| rng.random()).collect();
    stream::iter(entries.iter().zip(seeds))
        .map(|(entry, seed)| async move {
            ctx.drive(entry, StdRng::seed_from_u64(seed))
                .await
                .with_context(|| format!("driving {}", entry.name))
        })
        .buffer_unordered(ENTRIES_AT_ONCE)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// Reopens the first written-off entry of the `earlier` inspection into
/// `inspection` (rectified on paper only) and plans it anew.
pub(super) async fn reopen_one(
    ctx: &EntryContext<'_>,
    earlier: &str,
    inspection: &str,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let (cast, today) = (&ctx.story.cast, ctx.story.today);
    let written_off = list_entries(
        cast,
        &format!("inspection = \"{earlier}\" AND state = ENTRY_STATE_WRITTEN_OFF"),
    )
    .await?;
    let Some(entry) = written_off.first() else {
        return Ok(());
    };
    let mut days = Calendar::new(
        date_of(entry.last_step_date.as_ref()).unwrap_or(ctx.feedback),
        today,
    );
    let e = cast
        .office
        .ledger()
        .reopen(ReopenRequest {
            name: entry.name.clone(),
            inspection: inspection.to_owned(),
            reason: "回头看发现整改不到位，存在文字整改".into(),
            due_date: date(today + Days::new(rng.random_range(20..90))),
            effective_date: days.at(ctx.feedback),
            ..Default::default()
        })
        .await
        .map_err(step("reopening an entry"))?
        .into_inner();
    add(&ctx.story.tally.reopened, 1);
    ctx.plan(
        &e,
        today + Days::new(rng.random_range(20..90)),
        &mut days,
        rng,
    )
    .await?;
    Ok(())
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
    let deadline = Instant::now() + Duration::from_secs(120);
    let filter = format!("inspection = \"{inspection}\" AND state = ENTRY_STATE_HANDED_OVER");
    loop {
        let mut entries = list_entries(cast, &filter).await?;
        if entries.len() >= expected {
            entries.sort_by(|a, b| a.problem.cmp(&b.problem));
            return Ok(entries);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the ledger handed over {} of {expected} entries of {inspection} within two minutes",
            entries.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
