//! What ListProblems asks of a problem's list, kept on the problem row:
//! the list's state, whether feedback handed it over, and the level running
//! its round. Reading them through the list row by row (a correlated
//! EXISTS per problem) made a list's page cost grow with the problems it
//! skipped: an office asking for the reported lists' problems read some
//! six thousand problems and their lists for one page at 200,000.
//!
//! The database keeps the copies in step, by triggers: a problem takes its
//! list's facts when inserted, and a change of a list's facts is copied to
//! its problems in the same transaction. So they hold whichever binary
//! writes, including the release before this one during a rollout or after
//! a rollback (an expand step), and no code path can forget them. Problems
//! of an inspection without a list row keep the defaults, which are an
//! open list not yet handed over, as the list rules read a missing row.

use fiveledger_platform::storage::path_column;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The list's facts, as the problem columns hold them, of the list row `l`.
const FACTS: &str = "(list_state, list_handed_over, list_round_organisation_path)";
const FROM_LIST: &str = "l.state, l.feedback_date IS NOT NULL, l.round_organisation_path";

/// Copies each list's facts to the problems matching `problems`' condition
/// (written on the `problems` row): the backfill, and SQLite's insert
/// trigger.
fn copy_facts(problems: &str) -> String {
    format!(
        "UPDATE problems SET {FACTS} = \
           (SELECT {FROM_LIST} FROM problem_lists l WHERE l.inspection = problems.inspection) \
         WHERE {problems} \
           AND EXISTS (SELECT 1 FROM problem_lists l WHERE l.inspection = problems.inspection)"
    )
}

/// Copies a list row `NEW`'s facts to its problems (the list triggers).
const LIST_TO_PROBLEMS: &str = "UPDATE problems SET list_state = NEW.state, \
       list_handed_over = NEW.feedback_date IS NOT NULL, \
       list_round_organisation_path = NEW.round_organisation_path \
     WHERE inspection = NEW.inspection";

/// Whether an update of a list row changed its facts (same text in both
/// dialects: `IS NOT` is SQLite's, `IS DISTINCT FROM` PostgreSQL's).
fn facts_changed(is_not: &str) -> String {
    format!(
        "OLD.state {is_not} NEW.state \
         OR (OLD.feedback_date IS NULL) <> (NEW.feedback_date IS NULL) \
         OR OLD.round_organisation_path {is_not} NEW.round_organisation_path"
    )
}

/// The backfill, for the migration and its test: every problem's facts
/// from its list row.
pub(crate) async fn backfill(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    db.execute_unprepared(&copy_facts("1 = 1")).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        for column in [
            ColumnDef::new("list_state")
                .string_len(64)
                .not_null()
                .default("PROBLEM_LIST_STATE_OPEN")
                .to_owned(),
            ColumnDef::new("list_handed_over")
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            path_column("list_round_organisation_path", backend)
                .default("")
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("problems")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        backfill(db).await?;
        let triggers = match backend {
            DbBackend::Postgres => vec![
                format!(
                    "CREATE FUNCTION problems_list_facts() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN \
                       SELECT {FROM_LIST} INTO NEW.list_state, NEW.list_handed_over, \
                           NEW.list_round_organisation_path \
                         FROM problem_lists l WHERE l.inspection = NEW.inspection; \
                       IF NOT FOUND THEN \
                         NEW.list_state := 'PROBLEM_LIST_STATE_OPEN'; \
                         NEW.list_handed_over := false; \
                         NEW.list_round_organisation_path := ''; \
                       END IF; \
                       RETURN NEW; \
                     END $$"
                ),
                "CREATE TRIGGER problems_list_facts BEFORE INSERT ON problems \
                 FOR EACH ROW EXECUTE FUNCTION problems_list_facts()"
                    .to_owned(),
                format!(
                    "CREATE FUNCTION problem_lists_facts() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN {LIST_TO_PROBLEMS}; RETURN NULL; END $$"
                ),
                "CREATE TRIGGER problem_lists_facts_insert AFTER INSERT ON problem_lists \
                 FOR EACH ROW EXECUTE FUNCTION problem_lists_facts()"
                    .to_owned(),
                format!(
                    "CREATE TRIGGER problem_lists_facts_update \
                     AFTER UPDATE OF state, feedback_date, round_organisation_path ON problem_lists \
                     FOR EACH ROW WHEN ({}) EXECUTE FUNCTION problem_lists_facts()",
                    facts_changed("IS DISTINCT FROM")
                ),
            ],
            _ => vec![
                format!(
                    "CREATE TRIGGER problems_list_facts AFTER INSERT ON problems \
                     BEGIN {}; END",
                    copy_facts("problems.id = NEW.id")
                        .replace("problems.inspection", "NEW.inspection")
                ),
                format!(
                    "CREATE TRIGGER problem_lists_facts_insert AFTER INSERT ON problem_lists \
                     BEGIN {LIST_TO_PROBLEMS}; END"
                ),
                format!(
                    "CREATE TRIGGER problem_lists_facts_update \
                     AFTER UPDATE OF state, feedback_date, round_organisation_path ON problem_lists \
                     WHEN {} BEGIN {LIST_TO_PROBLEMS}; END",
                    facts_changed("IS NOT")
                ),
            ],
        };
        for sql in triggers {
            db.execute_unprepared(&sql).await?;
        }
        // The state filter in the list's either order (keyset).
        super::m20261128_000001_issues::indexes(
            manager,
            "problems",
            &[
                ("problems_list_state", &["list_state", "id"]),
                (
                    "problems_list_state_create_time",
                    &["list_state", "create_time", "id"],
                ),
            ],
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use fiveledger_proto::issues::ProblemListState;
    use fiveledger_proto::rounds::Inspection;
    use sea_orm::{ConnectionTrait, Statement};

    use crate::storage::test_rows::{migrated_db, problem};
    use crate::storage::{problem_lists, problems};

    fn inspection(n: u32, running: &str) -> Inspection {
        Inspection {
            name: format!("rounds/r1/inspections/i{n}"),
            target: format!("organisations/u{n}"),
            target_path: format!("gx/nn/u{n}"),
            round_organisation_path: running.into(),
            ..Default::default()
        }
    }

    /// Each problem's copied facts: (id, state, handed over, running level).
    async fn facts(db: &impl ConnectionTrait) -> Vec<(String, String, bool, String)> {
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT id, list_state, list_handed_over, list_round_organisation_path \
                 FROM problems ORDER BY id",
            ))
            .await
            .expect("facts");
        rows.iter()
            .map(|r| {
                (
                    r.try_get_by_index(0).expect("id"),
                    r.try_get_by_index(1).expect("state"),
                    r.try_get_by_index(2).expect("handed over"),
                    r.try_get_by_index(3).expect("running level"),
                )
            })
            .collect()
    }

    fn row(
        id: &str,
        state: ProblemListState,
        handed: bool,
        running: &str,
    ) -> (String, String, bool, String) {
        (
            id.into(),
            state.as_str_name().into(),
            handed,
            running.into(),
        )
    }

    /// The triggers keep every problem's copy of its list's facts in step
    /// through each change the service makes (a list created, handed over,
    /// reported, frozen; a problem added before and after), and the
    /// backfill restores copies that went wrong, on either database.
    #[tokio::test]
    async fn problems_carry_their_lists_facts() {
        use ProblemListState::{Frozen, Open, Reported};
        let (_env, db) = migrated_db().await;
        let now = chrono::Utc::now();
        let day = now.date_naive();
        let (one, two) = (inspection(1, "gx/nn"), inspection(2, "gx"));

        // A problem recorded on a new list; another whose list has no row.
        let txn = db.begin().await.expect("begin");
        problem_lists::lock(&txn, &one, now).await.expect("lock");
        problems::insert(&txn, &problem("p1", &one))
            .await
            .expect("p1");
        problems::insert(&txn, &problem("p3", &two))
            .await
            .expect("p3");
        db.commit(txn).await.expect("commit");
        assert_eq!(
            facts(db.reader()).await,
            [row("p1", Open, false, "gx/nn"), row("p3", Open, false, "")]
        );

        // Feedback hands list 1 over; list 2's row is created by its lock.
        let txn = db.begin().await.expect("begin");
        problem_lists::hand_over(&txn, &one, day, now)
            .await
            .expect("hand over");
        problem_lists::lock(&txn, &two, now).await.expect("lock 2");
        db.commit(txn).await.expect("commit");
        assert_eq!(
            facts(db.reader()).await,
            [row("p1", Open, true, "gx/nn"), row("p3", Open, false, "gx")]
        );

        // List 1 reported, then a problem added to it; list 2 frozen.
        let txn = db.begin().await.expect("begin");
        let list = problem_lists::lock(&txn, &one, now).await.expect("lock");
        problem_lists::set_state(&txn, &list, Reported, true, now)
            .await
            .expect("reported");
        problems::insert(&txn, &problem("p2", &one))
            .await
            .expect("p2");
        let list = problem_lists::lock(&txn, &two, now).await.expect("lock 2");
        problem_lists::set_state(&txn, &list, Frozen, false, now)
            .await
            .expect("frozen");
        db.commit(txn).await.expect("commit");
        let expected = [
            row("p1", Reported, true, "gx/nn"),
            row("p2", Reported, true, "gx/nn"),
            row("p3", Frozen, false, "gx"),
        ];
        assert_eq!(facts(db.reader()).await, expected);

        // Copies gone wrong (as before the migration) are restored.
        let w = db.writer();
        w.execute_unprepared(
            "UPDATE problems SET list_state = 'PROBLEM_LIST_STATE_OPEN', \
             list_handed_over = (1 = 0), list_round_organisation_path = ''",
        )
        .await
        .expect("spoil");
        super::backfill(w).await.expect("backfill");
        assert_eq!(facts(db.reader()).await, expected);
    }
}
