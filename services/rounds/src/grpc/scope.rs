//! What the handlers share about scope: the event context of a call and
//! the refusal of a change the caller may only read. The lookups of a
//! resource the caller may see live with their tables in `storage`.

use fiveledger_platform::ApiError;
use fiveledger_platform::auth::Caller;
use fiveledger_platform::outbox::EventContext;

use crate::domain::round;
use crate::storage::inspections;

pub fn context(caller: &Caller, request_id: &str) -> EventContext {
    EventContext {
        actor: caller.actor(),
        request_id: request_id.to_owned(),
        traceparent: String::new(),
        ..Default::default()
    }
}

/// Refusal of a change to an inspection the caller may only read.
pub fn round_out_of_scope(row: &inspections::Model) -> ApiError {
    ApiError::denied(
        "ROUND_OUT_OF_SCOPE",
        format!(
            "{} belongs to {}, run by {}: only that organisation's inspection office (or one above it) may change it",
            row.name(),
            round::name_of(&row.round_id),
            row.round_organisation_path
        ),
    )
}
