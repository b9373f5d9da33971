//! Tokens whose signature a verifier has found good, remembered by their
//! exact text with their claims.
//!
//! A caller sends one token for many calls (a person's for its session, a
//! peer's for a minute), and checking it afresh each time (base64, the
//! header's and the claims' JSON, the signature) was about 5 % of a read's
//! CPU (HS256, `GetOrganisation` at 64 in flight) and 3 % of a demo load's
//! (a peer's ES256). A remembered token skips only that: its claims are
//! still judged against the clock on every call ([`in_time`], then the
//! verifier's own checks), so it expires on time, and a token differing in
//! one byte is checked afresh. Only a token with a good signature gets in,
//! so the map holds at most what the verifier's signers minted; it is
//! bounded all the same, the expired going first when it is full.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::auth::{Claims, LEEWAY_SECONDS, invalid_token};
use crate::error::ApiError;

/// Remembered tokens, each with its claims and `T`: what else the verifier
/// learnt from it (the service it names, the key set it was checked by).
pub(crate) struct VerifiedTokens<T> {
    max: usize,
    tokens: Mutex<HashMap<String, (Claims, T)>>,
}

impl<T: Clone> VerifiedTokens<T> {
    /// Remembers at most `max` tokens.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Claims, T)>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `token` was verified with, if it was.
    pub(crate) fn get(&self, token: &str) -> Option<(Claims, T)> {
        self.tokens().get(token).cloned()
    }

    /// Remembers `token`, whose signature was found good, as of `now`.
    pub(crate) fn remember(&self, token: &str, claims: &Claims, with: T, now: i64) {
        let mut tokens = self.tokens();
        if tokens.len() >= self.max {
            tokens.retain(|_, (claims, _)| !expired(claims, now));
            if tokens.len() >= self.max {
                tokens.clear();
            }
        }
        tokens.insert(token.to_owned(), (claims.clone(), with));
    }

    /// Forgets every token (the keys they were checked by have changed).
    pub(crate) fn forget_all(&self) {
        self.tokens().clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tokens().len()
    }
}

/// Whether claims are past their `exp` at `now`, beyond the leeway every
/// token gets (as jsonwebtoken judges it).
fn expired(claims: &Claims, now: i64) -> bool {
    claims.exp < now - LEEWAY_SECONDS as i64
}

/// Judges a remembered token's time claims at `now` as jsonwebtoken judged
/// them when its signature was checked: not expired, and valid already.
pub(crate) fn in_time(claims: &Claims, now: i64) -> Result<(), ApiError> {
    if expired(claims, now) {
        return Err(invalid_token("the token has expired"));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now + LEEWAY_SECONDS as i64)
    {
        return Err(invalid_token("the token is not valid yet"));
    }
    Ok(())
}
