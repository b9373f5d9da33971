//! The ledgers service's tables, migrations and queries.

pub mod books;
pub mod entries;
pub mod feedbacks;
pub mod migrations;
pub mod postings;
pub mod publications;
pub mod receivers;
pub mod statistics;
pub mod tallies;

pub use migrations::Migrator;
