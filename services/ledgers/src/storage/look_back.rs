//! Look-back campaigns (整改"回头看"): every record (self-check report, key
//! problem, supervision suggestion, spot check) is one row of
//! `look_back_records` holding its proto, with the round and paths that
//! scope it. `unique_key` is unique per kind (the inspection of a report,
//! the entry of a key problem; the id otherwise); `revision` guards updates.

use fiveledger_platform::aip::names;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::storage::{exists_or_internal, within_subtree};
use fiveledger_platform::{ApiError, ApiResult};
use fiveledger_proto::ledgers::SelfCheckLine;
use prost::Message;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::books::{self, ListQuery};
use crate::domain::scope::{EntryPaths, look_back_paths, sees_look_back};
use crate::domain::warning;

/// The `look_back_records` table.
pub mod records {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "look_back_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// [`super::Kind`] by its name.
        pub kind: String,
        pub unique_key: String,
        /// `rounds/{round}`.
        pub round: String,
        /// The organisation that ran the round.
        pub round_organisation_path: String,
        /// The inspected organisation, or the entry's responsible unit.
        pub unit_path: String,
        pub revision: i64,
        pub snapshot: Vec<u8>,
        pub create_time_us: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The kinds of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SelfCheckReport,
    KeyProblem,
    SupervisionSuggestion,
    SpotCheck,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SelfCheckReport => "self_check_report",
            Kind::KeyProblem => "key_problem",
            Kind::SupervisionSuggestion => "supervision_suggestion",
            Kind::SpotCheck => "spot_check",
        }
    }
}

/// Where a record sits: its round and the paths that scope it.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub round: String,
    pub round_organisation_path: String,
    pub unit_path: String,
}

impl Place {
    /// The paths scope decisions look at.
    pub fn paths(&self) -> EntryPaths<'_> {
        look_back_paths(&self.round_organisation_path, &self.unit_path)
    }
}

impl records::Model {
    pub fn place(&self) -> Place {
        Place {
            round: self.round.clone(),
            round_organisation_path: self.round_organisation_path.clone(),
            unit_path: self.unit_path.clone(),
        }
    }

    /// Its proto.
    pub fn decode<M: Message + Default>(&self) -> ApiResult<M> {
        M::decode(self.snapshot.as_slice()).map_err(ApiError::internal)
    }
}

/// A record to store.
pub struct NewRecord<'a> {
    pub kind: Kind,
    pub id: &'a str,
    /// Unique per kind: a second record with it is refused.
    pub unique_key: &'a str,
    pub place: &'a Place,
    /// Its proto.
    pub snapshot: Vec<u8>,
    pub create_time_us: i64,
}

/// Stores a new record; another of its kind with the same `unique_key` is
/// ALREADY_EXISTS naming `taken` (also when two are stored at once).
pub async fn insert(
    conn: &impl ConnectionTrait,
    record: NewRecord<'_>,
    taken: &str,
) -> ApiResult<()> {
    let place = record.place;
    records::Entity::insert(records::ActiveModel {
        id: Set(record.id.to_owned()),
        kind: Set(record.kind.as_str().to_owned()),
        unique_key: Set(record.unique_key.to_owned()),
        round: Set(place.round.clone()),
        round_organisation_path: Set(place.round_organisation_path.clone()),
        unit_path: Set(place.unit_path.clone()),
        revision: Set(0),
        snapshot: Set(record.snapshot),
        create_time_us: Set(record.create_time_us),
    })
    .exec_without_returning(conn)
    .await
    .map_err(exists_or_internal(|| taken.to_owned()))?;
    Ok(())
}

/// The record `id` of `kind`, if any.
pub async fn find(
    conn: &impl ConnectionTrait,
    kind: Kind,
    id: &str,
) -> ApiResult<Option<records::Model>> {
    Ok(records::Entity::find_by_id(id.to_owned())
        .filter(records::Column::Kind.eq(kind.as_str()))
        .one(conn)
        .await?)
}

/// The record `name` (`{collection}/{id}`) of `kind` if `caller` sees it,
/// else NOT_FOUND (as an unknown one).
pub async fn find_visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    kind: Kind,
    collection: &str,
    name: &str,
) -> ApiResult<records::Model> {
    let id = names::parse("name", name, collection)?;
    find(conn, kind, id)
        .await?
        .filter(|row| sees_look_back(caller, &row.place().paths()))
        .ok_or_else(|| ApiError::not_found(name))
}

/// The organisation's rectification ledger (整改台账) as the books hold it
/// in `conn` now: a line per entry of `q` that `caller` sees, coloured for
/// `q.today`.
pub async fn compile_ledger(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    q: &ListQuery,
) -> ApiResult<Vec<SelfCheckLine>> {
    books::list(conn, caller, q)
        .await?
        .iter()
        .map(|row| {
            let mut entry = books::decode_snapshot(row)?;
            warning::paint(&mut entry, q.today, &q.thresholds);
            Ok(SelfCheckLine {
                entry: entry.name,
                title: entry.title,
                state: entry.state,
                due_date: entry.due_date,
                reopen_count: entry.reopen_count,
                colour: entry.colour,
            })
        })
        .collect()
}

/// Replaces a record's proto if it is still at `row.revision` (ABORTED
/// otherwise: another change came first).
pub async fn update(
    conn: &impl ConnectionTrait,
    row: &records::Model,
    snapshot: Vec<u8>,
    resource: &str,
) -> ApiResult<()> {
    let updated = records::Entity::update_many()
        .col_expr(records::Column::Snapshot, Expr::value(snapshot))
        .col_expr(records::Column::Revision, Expr::value(row.revision + 1))
        .filter(records::Column::Id.eq(row.id.clone()))
        .filter(records::Column::Revision.eq(row.revision))
        .exec(conn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::Aborted {
            resource: resource.to_owned(),
        });
    }
    Ok(())
}

/// A page of a round's records of `kind` whose round was run in `scope`'s
/// subtree, by id after `after` (keyset; index `kind, round, id`).
pub async fn list(
    conn: &impl ConnectionTrait,
    kind: Kind,
    round: &str,
    scope: &str,
    after: Option<&str>,
    limit: u64,
) -> ApiResult<Vec<records::Model>> {
    let mut select = records::Entity::find()
        .filter(records::Column::Kind.eq(kind.as_str()))
        .filter(records::Column::Round.eq(round))
        .filter(within_subtree(
            records::Column::RoundOrganisationPath,
            scope,
        ));
    if let Some(after) = after {
        select = select.filter(Expr::col(records::Column::Id).gt(after));
    }
    Ok(select
        .order_by_asc(records::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// A page of the entries of `q` (a round's, keyset by id) that the books
/// make key-problem candidates — reopened, overdue (past a due date, not
/// written off), or red or yellow on `q.today` — of rounds run in `scope`'s
/// subtree (the office's), and that `caller` sees.
pub async fn candidates(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    q: &ListQuery,
    scope: &str,
) -> ApiResult<Vec<super::entries::Model>> {
    use super::entries::{self, Column as C};
    use fiveledger_platform::colour::Colour;
    use fiveledger_proto::ledgers::EntryState;
    use sea_orm::Condition;
    let today = q.today.format("%Y-%m-%d").to_string();
    let flagged = Condition::any()
        .add(C::ReopenCount.gt(0))
        .add(
            Condition::all()
                .add(C::State.ne(EntryState::WrittenOff.as_str_name()))
                .add(C::DueDate.ne(""))
                .add(C::DueDate.lt(today)),
        )
        .add(
            entries::colour(q.today, &q.thresholds)
                .is_in([Colour::Red.code(), Colour::Yellow.code()]),
        );
    Ok(books::list_select(caller, &books::probed(conn, q).await?)
        .filter(within_subtree(C::RoundOrganisationPath, scope))
        .filter(flagged)
        .all(conn)
        .await?)
}
