//! The `postings` table: the append-only journal, one hash chain per entry.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// `PostingKind` by its proto name.
    pub kind: String,
    /// A `Posting` holding only its `detail` and, when it differs from the
    /// day of `create_time_us`, its `effective_date`, encoded.
    pub payload: Vec<u8>,
    pub actor: String,
    pub request_id: String,
    pub traceparent: String,
    pub create_time_us: i64,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn record(&self) -> crate::domain::journal::PostingRecord<'_> {
        crate::domain::journal::PostingRecord {
            entry_id: &self.entry_id,
            seq: self.seq,
            kind: &self.kind,
            payload: &self.payload,
            actor: &self.actor,
            request_id: &self.request_id,
            traceparent: &self.traceparent,
            create_time_us: self.create_time_us,
            prev_hash: &self.prev_hash,
        }
    }
}
