//! Expand/contract upgrades: which binaries may serve which schema.
//!
//! Each service's migrator lists its migrations as [`Step`]s, each marked
//! [`Change::Expand`] (additive: binaries of earlier schema versions still
//! work) or [`Change::Contract`] (destructive: only binaries that know it
//! work), and declares the schema version it needs ([`Schema::VERSION`],
//! the number of its steps). The migrate step records in `schema_compat`
//! the version the database is at and the oldest binary version that can
//! serve it (the version of its latest contract step). A binary serves when
//! the schema is at least its own version and its own version is at least
//! that oldest one: it never compares migration lists, so after a release
//! that only expanded the schema the previous binary still starts (a
//! rollback), where the migration library would refuse a database that
//! records a migration it does not know.

use std::fmt;

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use sea_orm_migration::prelude::*;

/// What a migration does to the binaries of earlier releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Adds (tables, nullable or defaulted columns, indexes): the binaries
    /// of the release before still work against it.
    Expand,
    /// Removes or changes what earlier binaries read or write (drops,
    /// renames, new constraints): binaries before it may no longer serve.
    /// Ship it only in a release after the one that stopped using the old
    /// shape, so a rollback by one release still works.
    Contract,
}

/// One migration of a service's list and what it does to older binaries.
pub struct Step {
    pub change: Change,
    pub migration: Box<dyn MigrationTrait>,
}

impl Step {
    pub fn expand(migration: impl MigrationTrait + 'static) -> Self {
        Self {
            change: Change::Expand,
            migration: Box::new(migration),
        }
    }

    pub fn contract(migration: impl MigrationTrait + 'static) -> Self {
        Self {
            change: Change::Contract,
            migration: Box::new(migration),
        }
    }
}

/// A service's migrations with their compatibility.
pub trait Schema: MigratorTrait {
    /// The schema version this binary needs and migrates to: the number of
    /// its steps (raise it with every migration added).
    const VERSION: i64;

    /// The migrations in order, each marked expand or contract.
    fn steps() -> Vec<Step>;
}

/// `MigratorTrait::migrations` of a [`Schema`]: its steps' migrations.
pub fn migrations<S: Schema>() -> Vec<Box<dyn MigrationTrait>> {
    S::steps().into_iter().map(|s| s.migration).collect()
}

/// The oldest binary version that can serve `S`'s schema: the version
/// (1-based position) of its latest contract step, 0 without one.
pub fn oldest_compatible<S: Schema>() -> i64 {
    S::steps()
        .iter()
        .rposition(|s| s.change == Change::Contract)
        .map_or(0, |i| i as i64 + 1)
}

/// `S::VERSION` must count its steps: a migration added without raising
/// it would let the binary before it claim a schema it does not have.
pub fn declared_version<S: Schema>() -> anyhow::Result<i64> {
    let steps = S::steps().len() as i64;
    anyhow::ensure!(
        S::VERSION == steps,
        "the migrator declares schema version {} but lists {steps} migrations: set VERSION to {steps}",
        S::VERSION
    );
    Ok(S::VERSION)
}

/// What the database records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub schema_version: i64,
    pub oldest_compatible: i64,
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "schema version {}, served by binaries of version {} or later",
            self.schema_version, self.oldest_compatible
        )
    }
}

const TABLE: &str = "schema_compat";

/// What the database records, `None` before its first compatibility-aware
/// migration (a fresh database, or one of a release before this table).
pub async fn read(conn: &impl ConnectionTrait) -> Result<Option<Recorded>, DbErr> {
    let backend = conn.get_database_backend();
    let exists = match backend {
        DbBackend::Postgres => format!(
            "SELECT count(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '{TABLE}'"
        ),
        _ => format!(
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{TABLE}'"
        ),
    };
    let tables: i64 = match conn
        .query_one_raw(Statement::from_string(backend, exists))
        .await?
    {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    if tables == 0 {
        return Ok(None);
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT schema_version, oldest_compatible FROM {TABLE} WHERE id = 1"),
        ))
        .await?;
    row.map(|row| {
        Ok(Recorded {
            schema_version: row.try_get("", "schema_version")?,
            oldest_compatible: row.try_get("", "oldest_compatible")?,
        })
    })
    .transpose()
}

/// Records `recorded` (after the migrations ran, in their transaction on
/// PostgreSQL).
pub async fn record(conn: &impl ConnectionTrait, recorded: Recorded) -> Result<(), DbErr> {
    let insert = Query::insert()
        .into_table(TABLE)
        .columns(["id", "schema_version", "oldest_compatible", "update_time"])
        .values_panic([
            1.into(),
            recorded.schema_version.into(),
            recorded.oldest_compatible.into(),
            Expr::current_timestamp(),
        ])
        .on_conflict(
            OnConflict::column("id")
                .update_columns(["schema_version", "oldest_compatible", "update_time"])
                .to_owned(),
        )
        .to_owned();
    conn.execute(&insert).await?;
    Ok(())
}

/// Whether a binary of schema version `needs` may serve a database that
/// records `recorded`; the error names both versions and what to do.
pub fn check(service: &str, needs: i64, recorded: Option<Recorded>) -> anyhow::Result<Recorded> {
    let Some(db) = recorded else {
        anyhow::bail!(
            "the {service} database records no schema version (not migrated yet, or last \
             migrated by a release before schema versions); this binary needs schema version \
             {needs}: run the migrations first (`fiveledger-{service} migrate`, the migration Job, \
             or `fiveledger migrate`), or start with database.migrate=true"
        );
    };
    anyhow::ensure!(
        db.schema_version >= needs,
        "the {service} database is at schema version {}; this binary needs schema version \
         {needs}: run this release's migrations first (`fiveledger-{service} migrate`, the \
         migration Job, or `fiveledger migrate`), or start with database.migrate=true",
        db.schema_version
    );
    anyhow::ensure!(
        needs >= db.oldest_compatible,
        "the {service} database is at schema version {} and is served only by binaries of \
         schema version {} or later (a later release contracted it); this binary is of schema \
         version {needs}: deploy a release of schema version {} or later, or restore a backup \
         taken before the contraction",
        db.schema_version,
        db.oldest_compatible,
        db.oldest_compatible
    );
    Ok(db)
}

/// What a migrate step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// What the database recorded before (`None`: nothing).
    pub before: Option<Recorded>,
    pub after: Recorded,
}

impl fmt::Display for Migrated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.before {
            Some(before) if before == self.after => write!(f, "already at {}", self.after),
            Some(before) => write!(f, "{} → {}", before.schema_version, self.after),
            None => write!(f, "migrated to {}", self.after),
        }
    }
}

/// Migrates to `S`'s schema unless the database is already there or
/// beyond (then only checks that this binary may serve it): a binary of
/// the release before never runs the migration library against a newer
/// schema, which would refuse the migrations it does not know.
pub async fn migrate<'c, S: Schema, C>(service: &str, conn: &'c C) -> anyhow::Result<Migrated>
where
    C: ConnectionTrait,
    &'c C: sea_orm_migration::IntoSchemaManagerConnection<'c>,
{
    let needs = declared_version::<S>()?;
    let before = read(conn).await?;
    if let Some(db) = before.filter(|db| db.schema_version >= needs) {
        check(service, needs, Some(db))?;
        return Ok(Migrated { before, after: db });
    }
    S::up(conn, None).await?;
    let after = Recorded {
        schema_version: needs,
        oldest_compatible: std::cmp::max(
            oldest_compatible::<S>(),
            before.map_or(0, |db| db.oldest_compatible),
        ),
    };
    record(conn, after).await?;
    Ok(Migrated { before, after })
}

/// The migration creating `schema_compat`. A contract step: binaries from
/// before it do not read the table (and refuse a database that records
/// migrations they do not know).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .if_not_exists()
                    .col(ColumnDef::new("id").integer().not_null().primary_key())
                    .col(ColumnDef::new("schema_version").big_integer().not_null())
                    .col(ColumnDef::new("oldest_compatible").big_integer().not_null())
                    .col(
                        ColumnDef::new("update_time")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(schema_version: i64, oldest_compatible: i64) -> Option<Recorded> {
        Some(Recorded {
            schema_version,
            oldest_compatible,
        })
    }

    #[test]
    fn a_binary_serves_an_expanded_schema_but_not_an_older_or_contracted_one() {
        assert!(check("rounds", 8, at(8, 8)).is_ok());
        // Two expand migrations newer: the previous binary still serves.
        assert!(check("rounds", 8, at(10, 8)).is_ok());
        let older = check("rounds", 9, at(8, 8))
            .expect_err("too old")
            .to_string();
        assert!(
            older.contains("schema version 8") && older.contains("needs schema version 9"),
            "{older}"
        );
        assert!(older.contains("fiveledger-rounds migrate"), "{older}");
        let contracted = check("rounds", 8, at(10, 10))
            .expect_err("contracted")
            .to_string();
        assert!(
            contracted.contains("schema version 10 or later")
                && contracted.contains("schema version 8"),
            "{contracted}"
        );
        let none = check("rounds", 8, None)
            .expect_err("unmigrated")
            .to_string();
        assert!(none.contains("records no schema version"), "{none}");
    }
}
