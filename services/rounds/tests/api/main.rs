//! The rounds service's own tests over gRPC, one binary (one link, not one
//! per file). Run one file's tests by its module: `cargo test -p fiveledger-rounds --test api <module>::`.

mod common;
mod inspections;
mod organisations;
mod platform;
mod rounds;
mod upgrades;
