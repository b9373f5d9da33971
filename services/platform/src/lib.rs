//! What every fiveledger service shares: settings, storage, the server
//! bootstrap, authentication, error mapping, AIP helpers (names, pages,
//! filters, idempotency, etags, field masks) and the event machinery
//! (transactional outbox, `WatchEvents` streams, idempotent consumers).

pub mod access_log;
pub mod aip;
pub mod auth;
pub mod client_calls;
pub mod clue_scope;
pub mod colour;
pub(crate) mod commits;
pub mod connection;
pub mod consumer;
pub mod db_metrics;
pub mod deadline;
pub mod error;
pub mod files;
pub mod group_commit;
pub mod grpc_names;
pub mod lease;
pub mod levels;
pub mod limits;
pub mod metric_help;
pub mod metrics;
pub mod oidc;
pub mod outbox;
pub mod outbox_writers;
pub mod periodic;
pub mod platform_tables;
pub mod point_reads;
pub mod process_metrics;
pub mod readers;
pub mod rpc_call;
pub mod schema_compat;
pub mod served_calls;
pub mod server;
pub mod service_identity;
pub mod settings;
pub mod status_body;
pub mod storage;
pub mod subtree;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod upstream;
pub(crate) mod verified_tokens;
pub mod write_scope;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ApiError, ApiResult};

/// The allocator every fiveledger binary declares (`#[global_allocator]`):
/// mimalloc, whose per-thread heaps spare the tokio and SQLite threads the
/// system allocator's shared arenas and their locks (README gives the
/// figures, after the bench's commands). Built without transparent huge
/// pages: with them its eagerly committed arenas doubled the idle RSS.
pub type Allocator = mimalloc::MiMalloc;
