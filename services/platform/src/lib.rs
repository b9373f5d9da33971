//! What every fiveledger service shares: settings, storage, the server
//! bootstrap, authentication, error mapping, AIP helpers (names, pages,
//! filters, idempotency, etags, field masks) and the event machinery
//! (transactional outbox, `WatchEvents` streams, idempotent consumers).

pub mod access_log;
pub mod aip;
pub mod auth;
pub mod colour;
pub mod connection;
pub mod consumer;
pub mod deadline;
pub mod error;
pub mod files;
pub mod group_commit;
pub mod lease;
pub mod levels;
pub mod limits;
pub mod metrics;
pub mod oidc;
pub mod outbox;
pub mod outbox_writers;
pub mod platform_tables;
pub mod server;
pub mod service_identity;
pub mod settings;
pub mod storage;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod upstream;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ApiError, ApiResult};
