//! `WatchEvents` over this service's outbox.

fiveledger_platform::event_service!(super::Api, issues, super::EVENT_READERS);
