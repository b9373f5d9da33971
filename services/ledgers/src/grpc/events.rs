//! `WatchEvents` over this service's outbox.

fiveledger_platform::event_service!(super::Api, ledgers, super::EVENT_READERS);
