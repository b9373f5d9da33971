//! Helpers for the Google API Improvement Proposals we follow: resource names
//! (AIP-122), pagination (158), filtering (160), field masks (134),
//! etags (154) and request ids (155).

pub mod etag;
pub mod field_mask;
pub mod filter;
pub mod idempotency;
pub mod names;
pub mod page;
