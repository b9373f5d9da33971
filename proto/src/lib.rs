//! The fiveledger gRPC API: generated messages, clients and servers for every
//! package, plus the descriptor set that server reflection serves.

/// Encoded `FileDescriptorSet` of the whole API, imports included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fiveledger_descriptor.bin"));

/// Vendored `google.type` messages (`Date`).
pub mod google {
    pub mod r#type {
        tonic::include_proto!("google.r#type");
    }
}

pub mod fiveledger {
    /// Types shared by the services: the event envelope, and the vocabulary
    /// more than one service speaks (warning colours and notices, severity,
    /// evidence, clue figures). No service package imports another's.
    pub mod r#type {
        pub mod v1 {
            tonic::include_proto!("fiveledger.r#type.v1");
        }
    }
    /// The rounds service: organisations, inspectors, rounds, groups, inspections.
    pub mod rounds {
        pub mod v1 {
            tonic::include_proto!("fiveledger.rounds.v1");
        }
    }
    /// The issues service: problem lists, responsibility lists, clues.
    pub mod issues {
        pub mod v1 {
            tonic::include_proto!("fiveledger.issues.v1");
        }
    }
    /// The access log of confidential reads, served by every service that
    /// keeps one.
    pub mod access {
        pub mod v1 {
            tonic::include_proto!("fiveledger.access.v1");
        }
    }
    /// The ledgers service: the five-ledger journal.
    pub mod ledgers {
        pub mod v1 {
            tonic::include_proto!("fiveledger.ledgers.v1");
        }
    }
}

pub use fiveledger::{
    access::v1 as access, issues::v1 as issues, ledgers::v1 as ledgers, rounds::v1 as rounds,
    r#type::v1 as types,
};
