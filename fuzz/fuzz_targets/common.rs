//! What the request targets share: decoding a request message from the
//! bytes a client sent, then the handler's parsing of it.

// Each request target uses some of these.
#![allow(dead_code)]

use fiveledger_platform::aip::idempotency::RequestKey;
use fiveledger_platform::auth::{Caller, Role};
use fiveledger_platform::{ApiError, ApiResult};
use prost::Message;

/// Decodes `bytes` as the request `M` (as tonic does, with prost) and runs
/// `parse`, the handler's checks before it reads or writes anything. A
/// message that decodes re-encodes to one that decodes the same; a refusal
/// is the client's error, never INTERNAL.
pub fn run<M: Message + Default + PartialEq>(
    bytes: &[u8],
    parse: impl FnOnce(&M) -> ApiResult<()>,
) {
    let Ok(request) = M::decode(bytes) else {
        return;
    };
    let again = M::decode(request.encode_to_vec().as_slice()).expect("re-encoded request decodes");
    assert!(again == request, "re-encoding changed the request");
    if let Err(err) = parse(&request) {
        assert!(
            !matches!(err, ApiError::Internal(_)),
            "INTERNAL for a bad request: {err:?}"
        );
        let _ = err.reason();
        let _ = tonic::Status::from(err);
    }
}

/// The caller every request is parsed for (the parsing here does not
/// depend on who asks, except where noted).
pub fn caller() -> Caller {
    Caller::new("fuzz", "gx", &[Role::Admin])
}

/// The idempotency key every mutation computes first (request id checks
/// and the hash of the request).
pub fn key<M: Message>(method: &'static str, request_id: &str, request: &M) -> ApiResult<()> {
    RequestKey::new(&caller(), method, request_id, request).map(|_| ())
}

/// `page_size`, `page_token` (bound to its query) and `order_by`.
pub fn page(
    page_size: i32,
    page_token: &str,
    query: &[&str],
    order_by: Option<(&str, &[&'static str])>,
) -> ApiResult<()> {
    use fiveledger_platform::aip::page::{PageRequest, parse_order_by};
    let caller = caller().key();
    let mut parts = query.to_vec();
    parts.push(&caller);
    let page = PageRequest::parse(page_size, page_token, &parts)?;
    if let Some((order_by, allowed)) = order_by {
        parse_order_by(order_by, allowed)?;
    }
    if page.after.is_some() {
        page.after_str(0)?;
        page.after_str(1)?;
    }
    Ok(())
}

/// A List request's filter, as far as the platform parses it (which
/// fields a service accepts is its handler's business, after this).
pub fn filter(text: &str) -> ApiResult<()> {
    fiveledger_platform::aip::filter::parse(text).map(|_| ())
}

/// A period of days (statistics): parsed, and turned into the times the
/// queries compare with.
pub fn period(
    start: Option<&fiveledger_proto::google::r#type::Date>,
    end: Option<&fiveledger_proto::google::r#type::Date>,
) -> ApiResult<()> {
    let period = fiveledger_platform::time::Period::parse(start, end)?;
    let _ = (period.is_open(), period.from_time(), period.until_time());
    Ok(())
}
