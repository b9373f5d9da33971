//! The rounds service's domain: types and rules, no I/O.

pub mod avoidance;
pub mod hand_off;
pub mod inspection;
pub mod inspector;
pub mod leaders;
pub mod organisation;
pub mod round;

use fiveledger_platform::ApiError;
use fiveledger_platform::error::CommonReason;

/// Parses an enum field that must be set to a known value.
pub fn parse_enum<E: TryFrom<i32> + PartialEq + Default>(
    field: &str,
    value: i32,
) -> Result<E, ApiError> {
    match E::try_from(value) {
        Ok(v) if v == E::default() => Err(ApiError::required(field)),
        Ok(v) => Ok(v),
        Err(_) => Err(ApiError::invalid(
            field,
            CommonReason::UnknownEnumValue,
            format!("{field} {value} is not a known value"),
        )),
    }
}
