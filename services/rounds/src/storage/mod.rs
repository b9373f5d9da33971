//! The rounds service's tables, migrations and queries.

pub mod migrations;
pub mod organisations;

pub use migrations::Migrator;
