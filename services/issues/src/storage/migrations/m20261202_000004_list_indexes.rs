//! Indexes so that every documented filter of ListProblems reads one page
//! by walking an index in the list's order (keyset), whatever the table's
//! size: leading columns the filter's equality, trailing columns the order
//! (`id`, or `create_time, id`). Filters that already had theirs
//! (inspection, round and category by id, the responsibility lists) keep
//! them. Severity has none on purpose: with three values, walking the
//! order's own index and skipping the other two reads about three rows per
//! row listed. Filters whose matches are few (one inspection, one leader)
//! sort them instead of keeping a second index by `create_time`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in [
            // `frozen`: the unfrozen are few once lists are frozen.
            ("problems_frozen", &["frozen", "id"][..]),
            (
                "problems_frozen_create_time",
                &["frozen", "create_time", "id"],
            ),
            // `leader_in_charge`: a leader's problems are few among many.
            ("problems_leader_in_charge", &["leader_in_charge", "id"]),
            // A round's or a category's problems are many: sorting them
            // by `create_time` would read them all for one page.
            (
                "problems_round_create_time",
                &["round", "create_time", "id"],
            ),
            (
                "problems_category_create_time",
                &["category", "create_time", "id"],
            ),
            // Lists (3) and (4): a body or department holds its level's
            // problems (a unit's list (1) is small enough to sort).
            (
                "problems_supervising_body_create_time",
                &["supervising_body", "create_time", "id"],
            ),
            (
                "problems_functional_department_create_time",
                &["functional_department", "create_time", "id"],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table("problems");
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
