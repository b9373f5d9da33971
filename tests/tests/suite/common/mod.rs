//! Assertions shared by the end-to-end scenarios: the rich error details
//! every refusal must carry.
#![allow(dead_code)]

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The `ErrorInfo.metadata` value under `key`.
pub fn info(status: &Status, key: &str) -> String {
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(key).cloned())
        .unwrap_or_default()
}

/// The `(type, subject)` pairs of a status's `PreconditionFailure`.
pub fn violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_error_details()
        .precondition_failure()
        .map(|p| {
            p.violations
                .iter()
                .map(|v| (v.r#type.clone(), v.subject.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts `result` was refused with `code` and `expected_reason`, and
/// that the message names `mentions` (the state or phase it is in).
pub fn assert_refused<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: Code,
    expected_reason: &str,
    mentions: &str,
) -> Status {
    let status = result.expect_err(expected_reason);
    assert_eq!(status.code(), code, "{expected_reason}: {status:?}");
    assert_eq!(reason(&status), expected_reason, "{status:?}");
    assert!(
        status.message().contains(mentions),
        "the message should name {mentions:?}: {status:?}"
    );
    status
}
