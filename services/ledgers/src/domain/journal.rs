//! The hash chain of an entry's journal: each posting's hash covers a
//! canonical encoding of its fields and the hash of the posting before it.

use sha2::{Digest, Sha256};

/// Version tag mixed into every hash, so a later encoding cannot collide.
const DOMAIN_TAG: &[u8] = b"fiveledger.ledgers.posting.v1";

/// The fields of a posting as stored; what the hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingRecord<'a> {
    pub entry_id: &'a str,
    pub seq: i64,
    pub kind: &'a str,
    /// The encoded detail (a `Posting` with only `detail` and
    /// `effective_date` set).
    pub payload: &'a [u8],
    pub actor: &'a str,
    pub request_id: &'a str,
    pub traceparent: &'a str,
    /// Microseconds since the epoch.
    pub create_time_us: i64,
    pub prev_hash: &'a str,
}

/// Hex SHA-256 of the canonical encoding: every field length-prefixed
/// (u64 big-endian), integers as 8 bytes big-endian, in a fixed order.
pub fn hash(record: &PostingRecord<'_>) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(DOMAIN_TAG);
    field(record.entry_id.as_bytes());
    field(&record.seq.to_be_bytes());
    field(record.kind.as_bytes());
    field(record.payload);
    field(record.actor.as_bytes());
    field(record.request_id.as_bytes());
    field(record.traceparent.as_bytes());
    field(&record.create_time_us.to_be_bytes());
    field(record.prev_hash.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_hash() {
        let base = PostingRecord {
            entry_id: "e1",
            seq: 1,
            kind: "POSTING_KIND_OPEN",
            payload: b"p",
            actor: "a",
            request_id: "r",
            traceparent: "t",
            create_time_us: 5,
            prev_hash: "",
        };
        let h = hash(&base);
        assert_eq!(h.len(), 64);
        let variants = [
            PostingRecord {
                entry_id: "e2",
                ..base.clone()
            },
            PostingRecord {
                seq: 2,
                ..base.clone()
            },
            PostingRecord {
                payload: b"q",
                ..base.clone()
            },
            PostingRecord {
                actor: "b",
                ..base.clone()
            },
            PostingRecord {
                create_time_us: 6,
                ..base.clone()
            },
            PostingRecord {
                prev_hash: "x",
                ..base.clone()
            },
            // Moving a byte between adjacent fields is not the same posting.
            PostingRecord {
                actor: "ar",
                request_id: "",
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(hash(&v), h, "{v:?}");
        }
    }
}
