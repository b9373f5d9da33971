//! Events that carry problems in bulk (a frozen list, an import), written in
//! bounded parts so that none outgrows what a `WatchEvents` stream delivers.

use fiveledger_platform::outbox::{self, EventContext};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::issues::{Problem, ProblemsImported};
use sea_orm::DatabaseTransaction;

/// Bounds of one part of an event carrying problems: 512 KiB and 500
/// problems. The largest legal problem (every text at its longest, 50
/// evidence references) is about 120 KB, so a part stays far below the
/// outbox's bound; 500 problems keep each consumer's transaction short.
pub const EVENT_PART: (usize, usize) = (512 * 1024, 500);

/// Writes `ProblemsImported` for the problems one import created.
pub async fn append_imported(
    txn: &DatabaseTransaction,
    ctx: &EventContext,
    inspection: &str,
    problems: &[Problem],
) -> ApiResult<()> {
    let problem_count = i32::try_from(problems.len()).map_err(ApiError::internal)?;
    outbox::append_parts(
        txn,
        ctx,
        inspection,
        problems,
        EVENT_PART,
        |part_problems, part, part_count| ProblemsImported {
            inspection: inspection.to_owned(),
            problems: part_problems.to_vec(),
            part,
            part_count,
            problem_count,
        },
    )
    .await?;
    Ok(())
}
