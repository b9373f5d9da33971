//! What the storage tests share: a migrated database of their own (SQLite,
//! or PostgreSQL with `FIVELEDGER_TEST_DATABASE_URL`) and a problem row.

use fiveledger_platform::storage::Db;
use fiveledger_platform::testing::TestEnv;
use fiveledger_proto::rounds::Inspection;

use crate::storage::problems;

/// A fresh, migrated issues database; keep the [`TestEnv`] while it is used.
pub(crate) async fn migrated_db() -> (TestEnv, Db) {
    let env = TestEnv::new("issues");
    let db = Db::connect(
        &env.settings.database,
        &env.settings.data_dir.join("issues.sqlite"),
    )
    .await
    .expect("database");
    db.migrate_schema::<crate::storage::Migrator>("issues")
        .await
        .expect("migrated");
    (env, db)
}

/// A minor problem of `of`'s target, created now, no responsibility named.
pub(crate) fn problem(id: &str, of: &Inspection) -> problems::Model {
    let now = chrono::Utc::now();
    problems::Model {
        id: id.into(),
        inspection: of.name.clone(),
        round: "rounds/r1".into(),
        target: of.target.clone(),
        target_path: of.target_path.clone(),
        category: "c".into(),
        severity: "PROBLEM_SEVERITY_MINOR".into(),
        title: id.into(),
        description: String::new(),
        evidence: "[]".into(),
        fixed_date: None,
        fixed_action: String::new(),
        main_unit: String::new(),
        main_unit_path: String::new(),
        principal: String::new(),
        leader_in_charge: String::new(),
        supervising_body: String::new(),
        supervising_body_path: String::new(),
        supervising_body_routed: false,
        functional_department: String::new(),
        functional_department_path: String::new(),
        recorded_by: "t".into(),
        frozen: false,
        revision: 1,
        create_time: now,
        update_time: now,
    }
}
