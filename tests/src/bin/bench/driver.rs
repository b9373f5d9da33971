//! What the SQLite driver costs a statement (#17): one organisation row
//! read by the suite's own reader pool (sea-orm over sqlx, whose SQLite
//! connection is a thread of its own, so each statement is a hand-off to
//! it and back) against the same statement run on the calling task's
//! thread (rusqlite, one read-only connection per thread, no hand-off).
//! Neither goes through gRPC, so the difference is the driver's alone: what
//! a writer running a whole batch on its own connection would save per
//! statement.

use std::cell::RefCell;
use std::path::PathBuf;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::measure::{Report, measure};

/// The statement both sides run: a row by its primary key, four of its
/// text columns decoded.
const SQL: &str =
    "SELECT \"id\", \"display_name\", \"kind\", \"path\" FROM \"organisations\" WHERE \"id\" = ?";

/// The row by sea-orm on the service's reader pool, then on the calling
/// thread, `c` in flight; `cities` rows to spread the reads over.
pub async fn floor(
    suite: &fiveledger_e2e::TestSuite,
    n: usize,
    c: usize,
    cities: usize,
) -> anyhow::Result<(Report, Report)> {
    let file = crate::lists::sqlite_file(&crate::lists::settings(suite, "rounds"), "rounds");
    let db = crate::lists::open(suite, "rounds").await?;
    let reader = db.reader().clone();
    let pooled = measure(
        format!("organisation row by sea-orm/sqlx (a thread hand-off), {c} in flight"),
        n,
        c,
        move |i| {
            let reader = reader.clone();
            async move {
                let row = reader
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        SQL,
                        [city(i, cities).into()],
                    ))
                    .await
                    .map_err(|e| tonic::Status::internal(e.to_string()))?
                    .ok_or_else(|| tonic::Status::not_found(city(i, cities)))?;
                for k in 0..4 {
                    row.try_get_by_index::<String>(k)
                        .map_err(|e| tonic::Status::internal(format!("{e:?}")))?;
                }
                Ok(())
            }
        },
    )
    .await;
    let inline = measure(
        format!("organisation row by rusqlite on the calling thread, {c} in flight"),
        n,
        c,
        move |i| {
            let result = read_inline(&file, &city(i, cities))
                .map_err(|e| tonic::Status::internal(e.to_string()));
            async move { result }
        },
    )
    .await;
    db.close().await;
    Ok((pooled, inline))
}

fn city(i: usize, cities: usize) -> String {
    format!("city-{}", i % cities)
}

thread_local! {
    /// This thread's read-only connection to the file it was opened on.
    static CONNECTION: RefCell<Option<(PathBuf, rusqlite::Connection)>> =
        const { RefCell::new(None) };
}

/// Reads the row as [`SQL`] does, on this thread's connection.
fn read_inline(file: &std::path::Path, id: &str) -> rusqlite::Result<()> {
    CONNECTION.with_borrow_mut(|slot| {
        if slot.as_ref().is_none_or(|(path, _)| path != file) {
            let conn = rusqlite::Connection::open_with_flags(
                file,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            *slot = Some((file.to_owned(), conn));
        }
        let (_, conn) = slot.as_ref().expect("opened above");
        let mut statement = conn.prepare_cached(SQL)?;
        statement.query_row([id], |row| {
            for k in 0..4 {
                row.get::<_, String>(k)?;
            }
            Ok(())
        })
    })
}
