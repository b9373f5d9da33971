//! Helpers for the end-to-end tests: start the suite on ephemeral ports.
