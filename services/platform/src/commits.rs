//! What a database's event streams learn of its write transactions as they
//! end: each end is numbered and says which event types it wrote, so a
//! stream of a few types reads again only when a write of one of them
//! ended, not after every commit of the service.
//!
//! The types a write appends are gathered as it runs
//! ([`crate::write_scope`]) and announced once its transaction has ended
//! ([`Commits::ended`]). A stream takes the number of ends so far
//! ([`Commits::now`]) before it reads, and after the read waits until an
//! end after that number wrote one of its types
//! ([`Commits::until_written`]). Nothing is missed: an event whose
//! end was announced by then had committed before the read began, so the
//! read saw it; any other is announced later, with a larger number. An end
//! that was not gathered (a transaction begun by `Db::begin`, whose events
//! go unnamed) counts as having written every type. On PostgreSQL a read
//! that a running writer held back waits for any end instead: that
//! writer's end releases the events behind it, whatever it wrote (see
//! `crate::outbox_writers::Horizon`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use tokio::sync::Notify;

/// The event types one write appended (their names, as stored).
pub type Types = BTreeSet<&'static str>;

/// What an ending write wrote.
#[derive(Debug)]
pub enum Wrote {
    /// Events of exactly these types (none, for a write without events or
    /// one rolled back).
    Types(Types),
    /// Unknown: count it as every type.
    Anything,
}

impl Wrote {
    /// No events: a write that rolled back or failed to commit, or one
    /// that appended none.
    pub fn nothing() -> Self {
        Wrote::Types(Types::new())
    }
}

/// The ends of one database's write transactions, numbered from 1.
#[derive(Debug, Default)]
pub struct Commits {
    ends: Mutex<Ends>,
    ended: Notify,
}

#[derive(Debug, Default)]
struct Ends {
    /// Ends so far.
    count: u64,
    /// The last end that wrote each type (one entry per event type the
    /// service writes: their names are the code's own, so bounded).
    of_type: HashMap<&'static str, u64>,
    /// The last end whose types are unknown.
    anything: u64,
}

impl Commits {
    /// Announces a write's end, once it has committed or rolled back, and
    /// wakes the streams.
    pub fn ended(&self, wrote: Wrote) {
        {
            let mut ends = self.ends.lock().expect("ends");
            ends.count += 1;
            let n = ends.count;
            match wrote {
                Wrote::Types(types) => {
                    for t in types {
                        ends.of_type.insert(t, n);
                    }
                }
                Wrote::Anything => ends.anything = n,
            }
        }
        self.ended.notify_waiters();
    }

    /// The number of ends so far: what a stream takes before it reads.
    pub fn now(&self) -> u64 {
        self.ends.lock().expect("ends").count
    }

    /// Whether an end after `seen` wrote one of `types` (any end, when
    /// `types` is empty).
    pub fn written_since(&self, seen: u64, types: &[String]) -> bool {
        let ends = self.ends.lock().expect("ends");
        if types.is_empty() {
            return ends.count > seen;
        }
        ends.anything > seen
            || types
                .iter()
                .any(|t| ends.of_type.get(t.as_str()).is_some_and(|&n| n > seen))
    }

    /// Returns once an end after `seen` wrote one of `types` (any end,
    /// when `types` is empty); at once if one already did.
    pub async fn until_written(&self, seen: u64, types: &[String]) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Listening before looking: an end between the two still wakes.
            ended.as_mut().enable();
            if self.written_since(seen, types) {
                return;
            }
            ended.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn types(names: &[&'static str]) -> Wrote {
        Wrote::Types(names.iter().copied().collect())
    }

    fn asked(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_stream_is_concerned_by_the_ends_of_its_own_types_only() {
        let commits = Commits::default();
        let seen = commits.now();
        commits.ended(types(&["Other"]));
        commits.ended(types(&[]));
        assert!(!commits.written_since(seen, &asked(&["Rare"])));
        assert!(commits.written_since(seen, &asked(&[])), "every type");
        commits.ended(types(&["Other", "Rare"]));
        assert!(commits.written_since(seen, &asked(&["Rare"])));
        assert!(commits.written_since(seen, &asked(&["Third", "Rare"])));
        let later = commits.now();
        assert_eq!(later, 3);
        assert!(!commits.written_since(later, &asked(&["Rare"])));
        assert!(
            !commits.written_since(later, &asked(&[])),
            "nothing ended since"
        );
        commits.ended(Wrote::Anything);
        assert!(commits.written_since(later, &asked(&["Rare"])));
        assert!(commits.written_since(later, &asked(&["Third"])));
    }

    #[tokio::test]
    async fn a_waiting_stream_wakes_for_its_types_and_sleeps_through_the_rest() {
        let commits = Arc::new(Commits::default());
        let seen = commits.now();
        let waiting = tokio::spawn({
            let commits = commits.clone();
            async move { commits.until_written(seen, &asked(&["Rare"])).await }
        });
        for _ in 0..50 {
            commits.ended(types(&["Other"]));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "woken by other types' writes");
        commits.ended(types(&["Rare"]));
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken by a write of its type")
            .expect("task");
        // An end announced before the wait began is not waited for.
        tokio::time::timeout(
            Duration::from_secs(5),
            commits.until_written(seen, &asked(&["Rare"])),
        )
        .await
        .expect("already written");
    }
}
