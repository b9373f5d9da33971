//! The rounds service's tables, migrations and queries.

pub mod groups;
pub mod inspections;
pub mod inspectors;
pub mod migrations;
pub mod organisations;
pub mod rounds;

pub use migrations::Migrator;
