//! Keyset pagination (AIP-158). A page token is opaque to clients: it carries
//! the sort key of the last row returned and a hash of the query that made it
//! (filter, order, scope), so it cannot be replayed with another query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::error::CommonReason;

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 1000;

#[derive(Serialize, Deserialize)]
struct Token {
    /// Sort key of the last row of the previous page.
    k: Vec<Value>,
    /// Hash of the query the token belongs to.
    q: String,
}

/// A parsed page request: how many rows, and after which key.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub size: u64,
    /// Sort key of the last row already returned, if any.
    pub after: Option<Vec<Value>>,
    query: String,
}

impl PageRequest {
    /// Parses `page_size` and `page_token`. `query` names everything that
    /// shapes the result (filter, order_by, the caller's scope).
    pub fn parse(page_size: i32, page_token: &str, query: &[&str]) -> Result<Self, ApiError> {
        let size = match page_size {
            n if n < 0 => {
                return Err(ApiError::invalid(
                    "page_size",
                    CommonReason::InvalidPageSize,
                    "page_size must not be negative",
                ));
            }
            0 => DEFAULT_PAGE_SIZE,
            n => (n as u64).min(MAX_PAGE_SIZE),
        };
        let query = query_hash(query);
        let after = if page_token.is_empty() {
            None
        } else {
            let bad = || {
                ApiError::invalid(
                    "page_token",
                    CommonReason::InvalidPageToken,
                    "page_token is not a token this query returned",
                )
            };
            let bytes = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| bad())?;
            let token: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
            if token.q != query {
                return Err(ApiError::invalid(
                    "page_token",
                    CommonReason::PageTokenMismatch,
                    "page_token was made for another filter or order_by",
                ));
            }
            Some(token.k)
        };
        Ok(Self { size, after, query })
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    pub fn limit(&self) -> u64 {
        self.size + 1
    }

    /// Cuts the extra row and returns the token for the next page (empty on
    /// the last page).
    pub fn finish<T>(
        &self,
        mut rows: Vec<T>,
        key_of: impl Fn(&T) -> Vec<Value>,
    ) -> (Vec<T>, String) {
        if rows.len() as u64 <= self.size {
            return (rows, String::new());
        }
        rows.truncate(self.size as usize);
        let token = rows
            .last()
            .map(|last| {
                let body = Token {
                    k: key_of(last),
                    q: self.query.clone(),
                };
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap_or_default())
            })
            .unwrap_or_default();
        (rows, token)
    }

    /// The string sort key at `index` of the previous page's last row.
    pub fn after_str(&self, index: usize) -> Result<Option<&str>, ApiError> {
        match &self.after {
            None => Ok(None),
            Some(keys) => keys
                .get(index)
                .and_then(Value::as_str)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "page_token",
                        CommonReason::InvalidPageToken,
                        "page_token is malformed",
                    )
                }),
        }
    }

    /// The integer sort key at `index` of the previous page's last row.
    pub fn after_i64(&self, index: usize) -> Result<Option<i64>, ApiError> {
        match &self.after {
            None => Ok(None),
            Some(keys) => keys
                .get(index)
                .and_then(Value::as_i64)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "page_token",
                        CommonReason::InvalidPageToken,
                        "page_token is malformed",
                    )
                }),
        }
    }
}

fn query_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..12])
}

/// Parses `order_by`: one of `allowed` fields, optionally followed by `desc`
/// or `asc`. Empty means the first allowed field, ascending. Returns the
/// field and whether it is descending.
pub fn parse_order_by(
    order_by: &str,
    allowed: &[&'static str],
) -> Result<(&'static str, bool), ApiError> {
    let mut words = order_by.split_whitespace();
    let Some(field) = words.next() else {
        return Ok((allowed[0], false));
    };
    let bad = || {
        ApiError::invalid(
            "order_by",
            CommonReason::InvalidOrderBy,
            format!(
                "order_by must be one of {} with an optional desc",
                allowed.join(", ")
            ),
        )
    };
    let field = allowed
        .iter()
        .copied()
        .find(|a| *a == field)
        .ok_or_else(bad)?;
    let desc = match (words.next(), words.next()) {
        (None, None) | (Some("asc"), None) => false,
        (Some("desc"), None) => true,
        _ => return Err(bad()),
    };
    Ok((field, desc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_bound_to_its_query() {
        let page = PageRequest::parse(2, "", &["kind = CITY"]).expect("page");
        let (rows, token) = page.finish(vec![1, 2, 3], |r| vec![Value::from(*r)]);
        assert_eq!(rows, [1, 2]);
        assert!(!token.is_empty());
        let next = PageRequest::parse(2, &token, &["kind = CITY"]).expect("same query");
        assert_eq!(next.after_i64(0).expect("key"), Some(2));
        let err = PageRequest::parse(2, &token, &["kind = COUNTY"]).expect_err("other query");
        assert_eq!(err.reason(), "PAGE_TOKEN_MISMATCH");
        assert!(PageRequest::parse(2, "garbage!", &[]).is_err());
        assert!(PageRequest::parse(-1, "", &[]).is_err());
    }

    #[test]
    fn last_page_has_no_token() {
        let page = PageRequest::parse(5, "", &[]).expect("page");
        assert_eq!(page.finish(vec![1, 2], |r| vec![Value::from(*r)]).1, "");
    }
}
