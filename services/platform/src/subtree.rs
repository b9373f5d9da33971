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
//! the list's order is walked. PostgreSQL estimates the range from its
//! statistics and chooses itself: it is never probed.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

use crate::storage::{unindexed, within_subtree};

/// A subtree a list is narrowed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtree {
    pub path: String,
    /// Filtered on a walk in the list's order, not read by its index.
    pub broad: bool,
}

impl Subtree {
    /// A subtree read by its index until [`Subtree::probe`] finds it broad.
    pub fn new(path: String) -> Self {
        Self { path, broad: false }
    }

    /// "`table.column` lies in the subtree".
    pub fn condition(&self, table: &'static str, column: &'static str) -> Expr {
        if !self.broad || self.path.is_empty() {
            return within_subtree((Alias::new(table), Alias::new(column)), &self.path);
        }
        let col = || unindexed(table, column);
        col().eq(self.path.as_str()).or(col()
            .gte(format!("{}/", self.path))
            .and(col().lt(format!("{}0", self.path))))
    }

    /// Marks the subtree broad when `table` holds at least `broad_from`
    /// rows in it (on SQLite; counted in the index on `column`).
    pub async fn probe(
        &mut self,
        conn: &impl ConnectionTrait,
        table: &'static str,
        column: &'static str,
        broad_from: u64,
    ) -> Result<(), DbErr> {
        if conn.get_database_backend() != DbBackend::Sqlite || self.path.is_empty() {
            return Ok(());
        }
        let rows = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(table))
            .and_where(within_subtree(
                (Alias::new(table), Alias::new(column)),
                &self.path,
            ))
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
    /// fewer, or a sibling whose path shares its prefix, is not.
    #[tokio::test]
    async fn the_probe_finds_a_subtree_broad_from_its_row_count() {
        use sea_orm::ConnectionTrait;
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::storage::Db::connect(
            &crate::settings::DatabaseSettings::default(),
            &dir.path().join("t.sqlite"),
        )
        .await
        .expect("database");
        let w = db.writer();
        w.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, path TEXT NOT NULL)")
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
        let probed = |path: &str| {
            let (db, path) = (db.clone(), path.to_owned());
            async move {
                let mut s = Subtree::new(path);
                s.probe(db.reader(), "t", "path", BROAD)
                    .await
                    .expect("probe");
                s.broad
            }
        };
        assert!(probed("gx/nn").await, "BROAD rows");
        assert!(!probed("gx/bs").await, "one row fewer");
        assert!(!probed("gx/nn/x1").await, "a seventh of them");
        assert!(probed("gx").await, "the whole region");
        assert!(!probed("").await, "the whole tree is no filter");
    }
}
