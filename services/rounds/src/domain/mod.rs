//! The rounds service's domain: types and rules, no I/O.

pub mod organisation;
