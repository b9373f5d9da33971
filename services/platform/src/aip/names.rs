//! Resource names and ids (AIP-122): `collection/{id}` segments with ids of
//! lower-case letters, digits and `-`.

use crate::error::ApiError;
use crate::error::CommonReason;

/// Longest id we accept.
pub const MAX_ID_LEN: usize = 63;

/// Checks a user-chosen id: 1-63 of `[a-z0-9-]`, starting with a letter, not
/// ending with `-`.
pub fn validate_id(field: &str, id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.as_bytes()[0].is_ascii_lowercase()
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            CommonReason::InvalidId,
            format!(
                "{field} must be 1-63 lower-case letters, digits or '-', starting with a letter"
            ),
        ))
    }
}

/// A fresh server-generated id (letter first, 16 hex digits of randomness
/// from a v7 UUID so that ids created together sort together).
pub fn generate_id(prefix: char) -> String {
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    // The time part plus enough random bits to make collisions negligible.
    format!("{prefix}{}{}", &uuid[..12], &uuid[20..32])
}

/// Parses `collection/{id}` and returns the id.
pub fn parse<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str, ApiError> {
    if name.is_empty() {
        return Err(ApiError::required(field));
    }
    let id = name
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                CommonReason::InvalidName,
                format!("{field} must look like {collection}/{{id}}"),
            )
        })?;
    validate_id(field, id)?;
    Ok(id)
}

/// Parses `parent_collection/{parent}/collection/{id}` into both ids.
pub fn parse_nested<'a>(
    field: &str,
    name: &'a str,
    parent_collection: &str,
    collection: &str,
) -> Result<(&'a str, &'a str), ApiError> {
    if name.is_empty() {
        return Err(ApiError::required(field));
    }
    let bad = || {
        ApiError::invalid(
            field,
            CommonReason::InvalidName,
            format!("{field} must look like {parent_collection}/{{id}}/{collection}/{{id}}"),
        )
    };
    let mut parts = name.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(pc), Some(parent), Some(c), Some(id), None)
            if pc == parent_collection && c == collection =>
        {
            validate_id(field, parent)?;
            validate_id(field, id)?;
            Ok((parent, id))
        }
        _ => Err(bad()),
    }
}

/// Checks a free-text field: trimmed length within `max` characters and
/// no control characters.
/// Refuses a repeated field longer than `max` before any of its elements
/// is looked at (a hostile request costs one comparison).
pub fn at_most(field: &str, len: usize, max: usize) -> Result<(), ApiError> {
    if len > max {
        return Err(ApiError::invalid(
            field,
            CommonReason::TooMany,
            format!("{field} takes at most {max} items ({len} given)"),
        ));
    }
    Ok(())
}

pub fn validate_text(field: &str, value: &str, required: bool, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return if required {
            Err(ApiError::required(field))
        } else {
            Ok(())
        };
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            CommonReason::TooLong,
            format!("{field} must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(
            field,
            CommonReason::ControlCharacters,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// Parses an organisation path given in a filter or scope.
pub fn parse_path(field: &str, path: &str) -> Result<String, ApiError> {
    if path.is_empty() {
        return Err(ApiError::required(field));
    }
    if path.len() > 1024 {
        return Err(ApiError::invalid(
            field,
            CommonReason::TooLong,
            "the path is too long",
        ));
    }
    for segment in path.split('/') {
        validate_id(field, segment).map_err(|_| {
            ApiError::invalid(
                field,
                CommonReason::InvalidPath,
                format!("{field} must be an organisation path like guangxi/nanning"),
            )
        })?;
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("x", "nanning-2").is_ok());
        for bad in ["", "Nanning", "1abc", "a/b", "abc-", &"a".repeat(64)] {
            assert!(validate_id("x", bad).is_err(), "{bad}");
        }
        let id = generate_id('o');
        assert!(validate_id("x", &id).is_ok(), "{id}");
    }

    #[test]
    fn names() {
        assert_eq!(
            parse("name", "organisations/gx", "organisations").ok(),
            Some("gx")
        );
        assert!(parse("name", "rounds/gx", "organisations").is_err());
        assert!(parse("name", "organisations/gx/x", "organisations").is_err());
        assert_eq!(
            parse_nested("name", "rounds/r1/inspections/i2", "rounds", "inspections").ok(),
            Some(("r1", "i2"))
        );
    }
}
