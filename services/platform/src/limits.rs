//! Per-caller limits, applied by the [`crate::auth::Gate`] once a caller is
//! known: a token bucket of requests per second and a cap on requests in
//! flight, keyed by the whole caller ([`Caller::key`]). One caller flooding a
//! service is refused with RESOURCE_EXHAUSTED and leaves room for everyone
//! else (and for the health checks, which are not gated). The suite's own
//! services are not limited: their load is the events they follow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::{Caller, Role};
use crate::error::{CommonReason, ERROR_DOMAIN, Reason};

/// Callers remembered at once; past it, idle ones are forgotten first.
const MAX_CALLERS: usize = 100_000;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CallerLimitSettings {
    /// Sustained requests per second of one caller (0: unlimited).
    pub requests_per_second: f64,
    /// Requests one caller may send at once above the sustained rate.
    pub burst: f64,
    /// Requests of one caller being handled at once (0: unlimited).
    pub in_flight: u32,
}

impl Default for CallerLimitSettings {
    fn default() -> Self {
        Self {
            requests_per_second: 5_000.0,
            burst: 10_000.0,
            in_flight: 128,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    in_flight: u32,
}

/// The limits and what each caller has used of them.
#[derive(Clone)]
pub struct CallerLimits {
    settings: CallerLimitSettings,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

/// One admitted request: releases its place in flight when dropped.
pub struct Admitted {
    limits: Option<(CallerLimits, String)>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((limits, key)) = self.limits.take() {
            let mut buckets = limits.lock();
            if let Some(bucket) = buckets.get_mut(&key) {
                bucket.in_flight = bucket.in_flight.saturating_sub(1);
            }
        }
    }
}

impl CallerLimits {
    pub fn new(settings: CallerLimitSettings) -> Self {
        Self {
            settings,
            buckets: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits one request of `caller`, or says which limit it is over.
    pub fn admit(&self, caller: &Caller) -> Result<Admitted, Status> {
        let s = self.settings;
        let unlimited = s.requests_per_second <= 0.0 && s.in_flight == 0;
        if unlimited || caller.roles.contains(&Role::Service) {
            return Ok(Admitted { limits: None });
        }
        let key = caller.key();
        let now = Instant::now();
        let mut buckets = self.lock();
        if buckets.len() >= MAX_CALLERS && !buckets.contains_key(&key) {
            buckets.retain(|_, b| b.in_flight > 0);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: s.burst.max(1.0),
            refilled: now,
            in_flight: 0,
        });
        // A request refused for being one too many in flight costs nothing.
        if s.in_flight > 0 && bucket.in_flight >= s.in_flight {
            return Err(exhausted(
                CommonReason::TooManyInFlight,
                format!(
                    "this caller already has {} requests in flight; wait for one to finish",
                    s.in_flight
                ),
            ));
        }
        if s.requests_per_second > 0.0 {
            let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * s.requests_per_second).min(s.burst.max(1.0));
            bucket.refilled = now;
            if bucket.tokens < 1.0 {
                return Err(exhausted(
                    CommonReason::RateLimited,
                    format!(
                        "more than {} requests per second from this caller; slow down and retry",
                        s.requests_per_second
                    ),
                ));
            }
            bucket.tokens -= 1.0;
        }
        bucket.in_flight += 1;
        drop(buckets);
        Ok(Admitted {
            limits: Some((self.clone(), key)),
        })
    }
}

/// RESOURCE_EXHAUSTED with an `ErrorInfo` saying which limit.
fn exhausted(reason: CommonReason, message: String) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason.as_reason(), ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(sub: &str) -> Caller {
        Caller::new(sub, "gx", &[Role::Viewer])
    }

    #[test]
    fn a_caller_over_its_rate_or_in_flight_is_refused_and_others_are_not() {
        let limits = CallerLimits::new(CallerLimitSettings {
            requests_per_second: 0.001,
            burst: 3.0,
            in_flight: 2,
        });
        let a = caller("a");
        let first = limits.admit(&a).expect("1");
        let second = limits.admit(&a).expect("2");
        let status = limits.admit(&a).err().expect("two in flight");
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone()),
            Some("TOO_MANY_IN_FLIGHT".into())
        );
        drop(first);
        let third = limits.admit(&a).expect("a place freed");
        drop((second, third));
        let status = limits.admit(&a).err().expect("burst spent");
        assert_eq!(
            status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone()),
            Some("RATE_LIMITED".into())
        );
        // Another caller, and the suite's services, are unaffected.
        limits.admit(&caller("b")).expect("another caller");
        limits
            .admit(&Caller::new("service:ledgers", "", &[Role::Service]))
            .expect("a service");
    }
}
