//! The ledgers service's own tests over gRPC, one binary (one link, not one
//! per file). Run one file's tests by its module: `cargo test -p fiveledger-ledgers --test api <module>::`.

mod assessments;
mod backfill;
mod books;
mod clue_warnings;
mod common;
mod interviews;
mod joint_supervisions;
mod ledger;
mod look_back;
mod rollups;
mod scope;
mod supervision;
