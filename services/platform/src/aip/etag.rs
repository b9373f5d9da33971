//! Etags (AIP-154): every mutable resource keeps a revision number that each
//! update bumps; its etag is derived from it, and a stale one is ABORTED.

use crate::error::ApiError;

/// The etag of a resource at `revision`.
pub fn etag(revision: i64) -> String {
    format!("\"r{revision}\"")
}

/// Refuses an update whose etag is set and is not the current one. An empty
/// etag means "overwrite whatever is there".
pub fn check(resource: &str, sent: &str, revision: i64) -> Result<(), ApiError> {
    if sent.is_empty() || sent == etag(revision) {
        Ok(())
    } else {
        Err(ApiError::Aborted {
            resource: resource.to_owned(),
        })
    }
}
