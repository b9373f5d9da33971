//! The ledgers service's tables, migrations and queries.

pub mod assessments;
pub mod books;
pub mod departments;
pub mod entries;
pub mod feedbacks;
pub mod joint_supervisions;
#[cfg(test)]
mod list_plans;
pub mod look_back;
pub mod migrations;
pub mod open_tallies;
pub mod postings;
pub mod publications;
pub mod receivers;
pub mod statistics;
#[cfg(test)]
mod statistics_plans;
pub mod tallies;

pub use migrations::Migrator;

/// The transaction a handler's step runs in (`aip::idempotency::mutate`
/// opens it); handlers pass it to the operations here and never query.
pub type Txn = sea_orm::DatabaseTransaction;
