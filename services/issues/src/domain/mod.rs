//! The issues service's domain: types and rules, no I/O.

pub mod category;
pub mod clue;
pub mod problem;
pub mod problem_list;
pub mod recurrence;
pub mod scope;
