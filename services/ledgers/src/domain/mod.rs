//! The ledgers service's domain: types and rules, no I/O.

pub mod assessment;
pub mod entry;
pub mod interview;
pub mod journal;
pub mod look_back;
pub mod publication;
pub mod scope;
pub mod warning;
