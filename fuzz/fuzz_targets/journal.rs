//! The journal's canonical encoding and its verification: a chain of
//! postings with any payloads (raw bytes, or a detail of any kind with any
//! content) and any envelope is hashed, chained and verified the way
//! `VerifyJournal` does, replaying every posting through the ledger's fold.
//! Two different postings never share a hash.
#![no_main]

use arbitrary::Arbitrary;
use fiveledger_ledgers::domain::journal::{self, PostingRecord};
use fiveledger_ledgers::storage::{books, entries, postings};
use libfuzzer_sys::fuzz_target;
use prost::encoding::{WireType, encode_key, encode_varint};

#[derive(Debug, Arbitrary)]
enum Payload {
    /// Whatever is stored.
    Raw(Vec<u8>),
    /// A `Posting` with `detail` field `20 + kind % 16` set to these bytes
    /// (empty bytes are the detail's default), and an effective date.
    Detail {
        kind: u8,
        detail: Vec<u8>,
        effective_date: Option<Vec<u8>>,
    },
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Raw(b) => b.clone(),
            Payload::Detail {
                kind,
                detail,
                effective_date,
            } => {
                let mut out = Vec::new();
                let mut field = |tag: u32, bytes: &[u8]| {
                    encode_key(tag, WireType::LengthDelimited, &mut out);
                    encode_varint(bytes.len() as u64, &mut out);
                    out.extend_from_slice(bytes);
                };
                if let Some(date) = effective_date {
                    field(10, date);
                }
                field(20 + u32::from(kind % 16), detail);
                out
            }
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Step {
    kind: String,
    payload: Payload,
    actor: String,
    request_id: String,
    traceparent: String,
    create_time_us: i64,
}

#[derive(Debug, Arbitrary)]
struct Input {
    entry_id: String,
    steps: Vec<Step>,
    /// Tampering after the chain is written: (which posting, which change).
    tamper: Option<(u8, u8)>,
    snapshot: Vec<u8>,
    posting_count_delta: i8,
    state: String,
    create_time_us: i64,
}

fn record(p: &postings::Model) -> PostingRecord<'_> {
    p.record()
}

fuzz_target!(|input: Input| {
    // The chain as `append` writes it.
    let mut rows: Vec<postings::Model> = Vec::new();
    let mut prev_hash = String::new();
    for (seq, step) in (1..).zip(&input.steps) {
        let mut row = postings::Model {
            entry_id: input.entry_id.clone(),
            seq,
            kind: step.kind.clone(),
            payload: step.payload.bytes(),
            actor: step.actor.clone(),
            request_id: step.request_id.clone(),
            traceparent: step.traceparent.clone(),
            create_time_us: step.create_time_us,
            prev_hash: prev_hash.clone(),
            hash: String::new(),
        };
        row.hash = journal::hash(&record(&row));
        assert_eq!(row.hash.len(), 64);
        prev_hash = row.hash.clone();
        let _ = books::posting_of(&row);
        rows.push(row);
    }

    // No two different postings share a hash, even at the same place in
    // the same chain (bytes moved between fields included).
    let at_head: Vec<postings::Model> = rows
        .iter()
        .map(|r| {
            let mut r = postings::Model {
                seq: 1,
                prev_hash: String::new(),
                ..r.clone()
            };
            r.hash = journal::hash(&record(&r));
            r
        })
        .collect();
    for (i, a) in at_head.iter().enumerate() {
        for b in &at_head[i + 1..] {
            if record(a) != record(b) {
                assert_ne!(a.hash, b.hash, "{a:?} and {b:?}");
            }
        }
    }

    if let Some((at, change)) = input.tamper
        && !rows.is_empty()
    {
        let i = usize::from(at) % rows.len();
        let row = &mut rows[i];
        let before = row.hash.clone();
        match change % 6 {
            0 => row.payload.push(change),
            1 => row.actor.push('x'),
            2 => row.seq += 1,
            3 => row.create_time_us = row.create_time_us.wrapping_add(1),
            4 => row.kind.push('x'),
            _ => row.prev_hash.push('0'),
        }
        assert_ne!(journal::hash(&record(row)), before);
    }

    let count = rows.len() as i64 + i64::from(input.posting_count_delta);
    let entry = entries::Model {
        id: input.entry_id.clone(),
        problem: String::new(),
        inspection: String::new(),
        round: String::new(),
        target_path: String::new(),
        round_organisation_path: String::new(),
        responsible_unit_path: String::new(),
        supervising_body_path: String::new(),
        receiving_body_path: String::new(),
        category: String::new(),
        severity: 0,
        state: input.state.clone(),
        due_date: String::new(),
        original_due_date: String::new(),
        posting_count: count,
        journal_head: prev_hash,
        snapshot: input.snapshot.clone(),
        create_time_us: input.create_time_us,
        update_time_us: 0,
        fixed_on_the_spot: 0,
        transfer_count: 0,
        reopen_count: 0,
        first_written_off_date: String::new(),
        funds_recovered_fen: 0,
        losses_recovered_fen: 0,
        people_held_accountable: 0,
        people_disciplined: 0,
        rules_established: 0,
        colour_floor: 0,
        yellow_count: 0,
        next_due_date: String::new(),
        attention: 0,
    };
    let journal: Vec<&postings::Model> = rows.iter().collect();
    let fault = books::verify_entry(&entry, &journal);
    if input.tamper.is_some() && !rows.is_empty() {
        assert!(fault.is_some(), "a tampered journal verified");
    }
});
