//! What the handlers share about a call: its event context. The lookups
//! of a resource the caller may see live with their tables in `storage`.

use fiveledger_platform::auth::Caller;
use fiveledger_platform::outbox::EventContext;

pub fn context(caller: &Caller, request_id: &str) -> EventContext {
    EventContext {
        actor: caller.actor(),
        request_id: request_id.to_owned(),
        traceparent: String::new(),
        ..Default::default()
    }
}
