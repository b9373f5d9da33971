//! The issues service's own tests over gRPC, one binary (one link, not one
//! per file). Run one file's tests by its module: `cargo test -p fiveledger-issues --test api <module>::`.

mod clues;
mod clues_supervision;
mod common;
mod problems;
mod recurrences;
mod scope;
