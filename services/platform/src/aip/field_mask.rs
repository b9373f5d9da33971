//! Field masks (AIP-134): which fields an update touches.

use std::collections::BTreeSet;

use crate::error::ApiError;
use crate::error::CommonReason;

/// The fields to update: the mask's paths, or every updatable field when
/// the mask is empty or `*`. Unknown or immutable paths are refused.
pub fn paths(
    mask: Option<&prost_types::FieldMask>,
    updatable: &[&'static str],
) -> Result<BTreeSet<&'static str>, ApiError> {
    let requested: Vec<&str> = mask
        .map(|m| m.paths.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if requested.is_empty() || requested == ["*"] {
        return Ok(updatable.iter().copied().collect());
    }
    requested
        .into_iter()
        .map(|path| {
            updatable
                .iter()
                .copied()
                .find(|u| *u == path)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "update_mask",
                        CommonReason::InvalidFieldMask,
                        format!(
                            "update_mask: {path:?} is not an updatable field (updatable: {})",
                            updatable.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_all_and_unknown_is_refused() {
        assert_eq!(paths(None, &["a", "b"]).expect("paths").len(), 2);
        let mask = prost_types::FieldMask {
            paths: vec!["b".into()],
        };
        assert_eq!(
            paths(Some(&mask), &["a", "b"])
                .expect("paths")
                .into_iter()
                .collect::<Vec<_>>(),
            ["b"]
        );
        let mask = prost_types::FieldMask {
            paths: vec!["kind".into()],
        };
        assert!(paths(Some(&mask), &["a", "b"]).is_err());
    }
}
