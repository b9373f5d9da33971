//! The `entries` table: each entry's projection, kept with its postings.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub problem: String,
    pub inspection: String,
    pub round: String,
    pub target_path: String,
    /// The organisation running the round ("" for entries opened before
    /// it was kept).
    pub round_organisation_path: String,
    pub responsible_unit_path: String,
    pub supervising_body_path: String,
    pub receiving_body_path: String,
    pub category: String,
    pub severity: i32,
    /// `EntryState` by its proto name.
    pub state: String,
    pub due_date: String,
    pub original_due_date: String,
    pub posting_count: i64,
    pub journal_head: String,
    pub snapshot: Vec<u8>,
    pub create_time_us: i64,
    pub update_time_us: i64,
    // Figures for statistics and the sweep, kept with the projection.
    pub fixed_on_the_spot: i32,
    pub transfer_count: i32,
    pub reopen_count: i32,
    /// `YYYY-MM-DD` of the first approved write-off, "" before.
    pub first_written_off_date: String,
    pub funds_recovered_fen: i64,
    pub losses_recovered_fen: i64,
    pub people_held_accountable: i64,
    pub people_disciplined: i64,
    pub rules_established: i64,
    /// The entry deadline's ladder: floor colour and yellows before the
    /// current due date (enough to compute the colour in SQL).
    pub colour_floor: i32,
    pub yellow_count: i32,
    /// Earliest due date among the open items, "" when none.
    pub next_due_date: String,
    /// Highest recorded colour or floor among the open items.
    pub attention: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn paths(&self) -> crate::domain::scope::EntryPaths<'_> {
        crate::domain::scope::EntryPaths {
            target_path: &self.target_path,
            round_organisation_path: &self.round_organisation_path,
            handed_over: self.state != fiveledger_proto::ledgers::EntryState::Open.as_str_name(),
            responsible_unit_path: &self.responsible_unit_path,
            supervising_body_path: &self.supervising_body_path,
            receiving_body_path: &self.receiving_body_path,
            // Not on the row (older migrations read rows with this
            // release's columns): `steps::visible_row` reads the snapshot.
            functional_department_path: "",
        }
    }
}

/// The colour of an entry's own deadline on `today`, as SQL: the shared
/// rule (`ColourRule::sql`) over this table's columns, an integer
/// `Colour::code` (the same colour `warning::colour_now` computes for the
/// entry item on read).
pub fn colour(today: chrono::NaiveDate, t: &crate::domain::warning::Thresholds) -> Expr {
    use fiveledger_platform::colour::ItemColumns;
    use fiveledger_proto::ledgers::EntryState;
    use sea_orm::Condition;
    use sea_orm::sea_query::ExprTrait;
    t.rule().sql(
        today,
        &ItemColumns {
            due: Expr::col(Column::DueDate),
            closed: Condition::all().add(
                Expr::col(Column::State)
                    .eq(Expr::Constant(EntryState::WrittenOff.as_str_name().into())),
            ),
            yellows: Expr::col(Column::YellowCount),
            floor: Expr::col(Column::ColourFloor),
        },
    )
}
