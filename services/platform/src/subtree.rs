//! A list's subtree filter (`target_subtree = "gx/nn"`), and how SQLite
//! reads it.
//!
//! A subtree is a range of paths. Read through its index, its rows come
//! in path order, so every match is sorted before a page comes out: cheap
//! for a unit's few rows, but a city's share of a million entries is a
//! hundred thousand rows sorted for each page. For a broad subtree the page
//! is found sooner by walking the list's own order and filtering on the
//! path: about a page × table ÷ subtree rows read.
//!
//! SQLite cannot tell the two apart: it plans a range without knowing how
//! many rows it holds (and, with the planner stability guarantee the build
//! turns on, never looks at bound values). So a list first counts the
//! subtree's rows in the path's index, up to the size from which its walk
//! was measured faster than its sort (each list measures its own: its rows
//! are not all as cheap to check on a walk). A broad subtree's condition
//! is written on `+column`, which SQLite does not serve by an index, and
//! the list's order is walked.
//!
//! PostgreSQL estimates the range from its statistics, but badly for a
//! subtree: its histogram interpolates between paths that share the
//! subtree's prefix, and took a county's 10,000 problems of a million for
//! 130. A list whose walk there reads its index alone asks for the probe
//! on PostgreSQL too; a broad subtree is then written on `(column || '')`.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

use crate::storage::{unindexed_text, within_subtree};

/// A subtree a list is narrowed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtree {
    pub path: String,
    /// Filtered on a walk in the list's order, not read by its index.
    pub broad: bool,
    /// The database the probe counted on, whose form of a term no index
    /// serves a broad condition takes.
    pub backend: DbBackend,
}

impl Subtree {
    /// A subtree read by its index until [`Subtree::probe`] finds it broad.
    pub fn new(path: String) -> Self {
        Self {
            path,
            broad: false,
            backend: DbBackend::Sqlite,
        }
    }

    /// "`table.column` lies in the subtree".
    pub fn condition(&self, table: &'static str, column: &'static str) -> Expr {
        if !self.broad || self.path.is_empty() {
            return within_subtree((Alias::new(table), Alias::new(column)), &self.path);
        }
        let col = || unindexed_text(self.backend, table, column);
        col().eq(self.path.as_str()).or(col()
            .gte(format!("{}/", self.path))
            .and(col().lt(format!("{}0", self.path))))
    }

    /// Marks the subtree broad when `table` holds at least `broad_from`
    /// rows in it (counted in the index on `column`), on SQLite and, when
    /// `postgres`, on PostgreSQL.
    pub async fn probe(
        &mut self,
        conn: &impl ConnectionTrait,
        table: &'static str,
        column: &'static str,
        broad_from: u64,
        postgres: bool,
    ) -> Result<(), DbErr> {
        let backend = conn.get_database_backend();
        let probed = backend == DbBackend::Sqlite || (postgres && backend == DbBackend::Postgres);
        if !probed || self.path.is_empty() {
            return Ok(());
        }
        self.backend = backend;
        // One range, from the path itself to below `path0`: read from the
        // index alone, where the OR of `within_subtree` takes PostgreSQL
        // to a bitmap over the table's rows (a county of a million
        // problems: 7 ms against 2). It also counts a sibling that extends
        // the path by a byte below '0' (`gx/nn-x`): the count only chooses
        // a plan.
        let col = || Expr::col((Alias::new(table), Alias::new(column)));
        let rows = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(table))
            .and_where(col().gte(self.path.as_str()))
            .and_where(col().lt(format!("{}0", self.path)))
            .limit(broad_from)
            .to_owned();
        let count = Query::select()
            .expr_as(Expr::cust("count(*)"), Alias::new("n"))
            .from_subquery(rows, Alias::new("rows"))
            .to_owned();
        let n: i64 = match conn.query_one(&count).await? {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        self.broad = u64::try_from(n).unwrap_or(0) >= broad_from;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::SqliteQueryBuilder;

    #[test]
    fn a_broad_subtree_is_written_so_that_no_index_serves_it() {
        let sql = |s: &Subtree| {
            Query::select()
                .expr(Expr::val(1))
                .from(Alias::new("entries"))
                .and_where(s.condition("entries", "target_path"))
                .to_string(SqliteQueryBuilder)
        };
        let mut subtree = Subtree::new("gx/nn".into());
        assert!(sql(&subtree).contains(r#""entries"."target_path" >= 'gx/nn/'"#));
        subtree.broad = true;
        let broad = sql(&subtree);
        assert!(
            broad.contains(r#"(+"entries"."target_path") = 'gx/nn'"#),
            "{broad}"
        );
        assert!(
            broad.contains(r#"(+"entries"."target_path") >= 'gx/nn/'"#),
            "{broad}"
        );
        assert!(
            broad.contains(r#"(+"entries"."target_path") < 'gx/nn0'"#),
            "{broad}"
        );
    }

    /// A subtree holding `broad_from` rows or more is broad; one with
    /// fewer, or a sibling whose path shares its prefix, is not. On
    /// PostgreSQL (`FIVELEDGER_TEST_DATABASE_URL`) only a list that asks is
    /// probed, and its broad condition takes PostgreSQL's form.
    #[tokio::test]
    async fn the_probe_finds_a_subtree_broad_from_its_row_count() {
        use sea_orm::ConnectionTrait;
        let env = crate::testing::TestEnv::new("subtree");
        let db = crate::storage::Db::connect(
            &env.settings.database,
            &env.settings.data_dir.join("t.sqlite"),
        )
        .await
        .expect("database");
        let backend = db.backend();
        let w = db.writer();
        let collated = match backend {
            DbBackend::Postgres => r#"COLLATE "C""#,
            _ => "",
        };
        w.execute_unprepared(&format!("CREATE TABLE t (path TEXT {collated} NOT NULL)"))
            .await
            .expect("table");
        w.execute_unprepared("CREATE INDEX t_path ON t (path)")
            .await
            .expect("index");
        // BROAD rows under gx/nn (half at the city, half below it), BROAD - 1
        // under gx/bs, and a sibling gx/nnx that only shares a prefix.
        const BROAD: u64 = 4096;
        w.execute_unprepared(&format!(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n})
             INSERT INTO t (path) SELECT CASE WHEN i % 2 = 0 THEN 'gx/nn' ELSE 'gx/nn/x' || (i % 7) END FROM s
             UNION ALL SELECT 'gx/bs/y' FROM s WHERE i + 1 < {n}
             UNION ALL SELECT 'gx/nnx' FROM s",
            n = BROAD
        ))
        .await
        .expect("rows");
        let probed = |path: &str, postgres: bool| {
            let (db, path) = (db.clone(), path.to_owned());
            async move {
                let mut s = Subtree::new(path);
                s.probe(db.reader(), "t", "path", BROAD, postgres)
                    .await
                    .expect("probe");
                if s.broad {
                    assert_eq!(s.backend, db.backend(), "probed on");
                }
                s.broad
            }
        };
        assert!(probed("gx/nn", true).await, "BROAD rows");
        assert!(!probed("gx/bs", true).await, "one row fewer");
        assert!(!probed("gx/nn/x1", true).await, "a seventh of them");
        assert!(probed("gx", true).await, "the whole region");
        assert!(!probed("", true).await, "the whole tree is no filter");
        assert_eq!(
            probed("gx/nn", false).await,
            backend == DbBackend::Sqlite,
            "a list that does not ask is probed on SQLite only"
        );
    }

    #[test]
    fn a_broad_subtree_on_postgres_is_written_on_the_column_joined_to_nothing() {
        use sea_orm::sea_query::PostgresQueryBuilder;
        let subtree = Subtree {
            path: "gx/nn".into(),
            broad: true,
            backend: DbBackend::Postgres,
        };
        let sql = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new("problems"))
            .and_where(subtree.condition("problems", "target_path"))
            .to_string(PostgresQueryBuilder);
        for bound in ["= 'gx/nn'", ">= 'gx/nn/'", "< 'gx/nn0'"] {
            assert!(
                sql.contains(&format!(r#"("problems"."target_path" || '') {bound}"#)),
                "{bound}: {sql}"
            );
        }
    }
}
