//! The rounds service's tables, migrations and queries.

pub mod groups;
pub mod hand_offs;
pub mod inspections;
pub mod inspectors;
pub mod migrations;
pub mod organisations;
pub mod rounds;

pub use migrations::Migrator;

use fiveledger_platform::storage::{exists_or_internal, update_if_revision};
use fiveledger_platform::{ApiError, ApiResult};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
};

type ColumnOf<A> = <<A as ActiveModelTrait>::Entity as EntityTrait>::Column;

/// Inserts a whole new row; a unique violation is ALREADY_EXISTS naming
/// `resource`.
async fn insert_row<A>(
    conn: &impl ConnectionTrait,
    row: A,
    resource: impl FnOnce() -> String,
) -> ApiResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    row.reset_all()
        .insert(conn)
        .await
        .map_err(exists_or_internal(resource))
}

/// Writes a whole row over the one still at `revision` (ABORTED if it has
/// moved on, as a stale etag would be), with the next revision; the update
/// time is the row's own (the caller's clock).
async fn save_row<A>(
    conn: &impl ConnectionTrait,
    row: A,
    (revision_column, revision): (ColumnOf<A>, i64),
    resource: &str,
) -> ApiResult<()>
where
    A: ActiveModelTrait + Send,
{
    let mut row = row.reset_all();
    row.set(revision_column, (revision + 1).into());
    update_if_revision(conn, row, revision_column, revision, || resource.to_owned()).await
}

/// The row if there is one the caller may see (`sees`); NOT_FOUND naming
/// `name` otherwise, never saying which.
fn seen<M>(row: Option<M>, name: &str, sees: impl FnOnce(&M) -> bool) -> ApiResult<M> {
    match row {
        Some(row) if sees(&row) => Ok(row),
        _ => Err(ApiError::not_found(name)),
    }
}
