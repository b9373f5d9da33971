//! The ledgers service's domain: types and rules, no I/O.
