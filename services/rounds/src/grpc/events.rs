//! `WatchEvents` over this service's outbox.

fiveledger_platform::event_service!(super::Api, rounds, super::EVENT_READERS);
