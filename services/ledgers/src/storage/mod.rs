//! The ledgers service's tables, migrations and queries.

pub mod migrations;

pub use migrations::Migrator;
