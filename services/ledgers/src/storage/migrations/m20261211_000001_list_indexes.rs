//! Indexes so that ListEntries ordered by `due_date` reads one page by
//! walking an index in that order (keyset) when it is filtered by a value
//! shared by many entries: the state, the round, the category. Ordered by
//! `name`, each filter already had its `(column, id)` index; the filters
//! whose matches are few (an inspection, a problem) sort them instead.
//! Severity has none on purpose: with three values, walking the order's
//! own index and skipping the other two reads about three rows per row
//! listed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in [
            ("entries_state_due", &["state", "due_date", "id"][..]),
            ("entries_round_due", &["round", "due_date", "id"]),
            ("entries_category_due", &["category", "due_date", "id"]),
        ] {
            let mut index = Index::create();
            index.name(name).table("entries");
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}
